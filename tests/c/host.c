/* The host from C: a 3-host in-process cluster running several groups.
 * Proposals with their results, sessions (a retry applies once), reads
 * (linearizable and stale), the non-blocking forms with completions,
 * group info, leader transfer, failover under a partition, membership
 * changes with a joining host, a replica restarted from its log, and a
 * whole host restarted from its data directory. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host_kv.h"
#include "runner.h"

#define GROUPS 4
#define TIMEOUT_MS 3000

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whether a buffer holds exactly `want` (NULL buffer: empty). */
static int buf_is(polyraft_buffer *b, const char *want) {
    const uint8_t *d = NULL;
    size_t n = 0;
    if (b != NULL && polyraft_buffer_data(b, &d, &n) != POLYRAFT_OK) return 0;
    return n == strlen(want) && (n == 0 || memcmp(d, want, n) == 0);
}

typedef struct cluster {
    polyraft_host_transport *net;
    polyraft_host *hosts[5]; /* index = host id; 0 unused */
    char dirs[5][64];
    int destroyed;
} cluster;

static polyraft_host *new_host(cluster *c, uint64_t id, int with_dir) {
    polyraft_host_config cfg;
    polyraft_host *h = NULL;
    polyraft_host_config_init(&cfg, id);
    cfg.transport = c->net;
    cfg.workers = 2;
    cfg.tick_ms = 10;
    cfg.election_ticks = 10;
    cfg.snapshot_entries = 16;
    cfg.compaction_overhead = 4;
    if (with_dir) {
        if (c->dirs[id][0] == '\0') {
            strcpy(c->dirs[id], "/tmp/polyraft-host-c-XXXXXX");
            if (mkdtemp(c->dirs[id]) == NULL) return NULL;
        }
        cfg.data_dir = c->dirs[id];
    }
    polyraft_buffer *err = NULL;
    if (polyraft_host_new(&cfg, &h, &err) != POLYRAFT_OK) {
        char msg[256];
        runner_error_text(err, msg, sizeof msg);
        printf("  polyraft_host_new: %s\n", msg);
        return NULL;
    }
    return h;
}

static int start_groups(cluster *c, uint64_t id) {
    polyraft_host_peer peers[3] = {{1, 1}, {2, 2}, {3, 3}};
    uint64_t g;
    for (g = 1; g <= GROUPS; g++) {
        polyraft_host_state_machine sm = kv_new(&c->destroyed);
        if (polyraft_host_start_replica(c->hosts[id], g, id, peers, 3, &sm) != POLYRAFT_OK) {
            kv_destroy(sm.ctx);
            return 0;
        }
    }
    return 1;
}

static int cluster_up(cluster *c, int with_dirs) {
    uint64_t id;
    memset(c, 0, sizeof *c);
    if (polyraft_host_transport_in_process_new(&c->net) != POLYRAFT_OK) return 0;
    for (id = 1; id <= 3; id++) {
        c->hosts[id] = new_host(c, id, with_dirs);
        if (c->hosts[id] == NULL || !start_groups(c, id)) return 0;
    }
    return 1;
}

static void remove_dir(const char *dir) {
    char cmd[128];
    if (dir[0] == '\0') return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("  could not remove %s\n", dir);
}

static void cluster_down(cluster *c) {
    int id;
    for (id = 1; id <= 4; id++) {
        polyraft_host_free(c->hosts[id]);
        c->hosts[id] = NULL;
    }
    polyraft_host_transport_free(c->net);
    for (id = 1; id <= 4; id++) remove_dir(c->dirs[id]);
}

/* Proposes until the outcome is known (retrying while rejected: no leader
 * yet, so certainly not applied). */
static polyraft_result propose(polyraft_host *h, uint64_t group, const char *cmd, polyraft_buffer **out) {
    double end = now_s() + 10;
    polyraft_result rc;
    do {
        rc = polyraft_host_propose(h, group, (const uint8_t *)cmd, strlen(cmd), TIMEOUT_MS, out);
        if (rc != POLYRAFT_REJECTED) return rc;
        sleep_ms(20);
    } while (now_s() < end);
    return rc;
}

/* Proposes through a session, retrying rejected and timed-out attempts
 * unchanged (a timed-out one may have been applied: the session makes the
 * retry apply at most once) until the outcome is known: the way to write
 * when a leader may be gone. */
