/* SPDX-License-Identifier: MIT */
/*
 * One HTTP/1.x connection (twisted.web's HTTPChannel): llhttp parses, and
 * this file does everything around it - the limits and the smuggling checks
 * llhttp leaves to its user, pipelining, pausing, timeouts, closing.
 *
 * Reading stops (the transport paused, the unparsed rest kept in `held`)
 * when a request's body cannot flow (no drain yet, or a paused one), when
 * max_pipelined requests wait for their responses, and for good once a
 * request says the connection ends. One timer per connection, re-armed
 * lazily: moving the deadline is a store; the timer, when it fires early,
 * sleeps again until the deadline.
 */
#include <string.h>
#include <strings.h>

#include "http_int.h"

/* After refusing a request: how long, and how much, the client's further
 * bytes are read and dropped before the close, so that its kernel does not
 * answer them with a reset that destroys the error response unread. */
#define LINGER_TIME 2.0
/* How long an idle keep-alive connection is kept once the server stops:
 * a client's next request may be on its way, and closing under it would
 * lose it (a reload under load would fail requests); one that comes is
 * answered with Connection: close. */
#define QUIESCE_IDLE_TIME 1.0
enum { LINGER_BYTES = 1 << 20 };

static void conn_refuse(weft__http_conn *c, int status, const char *detail, int code);

/* ---- reading ---- */

static void set_reading(weft__http_conn *c, bool on)
{
    if (!c->t || on == !c->reading_paused)
        return;
    c->reading_paused = !on;
    if (on)
        weft_transport_resume_reading(c->t);
    else
        weft_transport_pause_reading(c->t);
}

/* ---- the timer ---- */

static void timer_fired(void *arg);

static void arm(weft__http_conn *c, double secs)
{
    if (weft_call_later(c->server->r, secs, timer_fired, c, &c->timer) == 0)
        c->timer_armed = true;
}

static void set_timer(weft__http_conn *c, int kind)
{
    /* Waiting for nothing from the client, or idle with a response still
     * buffered: what can stall is the client's reading. */
    if (kind == WEFT__HT_NONE || (kind == WEFT__HT_IDLE && c->t && weft_transport_buffered(c->t) > 0))
        kind = WEFT__HT_SEND;
    c->timer_kind = kind;
    if (!c->t)
        return;
    const weft_http_server_options *o = &c->server->opt;
    double idle = c->server->stopping && o->idle_timeout > QUIESCE_IDLE_TIME ? QUIESCE_IDLE_TIME : o->idle_timeout;
    double secs = kind == WEFT__HT_IDLE     ? idle
                  : kind == WEFT__HT_HEADER ? o->header_timeout
                  : kind == WEFT__HT_BODY   ? o->body_timeout
                  : kind == WEFT__HT_SEND   ? o->send_timeout
                                            : LINGER_TIME;
    if (kind == WEFT__HT_SEND)
        c->send_mark = weft_transport_buffered(c->t);
    weft_reactor *r = c->server->r;
    c->deadline = weft_reactor_now(r) + secs;
    if (!c->timer_armed)
        arm(c, secs);
    else if (weft_timer_time(r, c->timer) > c->deadline)
        weft_timer_reset(r, c->timer, secs);
}

static void timer_fired(void *arg)
{
    weft__http_conn *c = arg;
    c->timer_armed = false;
    if (!c->t || c->lost || c->timer_kind == WEFT__HT_NONE)
        return;
    double now = weft_reactor_now(c->server->r);
    if (now + 1e-6 < c->deadline) {
        arm(c, c->deadline - now);
        return;
    }
    switch (c->timer_kind) {
    case WEFT__HT_LINGER:
        c->linger = false;
        weft__http_conn_close(c, false);
        break;
    case WEFT__HT_IDLE:
        weft__http_conn_close(c, false);
        break;
    case WEFT__HT_SEND: {
        /* Bytes waiting, and not one taken (nor added) for a whole period:
         * the client reads nothing. Anything else is progress, or the
         * handler's own time. */
        size_t now_buffered = weft_transport_buffered(c->t);
        if (now_buffered == 0 || now_buffered != c->send_mark) {
            bool idle = weft__list_empty(&c->queue) && !c->cur;
            set_timer(c, idle ? WEFT__HT_IDLE : WEFT__HT_SEND);
            break;
        }
        weft__http_conn_close(c, true);
        break;
    }
    case WEFT__HT_HEADER:
        conn_refuse(c, 408, "The request's headers took too long to arrive.", WEFT_ETIMEDOUT);
        break;
    default:
        conn_refuse(c, 408, "The request's body took too long to arrive.", WEFT_ETIMEDOUT);
        break;
    }
}

