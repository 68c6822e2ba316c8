/* SPDX-License-Identifier: MIT */
/*
 * weft_deferred, case by case after Twisted's twisted/test/test_defer.py
 * (DeferredTests, AlreadyCalledTests, DeferredCancellerTests, LogTests,
 * DeferredAddTimeoutTests) and twisted/test/test_task.py (DeferLaterTests),
 * plus out-of-memory passes over the same operations.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ---- helpers ---- */

/* What callbacks did, in order, as "tag,tag,...". */
static char trace[8192];

static void mark(const char *fmt, ...) WEFT_PRINTF(1, 2);
static void mark(const char *fmt, ...)
{
    size_t len = strlen(trace);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(trace + len, sizeof trace - len, fmt, ap);
    va_end(ap);
    len = strlen(trace);
    if (len + 1 < sizeof trace) {
        trace[len] = ',';
        trace[len + 1] = '\0';
    }
}

/* Heap values whose destruction is counted. */
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

static int unbox(weft_result r)
{
    cr_assert_not(weft_failed(r), "expected a value, got a failure");
    cr_assert_not(weft_result_is_deferred(r));
    cr_assert_not_null(r.value);
    return *(int *)r.value;
}

/* What a recording step saw. */
typedef struct seen {
    int calls;
    bool failed;
    int code;
    const weft_failure *failure; /* identity only */
    void *value;
} seen;

static void note(seen *s, weft_result r)
{
    s->calls++;
    s->failed = weft_failed(r);
    s->failure = weft_result_failure(r);
    s->code = s->failure ? weft_failure_code(s->failure) : 0;
    s->value = s->failed ? NULL : r.value;
}

/* Records and passes the result on. */
static weft_result record(void *arg, weft_result r)
{
    note(arg, r);
    return r;
}

/* Records and ends the chain with none (consumes a failure). */
static weft_result record_consume(void *arg, weft_result r)
{
    note(arg, r);
    weft_result_free(r);
    return weft_none();
}

/* Appends arg (a string) to the trace and passes the result on. */
static weft_result step(void *arg, weft_result r)
{
    mark("%s", (const char *)arg);
    return r;
}

/* Appends "tag=value" for a boxed value, "tag=none" or "tag!CODE". */
static weft_result show(void *arg, weft_result r)
{
    if (weft_failed(r))
        mark("%s!%s", (const char *)arg, weft_err_name(weft_failure_code(weft_result_failure(r))));
    else if (r.value)
        mark("%s=%d", (const char *)arg, *(int *)r.value);
    else
        mark("%s=none", (const char *)arg);
    return r;
}

static weft_result add_one(void *arg, weft_result r)
{
    (void)arg;
    (*(int *)r.value)++;
    return r;
}

static weft_result double_it(void *arg, weft_result r)
{
    (void)arg;
    *(int *)r.value *= 2;
    return r;
}

/* A callback that fails: the result becomes a failure (Twisted: raising). */
static weft_result fail_step(void *arg, weft_result r)
{
    weft_result_free(r);
    return weft_err_new(WEFT_EFAILED, "%s", arg ? (const char *)arg : "callback failed");
}

/* An errback that recovers with the boxed value (intptr_t)arg. */
static weft_result recover(void *arg, weft_result r)
{
    mark("recover:%s", weft_err_name(weft_failure_code(weft_result_failure(r))));
    weft_result_free(r);
    return weft_ok(box((int)(intptr_t)arg), box_free);
}

/* Returns the Deferred in arg (a new reference to it). */
static weft_result return_deferred(void *arg, weft_result r)
{
    weft_result_free(r);
    return weft_chain(weft_deferred_ref(arg));
}

/* Returns the Deferred in arg, giving away the reference the test made. */
static weft_result return_owned(void *arg, weft_result r)
{
    weft_result_free(r);
    return weft_chain(arg);
}

static weft_result drop_result(void *arg, weft_result r)
{
    (void)arg;
    weft_result_free(r);
    return weft_none();
}

static int arg_frees;

static void count_arg_free(void *arg)
{
    (void)arg;
    arg_frees++;
}

static void add(weft_deferred *d, weft_callback_fn cb, weft_callback_fn eb, void *arg)
{
    cr_assert_eq(weft_deferred_add_callbacks(d, cb, eb, arg), 0);
}

/* The result d holds now, which must be there. */
static weft_result now(weft_deferred *d)
{
    weft_result r;
    cr_assert(weft_deferred_peek(d, &r), "the Deferred has no result");
    return r;
}

static int now_code(weft_deferred *d)
{
    weft_result r = now(d);
    cr_assert(weft_failed(r), "expected a failure");
    return weft_failure_code(weft_result_failure(r));
}

/* Handles d's failure so destroying it logs nothing. */
static void handle(weft_deferred *d)
{
    cr_assert_eq(weft_deferred_add_errback(d, drop_result, NULL), 0);
}

/* ---- callbacks and errbacks ---- */

WEFT_TEST(deferred, callback_without_args)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_not_null(d);
    cr_assert_eq(weft_deferred_reactor(d), r);
    cr_assert_not(weft_deferred_called(d));
    cr_assert_not(weft_deferred_peek(d, NULL));

    seen cb = {0}, eb = {0};
    add(d, record, NULL, &cb);
    add(d, NULL, record, &eb);
    static int hello = 42;
    cr_assert_eq(weft_deferred_callback(d, &hello, NULL), 0);
    cr_assert(weft_deferred_called(d));
    cr_assert_eq(cb.calls, 1);
    cr_assert_eq(cb.value, &hello);
    cr_assert_eq(eb.calls, 0);
    cr_assert_eq(now(d).value, &hello);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, callback_gets_its_arg)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    add(d, show, NULL, "world");
    cr_assert_eq(weft_deferred_callback(d, box(1), box_free), 0);
    cr_assert_str_eq(trace, "world=1,");
    weft_deferred_unref(d);
    cr_assert_eq(boxes_freed, 1, "the final result is freed with the Deferred");
    weft_reactor_free(r);
}

WEFT_TEST(deferred, results_flow_down_the_chain)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    add(d, show, NULL, "a");
    add(d, add_one, NULL, NULL);
    add(d, show, NULL, "b");
    add(d, double_it, NULL, NULL);
    add(d, show, NULL, "c");
    add(d, add_one, NULL, NULL); /* beyond the inline entries */
    add(d, show, NULL, "d");
    cr_assert_eq(weft_deferred_callback(d, box(1), box_free), 0);
    cr_assert_str_eq(trace, "a=1,b=2,c=4,d=5,");
    cr_assert_eq(unbox(now(d)), 5);
    weft_deferred_unref(d);
    cr_assert_eq(boxes_freed, 1);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, long_chain_of_steps)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    for (int i = 0; i < 1000; i++)
        add(d, add_one, NULL, NULL);
    cr_assert_eq(weft_deferred_callback(d, box(0), box_free), 0);
    cr_assert_eq(unbox(now(d)), 1000);
    /* And once more after firing, when each runs at once. */
    for (int i = 0; i < 1000; i++)
        add(d, add_one, NULL, NULL);
    cr_assert_eq(unbox(now(d)), 2000);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, add_callbacks_null_errback_passes_the_failure)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    seen cb = {0}, eb = {0};
    add(d, record, NULL, &cb);
    weft_failure *f = weft_failure_new(WEFT_EFAILED, "oopsie");
    cr_assert_eq(weft_deferred_errback(d, f), 0);
    cr_assert_eq(weft_deferred_add_errback(d, record_consume, &eb), 0);
    cr_assert_eq(cb.calls, 0);
    cr_assert_eq(eb.calls, 1);
    cr_assert_eq(eb.failure, f, "the same failure reaches the errback");
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, add_callbacks_null_callback_passes_the_value)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    seen eb = {0}, cb = {0};
    add(d, NULL, record, &eb);
    static int v = 3;
    cr_assert_eq(weft_deferred_callback(d, &v, NULL), 0);
    cr_assert_eq(weft_deferred_add_callback(d, record, &cb), 0);
    cr_assert_eq(eb.calls, 0);
    cr_assert_eq(cb.calls, 1);
    cr_assert_eq(cb.value, &v);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, add_callbacks_runs_one_of_the_pair)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *a = weft_deferred_new(r);
    weft_deferred *b = weft_deferred_new(r);
    seen acb = {0}, bcb = {0};
    add(a, record, record_consume, &acb);
    add(b, record, record_consume, &bcb);
    cr_assert_eq(weft_deferred_callback(a, NULL, NULL), 0);
    cr_assert_eq(weft_deferred_errback(b, weft_failure_new(WEFT_EFAILED, "x")), 0);
    cr_assert_eq(acb.calls, 1);
    cr_assert_not(acb.failed);
    cr_assert_eq(bcb.calls, 1);
    cr_assert(bcb.failed);
    cr_assert_eq(bcb.code, WEFT_EFAILED);
    weft_deferred_unref(a);
    weft_deferred_unref(b);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, add_both_sees_values_and_failures)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    seen both1 = {0}, both2 = {0};
    cr_assert_eq(weft_deferred_add_both(d, record, &both1), 0);
    cr_assert_eq(weft_deferred_add_callback(d, fail_step, NULL), 0);
    cr_assert_eq(weft_deferred_add_both(d, record_consume, &both2), 0);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_eq(both1.calls, 1);
    cr_assert_not(both1.failed);
    cr_assert_eq(both2.calls, 1);
    cr_assert(both2.failed);
    cr_assert_eq(both2.code, WEFT_EFAILED);
    weft_result res = now(d);
    cr_assert_not(weft_failed(res), "add_both's step consumed the failure");
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, callback_failure_skips_to_the_next_errback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    seen eb = {0};
    add(d, fail_step, NULL, "divide by zero");
    add(d, step, NULL, "skipped-callback");
    add(d, NULL, step, "errback-1");
    add(d, step, step, "both");
    add(d, NULL, record_consume, &eb);
    add(d, step, NULL, "after-recovery");
    add(d, NULL, step, "skipped-errback");
    cr_assert_eq(weft_deferred_callback(d, box(1), box_free), 0);
    cr_assert_eq(boxes_freed, 1, "the failing callback freed its argument");
    cr_assert_str_eq(trace, "errback-1,both,after-recovery,");
    cr_assert_eq(eb.calls, 1);
    cr_assert_eq(eb.code, WEFT_EFAILED);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, errback_recovers)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    add(d, step, NULL, "skipped");
    add(d, NULL, recover, (void *)(intptr_t)7);
    add(d, show, NULL, "then");
    add(d, NULL, step, "not-an-error");
    cr_assert_eq(weft_deferred_errback(d, weft_failure_new(WEFT_ECANCELED, "gone")), 0);
    cr_assert_str_eq(trace, "recover:ECANCELED,then=7,");
    cr_assert_eq(unbox(now(d)), 7);
    weft_deferred_unref(d);
    cr_assert_eq(boxes_freed, 1);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, errback_returning_a_failure_continues_as_failure)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    add(d, NULL, fail_step, "second failure");
    add(d, step, NULL, "skipped");
    seen eb = {0};
    add(d, NULL, record_consume, &eb);
    cr_assert_eq(weft_deferred_errback(d, weft_failure_new(WEFT_ECANCELED, "first")), 0);
    cr_assert_str_eq(trace, "");
    cr_assert_eq(eb.code, WEFT_EFAILED);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static bool should_fail;

static weft_result maybe_fail(void *arg, weft_result r)
{
    (void)arg;
    if (should_fail) {
        weft_result_free(r);
        return weft_err_new(WEFT_EFAILED, "runtime error");
    }
    (*(int *)r.value)++;
    return r;
}

