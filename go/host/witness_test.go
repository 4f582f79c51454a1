package host_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/polyraft/polyraft/go/host"
)

// A witness joins group 4, completes the quorum while a data replica is
// away, refuses client calls, never leads, and leaves.
func TestWitness(t *testing.T) {
	c := newCluster(t)
	ctx := ctxT(t, 30*time.Second)
	for i := 0; i < 10; i++ {
		propose(t, c.hosts[uint64(i%3+1)], 4, fmt.Sprintf("w%d=1", i))
	}
	h4 := newHost(t, c.net, 4, "")
	c.hosts[4] = h4
	if err := h4.StartWitness(ctx, 4, 4); err != nil {
		t.Fatal(err)
	}
	if err := c.hosts[1].AddWitness(ctx, 4, 4, 4); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		info, err := h4.GroupInfo(ctx, 4)
		if err == nil && info.IsWitness && info.Witnesses == 1 && len(info.Voters) == 4 && info.Applied >= 11 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("witness did not catch up: %+v %v", info, err)
		}
	}
	if _, err := h4.Propose(ctx, 4, []byte("x=1")); !errors.Is(err, host.ErrRejected) {
		t.Fatalf("a witness must refuse proposals, got %v", err)
	}
	if _, err := h4.StaleRead(ctx, 4, []byte("x")); !errors.Is(err, host.ErrRejected) {
		t.Fatalf("a witness must refuse reads, got %v", err)
	}
	if err := c.hosts[1].AddWitness(ctx, 4, 2, 2); err == nil {
		t.Fatal("a data replica became a witness")
	}
	if info, _ := h4.GroupInfo(ctx, 4); info.IsLeader {
		t.Fatal("a witness leads")
	}
	if err := c.hosts[1].RemoveReplica(ctx, 4, 4); err != nil {
		t.Fatal(err)
	}
	if info, err := c.hosts[1].GroupInfo(ctx, 4); err != nil || info.Witnesses != 0 || len(info.Voters) != 3 {
		t.Fatalf("after removal: %+v %v", info, err)
	}
}