/* ---- closing ---- */

void weft__http_conn_quiesce(weft__http_conn *c)
{
    if (c->t && !c->no_more && weft__list_empty(&c->queue) && !c->cur)
        set_timer(c, WEFT__HT_IDLE);
}

void weft__http_conn_close(weft__http_conn *c, bool abort)
{
    c->no_more = true;
    if (!c->t)
        return;
    if (c->linger && !abort) {
        c->linger = false;
        c->lingering = true;
        if (weft_transport_write_eof(c->t) == 0) {
            set_reading(c, true);
            set_timer(c, WEFT__HT_LINGER);
            return;
        }
    }
    set_reading(c, false);
    if (abort)
        weft_transport_abort_connection(c->t);
    else
        weft_transport_lose_connection(c->t);
}

/*
 * The parser lets go of req, the request it was reading (the one path by
 * which that hold ends short of the message's end). A dispatched request's
 * body fount hears why first: its handler may finish the request inside,
 * which must not free it while held here.
 */
static void drop_parsed(weft_http_request *req, int code, const char *why)
{
    req->busy++;
    req->parsing = false;
    if (req->dispatched)
        weft__http_request_fail_body(req, code, why);
    req->busy--;
    weft__http_request_release(req);
}

/*
 * A request the server will not take: answer `status` (0: none) where a
 * response can still be sent, in its turn, and close. A dispatched request
 * hears of it through its body fount (code).
 */
static void conn_refuse(weft__http_conn *c, int status, const char *detail, int code)
{
    if (c->no_more && !c->cur)
        return;
    c->no_more = true;
    c->linger = true;
    set_reading(c, false);
    set_timer(c, WEFT__HT_NONE);
    weft_http_request *req = c->cur;
    c->cur = NULL;
    bool head = req && req->is_head; /* (its method known, once its target started) */
    if (req && req->dispatched) {
        req->keep_alive = false;
        if (status && !req->headers_sent && !req->resp_done) {
            weft__http_buf body = {0};
            /* (still the parser's while answered: completing cannot free it) */
            if (weft__http_error_body(&body, status, detail) == 0)
                weft__http_respond_internal(req, status, "text/html; charset=utf-8", body.data, body.len, true);
            weft__http_buf_free(&body);
        }
        drop_parsed(req, code, detail ? detail : "request refused");
        return;
    }
    if (req)
        drop_parsed(req, code, NULL);
    if (weft__list_empty(&c->queue)) {
        if (status && c->t)
            weft__http_conn_error_response(c, status, detail, head);
        weft__http_conn_close(c, false);
    } else {
        c->final_status = status;
        c->final_detail = detail;
        c->final_head = head;
    }
}

/* ---- feeding the parser ---- */

static void parse_error(weft__http_conn *c, llhttp_errno_t e, const char *data, size_t len, bool at_start)
{
    if (c->no_more) {
        /* a callback refused already, or the connection is closing */
        if (c->cur)
            conn_refuse(c, 0, NULL, WEFT_EHTTP);
        return;
    }
    /* A version llhttp refuses is malformed (the parser takes any DIGIT "."
     * DIGIT, see weft__http_conn_new): 400, like any invalid request-line. */
    int status = 400;
    const char *detail = llhttp_get_error_reason(&c->parser);
    if (e == HPE_INVALID_METHOD && at_start) {
        /* A method llhttp does not know, well formed: not implemented. */
        size_t i = 0;
        while (i < len && ((data[i] >= 'A' && data[i] <= 'Z') || data[i] == '-' || data[i] == '_'))
            i++;
        if (i > 0 && i < len && data[i] == ' ')
            status = 501;
    }
    conn_refuse(c, status, detail, WEFT_EHTTP);
}

