/* SPDX-License-Identifier: MIT */
/*
 * One client connection: it writes a request (its body flowing in from a
 * fount, framed by Content-Length or chunked), parses the response with
 * llhttp in strict mode, and hands the body on through the response's
 * fount.
 *
 * llhttp is stopped (HPE_PAUSED) wherever weft must act between bytes: when
 * a response's head is in (it is delivered with nothing more parsed), when a
 * message ends (so bytes after it are never taken as the next response),
 * and when the body's consumer pauses. Bytes not yet parsed then wait in the
 * stash and the transport stops reading, so a paused body fount holds back
 * the server.
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

#define CONN(p) WEFT__CONTAINER_OF(p, weft__hc_conn, base)

static const llhttp_settings_t settings;

static void conn_unref(weft__hc_conn *c)
{
    if (--c->refs > 0)
        return;
    weft__http_buf_free(&c->field);
    weft__http_buf_free(&c->reason);
    weft__http_buf_free(&c->stash);
    weft_http_headers_free(c->headers);
    if (c->pending)
        weft_http_response_free(c->pending);
    weft_free(c);
}

static bool conn_open(const weft__hc_conn *c)
{
    return c->t && !c->lost && !weft_transport_disconnecting(c->t);
}

static void timer_stop(weft__hc_conn *c)
{
    weft_timer_cancel(c->r, c->timer);
    c->timer = (weft_timer){0};
}

void weft__hc_conn_close(weft__hc_conn *c)
{
    timer_stop(c);
    if (c->t)
        weft_transport_lose_connection(c->t);
}

static void conn_abort(weft__hc_conn *c)
{
    timer_stop(c);
    if (c->t)
        weft_transport_abort_connection(c->t);
}

/* ---- ends: of the request, of the response body ---- */

static weft_failure *eof_failure(void)
{
    return weft_failure_new(WEFT_EOF, "end of the body");
}

/* The request waiting on c fails (the failure's reference passes). */
static void fail_request(weft__hc_conn *c, weft_failure *f)
{
    weft__hc_req *req = c->req;
    c->req = NULL;
    c->discard = false;
    if (req) {
        req->conn = NULL;
        weft__hc_req_fail(req, f);
    } else {
        weft_failure_unref(f);
    }
}

/* The streaming body ends with f (borrowed); the response is unlinked. */
static void end_body(weft__hc_conn *c, const weft_failure *f)
{
    weft_http_response *resp = c->resp;
    c->resp = NULL;
    if (!resp)
        return;
    resp->conn = NULL;
    weft__hc_body_end(resp, f);
}

/* Something went wrong with the exchange under way: whoever waits hears
 * f (the reference passes), and the connection is dropped. */
static void conn_fail(weft__hc_conn *c, weft_failure *f)
{
    conn_abort(c); /* first, so that whoever hears finds it closing */
    end_body(c, f);
    fail_request(c, weft_failure_ref(f));
    weft_failure_unref(f);
}

/* ---- timers ---- */

static void response_timed_out(void *arg)
{
    weft__hc_conn *c = arg;
    c->timer = (weft_timer){0};
    conn_fail(c, weft_failure_new(WEFT_ETIMEDOUT, "no response from the server within %g s", c->response_timeout));
}

static bool body_gated(const weft__hc_conn *c);

/* Waiting on the server: from the end of the request to the end of the
 * response, unless the body's consumer is the one holding things up. */
static void timer_arm(weft__hc_conn *c)
{
    if (!c->req && !c->resp)
        return; /* idle: its own timer runs */
    timer_stop(c);
    if (c->response_timeout <= 0 || !conn_open(c) || c->up_active || body_gated(c))
        return;
    if (weft_call_later(c->r, c->response_timeout, response_timed_out, c, &c->timer) < 0)
        conn_fail(c, weft_failure_new(WEFT_ENOMEM, "out of memory setting the response timeout"));
}

