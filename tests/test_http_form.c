/* SPDX-License-Identifier: MIT */
/* Percent-encoding, query arguments and form bodies, through the public
 * API: the parsers on their own, then a real server on a TCP port with curl
 * as the client. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* ---- percent-encoding ---- */

static void expect_encode(const char *in, size_t len, weft_http_percent_set set, const char *want)
{
    char out[256];
    size_t n = weft_http_percent_encode(out, sizeof out, in, len, set);
    cr_assert_eq(n, strlen(want), "length %zu for %s", n, want);
    cr_assert_str_eq(out, want);
}

WEFT_TEST(http_percent, encode_sets)
{
    const char all[] = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\x7f\xc3\xa9";
    size_t n = sizeof all - 1;
    /* what Python's quote(s, safe="") gives */
    expect_encode(all, n, WEFT_HTTP_PERCENT_UNRESERVED,
                  "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~%7F%C3%A9");
    /* quote(s, safe="!$&'()*+,;=:@") */
    expect_encode(all, n, WEFT_HTTP_PERCENT_PATH_SEGMENT,
                  "%20!%22%23$%25&'()*+,-.%2F:;%3C=%3E%3F@%5B%5C%5D%5E_%60%7B%7C%7D~%7F%C3%A9");
    /* what JavaScript's encodeURIComponent gives */
    expect_encode(all, n, WEFT_HTTP_PERCENT_COMPONENT,
                  "%20!%22%23%24%25%26'()*%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~%7F%C3%A9");
    /* what node's URLSearchParams and a browser's form give */
    expect_encode(all, n, WEFT_HTTP_PERCENT_FORM,
                  "+%21%22%23%24%25%26%27%28%29*%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D%7E%7F%C3%A9");
    expect_encode("aZ09", 4, WEFT_HTTP_PERCENT_FORM, "aZ09");
    expect_encode("a\0b", 3, WEFT_HTTP_PERCENT_UNRESERVED, "a%00b");
    expect_encode("", 0, WEFT_HTTP_PERCENT_FORM, "");
}

WEFT_TEST(http_percent, encode_truncates_like_snprintf)
{
    char out[6];
    memset(out, 'x', sizeof out);
    /* "a%2Fb" needs 5 + NUL: fits exactly */
    cr_assert_eq(weft_http_percent_encode(out, 6, "a/b", 3, WEFT_HTTP_PERCENT_UNRESERVED), 5);
    cr_assert_str_eq(out, "a%2Fb");
    /* one short: a whole prefix, never half an escape, and not the 'b' after it */
    cr_assert_eq(weft_http_percent_encode(out, 4, "a/b", 3, WEFT_HTTP_PERCENT_UNRESERVED), 5);
    cr_assert_str_eq(out, "a");
    cr_assert_eq(weft_http_percent_encode(out, 1, "a/b", 3, WEFT_HTTP_PERCENT_UNRESERVED), 5);
    cr_assert_str_eq(out, "");
    /* size 0 writes nothing at all */
    out[0] = 'x';
    cr_assert_eq(weft_http_percent_encode(out, 0, "abc", 3, WEFT_HTTP_PERCENT_UNRESERVED), 3);
    cr_assert_eq(out[0], 'x');
    cr_assert_eq(weft_http_percent_encode(NULL, 0, "a b", 3, WEFT_HTTP_PERCENT_COMPONENT), 5);
}

static void expect_decode(const char *in, unsigned flags, const char *want, size_t want_len)
{
    char out[256];
    size_t n = weft_http_percent_decode(out, in, strlen(in), flags);
    cr_assert_eq(n, want_len, "length %zu for %s", n, in);
    cr_assert(memcmp(out, want, n) == 0, "decoding %s", in);
}

WEFT_TEST(http_percent, decode)
{
    expect_decode("a%20b+c", 0, "a b+c", 5);
    expect_decode("a%20b+c", WEFT_HTTP_PERCENT_PLUS, "a b c", 5);
    expect_decode("%2b%2B", WEFT_HTTP_PERCENT_PLUS, "++", 2);
    expect_decode("%e2%82%ac%C3%A9", 0, "\xe2\x82\xac\xc3\xa9", 5);
    expect_decode("a%00b", 0, "a\0b", 3);
    /* malformed escapes stay as they are, with what follows them */
    expect_decode("%", 0, "%", 1);
    expect_decode("%4", 0, "%4", 2);
    expect_decode("100%", 0, "100%", 4);
    expect_decode("%zz%4g%%41", 0, "%zz%4g%A", 8);
    expect_decode("%%%", 0, "%%%", 3);
    expect_decode("", 0, "", 0);
}

