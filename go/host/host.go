// Package host runs replicated state machines on polyraft's host: many
// raft groups per process over one shared log, with the transport, the
// Ready loop, snapshots, sessions and request tracking done in Rust.
//
// A [Host] runs replicas of raft groups; each replica drives a
// [StateMachine]. Client operations take a [context.Context] and end in
// one of three ways: completed (the state machine's result), rejected
// (certainly not applied: [ErrRejected], safe to retry) or timed out (the
// outcome is unknown: [ErrTimedOut]; retry through a [Session] so that the
// command applies once).
//
//	net, err := host.NewTCPNetwork("10.0.0.1:7001", addrs, host.TLSFiles{Cert: c, Key: k, CA: ca})
//	h, err := host.New(host.Config{HostID: 1, Transport: net})  // or host.NewInProcessNetwork()
//	err = h.StartReplica(ctx, group, 1, peers, &myStateMachine{})
//	result, err := h.Propose(ctx, group, []byte("x=1"))
//	value, err := h.Read(ctx, group, []byte("x"))
//
// The package is a subpackage of the etcd-raft drop-in
// (github.com/polyraft/polyraft/go, whose types mirror go.etcd.io/raft):
// the host is a different layer with its own vocabulary (Config,
// StateMachine, Session), and a user of one rarely needs the other.
//
// Threads: state machine methods run on the host's worker threads, one at a
// time per replica. From inside them, do not call the Host's methods that
// wait (they return [ErrInCallback]); start a goroutine instead.
package host

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#include <stdint.h>
#include <stdlib.h>
#include "polyraft.h"

extern uint32_t polyraftGoHostApply(uintptr_t, polyraft_host_entry *, size_t, polyraft_host_results *);
extern uint32_t polyraftGoHostSnapshot(uintptr_t, polyraft_host_writer *);
extern uint32_t polyraftGoHostRestore(uintptr_t, polyraft_host_reader *);
extern uint32_t polyraftGoHostLookup(uintptr_t, uint8_t *, size_t, polyraft_host_results *);
extern void polyraftGoHostDestroy(uintptr_t);
extern void polyraftGoHostDone(uintptr_t, polyraft_host_outcome *);

static uint32_t pr_apply(void *ctx, const polyraft_host_entry *e, size_t n, polyraft_host_results *r) {
	return polyraftGoHostApply((uintptr_t)ctx, (polyraft_host_entry *)e, n, r);
}
static uint32_t pr_snapshot(void *ctx, polyraft_host_writer *w) { return polyraftGoHostSnapshot((uintptr_t)ctx, w); }
static uint32_t pr_restore(void *ctx, polyraft_host_reader *r) { return polyraftGoHostRestore((uintptr_t)ctx, r); }
static uint32_t pr_lookup(void *ctx, const uint8_t *q, size_t n, polyraft_host_results *r) {
	return polyraftGoHostLookup((uintptr_t)ctx, (uint8_t *)q, n, r);
}
static void pr_destroy(void *ctx) { polyraftGoHostDestroy((uintptr_t)ctx); }
static void pr_done(void *ctx, const polyraft_host_outcome *o) { polyraftGoHostDone((uintptr_t)ctx, (polyraft_host_outcome *)o); }

static uint32_t pr_start_replica(const polyraft_host *h, uint64_t group, uint64_t replica,
		const polyraft_host_peer *peers, size_t n, uintptr_t handle) {
	polyraft_host_state_machine sm;
	sm.abi_version = POLYRAFT_HOST_SM_ABI_VERSION;
	sm.ctx = (void *)handle;
	sm.apply = pr_apply;
	sm.snapshot = pr_snapshot;
	sm.restore = pr_restore;
	sm.lookup = pr_lookup;
	sm.destroy = pr_destroy;
	return polyraft_host_start_replica(h, group, replica, peers, n, &sm);
}

