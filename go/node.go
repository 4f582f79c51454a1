package polyraft

import (
	"context"
	"errors"
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
)

// Node is etcd raft's Node interface: a node driven by its own goroutine,
// talked to through channels. See go.etcd.io/raft/v3 Node for the contract;
// the one addition is Err, which tells why a node stopped by itself.
type Node interface {
	// Tick increments the node's logical clock by one tick.
	Tick()
	// Campaign makes the node campaign to become leader.
	Campaign(ctx context.Context) error
	// Propose proposes data to be appended to the log. It blocks while no
	// leader is known (until ctx is done) and returns the outcome of the
	// local step (ErrProposalDropped...). Proposals can be lost without
	// notice: retrying is the caller's job.
	Propose(ctx context.Context, data []byte) error
	// ProposeConfChange proposes a configuration change (pb.ConfChange or
	// pb.ConfChangeV2).
	ProposeConfChange(ctx context.Context, cc pb.ConfChangeI) error
	// Step advances the state machine with a message from a peer. Local
	// message types coming from the network are ignored.
	Step(ctx context.Context, msg *pb.Message) error
	// Ready returns the channel of Readys. After handling one, call
	// Advance (unless AsyncStorageWrites is enabled).
	Ready() <-chan Ready
	// Advance tells the node that the last Ready has been handled.
	Advance()
	// ApplyConfChange applies a committed configuration change and returns
	// the resulting ConfState (to be recorded in snapshots). Like etcd, it
	// panics when the change cannot be applied (an application bug); it
	// returns nil when the node is stopped.
	ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState
	// TransferLeadership asks leader lead to transfer leadership to
	// transferee.
	TransferLeadership(ctx context.Context, lead, transferee uint64)
	// ForgetLeader makes a follower forget its leader (see etcd).
	ForgetLeader(ctx context.Context) error
	// ReadIndex requests a read state; the answer arrives in Ready.ReadStates.
	ReadIndex(ctx context.Context, rctx []byte) error
	// Status returns the current status (zero when stopped).
	Status() Status
	// ReportUnreachable reports that the last send to id failed.
	ReportUnreachable(id uint64)
	// ReportSnapshot reports the outcome of a snapshot sent to id.
	ReportSnapshot(id uint64, status SnapshotStatus)
	// Stop stops the node's goroutine and frees the underlying RawNode.
	Stop()
	// Err returns nil while the node runs or after Stop; when the node
	// stopped by itself after a fatal library failure (for example a
	// Storage error), it returns that failure (errors.Is ErrFatal or the
	// storage error). Once stopped, calls return this error, or ErrStopped.
	Err() error
}

// rawNoder is what the Node goroutine needs from a RawNode. *RawNode
// implements it; the tests also drive the goroutine over etcd's RawNode.
type rawNoder interface {
	Tick()
	Campaign() error
	Propose(data []byte) error
	ProposeConfChange(cc pb.ConfChangeI) error
	Step(m *pb.Message) error
	ApplyConfChange(cc pb.ConfChangeI) (*pb.ConfState, error)
	HasReady() bool
	Ready() (Ready, error)
	Advance(rd Ready) error
	BasicStatus() BasicStatus
	Status() Status
	ReportUnreachable(id uint64)
	ReportSnapshot(id uint64, status SnapshotStatus)
	TransferLeader(transferee uint64)
	ForgetLeader() error
	ReadIndex(rctx []byte) error
	// Err is the node's sticky fatal error (nil while usable).
	Err() error
	asyncStorageWrites() bool
	Close() error
}

// StartNode creates a node with cfg, bootstraps it with peers (a fresh
// storage must be given) and starts its goroutine. Unlike etcd it returns
// an error instead of panicking.
func StartNode(cfg *Config, peers []Peer) (Node, error) {
	if len(peers) == 0 {
		return nil, errorf("start node", ErrInvalidArgument, "no peers given; use RestartNode instead")
	}
	rn, err := NewRawNode(cfg)
	if err != nil {
		return nil, err
	}
	if err := rn.Bootstrap(peers); err != nil {
		rn.Close()
		return nil, err
	}
	return startNode(rn), nil
}

// RestartNode creates a node from the state in cfg.Storage and starts its
// goroutine.
func RestartNode(cfg *Config) (Node, error) {
	rn, err := NewRawNode(cfg)
	if err != nil {
		return nil, err
	}
	return startNode(rn), nil
}

type proposal struct {
	run    func(rawNoder) error
	result chan error
}

type confReq struct {
	cc pb.ConfChangeI
}

type confResp struct {
	cs  *pb.ConfState
	err error
}

type node struct {
	propc      chan proposal
	recvc      chan func(rawNoder) error
	confc      chan confReq
	confstatec chan confResp
	readyc     chan Ready
	advancec   chan struct{}
	tickc      chan struct{}
	done       chan struct{}
	stop       chan struct{}
	status     chan chan Status

	errMu sync.Mutex
	err   error

	rn rawNoder
}

