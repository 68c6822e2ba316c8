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
#include "weft/clock.h"
#include "weft/error.h"

static void crash(void *arg);

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
    weft__stats_init(r);

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
        weft__reactor_run_posts(r);
    weft__handles_fini(r);
    while (r->posts)
        weft__reactor_run_posts(r);
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

int weft_clock_new(weft_reactor **out)
{
    weft_reactor_options o = {.fake_clock = true, .no_signal_handlers = true};
    return weft_reactor_new(&o, out);
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

/* ---- the loop ---- */

int weft_reactor_iterate(weft_reactor *r, double timeout)
{
    weft_reactor_update_time(r);
    weft__timers_run(r, false);
    weft__reactor_run_soon(r);

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
        weft__reactor_dispatch(r, &evs[i]);
    weft__reactor_run_posts(r);
    if (r->dc.active)
        weft__disconnect_step(r);
    return 0;
}

/* SIGINT and SIGTERM, unless the program handles them: a graceful stop. */
static void stop_on_signal(void *arg, int signo)
{
    weft_reactor *r = arg;
    weft_log(r->logger, WEFT_LOG_INFO, "weft.reactor", "received {signal}, shutting down",
             WEFT_LOG_STR("signal", sigabbrev_np(signo)));
    weft_reactor_stop(r);
}

int weft_reactor_run(weft_reactor *r)
{
    if (r->running)
        return WEFT_ERUNNING;
    r->running = true;
    r->stopping = r->stop_now = r->shutdown_pending = false;
    int err = 0;
    if (!r->no_signal_handlers && (err = weft__signals_default_install(r, stop_on_signal)) < 0) {
        r->running = false;
        return err;
    }
    if (r->hook.fire)
        r->hook.fire(r->hook.state, 0 /* WEFT_EVENT_STARTUP */);
    while (!r->stop_now) {
        if ((err = weft_reactor_iterate(r, -1)) < 0)
            break;
    }
    weft__signals_default_remove(r, stop_on_signal);
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
