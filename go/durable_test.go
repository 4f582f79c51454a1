package polyraft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// durableMember is one node of durableCluster: its directory, its open
// storage and RawNode (nil while down), and its state machine: the data of
// every applied normal entry by index.
type durableMember struct {
	id      uint64
	dir     string
	ds      *DurableStorage
	rn      *RawNode
	cs      *pb.ConfState
	applied uint64
	data    map[uint64]string
}

// durableCluster runs RawNodes over DurableStorages in one process,
// exchanging messages through an in-memory queue.
type durableCluster struct {
	t        *testing.T
	segBytes uint64
	peers    []Peer
	members  map[uint64]*durableMember
	queue    []*pb.Message
}

func newDurableCluster(t *testing.T, n int, segBytes uint64) *durableCluster {
	c := &durableCluster{t: t, segBytes: segBytes, members: map[uint64]*durableMember{}}
	root := t.TempDir()
	for i := 1; i <= n; i++ {
		id := uint64(i)
		c.peers = append(c.peers, Peer{ID: id})
		c.members[id] = &durableMember{id: id, dir: filepath.Join(root, fmt.Sprintf("node-%d", id))}
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			if m.rn != nil {
				c.stop(m.id)
			}
		}
	})
	return c
}

// start opens a member's directory and creates its node: bootstrapped when
// the storage is new, restarted from the recovered snapshot otherwise.
func (c *durableCluster) start(id uint64) RecoveryReport {
	c.t.Helper()
	m := c.members[id]
	ds, err := OpenDurableStorage(m.dir, &DurableOptions{SegmentBytes: c.segBytes})
	if err != nil {
		c.t.Fatalf("open %d: %v", id, err)
	}
	rep := ds.RecoveryReport()
	m.data, m.applied, m.cs = map[uint64]string{}, 0, nil
	if !rep.Created {
		snap, err := ds.Snapshot()
		if err != nil {
			c.t.Fatalf("snapshot %d: %v", id, err)
		}
		m.restore(c.t, snap)
	}
	rn, err := NewRawNode(&Config{
		ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: ds,
		Applied: rep.SnapshotIndex, MaxSizePerMsg: 64 << 10, MaxInflightMsgs: 64,
		Logger: DiscardLogger,
	})
	if err != nil {
		c.t.Fatalf("new raw node %d: %v", id, err)
	}
	if rep.Created {
		if err := rn.Bootstrap(c.peers); err != nil {
			c.t.Fatalf("bootstrap %d: %v", id, err)
		}
	}
	m.ds, m.rn = ds, rn
	return rep
}

// stop closes a member's node and storage (a clean shutdown: every write
// was already durable).
func (c *durableCluster) stop(id uint64) {
	m := c.members[id]
	if err := m.rn.Close(); err != nil {
		c.t.Errorf("close node %d: %v", id, err)
	}
	if err := m.ds.Close(); err != nil {
		c.t.Errorf("close storage %d: %v", id, err)
	}
	m.rn, m.ds = nil, nil
}

func (m *durableMember) restore(t *testing.T, snap *pb.Snapshot) {
	m.data = map[uint64]string{}
	if len(snap.GetData()) > 0 {
		if err := json.Unmarshal(snap.GetData(), &m.data); err != nil {
			t.Fatalf("restore %d: %v", m.id, err)
		}
	}
	m.applied = snap.GetMetadata().GetIndex()
	m.cs = snap.GetMetadata().GetConfState()
}

// handleReady handles every pending Ready of a member; reports whether
// there was one.
func (c *durableCluster) handleReady(m *durableMember) bool {
	c.t.Helper()
	did := false
	for m.rn != nil && m.rn.HasReady() {
		did = true
		rd, err := m.rn.TryReady()
		if err != nil {
			c.t.Fatalf("ready %d: %v", m.id, err)
		}
		// Persist before sending: the messages may promise what was
		// just written.
		if err := m.ds.PersistReady(rd); err != nil {
			c.t.Fatalf("persist ready %d: %v", m.id, err)
		}
		c.queue = append(c.queue, rd.Messages...)
		if !IsEmptySnap(rd.Snapshot) {
			m.restore(c.t, rd.Snapshot)
		}
		for _, e := range rd.CommittedEntries {
			switch e.GetType() {
			case pb.EntryNormal:
				if len(e.Data) > 0 {
					m.data[e.GetIndex()] = string(e.Data)
				}
			case pb.EntryConfChange:
				var cc pb.ConfChange
				if err := proto.Unmarshal(e.Data, &cc); err != nil {
					c.t.Fatalf("conf change %d: %v", m.id, err)
				}
				if m.cs, err = m.rn.TryApplyConfChange(&cc); err != nil {
					c.t.Fatalf("apply conf change %d: %v", m.id, err)
				}
			}
			m.applied = e.GetIndex()
		}
		if err := m.rn.TryAdvance(rd); err != nil {
			c.t.Fatalf("advance %d: %v", m.id, err)
		}
	}
	return did
}

