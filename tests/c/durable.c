/* The durable storage through the C API.
 *
 * A three-node cluster whose nodes each keep their log in a
 * polyraft_durable_storage in a temporary directory: it elects a leader,
 * replicates entries, stops a follower and reopens it from its directory
 * (the recovery report checked) so that it catches up, catches another one
 * up with a snapshot after the leader compacted its log (deleting old
 * segment files), then restarts the whole cluster from disk and checks that
 * every committed entry is still there. Then misuse: NULL arguments, a
 * directory that cannot be created, a damaged closed segment (refused with
 * POLYRAFT_CORRUPT), a torn tail (cut off and reported), the storage's own
 * error codes, and async storage writes. Every temporary directory is
 * removed, whatever happens. */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXN 4 /* node ids 1..3 */
#define MAXIDS 8
#define SEGMENT_BYTES 8192
#define HARNESS_BATCH 50

#include "cluster_harness.h"

/* The detail text of the last call on a durable storage handle. */
static const char *last_error_of(const polyraft_durable_storage *ds) {
    static char buf[512];
    size_t n = 0;
    buf[0] = 0;
    if (polyraft_durable_storage_last_error(ds, buf, sizeof buf, &n) != POLYRAFT_OK || strlen(buf) != n) return "?";
    return buf;
}

/* The error buffer of the last open (NULL after a success). */
static polyraft_buffer *open_err;

/* The `error` argument of an open: frees the previous open's buffer. */
static polyraft_buffer **oerr(void) {
    polyraft_buffer_free(open_err);
    open_err = NULL;
    return &open_err;
}

/* The detail text of the last open ("" after a success). */
static const char *open_error(void) {
    static char buf[512];
    const uint8_t *p = NULL;
    size_t n = 0;
    buf[0] = 0;
    if (open_err == NULL) return buf;
    if (polyraft_buffer_data(open_err, &p, &n) != POLYRAFT_OK) return "?";
    if (n >= sizeof buf) n = sizeof buf - 1;
    if (n > 0) memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}

/* ---- temporary directories ---------------------------------------------- */

static int rm_rf(const char *path) {
    struct stat st;
    DIR *d;
    struct dirent *de;
    int rc = 0;
    if (lstat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    d = opendir(path);
    if (!d) return -1;
    while ((de = readdir(d)) != NULL) {
        char sub[1024];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        if (rm_rf(sub) != 0) rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0) rc = -1;
    return rc;
}

/* A fresh directory under $TMPDIR (or /tmp), or NULL. */
static char *make_temp_dir(char *buf, size_t len) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(buf, len, "%s/polyraft-durable-XXXXXX", tmp);
    return mkdtemp(buf);
}

/* The segment files of a storage directory, sorted (their names start with
   the hex sequence number, so this is the order they were written in). */
static size_t list_segments(const char *dir, char names[][64], size_t max) {
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0, i, j;
    if (!d) return 0;
    while ((de = readdir(d)) != NULL && n < max) {
        size_t len = strlen(de->d_name);
        if (len > 4 && len < 64 && strcmp(de->d_name + len - 4, ".wal") == 0) strcpy(names[n++], de->d_name);
    }
    closedir(d);
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[64];
            strcpy(t, names[j]);
            strcpy(names[j], names[j - 1]);
            strcpy(names[j - 1], t);
        }
    return n;
}

static long file_size(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return (long)st.st_size;
}

/* XORs `n` bytes at `off` with 0xff (twice restores them). */
static int flip_bytes(const char *path, long off, size_t n) {
    unsigned char b[64];
    size_t i;
    FILE *f = fopen(path, "r+b");
    H_CHECK(f != NULL && n <= sizeof b);
    if (fseek(f, off, SEEK_SET) != 0 || fread(b, 1, n, f) != n) {
        fclose(f);
        H_CHECK(!"cannot read the bytes to flip");
    }
    for (i = 0; i < n; i++) b[i] ^= 0xff;
    if (fseek(f, off, SEEK_SET) != 0 || fwrite(b, 1, n, f) != n) {
        fclose(f);
        H_CHECK(!"cannot write the flipped bytes");
    }
    H_CHECK(fclose(f) == 0);
    return 0;
}

static int append_garbage(const char *path, size_t n) {
    size_t i;
    FILE *f = fopen(path, "ab");
    H_CHECK(f != NULL);
    for (i = 0; i < n; i++) fputc(0xab, f);
    H_CHECK(fclose(f) == 0);
    return 0;
}

/* Storage handles a test opened, freed by the test's wrapper whatever
   happens (a failing check returns early). */
static polyraft_durable_storage *opened[16];

static void track(polyraft_durable_storage *ds) {
    size_t i;
    for (i = 0; i < sizeof opened / sizeof opened[0]; i++)
        if (!opened[i]) {
            opened[i] = ds;
            return;
        }
    fprintf(stderr, "too many open storages\n");
    exit(2);
}

static void release(polyraft_durable_storage *ds) {
    size_t i;
    for (i = 0; i < sizeof opened / sizeof opened[0]; i++)
        if (opened[i] == ds) opened[i] = NULL;
    polyraft_durable_storage_free(ds);
}

static void release_all(void) {
    size_t i;
    for (i = 0; i < sizeof opened / sizeof opened[0]; i++) {
        polyraft_durable_storage_free(opened[i]);
        opened[i] = NULL;
    }
}

static polyraft_durable_options small_segments(uint64_t bytes) {
    polyraft_durable_options o;
    polyraft_durable_options_init(&o);
    o.segment_bytes = bytes;
    return o;
}

static polyraft_config quiet_config(uint64_t id, uint64_t applied) {
    return harness_config(id, applied, 16 * 1024);
}

/* ---- the cluster ---------------------------------------------------------- */

typedef struct {
    uint64_t id;
    char dir[512];
    polyraft_node *node;            /* NULL when stopped */
    polyraft_durable_storage *ds;   /* NULL when stopped */
    polyraft_recovery_report report; /* of the last open */
    uint64_t applied;
    uint64_t count, sum;            /* the state machine */
    uint64_t voters[MAXIDS];        /* configuration as applied */
    size_t nvoters;
    int snaps;                      /* snapshots received in a Ready */
} dnode;

static dnode nodes[MAXN];
static char base_dir[256];

