package polyraft

// Differential test: one random sequence of operations (ticks, proposals,
// campaigns, ForgetLeader, message deliveries with drops, duplicates and
// reordering, ReadIndex, leadership transfers, ReportUnreachable, log
// compactions with snapshots, configuration changes (demote, promote,
// remove, joint; v1 and v2 encodings, zero-valued fields set or unset),
// snapshots sent by stale nodes, and, with async storage writes, the local append and
// apply work) is fed to a cluster of go.etcd.io/raft/v3 RawNodes and to a
// cluster of polyraft RawNodes, 3 to 5 nodes, under a configuration drawn
// from the seed (size and in-flight limits, CheckQuorum, PreVote, lease
// reads, proposal forwarding, StepDownOnRemoval, async storage writes).
// After every operation both clusters must have answered the same (same
// errors; same Readys: messages, entries, committed entries, hard and soft
// state, read states, snapshots, MustSync; same configurations applied)
// and be in the same state (BasicStatus of every node).
//
// Determinism: etcd draws randomized election timeouts from crypto/rand,
// which cannot be replayed. So elections are never left to timers:
// ElectionTick is 1<<30 and a run makes at most a few thousand ticks, so no
// node's election timer (randomized in [ElectionTick, 2*ElectionTick)) can
// fire, and neither can the CheckQuorum check (also every ElectionTick).
// Heartbeats (HeartbeatTick of 1-3) do fire. Elections happen only through
// the Campaign operation (and MsgTimeoutNow of leadership transfers), and
// ForgetLeader lets pre-votes through when PreVote+CheckQuorum keep a
// follower in its leader's lease.
//
// Seeds: POLYRAFT_DIFF_SEEDS (default 500) starting at POLYRAFT_DIFF_START
// (default 1), run on all cores; -short runs 100. A failure prints the seed, the step, the
// last operations and both sides' answers; replay one seed with
// POLYRAFT_DIFF_START=<seed> POLYRAFT_DIFF_SEEDS=1 go test -run Differential -v.

import (
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	etcd "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func envUint(name string, def uint64) uint64 {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err == nil {
			return n
		}
	}
	return def
}

func TestDifferential(t *testing.T) {
	seeds := envUint("POLYRAFT_DIFF_SEEDS", 500)
	if testing.Short() && os.Getenv("POLYRAFT_DIFF_SEEDS") == "" {
		seeds = 100
	}
	start := envUint("POLYRAFT_DIFF_START", 1)
	if os.Getenv("POLYRAFT_DIFF_LOG") != "" {
		// Replaying: both implementations log to standard error.
		l := &etcd.DefaultLogger{Logger: log.New(os.Stderr, "etcd ", 0)}
		l.EnableDebug()
		etcdLogger = l
		defer func() { etcdLogger = etcdDiscard }()
	}
	// Seeds are independent: run them on every core, report in seed order.
	results := make([]seedResult, seeds)
	workers := runtime.GOMAXPROCS(0)
	if os.Getenv("POLYRAFT_DIFF_LOG") != "" {
		workers = 1
	}
	next := make(chan uint64)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				results[k] = runSeed(t, start+k)
			}
		}()
	}
	for k := uint64(0); k < seeds; k++ {
		next <- k
	}
	close(next)
	wg.Wait()

	failed := 0
	var ops, msgs, ccs, local, snaps int
	for k, r := range results {
		seed := start + uint64(k)
		ops, msgs, ccs, local, snaps = ops+r.ops, msgs+r.msgs, ccs+r.ccs, local+r.local, snaps+r.snaps
		if r.err != nil {
			failed++
			if failed <= int(envUint("POLYRAFT_DIFF_MAXFAIL", 5)) {
				t.Errorf("seed %d: %v", seed, r.err)
			}
		}
	}
	t.Logf("differential: %d seeds from %d: %d agreed, %d failed; %d operations, %d deliveries, %d configuration changes applied, %d snapshots sent by stale nodes, %d async storage writes handled",
		seeds, start, int(seeds)-failed, failed, ops, msgs, ccs, snaps, local)
}

type seedResult struct {
	err                          error
	ops, msgs, ccs, local, snaps int
}

// runSeed runs one seed; any difference from etcd fails it.
func runSeed(t *testing.T, seed uint64) seedResult {
	d := newDiff(t, seed)
	r := seedResult{err: d.run(), ops: d.step, msgs: d.delivered, ccs: d.ccs, local: d.local, snaps: d.staleSnaps}
	d.close()
	return r
}

func firstLines(err error, n int) string {
	lines := strings.SplitN(err.Error(), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " / ")
}

