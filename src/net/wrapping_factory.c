/* SPDX-License-Identifier: MIT */
/*
 * The wrapping factory. Each connection's protocol is a small wrapper that
 * forwards every event to the inner protocol and sits on the factory's list
 * of open connections while its connection lives.
 */
#include "../core/internal.h"
#include "../async/waitq.h"
#include "../core/list.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/wrapping_factory.h"
#include "weft/transport.h"

struct weft_wrapping_factory {
    weft_factory base;
    weft_reactor *r;
    weft_factory *inner;
    size_t count, limit;
    weft__list open;
    weft__waitq drained; /* waiting for count == 0 */
};

typedef struct wrapper {
    weft_protocol base;
    weft__list node;
    weft_wrapping_factory *wf;
    weft_protocol *inner;
    bool made; /* the inner protocol saw connection_made */
} wrapper;

#define W(p) ((wrapper *)(void *)(p))

static void w_made(weft_protocol *p)
{
    wrapper *w = W(p);
    weft_wrapping_factory *wf = w->wf;
    weft__list_push_back(&wf->open, &w->node);
    wf->count++;
    w->inner->transport = p->transport;
    if (wf->limit && wf->count > wf->limit) {
        weft_transport_lose_connection(p->transport);
        return;
    }
    w->made = true;
    if (w->inner->ops->connection_made)
        w->inner->ops->connection_made(w->inner);
}

static void w_data(weft_protocol *p, const void *data, size_t len)
{
    weft_protocol *in = W(p)->inner;
    if (in->ops->data_received)
        in->ops->data_received(in, data, len);
}

static bool w_eof(weft_protocol *p)
{
    weft_protocol *in = W(p)->inner;
    return in->ops->eof_received && in->ops->eof_received(in);
}

static void w_lost(weft_protocol *p, const weft_failure *why)
{
    wrapper *w = W(p);
    weft_protocol *in = w->inner;
    if (w->made && in->ops->connection_lost)
        in->ops->connection_lost(in, why);
    in->transport = NULL;
    weft__list_remove(&w->node);
    if (--w->wf->count == 0)
        weft__waitq_fire_all(&w->wf->drained, NULL);
}

static void w_destroy(weft_protocol *p)
{
    wrapper *w = W(p);
    weft_protocol_destroy(w->inner);
    weft_free(w);
}

static const weft_protocol_ops wrapper_ops = {w_made, w_data, w_eof, w_lost, w_destroy};

static weft_protocol *build(weft_factory *f, const weft_address *peer)
{
    weft_wrapping_factory *wf = (weft_wrapping_factory *)f;
    wrapper *w = weft_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->inner = wf->inner->ops->build(wf->inner, peer);
    if (!w->inner) {
        weft_free(w);
        return NULL;
    }
    if (!w->inner->factory)
        w->inner->factory = wf->inner;
    w->base.ops = &wrapper_ops;
    w->wf = wf;
    weft__list_init(&w->node);
    return &w->base;
}

static void start(weft_factory *f)
{
    weft_factory_start(((weft_wrapping_factory *)f)->inner);
}

static void stop(weft_factory *f)
{
    weft_factory_stop(((weft_wrapping_factory *)f)->inner);
}

static const weft_factory_ops factory_ops = {build, start, stop};

weft_wrapping_factory *weft_wrapping_factory_new(weft_reactor *r, weft_factory *inner)
{
    weft_wrapping_factory *wf = weft_calloc(1, sizeof *wf);
    if (!wf)
        return NULL;
    wf->base.ops = &factory_ops;
    wf->r = r;
    wf->inner = inner;
    weft__list_init(&wf->open);
    weft__waitq_init(&wf->drained);
    return wf;
}

void weft_wrapping_factory_close_all(weft_wrapping_factory *wf, bool abort)
{
    /* Closing never unlinks at once (connection_lost comes later), so the
     * list can be walked as it is. */
    for (weft__list *n = wf->open.next; n != &wf->open; n = n->next) {
        wrapper *w = WEFT_CONTAINER_OF(n, wrapper, node);
        if (abort)
            weft_transport_abort_connection(w->base.transport);
        else
            weft_transport_lose_connection(w->base.transport);
    }
}

void weft_wrapping_factory_free(weft_wrapping_factory *wf)
{
    if (!wf)
        return;
    weft_wrapping_factory_close_all(wf, true);
    /* Let the aborts finish their second phase: the wrappers point here. */
    while (wf->count > 0)
        weft_reactor_iterate(wf->r, 0);
    weft__waitq_drop_all(&wf->drained);
    weft_free(wf);
}

weft_factory *weft_wrapping_factory_base(weft_wrapping_factory *wf)
{
    return &wf->base;
}

void weft_wrapping_factory_set_limit(weft_wrapping_factory *wf, size_t max)
{
    wf->limit = max;
}

size_t weft_wrapping_factory_count(const weft_wrapping_factory *wf)
{
    return wf->count;
}

weft_deferred *weft_wrapping_factory_drained(weft_wrapping_factory *wf)
{
    if (wf->count == 0)
        return weft_succeed(wf->r, NULL, NULL);
    return weft__waitq_add(&wf->drained, wf->r);
}
