/* SPDX-License-Identifier: MIT */
/* LoopingCall on the fake clock. The cases follow Twisted's LoopTests in
 * twisted/test/test_task.py. */
#include <math.h>

#include "test.h"

typedef struct calls {
    weft_reactor *r;
    double times[64];
    uint64_t counts[64];
    size_t n;
    double advance_inside; /* the call "takes" this long */
    size_t fail_at;        /* 1-based call that fails; 0 never */
    weft_looping_call *lc;
    bool stop_inside, free_inside;
    weft_deferred *pending; /* returned by the call when wait_on_deferred */
    bool wait_on_deferred;
} calls;

static weft_result record(void *arg, uint64_t count)
{
    calls *c = arg;
    c->times[c->n] = weft_reactor_now(c->r);
    c->counts[c->n++] = count;
    if (c->advance_inside > 0)
        weft_clock_advance(c->r, c->advance_inside);
    if (c->fail_at && c->n == c->fail_at)
        return weft_err_new(WEFT_EFAILED, "call %zu failed", c->n);
    if (c->stop_inside)
        weft_looping_call_stop(c->lc);
    if (c->free_inside) {
        weft_looping_call_free(c->lc);
        c->lc = NULL;
    }
    if (c->wait_on_deferred) {
        c->pending = weft_deferred_new(c->r);
        return weft_chain(weft_deferred_ref(c->pending));
    }
    return weft_ok(weft_malloc(16), weft_free); /* values are freed */
}

static calls *setup(calls *c)
{
    *c = (calls){.r = weft_test_clock()};
    c->lc = weft_looping_call_new(c->r, record, c);
    cr_assert_not_null(c->lc);
    return c;
}

static void teardown(calls *c)
{
    weft_looping_call_free(c->lc);
    weft_reactor_free(c->r);
}

