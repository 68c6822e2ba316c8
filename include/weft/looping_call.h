/* SPDX-License-Identifier: MIT */
/*
 * LoopingCall: calls a function every `interval` seconds, scheduled against
 * the time it started (start + k * interval), so it never drifts. When a call
 * returns a Deferred, the next waits for it. Intervals that passed while the
 * loop was late (a slow call, a busy reactor) are skipped, and the function
 * learns how many intervals went by (Twisted's LoopingCall.withCount).
 */
#ifndef WEFT_LOOPING_CALL_H
#define WEFT_LOOPING_CALL_H

#include "base.h"
#include "result.h"

typedef struct weft_looping_call weft_looping_call;

/*
 * The function: arg, and how many intervals passed since the previous call
 * (1 when on time; on the first call 1 too). Returns a value (freed), a
 * Deferred to wait for, or a failure, which stops the loop and errbacks the
 * Deferred start returned. With interval 0 it runs once per iteration, and
 * count is always 1.
 */
typedef weft_result (*weft_looping_fn)(void *arg, uint64_t count);

/* NULL when out of memory. Free with weft_looping_call_free. */
WEFT_API weft_looping_call *weft_looping_call_new(weft_reactor *r, weft_looping_fn fn, void *arg);

/*
 * Starts calling every `interval` seconds, the first call at once when `now`,
 * else after one interval. When out is not NULL, stores there a Deferred
 * (the caller's reference) that fires with none when stop is called, or
 * errbacks with the function's failure. Returns 0, WEFT_ERUNNING,
 * WEFT_EINVAL (a negative interval) or WEFT_ENOMEM.
 */
WEFT_API WEFT_NODISCARD int weft_looping_call_start(weft_looping_call *lc, double interval, bool now,
                                                    weft_deferred **out);

/* Stops: no further call is scheduled, and the start Deferred fires (after
 * the Deferred of a call in progress, if one is). WEFT_ENOTRUNNING if not
 * running. */
WEFT_API int weft_looping_call_stop(weft_looping_call *lc);

WEFT_API bool weft_looping_call_running(const weft_looping_call *lc);

/* Stops it if running, then frees it once no call of it is in progress.
 * Safe from inside its own function. NULL does nothing. */
WEFT_API void weft_looping_call_free(weft_looping_call *lc);

#endif
