package polyraft

/*
#include "polyraft.h"
void polyraft_go_fill_vtable(polyraft_storage_vtable *vt, uintptr_t ctx);
void polyraft_go_set_log(polyraft_config *c, uintptr_t ctx);
*/
import "C"

import "runtime/cgo"

func fillVtable(vt *C.polyraft_storage_vtable, h cgo.Handle) {
	C.polyraft_go_fill_vtable(vt, C.uintptr_t(h))
}

func setLogCallback(c *C.polyraft_config, h cgo.Handle) {
	C.polyraft_go_set_log(c, C.uintptr_t(h))
}
