/* SPDX-License-Identifier: MIT */
/*
 * The port forwarder. Each inbound connection gets a `pair`: the inbound
 * protocol, the outbound protocol and the factory that builds the latter, in
 * one allocation shared by both sides (a reference each) and by the connect
 * attempt while it runs.
 */
#include <stdio.h>

#include "../../core/internal.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/flow.h"
#include "weft/log.h"
#include "weft/portforward.h"
#include "weft/transport.h"

struct weft_portforward {
    weft_factory factory;
    weft_reactor *r;
    weft_endpoint *target;
    size_t active;
    bool closing; /* freed when the last pair goes */
};

typedef struct pair {
    weft_protocol in, out;
    weft_factory out_factory;
    weft_portforward *pf;
    weft_deferred *connecting; /* while the outbound attempt runs */
    int refs;
} pair;

static void destroy(weft_portforward *pf)
{
    weft_endpoint_free(pf->target);
    weft_free(pf);
}

static void pair_unref(pair *p)
{
    if (--p->refs > 0)
        return;
    weft_portforward *pf = p->pf;
    weft_free(p);
    if (--pf->active == 0 && pf->closing)
        destroy(pf);
}

static void in_made(weft_protocol *proto);
static void in_lost(weft_protocol *proto, const weft_failure *why);
static void in_destroy(weft_protocol *proto);
static void out_destroy(weft_protocol *proto);

static const weft_protocol_ops in_ops = {.connection_made = in_made, .connection_lost = in_lost, .destroy = in_destroy};
static const weft_protocol_ops out_ops = {.destroy = out_destroy};

static weft_protocol *build_out(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    pair *p = WEFT_CONTAINER_OF(f, pair, out_factory);
    p->refs++;
    return &p->out;
}

static const weft_factory_ops out_factory_ops = {.build = build_out};

static weft_result connected(void *arg, weft_result r)
{
    pair *p = arg;
    p->connecting = NULL;
    if (!p->in.transport) /* the inbound side went meanwhile */
        return r;
    weft_flow_pipe(p->in.transport, p->out.transport);
    weft_transport_resume_reading(p->in.transport);
    return r;
}

static weft_result not_connected(void *arg, weft_result r)
{
    pair *p = arg;
    p->connecting = NULL;
    weft_failure *f = weft_result_failure(r);
    if (p->in.transport && !weft_failure_check(f, WEFT_ECANCELED)) {
        char desc[256];
        weft_endpoint_describe(p->pf->target, desc, sizeof desc);
        weft_log(weft_reactor_logger(p->pf->r), WEFT_LOG_WARN, "weft.portforward", "cannot reach {target}: {error}",
                 WEFT_LOG_STR("target", desc), WEFT_LOG_STR("error", weft_failure_message(f)));
        weft_transport_lose_connection(p->in.transport);
    }
    weft_result_free(r);
    return weft_none();
}

static void release_pair(void *arg)
{
    pair_unref(arg);
}

static void in_made(weft_protocol *proto)
{
    pair *p = WEFT_CONTAINER_OF(proto, pair, in);
    /* Nothing is read until there is somewhere to send it. */
    weft_transport_pause_reading(proto->transport);
    weft_deferred *d = weft_endpoint_connect(p->pf->target, &p->out_factory);
    if (!d) {
        weft_transport_lose_connection(proto->transport);
        return;
    }
    p->refs++;
    if (weft_deferred_add_callbacks_full(d, connected, not_connected, p, release_pair) < 0) {
        p->refs--;
        weft_deferred_cancel(d);
        weft_transport_lose_connection(proto->transport);
    } else if (!weft_deferred_called(d)) {
        p->connecting = d;
    }
    weft_deferred_unref(d);
}

static void in_lost(weft_protocol *proto, const weft_failure *why)
{
    (void)why;
    pair *p = WEFT_CONTAINER_OF(proto, pair, in);
    if (p->connecting)
        weft_deferred_cancel(p->connecting);
}

static void in_destroy(weft_protocol *proto)
{
    pair_unref(WEFT_CONTAINER_OF(proto, pair, in));
}

static void out_destroy(weft_protocol *proto)
{
    pair_unref(WEFT_CONTAINER_OF(proto, pair, out));
}

static weft_protocol *build_in(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    weft_portforward *pf = (weft_portforward *)f;
    if (pf->closing)
        return NULL;
    pair *p = weft_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->in.ops = &in_ops;
    p->out.ops = &out_ops;
    p->out_factory.ops = &out_factory_ops;
    p->pf = pf;
    p->refs = 1;
    pf->active++;
    return &p->in;
}

static const weft_factory_ops in_factory_ops = {.build = build_in};

weft_portforward *weft_portforward_new(weft_reactor *r, weft_endpoint *target)
{
    weft_portforward *pf = weft_calloc(1, sizeof *pf);
    if (pf) {
        pf->factory.ops = &in_factory_ops;
        pf->r = r;
        pf->target = target;
    }
    return pf;
}

weft_factory *weft_portforward_factory(weft_portforward *pf)
{
    return &pf->factory;
}

size_t weft_portforward_active(const weft_portforward *pf)
{
    return pf->active;
}

void weft_portforward_free(weft_portforward *pf)
{
    if (!pf)
        return;
    pf->closing = true;
    if (pf->active == 0)
        destroy(pf);
}
