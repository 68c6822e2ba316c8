/* SPDX-License-Identifier: MIT */
/*
 * weft_deferred: Twisted's Deferred in C. A Deferred is a result that is not
 * there yet, with a chain of (callback, errback) pairs to run when it comes.
 * The semantics are Twisted's, case by case:
 *
 *   - Firing (weft_deferred_callback / _errback / _fire) runs the chain: each
 *     step gets the current result, the callback of the pair if it is a
 *     value, the errback if it is a failure, and returns the next result. A
 *     callback may fail (return weft_err) and an errback may recover (return
 *     a value). A NULL function in a pair passes the result through.
 *   - Firing twice returns WEFT_EALREADYCALLED. Pairs added after firing run
 *     at once, inside the add call - except pairs added from inside the
 *     Deferred's own running chain, which run when the chain reaches them.
 *   - A step that returns a Deferred (weft_chain) pauses the chain until that
 *     Deferred fires, then goes on with its result.
 *   - pause/unpause hold the chain; cancel runs the canceller, or errbacks
 *     with WEFT_ECANCELED when there is none (or it did not fire the
 *     Deferred); cancelling a Deferred that waits on another cancels that one.
 *   - A failure still in the Deferred when it is destroyed is logged to the
 *     reactor's logger as "Unhandled error in Deferred: DESCRIPTION" (the
 *     failure described for people); where the Deferred was made and the
 *     verbose description are the event's fields "file", "line" and
 *     "detail".
 *
 * Ownership. Deferreds are reference-counted (not atomically: one thread).
 * weft_deferred_new and every function returning a Deferred give the caller
 * one reference, to drop with weft_deferred_unref once done with it -
 * typically right after adding callbacks. Whoever will fire a Deferred keeps
 * a reference until it has. The chain keeps the Deferred alive while it waits
 * on another Deferred. A Deferred whose references are all gone is destroyed
 * even if it never fired; its callbacks then never run (and their arg_free
 * runs).
 *
 * Results passed to fire are owned by the Deferred from then on, even when
 * firing fails. Each step owns its argument and returns ownership of its
 * result (result.h). What the last step returns stays in the Deferred and is
 * freed with it.
 *
 * Every Deferred belongs to a reactor (for its logger and, through
 * add_timeout and defer_later, its clock) and to that reactor's thread. The
 * caller's references to a reactor's Deferreds must be dropped before it is
 * freed; the references weft holds itself (a pending defer_later's timer, a
 * suspended coroutine's await) go with weft_reactor_free.
 */
#ifndef WEFT_DEFERRED_H
#define WEFT_DEFERRED_H

#include "base.h"
#include "result.h"

/* One step of a chain: gets the current result (owned) and returns the
 * next (see result.h). arg is the pointer given with the pair. */
typedef weft_result (*weft_callback_fn)(void *arg, weft_result result);

/* Called by weft_deferred_cancel on a Deferred that has not fired; it may
 * fire d itself (with any result), or not. */
typedef void (*weft_canceller_fn)(void *arg, weft_deferred *d);

/* A new, unfired Deferred with one reference; NULL when out of memory. The
 * call site is recorded for the unhandled-error report. */
#define weft_deferred_new(r) weft__deferred_new((r), __FILE__, __LINE__)
WEFT_API weft_deferred *weft__deferred_new(weft_reactor *r, const char *file, int line);

/* Sets the canceller (Twisted's Deferred(canceller)); arg is borrowed. */
WEFT_API void weft_deferred_set_canceller(weft_deferred *d, weft_canceller_fn fn, void *arg);

/* Takes a reference; returns d. */
WEFT_API weft_deferred *weft_deferred_ref(weft_deferred *d);
/* Drops a reference; the last one destroys d. NULL does nothing. */
WEFT_API void weft_deferred_unref(weft_deferred *d);

/*
 * Fires d with a result (a value or a failure; not a Deferred). Returns 0,
 * WEFT_EALREADYCALLED, or WEFT_EINVAL for a Deferred result; in every case
 * the result is d's to free. After a cancel with no canceller, the first
 * firing is silently absorbed and returns 0, as in Twisted.
 */
WEFT_API int weft_deferred_fire(weft_deferred *d, weft_result result);
/* fire(d, weft_ok(value, destroy)) */
WEFT_API int weft_deferred_callback(weft_deferred *d, void *value, weft_destroy_fn destroy);
/* fire(d, weft_err(f)); the reference to f passes to d. */
WEFT_API int weft_deferred_errback(weft_deferred *d, weft_failure *f);

/*
 * Adds a (callback, errback) pair; either may be NULL to pass results
 * through. arg_free, when not NULL, is called with arg once the pair has run
 * or has been dropped unrun (d destroyed unfired). Returns 0 or WEFT_ENOMEM;
 * on failure nothing was added and arg is still the caller's. Runs the pair
 * at once if d has a result and is not paused.
 */
