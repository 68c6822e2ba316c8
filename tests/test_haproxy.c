/* SPDX-License-Identifier: MIT */
/* The haproxy: endpoint (the PROXY protocol) over real loopback
 * connections from plain sockets, the header timeout on the fake clock;
 * and the header parser alone. HAProxy itself in front is in
 * test_haproxy_interop.c. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/net/proxy_header.h"
#include "net.h"
#include "test.h"

/* ---- a server that records what it is told ---- */

typedef struct seen {
    int built, made, lost;
    weft_address build_peer, peer, host;
    weft_transport *t; /* while connected */
    char data[8192];
    size_t len;
    bool eof;
} seen;

typedef struct rec {
    weft_protocol base;
    seen *s;
} rec;

static void rec_made(weft_protocol *p)
{
    seen *s = ((rec *)p)->s;
    s->made++;
    s->t = p->transport;
    cr_assert_eq(weft_transport_peer(p->transport, &s->peer), 0);
    cr_assert_eq(weft_transport_host(p->transport, &s->host), 0);
}

static void rec_data(weft_protocol *p, const void *data, size_t len)
{
    seen *s = ((rec *)p)->s;
    cr_assert_leq(s->len + len, sizeof s->data);
    memcpy(s->data + s->len, data, len);
    s->len += len;
}

static bool rec_eof(weft_protocol *p)
{
    ((rec *)p)->s->eof = true;
    return false;
}

static void rec_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((rec *)p)->s->lost++;
    ((rec *)p)->s->t = NULL;
}

static void rec_destroy(weft_protocol *p)
{
    free(p);
}

static const weft_protocol_ops rec_ops = {rec_made, rec_data, rec_eof, rec_lost, rec_destroy};

typedef struct rec_factory {
    weft_factory base;
    seen *s;
} rec_factory;

static weft_protocol *rec_build(weft_factory *f, const weft_address *peer)
{
    rec_factory *rf = (rec_factory *)f;
    rec *p = calloc(1, sizeof *p);
    cr_assert_not_null(p);
    p->base.ops = &rec_ops;
    p->s = rf->s;
    rf->s->built++;
    rf->s->build_peer = *peer;
    return &p->base;
}

static const weft_factory_ops rec_factory_ops = {.build = rec_build};

/* ---- the fixture: a haproxy: server on the fake clock, real sockets ---- */

typedef struct fixture {
    weft_reactor *r;
    weft_test_log log;
    seen s;
    rec_factory f;
    weft_port *port;
    int portno;
} fixture;

static void start(fixture *fx, const char *desc)
{
    memset(fx, 0, sizeof *fx);
    fx->r = weft_test_clock();
    weft_test_log_capture(fx->r, &fx->log);
    fx->f.base.ops = &rec_factory_ops;
    fx->f.s = &fx->s;
    weft_endpoint *e;
    weft_failure *why;
    cr_assert_eq(weft_endpoint_server(fx->r, desc, &e, &why), 0, "%s", desc);
    weft_deferred *d = weft_endpoint_listen(e, &fx->f.base);
    weft_endpoint_free(e);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res) && !weft_failed(res), "%s does not listen", desc);
    fx->port = res.value;
    weft_deferred_unref(d);
    weft_address a;
    cr_assert_eq(weft_port_address(fx->port, &a), 0);
    fx->portno = weft_address_port(&a);
}

static void finish(fixture *fx)
{
    weft_deferred_unref(weft_port_stop(fx->port));
    weft_reactor_free(fx->r);
}

/* Runs the loop until `cond` holds (at most 1000 rounds of up to 10 ms). */
#define PUMP_UNTIL(fx, cond)                                                                                    \
    do {                                                                                                        \
        for (int round_ = 0; !(cond) && round_ < 1000; round_++)                                               \
            weft_reactor_iterate((fx)->r, 0.01);                                                                \
        cr_assert(cond, "waited in vain for " #cond);                                                           \
    } while (0)

static void send_bytes(int fd, const void *data, size_t len)
{
    cr_assert_eq(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len, "send: %s", strerror(errno));
}

/* Whether the server has closed fd's connection: EOF or a reset. */
static bool closed_by_server(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 1)
        return false;
    char b[64];
    ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
    cr_assert_leq(n, 0, "the server sent %zd bytes", n);
    return n == 0 || errno != EAGAIN;
}