static uint32_t pr_propose(const polyraft_host *h, uint64_t g, const uint8_t *cmd, size_t n, uint64_t ms, uintptr_t done) {
	return polyraft_host_propose_async(h, g, cmd, n, ms, pr_done, (void *)done);
}
static uint32_t pr_propose_session(const polyraft_host *h, const polyraft_host_session *s, const uint8_t *cmd, size_t n,
		uint64_t ms, uintptr_t done) {
	return polyraft_host_propose_session_async(h, s, cmd, n, ms, pr_done, (void *)done);
}
static uint32_t pr_read(const polyraft_host *h, uint64_t g, const uint8_t *q, size_t n, uint64_t ms, uintptr_t done) {
	return polyraft_host_read_async(h, g, q, n, ms, pr_done, (void *)done);
}
static uint32_t pr_stale_read(const polyraft_host *h, uint64_t g, const uint8_t *q, size_t n, uintptr_t done) {
	return polyraft_host_stale_read_async(h, g, q, n, pr_done, (void *)done);
}
static uint32_t pr_membership(const polyraft_host *h, uint64_t g, uint32_t kind, uint64_t r, uint64_t rh, uint64_t ms,
		uintptr_t done) {
	return polyraft_host_change_membership_async(h, g, kind, r, rh, ms, pr_done, (void *)done);
}
static uint32_t pr_add_witness(const polyraft_host *h, uint64_t g, uint64_t r, uint64_t rh, uint64_t ms, uintptr_t done) {
	return polyraft_host_add_witness_async(h, g, r, rh, ms, pr_done, (void *)done);
}
static uint32_t pr_transfer(const polyraft_host *h, uint64_t g, uint64_t target, uint64_t ms, uintptr_t done) {
	return polyraft_host_transfer_leader_async(h, g, target, ms, pr_done, (void *)done);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/polyraft/polyraft/go"
)

// Sentinel errors; every error of this package matches one of them with
// errors.Is.
var (
	// ErrRejected: the operation was certainly not applied (no leader, the
	// group is not running here, raft dropped it...). Retrying is safe.
	ErrRejected = polyraft.ErrRejected
	// ErrTimedOut: the outcome is unknown (the deadline passed or the
	// context ended first); a proposal may still be applied. The error
	// also matches the context's error when the context ended.
	ErrTimedOut = polyraft.ErrTimedOut
	// ErrClosed: the host is closed; nothing was done.
	ErrClosed = polyraft.ErrClosed
	// ErrInvalidArgument: a bad argument (unknown group for a local call,
	// replica 0, a replica already running...).
	ErrInvalidArgument = errors.New("polyraft host: invalid argument")
	// ErrInvalidConfig: Config failed validation.
	ErrInvalidConfig = errors.New("polyraft host: invalid configuration")
	// ErrInCallback: a waiting call from inside a state machine method,
	// which would wait on its own worker thread.
	ErrInCallback = errors.New("polyraft host: waiting call inside a state machine callback")
	// ErrStorage: the host's log or snapshot storage failed, or a state
	// machine's Restore did.
	ErrStorage = errors.New("polyraft host: storage failure")
	// ErrInternal: the library failed unexpectedly (a bug).
	ErrInternal = errors.New("polyraft host: internal error")
)

// cResult is how cgo hands back a polyraft_result (a C enum): its
// underlying unsigned type.
type cResult = uint32

// codeError maps a result code and its detail to an error.
func codeError(code cResult, detail string) error {
	var s error
	switch code {
	case C.POLYRAFT_OK:
		return nil
	case C.POLYRAFT_REJECTED:
		s = ErrRejected
	case C.POLYRAFT_TIMED_OUT:
		s = ErrTimedOut
	case C.POLYRAFT_CLOSED:
		return ErrClosed
	case C.POLYRAFT_NULL_PARAMETER, C.POLYRAFT_INVALID_ARGUMENT, C.POLYRAFT_ABI_MISMATCH:
		s = ErrInvalidArgument
	case C.POLYRAFT_INVALID_CONFIG:
		s = ErrInvalidConfig
	case C.POLYRAFT_INVALID_STATE:
		return ErrInCallback
	case C.POLYRAFT_STORAGE_FAILURE, C.POLYRAFT_IO_ERROR, C.POLYRAFT_CORRUPT:
		s = ErrStorage
	default:
		s = ErrInternal
	}
	if detail == "" {
		return s
	}
	return fmt.Errorf("%w: %s", s, detail)
}