static void remember_tail(weft__http_conn *c, const char *data, size_t used)
{
    if (used >= sizeof c->tail) {
        memcpy(c->tail, data + used - sizeof c->tail, sizeof c->tail);
        c->tail_len = sizeof c->tail;
        return;
    }
    size_t keep = c->tail_len + used > sizeof c->tail ? sizeof c->tail - used : c->tail_len;
    memmove(c->tail, c->tail + c->tail_len - keep, keep);
    memcpy(c->tail + keep, data, used);
    c->tail_len = keep + used;
}

static void drop_held(weft__http_conn *c)
{
    weft__http_buf_clear(&c->held);
    c->held_off = 0;
}

static void feed(weft__http_conn *c, const char *data, size_t len, bool from_held)
{
    bool at_start = c->cur == NULL;
    c->in_execute = true;
    c->buf_start = data;
    llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
    c->in_execute = false;
    remember_tail(c, data, e == HPE_OK ? len : (size_t)(llhttp_get_error_pos(&c->parser) - data));
    if (e == HPE_OK) {
        if (from_held)
            drop_held(c);
        return;
    }
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        if (e == HPE_PAUSED_UPGRADE) /* CONNECT: nothing more to parse here */
            c->no_more = true;
        c->parser_paused = true;
        set_reading(c, false);
        if (c->no_more) {
            drop_held(c);
            return;
        }
        size_t used = (size_t)(llhttp_get_error_pos(&c->parser) - data);
        if (from_held) {
            c->held_off += used;
        } else {
            weft__http_buf_append(&c->held, data + used, len - used);
            if (c->held.failed) {
                conn_refuse(c, 503, "Out of memory.", WEFT_ENOMEM);
                return;
            }
        }
        if (c->held_off == c->held.len)
            drop_held(c);
        return;
    }
    parse_error(c, e, data, len, at_start);
}

static bool parse_blocked(const weft__http_conn *c)
{
    if (c->no_more)
        return true;
    if (c->cur)
        return c->cur->dispatched && weft__http_body_blocked(c->cur);
    return c->queued >= c->server->opt.max_pipelined;
}

static void conn_free(weft__http_conn *c)
{
    weft_http_server *s = c->server;
    weft__list_remove(&c->link); /* (a connection that never started) */
    weft__http_buf_free(&c->field);
    weft__http_buf_free(&c->value);
    weft__http_buf_free(&c->held);
    weft__http_buf_free(&c->scratch);
    weft__http_buf_free(&c->small_file);
    weft_free(c);
    weft__http_server_unref(s);
}

static void conn_resume(void *arg)
{
    weft__http_conn *c = arg;
    c->resume_posted = false;
    if (c->dead) {
        conn_free(c);
        return;
    }
    if (c->lost || !c->t || c->no_more)
        return;
    if (c->cur)
        weft__http_request_flush_body(c->cur);
    if (c->lost || !c->t || parse_blocked(c))
        return;
    if (c->parser_paused) {
        c->parser_paused = false;
        llhttp_resume(&c->parser);
        if (c->cur && c->cur->dispatched)
            set_timer(c, WEFT__HT_BODY);
        /* Fed even when nothing is held: llhttp may owe a callback that
         * needs no input (the message's end after its last body byte). */
        if (c->held.len > c->held_off)
            feed(c, c->held.data + c->held_off, c->held.len - c->held_off, true);
        else
            feed(c, "", 0, true);
        if (c->parser_paused || c->no_more || !c->t)
            return;
    }
    set_reading(c, true);
}

static void schedule_resume(weft__http_conn *c)
{
    if (c->resume_posted || c->lost || c->dead)
        return;
    c->resume_posted = true;
    weft__reactor_post(c->server->r, &c->resume_post, conn_resume, c);
}

/* ---- the request body: a fount whose pauses are the connection's reading ---- */

static bool parsing_this(const weft_http_request *req)
{
    return req->conn && req->conn->cur == req;
}

