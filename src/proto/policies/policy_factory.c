/* SPDX-License-Identifier: MIT */
/*
 * The policy factories: one wrapper per connection (wrapper.h), the policy
 * deciding what the wrapper's hooks do. Connections are listed on their
 * factory, so throttling reaches every one of them.
 */
#include <ctype.h>
#include <stdio.h>

#include "../../core/internal.h"
#include "../../core/list.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/looping_call.h"
#include "weft/policies.h"
#include "weft/transport.h"
#include "weft/wrapper.h"

typedef enum policy { P_TIMEOUT, P_THROTTLE, P_LOG } policy;

struct weft_policy_factory {
    weft_factory base;
    weft_reactor *r;
    weft_factory *inner;
    policy kind;
    size_t count;
    bool closing;
    weft__list conns;
    double timeout;
    double read_bps, write_bps;
    uint64_t read_this_second, written_this_second;
    weft_looping_call *tick;
    bool reads_throttled, writes_throttled;
    weft_timer unthrottle_reads, unthrottle_writes;
    char *ns;
};

typedef struct conn {
    weft__list node;
    weft_policy_factory *pf;
    weft_wrapper *w;
    weft_idle_timeout idle;
    char peer[64];
} conn;

static void pf_destroy(weft_policy_factory *pf)
{
    weft_looping_call_free(pf->tick);
    weft_timer_cancel(pf->r, pf->unthrottle_reads);
    weft_timer_cancel(pf->r, pf->unthrottle_writes);
    weft_free(pf->ns);
    weft_free(pf);
}

/* ---- per connection ---- */

static void excerpt(char *out, size_t size, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < size; i++) {
        if (isprint(p[i]) && p[i] != '\\')
            out[o++] = (char)p[i];
        else
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", p[i]);
    }
    if (len && o + 5 >= size && size > 4)
        snprintf(out + size - 4, 4, "...");
    else
        out[o < size ? o : size - 1] = '\0';
}

static void log_chunk(conn *c, const char *dir, const void *data, size_t len)
{
    weft_logger *lg = weft_reactor_logger(c->pf->r);
    if (!weft_logger_enabled(lg, WEFT_LOG_DEBUG, c->pf->ns))
        return;
    char text[128];
    excerpt(text, sizeof text, data, len);
    weft_log(lg, WEFT_LOG_DEBUG, c->pf->ns, "{peer} {dir} {bytes} bytes: {data}", WEFT_LOG_STR("peer", c->peer),
             WEFT_LOG_STR("dir", dir), WEFT_LOG_UINT("bytes", len), WEFT_LOG_STR("data", text));
}

static void activity(conn *c, const char *dir, const void *data, size_t len)
{
    weft_policy_factory *pf = c->pf;
    switch (pf->kind) {
    case P_TIMEOUT:
        weft_idle_timeout_reset(&c->idle);
        break;
    case P_THROTTLE:
        if (dir[0] == '>')
            pf->read_this_second += len;
        else
            pf->written_this_second += len;
        break;
    case P_LOG:
        log_chunk(c, dir, data, len);
        break;
    }
}

static void incoming(weft_wrapper *w, const void *data, size_t len)
{
    activity(weft_wrapper_ctx(w), ">", data, len);
    weft_wrapper_pass_up(w, data, len);
}

static void outgoing(weft_wrapper *w, const void *data, size_t len)
{
    activity(weft_wrapper_ctx(w), "<", data, len);
    weft_wrapper_pass_down(w, data, len);
}

static void idle_expired(weft_idle_timeout *t)
{
    conn *c = WEFT_CONTAINER_OF(t, conn, idle);
    weft_transport *outer = weft_wrapper_outer(c->w);
    if (outer)
        weft_transport_lose_connection(outer);
}

static void connected(weft_wrapper *w)
{
    conn *c = weft_wrapper_ctx(w);
    weft_policy_factory *pf = c->pf;
    weft__list_push_back(&pf->conns, &c->node);
    weft_address peer;
    if (weft_transport_peer(weft_wrapper_outer(w), &peer) == 0)
        weft_address_format(&peer, c->peer, sizeof c->peer);
    else
        snprintf(c->peer, sizeof c->peer, "(unknown)");
    switch (pf->kind) {
    case P_TIMEOUT:
        weft_idle_timeout_set(&c->idle, pf->r, pf->timeout, idle_expired);
        break;
    case P_THROTTLE:
        weft_wrapper_throttle_input(w, pf->reads_throttled);
        weft_wrapper_throttle_output(w, pf->writes_throttled);
        break;
    case P_LOG:
        weft_log(weft_reactor_logger(pf->r), WEFT_LOG_INFO, pf->ns, "{peer} connected", WEFT_LOG_STR("peer", c->peer));
        break;
    }
}

static void lost(weft_wrapper *w, const weft_failure *why)
{
    conn *c = weft_wrapper_ctx(w);
    weft__list_remove(&c->node);
    weft_idle_timeout_cancel(&c->idle);
    if (c->pf->kind == P_LOG)
        weft_log(weft_reactor_logger(c->pf->r), WEFT_LOG_INFO, c->pf->ns, "{peer} gone: {why}",
                 WEFT_LOG_STR("peer", c->peer), WEFT_LOG_STR("why", weft_failure_message(why)));
}

