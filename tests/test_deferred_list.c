/* SPDX-License-Identifier: MIT */
/*
 * weft_deferred_list and weft_gather, after the DeferredList and
 * gatherResults cases of Twisted's twisted/test/test_defer.py
 * (DeferredTests, DeferredListEmptyTests), plus out-of-memory passes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ---- helpers ---- */

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

static int item_value(const weft_result_list *l, size_t i)
{
    cr_assert_lt(i, l->count);
    cr_assert_not(weft_failed(l->items[i]), "item %zu is a failure", i);
    cr_assert_not_null(l->items[i].value, "item %zu is none", i);
    return *(int *)l->items[i].value;
}

static weft_failure *item_failure(const weft_result_list *l, size_t i)
{
    cr_assert_lt(i, l->count);
    weft_failure *f = weft_result_failure(l->items[i]);
    cr_assert_not_null(f, "item %zu is not a failure", i);
    return f;
}

/* The list a fired list Deferred holds (borrowed). */
static const weft_result_list *list_of(weft_deferred *d)
{
    weft_result r;
    cr_assert(weft_deferred_peek(d, &r), "the list has not fired");
    cr_assert_not(weft_failed(r), "the list failed: %s", weft_failure_message(weft_result_failure(r)));
    cr_assert_not_null(r.value);
    return r.value;
}

static weft_failure *failure_of(weft_deferred *d)
{
    weft_result r;
    cr_assert(weft_deferred_peek(d, &r), "no result");
    cr_assert(weft_failed(r), "expected a failure");
    return weft_result_failure(r);
}

typedef struct seen {
    int calls;
    bool failed;
    int code;
    const weft_failure *failure;
    void *value;
} seen;

static weft_result record(void *arg, weft_result r)
{
    seen *s = arg;
    s->calls++;
    s->failed = weft_failed(r);
    s->failure = weft_result_failure(r);
    s->code = s->failure ? weft_failure_code(s->failure) : 0;
    s->value = s->failed ? NULL : r.value;
    return r;
}

static weft_result consume(void *arg, weft_result r)
{
    if (arg)
        record(arg, r);
    weft_result_free(r);
    return weft_none();
}

static void handle(weft_deferred *d)
{
    cr_assert_eq(weft_deferred_add_errback(d, consume, NULL), 0);
}

static void fake_callback_canceller(void *arg, weft_deferred *d)
{
    (void)arg;
    cr_assert_eq(weft_deferred_callback(d, box(77), box_free), 0);
}

static int cancels;

static void count_cancel(void *arg, weft_deferred *d)
{
    (void)arg;
    (void)d;
    cancels++;
}

/* ---- DeferredList ---- */

