/* SPDX-License-Identifier: MIT */
/*
 * The replaceable allocator. This is weft's one process-wide setting (see
 * alloc.h for why it is one): a struct copied in by weft_replace_allocator and
 * read by every allocation, and beside it the count of weft's live blocks
 * (atomic: thread-pool jobs allocate on their workers).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weft/alloc.h"
#include "internal.h"
#include "weft/error.h"

static void *default_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *default_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return realloc(ptr, size);
}

static void default_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static weft_allocator allocator = {default_malloc, default_realloc, default_free, NULL};
static atomic_size_t live;

int weft_replace_allocator(const weft_allocator *a)
{
    if (!a) {
        allocator = (weft_allocator){default_malloc, default_realloc, default_free, NULL};
        return 0;
    }
    if (!a->malloc || !a->realloc || !a->free)
        return WEFT_EINVAL;
    allocator = *a;
    return 0;
}

bool weft__allocator_replaced(void)
{
    return allocator.malloc != default_malloc;
}

size_t weft_allocations_live(void)
{
    return atomic_load_explicit(&live, memory_order_relaxed);
}

void *weft__allocator_malloc(size_t size)
{
    return allocator.malloc(allocator.ctx, size);
}

void *weft__allocator_realloc(void *ptr, size_t size)
{
    return allocator.realloc(allocator.ctx, ptr, size);
}

void weft__allocator_free(void *ptr)
{
    if (ptr)
        allocator.free(allocator.ctx, ptr);
}

void *weft_malloc(size_t size)
{
    void *p = allocator.malloc(allocator.ctx, size ? size : 1);
    if (p)
        atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return p;
}

void *weft_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = weft_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *weft_realloc(void *ptr, size_t size)
{
    void *p = allocator.realloc(allocator.ctx, ptr, size ? size : 1);
    if (p && !ptr)
        atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return p;
}

void weft_free(void *ptr)
{
    if (!ptr)
        return;
    atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
    allocator.free(allocator.ctx, ptr);
}

char *weft_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = weft_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
