/* W4 reference runner for canonical/raft (Debian's libraft-dev) with its libuv disk backend
 * (raft_uv_init) and TCP transport (raft_uv_tcp_init). See ../README.md for the contract.
 *
 * Run without --node it is node 1: it reserves three loopback ports, spawns nodes 2 and 3 as
 * copies of itself (separate OS processes), bootstraps the three-voter configuration on every
 * node and gives nodes 2 and 3 a longer election timeout so that node 1 leads, then keeps C
 * raft_apply requests in flight from its event loop: each callback (the entry committed on a
 * quorum and applied to node 1's FSM) records the latency and submits the next 128-byte
 * command. It prints one JSON line on stdout; logs go to stderr. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <raft.h>
#include <raft/uv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* Command line of one node. */
struct options {
    int concurrency;
    double duration, warmup;
    size_t size;
    const char *dir;
    int node;               /* 0 = node 1 (launcher and leader); 2 or 3 = a follower */
    const char *addrs[3];   /* "127.0.0.1:PORT" of nodes 1..3 */
    unsigned snapshot_threshold; /* 0 = the library's default */
};

/* Phases of node 1's run, driven by its poll timer. */
enum phase { WAIT_LEADER, WARMUP, MEASURE, DRAIN, CLOSING };

/* One client: one raft_apply kept in flight. */
struct client {
    struct raft_apply req;
    struct node *node;
    uint64_t start_ns;
    uint32_t id, seq;
};

/* Everything one node owns. */
struct node {
    struct options o;
    uv_loop_t loop;
    uv_timer_t timer;
    uv_signal_t sigterm;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft raft;
    uint64_t count; /* the replicated counter */
    /* node 1 only */
    enum phase phase;
    struct client *clients;
    int outstanding;
    uint64_t phase_end_ns, t0_ns, t1_ns;
    double cpu0, cpu1;
    pid_t children[2];
    uint64_t *lat;
    size_t nlat, caplat;
    int failed;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the replicated state machine: a counter ---- */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct node *n = fsm->data;
    if (buf->len < 8)
        return RAFT_MALFORMED;
    n->count++;
    *result = NULL;
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct node *n = fsm->data;
    *bufs = raft_malloc(sizeof **bufs);
    if (*bufs == NULL)
        return RAFT_NOMEM;
    (*bufs)[0].len = sizeof(uint64_t);
    (*bufs)[0].base = raft_malloc(sizeof(uint64_t));
    if ((*bufs)[0].base == NULL) {
        raft_free(*bufs);
        return RAFT_NOMEM;
    }
    memcpy((*bufs)[0].base, &n->count, sizeof(uint64_t));
    *n_bufs = 1;
    return 0;
}

/* Version 2's hook: frees what fsm_snapshot allocated once the snapshot is written. */
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    (void)fsm;
    if (*bufs != NULL) {
        for (unsigned i = 0; i < *n_bufs; i++)
            raft_free((*bufs)[i].base);
        raft_free(*bufs);
    }
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct node *n = fsm->data;
    if (buf->len != sizeof(uint64_t))
        return RAFT_MALFORMED;
    memcpy(&n->count, buf->base, sizeof(uint64_t));
    raft_free(buf->base);
    return 0;
}

/* ---- process CPU time from /proc ---- */

/* User+system CPU seconds of process pid, or -1 when /proc cannot be read. */
static double cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL)
        return -1;
    unsigned long long ut, st;
    /* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double cluster_cpu(struct node *n)
{
    double t = cpu_seconds(getpid());
    for (int i = 0; i < 2; i++) {
        double c = cpu_seconds(n->children[i]);
        if (c < 0 || t < 0)
            return -1;
        t += c;
    }
    return t;
}

/* ---- node lifecycle ---- */

static void loop_handle_close_cb(uv_handle_t *h) { (void)h; }

static void on_raft_closed(struct raft *r)
{
    struct node *n = r->data;
    raft_uv_close(&n->io);
    raft_uv_tcp_close(&n->transport);
    uv_close((uv_handle_t *)&n->timer, loop_handle_close_cb);
    uv_close((uv_handle_t *)&n->sigterm, loop_handle_close_cb);
}

static void node_close(struct node *n)
{
    if (n->phase == CLOSING)
        return;
    n->phase = CLOSING;
    uv_timer_stop(&n->timer);
    raft_close(&n->raft, on_raft_closed);
}

static void on_sigterm(uv_signal_t *s, int signum)
{
    (void)signum;
    node_close(s->data);
}

