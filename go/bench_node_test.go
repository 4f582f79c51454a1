package polyraft

import (
	"context"
	"testing"

	etcd "go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// BenchmarkNodePropose: proposals through a single-node Node whose Readys
// are handled by another goroutine (persisted to its memory storage),
// polyraft's Node over its native MemoryStorage next to etcd's Node.
func BenchmarkNodePropose(b *testing.B) {
	type store interface {
		Storage
		Append([]*pb.Entry) error
	}
	run := func(b *testing.B, start func(*Config, []Peer) Node, st store) {
		n := start(&Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: st, MaxSizePerMsg: 1 << 20,
			MaxInflightMsgs: 256, Logger: DiscardLogger}, []Peer{{ID: 1}})
		defer n.Stop()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case rd := <-n.Ready():
					_ = st.Append(rd.Entries)
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
		ctx := context.Background()
		for n.Status().RaftState != StateLeader {
			_ = n.Campaign(ctx)
		}
		data := make([]byte, 128)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := n.Propose(ctx, data); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("polyraft", func(b *testing.B) { run(b, StartNode, NewMemoryStorage()) })
	b.Run("etcd", func(b *testing.B) { run(b, etcd.StartNode, etcd.NewMemoryStorage()) })
}
