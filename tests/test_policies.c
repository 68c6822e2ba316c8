/* SPDX-License-Identifier: MIT */
/* Policies over real loopback connections, their timers on the fake clock:
 * idle timeouts, throttling, traffic logging; and the connection limit of
 * the wrapping factory. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

typedef struct client {
    weft_protocol base;
    size_t got;
    bool lost;
} client;

static void c_data(weft_protocol *p, const void *data, size_t len)
{
    (void)data;
    ((client *)p)->got += len;
}

static void c_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((client *)p)->lost = true;
}

static const weft_protocol_ops client_ops = {.data_received = c_data, .connection_lost = c_lost};

typedef struct one {
    weft_factory base;
    client *c;
} one;

static weft_protocol *build_one(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    return &((one *)f)->c->base;
}

static const weft_factory_ops one_ops = {.build = build_one};

typedef struct fixture {
    weft_reactor *r;
    weft_factory echo;
    weft_port *port;
    client c;
    one f;
    weft_test_log log;
} fixture;

/* Listens with `server` and connects a client to it. */
static void setup(fixture *fx, weft_factory *(*make)(fixture *))
{
    memset(fx, 0, sizeof *fx);
    fx->r = weft_test_clock();
    weft_test_log_capture(fx->r, &fx->log);
    weft_logger_set_level(weft_reactor_logger(fx->r), "", WEFT_LOG_DEBUG);
    weft_echo_factory_init(&fx->echo);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_listen(fx->r, &a, make(fx), NULL, &fx->port), 0);
    cr_assert_eq(weft_port_address(fx->port, &a), 0);
    fx->c.base.ops = &client_ops;
    fx->f.base.ops = &one_ops;
    fx->f.c = &fx->c;
    weft_deferred *d = weft_connect(fx->r, &a, &fx->f.base, NULL);
    cr_assert_eq(weft_reactor_run_until(fx->r, d, 10), 0);
    weft_deferred_unref(d);
    cr_assert_not_null(fx->c.base.transport);
}

static void pump(fixture *fx, int rounds)
{
    for (int i = 0; i < rounds; i++)
        weft_reactor_iterate(fx->r, 0.01);
}

static void send_and_wait(fixture *fx, size_t n)
{
    char *buf = calloc(1, n);
    size_t before = fx->c.got;
    cr_assert_eq(weft_transport_write(fx->c.base.transport, buf, n), 0);
    for (int i = 0; i < 500 && fx->c.got < before + n; i++)
        weft_reactor_iterate(fx->r, 0.01);
    cr_assert_eq(fx->c.got, before + n);
    free(buf);
}

static void teardown(fixture *fx)
{
    if (fx->c.base.transport)
        weft_transport_abort_connection(fx->c.base.transport);
    weft_deferred_unref(weft_port_stop(fx->port));
    pump(fx, 5);
}

/* ---- idle timeout ---- */

static weft_policy_factory *current;

static weft_factory *make_timeout(fixture *fx)
{
    current = weft_timeout_factory_new(fx->r, &fx->echo, 10);
    return weft_policy_factory_base(current);
}

WEFT_TEST(policies, idle_connections_time_out, .timeout = 30)
{
    fixture fx;
    setup(&fx, make_timeout);
    send_and_wait(&fx, 10);
    cr_assert_eq(weft_clock_advance(fx.r, 6), 0);
    send_and_wait(&fx, 10); /* activity at 6 s: the period starts again */
    cr_assert_eq(weft_clock_advance(fx.r, 9), 0);
    pump(&fx, 5);
    cr_assert(!fx.c.lost, "15 s in, but only 9 s idle");
    cr_assert_eq(weft_clock_advance(fx.r, 1), 0);
    for (int i = 0; i < 500 && !fx.c.lost; i++)
        weft_reactor_iterate(fx.r, 0.01);
    cr_assert(fx.c.lost, "10 s idle: closed");
    teardown(&fx);
    cr_assert_eq(weft_policy_factory_count(current), 0);
    weft_policy_factory_free(current);
    weft_reactor_free(fx.r);
}

/* TimeoutMixin on its own. */
static int expirations;

static void note_expiry(weft_idle_timeout *t)
{
    (void)t;
    expirations++;
}

WEFT_TEST(policies, idle_timeout_mixin)
{
    weft_reactor *r = weft_test_clock();
    weft_idle_timeout t = {0};
    cr_assert_eq(weft_idle_timeout_set(&t, r, 5, note_expiry), 0);
    weft_clock_advance(r, 4);
    weft_idle_timeout_reset(&t);
    weft_clock_advance(r, 4);
    cr_assert_eq(expirations, 0);
    weft_clock_advance(r, 1);
    cr_assert_eq(expirations, 1);
    weft_idle_timeout_reset(&t); /* after expiry: no re-arm, as Twisted */
    weft_clock_advance(r, 10);
    cr_assert_eq(expirations, 1);
    cr_assert_eq(weft_idle_timeout_set(&t, r, 2, note_expiry), 0);
    cr_assert_eq(weft_idle_timeout_set(&t, r, 0, note_expiry), 0); /* disarm */
    weft_clock_advance(r, 10);
    cr_assert_eq(expirations, 1);
    weft_reactor_free(r);
}

