package host_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/polyraft/polyraft/go/host"
)

// retryTCP proposes until the outcome is known; over the network a
// proposal forwarded during an election may time out, and these commands
// are idempotent.
func retryTCP(t *testing.T, h *host.Host, group uint64, cmd string) string {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); ; {
		r, err := h.Propose(ctxT(t, 2*time.Second), group, []byte(cmd))
		if err == nil {
			return string(r)
		}
		if !(errors.Is(err, host.ErrRejected) || errors.Is(err, host.ErrTimedOut)) || time.Now().After(end) {
			t.Fatalf("propose %q to group %d on host %d: %v", cmd, group, h.ID(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Three hosts in this process on loopback TCP with mutual TLS: each its
// own TCPNetwork on port 0, addresses learned with AddPeer.
func TestTCPNetworkMutualTLS(t *testing.T) {
	dir := t.TempDir()
	files, err := host.DevCertificates(filepath.Join(dir, "certs"), []uint64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(files[2].Key); err != nil {
		t.Fatalf("host 2's key: %v", err)
	}
	var hosts []*host.Host
	for id := uint64(1); id <= 3; id++ {
		n, err := host.NewTCPNetwork("127.0.0.1:0", nil, files[id])
		if err != nil {
			t.Fatal(err)
		}
		h, err := host.New(host.Config{HostID: id, Transport: n, TickInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		n.Close() // the host keeps its own reference
		t.Cleanup(func() { h.Close() })
		hosts = append(hosts, h)
	}
	for _, h := range hosts {
		for _, o := range hosts {
			addr, err := o.LocalAddr()
			if err != nil {
				t.Fatal(err)
			}
			if o != h {
				if err := h.AddPeer(o.ID(), addr); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	peers := []host.Peer{{Replica: 1, Host: 1}, {Replica: 2, Host: 2}, {Replica: 3, Host: 3}}
	for _, h := range hosts {
		for g := uint64(1); g <= 2; g++ {
			if err := h.StartReplica(ctxT(t, 5*time.Second), g, h.ID(), peers, newKV(nil)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for g := uint64(1); g <= 2; g++ {
		for _, h := range hosts {
			retryTCP(t, h, g, "k=from-"+string(rune('0'+h.ID())))
		}
		for _, h := range hosts {
			if got := read(t, h, g, "k"); got != "from-3" {
				t.Fatalf("group %d on host %d: k=%q, want from-3", g, h.ID(), got)
			}
		}
	}
}

func TestTCPNetworkBadSettings(t *testing.T) {
	dir := t.TempDir()
	if _, err := host.NewTCPNetwork("nowhere", nil, host.DevTLSFiles(dir, 1)); !errors.Is(err, host.ErrInvalidArgument) {
		t.Fatalf("bad listen address: %v", err)
	}
	if _, err := host.NewTCPNetwork("127.0.0.1:0", nil, host.DevTLSFiles(dir, 1)); !errors.Is(err, host.ErrInvalidArgument) {
		t.Fatalf("missing PEM files: %v", err)
	}
	if _, err := host.NewInsecurePlaintextTCPNetwork("127.0.0.1:0", map[uint64]string{0: "127.0.0.1:1"}); !errors.Is(err, host.ErrInvalidArgument) {
		t.Fatalf("peer id 0: %v", err)
	}
	if _, err := host.DevCertificates(dir, []uint64{0}); !errors.Is(err, host.ErrInvalidArgument) {
		t.Fatalf("dev certificate for host 0: %v", err)
	}
	n, err := host.NewInsecurePlaintextTCPNetwork("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	h, err := host.New(host.Config{HostID: 1, Transport: n})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := host.New(host.Config{HostID: 2, Transport: n}); err == nil {
		t.Fatal("a second host on one TCP network was accepted")
	}
	if addr, err := h.LocalAddr(); err != nil || addr == "" {
		t.Fatalf("LocalAddr: %q, %v", addr, err)
	}
	in := host.NewInProcessNetwork()
	defer in.Close()
	h2, err := host.New(host.Config{HostID: 3, Transport: in})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if _, err := h2.LocalAddr(); !errors.Is(err, host.ErrInvalidArgument) {
		t.Fatalf("LocalAddr off TCP: %v", err)
	}
}
