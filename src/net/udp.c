/* SPDX-License-Identifier: MIT */
/*
 * UDP sockets. Reads take at most DATAGRAMS_PER_WAKEUP datagrams per wake-up
 * into the reactor's shared read buffer (64 KiB: the largest UDP payload
 * fits). ICMP errors on a connected socket arrive as a failed read or send
 * (ECONNREFUSED) and are reported as connection_refused.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/internal.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/udp.h"

enum { DATAGRAMS_PER_WAKEUP = 32 };

struct weft_udp {
    weft__handle handle;
    weft_reactor *r;
    weft_datagram_protocol *p;
    int fd;
    int family;
    bool reading, paused, closed;
    weft__post start_post, finish_post;
};

static void on_readable(void *arg, int fd, unsigned events)
{
    (void)events;
    weft_udp *u = arg;
    size_t cap;
    char *buf = weft__reactor_read_buffer(u->r, &cap);
    if (!buf)
        return; /* level-triggered: tried again next iteration */
    for (int i = 0; i < DATAGRAMS_PER_WAKEUP && !u->closed && !u->paused; i++) {
        weft_address from;
        from.len = sizeof from.u;
        ssize_t n = recvfrom(fd, buf, cap, 0, &from.u.sa, &from.len);
        if (n >= 0) {
            if (u->p->ops->datagram_received)
                u->p->ops->datagram_received(u->p, buf, (size_t)n, &from);
        } else if (errno == ECONNREFUSED) {
            if (u->p->ops->connection_refused)
                u->p->ops->connection_refused(u->p);
        } else if (errno != EINTR) {
            return; /* EAGAIN; other errors are per datagram and pass */
        }
    }
}

static void set_reading(weft_udp *u, bool on)
{
    if (on == u->reading || u->closed)
        return;
    if (on && weft_reactor_add_reader(u->r, u->fd, on_readable, u) < 0)
        return;
    if (!on)
        weft_reactor_remove_reader(u->r, u->fd);
    u->reading = on;
}

static void start(void *arg)
{
    weft_udp *u = arg;
    if (u->closed)
        return;
    if (u->p->ops->started)
        u->p->ops->started(u->p);
}

static void finish(void *arg)
{
    weft_udp *u = arg;
    weft_datagram_protocol *p = u->p;
    if (p->ops->stopped)
        p->ops->stopped(p);
    p->transport = NULL;
    if (p->ops->destroy)
        p->ops->destroy(p);
    weft__handle_remove(&u->handle);
    weft_free(u);
}

static void handle_describe(const weft__handle *h, char *buf, size_t size)
{
    weft_address a;
    if (weft_udp_address(WEFT_CONTAINER_OF(h, weft_udp, handle), &a) == 0)
        weft_address_format(&a, buf, size);
}

static void handle_close(weft__handle *h, bool abort)
{
    (void)abort;
    weft_udp_close(WEFT_CONTAINER_OF(h, weft_udp, handle));
}

static const weft__handle_ops udp_ops = {.kind = "udp", .describe = handle_describe, .close = handle_close};

int weft_udp_bind(weft_reactor *r, const weft_address *addr, weft_datagram_protocol *p, weft_udp **out)
{
    int family = weft_address_family(addr);
    if (family != AF_INET && family != AF_INET6)
        return WEFT_EINVAL;
    weft_udp *u = weft_calloc(1, sizeof *u);
    if (!u)
        return WEFT_ENOMEM;
    u->r = r;
    u->p = p;
    u->family = family;
    u->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = 0;
    if (u->fd < 0) {
        err = -errno;
        weft_free(u);
        return err;
    }
    int one = 1;
    /* Several sockets may bind one multicast port (as Twisted's listenMulticast). */
    setsockopt(u->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(u->fd, &addr->u.sa, addr->len) < 0) {
        err = -errno;
        close(u->fd);
        weft_free(u);
        return err;
    }
    p->transport = u;
    set_reading(u, true);
    if (!u->reading) {
        close(u->fd);
        p->transport = NULL;
        weft_free(u);
        return WEFT_ENOMEM;
    }
    weft__reactor_post(r, &u->start_post, start, u);
    weft__handle_add(r, &u->handle, &udp_ops);
    *out = u;
    return 0;
}

