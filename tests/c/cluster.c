/* A three-node polyraft cluster in one process, driven through the C API.
 *
 * Node 1 keeps its log in a storage implemented here, in C, behind
 * polyraft_storage_vtable; the others use polyraft_memory_storage. The
 * test elects a leader, replicates 10,000 entries, stops the leader and
 * restarts it from its C storage, catches a lagging follower up with a
 * snapshot, adds a fourth node and removes one, and transfers leadership.
 * TRACE=1 in the environment prints every delivered message. */
#include "polyraft.h"
#include "runner.h"

#define MAXN 5 /* node ids 1..4 */
#define MAXIDS 8

#include "cluster_harness.h"

/* ---- a configuration kept by value ------------------------------------ */

typedef struct {
    uint64_t ids[4][MAXIDS]; /* voters, learners, voters_outgoing, learners_next */
    size_t n[4];
    bool auto_leave;
} conf;

static void conf_from(conf *c, const polyraft_conf_state *cs) {
    const uint64_t *src[4] = {cs->voters, cs->learners, cs->voters_outgoing, cs->learners_next};
    size_t len[4] = {cs->voters_len, cs->learners_len, cs->voters_outgoing_len, cs->learners_next_len};
    int k;
    memset(c, 0, sizeof *c);
    for (k = 0; k < 4; k++) {
        c->n[k] = len[k] < MAXIDS ? len[k] : MAXIDS;
        if (c->n[k]) memcpy(c->ids[k], src[k], c->n[k] * sizeof(uint64_t));
    }
    c->auto_leave = cs->auto_leave;
}

static polyraft_conf_state conf_view(const conf *c) {
    polyraft_conf_state cs;
    memset(&cs, 0, sizeof cs);
    cs.voters = c->ids[0];
    cs.voters_len = c->n[0];
    cs.learners = c->ids[1];
    cs.learners_len = c->n[1];
    cs.voters_outgoing = c->ids[2];
    cs.voters_outgoing_len = c->n[2];
    cs.learners_next = c->ids[3];
    cs.learners_next_len = c->n[3];
    cs.auto_leave = c->auto_leave;
    return cs;
}

static bool conf_has_voter(const conf *c, uint64_t id) {
    size_t i;
    for (i = 0; i < c->n[0]; i++)
        if (c->ids[0][i] == id) return true;
    return false;
}

/* ---- the C storage behind the vtable ------------------------------------ */

typedef struct {
    uint64_t index, term;
    uint32_t type;
    uint8_t *data;
    size_t len;
} centry;

typedef struct {
    polyraft_hard_state hs;
    conf cs;                 /* latest applied configuration */
    uint64_t snap_index, snap_term;
    conf snap_cs;
    uint8_t *snap_data;
    size_t snap_len;
    uint64_t offset, offset_term; /* entry before ents[0] */
    centry *ents;
    size_t n, cap;
    int destroyed;           /* destroy callbacks received */
    int calls;               /* callbacks received */
    int compacted;           /* POLYRAFT_STORAGE_COMPACTED answers */
    int snapshots;           /* snapshot callbacks */
    int snapshot_busy;       /* answer "temporarily unavailable" this often */
} cstore;

static uint64_t cs_last(const cstore *s) { return s->offset + s->n; }

static void cs_truncate(cstore *s, size_t n) {
    while (s->n > n) {
        s->n--;
        free(s->ents[s->n].data);
    }
}

static void cs_push(cstore *s, const polyraft_entry *e) {
    if (s->n == s->cap) {
        centry *ne;
        s->cap = s->cap ? s->cap * 2 : 64;
        ne = xmalloc(s->cap * sizeof *ne);
        if (s->n) memcpy(ne, s->ents, s->n * sizeof *ne);
        free(s->ents);
        s->ents = ne;
    }
    s->ents[s->n].index = e->index;
    s->ents[s->n].term = e->term;
    s->ents[s->n].type = e->entry_type;
    s->ents[s->n].data = dup_bytes(e->data, e->data_len);
    s->ents[s->n].len = e->data_len;
    s->n++;
}

static int cs_append(cstore *s, const polyraft_entry *ents, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t pos;
        if (ents[i].index <= s->offset) continue;
        pos = ents[i].index - s->offset - 1;
        H_CHECK(pos <= s->n);
        cs_truncate(s, (size_t)pos);
        cs_push(s, &ents[i]);
    }
    return 0;
}