// deliver sends the queued messages; those to a down member are lost.
func (c *durableCluster) deliver() bool {
	if len(c.queue) == 0 {
		return false
	}
	q := c.queue
	c.queue = nil
	for _, msg := range q {
		to := c.members[msg.GetTo()]
		if to == nil || to.rn == nil {
			if msg.GetType() == pb.MsgSnap {
				c.members[msg.GetFrom()].rn.ReportSnapshot(msg.GetTo(), SnapshotFailure)
			}
			continue
		}
		if err := to.rn.Step(msg); err != nil && !errors.Is(err, ErrStepPeerNotFound) {
			c.t.Fatalf("step %v on %d: %v", msg.GetType(), to.id, err)
		}
		if msg.GetType() == pb.MsgSnap {
			c.members[msg.GetFrom()].rn.ReportSnapshot(msg.GetTo(), SnapshotFinish)
		}
	}
	return true
}

// stabilize handles Readies and delivers messages until nothing moves.
func (c *durableCluster) stabilize() {
	c.t.Helper()
	for range 10000 {
		moved := false
		for _, id := range c.ids() {
			if c.handleReady(c.members[id]) {
				moved = true
			}
		}
		if c.deliver() {
			moved = true
		}
		if !moved {
			return
		}
	}
	c.t.Fatal("cluster did not stabilize")
}