WEFT_API WEFT_NODISCARD int weft_deferred_add_callbacks_full(weft_deferred *d, weft_callback_fn callback,
                                                             weft_callback_fn errback, void *arg,
                                                             weft_destroy_fn arg_free);
WEFT_API WEFT_NODISCARD int weft_deferred_add_callbacks(weft_deferred *d, weft_callback_fn callback,
                                                        weft_callback_fn errback, void *arg);
WEFT_API WEFT_NODISCARD int weft_deferred_add_callback(weft_deferred *d, weft_callback_fn callback, void *arg);
WEFT_API WEFT_NODISCARD int weft_deferred_add_errback(weft_deferred *d, weft_callback_fn errback, void *arg);
/* The same function as callback and errback. */
WEFT_API WEFT_NODISCARD int weft_deferred_add_both(weft_deferred *d, weft_callback_fn fn, void *arg);

/*
 * chainDeferred: when d's chain reaches this point, `other` fires with the
 * result, and d's result becomes none. Takes its own reference to other.
 * Returns 0, WEFT_ENOMEM, or WEFT_EINVAL when other is d.
 */
WEFT_API WEFT_NODISCARD int weft_deferred_chain(weft_deferred *d, weft_deferred *other);

/* Holds the chain; each pause needs an unpause. Unpausing the last pause
 * runs what is pending. */
WEFT_API void weft_deferred_pause(weft_deferred *d);
WEFT_API void weft_deferred_unpause(weft_deferred *d);

/* Cancels d (see the top of this file). Does nothing to a Deferred that
 * fired and is not waiting on another one. */
WEFT_API void weft_deferred_cancel(weft_deferred *d);

/* Whether d has been fired (Twisted's d.called). */
WEFT_API bool weft_deferred_called(const weft_deferred *d);

/*
 * Whether d has a result now: fired, not paused and not waiting on another
 * Deferred. Then, when out is not NULL, stores the result, borrowed: it stays
 * d's. For tests (Twisted's successResultOf) and for code that must look
 * without consuming.
 */
WEFT_API bool weft_deferred_peek(const weft_deferred *d, weft_result *out);

/* Takes d's current result out (d is left holding none), so a caller that
 * waited for it owns it. WEFT_EAGAIN when peek would say false. */
WEFT_API int weft_deferred_take(weft_deferred *d, weft_result *out);

/* The reactor d belongs to. */
WEFT_API weft_reactor *weft_deferred_reactor(const weft_deferred *d);

/* Where d was made (the source file; the line in *line when not NULL), for
 * debugging: weft_reactor_walk says what a coroutine awaits with it. */
WEFT_API const char *weft_deferred_origin(const weft_deferred *d, int *line);

/* ---- helpers ---- */

/* A Deferred already fired with a value / a failure (the value or failure
 * passes to it). NULL when out of memory, in which case the value or the
 * failure has been freed. */
#define weft_succeed(r, value, destroy) weft__succeed((r), (value), (destroy), __FILE__, __LINE__)
#define weft_fail(r, failure) weft__fail((r), (failure), __FILE__, __LINE__)
WEFT_API weft_deferred *weft__succeed(weft_reactor *r, void *value, weft_destroy_fn destroy, const char *file,
                                      int line);
WEFT_API weft_deferred *weft__fail(weft_reactor *r, weft_failure *f, const char *file, int line);

/* maybeDeferred: calls fn(arg) and returns its result as a Deferred - the
 * Deferred it returned, or a new one fired with its value or failure. NULL
 * when out of memory (the result is then freed). */
#define weft_maybe_deferred(r, fn, arg) weft__maybe_deferred((r), (fn), (arg), __FILE__, __LINE__)
WEFT_API weft_deferred *weft__maybe_deferred(weft_reactor *r, weft_result (*fn)(void *arg), void *arg, const char *file,
                                             int line);

/*
 * addTimeout: cancels d if it has not fired `seconds` from now; a
 * cancellation caused by the timeout reaches the chain as WEFT_ETIMEDOUT
 * (whose cause is the cancellation's failure). The timer goes when d fires.
 * Returns 0, WEFT_ENOMEM or WEFT_EINVAL.
 */
WEFT_API WEFT_NODISCARD int weft_deferred_add_timeout(weft_deferred *d, double seconds);

/*
 * deferLater: a Deferred that, `seconds` from now, fires with fn(arg)'s
 * result (fn may be NULL: fires with none). Cancelling it cancels the call
 * and errbacks with WEFT_ECANCELED; firing it first cancels the timer too.
 * NULL when out of memory.
 */
WEFT_API weft_deferred *weft_defer_later(weft_reactor *r, double seconds, weft_result (*fn)(void *arg), void *arg);

/*
 * Iterates the reactor until d has a result (peek says true) or `timeout`
 * seconds of real time pass (negative: no limit). Returns 0 or WEFT_ETIMEDOUT.
 * For tests, examples and main functions; d is borrowed.
 */
WEFT_API int weft_reactor_run_until(weft_reactor *r, weft_deferred *d, double timeout);

#endif
