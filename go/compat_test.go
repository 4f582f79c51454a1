package polyraft

import (
	"reflect"
	"testing"

	raft "go.etcd.io/raft/v3"
)

// *RawNode has every exported method of etcd's *RawNode, with the same
// signature (so etcdRawNode in compat.go lists all of them).
func TestRawNodeMethodSet(t *testing.T) {
	etcdT := reflect.TypeOf((*raft.RawNode)(nil))
	polyT := reflect.TypeOf((*RawNode)(nil))
	listed := reflect.TypeOf((*etcdRawNode)(nil)).Elem()
	for i := 0; i < etcdT.NumMethod(); i++ {
		em := etcdT.Method(i)
		pm, ok := polyT.MethodByName(em.Name)
		if !ok {
			t.Errorf("*RawNode lacks etcd's method %s %v", em.Name, em.Type)
			continue
		}
		// Compare without the receiver.
		if !sameSignature(em.Type, pm.Type) {
			t.Errorf("%s: etcd %v, polyraft %v", em.Name, em.Type, pm.Type)
		}
		if _, ok := listed.MethodByName(em.Name); !ok {
			t.Errorf("etcdRawNode does not list %s", em.Name)
		}
	}
	if etcdT.NumMethod() != listed.NumMethod() {
		t.Errorf("etcd's *RawNode has %d methods, etcdRawNode lists %d", etcdT.NumMethod(), listed.NumMethod())
	}
}

func sameSignature(a, b reflect.Type) bool {
	if a.NumIn() != b.NumIn() || a.NumOut() != b.NumOut() || a.IsVariadic() != b.IsVariadic() {
		return false
	}
	for i := 1; i < a.NumIn(); i++ {
		if a.In(i) != b.In(i) {
			return false
		}
	}
	for i := 0; i < a.NumOut(); i++ {
		if a.Out(i) != b.Out(i) {
			return false
		}
	}
	return true
}

// A Node of this package is an etcd raft.Node, and the package's types are
// etcd's: values pass between the two without conversion.
func TestNodeIsEtcdNode(t *testing.T) {
	var n raft.Node = StartNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: NewMemoryStorage(),
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 16, Logger: DiscardLogger}, []raft.Peer{{ID: 1}})
	defer n.Stop()
	n.ReportSnapshot(2, raft.SnapshotFinish)
	var st raft.Status = n.Status()
	if st.ID != 1 {
		t.Fatalf("status id %d", st.ID)
	}
}
