/* SPDX-License-Identifier: MIT */
/*
 * Teardown that cannot leak (reactor.h, "Shutdown"): what is alive when the
 * reactor stops ends - ports stop, connections close gracefully or are
 * aborted after the grace, coroutines' awaits are cancelled - and
 * weft_reactor_free ends whatever is left, dropping queued calls and timers
 * through their drop functions. Each test also counts what it made and
 * what ended, so it holds without LeakSanitizer too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "net.h"
#include "test.h"

/* ---- a server whose protocols count their ends ---- */

typedef struct counts {
    int built, lost, destroyed, clean, aborted;
    size_t send_on_connect; /* bytes each connection writes at once */
    bool stop_on_connect;   /* weft_reactor_stop when a connection is made */
} counts;

typedef struct conn {
    weft_protocol base;
    counts *c;
} conn;

static void conn_made(weft_protocol *p)
{
    counts *c = ((conn *)p)->c;
    if (c->send_on_connect) {
        char *big = calloc(1, c->send_on_connect);
        cr_assert_eq(weft_transport_write(p->transport, big, c->send_on_connect), 0);
        free(big);
    }
    if (c->stop_on_connect)
        cr_assert_eq(weft_reactor_stop(weft_transport_reactor(p->transport)), 0);
}

static void conn_lost(weft_protocol *p, const weft_failure *why)
{
    counts *c = ((conn *)p)->c;
    c->lost++;
    if (weft_failure_code(why) == WEFT_EOF)
        c->clean++;
    else if (weft_failure_code(why) == -ECONNABORTED)
        c->aborted++;
}

static void conn_destroy(weft_protocol *p)
{
    ((conn *)p)->c->destroyed++;
    free(p);
}

static const weft_protocol_ops conn_ops = {
    .connection_made = conn_made, .connection_lost = conn_lost, .destroy = conn_destroy};

static weft_protocol *conn_build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    counts *c = f->arg;
    conn *k = calloc(1, sizeof *k);
    k->base.ops = &conn_ops;
    k->c = c;
    c->built++;
    return &k->base;
}

static const weft_factory_ops conn_factory_ops = {.build = conn_build};

/* Listens on 127.0.0.1, port 0; returns the port (stored in *port). */
static int listen_here(weft_reactor *r, weft_factory *f, weft_port **port)
{
    weft_deferred *d = weft_listen_on(r, "tcp:0:interface=127.0.0.1", f);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert(!weft_failed(res), "listen: %s", weft_failure_message(weft_result_failure(res)));
    weft_deferred_unref(d);
    *port = res.value;
    weft_address a;
    weft_port_address(*port, &a);
    return weft_address_port(&a);
}

/* Reads until EOF (or an error), for at most 10 s; returns the bytes. */
static size_t read_to_eof(int fd)
{
    size_t total = 0;
    char buf[65536];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        cr_assert_gt(poll(&pfd, 1, 10000), 0, "no EOF within 10 s");
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return total;
        total += (size_t)n;
    }
}

WEFT_TEST(teardown, shutdown_closes_connections_after_sending_what_they_hold)
{
    weft_reactor *r = weft_test_reactor();
    counts c = {.send_on_connect = 1 << 20, .stop_on_connect = true};
    weft_factory f = {.ops = &conn_factory_ops, .arg = &c};
    weft_port *port;
    int fd = weft_test_dial(listen_here(r, &f, &port));
    /* The client reads meanwhile in another process: the 1 MiB must all
     * arrive before the EOF. */
    pid_t reader = fork();
    if (reader == 0)
        _exit(read_to_eof(fd) == 1 << 20 ? 0 : 1);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_eq(c.built, 1);
    cr_assert_eq(c.lost, 1, "the connection ended with the reactor");
    cr_assert_eq(c.clean, 1, "cleanly, its buffer sent");
    cr_assert_eq(c.destroyed, 1);
    int status;
    cr_assert_eq(waitpid(reader, &status, 0), reader);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client got all 1 MiB, then EOF");
    close(fd);
    /* The port stopped listening at shutdown; stopping it again is fine. */
    weft_deferred_unref(weft_port_stop(port));
    weft_reactor_free(r);
}

