/* SPDX-License-Identifier: MIT */
/* A small authoritative DNS server for the tests, on 127.0.0.1 (UDP, port
 * 0), running on the test's own reactor. It knows: NAME.test with the
 * addresses added; "slow.test", which it never answers; every other name is
 * NXDOMAIN. */
#ifndef WEFT_TEST_DNS_H
#define WEFT_TEST_DNS_H

#include "weft/weft.h"

typedef struct weft_test_dns weft_test_dns;

weft_test_dns *weft_test_dns_start(weft_reactor *r);
/* Adds an A or AAAA record (by the address' family) for name. */
void weft_test_dns_add(weft_test_dns *d, const char *name, const char *ip);
/* "127.0.0.1:PORT", for weft_resolver_options.servers. */
const char *weft_test_dns_server(const weft_test_dns *d);
/* Queries answered so far. */
int weft_test_dns_queries(const weft_test_dns *d);
/* Stops it; it is freed in the reactor's next close step. */
void weft_test_dns_stop(weft_test_dns *d);

#endif