static void check_address(const weft_address *a, const char *want)
{
    char got[128];
    weft_address_format(a, got, sizeof got);
    cr_assert_str_eq(got, want);
}

/* The client socket's own address, as the server's socket sees its peer. */
static void socket_name(int fd, bool peer, char *out, size_t size)
{
    weft_address a = {.len = sizeof a.u};
    cr_assert_eq(peer ? getpeername(fd, &a.u.sa, &a.len) : getsockname(fd, &a.u.sa, &a.len), 0);
    weft_address_format(&a, out, size);
}

/* ---- headers, as bytes ---- */

static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A v2 header: the signature, version/command, family/protocol, the
 * length of what follows, and that. */
static size_t v2(unsigned char *out, unsigned char ver_cmd, unsigned char fam, const void *rest, size_t n)
{
    memcpy(out, sig, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (unsigned char)(n >> 8);
    out[15] = (unsigned char)n;
    memcpy(out + 16, rest, n);
    return 16 + n;
}

/* 192.0.2.1:56324 to 198.51.100.2:443 */
static const unsigned char inet4[12] = {192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb};

/* ---- the peer and host are the header's ---- */

WEFT_TEST(haproxy, a_v1_header_names_the_peer_and_host_and_the_data_after_it_arrives)
{
    fixture fx;
    start(&fx, "haproxy:tcp:0:interface=127.0.0.1");
    int fd = weft_test_dial(fx.portno);
    /* Header and request in one packet: the request must not be lost. */
    static const char msg[] = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n\r\n";
    send_bytes(fd, msg, strlen(msg));
    PUMP_UNTIL(&fx, fx.s.len == strlen("GET / HTTP/1.1\r\n\r\n"));
    cr_assert_eq(fx.s.built, 1);
    cr_assert_eq(fx.s.made, 1);
    check_address(&fx.s.peer, "192.0.2.1:56324");
    check_address(&fx.s.host, "198.51.100.2:443");
    /* The factory was asked for a protocol for the client, not the proxy. */
    check_address(&fx.s.build_peer, "192.0.2.1:56324");
    cr_assert_eq(memcmp(fx.s.data, "GET / HTTP/1.1\r\n\r\n", fx.s.len), 0);
    close(fd);
    PUMP_UNTIL(&fx, fx.s.lost == 1);
    finish(&fx);
}

WEFT_TEST(haproxy, a_v2_header_over_ipv6_names_the_peer_and_host)
{
    fixture fx;
    start(&fx, "haproxy:tcp:0:interface=127.0.0.1");
    int fd = weft_test_dial(fx.portno);
    unsigned char addrs[36] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1, [16] = 0x20, 0x01, 0x0d, 0xb8, [31] = 2,
                               [32] = 0x30, 0x39, 0x00, 0x50};
    unsigned char h[64];
    size_t n = v2(h, 0x21, 0x21, addrs, sizeof addrs);
    memcpy(h + n, "ping", 4);
    send_bytes(fd, h, n + 4);
    PUMP_UNTIL(&fx, fx.s.len == 4);
    check_address(&fx.s.peer, "[2001:db8::1]:12345");
    check_address(&fx.s.host, "[2001:db8::2]:80");
    cr_assert_eq(memcmp(fx.s.data, "ping", 4), 0);
    close(fd);
    PUMP_UNTIL(&fx, fx.s.lost == 1);
    finish(&fx);
}