// Entry is a committed entry handed to StateMachine.Apply.
type Entry struct {
	// Index and Term place the entry in the group's log.
	Index, Term uint64
	// Cmd is the proposed command (a copy, the state machine's to keep).
	Cmd []byte
}

// StateMachine is the application's replicated state: one instance per
// replica, driven in log order. Every replica of a group applies the same
// entries in the same order, so Apply must be deterministic.
//
// A returned error (or a panic) from Apply or Lookup means the state
// machine is broken: the host stops that replica (its log stays; start it
// again to retry). Answer a bad command or query with a result that says
// so instead. A failing Snapshot skips that snapshot; a failing Restore
// stops the replica. If the state machine implements io.Closer, Close is
// called once when its replica stops.
type StateMachine interface {
	// Apply applies committed entries, oldest first, and returns exactly
	// one result per entry: what the entry's proposal completes with.
	Apply(entries []Entry) ([][]byte, error)
	// Snapshot writes the whole state to w.
	Snapshot(w io.Writer) error
	// Restore replaces the whole state with the one in r (written by
	// Snapshot, possibly on another host).
	Restore(r io.Reader) error
	// Lookup answers a read-only query against the current state.
	Lookup(query []byte) ([]byte, error)
}

// replica is what a state machine callback's handle refers to.
type replica struct {
	sm      StateMachine
	mu      sync.Mutex
	lastErr error
}

// Transport is how a host reaches the other hosts: the in-process network
// ([NewInProcessNetwork]) or the TCP network, mutual TLS by default
// ([NewTCPNetwork], one host per network value).
type Transport interface {
	// handle is the C transport; the host takes its own reference.
	handle() (*C.polyraft_host_transport, error)
}

// InProcessNetwork joins every host of this process created with it; frames
// are handed over in memory. For tests, examples and one-process clusters.
// Safe for concurrent use.
type InProcessNetwork struct {
	mu  sync.Mutex
	ptr *C.polyraft_host_transport
}

// NewInProcessNetwork creates an in-process network. Close it when no more
// hosts will be created with it (hosts keep their own reference).
func NewInProcessNetwork() *InProcessNetwork {
	n := &InProcessNetwork{}
	if C.polyraft_host_transport_in_process_new(&n.ptr) != C.POLYRAFT_OK {
		panic("polyraft host: creating an in-process network failed")
	}
	return n
}

func (n *InProcessNetwork) handle() (*C.polyraft_host_transport, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ptr == nil {
		return nil, fmt.Errorf("%w: the network is closed", ErrClosed)
	}
	return n.ptr, nil
}

// Partition cuts (cut true) or restores both directions between hosts a
// and b, to test partitions and failover.
func (n *InProcessNetwork) Partition(a, b uint64, cut bool) error {
	p, err := n.handle()
	if err != nil {
		return err
	}
	return codeError(C.polyraft_host_transport_partition(p, C.uint64_t(a), C.uint64_t(b), C.bool(cut)), "")
}

// Close releases the network handle; hosts already using it keep working.
func (n *InProcessNetwork) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	C.polyraft_host_transport_free(n.ptr)
	n.ptr = nil
	return nil
}

