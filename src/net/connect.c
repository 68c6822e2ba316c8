/* SPDX-License-Identifier: MIT */
/*
 * Outgoing stream connections: a non-blocking connect watched for
 * writability, a timeout, and cancellation. Even a connect that succeeds at
 * once (UNIX sockets) completes from the loop, so connection_made never runs
 * inside weft_connect.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "socket_int.h"
#include "stream.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/socket.h"
#include "weft/timer.h"

int weft__connected(weft_reactor *r, int fd, const weft_address *peer, weft_factory *f, weft_protocol **p_out,
                    weft_transport **t_out)
{
    weft_protocol *p = f->ops->build(f, peer);
    if (!p)
        return -ECONNABORTED;
    if (!p->factory)
        p->factory = f;
    int err = weft__stream_new(r, fd, p, t_out);
    if (err < 0) {
        weft_protocol_destroy(p);
        return err;
    }
    *p_out = p;
    return 0;
}

typedef struct connector {
    weft__handle handle;
    weft_reactor *r;
    int fd;
    weft_factory *factory;
    weft_address addr;
    weft_deferred *d; /* our reference, until it fires */
    weft_timer timer;
} connector;

static void release(connector *c, bool close_fd)
{
    weft__handle_remove(&c->handle);
    if (c->fd >= 0) {
        weft_reactor_remove_writer(c->r, c->fd);
        if (close_fd)
            close(c->fd);
    }
    weft_timer_cancel(c->r, c->timer);
    weft_factory_stop(c->factory);
    weft_free(c);
}

static void fail(connector *c, int code)
{
    weft_deferred *d = c->d;
    char where[128];
    weft_address_format(&c->addr, where, sizeof where);
    weft_deferred_set_canceller(d, NULL, NULL);
    release(c, true);
    const char *what = code == -ETIMEDOUT ? "connection attempt timed out" : weft_strerror(code);
    weft_deferred_errback(d, weft_failure_new(code, "cannot connect to %s: %s", where, what));
    weft_deferred_unref(d);
}

static void on_connected(void *arg, int fd, unsigned events)
{
    (void)events;
    connector *c = arg;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr) {
        fail(c, -soerr);
        return;
    }
    weft_protocol *p;
    weft_transport *t;
    int err = weft__connected(c->r, fd, &c->addr, c->factory, &p, &t);
    if (err < 0) {
        fail(c, err);
        return;
    }
    weft_deferred *d = c->d;
    weft_deferred_set_canceller(d, NULL, NULL);
    release(c, false); /* the transport owns the socket now */
    weft__transport_start(t);
    weft_deferred_callback(d, p, NULL);
    weft_deferred_unref(d);
}

static void on_timeout(void *arg)
{
    connector *c = arg;
    c->timer.id = 0;
    fail(c, -ETIMEDOUT);
}

static void on_cancel(void *arg, weft_deferred *d)
{
    connector *c = arg;
    (void)d;
    weft_deferred *mine = c->d;
    release(c, true);
    /* cancel errbacks d with WEFT_ECANCELED next, holding its own reference. */
    weft_deferred_unref(mine);
}

static void handle_describe(const weft__handle *h, char *buf, size_t size)
{
    const connector *c = WEFT_CONTAINER_OF(h, connector, handle);
    weft_address_format(&c->addr, buf, size);
}

/* Shutdown: the attempt is abandoned; its Deferred errbacks WEFT_ECANCELED. */
static void handle_close(weft__handle *h, bool abort)
{
    (void)abort;
    weft_deferred_cancel(WEFT_CONTAINER_OF(h, connector, handle)->d);
}

static const weft__handle_ops connector_ops = {.kind = "connecting", .describe = handle_describe, .close = handle_close};

weft_deferred *weft_connect(weft_reactor *r, const weft_address *addr, weft_factory *factory,
                            const weft_connect_options *opts)
{
    const weft__recorder *rec = weft__recorder_of(r);
    if (rec)
        return rec->connect(r, addr, factory, opts);
    weft_connect_options o = opts ? *opts : (weft_connect_options){0};
    weft_deferred *d = weft_deferred_new(r);
    connector *c = d ? weft_calloc(1, sizeof *c) : NULL;
    if (!c) {
        weft_deferred_unref(d);
        return NULL;
    }
    *c = (connector){.r = r, .fd = -1, .factory = factory, .addr = *addr, .d = d};
    weft_factory_start(factory);
    int family = weft_address_family(addr);
    int err = 0;
    c->fd = socket(family == AF_UNSPEC ? AF_INET : family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        err = -errno;
    } else if (o.bind && bind(c->fd, &o.bind->u.sa, o.bind->len) < 0) {
        err = -errno;
    } else if (connect(c->fd, &addr->u.sa, addr->len) < 0 && errno != EINPROGRESS) {
        err = -errno;
    } else if ((err = weft_reactor_add_writer(r, c->fd, on_connected, c)) == 0) {
        double timeout = o.timeout == 0 ? 30 : o.timeout;
        if (timeout > 0)
            err = weft_call_later(r, timeout, on_timeout, c, &c->timer);
    }
    weft_deferred_ref(d); /* the caller's */
    if (err < 0) {
        fail(c, err);
        return d;
    }
    weft_deferred_set_canceller(d, on_cancel, c);
    weft__handle_add(r, &c->handle, &connector_ops);
    return d;
}
