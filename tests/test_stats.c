/* SPDX-License-Identifier: MIT */
/* stats.h: what ports, sockets and the HTTP server count, read through the
 * public calls, over real sockets on 127.0.0.1; loop lag on the fake clock;
 * the process's own figures against what the test does to them. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "test.h"

static int port_number(weft_port *p)
{
    weft_address a;
    weft_port_address(p, &a);
    return weft_address_port(&a);
}

static weft_port *listen_local(weft_reactor *r, weft_factory *f)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    weft_port *p;
    cr_assert_eq(weft_listen(r, &a, f, NULL, &p), 0);
    return p;
}

/* Iterates until cond(arg) holds; fails the test after 2000 iterations of
 * at most 10 ms each with nothing happening. */
#define ITERATE_UNTIL(r, cond)                                                  \
    do {                                                                        \
        int n_ = 0;                                                             \
        while (!(cond) && n_++ < 2000)                                          \
            cr_assert_eq(weft_reactor_iterate((r), 0.01), 0);                   \
        cr_assert(cond, "never came true: %s", #cond);                          \
    } while (0)

static void read_exactly(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        cr_assert_gt(n, 0, "read: %s", n < 0 ? strerror(errno) : "EOF");
        got += (size_t)n;
    }
}

static weft_conn_stats port_now(weft_port *p)
{
    weft_conn_stats s;
    weft_port_stats(p, &s);
    return s;
}

static weft_reactor_stats reactor_now(weft_reactor *r)
{
    weft_reactor_stats s;
    weft_reactor_stats_get(r, &s);
    return s;
}

WEFT_TEST(stats, a_port_counts_its_connections_and_their_bytes)
{
    weft_reactor *r = weft_test_reactor();
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_port *p = listen_local(r, &echo);
    cr_assert_eq(reactor_now(r).ports, 1);

    int a = weft_test_dial(port_number(p)), b = weft_test_dial(port_number(p));
    cr_assert_eq(write(a, "hello", 5), 5);
    cr_assert_eq(write(b, "hi", 2), 2);
    ITERATE_UNTIL(r, port_now(p).bytes_out == 7);
    char buf[8];
    read_exactly(a, buf, 5);
    read_exactly(b, buf, 2);
    weft_conn_stats s = port_now(p);
    cr_assert_eq(s.accepted, 2);
    cr_assert_eq(s.open, 2);
    cr_assert_eq(s.bytes_in, 7);
    weft_reactor_stats all = reactor_now(r);
    cr_assert_eq(all.all.accepted, 2);
    cr_assert_eq(all.all.open, 2);
    cr_assert_eq(all.all.bytes_in, 7);
    cr_assert_eq(all.all.bytes_out, 7);

    close(a);
    ITERATE_UNTIL(r, port_now(p).open == 1);
    cr_assert_eq(port_now(p).accepted, 2);
    close(b);
    ITERATE_UNTIL(r, port_now(p).open == 0);

    weft_deferred_unref(weft_port_stop(p));
    /* The port is gone: its figures stay in the totals. */
    all = reactor_now(r);
    cr_assert_eq(all.ports, 0);
    cr_assert_eq(all.all.accepted, 2);
    cr_assert_eq(all.all.open, 0);
    cr_assert_eq(all.all.bytes_in, 7);
    weft_reactor_free(r);
}

typedef struct seen {
    char names[4][128];
    bool listening[4];
    weft_conn_stats stats[4];
    size_t n;
} seen;

static void note_port(void *arg, const char *name, bool listening, const weft_conn_stats *s)
{
    seen *sn = arg;
    cr_assert_lt(sn->n, 4);
    snprintf(sn->names[sn->n], sizeof sn->names[0], "%s", name);
    sn->listening[sn->n] = listening;
    sn->stats[sn->n++] = *s;
}

WEFT_TEST(stats, a_stopped_port_counts_for_its_open_connections_until_the_last_closes)
{
    weft_reactor *r = weft_test_reactor();
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_port *p = listen_local(r, &echo), *q = listen_local(r, &echo);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", port_number(p));

    int a = weft_test_dial(port_number(p));
    ITERATE_UNTIL(r, port_now(p).open == 1);
    weft_deferred_unref(weft_port_stop(p));

    /* Stopped, its counters live on with its connection, listed last. */
    seen sn = {0};
    cr_assert_eq(weft_reactor_port_stats(r, note_port, &sn), 2);
    cr_assert(sn.listening[0]);
    cr_assert_not(sn.listening[1]);
    cr_assert_str_eq(sn.names[1], want);
    cr_assert_eq(sn.stats[1].open, 1);

    cr_assert_eq(write(a, "abc", 3), 3);
    char buf[4];
    int n = 0;
    while (reactor_now(r).all.bytes_out < 3 && n++ < 2000)
        weft_reactor_iterate(r, 0.01);
    read_exactly(a, buf, 3);
    close(a);
    ITERATE_UNTIL(r, reactor_now(r).all.open == 0);

    /* The last connection gone, only the listening port is listed, and the
     * totals kept what the other counted. */
    sn.n = 0;
    cr_assert_eq(weft_reactor_port_stats(r, note_port, &sn), 1);
    cr_assert(sn.listening[0]);
    weft_reactor_stats all = reactor_now(r);
    cr_assert_eq(all.all.accepted, 1);
    cr_assert_eq(all.all.bytes_in, 3);
    cr_assert_eq(all.all.bytes_out, 3);
    weft_deferred_unref(weft_port_stop(q));
    weft_reactor_free(r);
}