WEFT_TEST(haproxy, a_header_with_nothing_after_it_connects_the_protocol)
{
    fixture fx;
    start(&fx, "haproxy:tcp:0:interface=127.0.0.1");
    int fd = weft_test_dial(fx.portno);
    unsigned char h[64];
    send_bytes(fd, h, v2(h, 0x21, 0x11, inet4, sizeof inet4));
    PUMP_UNTIL(&fx, fx.s.made == 1);
    check_address(&fx.s.peer, "192.0.2.1:56324");
    cr_assert_eq(fx.s.len, 0);
    /* The protocol may speak first (SMTP, SSH) once the header is read. */
    cr_assert_eq(weft_transport_write(fx.s.t, "220 hi\r\n", 8), 0);
    char got[16] = "";
    struct pollfd p = {fd, POLLIN, 0};
    for (int i = 0; i < 1000 && poll(&p, 1, 0) == 0; i++)
        weft_reactor_iterate(fx.r, 0.01);
    cr_assert_eq(recv(fd, got, sizeof got - 1, MSG_DONTWAIT), 8);
    cr_assert_str_eq(got, "220 hi\r\n");
    close(fd);
    PUMP_UNTIL(&fx, fx.s.eof && fx.s.lost == 1);
    finish(&fx);
}

/* Pipelined requests behind a v2 header that carries TLVs (as HAProxy's
 * proxy-v2-options send them): the TLVs are skipped, every byte after the
 * header reaches the protocol. */
WEFT_TEST(haproxy, pipelined_requests_after_a_v2_header_with_tlvs_all_arrive)
{
    fixture fx;
    start(&fx, "haproxy:tcp:0:interface=127.0.0.1");
    int fd = weft_test_dial(fx.portno);
    unsigned char rest[128], h[256];
    size_t n = 0;
    memcpy(rest, inet4, sizeof inet4);
    n += sizeof inet4;
    static const unsigned char tlvs[] = {0x01, 0x00, 0x02, 'h', '2',                     /* ALPN */
                                         0x02, 0x00, 0x04, 'a', '.', 'b', 'c',           /* authority */
                                         0x04, 0x00, 0x03, 0, 0, 0,                       /* NOOP */
                                         0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0,              /* SSL */
                                         0xe0, 0x00, 0x00};                               /* custom, empty */
    memcpy(rest + n, tlvs, sizeof tlvs);
    n += sizeof tlvs;
    size_t hn = v2(h, 0x21, 0x11, rest, n);
    static const char reqs[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    memcpy(h + hn, reqs, strlen(reqs));
    send_bytes(fd, h, hn + strlen(reqs));
    PUMP_UNTIL(&fx, fx.s.len == strlen(reqs));
    cr_assert_eq(memcmp(fx.s.data, reqs, fx.s.len), 0);
    check_address(&fx.s.peer, "192.0.2.1:56324");
    close(fd);
    PUMP_UNTIL(&fx, fx.s.lost == 1);
    finish(&fx);
}

/* A slow peer: the header one byte per packet, then the data. The
 * protocol hears nothing until the header is whole. */
static void byte_by_byte(const unsigned char *h, size_t n)
{
    fixture fx;
    start(&fx, "haproxy:tcp:0:interface=127.0.0.1");
    int fd = weft_test_dial(fx.portno);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(fx.s.built, 0, "built after %zu of %zu bytes", i, n);
        send_bytes(fd, h + i, 1);
        for (int k = 0; k < 3; k++)
            weft_reactor_iterate(fx.r, 0.001);
    }
    PUMP_UNTIL(&fx, fx.s.made == 1);
    send_bytes(fd, "data", 4);
    PUMP_UNTIL(&fx, fx.s.len == 4);
    check_address(&fx.s.peer, "192.0.2.1:56324");
    check_address(&fx.s.host, "198.51.100.2:443");
    cr_assert(!weft_test_log_contains(&fx.log, "closing"), "%s", fx.log.lines[0]);
    close(fd);
    PUMP_UNTIL(&fx, fx.s.lost == 1);
    finish(&fx);
}

WEFT_TEST(haproxy, a_v1_header_sent_a_byte_at_a_time_is_read)
{
    static const char h[] = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
    byte_by_byte((const unsigned char *)h, strlen(h));
}

