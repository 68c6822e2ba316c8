/* SPDX-License-Identifier: MIT */
/*
 * multipart/form-data through the public API: a server on a string
 * transport and the fake clock, sent bodies split at every position, and
 * the hostile cases listed at the top of src/proto/http/multipart.c, each
 * answered 400 or 413 with nothing else hurt. Real uploads with curl are
 * in test_http_form.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ---- a drain that keeps a file part ---- */

typedef struct sink {
    weft_drain d;
    char name[64], filename[256], ctype[64];
    char *data;
    size_t len, cap;
    size_t pause_at; /* pause the part once this many bytes are in (0: never) */
    bool paused;
    int end_code; /* 0 until flow_stopped */
} sink;

static void sink_receive(weft_drain *d, const void *data, size_t len)
{
    sink *s = (sink *)d;
    cr_assert(!s->paused, "bytes arrived while the part was paused");
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->data = realloc(s->data, s->cap);
    }
    memcpy(s->data + s->len, data, len);
    s->len += len;
    if (s->pause_at && s->len >= s->pause_at) {
        s->paused = true;
        weft_fount_pause(d->fount);
    }
}

static void sink_stopped(weft_drain *d, const weft_failure *why)
{
    sink *s = (sink *)d;
    s->end_code = weft_failure_code(why);
}

static const weft_drain_ops sink_ops = {.receive = sink_receive, .flow_stopped = sink_stopped};

/* ---- fixture ---- */

typedef struct fx {
    weft_reactor *r;
    weft_http_server *s;
    weft_string_transport *st;
    weft_test_log log;
    weft_http_form_options o; /* limits; on_file set when files is true */
    bool files;       /* take file parts as founts */
    bool stop_files;  /* ... and stop each instead of reading it */
    bool late_join;   /* ... or leave it for the test to join */
    size_t pause_at;  /* sinks pause at this many bytes */
    sink sinks[8];
    weft_http_part *parts[8];
    size_t nsinks;
    weft_deferred *form; /* the form being read, for the tests that cancel it */
    int form_code;       /* 1 once read, else the failure's code */
    char *failure;
} fx;

static void on_file(void *arg, weft_http_request *req, weft_http_part *part)
{
    (void)req;
    fx *f = arg;
    cr_assert_lt(f->nsinks, 8);
    sink *s = &f->sinks[f->nsinks];
    f->parts[f->nsinks++] = part;
    s->d.ops = &sink_ops;
    s->pause_at = f->pause_at;
    snprintf(s->name, sizeof s->name, "%s", weft_http_part_name(part));
    snprintf(s->filename, sizeof s->filename, "%s", weft_http_part_filename(part));
    const char *ct = weft_http_part_content_type(part);
    snprintf(s->ctype, sizeof s->ctype, "%s", ct ? ct : "(none)");
    const char *hct = weft_http_headers_get(weft_http_part_headers(part), "Content-Type");
    cr_assert((!hct && !ct) || (hct && ct && strcmp(hct, ct) == 0));
    if (f->stop_files)
        weft_fount_stop(weft_http_part_body(part));
    else if (!f->late_join)
        weft_flow_to(weft_http_part_body(part), &s->d);
}

/* The pairs as "name=value|..." (NUL as \0). */
static const char *show(const weft_http_args *a)
{
    static char buf[8192];
    size_t o = 0;
    for (size_t i = 0; i < weft_http_args_count(a); i++) {
        const char *s[2];
        size_t n[2];
        weft_http_args_at(a, i, &s[0], &n[0], &s[1], &n[1]);
        for (int k = 0; k < 2; k++) {
            for (size_t j = 0; j < n[k] && o + 3 < sizeof buf; j++) {
                if (s[k][j])
                    buf[o++] = s[k][j];
                else
                    buf[o++] = '\\', buf[o++] = '0';
            }
            if (o + 2 < sizeof buf)
                buf[o++] = k ? '|' : '=';
        }
    }
    buf[o] = '\0';
    return buf;
}

static weft_result form_read(void *arg, weft_result res)
{
    weft_http_request *req = arg;
    if (weft_failed(res)) {
        /* For a refusal weft has answered already (this returns -EALREADY
         * and only finishes the request); not for a cancel. */
        weft_http_reply_error(req, 500, "the handler's page");
        return res;
    }
    const char *text = show(res.value);
    weft_http_reply(req, 200, "text/plain", text, strlen(text));
    return res;
}

