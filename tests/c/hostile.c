/* Hostile and broken input (issue 15): the regression test of each C
 * reproducer (memstorage_noncontiguous, msgsnap_future_term_storm,
 * msgsnap_bad_confstate, async_forged_apply_resp, storage_index_overflow).
 * Every input here must be refused with its documented code and a one-line
 * detail, leave the node usable, and make the library print nothing on
 * standard error (no panic text). mk/c.mk runs this file against the debug
 * and the release library: the answers must not depend on the build. */
#define _XOPEN_SOURCE 700
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "polyraft.h"
#include "runner.h"

static polyraft_config quiet_config(uint64_t id) {
    polyraft_config cfg;
    polyraft_config_init(&cfg);
    cfg.id = id;
    cfg.log_level = POLYRAFT_LOG_OFF;
    return cfg;
}

/* ------------------------------------------------------------ stderr watch */

/* While a watch is on, file descriptor 2 goes to a temporary file, so the
   test sees whatever the library itself writes there (a panic message is
   written by the Rust runtime straight to fd 2). */
static FILE *watch_file;
static int watch_saved_fd = -1;

static int stderr_watch_begin(void) {
    fflush(stderr);
    watch_file = tmpfile();
    if (!watch_file) return -1;
    watch_saved_fd = dup(2);
    if (watch_saved_fd < 0 || dup2(fileno(watch_file), 2) < 0) return -1;
    return 0;
}

/* Ends the watch and returns the number of bytes written meanwhile (echoed
   to stdout for the diagnosis when there are any). */
static long stderr_watch_end(void) {
    long n;
    char buf[512];
    size_t got;
    fflush(stderr);
    dup2(watch_saved_fd, 2);
    close(watch_saved_fd);
    watch_saved_fd = -1;
    n = ftell(watch_file);
    if (n > 0) {
        rewind(watch_file);
        got = fread(buf, 1, sizeof buf - 1, watch_file);
        buf[got] = 0;
        printf("  standard error received: %s\n", buf);
    }
    fclose(watch_file);
    watch_file = NULL;
    return n;
}

/* The node's last error is one line of text containing `want`. */
static int one_line_error(polyraft_node *node, const char *want) {
    char buf[1024];
    size_t written = 0;
    if (polyraft_node_last_error(node, buf, sizeof buf, &written) != POLYRAFT_OK) return 0;
    if (written == 0 || strchr(buf, '\n') != NULL || strstr(buf, want) == NULL) {
        printf("  last error: %s\n", buf);
        return 0;
    }
    return 1;
}

static polyraft_result step_message(polyraft_node *node, const polyraft_message *m) {
    polyraft_buffer *buf = NULL;
    const uint8_t *bytes;
    size_t len;
    polyraft_result rc = polyraft_message_encode(m, &buf);
    if (rc == POLYRAFT_OK) rc = polyraft_buffer_data(buf, &bytes, &len);
    if (rc == POLYRAFT_OK) rc = polyraft_node_step(node, bytes, len);
    polyraft_buffer_free(buf);
    return rc;
}

/* ------------------------------------------------- memstorage_noncontiguous */

TEST(memory_storage_refuses_non_contiguous_appends) {
    polyraft_memory_storage *ms = NULL;
    polyraft_entry e[6];
    uint64_t v = 0;
    int i;
    memset(e, 0, sizeof e);
    for (i = 0; i < 6; i++) {
        e[i].index = (uint64_t)i + 1;
        e[i].term = 1;
    }
    CHECK_OK(polyraft_memory_storage_new(&ms));
    CHECK_OK(polyraft_memory_storage_append(ms, e, 6));

    /* [7, 5]: backwards. */
    e[0].index = 7;
    e[1].index = 5;
    CHECK_RC(polyraft_memory_storage_append(ms, e, 2), POLYRAFT_STORAGE_FAILURE);
    /* [2, 5] with term 2: a gap inside a batch that would overwrite. */
    e[0].index = 2;
    e[0].term = 2;
    e[1].term = 2;
    CHECK_RC(polyraft_memory_storage_append(ms, e, 2), POLYRAFT_STORAGE_FAILURE);
    /* [7, 7]: a repeat. */
    e[0].index = 7;
    e[1].index = 7;
    CHECK_RC(polyraft_memory_storage_append(ms, e, 2), POLYRAFT_STORAGE_FAILURE);

    /* Nothing changed. */
    CHECK_OK(polyraft_memory_storage_last_index(ms, &v));
    CHECK(v == 6);
    CHECK_OK(polyraft_memory_storage_term(ms, 2, &v));
    CHECK(v == 1);
    CHECK_OK(polyraft_memory_storage_term(ms, 5, &v));
    CHECK(v == 1);

    /* A contiguous batch is still accepted. */
    e[0].index = 7;
    e[1].index = 8;
    CHECK_OK(polyraft_memory_storage_append(ms, e, 2));
    CHECK_OK(polyraft_memory_storage_last_index(ms, &v));
    CHECK(v == 8);
    polyraft_memory_storage_free(ms);
}

