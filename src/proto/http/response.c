/* SPDX-License-Identifier: MIT */
/*
 * The response side of a request: the head, body framing (Content-Length,
 * chunked, or the close for HTTP/1.0), responses kept in request order, and
 * backpressure through producers and drains.
 *
 * Only the first request of a connection's queue (the active one) writes to
 * the transport; the others append to their own buffer, which goes out when
 * their turn comes, and their producers stay paused until then. The head
 * and a body written at once leave in one writev.
 */
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../net/transport_int.h"
#include "http_int.h"

typedef struct weft__http_file {
    weft_producer base;
    weft_http_request *req;
    int fd;
    off_t off;
    uint64_t left;
    char *buf;
    bool paused, soon, dead;
} weft__http_file;

/* ---- bytes out, in request order ---- */

static int out_writev(weft_http_request *req, const struct iovec *iov, int n)
{
    weft__http_conn *c = req->conn;
    if (!c || !c->t)
        return -ENOTCONN;
    if (req->active)
        return weft_transport_writev(c->t, iov, n);
    /* Room first: a write that cannot be queued leaves the queued ones whole. */
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    int rc = weft__http_buf_reserve(&req->out, total);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++)
        weft__http_buf_append(&req->out, iov[i].iov_base, iov[i].iov_len);
    return 0;
}

/* ---- the head ---- */

/* The status line and the headers of every response, in b (emptied first;
 * b->failed says whether memory ran out). */