static weft_result record(void *arg, weft_result res)
{
    fx *f = arg;
    if (weft_failed(res)) {
        f->form_code = weft_failure_code(res.value);
        free(f->failure);
        f->failure = strdup(weft_failure_message(res.value));
    } else {
        f->form_code = 1;
    }
    weft_result_free(res);
    return weft_none();
}

static void form_handler(void *arg, weft_http_request *req)
{
    fx *f = arg;
    weft_http_form_options o = f->o;
    if (f->files) {
        o.on_file = on_file;
        o.arg = f;
    }
    const char *big = weft_http_request_header(req, "x-max-body");
    if (big)
        weft_http_request_set_max_body(req, strtoull(big, NULL, 10));
    weft_deferred *d = weft_http_request_read_form(req, &o);
    cr_assert_not_null(d);
    cr_assert_eq(weft_deferred_add_both(d, form_read, req), 0);
    cr_assert_eq(weft_deferred_add_both(d, record, f), 0);
    weft_deferred_unref(f->form); /* a request before this one's */
    f->form = d;
}

static void fx_open(fx *f)
{
    f->r = weft_test_clock();
    weft_test_log_capture(f->r, &f->log);
    weft_http_resource *root = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_mount_handler(root, "/form", form_handler, f), 0);
    f->s = weft_http_server_new(f->r, root, NULL);
    weft_factory *fac = weft_http_server_factory(f->s);
    cr_assert_eq(weft_string_transport_new(f->r, fac->ops->build(fac, NULL), NULL, NULL, &f->st), 0);
}

static void fx_close(fx *f)
{
    if (f->form)
        weft_deferred_unref(f->form);
    weft_string_transport_free(f->st);
    weft_reactor_iterate(f->r, 0);
    weft_http_server_free(f->s);
    weft_reactor_iterate(f->r, 0);
    weft_reactor_free(f->r);
    for (size_t i = 0; i < f->nsinks; i++)
        free(f->sinks[i].data);
    free(f->failure);
}

static void fx_pump(fx *f)
{
    for (int i = 0; i < 4; i++)
        weft_reactor_iterate(f->r, 0);
}

static void fx_send(fx *f, const void *data, size_t len)
{
    weft_string_transport_receive(f->st, data, len);
    fx_pump(f);
}

static const char *fx_out(fx *f)
{
    return weft_string_transport_value(f->st, NULL);
}

#define BOUNDARY "----weftBoundary7MA4YWxk"

/* A POST of body to /form with the Content-Type given (NULL: multipart
 * with BOUNDARY) and extra header lines; malloc'd, its length in *len. */
static char *request_of(const char *ctype, const char *extra, const char *body, size_t blen, size_t *len)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
                     ctype ? ctype : "multipart/form-data; boundary=" BOUNDARY, blen, extra ? extra : "");
    char *r = malloc((size_t)n + blen + 1);
    memcpy(r, head, (size_t)n);
    memcpy(r + n, body, blen);
    r[n + blen] = '\0';
    *len = (size_t)n + blen;
    return r;
}

#define FIELD(name, value)                                                                                         \
    "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"" name "\"\r\n\r\n" value "\r\n"
#define FILEPART(name, filename, type, value)                                                                      \
    "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"" name "\"; filename=\"" filename                    \
    "\"\r\nContent-Type: " type "\r\n\r\n" value "\r\n"
#define CLOSE "--" BOUNDARY "--\r\n"

static const char sample[] = "preamble to ignore\r\n" FIELD("title", "Hello, World!")
    FILEPART("upload", "a \\\"b\\\".txt", "text/plain", "line 1\r\nline 2\r\n--not a delimiter\r\n")
    FIELD("tag", "a") FIELD("tag", "") "--" BOUNDARY " \t\r\nContent-Disposition: form-data; name=empty\r\n\r\n\r\n"
    CLOSE "epilogue to ignore";

/* Sends sample split at `at` (0: whole) and checks what the server read. */
static void send_sample(fx *f, size_t at)
{
    size_t len;
    char *req = request_of(NULL, NULL, sample, sizeof sample - 1, &len);
    size_t head = len - (sizeof sample - 1);
    if (at == 0) {
        fx_send(f, req, len);
    } else {
        fx_send(f, req, head + at);
        fx_send(f, req + head + at, len - head - at);
    }
    free(req);
}

