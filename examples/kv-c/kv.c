/* A replicated key-value store on the polyraft host, in C: the node of
 * host/examples/kv.rs, examples/kv-host (Python) and examples/kv-go. 16
 * groups shard the keys, and clients speak the text protocol of
 * examples/kv-go/PROTOCOL.md (sessions make a retried PUT apply once).
 *
 *   cargo build -p polyraft-ffi
 *   cc -std=c99 -Iinclude examples/kv-c/kv.c -o kv-c -Ltarget/debug -lpolyraft -lpthread
 *   LD_LIBRARY_PATH=target/debug ./kv-c              # a scripted run, 3 hosts in this process
 *   LD_LIBRARY_PATH=target/debug ./kv-c 9001 9002 9003   # the same, serving clients
 *
 * One host per process, over mutual TLS (CERTDIR holds host-<ID>.pem,
 * host-<ID>.key and ca.pem; --plaintext for plain TCP); every peer
 * bootstraps the groups; client port 0 picks one:
 *
 *   ./kv-c --node ID RAFT_ADDR CLIENT_PORT 1=ADDR,2=ADDR,3=ADDR CERTDIR [DATADIR] */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "polyraft.h"

#define GROUPS 16

/* The state machine: "key=value" sets a key and returns its old value. */
typedef struct { char **keys, **vals; size_t n; } kv;

static char **slot(kv *m, const char *k, size_t klen) {
    size_t i;
    for (i = 0; i < m->n; i++)
        if (strlen(m->keys[i]) == klen && memcmp(m->keys[i], k, klen) == 0) return &m->vals[i];
    return NULL;
}
static void set(kv *m, const char *cmd, size_t len, polyraft_host_results *res) {
    const char *eq = memchr(cmd, '=', len);
    size_t klen = eq ? (size_t)(eq - cmd) : len, vlen = eq ? len - klen - 1 : 0;
    char **v = slot(m, cmd, klen), *nv = calloc(1, vlen + 1);
    if (eq) memcpy(nv, eq + 1, vlen);
    if (v == NULL) {
        m->keys = realloc(m->keys, (m->n + 1) * sizeof *m->keys);
        m->vals = realloc(m->vals, (m->n + 1) * sizeof *m->vals);
        m->keys[m->n] = calloc(1, klen + 1);
        memcpy(m->keys[m->n], cmd, klen);
        m->vals[m->n] = calloc(1, 1);
        v = &m->vals[m->n++];
    }
    if (res) polyraft_host_results_push(res, (const uint8_t *)*v, strlen(*v)); /* the old value */
    free(*v);
    *v = nv;
}
static uint32_t kv_apply(void *ctx, const polyraft_host_entry *e, size_t n, polyraft_host_results *res) {
    size_t i;
    for (i = 0; i < n; i++) set(ctx, (const char *)e[i].data, e[i].len, res);
    return POLYRAFT_OK;
}
static int by_key(const void *a, const void *b) { return strcmp(**(char ***)a, **(char ***)b); }
static uint32_t kv_snapshot(void *ctx, polyraft_host_writer *w) { /* "k=v\n" lines, keys sorted */
    kv *m = ctx;
    size_t i;
    char ***order = malloc((m->n + 1) * sizeof *order), line[4096];
    for (i = 0; i < m->n; i++) order[i] = &m->keys[i];
    qsort(order, m->n, sizeof *order, by_key);
    for (i = 0; i < m->n; i++) {
        int len = snprintf(line, sizeof line, "%s=%s\n", *order[i], m->vals[order[i] - m->keys]);
        polyraft_host_writer_write(w, (const uint8_t *)line, (size_t)len);
    }
    free(order);
    return POLYRAFT_OK;
}
static void kv_clear(kv *m) {
    while (m->n > 0) { m->n--; free(m->keys[m->n]); free(m->vals[m->n]); }
}
static uint32_t kv_restore(void *ctx, polyraft_host_reader *r) {
    char *buf = NULL, *p, *nl;
    size_t len = 0, n = 1;
    while (n > 0) {
        buf = realloc(buf, len + 4096);
        if (polyraft_host_reader_read(r, (uint8_t *)buf + len, 4096, &n) != POLYRAFT_OK) break;
        len += n;
    }
    kv_clear(ctx);
    for (p = buf; p < buf + len && (nl = memchr(p, '\n', (size_t)(buf + len - p))) != NULL; p = nl + 1)
        set(ctx, p, (size_t)(nl - p), NULL);
    free(buf);
    return POLYRAFT_OK;
}
static uint32_t kv_lookup(void *ctx, const uint8_t *q, size_t len, polyraft_host_results *res) {
    char **v = slot(ctx, (const char *)q, len);
    return v ? polyraft_host_results_push(res, (const uint8_t *)*v, strlen(*v)) : POLYRAFT_OK;
}
static void kv_destroy(void *ctx) {
    kv *m = ctx;
    kv_clear(m);
    free(m->keys);
    free(m->vals);
    free(m);
}

