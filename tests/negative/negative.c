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