static void check_sample(fx *f)
{
    const char *out = fx_out(f);
    cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
    cr_assert_eq(f->form_code, 1);
    cr_assert_eq(f->nsinks, 1);
    sink *s = &f->sinks[0];
    cr_assert_str_eq(s->name, "upload");
    cr_assert_str_eq(s->filename, "a \"b\".txt");
    cr_assert_str_eq(s->ctype, "text/plain");
    static const char content[] = "line 1\r\nline 2\r\n--not a delimiter\r\n";
    cr_assert_eq(s->len, sizeof content - 1);
    cr_assert(memcmp(s->data, content, sizeof content - 1) == 0);
    cr_assert_eq(s->end_code, WEFT_EOF);
    cr_assert(strstr(out, "\r\n\r\ntitle=Hello, World!|tag=a|tag=|empty=|"), "%s", out);
}

/* ---- well-formed forms ---- */

WEFT_TEST(http_multipart, fields_and_a_streamed_file)
{
    fx f = {.files = true};
    fx_open(&f);
    send_sample(&f, 0);
    check_sample(&f);
    /* the connection stays open for the next request */
    weft_string_transport_state st;
    weft_string_transport_inspect(f.st, &st);
    cr_assert(st.connected && !st.lose_called);
    fx_close(&f);
}

WEFT_TEST(http_multipart, files_become_fields_without_on_file)
{
    fx f = {0};
    fx_open(&f);
    send_sample(&f, 0);
    const char *out = fx_out(&f);
    cr_assert(strstr(out, "\r\n\r\ntitle=Hello, World!|upload=line 1\r\nline 2\r\n--not a delimiter\r\n|tag=a|tag=|empty=|"),
              "%s", out);
    cr_assert_eq(f.nsinks, 0);
    fx_close(&f);
}

WEFT_TEST(http_multipart, split_at_every_position)
{
    for (size_t at = 1; at < sizeof sample - 1; at++) {
        fx f = {.files = true};
        fx_open(&f);
        send_sample(&f, at);
        check_sample(&f);
        fx_close(&f);
    }
}

WEFT_TEST(http_multipart, one_byte_at_a_time)
{
    fx f = {.files = true};
    fx_open(&f);
    size_t len;
    char *req = request_of(NULL, NULL, sample, sizeof sample - 1, &len);
    for (size_t i = 0; i < len; i++)
        weft_string_transport_receive(f.st, req + i, 1);
    fx_pump(&f);
    free(req);
    check_sample(&f);
    fx_close(&f);
}

/* Content made of the delimiter's prefixes, every length of it, is data. */
WEFT_TEST(http_multipart, delimiter_prefixes_are_data)
{
    const char delim[] = "\r\n--" BOUNDARY;
    size_t dl = sizeof delim - 1;
    char content[4096];
    size_t n = 0;
    for (int round = 0; round < 3; round++)
        for (size_t k = 1; k < dl; k++) {
            memcpy(content + n, delim, k);
            n += k;
            content[n++] = round == 1 ? '\r' : 'x'; /* a CR right after: a new candidate */
        }
    char body[8192];
    int h = snprintf(body, sizeof body,
                     "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"p\"\r\n\r\n");
    memcpy(body + h, content, n);
    size_t blen = (size_t)h + n;
    memcpy(body + blen, "\r\n" CLOSE, sizeof("\r\n" CLOSE) - 1);
    blen += sizeof("\r\n" CLOSE) - 1;
    /* whole, then in pieces of every size up to the delimiter's length */
    for (size_t piece = 0; piece <= dl + 1; piece++) {
        fx f = {.files = true};
        fx_open(&f);
        size_t len;
        char *req = request_of(NULL, NULL, body, blen, &len);
        if (!piece) {
            fx_send(&f, req, len);
        } else {
            for (size_t i = 0; i < len; i += piece)
                weft_string_transport_receive(f.st, req + i, len - i < piece ? len - i : piece);
            fx_pump(&f);
        }
        free(req);
        cr_assert_eq(f.form_code, 1, "piece %zu: %s", piece, fx_out(&f));
        cr_assert_eq(f.sinks[0].len, n, "piece %zu", piece);
        cr_assert(memcmp(f.sinks[0].data, content, n) == 0, "piece %zu", piece);
        cr_assert_eq(f.sinks[0].end_code, WEFT_EOF);
        fx_close(&f);
    }
}