WEFT_TEST(haproxy, a_v2_header_sent_a_byte_at_a_time_is_read)
{
    unsigned char h[64];
    size_t n = v2(h, 0x21, 0x11, inet4, sizeof inet4);
    byte_by_byte(h, n);
}

/* A proxy's health check: v1 UNKNOWN, v2 LOCAL (with addresses to skip)
 * and v2 PROXY over UNSPEC keep the socket's own addresses. */
WEFT_TEST(haproxy, unknown_and_local_headers_keep_the_socket_addresses)
{
    fixture fx;
    start(&fx, "haproxy:tcp:0:interface=127.0.0.1");
    unsigned char h[4][128];
    size_t n[4];
    n[0] = (size_t)sprintf((char *)h[0], "PROXY UNKNOWN\r\n");
    n[1] = (size_t)sprintf((char *)h[1], "PROXY UNKNOWN ffff::1 ffff::2 65535 65535\r\n");
    n[2] = v2(h[2], 0x20, 0x11, inet4, sizeof inet4);
    n[3] = v2(h[3], 0x21, 0x00, "", 0);
    for (int i = 0; i < 4; i++) {
        int fd = weft_test_dial(fx.portno);
        memcpy(h[i] + n[i], "x", 1);
        send_bytes(fd, h[i], n[i] + 1);
        PUMP_UNTIL(&fx, fx.s.len == (size_t)i + 1 || fx.log.count);
        cr_assert_eq(fx.log.count, 0, "header %d: %s", i, fx.log.lines[0]);
        char peer[64], host[64], got[64];
        socket_name(fd, false, peer, sizeof peer);
        socket_name(fd, true, host, sizeof host);
        weft_address_format(&fx.s.peer, got, sizeof got);
        cr_assert_str_eq(got, peer, "header %d", i);
        weft_address_format(&fx.s.host, got, sizeof got);
        cr_assert_str_eq(got, host, "header %d", i);
        weft_address_format(&fx.s.build_peer, got, sizeof got);
        cr_assert_str_eq(got, peer, "header %d", i);
        close(fd);
        PUMP_UNTIL(&fx, fx.s.lost == i + 1);
    }
    finish(&fx);
}

WEFT_TEST(haproxy, a_v2_header_with_unix_addresses_names_them)
{
    fixture fx;
    start(&fx, "haproxy:tcp:0:interface=127.0.0.1");
    unsigned char addrs[216] = {0}, h[256];
    strcpy((char *)addrs, "/run/client.sock");
    strcpy((char *)addrs + 109, "abstract"); /* "@abstract", NUL-padded */
    size_t n = v2(h, 0x21, 0x31, addrs, sizeof addrs);
    int fd = weft_test_dial(fx.portno);
    send_bytes(fd, h, n);
    PUMP_UNTIL(&fx, fx.s.made == 1);
    check_address(&fx.s.peer, "unix:/run/client.sock");
    check_address(&fx.s.host, "unix:@abstract");
    close(fd);
    PUMP_UNTIL(&fx, fx.s.lost == 1);
    finish(&fx);
}

/* ---- abuse: each closes the connection, says why, builds nothing ---- */

typedef struct bad {
    const char *name;
    unsigned char bytes[512];
    size_t len;
    const char *reason; /* in the log line */
} bad;

