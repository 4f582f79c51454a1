// Command hashicorp-raft is the W4 reference runner for hashicorp/raft v1.7.2 with
// raft-boltdb/v2 v2.3.1 and raft's TCP transport (see ../README.md for the contract).
//
// Run without --node it is node 1: it picks three loopback ports, spawns nodes 2 and 3 as
// copies of itself (separate OS processes), bootstraps the three-voter cluster, waits to lead,
// then drives C closed-loop clients that each call raft.Apply with a 128-byte command and wait
// on its future (committed on a quorum and applied to the leader's FSM). It prints one JSON
// line on stdout; logs go to stderr.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// options are the command line of one node.
type options struct {
	concurrency int
	duration    float64
	warmup      float64
	size        int
	dir         string
	node        int      // 0 = node 1 (the launcher and leader); 2 or 3 = a follower
	addrs       []string // the three nodes' transport addresses (followers receive them)
	applyWait   time.Duration
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "hashicorp-raft: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var addrs string
	flag.IntVar(&o.concurrency, "concurrency", 1, "closed-loop clients")
	flag.Float64Var(&o.duration, "duration", 10, "measured window, seconds")
	flag.Float64Var(&o.warmup, "warmup", 2, "warmup before the window, seconds")
	flag.IntVar(&o.size, "size", 128, "command size, bytes")
	flag.StringVar(&o.dir, "dir", "", "scratch directory for the three nodes' data")
	flag.IntVar(&o.node, "node", 0, "internal: run as follower node 2 or 3")
	flag.StringVar(&addrs, "addrs", "", "internal: the three nodes' addresses, comma separated")
	flag.DurationVar(&o.applyWait, "apply-timeout", 30*time.Second, "raft.Apply enqueue timeout")
	flag.Parse()
	if o.dir == "" {
		return errors.New("--dir is required")
	}
	if o.concurrency < 1 || o.duration <= 0 || o.warmup < 0 || o.size < 8 {
		return errors.New("need --concurrency >= 1, --duration > 0, --warmup >= 0, --size >= 8")
	}
	if o.node != 0 {
		o.addrs = strings.Split(addrs, ",")
		if len(o.addrs) != 3 || o.node < 2 || o.node > 3 {
			return errors.New("--node must be 2 or 3 with --addrs of three addresses")
		}
		return follower(o)
	}
	return leader(o)
}

// counterFSM is the replicated state machine: it counts the commands it applies and keeps the
// last one, so applying does real (if small) work on every replica.
type counterFSM struct {
	mu    sync.Mutex
	count uint64
	last  []byte
}

// Apply applies one committed entry.
func (f *counterFSM) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	f.count++
	f.last = append(f.last[:0], l.Data...)
	c := f.count
	f.mu.Unlock()
	return c
}

// Snapshot captures the counter.
func (f *counterFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return counterSnapshot(f.count), nil
}

// Restore replaces the counter with a snapshot's.
func (f *counterFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [8]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	f.mu.Lock()
	f.count = binary.LittleEndian.Uint64(b[:])
	f.mu.Unlock()
	return nil
}

type counterSnapshot uint64

func (s counterSnapshot) Persist(sink raft.SnapshotSink) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(s))
	if _, err := sink.Write(b[:]); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s counterSnapshot) Release() {}

// newNode opens node id's stores under dir and starts its raft with the library's defaults
// (raft.DefaultConfig, a BoltStore as log and stable store, which fsyncs every commit, a file
// snapshot store and the TCP transport). Only the logger is quieted.
func newNode(id int, dir, addr string) (*raft.Raft, error) {
	ndir := filepath.Join(dir, fmt.Sprintf("node%d", id))
	if err := os.MkdirAll(ndir, 0o755); err != nil {
		return nil, err
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(strconv.Itoa(id))
	conf.Logger = hclog.New(&hclog.LoggerOptions{
		Name: fmt.Sprintf("raft-%d", id), Level: hclog.Warn, Output: os.Stderr,
	})
	store, err := raftboltdb.NewBoltStore(filepath.Join(ndir, "raft.db"))
	if err != nil {
		return nil, fmt.Errorf("bolt store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStore(ndir, 2, os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	tcpAddr, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, err
	}
	trans, err := raft.NewTCPTransport(addr, tcpAddr, 3, 10*time.Second, os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("tcp transport: %w", err)
	}
	return raft.NewRaft(conf, &counterFSM{}, store, store, snaps, trans)
}

// follower runs node 2 or 3 until its standard input closes (the launcher ended) or a signal.
// It is not bootstrapped, so it never campaigns before node 1's log reaches it: node 1 leads.
func follower(o options) error {
	r, err := newNode(o.node, o.dir, o.addrs[o.node-1])
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-done:
	case <-sig:
	}
	return r.Shutdown().Error()
}

// freeAddrs reserves n loopback ports by binding port 0 and releasing them.
func freeAddrs(n int) ([]string, error) {
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// cpuTicks reads a process's user+system CPU time, in clock ticks, from /proc/PID/stat.
func cpuTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64) // field 14, utime
	k, err2 := strconv.ParseUint(f[12], 10, 64) // field 15, stime
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	return u + k, nil
}

