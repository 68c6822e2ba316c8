/* SPDX-License-Identifier: MIT */
/*
 * The reverse proxy: each request becomes an agent request to the upstream
 * endpoint, its body fount handed to the agent, and the upstream response's
 * body fount joined to the response drain - so both directions stream with
 * backpressure and nothing is held whole in memory.
 *
 * A forwarded request has two things pending: the upstream Deferred and the
 * request's notify_finish. Whichever comes last frees the state, from a
 * zero-delay timer: the upstream response may only be freed once the
 * client's fount has returned from telling the drain it ended.
 *
 * The path it forwards has no dot segment (the walk normalised it,
 * dispatch.c): an upstream resolves "..", so a proxy forwarding
 * /pub/../private as /public/../private would hand out what lies beside its
 * mount point.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "client_int.h" /* URLs, and the layer's path and header rules */
#include "weft/address.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/http_proxy.h"
#include "weft/timer.h"

typedef struct proxy {
    weft_http_agent *agent;
    char *endpoint;
    char *path;
} proxy;

typedef struct forward {
    proxy *p;
    weft_http_request *req;   /* until finished */
    weft_deferred *upstream;  /* until it fires */
    weft_http_response *resp; /* once it has come */
    unsigned pending;         /* upstream + notify_finish */
    weft_reactor *r;
} forward;

/* Copies from's end-to-end headers into to, leaving out `skip` too. */
static int copy_end_to_end(const weft_http_headers *from, weft_http_headers *to, const char *const *skip,
                           size_t nskip)
{
    for (size_t i = 0; i < weft_http_headers_count(from); i++) {
        const char *n, *v;
        weft_http_headers_at(from, i, &n, &v);
        bool skipped = weft__http_hop_by_hop(from, n);
        for (size_t k = 0; k < nskip && !skipped; k++)
            skipped = strcasecmp(n, skip[k]) == 0;
        if (skipped)
            continue;
        int rc = weft_http_headers_add(to, n, v);
        if (rc)
            return rc;
    }
    return 0;
}

static void forward_free_later(void *arg)
{
    forward *f = arg;
    weft_http_response_free(f->resp);
    weft_free(f);
}

static void forward_release(forward *f)
{
    if (--f->pending > 0)
        return;
    if (!f->resp || weft_call_later(f->r, 0, forward_free_later, f, NULL) != 0)
        forward_free_later(f); /* nothing on the stack can still use resp */
}

/* What the client hears when the upstream could not answer. A request that
 * waited its whole queue_timeout for a connection never reached the
 * upstream: the proxy is out of capacity, which is 503's meaning (RFC 9110
 * 15.6.4, "temporary overload"; HAProxy's answer to a full queue), not
 * 504's, which says the upstream itself was too slow (the response or
 * connect timeout). Anything else that went wrong upstream is 502. */
static int failure_status(const weft_failure *why)
{
    if (!weft_failure_check(why, WEFT_ETIMEDOUT))
        return 502;
    return weft_failure_find(why, WEFT_EBUSY) ? 503 : 504;
}

static weft_result upstream_answered(void *arg, weft_result result)
{
    forward *f = arg;
    weft_deferred *up = f->upstream;
    f->upstream = NULL;
    weft_http_request *req = f->req;
    if (weft_failed(result)) {
        const weft_failure *why = weft_result_failure(result);
        if (req && !weft_failure_check(why, WEFT_ECANCELED))
            weft_http_reply_error(req, failure_status(why), weft_failure_message(why));
        else if (req)
            weft_http_reply_finish(req);
        f->req = NULL;
        weft_result_free(result);
    } else if (req) {
        f->resp = result.value; /* ours now: freed with f */
        weft_http_response *resp = f->resp;
        /* (Proxy-Authenticate asks for this proxy's credentials, which the
         * upstream has no business asking for: RFC 9110 11.7.1.) */
        static const char *const ours[] = {"Date", "Server", "Proxy-Authenticate"};
        int rc = weft_http_reply_set_status(req, weft_http_response_status(resp), weft_http_response_reason(resp));
        if (rc == 0)
            rc = copy_end_to_end(weft_http_response_headers(resp), weft_http_reply_headers(req), ours,
                                 sizeof ours / sizeof *ours);
        if (rc != 0) {
            weft_http_reply_error(req, 502, "the upstream response could not be passed on");
            f->req = NULL;
        } else {
            /* The drain finishes the request, whichever way the flow ends. */
            weft_flow_to(weft_http_response_body(resp), weft_http_reply_drain(req));
        }
    } else {
        weft_result_free(result);
    }
    weft_deferred_unref(up);
    forward_release(f);
    return weft_none();
}