WEFT_TEST(deferred_list, all_succeed)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[3];
    for (int i = 0; i < 3; i++)
        in[i] = weft_deferred_new(r);
    weft_deferred *dl = weft_deferred_list(r, in, 3, 0);
    cr_assert_not_null(dl);
    cr_assert_eq(weft_deferred_reactor(dl), r);

    cr_assert_eq(weft_deferred_callback(in[0], box(10), box_free), 0);
    cr_assert_eq(weft_deferred_callback(in[2], box(30), box_free), 0);
    cr_assert_not(weft_deferred_called(dl), "waits for every input");
    cr_assert_eq(weft_deferred_callback(in[1], box(20), box_free), 0);

    const weft_result_list *l = list_of(dl);
    cr_assert_eq(l->count, 3);
    cr_assert_eq(item_value(l, 0), 10, "input order, not firing order");
    cr_assert_eq(item_value(l, 1), 20);
    cr_assert_eq(item_value(l, 2), 30);

    /* The values moved into the list: the inputs continue with none. */
    for (int i = 0; i < 3; i++) {
        weft_result res;
        cr_assert(weft_deferred_peek(in[i], &res));
        cr_assert_null(res.value);
        weft_deferred_unref(in[i]);
    }
    cr_assert_eq(boxes_freed, 0);
    weft_deferred_unref(dl);
    cr_assert_eq(boxes_freed, 3, "the list's destructor frees every item");
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, some_fail)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *in[3];
    for (int i = 0; i < 3; i++)
        in[i] = weft_deferred_new(r);
    weft_deferred *dl = weft_deferred_list(r, in, 3, 0);
    seen got = {0};
    cr_assert_eq(weft_deferred_add_callbacks(dl, record, record, &got), 0);

    cr_assert_eq(weft_deferred_callback(in[0], box(1), box_free), 0);
    seen caught = {0};
    cr_assert_eq(weft_deferred_add_errback(in[1], consume, &caught), 0);
    weft_failure *f = weft_failure_new(WEFT_EFAILED, "2");
    cr_assert_eq(weft_deferred_errback(in[1], f), 0);
    cr_assert_eq(got.calls, 0);
    cr_assert_eq(weft_deferred_callback(in[2], box(3), box_free), 0);

    cr_assert_eq(got.calls, 1);
    cr_assert_not(got.failed, "a DeferredList succeeds with the failures inside");
    const weft_result_list *l = list_of(dl);
    cr_assert_eq(item_value(l, 0), 1);
    cr_assert_eq(item_failure(l, 1), f, "the input's failure, shared");
    cr_assert_str_eq(weft_failure_message(item_failure(l, 1)), "2");
    cr_assert_eq(item_value(l, 2), 3);
    /* Not consumed: the input's own errback saw it too. */
    cr_assert_eq(caught.calls, 1);
    cr_assert_eq(caught.failure, f);

    for (int i = 0; i < 3; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(dl);
    cr_assert_eq(log.count, 0, "%s", log.lines[0]);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, empty)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *dl = weft_deferred_list(r, NULL, 0, 0);
    cr_assert_not_null(dl);
    const weft_result_list *l = list_of(dl);
    cr_assert_eq(l->count, 0);
    weft_deferred_unref(dl);

    /* fireOnOneCallback with nothing to fire it: never fires. */
    dl = weft_deferred_list(r, NULL, 0, WEFT_LIST_FIRE_ON_ONE_CALLBACK);
    cr_assert_not_null(dl);
    cr_assert_not(weft_deferred_called(dl));
    weft_deferred_unref(dl);

    /* fireOnOneErrback with nothing failing: fires with the empty list. */
    dl = weft_deferred_list(r, NULL, 0, WEFT_LIST_FIRE_ON_ONE_ERRBACK);
    cr_assert_eq(list_of(dl)->count, 0);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, fire_on_one_errback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[3];
    for (int i = 0; i < 3; i++)
        in[i] = weft_deferred_new(r);
    weft_deferred *dl = weft_deferred_list(r, in, 3, WEFT_LIST_FIRE_ON_ONE_ERRBACK);
    seen got = {0};
    cr_assert_eq(weft_deferred_add_errback(dl, consume, &got), 0);
    handle(in[1]);

    cr_assert_eq(weft_deferred_callback(in[0], box(1), box_free), 0);
    cr_assert_eq(got.calls, 0, "one success: no result yet");

    weft_failure *f = weft_failure_new(WEFT_EFAILED, "from def2");
    weft_failure_ref(f); /* ours, for the second half */
    cr_assert_eq(weft_deferred_errback(in[1], f), 0);
    cr_assert_eq(got.calls, 1);
    cr_assert_eq(got.code, WEFT_EFIRSTERROR);
    /* Look at the FirstError before consume freed it: rebuild via a fresh
     * list over an already-failed input. */
    weft_deferred_unref(dl);

    weft_deferred *bad = weft_fail(r, weft_failure_ref(f));
    weft_deferred *good = weft_deferred_new(r);
    weft_deferred *pair[2] = {good, bad};
    dl = weft_deferred_list(r, pair, 2, WEFT_LIST_FIRE_ON_ONE_ERRBACK);
    weft_failure *first = failure_of(dl);
    cr_assert_eq(weft_failure_code(first), WEFT_EFIRSTERROR);
    cr_assert_eq(weft_failure_cause(first), f, "the input's failure is the cause");
    cr_assert_not_null(strstr(weft_failure_message(first), "1"), "the index: %s", weft_failure_message(first));
    handle(dl);
    handle(bad);

    /* Later inputs do not change a fired list. */
    cr_assert_eq(weft_deferred_callback(in[2], box(3), box_free), 0);
    cr_assert_eq(weft_deferred_callback(good, box(4), box_free), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(good, &res));
    cr_assert_eq(*(int *)res.value, 4, "a list that already fired leaves later values alone");

    for (int i = 0; i < 3; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(dl);
    weft_deferred_unref(bad);
    weft_deferred_unref(good);
    weft_failure_unref(f);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, fire_on_one_errback_index)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[4];
    for (int i = 0; i < 4; i++)
        in[i] = weft_deferred_new(r);
    weft_deferred *dl = weft_deferred_list(r, in, 4, WEFT_LIST_FIRE_ON_ONE_ERRBACK);
    weft_failure *f = weft_failure_new(WEFT_ECANCELED, "third");
    cr_assert_eq(weft_deferred_errback(in[2], weft_failure_ref(f)), 0);
    weft_failure *first = failure_of(dl);
    cr_assert_eq(weft_failure_code(first), WEFT_EFIRSTERROR);
    cr_assert_eq(weft_failure_cause(first), f);
    cr_assert_not_null(strstr(weft_failure_message(first), "2"), "%s", weft_failure_message(first));
    cr_assert_eq(weft_failure_find(first, WEFT_ECANCELED), f);
    weft_failure_unref(f);
    handle(dl);
    handle(in[2]);
    for (int i = 0; i < 4; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, fire_on_one_callback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[3];
    for (int i = 0; i < 3; i++)
        in[i] = weft_deferred_new(r);
    weft_deferred *dl = weft_deferred_list(r, in, 3, WEFT_LIST_FIRE_ON_ONE_CALLBACK);
    cr_assert_eq(weft_deferred_errback(in[0], weft_failure_new(WEFT_EFAILED, "not this one")), 0);
    cr_assert_not(weft_deferred_called(dl), "a failure does not fire it");
    cr_assert_eq(weft_deferred_callback(in[2], box(30), box_free), 0);
    const weft_result_list *l = list_of(dl);
    cr_assert_eq(l->index, 2, "the input that fired it");
    cr_assert_eq(item_value(l, 2), 30);
    cr_assert_str_eq(weft_failure_message(item_failure(l, 0)), "not this one", "failures are kept too");
    cr_assert_null(l->items[1].value, "not fired yet: none");
    cr_assert_not(weft_failed(l->items[1]));

    /* Later values stay with their input. */
    cr_assert_eq(weft_deferred_callback(in[1], box(20), box_free), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(in[1], &res));
    cr_assert_eq(*(int *)res.value, 20);
    handle(in[0]);
    for (int i = 0; i < 3; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(dl);
    cr_assert_eq(boxes_freed, 2);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, fire_on_one_callback_all_failing)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred *dl = weft_deferred_list(r, in, 2, WEFT_LIST_FIRE_ON_ONE_CALLBACK | WEFT_LIST_CONSUME_ERRORS);
    cr_assert_eq(weft_deferred_errback(in[0], weft_failure_new(WEFT_EFAILED, "a")), 0);
    cr_assert_eq(weft_deferred_errback(in[1], weft_failure_new(WEFT_EFAILED, "b")), 0);
    /* Every input finished: the list fires with the failures inside. */
    const weft_result_list *l = list_of(dl);
    cr_assert_str_eq(weft_failure_message(item_failure(l, 0)), "a");
    cr_assert_str_eq(weft_failure_message(item_failure(l, 1)), "b");
    weft_deferred_unref(in[0]);
    weft_deferred_unref(in[1]);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, dont_consume_errors)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *d1 = weft_deferred_new(r);
    weft_deferred *dl = weft_deferred_list(r, &d1, 1, 0);
    seen trap = {0};
    cr_assert_eq(weft_deferred_add_errback(d1, record, &trap), 0);
    cr_assert_eq(weft_deferred_errback(d1, weft_failure_new(WEFT_EFAILED, "Bang")), 0);
    cr_assert_eq(trap.calls, 1);
    cr_assert_str_eq(weft_failure_message(trap.failure), "Bang");
    const weft_result_list *l = list_of(dl);
    cr_assert_str_eq(weft_failure_message(item_failure(l, 0)), "Bang");
    weft_deferred_unref(dl);
    cr_assert_eq(log.count, 0, "the list's copy is its own business");
    /* Left unhandled on the input, it is reported when the input goes. */
    weft_deferred_unref(d1);
    cr_assert_eq(log.count, 1);
    cr_assert(weft_test_log_contains(&log, "Unhandled error in Deferred"));
    cr_assert(weft_test_log_contains(&log, "Bang"));
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, consume_errors)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *d1 = weft_deferred_new(r);
    weft_deferred *dl = weft_deferred_list(r, &d1, 1, WEFT_LIST_CONSUME_ERRORS);
    seen trap = {0};
    cr_assert_eq(weft_deferred_add_errback(d1, record, &trap), 0);
    cr_assert_eq(weft_deferred_errback(d1, weft_failure_new(WEFT_EFAILED, "Bang")), 0);
    cr_assert_eq(trap.calls, 0, "consumed: the input continues with none");
    weft_result res;
    cr_assert(weft_deferred_peek(d1, &res));
    cr_assert_not(weft_failed(res));
    const weft_result_list *l = list_of(dl);
    cr_assert_str_eq(weft_failure_message(item_failure(l, 0)), "Bang");
    weft_deferred_unref(d1);
    weft_deferred_unref(dl);
    cr_assert_eq(log.count, 0, "nothing unhandled: %s", log.lines[0]);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, fire_on_one_errback_with_already_fired)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d1 = weft_fail(r, weft_failure_new(WEFT_EFAILED, "Bang"));
    weft_deferred *d2 = weft_deferred_new(r);
    weft_deferred *in[2] = {d1, d2};
    weft_deferred *dl = weft_deferred_list(r, in, 2, WEFT_LIST_FIRE_ON_ONE_ERRBACK);
    seen got = {0};
    cr_assert_eq(weft_deferred_add_errback(dl, consume, &got), 0);
    cr_assert_eq(got.calls, 1);
    cr_assert_eq(got.code, WEFT_EFIRSTERROR);
    handle(d1);
    weft_deferred_unref(d1);
    weft_deferred_unref(d2);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, with_already_fired)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d1 = weft_fail(r, weft_failure_new(WEFT_EFAILED, "Bang"));
    weft_deferred *d2 = weft_succeed(r, box(2), box_free);
    weft_deferred *in[2] = {d1, d2};
    weft_deferred *dl = weft_deferred_list(r, in, 2, 0);
    const weft_result_list *l = list_of(dl);
    cr_assert_eq(l->count, 2);
    cr_assert_str_eq(weft_failure_message(item_failure(l, 0)), "Bang");
    cr_assert_eq(item_value(l, 1), 2);
    handle(d1);
    weft_deferred_unref(d1);
    weft_deferred_unref(d2);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, same_input_twice)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred *in[2] = {d, d};
    weft_deferred *dl = weft_deferred_list(r, in, 2, 0);
    cr_assert_eq(weft_deferred_callback(d, box(5), box_free), 0);
    const weft_result_list *l = list_of(dl);
    cr_assert_eq(item_value(l, 0), 5);
    cr_assert_null(l->items[1].value, "the first entry took the value");
    weft_deferred_unref(d);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