static void idle_expired(void *arg)
{
    weft__hc_conn *c = arg;
    c->timer = (weft_timer){0};
    weft__hc_pool_remove(c);
    weft__hc_conn_close(c);
}

void weft__hc_conn_set_idle(weft__hc_conn *c, double idle_timeout)
{
    timer_stop(c);
    if (weft_call_later(c->r, idle_timeout, idle_expired, c, &c->timer) < 0) {
        weft__hc_pool_remove(c);
        weft__hc_conn_close(c);
    }
}

/* ---- the request body: a drain on the upload fount ---- */

#define CONN_OF_UP(d) WEFT__CONTAINER_OF(d, weft__hc_conn, up)
#define CONN_OF_PROD(p) WEFT__CONTAINER_OF(p, weft__hc_conn, prod)

/* Lets go of the body fount, stopping it, wherever the upload stands. */
static void upload_abandon(weft__hc_conn *c)
{
    weft_fount *f = c->up.fount;
    if (c->up_active && c->t)
        weft_transport_unregister_producer(c->t);
    c->up_active = false;
    if (!f)
        return;
    f->drain = NULL;
    c->up.fount = NULL;
    weft_fount_stop(f);
}

static void upload_fail(weft__hc_conn *c, weft_failure *f)
{
    upload_abandon(c);
    conn_fail(c, f);
}

static void up_receive(weft_drain *d, const void *data, size_t len)
{
    weft__hc_conn *c = CONN_OF_UP(d);
    if (!len || !conn_open(c))
        return;
    int err;
    if (c->up_chunked) {
        char size[24];
        int n = snprintf(size, sizeof size, "%zx\r\n", len);
        struct iovec iov[3] = {{size, (size_t)n}, {(void *)data, len}, {"\r\n", 2}};
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
    weft__hc_conn *c = CONN_OF_UP(d);
    if (!c->up_active)
        return;
    if (c->t)
        weft_transport_unregister_producer(c->t);
    c->up_active = false;
    if (weft_failure_code(reason) != WEFT_EOF) {
        conn_fail(c, weft_failure_wrap(weft_failure_ref((weft_failure *)reason), weft_failure_code(reason),
                                       "the request body failed"));
        return;
    }
    if (c->up_chunked) {
        if (conn_open(c) && weft_transport_write(c->t, "0\r\n\r\n", 5) < 0)
            conn_fail(c, weft_failure_new(WEFT_ENOMEM, "sending the request body's end"));
    } else if (c->up_left != 0) {
        conn_fail(c, weft_failure_new(WEFT_EINVAL, "the request body ended %lld bytes short of its body_length",
                                      (long long)c->up_left));
        return;
    }
    timer_arm(c);
}

static const weft_drain_ops up_ops = {NULL, up_receive, up_flow_stopped};

static void prod_pause(weft_producer *p)
{
    weft__hc_conn *c = CONN_OF_PROD(p);
    if (c->up.fount)
        weft_fount_pause(c->up.fount);
}

static void prod_resume(weft_producer *p)
{
    weft__hc_conn *c = CONN_OF_PROD(p);
    if (c->up.fount)
        weft_fount_resume(c->up.fount);
}

static void prod_stop(weft_producer *p)
{
    weft__hc_conn *c = CONN_OF_PROD(p);
    c->up_active = false; /* the transport is letting go of us already */
    upload_abandon(c);
}

static const weft_producer_ops prod_ops = {prod_pause, prod_resume, prod_stop};

/* ---- writing the request ---- */

static void put_header(weft__hc_str *b, const char *name, const char *value)
{
    weft__hc_str_cat(b, name);
    weft__hc_str_cat(b, ": ");
    weft__hc_str_cat(b, value);
    weft__hc_str_cat(b, "\r\n");
}

static bool agents_header(const char *name)
{
    static const char *const ours[] = {"host", "content-length", "transfer-encoding", "connection"};
    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
        if (strcasecmp(name, ours[i]) == 0)
            return true;
    return false;
}

static bool method_expects_body(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

static int write_head(weft__hc_conn *c, const weft__hc_req *req, const char *user_agent)
{
    weft__hc_str b = {0};
    weft__hc_str_cat(&b, req->method);
    weft__hc_str_cat(&b, " ");
    weft__hc_str_cat(&b, req->target);
    weft__hc_str_cat(&b, " HTTP/1.1\r\n");
    put_header(&b, "Host", req->host);
    size_t n = weft_http_headers_count(req->headers);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        weft_http_headers_at(req->headers, i, &name, &value);
        if (!agents_header(name))
            put_header(&b, name, value);
    }
    if (user_agent && *user_agent && !weft_http_headers_get(req->headers, "User-Agent"))
        put_header(&b, "User-Agent", user_agent);
    char len[32];
    if (req->body && req->body_length < 0) {
        put_header(&b, "Transfer-Encoding", "chunked");
    } else if (req->body || method_expects_body(req->method)) {
        snprintf(len, sizeof len, "%lld", req->body ? (long long)req->body_length : 0LL);
        put_header(&b, "Content-Length", len);
    }
    weft__hc_str_cat(&b, "\r\n");
    char *head = weft__hc_str_done(&b);
    int err = head ? weft_transport_write(c->t, head, strlen(head)) : WEFT_ENOMEM;
    weft_free(head);
    return err;
}

void weft__hc_conn_start(weft__hc_conn *c, weft__hc_req *req)
{
    timer_stop(c);
    c->req = req;
    req->conn = c;
    req->pool = c->pool;
    c->head = strcmp(req->method, "HEAD") == 0;
    c->reused = c->served++ > 0;
    c->got_bytes = c->discard = c->interim = c->in_trailers = c->complete = false;
    c->head_bytes = 0;
    llhttp_init(&c->parser, HTTP_RESPONSE, &settings);
    c->parser.data = c;
    int err = write_head(c, req, req->a->o.user_agent);
    if (err < 0) {
        conn_fail(c, weft_failure_new(err, "sending the request: %s", weft_strerror(err)));
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
            conn_fail(c, weft_failure_new(err, "sending the request body: %s", weft_strerror(err)));
            return;
        }
        weft_flow_to(body, &c->up);
    }
    timer_arm(c);
}

