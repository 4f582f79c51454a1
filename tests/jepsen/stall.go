package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// Bounds of the leader disk stall test (kvnode: 20 ms ticks, elections
// after 15 ticks, so an election timeout is 300-600 ms).
var debugStall = os.Getenv("JEPSEN_DEBUG") != ""

const (
	stallNewLeaderBound = 3 * time.Second // another host leads and takes writes
	stallStepDownBound  = 2 * time.Second // the stalled host no longer leads once its disk is back
	stallHold           = 6 * time.Second
)

// runStallTest is hashicorp/raft#503 on real processes: the leader's disk
// stops completing writes (kvnode's `stall-disk on`: its log's write
// blocks). Clients keep writing through every host. Within a bound,
// another host must lead in a higher term and writes through the others
// must succeed; the stalled host must not complete any operation while
// stalled; when its disk comes back it must follow the new leader within
// a bound. The history is checked for linearizability.
func runStallTest(o Options) bool {
	dir := filepath.Join(o.Out, "stall")
	c, err := startCluster(o.Bin, dir, 3)
	if err != nil {
		fmt.Println("stall: start:", err)
		return false
	}
	register(c, true)
	defer func() { c.Close(); register(c, false) }()
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	leader, term := c.WaitLeader(30 * time.Second)
	if leader == 0 {
		fmt.Println("stall: FAIL no leader")
		return false
	}
	h := &History{start: time.Now()}
	keys := []string{"k0", "k1", "k2"}
	var stop atomic.Bool
	var wg sync.WaitGroup
	rng := rand.New(rand.NewSource(o.Seed))
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go newClient(i, uint64(o.Seed)<<16|1, c, h, rng.Int63(), keys).run(&stop, &wg)
	}
	time.Sleep(2 * time.Second)
	leader, term = c.WaitLeader(5 * time.Second)
	fmt.Printf("stall: host %d leads in term %d; its disk stalls\n", leader, term)
	stalled := c.node(leader)
	if a, err := stalled.Ask("stall-disk on", 2*time.Second); err != nil || a != "ok" {
		fmt.Println("stall: FAIL stall-disk on:", a, err)
		return false
	}
	start := h.now()
	t0 := time.Now()
	healed := make(chan struct{})
	probed := make(chan time.Duration, 1)
	go func() { probed <- probeWrites(c, c.others(leader), healed) }()

	// Another host leads in a higher term.
	var newLeader time.Duration
	for newLeader == 0 && time.Since(t0) < stallHold {
		for _, nd := range c.Nodes {
			if nd.id == leader {
				continue
			}
			a, err := nd.Ask(fmt.Sprintf("info %d", Group), 500*time.Millisecond)
			if err == nil && strings.Contains(a, "state=leader") && infoField(a, "term") > term {
				newLeader = time.Since(t0)
				fmt.Printf("stall: host %d leads after %.2fs (%s)\n", nd.id, newLeader.Seconds(), a)
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if newLeader == 0 || newLeader > stallNewLeaderBound {
		bad("no other host led within %v of the stall (took %v)", stallNewLeaderBound, newLeader)
	}
	// The stalled host cannot answer (its worker waits in the write).
	if a, err := stalled.Ask(fmt.Sprintf("info %d", Group), 500*time.Millisecond); err == nil {
		fmt.Printf("stall: the stalled host answered info: %s\n", a)
	} else {
		fmt.Printf("stall: the stalled host does not answer while stalled (%v)\n", err)
	}
	for time.Since(t0) < stallHold {
		time.Sleep(20 * time.Millisecond)
	}
	stallEnd := h.now()
	close(healed)
	firstWrite := <-probed
	if a, err := stalled.Ask("stall-disk off", 2*time.Second); err != nil || a != "ok" {
		bad("stall-disk off: %q %v", a, err)
	}
	t1 := time.Now()
	var stepDown time.Duration
	for time.Since(t1) < 5*time.Second {
		a, err := stalled.Ask(fmt.Sprintf("info %d", Group), 500*time.Millisecond)
		if err == nil && strings.Contains(a, "state=follower") {
			stepDown = time.Since(t1)
			fmt.Printf("stall: the stalled host follows %.2fs after its disk is back (%s)\n", stepDown.Seconds(), a)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if stepDown == 0 || stepDown > stallStepDownBound {
		bad("the stalled host still led %v after its disk came back", stallStepDownBound)
	}
	time.Sleep(2 * time.Second)
	stop.Store(true)
	wg.Wait()
	ops := h.Ops()

	// Writes through the others completed during the stall.
	okDuring := 0
	for _, op := range ops {
		if op.Outcome == Completed && op.Call >= start && op.Return < stallEnd {
			okDuring++
		}
		if debugStall && op.Call < stallEnd && (op.Return > start || op.Outcome != Completed) {
			fmt.Printf("  client %d %s %s call %.2f return %.2f tries %v\n", op.Client, op.In.Op, op.In.Key, float64(op.Call-start)/1e9, float64(op.Return-start)/1e9, op.Tries)
		}
	}
	if firstWrite < 0 || firstWrite > stallNewLeaderBound {
		bad("no write through the others within %v of the stall (%v)", stallNewLeaderBound, firstWrite)
	} else {
		fmt.Printf("stall: a write through the others succeeded %.2fs after the stall began; clients completed %d ops during the %.1fs stall\n",
			firstWrite.Seconds(), okDuring, stallHold.Seconds())
	}
	quiescedStall(c, bad)
	res := checkHistory(ops, o.CheckTimeout, filepath.Join(dir, "violation.html"))
	if res.Verdict != porcupine.Ok {
		bad("linearizable: %v %s", res.Verdict, res.VizPath)
	}
	fmt.Printf("stall: linearizable: %v (%d ops)\n", res.Verdict, res.Ops)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("stall: FAIL", p)
		}
		return false
	}
	fmt.Printf("stall: PASS new leader %.2fs, stalled host steps down %.2fs after its disk returns\n", newLeader.Seconds(), stepDown.Seconds())
	return true
}

// quiescedStall stalls the leader's disk while the group is quiesced (no
// host ticks, so no follower notices a silent leader by itself), then
// writes through a follower: the write wakes the follower, reaches the
// leader, whose worker then blocks in the log write; the followers must
// elect another leader and the write (retried in its session) must
// succeed within the bound.
func quiescedStall(c *Cluster, bad func(string, ...any)) {
	quiet := func() bool {
		for _, nd := range c.Nodes {
			a, err := nd.Ask(fmt.Sprintf("info %d", Group), time.Second)
			if err != nil || !strings.Contains(a, "quiesced=true") {
				return false
			}
		}
		return true
	}
	end := time.Now().Add(15 * time.Second)
	for !quiet() {
		if time.Now().After(end) {
			bad("the group did not quiesce within 15 s")
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	leader, term := c.WaitLeader(5 * time.Second)
	if leader == 0 {
		bad("quiesced group: no leader")
		return
	}
	via := c.node(1 + leader%c.n)
	fmt.Printf("stall: the group is quiesced; host %d leads in term %d; its disk stalls; writes go through host %d\n", leader, term, via.id)
	if a, err := c.node(leader).Ask("stall-disk on", 2*time.Second); err != nil || a != "ok" {
		bad("stall-disk on: %q %v", a, err)
		return
	}
	t0 := time.Now()
	var took time.Duration
	for i := 0; time.Since(t0) < 3*stallNewLeaderBound; i++ {
		// One session series for every attempt: applied at most once.
		// Short attempts: the first one is forwarded to the stalled
		// leader and would wait out the node's deadline.
		a, err := via.Ask(fmt.Sprintf("session %d 1 0 put %d quiet-key v", uint64(1)<<62, Group), 300*time.Millisecond)
		if err == nil && strings.HasPrefix(a, "ok") {
			took = time.Since(t0)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	l2, t2 := c.Leader()
	fmt.Printf("stall: quiesced group: a write through host %d succeeded %.2fs after the stall; host %d leads in term %d\n", via.id, took.Seconds(), l2, t2)
	if took == 0 || took > stallNewLeaderBound {
		bad("quiesced group: no write within %v of the leader's stall (took %v)", stallNewLeaderBound, took)
	}
	if l2 == leader || t2 <= term {
		bad("quiesced group: host %d still leads (term %d)", l2, t2)
	}
	if a, err := c.node(leader).Ask("stall-disk off", 2*time.Second); err != nil || a != "ok" {
		bad("stall-disk off: %q %v", a, err)
	}
}