// diffSide is one implementation's cluster.
type diffSide struct {
	name  string
	nodes []rawNoder
	sts   []memStorage
}

type diffMsg struct {
	to, from uint64
	typ      pb.MessageType
	etcd     []byte // etcd's message, marshalled
	poly     []byte // polyraft's message, marshalled
}

type diff struct {
	t          *testing.T
	seed       uint64
	rng        *rand.Rand
	n          int
	cfg        Config
	etcd       diffSide
	poly       diffSide
	net        []diffMsg
	step       int
	delivered  int
	applied    []uint64           // per node (same on both sides)
	cs         []*pb.ConfState    // per node: configuration applied so far
	removed    map[uint64]bool    // ids whose removal was proposed: never touched again
	appendQ    [][][2]*pb.Message // per node: MsgStorageAppend (etcd, polyraft) to handle
	applyQ     [][][2]*pb.Message // per node: MsgStorageApply (etcd, polyraft) to handle
	local      int                // MsgStorageAppend/Apply handled (async storage writes)
	staleSnaps int                // snapshots sent by a node behind the receiver's term or log
	ccs        int                // configuration changes applied (by node 1..n, counted once per entry)
	log        []string           // recent operations
	closers    []func()
}

// newDiff draws a cluster and its configuration from seed.
func newDiff(t *testing.T, seed uint64) *diff {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	d := &diff{t: t, seed: seed, rng: rng, n: 3 + rng.IntN(3)}
	// Tight limits (a few entries, often a single one) page appends and
	// committed entries at every entry-size difference.
	sizes := []uint64{0, 1, 8, 16, 24, 32, 64, 1024, 1 << 62}
	d.cfg = Config{
		ElectionTick:              1 << 30,
		HeartbeatTick:             1 + rng.IntN(3),
		MaxSizePerMsg:             sizes[rng.IntN(len(sizes))],
		MaxInflightMsgs:           1 + rng.IntN(8),
		CheckQuorum:               rng.IntN(2) == 0,
		PreVote:                   rng.IntN(2) == 0,
		DisableProposalForwarding: rng.IntN(5) == 0,
		Logger:                    DiscardLogger,
	}
	if os.Getenv("POLYRAFT_DIFF_LOG") != "" {
		d.cfg.Logger = lineLogger(func(l, line string) { fmt.Fprintf(os.Stderr, "poly %s %s\n", l, line) })
	}
	// etcd panics ("applying entry size ... not positive") when the
	// committed-size limit is 0, which MaxSizePerMsg 0 implies: set it.
	if d.cfg.MaxSizePerMsg == 0 || rng.IntN(3) == 0 {
		if rng.IntN(2) == 0 {
			d.cfg.MaxCommittedSizePerReady = uint64(1 + rng.IntN(32))
		} else {
			d.cfg.MaxCommittedSizePerReady = uint64(1 + rng.IntN(256))
		}
	}
	if rng.IntN(3) == 0 {
		d.cfg.MaxUncommittedEntriesSize = uint64(64 + rng.IntN(512))
	}
	if rng.IntN(3) == 0 && d.cfg.MaxSizePerMsg < 1<<20 {
		d.cfg.MaxInflightBytes = d.cfg.MaxSizePerMsg + uint64(rng.IntN(2048))
	}
	if d.cfg.CheckQuorum && rng.IntN(2) == 0 {
		d.cfg.ReadOnlyOption = ReadOnlyLeaseBased
	}
	d.cfg.StepDownOnRemoval = rng.IntN(2) == 0
	d.cfg.AsyncStorageWrites = rng.IntN(4) == 0
	d.etcd.name, d.poly.name = "etcd", "polyraft"
	d.applied = make([]uint64, d.n)
	// Both clusters start from the same storage: a snapshot at 1/1 with
	// all voters, hard state term 1 commit 1. Not Bootstrap: etcd v3.7 and
	// polyraft encode the bootstrap ConfChange entries with different
	// bytes (see TestKnownDivergenceBootstrapEncoding), and since entry
	// sizes drive the size limits that alone would make most seeds diverge.
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(1)), Term: new(uint64(1)), ConfState: d.bootConf()}}
	hs := &pb.HardState{Term: new(uint64(1)), Commit: new(uint64(1))}
	for i := 0; i < d.n; i++ {
		c := d.cfg
		c.ID = uint64(i + 1)
		est := etcd.NewMemoryStorage()
		if err := est.ApplySnapshot(snap); err != nil {
			panic(err)
		}
		_ = est.SetHardState(hs)
		ern, err := newEtcdRaw(&c, est)
		if err != nil {
			panic(fmt.Sprintf("seed %d: etcd node: %v", seed, err))
		}
		d.etcd.nodes = append(d.etcd.nodes, ern)
		d.etcd.sts = append(d.etcd.sts, est)

		pst, err := TryNewMemoryStorage()
		if err != nil {
			panic(err)
		}
		if err := pst.ApplySnapshot(snap); err != nil {
			panic(err)
		}
		_ = pst.SetHardState(hs)
		c.Storage = pst
		prn, err := NewRawNode(&c)
		if err != nil {
			panic(fmt.Sprintf("seed %d: polyraft node: %v", seed, err))
		}
		d.poly.nodes = append(d.poly.nodes, prn)
		d.poly.sts = append(d.poly.sts, pst)
		d.closers = append(d.closers, func() { prn.Close() })
	}
	d.cs = make([]*pb.ConfState, d.n)
	for i := range d.applied {
		d.applied[i] = 1
		d.cs[i] = d.bootConf()
	}
	d.removed = map[uint64]bool{}
	d.appendQ = make([][][2]*pb.Message, d.n)
	d.applyQ = make([][][2]*pb.Message, d.n)
	return d
}

