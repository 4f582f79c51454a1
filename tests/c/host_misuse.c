/* Misuse of the host C API: NULL everywhere, bad configuration, bad ids,
 * calls after close, calls refused inside callbacks, and state machines
 * whose callbacks fail. Each call must return its documented code, and
 * nothing may leak, crash or hang. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host_kv.h"
#include "runner.h"

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static polyraft_host_transport *net;

/* Callbacks run on host threads: what they record is guarded. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int locked_read(volatile int *p) {
    int v;
    pthread_mutex_lock(&mu);
    v = *p;
    pthread_mutex_unlock(&mu);
    return v;
}
static char dir[64];

static polyraft_host *host(uint64_t id, const char *data_dir, uint64_t snapshot_entries) {
    polyraft_host_config cfg;
    polyraft_host *h = NULL;
    polyraft_host_config_init(&cfg, id);
    cfg.transport = net;
    cfg.workers = 1;
    cfg.tick_ms = 5;
    cfg.data_dir = data_dir;
    cfg.snapshot_entries = snapshot_entries;
    cfg.compaction_overhead = 2;
    return polyraft_host_new(&cfg, &h, NULL) == POLYRAFT_OK ? h : NULL;
}

/* Starts a one-member group `group` (replica 1 on host `id`). */
static polyraft_result start(polyraft_host *h, uint64_t id, uint64_t group, polyraft_host_state_machine *sm) {
    polyraft_host_peer self;
    self.replica = 1;
    self.host = id;
    return polyraft_host_start_replica(h, group, 1, &self, 1, sm);
}

/* Proposes until the single member has elected itself. */
static polyraft_result propose(polyraft_host *h, uint64_t group, const char *cmd) {
    int i;
    polyraft_result rc = POLYRAFT_REJECTED;
    for (i = 0; i < 500 && rc == POLYRAFT_REJECTED; i++) {
        rc = polyraft_host_propose(h, group, (const uint8_t *)cmd, strlen(cmd), 2000, NULL);
        if (rc == POLYRAFT_REJECTED) sleep_ms(10);
    }
    return rc;
}

static int last_error_has(polyraft_host *h, const char *what) {
    char msg[256];
    size_t n = 0;
    if (polyraft_host_last_error(h, msg, sizeof msg, &n) != POLYRAFT_OK) return 0;
    if (strstr(msg, what) == NULL) printf("  last error: %s\n", msg);
    return strstr(msg, what) != NULL;
}

static void never_called(void *ctx, const polyraft_host_outcome *o) {
    (void)o;
    (*(int *)ctx)++;
}

