/* SPDX-License-Identifier: MIT */
/*
 * Listening and connecting in one call, from endpoint strings
 * (serverFromString(...).listen, clientFromString(...).connect and
 * connectProtocol): parse, act, free the endpoint, and fold a bad string
 * into the Deferred's failure, so a program has one thing to await.
 */
#include <string.h>

#include "weft/alloc.h"
#include "weft/reactor.h"
#include "weft/deferred.h"
#include "weft/endpoint.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/socket.h"

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

/* As Twisted's ports log "starting on": where a program listens, with the
 * port the kernel chose for port 0. */
typedef struct listening {
    weft_reactor *r;
    char desc[];
} listening;

static weft_result announce(void *arg, weft_result result)
{
    listening *l = arg;
    weft_address a;
    char where[128];
    if (!weft_failed(result) && weft_port_address(result.value, &a) == 0) {
        weft_address_format(&a, where, sizeof where);
        weft_log(weft_reactor_logger(l->r), WEFT_LOG_INFO, "weft.net", "listening on {endpoint} ({address})",
                 WEFT_LOG_STR("endpoint", l->desc), WEFT_LOG_STR("address", where));
    }
    return result;
}

weft_deferred *weft_listen_on(weft_reactor *r, const char *desc, weft_factory *factory)
{
    size_t n = strlen(desc) + 1;
    listening *l = weft_malloc(sizeof *l + n);
    weft_deferred *d = l ? with_endpoint(r, desc, true, weft_endpoint_listen, factory) : NULL;
    if (!d) {
        weft_free(l);
        return NULL;
    }
    l->r = r;
    memcpy(l->desc, desc, n);
    if (weft_deferred_add_callbacks_full(d, announce, NULL, l, weft_free) < 0) {
        weft_free(l);
        weft_deferred_unref(d);
        return NULL;
    }
    return d;
}

weft_deferred *weft_connect_to(weft_reactor *r, const char *desc, weft_factory *factory)
{
    return with_endpoint(r, desc, false, weft_endpoint_connect, factory);
}

/* connectProtocol's factory: hands out its one protocol. It lives until
 * the attempt is over (the Deferred has fired) and nothing uses it (its
 * protocol's connection, if any, has ended): wrappers such as TLS build the
 * protocol, and count it as a user, only once they are connected. */
typedef struct one {
    weft_factory base;
    weft_protocol *p; /* until handed out */
    bool over;
} one;

static void one_free(one *o)
{
    if (o->p)
        weft_protocol_destroy(o->p);
    weft_free(o);
}

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
    if (o->over)
        one_free(o);
}

static weft_result one_over(void *arg, weft_result result)
{
    one *o = arg;
    o->over = true;
    if (o->base.users == 0)
        one_free(o);
    return result;
}

static const weft_factory_ops one_ops = {.build = one_build, .stop = one_stop};

weft_deferred *weft_connect_protocol(weft_reactor *r, const char *desc, weft_protocol *p)
{
    one *o = weft_calloc(1, sizeof *o);
    if (!o) {
        weft_protocol_destroy(p);
        return NULL;
    }
    o->base.ops = &one_ops;
    o->p = p;
    weft_deferred *d = weft_connect_to(r, desc, &o->base);
    if (!d) {
        one_free(o);
        return NULL;
    }
    /* A Deferred just made has room for this callback: this cannot fail. */
    if (weft_deferred_add_both(d, one_over, o) < 0)
        weft_deferred_cancel(d);
    return d;
}