/* ---- cancellation ---- */

WEFT_TEST(deferred_list, cancel_cancels_every_input)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred *dl = weft_deferred_list(r, in, 2, 0);
    weft_deferred_cancel(dl);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(weft_failure_code(failure_of(in[i])), WEFT_ECANCELED);
    /* Both inputs finished (failing), so the list fired with them. */
    const weft_result_list *l = list_of(dl);
    cr_assert_eq(weft_failure_code(item_failure(l, 0)), WEFT_ECANCELED);
    cr_assert_eq(weft_failure_code(item_failure(l, 1)), WEFT_ECANCELED);
    for (int i = 0; i < 2; i++) {
        handle(in[i]);
        weft_deferred_unref(in[i]);
    }
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, cancel_with_a_canceller_that_callbacks)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred_set_canceller(in[0], fake_callback_canceller, NULL);
    weft_deferred *dl = weft_deferred_list(r, in, 2, 0);
    weft_deferred_cancel(dl);
    cr_assert_eq(weft_failure_code(failure_of(in[1])), WEFT_ECANCELED);
    const weft_result_list *l = list_of(dl);
    cr_assert_eq(item_value(l, 0), 77);
    cr_assert_eq(weft_failure_code(item_failure(l, 1)), WEFT_ECANCELED);
    handle(in[1]);
    for (int i = 0; i < 2; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, cancel_with_fire_on_one_callback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred *dl = weft_deferred_list(r, in, 2, WEFT_LIST_FIRE_ON_ONE_CALLBACK);
    weft_deferred_cancel(dl);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(weft_failure_code(failure_of(in[i])), WEFT_ECANCELED);
        handle(in[i]);
        weft_deferred_unref(in[i]);
    }
    cr_assert(weft_deferred_called(dl));
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, cancel_with_fire_on_one_callback_and_a_canceller_that_callbacks)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred_set_canceller(in[0], fake_callback_canceller, NULL);
    weft_deferred *dl = weft_deferred_list(r, in, 2, WEFT_LIST_FIRE_ON_ONE_CALLBACK);
    weft_deferred_cancel(dl);
    cr_assert_eq(weft_failure_code(failure_of(in[1])), WEFT_ECANCELED);
    const weft_result_list *l = list_of(dl);
    cr_assert_eq(l->index, 0);
    cr_assert_eq(item_value(l, 0), 77);
    handle(in[1]);
    for (int i = 0; i < 2; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, cancel_with_fire_on_one_errback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred *dl = weft_deferred_list(r, in, 2, WEFT_LIST_FIRE_ON_ONE_ERRBACK);
    weft_deferred_cancel(dl);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(weft_failure_code(failure_of(in[i])), WEFT_ECANCELED);
    weft_failure *f = failure_of(dl);
    cr_assert_eq(weft_failure_code(f), WEFT_EFIRSTERROR);
    cr_assert_eq(weft_failure_code(weft_failure_cause(f)), WEFT_ECANCELED);
    handle(dl);
    for (int i = 0; i < 2; i++) {
        handle(in[i]);
        weft_deferred_unref(in[i]);
    }
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, cancel_with_fire_on_one_errback_all_callback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred_set_canceller(in[0], fake_callback_canceller, NULL);
    weft_deferred_set_canceller(in[1], fake_callback_canceller, NULL);
    weft_deferred *dl = weft_deferred_list(r, in, 2, WEFT_LIST_FIRE_ON_ONE_ERRBACK);
    weft_deferred_cancel(dl);
    const weft_result_list *l = list_of(dl);
    cr_assert_eq(item_value(l, 0), 77);
    cr_assert_eq(item_value(l, 1), 77);
    for (int i = 0; i < 2; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, cancel_uses_the_original_inputs)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred *dl = weft_deferred_list(r, in, 2, 0);
    weft_deferred *third = weft_deferred_new(r);
    weft_deferred_set_canceller(third, count_cancel, NULL);
    weft_deferred *orig1 = in[1];
    in[1] = third; /* the array was only borrowed for the call */
    weft_deferred_cancel(dl);
    cr_assert_eq(weft_failure_code(failure_of(in[0])), WEFT_ECANCELED);
    cr_assert_eq(weft_failure_code(failure_of(orig1)), WEFT_ECANCELED);
    cr_assert_eq(cancels, 0);
    cr_assert_not(weft_deferred_called(third));
    handle(in[0]);
    handle(orig1);
    weft_deferred_unref(in[0]);
    weft_deferred_unref(orig1);
    weft_deferred_unref(third);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, cancel_skips_inputs_already_fired)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[3] = {weft_deferred_new(r), weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred_set_canceller(in[0], count_cancel, NULL);
    weft_deferred *dl = weft_deferred_list(r, in, 3, 0);
    cr_assert_eq(weft_deferred_callback(in[0], box(1), box_free), 0);
    weft_deferred_cancel(dl);
    cr_assert_eq(cancels, 0, "a fired input is not cancelled");
    const weft_result_list *l = list_of(dl);
    cr_assert_eq(item_value(l, 0), 1);
    cr_assert_eq(weft_failure_code(item_failure(l, 1)), WEFT_ECANCELED);
    cr_assert_eq(weft_failure_code(item_failure(l, 2)), WEFT_ECANCELED);
    for (int i = 1; i < 3; i++)
        handle(in[i]);
    for (int i = 0; i < 3; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, cancel_after_fire_on_one_callback_does_nothing)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred_set_canceller(in[1], count_cancel, NULL);
    weft_deferred *dl = weft_deferred_list(r, in, 2, WEFT_LIST_FIRE_ON_ONE_CALLBACK);
    cr_assert_eq(weft_deferred_callback(in[0], NULL, NULL), 0);
    weft_deferred_cancel(dl);
    cr_assert_eq(cancels, 0);
    cr_assert_not(weft_deferred_called(in[1]));
    for (int i = 0; i < 2; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, cancel_after_fire_on_one_errback_does_nothing)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred_set_canceller(in[1], count_cancel, NULL);
    weft_deferred *dl = weft_deferred_list(r, in, 2, WEFT_LIST_FIRE_ON_ONE_ERRBACK);
    cr_assert_eq(weft_deferred_errback(in[0], weft_failure_new(WEFT_EFAILED, "test")), 0);
    weft_deferred_cancel(dl);
    cr_assert_eq(cancels, 0);
    cr_assert_not(weft_deferred_called(in[1]));
    cr_assert_eq(weft_failure_code(failure_of(in[0])), WEFT_EFAILED);
    cr_assert_eq(weft_failure_code(failure_of(dl)), WEFT_EFIRSTERROR);
    handle(in[0]);
    handle(dl);
    for (int i = 0; i < 2; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

/* ---- lifetimes ---- */

WEFT_TEST(deferred_list, list_dropped_before_its_inputs_fire)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred *dl = weft_deferred_list(r, in, 2, 0);
    seen got = {0};
    cr_assert_eq(weft_deferred_add_callback(dl, record, &got), 0);
    weft_deferred_unref(dl);
    cr_assert_eq(weft_deferred_callback(in[0], box(1), box_free), 0);
    cr_assert_eq(weft_deferred_callback(in[1], box(2), box_free), 0);
    cr_assert_eq(got.calls, 1, "the inputs kept the list alive to fire it");
    cr_assert_eq(boxes_freed, 2, "and it was freed after");
    weft_deferred_unref(in[0]);
    weft_deferred_unref(in[1]);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, inputs_destroyed_unfired)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred *dl = weft_deferred_list(r, in, 2, 0);
    weft_deferred_unref(in[0]);
    weft_deferred_unref(in[1]);
    cr_assert_not(weft_deferred_called(dl), "nothing can fire it now");
    weft_deferred_cancel(dl); /* the inputs are gone: only the list errbacks */
    cr_assert_eq(weft_failure_code(failure_of(dl)), WEFT_ECANCELED);
    handle(dl);
    weft_deferred_unref(dl);
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, everything_dropped_unfired)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[3] = {weft_deferred_new(r), weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred *dl = weft_deferred_list(r, in, 3, WEFT_LIST_CONSUME_ERRORS);
    weft_deferred_unref(dl);
    for (int i = 0; i < 3; i++)
        weft_deferred_unref(in[i]); /* the leak check proves the state went */
    weft_reactor_free(r);
}

