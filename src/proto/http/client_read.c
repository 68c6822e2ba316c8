/* SPDX-License-Identifier: MIT */
/*
 * Reading a response on a client connection: llhttp in strict mode, and
 * the body handed on through the response's fount.
 *
 * llhttp is stopped (HPE_PAUSED) wherever weft must act between bytes: when
 * a response's head is in (it is delivered with nothing more parsed), when a
 * message ends (so bytes after it are never taken as the next response),
 * and when the body's consumer pauses. Bytes not yet parsed then wait in the
 * stash and the transport stops reading, so a paused body fount holds back
 * the server; and none are read for a body nobody drains yet.
 */
#include <stdio.h>
#include <string.h>

#include "client_int.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/http_headers.h"
#include "weft/reactor.h"
#include "weft/transport.h"

static weft_failure *eof_failure(void)
{
    return weft_failure_new(WEFT_EOF, "end of the body");
}

/* ---- the response body fount ---- */

static void kick(void *arg)
{
    weft__hc_conn *c = arg;
    c->kick_queued = false;
    if (weft__hc_conn_open(c) && !weft__hc_conn_gated(c)) {
        /* Taken out first: feeding may hold bytes again. */
        weft__http_buf held = c->stash;
        c->stash = (weft__http_buf){0};
        weft__hc_conn_feed(c, held.data ? held.data : "", held.len, true);
        weft__http_buf_free(&held);
        if (weft__hc_conn_open(c) && !c->stash.len && !weft__hc_conn_gated(c)) {
            if (c->read_paused) {
                c->read_paused = false;
                weft_transport_resume_reading(c->t);
            }
            if (c->eof_pending) {
                c->eof_pending = false;
                weft__hc_conn_finish_eof(c);
                weft__hc_conn_close(c);
            } else {
                weft__hc_conn_timer_arm(c);
            }
        }
    }
    weft__hc_conn_unref(c);
}

/* A kick that will never run (the reactor was freed first) gives back its
 * reference. */
static void drop_kick(void *arg)
{
    weft__hc_conn *c = arg;
    c->kick_queued = false;
    weft__hc_conn_unref(c);
}

/* Goes on reading, from the reactor (never inside the consumer's call). */
static void schedule_kick(weft__hc_conn *c)
{
    if (c->kick_queued || !weft__hc_conn_open(c))
        return;
    c->refs++;
    c->kick_queued = true;
    if (weft_reactor_call_soon_full(c->r, kick, c, drop_kick) < 0) {
        c->kick_queued = false;
        c->refs--;
        weft__hc_conn_fail(c, weft_failure_new(WEFT_ENOMEM, "out of memory resuming a response body"));
    }
}

static void body_pause(weft_fount *f)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(f, weft_http_response, body)->conn;
    if (c && weft__hc_conn_open(c)) {
        weft__hc_conn_timer_stop(c);
        if (!c->read_paused) {
            c->read_paused = true;
            weft_transport_pause_reading(c->t);
        }
    }
}

static void body_resume(weft_fount *f)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(f, weft_http_response, body)->conn;
    if (c)
        schedule_kick(c);
}

static void body_stop(weft_fount *f)
{
    weft__hc_conn *c = WEFT_CONTAINER_OF(f, weft_http_response, body)->conn;
    if (c)
        weft__hc_conn_abort(c); /* the end comes with connection_lost */
}

/* A drain joined: what was held for it can flow, or the end it missed
 * reaches it. */
static void body_flowing_to(weft_fount *f, weft_drain *d)
{
    weft_http_response *resp = WEFT_CONTAINER_OF(f, weft_http_response, body);
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
    return &resp->body; /* reading starts when a drain joins it */
}

/* ---- parsing the response ---- */

/* Refuses the response being parsed: llhttp stops, and the failure names
 * why. (Kept on the connection: llhttp puts "User callback error" in place
 * of the reason a callback that is not a span's sets.) */
static int refuse(weft__hc_conn *c, const char *why)
{
    c->why = why;
    return HPE_USER;
}

static int too_big(weft__hc_conn *c, size_t n)
{
    c->head_bytes += n;
    if (c->head_bytes <= c->max_header_bytes)
        return 0;
    return refuse(c, "response header block too large");
}

static int append(weft__hc_conn *c, weft__http_buf *b, const char *at, size_t n)
{
    weft__http_buf_append(b, at, n);
    if (!b->failed)
        return 0;
    return refuse(c, "out of memory");
}

