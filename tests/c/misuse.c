/* Misuse of the polyraft C API: NULL everywhere, calls in the wrong state,
 * garbage input, bad configuration, failing storage callbacks. Each call
 * must return its documented code, and the node must stay usable wherever
 * the header says it does. Also covers async storage writes. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "polyraft.h"
#include "runner.h"

static polyraft_config quiet_config(uint64_t id) {
    polyraft_config cfg;
    polyraft_config_init(&cfg);
    cfg.id = id;
    cfg.log_level = POLYRAFT_LOG_OFF;
    return cfg;
}

/* A single-voter node over a fresh memory storage, bootstrapped. */
static polyraft_node *single_node(polyraft_memory_storage **ms_out, bool async) {
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = NULL;
    polyraft_config cfg = quiet_config(1);
    polyraft_peer peer;
    cfg.async_storage_writes = async;
    memset(&peer, 0, sizeof peer);
    peer.id = 1;
    if (polyraft_memory_storage_new(&ms) != POLYRAFT_OK) return NULL;
    if (polyraft_node_new_memory(&cfg, ms, &node, NULL) != POLYRAFT_OK ||
        polyraft_node_bootstrap(node, &peer, 1) != POLYRAFT_OK) {
        polyraft_node_free(node);
        polyraft_memory_storage_free(ms);
        return NULL;
    }
    *ms_out = ms;
    return node;
}

/* Handles one Ready the simple way (memory storage, single node). */
static polyraft_result handle_one(polyraft_node *node, polyraft_memory_storage *ms, size_t *applied) {
    const polyraft_ready *rd;
    const polyraft_entry *ents;
    polyraft_hard_state hs;
    bool present;
    size_t n, i;
    polyraft_result rc = polyraft_node_ready(node, &rd);
    if (rc) return rc;
    if ((rc = polyraft_ready_entries(rd, &ents, &n))) return rc;
    if ((rc = polyraft_memory_storage_append(ms, ents, n))) return rc;
    if ((rc = polyraft_ready_hard_state(rd, &hs, &present))) return rc;
    if (present && (rc = polyraft_memory_storage_set_hard_state(ms, &hs))) return rc;
    if ((rc = polyraft_ready_committed_entries(rd, &ents, &n))) return rc;
    for (i = 0; i < n; i++) {
        if (ents[i].entry_type != POLYRAFT_ENTRY_NORMAL) {
            polyraft_conf_state cs;
            rc = polyraft_node_apply_conf_change(node, ents[i].entry_type, ents[i].data, ents[i].data_len, &cs);
            if (rc) return rc;
        } else if (ents[i].data_len) {
            (*applied)++;
        }
    }
    return polyraft_node_advance(node);
}

static polyraft_result drain(polyraft_node *node, polyraft_memory_storage *ms, size_t *applied) {
    int i;
    for (i = 0; i < 100; i++) {
        bool has = false;
        polyraft_result rc = polyraft_node_has_ready(node, &has);
        if (rc) return rc;
        if (!has) return POLYRAFT_OK;
        if ((rc = handle_one(node, ms, applied))) return rc;
    }
    return POLYRAFT_OK;
}

static bool last_error_contains(polyraft_node *node, const char *want) {
    char buf[256];
    size_t written = 0;
    if (polyraft_node_last_error(node, buf, sizeof buf, &written) != POLYRAFT_OK) return false;
    return strlen(buf) == written && strstr(buf, want) != NULL;
}

