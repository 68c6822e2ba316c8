/* SPDX-License-Identifier: MIT */
/* Timers: call_later and its handle, on the fake clock (exact) and on a real
 * reactor (ordering and iteration rules only, never durations). Behaviour
 * after twisted.internet.test / task.Clock tests. */
#include <math.h>
#include <stdlib.h>

#include "test.h"

typedef struct recorder {
    int calls[64];
    size_t n;
} recorder;

typedef struct mark {
    recorder *rec;
    int id;
} mark;

static void record(void *arg)
{
    mark *m = arg;
    m->rec->calls[m->rec->n++] = m->id;
}

WEFT_TEST(timer, fires_after_delay_on_fake_clock)
{
    weft_reactor *r = weft_test_clock();
    recorder rec = {0};
    mark m = {&rec, 1};
    weft_timer t;
    cr_assert_eq(weft_call_later(r, 3, record, &m, &t), 0);
    cr_assert(weft_timer_active(r, t));
    cr_assert_float_eq(weft_timer_time(r, t), 3.0, 1e-9);
    cr_assert_eq(weft_clock_advance(r, 2.999), 0);
    cr_assert_eq(rec.n, 0);
    cr_assert_eq(weft_clock_advance(r, 0.001), 0);
    cr_assert_eq(rec.n, 1);
    cr_assert(!weft_timer_active(r, t));
    cr_assert(isnan(weft_timer_time(r, t)));
    cr_assert_eq(weft_reactor_timer_count(r), 0);
    weft_reactor_free(r);
}

