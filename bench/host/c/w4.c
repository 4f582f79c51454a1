/* W4 (bench/README.md, "W4/W5"): the polyraft host end to end from C,
 * through include/polyraft.h. A 3-node cluster as 3 processes on
 * loopback, each a host with its log on disk (every write fdatasync'ed)
 * and the TCP transport (plain, or mutual TLS with development
 * certificates); closed-loop clients propose to the leader; one JSON line
 * of results on stdout, logs on stderr.
 *
 *   w4 --concurrency C --duration S --size 128 --dir DIR [--warmup S] [--tls]
 *
 * This process is node 1: it starts nodes 2 and 3 as copies of itself
 * (`--follower ID --dir DIR [--tls]`, driven by lines on their stdin),
 * waits for a leader, hands the leadership to node 1, then runs C clients.
 * A client is a chain of completions: polyraft_host_propose_async, and
 * from its completion the next proposal, so C proposals are in flight
 * without C threads (what a C event loop would do). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "polyraft.h"

#define GROUP 1
#define SLOTS 4096
#define PROPOSE_TIMEOUT_MS 10000

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void sleep_s(double s) {
    struct timespec t;
    if (s <= 0) return;
    t.tv_sec = (time_t)s;
    t.tv_nsec = (long)((s - (double)t.tv_sec) * 1e9);
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static int die(const char *what, polyraft_buffer *err) {
    const uint8_t *d = NULL;
    size_t n = 0;
    if (err != NULL) polyraft_buffer_data(err, &d, &n);
    fprintf(stderr, "w4-c: %s: %.*s\n", what, (int)n, d ? (const char *)d : "");
    polyraft_buffer_free(err);
    exit(1);
}

/* ---- the replicated state: a count of applied commands and each
 * client's latest command (keyed by its first 8 bytes). The result of a
 * command is the count after it. ---- */

typedef struct {
    uint64_t count;
    unsigned char last[SLOTS][16];
} counter;

static uint64_t get64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t sm_apply(void *ctx, const polyraft_host_entry *e, size_t n, polyraft_host_results *res) {
    counter *c = ctx;
    size_t i;
    for (i = 0; i < n; i++) {
        c->count++;
        if (e[i].len >= 16) memcpy(c->last[get64(e[i].data) % SLOTS], e[i].data, 16);
        if (polyraft_host_results_push(res, (const uint8_t *)&c->count, 8) != POLYRAFT_OK) return POLYRAFT_INVALID_ARGUMENT;
    }
    return POLYRAFT_OK;
}

static uint32_t sm_snapshot(void *ctx, polyraft_host_writer *w) {
    return polyraft_host_writer_write(w, ctx, sizeof(counter));
}

static uint32_t sm_restore(void *ctx, polyraft_host_reader *r) {
    counter tmp;
    size_t got = 0, n = 0;
    uint8_t *p = (uint8_t *)&tmp;
    do {
        if (polyraft_host_reader_read(r, p + got, sizeof tmp - got, &n) != POLYRAFT_OK) return POLYRAFT_STORAGE_FAILURE;
        got += n;
    } while (n > 0 && got < sizeof tmp);
    if (got != sizeof tmp) return POLYRAFT_STORAGE_FAILURE;
    memcpy(ctx, &tmp, sizeof tmp);
    return POLYRAFT_OK;
}

static uint32_t sm_lookup(void *ctx, const uint8_t *q, size_t len, polyraft_host_results *res) {
    counter *c = ctx;
    (void)q;
    (void)len;
    return polyraft_host_results_push(res, (const uint8_t *)&c->count, 8);
}

static polyraft_host *start_node(uint64_t id, const char *dir, int tls) {
    char data[4096], cert[4200], key[4200], ca[4200];
    polyraft_host_transport *net = NULL;
    polyraft_buffer *err = NULL;
    polyraft_host_config cfg;
    polyraft_host *h = NULL;
    snprintf(data, sizeof data, "%s/node-%" PRIu64, dir, id);
    if (tls) {
        snprintf(cert, sizeof cert, "%s/certs/host-%" PRIu64 ".pem", dir, id);
        snprintf(key, sizeof key, "%s/certs/host-%" PRIu64 ".key", dir, id);
        snprintf(ca, sizeof ca, "%s/certs/ca.pem", dir);
        if (polyraft_host_transport_tcp_new("127.0.0.1:0", cert, key, ca, &net, &err) != POLYRAFT_OK) die("transport", err);
    } else if (polyraft_host_transport_tcp_insecure_plaintext_new("127.0.0.1:0", &net, &err) != POLYRAFT_OK) {
        die("transport", err);
    }
    polyraft_host_config_init(&cfg, id);
    cfg.data_dir = data;
    cfg.transport = net;
    if (polyraft_host_new(&cfg, &h, &err) != POLYRAFT_OK) die("host", err);
    polyraft_host_transport_free(net);
    return h;
}

