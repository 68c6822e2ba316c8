/* SPDX-License-Identifier: MIT */
/*
 * DeferredQueue: a FIFO of values whose get returns a Deferred, fired at once
 * when a value is queued and otherwise by the next put. Bounded both ways, as
 * in Twisted: `size` values may wait for a getter and `backlog` getters may
 * wait for a value.
 */
#ifndef WEFT_DEFERRED_QUEUE_H
#define WEFT_DEFERRED_QUEUE_H

#include "base.h"

typedef struct weft_deferred_queue weft_deferred_queue;

/* size and backlog: the bounds, 0 for none. NULL when out of memory. */
WEFT_API weft_deferred_queue *weft_deferred_queue_new(weft_reactor *r, size_t size, size_t backlog);

/* Frees the queue: values still queued are destroyed, getters still waiting
 * errback with WEFT_ECANCELED. NULL does nothing. */
WEFT_API void weft_deferred_queue_free(weft_deferred_queue *q);

/*
 * Queues a value (or hands it to the oldest waiting getter). On success the
 * value belongs to the queue; on failure it is still the caller's: returns 0,
 * WEFT_EQUEUEOVERFLOW when `size` values already wait, or WEFT_ENOMEM.
 */
WEFT_API WEFT_NODISCARD int weft_deferred_queue_put(weft_deferred_queue *q, void *value, weft_destroy_fn destroy);

/*
 * A Deferred (the caller's) that fires with the next value, which its chain
 * then owns - or, when `backlog` getters already wait, that has failed with
 * WEFT_EQUEUEUNDERFLOW. Cancelling it withdraws the getter. NULL when out of
 * memory. In a coroutine: weft_await(weft_deferred_queue_get(q)).
 */
WEFT_API weft_deferred *weft_deferred_queue_get(weft_deferred_queue *q);

/* Values queued and getters waiting now. */
WEFT_API size_t weft_deferred_queue_size(const weft_deferred_queue *q);
WEFT_API size_t weft_deferred_queue_waiting(const weft_deferred_queue *q);

#endif