/* -------------------------------------------------------- a 3-node cluster */

#define N 3
#define QCAP 4096

typedef struct {
    uint64_t to;
    uint8_t *bytes;
    size_t len;
} wire_msg;

typedef struct {
    polyraft_node *node[N + 1];
    polyraft_memory_storage *ms[N + 1];
    size_t applied[N + 1]; /* committed entries with data, per node */
    wire_msg q[QCAP];
    size_t qn;
    size_t step_errors;
} cluster;

static void cluster_free(cluster *c) {
    size_t k;
    int i;
    for (k = 0; k < c->qn; k++) free(c->q[k].bytes);
    c->qn = 0;
    for (i = 1; i <= N; i++) {
        polyraft_node_free(c->node[i]);
        polyraft_memory_storage_free(c->ms[i]);
        c->node[i] = NULL;
        c->ms[i] = NULL;
    }
}

static int cluster_init(cluster *c) {
    polyraft_peer peers[N];
    int i;
    memset(c, 0, sizeof *c);
    memset(peers, 0, sizeof peers);
    for (i = 1; i <= N; i++) {
        polyraft_config cfg = quiet_config((uint64_t)i);
        peers[i - 1].id = (uint64_t)i;
        if (polyraft_memory_storage_new(&c->ms[i]) || polyraft_node_new_memory(&cfg, c->ms[i], &c->node[i], NULL)) return -1;
    }
    for (i = 1; i <= N; i++)
        if (polyraft_node_bootstrap(c->node[i], peers, N)) return -1;
    return 0;
}

/* Persists, queues and applies every Ready of node i. */
static polyraft_result cluster_handle(cluster *c, int i) {
    bool has = true;
    polyraft_result rc;
    while ((rc = polyraft_node_has_ready(c->node[i], &has)) == POLYRAFT_OK && has) {
        const polyraft_ready *rd;
        const polyraft_entry *e;
        const polyraft_message *m;
        const polyraft_snapshot *s;
        polyraft_hard_state hs;
        bool present;
        size_t n, k;
        if ((rc = polyraft_node_ready(c->node[i], &rd))) return rc;
        if ((rc = polyraft_ready_snapshot(rd, &s))) return rc;
        if (s && (rc = polyraft_memory_storage_apply_snapshot(c->ms[i], s))) return rc;
        if ((rc = polyraft_ready_entries(rd, &e, &n))) return rc;
        if ((rc = polyraft_memory_storage_append(c->ms[i], e, n))) return rc;
        if ((rc = polyraft_ready_hard_state(rd, &hs, &present))) return rc;
        if (present && (rc = polyraft_memory_storage_set_hard_state(c->ms[i], &hs))) return rc;
        if ((rc = polyraft_ready_messages(rd, &m, &n))) return rc;
        for (k = 0; k < n; k++) {
            if (c->qn == QCAP) return POLYRAFT_INVALID_STATE; /* a storm */
            c->q[c->qn].to = m[k].to;
            c->q[c->qn].len = m[k].bytes_len;
            c->q[c->qn].bytes = malloc(m[k].bytes_len ? m[k].bytes_len : 1);
            if (!c->q[c->qn].bytes) return POLYRAFT_INVALID_STATE;
            memcpy(c->q[c->qn].bytes, m[k].bytes, m[k].bytes_len);
            c->qn++;
        }
        if ((rc = polyraft_ready_committed_entries(rd, &e, &n))) return rc;
        for (k = 0; k < n; k++)
            if (e[k].entry_type == POLYRAFT_ENTRY_NORMAL && e[k].data_len > 0) c->applied[i]++;
        if ((rc = polyraft_node_advance(c->node[i]))) return rc;
    }
    return rc;
}

/* Delivers messages (without ticking) until the cluster is quiet or `cap`
   deliveries were made; writes the number of deliveries to *delivered. */
