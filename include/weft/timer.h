/* SPDX-License-Identifier: MIT */
/*
 * Timers: weft_call_later, Twisted's callLater. Timers live in the reactor in
 * a 4-ary min-heap keyed by due time (ties fire in scheduling order), so
 * scheduling and cancelling are O(log n) and reset or delay never allocate.
 *
 * A weft_timer is a handle, not a pointer: it stays safe to use after the
 * timer fired or was cancelled (the calls then return WEFT_ENOTACTIVE and
 * weft_timer_active says false). The zero handle names no timer.
 */
#ifndef WEFT_TIMER_H
#define WEFT_TIMER_H

#include "base.h"

typedef struct weft_timer {
    uint64_t id;
} weft_timer;

/*
 * Runs fn(arg) once, `seconds` from now (reactor time; negative counts as 0)
 * in the timer step of an iteration. Stores the handle in *out when out is
 * not NULL. Returns 0, WEFT_EINVAL (NaN) or WEFT_ENOMEM (fn never runs).
 * While fn runs, its own timer is no longer active.
 */
WEFT_API WEFT_NODISCARD int weft_call_later(weft_reactor *r, double seconds, weft_call_fn fn, void *arg,
                                            weft_timer *out);

/* As weft_call_later, and drop(arg) (may be NULL) runs instead of fn when
 * fn never will: the timer is cancelled, or still pending when the reactor
 * is freed. For an arg that holds references. */
WEFT_API WEFT_NODISCARD int weft_call_later_full(weft_reactor *r, double seconds, weft_call_fn fn, void *arg,
                                                 weft_destroy_fn drop, weft_timer *out);
/* Cancels a pending timer: fn will not run (its drop does). 0 or
 * WEFT_ENOTACTIVE. */
WEFT_API int weft_timer_cancel(weft_reactor *r, weft_timer t);

/* Makes a pending timer fire `seconds` from now. 0 or WEFT_ENOTACTIVE. */
WEFT_API int weft_timer_reset(weft_reactor *r, weft_timer t, double seconds);

/* Makes a pending timer fire `seconds` later than it would have (negative
 * brings it earlier). 0 or WEFT_ENOTACTIVE. */
WEFT_API int weft_timer_delay(weft_reactor *r, weft_timer t, double seconds);

/* Whether the timer is pending. */
WEFT_API bool weft_timer_active(const weft_reactor *r, weft_timer t);

/* The reactor time at which a pending timer fires; NaN when not pending. */
WEFT_API double weft_timer_time(const weft_reactor *r, weft_timer t);

/* The number of pending timers. */
WEFT_API size_t weft_reactor_timer_count(const weft_reactor *r);

#endif
