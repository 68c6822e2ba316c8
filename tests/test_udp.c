/* SPDX-License-Identifier: MIT */
/* UDP on loopback: datagrams with senders, connected sockets, refused
 * peers, multicast join/leave, close from inside a callback. */
#include <string.h>

#include "test.h"

typedef struct dgram {
    weft_datagram_protocol base;
    char last[256];
    size_t last_len;
    int received, refused, started, stopped;
    weft_address from;
    bool echo, close_on_receive;
} dgram;

static void d_started(weft_datagram_protocol *p)
{
    ((dgram *)p)->started++;
}

static void d_received(weft_datagram_protocol *p, const void *data, size_t len, const weft_address *from)
{
    dgram *d = (dgram *)p;
    memcpy(d->last, data, len);
    d->last_len = len;
    d->from = *from;
    d->received++;
    if (d->echo)
        cr_assert_eq(weft_udp_send(p->transport, data, len, from), 0);
    if (d->close_on_receive)
        weft_udp_close(p->transport);
}

static void d_refused(weft_datagram_protocol *p)
{
    ((dgram *)p)->refused++;
}

static void d_stopped(weft_datagram_protocol *p)
{
    ((dgram *)p)->stopped++;
}

static const weft_datagram_ops dgram_ops = {d_started, d_received, d_refused, d_stopped, NULL};

static weft_udp *bind_any(weft_reactor *r, const char *ip, dgram *d)
{
    memset(d, 0, sizeof *d);
    d->base.ops = &dgram_ops;
    weft_address a;
    cr_assert_eq(weft_address_from_ip(ip, 0, &a), 0);
    weft_udp *u;
    int err = weft_udp_bind(r, &a, &d->base, &u);
    cr_assert_eq(err, 0, "bind: %s", weft_strerror(err));
    cr_assert_eq(d->started, 0, "started never runs inside bind");
    return u;
}

static void iterate_until(weft_reactor *r, const int *counter, int want)
{
    for (int i = 0; i < 1000 && *counter < want; i++)
        cr_assert_eq(weft_reactor_iterate(r, 1), 0);
    cr_assert_eq(*counter, want);
}

static void ping_pong(const char *ip)
{
    weft_reactor *r = weft_test_reactor();
    dgram server, client;
    weft_udp *su = bind_any(r, ip, &server);
    weft_udp *cu = bind_any(r, ip, &client);
    server.echo = true;
    weft_address sa, ca;
    cr_assert_eq(weft_udp_address(su, &sa), 0);
    cr_assert_eq(weft_udp_address(cu, &ca), 0);
    cr_assert_gt(weft_address_port(&sa), 0);
    cr_assert_eq(weft_udp_send(cu, "ping", 4, &sa), 0);
    iterate_until(r, &client.received, 1);
    cr_assert_eq(server.started, 1);
    cr_assert_eq(client.last_len, 4);
    cr_assert_eq(memcmp(client.last, "ping", 4), 0);
    cr_assert(weft_address_equal(&server.from, &ca), "the sender is reported");
    weft_udp_close(su);
    weft_udp_close(cu);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(server.stopped, 1);
    cr_assert_eq(client.stopped, 1);
    weft_reactor_free(r);
}

WEFT_TEST(udp, ping_pong_ipv4)
{
    ping_pong("127.0.0.1");
}

WEFT_TEST(udp, ping_pong_ipv6)
{
    ping_pong("::1");
}

