/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 server and the resource tree: behaviour over string
 * transports on the fake clock, and a few runs over real TCP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* ---- fixture ---- */

typedef struct fx {
    weft_reactor *r;
    weft_http_server *s;
    weft_string_transport *st;
    weft_test_log log;
} fx;

static void fx_connect(fx *f)
{
    weft_factory *fac = weft_http_server_factory(f->s);
    weft_protocol *p = fac->ops->build(fac, NULL);
    cr_assert_not_null(p);
    cr_assert_eq(weft_string_transport_new(f->r, p, NULL, NULL, &f->st), 0);
}

static void fx_open(fx *f, weft_http_resource *root, const weft_http_server_options *o)
{
    f->r = weft_test_clock();
    weft_test_log_capture(f->r, &f->log);
    f->s = weft_http_server_new(f->r, root, o);
    cr_assert_not_null(f->s);
    fx_connect(f);
}

static void fx_close(fx *f)
{
    weft_string_transport_free(f->st);
    weft_reactor_iterate(f->r, 0);
    weft_http_server_free(f->s);
    weft_reactor_iterate(f->r, 0);
    weft_reactor_free(f->r);
}

static void fx_send(fx *f, const char *data)
{
    cr_assert_eq(weft_string_transport_receive(f->st, data, strlen(data)), 0);
    weft_reactor_iterate(f->r, 0);
}

static const char *fx_out(fx *f)
{
    return weft_string_transport_value(f->st, NULL);
}

static weft_string_transport_state fx_state(fx *f)
{
    weft_string_transport_state s;
    weft_string_transport_inspect(f->st, &s);
    return s;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- handlers ---- */

static void hello(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply(req, 200, "text/plain", "Hello, World!", 13);
}

/* Answers with the path it was asked for. */
static void echo_path(void *arg, weft_http_request *req)
{
    (void)arg;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "path=%s query=%s host=%s rest=%s n=%zu", weft_http_request_path(req),
                     weft_http_request_query(req) ? weft_http_request_query(req) : "(none)",
                     weft_http_request_host(req), weft_http_request_rest(req),
                     weft_http_request_postpath_count(req));
    for (size_t i = 0; i < weft_http_request_postpath_count(req); i++) {
        size_t len;
        const char *seg = weft_http_request_postpath(req, i, &len);
        n += snprintf(buf + n, sizeof buf - (size_t)n, " [%.*s]", (int)len, seg);
    }
    weft_http_reply(req, 200, "text/plain", buf, (size_t)n);
}

static weft_http_resource *leaf_with(const char *method, weft_http_handler_fn fn, void *arg)
{
    weft_http_resource *res = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on(res, method, fn, arg), 0);
    weft_http_resource_set_leaf(res, true);
    return res;
}

/* ---- basics ---- */

