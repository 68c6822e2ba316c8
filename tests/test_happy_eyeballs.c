/* SPDX-License-Identifier: MIT */
/* Connecting by name with Happy Eyeballs v2, against the test DNS server:
 * IPv6 preferred, a black-holed IPv6 overtaken by IPv4, fast failures,
 * resolver errors, the overall timeout, cancel. The black hole is a
 * loopback listener whose accept queue is full: the kernel drops new SYNs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"
#include "test.h"

typedef struct fixture {
    weft_reactor *r;
    weft_test_dns *dns;
    weft_resolver *res;
    weft_factory echo;
    weft_port *v4, *v6;
    int port;
    int hole_fd, hole_client;
} fixture;

static void setup(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->hole_fd = fx->hole_client = -1;
    fx->r = weft_test_reactor();
    fx->dns = weft_test_dns_start(fx->r);
    weft_test_dns_add(fx->dns, "dual.test", "::1");
    weft_test_dns_add(fx->dns, "dual.test", "127.0.0.1");
    weft_resolver_options o = {.servers = weft_test_dns_server(fx->dns), .timeout = 1, .tries = 1};
    cr_assert_eq(weft_resolver_new(fx->r, &o, &fx->res), 0);
    weft_echo_factory_init(&fx->echo);
    /* A port free on both families: IPv4 first, then the same on IPv6. */
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_listen(fx->r, &a, &fx->echo, NULL, &fx->v4), 0);
    weft_port_address(fx->v4, &a);
    fx->port = weft_address_port(&a);
}

static void serve_v6(fixture *fx)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("::1", fx->port, &a), 0);
    cr_assert_eq(weft_listen(fx->r, &a, &fx->echo, NULL, &fx->v6), 0);
}

static void black_hole_v6(fixture *fx)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)fx->port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    fx->hole_fd = socket(AF_INET6, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fx->hole_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    cr_assert_eq(bind(fx->hole_fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fx->hole_fd, 0), 0);
    /* One connection fills the queue; it is never accepted. */
    fx->hole_client = socket(AF_INET6, SOCK_STREAM, 0);
    cr_assert_eq(connect(fx->hole_client, (struct sockaddr *)&a, sizeof a), 0);
}

static void teardown(fixture *fx)
{
    if (fx->v4)
        weft_deferred_unref(weft_port_stop(fx->v4));
    if (fx->v6)
        weft_deferred_unref(weft_port_stop(fx->v6));
    if (fx->hole_fd >= 0)
        close(fx->hole_fd);
    if (fx->hole_client >= 0)
        close(fx->hole_client);
    weft_resolver_free(fx->res);
    weft_test_dns_stop(fx->dns);
    for (int i = 0; i < 5; i++)
        weft_reactor_iterate(fx->r, 0);
    weft_reactor_free(fx->r);
}

typedef struct client {
    weft_protocol base;
    bool lost;
} client;

static void c_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((client *)p)->lost = true;
}

static const weft_protocol_ops client_ops = {.connection_lost = c_lost};

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

/* Connects; returns the peer's family (AF_INET/AF_INET6) or the failure code. */
static int connect_dual(fixture *fx, const char *name, double timeout, client *c, one *f)
{
    *c = (client){.base.ops = &client_ops};
    *f = (one){.base.ops = &one_ops, .c = c};
    weft_connect_options o = {.resolver = fx->res, .timeout = timeout};
    weft_deferred *d = weft_connect_host(fx->r, name, fx->port, &f->base, &o);
    cr_assert_not_null(d);
    cr_assert_eq(weft_reactor_run_until(fx->r, d, 20), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    if (weft_failed(res)) {
        int code = weft_failure_code(weft_result_failure(res));
        cr_log_info("%s", weft_failure_message(weft_result_failure(res)));
        weft_result_free(res);
        return code;
    }
    cr_assert_eq(res.value, &c->base);
    weft_address peer;
    cr_assert_eq(weft_transport_peer(c->base.transport, &peer), 0);
    int fam = weft_address_family(&peer);
    weft_transport_abort_connection(c->base.transport);
    for (int i = 0; i < 100 && !c->lost; i++)
        weft_reactor_iterate(fx->r, 0.01);
    return fam;
}

WEFT_TEST(happy_eyeballs, ipv6_preferred_when_both_answer, .timeout = 30)
{
    fixture fx;
    setup(&fx);
    serve_v6(&fx);
    client c;
    one f;
    cr_assert_eq(connect_dual(&fx, "dual.test", 10, &c, &f), AF_INET6);
    teardown(&fx);
}

WEFT_TEST(happy_eyeballs, black_holed_ipv6_overtaken_by_ipv4, .timeout = 30)
{
    fixture fx;
    setup(&fx);
    black_hole_v6(&fx);
    client c;
    one f;
    cr_assert_eq(connect_dual(&fx, "dual.test", 10, &c, &f), AF_INET);
    teardown(&fx);
}

WEFT_TEST(happy_eyeballs, refused_ipv6_falls_to_ipv4_at_once, .timeout = 30)
{
    fixture fx;
    setup(&fx); /* nothing on [::1]:port: refused */
    client c;
    one f;
    cr_assert_eq(connect_dual(&fx, "dual.test", 10, &c, &f), AF_INET);
    teardown(&fx);
}

WEFT_TEST(happy_eyeballs, all_refused, .timeout = 30)
{
    fixture fx;
    setup(&fx);
    weft_deferred_unref(weft_port_stop(fx.v4));
    fx.v4 = NULL;
    client c;
    one f;
    cr_assert_eq(connect_dual(&fx, "dual.test", 10, &c, &f), -ECONNREFUSED);
    teardown(&fx);
}

WEFT_TEST(happy_eyeballs, resolver_failure_passes_through, .timeout = 30)
{
    fixture fx;
    setup(&fx);
    client c;
    one f;
    cr_assert_eq(connect_dual(&fx, "nosuch.test", 10, &c, &f), WEFT_ENOTFOUND);
    teardown(&fx);
}

WEFT_TEST(happy_eyeballs, one_timeout_covers_the_race, .timeout = 30)
{
    fixture fx;
    setup(&fx);
    black_hole_v6(&fx);
    weft_test_dns_add(fx.dns, "hole.test", "::1");
    client c;
    one f;
    cr_assert_eq(connect_dual(&fx, "hole.test", 0.5, &c, &f), -ETIMEDOUT);
    teardown(&fx);
}

WEFT_TEST(happy_eyeballs, cancel_mid_race, .timeout = 30)
{
    fixture fx;
    setup(&fx);
    black_hole_v6(&fx);
    weft_test_dns_add(fx.dns, "hole.test", "::1");
    client c = {.base.ops = &client_ops};
    one f = {.base.ops = &one_ops, .c = &c};
    weft_connect_options o = {.resolver = fx.res};
    weft_deferred *d = weft_connect_host(fx.r, "hole.test", fx.port, &f.base, &o);
    for (int i = 0; i < 10; i++)
        weft_reactor_iterate(fx.r, 0.01);
    weft_deferred_cancel(d);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert_eq(weft_failure_code(weft_result_failure(res)), WEFT_ECANCELED);
    weft_result_free(res);
    weft_deferred_unref(d);
    teardown(&fx);
}
