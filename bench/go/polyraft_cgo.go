// W3, Go: the same loop as etcdCluster, over polyraft through cgo
// (github.com/polyraft/polyraft/go, linked against the release
// libpolyraft.a). `bench-go --impl polyraft` runs it.
//
// With --wire 1 the messages travel as bytes, as in the etcd loop: here the
// bytes the library encoded (RawNode.ReadyWire), stepped by the receiver
// a whole inbox at a time (StepBytesBatch: one cgo call, not one per
// message). `--impl polyraft-pb` takes the etcd-shaped path instead:
// Ready decodes every message into a *pb.Message, the loop encodes it
// again with proto.Marshal, exactly as the etcd loop does, and the
// receiver steps the bytes one StepBytes call each.

package main

import (
	"log"

	polyraft "github.com/polyraft/polyraft/go"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

type prNode struct {
	rn    *polyraft.RawNode
	store *polyraft.MemoryStorage
	inbox []envelope
	// With ReadyWire: the received messages' bytes back to back, and each
	// one's length (the buffers are reused from round to round).
	wireIn       []byte
	wireInLens   []int
	appliedIndex uint64
	compacted    uint64
	appliedData  uint64
	readies      uint64
}

// polyraftCluster drives polyraft RawNodes with the loop of etcdCluster.
// Storage calls are not counted: a node over a polyraft MemoryStorage
// reads it inside the library, where no Go wrapper sees the calls.
type polyraftCluster struct {
	nodes      []*prNode
	scratch    []envelope
	wire       bool
	pbMessages bool
	// Stepping with ReadyWire: the inbox being stepped, and its messages.
	wireScratch     []byte
	wireScratchLens []int
	wireBatch       [][]byte
	compactEvery    uint64
	msgs            uint64
}

func newPolyraftCluster(voters uint64, wire, pbMessages bool, compactEvery uint64) *polyraftCluster {
	ids := make([]uint64, 0, voters)
	for id := uint64(1); id <= voters; id++ {
		ids = append(ids, id)
	}
	c := &polyraftCluster{wire: wire, pbMessages: pbMessages, compactEvery: compactEvery}
	for _, id := range ids {
		ms, err := polyraft.TryNewMemoryStorage()
		if err != nil {
			log.Fatal(err)
		}
		// The configuration comes from an initial snapshot (index 1, term 1).
		snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{
			ConfState: &pb.ConfState{Voters: ids}, Index: proto.Uint64(1), Term: proto.Uint64(1),
		}}
		if err := ms.ApplySnapshot(snap); err != nil {
			log.Fatal(err)
		}
		cfg := &polyraft.Config{
			ID:              id,
			ElectionTick:    10,
			HeartbeatTick:   1,
			Storage:         ms,
			MaxSizePerMsg:   1 << 20,
			MaxInflightMsgs: 256,
			Logger:          polyraft.DiscardLogger,
		}
		rn, err := polyraft.NewRawNode(cfg)
		if err != nil {
			log.Fatal(err)
		}
		c.nodes = append(c.nodes, &prNode{rn: rn, store: ms})
	}
	if err := c.nodes[0].rn.Campaign(); err != nil {
		log.Fatal(err)
	}
	c.run()
	if c.nodes[0].rn.BasicStatus().RaftState != polyraft.StateLeader {
		log.Fatal("node 1 must win")
	}
	return c
}

func (c *polyraftCluster) propose(data [][]byte, batch bool) {
	rn := c.nodes[0].rn
	if !batch {
		for _, d := range data {
			if err := rn.Propose(d); err != nil {
				log.Fatal(err)
			}
		}
		return
	}
	// polyraft's multi-entry proposal (the etcd loop steps one multi-entry
	// MsgProp, which is what ProposeBatch is underneath).
	if err := rn.ProposeBatch(data); err != nil {
		log.Fatal(err)
	}
}