static void head_begin(weft__http_buf *b, weft_http_server *s, int status, const char *reason)
{
    char code[3] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10), (char)('0' + status % 10)};
    weft__http_buf_clear(b);
    weft__http_buf_appends(b, "HTTP/1.1 ");
    weft__http_buf_append(b, code, 3);
    weft__http_buf_appends(b, " ");
    weft__http_buf_appends(b, reason ? reason : weft_http_reason(status));
    weft__http_buf_appends(b, "\r\nDate: ");
    weft__http_buf_append(b, weft__http_date(s), WEFT_HTTP_DATE_SIZE - 1);
    weft__http_buf_appends(b, "\r\n");
    if (s->server_line)
        weft__http_buf_appends(b, s->server_line);
    size_t n = s->extra ? weft_http_headers_count(s->extra) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        weft_http_headers_at(s->extra, i, &name, &value);
        weft__http_buf_appends(b, name);
        weft__http_buf_appends(b, ": ");
        weft__http_buf_appends(b, value);
        weft__http_buf_appends(b, "\r\n");
    }
}

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static bool parse_length(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* Decides the framing and builds the head in the connection's scratch. */
static int build_head(weft_http_request *req, bool finishing, uint64_t body_len)
{
    weft__http_conn *c = req->conn;
    weft__http_buf *b = &c->scratch;
    int status = req->status;
    bool body_ok = status_has_body(status);
    req->no_body = req->is_head || !body_ok;
    weft_http_headers *h = req->resp;
    /* One pass: each header is copied into the head, and the three that
     * decide the framing are noticed on the way (by length first, so most
     * names cost no comparison). */
    head_begin(b, req->server, status, req->reason);
    const char *cl = NULL, *te = NULL, *conn = NULL;
    size_t n = weft_http_headers_count(h);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        weft_http_headers_at(h, i, &name, &value);
        size_t nlen = strlen(name);
        if (nlen == 14 && !cl && strcasecmp(name, "content-length") == 0)
            cl = value;
        else if (nlen == 17 && !te && strcasecmp(name, "transfer-encoding") == 0)
            te = value;
        else if (nlen == 10 && !conn && strcasecmp(name, "connection") == 0)
            conn = value;
        weft__http_buf_append(b, name, nlen);
        weft__http_buf_appends(b, ": ");
        weft__http_buf_appends(b, value);
        weft__http_buf_appends(b, "\r\n");
    }
    bool conn_set = conn != NULL;
    if (conn_set && weft_http_headers_has_token(h, "connection", "close"))
        req->keep_alive = false;
    bool add_length = false, add_chunked = false;
    if (cl) {
        if (!parse_length(cl, &req->resp_length))
            return WEFT_EINVAL;
        req->has_length = true;
    } else if (te) {
        req->chunked = req->version >= 11 && weft_http_headers_has_token(h, "transfer-encoding", "chunked");
        if (!req->chunked)
            req->keep_alive = false;
    } else if (!body_ok) {
        /* no framing */
    } else if (finishing && !(req->is_head && body_len == 0)) {
        req->has_length = add_length = true;
        req->resp_length = body_len;
    } else if (req->version >= 11) {
        req->chunked = add_chunked = true;
    } else if (!req->is_head) {
        req->keep_alive = false; /* HTTP/1.0: the close ends the body */
    }
    if (req->parsing && !req->body.ended && !req->body_discard) {
        /* A body still coming in: a declined 100-continue or a long unread
         * body is cheaper to cut off than to read. A chunked body's length
         * is unknown: it is read and dropped (within the body's limit), so
         * that a valid one keeps the connection. */
        bool long_unread = req->content_length > 0 && !req->body.drain &&
                           (uint64_t)req->content_length - req->body_received > WEFT__HTTP_DROP_MAX;
        if ((req->expect_continue && !req->continue_sent) || long_unread)
            req->keep_alive = false;
    }
    /* The connection ends (refused, half-closed, quiesced): its last
     * response says so and closes it (RFC 9112 9.6); one with responses
     * still to come after it, or an error page, leaves that to them. */
    bool last = req->link.next == &c->queue && !c->final_status;
    if ((c->no_more || req->server->stopping) && last)
        req->keep_alive = false;
    if (add_length) {
        char num[24], *p = weft__http_fmt_u64(num + sizeof num, body_len);
        weft__http_buf_appends(b, "Content-Length: ");
        weft__http_buf_append(b, p, (size_t)(num + sizeof num - p));
        weft__http_buf_appends(b, "\r\n");
    }
    if (add_chunked)
        weft__http_buf_appends(b, "Transfer-Encoding: chunked\r\n");
    if (!conn_set) {
        if (!req->keep_alive)
            weft__http_buf_appends(b, "Connection: close\r\n");
        else if (req->version == 10)
            weft__http_buf_appends(b, "Connection: keep-alive\r\n");
    }
    weft__http_buf_appends(b, "\r\n");
    if (b->failed)
        return WEFT_ENOMEM;
    req->headers_sent = true;
    return 0;
}

/* ---- the body ---- */

/*
 * The handler's headers cannot frame its response (a Content-Length that
 * is not a number, as a proxy might copy an upstream's): a 500 page goes
 * out in its place, whole, and what the handler writes after is dropped.
 * Returns WEFT_EINVAL for the handler, or why the page could not go.
 */
static int send_body(weft_http_request *req, const void *data, size_t len, bool finishing, weft_destroy_fn release,
                     void *arg);

static int answer_unframable(weft_http_request *req)
{
    weft__http_buf body = {0};
    weft_free(req->reason);
    req->reason = NULL;
    req->status = 500;
    weft_http_headers_clear(req->resp);
    int rc = weft__http_error_body(&body, 500, "The response's Content-Length is malformed.");
    if (rc == 0)
        rc = weft_http_headers_set(req->resp, "Content-Type", "text/html; charset=utf-8");
    if (rc == 0) /* (send_body again, with headers that frame the page) */
        rc = send_body(req, body.data, body.len, true, NULL, NULL);
    req->no_body = true;
    weft__http_buf_free(&body);
    return rc < 0 ? rc : WEFT_EINVAL;
}

/* Writes the head if it has not gone, then data framed, then (finishing)
 * the end of the body. With release, data is borrowed when it is large
 * enough to be worth it. */
