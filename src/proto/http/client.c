/* SPDX-License-Identifier: MIT */
/*
 * The agent (twisted.web.client's Agent, RedirectAgent and the retry logic
 * of HTTPConnectionPool): requests by URL or by endpoint string both become
 * (endpoint, target, Host) and take the same path to a pooled connection.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client_int.h"
#include "http_int.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"

weft_http_agent *weft_http_agent_new(weft_reactor *r, const weft_http_agent_options *opts)
{
    weft_http_agent *a = weft_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->r = r;
    if (opts)
        a->o = *opts;
    if (!a->o.max_per_host)
        a->o.max_per_host = 4;
    if (!a->o.max_idle)
        a->o.max_idle = 2;
    /* (written as !(x > 0) so that NaN takes the default too) */
    if (!(a->o.idle_timeout > 0) || !isfinite(a->o.idle_timeout))
        a->o.idle_timeout = 240;
    if (!(a->o.connect_timeout > 0) || !isfinite(a->o.connect_timeout))
        a->o.connect_timeout = 30;
    if (!(a->o.response_timeout > 0) || !isfinite(a->o.response_timeout))
        a->o.response_timeout = 0;
    if (!(a->o.queue_timeout > 0) || !isfinite(a->o.queue_timeout))
        a->o.queue_timeout = 0;
    if (!a->o.max_header_bytes)
        a->o.max_header_bytes = 64 * 1024;
    const char *ua = a->o.user_agent ? a->o.user_agent : WEFT__HTTP_SERVER_NAME;
    a->o.user_agent = weft_strdup(ua);
    a->o.trust_roots = a->o.trust_roots ? weft_strdup(a->o.trust_roots) : NULL;
    if (!a->o.user_agent || (opts && opts->trust_roots && !a->o.trust_roots)) {
        weft_free((char *)a->o.user_agent);
        weft_free((char *)a->o.trust_roots);
        weft_free(a);
        return NULL;
    }
    weft__list_init(&a->pools);
    weft__list_init(&a->reqs);
    return a;
}

void weft_http_agent_free(weft_http_agent *a)
{
    if (!a)
        return;
    a->closing = true;
    weft__list *n;
    while ((n = a->reqs.next) != &a->reqs) {
        weft__hc_req *req = WEFT_CONTAINER_OF(n, weft__hc_req, link);
        weft_deferred *d = weft_deferred_ref(req->d);
        weft_deferred_cancel(d); /* the canceller frees req */
        weft_deferred_unref(d);
    }
    weft__hc_pools_free(a);
    weft_tls_context_free(a->tls);
    weft_free((char *)a->o.user_agent);
    weft_free((char *)a->o.trust_roots);
    weft_free(a);
}

/* ---- requests ---- */

static void req_deliver(weft__hc_req *req, weft_http_response *resp);
static void req_fail(weft__hc_req *req, weft_failure *f);
static void req_stale(weft__hc_req *req, weft_failure *f);
static bool req_redirect(weft__hc_req *req, int status, const weft_http_headers *h);
static void req_follow(weft__hc_req *req);

/* What the pool and the connections tell a request (client_int.h). */
static const weft__hc_req_ops req_ops = {
    .redirect = req_redirect, .deliver = req_deliver, .follow = req_follow, .fail = req_fail, .stale = req_stale};

static void req_free(weft__hc_req *req)
{
    weft__list_remove(&req->link);
    weft__hc_pool_unqueue(req);
    if (req->body)
        weft_fount_stop(req->body); /* never joined: the flow must end */
    weft_deferred_unref(req->d);
    weft_http_headers_free(req->headers);
    weft_free(req->method);
    weft_free(req->target);
    weft_free(req->host);
    weft_free(req->url);
    weft_free(req->endpoint);
    weft_free(req->key);
    weft_free(req->server_name);
    weft_free(req->redirect_to);
    weft_free(req->redirect_method);
    weft_free(req);
}

