/* SPDX-License-Identifier: MIT */
/* The reactor: backends, descriptor watchers, call_soon, run/stop/iterate,
 * call_from_thread. Runs once per backend (WEFT_BACKEND). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

static void make_pipe(int p[2])
{
    cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void close_pipe(int p[2])
{
    close(p[0]);
    close(p[1]);
}

WEFT_TEST(reactor, backend_follows_environment)
{
    const char *want = getenv("WEFT_BACKEND");
    weft_reactor *r = weft_test_reactor();
    cr_assert_str_eq(weft_backend_name(weft_reactor_backend(r)), want ? want : "epoll");
    weft_reactor_free(r);

    weft_reactor_options o = {.backend = WEFT_BACKEND_POLL};
    cr_assert_eq(weft_reactor_new(&o, &r), 0);
    cr_assert_eq(weft_reactor_backend(r), WEFT_BACKEND_POLL);
    weft_reactor_free(r);

    setenv("WEFT_BACKEND", "kqueue", 1);
    cr_assert_eq(weft_reactor_new(NULL, &r), WEFT_EINVAL);
}

typedef struct seen {
    int calls;
    int fd;
    unsigned events;
} seen;

static void on_ready(void *arg, int fd, unsigned events)
{
    seen *s = arg;
    s->calls++;
    s->fd = fd;
    s->events = events;
}

WEFT_TEST(reactor, reader_called_when_readable)
{
    weft_reactor *r = weft_test_reactor();
    int p[2];
    make_pipe(p);
    seen s = {0};
    cr_assert_eq(weft_reactor_add_reader(r, p[0], on_ready, &s), 0);
    cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    cr_assert_eq(s.calls, 0);
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert_eq(weft_reactor_iterate(r, 5), 0);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(s.fd, p[0]);
    cr_assert(s.events & WEFT_READABLE);
    cr_assert(!(s.events & WEFT_WRITABLE));
    /* Level-triggered: still readable, called again. */
    cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    cr_assert_eq(s.calls, 2);
    cr_assert_eq(weft_reactor_remove_reader(r, p[0]), 0);
    cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    cr_assert_eq(s.calls, 2);
    cr_assert_eq(weft_reactor_remove_reader(r, p[0]), WEFT_ENOENT);
    close_pipe(p);
    weft_reactor_free(r);
}

