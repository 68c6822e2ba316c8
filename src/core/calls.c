/* SPDX-License-Identifier: MIT */
/*
 * What the loop runs besides timers and descriptors: the call_soon queue
 * (taken whole each iteration, so chains of calls never starve I/O), the
 * close step's posts, and the read buffer every read shares.
 */
#include <stdlib.h>

#include "reactor_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

/* ---- call_soon ---- */

int weft__callvec_push(weft__callvec *q, weft_call_fn fn, void *arg, weft_destroy_fn drop)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        weft__call *v = weft_realloc(q->v, cap * sizeof *v);
        if (!v)
            return WEFT_ENOMEM;
        q->v = v;
        q->cap = cap;
    }
    q->v[q->len++] = (weft__call){fn, arg, drop};
    return 0;
}

void weft__callvec_drop(weft__callvec *q)
{
    /* A drop may queue more calls; those are dropped too. */
    while (q->len) {
        weft__callvec batch = *q;
        *q = (weft__callvec){0};
        for (size_t i = 0; i < batch.len; i++)
            if (batch.v[i].drop)
                batch.v[i].drop(batch.v[i].arg);
        weft_free(batch.v);
    }
    weft_free(q->v);
    *q = (weft__callvec){0};
}

int weft_reactor_call_soon(weft_reactor *r, weft_call_fn fn, void *arg)
{
    return weft__callvec_push(&r->soon, fn, arg, NULL);
}

int weft_reactor_call_soon_full(weft_reactor *r, weft_call_fn fn, void *arg, weft_destroy_fn drop)
{
    return weft__callvec_push(&r->soon, fn, arg, drop);
}

void weft__reactor_run_soon(weft_reactor *r)
{
    if (r->soon.len == 0)
        return;
    /* Take the queue as it stands; calls made meanwhile go to a fresh one.
     * A nested iterate (a callback running the loop) takes its own batch. */
    weft__callvec batch = r->soon;
    r->soon = r->spare;
    r->spare = (weft__callvec){0};
    for (size_t i = 0; i < batch.len; i++)
        batch.v[i].fn(batch.v[i].arg);
    batch.len = 0;
    if (!r->spare.v)
        r->spare = batch;
    else
        weft_free(batch.v);
}

/* ---- the close step ---- */

void weft__reactor_post(weft_reactor *r, weft__post *p, weft_call_fn fn, void *arg)
{
    p->next = NULL;
    p->fn = fn;
    p->arg = arg;
    *r->posts_tail = p;
    r->posts_tail = &p->next;
}

void weft__reactor_run_posts(weft_reactor *r)
{
    /* Posts made while these run wait for the next iteration's step. */
    weft__post *p = r->posts;
    r->posts = NULL;
    r->posts_tail = &r->posts;
    while (p) {
        weft__post *next = p->next;
        p->fn(p->arg);
        p = next;
    }
}

void *weft__reactor_read_buffer(weft_reactor *r, size_t *size)
{
    if (!r->read_buf)
        r->read_buf = weft_malloc(WEFT__IO_CHUNK);
    *size = WEFT__IO_CHUNK;
    return r->read_buf;
}

