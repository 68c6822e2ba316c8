/* SPDX-License-Identifier: MIT */
/*
 * DeferredLock and DeferredSemaphore, after OtherPrimitivesTests in Twisted's
 * twisted/test/test_defer.py (testLock, testSemaphore, the cancel cases and
 * test_semaphoreInvalidTokens), plus weft's own edges and out-of-memory runs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ---- helpers ---- */

static int counter;

static weft_result incr(void *arg, weft_result r)
{
    (void)arg;
    counter++;
    return r;
}

typedef struct seen {
    int calls;
    bool failed;
    int code;
    void *value;
} seen;

static weft_result record(void *arg, weft_result r)
{
    seen *s = arg;
    s->calls++;
    s->failed = weft_failed(r);
    s->code = s->failed ? weft_failure_code(weft_result_failure(r)) : 0;
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

static void must_not_errback_check(weft_deferred *d)
{
    seen s = {0};
    cr_assert_eq(weft_deferred_add_errback(d, record, &s), 0);
    cr_assert_eq(s.calls, 0, "unexpected errback");
}

static int failure_code(weft_deferred *d)
{
    weft_result r;
    cr_assert(weft_deferred_peek(d, &r), "no result");
    cr_assert(weft_failed(r), "expected a failure");
    return weft_failure_code(weft_result_failure(r));
}

/* Acquires and counts the acquisition when it happens. */
static void acquire_incr(weft_semaphore *s)
{
    weft_deferred *d = weft_semaphore_acquire(s);
    cr_assert_not_null(d);
    cr_assert_eq(weft_deferred_add_callback(d, incr, NULL), 0);
    weft_deferred_unref(d);
}

/* run's function: records its argument, returns what `helper_return` says. */
static void *helper_arg;
static weft_deferred *helper_deferred; /* returned when set */
static int helper_calls;

static weft_result helper(void *arg)
{
    helper_calls++;
    helper_arg = arg;
    if (helper_deferred)
        return weft_chain(weft_deferred_ref(helper_deferred));
    return weft_ok(arg, NULL);
}

static weft_result helper_fails(void *arg)
{
    (void)arg;
    helper_calls++;
    return weft_err_new(WEFT_EFAILED, "helper failed");
}

/* ---- DeferredLock ---- */

WEFT_TEST(semaphore, lock)
{
    weft_reactor *r = weft_test_clock();
    weft_lock *lock = weft_lock_new(r);
    cr_assert_not_null(lock);
    cr_assert_not(weft_lock_locked(lock));

    acquire_incr(lock);
    cr_assert(weft_lock_locked(lock));
    cr_assert_eq(counter, 1);

    acquire_incr(lock);
    cr_assert(weft_lock_locked(lock));
    cr_assert_eq(counter, 1, "the second acquire waits");
    cr_assert_eq(weft_semaphore_waiting(lock), 1);

    cr_assert_eq(weft_lock_release(lock), 0);
    cr_assert(weft_lock_locked(lock), "handed straight to the waiter");
    cr_assert_eq(counter, 2);
    cr_assert_eq(weft_semaphore_waiting(lock), 0);

    cr_assert_eq(weft_lock_release(lock), 0);
    cr_assert_not(weft_lock_locked(lock));
    cr_assert_eq(counter, 2);

    /* run with a function returning a Deferred. */
    static int first_unique, second_unique;
    weft_deferred *control = weft_deferred_new(r);
    helper_deferred = control;
    weft_deferred *result = weft_lock_run(lock, helper, &first_unique);
    cr_assert_not_null(result);
    cr_assert(weft_lock_locked(lock));
    cr_assert_eq(helper_arg, &first_unique);
    seen res = {0};
    cr_assert_eq(weft_deferred_add_callback(result, record, &res), 0);

    acquire_incr(lock);
    cr_assert(weft_lock_locked(lock));
    cr_assert_eq(counter, 2);

    cr_assert_eq(weft_deferred_callback(control, &second_unique, NULL), 0);
    cr_assert_eq(res.calls, 1);
    cr_assert_eq(res.value, &second_unique, "run's Deferred has the function's result");
    cr_assert(weft_lock_locked(lock), "released by run, taken by the waiter");
    cr_assert_eq(counter, 3);

    /* A waiting acquire, cancelled. */
    weft_deferred *d = weft_lock_acquire(lock);
    seen both = {0};
    cr_assert_eq(weft_deferred_add_both(d, consume, &both), 0);
    weft_deferred_cancel(d);
    cr_assert_eq(both.calls, 1);
    cr_assert(both.failed);
    cr_assert_eq(both.code, WEFT_ECANCELED);
    cr_assert_eq(weft_semaphore_waiting(lock), 0, "withdrawn");
    weft_deferred_unref(d);

    cr_assert_eq(weft_lock_release(lock), 0);
    cr_assert_not(weft_lock_locked(lock), "the cancelled acquire took no token");

    weft_deferred_unref(result);
    weft_deferred_unref(control);
    weft_lock_free(lock);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, cancel_lock_after_acquired)
{
    weft_reactor *r = weft_test_clock();
    weft_lock *lock = weft_lock_new(r);
    weft_deferred *d = weft_lock_acquire(lock);
    seen s = {0};
    cr_assert_eq(weft_deferred_add_errback(d, record, &s), 0);
    weft_deferred_cancel(d);
    cr_assert_eq(s.calls, 0, "cancelling an acquired lock has no effect");
    cr_assert(weft_lock_locked(lock));
    weft_deferred_unref(d);
    cr_assert_eq(weft_lock_release(lock), 0);
    weft_lock_free(lock);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, cancel_lock_before_acquired)
{
    weft_reactor *r = weft_test_clock();
    weft_lock *lock = weft_lock_new(r);
    weft_deferred *first = weft_lock_acquire(lock);
    weft_deferred *d = weft_lock_acquire(lock);
    cr_assert_not(weft_deferred_called(d));
    weft_deferred_cancel(d);
    cr_assert_eq(failure_code(d), WEFT_ECANCELED);
    handle(d);
    weft_deferred_unref(d);
    weft_deferred_unref(first);
    cr_assert_eq(weft_lock_release(lock), 0);
    cr_assert_not(weft_lock_locked(lock));
    weft_lock_free(lock);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, lock_release_when_unlocked_is_einval)
{
    weft_reactor *r = weft_test_clock();
    weft_lock *lock = weft_lock_new(r);
    cr_assert_eq(weft_lock_release(lock), WEFT_EINVAL);
    cr_assert_not(weft_lock_locked(lock));
    weft_lock_free(lock);
    weft_reactor_free(r);
}

/* ---- DeferredSemaphore ---- */

WEFT_TEST(semaphore, semaphore)
{
    enum { N = 13 };
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, N);
    cr_assert_not_null(sem);
    cr_assert_eq(weft_semaphore_tokens(sem), N);

    weft_deferred *control = weft_deferred_new(r);
    helper_deferred = control;
    static int unique;
    weft_deferred *result = weft_semaphore_run(sem, helper, &unique);
    seen res = {0};
    cr_assert_eq(weft_deferred_add_callback(result, record, &res), 0);
    cr_assert_eq(weft_deferred_add_callback(result, incr, NULL), 0);
    cr_assert_eq(res.calls, 0);
    cr_assert_eq(helper_arg, &unique);
    cr_assert_eq(weft_semaphore_tokens(sem), N - 1, "run holds a token");
    cr_assert_eq(weft_deferred_callback(control, NULL, NULL), 0);
    cr_assert_eq(res.calls, 1);
    cr_assert_null(res.value);
    cr_assert_eq(counter, 1);
    cr_assert_eq(weft_semaphore_tokens(sem), N, "released once the result settled");
    weft_deferred_unref(result);
    weft_deferred_unref(control);
    helper_deferred = NULL;

    counter = 0;
    for (int i = 1; i <= N; i++) {
        acquire_incr(sem);
        cr_assert_eq(counter, i);
        cr_assert_eq(weft_semaphore_tokens(sem), (unsigned)(N - i));
    }

    /* One too many: it waits, and cancelling it errbacks. */
    weft_deferred *d = weft_semaphore_acquire(sem);
    seen fail = {0}, succeed = {0};
    cr_assert_eq(weft_deferred_add_callbacks(d, record, NULL, &fail), 0);
    cr_assert_eq(weft_deferred_add_errback(d, consume, &succeed), 0);
    cr_assert_eq(weft_semaphore_waiting(sem), 1);
    weft_deferred_cancel(d);
    cr_assert_eq(fail.calls, 0);
    cr_assert_eq(succeed.calls, 1);
    cr_assert_eq(succeed.code, WEFT_ECANCELED);
    cr_assert_eq(weft_semaphore_waiting(sem), 0);
    weft_deferred_unref(d);

    acquire_incr(sem);
    cr_assert_eq(counter, N);
    cr_assert_eq(weft_semaphore_release(sem), 0);
    cr_assert_eq(counter, N + 1, "the release went to the waiter");
    cr_assert_eq(weft_semaphore_tokens(sem), 0);

    for (int i = 1; i <= N; i++) {
        cr_assert_eq(weft_semaphore_release(sem), 0);
        cr_assert_eq(counter, N + 1);
        cr_assert_eq(weft_semaphore_tokens(sem), (unsigned)i);
    }
    cr_assert_eq(weft_semaphore_release(sem), WEFT_EINVAL, "released more than acquired");
    cr_assert_eq(weft_semaphore_tokens(sem), N);
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, invalid_tokens)
{
    weft_reactor *r = weft_test_clock();
    cr_assert_null(weft_semaphore_new(r, 0));
    weft_semaphore_free(NULL);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, cancel_after_acquired)
{
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 1);
    weft_deferred *d = weft_semaphore_acquire(sem);
    weft_deferred_cancel(d);
    must_not_errback_check(d);
    cr_assert_eq(weft_semaphore_tokens(sem), 0);
    weft_deferred_unref(d);
    cr_assert_eq(weft_semaphore_release(sem), 0);
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, cancel_before_acquired)
{
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 1);
    weft_deferred *first = weft_semaphore_acquire(sem);
    weft_deferred *d = weft_semaphore_acquire(sem);
    weft_deferred_cancel(d);
    cr_assert_eq(failure_code(d), WEFT_ECANCELED);
    handle(d);
    cr_assert_eq(weft_semaphore_waiting(sem), 0);
    weft_deferred_unref(d);
    weft_deferred_unref(first);
    cr_assert_eq(weft_semaphore_release(sem), 0);
    cr_assert_eq(weft_semaphore_tokens(sem), 1);
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

