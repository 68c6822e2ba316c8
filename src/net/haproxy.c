/* SPDX-License-Identifier: MIT */
/*
 * The haproxy: wrapper (haproxy.h). A connection starts with a reader
 * protocol that collects the PROXY header (proxy_header.c parses it);
 * once it is whole, the wrapped factory builds the real protocol for the
 * client's address, and a protocol wrapper (wrapper.c) takes the reader's
 * place on the connection, answering peer and host from the header. The
 * reader's struct goes on as the wrapper's state.
 *
 * Unlike Twisted's, the wrapped protocol is built and connected only after
 * the header (the text forbids processing before it, and a factory should
 * see the client), a header may come a byte at a time, and one that does
 * not come is timed out.
 */
#include <errno.h>
#include <string.h>

#include "proxy_header.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/haproxy.h"
#include "weft/log.h"
#include "weft/reactor.h"
#include "weft/timer.h"
#include "weft/transport.h"
#include "weft/wrapper.h"

static const char log_ns[] = "weft.net.haproxy";

typedef struct hp_factory {
    weft_factory base;
    weft_factory *inner;
    double timeout;
    bool closing; /* freed by the last connection's end */
} hp_factory;

typedef struct hp_conn {
    weft_protocol reader; /* the connection's protocol until the header is whole */
    hp_factory *f;        /* kept alive by this connection, which uses it */
    weft_reactor *r;
    weft_timer timer;
    weft__proxy_header header;
    /* A header that arrived in pieces, so far: WEFT__PROXY_V2_MAX bytes,
     * allocated at the first piece. */
    unsigned char *buf;
    size_t len;
    bool installed; /* the wrapper has taken over and owns this struct */
} hp_conn;

static void free_conn(hp_conn *c)
{
    weft_free(c->buf);
    weft_free(c);
}

/* ---- after the header: the wrapper's answers ---- */

static int w_peer(const weft_wrapper *w, weft_address *out)
{
    const hp_conn *c = weft_wrapper_ctx(w);
    if (!c->header.source.len)
        return weft_transport_peer(weft_wrapper_outer(w), out);
    *out = c->header.source;
    return 0;
}

static int w_host(const weft_wrapper *w, weft_address *out)
{
    const hp_conn *c = weft_wrapper_ctx(w);
    if (!c->header.destination.len)
        return weft_transport_host(weft_wrapper_outer(w), out);
    *out = c->header.destination;
    return 0;
}

static void w_destroy(weft_wrapper *w)
{
    hp_conn *c = weft_wrapper_ctx(w);
    if (c->installed)
        free_conn(c);
}

static const weft_wrapper_ops wrapper_ops = {.destroy = w_destroy, .peer = w_peer, .host = w_host};

/* ---- before it: the reader ---- */

static void refuse(hp_conn *c, weft_log_level level, const char *why)
{
    weft_transport *t = c->reader.transport;
    char peer[128] = "?";
    weft_address a;
    if (weft_transport_peer(t, &a) == 0)
        weft_address_format(&a, peer, sizeof peer);
    weft_log(weft_reactor_logger(c->r), level, log_ns, "{peer}: closing the connection: {reason}",
             WEFT_LOG_STR("peer", peer), WEFT_LOG_STR("reason", why));
}

static void expired(void *arg)
{
    hp_conn *c = arg;
    c->timer.id = 0;
    refuse(c, WEFT_LOG_WARN, "no complete PROXY header in time");
    weft_transport_abort_connection(c->reader.transport);
}

/* The header is whole and `rest` followed it: the real protocol takes over.
 * Returns false when it could not (the connection is then aborted). */
static bool take_over(hp_conn *c, const void *rest, size_t rest_len)
{
    weft_transport *t = c->reader.transport;
    weft_timer_cancel(c->r, c->timer);
    c->timer.id = 0;
    weft_free(c->buf);
    c->buf = NULL;
    weft_address socket_peer = {0};
    if (!c->header.source.len && weft_transport_peer(t, &socket_peer) < 0)
        socket_peer.len = 0;
    weft_factory *inner_f = c->f->inner;
    weft_protocol *inner = inner_f->ops->build(inner_f, c->header.source.len ? &c->header.source : &socket_peer);
    if (!inner)
        return false; /* refused by the factory, as at accept */
    if (!inner->factory)
        inner->factory = inner_f;
    weft_protocol *wp = weft_wrapper_new(&wrapper_ops, c, inner);
    if (!wp || weft_wrapper_install(t, wp) < 0) {
        if (wp)
            weft_wrapper_discard(wp);
        weft_protocol_destroy(inner);
        return false;
    }
    /* From here the wrapper owns c; the reader is off the connection. */
    c->installed = true;
    weft_wrapper *w = weft_wrapper_of(wp);
    if (rest_len)
        weft_wrapper_pass_up(w, rest, rest_len);
    return true;
}

