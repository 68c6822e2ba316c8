/* SPDX-License-Identifier: MIT */
/*
 * Services (service.h), after twisted/application/test/test_service.py:
 * names, parents, starting in two steps, children stopped last first each
 * after the one before has stopped, a start that fails undoing what
 * started, a stop's deadline on the fake clock; then a real server service
 * on a real socket with a real client, and a kept-up client service.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "test.h"

/* What the services did, in order: "start a", "stop b"... */
typedef struct journal {
    char lines[64][32];
    size_t n;
} journal;

static void note(journal *j, const char *what, const char *who)
{
    cr_assert_lt(j->n, 64);
    snprintf(j->lines[j->n++], sizeof j->lines[0], "%s %s", what, who);
}

static void check_journal(const journal *j, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n && i < j->n; i++)
        cr_assert_str_eq(j->lines[i], want[i], "step %zu", i);
    cr_assert_eq(j->n, n, "%zu steps, not %zu", j->n, n);
}

#define CHECK_JOURNAL(j, ...)                                                                                         \
    do {                                                                                                              \
        const char *const want_[] = {__VA_ARGS__};                                                                    \
        check_journal((j), want_, sizeof want_ / sizeof want_[0]);                                                    \
    } while (0)

/* A service that notes what happens to it; its stop returns a Deferred the
 * test fires (held in `stopping`) when `slow`, and its start fails when
 * `fail_start` (or its privileged start when `fail_bind`). */
typedef struct probe {
    journal *j;
    const char *name;
    bool slow, fail_start, fail_bind, fail_stop;
    weft_deferred *stopping;
    bool cancelled;
} probe;

static int probe_bind(weft_service *s, void *arg, weft_failure **why)
{
    (void)s;
    probe *p = arg;
    note(p->j, "bind", p->name);
    if (p->fail_bind) {
        *why = weft_failure_new(-EACCES, "%s cannot bind", p->name);
        return -EACCES;
    }
    return 0;
}

static int probe_start(weft_service *s, void *arg, weft_failure **why)
{
    (void)s;
    probe *p = arg;
    note(p->j, "start", p->name);
    if (p->fail_start) {
        *why = weft_failure_new(WEFT_EFAILED, "%s cannot start", p->name);
        return WEFT_EFAILED;
    }
    return 0;
}

static void probe_quiesce(weft_service *s, void *arg)
{
    (void)s;
    probe *p = arg;
    note(p->j, "quiesce", p->name);
}

static void probe_cancelled(void *arg, weft_deferred *d)
{
    probe *p = arg;
    p->cancelled = true;
    weft_deferred_errback(d, weft_failure_new(WEFT_ECANCELED, "cancelled"));
}

static weft_deferred *probe_stop(weft_service *s, void *arg)
{
    probe *p = arg;
    note(p->j, "stop", p->name);
    if (p->fail_stop)
        return weft_fail(weft_service_reactor(s), weft_failure_new(WEFT_EFAILED, "%s would not stop", p->name));
    if (!p->slow)
        return NULL;
    p->stopping = weft_deferred_new(weft_service_reactor(s));
    weft_deferred_set_canceller(p->stopping, probe_cancelled, p);
    return weft_deferred_ref(p->stopping);
}

static void probe_destroy(void *arg)
{
    probe *p = arg;
    note(p->j, "destroy", p->name);
    weft_deferred_unref(p->stopping);
    p->stopping = NULL;
}

static const weft_service_ops probe_ops = {
    .privileged_start = probe_bind,
    .start = probe_start,
    .quiesce = probe_quiesce,
    .stop = probe_stop,
    .destroy = probe_destroy,
};

static weft_service *probe_new(weft_reactor *r, probe *p, journal *j, const char *name)
{
    p->j = j;
    p->name = name;
    weft_service *s = weft_service_new(r, name, &probe_ops, p);
    cr_assert_not_null(s);
    return s;
}

