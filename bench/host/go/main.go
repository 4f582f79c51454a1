// Command w4 is W4 (bench/README.md, "W4/W5"): the polyraft host end to
// end from Go, through the go/host package (cgo over libpolyraft). A
// 3-node cluster as 3 processes on loopback, each a host with its log on
// disk (every write fdatasync'ed) and the TCP transport (plain, or mutual
// TLS with development certificates); closed-loop clients propose to the
// leader; one JSON line of results on stdout, logs on stderr.
//
//	w4 --concurrency C --duration S --size 128 --dir DIR [--warmup S] [--tls]
//
// This process is node 1: it starts nodes 2 and 3 as copies of itself
// (--follower ID, driven by lines on their stdin), waits for a leader,
// hands the leadership to node 1 and runs C goroutines, each calling
// Host.Propose in a loop.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polyraft/polyraft/go/host"
)

const group = 1

// libStamp is the digest of the libpolyraft.a linked in (set by mk/bench-host.mk
// so that a rebuilt library is linked again).
var libStamp string

var members = []host.Peer{{Replica: 1, Host: 1}, {Replica: 2, Host: 2}, {Replica: 3, Host: 3}}

// counter is the replicated state: a count of applied commands and each
// client's latest command (keyed by its first 8 bytes); a command's result
// is the count after it.
type counter struct {
	count uint64
	last  map[uint64][]byte
}

func (c *counter) Apply(entries []host.Entry) ([][]byte, error) {
	out := make([][]byte, len(entries))
	for i, e := range entries {
		c.count++
		if len(e.Cmd) >= 8 {
			c.last[binary.LittleEndian.Uint64(e.Cmd)] = e.Cmd
		}
		out[i] = binary.LittleEndian.AppendUint64(nil, c.count)
	}
	return out, nil
}

func (c *counter) Snapshot(w io.Writer) error {
	b := binary.LittleEndian.AppendUint64(nil, c.count)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(c.last)))
	for k, v := range c.last {
		b = binary.LittleEndian.AppendUint64(b, k)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
		b = append(b, v...)
	}
	_, err := w.Write(b)
	return err
}

func (c *counter) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	word := func() (uint64, error) {
		if len(b) < 8 {
			return 0, fmt.Errorf("snapshot truncated")
		}
		v := binary.LittleEndian.Uint64(b)
		b = b[8:]
		return v, nil
	}
	count, err := word()
	if err != nil {
		return err
	}
	n, err := word()
	if err != nil {
		return err
	}
	last := map[uint64][]byte{}
	for range n {
		k, err := word()
		if err != nil {
			return err
		}
		l, err := word()
		if err != nil || uint64(len(b)) < l {
			return fmt.Errorf("snapshot truncated")
		}
		last[k], b = b[:l], b[l:]
	}
	c.count, c.last = count, last
	return nil
}

func (c *counter) Lookup([]byte) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, c.count), nil
}

func startNode(id uint64, dir string, tls bool) (*host.Host, error) {
	var net *host.TCPNetwork
	var err error
	if tls {
		net, err = host.NewTCPNetwork("127.0.0.1:0", nil, host.DevTLSFiles(filepath.Join(dir, "certs"), id))
	} else {
		net, err = host.NewInsecurePlaintextTCPNetwork("127.0.0.1:0", nil)
	}
	if err != nil {
		return nil, err
	}
	defer net.Close()
	return host.New(host.Config{HostID: id, Transport: net, DataDir: filepath.Join(dir, fmt.Sprintf("node-%d", id))})
}

func startGroup(h *host.Host, id uint64) error {
	return h.StartReplica(context.Background(), group, id, members, &counter{last: map[uint64][]byte{}})
}

// follower is nodes 2 and 3: "peer ID ADDR", "start", "quit" on stdin.
func follower(id uint64, dir string, tls bool) error {
	h, err := startNode(id, dir, tls)
	if err != nil {
		return err
	}
	defer h.Close()
	addr, err := h.LocalAddr()
	if err != nil {
		return err
	}
	fmt.Printf("ready %s\n", addr)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		switch {
		case len(w) == 3 && w[0] == "peer":
			p, _ := strconv.ParseUint(w[1], 10, 64)
			if p != id {
				if err := h.AddPeer(p, w[2]); err != nil {
					return err
				}
			}
		case len(w) == 1 && w[0] == "start":
			if err := startGroup(h, id); err != nil {
				return err
			}
			fmt.Println("started")
		case len(w) == 1 && w[0] == "quit":
			return nil
		default:
			return fmt.Errorf("unknown command %q", sc.Text())
		}
	}
	return sc.Err()
}

type peer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func (p *peer) expect(want string) (string, error) {
	line, err := p.out.ReadString('\n')
	line = strings.TrimSpace(line)
	if err != nil || !strings.HasPrefix(line, want) {
		return "", fmt.Errorf("follower %d said %q (%v), expected %s", p.cmd.Process.Pid, line, err, want)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, want)), nil
}

// cpuSeconds is the user + system CPU time of process pid (Linux /proc).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseUint(f[11], 10, 64)
	k, _ := strconv.ParseUint(f[12], 10, 64)
	return float64(u+k) / 100 // USER_HZ is 100 on Linux
}

