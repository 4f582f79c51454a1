package host_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polyraft/polyraft/go/host"
)

// kv is the test state machine: "key=value" sets a key and returns the old
// value; a lookup of "key" returns its value.
type kv struct {
	mu     sync.Mutex // the test reads it from other goroutines
	m      map[string]string
	closed *atomic.Int32
	// onApply, when set, runs inside Apply (re-entry tests).
	onApply func()
}

func newKV(closed *atomic.Int32) *kv { return &kv{m: map[string]string{}, closed: closed} }

func (s *kv) Apply(entries []host.Entry) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.onApply != nil {
		s.onApply()
	}
	out := make([][]byte, len(entries))
	for i, e := range entries {
		k, v, _ := bytes.Cut(e.Cmd, []byte("="))
		out[i] = []byte(s.m[string(k)])
		s.m[string(k)] = string(v)
	}
	return out, nil
}

func (s *kv) Snapshot(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := fmt.Fprintf(w, "%s=%s\n", k, s.m[k]); err != nil {
			return err
		}
	}
	return nil
}

func (s *kv) Restore(r io.Reader) error {
	m := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, _ := bytes.Cut(sc.Bytes(), []byte("="))
		m[string(k)] = string(v)
	}
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
	return sc.Err()
}

func (s *kv) Lookup(q []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []byte(s.m[string(q)]), nil
}

func (s *kv) Close() error {
	if s.closed != nil {
		s.closed.Add(1)
	}
	return nil
}

const groups = 4

type cluster struct {
	t      *testing.T
	net    *host.InProcessNetwork
	hosts  map[uint64]*host.Host
	closed atomic.Int32
}

