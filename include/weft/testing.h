/* SPDX-License-Identifier: MIT */
/*
 * Test doubles, after twisted.internet.testing and task.Clock: a fake clock
 * that moves only when told, and an allocator that fails on demand. Use them
 * to test timing and error paths with no real time and no luck involved.
 * (weft_reactor_run_until, in deferred.h, runs a reactor until a Deferred
 * fires or a timeout passes.)
 */
#ifndef WEFT_TESTING_H
#define WEFT_TESTING_H

#include "base.h"
#include "timer.h"

/* ---- fake clock ---- */

/*
 * A reactor on a fake clock, starting at time 0: timers, looping calls,
 * defer_later and add_timeout see only the time weft_clock_advance gives
 * them. Descriptors and queued calls still work through
 * weft_reactor_iterate, which never sleeps waiting for a timer. Signal
 * handlers are not installed by run. Free with weft_reactor_free.
 */
WEFT_API WEFT_NODISCARD int weft_clock_new(weft_reactor **out);

/*
 * Moves the clock forward and runs every timer now due, in time order,
 * including timers those calls schedule within the new time (as
 * task.Clock.advance). Returns 0, or WEFT_EINVAL when r has a real clock or
 * seconds is negative.
 */
WEFT_API int weft_clock_advance(weft_reactor *r, double seconds);

/* Advances by each step in turn (task.Clock.pump). */
WEFT_API int weft_clock_pump(weft_reactor *r, const double *steps, size_t n);

/* Stores up to max pending timers in out, soonest first, and returns how many
 * are pending (task.Clock.getDelayedCalls). out may be NULL when max is 0. */
WEFT_API size_t weft_clock_calls(const weft_reactor *r, weft_timer *out, size_t max);

/* ---- allocation failures ---- */

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
