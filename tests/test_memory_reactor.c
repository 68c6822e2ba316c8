/* SPDX-License-Identifier: MIT */
/* The memory reactor: listens and connects recorded, not made. */
#include "test.h"
#include "weft/memory_reactor.h"

WEFT_TEST(memory_reactor, records_listens_and_connects)
{
    weft_reactor *r = weft_test_clock();
    cr_assert_eq(weft_memory_reactor_install(r), 0);
    weft_factory echo;
    weft_echo_factory_init(&echo);

    weft_endpoint *e;
    cr_assert_eq(weft_endpoint_server(r, "tcp:8080:interface=127.0.0.1:backlog=7", &e, NULL), 0);
    weft_deferred *ld = weft_endpoint_listen(e, &echo);
    weft_endpoint_free(e);
    weft_result res;
    cr_assert(weft_deferred_peek(ld, &res));
    cr_assert(!weft_failed(res));
    weft_port *port = res.value;

    const weft_memory_listen *ls;
    cr_assert_eq(weft_memory_reactor_listens(r, &ls), 1);
    cr_assert_eq(weft_address_port(&ls[0].addr), 8080);
    cr_assert_eq(ls[0].opts.backlog, 7);
    cr_assert_eq(ls[0].factory, &echo);
    cr_assert_eq(echo.users, 1, "the factory was started");
    weft_address a;
    cr_assert_eq(weft_port_address(port, &a), 0);
    cr_assert_eq(weft_address_port(&a), 8080);

    cr_assert_eq(weft_endpoint_client(r, "tcp:host=192.0.2.7:port=80:timeout=7", &e, NULL), 0);
    weft_deferred *cd = weft_endpoint_connect(e, &echo);
    weft_endpoint_free(e);
    const weft_memory_connect *cs;
    cr_assert_eq(weft_memory_reactor_connects(r, &cs), 1);
    char text[64];
    weft_address_format(&cs[0].addr, text, sizeof text);
    cr_assert_str_eq(text, "192.0.2.7:80");
    cr_assert_float_eq(cs[0].opts.timeout, 7.0, 1e-9);
    cr_assert(!weft_deferred_called(cd));
    cr_assert_eq(weft_memory_reactor_fail_connect(r, 0, -ECONNREFUSED), 0);
    cr_assert_eq(weft_memory_reactor_fail_connect(r, 0, -ECONNREFUSED), WEFT_EALREADYCALLED);
    cr_assert_eq(weft_memory_reactor_fail_connect(r, 5, -ECONNREFUSED), WEFT_EINVAL);
    weft_result cres;
    cr_assert_eq(weft_deferred_take(cd, &cres), 0);
    cr_assert_eq(weft_failure_code(weft_result_failure(cres)), -ECONNREFUSED);
    weft_result_free(cres);

    weft_deferred_unref(weft_port_stop(port));
    cr_assert_eq(weft_memory_reactor_listens(r, &ls), 1);
    cr_assert(ls[0].stopped);
    cr_assert_eq(echo.users, 0);
    weft_deferred_unref(ld);
    weft_deferred_unref(cd);
    weft_reactor_free(r);
}