// Config configures a host. Zero fields take the defaults.
type Config struct {
	// HostID is this host's id (not 0), unique in the cluster.
	HostID uint64
	// Transport reaches the other hosts (required).
	Transport Transport
	// DataDir holds the host's log and snapshots; "" keeps them in memory.
	DataDir string
	// Workers is the number of step workers (default: one per core).
	Workers int
	// TickInterval is the raft tick (default 100ms; at least 1ms).
	TickInterval time.Duration
	// ElectionTicks (default 10) and HeartbeatTicks (default 1).
	ElectionTicks, HeartbeatTicks int
	// SnapshotEntries: a snapshot every this many applied entries
	// (default 10000); CompactionOverhead: entries kept behind it for slow
	// followers (default 5000).
	SnapshotEntries, CompactionOverhead uint64
	// MaxSessions is the number of session clients kept per group
	// (default 10000).
	MaxSessions uint64
	// NoQuiesce keeps idle groups ticking (quiescence is on by default).
	NoQuiesce bool
	// ElectionPriority of every replica on this host (beyond etcd): among
	// equally up-to-date replicas the one on the host with the highest
	// priority wins. 0 everywhere is etcd's behaviour.
	ElectionPriority int64
}

// Host runs replicas of any number of raft groups. Its methods may be
// called from any goroutine. Close it when done; a cleanup frees an
// unreachable, unclosed host as a safety net only.
type Host struct {
	// lock: read-held across every C call on ptr; Close takes it to free.
	lock    sync.RWMutex
	ptr     *C.polyraft_host
	id      uint64
	closed  atomic.Bool
	cleanup runtime.Cleanup
}

// New creates a host and starts its worker threads.
func New(cfg Config) (*Host, error) {
	if cfg.Transport == nil {
		return nil, fmt.Errorf("%w: Config.Transport is nil", ErrInvalidConfig)
	}
	tp, err := cfg.Transport.handle()
	if err != nil {
		return nil, err
	}
	var c C.polyraft_host_config
	C.polyraft_host_config_init(&c, C.uint64_t(cfg.HostID))
	c.transport = tp
	if cfg.Workers > 0 {
		c.workers = C.uint32_t(min(cfg.Workers, math.MaxUint32))
	}
	if cfg.TickInterval > 0 {
		c.tick_ms = C.uint32_t(max(1, min(cfg.TickInterval.Milliseconds(), math.MaxUint32)))
	}
	if cfg.ElectionTicks > 0 {
		c.election_ticks = C.uint32_t(min(cfg.ElectionTicks, math.MaxUint32))
	}
	if cfg.HeartbeatTicks > 0 {
		c.heartbeat_ticks = C.uint32_t(min(cfg.HeartbeatTicks, math.MaxUint32))
	}
	if cfg.SnapshotEntries > 0 {
		c.snapshot_entries = C.uint64_t(cfg.SnapshotEntries)
	}
	if cfg.CompactionOverhead > 0 {
		c.compaction_overhead = C.uint64_t(cfg.CompactionOverhead)
	}
	if cfg.MaxSessions > 0 {
		c.max_sessions = C.uint64_t(cfg.MaxSessions)
	}
	c.quiesce = C.bool(!cfg.NoQuiesce)
	c.election_priority = C.int64_t(cfg.ElectionPriority)
	if cfg.DataDir != "" {
		dir := C.CString(cfg.DataDir)
		defer C.free(unsafe.Pointer(dir))
		c.data_dir = dir
	}
	h := &Host{id: cfg.HostID}
	var detail *C.polyraft_buffer
	if code := C.polyraft_host_new(&c, &h.ptr, &detail); code != C.POLYRAFT_OK {
		return nil, codeError(code, takeBuffer(detail))
	}
	h.cleanup = runtime.AddCleanup(h, func(p *C.polyraft_host) { C.polyraft_host_free(p) }, h.ptr)
	return h, nil
}

// takeBuffer copies a library buffer's text and frees the buffer (NULL
// gives "").
func takeBuffer(b *C.polyraft_buffer) string {
	if b == nil {
		return ""
	}
	defer C.polyraft_buffer_free(b)
	var p *C.uint8_t
	var n C.size_t
	if C.polyraft_buffer_data(b, &p, &n) != C.POLYRAFT_OK || p == nil {
		return ""
	}
	return C.GoStringN((*C.char)(unsafe.Pointer(p)), C.int(n))
}