/* The group (shard) that owns a key; the same in every language. */
static uint64_t group_of(const char *key) {
    uint64_t h = 7;
    while (*key) h = h * 31 + (unsigned char)*key++;
    return h % GROUPS + 1;
}

/* Serves one request line of the client protocol; the reply goes to out. */
static void handle(polyraft_host *h, const char *line, char *out, size_t cap) {
    char key[256], value[2048], cmd[2400], why[256];
    unsigned long long client, series, acked;
    polyraft_host_session s;
    polyraft_buffer *b = NULL;
    polyraft_result rc;
    const uint8_t *data = NULL;
    size_t n = 0;
    int off = 0;
    polyraft_host_info info;
    if (sscanf(line, "GET %255s", key) == 1 || sscanf(line, "PUT %*u %*u %*u %255s", key) == 1) {
        /* Fail fast when the group has no replica here or no leader. */
        if (polyraft_host_group_info(h, group_of(key), &info) != POLYRAFT_OK || info.leader == 0) {
            snprintf(out, cap, "REJECTED group %" PRIu64 " has no leader here yet", group_of(key));
            return;
        }
    }
    if (sscanf(line, "GET %255s", key) == 1) {
        rc = polyraft_host_read(h, group_of(key), (const uint8_t *)key, strlen(key), 1000, &b);
    } else if (sscanf(line, "PUT %llu %llu %llu %255s %n", &client, &series, &acked, key, &off) == 4 && off > 0 &&
               !strchr(key, '=') && client > 0 && series > acked) {
        snprintf(value, sizeof value, "%.*s", (int)strcspn(line + off, "\r\n"), line + off);
        s.group = group_of(key), s.client_id = client, s.series = series, s.responded_to = acked;
        snprintf(cmd, sizeof cmd, "%s=%s", key, value);
        rc = polyraft_host_propose_session(h, &s, (const uint8_t *)cmd, strlen(cmd), 1000, &b);
    } else {
        snprintf(out, cap, "ERR expected GET <key> or PUT <client> <series> <responded> <key> <value>");
        return;
    }
    polyraft_host_last_error(h, why, sizeof why, &n);
    polyraft_buffer_data(b, &data, &n);
    if (rc == POLYRAFT_OK) snprintf(out, cap, "OK %.*s", (int)n, data ? (const char *)data : "");
    else snprintf(out, cap, "%s %s", rc == POLYRAFT_TIMED_OUT ? "UNKNOWN" : "REJECTED", why);
    polyraft_buffer_free(b);
}

static void sleep_ms(long ms) { struct timespec t = {ms / 1000, (ms % 1000) * 1000000L}; nanosleep(&t, NULL); }