static polyraft_result cluster_pump(cluster *c, unsigned long cap, unsigned long *delivered) {
    static wire_msg batch[QCAP];
    *delivered = 0;
    for (;;) {
        size_t k, n;
        int i;
        for (i = 1; i <= N; i++) {
            polyraft_result rc = cluster_handle(c, i);
            if (rc) return rc;
        }
        if (c->qn == 0 || *delivered >= cap) return POLYRAFT_OK;
        n = c->qn;
        memcpy(batch, c->q, n * sizeof(wire_msg));
        c->qn = 0;
        for (k = 0; k < n; k++) {
            if (batch[k].to >= 1 && batch[k].to <= N &&
                polyraft_node_step(c->node[batch[k].to], batch[k].bytes, batch[k].len) != POLYRAFT_OK)
                c->step_errors++;
            free(batch[k].bytes);
            (*delivered)++;
        }
    }
}

/* ------------------------------------------------ msgsnap_future_term_storm */

TEST(msgsnap_with_snapshot_term_above_message_term_is_refused) {
    static cluster c;
    polyraft_basic_status st;
    polyraft_message m;
    polyraft_snapshot sn;
    uint64_t voters[N] = {1, 2, 3}, last = 0, last_after = 0;
    unsigned long delivered = 0;
    polyraft_result rc;
    int i;
    CHECK(cluster_init(&c) == 0);
    CHECK_OK(cluster_pump(&c, 1000, &delivered));
    CHECK_OK(polyraft_node_campaign(c.node[1]));
    CHECK_OK(cluster_pump(&c, 1000, &delivered));
    CHECK_OK(polyraft_node_basic_status(c.node[1], &st));
    CHECK(st.soft_state.raft_state == POLYRAFT_STATE_LEADER);
    CHECK_OK(polyraft_memory_storage_last_index(c.ms[2], &last));

    /* From the leader, at the current term, a snapshot 10 entries ahead
       whose term is 100 terms in the future. */
    memset(&m, 0, sizeof m);
    memset(&sn, 0, sizeof sn);
    m.msg_type = POLYRAFT_MSG_SNAP;
    m.from = 1;
    m.to = 2;
    m.term = st.hard_state.term;
    sn.index = last + 10;
    sn.term = st.hard_state.term + 100;
    sn.conf_state.voters = voters;
    sn.conf_state.voters_len = N;
    m.snapshot = &sn;
    CHECK(stderr_watch_begin() == 0);
    rc = step_message(c.node[2], &m);
    CHECK(stderr_watch_end() == 0);
    CHECK_RC(rc, POLYRAFT_DECODE);
    CHECK(one_line_error(c.node[2], "MsgSnap"));
    CHECK_OK(polyraft_memory_storage_last_index(c.ms[2], &last_after));
    CHECK(last_after == last);

    /* The cluster goes on and quiesces between ticks: 15 proposals take a
       bounded number of deliveries (the storm took 100,000 and more). */
    CHECK_OK(cluster_pump(&c, 1000, &delivered));
    CHECK(c.qn == 0);
    for (i = 0; i < 15; i++) {
        uint8_t v = (uint8_t)i;
        CHECK_OK(polyraft_node_propose(c.node[1], &v, 1));
    }
    CHECK_OK(cluster_pump(&c, 2000, &delivered));
    CHECK(c.qn == 0);
    CHECK(delivered < 200);
    CHECK(c.step_errors == 0);
    for (i = 1; i <= N; i++) {
        CHECK_OK(polyraft_node_tick(c.node[i]));
        CHECK(c.applied[i] == 15);
    }
    cluster_free(&c);
}

/* ---------------------------------------------------- msgsnap_bad_confstate */

