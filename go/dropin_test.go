package polyraft

// Regression tests of the drop-in work (issue 16, items 4 to 9): what an
// etcd raft program relies on and polyraft did differently.

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	etcd "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Item 4: the snapshot of an empty storage has Metadata (and its
// ConfState, Index and Term) set, as etcd guarantees; raftexample
// dereferences it on start.
func TestEmptySnapshotMetadata(t *testing.T) {
	ms := NewMemoryStorage()
	defer ms.Close()
	ds, err := OpenDurableStorage(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	want, _ := etcd.NewMemoryStorage().Snapshot()
	for name, s := range map[string]Storage{"memory": ms, "durable": ds} {
		snap, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		md := snap.Metadata
		if md == nil || md.ConfState == nil || md.Index == nil || md.Term == nil {
			t.Fatalf("%s: empty snapshot lacks metadata: %v", name, snap)
		}
		if !proto.Equal(snap, want) {
			t.Fatalf("%s: empty snapshot %v, etcd's %v", name, snap, want)
		}
		_ = *snap.Metadata.Index // what raftexample does
	}
}

// Item 5: a Ready is a plain value: two Readys of the same work compare
// equal with reflect.DeepEqual, and reading one (printing it, comparing
// it) while the node goes on is race-free (run under -race).
func TestReadyIsPlainValue(t *testing.T) {
	newNode := func() *RawNode {
		rn, err := NewRawNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: NewMemoryStorage(),
			MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 16, Logger: DiscardLogger})
		if err != nil {
			t.Fatal(err)
		}
		if err := rn.Bootstrap([]Peer{{ID: 1}, {ID: 2}}); err != nil {
			t.Fatal(err)
		}
		return rn
	}
	a, b := newNode(), newNode()
	defer a.Close()
	defer b.Close()
	ra, rb := a.Ready(), b.Ready()
	if !reflect.DeepEqual(ra, rb) {
		t.Fatalf("Readys of the same work differ:\n%v\n%v", DescribeReady(ra, nil), DescribeReady(rb, nil))
	}
	if len(ra.Entries) != 2 || ra.HardState == nil {
		t.Fatalf("bootstrap Ready: %s", DescribeReady(ra, nil))
	}
	// A Ready is still the same value after Advance and later work.
	kept := Ready{Entries: cloneEntries(ra.Entries), HardState: proto.Clone(ra.HardState).(*pb.HardState),
		CommittedEntries: cloneEntries(ra.CommittedEntries), SoftState: ra.SoftState, MustSync: ra.MustSync}
	a.Advance(ra)

	// A Node's Readys, read by another goroutine while the node runs.
	n := StartNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: NewMemoryStorage(),
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 16, Logger: DiscardLogger}, []Peer{{ID: 1}})
	defer n.Stop()
	rd := <-n.Ready()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = DescribeReady(rd, nil)
		_ = reflect.DeepEqual(rd, Ready{})
	}()
	n.Advance()
	_ = n.Campaign(context.Background())
	n.Tick()
	wg.Wait()
	if !reflect.DeepEqual(ra.Entries, kept.Entries) || !reflect.DeepEqual(ra.HardState, kept.HardState) {
		t.Fatal("a Ready changed after Advance")
	}
}

func cloneEntries(ents []*pb.Entry) []*pb.Entry {
	out := make([]*pb.Entry, len(ents))
	for i, e := range ents {
		out[i] = proto.Clone(e).(*pb.Entry)
	}
	return out
}

