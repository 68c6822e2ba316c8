/* SPDX-License-Identifier: MIT */
/*
 * Listening ports. Each wake-up accepts up to max_accepts connections. When
 * descriptors run out, a reserve descriptor is given up to accept and close
 * what waits (so the listening socket stops being readable and the loop does
 * not spin), and accepting pauses for a back-off that doubles while the
 * shortage lasts.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socket_int.h"
#include "stream.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/socket.h"
#include "weft/timer.h"

struct weft_port {
    weft__handle handle; /* live while listening; retired once shutdown closed it */
    weft_reactor *r;
    int fd;
    weft_factory *factory;
    weft_address addr;
    int max_accepts;
    int reserve_fd;
    double backoff;
    weft_timer backoff_timer;
    int lock_fd;
    char *unix_path; /* removed when the port stops */
    char *lock_path;
    /* What endpoint kinds made to listen with: a TLS factory, and the
     * haproxy: factory around it. */
    weft_destroy_fn attached_free[2];
    void *attached[2];
    weft__counters *counters; /* stats.h; NULL until listening */
    bool closed; /* stopped listening; the struct waits for weft_port_stop */
    bool fake;   /* a memory reactor's: it keeps a record of the port */
    bool factory_started;
};

void weft__port_attach(weft_port *p, weft_destroy_fn fn, void *arg)
{
    size_t i = p->attached_free[0] != NULL;
    assert(!p->attached_free[i]);
    p->attached_free[i] = fn;
    p->attached[i] = arg;
}

static void on_accept(void *arg, int fd, unsigned events);

static void serve(weft_port *p, int fd, const weft_address *peer)
{
    weft_protocol *proto = p->factory->ops->build(p->factory, peer);
    if (!proto) {
        close(fd);
        return;
    }
    if (!proto->factory)
        proto->factory = p->factory;
    weft_transport *t;
    int err = weft__stream_new(p->r, fd, proto, &t);
    if (err < 0) {
        close(fd);
        weft_protocol_destroy(proto);
        return;
    }
    weft__transport_accepted(t, p->counters);
    weft__transport_start(t);
}

static void resume_accepting(void *arg)
{
    weft_port *p = arg;
    p->backoff_timer.id = 0;
    if (p->reserve_fd < 0)
        p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int err = weft_reactor_add_reader(p->r, p->fd, on_accept, p);
    if (err < 0)
        weft_log(weft_reactor_logger(p->r), WEFT_LOG_ERROR, "weft.net", "cannot resume accepting: {error}",
                 WEFT_LOG_STR("error", weft_strerror(err)));
}

static void out_of_descriptors(weft_port *p, int err)
{
    char where[128];
    weft_address_format(&p->addr, where, sizeof where);
    weft_log(weft_reactor_logger(p->r), WEFT_LOG_WARN, "weft.net", "{port}: out of descriptors ({error}); refusing connections for {seconds}s",
             WEFT_LOG_STR("port", where), WEFT_LOG_STR("error", weft_err_name(err)), WEFT_LOG_DOUBLE("seconds", p->backoff));
    if (p->reserve_fd >= 0) {
        close(p->reserve_fd);
        p->reserve_fd = -1;
        for (int i = 0; i < 1024; i++) {
            int c = accept4(p->fd, NULL, NULL, SOCK_CLOEXEC);
            if (c < 0)
                break;
            close(c);
        }
    }
    weft_reactor_remove_reader(p->r, p->fd);
    if (weft_call_later(p->r, p->backoff, resume_accepting, p, &p->backoff_timer) < 0)
        resume_accepting(p);
    p->backoff = p->backoff * 2 > 1.0 ? 1.0 : p->backoff * 2;
}

static void on_accept(void *arg, int fd, unsigned events)
{
    (void)events;
    weft_port *p = arg;
    for (int i = 0; i < p->max_accepts; i++) {
        weft_address peer;
        peer.len = sizeof peer.u;
        int c = accept4(fd, &peer.u.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            switch (errno) {
            case EAGAIN:
                return;
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
                continue;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                out_of_descriptors(p, -errno);
                return;
            default:
                weft_log(weft_reactor_logger(p->r), WEFT_LOG_ERROR, "weft.net", "accept failed: {error}",
                         WEFT_LOG_STR("error", weft_strerror(-errno)));
                return;
            }
        }
        p->backoff = 0.1;
        serve(p, c, &peer);
    }
}

