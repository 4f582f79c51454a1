package host

// The C callbacks: state machine vtable and completions. This file has
// //export directives, so its preamble may only declare. Every callback
// recovers a Go panic (a panic must not unwind into the library): a
// panicking state machine counts as a failing one.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#include "polyraft.h"
*/
import "C"

import (
	"fmt"
	"io"
	"runtime/cgo"
	"unsafe"
)

const (
	cbOK   = C.uint32_t(C.POLYRAFT_OK)
	cbFail = C.uint32_t(C.POLYRAFT_STORAGE_FAILURE)
)

// replicaOf is the state machine behind a callback's context.
func replicaOf(h C.uintptr_t) *replica {
	return cgo.Handle(h).Value().(*replica)
}

// failed records why a callback failed (for the replica's last error) and
// gives the failure status.
func (r *replica) failed(what string, err any) C.uint32_t {
	r.mu.Lock()
	r.lastErr = fmt.Errorf("state machine %s: %v", what, err)
	r.mu.Unlock()
	return cbFail
}

// push hands one result to the library, which copies it.
func push(results *C.polyraft_host_results, b []byte) bool {
	var p *C.uint8_t
	if len(b) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&b[0]))
	}
	return C.polyraft_host_results_push(results, p, C.size_t(len(b))) == C.POLYRAFT_OK
}

//export polyraftGoHostApply
func polyraftGoHostApply(h C.uintptr_t, entries *C.polyraft_host_entry, n C.size_t, results *C.polyraft_host_results) (st C.uint32_t) {
	r := replicaOf(h)
	defer func() {
		if p := recover(); p != nil {
			st = r.failed("apply panicked", p)
		}
	}()
	ces := unsafe.Slice(entries, int(n))
	ents := make([]Entry, len(ces))
	for i, e := range ces {
		ents[i] = Entry{Index: uint64(e.index), Term: uint64(e.term), Cmd: C.GoBytes(unsafe.Pointer(e.data), C.int(e.len))}
	}
	out, err := r.sm.Apply(ents)
	if err != nil {
		return r.failed("apply", err)
	}
	if len(out) != len(ents) {
		return r.failed("apply", fmt.Sprintf("%d results for %d entries", len(out), len(ents)))
	}
	for _, b := range out {
		if !push(results, b) {
			return cbFail
		}
	}
	return cbOK
}

// snapshotWriter is the io.Writer a Snapshot call writes to.
type snapshotWriter struct{ w *C.polyraft_host_writer }

func (s snapshotWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if C.polyraft_host_writer_write(s.w, (*C.uint8_t)(unsafe.Pointer(&p[0])), C.size_t(len(p))) != C.POLYRAFT_OK {
		return 0, ErrStorage
	}
	return len(p), nil
}

//export polyraftGoHostSnapshot
func polyraftGoHostSnapshot(h C.uintptr_t, w *C.polyraft_host_writer) (st C.uint32_t) {
	r := replicaOf(h)
	defer func() {
		if p := recover(); p != nil {
			st = r.failed("snapshot panicked", p)
		}
	}()
	if err := r.sm.Snapshot(snapshotWriter{w}); err != nil {
		return r.failed("snapshot", err)
	}
	return cbOK
}

// snapshotReader is the io.Reader a Restore call reads from.
type snapshotReader struct{ r *C.polyraft_host_reader }

func (s snapshotReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n C.size_t
	if C.polyraft_host_reader_read(s.r, (*C.uint8_t)(unsafe.Pointer(&p[0])), C.size_t(len(p)), &n) != C.POLYRAFT_OK {
		return 0, ErrStorage
	}
	if n == 0 {
		return 0, io.EOF
	}
	return int(n), nil
}

//export polyraftGoHostRestore
func polyraftGoHostRestore(h C.uintptr_t, rd *C.polyraft_host_reader) (st C.uint32_t) {
	r := replicaOf(h)
	defer func() {
		if p := recover(); p != nil {
			st = r.failed("restore panicked", p)
		}
	}()
	if err := r.sm.Restore(snapshotReader{rd}); err != nil {
		return r.failed("restore", err)
	}
	return cbOK
}

//export polyraftGoHostLookup
func polyraftGoHostLookup(h C.uintptr_t, query *C.uint8_t, n C.size_t, result *C.polyraft_host_results) (st C.uint32_t) {
	r := replicaOf(h)
	defer func() {
		if p := recover(); p != nil {
			st = r.failed("lookup panicked", p)
		}
	}()
	v, err := r.sm.Lookup(C.GoBytes(unsafe.Pointer(query), C.int(n)))
	if err != nil {
		return r.failed("lookup", err)
	}
	if !push(result, v) {
		return cbFail
	}
	return cbOK
}

//export polyraftGoHostDestroy
func polyraftGoHostDestroy(h C.uintptr_t) {
	r := replicaOf(h)
	cgo.Handle(h).Delete()
	defer func() { _ = recover() }()
	if c, ok := r.sm.(io.Closer); ok {
		_ = c.Close()
	}
}

//export polyraftGoHostDone
func polyraftGoHostDone(h C.uintptr_t, o *C.polyraft_host_outcome) {
	ch := cgo.Handle(h).Value().(chan outcome)
	cgo.Handle(h).Delete()
	out := outcome{code: o.code}
	if o.code == C.POLYRAFT_OK {
		out.data = C.GoBytes(unsafe.Pointer(o.data), C.int(o.len))
	} else {
		out.detail = C.GoString(o.detail)
	}
	ch <- out // buffered: never blocks the worker
}
