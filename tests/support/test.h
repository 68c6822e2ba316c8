/* SPDX-License-Identifier: MIT */
/*
 * What every weft test file includes. WEFT_TEST wraps Criterion's Test: the
 * body runs inside weft_test_main, which ends it with the leak checks (in the
 * body, since Criterion ignores failures in .fini) and lets a failed
 * assertion inside a coroutine end the test as cleanly as one outside it.
 */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <criterion/criterion.h>

#include "weft/testing.h"
#include "weft/weft.h"

/*
 * Runs a test's body, then checks that it leaked nothing: every block weft
 * allocated was freed (weft_allocations_live is back where it was: exact,
 * and in every build) and, where a LeakSanitizer runtime is linked in (both
 * passes of `make test`), that no memory at all is unreachable.
 */
void weft_test_main(void (*body)(void));

/*
 * Where a failed cr_assert goes (the #define below routes Criterion's
 * criterion_abort_test here). Criterion longjmps to its runner; from a
 * coroutine that jump leaves the coroutine's stack for the test's behind
 * AddressSanitizer's back, and the stale poison of the abandoned frames
 * crashed the report. So from another stack of the test's thread this first
 * jumps to weft_test_main, telling the sanitizer, and Criterion's own jump
 * is made from there. On the test's stack, or on another thread, it is
 * Criterion's as it is.
 */
CR_NORETURN void weft_test_abort(void);
#define criterion_abort_test weft_test_abort

#define WEFT_TEST(suite, name, ...)                                \
    static void suite##_##name##_body(void);                        \
    Test(suite, name, ##__VA_ARGS__)                                \
    {                                                               \
        weft_test_main(suite##_##name##_body);                       \
    }                                                               \
    static void suite##_##name##_body(void)

/* A reactor on the backend WEFT_BACKEND names, failing the test if there is
 * none. */
weft_reactor *weft_test_reactor(void);
/* A fake-clock reactor. */
weft_reactor *weft_test_clock(void);

/* An observer that keeps the rendered text of every event, so tests can look
 * for what was logged. */
typedef struct weft_test_log {
    char lines[64][512];
    weft_log_level levels[64];
    size_t count;
} weft_test_log;

/* Routes r's log to `log` instead of stderr. */
void weft_test_log_capture(weft_reactor *r, weft_test_log *log);
/* Whether any captured line contains `needle`. */
bool weft_test_log_contains(const weft_test_log *log, const char *needle);

/* weft_tls_route_allocations's result in this test process (test.c calls
 * it before main): 0 when OpenSSL allocates through weft's allocator. */
int weft_test_openssl_routed(void);

/* Runs a fault-injection pass: calls fn(arg) with allocation 1, 2, ... failing
 * until a run completes without any failure injected. fn must create and
 * free everything it uses and must not crash or leak when an allocation
 * fails; returns the number of runs. */
size_t weft_test_each_alloc_failure(void (*fn)(void *arg), void *arg);

#endif