/* Fires the test's end of a slow stop. */
static void finish_stop(probe *p)
{
    cr_assert_not_null(p->stopping, "%s's stop has not begun", p->name);
    weft_deferred *d = p->stopping;
    p->stopping = NULL;
    cr_assert_eq(weft_deferred_callback(d, NULL, NULL), 0);
    weft_deferred_unref(d);
}

static bool fired_ok(weft_deferred *d)
{
    weft_result res;
    return weft_deferred_peek(d, &res) && !weft_failed(res);
}

WEFT_TEST(service, names_are_unique_among_siblings)
{
    weft_reactor *r = weft_test_clock();
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    weft_service *a = weft_service_new(r, "a", NULL, NULL);
    cr_assert_eq(weft_service_add(top, a), 0);
    cr_assert_eq(weft_service_add(top, weft_service_new(r, "a", NULL, NULL)), WEFT_EEXIST);
    cr_assert_eq(weft_service_add(top, weft_service_new(r, NULL, NULL, NULL)), 0);
    cr_assert_eq(weft_service_add(top, weft_service_new(r, NULL, NULL, NULL)), 0, "unnamed siblings may be many");
    cr_assert_eq(weft_service_child(top, "a"), a);
    cr_assert_null(weft_service_child(top, "b"));
    cr_assert_eq(weft_service_parent(a), top);
    cr_assert_str_eq(weft_service_name(a), "a");
    size_t n = 0;
    for (weft_service *c = weft_service_first_child(top); c; c = weft_service_next_sibling(c))
        n++;
    cr_assert_eq(n, 3);
    weft_service *other = weft_service_new(r, "other", NULL, NULL);
    cr_assert_eq(weft_service_add(other, a), WEFT_EINVAL, "a child has one parent");
    weft_service_free(other);
    weft_service_free(top);
    weft_reactor_free(r);
}

WEFT_TEST(service, removing_a_child_stops_it_and_gives_it_back)
{
    weft_reactor *r = weft_test_clock();
    journal j = {0};
    probe pa = {0};
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    weft_service *a = probe_new(r, &pa, &j, "a");
    cr_assert_eq(weft_service_add(top, a), 0);
    cr_assert_eq(weft_service_start(top, NULL), 0);
    weft_deferred *d = weft_service_remove(a);
    cr_assert(fired_ok(d));
    weft_deferred_unref(d);
    cr_assert_null(weft_service_parent(a));
    cr_assert_null(weft_service_child(top, "a"));
    cr_assert(!weft_service_running(a));
    cr_assert(weft_service_running(top));
    weft_service_free(a);
    weft_service_free(top);
    CHECK_JOURNAL(&j, "bind a", "start a", "quiesce a", "stop a", "destroy a");
    weft_reactor_free(r);
}

WEFT_TEST(service, start_binds_then_starts_parent_first_in_order)
{
    weft_reactor *r = weft_test_clock();
    journal j = {0};
    probe pt = {0}, pa = {0}, pb = {0};
    weft_service *top = probe_new(r, &pt, &j, "top");
    cr_assert_eq(weft_service_add(top, probe_new(r, &pa, &j, "a")), 0);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pb, &j, "b")), 0);
    cr_assert_eq(weft_service_privileged_start(top, NULL), 0);
    cr_assert(!weft_service_running(top), "bound is not running");
    CHECK_JOURNAL(&j, "bind top", "bind a", "bind b");
    cr_assert_eq(weft_service_start(top, NULL), 0);
    cr_assert(weft_service_running(top));
    cr_assert(weft_service_running(weft_service_child(top, "b")));
    CHECK_JOURNAL(&j, "bind top", "bind a", "bind b", "start top", "start a", "start b");
    cr_assert_eq(weft_service_start(top, NULL), WEFT_ERUNNING);
    weft_deferred *d = weft_service_stop(top, 0);
    cr_assert(fired_ok(d));
    weft_deferred_unref(d);
    weft_service_free(top);
    weft_reactor_free(r);
}

