/* SPDX-License-Identifier: MIT */
/*
 * Persistent connections per destination (twisted.web.client's
 * HTTPConnectionPool): at most max_per_host connections open to one
 * endpoint, requests beyond that wait in line (each at most queue_timeout);
 * a connection whose response ended with keep-alive serves the next in
 * line, or waits idle (at most max_idle, each for idle_timeout) for the
 * next request.
 */
#include <string.h>

#include "client_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

static void pool_release(weft__hc_conn *c);
static void pool_remove(weft__hc_conn *c);

/* What a connection tells its pool (client_int.h). */
static const weft__hc_pool_ops pool_ops = {.release = pool_release, .remove = pool_remove};

weft__hc_pool *weft__hc_pool_get(weft_http_agent *a, const weft__hc_req *req, weft_failure **err)
{
    *err = NULL;
    for (weft__list *n = a->pools.next; n != &a->pools; n = n->next) {
        weft__hc_pool *p = WEFT_CONTAINER_OF(n, weft__hc_pool, link);
        if (strcmp(p->key, req->key) == 0)
            return p;
    }
    weft__hc_pool *p = weft_calloc(1, sizeof *p);
    if (!p || !(p->key = weft_strdup(req->key)) ||
        (req->server_name && !(p->server_name = weft_strdup(req->server_name)))) {
        if (p)
            weft_free(p->key);
        weft_free(p);
        *err = weft_failure_new(WEFT_ENOMEM, "out of memory");
        return NULL;
    }
    weft_failure *why = NULL;
    if (weft_endpoint_client(a->r, req->endpoint, &p->ep, &why) < 0) {
        *err = weft_failure_wrap(why, WEFT_EINVAL, "bad endpoint for HTTP: %s", req->endpoint);
        weft_free(p->server_name);
        weft_free(p->key);
        weft_free(p);
        return NULL;
    }
    p->ops = &pool_ops;
    p->a = a;
    p->tls = req->tls;
    weft__list_init(&p->conns);
    weft__list_init(&p->idle);
    weft__list_init(&p->waiting);
    weft__list_push_back(&a->pools, &p->link);
    return p;
}

/* Every connection stayed busy for as long as req would wait: the failure
 * says both what happened (ETIMEDOUT) and why (EBUSY), so that a proxy can
 * tell its own congestion (503) from a slow upstream (504). */
static void queue_timed_out(void *arg)
{
    weft__hc_req *req = arg;
    weft__hc_pool *p = req->pool;
    req->queue_timer = (weft_timer){0};
    weft_failure *busy = weft_failure_new(WEFT_EBUSY, "all %u connections to %s are busy", p->a->o.max_per_host,
                                          p->key);
    req->ops->fail(req, weft_failure_wrap(busy, WEFT_ETIMEDOUT, "no connection came free within %g s",
                                             p->a->o.queue_timeout));
}

static void start_connect(weft__hc_pool *p, weft__hc_req *req)
{
    if (weft__hc_conn_connect(p, req) < 0)
        req->ops->fail(req, weft_failure_new(WEFT_ENOMEM, "out of memory connecting to %s", p->key));
}

void weft__hc_pool_acquire(weft__hc_pool *p, weft__hc_req *req, bool fresh)
{
    req->pool = p;
    if (!fresh && !weft__list_empty(&p->idle)) {
        weft__hc_conn *c = WEFT_CONTAINER_OF(weft__list_pop_front(&p->idle), weft__hc_conn, idle_link);
        p->nidle--;
        c->idle = false;
        weft__hc_conn_start(c, req);
        return;
    }
    if (p->nconns < p->a->o.max_per_host) {
        start_connect(p, req);
        return;
    }
    if (fresh && !weft__list_empty(&p->idle)) {
        /* Make room: an idle connection is worth less than a retry. */
        weft__hc_conn *c = WEFT_CONTAINER_OF(p->idle.prev, weft__hc_conn, idle_link);
        pool_remove(c);
        weft__hc_conn_close(c);
        start_connect(p, req);
        return;
    }
    double limit = p->a->o.queue_timeout;
    if (limit > 0 && weft_call_later(p->a->r, limit, queue_timed_out, req, &req->queue_timer) < 0) {
        req->ops->fail(req, weft_failure_new(WEFT_ENOMEM, "out of memory setting the queue timeout"));
        return;
    }
    req->waiting = true;
    weft__list_push_back(&p->waiting, &req->wait_link);
}

void weft__hc_pool_unqueue(weft__hc_req *req)
{
    if (!req->waiting)
        return;
    req->waiting = false;
    weft__list_remove(&req->wait_link);
    weft_timer_cancel(req->a->r, req->queue_timer);
    req->queue_timer = (weft_timer){0};
}

static weft__hc_req *next_waiting(weft__hc_pool *p)
{
    if (weft__list_empty(&p->waiting))
        return NULL;
    weft__hc_req *req = WEFT_CONTAINER_OF(p->waiting.next, weft__hc_req, wait_link);
    weft__hc_pool_unqueue(req);
    return req;
}

/* A connection's response ended with keep-alive: it serves the next in
 * line, or waits idle. */
static void pool_release(weft__hc_conn *c)
{
    weft__hc_pool *p = c->pool;
    if (p->a->closing) {
        weft__hc_conn_close(c);
        return;
    }
    weft__hc_req *req = next_waiting(p);
    if (req) {
        weft__hc_conn_start(c, req);
        return;
    }
    if (p->nidle >= p->a->o.max_idle) {
        pool_remove(c);
        weft__hc_conn_close(c);
        return;
    }
    c->idle = true;
    p->nidle++;
    /* Most recent first: the likeliest to be still open at the far end. */
    weft__list *h = &p->idle;
    c->idle_link.next = h->next;
    c->idle_link.prev = h;
    h->next->prev = &c->idle_link;
    h->next = &c->idle_link;
    weft__hc_conn_set_idle(c, p->a->o.idle_timeout);
}

static void serve_waiting(weft__hc_pool *p)
{
    while (!p->a->closing && p->nconns < p->a->o.max_per_host) {
        weft__hc_req *req = next_waiting(p);
        if (!req)
            return;
        start_connect(p, req);
    }
}

/* A connection is gone (or never came): uncounted, it makes room for a
 * request in line. */
static void pool_remove(weft__hc_conn *c)
{
    weft__hc_pool *p = c->pool;
    c->pool = NULL;
    if (c->counted) {
        c->counted = false;
        p->nconns--;
        weft__list_remove(&c->link);
    }
    if (c->idle) {
        c->idle = false;
        p->nidle--;
        weft__list_remove(&c->idle_link);
    }
    serve_waiting(p);
}

void weft__hc_pools_free(weft_http_agent *a)
{
    weft__list *n;
    while ((n = weft__list_pop_front(&a->pools))) {
        weft__hc_pool *p = WEFT_CONTAINER_OF(n, weft__hc_pool, link);
        weft__list *cn;
        while ((cn = weft__list_pop_front(&p->conns))) {
            weft__hc_conn *c = WEFT_CONTAINER_OF(cn, weft__hc_conn, link);
            bool idle = c->idle;
            c->counted = false;
            if (idle) {
                c->idle = false;
                weft__list_remove(&c->idle_link);
            }
            /* Busy ones finish their response and then close. */
            c->pool = NULL;
            if (idle)
                weft__hc_conn_close(c);
        }
        weft_endpoint_free(p->ep);
        weft_free(p->server_name);
        weft_free(p->key);
        weft_free(p);
    }
}
