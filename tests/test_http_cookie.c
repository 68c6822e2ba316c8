/* SPDX-License-Identifier: MIT */
/* Cookies through the public API: the request's (string transports), the
 * response's Set-Cookie headers, and a round trip with curl's cookie jar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* The pairs as "name=value|...". */
static const char *show(const weft_http_args *a)
{
    static char buf[8192];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < weft_http_args_count(a); i++) {
        const char *name, *value;
        weft_http_args_at(a, i, &name, NULL, &value, NULL);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s=%s|", name, value);
    }
    return buf;
}

/* "/echo": the request's cookies, and "sid" on its own. */
static void echo(void *arg, weft_http_request *req)
{
    (void)arg;
    const weft_http_args *a;
    int rc = weft_http_request_cookies(req, &a);
    char text[8192];
    const char *sid = weft_http_request_cookie(req, "sid");
    int n = rc < 0 ? snprintf(text, sizeof text, "error %d", rc)
                   : snprintf(text, sizeof text, "%s sid=%s", show(a), sid ? sid : "(none)");
    weft_http_reply(req, 200, "text/plain", text, (size_t)n);
}

/* "/set": two cookies, and checks of what is refused. */
static void set(void *arg, weft_http_request *req)
{
    (void)arg;
    cr_assert_eq(weft_http_reply_set_cookie(req, "sid", "31d4d96e407aad42",
                                            &(weft_http_cookie_options){.path = "/",
                                                                        .secure = true,
                                                                        .http_only = true,
                                                                        .same_site = WEFT_HTTP_SAME_SITE_LAX}),
                 0);
    cr_assert_eq(weft_http_reply_set_cookie(req, "lang", "\"en-US\"",
                                            &(weft_http_cookie_options){.domain = "example.com",
                                                                        .expires = 1445412480,
                                                                        .max_age = 3600,
                                                                        .same_site = WEFT_HTTP_SAME_SITE_STRICT}),
                 0);
    cr_assert_eq(weft_http_reply_set_cookie(req, "gone", "", &(weft_http_cookie_options){.max_age = -1}), 0);
    cr_assert_eq(weft_http_reply_set_cookie(req, "plain", "v", NULL), 0);
    cr_assert_eq(weft_http_reply_set_cookie(req, "x", "y", &(weft_http_cookie_options){.same_site = WEFT_HTTP_SAME_SITE_NONE,
                                                                                        .secure = true}),
                 0);
    weft_http_reply(req, 200, "text/plain", "set", 3);
    cr_assert_eq(weft_http_reply_set_cookie(req, "late", "v", NULL), -EALREADY);
}

typedef struct fx {
    weft_reactor *r;
    weft_http_server *s;
    weft_string_transport *st;
} fx;

static void fx_open(fx *f)
{
    f->r = weft_test_clock();
    weft_http_resource *root = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_mount_handler(root, "/echo", echo, NULL), 0);
    cr_assert_eq(weft_http_resource_mount_handler(root, "/set", set, NULL), 0);
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

static const char *fx_get(fx *f, const char *request)
{
    weft_string_transport_clear(f->st);
    weft_string_transport_receive(f->st, request, strlen(request));
    for (int i = 0; i < 3; i++)
        weft_reactor_iterate(f->r, 0);
    const char *out = weft_string_transport_value(f->st, NULL);
    const char *body = strstr(out, "\r\n\r\n");
    cr_assert_not_null(body, "%s", out);
    return body + 4;
}