static void start_group(polyraft_host *h, uint64_t id) {
    polyraft_host_peer peers[3] = {{1, 1}, {2, 2}, {3, 3}};
    polyraft_host_state_machine sm;
    counter *c = calloc(1, sizeof *c);
    char why[256];
    size_t n = 0;
    if (c == NULL) die("out of memory", NULL);
    memset(&sm, 0, sizeof sm);
    sm.abi_version = POLYRAFT_HOST_SM_ABI_VERSION;
    sm.ctx = c;
    sm.apply = sm_apply;
    sm.snapshot = sm_snapshot;
    sm.restore = sm_restore;
    sm.lookup = sm_lookup;
    sm.destroy = free;
    if (polyraft_host_start_replica(h, GROUP, id, peers, 3, &sm) != POLYRAFT_OK) {
        polyraft_host_last_error(h, why, sizeof why, &n);
        fprintf(stderr, "w4-c: start_replica: %s\n", why);
        exit(1);
    }
}

static void local_addr(polyraft_host *h, char *buf, size_t len) {
    size_t n = 0;
    if (polyraft_host_local_addr(h, buf, len, &n) != POLYRAFT_OK) die("local_addr", NULL);
}

/* Nodes 2 and 3: "peer ID ADDR", "start", "quit" on stdin. */
static int follower(uint64_t id, const char *dir, int tls) {
    char addr[128], line[512];
    polyraft_host *h = start_node(id, dir, tls);
    local_addr(h, addr, sizeof addr);
    printf("ready %s\n", addr);
    fflush(stdout);
    while (fgets(line, sizeof line, stdin) != NULL) {
        uint64_t peer = 0;
        char paddr[256];
        if (sscanf(line, "peer %" SCNu64 " %255s", &peer, paddr) == 2) {
            if (peer != id && polyraft_host_add_peer(h, peer, paddr) != POLYRAFT_OK) die("add_peer", NULL);
        } else if (strncmp(line, "start", 5) == 0) {
            start_group(h, id);
            printf("started\n");
            fflush(stdout);
        } else if (strncmp(line, "quit", 4) == 0) {
            break;
        } else {
            fprintf(stderr, "w4-c: unknown command %s", line);
            return 1;
        }
    }
    polyraft_host_close(h);
    polyraft_host_free(h);
    return 0;
}

typedef struct {
    pid_t pid;
    FILE *in, *out;
} peer_proc;

