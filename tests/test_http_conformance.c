/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 conformance: what a stranger's conformance suite found against
 * `weft web`, each case with the RFC sentence it follows. The server runs
 * on the fake clock over a string transport, with the static resource as
 * its root (as `weft web --path` builds it) and a handler resource mounted
 * below it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

typedef struct fx {
    char dir[64];
    weft_reactor *r;
    weft_http_server *s;
    weft_string_transport *st;
    int handled;
} fx;

static void put(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void app(void *arg, weft_http_request *req)
{
    fx *f = arg;
    f->handled++;
    weft_http_reply(req, 200, "text/plain", "app", 3);
}

static void fx_open(fx *f, const weft_http_server_options *o)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/weft-conf-%d-XXXXXX", (int)getpid());
    cr_assert_not_null(mkdtemp(f->dir));
    put(f->dir, "file.txt", "hi\n");
    char sub[128];
    snprintf(sub, sizeof sub, "%s/evil.example", f->dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    f->r = weft_test_clock();
    weft_logger_remove_observer(weft_reactor_logger(f->r), weft_log_text_observer, stderr);
    weft_http_resource *root = NULL;
    cr_assert_eq(weft_http_static_new(f->dir, NULL, &root, NULL), 0);
    weft_http_resource *a = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on(a, "GET", app, f), 0);
    cr_assert_eq(weft_http_resource_on(a, "POST", app, f), 0);
    cr_assert_eq(weft_http_resource_mount(root, "/app", a), 0);
    f->s = weft_http_server_new(f->r, root, o);
    cr_assert_not_null(f->s);
    weft_factory *fac = weft_http_server_factory(f->s);
    cr_assert_eq(weft_string_transport_new(f->r, fac->ops->build(fac, NULL), NULL, NULL, &f->st), 0);
}

static void fx_close(fx *f)
{
    weft_string_transport_free(f->st);
    weft_reactor_iterate(f->r, 0);
    weft_http_server_free(f->s);
    weft_reactor_iterate(f->r, 0);
    weft_reactor_free(f->r);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    cr_assert_eq(system(cmd), 0);
}

static void fx_send(fx *f, const char *data, size_t len)
{
    weft_string_transport_receive(f->st, data, len);
    for (int i = 0; i < 4; i++)
        weft_reactor_iterate(f->r, 0);
}

static bool fx_closing(fx *f)
{
    weft_string_transport_state s;
    weft_string_transport_inspect(f->st, &s);
    return s.write_eof_called || s.lose_called || s.closed;
}

/* How many lines of out start with `start` (status lines, not the text
 * of an error page). */
static size_t count_of(const char *out, const char *start)
{
    size_t n = strncmp(out, start, strlen(start)) == 0;
    for (const char *p = out; (p = strstr(p, "\n")); p++)
        n += strncmp(p + 1, start, strlen(start)) == 0;
    return n;
}

/* `req` gets one response, `status`, and then the connection closes;
 * nothing sent after it is answered. */
static void expect_refused(const char *req, size_t len, int status)
{
    fx f;
    fx_open(&f, NULL);
    fx_send(&f, req, len);
    const char *out = weft_string_transport_value(f.st, NULL);
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "want %d for %.200s, got: %s", status, req, out);
    cr_assert_eq(count_of(out, "HTTP/1.1 "), 1, "one response to %.200s: %s", req, out);
    cr_assert(strstr(out, "Connection: close\r\n"), "%s", out);
    cr_assert(fx_closing(&f), "closed after %d for %.200s", status, req);
    size_t before, after;
    weft_string_transport_value(f.st, &before);
    fx_send(&f, "GET /file.txt HTTP/1.1\r\nHost: x\r\n\r\n", 36);
    weft_string_transport_value(f.st, &after);
    cr_assert_eq(before, after, "nothing after it answered");
    fx_close(&f);
}

#define REFUSED(lit, status) expect_refused((lit), sizeof(lit) - 1, (status))

/* `req` gets `status` first, and the connection stays open: a request sent
 * after it is answered too. Returns nothing; `out_has` must be in the
 * first response when not NULL. */
static void expect_served(const char *req, size_t len, int status, const char *out_has)
{
    fx f;
    fx_open(&f, NULL);
    fx_send(&f, req, len);
    const char *out = weft_string_transport_value(f.st, NULL);
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "want %d for %.200s, got: %s", status, req, out);
    if (out_has)
        cr_assert(strstr(out, out_has), "%s in the answer to %.200s: %s", out_has, req, out);
    cr_assert(!fx_closing(&f), "kept open after %.200s: %s", req, out);
    fx_send(&f, "GET /file.txt HTTP/1.1\r\nHost: x\r\n\r\n", 36);
    out = weft_string_transport_value(f.st, NULL);
    cr_assert_eq(count_of(out, "HTTP/1.1 200 OK"), status == 200 ? 2 : 1, "the next request answered: %s", out);
    fx_close(&f);
}