func (c *durableCluster) ids() []uint64 {
	ids := make([]uint64, 0, len(c.members))
	for id := range c.members {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// elect makes id campaign and checks it wins.
func (c *durableCluster) elect(id uint64) {
	c.t.Helper()
	if err := c.members[id].rn.Campaign(); err != nil {
		c.t.Fatalf("campaign %d: %v", id, err)
	}
	c.stabilize()
	if st := c.members[id].rn.BasicStatus(); st.RaftState != StateLeader {
		c.t.Fatalf("node %d is %v after campaigning", id, st.RaftState)
	}
}

// propose proposes the values [from, to) on the leader, in batches.
func (c *durableCluster) propose(lead uint64, from, to int) {
	c.t.Helper()
	for i := from; i < to; {
		var batch [][]byte
		for ; i < to && len(batch) < 25; i++ {
			batch = append(batch, []byte(fmt.Sprintf("value-%04d-%s", i, strings.Repeat("x", 40))))
		}
		if err := c.members[lead].rn.ProposeBatch(batch); err != nil {
			c.t.Fatalf("propose: %v", err)
		}
		c.stabilize()
	}
}

// snapshot makes a member snapshot its state machine and compact its log.
func (c *durableCluster) snapshot(id uint64) {
	c.t.Helper()
	m := c.members[id]
	b, err := json.Marshal(m.data)
	if err != nil {
		c.t.Fatal(err)
	}
	snap, err := m.ds.CreateSnapshot(m.applied, m.cs, b)
	if err != nil {
		c.t.Fatalf("create snapshot %d: %v", id, err)
	}
	if snap.GetMetadata().GetIndex() != m.applied {
		c.t.Fatalf("snapshot %d at %d, want %d", id, snap.GetMetadata().GetIndex(), m.applied)
	}
	if err := m.ds.Compact(m.applied); err != nil {
		c.t.Fatalf("compact %d: %v", id, err)
	}
	if fi, err := m.ds.FirstIndex(); err != nil || fi != m.applied+1 {
		c.t.Fatalf("first index %d after compacting to %d (%v)", fi, m.applied, err)
	}
}

// values returns the values applied by a member, in index order.
func (m *durableMember) values() []string {
	idx := make([]uint64, 0, len(m.data))
	for i := range m.data {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = m.data[i]
	}
	return out
}

// checkValues checks that every running member applied exactly want.
func (c *durableCluster) checkValues(want int) {
	c.t.Helper()
	for _, id := range c.ids() {
		m := c.members[id]
		if m.rn == nil {
			continue
		}
		got := m.values()
		if len(got) != want {
			c.t.Fatalf("node %d applied %d values, want %d", id, len(got), want)
		}
		for i, v := range got {
			if !strings.HasPrefix(v, fmt.Sprintf("value-%04d-", i)) {
				c.t.Fatalf("node %d: value %d is %.12q", id, i, v)
			}
		}
	}
}

func TestDurableCluster(t *testing.T) {
	c := newDurableCluster(t, 3, 16<<10)
	for _, id := range c.ids() {
		rep := c.start(id)
		if !rep.Created || rep.Records != 0 || rep.LastIndex != 0 {
			t.Fatalf("fresh directory of %d: %+v", id, rep)
		}
	}
	c.stabilize()
	c.elect(1)

	// 400 values on three nodes, then 600 more while node 3 is down; the
	// other two snapshot and compact along the way, so node 3 catches up
	// by snapshot and then by entries.
	c.propose(1, 0, 400)
	c.checkValues(400)
	last3, _ := c.members[3].ds.LastIndex()
	hs3, _ := c.members[3].ds.HardState()
	c.stop(3)

	c.propose(1, 400, 700)
	c.snapshot(1)
	c.snapshot(2)
	c.propose(1, 700, 1000)
	c.checkValues(1000)
	for _, id := range []uint64{1, 2} {
		st, err := c.members[id].ds.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Fsyncs == 0 || st.Readies == 0 || st.BytesWritten == 0 || st.SegmentsCreated < 2 || st.SegmentsDeleted == 0 {
			t.Fatalf("stats of %d: %+v", id, st)
		}
	}

	rep := c.start(3)
	if rep.Created || rep.Records == 0 || rep.Segments < 2 || rep.Truncated || rep.LastIndex != last3 || rep.FirstIndex != 1 {
		t.Fatalf("reopened node 3 (last index %d before): %+v", last3, rep)
	}
	if hs, _ := c.members[3].ds.HardState(); hs.GetTerm() != hs3.GetTerm() || hs.GetCommit() != hs3.GetCommit() || hs.GetVote() != hs3.GetVote() {
		t.Fatalf("node 3 hard state %v, was %v", hs, hs3)
	}
	c.stabilize()
	// The committed entries up to the hard state's commit came back out.
	if got := len(c.members[3].values()); got != 400 {
		t.Fatalf("reopened node 3 replayed %d values, want 400", got)
	}
	// A heartbeat round finds node 3 behind: the leader sends it the
	// snapshot and the entries after it.
	for range 2 {
		c.members[1].rn.Tick()
	}
	c.stabilize()
	c.propose(1, 1000, 1010)
	c.checkValues(1010)
	if snap, _ := c.members[3].ds.Snapshot(); IsEmptySnap(snap) {
		t.Fatal("node 3 caught up without the leader's snapshot")
	}

	// The whole cluster restarted from disk keeps every committed entry.
	commit := c.members[1].rn.BasicStatus().GetCommit()
	for _, id := range c.ids() {
		c.stop(id)
	}
	for _, id := range c.ids() {
		rep := c.start(id)
		if rep.Created || rep.LastIndex < commit {
			t.Fatalf("restarted node %d (commit was %d): %+v", id, commit, rep)
		}
		if rep.SnapshotIndex != c.members[id].applied {
			t.Fatalf("restarted node %d: snapshot %d, state machine at %d", id, rep.SnapshotIndex, c.members[id].applied)
		}
	}
	c.stabilize()
	c.checkValues(1010)
	c.elect(2)
	c.propose(2, 1010, 1020)
	c.checkValues(1020)
}

// TestDurableNode drives a Node (goroutine) over a durable storage.
func TestDurableNode(t *testing.T) {
	dir := t.TempDir()
	ds, err := OpenDurableStorage(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	n, err := TryStartNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: ds, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 16, Logger: DiscardLogger}, []Peer{{ID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const want = 20
	proposed := 0
	var got []string
	campaigned := false
	for len(got) < want {
		select {
		case rd := <-n.Ready():
			if err := ds.PersistReady(rd); err != nil {
				t.Fatalf("persist ready: %v", err)
			}
			for _, e := range rd.CommittedEntries {
				if e.GetType() == pb.EntryConfChange {
					var cc pb.ConfChange
					if err := proto.Unmarshal(e.Data, &cc); err != nil {
						t.Fatal(err)
					}
					n.ApplyConfChange(&cc)
				} else if len(e.Data) > 0 {
					got = append(got, string(e.Data))
				}
			}
			lead := rd.SoftState != nil && rd.SoftState.RaftState == StateLeader
			n.Advance()
			if !campaigned {
				// Once the bootstrap configuration is applied.
				campaigned = true
				if err := n.Campaign(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if lead {
				for ; proposed < want; proposed++ {
					go func(i int) { _ = n.Propose(ctx, []byte(fmt.Sprintf("v%d", i))) }(proposed)
				}
			}
		case <-ctx.Done():
			t.Fatalf("timed out with %d values", len(got))
		}
	}
	n.Stop()
	ds.Close()

	ds2, err := OpenDurableStorage(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ds2.Close()
	rep := ds2.RecoveryReport()
	hs, _ := ds2.HardState()
	if rep.Created || rep.LastIndex < uint64(want)+1 || hs.GetCommit() < uint64(want)+1 {
		t.Fatalf("reopened: %+v, hard state %v", rep, hs)
	}
}

// TestDurableAsyncWrites persists MsgStorageAppend messages of a node with
// async storage writes.
func TestDurableAsyncWrites(t *testing.T) {
	dir := t.TempDir()
	ds, err := OpenDurableStorage(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	rn, err := NewRawNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: ds, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 16, AsyncStorageWrites: true, Logger: DiscardLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer rn.Close()
	if err := rn.Bootstrap([]Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	applied := 0
	run := func() {
		for i := 0; rn.HasReady(); i++ {
			if i > 1000 {
				t.Fatal("no end of Readies")
			}
			rd, err := rn.TryReady()
			if err != nil {
				t.Fatal(err)
			}
			// An async Ready carries nothing to persist (its
			// MsgStorageAppend does).
			if err := ds.PersistReady(rd); err != nil {
				t.Fatalf("persist ready with async writes: %v", err)
			}
			for _, m := range rd.Messages {
				switch m.GetTo() {
				case LocalAppendThread:
					if err := ds.PersistStorageAppend(m); err != nil {
						t.Fatalf("persist storage append: %v", err)
					}
				case LocalApplyThread:
					for _, e := range m.Entries {
						if e.GetType() == pb.EntryConfChange {
							var cc pb.ConfChange
							if err := proto.Unmarshal(e.Data, &cc); err != nil {
								t.Fatal(err)
							}
							if _, err := rn.TryApplyConfChange(&cc); err != nil {
								t.Fatal(err)
							}
						} else if len(e.Data) > 0 {
							applied++
						}
					}
				default:
					continue
				}
				for _, resp := range m.Responses {
					if err := rn.Step(resp); err != nil {
						t.Fatalf("step %v: %v", resp.GetType(), err)
					}
				}
			}
		}
	}
	run()
	if err := rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	run()
	for i := range 10 {
		if err := rn.Propose([]byte(fmt.Sprintf("a%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if applied != 10 {
		t.Fatalf("applied %d values, want 10", applied)
	}
	if err := ds.PersistStorageAppend(&pb.Message{Type: pb.MsgApp.Enum()}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("persist of a MsgApp: %v", err)
	}
	last, _ := ds.LastIndex()
	st, _ := ds.Stats()
	if last < 12 || st.Readies == 0 || st.Fsyncs == 0 {
		t.Fatalf("last index %d, stats %+v", last, st)
	}
}

// segments lists the segment files of a directory, oldest first.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// fillDurable writes n entries of 100 bytes to a new storage in dir with
// small segments, and closes it.
func fillDurable(t *testing.T, dir string, n int) {
	t.Helper()
	ds, err := OpenDurableStorage(dir, &DurableOptions{SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	for i := 1; i <= n; i += 10 {
		var ents []*pb.Entry
		for j := i; j < i+10 && j <= n; j++ {
			ents = append(ents, &pb.Entry{Index: new(uint64(j)), Term: new(uint64(1)), Data: []byte(strings.Repeat("d", 100))})
		}
		if err := ds.Append(ents); err != nil {
			t.Fatal(err)
		}
	}
	if err := ds.SetHardState(&pb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(n))}); err != nil {
		t.Fatal(err)
	}
}

func TestDurableCorruptClosedSegment(t *testing.T) {
	dir := t.TempDir()
	fillDurable(t, dir, 200)
	segs := segments(t, dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 2; i < len(b)/2+8; i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(segs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := OpenDurableStorage(dir, &DurableOptions{SegmentBytes: 4096})
	if err == nil {
		ds.Close()
		t.Fatal("opened a directory with a damaged closed segment")
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("want ErrCorrupt, got %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Detail, filepath.Base(segs[0])) {
		t.Fatalf("detail does not name the segment: %v", err)
	}
	// The damaged file is left as it was.
	if after, _ := os.ReadFile(segs[0]); string(after) != string(b) {
		t.Fatal("the damaged segment was modified")
	}
}

func TestDurableTornTail(t *testing.T) {
	dir := t.TempDir()
	fillDurable(t, dir, 50)
	segs := segments(t, dir)
	lastSeg := segs[len(segs)-1]
	fi, err := os.Stat(lastSeg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(lastSeg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Half a record header: a write cut short by a crash.
	if _, err := f.Write([]byte{0x40, 0, 0}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ds, err := OpenDurableStorage(dir, &DurableOptions{SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	rep := ds.RecoveryReport()
	if !rep.Truncated || rep.TruncatedOffset != uint64(fi.Size()) || rep.DroppedBytes != 3 ||
		rep.TruncationReason == "" || filepath.Base(rep.TruncatedSegment) != filepath.Base(lastSeg) || rep.LastIndex != 50 {
		t.Fatalf("torn tail: %+v", rep)
	}
	if hs, _ := ds.HardState(); hs.GetCommit() != 50 {
		t.Fatalf("hard state %v", hs)
	}
	if term, err := ds.Term(50); err != nil || term != 1 {
		t.Fatalf("term(50) = %d, %v", term, err)
	}
}

func TestDurableErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory that cannot be created (under a regular file).
	if _, err := OpenDurableStorage(filepath.Join(file, "raft"), nil); !errors.Is(err, ErrIO) {
		t.Fatalf("directory under a file: want ErrIO, got %v", err)
	} else if !strings.Contains(err.Error(), "file") {
		t.Fatalf("no detail: %v", err)
	}
	if _, err := OpenDurableStorage("", nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty path: %v", err)
	}
	if _, err := OpenDurableStorage("a\x00b", nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("path with a NUL: %v", err)
	}

	ds, err := OpenDurableStorage(filepath.Join(dir, "raft"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Append([]*pb.Entry{{Index: new(uint64(5)), Term: new(uint64(1))}}); !errors.Is(err, ErrStorage) {
		t.Fatalf("append after a gap: %v", err)
	}
	if _, err := ds.Term(7); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("term beyond the log: %v", err)
	}
	// etcd panics on a read past the log; polyraft reports it.
	if _, err := ds.Entries(1, 2, 100); err == nil {
		t.Fatal("entries past the log: no error")
	}

	// PersistReady writes a Ready's content, whichever node made it.
	ms, err := TryNewMemoryStorage()
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	rn, err := NewRawNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: ms, MaxInflightMsgs: 1, Logger: DiscardLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer rn.Close()
	if err := rn.Bootstrap([]Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	rd, err := rn.TryReady()
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.PersistReady(rd); err != nil {
		t.Fatalf("Ready of a memory node: %v", err)
	}
	if err := ds.PersistReady(Ready{}); err != nil {
		t.Fatalf("empty Ready: %v", err)
	}
	ents, err := ds.Entries(1, 2, 100)
	if err != nil || len(ents) != 1 || ents[0].GetType() != pb.EntryConfChange {
		t.Fatalf("entries after persisting the bootstrap Ready: %v %v", ents, err)
	}

	// A node cannot be created over a closed storage; a closed storage
	// refuses calls.
	ds.Close()
	ds.Close()
	if _, err := NewRawNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: ds, MaxInflightMsgs: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("node over a closed storage: %v", err)
	}
	if _, err := ds.LastIndex(); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed storage: %v", err)
	}
	if !ds.RecoveryReport().Created {
		t.Fatal("the report is kept after Close")
	}
}