static void assert_times(const calls *c, const double *want, size_t n)
{
    cr_assert_eq(c->n, n, "%zu calls, want %zu", c->n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_float_eq(c->times[i], want[i], 1e-9, "call %zu at %g, want %g", i, c->times[i], want[i]);
}

WEFT_TEST(looping_call, basic_function)
{
    calls c;
    setup(&c);
    weft_deferred *done;
    cr_assert_eq(weft_looping_call_start(c.lc, 0.1, true, &done), 0);
    cr_assert(weft_looping_call_running(c.lc));
    double steps[4] = {0.2, 0.1, 0.1, 0.1};
    cr_assert_eq(weft_clock_pump(c.r, steps, 4), 0);
    /* The 0.2 step jumped one interval: called at 0.2, skipping 0.1. */
    double want[5] = {0, 0.2, 0.3, 0.4, 0.5};
    assert_times(&c, want, 5);
    cr_assert(!weft_deferred_called(done));
    cr_assert_eq(weft_looping_call_stop(c.lc), 0);
    cr_assert(!weft_looping_call_running(c.lc));
    weft_result res;
    cr_assert(weft_deferred_peek(done, &res));
    cr_assert(!weft_failed(res));
    cr_assert_eq(weft_reactor_timer_count(c.r), 0);
    cr_assert_eq(weft_looping_call_stop(c.lc), WEFT_ENOTRUNNING);
    weft_deferred_unref(done);
    teardown(&c);
}

WEFT_TEST(looping_call, delayed_start)
{
    calls c;
    setup(&c);
    cr_assert_eq(weft_looping_call_start(c.lc, 2, false, NULL), 0);
    cr_assert_eq(c.n, 0);
    double steps[3] = {1, 1, 2};
    weft_clock_pump(c.r, steps, 3);
    double want[2] = {2, 4};
    assert_times(&c, want, 2);
    cr_assert_eq(weft_looping_call_stop(c.lc), 0);
    teardown(&c);
}

WEFT_TEST(looping_call, bad_interval_and_double_start)
{
    calls c;
    setup(&c);
    cr_assert_eq(weft_looping_call_start(c.lc, -1, true, NULL), WEFT_EINVAL);
    cr_assert_eq(weft_looping_call_start(c.lc, NAN, true, NULL), WEFT_EINVAL);
    cr_assert(!weft_looping_call_running(c.lc));
    cr_assert_eq(weft_looping_call_start(c.lc, 1, false, NULL), 0);
    cr_assert_eq(weft_looping_call_start(c.lc, 1, false, NULL), WEFT_ERUNNING);
    teardown(&c); /* free stops it */
}

WEFT_TEST(looping_call, does_not_drift)
{
    calls c;
    setup(&c);
    cr_assert_eq(weft_looping_call_start(c.lc, 0.1, true, NULL), 0);
    /* Irregular, late wake-ups: each call still lands on the grid. */
    double steps[6] = {0.13, 0.09, 0.11, 0.07, 0.2, 0.1};
    weft_clock_pump(c.r, steps, 6);
    /* Each call is scheduled for the next grid point 0.1 k, however late
     * the previous one ran. */
    double want[7] = {0, 0.13, 0.22, 0.33, 0.4, 0.6, 0.7};
    assert_times(&c, want, 7);
    weft_clock_advance(c.r, 0.05);
    cr_assert_eq(c.n, 7);
    weft_clock_advance(c.r, 0.05);
    cr_assert_eq(c.n, 8);
    cr_assert_float_eq(c.times[7], 0.8, 1e-9);
    teardown(&c);
}

WEFT_TEST(looping_call, callback_time_skips)
{
    calls c;
    setup(&c);
    c.advance_inside = 2;
    cr_assert_eq(weft_looping_call_start(c.lc, 0.5, true, NULL), 0);
    double w1[1] = {0};
    assert_times(&c, w1, 1);
    cr_assert_float_eq(weft_reactor_now(c.r), 2, 1e-9);
    weft_clock_advance(c.r, 0); /* 2 is the present, not the future: skipped */
    assert_times(&c, w1, 1);
    c.advance_inside = 1;
    weft_clock_advance(c.r, 0.5);
    double w2[2] = {0, 2.5};
    assert_times(&c, w2, 2);
    cr_assert_float_eq(weft_reactor_now(c.r), 3.5, 1e-9);
    weft_clock_advance(c.r, 0);
    assert_times(&c, w2, 2);
    c.advance_inside = 0;
    weft_clock_advance(c.r, 0.5);
    double w3[3] = {0, 2.5, 4};
    assert_times(&c, w3, 3);
    teardown(&c);
}

WEFT_TEST(looping_call, reactor_time_count_skips)
{
    calls c;
    setup(&c);
    cr_assert_eq(weft_looping_call_start(c.lc, 0.5, true, NULL), 0);
    weft_clock_advance(c.r, 0.51);
    weft_clock_advance(c.r, 1.51);
    weft_clock_advance(c.r, 0);
    double want[3] = {0, 0.51, 2.02};
    assert_times(&c, want, 3);
    cr_assert_eq(c.counts[0], 1);
    cr_assert_eq(c.counts[1], 1);
    cr_assert_eq(c.counts[2], 3);
    teardown(&c);
}

WEFT_TEST(looping_call, lengthy_interval_counts_only_expected_calls)
{
    calls c;
    setup(&c);
    cr_assert_eq(weft_looping_call_start(c.lc, 0.5, true, NULL), 0);
    weft_clock_advance(c.r, 0.51);
    weft_clock_advance(c.r, 0.875);
    weft_clock_advance(c.r, 0.125);
    double want[4] = {0, 0.51, 1.385, 1.51};
    assert_times(&c, want, 4);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(c.counts[i], 1);
    teardown(&c);
}

WEFT_TEST(looping_call, floating_point_boundary)
{
    /* Intervals of 0.1 s a thousand times: integer nanoseconds keep every
     * boundary exact, so no call is counted twice or skipped. */
    calls c;
    setup(&c);
    cr_assert_eq(weft_looping_call_start(c.lc, 0.1, true, NULL), 0);
    uint64_t total = 0;
    for (int i = 0; i < 60; i++) {
        weft_clock_advance(c.r, 0.1);
        total += c.counts[c.n - 1];
        c.n = 0;
    }
    cr_assert_eq(total, 60);
    teardown(&c);
}

static weft_result stop_after_three(void *arg, uint64_t count)
{
    calls *c = arg;
    c->counts[c->n++] = count;
    if (c->n == 3)
        weft_looping_call_stop(c->lc);
    return weft_none();
}

WEFT_TEST(looping_call, interval_zero_runs_each_time_with_count_one)
{
    calls c = {.r = weft_test_clock()};
    c.lc = weft_looping_call_new(c.r, stop_after_three, &c);
    weft_deferred *done;
    cr_assert_eq(weft_looping_call_start(c.lc, 0, true, &done), 0);
    weft_clock_advance(c.r, 0);
    cr_assert_eq(c.n, 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(c.counts[i], 1);
    cr_assert(weft_deferred_called(done));
    weft_deferred_unref(done);
    teardown(&c);
}

WEFT_TEST(looping_call, failure_stops_and_errbacks)
{
    calls c;
    setup(&c);
    c.fail_at = 2;
    weft_deferred *done;
    cr_assert_eq(weft_looping_call_start(c.lc, 1, true, &done), 0);
    weft_clock_advance(c.r, 1);
    cr_assert(!weft_looping_call_running(c.lc));
    weft_result res;
    cr_assert(weft_deferred_peek(done, &res));
    cr_assert(weft_failed(res));
    cr_assert_str_eq(weft_failure_message(weft_result_failure(res)), "call 2 failed");
    weft_clock_advance(c.r, 5);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(weft_reactor_timer_count(c.r), 0);
    weft_deferred_unref(done);
    teardown(&c);
}

WEFT_TEST(looping_call, waits_for_a_returned_deferred)
{
    calls c;
    setup(&c);
    c.wait_on_deferred = true;
    cr_assert_eq(weft_looping_call_start(c.lc, 1, true, NULL), 0);
    cr_assert_eq(c.n, 1);
    weft_clock_advance(c.r, 3.5);
    cr_assert_eq(c.n, 1, "no call while the previous one's Deferred is pending");
    weft_deferred *p = c.pending;
    weft_deferred_callback(p, NULL, NULL);
    weft_deferred_unref(p);
    cr_assert_eq(c.n, 1);
    weft_clock_advance(c.r, 0.5); /* next grid point: 4 */
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.counts[1], 4, "the intervals missed while waiting are counted");
    c.wait_on_deferred = false;
    weft_deferred_callback(c.pending, NULL, NULL);
    weft_deferred_unref(c.pending);
    teardown(&c);
}

WEFT_TEST(looping_call, stop_while_waiting_fires_done_after_the_call)
{
    calls c;
    setup(&c);
    c.wait_on_deferred = true;
    weft_deferred *done;
    cr_assert_eq(weft_looping_call_start(c.lc, 1, true, &done), 0);
    cr_assert_eq(weft_looping_call_stop(c.lc), 0);
    cr_assert(!weft_deferred_called(done));
    weft_deferred_callback(c.pending, NULL, NULL);
    weft_deferred_unref(c.pending);
    cr_assert(weft_deferred_called(done));
    weft_clock_advance(c.r, 10);
    cr_assert_eq(c.n, 1);
    weft_deferred_unref(done);
    teardown(&c);
}

WEFT_TEST(looping_call, failed_deferred_errbacks_done)
{
    calls c;
    setup(&c);
    c.wait_on_deferred = true;
    weft_deferred *done;
    cr_assert_eq(weft_looping_call_start(c.lc, 1, true, &done), 0);
    weft_deferred_errback(c.pending, weft_failure_new(WEFT_EFAILED, "async failure"));
    weft_deferred_unref(c.pending);
    weft_result res;
    cr_assert(weft_deferred_peek(done, &res));
    cr_assert(weft_failed(res));
    cr_assert(!weft_looping_call_running(c.lc));
    weft_deferred_unref(done);
    teardown(&c);
}

WEFT_TEST(looping_call, stop_inside_the_call)
{
    calls c;
    setup(&c);
    weft_deferred *done;
    cr_assert_eq(weft_looping_call_start(c.lc, 1, true, &done), 0);
    c.stop_inside = true;
    weft_clock_advance(c.r, 1);
    cr_assert_eq(c.n, 2);
    cr_assert(weft_deferred_called(done));
    weft_clock_advance(c.r, 5);
    cr_assert_eq(c.n, 2);
    /* It can start again. */
    c.stop_inside = false;
    weft_deferred_unref(done);
    cr_assert_eq(weft_looping_call_start(c.lc, 1, false, NULL), 0);
    weft_clock_advance(c.r, 1);
    cr_assert_eq(c.n, 3);
    teardown(&c);
}

WEFT_TEST(looping_call, free_inside_the_call)
{
    calls c;
    setup(&c);
    weft_deferred *done;
    cr_assert_eq(weft_looping_call_start(c.lc, 1, true, &done), 0);
    c.free_inside = true;
    weft_clock_advance(c.r, 1);
    cr_assert_null(c.lc);
    cr_assert(weft_deferred_called(done));
    cr_assert_eq(weft_reactor_timer_count(c.r), 0);
    weft_deferred_unref(done);
    teardown(&c);
}

WEFT_TEST(looping_call, unobserved_failure_is_reported)
{
    calls c;
    setup(&c);
    weft_test_log log;
    weft_test_log_capture(c.r, &log);
    c.fail_at = 1;
    cr_assert_eq(weft_looping_call_start(c.lc, 1, true, NULL), 0);
    cr_assert(weft_test_log_contains(&log, "Unhandled error in Deferred: call 1 failed"));
    teardown(&c);
}
