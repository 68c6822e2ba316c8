/* SPDX-License-Identifier: MIT */
/*
 * DeferredQueue, after OtherPrimitivesTests in Twisted's
 * twisted/test/test_defer.py (testQueue, test_cancelQueueAfterSynchronousGet,
 * test_cancelQueueAfterGet), plus ownership of queued values and
 * out-of-memory runs.
 *
 * One deliberate difference from Twisted: a bound of 0 means "no bound"
 * (Twisted's size=0 / backlog=0 refuse every put / get).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* The code of the failure d holds now (0 if none), taken out of d. */
static int failure_code_of(weft_deferred *d)
{
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    int code = weft_failed(res) ? weft_failure_code(weft_result_failure(res)) : 0;
    weft_result_free(res);
    return code;
}

static int boxes_freed;

static void box_free(void *p)
{
    boxes_freed++;
    free(p);
}

static int *box(int v)
{
    int *p = malloc(sizeof *p);
    cr_assert_not_null(p);
    *p = v;
    return p;
}

/* Values gotten, in order. */
static int gotten[64];
static size_t ngotten;

static weft_result got(void *arg, weft_result r)
{
    (void)arg;
    cr_assert_not(weft_failed(r), "a get failed");
    cr_assert_lt(ngotten, 64);
    gotten[ngotten++] = *(int *)r.value;
    return r;
}

static void get_and_record(weft_deferred_queue *q)
{
    weft_deferred *d = NULL;
    cr_assert_not_null(d = weft_deferred_queue_get(q));
    cr_assert_not_null(d);
    cr_assert_eq(weft_deferred_add_callback(d, got, NULL), 0);
    weft_deferred_unref(d);
}

static void put(weft_deferred_queue *q, int v)
{
    int *b = box(v);
    int err = weft_deferred_queue_put(q, b, box_free);
    cr_assert_eq(err, 0, "put %d: %s", v, weft_strerror(err));
}

static void expect_gotten(const int *want, size_t n)
{
    cr_assert_eq(ngotten, n, "got %zu values, want %zu", ngotten, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(gotten[i], want[i], "value %zu", i);
}

typedef struct seen {
    int calls;
    int code;
} seen;

static weft_result consume(void *arg, weft_result r)
{
    seen *s = arg;
    if (s) {
        s->calls++;
        s->code = weft_failed(r) ? weft_failure_code(weft_result_failure(r)) : 0;
    }
    weft_result_free(r);
    return weft_none();
}

WEFT_TEST(deferred_queue, queue)
{
    enum { N = 2, M = 2 };
    weft_reactor *r = weft_test_clock();
    weft_deferred_queue *q = weft_deferred_queue_new(r, N, M);
    cr_assert_not_null(q);

    for (int i = 0; i < M; i++)
        get_and_record(q);
    cr_assert_eq(weft_deferred_queue_waiting(q), M);
    weft_deferred *d = weft_deferred_queue_get(q);
    cr_assert_eq(failure_code_of(d), WEFT_EQUEUEUNDERFLOW);
    weft_deferred_unref(d);

    for (int i = 0; i < M; i++) {
        put(q, i);
        int want[] = {0, 1};
        expect_gotten(want, (size_t)i + 1);
    }
    cr_assert_eq(weft_deferred_queue_waiting(q), 0);
    for (int i = 0; i < N; i++) {
        put(q, N + i);
        cr_assert_eq(ngotten, M, "queued, nobody waiting");
    }
    cr_assert_eq(weft_deferred_queue_size(q), N);
    int *extra = box(99);
    int freed_before = boxes_freed;
    cr_assert_eq(weft_deferred_queue_put(q, extra, box_free), WEFT_EQUEUEOVERFLOW);
    cr_assert_eq(boxes_freed, freed_before, "a refused value stays the caller's");
    cr_assert_eq(weft_deferred_queue_size(q), N);
    box_free(extra);

    ngotten = 0;
    for (int i = 0; i < N; i++) {
        get_and_record(q);
        int want[] = {N, N + 1};
        expect_gotten(want, (size_t)i + 1);
    }
    cr_assert_eq(weft_deferred_queue_size(q), 0);
    weft_deferred_queue_free(q);
    cr_assert_eq(boxes_freed, 1 + M + N, "every value freed with its Deferred");
    weft_reactor_free(r);
}

WEFT_TEST(deferred_queue, unbounded_gets_then_puts)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred_queue *q = weft_deferred_queue_new(r, 0, 0);
    for (int i = 0; i < 20; i++)
        get_and_record(q);
    cr_assert_eq(weft_deferred_queue_waiting(q), 20);
    for (int i = 0; i < 20; i++)
        put(q, i);
    cr_assert_eq(ngotten, 20);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(gotten[i], i);
    weft_deferred_queue_free(q);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_queue, unbounded_puts_then_gets)
{
    /* Many more than the ring's first size, with the ring wrapping. */
    weft_reactor *r = weft_test_clock();
    weft_deferred_queue *q = weft_deferred_queue_new(r, 0, 0);
    int next_put = 0, next_get = 0;
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 7; i++)
            put(q, next_put++);
        for (int i = 0; i < 4; i++) {
            weft_deferred *d;
            cr_assert_not_null(d = weft_deferred_queue_get(q));
            weft_result res;
            cr_assert(weft_deferred_peek(d, &res), "a queued value fires the get at once");
            cr_assert_eq(*(int *)res.value, next_get++);
            weft_deferred_unref(d);
        }
    }
    cr_assert_eq(weft_deferred_queue_size(q), (size_t)(next_put - next_get));
    weft_deferred_queue_free(q);
    cr_assert_eq(boxes_freed, next_put, "queued values destroyed by free");
    weft_reactor_free(r);
}