static char order[64];

static weft_result mark_order(void *arg, weft_result r)
{
    size_t n = strlen(order);
    order[n] = *(const char *)arg;
    order[n + 1] = '\0';
    return r;
}

WEFT_TEST(semaphore, waiters_are_served_in_order)
{
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 2);
    weft_deferred *held[2] = {weft_semaphore_acquire(sem), weft_semaphore_acquire(sem)};
    static const char names[] = "abcde";
    weft_deferred *w[5];
    for (int i = 0; i < 5; i++) {
        w[i] = weft_semaphore_acquire(sem);
        cr_assert_eq(weft_deferred_add_callback(w[i], mark_order, (void *)&names[i]), 0);
    }
    cr_assert_eq(weft_semaphore_waiting(sem), 5);
    weft_deferred_cancel(w[1]); /* b withdraws */
    handle(w[1]);
    cr_assert_eq(weft_semaphore_waiting(sem), 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(weft_semaphore_release(sem), 0);
    cr_assert_str_eq(order, "acde");
    cr_assert_eq(weft_semaphore_waiting(sem), 0);
    cr_assert_eq(weft_semaphore_tokens(sem), 0);
    for (int i = 0; i < 5; i++)
        weft_deferred_unref(w[i]);
    weft_deferred_unref(held[0]);
    weft_deferred_unref(held[1]);
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, free_with_waiters_cancels_them)
{
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 1);
    weft_deferred *held = weft_semaphore_acquire(sem);
    weft_deferred *w[3];
    seen s[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        w[i] = weft_semaphore_acquire(sem);
        cr_assert_eq(weft_deferred_add_errback(w[i], consume, &s[i]), 0);
    }
    weft_semaphore_free(sem);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s[i].calls, 1);
        cr_assert_eq(s[i].code, WEFT_ECANCELED);
        weft_deferred_unref(w[i]);
    }
    weft_deferred_unref(held);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, free_with_waiters_nobody_holds)
{
    /* Waiters whose callers dropped their references: the semaphore's own
     * references go with it, and nothing is reported (no failure remains
     * unhandled once the caller never looked: a cancellation is logged like
     * any failure, so handle it in the chain). */
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_semaphore *sem = weft_semaphore_new(r, 1);
    weft_deferred *held = weft_semaphore_acquire(sem);
    for (int i = 0; i < 3; i++) {
        weft_deferred *w = weft_semaphore_acquire(sem);
        handle(w);
        weft_deferred_unref(w);
    }
    weft_semaphore_free(sem);
    weft_deferred_unref(held);
    cr_assert_eq(log.count, 0, "%s", log.lines[0]);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, run_sync_value)
{
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 1);
    static int v = 5;
    weft_deferred *d = weft_semaphore_run(sem, helper, &v);
    cr_assert_eq(helper_calls, 1);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert_eq(res.value, &v);
    cr_assert_eq(weft_semaphore_tokens(sem), 1, "released at once");
    weft_deferred_unref(d);
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, run_sync_failure_releases)
{
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 1);
    weft_deferred *d = weft_semaphore_run(sem, helper_fails, NULL);
    cr_assert_eq(failure_code(d), WEFT_EFAILED);
    cr_assert_eq(weft_semaphore_tokens(sem), 1);
    handle(d);
    weft_deferred_unref(d);
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, run_deferred_failure_releases)
{
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 1);
    weft_deferred *control = weft_deferred_new(r);
    helper_deferred = control;
    weft_deferred *d = weft_semaphore_run(sem, helper, NULL);
    cr_assert_eq(weft_semaphore_tokens(sem), 0);
    cr_assert_eq(weft_deferred_errback(control, weft_failure_new(WEFT_EINVAL, "async failure")), 0);
    cr_assert_eq(failure_code(d), WEFT_EINVAL);
    cr_assert_eq(weft_semaphore_tokens(sem), 1);
    handle(d);
    weft_deferred_unref(d);
    weft_deferred_unref(control);
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, run_waits_for_a_token)
{
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 1);
    weft_deferred *held = weft_semaphore_acquire(sem);
    static int v = 1;
    weft_deferred *d = weft_semaphore_run(sem, helper, &v);
    cr_assert_eq(helper_calls, 0, "not before a token is free");
    cr_assert_not(weft_deferred_called(d));
    cr_assert_eq(weft_semaphore_waiting(sem), 1);
    cr_assert_eq(weft_semaphore_release(sem), 0);
    cr_assert_eq(helper_calls, 1);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert_eq(res.value, &v);
    cr_assert_eq(weft_semaphore_tokens(sem), 1);
    weft_deferred_unref(d);
    weft_deferred_unref(held);
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, run_cancelled_while_waiting)
{
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 1);
    weft_deferred *held = weft_semaphore_acquire(sem);
    weft_deferred *d = weft_semaphore_run(sem, helper, NULL);
    weft_deferred_cancel(d);
    cr_assert_eq(failure_code(d), WEFT_ECANCELED);
    cr_assert_eq(weft_semaphore_waiting(sem), 0);
    cr_assert_eq(weft_semaphore_release(sem), 0);
    cr_assert_eq(helper_calls, 0, "the function never ran");
    cr_assert_eq(weft_semaphore_tokens(sem), 1);
    handle(d);
    weft_deferred_unref(d);
    weft_deferred_unref(held);
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

