// A replicated key-value store on the polyraft host, in Go: the node of
// host/examples/kv.rs, examples/kv-host (Python) and examples/kv-c. 16
// groups shard the keys; clients speak the text protocol of PROTOCOL.md,
// with sessions so that a retried PUT applies once.
//
// One host per process, over mutual TLS (the flags of kvhost.py):
//
//	go run -tags polyraft_debug . -id 1 -raft 127.0.0.1:7001 -client 127.0.0.1:9001 \
//	    -peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 -certs DIR -data-dir DIR/1
//
// Without -id, three hosts run in this process (in-process network):
//
//	go run -tags polyraft_debug .                    # a scripted run
//	go run -tags polyraft_debug . -listen :9001,:9002,:9003   # serve clients
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/polyraft/polyraft/go/host"
)

// kv is the state machine: "key=value" sets a key and returns its old value.
type kv map[string]string

func (m kv) Apply(entries []host.Entry) ([][]byte, error) {
	out := make([][]byte, len(entries))
	for i, e := range entries {
		k, v, _ := strings.Cut(string(e.Cmd), "=")
		out[i], m[k] = []byte(m[k]), v
	}
	return out, nil
}

func (m kv) Snapshot(w io.Writer) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if _, err := fmt.Fprintf(w, "%s=%s\n", k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

func (m kv) Restore(r io.Reader) error {
	clear(m)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		m[k] = v
	}
	return sc.Err()
}

func (m kv) Lookup(key []byte) ([]byte, error) { return []byte(m[string(key)]), nil }

const groups = 16

// groupOf is the group (shard) that owns a key; the same in every language.
func groupOf(key string) uint64 {
	h := uint64(7)
	for _, b := range []byte(key) {
		h = h*31 + uint64(b)
	}
	return h%groups + 1
}

// handle serves one request line of the client protocol on h.
func handle(h *host.Host, line string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	f := strings.SplitN(strings.TrimSpace(line), " ", 6)
	var r []byte
	var err error
	switch {
	case len(f) == 2 && f[0] == "GET":
		if why := noLeader(ctx, h, groupOf(f[1])); why != "" {
			return why
		}
		r, err = h.Read(ctx, groupOf(f[1]), []byte(f[1]))
	case len(f) == 6 && f[0] == "PUT" && !strings.Contains(f[4], "="):
		s := host.Session{Group: groupOf(f[4])}
		s.ClientID, err = strconv.ParseUint(f[1], 10, 64)
		if err == nil {
			s.Series, err = strconv.ParseUint(f[2], 10, 64)
		}
		if err == nil {
			s.RespondedTo, err = strconv.ParseUint(f[3], 10, 64)
		}
		if err != nil || s.ClientID == 0 || s.Series <= s.RespondedTo {
			return "ERR bad session numbers"
		}
		if why := noLeader(ctx, h, s.Group); why != "" {
			return why
		}
		r, err = h.ProposeSession(ctx, &s, []byte(f[4]+"="+f[5]))
	default:
		return "ERR expected GET <key> or PUT <client> <series> <responded> <key> <value>"
	}
	switch {
	case err == nil:
		return "OK " + string(r)
	case errors.Is(err, host.ErrRejected):
		return "REJECTED " + err.Error()
	case errors.Is(err, host.ErrTimedOut):
		return "UNKNOWN " + err.Error()
	}
	return "REJECTED " + err.Error() // closed, or a bad argument: nothing applied
}

// noLeader fails a request fast (REJECTED) when the group has no replica
// here or no known leader, instead of letting it wait out its deadline.
func noLeader(ctx context.Context, h *host.Host, group uint64) string {
	info, err := h.GroupInfo(ctx, group)
	if err != nil {
		return fmt.Sprintf("REJECTED group %d: %v", group, err)
	}
	if info.Leader == 0 {
		return fmt.Sprintf("REJECTED group %d has no leader yet", group)
	}
	return ""
}

func serve(h *host.Host, addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	serveOn(h, l)
}

func serveOn(h *host.Host, l net.Listener) {
	log.Printf("host %d serves clients on %s", h.ID(), l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			for sc := bufio.NewScanner(c); sc.Scan(); {
				fmt.Fprintln(c, handle(h, sc.Text()))
			}
		}()
	}
}

// client is the protocol's client side: a session per client, retries
// with the same series until the outcome is known.
type client struct {
	nodes             []*host.Host
	id, series, acked uint64
}

func (c *client) call(req func(series, acked uint64) string) string {
	c.series++
	for i := 0; ; i++ {
		reply := handle(c.nodes[i%len(c.nodes)], req(c.series, c.acked))
		if strings.HasPrefix(reply, "OK ") || strings.HasPrefix(reply, "ERR ") {
			c.acked = c.series
			return reply
		}
		time.Sleep(50 * time.Millisecond) // REJECTED or UNKNOWN: same series, next node
	}
}

