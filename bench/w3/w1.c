/* W3, C: the W1 loop of bench/README.md driven through the C API.
 *
 * A driver of polyraft-bench: called like a child,
 *   w1 --impl polyraft --w W1 --voters 3 --n N --b 64 --p 128 --mode entry --wire 1
 * it runs the loop and prints the same one-line JSON (applied, elapsed_ns,
 * msgs, readies, rss_kb). Storage calls and allocations are not measured
 * here (the library's memory storage has no counter and the allocations
 * are Rust's), so those keys are left out.
 *
 * The loop is the one of bench/src/pr.rs: 3 voters in one thread, each over
 * a polyraft_memory_storage; node 1 campaigns and wins before the clock
 * starts; then, until the leader has applied N entries: the leader proposes
 * B entries of P bytes (one polyraft_node_propose each, or one
 * polyraft_node_propose_batch with --mode batch); every node in turn steps
 * its inbox (polyraft_node_step on the received bytes) and, if it has a
 * Ready, appends its entries and hard state to its storage, copies each
 * message's raftpb bytes into the peer's inbox, counts the applied entries
 * and advances; until no node has work. Each storage is compacted to the
 * applied index every 65,536 entries. Messages always travel as bytes: the
 * C API has no other form (--wire 0 is refused).
 *
 * W2 (--w W2) runs N cycles of one proposal each after 1,000 warm-up
 * cycles, as the Rust harness does. */
#define _POSIX_C_SOURCE 199309L
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "polyraft.h"

#define MAX_VOTERS 7

static void die(const char *what, polyraft_result rc) {
    fprintf(stderr, "w1: %s: %s (%u)\n", what, polyraft_result_str(rc), (unsigned)rc);
    exit(1);
}

#define OK(call)                                \
    do {                                        \
        polyraft_result rc_ = (call);           \
        if (rc_ != POLYRAFT_OK) die(#call, rc_); \
    } while (0)

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "w1: out of memory\n");
        exit(2);
    }
    return q;
}

/* An inbox: the received messages' bytes back to back in one buffer, and
 * where each ends. Both buffers are reused from round to round. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    size_t *ends;
    size_t n, ends_cap;
} inbox;

static void inbox_push(inbox *b, const uint8_t *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->len + n) c *= 2;
        b->buf = xrealloc(b->buf, c);
        b->cap = c;
    }
    if (b->n == b->ends_cap) {
        b->ends_cap = b->ends_cap ? b->ends_cap * 2 : 64;
        b->ends = xrealloc(b->ends, b->ends_cap * sizeof(size_t));
    }
    if (n) memcpy(b->buf + b->len, p, n);
    b->len += n;
    b->ends[b->n++] = b->len;
}

typedef struct {
    polyraft_node *rn;
    polyraft_memory_storage *store;
    inbox in;
    uint64_t applied_index, compacted, applied_data, readies;
} node;

typedef struct {
    node nodes[MAX_VOTERS];
    size_t voters;
    inbox scratch;
    uint64_t compact_every;
    uint64_t msgs;
} cluster;

/* Steps inboxes and handles Readies until no node has work. */
static void run(cluster *c) {
    for (;;) {
        int any = 0;
        size_t i, k;
        for (i = 0; i < c->voters; i++) {
            node *n = &c->nodes[i];
            inbox t = n->in;
            const polyraft_ready *rd;
            const polyraft_entry *ents;
            const polyraft_message *ms;
            polyraft_hard_state hs;
            bool present, has;
            size_t cnt, start = 0;

            /* Take the inbox; the scratch (emptied) becomes the new one. */
            n->in = c->scratch;
            n->in.len = 0;
            n->in.n = 0;
            c->scratch = t;
            for (k = 0; k < c->scratch.n; k++) {
                size_t end = c->scratch.ends[k];
                any = 1;
                /* Errors are ignored, as in the Rust loop (a dropped
                 * message is raft's business). */
                (void)polyraft_node_step(n->rn, c->scratch.buf + start, end - start);
                start = end;
            }
            c->scratch.len = 0;
            c->scratch.n = 0;

            OK(polyraft_node_has_ready(n->rn, &has));
            if (!has) continue;
            any = 1;
            n->readies++;
            OK(polyraft_node_ready(n->rn, &rd));
            OK(polyraft_ready_hard_state(rd, &hs, &present));
            if (present) OK(polyraft_memory_storage_set_hard_state(n->store, &hs));
            OK(polyraft_ready_entries(rd, &ents, &cnt));
            if (cnt) OK(polyraft_memory_storage_append(n->store, ents, cnt));
            OK(polyraft_ready_messages(rd, &ms, &cnt));
            for (k = 0; k < cnt; k++) {
                c->msgs++;
                inbox_push(&c->nodes[ms[k].to - 1].in, ms[k].bytes, ms[k].bytes_len);
            }
            OK(polyraft_ready_committed_entries(rd, &ents, &cnt));
            for (k = 0; k < cnt; k++) {
                if (ents[k].data_len) n->applied_data++;
            }
            if (cnt) n->applied_index = ents[cnt - 1].index;
            OK(polyraft_node_advance(n->rn));
            if (c->compact_every > 0 && n->applied_index - n->compacted >= c->compact_every) {
                OK(polyraft_memory_storage_compact(n->store, n->applied_index));
                n->compacted = n->applied_index;
            }
        }
        if (!any) return;
    }
}

