/* The machine's limits for W4, in the runners' JSON shape (see ../README.md):
 *
 *   --mode fdatasync      each of C threads appends --size-byte records to its own file under
 *                         --dir and calls fdatasync after every one: durable appends per second
 *                         and the latency of one append + fdatasync.
 *   --mode fdatasync-prealloc  the same, but each file is first filled with zeros and synced
 *                         (64 MiB) and the records overwrite it in place, wrapping around: the
 *                         cost of a log that preallocates its segments (as canonical/raft and
 *                         bbolt do), where fdatasync need not commit a new file size.
 *   --mode odirect-dsync  files preallocated with fallocate (64 MiB), opened O_DIRECT|O_DSYNC,
 *                         each record padded to one 4 KiB block and written in place with pwrite
 *                         (no fdatasync): the path canonical/raft's libuv backend takes for its
 *                         segments.
 *   --mode loopback-rtt   each of C threads ping-pongs --size bytes over its own loopback TCP
 *                         connection (TCP_NODELAY) with an echo server in a second process:
 *                         round trips per second and the latency of one round trip.
 *
 * Common options: --concurrency C --duration S --size B --dir D [--warmup S]. One JSON line on
 * stdout (library "limit", variant = the mode); logs go to stderr; non-zero exit on failure. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

enum mode { FDATASYNC, FDATASYNC_PREALLOC, ODIRECT_DSYNC, LOOPBACK_RTT };

/* Direct I/O block: records are padded to it in odirect-dsync mode. */
#define DIRECT_BLOCK 4096u

/* Size of each preallocated file in fdatasync-prealloc mode. */
#define PREALLOC_BYTES (64u << 20)

/* Phases shared by the worker threads: 0 warmup, 1 measured window, 2 stop. */
static atomic_int phase;

static struct {
    enum mode mode;
    int concurrency;
    double duration, warmup;
    size_t size;
    const char *dir;
} opt = {.concurrency = 1, .duration = 10, .warmup = 1, .size = 128};

