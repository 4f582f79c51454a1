package polyraft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	etcd "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// nodeCluster runs Nodes with the usual application loop: a ticker, and
// on each Ready persist, send (to the peers' Step), apply, Advance.
type nodeCluster struct {
	t       *testing.T
	ctx     context.Context
	mu      sync.Mutex
	nodes   map[uint64]Node
	sts     map[uint64]memStorage
	applied map[uint64][]string
	reads   map[uint64][]ReadState
	cs      map[uint64]*pb.ConfState
	done    chan struct{}
	wg      sync.WaitGroup
}

func nodeConfig(id uint64) *Config {
	return &Config{ID: id, ElectionTick: 10, HeartbeatTick: 1, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
		CheckQuorum: true, PreVote: true, Logger: DiscardLogger}
}

func startNodeCluster(t *testing.T, kind nodeKind, n int) *nodeCluster {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c := &nodeCluster{t: t, ctx: ctx, nodes: map[uint64]Node{}, sts: map[uint64]memStorage{},
		applied: map[uint64][]string{}, reads: map[uint64][]ReadState{}, cs: map[uint64]*pb.ConfState{},
		done: make(chan struct{})}
	var peers []Peer
	for i := 1; i <= n; i++ {
		peers = append(peers, Peer{ID: uint64(i)})
	}
	for _, p := range peers {
		c.add(kind, p.ID, peers)
	}
	t.Cleanup(c.stop)
	return c
}

func (c *nodeCluster) add(kind nodeKind, id uint64, peers []Peer) {
	st := newStorageOf(c.t, kind)
	var n Node
	if kind == kindEtcd {
		// etcd's own Node (the same interface).
		cfg := etcdConfig(nodeConfig(id), st.(etcd.Storage))
		if len(peers) > 0 {
			n = etcd.StartNode(cfg, peers)
		} else {
			n = etcd.RestartNode(cfg)
		}
	} else {
		rn := newRawOf(c.t, kind, nodeConfig(id), st)
		if len(peers) > 0 {
			if err := rn.(bootstrapper).Bootstrap(peers); err != nil {
				c.t.Fatal(err)
			}
		}
		n = startNode(rn.(*RawNode))
	}
	c.mu.Lock()
	c.nodes[id], c.sts[id] = n, st
	c.mu.Unlock()
	c.wg.Add(1)
	go c.loop(id, n, st, kind == kindPolyAsync)
}

func (c *nodeCluster) node(id uint64) Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *nodeCluster) loop(id uint64, n Node, st memStorage, async bool) {
	defer c.wg.Done()
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	send := func(m *pb.Message) {
		if to := c.node(m.GetTo()); to != nil {
			// Through bytes, like a real transport.
			b, _ := proto.Marshal(m)
			var mm pb.Message
			_ = proto.Unmarshal(b, &mm)
			_ = to.Step(c.ctx, &mm)
		}
	}
	apply := func(ents []*pb.Entry) {
		for _, e := range ents {
			var cc pb.ConfChangeI
			switch e.GetType() {
			case pb.EntryConfChange:
				var v1 pb.ConfChange
				_ = proto.Unmarshal(e.GetData(), &v1)
				cc = &v1
			case pb.EntryConfChangeV2:
				var v2 pb.ConfChangeV2
				_ = proto.Unmarshal(e.GetData(), &v2)
				cc = &v2
			}
			if cc != nil {
				cs := n.ApplyConfChange(cc)
				c.mu.Lock()
				c.cs[id] = cs
				c.mu.Unlock()
			} else if len(e.GetData()) > 0 {
				c.mu.Lock()
				c.applied[id] = append(c.applied[id], string(e.GetData()))
				c.mu.Unlock()
			}
		}
	}
	persist := func(snap *pb.Snapshot, ents []*pb.Entry, hs *pb.HardState) {
		if !IsEmptySnap(snap) {
			_ = st.ApplySnapshot(snap)
		}
		_ = st.Append(ents)
		if hs != nil {
			_ = st.SetHardState(hs)
		}
	}
	for {
		select {
		case <-ticker.C:
			n.Tick()
		case rd := <-n.Ready():
			if len(rd.ReadStates) > 0 {
				c.mu.Lock()
				c.reads[id] = append(c.reads[id], rd.ReadStates...)
				c.mu.Unlock()
			}
			if async {
				// Storage work arrives as messages to the local threads;
				// their responses go back through Step (no Advance).
				for _, m := range rd.Messages {
					switch m.GetTo() {
					case LocalAppendThread:
						var hs *pb.HardState
						if m.GetTerm() != 0 || m.GetVote() != 0 || m.GetCommit() != 0 {
							hs = &pb.HardState{Term: new(m.GetTerm()), Vote: new(m.GetVote()), Commit: new(m.GetCommit())}
						}
						persist(m.GetSnapshot(), m.GetEntries(), hs)
					case LocalApplyThread:
						apply(m.GetEntries())
					default:
						send(m)
						continue
					}
					for _, r := range m.GetResponses() {
						if r.GetTo() == id {
							_ = n.Step(c.ctx, r)
						} else {
							send(r)
						}
					}
				}
				continue
			}
			persist(rd.Snapshot, rd.Entries, rd.HardState)
			for _, m := range rd.Messages {
				send(m)
			}
			apply(rd.CommittedEntries)
			n.Advance()
		case <-c.done:
			return
		}
	}
}