static void set_voters(dnode *n, const polyraft_conf_state *cs) {
    n->nvoters = cs->voters_len < MAXIDS ? cs->voters_len : MAXIDS;
    if (n->nvoters) memcpy(n->voters, cs->voters, n->nvoters * sizeof(uint64_t));
}

static void restore(dnode *n, const polyraft_snapshot *snap) {
    n->count = n->sum = 0;
    if (snap->data_len == 16) {
        memcpy(&n->count, snap->data, 8);
        memcpy(&n->sum, snap->data + 8, 8);
    }
    n->applied = snap->index;
    set_voters(n, &snap->conf_state);
}

static int apply_entry(dnode *n, const polyraft_entry *e) {
    if (e->index <= n->applied) return 0;
    H_CHECK(e->index == n->applied + 1);
    if (e->entry_type == POLYRAFT_ENTRY_NORMAL) {
        if (e->data_len > 0) {
            n->count++;
            n->sum = fnv(n->sum, e->data, e->data_len);
        }
    } else {
        polyraft_conf_state cs;
        H_OK(polyraft_node_apply_conf_change(n->node, e->entry_type, e->data, e->data_len, &cs));
        set_voters(n, &cs);
    }
    n->applied = e->index;
    return 0;
}

/* One Ready, the durable way: persist it first, then send, apply, advance. */
static int handle_ready(dnode *n) {
    const polyraft_ready *rd;
    const polyraft_snapshot *snap;
    const polyraft_entry *ents;
    const polyraft_message *msgs;
    size_t k, len;

    H_OK(polyraft_node_ready(n->node, &rd));
    H_OK(polyraft_durable_storage_persist_ready(n->ds, rd));
    H_OK(polyraft_ready_snapshot(rd, &snap));
    if (snap) {
        H_CHECK(snap->data_len == 16);
        restore(n, snap);
        n->snaps++;
    }
    H_OK(polyraft_ready_messages(rd, &msgs, &len));
    for (k = 0; k < len; k++) enqueue(n->id, &msgs[k]);
    H_OK(polyraft_ready_committed_entries(rd, &ents, &len));
    for (k = 0; k < len; k++)
        if (apply_entry(n, &ents[k])) return 1;
    H_OK(polyraft_node_advance(n->node));
    return 0;
}

/* The harness's view of the node table: no node here is ever cut off. */
static polyraft_node *harness_node(uint64_t id) { return nodes[id].node; }
static bool harness_cut_off(uint64_t id) {
    (void)id;
    return false;
}
static int harness_handle_ready(uint64_t id) { return handle_ready(&nodes[id]); }

/* Ticks the leader (heartbeats carry the commit index) until every running
   node applied `want` entries, then checks they agree with the leader. */
static int converge(uint64_t leader, uint64_t want) {
    int i;
    uint64_t id;
    for (i = 0; i < 100; i++) {
        bool all = true;
        for (id = 1; id < MAXN; id++)
            if (nodes[id].node && nodes[id].count != want) all = false;
        if (all) break;
        H_OK(polyraft_node_tick(nodes[leader].node));
        if (pump()) return 1;
    }
    for (id = 1; id < MAXN; id++) {
        if (!nodes[id].node) continue;
        if (check_state_machine(id, nodes[id].count, nodes[id].sum, want, nodes[leader].sum)) return 1;
    }
    return 0;
}

/* Opens node `id`'s storage (creating it on first use), restores the state
   machine from the recovered snapshot and creates the node over it. */
static int start_node(uint64_t id) {
    dnode *n = &nodes[id];
    polyraft_durable_options opts = small_segments(SEGMENT_BYTES);
    polyraft_owned_snapshot *os = NULL;
    const polyraft_snapshot *snap;
    polyraft_config cfg;
    polyraft_result rc;

    n->id = id;
    snprintf(n->dir, sizeof n->dir, "%s/node%llu", base_dir, (unsigned long long)id);
    memset(&n->report, 0, sizeof n->report);
    H_OK(polyraft_durable_storage_open(n->dir, &opts, &n->ds, &n->report, oerr()));
    H_OK(polyraft_durable_storage_snapshot(n->ds, &os));
    snap = polyraft_owned_snapshot_view(os);
    rc = snap != NULL ? POLYRAFT_OK : POLYRAFT_NULL_PARAMETER;
    if (rc == POLYRAFT_OK) {
        restore(n, snap);
        if (snap->index != n->report.snapshot_index) rc = POLYRAFT_INVALID_STATE;
    }
    polyraft_owned_snapshot_free(os);
    H_OK(rc);
    n->snaps = 0;
    cfg = quiet_config(id, n->applied);
    H_OK(polyraft_node_new_durable(&cfg, n->ds, &n->node, NULL));
    return 0;
}

/* Frees the node and its storage, as a crash-free shutdown would. */
static void stop_node(uint64_t id) {
    polyraft_node_free(nodes[id].node);
    polyraft_durable_storage_free(nodes[id].ds);
    nodes[id].node = NULL;
    nodes[id].ds = NULL;
}

static void teardown_cluster(void) {
    uint64_t id;
    for (id = 1; id < MAXN; id++) {
        stop_node(id);
        memset(&nodes[id], 0, sizeof nodes[id]);
    }
    drop_queue();
    proposed = 0;
}

static int snapshot_and_compact(uint64_t id) {
    dnode *n = &nodes[id];
    polyraft_conf_state cs;
    uint8_t data[16];
    memset(&cs, 0, sizeof cs);
    cs.voters = n->voters;
    cs.voters_len = n->nvoters;
    memcpy(data, &n->count, 8);
    memcpy(data + 8, &n->sum, 8);
    H_OK(polyraft_durable_storage_create_snapshot(n->ds, n->applied, &cs, data, sizeof data));
    H_OK(polyraft_durable_storage_compact(n->ds, n->applied));
    return 0;
}

