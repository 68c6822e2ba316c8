/* SPDX-License-Identifier: MIT */
/*
 * LoopingCall, after twisted.internet.task.LoopingCall with withCount. Times
 * are integer nanoseconds from the start, so "the next multiple of the
 * interval" is exact and the loop cannot drift or fire twice in one slot.
 */
#include "../core/internal.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/looping_call.h"
#include "weft/timer.h"

struct weft_looping_call {
    weft_reactor *r;
    weft_looping_fn fn;
    void *arg;
    int64_t start_ns, interval_ns, last_ns;
    bool have_last, run_at_start;
    bool running;
    bool in_call;      /* fn, or the Deferred it returned, is in progress */
    bool free_pending; /* freed during a call: free when it ends */
    bool timer_set;
    weft_timer timer;
    weft_deferred *done; /* the start Deferred; our reference until it fires */
};

static int64_t now_ns(weft_looping_call *lc)
{
    return weft__reactor_now_ns(lc->r);
}

weft_looping_call *weft_looping_call_new(weft_reactor *r, weft_looping_fn fn, void *arg)
{
    weft_looping_call *lc = weft_calloc(1, sizeof *lc);
    if (lc) {
        lc->r = r;
        lc->fn = fn;
        lc->arg = arg;
    }
    return lc;
}

static void finish(weft_looping_call *lc, weft_failure *f)
{
    weft_deferred *d = lc->done;
    lc->done = NULL;
    lc->running = false;
    if (f)
        weft_deferred_errback(d, f);
    else
        weft_deferred_callback(d, NULL, NULL);
    weft_deferred_unref(d);
}

static void call(void *arg);

static void schedule_from(weft_looping_call *lc, int64_t when)
{
    int64_t delay = 0;
    if (lc->interval_ns > 0)
        delay = lc->interval_ns - (when - lc->start_ns) % lc->interval_ns;
    int err = weft_call_later(lc->r, (double)delay / 1e9, call, lc, &lc->timer);
    if (err < 0) {
        finish(lc, weft_failure_new(err, "looping call could not be scheduled"));
        return;
    }
    lc->timer_set = true;
}

/* How many intervals passed since the previous call (withCount). */
static uint64_t count_intervals(weft_looping_call *lc, int64_t now)
{
    if (lc->interval_ns == 0)
        return 1;
    int64_t last = lc->have_last ? lc->last_ns : lc->start_ns - (lc->run_at_start ? lc->interval_ns : 0);
    /* When run at start, `last` is one interval before the start: exactly
     * interval number -1. */
    int64_t count = (now - lc->start_ns) / lc->interval_ns - (last - lc->start_ns) / lc->interval_ns;
    return count > 0 ? (uint64_t)count : 0;
}

static void call_ended(weft_looping_call *lc, weft_failure *f)
{
    lc->in_call = false;
    if (f)
        finish(lc, f);
    else if (lc->running)
        schedule_from(lc, now_ns(lc));
    else if (lc->done)
        finish(lc, NULL);
    if (lc->free_pending)
        weft_looping_call_free(lc);
}

static weft_result on_result(void *arg, weft_result result)
{
    weft_looping_call *lc = arg;
    weft_failure *f = weft_result_failure(result);
    if (f)
        result = weft_none(); /* the failure passes to the start Deferred */
    call_ended(lc, f);
    return result;
}

static void call(void *arg)
{
    weft_looping_call *lc = arg;
    lc->timer_set = false;
    int64_t now = now_ns(lc);
    uint64_t count = count_intervals(lc, now);
    weft_result result = weft_none();
    lc->in_call = true;
    if (count > 0) {
        lc->last_ns = now;
        lc->have_last = true;
        result = lc->fn(lc->arg, count);
    }
    if (!weft_result_is_deferred(result)) {
        weft_failure *f = weft_result_failure(result);
        if (!f)
            weft_result_free(result);
        call_ended(lc, f);
        return;
    }
    weft_deferred *d = result.value;
    if (weft_deferred_add_callbacks(d, on_result, on_result, lc) < 0)
        call_ended(lc, weft_failure_new(WEFT_ENOMEM, "out of memory waiting for a looping call"));
    weft_deferred_unref(d);
}

int weft_looping_call_start(weft_looping_call *lc, double interval, bool now, weft_deferred **out)
{
    if (lc->running || lc->in_call)
        return WEFT_ERUNNING;
    int64_t interval_ns;
    if (interval < 0 || weft__seconds_to_ns(interval, &interval_ns) < 0)
        return WEFT_EINVAL;
    weft_deferred *done = weft_deferred_new(lc->r);
    if (!done)
        return WEFT_ENOMEM;
    lc->done = done;
    lc->running = true;
    lc->start_ns = now_ns(lc);
    lc->interval_ns = interval_ns;
    lc->run_at_start = now;
    lc->have_last = false;
    if (out)
        *out = weft_deferred_ref(done);
    if (now)
        call(lc);
    else
        schedule_from(lc, lc->start_ns);
    return 0;
}

int weft_looping_call_stop(weft_looping_call *lc)
{
    if (!lc->running)
        return WEFT_ENOTRUNNING;
    lc->running = false;
    if (lc->timer_set) {
        weft_timer_cancel(lc->r, lc->timer);
        lc->timer_set = false;
        finish(lc, NULL);
    }
    /* Otherwise a call is in progress and call_ended finishes. */
    return 0;
}

bool weft_looping_call_running(const weft_looping_call *lc)
{
    return lc->running;
}

void weft_looping_call_free(weft_looping_call *lc)
{
    if (!lc)
        return;
    if (lc->running)
        weft_looping_call_stop(lc);
    if (lc->in_call) {
        lc->free_pending = true;
        return;
    }
    weft_free(lc);
}
