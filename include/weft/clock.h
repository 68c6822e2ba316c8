/* SPDX-License-Identifier: MIT */
/*
 * The fake clock, after Twisted's task.Clock: a reactor whose time moves
 * only when told, to test timing with no real time and no luck involved.
 * (testing.h gathers it with the other test doubles.)
 */
#ifndef WEFT_CLOCK_H
#define WEFT_CLOCK_H

#include "base.h"
#include "timer.h"

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

#endif
