/* SPDX-License-Identifier: MIT */
/* The request (twisted.web's Request, reading side): what was asked (the
 * query's arguments too), the body as a fount, and the request's
 * lifetime. */
#include <string.h>

#include "form_int.h"
#include "http_int.h"
#include "weft/tls.h"

/* ---- the body fount ---- */

bool weft__http_body_blocked(const weft_http_request *req)
{
    if (req->body_discard || req->body.ended)
        return false;
    return req->held_body.len > 0 || !req->body.drain || req->body.pauses > 0;
}

void weft__http_request_flush_body(weft_http_request *req)
{
    if (req->body_discard || req->body.ended) {
        weft__http_buf_clear(&req->held_body);
        return;
    }
    if (!req->held_body.len || !req->body.drain || req->body.pauses)
        return;
    size_t n = req->held_body.len;
    /* emptied first: the drain may pause, and a pause must not re-send */
    weft__http_buf_clear(&req->held_body);
    weft_fount_emit(&req->body, req->held_body.data, n);
}

void weft__http_request_fail_body(weft_http_request *req, int code, const char *what)
{
    weft__http_buf_clear(&req->held_body);
    if (req->body.ended)
        return;
    weft_failure *f = weft_failure_new(code, "%s", what);
    weft_fount_end(&req->body, f);
    weft_failure_unref(f);
}

weft_fount *weft_http_request_body(weft_http_request *req)
{
    return &req->body;
}

void weft_http_request_set_max_body(weft_http_request *req, uint64_t max)
{
    req->max_body = max;
}

weft_deferred *weft_http_request_read_body(weft_http_request *req)
{
    return weft_fount_collect(req->r, &req->body, 0);
}

int64_t weft_http_request_content_length(const weft_http_request *req)
{
    return req->content_length;
}

/* ---- life ---- */

static void init(weft_http_request *req)
{
    req->status = 200;
    req->handler_done = true; /* no handler holds it until dispatched */
    req->query_off = -1;
    req->host_idx = req->expect_idx = -1;
    req->max_body = req->server->opt.max_body;
}

weft_http_request *weft__http_request_new(weft__http_conn *c)
{
    weft_http_request *req = weft_calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->conn = c;
    req->server = c->server;
    req->r = c->server->r;
    req->headers = weft_http_headers_new();
    req->resp = weft_http_headers_new();
    c->server->refs++;
    init(req);
    if (!req->headers || !req->resp) {
        weft__http_request_free(req);
        return NULL;
    }
    return req;
}

void weft__http_request_reset(weft_http_request *req)
{
    /* Everything back to new, keeping the memory. */
    weft__http_conn *c = req->conn;
    weft_http_server *s = req->server;
    weft_reactor *r = req->r;
    weft__http_buf str = req->str, segs = req->segs, held = req->held_body, out = req->out;
    weft_http_headers *h = req->headers, *resp = req->resp;
    weft_free(req->reason);
    weft_free(req->notify);
    weft__http_parsed_free(req->parsed);
    memset(req, 0, sizeof *req);
    req->conn = c;
    req->server = s;
    req->r = r;
    req->str = str;
    req->segs = segs;
    req->held_body = held;
    req->out = out;
    weft__http_buf_clear(&req->str);
    weft__http_buf_clear(&req->segs);
    weft__http_buf_clear(&req->held_body);
    weft__http_buf_clear(&req->out);
    req->headers = h;
    req->resp = resp;
    weft_http_headers_clear(h);
    weft_http_headers_clear(resp);
    init(req);
}

void weft__http_request_free(weft_http_request *req)
{
    weft_http_server *s = req->server;
    weft__http_buf_free(&req->str);
    weft__http_buf_free(&req->segs);
    weft__http_buf_free(&req->held_body);
    weft__http_buf_free(&req->out);
    weft_http_headers_free(req->headers);
    weft_http_headers_free(req->resp);
    weft_free(req->reason);
    weft_free(req->notify);
    weft__http_parsed_free(req->parsed);
    weft_free(req);
    weft__http_server_unref(s);
}

void weft__http_request_release(weft_http_request *req)
{
    if (!req->handler_done || req->in_queue || req->parsing || req->busy)
        return;
    weft__http_conn *c = req->conn;
    if (c && c->spare == req)
        return;
    if (c && !c->lost && !c->spare && !req->server->freeing && req->out.cap <= WEFT__HTTP_SPARE_MAX) {
        weft__http_request_reset(req);
        c->spare = req;
        return;
    }
    weft__http_request_free(req);
}

void weft__http_request_detach(weft_http_request *req, const weft_failure *why)
{
    req->conn = NULL;
    if (req->parsing) {
        req->parsing = false;
        weft__http_request_fail_body(req, weft_failure_code(why), "the connection was lost");
    }
}

/* ---- what was asked ---- */