WEFT_TEST(deferred_queue, get_takes_ownership)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred_queue *q = weft_deferred_queue_new(r, 0, 0);
    put(q, 1);
    weft_deferred *d;
    cr_assert_not_null(d = weft_deferred_queue_get(q));
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    cr_assert_eq(boxes_freed, 0);
    cr_assert_eq(*(int *)res.value, 1);
    weft_result_free(res);
    cr_assert_eq(boxes_freed, 1);
    weft_deferred_queue_free(q);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_queue, cancel_after_synchronous_get)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred_queue *q = weft_deferred_queue_new(r, 0, 0);
    weft_deferred *d;
    cr_assert_not_null(d = weft_deferred_queue_get(q));
    seen s = {0};
    cr_assert_eq(weft_deferred_add_errback(d, consume, &s), 0);
    put(q, 5);
    weft_deferred_cancel(d);
    cr_assert_eq(s.calls, 0, "cancelling a get that has its value does nothing");
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert_eq(*(int *)res.value, 5);
    weft_deferred_unref(d);
    weft_deferred_queue_free(q);
    weft_reactor_free(r);
}

/* test_cancelQueueAfterGet: after the cancel, the chain puts and gets again;
 * a getter still linked to the queue would take the value instead. */
static weft_deferred_queue *chained_q;

static weft_result put_then_get(void *arg, weft_result r)
{
    (void)arg;
    weft_result_free(r);
    put(chained_q, 7);
    weft_deferred *d;
    cr_assert_not_null(d = weft_deferred_queue_get(chained_q));
    return weft_chain(d);
}

WEFT_TEST(deferred_queue, cancel_waiting_get)
{
    weft_reactor *r = weft_test_clock();
    chained_q = weft_deferred_queue_new(r, 0, 0);
    weft_deferred *d;
    cr_assert_not_null(d = weft_deferred_queue_get(chained_q));
    cr_assert_eq(weft_deferred_queue_waiting(chained_q), 1);
    weft_deferred_cancel(d);
    cr_assert_eq(weft_deferred_queue_waiting(chained_q), 0, "the getter withdrew");
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert_eq(weft_failure_code(weft_result_failure(res)), WEFT_ECANCELED);

    cr_assert_eq(weft_deferred_add_errback(d, put_then_get, NULL), 0);
    cr_assert_eq(weft_deferred_add_callback(d, got, NULL), 0);
    int want[] = {7};
    expect_gotten(want, 1);
    cr_assert_eq(weft_deferred_queue_size(chained_q), 0);
    weft_deferred_unref(d);
    weft_deferred_queue_free(chained_q);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_queue, cancelled_getter_frees_its_backlog_place)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred_queue *q = weft_deferred_queue_new(r, 0, 1);
    weft_deferred *d1, *d2;
    cr_assert_not_null(d1 = weft_deferred_queue_get(q));
    d2 = weft_deferred_queue_get(q);
    cr_assert_eq(failure_code_of(d2), WEFT_EQUEUEUNDERFLOW);
    weft_deferred_unref(d2);
    weft_deferred_cancel(d1);
    cr_assert_not_null(d2 = weft_deferred_queue_get(q));
    put(q, 3);
    weft_result res;
    cr_assert(weft_deferred_peek(d2, &res));
    cr_assert_eq(*(int *)res.value, 3);
    cr_assert_eq(weft_deferred_add_errback(d1, consume, NULL), 0);
    weft_deferred_unref(d1);
    weft_deferred_unref(d2);
    weft_deferred_queue_free(q);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_queue, free_destroys_values_and_cancels_getters)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred_queue *q = weft_deferred_queue_new(r, 0, 0);
    for (int i = 0; i < 12; i++)
        put(q, i);
    weft_deferred_queue_free(q);
    cr_assert_eq(boxes_freed, 12);

    q = weft_deferred_queue_new(r, 0, 0);
    weft_deferred *getters[3];
    seen s[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(getters[i] = weft_deferred_queue_get(q));
        cr_assert_eq(weft_deferred_add_errback(getters[i], consume, &s[i]), 0);
    }
    weft_deferred_queue_free(q);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s[i].calls, 1);
        cr_assert_eq(s[i].code, WEFT_ECANCELED);
        weft_deferred_unref(getters[i]);
    }
    weft_deferred_queue_free(NULL);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_queue, getters_nobody_holds_go_with_the_queue)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred_queue *q = weft_deferred_queue_new(r, 0, 0);
    for (int i = 0; i < 3; i++) {
        weft_deferred *d;
        cr_assert_not_null(d = weft_deferred_queue_get(q));
        cr_assert_eq(weft_deferred_add_errback(d, consume, NULL), 0);
        weft_deferred_unref(d);
    }
    weft_deferred_queue_free(q); /* the leak check proves they went */
    weft_reactor_free(r);
}

