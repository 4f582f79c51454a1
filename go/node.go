package polyraft

import (
	"context"
	"errors"
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
)

// The Node of this package: a RawNode driven by its own goroutine, behind
// etcd's Node interface (Node is raft.Node). Beyond etcd, the node value
// also has Err (see NodeErr).

// StartNode creates a node with c, bootstraps it with peers (give a fresh
// storage) and starts its goroutine (etcd's StartNode). Like etcd's, it
// panics when the configuration is invalid or peers is empty;
// TryStartNode returns the error instead.
func StartNode(c *Config, peers []Peer) Node {
	n, err := TryStartNode(c, peers)
	if err != nil {
		panic(err)
	}
	return n
}

// TryStartNode is StartNode returning an error instead of panicking.
func TryStartNode(c *Config, peers []Peer) (Node, error) {
	if len(peers) == 0 {
		return nil, errorf("start node", ErrInvalidArgument, "no peers given; use RestartNode instead")
	}
	rn, err := NewRawNode(c)
	if err != nil {
		return nil, err
	}
	if err := rn.Bootstrap(peers); err != nil {
		rn.Close()
		return nil, err
	}
	return startNode(rn), nil
}

// RestartNode creates a node from the state in c.Storage and starts its
// goroutine (etcd's RestartNode). Like etcd's, it panics when the
// configuration is invalid; TryRestartNode returns the error instead.
func RestartNode(c *Config) Node {
	n, err := TryRestartNode(c)
	if err != nil {
		panic(err)
	}
	return n
}

// TryRestartNode is RestartNode returning an error instead of panicking.
func TryRestartNode(c *Config) (Node, error) {
	rn, err := NewRawNode(c)
	if err != nil {
		return nil, err
	}
	return startNode(rn), nil
}

// NodeErr returns why a Node of this package stopped by itself: nil while
// it runs or after Stop; after a fatal library failure (for example a
// Storage error) that failure (errors.Is ErrFatal or the storage's own
// error). Once stopped, calls return this error, or ErrStopped. It is nil
// for any other Node.
func NodeErr(n Node) error {
	if e, ok := n.(interface{ Err() error }); ok {
		return e.Err()
	}
	return nil
}

type proposal struct {
	run    func(*RawNode) error
	result chan error
}

type confResp struct {
	cs  *pb.ConfState
	err error
}

type node struct {
	propc      chan proposal
	recvc      chan func(*RawNode) error
	confc      chan pb.ConfChangeI
	confstatec chan confResp
	readyc     chan Ready
	advancec   chan struct{}
	tickc      chan struct{}
	done       chan struct{}
	stop       chan struct{}
	status     chan chan Status

	errMu sync.Mutex
	err   error

	rn *RawNode
}

func startNode(rn *RawNode) *node {
	n := &node{
		propc:      make(chan proposal),
		recvc:      make(chan func(*RawNode) error),
		confc:      make(chan pb.ConfChangeI),
		confstatec: make(chan confResp),
		readyc:     make(chan Ready),
		advancec:   make(chan struct{}),
		// Buffered like etcd's, so ticks are kept while the node is busy.
		tickc:  make(chan struct{}, 128),
		done:   make(chan struct{}),
		stop:   make(chan struct{}),
		status: make(chan chan Status),
		rn:     rn,
	}
	go n.run()
	return n
}

// Err returns why the node stopped by itself (see NodeErr).
func (n *node) Err() error {
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.err
}

// stoppedErr is what calls return once the node is done.
func (n *node) stoppedErr() error {
	if err := n.Err(); err != nil {
		return err
	}
	return ErrStopped
}

func (n *node) Stop() {
	select {
	case n.stop <- struct{}{}:
	case <-n.done:
		return
	}
	<-n.done
}

// run is the node's goroutine, etcd's node loop: every iteration rebuilds
// the pending Ready (peeked, not handed out) so that whatever happened
// meanwhile joins it, and the Ready is accepted only when the application
// receives it. A failure of the node ends the loop at once: every waiting
// and later call returns it.
func (n *node) run() {
	var propc chan proposal
	var readyc chan Ready
	var advancec chan struct{}
	var rd Ready
	var peek peekedReady
	// stale: the node may have changed since rd was peeked.
	stale := true
	lead := None
	wasMember := false // in the configuration of the last ApplyConfChange
	defer func() {
		peek.free()
		n.rn.Close()
	}()

	for {
		if advancec == nil && stale {
			peek.free()
			readyc = nil
			if n.rn.HasReady() {
				r, p, err := n.rn.peekReady()
				if err == nil {
					rd, peek, readyc = r, p, n.readyc
				}
			}
			stale = false
		}

		if bs := n.rn.BasicStatus(); lead != bs.Lead {
			if bs.Lead != None {
				propc = n.propc
			} else {
				propc = nil
			}
			lead = bs.Lead
		}
		// Any call above, or in the last iteration, may have failed the
		// node (some report nothing, like HasReady): stop now, before
		// waiting, so that no caller waits for a node that cannot go on.
		if err := n.rn.health(); err != nil {
			n.errMu.Lock()
			n.err = err
			n.errMu.Unlock()
			close(n.done)
			return
		}

		select {
		case pm := <-propc:
			err := pm.run(n.rn)
			if pm.result != nil {
				pm.result <- err
				close(pm.result)
			}
		case f := <-n.recvc:
			_ = f(n.rn) // like etcd's node, errors of stepped messages are dropped
		case cc := <-n.confc:
			cs, err := n.rn.TryApplyConfChange(cc)
			if err == nil {
				// Like etcd: a node removed from the configuration it was
				// in stops taking proposals (until it sees a new leader).
				in := inConf(cs, n.rn.id)
				if wasMember && !in {
					propc = nil
				}
				wasMember = in
			}
			select {
			case n.confstatec <- confResp{cs, err}:
			case <-n.stop:
				close(n.done)
				return
			}
		case <-n.tickc:
			n.rn.Tick()
		case readyc <- rd:
			_ = n.rn.acceptPeeked(peek.take())
			if !n.rn.async {
				advancec = n.advancec
			}
			rd = Ready{}
			readyc = nil
		case <-advancec:
			_ = n.rn.TryAdvance(rd)
			advancec = nil
		case c := <-n.status:
			c <- n.rn.Status()
			continue // nothing changed
		case <-n.stop:
			close(n.done)
			return
		}
		stale = true
	}
}