TEST(msgsnap_with_inconsistent_conf_state_is_refused) {
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = NULL;
    polyraft_config cfg = quiet_config(2);
    polyraft_message m;
    polyraft_snapshot sn;
    polyraft_peer p[3];
    uint64_t voters[3] = {1, 2, 3}, learners[1] = {2};
    const polyraft_ready *rd;
    const polyraft_snapshot *got;
    polyraft_result rc;
    int i;
    CHECK_OK(polyraft_memory_storage_new(&ms));
    CHECK_OK(polyraft_node_new_memory(&cfg, ms, &node, NULL));
    memset(p, 0, sizeof p);
    for (i = 0; i < 3; i++) p[i].id = (uint64_t)i + 1;
    CHECK_OK(polyraft_node_bootstrap(node, p, 3));

    /* Node 2 both voter and learner, from the leader of term 1. */
    memset(&m, 0, sizeof m);
    memset(&sn, 0, sizeof sn);
    m.msg_type = POLYRAFT_MSG_SNAP;
    m.from = 1;
    m.to = 2;
    m.term = 1;
    sn.index = 20;
    sn.term = 1;
    sn.conf_state.voters = voters;
    sn.conf_state.voters_len = 3;
    sn.conf_state.learners = learners;
    sn.conf_state.learners_len = 1;
    m.snapshot = &sn;
    CHECK(stderr_watch_begin() == 0);
    rc = step_message(node, &m);
    CHECK(stderr_watch_end() == 0);
    CHECK_RC(rc, POLYRAFT_DECODE);
    CHECK(one_line_error(node, "ConfState"));

    /* The node is usable: it ticks, and the same snapshot with a
       consistent configuration is accepted and handed out for saving. */
    CHECK_OK(polyraft_node_tick(node));
    sn.conf_state.learners = NULL;
    sn.conf_state.learners_len = 0;
    CHECK_OK(step_message(node, &m));
    CHECK_OK(polyraft_node_ready(node, &rd));
    CHECK_OK(polyraft_ready_snapshot(rd, &got));
    CHECK(got != NULL && got->index == 20 && got->conf_state.learners_len == 0);
    CHECK_OK(polyraft_memory_storage_apply_snapshot(ms, got));
    CHECK_OK(polyraft_node_advance(node));
    polyraft_node_free(node);
    polyraft_memory_storage_free(ms);
}

/* -------------------------------------------------- async_forged_apply_resp */

/* Runs the Ready loop of a single async node until it is quiet: storage work
   is done at once and the responses to itself go to step_local. */
static polyraft_result async_drain(polyraft_node *node, polyraft_memory_storage *ms, size_t *applied) {
    int round;
    for (round = 0; round < 100; round++) {
        const polyraft_ready *rd;
        const polyraft_message *msgs;
        size_t n, i, j;
        bool has = false;
        polyraft_result rc = polyraft_node_has_ready(node, &has);
        if (rc || !has) return rc;
        if ((rc = polyraft_node_ready(node, &rd))) return rc;
        if ((rc = polyraft_ready_messages(rd, &msgs, &n))) return rc;
        for (i = 0; i < n; i++) {
            const polyraft_message *m = &msgs[i];
            if (m->to == POLYRAFT_LOCAL_APPEND_THREAD) {
                polyraft_hard_state hs;
                if (m->snapshot && (rc = polyraft_memory_storage_apply_snapshot(ms, m->snapshot))) return rc;
                if ((rc = polyraft_memory_storage_append(ms, m->entries, m->entries_len))) return rc;
                hs.term = m->term;
                hs.vote = m->vote;
                hs.commit = m->commit;
                if ((m->term || m->vote || m->commit) && (rc = polyraft_memory_storage_set_hard_state(ms, &hs)))
                    return rc;
            } else if (m->to == POLYRAFT_LOCAL_APPLY_THREAD) {
                for (j = 0; j < m->entries_len; j++) {
                    const polyraft_entry *e = &m->entries[j];
                    if (e->entry_type != POLYRAFT_ENTRY_NORMAL) {
                        polyraft_conf_state cs;
                        if ((rc = polyraft_node_apply_conf_change(node, e->entry_type, e->data, e->data_len, &cs)))
                            return rc;
                    } else if (e->data_len > 0) {
                        (*applied)++;
                    }
                }
            } else {
                continue;
            }
            for (j = 0; j < m->responses_len; j++)
                if (m->responses[j].to == 1 &&
                    (rc = polyraft_node_step_local(node, m->responses[j].bytes, m->responses[j].bytes_len)))
                    return rc;
        }
    }
    return POLYRAFT_OK;
}