// Item 6: the Node rebuilds its pending Ready until the application takes
// it, so proposals made meanwhile join it, and committed entries are paged
// as etcd pages them (etcd's TestCommitPagination: 3 entries appended in
// one Ready, committed in two Readys of 2 and 1). The same script runs on
// etcd's Node for comparison.
func TestNodeBatchesLikeEtcd(t *testing.T) {
	script := func(t *testing.T, start func(*Config, []Peer) Node, st interface {
		Storage
		Append([]*pb.Entry) error
	}) []int {
		cfg := &Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: st, MaxSizePerMsg: 1 << 20,
			MaxInflightMsgs: 256, MaxCommittedSizePerReady: 2048, Logger: DiscardLogger}
		n := start(cfg, []Peer{{ID: 1}})
		defer n.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		next := func() Ready {
			select {
			case rd := <-n.Ready():
				if err := st.Append(rd.Entries); err != nil {
					t.Fatal(err)
				}
				for _, e := range rd.CommittedEntries {
					if e.GetType() == pb.EntryConfChange {
						var cc pb.ConfChange
						if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
							t.Fatal(err)
						}
						n.ApplyConfChange(&cc)
					}
				}
				return rd
			case <-ctx.Done():
				t.Fatal("no Ready")
			}
			return Ready{}
		}
		next() // bootstrap
		n.Advance()
		if err := n.Campaign(ctx); err != nil {
			t.Fatal(err)
		}
		for n.Status().RaftState != StateLeader {
			next()
			n.Advance()
		}
		// Handle what the election left (the empty entry, its commit).
	drain:
		for {
			select {
			case rd := <-n.Ready():
				if err := st.Append(rd.Entries); err != nil {
					t.Fatal(err)
				}
				n.Advance()
			case <-time.After(100 * time.Millisecond):
				break drain
			}
		}
		var sizes []int
		blob := []byte(strings.Repeat("a", 1000))
		for i := 0; i < 3; i++ {
			if err := n.Propose(ctx, blob); err != nil {
				t.Fatal(err)
			}
		}
		rd := next()
		sizes = append(sizes, len(rd.Entries))
		n.Advance()
		for got := 0; got < 3; {
			rd = next()
			k := 0
			for _, e := range rd.CommittedEntries {
				if len(e.GetData()) == 1000 {
					k++
				}
			}
			if k > 0 {
				sizes = append(sizes, k)
			}
			got += k
			n.Advance()
		}
		return sizes
	}
	want := script(t, etcd.StartNode, etcd.NewMemoryStorage())
	got := script(t, StartNode, NewMemoryStorage())
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(want, []int{3, 2, 1}) {
		t.Fatalf("appended then committed per Ready: polyraft %v, etcd %v (etcd's test wants [3 2 1])", got, want)
	}
}

// wrappedStorage is an application's Storage that embeds a MemoryStorage
// and overrides some reads (counting them, and failing them on demand).
type wrappedStorage struct {
	*MemoryStorage
	entries, terms atomic.Int64
	broken         atomic.Bool
}

var errDiskGone = errors.New("disk gone")

func (s *wrappedStorage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	s.entries.Add(1)
	if s.broken.Load() {
		return nil, errDiskGone
	}
	return s.MemoryStorage.Entries(lo, hi, maxSize)
}

func (s *wrappedStorage) Term(i uint64) (uint64, error) {
	s.terms.Add(1)
	if s.broken.Load() {
		return 0, errDiskGone
	}
	return s.MemoryStorage.Term(i)
}

// runSingle drives a single-node Node over st until it leads, handling its
// Readys in a goroutine until stop is closed.
func runSingle(t *testing.T, st *wrappedStorage) (Node, func()) {
	t.Helper()
	n := StartNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: st, MaxSizePerMsg: 1 << 20,
		MaxInflightMsgs: 16, Logger: DiscardLogger}, []Peer{{ID: 1}})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case rd := <-n.Ready():
				_ = st.Append(rd.Entries)
				if rd.HardState != nil {
					_ = st.SetHardState(rd.HardState)
				}
				for _, e := range rd.CommittedEntries {
					if e.GetType() == pb.EntryConfChange {
						var cc pb.ConfChange
						_ = proto.Unmarshal(e.GetData(), &cc)
						n.ApplyConfChange(&cc)
					}
				}
				n.Advance()
			case <-stop:
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n.Status().RaftState != StateLeader {
		if err := n.Campaign(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if ctx.Err() != nil {
			t.Fatal("no leader")
		}
	}
	return n, func() { close(stop); <-done; n.Stop() }
}