/* ---- throttling ---- */

static weft_factory *make_throttle(fixture *fx)
{
    current = weft_throttling_factory_new(fx->r, &fx->echo, 1000, 0);
    return weft_policy_factory_base(current);
}

WEFT_TEST(policies, throttling_pauses_reads_for_the_excess, .timeout = 30)
{
    fixture fx;
    setup(&fx, make_throttle);
    send_and_wait(&fx, 5000); /* five seconds' worth in the first second */
    cr_assert_eq(weft_clock_advance(fx.r, 1), 0); /* the tick: 4 s of throttle */
    cr_assert_eq(weft_transport_write(fx.c.base.transport, "late", 4), 0);
    pump(&fx, 20);
    cr_assert_eq(fx.c.got, 5000, "the server is not reading");
    cr_assert_eq(weft_clock_advance(fx.r, 3.9), 0);
    pump(&fx, 10);
    cr_assert_eq(fx.c.got, 5000);
    cr_assert_eq(weft_clock_advance(fx.r, 0.1), 0);
    for (int i = 0; i < 500 && fx.c.got < 5004; i++)
        weft_reactor_iterate(fx.r, 0.01);
    cr_assert_eq(fx.c.got, 5004, "reading again after the excess has passed");
    teardown(&fx);
    weft_policy_factory_free(current);
    weft_reactor_free(fx.r);
}

static weft_factory *make_write_throttle(fixture *fx)
{
    current = weft_throttling_factory_new(fx->r, &fx->echo, 0, 1000);
    return weft_policy_factory_base(current);
}

WEFT_TEST(policies, throttling_holds_writes, .timeout = 30)
{
    fixture fx;
    setup(&fx, make_write_throttle);
    send_and_wait(&fx, 3000);
    cr_assert_eq(weft_clock_advance(fx.r, 1), 0); /* 2 s of write throttle */
    cr_assert_eq(weft_transport_write(fx.c.base.transport, "held", 4), 0);
    pump(&fx, 20);
    cr_assert_eq(fx.c.got, 3000, "the echo is held back");
    cr_assert_eq(weft_clock_advance(fx.r, 2), 0);
    for (int i = 0; i < 500 && fx.c.got < 3004; i++)
        weft_reactor_iterate(fx.r, 0.01);
    cr_assert_eq(fx.c.got, 3004);
    teardown(&fx);
    weft_policy_factory_free(current);
    weft_reactor_free(fx.r);
}

/* ---- traffic logging ---- */

static weft_factory *make_logging(fixture *fx)
{
    current = weft_traffic_logging_factory_new(fx->r, &fx->echo, "test.traffic");
    return weft_policy_factory_base(current);
}

WEFT_TEST(policies, traffic_is_logged, .timeout = 30)
{
    fixture fx;
    setup(&fx, make_logging);
    cr_assert_eq(weft_transport_write(fx.c.base.transport, "hi\n", 3), 0);
    for (int i = 0; i < 500 && fx.c.got < 3; i++)
        weft_reactor_iterate(fx.r, 0.01);
    cr_assert(weft_test_log_contains(&fx.log, "connected"));
    cr_assert(weft_test_log_contains(&fx.log, "> 3 bytes: hi\\x0a"));
    cr_assert(weft_test_log_contains(&fx.log, "< 3 bytes: hi\\x0a"));
    weft_transport_lose_connection(fx.c.base.transport);
    for (int i = 0; i < 500 && weft_policy_factory_count(current) > 0; i++)
        weft_reactor_iterate(fx.r, 0.01);
    cr_assert(weft_test_log_contains(&fx.log, "gone"));
    teardown(&fx);
    weft_policy_factory_free(current);
    weft_reactor_free(fx.r);
}

/* ---- connection limit ---- */

static weft_wrapping_factory *limited;

static weft_factory *make_limited(fixture *fx)
{
    limited = weft_wrapping_factory_new(fx->r, &fx->echo);
    weft_wrapping_factory_set_limit(limited, 1);
    return weft_wrapping_factory_base(limited);
}

WEFT_TEST(policies, connection_limit_refuses_the_extra, .timeout = 30)
{
    fixture fx;
    setup(&fx, make_limited);
    send_and_wait(&fx, 10);
    client second = {.base.ops = &client_ops};
    one f2 = {.base.ops = &one_ops, .c = &second};
    weft_address a;
    weft_port_address(fx.port, &a);
    weft_deferred *d = weft_connect(fx.r, &a, &f2.base, NULL);
    cr_assert_eq(weft_reactor_run_until(fx.r, d, 10), 0);
    weft_deferred_unref(d);
    for (int i = 0; i < 500 && !second.lost; i++)
        weft_reactor_iterate(fx.r, 0.01);
    cr_assert(second.lost, "the second connection was closed at once");
    cr_assert(!fx.c.lost);
    cr_assert_eq(weft_wrapping_factory_count(limited), 1);
    teardown(&fx);
    weft_wrapping_factory_free(limited);
    weft_reactor_free(fx.r);
}