static int inner_cancels;

static void count_inner_cancel(void *arg, weft_deferred *d)
{
    (void)arg;
    (void)d;
    inner_cancels++;
}

WEFT_TEST(semaphore, run_cancelled_while_running_cancels_the_function)
{
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 1);
    weft_deferred *control = weft_deferred_new(r);
    weft_deferred_set_canceller(control, count_inner_cancel, NULL);
    helper_deferred = control;
    weft_deferred *d = weft_semaphore_run(sem, helper, NULL);
    weft_deferred_cancel(d);
    cr_assert_eq(inner_cancels, 1);
    cr_assert_eq(failure_code(d), WEFT_ECANCELED);
    cr_assert_eq(weft_semaphore_tokens(sem), 1, "released when the function's Deferred settled");
    handle(d);
    weft_deferred_unref(d);
    weft_deferred_unref(control);
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

WEFT_TEST(semaphore, run_many_with_a_limit)
{
    /* Five runs on two tokens: at most two functions run at once, the
     * others start as earlier ones finish, in order. */
    weft_reactor *r = weft_test_clock();
    weft_semaphore *sem = weft_semaphore_new(r, 2);
    weft_deferred *controls[5], *runs[5];
    for (int i = 0; i < 5; i++) {
        controls[i] = weft_deferred_new(r);
        helper_deferred = controls[i];
        runs[i] = weft_semaphore_run(sem, helper, controls[i]);
    }
    cr_assert_eq(helper_calls, 2);
    cr_assert_eq(helper_arg, controls[1]);
    cr_assert_eq(weft_semaphore_waiting(sem), 3);
    /* The later runs return their arg at once: each releases its token as
     * soon as it has it, so one finished run lets all three through. */
    helper_deferred = NULL;
    cr_assert_not(weft_deferred_called(runs[2]));
    cr_assert_eq(weft_deferred_callback(controls[0], NULL, NULL), 0);
    cr_assert_eq(helper_calls, 5);
    cr_assert_eq(helper_arg, controls[4], "started in order");
    for (int i = 2; i < 5; i++)
        cr_assert(weft_deferred_peek(runs[i], NULL), "run %d", i);
    cr_assert_eq(weft_semaphore_tokens(sem), 1, "run 1 still holds one");
    cr_assert_not(weft_deferred_peek(runs[1], NULL));
    cr_assert_eq(weft_deferred_callback(controls[1], NULL, NULL), 0);
    cr_assert_eq(weft_semaphore_tokens(sem), 2);
    for (int i = 0; i < 5; i++) {
        cr_assert(weft_deferred_peek(runs[i], NULL), "run %d", i);
        weft_deferred_unref(runs[i]);
        weft_deferred_unref(controls[i]);
    }
    weft_semaphore_free(sem);
    weft_reactor_free(r);
}