// Items 7 and 8: a Go Storage that embeds a *MemoryStorage works (its
// entries are read through the library) and is called back, not read
// natively behind its overriding methods.
func TestStorageEmbeddingMemoryStorage(t *testing.T) {
	st := &wrappedStorage{MemoryStorage: NewMemoryStorage()}
	n, stop := runSingle(t, st)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 20; i++ {
		if err := n.Propose(ctx, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for n.Status().Applied < 22 {
		if ctx.Err() != nil {
			t.Fatalf("applied %d", n.Status().Applied)
		}
		time.Sleep(time.Millisecond)
	}
	if st.terms.Load() == 0 {
		t.Fatal("the storage's own Term was never called: read natively behind its back")
	}
	if err := NodeErr(n); err != nil {
		t.Fatal(err)
	}
	// The entries read back through the C API.
	ents, err := st.MemoryStorage.Entries(1, 23, 1<<20)
	if err != nil || len(ents) != 22 || string(ents[21].GetData()) != "v" {
		t.Fatalf("entries: %d %v", len(ents), err)
	}
	if ents, _ := st.MemoryStorage.Entries(2, 23, 1); len(ents) != 1 {
		t.Fatalf("maxSize: %d entries, want 1", len(ents))
	}
	if err := st.MemoryStorage.Compact(10); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MemoryStorage.Entries(5, 12, 1<<20); err != ErrCompacted {
		t.Fatalf("compacted entries: %v, want ErrCompacted itself", err)
	}
}

// Item 9: a storage failure inside the Node goroutine ends the calls that
// wait for it at once, with the failure, even with no ticks.
func TestNodeStorageFailureEndsWaiters(t *testing.T) {
	st := &wrappedStorage{MemoryStorage: NewMemoryStorage()}
	n, stop := runSingle(t, st)
	defer stop()
	st.broken.Store(true)
	res := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() { res <- n.Propose(context.TODO(), []byte("x")) }()
	}
	deadline := time.After(10 * time.Second)
	failed := 0
	for i := 0; i < 8; i++ {
		select {
		case err := <-res:
			if err != nil {
				failed++
				if !errors.Is(err, errDiskGone) && !errors.Is(err, ErrFatal) && !errors.Is(err, ErrStorage) {
					t.Fatalf("propose after the failure: %v", err)
				}
			}
		case <-deadline:
			t.Fatalf("Propose still blocked after the storage failed (%d returned)", i)
		}
	}
	// Proposals stepped before the failure was hit return nil; the node
	// then fails by itself (no tick needed) and reports why.
	for NodeErr(n) == nil {
		select {
		case <-deadline:
			t.Fatal("NodeErr is still nil after the storage failed")
		case <-time.After(time.Millisecond):
		}
	}
	if err := NodeErr(n); !errors.Is(err, errDiskGone) {
		t.Fatalf("NodeErr %v, want the storage's error", err)
	}
	go func() { res <- n.Propose(context.TODO(), []byte("y")) }()
	select {
	case err := <-res:
		if !errors.Is(err, errDiskGone) {
			t.Fatalf("Propose on a failed node: %v", err)
		}
	case <-deadline:
		t.Fatal("Propose on a failed node blocks")
	}
	t.Logf("%d of 8 proposals failed; NodeErr: %v", failed, NodeErr(n))
}

// The library's log lines go to the package logger when Config.Logger is
// nil (etcd's SetLogger), never to standard error behind Go's back.
func TestSetLogger(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	SetLogger(lineLogger(func(level, line string) {
		mu.Lock()
		lines = append(lines, level+" "+line)
		mu.Unlock()
	}))
	defer ResetDefaultLogger()
	rn, err := NewRawNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: NewMemoryStorage(), MaxInflightMsgs: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer rn.Close()
	if err := rn.Bootstrap([]Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) == 0 {
		t.Fatal("no line reached the package logger")
	}
	if _, ok := getLogger().(*DefaultLogger); ok {
		t.Fatal("SetLogger not in effect")
	}
}

// RawNode.Ready called again before Advance hands out what became pending
// since, as etcd's does; one Advance acknowledges both.
func TestRawNodeReadyTwice(t *testing.T) {
	type raw interface {
		Bootstrap([]Peer) error
		Campaign() error
		Propose([]byte) error
		Ready() Ready
		Advance(Ready)
		HasReady() bool
		Status() Status
	}
	script := func(rn raw, st interface{ Append([]*pb.Entry) error }) []int {
		var sizes []int
		handle := func() {
			for rn.HasReady() {
				rd := rn.Ready()
				_ = st.Append(rd.Entries)
				rn.Advance(rd)
			}
		}
		if err := rn.Bootstrap([]Peer{{ID: 1}}); err != nil {
			t.Fatal(err)
		}
		handle()
		_ = rn.Campaign()
		handle()
		_ = rn.Propose([]byte("a"))
		rd1 := rn.Ready()
		_ = rn.Propose([]byte("b"))
		_ = rn.Propose([]byte("c"))
		rd2 := rn.Ready()
		_ = st.Append(rd1.Entries)
		_ = st.Append(rd2.Entries)
		rn.Advance(rd2)
		sizes = append(sizes, len(rd1.Entries), len(rd2.Entries))
		committed := 0
		for rn.HasReady() {
			rd := rn.Ready()
			_ = st.Append(rd.Entries)
			committed += len(rd.CommittedEntries)
			rn.Advance(rd)
		}
		return append(sizes, committed, int(rn.Status().GetCommit()))
	}
	cfg := func(st Storage) *Config {
		return &Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: st, MaxSizePerMsg: 1 << 20,
			MaxInflightMsgs: 256, Logger: DiscardLogger}
	}
	ems := etcd.NewMemoryStorage()
	ern, err := etcd.NewRawNode(cfg(ems))
	if err != nil {
		t.Fatal(err)
	}
	want := script(ern, ems)
	pms := NewMemoryStorage()
	prn, err := NewRawNode(cfg(pms))
	if err != nil {
		t.Fatal(err)
	}
	defer prn.Close()
	got := script(prn, pms)
	t.Logf("[entries of Ready 1, of Ready 2, committed after, commit]: %v", got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("[entries of Ready 1, of Ready 2, committed after, commit]: polyraft %v, etcd %v", got, want)
	}
}

