package polyraft

import (
	"errors"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// wireTwin is a node with a storage of its own, in the initial state of
// node 1 of a three-voter cluster.
func wireTwin(t *testing.T) (*RawNode, *MemoryStorage) {
	t.Helper()
	ms, err := TryNewMemoryStorage()
	if err != nil {
		t.Fatal(err)
	}
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{
		ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}, Index: proto.Uint64(1), Term: proto.Uint64(1),
	}}
	if err := ms.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	rn, err := NewRawNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: ms,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, Logger: DiscardLogger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rn.Close(); ms.Close() })
	return rn, ms
}

// TestReadyWire drives two identical nodes the same way, one read with
// Ready and one with ReadyWire (and stepped with StepBytesBatch once):
// every Ready must be the same, and the wire messages must be the
// encodings of Ready's messages.
func TestReadyWire(t *testing.T) {
	a, sa := wireTwin(t)
	b, sb := wireTwin(t)
	check := func(step string) {
		t.Helper()
		if a.HasReady() != b.HasReady() {
			t.Fatalf("%s: HasReady differs", step)
		}
		ra, err := a.TryReady()
		if err != nil {
			t.Fatal(err)
		}
		rb, wms, err := b.ReadyWire()
		if err != nil {
			t.Fatal(err)
		}
		if rb.Messages != nil {
			t.Fatalf("%s: ReadyWire filled Messages", step)
		}
		if len(wms) != len(ra.Messages) {
			t.Fatalf("%s: %d wire messages, want %d", step, len(wms), len(ra.Messages))
		}
		for i, wm := range wms {
			m := &pb.Message{}
			if err := proto.Unmarshal(wm.Data, m); err != nil {
				t.Fatalf("%s: message %d: %v", step, i, err)
			}
			if !proto.Equal(m, ra.Messages[i]) || wm.To != m.GetTo() || wm.Type != m.GetType() {
				t.Fatalf("%s: message %d: wire %v (to %d, %v), want %v", step, i, m, wm.To, wm.Type, ra.Messages[i])
			}
		}
		ra.Messages = nil
		if step == "committed" && len(ra.CommittedEntries) < 4 {
			t.Fatalf("committed: %d committed entries, want the 4 proposed", len(ra.CommittedEntries))
		}
		if len(ra.Entries) != len(rb.Entries) || len(ra.CommittedEntries) != len(rb.CommittedEntries) ||
			!proto.Equal(ra.HardState, rb.HardState) || ra.MustSync != rb.MustSync ||
			(ra.SoftState == nil) != (rb.SoftState == nil) || (ra.SoftState != nil && *ra.SoftState != *rb.SoftState) {
			t.Fatalf("%s: Readys differ:\n%+v\n%+v", step, ra, rb)
		}
		for i := range ra.Entries {
			if !proto.Equal(ra.Entries[i], rb.Entries[i]) {
				t.Fatalf("%s: entry %d differs", step, i)
			}
		}
		for i := range ra.CommittedEntries {
			if !proto.Equal(ra.CommittedEntries[i], rb.CommittedEntries[i]) {
				t.Fatalf("%s: committed entry %d differs", step, i)
			}
		}
		for _, p := range []struct {
			rd Ready
			ms *MemoryStorage
			rn *RawNode
		}{{ra, sa, a}, {rb, sb, b}} {
			if !IsEmptyHardState(p.rd.HardState) {
				if err := p.ms.SetHardState(p.rd.HardState); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.ms.Append(p.rd.Entries); err != nil {
				t.Fatal(err)
			}
			if err := p.rn.TryAdvance(p.rd); err != nil {
				t.Fatal(err)
			}
		}
	}
	both := func(f func(rn *RawNode) error) {
		t.Helper()
		for _, rn := range []*RawNode{a, b} {
			if err := f(rn); err != nil {
				t.Fatal(err)
			}
		}
	}
	both(func(rn *RawNode) error { return rn.Campaign() })
	check("campaign")
	term := a.BasicStatus().HardState.GetTerm()
	for _, from := range []uint64{2, 3} {
		m := &pb.Message{Type: pb.MsgVoteResp.Enum(), From: proto.Uint64(from), To: proto.Uint64(1), Term: proto.Uint64(term)}
		both(func(rn *RawNode) error { return rn.Step(m) })
	}
	check("elected")
	if a.BasicStatus().RaftState != StateLeader {
		t.Fatal("node 1 must win")
	}
	for i := 0; i < 3; i++ {
		both(func(rn *RawNode) error { return rn.Propose([]byte{byte(i), 1, 2, 3}) })
	}
	both(func(rn *RawNode) error { return rn.Propose(nil) })
	check("proposed")
	last, err := sa.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	// a steps the responses one by one, b in one batch (after a message
	// that fails to decode, which it skips).
	batch := [][]byte{{0xff, 0xff, 0xff}}
	for _, from := range []uint64{2, 3} {
		m := &pb.Message{Type: pb.MsgAppResp.Enum(), From: proto.Uint64(from), To: proto.Uint64(1), Term: proto.Uint64(term), Index: proto.Uint64(last)}
		if err := a.Step(m); err != nil {
			t.Fatal(err)
		}
		data, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, data)
	}
	n, err := b.StepBytesBatch(batch)
	if n != 0 || !errors.Is(err, ErrDecode) {
		t.Fatalf("StepBytesBatch = %d, %v; want 0, a decode error", n, err)
	}
	if n, err := b.StepBytesBatch(batch[n+1:]); n != 2 || err != nil {
		t.Fatalf("StepBytesBatch = %d, %v; want 2, nil", n, err)
	}
	check("committed")
	if n, err := b.StepBytesBatch(nil); n != 0 || err != nil {
		t.Fatalf("StepBytesBatch(nil) = %d, %v", n, err)
	}
}