static void destroy(weft_wrapper *w)
{
    conn *c = weft_wrapper_ctx(w);
    weft_policy_factory *pf = c->pf;
    weft_free(c);
    if (--pf->count == 0 && pf->closing)
        pf_destroy(pf);
}

static const weft_wrapper_ops policy_ops = {
    .incoming = incoming, .outgoing = outgoing, .connected = connected, .lost = lost, .destroy = destroy};

static weft_protocol *build(weft_factory *f, const weft_address *peer)
{
    weft_policy_factory *pf = (weft_policy_factory *)f;
    if (pf->closing)
        return NULL;
    conn *c = weft_calloc(1, sizeof *c);
    weft_protocol *inner = c ? pf->inner->ops->build(pf->inner, peer) : NULL;
    if (!inner) {
        weft_free(c);
        return NULL;
    }
    if (!inner->factory)
        inner->factory = pf->inner;
    c->pf = pf;
    weft__list_init(&c->node);
    weft_protocol *wp = weft_wrapper_new(&policy_ops, c, inner);
    if (!wp) {
        weft_protocol_destroy(inner);
        weft_free(c);
        return NULL;
    }
    c->w = weft_wrapper_of(wp);
    pf->count++;
    return wp;
}

static const weft_factory_ops factory_ops = {.build = build};

/* ---- throttling, each second ---- */

static void set_reads(weft_policy_factory *pf, bool throttled)
{
    pf->reads_throttled = throttled;
    for (weft__list *n = pf->conns.next; n != &pf->conns; n = n->next)
        weft_wrapper_throttle_input(WEFT_CONTAINER_OF(n, conn, node)->w, throttled);
}

static void set_writes(weft_policy_factory *pf, bool throttled)
{
    pf->writes_throttled = throttled;
    for (weft__list *n = pf->conns.next; n != &pf->conns; n = n->next)
        weft_wrapper_throttle_output(WEFT_CONTAINER_OF(n, conn, node)->w, throttled);
}

static void unthrottle_reads(void *arg)
{
    set_reads(arg, false);
}

static void unthrottle_writes(void *arg)
{
    set_writes(arg, false);
}

static weft_result tick(void *arg, uint64_t count)
{
    (void)count;
    weft_policy_factory *pf = arg;
    if (pf->read_bps > 0 && pf->read_this_second > pf->read_bps) {
        weft_timer_cancel(pf->r, pf->unthrottle_reads);
        /* Without a timer to end it, do not start throttling. */
        if (weft_call_later(pf->r, (double)pf->read_this_second / pf->read_bps - 1.0, unthrottle_reads, pf,
                            &pf->unthrottle_reads) == 0)
            set_reads(pf, true);
    }
    if (pf->write_bps > 0 && pf->written_this_second > pf->write_bps) {
        weft_timer_cancel(pf->r, pf->unthrottle_writes);
        if (weft_call_later(pf->r, (double)pf->written_this_second / pf->write_bps - 1.0, unthrottle_writes, pf,
                            &pf->unthrottle_writes) == 0)
            set_writes(pf, true);
    }
    pf->read_this_second = pf->written_this_second = 0;
    return weft_none();
}

/* ---- construction ---- */

static weft_policy_factory *make(weft_reactor *r, weft_factory *inner, policy kind)
{
    weft_policy_factory *pf = weft_calloc(1, sizeof *pf);
    if (!pf)
        return NULL;
    pf->base.ops = &factory_ops;
    pf->r = r;
    pf->inner = inner;
    pf->kind = kind;
    weft__list_init(&pf->conns);
    return pf;
}

weft_policy_factory *weft_timeout_factory_new(weft_reactor *r, weft_factory *inner, double seconds)
{
    weft_policy_factory *pf = make(r, inner, P_TIMEOUT);
    if (pf)
        pf->timeout = seconds;
    return pf;
}

weft_policy_factory *weft_throttling_factory_new(weft_reactor *r, weft_factory *inner, double read_bps,
                                                 double write_bps)
{
    weft_policy_factory *pf = make(r, inner, P_THROTTLE);
    if (!pf)
        return NULL;
    pf->read_bps = read_bps;
    pf->write_bps = write_bps;
    pf->tick = weft_looping_call_new(r, tick, pf);
    if (!pf->tick || weft_looping_call_start(pf->tick, 1.0, false, NULL) < 0) {
        pf_destroy(pf);
        return NULL;
    }
    return pf;
}

weft_policy_factory *weft_traffic_logging_factory_new(weft_reactor *r, weft_factory *inner, const char *ns)
{
    weft_policy_factory *pf = make(r, inner, P_LOG);
    if (pf && !(pf->ns = weft_strdup(ns ? ns : "weft.traffic"))) {
        pf_destroy(pf);
        return NULL;
    }
    return pf;
}

weft_factory *weft_policy_factory_base(weft_policy_factory *pf)
{
    return &pf->base;
}

size_t weft_policy_factory_count(const weft_policy_factory *pf)
{
    return pf->count;
}

void weft_policy_factory_free(weft_policy_factory *pf)
{
    if (!pf)
        return;
    pf->closing = true;
    if (pf->tick)
        weft_looping_call_stop(pf->tick);
    if (pf->count == 0)
        pf_destroy(pf);
}
