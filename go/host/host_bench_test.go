package host_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/polyraft/polyraft/go/host"
)

// BenchmarkPropose measures proposals through the Go binding on a 3-host
// in-process cluster (memory logs): one group, from parallel goroutines.
func BenchmarkPropose(b *testing.B) {
	net := host.NewInProcessNetwork()
	defer net.Close()
	peers := []host.Peer{{1, 1}, {2, 2}, {3, 3}}
	var hosts []*host.Host
	for id := uint64(1); id <= 3; id++ {
		h, err := host.New(host.Config{HostID: id, Transport: net, Workers: 1, TickInterval: 10 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		if err := h.StartReplica(context.Background(), 1, id, peers, newKV(nil)); err != nil {
			b.Fatal(err)
		}
		hosts = append(hosts, h)
	}
	ctx := context.Background()
	for {
		_, err := hosts[0].Propose(ctx, 1, []byte("warm=up"))
		if err == nil {
			break
		}
		if !errors.Is(err, host.ErrRejected) {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	info, _ := hosts[0].GroupInfo(ctx, 1)
	leader := hosts[info.Leader-1]
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := leader.Propose(ctx, 1, fmt.Appendf(nil, "k%d=v", i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