WEFT_TEST(service, start_alone_binds_first)
{
    weft_reactor *r = weft_test_clock();
    journal j = {0};
    probe pt = {0}, pa = {0};
    weft_service *top = probe_new(r, &pt, &j, "top");
    cr_assert_eq(weft_service_add(top, probe_new(r, &pa, &j, "a")), 0);
    cr_assert_eq(weft_service_start(top, NULL), 0);
    CHECK_JOURNAL(&j, "bind top", "bind a", "start top", "start a");
    weft_deferred_unref(weft_service_stop(top, 0));
    weft_service_free(top);
    weft_reactor_free(r);
}

WEFT_TEST(service, adding_to_a_running_parent_starts_the_child)
{
    weft_reactor *r = weft_test_clock();
    journal j = {0};
    probe pa = {0};
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    cr_assert_eq(weft_service_start(top, NULL), 0);
    weft_service *a = probe_new(r, &pa, &j, "a");
    cr_assert_eq(weft_service_add(top, a), 0);
    cr_assert(weft_service_running(a));
    CHECK_JOURNAL(&j, "bind a", "start a");
    weft_deferred_unref(weft_service_stop(top, 0));
    cr_assert(!weft_service_running(a));
    weft_service_free(top);
    weft_reactor_free(r);
}

/* A web service stops before the database it uses: the last added stops
 * first, and the one before it only once that stop has fired. Every
 * service quiesces before any stops. */
WEFT_TEST(service, children_stop_last_first_each_after_the_one_after_it)
{
    weft_reactor *r = weft_test_clock();
    journal j = {0};
    probe pt = {0}, pa = {.slow = true}, pb = {.slow = true}, pc = {.slow = true};
    weft_service *top = probe_new(r, &pt, &j, "top");
    cr_assert_eq(weft_service_add(top, probe_new(r, &pa, &j, "a")), 0);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pb, &j, "b")), 0);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pc, &j, "c")), 0);
    cr_assert_eq(weft_service_start(top, NULL), 0);
    j.n = 0;
    weft_deferred *d = weft_service_stop(top, 0);
    cr_assert_not_null(d);
    CHECK_JOURNAL(&j, "quiesce c", "quiesce b", "quiesce a", "quiesce top", "stop c");
    cr_assert(!weft_service_running(top));
    weft_deferred *again = weft_service_stop(top, 0);
    cr_assert(!weft_deferred_called(again), "a second stop waits for the first");
    finish_stop(&pc);
    CHECK_JOURNAL(&j, "quiesce c", "quiesce b", "quiesce a", "quiesce top", "stop c", "stop b");
    finish_stop(&pb);
    cr_assert(!weft_deferred_called(d));
    finish_stop(&pa);
    CHECK_JOURNAL(&j, "quiesce c", "quiesce b", "quiesce a", "quiesce top", "stop c", "stop b", "stop a", "stop top");
    cr_assert(fired_ok(d));
    cr_assert(fired_ok(again));
    weft_deferred_unref(d);
    weft_deferred_unref(again);
    d = weft_service_stop(top, 0);
    cr_assert(fired_ok(d), "stopping a stopped service fires at once");
    weft_deferred_unref(d);
    weft_service_free(top);
    weft_reactor_free(r);
}

/* Nested groups: a grandchild's slow stop holds its parent's, which holds
 * the top's. */
WEFT_TEST(service, a_subtree_stops_whole_before_its_elder_sibling)
{
    weft_reactor *r = weft_test_clock();
    journal j = {0};
    probe pa = {0}, pb1 = {.slow = true}, pb2 = {0};
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    weft_service *b = weft_service_new(r, "b", NULL, NULL);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pa, &j, "a")), 0);
    cr_assert_eq(weft_service_add(top, b), 0);
    cr_assert_eq(weft_service_add(b, probe_new(r, &pb1, &j, "b1")), 0);
    cr_assert_eq(weft_service_add(b, probe_new(r, &pb2, &j, "b2")), 0);
    cr_assert_eq(weft_service_start(top, NULL), 0);
    j.n = 0;
    weft_deferred *d = weft_service_stop(top, 0);
    CHECK_JOURNAL(&j, "quiesce b2", "quiesce b1", "quiesce a", "stop b2", "stop b1");
    finish_stop(&pb1);
    CHECK_JOURNAL(&j, "quiesce b2", "quiesce b1", "quiesce a", "stop b2", "stop b1", "stop a");
    cr_assert(fired_ok(d));
    weft_deferred_unref(d);
    weft_service_free(top);
    weft_reactor_free(r);
}

