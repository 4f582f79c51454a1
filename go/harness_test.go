package polyraft

// Test harness shared by the node, interop and differential tests: an
// adapter that gives etcd's RawNode the method set of *RawNode (rawNoder),
// a storage interface both MemoryStorages satisfy, and a small in-process
// cluster of mixed nodes exchanging raftpb bytes.

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"runtime"
	"sort"
	"testing"

	etcd "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// memStorage is what the harness needs from a memory storage; etcd's
// *raft.MemoryStorage and polyraft's *MemoryStorage both have it.
type memStorage interface {
	InitialState() (*pb.HardState, *pb.ConfState, error)
	Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error)
	Term(i uint64) (uint64, error)
	LastIndex() (uint64, error)
	FirstIndex() (uint64, error)
	Snapshot() (*pb.Snapshot, error)
	SetHardState(st *pb.HardState) error
	ApplySnapshot(snap *pb.Snapshot) error
	CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error)
	Compact(compactIndex uint64) error
	Append(entries []*pb.Entry) error
}

var etcdDiscard = &etcd.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

// etcdLogger is the logger of the etcd nodes the tests create.
var etcdLogger etcd.Logger = etcdDiscard

// etcdConfig translates a polyraft Config (without Storage) to etcd's.
func etcdConfig(c *Config, st etcd.Storage) *etcd.Config {
	return &etcd.Config{
		ID:                          c.ID,
		ElectionTick:                c.ElectionTick,
		HeartbeatTick:               c.HeartbeatTick,
		Storage:                     st,
		Applied:                     c.Applied,
		AsyncStorageWrites:          c.AsyncStorageWrites,
		MaxSizePerMsg:               c.MaxSizePerMsg,
		MaxCommittedSizePerReady:    c.MaxCommittedSizePerReady,
		MaxUncommittedEntriesSize:   c.MaxUncommittedEntriesSize,
		MaxInflightMsgs:             c.MaxInflightMsgs,
		MaxInflightBytes:            c.MaxInflightBytes,
		CheckQuorum:                 c.CheckQuorum,
		PreVote:                     c.PreVote,
		ReadOnlyOption:              etcd.ReadOnlyOption(c.ReadOnlyOption),
		DisableProposalForwarding:   c.DisableProposalForwarding,
		DisableConfChangeValidation: c.DisableConfChangeValidation,
		StepDownOnRemoval:           c.StepDownOnRemoval,
		Logger:                      etcdLogger,
	}
}

// rawNoder is what the harness drives: *RawNode's error-returning method
// set, which etcdRaw gives etcd's RawNode.
type rawNoder interface {
	Tick()
	Campaign() error
	Propose(data []byte) error
	ProposeConfChange(cc pb.ConfChangeI) error
	Step(m *pb.Message) error
	TryApplyConfChange(cc pb.ConfChangeI) (*pb.ConfState, error)
	HasReady() bool
	TryReady() (Ready, error)
	TryAdvance(rd Ready) error
	BasicStatus() BasicStatus
	Status() Status
	ReportUnreachable(id uint64)
	ReportSnapshot(id uint64, status SnapshotStatus)
	TransferLeader(transferee uint64)
	ForgetLeader() error
	TryReadIndex(rctx []byte) error
	Err() error
	Close() error
	asyncStorageWrites() bool
}

// etcdRaw adapts etcd's RawNode to rawNoder.
type etcdRaw struct {
	rn    *etcd.RawNode
	async bool
}

func newEtcdRaw(c *Config, st etcd.Storage) (*etcdRaw, error) {
	rn, err := etcd.NewRawNode(etcdConfig(c, st))
	if err != nil {
		return nil, err
	}
	return &etcdRaw{rn: rn, async: c.AsyncStorageWrites}, nil
}

