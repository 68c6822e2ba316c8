/* SPDX-License-Identifier: MIT */
/*
 * One client connection as the pool drives it: connecting (with our own
 * TLS for https URLs), writing requests (the body flowing in from a fount,
 * framed by Content-Length or chunked), and its life as a protocol.
 * Reading the responses is client_read.c's; how exchanges end,
 * client_end.c's.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client_int.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/http_headers.h"
#include "weft/reactor.h"
#include "weft/transport.h"
#include "weft/wrapper.h"

/* ---- the request body: a drain on the upload fount ---- */

static void upload_fail(weft__hc_conn *c, weft_failure *f)
{
    weft__hc_conn_upload_abandon(c);
    weft__hc_conn_fail(c, f);
}

static void up_receive(weft_drain *d, const void *data, size_t len)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(d, weft__hc_conn, up);
    if (!len || !weft__hc_conn_open(c))
        return;
    int err;
    if (c->up_chunked) {
        char size[24];
        char *p = weft__http_fmt_hex(size + sizeof size - 2, len);
        memcpy(size + sizeof size - 2, "\r\n", 2);
        struct iovec iov[3] = {{p, (size_t)(size + sizeof size - p)}, {(void *)data, len}, {"\r\n", 2}};
        err = weft_transport_writev(c->t, iov, 3);
    } else if ((uint64_t)len > (uint64_t)c->up_left) {
        upload_fail(c, weft_failure_new(WEFT_EINVAL, "the request body is longer than its body_length"));
        return;
    } else {
        c->up_left -= (int64_t)len;
        err = weft_transport_write(c->t, data, len);
    }
    if (err < 0)
        upload_fail(c, weft_failure_new(err, "sending the request body: %s", weft_strerror(err)));
}

static void up_flow_stopped(weft_drain *d, const weft_failure *reason)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(d, weft__hc_conn, up);
    if (!c->up_active)
        return;
    if (c->t)
        weft_transport_unregister_producer(c->t);
    c->up_active = false;
    if (weft_failure_code(reason) != WEFT_EOF) {
        weft__hc_conn_fail(c, weft_failure_wrap(weft_failure_ref((weft_failure *)reason), weft_failure_code(reason),
                                       "the request body failed"));
        return;
    }
    if (c->up_chunked) {
        if (weft__hc_conn_open(c) && weft_transport_write(c->t, "0\r\n\r\n", 5) < 0)
            weft__hc_conn_fail(c, weft_failure_new(WEFT_ENOMEM, "sending the request body's end"));
    } else if (c->up_left != 0) {
        weft__hc_conn_fail(c, weft_failure_new(WEFT_EINVAL, "the request body ended %lld bytes short",
                                               (long long)c->up_left));
        return;
    }
    weft__hc_conn_timer_arm(c);
}

static const weft_drain_ops up_ops = {NULL, up_receive, up_flow_stopped};

static void prod_pause(weft_producer *p)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(p, weft__hc_conn, prod);
    if (c->up.fount)
        weft_fount_pause(c->up.fount);
}

static void prod_resume(weft_producer *p)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(p, weft__hc_conn, prod);
    if (c->up.fount)
        weft_fount_resume(c->up.fount);
}

static void prod_stop(weft_producer *p)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(p, weft__hc_conn, prod);
    c->up_active = false; /* the transport is letting go of us already */
    weft__hc_conn_upload_abandon(c);
}

static const weft_producer_ops prod_ops = {prod_pause, prod_resume, prod_stop};

/* ---- writing the request ---- */

static void put_header(weft__http_buf *b, const char *name, const char *value)
{
    weft__http_buf_adds(b, name);
    weft__http_buf_adds(b, ": ");
    weft__http_buf_adds(b, value);
    weft__http_buf_adds(b, "\r\n");
}

bool weft__http_hop_by_hop(const weft_http_headers *h, const char *name)
{
    static const char *const hop[] = {"Connection", "Keep-Alive", "Proxy-Connection", "TE",
                                      "Trailer",    "Transfer-Encoding", "Upgrade"};
    for (size_t i = 0; i < sizeof hop / sizeof *hop; i++)
        if (strcasecmp(name, hop[i]) == 0)
            return true;
    return weft_http_headers_has_token(h, "Connection", name);
}

/* What the agent writes itself: the message's framing and its connection's
 * fields. (A TE or Upgrade from the caller would go without the Connection
 * option that must name it; the agent sends no trailers to announce.) */
static bool agents_header(const weft_http_headers *h, const char *name)
{
    return strcasecmp(name, "Host") == 0 || strcasecmp(name, "Content-Length") == 0 || weft__http_hop_by_hop(h, name);
}