int weft_udp_send(weft_udp *u, const void *data, size_t len, const weft_address *to)
{
    if (u->closed)
        return -ENOTCONN;
    for (;;) {
        ssize_t n = to ? sendto(u->fd, data, len, 0, &to->u.sa, to->len) : send(u->fd, data, len, 0);
        if (n >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? WEFT_EAGAIN : -errno;
    }
}

int weft_udp_connect(weft_udp *u, const weft_address *peer)
{
    return connect(u->fd, &peer->u.sa, peer->len) < 0 ? -errno : 0;
}

static int membership(weft_udp *u, const char *group, const char *iface, bool join)
{
    if (u->family == AF_INET) {
        struct ip_mreq m = {0};
        if (inet_pton(AF_INET, group, &m.imr_multiaddr) != 1)
            return WEFT_EINVAL;
        m.imr_interface.s_addr = htonl(INADDR_ANY);
        if (iface && inet_pton(AF_INET, iface, &m.imr_interface) != 1)
            return WEFT_EINVAL;
        int opt = join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP;
        return setsockopt(u->fd, IPPROTO_IP, opt, &m, sizeof m) < 0 ? -errno : 0;
    }
    struct ipv6_mreq m = {0};
    if (inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr) != 1)
        return WEFT_EINVAL;
    if (iface && !(m.ipv6mr_interface = if_nametoindex(iface)))
        return WEFT_EINVAL;
    int opt = join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP;
    return setsockopt(u->fd, IPPROTO_IPV6, opt, &m, sizeof m) < 0 ? -errno : 0;
}

int weft_udp_join_group(weft_udp *u, const char *group, const char *iface)
{
    return membership(u, group, iface, true);
}

int weft_udp_leave_group(weft_udp *u, const char *group, const char *iface)
{
    return membership(u, group, iface, false);
}

int weft_udp_set_multicast_loopback(weft_udp *u, bool on)
{
    int v = on;
    int rc = u->family == AF_INET ? setsockopt(u->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &v, sizeof v)
                                  : setsockopt(u->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &v, sizeof v);
    return rc < 0 ? -errno : 0;
}

int weft_udp_set_multicast_ttl(weft_udp *u, int ttl)
{
    if (ttl < 0 || ttl > 255)
        return WEFT_EINVAL;
    int rc = u->family == AF_INET ? setsockopt(u->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl)
                                  : setsockopt(u->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl);
    return rc < 0 ? -errno : 0;
}

int weft_udp_set_multicast_interface(weft_udp *u, const char *iface)
{
    int rc;
    if (u->family == AF_INET) {
        struct in_addr a;
        if (inet_pton(AF_INET, iface, &a) != 1)
            return WEFT_EINVAL;
        rc = setsockopt(u->fd, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof a);
    } else {
        unsigned idx = if_nametoindex(iface);
        if (!idx)
            return WEFT_EINVAL;
        rc = setsockopt(u->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx);
    }
    return rc < 0 ? -errno : 0;
}

int weft_udp_address(const weft_udp *u, weft_address *out)
{
    out->len = sizeof out->u;
    return getsockname(u->fd, &out->u.sa, &out->len) < 0 ? -errno : 0;
}

void weft_udp_pause_reading(weft_udp *u)
{
    u->paused = true;
    set_reading(u, false);
}

void weft_udp_resume_reading(weft_udp *u)
{
    u->paused = false;
    set_reading(u, true);
}

void weft_udp_close(weft_udp *u)
{
    if (u->closed)
        return;
    set_reading(u, false);
    u->closed = true;
    close(u->fd);
    u->fd = -1;
    /* If the start post has not run yet, it sees `closed` and does nothing;
     * posts run in order, so it runs before finish frees u. */
    weft__reactor_post(u->r, &u->finish_post, finish, u);
}