static int send_body(weft_http_request *req, const void *data, size_t len, bool finishing, weft_destroy_fn release,
                     void *arg)
{
    weft__http_conn *c = req->conn;
    if (!c || !c->t)
        return -ENOTCONN;
    struct iovec iov[5];
    int n = 0, rc;
    if (!req->headers_sent) {
        if ((rc = build_head(req, finishing, len)) < 0)
            return rc == WEFT_EINVAL ? answer_unframable(req) : rc;
        iov[n++] = (struct iovec){c->scratch.data, c->scratch.len};
        /* counted as its head goes: where the transport is at hand */
        weft__transport_count_response(c->t, req->status);
    }
    if (req->no_body)
        len = 0;
    if (req->has_length && len > req->resp_length - req->resp_sent)
        len = (size_t)(req->resp_length - req->resp_sent); /* never past the declared length */
    char line[24];
    static const char crlf_end[] = "\r\n0\r\n\r\n";
    int data_at = -1;
    if (len) {
        if (req->chunked) {
            char *p = line + sizeof line - 2;
            p[0] = '\r';
            p[1] = '\n';
            p = weft__http_fmt_hex(p, len);
            iov[n++] = (struct iovec){p, (size_t)(line + sizeof line - p)};
        }
        data_at = n;
        iov[n++] = (struct iovec){(void *)data, len};
        if (req->chunked)
            iov[n++] = (struct iovec){(void *)crlf_end, finishing ? 7 : 2};
    } else if (finishing && req->chunked && !req->no_body) {
        iov[n++] = (struct iovec){(void *)(crlf_end + 2), 5};
    }
    req->resp_sent += len;
    if (n == 0)
        return 0;
    if (release && req->active && data_at >= 0 && len >= WEFT__HTTP_BORROW_MIN) {
        /* framing copied, the bytes themselves lent */
        if (data_at > 0 && (rc = weft_transport_writev(c->t, iov, data_at)) < 0)
            return rc;
        if ((rc = weft_transport_write_borrowed(c->t, data, len, release, arg)) < 0)
            return rc;
        /* release is the transport's now, whatever happens next (a failed
         * write closes the connection, which the handler hears of) */
        if (data_at + 1 < n)
            (void)weft_transport_writev(c->t, iov + data_at + 1, n - data_at - 1);
        return 1;
    }
    return out_writev(req, iov, n);
}

/* ---- finishing ---- */

static void finalize(weft_http_request *req)
{
    req->whole = true;
    if (req->prod_registered && req->conn && req->conn->t)
        weft_transport_unregister_producer(req->conn->t);
    req->prod_registered = false;
    req->producer = NULL;
    weft__http_access_log(req);
    weft_deferred **notify = req->notify;
    size_t n = req->nnotify;
    req->notify = NULL;
    req->nnotify = 0;
    for (size_t i = 0; i < n; i++) {
        /* A cut body was not handed over whole, whatever the transport took. */
        if (req->cut)
            weft_deferred_errback(notify[i], weft_failure_new(-ECONNABORTED, "the response ended short of its length"));
        else
            weft_deferred_callback(notify[i], NULL, NULL);
        weft_deferred_unref(notify[i]);
    }
    weft_free(notify);
}

/* Closes req's connection, if it still has one (http_int.h's close). */
static void close_conn(weft_http_request *req, bool abort)
{
    if (req->conn)
        req->conn->ops->close(req->conn, abort);
}

static void complete(weft_http_request *req)
{
    finalize(req);
    if (req->conn)
        req->conn->ops->response_done(req->conn, req);
}

static int finish_internal(weft_http_request *req)
{
    if (req->resp_done)
        return -EALREADY;
    if (req->file) {
        req->finish_after_file = true;
        return 0;
    }
    int rc = 0;
    if (req->conn && req->conn->t) {
        rc = send_body(req, NULL, 0, true, NULL, NULL);
        if (req->has_length && req->resp_sent < req->resp_length && !req->no_body) {
            req->cut = true;
            close_conn(req, false); /* a short body: the client must see the end */
        }
    }
    req->resp_done = true;
    if (req->active)
        complete(req);
    return rc < 0 ? rc : 0;
}

