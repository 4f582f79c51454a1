package polyraft

// The C callbacks of the storage vtable and of the log sink. This file
// has //export directives, so its preamble may only declare.

/*
#include <stdlib.h>
#include "polyraft.h"
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"unsafe"

	"google.golang.org/protobuf/proto"
)

func storageOf(ctx C.uintptr_t) *goStorage {
	return cgo.Handle(ctx).Value().(*goStorage)
}

//export polyraftGoInitialState
func polyraftGoInitialState(ctx C.uintptr_t, hs *C.polyraft_hard_state, sink *C.polyraft_conf_state_sink) (st C.polyraft_storage_status) {
	g := storageOf(ctx)
	defer g.recoverInto(&st)
	h, cs, err := g.s.InitialState()
	if err != nil {
		return g.status(err)
	}
	*hs = cHardState(h)
	if cs != nil {
		var pin runtime.Pinner
		defer pin.Unpin()
		c := cConfState(&pin, cs)
		if code := C.polyraft_conf_state_sink_set(sink, &c); code != C.POLYRAFT_OK {
			return C.POLYRAFT_STORAGE_FAILURE
		}
	}
	return C.POLYRAFT_OK
}

//export polyraftGoEntries
func polyraftGoEntries(ctx C.uintptr_t, lo, hi, maxSize C.uint64_t, sink *C.polyraft_entry_sink) (st C.polyraft_storage_status) {
	g := storageOf(ctx)
	defer g.recoverInto(&st)
	ents, err := g.s.Entries(uint64(lo), uint64(hi), uint64(maxSize))
	if err != nil {
		return g.status(err)
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	for _, e := range ents {
		// Encoded, so that a field set explicitly to its zero value (an
		// EntryNormal type, as on the entry replacing a refused conf
		// change) stays set: byte limits count it, as etcd does.
		b, err := proto.Marshal(e)
		if err != nil {
			return g.status(err)
		}
		p, n := pinBytes(&pin, b)
		if code := C.polyraft_entry_sink_push_encoded(sink, p, n); code != C.POLYRAFT_OK {
			return C.POLYRAFT_STORAGE_FAILURE
		}
	}
	return C.POLYRAFT_OK
}

//export polyraftGoTerm
func polyraftGoTerm(ctx C.uintptr_t, index C.uint64_t, term *C.uint64_t) (st C.polyraft_storage_status) {
	g := storageOf(ctx)
	defer g.recoverInto(&st)
	t, err := g.s.Term(uint64(index))
	if err != nil {
		return g.status(err)
	}
	*term = C.uint64_t(t)
	return C.POLYRAFT_OK
}

//export polyraftGoFirstIndex
func polyraftGoFirstIndex(ctx C.uintptr_t, index *C.uint64_t) (st C.polyraft_storage_status) {
	g := storageOf(ctx)
	defer g.recoverInto(&st)
	i, err := g.s.FirstIndex()
	if err != nil {
		return g.status(err)
	}
	*index = C.uint64_t(i)
	return C.POLYRAFT_OK
}

//export polyraftGoLastIndex
func polyraftGoLastIndex(ctx C.uintptr_t, index *C.uint64_t) (st C.polyraft_storage_status) {
	g := storageOf(ctx)
	defer g.recoverInto(&st)
	i, err := g.s.LastIndex()
	if err != nil {
		return g.status(err)
	}
	*index = C.uint64_t(i)
	return C.POLYRAFT_OK
}

//export polyraftGoSnapshot
func polyraftGoSnapshot(ctx C.uintptr_t, sink *C.polyraft_snapshot_sink) (st C.polyraft_storage_status) {
	g := storageOf(ctx)
	defer g.recoverInto(&st)
	s, err := g.s.Snapshot()
	if err != nil {
		return g.status(err)
	}
	if s == nil {
		return C.POLYRAFT_OK
	}
	b, err := proto.Marshal(s)
	if err != nil {
		return g.status(err)
	}
	if len(b) == 0 {
		return C.POLYRAFT_OK
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	p, n := pinBytes(&pin, b)
	if code := C.polyraft_snapshot_sink_set_encoded(sink, p, n); code != C.POLYRAFT_OK {
		return C.POLYRAFT_STORAGE_FAILURE
	}
	return C.POLYRAFT_OK
}

//export polyraftGoDestroy
func polyraftGoDestroy(ctx C.uintptr_t) {
	cgo.Handle(ctx).Delete()
}

//export polyraftGoLog
func polyraftGoLog(ctx C.uintptr_t, level C.uint32_t, msg *C.char, n C.size_t) {
	defer func() { _ = recover() }() // a logger's panic must not unwind through Rust
	l := cgo.Handle(ctx).Value().(Logger)
	line := string(unsafe.Slice((*byte)(unsafe.Pointer(msg)), int(n)))
	logLine(l, C.uint32_t(level), line)
}
