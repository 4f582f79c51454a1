package polyraft_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	polyraft "github.com/polyraft/polyraft/go"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// A three-node cluster in one process: each node runs the usual etcd loop
// (tick; on Ready: persist, send, apply, Advance), messages go straight to
// the peer's Step. Node 1 campaigns, then proposes two values (forwarded to
// the leader, whoever it is); every node applies them in the same order.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	peers := []polyraft.Peer{{ID: 1}, {ID: 2}, {ID: 3}}
	nodes := map[uint64]polyraft.Node{}
	storages := map[uint64]*polyraft.MemoryStorage{}
	for _, p := range peers {
		ms := polyraft.NewMemoryStorage()
		n := polyraft.StartNode(&polyraft.Config{
			ID:              p.ID,
			ElectionTick:    10,
			HeartbeatTick:   1,
			Storage:         ms,
			MaxSizePerMsg:   1 << 20,
			MaxInflightMsgs: 256,
			Logger:          polyraft.DiscardLogger,
		}, peers)
		nodes[p.ID], storages[p.ID] = n, ms
	}

	applied := map[uint64]chan string{1: make(chan string, 8), 2: make(chan string, 8), 3: make(chan string, 8)}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for id, n := range nodes {
		wg.Add(1)
		go func(id uint64, n polyraft.Node, ms *polyraft.MemoryStorage) {
			defer wg.Done()
			ticker := time.NewTicker(10 * time.Millisecond)
			defer ticker.Stop()
			for {
				select {
				case <-ticker.C:
					n.Tick()
				case rd := <-n.Ready():
					if !polyraft.IsEmptySnap(rd.Snapshot) {
						_ = ms.ApplySnapshot(rd.Snapshot)
					}
					_ = ms.Append(rd.Entries)
					if rd.HardState != nil {
						_ = ms.SetHardState(rd.HardState)
					}
					for _, m := range rd.Messages {
						_ = nodes[m.GetTo()].Step(ctx, m)
					}
					for _, e := range rd.CommittedEntries {
						switch e.GetType() {
						case pb.EntryConfChange:
							var cc pb.ConfChange
							if err := proto.Unmarshal(e.GetData(), &cc); err == nil {
								n.ApplyConfChange(&cc)
							}
						case pb.EntryNormal:
							if len(e.GetData()) > 0 {
								applied[id] <- string(e.GetData())
							}
						}
					}
					n.Advance()
				case <-done:
					return
				}
			}
		}(id, n, storages[id])
	}

	// Campaign until there is a leader (a campaign is refused until the
	// bootstrap configuration is applied).
	for nodes[1].Status().Lead == 0 {
		if err := nodes[1].Campaign(ctx); err != nil {
			panic(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, v := range []string{"hello", "world"} {
		// Propose waits until a leader is known.
		if err := nodes[1].Propose(ctx, []byte(v)); err != nil {
			panic(err)
		}
	}
	for id := uint64(1); id <= 3; id++ {
		fmt.Printf("node %d applied %s, %s\n", id, <-applied[id], <-applied[id])
	}

	close(done)
	wg.Wait()
	for id, n := range nodes {
		n.Stop()
		storages[id].Close()
	}
	// Output:
	// node 1 applied hello, world
	// node 2 applied hello, world
	// node 3 applied hello, world
}