WEFT_TEST(deferred, callback_may_return_a_failure)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_callback(d, box(6), box_free), 0);
    cr_assert_eq(weft_deferred_add_callback(d, maybe_fail, NULL), 0);
    cr_assert_eq(unbox(now(d)), 7);
    weft_deferred_unref(d);

    should_fail = true;
    d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_callback(d, box(6), box_free), 0);
    cr_assert_eq(weft_deferred_add_callback(d, maybe_fail, NULL), 0);
    const weft_failure *first = weft_result_failure(now(d));
    cr_assert_not_null(first);
    cr_assert_eq(weft_deferred_add_callback(d, maybe_fail, NULL), 0);
    cr_assert_eq(weft_result_failure(now(d)), first, "the second callback was skipped");
    cr_assert_str_eq(weft_failure_message(first), "runtime error");
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

/* ---- firing twice ---- */

static void fire_twice(bool first_ok, bool second_ok)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    seen s = {0};
    add(d, record, record, &s);
    if (first_ok)
        cr_assert_eq(weft_deferred_callback(d, box(1), box_free), 0);
    else
        cr_assert_eq(weft_deferred_errback(d, weft_failure_new(WEFT_EFAILED, "first")), 0);
    int err = second_ok ? weft_deferred_callback(d, box(2), box_free)
                        : weft_deferred_errback(d, weft_failure_new(WEFT_ECANCELED, "second"));
    cr_assert_eq(err, WEFT_EALREADYCALLED);
    cr_assert_eq(s.calls, 1, "the chain ran once");
    if (second_ok)
        cr_assert_eq(boxes_freed, 1, "the rejected value was freed");
    /* The first result stands. */
    if (first_ok) {
        cr_assert_eq(unbox(now(d)), 1);
    } else {
        cr_assert_eq(now_code(d), WEFT_EFAILED);
        handle(d);
    }
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, already_called_callback_callback)
{
    fire_twice(true, true);
}

WEFT_TEST(deferred, already_called_callback_errback)
{
    fire_twice(true, false);
}

WEFT_TEST(deferred, already_called_errback_errback)
{
    fire_twice(false, false);
}

WEFT_TEST(deferred, already_called_errback_callback)
{
    fire_twice(false, true);
}

WEFT_TEST(deferred, fire_with_a_deferred_is_rejected)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred *other = weft_deferred_new(r);
    seen s = {0};
    add(d, record, record, &s);
    /* The result (and the reference in it) is d's to free. */
    cr_assert_eq(weft_deferred_fire(d, weft_chain(weft_deferred_ref(other))), WEFT_EINVAL);
    cr_assert_not(weft_deferred_called(d));
    cr_assert_eq(s.calls, 0);
    cr_assert_eq(weft_deferred_fire(d, weft_ok(box(3), box_free)), 0);
    cr_assert_eq(unbox(now(d)), 3);
    weft_deferred_unref(d);
    weft_deferred_unref(other);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, fire_takes_a_result)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_fire(d, weft_err_new(WEFT_EFAILED, "via fire")), 0);
    cr_assert_eq(now_code(d), WEFT_EFAILED);
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

/* ---- callbacks added after firing, and from callbacks ---- */

WEFT_TEST(deferred, callbacks_added_after_firing_run_at_once)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_succeed(r, box(5), box_free);
    cr_assert_not_null(d);
    cr_assert(weft_deferred_called(d));
    add(d, show, NULL, "late");
    cr_assert_str_eq(trace, "late=5,");
    add(d, add_one, NULL, NULL);
    add(d, show, NULL, "later");
    cr_assert_str_eq(trace, "late=5,later=6,");
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static weft_deferred *reentrant_d;

static weft_result reentrant_first(void *arg, weft_result r)
{
    (void)arg;
    mark("1");
    cr_assert_eq(weft_deferred_add_callback(reentrant_d, step, "3"), 0);
    /* Not run yet: the running chain picks it up at its end. */
    cr_assert_str_eq(trace, "1,");
    return r;
}

WEFT_TEST(deferred, callback_added_by_a_callback_runs_at_the_end)
{
    weft_reactor *r = weft_test_clock();
    reentrant_d = weft_deferred_new(r);
    add(reentrant_d, reentrant_first, NULL, NULL);
    add(reentrant_d, step, NULL, "2");
    cr_assert_eq(weft_deferred_callback(reentrant_d, NULL, NULL), 0);
    cr_assert_str_eq(trace, "1,2,3,");
    weft_deferred_unref(reentrant_d);
    weft_reactor_free(r);
}

static weft_result reentrant_adds_failing(void *arg, weft_result r)
{
    (void)arg;
    cr_assert_eq(weft_deferred_add_callback(reentrant_d, fail_step, "callback raised exception"), 0);
    return r;
}

WEFT_TEST(deferred, failure_in_a_reentrantly_added_callback)
{
    weft_reactor *r = weft_test_clock();
    reentrant_d = weft_deferred_new(r);
    add(reentrant_d, reentrant_adds_failing, NULL, NULL);
    cr_assert_eq(weft_deferred_callback(reentrant_d, NULL, NULL), 0);
    weft_failure *f = weft_result_failure(now(reentrant_d));
    cr_assert_not_null(f);
    cr_assert_str_eq(weft_failure_message(f), "callback raised exception");
    handle(reentrant_d);
    weft_deferred_unref(reentrant_d);
    weft_reactor_free(r);
}

/* ---- arg_free ---- */

WEFT_TEST(deferred, arg_free_once_after_the_pair_ran)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_add_callbacks_full(d, step, NULL, "ran", count_arg_free), 0);
    /* A pair that does not run for this result (no errback) still frees. */
    cr_assert_eq(weft_deferred_add_callbacks_full(d, NULL, step, "skipped", count_arg_free), 0);
    cr_assert_eq(arg_frees, 0);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_str_eq(trace, "ran,");
    cr_assert_eq(arg_frees, 2);
    /* Added after firing: runs and frees at once. */
    cr_assert_eq(weft_deferred_add_callbacks_full(d, step, NULL, "late", count_arg_free), 0);
    cr_assert_eq(arg_frees, 3);
    weft_deferred_unref(d);
    cr_assert_eq(arg_frees, 3, "nothing freed twice");
    weft_reactor_free(r);
}

WEFT_TEST(deferred, arg_free_once_when_dropped_unfired)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(weft_deferred_add_callbacks_full(d, step, step, "never", count_arg_free), 0);
    weft_deferred_unref(d);
    cr_assert_eq(arg_frees, 10);
    cr_assert_str_eq(trace, "");
    weft_reactor_free(r);
}

WEFT_TEST(deferred, arg_free_for_pairs_left_behind_by_a_pause)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_add_callbacks_full(d, step, NULL, "a", count_arg_free), 0);
    weft_deferred_pause(d);
    cr_assert_eq(weft_deferred_add_callbacks_full(d, step, NULL, "b", count_arg_free), 0);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_str_eq(trace, "");
    cr_assert_eq(arg_frees, 0);
    weft_deferred_unref(d); /* paused for good: the pairs are dropped */
    cr_assert_eq(arg_frees, 2);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, add_failing_for_memory_leaves_arg_with_the_caller)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    int added = 0, refused = 0;
    for (int i = 0; i < 20; i++) {
        weft_fault_alloc fa = {.fail_at = 1};
        weft_fault_alloc_install(&fa);
        int err = weft_deferred_add_callbacks_full(d, step, NULL, "x", count_arg_free);
        weft_fault_alloc_remove();
        if (err == 0) {
            added++;
        } else {
            cr_assert_eq(err, WEFT_ENOMEM);
            cr_assert_eq(fa.failed, 1);
            refused++;
        }
    }
    cr_assert_gt(refused, 0, "growing the chain must have needed memory");
    cr_assert_eq(arg_frees, 0, "a refused pair's arg stays the caller's");
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_eq(arg_frees, added);
    cr_assert_eq(strlen(trace), 2u * (size_t)added);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static weft_result drop_own_reference(void *arg, weft_result r)
{
    weft_deferred_unref(arg);
    mark("dropped");
    return r;
}

WEFT_TEST(deferred, last_reference_dropped_by_its_own_callback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    add(d, drop_own_reference, NULL, d);
    cr_assert_eq(weft_deferred_add_callbacks_full(d, show, NULL, "after", count_arg_free), 0);
    cr_assert_eq(weft_deferred_callback(d, box(1), box_free), 0);
    /* The chain finished, then d went with its value. */
    cr_assert_str_eq(trace, "dropped,after=1,");
    cr_assert_eq(arg_frees, 1);
    cr_assert_eq(boxes_freed, 1);
    weft_deferred_unref(NULL);
    weft_reactor_free(r);
}

/* pause/unpause of a Deferred that sits lower on the run stack (it has just
 * handed its result to the Deferred whose callback is running). */
static weft_deferred *lower_x;
static bool also_unpause;

static weft_result pause_lower(void *arg, weft_result r)
{
    (void)arg;
    mark("a");
    weft_deferred_pause(lower_x);
    if (also_unpause)
        weft_deferred_unpause(lower_x);
    return r;
}

static void pause_lower_on_the_stack(bool unpause_too)
{
    weft_reactor *r = weft_test_clock();
    lower_x = weft_deferred_new(r);
    also_unpause = unpause_too;
    weft_deferred *a = weft_deferred_new(r);
    add(a, return_deferred, NULL, lower_x);
    cr_assert_eq(weft_deferred_callback(a, NULL, NULL), 0); /* a waits on x */
    add(a, pause_lower, NULL, NULL);
    add(lower_x, show, NULL, "x"); /* after the continuation entry */
    cr_assert_eq(weft_deferred_callback(lower_x, box(1), box_free), 0);
    if (!unpause_too) {
        cr_assert_str_eq(trace, "a,", "x was paused before its loop got back to it");
        weft_deferred_unpause(lower_x);
    }
    cr_assert_str_eq(trace, "a,x=none,");
    cr_assert_eq(unbox(now(a)), 1);
    weft_deferred_unref(a);
    weft_deferred_unref(lower_x);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, pause_of_a_deferred_lower_on_the_run_stack)
{
    pause_lower_on_the_stack(false);
}

WEFT_TEST(deferred, pause_and_unpause_of_a_deferred_lower_on_the_run_stack)
{
    pause_lower_on_the_stack(true);
}

/* ---- pause ---- */

WEFT_TEST(deferred, paused_failure)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_fail(r, weft_failure_new(WEFT_EFAILED, "fail"));
    cr_assert_not_null(d);
    weft_deferred_pause(d);
    seen eb = {0};
    cr_assert_eq(weft_deferred_add_errback(d, record_consume, &eb), 0);
    cr_assert_eq(eb.calls, 0);
    cr_assert_not(weft_deferred_peek(d, NULL), "no result while paused");
    cr_assert_eq(weft_deferred_take(d, &(weft_result){0}), WEFT_EAGAIN);
    weft_deferred_unpause(d);
    cr_assert_eq(eb.calls, 1);
    cr_assert_eq(eb.code, WEFT_EFAILED);
    cr_assert(weft_deferred_peek(d, NULL));
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, unpause_before_callback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred_pause(d);
    seen s = {0};
    add(d, record, NULL, &s);
    weft_deferred_unpause(d);
    cr_assert_eq(s.calls, 0, "nothing to run before firing");
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_eq(s.calls, 1);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, nested_pauses)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    add(d, step, NULL, "ran");
    weft_deferred_pause(d);
    weft_deferred_pause(d);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert(weft_deferred_called(d));
    cr_assert_str_eq(trace, "");
    weft_deferred_unpause(d);
    cr_assert_str_eq(trace, "", "one pause still holds");
    cr_assert_not(weft_deferred_peek(d, NULL));
    add(d, step, NULL, "added-while-paused");
    cr_assert_str_eq(trace, "");
    weft_deferred_unpause(d);
    cr_assert_str_eq(trace, "ran,added-while-paused,");
    weft_deferred_unpause(d); /* one too many: nothing happens */
    weft_deferred_pause(d);
    add(d, step, NULL, "paused-again");
    cr_assert_str_eq(trace, "ran,added-while-paused,", "the extra unpause did not go negative");
    weft_deferred_unpause(d);
    cr_assert_str_eq(trace, "ran,added-while-paused,paused-again,");
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static weft_result pause_own(void *arg, weft_result r)
{
    weft_deferred_pause(arg);
    mark("paused");
    return r;
}