static size_t text(unsigned char *out, const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

WEFT_TEST(haproxy, malformed_headers_close_the_connection_and_nothing_is_built, .timeout = 60)
{
    static bad cases[32];
    size_t nc = 0;
#define TEXT_CASE(nm, s, why) (cases[nc].name = (nm), cases[nc].len = text(cases[nc].bytes, (s)), cases[nc++].reason = (why))
#define V2_CASE(nm, vc, fam, rest, n, why)                                                                      \
    (cases[nc].name = (nm), cases[nc].len = v2(cases[nc].bytes, (vc), (fam), (rest), (n)), cases[nc++].reason = (why))
    TEXT_CASE("no header: HTTP", "GET / HTTP/1.1\r\n\r\n", "not a PROXY header");
    TEXT_CASE("lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY header");
    TEXT_CASE("unknown protocol", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "not TCP4, TCP6 or UNKNOWN");
    TEXT_CASE("two spaces", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "missing or empty");
    TEXT_CASE("missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "missing or empty");
    TEXT_CASE("extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "more than four");
    TEXT_CASE("space before CRLF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "more than four");
    TEXT_CASE("bad IPv4", "PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n", "not a canonical IPv4");
    TEXT_CASE("IPv4 leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "not a canonical IPv4");
    TEXT_CASE("IPv6 under TCP4", "PROXY TCP4 ::1 ::2 1 2\r\n", "not a canonical IPv4");
    TEXT_CASE("IPv4 under TCP6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", "not an IPv6");
    TEXT_CASE("port too big", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "a port is not");
    TEXT_CASE("port leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "a port is not");
    TEXT_CASE("negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "a port is not");
    TEXT_CASE("LF alone", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "line feed without");
    TEXT_CASE("CR alone", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "carriage return without");
    TEXT_CASE("no CRLF in 107 bytes",
              "PROXY UNKNOWN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
              "no CRLF in the first 107 bytes");
    cases[nc].name = "bad v2 signature";
    cases[nc].len = v2(cases[nc].bytes, 0x21, 0x11, inet4, sizeof inet4);
    cases[nc].bytes[11] = 'X';
    cases[nc++].reason = "not a PROXY header";
    V2_CASE("version 3", 0x31, 0x11, inet4, sizeof inet4, "unknown version");
    V2_CASE("version 1 in binary", 0x11, 0x11, inet4, sizeof inet4, "unknown version");
    V2_CASE("command 2", 0x22, 0x11, inet4, sizeof inet4, "unknown command");
    V2_CASE("family 4", 0x21, 0x41, inet4, sizeof inet4, "unknown address family");
    V2_CASE("protocol 3", 0x21, 0x13, inet4, sizeof inet4, "unknown address family");
    V2_CASE("IPv4 too short", 0x21, 0x11, inet4, 8, "too short for the family");
    V2_CASE("IPv6 with IPv4's length", 0x21, 0x21, inet4, sizeof inet4, "too short for the family");
    V2_CASE("UNIX with IPv4's length", 0x21, 0x31, inet4, sizeof inet4, "too short for the family");
    static const unsigned char overrun[15] = {192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb, 0x01, 0x00, 0x09};
    V2_CASE("TLV past the end", 0x21, 0x11, overrun, sizeof overrun, "TLV runs past");
    V2_CASE("TLV cut in its head", 0x21, 0x11, overrun, 14, "TLV runs past");
    /* 64 KiB announced: refused on the 16th byte, not waited for. */
    cases[nc].name = "v2 length 65535";
    cases[nc].len = v2(cases[nc].bytes, 0x21, 0x11, inet4, sizeof inet4);
    cases[nc].bytes[14] = cases[nc].bytes[15] = 0xff;
    cases[nc++].reason = "longer than weft accepts";
    cases[nc].name = "v2 length 4081";
    cases[nc].len = v2(cases[nc].bytes, 0x21, 0x11, inet4, sizeof inet4);
    cases[nc].bytes[14] = 0x0f;
    cases[nc].bytes[15] = 0xf1;
    cases[nc++].reason = "longer than weft accepts";
    cr_assert_leq(nc, sizeof cases / sizeof cases[0]);

    fixture fx;
    start(&fx, "haproxy:tcp:0:interface=127.0.0.1");
    for (size_t i = 0; i < nc; i++) {
        size_t logged = fx.log.count;
        int fd = weft_test_dial(fx.portno);
        /* With valid data after it, which must not reach anything. */
        memcpy(cases[i].bytes + cases[i].len, "GET / HTTP/1.1\r\n\r\n", 18);
        send_bytes(fd, cases[i].bytes, cases[i].len + 18);
        PUMP_UNTIL(&fx, fx.log.count > logged);
        cr_assert(strstr(fx.log.lines[logged], cases[i].reason), "%s: logged \"%s\", not \"%s\"", cases[i].name,
                  fx.log.lines[logged], cases[i].reason);
        cr_assert(strstr(fx.log.lines[logged], "closing the connection"), "%s", fx.log.lines[logged]);
        cr_assert_eq(fx.log.levels[logged], WEFT_LOG_WARN);
        PUMP_UNTIL(&fx, closed_by_server(fd));
        cr_assert_eq(fx.s.built, 0, "%s: a protocol was built", cases[i].name);
        close(fd);
    }
    finish(&fx);
}

/* The text's limit is 107 bytes with the CRLF: a line of exactly that
 * length is read, one byte more is refused. */
WEFT_TEST(haproxy, the_longest_v1_line_is_read_and_one_byte_more_is_refused)
{
    const char *longest = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                          "65535 65535\r\n";
    cr_assert_eq(strlen(longest), 107);
    weft__proxy_header h;
    const char *why;
    cr_assert_eq(weft__proxy_header_parse(longest, 107, &h, &why), 107);
    char longer[120];
    snprintf(longer, sizeof longer, "PROXY UNKNOWN  %s", longest + strlen("PROXY UNKNOWN "));
    cr_assert_eq(weft__proxy_header_parse(longer, 108, &h, &why), -EPROTO);
    cr_assert_str_eq(why, "v1: no CRLF in the first 107 bytes");
}

/* ---- peers that never finish ---- */

WEFT_TEST(haproxy, a_header_never_completed_is_closed_after_the_header_timeout)
{
    fixture fx;
    start(&fx, "haproxy:headerTimeout=2:tcp:0:interface=127.0.0.1");
    int partial = weft_test_dial(fx.portno), silent = weft_test_dial(fx.portno);
    send_bytes(partial, "PROXY TCP4 1.2.3.4", 18);
    unsigned char h[64];
    size_t n = v2(h, 0x21, 0x11, inet4, sizeof inet4);
    int v2_partial = weft_test_dial(fx.portno);
    send_bytes(v2_partial, h, n - 1);
    /* Accepted and read, then the clock moves to just before the timeout:
     * all still open. */
    for (int i = 0; i < 50; i++)
        weft_reactor_iterate(fx.r, 0.001);
    weft_clock_advance(fx.r, 1.9);
    for (int i = 0; i < 10; i++)
        weft_reactor_iterate(fx.r, 0.001);
    cr_assert(!closed_by_server(partial) && !closed_by_server(silent) && !closed_by_server(v2_partial));
    weft_clock_advance(fx.r, 0.2);
    PUMP_UNTIL(&fx, closed_by_server(partial) && closed_by_server(silent) && closed_by_server(v2_partial));
    cr_assert_eq(fx.s.built, 0);
    size_t timeouts = 0;
    for (size_t i = 0; i < fx.log.count; i++)
        timeouts += strstr(fx.log.lines[i], "no complete PROXY header in time") != NULL;
    cr_assert_eq(timeouts, 3);
    close(partial);
    close(silent);
    close(v2_partial);
    finish(&fx);
}

WEFT_TEST(haproxy, a_header_cut_short_by_the_peer_closes_quietly)
{
    fixture fx;
    start(&fx, "haproxy:tcp:0:interface=127.0.0.1");
    int fd = weft_test_dial(fx.portno);
    send_bytes(fd, "PROXY TCP4 ", 11);
    shutdown(fd, SHUT_WR);
    PUMP_UNTIL(&fx, closed_by_server(fd));
    cr_assert(weft_test_log_contains(&fx.log, "closed by the peer before a complete PROXY header"));
    cr_assert_eq(fx.log.levels[0], WEFT_LOG_INFO);
    cr_assert_eq(fx.s.built, 0);
    close(fd);
    finish(&fx);
}

/* A port stopped while connections wait for their header: they end with
 * the reactor, their timers with them. */
WEFT_TEST(haproxy, connections_waiting_for_their_header_end_with_the_reactor)
{
    fixture fx;
    start(&fx, "haproxy:tcp:0:interface=127.0.0.1");
    int fd = weft_test_dial(fx.portno);
    send_bytes(fd, "PROX", 4);
    for (int i = 0; i < 50; i++)
        weft_reactor_iterate(fx.r, 0.001);
    cr_assert_eq(weft_reactor_timer_count(fx.r), 1, "the header timeout");
    finish(&fx);
    close(fd);
}

/* ---- the parser alone ---- */

/* Every header weft reads, cut anywhere, asks for more: never refused,
 * never taken as whole early. Written back, it reads the same. */
WEFT_TEST(haproxy, every_prefix_of_a_header_asks_for_more_and_headers_round_trip)
{
    unsigned char h[8][300];
    size_t n[8];
    n[0] = text(h[0], "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n");
    n[1] = text(h[1], "PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4 0 65535\r\n");
    n[2] = text(h[2], "PROXY UNKNOWN\r\n");
    n[3] = v2(h[3], 0x21, 0x11, inet4, sizeof inet4);
    unsigned char a6[36] = {0x20, 0x01, [15] = 1, [31] = 2, 0, 1, 0, 2};
    n[4] = v2(h[4], 0x21, 0x21, a6, sizeof a6);
    n[5] = v2(h[5], 0x20, 0x00, "", 0);
    unsigned char un[216] = "/tmp/s";
    n[6] = v2(h[6], 0x21, 0x31, un, sizeof un);
    n[7] = v2(h[7], 0x21, 0x12, inet4, sizeof inet4); /* UDP: addresses kept */
    for (int i = 0; i < 8; i++) {
        weft__proxy_header got, again;
        const char *why;
        for (size_t k = 0; k < n[i]; k++)
            cr_assert_eq(weft__proxy_header_parse(h[i], k, &got, &why), 0, "header %d cut at %zu: %s", i, k,
                         why ? why : "");
        cr_assert_eq(weft__proxy_header_parse(h[i], n[i], &got, &why), (ssize_t)n[i], "header %d", i);
        unsigned char out[300];
        size_t w = weft__proxy_header_write(&got, got.version, out, sizeof out);
        cr_assert_gt(w, 0, "header %d", i);
        cr_assert_eq(weft__proxy_header_parse(out, w, &again, &why), (ssize_t)w);
        cr_assert(weft_address_equal(&got.source, &again.source) &&
                  weft_address_equal(&got.destination, &again.destination), "header %d", i);
    }
}

/* ---- out of memory ---- */

/* One connection over a string transport: the header in two pieces, then
 * data; whatever allocation fails, nothing leaks or crashes. */
static void one_connection(void *arg)
{
    (void)arg;
    weft_reactor *r;
    if (weft_clock_new(&r) < 0)
        return;
    weft_logger_set_level(weft_reactor_logger(r), "", WEFT_LOG_CRITICAL);
    seen s = {0};
    rec_factory rf = {.base.ops = &rec_factory_ops, .s = &s};
    weft_factory *f = weft_haproxy_factory_new(&rf.base, 1);
    if (!f) {
        weft_reactor_free(r);
        return;
    }
    weft_protocol *p = f->ops->build(f, &(weft_address){0});
    weft_string_transport *st = NULL;
    if (p) {
        p->factory = f;
        if (weft_string_transport_new(r, p, NULL, NULL, &st) < 0)
            weft_protocol_destroy(p);
    }
    if (st) {
        static const char h[] = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello";
        weft_string_transport_receive(st, h, 20);
        weft_string_transport_receive(st, h + 20, sizeof h - 1 - 20);
        weft_reactor_iterate(r, 0);
        if (s.made)
            cr_assert(s.len == 0 || (s.len == 5 && memcmp(s.data, "hello", 5) == 0));
        weft_string_transport_free(st);
        weft_reactor_iterate(r, 0);
    }
    weft_haproxy_factory_free(f);
    weft_reactor_free(r);
}

WEFT_TEST(haproxy, allocation_failures_leak_nothing, .timeout = 120)
{
    size_t runs = weft_test_each_alloc_failure(one_connection, NULL);
    cr_assert_gt(runs, 3);
}
