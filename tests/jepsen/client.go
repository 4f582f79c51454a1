package main

import (
	"bufio"
	"fmt"
	"math/rand"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Input is one client operation: get, put or cas on a key.
type Input struct {
	Op    string // "get", "put", "cas"
	Key   string
	Value string // put: the value; cas: the new value
	Old   string // cas: the expected value
}

// Output is what the cluster answered. Unknown: the write may or may not
// have been applied (timed out, or its node died); it is placed at the end
// of time, so the checker may linearize it anywhere after its call, which
// includes "never".
type Output struct {
	Value   string // get: the value read; put: the previous value; cas: the current value when it failed
	OK      bool   // cas: it swapped
	Unknown bool
}

// Outcome of one operation.
type Outcome int

const (
	Completed Outcome = iota // the cluster answered
	Failed                   // certainly not applied (every attempt was refused)
	Ambiguous                // possibly applied
)

// Op is a recorded operation: its call and return times in nanoseconds
// since the run started (Return is far in the future for Ambiguous).
type Op struct {
	Client  int
	In      Input
	Out     Output
	Call    int64
	Return  int64
	Outcome Outcome
	Node    int      // the host of the last attempt
	Tries   []string // every attempt: "HOST:ms:answer", for debugging
}

// History collects every client's operations.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

func (h *History) now() int64 { return int64(time.Since(h.start)) }

func (h *History) add(op Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Ops returns a copy of the history.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}

const (
	attemptTimeout = 2500 * time.Millisecond // the node's own deadline is 1.5 s
	opBudget       = 6 * time.Second         // retries of one operation
)

// Client is one sequential client: each operation goes to a random node
// and, when that node fails it, is retried on others. Writes carry the
// client's session (client id, series, highest answered series): a retry
// of a write that was maybe applied keeps its series, so the cluster
// applies it at most once and the retry answers with its result.
type Client struct {
	id      int
	session uint64
	series  uint64
	acked   uint64
	cluster *Cluster
	hist    *History
	rng     *rand.Rand
	conns   map[int]*clientConn
	last    map[string]string // the latest value this client saw per key
	n       int
	keys    []string
}

type clientConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
}

func newClient(id int, sessionBase uint64, c *Cluster, h *History, seed int64, keys []string) *Client {
	return &Client{
		id: id, session: sessionBase + uint64(id), series: 1, cluster: c, hist: h,
		rng: rand.New(rand.NewSource(seed)), conns: map[int]*clientConn{}, last: map[string]string{}, keys: keys,
	}
}

// run issues operations until stop is set.
func (cl *Client) run(stop *atomic.Bool, wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() {
		for _, cc := range cl.conns {
			cc.c.Close()
		}
	}()
	for !stop.Load() {
		key := cl.keys[cl.rng.Intn(len(cl.keys))]
		cl.n++
		val := fmt.Sprintf("c%d-%d", cl.id, cl.n)
		r := cl.rng.Intn(10)
		old, seen := cl.last[key]
		switch {
		case r < 4:
			cl.get(key)
		case r < 7 || !seen:
			cl.write(Input{Op: "put", Key: key, Value: val})
		default:
			cl.write(Input{Op: "cas", Key: key, Value: val, Old: old})
		}
	}
}

// attempt sends one line to node id and reads the answer. sent is false
// when the request certainly did not reach the node.
func (cl *Client) attempt(id int, line string) (ans string, sent bool, err error) {
	nd := cl.cluster.node(id)
	addr := nd.ClientAddr()
	if addr == "" {
		return "", false, fmt.Errorf("node %d down", id)
	}
	cc := cl.conns[id]
	if cc == nil || cc.addr != addr {
		if cc != nil {
			cc.c.Close()
		}
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err != nil {
			delete(cl.conns, id)
			return "", false, err
		}
		cc = &clientConn{addr: addr, c: c, r: bufio.NewReader(c)}
		cl.conns[id] = cc
	}
	drop := func() { cc.c.Close(); delete(cl.conns, id) }
	cc.c.SetDeadline(time.Now().Add(attemptTimeout))
	if _, err := fmt.Fprintf(cc.c, "%s\n", line); err != nil {
		drop()
		return "", true, err
	}
	a, err := cc.r.ReadString('\n')
	if err != nil {
		// A connection that timed out may still deliver this answer
		// later: never reuse it.
		drop()
		return "", true, err
	}
	return strings.TrimSpace(a), true, nil
}