static uint32_t cs_term_of(const cstore *s, uint64_t i, uint64_t *t) {
    if (i < s->offset) return POLYRAFT_STORAGE_COMPACTED;
    if (i == s->offset) {
        *t = s->offset_term;
        return POLYRAFT_OK;
    }
    if (i > cs_last(s)) return POLYRAFT_STORAGE_UNAVAILABLE;
    *t = s->ents[i - s->offset - 1].term;
    return POLYRAFT_OK;
}

static void cs_apply_snapshot(cstore *s, const polyraft_snapshot *snap) {
    cs_truncate(s, 0);
    s->offset = snap->index;
    s->offset_term = snap->term;
    s->snap_index = snap->index;
    s->snap_term = snap->term;
    conf_from(&s->snap_cs, &snap->conf_state);
    s->cs = s->snap_cs;
    free(s->snap_data);
    s->snap_data = dup_bytes(snap->data, snap->data_len);
    s->snap_len = snap->data_len;
}

static int cs_snapshot_and_compact(cstore *s, uint64_t index, const conf *c, const uint8_t *data, size_t len) {
    uint64_t t = 0;
    uint64_t drop;
    size_t i;
    H_CHECK(cs_term_of(s, index, &t) == POLYRAFT_OK);
    s->snap_index = index;
    s->snap_term = t;
    s->snap_cs = *c;
    free(s->snap_data);
    s->snap_data = dup_bytes(data, len);
    s->snap_len = len;
    /* Compact: the entry at `index` becomes the offset. */
    drop = index - s->offset;
    for (i = 0; i < drop; i++) free(s->ents[i].data);
    memmove(s->ents, s->ents + drop, (size_t)(s->n - drop) * sizeof *s->ents);
    s->n -= (size_t)drop;
    s->offset = index;
    s->offset_term = t;
    return 0;
}

static void cs_free(cstore *s) {
    cs_truncate(s, 0);
    free(s->ents);
    free(s->snap_data);
    memset(s, 0, sizeof *s);
}

static cstore *CS(void *ctx) {
    cstore *s = (cstore *)ctx;
    s->calls++;
    return s;
}

static uint32_t cb_initial_state(void *ctx, polyraft_hard_state *hs, polyraft_conf_state_sink *sink) {
    cstore *s = CS(ctx);
    polyraft_conf_state v = conf_view(&s->cs);
    *hs = s->hs;
    return polyraft_conf_state_sink_set(sink, &v);
}

static uint32_t cb_entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_size, polyraft_entry_sink *sink) {
    cstore *s = CS(ctx);
    uint64_t i, size = 0;
    if (lo <= s->offset) {
        s->compacted++;
        return POLYRAFT_STORAGE_COMPACTED;
    }
    if (hi > cs_last(s) + 1) return POLYRAFT_STORAGE_FAILURE;
    for (i = lo; i < hi; i++) {
        const centry *c = &s->ents[i - s->offset - 1];
        polyraft_entry e;
        polyraft_result rc;
        memset(&e, 0, sizeof e);
        e.index = c->index;
        e.term = c->term;
        e.entry_type = c->type;
        e.data = c->data;
        e.data_len = c->len;
        size += c->len + 16;
        if (i > lo && size > max_size) break;
        rc = polyraft_entry_sink_push(sink, &e);
        if (rc != POLYRAFT_OK) return POLYRAFT_STORAGE_FAILURE;
    }
    return POLYRAFT_OK;
}

static uint32_t cb_term(void *ctx, uint64_t index, uint64_t *term) {
    cstore *s = CS(ctx);
    uint32_t rc = cs_term_of(s, index, term);
    if (rc == POLYRAFT_STORAGE_COMPACTED) s->compacted++;
    return rc;
}

static uint32_t cb_first_index(void *ctx, uint64_t *index) {
    *index = CS(ctx)->offset + 1;
    return POLYRAFT_OK;
}

static uint32_t cb_last_index(void *ctx, uint64_t *index) {
    *index = cs_last(CS(ctx));
    return POLYRAFT_OK;
}