static int node_init(struct node *n, int id)
{
    char ndir[4096];
    int rv;
    snprintf(ndir, sizeof ndir, "%s/node%d", n->o.dir, id);
    if (mkdir(ndir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "canonical-raft: mkdir %s: %s\n", ndir, strerror(errno));
        return -1;
    }
    if (uv_loop_init(&n->loop) != 0)
        return -1;
    uv_timer_init(&n->loop, &n->timer);
    n->timer.data = n;
    uv_signal_init(&n->loop, &n->sigterm);
    n->sigterm.data = n;
    uv_signal_start(&n->sigterm, on_sigterm, SIGTERM);
    if ((rv = raft_uv_tcp_init(&n->transport, &n->loop)) != 0) {
        fprintf(stderr, "canonical-raft: raft_uv_tcp_init: %s\n", raft_strerror(rv));
        return -1;
    }
    if ((rv = raft_uv_init(&n->io, &n->loop, ndir, &n->transport)) != 0) {
        fprintf(stderr, "canonical-raft: raft_uv_init: %s\n", raft_strerror(rv));
        return -1;
    }
    n->fsm.version = 2;
    n->fsm.data = n;
    n->fsm.apply = fsm_apply;
    n->fsm.snapshot = fsm_snapshot;
    n->fsm.snapshot_finalize = fsm_snapshot_finalize;
    n->fsm.restore = fsm_restore;
    if ((rv = raft_init(&n->raft, &n->io, &n->fsm, (raft_id)id, n->o.addrs[id - 1])) != 0) {
        fprintf(stderr, "canonical-raft: raft_init: %s\n", raft_errmsg(&n->raft));
        return -1;
    }
    n->raft.data = n;
    if (n->o.snapshot_threshold > 0)
        raft_set_snapshot_threshold(&n->raft, n->o.snapshot_threshold);
    /* Every node is bootstrapped with the same configuration (the library's documented way);
     * the followers' election timeout is five times the default so that node 1, with the
     * default 1 s, campaigns first and leads. Once it leads its heartbeats keep them quiet, so
     * this changes nothing on the commit path. */
    if (id != 1)
        raft_set_election_timeout(&n->raft, 5000);
    {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        for (int i = 0; i < 3; i++) {
            if (raft_configuration_add(&conf, (raft_id)(i + 1), n->o.addrs[i], RAFT_VOTER) != 0) {
                raft_configuration_close(&conf);
                return -1;
            }
        }
        rv = raft_bootstrap(&n->raft, &conf);
        raft_configuration_close(&conf);
        if (rv != 0) {
            fprintf(stderr, "canonical-raft: raft_bootstrap: %s\n", raft_errmsg(&n->raft));
            return -1;
        }
    }
    if ((rv = raft_start(&n->raft)) != 0) {
        fprintf(stderr, "canonical-raft: raft_start: %s\n", raft_errmsg(&n->raft));
        return -1;
    }
    return 0;
}

/* ---- node 1's clients ---- */

static void fail(struct node *n, const char *what, int rv)
{
    fprintf(stderr, "canonical-raft: %s: %s (%s)\n", what, raft_strerror(rv), raft_errmsg(&n->raft));
    n->failed = 1;
    if (n->phase < DRAIN)
        n->phase = DRAIN;
}

static void apply_cb(struct raft_apply *req, int status, void *result);

/* Submits client c's next command: a raft_malloc'd buffer that raft_apply takes over. */
static void submit(struct node *n, struct client *c)
{
    struct raft_buffer buf;
    buf.len = n->o.size;
    buf.base = raft_malloc(buf.len);
    if (buf.base == NULL) {
        fail(n, "raft_malloc", RAFT_NOMEM);
        return;
    }
    memset(buf.base, 0xab, buf.len);
    memcpy(buf.base, &c->id, 4);
    memcpy((char *)buf.base + 4, &c->seq, 4);
    c->seq++;
    c->req.data = c;
    c->start_ns = now_ns();
    int rv = raft_apply(&n->raft, &c->req, &buf, 1, apply_cb);
    if (rv != 0) {
        raft_free(buf.base);
        fail(n, "raft_apply", rv);
        return;
    }
    n->outstanding++;
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    (void)result;
    struct client *c = req->data;
    struct node *n = c->node;
    n->outstanding--;
    if (status != 0) {
        fail(n, "apply callback", status);
    } else if (n->phase == MEASURE) {
        if (n->nlat == n->caplat) {
            n->caplat = n->caplat ? n->caplat * 2 : 65536;
            uint64_t *p = realloc(n->lat, n->caplat * sizeof *p);
            if (p == NULL) {
                fail(n, "realloc", RAFT_NOMEM);
                return;
            }
            n->lat = p;
        }
        n->lat[n->nlat++] = now_ns() - c->start_ns;
    }
    if (n->phase == WARMUP || n->phase == MEASURE)
        submit(n, c); /* closed loop: the next command once this one is applied */
    /* the drain ends in on_tick, outside the library's callback */
}

