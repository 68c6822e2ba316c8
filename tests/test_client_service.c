/* SPDX-License-Identifier: MIT */
/* ClientService: reconnection with exponential back-off and jitter, reset
 * after success, on the fake clock (the connections themselves are real,
 * on loopback). */
#include <stdio.h>
#include <stdlib.h>

#include "test.h"

static int free_port(weft_reactor *r)
{
    weft_factory f;
    weft_echo_factory_init(&f);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    weft_port *p;
    cr_assert_eq(weft_listen(r, &a, &f, NULL, &p), 0);
    cr_assert_eq(weft_port_address(p, &a), 0);
    weft_deferred_unref(weft_port_stop(p));
    return weft_address_port(&a);
}

static weft_endpoint *client_endpoint(weft_reactor *r, int port)
{
    char desc[64];
    snprintf(desc, sizeof desc, "tcp:host=127.0.0.1:port=%d", port);
    weft_endpoint *e;
    cr_assert_eq(weft_endpoint_client(r, desc, &e, NULL), 0);
    return e;
}

/* Iterates (I/O only: the clock is fake) until the service has failed
 * `want` times in all. */
static void until_failures(weft_reactor *r, weft_client_service *s, unsigned want)
{
    for (int i = 0; i < 1000 && weft_client_service_failures(s) < want; i++)
        weft_reactor_iterate(r, 0.05);
    cr_assert_eq(weft_client_service_failures(s), want);
}

static double next_retry_in(weft_reactor *r)
{
    weft_timer t[4];
    cr_assert_eq(weft_clock_calls(r, t, 4), 1, "exactly one retry is pending");
    return weft_timer_time(r, t[0]) - weft_reactor_now(r);
}

WEFT_TEST(client_service, backoff_grows_to_its_cap_then_resets_after_success, .timeout = 60)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    int port = free_port(r);
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_backoff policy = {.initial = 1, .factor = 2, .max = 5};
    weft_client_service *s = weft_client_service_new(r, client_endpoint(r, port), &echo, &policy, 1);
    cr_assert_not_null(s);
    weft_deferred *connected = weft_client_service_when_connected(s);
    cr_assert_eq(weft_client_service_start(s), 0);
    cr_assert_eq(weft_client_service_start(s), WEFT_ERUNNING);

    double want[5] = {1, 2, 4, 5, 5};
    for (unsigned i = 0; i < 5; i++) {
        until_failures(r, s, i + 1);
        cr_assert_float_eq(next_retry_in(r), want[i], 1e-9, "retry %u in %g s", i, next_retry_in(r));
        if (i < 4)
            cr_assert_eq(weft_clock_advance(r, want[i]), 0);
    }
    cr_assert(weft_test_log_contains(&log, "retrying"));
    cr_assert(!weft_deferred_called(connected));

    /* The server comes up: the next attempt connects. */
    weft_wrapping_factory *server = weft_wrapping_factory_new(r, &echo);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", port, &a), 0);
    weft_port *p;
    cr_assert_eq(weft_listen(r, &a, weft_wrapping_factory_base(server), NULL, &p), 0);
    cr_assert_eq(weft_clock_advance(r, 5), 0);
    cr_assert_eq(weft_reactor_run_until(r, connected, 10), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(connected, &res));
    cr_assert(!weft_failed(res));
    cr_assert_not_null(res.value);
    cr_assert_eq(weft_client_service_failures(s), 0, "success resets the back-off");

    /* The server drops us: the service reconnects after the initial delay. */
    for (int i = 0; i < 100 && weft_wrapping_factory_count(server) == 0; i++)
        weft_reactor_iterate(r, 0.05);
    weft_wrapping_factory_close_all(server, true);
    until_failures(r, s, 1);
    cr_assert_float_eq(next_retry_in(r), 1.0, 1e-9);
    weft_deferred *again = weft_client_service_when_connected(s);
    cr_assert_eq(weft_clock_advance(r, 1), 0);
    cr_assert_eq(weft_reactor_run_until(r, again, 10), 0);

    weft_deferred *stopped = weft_client_service_stop(s);
    cr_assert_eq(weft_reactor_run_until(r, stopped, 10), 0);
    cr_assert_eq(weft_clock_calls(r, NULL, 0), 0, "no retry after stop");
    weft_deferred_unref(stopped);
    weft_deferred_unref(again);
    weft_deferred_unref(connected);
    weft_deferred_unref(weft_port_stop(p));
    weft_client_service_free(s);
    weft_wrapping_factory_free(server);
    weft_reactor_free(r);
}

static double first_delay(uint64_t seed, double jitter)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_backoff policy = {.initial = 10, .jitter = jitter};
    weft_client_service *s = weft_client_service_new(r, client_endpoint(r, free_port(r)), &echo, &policy, seed);
    cr_assert_eq(weft_client_service_start(s), 0);
    until_failures(r, s, 1);
    double d = next_retry_in(r);
    weft_client_service_free(s);
    weft_reactor_free(r);
    return d;
}

WEFT_TEST(client_service, jitter_is_bounded_and_seeded, .timeout = 60)
{
    double a = first_delay(42, 0.5), b = first_delay(42, 0.5), c = first_delay(7, 0.5);
    cr_assert_eq(a, b, "the same seed gives the same delays");
    cr_assert_neq(a, c);
    cr_assert(a >= 5 && a <= 15 && c >= 5 && c <= 15, "%g and %g within 10 s +- 50%%", a, c);
}

WEFT_TEST(client_service, stop_while_waiting_cancels_waiters)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_client_service *s = weft_client_service_new(r, client_endpoint(r, free_port(r)), &echo, NULL, 1);
    weft_deferred *w = weft_client_service_when_connected(s);
    cr_assert_eq(weft_client_service_start(s), 0);
    until_failures(r, s, 1);
    weft_deferred *stopped = weft_client_service_stop(s);
    weft_result res;
    cr_assert(weft_deferred_peek(w, &res));
    cr_assert_eq(weft_failure_code(weft_result_failure(res)), WEFT_ECANCELED);
    cr_assert(weft_deferred_called(stopped));
    cr_assert_eq(weft_clock_calls(r, NULL, 0), 0);
    weft_result taken;
    cr_assert_eq(weft_deferred_take(w, &taken), 0);
    weft_result_free(taken);
    weft_deferred_unref(w);
    weft_deferred_unref(stopped);
    weft_client_service_free(s);
    weft_reactor_free(r);
}

WEFT_TEST(client_service, backoff_delays)
{
    weft_backoff d = {0};
    cr_assert_float_eq(weft_backoff_delay(&d, 0), 1.0, 1e-12);
    cr_assert_float_eq(weft_backoff_delay(&d, 2), 2.25, 1e-12);
    cr_assert_float_eq(weft_backoff_delay(&d, 100), 60.0, 1e-12);
}
