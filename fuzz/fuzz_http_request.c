/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server fed any bytes over a string transport, in two pieces.
 *
 * Input: byte 0 says where to split the rest; byte 1 picks options (small
 * limits, a slow peer that reads nothing until the end, a pipeline bound
 * of 1); the rest is what the client sends. The handlers read bodies
 * (whole, or as a fount), stream responses and answer at once, so every
 * path through the connection runs. Then the clock jumps past every
 * timeout and everything is freed: no crash, no leak, no hang.
 *
 * Two oracles beyond that:
 * - A request accepted (its body read whole) is written out again -
 *   request line, headers, the body with a Content-Length - and fed to a
 *   fresh server, which must read back the same method, target, version,
 *   headers and body.
 * - What the server wrote is read back as responses (strict llhttp, HEAD's
 *   without bodies): well formed, in order, and nothing after one that says
 *   the connection closes - a refused request ends the connection, and
 *   nothing sent after it is answered.
 */
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/deferred.h"
#include "weft/http_resource.h"
#include "weft/reactor.h"
#include "weft/testing.h"
#include "weft/transport.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

enum { MAX_SEEN = 64 };

/* A request as a handler saw it. */
typedef struct seen {
    char *method, *target;
    int version;
    weft_http_headers *headers;
    char *body;
    size_t body_len;
    bool whole; /* the body was read whole */
} seen;

/* What one run recorded: the requests its handlers saw, and whether each
 * response, in order, was to HEAD (from the access log: every dispatched
 * request, whoever answered it). */
typedef struct run {
    seen v[MAX_SEEN];
    size_t n;
    bool head[MAX_SEEN];
    size_t nlogged;
    bool overflow;
} run;

static void logged(void *arg, const weft_log_event *ev)
{
    run *rn = arg;
    for (size_t i = 0; i < ev->nfields; i++) {
        if (strcmp(ev->fields[i].key, "request") != 0)
            continue;
        if (rn->nlogged == MAX_SEEN) {
            rn->overflow = true;
            return;
        }
        rn->head[rn->nlogged++] = strncmp(ev->fields[i].v.s, "HEAD ", 5) == 0;
    }
}