/* ---- the response body fount ---- */

#define RESP_OF(f) WEFT__CONTAINER_OF(f, weft_http_response, body)

static bool body_gated(const weft__hc_conn *c)
{
    const weft_http_response *r = c->resp;
    return r && !(r->body.drain && r->body.pauses == 0);
}

static void feed(weft__hc_conn *c, const char *data, size_t len, bool resumed);
static void finish_eof(weft__hc_conn *c);

static void kick(void *arg)
{
    weft__hc_conn *c = arg;
    c->kick_queued = false;
    if (conn_open(c) && !body_gated(c)) {
        /* Taken out first: feeding may hold bytes again. */
        weft__http_buf held = c->stash;
        c->stash = (weft__http_buf){0};
        feed(c, held.data ? held.data : "", held.len, true);
        weft__http_buf_free(&held);
        if (conn_open(c) && !c->stash.len && !body_gated(c)) {
            if (c->read_paused) {
                c->read_paused = false;
                weft_transport_resume_reading(c->t);
            }
            if (c->eof_pending) {
                c->eof_pending = false;
                finish_eof(c);
                weft__hc_conn_close(c);
            } else {
                timer_arm(c);
            }
        }
    }
    conn_unref(c);
}

/* Goes on reading, from the reactor (never inside the consumer's call). */
static void schedule_kick(weft__hc_conn *c)
{
    if (c->kick_queued || !conn_open(c))
        return;
    c->refs++;
    c->kick_queued = true;
    if (weft_reactor_call_soon(c->r, kick, c) < 0) {
        c->kick_queued = false;
        c->refs--;
        conn_fail(c, weft_failure_new(WEFT_ENOMEM, "out of memory resuming a response body"));
    }
}

