/* SPDX-License-Identifier: MIT */
/* Deferreds and time: addTimeout and deferLater, both on the reactor's clock
 * (real or fake). */
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/timer.h"

/* ---- add_timeout ---- */

typedef struct timeout_ctx {
    weft_deferred *d; /* weak: the ctx lives in d's chain */
    weft_timer timer;
    double seconds;
    bool timed_out;
} timeout_ctx;

static void on_timeout(void *arg)
{
    timeout_ctx *t = arg;
    t->timed_out = true;
    weft_deferred_cancel(t->d);
}

/* Runs when d's chain reaches this point: a cancellation we caused becomes a
 * timeout; either way the timer has no more to do. */
static weft_result timeout_step(void *arg, weft_result result)
{
    timeout_ctx *t = arg;
    weft_timer_cancel(weft_deferred_reactor(t->d), t->timer);
    weft_failure *f = weft_result_failure(result);
    if (t->timed_out && f && weft_failure_check(f, WEFT_ECANCELED))
        return weft_err(weft_failure_wrap(f, WEFT_ETIMEDOUT, "Deferred timed out after %g seconds", t->seconds));
    return result;
}

/* Also runs when d is destroyed unfired: the timer must not outlive it. */
static void timeout_free(void *arg)
{
    timeout_ctx *t = arg;
    weft_timer_cancel(weft_deferred_reactor(t->d), t->timer);
    weft_free(t);
}

int weft_deferred_add_timeout(weft_deferred *d, double seconds)
{
    if (seconds != seconds)
        return WEFT_EINVAL;
    timeout_ctx *t = weft_malloc(sizeof *t);
    if (!t)
        return WEFT_ENOMEM;
    *t = (timeout_ctx){.d = d, .seconds = seconds};
    int err = weft_call_later(weft_deferred_reactor(d), seconds, on_timeout, t, &t->timer);
    if (err < 0) {
        weft_free(t);
        return err;
    }
    /* If d already has a result, the step runs now and cancels the timer. */
    if ((err = weft_deferred_add_callbacks_full(d, timeout_step, timeout_step, t, timeout_free)) < 0)
        timeout_free(t);
    return err;
}

/* ---- defer_later ---- */

typedef struct later_ctx {
    weft_reactor *r;
    weft_deferred *d; /* the timer's reference, until it fires */
    weft_timer timer;
    weft_result (*fn)(void *arg);
    void *arg;
} later_ctx;

static void later_fire(void *arg)
{
    later_ctx *c = arg;
    weft_deferred *d = c->d;
    c->d = NULL; /* the timer has done its part */
    /* The chain's first step frees c. */
    weft_deferred_callback(d, NULL, NULL);
    weft_deferred_unref(d);
}

/* Frees the context once the chain's first step has run or been dropped.
 * If the caller fired the Deferred before the timer did, the timer goes
 * too, with the reference it held. */
static void later_free(void *arg)
{
    later_ctx *c = arg;
    if (c->d)
        weft_timer_cancel(c->r, c->timer); /* later_dropped lets d go */
    weft_free(c);
}

/* The timer will never fire (cancelled, or the reactor freed first): its
 * reference to d goes. */
static void later_dropped(void *arg)
{
    later_ctx *c = arg;
    weft_deferred *d = c->d;
    c->d = NULL;
    weft_deferred_unref(d);
}

static weft_result later_call(void *arg, weft_result ignored)
{
    later_ctx *c = arg;
    weft_result_free(ignored);
    return c->fn ? c->fn(c->arg) : weft_none();
}

static void later_cancel(void *arg, weft_deferred *d)
{
    later_ctx *c = arg;
    (void)d; /* cancel holds its own reference; the timer's goes with it */
    weft_timer_cancel(c->r, c->timer);
}

weft_deferred *weft_defer_later(weft_reactor *r, double seconds, weft_result (*fn)(void *arg), void *arg)
{
    later_ctx *c = weft_malloc(sizeof *c);
    weft_deferred *d = c ? weft_deferred_new(r) : NULL;
    if (!d) {
        weft_free(c);
        return NULL;
    }
    *c = (later_ctx){.r = r, .d = d, .fn = fn, .arg = arg};
    /* A fresh Deferred has inline room, so this cannot fail; checked anyway. */
    if (weft_deferred_add_callbacks_full(d, later_call, NULL, c, later_free) < 0) {
        weft_free(c);
        weft_deferred_unref(d);
        return NULL;
    }
    if (weft_call_later_full(r, seconds, later_fire, c, later_dropped, &c->timer) < 0) {
        weft_deferred_unref(d); /* drops the entry, which frees c */
        return NULL;
    }
    weft_deferred_set_canceller(d, later_cancel, c);
    return weft_deferred_ref(d); /* one for the timer, one for the caller */
}