func (cl *Client) pickNode(prev int) int {
	n := cl.cluster.n
	id := 1 + cl.rng.Intn(n)
	if id == prev && n > 1 {
		id = 1 + (id % n)
	}
	return id
}

func (cl *Client) get(key string) {
	call := cl.hist.now()
	end := time.Now().Add(opBudget)
	node := 0
	var tries []string
	for time.Now().Before(end) {
		node = cl.pickNode(node)
		t := time.Now()
		ans, _, err := cl.attempt(node, fmt.Sprintf("get %d %s", Group, key))
		tries = append(tries, tryNote(node, t, ans, err))
		if err == nil && strings.HasPrefix(ans, "val") {
			v := strings.TrimSpace(strings.TrimPrefix(ans, "val"))
			cl.hist.add(Op{Client: cl.id, In: Input{Op: "get", Key: key}, Out: Output{Value: v}, Call: call, Return: cl.hist.now(), Outcome: Completed, Node: node, Tries: tries})
			if v != "" {
				cl.last[key] = v
			}
			return
		}
		time.Sleep(time.Duration(20+cl.rng.Intn(60)) * time.Millisecond)
	}
	// A read that never answered changed nothing: it is recorded as failed.
	cl.hist.add(Op{Client: cl.id, In: Input{Op: "get", Key: key}, Call: call, Outcome: Failed, Node: node, Tries: tries})
}

func (cl *Client) write(in Input) {
	call := cl.hist.now()
	end := time.Now().Add(opBudget)
	ambiguous := false
	node := 0
	var tries []string
	defer func() {
		// Answered or abandoned: the next write gets a new series, and
		// the cluster may drop this one's cached result.
		cl.acked = cl.series
		cl.series++
	}()
	var cmd string
	if in.Op == "put" {
		cmd = fmt.Sprintf("put %d %s %s", Group, in.Key, in.Value)
	} else {
		cmd = fmt.Sprintf("cas %d %s %s %s", Group, in.Key, in.Old, in.Value)
	}
	for time.Now().Before(end) {
		node = cl.pickNode(node)
		t := time.Now()
		ans, sent, err := cl.attempt(node, fmt.Sprintf("session %d %d %d %s", cl.session, cl.series, cl.acked, cmd))
		tries = append(tries, tryNote(node, t, ans, err))
		if err != nil {
			ambiguous = ambiguous || sent
		} else if out, ok := parseWrite(in.Op, ans); ok {
			cl.hist.add(Op{Client: cl.id, In: in, Out: out, Call: call, Return: cl.hist.now(), Outcome: Completed, Node: node, Tries: tries})
			cl.last[in.Key] = in.Value
			if in.Op == "cas" && !out.OK {
				cl.last[in.Key] = out.Value
			}
			return
		} else if !strings.HasPrefix(ans, "err rejected") {
			// Timed out at the node (or an answer we do not know):
			// it may still be applied.
			ambiguous = true
		}
		time.Sleep(time.Duration(20+cl.rng.Intn(60)) * time.Millisecond)
	}
	op := Op{Client: cl.id, In: in, Call: call, Outcome: Failed, Node: node, Tries: tries}
	if ambiguous {
		op.Outcome = Ambiguous
		op.Out = Output{Unknown: true}
	}
	delete(cl.last, in.Key)
	cl.hist.add(op)
}

// parseWrite reads a write's answer: put -> "ok OLD"; cas -> "ok" or
// "fail CURRENT".
func parseWrite(op, ans string) (Output, bool) {
	if op == "put" {
		if v, ok := strings.CutPrefix(ans, "ok"); ok {
			return Output{Value: strings.TrimSpace(v), OK: true}, true
		}
		return Output{}, false
	}
	if ans == "ok" {
		return Output{OK: true}, true
	}
	if v, ok := strings.CutPrefix(ans, "fail"); ok {
		return Output{Value: strings.TrimSpace(v)}, true
	}
	return Output{}, false
}

func tryNote(node int, t time.Time, ans string, err error) string {
	if err != nil {
		ans = err.Error()
	}
	if len(ans) > 40 {
		ans = ans[:40]
	}
	return fmt.Sprintf("%d:%dms:%s", node, time.Since(t).Milliseconds(), ans)
}