WEFT_TEST(deferred_queue, put_to_a_getter_whose_caller_dropped_it)
{
    /* The value goes to the oldest getter even if nobody listens: it is
     * freed with that Deferred, not lost. */
    weft_reactor *r = weft_test_clock();
    weft_deferred_queue *q = weft_deferred_queue_new(r, 0, 0);
    weft_deferred *d;
    cr_assert_not_null(d = weft_deferred_queue_get(q));
    weft_deferred_unref(d);
    put(q, 1);
    cr_assert_eq(boxes_freed, 1);
    cr_assert_eq(weft_deferred_queue_size(q), 0);
    weft_deferred_queue_free(q);
    weft_reactor_free(r);
}

/* ---- out of memory ---- */

typedef struct oom_ctx {
    weft_reactor *r;
    size_t refused, completed;
} oom_ctx;

static void oom_queue(void *arg)
{
    oom_ctx *c = arg;
    weft_deferred_queue *q = weft_deferred_queue_new(c->r, 0, 0);
    if (!q) {
        c->refused++;
        return;
    }
    /* Puts that grow the ring (8, then 16). */
    int queued = 0;
    for (int i = 0; i < 12; i++) {
        int *b = box(i);
        int err = weft_deferred_queue_put(q, b, box_free);
        if (err < 0) {
            cr_assert_eq(err, WEFT_ENOMEM);
            box_free(b); /* still ours */
            c->refused++;
            break;
        }
        queued++;
    }
    cr_assert_eq(weft_deferred_queue_size(q), (size_t)queued);
    /* Gets of queued values, then waiting getters. */
    int expect = 0;
    weft_deferred *waiting[2] = {0};
    for (int i = 0; i < queued + 2; i++) {
        weft_deferred *d = weft_deferred_queue_get(q);
        if (!d) {
            c->refused++;
            continue;
        }
        weft_result res;
        if (weft_deferred_peek(d, &res)) {
            cr_assert_eq(*(int *)res.value, expect++, "values in order, none lost");
            weft_deferred_unref(d);
        } else {
            cr_assert_eq(weft_deferred_queue_size(q), 0);
            waiting[waiting[0] ? 1 : 0] = d;
        }
    }
    size_t left = weft_deferred_queue_size(q);
    cr_assert_eq((int)left, queued - expect, "a refused get leaves its value queued");
    if (waiting[0]) {
        cr_assert_eq(left, 0);
        put(q, 100);
        weft_result res;
        cr_assert(weft_deferred_peek(waiting[0], &res));
        cr_assert_eq(*(int *)res.value, 100);
    }
    if (waiting[1])
        cr_assert_eq(weft_deferred_add_errback(waiting[1], consume, NULL), 0);
    if (queued == 12 && expect == 12 && waiting[1])
        c->completed++;
    weft_deferred_queue_free(q);
    if (waiting[1]) {
        weft_result res;
        cr_assert(weft_deferred_peek(waiting[1], &res), "free cancelled the getter");
    }
    weft_deferred_unref(waiting[0]);
    weft_deferred_unref(waiting[1]);
}

WEFT_TEST(deferred_queue, out_of_memory)
{
    oom_ctx c = {.r = weft_test_clock()};
    weft_test_log log;
    weft_test_log_capture(c.r, &log);
    size_t runs = weft_test_each_alloc_failure(oom_queue, &c);
    cr_assert_gt(runs, 10);
    cr_assert_gt(c.refused, 0);
    cr_assert_geq(c.completed, 1);
    weft_reactor_free(c.r);
}