#define SERVED(lit, status, has) expect_served((lit), sizeof(lit) - 1, (status), (has))

/* RFC 9112 2.2: "A sender MUST NOT generate a bare CR (a CR character not
 * immediately followed by LF) within any protocol elements other than the
 * content. A recipient of such a bare CR MUST consider that element to be
 * invalid or replace each bare CR with SP before processing the element or
 * forwarding the message." A bare CR ending the header block would let a
 * second request hide in the first one's head. */
WEFT_TEST(http_conformance, a_bare_cr_does_not_end_the_header_block)
{
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: h\r\n\rXGET /other HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: h\r\n\rSome-Header: x\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\rHost: h\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400);
}

/* RFC 9110 5.5: "field-value = *field-content" - a field value may be
 * empty; an empty value is not an obs-fold. */
WEFT_TEST(http_conformance, an_empty_field_value_is_served)
{
    SERVED("GET /file.txt HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n", 200, "\r\n\r\nhi\n");
    SERVED("GET /file.txt HTTP/1.1\r\nHost: h\r\nX-Empty: \r\n\r\n", 200, "\r\n\r\nhi\n");
    SERVED("GET /file.txt HTTP/1.1\r\nX-Empty:\r\nHost: h\r\n\r\n", 200, "\r\n\r\nhi\n");
    /* a fold with text is still refused */
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: h\r\nX-A:\r\n b\r\n\r\n", 400);
}

/* RFC 9112 2.3: "HTTP-version = HTTP-name "/" DIGIT "." DIGIT", and RFC 9112
 * 3: "Recipients of an invalid request-line SHOULD respond with either a 400
 * (Bad Request) error or a 301 (Moved Permanently) redirect". 505 is for a
 * well-formed version of another major number (RFC 9110 15.6.6: "the server
 * does not support, or refuses to support, the major version of HTTP that
 * was used in the request message"); a higher minor version is served (RFC
 * 9110 2.5: "SHOULD process the message as if it were in the highest minor
 * version within that major version to which the recipient is
 * conformant"). */