WEFT_TEST(service, a_failing_start_stops_what_started)
{
    weft_reactor *r = weft_test_clock();
    journal j = {0};
    probe pa = {0}, pb = {.fail_start = true}, pc = {0};
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pa, &j, "a")), 0);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pb, &j, "b")), 0);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pc, &j, "c")), 0);
    weft_failure *why = NULL;
    cr_assert_eq(weft_service_start(top, &why), WEFT_EFAILED);
    cr_assert_str_eq(weft_failure_message(why), "b cannot start");
    weft_failure_unref(why);
    /* c was bound (ports are all bound first) and never started: stopped
     * too, as a and b; the stops come last first. */
    CHECK_JOURNAL(&j, "bind a", "bind b", "bind c", "start a", "start b", "stop c", "stop b", "stop a");
    cr_assert(!weft_service_running(top));
    cr_assert(!weft_service_running(weft_service_child(top, "a")));
    weft_service_free(top);
    weft_reactor_free(r);
}

WEFT_TEST(service, a_failing_privileged_start_stops_what_was_bound)
{
    weft_reactor *r = weft_test_clock();
    journal j = {0};
    probe pa = {0}, pb = {.fail_bind = true}, pc = {0};
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pa, &j, "a")), 0);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pb, &j, "b")), 0);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pc, &j, "c")), 0);
    weft_failure *why = NULL;
    cr_assert_eq(weft_service_start(top, &why), -EACCES);
    cr_assert_str_eq(weft_failure_message(why), "b cannot bind");
    weft_failure_unref(why);
    CHECK_JOURNAL(&j, "bind a", "bind b", "stop a");
    weft_service_free(top);
    weft_reactor_free(r);
}

WEFT_TEST(service, a_child_failing_to_start_in_a_running_parent_says_why)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    journal j = {0};
    probe pa = {.fail_start = true};
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    cr_assert_eq(weft_service_start(top, NULL), 0);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pa, &j, "a")), WEFT_EFAILED);
    cr_assert(weft_test_log_contains(&log, "a: cannot start: a cannot start"));
    cr_assert_not_null(weft_service_child(top, "a"), "the child stays, stopped");
    cr_assert(!weft_service_running(weft_service_child(top, "a")));
    weft_service_free(top);
    weft_reactor_free(r);
}

WEFT_TEST(service, a_failing_stop_is_reported_and_counts_as_stopped)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    journal j = {0};
    probe pa = {0}, pb = {.fail_stop = true};
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pa, &j, "a")), 0);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pb, &j, "b")), 0);
    cr_assert_eq(weft_service_start(top, NULL), 0);
    weft_deferred *d = weft_service_stop(top, 0);
    cr_assert(fired_ok(d));
    weft_deferred_unref(d);
    cr_assert(weft_test_log_contains(&log, "b: stopping failed: b would not stop"));
    cr_assert(!weft_service_running(weft_service_child(top, "b")));
    weft_service_free(top);
    weft_reactor_free(r);
}

/* The deadline, on the fake clock: the caller hears WEFT_ETIMEDOUT naming
 * who did not stop, that stop is cancelled, and the services before it go
 * on stopping. */