static void body_pause(weft_fount *f)
{
    weft__hc_conn *c = RESP_OF(f)->conn;
    if (c && conn_open(c)) {
        timer_stop(c);
        if (!c->read_paused) {
            c->read_paused = true;
            weft_transport_pause_reading(c->t);
        }
    }
}

static void body_resume(weft_fount *f)
{
    weft__hc_conn *c = RESP_OF(f)->conn;
    if (c)
        schedule_kick(c);
}

static void body_stop(weft_fount *f)
{
    weft__hc_conn *c = RESP_OF(f)->conn;
    if (c)
        conn_abort(c); /* the end comes with connection_lost */
}

void weft__hc_body_end(weft_http_response *resp, const weft_failure *f)
{
    if (resp->body.drain) {
        weft_fount_end(&resp->body, f);
    } else if (!resp->pending_end && !resp->body.ended) {
        resp->pending_end = weft_failure_ref((weft_failure *)f);
    }
}

/* A drain joined: what was held for it can flow, or the end it missed
 * reaches it. */
static void body_flowing_to(weft_fount *f, weft_drain *d)
{
    weft_http_response *resp = RESP_OF(f);
    if (!d)
        return;
    if (resp->pending_end) {
        weft_failure *end = resp->pending_end;
        resp->pending_end = NULL;
        weft_fount_end(f, end);
        weft_failure_unref(end);
    } else if (resp->conn) {
        schedule_kick(resp->conn);
    }
}

static const weft_fount_ops body_ops = {body_pause, body_resume, body_stop, body_flowing_to};

weft_fount *weft_http_response_body(weft_http_response *resp)
{
    resp->opened = true;
    if (resp->conn)
        schedule_kick(resp->conn);
    return &resp->body;
}

void weft_http_response_free(weft_http_response *resp)
{
    if (!resp)
        return;
    weft__hc_conn *c = resp->conn;
    if (c) {
        /* An unread body: the connection cannot be reused. */
        c->resp = NULL;
        resp->conn = NULL;
        conn_abort(c);
    }
    if (!resp->body.ended && resp->body.drain) {
        /* Whoever drains it must hear that nothing more will come. */
        weft_failure *f = weft_failure_new(WEFT_ECANCELED, "the response was freed");
        weft_fount_end(&resp->body, f);
        weft_failure_unref(f);
    }
    weft_failure_unref(resp->pending_end);
    weft_http_headers_free(resp->headers);
    weft_free(resp->reason);
    weft_free(resp->url);
    weft_free(resp);
}

/* ---- parsing the response ---- */

static int too_big(weft__hc_conn *c, size_t n)
{
    c->head_bytes += n;
    if (c->head_bytes <= c->max_header_bytes)
        return 0;
    llhttp_set_error_reason(&c->parser, "response header block too large");
    return HPE_USER;
}

static int append(weft__hc_conn *c, weft__http_buf *b, const char *at, size_t n)
{
    if (weft__http_buf_append(b, at, n) == 0)
        return 0;
    llhttp_set_error_reason(&c->parser, "out of memory");
    return HPE_USER;
}

static int on_message_begin(llhttp_t *p)
{
    weft__hc_conn *c = p->data;
    c->field.len = c->reason.len = c->name_len = 0;
    c->in_trailers = false;
    if (c->headers) {
        weft_http_headers_clear(c->headers);
    } else if (!(c->headers = weft_http_headers_new())) {
        llhttp_set_error_reason(p, "out of memory");
        return HPE_USER;
    }
    return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t n)
{
    weft__hc_conn *c = p->data;
    int err = too_big(c, n);
    return err ? err : append(c, &c->reason, at, n);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    weft__hc_conn *c = p->data;
    int err = too_big(c, n + 4);
    if (err || c->in_trailers)
        return err;
    return append(c, &c->field, at, n);
}