// clusterCPU sums the CPU ticks of the given processes.
func clusterCPU(pids []int) (uint64, error) {
	var t uint64
	for _, p := range pids {
		c, err := cpuTicks(p)
		if err != nil {
			return 0, err
		}
		t += c
	}
	return t, nil
}

const clockTicks = 100 // sysconf(_SC_CLK_TCK) on Linux

// result is the one JSON line of the contract.
type result struct {
	Library     string  `json:"library"`
	Variant     string  `json:"variant"`
	Concurrency int     `json:"concurrency"`
	Writes      int     `json:"writes"`
	Seconds     float64 `json:"seconds"`
	WritesPerS  float64 `json:"writes_per_s"`
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	P999        float64 `json:"p999_ms"`
	CPU         float64 `json:"cpu_s"`
	Fsync       bool    `json:"fsync"`
}

// pct returns the q-quantile of sorted latencies, in milliseconds (nearest rank).
func pct(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i]) / 1e6
}

// leader is node 1: it spawns the followers, leads, measures and prints the result.
func leader(o options) error {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	addrs, err := freeAddrs(3)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	pids := []int{os.Getpid()}
	var children []*exec.Cmd
	var exited []chan struct{} // closed when that follower's process has ended
	var stdins []io.WriteCloser
	defer func() {
		for _, w := range stdins {
			w.Close() // a follower exits when its standard input closes
		}
		for i, c := range children {
			select {
			case <-exited[i]:
			case <-time.After(10 * time.Second):
				c.Process.Kill()
				<-exited[i]
			}
		}
	}()
	for id := 2; id <= 3; id++ {
		c := exec.Command(self, "--node", strconv.Itoa(id), "--dir", o.dir,
			"--addrs", strings.Join(addrs, ","))
		c.Stderr = os.Stderr
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		w, err := c.StdinPipe()
		if err != nil {
			return err
		}
		if err := c.Start(); err != nil {
			return fmt.Errorf("spawn node %d: %w", id, err)
		}
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		children = append(children, c)
		exited = append(exited, done)
		stdins = append(stdins, w)
		pids = append(pids, c.Process.Pid)
	}

	r, err := newNode(1, o.dir, addrs[0])
	if err != nil {
		return err
	}
	defer r.Shutdown()
	var servers []raft.Server
	for i, a := range addrs {
		servers = append(servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(strconv.Itoa(i + 1)), Address: raft.ServerAddress(a),
		})
	}
	if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			return errors.New("node 1 did not become leader within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// One write through the quorum before the clients start: both followers answer.
	if err := r.Barrier(30 * time.Second).Error(); err != nil {
		return fmt.Errorf("first barrier: %w", err)
	}
	fmt.Fprintf(os.Stderr, "hashicorp-raft: node 1 leads; %d clients, warmup %.1fs, window %.1fs\n",
		o.concurrency, o.warmup, o.duration)

	// measuring is 0 during warmup, 1 during the window, 2 after it.
	var measuring atomic.Int32
	var failure atomic.Pointer[error]
	lats := make([][]time.Duration, o.concurrency)
	var wg sync.WaitGroup
	for c := 0; c < o.concurrency; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cmd := make([]byte, o.size)
			binary.LittleEndian.PutUint32(cmd, uint32(c))
			for seq := uint32(0); measuring.Load() < 2; seq++ {
				binary.LittleEndian.PutUint32(cmd[4:], seq)
				start := time.Now()
				f := r.Apply(cmd, o.applyWait)
				if err := f.Error(); err != nil {
					e := fmt.Errorf("client %d: apply: %w", c, err)
					failure.CompareAndSwap(nil, &e)
					return
				}
				if measuring.Load() == 1 {
					lats[c] = append(lats[c], time.Since(start))
				}
			}
		}(c)
	}

	time.Sleep(time.Duration(o.warmup * float64(time.Second)))
	cpu0, err := clusterCPU(pids)
	if err != nil {
		return err
	}
	t0 := time.Now()
	measuring.Store(1)
	time.Sleep(time.Duration(o.duration * float64(time.Second)))
	measuring.Store(2)
	elapsed := time.Since(t0).Seconds()
	cpu1, err := clusterCPU(pids)
	if err != nil {
		return err
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(60 * time.Second):
		return errors.New("writes still pending 60 s after the window")
	}
	if e := failure.Load(); e != nil {
		return *e
	}
	if r.State() != raft.Leader {
		return errors.New("node 1 lost leadership during the run")
	}
	for i := range exited {
		select {
		case <-exited[i]:
			return fmt.Errorf("follower node %d exited during the run", i+2)
		default:
		}
	}

	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return errors.New("no write completed in the window")
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	res := result{
		Library: "hashicorp-raft", Variant: "default", Concurrency: o.concurrency,
		Writes: len(all), Seconds: elapsed, WritesPerS: float64(len(all)) / elapsed,
		P50: pct(all, 0.50), P99: pct(all, 0.99), P999: pct(all, 0.999),
		CPU: float64(cpu1-cpu0) / clockTicks, Fsync: true,
	}
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}