static weft_result request_finished(void *arg, weft_result result)
{
    forward *f = arg;
    /* The client went away before the upstream answered: stop asking. The
     * cancel calls upstream_answered, which finishes the request. */
    if (f->upstream)
        weft_deferred_cancel(f->upstream);
    f->req = NULL;
    weft_result_free(result);
    forward_release(f);
    return weft_none();
}

/* path + the rest + ?query, never empty; NULL when out of memory. The
 * rest is the walk's, normalised (dispatch.c): no dot segment in it can
 * take the upstream's path out from under `path`. */
static char *upstream_target(const proxy *p, weft_http_request *req)
{
    const char *query = weft_http_request_query(req);
    weft__http_buf t = {0};
    weft__http_buf_adds(&t, p->path);
    weft__http_buf_adds(&t, weft_http_request_rest(req));
    if (t.len == 0)
        weft__http_buf_adds(&t, "/");
    if (query) {
        weft__http_buf_adds(&t, "?");
        weft__http_buf_adds(&t, query);
    }
    return weft__http_buf_take(&t);
}

static int forwarded_headers(weft_http_request *req, weft_http_headers *h)
{
    /* (Proxy-Authorization: the client's credentials for this proxy, not
     * for the upstream.) */
    static const char *const replaced[] = {"Host", "Content-Length", "X-Forwarded-For", "X-Forwarded-Proto",
                                           "X-Forwarded-Host", "Proxy-Authorization"};
    const weft_http_headers *in = weft_http_request_headers(req);
    int rc = copy_end_to_end(in, h, replaced, sizeof replaced / sizeof replaced[0]);
    if (rc)
        return rc;
    char peer[64] = "unknown";
    weft_address a;
    if (weft_http_request_peer(req, &a) == 0)
        weft_address_host(&a, peer, sizeof peer);
    /* Every X-Forwarded-For line before ours, then the client. */
    weft__http_buf xff = {0};
    for (size_t i = 0; i < weft_http_headers_count(in); i++) {
        const char *n, *v;
        weft_http_headers_at(in, i, &n, &v);
        if (strcasecmp(n, "X-Forwarded-For") == 0) {
            weft__http_buf_adds(&xff, v);
            weft__http_buf_adds(&xff, ", ");
        }
    }
    weft__http_buf_adds(&xff, peer);
    char *value = weft__http_buf_take(&xff);
    rc = value ? weft_http_headers_add(h, "X-Forwarded-For", value) : WEFT_ENOMEM;
    weft_free(value);
    if (!rc)
        rc = weft_http_headers_add(h, "X-Forwarded-Proto", weft_http_request_is_secure(req) ? "https" : "http");
    const char *host = weft_http_request_host(req);
    if (!rc && host[0])
        rc = weft_http_headers_add(h, "X-Forwarded-Host", host);
    return rc;
}