func run() error {
	conc := flag.Int("concurrency", 1, "closed-loop clients")
	duration := flag.Float64("duration", 10, "measured seconds")
	size := flag.Int("size", 128, "command bytes")
	dir := flag.String("dir", "", "data directory")
	warmup := flag.Float64("warmup", 1, "seconds before the measured window")
	tls := flag.Bool("tls", false, "mutual TLS with development certificates")
	followerID := flag.Uint64("follower", 0, "internal: run as node ID")
	flag.Parse()
	if *dir == "" || *conc < 1 || *size < 16 || *duration <= 0 {
		return fmt.Errorf("usage: w4 --concurrency C --duration S --size 128 --dir DIR [--warmup S] [--tls]")
	}
	if *followerID != 0 {
		return follower(*followerID, *dir, *tls)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	if *tls {
		if _, err := host.DevCertificates(filepath.Join(*dir, "certs"), []uint64{1, 2, 3}); err != nil {
			return err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var peers []*peer
	for _, id := range []uint64{2, 3} {
		args := []string{"--follower", strconv.FormatUint(id, 10), "--dir", *dir}
		if *tls {
			args = append(args, "--tls")
		}
		c := exec.Command(exe, args...)
		c.Stderr = os.Stderr
		in, err := c.StdinPipe()
		if err != nil {
			return err
		}
		out, err := c.StdoutPipe()
		if err != nil {
			return err
		}
		if err := c.Start(); err != nil {
			return err
		}
		peers = append(peers, &peer{cmd: c, in: in, out: bufio.NewReader(out)})
	}
	defer func() {
		for _, p := range peers {
			fmt.Fprintln(p.in, "quit")
			p.in.Close()
			p.cmd.Wait()
		}
	}()
	h, err := startNode(1, *dir, *tls)
	if err != nil {
		return err
	}
	defer h.Close()
	addr, err := h.LocalAddr()
	if err != nil {
		return err
	}
	addrs := []string{addr}
	for _, p := range peers {
		a, err := p.expect("ready")
		if err != nil {
			return err
		}
		addrs = append(addrs, a)
	}
	for i, a := range addrs {
		if i > 0 {
			if err := h.AddPeer(uint64(i+1), a); err != nil {
				return err
			}
		}
		for _, p := range peers {
			fmt.Fprintf(p.in, "peer %d %s\n", i+1, a)
		}
	}
	for _, p := range peers {
		fmt.Fprintln(p.in, "start")
	}
	if err := startGroup(h, 1); err != nil {
		return err
	}
	for _, p := range peers {
		if _, err := p.expect("started"); err != nil {
			return err
		}
	}
	t := time.Now()
	for {
		gi, err := h.GroupInfo(context.Background(), group)
		if err == nil && gi.IsLeader {
			break
		}
		if err == nil && gi.Leader != 0 {
			// Another node won: hand the leadership to node 1, where the clients are.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = h.TransferLeader(ctx, group, 1)
			cancel()
		}
		if time.Since(t) > 2*time.Minute {
			return fmt.Errorf("node 1 does not lead after 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "w4-go: node 1 leads after %.1fs\n", time.Since(t).Seconds())

	pids := []int{os.Getpid(), peers[0].cmd.Process.Pid, peers[1].cmd.Process.Pid}
	cpu := func() (s float64) {
		for _, p := range pids {
			s += cpuSeconds(p)
		}
		return s
	}
	start := time.Now()
	from := start.Add(time.Duration(*warmup * float64(time.Second)))
	to := from.Add(time.Duration(*duration * float64(time.Second)))
	var errors atomic.Int64
	lats := make([][]time.Duration, *conc)
	var wg sync.WaitGroup
	for c := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := make([]byte, *size)
			binary.LittleEndian.PutUint64(cmd, uint64(c))
			for n := uint64(0); ; n++ {
				binary.LittleEndian.PutUint64(cmd[8:], n)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				t0 := time.Now()
				_, err := h.Propose(ctx, group, cmd)
				now := time.Now()
				cancel()
				if err != nil {
					if errors.Add(1) <= 5 {
						fmt.Fprintf(os.Stderr, "w4-go: client %d: %v\n", c, err)
					}
				} else if !now.Before(from) && now.Before(to) {
					lats[c] = append(lats[c], now.Sub(t0))
				}
				if !now.Before(to) {
					return
				}
			}
		}()
	}
	time.Sleep(time.Until(from))
	c0, w0 := cpu(), time.Now()
	time.Sleep(time.Until(to))
	c1, seconds := cpu(), time.Since(w0).Seconds()
	wg.Wait()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	q := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(float64(len(all))*p))]) / 1e6
	}
	variant := "go"
	if *tls {
		variant = "go-tls"
	}
	r3 := func(x float64) float64 { return math.Round(x*1000) / 1000 }
	out := []struct {
		k string
		v any
	}{
		{"library", "polyraft"}, {"variant", variant}, {"concurrency", *conc}, {"writes", len(all)},
		{"seconds", r3(seconds)}, {"writes_per_s", math.Round(float64(len(all))/seconds*10) / 10}, {"p50_ms", r3(q(0.5))},
		{"p99_ms", r3(q(0.99))}, {"p999_ms", r3(q(0.999))}, {"cpu_s", math.Round((c1-c0)*100) / 100}, {"fsync", true}, {"errors", errors.Load()},
	}
	var b strings.Builder
	b.WriteString("{")
	for i, kv := range out {
		v, _ := json.Marshal(kv.v)
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %s", kv.k, v)
	}
	b.WriteString("}")
	fmt.Println(b.String())
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "w4-go: %v\n", err)
		os.Exit(1)
	}
}