WEFT_TEST(deferred_list, result_can_be_taken)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_succeed(r, box(9), box_free);
    weft_deferred *dl = weft_deferred_list(r, &d, 1, 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(dl, &res), 0);
    weft_deferred_unref(dl);
    weft_deferred_unref(d);
    cr_assert_eq(boxes_freed, 0);
    weft_result_list *l = res.value;
    cr_assert_eq(item_value(l, 0), 9);
    weft_result_free(res);
    cr_assert_eq(boxes_freed, 1);
    weft_reactor_free(r);
}

/* ---- gather ---- */

WEFT_TEST(gather, values_in_order)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[3] = {weft_deferred_new(r), weft_succeed(r, box(2), box_free), weft_deferred_new(r)};
    weft_deferred *g = weft_gather(r, in, 3, false);
    cr_assert_not_null(g);
    cr_assert_eq(weft_deferred_callback(in[2], box(3), box_free), 0);
    cr_assert_not(weft_deferred_called(g));
    cr_assert_eq(weft_deferred_callback(in[0], box(1), box_free), 0);
    const weft_result_list *l = list_of(g);
    cr_assert_eq(l->count, 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(item_value(l, i), (int)i + 1);
    for (int i = 0; i < 3; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(g);
    cr_assert_eq(boxes_freed, 3);
    weft_reactor_free(r);
}

WEFT_TEST(gather, first_error)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_failure *f = weft_failure_new(WEFT_EINVAL, "value error");
    weft_deferred *in[2] = {weft_succeed(r, box(1), box_free), weft_fail(r, f)};
    weft_deferred *g = weft_gather(r, in, 2, false);
    weft_failure *first = failure_of(g);
    cr_assert_eq(weft_failure_code(first), WEFT_EFIRSTERROR);
    cr_assert_eq(weft_failure_cause(first), f);
    handle(g);
    /* Not consumed: the input still holds its failure ... */
    cr_assert_eq(failure_of(in[1]), f);
    handle(in[1]);
    for (int i = 0; i < 2; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(g);
    cr_assert_eq(log.count, 0, "%s", log.lines[0]);
    weft_reactor_free(r);
}

WEFT_TEST(gather, first_error_unhandled_on_the_input_is_reported)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred *g = weft_gather(r, in, 2, false);
    cr_assert_eq(weft_deferred_errback(in[0], weft_failure_new(WEFT_EFAILED, "left alone")), 0);
    handle(g);
    weft_deferred_unref(g);
    weft_deferred_unref(in[1]);
    cr_assert_eq(log.count, 0);
    weft_deferred_unref(in[0]);
    cr_assert_eq(log.count, 1);
    cr_assert(weft_test_log_contains(&log, "left alone"));
    weft_reactor_free(r);
}

