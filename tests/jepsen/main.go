// Command jepsen runs Jepsen-style tests of polyraft's replicated KV node
// (host/examples/kvnode.rs) as real processes: clusters of 3 or 5 kvnode
// processes with a TCP proxy on every directed link, concurrent clients
// doing get/put/cas, a nemesis (SIGKILL + restart, SIGSTOP/SIGCONT,
// partitions, one-way partitions, disk stalls), and porcupine to check
// each key's history for linearizability. See README.md.
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options of a campaign.
type Options struct {
	Bin           string
	Hosts         []int
	Runs          int
	Duration      time.Duration
	Kinds         []string
	Clients       int
	Keys          int
	Out           string
	Seed          int64
	Quiet, Hold   [2]time.Duration
	RecoveryBound time.Duration
	CheckTimeout  time.Duration
}

var live struct {
	mu       sync.Mutex
	clusters map[*Cluster]bool
}

func main() {
	var o Options
	var hosts, kinds, quiet, hold string
	flag.StringVar(&o.Bin, "bin", "", "the kvnode binary (release build of host/examples/kvnode.rs)")
	flag.StringVar(&hosts, "hosts", "3,5", "cluster sizes, alternating over the runs")
	flag.IntVar(&o.Runs, "runs", 1, "runs")
	flag.DurationVar(&o.Duration, "duration", 60*time.Second, "length of each run's workload")
	flag.StringVar(&kinds, "nemesis", strings.Join(nemesisKinds, ","), "faults: "+strings.Join(nemesisKinds, ","))
	flag.IntVar(&o.Clients, "clients", 8, "concurrent clients")
	flag.IntVar(&o.Keys, "keys", 4, "keys")
	flag.StringVar(&o.Out, "out", "", "directory for data dirs, logs and visualizations (default: a new temp dir)")
	flag.Int64Var(&o.Seed, "seed", 0, "seed of the clients and the nemesis (0: from the clock)")
	flag.StringVar(&quiet, "quiet", "2s-4s", "quiet time before each fault (MIN-MAX)")
	flag.StringVar(&hold, "hold", "2s-4s", "how long each fault is held (MIN-MAX)")
	flag.DurationVar(&o.RecoveryBound, "recovery-bound", 15*time.Second, "after healing, a write must succeed within this")
	flag.DurationVar(&o.CheckTimeout, "check-timeout", 5*time.Minute, "porcupine's time limit per run")
	stall := flag.Bool("stall-test", false, "run the leader disk stall test instead (hashicorp/raft#503)")
	flag.Parse()
	fail := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "jepsen: "+format+"\n", a...)
		os.Exit(2)
	}
	if o.Bin == "" {
		fail("-bin is required")
	}
	for _, h := range strings.Split(hosts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(h))
		if err != nil || n < 3 {
			fail("bad -hosts %q", hosts)
		}
		o.Hosts = append(o.Hosts, n)
	}
	for _, k := range strings.Split(kinds, ",") {
		k = strings.TrimSpace(k)
		if !contains(nemesisKinds, k) {
			fail("unknown nemesis %q", k)
		}
		o.Kinds = append(o.Kinds, k)
	}
	var err error
	if o.Quiet, err = parseRange(quiet); err != nil {
		fail("-quiet: %v", err)
	}
	if o.Hold, err = parseRange(hold); err != nil {
		fail("-hold: %v", err)
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano() % 1_000_000_000
	}
	if o.Out == "" {
		if o.Out, err = os.MkdirTemp("", "polyraft-jepsen-"); err != nil {
			fail("%v", err)
		}
	}
	live.clusters = map[*Cluster]bool{}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		live.mu.Lock()
		for c := range live.clusters {
			c.Close()
		}
		os.Exit(130)
	}()
	fmt.Printf("jepsen: seed %d, output in %s\n", o.Seed, o.Out)
	if *stall {
		ok := runStallTest(o)
		if !ok {
			os.Exit(1)
		}
		return
	}
	var reports []*RunReport
	for i := 0; i < o.Runs; i++ {
		n := o.Hosts[i%len(o.Hosts)]
		r := runOnce(o, i+1, n, o.Seed+int64(i)*7919)
		r.Print(os.Stdout)
		reports = append(reports, r)
	}
	if !printSummary(os.Stdout, reports) {
		os.Exit(1)
	}
}

func register(c *Cluster, on bool) {
	live.mu.Lock()
	defer live.mu.Unlock()
	if on {
		live.clusters[c] = true
	} else {
		delete(live.clusters, c)
	}
}

// runOnce is one run: a cluster of n hosts, the workload and the nemesis
// for the run's duration, then heal, recovery and the check.
func runOnce(o Options, index, n int, seed int64) *RunReport {
	r := &RunReport{Index: index, Hosts: n, Seed: seed, Duration: o.Duration, FaultCounts: map[string]int{}}
	dir := filepath.Join(o.Out, fmt.Sprintf("run-%d-hosts-%d", index, n))
	os.MkdirAll(dir, 0o755)
	r.Dir = dir
	c, err := startCluster(o.Bin, dir, n)
	if err != nil {
		r.Errors = append(r.Errors, "start: "+err.Error())
		return r
	}
	register(c, true)
	defer func() { c.Close(); register(c, false) }()
	if l, _ := c.WaitLeader(30 * time.Second); l == 0 {
		r.Errors = append(r.Errors, "no leader elected within 30 s")
		return r
	}
	rng := rand.New(rand.NewSource(seed))
	h := &History{start: time.Now()}
	keys := make([]string, o.Keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	sessionBase := uint64(seed)<<16 | 1
	for i := 0; i < o.Clients; i++ {
		wg.Add(1)
		go newClient(i, sessionBase, c, h, rng.Int63(), keys).run(&stop, &wg)
	}
	nm := &Nemesis{c: c, h: h, rng: rand.New(rand.NewSource(rng.Int63())), kinds: o.Kinds, quiet: o.Quiet, hold: o.Hold, seen: map[string]int{}}
	nemDone := make(chan struct{})
	go nm.run(&stop, nemDone)
	time.Sleep(o.Duration)
	stop.Store(true)
	<-nemDone
	wg.Wait()
	r.End = h.now()
	r.Errors = append(r.Errors, nm.errs...)
	r.Faults = nm.faults
	for _, f := range nm.faults {
		r.FaultCounts[f.Kind]++
	}

	// Heal everything; the cluster must take a write within the bound.
	r.Errors = append(r.Errors, healAll(c)...)
	t0 := time.Now()
	for i := 0; ; i++ {
		nd := c.node(1 + i%n)
		a, err := nd.Ask(fmt.Sprintf("put %d recovery %d", Group, i), 2*time.Second)
		if err == nil && strings.HasPrefix(a, "ok") {
			r.Recovery = time.Since(t0)
			r.Recovered = true
			break
		}
		if time.Since(t0) > o.RecoveryBound {
			r.Errors = append(r.Errors, fmt.Sprintf("no write succeeded within %v of healing (last: %q %v)", o.RecoveryBound, a, err))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Ops = h.Ops()
	r.Check = checkHistory(r.Ops, o.CheckTimeout, filepath.Join(dir, "violation.html"))
	r.analyse()
	return r
}

func parseRange(s string) ([2]time.Duration, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		hi = lo
	}
	a, err := time.ParseDuration(lo)
	if err != nil {
		return [2]time.Duration{}, err
	}
	b, err := time.ParseDuration(hi)
	if err != nil || b < a {
		return [2]time.Duration{}, fmt.Errorf("bad range %q", s)
	}
	return [2]time.Duration{a, b}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