WEFT_TEST(http_server, hello)
{
    fx f;
    fx_open(&f, leaf_with("GET", hello, NULL), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *out = fx_out(&f);
    cr_assert(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", out);
    cr_assert(strstr(out, "\r\nDate: ") && strstr(out, " GMT\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\nServer: weft/"), "%s", out);
    cr_assert(strstr(out, "\r\nContent-Length: 13\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\nContent-Type: text/plain\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\n\r\nHello, World!") && out[strlen(out) - 1] == '!', "%s", out);
    cr_assert(fx_state(&f).connected);
    fx_close(&f);
}

WEFT_TEST(http_server, keep_alive)
{
    fx f;
    fx_open(&f, leaf_with("GET", hello, NULL), NULL);
    for (int i = 0; i < 5; i++) {
        weft_string_transport_clear(f.st);
        fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert_eq(count_of(fx_out(&f), "HTTP/1.1 200 OK"), 1);
        cr_assert(fx_state(&f).connected);
        cr_assert(!fx_state(&f).lose_called);
    }
    fx_close(&f);
}

WEFT_TEST(http_server, request_split_everywhere)
{
    const char *req = "POST /p?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: y\r\n\r\n";
    size_t len = strlen(req);
    for (size_t cut = 1; cut < len; cut += 3) {
        fx f;
        fx_open(&f, leaf_with("*", echo_path, NULL), NULL);
        cr_assert_eq(weft_string_transport_receive(f.st, req, cut), 0);
        weft_reactor_iterate(f.r, 0);
        cr_assert_eq(weft_string_transport_receive(f.st, req + cut, len - cut), 0);
        for (int i = 0; i < 3; i++)
            weft_reactor_iterate(f.r, 0);
        const char *out = fx_out(&f);
        cr_assert_eq(count_of(out, "HTTP/1.1 200 OK"), 2, "cut %zu: %s", cut, out);
        cr_assert(strstr(out, "path=/p query=q=1 host=x"), "cut %zu: %s", cut, out);
        cr_assert(strstr(out, "path=/ query=(none) host=y"), "cut %zu: %s", cut, out);
        fx_close(&f);
    }
}

/* Requests kept until the test finishes them. */
typedef struct held {
    weft_http_request *v[32];
    size_t n;
} held;

static void keep(void *arg, weft_http_request *req)
{
    held *h = arg;
    cr_assert_lt(h->n, 32);
    h->v[h->n++] = req;
}

static void respond_text(weft_http_request *req, const char *text)
{
    cr_assert_eq(weft_http_reply(req, 200, "text/plain", text, strlen(text)), 0);
}

WEFT_TEST(http_server, pipelining_in_order)
{
    held h = {0};
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource_put_child(root, "slow", leaf_with("GET", keep, &h));
    weft_http_resource_put_child(root, "fast", leaf_with("GET", echo_path, NULL));
    fx f;
    fx_open(&f, root, NULL);
    fx_send(&f, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast/2 HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(h.n, 2, "both slow requests dispatched at once");
    cr_assert_str_empty(fx_out(&f), "nothing before the first response");
    respond_text(h.v[1], "second-slow");
    weft_reactor_iterate(f.r, 0);
    cr_assert_str_empty(fx_out(&f), "later responses wait for the first");
    respond_text(h.v[0], "first-slow");
    weft_reactor_iterate(f.r, 0);
    const char *out = fx_out(&f);
    const char *a = strstr(out, "first-slow"), *b = strstr(out, "rest=/1"), *c = strstr(out, "second-slow"),
               *d = strstr(out, "rest=/2");
    cr_assert(a && b && c && d && a < b && b < c && c < d, "%s", out);
    fx_close(&f);
}

WEFT_TEST(http_server, pipeline_bound_stops_reading)
{
    held h = {0};
    fx f;
    fx_open(&f, leaf_with("GET", keep, &h), &(weft_http_server_options){.max_pipelined = 2});
    char many[1024] = "";
    for (int i = 0; i < 6; i++)
        strcat(many, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_send(&f, many);
    cr_assert_eq(h.n, 2);
    cr_assert(fx_state(&f).paused, "reading stops at the bound");
    size_t answered = 0;
    while (answered < 6) {
        cr_assert_gt(h.n, answered);
        respond_text(h.v[answered++], "ok");
        for (int i = 0; i < 3; i++)
            weft_reactor_iterate(f.r, 0);
    }
    cr_assert_eq(h.n, 6);
    cr_assert_eq(count_of(fx_out(&f), "HTTP/1.1 200 OK"), 6);
    cr_assert(!fx_state(&f).paused);
    fx_close(&f);
}

/* ---- bodies ---- */

typedef struct body_echo {
    weft_http_request *req;
    int fired;
} body_echo;

static weft_result got_body(void *arg, weft_result res)
{
    weft_http_request *req = arg;
    if (weft_failed(res)) {
        weft_http_reply_error(req, 400, weft_failure_message(weft_result_failure(res)));
    } else {
        weft_bytes *b = res.value;
        char *text = malloc(b->len + 64);
        int n = snprintf(text, 64, "got %zu:", b->len);
        memcpy(text + n, b->data, b->len);
        weft_http_reply_write(req, text, (size_t)n + b->len);
        weft_http_reply_finish(req);
        free(text);
    }
    weft_result_free(res);
    return weft_none();
}

static void read_all(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_deferred *d = weft_http_request_read_body(req);
    cr_assert_not_null(d);
    cr_assert_eq(weft_deferred_add_both(d, got_body, req), 0);
    weft_deferred_unref(d);
}

WEFT_TEST(http_server, content_length_body)
{
    fx f;
    fx_open(&f, leaf_with("POST", read_all, NULL), NULL);
    fx_send(&f, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello");
    cr_assert_str_empty(fx_out(&f));
    fx_send(&f, " world");
    const char *out = fx_out(&f);
    cr_assert(strstr(out, "Transfer-Encoding: chunked\r\n"), "%s", out);
    cr_assert(strstr(out, "got 11:hello world"), "%s", out);
    cr_assert(strstr(out, "\r\n0\r\n\r\n"), "%s", out);
    fx_close(&f);
}

WEFT_TEST(http_server, chunked_request_body)
{
    fx f;
    fx_open(&f, leaf_with("POST", read_all, NULL), NULL);
    fx_send(&f, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    fx_send(&f, "6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n");
    const char *out = fx_out(&f);
    cr_assert(strstr(out, "got 11:hello world"), "%s", out);
    weft_string_transport_clear(f.st);
    fx_send(&f, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok");
    cr_assert(strstr(fx_out(&f), "got 2:ok"), "keep-alive after a chunked body: %s", fx_out(&f));
    fx_close(&f);
}

static void chunks(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply_set_header(req, "Content-Type", "text/plain");
    weft_http_reply_write(req, "abc", 3);
    weft_http_reply_write(req, "", 0);
    weft_http_reply_write(req, "0123456789abcdefX", 17);
    weft_http_reply_finish(req);
}

WEFT_TEST(http_server, chunked_response)
{
    fx f;
    fx_open(&f, leaf_with("GET", chunks, NULL), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *out = fx_out(&f);
    const char *body = strstr(out, "\r\n\r\n");
    cr_assert_not_null(body);
    cr_assert_str_eq(body + 4, "3\r\nabc\r\n11\r\n0123456789abcdefX\r\n0\r\n\r\n");
    cr_assert_null(strstr(out, "Content-Length"));
    fx_close(&f);
}

WEFT_TEST(http_server, expect_100_continue)
{
    fx f;
    fx_open(&f, leaf_with("POST", read_all, NULL), NULL);
    fx_send(&f, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    cr_assert_str_eq(fx_out(&f), "HTTP/1.1 100 Continue\r\n\r\n");
    fx_send(&f, "abc");
    const char *out = fx_out(&f);
    cr_assert(strstr(out, "HTTP/1.1 200 OK") && strstr(out, "got 3:abc"), "%s", out);
    cr_assert(!fx_state(&f).lose_called);
    fx_close(&f);
}

WEFT_TEST(http_server, expect_100_declined)
{
    /* The handler answers without reading: no 100, and the connection
     * closes rather than wait for a body the client may never send. */
    fx f;
    fx_open(&f, leaf_with("POST", hello, NULL), NULL);
    fx_send(&f, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    const char *out = fx_out(&f);
    cr_assert_null(strstr(out, "100 Continue"), "%s", out);
    cr_assert(strstr(out, "HTTP/1.1 200 OK") && strstr(out, "Connection: close\r\n"), "%s", out);
    cr_assert(fx_state(&f).lose_called);
    fx_close(&f);
}

WEFT_TEST(http_server, unread_body_is_dropped)
{
    fx f;
    fx_open(&f, leaf_with("*", hello, NULL), NULL);
    fx_send(&f, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
    fx_send(&f, "56789GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(count_of(fx_out(&f), "HTTP/1.1 200 OK"), 2, "%s", fx_out(&f));
    cr_assert(!fx_state(&f).lose_called);
    fx_close(&f);
}

/* ---- methods, targets, versions ---- */

WEFT_TEST(http_server, head_has_no_body)
{
    fx f;
    fx_open(&f, leaf_with("GET", hello, NULL), NULL);
    fx_send(&f, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *out = fx_out(&f);
    cr_assert(strstr(out, "HTTP/1.1 200 OK") && strstr(out, "Content-Length: 13\r\n"), "%s", out);
    cr_assert(strlen(out) >= 4 && strcmp(out + strlen(out) - 4, "\r\n\r\n") == 0, "no body: %s", out);
    weft_string_transport_clear(f.st);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strstr(fx_out(&f), "Hello, World!"));
    fx_close(&f);
}

WEFT_TEST(http_server, options_star)
{
    fx f;
    fx_open(&f, leaf_with("GET", hello, NULL), NULL);
    fx_send(&f, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *out = fx_out(&f);
    cr_assert(strstr(out, "HTTP/1.1 200 OK") && strstr(out, "Allow: ") && strstr(out, "Content-Length: 0"), "%s",
              out);
    fx_close(&f);
}

WEFT_TEST(http_server, absolute_form)
{
    fx f;
    fx_open(&f, leaf_with("GET", echo_path, NULL), NULL);
    fx_send(&f, "GET http://example.org:8080/a/b%20c?x=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    const char *out = fx_out(&f);
    cr_assert(strstr(out, "path=/a/b%20c query=x=1 host=example.org:8080"), "%s", out);
    fx_close(&f);
}

WEFT_TEST(http_server, connection_close)
{
    fx f;
    fx_open(&f, leaf_with("GET", hello, NULL), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *out = fx_out(&f);
    cr_assert_eq(count_of(out, "HTTP/1.1 200"), 1, "nothing after close: %s", out);
    cr_assert(strstr(out, "Connection: close\r\n"), "%s", out);
    cr_assert(fx_state(&f).lose_called);
    fx_close(&f);
}

WEFT_TEST(http_server, http10)
{
    fx f;
    fx_open(&f, leaf_with("GET", hello, NULL), NULL);
    fx_send(&f, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert(strstr(fx_out(&f), "Connection: keep-alive\r\n"), "%s", fx_out(&f));
    cr_assert(!fx_state(&f).lose_called);
    weft_string_transport_clear(f.st);
    fx_send(&f, "GET / HTTP/1.0\r\n\r\n");
    cr_assert(strstr(fx_out(&f), "Hello, World!"));
    cr_assert(fx_state(&f).lose_called, "HTTP/1.0 without keep-alive closes");
    fx_close(&f);
}

WEFT_TEST(http_server, http10_streamed_is_close_delimited)
{
    fx f;
    fx_open(&f, leaf_with("GET", chunks, NULL), &(weft_http_server_options){0});
    fx_send(&f, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const char *out = fx_out(&f);
    cr_assert_null(strstr(out, "chunked"), "%s", out);
    cr_assert(strstr(out, "Connection: close\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\n\r\nabc0123456789abcdefX"), "%s", out);
    cr_assert(fx_state(&f).lose_called);
    fx_close(&f);
}

/* ---- the resource tree ---- */

static void say(void *arg, weft_http_request *req)
{
    respond_text(req, arg);
}

static weft_http_resource *child_fn(void *arg, weft_http_resource *parent, const char *seg, size_t len)
{
    (void)arg, (void)parent;
    if (len != 3 || memcmp(seg, "dyn", 3) != 0)
        return NULL;
    return leaf_with("GET", say, "dynamic");
}

WEFT_TEST(http_server, resource_tree)
{
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource *a = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on(root, "GET", say, "root"), 0);
    cr_assert_eq(weft_http_resource_on(a, "GET", say, "a-get"), 0);
    cr_assert_eq(weft_http_resource_on(a, "PUT", say, "a-put"), 0);
    cr_assert_eq(weft_http_resource_put_child(root, "a", a), 0);
    cr_assert_eq(weft_http_resource_put_child(root, "a", weft_http_resource_new()), -EEXIST);
    cr_assert_eq(weft_http_resource_child(root, "a"), a);
    weft_http_resource *b = weft_http_resource_new();
    weft_http_resource_set_child_fn(b, child_fn, NULL);
    cr_assert_eq(weft_http_resource_put_child(a, "b", b), 0);
    cr_assert_eq(weft_http_resource_mount_handler(root, "/api/v1", echo_path, NULL), 0);
    cr_assert_eq(weft_http_resource_mount_handler(root, "/", echo_path, NULL), WEFT_EINVAL);
    fx f;
    fx_open(&f, root, NULL);
    struct {
        const char *req, *want;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "root"},
        {"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "a-get"},
        {"GET /a/ HTTP/1.1\r\nHost: x\r\n\r\n", "a-get"},
        {"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "a-put"},
        {"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n", "Content-Length: 5"},
        {"DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
        {"DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n", "Allow: GET, PUT, HEAD, OPTIONS\r\n"},
        {"PROPFIND /a HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 501 Not Implemented"},
        {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 Not Found"},
        {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "<title>404 Not Found</title>"},
        {"GET /a/b HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404"},
        {"GET /a/b/dyn HTTP/1.1\r\nHost: x\r\n\r\n", "dynamic"},
        {"GET /a/b/dyn HTTP/1.1\r\nHost: x\r\n\r\n", "dynamic"},
        {"GET /a/b/other HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404"},
        {"GET /api/v1 HTTP/1.1\r\nHost: x\r\n\r\n", "rest= n=0"},
        {"GET /api/v1/users/a%2Fb?z HTTP/1.1\r\nHost: x\r\n\r\n", "rest=/users/a%2Fb n=2 [users] [a/b]"},
        {"POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "path=/api/v1/x query=(none)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weft_string_transport_clear(f.st);
        fx_send(&f, cases[i].req);
        cr_assert(strstr(fx_out(&f), cases[i].want), "case %zu: want %s in %s", i, cases[i].want, fx_out(&f));
    }
    cr_assert(fx_state(&f).connected, "errors keep the connection");
    fx_close(&f);
}

static void no_handlers_on_root(void *arg, weft_http_request *req)
{
    (void)arg, (void)req;
}

WEFT_TEST(http_server, empty_resource_is_404)
{
    (void)no_handlers_on_root;
    fx f;
    fx_open(&f, weft_http_resource_new(), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strstr(fx_out(&f), "HTTP/1.1 404"), "%s", fx_out(&f));
    fx_close(&f);
}

/* ---- coroutine handlers ---- */

static weft_result coro_sleepy(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_result r = weft_sleep(weft_http_request_reactor(req), 1.0);
    if (weft_failed(r))
        return r;
    respond_text(req, "slept");
    return weft_none();
}

static weft_result coro_fails(void *arg, weft_http_request *req)
{
    (void)arg, (void)req;
    return weft_err_new(WEFT_EFAILED, "handler broke");
}

static weft_result coro_unfinished(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply_write(req, "partial", 7);
    return weft_none();
}

WEFT_TEST(http_server, coroutine_handlers)
{
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource *s = weft_http_resource_new(), *e = weft_http_resource_new(), *u = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on_coro(s, "GET", coro_sleepy, NULL), 0);
    cr_assert_eq(weft_http_resource_on_coro(e, "GET", coro_fails, NULL), 0);
    cr_assert_eq(weft_http_resource_on_coro(u, "GET", coro_unfinished, NULL), 0);
    weft_http_resource_put_child(root, "sleep", s);
    weft_http_resource_put_child(root, "fail", e);
    weft_http_resource_put_child(root, "unfinished", u);
    fx f;
    fx_open(&f, root, NULL);
    fx_send(&f, "GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_str_empty(fx_out(&f));
    weft_clock_advance(f.r, 1.0);
    weft_reactor_iterate(f.r, 0);
    cr_assert(strstr(fx_out(&f), "slept"), "%s", fx_out(&f));
    weft_string_transport_clear(f.st);
    fx_send(&f, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strstr(fx_out(&f), "HTTP/1.1 500 Internal Server Error"), "%s", fx_out(&f));
    weft_string_transport_clear(f.st);
    fx_send(&f, "GET /unfinished HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strstr(fx_out(&f), "7\r\npartial\r\n0\r\n\r\n"), "finished as it stood: %s", fx_out(&f));
    fx_close(&f);
}

/* ---- streaming with backpressure ---- */

typedef struct gen {
    weft_producer base;
    weft_http_request *req;
    uint64_t left;
    bool paused, stopped;
    unsigned pauses;
    size_t max_buffered;
} gen;

static void gen_run(gen *g)
{
    static const char block[16384] = {0};
    while (!g->paused && g->left) {
        size_t n = g->left < sizeof block ? (size_t)g->left : sizeof block;
        g->left -= n;
        cr_assert_eq(weft_http_reply_write(g->req, block, n), 0);
        weft_transport *t = weft_http_request_transport(g->req);
        size_t b = weft_transport_buffered(t);
        if (b > g->max_buffered)
            g->max_buffered = b;
    }
    if (!g->left && !g->stopped) {
        g->stopped = true;
        weft_http_reply_unregister_producer(g->req);
        weft_http_reply_finish(g->req);
    }
}

static void gen_pause(weft_producer *p)
{
    gen *g = (gen *)p;
    g->paused = true;
    g->pauses++;
}

static void gen_resume(weft_producer *p)
{
    gen *g = (gen *)p;
    g->paused = false;
    gen_run(g);
}

static void gen_stop(weft_producer *p)
{
    ((gen *)p)->stopped = true;
}

static const weft_producer_ops gen_ops = {gen_pause, gen_resume, gen_stop};

static void big(void *arg, weft_http_request *req)
{
    gen *g = arg;
    g->req = req;
    char len[32];
    snprintf(len, sizeof len, "%llu", (unsigned long long)g->left);
    weft_http_reply_set_header(req, "Content-Length", len);
    cr_assert_eq(weft_http_reply_register_producer(req, &g->base, true), 0);
    gen_run(g);
}

WEFT_TEST(http_server, streamed_response_backpressure)
{
    const uint64_t total = 8u << 20;
    gen g = {.base.ops = &gen_ops, .left = total};
    fx f;
    fx_open(&f, leaf_with("GET", big, &g), NULL);
    weft_string_transport_set_blocked(f.st, true);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(g.paused, "the producer is paused while the client reads nothing");
    cr_assert_gt(g.left, total - (256u << 10));
    cr_assert_leq(fx_state(&f).buffered, 128u << 10, "the server holds a bounded amount");
    uint64_t got = 0;
    for (int round = 0; round < 10000; round++) {
        size_t n = weft_string_transport_drain(f.st, 1u << 20);
        weft_reactor_iterate(f.r, 0);
        size_t len;
        weft_string_transport_value(f.st, &len);
        got += len;
        weft_string_transport_clear(f.st);
        if (n == 0 && g.stopped && fx_state(&f).buffered == 0)
            break;
        cr_assert_leq(fx_state(&f).buffered, 128u << 10);
    }
    cr_assert_gt(got, total, "got %llu left %llu buffered %zu stopped %d", (unsigned long long)got, (unsigned long long)g.left, fx_state(&f).buffered, g.stopped);
    cr_assert_lt(got, total + 1024);
    cr_assert_geq(g.pauses, 8, "pauses %u", g.pauses);
    cr_assert_leq(g.max_buffered, 128u << 10);
    fx_close(&f);
}

/* The request body paused by its drain stops the transport's reading. */
typedef struct slow_drain {
    weft_drain base;
    weft_http_request *req;
    size_t got;
    bool ended;
} slow_drain;

static void sd_from(weft_drain *d, weft_fount *f)
{
    (void)d, (void)f;
}

static void sd_receive(weft_drain *d, const void *data, size_t len)
{
    (void)data;
    slow_drain *s = (slow_drain *)d;
    s->got += len;
    weft_fount_pause(d->fount);
}

static void sd_stopped(weft_drain *d, const weft_failure *why)
{
    slow_drain *s = (slow_drain *)d;
    cr_assert_eq(weft_failure_code(why), WEFT_EOF);
    s->ended = true;
    respond_text(s->req, "done");
}

static const weft_drain_ops sd_ops = {sd_from, sd_receive, sd_stopped};

static void body_to_slow_drain(void *arg, weft_http_request *req)
{
    slow_drain *s = arg;
    s->req = req;
    weft_flow_to(weft_http_request_body(req), &s->base);
}

WEFT_TEST(http_server, body_fount_pause_stops_reading)
{
    slow_drain s = {.base.ops = &sd_ops};
    fx f;
    fx_open(&f, leaf_with("POST", body_to_slow_drain, &s), NULL);
    fx_send(&f, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc");
    cr_assert_eq(s.got, 3);
    cr_assert(fx_state(&f).paused, "a paused body stops the reading");
    fx_send(&f, "def");
    cr_assert_eq(s.got, 3, "nothing more while paused");
    weft_fount *body = s.base.fount;
    cr_assert_not_null(body);
    weft_fount_resume(body);
    for (int i = 0; i < 3; i++)
        weft_reactor_iterate(f.r, 0);
    cr_assert_eq(s.got, 6, "got %zu paused %d", s.got, fx_state(&f).paused);
    if (!s.ended) {
        weft_fount_resume(s.base.fount);
        for (int i = 0; i < 3; i++)
            weft_reactor_iterate(f.r, 0);
    }
    cr_assert(s.ended);
    cr_assert(strstr(fx_out(&f), "done"), "%s", fx_out(&f));
    fx_close(&f);
}

/* A fount of bytes flowing into the response drain. */
static void drain_fed(void *arg, weft_http_request *req)
{
    (void)arg;
    static const char text[] = "from a fount";
    weft_fount *src = weft_fount_of_bytes(weft_http_request_reactor(req), text, sizeof text - 1, false);
    cr_assert_not_null(src);
    weft_flow_to(src, weft_http_reply_drain(req));
}

WEFT_TEST(http_server, response_drain)
{
    fx f;
    fx_open(&f, leaf_with("GET", drain_fed, NULL), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 3; i++)
        weft_reactor_iterate(f.r, 0);
    cr_assert(strstr(fx_out(&f), "c\r\nfrom a fount\r\n0\r\n\r\n"), "%s", fx_out(&f));
    fx_close(&f);
}

/* ---- files ---- */

static void file_handler(void *arg, weft_http_request *req)
{
    int fd = *(int *)arg;
    weft_http_reply_set_header(req, "Content-Length", "200000");
    cr_assert_eq(weft_http_reply_send_file(req, dup(fd), 100, 200000), 0);
    cr_assert_eq(weft_http_reply_finish(req), 0);
}

static void file_chunked(void *arg, weft_http_request *req)
{
    int fd = *(int *)arg;
    cr_assert_eq(weft_http_reply_send_file(req, dup(fd), 0, 100000), 0);
    cr_assert_eq(weft_http_reply_finish(req), 0);
}

WEFT_TEST(http_server, send_file_chunked_and_head)
{
    char path[] = "/tmp/weft_http_fileXXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    static char data[100000];
    memset(data, 'z', sizeof data);
    cr_assert_eq(write(fd, data, sizeof data), (ssize_t)sizeof data);
    fx f;
    fx_open(&f, leaf_with("GET", file_chunked, &fd), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 20; i++)
        weft_reactor_iterate(f.r, 0);
    const char *out = fx_out(&f);
    cr_assert(strstr(out, "Transfer-Encoding: chunked\r\n"), "%.300s", out);
    cr_assert(strstr(out, "\r\n10000\r\nzzzz"), "%.300s", out);
    cr_assert_eq(strlen(out) - strlen(strstr(out, "\r\n0\r\n\r\n")) + 7, strlen(out), "ends the body");
    weft_string_transport_clear(f.st);
    fx_send(&f, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 5; i++)
        weft_reactor_iterate(f.r, 0);
    out = fx_out(&f);
    cr_assert(strcmp(out + strlen(out) - 4, "\r\n\r\n") == 0, "no body for HEAD: %.300s", out);
    cr_assert(fx_state(&f).connected);
    close(fd);
    fx_close(&f);
}

WEFT_TEST(http_server, send_file)
{
    char path[] = "/tmp/weft_http_fileXXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    static char data[300000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);
    cr_assert_eq(write(fd, data, sizeof data), (ssize_t)sizeof data);
    fx f;
    fx_open(&f, leaf_with("GET", file_handler, &fd), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 20; i++)
        weft_reactor_iterate(f.r, 0);
    size_t len;
    const char *out = weft_string_transport_value(f.st, &len);
    const char *body = strstr(out, "\r\n\r\n");
    cr_assert_not_null(body);
    body += 4;
    cr_assert_eq(len - (size_t)(body - out), 200000, "got %zu: %.300s", len - (size_t)(body - out), out);
    cr_assert(memcmp(body, data + 100, 200000) == 0);
    close(fd);
    fx_close(&f);
}

/* ---- lifetime ---- */

static weft_result note_finish(void *arg, weft_result res)
{
    int *where = arg;
    *where = weft_failed(res) ? -1 : 1;
    weft_result_free(res);
    return weft_none();
}

WEFT_TEST(http_server, request_outlives_connection)
{
    held h = {0};
    fx f;
    fx_open(&f, leaf_with("GET", keep, &h), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(h.n, 1);
    int fin = 0;
    weft_deferred *d = weft_http_reply_notify_finish(h.v[0]);
    cr_assert_eq(weft_deferred_add_both(d, note_finish, &fin), 0);
    weft_deferred_unref(d);
    weft_string_transport_disconnect(f.st, -ECONNRESET);
    weft_reactor_iterate(f.r, 0);
    cr_assert_eq(fin, -1, "notify_finish errbacks");
    cr_assert_null(weft_http_request_transport(h.v[0]));
    cr_assert_eq(weft_http_reply_write(h.v[0], "x", 1), -ENOTCONN);
    cr_assert_str_eq(weft_http_request_path(h.v[0]), "/");
    weft_http_reply_finish(h.v[0]);
    fx_close(&f);
}

WEFT_TEST(http_server, notify_finish_and_server_free_with_pending)
{
    held h = {0};
    fx f;
    fx_open(&f, leaf_with("GET", keep, &h), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    int fin = 0;
    weft_deferred *d = weft_http_reply_notify_finish(h.v[0]);
    cr_assert_eq(weft_deferred_add_both(d, note_finish, &fin), 0);
    weft_deferred_unref(d);
    respond_text(h.v[0], "x");
    cr_assert_eq(fin, 1);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(h.n, 2);
    /* the server goes while a handler still holds a request */
    weft_http_server_free(f.s);
    weft_reactor_iterate(f.r, 0);
    cr_assert(fx_state(&f).closed);
    cr_assert_eq(weft_http_reply(h.v[1], 200, NULL, "late", 4), -ENOTCONN);
    weft_string_transport_free(f.st);
    weft_reactor_iterate(f.r, 0);
    weft_reactor_free(f.r);
}

/* ---- headers, access log ---- */

WEFT_TEST(http_server, server_headers_and_access_log)
{
    weft_reactor *r = weft_test_clock();
    fx f = {.r = r};
    weft_test_log_capture(r, &f.log);
    weft_http_server_options o = {.server_name = "", .access_log = weft_reactor_logger(r)};
    f.s = weft_http_server_new(r, leaf_with("GET", hello, NULL), &o);
    cr_assert_eq(weft_http_server_add_header(f.s, "X-Frame-Options", "DENY"), 0);
    cr_assert_eq(weft_http_server_add_header(f.s, "Bad Name", "x"), WEFT_EINVAL);
    fx_connect(&f);
    fx_send(&f, "GET /p?q HTTP/1.1\r\nHost: x\r\nUser-Agent: tester\r\nReferer: http://r/\r\n\r\n");
    const char *out = fx_out(&f);
    cr_assert_null(strstr(out, "Server:"), "%s", out);
    cr_assert(strstr(out, "X-Frame-Options: DENY\r\n"), "%s", out);
    cr_assert(weft_test_log_contains(&f.log, "\"GET /p?q HTTP/1.1\" 200 13 \"http://r/\" \"tester\""));
    cr_assert(weft_test_log_contains(&f.log, "192.168.1.1 - - ["));
    fx_close(&f);
}

/* Issue 10, defect 9: a '"' in User-Agent forged the status, size and
 * agent fields of the combined log line. Fields are escaped as nginx
 * escapes them: '"', '\\', control and non-ASCII bytes as \\xHH. */
WEFT_TEST(http_server, access_log_fields_cannot_be_forged)
{
    weft_reactor *r = weft_test_clock();
    fx f = {.r = r};
    weft_test_log_capture(r, &f.log);
    weft_http_server_options o = {.access_log = weft_reactor_logger(r)};
    f.s = weft_http_server_new(r, leaf_with("GET", hello, NULL), &o);
    fx_connect(&f);
    fx_send(&f, "GET /a\"b%22 HTTP/1.1\r\nHost: x\r\n"
                "User-Agent: x\" 500 0 \"forged\t\xC3\xA9\r\n"
                "Referer: http://r/\\\" 1\r\n\r\n");
    cr_assert(strstr(fx_out(&f), "HTTP/1.1 200 OK"), "%s", fx_out(&f));
    cr_assert(weft_test_log_contains(&f.log, "\"GET /a\\x22b%22 HTTP/1.1\" 200 13 \"http://r/\\x5C\\x22 1\" "
                                             "\"x\\x22 500 0 \\x22forged\\x09\\xC3\\xA9\""),
              "%s", f.log.lines[f.log.count ? f.log.count - 1 : 0]);
    fx_close(&f);
}

/* ---- over TCP ---- */

typedef struct tcp_client {
    weft_protocol base;
    char buf[65536];
    size_t len;
    weft_deferred *done;
    const char *send;
} tcp_client;

static void tc_made(weft_protocol *p)
{
    tcp_client *c = (tcp_client *)p;
    weft_transport_write(p->transport, c->send, strlen(c->send));
}

static void tc_received(weft_protocol *p, const void *data, size_t len)
{
    tcp_client *c = (tcp_client *)p;
    if (c->len + len < sizeof c->buf) {
        memcpy(c->buf + c->len, data, len);
        c->len += len;
    }
}

static void tc_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    tcp_client *c = (tcp_client *)p;
    c->buf[c->len] = 0;
    weft_deferred_callback(c->done, NULL, NULL);
}

static const weft_protocol_ops tc_ops = {.connection_made = tc_made, .data_received = tc_received,
                                         .connection_lost = tc_lost};

typedef struct one_factory {
    weft_factory base;
    tcp_client *c;
} one_factory;

static weft_protocol *one_build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    return &((one_factory *)f)->c->base;
}

static const weft_factory_ops one_ops = {.build = one_build};

WEFT_TEST(http_server, over_tcp)
{
    weft_reactor *r = weft_test_reactor();
    weft_http_server *s = weft_http_server_new(r, leaf_with("*", read_all, NULL), NULL);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    weft_port *port;
    cr_assert_eq(weft_listen(r, &a, weft_http_server_factory(s), NULL, &port), 0);
    cr_assert_eq(weft_port_address(port, &a), 0);
    tcp_client c = {.base.ops = &tc_ops};
    c.done = weft_deferred_new(r);
    c.send = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
             "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    one_factory of = {.base.ops = &one_ops, .c = &c};
    weft_deferred *conn = weft_connect(r, &a, &of.base, NULL);
    cr_assert_not_null(conn);
    cr_assert_eq(weft_reactor_run_until(r, c.done, 10), 0);
    cr_assert(strstr(c.buf, "got 3:abc"), "%s", c.buf);
    cr_assert(strstr(c.buf, "got 0:"), "%s", c.buf);
    cr_assert(strstr(c.buf, "Connection: close\r\n"), "%s", c.buf);
    weft_deferred_unref(conn);
    weft_deferred_unref(c.done);
    weft_deferred *stopped = weft_port_stop(port);
    cr_assert_eq(weft_reactor_run_until(r, stopped, 10), 0);
    weft_deferred_unref(stopped);
    weft_http_server_free(s);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}

/* ---- the hot path ---- */

WEFT_TEST(http_server, no_allocation_per_request)
{
    fx f;
    fx_open(&f, leaf_with("GET", hello, NULL), NULL);
    static const char req[] = "GET /some/path?x=1 HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\n"
                              "Accept: */*\r\n\r\n";
    for (int i = 0; i < 10; i++) { /* warm up: buffers grow to their size */
        fx_send(&f, req);
        weft_string_transport_clear(f.st);
    }
    weft_fault_alloc fa = {0};
    cr_assert_eq(weft_fault_alloc_install(&fa), 0);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(weft_string_transport_receive(f.st, req, sizeof req - 1), 0);
        weft_string_transport_clear(f.st);
    }
    weft_fault_alloc_remove();
    cr_assert_eq(fa.count, 0, "%llu allocations for 100 requests", (unsigned long long)fa.count);
    fx_close(&f);
}

/* ---- errors in mid-response, abort, status ---- */

static void half_then_error(void *arg, weft_http_request *req)
{
    (void)arg;
    cr_assert_eq(weft_http_reply_set_status(req, 99, NULL), WEFT_EINVAL);
    cr_assert_eq(weft_http_reply_set_status(req, 200, "Fine\r\nX: y"), WEFT_EINVAL);
    cr_assert_eq(weft_http_reply_set_status(req, 299, "Custom"), 0);
    cr_assert_eq(weft_http_reply_status(req), 299);
    cr_assert_eq(weft_http_reply_write(req, "half", 4), 0);
    cr_assert(weft_http_reply_started(req));
    cr_assert_null(weft_http_reply_headers(req));
    cr_assert_eq(weft_http_reply_set_header(req, "X", "y"), -EALREADY);
    cr_assert_eq(weft_http_reply_error(req, 500, NULL), 0); /* the connection closes instead */
}

static void aborts(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply_abort(req);
}

WEFT_TEST(http_server, error_after_headers_and_abort)
{
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource_put_child(root, "half", leaf_with("GET", half_then_error, NULL));
    weft_http_resource_put_child(root, "abort", leaf_with("GET", aborts, NULL));
    fx f;
    fx_open(&f, root, NULL);
    fx_send(&f, "GET /half HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *out = fx_out(&f);
    cr_assert(strncmp(out, "HTTP/1.1 299 Custom\r\n", 21) == 0, "%s", out);
    cr_assert(strstr(out, "4\r\nhalf\r\n") && !strstr(out, "0\r\n\r\n"), "truncated: %s", out);
    cr_assert(fx_state(&f).lose_called);
    fx_close(&f);

    root = weft_http_resource_new();
    weft_http_resource_put_child(root, "abort", leaf_with("GET", aborts, NULL));
    fx_open(&f, root, NULL);
    fx_send(&f, "GET /abort HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_str_empty(fx_out(&f));
    cr_assert(fx_state(&f).abort_called);
    fx_close(&f);
}

/* ---- a large body to a client that stops reading, over TCP ---- */

typedef struct tgen {
    weft_producer base;
    weft_http_request *req;
    uint64_t left;
    bool paused;
    weft_deferred *first_pause;
    size_t max_buffered;
} tgen;

static void tgen_run(tgen *g)
{
    static const char block[65536] = {0};
    while (!g->paused && g->left) {
        size_t n = g->left < sizeof block ? (size_t)g->left : sizeof block;
        g->left -= n;
        cr_assert_eq(weft_http_reply_write(g->req, block, n), 0);
        size_t b = weft_transport_buffered(weft_http_request_transport(g->req));
        if (b > g->max_buffered)
            g->max_buffered = b;
    }
    if (!g->left && g->req) {
        weft_http_reply_unregister_producer(g->req);
        weft_http_reply_finish(g->req);
        g->req = NULL;
    }
}

static void tgen_pause(weft_producer *p)
{
    tgen *g = (tgen *)p;
    g->paused = true;
    if (g->first_pause && !weft_deferred_called(g->first_pause))
        weft_deferred_callback(g->first_pause, NULL, NULL);
}

static void tgen_resume(weft_producer *p)
{
    tgen *g = (tgen *)p;
    g->paused = false;
    tgen_run(g);
}

static void tgen_stop(weft_producer *p)
{
    ((tgen *)p)->req = NULL;
}

static const weft_producer_ops tgen_ops = {tgen_pause, tgen_resume, tgen_stop};

static void tgen_handler(void *arg, weft_http_request *req)
{
    tgen *g = arg;
    g->req = req;
    char len[32];
    snprintf(len, sizeof len, "%llu", (unsigned long long)g->left);
    cr_assert_eq(weft_http_reply_set_header(req, "Content-Length", len), 0);
    cr_assert_eq(weft_http_reply_register_producer(req, &g->base, true), 0);
    tgen_run(g);
}

typedef struct sink {
    weft_protocol base;
    uint64_t got;
    weft_deferred *done;
} sink;

static void sink_made(weft_protocol *p)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    weft_transport_write(p->transport, req, sizeof req - 1);
    weft_transport_pause_reading(p->transport); /* a client that reads nothing */
}

static void sink_received(weft_protocol *p, const void *data, size_t len)
{
    (void)data;
    ((sink *)p)->got += len;
}

static void sink_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    weft_deferred_callback(((sink *)p)->done, NULL, NULL);
}

static const weft_protocol_ops sink_ops = {.connection_made = sink_made, .data_received = sink_received,
                                           .connection_lost = sink_lost};

typedef struct sink_factory {
    weft_factory base;
    sink *s;
} sink_factory;

static weft_protocol *sink_build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    return &((sink_factory *)f)->s->base;
}

static const weft_factory_ops sink_fops = {.build = sink_build};

WEFT_TEST(http_server, large_body_to_stalled_reader_over_tcp, .timeout = 60)
{
    const uint64_t total = 64u << 20;
    weft_reactor *r = weft_test_reactor();
    tgen g = {.base.ops = &tgen_ops, .left = total};
    g.first_pause = weft_deferred_new(r);
    weft_http_server *s = weft_http_server_new(r, leaf_with("GET", tgen_handler, &g), NULL);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    weft_port *port;
    cr_assert_eq(weft_listen(r, &a, weft_http_server_factory(s), NULL, &port), 0);
    cr_assert_eq(weft_port_address(port, &a), 0);
    sink k = {.base.ops = &sink_ops};
    k.done = weft_deferred_new(r);
    sink_factory sf = {.base.ops = &sink_fops, .s = &k};
    weft_deferred *conn = weft_connect(r, &a, &sf.base, NULL);
    /* The kernel's buffers fill, then weft's up to its high-water mark, and
     * the producer is paused: the rest of the body is never made. */
    cr_assert_eq(weft_reactor_run_until(r, g.first_pause, 10), 0);
    for (int i = 0; i < 20; i++)
        weft_reactor_iterate(r, 0.01);
    cr_assert(g.paused);
    cr_assert_gt(g.left, total / 2, "most of the body not produced yet");
    cr_assert_leq(g.max_buffered, 192u << 10, "weft's buffer stays bounded (%zu)", g.max_buffered);
    cr_assert_eq(k.got, 0);
    weft_transport_resume_reading(k.base.transport);
    cr_assert_eq(weft_reactor_run_until(r, k.done, 30), 0);
    cr_assert_gt(k.got, total);
    cr_assert_lt(k.got, total + 1024);
    cr_assert_eq(g.left, 0);
    cr_assert_leq(g.max_buffered, 192u << 10);
    weft_deferred_unref(conn);
    weft_deferred_unref(k.done);
    weft_deferred_unref(g.first_pause);
    weft_deferred *stopped = weft_port_stop(port);
    cr_assert_eq(weft_reactor_run_until(r, stopped, 10), 0);
    weft_deferred_unref(stopped);
    weft_http_server_free(s);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}

/* ---- a response cut short, a drain whose connection goes ---- */

static weft_result note_outcome(void *arg, weft_result r)
{
    *(int *)arg = weft_failed(r) ? weft_failure_code(weft_result_failure(r)) : 1;
    weft_result_free(r);
    return weft_none();
}

static void short_body(void *arg, weft_http_request *req)
{
    weft_deferred *d = weft_http_reply_notify_finish(req);
    cr_assert_eq(weft_deferred_add_both(d, note_outcome, arg), 0);
    weft_deferred_unref(d);
    weft_http_reply_set_header(req, "Content-Length", "100");
    cr_assert_eq(weft_http_reply_write(req, "only ten..", 10), 0);
    cr_assert_eq(weft_http_reply_finish(req), 0);
}

WEFT_TEST(http_server, a_body_cut_short_is_not_reported_as_sent)
{
    int outcome = 0;
    fx f;
    fx_open(&f, leaf_with("GET", short_body, &outcome), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(outcome, -ECONNABORTED, "notify_finish: %d", outcome);
    cr_assert(fx_state(&f).lose_called || fx_state(&f).abort_called, "the client must see the end");
    fx_close(&f);
}

/* A fount that never ends on its own. */
typedef struct endless {
    weft_fount base;
    bool stopped;
} endless;

static void endless_stop(weft_fount *f)
{
    ((endless *)f)->stopped = true;
}

static const weft_fount_ops endless_ops = {.stop = endless_stop};

static void to_drain(void *arg, weft_http_request *req)
{
    endless *e = arg;
    weft_flow_to(&e->base, weft_http_reply_drain(req));
    weft_fount_emit(&e->base, "part", 4);
}

WEFT_TEST(http_server, a_response_drain_finishes_its_request_when_the_connection_goes)
{
    endless e = {.base.ops = &endless_ops};
    fx f;
    fx_open(&f, leaf_with("GET", to_drain, &e), NULL);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strstr(fx_out(&f), "4\r\npart\r\n"), "%s", fx_out(&f));
    weft_string_transport_disconnect(f.st, -ECONNRESET);
    weft_reactor_iterate(f.r, 0);
    cr_assert(e.stopped, "the drain stops its fount");
    /* The request was finished by the drain: nothing is left to free but
     * what fx_close frees (LeakSanitizer checks). */
    fx_close(&f);
}

/* ---- graceful stop ---- */

static void hold_request(void *arg, weft_http_request *req)
{
    *(weft_http_request **)arg = req;
}

/* An idle keep-alive connection closed at once lost the request a client
 * had on its way (wrk's read errors when weft's workers were reloaded):
 * it is kept a moment, a request arriving then answered with
 * Connection: close. */
WEFT_TEST(http_server, quiesce_keeps_idle_connections_a_moment_for_a_request_on_its_way_and_ends_busy_ones_after_their_response)
{
    weft_http_request *pending = NULL;
    fx f;
    fx_open(&f, leaf_with("GET", hold_request, &pending), NULL);
    /* Two more keep-alive connections, idle. */
    weft_string_transport *busy = f.st;
    fx_connect(&f);
    weft_string_transport *late = f.st;
    fx_connect(&f);
    weft_string_transport *idle = f.st;
    f.st = busy;
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_not_null(pending);
    weft_http_request *first = pending;
    weft_http_server_quiesce(f.s);
    weft_reactor_iterate(f.r, 0);
    weft_string_transport_state st;
    weft_string_transport_inspect(idle, &st);
    cr_assert_not(st.lose_called, "an idle connection is kept a moment");
    cr_assert_not(fx_state(&f).lose_called, "the busy one waits for its response");

    /* the request that was on its way is answered, and ends the connection */
    f.st = late;
    pending = NULL;
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_not_null(pending, "answered after the quiesce");
    cr_assert_eq(weft_http_reply(pending, 200, "text/plain", "late", 4), 0);
    weft_reactor_iterate(f.r, 0);
    cr_assert(strstr(fx_out(&f), "Connection: close\r\n"), "%s", fx_out(&f));
    cr_assert(strstr(fx_out(&f), "\r\n\r\nlate"), "%s", fx_out(&f));
    cr_assert(fx_state(&f).lose_called);

    f.st = busy;
    cr_assert_eq(weft_http_reply(first, 200, "text/plain", "bye", 3), 0);
    weft_reactor_iterate(f.r, 0);
    cr_assert(strstr(fx_out(&f), "Connection: close\r\n"), "%s", fx_out(&f));
    cr_assert(strstr(fx_out(&f), "\r\n\r\nbye"), "%s", fx_out(&f));
    cr_assert(fx_state(&f).lose_called, "then it closes");

    /* the idle one, a second later */
    weft_clock_advance(f.r, 1.0);
    weft_reactor_iterate(f.r, 0);
    weft_string_transport_inspect(idle, &st);
    cr_assert(st.lose_called, "closed once no request came");
    weft_string_transport_free(idle);
    weft_string_transport_free(late);
    fx_close(&f);
}

/* ---- a Content-Length the server cannot frame by ---- */

static void bad_length(void *arg, weft_http_request *req)
{
    int *rc = arg;
    weft_http_reply_set_header(req, "Content-Length", "12abc");
    *rc = weft_http_reply(req, 200, "text/plain", "hello", 5);
}

static void bad_length_streamed(void *arg, weft_http_request *req)
{
    int *rc = arg;
    weft_http_reply_set_header(req, "Content-Length", "-1");
    rc[1] = weft_http_reply_write(req, "hello", 5);
    rc[2] = weft_http_reply_write(req, " again", 6);
    weft_http_reply_finish(req);
}

/* Issue 10: a handler's Content-Length that is not a number (as a proxy
 * would copy an upstream's) left its response unanswered, the connection
 * hanging or reset. The server answers 500 in its place where the head has
 * not gone out, drops what the handler writes after, and goes on. */
WEFT_TEST(http_server, an_unparsable_content_length_is_answered_500)
{
    int rc[3] = {0, 0, 0};
    fx f;
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource_on(root, "GET", hello, NULL);
    weft_http_resource_put_child(root, "a", leaf_with("GET", bad_length, rc));
    weft_http_resource_put_child(root, "b", leaf_with("*", bad_length_streamed, rc));
    fx_open(&f, root, NULL);
    fx_send(&f, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
                "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(rc[0], WEFT_EINVAL);
    cr_assert_eq(rc[1], WEFT_EINVAL);
    cr_assert_eq(rc[2], 0, "written after the 500, dropped: %d", rc[2]);
    const char *out = fx_out(&f);
    cr_assert_eq(count_of(out, "HTTP/1.1 500 Internal Server Error\r\n"), 3, "%s", out);
    cr_assert_null(strstr(out, "12abc"), "%s", out);
    cr_assert_null(strstr(out, "hello"), "%s", out);
    cr_assert_null(strstr(out, "again"), "%s", out);
    cr_assert(strstr(out, "Hello, World!"), "the connection goes on: %s", out);
    /* the HEAD's 500 is its head alone: the next response follows it */
    const char *third = strstr(strstr(strstr(out, " 500 ") + 1, " 500 ") + 1, " 500 ");
    cr_assert(third && strstr(third, "\r\n\r\nHTTP/1.1 200 OK"), "%s", out);
    cr_assert_not(fx_state(&f).abort_called);
    fx_close(&f);
}

/* ---- one path however it is spelt ---- */

static void reply_target(weft_http_request *req, int *asked)
{
    (*asked)++;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "path=%s target=%s rest=%s n=%zu", weft_http_request_path(req),
                     weft_http_request_target(req), weft_http_request_rest(req),
                     weft_http_request_postpath_count(req));
    for (size_t i = 0; i < weft_http_request_postpath_count(req); i++) {
        size_t len;
        const char *seg = weft_http_request_postpath(req, i, &len);
        n += snprintf(buf + n, sizeof buf - (size_t)n, " [%.*s]", (int)len, seg);
    }
    weft_http_reply(req, 200, "text/plain", buf, (size_t)n);
}

static void at_g(void *arg, weft_http_request *req)
{
    reply_target(req, arg);
}

/* Issue 10: the resource walk takes a path as RFC 3986 normalises it
 * (section 6.2.2, as nginx does before it matches locations): the escapes
 * of unreserved characters decoded (6.2.2.2), the others' hex digits in
 * upper case (6.2.2.1), the dot segments removed (6.2.2.3, by section
 * 5.2.4's remove_dot_segments). Equivalent paths reach the same resource
 * (RFC 9110 4.2.3); one whose ".." climbs above the root, or with a '%'
 * that starts no escape, is 400. */
WEFT_TEST(http_server, the_walk_takes_the_normalised_path)
{
    int asked = 0;
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource *a = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_put_child(a, "g", leaf_with("GET", at_g, &asked)), 0);
    cr_assert_eq(weft_http_resource_put_child(root, "a", a), 0);
    fx f;
    fx_open(&f, root, NULL);
    /* RFC 3986 5.2.4's own example: "/a/b/c/./../../g" is "/a/g" */
    fx_send(&f, "GET /a/b/c/./../../g HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strstr(fx_out(&f), "path=/a/g target=/a/b/c/./../../g rest= n=0"), "%s", fx_out(&f));
    /* dots however spelt, unreserved escapes decoded, "%2f" kept (upper
     * case) as one segment's '/' */
    fx_send(&f, "GET /a/%2E%2e/a/x/.%2e/%67/%7Euser/a%2fb HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strstr(fx_out(&f), "path=/a/g/~user/a%2Fb target=/a/%2E%2e/a/x/.%2e/%67/%7Euser/a%2fb rest=/~user/a%2Fb "
                                 "n=2 [~user] [a/b]"),
              "%s", fx_out(&f));
    cr_assert_eq(asked, 2);
    static const char *const refused[] = {
        "GET /.. HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a/../../a/g HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a/%2e%2e/%2E%2E/a/g HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a/g%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a/g% HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        fx_close(&f);
        root = weft_http_resource_new();
        a = weft_http_resource_new();
        cr_assert_eq(weft_http_resource_put_child(a, "g", leaf_with("GET", at_g, &asked)), 0);
        cr_assert_eq(weft_http_resource_put_child(root, "a", a), 0);
        fx_open(&f, root, NULL);
        fx_send(&f, refused[i]);
        cr_assert(strncmp(fx_out(&f), "HTTP/1.1 400 ", 13) == 0, "%s-> %s", refused[i], fx_out(&f));
    }
    cr_assert_eq(asked, 2, "no refused path reached a handler");
    fx_close(&f);
}

/* ---- pipelined requests when the connection is to end ---- */

typedef struct held2 {
    weft_http_request *req[2];
    int n;
} held2;

static void hold_two(void *arg, weft_http_request *req)
{
    held2 *h = arg;
    cr_assert_lt(h->n, 2);
    h->req[h->n++] = req;
}

/* The responses marked by bodies[] came in this order, and only the last
 * says "Connection: close" (RFC 9112 9.6: the server closes after sending
 * it); the ones before it keep the connection. */
static void expect_in_order(const char *out, const char *const *bodies, size_t n)
{
    const char *at = out;
    for (size_t i = 0; i + 1 < n; i++) {
        const char *next = strstr(at, bodies[i]);
        cr_assert(next, "%s missing, or out of order: %s", bodies[i], out);
        at = next + strlen(bodies[i]);
    }
    const char *close = strstr(out, "Connection: close\r\n");
    cr_assert(close && close > at, "only the last response says close: %s", out);
    cr_assert(strstr(at, bodies[n - 1]), "%s missing, or out of order: %s", bodies[n - 1], out);
}

/* Issue 10 (found with the HEAD refusal): a bad request pipelined behind
 * requests still unanswered made their responses say "Connection: close",
 * so the connection closed after the first of them: the others' responses
 * and the 400 owed were never sent. */
WEFT_TEST(http_server, a_refused_pipelined_request_gets_its_400_after_the_responses_before_it)
{
    held2 h = {0};
    fx f;
    fx_open(&f, leaf_with("GET", hold_two, &h), NULL);
    fx_send(&f, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /3 HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n");
    cr_assert_eq(h.n, 2);
    cr_assert_eq(weft_http_reply(h.req[0], 200, "text/plain", "one", 3), 0);
    cr_assert_eq(weft_http_reply(h.req[1], 200, "text/plain", "two", 3), 0);
    weft_reactor_iterate(f.r, 0);
    static const char *const order[] = {"\r\n\r\none", "\r\n\r\ntwo", "HTTP/1.1 400 Bad Request\r\n"};
    expect_in_order(fx_out(&f), order, 3);
    /* (half-closed first: the client's further bytes are read out, so that
     * no reset destroys the 400 unread) */
    cr_assert(fx_state(&f).write_eof_called || fx_state(&f).lose_called, "closed after the 400");
    fx_close(&f);
}

/* The same at a graceful stop: every request asked before it is answered,
 * and the last response closes. */
WEFT_TEST(http_server, quiesce_answers_every_pipelined_request_before_closing)
{
    held2 h = {0};
    fx f;
    fx_open(&f, leaf_with("GET", hold_two, &h), NULL);
    fx_send(&f, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(h.n, 2);
    weft_http_server_quiesce(f.s);
    cr_assert_eq(weft_http_reply(h.req[0], 200, "text/plain", "one", 3), 0);
    weft_reactor_iterate(f.r, 0);
    cr_assert_not(fx_state(&f).lose_called, "the second response is still owed");
    cr_assert_eq(weft_http_reply(h.req[1], 200, "text/plain", "two", 3), 0);
    weft_reactor_iterate(f.r, 0);
    static const char *const order[] = {"\r\n\r\none", "\r\n\r\ntwo"};
    expect_in_order(fx_out(&f), order, 2);
    cr_assert(fx_state(&f).lose_called, "then it closes");
    fx_close(&f);
}
