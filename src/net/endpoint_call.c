/* SPDX-License-Identifier: MIT */
/*
 * Listening and connecting in one call, from endpoint strings
 * (serverFromString(...).listen, clientFromString(...).connect and
 * connectProtocol): parse, act, free the endpoint, and fold a bad string
 * into the Deferred's failure, so a program has one thing to await.
 */
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/endpoint.h"
#include "weft/error.h"

typedef weft_deferred *(*act_fn)(weft_endpoint *e, weft_factory *f);

static weft_deferred *with_endpoint(weft_reactor *r, const char *desc, bool server, act_fn act, weft_factory *f)
{
    weft_endpoint *e;
    weft_failure *why = NULL;
    int err = server ? weft_endpoint_server(r, desc, &e, &why) : weft_endpoint_client(r, desc, &e, &why);
    if (err < 0)
        return weft_fail(r, why ? why : weft_failure_new(err, "%s: %s", desc, weft_strerror(err)));
    weft_deferred *d = act(e, f);
    weft_endpoint_free(e);
    return d;
}

weft_deferred *weft_listen_on(weft_reactor *r, const char *desc, weft_factory *factory)
{
    return with_endpoint(r, desc, true, weft_endpoint_listen, factory);
}

weft_deferred *weft_connect_to(weft_reactor *r, const char *desc, weft_factory *factory)
{
    return with_endpoint(r, desc, false, weft_endpoint_connect, factory);
}

/* connectProtocol's factory: hands out its one protocol, and frees itself
 * (and the protocol, if it was never used) when nothing uses it any more. */
typedef struct one {
    weft_factory base;
    weft_protocol *p;
} one;

static weft_protocol *one_build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    one *o = (one *)f;
    weft_protocol *p = o->p;
    o->p = NULL;
    return p;
}

static void one_stop(weft_factory *f)
{
    one *o = (one *)f;
    if (o->p && o->p->ops->destroy)
        o->p->ops->destroy(o->p);
    weft_free(o);
}

static const weft_factory_ops one_ops = {.build = one_build, .stop = one_stop};

weft_deferred *weft_connect_protocol(weft_reactor *r, const char *desc, weft_protocol *p)
{
    one *o = weft_calloc(1, sizeof *o);
    if (!o) {
        if (p->ops->destroy)
            p->ops->destroy(p);
        return NULL;
    }
    o->base.ops = &one_ops;
    o->p = p;
    /* Held while the endpoint is made, so that a bad string, which never
     * uses the factory, still frees it (and p) here. */
    weft_factory_start(&o->base);
    weft_deferred *d = weft_connect_to(r, desc, &o->base);
    weft_factory_stop(&o->base);
    return d;
}
