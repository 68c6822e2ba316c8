/* SPDX-License-Identifier: MIT */
/*
 * Coroutine await round trip: a coroutine awaits a pending Deferred that
 * call_soon fires, N times - two context switches, a Deferred and a queued
 * call per round trip. Built twice by bench/CMakeLists.txt: against the
 * assembly switch and against the ucontext fallback (swapcontext, which
 * also saves the signal mask with a system call), so the ratio is the gain
 * of the hand-written switch doing exactly the same work.
 *
 * A second figure isolates the switches: the Deferred is fired directly
 * from outside the coroutine, with no reactor iteration (and so no poll
 * system call) in the round trip.
 *
 * Prints two numbers, nanoseconds per round trip (best of 5): through
 * call_soon, and fired directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "weft/coro.h"
#include "weft/deferred.h"
#include "weft/reactor.h"

enum { N = 200000 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fire(void *arg)
{
    weft_deferred_callback(arg, NULL, NULL);
}

static weft_result loop(void *arg)
{
    weft_reactor *r = arg;
    for (int i = 0; i < N; i++) {
        weft_deferred *d = weft_deferred_new(r);
        if (!d || weft_reactor_call_soon(r, fire, d) < 0)
            abort();
        weft_result_free(weft_await(d));
    }
    return weft_none();
}

typedef struct direct {
    weft_reactor *r;
    weft_deferred *waiting;
} direct;

static weft_result await_forever(void *arg)
{
    direct *x = arg;
    for (int i = 0; i < N; i++) {
        x->waiting = weft_deferred_new(x->r);
        if (!x->waiting)
            abort();
        weft_result_free(weft_await(x->waiting));
    }
    x->waiting = NULL;
    return weft_none();
}

static double direct_round_trips(void)
{
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        weft_reactor *r;
        if (weft_reactor_new(NULL, &r) < 0)
            abort();
        direct x = {r, NULL};
        double t0 = now();
        weft_deferred *d = weft_coro_spawn(r, await_forever, &x);
        while (x.waiting)
            weft_deferred_callback(x.waiting, NULL, NULL); /* resumes it: one round trip */
        double ns = (now() - t0) / N * 1e9;
        if (ns < best)
            best = ns;
        weft_deferred_unref(d);
        weft_reactor_free(r);
    }
    return best;
}

int main(void)
{
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        weft_reactor *r;
        if (weft_reactor_new(NULL, &r) < 0)
            return 1;
        double t0 = now();
        weft_deferred *d = weft_coro_spawn(r, loop, r);
        if (!d || weft_reactor_run_until(r, d, 60) < 0)
            return 1;
        double ns = (now() - t0) / N * 1e9;
        if (ns < best)
            best = ns;
        weft_deferred_unref(d);
        weft_reactor_free(r);
    }
    printf("%.1f %.1f\n", best, direct_round_trips());
    return 0;
}