WEFT_TEST(gather, consume_errors)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *good = weft_succeed(r, box(1), box_free);
    weft_deferred *bad = weft_fail(r, weft_failure_new(WEFT_EFAILED, "oh noes"));
    weft_deferred *in[2] = {good, bad};
    weft_deferred *g = weft_gather(r, in, 2, true);
    seen unconsumed = {0}, gathered = {0};
    cr_assert_eq(weft_deferred_add_errback(bad, record, &unconsumed), 0);
    cr_assert_eq(weft_deferred_add_errback(g, record, &gathered), 0);
    cr_assert_eq(unconsumed.calls, 0);
    cr_assert_eq(gathered.calls, 1);
    cr_assert_eq(gathered.code, WEFT_EFIRSTERROR);
    cr_assert_str_eq(weft_failure_message(weft_failure_cause(gathered.failure)), "oh noes");
    handle(g);
    weft_deferred_unref(good);
    weft_deferred_unref(bad);
    weft_deferred_unref(g);
    cr_assert_eq(log.count, 0, "%s", log.lines[0]);
    weft_reactor_free(r);
}

WEFT_TEST(gather, cancel)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred *g = weft_gather(r, in, 2, false);
    weft_deferred_cancel(g);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(weft_failure_code(failure_of(in[i])), WEFT_ECANCELED);
    weft_failure *f = failure_of(g);
    cr_assert_eq(weft_failure_code(f), WEFT_EFIRSTERROR);
    cr_assert(weft_failure_check(weft_failure_cause(f), WEFT_ECANCELED));
    handle(g);
    for (int i = 0; i < 2; i++) {
        handle(in[i]);
        weft_deferred_unref(in[i]);
    }
    weft_deferred_unref(g);
    weft_reactor_free(r);
}

