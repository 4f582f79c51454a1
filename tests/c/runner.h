/* A tiny test runner for the polyraft C tests (plain C99).
 *
 * TEST(name) { ... } defines a test; RUN(name) runs it from main. CHECK
 * records a failure and returns from the test; CHECK_OK checks a call
 * returned POLYRAFT_OK; CHECK_RC checks a specific polyraft_result.
 * RUNNER_DONE() prints "N passed, N failed" and gives main's exit code. */
#ifndef POLYRAFT_TEST_RUNNER_H
#define POLYRAFT_TEST_RUNNER_H

#include <stdio.h>
#include <string.h>

#include "polyraft.h"

/* Copies the text of a constructor's error buffer into dst (NUL-terminated,
 * "" for NULL) and frees the buffer. */
#if defined(__GNUC__)
__attribute__((unused))
#endif
static void runner_error_text(polyraft_buffer *err, char *dst, size_t cap) {
    const uint8_t *p = NULL;
    size_t n = 0;
    if (cap == 0) return;
    dst[0] = 0;
    if (err == NULL) return;
    if (polyraft_buffer_data(err, &p, &n) == POLYRAFT_OK && p != NULL) {
        if (n >= cap) n = cap - 1;
        memcpy(dst, p, n);
        dst[n] = 0;
    }
    polyraft_buffer_free(err);
}

static int runner_passed;
static int runner_failed;
static int runner_current_failed;

#define TEST(name) static void name(void)

#define RUN(name)                                                   \
    do {                                                            \
        runner_current_failed = 0;                                  \
        name();                                                     \
        if (runner_current_failed) {                                \
            runner_failed++;                                        \
            printf("FAIL %s\n", #name);                             \
        } else {                                                    \
            runner_passed++;                                        \
            printf("ok   %s\n", #name);                             \
        }                                                           \
        fflush(stdout);                                             \
    } while (0)

#define CHECK(cond)                                                 \
    do {                                                            \
        if (!(cond)) {                                              \
            printf("  %s:%d: check failed: %s\n", __FILE__,         \
                   __LINE__, #cond);                                \
            runner_current_failed = 1;                              \
            return;                                                 \
        }                                                           \
    } while (0)

#define CHECK_RC(call, want)                                        \
    do {                                                            \
        polyraft_result rc_ = (call);                               \
        if (rc_ != (polyraft_result)(want)) {                       \
            printf("  %s:%d: %s returned %u (%s), want %s\n",       \
                   __FILE__, __LINE__, #call, (unsigned)rc_,        \
                   polyraft_result_str(rc_), #want);                \
            runner_current_failed = 1;                              \
            return;                                                 \
        }                                                           \
    } while (0)

#define CHECK_OK(call) CHECK_RC(call, POLYRAFT_OK)

#define RUNNER_DONE()                                               \
    (printf("%d passed, %d failed\n", runner_passed, runner_failed), \
     runner_failed == 0 ? 0 : 1)

#endif