func (c *polyraftCluster) run() {
	for {
		any := false
		for _, n := range c.nodes {
			n.inbox, c.scratch = c.scratch[:0], n.inbox
			if len(n.wireInLens) > 0 {
				// The whole inbox in one call (errors ignored, as in the
				// etcd loop: go on after a failed message).
				any = true
				n.wireIn, c.wireScratch = c.wireScratch[:0], n.wireIn
				n.wireInLens, c.wireScratchLens = c.wireScratchLens[:0], n.wireInLens
				c.wireBatch = c.wireBatch[:0]
				off := 0
				for _, k := range c.wireScratchLens {
					c.wireBatch = append(c.wireBatch, c.wireScratch[off:off+k])
					off += k
				}
				for b := c.wireBatch; len(b) > 0; {
					k, err := n.rn.StepBytesBatch(b)
					if err == nil {
						break
					}
					b = b[k+1:]
				}
			}
			for k, env := range c.scratch {
				any = true
				if env.m != nil {
					_ = n.rn.Step(env.m)
				} else if c.pbMessages {
					_ = n.rn.StepBytes(env.wire)
				}
				c.scratch[k] = envelope{}
			}
			if !n.rn.HasReady() {
				continue
			}
			any = true
			n.readies++
			var rd polyraft.Ready
			var wms []polyraft.WireMessage
			var err error
			if c.wire && !c.pbMessages {
				rd, wms, err = n.rn.ReadyWire()
			} else {
				rd, err = n.rn.TryReady()
			}
			if err != nil {
				log.Fatal(err)
			}
			if !polyraft.IsEmptyHardState(rd.HardState) {
				if err := n.store.SetHardState(rd.HardState); err != nil {
					log.Fatal(err)
				}
			}
			if len(rd.Entries) > 0 {
				if err := n.store.Append(rd.Entries); err != nil {
					log.Fatal(err)
				}
			}
			for _, m := range wms {
				// Data is valid until Advance: copied into the peer's inbox
				// buffer.
				c.msgs++
				to := c.nodes[m.To-1]
				to.wireIn = append(to.wireIn, m.Data...)
				to.wireInLens = append(to.wireInLens, len(m.Data))
			}
			for _, m := range rd.Messages {
				c.msgs++
				to := c.nodes[m.GetTo()-1]
				if c.wire {
					b, err := proto.Marshal(m)
					if err != nil {
						log.Fatal(err)
					}
					to.inbox = append(to.inbox, envelope{wire: b})
				} else {
					to.inbox = append(to.inbox, envelope{m: m})
				}
			}
			for _, e := range rd.CommittedEntries {
				if len(e.Data) > 0 {
					n.appliedData++
				}
			}
			if k := len(rd.CommittedEntries); k > 0 {
				n.appliedIndex = rd.CommittedEntries[k-1].GetIndex()
			}
			if err := n.rn.TryAdvance(rd); err != nil {
				log.Fatal(err)
			}
			if c.compactEvery > 0 && n.appliedIndex-n.compacted >= c.compactEvery {
				if err := n.store.Compact(n.appliedIndex); err != nil {
					log.Fatal(err)
				}
				n.compacted = n.appliedIndex
			}
		}
		if !any {
			return
		}
	}
}

func (c *polyraftCluster) leaderApplied() uint64 { return c.nodes[0].appliedData }

func (c *polyraftCluster) counters() out {
	o := out{applied: c.nodes[0].appliedData, msgs: c.msgs}
	o.readiesLeader = c.nodes[0].readies
	for _, n := range c.nodes {
		o.readiesTotal += n.readies
	}
	return o
}

func (c *polyraftCluster) reset() {
	c.msgs = 0
	for _, n := range c.nodes {
		n.appliedData, n.readies = 0, 0
	}
}

// libStamp is set at link time to a digest of the libpolyraft.a linked in
// (mk/bench-w3.mk): the go command does not notice a changed static
// library named in #cgo LDFLAGS, a changed flag makes it link again.
var libStamp string
