/* SPDX-License-Identifier: MIT */
/*
 * weft_result: what flows down a Deferred's callback chain. It is one of
 *   - a value: a pointer and the function that frees it (NULL destroy for
 *     values weft must not free, and for "no value");
 *   - a failure (failure.h);
 *   - a Deferred (only as a callback's return): the chain waits for that
 *     Deferred and continues with its result, as in Twisted.
 *
 * Ownership: whoever holds a result owns it, and gives it away by passing or
 * returning it. A callback receives its argument result and must return a
 * result: returning the argument passes it along; returning something else
 * means first freeing the argument (weft_result_free) or keeping its value
 * (weft_result_take). Results are two words and are passed by value.
 */
#ifndef WEFT_RESULT_H
#define WEFT_RESULT_H

#include "base.h"
#include "failure.h"

typedef struct weft_result {
    void *value;
    weft_destroy_fn destroy;
} weft_result;

/* The destroy functions that mark a result as a failure or a Deferred. */
WEFT_API void weft__result_failure_destroy(void *failure);
WEFT_API void weft__result_deferred_destroy(void *deferred);

/* A success value; destroy (may be NULL) frees it when nobody takes it. */
static inline weft_result weft_ok(void *value, weft_destroy_fn destroy)
{
    return (weft_result){value, destroy};
}

/* The empty success value, Python's None. */
static inline weft_result weft_none(void)
{
    return (weft_result){NULL, NULL};
}

/* A failure; the caller's reference passes into the result. */
static inline weft_result weft_err(weft_failure *f)
{
    return (weft_result){f, weft__result_failure_destroy};
}

/* A new failure as a result: weft_err(weft_failure_new(code, fmt, ...)). */
#define weft_err_new(code, ...) weft_err(weft_failure_new((code), __VA_ARGS__))

/* A Deferred to wait for; the caller's reference passes into the result. */
static inline weft_result weft_chain(weft_deferred *d)
{
    return (weft_result){d, weft__result_deferred_destroy};
}

static inline bool weft_failed(weft_result r)
{
    return r.destroy == weft__result_failure_destroy;
}

/* The failure a result holds, borrowed; NULL for other results. */
static inline weft_failure *weft_result_failure(weft_result r)
{
    return weft_failed(r) ? (weft_failure *)r.value : NULL;
}

static inline bool weft_result_is_deferred(weft_result r)
{
    return r.destroy == weft__result_deferred_destroy;
}

/* Frees what the result holds. */
static inline void weft_result_free(weft_result r)
{
    if (r.destroy)
        r.destroy(r.value);
}

/* Takes the value out: the caller now owns it, and *r is left empty. */
static inline void *weft_result_take(weft_result *r)
{
    void *v = r->value;
    *r = weft_none();
    return v;
}

#endif