static void r_made(weft_protocol *p)
{
    hp_conn *c = WEFT_CONTAINER_OF(p, hp_conn, reader);
    c->r = weft_transport_reactor(p->transport);
    if (weft_call_later(c->r, c->f->timeout, expired, c, &c->timer) < 0) {
        c->timer.id = 0;
        weft_transport_abort_connection(p->transport);
    }
}

static void r_data(weft_protocol *p, const void *data, size_t len)
{
    hp_conn *c = WEFT_CONTAINER_OF(p, hp_conn, reader);
    const unsigned char *bytes = data;
    size_t old = c->len, took = len;
    if (old) {
        /* A header is at most WEFT__PROXY_V2_MAX bytes: what goes past
         * that cannot be part of it. */
        took = len < WEFT__PROXY_V2_MAX - old ? len : WEFT__PROXY_V2_MAX - old;
        memcpy(c->buf + old, bytes, took);
        c->len += took;
    }
    const char *why;
    ssize_t n = weft__proxy_header_parse(old ? c->buf : bytes, old ? c->len : len, &c->header, &why);
    if (n < 0) {
        refuse(c, WEFT_LOG_WARN, why);
        weft_transport_abort_connection(p->transport);
        return;
    }
    if (n > 0) {
        /* The header ends within this piece; what follows it is the
         * protocol's. */
        size_t used = (size_t)n - old;
        if (!take_over(c, bytes + used, len - used))
            weft_transport_abort_connection(p->transport);
        return;
    }
    /* The beginning of a header: shorter than the longest there is, so
     * all of this piece was taken. */
    if (!old) {
        if (!(c->buf = weft_malloc(WEFT__PROXY_V2_MAX))) {
            weft_transport_abort_connection(p->transport);
            return;
        }
        memcpy(c->buf, bytes, len);
        c->len = len;
    }
}

static bool r_eof(weft_protocol *p)
{
    hp_conn *c = WEFT_CONTAINER_OF(p, hp_conn, reader);
    refuse(c, WEFT_LOG_INFO, "closed by the peer before a complete PROXY header");
    return false;
}

static void r_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    hp_conn *c = WEFT_CONTAINER_OF(p, hp_conn, reader);
    weft_timer_cancel(c->r, c->timer);
    c->timer.id = 0;
}

static void r_destroy(weft_protocol *p)
{
    free_conn(WEFT_CONTAINER_OF(p, hp_conn, reader));
}

static const weft_protocol_ops reader_ops = {r_made, r_data, r_eof, r_lost, r_destroy};

/* ---- the factory ---- */

static weft_protocol *hp_build(weft_factory *f, const weft_address *peer)
{
    (void)peer; /* the proxy's; the factory inside is told the client's */
    hp_factory *hf = (hp_factory *)f;
    hp_conn *c = weft_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->reader.ops = &reader_ops;
    c->reader.factory = f;
    c->f = hf;
    return &c->reader;
}

static void hp_stopped(weft_factory *f)
{
    hp_factory *hf = (hp_factory *)f;
    if (hf->closing)
        weft_free(hf);
}

static const weft_factory_ops hp_factory_ops = {.build = hp_build, .stop = hp_stopped};

weft_factory *weft_haproxy_factory_new(weft_factory *inner, double header_timeout)
{
    hp_factory *hf = weft_calloc(1, sizeof *hf);
    if (!hf)
        return NULL;
    hf->base.ops = &hp_factory_ops;
    hf->inner = inner;
    hf->timeout = header_timeout > 0 ? header_timeout : WEFT_HAPROXY_TIMEOUT;
    return &hf->base;
}

void weft_haproxy_factory_free(weft_factory *f)
{
    hp_factory *hf = (hp_factory *)f;
    if (!hf)
        return;
    if (hf->base.users == 0)
        weft_free(hf);
    else
        hf->closing = true;
}