// lastError is the detail of the calling thread's last call on the host;
// read it with the OS thread locked across both calls.
func (h *Host) lastError() string {
	var buf [512]C.char
	var n C.size_t
	C.polyraft_host_last_error(h.ptr, &buf[0], C.size_t(len(buf)), &n)
	return C.GoString(&buf[0])
}

// call runs a C call on the host with its detail text, the handle kept
// alive and the thread pinned so that the per-thread detail is ours.
func (h *Host) call(f func(p *C.polyraft_host) cResult) error {
	h.lock.RLock()
	defer h.lock.RUnlock()
	if h.ptr == nil {
		return ErrClosed
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	code := f(h.ptr)
	if code == C.POLYRAFT_OK {
		return nil
	}
	return codeError(code, h.lastError())
}

// ID is the host's id.
func (h *Host) ID() uint64 { return h.id }

// Close stops every replica and worker: waiting operations complete
// (proposals as timed out, others as rejected) and every state machine's
// Close runs. Later calls return ErrClosed; closing again is a no-op.
func (h *Host) Close() error {
	if bool(C.polyraft_host_in_callback()) {
		return ErrInCallback
	}
	if h.closed.Swap(true) {
		return nil
	}
	// Close first, without the lock: completions fired by the close may
	// still queue calls (they read-lock). Then free under the lock.
	h.lock.RLock()
	code := C.polyraft_host_close(h.ptr)
	h.lock.RUnlock()
	h.lock.Lock()
	defer h.lock.Unlock()
	h.cleanup.Stop()
	C.polyraft_host_free(h.ptr)
	h.ptr = nil
	return codeError(code, "")
}

// Peer is a member of a group: a replica id and the host that runs it.
type Peer struct {
	Replica, Host uint64
}

// StartReplica starts replica `replicaID` of `group` on this host, driving
// sm. When the host's log already has the group (a restart), the replica
// recovers from it and peers is ignored. Otherwise, with peers it
// bootstraps a new group with these initial members (the same list on
// every initial member); with no peers it joins a group that has added it.
// It waits for the group's worker only (no network round trip).
func (h *Host) StartReplica(ctx context.Context, group, replicaID uint64, peers []Peer, sm StateMachine) error {
	if err := h.precheck(ctx); err != nil {
		return err
	}
	if sm == nil {
		return fmt.Errorf("%w: nil state machine", ErrInvalidArgument)
	}
	r := &replica{sm: sm}
	handle := cgo.NewHandle(r)
	var cp []C.polyraft_host_peer
	for _, p := range peers {
		cp = append(cp, C.polyraft_host_peer{replica: C.uint64_t(p.Replica), host: C.uint64_t(p.Host)})
	}
	var pp *C.polyraft_host_peer
	if len(cp) > 0 {
		pp = &cp[0]
	}
	err := h.call(func(p *C.polyraft_host) cResult {
		return cResult(C.pr_start_replica(p, C.uint64_t(group), C.uint64_t(replicaID), pp, C.size_t(len(cp)), C.uintptr_t(handle)))
	})
	if err != nil {
		// Refused: the library did not keep the handle.
		handle.Delete()
		r.mu.Lock()
		if r.lastErr != nil {
			err = fmt.Errorf("%w (%v)", err, r.lastErr)
		}
		r.mu.Unlock()
	}
	return err
}

// StopReplica stops the local replica of group; its log stays, so it can
// be started again. Waiting proposals complete as timed out (they may
// still commit), other operations as rejected.
func (h *Host) StopReplica(ctx context.Context, group uint64) error {
	if err := h.precheck(ctx); err != nil {
		return err
	}
	return h.call(func(p *C.polyraft_host) cResult { return C.polyraft_host_stop_replica(p, C.uint64_t(group)) })
}

// outcome is what a completion delivers.
type outcome struct {
	code   cResult
	data   []byte
	detail string
}

// precheck refuses waiting calls inside callbacks and on ended contexts.
func (h *Host) precheck(ctx context.Context) error {
	if bool(C.polyraft_host_in_callback()) {
		return ErrInCallback
	}
	if h.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrTimedOut, err)
	}
	return nil
}

