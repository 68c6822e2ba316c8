/* SPDX-License-Identifier: MIT */
/*
 * The thread pool. Jobs are nodes on an intrusive queue under one mutex;
 * workers wait on a condition variable. A finished job goes back to the
 * reactor through weft_reactor_call_from_thread and is settled there.
 * Workers are started with every signal blocked, so signals reach the
 * reactor's signalfd (or the threads the program meant them for).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "../core/internal.h"
#include "../core/list.h"
#include "waitq.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/threadpool.h"
#include "weft/trigger.h"

typedef struct pool pool;

typedef struct job {
    weft__list node;
    pool *p;
    weft_result (*fn)(void *arg);
    void *arg;
    weft_result result;
    weft_deferred *d; /* our reference, until settled */
} job;

typedef struct worker {
    pthread_t thread;
    bool exited; /* the thread has left its loop (joinable without wait) */
} worker;

struct pool {
    weft_reactor *r;
    pthread_mutex_t lock;
    pthread_cond_t work;
    weft__list queue;
    size_t queued, running, unsettled; /* unsettled: submitted, not yet delivered */
    unsigned threads, idle;
    unsigned min_threads, max_threads;
    size_t queue_limit;
    bool stopping;
    worker *workers;
    size_t nworkers, cap_workers;
    weft__waitq drained; /* shutdown waits for unsettled == 0 */
};

/* ---- on the reactor's thread ---- */

static void settle_drain(pool *p)
{
    if (p->unsettled == 0)
        weft__waitq_fire_all(&p->drained, NULL);
}

static void deliver(void *arg)
{
    job *j = arg;
    pool *p = j->p;
    weft_result res = j->result;
    if (weft_result_is_deferred(res)) {
        weft_result_free(res);
        res = weft_err_new(WEFT_EINVAL, "a thread job returned a Deferred");
    }
    weft_deferred_fire(j->d, res);
    weft_deferred_unref(j->d);
    weft_free(j);
    p->unsettled--;
    settle_drain(p);
}

/* ---- on the workers ---- */

static void *work(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->queued == 0 && !p->stopping && p->threads <= p->max_threads) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->lock);
            p->idle--;
        }
        /* Leave when stopping (queued jobs are dropped with the reactor),
         * or when the limit was lowered below the running count. */
        if (p->stopping || p->queued == 0 || p->threads > p->max_threads)
            break;
        job *j = WEFT_CONTAINER_OF(weft__list_pop_front(&p->queue), job, node);
        p->queued--;
        p->running++;
        pthread_mutex_unlock(&p->lock);
        j->result = j->fn(j->arg);
        /* Retry rather than lose a result when the call queue cannot grow. */
        while (weft_reactor_call_from_thread(p->r, deliver, j) < 0) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
        pthread_mutex_lock(&p->lock);
        p->running--;
    }
    p->threads--;
    for (size_t i = 0; i < p->nworkers; i++)
        if (pthread_equal(p->workers[i].thread, pthread_self()))
            p->workers[i].exited = true;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* With the lock held: one more worker. */
static int start_worker(pool *p)
{
    if (p->nworkers == p->cap_workers) {
        /* Reap the ones that have left before growing the array. */
        size_t k = 0;
        for (size_t i = 0; i < p->nworkers; i++) {
            if (p->workers[i].exited)
                pthread_join(p->workers[i].thread, NULL);
            else
                p->workers[k++] = p->workers[i];
        }
        p->nworkers = k;
    }
    if (p->nworkers == p->cap_workers) {
        size_t cap = p->cap_workers ? p->cap_workers * 2 : 8;
        worker *w = weft_realloc(p->workers, cap * sizeof *w);
        if (!w)
            return WEFT_ENOMEM;
        p->workers = w;
        p->cap_workers = cap;
    }
    worker *w = &p->workers[p->nworkers];
    w->exited = false;
    /* A thread starts with its creator's mask: blocked from its first
     * instruction, it is never picked for a process-directed signal. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&w->thread, NULL, work, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err)
        return -err;
    p->nworkers++;
    p->threads++;
    return 0;
}

/* ---- the pool's life ---- */

static void pool_free(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->nworkers; i++)
        pthread_join(p->workers[i].thread, NULL);
    /* Jobs never started or never delivered are dropped with the reactor. */
    while (!weft__list_empty(&p->queue))
        weft_free(WEFT_CONTAINER_OF(weft__list_pop_front(&p->queue), job, node));
    weft__waitq_drop_all(&p->drained);
    weft_free(p->workers);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    weft_free(p);
}