func (c *nodeCluster) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	close(c.done)
	c.wg.Wait()
	for _, n := range c.nodes {
		n.Stop()
	}
}

// waitFor polls cond until it holds or the test's deadline passes.
func (c *nodeCluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (c *nodeCluster) leader() uint64 {
	c.mu.Lock()
	nodes := make([]Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	for _, n := range nodes {
		if st := n.Status(); st.RaftState == StateLeader {
			return st.ID
		}
	}
	return 0
}

// makeLeader gets id elected: it campaigns while there is no leader (a
// campaign right after StartNode is refused while the bootstrap
// configuration is not applied yet) or has leadership transferred to it.
func (c *nodeCluster) makeLeader(id uint64) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lead := c.leader()
		if lead == id {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("could not make %d leader (leader %d)", id, lead)
		}
		if lead == 0 {
			_ = c.node(id).Campaign(c.ctx)
		} else {
			c.node(lead).TransferLeadership(c.ctx, lead, id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *nodeCluster) appliedAt(id uint64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.applied[id]...)
}

func TestNode(t *testing.T) {
	for _, kind := range []nodeKind{kindPolyraft, kindPolyGo, kindPolyAsync, kindEtcd} {
		t.Run(string(kind), func(t *testing.T) { testNode(t, kind) })
	}
}

// testNode drives the Node goroutine layer over a polyraft RawNode (and,
// as a check of the layer itself, over etcd's RawNode).
func testNode(t *testing.T, kind nodeKind) {
	c := startNodeCluster(t, kind, 3)
	ctx := c.ctx
	c.makeLeader(1)

	// Proposals at the leader and at a follower (forwarded).
	for i := 0; i < 50; i++ {
		if err := c.node(1+uint64(i%2)).Propose(ctx, []byte(fmt.Sprintf("v%d", i))); err != nil {
			t.Fatalf("propose %d: %v", i, err)
		}
	}
	c.waitFor("50 entries applied everywhere", func() bool {
		for id := uint64(1); id <= 3; id++ {
			if len(c.appliedAt(id)) < 50 {
				return false
			}
		}
		return true
	})
	a1, a2, a3 := c.appliedAt(1), c.appliedAt(2), c.appliedAt(3)
	if fmt.Sprint(a1) != fmt.Sprint(a2) || fmt.Sprint(a1) != fmt.Sprint(a3) {
		t.Fatalf("applied orders differ:\n%v\n%v\n%v", a1, a2, a3)
	}

	// Status with progress on the leader.
	st := c.node(1).Status()
	if st.RaftState != StateLeader || len(st.Progress) != 3 || st.Progress[2].Match == 0 {
		t.Fatalf("leader status %+v", st)
	}

	// ReadIndex comes back in a ReadState.
	if err := c.node(2).ReadIndex(ctx, []byte("read-1")); err != nil {
		t.Fatal(err)
	}
	c.waitFor("read state", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, rs := range c.reads[2] {
			if string(rs.RequestCtx) == "read-1" && rs.Index > 0 {
				return true
			}
		}
		return false
	})

	// Membership: add a learner, then remove it.
	c.add(kind, 4, nil)
	if err := c.node(1).ProposeConfChange(ctx, &pb.ConfChange{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: new(uint64(4))}); err != nil {
		t.Fatal(err)
	}
	if err := c.node(1).Propose(ctx, []byte("after-learner")); err != nil {
		t.Fatal(err)
	}
	c.waitFor("learner 4 catches up", func() bool {
		a := c.appliedAt(4)
		return len(a) > 0 && a[len(a)-1] == "after-learner"
	})
	if err := c.node(1).ProposeConfChange(ctx, &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(uint64(4))}}}); err != nil {
		t.Fatal(err)
	}
	c.waitFor("learner 4 removed", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		cs := c.cs[1]
		return cs != nil && len(cs.GetLearners()) == 0 && len(cs.GetVoters()) == 3
	})

	// Leadership transfer.
	c.makeLeader(3)
	if err := c.node(2).Propose(ctx, []byte("after-transfer")); err != nil {
		t.Fatal(err)
	}
	c.waitFor("entry after transfer", func() bool {
		a := c.appliedAt(1)
		return len(a) > 0 && a[len(a)-1] == "after-transfer"
	})

	// ReportUnreachable / ReportSnapshot / ForgetLeader are accepted.
	c.node(3).ReportUnreachable(2)
	c.node(3).ReportSnapshot(2, SnapshotFailure)
	if err := c.node(2).ForgetLeader(ctx); err != nil {
		t.Fatal(err)
	}

	// Stop: later calls fail with ErrStopped.
	c.stop()
	n := c.node(1)
	if err := n.Propose(ctx, []byte("x")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose after stop: %v", err)
	}
	if err := n.Campaign(ctx); !errors.Is(err, ErrStopped) {
		t.Fatalf("campaign after stop: %v", err)
	}
	if st := n.Status(); st.ID != 0 {
		t.Fatalf("status after stop: %+v", st)
	}
	n.Stop() // twice is fine
}