static void cluster_init(cluster *c, size_t voters, uint64_t compact_every) {
    uint64_t ids[MAX_VOTERS];
    polyraft_snapshot snap;
    polyraft_basic_status bs;
    size_t i;
    memset(c, 0, sizeof *c);
    c->voters = voters;
    c->compact_every = compact_every;
    for (i = 0; i < voters; i++) ids[i] = i + 1;
    /* The configuration comes from an initial snapshot (index 1, term 1),
     * as in the Go loop: the C API has no storage constructor taking one. */
    memset(&snap, 0, sizeof snap);
    snap.index = 1;
    snap.term = 1;
    snap.conf_state.voters = ids;
    snap.conf_state.voters_len = voters;
    for (i = 0; i < voters; i++) {
        polyraft_config cfg;
        node *n = &c->nodes[i];
        OK(polyraft_memory_storage_new(&n->store));
        OK(polyraft_memory_storage_apply_snapshot(n->store, &snap));
        OK(polyraft_config_init(&cfg));
        cfg.id = ids[i];
        cfg.election_tick = 10;
        cfg.heartbeat_tick = 1;
        cfg.max_size_per_msg = 1u << 20;
        cfg.max_inflight_msgs = 256;
        cfg.log_level = POLYRAFT_LOG_OFF;
        OK(polyraft_node_new_memory(&cfg, n->store, &n->rn, NULL));
    }
    OK(polyraft_node_campaign(c->nodes[0].rn));
    run(c);
    OK(polyraft_node_basic_status(c->nodes[0].rn, &bs));
    if (bs.soft_state.raft_state != POLYRAFT_STATE_LEADER) {
        fprintf(stderr, "w1: node 1 must win\n");
        exit(1);
    }
}

static void cluster_reset(cluster *c) {
    size_t i;
    c->msgs = 0;
    for (i = 0; i < c->voters; i++) {
        c->nodes[i].applied_data = 0;
        c->nodes[i].readies = 0;
    }
}

static void cluster_free(cluster *c) {
    size_t i;
    for (i = 0; i < c->voters; i++) {
        polyraft_node_free(c->nodes[i].rn);
        polyraft_memory_storage_free(c->nodes[i].store);
        free(c->nodes[i].in.buf);
        free(c->nodes[i].in.ends);
    }
    free(c->scratch.buf);
    free(c->scratch.ends);
}