static void cancel_request(void *arg, weft_deferred *d)
{
    (void)d;
    weft__hc_req *req = arg;
    weft__hc_conn *c = req->conn;
    req->conn = NULL;
    if (c)
        weft__hc_conn_abandon(c);
    /* Left unfired: the Deferred errbacks with WEFT_ECANCELED itself. */
    req_free(req);
}

/* The request is over; detach it from everything before anyone hears. */
static weft_deferred *req_finish(weft__hc_req *req)
{
    weft_deferred *d = weft_deferred_ref(req->d);
    weft_deferred_set_canceller(d, NULL, NULL);
    req_free(req);
    return d;
}

static void free_response(void *resp)
{
    weft_http_response_free(resp);
}

/* The request's Deferred fires with resp, or fails with f; req is freed. */
static void req_deliver(weft__hc_req *req, weft_http_response *resp)
{
    resp->url = weft_strdup(req->url ? req->url : req->target);
    weft_deferred *d = req_finish(req);
    if (!resp->url) {
        weft_http_response_free(resp);
        weft_deferred_errback(d, weft_failure_new(WEFT_ENOMEM, "out of memory"));
    } else {
        weft_deferred_callback(d, resp, free_response);
    }
    weft_deferred_unref(d);
}

static void req_fail(weft__hc_req *req, weft_failure *f)
{
    weft_deferred *d = req_finish(req);
    weft_deferred_errback(d, f);
    weft_deferred_unref(d);
}

/* Methods Twisted retries (HTTPConnectionPool._shouldRetry). */
static bool idempotent(const char *m)
{
    static const char *const ok[] = {"GET", "HEAD", "OPTIONS", "DELETE", "TRACE"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strcmp(m, ok[i]) == 0)
            return true;
    return false;
}

/* A pooled connection closed as it was reused, before a byte of the
 * response: the request goes again on a fresh one if it may (Twisted's
 * _shouldRetry: idempotent, no body, not retried yet), or fails with f. */
static void req_stale(weft__hc_req *req, weft_failure *f)
{
    if (req->retried || req->has_body || !idempotent(req->method)) {
        req_fail(req, f);
        return;
    }
    weft_failure_unref(f);
    req->retried = true;
    weft__hc_pool_acquire(req->pool, req, true);
}

/* To the pool for req's destination. */
static void dispatch(weft__hc_req *req)
{
    weft_http_agent *a = req->a;
    weft_failure *err = NULL;
    if (req->tls && !a->tls) {
        /* One context for every https connection: loaded once, and it
         * keeps the sessions that let later handshakes resume. */
        weft_tls_options o = {.trust_roots = a->o.trust_roots};
        if (weft_tls_client_context_new(&o, &a->tls, &err) < 0) {
            req_fail(req, err ? err : weft_failure_new(WEFT_ENOMEM, "out of memory"));
            return;
        }
    }
    weft__hc_pool *p = weft__hc_pool_get(a, req, &err);
    if (!p) {
        req_fail(req, err);
        return;
    }
    weft__hc_pool_acquire(p, req, false);
}

/* Sets the destination from an absolute URL: 0 or a failure's code. */
static int aim_at_url(weft__hc_req *req, const char *url)
{
    weft__hc_url u;
    int err = weft__hc_url_parse(url, &u);
    if (err < 0)
        return err;
    char *s = weft__hc_url_string(&u), *host = weft__hc_url_host_header(&u);
    char *ep = weft__hc_url_endpoint(&u, req->a->o.connect_timeout);
    char *key = NULL, *sni = NULL;
    if (ep) {
        size_t n = strlen(ep) + 8;
        if ((key = weft_malloc(n)))
            snprintf(key, n, "%s%s", u.https ? "https+" : "", ep);
    }
    if (u.https)
        sni = weft_strdup(u.host);
    if (!s || !host || !ep || !key || (u.https && !sni)) {
        weft_free(s), weft_free(host), weft_free(ep), weft_free(key), weft_free(sni);
        weft__hc_url_clear(&u);
        return WEFT_ENOMEM;
    }
    weft_free(req->url), weft_free(req->host), weft_free(req->endpoint), weft_free(req->key);
    weft_free(req->server_name), weft_free(req->target);
    req->url = s;
    req->host = host;
    req->endpoint = ep;
    req->key = key;
    req->server_name = sni;
    req->tls = u.https;
    req->target = u.target;
    u.target = NULL;
    weft__hc_url_clear(&u);
    return 0;
}