static int on_header_field_complete(llhttp_t *p)
{
    weft__hc_conn *c = p->data;
    c->name_len = c->field.len;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    weft__hc_conn *c = p->data;
    int err = too_big(c, n);
    if (err || c->in_trailers)
        return err;
    return append(c, &c->field, at, n);
}

static int on_header_value_complete(llhttp_t *p)
{
    weft__hc_conn *c = p->data;
    if (c->in_trailers)
        return 0; /* trailers are read and dropped, as Twisted does */
    size_t vlen = c->field.len - c->name_len;
    const char *name = c->field.data ? c->field.data : "", *v = name + c->name_len;
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    int err = weft_http_headers_addn(c->headers, name, c->name_len, v, vlen);
    c->field.len = c->name_len = 0;
    if (err < 0) {
        llhttp_set_error_reason(p, err == WEFT_ENOMEM ? "out of memory" : "malformed header");
        return HPE_USER;
    }
    return 0;
}

static weft_http_response *response_new(weft__hc_conn *c)
{
    weft_http_response *resp = weft_calloc(1, sizeof *resp);
    if (!resp)
        return NULL;
    resp->body.ops = &body_ops;
    resp->r = c->r;
    resp->status = c->parser.status_code;
    resp->version = c->parser.http_minor ? 11 : 10;
    resp->headers = c->headers;
    c->headers = NULL;
    resp->reason = weft_malloc(c->reason.len + 1);
    if (resp->reason) {
        if (c->reason.len)
            memcpy(resp->reason, c->reason.data, c->reason.len);
        resp->reason[c->reason.len] = 0;
    }
    if (!resp->reason) {
        weft_http_response_free(resp);
        return NULL;
    }
    return resp;
}

static int on_headers_complete(llhttp_t *p)
{
    weft__hc_conn *c = p->data;
    int err = too_big(c, 2);
    if (err)
        return err;
    int status = p->status_code;
    if (p->http_major != 1) {
        llhttp_set_error_reason(p, "not an HTTP/1 response");
        return HPE_USER;
    }
    if (status == 101 || status < 100) {
        llhttp_set_error_reason(p, status == 101 ? "an upgrade nobody asked for" : "bad status code");
        return HPE_USER;
    }
    if (status < 200) {
        c->interim = true; /* 100 Continue, 103 Early Hints...: skipped */
        return 1;
    }
    c->in_trailers = true;
    weft_http_response *resp = response_new(c);
    if (!resp) {
        llhttp_set_error_reason(p, "out of memory");
        return HPE_USER;
    }
    bool bodyless = c->head || status == 204 || status == 304 ||
                    ((p->flags & F_CONTENT_LENGTH) && !(p->flags & F_CHUNKED) && p->content_length == 0);
    if (bodyless)
        resp->length = 0;
    else if (p->flags & F_CHUNKED)
        resp->length = -1;
    else if (p->flags & F_CONTENT_LENGTH)
        resp->length = (int64_t)p->content_length;
    else
        resp->length = -1;
    c->pending = resp;
    /* A body-less response is delivered once its (empty) message ends. */
    return bodyless ? 1 : HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    weft__hc_conn *c = p->data;
    if (c->discard || n == 0) /* (llhttp ends a span at the end of input, even an empty one) */
        return 0;
    if (!c->resp)
        return HPE_PAUSED;
    weft_fount_emit(&c->resp->body, at, n);
    /* The consumer may have paused, stopped or freed it meanwhile. */
    return !conn_open(c) || body_gated(c) ? HPE_PAUSED : 0;
}

static int on_message_complete(llhttp_t *p)
{
    weft__hc_conn *c = p->data;
    c->complete = true;
    c->keep_alive = llhttp_should_keep_alive(p);
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value_complete = on_header_value_complete,
};

