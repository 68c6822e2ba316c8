/* SPDX-License-Identifier: MIT */
/*
 * The allocator. Every allocation libweft makes goes through one replaceable
 * allocator, as libuv's uv_replace_allocator and SQLite's xMalloc, so a test
 * can fail the Nth allocation and check that weft reports the error and
 * leaks nothing (testing.h has such an allocator).
 *
 * This is weft's one process-wide setting. Replace it before creating any
 * reactor, or after every weft object has been freed: memory must be freed by
 * the allocator that made it. It is not thread-safe to replace while other
 * threads use weft. OpenSSL's allocations go through it too once
 * weft_tls_route_allocations (tls.h) has been called, which has rules of its
 * own (it must come before OpenSSL's first allocation).
 */
#ifndef WEFT_ALLOC_H
#define WEFT_ALLOC_H

#include "base.h"

typedef struct weft_allocator {
    void *(*malloc)(void *ctx, size_t size);
    /* Like realloc(3): NULL ptr allocates; failure leaves ptr untouched. */
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} weft_allocator;

/*
 * Installs the allocator (copied; ctx is borrowed until the allocator is
 * replaced). NULL restores malloc/realloc/free. Returns 0 or WEFT_EINVAL when
 * a function is missing.
 */
WEFT_API int weft_replace_allocator(const weft_allocator *allocator);

/* Allocation through the installed allocator, for code that hands memory to
 * weft or frees memory weft handed out. weft_free(NULL) does nothing. */
WEFT_API void *weft_malloc(size_t size);
WEFT_API void *weft_calloc(size_t count, size_t size);
WEFT_API void *weft_realloc(void *ptr, size_t size);
WEFT_API void weft_free(void *ptr);
WEFT_API char *weft_strdup(const char *s);

/* How many blocks these functions have handed out that weft_free has not
 * taken back yet, whatever the allocator: weft's own objects and what it
 * handed to the caller. Once every weft object is freed it is back where it
 * was, which makes it an exact leak check for tests. */
WEFT_API size_t weft_allocations_live(void);

#endif