func (d *diff) close() {
	for _, f := range d.closers {
		f()
	}
}

func (d *diff) logf(format string, args ...any) {
	d.log = append(d.log, fmt.Sprintf("%d: ", d.step)+fmt.Sprintf(format, args...))
	if os.Getenv("POLYRAFT_DIFF_LOG") != "" {
		fmt.Fprintln(os.Stderr, "op", d.log[len(d.log)-1])
	}
	if len(d.log) > 40 {
		d.log = d.log[len(d.log)-40:]
	}
}

func (d *diff) fail(format string, args ...any) error {
	return fmt.Errorf("step %d (%d nodes, config %+v): %s\nlast operations:\n  %s", d.step, d.n,
		configText(&d.cfg), fmt.Sprintf(format, args...), strings.Join(d.log, "\n  "))
}

func configText(c *Config) string {
	return fmt.Sprintf("async=%v committedSize=%d heartbeat=%d maxSize=%d inflight=%d inflightBytes=%d uncommitted=%d checkQuorum=%v preVote=%v readOnly=%d noForward=%v",
		c.AsyncStorageWrites, c.MaxCommittedSizePerReady, c.HeartbeatTick, c.MaxSizePerMsg, c.MaxInflightMsgs, c.MaxInflightBytes, c.MaxUncommittedEntriesSize,
		c.CheckQuorum, c.PreVote, c.ReadOnlyOption, c.DisableProposalForwarding)
}

// errClass puts etcd's and polyraft's errors in one vocabulary.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrProposalDropped) || errors.Is(err, etcd.ErrProposalDropped):
		return "ErrProposalDropped"
	case errors.Is(err, ErrStepLocalMsg) || errors.Is(err, etcd.ErrStepLocalMsg):
		return "ErrStepLocalMsg"
	case errors.Is(err, ErrStepPeerNotFound) || errors.Is(err, etcd.ErrStepPeerNotFound):
		return "ErrStepPeerNotFound"
	case errors.Is(err, ErrCompacted) || errors.Is(err, etcd.ErrCompacted):
		return "ErrCompacted"
	case errors.Is(err, ErrSnapOutOfDate) || errors.Is(err, etcd.ErrSnapOutOfDate):
		return "ErrSnapOutOfDate"
	case errors.Is(err, ErrUnavailable) || errors.Is(err, etcd.ErrUnavailable):
		return "ErrUnavailable"
	}
	return "other: " + err.Error()
}

// both runs f on the two sides and requires the same outcome.
func (d *diff) both(what string, f func(s *diffSide) error) error {
	ee := errClass(f(&d.etcd))
	pe := errClass(f(&d.poly))
	if ee != pe {
		return d.fail("%s: etcd answered %s, polyraft %s", what, ee, pe)
	}
	return nil
}

const diffSteps = 400

func (d *diff) run() error {
	// Take the bootstrap Readys first.
	for i := 0; i < d.n; i++ {
		if err := d.ready(i); err != nil {
			return err
		}
	}
	for d.step = 1; d.step <= diffSteps; d.step++ {
		if err := d.op(); err != nil {
			return err
		}
		if err := d.compareStatus(); err != nil {
			return err
		}
	}
	// Drain: deliver everything in order, taking Readys, so both sides end
	// in a quiet state that is compared too.
	for round := 0; round < 200 && (round == 0 || len(d.net) > 0 || d.localPending()); round++ {
		for i := 0; i < d.n; i++ {
			if err := d.ready(i); err != nil {
				return err
			}
			for len(d.appendQ[i]) > 0 || len(d.applyQ[i]) > 0 {
				if err := d.localWork(i, false); err != nil {
					return err
				}
				if err := d.localWork(i, true); err != nil {
					return err
				}
			}
		}
		for len(d.net) > 0 {
			if err := d.deliver(0, false); err != nil {
				return err
			}
		}
		for i := 0; i < d.n; i++ {
			if err := d.ready(i); err != nil {
				return err
			}
		}
	}
	return d.compareStatus()
}