static peer_proc spawn(const char *self, uint64_t id, const char *dir, int tls) {
    int to[2], from[2];
    char ids[32];
    peer_proc p;
    if (pipe(to) != 0 || pipe(from) != 0) die("pipe", NULL);
    snprintf(ids, sizeof ids, "%" PRIu64, id);
    p.pid = fork();
    if (p.pid < 0) die("fork", NULL);
    if (p.pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        execl(self, self, "--follower", ids, "--dir", dir, tls ? "--tls" : (char *)NULL, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    p.in = fdopen(to[1], "w");
    p.out = fdopen(from[0], "r");
    return p;
}

static void expect(peer_proc *p, const char *want, char *rest, size_t len) {
    char line[512];
    size_t w = strlen(want);
    if (fgets(line, sizeof line, p->out) == NULL || strncmp(line, want, w) != 0) {
        fprintf(stderr, "w4-c: follower %d: expected %s\n", (int)p->pid, want);
        exit(1);
    }
    line[strcspn(line, "\n")] = 0;
    if (rest != NULL) snprintf(rest, len, "%s", line + w + (line[w] == ' '));
}

/* CPU seconds (user + system) of a process, from /proc. */
static double cpu_seconds(pid_t pid) {
    char path[64], buf[2048];
    FILE *f;
    size_t n;
    char *p;
    unsigned long ut = 0, st = 0;
    int field = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL) return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    p = strrchr(buf, ')');
    if (p == NULL) return 0;
    p += 2;
    /* Fields after the name: state is the first; utime the 12th, stime the 13th. */
    while (*p && field < 11) {
        if (*p++ == ' ') field++;
    }
    if (sscanf(p, "%lu %lu", &ut, &st) != 2) return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- the clients ---- */

typedef struct client client;

typedef struct {
    polyraft_host *host;
    uint64_t t0, from_ns, to_ns;
    size_t size;
    atomic_int stop;
    atomic_long in_flight, errors;
} run_state;

struct client {
    run_state *run;
    uint64_t id, seq, sent;
    uint64_t *lat;
    size_t n_lat, cap_lat;
};

static void propose(client *c);

static void done(void *ctx, const polyraft_host_outcome *o) {
    client *c = ctx;
    run_state *r = c->run;
    uint64_t now = now_ns() - r->t0;
    if (o->code == POLYRAFT_OK) {
        if (now >= r->from_ns && now < r->to_ns) {
            if (c->n_lat == c->cap_lat) {
                c->cap_lat = c->cap_lat ? c->cap_lat * 2 : 1024;
                c->lat = realloc(c->lat, c->cap_lat * sizeof *c->lat);
                if (c->lat == NULL) abort();
            }
            c->lat[c->n_lat++] = now - c->sent;
        }
    } else if (atomic_fetch_add(&r->errors, 1) < 5) {
        fprintf(stderr, "w4-c: client %" PRIu64 ": outcome %d: %s\n", c->id, (int)o->code, o->detail);
    }
    if (atomic_load(&r->stop) || now >= r->to_ns) {
        atomic_fetch_sub(&r->in_flight, 1);
        return;
    }
    c->seq++;
    propose(c);
}

static void propose(client *c) {
    uint8_t cmd[4096];
    run_state *r = c->run;
    memset(cmd, 0, r->size);
    memcpy(cmd, &c->id, 8);
    memcpy(cmd + 8, &c->seq, 8);
    c->sent = now_ns() - r->t0;
    if (polyraft_host_propose_async(r->host, GROUP, cmd, r->size, PROPOSE_TIMEOUT_MS, done, c) != POLYRAFT_OK) {
        atomic_fetch_add(&r->errors, 1);
        atomic_fetch_sub(&r->in_flight, 1);
    }
}

static int cmp64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double quantile(const uint64_t *v, size_t n, double q) {
    size_t i;
    if (n == 0) return 0;
    i = (size_t)((double)n * q);
    return (double)v[i < n ? i : n - 1] / 1e6;
}

int main(int argc, char **argv) {
    long concurrency = 1;
    double duration = 10, warmup = 1;
    size_t size = 128;
    const char *dir = NULL;
    int tls = 0, i;
    uint64_t follower_id = 0;
    peer_proc peers[2];
    polyraft_host *h;
    char addrs[3][128];
    pid_t pids[3];
    double c0 = 0, c1 = 0, w0, seconds;
    run_state run;
    client *clients;
    uint64_t *all;
    size_t n_all = 0;
    polyraft_host_info info;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--tls") == 0) {
            tls = 1;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "w4-c: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--concurrency") == 0) concurrency = atol(v);
        else if (strcmp(a, "--duration") == 0) duration = atof(v);
        else if (strcmp(a, "--warmup") == 0) warmup = atof(v);
        else if (strcmp(a, "--size") == 0) size = (size_t)atol(v);
        else if (strcmp(a, "--dir") == 0) dir = v;
        else if (strcmp(a, "--follower") == 0) follower_id = (uint64_t)atoll(v);
        else {
            fprintf(stderr, "w4-c: unknown argument %s\n", a);
            return 2;
        }
    }
    if (dir == NULL || concurrency < 1 || size < 16 || size > 4096 || duration <= 0) {
        fprintf(stderr, "usage: w4 --concurrency C --duration S --size 16..4096 --dir DIR [--warmup S] [--tls]\n");
        return 2;
    }
    if (follower_id != 0) return follower(follower_id, dir, tls);

    mkdir(dir, 0755);
    if (tls) {
        char certs[4096];
        uint64_t ids[3] = {1, 2, 3};
        polyraft_buffer *err = NULL;
        snprintf(certs, sizeof certs, "%s/certs", dir);
        if (polyraft_dev_certificates(certs, ids, 3, &err) != POLYRAFT_OK) die("certificates", err);
    }
    signal(SIGPIPE, SIG_IGN);
    for (i = 0; i < 2; i++) peers[i] = spawn("/proc/self/exe", (uint64_t)i + 2, dir, tls);
    h = start_node(1, dir, tls);
    local_addr(h, addrs[0], sizeof addrs[0]);
    for (i = 0; i < 2; i++) expect(&peers[i], "ready", addrs[i + 1], sizeof addrs[i + 1]);
    for (i = 0; i < 3; i++) {
        int j;
        if (i > 0 && polyraft_host_add_peer(h, (uint64_t)i + 1, addrs[i]) != POLYRAFT_OK) die("add_peer", NULL);
        for (j = 0; j < 2; j++) fprintf(peers[j].in, "peer %d %s\n", i + 1, addrs[i]);
    }
    for (i = 0; i < 2; i++) {
        fprintf(peers[i].in, "start\n");
        fflush(peers[i].in);
    }
    start_group(h, 1);
    for (i = 0; i < 2; i++) expect(&peers[i], "started", NULL, 0);
    w0 = now_s();
    for (;;) {
        if (polyraft_host_group_info(h, GROUP, &info) == POLYRAFT_OK && info.leader != 0) {
            if (info.is_leader) break;
            /* Another node won: hand the leadership to node 1, where the clients are. */
            polyraft_host_transfer_leader(h, GROUP, 1, 5000);
            continue;
        }
        if (now_s() - w0 > 120) {
            fprintf(stderr, "w4-c: no leader after 120 s\n");
            return 1;
        }
        sleep_s(0.02);
    }
    fprintf(stderr, "w4-c: node 1 leads after %.1f s\n", now_s() - w0);

    pids[0] = getpid();
    pids[1] = peers[0].pid;
    pids[2] = peers[1].pid;
    memset(&run, 0, sizeof run);
    run.host = h;
    run.size = size;
    run.t0 = now_ns();
    run.from_ns = (uint64_t)(warmup * 1e9);
    run.to_ns = run.from_ns + (uint64_t)(duration * 1e9);
    atomic_store(&run.in_flight, concurrency);
    clients = calloc((size_t)concurrency, sizeof *clients);
    if (clients == NULL) die("out of memory", NULL);
    for (i = 0; i < concurrency; i++) {
        clients[i].run = &run;
        clients[i].id = (uint64_t)i;
    }
    for (i = 0; i < concurrency; i++) propose(&clients[i]);
    sleep_s(warmup - (double)(now_ns() - run.t0) / 1e9);
    for (i = 0; i < 3; i++) c0 += cpu_seconds(pids[i]);
    w0 = now_s();
    sleep_s((double)run.to_ns / 1e9 - (double)(now_ns() - run.t0) / 1e9);
    for (i = 0; i < 3; i++) c1 += cpu_seconds(pids[i]);
    seconds = now_s() - w0;
    atomic_store(&run.stop, 1);
    w0 = now_s();
    while (atomic_load(&run.in_flight) > 0) {
        if (now_s() - w0 > PROPOSE_TIMEOUT_MS / 1000.0 + 5) {
            fprintf(stderr, "w4-c: %ld proposals never completed\n", (long)atomic_load(&run.in_flight));
            return 1;
        }
        sleep_s(0.005);
    }
    for (i = 0; i < 2; i++) {
        fprintf(peers[i].in, "quit\n");
        fclose(peers[i].in);
        fclose(peers[i].out);
        waitpid(peers[i].pid, NULL, 0);
    }
    polyraft_host_close(h);
    polyraft_host_free(h);

    for (i = 0; i < concurrency; i++) n_all += clients[i].n_lat;
    all = malloc((n_all ? n_all : 1) * sizeof *all);
    if (all == NULL) die("out of memory", NULL);
    n_all = 0;
    for (i = 0; i < concurrency; i++) {
        memcpy(all + n_all, clients[i].lat, clients[i].n_lat * sizeof *all);
        n_all += clients[i].n_lat;
        free(clients[i].lat);
    }
    qsort(all, n_all, sizeof *all, cmp64);
    printf("{\"library\": \"polyraft\", \"variant\": \"c%s\", \"concurrency\": %ld, \"writes\": %zu, \"seconds\": %.3f, "
           "\"writes_per_s\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, \"cpu_s\": %.2f, \"fsync\": true, "
           "\"errors\": %ld}\n",
           tls ? "-tls" : "", concurrency, n_all, seconds, (double)n_all / seconds, quantile(all, n_all, 0.5),
           quantile(all, n_all, 0.99), quantile(all, n_all, 0.999), c1 - c0, (long)atomic_load(&run.errors));
    free(all);
    free(clients);
    return 0;
}