/* Node 1's poll timer: waits to lead, then moves through warmup, the window and the drain. */
static void on_tick(uv_timer_t *t)
{
    struct node *n = t->data;
    uint64_t now = now_ns();
    switch (n->phase) {
    case WAIT_LEADER:
        if (now > n->phase_end_ns) {
            fprintf(stderr, "canonical-raft: node 1 did not become leader within 30 s\n");
            n->failed = 1;
            node_close(n);
            return;
        }
        if (raft_state(&n->raft) != RAFT_LEADER)
            return;
        fprintf(stderr, "canonical-raft: node 1 leads; %d clients, warmup %.1fs, window %.1fs\n",
                n->o.concurrency, n->o.warmup, n->o.duration);
        n->phase = WARMUP;
        n->phase_end_ns = now + (uint64_t)(n->o.warmup * 1e9);
        for (int i = 0; i < n->o.concurrency && n->phase == WARMUP; i++)
            submit(n, &n->clients[i]);
        return;
    case WARMUP:
        if (now < n->phase_end_ns)
            return;
        n->cpu0 = cluster_cpu(n);
        n->t0_ns = now_ns();
        n->phase_end_ns = n->t0_ns + (uint64_t)(n->o.duration * 1e9);
        n->phase = MEASURE;
        return;
    case MEASURE:
        if (now < n->phase_end_ns)
            return;
        n->t1_ns = now_ns();
        n->cpu1 = cluster_cpu(n);
        n->phase = DRAIN;
        for (int i = 0; i < 2; i++) {
            int st;
            if (waitpid(n->children[i], &st, WNOHANG) != 0) {
                fprintf(stderr, "canonical-raft: follower node %d exited during the run\n", i + 2);
                n->failed = 1;
            }
        }
        /* fall through */
    case DRAIN:
        if (raft_state(&n->raft) != RAFT_LEADER) {
            fprintf(stderr, "canonical-raft: node 1 lost leadership\n");
            n->failed = 1;
            node_close(n);
            return;
        }
        if (n->outstanding == 0) {
            node_close(n);
        } else if (now > n->phase_end_ns + 60000000000ull) {
            fprintf(stderr, "canonical-raft: %d writes still pending 60 s after the window\n",
                    n->outstanding);
            n->failed = 1;
            node_close(n);
        }
        return;
    case CLOSING:
        return;
    }
}

/* ---- process setup ---- */

/* Reserves three loopback ports by binding port 0; the sockets are closed before raft binds. */
static int reserve_addrs(char out[3][32])
{
    int fds[3];
    for (int i = 0; i < 3; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &len) != 0)
            return -1;
        snprintf(out[i], 32, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    }
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    return 0;
}