static int lock_unix_path(weft_port *p, const char *path)
{
    size_t n = strlen(path) + 6;
    p->lock_path = weft_malloc(n);
    if (!p->lock_path)
        return WEFT_ENOMEM;
    snprintf(p->lock_path, n, "%s.lock", path);
    p->lock_fd = open(p->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (p->lock_fd < 0)
        return -errno;
    if (flock(p->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
        /* Not ours: forget it, so failing here removes nothing of the port
         * that holds it. */
        close(p->lock_fd);
        p->lock_fd = -1;
        return err;
    }
    /* We hold the lock, so a socket file left there is stale. */
    unlink(path);
    return 0;
}

/* Stops listening and gives back what the port holds (its factory's count
 * included) but not its memory. */
static void port_close(weft_port *p)
{
    if (p->closed)
        return;
    p->closed = true;
    if (p->fake)
        weft__recorder_of(p->r)->port_stopped(p->r, p);
    if (p->fd >= 0) {
        weft_reactor_remove_reader(p->r, p->fd);
        close(p->fd);
    }
    if (p->unix_path)
        unlink(p->unix_path);
    if (p->lock_fd >= 0) {
        unlink(p->lock_path);
        close(p->lock_fd);
    }
    if (p->reserve_fd >= 0)
        close(p->reserve_fd);
    p->fd = p->lock_fd = p->reserve_fd = -1;
    weft_timer_cancel(p->r, p->backoff_timer);
    for (size_t i = 2; i-- > 0;) {
        if (p->attached_free[i])
            p->attached_free[i](p->attached[i]);
        p->attached_free[i] = NULL;
    }
    weft_free(p->unix_path);
    weft_free(p->lock_path);
    p->unix_path = p->lock_path = NULL;
    if (p->factory_started)
        weft_factory_stop(p->factory);
    p->factory_started = false;
    if (p->counters)
        p->counters->listening = false;
}

/* The port's counters, named for its address. */
static int count_port(weft_port *p)
{
    char name[WEFT__COUNTERS_NAME];
    weft_address_format(&p->addr, name, sizeof name);
    p->counters = weft__counters_new(p->r, name);
    return p->counters ? 0 : WEFT_ENOMEM;
}

static void port_free(weft_port *p)
{
    port_close(p);
    /* The connections it accepted may keep the counters a while. */
    if (p->counters)
        weft__counters_unref(p->counters);
    weft__handle_remove(&p->handle);
    weft_free(p);
}

static void handle_describe(const weft__handle *h, char *buf, size_t size)
{
    const weft_port *p = WEFT_CONTAINER_OF(h, weft_port, handle);
    weft_address_format(&p->addr, buf, size);
}

/* Shutdown: the port stops listening; the user may still stop it. */
static void handle_close(weft__handle *h, bool abort)
{
    (void)abort;
    weft_port *p = WEFT_CONTAINER_OF(h, weft_port, handle);
    port_close(p);
    weft__handle_retire(p->r, h);
}

/* weft_reactor_free, for a port nobody stopped. */
static void handle_free(weft__handle *h)
{
    port_free(WEFT_CONTAINER_OF(h, weft_port, handle));
}

static const weft__handle_ops port_ops = {
    .kind = "port", .describe = handle_describe, .close = handle_close, .free = handle_free};

/* The part of listening after the socket listens: the port takes its
 * address, watches the socket and registers. Frees p on failure. */
static int port_start(weft_port *p, weft_port **out)
{
    p->addr.len = sizeof p->addr.u;
    getsockname(p->fd, &p->addr.u.sa, &p->addr.len);
    p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int err;
    if ((err = count_port(p)) < 0 || (err = weft_reactor_add_reader(p->r, p->fd, on_accept, p)) < 0) {
        port_free(p);
        return err;
    }
    weft_factory_start(p->factory);
    p->factory_started = true;
    weft__handle_add(p->r, &p->handle, &port_ops);
    *out = p;
    return 0;
}

int weft_listen(weft_reactor *r, const weft_address *addr, weft_factory *factory, const weft_listen_options *opts,
                weft_port **out)
{
    const weft__recorder *rec = weft__recorder_of(r);
    if (rec)
        return rec->listen(r, addr, factory, opts, out);
    weft_listen_options o = opts ? *opts : (weft_listen_options){0};
    int family = weft_address_family(addr);
    if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
        return WEFT_EINVAL;
    weft_port *p = weft_calloc(1, sizeof *p);
    if (!p)
        return WEFT_ENOMEM;
    p->r = r;
    p->factory = factory;
    p->max_accepts = o.max_accepts > 0 ? o.max_accepts : 32;
    p->backoff = 0.1;
    p->lock_fd = p->reserve_fd = -1;
    p->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = 0;
    if (p->fd < 0) {
        err = -errno;
        goto fail;
    }
    bool in_filesystem = family == AF_UNIX && addr->u.un.sun_path[0] != '\0';
    if (family != AF_UNIX) {
        int one = 1;
        setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (o.reuse_port && setsockopt(p->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
            err = -errno;
            goto fail;
        }
        if (family == AF_INET6) /* tcp6: IPv6 only, as Twisted; "::" does not take IPv4 too */
            setsockopt(p->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    } else if (in_filesystem && o.lockfile && (err = lock_unix_path(p, addr->u.un.sun_path)) < 0) {
        goto fail;
    }
    /* Linux makes a socket file with the socket's own mode less the umask:
     * set first, the file is never more open than asked, even for the
     * moment before the chmod below makes it exact. */
    if (in_filesystem && o.mode && fchmod(p->fd, o.mode) < 0) {
        err = -errno;
        goto fail;
    }
    if (bind(p->fd, &addr->u.sa, addr->len) < 0) {
        err = -errno;
        goto fail;
    }
    if (in_filesystem) {
        if (!(p->unix_path = weft_strdup(addr->u.un.sun_path))) {
            unlink(addr->u.un.sun_path);
            err = WEFT_ENOMEM;
            goto fail;
        }
        if (o.mode && chmod(p->unix_path, o.mode) < 0) {
            err = -errno;
            goto fail;
        }
    }
    if (listen(p->fd, o.backlog > 0 ? o.backlog : 50) < 0) {
        err = -errno;
        goto fail;
    }
    return port_start(p, out);
fail:
    port_free(p);
    return err;
}

/* Whether fd is what weft_adopt_stream_port takes: its error codes. */
static int listening_socket_check(int fd, int family)
{
    int value;
    socklen_t len = sizeof value;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len) < 0)
        return -errno; /* ENOTSOCK, EBADF */
    if (value != SOCK_STREAM)
        return -ESOCKTNOSUPPORT;
    len = sizeof value;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &len) < 0)
        return -errno;
    if ((value != AF_INET && value != AF_INET6 && value != AF_UNIX) || (family && value != family))
        return -EAFNOSUPPORT;
    len = sizeof value;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &len) < 0)
        return -errno;
    return value ? 0 : WEFT_EINVAL;
}

