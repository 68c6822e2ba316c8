/* SPDX-License-Identifier: MIT */
/*
 * Waiting on many Deferreds: Twisted's DeferredList and gatherResults.
 *
 * Both return a Deferred whose value is a weft_result_list (destroyed by the
 * Deferred's value destructor, which frees every item). The list takes the
 * inputs' values: an input's chain continues with none after its value moved
 * into the list. Failures are shared (failure.h is reference-counted): unless
 * errors are consumed, an input keeps its failure, so one nobody handles is
 * still reported as unhandled when that input is destroyed.
 *
 * The inputs are borrowed: the list adds callbacks to each and keeps its own
 * references for as long as it needs them.
 */
#ifndef WEFT_DEFERRED_LIST_H
#define WEFT_DEFERRED_LIST_H

#include "base.h"
#include "result.h"

typedef struct weft_result_list {
    size_t count;
    /* With WEFT_LIST_FIRE_ON_ONE_*: the input that fired the list. */
    size_t index;
    /* The inputs' results in input order; an input that had not fired when
     * the list fired holds none. Owned by the list. */
    weft_result items[];
} weft_result_list;

enum {
    /* Fire with the first input to succeed (DeferredList fireOnOneCallback). */
    WEFT_LIST_FIRE_ON_ONE_CALLBACK = 1u << 0,
    /* Errback with the first failure, as WEFT_EFIRSTERROR whose cause is the
     * input's failure and whose message gives the index (fireOnOneErrback). */
    WEFT_LIST_FIRE_ON_ONE_ERRBACK = 1u << 1,
    /* Inputs' failures are taken by the list: their chains continue with
     * none (consumeErrors). */
    WEFT_LIST_CONSUME_ERRORS = 1u << 2,
};

/* DeferredList over n inputs (n may be 0: fires at once with an empty list).
 * NULL when out of memory, in which case no input was touched. */
WEFT_API weft_deferred *weft_deferred_list(weft_reactor *r, weft_deferred *const *inputs, size_t n,
                                           unsigned flags);

/*
 * gatherResults: fires with every input's value, in order, once all have
 * succeeded; errbacks with WEFT_EFIRSTERROR at the first failure. Cancelling
 * it cancels every input still waiting.
 */
WEFT_API weft_deferred *weft_gather(weft_reactor *r, weft_deferred *const *inputs, size_t n,
                                    bool consume_errors);

#endif