func (d *diff) op() error {
	r := d.rng.IntN(100)
	i := d.rng.IntN(d.n)
	id := uint64(i + 1)
	switch {
	case r < 30 && len(d.net) > 0:
		k := d.rng.IntN(len(d.net))
		return d.deliver(k, d.rng.IntN(20) == 0)
	case r < 36 && len(d.net) > 0:
		k := d.rng.IntN(len(d.net))
		m := d.net[k]
		d.logf("drop %d->%d %v", m.from, m.to, m.typ)
		d.net = append(d.net[:k], d.net[k+1:]...)
		if m.typ == pb.MsgSnap {
			return d.both("report snapshot failure", func(s *diffSide) error {
				s.nodes[m.from-1].ReportSnapshot(m.to, SnapshotFailure)
				return nil
			})
		}
		return nil
	case r < 50:
		d.logf("tick %d", id)
		return d.both("tick", func(s *diffSide) error { s.nodes[i].Tick(); return nil })
	case r < 52:
		d.logf("tick all")
		return d.both("tick", func(s *diffSide) error {
			for _, n := range s.nodes {
				n.Tick()
			}
			return nil
		})
	case r < 65:
		// An empty proposal is nil: etcd v3.7 sizes a present-but-empty
		// Data as 2 bytes, which polyraft (no field presence) cannot see.
		var data []byte
		if n := d.rng.IntN(24); n > 0 {
			data = make([]byte, n)
			for j := range data {
				data[j] = byte(d.rng.IntN(256))
			}
		}
		d.logf("propose at %d (%d bytes)", id, len(data))
		return d.both("propose", func(s *diffSide) error { return s.nodes[i].Propose(data) })
	case r < 69:
		d.logf("campaign %d", id)
		return d.both("campaign", func(s *diffSide) error { return s.nodes[i].Campaign() })
	case r < 71:
		d.logf("forget leader at %d", id)
		return d.both("forget leader", func(s *diffSide) error { return s.nodes[i].ForgetLeader() })
	case r < 74:
		rctx := []byte(fmt.Sprintf("read-%d", d.step))
		d.logf("read index at %d", id)
		// etcd's RawNode.ReadIndex returns no error: compare effects only.
		return d.both("read index", func(s *diffSide) error { _ = s.nodes[i].TryReadIndex(rctx); return nil })
	case r < 76:
		to := uint64(d.rng.IntN(d.n) + 1)
		d.logf("transfer leader at %d to %d", id, to)
		return d.both("transfer leader", func(s *diffSide) error { s.nodes[i].TransferLeader(to); return nil })
	case r < 77:
		to := uint64(d.rng.IntN(d.n) + 1)
		d.logf("report unreachable at %d: %d", id, to)
		return d.both("report unreachable", func(s *diffSide) error { s.nodes[i].ReportUnreachable(to); return nil })
	case r < 79:
		return d.compact(i)
	case r < 84:
		return d.confChange()
	case r < 85:
		return d.staleSnapshot(i)
	case r < 90 && d.cfg.AsyncStorageWrites:
		return d.localWork(i, false)
	case r < 95 && d.cfg.AsyncStorageWrites:
		return d.localWork(i, true)
	default:
		return d.ready(i)
	}
}

// deliver steps message k into its receiver on both sides (and keeps it in
// flight when dup is set).
func (d *diff) deliver(k int, dup bool) error {
	m := d.net[k]
	if !dup {
		d.net = append(d.net[:k], d.net[k+1:]...)
	}
	if m.typ == pb.MsgTransferLeader && d.etcd.nodes[m.to-1].BasicStatus().RaftState != StateLeader {
		// A forwarded transfer request reaching a node that is no longer
		// leader would be forwarded again with its term set, and etcd
		// panics on that ("term should not be set when sending
		// MsgTransferLeader"): such a delivery is dropped instead.
		d.logf("drop stale %d->%d %v", m.from, m.to, m.typ)
		return nil
	}
	d.logf("deliver %d->%d %v (dup %v)", m.from, m.to, m.typ, dup)
	d.delivered++
	to := int(m.to - 1)
	var em pb.Message
	if err := proto.Unmarshal(m.etcd, &em); err != nil {
		return d.fail("unmarshal etcd message: %v", err)
	}
	ee := errClass(d.etcd.nodes[to].Step(&em))
	pe := errClass(d.poly.nodes[to].(*RawNode).StepBytes(m.poly))
	if ee != pe {
		return d.fail("step %d->%d %v: etcd answered %s, polyraft %s", m.from, m.to, m.typ, ee, pe)
	}
	if m.typ == pb.MsgSnap && !dup {
		return d.both("report snapshot", func(s *diffSide) error {
			s.nodes[m.from-1].ReportSnapshot(m.to, SnapshotFinish)
			return nil
		})
	}
	return nil
}