WEFT_TEST(http_conformance, a_malformed_version_is_400)
{
    REFUSED("GET /file.txt HTTP/1\r\nHost: h\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/01.01\r\nHost: h\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/ 1.1\r\nHost: h\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\rX\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.10\r\nHost: h\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    REFUSED("GET /file.txt HTTP/0.9\r\nHost: h\r\n\r\n", 505);
    REFUSED("GET /file.txt HTTP/3.1\r\nHost: h\r\n\r\n", 505);
    SERVED("GET /file.txt HTTP/1.2\r\nHost: h\r\n\r\n", 200, "\r\n\r\nhi\n");
}

/* RFC 9112 3.2: "A server MUST respond with a 400 (Bad Request) status code
 * to any HTTP/1.1 request message that lacks a Host header field and to any
 * request message that contains more than one Host header field line or a
 * Host header field with an invalid field value." Host = uri-host [ ":"
 * port ] (RFC 9110 7.2), with RFC 3986's reg-name: no userinfo, no path, no
 * spaces. */
WEFT_TEST(http_conformance, an_invalid_host_is_400)
{
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: h/path\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: h, other.example\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: user@h\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: h:port\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: [::1\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: h\\x\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    REFUSED("GET /file.txt HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    SERVED("GET /file.txt HTTP/1.1\r\nHost: h.example:8080 \r\n\r\n", 200, NULL);
    SERVED("GET /file.txt HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 200, NULL);
    SERVED("GET /file.txt HTTP/1.1\r\nHost: xn--caf-dma.example\r\n\r\n", 200, NULL);
    SERVED("GET /file.txt HTTP/1.1\r\nHost: \r\n\r\n", 200, NULL);
}

/* RFC 9112 7.1: "chunk-size = 1*HEXDIG", each chunk followed by CRLF; and
 * RFC 9112 6.3: "If a valid Content-Length header field is not present,
 * and the transfer coding is not chunked ... the server MUST respond with
 * a 400 (Bad Request) status code and then close the connection" - a body
 * whose framing is invalid is answered 400, which needs the body read
 * before the answer. A valid chunked body is read (and dropped) and the
 * connection kept (RFC 9112 9.3: "HTTP/1.1 defaults to the use of
 * persistent connections"). */
WEFT_TEST(http_conformance, a_chunked_body_to_a_static_file_is_read)
{
#define CHUNKED_GET "GET /file.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    REFUSED(CHUNKED_GET "0x5\r\nhello\r\n0\r\n\r\n", 400);
    REFUSED(CHUNKED_GET "+5\r\nhello\r\n0\r\n\r\n", 400);
    REFUSED(CHUNKED_GET "-1\r\nhello\r\n0\r\n\r\n", 400);
    REFUSED(CHUNKED_GET " 5\r\nhello\r\n0\r\n\r\n", 400);
    REFUSED(CHUNKED_GET "1_0\r\nhello\r\n0\r\n\r\n", 400);
    REFUSED(CHUNKED_GET "10000000000000000\r\nhello\r\n0\r\n\r\n", 400);
    REFUSED(CHUNKED_GET "5\r\nhelloXX0\r\n\r\n", 400);
    REFUSED(CHUNKED_GET "5\r\nhello0\r\n\r\n", 400);
    REFUSED(CHUNKED_GET "5\rX\r\nhello\r\n0\r\n\r\n", 400);
    REFUSED(CHUNKED_GET "5\r\nhello\r\n0\rX\r\n\r\n", 400);
    SERVED(CHUNKED_GET "5\r\nhello\r\n0\r\n\r\n", 200, "\r\n\r\nhi\n");
    SERVED(CHUNKED_GET "5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n", 200, "\r\n\r\nhi\n");
    SERVED("GET /file.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 200, "\r\n\r\nhi\n");
    SERVED("HEAD /file.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 200, NULL);
    /* answered by the resource tree, not a file: the body is read too */
    SERVED("POST /file.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 405, NULL);
#undef CHUNKED_GET
}

/* RFC 9110 15.5.14: "The 413 (Content Too Large) status code indicates that
 * the server is refusing to process a request because the request content
 * is larger than the server is willing or able to process. The server MAY
 * terminate the request, if the protocol version in use allows it;
 * otherwise, the server MAY close the connection." Refused before the file
 * is answered, not after. */
WEFT_TEST(http_conformance, the_body_limit_comes_before_the_answer)
{
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999\r\n\r\n", 413);
    REFUSED("GET /evil.example HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999\r\n\r\n", 413);
    REFUSED("GET /file.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            "100001\r\n",
            413);
}

/* RFC 9110 9.3.7: "A server generating a successful response to OPTIONS
 * SHOULD send any header that might indicate optional features implemented
 * by the server and applicable to the target resource (e.g., Allow)" and
 * "A server MUST generate a Content-Length field with a value of "0" if no
 * content is to be sent in the response." RFC 9110 10.2.1: Allow "lists
 * the set of methods advertised as supported by the target resource". */
WEFT_TEST(http_conformance, options_answers_with_allow)
{
    SERVED("OPTIONS /file.txt HTTP/1.1\r\nHost: h\r\n\r\n", 200, "\r\nAllow: GET, HEAD, OPTIONS\r\n");
    SERVED("OPTIONS /file.txt HTTP/1.1\r\nHost: h\r\n\r\n", 200, "\r\nContent-Length: 0\r\n");
    SERVED("OPTIONS /app HTTP/1.1\r\nHost: h\r\n\r\n", 200, "\r\nAllow: GET, POST, HEAD, OPTIONS\r\n");
    /* and a 405 lists OPTIONS among what the resource has */
    SERVED("DELETE /file.txt HTTP/1.1\r\nHost: h\r\n\r\n", 405, "\r\nAllow: GET, HEAD, OPTIONS\r\n");
    fx f;
    fx_open(&f, NULL);
    fx_send(&f, "OPTIONS /app/x HTTP/1.1\r\nHost: h\r\n\r\n", 37);
    cr_assert_eq(f.handled, 0, "OPTIONS answered by the server, not the GET handler");
    fx_close(&f);
}

/* RFC 9112 3.2: "request-target = origin-form / ..." over RFC 3986's
 * characters, which are ASCII ("A URI is composed from a limited set of
 * characters consisting of digits, letters, and a few graphic symbols",
 * RFC 3986 2); raw octets above 0x7F are not part of any target. */
WEFT_TEST(http_conformance, a_target_that_is_not_ascii_is_400)
{
    REFUSED("GET /caf\xC3\xA9 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REFUSED("GET /\xC0\xAF HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REFUSED("GET /\x7F HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    SERVED("GET /caf%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n", 404, NULL);
}