WEFT_TEST(stats, connections_no_port_accepted_count_in_the_totals_only)
{
    weft_reactor *r = weft_test_reactor();
    int port, lfd = weft_test_listener(&port);
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_address a;
    weft_address_from_ip("127.0.0.1", port, &a);
    weft_deferred *d = weft_connect(r, &a, &echo, NULL);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_deferred_unref(d);
    int peer = accept(lfd, NULL, NULL);
    cr_assert_geq(peer, 0);
    cr_assert_eq(write(peer, "ping", 4), 4);
    ITERATE_UNTIL(r, reactor_now(r).all.bytes_out == 4);
    weft_reactor_stats s = reactor_now(r);
    cr_assert_eq(s.all.bytes_in, 4);
    cr_assert_eq(s.all.accepted, 0);
    cr_assert_eq(s.all.open, 0);
    cr_assert_eq(s.ports, 0);
    close(peer);
    close(lfd);
    weft_reactor_free(r);
}

/* ---- HTTP ---- */

static void answer(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply(req, 200, "text/plain", "ok\n", 3);
}

WEFT_TEST(stats, http_responses_count_by_status_class_on_their_port)
{
    weft_reactor *r = weft_test_reactor();
    weft_http_resource *root = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on(root, "GET", answer, NULL), 0);
    weft_http_server *srv = weft_http_server_new(r, root, NULL);
    weft_port *p = listen_local(r, weft_http_server_factory(srv));

    int c = weft_test_dial(port_number(p));
    const char *reqs = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET / HTTP/9.1\r\nHost: x\r\n\r\n"; /* 505, refused before dispatch */
    cr_assert_eq(write(c, reqs, strlen(reqs)), (ssize_t)strlen(reqs));
    ITERATE_UNTIL(r, port_now(p).http_responses[5] == 1);
    weft_conn_stats s = port_now(p);
    cr_assert_eq(s.http_responses[2], 2);
    cr_assert_eq(s.http_responses[4], 1);
    cr_assert_eq(s.http_responses[1] + s.http_responses[3], 0);
    cr_assert_eq(reactor_now(r).all.http_responses[2], 2);
    close(c);
    ITERATE_UNTIL(r, port_now(p).open == 0);
    weft_deferred_unref(weft_port_stop(p));
    weft_http_server_free(srv);
    weft_reactor_free(r);
}

/* ---- loop lag ---- */

WEFT_TEST(stats, loop_lag_is_how_late_the_measuring_timer_runs)
{
    weft_reactor *r = weft_test_clock();
    cr_assert_eq(reactor_now(r).lag_samples, 0);
    cr_assert_eq(weft_reactor_measure_lag(r, 1.0), 0);
    /* The loop kept from its timer for 1.5 s past when it was due. */
    weft_clock_advance(r, 2.5);
    weft_reactor_stats s = reactor_now(r);
    cr_assert_eq(s.lag_samples, 1);
    cr_assert_float_eq(s.lag_recent, 1.5, 1e-9);
    cr_assert_float_eq(s.lag_max, 1.5, 1e-9);
    /* Then on time: recent is back to 0, the max remembers. */
    weft_clock_advance(r, 1.0);
    s = reactor_now(r);
    cr_assert_eq(s.lag_samples, 2);
    cr_assert_float_eq(s.lag_recent, 0, 1e-9);
    cr_assert_float_eq(s.lag_max, 1.5, 1e-9);
    /* Stopped: no more samples, and no timer left behind. */
    cr_assert_eq(weft_reactor_measure_lag(r, -1), 0);
    cr_assert_eq(weft_reactor_timer_count(r), 0);
    weft_clock_advance(r, 5);
    cr_assert_eq(reactor_now(r).lag_samples, 2);
    cr_assert_eq(weft_reactor_measure_lag(r, NAN), WEFT_EINVAL);
    weft_reactor_free(r);
}

WEFT_TEST(stats, uptime_follows_the_reactors_clock)
{
    weft_reactor *r = weft_test_clock();
    weft_clock_advance(r, 42);
    weft_reactor_stats s = reactor_now(r);
    cr_assert_float_eq(s.uptime, 42, 1e-9);
    cr_assert_gt(s.started, 1.6e9); /* a wall-clock time, after 2020 */
    weft_reactor_free(r);
}

/* ---- the process ---- */

WEFT_TEST(stats, the_process_figures_are_the_processes)
{
    weft_reactor *r = weft_test_reactor();
    weft_reactor_stats before = reactor_now(r);
    cr_assert_eq(before.pid, getpid());
    cr_assert_gt(before.rss, 0);
    cr_assert_gt(before.max_fds, 0);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    weft_reactor_stats after = reactor_now(r);
    cr_assert_eq(after.open_fds, before.open_fds + 2);
    close(fds[0]);
    close(fds[1]);
    cr_assert_eq(reactor_now(r).open_fds, before.open_fds);
    weft_reactor_free(r);
}
