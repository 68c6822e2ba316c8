/* SPDX-License-Identifier: MIT */
/* The c-ares resolver against a DNS server of the test's own on 127.0.0.1:
 * A, AAAA, both, NXDOMAIN, timeouts, cancelling, /etc/hosts, numeric
 * names, resolv.conf search domains. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "test.h"

typedef struct fixture {
    weft_reactor *r;
    weft_test_dns *dns;
    weft_resolver *res;
} fixture;

static void setup(fixture *fx, double timeout)
{
    fx->r = weft_test_reactor();
    fx->dns = weft_test_dns_start(fx->r);
    weft_test_dns_add(fx->dns, "www.test", "192.0.2.10");
    weft_test_dns_add(fx->dns, "www.test", "2001:db8::10");
    weft_test_dns_add(fx->dns, "v4only.test", "192.0.2.20");
    weft_resolver_options o = {.servers = weft_test_dns_server(fx->dns), .timeout = timeout, .tries = 1};
    cr_assert_eq(weft_resolver_new(fx->r, &o, &fx->res), 0);
}

static void teardown(fixture *fx)
{
    weft_resolver_free(fx->res);
    weft_test_dns_stop(fx->dns);
    weft_reactor_iterate(fx->r, 0);
    weft_reactor_free(fx->r);
}

/* Resolves and returns the result (the caller's). */
static weft_result lookup(fixture *fx, const char *name, int family)
{
    weft_deferred *d = weft_resolve(fx->res, name, family);
    cr_assert_not_null(d);
    cr_assert_eq(weft_reactor_run_until(fx->r, d, 10), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    return res;
}

static bool has(const weft_address_list *l, const char *ip)
{
    for (size_t i = 0; i < l->count; i++) {
        char text[64];
        weft_address_format(&l->addrs[i], text, sizeof text);
        char want[64];
        snprintf(want, sizeof want, strchr(ip, ':') ? "[%s]:0" : "%s:0", ip);
        if (strcmp(text, want) == 0)
            return true;
    }
    return false;
}

WEFT_TEST(resolver, both_families)
{
    fixture fx;
    setup(&fx, 2);
    weft_result r = lookup(&fx, "www.test", AF_UNSPEC);
    cr_assert(!weft_failed(r), "%s", weft_failure_message(weft_result_failure(r)));
    weft_address_list *l = r.value;
    cr_assert_eq(l->count, 2);
    cr_assert(has(l, "192.0.2.10") && has(l, "2001:db8::10"));
    weft_result_free(r);
    r = lookup(&fx, "WWW.test", AF_INET);
    cr_assert(!weft_failed(r));
    l = r.value;
    cr_assert_eq(l->count, 1);
    cr_assert(has(l, "192.0.2.10"));
    weft_result_free(r);
    r = lookup(&fx, "www.test", AF_INET6);
    cr_assert(has(r.value, "2001:db8::10"));
    weft_result_free(r);
    teardown(&fx);
}

WEFT_TEST(resolver, nxdomain_and_missing_family)
{
    fixture fx;
    setup(&fx, 2);
    weft_result r = lookup(&fx, "nosuch.test", AF_UNSPEC);
    cr_assert_eq(weft_failure_code(weft_result_failure(r)), WEFT_ENOTFOUND);
    cr_assert(strstr(weft_failure_message(weft_result_failure(r)), "nosuch.test") != NULL);
    weft_result_free(r);
    r = lookup(&fx, "v4only.test", AF_INET6);
    cr_assert_eq(weft_failure_code(weft_result_failure(r)), WEFT_ENOTFOUND);
    weft_result_free(r);
    teardown(&fx);
}

WEFT_TEST(resolver, timeout_when_no_server_answers)
{
    fixture fx;
    setup(&fx, 0.2);
    weft_result r = lookup(&fx, "slow.test", AF_INET);
    cr_assert_eq(weft_failure_code(weft_result_failure(r)), WEFT_ETIMEDOUT);
    cr_assert_geq(weft_test_dns_queries(fx.dns), 1, "the query did reach the server");
    weft_result_free(r);
    teardown(&fx);
}

WEFT_TEST(resolver, cancel_abandons_the_lookup)
{
    fixture fx;
    setup(&fx, 1);
    weft_deferred *d = weft_resolve(fx.res, "slow.test", AF_INET);
    weft_deferred_cancel(d);
    weft_result r;
    cr_assert_eq(weft_deferred_take(d, &r), 0);
    cr_assert_eq(weft_failure_code(weft_result_failure(r)), WEFT_ECANCELED);
    weft_result_free(r);
    weft_deferred_unref(d);
    /* Its answer (a timeout) comes later and finds nobody. */
    weft_deferred *other = weft_resolve(fx.res, "www.test", AF_INET);
    cr_assert_eq(weft_reactor_run_until(fx.r, other, 10), 0);
    weft_deferred_unref(other);
    teardown(&fx);
}

WEFT_TEST(resolver, hosts_file_and_numeric_names)
{
    fixture fx;
    setup(&fx, 1);
    weft_result r = lookup(&fx, "localhost", AF_INET);
    cr_assert(!weft_failed(r), "%s", weft_failure_message(weft_result_failure(r)));
    cr_assert(has(r.value, "127.0.0.1"), "/etc/hosts gives localhost");
    weft_result_free(r);
    r = lookup(&fx, "192.0.2.99", AF_UNSPEC);
    cr_assert(has(r.value, "192.0.2.99"), "a numeric name is itself");
    weft_result_free(r);
    cr_assert_eq(weft_test_dns_queries(fx.dns), 0, "neither asked the server");
    teardown(&fx);
}

WEFT_TEST(resolver, free_with_pending_lookups)
{
    fixture fx;
    setup(&fx, 5);
    weft_deferred *d = weft_resolve(fx.res, "slow.test", AF_INET);
    weft_resolver_free(fx.res);
    fx.res = NULL;
    weft_result r;
    cr_assert_eq(weft_deferred_take(d, &r), 0);
    cr_assert_eq(weft_failure_code(weft_result_failure(r)), WEFT_ECANCELED);
    weft_result_free(r);
    weft_deferred_unref(d);
    teardown(&fx);
}

WEFT_TEST(resolver, resolv_conf_search_domains)
{
    weft_reactor *r = weft_test_reactor();
    weft_test_dns *dns = weft_test_dns_start(r);
    weft_test_dns_add(dns, "www.weft.test", "192.0.2.30");
    char path[] = "/tmp/weft-resolv-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char conf[] = "search nothere.test weft.test\noptions ndots:1\n";
    cr_assert_eq(write(fd, conf, sizeof conf - 1), (ssize_t)(sizeof conf - 1));
    close(fd);
    weft_resolver_options o = {.servers = weft_test_dns_server(dns), .timeout = 2, .tries = 1, .resolv_conf = path};
    weft_resolver *res;
    cr_assert_eq(weft_resolver_new(r, &o, &res), 0);
    unlink(path);
    fixture fx = {r, dns, res};
    weft_result got = lookup(&fx, "www", AF_INET);
    cr_assert(!weft_failed(got), "%s", weft_failure_message(weft_result_failure(got)));
    cr_assert(has(got.value, "192.0.2.30"), "the second search domain answered");
    weft_result_free(got);
    teardown(&fx);
}