WEFT_TEST(http_multipart, quoted_boundary_and_empty_form)
{
    fx f = {0};
    fx_open(&f);
    const char body[] = "--a b:c\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--a b:c--";
    size_t len;
    char *req = request_of("Multipart/Form-Data; charset=utf-8; boundary=\"a b:c\"", NULL, body, sizeof body - 1, &len);
    fx_send(&f, req, len);
    free(req);
    cr_assert(strstr(fx_out(&f), "\r\n\r\nx=1|"), "%s", fx_out(&f));
    /* no parts at all: an empty form */
    weft_string_transport_clear(f.st);
    req = request_of(NULL, NULL, CLOSE, sizeof CLOSE - 1, &len);
    fx_send(&f, req, len);
    free(req);
    cr_assert(strncmp(fx_out(&f), "HTTP/1.1 200 ", 13) == 0, "%s", fx_out(&f));
    fx_close(&f);
}

/* ---- backpressure ---- */

WEFT_TEST(http_multipart, a_paused_part_pauses_the_connection)
{
    fx f = {.files = true, .pause_at = 1};
    fx_open(&f);
    /* 256 KiB of file: more than one read */
    size_t flen = 256 * 1024;
    char *body = malloc(flen + 512);
    int h = snprintf(body, 512, "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big\"\r\n\r\n");
    for (size_t i = 0; i < flen; i++)
        body[h + i] = (char)('a' + i % 26);
    size_t blen = (size_t)h + flen;
    memcpy(body + blen, "\r\n" CLOSE, sizeof("\r\n" CLOSE) - 1);
    blen += sizeof("\r\n" CLOSE) - 1;
    size_t len;
    char *req = request_of(NULL, NULL, body, blen, &len);
    size_t sent = 16384;
    fx_send(&f, req, sent);
    sink *s = &f.sinks[0];
    size_t rounds = 0;
    while (f.form_code == 0) {
        cr_assert(s->paused);
        weft_string_transport_state st;
        weft_string_transport_inspect(f.st, &st);
        cr_assert(st.paused, "a paused part stops the connection's reading");
        /* what the client sends meanwhile waits in the socket */
        size_t before = s->len, piece = len - sent < 16384 ? len - sent : 16384;
        weft_string_transport_receive(f.st, req + sent, piece);
        sent += piece;
        fx_pump(&f);
        cr_assert_eq(s->len, before, "nothing while paused");
        s->paused = false;
        weft_fount_resume(weft_http_part_body(f.parts[0]));
        fx_pump(&f);
        rounds++;
    }
    cr_assert_eq(sent, len);
    cr_assert_gt(rounds, 10);
    cr_assert_eq(f.form_code, 1);
    cr_assert_eq(s->len, flen);
    cr_assert(memcmp(s->data, body + h, flen) == 0);
    cr_assert_eq(s->end_code, WEFT_EOF);
    free(req);
    free(body);
    fx_close(&f);
}

WEFT_TEST(http_multipart, a_part_waits_for_its_drain)
{
    fx f = {.files = true, .late_join = true};
    fx_open(&f);
    send_sample(&f, 0);
    cr_assert_eq(f.form_code, 0, "nothing flows before a drain joins");
    cr_assert_eq(f.nsinks, 1);
    weft_flow_to(weft_http_part_body(f.parts[0]), &f.sinks[0].d);
    fx_pump(&f);
    check_sample(&f);
    fx_close(&f);
}

WEFT_TEST(http_multipart, a_stopped_part_is_skipped)
{
    fx f = {.files = true, .stop_files = true};
    fx_open(&f);
    send_sample(&f, 0);
    cr_assert_eq(f.form_code, 1);
    cr_assert_eq(f.sinks[0].len, 0);
    cr_assert(strstr(fx_out(&f), "\r\n\r\ntitle=Hello, World!|tag=a|tag=|empty=|"), "%s", fx_out(&f));
    fx_close(&f);
}

/* ---- hostile input: each refused with its status, the connection closed ---- */