// compact snapshots node i's storage at its applied index (same data on
// both sides) and compacts the log up to there.
func (d *diff) compact(i int) error {
	idx := d.applied[i]
	fi, _ := d.etcd.sts[i].FirstIndex()
	if idx < fi {
		return nil
	}
	d.logf("compact %d at %d", i+1, idx)
	data := []byte(fmt.Sprintf("state of %d at %d", i+1, idx))
	return d.both("compact", func(s *diffSide) error {
		_, cs, err := s.sts[i].InitialState()
		if err != nil {
			return err
		}
		// The configuration at idx: the one applied so far.
		_ = cs
		cs = d.cs[i]
		if _, err := s.sts[i].CreateSnapshot(idx, cs, data); err != nil {
			return err
		}
		return s.sts[i].Compact(idx)
	})
}

// confChange proposes a random configuration change at the leader (if
// there is one): demote a voter, promote a learner, remove a node, or a
// joint change doing two of these. Removed ids are never proposed again
// (polyraft deliberately differs from etcd when a removed peer is re-added
// within one term, see the README). At least two voters remain.
func (d *diff) confChange() error {
	lead := -1
	for i, n := range d.poly.nodes {
		if n.BasicStatus().RaftState == StateLeader {
			lead = i
		}
	}
	if lead < 0 {
		return nil
	}
	cs := d.cs[lead]
	var voters, learners []uint64
	for _, v := range cs.GetVoters() {
		if !d.removed[v] {
			voters = append(voters, v)
		}
	}
	for _, l := range cs.GetLearners() {
		if !d.removed[l] {
			learners = append(learners, l)
		}
	}
	if len(cs.GetVotersOutgoing()) > 0 {
		return nil // joint: leaves by itself (auto leave)
	}
	pick := func(ids []uint64) uint64 { return ids[d.rng.IntN(len(ids))] }
	var changes []*pb.ConfChangeSingle
	// Encodings vary: a zero-valued field (ConfChangeAddNode, the auto
	// transition) is set explicitly or left unset, so that entry sizes
	// with and without explicit presence are both exercised.
	explicitZero := d.rng.IntN(2) == 0
	add := func(t pb.ConfChangeType, id uint64) {
		ch := &pb.ConfChangeSingle{NodeId: new(id)}
		if t != pb.ConfChangeAddNode || explicitZero {
			ch.Type = t.Enum()
		}
		changes = append(changes, ch)
	}
	switch k := d.rng.IntN(4); {
	case k == 0 && len(voters) > 2:
		add(pb.ConfChangeAddLearnerNode, pick(voters))
	case k == 1 && len(learners) > 0:
		add(pb.ConfChangeAddNode, pick(learners))
	case k == 2 && (len(voters) > 2 || len(learners) > 0):
		var id uint64
		if len(voters) > 2 && (len(learners) == 0 || d.rng.IntN(2) == 0) {
			id = pick(voters)
		} else {
			id = pick(learners)
		}
		d.removed[id] = true
		add(pb.ConfChangeRemoveNode, id)
	case k == 3 && len(learners) > 0 && len(voters) > 2:
		// Joint: promote a learner and demote a voter at once.
		add(pb.ConfChangeAddNode, pick(learners))
		add(pb.ConfChangeAddLearnerNode, pick(voters))
	default:
		return nil
	}
	var cc pb.ConfChangeI
	if len(changes) == 1 && d.rng.IntN(2) == 0 {
		cc = &pb.ConfChange{Type: changes[0].Type, NodeId: changes[0].NodeId}
	} else {
		v2 := &pb.ConfChangeV2{Changes: changes}
		if len(changes) == 1 && d.rng.IntN(2) == 0 {
			v2.Transition = pb.ConfChangeTransitionAuto.Enum()
		}
		cc = v2
	}
	d.logf("propose conf change at %d: %v", lead+1, cc)
	return d.both("propose conf change", func(s *diffSide) error { return s.nodes[lead].ProposeConfChange(cc) })
}

