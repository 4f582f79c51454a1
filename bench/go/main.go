// Command bench-go runs W1 and W2 of the polyraft benchmark (shared
// BENCH.md) with etcd raft's RawNode (go.etcd.io/raft/v3), driven by the
// same loop as the Rust harnesses, and prints one JSON line per run with
// the same keys, so that polyraft-bench can put it in the same table.
//
// Usage: bench-go --impl etcd|polyraft --w W1|W2 --voters V --n N --b B --p P
// --mode entry|batch --wire 0|1
//
// W3 (polyraft through cgo) plugs in as another implementation of the
// cluster interface below: see newCluster.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// spec is one run, as given on the command line.
type spec struct {
	impl         string
	w            string
	voters       uint64
	n            uint64
	b            uint64
	p            int
	batch        bool
	wire         bool
	compactEvery uint64
}

// out holds the counters of one run.
type out struct {
	applied, elapsedNs, msgs              uint64
	readiesLeader, readiesTotal           uint64
	storageCallsLeader, storageCallsTotal uint64
	allocsTotal                           uint64
}

// cluster is what the W1/W2 loops drive. etcdCluster implements it over
// etcd raft's RawNode; W3's cgo run implements it over libpolyraft (see
// newCluster).
type cluster interface {
	// propose hands the leader the round's entries: one Propose call each,
	// or one multi-entry MsgProp.
	propose(data [][]byte, batch bool)
	// run steps inboxes and handles Readies until no node has work.
	run()
	// leaderApplied counts entries with data the leader has applied.
	leaderApplied() uint64
	// counters returns the run's counters (elapsed is filled by the caller).
	counters() out
	// reset zeroes the counters after warm-up.
	reset()
}

func newCluster(s spec) cluster {
	switch s.impl {
	case "etcd":
		return newEtcdCluster(s.voters, s.wire, s.compactEvery)
	case "polyraft", "polyraft-pb":
		// W3: the same loop through the cgo package (polyraft_cgo.go).
		return newPolyraftCluster(s.voters, s.wire, s.impl == "polyraft-pb", s.compactEvery)
	default:
		log.Fatalf("unknown --impl %q", s.impl)
		return nil
	}
}

// countingStorage counts the calls raft makes on the storage.
type countingStorage struct {
	*raft.MemoryStorage
	calls *uint64
}

func (c countingStorage) InitialState() (*pb.HardState, *pb.ConfState, error) {
	*c.calls++
	return c.MemoryStorage.InitialState()
}
func (c countingStorage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	*c.calls++
	return c.MemoryStorage.Entries(lo, hi, maxSize)
}
func (c countingStorage) Term(i uint64) (uint64, error) {
	*c.calls++
	return c.MemoryStorage.Term(i)
}
func (c countingStorage) LastIndex() (uint64, error) {
	*c.calls++
	return c.MemoryStorage.LastIndex()
}
func (c countingStorage) FirstIndex() (uint64, error) {
	*c.calls++
	return c.MemoryStorage.FirstIndex()
}
func (c countingStorage) Snapshot() (*pb.Snapshot, error) {
	*c.calls++
	return c.MemoryStorage.Snapshot()
}

type envelope struct {
	m    *pb.Message
	wire []byte
}

type node struct {
	rn           *raft.RawNode
	store        *raft.MemoryStorage
	calls        uint64
	inbox        []envelope
	appliedIndex uint64
	compacted    uint64
	appliedData  uint64
	readies      uint64
}

type etcdCluster struct {
	nodes        []*node
	scratch      []envelope
	wire         bool
	compactEvery uint64
	msgs         uint64
}

func newEtcdCluster(voters uint64, wire bool, compactEvery uint64) *etcdCluster {
	ids := make([]uint64, 0, voters)
	for id := uint64(1); id <= voters; id++ {
		ids = append(ids, id)
	}
	logger := &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}
	c := &etcdCluster{wire: wire, compactEvery: compactEvery}
	for _, id := range ids {
		ms := raft.NewMemoryStorage()
		// The configuration comes from an initial snapshot (index 1, term 1).
		snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{
			ConfState: &pb.ConfState{Voters: ids}, Index: proto.Uint64(1), Term: proto.Uint64(1),
		}}
		if err := ms.ApplySnapshot(snap); err != nil {
			log.Fatal(err)
		}
		n := &node{store: ms}
		cfg := &raft.Config{
			ID:              id,
			ElectionTick:    10,
			HeartbeatTick:   1,
			Storage:         countingStorage{ms, &n.calls},
			MaxSizePerMsg:   1 << 20,
			MaxInflightMsgs: 256,
			Logger:          logger,
		}
		rn, err := raft.NewRawNode(cfg)
		if err != nil {
			log.Fatal(err)
		}
		n.rn = rn
		c.nodes = append(c.nodes, n)
	}
	if err := c.nodes[0].rn.Campaign(); err != nil {
		log.Fatal(err)
	}
	c.run()
	if c.nodes[0].rn.BasicStatus().RaftState != raft.StateLeader {
		log.Fatal("node 1 must win")
	}
	return c
}

func (c *etcdCluster) propose(data [][]byte, batch bool) {
	rn := c.nodes[0].rn
	if !batch {
		for _, d := range data {
			if err := rn.Propose(d); err != nil {
				log.Fatal(err)
			}
		}
		return
	}
	ents := make([]*pb.Entry, len(data))
	for i, d := range data {
		ents[i] = &pb.Entry{Data: d}
	}
	m := &pb.Message{Type: pb.MsgProp.Enum(), From: proto.Uint64(1), Entries: ents}
	if err := rn.Step(m); err != nil {
		log.Fatal(err)
	}
}

