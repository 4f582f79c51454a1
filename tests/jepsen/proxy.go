package main

import (
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards one directed host-to-host link: the connections that
// host `from` dials to reach host `to` (the transport sends a host's
// messages to a peer on the connection it dialed itself, so blocking this
// proxy silences from -> to and nothing else). Blocked, it closes every
// connection it carries and refuses new ones at once (the dialer sees a
// reset, reports the peer unreachable and backs off).
type Proxy struct {
	from, to int
	ln       net.Listener
	mu       sync.Mutex
	target   string
	blocked  bool
	conns    map[net.Conn]struct{}
}

// startProxy listens on a loopback port; the target is set later (the
// destination host's port is known only once it runs, and changes when it
// restarts).
func startProxy(from, to int) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{from: from, to: to, ln: ln, conns: map[net.Conn]struct{}{}}
	go p.accept()
	return p, nil
}

// Addr is where host `from` must dial to reach host `to`.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget points the proxy at the destination host's listen address.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

// SetBlocked cuts (true) or restores (false) the link.
func (p *Proxy) SetBlocked(b bool) {
	p.mu.Lock()
	p.blocked = b
	var cut []net.Conn
	if b {
		for c := range p.conns {
			cut = append(cut, c)
		}
	}
	p.mu.Unlock()
	for _, c := range cut {
		c.Close()
	}
}

// Close stops the proxy and its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.SetBlocked(true)
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blocked {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(in)
	}
}

func (p *Proxy) serve(in net.Conn) {
	p.mu.Lock()
	target, blocked := p.target, p.blocked
	p.mu.Unlock()
	if blocked || target == "" {
		in.Close()
		return
	}
	out, err := net.DialTimeout("tcp", target, time.Second)
	if err != nil {
		in.Close()
		return
	}
	if !p.track(in, out) {
		in.Close()
		out.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
	p.untrack(in, out)
}
