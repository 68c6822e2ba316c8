/* SPDX-License-Identifier: MIT */
/* The test DNS server: a weft UDP protocol that parses one question and
 * answers from a table (RFC 1035 wire format, the basics). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dns.h"

typedef struct record {
    char name[64];
    int family;
    unsigned char addr[16];
} record;

struct weft_test_dns {
    weft_datagram_protocol base;
    weft_udp *udp;
    record records[16];
    int nrecords;
    char server[32];
    int queries;
};

static void answer(weft_datagram_protocol *p, const void *data, size_t len, const weft_address *from)
{
    weft_test_dns *d = (weft_test_dns *)p;
    const unsigned char *q = data;
    if (len < 12)
        return;
    char name[256] = "";
    size_t i = 12, n = 0;
    while (i < len && q[i] && n < sizeof name - 64) {
        if (n)
            name[n++] = '.';
        for (size_t k = 1; k <= q[i] && i + k < len; k++)
            name[n++] = (char)tolower(q[i + k]);
        i += 1 + q[i];
    }
    name[n] = '\0';
    if (i + 5 > len)
        return;
    size_t qend = i + 5; /* the zero label, type, class */
    int qtype = q[i + 1] << 8 | q[i + 2];
    d->queries++;
    if (strcmp(name, "slow.test") == 0)
        return; /* never answered: the resolver times out */
    unsigned char out[512];
    memcpy(out, q, qend);
    int found = 0, answers = 0;
    size_t o = qend;
    for (int r = 0; r < d->nrecords; r++) {
        if (strcmp(d->records[r].name, name) != 0)
            continue;
        found = 1;
        int fam = d->records[r].family;
        if ((qtype == 1 && fam != AF_INET) || (qtype == 28 && fam != AF_INET6))
            continue;
        size_t alen = fam == AF_INET ? 4 : 16;
        unsigned char rr[12] = {0xc0, 0x0c, 0, (unsigned char)qtype, 0, 1, 0, 0, 0, 60, 0, (unsigned char)alen};
        memcpy(out + o, rr, 12);
        memcpy(out + o + 12, d->records[r].addr, alen);
        o += 12 + alen;
        answers++;
    }
    out[2] = 0x84 | (q[2] & 0x01); /* response, authoritative, RD copied */
    out[3] = found ? 0x00 : 0x03;  /* NOERROR or NXDOMAIN */
    out[6] = 0;
    out[7] = (unsigned char)answers;
    out[8] = out[9] = out[10] = out[11] = 0;
    weft_udp_send(d->udp, out, o, from);
}

static void dns_destroy(weft_datagram_protocol *p)
{
    free(p);
}

static const weft_datagram_ops dns_ops = {.datagram_received = answer, .destroy = dns_destroy};

weft_test_dns *weft_test_dns_start(weft_reactor *r)
{
    weft_test_dns *d = calloc(1, sizeof *d);
    d->base.ops = &dns_ops;
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_udp_bind(r, &a, &d->base, &d->udp), 0);
    cr_assert_eq(weft_udp_address(d->udp, &a), 0);
    snprintf(d->server, sizeof d->server, "127.0.0.1:%d", weft_address_port(&a));
    return d;
}

void weft_test_dns_add(weft_test_dns *d, const char *name, const char *ip)
{
    record *rec = &d->records[d->nrecords++];
    snprintf(rec->name, sizeof rec->name, "%s", name);
    rec->family = strchr(ip, ':') ? AF_INET6 : AF_INET;
    cr_assert_eq(inet_pton(rec->family, ip, rec->addr), 1);
}

const char *weft_test_dns_server(const weft_test_dns *d)
{
    return d->server;
}

int weft_test_dns_queries(const weft_test_dns *d)
{
    return d->queries;
}

void weft_test_dns_stop(weft_test_dns *d)
{
    /* d is freed by its destroy, in the reactor's close step. */
    weft_udp_close(d->udp);
}