// Without a leader, Propose blocks until its context is done.
func TestNodeProposeContext(t *testing.T) {
	ms, err := TryNewMemoryStorage()
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	cfg := nodeConfig(1)
	cfg.Storage = ms
	n := StartNode(cfg, []Peer{{ID: 1}, {ID: 2}})
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := n.Propose(ctx, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("propose without leader: %v", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	// A canceled context: either the step went through before the
	// cancellation was seen, or the call reports it.
	if err := n.Campaign(ctx2); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("campaign with canceled context: %v", err)
	}
	if _, err := TryStartNode(cfg, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("StartNode without peers: %v", err)
	}
}

// failingStorage wraps etcd's MemoryStorage; once broken, reads fail with
// an application error (or panic).
type failingStorage struct {
	*etcd.MemoryStorage
	mu     sync.Mutex
	broken error
	panics any
}

var errDisk = errors.New("disk on fire")

func (f *failingStorage) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panics != nil {
		panic(f.panics)
	}
	return f.broken
}

func (f *failingStorage) LastIndex() (uint64, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	return f.MemoryStorage.LastIndex()
}

func (f *failingStorage) Term(i uint64) (uint64, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	return f.MemoryStorage.Term(i)
}

func (f *failingStorage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.MemoryStorage.Entries(lo, hi, maxSize)
}

// a leader with a persisted log, so that proposals read the storage.
func leaderOver(t *testing.T, fs *failingStorage) *RawNode {
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(1)), Term: new(uint64(1)),
		ConfState: &pb.ConfState{Voters: []uint64{1}}}}
	if err := fs.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	cfg := nodeConfig(1)
	cfg.Storage = fs
	rn, err := NewRawNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rn.Close() })
	if err := rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	for rn.HasReady() {
		rd, err := rn.TryReady()
		if err != nil {
			t.Fatal(err)
		}
		_ = fs.Append(rd.Entries)
		if rd.HardState != nil {
			_ = fs.SetHardState(rd.HardState)
		}
		if err := rn.TryAdvance(rd); err != nil {
			t.Fatal(err)
		}
	}
	if rn.BasicStatus().RaftState != StateLeader {
		t.Fatal("not leader")
	}
	return rn
}