WEFT_TEST(service, a_stop_past_its_deadline_names_who_did_not_stop_and_cancels_it)
{
    weft_reactor *r = weft_test_clock();
    journal j = {0};
    probe pa = {.slow = true}, pb = {.slow = true};
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    weft_service *g = weft_service_new(r, "group", NULL, NULL);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pa, &j, "a")), 0);
    cr_assert_eq(weft_service_add(top, g), 0);
    cr_assert_eq(weft_service_add(g, probe_new(r, &pb, &j, "b")), 0);
    cr_assert_eq(weft_service_start(top, NULL), 0);
    weft_deferred *d = weft_service_stop(top, 5);
    cr_assert_eq(weft_clock_advance(r, 4.9), 0);
    cr_assert(!weft_deferred_called(d));
    cr_assert_eq(weft_clock_advance(r, 0.2), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert(weft_failed(res));
    const weft_failure *f = weft_result_failure(res);
    cr_assert_eq(weft_failure_code(f), WEFT_ETIMEDOUT);
    cr_assert_str_eq(weft_failure_message(f), "not stopped after 5s: top/group/b");
    cr_assert(pb.cancelled, "b's stop was cancelled");
    cr_assert(!pa.cancelled);
    cr_assert_not_null(pa.stopping, "a's stop began after b's ended");
    weft_deferred_unref(d);
    finish_stop(&pa);
    cr_assert(!weft_service_running(top));
    weft_service_free(top);
    weft_reactor_free(r);
}

WEFT_TEST(service, freeing_during_a_stop_cancels_its_waiters)
{
    weft_reactor *r = weft_test_clock();
    journal j = {0};
    probe pa = {.slow = true}, pb = {.slow = true};
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pa, &j, "a")), 0);
    cr_assert_eq(weft_service_add(top, probe_new(r, &pb, &j, "b")), 0);
    cr_assert_eq(weft_service_start(top, NULL), 0);
    weft_deferred *d = weft_service_stop(top, 5);
    weft_service_free(top);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert(weft_failure_check(weft_result_failure(res), WEFT_ECANCELED));
    cr_assert(pb.cancelled);
    cr_assert_null(pa.stopping, "a's stop never began");
    weft_deferred_unref(d);
    cr_assert_eq(weft_clock_advance(r, 10), 0);
    weft_reactor_free(r);
}

/* ---- over real sockets ---- */

static bool readable(int fd, int ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    return poll(&pfd, 1, ms) > 0;
}

/* Runs the reactor until fd (a client) reads `want`. */
static void echoed(weft_reactor *r, int fd, const char *want)
{
    char got[64] = "";
    size_t len = 0;
    for (int i = 0; i < 2000 && len < strlen(want); i++) {
        weft_reactor_iterate(r, 0.005);
        if (readable(fd, 0)) {
            ssize_t n = read(fd, got + len, sizeof got - 1 - len);
            cr_assert_gt(n, 0);
            len += (size_t)n;
        }
    }
    got[len] = '\0';
    cr_assert_str_eq(got, want);
}

/* An echo server service, started (under `top` when not NULL). */
static weft_service *echo_server(weft_reactor *r, weft_service *top, weft_factory *echo, int *port)
{
    weft_echo_factory_init(echo);
    weft_service *s = weft_server_service_new(r, "echo", "tcp:0:interface=127.0.0.1", echo, NULL);
    cr_assert_not_null(s);
    cr_assert(weft_server_service_is(s));
    cr_assert_str_eq(weft_server_service_endpoint(s), "tcp:0:interface=127.0.0.1");
    weft_address a;
    cr_assert(!weft_server_service_address(s, &a), "not listening before it is bound");
    if (top)
        cr_assert_eq(weft_service_add(top, s), 0);
    cr_assert_eq(weft_service_privileged_start(top ? top : s, NULL), 0);
    cr_assert(weft_server_service_address(s, &a), "listening once bound");
    *port = weft_address_port(&a);
    cr_assert_eq(weft_service_start(top ? top : s, NULL), 0);
    return s;
}

