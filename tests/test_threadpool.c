/* SPDX-License-Identifier: MIT */
/* The thread pool: results and failures back on the reactor, thousands of
 * jobs, the queue bound, cancelling queued jobs, shutdown waiting for jobs. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static weft_result square(void *arg)
{
    intptr_t n = (intptr_t)arg;
    return weft_ok((void *)(n * n), NULL);
}

static weft_result refuse(void *arg)
{
    (void)arg;
    return weft_err_new(WEFT_EFAILED, "refused in a thread");
}

/*
 * This suite is linked with -Wl,--wrap=pthread_create (tests/CMakeLists.txt):
 * the threads weft starts begin here, so a test can see a worker's signal
 * mask at its first instruction, before any line of weft's own runs on it.
 */
int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

typedef struct thread_start {
    void *(*fn)(void *);
    void *arg;
} thread_start;

static pthread_mutex_t first_lock = PTHREAD_MUTEX_INITIALIZER;
static sigset_t first_mask; /* the last started thread's, at its start */

static void *started(void *arg)
{
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    pthread_mutex_lock(&first_lock);
    first_mask = mask;
    pthread_mutex_unlock(&first_lock);
    thread_start s = *(thread_start *)arg;
    free(arg);
    return s.fn(s.arg);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    thread_start *s = malloc(sizeof *s);
    if (!s)
        return EAGAIN;
    *s = (thread_start){fn, arg};
    int err = __real_pthread_create(t, attr, started, s);
    if (err)
        free(s);
    return err;
}

/* A signal arriving as a worker starts must not run a handler on it: the
 * worker blocked signals only once it was running, after the window in
 * which the kernel could pick it for a process-directed signal. */
WEFT_TEST(threadpool, workers_start_with_signals_blocked)
{
    sigset_t usr1, before, after;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    weft_reactor *r = weft_test_reactor();
    weft_deferred *d = weft_defer_to_thread(r, square, (void *)3);
    cr_assert_not_null(d);
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    for (int sig = 1; sig < 32; sig++)
        cr_assert_eq(sigismember(&after, sig), sigismember(&before, sig), "the caller's mask is as it was (signal %d)", sig);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGWINCH};
    pthread_mutex_lock(&first_lock);
    sigset_t first = first_mask;
    pthread_mutex_unlock(&first_lock);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        cr_assert(sigismember(&first, sigs[i]), "signal %d blocked from the worker's first instruction", sigs[i]);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(threadpool, results_and_failures_come_back)
{
    weft_reactor *r = weft_test_reactor();
    weft_deferred *a = weft_defer_to_thread(r, square, (void *)12);
    weft_deferred *b = weft_defer_to_thread(r, refuse, NULL);
    cr_assert_eq(weft_reactor_run_until(r, a, 10), 0);
    cr_assert_eq(weft_reactor_run_until(r, b, 10), 0);
    weft_result ra, rb;
    cr_assert(weft_deferred_peek(a, &ra));
    cr_assert_eq((intptr_t)ra.value, 144);
    cr_assert_eq(weft_deferred_take(b, &rb), 0);
    cr_assert_str_eq(weft_failure_message(weft_result_failure(rb)), "refused in a thread");
    weft_result_free(rb);
    weft_deferred_unref(a);
    weft_deferred_unref(b);
    weft_reactor_free(r);
}

WEFT_TEST(threadpool, thousands_of_jobs, .timeout = 120)
{
    weft_reactor *r = weft_test_reactor();
    weft_threadpool_options o = {.min_threads = 2, .max_threads = 8, .queue_limit = 10000};
    cr_assert_eq(weft_threadpool_configure(r, &o), 0);
    enum { N = 5000 };
    weft_deferred **ds = malloc(N * sizeof *ds);
    for (intptr_t i = 0; i < N; i++)
        ds[i] = weft_defer_to_thread(r, square, (void *)i);
    weft_deferred *all = weft_gather(r, ds, N, false);
    cr_assert_eq(weft_reactor_run_until(r, all, 100), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(all, &res));
    cr_assert(!weft_failed(res));
    weft_result_list *l = res.value;
    for (intptr_t i = 0; i < N; i++)
        cr_assert_eq((intptr_t)l->items[i].value, i * i);
    weft_threadpool_stats s = weft_threadpool_stats_of(r);
    cr_assert_leq(s.threads, 8);
    cr_assert_geq(s.threads, 2);
    for (int i = 0; i < N; i++)
        weft_deferred_unref(ds[i]);
    free(ds);
    weft_deferred_unref(all);
    weft_reactor_free(r);
}