/* ---- out of memory ---- */

typedef struct oom_ctx {
    weft_reactor *r;
    size_t completed;
} oom_ctx;

static void oom_semaphore(void *arg)
{
    oom_ctx *c = arg;
    weft_semaphore *sem = weft_semaphore_new(c->r, 1);
    if (!sem)
        return;
    weft_deferred *held = weft_semaphore_acquire(sem);
    if (!held) {
        cr_assert_eq(weft_semaphore_tokens(sem), 1, "a failed acquire takes no token");
        weft_semaphore_free(sem);
        return;
    }
    static int v = 3;
    weft_deferred *waiting = weft_semaphore_acquire(sem);
    weft_deferred *run = weft_semaphore_run(sem, helper, &v);
    weft_deferred *cancelled = weft_semaphore_acquire(sem);
    size_t queued = (waiting != NULL) + (run != NULL) + (cancelled != NULL);
    cr_assert_eq(weft_semaphore_waiting(sem), queued);
    if (cancelled) {
        weft_deferred_cancel(cancelled);
        handle(cancelled);
    }
    cr_assert_eq(weft_semaphore_release(sem), 0);
    if (waiting) {
        cr_assert(weft_deferred_peek(waiting, NULL));
        cr_assert_eq(weft_semaphore_release(sem), 0);
    }
    if (run) {
        weft_result res;
        cr_assert(weft_deferred_peek(run, &res));
        if (weft_failed(res)) {
            cr_assert_eq(weft_failure_code(weft_result_failure(res)), WEFT_ENOMEM);
            handle(run);
        } else {
            cr_assert_eq(res.value, &v);
        }
    }
    cr_assert_eq(weft_semaphore_tokens(sem), 1, "every token came back");
    if (waiting && run && cancelled)
        c->completed++;
    weft_deferred_unref(held);
    weft_deferred_unref(waiting);
    weft_deferred_unref(run);
    weft_deferred_unref(cancelled);
    weft_semaphore_free(sem);
}