WEFT_TEST(http_percent, decode_in_place_and_round_trip)
{
    char buf[] = "x%3Dy+%26+z";
    size_t n = weft_http_percent_decode(buf, buf, strlen(buf), WEFT_HTTP_PERCENT_PLUS);
    cr_assert_eq(n, 7);
    cr_assert(memcmp(buf, "x=y & z", 7) == 0);

    /* every byte, through every set, comes back */
    char all[256], enc[3 * 256 + 1], dec[3 * 256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    for (int set = WEFT_HTTP_PERCENT_UNRESERVED; set <= WEFT_HTTP_PERCENT_FORM; set++) {
        size_t e = weft_http_percent_encode(enc, sizeof enc, all, 256, (weft_http_percent_set)set);
        cr_assert_lt(e, sizeof enc);
        unsigned flags = set == WEFT_HTTP_PERCENT_FORM ? WEFT_HTTP_PERCENT_PLUS : 0;
        cr_assert_eq(weft_http_percent_decode(dec, enc, e, flags), 256);
        cr_assert(memcmp(dec, all, 256) == 0, "set %d", set);
    }
}

/* ---- argument lists ---- */

/* The pairs of a list as "name=value|..." with NULs shown as \0. */
static char *show(const weft_http_args *a)
{
    static char buf[4096];
    size_t o = 0;
    for (size_t i = 0; i < weft_http_args_count(a); i++) {
        const char *s[2];
        size_t n[2];
        weft_http_args_at(a, i, &s[0], &n[0], &s[1], &n[1]);
        for (int k = 0; k < 2; k++) {
            cr_assert_eq(s[k][n[k]], '\0', "NUL-terminated");
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

static void expect_args(const char *text, const char *want)
{
    weft_http_args *a = weft_http_args_new();
    cr_assert_not_null(a);
    cr_assert_eq(weft_http_args_parse(a, text, strlen(text), 0), 0, "%s", text);
    cr_assert_str_eq(show(a), want, "parsing %s", text);
    weft_http_args_free(a);
}

WEFT_TEST(http_args, parse_like_whatwg_and_parse_qsl)
{
    expect_args("", "");
    expect_args("test", "test=|");
    expect_args("a&b=&=c", "a=|b=|=c|");
    expect_args("&&&a=b&&&&c=d&", "a=b|c=d|");
    expect_args("a=b=c", "a=b=c|");
    expect_args("a==b", "a==b|");
    expect_args("=", "=|");
    expect_args("a+b=c+d%2B", "a b=c d+|");
    expect_args("a=1;b=2", "a=1;b=2|"); /* ';' separates nothing (Python >= 3.9.2, WHATWG) */
    expect_args("k=%E2%82%ac&%C3%A9=%c3%a9", "k=\xe2\x82\xac|\xc3\xa9=\xc3\xa9|");
    expect_args("a=%00b&%00=c", "a=\\0b|\\0=c|");
    /* malformed escapes: kept as they are */
    expect_args("a=100%&b=%zz&c=%4&%=%%", "a=100%|b=%zz|c=%4|%=%%|");
    expect_args("x=%FE%FF", "x=\xfe\xff|"); /* bytes, not checked for UTF-8 */
    expect_args("a=1&a=2&b=3&a=4", "a=1|a=2|b=3|a=4|");
}

WEFT_TEST(http_args, lookups_keep_order_and_lengths)
{
    weft_http_args *a = weft_http_args_new();
    const char *q = "tag=a&path=%2Ftmp%2Fx+y&tag=b&nul=a%00b&tag=&Tag=upper";
    cr_assert_eq(weft_http_args_parse(a, q, strlen(q), 0), 0);
    size_t len;
    cr_assert_str_eq(weft_http_args_get(a, "path", &len), "/tmp/x y");
    cr_assert_eq(len, 8);
    cr_assert_eq(weft_http_args_count_of(a, "tag"), 3);
    cr_assert_str_eq(weft_http_args_get(a, "tag", NULL), "a");
    cr_assert_str_eq(weft_http_args_get_nth(a, "tag", 1, NULL), "b");
    cr_assert_str_eq(weft_http_args_get_nth(a, "tag", 2, &len), "");
    cr_assert_eq(len, 0);
    cr_assert_null(weft_http_args_get_nth(a, "tag", 3, &len));
    cr_assert_eq(len, 0);
    cr_assert_str_eq(weft_http_args_get(a, "Tag", NULL), "upper"); /* case matters */
    const char *v = weft_http_args_get(a, "nul", &len);
    cr_assert_eq(len, 3);
    cr_assert(memcmp(v, "a\0b", 3) == 0);
    cr_assert_null(weft_http_args_get(a, "missing", NULL));
    cr_assert_eq(weft_http_args_count_of(a, "missing"), 0);
    /* a NULL list is an empty one */
    cr_assert_null(weft_http_args_get(NULL, "tag", NULL));
    cr_assert_eq(weft_http_args_count(NULL), 0);
    /* out of range */
    const char *n = "x";
    weft_http_args_at(a, 99, &n, NULL, NULL, NULL);
    cr_assert_null(n);
    /* add copies and does not decode */
    cr_assert_eq(weft_http_args_add(a, "raw", 3, "%41+", 4), 0);
    cr_assert_str_eq(weft_http_args_get(a, "raw", NULL), "%41+");
    cr_assert_eq(weft_http_args_count(a), 7);
    weft_http_args_free(a);
    weft_http_args_free(NULL);
}

WEFT_TEST(http_args, limit_refuses_before_allocating)
{
    weft_http_args *a = weft_http_args_new();
    /* 1000 pairs: taken; 1001: refused, and nothing added */
    size_t n = 1001;
    char *q = malloc(2 * n);
    for (size_t i = 0; i < n; i++)
        q[2 * i] = 'a', q[2 * i + 1] = '&';
    cr_assert_eq(weft_http_args_parse(a, q, 2 * n - 1, 0), -E2BIG);
    cr_assert_eq(weft_http_args_count(a), 0);
    cr_assert_eq(weft_http_args_parse(a, q, 2 * (n - 1) - 1, 0), 0);
    cr_assert_eq(weft_http_args_count(a), 1000);
    /* the limit counts what the list already holds */
    cr_assert_eq(weft_http_args_parse(a, "b=1", 3, 0), -E2BIG);
    cr_assert_eq(weft_http_args_parse(a, "b=1", 3, 1001), 0);
    cr_assert_eq(weft_http_args_parse(a, "", 0, 1001), 0); /* no pair is never too many */
    free(q);
    weft_http_args_free(a);

    /* a million '&' are no pairs at all; a million pairs under a limit of
     * 5 are refused by the count, before any entry is made */
    size_t big = 1u << 20;
    q = malloc(2 * big);
    memset(q, '&', big);
    a = weft_http_args_new();
    cr_assert_eq(weft_http_args_parse(a, q, big, 5), 0);
    cr_assert_eq(weft_http_args_count(a), 0);
    for (size_t i = 0; i < big; i++)
        q[2 * i] = 'x', q[2 * i + 1] = '&';
    cr_assert_eq(weft_http_args_parse(a, q, 2 * big, 5), -E2BIG);
    cr_assert_eq(weft_http_args_count(a), 0);
    weft_http_args_free(a);
    free(q);
}

WEFT_TEST(http_args, encode_round_trips)
{
    weft_http_args *a = weft_http_args_new();
    cr_assert_eq(weft_http_args_add(a, "a b", 3, "x&y=z", 5), 0);
    cr_assert_eq(weft_http_args_add(a, "", 0, "", 0), 0);
    cr_assert_eq(weft_http_args_add(a, "n\0l", 3, "\xc3\xa9+%", 4), 0);
    size_t len;
    char *s = weft_http_args_encode(a, &len);
    cr_assert_str_eq(s, "a+b=x%26y%3Dz&=&n%00l=%C3%A9%2B%25");
    cr_assert_eq(len, strlen(s));
    weft_http_args *b = weft_http_args_new();
    cr_assert_eq(weft_http_args_parse(b, s, len, 0), 0);
    char *t = weft_http_args_encode(b, NULL);
    /* "=" is the empty name with the empty value, and comes back as one */
    cr_assert_str_eq(t, s);
    weft_free(s);
    weft_free(t);
    s = weft_http_args_encode(NULL, &len);
    cr_assert_str_eq(s, "");
    cr_assert_eq(len, 0);
    weft_free(s);
    weft_http_args_free(a);
    weft_http_args_free(b);
}

static void parse_some(void *arg)
{
    (void)arg;
    weft_http_args *a = weft_http_args_new();
    if (!a)
        return;
    const char *q = "a=1&b=%20&c&d=4&e=5&f=6&g=7&h=8&i=9&j=10";
    if (weft_http_args_parse(a, q, strlen(q), 0) == 0) {
        cr_assert_eq(weft_http_args_count(a), 10);
        cr_assert_str_eq(weft_http_args_get(a, "b", NULL), " ");
    } else {
        cr_assert_eq(weft_http_args_count(a), 0, "a failed parse adds nothing");
    }
    char *s = weft_http_args_encode(a, NULL);
    weft_free(s);
    weft_http_args_free(a);
}

WEFT_TEST(http_args, out_of_memory_at_each_allocation)
{
    cr_assert_gt(weft_test_each_alloc_failure(parse_some, NULL), 2);
}

/* ---- the request's arguments and urlencoded forms, over a string transport ---- */

typedef struct fx {
    weft_reactor *r;
    weft_http_server *s;
    weft_string_transport *st;
    weft_test_log log;
    weft_http_form_options o;
    int form_code; /* 1 once read, else the failure's code */
    bool read_twice;
} fx;

/* "/find": the one call a handler makes for ?path=X */
static void find(void *arg, weft_http_request *req)
{
    (void)arg;
    size_t len;
    const char *path = weft_http_request_arg(req, "path", &len);
    if (!path) {
        const weft_http_args *a;
        int rc = weft_http_request_args(req, &a);
        weft_http_reply_error(req, 400, rc == -E2BIG ? "too many arguments" : "no path");
        return;
    }
    weft_http_reply(req, 200, "text/plain", path, len);
}

static weft_result form_answer(void *arg, weft_result res)
{
    weft_http_request *req = arg;
    if (weft_failed(res)) {
        weft_http_reply_error(req, 500, "the handler's page"); /* -EALREADY after weft's 400/413 */
        return res;
    }
    const char *text = show(res.value);
    weft_http_reply(req, 200, "text/plain", text, strlen(text));
    return res;
}

static weft_result form_record(void *arg, weft_result res)
{
    fx *f = arg;
    f->form_code = weft_failed(res) ? weft_failure_code(res.value) : 1;
    weft_result_free(res);
    return weft_none();
}

static weft_result second_read(void *arg, weft_result res)
{
    weft_http_request *req = arg;
    weft_deferred *d = weft_http_request_read_form(req, NULL);
    weft_result again;
    cr_assert(weft_deferred_peek(d, &again) && weft_failed(again));
    cr_assert_eq(weft_failure_code(again.value), -EALREADY);
    weft_deferred_cancel(d); /* nothing to cancel: it has its failure */
    weft_result taken;
    cr_assert_eq(weft_deferred_take(d, &taken), 0);
    weft_result_free(taken);
    weft_deferred_unref(d);
    return res;
}

static void form(void *arg, weft_http_request *req)
{
    fx *f = arg;
    weft_deferred *d = weft_http_request_read_form(req, &f->o);
    cr_assert_not_null(d);
    if (f->read_twice)
        cr_assert_eq(weft_deferred_add_callback(d, second_read, req), 0);
    cr_assert_eq(weft_deferred_add_both(d, form_answer, req), 0);
    cr_assert_eq(weft_deferred_add_both(d, form_record, f), 0);
    weft_deferred_unref(d);
}

/* A coroutine handler: await the form, return its failure as it is. */
static weft_result form_coro(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_result r = weft_await(weft_http_request_read_form(req, NULL));
    if (weft_failed(r))
        return r;
    const char *text = show(r.value);
    weft_http_reply(req, 200, "text/plain", text, strlen(text));
    return weft_none();
}

/* "/body": the form read first (a JSON body: left alone), then the body. */
static weft_result body_read(void *arg, weft_result res)
{
    weft_http_request *req = arg;
    if (weft_failed(res)) {
        weft_http_reply_error(req, 500, NULL);
    } else {
        weft_bytes *b = res.value;
        weft_http_reply(req, 200, "application/json", b->data, b->len);
    }
    weft_result_free(res);
    return weft_none();
}

static weft_result args_then_body(void *arg, weft_result res)
{
    weft_http_request *req = arg;
    cr_assert(!weft_failed(res));
    weft_deferred *d = weft_http_request_read_body(req);
    cr_assert_eq(weft_deferred_add_both(d, body_read, req), 0);
    weft_deferred_unref(d);
    return res;
}

static void body_after_form(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_deferred *d = weft_http_request_read_form(req, NULL);
    cr_assert(weft_deferred_peek(d, NULL), "fired at once for another Content-Type");
    cr_assert_eq(weft_deferred_add_callback(d, args_then_body, req), 0);
    weft_deferred_unref(d);
}

static void fx_open(fx *f)
{
    f->r = weft_test_clock();
    weft_test_log_capture(f->r, &f->log);
    weft_http_resource *root = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_mount_handler(root, "/find", find, f), 0);
    cr_assert_eq(weft_http_resource_mount_handler(root, "/form", form, f), 0);
    cr_assert_eq(weft_http_resource_mount_handler(root, "/body", body_after_form, f), 0);
    weft_http_resource *c = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on_coro(c, "*", form_coro, f), 0);
    cr_assert_eq(weft_http_resource_mount(root, "/coro", c), 0);
    f->s = weft_http_server_new(f->r, root, NULL);
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
}

static const char *fx_send(fx *f, const char *data)
{
    weft_string_transport_clear(f->st);
    weft_string_transport_receive(f->st, data, strlen(data));
    for (int i = 0; i < 4; i++)
        weft_reactor_iterate(f->r, 0);
    return weft_string_transport_value(f->st, NULL);
}

static const char *body_of(const char *response)
{
    const char *b = strstr(response, "\r\n\r\n");
    return b ? b + 4 : "";
}

WEFT_TEST(http_form, one_call_for_a_query_argument)
{
    fx f = {0};
    fx_open(&f);
    const char *out = fx_send(&f, "GET /find?x=1&path=%2Ftmp%2Fa+b%26c&path=second HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_str_eq(body_of(out), "/tmp/a b&c");
    out = fx_send(&f, "GET /find?nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strncmp(out, "HTTP/1.1 400 ", 13) == 0 && strstr(out, "no path"), "%s", out);
    out = fx_send(&f, "GET /find HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strstr(out, "no path"), "%s", out);
    /* a NUL in the value: the length says where it ends */
    out = fx_send(&f, "GET /find?path=a%00b HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(strstr(out, "Content-Length: 3\r\n"), "%s", out);
    fx_close(&f);
}

WEFT_TEST(http_form, a_query_with_too_many_arguments)
{
    fx f = {0};
    fx_open(&f);
    char req[4096] = "GET /find?";
    size_t o = strlen(req);
    for (int i = 0; i < 1001; i++)
        req[o++] = 'a', req[o++] = '&';
    strcpy(req + o, " HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *out = fx_send(&f, req);
    cr_assert(strstr(out, "too many arguments"), "%s", out);
    /* read_form says the same, and weft answers it */
    memcpy(req, "GET /form?", 10);
    out = fx_send(&f, req);
    cr_assert(strncmp(out, "HTTP/1.1 400 ", 13) == 0 && strstr(out, "too many arguments in the query"), "%s", out);
    cr_assert_eq(f.form_code, -E2BIG);
    fx_close(&f);
}

WEFT_TEST(http_form, urlencoded_body_after_the_query)
{
    fx f = {0};
    fx_open(&f);
    const char *out = fx_send(&f, "POST /form?q=0&a=query HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Type: Application/X-WWW-Form-Urlencoded; charset=UTF-8\r\n"
                                  "Content-Length: 25\r\n\r\na=body&b=2+3&c=%C3%A9&&=e");
    cr_assert_str_eq(body_of(out), "q=0|a=query|a=body|b=2 3|c=\xc3\xa9|=e|");
    cr_assert_eq(f.form_code, 1);
    /* chunked, in pieces, on the same connection: the kept request starts
     * with no arguments of the last one */
    out = fx_send(&f, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n3\r\nx=1\r\n");
    cr_assert_str_eq(out, "");
    out = fx_send(&f, "4\r\n&y=2\r\n0\r\n\r\n");
    cr_assert_str_eq(body_of(out), "x=1|y=2|");
    /* no body at all */
    out = fx_send(&f, "POST /form?only=query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: 0\r\n\r\n");
    cr_assert_str_eq(body_of(out), "only=query|");
    fx_close(&f);
}

WEFT_TEST(http_form, other_bodies_are_left_alone)
{
    fx f = {0};
    fx_open(&f);
    const char *out = fx_send(&f, "POST /body?x=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 8\r\n\r\n{\"a\":1}\n");
    cr_assert_str_eq(body_of(out), "{\"a\":1}\n");
    /* and a GET's form is its query */
    out = fx_send(&f, "GET /form?a=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_str_eq(body_of(out), "a=1|");
    fx_close(&f);
}

WEFT_TEST(http_form, urlencoded_limits)
{
    fx f = {.o = {.max_field_bytes = 20, .max_fields = 3}};
    fx_open(&f);
    /* declared too large: refused before reading */
    const char *out = fx_send(&f, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                  "Content-Length: 21\r\n\r\naaaaaaaaaaaaaaaaaaaaa");
    cr_assert(strncmp(out, "HTTP/1.1 413 ", 13) == 0 && strstr(out, "Connection: close"), "%s", out);
    cr_assert_eq(f.form_code, -EMSGSIZE);
    fx_close(&f);

    fx g = {.o = {.max_field_bytes = 20, .max_fields = 3}};
    fx_open(&g);
    /* chunked past the limit */
    out = fx_send(&g, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n10\r\naaaaaaaaaaaaaaaa\r\n10\r\naaaaaaaaaaaaaaaa\r\n");
    cr_assert(strncmp(out, "HTTP/1.1 413 ", 13) == 0, "%s", out);
    cr_assert_eq(g.form_code, -EMSGSIZE);
    fx_close(&g);

    fx h = {.o = {.max_fields = 3}};
    fx_open(&h);
    out = fx_send(&h, "POST /form?q=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: 7\r\n\r\na&b&c&d");
    cr_assert(strncmp(out, "HTTP/1.1 400 ", 13) == 0 && strstr(out, "too many fields"), "%s", out);
    cr_assert_eq(h.form_code, -E2BIG);
    fx_close(&h);
}

WEFT_TEST(http_form, read_twice_fails_the_second_time)
{
    fx f = {.read_twice = true};
    fx_open(&f);
    const char *out = fx_send(&f, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                  "Content-Length: 3\r\n\r\na=1");
    cr_assert_str_eq(body_of(out), "a=1|");
    fx_close(&f);
}

WEFT_TEST(http_form, coroutine_handler_awaits_the_form)
{
    fx f = {0};
    fx_open(&f);
    const char *out = fx_send(&f, "POST /coro?c=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                  "Content-Length: 3\r\n\r\na=1");
    cr_assert_str_eq(body_of(out), "c=1|a=1|");
    /* a bad form: the coroutine returns the failure, the client sees 400, not 500 */
    out = fx_send(&f, "POST /coro HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data\r\n"
                      "Content-Length: 3\r\n\r\na=1");
    cr_assert(strncmp(out, "HTTP/1.1 400 ", 13) == 0 && strstr(out, "without a boundary"), "%s", out);
    fx_close(&f);
}

/* ---- a real server with curl ---- */

typedef struct srv {
    weft_reactor *r;
    weft_http_server *s;
    weft_port *port;
    char base[64];
    size_t pause_every; /* upload drains pause this often, resumed from the loop */
} srv;

/* A drain hashing a file part, pausing now and then. */
typedef struct hasher {
    weft_drain d;
    srv *v;
    weft_http_request *req;
    EVP_MD_CTX *md;
    char name[64], filename[128], ctype[64];
    size_t len, since_pause;
    size_t pauses;
    int end_code;
    weft_timer t;
    struct hasher *next;
} hasher;

typedef struct upload {
    srv *v;
    hasher *files;
} upload;

static void hasher_resume(void *arg)
{
    hasher *h = arg;
    if (h->d.fount)
        weft_fount_resume(h->d.fount);
}

static void hasher_receive(weft_drain *d, const void *data, size_t len)
{
    hasher *h = (hasher *)d;
    EVP_DigestUpdate(h->md, data, len);
    h->len += len;
    h->since_pause += len;
    if (h->v->pause_every && h->since_pause >= h->v->pause_every) {
        h->since_pause = 0;
        h->pauses++;
        weft_fount_pause(d->fount);
        cr_assert_eq(weft_call_later(h->v->r, 0, hasher_resume, h, &h->t), 0);
    }
}

static void hasher_stopped(weft_drain *d, const weft_failure *why)
{
    hasher *h = (hasher *)d;
    h->end_code = weft_failure_code(why);
}

static const weft_drain_ops hasher_ops = {.receive = hasher_receive, .flow_stopped = hasher_stopped};

static void on_upload(void *arg, weft_http_request *req, weft_http_part *part)
{
    upload *u = arg;
    hasher *h = calloc(1, sizeof *h);
    h->d.ops = &hasher_ops;
    h->v = u->v;
    h->req = req;
    h->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(h->md, EVP_sha256(), NULL);
    snprintf(h->name, sizeof h->name, "%s", weft_http_part_name(part));
    snprintf(h->filename, sizeof h->filename, "%s", weft_http_part_filename(part));
    const char *ct = weft_http_part_content_type(part);
    snprintf(h->ctype, sizeof h->ctype, "%s", ct ? ct : "");
    h->next = u->files;
    u->files = h;
    weft_flow_to(weft_http_part_body(part), &h->d);
}

static void upload_free(upload *u)
{
    while (u->files) {
        hasher *h = u->files;
        u->files = h->next;
        EVP_MD_CTX_free(h->md);
        free(h);
    }
    free(u);
}

/* Reads the form, files hashed as they stream; answers "name=value|...\n"
 * then a line per file: "file NAME FILENAME TYPE LENGTH SHA256 EOF|CUT
 * paused=yes|no". */
static weft_result upload_coro(void *arg, weft_http_request *req)
{
    srv *v = arg;
    upload *u = calloc(1, sizeof *u);
    u->v = v;
    weft_http_request_set_max_body(req, 64u << 20);
    weft_http_form_options o = {.on_file = on_upload, .arg = u};
    weft_result r = weft_await(weft_http_request_read_form(req, &o));
    if (weft_failed(r)) {
        upload_free(u);
        return r;
    }
    char *text = malloc(65536);
    int n = snprintf(text, 65536, "%s\n", show(r.value));
    for (hasher *h = u->files; h; h = h->next) {
        unsigned char md[32];
        unsigned mdlen;
        EVP_DigestFinal_ex(h->md, md, &mdlen);
        n += snprintf(text + n, 65536 - (size_t)n, "file %s %s %s %zu ", h->name, h->filename, h->ctype, h->len);
        for (unsigned i = 0; i < mdlen; i++)
            n += snprintf(text + n, 65536 - (size_t)n, "%02x", md[i]);
        n += snprintf(text + n, 65536 - (size_t)n, " %s paused=%s\n", h->end_code == WEFT_EOF ? "EOF" : "CUT",
                      h->pauses ? "yes" : "no");
    }
    weft_http_reply(req, 200, "text/plain", text, (size_t)n);
    free(text);
    upload_free(u);
    return weft_none();
}

static void echo_args(void *arg, weft_http_request *req)
{
    (void)arg;
    const weft_http_args *a;
    if (weft_http_request_args(req, &a) < 0) {
        weft_http_reply_error(req, 400, NULL);
        return;
    }
    const char *text = show(a);
    weft_http_reply(req, 200, "text/plain", text, strlen(text));
}

static void srv_start(srv *v)
{
    v->r = weft_test_reactor();
    weft_http_resource *root = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_mount_handler(root, "/args", echo_args, v), 0);
    weft_http_resource *up = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on_coro(up, "POST", upload_coro, v), 0);
    cr_assert_eq(weft_http_resource_mount(root, "/upload", up), 0);
    v->s = weft_http_server_new(v->r, root, NULL);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_listen(v->r, &a, weft_http_server_factory(v->s), NULL, &v->port), 0);
    cr_assert_eq(weft_port_address(v->port, &a), 0);
    snprintf(v->base, sizeof v->base, "http://127.0.0.1:%d", weft_address_port(&a));
}

static void srv_stop(srv *v)
{
    weft_deferred *d = weft_port_stop(v->port);
    cr_assert_eq(weft_reactor_run_until(v->r, d, 10), 0);
    weft_deferred_unref(d);
    weft_http_server_free(v->s);
    weft_reactor_iterate(v->r, 0);
    weft_reactor_free(v->r);
}

/* Runs argv to its end while the server serves; the caller frees the
 * output (weft_process_output_free). */
static weft_process_output *run(srv *v, char *const argv[])
{
    weft_deferred *d = weft_process_output_of(v->r, argv[0], argv, NULL, false);
    cr_assert_not_null(d);
    cr_assert_eq(weft_reactor_run_until(v->r, d, 60), 0, "%s did not finish", argv[0]);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    cr_assert(!weft_failed(res), "%s: %s", argv[0], weft_failed(res) ? weft_failure_message(res.value) : "");
    return weft_result_take(&res);
}

static char *url(const srv *v, const char *path)
{
    static char bufs[4][256];
    static int i;
    char *b = bufs[i++ % 4];
    snprintf(b, sizeof bufs[0], "%s%s", v->base, path);
    return b;
}

/* A temporary file of n pseudo-random bytes; its SHA-256 in hex. */
static void temp_file(char *path, size_t n, char hex[65])
{
    strcpy(path, "/tmp/weft_http_formXXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    unsigned char buf[65536];
    uint32_t x = 2463534242u;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof buf ? n - done : sizeof buf;
        for (size_t i = 0; i < k; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            buf[i] = (unsigned char)x;
        }
        /* CRs and delimiter-like runs, as a hostile file might hold */
        if (done == 0 && k > 64)
            memcpy(buf + 10, "\r\n--------------------------\r\n--", 32);
        EVP_DigestUpdate(md, buf, k);
        cr_assert_eq(write(fd, buf, k), (ssize_t)k);
        done += k;
    }
    close(fd);
    unsigned char d[32];
    unsigned dl;
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    for (unsigned i = 0; i < dl; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

WEFT_TEST(http_form, curl_query_arguments)
{
    srv v = {0};
    srv_start(&v);
    char *argv[] = {"curl", "-sS", "--max-time", "20", "-G", "--data-urlencode", "path=/tmp/a b&c=d",
                    "--data-urlencode", "name=\xc3\xa9t\xc3\xa9+100%", "-d", "flag", "-d", "empty=",
                    url(&v, "/args"), NULL};
    weft_process_output *o = run(&v, argv);
    cr_assert_eq(o->code, 0, "%s", o->err);
    cr_assert_str_eq(o->out, "path=/tmp/a b&c=d|name=\xc3\xa9t\xc3\xa9+100%|flag=|empty=|");
    weft_process_output_free(o);
    srv_stop(&v);
}

WEFT_TEST(http_form, curl_urlencoded_post)
{
    srv v = {0};
    srv_start(&v);
    char *argv[] = {"curl", "-sS", "--max-time", "20", "--data-urlencode", "a=x y&z", "--data-urlencode",
                    "a=second", url(&v, "/upload?q=1"), NULL};
    weft_process_output *o = run(&v, argv);
    cr_assert_eq(o->code, 0, "%s", o->err);
    cr_assert_str_eq(o->out, "q=1|a=x y&z|a=second|\n");
    weft_process_output_free(o);
    srv_stop(&v);
}

/* A 24 MiB upload with curl -F, hashed on the server as it streams, its
 * drain pausing every 256 KiB. */
WEFT_TEST(http_form, curl_multipart_upload, .timeout = 120)
{
    srv v = {.pause_every = 256 * 1024};
    char path[64], hex[65], fileopt[128];
    size_t n = 24u << 20;
    temp_file(path, n, hex);
    srv_start(&v);
    snprintf(fileopt, sizeof fileopt, "file=@%s;filename=big \"upload\".bin;type=application/x-test", path);
    char *argv[] = {"curl", "-sS", "--max-time", "60", "-F", "title=hello world", "-F", fileopt, "-F", "after=1",
                    url(&v, "/upload"), NULL};
    weft_process_output *o = run(&v, argv);
    unlink(path);
    cr_assert_eq(o->code, 0, "%s", o->err);
    char want[512];
    /* curl sends '"' in a filename as %22, as browsers do */
    snprintf(want, sizeof want, "title=hello world|after=1|\nfile file big %%22upload%%22.bin application/x-test %zu %s EOF paused=yes\n",
             n, hex);
    cr_assert_str_eq(o->out, want);
    weft_process_output_free(o);
    srv_stop(&v);
}

static weft_process_output *curl_post(srv *v, const char *ctype, const char *body_file)
{
    char header[256], data[128];
    snprintf(header, sizeof header, "Content-Type: %s", ctype);
    snprintf(data, sizeof data, "@%s", body_file);
    char *argv[] = {"curl", "-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}", "-H", header,
                    "--data-binary", data, url(v, "/upload"), NULL};
    return run(v, argv);
}

/* The hostile cases against a real server: each gets its status, and the
 * server goes on serving. */
WEFT_TEST(http_form, curl_hostile_forms)
{
    srv v = {0};
    srv_start(&v);
    char path[] = "/tmp/weft_http_form_hostileXXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    struct {
        const char *ctype, *head;
        size_t reps;
        const char *piece, *tail;
        const char *status;
    } cases[] = {
        /* too many parts */
        {"multipart/form-data; boundary=b", "", 2000, "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n",
         "--b--\r\n", "400"},
        /* a header flood in one part */
        {"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=a\r\n", 3000,
         "X-Flood: yyyyyyyy\r\n", "\r\n--b--", "400"},
        /* a file of delimiter prefixes, with no closing delimiter */
        {"multipart/form-data; boundary=boundary",
         "--boundary\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n", 50000, "\r\n--bound", "",
         "400"},
        /* no boundary */
        {"multipart/form-data", "", 1, "--b\r\n", "", "400"},
        /* fields past max_field_bytes (1 MiB) */
        {"application/x-www-form-urlencoded", "", 30000, "a=0123456789012345678901234567890123456789&", "", "413"},
        {"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n", 30000,
         "0123456789012345678901234567890123456789", "\r\n--b--", "413"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cr_assert_eq(ftruncate(fd, 0), 0);
        lseek(fd, 0, SEEK_SET);
        cr_assert_eq(write(fd, cases[c].head, strlen(cases[c].head)), (ssize_t)strlen(cases[c].head));
        for (size_t i = 0; i < cases[c].reps; i++)
            cr_assert_eq(write(fd, cases[c].piece, strlen(cases[c].piece)), (ssize_t)strlen(cases[c].piece));
        cr_assert_eq(write(fd, cases[c].tail, strlen(cases[c].tail)), (ssize_t)strlen(cases[c].tail));
        weft_process_output *o = curl_post(&v, cases[c].ctype, path);
        cr_assert_str_eq(o->out, cases[c].status, "case %zu: %s %s", c, o->out, o->err);
        weft_process_output_free(o);
    }
    close(fd);
    unlink(path);
    /* still serving */
    char *argv[] = {"curl", "-sS", "--max-time", "20", url(&v, "/args?ok=1"), NULL};
    weft_process_output *o = run(&v, argv);
    cr_assert_str_eq(o->out, "ok=1|");
    weft_process_output_free(o);
    srv_stop(&v);
}