static char *dup_bytes(const void *p, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        abort();
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* Notes req in the run; returns its record, or NULL past MAX_SEEN. */
static seen *note(run *rn, weft_http_request *req)
{
    if (rn->n == MAX_SEEN) {
        rn->overflow = true;
        return NULL;
    }
    seen *s = &rn->v[rn->n++];
    const char *m = weft_http_request_method(req), *t = weft_http_request_target(req);
    s->method = dup_bytes(m, strlen(m));
    s->target = dup_bytes(t, strlen(t));
    s->version = weft_http_request_version(req);
    s->headers = weft_http_headers_copy(weft_http_request_headers(req));
    if (!s->headers)
        abort();
    return s;
}

static void run_free(run *rn)
{
    for (size_t i = 0; i < rn->n; i++) {
        free(rn->v[i].method);
        free(rn->v[i].target);
        free(rn->v[i].body);
        weft_http_headers_free(rn->v[i].headers);
    }
    memset(rn, 0, sizeof *rn);
}

typedef struct reading {
    weft_http_request *req;
    seen *s;
} reading;

static weft_result answer_body(void *arg, weft_result res)
{
    reading *rd = arg;
    weft_http_request *req = rd->req;
    if (weft_failed(res)) {
        weft_http_reply_error(req, 400, "bad body");
    } else {
        weft_bytes *b = res.value;
        if (rd->s) {
            rd->s->body = dup_bytes(b->data, b->len);
            rd->s->body_len = b->len;
            rd->s->whole = true;
        }
        char text[32];
        int n = snprintf(text, sizeof text, "%zu bytes", b->len);
        weft_http_reply(req, 200, "text/plain", text, (size_t)n);
    }
    free(rd);
    weft_result_free(res);
    return weft_none();
}

static void read_all(void *arg, weft_http_request *req)
{
    reading *rd = malloc(sizeof *rd);
    if (!rd)
        abort();
    *rd = (reading){req, note(arg, req)};
    weft_deferred *d = weft_http_request_read_body(req);
    if (!d) {
        free(rd);
        weft_http_reply_error(req, 503, NULL);
        return;
    }
    if (weft_deferred_add_both(d, answer_body, rd) < 0)
        abort();
    weft_deferred_unref(d);
}

static void stream(void *arg, weft_http_request *req)
{
    note(arg, req);
    weft_http_reply_write(req, "part one,", 9);
    weft_http_reply_write(req, weft_http_request_path(req), strlen(weft_http_request_path(req)));
    weft_http_reply_finish(req);
}

/* The body, as a fount, straight into the response. */
static void echo(void *arg, weft_http_request *req)
{
    note(arg, req);
    weft_flow_to(weft_http_request_body(req), weft_http_reply_drain(req));
}

/* Runs a server over `data` (split at `split`) and leaves what it wrote in
 * *out (malloc'd) and what its handlers saw in rn. */
static void serve(const unsigned char *data, size_t size, size_t split, unsigned flags, run *rn, char **out,
                  size_t *out_len)
{
    weft_reactor *r;
    if (weft_clock_new(&r) < 0)
        abort();
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_text_observer, stderr);
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource *s = weft_http_resource_new(), *e = weft_http_resource_new();
    if (!root || !s || !e)
        abort();
    /* The root takes every path its children do not: most requests are
     * read whole, and so checked. */
    weft_http_resource_on(root, "*", read_all, rn);
    weft_http_resource_set_leaf(root, true);
    weft_http_resource_on(s, "GET", stream, rn);
    weft_http_resource_on(e, "*", echo, rn);
    weft_http_resource_set_leaf(e, true);
    weft_http_resource_put_child(root, "stream", s);
    weft_http_resource_put_child(root, "echo", e);
    weft_logger *access = weft_logger_new();
    if (!access)
        abort();
    weft_logger_remove_observer(access, weft_log_text_observer, stderr);
    if (weft_logger_add_observer(access, logged, rn, WEFT_LOG_INFO, NULL) < 0)
        abort();
    weft_http_server_options o = {.access_log = access};
    if (flags & 1) {
        o.max_header_bytes = 200;
        o.max_headers = 4;
        o.max_uri = 32;
        o.max_body = 16;
    }
    if (flags & 4)
        o.max_pipelined = 1;
    weft_http_server *srv = weft_http_server_new(r, root, &o);
    if (!srv)
        abort();
    weft_factory *f = weft_http_server_factory(srv);
    weft_string_transport *st;
    if (weft_string_transport_new(r, f->ops->build(f, NULL), NULL, NULL, &st) < 0)
        abort();
    if (flags & 2)
        weft_string_transport_set_blocked(st, true);

    weft_string_transport_receive(st, data, split);
    weft_reactor_iterate(r, 0);
    weft_string_transport_receive(st, data + split, size - split);
    for (int i = 0; i < 4; i++)
        weft_reactor_iterate(r, 0);
    weft_string_transport_set_blocked(st, false);
    weft_reactor_iterate(r, 0);
    weft_string_transport_receive_eof(st);
    weft_clock_advance(r, 1000);
    for (int i = 0; i < 4; i++)
        weft_reactor_iterate(r, 0);
    const char *v = weft_string_transport_value(st, out_len);
    *out = dup_bytes(v, *out_len);

    weft_string_transport_free(st);
    weft_reactor_iterate(r, 0);
    weft_http_server_free(srv);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
    weft_logger_free(access);
}

/* ---- oracle 1: an accepted request, written again, reads back the same ---- */

static bool framing(const char *name)
{
    return strcasecmp(name, "content-length") == 0 || strcasecmp(name, "transfer-encoding") == 0;
}

static void append(char **buf, size_t *len, const void *p, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    if (!*buf)
        abort();
    memcpy(*buf + *len, p, n);
    *len += n;
}

static void appends(char **buf, size_t *len, const char *s)
{
    append(buf, len, s, strlen(s));
}