// node runs one host of a cluster in this process, over TCP (mutual TLS
// unless plaintext), and serves clients; it returns only on an error.
func node(id uint64, raftAddr, clientAddr, peerList, memberList, certs string, plaintext bool, dataDir string, snapEvery uint64) error {
	peers := map[uint64]string{}
	for _, p := range strings.Split(peerList, ",") {
		i, addr, _ := strings.Cut(p, "=")
		n, err := strconv.ParseUint(i, 10, 64)
		if err != nil {
			return fmt.Errorf("-peers: %q is not ID=ip:port", p)
		}
		peers[n] = addr
	}
	var members []host.Peer
	for _, m := range strings.Split(memberList, ",") {
		if n, err := strconv.ParseUint(m, 10, 64); err == nil {
			members = append(members, host.Peer{Replica: n, Host: n})
		}
	}
	if len(members) == 0 {
		for n := range peers {
			members = append(members, host.Peer{Replica: n, Host: n})
		}
	}
	var network *host.TCPNetwork
	var err error
	if plaintext {
		network, err = host.NewInsecurePlaintextTCPNetwork(raftAddr, peers)
	} else {
		network, err = host.NewTCPNetwork(raftAddr, peers, host.DevTLSFiles(certs, id))
	}
	if err != nil {
		return err
	}
	defer network.Close()
	h, err := host.New(host.Config{HostID: id, Transport: network, DataDir: dataDir, TickInterval: 50 * time.Millisecond,
		SnapshotEntries: snapEvery, CompactionOverhead: max(1, snapEvery/4)})
	if err != nil {
		return err
	}
	defer h.Close()
	for g := uint64(1); g <= groups; g++ {
		if err := h.StartReplica(context.Background(), g, id, members, kv{}); err != nil {
			return err
		}
	}
	l, err := net.Listen("tcp", clientAddr)
	if err != nil {
		return err
	}
	addr, _ := h.LocalAddr()
	fmt.Printf("host %d raft %s clients %d\n", id, addr, l.Addr().(*net.TCPAddr).Port)
	serveOn(h, l)
	return nil
}

func main() {
	listen := flag.String("listen", "", "comma-separated client addresses, one per host (default: a scripted run)")
	id := flag.Uint64("id", 0, "run one host of a cluster: this host's id (also its replica id)")
	raftAddr := flag.String("raft", "", "with -id: ip:port the hosts talk raft on")
	clientAddr := flag.String("client", "127.0.0.1:0", "with -id: ip:port for clients")
	peerList := flag.String("peers", "", "with -id: every host's raft address, ID=ip:port,...")
	members := flag.String("members", "", "with -id: hosts that bootstrap the groups, ID,... (default: every peer)")
	certs := flag.String("certs", "", "with -id: directory with host-<id>.pem, host-<id>.key and ca.pem")
	plaintext := flag.Bool("plaintext", false, "with -id: plain TCP between hosts (insecure)")
	dataDir := flag.String("data-dir", "", "with -id: the log and snapshots (default: in memory)")
	snapEvery := flag.Uint64("snapshot-entries", 1000, "with -id: a snapshot every N applied entries")
	flag.Parse()
	if *id != 0 {
		if *certs == "" && !*plaintext {
			log.Fatal("-certs DIR or -plaintext is required")
		}
		log.Fatal(node(*id, *raftAddr, *clientAddr, *peerList, *members, *certs, *plaintext, *dataDir, *snapEvery))
	}
	network := host.NewInProcessNetwork()
	peers := []host.Peer{{Replica: 1, Host: 1}, {Replica: 2, Host: 2}, {Replica: 3, Host: 3}}
	var nodes []*host.Host
	for id := uint64(1); id <= 3; id++ {
		h, err := host.New(host.Config{HostID: id, Transport: network, TickInterval: 20 * time.Millisecond})
		if err != nil {
			log.Fatal(err)
		}
		defer h.Close()
		for g := uint64(1); g <= groups; g++ {
			if err := h.StartReplica(context.Background(), g, id, peers, kv{}); err != nil {
				log.Fatal(err)
			}
		}
		nodes = append(nodes, h)
	}
	if *listen != "" {
		for i, addr := range strings.Split(*listen, ",") {
			go serve(nodes[i%3], addr)
		}
		select {}
	}
	c := &client{nodes: nodes, id: 42}
	for _, kv := range [][2]string{{"apple", "red"}, {"banana", "yellow"}, {"apple", "green"}} {
		r := c.call(func(s, a uint64) string { return fmt.Sprintf("PUT %d %d %d %s %s", c.id, s, a, kv[0], kv[1]) })
		fmt.Printf("PUT %s=%s -> %s\n", kv[0], kv[1], r)
	}
	// The client lost the reply of its last PUT and sends it again: the
	// session answers with the first result, and nothing applies twice.
	again := handle(nodes[2], fmt.Sprintf("PUT %d %d %d apple green", c.id, c.series, c.series-1))
	fmt.Printf("retried PUT apple=green -> %s\n", again)
	for _, h := range nodes {
		fmt.Printf("host %d: GET apple -> %s\n", h.ID(), handle(h, "GET apple"))
	}
	info, err := nodes[0].GroupInfo(context.Background(), groupOf("apple"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("group %d: leader %d, term %d, applied %d, voters %v\n", info.Group, info.Leader, info.Term, info.Applied, info.Voters)
}