// staleSnapshot sends node i's storage snapshot, at node i's term, to
// another node, as etcd's harness does with send-snapshot: from a node at a
// lower term than the receiver's (a stale or restarted leader), or from the
// leader with a snapshot that may be older than the receiver's log. The
// same message goes to both sides.
func (d *diff) staleSnapshot(i int) error {
	snap, err := d.etcd.sts[i].Snapshot()
	if err != nil || IsEmptySnap(snap) {
		return nil
	}
	to := uint64(d.rng.IntN(d.n) + 1)
	if to == uint64(i+1) {
		return nil
	}
	st, rst := d.etcd.nodes[i].BasicStatus(), d.etcd.nodes[to-1].BasicStatus()
	term := st.GetTerm()
	if term >= rst.GetTerm() && st.RaftState != StateLeader {
		// A non-leader at the receiver's term or above would pose as its
		// leader (a forged leadership, not a stale snapshot).
		return nil
	}
	m := &pb.Message{Type: pb.MsgSnap.Enum(), From: new(uint64(i + 1)), To: new(to), Term: new(term), Snapshot: snap}
	b, err := proto.Marshal(m)
	if err != nil {
		return d.fail("marshal snapshot: %v", err)
	}
	d.logf("snapshot %d/%d from %d (term %d) to %d", snap.GetMetadata().GetTerm(), snap.GetMetadata().GetIndex(), i+1, term, to)
	d.staleSnaps++
	d.net = append(d.net, diffMsg{to: to, from: uint64(i + 1), typ: pb.MsgSnap, etcd: b, poly: b})
	return nil
}

func confText(cs *pb.ConfState) string {
	return fmt.Sprintf("voters=%v learners=%v out=%v next=%v auto=%v", cs.GetVoters(), cs.GetLearners(),
		cs.GetVotersOutgoing(), cs.GetLearnersNext(), cs.GetAutoLeave())
}

func (d *diff) bootConf() *pb.ConfState {
	cs := &pb.ConfState{}
	for i := 1; i <= d.n; i++ {
		cs.Voters = append(cs.Voters, uint64(i))
	}
	return cs
}

// ready takes, compares, persists and acknowledges node i's Ready on both
// sides. With async storage writes, the Ready's MsgStorageAppend and
// MsgStorageApply go to the node's local queues instead (see localWork).
func (d *diff) ready(i int) error {
	eh, ph := d.etcd.nodes[i].HasReady(), d.poly.nodes[i].HasReady()
	if eh != ph {
		return d.fail("node %d HasReady: etcd %v, polyraft %v", i+1, eh, ph)
	}
	if !eh {
		return nil
	}
	d.logf("ready %d", i+1)
	erd, err := d.etcd.nodes[i].TryReady()
	if err != nil {
		return d.fail("etcd ready: %v", err)
	}
	prd, err := d.poly.nodes[i].TryReady()
	if err != nil {
		return d.fail("polyraft ready: %v", err)
	}
	if os.Getenv("POLYRAFT_DIFF_LOG") != "" {
		fmt.Fprintf(os.Stderr, "ready of %d:\n%s\n", i+1, readyText(&erd))
	}
	if a, b := readyText(&erd), readyText(&prd); a != b {
		return d.fail("node %d Ready differs:\n--- etcd\n%s\n--- polyraft\n%s", i+1, a, b)
	}
	// Messages, paired by position (their texts are equal).
	for k := range erd.Messages {
		em, pm := erd.Messages[k], prd.Messages[k]
		switch em.GetTo() {
		case LocalAppendThread:
			d.appendQ[i] = append(d.appendQ[i], [2]*pb.Message{em, pm})
		case LocalApplyThread:
			d.applyQ[i] = append(d.applyQ[i], [2]*pb.Message{em, pm})
		default:
			if err := d.send(em, pm); err != nil {
				return err
			}
		}
	}
	if d.cfg.AsyncStorageWrites {
		return nil
	}
	for _, side := range []struct {
		s  *diffSide
		rd *Ready
	}{{&d.etcd, &erd}, {&d.poly, &prd}} {
		st, rd := side.s.sts[i], side.rd
		if !IsEmptySnap(rd.Snapshot) {
			if err := st.ApplySnapshot(rd.Snapshot); err != nil {
				return d.fail("%s: apply snapshot: %v", side.s.name, err)
			}
		}
		if err := st.Append(rd.Entries); err != nil {
			return d.fail("%s: append: %v", side.s.name, err)
		}
		if rd.HardState != nil {
			if err := st.SetHardState(rd.HardState); err != nil {
				return d.fail("%s: set hard state: %v", side.s.name, err)
			}
		}
	}
	if !IsEmptySnap(prd.Snapshot) {
		d.applied[i] = prd.Snapshot.GetMetadata().GetIndex()
		d.cs[i] = prd.Snapshot.GetMetadata().GetConfState()
	}
	if err := d.apply(i, erd.CommittedEntries, prd.CommittedEntries); err != nil {
		return err
	}
	for _, side := range []struct {
		s  *diffSide
		rd *Ready
	}{{&d.etcd, &erd}, {&d.poly, &prd}} {
		if err := side.s.nodes[i].TryAdvance(*side.rd); err != nil {
			return d.fail("%s: advance: %v", side.s.name, err)
		}
	}
	return nil
}