WEFT_TEST(http_cookie, request_cookies)
{
    fx f;
    fx_open(&f);
    cr_assert_str_eq(fx_get(&f, "GET /echo HTTP/1.1\r\nHost: x\r\n"
                                "Cookie: sid=abc; quoted=\"a b\"; spaced = v ;;  nameless; eq=x=y; empty=; \"=\"\r\n"
                                "Cookie: sid=second\r\n\r\n"),
                     "sid=abc|quoted=a b|spaced=v|=nameless|eq=x=y|empty=|\"=\"|sid=second| sid=abc");
    /* none; and the kept request does not keep the last one's */
    cr_assert_str_eq(fx_get(&f, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"), " sid=(none)");
    cr_assert_str_eq(fx_get(&f, "GET /echo HTTP/1.1\r\nHost: x\r\nCookie: SID=upper; sid=\"\"\r\n\r\n"),
                     "SID=upper|sid=| sid=");
    fx_close(&f);
}

WEFT_TEST(http_cookie, too_many_cookies)
{
    fx f;
    fx_open(&f);
    char req[8192] = "GET /echo HTTP/1.1\r\nHost: x\r\nCookie: ";
    size_t o = strlen(req);
    for (int i = 0; i < 1001; i++)
        o += (size_t)sprintf(req + o, "a;");
    strcpy(req + o, "\r\n\r\n");
    char want[32];
    snprintf(want, sizeof want, "error %d", -E2BIG);
    cr_assert_str_eq(fx_get(&f, req), want);
    fx_close(&f);
}

WEFT_TEST(http_cookie, set_cookie_headers_are_never_folded)
{
    fx f;
    fx_open(&f);
    fx_get(&f, "GET /set HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *out = weft_string_transport_value(f.st, NULL);
    cr_assert(strstr(out, "\r\nSet-Cookie: sid=31d4d96e407aad42; Path=/; Secure; HttpOnly; SameSite=Lax\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\nSet-Cookie: lang=\"en-US\"; Domain=example.com; Expires=Wed, 21 Oct 2015 07:28:00 GMT; "
                          "Max-Age=3600; SameSite=Strict\r\n"),
              "%s", out);
    cr_assert(strstr(out, "\r\nSet-Cookie: gone=; Max-Age=0\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\nSet-Cookie: plain=v\r\n"), "%s", out);
    cr_assert(strstr(out, "\r\nSet-Cookie: x=y; Secure; SameSite=None\r\n"), "%s", out);
    fx_close(&f);
}

/* What is refused: nothing is added, and the response goes on. */
static void refusals(void *arg, weft_http_request *req)
{
    (void)arg;
    const char *bad_names[] = {"", "a b", "a;b", "a=b", "a\r\nX: y", "\xc3\xa9", "(x)"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        cr_assert_eq(weft_http_reply_set_cookie(req, bad_names[i], "v", NULL), WEFT_EINVAL, "name %s", bad_names[i]);
    const char *bad_values[] = {"a b", "a;b", "a,b", "a\"b", "\"a", "a\\b", "a\r\nX: y", "a\tb", "\xc3\xa9", "\x7f"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
        cr_assert_eq(weft_http_reply_set_cookie(req, "n", bad_values[i], NULL), WEFT_EINVAL, "value %s",
                     bad_values[i]);
    const weft_http_cookie_options bad_opts[] = {
        {.path = "/a;b"},
        {.path = "/a\r\nX: y"},
        {.path = "/\xc3\xa9"},
        {.domain = ""},
        {.domain = "a b.com"},
        {.domain = "a.com;x"},
        {.same_site = WEFT_HTTP_SAME_SITE_NONE},
        {.same_site = (weft_http_same_site)7, .secure = true},
    };
    for (size_t i = 0; i < sizeof bad_opts / sizeof bad_opts[0]; i++)
        cr_assert_eq(weft_http_reply_set_cookie(req, "n", "v", &bad_opts[i]), WEFT_EINVAL, "options %zu", i);
    /* the prefixes */
    cr_assert_eq(weft_http_reply_set_cookie(req, "__Secure-a", "v", NULL), WEFT_EINVAL);
    cr_assert_eq(weft_http_reply_set_cookie(req, "__Host-a", "v", &(weft_http_cookie_options){.secure = true}),
                 WEFT_EINVAL);
    cr_assert_eq(weft_http_reply_set_cookie(req, "__Host-a", "v",
                                            &(weft_http_cookie_options){.secure = true, .path = "/", .domain = "a.b"}),
                 WEFT_EINVAL);
    cr_assert_eq(weft_http_reply_set_cookie(req, "__Host-a", "v",
                                            &(weft_http_cookie_options){.secure = true, .path = "/"}),
                 0);
    cr_assert_eq(weft_http_reply_set_cookie(req, "__Secure-a", "v", &(weft_http_cookie_options){.secure = true}), 0);
    /* every cookie-octet is taken, and an encoded value is one */
    char all[128], enc[512];
    size_t n = 0;
    for (int c = 0x21; c < 0x7f; c++)
        if (c != '"' && c != ',' && c != ';' && c != '\\')
            all[n++] = (char)c;
    all[n] = '\0';
    cr_assert_eq(weft_http_reply_set_cookie(req, "all", all, NULL), 0);
    weft_http_percent_encode(enc, sizeof enc, "a b;\"c\",\xc3\xa9", 10, WEFT_HTTP_PERCENT_COMPONENT);
    cr_assert_eq(weft_http_reply_set_cookie(req, "enc", enc, NULL), 0);
    weft_http_reply(req, 200, "text/plain", "ok", 2);
}

WEFT_TEST(http_cookie, refused_names_values_and_attributes)
{
    fx f;
    f.r = weft_test_clock();
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource_on(root, "GET", refusals, NULL);
    f.s = weft_http_server_new(f.r, root, NULL);
    weft_factory *fac = weft_http_server_factory(f.s);
    cr_assert_eq(weft_string_transport_new(f.r, fac->ops->build(fac, NULL), NULL, NULL, &f.st), 0);
    cr_assert_str_eq(fx_get(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "ok");
    const char *out = weft_string_transport_value(f.st, NULL);
    /* exactly the four accepted ones */
    size_t count = 0;
    for (const char *p = out; (p = strstr(p, "Set-Cookie:")); p++)
        count++;
    cr_assert_eq(count, 4, "%s", out);
    cr_assert(strstr(out, "\r\nSet-Cookie: enc=a%20b%3B%22c%22%2C%C3%A9\r\n"), "%s", out);
    fx_close(&f);
}

/* ---- curl's cookie jar ---- */

WEFT_TEST(http_cookie, curl_cookie_jar_round_trip)
{
    weft_reactor *r = weft_test_reactor();
    weft_http_resource *root = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_mount_handler(root, "/echo", echo, NULL), 0);
    cr_assert_eq(weft_http_resource_mount_handler(root, "/set", set, NULL), 0);
    weft_http_server *s = weft_http_server_new(r, root, NULL);
    weft_address a;
    weft_port *port;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_listen(r, &a, weft_http_server_factory(s), NULL, &port), 0);
    cr_assert_eq(weft_port_address(port, &a), 0);
    char set_url[64], echo_url[64], jar[] = "/tmp/weft_cookie_jarXXXXXX";
    snprintf(set_url, sizeof set_url, "http://127.0.0.1:%d/set", weft_address_port(&a));
    snprintf(echo_url, sizeof echo_url, "http://127.0.0.1:%d/echo", weft_address_port(&a));
    int fd = mkstemp(jar);
    cr_assert_geq(fd, 0);
    close(fd);

    /* -b sends cookies; -c keeps what the server sets */
    char *argv1[] = {"curl", "-sS", "--max-time", "20", "-b", "sid=from-curl; other=\"q\"", "-c", jar, set_url, NULL};
    char *argv2[] = {"curl", "-sS", "--max-time", "20", "-b", "sid=from-curl; other=\"q\"", echo_url, NULL};
    /* the jar back (curl takes 127.0.0.1 for a secure context, so the
     * Secure ones come too; not "lang", for another domain, nor "gone") */
    char *argv3[] = {"curl", "-sS", "--max-time", "20", "-b", jar, echo_url, NULL};
    char *const *runs[] = {argv1, argv2, argv3};
    const char *want[] = {"set", "sid=from-curl|other=q| sid=from-curl"};
    for (int i = 0; i < 3; i++) {
        weft_deferred *d = weft_process_output_of(r, "curl", runs[i], NULL, false);
        cr_assert_eq(weft_reactor_run_until(r, d, 30), 0);
        weft_result res;
        cr_assert_eq(weft_deferred_take(d, &res), 0);
        weft_deferred_unref(d);
        cr_assert(!weft_failed(res));
        weft_process_output *o = res.value;
        cr_assert_eq(o->code, 0, "%s", o->err);
        if (i < 2) {
            cr_assert_str_eq(o->out, want[i]);
        } else {
            const char *sent[] = {"plain=v|", "sid=31d4d96e407aad42|", "x=y|"};
            for (size_t k = 0; k < 3; k++)
                cr_assert(strstr(o->out, sent[k]), "%s", o->out);
            cr_assert(!strstr(o->out, "lang") && !strstr(o->out, "gone"), "%s", o->out);
            size_t len = strlen(o->out), tail = strlen(" sid=31d4d96e407aad42");
            cr_assert(len > tail && strcmp(o->out + len - tail, " sid=31d4d96e407aad42") == 0, "%s", o->out);
        }
        weft_result_free(res);
    }
    FILE *j = fopen(jar, "r");
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, j);
    text[n] = '\0';
    fclose(j);
    unlink(jar);
    /* Netscape format: domain, subdomains, path, secure, expiry, name, value */
    cr_assert(strstr(text, "#HttpOnly_127.0.0.1\tFALSE\t/\tTRUE\t0\tsid\t31d4d96e407aad42"), "%s", text);
    cr_assert(strstr(text, "\tplain\tv"), "%s", text);

    weft_deferred *d = weft_port_stop(port);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_deferred_unref(d);
    weft_http_server_free(s);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}