func startNode(rn rawNoder) *node {
	n := &node{
		propc:      make(chan proposal),
		recvc:      make(chan func(rawNoder) error),
		confc:      make(chan confReq),
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

func (n *node) run() {
	defer n.rn.Close()
	var propc chan proposal
	var readyc chan Ready
	var advancec chan struct{}
	var rd Ready
	haveRd := false // rd was taken from the RawNode and not yet handed out
	lead := None
	wasMember := false // in the configuration of the last ApplyConfChange

	for {
		if err := n.rn.Err(); err != nil {
			n.errMu.Lock()
			n.err = err
			n.errMu.Unlock()
			close(n.done)
			return
		}
		// The C library hands out one Ready at a time: once taken, it is
		// delivered before another is made (etcd may rebuild an unsent
		// Ready; the difference is only in how updates are batched).
		if !haveRd && advancec == nil && n.rn.HasReady() {
			r, err := n.rn.Ready()
			if err == nil {
				rd, haveRd = r, true
				readyc = n.readyc
			}
		}

		if bs := n.rn.BasicStatus(); lead != bs.Lead {
			if bs.Lead != None {
				propc = n.propc
			} else {
				propc = nil
			}
			lead = bs.Lead
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
		case req := <-n.confc:
			cs, err := n.rn.ApplyConfChange(req.cc)
			if err == nil {
				// Like etcd: a node removed from the configuration it was
				// in stops taking proposals (until it sees a new leader).
				in := inConf(cs, n.rn.BasicStatus().ID)
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
			haveRd = false
			readyc = nil
			if !n.rn.asyncStorageWrites() {
				advancec = n.advancec
			} else {
				// Async storage writes: no Advance; the MsgStorage*
				// responses stepped back take its place.
				rd = Ready{}
			}
		case <-advancec:
			_ = n.rn.Advance(rd)
			rd = Ready{}
			advancec = nil
		case c := <-n.status:
			c <- n.rn.Status()
		case <-n.stop:
			close(n.done)
			return
		}
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
func (n *node) send(ctx context.Context, f func(rawNoder) error) error {
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
func (n *node) propose(ctx context.Context, f func(rawNoder) error, wait bool) error {
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
	return n.send(ctx, rawNoder.Campaign)
}

func (n *node) Propose(ctx context.Context, data []byte) error {
	data = append([]byte(nil), data...)
	return n.propose(ctx, func(rn rawNoder) error { return rn.Propose(data) }, true)
}

func (n *node) ProposeConfChange(ctx context.Context, cc pb.ConfChangeI) error {
	if cc == nil {
		return errorf("propose conf change", ErrInvalidArgument, "nil conf change")
	}
	// Like etcd (a MsgProp through Step): it waits for a leader to be
	// known, but not for the outcome of the proposal.
	return n.propose(ctx, func(rn rawNoder) error { return rn.ProposeConfChange(cc) }, false)
}

func (n *node) Step(ctx context.Context, m *pb.Message) error {
	if m == nil {
		return errors.New("cannot step with nil message")
	}
	if isLocalMsg(m.GetType()) && m.GetFrom() != localAppendThread && m.GetFrom() != localApplyThread {
		// Local messages arriving over the network are ignored (etcd).
		return nil
	}
	if m.GetType() == pb.MsgProp {
		return n.propose(ctx, func(rn rawNoder) error { return rn.Step(m) }, false)
	}
	return n.send(ctx, func(rn rawNoder) error { return rn.Step(m) })
}

func (n *node) Ready() <-chan Ready { return n.readyc }

func (n *node) Advance() {
	select {
	case n.advancec <- struct{}{}:
	case <-n.done:
	}
}

func (n *node) ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState {
	select {
	case n.confc <- confReq{cc}:
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
	_ = n.send(context.Background(), func(rn rawNoder) error { rn.ReportUnreachable(id); return nil })
}

func (n *node) ReportSnapshot(id uint64, status SnapshotStatus) {
	_ = n.send(context.Background(), func(rn rawNoder) error { rn.ReportSnapshot(id, status); return nil })
}

func (n *node) TransferLeadership(ctx context.Context, lead, transferee uint64) {
	// etcd addresses the request to lead; a node that is not lead ignores
	// it unless it is the leader's follower, in which case it forwards it.
	_ = n.send(ctx, func(rn rawNoder) error { rn.TransferLeader(transferee); return nil })
}

func (n *node) ForgetLeader(ctx context.Context) error {
	return n.send(ctx, rawNoder.ForgetLeader)
}

func (n *node) ReadIndex(ctx context.Context, rctx []byte) error {
	rctx = append([]byte(nil), rctx...)
	return n.send(ctx, func(rn rawNoder) error { return rn.ReadIndex(rctx) })
}

// Local targets of async storage writes (etcd's LocalAppendThread and
// LocalApplyThread).
const (
	localAppendThread uint64 = ^uint64(0)
	localApplyThread  uint64 = ^uint64(0) - 1
)

func isLocalMsg(t pb.MessageType) bool {
	switch t {
	case pb.MsgHup, pb.MsgBeat, pb.MsgUnreachable, pb.MsgSnapStatus, pb.MsgCheckQuorum,
		pb.MsgStorageAppend, pb.MsgStorageAppendResp, pb.MsgStorageApply, pb.MsgStorageApplyResp:
		return true
	}
	return false
}