// A Go storage error makes the node fail; the error carries the storage's
// own error and the node refuses further work.
func TestGoStorageError(t *testing.T) {
	fs := &failingStorage{MemoryStorage: etcd.NewMemoryStorage()}
	rn := leaderOver(t, fs)
	fs.mu.Lock()
	fs.broken = errDisk
	fs.mu.Unlock()
	// A term lookup below the unstable log reaches the storage.
	err := rn.Step(&pb.Message{Type: pb.MsgApp.Enum(), From: new(uint64(2)), To: new(uint64(1)), Term: new(uint64(5)),
		Index: new(uint64(1)), LogTerm: new(uint64(1))})
	for i := 0; err == nil && i < 5; i++ {
		err = rn.Propose([]byte("x"))
		if err == nil {
			_, err = rn.TryReady()
		}
	}
	if err == nil {
		t.Fatal("no error from a failing storage")
	}
	if !errors.Is(err, errDisk) {
		t.Fatalf("error %v does not wrap the storage's error", err)
	}
	if !errors.Is(rn.Err(), ErrStorage) && !errors.Is(rn.Err(), ErrFatal) {
		t.Fatalf("Err() = %v", rn.Err())
	}
	if err := rn.Campaign(); err == nil || !(errors.Is(err, ErrFatal) || errors.Is(err, ErrStorage)) {
		t.Fatalf("call after failure: %v", err)
	}
	t.Logf("storage failure reported as: %v", err)
}

// A panic inside a Go storage callback is recovered there (it must not
// unwind through Rust) and raised again by the RawNode call, in the
// caller's goroutine, after the library returned.
func TestGoStoragePanic(t *testing.T) {
	fs := &failingStorage{MemoryStorage: etcd.NewMemoryStorage()}
	rn := leaderOver(t, fs)
	type boom struct{ msg string }
	fs.mu.Lock()
	fs.panics = boom{"storage exploded"}
	fs.mu.Unlock()
	var got any
	func() {
		defer func() { got = recover() }()
		_ = rn.Step(&pb.Message{Type: pb.MsgApp.Enum(), From: new(uint64(2)), To: new(uint64(1)), Term: new(uint64(5)),
			Index: new(uint64(1)), LogTerm: new(uint64(1))})
		for i := 0; i < 5; i++ {
			_ = rn.Propose([]byte("x"))
			_, _ = rn.TryReady()
		}
	}()
	if b, ok := got.(boom); !ok || b.msg != "storage exploded" {
		t.Fatalf("recovered %#v, want the storage's panic value", got)
	}
	if err := rn.Campaign(); err == nil {
		t.Fatal("node still works after its storage panicked")
	}
	// Close still works (and calls no storage method).
	if err := rn.Close(); err != nil {
		t.Fatal(err)
	}
}

// Errors of the RawNode API match the sentinels with errors.Is.
func TestRawNodeErrors(t *testing.T) {
	ms, err := TryNewMemoryStorage()
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	cfg := nodeConfig(1)
	cfg.Storage = ms
	bad := *cfg
	bad.HeartbeatTick = 0
	if _, err := NewRawNode(&bad); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("invalid config: %v", err)
	}
	bad = *cfg
	bad.Storage = nil
	if _, err := NewRawNode(&bad); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil storage: %v", err)
	}
	cfg.DisableProposalForwarding = true
	rn, err := NewRawNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rn.Bootstrap([]Peer{{ID: 1}, {ID: 2}}); err != nil {
		t.Fatal(err)
	}
	persist(t, rn, ms)
	if err := rn.Bootstrap([]Peer{{ID: 1}}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("bootstrap of a non-empty storage: %v", err)
	}
	if err := rn.Propose([]byte("x")); !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("propose without leader: %v", err)
	}
	if err := rn.Step(&pb.Message{Type: pb.MsgHup.Enum(), From: new(uint64(2))}); !errors.Is(err, ErrStepLocalMsg) {
		t.Fatalf("step local message: %v", err)
	}
	if err := rn.Step(&pb.Message{Type: pb.MsgAppResp.Enum(), From: new(uint64(9)), To: new(uint64(1))}); !errors.Is(err, ErrStepPeerNotFound) {
		t.Fatalf("step from unknown peer: %v", err)
	}
	if err := rn.StepBytes([]byte{0xff, 0xff, 0xff}); !errors.Is(err, ErrDecode) {
		t.Fatalf("step garbage: %v", err)
	}
	if err := rn.TryAdvance(Ready{}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("advance without ready: %v", err)
	}
	if _, err := rn.TryApplyConfChange(&pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{
		{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(uint64(1))},
		{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(uint64(2))}}}); !errors.Is(err, ErrConfChange) {
		t.Fatalf("removing every voter: %v", err)
	}
	// etcd's sentinels come bare, as etcd returns them.
	if err := rn.Propose(nil); err != ErrProposalDropped {
		t.Fatalf("propose without leader: %#v", err)
	}
	var e *Error
	if err := rn.StepBytes([]byte{0xff, 0xff, 0xff}); !errors.As(err, &e) || e.Op != "step" || e.Detail == "" {
		t.Fatalf("error detail: %#v", err)
	}
	t.Logf("example error: %v", e)
	if err := rn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rn.Campaign(); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	_ = rn.Close()
	if _, err := ms.FirstIndex(); err != nil {
		t.Fatalf("storage after node close: %v", err)
	}
	ms.Close()
	if _, err := ms.FirstIndex(); !errors.Is(err, ErrClosed) {
		t.Fatalf("storage after close: %v", err)
	}
}