// send puts a message pair on the network.
func (d *diff) send(em, pm *pb.Message) error {
	eb, err := proto.Marshal(em)
	if err != nil {
		return d.fail("etcd: marshal: %v", err)
	}
	pb2, err := proto.Marshal(pm)
	if err != nil {
		return d.fail("polyraft: marshal: %v", err)
	}
	d.net = append(d.net, diffMsg{to: em.GetTo(), from: em.GetFrom(), typ: em.GetType(), etcd: eb, poly: pb2})
	return nil
}

// apply applies committed entries on both sides (the entry lists are
// known equal), comparing the configurations conf changes produce.
func (d *diff) apply(i int, eents, pents []*pb.Entry) error {
	for k, e := range eents {
		var cc pb.ConfChangeI
		switch e.GetType() {
		case pb.EntryConfChange:
			var v1 pb.ConfChange
			if err := proto.Unmarshal(e.GetData(), &v1); err != nil {
				return d.fail("conf change: %v", err)
			}
			cc = &v1
		case pb.EntryConfChangeV2:
			var v2 pb.ConfChangeV2
			if err := proto.Unmarshal(e.GetData(), &v2); err != nil {
				return d.fail("conf change: %v", err)
			}
			cc = &v2
		}
		if cc != nil {
			ecs, err := d.etcd.nodes[i].TryApplyConfChange(cc)
			if err != nil {
				return d.fail("etcd: apply conf change: %v", err)
			}
			pcs, err := d.poly.nodes[i].TryApplyConfChange(cc)
			if err != nil {
				return d.fail("polyraft: apply conf change: %v", err)
			}
			if a, b := confText(ecs), confText(pcs); a != b {
				return d.fail("node %d applying %v: etcd configuration %s, polyraft %s", i+1, cc, a, b)
			}
			d.cs[i] = ecs
			if i == 0 {
				d.ccs++
			}
		}
		d.applied[i] = pents[k].GetIndex()
	}
	return nil
}

// localWork handles the oldest MsgStorageAppend (apply false) or
// MsgStorageApply (apply true) of node i, on both sides: persist or apply,
// then deliver its responses (to the node itself, or to peers).
func (d *diff) localWork(i int, apply bool) error {
	q := &d.appendQ[i]
	if apply {
		q = &d.applyQ[i]
	}
	if len(*q) == 0 {
		return nil
	}
	pair := (*q)[0]
	*q = (*q)[1:]
	em, pm := pair[0], pair[1]
	d.local++
	d.logf("local %s work of %d", map[bool]string{false: "append", true: "apply"}[apply], i+1)
	if apply {
		if err := d.apply(i, em.GetEntries(), pm.GetEntries()); err != nil {
			return err
		}
	} else {
		for _, side := range []struct {
			s *diffSide
			m *pb.Message
		}{{&d.etcd, em}, {&d.poly, pm}} {
			st, m := side.s.sts[i], side.m
			if !IsEmptySnap(m.GetSnapshot()) {
				if err := st.ApplySnapshot(m.GetSnapshot()); err != nil {
					return d.fail("%s: apply snapshot: %v", side.s.name, err)
				}
			}
			if err := st.Append(m.GetEntries()); err != nil {
				return d.fail("%s: append: %v", side.s.name, err)
			}
			if m.GetTerm() != 0 || m.GetVote() != 0 || m.GetCommit() != 0 {
				hs := &pb.HardState{Term: new(m.GetTerm()), Vote: new(m.GetVote()), Commit: new(m.GetCommit())}
				if err := st.SetHardState(hs); err != nil {
					return d.fail("%s: set hard state: %v", side.s.name, err)
				}
			}
		}
		if !IsEmptySnap(pm.GetSnapshot()) {
			d.applied[i] = pm.GetSnapshot().GetMetadata().GetIndex()
			d.cs[i] = pm.GetSnapshot().GetMetadata().GetConfState()
		}
	}
	for k, er := range em.GetResponses() {
		pr := pm.GetResponses()[k]
		if er.GetTo() == uint64(i+1) {
			ee := errClass(d.etcd.nodes[i].Step(er))
			// The node's own responses go through Step: StepBytes is for
			// bytes from the network and refuses local types.
			pe := errClass(d.poly.nodes[i].Step(pr))
			if ee != pe {
				return d.fail("node %d stepping its %v: etcd answered %s, polyraft %s", i+1, er.GetType(), ee, pe)
			}
		} else if err := d.send(er, pr); err != nil {
			return err
		}
	}
	return nil
}

