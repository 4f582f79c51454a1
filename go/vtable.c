// Builds the storage vtable and log callback from the Go functions
// exported in callbacks.go. The library's contexts are `void *`; a Go
// cgo.Handle is an integer, so these trampolines convert between the two
// (no Go pointer is ever stored in C memory).
#include "polyraft.h"
#include "_cgo_export.h"

static uint32_t initial_state(void *ctx, polyraft_hard_state *hs, polyraft_conf_state_sink *sink) {
	return polyraftGoInitialState((uintptr_t)ctx, hs, sink);
}

static uint32_t entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_size, polyraft_entry_sink *sink) {
	return polyraftGoEntries((uintptr_t)ctx, lo, hi, max_size, sink);
}

static uint32_t term(void *ctx, uint64_t index, uint64_t *t) {
	return polyraftGoTerm((uintptr_t)ctx, index, t);
}

static uint32_t first_index(void *ctx, uint64_t *index) {
	return polyraftGoFirstIndex((uintptr_t)ctx, index);
}

static uint32_t last_index(void *ctx, uint64_t *index) {
	return polyraftGoLastIndex((uintptr_t)ctx, index);
}

static uint32_t snapshot(void *ctx, polyraft_snapshot_sink *sink) {
	return polyraftGoSnapshot((uintptr_t)ctx, sink);
}

static void destroy(void *ctx) {
	polyraftGoDestroy((uintptr_t)ctx);
}

static void log_line(void *ctx, uint32_t level, const char *msg, size_t len) {
	polyraftGoLog((uintptr_t)ctx, level, (char *)msg, len);
}

void polyraft_go_fill_vtable(polyraft_storage_vtable *vt, uintptr_t ctx) {
	vt->abi_version = POLYRAFT_STORAGE_ABI_VERSION;
	vt->ctx = (void *)ctx;
	vt->initial_state = initial_state;
	vt->entries = entries;
	vt->term = term;
	vt->first_index = first_index;
	vt->last_index = last_index;
	vt->snapshot = snapshot;
	vt->destroy = destroy;
}

void polyraft_go_set_log(polyraft_config *c, uintptr_t ctx) {
	c->log_callback = log_line;
	c->log_ctx = (void *)ctx;
}