static polyraft_result propose_once(polyraft_host *h, uint64_t group, const char *cmd) {
    static uint64_t next_client = 1000;
    polyraft_host_session s;
    double end = now_s() + 20;
    polyraft_result rc;
    if (polyraft_host_session_init(&s, group, ++next_client) != POLYRAFT_OK) return POLYRAFT_INVALID_ARGUMENT;
    do {
        rc = polyraft_host_propose_session(h, &s, (const uint8_t *)cmd, strlen(cmd), 500, NULL);
        if (rc != POLYRAFT_REJECTED && rc != POLYRAFT_TIMED_OUT) return rc;
        sleep_ms(20);
    } while (now_s() < end);
    return rc;
}

static polyraft_result read_lin(polyraft_host *h, uint64_t group, const char *key, polyraft_buffer **out) {
    double end = now_s() + 10;
    polyraft_result rc;
    do {
        rc = polyraft_host_read(h, group, (const uint8_t *)key, strlen(key), TIMEOUT_MS, out);
        if (rc != POLYRAFT_REJECTED && rc != POLYRAFT_TIMED_OUT) return rc;
        sleep_ms(20);
    } while (now_s() < end);
    return rc;
}

/* Waits until a stale read of `key` on `h` returns `want`. */
static int wait_stale(polyraft_host *h, uint64_t group, const char *key, const char *want) {
    double end = now_s() + 10;
    do {
        polyraft_buffer *b = NULL;
        int ok = polyraft_host_stale_read(h, group, (const uint8_t *)key, strlen(key), &b) == POLYRAFT_OK &&
                 buf_is(b, want);
        polyraft_buffer_free(b);
        if (ok) return 1;
        sleep_ms(20);
    } while (now_s() < end);
    return 0;
}

static uint64_t leader_of(cluster *c, uint64_t group) {
    double end = now_s() + 10;
    do {
        int id;
        for (id = 1; id <= 3; id++) {
            polyraft_host_info info;
            if (c->hosts[id] && polyraft_host_group_info(c->hosts[id], group, &info) == POLYRAFT_OK && info.is_leader)
                return info.replica;
        }
        sleep_ms(20);
    } while (now_s() < end);
    return 0;
}

TEST(proposals_reads_and_info) {
    cluster c;
    polyraft_buffer *b = NULL;
    polyraft_host_info info;
    polyraft_host_peer members[4];
    polyraft_host_metrics m;
    size_t n = 0;
    uint64_t g, id;
    char cmd[32], key[8];
    CHECK(cluster_up(&c, 0));
    /* Every group takes writes through every host (followers forward). */
    for (g = 1; g <= GROUPS; g++) {
        for (id = 1; id <= 3; id++) {
            snprintf(cmd, sizeof cmd, "k%u=v%u", (unsigned)g, (unsigned)id);
            CHECK_OK(propose(c.hosts[id], g, cmd, &b));
            snprintf(cmd, sizeof cmd, id == 1 ? "" : "v%u", (unsigned)(id - 1));
            CHECK(buf_is(b, cmd)); /* the old value */
            polyraft_buffer_free(b);
            b = NULL;
        }
    }
    /* Linearizable reads on every host see the last write; stale reads
     * catch up. */
    for (g = 1; g <= GROUPS; g++) {
        snprintf(key, sizeof key, "k%u", (unsigned)g);
        for (id = 1; id <= 3; id++) {
            CHECK_OK(read_lin(c.hosts[id], g, key, &b));
            CHECK(buf_is(b, "v3"));
            polyraft_buffer_free(b);
            b = NULL;
            CHECK(wait_stale(c.hosts[id], g, key, "v3"));
        }
    }
    /* A missing key reads as empty; a NULL result pointer discards. */
    CHECK_OK(read_lin(c.hosts[2], 1, "nope", &b));
    CHECK(buf_is(b, ""));
    polyraft_buffer_free(b);
    CHECK_OK(read_lin(c.hosts[2], 1, "k1", NULL));
    /* Group info and members. */
    CHECK_OK(polyraft_host_group_info(c.hosts[1], 2, &info));
    CHECK(info.group == 2 && info.replica == 1 && info.n_voters == 3 && info.n_learners == 0);
    CHECK(info.leader >= 1 && info.leader <= 3 && info.applied >= 3 && info.committed >= info.applied);
    CHECK_OK(polyraft_host_group_members(c.hosts[1], 2, false, members, 4, &n));
    CHECK(n == 3);
    for (id = 0; id < 3; id++) CHECK(members[id].replica == id + 1 && members[id].host == id + 1);
    CHECK_OK(polyraft_host_group_members(c.hosts[1], 2, false, NULL, 0, &n));
    CHECK(n == 3);
    CHECK_OK(polyraft_host_get_metrics(c.hosts[1], &m));
    CHECK(m.groups == GROUPS && m.proposals >= GROUPS);
    cluster_down(&c);
    CHECK(c.destroyed == 3 * GROUPS); /* every state machine destroyed once */
}

