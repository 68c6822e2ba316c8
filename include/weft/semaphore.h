/* SPDX-License-Identifier: MIT */
/*
 * DeferredSemaphore and DeferredLock: limits on how many callers proceed at
 * once, waited for through Deferreds. A lock is a semaphore of one token.
 * Waiters are served first come, first served. Single-threaded, like every
 * Deferred. A semaphore must outlive the Deferreds weft_semaphore_run
 * returned, whose chains release it.
 */
#ifndef WEFT_SEMAPHORE_H
#define WEFT_SEMAPHORE_H

#include "base.h"
#include "result.h"

typedef struct weft_semaphore weft_semaphore;

/* A semaphore with `tokens` tokens (at least 1); NULL when out of memory or
 * tokens is 0. Free with weft_semaphore_free. */
WEFT_API weft_semaphore *weft_semaphore_new(weft_reactor *r, unsigned tokens);

/* Frees it; callers still waiting see their acquire errback with
 * WEFT_ECANCELED. NULL does nothing. */
WEFT_API void weft_semaphore_free(weft_semaphore *s);

/*
 * A Deferred that fires (with none) when the caller holds a token: at once
 * when one is free. Cancelling a waiting acquire withdraws it (it errbacks
 * with WEFT_ECANCELED and takes no token). NULL when out of memory.
 */
WEFT_API weft_deferred *weft_semaphore_acquire(weft_semaphore *s);

/* Gives a token back, to the first waiter if any. WEFT_EINVAL when every
 * token is already free. */
WEFT_API int weft_semaphore_release(weft_semaphore *s);

/* Tokens free now. */
WEFT_API unsigned weft_semaphore_tokens(const weft_semaphore *s);

/* Waiters queued now. */
WEFT_API size_t weft_semaphore_waiting(const weft_semaphore *s);

/*
 * run: acquires, calls fn(arg), and releases once fn's result settles (fn
 * may return a Deferred). Returns a Deferred of fn's result; NULL when out
 * of memory.
 */
WEFT_API weft_deferred *weft_semaphore_run(weft_semaphore *s, weft_result (*fn)(void *arg), void *arg);

/* DeferredLock. */
typedef weft_semaphore weft_lock;

static inline weft_lock *weft_lock_new(weft_reactor *r)
{
    return weft_semaphore_new(r, 1);
}
static inline void weft_lock_free(weft_lock *l)
{
    weft_semaphore_free(l);
}
static inline weft_deferred *weft_lock_acquire(weft_lock *l)
{
    return weft_semaphore_acquire(l);
}
static inline int weft_lock_release(weft_lock *l)
{
    return weft_semaphore_release(l);
}
static inline bool weft_lock_locked(const weft_lock *l)
{
    return weft_semaphore_tokens(l) == 0;
}
static inline weft_deferred *weft_lock_run(weft_lock *l, weft_result (*fn)(void *arg), void *arg)
{
    return weft_semaphore_run(l, fn, arg);
}

#endif