static void proxy_handle(void *arg, weft_http_request *req)
{
    proxy *p = arg;
    char *target = upstream_target(p, req);
    forward *f = weft_calloc(1, sizeof *f);
    weft_http_headers *h = weft_http_headers_new();
    weft_deferred *finished = NULL;
    if (!f || !h || !target || forwarded_headers(req, h) != 0 || !(finished = weft_http_reply_notify_finish(req))) {
        weft_http_reply_error(req, 500, "out of memory");
        goto out;
    }
    *f = (forward){.p = p, .req = req, .pending = 2, .r = weft_http_request_reactor(req)};
    int64_t len = weft_http_request_content_length(req);
    weft_fount *body = NULL;
    if (len != 0) {
        /* Streamed through, never gathered: no body limit here. */
        weft_http_request_set_max_body(req, UINT64_MAX);
        body = weft_http_request_body(req);
    }
    f->upstream = weft_http_agent_request_to(p->agent, p->endpoint, weft_http_request_method(req), target, h, body,
                                             len);
    if (!f->upstream) {
        weft_http_reply_error(req, 500, "out of memory");
        goto out;
    }
    /* Both pairs are added before anything can fire them from the reactor;
     * an upstream that has already failed runs its pair now. */
    if (weft_deferred_add_both(finished, request_finished, f) != 0) {
        weft_deferred_cancel(f->upstream);
        weft_deferred_unref(f->upstream);
        weft_http_reply_error(req, 500, "out of memory");
        goto out;
    }
    weft_deferred *up = f->upstream;
    weft_deferred_ref(up);
    if (weft_deferred_add_both(up, upstream_answered, f) != 0) {
        /* Unreachable in practice; end it the only safe way left. */
        weft_deferred_cancel(up);
        weft_http_reply_abort(req);
    }
    weft_deferred_unref(up);
    weft_deferred_unref(finished);
    weft_http_headers_free(h);
    weft_free(target);
    return;
out:
    weft_deferred_unref(finished);
    weft_http_headers_free(h);
    weft_free(target);
    weft_free(f);
}

static void proxy_free(void *arg)
{
    proxy *p = arg;
    weft_free(p->endpoint);
    weft_free(p->path);
    weft_free(p);
}

weft_http_resource *weft_http_proxy_new(weft_http_agent *agent, const char *endpoint, const char *path)
{
    weft_http_resource *res = weft_http_resource_new();
    proxy *p = weft_calloc(1, sizeof *p);
    if (!res || !p)
        goto fail;
    p->agent = agent;
    p->endpoint = weft_strdup(endpoint);
    p->path = weft_strdup(path ? path : "");
    if (!p->endpoint || !p->path)
        goto fail;
    /* a trailing '/' on path would double the rest's leading one */
    size_t pl = strlen(p->path);
    if (pl && p->path[pl - 1] == '/')
        p->path[pl - 1] = '\0';
    proxy *state = p;
    weft_http_resource_set_destroy(res, proxy_free, state);
    p = NULL;
    weft_http_resource_set_leaf(res, true);
    if (weft_http_resource_on(res, "*", proxy_handle, state) != 0)
        goto fail;
    return res;
fail:
    if (p)
        proxy_free(p);
    weft_http_resource_free(res);
    return NULL;
}

int weft_http_proxy_new_url(weft_http_agent *agent, const char *url, weft_http_resource **out)
{
    *out = NULL;
    weft__hc_url u;
    int rc = weft__hc_url_parse(url, &u);
    if (rc < 0)
        return rc;
    char *endpoint = NULL;
    if (strchr(url, '?') || strchr(url, '#')) {
        rc = WEFT_EINVAL;
    } else if (!(endpoint = weft__hc_url_endpoint(&u, agent->o.connect_timeout))) {
        rc = WEFT_ENOMEM;
    } else {
        if (u.https)
            memcpy(endpoint, "tls", 3); /* "tcp:host=..." becomes "tls:host=...", the same parameters */
        if (!(*out = weft_http_proxy_new(agent, endpoint, u.target)))
            rc = WEFT_ENOMEM;
    }
    weft_free(endpoint);
    weft__hc_url_clear(&u);
    return rc;
}
