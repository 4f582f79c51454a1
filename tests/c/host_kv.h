/* A small key-value state machine for the host tests: the command
 * "key=value" sets a key and returns its old value; a lookup of "key"
 * returns its value; a snapshot is "key=value\n" lines. Counters record
 * the callbacks, and `fail_*` make a callback fail on purpose. */
#ifndef POLYRAFT_TEST_HOST_KV_H
#define POLYRAFT_TEST_HOST_KV_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "polyraft.h"

typedef struct kv_pair {
    char *key;
    char *value;
} kv_pair;

typedef struct kv {
    kv_pair *pairs;
    size_t n, cap;
    unsigned long applied;   /* entries applied */
    int fail_apply;          /* apply returns an error */
    int short_results;       /* apply pushes one result too few */
    int fail_snapshot;       /* snapshot returns an error */
    int fail_restore;        /* restore returns an error */
    int fail_lookup;         /* lookup returns an error */
    int *destroyed;          /* incremented by destroy, when set */
} kv;

static char *kv_strndup(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (s == NULL) abort();
    if (n > 0) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static kv_pair *kv_find(kv *m, const char *key) {
    size_t i;
    for (i = 0; i < m->n; i++)
        if (strcmp(m->pairs[i].key, key) == 0) return &m->pairs[i];
    return NULL;
}

static void kv_clear(kv *m) {
    size_t i;
    for (i = 0; i < m->n; i++) {
        free(m->pairs[i].key);
        free(m->pairs[i].value);
    }
    free(m->pairs);
    m->pairs = NULL;
    m->n = m->cap = 0;
}

/* Sets key to value (taking both strings); returns the old value or NULL. */
static char *kv_set(kv *m, char *key, char *value) {
    kv_pair *p = kv_find(m, key);
    char *old;
    if (p != NULL) {
        old = p->value;
        p->value = value;
        free(key);
        return old;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 8;
        m->pairs = realloc(m->pairs, m->cap * sizeof *m->pairs);
        if (m->pairs == NULL) abort();
    }
    m->pairs[m->n].key = key;
    m->pairs[m->n].value = value;
    m->n++;
    return NULL;
}

/* Applies one "key=value" command (a command without '=' sets key to ""). */
static char *kv_apply_one(kv *m, const uint8_t *cmd, size_t len) {
    const uint8_t *eq = len ? memchr(cmd, '=', len) : NULL;
    size_t klen = eq ? (size_t)(eq - cmd) : len;
    size_t vlen = eq ? len - klen - 1 : 0;
    return kv_set(m, kv_strndup(cmd, klen), kv_strndup(eq ? eq + 1 : cmd, vlen));
}

static uint32_t kv_apply(void *ctx, const polyraft_host_entry *entries, size_t n, polyraft_host_results *results) {
    kv *m = ctx;
    size_t i;
    if (m->fail_apply) return POLYRAFT_STORAGE_FAILURE;
    for (i = 0; i < n; i++) {
        char *old = kv_apply_one(m, entries[i].data, entries[i].len);
        polyraft_result rc = POLYRAFT_OK;
        m->applied++;
        if (!(m->short_results && i == n - 1))
            rc = polyraft_host_results_push(results, (const uint8_t *)old, old ? strlen(old) : 0);
        free(old);
        if (rc != POLYRAFT_OK) return rc;
    }
    return POLYRAFT_OK;
}

static uint32_t kv_snapshot(void *ctx, polyraft_host_writer *w) {
    kv *m = ctx;
    size_t i;
    if (m->fail_snapshot) return POLYRAFT_STORAGE_FAILURE;
    for (i = 0; i < m->n; i++) {
        const char *k = m->pairs[i].key, *v = m->pairs[i].value;
        if (polyraft_host_writer_write(w, (const uint8_t *)k, strlen(k)) != POLYRAFT_OK ||
            polyraft_host_writer_write(w, (const uint8_t *)"=", 1) != POLYRAFT_OK ||
            polyraft_host_writer_write(w, (const uint8_t *)v, strlen(v)) != POLYRAFT_OK ||
            polyraft_host_writer_write(w, (const uint8_t *)"\n", 1) != POLYRAFT_OK)
            return POLYRAFT_STORAGE_FAILURE;
    }
    return POLYRAFT_OK;
}

static uint32_t kv_restore(void *ctx, polyraft_host_reader *r) {
    kv *m = ctx;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n = 0, start = 0, i;
    if (m->fail_restore) return POLYRAFT_STORAGE_FAILURE;
    do {
        if (cap - len < 256) {
            cap = cap ? 2 * cap : 1024;
            buf = realloc(buf, cap);
            if (buf == NULL) abort();
        }
        if (polyraft_host_reader_read(r, buf + len, cap - len, &n) != POLYRAFT_OK) {
            free(buf);
            return POLYRAFT_STORAGE_FAILURE;
        }
        len += n;
    } while (n > 0);
    kv_clear(m);
    for (i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            free(kv_apply_one(m, buf + start, i - start));
            start = i + 1;
        }
    }
    free(buf);
    return POLYRAFT_OK;
}

static uint32_t kv_lookup(void *ctx, const uint8_t *query, size_t len, polyraft_host_results *result) {
    kv *m = ctx;
    char *key;
    kv_pair *p;
    if (m->fail_lookup) return POLYRAFT_STORAGE_FAILURE;
    key = kv_strndup(query, len);
    p = kv_find(m, key);
    free(key);
    if (p == NULL) return POLYRAFT_OK; /* no result: empty */
    return polyraft_host_results_push(result, (const uint8_t *)p->value, strlen(p->value));
}

/* Each host worker destroys its own groups' state machines, so several
 * threads may count at once. */
static pthread_mutex_t kv_destroyed_lock = PTHREAD_MUTEX_INITIALIZER;

static void kv_destroy(void *ctx) {
    kv *m = ctx;
    if (m->destroyed) {
        pthread_mutex_lock(&kv_destroyed_lock);
        (*m->destroyed)++;
        pthread_mutex_unlock(&kv_destroyed_lock);
    }
    kv_clear(m);
    free(m);
}

/* A vtable over a new, empty kv (freed by destroy once the host owns it). */
static polyraft_host_state_machine kv_new(int *destroyed) {
    polyraft_host_state_machine sm;
    kv *m = calloc(1, sizeof *m);
    if (m == NULL) abort();
    m->destroyed = destroyed;
    memset(&sm, 0, sizeof sm);
    sm.abi_version = POLYRAFT_HOST_SM_ABI_VERSION;
    sm.ctx = m;
    sm.apply = kv_apply;
    sm.snapshot = kv_snapshot;
    sm.restore = kv_restore;
    sm.lookup = kv_lookup;
    sm.destroy = kv_destroy;
    return sm;
}

#endif