static uint32_t cb_snapshot(void *ctx, polyraft_snapshot_sink *sink) {
    cstore *s = CS(ctx);
    polyraft_snapshot snap;
    s->snapshots++;
    if (s->snapshot_busy > 0) {
        s->snapshot_busy--;
        return POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE;
    }
    memset(&snap, 0, sizeof snap);
    snap.index = s->snap_index;
    snap.term = s->snap_term;
    snap.conf_state = conf_view(&s->snap_cs);
    snap.data = s->snap_data;
    snap.data_len = s->snap_len;
    return polyraft_snapshot_sink_set(sink, &snap);
}

static void cb_destroy(void *ctx) {
    /* The storage is this test's "disk": it outlives the node. */
    ((cstore *)ctx)->destroyed++;
}

static polyraft_storage_vtable cstore_vtable(cstore *s) {
    polyraft_storage_vtable vt;
    memset(&vt, 0, sizeof vt);
    vt.abi_version = POLYRAFT_STORAGE_ABI_VERSION;
    vt.ctx = (void *)s;
    vt.initial_state = cb_initial_state;
    vt.entries = cb_entries;
    vt.term = cb_term;
    vt.first_index = cb_first_index;
    vt.last_index = cb_last_index;
    vt.snapshot = cb_snapshot;
    vt.destroy = cb_destroy;
    return vt;
}

/* ---- nodes, state machines and the network ------------------------------ */

typedef struct {
    uint64_t id;
    polyraft_node *node;        /* NULL when stopped or not created */
    polyraft_memory_storage *ms; /* memory-storage nodes */
    cstore *cs;                 /* the C-storage node */
    bool isolated;
    uint64_t applied;
    uint64_t count, sum;        /* the state machine */
    conf conf;                  /* configuration as applied */
    int snaps;                  /* snapshots received in a Ready */
    int reads;                  /* read states seen with context "r1" */
    uint64_t read_index;
} cnode;

static cnode nodes[MAXN];
static cstore disk1;

static polyraft_config node_config(uint64_t id, uint64_t applied) {
    return harness_config(id, applied, 64 * 1024);
}

static int apply_entry(cnode *n, const polyraft_entry *e) {
    if (e->index <= n->applied) return 0;
    if (e->entry_type == POLYRAFT_ENTRY_NORMAL) {
        if (e->data_len > 0) {
            n->count++;
            n->sum = fnv(n->sum, e->data, e->data_len);
        }
    } else {
        polyraft_conf_state cs;
        H_OK(polyraft_node_apply_conf_change(n->node, e->entry_type, e->data, e->data_len, &cs));
        conf_from(&n->conf, &cs);
        if (n->cs) n->cs->cs = n->conf; /* initial_state reports it after a restart */
    }
    n->applied = e->index;
    return 0;
}

static int handle_ready(cnode *n) {
    const polyraft_ready *rd;
    const polyraft_snapshot *snap;
    const polyraft_entry *ents;
    const polyraft_message *msgs;
    polyraft_hard_state hs;
    bool present;
    size_t k, len;

    H_OK(polyraft_node_ready(n->node, &rd));
    H_OK(polyraft_ready_snapshot(rd, &snap));
    if (snap) {
        if (n->cs) {
            cs_apply_snapshot(n->cs, snap);
        } else {
            H_OK(polyraft_memory_storage_apply_snapshot(n->ms, snap));
        }
        H_CHECK(snap->data_len == 16);
        memcpy(&n->count, snap->data, 8);
        memcpy(&n->sum, snap->data + 8, 8);
        n->applied = snap->index;
        conf_from(&n->conf, &snap->conf_state);
        n->snaps++;
    }
    H_OK(polyraft_ready_entries(rd, &ents, &len));
    if (n->cs) {
        if (cs_append(n->cs, ents, len)) return 1;
    } else if (len) {
        H_OK(polyraft_memory_storage_append(n->ms, ents, len));
    }
    H_OK(polyraft_ready_hard_state(rd, &hs, &present));
    if (present) {
        if (n->cs) {
            n->cs->hs = hs;
        } else {
            H_OK(polyraft_memory_storage_set_hard_state(n->ms, &hs));
        }
    }
    H_OK(polyraft_ready_messages(rd, &msgs, &len));
    for (k = 0; k < len; k++) enqueue(n->id, &msgs[k]);
    H_OK(polyraft_ready_committed_entries(rd, &ents, &len));
    for (k = 0; k < len; k++)
        if (apply_entry(n, &ents[k])) return 1;
    {
        const polyraft_read_state *rs;
        H_OK(polyraft_ready_read_states(rd, &rs, &len));
        for (k = 0; k < len; k++) {
            if (rs[k].request_ctx_len == 2 && memcmp(rs[k].request_ctx, "r1", 2) == 0) {
                n->reads++;
                n->read_index = rs[k].index;
            }
        }
    }
    H_OK(polyraft_node_advance(n->node));
    return 0;
}