WEFT_TEST(teardown, shutdown_aborts_what_the_grace_cannot_send)
{
    weft_reactor *r;
    weft_reactor_options o = {.shutdown_grace = 0.2};
    cr_assert_eq(weft_reactor_new(&o, &r), 0);
    /* 64 MiB to a client that never reads: the grace cannot flush it. */
    counts c = {.send_on_connect = 64 << 20, .stop_on_connect = true};
    weft_factory f = {.ops = &conn_factory_ops, .arg = &c};
    weft_port *port;
    int fd = weft_test_dial(listen_here(r, &f, &port));
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_eq(c.lost, 1);
    cr_assert_eq(c.aborted, 1, "aborted once the grace was over");
    cr_assert_eq(c.destroyed, 1);
    close(fd);
    weft_reactor_free(r); /* the port, never stopped, is freed here */
}

/* ---- coroutines ---- */

typedef struct sleeper {
    weft_reactor *r;
    int code;
    bool cleaned_up;
} sleeper;

static weft_result sleep_long(void *arg)
{
    sleeper *s = arg;
    weft_result res = weft_sleep(s->r, 1000);
    s->code = weft_failure_code(weft_result_failure(res));
    weft_result_free(res);
    s->cleaned_up = true;
    return weft_none();
}

static void stop_soon(void *arg)
{
    weft_reactor_stop(arg);
}

