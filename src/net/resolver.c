/* SPDX-License-Identifier: MIT */
/*
 * The c-ares resolver. c-ares tells which sockets it wants watched through
 * its socket-state callback: they become reactor readers and writers, whose
 * events go back to ares_process_fd. Its retransmission timeouts become one
 * reactor timer, set again after every step from ares_timeout. A lookup
 * whose Deferred is cancelled is only marked: c-ares cannot cancel one query
 * alone, and its answer is thrown away when it comes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <string.h>

#include <ares.h>

#include "../core/internal.h"
#include "../core/list.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/reactor.h"
#include "weft/resolver.h"
#include "weft/timer.h"

struct weft_resolver {
    weft_reactor *r;
    ares_channel ch;
    weft_timer timer;
    weft__list queries;
    bool freeing;
};

typedef struct query {
    weft__list node;
    weft_resolver *res;
    weft_deferred *d; /* ours until settled; NULL once cancelled */
    char *name;
} query;

static void rearm(weft_resolver *res);

static void on_fd(void *arg, int fd, unsigned events)
{
    weft_resolver *res = arg;
    bool in = events & (WEFT_READABLE | WEFT_HANGUP | WEFT_ERROR), out = events & WEFT_WRITABLE;
    ares_process_fd(res->ch, in ? fd : ARES_SOCKET_BAD, out ? fd : ARES_SOCKET_BAD);
    rearm(res);
}

static void on_timer(void *arg)
{
    weft_resolver *res = arg;
    res->timer.id = 0;
    ares_process_fd(res->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm(res);
}

static void rearm(weft_resolver *res)
{
    if (res->freeing)
        return;
    struct timeval tv, *t = ares_timeout(res->ch, NULL, &tv);
    weft_timer_cancel(res->r, res->timer);
    res->timer.id = 0;
    if (t && weft_call_later(res->r, (double)t->tv_sec + t->tv_usec / 1e6, on_timer, res, &res->timer) < 0)
        res->timer.id = 0; /* without memory for a timer, the next event still drives it */
}

static void sock_state(void *arg, ares_socket_t fd, int readable, int writable)
{
    weft_resolver *res = arg;
    if (readable) {
        if (weft_reactor_add_reader(res->r, fd, on_fd, res) < 0)
            return;
    } else {
        weft_reactor_remove_reader(res->r, fd);
    }
    if (writable) {
        if (weft_reactor_add_writer(res->r, fd, on_fd, res) < 0)
            return;
    } else {
        weft_reactor_remove_writer(res->r, fd);
    }
}

int weft_resolver_new(weft_reactor *r, const weft_resolver_options *o, weft_resolver **out)
{
    weft_resolver *res = weft_calloc(1, sizeof *res);
    if (!res)
        return WEFT_ENOMEM;
    res->r = r;
    weft__list_init(&res->queries);
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
        weft_free(res);
        return WEFT_ENOMEM;
    }
    struct ares_options opts = {.sock_state_cb = sock_state, .sock_state_cb_data = res};
    int mask = ARES_OPT_SOCK_STATE_CB;
    if (o && o->timeout > 0) {
        opts.timeout = (int)(o->timeout * 1000);
        mask |= ARES_OPT_TIMEOUTMS;
    }
    if (o && o->tries > 0) {
        opts.tries = o->tries;
        mask |= ARES_OPT_TRIES;
    }
    if (o && o->resolv_conf) {
        opts.resolvconf_path = (char *)o->resolv_conf; /* c-ares copies it */
        mask |= ARES_OPT_RESOLVCONF;
    }
    int st = ares_init_options(&res->ch, &opts, mask);
    if (st != ARES_SUCCESS) {
        ares_library_cleanup();
        weft_free(res);
        return st == ARES_ENOMEM ? WEFT_ENOMEM : WEFT_EINVAL;
    }
    if (o && o->servers && ares_set_servers_ports_csv(res->ch, o->servers) != ARES_SUCCESS) {
        ares_destroy(res->ch);
        ares_library_cleanup();
        weft_free(res);
        return WEFT_EINVAL;
    }
    *out = res;
    return 0;
}

void weft_resolver_free(weft_resolver *res)
{
    if (!res)
        return;
    res->freeing = true;
    /* Every pending query's callback runs now, with ARES_EDESTRUCTION. */
    ares_destroy(res->ch);
    weft_timer_cancel(res->r, res->timer);
    ares_library_cleanup();
    weft_free(res);
}

static void free_resolver(void *res)
{
    weft_resolver_free(res);
}