/* The harness's view of the node table. */
static polyraft_node *harness_node(uint64_t id) { return nodes[id].node; }
static bool harness_cut_off(uint64_t id) { return nodes[id].isolated; }
static int harness_handle_ready(uint64_t id) { return handle_ready(&nodes[id]); }

/* All running, connected nodes hold the same state machine as the leader. */
static int converged(uint64_t leader, uint64_t want_count) {
    uint64_t id;
    for (id = 1; id < MAXN; id++) {
        if (!nodes[id].node || nodes[id].isolated) continue;
        if (check_state_machine(id, nodes[id].count, nodes[id].sum, want_count, nodes[leader].sum)) return 1;
    }
    return 0;
}

static int start_memory_node(uint64_t id) {
    polyraft_config cfg = node_config(id, 0);
    memset(&nodes[id], 0, sizeof nodes[id]);
    nodes[id].id = id;
    H_OK(polyraft_memory_storage_new(&nodes[id].ms));
    H_OK(polyraft_node_new_memory(&cfg, nodes[id].ms, &nodes[id].node, NULL));
    return 0;
}

static int start_disk_node(uint64_t id, uint64_t applied) {
    polyraft_config cfg = node_config(id, applied);
    polyraft_storage_vtable vt = cstore_vtable(&disk1);
    nodes[id].id = id;
    nodes[id].cs = &disk1;
    H_OK(polyraft_node_new_custom(&cfg, &vt, &nodes[id].node, NULL));
    return 0;
}

static void stop_node(uint64_t id) {
    polyraft_node_free(nodes[id].node);
    nodes[id].node = NULL;
}

static void teardown(void) {
    uint64_t id;
    for (id = 1; id < MAXN; id++) {
        polyraft_node_free(nodes[id].node);
        polyraft_memory_storage_free(nodes[id].ms);
        memset(&nodes[id], 0, sizeof nodes[id]);
    }
    cs_free(&disk1);
    drop_queue();
    proposed = 0;
}

static int snapshot_leader(uint64_t leader) {
    cnode *n = &nodes[leader];
    uint8_t data[16];
    polyraft_conf_state cs = conf_view(&n->conf);
    memcpy(data, &n->count, 8);
    memcpy(data + 8, &n->sum, 8);
    if (n->cs) {
        return cs_snapshot_and_compact(n->cs, n->applied, &n->conf, data, sizeof data);
    }
    H_OK(polyraft_memory_storage_create_snapshot(n->ms, n->applied, &cs, data, sizeof data));
    H_OK(polyraft_memory_storage_compact(n->ms, n->applied));
    return 0;
}

