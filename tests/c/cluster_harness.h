/* The in-process cluster harness shared by the C tests that run several
 * polyraft nodes in one process (cluster.c, durable.c).
 *
 * It holds what does not depend on how a node stores its log: the helper
 * check macros, a message queue standing in for the network, delivery,
 * "pump until quiet", finding and electing a leader, and batched proposals.
 * The node table stays in the including file; the harness reaches it only
 * through three accessors that file defines (after this header):
 *
 *   static polyraft_node *harness_node(uint64_t id);   NULL when stopped
 *   static bool harness_cut_off(uint64_t id);           partitioned away
 *   static int harness_handle_ready(uint64_t id);       1 on failure
 *
 * Define MAXN (node ids are 1..MAXN-1) before including it, and
 * HARNESS_BATCH (proposals per batch, default 100) if it should differ.
 * TRACE=1 in the environment prints every delivered message. */
#ifndef POLYRAFT_TESTS_CLUSTER_HARNESS_H
#define POLYRAFT_TESTS_CLUSTER_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "polyraft.h"
#include "runner.h"

#ifndef MAXN
#error "define MAXN (one more than the largest node id) before including cluster_harness.h"
#endif
#ifndef HARNESS_BATCH
#define HARNESS_BATCH 100
#endif

/* ---- helpers: failures inside helpers mark the test failed ------------- */