WEFT_TEST(deferred, pause_from_a_callback_holds_later_additions)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    add(d, pause_own, NULL, d);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    add(d, step, NULL, "held");
    cr_assert_str_eq(trace, "paused,");
    weft_deferred_unpause(d);
    cr_assert_str_eq(trace, "paused,held,");
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

/* ---- a callback returning a Deferred ---- */

WEFT_TEST(deferred, callback_returns_a_deferred)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d1 = weft_deferred_new(r);
    weft_deferred *d2 = weft_deferred_new(r);
    weft_deferred_pause(d2);
    add(d1, return_deferred, NULL, d2);
    add(d1, show, NULL, "outer");
    cr_assert_eq(weft_deferred_callback(d1, box(1), box_free), 0);
    cr_assert_str_eq(trace, "", "should not have been called yet");
    cr_assert_not(weft_deferred_peek(d1, NULL), "waiting: no result");
    cr_assert(weft_deferred_called(d1));
    cr_assert_eq(weft_deferred_callback(d2, box(2), box_free), 0);
    cr_assert_str_eq(trace, "", "still should not have been called yet");
    weft_deferred_unpause(d2);
    cr_assert_str_eq(trace, "outer=2,", "the result is the second Deferred's");
    cr_assert_eq(unbox(now(d1)), 2);
    cr_assert_null(now(d2).value, "the inner Deferred's result moved out");
    weft_deferred_unref(d1);
    weft_deferred_unref(d2);
    cr_assert_eq(boxes_freed, 2);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, errback_returns_a_deferred)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred *d2 = weft_deferred_new(r);
    add(d, NULL, return_deferred, d2);
    add(d, show, NULL, "sync");
    cr_assert_eq(weft_deferred_errback(d, weft_failure_new(WEFT_EINVAL, "value error")), 0);
    cr_assert_not(weft_deferred_peek(d, NULL));
    cr_assert_str_eq(trace, "");
    cr_assert_eq(weft_deferred_callback(d2, box(9), box_free), 0);
    cr_assert_str_eq(trace, "sync=9,");
    weft_deferred_unref(d);
    weft_deferred_unref(d2);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, chained_paused_deferred_with_result)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *paused = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_callback(paused, box(11), box_free), 0);
    weft_deferred_pause(paused);
    weft_deferred *chained = weft_deferred_new(r);
    add(chained, return_deferred, NULL, paused);
    cr_assert_eq(weft_deferred_callback(chained, NULL, NULL), 0);
    add(chained, show, NULL, "result");
    cr_assert_str_eq(trace, "");
    weft_deferred_unpause(paused);
    cr_assert_str_eq(trace, "result=11,");
    weft_deferred_unref(paused);
    weft_deferred_unref(chained);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, paused_deferred_chained)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *first = weft_deferred_new(r);
    weft_deferred *second = weft_deferred_new(r);
    add(first, return_deferred, NULL, second);
    cr_assert_eq(weft_deferred_callback(first, NULL, NULL), 0);
    weft_deferred_pause(first);
    cr_assert_eq(weft_deferred_callback(second, box(1), box_free), 0);
    /* first is paused, but second goes on with its own callbacks. */
    add(second, show, NULL, "second");
    cr_assert_str_eq(trace, "second=none,");
    add(first, show, NULL, "first");
    cr_assert_str_eq(trace, "second=none,");
    weft_deferred_unpause(first);
    cr_assert_str_eq(trace, "second=none,first=1,");
    weft_deferred_unref(first);
    weft_deferred_unref(second);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, synchronous_implicit_chain)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *first = weft_succeed(r, box(4), box_free);
    weft_deferred *second = weft_deferred_new(r);
    add(second, return_deferred, NULL, first);
    cr_assert_eq(weft_deferred_callback(second, NULL, NULL), 0);
    add(first, show, NULL, "first");
    add(second, show, NULL, "second");
    /* The result was stolen: first is left with none. */
    cr_assert_str_eq(trace, "first=none,second=4,");
    weft_deferred_unref(first);
    weft_deferred_unref(second);
    cr_assert_eq(boxes_freed, 1);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, asynchronous_implicit_chain)
{
    /* test_asynchronousImplicitChain: callbacks added to first *after* the
     * continuation see none; second gets the result. */
    weft_reactor *r = weft_test_clock();
    weft_deferred *first = weft_deferred_new(r);
    weft_deferred *second = weft_deferred_new(r);
    add(second, return_deferred, NULL, first);
    cr_assert_eq(weft_deferred_callback(second, NULL, NULL), 0);
    add(first, show, NULL, "first");
    add(second, show, NULL, "second");
    cr_assert_str_eq(trace, "");
    cr_assert_eq(weft_deferred_callback(first, box(8), box_free), 0);
    /* first's own callback came after the continuation entry. */
    cr_assert_str_eq(trace, "second=8,first=none,");
    weft_deferred_unref(first);
    weft_deferred_unref(second);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, synchronous_implicit_error_chain)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *first = weft_fail(r, weft_failure_new(WEFT_EFAILED, "First Deferred's Failure"));
    weft_deferred *second = weft_deferred_new(r);
    add(second, return_deferred, NULL, first);
    cr_assert_eq(weft_deferred_callback(second, NULL, NULL), 0);
    add(first, show, NULL, "first");
    cr_assert_str_eq(trace, "first=none,");
    cr_assert_eq(now_code(second), WEFT_EFAILED);
    handle(second);
    weft_deferred_unref(first);
    weft_deferred_unref(second);
    cr_assert_eq(log.count, 0, "nothing unhandled: %s", log.lines[0]);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, asynchronous_implicit_error_chain)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *first = weft_deferred_new(r);
    weft_deferred *second = weft_deferred_new(r);
    add(second, return_deferred, NULL, first);
    cr_assert_eq(weft_deferred_callback(second, NULL, NULL), 0);
    seen eb = {0};
    add(second, NULL, record_consume, &eb);
    add(first, show, NULL, "first");
    add(second, show, NULL, "second");
    cr_assert_str_eq(trace, "");
    cr_assert_eq(weft_deferred_errback(first, weft_failure_new(WEFT_EFAILED, "First Deferred's Failure")), 0);
    cr_assert_eq(eb.calls, 1);
    cr_assert_eq(eb.code, WEFT_EFAILED);
    cr_assert_str_eq(trace, "second=none,first=none,");
    weft_deferred_unref(first);
    weft_deferred_unref(second);
    cr_assert_eq(log.count, 0);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, double_asynchronous_implicit_chaining)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *first = weft_deferred_new(r);
    weft_deferred *second = weft_deferred_new(r);
    weft_deferred *third = weft_deferred_new(r);
    add(second, return_deferred, NULL, first);
    add(third, return_deferred, NULL, second);
    add(third, show, NULL, "third");
    cr_assert_eq(weft_deferred_callback(second, NULL, NULL), 0);
    cr_assert_eq(weft_deferred_callback(third, NULL, NULL), 0);
    cr_assert_str_eq(trace, "");
    cr_assert_eq(weft_deferred_callback(first, box(3), box_free), 0);
    cr_assert_str_eq(trace, "third=3,");
    weft_deferred_unref(first);
    weft_deferred_unref(second);
    weft_deferred_unref(third);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, result_of_deferred_result_of_deferred_of_fired_deferred)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *first = weft_deferred_new(r);
    weft_deferred *second = weft_deferred_new(r);
    weft_deferred *third = weft_deferred_new(r);
    add(first, return_deferred, NULL, second);
    add(second, return_deferred, NULL, third);
    cr_assert_eq(weft_deferred_callback(second, NULL, NULL), 0);
    cr_assert_eq(weft_deferred_callback(first, NULL, NULL), 0);
    cr_assert_eq(weft_deferred_callback(third, box(1), box_free), 0);
    add(second, show, NULL, "second");
    cr_assert_str_eq(trace, "second=none,");
    cr_assert_eq(unbox(now(first)), 1);
    weft_deferred_unref(first);
    weft_deferred_unref(second);
    weft_deferred_unref(third);
    weft_reactor_free(r);
}

/* test_nestedAsynchronousChainedDeferreds and test_innerCallbacksPreserved:
 * outer = succeed("outer") whose callback returns d = succeed("inner"),
 * whose first callback returns an unfired `inner`. */
static weft_deferred *nested_inner;
static bool nested_transform;

static weft_result nested_first(void *arg, weft_result r)
{
    (void)arg;
    mark("firstCallback");
    weft_result_free(r);
    if (nested_transform)
        cr_assert_eq(weft_deferred_add_callback(nested_inner, double_it, NULL), 0);
    return weft_chain(weft_deferred_ref(nested_inner));
}

static weft_result nested_second(void *arg, weft_result r)
{
    (void)arg;
    show("secondCallback", r);
    *(int *)r.value *= 10;
    return r;
}

static weft_result nested_cb(void *arg, weft_result r)
{
    weft_reactor *re = arg;
    show("start-of-cb", r);
    weft_result_free(r);
    weft_deferred *d = weft_succeed(re, box(1), box_free);
    add(d, nested_first, NULL, NULL);
    add(d, nested_second, NULL, NULL);
    add(d, NULL, step, "failure");
    return weft_chain(d);
}

static void nested_chain(bool fire_inner_first, bool transform)
{
    weft_reactor *r = weft_test_clock();
    nested_inner = weft_deferred_new(r);
    nested_transform = transform;
    weft_deferred *outer = weft_succeed(r, box(100), box_free);
    if (fire_inner_first)
        cr_assert_eq(weft_deferred_callback(nested_inner, box(5), box_free), 0);
    add(outer, nested_cb, NULL, r);
    add(outer, show, NULL, "final");
    if (!fire_inner_first) {
        cr_assert_str_eq(trace, "start-of-cb=100,firstCallback,");
        cr_assert_eq(weft_deferred_callback(nested_inner, box(5), box_free), 0);
    }
    add(nested_inner, NULL, step, "inner-failure");
    add(outer, NULL, step, "outer-failure");
    int v = transform ? 10 : 5;
    char want[256];
    snprintf(want, sizeof want, "start-of-cb=100,firstCallback,secondCallback=%d,final=%d,", v, v * 10);
    cr_assert_str_eq(trace, want);
    weft_deferred_unref(outer);
    weft_deferred_unref(nested_inner);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, nested_asynchronous_chained_deferreds)
{
    nested_chain(false, false);
}

WEFT_TEST(deferred, nested_asynchronous_chained_deferreds_with_extra_callbacks)
{
    nested_chain(false, true);
}

WEFT_TEST(deferred, inner_callbacks_preserved)
{
    nested_chain(true, false);
}

/* test_continueCallbackNotFirst / test_callbackOrderPreserved: the
 * continuation entry is not necessarily the first entry. */
static weft_deferred *order_a;

