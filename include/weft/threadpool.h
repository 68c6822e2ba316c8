/* SPDX-License-Identifier: MIT */
/*
 * The thread pool, Twisted's deferToThread: run a blocking function on a
 * worker thread and get its result back on the reactor as a Deferred.
 *
 * THE RULE: a job never touches reactor objects - no reactor, transport,
 * Deferred or timer, nothing of weft's but weft_malloc/weft_free, failure
 * creation (weft_failure_new) and weft_reactor_call_from_thread. Its result
 * is carried back to the reactor's thread and delivered there. (A replaced
 * allocator must be thread-safe for jobs to use it.)
 *
 * Each reactor has one pool, made on first use: threads start lazily, up
 * to a maximum, and idle ones above the minimum stay ready. Jobs wait in a
 * bounded queue. At shutdown the reactor waits for queued and running jobs
 * (within its shutdown timeout); freeing the reactor joins the workers, so a
 * job still running then delays the free until it returns.
 */
#ifndef WEFT_THREADPOOL_H
#define WEFT_THREADPOOL_H

#include "base.h"
#include "result.h"

typedef struct weft_threadpool_options {
    unsigned min_threads; /* kept even when idle; default 0 */
    unsigned max_threads; /* 0: 10, as Twisted's reactor pool */
    size_t queue_limit;   /* jobs waiting for a thread; 0: 1024 */
} weft_threadpool_options;

/* Sets r's pool limits; before its first job, or to change them later
 * (lower limits apply as threads finish). Returns 0, WEFT_EINVAL or
 * WEFT_ENOMEM. */
WEFT_API int weft_threadpool_configure(weft_reactor *r, const weft_threadpool_options *opts);

/*
 * Runs fn(arg) on a worker thread. fn returns a value (with its destroy) or
 * a failure - not a Deferred. The returned Deferred (the caller's
 * reference) fires with it on the reactor's thread. It errbacks at once
 * with WEFT_EBUSY when the queue is full, or -errno when no thread can be
 * started and none is running. Cancelling a job still queued withdraws it;
 * a running job runs to its end (its result is then dropped). NULL when
 * out of memory.
 */
WEFT_API weft_deferred *weft_defer_to_thread(weft_reactor *r, weft_result (*fn)(void *arg), void *arg);

typedef struct weft_threadpool_stats {
    unsigned threads, idle;
    size_t queued, running;
} weft_threadpool_stats;

WEFT_API weft_threadpool_stats weft_threadpool_stats_of(weft_reactor *r);

#endif