WEFT_TEST(udp, connected_socket_and_refused_peer)
{
    weft_reactor *r = weft_test_reactor();
    dgram a, b;
    weft_udp *au = bind_any(r, "127.0.0.1", &a);
    weft_udp *bu = bind_any(r, "127.0.0.1", &b);
    weft_address ba;
    cr_assert_eq(weft_udp_address(bu, &ba), 0);
    cr_assert_eq(weft_udp_connect(au, &ba), 0);
    cr_assert_eq(weft_udp_send(au, "hi", 2, NULL), 0);
    iterate_until(r, &b.received, 1);
    /* The peer goes away: the next datagram is refused (ICMP port unreachable). */
    weft_udp_close(bu);
    weft_reactor_iterate(r, 0);
    int err = weft_udp_send(au, "hi", 2, NULL);
    cr_assert(err == 0 || err == -ECONNREFUSED);
    for (int i = 0; i < 100 && a.refused == 0; i++) {
        if (weft_udp_send(au, "hi", 2, NULL) == -ECONNREFUSED)
            a.refused++;
        weft_reactor_iterate(r, 0.01);
    }
    cr_assert_geq(a.refused, 1);
    weft_udp_close(au);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}

WEFT_TEST(udp, close_from_inside_a_callback)
{
    weft_reactor *r = weft_test_reactor();
    dgram a, b;
    weft_udp *au = bind_any(r, "127.0.0.1", &a);
    weft_udp *bu = bind_any(r, "127.0.0.1", &b);
    b.close_on_receive = true;
    weft_address ba;
    cr_assert_eq(weft_udp_address(bu, &ba), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(weft_udp_send(au, "x", 1, &ba), 0);
    iterate_until(r, &b.received, 1);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(b.received, 1, "nothing is delivered after close");
    cr_assert_eq(b.stopped, 1);
    weft_udp_close(au);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}

WEFT_TEST(udp, multicast_join_and_leave)
{
    weft_reactor *r = weft_test_reactor();
    dgram rx, tx;
    weft_udp *ru = bind_any(r, "0.0.0.0", &rx);
    weft_udp *tu = bind_any(r, "127.0.0.1", &tx);
    weft_address ra;
    cr_assert_eq(weft_udp_address(ru, &ra), 0);
    int err = weft_udp_join_group(ru, "239.255.77.1", "127.0.0.1");
    if (err == -ENODEV) {
        /* No multicast-capable loopback in this sandbox: nothing to test. */
        cr_skip_test("multicast unavailable: %s", weft_strerror(err));
    }
    cr_assert_eq(err, 0, "join: %s", weft_strerror(err));
    cr_assert_eq(weft_udp_set_multicast_loopback(tu, true), 0);
    cr_assert_eq(weft_udp_set_multicast_ttl(tu, 1), 0);
    cr_assert_eq(weft_udp_set_multicast_ttl(tu, 300), WEFT_EINVAL);
    cr_assert_eq(weft_udp_set_multicast_interface(tu, "127.0.0.1"), 0);
    weft_address group;
    cr_assert_eq(weft_address_from_ip("239.255.77.1", weft_address_port(&ra), &group), 0);
    cr_assert_eq(weft_udp_send(tu, "to all", 6, &group), 0);
    iterate_until(r, &rx.received, 1);
    cr_assert_eq(memcmp(rx.last, "to all", 6), 0);
    cr_assert_eq(weft_udp_join_group(ru, "not-an-ip", NULL), WEFT_EINVAL);
    cr_assert_eq(weft_udp_leave_group(ru, "239.255.77.1", "127.0.0.1"), 0);
    cr_assert_neq(weft_udp_leave_group(ru, "239.255.77.1", "127.0.0.1"), 0, "not a member any more");
    weft_udp_close(ru);
    weft_udp_close(tu);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}

WEFT_TEST(udp, bind_errors)
{
    weft_reactor *r = weft_test_reactor();
    dgram a, b;
    weft_udp *au = bind_any(r, "127.0.0.1", &a);
    weft_address aa;
    cr_assert_eq(weft_udp_address(au, &aa), 0);
    weft_address un;
    cr_assert_eq(weft_address_from_unix("/tmp/x", &un), 0);
    weft_udp *bu;
    b.base.ops = &dgram_ops;
    cr_assert_eq(weft_udp_bind(r, &un, &b.base, &bu), WEFT_EINVAL);
    weft_udp_close(au);
    cr_assert_eq(weft_udp_send(au, "x", 1, &aa), -ENOTCONN);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}
