/* SPDX-License-Identifier: MIT */
/*
 * Connecting by name: resolve, then Happy Eyeballs v2 (RFC 8305). The race
 * is run with bare non-blocking sockets, so only the winner becomes a
 * connection (and only it gets a protocol from the factory); the losers are
 * closed unseen. Addresses are ordered IPv6, IPv4, IPv6... (section 4); a
 * new attempt starts every ATTEMPT_DELAY while none has connected, or at
 * once when one fails (section 5).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "socket_int.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/resolver.h"
#include "weft/timer.h"

#define ATTEMPT_DELAY 0.25

typedef struct attempt {
    int fd; /* -1 when not started or over */
    weft_address addr;
    struct race *race;
} attempt;

typedef struct race {
    weft_reactor *r;
    weft_factory *f;
    weft_deferred *d;         /* ours, until settled */
    weft_deferred *resolving; /* ours, while resolving */
    weft_address bind;
    int port;
    char *host;
    size_t n, next, inflight;
    int last_err;
    weft_timer delay, deadline;
    attempt *att;
} race;

static void race_free(race *x)
{
    for (size_t i = 0; i < x->n; i++) {
        if (x->att[i].fd >= 0) {
            weft_reactor_remove_writer(x->r, x->att[i].fd);
            close(x->att[i].fd);
        }
    }
    weft_timer_cancel(x->r, x->delay);
    weft_timer_cancel(x->r, x->deadline);
    if (x->resolving) {
        weft_deferred *res = x->resolving;
        x->resolving = NULL;
        weft_deferred_cancel(res);
        weft_deferred_unref(res);
    }
    weft_factory_stop(x->f);
    weft_free(x->att);
    weft_free(x->host);
    weft_free(x);
}

static void settle(race *x, weft_protocol *p, weft_failure *f)
{
    weft_deferred *d = x->d;
    weft_deferred_set_canceller(d, NULL, NULL);
    race_free(x);
    if (f)
        weft_deferred_errback(d, f);
    else
        weft_deferred_callback(d, p, NULL);
    weft_deferred_unref(d);
}

static void fail_race(race *x, int code)
{
    const char *what = code == -ETIMEDOUT ? "connection attempt timed out" : weft_strerror(code);
    settle(x, NULL, weft_failure_new(code, "cannot connect to %s port %d: %s", x->host, x->port, what));
}

static void start_next(void *arg);

static void on_attempt(void *arg, int fd, unsigned events)
{
    (void)events;
    attempt *a = arg;
    race *x = a->race;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    weft_reactor_remove_writer(x->r, fd);
    if (soerr) {
        close(fd);
        a->fd = -1;
        x->inflight--;
        x->last_err = -soerr;
        /* A failure starts the next attempt at once (RFC 8305, 5). */
        weft_timer_cancel(x->r, x->delay);
        x->delay.id = 0;
        start_next(x);
        return;
    }
    a->fd = -1; /* the winner's socket leaves the race */
    weft_protocol *p;
    weft_transport *t;
    int err = weft__connected(x->r, fd, &a->addr, x->f, &p, &t);
    if (err < 0) {
        close(fd);
        fail_race(x, err);
        return;
    }
    /* connection_made first, as weft_connect: whoever gets the protocol
     * finds it connected. Then the losers are closed. */
    weft__transport_start(t);
    settle(x, p, NULL);
}

static void start_next(void *arg)
{
    race *x = arg;
    x->delay.id = 0;
    while (x->next < x->n) {
        attempt *a = &x->att[x->next++];
        int fam = weft_address_family(&a->addr);
        int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            x->last_err = -errno;
            continue;
        }
        if (x->bind.len && weft_address_family(&x->bind) == fam && bind(fd, &x->bind.u.sa, x->bind.len) < 0) {
            x->last_err = -errno;
            close(fd);
            continue;
        }
        if (connect(fd, &a->addr.u.sa, a->addr.len) < 0 && errno != EINPROGRESS) {
            x->last_err = -errno;
            close(fd);
            continue;
        }
        int err = weft_reactor_add_writer(x->r, fd, on_attempt, a);
        if (err < 0) {
            x->last_err = err;
            close(fd);
            continue;
        }
        a->fd = fd;
        x->inflight++;
        if (x->next < x->n && weft_call_later(x->r, ATTEMPT_DELAY, start_next, x, &x->delay) < 0)
            x->delay.id = 0;
        return;
    }
    if (x->inflight == 0)
        fail_race(x, x->last_err ? x->last_err : -EHOSTUNREACH);
}