static int cluster_scenario(void) {
    polyraft_peer peers[3];
    polyraft_durable_stats stats;
    polyraft_hard_state hs_before, hs_after;
    uint64_t id, leader, v, last3, last[MAXN], want_sum;
    int i;

    /* Three new storages, three new nodes, bootstrapped. */
    memset(peers, 0, sizeof peers);
    for (i = 0; i < 3; i++) peers[i].id = (uint64_t)i + 1;
    for (id = 1; id <= 3; id++) {
        if (start_node(id)) return 1;
        H_CHECK(nodes[id].report.created && nodes[id].report.last_index == 0);
        H_CHECK(!nodes[id].report.truncated && nodes[id].report.snapshot_index == 0);
        H_OK(polyraft_node_bootstrap(nodes[id].node, peers, 3));
    }
    if (pump()) return 1;
    H_OK(polyraft_node_campaign(nodes[1].node));
    if (pump()) return 1;
    H_CHECK(leader_of() == 1);
    leader = 1;
    for (id = 1; id <= 3; id++) H_CHECK(nodes[id].nvoters == 3);

    /* 1,000 entries, every Ready persisted before its messages go out. */
    if (propose_n(leader, 1000)) return 1;
    if (converge(leader, 1000)) return 1;
    stats = polyraft_durable_storage_stats(nodes[1].ds);
    printf("  leader: %llu readies, %llu fsyncs (%llu of directories), %llu bytes, %llu segments\n",
           (unsigned long long)stats.readies, (unsigned long long)stats.fsyncs,
           (unsigned long long)stats.dir_fsyncs, (unsigned long long)stats.bytes_written,
           (unsigned long long)stats.segments);
    H_CHECK(stats.readies > 0 && stats.fsyncs > 0 && stats.fsyncs <= stats.readies + 4 * stats.segments_created + 4);
    H_CHECK(stats.segments_created > 1 && stats.segments == stats.segments_created);
    H_CHECK(stats.bytes_written > 1000 * 14);

    /* Stop follower 3; the others go on without it. */
    H_OK(polyraft_durable_storage_last_index(nodes[3].ds, &last3));
    hs_before = polyraft_durable_storage_hard_state(nodes[3].ds);
    H_CHECK(last3 >= 1003);
    stop_node(3);
    if (propose_n(leader, 200)) return 1;
    if (converge(leader, 1200)) return 1;

    /* Reopen node 3 from its directory: everything it had acknowledged. */
    if (start_node(3)) return 1;
    H_CHECK(!nodes[3].report.created && !nodes[3].report.truncated);
    H_CHECK(nodes[3].report.last_index == last3 && nodes[3].report.first_index == 1);
    H_CHECK(nodes[3].report.snapshot_index == 0 && nodes[3].report.segments > 1);
    H_CHECK(nodes[3].report.records > 0 && nodes[3].report.dropped_bytes == 0);
    hs_after = polyraft_durable_storage_hard_state(nodes[3].ds);
    H_CHECK(hs_after.term == hs_before.term && hs_after.vote == hs_before.vote && hs_after.commit == hs_before.commit);
    {
        /* The reason accessors are empty when nothing was cut. */
        char text[64];
        size_t n = 99;
        H_OK(polyraft_durable_storage_truncation_reason(nodes[3].ds, text, sizeof text, &n));
        H_CHECK(n == 0 && text[0] == 0);
        H_OK(polyraft_durable_storage_truncated_segment(nodes[3].ds, text, sizeof text, &n));
        H_CHECK(n == 0);
    }
    /* It replays its committed entries and catches up. */
    if (converge(leader, 1200)) return 1;
    H_CHECK(nodes[3].snaps == 0);
    if (propose_n(leader, 10)) return 1;
    if (converge(leader, 1210)) return 1;

    /* Node 2 stops; the leader snapshots and compacts, so node 2 can only
       catch up through a snapshot, which its durable storage installs. */
    stop_node(2);
    if (propose_n(leader, 90)) return 1;
    if (converge(leader, 1300)) return 1;
    if (snapshot_and_compact(leader)) return 1;
    H_OK(polyraft_durable_storage_first_index(nodes[leader].ds, &v));
    H_CHECK(v == nodes[leader].applied + 1);
    stats = polyraft_durable_storage_stats(nodes[leader].ds);
    H_CHECK(stats.segments_deleted > 0 && stats.segments < stats.segments_created);
    H_RC(polyraft_durable_storage_term(nodes[leader].ds, 5, &v), POLYRAFT_STORAGE_COMPACTED);
    if (start_node(2)) return 1;
    H_CHECK(!nodes[2].report.created && nodes[2].report.snapshot_index == 0);
    if (converge(leader, 1300)) return 1;
    H_CHECK(nodes[2].snaps == 1);
    H_OK(polyraft_durable_storage_first_index(nodes[2].ds, &v));
    H_CHECK(v > 1000);
    if (propose_n(leader, 100)) return 1;
    if (converge(leader, 1400)) return 1;

    /* The whole cluster restarts from disk. */
    want_sum = nodes[leader].sum;
    for (id = 1; id <= 3; id++) H_OK(polyraft_durable_storage_last_index(nodes[id].ds, &last[id]));
    for (id = 1; id <= 3; id++) stop_node(id);
    while (queue_n) free(queue[--queue_n].bytes);
    for (id = 1; id <= 3; id++) {
        if (start_node(id)) return 1;
        H_CHECK(!nodes[id].report.created && !nodes[id].report.truncated);
        H_CHECK(nodes[id].report.last_index == last[id]);
        H_CHECK(nodes[id].report.removed_files == 0);
    }
    /* Nodes 1 and 2 restart from their snapshot, node 3 from index 0. */
    H_CHECK(nodes[1].report.snapshot_index > 1000 && nodes[2].report.snapshot_index > 1000);
    H_CHECK(nodes[3].report.snapshot_index == 0);
    if (pump()) return 1;
    if (elect(&leader)) return 1;
    if (converge(leader, 1400)) return 1;
    H_CHECK(nodes[leader].sum == want_sum);
    for (id = 1; id <= 3; id++) H_CHECK(nodes[id].count == 1400 && nodes[id].sum == want_sum);
    if (propose_n(leader, 10)) return 1;
    if (converge(leader, 1410)) return 1;
    return 0;
}

/* Runs `body` with a fresh base directory, then frees everything and
   removes the directory. */
static int with_temp_dir(int (*body)(void)) {
    int r;
    if (!make_temp_dir(base_dir, sizeof base_dir)) {
        printf("  mkdtemp failed\n");
        return 1;
    }
    r = body();
    teardown_cluster();
    release_all();
    if (rm_rf(base_dir) != 0) {
        printf("  could not remove %s\n", base_dir);
        r = 1;
    }
    return r;
}

TEST(three_node_cluster_on_disk) {
    CHECK(with_temp_dir(cluster_scenario) == 0);
}

/* ---- misuse ---------------------------------------------------------------- */

