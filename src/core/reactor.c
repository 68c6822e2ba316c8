/* SPDX-License-Identifier: MIT */
/*
 * The event loop: creation, the iteration (loop order in reactor.h), run and
 * stop, the descriptor table and call_soon. Timers, signals and calls from
 * other threads have files of their own.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reactor_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

static void run_posts(weft_reactor *r);
static void crash(void *arg);

int64_t weft__monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int weft__seconds_to_ns(double seconds, int64_t *out)
{
    if (isnan(seconds))
        return WEFT_EINVAL;
    if (seconds <= 0)
        *out = 0;
    else if (seconds > 3.15e9) /* a century; keeps now + delay far from overflow */
        *out = (int64_t)3.15e18;
    else
        *out = (int64_t)(seconds * 1e9 + 0.5); /* positive here: this rounds */
    return 0;
}

static weft_backend backend_from_env(void)
{
    const char *e = getenv("WEFT_BACKEND");
    if (!e || !*e || strcmp(e, "epoll") == 0)
        return WEFT_BACKEND_EPOLL;
    if (strcmp(e, "poll") == 0)
        return WEFT_BACKEND_POLL;
    return WEFT_BACKEND_DEFAULT; /* unknown: refused by the caller */
}

const char *weft_backend_name(weft_backend b)
{
    switch (b) {
    case WEFT_BACKEND_EPOLL:
        return "epoll";
    case WEFT_BACKEND_POLL:
        return "poll";
    default:
        return "default";
    }
}

int weft_reactor_new(const weft_reactor_options *opts, weft_reactor **out)
{
    weft_reactor_options o = opts ? *opts : (weft_reactor_options){0};
    weft_backend kind = o.backend == WEFT_BACKEND_DEFAULT ? backend_from_env() : o.backend;
    const weft__backend_ops *ops = kind == WEFT_BACKEND_EPOLL ? &weft__epoll_ops
                                   : kind == WEFT_BACKEND_POLL ? &weft__poll_ops
                                                               : NULL;
    if (!ops)
        return WEFT_EINVAL;

    weft_reactor *r = weft_calloc(1, sizeof *r);
    if (!r)
        return WEFT_ENOMEM;
    r->backend = ops;
    r->backend_fd = r->wake_fd = r->signal_fd = -1;
    r->fake_clock = o.fake_clock;
    r->no_signal_handlers = o.no_signal_handlers || o.fake_clock;
    r->shutdown_timeout = o.shutdown_timeout > 0 ? o.shutdown_timeout : 30.0;
    r->shutdown_grace = o.shutdown_grace > 0 ? o.shutdown_grace : o.shutdown_grace < 0 ? 0 : 5.0;
    weft__handles_init(r);
    r->now_ns = r->fake_clock ? 0 : weft__monotonic_ns();
    r->posts_tail = &r->posts;
    weft__signals_init(r);

    int err = WEFT_ENOMEM;
    r->logger = weft_logger_new();
    if (!r->logger)
        goto fail;
    if ((err = ops->init(r)) < 0)
        goto fail_backend;
    if ((err = weft__cft_init(r)) < 0)
        goto fail_cft;
    *out = r;
    return 0;

fail_cft:
    ops->fini(r);
    weft_free(r->fds);
fail_backend:
    weft_logger_free(r->logger);
fail:
    weft_free(r);
    return err;
}

void weft_reactor_free(weft_reactor *r)
{
    if (!r)
        return;
    /* Finish closes still in their second phase, then end what still lives
     * (connections aborted, their connection_lost and destroy run now). */
    while (r->posts)
        run_posts(r);
    weft__handles_fini(r);
    while (r->posts)
        run_posts(r);
    /* Calls that will never run give back what they hold. */
    weft__callvec_drop(&r->soon);
    weft__callvec_drop(&r->spare);
    if (r->hook.free)
        r->hook.free(r->hook.state);
    for (int i = 0; i < WEFT__EXT_COUNT; i++)
        if (r->ext[i].free)
            r->ext[i].free(r->ext[i].state);
    weft__signals_fini(r);
    weft__cft_fini(r);
    weft__timers_fini(r);
    r->backend->fini(r);
    weft_free(r->fds);
    weft_free(r->read_buf);
    weft_logger_free(r->logger);
    weft_free(r);
}

weft_backend weft_reactor_backend(const weft_reactor *r)
{
    return r->backend->kind;
}

weft_logger *weft_reactor_logger(weft_reactor *r)
{
    return r->logger;
}

double weft_reactor_now(const weft_reactor *r)
{
    return (double)r->now_ns / 1e9;
}

int64_t weft__reactor_now_ns(const weft_reactor *r)
{
    return r->now_ns;
}

void weft_reactor_update_time(weft_reactor *r)
{
    if (!r->fake_clock)
        r->now_ns = weft__monotonic_ns();
}

/* ---- descriptors ---- */

