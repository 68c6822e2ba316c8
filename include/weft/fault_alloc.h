/* SPDX-License-Identifier: MIT */
/*
 * An allocator that fails on demand, to test error paths: install it, and
 * the Nth allocation weft makes (OpenSSL's too, once routed through weft:
 * tls.h) fails. (testing.h gathers it with the other test doubles.)
 */
#ifndef WEFT_FAULT_ALLOC_H
#define WEFT_FAULT_ALLOC_H

#include "base.h"

typedef struct weft_fault_alloc {
    uint64_t fail_at;  /* the 1-based allocation to fail; 0 never */
    bool persistent;   /* also fail every allocation after it */
    uint64_t count;    /* allocations (malloc and realloc) seen */
    uint64_t failed;   /* allocations failed */
} weft_fault_alloc;

/* Installs an allocator that counts into *fa and fails as it says (fa is
 * borrowed until weft_fault_alloc_remove). Same rules as
 * weft_replace_allocator. Returns 0. */
WEFT_API int weft_fault_alloc_install(weft_fault_alloc *fa);

/* Restores the default allocator. */
WEFT_API void weft_fault_alloc_remove(void);

#endif