WEFT_TEST(timer, order_by_time_then_schedule_order)
{
    weft_reactor *r = weft_test_clock();
    recorder rec = {0};
    mark m[5] = {{&rec, 0}, {&rec, 1}, {&rec, 2}, {&rec, 3}, {&rec, 4}};
    double delays[5] = {2, 1, 2, 1, 0};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(weft_call_later(r, delays[i], record, &m[i], NULL), 0);
    weft_clock_advance(r, 5);
    int want[5] = {4, 1, 3, 0, 2};
    cr_assert_eq(rec.n, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(rec.calls[i], want[i], "call %d: got %d want %d", i, rec.calls[i], want[i]);
    weft_reactor_free(r);
}

WEFT_TEST(timer, cancel)
{
    weft_reactor *r = weft_test_clock();
    recorder rec = {0};
    mark m = {&rec, 1};
    weft_timer t;
    cr_assert_eq(weft_call_later(r, 1, record, &m, &t), 0);
    cr_assert_eq(weft_timer_cancel(r, t), 0);
    cr_assert(!weft_timer_active(r, t));
    cr_assert_eq(weft_timer_cancel(r, t), WEFT_ENOTACTIVE);
    cr_assert_eq(weft_timer_reset(r, t, 1), WEFT_ENOTACTIVE);
    cr_assert_eq(weft_timer_delay(r, t, 1), WEFT_ENOTACTIVE);
    weft_clock_advance(r, 10);
    cr_assert_eq(rec.n, 0);
    weft_reactor_free(r);
}

WEFT_TEST(timer, cancel_after_fire_is_not_active)
{
    weft_reactor *r = weft_test_clock();
    recorder rec = {0};
    mark m = {&rec, 1};
    weft_timer t;
    cr_assert_eq(weft_call_later(r, 1, record, &m, &t), 0);
    weft_clock_advance(r, 1);
    cr_assert_eq(weft_timer_cancel(r, t), WEFT_ENOTACTIVE);
    weft_reactor_free(r);
}

WEFT_TEST(timer, stale_handle_does_not_touch_reused_slot)
{
    weft_reactor *r = weft_test_clock();
    recorder rec = {0};
    mark a = {&rec, 1}, b = {&rec, 2};
    weft_timer ta, tb;
    cr_assert_eq(weft_call_later(r, 1, record, &a, &ta), 0);
    cr_assert_eq(weft_timer_cancel(r, ta), 0);
    cr_assert_eq(weft_call_later(r, 1, record, &b, &tb), 0);
    cr_assert_neq(ta.id, tb.id);
    cr_assert_eq(weft_timer_cancel(r, ta), WEFT_ENOTACTIVE);
    cr_assert(weft_timer_active(r, tb));
    weft_clock_advance(r, 1);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(rec.calls[0], 2);
    cr_assert(!weft_timer_active(r, (weft_timer){0}));
    cr_assert_eq(weft_timer_cancel(r, (weft_timer){0}), WEFT_ENOTACTIVE);
    cr_assert_eq(weft_timer_cancel(r, (weft_timer){UINT64_MAX}), WEFT_ENOTACTIVE);
    weft_reactor_free(r);
}

WEFT_TEST(timer, reset_and_delay)
{
    weft_reactor *r = weft_test_clock();
    recorder rec = {0};
    mark m = {&rec, 1};
    weft_timer t;
    cr_assert_eq(weft_call_later(r, 5, record, &m, &t), 0);
    weft_clock_advance(r, 2);
    cr_assert_eq(weft_timer_reset(r, t, 5), 0); /* now due at 7 */
    cr_assert_float_eq(weft_timer_time(r, t), 7.0, 1e-9);
    cr_assert_eq(weft_timer_delay(r, t, 2), 0); /* 9 */
    cr_assert_float_eq(weft_timer_time(r, t), 9.0, 1e-9);
    cr_assert_eq(weft_timer_delay(r, t, -4), 0); /* 5 */
    weft_clock_advance(r, 2.5);
    cr_assert_eq(rec.n, 0);
    weft_clock_advance(r, 0.5);
    cr_assert_eq(rec.n, 1);
    weft_reactor_free(r);
}

WEFT_TEST(timer, reset_sooner_reorders)
{
    weft_reactor *r = weft_test_clock();
    recorder rec = {0};
    mark a = {&rec, 1}, b = {&rec, 2};
    weft_timer ta;
    cr_assert_eq(weft_call_later(r, 10, record, &a, &ta), 0);
    cr_assert_eq(weft_call_later(r, 5, record, &b, NULL), 0);
    cr_assert_eq(weft_timer_reset(r, ta, 1), 0);
    weft_clock_advance(r, 20);
    cr_assert_eq(rec.n, 2);
    cr_assert_eq(rec.calls[0], 1);
    cr_assert_eq(rec.calls[1], 2);
    weft_reactor_free(r);
}

WEFT_TEST(timer, bad_and_edge_delays)
{
    weft_reactor *r = weft_test_clock();
    recorder rec = {0};
    mark m = {&rec, 1};
    weft_timer t;
    cr_assert_eq(weft_call_later(r, NAN, record, &m, &t), WEFT_EINVAL);
    cr_assert_eq(weft_call_later(r, -5, record, &m, &t), 0);
    cr_assert_float_eq(weft_timer_time(r, t), 0.0, 1e-9);
    cr_assert_eq(weft_timer_reset(r, t, NAN), WEFT_EINVAL);
    cr_assert_eq(weft_timer_delay(r, t, NAN), WEFT_EINVAL);
    cr_assert_eq(weft_call_later(r, INFINITY, record, &m, NULL), 0);
    weft_clock_advance(r, 0);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(weft_reactor_timer_count(r), 1);
    weft_reactor_free(r);
}

typedef struct self_ref {
    weft_reactor *r;
    weft_timer t;
    int reset_result, cancel_result;
    bool active_inside;
} self_ref;

static void inspect_self(void *arg)
{
    self_ref *s = arg;
    s->active_inside = weft_timer_active(s->r, s->t);
    s->reset_result = weft_timer_reset(s->r, s->t, 1);
    s->cancel_result = weft_timer_cancel(s->r, s->t);
}

WEFT_TEST(timer, own_handle_inactive_inside_callback)
{
    weft_reactor *r = weft_test_clock();
    self_ref s = {.r = r};
    cr_assert_eq(weft_call_later(r, 1, inspect_self, &s, &s.t), 0);
    weft_clock_advance(r, 1);
    cr_assert(!s.active_inside);
    cr_assert_eq(s.reset_result, WEFT_ENOTACTIVE);
    cr_assert_eq(s.cancel_result, WEFT_ENOTACTIVE);
    weft_reactor_free(r);
}

typedef struct canceller {
    weft_reactor *r;
    weft_timer victim;
    recorder *rec;
} canceller;

static void cancel_victim(void *arg)
{
    canceller *c = arg;
    c->rec->calls[c->rec->n++] = 100;
    cr_assert_eq(weft_timer_cancel(c->r, c->victim), 0);
}

WEFT_TEST(timer, cancel_of_a_due_timer_from_another_callback)
{
    weft_reactor *r = weft_test_clock();
    recorder rec = {0};
    mark m = {&rec, 1};
    canceller c = {.r = r, .rec = &rec};
    cr_assert_eq(weft_call_later(r, 1, cancel_victim, &c, NULL), 0);
    cr_assert_eq(weft_call_later(r, 1, record, &m, &c.victim), 0);
    weft_clock_advance(r, 1);
    cr_assert_eq(rec.n, 1);
    cr_assert_eq(rec.calls[0], 100);
    weft_reactor_free(r);
}

typedef struct chain {
    weft_reactor *r;
    int fired;
} chain;

static void reschedule_zero(void *arg)
{
    chain *c = arg;
    if (++c->fired < 5)
        cr_assert_eq(weft_call_later(c->r, 0, reschedule_zero, c, NULL), 0);
}

WEFT_TEST(timer, fake_clock_advance_runs_what_falls_due_meanwhile)
{
    weft_reactor *r = weft_test_clock();
    chain c = {r, 0};
    cr_assert_eq(weft_call_later(r, 1, reschedule_zero, &c, NULL), 0);
    weft_clock_advance(r, 1);
    cr_assert_eq(c.fired, 5); /* as task.Clock.advance */
    weft_reactor_free(r);
}

WEFT_TEST(timer, real_reactor_runs_new_zero_timers_next_iteration)
{
    weft_reactor *r = weft_test_reactor();
    chain c = {r, 0};
    cr_assert_eq(weft_call_later(r, 0, reschedule_zero, &c, NULL), 0);
    cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    cr_assert_eq(c.fired, 1);
    cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    cr_assert_eq(c.fired, 2);
    weft_reactor_free(r);
}

static void fire_deferred(void *arg)
{
    weft_deferred_callback(arg, NULL, NULL);
}

WEFT_TEST(timer, real_reactor_sleeps_until_the_timer)
{
    weft_reactor *r = weft_test_reactor();
    weft_deferred *d = weft_deferred_new(r);
    double start = weft_reactor_now(r);
    weft_timer t;
    cr_assert_eq(weft_call_later(r, 0.02, fire_deferred, d, &t), 0);
    double due = weft_timer_time(r, t);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    /* Fired no earlier than due: an ordering fact, not a duration. */
    cr_assert_geq(weft_reactor_now(r), due);
    cr_assert_gt(due, start);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(timer, advance_refused_on_real_clock)
{
    weft_reactor *r = weft_test_reactor();
    cr_assert_eq(weft_clock_advance(r, 1), WEFT_EINVAL);
    weft_reactor_free(r);
    r = weft_test_clock();
    cr_assert_eq(weft_clock_advance(r, -1), WEFT_EINVAL);
    weft_reactor_free(r);
}

WEFT_TEST(timer, pump_and_pending_calls_sorted)
{
    weft_reactor *r = weft_test_clock();
    recorder rec = {0};
    mark m[4] = {{&rec, 0}, {&rec, 1}, {&rec, 2}, {&rec, 3}};
    double delays[4] = {4, 1, 3, 2};
    weft_timer t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(weft_call_later(r, delays[i], record, &m[i], &t[i]), 0);
    weft_timer out[4];
    cr_assert_eq(weft_clock_calls(r, out, 4), 4);
    cr_assert_eq(out[0].id, t[1].id);
    cr_assert_eq(out[1].id, t[3].id);
    cr_assert_eq(out[2].id, t[2].id);
    cr_assert_eq(out[3].id, t[0].id);
    double steps[3] = {1, 1, 1};
    cr_assert_eq(weft_clock_pump(r, steps, 3), 0);
    cr_assert_eq(rec.n, 3);
    cr_assert_eq(weft_clock_calls(r, NULL, 0), 1);
    weft_reactor_free(r);
}

static void count_up(void *arg)
{
    int64_t *last = arg;
    last[1]++;
}

/* Many timers in random order: every one fires, in time order, and the heap
 * stays consistent through interleaved cancels and resets. */
typedef struct ordered {
    weft_reactor *r;
    double last;
    size_t fired;
    bool in_order;
} ordered;

static void check_order(void *arg)
{
    ordered *o = arg;
    double now = weft_reactor_now(o->r);
    if (now < o->last)
        o->in_order = false;
    o->last = now;
    o->fired++;
}

WEFT_TEST(timer, many_random_timers_fire_in_order)
{
    weft_reactor *r = weft_test_clock();
    enum { N = 20000 };
    ordered o = {.r = r, .in_order = true};
    weft_timer *t = malloc(N * sizeof *t);
    srand(12345);
    for (int i = 0; i < N; i++)
        cr_assert_eq(weft_call_later(r, (rand() % 100000) / 100.0, check_order, &o, &t[i]), 0);
    size_t cancelled = 0;
    for (int i = 0; i < N; i += 3) {
        cr_assert_eq(weft_timer_cancel(r, t[i]), 0);
        cancelled++;
    }
    for (int i = 1; i < N; i += 7)
        if (weft_timer_active(r, t[i]))
            cr_assert_eq(weft_timer_reset(r, t[i], (rand() % 100000) / 100.0), 0);
    cr_assert_eq(weft_reactor_timer_count(r), N - cancelled);
    for (int step = 0; step < 2000; step++)
        weft_clock_advance(r, 0.5);
    cr_assert_eq(o.fired, N - cancelled);
    cr_assert(o.in_order);
    cr_assert_eq(weft_reactor_timer_count(r), 0);
    free(t);
    int64_t unused[2] = {0, 0};
    cr_assert_eq(weft_call_later(r, 0, count_up, unused, NULL), 0);
    weft_clock_advance(r, 0);
    cr_assert_eq(unused[1], 1);
    weft_reactor_free(r);
}

WEFT_TEST(timer, free_with_pending_timers)
{
    weft_reactor *r = weft_test_reactor();
    recorder rec = {0};
    mark m = {&rec, 1};
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(weft_call_later(r, 100 + i, record, &m, NULL), 0);
    weft_reactor_free(r);
    cr_assert_eq(rec.n, 0);
}

static void alloc_scenario(void *arg)
{
    weft_reactor *r = arg;
    weft_timer t[200];
    int ok = 0;
    for (int i = 0; i < 200; i++) {
        int err = weft_call_later(r, i, count_up, NULL, &t[i]);
        cr_assert(err == 0 || err == WEFT_ENOMEM);
        if (err == 0)
            ok++;
        else
            t[i].id = 0;
    }
    for (int i = 0; i < 200; i++)
        if (t[i].id)
            cr_assert_eq(weft_timer_cancel(r, t[i]), 0);
    cr_assert_eq(weft_reactor_timer_count(r), 0);
    (void)ok;
}

WEFT_TEST(timer, allocation_failures)
{
    /* A fresh reactor per pass would reuse grown arrays; this pass grows the
     * timer arrays under each failing allocation in turn. */
    for (uint64_t n = 1; n < 8; n++) {
        weft_reactor *r = weft_test_clock();
        weft_fault_alloc fa = {.fail_at = n};
        weft_fault_alloc_install(&fa);
        alloc_scenario(r);
        weft_fault_alloc_remove();
        weft_reactor_free(r);
    }
}

WEFT_TEST(timer, run_until_sees_a_deferred_fired_by_a_timer, .timeout = 20)
{
    /* The timer fires the Deferred in the timer step; the poll step that
     * follows must not then sleep with nothing left to wake it. */
    weft_reactor *r = weft_test_reactor();
    weft_deferred *d = weft_defer_later(r, 0.001, NULL, NULL);
    cr_assert_eq(weft_reactor_run_until(r, d, -1), 0);
    cr_assert(weft_deferred_called(d));
    weft_deferred_unref(d);
    weft_reactor_free(r);
}