static void expect_refused_with(fx *f, const char *ctype, const char *body, size_t blen, int status, int code,
                                const char *detail)
{
    size_t len;
    char *req = request_of(ctype, NULL, body, blen, &len);
    fx_send(f, req, len);
    free(req);
    const char *out = fx_out(f);
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "want %d, got: %s", status, out);
    cr_assert(strstr(out, "Connection: close\r\n"), "%s", out);
    if (detail)
        cr_assert(strstr(out, detail), "want \"%s\" in %s", detail, out);
    cr_assert_eq(f->form_code, code, "form failed with %d (%s)", f->form_code, f->failure ? f->failure : "");
    weft_string_transport_state st;
    weft_string_transport_inspect(f->st, &st);
    cr_assert(st.lose_called || st.write_eof_called || st.closed, "closed after %d", status);
}

static void expect_refused(const char *body, int status, int code, const char *detail)
{
    fx f = {.files = true};
    fx_open(&f);
    expect_refused_with(&f, NULL, body, strlen(body), status, code, detail);
    for (size_t i = 0; i < f.nsinks; i++)
        cr_assert_neq(f.sinks[i].end_code, WEFT_EOF, "a part cut short never ends with EOF");
    fx_close(&f);
}

WEFT_TEST(http_multipart, malformed_bodies_are_400)
{
    expect_refused("no delimiter at all", 400, WEFT_EHTTP, "no multipart delimiter");
    expect_refused(FIELD("a", "1"), 400, WEFT_EHTTP, "without its closing delimiter");
    expect_refused("--" BOUNDARY "\r\n\r\nbody\r\n" CLOSE, 400, WEFT_EHTTP, "without one Content-Disposition");
    expect_refused("--" BOUNDARY "\r\nContent-Type: text/plain\r\n\r\nbody\r\n" CLOSE, 400, WEFT_EHTTP,
                   "without one Content-Disposition");
    expect_refused("--" BOUNDARY "\r\nContent-Disposition: form-data\r\n\r\nbody\r\n" CLOSE, 400, WEFT_EHTTP,
                   "without a name");
    expect_refused("--" BOUNDARY "\r\nContent-Disposition: attachment; name=a\r\n\r\nbody\r\n" CLOSE, 400,
                   WEFT_EHTTP, "not form-data");
    expect_refused("--" BOUNDARY "\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nbody\r\n" CLOSE, 400,
                   WEFT_EHTTP, "malformed Content-Disposition");
    expect_refused("--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; "
                   "name=b\r\n\r\nbody\r\n" CLOSE,
                   400, WEFT_EHTTP, "without one Content-Disposition");
    expect_refused("--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"a\r\n\r\nbody\r\n" CLOSE, 400,
                   WEFT_EHTTP, NULL);
    expect_refused("--" BOUNDARY "\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nbody\r\n" CLOSE, 400,
                   WEFT_EHTTP, "folded");
    expect_refused("--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\n\r\nbody\r\n" CLOSE, 400, WEFT_EHTTP,
                   "bare LF");
    expect_refused("--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\r\nX: a\rb\r\n\r\nbody\r\n" CLOSE, 400,
                   WEFT_EHTTP, "control character");
    expect_refused("--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\r\nno colon\r\n\r\nbody\r\n" CLOSE, 400,
                   WEFT_EHTTP, "malformed header line");
    expect_refused("--" BOUNDARY "X\r\nContent-Disposition: form-data; name=a\r\n\r\nbody\r\n" CLOSE, 400,
                   WEFT_EHTTP, "malformed multipart delimiter");
    expect_refused(FIELD("a", "1") "--" BOUNDARY "-x", 400, WEFT_EHTTP, "malformed multipart delimiter");
    /* a file cut short: its fount ends with the failure (checked above) */
    expect_refused(FILEPART("f", "x", "text/plain", "partial content"), 400, WEFT_EHTTP,
                   "without its closing delimiter");
}

WEFT_TEST(http_multipart, bad_boundaries_are_400)
{
    const char *body = FIELD("a", "1") CLOSE;
    const char *ctypes[] = {
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"ends with space \"",
        "multipart/form-data; boundary=a;boundary=b",
        "multipart/form-data; boundary=\"at@sign\"",
        "multipart/form-data; boundary=\"semi;colon\"",
        "multipart/form-data; boundary=12345678901234567890123456789012345678901234567890123456789012345678901",
        "multipart/form-data; boundary=\"unterminated",
        "multipart/form-data; boundary=a b",
    };
    for (size_t i = 0; i < sizeof ctypes / sizeof ctypes[0]; i++) {
        fx f = {0};
        fx_open(&f);
        expect_refused_with(&f, ctypes[i], body, strlen(body), 400, WEFT_EHTTP, NULL);
        fx_close(&f);
    }
    /* 70 characters is the most, and is fine */
    const char *b70 = "1234567890123456789012345678901234567890123456789012345678901234567890";
    char ctype[128], body70[256];
    snprintf(ctype, sizeof ctype, "multipart/form-data; boundary=%s", b70);
    int n = snprintf(body70, sizeof body70, "--%s\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--%s--", b70,
                     b70);
    fx f = {0};
    fx_open(&f);
    size_t len;
    char *req = request_of(ctype, NULL, body70, (size_t)n, &len);
    fx_send(&f, req, len);
    free(req);
    cr_assert(strstr(fx_out(&f), "\r\n\r\na=1|"), "%s", fx_out(&f));
    fx_close(&f);
}