static void deliver(weft__hc_conn *c)
{
    weft_http_response *resp = c->pending;
    c->pending = NULL;
    weft__hc_req *req = c->req;
    if (!req) {
        weft_http_response_free(resp);
        return;
    }
    if (weft__hc_req_wants_redirect(req, resp->status, resp->headers)) {
        c->discard = true;
        weft_http_response_free(resp);
        return;
    }
    c->req = NULL;
    req->conn = NULL;
    c->resp = resp;
    resp->conn = c;
    weft__hc_req_deliver(req, resp);
}

/* A message ended with `left` bytes after it in this read. */
static void message_done(weft__hc_conn *c, size_t left)
{
    c->complete = false;
    if (c->interim) {
        c->interim = false;
        return;
    }
    timer_stop(c);
    bool reuse = c->keep_alive && left == 0 && !c->eof && !c->up_active;
    upload_abandon(c); /* answered before the request was all sent */
    if (c->discard) {
        weft__hc_req *req = c->req;
        c->req = NULL;
        c->discard = false;
        if (reuse)
            weft__hc_pool_release(c);
        else
            weft__hc_conn_close(c);
        if (req) {
            req->conn = NULL;
            weft__hc_req_follow(req);
        }
        return;
    }
    weft_http_response *resp = c->resp;
    c->resp = NULL;
    if (resp)
        resp->conn = NULL;
    /* Back in the pool before the consumer hears the end, so a request
     * it makes then can have this connection. */
    if (reuse)
        weft__hc_pool_release(c);
    else
        weft__hc_conn_close(c);
    if (resp) {
        weft_failure *eof = eof_failure();
        weft__hc_body_end(resp, eof);
        weft_failure_unref(eof);
    }
}

static void protocol_error(weft__hc_conn *c, llhttp_errno_t e)
{
    const char *why = llhttp_get_error_reason(&c->parser);
    conn_fail(c, weft_failure_new(WEFT_EHTTP, "malformed HTTP response: %s (%s)", why ? why : "?",
                                  llhttp_errno_name(e)));
}

static void hold(weft__hc_conn *c, const char *data, size_t len)
{
    timer_stop(c);
    if (weft__http_buf_append(&c->stash, data, len) < 0) {
        conn_fail(c, weft_failure_new(WEFT_ENOMEM, "out of memory holding a response"));
        return;
    }
    if (!c->read_paused) {
        c->read_paused = true;
        weft_transport_pause_reading(c->t);
    }
}

static void feed(weft__hc_conn *c, const char *data, size_t len, bool resumed)
{
    /* After a pause llhttp may have steps to take with no more input (the
     * end of a body whose last bytes the consumer paused on): it is run
     * once more, even on 0 bytes. */
    while (conn_open(c)) {
        if (body_gated(c)) {
            hold(c, data, len);
            return;
        }
        if (!len && !resumed)
            return;
        if (!c->req && !c->resp) {
            if (len)
                conn_fail(c, weft_failure_new(WEFT_EHTTP, "the server sent bytes nobody asked for"));
            return;
        }
        llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
        size_t used = e == HPE_OK ? len : (size_t)(llhttp_get_error_pos(&c->parser) - data);
        data += used;
        len -= used;
        if (e != HPE_OK && e != HPE_PAUSED) {
            protocol_error(c, e);
            return;
        }
        resumed = e == HPE_PAUSED;
        if (resumed)
            llhttp_resume(&c->parser);
        if (c->pending)
            deliver(c);
        if (c->complete)
            message_done(c, len);
    }
}

static void finish_eof(weft__hc_conn *c)
{
    if (!c->req && !c->resp)
        return;
    llhttp_errno_t e = llhttp_finish(&c->parser);
    if (e == HPE_PAUSED) {
        /* Only a body that runs to the close ends here. */
        if (c->complete)
            message_done(c, 0);
    } else if (e != HPE_OK && (c->resp || c->got_bytes || c->req)) {
        if (c->resp || c->discard)
            conn_fail(c, weft_failure_new(WEFT_EHTTP, "the connection closed in the middle of the response"));
        else if (c->got_bytes)
            protocol_error(c, e);
    }
}