static weft_result order_first(void *arg, weft_result r)
{
    weft_reactor *re = arg;
    mark("firstCallback");
    weft_result_free(r);
    weft_deferred *g = weft_gather(re, &order_a, 1, false);
    cr_assert_not_null(g);
    return weft_chain(g);
}

static weft_result order_second(void *arg, weft_result r)
{
    (void)arg;
    weft_result_list *l = r.value;
    cr_assert_eq(l->count, 1);
    mark("secondCallback=%d", *(int *)l->items[0].value);
    return r;
}

static weft_result order_cb(void *arg, weft_result r)
{
    show("cb", r);
    weft_result_free(r);
    weft_deferred *d = weft_deferred_new(arg);
    add(d, order_first, NULL, arg);
    add(d, order_second, NULL, NULL);
    add(d, NULL, step, "failure");
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    return weft_chain(d);
}

static void callback_order(bool fire_outer_late)
{
    weft_reactor *r = weft_test_clock();
    order_a = weft_deferred_new(r);
    weft_deferred *outer = fire_outer_late ? weft_deferred_new(r) : weft_succeed(r, box(1), box_free);
    add(outer, order_cb, NULL, r);
    add(outer, step, NULL, "final");
    add(outer, NULL, step, "failure");
    if (fire_outer_late)
        cr_assert_eq(weft_deferred_callback(outer, box(1), box_free), 0);
    cr_assert_str_eq(trace, "cb=1,firstCallback,");
    cr_assert_eq(weft_deferred_callback(order_a, box(7), box_free), 0);
    cr_assert_str_eq(trace, "cb=1,firstCallback,secondCallback=7,final,");
    weft_deferred_unref(outer);
    weft_deferred_unref(order_a);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, continue_callback_not_first)
{
    callback_order(false);
}

WEFT_TEST(deferred, callback_order_preserved)
{
    callback_order(true);
}

WEFT_TEST(deferred, callback_returning_its_own_deferred_fails)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    add(d, return_deferred, NULL, d);
    cr_assert_eq(weft_deferred_callback(d, box(1), box_free), 0);
    cr_assert_eq(now_code(d), WEFT_EINVAL, "a circular chain becomes the Deferred's failure");
    handle(d);
    weft_deferred_unref(d);
    cr_assert_eq(boxes_freed, 1);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, returned_deferred_reference_is_given_away)
{
    /* return_owned hands the only reference to the chain; the inner
     * Deferred lives as long as the chain needs it. */
    weft_reactor *r = weft_test_clock();
    weft_deferred *outer = weft_deferred_new(r);
    weft_deferred *inner = weft_deferred_new(r);
    weft_deferred_ref(inner); /* kept to fire it */
    add(outer, return_owned, NULL, inner);
    add(outer, show, NULL, "outer");
    cr_assert_eq(weft_deferred_callback(outer, NULL, NULL), 0);
    cr_assert_eq(weft_deferred_callback(inner, box(2), box_free), 0);
    weft_deferred_unref(inner);
    cr_assert_str_eq(trace, "outer=2,");
    weft_deferred_unref(outer);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, waiting_on_a_deferred_destroyed_unfired)
{
    /* Nothing can fire the inner Deferred: the outer one waits for good,
     * and both are freed cleanly. */
    weft_reactor *r = weft_test_clock();
    weft_deferred *outer = weft_deferred_new(r);
    weft_deferred *inner = weft_deferred_new(r);
    add(outer, return_owned, NULL, inner);
    cr_assert_eq(weft_deferred_add_callbacks_full(outer, step, step, "never", count_arg_free), 0);
    cr_assert_eq(weft_deferred_callback(outer, NULL, NULL), 0);
    cr_assert_not(weft_deferred_peek(outer, NULL));
    weft_deferred_unref(outer);
    cr_assert_str_eq(trace, "");
    cr_assert_eq(arg_frees, 1);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, many_deferreds_wait_on_one)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *inner = weft_deferred_new(r);
    weft_deferred *outers[20];
    for (int i = 0; i < 20; i++) {
        outers[i] = weft_deferred_new(r);
        add(outers[i], return_deferred, NULL, inner);
        add(outers[i], show, NULL, "o");
        cr_assert_eq(weft_deferred_callback(outers[i], NULL, NULL), 0);
    }
    cr_assert_eq(weft_deferred_callback(inner, box(1), box_free), 0);
    /* The first waiter takes the value, the others get none (Twisted). */
    char want[256] = "o=1,";
    for (int i = 1; i < 20; i++)
        strcat(want, "o=none,");
    cr_assert_str_eq(trace, want);
    for (int i = 0; i < 20; i++)
        weft_deferred_unref(outers[i]);
    weft_deferred_unref(inner);
    weft_reactor_free(r);
}

/* A pair added to a Deferred while it is handing its result up a chain of
 * chains (it sits below the running Deferred on the run stack) still runs,
 * and the rest of the chain under it still runs. */
static weft_deferred *mid_x;

static weft_result add_to_mid(void *arg, weft_result r)
{
    (void)arg;
    mark("a");
    cr_assert_eq(weft_deferred_add_callback(mid_x, step, "x-late"), 0);
    return r;
}

WEFT_TEST(deferred, callback_added_to_a_deferred_in_the_middle_of_a_chain)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *y = weft_deferred_new(r);
    mid_x = weft_deferred_new(r);
    weft_deferred *a = weft_deferred_new(r);
    add(mid_x, return_deferred, NULL, y);
    cr_assert_eq(weft_deferred_callback(mid_x, NULL, NULL), 0); /* x waits on y */
    add(a, return_deferred, NULL, mid_x);
    cr_assert_eq(weft_deferred_callback(a, NULL, NULL), 0); /* a waits on x */
    add(a, add_to_mid, NULL, NULL);
    add(y, step, NULL, "y-after");
    cr_assert_eq(weft_deferred_callback(y, box(1), box_free), 0);
    /* x-late runs when x's loop resumes (just after a's chain), then y's. */
    cr_assert_str_eq(trace, "a,x-late,y-after,");
    cr_assert_eq(unbox(now(a)), 1);
    weft_deferred_unref(y);
    weft_deferred_unref(mid_x);
    weft_deferred_unref(a);
    cr_assert_eq(boxes_freed, 1);
    weft_reactor_free(r);
}

/* A callback of `inner` fires `outer`, whose callback returns `inner`
 * while inner's own callback is still running. */
static weft_deferred *running_inner, *running_outer;

static weft_result fire_outer_from_inner(void *arg, weft_result r)
{
    (void)arg;
    cr_assert_eq(weft_deferred_callback(running_outer, NULL, NULL), 0);
    mark("inner-cb-done");
    return r;
}

WEFT_TEST(deferred, callback_returns_a_deferred_whose_callback_is_running)
{
    weft_reactor *r = weft_test_clock();
    running_inner = weft_deferred_new(r);
    running_outer = weft_deferred_new(r);
    add(running_outer, return_deferred, NULL, running_inner);
    add(running_outer, show, NULL, "outer");
    add(running_inner, fire_outer_from_inner, NULL, NULL);
    add(running_inner, add_one, NULL, NULL);
    cr_assert_eq(weft_deferred_callback(running_inner, box(1), box_free), 0);
    /* outer waited for inner's chain to finish rather than taking the value
     * its running callback owned: the value is owned once (ASan would catch
     * a double free) and carries inner's later steps. */
    cr_assert_str_eq(trace, "inner-cb-done,outer=2,");
    cr_assert_eq(unbox(now(running_outer)), 2);
    cr_assert_null(now(running_inner).value);
    weft_deferred_unref(running_outer);
    weft_deferred_unref(running_inner);
    cr_assert_eq(boxes_freed, 1);
    weft_reactor_free(r);
}

static weft_result take_own_result(void *arg, weft_result r)
{
    weft_result out = weft_ok((void *)1, NULL);
    /* From inside its own callback, take must not hand out the argument
     * this callback owns: the Deferred holds none meanwhile. */
    cr_assert_eq(weft_deferred_take(arg, &out), 0);
    cr_assert_null(out.value);
    cr_assert_null(out.destroy);
    mark("took-none");
    return r;
}

WEFT_TEST(deferred, take_from_inside_a_callback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    add(d, take_own_result, NULL, d);
    cr_assert_eq(weft_deferred_callback(d, box(3), box_free), 0);
    cr_assert_str_eq(trace, "took-none,");
    cr_assert_eq(unbox(now(d)), 3);
    weft_deferred_unref(d);
    cr_assert_eq(boxes_freed, 1);
    weft_reactor_free(r);
}

/* test_boundedStackDepth: callbacks run at the same stack depth however many
 * Deferreds are chained. */
static uintptr_t depth_frame;

static weft_result record_frame(void *arg, weft_result r)
{
    (void)arg;
    depth_frame = (uintptr_t)__builtin_frame_address(0);
    return r;
}

static uintptr_t chain_deferreds(weft_reactor *r, size_t how_many)
{
    weft_deferred *top = weft_deferred_new(r);
    weft_deferred **inners = malloc(how_many * sizeof *inners);
    cr_assert_not_null(inners);
    for (size_t i = 0; i < how_many; i++)
        inners[i] = weft_deferred_new(r);
    weft_deferred *last = weft_deferred_new(r);

    add(top, return_deferred, NULL, inners[how_many - 1]);
    add(top, record_frame, NULL, NULL);
    for (size_t i = how_many - 1; i > 0; i--)
        add(inners[i], return_deferred, NULL, inners[i - 1]);
    add(inners[0], return_deferred, NULL, last);

    depth_frame = 0;
    cr_assert_eq(weft_deferred_callback(top, NULL, NULL), 0);
    for (size_t i = how_many; i-- > 0;)
        cr_assert_eq(weft_deferred_callback(inners[i], NULL, NULL), 0);
    cr_assert_eq(depth_frame, 0, "not yet");
    cr_assert_eq(weft_deferred_callback(last, box(1), box_free), 0);
    cr_assert_neq(depth_frame, 0);
    cr_assert_eq(unbox(now(top)), 1);

    weft_deferred_unref(top);
    for (size_t i = 0; i < how_many; i++)
        weft_deferred_unref(inners[i]);
    weft_deferred_unref(last);
    free(inners);
    return depth_frame;
}