weft_resolver *weft_reactor_resolver(weft_reactor *r)
{
    weft_resolver *res = weft__reactor_ext(r, WEFT__EXT_RESOLVER);
    if (!res && weft_resolver_new(r, NULL, &res) == 0)
        weft__reactor_set_ext(r, WEFT__EXT_RESOLVER, res, free_resolver);
    return res;
}

/* ---- lookups ---- */

static void query_free(query *q)
{
    weft__list_remove(&q->node);
    weft_free(q->name);
    weft_free(q);
}

static weft_failure *failure_of(int status, const char *name)
{
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
        return weft_failure_new(WEFT_ENOTFOUND, "%s: no such name (or no address of that family)", name);
    case ARES_ETIMEOUT:
        return weft_failure_new(WEFT_ETIMEDOUT, "%s: no name server answered", name);
    case ARES_ENOMEM:
        return weft_failure_new(WEFT_ENOMEM, "%s: out of memory resolving", name);
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        return weft_failure_new(WEFT_ECANCELED, "%s: resolution cancelled", name);
    default:
        return weft_failure_new(WEFT_EDNS, "%s: %s", name, ares_strerror(status));
    }
}

static void answered(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    (void)timeouts;
    query *q = arg;
    weft_deferred *d = q->d;
    if (!d) { /* cancelled meanwhile */
        ares_freeaddrinfo(ai);
        query_free(q);
        return;
    }
    q->d = NULL;
    weft_deferred_set_canceller(d, NULL, NULL);
    size_t n = 0;
    for (struct ares_addrinfo_node *a = ai ? ai->nodes : NULL; a; a = a->ai_next)
        n += a->ai_family == AF_INET || a->ai_family == AF_INET6;
    if (status == ARES_SUCCESS && n == 0)
        status = ARES_ENODATA;
    if (status != ARES_SUCCESS) {
        weft_deferred_errback(d, failure_of(status, q->name));
    } else {
        weft_address_list *l = weft_malloc(sizeof *l + n * sizeof l->addrs[0]);
        if (!l) {
            weft_deferred_errback(d, weft_failure_new(WEFT_ENOMEM, "out of memory"));
        } else {
            l->count = 0;
            for (struct ares_addrinfo_node *a = ai->nodes; a; a = a->ai_next) {
                if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
                    continue;
                weft_address *x = &l->addrs[l->count++];
                memset(x, 0, sizeof *x);
                memcpy(&x->u, a->ai_addr, a->ai_addrlen);
                x->len = a->ai_addrlen;
                if (a->ai_family == AF_INET)
                    x->u.in.sin_port = 0;
                else
                    x->u.in6.sin6_port = 0;
            }
            weft_deferred_callback(d, l, weft_free);
        }
    }
    ares_freeaddrinfo(ai);
    query_free(q);
    weft_deferred_unref(d);
}

static void abandon(void *arg, weft_deferred *d)
{
    query *q = arg;
    /* The query stays with c-ares; its answer finds d gone. */
    q->d = NULL;
    weft_deferred_unref(d); /* ours; cancel holds its own and errbacks d next */
}

weft_deferred *weft_resolve(weft_resolver *res, const char *name, int family)
{
    /* A numeric address is its own answer (c-ares 1.18 would ask a server
     * when the family is AF_UNSPEC). */
    weft_address a;
    if (weft_address_from_ip(name, 0, &a) == 0) {
        if (family != AF_UNSPEC && weft_address_family(&a) != family)
            return weft_fail(res->r, weft_failure_new(WEFT_ENOTFOUND, "%s: not an address of that family", name));
        weft_address_list *l = weft_malloc(sizeof *l + sizeof l->addrs[0]);
        if (!l)
            return NULL;
        l->count = 1;
        l->addrs[0] = a;
        return weft_succeed(res->r, l, weft_free);
    }
    weft_deferred *d = weft_deferred_new(res->r);
    query *q = d ? weft_calloc(1, sizeof *q) : NULL;
    char *copy = q ? weft_strdup(name) : NULL;
    if (!copy) {
        weft_free(q);
        weft_deferred_unref(d);
        return NULL;
    }
    q->res = res;
    q->d = weft_deferred_ref(d);
    q->name = copy;
    weft__list_push_back(&res->queries, &q->node);
    weft_deferred_set_canceller(d, abandon, q);
    struct ares_addrinfo_hints hints = {.ai_family = family == AF_INET || family == AF_INET6 ? family : AF_UNSPEC};
    /* May answer at once (/etc/hosts, a numeric address). */
    ares_getaddrinfo(res->ch, name, NULL, &hints, answered, q);
    rearm(res);
    return d;
}