TEST(nulls_and_bad_config) {
    polyraft_host_config cfg;
    polyraft_host *h = NULL;
    polyraft_host_info info;
    polyraft_host_session s;
    polyraft_buffer *b = NULL;
    polyraft_buffer *err = NULL;
    char msg[128];
    size_t n = 0;
    int calls = 0;
    CHECK_RC(polyraft_host_transport_in_process_new(NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_config_init(NULL, 1), POLYRAFT_NULL_PARAMETER);
    CHECK_OK(polyraft_host_config_init(&cfg, 1));
    CHECK(cfg.tick_ms == 100 && cfg.election_ticks == 10 && cfg.quiesce && cfg.transport == NULL);
    CHECK_RC(polyraft_host_new(NULL, &h, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_new(&cfg, NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_new(&cfg, &h, &err), POLYRAFT_NULL_PARAMETER); /* no transport */
    runner_error_text(err, msg, sizeof msg);
    CHECK(strstr(msg, "transport") != NULL);
    cfg.transport = net;
    cfg.host_id = 0;
    CHECK_RC(polyraft_host_new(&cfg, &h, NULL), POLYRAFT_INVALID_CONFIG);
    cfg.host_id = 1;
    cfg.tick_ms = 0;
    CHECK_RC(polyraft_host_new(&cfg, &h, NULL), POLYRAFT_INVALID_CONFIG);
    cfg.tick_ms = 10;
    cfg.heartbeat_ticks = cfg.election_ticks;
    CHECK_RC(polyraft_host_new(&cfg, &h, NULL), POLYRAFT_INVALID_CONFIG);
    cfg.heartbeat_ticks = 1;
    cfg.data_dir = "/proc/polyraft-cannot-create-this";
    CHECK_RC(polyraft_host_new(&cfg, &h, &err), POLYRAFT_STORAGE_FAILURE);
    runner_error_text(err, msg, sizeof msg);
    CHECK(msg[0] != 0 && strchr(msg, '\n') == NULL);
    CHECK(h == NULL); /* outputs only on success */
    /* Every call checks its handle. */
    CHECK_RC(polyraft_host_propose(NULL, 1, (const uint8_t *)"x", 1, 10, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_propose_async(NULL, 1, NULL, 0, 10, never_called, &calls), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_read(NULL, 1, NULL, 0, 10, &b), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_stale_read(NULL, 1, NULL, 0, &b), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_group_info(NULL, 1, &info), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_start_replica(NULL, 1, 1, NULL, 0, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_stop_replica(NULL, 1), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_change_membership(NULL, 1, POLYRAFT_HOST_ADD_REPLICA, 2, 2, 10), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_transfer_leader(NULL, 1, 2, 10), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_close(NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_last_error(NULL, msg, sizeof msg, &n), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_session_init(NULL, 1, 1), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_session_init(&s, 1, 0), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_host_session_completed(NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_results_push(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_writer_write(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_reader_read(NULL, NULL, 0, &n), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_transport_partition(NULL, 1, 2, true), POLYRAFT_NULL_PARAMETER);
    CHECK(calls == 0);
    /* Freeing NULL is a no-op. */
    polyraft_host_free(NULL);
    polyraft_host_transport_free(NULL);
}

TEST(bad_arguments_and_ids) {
    polyraft_host *h = host(1, NULL, 0);
    polyraft_host_state_machine sm, bad;
    polyraft_host_peer other = {2, 2};
    polyraft_host_session s;
    polyraft_host_info info;
    polyraft_host_peer members[1];
    polyraft_buffer *b = NULL;
    int destroyed = 0, calls = 0;
    size_t n = 0;
    CHECK(h != NULL);
    sm = kv_new(&destroyed);
    /* Refused vtables leave ctx with the caller: destroy is not called. */
    bad = sm;
    bad.abi_version = 99;
    CHECK_RC(start(h, 1, 1, &bad), POLYRAFT_ABI_MISMATCH);
    bad = sm;
    bad.lookup = NULL;
    CHECK_RC(start(h, 1, 1, &bad), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_host_start_replica(h, 1, 0, NULL, 0, &sm), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_host_start_replica(h, 1, 1, &other, 1, &sm), POLYRAFT_INVALID_ARGUMENT);
    CHECK(last_error_has(h, "not among the bootstrap members"));
    CHECK_RC(polyraft_host_start_replica(h, 1, 1, NULL, 3, &sm), POLYRAFT_NULL_PARAMETER);
    CHECK(destroyed == 0);
    CHECK_OK(start(h, 1, 1, &sm));
    CHECK(last_error_has(h, "")); /* cleared by the success */
    /* The same group twice: refused, the second ctx stays ours. */
    bad = kv_new(&destroyed);
    CHECK_RC(start(h, 1, 1, &bad), POLYRAFT_INVALID_ARGUMENT);
    CHECK(last_error_has(h, "already has a replica"));
    CHECK(destroyed == 0);
    kv_destroy(bad.ctx);
    CHECK(destroyed == 1);
    CHECK_OK(propose(h, 1, "a=1"));
    /* Unknown groups. */
    CHECK_RC(polyraft_host_propose(h, 42, (const uint8_t *)"x", 1, 1000, NULL), POLYRAFT_REJECTED);
    CHECK(last_error_has(h, "group 42"));
    CHECK_RC(polyraft_host_read(h, 42, NULL, 0, 1000, &b), POLYRAFT_REJECTED);
    CHECK_RC(polyraft_host_stale_read(h, 42, NULL, 0, &b), POLYRAFT_REJECTED);
    CHECK(b == NULL);
    CHECK_RC(polyraft_host_group_info(h, 42, &info), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_host_stop_replica(h, 42), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_host_change_membership(h, 42, POLYRAFT_HOST_ADD_REPLICA, 2, 2, 500), POLYRAFT_REJECTED);
    /* Bad arguments. */
    CHECK_RC(polyraft_host_change_membership(h, 1, 7, 2, 2, 500), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_host_change_membership(h, 1, POLYRAFT_HOST_ADD_REPLICA, 0, 2, 500), POLYRAFT_REJECTED);
    CHECK_RC(polyraft_host_transfer_leader(h, 1, 9, 300), POLYRAFT_REJECTED);
    CHECK_RC(polyraft_host_propose(h, 1, NULL, 5, 500, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_propose_async(h, 1, (const uint8_t *)"x", 1, 500, NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_group_members(h, 1, false, NULL, 1, &n), POLYRAFT_NULL_PARAMETER);
    CHECK_OK(polyraft_host_group_members(h, 1, false, members, 1, &n));
    CHECK(n == 1 && members[0].replica == 1 && members[0].host == 1);
    memset(&s, 0, sizeof s);
    CHECK_RC(polyraft_host_propose_session(h, &s, (const uint8_t *)"x", 1, 500, NULL), POLYRAFT_INVALID_ARGUMENT);
    CHECK_OK(polyraft_host_session_init(&s, 1, 5));
    s.responded_to = s.series;
    CHECK_RC(polyraft_host_propose_session(h, &s, (const uint8_t *)"x", 1, 500, NULL), POLYRAFT_INVALID_ARGUMENT);
    /* Stopping twice: the second finds nothing. */
    CHECK_OK(polyraft_host_stop_replica(h, 1));
    CHECK(destroyed == 2);
    CHECK_RC(polyraft_host_stop_replica(h, 1), POLYRAFT_INVALID_ARGUMENT);
    CHECK(calls == 0);
    polyraft_host_free(h);
}

TEST(calls_after_close) {
    polyraft_host *h = host(1, NULL, 0);
    polyraft_host_state_machine sm;
    polyraft_host_info info;
    polyraft_host_metrics m;
    polyraft_buffer *b = NULL;
    int destroyed = 0, calls = 0;
    uint64_t id = 0;
    CHECK(h != NULL);
    sm = kv_new(&destroyed);
    CHECK_OK(start(h, 1, 1, &sm));
    CHECK_OK(propose(h, 1, "a=1"));
    CHECK_OK(polyraft_host_close(h));
    CHECK(destroyed == 1); /* close destroys the state machines */
    CHECK_OK(polyraft_host_close(h)); /* again: a no-op */
    CHECK_RC(polyraft_host_propose(h, 1, (const uint8_t *)"x", 1, 500, &b), POLYRAFT_CLOSED);
    CHECK(last_error_has(h, "closed"));
    CHECK_RC(polyraft_host_propose_async(h, 1, (const uint8_t *)"x", 1, 500, never_called, &calls), POLYRAFT_CLOSED);
    CHECK_RC(polyraft_host_read_async(h, 1, NULL, 0, 500, never_called, &calls), POLYRAFT_CLOSED);
    CHECK_RC(polyraft_host_read(h, 1, NULL, 0, 500, &b), POLYRAFT_CLOSED);
    CHECK_RC(polyraft_host_stale_read(h, 1, NULL, 0, &b), POLYRAFT_CLOSED);
    CHECK_RC(polyraft_host_group_info(h, 1, &info), POLYRAFT_CLOSED);
    CHECK_RC(polyraft_host_get_metrics(h, &m), POLYRAFT_CLOSED);
    CHECK_RC(polyraft_host_stop_replica(h, 1), POLYRAFT_CLOSED);
    sm = kv_new(&destroyed);
    CHECK_RC(start(h, 1, 2, &sm), POLYRAFT_CLOSED);
    kv_destroy(sm.ctx); /* refused: still ours */
    CHECK(destroyed == 2);
    CHECK_RC(polyraft_host_transfer_leader_async(h, 1, 1, 500, never_called, &calls), POLYRAFT_CLOSED);
    CHECK_OK(polyraft_host_id(h, &id)); /* plain facts still answer */
    CHECK(id == 1 && b == NULL && calls == 0);
    polyraft_host_free(h);
    /* A host id can be used again once the old host is gone. */
    h = host(1, NULL, 0);
    CHECK(h != NULL);
    polyraft_host_free(h);
}

/* Inside a completion: blocking calls, close and free are refused. */
typedef struct reentry {
    polyraft_host *h;
    volatile int done;
    polyraft_result propose_rc, close_rc, info_rc, async_rc;
    volatile int nested;
} reentry;

static void nested_done(void *ctx, const polyraft_host_outcome *o) {
    reentry *r = ctx;
    (void)o;
    pthread_mutex_lock(&mu);
    r->nested = 1;
    pthread_mutex_unlock(&mu);
}

static void reenter(void *ctx, const polyraft_host_outcome *o) {
    reentry *r = ctx;
    polyraft_host_info info;
    (void)o;
    r->propose_rc = polyraft_host_propose(r->h, 1, (const uint8_t *)"x=y", 3, 100, NULL);
    r->close_rc = polyraft_host_close(r->h);
    r->info_rc = polyraft_host_group_info(r->h, 1, &info);
    polyraft_host_free(r->h); /* ignored here */
    r->async_rc = polyraft_host_stale_read_async(r->h, 1, (const uint8_t *)"a", 1, nested_done, r);
    pthread_mutex_lock(&mu);
    r->done = 1;
    pthread_mutex_unlock(&mu);
}

TEST(reentry_from_callbacks_is_refused) {
    polyraft_host *h = host(1, NULL, 0);
    polyraft_host_state_machine sm;
    reentry r;
    int i, destroyed = 0;
    CHECK(h != NULL);
    sm = kv_new(&destroyed);
    CHECK_OK(start(h, 1, 1, &sm));
    CHECK_OK(propose(h, 1, "a=1"));
    memset(&r, 0, sizeof r);
    r.h = h;
    CHECK_OK(polyraft_host_stale_read_async(h, 1, (const uint8_t *)"a", 1, reenter, &r));
    for (i = 0; i < 500 && !(locked_read(&r.done) && locked_read(&r.nested)); i++) sleep_ms(5);
    CHECK(locked_read(&r.done) && locked_read(&r.nested));
    CHECK(r.propose_rc == POLYRAFT_INVALID_STATE);
    CHECK(r.close_rc == POLYRAFT_INVALID_STATE);
    CHECK(r.info_rc == POLYRAFT_INVALID_STATE);
    CHECK(r.async_rc == POLYRAFT_OK);
    CHECK_OK(propose(h, 1, "still=alive"));
    polyraft_host_free(h);
    CHECK(destroyed == 1);
}

TEST(failing_state_machines) {
    polyraft_host *h = host(1, NULL, 4);
    polyraft_host_state_machine sm;
    polyraft_host_info info;
    polyraft_buffer *b = NULL;
    kv *m;
    int destroyed = 0, i;
    polyraft_result rc;
    char cmd[16];
    CHECK(h != NULL);
    /* apply fails: the replica stops (destroyed once), the proposal's
     * outcome is not OK, and the host goes on serving other groups. */
    sm = kv_new(&destroyed);
    m = sm.ctx;
    CHECK_OK(start(h, 1, 1, &sm));
    CHECK_OK(propose(h, 1, "a=1"));
    m->fail_apply = 1;
    rc = polyraft_host_propose(h, 1, (const uint8_t *)"b=2", 3, 2000, NULL);
    CHECK(rc == POLYRAFT_TIMED_OUT || rc == POLYRAFT_REJECTED);
    for (i = 0; i < 200 && polyraft_host_group_info(h, 1, &info) == POLYRAFT_OK; i++) sleep_ms(5);
    CHECK_RC(polyraft_host_group_info(h, 1, &info), POLYRAFT_INVALID_ARGUMENT);
    CHECK(destroyed == 1);
    /* apply pushing one result too few: the same. */
    sm = kv_new(&destroyed);
    CHECK_OK(start(h, 2, 2, &sm));
    CHECK_OK(propose(h, 2, "a=1"));
    ((kv *)sm.ctx)->short_results = 1;
    rc = polyraft_host_propose(h, 2, (const uint8_t *)"b=2", 3, 2000, NULL);
    CHECK(rc == POLYRAFT_TIMED_OUT || rc == POLYRAFT_REJECTED);
    for (i = 0; i < 200 && destroyed < 2; i++) sleep_ms(5);
    CHECK(destroyed == 2);
    /* lookup fails: the read is rejected and the replica stops. */
    sm = kv_new(&destroyed);
    CHECK_OK(start(h, 1, 3, &sm));
    CHECK_OK(propose(h, 3, "a=1"));
    ((kv *)sm.ctx)->fail_lookup = 1;
    CHECK_RC(polyraft_host_stale_read(h, 3, (const uint8_t *)"a", 1, &b), POLYRAFT_REJECTED);
    CHECK(b == NULL);
    for (i = 0; i < 200 && destroyed < 3; i++) sleep_ms(5);
    CHECK(destroyed == 3);
    /* snapshot fails: snapshots are skipped, proposals go on. */
    sm = kv_new(&destroyed);
    CHECK_OK(start(h, 1, 4, &sm));
    ((kv *)sm.ctx)->fail_snapshot = 1;
    for (i = 0; i < 12; i++) {
        snprintf(cmd, sizeof cmd, "s%d=%d", i, i);
        CHECK_OK(propose(h, 4, cmd));
    }
    CHECK_OK(polyraft_host_group_info(h, 4, &info));
    CHECK(info.snapshot_index == 0 && info.applied >= 12);
    /* The host itself is fine. */
    sm = kv_new(&destroyed);
    CHECK_OK(start(h, 1, 5, &sm));
    CHECK_OK(propose(h, 5, "ok=1"));
    polyraft_host_free(h);
    CHECK(destroyed == 5);
}

TEST(failing_restore_leaves_ctx_with_caller) {
    polyraft_host *h;
    polyraft_host_state_machine sm;
    polyraft_host_info info;
    polyraft_buffer *b = NULL;
    int destroyed = 0, i;
    char cmd[16], rm[96];
    strcpy(dir, "/tmp/polyraft-host-misuse-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    h = host(1, dir, 4);
    CHECK(h != NULL);
    sm = kv_new(&destroyed);
    CHECK_OK(start(h, 1, 1, &sm));
    for (i = 0; i < 10; i++) {
        snprintf(cmd, sizeof cmd, "r%d=%d", i, i);
        CHECK_OK(propose(h, 1, cmd));
    }
    CHECK_OK(polyraft_host_group_info(h, 1, &info));
    CHECK(info.snapshot_index > 0);
    polyraft_host_free(h);
    CHECK(destroyed == 1);
    /* Restarted from the directory with a restore that fails: refused, and
     * the ctx is still ours. */
    h = host(1, dir, 4);
    CHECK(h != NULL);
    sm = kv_new(&destroyed);
    ((kv *)sm.ctx)->fail_restore = 1;
    CHECK_RC(start(h, 1, 1, &sm), POLYRAFT_STORAGE_FAILURE);
    CHECK(last_error_has(h, "restore"));
    CHECK(destroyed == 1);
    ((kv *)sm.ctx)->fail_restore = 0;
    CHECK_OK(start(h, 1, 1, &sm)); /* the same ctx, now working */
    for (i = 0; i < 500; i++) { /* until the restarted member leads again */
        polyraft_result rc = polyraft_host_read(h, 1, (const uint8_t *)"r9", 2, 2000, &b);
        if (rc != POLYRAFT_REJECTED) {
            CHECK_OK(rc);
            break;
        }
        sleep_ms(10);
    }
    {
        const uint8_t *d = NULL;
        size_t len = 0;
        CHECK(b != NULL);
        CHECK_OK(polyraft_buffer_data(b, &d, &len));
        CHECK(len == 1 && d[0] == '9'); /* restored from the snapshot + log */
    }
    polyraft_buffer_free(b);
    polyraft_host_free(h);
    CHECK(destroyed == 2);
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    CHECK(system(rm) == 0);
}

/* The non-blocking start and stop report through their completion. */
typedef struct codes {
    volatile int n;
    polyraft_result last;
} codes;

static void record(void *ctx, const polyraft_host_outcome *o) {
    codes *c = ctx;
    pthread_mutex_lock(&mu);
    c->last = o->code;
    c->n++;
    pthread_mutex_unlock(&mu);
}

static int wait_n(codes *c, int n) {
    int i;
    for (i = 0; i < 1000 && locked_read(&c->n) < n; i++) sleep_ms(5);
    return locked_read(&c->n) == n;
}

TEST(async_start_and_stop) {
    polyraft_host *h = host(1, NULL, 0);
    polyraft_host_state_machine sm, again;
    polyraft_host_peer self = {1, 1};
    codes c;
    int destroyed = 0;
    CHECK(h != NULL);
    memset(&c, 0, sizeof c);
    sm = kv_new(&destroyed);
    CHECK_OK(polyraft_host_start_replica_async(h, 1, 1, &self, 1, &sm, record, &c));
    CHECK(wait_n(&c, 1) && c.last == POLYRAFT_OK);
    CHECK_OK(propose(h, 1, "a=1"));
    /* Refused later (the group runs already): the ctx stays ours. */
    again = kv_new(&destroyed);
    CHECK_OK(polyraft_host_start_replica_async(h, 1, 1, &self, 1, &again, record, &c));
    CHECK(wait_n(&c, 2) && c.last == POLYRAFT_INVALID_ARGUMENT);
    CHECK(destroyed == 0);
    kv_destroy(again.ctx);
    /* Refused now (bad vtable): no completion. */
    again = sm;
    again.abi_version = 0;
    CHECK_RC(polyraft_host_start_replica_async(h, 2, 1, &self, 1, &again, record, &c), POLYRAFT_ABI_MISMATCH);
    CHECK_RC(polyraft_host_start_replica_async(h, 2, 1, &self, 1, &sm, NULL, &c), POLYRAFT_NULL_PARAMETER);
    {
        polyraft_host_info info;
        memset(&info, 0, sizeof info);
        CHECK_OK(polyraft_host_group_info_async(h, 1, &info, record, &c));
        CHECK(wait_n(&c, 3) && c.last == POLYRAFT_OK);
        CHECK(info.group == 1 && info.replica == 1 && info.n_voters == 1 && info.applied >= 1);
        CHECK_OK(polyraft_host_group_info_async(h, 7, &info, record, &c));
        CHECK(wait_n(&c, 4) && c.last == POLYRAFT_INVALID_ARGUMENT);
        CHECK_RC(polyraft_host_group_info_async(h, 1, NULL, record, &c), POLYRAFT_NULL_PARAMETER);
    }
    CHECK_OK(polyraft_host_stop_replica_async(h, 1, record, &c));
    CHECK(wait_n(&c, 5) && c.last == POLYRAFT_OK);
    CHECK(destroyed == 2);
    CHECK_OK(polyraft_host_stop_replica_async(h, 1, record, &c));
    CHECK(wait_n(&c, 6) && c.last == POLYRAFT_INVALID_ARGUMENT);
    polyraft_host_free(h);
    CHECK(locked_read(&c.n) == 6);
}

/* The TCP transport: NULLs, bad settings, one host per transport, calls
 * that need TCP on an in-process host; then two hosts over loopback with
 * mutual TLS (dev certificates) replicate a group. */
TEST(tcp_transport) {
    polyraft_host_transport *t = NULL, *t2 = NULL;
    polyraft_host_config cfg;
    polyraft_host *h1 = NULL, *h2 = NULL, *other = NULL;
    polyraft_host_peer members[2] = {{1, 1}, {2, 2}};
    polyraft_host_state_machine sm;
    polyraft_buffer *b = NULL;
    polyraft_buffer *err = NULL;
    polyraft_result rc = POLYRAFT_REJECTED;
    const uint8_t *data = NULL;
    char certs[64], cert[128], key[128], ca[128], addr1[64], addr2[64], msg[256], rm[96];
    uint64_t ids[2] = {1, 2}, zero = 0;
    size_t n = 0;
    int i;
    strcpy(certs, "/tmp/polyraft-host-tcp-XXXXXX");
    CHECK(mkdtemp(certs) != NULL);
    CHECK_RC(polyraft_dev_certificates(NULL, ids, 2, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_dev_certificates(certs, &zero, 1, NULL), POLYRAFT_INVALID_ARGUMENT);
    CHECK_OK(polyraft_dev_certificates(certs, ids, 2, NULL));
    snprintf(cert, sizeof cert, "%s/host-1.pem", certs);
    snprintf(key, sizeof key, "%s/host-1.key", certs);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    CHECK_RC(polyraft_host_transport_tcp_new("127.0.0.1:0", cert, key, ca, NULL, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_transport_tcp_new(NULL, cert, key, ca, &t, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_transport_tcp_new("127.0.0.1:0", NULL, key, ca, &t, NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_transport_tcp_new("nowhere", cert, key, ca, &t, &err), POLYRAFT_INVALID_ARGUMENT);
    runner_error_text(err, msg, sizeof msg);
    err = NULL;
    CHECK(strstr(msg, "listen address") != NULL);
    CHECK_RC(polyraft_host_transport_tcp_new("127.0.0.1:0", "/nonexistent.pem", key, ca, &t, NULL), POLYRAFT_INVALID_ARGUMENT);
    CHECK(t == NULL);
    CHECK_RC(polyraft_host_transport_tcp_insecure_plaintext_new("127.0.0.1", &t, NULL), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_host_transport_add_peer(NULL, 2, "127.0.0.1:1", NULL), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_transport_add_peer(net, 2, "127.0.0.1:1", NULL), POLYRAFT_INVALID_ARGUMENT); /* in-process */
    CHECK_RC(polyraft_host_local_addr(NULL, addr1, sizeof addr1, &n), POLYRAFT_NULL_PARAMETER);
    CHECK_RC(polyraft_host_add_peer(NULL, 2, "127.0.0.1:1"), POLYRAFT_NULL_PARAMETER);
    other = host(9, NULL, 0); /* in-process */
    CHECK(other != NULL);
    CHECK_RC(polyraft_host_local_addr(other, addr1, sizeof addr1, &n), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_host_add_peer(other, 2, "127.0.0.1:1"), POLYRAFT_INVALID_ARGUMENT);
    polyraft_host_free(other);

    CHECK_OK(polyraft_host_transport_tcp_new("127.0.0.1:0", cert, key, ca, &t, NULL));
    CHECK_RC(polyraft_host_transport_add_peer(t, 0, "127.0.0.1:1", NULL), POLYRAFT_INVALID_ARGUMENT);
    CHECK_RC(polyraft_host_transport_partition(t, 1, 2, true), POLYRAFT_INVALID_ARGUMENT);
    snprintf(cert, sizeof cert, "%s/host-2.pem", certs);
    snprintf(key, sizeof key, "%s/host-2.key", certs);
    CHECK_OK(polyraft_host_transport_tcp_new("127.0.0.1:0", cert, key, ca, &t2, NULL));
    polyraft_host_config_init(&cfg, 1);
    cfg.transport = t;
    cfg.tick_ms = 10;
    CHECK_OK(polyraft_host_new(&cfg, &h1, NULL));
    CHECK_RC(polyraft_host_new(&cfg, &other, NULL), POLYRAFT_INVALID_STATE); /* one host per TCP transport */
    CHECK_RC(polyraft_host_transport_add_peer(t, 2, "127.0.0.1:1", NULL), POLYRAFT_INVALID_STATE);
    cfg.host_id = 2;
    cfg.transport = t2;
    CHECK_OK(polyraft_host_new(&cfg, &h2, NULL));
    polyraft_host_transport_free(t);
    polyraft_host_transport_free(t2);
    CHECK_OK(polyraft_host_local_addr(h1, addr1, sizeof addr1, &n));
    CHECK(n > 10 && strncmp(addr1, "127.0.0.1:", 10) == 0);
    CHECK_OK(polyraft_host_local_addr(h2, addr2, sizeof addr2, &n));
    CHECK_RC(polyraft_host_add_peer(h1, 0, addr2), POLYRAFT_INVALID_ARGUMENT);
    CHECK_OK(polyraft_host_add_peer(h1, 2, addr2));
    CHECK_OK(polyraft_host_add_peer(h2, 1, addr1));
    sm = kv_new(NULL);
    CHECK_OK(polyraft_host_start_replica(h1, 1, 1, members, 2, &sm));
    sm = kv_new(NULL);
    CHECK_OK(polyraft_host_start_replica(h2, 1, 2, members, 2, &sm));
    /* Until elected (the key is idempotent). Bounded by attempts, not
     * time: under valgrind a TLS handshake alone takes seconds. */
    for (i = 0; i < 3000 && rc != POLYRAFT_OK; i++) {
        rc = polyraft_host_propose(h2, 1, (const uint8_t *)"tls=on", 6, 1000, NULL);
        if (rc != POLYRAFT_OK) sleep_ms(20);
    }
    CHECK_OK(rc);
    rc = POLYRAFT_REJECTED;
    for (i = 0; i < 3000 && rc != POLYRAFT_OK; i++) {
        rc = polyraft_host_read(h1, 1, (const uint8_t *)"tls", 3, 1000, &b);
        if (rc != POLYRAFT_OK) sleep_ms(20);
    }
    CHECK_OK(rc);
    polyraft_buffer_data(b, &data, &n);
    CHECK(n == 2 && memcmp(data, "on", 2) == 0);
    polyraft_buffer_free(b);
    polyraft_host_free(h1);
    polyraft_host_free(h2);
    snprintf(rm, sizeof rm, "rm -rf %s", certs);
    CHECK(system(rm) == 0);
}

int main(void) {
    if (polyraft_host_transport_in_process_new(&net) != POLYRAFT_OK) return 2;
    RUN(nulls_and_bad_config);
    RUN(bad_arguments_and_ids);
    RUN(calls_after_close);
    RUN(reentry_from_callbacks_is_refused);
    RUN(failing_state_machines);
    RUN(failing_restore_leaves_ctx_with_caller);
    RUN(async_start_and_stop);
    RUN(tcp_transport);
    polyraft_host_transport_free(net);
    return RUNNER_DONE();
}