static int fd_slot(weft_reactor *r, int fd, weft__fdslot **out)
{
    if (fd < 0)
        return WEFT_EINVAL;
    if ((size_t)fd >= r->nfds) {
        size_t n = r->nfds ? r->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        weft__fdslot *s = weft_realloc(r->fds, n * sizeof *s);
        if (!s)
            return WEFT_ENOMEM;
        memset(s + r->nfds, 0, (n - r->nfds) * sizeof *s);
        for (size_t i = r->nfds; i < n; i++)
            s[i].pidx = -1;
        r->fds = s;
        r->nfds = n;
    }
    *out = &r->fds[fd];
    return 0;
}

static int watch(weft_reactor *r, int fd, unsigned dir, weft_fd_fn fn, void *arg)
{
    weft__fdslot *s;
    int err = fd_slot(r, fd, &s);
    if (err < 0)
        return err;
    unsigned interest = s->interest | dir;
    if (interest != s->interest) {
        uint32_t gen = s->interest ? s->gen : s->gen + 1;
        if ((err = r->backend->update(r, fd, s->interest, interest, gen)) < 0)
            return err;
        s->gen = gen;
        s->interest = (uint8_t)interest;
    }
    if (dir == WEFT_READABLE) {
        s->rfn = fn;
        s->rarg = arg;
    } else {
        s->wfn = fn;
        s->warg = arg;
    }
    return 0;
}

static int unwatch(weft_reactor *r, int fd, unsigned dir)
{
    if (fd < 0 || (size_t)fd >= r->nfds || !(r->fds[fd].interest & dir))
        return WEFT_ENOENT;
    weft__fdslot *s = &r->fds[fd];
    unsigned interest = s->interest & ~dir;
    /* Forget the callback even if the backend refuses, so it never runs. */
    if (dir == WEFT_READABLE)
        s->rfn = NULL;
    else
        s->wfn = NULL;
    int err = r->backend->update(r, fd, s->interest, interest, s->gen);
    s->interest = (uint8_t)interest;
    return err;
}

int weft_reactor_add_reader(weft_reactor *r, int fd, weft_fd_fn fn, void *arg)
{
    return watch(r, fd, WEFT_READABLE, fn, arg);
}

int weft_reactor_add_writer(weft_reactor *r, int fd, weft_fd_fn fn, void *arg)
{
    return watch(r, fd, WEFT_WRITABLE, fn, arg);
}

int weft_reactor_remove_reader(weft_reactor *r, int fd)
{
    return unwatch(r, fd, WEFT_READABLE);
}

int weft_reactor_remove_writer(weft_reactor *r, int fd)
{
    return unwatch(r, fd, WEFT_WRITABLE);
}

static void dispatch(weft_reactor *r, const weft__event *ev)
{
    const unsigned trouble = WEFT_HANGUP | WEFT_ERROR;
    int fd = ev->fd;
    /* Re-read the slot before each call: a callback may grow the table or
     * drop the watcher. */
    if ((size_t)fd >= r->nfds || r->fds[fd].gen != ev->gen)
        return;
    if ((ev->events & (WEFT_READABLE | trouble)) && r->fds[fd].rfn)
        r->fds[fd].rfn(r->fds[fd].rarg, fd, ev->events & ~WEFT_WRITABLE);
    if (r->fds[fd].gen != ev->gen)
        return;
    if ((ev->events & (WEFT_WRITABLE | trouble)) && r->fds[fd].wfn)
        r->fds[fd].wfn(r->fds[fd].warg, fd, ev->events & ~WEFT_READABLE);
}

/* ---- call_soon ---- */

int weft__callvec_push(weft__callvec *q, weft_call_fn fn, void *arg, weft_destroy_fn drop)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        weft__call *v = weft_realloc(q->v, cap * sizeof *v);
        if (!v)
            return WEFT_ENOMEM;
        q->v = v;
        q->cap = cap;
    }
    q->v[q->len++] = (weft__call){fn, arg, drop};
    return 0;
}

void weft__callvec_drop(weft__callvec *q)
{
    /* A drop may queue more calls; those are dropped too. */
    while (q->len) {
        weft__callvec batch = *q;
        *q = (weft__callvec){0};
        for (size_t i = 0; i < batch.len; i++)
            if (batch.v[i].drop)
                batch.v[i].drop(batch.v[i].arg);
        weft_free(batch.v);
    }
    weft_free(q->v);
    *q = (weft__callvec){0};
}

int weft_reactor_call_soon(weft_reactor *r, weft_call_fn fn, void *arg)
{
    return weft__callvec_push(&r->soon, fn, arg, NULL);
}

int weft_reactor_call_soon_full(weft_reactor *r, weft_call_fn fn, void *arg, weft_destroy_fn drop)
{
    return weft__callvec_push(&r->soon, fn, arg, drop);
}

static void run_soon(weft_reactor *r)
{
    if (r->soon.len == 0)
        return;
    /* Take the queue as it stands; calls made meanwhile go to a fresh one.
     * A nested iterate (a callback running the loop) takes its own batch. */
    weft__callvec batch = r->soon;
    r->soon = r->spare;
    r->spare = (weft__callvec){0};
    for (size_t i = 0; i < batch.len; i++)
        batch.v[i].fn(batch.v[i].arg);
    batch.len = 0;
    if (!r->spare.v)
        r->spare = batch;
    else
        weft_free(batch.v);
}