typedef struct { polyraft_host *h; int fd; } conn;
static void *serve_conn(void *arg) { /* one client connection: a reply per line */
    conn *c = arg;
    FILE *in = fdopen(c->fd, "r");
    char line[4096], reply[4096];
    while (in && fgets(line, sizeof line, in)) {
        handle(c->h, line, reply, sizeof reply - 1);
        strcat(reply, "\n");
        if (write(c->fd, reply, strlen(reply)) < 0) break;
    }
    if (in) fclose(in);
    free(c);
    return NULL;
}
static void *serve(void *arg) { /* accept loop on 127.0.0.1:port */
    conn *srv = arg;
    for (;;) {
        conn *c = malloc(sizeof *c);
        pthread_t t;
        c->h = srv->h;
        if ((c->fd = accept(srv->fd, NULL, NULL)) < 0 || pthread_create(&t, NULL, serve_conn, c) != 0) exit(1);
        pthread_detach(t);
    }
    return NULL;
}
/* Serves host h's clients on 127.0.0.1:port (0: any) in a thread; returns
 * the port, or -1. */
static int serve_clients(polyraft_host *h, int port) {
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    conn *srv = malloc(sizeof *srv);
    pthread_t t;
    int one = 1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv->h = h;
    srv->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(srv->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(srv->fd, 16) != 0 ||
        getsockname(srv->fd, (struct sockaddr *)&a, &alen) != 0 || pthread_create(&t, NULL, serve, srv) != 0)
        return -1;
    return ntohs(a.sin_port);
}
static polyraft_host_state_machine new_kv(void) {
    polyraft_host_state_machine sm = {POLYRAFT_HOST_SM_ABI_VERSION, NULL, kv_apply, kv_snapshot,
                                      kv_restore, kv_lookup, kv_destroy};
    sm.ctx = calloc(1, sizeof(kv));
    return sm;
}
/* Prints a setup call's failure detail (and frees it). */
static int fail(const char *what, polyraft_buffer *err) {
    const uint8_t *p = NULL;
    size_t n = 0;
    if (err == NULL || polyraft_buffer_data(err, &p, &n) != POLYRAFT_OK || p == NULL) n = 0;
    fprintf(stderr, "kv-c: %s: %.*s\n", what, (int)n, p ? (const char *)p : "");
    polyraft_buffer_free(err);
    return 1;
}

/* One host of a cluster in this process, on TCP; serves clients forever.
 * argv: ID RAFT_ADDR CLIENT_PORT PEERS (CERTDIR | --plaintext) [DATADIR] */
static int node(int argc, char **argv) {
    polyraft_host_transport *net = NULL;
    polyraft_host *h = NULL;
    polyraft_buffer *err = NULL;
    polyraft_host_config cfg;
    polyraft_host_peer peers[16];
    char cert[1024], key[1024], ca[1024], addr[128], *list, *item, *save = NULL;
    uint64_t id, g;
    size_t n_peers = 0, n = 0;
    int port;
    if (argc < 5) return fprintf(stderr, "usage: kv-c --node ID RAFT_ADDR CLIENT_PORT PEERS CERTDIR|--plaintext [DATADIR]\n"), 2;
    id = strtoull(argv[0], NULL, 10);
    if (strcmp(argv[4], "--plaintext") == 0) {
        if (polyraft_host_transport_tcp_insecure_plaintext_new(argv[1], &net, &err) != POLYRAFT_OK) return fail("transport", err);
    } else {
        snprintf(cert, sizeof cert, "%s/host-%" PRIu64 ".pem", argv[4], id);
        snprintf(key, sizeof key, "%s/host-%" PRIu64 ".key", argv[4], id);
        snprintf(ca, sizeof ca, "%s/ca.pem", argv[4]);
        if (polyraft_host_transport_tcp_new(argv[1], cert, key, ca, &net, &err) != POLYRAFT_OK) return fail("transport", err);
    }
    list = strdup(argv[3]);
    for (item = strtok_r(list, ",", &save); item && n_peers < 16; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) return fprintf(stderr, "kv-c: peers are ID=ADDR\n"), 2;
        *eq = '\0';
        peers[n_peers].replica = peers[n_peers].host = strtoull(item, NULL, 10);
        if (polyraft_host_transport_add_peer(net, peers[n_peers++].host, eq + 1, &err) != POLYRAFT_OK) return fail("peer", err);
    }
    free(list);
    polyraft_host_config_init(&cfg, id);
    cfg.transport = net;
    cfg.tick_ms = 50;
    cfg.snapshot_entries = 1000;
    cfg.compaction_overhead = 250;
    cfg.data_dir = argc > 5 ? argv[5] : NULL;
    if (polyraft_host_new(&cfg, &h, &err) != POLYRAFT_OK) return fail("host", err);
    polyraft_host_transport_free(net);
    for (g = 1; g <= GROUPS; g++) {
        polyraft_host_state_machine sm = new_kv();
        if (polyraft_host_start_replica(h, g, id, peers, n_peers, &sm) != POLYRAFT_OK) return 1;
    }
    if ((port = serve_clients(h, atoi(argv[2]))) < 0) return fprintf(stderr, "kv-c: client port\n"), 1;
    polyraft_host_local_addr(h, addr, sizeof addr, &n);
    printf("host %" PRIu64 " raft %s clients %d\n", id, addr, port);
    fflush(stdout);
    for (;;) pause();
}

