/* SPDX-License-Identifier: MIT */
/*
 * What every weft test file includes. WEFT_TEST wraps Criterion's Test so the
 * body ends with a leak check: under LeakSanitizer a test that leaks fails
 * (Criterion ignores failures in .fini, so the check must be in the body).
 */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <criterion/criterion.h>

#include "weft/testing.h"
#include "weft/weft.h"

void weft_test_check_leaks(void);

#define WEFT_TEST(suite, name, ...)                                \
    static void suite##_##name##_body(void);                        \
    Test(suite, name, ##__VA_ARGS__)                                \
    {                                                               \
        suite##_##name##_body();                                    \
        weft_test_check_leaks();                                    \
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

/* Runs a fault-injection pass: calls fn(arg) with allocation 1, 2, ... failing
 * until a run completes without any failure injected. fn must create and
 * free everything it uses and must not crash or leak when an allocation
 * fails; returns the number of runs. */
size_t weft_test_each_alloc_failure(void (*fn)(void *arg), void *arg);

#endif