/* ---- the close step ---- */

void weft__reactor_post(weft_reactor *r, weft__post *p, weft_call_fn fn, void *arg)
{
    p->next = NULL;
    p->fn = fn;
    p->arg = arg;
    *r->posts_tail = p;
    r->posts_tail = &p->next;
}

void weft__reactor_run_posts(weft_reactor *r)
{
    run_posts(r);
}

static void run_posts(weft_reactor *r)
{
    /* Posts made while these run wait for the next iteration's step. */
    weft__post *p = r->posts;
    r->posts = NULL;
    r->posts_tail = &r->posts;
    while (p) {
        weft__post *next = p->next;
        p->fn(p->arg);
        p = next;
    }
}

void *weft__reactor_read_buffer(weft_reactor *r, size_t *size)
{
    enum { READ_BUFFER = 64 * 1024 };
    if (!r->read_buf)
        r->read_buf = weft_malloc(READ_BUFFER);
    *size = READ_BUFFER;
    return r->read_buf;
}

/* ---- the loop ---- */

int weft_reactor_iterate(weft_reactor *r, double timeout)
{
    weft_reactor_update_time(r);
    weft__timers_run(r, false);
    run_soon(r);

    if (r->shutdown_pending) {
        r->shutdown_pending = false;
        /* The triggers' phases end with the disconnect step; without
         * triggers, it is the whole shutdown. */
        if (r->hook.fire)
            r->hook.fire(r->hook.state, 1 /* WEFT_EVENT_SHUTDOWN */);
        else
            weft__reactor_disconnect(r, crash, r);
    }

    int64_t wait_ns = -1;
    if (timeout >= 0 && weft__seconds_to_ns(timeout, &wait_ns) < 0)
        wait_ns = 0;
    if (!r->fake_clock && r->nheap > 0) {
        /* Only a timer's deadline needs the time after the callbacks ran. */
        weft_reactor_update_time(r);
        int64_t next = weft__timers_next(r);
        if (next >= 0 && (wait_ns < 0 || next < wait_ns))
            wait_ns = next;
    }
    if (r->soon.len || r->posts || r->shutdown_pending || r->stop_now || r->wake_now)
        wait_ns = 0;
    r->wake_now = false;

    /* On the stack, so that a callback iterating the loop itself (a nested
     * run_until) does not overwrite the batch being dispatched. */
    weft__event evs[WEFT__MAX_EVENTS];
    int n = r->backend->wait(r, wait_ns, evs, WEFT__MAX_EVENTS);
    if (n < 0)
        return n;
    weft_reactor_update_time(r);
    for (int i = 0; i < n; i++)
        dispatch(r, &evs[i]);
    run_posts(r);
    if (r->dc.active)
        weft__disconnect_step(r);
    return 0;
}

int weft_reactor_run(weft_reactor *r)
{
    if (r->running)
        return WEFT_ERUNNING;
    r->running = true;
    r->stopping = r->stop_now = r->shutdown_pending = false;
    int err = 0;
    if (!r->no_signal_handlers && (err = weft__signals_default_install(r)) < 0) {
        r->running = false;
        return err;
    }
    if (r->hook.fire)
        r->hook.fire(r->hook.state, 0 /* WEFT_EVENT_STARTUP */);
    while (!r->stop_now) {
        if ((err = weft_reactor_iterate(r, -1)) < 0)
            break;
    }
    weft__signals_default_remove(r);
    r->running = r->stopping = r->stop_now = false;
    return err;
}

int weft_reactor_stop(weft_reactor *r)
{
    if (!r->running)
        return WEFT_ENOTRUNNING;
    if (!r->stopping)
        r->stopping = r->shutdown_pending = true;
    return 0;
}

bool weft_reactor_running(const weft_reactor *r)
{
    return r->running;
}

/* ---- hooks for the layers above ---- */

void *weft__reactor_hook_state(weft_reactor *r)
{
    return r->hook.state;
}

void weft__reactor_set_hook(weft_reactor *r, const weft__reactor_hook *hook)
{
    r->hook = *hook;
}

void *weft__reactor_ext(const weft_reactor *r, int slot)
{
    return r->ext[slot].state;
}

void weft__reactor_set_ext(weft_reactor *r, int slot, void *state, weft_destroy_fn free_state)
{
    r->ext[slot].state = state;
    r->ext[slot].free = free_state;
}

void weft__reactor_wake(weft_reactor *r)
{
    r->wake_now = true;
}

void weft__reactor_crash(weft_reactor *r)
{
    r->stop_now = true;
}

static void crash(void *arg)
{
    weft__reactor_crash(arg);
}

double weft__reactor_shutdown_timeout(const weft_reactor *r)
{
    return r->shutdown_timeout;
}
