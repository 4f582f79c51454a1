package polyraft

// Priority elections (Extensions.Priority, beyond etcd) in a cluster mixed
// with a real go.etcd.io/raft/v3 node. The polyraft nodes send their
// messages as the library encodes them (ReadyWire) and step what they
// receive as bytes (StepBytes), so the priority field (raftpb field 16,
// unknown to etcd) really crosses the wire: etcd's decoder must skip it,
// and the polyraft voters must act on it.

import (
	"fmt"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// priorityField is the raftpb Message field number of the priority.
const priorityField = 16

// wirePriority returns the priority a raftpb-encoded message carries in
// field 16, and whether the field is present.
func wirePriority(t testing.TB, b []byte) (int64, bool) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("malformed message tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if num == priorityField && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				t.Fatalf("malformed priority: %v", protowire.ParseError(m))
			}
			return int64(v), true
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			t.Fatalf("malformed field %d: %v", num, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return 0, false
}

// priorityCluster is the interop cluster with wire-level delivery for its
// polyraft members and a record of the priorities seen on vote requests.
type priorityCluster struct {
	*cluster
	// seen counts vote requests by "sender kind->receiver kind type
	// priority=N" ("none" when field 16 is absent).
	seen map[string]int
}

func (pc *priorityCluster) addPoly(id uint64, ext Extensions, peers []uint64) {
	st := newStorageOf(pc.t, kindPolyraft)
	cfg := pc.cfg(id)
	cfg.Storage = st.(Storage)
	rn, err := NewRawNodeWithExtensions(cfg, ext)
	if err != nil {
		pc.t.Fatal(err)
	}
	pc.t.Cleanup(func() { rn.Close() })
	ps := make([]Peer, len(peers))
	for i, p := range peers {
		ps[i] = Peer{ID: p}
	}
	if err := rn.Bootstrap(ps); err != nil {
		pc.t.Fatalf("bootstrap %d: %v", id, err)
	}
	pc.members[id] = &member{id: id, kind: kindPolyraft, rn: rn, st: st, hashAt: map[uint64]uint64{}}
}

// handleReadyWire is handleReady for a polyraft member whose messages are
// queued in the library's own encoding.
func (pc *priorityCluster) handleReadyWire(m *member) bool {
	rn := m.rn.(*RawNode)
	if m.removed || !rn.HasReady() {
		return false
	}
	rd, msgs, err := rn.ReadyWire()
	if err != nil {
		pc.t.Fatalf("%d: ready: %v", m.id, err)
	}
	pc.persist(m, rd.Snapshot, rd.Entries, rd.HardState)
	for _, w := range msgs {
		b := append([]byte(nil), w.Data...) // valid until Advance
		pc.queue = append(pc.queue, envelope{from: m.id, to: w.To, bytes: b, typ: w.Type})
	}
	pc.applyEntries(m, rd.CommittedEntries)
	if err := rn.TryAdvance(rd); err != nil {
		pc.t.Fatalf("%d: advance: %v", m.id, err)
	}
	return true
}

// deliverWire steps one envelope: bytes as they are into a polyraft
// member, through etcd's own raftpb decoder into the etcd member.
func (pc *priorityCluster) deliverWire(e envelope) {
	from, to := pc.members[e.from], pc.members[e.to]
	if to == nil || pc.cut[[2]uint64{e.from, e.to}] {
		return
	}
	if e.typ == pb.MsgVote || e.typ == pb.MsgPreVote {
		p := "none"
		if v, ok := wirePriority(pc.t, e.bytes); ok {
			p = fmt.Sprint(v)
		}
		pc.seen[fmt.Sprintf("%s->%s %v priority=%s", from.kind, to.kind, e.typ, p)]++
	}
	if to.kind == kindEtcd {
		var msg pb.Message
		if err := proto.Unmarshal(e.bytes, &msg); err != nil {
			pc.t.Fatalf("etcd %d cannot decode a %v from %d: %v", e.to, e.typ, e.from, err)
		}
		_ = to.rn.Step(&msg)
		return
	}
	_ = to.rn.(*RawNode).StepBytes(e.bytes)
}

func (pc *priorityCluster) pump() {
	for round := 0; round < 10000; round++ {
		busy := false
		for _, id := range pc.ids() {
			m := pc.members[id]
			if m.kind == kindEtcd {
				for pc.handleReady(m) {
					busy = true
				}
				continue
			}
			for pc.handleReadyWire(m) {
				busy = true
			}
		}
		q := pc.queue
		pc.queue = nil
		for _, e := range q {
			pc.deliverWire(e)
			busy = true
		}
		if !busy {
			return
		}
	}
	pc.t.Fatal("cluster does not quiesce")
}

func (pc *priorityCluster) campaign(id uint64) {
	pc.t.Helper()
	if err := pc.members[id].rn.Campaign(); err != nil {
		pc.t.Fatalf("campaign %d: %v", id, err)
	}
	pc.pump()
}

func (pc *priorityCluster) proposeAll(lead uint64, n int, tag string) {
	pc.t.Helper()
	for i := 0; i < n; i++ {
		if err := pc.members[lead].rn.Propose([]byte(fmt.Sprintf("%s-%d", tag, i))); err != nil {
			pc.t.Fatalf("propose at %d: %v", lead, err)
		}
	}
	pc.pump()
}

// settle ticks every member until all applied as much as the leader (a
// member that was cut off is probed again on heartbeats).
func (pc *priorityCluster) settle(lead uint64) {
	for i := 0; i < 50; i++ {
		behind := false
		for _, id := range pc.ids() {
			behind = behind || pc.members[id].sm.index != pc.members[lead].sm.index
		}
		if !behind {
			return
		}
		for _, id := range pc.ids() {
			pc.members[id].rn.Tick()
		}
		pc.pump()
	}
}

func TestInteropPriority(t *testing.T) {
	// Node 1 is etcd (no priority: 0), node 2 polyraft with priority 9,
	// node 3 polyraft with priority 1. Pre-vote and check quorum are on.
	pc := &priorityCluster{cluster: newCluster(t, interopConfig), seen: map[string]int{}}
	peers := []uint64{1, 2, 3}
	pc.add(1, kindEtcd, peers)
	pc.addPoly(2, Extensions{Priority: 9}, peers)
	pc.addPoly(3, Extensions{Priority: 1}, peers)
	pc.pump()

	// 1. With node 3 cut off, node 2 can only win with the etcd node's
	// votes: etcd decodes pre-vote and vote requests that carry field 16
	// and grants them.
	pc.isolate(3, true)
	pc.campaign(2)
	if lead := pc.leader(); lead != 2 {
		t.Fatalf("node 2 needed etcd node 1's vote; leader is %d", lead)
	}
	pc.isolate(3, false)
	pc.proposeAll(2, 200, "a")
	pc.settle(2)
	pc.requireConverged("200 entries from the priority-9 leader")

	// 2. A leadership transfer to the etcd node is exempt from priorities:
	// both polyraft nodes vote for it.
	pc.members[2].rn.TransferLeader(1)
	pc.pump()
	if lead := pc.leader(); lead != 1 {
		t.Fatalf("transfer to etcd node 1: leader is %d", lead)
	}
	pc.proposeAll(1, 200, "b")
	pc.requireConverged("200 entries from the etcd leader")

	// 3. The etcd leader is cut off; node 3 loses to node 2's
	// priority, node 2 wins with node 3's vote, and the etcd node follows
	// it after the partition heals.
	pc.isolate(1, true)
	for _, id := range []uint64{2, 3} {
		_ = pc.members[id].rn.ForgetLeader()
	}
	pc.pump()
	pc.campaign(3)
	if lead := pc.leader(); lead == 3 {
		t.Fatal("node 3 (priority 1) won against node 2 (priority 9) with equal logs")
	}
	pc.campaign(2)
	if lead := pc.leader(); lead != 2 {
		t.Fatalf("node 2 should lead, leader is %d", lead)
	}
	pc.isolate(1, false)
	pc.proposeAll(2, 200, "c")
	// The etcd node, the old leader, learns of the new term and follows.
	pc.settle(2)
	pc.requireConverged("200 entries after the etcd leader rejoined")
	if got := pc.members[1].rn.BasicStatus().Lead; got != 2 {
		t.Fatalf("etcd node 1 follows %d, want 2", got)
	}

	// The vote requests carried the priorities on the wire, the etcd node
	// decoded them (a decoding failure is fatal above), and etcd's own
	// requests carry none.
	for _, want := range []string{
		"polyraft->etcd MsgPreVote priority=9",
		"polyraft->etcd MsgVote priority=9",
		"polyraft->polyraft MsgPreVote priority=1",
		"polyraft->polyraft MsgPreVote priority=9",
		"polyraft->polyraft MsgVote priority=9",
		"etcd->polyraft MsgVote priority=none",
	} {
		if pc.seen[want] == 0 {
			t.Errorf("no %q was exchanged; seen: %v", want, pc.seen)
		}
	}
	if n := pc.seen["polyraft->polyraft MsgVote priority=1"]; n != 0 {
		t.Errorf("node 3 got past its pre-vote %d times", n)
	}
}

// Batched appends through the Go API: proposals made before a Ready go to
// each follower in one MsgApp, and an etcd follower takes it.
func TestBatchAppendExtension(t *testing.T) {
	pc := &priorityCluster{cluster: newCluster(t, interopConfig), seen: map[string]int{}}
	peers := []uint64{1, 2, 3}
	pc.addPoly(1, Extensions{BatchAppend: true}, peers)
	pc.addPoly(2, Extensions{BatchAppend: true}, peers)
	pc.add(3, kindEtcd, peers)
	pc.pump()
	pc.campaign(1)
	if lead := pc.leader(); lead != 1 {
		t.Fatalf("leader is %d", lead)
	}
	rn := pc.members[1].rn.(*RawNode)
	for i := 0; i < 5; i++ {
		if err := rn.Propose([]byte(fmt.Sprintf("x-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	rd, err := rn.TryReady()
	if err != nil {
		t.Fatal(err)
	}
	apps := map[uint64]int{}
	for _, m := range rd.Messages {
		if m.GetType() == pb.MsgApp {
			apps[m.GetTo()]++
			if n := len(m.GetEntries()); n != 5 {
				t.Errorf("MsgApp to %d carries %d entries, want 5", m.GetTo(), n)
			}
		}
	}
	if apps[2] != 1 || apps[3] != 1 {
		t.Fatalf("MsgApps per follower: %v, want one each", apps)
	}
	pc.persist(pc.members[1], rd.Snapshot, rd.Entries, rd.HardState)
	for _, m := range rd.Messages {
		pc.send(pc.members[1], m)
	}
	pc.applyEntries(pc.members[1], rd.CommittedEntries)
	if err := rn.TryAdvance(rd); err != nil {
		t.Fatal(err)
	}
	pc.pump()
	pc.requireConverged("5 batched entries")
}