WEFT_TEST(service, a_server_listens_when_bound_and_drains_when_stopped, .timeout = 30)
{
    weft_reactor *r = weft_test_reactor();
    weft_factory echo;
    int port;
    weft_service *s = echo_server(r, NULL, &echo, &port);
    int fd = weft_test_dial(port);
    cr_assert_eq(write(fd, "hi", 2), 2);
    echoed(r, fd, "hi");
    cr_assert_eq(weft_server_service_connections(s), 1);

    weft_deferred *d = weft_service_stop(s, 0);
    weft_address a;
    cr_assert(!weft_server_service_address(s, &a), "no longer listening");
    int late = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_neq(connect(late, (struct sockaddr *)&sa, sizeof sa), 0, "a new connection is refused");
    close(late);
    /* The open connection is still served, and the stop waits for it. */
    cr_assert_eq(write(fd, "yo", 2), 2);
    echoed(r, fd, "yo");
    cr_assert(!weft_deferred_called(d));
    close(fd);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    cr_assert(fired_ok(d));
    weft_deferred_unref(d);
    weft_service_free(s);
    weft_reactor_free(r);
}

WEFT_TEST(service, a_server_past_the_deadline_aborts_its_connections, .timeout = 30)
{
    weft_reactor *r = weft_test_reactor();
    weft_factory echo;
    int port;
    weft_service *top = weft_service_new(r, "top", NULL, NULL);
    echo_server(r, top, &echo, &port);
    int fd = weft_test_dial(port);
    cr_assert_eq(write(fd, "hi", 2), 2);
    echoed(r, fd, "hi");
    weft_deferred *d = weft_service_stop(top, 0.1);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert_eq(weft_failure_code(weft_result_failure(res)), WEFT_ETIMEDOUT);
    cr_assert_str_eq(weft_failure_message(weft_result_failure(res)), "not stopped after 0.1s: top/echo");
    weft_deferred_unref(d);
    /* The client sees its connection end. */
    char buf[16];
    ssize_t n = 1;
    for (int i = 0; i < 2000 && n > 0; i++) {
        weft_reactor_iterate(r, 0.005);
        if (readable(fd, 0))
            n = read(fd, buf, sizeof buf);
    }
    cr_assert_leq(n, 0);
    close(fd);
    weft_service_free(top);
    weft_reactor_free(r);
}

WEFT_TEST(service, a_server_that_cannot_listen_says_why)
{
    weft_reactor *r = weft_test_reactor();
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_failure *why = NULL;
    cr_assert_null(weft_server_service_new(r, "bad", "tcp:notaport", &echo, &why));
    cr_assert_not_null(strstr(weft_failure_message(why), "notaport"), "%s", weft_failure_message(why));
    weft_failure_unref(why);
    int port;
    int taken = weft_test_listener(&port);
    char where[64];
    snprintf(where, sizeof where, "tcp:%d:interface=127.0.0.1", port);
    weft_service *s = weft_server_service_new(r, "busy", where, &echo, NULL);
    cr_assert_not_null(s);
    why = NULL;
    cr_assert_eq(weft_service_start(s, &why), -EADDRINUSE);
    cr_assert_not_null(strstr(weft_failure_message(why), "cannot listen on 127.0.0.1:"), "%s",
                       weft_failure_message(why));
    weft_failure_unref(why);
    cr_assert(!weft_service_running(s));
    weft_service_free(s);
    close(taken);
    weft_reactor_free(r);
}

WEFT_TEST(service, a_client_service_connects_when_started_and_closes_when_stopped, .timeout = 30)
{
    weft_reactor *r = weft_test_reactor();
    int port;
    int lfd = weft_test_listener(&port);
    char where[64];
    snprintf(where, sizeof where, "tcp:host=127.0.0.1:port=%d", port);
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_service *s = weft_client_service_service_new(r, "up", where, &echo, NULL, NULL);
    cr_assert_not_null(s);
    cr_assert_eq(weft_service_start(s, NULL), 0);
    weft_deferred *c = weft_client_service_when_connected(weft_client_service_service_client(s));
    cr_assert_eq(weft_reactor_run_until(r, c, 10), 0);
    weft_deferred_unref(c);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(fd, 0);
    weft_deferred *d = weft_service_stop(s, 5);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    cr_assert(fired_ok(d));
    weft_deferred_unref(d);
    char buf[4];
    cr_assert(readable(fd, 10000));
    cr_assert_leq(read(fd, buf, sizeof buf), 0, "the service closed its connection");
    close(fd);
    close(lfd);
    weft_service_free(s);
    weft_reactor_free(r);
}