static int scenario(void) {
    polyraft_peer peers[3];
    uint64_t leader, id, first, follower, removed;
    int i;

    /* Three nodes: 1 on the C storage, 2 and 3 in memory. */
    memset(peers, 0, sizeof peers);
    for (i = 0; i < 3; i++) peers[i].id = (uint64_t)i + 1;
    nodes[1].id = 1;
    if (start_disk_node(1, 0)) return 1;
    if (start_memory_node(2) || start_memory_node(3)) return 1;
    for (id = 1; id <= 3; id++) H_OK(polyraft_node_bootstrap(nodes[id].node, peers, 3));

    /* Election, once the bootstrap entries are applied. */
    if (pump()) return 1;
    H_OK(polyraft_node_campaign(nodes[1].node));
    if (pump()) return 1;
    H_CHECK(leader_of() == 1);
    for (id = 1; id <= 3; id++) H_CHECK(nodes[id].conf.n[0] == 3);

    /* Replicate 10,000 entries. */
    if (propose_n(1, 10000)) return 1;
    if (converged(1, 10000)) return 1;
    H_CHECK(disk1.calls > 0);

    /* A linearizable read on the leader: confirmed by a heartbeat round. */
    H_OK(polyraft_node_read_index(nodes[1].node, (const uint8_t *)"r1", 2));
    if (pump()) return 1;
    H_CHECK(nodes[1].reads == 1 && nodes[1].read_index >= 10000);

    /* Stop the leader; the others elect a new one and go on. */
    first = nodes[1].applied;
    stop_node(1);
    H_CHECK(disk1.destroyed == 1);
    if (elect(&leader)) return 1;
    H_CHECK(leader == 2 || leader == 3);
    if (propose_n(leader, 100)) return 1;
    if (converged(leader, 10100)) return 1;

    /* Restart node 1 from its C storage; it catches up. */
    H_CHECK(first > 0);
    if (start_disk_node(1, nodes[1].applied)) return 1;
    if (pump()) return 1;
    if (propose_n(leader, 10)) return 1;
    /* Heartbeats tell the leader node 1 is back. */
    for (i = 0; i < 20 && nodes[1].count != 10110; i++) {
        H_OK(polyraft_node_tick(nodes[leader].node));
        if (pump()) return 1;
    }
    if (converged(leader, 10110)) return 1;
    H_CHECK(nodes[1].count == 10110);

    /* Leadership back to node 1, whose log lives in the C storage. */
    H_OK(polyraft_node_transfer_leader(nodes[leader].node, 1));
    for (i = 0; i < 50 && leader_of() != 1; i++) {
        if (pump()) return 1;
        H_OK(polyraft_node_tick(nodes[leader].node));
    }
    H_CHECK(leader_of() == 1);
    leader = 1;

    printf("  stage: snapshot catch-up (leader %llu)\n", (unsigned long long)leader);
    /* A follower lags behind a compaction and catches up by snapshot. */
    follower = leader == 2 ? 3 : 2;
    nodes[follower].isolated = true;
    if (propose_n(leader, 500)) return 1;
    H_CHECK(nodes[follower].count < 10610);
    if (snapshot_leader(leader)) return 1;
    /* The C storage is busy making snapshots at first: raft retries. */
    disk1.snapshot_busy = 2;
    nodes[follower].isolated = false;
    for (i = 0; i < 50 && nodes[follower].count != 10610; i++) {
        H_OK(polyraft_node_tick(nodes[leader].node));
        if (pump()) return 1;
    }
    if (converged(leader, 10610)) return 1;
    H_CHECK(nodes[follower].snaps == 1);
    /* The leader read that snapshot through the C storage's callback (raft
       checks first_index itself, so `compacted` may well stay 0). */
    printf("  C storage: %d compacted answers, %d snapshot calls\n", disk1.compacted, disk1.snapshots);
    H_CHECK(disk1.snapshots >= 3 && disk1.snapshot_busy == 0);

    printf("  stage: add node 4\n");
    /* Membership: add node 4 (v1 conf change). It starts empty and
       catches up from a snapshot that includes it in its configuration
       (etcd's rule: a node restores only snapshots naming it). */
    {
        polyraft_conf_change cc;
        polyraft_buffer *buf;
        const uint8_t *bytes;
        size_t len;
        memset(&cc, 0, sizeof cc);
        cc.change_type = POLYRAFT_CONF_CHANGE_ADD_NODE;
        cc.node_id = 4;
        H_OK(polyraft_conf_change_encode(&cc, &buf));
        H_OK(polyraft_buffer_data(buf, &bytes, &len));
        H_OK(polyraft_node_propose_conf_change(nodes[leader].node, POLYRAFT_ENTRY_CONF_CHANGE, bytes, len));
        polyraft_buffer_free(buf);
    }
    if (pump()) return 1;
    H_CHECK(conf_has_voter(&nodes[leader].conf, 4));
    if (snapshot_leader(leader)) return 1;
    if (start_memory_node(4)) return 1;
    for (i = 0; i < 50 && nodes[4].count != 10610; i++) {
        H_OK(polyraft_node_tick(nodes[leader].node));
        if (pump()) return 1;
    }
    H_CHECK(conf_has_voter(&nodes[leader].conf, 4));
    H_CHECK(nodes[4].snaps == 1 && nodes[4].count == 10610);
    if (propose_n(leader, 50)) return 1;
    if (converged(leader, 10660)) return 1;

    printf("  stage: remove a node\n");
    /* Remove a follower that is not the leader (v2 conf change). */
    removed = leader == 3 ? 2 : 3;
    {
        polyraft_conf_change_single ch;
        polyraft_conf_change_v2 cc;
        polyraft_buffer *buf;
        const uint8_t *bytes;
        size_t len;
        ch.change_type = POLYRAFT_CONF_CHANGE_REMOVE_NODE;
        ch.node_id = removed;
        memset(&cc, 0, sizeof cc);
        cc.transition = POLYRAFT_TRANSITION_AUTO;
        cc.changes = &ch;
        cc.changes_len = 1;
        H_OK(polyraft_conf_change_v2_encode(&cc, &buf));
        H_OK(polyraft_buffer_data(buf, &bytes, &len));
        H_OK(polyraft_node_propose_conf_change(nodes[leader].node, POLYRAFT_ENTRY_CONF_CHANGE_V2, bytes, len));
        polyraft_buffer_free(buf);
    }
    if (pump()) return 1;
    H_CHECK(!conf_has_voter(&nodes[leader].conf, removed));
    H_CHECK(nodes[leader].conf.n[0] == 3);
    stop_node(removed);
    if (propose_n(leader, 100)) return 1;
    if (converged(leader, 10760)) return 1;

    /* Status as JSON on the leader names every remaining peer. */
    {
        const char *json;
        size_t len;
        H_OK(polyraft_node_status_json(nodes[leader].node, &json, &len));
        H_CHECK(strlen(json) == len);
        H_CHECK(strstr(json, "\"raftState\":\"StateLeader\"") != NULL);
        H_CHECK(strstr(json, "\"4\":{") != NULL);
    }

    printf("  stage: leadership transfer\n");
    /* Leadership transfer to node 4. */
    H_OK(polyraft_node_transfer_leader(nodes[leader].node, 4));
    for (i = 0; i < 50 && leader_of() != 4; i++) {
        if (pump()) return 1;
        H_OK(polyraft_node_tick(nodes[leader].node));
    }
    H_CHECK(leader_of() == 4);
    if (propose_n(4, 10)) return 1;
    if (converged(4, 10770)) return 1;
    return 0;
}