WEFT_TEST(deferred, bounded_stack_depth)
{
    weft_reactor *r = weft_test_clock();
    uintptr_t one = chain_deferreds(r, 1);
    uintptr_t two = chain_deferreds(r, 2);
    uintptr_t many = chain_deferreds(r, 10000);
    cr_assert_eq(one, two);
    cr_assert_eq(one, many);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, deep_chain_fired_from_the_innermost)
{
    /* 100000 Deferreds, each waiting on the next, fired from the innermost;
     * the references are all dropped before firing, so the chain alone
     * keeps them alive. */
    enum { N = 100000 };
    weft_reactor *r = weft_test_clock();
    weft_deferred **ds = malloc((N + 1) * sizeof *ds);
    cr_assert_not_null(ds);
    for (int i = 0; i <= N; i++)
        ds[i] = weft_deferred_new(r);
    for (int i = 0; i < N; i++) {
        add(ds[i], return_deferred, NULL, ds[i + 1]);
        add(ds[i], add_one, NULL, NULL);
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(weft_deferred_callback(ds[i], NULL, NULL), 0);
    weft_deferred *outermost = ds[0], *innermost = ds[N];
    for (int i = 1; i < N; i++)
        weft_deferred_unref(ds[i]);
    free(ds);
    cr_assert_not(weft_deferred_peek(outermost, NULL));
    cr_assert_eq(weft_deferred_callback(innermost, box(0), box_free), 0);
    weft_deferred_unref(innermost);
    cr_assert_eq(unbox(now(outermost)), N);
    weft_deferred_unref(outermost);
    cr_assert_eq(boxes_freed, 1);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, deep_chain_of_fired_deferreds)
{
    /* Each callback returns a Deferred that already has its result, and
     * whose own chain does the same: results are stolen in a loop. */
    enum { N = 10000 };
    weft_reactor *r = weft_test_clock();
    weft_deferred **ds = malloc(N * sizeof *ds);
    ds[N - 1] = weft_succeed(r, box(0), box_free);
    for (int i = N - 2; i >= 0; i--) {
        ds[i] = weft_deferred_new(r);
        add(ds[i], return_deferred, NULL, ds[i + 1]);
        add(ds[i], add_one, NULL, NULL);
    }
    for (int i = N - 2; i >= 0; i--)
        cr_assert_eq(weft_deferred_callback(ds[i], NULL, NULL), 0);
    cr_assert_eq(unbox(now(ds[0])), N - 1);
    for (int i = 0; i < N; i++)
        weft_deferred_unref(ds[i]);
    free(ds);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, deep_chain_destroyed_unfired)
{
    /* 100000 Deferreds waiting on each other, nobody holding them but the
     * chain, destroyed by dropping the innermost unfired. */
    enum { N = 100000 };
    weft_reactor *r = weft_test_clock();
    weft_deferred **ds = malloc((N + 1) * sizeof *ds);
    cr_assert_not_null(ds);
    for (int i = 0; i <= N; i++)
        ds[i] = weft_deferred_new(r);
    for (int i = 0; i < N; i++) {
        add(ds[i], return_deferred, NULL, ds[i + 1]);
        cr_assert_eq(weft_deferred_add_callbacks_full(ds[i], step, step, "never", count_arg_free), 0);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(weft_deferred_callback(ds[i], NULL, NULL), 0);
        weft_deferred_unref(ds[i]);
    }
    weft_deferred_unref(ds[N]);
    free(ds);
    cr_assert_eq(arg_frees, N);
    cr_assert_str_eq(trace, "");
    weft_reactor_free(r);
}

/* ---- weft_deferred_chain (chainDeferred) ---- */

WEFT_TEST(deferred, chain_passes_the_value)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *a = weft_deferred_new(r);
    weft_deferred *b = weft_deferred_new(r);
    add(b, show, NULL, "b");
    cr_assert_eq(weft_deferred_chain(a, b), 0);
    add(a, show, NULL, "a");
    cr_assert_not(weft_deferred_called(b));
    cr_assert_eq(weft_deferred_callback(a, box(4), box_free), 0);
    cr_assert(weft_deferred_called(b));
    cr_assert_str_eq(trace, "b=4,a=none,");
    cr_assert_eq(unbox(now(b)), 4);
    weft_deferred_unref(a);
    weft_deferred_unref(b);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, chain_passes_the_failure)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *a = weft_deferred_new(r);
    weft_deferred *b = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_chain(a, b), 0);
    weft_failure *f = weft_failure_new(WEFT_EFAILED, "chained");
    cr_assert_eq(weft_deferred_errback(a, f), 0);
    cr_assert_eq(weft_result_failure(now(b)), f);
    cr_assert_null(now(a).value, "a's failure moved on; a holds none");
    cr_assert_not(weft_failed(now(a)));
    handle(b);
    weft_deferred_unref(a);
    weft_deferred_unref(b);
    cr_assert_eq(log.count, 0);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, chain_keeps_its_own_reference)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *a = weft_deferred_new(r);
    weft_deferred *b = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_chain(a, b), 0);
    add(b, show, NULL, "b");
    weft_deferred_unref(b);
    cr_assert_eq(weft_deferred_callback(a, box(1), box_free), 0);
    cr_assert_str_eq(trace, "b=1,");
    weft_deferred_unref(a);
    cr_assert_eq(boxes_freed, 1);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, chain_to_itself_is_einval)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *a = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_chain(a, a), WEFT_EINVAL);
    cr_assert_eq(weft_deferred_callback(a, NULL, NULL), 0);
    cr_assert(weft_deferred_peek(a, NULL));
    weft_deferred_unref(a);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, chain_to_an_already_fired_deferred)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *a = weft_deferred_new(r);
    weft_deferred *b = weft_succeed(r, box(1), box_free);
    cr_assert_eq(weft_deferred_chain(a, b), 0);
    cr_assert_eq(weft_deferred_callback(a, box(2), box_free), 0);
    cr_assert_eq(now_code(a), WEFT_EALREADYCALLED);
    cr_assert_eq(unbox(now(b)), 1);
    cr_assert_eq(boxes_freed, 1, "the value b refused was freed");
    handle(a);
    weft_deferred_unref(a);
    weft_deferred_unref(b);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, chain_dropped_unfired_releases_the_other)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *a = weft_deferred_new(r);
    weft_deferred *b = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_chain(a, b), 0);
    weft_deferred_unref(b);
    weft_deferred_unref(a); /* the leak check proves b went too */
    weft_reactor_free(r);
}

WEFT_TEST(deferred, chain_after_firing_fires_at_once)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *a = weft_succeed(r, box(6), box_free);
    weft_deferred *b = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_chain(a, b), 0);
    cr_assert_eq(unbox(now(b)), 6);
    weft_deferred_unref(a);
    weft_deferred_unref(b);
    weft_reactor_free(r);
}

/* ---- cancellation ---- */

static int canceller_calls;
static weft_deferred *canceller_saw;

static void count_canceller(void *arg, weft_deferred *d)
{
    (void)arg;
    canceller_calls++;
    canceller_saw = d;
}

static void errback_canceller(void *arg, weft_deferred *d)
{
    (void)arg;
    canceller_calls++;
    cr_assert_eq(weft_deferred_errback(d, weft_failure_new(WEFT_EFAILED, "generic error")), 0);
}

static void callback_canceller(void *arg, weft_deferred *d)
{
    canceller_calls++;
    cr_assert_eq(weft_deferred_callback(d, arg, NULL), 0);
}

static void must_not_cancel(void *arg, weft_deferred *d)
{
    (void)arg;
    (void)d;
    cr_assert_fail("this canceller must not run");
}

WEFT_TEST(deferred, cancel_with_no_canceller)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    seen cb = {0}, eb = {0};
    add(d, record, NULL, &cb);
    add(d, NULL, record, &eb);
    weft_deferred_cancel(d);
    cr_assert(weft_deferred_called(d));
    cr_assert_eq(cb.calls, 0);
    cr_assert_eq(eb.calls, 1);
    cr_assert_eq(eb.code, WEFT_ECANCELED);
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static void late_fire_after_cancel(bool late_ok)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    seen s = {0};
    add(d, record, record, &s);
    weft_deferred_cancel(d);
    const weft_failure *cancelled = s.failure;
    /* One late firing is absorbed silently (and its result freed). */
    int err = late_ok ? weft_deferred_callback(d, box(1), box_free)
                      : weft_deferred_errback(d, weft_failure_new(WEFT_EFAILED, "late"));
    cr_assert_eq(err, 0);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(now_code(d), WEFT_ECANCELED);
    cr_assert_eq(weft_result_failure(now(d)), cancelled);
    /* Later cancels do nothing. */
    weft_deferred_cancel(d);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(weft_result_failure(now(d)), cancelled);
    /* But a second late firing is an error again. */
    cr_assert_eq(weft_deferred_callback(d, box(2), box_free), WEFT_EALREADYCALLED);
    cr_assert_eq(weft_deferred_errback(d, weft_failure_new(WEFT_EFAILED, "later")), WEFT_EALREADYCALLED);
    cr_assert_eq(boxes_freed, late_ok ? 2 : 1);
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, late_callback_after_cancel_is_absorbed_once)
{
    late_fire_after_cancel(true);
}

WEFT_TEST(deferred, late_errback_after_cancel_is_absorbed_once)
{
    late_fire_after_cancel(false);
}

WEFT_TEST(deferred, cancel_twice_with_no_canceller)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    seen s = {0};
    add(d, record, record, &s);
    weft_deferred_cancel(d);
    const weft_failure *first = s.failure;
    weft_deferred_cancel(d);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(weft_result_failure(now(d)), first);
    /* The second cancel did not use up the suppression either. */
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, canceller_runs_once)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred_set_canceller(d, count_canceller, NULL);
    seen s = {0};
    add(d, record, record, &s);
    weft_deferred_cancel(d);
    cr_assert_eq(canceller_calls, 1);
    cr_assert_eq(canceller_saw, d, "the canceller gets the Deferred");
    cr_assert_eq(s.code, WEFT_ECANCELED, "the canceller did not fire it: cancel errbacks");
    weft_deferred_cancel(d);
    cr_assert_eq(canceller_calls, 1);
    cr_assert_eq(s.calls, 1);
    /* With a canceller, late firings are not absorbed. */
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), WEFT_EALREADYCALLED);
    cr_assert_eq(weft_deferred_errback(d, weft_failure_new(WEFT_EFAILED, "x")), WEFT_EALREADYCALLED);
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static void check_canceller_arg(void *arg, weft_deferred *d)
{
    canceller_calls++;
    cr_assert_eq(arg, (void *)&canceller_calls);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
}

WEFT_TEST(deferred, canceller_gets_its_arg)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred_set_canceller(d, check_canceller_arg, &canceller_calls);
    weft_deferred_cancel(d);
    cr_assert_eq(canceller_calls, 1);
    cr_assert_not(weft_failed(now(d)));
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, cancel_after_callback_does_nothing)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred_set_canceller(d, errback_canceller, NULL);
    seen cb = {0}, eb = {0};
    add(d, record, NULL, &cb);
    add(d, NULL, record, &eb);
    cr_assert_eq(weft_deferred_callback(d, box(1), box_free), 0);
    weft_deferred_cancel(d);
    cr_assert_eq(canceller_calls, 0);
    cr_assert_eq(eb.calls, 0);
    cr_assert_eq(unbox(now(d)), 1);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, cancel_after_errback_does_nothing)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred_set_canceller(d, errback_canceller, NULL);
    seen s = {0};
    add(d, record, record, &s);
    weft_failure *f = weft_failure_new(WEFT_EINVAL, "first");
    cr_assert_eq(weft_deferred_errback(d, f), 0);
    weft_deferred_cancel(d);
    cr_assert_eq(canceller_calls, 0);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(weft_result_failure(now(d)), f);
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, canceller_that_errbacks)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred_set_canceller(d, errback_canceller, NULL);
    seen s = {0};
    add(d, record, record, &s);
    weft_deferred_cancel(d);
    cr_assert_eq(canceller_calls, 1);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(s.code, WEFT_EFAILED, "the canceller's failure, not a cancellation");
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, canceller_that_callbacks)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    static int hello = 1;
    weft_deferred_set_canceller(d, callback_canceller, &hello);
    seen cb = {0}, eb = {0};
    add(d, record, NULL, &cb);
    add(d, NULL, record, &eb);
    weft_deferred_cancel(d);
    cr_assert_eq(canceller_calls, 1);
    cr_assert_eq(cb.calls, 1);
    cr_assert_eq(cb.value, &hello);
    cr_assert_eq(eb.calls, 0);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static void unref_in_canceller(void *arg, weft_deferred *d)
{
    (void)arg;
    canceller_calls++;
    weft_deferred_unref(d); /* the only reference the caller had */
}

