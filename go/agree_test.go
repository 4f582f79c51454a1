package polyraft

import (
	"errors"
	"os"
	"syscall"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// The table "one behaviour in every binding" (go/README.md, "Errors"):
// the same mistakes give the same answers as in C and Python, except
// Ready, which accumulates as etcd's does.
func TestBindingsAgree(t *testing.T) {
	rn, err := NewRawNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: NewMemoryStorage(),
		MaxInflightMsgs: 256, Logger: discardLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer rn.Close()
	if err := rn.Bootstrap(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Bootstrap([]) = %v, want ErrInvalidArgument", err)
	}
	err = rn.Bootstrap([]Peer{{ID: 0}})
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Bootstrap([0]) = %v, want ErrInvalidArgument", err)
	}
	if err := rn.Bootstrap([]Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := rn.TryAdvance(Ready{}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("TryAdvance without a Ready = %v, want ErrInvalidState", err)
	}
	// etcd's Ready accumulates: a second call before Advance is no error.
	rd1 := rn.Ready()
	if _, err := rn.TryReady(); err != nil {
		t.Fatalf("second TryReady: %v (etcd accumulates)", err)
	}
	rn.Advance(rd1)
	// TransferLeader has etcd's signature (no error) and ignores id 0; the
	// node stays usable.
	rn.TransferLeader(0)
	if err := rn.Err(); err != nil {
		t.Fatalf("TransferLeader(0) broke the node: %v", err)
	}
	if _, err := OpenDurableStorage("", nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf(`OpenDurableStorage("") = %v, want ErrInvalidArgument`, err)
	}
}

// codeErrors lists exactly the codes the library names (one table in the
// library; this package's map is checked against it).
func TestCodeErrorsMatchLibrary(t *testing.T) {
	named := 0
	for code := uint32(0); code < 256; code++ {
		name := resultName(code)
		_, mapped := codeErrors[cResult(code)]
		switch {
		case code == 0:
			if name != "POLYRAFT_OK" || mapped {
				t.Fatalf("code 0: name %q, mapped %v", name, mapped)
			}
		case name != "" && !mapped:
			t.Errorf("%s (%d) has no sentinel", name, code)
		case name == "" && mapped:
			t.Errorf("code %d is mapped but unknown to the library", code)
		}
		if name != "" {
			named++
		}
	}
	if named != 24 {
		t.Fatalf("the library names %d codes, want 24", named)
	}
}

// An I/O error of a DurableStorage carries its errno.
func TestDurableErrno(t *testing.T) {
	dir := t.TempDir() + "/gone"
	ds, err := OpenDurableStorage(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err = ds.ApplySnapshot(&pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(5)), Term: new(uint64(1)),
		ConfState: &pb.ConfState{Voters: []uint64{1}}}})
	var errno syscall.Errno
	if !errors.Is(err, ErrIO) || !errors.As(err, &errno) || errno != syscall.ENOENT {
		t.Fatalf("write into a removed directory: %v (errno %v), want ErrIO with ENOENT", err, errno)
	}
}

// etcd's list of local message types (IsLocalMsg, which this package
// uses) and the core's are the same list.
func TestLocalMessagesMatchCore(t *testing.T) {
	local := 0
	for typ := range pb.MessageType_name {
		mt := pb.MessageType(typ)
		if IsLocalMsg(mt) != libIsLocalMsg(mt) {
			t.Errorf("%v: etcd says local=%v, the core %v", mt, IsLocalMsg(mt), libIsLocalMsg(mt))
		}
		if IsLocalMsg(mt) {
			local++
		}
	}
	if local == 0 || libIsLocalMsg(pb.MessageType(1000)) {
		t.Fatalf("local types: %d; unknown type 1000 local: %v", local, libIsLocalMsg(pb.MessageType(1000)))
	}
}
