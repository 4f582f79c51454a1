// Builds the storage vtable and log callback from the Go functions
// exported in callbacks.go.
#include "polyraft.h"
#include "_cgo_export.h"

void polyraft_go_fill_vtable(polyraft_storage_vtable *vt, uintptr_t ctx) {
	vt->abi_version = POLYRAFT_STORAGE_ABI_VERSION;
	vt->ctx = ctx;
	vt->initial_state = polyraftGoInitialState;
	vt->entries = polyraftGoEntries;
	vt->term = polyraftGoTerm;
	vt->first_index = polyraftGoFirstIndex;
	vt->last_index = polyraftGoLastIndex;
	vt->snapshot = polyraftGoSnapshot;
	vt->destroy = polyraftGoDestroy;
}

void polyraft_go_set_log(polyraft_config *c, uintptr_t ctx) {
	c->log_callback = (polyraft_log_callback)polyraftGoLog;
	c->log_ctx = ctx;
}