// inConf reports whether id is a voter or learner of cs.
func inConf(cs *pb.ConfState, id uint64) bool {
	for _, ids := range [][]uint64{cs.GetVoters(), cs.GetVotersOutgoing(), cs.GetLearners(), cs.GetLearnersNext()} {
		for _, v := range ids {
			if v == id {
				return true
			}
		}
	}
	return false
}

func (n *node) Tick() {
	select {
	case n.tickc <- struct{}{}:
	case <-n.done:
	default:
		// A tick is missed: the node is blocked for too long (etcd logs a
		// warning here).
	}
}

// send hands f to the node goroutine without waiting for its outcome.
func (n *node) send(ctx context.Context, f func(*RawNode) error) error {
	select {
	case n.recvc <- f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return n.stoppedErr()
	}
}

// propose runs f on the node goroutine once a leader is known; when wait is
// set it returns f's outcome.
func (n *node) propose(ctx context.Context, f func(*RawNode) error, wait bool) error {
	pm := proposal{run: f}
	if wait {
		pm.result = make(chan error, 1)
	}
	select {
	case n.propc <- pm:
		if !wait {
			return nil
		}
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return n.stoppedErr()
	}
	select {
	case err := <-pm.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return n.stoppedErr()
	}
}

func (n *node) Campaign(ctx context.Context) error {
	return n.send(ctx, (*RawNode).Campaign)
}

func (n *node) Propose(ctx context.Context, data []byte) error {
	data = append([]byte(nil), data...)
	return n.propose(ctx, func(rn *RawNode) error { return rn.Propose(data) }, true)
}

func (n *node) ProposeConfChange(ctx context.Context, cc pb.ConfChangeI) error {
	if cc == nil {
		return errorf("propose conf change", ErrInvalidArgument, "nil conf change")
	}
	// Like etcd (a MsgProp through Step): it waits for a leader to be
	// known, but not for the outcome of the proposal.
	return n.propose(ctx, func(rn *RawNode) error { return rn.ProposeConfChange(cc) }, false)
}

func (n *node) Step(ctx context.Context, m *pb.Message) error {
	if m == nil {
		return errors.New("cannot step with nil message")
	}
	if IsLocalMsg(m.GetType()) && !IsLocalMsgTarget(m.GetFrom()) {
		// Local messages arriving over the network are ignored (etcd).
		return nil
	}
	if m.GetType() == pb.MsgProp {
		return n.propose(ctx, func(rn *RawNode) error { return rn.Step(m) }, false)
	}
	return n.send(ctx, func(rn *RawNode) error { return rn.Step(m) })
}

func (n *node) Ready() <-chan Ready { return n.readyc }

func (n *node) Advance() {
	select {
	case n.advancec <- struct{}{}:
	case <-n.done:
	}
}

// ApplyConfChange applies a committed configuration change. Like etcd's,
// it panics when the change cannot be applied (an application bug); it
// returns nil when the node is stopped.
func (n *node) ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState {
	select {
	case n.confc <- cc:
	case <-n.done:
		return nil
	}
	var r confResp
	select {
	case r = <-n.confstatec:
	case <-n.done:
		return nil
	}
	if r.err != nil {
		panic(r.err)
	}
	return r.cs
}

func (n *node) Status() Status {
	c := make(chan Status)
	select {
	case n.status <- c:
		return <-c
	case <-n.done:
		return Status{}
	}
}

func (n *node) ReportUnreachable(id uint64) {
	_ = n.send(context.Background(), func(rn *RawNode) error { rn.ReportUnreachable(id); return nil })
}

func (n *node) ReportSnapshot(id uint64, status SnapshotStatus) {
	_ = n.send(context.Background(), func(rn *RawNode) error { rn.ReportSnapshot(id, status); return nil })
}

func (n *node) TransferLeadership(ctx context.Context, lead, transferee uint64) {
	// etcd addresses the request to lead; a node that is not lead ignores
	// it unless it is the leader's follower, in which case it forwards it.
	_ = n.send(ctx, func(rn *RawNode) error { rn.TransferLeader(transferee); return nil })
}

func (n *node) ForgetLeader(ctx context.Context) error {
	return n.send(ctx, (*RawNode).ForgetLeader)
}

func (n *node) ReadIndex(ctx context.Context, rctx []byte) error {
	rctx = append([]byte(nil), rctx...)
	return n.send(ctx, func(rn *RawNode) error { return rn.TryReadIndex(rctx) })
}