TEST(session_retry_applies_once) {
    cluster c;
    polyraft_host_session s;
    polyraft_buffer *b = NULL;
    polyraft_host_metrics m;
    double end;
    polyraft_result rc;
    CHECK(cluster_up(&c, 0));
    CHECK_OK(polyraft_host_session_init(&s, 3, 77));
    CHECK(s.series == 1 && s.responded_to == 0);
    CHECK_OK(propose(c.hosts[1], 3, "x=first", NULL));
    end = now_s() + 10;
    do {
        rc = polyraft_host_propose_session(c.hosts[2], &s, (const uint8_t *)"x=second", 8, TIMEOUT_MS, &b);
        if (rc == POLYRAFT_REJECTED) sleep_ms(20);
    } while (rc == POLYRAFT_REJECTED && now_s() < end);
    CHECK_RC(rc, POLYRAFT_OK);
    CHECK(buf_is(b, "first"));
    polyraft_buffer_free(b);
    b = NULL;
    CHECK_OK(propose(c.hosts[1], 3, "x=third", NULL));
    /* The client did not see the answer and retries: the session table
     * answers with the first result, and x is not set again. */
    CHECK_OK(polyraft_host_propose_session(c.hosts[3], &s, (const uint8_t *)"x=second", 8, TIMEOUT_MS, &b));
    CHECK(buf_is(b, "first"));
    polyraft_buffer_free(b);
    b = NULL;
    CHECK_OK(read_lin(c.hosts[1], 3, "x", &b));
    CHECK(buf_is(b, "third"));
    polyraft_buffer_free(b);
    b = NULL;
    CHECK_OK(polyraft_host_get_metrics(c.hosts[1], &m));
    /* The next series applies again. */
    CHECK_OK(polyraft_host_session_completed(&s));
    CHECK(s.series == 2 && s.responded_to == 1);
    CHECK_OK(polyraft_host_propose_session(c.hosts[1], &s, (const uint8_t *)"x=fourth", 8, TIMEOUT_MS, &b));
    CHECK(buf_is(b, "third"));
    polyraft_buffer_free(b);
    cluster_down(&c);
}

/* Completions of the non-blocking calls, counted under a lock. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok, rejected, timed_out;
    int blocking_rc; /* what a blocking call inside the callback returned */
    polyraft_host *host;
} waiter;