WEFT_TEST(reactor, reader_and_writer_on_one_descriptor)
{
    weft_reactor *r = weft_test_reactor();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    seen rd = {0}, wr = {0};
    cr_assert_eq(weft_reactor_add_reader(r, sv[0], on_ready, &rd), 0);
    cr_assert_eq(weft_reactor_add_writer(r, sv[0], on_ready, &wr), 0);
    cr_assert_eq(weft_reactor_iterate(r, 5), 0);
    cr_assert_eq(rd.calls, 0);
    cr_assert_eq(wr.calls, 1);
    cr_assert(wr.events & WEFT_WRITABLE);
    cr_assert(!(wr.events & WEFT_READABLE));
    cr_assert_eq(weft_reactor_remove_writer(r, sv[0]), 0);
    cr_assert_eq(write(sv[1], "y", 1), 1);
    cr_assert_eq(weft_reactor_iterate(r, 5), 0);
    cr_assert_eq(rd.calls, 1);
    cr_assert_eq(wr.calls, 1);
    cr_assert_eq(weft_reactor_remove_reader(r, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    weft_reactor_free(r);
}

WEFT_TEST(reactor, hangup_reaches_reader)
{
    weft_reactor *r = weft_test_reactor();
    int p[2];
    make_pipe(p);
    seen s = {0};
    cr_assert_eq(weft_reactor_add_reader(r, p[0], on_ready, &s), 0);
    close(p[1]);
    cr_assert_eq(weft_reactor_iterate(r, 5), 0);
    cr_assert_eq(s.calls, 1);
    cr_assert(s.events & (WEFT_HANGUP | WEFT_READABLE));
    weft_reactor_remove_reader(r, p[0]);
    close(p[0]);
    weft_reactor_free(r);
}

WEFT_TEST(reactor, bad_descriptors)
{
    weft_reactor *r = weft_test_reactor();
    seen s = {0};
    cr_assert_eq(weft_reactor_add_reader(r, -1, on_ready, &s), WEFT_EINVAL);
    cr_assert_eq(weft_reactor_remove_writer(r, 1000), WEFT_ENOENT);
    cr_assert_eq(weft_reactor_remove_reader(r, -3), WEFT_ENOENT);
    /* epoll refuses regular files; poll takes them (always ready). */
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    int err = weft_reactor_add_reader(r, fd, on_ready, &s);
    if (weft_reactor_backend(r) == WEFT_BACKEND_EPOLL) {
        cr_assert_eq(err, -EPERM);
    } else {
        cr_assert_eq(err, 0);
        cr_assert_eq(weft_reactor_remove_reader(r, fd), 0);
    }
    close(fd);
    weft_reactor_free(r);
}

/* Two ready descriptors; whichever callback runs first removes the other,
 * which must then not be called in the same iteration. */
typedef struct pair_ctx {
    weft_reactor *r;
    int fds[2];
    int calls[2];
} pair_ctx;

static void remove_other(void *arg, int fd, unsigned events)
{
    (void)events;
    pair_ctx *c = arg;
    int me = fd == c->fds[0] ? 0 : 1;
    c->calls[me]++;
    weft_reactor_remove_reader(c->r, c->fds[1 - me]);
    weft_reactor_remove_reader(c->r, fd);
}

WEFT_TEST(reactor, removal_from_inside_a_callback)
{
    weft_reactor *r = weft_test_reactor();
    int a[2], b[2];
    make_pipe(a);
    make_pipe(b);
    pair_ctx c = {.r = r, .fds = {a[0], b[0]}};
    cr_assert_eq(write(a[1], "1", 1), 1);
    cr_assert_eq(write(b[1], "1", 1), 1);
    cr_assert_eq(weft_reactor_add_reader(r, a[0], remove_other, &c), 0);
    cr_assert_eq(weft_reactor_add_reader(r, b[0], remove_other, &c), 0);
    cr_assert_eq(weft_reactor_iterate(r, 5), 0);
    cr_assert_eq(c.calls[0] + c.calls[1], 1);
    cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    cr_assert_eq(c.calls[0] + c.calls[1], 1);
    close_pipe(a);
    close_pipe(b);
    weft_reactor_free(r);
}

/* The first callback closes the other ready pipe and opens a new one, which
 * reuses its descriptor number and is watched at once. The queued event of
 * the old pipe must not reach the new watcher. */
typedef struct reuse_ctx {
    weft_reactor *r;
    int a[2], b[2];
    int fresh[2];
    bool reused;
    int first_calls;
    seen fresh_seen;
} reuse_ctx;

static void replace_other(void *arg, int fd, unsigned events)
{
    (void)events;
    reuse_ctx *c = arg;
    c->first_calls++;
    if (c->first_calls > 1)
        return;
    int *other = fd == c->a[0] ? c->b : c->a;
    int old = other[0];
    weft_reactor_remove_reader(c->r, old);
    close(other[0]);
    close(other[1]);
    make_pipe(c->fresh);
    c->reused = c->fresh[0] == old;
    cr_assert_eq(weft_reactor_add_reader(c->r, c->fresh[0], on_ready, &c->fresh_seen), 0);
    other[0] = other[1] = -1;
    weft_reactor_remove_reader(c->r, fd);
}

WEFT_TEST(reactor, reused_descriptor_gets_no_stale_event)
{
    weft_reactor *r = weft_test_reactor();
    reuse_ctx c = {.r = r};
    make_pipe(c.a);
    make_pipe(c.b);
    cr_assert_eq(write(c.a[1], "1", 1), 1);
    cr_assert_eq(write(c.b[1], "1", 1), 1);
    cr_assert_eq(weft_reactor_add_reader(r, c.a[0], replace_other, &c), 0);
    cr_assert_eq(weft_reactor_add_reader(r, c.b[0], replace_other, &c), 0);
    cr_assert_eq(weft_reactor_iterate(r, 5), 0);
    cr_assert_eq(c.first_calls, 1);
    cr_assert(c.reused, "the test needs the descriptor number to be reused");
    cr_assert_eq(c.fresh_seen.calls, 0);
    weft_reactor_remove_reader(r, c.fresh[0]);
    close_pipe(c.fresh);
    if (c.a[0] >= 0)
        close_pipe(c.a);
    if (c.b[0] >= 0)
        close_pipe(c.b);
    weft_reactor_free(r);
}

/* ---- call_soon ---- */

typedef struct order {
    int v[16];
    int n;
} order;

typedef struct step {
    order *o;
    int id;
} step;

static void push_id(void *arg)
{
    step *s = arg;
    s->o->v[s->o->n++] = s->id;
}

WEFT_TEST(reactor, call_soon_is_fifo)
{
    weft_reactor *r = weft_test_reactor();
    order o = {0};
    step s[4] = {{&o, 1}, {&o, 2}, {&o, 3}, {&o, 4}};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(weft_reactor_call_soon(r, push_id, &s[i]), 0);
    cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    cr_assert_eq(o.n, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(o.v[i], i + 1);
    weft_reactor_free(r);
}

typedef struct spinner {
    weft_reactor *r;
    long spins;
    bool stop;
} spinner;

static void spin(void *arg)
{
    spinner *s = arg;
    s->spins++;
    if (!s->stop)
        cr_assert_eq(weft_reactor_call_soon(s->r, spin, s), 0);
}

static void stop_spinner(void *arg, int fd, unsigned events)
{
    (void)events;
    spinner *s = arg;
    s->stop = true;
    weft_reactor_remove_reader(s->r, fd);
}

WEFT_TEST(reactor, call_soon_chain_does_not_starve_io)
{
    weft_reactor *r = weft_test_reactor();
    spinner s = {.r = r};
    int p[2];
    make_pipe(p);
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert_eq(weft_reactor_add_reader(r, p[0], stop_spinner, &s), 0);
    cr_assert_eq(weft_reactor_call_soon(r, spin, &s), 0);
    cr_assert_eq(weft_reactor_iterate(r, 5), 0);
    /* One round of the queue, then I/O, in the same iteration. */
    cr_assert_eq(s.spins, 1);
    cr_assert(s.stop);
    cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    cr_assert_eq(s.spins, 2);
    close_pipe(p);
    weft_reactor_free(r);
}

/* ---- run and stop ---- */

static void stop_reactor(void *arg)
{
    cr_assert_eq(weft_reactor_stop(arg), 0);
    cr_assert_eq(weft_reactor_stop(arg), 0); /* again while stopping: nothing */
}

WEFT_TEST(reactor, run_until_stopped)
{
    weft_reactor *r = weft_test_reactor();
    cr_assert_eq(weft_reactor_stop(r), WEFT_ENOTRUNNING);
    cr_assert(!weft_reactor_running(r));
    cr_assert_eq(weft_call_later(r, 0.001, stop_reactor, r, NULL), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert(!weft_reactor_running(r));
    /* It can run again. */
    cr_assert_eq(weft_reactor_call_soon(r, stop_reactor, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    weft_reactor_free(r);
}

static void nested_run(void *arg)
{
    weft_reactor *r = arg;
    cr_assert(weft_reactor_running(r));
    cr_assert_eq(weft_reactor_run(r), WEFT_ERUNNING);
    weft_reactor_stop(r);
}

WEFT_TEST(reactor, run_refuses_when_running)
{
    weft_reactor *r = weft_test_reactor();
    cr_assert_eq(weft_reactor_call_soon(r, nested_run, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    weft_reactor_free(r);
}

typedef struct io_stop {
    weft_reactor *r;
    int calls;
} io_stop;

static void stop_from_io(void *arg, int fd, unsigned events)
{
    (void)events;
    io_stop *s = arg;
    s->calls++;
    weft_reactor_remove_reader(s->r, fd);
    weft_reactor_stop(s->r);
}

WEFT_TEST(reactor, stop_from_io_callback)
{
    weft_reactor *r = weft_test_reactor();
    int p[2];
    make_pipe(p);
    io_stop s = {r, 0};
    cr_assert_eq(weft_reactor_add_reader(r, p[0], stop_from_io, &s), 0);
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_eq(s.calls, 1);
    close_pipe(p);
    weft_reactor_free(r);
}

WEFT_TEST(reactor, time_is_monotonic_and_cached)
{
    weft_reactor *r = weft_test_reactor();
    double a = weft_reactor_now(r);
    cr_assert_eq(weft_reactor_now(r), a);
    cr_assert_eq(weft_reactor_iterate(r, 0.001), 0);
    double b = weft_reactor_now(r);
    cr_assert_geq(b, a);
    weft_reactor_update_time(r);
    cr_assert_geq(weft_reactor_now(r), b);
    weft_reactor_free(r);
}

/* ---- call_from_thread ---- */

enum { THREADS = 4, CALLS_PER_THREAD = 250000 };

typedef struct stress {
    weft_reactor *r;
    long total;
    long next[THREADS];
    bool in_order;
    weft_deferred *done;
} stress;

typedef struct token {
    stress *s;
    int thread;
    long seq;
} token;

static void on_call(void *arg)
{
    token *t = arg;
    stress *s = t->s;
    if (t->seq != s->next[t->thread])
        s->in_order = false;
    s->next[t->thread] = t->seq + 1;
    if (++s->total == (long)THREADS * CALLS_PER_THREAD)
        weft_deferred_callback(s->done, NULL, NULL);
}

typedef struct worker {
    stress *s;
    int thread;
    token *tokens;
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    for (long i = 0; i < CALLS_PER_THREAD; i++) {
        w->tokens[i] = (token){w->s, w->thread, i};
        while (weft_reactor_call_from_thread(w->s->r, on_call, &w->tokens[i]) != 0)
            ;
    }
    return NULL;
}

WEFT_TEST(reactor, call_from_thread_loses_nothing, .timeout = 120)
{
    weft_reactor *r = weft_test_reactor();
    stress s = {.r = r, .in_order = true, .done = weft_deferred_new(r)};
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){&s, i, malloc(CALLS_PER_THREAD * sizeof(token))};
        cr_assert_eq(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    cr_assert_eq(weft_reactor_run_until(r, s.done, 100), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        free(w[i].tokens);
    }
    cr_assert_eq(s.total, (long)THREADS * CALLS_PER_THREAD);
    cr_assert(s.in_order, "calls from one thread ran out of order");
    weft_deferred_unref(s.done);
    weft_reactor_free(r);
}

static void *call_once(void *arg)
{
    weft_deferred *d = arg;
    cr_assert_eq(weft_reactor_call_from_thread(weft_deferred_reactor(d), stop_reactor, weft_deferred_reactor(d)), 0);
    return NULL;
}

WEFT_TEST(reactor, call_from_thread_wakes_a_sleeping_loop)
{
    weft_reactor *r = weft_test_reactor();
    weft_deferred *d = weft_deferred_new(r);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, call_once, d), 0);
    /* No timers, nothing else: only the wake-up can end this run. */
    cr_assert_eq(weft_reactor_run(r), 0);
    pthread_join(th, NULL);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

/* ---- allocation failures ---- */

static void noop(void *arg)
{
    (void)arg;
}

static void noop_fd(void *arg, int fd, unsigned events)
{
    (void)arg;
    (void)fd;
    (void)events;
}

static void reactor_scenario(void *arg)
{
    (void)arg;
    weft_reactor *r;
    int err = weft_reactor_new(NULL, &r);
    if (err < 0) {
        cr_assert_eq(err, WEFT_ENOMEM);
        return;
    }
    int p[2];
    make_pipe(p);
    if (weft_reactor_add_reader(r, p[0], noop_fd, NULL) == 0)
        weft_reactor_remove_reader(r, p[0]);
    for (int i = 0; i < 100; i++) {
        err = weft_reactor_call_soon(r, noop, NULL);
        cr_assert(err == 0 || err == WEFT_ENOMEM);
        err = weft_call_later(r, i, noop, NULL, NULL);
        cr_assert(err == 0 || err == WEFT_ENOMEM);
    }
    weft_reactor_iterate(r, 0);
    close_pipe(p);
    weft_reactor_free(r);
}

WEFT_TEST(reactor, allocation_failures)
{
    size_t runs = weft_test_each_alloc_failure(reactor_scenario, NULL);
    cr_assert_gt(runs, 5);
}