WEFT_TEST(teardown, shutdown_cancels_what_coroutines_await)
{
    weft_reactor *r = weft_test_reactor();
    sleeper s = {.r = r};
    weft_deferred *d = weft_coro_spawn(r, sleep_long, &s);
    cr_assert_eq(weft_reactor_call_soon(r, stop_soon, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert(s.cleaned_up, "the coroutine ran to its end");
    cr_assert_eq(s.code, WEFT_ECANCELED, "its await was cancelled");
    cr_assert(weft_deferred_called(d));
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static weft_result sleep_again_and_again(void *arg)
{
    sleeper *s = arg;
    /* Ignores more cancels than shutdown makes: shutdown gives up on it,
     * and weft_reactor_free's own rounds of cancels end it. */
    for (int i = 0; i < 20; i++) {
        weft_result res = weft_sleep(s->r, 1000);
        weft_result_free(res);
    }
    s->cleaned_up = true;
    return weft_none();
}

WEFT_TEST(teardown, a_coroutine_that_will_not_end_does_not_hang_shutdown)
{
    weft_reactor *r = weft_test_reactor();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    sleeper s = {.r = r};
    weft_deferred *d = weft_coro_spawn(r, sleep_again_and_again, &s);
    cr_assert_eq(weft_reactor_call_soon(r, stop_soon, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert(weft_test_log_contains(&log, "would not end"), "shutdown said what it gave up on");
    cr_assert(weft_test_log_contains(&log, "coroutine"));
    cr_assert(!s.cleaned_up);
    weft_deferred_unref(d); /* a reactor's Deferreds go before it */
    weft_reactor_free(r);
    cr_assert(s.cleaned_up, "weft_reactor_free ended it");
}

/* ---- weft_reactor_free without run ---- */

typedef struct drops {
    int ran, dropped;
} drops;

static void call_ran(void *arg)
{
    ((drops *)arg)->ran++;
}

static void call_dropped(void *arg)
{
    ((drops *)arg)->dropped++;
}

WEFT_TEST(teardown, free_drops_queued_calls_and_timers_through_their_drop)
{
    weft_reactor *r = weft_test_reactor();
    drops x = {0};
    weft_timer t;
    cr_assert_eq(weft_reactor_call_soon_full(r, call_ran, &x, call_dropped), 0);
    cr_assert_eq(weft_call_later_full(r, 100, call_ran, &x, call_dropped, NULL), 0);
    cr_assert_eq(weft_call_later_full(r, 100, call_ran, &x, call_dropped, &t), 0);
    cr_assert_eq(weft_timer_cancel(r, t), 0);
    cr_assert_eq(x.dropped, 1, "a cancelled timer's drop runs at once");
    weft_reactor_free(r);
    cr_assert_eq(x.ran, 0);
    cr_assert_eq(x.dropped, 3, "every call that will never run was dropped");
}

WEFT_TEST(teardown, free_ends_connections_still_open)
{
    weft_reactor *r = weft_test_reactor();
    counts c = {0};
    weft_factory f = {.ops = &conn_factory_ops, .arg = &c};
    weft_port *port;
    int fd = weft_test_dial(listen_here(r, &f, &port));
    for (int i = 0; i < 1000 && c.built == 0; i++)
        cr_assert_eq(weft_reactor_iterate(r, 0.01), 0);
    cr_assert_eq(c.built, 1);
    weft_reactor_free(r);
    cr_assert_eq(c.lost, 1, "connection_lost ran in weft_reactor_free");
    cr_assert_eq(c.destroyed, 1);
    char b;
    cr_assert_leq(read(fd, &b, 1), 0, "and the socket is closed");
    close(fd);
}

/* ---- walk ---- */

typedef struct seen {
    int connections, ports, coroutines, timers, calls;
    char text[4096];
} seen;

static void saw(void *arg, const char *kind, const char *what)
{
    seen *s = arg;
    if (strcmp(kind, "connection") == 0)
        s->connections++;
    else if (strcmp(kind, "port") == 0)
        s->ports++;
    else if (strcmp(kind, "coroutine") == 0)
        s->coroutines++;
    else if (strcmp(kind, "timer") == 0)
        s->timers++;
    else if (strcmp(kind, "call") == 0)
        s->calls++;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "%s %s\n", kind, what);
}

static weft_result wait_forever(void *arg)
{
    weft_deferred *never = arg;
    weft_result_free(weft_await(never));
    return weft_none();
}

WEFT_TEST(teardown, walk_lists_what_is_alive)
{
    weft_reactor *r = weft_test_reactor();
    counts c = {0};
    weft_factory f = {.ops = &conn_factory_ops, .arg = &c};
    weft_port *port;
    int portno = listen_here(r, &f, &port);
    int fd = weft_test_dial(portno);
    for (int i = 0; i < 1000 && c.built == 0; i++)
        cr_assert_eq(weft_reactor_iterate(r, 0.01), 0);
    weft_deferred *never = weft_deferred_new(r);
    weft_deferred *co = weft_coro_spawn(r, wait_forever, weft_deferred_ref(never));
    cr_assert_eq(weft_call_later(r, 50, call_ran, NULL, NULL), 0);
    cr_assert_eq(weft_reactor_call_soon(r, call_ran, &(drops){0}), 0);
    seen s = {0};
    size_t n = weft_reactor_walk(r, saw, &s);
    cr_assert_eq(s.ports, 1, "%s", s.text);
    cr_assert_geq(s.connections, 1, "%s", s.text);
    cr_assert_eq(s.coroutines, 1, "%s", s.text);
    cr_assert_geq(s.timers, 1, "%s", s.text);
    cr_assert_eq(s.calls, 1, "%s", s.text);
    cr_assert_geq(n, 5u);
    char where[32];
    snprintf(where, sizeof where, "127.0.0.1:%d", portno);
    cr_assert(strstr(s.text, where), "the port and the connection show their address:\n%s", s.text);
    cr_assert(strstr(s.text, "test_teardown.c"), "the coroutine says where what it awaits was made:\n%s", s.text);
    weft_deferred_unref(never);
    weft_deferred_unref(co);
    weft_reactor_free(r); /* ends the connection and the coroutine */
    close(fd);
}

/* ---- one-call listen and connect ---- */

WEFT_TEST(teardown, listen_on_fails_with_the_reason_for_a_bad_string)
{
    weft_reactor *r = weft_test_reactor();
    counts c = {0};
    weft_factory f = {.ops = &conn_factory_ops, .arg = &c};
    weft_deferred *d = weft_listen_on(r, "tcp:80:bogus=1", &f);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert(weft_failed(res));
    cr_assert(strstr(weft_failure_message(weft_result_failure(res)), "bogus"));
    weft_result_free(res);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(teardown, connect_protocol_frees_an_unused_protocol)
{
    weft_reactor *r = weft_test_reactor();
    counts c = {0};
    conn *k = calloc(1, sizeof *k);
    k->base.ops = &conn_ops;
    k->c = &c;
    /* Port 1 on loopback: refused. */
    weft_deferred *d = weft_connect_protocol(r, "tcp:host=127.0.0.1:port=1", &k->base);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert(weft_failed(res));
    weft_result_free(res);
    weft_deferred_unref(d);
    cr_assert_eq(c.destroyed, 1, "the protocol that never connected was destroyed");
    weft_reactor_free(r);
}

static weft_deferred *count_up(void *arg)
{
    (*(int *)arg)++;
    return NULL;
}

WEFT_TEST(teardown, connect_protocol_connects_the_protocol_given)
{
    weft_reactor *r = weft_test_reactor();
    counts server = {0}, client = {0};
    weft_factory f = {.ops = &conn_factory_ops, .arg = &server};
    weft_port *port;
    char where[64];
    snprintf(where, sizeof where, "tcp:host=127.0.0.1:port=%d", listen_here(r, &f, &port));
    conn *k = calloc(1, sizeof *k);
    k->base.ops = &conn_ops;
    k->c = &client;
    weft_deferred *d = weft_connect_protocol(r, where, &k->base);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert(!weft_failed(res));
    cr_assert_eq(res.value, &k->base, "the Deferred gives the protocol connected");
    weft_deferred_unref(d);
    int after = 0;
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_AFTER, WEFT_EVENT_SHUTDOWN, count_up, &after, NULL), 0);
    cr_assert_eq(weft_reactor_call_soon(r, stop_soon, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_eq(after, 1, "the after triggers ran once the connections were gone");
    cr_assert_eq(client.destroyed, 1);
    cr_assert_eq(server.destroyed, 1);
    weft_reactor_free(r);
}

/* ---- the agent's leak (issue 11): a queued call held a reference ---- */

static void hello(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply(req, 200, "text/plain", "hello", 5);
}

WEFT_TEST(teardown, an_agent_request_read_then_freed_leaks_nothing)
{
    weft_reactor *r = weft_test_reactor();
    weft_http_resource *root = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on(root, "GET", hello, NULL), 0);
    weft_http_resource_set_leaf(root, true);
    weft_http_server *server = weft_http_server_new(r, root, NULL);
    weft_port *port;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", listen_here(r, weft_http_server_factory(server), &port));
    weft_http_agent *agent = weft_http_agent_new(r, NULL);
    weft_deferred *d = weft_http_agent_request(agent, "GET", url, NULL, NULL, 0);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert(!weft_failed(res));
    weft_deferred_unref(d);
    weft_deferred *body = weft_http_response_read_body(res.value, 0);
    cr_assert_eq(weft_reactor_run_until(r, body, 10), 0);
    weft_result bytes;
    cr_assert_eq(weft_deferred_take(body, &bytes), 0);
    cr_assert(!weft_failed(bytes));
    cr_assert_eq(((weft_bytes *)bytes.value)->len, 5u);
    weft_result_free(bytes);
    weft_deferred_unref(body);
    weft_result_free(res);
    /* No iteration in between: whatever is queued is dropped, not leaked. */
    weft_http_agent_free(agent);
    weft_deferred_unref(weft_port_stop(port));
    weft_http_server_free(server);
    weft_reactor_free(r);
}