static int hfail(const char *file, int line, const char *what, polyraft_result rc) {
    const char *name = polyraft_result_name((uint32_t)rc);
    printf("  %s:%d: %s returned %u (%s: %s)\n", file, line, what, (unsigned)rc, name ? name : "?",
           polyraft_result_str((uint32_t)rc));
    runner_current_failed = 1;
    return 1;
}
#define H_OK(call)                                                       \
    do {                                                                 \
        polyraft_result hrc_ = (call);                                   \
        if (hrc_ != POLYRAFT_OK) return hfail(__FILE__, __LINE__, #call, hrc_); \
    } while (0)
#define H_RC(call, want)                                                 \
    do {                                                                 \
        polyraft_result hrc_ = (call);                                   \
        if (hrc_ != (polyraft_result)(want)) {                           \
            printf("  %s:%d: %s returned %u (%s), want %s\n", __FILE__, \
                   __LINE__, #call, (unsigned)hrc_,                      \
                   polyraft_result_str(hrc_), #want);                    \
            runner_current_failed = 1;                                   \
            return 1;                                                    \
        }                                                                \
    } while (0)
#define H_CHECK(cond)                                                    \
    do {                                                                 \
        if (!(cond)) {                                                   \
            printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            runner_current_failed = 1;                                   \
            return 1;                                                    \
        }                                                                \
    } while (0)

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n) {
    uint8_t *d = xmalloc(n);
    if (n) memcpy(d, p, n);
    return d;
}

/* FNV-1a step: the state machines' checksum of the entries they applied. */
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* A quiet node configuration: 10-tick elections, 1-tick heartbeats, 64
   messages in flight, logging off; `max_size_per_msg` differs by test. */
static polyraft_config harness_config(uint64_t id, uint64_t applied, uint64_t max_size_per_msg) {
    polyraft_config cfg;
    polyraft_config_init(&cfg);
    cfg.id = id;
    cfg.applied = applied;
    cfg.election_tick = 10;
    cfg.heartbeat_tick = 1;
    cfg.max_size_per_msg = max_size_per_msg;
    cfg.max_inflight_msgs = 64;
    cfg.log_level = POLYRAFT_LOG_OFF;
    return cfg;
}

/* Checks that node `id`'s state machine (count, sum) applied `want_count`
   entries with the leader's checksum `want_sum`; prints both if not. */
static int check_state_machine(uint64_t id, uint64_t count, uint64_t sum, uint64_t want_count, uint64_t want_sum) {
    if (count != want_count || sum != want_sum) {
        printf("  node %llu: count %llu sum %llx, want %llu sum %llx\n", (unsigned long long)id,
               (unsigned long long)count, (unsigned long long)sum, (unsigned long long)want_count,
               (unsigned long long)want_sum);
        H_CHECK(!"state machines differ");
    }
    return 0;
}

/* ---- the accessors the including file defines ---------------------------- */

static polyraft_node *harness_node(uint64_t id);
static bool harness_cut_off(uint64_t id);
static int harness_handle_ready(uint64_t id);

/* ---- the network: a queue of serialized messages ------------------------ */

typedef struct {
    uint64_t from, to;
    uint32_t type;
    uint8_t *bytes;
    size_t len;
} qmsg;

static qmsg *queue;
static size_t queue_n, queue_cap;

/* Copies a message a node's Ready sent into the queue. */
static void enqueue(uint64_t from, const polyraft_message *m) {
    if (queue_n == queue_cap) {
        qmsg *nq;
        queue_cap = queue_cap ? queue_cap * 2 : 256;
        nq = xmalloc(queue_cap * sizeof *nq);
        if (queue_n) memcpy(nq, queue, queue_n * sizeof *nq);
        free(queue);
        queue = nq;
    }
    queue[queue_n].from = from;
    queue[queue_n].to = m->to;
    queue[queue_n].type = m->msg_type;
    queue[queue_n].bytes = dup_bytes(m->bytes, m->bytes_len);
    queue[queue_n].len = m->bytes_len;
    queue_n++;
}

/* Drops every queued message and the queue itself. */
static void drop_queue(void) {
    while (queue_n) free(queue[--queue_n].bytes);
    free(queue);
    queue = NULL;
    queue_cap = 0;
}

/* Steps every queued message into its recipient. A message to a stopped
   node is reported unreachable to its sender (and a snapshot as failed), as
   a transport would; a cut-off node neither sends nor receives. */
static int deliver(void) {
    size_t i, n = queue_n;
    qmsg *q = queue;
    queue = NULL;
    queue_n = queue_cap = 0;
    for (i = 0; i < n; i++) {
        bool has_to = q[i].to < MAXN;
        polyraft_node *to = has_to ? harness_node(q[i].to) : NULL;
        polyraft_node *from = harness_node(q[i].from);
        bool from_cut = harness_cut_off(q[i].from);
        if (has_to && !to && from && !from_cut) {
            /* Nobody there: tell the sender, as a transport would. */
            if (q[i].type == POLYRAFT_MSG_SNAP) polyraft_node_report_snapshot(from, q[i].to, true);
            polyraft_node_report_unreachable(from, q[i].to);
        } else if (to && !harness_cut_off(q[i].to) && !from_cut) {
            polyraft_result rc = polyraft_node_step(to, q[i].bytes, q[i].len);
            if (getenv("TRACE")) printf("    %llu->%llu type %u rc %u\n", (unsigned long long)q[i].from, (unsigned long long)q[i].to, q[i].type, (unsigned)rc);
            if (rc != POLYRAFT_OK && rc != POLYRAFT_PROPOSAL_DROPPED && rc != POLYRAFT_STEP_PEER_NOT_FOUND) {
                hfail(__FILE__, __LINE__, "polyraft_node_step", rc);
            }
            if (rc == POLYRAFT_OK && q[i].type == POLYRAFT_MSG_SNAP && from) {
                polyraft_node_report_snapshot(from, q[i].to, false);
            }
        }
        free(q[i].bytes);
    }
    free(q);
    return runner_current_failed;
}

/* Handles Readies and delivers messages until the cluster is quiet. */
static int pump(void) {
    int round;
    for (round = 0; round < 10000; round++) {
        bool busy = false;
        uint64_t id;
        for (id = 1; id < MAXN; id++) {
            bool has = false;
            if (!harness_node(id)) continue;
            H_OK(polyraft_node_has_ready(harness_node(id), &has));
            if (has) {
                busy = true;
                if (harness_handle_ready(id)) return 1;
            }
        }
        if (queue_n) busy = true;
        if (deliver()) return 1;
        if (!busy) return 0;
    }
    H_CHECK(!"cluster never went quiet");
    return 1;
}

/* The running, connected node that believes it leads, or 0. */
static uint64_t leader_of(void) {
    uint64_t id;
    for (id = 1; id < MAXN; id++) {
        polyraft_basic_status st;
        if (!harness_node(id) || harness_cut_off(id)) continue;
        if (polyraft_node_basic_status(harness_node(id), &st) == POLYRAFT_OK &&
            st.soft_state.raft_state == POLYRAFT_STATE_LEADER)
            return id;
    }
    return 0;
}

/* Ticks every running node until a leader is elected. */
static int elect(uint64_t *leader) {
    int t;
    for (t = 0; t < 500; t++) {
        uint64_t id;
        *leader = leader_of();
        if (*leader) return 0;
        for (id = 1; id < MAXN; id++)
            if (harness_node(id)) H_OK(polyraft_node_tick(harness_node(id)));
        if (pump()) return 1;
    }
    H_CHECK(!"no leader elected");
    return 1;
}

/* Entries proposed so far: numbers the next proposal's payload. */
static uint64_t proposed;

/* Proposes `n` distinct entries on `leader` in batches, pumping after each. */
static int propose_n(uint64_t leader, int n) {
    polyraft_bytes items[HARNESS_BATCH];
    static char data[HARNESS_BATCH][32];
    int done = 0;
    while (done < n) {
        int k, batch = n - done < HARNESS_BATCH ? n - done : HARNESS_BATCH;
        for (k = 0; k < batch; k++) {
            int len = sprintf(data[k], "entry-%08llu", (unsigned long long)proposed + (unsigned long long)k);
            items[k].data = (const uint8_t *)data[k];
            items[k].len = (size_t)len;
        }
        H_OK(polyraft_node_propose_batch(harness_node(leader), items, (size_t)batch));
        proposed += (uint64_t)batch;
        done += batch;
        if (pump()) return 1;
    }
    return 0;
}

#endif /* POLYRAFT_TESTS_CLUSTER_HARNESS_H */