WEFT_TEST(semaphore, out_of_memory)
{
    oom_ctx c = {.r = weft_test_clock()};
    weft_test_log log;
    weft_test_log_capture(c.r, &log);
    size_t runs = weft_test_each_alloc_failure(oom_semaphore, &c);
    cr_assert_gt(runs, 6);
    cr_assert_geq(c.completed, 1);
    weft_reactor_free(c.r);
}

static void oom_free_with_waiters(void *arg)
{
    oom_ctx *c = arg;
    weft_semaphore *sem = weft_semaphore_new(c->r, 1);
    if (!sem)
        return;
    weft_deferred *held = weft_semaphore_acquire(sem);
    weft_deferred *w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = weft_semaphore_acquire(sem);
        if (w[i])
            handle(w[i]);
    }
    weft_semaphore_free(sem);
    for (int i = 0; i < 3; i++) {
        if (w[i]) {
            weft_result res;
            cr_assert(weft_deferred_peek(w[i], &res), "a waiter was left hanging");
        }
        weft_deferred_unref(w[i]);
    }
    weft_deferred_unref(held);
    c->completed++;
}

WEFT_TEST(semaphore, out_of_memory_free_with_waiters)
{
    oom_ctx c = {.r = weft_test_clock()};
    weft_test_log log;
    weft_test_log_capture(c.r, &log);
    size_t runs = weft_test_each_alloc_failure(oom_free_with_waiters, &c);
    cr_assert_gt(runs, 4);
    weft_reactor_free(c.r);
}