static pid_t spawn_follower(struct node *n, int id, const char *addrs_csv)
{
    char idbuf[8];
    snprintf(idbuf, sizeof idbuf, "%d", id);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive node 1 */
    char thr[16];
    snprintf(thr, sizeof thr, "%u", n->o.snapshot_threshold);
    char *argv[] = {"canonical-raft", "--node", idbuf, "--dir", (char *)n->o.dir, "--addrs",
                    (char *)addrs_csv, "--snapshot-threshold", thr, NULL};
    execv("/proc/self/exe", argv);
    fprintf(stderr, "canonical-raft: exec follower: %s\n", strerror(errno));
    _exit(127);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* q-quantile of sorted latencies in milliseconds (nearest rank). */
static double pct(const uint64_t *s, size_t n, double q)
{
    long i = (long)(q * (double)n + 0.5) - 1;
    if (i < 0)
        i = 0;
    if ((size_t)i >= n)
        i = (long)n - 1;
    return (double)s[i] / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: canonical-raft --concurrency C --duration S --size B --dir D "
                    "[--warmup S] [--snapshot-threshold N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static struct node n; /* large, zeroed */
    const char *addrs_csv = NULL;
    n.o.concurrency = 1;
    n.o.duration = 10;
    n.o.warmup = 2;
    n.o.size = 128;
    static const struct option longopts[] = {
        {"concurrency", required_argument, 0, 'c'}, {"duration", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'w'},      {"size", required_argument, 0, 's'},
        {"dir", required_argument, 0, 'D'},         {"node", required_argument, 0, 'n'},
        {"addrs", required_argument, 0, 'a'},
        {"snapshot-threshold", required_argument, 0, 't'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (ch) {
        case 'c': n.o.concurrency = (int)strtol(optarg, &end, 10); break;
        case 'd': n.o.duration = strtod(optarg, &end); break;
        case 'w': n.o.warmup = strtod(optarg, &end); break;
        case 's': n.o.size = (size_t)strtoul(optarg, &end, 10); break;
        case 'D': n.o.dir = optarg; break;
        case 'n': n.o.node = (int)strtol(optarg, &end, 10); break;
        case 'a': addrs_csv = optarg; break;
        case 't': n.o.snapshot_threshold = (unsigned)strtoul(optarg, &end, 10); break;
        default: usage();
        }
        if (end != NULL && *end != 0) {
            fprintf(stderr, "canonical-raft: bad number %s\n", optarg);
            return 2;
        }
    }
    if (optind != argc || n.o.dir == NULL || n.o.concurrency < 1 || n.o.duration <= 0 ||
        n.o.warmup < 0 || n.o.size < 8)
        usage();
    if (mkdir(n.o.dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "canonical-raft: mkdir %s: %s\n", n.o.dir, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    static char addrs[3][32];
    if (n.o.node != 0) { /* a follower: serve until SIGTERM */
        if (addrs_csv == NULL || n.o.node < 2 || n.o.node > 3 ||
            sscanf(addrs_csv, "%31[^,],%31[^,],%31s", addrs[0], addrs[1], addrs[2]) != 3)
            usage();
        for (int i = 0; i < 3; i++)
            n.o.addrs[i] = addrs[i];
        n.phase = MEASURE; /* not CLOSING: lets node_close run once */
        if (node_init(&n, n.o.node) != 0)
            return 1;
        uv_run(&n.loop, UV_RUN_DEFAULT);
        uv_loop_close(&n.loop);
        return 0;
    }

    if (reserve_addrs(addrs) != 0) {
        fprintf(stderr, "canonical-raft: cannot reserve loopback ports: %s\n", strerror(errno));
        return 1;
    }
    char csv[100];
    snprintf(csv, sizeof csv, "%s,%s,%s", addrs[0], addrs[1], addrs[2]);
    for (int i = 0; i < 3; i++)
        n.o.addrs[i] = addrs[i];
    for (int i = 0; i < 2; i++) {
        n.children[i] = spawn_follower(&n, i + 2, csv);
        if (n.children[i] < 0) {
            fprintf(stderr, "canonical-raft: fork: %s\n", strerror(errno));
            return 1;
        }
    }
    n.clients = calloc((size_t)n.o.concurrency, sizeof *n.clients);
    if (n.clients == NULL)
        return 1;
    for (int i = 0; i < n.o.concurrency; i++) {
        n.clients[i].node = &n;
        n.clients[i].id = (uint32_t)i;
    }
    int rc = 1;
    if (node_init(&n, 1) == 0) {
        n.phase = WAIT_LEADER;
        n.phase_end_ns = now_ns() + 30000000000ull;
        uv_timer_start(&n.timer, on_tick, 1, 1);
        uv_run(&n.loop, UV_RUN_DEFAULT);
        uv_loop_close(&n.loop);
        rc = n.failed ? 1 : 0;
    }
    for (int i = 0; i < 2; i++) {
        int st;
        kill(n.children[i], SIGTERM);
        waitpid(n.children[i], &st, 0);
    }
    if (rc != 0)
        return rc;
    if (n.nlat == 0 || n.cpu0 < 0 || n.cpu1 < 0) {
        fprintf(stderr, "canonical-raft: no write completed in the window, or no CPU reading\n");
        return 1;
    }
    qsort(n.lat, n.nlat, sizeof *n.lat, cmp_u64);
    double secs = (double)(n.t1_ns - n.t0_ns) / 1e9;
    char variant[48] = "default";
    if (n.o.snapshot_threshold > 0)
        snprintf(variant, sizeof variant, "snapshot-threshold=%u", n.o.snapshot_threshold);
    printf("{\"library\": \"canonical-raft\", \"variant\": \"%s\", \"concurrency\": %d, "
           "\"writes\": %zu, \"seconds\": %.6f, \"writes_per_s\": %.3f, \"p50_ms\": %.4f, "
           "\"p99_ms\": %.4f, \"p999_ms\": %.4f, \"cpu_s\": %.2f, \"fsync\": true}\n",
           variant, n.o.concurrency, n.nlat, secs, (double)n.nlat / secs,
           pct(n.lat, n.nlat, 0.5), pct(n.lat, n.nlat, 0.99), pct(n.lat, n.nlat, 0.999),
           n.cpu1 - n.cpu0);
    return 0;
}
