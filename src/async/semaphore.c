/* SPDX-License-Identifier: MIT */
/* DeferredSemaphore (and so DeferredLock). A token freed by release goes
 * straight to the first waiter, as in Twisted. */
#include "waitq.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/semaphore.h"

struct weft_semaphore {
    weft_reactor *r;
    unsigned limit, tokens;
    weft__waitq waiting;
};

weft_semaphore *weft_semaphore_new(weft_reactor *r, unsigned tokens)
{
    if (tokens == 0)
        return NULL;
    weft_semaphore *s = weft_malloc(sizeof *s);
    if (!s)
        return NULL;
    *s = (weft_semaphore){.r = r, .limit = tokens, .tokens = tokens};
    weft__waitq_init(&s->waiting);
    return s;
}

void weft_semaphore_free(weft_semaphore *s)
{
    if (!s)
        return;
    weft__waitq_cancel_all(&s->waiting);
    weft_free(s);
}

weft_deferred *weft_semaphore_acquire(weft_semaphore *s)
{
    if (s->tokens == 0)
        return weft__waitq_add(&s->waiting, s->r);
    weft_deferred *d = weft_succeed(s->r, NULL, NULL);
    if (d)
        s->tokens--;
    return d;
}

int weft_semaphore_release(weft_semaphore *s)
{
    weft_deferred *d = weft__waitq_pop(&s->waiting);
    if (d) {
        weft_deferred_callback(d, NULL, NULL);
        weft_deferred_unref(d);
        return 0;
    }
    if (s->tokens >= s->limit)
        return WEFT_EINVAL;
    s->tokens++;
    return 0;
}

unsigned weft_semaphore_tokens(const weft_semaphore *s)
{
    return s->tokens;
}

size_t weft_semaphore_waiting(const weft_semaphore *s)
{
    return s->waiting.count;
}

/* ---- run ---- */

typedef struct run_ctx {
    weft_semaphore *s;
    weft_result (*fn)(void *arg);
    void *arg;
} run_ctx;

static weft_result release_and_return(void *arg, weft_result result)
{
    weft_semaphore_release(arg);
    return result;
}

static weft_result execute(void *arg, weft_result ignored)
{
    run_ctx *c = arg;
    weft_result_free(ignored);
    weft_deferred *d = weft_maybe_deferred(c->s->r, c->fn, c->arg);
    if (!d || weft_deferred_add_both(d, release_and_return, c->s) < 0) {
        weft_semaphore_release(c->s);
        weft_deferred_unref(d);
        return weft_err_new(WEFT_ENOMEM, "out of memory running under a semaphore");
    }
    return weft_chain(d);
}

weft_deferred *weft_semaphore_run(weft_semaphore *s, weft_result (*fn)(void *arg), void *arg)
{
    run_ctx *c = weft_malloc(sizeof *c);
    weft_deferred *d = c ? weft_semaphore_acquire(s) : NULL;
    if (!d) {
        weft_free(c);
        return NULL;
    }
    *c = (run_ctx){s, fn, arg};
    /* A fresh Deferred has inline room for one entry: this cannot fail. */
    int err = weft_deferred_add_callbacks_full(d, execute, NULL, c, weft_free);
    (void)err;
    return d;
}