func (d *diff) localPending() bool {
	for i := 0; i < d.n; i++ {
		if len(d.appendQ[i]) > 0 || len(d.applyQ[i]) > 0 {
			return true
		}
	}
	return false
}

func (d *diff) compareStatus() error {
	for i := 0; i < d.n; i++ {
		a, b := statusText(d.etcd.nodes[i].BasicStatus()), statusText(d.poly.nodes[i].BasicStatus())
		if a != b {
			return d.fail("node %d status: etcd %s, polyraft %s", i+1, a, b)
		}
	}
	return nil
}

func statusText(s BasicStatus) string {
	return fmt.Sprintf("id=%d term=%d vote=%d commit=%d lead=%d state=%v applied=%d transferee=%d",
		s.ID, s.GetTerm(), s.GetVote(), s.GetCommit(), s.Lead, s.RaftState, s.Applied, s.LeadTransferee)
}

// Canonical texts: every field through its getter, so a field set to its
// zero value and an absent field read the same (etcd v3.7 sets zeros
// explicitly where polyraft's encoder omits them).

func entryText(e *pb.Entry) string {
	return fmt.Sprintf("%d/%d %v %x", e.GetTerm(), e.GetIndex(), e.GetType(), canonicalData(e))
}

func snapText(s *pb.Snapshot) string {
	if s == nil {
		return "nil"
	}
	md := s.GetMetadata()
	cs := md.GetConfState()
	return fmt.Sprintf("{%d/%d voters=%v learners=%v out=%v next=%v auto=%v data=%x}", md.GetTerm(), md.GetIndex(),
		cs.GetVoters(), cs.GetLearners(), cs.GetVotersOutgoing(), cs.GetLearnersNext(), cs.GetAutoLeave(), s.GetData())
}

func msgText(m *pb.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d->%d %v term=%d logTerm=%d index=%d commit=%d vote=%d reject=%v hint=%d ctx=%x",
		m.GetFrom(), m.GetTo(), m.GetType(), m.GetTerm(), m.GetLogTerm(), m.GetIndex(), m.GetCommit(), m.GetVote(),
		m.GetReject(), m.GetRejectHint(), m.GetContext())
	if len(m.GetEntries()) > 0 {
		b.WriteString(" entries=[")
		for i, e := range m.GetEntries() {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(entryText(e))
		}
		b.WriteString("]")
	}
	// An empty snapshot and no snapshot are the same (etcd's comment on
	// Message.snapshot).
	if !IsEmptySnap(m.GetSnapshot()) || len(m.GetSnapshot().GetData()) > 0 {
		b.WriteString(" snapshot=" + snapText(m.GetSnapshot()))
	}
	for _, r := range m.GetResponses() {
		b.WriteString(" response=(" + msgText(r) + ")")
	}
	return b.String()
}

func readyText(rd *Ready) string {
	var b strings.Builder
	if rd.SoftState != nil {
		fmt.Fprintf(&b, "soft: lead=%d %v\n", rd.Lead, rd.RaftState)
	}
	if rd.HardState != nil {
		fmt.Fprintf(&b, "hard: term=%d vote=%d commit=%d\n", rd.HardState.GetTerm(), rd.HardState.GetVote(), rd.HardState.GetCommit())
	}
	for _, rs := range rd.ReadStates {
		fmt.Fprintf(&b, "read state: %d %x\n", rs.Index, rs.RequestCtx)
	}
	for _, e := range rd.Entries {
		b.WriteString("entry: " + entryText(e) + "\n")
	}
	if !IsEmptySnap(rd.Snapshot) {
		b.WriteString("snapshot: " + snapText(rd.Snapshot) + "\n")
	}
	for _, e := range rd.CommittedEntries {
		b.WriteString("committed: " + entryText(e) + "\n")
	}
	for _, m := range rd.Messages {
		b.WriteString("msg: " + msgText(m) + "\n")
	}
	fmt.Fprintf(&b, "must sync: %v", rd.MustSync)
	return b.String()
}
