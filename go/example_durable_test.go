package polyraft_test

import (
	"fmt"
	"os"
	"path/filepath"

	polyraft "github.com/polyraft/polyraft/go"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// A single-node cluster on a durable storage: the first run bootstraps the
// directory and commits three values; the second recovers them from disk.
func ExampleOpenDurableStorage() {
	root, err := os.MkdirTemp("", "polyraft-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)
	dir := filepath.Join(root, "raft")

	run := func(propose []string) {
		ds, err := polyraft.OpenDurableStorage(dir, nil)
		if err != nil {
			panic(err)
		}
		defer ds.Close()
		rep := ds.RecoveryReport()
		fmt.Printf("created %v, last index %d\n", rep.Created, rep.LastIndex)
		// A restart: the state machine would be restored from
		// ds.Snapshot(), up to rep.SnapshotIndex.
		rn, err := polyraft.NewRawNode(&polyraft.Config{
			ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: ds,
			Applied: rep.SnapshotIndex, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 16,
			Logger: polyraft.DiscardLogger,
		})
		if err != nil {
			panic(err)
		}
		defer rn.Close()
		if rep.Created {
			if err := rn.Bootstrap([]polyraft.Peer{{ID: 1}}); err != nil {
				panic(err)
			}
		}
		handle := func() {
			for rn.HasReady() {
				rd, err := rn.TryReady()
				if err != nil {
					panic(err)
				}
				// Durable before the messages go out (a single node
				// sends none).
				if err := ds.PersistReady(rd); err != nil {
					panic(err)
				}
				for _, e := range rd.CommittedEntries {
					switch e.GetType() {
					case pb.EntryConfChange:
						var cc pb.ConfChange
						if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
							panic(err)
						}
						if _, err := rn.TryApplyConfChange(&cc); err != nil {
							panic(err)
						}
					case pb.EntryNormal:
						if len(e.GetData()) > 0 {
							fmt.Printf("applied %s\n", e.GetData())
						}
					}
				}
				if err := rn.TryAdvance(rd); err != nil {
					panic(err)
				}
			}
		}
		handle()
		if err := rn.Campaign(); err != nil {
			panic(err)
		}
		handle()
		for _, v := range propose {
			if err := rn.Propose([]byte(v)); err != nil {
				panic(err)
			}
		}
		handle()
	}
	run([]string{"a", "b", "c"})
	run(nil) // the committed values come out again after the restart
	// Output:
	// created true, last index 0
	// applied a
	// applied b
	// applied c
	// created false, last index 5
	// applied a
	// applied b
	// applied c
}