// Status, with its configuration and progress, is etcd's: the same value
// on etcd's RawNode and on polyraft's after the same steps (Inflights,
// not reported, aside).
func TestStatusLikeEtcd(t *testing.T) {
	type raw interface {
		Bootstrap([]Peer) error
		Campaign() error
		Ready() Ready
		Advance(Ready)
		HasReady() bool
		ApplyConfChange(pb.ConfChangeI) *pb.ConfState
		Status() Status
		ProposeConfChange(pb.ConfChangeI) error
	}
	script := func(rn raw, st interface{ Append([]*pb.Entry) error }) Status {
		handle := func() {
			for rn.HasReady() {
				rd := rn.Ready()
				_ = st.Append(rd.Entries)
				for _, e := range rd.CommittedEntries {
					if e.GetType() == pb.EntryConfChange {
						var cc pb.ConfChange
						_ = proto.Unmarshal(e.GetData(), &cc)
						rn.ApplyConfChange(&cc)
					}
				}
				rn.Advance(rd)
			}
		}
		if err := rn.Bootstrap([]Peer{{ID: 1}}); err != nil {
			t.Fatal(err)
		}
		handle()
		_ = rn.Campaign()
		handle()
		_ = rn.ProposeConfChange(&pb.ConfChange{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: new(uint64(2))})
		handle()
		status := rn.Status()
		for id, pr := range status.Progress {
			pr.Inflights = nil
			status.Progress[id] = pr
		}
		return status
	}
	cfg := func(st Storage) *Config {
		return &Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: st, MaxSizePerMsg: 1 << 20,
			MaxInflightMsgs: 256, Logger: DiscardLogger}
	}
	ems := etcd.NewMemoryStorage()
	ern, err := etcd.NewRawNode(cfg(ems))
	if err != nil {
		t.Fatal(err)
	}
	want := script(ern, ems)
	pms := NewMemoryStorage()
	prn, err := NewRawNode(cfg(pms))
	if err != nil {
		t.Fatal(err)
	}
	defer prn.Close()
	got := script(prn, pms)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("status:\npolyraft %#v\netcd     %#v", got, want)
	}
	if len(got.Config.Learners) != 1 || len(got.Progress) != 2 {
		t.Fatalf("config %v progress %v", got.Config, got.Progress)
	}
}

// A Go Storage embedding a *DurableStorage works too: the node reads it
// through callbacks, entries included.
func TestStorageEmbeddingDurableStorage(t *testing.T) {
	ds, err := OpenDurableStorage(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	wrapped := struct{ *DurableStorage }{ds}
	rn, err := NewRawNode(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: wrapped,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 16, Logger: DiscardLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer rn.Close()
	if rn.durable != nil || rn.gs == nil {
		t.Fatal("a type embedding *DurableStorage was read natively")
	}
	if err := rn.Bootstrap([]Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	var applied []string
	handle := func() {
		for rn.HasReady() {
			rd := rn.Ready()
			if err := ds.PersistReady(rd); err != nil {
				t.Fatal(err)
			}
			for _, e := range rd.CommittedEntries {
				switch e.GetType() {
				case pb.EntryConfChange:
					var cc pb.ConfChange
					_ = proto.Unmarshal(e.GetData(), &cc)
					rn.ApplyConfChange(&cc)
				case pb.EntryNormal:
					if len(e.GetData()) > 0 {
						applied = append(applied, string(e.GetData()))
					}
				}
			}
			rn.Advance(rd)
		}
	}
	handle()
	if err := rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	handle()
	for i := 0; i < 5; i++ {
		if err := rn.Propose([]byte{'a' + byte(i)}); err != nil {
			t.Fatal(err)
		}
		handle()
	}
	if err := rn.Err(); err != nil || strings.Join(applied, "") != "abcde" {
		t.Fatalf("applied %q, err %v", applied, err)
	}
	ents, err := ds.Entries(3, 8, 1<<20)
	if err != nil || len(ents) != 5 || string(ents[4].GetData()) != "e" {
		t.Fatalf("entries %v %v", ents, err)
	}
}