static void body_pause(weft_fount *f)
{
    weft_http_request *req = WEFT_CONTAINER_OF(f, weft_http_request, body);
    if (parsing_this(req)) {
        set_reading(req->conn, false);
        set_timer(req->conn, WEFT__HT_NONE);
    }
}

static void body_resume(weft_fount *f)
{
    weft_http_request *req = WEFT_CONTAINER_OF(f, weft_http_request, body);
    if (parsing_this(req))
        schedule_resume(req->conn);
}

static void body_stop(weft_fount *f)
{
    weft_http_request *req = WEFT_CONTAINER_OF(f, weft_http_request, body);
    req->body_discard = true;
    weft__http_buf_clear(&req->held_body);
    if (parsing_this(req))
        schedule_resume(req->conn);
}

/* A drain joined: a client that expects 100 Continue is told to send the
 * body (RFC 9110 10.1.1), and reading resumes. */
static void body_flowing_to(weft_fount *f, weft_drain *d)
{
    weft_http_request *req = WEFT_CONTAINER_OF(f, weft_http_request, body);
    if (!d || !parsing_this(req))
        return;
    if (req->expect_continue && !req->continue_sent && !req->headers_sent) {
        req->continue_sent = true;
        if (weft__http_write_100(req) < 0 && req->conn)
            weft__http_conn_close(req->conn, true);
    }
    schedule_resume(req->conn);
}

static const weft_fount_ops body_ops = {
    .pause = body_pause, .resume = body_resume, .stop = body_stop, .flowing_to = body_flowing_to};

/* ---- the parser's callbacks ---- */

static int on_message_begin(llhttp_t *p)
{
    weft__http_conn *c = p->data;
    weft_http_request *req = c->spare;
    c->spare = NULL;
    if (!req && !(req = weft__http_request_new(c))) {
        conn_refuse(c, 503, "Out of memory.", WEFT_ENOMEM);
        return -1;
    }
    c->cur = req;
    req->parsing = true;
    req->body.ops = &body_ops;
    c->header_bytes = 0;
    c->nheaders = 0;
    weft__http_buf_clear(&c->field);
    weft__http_buf_clear(&c->value);
    set_timer(c, WEFT__HT_HEADER);
    return 0;
}

static int count_header_bytes(weft__http_conn *c, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes > c->server->opt.max_header_bytes) {
        conn_refuse(c, 431, "The request's headers are too large.", WEFT_EHTTP);
        return HPE_USER;
    }
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    weft__http_conn *c = p->data;
    weft_http_request *req = c->cur;
    req->is_head = p->method == HTTP_HEAD; /* the method is known once the target starts */
    if (req->str.len + len > c->server->opt.max_uri) {
        conn_refuse(c, 414, "The request's target is too long.", WEFT_EHTTP);
        return HPE_USER;
    }
    if (count_header_bytes(c, len))
        return HPE_USER;
    weft__http_buf_append(&req->str, at, len);
    if (req->str.failed) {
        conn_refuse(c, 503, "Out of memory.", WEFT_ENOMEM);
        return HPE_USER;
    }
    return 0;
}

static int on_url_complete(llhttp_t *p)
{
    weft__http_conn *c = p->data;
    weft__http_buf_append(&c->cur->str, "", 1);
    if (c->cur->str.failed) {
        conn_refuse(c, 503, "Out of memory.", WEFT_ENOMEM);
        return -1;
    }
    return 0;
}

static int on_version(llhttp_t *p, const char *at, size_t len)
{
    (void)at;
    return count_header_bytes(p->data, len + 12);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    weft__http_conn *c = p->data;
    if (count_header_bytes(c, len))
        return HPE_USER;
    weft__http_buf_append(&c->field, at, len);
    if (c->field.failed) {
        conn_refuse(c, 503, "Out of memory.", WEFT_ENOMEM);
        return HPE_USER;
    }
    return 0;
}

/* Whether the header value starting at `at` continues a line: llhttp
 * accepts obs-fold (RFC 9112 5.2), which weft refuses like nginx does. The
 * bytes before a value are ':' and spaces; before a fold, a line end and
 * spaces. */