/* ---- the protocol ---- */

static void conn_ready(weft__hc_conn *c);

static void p_made(weft_protocol *p)
{
    weft__hc_conn *c = CONN(p);
    c->t = p->transport;
    c->made = true;
    if (c->failed) {
        conn_abort(c); /* it came too late */
        return;
    }
    if (c->chain_done)
        conn_ready(c);
}

static void p_data(weft_protocol *p, const void *data, size_t len)
{
    weft__hc_conn *c = CONN(p);
    c->got_bytes = true;
    timer_arm(c);
    feed(c, data, len, false);
}

static bool p_eof(weft_protocol *p)
{
    weft__hc_conn *c = CONN(p);
    c->eof = true;
    if (body_gated(c) || c->stash.len) {
        c->eof_pending = true;
        return true; /* what is held is parsed first */
    }
    finish_eof(c);
    return false;
}

static void p_lost(weft_protocol *p, const weft_failure *reason)
{
    weft__hc_conn *c = CONN(p);
    c->lost = true;
    c->t = NULL;
    timer_stop(c);
    upload_abandon(c);
    weft__hc_req *req = c->req;
    bool retry = req && c->reused && !c->got_bytes && weft__hc_req_may_retry(req);
    weft__hc_pool_remove(c);
    int code = weft_failure_code(reason);
    if (c->resp) {
        weft_failure *f = code == WEFT_EOF ? weft_failure_new(WEFT_EHTTP, "the connection closed in the middle of the body")
                                           : weft_failure_wrap(weft_failure_ref((weft_failure *)reason), code,
                                                               "the connection was lost in the middle of the body");
        end_body(c, f);
        weft_failure_unref(f);
    }
    if (!c->req)
        return;
    if (retry) {
        /* The server closed a pooled connection as we reused it. */
        c->req = NULL;
        req->conn = NULL;
        weft__hc_req_retry(req);
        return;
    }
    fail_request(c, code == WEFT_EOF ? weft_failure_new(-ECONNRESET, "the server closed the connection before responding")
                                     : weft_failure_wrap(weft_failure_ref((weft_failure *)reason), code,
                                                         "the connection was lost before the response"));
}

static void p_destroy(weft_protocol *p)
{
    weft__hc_conn *c = CONN(p);
    c->wrapper = NULL; /* it goes first, and takes us with it */
    conn_unref(c);
}

static const weft_protocol_ops conn_ops = {p_made, p_data, p_eof, p_lost, p_destroy};

/* ---- connecting ---- */

#define CONN_OF_FACTORY(f) WEFT__CONTAINER_OF(f, weft__hc_conn, factory)

static weft_protocol *f_build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    weft__hc_conn *c = CONN_OF_FACTORY(f);
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
        weft__hc_pool_release(c);
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
    timer_stop(c);
    weft_deferred_unref(c->connecting);
    c->connecting = NULL;
    c->chain_done = true;
    if (c->made)
        conn_ready(c);
    conn_unref(c);
    return weft_none();
}

static weft_result connect_failed(void *arg, weft_result r)
{
    weft__hc_conn *c = arg;
    timer_stop(c);
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
    weft__hc_pool_remove(c);
    fail_request(c, f);
    conn_unref(c);
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
        timer_stop(c);
        c->failed = true;
        weft_deferred_cancel(d);
        weft_deferred_unref(c->connecting);
        c->connecting = NULL;
        weft__hc_pool_remove(c);
        c->req = NULL;
        req->conn = NULL;
        weft_deferred_unref(d);
        conn_unref(c);
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
    upload_abandon(c);
    conn_abort(c);
}