int weft__http_respond_internal(weft_http_request *req, int status, const char *ctype, const void *body, size_t len,
                                bool close)
{
    if (req->headers_sent || req->resp_done)
        return -EALREADY;
    if (status < 100 || status > 999)
        return WEFT_EINVAL;
    req->status = status;
    int rc = 0;
    if (ctype && (rc = weft_http_headers_set(req->resp, "Content-Type", ctype)) < 0)
        return rc;
    if (close)
        req->keep_alive = false;
    rc = send_body(req, body, len, true, NULL, NULL);
    req->resp_done = true;
    if (req->active)
        complete(req);
    return rc < 0 ? rc : 0;
}

static int error_internal(weft_http_request *req, int status, const char *detail)
{
    weft__http_buf body = {0};
    int rc = weft__http_error_body(&body, status, detail);
    if (rc == 0)
        rc = weft__http_respond_internal(req, status, "text/html; charset=utf-8", body.data, body.len, false);
    weft__http_buf_free(&body);
    return rc;
}

/* The handler is done with req. */
static int handler_lets_go(weft_http_request *req, int rc)
{
    req->handler_done = true;
    weft__http_request_release(req);
    return rc;
}

int weft_http_reply_finish(weft_http_request *req)
{
    if (req->handler_done)
        return -EALREADY;
    return handler_lets_go(req, finish_internal(req));
}

int weft_http_reply(weft_http_request *req, int status, const char *content_type, const void *body, size_t len)
{
    if (req->handler_done)
        return -EALREADY;
    return handler_lets_go(req, weft__http_respond_internal(req, status, content_type, body, len, false));
}

int weft_http_reply_error(weft_http_request *req, int status, const char *detail)
{
    if (req->handler_done)
        return -EALREADY;
    int rc;
    if (req->resp_done) {
        rc = -EALREADY;
    } else if (req->headers_sent) {
        close_conn(req, false);
        req->resp_done = true;
        rc = 0;
    } else {
        rc = error_internal(req, status, detail);
    }
    return handler_lets_go(req, rc);
}

void weft_http_reply_abort(weft_http_request *req)
{
    if (req->handler_done)
        return;
    close_conn(req, true);
    req->aborted = true;
    req->resp_done = true;
    handler_lets_go(req, 0);
}

/* ---- the public writing calls ---- */

static int can_write(const weft_http_request *req)
{
    if (req->handler_done || req->resp_done)
        return -EALREADY;
    if (!req->conn || !req->conn->t)
        return -ENOTCONN;
    if (req->file)
        return WEFT_EBUSY;
    return 0;
}

int weft_http_reply_write(weft_http_request *req, const void *data, size_t len)
{
    int rc = can_write(req);
    return rc < 0 ? rc : send_body(req, data, len, false, NULL, NULL);
}

int weft_http_reply_write_borrowed(weft_http_request *req, const void *data, size_t len, weft_destroy_fn release, void *arg)
{
    int rc = can_write(req);
    if (rc < 0)
        return rc;
    rc = send_body(req, data, len, false, release, arg);
    if (rc < 0)
        return rc;
    /* copied after all: give the bytes back from the reactor */
    if (rc == 0 && release && weft_reactor_call_soon_full(req->r, release, arg, release) < 0)
        release(arg);
    return 0;
}

int weft__http_write_100(weft_http_request *req)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct iovec iov = {(void *)cont, sizeof cont - 1};
    return out_writev(req, &iov, 1);
}