static bool folded(const weft__http_conn *c, const char *at)
{
    size_t in_buf = (size_t)(at - c->buf_start);
    for (size_t k = 1; k <= in_buf + c->tail_len; k++) {
        char ch = k <= in_buf ? at[-(ptrdiff_t)k] : c->tail[c->tail_len - (k - in_buf)];
        if (ch != ' ' && ch != '\t')
            return ch == '\n';
    }
    return false;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    weft__http_conn *c = p->data;
    if (count_header_bytes(c, len))
        return HPE_USER;
    /* An empty value (RFC 9110 5.5 allows one) comes as an empty span at
     * the next line's start: no fold, nothing to keep. */
    if (len == 0)
        return 0;
    if (folded(c, at)) {
        conn_refuse(c, 400, "Folded header lines (obs-fold) are not accepted.", WEFT_EHTTP);
        return HPE_USER;
    }
    weft__http_buf_append(&c->value, at, len);
    if (c->value.failed) {
        conn_refuse(c, 503, "Out of memory.", WEFT_ENOMEM);
        return HPE_USER;
    }
    return 0;
}

static bool name_is(const weft__http_buf *b, const char *name)
{
    size_t n = strlen(name);
    return b->len == n && strncasecmp(b->data, name, n) == 0;
}

/* Transfer-Encoding: weft knows one coding, chunked, and it must come last
 * and once (RFC 9112 6.1); anything else is refused before llhttp frames
 * the body by it. */
static void check_transfer_encoding(weft_http_request *req, const char *v, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',' && v[i] != ';')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (i < len && v[i] == ';') /* coding parameters */
            while (i < len && v[i] != ',')
                i++;
        if (end == start)
            continue;
        bool chunked = end - start == 7 && strncasecmp(v + start, "chunked", 7) == 0;
        if (req->te_chunked) /* something after chunked */
            req->te_bad = true;
        if (chunked)
            req->te_chunked = true;
        else
            req->te_unknown = true;
    }
}

/* RFC 3986 3.2.2's characters of a reg-name besides pct-encoded ones
 * (unreserved, sub-delims), and, inside an IP-literal's brackets, ':'. */
static bool host_char(unsigned char ch, bool literal)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return strchr(literal ? "-._~!$&'()*+,;=:" : "-._~!$&'()*+,;=", ch) != NULL && ch != '\0';
}