WEFT_TEST(deferred, cancel_keeps_the_deferred_alive_through_the_canceller)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred_set_canceller(d, unref_in_canceller, NULL);
    cr_assert_eq(weft_deferred_add_callbacks_full(d, NULL, drop_result, NULL, count_arg_free), 0);
    weft_deferred_cancel(d);
    cr_assert_eq(canceller_calls, 1);
    cr_assert_eq(arg_frees, 1, "the errback ran and d was then freed");
    weft_reactor_free(r);
}

WEFT_TEST(deferred, cancel_nested_deferred)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *b = weft_deferred_new(r);
    weft_deferred_set_canceller(b, count_canceller, NULL);
    weft_deferred *a = weft_deferred_new(r);
    weft_deferred_set_canceller(a, must_not_cancel, NULL);
    cr_assert_eq(weft_deferred_callback(a, NULL, NULL), 0);
    add(a, return_deferred, NULL, b);
    weft_deferred_cancel(a);
    seen s = {0};
    add(a, record, record, &s);
    cr_assert_eq(canceller_calls, 1, "cancelling a cancels b, which a waits on");
    cr_assert_eq(canceller_saw, b);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(s.code, WEFT_ECANCELED);
    cr_assert_not(weft_failed(now(b)), "b's cancellation moved on to a");
    handle(a);
    weft_deferred_unref(a);
    weft_deferred_unref(b);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, cancel_reaches_through_a_chain_of_chains)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *innermost = weft_deferred_new(r);
    weft_deferred_set_canceller(innermost, count_canceller, NULL);
    weft_deferred *mid = weft_deferred_new(r);
    weft_deferred *outer = weft_deferred_new(r);
    add(mid, return_deferred, NULL, innermost);
    add(outer, return_deferred, NULL, mid);
    cr_assert_eq(weft_deferred_callback(mid, NULL, NULL), 0);
    cr_assert_eq(weft_deferred_callback(outer, NULL, NULL), 0);
    seen s = {0};
    add(outer, NULL, record_consume, &s);
    weft_deferred_cancel(outer);
    cr_assert_eq(canceller_calls, 1);
    cr_assert_eq(canceller_saw, innermost);
    cr_assert_eq(s.code, WEFT_ECANCELED);
    weft_deferred_unref(innermost);
    weft_deferred_unref(mid);
    weft_deferred_unref(outer);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, cancel_of_a_fired_deferred_that_is_paused_does_nothing)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred_set_canceller(d, must_not_cancel, NULL);
    weft_deferred_pause(d);
    cr_assert_eq(weft_deferred_callback(d, box(1), box_free), 0);
    weft_deferred_cancel(d);
    weft_deferred_unpause(d);
    cr_assert_eq(unbox(now(d)), 1);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

/* ---- unhandled failures ---- */

WEFT_TEST(deferred, unhandled_failure_is_logged_on_destroy)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    int line = __LINE__ + 1;
    weft_deferred *d = weft_deferred_new(r);
    add(d, fail_step, NULL, "integer division by zero");
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_eq(log.count, 0, "nothing logged while the Deferred lives");
    weft_deferred_unref(d);

    cr_assert_eq(log.count, 1);
    cr_assert_eq(log.levels[0], WEFT_LOG_CRITICAL);
    cr_assert(weft_test_log_contains(&log, "Unhandled error in Deferred"), "%s", log.lines[0]);
    cr_assert(weft_test_log_contains(&log, "integer division by zero"), "%s", log.lines[0]);
    /* Where the Deferred was made is a field, not part of the message
     * (test_failure.c: unhandled_error_message_has_no_build_paths). */
    char where[512];
    snprintf(where, sizeof where, "%s:%d", __FILE__, line);
    cr_assert(!weft_test_log_contains(&log, where), "%s", log.lines[0]);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, unhandled_failure_log_names_the_cause_chain)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *d = weft_fail(r, weft_failure_wrap(weft_failure_new(WEFT_ECANCELED, "root cause"), WEFT_ETIMEDOUT,
                                                      "outer failure"));
    weft_deferred_unref(d);
    cr_assert_eq(log.count, 1);
    cr_assert(weft_test_log_contains(&log, "outer failure"), "%s", log.lines[0]);
    cr_assert(weft_test_log_contains(&log, "outer failure: root cause"), "%s", log.lines[0]);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, handled_failure_is_not_logged)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *d = weft_deferred_new(r);
    add(d, fail_step, NULL, "handled");
    add(d, NULL, drop_result, NULL);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    weft_deferred_unref(d);

    d = weft_deferred_new(r);
    weft_deferred_unref(d); /* never fired: nothing to report */

    d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_callback(d, box(1), box_free), 0);
    weft_deferred_unref(d); /* a value: nothing to report */

    /* A failure taken out is the taker's. */
    d = weft_fail(r, weft_failure_new(WEFT_EFAILED, "taken"));
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    cr_assert(weft_failed(res));
    weft_result_free(res);

    cr_assert_eq(log.count, 0, "%s", log.lines[0]);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, failure_passed_to_a_chain_is_not_logged_twice)
{
    /* test_chainedErrorCleanup: the inner Deferred's failure moved into the
     * outer one; only the outer, left unhandled, is reported. */
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *inner = weft_fail(r, weft_failure_new(WEFT_EFAILED, "zoop"));
    weft_deferred *d = weft_deferred_new(r);
    add(d, return_owned, NULL, inner);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_eq(log.count, 0);
    weft_deferred_unref(d);
    cr_assert_eq(log.count, 1);
    cr_assert(weft_test_log_contains(&log, "zoop"));
    weft_reactor_free(r);
}

WEFT_TEST(deferred, error_cleared_by_chaining)
{
    /* test_errorClearedByChaining: an errback that returns another (unfired)
     * Deferred clears the failure; dropping both logs nothing. */
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_deferred *bad = weft_fail(r, weft_failure_new(WEFT_EFAILED, "oh no"));
    weft_deferred *good = weft_deferred_new(r);
    add(bad, NULL, return_owned, good);
    weft_deferred_unref(bad);
    cr_assert_eq(log.count, 0, "%s", log.lines[0]);
    weft_reactor_free(r);
}

/* ---- peek and take ---- */

WEFT_TEST(deferred, peek_and_take)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_result res = weft_ok((void *)1, NULL);
    cr_assert_not(weft_deferred_peek(d, &res));
    cr_assert_eq(res.value, (void *)1, "peek leaves out alone when false");
    cr_assert_eq(weft_deferred_take(d, &res), WEFT_EAGAIN);

    int *v = box(12);
    cr_assert_eq(weft_deferred_callback(d, v, box_free), 0);
    cr_assert(weft_deferred_peek(d, NULL));
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert_eq(res.value, v);
    cr_assert_eq(res.destroy, box_free);

    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert_eq(res.value, v);
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert_null(res.value, "take left none behind");
    cr_assert_null(res.destroy);
    weft_deferred_unref(d);
    cr_assert_eq(boxes_freed, 0, "the taken value is the caller's");
    box_free(v);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, peek_is_false_while_waiting)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred *inner = weft_deferred_new(r);
    add(d, return_deferred, NULL, inner);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert(weft_deferred_called(d));
    cr_assert_not(weft_deferred_peek(d, NULL));
    cr_assert_eq(weft_deferred_take(d, &(weft_result){0}), WEFT_EAGAIN);
    cr_assert_eq(weft_deferred_callback(inner, box(2), box_free), 0);
    cr_assert_eq(unbox(now(d)), 2);
    weft_deferred_unref(d);
    weft_deferred_unref(inner);
    weft_reactor_free(r);
}

/* ---- succeed, fail, maybe_deferred ---- */

WEFT_TEST(deferred, succeed_matches_a_manual_callback)
{
    weft_reactor *r = weft_test_clock();
    static int v = 1;
    weft_deferred *d = weft_succeed(r, &v, NULL);
    cr_assert_not_null(d);
    cr_assert(weft_deferred_called(d));
    cr_assert_eq(weft_deferred_reactor(d), r);
    cr_assert_eq(now(d).value, &v);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), WEFT_EALREADYCALLED);
    seen s = {0};
    cr_assert_eq(weft_deferred_add_callback(d, record, &s), 0);
    cr_assert_eq(s.value, &v);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, fail_gives_a_failed_deferred)
{
    weft_reactor *r = weft_test_clock();
    weft_failure *f = weft_failure_new(WEFT_EFAILED, "fail");
    weft_deferred *d = weft_fail(r, f);
    cr_assert_not_null(d);
    seen s = {0};
    cr_assert_eq(weft_deferred_add_errback(d, record_consume, &s), 0);
    cr_assert_eq(s.failure, f);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static int maybe_calls;

static weft_result give_value(void *arg)
{
    maybe_calls++;
    return weft_ok(box((int)(intptr_t)arg), box_free);
}

static weft_result give_failure(void *arg)
{
    maybe_calls++;
    return weft_err_new(WEFT_EINVAL, "%s", (const char *)arg);
}

static weft_result give_deferred(void *arg)
{
    maybe_calls++;
    return weft_chain(weft_deferred_ref(arg));
}

WEFT_TEST(deferred, maybe_deferred_sync_value)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_maybe_deferred(r, give_value, (void *)(intptr_t)15);
    cr_assert_not_null(d);
    cr_assert_eq(maybe_calls, 1);
    cr_assert_eq(unbox(now(d)), 15);
    cr_assert_eq(weft_deferred_reactor(d), r);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, maybe_deferred_sync_failure)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_maybe_deferred(r, give_failure, "that value is unacceptable");
    cr_assert_not_null(d);
    seen cb = {0}, eb = {0};
    add(d, record, NULL, &cb);
    add(d, NULL, record, &eb);
    cr_assert_eq(cb.calls, 0);
    cr_assert_eq(eb.calls, 1);
    cr_assert_str_eq(weft_failure_message(eb.failure), "that value is unacceptable");
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, maybe_deferred_async)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d1 = weft_deferred_new(r);
    weft_deferred *d2 = weft_maybe_deferred(r, give_deferred, d1);
    cr_assert_eq(d2, d1, "the returned Deferred passes through");
    cr_assert_eq(weft_deferred_callback(d1, box(1), box_free), 0);
    add(d2, show, NULL, "r");
    cr_assert_str_eq(trace, "r=1,");
    weft_deferred_unref(d2);
    weft_deferred_unref(d1);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, maybe_deferred_async_error)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d1 = weft_deferred_new(r);
    weft_deferred *d2 = weft_maybe_deferred(r, give_deferred, d1);
    weft_failure *f = weft_failure_new(WEFT_EFAILED, "runtime error");
    cr_assert_eq(weft_deferred_errback(d1, f), 0);
    cr_assert_eq(weft_result_failure(now(d2)), f);
    handle(d2);
    weft_deferred_unref(d2);
    weft_deferred_unref(d1);
    weft_reactor_free(r);
}

/* ---- add_timeout ---- */

static size_t timers(weft_reactor *r)
{
    return weft_clock_calls(r, NULL, 0);
}