int weft_http_reply_set_status(weft_http_request *req, int status, const char *reason)
{
    if (req->headers_sent)
        return -EALREADY;
    if (status < 100 || status > 999 || (reason && strpbrk(reason, "\r\n")))
        return WEFT_EINVAL;
    char *copy = NULL;
    if (reason && !(copy = weft_strdup(reason)))
        return WEFT_ENOMEM;
    weft_free(req->reason);
    req->reason = copy;
    req->status = status;
    return 0;
}

int weft_http_reply_status(const weft_http_request *req)
{
    return req->status;
}

weft_http_headers *weft_http_reply_headers(weft_http_request *req)
{
    return req->headers_sent ? NULL : req->resp;
}

int weft_http_reply_add_header(weft_http_request *req, const char *name, const char *value)
{
    return req->headers_sent ? -EALREADY : weft_http_headers_add(req->resp, name, value);
}

int weft_http_reply_set_header(weft_http_request *req, const char *name, const char *value)
{
    return req->headers_sent ? -EALREADY : weft_http_headers_set(req->resp, name, value);
}

bool weft_http_reply_started(const weft_http_request *req)
{
    return req->headers_sent;
}

bool weft_http_reply_finished(const weft_http_request *req)
{
    return req->resp_done;
}

weft_deferred *weft_http_reply_notify_finish(weft_http_request *req)
{
    if (req->whole)
        return weft_succeed(req->r, NULL, NULL);
    if (!req->conn)
        return weft_fail(req->r, weft_failure_new(-ENOTCONN, "the connection was lost before the response was sent"));
    weft_deferred **v = weft_realloc(req->notify, (req->nnotify + 1) * sizeof *v);
    if (!v)
        return NULL;
    req->notify = v;
    weft_deferred *d = weft_deferred_new(req->r);
    if (!d)
        return NULL;
    v[req->nnotify++] = d;
    return weft_deferred_ref(d);
}

/* ---- producers ---- */

/* The transport sees the request's proxy, so the request knows whether the
 * transport holds the producer paused. */
static void proxy_pause(weft_producer *p)
{
    weft_http_request *req = WEFT_CONTAINER_OF(p, weft_http_request, proxy);
    req->tpaused = true;
    if (req->producer && req->producer->ops->pause)
        req->producer->ops->pause(req->producer);
}

static void proxy_resume(weft_producer *p)
{
    weft_http_request *req = WEFT_CONTAINER_OF(p, weft_http_request, proxy);
    req->tpaused = false;
    if (req->producer && req->producer->ops->resume)
        req->producer->ops->resume(req->producer);
}

static void proxy_stop(weft_producer *p)
{
    weft_http_request *req = WEFT_CONTAINER_OF(p, weft_http_request, proxy);
    weft_producer *prod = req->producer;
    req->prod_registered = false;
    req->producer = NULL;
    if (prod && prod->ops->stop)
        prod->ops->stop(prod);
}

static const weft_producer_ops proxy_ops = {proxy_pause, proxy_resume, proxy_stop};

/* The request's turn: its producer may run (the last thing done, as it may
 * finish the response and more inside). */
static void start_producer(weft_http_request *req)
{
    weft_producer *p = req->producer;
    req->tpaused = false;
    if (weft_transport_register_producer(req->conn->t, &req->proxy, req->streaming) < 0)
        return;
    req->prod_registered = true;
    if (req->streaming && req->prod_paused && !req->tpaused) {
        req->prod_paused = false;
        if (p->ops->resume)
            p->ops->resume(p);
    }
}

int weft_http_reply_register_producer(weft_http_request *req, weft_producer *p, bool streaming)
{
    if (req->producer)
        return WEFT_EBUSY;
    if (!req->conn || !req->conn->t)
        return -ENOTCONN;
    req->producer = p;
    req->streaming = streaming;
    req->proxy.ops = &proxy_ops;
    if (req->active) {
        req->prod_paused = streaming;
        start_producer(req);
    } else if (streaming) {
        req->prod_paused = true;
        if (p->ops->pause)
            p->ops->pause(p);
    }
    return 0;
}