// timeoutMs is the host-side deadline of an operation: the context's, or
// a day when it has none (the context may still end it earlier).
func timeoutMs(ctx context.Context) C.uint64_t {
	if d, ok := ctx.Deadline(); ok {
		return C.uint64_t(max(time.Until(d).Milliseconds(), 0))
	}
	return C.uint64_t(24 * time.Hour / time.Millisecond)
}

// op queues an operation through start (a C `_async` call given the
// completion's handle) and waits for its outcome or the context's end.
func (h *Host) op(ctx context.Context, start func(p *C.polyraft_host, ms C.uint64_t, done C.uintptr_t) cResult) ([]byte, error) {
	if err := h.precheck(ctx); err != nil {
		return nil, err
	}
	ch := make(chan outcome, 1)
	done := cgo.NewHandle(ch)
	ms := timeoutMs(ctx)
	if err := h.call(func(p *C.polyraft_host) cResult { return start(p, ms, C.uintptr_t(done)) }); err != nil {
		done.Delete() // not queued: the completion will not run
		return nil, err
	}
	select {
	case o := <-ch:
		if o.code == C.POLYRAFT_OK {
			return o.data, nil
		}
		return nil, codeError(o.code, o.detail)
	case <-ctx.Done():
		// The completion still runs later and finds the channel buffered.
		return nil, fmt.Errorf("%w: %w", ErrTimedOut, ctx.Err())
	}
}

