/* SPDX-License-Identifier: MIT */
/*
 * A FIFO of Deferreds waiting for something (a semaphore token, a queued
 * value). Cancelling a waiting Deferred withdraws it from the queue. Shared by
 * semaphore.c and deferred_queue.c.
 */
#ifndef WEFT_ASYNC_WAITQ_H
#define WEFT_ASYNC_WAITQ_H

#include "../core/list.h"
#include "weft/deferred.h"

typedef struct weft__waitq {
    weft__list head;
    size_t count;
} weft__waitq;

void weft__waitq_init(weft__waitq *q);

/* A new Deferred waiting at the back: the caller gets one reference, the
 * queue keeps another. NULL when out of memory. */
weft_deferred *weft__waitq_add(weft__waitq *q, weft_reactor *r);

/* Takes the oldest waiter out; the queue's reference passes to the caller,
 * who fires it and drops it. NULL when empty. */
weft_deferred *weft__waitq_pop(weft__waitq *q);

/* Cancels every waiter (each errbacks with WEFT_ECANCELED). */
void weft__waitq_cancel_all(weft__waitq *q);

/* Fires every waiter there is now, oldest first: with none, or when f is
 * not NULL with f (each takes a reference; the caller keeps its own). */
void weft__waitq_fire_all(weft__waitq *q, weft_failure *f);

/* Drops every waiter unfired (the owner is going away with its reactor). */
void weft__waitq_drop_all(weft__waitq *q);

#endif