func (e *etcdRaw) Tick()                                     { e.rn.Tick() }
func (e *etcdRaw) Campaign() error                           { return e.rn.Campaign() }
func (e *etcdRaw) Propose(data []byte) error                 { return e.rn.Propose(data) }
func (e *etcdRaw) ProposeConfChange(cc pb.ConfChangeI) error { return e.rn.ProposeConfChange(cc) }
func (e *etcdRaw) Step(m *pb.Message) error                  { return e.rn.Step(m) }
func (e *etcdRaw) HasReady() bool                            { return e.rn.HasReady() }
func (e *etcdRaw) ReportUnreachable(id uint64)               { e.rn.ReportUnreachable(id) }
func (e *etcdRaw) TransferLeader(to uint64)                  { e.rn.TransferLeader(to) }
func (e *etcdRaw) ForgetLeader() error                       { return e.rn.ForgetLeader() }
func (e *etcdRaw) TryReadIndex(rctx []byte) error            { e.rn.ReadIndex(rctx); return nil }
func (e *etcdRaw) Err() error                                { return nil }
func (e *etcdRaw) Close() error                              { return nil }
func (e *etcdRaw) asyncStorageWrites() bool                  { return e.async }
func (e *etcdRaw) Bootstrap(peers []Peer) error              { return e.rn.Bootstrap(peers) }
func (e *etcdRaw) ReportSnapshot(id uint64, s SnapshotStatus) {
	e.rn.ReportSnapshot(id, s)
}
func (e *etcdRaw) TryApplyConfChange(cc pb.ConfChangeI) (*pb.ConfState, error) {
	return e.rn.ApplyConfChange(cc), nil
}
func (e *etcdRaw) TryReady() (Ready, error) { return e.rn.Ready(), nil }
func (e *etcdRaw) TryAdvance(Ready) error   { e.rn.Advance(Ready{}); return nil }
func (e *etcdRaw) BasicStatus() BasicStatus { return e.rn.BasicStatus() }
func (e *etcdRaw) Status() Status           { return e.rn.Status() }

// ---------------------------------------------------------------------
// A small cluster of mixed nodes.

type nodeKind string

const (
	kindEtcd     nodeKind = "etcd"
	kindPolyraft nodeKind = "polyraft"
	// kindPolyGo is a polyraft RawNode over a Go Storage (etcd's
	// MemoryStorage, reached through the C vtable and cgo.Handle).
	kindPolyGo nodeKind = "polyraft-gostorage"
	// kindPolyAsync is a polyraft RawNode with AsyncStorageWrites.
	kindPolyAsync nodeKind = "polyraft-async"
)

type bootstrapper interface {
	Bootstrap(peers []Peer) error
}

// stateMachine folds applied entries into a running hash: two nodes that
// applied the same entries in the same order have the same (index, hash).
type stateMachine struct {
	index uint64
	hash  uint64
	data  int // normal entries with data
}

func (s *stateMachine) apply(e *pb.Entry) {
	h := fnv.New64a()
	var b [32]byte
	binary.BigEndian.PutUint64(b[0:], s.hash)
	binary.BigEndian.PutUint64(b[8:], e.GetIndex())
	binary.BigEndian.PutUint64(b[16:], e.GetTerm())
	binary.BigEndian.PutUint64(b[24:], uint64(e.GetType()))
	h.Write(b[:])
	h.Write(canonicalData(e))
	s.hash = h.Sum64()
	s.index = e.GetIndex()
	if e.GetType() == pb.EntryNormal && len(e.GetData()) > 0 {
		s.data++
	}
}

// canonicalData is an entry's payload, with configuration changes in a
// canonical form: etcd v3.7 and polyraft encode the same ConfChange with
// different bytes (etcd writes an explicitly set zero Type, polyraft omits
// it), so bootstrapped entries compare by content.
func canonicalData(e *pb.Entry) []byte {
	switch e.GetType() {
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return append([]byte("bad conf change "), e.GetData()...)
		}
		return fmt.Appendf(nil, "cc %d %v %d %x", cc.GetId(), cc.GetType(), cc.GetNodeId(), cc.GetContext())
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return append([]byte("bad conf change v2 "), e.GetData()...)
		}
		out := fmt.Appendf(nil, "cc2 %v %x", cc.GetTransition(), cc.GetContext())
		for _, ch := range cc.GetChanges() {
			out = fmt.Appendf(out, " %v %d", ch.GetType(), ch.GetNodeId())
		}
		return out
	}
	return e.GetData()
}