// bytesArg is a pointer to b's data for the duration of a C call (the
// library copies it); nil when empty.
func bytesArg(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// Propose proposes cmd to group and returns the state machine's result
// for it. Followers forward proposals to the leader. Errors: ErrRejected
// (not applied), ErrTimedOut (unknown), ErrClosed, ErrInCallback.
func (h *Host) Propose(ctx context.Context, group uint64, cmd []byte) ([]byte, error) {
	return h.op(ctx, func(p *C.polyraft_host, ms C.uint64_t, done C.uintptr_t) cResult {
		return cResult(C.pr_propose(p, C.uint64_t(group), bytesArg(cmd), C.size_t(len(cmd)), ms, done))
	})
}

// Session is a client's exactly-once identity in one group. Retry a
// proposal that timed out with the session unchanged (it applies at most
// once, and a retry of an applied one returns the first result); after an
// outcome is received (completed or rejected), call ProposalCompleted
// before the next proposal. Plain data: a node proposing for a remote
// client fills it from the client's request.
type Session struct {
	// Group is where the session proposes.
	Group uint64
	// ClientID identifies the client (not 0), unique among the group's.
	ClientID uint64
	// Series numbers the current proposal (from 1).
	Series uint64
	// RespondedTo is the highest series whose outcome the client received.
	RespondedTo uint64
}

// NewSession starts a session for clientID in group.
func NewSession(group, clientID uint64) *Session {
	return &Session{Group: group, ClientID: clientID, Series: 1}
}

// ProposalCompleted marks the current proposal's outcome received.
func (s *Session) ProposalCompleted() {
	s.RespondedTo = s.Series
	s.Series++
}

// ProposeSession proposes cmd in session s (to s.Group); see Session.
func (h *Host) ProposeSession(ctx context.Context, s *Session, cmd []byte) ([]byte, error) {
	cs := C.polyraft_host_session{group: C.uint64_t(s.Group), client_id: C.uint64_t(s.ClientID),
		series: C.uint64_t(s.Series), responded_to: C.uint64_t(s.RespondedTo)}
	return h.op(ctx, func(p *C.polyraft_host, ms C.uint64_t, done C.uintptr_t) cResult {
		return cResult(C.pr_propose_session(p, &cs, bytesArg(cmd), C.size_t(len(cmd)), ms, done))
	})
}

// Read is a linearizable read: it confirms leadership (ReadIndex), waits
// until the local replica has applied that far, then runs Lookup(query).
// Reads have no side effect: retry freely.
func (h *Host) Read(ctx context.Context, group uint64, query []byte) ([]byte, error) {
	return h.op(ctx, func(p *C.polyraft_host, ms C.uint64_t, done C.uintptr_t) cResult {
		return cResult(C.pr_read(p, C.uint64_t(group), bytesArg(query), C.size_t(len(query)), ms, done))
	})
}

// StaleRead runs Lookup(query) on the local replica as it is (possibly
// behind the leader; no network round trip).
func (h *Host) StaleRead(ctx context.Context, group uint64, query []byte) ([]byte, error) {
	return h.op(ctx, func(p *C.polyraft_host, _ C.uint64_t, done C.uintptr_t) cResult {
		return cResult(C.pr_stale_read(p, C.uint64_t(group), bytesArg(query), C.size_t(len(query)), done))
	})
}

func (h *Host) membership(ctx context.Context, group uint64, kind C.uint32_t, replicaID, host uint64) error {
	_, err := h.op(ctx, func(p *C.polyraft_host, ms C.uint64_t, done C.uintptr_t) cResult {
		return cResult(C.pr_membership(p, C.uint64_t(group), kind, C.uint64_t(replicaID), C.uint64_t(host), ms, done))
	})
	return err
}

// AddReplica adds a voter (or promotes a learner) running on host, and
// waits until the change is applied here. Start it there with
// StartReplica and no peers.
func (h *Host) AddReplica(ctx context.Context, group, replicaID, host uint64) error {
	return h.membership(ctx, group, C.POLYRAFT_HOST_ADD_REPLICA, replicaID, host)
}

// AddLearner adds a non-voting learner running on host.
func (h *Host) AddLearner(ctx context.Context, group, replicaID, host uint64) error {
	return h.membership(ctx, group, C.POLYRAFT_HOST_ADD_LEARNER, replicaID, host)
}

// AddWitness adds a witness running on host (beyond etcd; docs/witness.md
// in the repository): a voter that receives entry metadata but no
// payloads, keeps no state machine and never leads. It waits until the
// change is applied here; start the witness there with StartWitness.
// Rejected when the replica already holds data or no data voter would
// remain.
func (h *Host) AddWitness(ctx context.Context, group, replicaID, host uint64) error {
	_, err := h.op(ctx, func(p *C.polyraft_host, ms C.uint64_t, done C.uintptr_t) cResult {
		return cResult(C.pr_add_witness(p, C.uint64_t(group), C.uint64_t(replicaID), C.uint64_t(host), ms, done))
	})
	return err
}

// StartWitness starts (or restarts from its log) the witness replica of
// group on this host, which the group adds with AddWitness. A witness has
// no state machine: Propose, Read and StaleRead on it are rejected.
func (h *Host) StartWitness(ctx context.Context, group, replicaID uint64) error {
	if err := h.precheck(ctx); err != nil {
		return err
	}
	return h.call(func(p *C.polyraft_host) cResult {
		return cResult(C.polyraft_host_start_witness(p, C.uint64_t(group), C.uint64_t(replicaID)))
	})
}

// RemoveReplica removes a replica (voter or learner) from group.
func (h *Host) RemoveReplica(ctx context.Context, group, replicaID uint64) error {
	return h.membership(ctx, group, C.POLYRAFT_HOST_REMOVE_REPLICA, replicaID, 0)
}

// TransferLeader asks group to make replica target its leader and waits
// until this host sees it lead.
func (h *Host) TransferLeader(ctx context.Context, group, target uint64) error {
	_, err := h.op(ctx, func(p *C.polyraft_host, ms C.uint64_t, done C.uintptr_t) cResult {
		return cResult(C.pr_transfer(p, C.uint64_t(group), C.uint64_t(target), ms, done))
	})
	return err
}

// ReportHostDown tells the host that another host is unreachable: local
// replicas led from there wake up and elect a new leader. It returns how
// many woke.
func (h *Host) ReportHostDown(host uint64) (int, error) {
	if bool(C.polyraft_host_in_callback()) {
		return 0, ErrInCallback
	}
	var n C.size_t
	err := h.call(func(p *C.polyraft_host) cResult {
		return C.polyraft_host_report_host_down(p, C.uint64_t(host), &n)
	})
	return int(n), err
}

// GroupInfo is what a host knows about its replica of a group.
type GroupInfo struct {
	Group, Replica uint64
	// Leader is the leader's replica id as known here (0: none).
	Leader, Term                             uint64
	IsLeader, Quiesced                       bool
	Applied, Committed, LastIndex, SnapIndex uint64
	// Voters and Learners as of the applied index, with their hosts.
	Voters, Learners []Peer
	// Witnesses is how many voters are witnesses; IsWitness whether the
	// local replica is one (beyond etcd; see AddWitness).
	Witnesses int
	IsWitness bool
}

// GroupInfo describes the local replica of group; ErrInvalidArgument when
// there is none.
func (h *Host) GroupInfo(ctx context.Context, group uint64) (GroupInfo, error) {
	if err := h.precheck(ctx); err != nil {
		return GroupInfo{}, err
	}
	var ci C.polyraft_host_info
	var gi GroupInfo
	members := func(learners bool, n C.size_t) ([]Peer, error) {
		for {
			out := make([]C.polyraft_host_peer, n+1)
			var got C.size_t
			err := h.call(func(p *C.polyraft_host) cResult {
				return C.polyraft_host_group_members(p, C.uint64_t(group), C.bool(learners), &out[0], C.size_t(len(out)), &got)
			})
			if err != nil || got <= C.size_t(len(out)) {
				var peers []Peer
				for _, m := range out[:min(got, C.size_t(len(out)))] {
					peers = append(peers, Peer{Replica: uint64(m.replica), Host: uint64(m.host)})
				}
				return peers, err
			}
			n = got // the membership grew meanwhile: ask again
		}
	}
	err := h.call(func(p *C.polyraft_host) cResult {
		return C.polyraft_host_group_info(p, C.uint64_t(group), &ci)
	})
	if err != nil {
		return gi, err
	}
	gi = GroupInfo{Group: uint64(ci.group), Replica: uint64(ci.replica), Leader: uint64(ci.leader), Term: uint64(ci.term),
		IsLeader: bool(ci.is_leader), Quiesced: bool(ci.quiesced), Applied: uint64(ci.applied),
		Committed: uint64(ci.committed), LastIndex: uint64(ci.last_index), SnapIndex: uint64(ci.snapshot_index),
		Witnesses: int(ci.n_witnesses), IsWitness: bool(ci.is_witness)}
	if gi.Voters, err = members(false, ci.n_voters); err != nil {
		return gi, err
	}
	gi.Learners, err = members(true, ci.n_learners)
	return gi, err
}

// Metrics are host-wide counters.
type Metrics struct {
	Groups, ActiveGroups, PendingOps, Proposals, DedupHits, LogWrites, Fsyncs uint64
}

// Metrics returns the host's counters.
func (h *Host) Metrics() (Metrics, error) {
	if bool(C.polyraft_host_in_callback()) {
		return Metrics{}, ErrInCallback
	}
	var m C.polyraft_host_metrics
	err := h.call(func(p *C.polyraft_host) cResult { return C.polyraft_host_get_metrics(p, &m) })
	return Metrics{uint64(m.groups), uint64(m.active_groups), uint64(m.pending_ops), uint64(m.proposals),
		uint64(m.dedup_hits), uint64(m.log_writes), uint64(m.fsyncs)}, err
}