static bool valid_target(const char *t)
{
    if (!*t)
        return false;
    for (; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t == 0x7f)
            return false;
    return true;
}

/* The common part of both entry points; frees req on failure. */
static weft__hc_req *req_new(weft_http_agent *a, const char *method, const weft_http_headers *headers,
                             weft_fount *body, int64_t body_length)
{
    weft__hc_req *req = weft_calloc(1, sizeof *req);
    if (!req)
        return NULL;
    weft__list_init(&req->link);
    weft__list_init(&req->wait_link);
    req->ops = &req_ops;
    req->a = a;
    req->body = body;
    req->has_body = body != NULL;
    req->body_length = body ? body_length : 0;
    req->redirects_left = a->o.max_redirects;
    req->method = weft_strdup(method);
    req->headers = weft_http_headers_copy(headers);
    req->d = weft_deferred_new(a->r);
    if (!req->method || !req->headers || !req->d) {
        req->body = NULL;
        req_free(req);
        return NULL;
    }
    weft__list_push_back(&a->reqs, &req->link);
    return req;
}

static weft_deferred *refuse(weft_http_agent *a, weft_fount *body, weft_failure *f)
{
    if (body)
        weft_fount_stop(body);
    return weft_fail(a->r, f);
}

/* Starts req: returns the caller's Deferred. */
static weft_deferred *launch(weft__hc_req *req)
{
    weft_deferred *d = weft_deferred_ref(req->d);
    weft_deferred_set_canceller(d, cancel_request, req);
    dispatch(req);
    return d;
}

weft_deferred *weft_http_agent_request(weft_http_agent *a, const char *method, const char *url,
                                       const weft_http_headers *headers, weft_fount *body, int64_t body_length)
{
    if (!weft__http_is_token(method, strlen(method)))
        return refuse(a, body, weft_failure_new(WEFT_EINVAL, "bad HTTP method '%s'", method));
    weft__hc_req *req = req_new(a, method, headers, body, body_length);
    if (!req) {
        if (body)
            weft_fount_stop(body);
        return NULL;
    }
    int err = aim_at_url(req, url);
    if (err < 0) {
        weft_deferred *d = weft_deferred_ref(req->d);
        req_fail(req, err == WEFT_EINVAL ? weft_failure_new(err, "bad URL '%s'", url)
                                                   : weft_failure_new(err, "out of memory"));
        return d;
    }
    return launch(req);
}

weft_deferred *weft_http_agent_request_to(weft_http_agent *a, const char *endpoint, const char *method,
                                          const char *target, const weft_http_headers *headers, weft_fount *body,
                                          int64_t body_length)
{
    if (!weft__http_is_token(method, strlen(method)))
        return refuse(a, body, weft_failure_new(WEFT_EINVAL, "bad HTTP method '%s'", method));
    if (!valid_target(target))
        return refuse(a, body, weft_failure_new(WEFT_EINVAL, "bad request target '%s'", target));
    weft__hc_req *req = req_new(a, method, headers, body, body_length);
    if (!req) {
        if (body)
            weft_fount_stop(body);
        return NULL;
    }
    const char *host = headers ? weft_http_headers_get(headers, "Host") : NULL;
    req->host = host ? weft_strdup(host) : weft__hc_endpoint_host(endpoint);
    req->endpoint = weft_strdup(endpoint);
    req->key = weft_strdup(endpoint);
    req->target = weft_strdup(target);
    if (!req->host || !req->endpoint || !req->key || !req->target) {
        weft_deferred *d = weft_deferred_ref(req->d);
        req_fail(req, weft_failure_new(WEFT_ENOMEM, "out of memory"));
        return d;
    }
    return launch(req);
}

/* ---- redirects ---- */

