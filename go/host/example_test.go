package host_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/polyraft/polyraft/go/host"
)

// counter is a tiny state machine: every command adds its length.
type counter struct{ n int }

func (c *counter) Apply(entries []host.Entry) ([][]byte, error) {
	out := make([][]byte, len(entries))
	for i, e := range entries {
		c.n += len(e.Cmd)
		out[i] = fmt.Appendf(nil, "%d", c.n)
	}
	return out, nil
}
func (c *counter) Snapshot(w io.Writer) error      { _, err := fmt.Fprint(w, c.n); return err }
func (c *counter) Restore(r io.Reader) error       { _, err := fmt.Fscan(r, &c.n); return err }
func (c *counter) Lookup(_ []byte) ([]byte, error) { return fmt.Appendf(nil, "%d", c.n), nil }

// A one-host group: start a replica, propose (retrying while the group has
// no leader yet: a rejected proposal was not applied), read.
func Example() {
	net := host.NewInProcessNetwork()
	defer net.Close()
	h, err := host.New(host.Config{HostID: 1, Transport: net, TickInterval: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.StartReplica(ctx, 1, 1, []host.Peer{{Replica: 1, Host: 1}}, &counter{}); err != nil {
		panic(err)
	}
	for _, cmd := range []string{"abc", "de"} {
		r, err := h.Propose(ctx, 1, []byte(cmd))
		for errors.Is(err, host.ErrRejected) {
			time.Sleep(10 * time.Millisecond)
			r, err = h.Propose(ctx, 1, []byte(cmd))
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s -> %s\n", cmd, r)
	}
	v, err := h.Read(ctx, 1, nil)
	fmt.Println("read:", string(v), err)
	// Output:
	// abc -> 3
	// de -> 5
	// read: 5 <nil>
}