typedef struct gate {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool open;
    int ran;
} gate;

static weft_result wait_at_gate(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->m);
    g->ran++;
    while (!g->open)
        pthread_cond_wait(&g->c, &g->m);
    pthread_mutex_unlock(&g->m);
    return weft_none();
}

static void open_gate(gate *g)
{
    pthread_mutex_lock(&g->m);
    g->open = true;
    pthread_cond_broadcast(&g->c);
    pthread_mutex_unlock(&g->m);
}

static int ran(gate *g)
{
    pthread_mutex_lock(&g->m);
    int n = g->ran;
    pthread_mutex_unlock(&g->m);
    return n;
}

WEFT_TEST(threadpool, queue_bound_and_cancel, .timeout = 60)
{
    weft_reactor *r = weft_test_reactor();
    weft_threadpool_options o = {.max_threads = 1, .queue_limit = 2};
    cr_assert_eq(weft_threadpool_configure(r, &o), 0);
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
    weft_deferred *running = weft_defer_to_thread(r, wait_at_gate, &g);
    while (ran(&g) == 0)
        sched_yield(); /* waiting for the worker to hold the job: an event, not a time */
    weft_deferred *q1 = weft_defer_to_thread(r, wait_at_gate, &g);
    weft_deferred *q2 = weft_defer_to_thread(r, wait_at_gate, &g);
    weft_deferred *over = weft_defer_to_thread(r, wait_at_gate, &g);
    weft_result res;
    cr_assert(weft_deferred_peek(over, &res));
    cr_assert_eq(weft_failure_code(weft_result_failure(res)), WEFT_EBUSY);
    cr_assert_eq(weft_threadpool_stats_of(r).queued, 2);
    weft_deferred_cancel(q1);
    cr_assert(weft_deferred_peek(q1, &res));
    cr_assert_eq(weft_failure_code(weft_result_failure(res)), WEFT_ECANCELED);
    cr_assert_eq(weft_threadpool_stats_of(r).queued, 1);
    open_gate(&g);
    cr_assert_eq(weft_reactor_run_until(r, q2, 10), 0);
    cr_assert_eq(weft_reactor_run_until(r, running, 10), 0);
    cr_assert_eq(ran(&g), 2, "the cancelled job never ran");
    weft_deferred *list[4] = {running, q1, q2, over};
    for (int i = 0; i < 4; i++) {
        weft_result t;
        weft_deferred_take(list[i], &t);
        weft_result_free(t);
        weft_deferred_unref(list[i]);
    }
    weft_reactor_free(r);
}

static weft_result slow(void *arg)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL); /* the job is slow; nothing waits on this sleep */
    *(bool *)arg = true;
    return weft_none();
}

static void stop(void *arg)
{
    weft_reactor_stop(arg);
}

WEFT_TEST(threadpool, shutdown_waits_for_running_jobs, .timeout = 60)
{
    weft_reactor *r = weft_test_reactor();
    bool finished = false;
    weft_deferred *d = weft_defer_to_thread(r, slow, &finished);
    cr_assert_eq(weft_reactor_call_soon(r, stop, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert(finished, "run returned only after the job");
    cr_assert(weft_deferred_called(d));
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(threadpool, bad_configuration)
{
    weft_reactor *r = weft_test_reactor();
    weft_threadpool_options o = {.min_threads = 5, .max_threads = 2};
    cr_assert_eq(weft_threadpool_configure(r, &o), WEFT_EINVAL);
    weft_reactor_free(r);
}
