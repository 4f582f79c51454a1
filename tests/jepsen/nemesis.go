package main

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Fault is one nemesis action, from when it began until it was healed.
type Fault struct {
	Kind     string // kill, pause, partition, split, oneway, stall
	Detail   string
	OnLeader bool // its target was the leader at the time
	Start    int64
	End      int64
	// FirstWrite: how long after Start a probe write through the hosts
	// the fault spared first succeeded (-1: none before the heal).
	FirstWrite time.Duration
	spared     []int
}

// nemesisKinds are the faults the nemesis knows.
var nemesisKinds = []string{"kill", "pause", "partition", "split", "oneway", "stall"}

// Nemesis injects one fault at a time: a quiet period, then a fault held
// for a while, then its heal (restart, SIGCONT, links restored, disk
// resumed).
type Nemesis struct {
	c      *Cluster
	h      *History
	rng    *rand.Rand
	kinds  []string
	quiet  [2]time.Duration
	hold   [2]time.Duration
	faults []Fault
	seen   map[string]int
	errs   []string
}

func (nm *Nemesis) between(r [2]time.Duration) time.Duration {
	return r[0] + time.Duration(nm.rng.Int63n(int64(r[1]-r[0])+1))
}

// sleepUntil sleeps d unless the run ends first; false when it ended.
func sleepUntil(d time.Duration, stop *atomic.Bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if stop.Load() {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return !stop.Load()
}

// run cycles through the kinds (in a shuffled order) until stop is set.
func (nm *Nemesis) run(stop *atomic.Bool, done chan<- struct{}) {
	defer close(done)
	order := append([]string(nil), nm.kinds...)
	nm.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for i := 0; ; i++ {
		if !sleepUntil(nm.between(nm.quiet), stop) {
			return
		}
		kind := order[i%len(order)]
		f, heal, err := nm.inject(kind)
		if err != nil {
			nm.errs = append(nm.errs, fmt.Sprintf("%s: %v", kind, err))
			continue
		}
		healed := make(chan struct{})
		probed := make(chan time.Duration, 1)
		go nm.probe(f.spared, healed, probed)
		// The fault is held even past the end of the run: a heal must
		// follow every fault.
		sleepUntil(nm.between(nm.hold), &atomic.Bool{})
		close(healed)
		f.FirstWrite = <-probed
		if err := heal(); err != nil {
			nm.errs = append(nm.errs, fmt.Sprintf("healing %s: %v", kind, err))
		}
		f.End = nm.h.now()
		nm.faults = append(nm.faults, f)
	}
}

// probe writes through the spared hosts, one at a time, each attempt
// given 300 ms, until one succeeds or the fault is healed, and sends how
// long after the start that took (-1: never). A write (not a read) needs
// a leader that a majority follows: after a fault that hit the leader,
// this is the time to a new leader.
func (nm *Nemesis) probe(spared []int, healed <-chan struct{}, out chan<- time.Duration) {
	out <- probeWrites(nm.c, spared, healed)
}

func probeWrites(c *Cluster, spared []int, healed <-chan struct{}) time.Duration {
	t0 := time.Now()
	for i := 0; len(spared) > 0; i++ {
		select {
		case <-healed:
			return -1
		default:
		}
		nd := c.node(spared[i%len(spared)])
		a, err := nd.Ask(fmt.Sprintf("put %d probe %d", Group, i), 300*time.Millisecond)
		if err == nil && strings.HasPrefix(a, "ok") {
			return time.Since(t0)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return -1
}

// others lists every host but t.
func (c *Cluster) others(t int) []int {
	var ids []int
	for j := 1; j <= c.n; j++ {
		if j != t {
			ids = append(ids, j)
		}
	}
	return ids
}

// target picks the leader for the first occurrence of a kind and every
// other one after it, else a random host.
func (nm *Nemesis) target(kind string) (int, bool) {
	nm.seen[kind]++
	if nm.seen[kind]%2 == 1 {
		if l, _ := nm.c.Leader(); l != 0 {
			return l, true
		}
	}
	return 1 + nm.rng.Intn(nm.c.n), false
}

func (nm *Nemesis) inject(kind string) (Fault, func() error, error) {
	c := nm.c
	f := Fault{Kind: kind}
	var heal func() error
	switch kind {
	case "kill":
		t, lead := nm.target(kind)
		f.Detail, f.OnLeader, f.spared = fmt.Sprintf("host %d", t), lead, c.others(t)
		f.Start = nm.h.now()
		c.node(t).Kill()
		heal = func() error { return c.node(t).Start() }
	case "pause":
		t, lead := nm.target(kind)
		f.Detail, f.OnLeader, f.spared = fmt.Sprintf("host %d", t), lead, c.others(t)
		f.Start = nm.h.now()
		c.node(t).Pause(true)
		heal = func() error { c.node(t).Pause(false); return nil }
	case "partition":
		t, lead := nm.target(kind)
		f.Detail, f.OnLeader, f.spared = fmt.Sprintf("host %d isolated", t), lead, c.others(t)
		f.Start = nm.h.now()
		for j := 1; j <= c.n; j++ {
			if j != t {
				c.Block(t, j, true)
				c.Block(j, t, true)
			}
		}
		heal = func() error { c.HealNetwork(); return nil }
	case "split":
		perm := nm.rng.Perm(c.n)
		minority := map[int]bool{}
		for _, p := range perm[:c.n/2] {
			minority[p+1] = true
		}
		l, _ := c.Leader()
		f.OnLeader = l != 0 && minority[l]
		var ids []string
		for id := range minority {
			ids = append(ids, fmt.Sprint(id))
		}
		sort.Strings(ids)
		f.Detail = "minority {" + strings.Join(ids, ",") + "}"
		for j := 1; j <= c.n; j++ {
			if !minority[j] {
				f.spared = append(f.spared, j)
			}
		}
		f.Start = nm.h.now()
		for a := 1; a <= c.n; a++ {
			for b := 1; b <= c.n; b++ {
				if a != b && minority[a] != minority[b] {
					c.Block(a, b, true)
				}
			}
		}
		heal = func() error { c.HealNetwork(); return nil }
	case "oneway":
		t, lead := nm.target(kind)
		out := nm.rng.Intn(2) == 0
		f.OnLeader, f.spared = lead, c.others(t)
		if out {
			f.Detail = fmt.Sprintf("host %d cannot send", t)
		} else {
			f.Detail = fmt.Sprintf("host %d cannot receive", t)
		}
		f.Start = nm.h.now()
		for j := 1; j <= c.n; j++ {
			if j != t {
				if out {
					c.Block(t, j, true)
				} else {
					c.Block(j, t, true)
				}
			}
		}
		heal = func() error { c.HealNetwork(); return nil }
	case "stall":
		t, lead := nm.target(kind)
		f.Detail, f.OnLeader, f.spared = fmt.Sprintf("host %d disk", t), lead, c.others(t)
		f.Start = nm.h.now()
		if a, err := c.node(t).Ask("stall-disk on", 2*time.Second); err != nil || a != "ok" {
			return f, nil, fmt.Errorf("stall-disk on: %q %v", a, err)
		}
		heal = func() error {
			if a, err := c.node(t).Ask("stall-disk off", 2*time.Second); err != nil || a != "ok" {
				return fmt.Errorf("stall-disk off: %q %v", a, err)
			}
			return nil
		}
	default:
		return f, nil, fmt.Errorf("unknown nemesis %q", kind)
	}
	return f, heal, nil
}

// healAll undoes everything: links restored, processes resumed and
// restarted, disks resumed.
func healAll(c *Cluster) []string {
	var errs []string
	c.HealNetwork()
	for _, nd := range c.Nodes {
		nd.Pause(false)
		if nd.ClientAddr() == "" {
			if err := nd.Start(); err != nil {
				errs = append(errs, err.Error())
			}
		}
		nd.Ask("stall-disk off", 2*time.Second)
	}
	return errs
}