// A RawNode and MemoryStorage left without Close are freed by their
// cleanups (the leak safety net).
func TestCleanupSafetyNet(t *testing.T) {
	for i := 0; i < 50; i++ {
		ms, err := TryNewMemoryStorage()
		if err != nil {
			t.Fatal(err)
		}
		cfg := nodeConfig(1)
		cfg.Storage = ms
		rn, err := NewRawNode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_ = rn.Bootstrap([]Peer{{ID: 1}})
	}
	for i := 0; i < 3; i++ {
		runtimeGC()
	}
}

// A custom Logger receives etcd's log lines.
func TestLogger(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	l := lineLogger(func(level, line string) {
		mu.Lock()
		lines = append(lines, level+" "+line)
		mu.Unlock()
	})
	ms, err := TryNewMemoryStorage()
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	cfg := nodeConfig(1)
	cfg.Storage = ms
	cfg.Logger = l
	rn, err := NewRawNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rn.Close()
	if err := rn.Bootstrap([]Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	persist(t, rn, ms)
	if err := rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	persist(t, rn, ms) // the self-votes are counted once persisted
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, s := range lines {
		if s == "INFO 1 became leader at term 2" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no leader line among %q", lines)
	}
}

// persist handles the pending Readys of rn: entries and hard state into
// st, configuration changes applied.
func persist(t *testing.T, rn *RawNode, st memStorage) {
	t.Helper()
	for rn.HasReady() {
		rd, err := rn.TryReady()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Append(rd.Entries); err != nil {
			t.Fatal(err)
		}
		if rd.HardState != nil {
			_ = st.SetHardState(rd.HardState)
		}
		for _, e := range rd.CommittedEntries {
			if e.GetType() == pb.EntryConfChange {
				var cc pb.ConfChange
				if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
					t.Fatal(err)
				}
				if _, err := rn.TryApplyConfChange(&cc); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := rn.TryAdvance(rd); err != nil {
			t.Fatal(err)
		}
	}
}

// lineLogger is a Logger handing each line and its level's name to the
// function.
type lineLogger func(level, line string)

func (f lineLogger) Debug(v ...any)                   { f("DEBUG", fmt.Sprint(v...)) }
func (f lineLogger) Debugf(format string, v ...any)   { f("DEBUG", fmt.Sprintf(format, v...)) }
func (f lineLogger) Info(v ...any)                    { f("INFO", fmt.Sprint(v...)) }
func (f lineLogger) Infof(format string, v ...any)    { f("INFO", fmt.Sprintf(format, v...)) }
func (f lineLogger) Warning(v ...any)                 { f("WARN", fmt.Sprint(v...)) }
func (f lineLogger) Warningf(format string, v ...any) { f("WARN", fmt.Sprintf(format, v...)) }
func (f lineLogger) Error(v ...any)                   { f("ERROR", fmt.Sprint(v...)) }
func (f lineLogger) Errorf(format string, v ...any)   { f("ERROR", fmt.Sprintf(format, v...)) }
func (f lineLogger) Fatal(v ...any)                   { f("FATAL", fmt.Sprint(v...)) }
func (f lineLogger) Fatalf(format string, v ...any)   { f("FATAL", fmt.Sprintf(format, v...)) }
func (f lineLogger) Panic(v ...any)                   { f("PANIC", fmt.Sprint(v...)) }
func (f lineLogger) Panicf(format string, v ...any)   { f("PANIC", fmt.Sprintf(format, v...)) }