WEFT_TEST(deferred, timeout_chainable)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_add_timeout(d, 5), 0);
    cr_assert_eq(timers(r), 1);
    add(d, drop_result, NULL, NULL);
    add(d, step, NULL, "done");
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_str_eq(trace, "done,");
    cr_assert_eq(timers(r), 0, "the timer went when d fired");
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, success_before_timeout)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    weft_deferred *inner = weft_deferred_new(r);
    weft_deferred_set_canceller(inner, must_not_cancel, NULL);
    add(d, show, NULL, "results");
    add(d, return_deferred, NULL, inner);
    cr_assert_eq(weft_deferred_callback(d, box(1), box_free), 0);
    cr_assert_str_eq(trace, "results=1,");
    cr_assert_eq(timers(r), 0);
    cr_assert_eq(weft_clock_advance(r, 15), 0);
    cr_assert_not(weft_deferred_called(inner), "the timeout never cancelled anything");
    weft_deferred_unref(d);
    weft_deferred_unref(inner);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, failure_before_timeout)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    weft_deferred *inner = weft_deferred_new(r);
    weft_deferred_set_canceller(inner, must_not_cancel, NULL);
    seen s = {0};
    add(d, NULL, record, &s);
    add(d, NULL, return_deferred, inner);
    weft_failure *f = weft_failure_new(WEFT_EINVAL, "fail");
    cr_assert_eq(weft_deferred_errback(d, f), 0);
    cr_assert_eq(s.failure, f, "the failure passes untouched");
    cr_assert_eq(timers(r), 0);
    cr_assert_eq(weft_clock_advance(r, 15), 0);
    cr_assert_not(weft_deferred_called(inner));
    weft_deferred_unref(d);
    weft_deferred_unref(inner);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, timed_out)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    cr_assert_eq(weft_clock_advance(r, 9.5), 0);
    cr_assert_not(weft_deferred_called(d));
    cr_assert_eq(weft_clock_advance(r, 0.5), 0);
    cr_assert(weft_deferred_called(d));
    weft_failure *f = weft_result_failure(now(d));
    cr_assert_not_null(f);
    cr_assert_eq(weft_failure_code(f), WEFT_ETIMEDOUT);
    cr_assert_not_null(weft_failure_cause(f));
    cr_assert_eq(weft_failure_code(weft_failure_cause(f)), WEFT_ECANCELED);
    cr_assert_not_null(strstr(weft_failure_message(f), "10"), "%s", weft_failure_message(f));
    cr_assert_eq(timers(r), 0);
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, timed_out_canceller_callbacks)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    static int cancelled_value = 5;
    weft_deferred_set_canceller(d, callback_canceller, &cancelled_value);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    cr_assert_eq(weft_clock_advance(r, 15), 0);
    cr_assert_eq(canceller_calls, 1);
    cr_assert_eq(now(d).value, &cancelled_value, "the canceller's value stands");
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, timed_out_canceller_errbacks)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred_set_canceller(d, errback_canceller, NULL);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    cr_assert_eq(weft_clock_advance(r, 15), 0);
    cr_assert_eq(now_code(d), WEFT_EFAILED, "only a cancellation becomes a timeout");
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, cancel_before_timeout_is_not_converted)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    weft_deferred *inner = weft_deferred_new(r);
    weft_deferred_set_canceller(inner, must_not_cancel, NULL);
    seen s = {0};
    add(d, NULL, record, &s);
    add(d, NULL, return_deferred, inner);
    weft_deferred_cancel(d);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(s.code, WEFT_ECANCELED, "the user's cancellation stays a cancellation");
    cr_assert_eq(timers(r), 0);
    cr_assert_eq(weft_clock_advance(r, 15), 0);
    cr_assert_not(weft_deferred_called(inner), "not cancelled again by the timeout");
    weft_deferred_unref(d);
    weft_deferred_unref(inner);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, errback_added_before_timeout)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    seen s = {0};
    add(d, NULL, record, &s);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    cr_assert_eq(weft_clock_advance(r, 15), 0);
    cr_assert_eq(s.code, WEFT_ECANCELED, "the earlier errback sees the cancellation");
    cr_assert_eq(now_code(d), WEFT_ETIMEDOUT);
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, errback_added_before_timeout_suppresses_cancellation)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    seen s = {0};
    add(d, NULL, record_consume, &s);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    cr_assert_eq(weft_clock_advance(r, 15), 0);
    cr_assert_eq(s.code, WEFT_ECANCELED);
    cr_assert_not(weft_failed(now(d)), "recovered before the timeout step");
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, callback_added_to_canceller_before_timeout)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    static int success = 3;
    weft_deferred_set_canceller(d, callback_canceller, &success);
    seen s = {0};
    add(d, record, NULL, &s);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    cr_assert_eq(weft_clock_advance(r, 15), 0);
    cr_assert_eq(s.value, &success);
    cr_assert_eq(now(d).value, &success);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, timeout_of_a_deferred_destroyed_unfired)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    cr_assert_eq(timers(r), 1);
    weft_deferred_unref(d);
    cr_assert_eq(timers(r), 0, "the timer must not outlive d");
    cr_assert_eq(weft_clock_advance(r, 15), 0);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, timeout_on_an_already_fired_deferred)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_succeed(r, box(1), box_free);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    cr_assert_eq(timers(r), 0);
    cr_assert_eq(unbox(now(d)), 1);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, timeout_nan_is_einval)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_deferred_add_timeout(d, 0.0 / 0.0), WEFT_EINVAL);
    cr_assert_eq(timers(r), 0);
    cr_assert_eq(weft_clock_advance(r, 100), 0);
    cr_assert_not(weft_deferred_called(d));
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, timeout_cancels_what_the_deferred_waits_on)
{
    /* d fired, but its chain waits on `inner` before reaching the timeout
     * step: the timeout cancels d, which cancels inner. */
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred *inner = weft_deferred_new(r);
    weft_deferred_set_canceller(inner, count_canceller, NULL);
    add(d, return_deferred, NULL, inner);
    cr_assert_eq(weft_deferred_add_timeout(d, 10), 0);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_eq(timers(r), 1);
    cr_assert_eq(weft_clock_advance(r, 10), 0);
    cr_assert_eq(canceller_calls, 1);
    cr_assert_eq(canceller_saw, inner);
    cr_assert_eq(now_code(d), WEFT_ETIMEDOUT);
    handle(d);
    weft_deferred_unref(d);
    weft_deferred_unref(inner);
    weft_reactor_free(r);
}

/* ---- defer_later ---- */

static int later_calls;

static weft_result later_value(void *arg)
{
    later_calls++;
    return weft_ok(box((int)(intptr_t)arg), box_free);
}

static weft_result later_failure(void *arg)
{
    (void)arg;
    later_calls++;
    return weft_err_new(WEFT_EFAILED, "test exception");
}

static weft_result later_deferred(void *arg)
{
    later_calls++;
    return weft_chain(weft_deferred_ref(arg));
}

WEFT_TEST(deferred, defer_later_fires_at_the_right_time)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_defer_later(r, 3, later_value, (void *)(intptr_t)99);
    cr_assert_not_null(d);
    cr_assert_eq(weft_deferred_reactor(d), r);
    cr_assert_eq(timers(r), 1);
    cr_assert_eq(weft_clock_advance(r, 2), 0);
    cr_assert_eq(later_calls, 0);
    cr_assert_not(weft_deferred_called(d));
    cr_assert_eq(weft_clock_advance(r, 1), 0);
    cr_assert_eq(later_calls, 1);
    cr_assert_eq(unbox(now(d)), 99);
    cr_assert_eq(timers(r), 0);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, defer_later_errback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_defer_later(r, 1, later_failure, NULL);
    cr_assert_eq(weft_clock_advance(r, 1), 0);
    cr_assert_eq(now_code(d), WEFT_EFAILED);
    cr_assert_str_eq(weft_failure_message(weft_result_failure(now(d))), "test exception");
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, defer_later_cancel)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_defer_later(r, 1, later_value, NULL);
    weft_deferred_cancel(d);
    cr_assert_eq(timers(r), 0, "no calls outstanding");
    cr_assert_eq(now_code(d), WEFT_ECANCELED);
    cr_assert_eq(weft_clock_advance(r, 5), 0);
    cr_assert_eq(later_calls, 0, "the call did not happen");
    handle(d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, defer_later_no_callback)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_defer_later(r, 2.0, NULL, NULL);
    cr_assert_not(weft_deferred_peek(d, NULL));
    cr_assert_eq(weft_clock_advance(r, 2.0), 0);
    weft_result res = now(d);
    cr_assert_not(weft_failed(res));
    cr_assert_null(res.value);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, defer_later_fn_returning_a_deferred)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *inner = weft_deferred_new(r);
    weft_deferred *d = weft_defer_later(r, 1, later_deferred, inner);
    cr_assert_eq(weft_clock_advance(r, 1), 0);
    cr_assert_eq(later_calls, 1);
    cr_assert(weft_deferred_called(d));
    cr_assert_not(weft_deferred_peek(d, NULL), "waits on fn's Deferred");
    cr_assert_eq(weft_deferred_callback(inner, box(4), box_free), 0);
    cr_assert_eq(unbox(now(d)), 4);
    weft_deferred_unref(d);
    weft_deferred_unref(inner);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, defer_later_cancel_while_waiting_on_fn_deferred)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *inner = weft_deferred_new(r);
    weft_deferred_set_canceller(inner, count_canceller, NULL);
    weft_deferred *d = weft_defer_later(r, 1, later_deferred, inner);
    cr_assert_eq(weft_clock_advance(r, 1), 0);
    weft_deferred_cancel(d);
    cr_assert_eq(canceller_calls, 1);
    cr_assert_eq(canceller_saw, inner);
    cr_assert_eq(now_code(d), WEFT_ECANCELED);
    handle(d);
    weft_deferred_unref(d);
    weft_deferred_unref(inner);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, defer_later_runs_with_no_reference_held)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_defer_later(r, 1, later_value, (void *)(intptr_t)1);
    cr_assert_eq(weft_deferred_add_callback(d, show, "later"), 0);
    weft_deferred_unref(d);
    cr_assert_eq(weft_clock_advance(r, 1), 0);
    cr_assert_eq(later_calls, 1);
    cr_assert_str_eq(trace, "later=1,");
    cr_assert_eq(boxes_freed, 1, "and the Deferred was freed after");
    weft_reactor_free(r);
}

WEFT_TEST(deferred, defer_later_cancel_after_firing_does_nothing)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_defer_later(r, 1, later_value, (void *)(intptr_t)2);
    cr_assert_eq(weft_clock_advance(r, 1), 0);
    weft_deferred_cancel(d);
    cr_assert_eq(unbox(now(d)), 2);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, defer_later_order)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *a = weft_defer_later(r, 2, NULL, NULL);
    weft_deferred *b = weft_defer_later(r, 1, NULL, NULL);
    weft_deferred *c = weft_defer_later(r, 0, NULL, NULL);
    add(a, step, NULL, "a");
    add(b, step, NULL, "b");
    add(c, step, NULL, "c");
    cr_assert_str_eq(trace, "", "even a zero delay waits for the clock");
    cr_assert_eq(weft_clock_advance(r, 0), 0);
    cr_assert_str_eq(trace, "c,");
    cr_assert_eq(weft_clock_advance(r, 5), 0);
    cr_assert_str_eq(trace, "c,b,a,");
    weft_deferred_unref(a);
    weft_deferred_unref(b);
    weft_deferred_unref(c);
    weft_reactor_free(r);
}

/* ---- weft_reactor_run_until ---- */

static void fire_soon(void *arg)
{
    cr_assert_eq(weft_deferred_callback(arg, box(21), box_free), 0);
}

