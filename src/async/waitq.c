/* SPDX-License-Identifier: MIT */
/* The wait queue of waitq.h: one small node per waiter, holding the
 * Deferred's producer reference; the Deferred's canceller unlinks it. */
#include "waitq.h"

#include "../core/internal.h"
#include "weft/alloc.h"

typedef struct waiter {
    weft__list node;
    weft__waitq *q;
    weft_deferred *d;
} waiter;

void weft__waitq_init(weft__waitq *q)
{
    weft__list_init(&q->head);
    q->count = 0;
}

static void unlink_waiter(waiter *w)
{
    weft__list_remove(&w->node);
    w->q->count--;
    weft_deferred_set_canceller(w->d, NULL, NULL);
    weft_free(w);
}

static void withdraw(void *arg, weft_deferred *d)
{
    unlink_waiter(arg);
    /* cancel errbacks d next, holding its own reference meanwhile. */
    weft_deferred_unref(d);
}

weft_deferred *weft__waitq_add(weft__waitq *q, weft_reactor *r)
{
    waiter *w = weft_malloc(sizeof *w);
    weft_deferred *d = w ? weft_deferred_new(r) : NULL;
    if (!d) {
        weft_free(w);
        return NULL;
    }
    w->q = q;
    w->d = d;
    weft__list_push_back(&q->head, &w->node);
    q->count++;
    weft_deferred_set_canceller(d, withdraw, w);
    return weft_deferred_ref(d);
}

weft_deferred *weft__waitq_pop(weft__waitq *q)
{
    if (weft__list_empty(&q->head))
        return NULL;
    waiter *w = WEFT_CONTAINER_OF(q->head.next, waiter, node);
    weft_deferred *d = w->d;
    unlink_waiter(w);
    return d;
}

void weft__waitq_fire_all(weft__waitq *q, weft_failure *f)
{
    /* Waiters added while these run wait for the next time. */
    size_t n = q->count;
    weft_deferred *d;
    while (n-- > 0 && (d = weft__waitq_pop(q))) {
        if (f)
            weft_deferred_errback(d, weft_failure_ref(f));
        else
            weft_deferred_callback(d, NULL, NULL);
        weft_deferred_unref(d);
    }
}

void weft__waitq_drop_all(weft__waitq *q)
{
    weft_deferred *d;
    while ((d = weft__waitq_pop(q)))
        weft_deferred_unref(d);
}

void weft__waitq_cancel_all(weft__waitq *q)
{
    while (!weft__list_empty(&q->head)) {
        waiter *w = WEFT_CONTAINER_OF(q->head.next, waiter, node);
        weft_deferred_cancel(w->d);
    }
}