WEFT_TEST(gather, cancel_with_all_callbacks_in_cancellers)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *in[2] = {weft_deferred_new(r), weft_deferred_new(r)};
    weft_deferred_set_canceller(in[0], fake_callback_canceller, NULL);
    weft_deferred_set_canceller(in[1], fake_callback_canceller, NULL);
    weft_deferred *g = weft_gather(r, in, 2, false);
    weft_deferred_cancel(g);
    const weft_result_list *l = list_of(g);
    cr_assert_eq(item_value(l, 0), 77);
    cr_assert_eq(item_value(l, 1), 77);
    for (int i = 0; i < 2; i++)
        weft_deferred_unref(in[i]);
    weft_deferred_unref(g);
    weft_reactor_free(r);
}

WEFT_TEST(gather, empty)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *g = weft_gather(r, NULL, 0, false);
    cr_assert_eq(list_of(g)->count, 0);
    weft_deferred_unref(g);
    weft_reactor_free(r);
}

WEFT_TEST(gather, many_inputs)
{
    enum { N = 1000 };
    weft_reactor *r = weft_test_clock();
    weft_deferred **in = malloc(N * sizeof *in);
    for (int i = 0; i < N; i++)
        in[i] = weft_deferred_new(r);
    weft_deferred *g = weft_gather(r, in, N, false);
    for (int i = N; i-- > 0;)
        cr_assert_eq(weft_deferred_callback(in[i], box(i), box_free), 0);
    const weft_result_list *l = list_of(g);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(item_value(l, i), (int)i);
    for (int i = 0; i < N; i++)
        weft_deferred_unref(in[i]);
    free(in);
    weft_deferred_unref(g);
    cr_assert_eq(boxes_freed, N);
    weft_reactor_free(r);
}