/* The "before shutdown" trigger: wait for the jobs. */
static weft_deferred *wait_for_jobs(void *arg)
{
    pool *p = arg;
    return p->unsettled ? weft__waitq_add(&p->drained, p->r) : NULL;
}

static pool *pool_of(weft_reactor *r)
{
    pool *p = weft__reactor_ext(r, WEFT__EXT_THREADS);
    if (p)
        return p;
    p = weft_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->r = r;
    p->max_threads = 10;
    p->queue_limit = 1024;
    weft__list_init(&p->queue);
    weft__waitq_init(&p->drained);
    if (pthread_mutex_init(&p->lock, NULL)) {
        weft_free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->work, NULL)) {
        pthread_mutex_destroy(&p->lock);
        weft_free(p);
        return NULL;
    }
    if (weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, wait_for_jobs, p, NULL) < 0) {
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->lock);
        weft_free(p);
        return NULL;
    }
    weft__reactor_set_ext(r, WEFT__EXT_THREADS, p, pool_free);
    return p;
}

int weft_threadpool_configure(weft_reactor *r, const weft_threadpool_options *o)
{
    unsigned maxt = o->max_threads ? o->max_threads : 10;
    if (o->min_threads > maxt)
        return WEFT_EINVAL;
    pool *p = pool_of(r);
    if (!p)
        return WEFT_ENOMEM;
    pthread_mutex_lock(&p->lock);
    p->min_threads = o->min_threads;
    p->max_threads = maxt;
    p->queue_limit = o->queue_limit ? o->queue_limit : 1024;
    int err = 0;
    while (!err && p->threads < p->min_threads)
        err = start_worker(p);
    pthread_cond_broadcast(&p->work); /* workers above a lowered limit leave */
    pthread_mutex_unlock(&p->lock);
    return err;
}

static void withdraw(void *arg, weft_deferred *d)
{
    job *j = arg;
    pool *p = j->p;
    pthread_mutex_lock(&p->lock);
    /* Still queued? Then no worker has it and it can go. */
    bool queued = false;
    for (weft__list *n = p->queue.next; n != &p->queue; n = n->next)
        if (n == &j->node)
            queued = true;
    if (queued) {
        weft__list_remove(&j->node);
        p->queued--;
    }
    pthread_mutex_unlock(&p->lock);
    if (!queued)
        return; /* running: cancel errbacks d now, its result is dropped later */
    weft_deferred_unref(j->d);
    weft_free(j);
    (void)d;
    p->unsettled--;
    settle_drain(p);
}

weft_deferred *weft_defer_to_thread(weft_reactor *r, weft_result (*fn)(void *arg), void *arg)
{
    pool *p = pool_of(r);
    if (!p)
        return NULL;
    job *j = weft_malloc(sizeof *j);
    weft_deferred *d = j ? weft_deferred_new(r) : NULL;
    if (!d) {
        weft_free(j);
        return NULL;
    }
    *j = (job){.p = p, .fn = fn, .arg = arg, .d = d};
    pthread_mutex_lock(&p->lock);
    int err = 0;
    if (p->queued >= p->queue_limit) {
        err = WEFT_EBUSY;
    } else if (p->idle <= p->queued && p->threads < p->max_threads) {
        err = start_worker(p);
        if (err < 0 && p->threads > 0)
            err = 0; /* the others will get to it */
    }
    if (err == 0) {
        weft__list_push_back(&p->queue, &j->node);
        p->queued++;
        p->unsettled++;
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->lock);
    if (err < 0) {
        weft_free(j);
        weft_deferred_errback(d, err == WEFT_EBUSY ? weft_failure_new(err, "thread pool queue full (%zu jobs)", p->queue_limit)
                                                   : weft_failure_new(err, "cannot start a thread: %s", weft_strerror(err)));
        return d;
    }
    weft_deferred_set_canceller(d, withdraw, j);
    return weft_deferred_ref(d);
}

weft_threadpool_stats weft_threadpool_stats_of(weft_reactor *r)
{
    weft_threadpool_stats s = {0};
    pool *p = weft__reactor_ext(r, WEFT__EXT_THREADS);
    if (!p)
        return s;
    pthread_mutex_lock(&p->lock);
    s = (weft_threadpool_stats){p->threads, p->idle, p->queued, p->running};
    pthread_mutex_unlock(&p->lock);
    return s;
}