void weft_http_reply_unregister_producer(weft_http_request *req)
{
    if (req->prod_registered && req->conn && req->conn->t)
        weft_transport_unregister_producer(req->conn->t);
    req->prod_registered = false;
    req->producer = NULL;
}

bool weft__http_response_activate(weft_http_request *req)
{
    weft__http_conn *c = req->conn;
    /* a failed write closes the connection: every request then hears of it */
    if (req->out.len && c->t)
        (void)weft_transport_write(c->t, req->out.data, req->out.len);
    weft__http_buf_clear(&req->out);
    if (req->resp_done) {
        finalize(req);
        return true;
    }
    if (req->producer && c->t)
        start_producer(req);
    return false;
}

void weft__http_response_lost(weft_http_request *req, const weft_failure *why)
{
    req->busy++;
    weft_producer *p = req->producer;
    req->producer = NULL;
    if (p && !req->prod_registered && p->ops->stop)
        p->ops->stop(p); /* (the transport stops the one it holds) */
    req->prod_registered = false;
    weft__http_buf_clear(&req->out);
    weft_deferred **notify = req->notify;
    size_t n = req->nnotify;
    req->notify = NULL;
    req->nnotify = 0;
    for (size_t i = 0; i < n; i++) {
        weft_deferred_errback(notify[i], weft_failure_new(weft_failure_code(why) == WEFT_EOF ? -ENOTCONN
                                                                                            : weft_failure_code(why),
                                                          "the connection was lost before the response was sent"));
        weft_deferred_unref(notify[i]);
    }
    weft_free(notify);
    req->busy--;
}

/* ---- the response as a drain ---- */

static void dprod_pause(weft_producer *p)
{
    weft_http_request *req = WEFT_CONTAINER_OF(p, weft_http_request, drain_producer);
    if (req->drain.fount)
        weft_fount_pause(req->drain.fount);
}

static void dprod_resume(weft_producer *p)
{
    weft_http_request *req = WEFT_CONTAINER_OF(p, weft_http_request, drain_producer);
    if (req->drain.fount)
        weft_fount_resume(req->drain.fount);
}

static void dprod_stop(weft_producer *p)
{
    weft_http_request *req = WEFT_CONTAINER_OF(p, weft_http_request, drain_producer);
    weft_fount *f = req->drain.fount;
    if (f) {
        weft_flow_to(f, NULL);
        weft_fount_stop(f);
    }
    /* Nothing more will flow: the drain finishes the request for the
     * handler that joined a fount to it (http_server.h). */
    if (!req->handler_done)
        weft_http_reply_finish(req);
}

static const weft_producer_ops dprod_ops = {dprod_pause, dprod_resume, dprod_stop};

static void drain_flowing_from(weft_drain *d, weft_fount *f)
{
    weft_http_request *req = WEFT_CONTAINER_OF(d, weft_http_request, drain);
    if (f) {
        /* (a response fed by a producer already takes no fount's pauses) */
        if (!req->producer && req->conn && req->conn->t) {
            req->drain_producer.ops = &dprod_ops;
            (void)weft_http_reply_register_producer(req, &req->drain_producer, true);
        }
    } else if (req->producer == &req->drain_producer) {
        weft_http_reply_unregister_producer(req);
    }
}

static void drain_receive(weft_drain *d, const void *data, size_t len)
{
    /* Refused only once the connection is gone or the response over; the
     * fount is stopped then (the producer's stop) or was finished. */
    (void)weft_http_reply_write(WEFT_CONTAINER_OF(d, weft_http_request, drain), data, len);
}

static void drain_flow_stopped(weft_drain *d, const weft_failure *reason)
{
    weft_http_request *req = WEFT_CONTAINER_OF(d, weft_http_request, drain);
    if (req->producer == &req->drain_producer)
        weft_http_reply_unregister_producer(req);
    if (weft_failure_code(reason) == WEFT_EOF)
        weft_http_reply_finish(req);
    else
        weft_http_reply_abort(req);
}