/* RFC 8305, 4: IPv6 first, then the families alternate. */
static void order(race *x, const weft_address_list *l)
{
    size_t v6 = 0, v4 = 0, k = 0;
    while (k < l->count) {
        while (v6 < l->count && weft_address_family(&l->addrs[v6]) != AF_INET6)
            v6++;
        if (v6 < l->count)
            x->att[k++].addr = l->addrs[v6++];
        while (v4 < l->count && weft_address_family(&l->addrs[v4]) != AF_INET)
            v4++;
        if (v4 < l->count)
            x->att[k++].addr = l->addrs[v4++];
        if (v6 >= l->count && v4 >= l->count)
            break;
    }
    x->n = k;
}

static weft_result resolved(void *arg, weft_result r)
{
    race *x = arg;
    if (!x->resolving) {
        /* race_free is cancelling the lookup: it drops it too. */
        weft_result_free(r);
        return weft_none();
    }
    weft_deferred *res = x->resolving;
    x->resolving = NULL;
    weft_failure *f = weft_result_failure(r);
    if (f) {
        weft_failure_ref(f);
        weft_result_free(r);
        weft_deferred_unref(res);
        settle(x, NULL, f);
        return weft_none();
    }
    weft_address_list *l = r.value;
    x->att = weft_calloc(l->count ? l->count : 1, sizeof *x->att);
    if (!x->att) {
        weft_result_free(r);
        weft_deferred_unref(res);
        fail_race(x, WEFT_ENOMEM);
        return weft_none();
    }
    order(x, l);
    for (size_t i = 0; i < x->n; i++) {
        x->att[i].fd = -1;
        x->att[i].race = x;
        if (weft_address_family(&x->att[i].addr) == AF_INET)
            x->att[i].addr.u.in.sin_port = htons((uint16_t)x->port);
        else
            x->att[i].addr.u.in6.sin6_port = htons((uint16_t)x->port);
    }
    weft_result_free(r);
    weft_deferred_unref(res);
    start_next(x);
    return weft_none();
}

static void on_deadline(void *arg)
{
    race *x = arg;
    x->deadline.id = 0;
    fail_race(x, -ETIMEDOUT);
}

static void on_cancel(void *arg, weft_deferred *d)
{
    race *x = arg;
    (void)d;
    weft_deferred *mine = x->d;
    race_free(x);
    weft_deferred_unref(mine); /* cancel errbacks d with its own reference */
}

weft_deferred *weft_connect_host(weft_reactor *r, const char *host, int port, weft_factory *f,
                                 const weft_connect_options *opts)
{
    weft_connect_options o = opts ? *opts : (weft_connect_options){0};
    if (port <= 0 || port > 65535)
        return weft_fail(r, weft_failure_new(WEFT_EINVAL, "bad port %d", port));
    weft_resolver *res = o.resolver ? o.resolver : weft_reactor_resolver(r);
    weft_deferred *d = res ? weft_deferred_new(r) : NULL;
    race *x = d ? weft_calloc(1, sizeof *x) : NULL;
    char *copy = x ? weft_strdup(host) : NULL;
    if (!copy) {
        weft_free(x);
        weft_deferred_unref(d);
        return NULL;
    }
    x->r = r;
    x->f = f;
    x->d = d;
    x->host = copy;
    x->port = port;
    if (o.bind)
        x->bind = *o.bind;
    weft_factory_start(f);
    weft_deferred *caller = weft_deferred_ref(d);
    weft_deferred_set_canceller(d, on_cancel, x);
    double timeout = o.timeout == 0 ? 30 : o.timeout;
    if (timeout > 0 && weft_call_later(r, timeout, on_deadline, x, &x->deadline) < 0) {
        fail_race(x, WEFT_ENOMEM);
        return caller;
    }
    weft_deferred *lookup = weft_resolve(res, host, AF_UNSPEC);
    if (!lookup) {
        fail_race(x, WEFT_ENOMEM);
        return caller;
    }
    x->resolving = lookup;
    /* A lookup that answers at once runs `resolved` inside this call. */
    if (weft_deferred_add_both(lookup, resolved, x) < 0) {
        fail_race(x, WEFT_ENOMEM);
        return caller;
    }
    return caller;
}