static int on_message_begin(llhttp_t *p)
{
    weft__hc_conn *c = p->data;
    weft__http_buf_clear(&c->field);
    weft__http_buf_clear(&c->reason);
    c->name_len = 0;
    c->in_trailers = false;
    if (c->headers) {
        weft_http_headers_clear(c->headers);
    } else if (!(c->headers = weft_http_headers_new())) {
        return refuse(c, "out of memory");
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
    weft__http_buf_clear(&c->field);
    c->name_len = 0;
    if (err < 0) {
        return refuse(c, err == WEFT_ENOMEM ? "out of memory" : "malformed header");
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
        return refuse(c, "not an HTTP/1 response");
    }
    if (status == 101 || status < 100) {
        return refuse(c, status == 101 ? "an upgrade nobody asked for" : "bad status code");
    }
    if (status < 200) {
        c->interim = true; /* 100 Continue, 103 Early Hints...: skipped */
        return 1;
    }
    /* Past int64_t, read as -1 it would pass for a length not given. */
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > INT64_MAX)
        return refuse(c, "the response's Content-Length is too large");
    c->in_trailers = true;
    weft_http_response *resp = response_new(c);
    if (!resp) {
        return refuse(c, "out of memory");
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
    return !weft__hc_conn_open(c) || weft__hc_conn_gated(c) ? HPE_PAUSED : 0;
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
    if (req->ops->redirect(req, resp->status, resp->headers)) {
        c->discard = true;
        weft_http_response_free(resp);
        return;
    }
    c->req = NULL;
    req->conn = NULL;
    c->resp = resp;
    resp->conn = c;
    req->ops->deliver(req, resp);
}

/* A message ended with `left` bytes after it in this read. */
static void message_done(weft__hc_conn *c, size_t left)
{
    c->complete = false;
    if (c->interim) {
        c->interim = false;
        return;
    }
    weft__hc_conn_timer_stop(c);
    bool reuse = c->keep_alive && left == 0 && !c->eof && !c->up_active;
    weft__hc_conn_upload_abandon(c); /* answered before the request was all sent */
    if (c->discard) {
        weft__hc_req *req = c->req;
        c->req = NULL;
        c->discard = false;
        if (reuse)
            weft__hc_conn_release(c);
        else
            weft__hc_conn_close(c);
        if (req) {
            req->conn = NULL;
            req->ops->follow(req);
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
        weft__hc_conn_release(c);
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
    if (c->why) {
        weft__hc_conn_fail(c, weft_failure_new(WEFT_EHTTP, "malformed HTTP response: %s", c->why));
        return;
    }
    const char *why = llhttp_get_error_reason(&c->parser);
    weft__hc_conn_fail(c, weft_failure_new(WEFT_EHTTP, "malformed HTTP response: %s (%s)", why ? why : "?",
                                           llhttp_errno_name(e)));
}

static void hold(weft__hc_conn *c, const char *data, size_t len)
{
    weft__hc_conn_timer_stop(c);
    weft__http_buf_append(&c->stash, data, len);
    if (c->stash.failed) {
        weft__hc_conn_fail(c, weft_failure_new(WEFT_ENOMEM, "out of memory holding a response"));
        return;
    }
    if (!c->read_paused) {
        c->read_paused = true;
        weft_transport_pause_reading(c->t);
    }
}

void weft__hc_conn_feed(weft__hc_conn *c, const char *data, size_t len, bool resumed)
{
    /* After a pause llhttp may have steps to take with no more input (the
     * end of a body whose last bytes the consumer paused on): it is run
     * once more, even on 0 bytes. */
    while (weft__hc_conn_open(c)) {
        if (weft__hc_conn_gated(c)) {
            hold(c, data, len);
            return;
        }
        if (!len && !resumed)
            return;
        if (!c->req && !c->resp) {
            if (len)
                weft__hc_conn_fail(c, weft_failure_new(WEFT_EHTTP, "the server sent bytes nobody asked for"));
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

void weft__hc_conn_finish_eof(weft__hc_conn *c)
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
            weft__hc_conn_fail(c, weft_failure_new(WEFT_EHTTP, "the connection closed in the middle of the response"));
        else if (c->got_bytes)
            protocol_error(c, e);
    }
}

void weft__hc_conn_parse_start(weft__hc_conn *c)
{
    llhttp_init(&c->parser, HTTP_RESPONSE, &settings);
    c->parser.data = c;
    c->why = NULL;
}