/* Many tiny parts: refused at max_parts, not read to the end. */
WEFT_TEST(http_multipart, too_many_parts)
{
    size_t n = 1500, one = sizeof FIELD("a", "") - 1;
    char *body = malloc(n * one + sizeof CLOSE);
    for (size_t i = 0; i < n; i++)
        memcpy(body + i * one, FIELD("a", ""), one);
    memcpy(body + n * one, CLOSE, sizeof CLOSE);
    /* file parts count too: max_parts 1000 is reached before max_fields */
    fx f = {.o = {.max_fields = 5000}};
    fx_open(&f);
    size_t len;
    char *req = request_of(NULL, "X-Max-Body: 10000000\r\n", body, strlen(body), &len);
    fx_send(&f, req, len);
    free(req);
    cr_assert(strncmp(fx_out(&f), "HTTP/1.1 400 ", 13) == 0, "%s", fx_out(&f));
    cr_assert(strstr(fx_out(&f), "too many parts"), "%s", fx_out(&f));
    cr_assert_eq(f.form_code, -E2BIG);
    fx_close(&f);
    /* and fields count against max_fields, the query's included */
    fx g = {.o = {.max_fields = 10}};
    fx_open(&g);
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "POST /form?q=1 HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" BOUNDARY
                      "\r\nContent-Length: %zu\r\n\r\n",
                      10 * one + sizeof CLOSE - 1);
    fx_send(&g, head, (size_t)hn);
    memcpy(body + 10 * one, CLOSE, sizeof CLOSE);
    fx_send(&g, body, strlen(body));
    cr_assert(strncmp(fx_out(&g), "HTTP/1.1 400 ", 13) == 0, "%s", fx_out(&g));
    cr_assert(strstr(fx_out(&g), "too many fields"), "%s", fx_out(&g));
    cr_assert_eq(g.form_code, -E2BIG);
    fx_close(&g);
    free(body);
}

/* Header floods inside a part: one long line, or many short ones. */
WEFT_TEST(http_multipart, part_header_flood)
{
    for (int many = 0; many < 2; many++) {
        size_t n = 20000;
        char *body = malloc(n * 8 + 512);
        size_t o = (size_t)sprintf(body, "--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\r\n");
        if (many) {
            for (size_t i = 0; i < n / 4; i++)
                o += (size_t)sprintf(body + o, "X-%zu: y\r\n", i % 10);
        } else {
            o += (size_t)sprintf(body + o, "X-Long: ");
            memset(body + o, 'y', n);
            o += n;
            o += (size_t)sprintf(body + o, "\r\n");
        }
        o += (size_t)sprintf(body + o, "\r\nvalue\r\n" CLOSE);
        fx f = {0};
        fx_open(&f);
        expect_refused_with(&f, NULL, body, o, 400, WEFT_EHTTP, "headers are too large");
        fx_close(&f);
        free(body);
    }
    /* a larger limit takes them */
    fx f = {.o = {.max_part_header_bytes = 64 * 1024}};
    fx_open(&f);
    const char body[] = "--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\r\nX-1: y\r\nX-2: z\r\n\r\nv\r\n" CLOSE;
    size_t len;
    char *req = request_of(NULL, NULL, body, sizeof body - 1, &len);
    fx_send(&f, req, len);
    free(req);
    cr_assert(strstr(fx_out(&f), "\r\n\r\na=v|"), "%s", fx_out(&f));
    fx_close(&f);
}