static int null_args(void) {
    polyraft_durable_storage *ds = NULL, *out = NULL;
    polyraft_owned_snapshot *os = NULL;
    const polyraft_snapshot *sv = NULL;
    polyraft_recovery_report rep;
    polyraft_durable_stats st;
    polyraft_hard_state hs;
    polyraft_conf_state cs;
    polyraft_config cfg = quiet_config(1, 0);
    polyraft_node *node = NULL;
    char dir[600], text[32];
    size_t n = 0;
    uint64_t u = 0;

    memset(&hs, 0, sizeof hs);
    memset(&cs, 0, sizeof cs);
    polyraft_durable_storage_free(NULL);
    polyraft_owned_snapshot_free(NULL);
    snprintf(dir, sizeof dir, "%s/null", base_dir);

    H_RC(polyraft_durable_options_init(NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_open(NULL, NULL, &out, &rep, oerr()), POLYRAFT_NULL_PARAMETER);
    H_CHECK(strstr(open_error(), "dir") != NULL);
    H_RC(polyraft_durable_storage_open(dir, NULL, NULL, &rep, oerr()), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_open_len(NULL, 3, NULL, &out, &rep, oerr()), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_open_len((const uint8_t *)dir, strlen(dir), NULL, NULL, &rep, oerr()),
         POLYRAFT_NULL_PARAMETER);
    H_CHECK(out == NULL);
    H_RC(polyraft_durable_storage_last_error(NULL, text, sizeof text, &n), POLYRAFT_NULL_PARAMETER);
    H_CHECK(polyraft_durable_storage_last_errno(NULL) == 0);

    /* NULL options and NULL report are allowed. */
    H_OK(polyraft_durable_storage_open(dir, NULL, &ds, NULL, oerr()));
    track(ds);
    H_CHECK(strcmp(open_error(), "") == 0);

    H_RC(polyraft_durable_storage_clone(NULL, &out), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_clone(ds, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_recovery_report(NULL, &rep), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_recovery_report(ds, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_truncation_reason(NULL, text, sizeof text, &n), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_truncation_reason(ds, NULL, 0, &n), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_truncated_segment(ds, text, sizeof text, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_node_new_durable(NULL, ds, &node, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_node_new_durable(&cfg, NULL, &node, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_node_new_durable(&cfg, ds, NULL, NULL), POLYRAFT_NULL_PARAMETER);
    H_CHECK(node == NULL);
    H_RC(polyraft_durable_storage_bootstrap_conf_state(NULL, &cs), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_bootstrap_conf_state(ds, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_persist_ready(NULL, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_persist_ready(ds, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_persist_storage_append(NULL, (const uint8_t *)"x", 1), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_persist_storage_append(ds, NULL, 4), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_append(NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_append(ds, NULL, 3), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_set_hard_state(NULL, &hs), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_set_hard_state(ds, NULL), POLYRAFT_NULL_PARAMETER);
    hs = polyraft_durable_storage_hard_state(NULL);
    H_CHECK(hs.term == 0 && hs.vote == 0 && hs.commit == 0);
    H_RC(polyraft_durable_storage_apply_snapshot(NULL, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_apply_snapshot(ds, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_create_snapshot(NULL, 1, NULL, NULL, 0), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_create_snapshot(ds, 1, NULL, NULL, 5), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_compact(NULL, 1), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_first_index(NULL, &u), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_first_index(ds, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_last_index(NULL, &u), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_last_index(ds, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_term(NULL, 0, &u), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_term(ds, 0, NULL), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_snapshot(NULL, &os), POLYRAFT_NULL_PARAMETER);
    H_RC(polyraft_durable_storage_snapshot(ds, NULL), POLYRAFT_NULL_PARAMETER);
    H_CHECK(os == NULL);
    H_CHECK(polyraft_owned_snapshot_view(NULL) == NULL);
    st = polyraft_durable_storage_stats(NULL);
    H_CHECK(st.fsyncs == 0 && st.segments == 0);
    H_CHECK(strstr(last_error_of(ds), "NULL") != NULL);

    /* The storage is still fine, and empty. */
    H_OK(polyraft_durable_storage_last_index(ds, &u));
    H_CHECK(u == 0);
    H_OK(polyraft_durable_storage_snapshot(ds, &os));
    sv = polyraft_owned_snapshot_view(os);
    H_CHECK(sv != NULL && sv->index == 0 && sv->data_len == 0);
    polyraft_owned_snapshot_free(os);

    H_CHECK(strcmp(polyraft_result_str(POLYRAFT_IO_ERROR), "durable storage I/O error") == 0);
    H_CHECK(strcmp(polyraft_result_str(POLYRAFT_CORRUPT), "durable storage data is corrupt") == 0);
    return 0;
}

TEST(null_arguments) {
    CHECK(with_temp_dir(null_args) == 0);
}

static int bad_directories(void) {
    polyraft_durable_storage *ds = NULL;
    polyraft_durable_storage *sentinel = (polyraft_durable_storage *)&ds;
    polyraft_recovery_report rep;
    char file[600], below[700];
    FILE *f;

    /* A directory below a regular file cannot be created. */
    snprintf(file, sizeof file, "%s/plain-file", base_dir);
    f = fopen(file, "wb");
    H_CHECK(f != NULL);
    fputs("not a directory\n", f);
    H_CHECK(fclose(f) == 0);
    snprintf(below, sizeof below, "%s/wal", file);
    ds = sentinel;
    memset(&rep, 0x5a, sizeof rep);
    H_RC(polyraft_durable_storage_open(below, NULL, &ds, &rep, oerr()), POLYRAFT_IO_ERROR);
    H_CHECK(ds == sentinel); /* outputs only on success */
    H_CHECK(rep.segments == 0x5a5a5a5a5a5a5a5aull);
    H_CHECK(strstr(open_error(), "create directory") != NULL && strstr(open_error(), "plain-file") != NULL);
    /* A regular file where the directory should be. */
    H_RC(polyraft_durable_storage_open(file, NULL, &ds, NULL, oerr()), POLYRAFT_IO_ERROR);
    H_CHECK(ds == sentinel);
    H_RC(polyraft_durable_storage_open_len((const uint8_t *)below, strlen(below), NULL, &ds, NULL, oerr()),
         POLYRAFT_IO_ERROR);

    /* Paths that are not paths. */
    H_RC(polyraft_durable_storage_open("", NULL, &ds, NULL, oerr()), POLYRAFT_INVALID_ARGUMENT);
    H_RC(polyraft_durable_storage_open_len((const uint8_t *)"a\0b", 3, NULL, &ds, NULL, oerr()), POLYRAFT_INVALID_ARGUMENT);
    H_CHECK(strstr(open_error(), "NUL") != NULL);
    H_RC(polyraft_durable_storage_open_len((const uint8_t *)"\xff\xfe", 2, NULL, &ds, NULL, oerr()), POLYRAFT_INVALID_ARGUMENT);
    H_CHECK(strstr(open_error(), "UTF-8") != NULL);
    H_RC(polyraft_durable_storage_open_len(NULL, 0, NULL, &ds, NULL, oerr()), POLYRAFT_NULL_PARAMETER);
    H_CHECK(ds == sentinel);

    /* The ptr+len form works (no NUL needed), and creates missing parents. */
    snprintf(below, sizeof below, "%s/a/b/c", base_dir);
    H_OK(polyraft_durable_storage_open_len((const uint8_t *)below, strlen(below), NULL, &ds, &rep, oerr()));
    track(ds);
    H_CHECK(rep.created && rep.segments == 1 && rep.first_index == 1 && rep.last_index == 0);
    return 0;
}

TEST(directory_errors) {
    CHECK(with_temp_dir(bad_directories) == 0);
}

/* Appends entries [from, to) with 40-byte payloads, `per_call` at a time. */
static int append_range(polyraft_durable_storage *ds, uint64_t from, uint64_t to, uint64_t term, size_t per_call) {
    polyraft_entry e[16];
    char data[16][41];
    uint64_t i = from;
    H_CHECK(per_call <= 16);
    while (i < to) {
        size_t k = 0;
        memset(e, 0, sizeof e);
        for (; k < per_call && i < to; k++, i++) {
            snprintf(data[k], sizeof data[k], "payload-%032llu", (unsigned long long)i);
            e[k].index = i;
            e[k].term = term;
            e[k].entry_type = POLYRAFT_ENTRY_NORMAL;
            e[k].data = (const uint8_t *)data[k];
            e[k].data_len = 40;
        }
        H_OK(polyraft_durable_storage_append(ds, e, k));
    }
    return 0;
}

static int corrupt_segment(void) {
    polyraft_durable_storage *ds = NULL, *sentinel = (polyraft_durable_storage *)&ds;
    polyraft_durable_options opts = small_segments(1024);
    polyraft_recovery_report rep;
    polyraft_durable_stats st;
    polyraft_hard_state hs;
    char dir[600], path[700], segs[64][64];
    size_t nsegs;
    long size;
    uint64_t u;

    snprintf(dir, sizeof dir, "%s/corrupt", base_dir);
    H_OK(polyraft_durable_storage_open(dir, &opts, &ds, &rep, oerr()));
    track(ds);
    H_CHECK(rep.created);
    if (append_range(ds, 1, 201, 1, 10)) return 1;
    hs.term = 1;
    hs.vote = 1;
    hs.commit = 200;
    H_OK(polyraft_durable_storage_set_hard_state(ds, &hs));
    st = polyraft_durable_storage_stats(ds);
    H_CHECK(st.segments >= 4 && st.fsyncs >= 21);
    release(ds);

    nsegs = list_segments(dir, segs, 64);
    H_CHECK(nsegs >= 4);
    /* The middle of the second segment, which is closed (fsynced in full
       before the third one was started). */
    snprintf(path, sizeof path, "%s/%s", dir, segs[1]);
    size = file_size(path);
    H_CHECK(size > 200);
    if (flip_bytes(path, size / 2, 4)) return 1;

    ds = sentinel;
    H_RC(polyraft_durable_storage_open(dir, &opts, &ds, &rep, oerr()), POLYRAFT_CORRUPT);
    H_CHECK(ds == sentinel);
    printf("  corrupt: %s\n", open_error());
    H_CHECK(strstr(open_error(), segs[1]) != NULL);
    H_CHECK(strstr(open_error(), "closed segment") != NULL || strstr(open_error(), "header") != NULL);
    /* Refusing changed nothing: a second open says the same. */
    H_RC(polyraft_durable_storage_open(dir, &opts, &ds, &rep, oerr()), POLYRAFT_CORRUPT);
    H_CHECK(list_segments(dir, segs, 64) == nsegs && file_size(path) == size);

    /* Repaired (the bytes flipped back), it opens with everything. */
    if (flip_bytes(path, size / 2, 4)) return 1;
    H_OK(polyraft_durable_storage_open(dir, &opts, &ds, &rep, oerr()));
    track(ds);
    H_CHECK(!rep.created && !rep.truncated && rep.last_index == 200 && rep.first_index == 1);
    H_CHECK(rep.segments == nsegs);
    hs = polyraft_durable_storage_hard_state(ds);
    H_CHECK(hs.term == 1 && hs.vote == 1 && hs.commit == 200);
    H_OK(polyraft_durable_storage_term(ds, 200, &u));
    H_CHECK(u == 1);
    release(ds);

    /* A damaged header of the first segment is corruption too. */
    snprintf(path, sizeof path, "%s/%s", dir, segs[0]);
    if (flip_bytes(path, 10, 2)) return 1;
    ds = sentinel;
    H_RC(polyraft_durable_storage_open(dir, &opts, &ds, &rep, oerr()), POLYRAFT_CORRUPT);
    H_CHECK(strstr(open_error(), segs[0]) != NULL);
    H_CHECK(ds == sentinel);
    return 0;
}

TEST(corrupt_closed_segment) {
    CHECK(with_temp_dir(corrupt_segment) == 0);
}

static int torn_tail(void) {
    polyraft_durable_storage *ds = NULL, *ds2 = NULL;
    polyraft_durable_options opts = small_segments(1024);
    polyraft_recovery_report rep, rep2;
    char dir[600], path[700], segs[64][64], text[256];
    size_t nsegs, n = 0;
    long size;
    uint64_t u;

    snprintf(dir, sizeof dir, "%s/torn", base_dir);
    H_OK(polyraft_durable_storage_open(dir, &opts, &ds, &rep, oerr()));
    track(ds);
    if (append_range(ds, 1, 61, 2, 6)) return 1;
    release(ds);

    /* A write cut short by a crash: garbage after the last good record. */
    nsegs = list_segments(dir, segs, 64);
    H_CHECK(nsegs >= 2);
    snprintf(path, sizeof path, "%s/%s", dir, segs[nsegs - 1]);
    size = file_size(path);
    if (append_garbage(path, 7)) return 1;

    H_OK(polyraft_durable_storage_open(dir, &opts, &ds, &rep, oerr()));
    track(ds);
    H_CHECK(rep.truncated && rep.dropped_bytes == 7 && rep.truncated_offset == (uint64_t)size);
    H_CHECK(rep.last_index == 60 && rep.segments == nsegs);
    H_CHECK(file_size(path) == size);
    H_OK(polyraft_durable_storage_truncation_reason(ds, text, sizeof text, &n));
    printf("  torn tail: %s\n", text);
    H_CHECK(n > 0 && strlen(text) == n);
    H_OK(polyraft_durable_storage_truncated_segment(ds, text, sizeof text, &n));
    H_CHECK(n > 0 && strstr(text, segs[nsegs - 1]) != NULL);
    /* Truncated to fit the buffer, always NUL-terminated. */
    H_OK(polyraft_durable_storage_truncated_segment(ds, text, 5, &n));
    H_CHECK(n == 4 && strlen(text) == 4);
    /* A clone shares the storage and the report. */
    H_OK(polyraft_durable_storage_clone(ds, &ds2));
    track(ds2);
    release(ds);
    H_OK(polyraft_durable_storage_recovery_report(ds2, &rep2));
    H_CHECK(rep2.truncated && rep2.dropped_bytes == 7 && rep2.last_index == 60);
    /* The log goes on where the good records ended. */
    if (append_range(ds2, 61, 71, 2, 5)) return 1;
    release(ds2);
    H_OK(polyraft_durable_storage_open(dir, &opts, &ds, &rep, oerr()));
    track(ds);
    H_CHECK(!rep.truncated && rep.last_index == 70);
    H_OK(polyraft_durable_storage_term(ds, 70, &u));
    H_CHECK(u == 2);
    return 0;
}

TEST(torn_tail_is_cut_and_reported) {
    CHECK(with_temp_dir(torn_tail) == 0);
}

/* An I/O error (here: the directory vanished, so the next segment cannot
   be created) is POLYRAFT_IO_ERROR, and the storage then refuses every
   write: what reached the disk is unknown. Reads still work. */
static int io_error(void) {
    polyraft_durable_storage *ds = NULL;
    polyraft_durable_options opts = small_segments(1024);
    polyraft_hard_state hs;
    polyraft_result rc = POLYRAFT_OK;
    uint64_t next = 1, last = 0;
    char dir[600];
    int i;

    snprintf(dir, sizeof dir, "%s/vanishing", base_dir);
    H_OK(polyraft_durable_storage_open(dir, &opts, &ds, NULL, oerr()));
    track(ds);
    if (append_range(ds, next, next + 10, 1, 10)) return 1;
    next += 10;
    H_CHECK(rm_rf(dir) == 0);
    for (i = 0; i < 10; i++) {
        polyraft_entry e[10];
        char data[10][41];
        size_t k;
        memset(e, 0, sizeof e);
        for (k = 0; k < 10; k++) {
            snprintf(data[k], sizeof data[k], "payload-%032llu", (unsigned long long)next + k);
            e[k].index = next + k;
            e[k].term = 1;
            e[k].data = (const uint8_t *)data[k];
            e[k].data_len = 40;
        }
        rc = polyraft_durable_storage_append(ds, e, 10);
        if (rc != POLYRAFT_OK) break;
        next += 10;
    }
    H_RC(rc, POLYRAFT_IO_ERROR);
    printf("  I/O error: %s\n", last_error_of(ds));
    H_CHECK(strstr(last_error_of(ds), "vanishing") != NULL);
    /* The OS error's errno, kept by the handle (ENOENT: the directory went). */
    H_CHECK(polyraft_durable_storage_last_errno(ds) == ENOENT);
    /* From now on every write is refused, with the first error's text. */
    memset(&hs, 0, sizeof hs);
    hs.term = 1;
    H_RC(polyraft_durable_storage_set_hard_state(ds, &hs), POLYRAFT_IO_ERROR);
    H_CHECK(strstr(last_error_of(ds), "refuses writes") != NULL);
    H_CHECK(polyraft_durable_storage_last_errno(ds) == ENOENT);
    H_RC(polyraft_durable_storage_create_snapshot(ds, 5, NULL, NULL, 0), POLYRAFT_IO_ERROR);
    /* Reads are served from memory: the log as of the last good write. */
    H_OK(polyraft_durable_storage_last_index(ds, &last));
    H_CHECK(last == next - 1);
    return 0;
}

TEST(io_error_refuses_later_writes) {
    CHECK(with_temp_dir(io_error) == 0);
}

static int storage_errors(void) {
    polyraft_durable_storage *ds = NULL;
    polyraft_recovery_report rep;
    polyraft_snapshot snap;
    polyraft_conf_state cs;
    polyraft_message m;
    polyraft_buffer *buf = NULL;
    const uint8_t *bytes;
    polyraft_entry e;
    uint64_t voters[1] = {1};
    uint64_t v = 0;
    size_t len;
    char dir[600];

    snprintf(dir, sizeof dir, "%s/errors", base_dir);
    H_OK(polyraft_durable_storage_open(dir, NULL, &ds, &rep, oerr()));
    track(ds);
    if (append_range(ds, 1, 4, 1, 3)) return 1;
    H_OK(polyraft_durable_storage_last_index(ds, &v));
    H_CHECK(v == 3);
    H_RC(polyraft_durable_storage_term(ds, 9, &v), POLYRAFT_STORAGE_UNAVAILABLE);
    H_RC(polyraft_durable_storage_create_snapshot(ds, 9, NULL, NULL, 0), POLYRAFT_STORAGE_FAILURE);
    H_OK(polyraft_durable_storage_create_snapshot(ds, 2, NULL, (const uint8_t *)"s", 1));
    H_RC(polyraft_durable_storage_create_snapshot(ds, 2, NULL, NULL, 0), POLYRAFT_STORAGE_SNAP_OUT_OF_DATE);
    H_OK(polyraft_durable_storage_compact(ds, 2));
    H_RC(polyraft_durable_storage_compact(ds, 2), POLYRAFT_STORAGE_COMPACTED);
    H_RC(polyraft_durable_storage_compact(ds, 99), POLYRAFT_STORAGE_FAILURE);
    H_RC(polyraft_durable_storage_term(ds, 1, &v), POLYRAFT_STORAGE_COMPACTED);
    H_OK(polyraft_durable_storage_first_index(ds, &v));
    H_CHECK(v == 3);
    memset(&e, 0, sizeof e);
    e.index = 7; /* a gap */
    e.term = 1;
    H_RC(polyraft_durable_storage_append(ds, &e, 1), POLYRAFT_STORAGE_FAILURE);
    e.index = 4;
    e.entry_type = 9; /* no such type */
    H_RC(polyraft_durable_storage_append(ds, &e, 1), POLYRAFT_INVALID_ARGUMENT);
    /* An older snapshot than the one held. */
    memset(&snap, 0, sizeof snap);
    snap.index = 1;
    snap.term = 1;
    H_RC(polyraft_durable_storage_apply_snapshot(ds, &snap), POLYRAFT_STORAGE_SNAP_OUT_OF_DATE);
    /* A newer one replaces the log. */
    snap.index = 10;
    snap.term = 3;
    snap.conf_state.voters = voters;
    snap.conf_state.voters_len = 1;
    snap.data = (const uint8_t *)"state";
    snap.data_len = 5;
    H_OK(polyraft_durable_storage_apply_snapshot(ds, &snap));
    H_OK(polyraft_durable_storage_first_index(ds, &v));
    H_CHECK(v == 11);
    H_OK(polyraft_durable_storage_last_index(ds, &v));
    H_CHECK(v == 10);
    /* Bootstrapping a non-empty storage is refused. */
    memset(&cs, 0, sizeof cs);
    cs.voters = voters;
    cs.voters_len = 1;
    H_RC(polyraft_durable_storage_bootstrap_conf_state(ds, &cs), POLYRAFT_INVALID_STATE);

    /* persist_storage_append takes an encoded MsgStorageAppend only. */
    H_RC(polyraft_durable_storage_persist_storage_append(ds, (const uint8_t *)"\xff\xff\xff", 3), POLYRAFT_DECODE);
    memset(&m, 0, sizeof m);
    m.msg_type = POLYRAFT_MSG_HEARTBEAT;
    m.to = 2;
    m.from = 1;
    m.term = 3;
    H_OK(polyraft_message_encode(&m, &buf));
    H_OK(polyraft_buffer_data(buf, &bytes, &len));
    {
        polyraft_result rc = polyraft_durable_storage_persist_storage_append(ds, bytes, len);
        polyraft_buffer_free(buf);
        H_RC(rc, POLYRAFT_INVALID_ARGUMENT);
    }
    H_CHECK(strstr(last_error_of(ds), "MsgStorageAppend") != NULL);

    /* After a restart the snapshot is there, with its data. */
    release(ds);
    H_OK(polyraft_durable_storage_open(dir, NULL, &ds, &rep, oerr()));
    track(ds);
    H_CHECK(rep.snapshot_index == 10 && rep.first_index == 11 && rep.last_index == 10);
    {
        polyraft_owned_snapshot *os = NULL;
        const polyraft_snapshot *sv = NULL;
        bool ok;
        H_OK(polyraft_durable_storage_snapshot(ds, &os));
        sv = polyraft_owned_snapshot_view(os);
        ok = sv != NULL && sv->index == 10 && sv->term == 3 && sv->data_len == 5 && memcmp(sv->data, "state", 5) == 0 &&
             sv->conf_state.voters_len == 1 && sv->conf_state.voters[0] == 1 && sv->encoded_len > 0;
        polyraft_owned_snapshot_free(os);
        H_CHECK(ok);
    }
    return 0;
}

TEST(storage_error_codes) {
    CHECK(with_temp_dir(storage_errors) == 0);
}

/* A single-voter node over a storage given its configuration with
   bootstrap_conf_state (no polyraft_node_bootstrap) elects itself, commits,
   and restarts with what it committed. */
static int single_node_run(polyraft_durable_storage *ds, uint64_t applied, int proposals, uint64_t *count) {
    polyraft_config cfg = quiet_config(1, applied);
    polyraft_node *node = NULL;
    int round, done = 0;
    bool campaigned = false;
    H_OK(polyraft_node_new_durable(&cfg, ds, &node, NULL));
    for (round = 0; round < 200; round++) {
        polyraft_basic_status st;
        bool has = false;
        polyraft_result rc = polyraft_node_has_ready(node, &has);
        if (rc == POLYRAFT_OK && has) {
            const polyraft_ready *rd;
            const polyraft_entry *ents;
            size_t n, i;
            rc = polyraft_node_ready(node, &rd);
            if (rc == POLYRAFT_OK) rc = polyraft_durable_storage_persist_ready(ds, rd);
            if (rc == POLYRAFT_OK) rc = polyraft_ready_committed_entries(rd, &ents, &n);
            for (i = 0; rc == POLYRAFT_OK && i < n; i++)
                if (ents[i].entry_type == POLYRAFT_ENTRY_NORMAL && ents[i].data_len) (*count)++;
            if (rc == POLYRAFT_OK) rc = polyraft_node_advance(node);
        } else if (rc == POLYRAFT_OK) {
            rc = polyraft_node_basic_status(node, &st);
            if (rc == POLYRAFT_OK && st.soft_state.raft_state != POLYRAFT_STATE_LEADER) {
                if (campaigned) rc = polyraft_node_tick(node);
                else rc = polyraft_node_campaign(node);
                campaigned = true;
            } else if (rc == POLYRAFT_OK && done < proposals) {
                rc = polyraft_node_propose(node, (const uint8_t *)"one", 3);
                done++;
            } else if (rc == POLYRAFT_OK) {
                break;
            }
        }
        if (rc != POLYRAFT_OK) {
            polyraft_node_free(node);
            return hfail(__FILE__, __LINE__, "single node loop", rc);
        }
    }
    polyraft_node_free(node);
    return 0;
}

static int bootstrap_and_restart(void) {
    polyraft_durable_storage *ds = NULL;
    polyraft_recovery_report rep;
    polyraft_conf_state cs;
    polyraft_hard_state hs;
    uint64_t voters[1] = {1};
    uint64_t count = 0, v;
    char dir[600];

    snprintf(dir, sizeof dir, "%s/single", base_dir);
    H_OK(polyraft_durable_storage_open(dir, NULL, &ds, &rep, oerr()));
    track(ds);
    H_CHECK(rep.created);
    memset(&cs, 0, sizeof cs);
    cs.voters = voters;
    cs.voters_len = 1;
    H_OK(polyraft_durable_storage_bootstrap_conf_state(ds, &cs));
    H_RC(polyraft_durable_storage_bootstrap_conf_state(ds, &cs), POLYRAFT_INVALID_STATE);
    if (single_node_run(ds, 0, 5, &count)) return 1;
    H_CHECK(count == 5);
    hs = polyraft_durable_storage_hard_state(ds);
    H_CHECK(hs.term >= 1 && hs.vote == 1 && hs.commit == 6); /* an empty entry, then 5 */
    release(ds);

    /* Restart: the 5 committed entries come back, then 2 more. */
    H_OK(polyraft_durable_storage_open(dir, NULL, &ds, &rep, oerr()));
    track(ds);
    H_CHECK(!rep.created && rep.last_index == 6 && rep.snapshot_index == 0);
    count = 0;
    if (single_node_run(ds, 0, 2, &count)) return 1;
    H_CHECK(count == 7);
    H_OK(polyraft_durable_storage_last_index(ds, &v));
    H_CHECK(v == 9); /* one more empty entry for the new term */
    return 0;
}

TEST(bootstrap_conf_state_and_restart) {
    CHECK(with_temp_dir(bootstrap_and_restart) == 0);
}

/* Async storage writes: each MsgStorageAppend is persisted from its bytes,
   then its responses are delivered. */
static int async_writes(void) {
    polyraft_durable_storage *ds = NULL;
    polyraft_recovery_report rep;
    polyraft_durable_stats st;
    polyraft_hard_state hs;
    polyraft_config cfg = quiet_config(1, 0);
    polyraft_node *node = NULL;
    polyraft_peer peer;
    polyraft_result rc = POLYRAFT_OK;
    int round, proposed_n = 0, applied = 0, appends = 0;
    char dir[600];

    snprintf(dir, sizeof dir, "%s/async", base_dir);
    H_OK(polyraft_durable_storage_open(dir, NULL, &ds, &rep, oerr()));
    track(ds);
    cfg.async_storage_writes = true;
    memset(&peer, 0, sizeof peer);
    peer.id = 1;
    H_OK(polyraft_node_new_durable(&cfg, ds, &node, NULL));
    rc = polyraft_node_bootstrap(node, &peer, 1);
    for (round = 0; rc == POLYRAFT_OK && round < 100; round++) {
        const polyraft_ready *rd;
        const polyraft_message *msgs;
        size_t n, i, j;
        bool has = false;
        rc = polyraft_node_has_ready(node, &has);
        if (rc != POLYRAFT_OK) break;
        if (!has) {
            polyraft_basic_status s;
            rc = polyraft_node_basic_status(node, &s);
            if (rc != POLYRAFT_OK) break;
            if (s.soft_state.raft_state != POLYRAFT_STATE_LEADER) {
                rc = polyraft_node_campaign(node);
            } else if (proposed_n < 3) {
                rc = polyraft_node_propose(node, (const uint8_t *)"async", 5);
                proposed_n++;
            } else {
                break;
            }
            continue;
        }
        rc = polyraft_node_ready(node, &rd);
        if (rc != POLYRAFT_OK) break;
        /* persist_ready refuses the Ready of an async node. */
        if (polyraft_durable_storage_persist_ready(ds, rd) != POLYRAFT_INVALID_STATE) {
            rc = POLYRAFT_PANIC;
            break;
        }
        rc = polyraft_ready_messages(rd, &msgs, &n);
        for (i = 0; rc == POLYRAFT_OK && i < n; i++) {
            const polyraft_message *m = &msgs[i];
            if (m->to == POLYRAFT_LOCAL_APPEND_THREAD) {
                rc = polyraft_durable_storage_persist_storage_append(ds, m->bytes, m->bytes_len);
                appends++;
            } else if (m->to == POLYRAFT_LOCAL_APPLY_THREAD) {
                for (j = 0; rc == POLYRAFT_OK && j < m->entries_len; j++) {
                    const polyraft_entry *e = &m->entries[j];
                    if (e->entry_type != POLYRAFT_ENTRY_NORMAL) {
                        polyraft_conf_state cs;
                        rc = polyraft_node_apply_conf_change(node, e->entry_type, e->data, e->data_len, &cs);
                    } else if (e->data_len == 5) {
                        applied++;
                    }
                }
            } else {
                continue;
            }
            for (j = 0; rc == POLYRAFT_OK && j < m->responses_len; j++)
                if (m->responses[j].to == 1)
                    rc = polyraft_node_step_local(node, m->responses[j].bytes, m->responses[j].bytes_len);
        }
    }
    polyraft_node_free(node);
    H_OK(rc);
    H_CHECK(applied == 3 && appends > 0);
    st = polyraft_durable_storage_stats(ds);
    H_CHECK(st.readies == (uint64_t)appends && st.fsyncs > 0);
    hs = polyraft_durable_storage_hard_state(ds);
    release(ds);

    /* Everything acknowledged is on disk. */
    H_OK(polyraft_durable_storage_open(dir, NULL, &ds, &rep, oerr()));
    track(ds);
    H_CHECK(rep.last_index == 5 && hs.commit == 5); /* bootstrap, empty entry, 3 proposals */
    {
        polyraft_hard_state hs2;
        hs2 = polyraft_durable_storage_hard_state(ds);
        H_CHECK(hs2.term == hs.term && hs2.vote == hs.vote && hs2.commit == hs.commit);
    }
    return 0;
}

TEST(async_storage_writes) {
    CHECK(with_temp_dir(async_writes) == 0);
}

int main(void) {
    printf("%s\n", polyraft_version());
    RUN(three_node_cluster_on_disk);
    RUN(null_arguments);
    RUN(directory_errors);
    RUN(corrupt_closed_segment);
    RUN(torn_tail_is_cut_and_reported);
    RUN(io_error_refuses_later_writes);
    RUN(storage_error_codes);
    RUN(bootstrap_conf_state_and_restart);
    RUN(async_storage_writes);
    polyraft_buffer_free(open_err);
    return RUNNER_DONE();
}
