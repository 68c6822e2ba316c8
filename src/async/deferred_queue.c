/* SPDX-License-Identifier: MIT */
/* DeferredQueue: queued values in a ring buffer, waiting getters in a wait
 * queue. At most one of the two is non-empty at any time. */
#include "waitq.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/deferred_queue.h"
#include "weft/error.h"

struct weft_deferred_queue {
    weft_reactor *r;
    size_t size, backlog; /* 0: unbounded */
    weft_result *ring;
    size_t head, len, cap;
    weft__waitq waiting;
};

weft_deferred_queue *weft_deferred_queue_new(weft_reactor *r, size_t size, size_t backlog)
{
    weft_deferred_queue *q = weft_malloc(sizeof *q);
    if (!q)
        return NULL;
    *q = (weft_deferred_queue){.r = r, .size = size, .backlog = backlog};
    weft__waitq_init(&q->waiting);
    return q;
}

void weft_deferred_queue_free(weft_deferred_queue *q)
{
    if (!q)
        return;
    weft__waitq_cancel_all(&q->waiting);
    for (size_t i = 0; i < q->len; i++)
        weft_result_free(q->ring[(q->head + i) % q->cap]);
    weft_free(q->ring);
    weft_free(q);
}

int weft_deferred_queue_put(weft_deferred_queue *q, void *value, weft_destroy_fn destroy)
{
    weft_deferred *d = weft__waitq_pop(&q->waiting);
    if (d) {
        weft_deferred_callback(d, value, destroy);
        weft_deferred_unref(d);
        return 0;
    }
    if (q->size && q->len >= q->size)
        return WEFT_EQUEUEOVERFLOW;
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        weft_result *ring = weft_malloc(cap * sizeof *ring);
        if (!ring)
            return WEFT_ENOMEM;
        for (size_t i = 0; i < q->len; i++)
            ring[i] = q->ring[(q->head + i) % q->cap];
        weft_free(q->ring);
        q->ring = ring;
        q->cap = cap;
        q->head = 0;
    }
    q->ring[(q->head + q->len++) % q->cap] = weft_ok(value, destroy);
    return 0;
}

weft_deferred *weft_deferred_queue_get(weft_deferred_queue *q)
{
    if (q->len > 0) {
        weft_deferred *d = weft_deferred_new(q->r);
        if (!d)
            return NULL;
        weft_result v = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        weft_deferred_fire(d, v);
        return d;
    }
    if (q->backlog && q->waiting.count >= q->backlog)
        return weft_fail(q->r, weft_failure_new(WEFT_EQUEUEUNDERFLOW, "%zu getters already wait on the queue",
                                                q->waiting.count));
    return weft__waitq_add(&q->waiting, q->r);
}

size_t weft_deferred_queue_size(const weft_deferred_queue *q)
{
    return q->len;
}

size_t weft_deferred_queue_waiting(const weft_deferred_queue *q)
{
    return q->waiting.count;
}