static bool method_expects_body(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

static int write_head(weft__hc_conn *c, const weft__hc_req *req, const char *user_agent)
{
    weft__http_buf b = {0};
    weft__http_buf_adds(&b, req->method);
    weft__http_buf_adds(&b, " ");
    weft__http_buf_adds(&b, req->target);
    weft__http_buf_adds(&b, " HTTP/1.1\r\n");
    put_header(&b, "Host", req->host);
    size_t n = weft_http_headers_count(req->headers);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        weft_http_headers_at(req->headers, i, &name, &value);
        if (!agents_header(req->headers, name))
            put_header(&b, name, value);
    }
    if (user_agent && *user_agent && !weft_http_headers_get(req->headers, "User-Agent"))
        put_header(&b, "User-Agent", user_agent);
    char len[24] = "";
    if (req->body && req->body_length < 0) {
        put_header(&b, "Transfer-Encoding", "chunked");
    } else if (req->body || method_expects_body(req->method)) {
        uint64_t length = req->body ? (uint64_t)req->body_length : 0;
        put_header(&b, "Content-Length", weft__http_fmt_u64(len + sizeof len - 1, length));
    }
    weft__http_buf_adds(&b, "\r\n");
    char *head = weft__http_buf_take(&b);
    int err = head ? weft_transport_write(c->t, head, strlen(head)) : WEFT_ENOMEM;
    weft_free(head);
    return err;
}

void weft__hc_conn_start(weft__hc_conn *c, weft__hc_req *req)
{
    weft__hc_conn_timer_stop(c);
    c->req = req;
    req->conn = c;
    req->pool = c->pool;
    c->head = strcmp(req->method, "HEAD") == 0;
    c->reused = c->served++ > 0;
    c->got_bytes = c->discard = c->interim = c->in_trailers = c->complete = false;
    c->head_bytes = 0;
    weft__hc_conn_parse_start(c);
    int err = write_head(c, req, req->a->o.user_agent);
    if (err < 0) {
        weft__hc_conn_fail(c, weft_failure_new(err, "sending the request: %s", weft_strerror(err)));
        return;
    }
    weft_fount *body = req->body;
    req->body = NULL;
    if (body) {
        c->up_left = req->body_length;
        c->up_chunked = req->body_length < 0;
        c->up_active = true;
        if ((err = weft_transport_register_producer(c->t, &c->prod, true)) < 0) {
            c->up_active = false;
            weft_fount_stop(body);
            weft__hc_conn_fail(c, weft_failure_new(err, "sending the request body: %s", weft_strerror(err)));
            return;
        }
        weft_flow_to(body, &c->up);
    }
    weft__hc_conn_timer_arm(c);
}

/* ---- the protocol ---- */

static void conn_ready(weft__hc_conn *c);

static void p_made(weft_protocol *p)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(p, weft__hc_conn, base);
    c->t = p->transport;
    c->made = true;
    if (c->failed) {
        weft__hc_conn_abort(c); /* it came too late */
        return;
    }
    if (c->chain_done)
        conn_ready(c);
}

static void p_data(weft_protocol *p, const void *data, size_t len)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(p, weft__hc_conn, base);
    c->got_bytes = true;
    weft__hc_conn_timer_arm(c);
    weft__hc_conn_feed(c, data, len, false);
}

static bool p_eof(weft_protocol *p)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(p, weft__hc_conn, base);
    c->eof = true;
    if (weft__hc_conn_gated(c) || c->stash.len) {
        c->eof_pending = true;
        return true; /* what is held is parsed first */
    }
    weft__hc_conn_finish_eof(c);
    return false;
}

/* What losing the connection means to whoever waits on it: even a clean
 * close is a failure there. */
static weft_failure *lost_failure(const weft_failure *reason, int clean_code, const char *when)
{
    int code = weft_failure_code(reason);
    if (code == WEFT_EOF)
        return weft_failure_new(clean_code, "the server closed the connection %s", when);
    return weft_failure_wrap(weft_failure_ref((weft_failure *)reason), code, "the connection was lost %s", when);
}

static void p_lost(weft_protocol *p, const weft_failure *reason)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(p, weft__hc_conn, base);
    c->lost = true;
    c->t = NULL;
    weft__hc_conn_timer_stop(c);
    weft__hc_conn_upload_abandon(c);
    weft__hc_req *req = c->req;
    /* a pooled connection the server closed as we reused it */
    bool stale = c->reused && !c->got_bytes;
    weft__hc_conn_uncount(c);
    if (c->resp) {
        weft_failure *f = lost_failure(reason, WEFT_EHTTP, "in the middle of the body");
        weft__hc_conn_end_body(c, f);
        weft_failure_unref(f);
    }
    if (!c->req)
        return;
    weft_failure *f = lost_failure(reason, -ECONNRESET, "before the response");
    if (stale) {
        c->req = NULL;
        req->conn = NULL;
        req->ops->stale(req, f);
        return;
    }
    weft__hc_conn_fail_request(c, f);
}

static void p_destroy(weft_protocol *p)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(p, weft__hc_conn, base);
    c->wrapper = NULL; /* it goes first, and takes us with it */
    weft__hc_conn_unref(c);
}

static const weft_protocol_ops conn_ops = {p_made, p_data, p_eof, p_lost, p_destroy};

/* ---- connecting ---- */