WEFT_TEST(http_multipart, fields_too_large_are_413)
{
    fx f = {.o = {.max_field_bytes = 1000}};
    fx_open(&f);
    char body[4096];
    int n = snprintf(body, sizeof body, FIELD("a", "%0990d") FIELD("b", "0123456789") CLOSE, 0);
    expect_refused_with(&f, NULL, body, (size_t)n, 413, -EMSGSIZE, "too large");
    fx_close(&f);
    /* files streamed as founts do not count */
    fx g = {.files = true, .o = {.max_field_bytes = 100}};
    fx_open(&g);
    n = snprintf(body, sizeof body, FILEPART("f", "x", "a/b", "%0990d") FIELD("b", "0123456789") CLOSE, 0);
    size_t len;
    char *req = request_of(NULL, NULL, body, (size_t)n, &len);
    fx_send(&g, req, len);
    free(req);
    cr_assert_eq(g.form_code, 1, "%s", fx_out(&g));
    cr_assert_eq(g.sinks[0].len, 990);
    fx_close(&g);
}

/* The server's own body limit still rules: 413 from the server, and the
 * part's fount ends with -EMSGSIZE. */
WEFT_TEST(http_multipart, body_past_max_body)
{
    fx f = {.files = true};
    fx_open(&f);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" BOUNDARY
                     "\r\nTransfer-Encoding: chunked\r\n\r\n");
    fx_send(&f, head, (size_t)n);
    const char part[] = "--" BOUNDARY "\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n";
    n = snprintf(head, sizeof head, "%zx\r\n%s\r\n", sizeof part - 1, part);
    fx_send(&f, head, (size_t)n);
    char *chunk = malloc(70000);
    memcpy(chunk, "10000\r\n", 7);
    memset(chunk + 7, 'z', 0x10000);
    memcpy(chunk + 7 + 0x10000, "\r\n", 2);
    for (int i = 0; i < 20 && f.form_code == 0; i++)
        fx_send(&f, chunk, 7 + 0x10000 + 2);
    free(chunk);
    cr_assert(strncmp(fx_out(&f), "HTTP/1.1 413 ", 13) == 0, "%s", fx_out(&f));
    cr_assert_eq(f.form_code, -EMSGSIZE);
    cr_assert_eq(f.sinks[0].end_code, -EMSGSIZE);
    fx_close(&f);
}

/* The sample request up to the middle of its file part. */
static void send_to_mid_file(fx *f)
{
    size_t len;
    char *req = request_of(NULL, NULL, sample, sizeof sample - 1, &len);
    const char *mid = strstr(req, "line 2");
    fx_send(f, req, (size_t)(mid - req));
    free(req);
    cr_assert_eq(f->nsinks, 1);
    cr_assert_eq(f->sinks[0].end_code, 0);
}

/* A peer that stops sending mid-part: the body timeout answers 408, and
 * the part ends with the timeout, not EOF. */
WEFT_TEST(http_multipart, slow_peer_times_out)
{
    fx f = {.files = true};
    fx_open(&f);
    send_to_mid_file(&f);
    cr_assert_eq(f.form_code, 0);
    weft_clock_advance(f.r, 61);
    fx_pump(&f);
    cr_assert(strncmp(fx_out(&f), "HTTP/1.1 408 ", 13) == 0, "%s", fx_out(&f));
    cr_assert_eq(f.form_code, WEFT_ETIMEDOUT);
    cr_assert_eq(f.sinks[0].end_code, WEFT_ETIMEDOUT);
    fx_close(&f);
}

WEFT_TEST(http_multipart, connection_lost_mid_part)
{
    fx f = {.files = true};
    fx_open(&f);
    send_to_mid_file(&f);
    weft_string_transport_disconnect(f.st, -ECONNRESET);
    fx_pump(&f);
    cr_assert_eq(f.form_code, -ECONNRESET);
    cr_assert_eq(f.sinks[0].end_code, -ECONNRESET);
    fx_close(&f);
}

WEFT_TEST(http_multipart, cancelled_mid_part)
{
    fx f = {.files = true};
    fx_open(&f);
    send_to_mid_file(&f);
    weft_deferred_cancel(f.form);
    fx_pump(&f);
    cr_assert_eq(f.form_code, WEFT_ECANCELED);
    cr_assert_eq(f.sinks[0].end_code, WEFT_ECANCELED);
    /* the handler answered (500, from form_read: weft does not answer a
     * cancel) and the rest of the body is dropped */
    cr_assert(strncmp(fx_out(&f), "HTTP/1.1 500 ", 13) == 0, "%s", fx_out(&f));
    fx_close(&f);
}
