package polyraft

// Interop: real go.etcd.io/raft/v3 RawNodes and polyraft RawNodes in one
// cluster, exchanging raftpb bytes (every message is marshalled by its
// sender and unmarshalled by its receiver's decoder: polyraft's bytes are
// decoded by etcd's raftpb, etcd's bytes by polyraft's Rust decoder).

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

func interopConfig(id uint64) *Config {
	return &Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		MaxSizePerMsg:   64 << 10,
		MaxInflightMsgs: 64,
		CheckQuorum:     true,
		PreVote:         true,
		Logger:          DiscardLogger,
	}
}

func TestInterop(t *testing.T) {
	sent := map[string]int{}
	for _, kinds := range [][]nodeKind{
		{kindEtcd, kindEtcd, kindPolyraft},
		{kindEtcd, kindPolyraft, kindPolyraft},
		{kindEtcd, kindPolyGo, kindPolyraft},
		{kindEtcd, kindPolyAsync, kindPolyraft},
	} {
		name := fmt.Sprintf("%s-%s-%s", kinds[0], kinds[1], kinds[2])
		t.Run(name, func(t *testing.T) {
			for k, n := range runInterop(t, kinds) {
				sent[k] += n
			}
		})
	}
	// Across both clusters, every kind of exchange happened both ways.
	for _, want := range []string{"MsgSnap", "MsgApp", "MsgAppResp", "MsgVote", "MsgVoteResp", "MsgPreVote",
		"MsgPreVoteResp", "MsgHeartbeat", "MsgHeartbeatResp", "MsgTimeoutNow"} {
		for _, dir := range []string{"etcd->polyraft ", "polyraft->etcd "} {
			if sent[dir+want] == 0 {
				t.Errorf("no %s%s was exchanged", dir, want)
			}
		}
	}
}

// propose proposes n entries at the leader in batches, pumping between
// batches, and returns how many were proposed.
func (c *cluster) proposeN(lead uint64, n int, tag string) {
	m := c.members[lead]
	for i := 0; i < n; i++ {
		if err := m.rn.Propose([]byte(fmt.Sprintf("%s-%d", tag, i))); err != nil {
			c.t.Fatalf("propose at %d (%s): %v", lead, m.kind, err)
		}
		if i%100 == 99 {
			c.pump()
		}
	}
	c.pump()
}

// requireConverged checks that every live member applied the same entries
// up to the same index.
func (c *cluster) requireConverged(what string) {
	c.t.Helper()
	ids := c.ids()
	first := c.members[ids[0]]
	for _, id := range ids[1:] {
		m := c.members[id]
		if m.sm.index != first.sm.index || m.sm.hash != first.sm.hash {
			c.t.Fatalf("%s: member %d (%s) applied %d (hash %x), member %d (%s) applied %d (hash %x)",
				what, first.id, first.kind, first.sm.index, first.sm.hash, m.id, m.kind, m.sm.index, m.sm.hash)
		}
	}
	c.checkSameOrder()
}

func (c *cluster) requireLeader(what string) uint64 {
	c.t.Helper()
	lead := c.leader()
	if lead == 0 {
		c.t.Fatalf("%s: no leader", what)
	}
	return lead
}

// elect makes id leader: it campaigns (after its peers forgot their
// leader, so pre-votes are granted at once) and the cluster is pumped.
func (c *cluster) elect(id uint64) {
	c.t.Helper()
	for _, other := range c.ids() {
		if other != id && !c.cut[[2]uint64{id, other}] {
			_ = c.members[other].rn.ForgetLeader()
		}
	}
	c.pump()
	if err := c.members[id].rn.Campaign(); err != nil {
		c.t.Fatalf("campaign %d: %v", id, err)
	}
	c.pump()
	if got := c.leader(); got != id {
		c.t.Fatalf("campaign of %d (%s) elected %d", id, c.members[id].kind, got)
	}
}

// transfer hands leadership to id with a leadership transfer.
func (c *cluster) transfer(id uint64) {
	c.t.Helper()
	lead := c.requireLeader("transfer")
	if lead == id {
		return
	}
	c.members[lead].rn.TransferLeader(id)
	c.pump()
	for i := 0; i < 50 && c.leader() != id; i++ {
		c.tickAll(1)
	}
	if got := c.leader(); got != id {
		c.t.Fatalf("transfer from %d to %d: leader is %d", lead, id, got)
	}
}

func (c *cluster) firstOf(kind nodeKind, not uint64) uint64 {
	for _, id := range c.ids() {
		k := c.members[id].kind
		if (k == kind || kind == kindPolyraft && isPoly(k)) && id != not {
			return id
		}
	}
	c.t.Fatalf("no %s member", kind)
	return 0
}