static const weft_drain_ops drain_ops = {drain_flowing_from, drain_receive, drain_flow_stopped};

weft_drain *weft_http_reply_drain(weft_http_request *req)
{
    req->drain.ops = &drain_ops;
    return &req->drain;
}

/* ---- files ----
 * A file waits its turn as a streaming producer; then, with a known length,
 * it goes to the transport whole (weft_transport_send_file: sendfile on
 * sockets, pieces read as the buffer drains elsewhere). A chunked body, or
 * a file the transport refuses, is read in pieces (WEFT__HTTP_FILE_PIECE)
 * by the producer, which the transport pauses above its high-water mark. A run writes at most FILE_RUN pieces and then
 * lets the loop breathe, so a fast client cannot keep the reactor busy with
 * one file.
 */

enum { FILE_RUN = 16 };

static void file_free(weft__http_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    weft_free(f->buf);
    weft_free(f);
}

static void file_end(weft__http_file *f, bool failed)
{
    weft_http_request *req = f->req;
    req->file = NULL;
    weft_http_reply_unregister_producer(req);
    if (f->soon)
        f->dead = true; /* the queued run frees it */
    else
        file_free(f);
    if (failed)
        close_conn(req, false);
    if (req->finish_after_file) {
        req->finish_after_file = false;
        if (failed)
            req->resp_done = true;
        else
            finish_internal(req);
    }
    req->busy--;
    weft__http_request_release(req);
}

static void file_run(weft__http_file *f);

static void file_later(void *arg)
{
    weft__http_file *f = arg;
    f->soon = false;
    if (f->dead)
        file_free(f);
    else if (!f->paused)
        file_run(f);
}

/* The reactor was freed first: by then the request has let go of f. */
static void file_later_dropped(void *arg)
{
    weft__http_file *f = arg;
    f->soon = false;
    if (f->dead)
        file_free(f);
}

/* The request's turn has come and its body has a length: the rest of the
 * file goes to the transport whole (sendfile on sockets), fd with it. A
 * chunked body keeps reading pieces, its framing around each. */
static bool file_hand_over(weft__http_file *f)
{
    weft_http_request *req = f->req;
    if (!req->active || !req->conn || !req->conn->t || req->chunked)
        return false;
    uint64_t len = f->left;
    if (req->has_length && len > req->resp_length - req->resp_sent)
        len = req->resp_length - req->resp_sent;
    if (weft_transport_send_file(req->conn->t, f->fd, f->off, len) < 0)
        return false;
    f->fd = -1;
    req->resp_sent += len;
    f->left = 0;
    return true;
}

static void file_run(weft__http_file *f)
{
    if (f->req->no_body || (!f->paused && !f->soon && file_hand_over(f))) {
        file_end(f, false);
        return;
    }
    for (int i = 0; i < FILE_RUN; i++) {
        if (f->paused || f->soon)
            return;
        size_t want = f->left < WEFT__HTTP_FILE_PIECE ? (size_t)f->left : WEFT__HTTP_FILE_PIECE;
        ssize_t n;
        do
            n = pread(f->fd, f->buf, want, f->off);
        while (n < 0 && errno == EINTR);
        if (n <= 0 || send_body(f->req, f->buf, (size_t)n, false, NULL, NULL) < 0) {
            file_end(f, true);
            return;
        }
        f->off += n;
        f->left -= (uint64_t)n;
        if (f->left == 0) {
            file_end(f, false);
            return;
        }
    }
    if (!f->paused && weft_reactor_call_soon_full(f->req->r, file_later, f, file_later_dropped) == 0)
        f->soon = true;
}

static void file_pause(weft_producer *p)
{
    ((weft__http_file *)p)->paused = true;
}

static void file_resume(weft_producer *p)
{
    weft__http_file *f = (weft__http_file *)p;
    f->paused = false;
    file_run(f);
}

