package polyraft

import (
	"bytes"
	"slices"
	"testing"

	etcd "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Witnesses ride in etcd's ConfState as an unknown field: absent (etcd's
// bytes) without witnesses, kept through Marshal/Unmarshal with them.
func TestWitnessesInEtcdConfState(t *testing.T) {
	plain := &pb.ConfState{Voters: []uint64{1, 2}}
	b, err := proto.Marshal(plain)
	if err != nil || !bytes.Equal(b, []byte{0x08, 1, 0x08, 2}) {
		t.Fatalf("plain ConfState bytes % x, %v", b, err)
	}
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	SetWitnesses(cs, []uint64{3})
	SetWitnesses(cs, []uint64{3}) // replaces, does not append
	b, err = proto.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	var back pb.ConfState
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := Witnesses(&back); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("witnesses after a round trip: %v", got)
	}
	if Witnesses(nil) != nil || Witnesses(plain) != nil {
		t.Fatal("witnesses where there are none")
	}
}

// A witness restarted from a snapshot whose ConfState marks it never
// campaigns; the leader applying ConfChangeAddWitnessNode returns a
// ConfState with the witness, which CreateSnapshot keeps.
func TestWitnessRawNode(t *testing.T) {
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	SetWitnesses(cs, []uint64{3})
	ms := NewMemoryStorage()
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(1)), Term: new(uint64(1)), ConfState: cs}}
	if err := ms.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	cfg := nodeConfig(3)
	cfg.Storage = ms
	w, err := NewRawNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := w.Witnesses(); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("witnesses %v", got)
	}
	term := w.BasicStatus().HardState.GetTerm()
	_ = w.Campaign()
	for i := 0; i < 100; i++ {
		w.Tick()
	}
	if st := w.BasicStatus(); st.RaftState != etcd.StateFollower || st.HardState.GetTerm() != term {
		t.Fatalf("a witness campaigned: %+v", st)
	}

	// A single data voter adds a witness.
	ms1 := NewMemoryStorage()
	one := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(1)), Term: new(uint64(1)),
		ConfState: &pb.ConfState{Voters: []uint64{1}}}}
	if err := ms1.ApplySnapshot(one); err != nil {
		t.Fatal(err)
	}
	cfg = nodeConfig(1)
	cfg.Storage = ms1
	l, err := NewRawNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := l.ApplyConfChange(&pb.ConfChange{Type: ConfChangeAddWitnessNode.Enum(), NodeId: new(uint64(2))})
	if !slices.Equal(got.GetVoters(), []uint64{1, 2}) || !slices.Equal(Witnesses(got), []uint64{2}) {
		t.Fatalf("after adding a witness: %v witnesses %v", got, Witnesses(got))
	}
	if err := ms1.Append([]*pb.Entry{{Term: new(uint64(1)), Index: new(uint64(2))}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ms1.CreateSnapshot(2, got, nil); err != nil {
		t.Fatal(err)
	}
	s, _ := ms1.Snapshot()
	if w := Witnesses(s.GetMetadata().GetConfState()); !slices.Equal(w, []uint64{2}) {
		t.Fatalf("snapshot lost the witness: %v", w)
	}
}