TEST(local_message_types_from_the_wire_are_refused) {
    static const uint32_t local_types[] = {
        POLYRAFT_MSG_HUP,           POLYRAFT_MSG_BEAT,           POLYRAFT_MSG_UNREACHABLE,
        POLYRAFT_MSG_SNAP_STATUS,   POLYRAFT_MSG_CHECK_QUORUM,   POLYRAFT_MSG_STORAGE_APPEND,
        POLYRAFT_MSG_STORAGE_APPEND_RESP, POLYRAFT_MSG_STORAGE_APPLY, POLYRAFT_MSG_STORAGE_APPLY_RESP,
    };
    static const uint64_t senders[] = {POLYRAFT_LOCAL_APPEND_THREAD, POLYRAFT_LOCAL_APPLY_THREAD, 1, 2};
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = NULL;
    polyraft_config cfg = quiet_config(1);
    polyraft_peer peer;
    polyraft_message m;
    polyraft_entry e;
    polyraft_snapshot sn;
    polyraft_buffer *buf = NULL;
    polyraft_basic_status st;
    const uint8_t *bytes;
    size_t len, stepped = 99, applied = 0, t, s;
    uint64_t voter = 1;
    polyraft_result rc;

    cfg.async_storage_writes = true;
    memset(&peer, 0, sizeof peer);
    peer.id = 1;
    CHECK_OK(polyraft_memory_storage_new(&ms));
    CHECK_OK(polyraft_node_new_memory(&cfg, ms, &node, NULL));
    CHECK_OK(polyraft_node_bootstrap(node, &peer, 1));
    CHECK_OK(async_drain(node, ms, &applied)); /* applies the bootstrap configuration */
    CHECK_OK(polyraft_node_campaign(node));
    CHECK_OK(async_drain(node, ms, &applied));
    CHECK_OK(polyraft_node_basic_status(node, &st));
    CHECK(st.soft_state.raft_state == POLYRAFT_STATE_LEADER);

    /* The reproducer: a MsgStorageApplyResp naming index 1000. */
    memset(&m, 0, sizeof m);
    memset(&e, 0, sizeof e);
    m.msg_type = POLYRAFT_MSG_STORAGE_APPLY_RESP;
    m.from = POLYRAFT_LOCAL_APPLY_THREAD;
    m.to = 1;
    e.index = 1000;
    e.term = 1;
    m.entries = &e;
    m.entries_len = 1;
    CHECK(stderr_watch_begin() == 0);
    rc = step_message(node, &m);
    CHECK(stderr_watch_end() == 0);
    CHECK_RC(rc, POLYRAFT_STEP_LOCAL_MSG);
    CHECK(one_line_error(node, "local message"));
    CHECK_OK(polyraft_node_tick(node));

    /* A MsgStorageAppendResp naming a snapshot, in a batch. */
    memset(&m, 0, sizeof m);
    memset(&sn, 0, sizeof sn);
    m.msg_type = POLYRAFT_MSG_STORAGE_APPEND_RESP;
    m.from = POLYRAFT_LOCAL_APPEND_THREAD;
    m.to = 1;
    m.term = 1;
    sn.index = 1000;
    sn.term = 1;
    sn.conf_state.voters = &voter;
    sn.conf_state.voters_len = 1;
    m.snapshot = &sn;
    CHECK_OK(polyraft_message_encode(&m, &buf));
    CHECK_OK(polyraft_buffer_data(buf, &bytes, &len));
    CHECK_RC(polyraft_node_step_batch(node, bytes, &len, 1, &stepped), POLYRAFT_STEP_LOCAL_MSG);
    CHECK(stepped == 0);
    polyraft_buffer_free(buf);

    /* Every local type, whatever the sender claims. */
    for (t = 0; t < sizeof local_types / sizeof local_types[0]; t++) {
        for (s = 0; s < sizeof senders / sizeof senders[0]; s++) {
            memset(&m, 0, sizeof m);
            m.msg_type = local_types[t];
            m.from = senders[s];
            m.to = 1;
            m.term = 1;
            m.index = 1000;
            CHECK_RC(step_message(node, &m), POLYRAFT_STEP_LOCAL_MSG);
        }
    }

    /* The node still works: it is the leader and commits a proposal. */
    CHECK_OK(polyraft_node_tick(node));
    CHECK_OK(polyraft_node_basic_status(node, &st));
    CHECK(st.soft_state.raft_state == POLYRAFT_STATE_LEADER);
    CHECK_OK(polyraft_node_propose(node, (const uint8_t *)"after", 5));
    CHECK_OK(async_drain(node, ms, &applied));
    CHECK(applied == 1);
    CHECK_OK(polyraft_node_basic_status(node, &st));
    CHECK(st.applied == st.hard_state.commit);
    polyraft_node_free(node);
    polyraft_memory_storage_free(ms);
}

/* --------------------------------------------------- storage_index_overflow */

/* A custom storage with one voter and no entries whose first_index and
   last_index answers are set by the test. */