static void same_headers(const seen *a, const seen *b)
{
    size_t j = 0, nb = weft_http_headers_count(b->headers);
    for (size_t i = 0, na = weft_http_headers_count(a->headers); i < na; i++) {
        const char *an, *av, *bn, *bv;
        weft_http_headers_at(a->headers, i, &an, &av);
        if (framing(an))
            continue;
        if (j == nb)
            abort(); /* a header lost */
        weft_http_headers_at(b->headers, j++, &bn, &bv);
        if (strcmp(an, bn) != 0 || strcmp(av, bv) != 0)
            abort(); /* a header changed */
    }
    /* then only the Content-Length written here */
    const char *bn, *bv;
    if (j + 1 != nb)
        abort();
    weft_http_headers_at(b->headers, j, &bn, &bv);
    if (strcmp(bn, "Content-Length") != 0)
        abort();
}

static void check_round_trip(const seen *a)
{
    if (!a->whole || strcmp(a->method, "CONNECT") == 0)
        return;
    char *req = NULL;
    size_t len = 0;
    appends(&req, &len, a->method);
    appends(&req, &len, " ");
    appends(&req, &len, a->target);
    appends(&req, &len, a->version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    for (size_t i = 0, n = weft_http_headers_count(a->headers); i < n; i++) {
        const char *name, *value;
        weft_http_headers_at(a->headers, i, &name, &value);
        if (framing(name))
            continue;
        appends(&req, &len, name);
        appends(&req, &len, ": ");
        appends(&req, &len, value);
        appends(&req, &len, "\r\n");
    }
    char cl[48];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n\r\n", a->body_len);
    appends(&req, &len, cl);
    append(&req, &len, a->body, a->body_len);
    run again = {0};
    char *out;
    size_t out_len;
    serve((const unsigned char *)req, len, len, 0, &again, &out, &out_len);
    /* read back once, the same way (the root reads every body whole;
     * /stream and /echo answer without) */
    if (again.n != 1)
        abort();
    const seen *b = &again.v[0];
    if (strcmp(a->method, b->method) != 0 || strcmp(a->target, b->target) != 0 || a->version != b->version)
        abort();
    same_headers(a, b);
    if (b->whole && (b->body_len != a->body_len || memcmp(a->body, b->body, a->body_len) != 0))
        abort();
    free(out);
    free(req);
    run_free(&again);
}

/* ---- oracle 2: the responses, read back ---- */

typedef struct responses {
    const run *rn;
    size_t i;      /* final responses seen */
    bool closing;  /* the last one said Connection: close */
} responses;

static int resp_headers_complete(llhttp_t *p)
{
    responses *rs = p->data;
    if (p->status_code < 200)
        return 0; /* 100 Continue */
    size_t i = rs->i++;
    /* a response to HEAD has no body (the refusal after the last
     * dispatched request is to no HEAD: its page has a body) */
    return i < rs->rn->nlogged && rs->rn->head[i] ? 1 : 0;
}

static void check_responses(const run *rn, const char *out, size_t len)
{
    if (rn->overflow || len == 0)
        return;
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_headers_complete = resp_headers_complete;
    llhttp_t p;
    llhttp_init(&p, HTTP_RESPONSE, &settings);
    responses rs = {rn, 0, false};
    p.data = &rs;
    llhttp_errno_t e = llhttp_execute(&p, out, len);
    if (e != HPE_OK && e != HPE_PAUSED_UPGRADE) {
        fprintf(stderr, "responses unreadable: %s (%s) at %zu of %zu:\n%.*s\n", llhttp_errno_name(e),
                llhttp_get_error_reason(&p), (size_t)(llhttp_get_error_pos(&p) - out), len, (int)len, out);
        abort(); /* malformed, or bytes after a response that closed the connection */
    }
    /* one response per dispatched request, and at most one refusal */
    if (rs.i > rn->nlogged + 1)
        abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t split = (size_t)data[0] * (size - 2) / 255;
    unsigned flags = data[1];
    data += 2;
    size -= 2;
    run rn = {0};
    char *out;
    size_t out_len;
    serve(data, size, split, flags, &rn, &out, &out_len);
    check_responses(&rn, out, out_len);
    for (size_t i = 0; i < rn.n; i++)
        check_round_trip(&rn.v[i]);
    free(out);
    run_free(&rn);
    return 0;
}