/* One worker's state and its latencies in the window. */
struct worker {
    pthread_t thread;
    int index, fd;
    uint64_t *lat;
    size_t nlat, caplat;
    char err[160];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int record(struct worker *w, uint64_t ns)
{
    if (w->nlat == w->caplat) {
        size_t cap = w->caplat ? w->caplat * 2 : 65536;
        uint64_t *p = realloc(w->lat, cap * sizeof *p);
        if (p == NULL)
            return -1;
        w->lat = p;
        w->caplat = cap;
    }
    w->lat[w->nlat++] = ns;
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int read_all(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Appends one record and makes it durable, until the stop phase. */
static void *fdatasync_worker(void *arg)
{
    struct worker *w = arg;
    size_t len = opt.size;
    if (opt.mode == ODIRECT_DSYNC) /* direct I/O writes whole aligned blocks */
        len = (opt.size + DIRECT_BLOCK - 1) / DIRECT_BLOCK * DIRECT_BLOCK;
    char *rec = NULL;
    if (posix_memalign((void **)&rec, DIRECT_BLOCK, len) != 0) {
        snprintf(w->err, sizeof w->err, "out of memory");
        return NULL;
    }
    memset(rec, 0xab, len);
    for (uint64_t seq = 0;; seq++) {
        int ph = atomic_load(&phase);
        if (ph == 2)
            break;
        memcpy(rec, &seq, sizeof seq < opt.size ? sizeof seq : opt.size);
        uint64_t t = now_ns();
        int rv;
        if (opt.mode == FDATASYNC) {
            rv = write_all(w->fd, rec, opt.size);
        } else {
            off_t slots = PREALLOC_BYTES / len;
            off_t off = (off_t)(seq % (uint64_t)slots) * (off_t)len;
            rv = pwrite(w->fd, rec, len, off) == (ssize_t)len ? 0 : -1;
        }
        if (rv == 0 && opt.mode != ODIRECT_DSYNC)
            rv = fdatasync(w->fd);
        if (rv != 0) {
            snprintf(w->err, sizeof w->err, "append: %s", strerror(errno));
            break;
        }
        if (ph == 1 && record(w, now_ns() - t) != 0) {
            snprintf(w->err, sizeof w->err, "out of memory");
            break;
        }
    }
    free(rec);
    return NULL;
}

/* Sends one message and waits for its echo, until the stop phase. */
static void *rtt_worker(void *arg)
{
    struct worker *w = arg;
    char *buf = calloc(1, opt.size);
    if (buf == NULL) {
        snprintf(w->err, sizeof w->err, "out of memory");
        return NULL;
    }
    for (;;) {
        int ph = atomic_load(&phase);
        if (ph == 2)
            break;
        uint64_t t = now_ns();
        if (write_all(w->fd, buf, opt.size) != 0 || read_all(w->fd, buf, opt.size) != 0) {
            snprintf(w->err, sizeof w->err, "ping-pong: %s", strerror(errno));
            break;
        }
        if (ph == 1 && record(w, now_ns() - t) != 0) {
            snprintf(w->err, sizeof w->err, "out of memory");
            break;
        }
    }
    free(buf);
    return NULL;
}

/* The echo server's per-connection thread (in the child process). */
static void *echo_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(opt.size);
    while (buf != NULL && read_all(fd, buf, opt.size) == 0 && write_all(fd, buf, opt.size) == 0) {
    }
    free(buf);
    close(fd);
    return NULL;
}

/* The echo server process: accepts C connections and echoes each on its own thread. */
static void echo_server(int lfd)
{
    pthread_t *t = calloc((size_t)opt.concurrency, sizeof *t);
    if (t == NULL)
        _exit(1);
    for (int i = 0; i < opt.concurrency; i++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            _exit(1);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (pthread_create(&t[i], NULL, echo_thread, (void *)(intptr_t)fd) != 0)
            _exit(1);
    }
    for (int i = 0; i < opt.concurrency; i++)
        pthread_join(t[i], NULL);
    _exit(0);
}

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
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (p == NULL ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Fills a file with PREALLOC_BYTES of zeros and syncs it, so later writes overwrite
 * allocated, written blocks and the file's size never changes. */
static int prefill(int fd)
{
    static char zeros[1 << 20];
    for (unsigned done = 0; done < PREALLOC_BYTES; done += sizeof zeros)
        if (write_all(fd, zeros, sizeof zeros) != 0)
            return -1;
    return fsync(fd);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *s, size_t n, double q)
{
    long i = (long)(q * (double)n + 0.5) - 1;
    if (i < 0)
        i = 0;
    if ((size_t)i >= n)
        i = (long)n - 1;
    return (double)s[i] / 1e6;
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: limits --mode fdatasync|fdatasync-prealloc|odirect-dsync|loopback-rtt --concurrency C --duration S "
                    "--size B --dir D [--warmup S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *mode = NULL;
    static const struct option longopts[] = {
        {"mode", required_argument, 0, 'm'},   {"concurrency", required_argument, 0, 'c'},
        {"duration", required_argument, 0, 'd'}, {"warmup", required_argument, 0, 'w'},
        {"size", required_argument, 0, 's'},   {"dir", required_argument, 0, 'D'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (ch) {
        case 'm': mode = optarg; break;
        case 'c': opt.concurrency = (int)strtol(optarg, &end, 10); break;
        case 'd': opt.duration = strtod(optarg, &end); break;
        case 'w': opt.warmup = strtod(optarg, &end); break;
        case 's': opt.size = (size_t)strtoul(optarg, &end, 10); break;
        case 'D': opt.dir = optarg; break;
        default: usage();
        }
        if (end != NULL && *end != 0) {
            fprintf(stderr, "limits: bad number %s\n", optarg);
            return 2;
        }
    }
    if (mode == NULL || optind != argc || opt.concurrency < 1 || opt.concurrency > 4096 ||
        opt.duration <= 0 || opt.warmup < 0 || opt.size < 1)
        usage();
    if (strcmp(mode, "fdatasync") == 0)
        opt.mode = FDATASYNC;
    else if (strcmp(mode, "fdatasync-prealloc") == 0)
        opt.mode = FDATASYNC_PREALLOC;
    else if (strcmp(mode, "odirect-dsync") == 0)
        opt.mode = ODIRECT_DSYNC;
    else if (strcmp(mode, "loopback-rtt") == 0)
        opt.mode = LOOPBACK_RTT;
    else
        usage();
    if (opt.mode != LOOPBACK_RTT && (opt.dir == NULL || opt.size > PREALLOC_BYTES))
        usage();
    signal(SIGPIPE, SIG_IGN);

    struct worker *w = calloc((size_t)opt.concurrency, sizeof *w);
    if (w == NULL)
        return 1;
    pid_t child = -1;
    if (opt.mode != LOOPBACK_RTT) {
        if (mkdir(opt.dir, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "limits: mkdir %s: %s\n", opt.dir, strerror(errno));
            return 1;
        }
        for (int i = 0; i < opt.concurrency; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/append-%d.log", opt.dir, i);
            int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
            if (opt.mode == FDATASYNC)
                flags |= O_APPEND;
            w[i].fd = open(path, flags, 0644);
            if (w[i].fd < 0) {
                fprintf(stderr, "limits: open %s: %s\n", path, strerror(errno));
                return 1;
            }
            /* odirect-dsync allocates like canonical/raft (fallocate, blocks left unwritten);
             * fdatasync-prealloc writes the zeros so that no write changes metadata */
            if (opt.mode == ODIRECT_DSYNC &&
                ((errno = posix_fallocate(w[i].fd, 0, PREALLOC_BYTES)) != 0 || fsync(w[i].fd) != 0)) {
                fprintf(stderr, "limits: fallocate %s: %s\n", path, strerror(errno));
                return 1;
            }
            if (opt.mode == FDATASYNC_PREALLOC && prefill(w[i].fd) != 0) {
                fprintf(stderr, "limits: prefill %s: %s\n", path, strerror(errno));
                return 1;
            }
            if (opt.mode == ODIRECT_DSYNC) {
                close(w[i].fd);
                w[i].fd = open(path, O_WRONLY | O_DSYNC | O_DIRECT | O_CLOEXEC);
                if (w[i].fd < 0) {
                    fprintf(stderr, "limits: open %s O_DIRECT|O_DSYNC: %s\n", path, strerror(errno));
                    return 1;
                }
            }
        }
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        int lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
            listen(lfd, opt.concurrency) != 0 ||
            getsockname(lfd, (struct sockaddr *)&a, &len) != 0) {
            fprintf(stderr, "limits: listen on loopback: %s\n", strerror(errno));
            return 1;
        }
        child = fork();
        if (child < 0) {
            fprintf(stderr, "limits: fork: %s\n", strerror(errno));
            return 1;
        }
        if (child == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            echo_server(lfd);
        }
        close(lfd);
        for (int i = 0; i < opt.concurrency; i++) {
            int one = 1;
            w[i].fd = socket(AF_INET, SOCK_STREAM, 0);
            if (w[i].fd < 0 || connect(w[i].fd, (struct sockaddr *)&a, sizeof a) != 0) {
                fprintf(stderr, "limits: connect: %s\n", strerror(errno));
                kill(child, SIGKILL);
                return 1;
            }
            setsockopt(w[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
    }

    for (int i = 0; i < opt.concurrency; i++) {
        w[i].index = i;
        if (pthread_create(&w[i].thread, NULL, opt.mode == LOOPBACK_RTT ? rtt_worker : fdatasync_worker,
                           &w[i]) != 0) {
            fprintf(stderr, "limits: pthread_create failed\n");
            return 1;
        }
    }
    sleep_s(opt.warmup);
    double cpu0 = cpu_seconds(getpid()) + (child > 0 ? cpu_seconds(child) : 0);
    uint64_t t0 = now_ns();
    atomic_store(&phase, 1);
    sleep_s(opt.duration);
    atomic_store(&phase, 2);
    uint64_t t1 = now_ns();
    double cpu1 = cpu_seconds(getpid()) + (child > 0 ? cpu_seconds(child) : 0);
    int failed = 0;
    size_t total = 0;
    for (int i = 0; i < opt.concurrency; i++) {
        pthread_join(w[i].thread, NULL);
        close(w[i].fd); /* also ends the echo thread for this connection */
        if (w[i].err[0]) {
            fprintf(stderr, "limits: worker %d: %s\n", i, w[i].err);
            failed = 1;
        }
        total += w[i].nlat;
    }
    if (child > 0) {
        int st;
        if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "limits: echo server failed\n");
            failed = 1;
        }
    }
    if (failed || total == 0 || cpu0 < 0 || cpu1 < 0) {
        if (!failed)
            fprintf(stderr, "limits: nothing measured\n");
        return 1;
    }
    uint64_t *all = malloc(total * sizeof *all);
    if (all == NULL)
        return 1;
    size_t k = 0;
    for (int i = 0; i < opt.concurrency; i++) {
        memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
        k += w[i].nlat;
    }
    qsort(all, total, sizeof *all, cmp_u64);
    double secs = (double)(t1 - t0) / 1e9;
    printf("{\"library\": \"limit\", \"variant\": \"%s\", \"concurrency\": %d, \"writes\": %zu, "
           "\"seconds\": %.6f, \"writes_per_s\": %.3f, \"p50_ms\": %.4f, \"p99_ms\": %.4f, "
           "\"p999_ms\": %.4f, \"cpu_s\": %.2f, \"fsync\": %s}\n",
           mode, opt.concurrency, total, secs, (double)total / secs, pct(all, total, 0.5),
           pct(all, total, 0.99), pct(all, total, 0.999), cpu1 - cpu0,
           opt.mode == LOOPBACK_RTT ? "false" : "true");
    return 0;
}