/* ---- out of memory ---- */

static weft_result pass(void *arg, weft_result r)
{
    (void)arg;
    return r;
}

typedef struct oom_ctx {
    weft_reactor *r;
    size_t refused, completed;
} oom_ctx;

/* inputs: one already fired with a value, one failed, and two unfired whose
 * inline entries are full, so adding the list's entry needs memory. */
static void oom_list_scenario(void *arg, unsigned flags)
{
    oom_ctx *c = arg;
    weft_deferred *in[4] = {0};
    weft_result res;
    int *v0 = box(1);
    in[0] = weft_succeed(c->r, v0, box_free);
    weft_failure *f1 = weft_failure_new(WEFT_EFAILED, "input 1");
    in[1] = weft_fail(c->r, f1);
    in[2] = weft_deferred_new(c->r);
    in[3] = weft_deferred_new(c->r);
    if (!in[0] || !in[1] || !in[2] || !in[3]) {
        c->refused++;
        goto out;
    }
    if (weft_failure_code(f1) == WEFT_ENOMEM) {
        c->refused++; /* the failure itself could not be made */
        goto out;
    }
    for (int i = 2; i < 4; i++)
        for (int k = 0; k < 4; k++)
            cr_assert_eq(weft_deferred_add_callback(in[i], pass, NULL), 0);

    weft_deferred *dl = weft_deferred_list(c->r, in, 4, flags);
    if (!dl) {
        c->refused++;
        /* "No input was touched": the fired inputs keep their results. */
        cr_assert(weft_deferred_peek(in[0], &res));
        cr_assert_eq(res.value, v0, "input 0 lost its value to a list that was never made");
        cr_assert(weft_deferred_peek(in[1], &res));
        cr_assert_eq(weft_result_failure(res), f1, "input 1 lost its failure");
        goto out;
    }
    cr_assert_eq(weft_deferred_callback(in[2], box(3), box_free), 0);
    weft_deferred_cancel(dl); /* cancels in[3] */
    cr_assert(weft_deferred_peek(dl, &res));
    if (flags & WEFT_LIST_FIRE_ON_ONE_ERRBACK) {
        cr_assert(weft_failed(res));
        weft_failure *first = weft_result_failure(res);
        cr_assert(weft_failure_check(first, WEFT_EFIRSTERROR) || weft_failure_check(first, WEFT_ENOMEM));
        handle(dl);
    } else {
        cr_assert_not(weft_failed(res));
        const weft_result_list *l = res.value;
        cr_assert_eq(item_value(l, 0), 1);
        cr_assert_eq(item_failure(l, 1), f1);
        cr_assert_eq(item_value(l, 2), 3);
        int code = weft_failure_code(item_failure(l, 3));
        cr_assert(code == WEFT_ECANCELED || code == WEFT_ENOMEM);
    }
    c->completed++;
    weft_deferred_unref(dl);
out:
    for (int i = 0; i < 4; i++) {
        if (in[i] && weft_deferred_peek(in[i], &res) && weft_failed(res))
            handle(in[i]);
        weft_deferred_unref(in[i]);
    }
}

static void oom_list(void *arg)
{
    oom_list_scenario(arg, 0);
}

static void oom_gather(void *arg)
{
    oom_list_scenario(arg, WEFT_LIST_FIRE_ON_ONE_ERRBACK | WEFT_LIST_CONSUME_ERRORS);
}

WEFT_TEST(deferred_list, out_of_memory)
{
    oom_ctx c = {.r = weft_test_clock()};
    weft_test_log log;
    weft_test_log_capture(c.r, &log);
    size_t runs = weft_test_each_alloc_failure(oom_list, &c);
    cr_assert_gt(runs, 6);
    cr_assert_gt(c.refused, 0);
    cr_assert_geq(c.completed, 1);
    weft_reactor_free(c.r);
}

WEFT_TEST(gather, out_of_memory)
{
    oom_ctx c = {.r = weft_test_clock()};
    weft_test_log log;
    weft_test_log_capture(c.r, &log);
    size_t runs = weft_test_each_alloc_failure(oom_gather, &c);
    cr_assert_gt(runs, 6);
    cr_assert_gt(c.refused, 0);
    cr_assert_geq(c.completed, 1);
    weft_reactor_free(c.r);
}