int weft_adopt_stream_port(weft_reactor *r, int fd, int family, weft_factory *factory, weft_port **out)
{
    int err = listening_socket_check(fd, family);
    if (err < 0)
        return err;
    const weft__recorder *rec = weft__recorder_of(r);
    if (rec) {
        weft_address a = {.len = sizeof a.u};
        getsockname(fd, &a.u.sa, &a.len);
        return rec->listen(r, &a, factory, NULL, out);
    }
    weft_port *p = weft_calloc(1, sizeof *p);
    if (!p)
        return WEFT_ENOMEM;
    p->r = r;
    p->factory = factory;
    p->max_accepts = 32;
    p->backoff = 0.1;
    p->lock_fd = p->reserve_fd = -1;
    /* Our own descriptor, so stopping the port leaves the caller's open.
     * O_NONBLOCK is the open file's, so the caller's copy gets it too. */
    p->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int fl = p->fd < 0 ? -1 : fcntl(p->fd, F_GETFL);
    if (fl < 0 || fcntl(p->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        err = -errno;
        port_free(p);
        return err;
    }
    return port_start(p, out);
}

int weft__port_fd(const weft_port *p)
{
    return p->fd;
}

int weft_port_address(const weft_port *p, weft_address *out)
{
    *out = p->addr;
    return 0;
}

void weft_port_stats(const weft_port *p, weft_conn_stats *out)
{
    *out = p->counters->s;
}

weft_port *weft__port_fake(weft_reactor *r, const weft_address *addr, weft_factory *factory)
{
    weft_port *p = weft_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->r = r;
    p->factory = factory;
    p->addr = *addr;
    p->fd = p->lock_fd = p->reserve_fd = -1;
    p->fake = true;
    if (count_port(p) < 0) {
        weft_free(p);
        return NULL;
    }
    weft_factory_start(factory);
    p->factory_started = true;
    weft__handle_add(r, &p->handle, &port_ops);
    return p;
}

weft_deferred *weft_port_stop(weft_port *p)
{
    weft_reactor *r = p->r;
    port_free(p);
    return weft_succeed(r, NULL, NULL);
}

int weft_adopt_stream(weft_reactor *r, int fd, weft_protocol *proto)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    weft_transport *t;
    int err = weft__stream_new(r, fd, proto, &t);
    if (err < 0)
        return err;
    weft__transport_start(t);
    return 0;
}