TEST(null_everywhere) {
    polyraft_config cfg = quiet_config(1);
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = NULL;
    const polyraft_ready *rd = NULL;
    polyraft_basic_status st;
    polyraft_hard_state hs;
    polyraft_conf_state cs;
    polyraft_buffer *buf = NULL;
    char text[16];
    size_t n = 0;
    bool b = false;
    uint64_t u = 0;
    const char *json = NULL;

    /* Frees of NULL are no-ops. */
    polyraft_node_free(NULL);
    polyraft_memory_storage_free(NULL);
    polyraft_buffer_free(NULL);

    CHECK_RC(polyraft_config_init(NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_config_validate(NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_memory_storage_new(NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_OK(polyraft_memory_storage_new(&ms));
    CHECK_RC(polyraft_node_new_memory(NULL, ms, &node, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_new_memory(&cfg, NULL, &node, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_new_memory(&cfg, ms, NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_new_custom(&cfg, NULL, &node, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK(node == NULL); /* outputs only on success */

    CHECK_RC(polyraft_node_tick(NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_campaign(NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_propose(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_propose_batch(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_propose_conf_change(NULL, POLYRAFT_ENTRY_CONF_CHANGE_V2, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_apply_conf_change(NULL, POLYRAFT_ENTRY_CONF_CHANGE_V2, NULL, 0, &cs), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_step(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_has_ready(NULL, &b), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_ready(NULL, &rd), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_advance(NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_read_index(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_transfer_leader(NULL, 2), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_forget_leader(NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_report_unreachable(NULL, 2), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_report_snapshot(NULL, 2, false), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_basic_status(NULL, &st), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_status_json(NULL, &json, &n), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_last_error(NULL, text, sizeof text, &n), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_bootstrap(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);

    CHECK_RC(polyraft_ready_messages(NULL, NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_ready_entries(NULL, NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_ready_committed_entries(NULL, NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_ready_read_states(NULL, NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_ready_hard_state(NULL, &hs, &b), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_ready_soft_state(NULL, NULL, &b), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_ready_snapshot(NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK(!polyraft_ready_must_sync(NULL));

    CHECK_RC(polyraft_memory_storage_append(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_memory_storage_append(ms, NULL, 3), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_memory_storage_set_hard_state(ms, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK(polyraft_memory_storage_hard_state(NULL).term == 0);
    CHECK_RC(polyraft_memory_storage_apply_snapshot(ms, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_memory_storage_create_snapshot(NULL, 1, NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_memory_storage_compact(NULL, 1), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_memory_storage_first_index(ms, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_memory_storage_last_index(NULL, &u), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_memory_storage_term(ms, 0, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_memory_storage_clone(ms, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_memory_storage_snapshot(ms, NULL), POLYRAFT_NULL_PARAMETER);

    CHECK_RC(polyraft_entry_sink_push(NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_entry_sink_push_encoded(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_snapshot_sink_set(NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_snapshot_sink_set_encoded(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_conf_state_sink_set(NULL, NULL), POLYRAFT_NULL_PARAMETER);

    CHECK_RC(polyraft_conf_change_encode(NULL, &buf), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_conf_change_v2_encode(NULL, &buf), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_entry_encode(NULL, &buf), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_message_encode(NULL, &buf), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_hard_state_encode(&hs, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_conf_state_encode(NULL, &buf), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_snapshot_encode(NULL, &buf), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_buffer_data(NULL, NULL, &n), POLYRAFT_NULL_PARAMETER);
    CHECK(buf == NULL);

    /* A real node rejects NULL outputs too, and stays usable. */
    CHECK_OK(polyraft_node_new_memory(&cfg, ms, &node, NULL));
    CHECK_RC(polyraft_node_ready(node, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_has_ready(node, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_basic_status(node, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_propose(node, NULL, 5), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_step(node, NULL, 5), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_node_bootstrap(node, NULL, 1), POLYRAFT_NULL_PARAMETER);
    CHECK_OK(polyraft_node_basic_status(node, &st));
    CHECK(st.id == 1);
    polyraft_node_free(node);
    polyraft_memory_storage_free(ms);

    CHECK(strcmp(polyraft_result_str(POLYRAFT_OK), "ok") == 0);
    CHECK(strcmp(polyraft_result_str(9999), "unknown polyraft_result") == 0);
    CHECK(strncmp(polyraft_version(), "polyraft ", 9) == 0);
}

TEST(bad_config) {
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = NULL;
    polyraft_config cfg;
    polyraft_buffer *err = NULL;
    char text[128];
    CHECK_OK(polyraft_memory_storage_new(&ms));

#define EXPECT_BAD(field_setup, want_text)                                      \
    do {                                                                         \
        cfg = quiet_config(1);                                                   \
        field_setup;                                                             \
        CHECK_RC(polyraft_config_validate(&cfg, NULL), POLYRAFT_INVALID_CONFIG); \
        CHECK_RC(polyraft_node_new_memory(&cfg, ms, &node, &err), POLYRAFT_INVALID_CONFIG); \
        CHECK(node == NULL);                                                     \
        runner_error_text(err, text, sizeof text);                               \
        if (strstr(text, want_text) == NULL) printf("  got: %s\n", text);        \
        CHECK(strstr(text, want_text) != NULL);                                  \
    } while (0)

    EXPECT_BAD(cfg.id = 0, "cannot use none as id");
    EXPECT_BAD(cfg.id = POLYRAFT_LOCAL_APPEND_THREAD, "cannot use local target as id");
    EXPECT_BAD(cfg.heartbeat_tick = 0, "heartbeat tick must be greater than 0");
    EXPECT_BAD(cfg.election_tick = 1, "election tick must be greater than heartbeat tick");
    EXPECT_BAD(cfg.max_inflight_msgs = 0, "max inflight messages must be greater than 0");
    EXPECT_BAD((cfg.max_size_per_msg = 1024, cfg.max_inflight_bytes = 10), "max inflight bytes must be >= max message size");
    EXPECT_BAD(cfg.read_only_option = 1, "CheckQuorum must be enabled");
    EXPECT_BAD(cfg.read_only_option = 7, "unknown read_only_option 7");
    EXPECT_BAD(cfg.log_level = 9, "unknown log_level 9");
    /* applied is checked against the storage, at creation. */
    cfg = quiet_config(1);
    cfg.applied = 5;
    CHECK_OK(polyraft_config_validate(&cfg, NULL));
    CHECK_RC(polyraft_node_new_memory(&cfg, ms, &node, &err), POLYRAFT_INVALID_CONFIG);
    runner_error_text(err, text, sizeof text);
    CHECK(strstr(text, "applied(5) is out of range") != NULL);
    /* One line, and not a poisoned node's text. */
    CHECK(strchr(text, '\n') == NULL && strstr(text, "poison") == NULL);

    /* A good config still works afterwards, and reports no error. */
    cfg = quiet_config(1);
    err = (polyraft_buffer *)&cfg; /* overwritten with NULL on success */
    CHECK_OK(polyraft_config_validate(&cfg, &err));
    CHECK(err == NULL);
    CHECK_OK(polyraft_node_new_memory(&cfg, ms, &node, &err));
    CHECK(err == NULL);
    polyraft_node_free(node);
    polyraft_memory_storage_free(ms);
}

TEST(wrong_state) {
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = single_node(&ms, false);
    const polyraft_ready *rd = NULL, *rd2 = NULL;
    polyraft_peer peer;
    size_t applied = 0;
    polyraft_basic_status st;
    CHECK(node != NULL);

    /* advance without ready */
    CHECK_RC(polyraft_node_advance(node), POLYRAFT_INVALID_STATE);
    CHECK(last_error_contains(node, "advance without an outstanding Ready"));
    CHECK_OK(drain(node, ms, &applied));
    /* ready twice without advance */
    CHECK_OK(polyraft_node_ready(node, &rd));
    CHECK_RC(polyraft_node_ready(node, &rd2), POLYRAFT_INVALID_STATE);
    CHECK(rd2 == NULL);
    CHECK_OK(polyraft_node_advance(node));
    CHECK_RC(polyraft_node_advance(node), POLYRAFT_INVALID_STATE);

    /* Bootstrap twice: the storage is not empty any more. */
    memset(&peer, 0, sizeof peer);
    peer.id = 1;
    CHECK_RC(polyraft_node_bootstrap(node, &peer, 1), POLYRAFT_INVALID_STATE);
    CHECK_RC(polyraft_node_bootstrap(node, &peer, 0), POLYRAFT_INVALID_ARGUMENT);

    /* No leader yet: proposals are dropped. */
    CHECK_RC(polyraft_node_propose(node, (const uint8_t *)"x", 1), POLYRAFT_PROPOSAL_DROPPED);
    CHECK(last_error_contains(node, "raft proposal dropped"));
    CHECK_RC(polyraft_node_propose_batch(node, NULL, 0), POLYRAFT_INVALID_ARGUMENT);

    /* Still usable: elect, propose, commit. */
    CHECK_OK(polyraft_node_campaign(node));
    CHECK_OK(drain(node, ms, &applied));
    CHECK_OK(polyraft_node_basic_status(node, &st));
    CHECK(st.soft_state.raft_state == POLYRAFT_STATE_LEADER);
    CHECK_OK(polyraft_node_propose(node, (const uint8_t *)"x", 1));
    CHECK_OK(drain(node, ms, &applied));
    CHECK(applied == 1);

    polyraft_node_free(node);
    polyraft_memory_storage_free(ms);
}

TEST(garbage_input) {
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = single_node(&ms, false);
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03};
    polyraft_message m;
    polyraft_buffer *buf = NULL;
    const uint8_t *bytes;
    size_t len, applied = 0;
    polyraft_conf_state cs;
    polyraft_entry e;
    CHECK(node != NULL);
    CHECK_OK(drain(node, ms, &applied));

    CHECK_RC(polyraft_node_step(node, garbage, sizeof garbage), POLYRAFT_DECODE);
    CHECK(last_error_contains(node, "malformed raftpb bytes"));

    /* A local message type from the network is refused. */
    memset(&m, 0, sizeof m);
    m.msg_type = POLYRAFT_MSG_HUP;
    m.from = 2;
    m.to = 1;
    CHECK_OK(polyraft_message_encode(&m, &buf));
    CHECK_OK(polyraft_buffer_data(buf, &bytes, &len));
    CHECK_RC(polyraft_node_step(node, bytes, len), POLYRAFT_STEP_LOCAL_MSG);
    polyraft_buffer_free(buf);

    /* A response from an unknown peer is refused. */
    m.msg_type = POLYRAFT_MSG_APP_RESP;
    m.from = 7;
    m.term = 1;
    CHECK_OK(polyraft_message_encode(&m, &buf));
    CHECK_OK(polyraft_buffer_data(buf, &bytes, &len));
    CHECK_RC(polyraft_node_step(node, bytes, len), POLYRAFT_STEP_PEER_NOT_FOUND);
    polyraft_buffer_free(buf);

    /* Unknown enum values. */
    m.msg_type = 99;
    CHECK_RC(polyraft_message_encode(&m, &buf), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_node_propose_conf_change(node, POLYRAFT_ENTRY_NORMAL, NULL, 0), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_node_propose_conf_change(node, 42, NULL, 0), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_node_apply_conf_change(node, POLYRAFT_ENTRY_CONF_CHANGE, garbage, sizeof garbage, &cs), POLYRAFT_DECODE);
    memset(&e, 0, sizeof e);
    e.index = 1;
    e.entry_type = 3;
    CHECK_RC(polyraft_entry_encode(&e, &buf), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_memory_storage_append(ms, &e, 1), POLYRAFT_INVALID_ARGUMENT);

    /* Zero ids. */
    CHECK_RC(polyraft_node_transfer_leader(node, 0), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_node_report_unreachable(node, 0), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_node_report_snapshot(node, 0, true), POLYRAFT_INVALID_ARGUMENT);

    /* Still usable. */
    CHECK_OK(polyraft_node_campaign(node));
    CHECK_OK(drain(node, ms, &applied));
    CHECK_OK(polyraft_node_propose(node, (const uint8_t *)"y", 1));
    CHECK_OK(drain(node, ms, &applied));
    CHECK(applied == 1);
    polyraft_node_free(node);
    polyraft_memory_storage_free(ms);
}

TEST(step_batch) {
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = single_node(&ms, false);
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03};
    polyraft_message m;
    polyraft_buffer *buf = NULL;
    const uint8_t *bytes;
    uint8_t batch[256];
    size_t len, lens[3], stepped = 99, applied = 0;
    CHECK(node != NULL);
    CHECK_OK(drain(node, ms, &applied));
    CHECK_OK(polyraft_node_campaign(node));
    CHECK_OK(drain(node, ms, &applied));

    /* A heartbeat of an older term: stepped (and ignored) without error. */
    memset(&m, 0, sizeof m);
    m.msg_type = POLYRAFT_MSG_HEARTBEAT;
    m.from = 2;
    m.to = 1;
    m.term = 1;
    CHECK_OK(polyraft_message_encode(&m, &buf));
    CHECK_OK(polyraft_buffer_data(buf, &bytes, &len));
    CHECK(2 * len + sizeof garbage <= sizeof batch);

    CHECK_OK(polyraft_node_step_batch(node, NULL, NULL, 0, &stepped));
    CHECK(stepped == 0);
    CHECK_RC(polyraft_node_step_batch(node, batch, lens, 1, NULL), POLYRAFT_NULL_PARAMETER);

    /* ok, garbage, ok: stops at the garbage, having stepped one. */
    memcpy(batch, bytes, len);
    memcpy(batch + len, garbage, sizeof garbage);
    memcpy(batch + len + sizeof garbage, bytes, len);
    lens[0] = len;
    lens[1] = sizeof garbage;
    lens[2] = len;
    CHECK_RC(polyraft_node_step_batch(node, batch, lens, 3, &stepped), POLYRAFT_DECODE);
    CHECK(stepped == 1);
    CHECK(last_error_contains(node, "malformed raftpb bytes"));
    /* The caller goes on after the failed one. */
    CHECK_OK(polyraft_node_step_batch(node, batch + len + sizeof garbage, lens + 2, 1, &stepped));
    CHECK(stepped == 1);
    memcpy(batch + len, bytes, len);
    lens[1] = len;
    CHECK_OK(polyraft_node_step_batch(node, batch, lens, 2, &stepped));
    CHECK(stepped == 2);
    lens[0] = SIZE_MAX;
    CHECK_RC(polyraft_node_step_batch(node, batch, lens, 2, &stepped), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_node_step_batch(node, NULL, lens + 1, 1, &stepped), POLYRAFT_NULL_PARAMETER);
    polyraft_buffer_free(buf);

    /* Still usable. */
    CHECK_OK(polyraft_node_propose(node, (const uint8_t *)"y", 1));
    CHECK_OK(drain(node, ms, &applied));
    CHECK(applied == 1);
    polyraft_node_free(node);
    polyraft_memory_storage_free(ms);
}

TEST(zero_peer_id) {
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = NULL;
    polyraft_config cfg = quiet_config(1);
    polyraft_peer peers[2];
    memset(peers, 0, sizeof peers);
    peers[0].id = 1;
    peers[1].id = 0;
    CHECK_OK(polyraft_memory_storage_new(&ms));
    CHECK_OK(polyraft_node_new_memory(&cfg, ms, &node, NULL));
    CHECK_RC(polyraft_node_bootstrap(node, peers, 2), POLYRAFT_INVALID_ARGUMENT);
    CHECK(last_error_contains(node, "invalid node id"));
    CHECK_OK(polyraft_node_bootstrap(node, peers, 1));
    polyraft_node_free(node);
    polyraft_memory_storage_free(ms);
}

/* ---- a tiny C storage whose callbacks can be told to fail ---------------- */

typedef struct {
    polyraft_hard_state hs;
    uint64_t voter;
    uint64_t last;          /* entries 1..last, all term 1, data "e" */
    uint32_t fail_initial, fail_entries, fail_snapshot;
    int destroyed;
} tiny;

static uint32_t t_initial(void *ctx, polyraft_hard_state *hs, polyraft_conf_state_sink *sink) {
    tiny *t = (tiny *)ctx;
    polyraft_conf_state cs;
    if (t->fail_initial) return t->fail_initial;
    memset(&cs, 0, sizeof cs);
    cs.voters = &t->voter;
    cs.voters_len = 1;
    *hs = t->hs;
    return polyraft_conf_state_sink_set(sink, &cs);
}

static uint32_t t_entries(void *ctx, uint64_t lo, uint64_t hi, uint64_t max_size, polyraft_entry_sink *sink) {
    tiny *t = (tiny *)ctx;
    uint64_t i;
    (void)max_size;
    if (t->fail_entries) return t->fail_entries;
    for (i = lo; i < hi; i++) {
        polyraft_entry e;
        memset(&e, 0, sizeof e);
        e.index = i;
        e.term = 1;
        e.data = (const uint8_t *)"e";
        e.data_len = 1;
        if (polyraft_entry_sink_push(sink, &e) != POLYRAFT_OK) return POLYRAFT_STORAGE_FAILURE;
    }
    return POLYRAFT_OK;
}

static uint32_t t_term(void *ctx, uint64_t index, uint64_t *term) {
    tiny *t = (tiny *)ctx;
    if (index > t->last) return POLYRAFT_STORAGE_UNAVAILABLE;
    *term = index == 0 ? 0 : 1;
    return POLYRAFT_OK;
}

static uint32_t t_first(void *ctx, uint64_t *index) {
    (void)ctx;
    *index = 1;
    return POLYRAFT_OK;
}

static uint32_t t_last(void *ctx, uint64_t *index) {
    *index = ((tiny *)ctx)->last;
    return POLYRAFT_OK;
}

static uint32_t t_snapshot(void *ctx, polyraft_snapshot_sink *sink) {
    tiny *t = (tiny *)ctx;
    (void)sink;
    return t->fail_snapshot;
}

static void t_destroy(void *ctx) { ((tiny *)ctx)->destroyed++; }

static polyraft_storage_vtable tiny_vtable(tiny *t) {
    polyraft_storage_vtable vt;
    memset(&vt, 0, sizeof vt);
    vt.abi_version = POLYRAFT_STORAGE_ABI_VERSION;
    vt.ctx = (void *)t;
    vt.initial_state = t_initial;
    vt.entries = t_entries;
    vt.term = t_term;
    vt.first_index = t_first;
    vt.last_index = t_last;
    vt.snapshot = t_snapshot;
    vt.destroy = t_destroy;
    return vt;
}

TEST(bad_vtable) {
    tiny t;
    polyraft_storage_vtable vt;
    polyraft_config cfg = quiet_config(1);
    polyraft_node *node = NULL;
    memset(&t, 0, sizeof t);
    t.voter = 1;

    vt = tiny_vtable(&t);
    vt.abi_version = 99;
    CHECK_RC(polyraft_node_new_custom(&cfg, &vt, &node, NULL), POLYRAFT_ABI_MISMATCH);
    vt = tiny_vtable(&t);
    vt.entries = NULL;
    CHECK_RC(polyraft_node_new_custom(&cfg, &vt, &node, NULL), POLYRAFT_NULL_PARAMETER);
    vt = tiny_vtable(&t);
    cfg.id = 0;
    CHECK_RC(polyraft_node_new_custom(&cfg, &vt, &node, NULL), POLYRAFT_INVALID_CONFIG);
    cfg.id = 1;
    t.fail_initial = POLYRAFT_STORAGE_UNAVAILABLE;
    CHECK_RC(polyraft_node_new_custom(&cfg, &vt, &node, NULL), POLYRAFT_STORAGE_UNAVAILABLE);
    t.fail_initial = 12345; /* not a storage code */
    CHECK_RC(polyraft_node_new_custom(&cfg, &vt, &node, NULL), POLYRAFT_STORAGE_FAILURE);
    CHECK(node == NULL);
    /* The caller keeps ctx when creation fails. */
    CHECK(t.destroyed == 0);
    t.fail_initial = 0;
    CHECK_OK(polyraft_node_new_custom(&cfg, &vt, &node, NULL));
    polyraft_node_free(node);
    CHECK(t.destroyed == 1);
}

TEST(storage_failure_is_reported) {
    tiny t;
    polyraft_storage_vtable vt;
    polyraft_config cfg = quiet_config(1);
    polyraft_node *node = NULL;
    const polyraft_ready *rd = NULL;
    bool has = false;
    polyraft_basic_status st;
    memset(&t, 0, sizeof t);
    t.voter = 1;
    t.last = 5;
    t.hs.term = 1;
    t.hs.vote = 1;
    t.hs.commit = 5;
    vt = tiny_vtable(&t);

    /* Restart with 5 committed entries to apply: the first Ready reads
       them from storage, which fails. */
    t.fail_entries = POLYRAFT_STORAGE_FAILURE;
    CHECK_OK(polyraft_node_new_custom(&cfg, &vt, &node, NULL));
    CHECK_OK(polyraft_node_has_ready(node, &has));
    CHECK_RC(polyraft_node_ready(node, &rd), POLYRAFT_STORAGE_FAILURE);
    CHECK(last_error_contains(node, "entries"));
    /* etcd would panic; the node refuses further work instead. */
    CHECK_RC(polyraft_node_tick(node), POLYRAFT_FATAL);
    CHECK_RC(polyraft_node_campaign(node), POLYRAFT_FATAL);
    CHECK_RC(polyraft_node_ready(node, &rd), POLYRAFT_FATAL);
    CHECK_OK(polyraft_node_basic_status(node, &st)); /* still inspectable */
    polyraft_node_free(node);
    node = NULL;

    /* The same storage healthy: the entries come out committed. */
    t.fail_entries = 0;
    CHECK_OK(polyraft_node_new_custom(&cfg, &vt, &node, NULL));
    CHECK_OK(polyraft_node_ready(node, &rd));
    {
        const polyraft_entry *ents;
        size_t n;
        CHECK_OK(polyraft_ready_committed_entries(rd, &ents, &n));
        CHECK(n == 5 && ents[4].index == 5 && ents[4].data_len == 1);
    }
    CHECK_OK(polyraft_node_advance(node));
    /* A snapshot that is temporarily unavailable never hurts a node that
       does not need one. */
    t.fail_snapshot = POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE;
    CHECK_OK(polyraft_node_campaign(node));
    polyraft_node_free(node);
    CHECK(t.destroyed == 2);
}

TEST(async_storage_writes) {
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = single_node(&ms, true);
    size_t applied = 0;
    int round;
    polyraft_basic_status st;
    bool proposed = false;
    CHECK(node != NULL);

    CHECK_RC(polyraft_node_advance(node), POLYRAFT_INVALID_STATE);
    CHECK(last_error_contains(node, "AsyncStorageWrites"));
    for (round = 0; round < 50; round++) {
        const polyraft_ready *rd;
        const polyraft_message *msgs;
        size_t n, i, j;
        bool has = false;
        CHECK_OK(polyraft_node_has_ready(node, &has));
        if (!has) {
            CHECK_OK(polyraft_node_basic_status(node, &st));
            if (st.soft_state.raft_state != POLYRAFT_STATE_LEADER) {
                CHECK_OK(polyraft_node_campaign(node));
            } else if (!proposed) {
                CHECK_OK(polyraft_node_propose(node, (const uint8_t *)"async", 5));
                proposed = true;
            } else {
                break;
            }
            continue;
        }
        CHECK_OK(polyraft_node_ready(node, &rd));
        CHECK_OK(polyraft_ready_messages(rd, &msgs, &n));
        for (i = 0; i < n; i++) {
            const polyraft_message *m = &msgs[i];
            if (m->to == POLYRAFT_LOCAL_APPEND_THREAD) {
                CHECK(m->msg_type == POLYRAFT_MSG_STORAGE_APPEND);
                if (m->snapshot) CHECK_OK(polyraft_memory_storage_apply_snapshot(ms, m->snapshot));
                CHECK_OK(polyraft_memory_storage_append(ms, m->entries, m->entries_len));
                if (m->term || m->vote || m->commit) {
                    polyraft_hard_state hs;
                    hs.term = m->term;
                    hs.vote = m->vote;
                    hs.commit = m->commit;
                    CHECK_OK(polyraft_memory_storage_set_hard_state(ms, &hs));
                }
            } else if (m->to == POLYRAFT_LOCAL_APPLY_THREAD) {
                CHECK(m->msg_type == POLYRAFT_MSG_STORAGE_APPLY);
                for (j = 0; j < m->entries_len; j++) {
                    const polyraft_entry *e = &m->entries[j];
                    if (e->entry_type != POLYRAFT_ENTRY_NORMAL) {
                        polyraft_conf_state cs;
                        CHECK_OK(polyraft_node_apply_conf_change(node, e->entry_type, e->data, e->data_len, &cs));
                    } else if (e->data_len == 5 && memcmp(e->data, "async", 5) == 0) {
                        applied++;
                    }
                }
            } else {
                continue; /* no peers */
            }
            /* Deliver the responses: the ones to ourselves are stepped. */
            for (j = 0; j < m->responses_len; j++) {
                if (m->responses[j].to == 1) {
                    CHECK_OK(polyraft_node_step_local(node, m->responses[j].bytes, m->responses[j].bytes_len));
                }
            }
        }
        /* With async writes a second Ready is fine (it replaces the first). */
    }
    CHECK(applied == 1);
    CHECK_RC(polyraft_node_advance(node), POLYRAFT_INVALID_STATE);
    polyraft_node_free(node);
    polyraft_memory_storage_free(ms);
}

TEST(memory_storage_errors) {
    polyraft_memory_storage *ms = NULL, *ms2 = NULL;
    polyraft_entry e[3];
    uint64_t v = 0;
    int i;
    memset(e, 0, sizeof e);
    for (i = 0; i < 3; i++) {
        e[i].index = (uint64_t)i + 1;
        e[i].term = 1;
    }
    CHECK_OK(polyraft_memory_storage_new(&ms));
    CHECK_OK(polyraft_memory_storage_append(ms, e, 3));
    CHECK_OK(polyraft_memory_storage_clone(ms, &ms2));
    polyraft_memory_storage_free(ms);
    CHECK_OK(polyraft_memory_storage_last_index(ms2, &v));
    CHECK(v == 3);
    CHECK_RC(polyraft_memory_storage_term(ms2, 9, &v), POLYRAFT_STORAGE_UNAVAILABLE);
    CHECK_RC(polyraft_memory_storage_create_snapshot(ms2, 9, NULL, NULL, 0), POLYRAFT_STORAGE_FAILURE);
    CHECK_OK(polyraft_memory_storage_create_snapshot(ms2, 2, NULL, (const uint8_t *)"s", 1));
    CHECK_RC(polyraft_memory_storage_create_snapshot(ms2, 2, NULL, NULL, 0), POLYRAFT_STORAGE_SNAP_OUT_OF_DATE);
    CHECK_OK(polyraft_memory_storage_compact(ms2, 2));
    CHECK_RC(polyraft_memory_storage_compact(ms2, 2), POLYRAFT_STORAGE_COMPACTED);
    CHECK_RC(polyraft_memory_storage_term(ms2, 1, &v), POLYRAFT_STORAGE_COMPACTED);
    CHECK_OK(polyraft_memory_storage_first_index(ms2, &v));
    CHECK(v == 3);
    e[0].index = 7; /* a gap */
    CHECK_RC(polyraft_memory_storage_append(ms2, e, 1), POLYRAFT_STORAGE_FAILURE);
    polyraft_memory_storage_free(ms2);
}

/* An explicitly set EntryNormal type (etcd's placeholder for a refused
   conf change) survives the C struct: it is encoded, so it counts in byte
   limits as in etcd. */
TEST(entry_type_presence_is_kept) {
    polyraft_entry e;
    polyraft_buffer *buf = NULL;
    const uint8_t *bytes;
    size_t plain = 0, set = 0;
    memset(&e, 0, sizeof e);
    e.index = 1;
    e.term = 1;
    CHECK_OK(polyraft_entry_encode(&e, &buf));
    CHECK_OK(polyraft_buffer_data(buf, &bytes, &plain));
    polyraft_buffer_free(buf);
    e.type_set = true;
    CHECK_OK(polyraft_entry_encode(&e, &buf));
    CHECK_OK(polyraft_buffer_data(buf, &bytes, &set));
    CHECK(set == plain + 2 && bytes[0] == 0x08 && bytes[1] == 0x00); /* field 1 (type) = 0 */
    polyraft_buffer_free(buf);
}

/* The table "one behaviour in every binding" (ffi/README-C.md, "Errors"):
 * the same mistakes give the same answers in C, Python and Go. */
TEST(bindings_agree) {
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = NULL;
    polyraft_durable_storage *ds = NULL;
    polyraft_buffer *err = NULL;
    polyraft_config cfg = quiet_config(1);
    polyraft_peer peer;
    const polyraft_ready *rd = NULL;
    char text[256];
    size_t n = 0;
    memset(&peer, 0, sizeof peer);
    CHECK_OK(polyraft_memory_storage_new(&ms));
    CHECK_OK(polyraft_node_new_memory(&cfg, ms, &node, NULL));
    /* bootstrap([]) and bootstrap([0]): INVALID_ARGUMENT, nothing changed. */
    CHECK_RC(polyraft_node_bootstrap(node, NULL, 0), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_node_bootstrap(node, &peer, 1), POLYRAFT_INVALID_ARGUMENT);
    CHECK_OK(polyraft_node_last_error(node, text, sizeof text, &n));
    CHECK(strstr(text, "invalid node id") != NULL);
    CHECK(strstr(text, "removed all voters") == NULL);
    peer.id = 1;
    CHECK_OK(polyraft_node_bootstrap(node, &peer, 1));
    /* advance without a Ready: INVALID_STATE. */
    CHECK_RC(polyraft_node_advance(node), POLYRAFT_INVALID_STATE);
    /* ready twice without advance: INVALID_STATE. */
    CHECK_OK(polyraft_node_ready(node, &rd));
    CHECK_RC(polyraft_node_ready(node, &rd), POLYRAFT_INVALID_STATE);
    CHECK_OK(polyraft_node_advance(node));
    /* transfer_leader(0): INVALID_ARGUMENT. */
    CHECK_RC(polyraft_node_transfer_leader(node, 0), POLYRAFT_INVALID_ARGUMENT);
    CHECK(polyraft_node_last_errno(node) == 0);
    polyraft_node_free(node);
    polyraft_memory_storage_free(ms);
    /* A durable storage opened at "": INVALID_ARGUMENT, reason in `err`. */
    CHECK_RC(polyraft_durable_storage_open("", NULL, &ds, NULL, &err), POLYRAFT_INVALID_ARGUMENT);
    CHECK(ds == NULL);
    runner_error_text(err, text, sizeof text);
    CHECK(strcmp(text, "dir is empty") == 0);
}

/* A constructor's error names what is wrong: a node both voter and learner
 * is not "removed all voters", nor a poisoned node. */
TEST(constructor_errors_say_what_is_wrong) {
    polyraft_memory_storage *ms = NULL;
    polyraft_node *node = NULL;
    polyraft_buffer *err = NULL;
    polyraft_config cfg = quiet_config(1);
    polyraft_snapshot snap;
    uint64_t one = 1;
    char text[256];
    memset(&snap, 0, sizeof snap);
    snap.index = 1;
    snap.term = 1;
    snap.conf_state.voters = &one;
    snap.conf_state.voters_len = 1;
    snap.conf_state.learners = &one;
    snap.conf_state.learners_len = 1;
    CHECK_OK(polyraft_memory_storage_new(&ms));
    CHECK_OK(polyraft_memory_storage_apply_snapshot(ms, &snap));
    CHECK_RC(polyraft_node_new_memory(&cfg, ms, &node, &err), POLYRAFT_CONF_CHANGE);
    runner_error_text(err, text, sizeof text);
    CHECK(strcmp(text, "node 1 is both a voter and a learner in the ConfState") == 0);
    CHECK(node == NULL);
    polyraft_memory_storage_free(ms);
}

/* Every code has a name and a description from the one table; a switch on
 * the enum is checked by -Wswitch-enum (this file is built with it). */
static const char *kind_of(polyraft_result rc) {
    switch (rc) {
    case POLYRAFT_OK: return "ok";
    case POLYRAFT_NULL_PARAMETER:
    case POLYRAFT_INVALID_ARGUMENT:
    case POLYRAFT_ABI_MISMATCH: return "argument";
    case POLYRAFT_PANIC:
    case POLYRAFT_POISONED:
    case POLYRAFT_FATAL: return "node";
    case POLYRAFT_INVALID_CONFIG:
    case POLYRAFT_INVALID_STATE:
    case POLYRAFT_DECODE:
    case POLYRAFT_PROPOSAL_DROPPED:
    case POLYRAFT_STEP_LOCAL_MSG:
    case POLYRAFT_STEP_PEER_NOT_FOUND:
    case POLYRAFT_CONF_CHANGE: return "call";
    case POLYRAFT_STORAGE_COMPACTED:
    case POLYRAFT_STORAGE_SNAP_OUT_OF_DATE:
    case POLYRAFT_STORAGE_UNAVAILABLE:
    case POLYRAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE:
    case POLYRAFT_STORAGE_FAILURE:
    case POLYRAFT_IO_ERROR:
    case POLYRAFT_CORRUPT: return "storage";
    case POLYRAFT_REJECTED:
    case POLYRAFT_TIMED_OUT:
    case POLYRAFT_CLOSED: return "host";
    }
    return "unknown";
}

TEST(result_names) {
    uint32_t code;
    int named = 0;
    CHECK(strcmp(polyraft_result_name(POLYRAFT_IO_ERROR), "POLYRAFT_IO_ERROR") == 0);
    CHECK(strcmp(polyraft_result_str(POLYRAFT_IO_ERROR), "durable storage I/O error") == 0);
    CHECK(polyraft_result_name(9) == NULL);
    CHECK(strcmp(polyraft_result_str(9), "unknown polyraft_result") == 0);
    for (code = 0; code < 64; code++) {
        if (polyraft_result_name(code) == NULL) continue;
        named++;
        CHECK(strcmp(kind_of((polyraft_result)code), "unknown") != 0);
    }
    CHECK(named == 24);
    CHECK(polyraft_version_number() == POLYRAFT_VERSION_NUMBER);
    CHECK(POLYRAFT_VERSION_NUMBER ==
          POLYRAFT_VERSION_MAJOR * 1000000 + POLYRAFT_VERSION_MINOR * 1000 + POLYRAFT_VERSION_PATCH);
    CHECK(polyraft_is_local_msg(POLYRAFT_MSG_HUP));
    CHECK(polyraft_is_local_msg(POLYRAFT_MSG_STORAGE_APPEND_RESP));
    CHECK(!polyraft_is_local_msg(POLYRAFT_MSG_APP));
    CHECK(!polyraft_is_local_msg(1000));
}

int main(void) {
    RUN(bindings_agree);
    RUN(result_names);
    RUN(constructor_errors_say_what_is_wrong);
    RUN(null_everywhere);
    RUN(bad_config);
    RUN(wrong_state);
    RUN(garbage_input);
    RUN(step_batch);
    RUN(zero_peer_id);
    RUN(bad_vtable);
    RUN(storage_failure_is_reported);
    RUN(async_storage_writes);
    RUN(memory_storage_errors);
    RUN(entry_type_presence_is_kept);
    return RUNNER_DONE();
}