static bool hex_digit(char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

/* Host = uri-host [ ":" port ] (RFC 9112 3.2, RFC 3986 3.2.2 and 3.2.3):
 * no userinfo, no path, no list. Empty is valid (an empty authority). */
static bool host_ok(const char *h, size_t len)
{
    size_t i = 0;
    if (len && h[0] == '[') {
        for (i = 1; i < len && h[i] != ']'; i++)
            if (!host_char((unsigned char)h[i], true))
                return false;
        if (i++ == len)
            return false;
    } else {
        while (i < len && h[i] != ':') {
            if (h[i] == '%' && i + 2 < len && hex_digit(h[i + 1]) && hex_digit(h[i + 2]))
                i += 3;
            else if (host_char((unsigned char)h[i++], false))
                continue;
            else
                return false;
        }
    }
    if (i == len)
        return true;
    if (h[i++] != ':')
        return false;
    for (; i < len; i++)
        if (h[i] < '0' || h[i] > '9')
            return false;
    return true;
}

static int on_header_value_complete(llhttp_t *p)
{
    weft__http_conn *c = p->data;
    weft_http_request *req = c->cur;
    c->header_bytes += 4;
    /* field-line = field-name ":" OWS field-value OWS (RFC 9112 5): llhttp
     * leaves the trailing OWS in the value. */
    while (c->value.len && (c->value.data[c->value.len - 1] == ' ' || c->value.data[c->value.len - 1] == '\t'))
        c->value.len--;
    if (++c->nheaders > c->server->opt.max_headers) {
        conn_refuse(c, 431, "The request has too many headers.", WEFT_EHTTP);
        return -1;
    }
    if (req->dispatched) { /* a trailer: counted, not kept */
        weft__http_buf_clear(&c->field);
        weft__http_buf_clear(&c->value);
        return 0;
    }
    /* The headers weft itself looks at, noted as they pass. */
    if (name_is(&c->field, "host")) {
        if (req->host_count++ == 0)
            req->host_idx = (long)weft_http_headers_count(req->headers);
        if (!host_ok(c->value.data, c->value.len)) {
            conn_refuse(c, 400, "The Host header is not a host and port.", WEFT_EHTTP);
            return -1;
        }
    } else if (name_is(&c->field, "content-length")) {
        req->cl_count++;
    } else if (name_is(&c->field, "transfer-encoding")) {
        req->te_count++;
        check_transfer_encoding(req, c->value.data, c->value.len);
    } else if (name_is(&c->field, "expect") && req->expect_idx < 0) {
        req->expect_idx = (long)weft_http_headers_count(req->headers);
    }
    int rc = weft_http_headers_addn(req->headers, c->field.data ? c->field.data : "", c->field.len,
                                    c->value.data ? c->value.data : "", c->value.len);
    weft__http_buf_clear(&c->field);
    weft__http_buf_clear(&c->value);
    if (rc < 0) {
        conn_refuse(c, rc == WEFT_ENOMEM ? 503 : 400, "A header is malformed.", WEFT_EHTTP);
        return -1;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    weft__http_conn *c = p->data;
    weft_http_request *req = c->cur;
    const char *bad = NULL;
    int status = 400;
    /* A higher minor version is read as the highest weft speaks: "A
     * recipient that receives a message with a major version number that it
     * implements and a minor version number higher than what it implements
     * SHOULD process the message as if it were in the highest minor version
     * within that major version to which the recipient is conformant" (RFC
     * 9110 2.5). Another major version is well formed but not HTTP/1: 505
     * (RFC 9110 15.6.6). */
    req->version = p->http_minor == 0 ? 10 : 11;
    if (p->http_major != 1) {
        status = 505;
        bad = "HTTP version not supported.";
    } else if ((p->flags & F_CONTENT_LENGTH) && p->content_length > INT64_MAX) {
        bad = "The Content-Length is too large.";
    } else if (req->cl_count > 1) {
        bad = "More than one Content-Length.";
    } else if (req->te_count && req->cl_count) {
        bad = "Both Content-Length and Transfer-Encoding.";
    } else if (req->te_count && req->version == 10) {
        bad = "Transfer-Encoding in an HTTP/1.0 request.";
    } else if (req->te_count && (req->te_bad || !req->te_chunked)) {
        bad = "The last transfer coding must be chunked, once.";
    } else if (req->te_unknown) {
        status = 501;
        bad = "Unknown transfer coding.";
    } else if (req->host_count > 1 || (req->version == 11 && req->host_count == 0)) {
        bad = "An HTTP/1.1 request needs one Host header.";
    }
    if (bad) {
        conn_refuse(c, status, bad, WEFT_EHTTP);
        return -1;
    }
    req->parser_method = p->method;
    bool connect = p->method == HTTP_CONNECT;
    if (!connect)
        p->upgrade = 0; /* weft answers Upgrade requests as plain HTTP */
    if (req->te_chunked)
        req->content_length = -1;
    else if (p->flags & F_CONTENT_LENGTH)
        req->content_length = (int64_t)p->content_length;
    if (weft__http_request_parse_target(req, connect) < 0) {
        conn_refuse(c, 400, "The request's target is malformed.", WEFT_EHTTP);
        return -1;
    }
    req->keep_alive = llhttp_should_keep_alive(p) && !connect;
    if (req->version == 11) {
        const char *name, *expect = NULL;
        if (req->expect_idx >= 0)
            weft_http_headers_at(req->headers, (size_t)req->expect_idx, &name, &expect);
        if (expect) {
            if (strcasecmp(expect, "100-continue") != 0) {
                conn_refuse(c, 417, "Unknown expectation.", WEFT_EHTTP);
                return -1;
            }
            req->expect_continue = req->content_length != 0;
        }
    }
    req->dispatched = true;
    req->handler_done = false;
    req->in_queue = true;
    req->active = weft__list_empty(&c->queue);
    weft__list_push_back(&c->queue, &req->link);
    c->queued++;
    set_timer(c, req->content_length ? WEFT__HT_BODY : WEFT__HT_NONE);
    weft__http_dispatch(req);
    if (!c->t || weft_transport_disconnecting(c->t)) {
        c->no_more = true;
        return -1;
    }
    /* checked once the handler has had its say (set_max_body) */
    if (req->content_length > 0 && (uint64_t)req->content_length > req->max_body) {
        conn_refuse(c, 413, "The request's body is too large.", -EMSGSIZE);
        return -1;
    }
    return 0;
}

/* A chunk past the body's limit is refused at its size line, before its
 * bytes are read. */
static int on_chunk_header(llhttp_t *p)
{
    weft__http_conn *c = p->data;
    weft_http_request *req = c->cur;
    if (req && p->content_length > req->max_body - req->body_received) {
        conn_refuse(c, 413, "The request's body is too large.", -EMSGSIZE);
        return HPE_USER;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    weft__http_conn *c = p->data;
    weft_http_request *req = c->cur;
    if (len == 0) /* llhttp flushing an open span over no input */
        return 0;
    req->body_received += len;
    if (req->body_received > req->max_body) {
        conn_refuse(c, 413, "The request's body is too large.", -EMSGSIZE);
        return HPE_USER;
    }
    set_timer(c, WEFT__HT_BODY);
    if (req->body_discard || req->body.ended)
        return 0;
    if (!req->body.drain || req->body.pauses) {
        weft__http_buf_append(&req->held_body, at, len);
        if (req->held_body.failed) {
            conn_refuse(c, 503, "Out of memory.", WEFT_ENOMEM);
            return HPE_USER;
        }
        set_timer(c, WEFT__HT_NONE);
        return HPE_PAUSED;
    }
    weft_fount_emit(&req->body, at, len);
    if (c->no_more || !c->t)
        return HPE_USER;
    if (weft__http_body_blocked(req)) {
        set_timer(c, WEFT__HT_NONE);
        return HPE_PAUSED;
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    weft__http_conn *c = p->data;
    weft_http_request *req = c->cur;
    if (!req)
        return 0;
    /* Ended while still ours: a handler finishing inside must not free it. */
    if (!req->body.ended)
        weft_fount_end(&req->body, c->server->eof);
    c->cur = NULL;
    req->parsing = false;
    bool keep_alive = req->keep_alive && !c->server->stopping;
    weft__http_request_release(req);
    if (!keep_alive || !c->t || weft_transport_disconnecting(c->t)) {
        c->no_more = true;
        set_timer(c, WEFT__HT_NONE);
        return HPE_PAUSED;
    }
    if (c->queued >= c->server->opt.max_pipelined) {
        set_timer(c, WEFT__HT_NONE);
        return HPE_PAUSED;
    }
    set_timer(c, c->queued ? WEFT__HT_NONE : WEFT__HT_IDLE);
    return 0;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_version = on_version,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_chunk_header = on_chunk_header,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- responses going out ---- */

/* req's response is out whole: the next in the queue may write. */
static void response_done(weft__http_conn *c, weft_http_request *req)
{
    while (req) {
        weft__list_remove(&req->link);
        req->in_queue = false;
        req->active = false;
        c->queued--;
        /* (quiesced: after the last response owed, which may have said
         * keep-alive before the server was told to stop) */
        bool last = weft__list_empty(&c->queue) && !c->final_status;
        bool keep_alive = req->keep_alive && !(c->server->stopping && last);
        if (req->parsing) {
            /* The handler is done with a body it did not read: drop it. */
            req->body_discard = true;
            weft__http_buf_clear(&req->held_body);
        }
        weft__http_request_release(req);
        req = NULL;
        if (!keep_alive || !c->t) {
            weft__http_conn_close(c, false);
            return;
        }
        if (!weft__list_empty(&c->queue)) {
            weft_http_request *next = WEFT_CONTAINER_OF(c->queue.next, weft_http_request, link);
            next->active = true;
            if (weft__http_response_activate(next))
                req = next;
        }
    }
    if (!weft__list_empty(&c->queue)) {
        schedule_resume(c);
        return;
    }
    if (c->no_more) {
        if (c->final_status && c->t)
            weft__http_conn_error_response(c, c->final_status, c->final_detail, c->final_head);
        c->final_status = 0;
        if (!c->cur)
            weft__http_conn_close(c, false);
        return;
    }
    if (!c->cur)
        set_timer(c, WEFT__HT_IDLE);
    if (c->parser_paused)
        schedule_resume(c);
}

/* What the requests' side tells the connection (http_int.h). */
static const weft__http_conn_ops conn_events = {.response_done = response_done, .close = weft__http_conn_close};

/* ---- the protocol ---- */

static void conn_made(weft_protocol *p)
{
    weft__http_conn *c = (weft__http_conn *)p;
    c->t = p->transport;
    set_timer(c, WEFT__HT_IDLE);
}

static void conn_received(weft_protocol *p, const void *data, size_t len)
{
    weft__http_conn *c = (weft__http_conn *)p;
    if (c->lingering) {
        c->lingered += len;
        if (c->lingered > LINGER_BYTES)
            weft_transport_lose_connection(c->t);
        return;
    }
    if (c->no_more)
        return;
    if (c->parser_paused || c->held.len > c->held_off) {
        /* Delivered while pausing took effect: parsed when resumed. */
        weft__http_buf_append(&c->held, data, len);
        if (c->held.failed)
            conn_refuse(c, 503, "Out of memory.", WEFT_ENOMEM);
        return;
    }
    feed(c, data, len, false);
}

static bool conn_eof(weft_protocol *p)
{
    weft__http_conn *c = (weft__http_conn *)p;
    if (c->lingering)
        return false;
    bool busy = !weft__list_empty(&c->queue);
    /* Half-closed: answer what was asked, then close. */
    if (c->cur)
        conn_refuse(c, 0, NULL, WEFT_EHTTP);
    c->no_more = true;
    return busy;
}

static void conn_lost(weft_protocol *p, const weft_failure *why)
{
    weft__http_conn *c = (weft__http_conn *)p;
    c->lost = true;
    c->no_more = true;
    if (c->timer_armed)
        weft_timer_cancel(c->server->r, c->timer);
    c->timer_armed = false;
    weft_http_request *cur = c->cur;
    c->cur = NULL;
    if (cur)
        drop_parsed(cur, weft_failure_code(why), "the connection was lost");
    while (!weft__list_empty(&c->queue)) {
        weft_http_request *req = WEFT_CONTAINER_OF(c->queue.next, weft_http_request, link);
        weft__list_remove(&req->link);
        req->in_queue = false;
        req->active = false;
        c->queued--;
        weft__http_request_detach(req, why);
        weft__http_response_lost(req, why);
        weft__http_request_release(req);
    }
    c->t = NULL;
    weft__list_remove(&c->link);
}

static void conn_destroy(weft_protocol *p)
{
    weft__http_conn *c = (weft__http_conn *)p;
    if (c->spare)
        weft__http_request_free(c->spare);
    c->spare = NULL;
    if (c->resume_posted) {
        c->dead = true; /* the posted resume frees it */
        return;
    }
    conn_free(c);
}

static const weft_protocol_ops conn_ops = {
    .connection_made = conn_made,
    .data_received = conn_received,
    .eof_received = conn_eof,
    .connection_lost = conn_lost,
    .destroy = conn_destroy,
};

weft_protocol *weft__http_conn_new(weft_http_server *s)
{
    weft__http_conn *c = weft_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base.ops = &conn_ops;
    c->ops = &conn_events;
    c->server = s;
    s->refs++;
    weft__list_init(&c->queue);
    weft__list_push_back(&s->conns, &c->link);
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    /* Any DIGIT "." DIGIT reaches on_headers_complete, which tells a version
     * weft does not speak (505) from the rest; what llhttp still refuses is
     * malformed (400). */
    c->parser.lenient_flags |= LENIENT_VERSION; /* (llhttp 8.1 has the flag, not its setter) */
    c->parser.data = c;
    return &c->base;
}