typedef struct {
    uint64_t first, last;
} odd_storage;

static polyraft_storage_status o_initial(void *ctx, polyraft_hard_state *hs, polyraft_conf_state_sink *sink) {
    uint64_t v = 1;
    polyraft_conf_state cs;
    (void)ctx;
    (void)hs;
    memset(&cs, 0, sizeof cs);
    cs.voters = &v;
    cs.voters_len = 1;
    return polyraft_conf_state_sink_set(sink, &cs);
}

static polyraft_storage_status o_entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max, polyraft_entry_sink *s) {
    (void)ctx;
    (void)lo;
    (void)hi;
    (void)max;
    (void)s;
    return POLYRAFT_STORAGE_UNAVAILABLE;
}

static polyraft_storage_status o_term(void *ctx, uint64_t index, uint64_t *term) {
    (void)ctx;
    (void)index;
    *term = 0;
    return POLYRAFT_OK;
}

static polyraft_storage_status o_first(void *ctx, uint64_t *index) {
    *index = ((odd_storage *)ctx)->first;
    return POLYRAFT_OK;
}

static polyraft_storage_status o_last(void *ctx, uint64_t *index) {
    *index = ((odd_storage *)ctx)->last;
    return POLYRAFT_OK;
}

static polyraft_storage_status o_snapshot(void *ctx, polyraft_snapshot_sink *sink) {
    (void)ctx;
    (void)sink;
    return POLYRAFT_OK;
}

/* Creates a node over an odd storage; returns the code and, through
   *text, the detail of a failure. */
static polyraft_result new_over(odd_storage *o, char *text, size_t len) {
    polyraft_storage_vtable vt;
    polyraft_config cfg = quiet_config(1);
    polyraft_node *node = NULL;
    polyraft_buffer *err = NULL;
    polyraft_result rc;
    memset(&vt, 0, sizeof vt);
    vt.abi_version = POLYRAFT_STORAGE_ABI_VERSION;
    vt.ctx = (void *)o;
    vt.initial_state = o_initial;
    vt.entries = o_entries;
    vt.term = o_term;
    vt.first_index = o_first;
    vt.last_index = o_last;
    vt.snapshot = o_snapshot;
    rc = polyraft_node_new_custom(&cfg, &vt, &node, &err);
    runner_error_text(err, text, len);
    polyraft_node_free(node);
    return rc;
}

TEST(storage_answers_out_of_range_are_refused_at_creation) {
    odd_storage sane = {1, 0}, zero_first = {0, 0}, max_last = {1, UINT64_MAX}, first_past_last = {5, 1};
    char text[512];
    polyraft_config cfg = quiet_config(1);

    odd_storage *bad[3];
    polyraft_result rc;
    size_t k;
    bad[0] = &zero_first;
    bad[1] = &max_last;
    bad[2] = &first_past_last;

    CHECK_OK(new_over(&sane, text, sizeof text));
    for (k = 0; k < 3; k++) {
        CHECK(stderr_watch_begin() == 0);
        rc = new_over(bad[k], text, sizeof text);
        CHECK(stderr_watch_end() == 0);
        CHECK_RC(rc, POLYRAFT_STORAGE_FAILURE);
        /* One line, no panic, no wrapped value. */
        CHECK(strchr(text, '\n') == NULL && strstr(text, "panic") == NULL);
        CHECK(strstr(text, "18446744073709551615") == NULL || bad[k] == &max_last);
    }

    /* Absurd configuration values are refused by validation. */
    CHECK(stderr_watch_begin() == 0);
    cfg.election_tick = UINT64_MAX;
    rc = polyraft_config_validate(&cfg, NULL);
    CHECK(stderr_watch_end() == 0);
    CHECK_RC(rc, POLYRAFT_INVALID_CONFIG);
    cfg = quiet_config(1);
    cfg.heartbeat_tick = UINT64_MAX;
    CHECK_RC(polyraft_config_validate(&cfg, NULL), POLYRAFT_INVALID_CONFIG);
}

int main(void) {
    RUN(memory_storage_refuses_non_contiguous_appends);
    RUN(msgsnap_with_snapshot_term_above_message_term_is_refused);
    RUN(msgsnap_with_inconsistent_conf_state_is_refused);
    RUN(local_message_types_from_the_wire_are_refused);
    RUN(storage_answers_out_of_range_are_refused_at_creation);
    return RUNNER_DONE();
}