int weft__http_request_parse_target(weft_http_request *req, bool connect)
{
    /* str holds the target; path, query and host are appended after it.
     * Reserve once so the pointers below stay put. */
    size_t tlen = req->str.len ? req->str.len - 1 : 0;
    if (tlen == 0)
        return WEFT_EINVAL;
    const char *name, *host_hdr = NULL;
    if (req->host_idx >= 0)
        weft_http_headers_at(req->headers, (size_t)req->host_idx, &name, &host_hdr);
    size_t hlen = host_hdr ? strlen(host_hdr) : 0;
    if (!weft__http_buf_room(&req->str, 2 * tlen + hlen + 8))
        return WEFT_ENOMEM;
    const char *t = req->str.data;
    const char *path = t, *host = NULL;
    size_t host_len = 0;
    if (connect) {
        host = t;
        host_len = tlen;
    } else if (t[0] != '/' && !(tlen == 1 && t[0] == '*')) {
        /* absolute form: scheme "://" authority path */
        const char *sep = strstr(t, "://");
        if (!sep)
            return WEFT_EINVAL;
        host = sep + 3;
        const char *end = host + strcspn(host, "/?#");
        host_len = (size_t)(end - host);
        const char *at = memchr(host, '@', host_len);
        if (at) {
            host_len -= (size_t)(at + 1 - host);
            host = at + 1;
        }
        path = end;
    }
    size_t plen = strcspn(path, "?#");
    req->path_off = req->str.len;
    if (plen == 0 && !connect)
        weft__http_buf_add_str(&req->str, "/", 1);
    else
        weft__http_buf_add_str(&req->str, path, plen);
    if (path[plen] == '?') {
        const char *q = path + plen + 1;
        req->query_off = (long)weft__http_buf_add_str(&req->str, q, strcspn(q, "#"));
    }
    if (host)
        req->host_off = weft__http_buf_add_str(&req->str, host, host_len);
    else
        req->host_off = weft__http_buf_add_str(&req->str, host_hdr ? host_hdr : "", hlen);
    if (req->str.failed)
        return WEFT_ENOMEM;
    req->rest_off = req->host_off + strlen(req->str.data + req->host_off); /* "" until the walk */
    return 0;
}

const char *weft_http_request_method(const weft_http_request *req)
{
    return llhttp_method_name((llhttp_method_t)req->parser_method);
}

const char *weft_http_request_target(const weft_http_request *req)
{
    return req->str.data + req->target_off;
}

const char *weft_http_request_path(const weft_http_request *req)
{
    return req->str.data + req->path_off;
}

const char *weft_http_request_query(const weft_http_request *req)
{
    return req->query_off < 0 ? NULL : req->str.data + req->query_off;
}

/* The query's arguments, parsed at the first call and kept (args.c). */
int weft_http_request_args(weft_http_request *req, const weft_http_args **out)
{
    *out = NULL;
    weft__http_parsed *p = weft__http_parsed_of(req);
    if (!p)
        return WEFT_ENOMEM;
    if (!p->args && !p->args_err) {
        p->args = weft_http_args_new();
        const char *q = weft_http_request_query(req);
        int rc = !p->args ? WEFT_ENOMEM : q ? weft_http_args_parse(p->args, q, strlen(q), WEFT_HTTP_ARGS_MAX) : 0;
        if (rc < 0) {
            weft_http_args_free(p->args);
            p->args = NULL;
            if (rc != WEFT_ENOMEM) /* the query will not change; memory may come back */
                p->args_err = rc;
            return rc;
        }
    }
    *out = p->args;
    return p->args_err;
}

const char *weft_http_request_arg(weft_http_request *req, const char *name, size_t *len)
{
    const weft_http_args *a;
    weft_http_request_args(req, &a);
    return weft_http_args_get(a, name, len);
}

int weft_http_request_version(const weft_http_request *req)
{
    return req->version;
}

const weft_http_headers *weft_http_request_headers(const weft_http_request *req)
{
    return req->headers;
}

const char *weft_http_request_header(const weft_http_request *req, const char *name)
{
    return weft_http_headers_get(req->headers, name);
}

const char *weft_http_request_host(const weft_http_request *req)
{
    return req->str.data + req->host_off;
}

size_t weft_http_request_postpath_count(const weft_http_request *req)
{
    return req->nsegs - req->postpath_first;
}

const char *weft_http_request_postpath(const weft_http_request *req, size_t i, size_t *len)
{
    if (i >= weft_http_request_postpath_count(req)) {
        if (len)
            *len = 0;
        return NULL;
    }
    const size_t *seg = (const size_t *)(const void *)req->segs.data + 2 * (req->postpath_first + i);
    if (len)
        *len = seg[1];
    return req->str.data + seg[0];
}

const char *weft_http_request_rest(const weft_http_request *req)
{
    return req->str.data + req->rest_off;
}

weft_transport *weft_http_request_transport(const weft_http_request *req)
{
    return req->conn ? req->conn->t : NULL;
}

int weft_http_request_peer(const weft_http_request *req, weft_address *out)
{
    if (!req->conn || !req->conn->t)
        return -ENOTCONN;
    return weft_transport_peer(req->conn->t, out);
}

weft_reactor *weft_http_request_reactor(const weft_http_request *req)
{
    return req->r;
}

bool weft_http_request_is_secure(const weft_http_request *req)
{
    return req->conn && req->conn->t && weft_tls_protocol_of(req->conn->t) != NULL;
}