func newHost(t *testing.T, net *host.InProcessNetwork, id uint64, dir string) *host.Host {
	t.Helper()
	h, err := host.New(host.Config{HostID: id, Transport: net, Workers: 2, TickInterval: 10 * time.Millisecond,
		SnapshotEntries: 16, CompactionOverhead: 4, DataDir: dir})
	if err != nil {
		t.Fatalf("host %d: %v", id, err)
	}
	return h
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, net: host.NewInProcessNetwork(), hosts: map[uint64]*host.Host{}}
	peers := []host.Peer{{1, 1}, {2, 2}, {3, 3}}
	for id := uint64(1); id <= 3; id++ {
		h := newHost(t, c.net, id, "")
		c.hosts[id] = h
		for g := uint64(1); g <= groups; g++ {
			if err := h.StartReplica(context.Background(), g, id, peers, newKV(&c.closed)); err != nil {
				t.Fatalf("start group %d on host %d: %v", g, id, err)
			}
		}
	}
	t.Cleanup(func() {
		for _, h := range c.hosts {
			_ = h.Close()
		}
		_ = c.net.Close()
	})
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// propose retries while rejected (no leader yet: certainly not applied).
func propose(t *testing.T, h *host.Host, group uint64, cmd string) string {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; {
		r, err := h.Propose(ctxT(t, 3*time.Second), group, []byte(cmd))
		if err == nil {
			return string(r)
		}
		if !errors.Is(err, host.ErrRejected) || time.Now().After(end) {
			t.Fatalf("propose %q to group %d on host %d: %v", cmd, group, h.ID(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func read(t *testing.T, h *host.Host, group uint64, key string) string {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; {
		r, err := h.Read(ctxT(t, 3*time.Second), group, []byte(key))
		if err == nil {
			return string(r)
		}
		if time.Now().After(end) {
			t.Fatalf("read %q in group %d on host %d: %v", key, group, h.ID(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitStale(t *testing.T, h *host.Host, group uint64, key, want string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if r, err := h.StaleRead(context.Background(), group, []byte(key)); err == nil && string(r) == want {
			return
		}
	}
	t.Fatalf("host %d never saw %s=%s in group %d", h.ID(), key, want, group)
}

func TestClusterProposeReadSession(t *testing.T) {
	c := newCluster(t)
	for g := uint64(1); g <= groups; g++ {
		for id := uint64(1); id <= 3; id++ {
			want := ""
			if id > 1 {
				want = fmt.Sprintf("v%d", id-1)
			}
			if old := propose(t, c.hosts[id], g, fmt.Sprintf("k=v%d", id)); old != want {
				t.Fatalf("group %d: old value %q, want %q", g, old, want)
			}
		}
	}
	for g := uint64(1); g <= groups; g++ {
		for id := uint64(1); id <= 3; id++ {
			if v := read(t, c.hosts[id], g, "k"); v != "v3" {
				t.Fatalf("host %d group %d reads %q", id, g, v)
			}
			waitStale(t, c.hosts[id], g, "k", "v3")
		}
	}
	// Concurrent proposals from many goroutines.
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			propose(t, c.hosts[uint64(i%3+1)], uint64(i%groups+1), fmt.Sprintf("c%d=%d", i, i))
		}()
	}
	wg.Wait()
	// A session makes a retry apply once.
	s := host.NewSession(2, 99)
	if old := propose(t, c.hosts[1], 2, "x=first"); old != "" {
		t.Fatalf("x was %q", old)
	}
	var first []byte
	var err error
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		first, err = c.hosts[2].ProposeSession(ctxT(t, 3*time.Second), s, []byte("x=second"))
		if err == nil || !errors.Is(err, host.ErrRejected) || time.Now().After(end) {
			break
		}
	}
	if err != nil || string(first) != "first" {
		t.Fatalf("session proposal: %q, %v", first, err)
	}
	propose(t, c.hosts[1], 2, "x=third")
	again, err := c.hosts[3].ProposeSession(ctxT(t, 3*time.Second), s, []byte("x=second"))
	if err != nil || string(again) != "first" {
		t.Fatalf("retried session proposal: %q, %v (want the cached result)", again, err)
	}
	if v := read(t, c.hosts[1], 2, "x"); v != "third" {
		t.Fatalf("x = %q: the retry applied again", v)
	}
	s.ProposalCompleted()
	if r, err := c.hosts[1].ProposeSession(ctxT(t, 3*time.Second), s, []byte("x=fourth")); err != nil || string(r) != "third" {
		t.Fatalf("next series: %q, %v", r, err)
	}
	m, err := c.hosts[1].Metrics()
	if err != nil || m.Groups != groups || m.Proposals == 0 {
		t.Fatalf("metrics %+v, %v", m, err)
	}
}

func TestErrorsAndSentinels(t *testing.T) {
	c := newCluster(t)
	h := c.hosts[1]
	ctx := context.Background()
	if _, err := h.Propose(ctx, 42, []byte("x")); !errors.Is(err, host.ErrRejected) {
		t.Fatalf("unknown group: %v, want ErrRejected", err)
	}
	if _, err := h.GroupInfo(ctx, 42); !errors.Is(err, host.ErrInvalidArgument) {
		t.Fatalf("group info of an unknown group: %v", err)
	}
	if err := h.StartReplica(ctx, 1, 1, nil, newKV(nil)); !errors.Is(err, host.ErrInvalidArgument) {
		t.Fatalf("second start: %v", err)
	}
	if err := h.StopReplica(ctx, 42); !errors.Is(err, host.ErrInvalidArgument) {
		t.Fatalf("stop unknown: %v", err)
	}
	propose(t, h, 1, "a=1")
	// A context that ends first: timed out, and the context's error too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Propose(cctx, 1, []byte("a=2")); !errors.Is(err, host.ErrTimedOut) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	// A deadline the host enforces: a proposal to a cut-off minority.
	leader := uint64(0)
	for leader == 0 {
		info, err := h.GroupInfo(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		leader = info.Leader
		time.Sleep(10 * time.Millisecond)
	}
	for id := uint64(1); id <= 3; id++ {
		if id != leader {
			if err := c.net.Partition(leader, id, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err := c.hosts[leader].Propose(ctxT(t, 300*time.Millisecond), 3, []byte("lost=maybe"))
	if !errors.Is(err, host.ErrTimedOut) && !errors.Is(err, host.ErrRejected) {
		t.Fatalf("minority proposal: %v, want timed out (or rejected once it steps down)", err)
	}
	for id := uint64(1); id <= 3; id++ {
		if id != leader {
			_ = c.net.Partition(leader, id, false)
		}
	}
	// Closed hosts.
	if _, err := host.New(host.Config{HostID: 9}); !errors.Is(err, host.ErrInvalidConfig) {
		t.Fatalf("no transport: %v", err)
	}
	if _, err := host.New(host.Config{Transport: c.net}); !errors.Is(err, host.ErrInvalidConfig) {
		t.Fatalf("host id 0: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := h.Propose(ctx, 1, []byte("x")); !errors.Is(err, host.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := h.Metrics(); !errors.Is(err, host.ErrClosed) {
		t.Fatalf("metrics after close: %v", err)
	}
	if got := c.closed.Load(); got != groups {
		t.Fatalf("%d state machines closed by Close, want %d", got, groups)
	}
}

func TestMembershipTransferAndRestart(t *testing.T) {
	c := newCluster(t)
	ctx := ctxT(t, 30*time.Second)
	for i := 0; i < 40; i++ {
		propose(t, c.hosts[uint64(i%3+1)], 4, fmt.Sprintf("m%d=%d", i, i))
	}
	// Host 4 joins group 4 as a learner (caught up by snapshot), is
	// promoted, takes over leadership, and leaves.
	h4 := newHost(t, c.net, 4, "")
	c.hosts[4] = h4
	if err := c.hosts[2].AddLearner(ctx, 4, 4, 4); err != nil {
		t.Fatal(err)
	}
	if err := h4.StartReplica(ctx, 4, 4, nil, newKV(&c.closed)); err != nil {
		t.Fatal(err)
	}
	waitStale(t, h4, 4, "m39", "39")
	info, err := c.hosts[1].GroupInfo(ctx, 4)
	if err != nil || len(info.Learners) != 1 || info.Learners[0] != (host.Peer{Replica: 4, Host: 4}) {
		t.Fatalf("learners %+v, %v", info.Learners, err)
	}
	if err := c.hosts[1].AddReplica(ctx, 4, 4, 4); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		// The promotion is applied on host 1; wait until host 4 has it too.
		if info, err := h4.GroupInfo(ctx, 4); err == nil && len(info.Voters) == 4 || time.Now().After(end) {
			break
		}
	}
	if err := h4.TransferLeader(ctx, 4, 4); err != nil {
		t.Fatal(err)
	}
	if info, _ := h4.GroupInfo(ctx, 4); !info.IsLeader || len(info.Voters) != 4 {
		t.Fatalf("after transfer: %+v", info)
	}
	propose(t, c.hosts[3], 4, "from=three")
	if err := c.hosts[3].TransferLeader(ctx, 4, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.hosts[1].RemoveReplica(ctx, 4, 4); err != nil {
		t.Fatal(err)
	}
	if info, _ := c.hosts[1].GroupInfo(ctx, 4); len(info.Voters) != 3 {
		t.Fatalf("after removal: %+v", info)
	}
	// Stop and restart a replica: it recovers from the host's log.
	if err := c.hosts[3].StopReplica(ctx, 4); err != nil {
		t.Fatal(err)
	}
	propose(t, c.hosts[1], 4, "while=stopped")
	if err := c.hosts[3].StartReplica(ctx, 4, 3, nil, newKV(&c.closed)); err != nil {
		t.Fatal(err)
	}
	waitStale(t, c.hosts[3], 4, "while", "stopped")
	waitStale(t, c.hosts[3], 4, "m0", "0")
}

func TestRestartFromDataDir(t *testing.T) {
	dir := t.TempDir()
	net := host.NewInProcessNetwork()
	defer net.Close()
	ctx := ctxT(t, 30*time.Second)
	start := func() *host.Host {
		h := newHost(t, net, 1, dir)
		if err := h.StartReplica(ctx, 7, 1, []host.Peer{{1, 1}}, newKV(nil)); err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := start()
	for i := 0; i < 30; i++ {
		propose(t, h, 7, fmt.Sprintf("d%d=%d", i, i))
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h = start()
	defer h.Close()
	if v := read(t, h, 7, "d29"); v != "29" {
		t.Fatalf("after restart d29=%q", v)
	}
	if v := read(t, h, 7, "d0"); v != "0" {
		t.Fatalf("after restart d0=%q (the snapshot)", v)
	}
}

// failing is a state machine whose Apply fails after the first entry.
type failing struct{ *kv }

func (f *failing) Apply(entries []host.Entry) ([][]byte, error) {
	if bytes.HasPrefix(entries[0].Cmd, []byte("boom")) {
		return nil, errors.New("cannot apply boom")
	}
	return f.kv.Apply(entries)
}

func TestCallbacksReentryAndFailure(t *testing.T) {
	net := host.NewInProcessNetwork()
	defer net.Close()
	h := newHost(t, net, 1, "")
	defer h.Close()
	ctx := ctxT(t, 20*time.Second)
	// Waiting calls from inside Apply are refused, not deadlocked.
	var reentry error
	s := newKV(nil)
	s.onApply = func() {
		_, reentry = h.Propose(context.Background(), 1, []byte("inner=1"))
		s.onApply = nil
	}
	if err := h.StartReplica(ctx, 1, 1, []host.Peer{{1, 1}}, s); err != nil {
		t.Fatal(err)
	}
	propose(t, h, 1, "outer=1")
	if !errors.Is(reentry, host.ErrInCallback) {
		t.Fatalf("propose inside Apply: %v", reentry)
	}
	// An Apply error stops that replica only.
	var closed atomic.Int32
	if err := h.StartReplica(ctx, 2, 1, []host.Peer{{1, 1}}, &failing{kv: newKV(&closed)}); err != nil {
		t.Fatal(err)
	}
	propose(t, h, 2, "fine=1")
	if _, err := h.Propose(ctxT(t, time.Second), 2, []byte("boom")); err == nil {
		t.Fatal("a failing Apply completed")
	}
	for end := time.Now().Add(5 * time.Second); closed.Load() == 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := h.GroupInfo(ctx, 2); !errors.Is(err, host.ErrInvalidArgument) || closed.Load() != 1 {
		t.Fatalf("group 2 after a failing apply: %v (closed %d)", err, closed.Load())
	}
	propose(t, h, 1, "still=serving")
}