static void on_done(void *ctx, const polyraft_host_outcome *o) {
    waiter *w = ctx;
    polyraft_result rc = POLYRAFT_OK;
    if (w->host) /* blocking calls are refused on a host thread */
        rc = polyraft_host_propose(w->host, 1, (const uint8_t *)"a=b", 3, 10, NULL);
    pthread_mutex_lock(&w->mu);
    if (w->host) w->blocking_rc = rc;
    w->done++;
    if (o->code == POLYRAFT_OK) w->ok++;
    if (o->code == POLYRAFT_REJECTED) w->rejected++;
    if (o->code == POLYRAFT_TIMED_OUT) w->timed_out++;
    if (o->code != POLYRAFT_OK && o->detail[0] == '\0') w->ok = -1000; /* a failure must say why */
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int wait_done(waiter *w, int n) {
    int got;
    double end = now_s() + 15;
    pthread_mutex_lock(&w->mu);
    while (w->done < n && now_s() < end) {
        pthread_mutex_unlock(&w->mu);
        sleep_ms(5);
        pthread_mutex_lock(&w->mu);
    }
    got = w->done;
    pthread_mutex_unlock(&w->mu);
    return got == n;
}

TEST(async_forms_complete_once) {
    cluster c;
    waiter w;
    int i;
    char cmd[32];
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    CHECK(cluster_up(&c, 0));
    CHECK(leader_of(&c, 1) != 0);
    CHECK_OK(propose(c.hosts[1], 1, "warm=up", NULL));
    for (i = 0; i < 50; i++) {
        snprintf(cmd, sizeof cmd, "a%d=%d", i, i);
        CHECK_OK(polyraft_host_propose_async(c.hosts[1 + i % 3], 1, (const uint8_t *)cmd, strlen(cmd), TIMEOUT_MS,
                                             on_done, &w));
    }
    CHECK(wait_done(&w, 50));
    CHECK(w.ok == 50);
    CHECK_OK(polyraft_host_read_async(c.hosts[2], 1, (const uint8_t *)"a7", 2, TIMEOUT_MS, on_done, &w));
    CHECK_OK(polyraft_host_stale_read_async(c.hosts[3], 1, (const uint8_t *)"a7", 2, on_done, &w));
    CHECK(wait_done(&w, 52));
    CHECK(w.ok == 52);
    /* A session proposal and a leader transfer, non-blocking. */
    {
        polyraft_host_session s;
        uint64_t leader = leader_of(&c, 1), target = leader % 3 + 1;
        CHECK_OK(polyraft_host_session_init(&s, 1, 5));
        CHECK_OK(polyraft_host_propose_session_async(c.hosts[2], &s, (const uint8_t *)"s=1", 3, TIMEOUT_MS, on_done, &w));
        CHECK(wait_done(&w, 53));
        CHECK(w.ok == 53);
        CHECK_OK(polyraft_host_transfer_leader_async(c.hosts[leader], 1, target, TIMEOUT_MS, on_done, &w));
        CHECK(wait_done(&w, 54));
        CHECK(w.ok == 54);
        CHECK(leader_of(&c, 1) == target);
    }
    /* Rejected: no replica of group 99 here. */
    CHECK_OK(polyraft_host_propose_async(c.hosts[1], 99, (const uint8_t *)"x", 1, TIMEOUT_MS, on_done, &w));
    CHECK(wait_done(&w, 55));
    CHECK(w.rejected == 1);
    /* A blocking call from a completion is refused, not a deadlock. */
    w.host = c.hosts[1];
    CHECK_OK(polyraft_host_stale_read_async(c.hosts[1], 1, (const uint8_t *)"a1", 2, on_done, &w));
    CHECK(wait_done(&w, 56));
    CHECK(w.blocking_rc == POLYRAFT_INVALID_STATE);
    w.host = NULL;
    /* Operations still waiting when the host closes complete then. */
    CHECK_OK(polyraft_host_change_membership_async(c.hosts[1], 2, POLYRAFT_HOST_ADD_REPLICA, 9, 9, 60000, on_done,
                                                   &w));
    cluster_down(&c);
    CHECK(wait_done(&w, 57));
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
}

TEST(transfer_and_failover) {
    cluster c;
    polyraft_host_info info;
    uint64_t leader, target, other, id;
    polyraft_buffer *b = NULL;
    CHECK(cluster_up(&c, 0));
    leader = leader_of(&c, 2);
    CHECK(leader != 0);
    target = leader % 3 + 1;
    CHECK_OK(polyraft_host_transfer_leader(c.hosts[leader], 2, target, TIMEOUT_MS));
    CHECK_OK(polyraft_host_group_info(c.hosts[leader], 2, &info));
    CHECK(info.leader == target);
    CHECK_OK(propose(c.hosts[leader], 2, "after=transfer", NULL));
    /* Cut the leader off: the others elect a new one and keep serving. */
    for (id = 1; id <= 3; id++)
        if (id != target) CHECK_OK(polyraft_host_transport_partition(c.net, target, id, true));
    other = target % 3 + 1;
    CHECK_OK(polyraft_host_report_host_down(c.hosts[other], target, NULL));
    CHECK_OK(propose_once(c.hosts[other], 2, "during=partition"));
    CHECK_OK(polyraft_host_group_info(c.hosts[other], 2, &info));
    CHECK(info.leader != target && info.leader != 0);
    for (id = 1; id <= 3; id++)
        if (id != target) CHECK_OK(polyraft_host_transport_partition(c.net, target, id, false));
    /* Healed: the old leader catches up. */
    CHECK(wait_stale(c.hosts[target], 2, "during", "partition"));
    CHECK_OK(read_lin(c.hosts[target], 2, "during", &b));
    CHECK(buf_is(b, "partition"));
    polyraft_buffer_free(b);
    cluster_down(&c);
}

TEST(membership_and_replica_restart) {
    cluster c;
    polyraft_host_info info;
    polyraft_host_peer learners[2];
    polyraft_host_state_machine sm;
    size_t n = 0;
    int i;
    char cmd[32];
    CHECK(cluster_up(&c, 0));
    for (i = 0; i < 40; i++) { /* past two snapshots (every 16 entries) */
        snprintf(cmd, sizeof cmd, "m%d=%d", i, i);
        CHECK_OK(propose(c.hosts[1 + i % 3], 4, cmd, NULL));
    }
    /* A fourth host joins group 4 as a learner, catches up (by snapshot:
     * the log was compacted), then becomes a voter and leaves again. */
    c.hosts[4] = new_host(&c, 4, 0);
    CHECK(c.hosts[4] != NULL);
    CHECK_OK(polyraft_host_change_membership(c.hosts[2], 4, POLYRAFT_HOST_ADD_LEARNER, 4, 4, TIMEOUT_MS));
    sm = kv_new(&c.destroyed);
    CHECK_OK(polyraft_host_start_replica(c.hosts[4], 4, 4, NULL, 0, &sm));
    CHECK(wait_stale(c.hosts[4], 4, "m39", "39"));
    CHECK_OK(polyraft_host_group_members(c.hosts[1], 4, true, learners, 2, &n));
    CHECK(n == 1 && learners[0].replica == 4 && learners[0].host == 4);
    CHECK_OK(polyraft_host_change_membership(c.hosts[1], 4, POLYRAFT_HOST_ADD_REPLICA, 4, 4, TIMEOUT_MS));
    CHECK_OK(polyraft_host_group_info(c.hosts[1], 4, &info));
    CHECK(info.n_voters == 4 && info.n_learners == 0);
    CHECK_OK(propose(c.hosts[4], 4, "from=four", NULL));
    CHECK_OK(polyraft_host_change_membership(c.hosts[3], 4, POLYRAFT_HOST_REMOVE_REPLICA, 4, 0, TIMEOUT_MS));
    CHECK_OK(polyraft_host_group_info(c.hosts[3], 4, &info));
    CHECK(info.n_voters == 3);
    /* A replica stopped and started again recovers from the host's log and
     * catches up with what it missed. */
    CHECK_OK(polyraft_host_stop_replica(c.hosts[3], 4));
    CHECK_RC(polyraft_host_stale_read(c.hosts[3], 4, (const uint8_t *)"m1", 2, NULL), POLYRAFT_REJECTED);
    CHECK_OK(propose_once(c.hosts[1], 4, "while=stopped"));
    sm = kv_new(&c.destroyed);
    CHECK_OK(polyraft_host_start_replica(c.hosts[3], 4, 3, NULL, 0, &sm));
    CHECK(wait_stale(c.hosts[3], 4, "while", "stopped"));
    CHECK(wait_stale(c.hosts[3], 4, "m0", "0"));
    cluster_down(&c);
}

/* A witness (docs/witness.md): joins group 3 on a fourth host after the log
 * was compacted (a snapshot without data), keeps no state machine (client
 * calls on it are rejected), never leads, and leaves. */
TEST(witness_joins_and_leaves) {
    cluster c;
    polyraft_host_info info;
    int i;
    char cmd[32];
    CHECK(cluster_up(&c, 0));
    for (i = 0; i < 40; i++) {
        snprintf(cmd, sizeof cmd, "w%d=%d", i, i);
        CHECK_OK(propose(c.hosts[1 + i % 3], 3, cmd, NULL));
    }
    c.hosts[4] = new_host(&c, 4, 0);
    CHECK(c.hosts[4] != NULL);
    CHECK_OK(polyraft_host_start_witness(c.hosts[4], 3, 4));
    CHECK_OK(polyraft_host_add_witness(c.hosts[2], 3, 4, 4, TIMEOUT_MS));
    CHECK_OK(polyraft_host_group_info(c.hosts[2], 3, &info));
    CHECK(info.n_voters == 4 && info.n_witnesses == 1 && !info.is_witness);
    for (i = 0; i < 500; i++) {
        CHECK_OK(polyraft_host_group_info(c.hosts[4], 3, &info));
        if (info.applied >= 41 && info.n_witnesses == 1) break;
        sleep_ms(10);
    }
    CHECK(info.applied >= 41 && info.is_witness && !info.is_leader);
    CHECK_RC(polyraft_host_propose(c.hosts[4], 3, (const uint8_t *)"x=1", 3, TIMEOUT_MS, NULL), POLYRAFT_REJECTED);
    CHECK_RC(polyraft_host_stale_read(c.hosts[4], 3, (const uint8_t *)"w1", 2, NULL), POLYRAFT_REJECTED);
    /* A data replica cannot become a witness. */
    CHECK_RC(polyraft_host_add_witness(c.hosts[1], 3, 2, 2, TIMEOUT_MS), POLYRAFT_REJECTED);
    CHECK_OK(polyraft_host_change_membership(c.hosts[1], 3, POLYRAFT_HOST_REMOVE_REPLICA, 4, 0, TIMEOUT_MS));
    CHECK_OK(polyraft_host_group_info(c.hosts[1], 3, &info));
    CHECK(info.n_voters == 3 && info.n_witnesses == 0);
    cluster_down(&c);
}

TEST(host_restart_from_data_dir) {
    cluster c;
    polyraft_buffer *b = NULL;
    int i;
    char cmd[32];
    CHECK(cluster_up(&c, 1));
    for (i = 0; i < 24; i++) {
        snprintf(cmd, sizeof cmd, "d%d=%d", i, i);
        CHECK_OK(propose(c.hosts[1 + i % 3], 1, cmd, NULL));
    }
    CHECK(wait_stale(c.hosts[3], 1, "d23", "23"));
    /* Host 3 goes away; the others go on. */
    polyraft_host_free(c.hosts[3]);
    c.hosts[3] = NULL;
    CHECK_OK(propose_once(c.hosts[1], 1, "gone=3"));
    /* It comes back from its directory: the replicas recover from the log
     * and the latest snapshot (the peers given are ignored), then catch
     * up. */
    c.hosts[3] = new_host(&c, 3, 1);
    CHECK(c.hosts[3] != NULL);
    CHECK(start_groups(&c, 3));
    CHECK(wait_stale(c.hosts[3], 1, "d0", "0"));
    CHECK(wait_stale(c.hosts[3], 1, "gone", "3"));
    CHECK_OK(read_lin(c.hosts[3], 1, "d23", &b));
    CHECK(buf_is(b, "23"));
    polyraft_buffer_free(b);
    cluster_down(&c);
}

/* Blocking calls from several threads at once, on every host. */
typedef struct worker_arg {
    cluster *c;
    int id;
    int ok;
} worker_arg;

static void *proposer(void *p) {
    worker_arg *a = p;
    char cmd[32];
    int i;
    for (i = 0; i < 40; i++) {
        polyraft_host *h = a->c->hosts[1 + (a->id + i) % 3];
        snprintf(cmd, sizeof cmd, "t%d_%d=%d", a->id, i, i);
        if (propose(h, (uint64_t)(1 + i % GROUPS), cmd, NULL) == POLYRAFT_OK) a->ok++;
        if (i % 8 == 0 && read_lin(h, (uint64_t)(1 + i % GROUPS), "k", NULL) != POLYRAFT_OK) a->ok = -1000;
    }
    return NULL;
}

TEST(concurrent_callers) {
    cluster c;
    pthread_t t[4];
    worker_arg args[4];
    int i;
    polyraft_buffer *b = NULL;
    CHECK(cluster_up(&c, 0));
    for (i = 0; i < 4; i++) {
        args[i].c = &c;
        args[i].id = i;
        args[i].ok = 0;
        CHECK(pthread_create(&t[i], NULL, proposer, &args[i]) == 0);
    }
    for (i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (i = 0; i < 4; i++) CHECK(args[i].ok == 40);
    CHECK_OK(read_lin(c.hosts[3], 1 + 39 % GROUPS, "t3_39", &b));
    CHECK(buf_is(b, "39"));
    polyraft_buffer_free(b);
    cluster_down(&c);
}

int main(void) {
    RUN(proposals_reads_and_info);
    RUN(session_retry_applies_once);
    RUN(async_forms_complete_once);
    RUN(transfer_and_failover);
    RUN(membership_and_replica_restart);
    RUN(witness_joins_and_leaves);
    RUN(host_restart_from_data_dir);
    RUN(concurrent_callers);
    return RUNNER_DONE();
}