WEFT_TEST(deferred, run_until_on_a_real_reactor)
{
    weft_reactor *r = weft_test_reactor();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_reactor_call_soon(r, fire_soon, d), 0);
    cr_assert_eq(weft_reactor_run_until(r, d, -1), 0);
    cr_assert_eq(unbox(now(d)), 21);
    weft_deferred_unref(d);

    /* Through a timer due at once. */
    d = weft_deferred_new(r);
    cr_assert_eq(weft_call_later(r, 0, fire_soon, d, NULL), 0);
    cr_assert_eq(weft_reactor_run_until(r, d, 30), 0);
    cr_assert_eq(unbox(now(d)), 21);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, run_until_already_fired)
{
    weft_reactor *r = weft_test_reactor();
    weft_deferred *d = weft_succeed(r, NULL, NULL);
    cr_assert_eq(weft_reactor_run_until(r, d, 0), 0);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, run_until_times_out)
{
    weft_reactor *r = weft_test_reactor();
    weft_deferred *d = weft_deferred_new(r);
    cr_assert_eq(weft_reactor_run_until(r, d, 0), WEFT_ETIMEDOUT);
    cr_assert_not(weft_deferred_called(d));
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, run_until_waits_for_a_chain)
{
    /* Fired, but waiting on another Deferred: run_until keeps going until
     * the chain has its result. */
    weft_reactor *r = weft_test_reactor();
    weft_deferred *d = weft_deferred_new(r);
    weft_deferred *inner = weft_deferred_new(r);
    add(d, return_deferred, NULL, inner);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_eq(weft_reactor_call_soon(r, fire_soon, inner), 0);
    cr_assert_eq(weft_reactor_run_until(r, d, -1), 0);
    cr_assert_eq(unbox(now(d)), 21);
    weft_deferred_unref(d);
    weft_deferred_unref(inner);
    weft_reactor_free(r);
}

/* ---- out of memory ---- */

/* Each scenario runs with allocation 1, 2, ... failing in turn, on a reactor
 * made beforehand; it must see a clean error (NULL, WEFT_ENOMEM or a failure
 * with WEFT_ENOMEM) and free everything it made. */
typedef struct oom_ctx {
    weft_reactor *r;
    size_t enomem_seen; /* runs where an error surfaced */
    size_t ok_seen;     /* runs that ended with the right value */
} oom_ctx;

/* The outcome of a scenario: the expected value, or a failure caused by
 * memory running out. */
static void expect_value_or_enomem(oom_ctx *c, weft_deferred *d, int want)
{
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res), "the chain must have settled");
    if (weft_failed(res)) {
        cr_assert_not_null(weft_failure_find(weft_result_failure(res), WEFT_ENOMEM), "failure %s",
                           weft_failure_message(weft_result_failure(res)));
        c->enomem_seen++;
    } else {
        cr_assert_eq(unbox(res), want);
        c->ok_seen++;
    }
}

static void oom_chain_scenario(void *arg)
{
    oom_ctx *c = arg;
    weft_deferred *d = weft_deferred_new(c->r);
    if (!d) {
        c->enomem_seen++;
        return;
    }
    bool refused = false;
    for (int i = 0; i < 12; i++) {
        int err = weft_deferred_add_callback(d, add_one, NULL);
        if (err < 0) {
            cr_assert_eq(err, WEFT_ENOMEM);
            refused = true;
            break;
        }
    }
    int err = weft_deferred_add_errback(d, fail_step, "never");
    if (err < 0) {
        cr_assert_eq(err, WEFT_ENOMEM);
        refused = true;
    }
    cr_assert_eq(weft_deferred_callback(d, box(0), box_free), 0);
    if (refused) {
        c->enomem_seen++;
        cr_assert_not(weft_failed(now(d)));
    } else {
        expect_value_or_enomem(c, d, 12);
    }
    weft_deferred_unref(d);
}

WEFT_TEST(deferred, out_of_memory_adding_callbacks)
{
    oom_ctx c = {.r = weft_test_clock()};
    size_t runs = weft_test_each_alloc_failure(oom_chain_scenario, &c);
    cr_assert_gt(runs, 2);
    cr_assert_gt(c.enomem_seen, 0);
    cr_assert_eq(c.ok_seen, 1, "only the run with no failure completes");
    weft_reactor_free(c.r);
}

/* A chain of chains: ds[0] waits on ds[1], which waits on ds[2]. Each inner
 * Deferred has its inline entries full when the continuation is added, so
 * chaining needs memory: a failure there becomes the waiter's result. */
static void oom_chain_of_chains(void *arg)
{
    oom_ctx *c = arg;
    weft_deferred *ds[3] = {0};
    for (int i = 0; i < 3; i++) {
        ds[i] = weft_deferred_new(c->r);
        if (!ds[i]) {
            c->enomem_seen++;
            goto out;
        }
    }
    /* ds[0]: 4 steps + return ds[1] (grows: may fail); ds[1]: 3 steps +
     * return ds[2] (full); ds[2]: 4 steps (full). */
    for (int k = 0; k < 4; k++) {
        add(ds[0], step, NULL, "s");
        add(ds[2], step, NULL, "s");
    }
    for (int k = 0; k < 3; k++)
        add(ds[1], step, NULL, "s");
    add(ds[1], return_deferred, NULL, ds[2]);
    int err = weft_deferred_add_callback(ds[0], return_deferred, ds[1]);
    if (err < 0) {
        cr_assert_eq(err, WEFT_ENOMEM);
        c->enomem_seen++;
        goto out;
    }
    cr_assert_eq(weft_deferred_callback(ds[0], NULL, NULL), 0); /* continuation on ds[1] */
    cr_assert_eq(weft_deferred_callback(ds[1], NULL, NULL), 0); /* continuation on ds[2] */
    cr_assert_eq(weft_deferred_callback(ds[2], box(5), box_free), 0);
    expect_value_or_enomem(c, ds[0], 5);
    for (int i = 0; i < 3; i++) {
        weft_result res;
        if (weft_deferred_peek(ds[i], &res) && weft_failed(res))
            handle(ds[i]);
    }
out:
    for (int i = 0; i < 3; i++)
        weft_deferred_unref(ds[i]);
}

WEFT_TEST(deferred, out_of_memory_chaining_deferreds)
{
    oom_ctx c = {.r = weft_test_clock()};
    weft_test_log log;
    weft_test_log_capture(c.r, &log);
    size_t runs = weft_test_each_alloc_failure(oom_chain_of_chains, &c);
    cr_assert_gt(runs, 3);
    cr_assert_gt(c.enomem_seen, 0);
    cr_assert_eq(c.ok_seen, 1);
    weft_reactor_free(c.r);
}

static void oom_helpers(void *arg)
{
    oom_ctx *c = arg;
    /* succeed / fail / maybe_deferred free what they were given on failure
     * (the leak check proves it). */
    weft_deferred *a = weft_succeed(c->r, box(1), box_free);
    weft_deferred *b = weft_fail(c->r, weft_failure_new(WEFT_EFAILED, "f"));
    weft_deferred *m = weft_maybe_deferred(c->r, give_value, (void *)(intptr_t)3);
    weft_deferred *g = weft_maybe_deferred(c->r, give_failure, "g");
    if (a)
        cr_assert_eq(unbox(now(a)), 1);
    if (b)
        cr_assert(weft_failed(now(b)));
    if (m)
        cr_assert_eq(unbox(now(m)), 3);
    if (g)
        cr_assert(weft_failed(now(g)));
    bool intact = a && b && m && g && weft_failure_check(weft_result_failure(now(b)), WEFT_EFAILED) &&
                  weft_failure_check(weft_result_failure(now(g)), WEFT_EINVAL);
    if (intact)
        c->ok_seen++;
    else
        c->enomem_seen++;
    if (b)
        handle(b);
    if (g)
        handle(g);
    weft_deferred_unref(a);
    weft_deferred_unref(b);
    weft_deferred_unref(m);
    weft_deferred_unref(g);
}

WEFT_TEST(deferred, out_of_memory_in_helpers)
{
    oom_ctx c = {.r = weft_test_clock()};
    weft_test_log log;
    weft_test_log_capture(c.r, &log);
    size_t runs = weft_test_each_alloc_failure(oom_helpers, &c);
    cr_assert_gt(runs, 4);
    cr_assert_eq(c.ok_seen, 1);
    weft_reactor_free(c.r);
}

/* Timers: defer_later and add_timeout on the fake clock, then cancel one and
 * let the other time out. */
static void oom_timers(void *arg)
{
    oom_ctx *c = arg;
    weft_deferred *later = weft_defer_later(c->r, 1, later_value, (void *)(intptr_t)8);
    weft_deferred *cancelled = weft_defer_later(c->r, 1, later_value, (void *)(intptr_t)9);
    weft_deferred *slow = weft_deferred_new(c->r);
    int terr = slow ? weft_deferred_add_timeout(slow, 0.5) : WEFT_ENOMEM;
    if (slow && terr < 0)
        cr_assert_eq(terr, WEFT_ENOMEM);
    if (cancelled)
        weft_deferred_cancel(cancelled);
    cr_assert_eq(weft_clock_advance(c->r, 1), 0);
    cr_assert_eq(timers(c->r), 0, "nothing left behind");

    if (later)
        cr_assert_eq(unbox(now(later)), 8);
    if (cancelled) {
        /* The cancellation's failure may itself be the out-of-memory one. */
        int code = now_code(cancelled);
        cr_assert(code == WEFT_ECANCELED || code == WEFT_ENOMEM, "%s", weft_err_name(code));
        handle(cancelled);
    }
    if (slow && terr == 0) {
        weft_failure *f = weft_result_failure(now(slow));
        cr_assert_not_null(f);
        /* Timed out; the wrapper itself may have been the static
         * out-of-memory failure. */
        cr_assert(weft_failure_check(f, WEFT_ETIMEDOUT) || weft_failure_check(f, WEFT_ENOMEM));
        handle(slow);
    }
    if (later && cancelled && slow && terr == 0)
        c->ok_seen++;
    else
        c->enomem_seen++;
    weft_deferred_unref(later);
    weft_deferred_unref(cancelled);
    weft_deferred_unref(slow);
}

WEFT_TEST(deferred, out_of_memory_with_timers)
{
    oom_ctx c = {.r = weft_test_clock()};
    weft_test_log log;
    weft_test_log_capture(c.r, &log);
    /* Warm the reactor's timer heap once so the pass also covers the
     * scenario's own allocations rather than only the heap's first growth. */
    size_t runs = weft_test_each_alloc_failure(oom_timers, &c);
    cr_assert_gt(runs, 4);
    cr_assert_gt(c.enomem_seen, 0);
    cr_assert_geq(c.ok_seen, 1);
    weft_reactor_free(c.r);
}

/* Creating the reactor inside the scenario too. */
static void oom_with_reactor(void *arg)
{
    oom_ctx *c = arg;
    weft_reactor *r = NULL;
    int err = weft_clock_new(&r);
    if (err < 0) {
        cr_assert_eq(err, WEFT_ENOMEM);
        c->enomem_seen++;
        return;
    }
    weft_deferred *d = weft_defer_later(r, 1, later_value, (void *)(intptr_t)4);
    if (d) {
        cr_assert_eq(weft_clock_advance(r, 1), 0);
        cr_assert_eq(unbox(now(d)), 4);
        c->ok_seen++;
    } else {
        c->enomem_seen++;
    }
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(deferred, out_of_memory_creating_the_reactor)
{
    oom_ctx c = {0};
    size_t runs = weft_test_each_alloc_failure(oom_with_reactor, &c);
    cr_assert_gt(runs, 2);
    cr_assert_gt(c.enomem_seen, 0);
    cr_assert_geq(c.ok_seen, 1);
}

WEFT_TEST(deferred, defer_later_fired_early_cancels_its_timer)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_defer_later(r, 5, NULL, NULL);
    cr_assert_eq(weft_clock_calls(r, NULL, 0), 1);
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    cr_assert_eq(weft_clock_calls(r, NULL, 0), 0, "the timer went with the early firing");
    cr_assert_eq(weft_clock_advance(r, 10), 0); /* nothing fires on freed memory */
    weft_deferred_unref(d);
    weft_reactor_free(r);
}