static weft_protocol *f_build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    weft__hc_conn *c = WEFT_CONTAINER_OF(f, weft__hc_conn, factory);
    if (c->built || c->failed)
        return NULL;
    if (c->pool && c->pool->tls) {
        c->wrapper = weft_tls_wrap(c->pool->a->tls, &c->base, c->pool->server_name);
        if (!c->wrapper)
            return NULL;
    }
    c->built = true;
    c->refs++; /* weft's, until destroy */
    return c->wrapper ? c->wrapper : &c->base;
}

static const weft_factory_ops factory_ops = {f_build, NULL, NULL};

static void conn_ready(weft__hc_conn *c)
{
    weft__hc_req *req = c->req;
    if (req) {
        c->req = NULL;
        weft__hc_conn_start(c, req);
    } else {
        weft__hc_conn_release(c); /* its request went meanwhile */
    }
}

static weft_result tls_step(void *arg, weft_result r)
{
    weft__hc_conn *c = arg;
    weft_result_free(r);
    weft_deferred *hs = c->wrapper ? weft_tls_handshake(c->wrapper) : NULL;
    if (!hs)
        return weft_err_new(WEFT_ENOMEM, "out of memory waiting for the TLS handshake");
    return weft_chain(hs);
}

static weft_result connected(void *arg, weft_result r)
{
    weft__hc_conn *c = arg;
    weft_result_free(r);
    weft__hc_conn_timer_stop(c);
    weft_deferred_unref(c->connecting);
    c->connecting = NULL;
    c->chain_done = true;
    if (c->made)
        conn_ready(c);
    weft__hc_conn_unref(c);
    return weft_none();
}

static weft_result connect_failed(void *arg, weft_result r)
{
    weft__hc_conn *c = arg;
    weft__hc_conn_timer_stop(c);
    weft_deferred_unref(c->connecting);
    c->connecting = NULL;
    c->failed = true;
    weft_failure *f = weft_result_take(&r);
    if (c->timed_out) {
        weft_failure_unref(f);
        f = weft_failure_new(WEFT_ETIMEDOUT, "connecting timed out");
    }
    if (c->wrapper && c->wrapper->transport)
        weft_transport_abort_connection(c->wrapper->transport);
    else if (c->t)
        weft_transport_abort_connection(c->t);
    weft__hc_conn_uncount(c);
    weft__hc_conn_fail_request(c, f);
    weft__hc_conn_unref(c);
    return weft_none();
}

static void connect_timed_out(void *arg)
{
    weft__hc_conn *c = arg;
    c->timer = (weft_timer){0};
    c->timed_out = true;
    /* A TLS handshake under way stops by its connection closing. */
    if (c->wrapper && c->wrapper->transport)
        weft_transport_abort_connection(c->wrapper->transport);
    if (c->connecting)
        weft_deferred_cancel(c->connecting);
}

int weft__hc_conn_connect(weft__hc_pool *p, weft__hc_req *req)
{
    weft_http_agent *a = p->a;
    weft__hc_conn *c = weft_calloc(1, sizeof *c);
    if (!c)
        return WEFT_ENOMEM;
    c->base.ops = &conn_ops;
    c->factory.ops = &factory_ops;
    c->up.ops = &up_ops;
    c->prod.ops = &prod_ops;
    c->refs = 1; /* the connect's */
    c->r = a->r;
    c->pool = p;
    c->response_timeout = a->o.response_timeout;
    c->max_header_bytes = a->o.max_header_bytes;
    weft__list_init(&c->idle_link);
    c->connecting = weft_endpoint_connect(p->ep, &c->factory);
    if (!c->connecting) {
        weft_free(c);
        return WEFT_ENOMEM;
    }
    c->counted = true;
    p->nconns++;
    weft__list_push_back(&p->conns, &c->link);
    c->req = req;
    req->conn = c;
    req->pool = p;
    weft_deferred *d = weft_deferred_ref(c->connecting);
    if (weft_call_later(c->r, a->o.connect_timeout, connect_timed_out, c, &c->timer) < 0 ||
        (p->tls && weft_deferred_add_callback(d, tls_step, c) < 0) ||
        weft_deferred_add_callbacks(d, connected, connect_failed, c) < 0) {
        /* Nothing will ever fire them: undo by hand. */
        weft__hc_conn_timer_stop(c);
        c->failed = true;
        weft_deferred_cancel(d);
        weft_deferred_unref(c->connecting);
        c->connecting = NULL;
        weft__hc_conn_uncount(c);
        c->req = NULL;
        req->conn = NULL;
        weft_deferred_unref(d);
        weft__hc_conn_unref(c);
        return WEFT_ENOMEM;
    }
    weft_deferred_unref(d);
    return 0;
}

void weft__hc_conn_abandon(weft__hc_conn *c)
{
    c->req = NULL;
    c->discard = false;
    if (c->connecting) {
        weft_deferred_cancel(c->connecting);
        return;
    }
    weft__hc_conn_upload_abandon(c);
    weft__hc_conn_abort(c);
}