// snapshotTo isolates follower f, lets the leader commit more and compact
// its log, then heals: f must be caught up through a MsgSnap.
func (c *cluster) snapshotTo(f uint64, tag string) {
	c.t.Helper()
	lead := c.requireLeader("snapshot")
	c.isolate(f, true)
	c.proposeN(lead, 300, tag)
	l := c.members[lead]
	if _, err := l.st.CreateSnapshot(l.sm.index, l.cs, l.sm.encode()); err != nil {
		c.t.Fatalf("create snapshot at %d: %v", l.sm.index, err)
	}
	if err := l.st.Compact(l.sm.index); err != nil {
		c.t.Fatalf("compact at %d: %v", l.sm.index, err)
	}
	before := c.snapsTo[f]
	c.isolate(f, false)
	for i := 0; i < 100 && (c.snapsTo[f] == before || c.members[f].sm.index < l.sm.index); i++ {
		c.tickAll(1)
	}
	if c.snapsTo[f] == before {
		c.t.Fatalf("%s leader %d sent no snapshot to %s follower %d", l.kind, lead, c.members[f].kind, f)
	}
	fi, err := c.members[f].st.FirstIndex()
	if err != nil || fi <= 1 {
		c.t.Fatalf("follower %d storage first index %d (%v): snapshot not applied", f, fi, err)
	}
	c.requireConverged(tag)
}

func runInterop(t *testing.T, kinds []nodeKind) map[string]int {
	c := newCluster(t, interopConfig)
	peers := []uint64{1, 2, 3}
	for i, k := range kinds {
		c.add(uint64(i+1), k, peers)
	}
	c.pump()

	// 1. Elect the node whose kind is alone in the cluster.
	lone := uint64(3)
	if isPoly(kinds[1]) {
		lone = 1
	}
	c.elect(lone)
	t.Logf("leader %d (%s)", lone, c.members[lone].kind)

	// 2. Replicate 10,000 entries.
	c.proposeN(lone, 10000, "a")
	c.requireConverged("10,000 entries")
	if got := c.members[lone].sm.data; got != 10000 {
		t.Fatalf("leader applied %d data entries, want 10000", got)
	}

	// 3. Isolate the leader; a node of the other kind takes over; heal.
	c.isolate(lone, true)
	next := c.firstOf(otherKind(c.members[lone].kind), lone)
	c.elect(next)
	t.Logf("leader %d isolated, new leader %d (%s)", lone, next, c.members[next].kind)
	c.proposeN(next, 500, "b")
	c.tickAll(30) // the isolated leader steps down (CheckQuorum)
	if bs := c.members[lone].rn.BasicStatus(); bs.RaftState == StateLeader {
		t.Fatalf("isolated leader %d still leads", lone)
	}
	c.isolate(lone, false)
	c.tickAll(20)
	if got := c.requireLeader("after healing"); got != next {
		t.Fatalf("after healing, leader %d, want %d", got, next)
	}
	c.proposeN(next, 100, "c")
	c.requireConverged("after re-election")

	// 4. Snapshot from an etcd leader to a polyraft follower...
	c.transfer(c.firstOf(kindEtcd, 0))
	c.snapshotTo(c.firstOf(kindPolyraft, 0), "d")
	// ... and back.
	c.transfer(c.firstOf(kindPolyraft, 0))
	c.snapshotTo(c.firstOf(kindEtcd, 0), "e")

	// 5. Add a member (of the kind the leader is not), then remove it.
	lead := c.requireLeader("membership")
	newKind := otherKind(c.members[lead].kind)
	if err := c.members[lead].rn.ProposeConfChange(&pb.ConfChange{Type: pb.ConfChangeAddNode.Enum(), NodeId: new(uint64(4))}); err != nil {
		t.Fatalf("add member: %v", err)
	}
	c.pump()
	// The leader's snapshot must include the new member (a node refuses a
	// snapshot whose configuration lacks it): take one now.
	l := c.members[lead]
	if _, err := l.st.CreateSnapshot(l.sm.index, l.cs, l.sm.encode()); err != nil {
		t.Fatalf("create snapshot: %v", err)
	}
	if err := l.st.Compact(l.sm.index); err != nil {
		t.Fatalf("compact: %v", err)
	}
	c.add(4, newKind, nil)
	c.tickAll(30)
	if c.snapsTo[4] == 0 {
		t.Fatalf("member 4 got no snapshot")
	}
	c.proposeN(lead, 100, "f")
	c.requireConverged("with member 4")
	if got := c.members[4].cs.GetVoters(); len(got) != 4 {
		t.Fatalf("member 4 sees voters %v", got)
	}
	remove := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(uint64(4))}}}
	if err := c.members[lead].rn.ProposeConfChange(remove); err != nil {
		t.Fatalf("remove member: %v", err)
	}
	c.pump()
	c.members[4].removed = true
	c.proposeN(lead, 100, "g")
	c.tickAll(10)
	for _, id := range c.ids() {
		if got := c.members[id].cs.GetVoters(); fmt.Sprint(got) != "[1 2 3]" {
			t.Fatalf("member %d voters %v after removing 4", id, got)
		}
	}
	c.requireConverged("after removing member 4")

	var kindsSeen []string
	for k, n := range c.sent {
		if strings.Contains(k, "etcd->polyraft") || strings.Contains(k, "polyraft->etcd") {
			kindsSeen = append(kindsSeen, fmt.Sprintf("%s:%d", k, n))
		}
	}
	sort.Strings(kindsSeen)
	t.Logf("applied index %d; cross-kind messages: %s", c.members[1].sm.index, strings.Join(kindsSeen, ", "))
	return c.sent
}

func otherKind(k nodeKind) nodeKind {
	if k == kindEtcd {
		return kindPolyraft
	}
	return kindEtcd
}

func isPoly(k nodeKind) bool { return k != kindEtcd }