func (c *etcdCluster) run() {
	for {
		any := false
		for i, n := range c.nodes {
			n.inbox, c.scratch = c.scratch[:0], n.inbox
			for k, env := range c.scratch {
				any = true
				m := env.m
				if m == nil {
					m = &pb.Message{}
					if err := proto.Unmarshal(env.wire, m); err != nil {
						log.Fatal(err)
					}
				}
				_ = n.rn.Step(m)
				c.scratch[k] = envelope{}
			}
			if !n.rn.HasReady() {
				continue
			}
			any = true
			n.readies++
			rd := n.rn.Ready()
			if !raft.IsEmptyHardState(rd.HardState) && rd.HardState != nil {
				if err := n.store.SetHardState(rd.HardState); err != nil {
					log.Fatal(err)
				}
			}
			if len(rd.Entries) > 0 {
				if err := n.store.Append(rd.Entries); err != nil {
					log.Fatal(err)
				}
			}
			for _, m := range rd.Messages {
				c.msgs++
				to := c.nodes[m.GetTo()-1]
				if c.wire {
					b, err := proto.Marshal(m)
					if err != nil {
						log.Fatal(err)
					}
					to.inbox = append(to.inbox, envelope{wire: b})
				} else {
					to.inbox = append(to.inbox, envelope{m: m})
				}
			}
			for _, e := range rd.CommittedEntries {
				if len(e.Data) > 0 {
					n.appliedData++
				}
			}
			if k := len(rd.CommittedEntries); k > 0 {
				n.appliedIndex = rd.CommittedEntries[k-1].GetIndex()
			}
			n.rn.Advance(rd)
			if c.compactEvery > 0 && n.appliedIndex-n.compacted >= c.compactEvery {
				if err := n.store.Compact(n.appliedIndex); err != nil {
					log.Fatal(err)
				}
				n.compacted = n.appliedIndex
			}
			_ = i
		}
		if !any {
			return
		}
	}
}

func (c *etcdCluster) leaderApplied() uint64 { return c.nodes[0].appliedData }

func (c *etcdCluster) counters() out {
	o := out{applied: c.nodes[0].appliedData, msgs: c.msgs}
	o.readiesLeader = c.nodes[0].readies
	o.storageCallsLeader = c.nodes[0].calls
	for _, n := range c.nodes {
		o.readiesTotal += n.readies
		o.storageCallsTotal += n.calls
	}
	return o
}

func (c *etcdCluster) reset() {
	c.msgs = 0
	for _, n := range c.nodes {
		n.appliedData, n.readies, n.calls = 0, 0, 0
	}
}

func payload(p int) []byte {
	b := make([]byte, p)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

func peakRSSKB() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// runW1 proposes B entries per round and runs until the leader applied N.
// runW2 runs N cycles of one proposal each, after a warm-up.
func runSpec(s spec) out {
	c := newCluster(s)
	p := payload(s.p)
	var data [][]byte
	rounds := uint64(0)
	if s.w == "W1" {
		for i := uint64(0); i < s.b; i++ {
			data = append(data, p)
		}
	} else {
		data = [][]byte{p}
		for i := 0; i < 1000; i++ {
			c.propose(data, false)
			c.run()
		}
	}
	c.reset()
	a0 := mallocs()
	t0 := time.Now()
	for {
		if s.w == "W1" && c.leaderApplied() >= s.n {
			break
		}
		if s.w == "W2" && rounds == s.n {
			break
		}
		c.propose(data, s.batch && s.w == "W1")
		c.run()
		rounds++
	}
	el := time.Since(t0)
	o := c.counters()
	o.elapsedNs = uint64(el.Nanoseconds())
	o.allocsTotal = mallocs() - a0
	return o
}

func main() {
	var s spec
	var mode string
	var wire int
	flag.StringVar(&s.impl, "impl", "etcd", "implementation: etcd, or polyraft / polyraft-pb (through cgo)")
	flag.StringVar(&s.w, "w", "W1", "workload: W1 or W2")
	flag.Uint64Var(&s.voters, "voters", 3, "voters")
	flag.Uint64Var(&s.n, "n", 1000000, "entries (W1) or cycles (W2)")
	flag.Uint64Var(&s.b, "b", 64, "entries per round (W1)")
	flag.IntVar(&s.p, "p", 128, "payload bytes")
	flag.StringVar(&mode, "mode", "entry", "entry or batch")
	flag.IntVar(&wire, "wire", 0, "1: messages encoded and decoded")
	flag.Uint64Var(&s.compactEvery, "compact", 65536, "compact storage every so many entries")
	flag.Parse()
	s.batch = mode == "batch"
	s.wire = wire == 1
	if s.w != "W1" && s.w != "W2" {
		log.Fatalf("unknown --w %q", s.w)
	}
	o := runSpec(s)
	b := uint64(1)
	if s.w == "W1" {
		b = s.b
	}
	res := map[string]any{
		"impl": s.impl, "w": s.w, "voters": s.voters, "n": s.n, "b": b, "p": s.p,
		"mode": mode, "wire": wire,
		"applied": o.applied, "elapsed_ns": o.elapsedNs, "msgs": o.msgs,
		"readies_leader": o.readiesLeader, "readies_total": o.readiesTotal,
		"storage_calls_leader": o.storageCallsLeader, "storage_calls_total": o.storageCallsTotal,
		"allocs_total": o.allocsTotal,
		"rss_kb": peakRSSKB(),
	}
	enc, _ := json.Marshal(res)
	fmt.Println(string(enc))
}