func (s *stateMachine) encode() []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b[0:], s.index)
	binary.BigEndian.PutUint64(b[8:], s.hash)
	binary.BigEndian.PutUint64(b[16:], uint64(s.data))
	return b
}

func (s *stateMachine) restore(b []byte) error {
	if len(b) != 24 {
		return fmt.Errorf("snapshot data of %d bytes", len(b))
	}
	s.index = binary.BigEndian.Uint64(b[0:])
	s.hash = binary.BigEndian.Uint64(b[8:])
	s.data = int(binary.BigEndian.Uint64(b[16:]))
	return nil
}

type member struct {
	id   uint64
	kind nodeKind
	rn   rawNoder
	st   memStorage
	sm   stateMachine
	cs   *pb.ConfState
	// hashAt records the state machine hash after each applied index
	// (entries applied one by one, and snapshot restore points).
	hashAt map[uint64]uint64
	// order is the sequence of applied indexes (must increase).
	order   []uint64
	removed bool
}

type envelope struct {
	from, to uint64
	bytes    []byte
	typ      pb.MessageType
}

type cluster struct {
	t       testing.TB
	cfg     func(id uint64) *Config
	members map[uint64]*member
	queue   []envelope
	// cut[a][b] drops messages from a to b.
	cut     map[[2]uint64]bool
	sent    map[string]int // message counts by "kind->kind type"
	snapsTo map[uint64]int // MsgSnap delivered, by receiver
}

func newCluster(t testing.TB, cfg func(id uint64) *Config) *cluster {
	return &cluster{t: t, cfg: cfg, members: map[uint64]*member{}, cut: map[[2]uint64]bool{},
		sent: map[string]int{}, snapsTo: map[uint64]int{}}
}

// newStorageOf makes the storage of a member of the given kind.
func newStorageOf(t testing.TB, kind nodeKind) memStorage {
	if kind == kindEtcd || kind == kindPolyGo {
		return etcd.NewMemoryStorage()
	}
	ms, err := TryNewMemoryStorage()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	return ms
}

func newRawOf(t testing.TB, kind nodeKind, c *Config, st memStorage) rawNoder {
	if kind == kindEtcd {
		rn, err := newEtcdRaw(c, st.(etcd.Storage))
		if err != nil {
			t.Fatal(err)
		}
		return rn
	}
	c.Storage = st.(Storage)
	if kind == kindPolyAsync {
		cc := *c
		cc.AsyncStorageWrites = true
		c = &cc
	}
	rn, err := NewRawNode(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rn.Close() })
	return rn
}

// add creates member id of the given kind; with peers it is bootstrapped,
// otherwise it starts empty and waits to be contacted.
func (c *cluster) add(id uint64, kind nodeKind, peers []uint64) *member {
	st := newStorageOf(c.t, kind)
	rn := newRawOf(c.t, kind, c.cfg(id), st)
	if len(peers) > 0 {
		ps := make([]Peer, len(peers))
		for i, p := range peers {
			ps[i] = Peer{ID: p}
		}
		if err := rn.(bootstrapper).Bootstrap(ps); err != nil {
			c.t.Fatalf("bootstrap %d: %v", id, err)
		}
	}
	m := &member{id: id, kind: kind, rn: rn, st: st, hashAt: map[uint64]uint64{}}
	c.members[id] = m
	return m
}