static void propose(cluster *c, const polyraft_bytes *items, size_t b, int batch) {
    polyraft_node *l = c->nodes[0].rn;
    size_t j;
    if (batch) {
        OK(polyraft_node_propose_batch(l, items, b));
        return;
    }
    for (j = 0; j < b; j++) OK(polyraft_node_propose(l, items[j].data, items[j].len));
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Peak resident set in KiB (VmHWM). */
static uint64_t peak_rss_kb(void) {
    char line[256];
    uint64_t kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtoull(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static const char *arg(int argc, char **argv, const char *k, const char *d) {
    int i;
    for (i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], k) == 0) return argv[i + 1];
    }
    return d;
}

static uint64_t num(int argc, char **argv, const char *k, uint64_t d) {
    const char *v = arg(argc, argv, k, NULL);
    char *end;
    uint64_t x;
    if (!v) return d;
    x = strtoull(v, &end, 10);
    if (*v == '\0' || *end != '\0') {
        fprintf(stderr, "w1: %s: not a number: %s\n", k, v);
        exit(2);
    }
    return x;
}

int main(int argc, char **argv) {
    const char *impl = arg(argc, argv, "--impl", "polyraft");
    const char *w = arg(argc, argv, "--w", "W1");
    const char *mode = arg(argc, argv, "--mode", "entry");
    uint64_t voters = num(argc, argv, "--voters", 3);
    uint64_t n = num(argc, argv, "--n", 1000000);
    uint64_t b = num(argc, argv, "--b", 64);
    uint64_t p = num(argc, argv, "--p", 128);
    uint64_t wire = num(argc, argv, "--wire", 1);
    uint64_t compact = num(argc, argv, "--compact", 65536);
    int w2 = strcmp(w, "W2") == 0;
    int batch = strcmp(mode, "batch") == 0;
    polyraft_bytes *items;
    uint8_t *payload;
    cluster c;
    uint64_t t0, elapsed, readies_total = 0, i;

    if (strcmp(impl, "polyraft") != 0 || (!w2 && strcmp(w, "W1") != 0) || wire != 1 || voters < 1 ||
        voters > MAX_VOTERS || (!w2 && b == 0)) {
        fprintf(stderr,
                "usage: w1 --impl polyraft --w W1|W2 --voters 1..%d --n N --b B --p P --mode entry|batch --wire 1\n",
                MAX_VOTERS);
        return 2;
    }
    if (w2) {
        b = 1;
        batch = 0;
    }
    payload = xrealloc(NULL, p);
    for (i = 0; i < p; i++) payload[i] = (uint8_t)(i % 251);
    items = xrealloc(NULL, b * sizeof *items);
    for (i = 0; i < b; i++) {
        items[i].data = payload;
        items[i].len = p;
    }

    cluster_init(&c, voters, compact);
    if (w2) {
        for (i = 0; i < 1000; i++) {
            propose(&c, items, 1, 0);
            run(&c);
        }
    }
    cluster_reset(&c);
    t0 = now_ns();
    if (w2) {
        for (i = 0; i < n; i++) {
            propose(&c, items, 1, 0);
            run(&c);
        }
    } else {
        while (c.nodes[0].applied_data < n) {
            propose(&c, items, b, batch);
            run(&c);
        }
    }
    elapsed = now_ns() - t0;
    for (i = 0; i < voters; i++) readies_total += c.nodes[i].readies;

    printf("{\"impl\":\"polyraft\",\"binding\":\"c\",\"w\":\"%s\",\"voters\":%" PRIu64 ",\"n\":%" PRIu64
           ",\"b\":%" PRIu64 ",\"p\":%" PRIu64 ",\"mode\":\"%s\",\"wire\":1,\"applied\":%" PRIu64
           ",\"elapsed_ns\":%" PRIu64 ",\"msgs\":%" PRIu64 ",\"readies_leader\":%" PRIu64
           ",\"readies_total\":%" PRIu64 ",\"rss_kb\":%" PRIu64 "}\n",
           w2 ? "W2" : "W1", voters, n, b, p, batch ? "batch" : "entry", c.nodes[0].applied_data, elapsed, c.msgs,
           c.nodes[0].readies, readies_total, peak_rss_kb());
    cluster_free(&c);
    free(items);
    free(payload);
    return 0;
}