static bool same_origin(const char *a, const char *b)
{
    weft__hc_url x, y;
    if (weft__hc_url_parse(a, &x) < 0)
        return false;
    if (weft__hc_url_parse(b, &y) < 0) {
        weft__hc_url_clear(&x);
        return false;
    }
    bool same = x.https == y.https && x.port == y.port && strcasecmp(x.host, y.host) == 0;
    weft__hc_url_clear(&x);
    weft__hc_url_clear(&y);
    return same;
}

/* For a 3xx: whether to follow it, recording where (RedirectAgent). */
static bool req_redirect(weft__hc_req *req, int status, const weft_http_headers *h)
{
    if (!req->redirects_left)
        return false;
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
        return false;
    const char *loc = weft_http_headers_get(h, "Location");
    if (!loc)
        return false;
    const char *method = req->method;
    if (status == 303 && strcmp(method, "HEAD") != 0)
        method = "GET";
    else if ((status == 301 || status == 302) && strcmp(method, "POST") == 0)
        method = "GET";
    bool same_method = strcmp(method, req->method) == 0;
    if (same_method && req->has_body)
        return false; /* its body has gone: it cannot be sent again */
    char *to;
    if (req->url) {
        to = weft__hc_url_resolve(req->url, loc, NULL);
        req->redirect_target_only = false;
    } else {
        /* request_to: a relative Location stays on the endpoint. */
        char *base = weft_malloc(strlen(req->target) + 16);
        bool relative = false;
        if (!base)
            return false;
        sprintf(base, "http://x%s", req->target[0] == '/' ? req->target : "/");
        to = weft__hc_url_resolve(base, loc, &relative);
        weft_free(base);
        if (to && relative) {
            char *target = weft_strdup(to + strlen("http://x"));
            weft_free(to);
            to = target;
        }
        req->redirect_target_only = relative;
    }
    char *m = to ? weft_strdup(method) : NULL;
    if (!m) {
        weft_free(to);
        return false;
    }
    weft_free(req->redirect_to);
    weft_free(req->redirect_method);
    req->redirect_to = to;
    req->redirect_method = m;
    return true;
}

/* The 3xx's body has been skipped: go where it said. */
static void req_follow(weft__hc_req *req)
{
    char *to = req->redirect_to, *method = req->redirect_method;
    req->redirect_to = req->redirect_method = NULL;
    req->redirects_left--;
    req->retried = false;
    if (strcmp(method, req->method) != 0) {
        req->has_body = false;
        req->body_length = 0;
    }
    weft_free(req->method);
    req->method = method;
    int err = 0;
    if (req->redirect_target_only) {
        weft_free(req->target);
        req->target = to;
        to = NULL;
    } else {
        bool cross = !req->url || !same_origin(req->url, to);
        if ((err = aim_at_url(req, to)) == 0 && cross) {
            /* Credentials meant for one origin are not handed to another. */
            weft_http_headers_remove(req->headers, "Authorization");
            weft_http_headers_remove(req->headers, "Proxy-Authorization");
            weft_http_headers_remove(req->headers, "Cookie");
        }
    }
    weft_free(to);
    if (err < 0) {
        req_fail(req, weft_failure_new(err, "following a redirect: %s", weft_strerror(err)));
        return;
    }
    dispatch(req);
}

/* ---- the response ---- */

int weft_http_response_status(const weft_http_response *resp)
{
    return resp->status;
}

const char *weft_http_response_reason(const weft_http_response *resp)
{
    return resp->reason;
}

int weft_http_response_version(const weft_http_response *resp)
{
    return resp->version;
}

const weft_http_headers *weft_http_response_headers(const weft_http_response *resp)
{
    return resp->headers;
}

const char *weft_http_response_url(const weft_http_response *resp)
{
    return resp->url;
}

int64_t weft_http_response_content_length(const weft_http_response *resp)
{
    return resp->length;
}

weft_deferred *weft_http_response_read_body(weft_http_response *resp, size_t max)
{
    return weft_fount_collect(resp->r, weft_http_response_body(resp), max);
}