func (c *cluster) ids() []uint64 {
	var ids []uint64
	for id, m := range c.members {
		if !m.removed {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (c *cluster) isolate(id uint64, on bool) {
	for other := range c.members {
		if other != id {
			c.cut[[2]uint64{id, other}] = on
			c.cut[[2]uint64{other, id}] = on
		}
	}
}

// handleReady persists, applies and queues the messages of one Ready.
func (c *cluster) handleReady(m *member) bool {
	if m.removed || !m.rn.HasReady() {
		return false
	}
	rd, err := m.rn.TryReady()
	if err != nil {
		c.t.Fatalf("%d: ready: %v", m.id, err)
	}
	if m.rn.asyncStorageWrites() {
		// The storage work comes as messages to the local append and
		// apply "threads", handled here at once, in order; their
		// responses go back to the node or out to peers.
		for _, msg := range rd.Messages {
			switch msg.GetTo() {
			case LocalAppendThread:
				c.persist(m, msg.GetSnapshot(), msg.GetEntries(), nil)
				if msg.GetTerm() != 0 || msg.GetVote() != 0 || msg.GetCommit() != 0 {
					_ = m.st.SetHardState(&pb.HardState{Term: new(msg.GetTerm()), Vote: new(msg.GetVote()), Commit: new(msg.GetCommit())})
				}
			case LocalApplyThread:
				c.applyEntries(m, msg.GetEntries())
			default:
				c.send(m, msg)
				continue
			}
			for _, r := range msg.GetResponses() {
				if r.GetTo() == m.id {
					if err := m.rn.Step(r); err != nil {
						c.t.Fatalf("%d: step own %v: %v", m.id, r.GetType(), err)
					}
				} else {
					c.send(m, r)
				}
			}
		}
		return true
	}
	c.persist(m, rd.Snapshot, rd.Entries, rd.HardState)
	for _, msg := range rd.Messages {
		c.send(m, msg)
	}
	c.applyEntries(m, rd.CommittedEntries)
	if err := m.rn.TryAdvance(rd); err != nil {
		c.t.Fatalf("%d: advance: %v", m.id, err)
	}
	return true
}

func (c *cluster) send(m *member, msg *pb.Message) {
	b, err := proto.Marshal(msg)
	if err != nil {
		c.t.Fatalf("%d: marshal: %v", m.id, err)
	}
	c.queue = append(c.queue, envelope{from: m.id, to: msg.GetTo(), bytes: b, typ: msg.GetType()})
}

// persist writes a snapshot (restoring the state machine from it), entries
// and a hard state to m's storage.
func (c *cluster) persist(m *member, snap *pb.Snapshot, ents []*pb.Entry, hs *pb.HardState) {
	if !IsEmptySnap(snap) {
		if err := m.st.ApplySnapshot(snap); err != nil {
			c.t.Fatalf("%d: apply snapshot: %v", m.id, err)
		}
		if err := m.sm.restore(snap.GetData()); err != nil {
			c.t.Fatalf("%d: %v", m.id, err)
		}
		if m.sm.index != snap.GetMetadata().GetIndex() {
			c.t.Fatalf("%d: snapshot data at %d, metadata at %d", m.id, m.sm.index, snap.GetMetadata().GetIndex())
		}
		m.cs = snap.GetMetadata().GetConfState()
		m.record()
	}
	if len(ents) > 0 {
		if err := m.st.Append(ents); err != nil {
			c.t.Fatalf("%d: append: %v", m.id, err)
		}
	}
	if hs != nil {
		if err := m.st.SetHardState(hs); err != nil {
			c.t.Fatalf("%d: set hard state: %v", m.id, err)
		}
	}
}

// applyEntries applies committed entries to m's state machine, and conf
// changes to its node.
func (c *cluster) applyEntries(m *member, ents []*pb.Entry) {
	for _, e := range ents {
		if e.GetIndex() != m.sm.index+1 {
			c.t.Fatalf("%d: applies index %d after %d", m.id, e.GetIndex(), m.sm.index)
		}
		m.sm.apply(e)
		m.record()
		var cc pb.ConfChangeI
		switch e.GetType() {
		case pb.EntryConfChange:
			var v1 pb.ConfChange
			if err := proto.Unmarshal(e.GetData(), &v1); err != nil {
				c.t.Fatal(err)
			}
			cc = &v1
		case pb.EntryConfChangeV2:
			var v2 pb.ConfChangeV2
			if err := proto.Unmarshal(e.GetData(), &v2); err != nil {
				c.t.Fatal(err)
			}
			cc = &v2
		}
		if cc != nil {
			cs, err := m.rn.TryApplyConfChange(cc)
			if err != nil {
				c.t.Fatalf("%d: apply conf change: %v", m.id, err)
			}
			m.cs = cs
		}
	}
}

func (m *member) record() {
	if len(m.order) > 0 && m.order[len(m.order)-1] >= m.sm.index {
		panic(fmt.Sprintf("%d: applied index went from %d to %d", m.id, m.order[len(m.order)-1], m.sm.index))
	}
	m.order = append(m.order, m.sm.index)
	m.hashAt[m.sm.index] = m.sm.hash
}

// deliver steps one queued envelope into its receiver.
func (c *cluster) deliver(e envelope) {
	from := c.members[e.from]
	to, ok := c.members[e.to]
	if !ok || to.removed || c.cut[[2]uint64{e.from, e.to}] {
		if e.typ == pb.MsgSnap {
			// The transport failed to send the snapshot: tell the leader.
			from.rn.ReportSnapshot(e.to, SnapshotFailure)
		}
		return
	}
	c.sent[fmt.Sprintf("%s->%s %v", from.kind, to.kind, e.typ)]++
	var msg pb.Message
	if err := proto.Unmarshal(e.bytes, &msg); err != nil {
		c.t.Fatalf("%d: unmarshal: %v", e.to, err)
	}
	// Errors such as ErrStepPeerNotFound are normal here.
	_ = to.rn.Step(&msg)
	if e.typ == pb.MsgSnap {
		c.snapsTo[e.to]++
		// The transport "sent" the snapshot: tell the leader.
		from.rn.ReportSnapshot(e.to, SnapshotFinish)
	}
}

// pump handles Readys and delivers messages until the cluster is quiet (or
// the step budget runs out).
func (c *cluster) pump() {
	for round := 0; round < 10000; round++ {
		busy := false
		for _, id := range c.ids() {
			for c.handleReady(c.members[id]) {
				busy = true
			}
		}
		q := c.queue
		c.queue = nil
		for _, e := range q {
			c.deliver(e)
			busy = true
		}
		if !busy {
			return
		}
	}
	var desc []string
	for _, e := range c.queue {
		desc = append(desc, fmt.Sprintf("%d->%d %v", e.from, e.to, e.typ))
	}
	c.t.Fatalf("cluster does not quiesce; in flight: %v", desc)
}

func (c *cluster) tickAll(n int) {
	for i := 0; i < n; i++ {
		for _, id := range c.ids() {
			c.members[id].rn.Tick()
		}
		c.pump()
	}
}

func (c *cluster) leader() uint64 {
	var lead uint64
	for _, id := range c.ids() {
		bs := c.members[id].rn.BasicStatus()
		if bs.RaftState == StateLeader {
			if lead != 0 {
				// Two leaders at different terms are allowed transiently.
				if c.members[lead].rn.BasicStatus().GetTerm() > bs.GetTerm() {
					continue
				}
			}
			lead = id
		}
	}
	return lead
}

// checkSameOrder verifies that wherever two members recorded a hash for the
// same applied index, the hashes agree (same entries, same order).
func (c *cluster) checkSameOrder() {
	var all []*member
	for _, m := range c.members {
		all = append(all, m)
	}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			a, b := all[i], all[j]
			common := 0
			for idx, h := range a.hashAt {
				if hb, ok := b.hashAt[idx]; ok {
					common++
					if h != hb {
						c.t.Fatalf("members %d (%s) and %d (%s) differ at applied index %d", a.id, a.kind, b.id, b.kind, idx)
					}
				}
			}
			if common == 0 {
				c.t.Fatalf("members %d and %d share no applied index", a.id, b.id)
			}
		}
	}
}

func runtimeGC() { runtime.GC() }