static void file_stop(weft_producer *p)
{
    weft__http_file *f = (weft__http_file *)p;
    weft_http_request *req = f->req;
    req->file = NULL;
    req->producer = NULL;
    if (f->soon)
        f->dead = true;
    else
        file_free(f);
    req->busy--;
    weft__http_request_release(req);
}

static const weft_producer_ops file_ops = {file_pause, file_resume, file_stop};

static int send_small_file(weft_http_request *req, int fd, off_t offset, size_t len)
{
    weft__http_buf *b = &req->conn->small_file;
    weft__http_buf_clear(b);
    int rc = weft__http_buf_room(b, len) ? 0 : WEFT_ENOMEM;
    size_t got = 0;
    while (rc == 0 && got < len) {
        ssize_t n = pread(fd, b->data + got, len - got, offset + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = n < 0 ? -errno : -ENODATA; /* the file shrank below the length announced */
        else
            got += (size_t)n;
    }
    close(fd);
    return rc < 0 ? rc : send_body(req, b->data, got, false, NULL, NULL);
}

int weft_http_reply_send_file(weft_http_request *req, int fd, off_t offset, uint64_t len)
{
    int rc = can_write(req);
    if (rc == 0 && req->producer)
        rc = WEFT_EBUSY;
    if (rc < 0 || len == 0) {
        close(fd);
        return rc;
    }
    if (len <= WEFT__HTTP_SMALL_FILE)
        return send_small_file(req, fd, offset, (size_t)len);
    weft__http_file *f = weft_calloc(1, sizeof *f);
    if (f)
        f->buf = weft_malloc(len < WEFT__HTTP_FILE_PIECE ? (size_t)len : WEFT__HTTP_FILE_PIECE);
    if (!f || !f->buf) {
        weft_free(f);
        close(fd);
        return WEFT_ENOMEM;
    }
    f->base.ops = &file_ops;
    f->req = req;
    f->fd = fd;
    f->off = offset;
    f->left = len;
    /* A response whose turn it is hands its file to the transport inside
     * register_producer below: corked meanwhile, the head leaves with the
     * file's first bytes instead of in a packet of its own, which costs
     * the client a wake-up and a read per response (a third of the
     * throughput of 1 MiB files over loopback). */
    weft_transport *t = req->conn->t;
    bool cork = req->active && weft_transport_set_cork(t, true) == 0;
    /* the head first, so that what follows is body */
    if (!req->headers_sent && (rc = send_body(req, NULL, 0, false, NULL, NULL)) < 0) {
        file_free(f);
    } else {
        req->file = f;
        req->busy++;
        f->paused = true; /* until the producer is started */
        rc = weft_http_reply_register_producer(req, &f->base, true);
    }
    if (cork)
        weft_transport_set_cork(t, false);
    return rc;
}

int weft__http_conn_error_response(weft__http_conn *c, int status, const char *detail, bool head)
{
    weft__http_buf body = {0}, *b = &c->scratch;
    int rc = weft__http_error_body(&body, status, detail);
    if (rc == 0) {
        char num[24], *p = weft__http_fmt_u64(num + sizeof num, body.len);
        head_begin(b, c->server, status, NULL);
        weft__http_buf_appends(b, "Content-Type: text/html; charset=utf-8\r\nContent-Length: ");
        weft__http_buf_append(b, p, (size_t)(num + sizeof num - p));
        weft__http_buf_appends(b, "\r\nConnection: close\r\n\r\n");
        rc = b->failed ? WEFT_ENOMEM : 0;
    }
    if (rc == 0 && c->t) {
        struct iovec iov[2] = {{b->data, b->len}, {body.data, body.len}};
        rc = weft_transport_writev(c->t, iov, head ? 1 : 2);
        if (rc == 0)
            weft__transport_count_response(c->t, status);
    }
    weft__http_buf_free(&body);
    return rc;
}
