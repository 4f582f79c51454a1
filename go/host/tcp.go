package host

/*
#include <stdlib.h>
#include "polyraft.h"
*/
import "C"

import (
	"fmt"
	"path/filepath"
	"sync"
	"unsafe"
)

// TLSFiles are the PEM files of a host on the TCP network: its certificate
// and key, and the CA every peer's certificate must chain to.
type TLSFiles struct {
	Cert, Key, CA string
}

// DevTLSFiles are the files [DevCertificates] writes for host id in dir.
func DevTLSFiles(dir string, id uint64) TLSFiles {
	stem := filepath.Join(dir, fmt.Sprintf("host-%d", id))
	return TLSFiles{Cert: stem + ".pem", Key: stem + ".key", CA: filepath.Join(dir, "ca.pem")}
}

// DevCertificates makes a fresh development CA and writes ca.pem,
// host-<id>.pem and host-<id>.key for every id into dir, so that tests
// and examples run with mutual TLS and no manual step. Not for production.
func DevCertificates(dir string, ids []uint64) (map[uint64]TLSFiles, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no host ids", ErrInvalidArgument)
	}
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	cids := make([]C.uint64_t, len(ids))
	for i, id := range ids {
		cids[i] = C.uint64_t(id)
	}
	var detail *C.polyraft_buffer
	if code := C.polyraft_dev_certificates(cdir, &cids[0], C.size_t(len(cids)), &detail); code != C.POLYRAFT_OK {
		return nil, codeError(code, takeBuffer(detail))
	}
	out := make(map[uint64]TLSFiles, len(ids))
	for _, id := range ids {
		out[id] = DevTLSFiles(dir, id)
	}
	return out, nil
}

// TCPNetwork is one host's place on the TCP network: its listen address
// and the other hosts' addresses. Connections use mutual TLS 1.3 unless it
// was made with [NewInsecurePlaintextTCPNetwork]. One host may be created
// with it. Safe for concurrent use.
type TCPNetwork struct {
	mu  sync.Mutex
	ptr *C.polyraft_host_transport
}

// NewTCPNetwork makes the TCP network of one host with mutual TLS:
// listen is "ip:port" (port 0 picks one: see [Host.LocalAddr]), peers maps
// host ids to "host:port". Its connections are written by threads the Go
// runtime does not know; a peer that goes away mid-write is an error on that
// connection, never a SIGPIPE on one of them (which would end the program).
func NewTCPNetwork(listen string, peers map[uint64]string, tls TLSFiles) (*TCPNetwork, error) {
	return newTCP(peers, func(out **C.polyraft_host_transport, detail **C.polyraft_buffer) cResult {
		cs := []*C.char{C.CString(listen), C.CString(tls.Cert), C.CString(tls.Key), C.CString(tls.CA)}
		defer func() {
			for _, c := range cs {
				C.free(unsafe.Pointer(c))
			}
		}()
		return C.polyraft_host_transport_tcp_new(cs[0], cs[1], cs[2], cs[3], out, detail)
	})
}

// NewInsecurePlaintextTCPNetwork makes the TCP network of one host without
// TLS: anyone who reaches the port can inject raft messages. Only for
// trusted networks and tests.
func NewInsecurePlaintextTCPNetwork(listen string, peers map[uint64]string) (*TCPNetwork, error) {
	return newTCP(peers, func(out **C.polyraft_host_transport, detail **C.polyraft_buffer) cResult {
		cl := C.CString(listen)
		defer C.free(unsafe.Pointer(cl))
		return C.polyraft_host_transport_tcp_insecure_plaintext_new(cl, out, detail)
	})
}

func newTCP(peers map[uint64]string, make func(**C.polyraft_host_transport, **C.polyraft_buffer) cResult) (*TCPNetwork, error) {
	n := &TCPNetwork{}
	var detail *C.polyraft_buffer
	if code := make(&n.ptr, &detail); code != C.POLYRAFT_OK {
		return nil, codeError(code, takeBuffer(detail))
	}
	for id, addr := range peers {
		ca := C.CString(addr)
		code := C.polyraft_host_transport_add_peer(n.ptr, C.uint64_t(id), ca, &detail)
		C.free(unsafe.Pointer(ca))
		if code != C.POLYRAFT_OK {
			err := codeError(code, takeBuffer(detail))
			C.polyraft_host_transport_free(n.ptr)
			return nil, err
		}
	}
	return n, nil
}

func (n *TCPNetwork) handle() (*C.polyraft_host_transport, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ptr == nil {
		return nil, fmt.Errorf("%w: the network is closed", ErrClosed)
	}
	return n.ptr, nil
}

// Close releases the handle; a host created with it keeps working.
func (n *TCPNetwork) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	C.polyraft_host_transport_free(n.ptr)
	n.ptr = nil
	return nil
}

// LocalAddr is the address the host's TCP transport listens on.
func (h *Host) LocalAddr() (string, error) {
	var buf [128]C.char
	var n C.size_t
	err := h.call(func(p *C.polyraft_host) cResult {
		return C.polyraft_host_local_addr(p, &buf[0], C.size_t(len(buf)), &n)
	})
	if err != nil {
		return "", err
	}
	return C.GoString(&buf[0]), nil
}

// AddPeer adds or updates host id's address ("host:port") on a host on the
// TCP network.
func (h *Host) AddPeer(id uint64, addr string) error {
	ca := C.CString(addr)
	defer C.free(unsafe.Pointer(ca))
	return h.call(func(p *C.polyraft_host) cResult { return C.polyraft_host_add_peer(p, C.uint64_t(id), ca) })
}