int main(int argc, char **argv) {
    polyraft_host_transport *net = NULL;
    polyraft_host *hosts[3];
    polyraft_host_peer peers[3] = {{1, 1}, {2, 2}, {3, 3}};
    polyraft_host_info info;
    char reply[4096], req[512];
    const char *puts_[3][2] = {{"apple", "red"}, {"banana", "yellow"}, {"apple", "green"}};
    uint64_t id, g, series = 0;
    int i;
    if (argc > 1 && strcmp(argv[1], "--node") == 0) return node(argc - 2, argv + 2);
    polyraft_host_transport_in_process_new(&net);
    for (id = 1; id <= 3; id++) {
        polyraft_host_config cfg;
        polyraft_host_config_init(&cfg, id);
        cfg.transport = net;
        cfg.tick_ms = 20;
        if (polyraft_host_new(&cfg, &hosts[id - 1], NULL) != POLYRAFT_OK) return 1;
        for (g = 1; g <= GROUPS; g++) {
            polyraft_host_state_machine sm = new_kv();
            if (polyraft_host_start_replica(hosts[id - 1], g, id, peers, 3, &sm) != POLYRAFT_OK) return 1;
        }
    }
    if (argc == 4) { /* serve clients on 127.0.0.1:<port>, one port per host */
        for (i = 0; i < 3; i++) {
            if (serve_clients(hosts[i], atoi(argv[i + 1])) < 0) return 1;
            printf("host %d serves clients on 127.0.0.1:%s\n", i + 1, argv[i + 1]);
        }
        fflush(stdout);
        for (;;) pause();
    }
    /* A scripted client: one session; REJECTED or UNKNOWN retry the same
     * series (on the next host) until the outcome is known. */
    for (i = 0; i < 3; i++) {
        int try_ = 0;
        series++;
        do {
            if (try_) sleep_ms(50);
            snprintf(req, sizeof req, "PUT 42 %" PRIu64 " %" PRIu64 " %s %s", series, series - 1, puts_[i][0], puts_[i][1]);
            handle(hosts[try_++ % 3], req, reply, sizeof reply);
        } while (strncmp(reply, "OK", 2) != 0);
        printf("PUT %s=%s -> %s\n", puts_[i][0], puts_[i][1], reply);
    }
    handle(hosts[2], req, reply, sizeof reply); /* the last reply was lost: send it again */
    printf("retried PUT apple=green -> %s\n", reply);
    for (i = 0; i < 3; i++) {
        handle(hosts[i], "GET apple", reply, sizeof reply);
        printf("host %d: GET apple -> %s\n", i + 1, reply);
    }
    if (polyraft_host_group_info(hosts[0], group_of("apple"), &info) == POLYRAFT_OK)
        printf("group %" PRIu64 ": leader %" PRIu64 ", term %" PRIu64 ", applied %" PRIu64 ", %zu voters\n", info.group,
               info.leader, info.term, info.applied, info.n_voters);
    for (i = 0; i < 3; i++) polyraft_host_free(hosts[i]);
    polyraft_host_transport_free(net);
    return 0;
}
