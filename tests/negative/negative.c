/* SPDX-License-Identifier: MIT */
/* Tests that must fail, each in its own way, so that ctest can check that
 * the failure is caught and reported as a clean test failure (not a crash,
 * and not a pass): tests/CMakeLists.txt runs each one alone and matches
 * Criterion's report. They prove the checks every other test relies on. */
#include <pthread.h>
#include <stdlib.h>

#include "test.h"

/* Reachable to the end, so LeakSanitizer sees nothing: only weft's count
 * of live blocks can tell. */
static void *kept;

WEFT_TEST(negative, a_weft_block_never_freed)
{
    kept = weft_malloc(16);
    cr_assert_not_null(kept);
}

/* Not weft's: only LeakSanitizer can tell. Dropped on a thread of its own,
 * so no stale copy of the pointer is left on the test's stack (which the
 * sanitizer scans) to make the block look reachable. */
static void *drop_a_block(void *arg)
{
    (void)arg;
    char *volatile p = malloc(48);
    for (int i = 0; i < 48; i++)
        p[i] = 1;
    p = NULL;
    return NULL;
}

WEFT_TEST(negative, an_unreachable_block)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, drop_a_block, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
}

static weft_result fails_after_a_sleep(void *arg)
{
    weft_reactor *r = arg;
    weft_result slept = weft_sleep(r, 1);
    cr_assert(!weft_failed(slept));
    cr_assert_eq(1, 2, "an assertion failed inside a coroutine");
    return weft_none();
}

/* Criterion's failed assertion longjmps out of the coroutine's stack; under
 * AddressSanitizer that crashed the report instead of making it. */
WEFT_TEST(negative, an_assertion_failing_in_a_coroutine)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_coro_spawn(r, fails_after_a_sleep, r);
    cr_assert_not_null(d);
    weft_clock_advance(r, 1); /* resumes it: the assertion fails there */
    weft_deferred_unref(d);
    weft_reactor_free(r);
}
