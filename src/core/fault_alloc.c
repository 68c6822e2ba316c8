/* SPDX-License-Identifier: MIT */
/* The fault-injecting allocator of testing.h: counts allocations into the
 * caller's struct and fails the ones it names. */
#include <stdlib.h>

#include "weft/alloc.h"
#include "weft/fault_alloc.h"

static bool should_fail(weft_fault_alloc *fa)
{
    fa->count++;
    bool fail = fa->fail_at && (fa->count == fa->fail_at || (fa->persistent && fa->count > fa->fail_at));
    if (fail)
        fa->failed++;
    return fail;
}

static void *fa_malloc(void *ctx, size_t size)
{
    return should_fail(ctx) ? NULL : malloc(size);
}

static void *fa_realloc(void *ctx, void *ptr, size_t size)
{
    return should_fail(ctx) ? NULL : realloc(ptr, size);
}

static void fa_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

int weft_fault_alloc_install(weft_fault_alloc *fa)
{
    weft_allocator a = {fa_malloc, fa_realloc, fa_free, fa};
    return weft_replace_allocator(&a);
}

void weft_fault_alloc_remove(void)
{
    weft_replace_allocator(NULL);
}