TEST(three_node_cluster) {
    int r = scenario();
    teardown();
    CHECK(r == 0);
}

/* A witness (docs/witness.md) restored from a configuration that marks it:
 * the configuration reports it, it never campaigns, and a witness that is
 * not a voter is refused. */
TEST(witness_node_never_campaigns) {
    uint64_t voters[3] = {1, 2, 3}, witnesses[1] = {3}, stray[1] = {9};
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = NULL;
    polyraft_snapshot snap;
    polyraft_conf_state cs;
    polyraft_basic_status st;
    polyraft_config cfg = harness_config(3, 0, 1 << 20);
    int i, ok;
    memset(&snap, 0, sizeof snap);
    snap.index = 5;
    snap.term = 1;
    snap.conf_state.voters = voters;
    snap.conf_state.voters_len = 3;
    snap.conf_state.witnesses = stray;
    snap.conf_state.witnesses_len = 1;
    /* A ConfState naming a witness that is not a voter: no node from it. */
    CHECK_OK(polyraft_memory_storage_new(&ms));
    ok = polyraft_memory_storage_apply_snapshot(ms, &snap) == POLYRAFT_OK;
    ok = ok && polyraft_node_new_memory(&cfg, ms, &node, NULL) != POLYRAFT_OK && node == NULL;
    polyraft_memory_storage_free(ms);
    CHECK(ok);
    snap.conf_state.witnesses = witnesses;
    CHECK_OK(polyraft_memory_storage_new(&ms));
    ok = polyraft_memory_storage_apply_snapshot(ms, &snap) == POLYRAFT_OK;
    ok = ok && polyraft_node_new_memory(&cfg, ms, &node, NULL) == POLYRAFT_OK;
    ok = ok && polyraft_node_config(node, &cs) == POLYRAFT_OK && cs.witnesses_len == 1 && cs.witnesses[0] == 3;
    ok = ok && polyraft_node_campaign(node) == POLYRAFT_OK;
    for (i = 0; ok && i < 100; i++) ok = polyraft_node_tick(node) == POLYRAFT_OK;
    ok = ok && polyraft_node_basic_status(node, &st) == POLYRAFT_OK;
    ok = ok && st.soft_state.raft_state == POLYRAFT_STATE_FOLLOWER && st.hard_state.term == 0;
    if (node) polyraft_node_free(node);
    polyraft_memory_storage_free(ms);
    CHECK(ok);
}

int main(void) {
    printf("%s\n", polyraft_version());
    RUN(three_node_cluster);
    RUN(witness_node_never_campaigns);
    return RUNNER_DONE();
}
