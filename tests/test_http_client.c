/* SPDX-License-Identifier: MIT */
/* The HTTP client agent: against canned servers written here as weft
 * protocols over real TCP on 127.0.0.1 (content-length, chunked and
 * close-delimited bodies, keep-alive and the pool's limits, retries,
 * malformed responses, 1xx, redirects, timeouts, backpressure), then
 * against Python's http.server, nginx and a weft TLS server. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs.h"
#include "weft/memory_reactor.h"
#include "proc.h"
#include "test.h"

/* ---- a canned server ---- */

typedef struct srv srv;

typedef struct sconn {
    weft_protocol base;
    srv *s;
    char *in;
    size_t len, cap;
    int served; /* requests seen on this connection */
    /* a big body written as the transport takes it */
    weft_producer prod;
    size_t big_total, big_sent;
    bool big_paused, big_on;
    bool discarding;
} sconn;

/* Answers one request: method, path, the whole head, and the body. */
typedef void (*handler_fn)(srv *s, sconn *c, const char *method, const char *path, const char *head,
                           const char *body, size_t body_len);

struct srv {
    weft_factory f;
    weft_reactor *r;
    weft_port *port;
    int port_no;
    handler_fn handle;
    int accepted, requests, lost;
    char head[4096];     /* the last request's head */
    char body[4096];     /* and body (truncated) */
    size_t body_len;
    char methods[16][16];
    char paths[16][128];
    weft_deferred *waiter; /* fired when requests reaches want */
    int want;
    sconn *held[8];
    int nheld;
    sconn *big; /* sending a big body */
    const char *early; /* answered as soon as a head is in, then closed */
};

static void big_write(sconn *c)
{
    static char chunk[65536];
    while (c->big_on && !c->big_paused && c->big_sent < c->big_total && c->base.transport) {
        size_t n = c->big_total - c->big_sent < sizeof chunk ? c->big_total - c->big_sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (char)((c->big_sent + i) % 251);
        c->big_sent += n;
        weft_transport_write(c->base.transport, chunk, n);
    }
}

#define SCONN_OF_PROD(p) ((sconn *)(void *)((char *)(p)-offsetof(sconn, prod)))

static void big_pause(weft_producer *p)
{
    SCONN_OF_PROD(p)->big_paused = true;
}

static void big_resume(weft_producer *p)
{
    sconn *c = SCONN_OF_PROD(p);
    c->big_paused = false;
    big_write(c);
}

static void big_stop(weft_producer *p)
{
    SCONN_OF_PROD(p)->big_on = false;
}

static const weft_producer_ops big_ops = {big_pause, big_resume, big_stop};

/* Starts sending `total` bytes of pattern (byte i is i % 251). */
static void send_big(sconn *c, size_t total)
{
    c->prod.ops = &big_ops;
    c->big_total = total;
    c->big_sent = 0;
    c->big_on = true;
    cr_assert_eq(weft_transport_register_producer(c->base.transport, &c->prod, true), 0);
    big_write(c);
}

static void reply(sconn *c, const char *raw)
{
    weft_transport_write(c->base.transport, raw, strlen(raw));
}

static void reply_close(sconn *c, const char *raw)
{
    reply(c, raw);
    weft_transport_lose_connection(c->base.transport);
}

static const char *find_header(const char *head, const char *name, char *out, size_t n)
{
    char key[64];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *h = strcasestr(head, key);
    if (!h)
        return NULL;
    h += strlen(key);
    while (*h == ' ')
        h++;
    size_t l = strcspn(h, "\r");
    if (l >= n)
        l = n - 1;
    memcpy(out, h, l);
    out[l] = 0;
    return out;
}

/* Length of a complete request at the start of c->in (0: not complete);
 * the body is decoded into body/body_len. */
static size_t complete_request(sconn *c, char **body, size_t *body_len)
{
    char *end = memmem(c->in, c->len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head_len = (size_t)(end - c->in) + 4;
    char head[4096];
    size_t hl = head_len < sizeof head - 1 ? head_len : sizeof head - 1;
    memcpy(head, c->in, hl);
    head[hl] = 0;
    char v[64];
    *body = NULL;
    *body_len = 0;
    if (find_header(head, "Content-Length", v, sizeof v)) {
        size_t n = strtoul(v, NULL, 10);
        if (c->len < head_len + n)
            return 0;
        *body = malloc(n + 1);
        memcpy(*body, c->in + head_len, n);
        *body_len = n;
        return head_len + n;
    }
    if (find_header(head, "Transfer-Encoding", v, sizeof v)) {
        size_t pos = head_len, out = 0;
        char *b = malloc(c->len + 1);
        for (;;) {
            char *crlf = memmem(c->in + pos, c->len - pos, "\r\n", 2);
            if (!crlf) {
                free(b);
                return 0;
            }
            size_t n = strtoul(c->in + pos, NULL, 16);
            pos = (size_t)(crlf - c->in) + 2;
            if (n == 0) {
                if (c->len < pos + 2) {
                    free(b);
                    return 0;
                }
                *body = b;
                *body_len = out;
                return pos + 2;
            }
            if (c->len < pos + n + 2) {
                free(b);
                return 0;
            }
            memcpy(b + out, c->in + pos, n);
            out += n;
            pos += n + 2;
        }
    }
    return head_len;
}

static void s_made(weft_protocol *p)
{
    sconn *c = (sconn *)p;
    c->s->accepted++;
}

static void s_data(weft_protocol *p, const void *data, size_t len)
{
    sconn *c = (sconn *)p;
    srv *s = c->s;
    if (c->len + len > c->cap) {
        c->cap = (c->len + len) * 2;
        c->in = realloc(c->in, c->cap + 1);
    }
    memcpy(c->in + c->len, data, len);
    c->len += len;
    c->in[c->len] = 0;
    if (c->discarding)
        return;
    if (s->early && memmem(c->in, c->len, "\r\n\r\n", 4)) {
        /* a lingering close, as servers do after refusing a body: what
         * the client still sends is read and dropped */
        s->requests++;
        reply(c, s->early);
        weft_transport_write_eof(c->base.transport);
        c->discarding = true;
        s->early = NULL;
        return;
    }
    for (;;) {
        char *body;
        size_t body_len, n = complete_request(c, &body, &body_len);
        if (!n)
            return;
        size_t hl = strstr(c->in, "\r\n\r\n") - c->in + 4;
        if (hl >= sizeof s->head)
            hl = sizeof s->head - 1;
        memcpy(s->head, c->in, hl);
        s->head[hl] = 0;
        s->body_len = body_len;
        memcpy(s->body, body ? body : "", body_len < sizeof s->body ? body_len : sizeof s->body);
        char method[16] = "", path[128] = "";
        sscanf(s->head, "%15s %127s", method, path);
        if (s->requests < 16) {
            strcpy(s->methods[s->requests], method);
            strcpy(s->paths[s->requests], path);
        }
        s->requests++;
        c->served++;
        memmove(c->in, c->in + n, c->len - n);
        c->len -= n;
        s->handle(s, c, method, path, s->head, body, body_len);
        free(body);
        if (s->waiter && s->requests >= s->want) {
            weft_deferred *w = s->waiter;
            s->waiter = NULL;
            weft_deferred_callback(w, NULL, NULL);
            weft_deferred_unref(w);
        }
        if (!c->base.transport || weft_transport_disconnecting(c->base.transport))
            return;
    }
}

static void s_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    sconn *c = (sconn *)p;
    c->s->lost++;
    if (c->s->big == c)
        c->s->big = NULL;
    for (int i = 0; i < c->s->nheld; i++)
        if (c->s->held[i] == c)
            c->s->held[i] = NULL;
}

static void s_destroy(weft_protocol *p)
{
    sconn *c = (sconn *)p;
    free(c->in);
    free(c);
}

static const weft_protocol_ops sconn_ops = {s_made, s_data, NULL, s_lost, s_destroy};

static weft_protocol *s_build(weft_factory *f, const weft_address *a)
{
    (void)a;
    sconn *c = calloc(1, sizeof *c);
    c->base.ops = &sconn_ops;
    c->s = (srv *)f;
    return &c->base;
}

static const weft_factory_ops srv_ops = {.build = s_build};

static void srv_start(srv *s, weft_reactor *r, handler_fn h)
{
    memset(s, 0, sizeof *s);
    s->f.ops = &srv_ops;
    s->r = r;
    s->handle = h;
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_listen(r, &a, &s->f, NULL, &s->port), 0);
    cr_assert_eq(weft_port_address(s->port, &a), 0);
    s->port_no = weft_address_port(&a);
}

static void srv_stop(srv *s)
{
    if (s->port)
        weft_deferred_unref(weft_port_stop(s->port));
    s->port = NULL;
    weft_deferred_unref(s->waiter);
    s->waiter = NULL;
}

/* Runs until the server has seen n requests in all. */
static void srv_wait_requests(srv *s, int n)
{
    if (s->requests >= n)
        return;
    s->want = n;
    s->waiter = weft_deferred_new(s->r);
    weft_deferred *w = weft_deferred_ref(s->waiter);
    cr_assert_eq(weft_reactor_run_until(s->r, w, 10), 0, "the server saw %d requests of %d", s->requests, n);
    weft_deferred_unref(w);
}

/* ---- the client side ---- */

typedef struct fixture {
    weft_reactor *r;
    srv s;
    weft_http_agent *a;
    char url[256];
} fixture;

static void setup(fixture *fx, handler_fn h, const weft_http_agent_options *o)
{
    memset(fx, 0, sizeof *fx);
    fx->r = weft_test_reactor();
    srv_start(&fx->s, fx->r, h);
    fx->a = weft_http_agent_new(fx->r, o);
    cr_assert_not_null(fx->a);
}

static const char *url(fixture *fx, const char *path)
{
    snprintf(fx->url, sizeof fx->url, "http://127.0.0.1:%d%s", fx->s.port_no, path);
    return fx->url;
}

/* Runs until the server has lost n connections in all (10 s at most). */
static void srv_wait_lost(srv *s, int n)
{
    weft_reactor_update_time(s->r);
    double until = weft_reactor_now(s->r) + 10;
    while (s->lost < n) {
        cr_assert_lt(weft_reactor_now(s->r), until, "the server lost %d connections of %d", s->lost, n);
        cr_assert_eq(weft_reactor_iterate(s->r, 0.1), 0);
    }
}

/* Runs the reactor for a while: to see that something does not happen. */
static void run_for(weft_reactor *r, double seconds)
{
    weft_deferred *d = weft_defer_later(r, seconds, NULL, NULL);
    cr_assert_eq(weft_reactor_run_until(r, d, seconds + 10), 0);
    weft_deferred_unref(d);
}

/* Lets pending closes and frees run. */
static void settle(weft_reactor *r)
{
    for (int i = 0; i < 5; i++)
        weft_reactor_iterate(r, 0);
}

static void teardown(fixture *fx)
{
    weft_http_agent_free(fx->a);
    srv_stop(&fx->s);
    /* Every server connection closed first: one still open when the
     * reactor goes is leaked. */
    srv_wait_lost(&fx->s, fx->s.accepted);
    settle(fx->r);
    weft_reactor_free(fx->r);
}

static weft_result await(weft_reactor *r, weft_deferred *d)
{
    cr_assert_not_null(d);
    cr_assert_eq(weft_reactor_run_until(r, d, 15), 0, "nothing came");
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    return res;
}

static weft_http_response *await_response(weft_reactor *r, weft_deferred *d)
{
    weft_result res = await(r, d);
    if (weft_failed(res)) {
        char why[512];
        weft_failure_describe(res.value, why, sizeof why);
        weft_result_free(res);
        cr_assert_fail("the request failed: %s", why);
    }
    return res.value;
}

/* The failure's code (the failure described into why). */
static int await_failure(weft_reactor *r, weft_deferred *d, char *why, size_t n)
{
    weft_result res = await(r, d);
    cr_assert(weft_failed(res), "expected a failure");
    int code = weft_failure_code(res.value);
    if (why)
        weft_failure_describe(res.value, why, n);
    weft_result_free(res);
    return code;
}

static weft_bytes *await_body(weft_reactor *r, weft_http_response *resp)
{
    weft_result res = await(r, weft_http_response_read_body(resp, 0));
    if (weft_failed(res)) {
        char why[512];
        weft_failure_describe(res.value, why, sizeof why);
        weft_result_free(res);
        cr_assert_fail("reading the body failed: %s", why);
    }
    return res.value;
}

static int await_body_failure(weft_reactor *r, weft_http_response *resp, char *why, size_t n)
{
    return await_failure(r, weft_http_response_read_body(resp, 0), why, n);
}

/* GET url; checks the status and the body. */
static void expect_get(fixture *fx, const char *u, int status, const char *body)
{
    weft_http_response *resp = await_response(fx->r, weft_http_agent_request(fx->a, "GET", u, NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), status);
    weft_bytes *b = await_body(fx->r, resp);
    cr_assert_str_eq(b->data, body);
    weft_free(b);
    weft_http_response_free(resp);
}

/* ---- handlers ---- */

static void h_hello(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body, size_t bl)
{
    (void)s, (void)m, (void)path, (void)head, (void)body, (void)bl;
    reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: a\r\nX-Test: b  \r\n\r\nhello");
}

WEFT_TEST(http_client, content_length)
{
    fixture fx;
    setup(&fx, h_hello, NULL);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/x?y=1"), NULL,
                                                                            NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 200);
    cr_assert_str_eq(weft_http_response_reason(resp), "OK");
    cr_assert_eq(weft_http_response_version(resp), 11);
    cr_assert_eq(weft_http_response_content_length(resp), 5);
    cr_assert_str_eq(weft_http_response_url(resp), fx.url);
    const weft_http_headers *h = weft_http_response_headers(resp);
    cr_assert_eq(weft_http_headers_count_of(h, "x-test"), 2);
    const char *n, *v;
    weft_http_headers_at(h, 2, &n, &v);
    cr_assert_str_eq(v, "b", "trailing whitespace is not the value's");
    weft_bytes *b = await_body(fx.r, resp);
    cr_assert_eq(b->len, 5);
    cr_assert_str_eq(b->data, "hello");
    weft_free(b);
    weft_http_response_free(resp);
    char host[64], want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", fx.s.port_no);
    cr_assert_str_eq(find_header(fx.s.head, "Host", host, sizeof host), want);
    cr_assert(strncmp(fx.s.head, "GET /x?y=1 HTTP/1.1\r\n", 21) == 0, "%s", fx.s.head);
    cr_assert(strstr(fx.s.head, "User-Agent: weft/"));
    cr_assert_null(strcasestr(fx.s.head, "content-length"), "a GET has no body");
    /* User-Agent: the agent's own, or none */
    weft_http_agent_free(fx.a);
    weft_http_agent_options o = {.user_agent = "probe/1"};
    fx.a = weft_http_agent_new(fx.r, &o);
    expect_get(&fx, url(&fx, "/"), 200, "hello");
    cr_assert_str_eq(find_header(fx.s.head, "User-Agent", host, sizeof host), "probe/1");
    weft_http_agent_free(fx.a);
    o.user_agent = "";
    fx.a = weft_http_agent_new(fx.r, &o);
    expect_get(&fx, url(&fx, "/"), 200, "hello");
    cr_assert_null(strcasestr(fx.s.head, "user-agent"));
    teardown(&fx);
}

static void h_chunked(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body, size_t bl)
{
    (void)s, (void)m, (void)path, (void)head, (void)body, (void)bl;
    reply(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n"
             "0\r\nX-Trailer: t\r\n\r\n");
}

/* The connection's own fields are the agent's to write (one list with the
 * proxy's, RFC 9110 7.6.1): a caller's Connection, what it names,
 * Keep-Alive, TE, Trailer, Upgrade and Proxy-Connection are left out;
 * end-to-end fields, Proxy-Authorization among them, go as given. */
WEFT_TEST(http_client, hop_by_hop_headers_are_the_agents)
{
    fixture fx;
    setup(&fx, h_hello, NULL);
    weft_http_headers *h = weft_http_headers_new();
    static const char *const hop[][2] = {{"Connection", "X-Private"}, {"X-Private", "1"}, {"Keep-Alive", "300"},
                                         {"TE", "trailers"},          {"Trailer", "X-T"}, {"Upgrade", "h2c"},
                                         {"Proxy-Connection", "close"}};
    for (size_t i = 0; i < sizeof hop / sizeof *hop; i++)
        weft_http_headers_add(h, hop[i][0], hop[i][1]);
    weft_http_headers_add(h, "X-End", "kept");
    weft_http_headers_add(h, "Proxy-Authorization", "Basic eDp5");
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), h, NULL, 0));
    weft_http_headers_free(h);
    for (size_t i = 0; i < sizeof hop / sizeof *hop; i++) {
        char v[64];
        cr_assert_null(find_header(fx.s.head, hop[i][0], v, sizeof v), "%s went:\n%s", hop[i][0], fx.s.head);
    }
    cr_assert(strstr(fx.s.head, "\r\nX-End: kept\r\n"), "%s", fx.s.head);
    cr_assert(strstr(fx.s.head, "\r\nProxy-Authorization: Basic eDp5\r\n"), "%s", fx.s.head);
    weft_bytes *b = await_body(fx.r, resp);
    weft_free(b);
    weft_http_response_free(resp);
    teardown(&fx);
}

WEFT_TEST(http_client, chunked_response)
{
    fixture fx;
    setup(&fx, h_chunked, NULL);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0));
    cr_assert_eq(weft_http_response_content_length(resp), -1);
    weft_bytes *b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "hello, world");
    weft_free(b);
    cr_assert_null(weft_http_headers_get(weft_http_response_headers(resp), "X-Trailer"));
    weft_http_response_free(resp);
    /* and the connection is reused */
    expect_get(&fx, url(&fx, "/"), 200, "hello, world");
    cr_assert_eq(fx.s.accepted, 1);
    teardown(&fx);
}

static void h_close_delimited(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body,
                              size_t bl)
{
    (void)s, (void)m, (void)path, (void)head, (void)body, (void)bl;
    reply_close(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
}

WEFT_TEST(http_client, close_delimited)
{
    fixture fx;
    setup(&fx, h_close_delimited, NULL);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0));
    cr_assert_eq(weft_http_response_content_length(resp), -1);
    weft_bytes *b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "until the end");
    weft_free(b);
    weft_http_response_free(resp);
    expect_get(&fx, url(&fx, "/"), 200, "until the end");
    cr_assert_eq(fx.s.accepted, 2, "a close-delimited response's connection is not reused");
    teardown(&fx);
}

WEFT_TEST(http_client, keep_alive_reuse)
{
    fixture fx;
    setup(&fx, h_hello, NULL);
    for (int i = 0; i < 5; i++)
        expect_get(&fx, url(&fx, "/"), 200, "hello");
    cr_assert_eq(fx.s.accepted, 1);
    cr_assert_eq(fx.s.requests, 5);
    teardown(&fx);
}

static void h_http10(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body, size_t bl)
{
    (void)s, (void)m, (void)head, (void)body, (void)bl;
    if (strcmp(path, "/close") == 0)
        reply(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    else
        reply(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

WEFT_TEST(http_client, no_reuse_without_keep_alive)
{
    fixture fx;
    setup(&fx, h_http10, NULL);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0));
    cr_assert_eq(weft_http_response_version(resp), 10);
    weft_free(await_body(fx.r, resp));
    weft_http_response_free(resp);
    expect_get(&fx, url(&fx, "/close"), 200, "ok");
    expect_get(&fx, url(&fx, "/close"), 200, "ok");
    cr_assert_eq(fx.s.accepted, 3);
    teardown(&fx);
}

/* Answers the first request on a connection; on the second, closes as if
 * it had timed the connection out just then. */
static void h_close_second(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body,
                           size_t bl)
{
    (void)s, (void)m, (void)path, (void)head, (void)body, (void)bl;
    if (c->served >= 2)
        weft_transport_lose_connection(c->base.transport);
    else
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
}

WEFT_TEST(http_client, retry_when_pooled_connection_closed)
{
    fixture fx;
    setup(&fx, h_close_second, NULL);
    expect_get(&fx, url(&fx, "/"), 200, "hello");
    expect_get(&fx, url(&fx, "/"), 200, "hello");
    cr_assert_eq(fx.s.accepted, 2, "retried once, on a new connection");
    cr_assert_eq(fx.s.requests, 3);
    /* POST is not retried */
    weft_fount *body = weft_fount_of_bytes(fx.r, "x", 1, false);
    char why[512];
    weft_deferred *post = weft_http_agent_request(fx.a, "POST", url(&fx, "/"), NULL, body, 1);
    int code = await_failure(fx.r, post, why, sizeof why);
    cr_assert_eq(code, -ECONNRESET, "%s", why);
    cr_assert_eq(fx.s.accepted, 2);
    teardown(&fx);
}

static void h_close_idle(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body,
                         size_t bl)
{
    (void)s, (void)m, (void)path, (void)head, (void)body, (void)bl;
    /* keep-alive in words, then the server closes the idle connection */
    reply_close(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
}

WEFT_TEST(http_client, server_closes_idle_connection)
{
    fixture fx;
    setup(&fx, h_close_idle, NULL);
    expect_get(&fx, url(&fx, "/"), 200, "hello");
    /* the close reaches the pool before the next request */
    srv_wait_lost(&fx.s, 1);
    settle(fx.r);
    expect_get(&fx, url(&fx, "/"), 200, "hello");
    cr_assert_eq(fx.s.accepted, 2);
    cr_assert_eq(fx.s.requests, 2, "no retry was needed");
    teardown(&fx);
}

static void h_malformed(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body,
                        size_t bl)
{
    (void)s, (void)m, (void)head, (void)body, (void)bl;
    if (strcmp(path, "/garbage") == 0)
        reply(c, "HELLO THERE\r\n\r\n");
    else if (strcmp(path, "/both") == 0)
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    else if (strcmp(path, "/badchunk") == 0)
        reply(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n");
    else if (strcmp(path, "/bigheader") == 0) {
        reply(c, "HTTP/1.1 200 OK\r\nX-Big: ");
        char big[2048];
        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = 0;
        reply(c, big);
        reply(c, "\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/short") == 0)
        reply_close(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    else if (strcmp(path, "/headers-cut") == 0)
        reply_close(c, "HTTP/1.1 200 OK\r\nContent-Le");
    else if (strcmp(path, "/extra") == 0)
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA");
    else if (strcmp(path, "/reset") == 0) {
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        weft_transport_abort_connection(c->base.transport);
    } else if (strcmp(path, "/nul") == 0)
        weft_transport_write(c->base.transport, "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n", 29);
    else
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

WEFT_TEST(http_client, malformed_responses)
{
    weft_http_agent_options o = {.max_header_bytes = 1024};
    fixture fx;
    setup(&fx, h_malformed, &o);
    const char *bad[] = {"/garbage", "/both", "/bigheader", "/headers-cut", "/nul"};
    char why[512];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int code = await_failure(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, bad[i]), NULL, NULL, 0), why,
                                 sizeof why);
        cr_assert_eq(code, WEFT_EHTTP, "%s: %s", bad[i], why);
    }
    cr_assert(strstr(why, "malformed"), "%s", why);
    /* the head is fine, the body is not */
    const char *bad_bodies[] = {"/badchunk", "/short"};
    for (size_t i = 0; i < 2; i++) {
        weft_http_response *resp =
            await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, bad_bodies[i]), NULL, NULL, 0));
        int code = await_body_failure(fx.r, resp, why, sizeof why);
        cr_assert_eq(code, WEFT_EHTTP, "%s: %s", bad_bodies[i], why);
        weft_http_response_free(resp);
    }
    /* the connection reset before anyone drains the body: a drain joining
     * later hears the failure, not an empty body */
    weft_http_response *reset =
        await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/reset"), NULL, NULL, 0));
    srv_wait_lost(&fx.s, fx.s.accepted);
    run_for(fx.r, 0.05);
    int rc = await_body_failure(fx.r, reset, why, sizeof why);
    cr_assert(rc == -ECONNRESET || rc == WEFT_EHTTP, "%s", why);
    weft_http_response_free(reset);
    /* bytes after the response: it is fine, the connection is not reused */
    int before = fx.s.accepted;
    expect_get(&fx, url(&fx, "/extra"), 200, "ok");
    expect_get(&fx, url(&fx, "/fine"), 200, "ok");
    cr_assert_eq(fx.s.accepted, before + 2);
    settle(fx.r);
    cr_assert_eq(fx.s.lost, fx.s.accepted - 1, "every bad connection was closed");
    teardown(&fx);
}

/* Responses that cannot be read, each for its own reason. */
static void h_unreadable(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body,
                         size_t bl)
{
    (void)s, (void)m, (void)head, (void)body, (void)bl;
    if (strcmp(path, "/bad-header") == 0)
        reply(c, "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n");
    else if (strcmp(path, "/http2") == 0)
        reply(c, "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
    else if (strcmp(path, "/ssh") == 0)
        reply(c, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    else if (strcmp(path, "/upgrade") == 0)
        reply(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    else if (strcmp(path, "/status") == 0)
        reply(c, "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n");
    else if (strcmp(path, "/obs-text-name") == 0)
        reply(c, "HTTP/1.1 200 OK\r\nX\x80Y: a\r\nContent-Length: 0\r\n\r\n");
    else if (strcmp(path, "/empty-name") == 0)
        reply(c, "HTTP/1.1 200 OK\r\n: nameless\r\nContent-Length: 0\r\n\r\n");
    else if (strcmp(path, "/huge-length") == 0)
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n");
}

/* llhttp puts its own "User callback error" in place of the reason a
 * callback gives when it refuses: the failure must name the real one. */
WEFT_TEST(http_client, unreadable_response_failure_says_why)
{
    fixture fx;
    setup(&fx, h_unreadable, NULL);
    static const struct {
        const char *path, *why;
    } cases[] = {
        {"/bad-header", "Invalid header token"},
        {"/http2", "not an HTTP/1 response"},
        {"/ssh", "Expected HTTP/"},
        {"/upgrade", "an upgrade nobody asked for"},
        {"/status", "bad status code"},
        {"/obs-text-name", "Invalid header token"},
        {"/empty-name", "malformed header"},
        {"/huge-length", "Content-Length is too large"},
    };
    char why[512];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int code = await_failure(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, cases[i].path), NULL, NULL, 0),
                                 why, sizeof why);
        cr_assert_eq(code, WEFT_EHTTP, "%s: %s", cases[i].path, why);
        cr_assert(strstr(why, "malformed HTTP response: ") && strstr(why, cases[i].why), "%s: %s", cases[i].path, why);
        cr_assert_null(strstr(why, "callback error"), "%s: %s", cases[i].path, why);
    }
    teardown(&fx);
}

static void h_interim(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body,
                      size_t bl)
{
    (void)s, (void)m, (void)path, (void)head, (void)body, (void)bl;
    reply(c, "HTTP/1.1 100 Continue\r\n\r\n");
    reply(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
    reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

WEFT_TEST(http_client, interim_responses_skipped)
{
    fixture fx;
    setup(&fx, h_interim, NULL);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 200);
    cr_assert_null(weft_http_headers_get(weft_http_response_headers(resp), "Link"));
    weft_bytes *b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "ok");
    weft_free(b);
    weft_http_response_free(resp);
    expect_get(&fx, url(&fx, "/"), 200, "ok");
    cr_assert_eq(fx.s.accepted, 1);
    teardown(&fx);
}

static void h_redirects(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body,
                        size_t bl)
{
    (void)head, (void)body, (void)bl;
    char buf[512];
    if (strcmp(path, "/a") == 0) {
        reply(c, "HTTP/1.1 302 Found\r\nLocation: b?q=1\r\nContent-Length: 9\r\n\r\nsee b now");
    } else if (strncmp(path, "/b", 2) == 0) {
        snprintf(buf, sizeof buf,
                 "HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:%d/dir/../c\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n0\r\n\r\n",
                 s->port_no);
        reply(c, buf);
    } else if (strcmp(path, "/loop") == 0) {
        reply(c, "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/post303") == 0) {
        reply(c, "HTTP/1.1 303 See Other\r\nLocation: /c\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/post307") == 0) {
        reply(c, "HTTP/1.1 307 Temporary Redirect\r\nLocation: /c\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/put301") == 0) {
        reply(c, "HTTP/1.1 301 Moved\r\nLocation: /c\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/elsewhere") == 0) {
        snprintf(buf, sizeof buf, "HTTP/1.1 302 Found\r\nLocation: http://localhost:%d/c\r\nContent-Length: 0\r\n\r\n",
                 s->port_no);
        reply(c, buf);
    } else if (strcmp(path, "/c") == 0) {
        snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(m) + 3, m);
        strcat(buf, " at");
        reply(c, buf);
    } else {
        reply(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
}

WEFT_TEST(http_client, redirects)
{
    weft_http_agent_options o = {.max_redirects = 5};
    fixture fx;
    setup(&fx, h_redirects, &o);
    weft_http_response *resp =
        await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/a"), NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 200, "%d at %s", weft_http_response_status(resp),
                 weft_http_response_url(resp));
    cr_assert_str_eq(weft_http_response_url(resp), url(&fx, "/c"));
    weft_bytes *b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "GET at");
    weft_free(b);
    weft_http_response_free(resp);
    cr_assert_str_eq(fx.s.paths[1], "/b?q=1");
    cr_assert_eq(fx.s.accepted, 1, "the redirects' bodies were read and the connection reused");

    /* POST then 303: GET without a body */
    weft_fount *body = weft_fount_of_bytes(fx.r, "data", 4, false);
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "POST", url(&fx, "/post303"), NULL, body, 4));
    b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "GET at");
    weft_free(b);
    weft_http_response_free(resp);
    cr_assert_null(strcasestr(fx.s.head, "content-length"), "%s", fx.s.head);

    /* 307 keeps the method: with a body that has gone, it is not followed */
    body = weft_fount_of_bytes(fx.r, "data", 4, false);
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "POST", url(&fx, "/post307"), NULL, body, 4));
    cr_assert_eq(weft_http_response_status(resp), 307);
    weft_http_response_free(resp);
    /* to another origin, credentials stay behind */
    weft_http_headers *h = weft_http_headers_new();
    cr_assert_eq(weft_http_headers_add(h, "Authorization", "Basic c2VjcmV0"), 0);
    cr_assert_eq(weft_http_headers_add(h, "X-Kept", "1"), 0);
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/a"), h, NULL, 0));
    weft_free(await_body(fx.r, resp));
    weft_http_response_free(resp);
    cr_assert(strstr(fx.s.head, "Authorization: Basic"), "same origin: kept");
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/elsewhere"), h, NULL, 0));
    weft_free(await_body(fx.r, resp));
    weft_http_response_free(resp);
    cr_assert(strncmp(fx.s.head, "GET /c ", 7) == 0, "%s", fx.s.head);
    cr_assert_null(strstr(fx.s.head, "Authorization"), "%s", fx.s.head);
    cr_assert(strstr(fx.s.head, "X-Kept: 1"));
    char host[64], want[64];
    snprintf(want, sizeof want, "localhost:%d", fx.s.port_no);
    cr_assert_str_eq(find_header(fx.s.head, "Host", host, sizeof host), want);
    weft_http_headers_free(h);
    /* ... and without one it is */
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "DELETE", url(&fx, "/put301"), NULL, NULL, 0));
    b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "DELETE at");
    weft_free(b);
    weft_http_response_free(resp);
    teardown(&fx);
}

WEFT_TEST(http_client, redirect_loop_bounded)
{
    weft_http_agent_options o = {.max_redirects = 3};
    fixture fx;
    setup(&fx, h_redirects, &o);
    weft_http_response *resp =
        await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/loop"), NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 302, "past max_redirects, the 3xx is the response");
    weft_free(await_body(fx.r, resp));
    weft_http_response_free(resp);
    cr_assert_eq(fx.s.requests, 4);
    teardown(&fx);

    /* none followed by default */
    setup(&fx, h_redirects, NULL);
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/a"), NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 302);
    cr_assert_str_eq(weft_http_headers_get(weft_http_response_headers(resp), "location"), "b?q=1");
    weft_bytes *b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "see b now");
    weft_free(b);
    weft_http_response_free(resp);
    teardown(&fx);
}

static void h_silent(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body, size_t bl)
{
    (void)m, (void)head, (void)body, (void)bl;
    if (strcmp(path, "/half") == 0)
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    else if (s->nheld < 8)
        s->held[s->nheld++] = c; /* and never answers */
}

WEFT_TEST(http_client, response_timeout)
{
    weft_http_agent_options o = {.response_timeout = 0.5};
    fixture fx;
    setup(&fx, h_silent, &o);
    char why[512];
    int code = await_failure(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0), why, sizeof why);
    cr_assert_eq(code, WEFT_ETIMEDOUT, "%s", why);
    /* between body bytes too */
    weft_http_response *resp =
        await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/half"), NULL, NULL, 0));
    code = await_body_failure(fx.r, resp, why, sizeof why);
    cr_assert_eq(code, WEFT_ETIMEDOUT, "%s", why);
    weft_http_response_free(resp);
    settle(fx.r);
    cr_assert_eq(fx.s.lost, 2, "timed-out connections are closed");
    teardown(&fx);
}

/* ---- a big body with backpressure ---- */

enum { BIG = 48 * 1024 * 1024 };

static void h_big(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body, size_t bl)
{
    (void)m, (void)path, (void)head, (void)body, (void)bl;
    char buf[128];
    snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BIG);
    reply(c, buf);
    s->big = c;
    send_big(c, BIG);
}

typedef struct slow_drain {
    weft_drain d;
    size_t got;
    bool bad, pause_next;
    weft_deferred *first, *done;
    int code;
} slow_drain;

static void sd_receive(weft_drain *d, const void *data, size_t len)
{
    slow_drain *s = (slow_drain *)d;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        if (p[i] != (s->got + i) % 251)
            s->bad = true;
    s->got += len;
    if (s->pause_next) {
        s->pause_next = false;
        weft_fount_pause(d->fount);
    }
    if (s->first) {
        weft_deferred *f = s->first;
        s->first = NULL;
        weft_deferred_callback(f, NULL, NULL);
        weft_deferred_unref(f);
    }
}

static void sd_stopped(weft_drain *d, const weft_failure *why)
{
    slow_drain *s = (slow_drain *)d;
    s->code = weft_failure_code(why);
    weft_deferred_callback(s->done, NULL, NULL);
}

static const weft_drain_ops sd_ops = {NULL, sd_receive, sd_stopped};

WEFT_TEST(http_client, big_body_backpressure)
{
    fixture fx;
    setup(&fx, h_big, NULL);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0));
    cr_assert_eq(weft_http_response_content_length(resp), BIG);
    slow_drain sd = {.d.ops = &sd_ops, .pause_next = true};
    sd.first = weft_deferred_new(fx.r);
    sd.done = weft_deferred_new(fx.r);
    weft_deferred *first = weft_deferred_ref(sd.first);
    weft_flow_to(weft_http_response_body(resp), &sd.d);
    cr_assert_eq(weft_reactor_run_until(fx.r, first, 10), 0);
    weft_deferred_unref(first);
    /* paused: the server's writes stop well short of the end */
    run_for(fx.r, 0.3);
    size_t got = sd.got;
    cr_assert_not_null(fx.s.big);
    size_t sent = fx.s.big->big_sent;
    run_for(fx.r, 0.3);
    cr_assert_eq(sd.got, got, "nothing delivered while paused");
    cr_assert_not_null(fx.s.big);
    cr_assert_eq(fx.s.big->big_sent, sent, "the server's writes stopped");
    cr_assert(fx.s.big->big_paused);
    cr_assert_lt(sent, (size_t)BIG);
    weft_fount_resume(weft_http_response_body(resp));
    cr_assert_eq(weft_reactor_run_until(fx.r, sd.done, 30), 0);
    cr_assert_eq(sd.code, WEFT_EOF);
    cr_assert_eq(sd.got, BIG);
    cr_assert(!sd.bad, "the bytes came in order");
    weft_deferred_unref(sd.done);
    weft_http_response_free(resp);
    teardown(&fx);
}

/* ---- HEAD, 204, 304 ---- */

static void h_nobody(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body, size_t bl)
{
    (void)s, (void)head, (void)body, (void)bl;
    if (strcmp(path, "/204") == 0)
        reply(c, "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n");
    else if (strcmp(path, "/304") == 0)
        reply(c, "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n");
    else if (strcmp(m, "HEAD") == 0)
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    else
        reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody");
}

WEFT_TEST(http_client, head_204_304_have_no_body)
{
    fixture fx;
    setup(&fx, h_nobody, NULL);
    weft_http_response *resp =
        await_response(fx.r, weft_http_agent_request(fx.a, "HEAD", url(&fx, "/"), NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 200);
    cr_assert_eq(weft_http_response_content_length(resp), 0);
    cr_assert_str_eq(weft_http_headers_get(weft_http_response_headers(resp), "Content-Length"), "100");
    weft_bytes *b = await_body(fx.r, resp);
    cr_assert_eq(b->len, 0);
    weft_free(b);
    weft_http_response_free(resp);
    /* a body-less response frees its connection even unread */
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/204"), NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 204);
    weft_http_response_free(resp);
    expect_get(&fx, url(&fx, "/304"), 304, "");
    expect_get(&fx, url(&fx, "/"), 200, "body");
    cr_assert_eq(fx.s.accepted, 1);
    teardown(&fx);
}

/* ---- the pool's limits ---- */

static void h_hold(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body, size_t bl)
{
    (void)m, (void)path, (void)head, (void)body, (void)bl;
    s->held[s->nheld++] = c;
}

static void answer_held(srv *s)
{
    for (int i = 0; i < s->nheld; i++)
        if (s->held[i])
            reply(s->held[i], "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    s->nheld = 0;
}

WEFT_TEST(http_client, max_per_host_queues)
{
    weft_http_agent_options o = {.max_per_host = 2, .max_idle = 1};
    fixture fx;
    setup(&fx, h_hold, &o);
    weft_deferred *d[4];
    for (int i = 0; i < 4; i++)
        d[i] = weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0);
    srv_wait_requests(&fx.s, 2);
    run_for(fx.r, 0.1);
    cr_assert_eq(fx.s.accepted, 2);
    cr_assert_eq(fx.s.requests, 2, "the others wait for a connection");
    answer_held(&fx.s);
    /* a connection serves the next in line once its body has been read */
    for (int i = 0; i < 4; i++) {
        if (i == 2) {
            srv_wait_requests(&fx.s, 4);
            answer_held(&fx.s);
        }
        weft_http_response *resp = await_response(fx.r, d[i]);
        weft_bytes *b = await_body(fx.r, resp);
        cr_assert_str_eq(b->data, "ok");
        weft_free(b);
        weft_http_response_free(resp);
    }
    cr_assert_eq(fx.s.accepted, 2);
    settle(fx.r);
    cr_assert_eq(fx.s.lost, 1, "max_idle 1: the second idle connection was closed");
    teardown(&fx);
}

/* queue_timeout: a request that waits that long for a connection fails
 * with ETIMEDOUT caused by EBUSY; one that gets a connection in time does
 * not fail later (its timer went with its place in the queue). */
WEFT_TEST(http_client, queue_timeout)
{
    weft_http_agent_options o = {.max_per_host = 1, .queue_timeout = 0.2};
    fixture fx;
    setup(&fx, h_hold, &o);
    weft_deferred *first = weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0);
    srv_wait_requests(&fx.s, 1);
    weft_deferred *second = weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0);
    char why[512];
    cr_assert_eq(await_failure(fx.r, second, why, sizeof why), WEFT_ETIMEDOUT, "%s", why);
    cr_assert(strstr(why, "no connection came free within 0.2 s"), "%s", why);
    cr_assert(strstr(why, "all 1 connections to tcp:host=127.0.0.1"), "%s", why);
    cr_assert_eq(fx.s.requests, 1, "the request that gave up was never sent");
    cr_assert_not(weft_deferred_called(first));
    weft_deferred_cancel(first);
    cr_assert_eq(await_failure(fx.r, first, NULL, 0), WEFT_ECANCELED);
    /* Now one that waits, and is served before its time is up. */
    weft_http_agent_free(fx.a);
    o.queue_timeout = 3;
    fx.a = weft_http_agent_new(fx.r, &o);
    fx.s.nheld = 0;
    weft_deferred *third = weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0);
    srv_wait_requests(&fx.s, 2);
    weft_deferred *fourth = weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0);
    answer_held(&fx.s);
    weft_http_response *resp = await_response(fx.r, third);
    weft_bytes *b = await_body(fx.r, resp);
    weft_free(b);
    weft_http_response_free(resp);
    srv_wait_requests(&fx.s, 3);
    answer_held(&fx.s);
    resp = await_response(fx.r, fourth);
    b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "ok");
    weft_free(b);
    weft_http_response_free(resp);
    run_for(fx.r, 3.2); /* past the timer it had: nothing fires on the freed request */
    teardown(&fx);
}

WEFT_TEST(http_client, idle_timeout)
{
    weft_http_agent_options o = {.idle_timeout = 0.1};
    fixture fx;
    setup(&fx, h_hello, &o);
    expect_get(&fx, url(&fx, "/"), 200, "hello");
    srv_wait_lost(&fx.s, 1);
    expect_get(&fx, url(&fx, "/"), 200, "hello");
    cr_assert_eq(fx.s.accepted, 2);
    teardown(&fx);
}

/* ---- request bodies ---- */

static void h_echo_body(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body,
                        size_t bl)
{
    (void)s, (void)m, (void)path, (void)head;
    char buf[256];
    snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", bl);
    reply(c, buf);
    weft_transport_write(c->base.transport, body ? body : "", bl);
}

WEFT_TEST(http_client, request_bodies)
{
    fixture fx;
    setup(&fx, h_echo_body, NULL);
    weft_http_headers *h = weft_http_headers_new();
    cr_assert_eq(weft_http_headers_add(h, "Content-Type", "text/plain"), 0);
    cr_assert_eq(weft_http_headers_add(h, "Content-Length", "999"), 0); /* the agent's own */
    cr_assert_eq(weft_http_headers_add(h, "User-Agent", "tester"), 0);
    weft_fount *body = weft_fount_of_bytes(fx.r, "length-delimited", 16, false);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request(fx.a, "PUT", url(&fx, "/"), h, body, 16));
    weft_bytes *b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "length-delimited");
    weft_free(b);
    weft_http_response_free(resp);
    char v[64];
    cr_assert_str_eq(find_header(fx.s.head, "Content-Length", v, sizeof v), "16");
    cr_assert_str_eq(find_header(fx.s.head, "User-Agent", v, sizeof v), "tester");
    cr_assert_str_eq(find_header(fx.s.head, "Content-Type", v, sizeof v), "text/plain");

    /* chunked, of unknown length; big enough to be sent in pieces */
    size_t n = 300 * 1000;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    body = weft_fount_of_bytes(fx.r, big, n, true);
    free(big);
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "POST", url(&fx, "/"), NULL, body, -1));
    b = await_body(fx.r, resp);
    cr_assert_eq(b->len, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(b->data[i], (char)('a' + i % 26));
    weft_free(b);
    weft_http_response_free(resp);
    cr_assert_str_eq(find_header(fx.s.head, "Transfer-Encoding", v, sizeof v), "chunked");

    /* an empty POST says so */
    expect_get(&fx, url(&fx, "/"), 200, "");
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "POST", url(&fx, "/"), NULL, NULL, 0));
    weft_free(await_body(fx.r, resp));
    weft_http_response_free(resp);
    cr_assert_str_eq(find_header(fx.s.head, "Content-Length", v, sizeof v), "0");

    /* a body shorter than promised fails the request */
    body = weft_fount_of_bytes(fx.r, "short", 5, false);
    char why[512];
    int code = await_failure(fx.r, weft_http_agent_request(fx.a, "PUT", url(&fx, "/"), NULL, body, 10), why,
                             sizeof why);
    cr_assert_eq(code, WEFT_EINVAL, "%s", why);
    cr_assert_eq(fx.s.accepted, 1);
    weft_http_headers_free(h);
    teardown(&fx);
}

/* ---- URLs and failures ---- */

WEFT_TEST(http_client, bad_urls)
{
    weft_reactor *r = weft_test_reactor();
    weft_http_agent *a = weft_http_agent_new(r, NULL);
    const char *bad[] = {"ftp://example.org/", "http://", "http:///x", "http://[::1/", "http://a b/",
                         "http://host:99999/", "http://host:0/", "http://user@host/", "http://[::1]x/",
                         "example.org/", "http://ho%st/", "http://host/\x01", "http://[zz::1]/", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char why[256];
        int code = await_failure(r, weft_http_agent_request(a, "GET", bad[i], NULL, NULL, 0), why, sizeof why);
        cr_assert_eq(code, WEFT_EINVAL, "%s: %s", bad[i], why);
    }
    /* a body given with a bad URL is stopped (the fount frees itself) */
    weft_fount *body = weft_fount_of_bytes(r, "x", 1, false);
    cr_assert_eq(await_failure(r, weft_http_agent_request(a, "POST", "nope", NULL, body, 1), NULL, 0), WEFT_EINVAL);
    cr_assert_eq(await_failure(r, weft_http_agent_request(a, "BAD METHOD", "http://127.0.0.1/", NULL, NULL, 0), NULL,
                               0),
                 WEFT_EINVAL);
    cr_assert_eq(await_failure(r, weft_http_agent_request_to(a, "tcp:host=127.0.0.1:port=1", "GET", "/a b", NULL, NULL,
                                                             0),
                               NULL, 0),
                 WEFT_EINVAL);
    cr_assert_eq(await_failure(r, weft_http_agent_request_to(a, "bogus:1", "GET", "/", NULL, NULL, 0), NULL, 0),
                 WEFT_EINVAL);
    weft_http_agent_free(a);
    settle(r);
    weft_reactor_free(r);
}

WEFT_TEST(http_client, connection_refused)
{
    weft_reactor *r = weft_test_reactor();
    /* a port nobody listens on: bind one, learn it, close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    close(fd);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", ntohs(sin.sin_port));
    weft_http_agent *a = weft_http_agent_new(r, NULL);
    char why[256];
    cr_assert_eq(await_failure(r, weft_http_agent_request(a, "GET", u, NULL, NULL, 0), why, sizeof why), -ECONNREFUSED,
                 "%s", why);
    weft_http_agent_free(a);
    settle(r);
    weft_reactor_free(r);
}

WEFT_TEST(http_client, cancel_and_agent_free)
{
    fixture fx;
    setup(&fx, h_silent, NULL);
    weft_deferred *d = weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0);
    srv_wait_requests(&fx.s, 1);
    weft_deferred_cancel(d);
    cr_assert_eq(await_failure(fx.r, d, NULL, 0), WEFT_ECANCELED);
    srv_wait_lost(&fx.s, 1);
    /* cancelled while connecting */
    d = weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0);
    weft_deferred_cancel(d);
    cr_assert_eq(await_failure(fx.r, d, NULL, 0), WEFT_ECANCELED);
    /* freeing the agent cancels what is under way, and a body not sent yet
     * is stopped */
    d = weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0);
    weft_fount *body = weft_fount_of_bytes(fx.r, "x", 1, false);
    weft_deferred *d2 = weft_http_agent_request(fx.a, "POST", url(&fx, "/"), NULL, body, 1);
    weft_http_agent_free(fx.a);
    fx.a = NULL;
    cr_assert_eq(await_failure(fx.r, d, NULL, 0), WEFT_ECANCELED);
    cr_assert_eq(await_failure(fx.r, d2, NULL, 0), WEFT_ECANCELED);
    teardown(&fx);
}

static void h_parts(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body, size_t bl)
{
    (void)m, (void)path, (void)head, (void)body, (void)bl;
    reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    s->held[s->nheld++] = c;
}

/* A response outlives the agent: its body still streams. */
WEFT_TEST(http_client, response_outlives_agent)
{
    fixture fx;
    setup(&fx, h_parts, NULL);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0));
    weft_http_agent_free(fx.a);
    fx.a = NULL;
    weft_deferred *body = weft_http_response_read_body(resp, 0);
    run_for(fx.r, 0.05);
    cr_assert(!weft_deferred_called(body));
    reply(fx.s.held[0], "defghij");
    weft_result res = await(fx.r, body);
    cr_assert(!weft_failed(res));
    cr_assert_str_eq(((weft_bytes *)res.value)->data, "abcdefghij");
    weft_result_free(res);
    weft_http_response_free(resp);
    settle(fx.r);
    cr_assert_eq(fx.s.lost, 1, "with no pool left, the connection closes");

    /* freeing a response whose body is being read ends that read */
    fx.a = weft_http_agent_new(fx.r, NULL);
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0));
    body = weft_http_response_read_body(resp, 0);
    run_for(fx.r, 0.05);
    weft_http_response_free(resp);
    cr_assert_eq(await_failure(fx.r, body, NULL, 0), WEFT_ECANCELED);
    /* and a body bigger than read_body's max fails it */
    resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0));
    cr_assert_eq(await_failure(fx.r, weft_http_response_read_body(resp, 2), NULL, 0), -EMSGSIZE);
    weft_http_response_free(resp);
    teardown(&fx);
}

/* ---- other transports: UNIX sockets, IPv6, TLS ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

WEFT_TEST(http_client, request_to_unix_socket)
{
    fixture fx;
    memset(&fx, 0, sizeof fx);
    fx.r = weft_test_reactor();
    fx.s.f.ops = &srv_ops;
    fx.s.r = fx.r;
    fx.s.handle = h_hello;
    char dir[] = "/tmp/weft-http-client-XXXXXX", desc[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(desc, sizeof desc, "unix:%s/sock", dir);
    weft_endpoint *ep;
    cr_assert_eq(weft_endpoint_server(fx.r, desc, &ep, NULL), 0);
    weft_result res = await(fx.r, weft_endpoint_listen(ep, &fx.s.f));
    weft_endpoint_free(ep);
    cr_assert(!weft_failed(res));
    fx.s.port = res.value;
    fx.a = weft_http_agent_new(fx.r, NULL);
    for (int i = 0; i < 2; i++) {
        weft_http_response *resp =
            await_response(fx.r, weft_http_agent_request_to(fx.a, desc, "GET", "/t?x", NULL, NULL, 0));
        cr_assert_str_eq(weft_http_response_url(resp), "/t?x");
        weft_bytes *b = await_body(fx.r, resp);
        cr_assert_str_eq(b->data, "hello");
        weft_free(b);
        weft_http_response_free(resp);
    }
    char host[64];
    cr_assert_str_eq(find_header(fx.s.head, "Host", host, sizeof host), "localhost");
    cr_assert_eq(fx.s.accepted, 1);
    /* Host from the caller's headers */
    weft_http_headers *h = weft_http_headers_new();
    cr_assert_eq(weft_http_headers_add(h, "Host", "app.example"), 0);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request_to(fx.a, desc, "GET", "/", h, NULL, 0));
    weft_free(await_body(fx.r, resp));
    weft_http_response_free(resp);
    cr_assert_str_eq(find_header(fx.s.head, "Host", host, sizeof host), "app.example");
    cr_assert_eq(fx.s.accepted, 1);
    weft_http_headers_free(h);
    teardown(&fx);
    rm_rf(dir);
}

WEFT_TEST(http_client, ipv6_literal)
{
    fixture fx;
    memset(&fx, 0, sizeof fx);
    fx.r = weft_test_reactor();
    fx.s.f.ops = &srv_ops;
    fx.s.r = fx.r;
    fx.s.handle = h_hello;
    weft_address a;
    cr_assert_eq(weft_address_from_ip("::1", 0, &a), 0);
    if (weft_listen(fx.r, &a, &fx.s.f, NULL, &fx.s.port) < 0) {
        weft_reactor_free(fx.r);
        cr_skip_test("no IPv6 loopback here");
    }
    cr_assert_eq(weft_port_address(fx.s.port, &a), 0);
    fx.s.port_no = weft_address_port(&a);
    fx.a = weft_http_agent_new(fx.r, NULL);
    snprintf(fx.url, sizeof fx.url, "http://[::1]:%d/v6", fx.s.port_no);
    expect_get(&fx, fx.url, 200, "hello");
    char host[64], want[64];
    snprintf(want, sizeof want, "[::1]:%d", fx.s.port_no);
    cr_assert_str_eq(find_header(fx.s.head, "Host", host, sizeof host), want);
    teardown(&fx);
}

WEFT_TEST(http_client, https)
{
    weft_test_certs certs;
    weft_test_certs_make(&certs);
    fixture fx;
    memset(&fx, 0, sizeof fx);
    fx.r = weft_test_reactor();
    fx.s.f.ops = &srv_ops;
    fx.s.r = fx.r;
    fx.s.handle = h_chunked;
    weft_tls_options so = {.certificate = certs.server_cert, .private_key = certs.server_key};
    weft_tls_context *ctx;
    cr_assert_eq(weft_tls_server_context_new(&so, &ctx, NULL), 0);
    weft_factory *tf = weft_tls_factory_new(ctx, &fx.s.f, NULL);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_listen(fx.r, &a, tf, NULL, &fx.s.port), 0);
    cr_assert_eq(weft_port_address(fx.s.port, &a), 0);
    fx.s.port_no = weft_address_port(&a);

    weft_http_agent_options o = {.trust_roots = certs.ca};
    fx.a = weft_http_agent_new(fx.r, &o);
    snprintf(fx.url, sizeof fx.url, "https://localhost:%d/secure", fx.s.port_no);
    expect_get(&fx, fx.url, 200, "hello, world");
    snprintf(fx.url, sizeof fx.url, "https://127.0.0.1:%d/secure", fx.s.port_no);
    expect_get(&fx, fx.url, 200, "hello, world");
    expect_get(&fx, fx.url, 200, "hello, world");
    cr_assert_eq(fx.s.accepted, 2, "one connection per host name, reused");
    /* through a tls: endpoint string */
    char desc[512];
    snprintf(desc, sizeof desc, "tls:host=localhost:port=%d:trustRoots=%s", fx.s.port_no, certs.ca);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request_to(fx.a, desc, "GET", "/", NULL, NULL, 0));
    weft_bytes *b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "hello, world");
    weft_free(b);
    weft_http_response_free(resp);
    char host[64], want[64];
    snprintf(want, sizeof want, "localhost:%d", fx.s.port_no);
    cr_assert_str_eq(find_header(fx.s.head, "Host", host, sizeof host), want);
    weft_http_agent_free(fx.a);

    /* the system's trust store does not know our CA */
    fx.a = weft_http_agent_new(fx.r, NULL);
    char why[512];
    snprintf(fx.url, sizeof fx.url, "https://localhost:%d/", fx.s.port_no);
    int code = await_failure(fx.r, weft_http_agent_request(fx.a, "GET", fx.url, NULL, NULL, 0), why, sizeof why);
    cr_assert_eq(code, WEFT_ETLSVERIFY, "%s", why);
    teardown(&fx);
    weft_tls_factory_free(tf);
    weft_tls_context_free(ctx);
    weft_test_certs_remove(&certs);
}

/* ---- interop ---- */

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

enum { MIB = 1024 * 1024 };

static char *pattern(size_t n)
{
    char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(i * 7 % 253);
    return p;
}

static void expect_file(weft_reactor *r, weft_deferred *d, const char *want, size_t len)
{
    weft_http_response *resp = await_response(r, d);
    cr_assert_eq(weft_http_response_status(resp), 200);
    weft_bytes *b = await_body(r, resp);
    cr_assert_eq(b->len, len);
    cr_assert(memcmp(b->data, want, len) == 0, "the bytes are the file's");
    weft_free(b);
    weft_http_response_free(resp);
}

WEFT_TEST(http_client, python_http_server)
{
    char dir[] = "/tmp/weft-http-py-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char *big = pattern(MIB);
    write_file(dir, "big.bin", big, MIB);
    write_file(dir, "hello.txt", "hello from python\n", 18);
    static const char script[] =
        "import http.server, os, sys\n"
        "os.chdir(sys.argv[1])\n"
        "class H(http.server.SimpleHTTPRequestHandler):\n"
        "    protocol_version = 'HTTP/1.1'\n"
        "    def log_message(self, *a): pass\n"
        "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
        "print('PORT', s.server_address[1], 'END', flush=True)\n"
        "s.serve_forever()\n";
    char *argv[] = {"/usr/bin/python3", "-c", (char *)script, dir, NULL};
    weft_test_proc p;
    weft_test_proc_spawn(&p, argv);
    weft_test_proc_wait_for(&p, " END");
    int port = 0;
    cr_assert_eq(sscanf(strstr(p.text, "PORT "), "PORT %d", &port), 1, "%s", p.text);

    weft_reactor *r = weft_test_reactor();
    weft_http_agent *a = weft_http_agent_new(r, NULL);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/hello.txt", port);
    expect_file(r, weft_http_agent_request(a, "GET", u, NULL, NULL, 0), "hello from python\n", 18);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/big.bin", port);
    expect_file(r, weft_http_agent_request(a, "GET", u, NULL, NULL, 0), big, MIB);
    weft_http_response *resp = await_response(r, weft_http_agent_request(a, "HEAD", u, NULL, NULL, 0));
    cr_assert_str_eq(weft_http_headers_get(weft_http_response_headers(resp), "Content-Length"), "1048576");
    weft_http_response_free(resp);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/missing", port);
    resp = await_response(r, weft_http_agent_request(a, "GET", u, NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 404);
    weft_free(await_body(r, resp));
    weft_http_response_free(resp);
    /* a directory without its slash: a 301 to follow */
    weft_http_agent_free(a);
    weft_http_agent_options o = {.max_redirects = 2};
    a = weft_http_agent_new(r, &o);
    cr_assert_eq(mkdir(strcat(strcpy(u, dir), "/sub"), 0700), 0);
    write_file(dir, "sub/index.html", "<p>index</p>", 12);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/sub", port);
    resp = await_response(r, weft_http_agent_request(a, "GET", u, NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 200);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/sub/", port);
    cr_assert_str_eq(weft_http_response_url(resp), u);
    weft_bytes *b = await_body(r, resp);
    cr_assert_str_eq(b->data, "<p>index</p>");
    weft_free(b);
    weft_http_response_free(resp);
    weft_http_agent_free(a);
    settle(r);
    weft_reactor_free(r);
    weft_test_proc_finish(&p, SIGTERM);
    free(big);
    rm_rf(dir);
}

/* A port free now (bound, learnt and closed), for a program that cannot
 * report one it picked itself. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

WEFT_TEST(http_client, nginx)
{
    if (!weft_test_have("nginx"))
        cr_skip_test("nginx is not installed");
    char dir[] = "/tmp/weft-http-nginx-XXXXXX", path[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/www", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    char *big = pattern(MIB);
    write_file(dir, "www/big.bin", big, MIB);
    write_file(dir, "www/hello.txt", "hello from nginx\n", 17);
    int port = free_port();
    char conf[2048];
    snprintf(conf, sizeof conf,
             "error_log stderr notice;\n"
             "pid %s/nginx.pid;\n"
             "events { worker_connections 64; }\n"
             "http {\n"
             "  access_log off;\n"
             "  client_body_temp_path %s/body; proxy_temp_path %s/proxy; fastcgi_temp_path %s/fastcgi;\n"
             "  uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n"
             "  server {\n"
             "    listen unix:%s/sock; listen 127.0.0.1:%d;\n"
             "    root %s/www;\n"
             "    location = /conn { return 200 \"$connection\"; }\n"
             "    location = /moved { return 301 /hello.txt; }\n"
             "  }\n"
             "}\n",
             dir, dir, dir, dir, dir, dir, dir, port, dir);
    write_file(dir, "nginx.conf", conf, strlen(conf));
    snprintf(path, sizeof path, "%s/nginx.conf", dir);
    char *argv[] = {"nginx", "-p", dir, "-c", path, "-e", "stderr", "-g", "daemon off; master_process off;", NULL};
    weft_test_proc p;
    weft_test_proc_spawn(&p, argv);
    /* logged once the listening sockets are open */
    weft_test_proc_wait_for(&p, "getrlimit");

    weft_reactor *r = weft_test_reactor();
    weft_http_agent_options o = {.max_redirects = 1};
    weft_http_agent *a = weft_http_agent_new(r, &o);
    char desc[256], u[128];
    snprintf(desc, sizeof desc, "unix:%s/sock", dir);
    expect_file(r, weft_http_agent_request_to(a, desc, "GET", "/hello.txt", NULL, NULL, 0), "hello from nginx\n", 17);
    expect_file(r, weft_http_agent_request_to(a, desc, "GET", "/big.bin", NULL, NULL, 0), big, MIB);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/big.bin", port);
    expect_file(r, weft_http_agent_request(a, "GET", u, NULL, NULL, 0), big, MIB);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/moved", port);
    expect_file(r, weft_http_agent_request(a, "GET", u, NULL, NULL, 0), "hello from nginx\n", 17);
    /* keep-alive: nginx numbers its connections */
    char first[32] = "";
    snprintf(u, sizeof u, "http://127.0.0.1:%d/conn", port);
    for (int i = 0; i < 3; i++) {
        weft_http_response *resp = await_response(r, weft_http_agent_request(a, "GET", u, NULL, NULL, 0));
        weft_bytes *b = await_body(r, resp);
        if (i == 0)
            snprintf(first, sizeof first, "%s", b->data);
        else
            cr_assert_str_eq(b->data, first, "the same connection");
        weft_free(b);
        weft_http_response_free(resp);
    }
    weft_http_response *resp =
        await_response(r, weft_http_agent_request_to(a, desc, "HEAD", "/big.bin", NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 200);
    cr_assert_eq(weft_http_response_content_length(resp), 0);
    weft_http_response_free(resp);
    resp = await_response(r, weft_http_agent_request_to(a, desc, "GET", "/nope", NULL, NULL, 0));
    cr_assert_eq(weft_http_response_status(resp), 404);
    weft_free(await_body(r, resp));
    weft_http_response_free(resp);
    weft_http_agent_free(a);
    settle(r);
    weft_reactor_free(r);
    weft_test_proc_finish(&p, SIGTERM);
    free(big);
    rm_rf(dir);
}

/* ---- with no network: the memory reactor and the fake clock ---- */

WEFT_TEST(http_client, connect_timeout)
{
    weft_reactor *r = weft_test_clock();
    cr_assert_eq(weft_memory_reactor_install(r), 0);
    weft_http_agent_options o = {.connect_timeout = 5};
    weft_http_agent *a = weft_http_agent_new(r, &o);
    weft_deferred *d = weft_http_agent_request(a, "GET", "http://192.0.2.1/", NULL, NULL, 0);
    const weft_memory_connect *cs;
    cr_assert_eq(weft_memory_reactor_connects(r, &cs), 1);
    cr_assert_eq(weft_address_port(&cs[0].addr), 80);
    cr_assert_eq(weft_clock_advance(r, 4.9), 0);
    cr_assert(!weft_deferred_called(d));
    cr_assert_eq(weft_clock_advance(r, 0.2), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert(weft_failed(res));
    cr_assert_eq(weft_failure_code(res.value), WEFT_ETIMEDOUT);
    weft_result_free(res);
    weft_deferred_unref(d);
    weft_http_agent_free(a);
    weft_reactor_free(r);
}

/* One exchange over a string transport; every step may fail (it runs
 * under failing allocations), and nothing may crash or leak. */
static weft_result keep_result(void *arg, weft_result r)
{
    weft_result *out = arg;
    *out = r;
    return weft_none();
}

static void memory_exchange(void *arg)
{
    const char *answer = arg;
    weft_reactor *r;
    if (weft_reactor_new(NULL, &r) < 0)
        return;
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_text_observer, stderr);
    weft_http_agent *a = NULL;
    weft_deferred *d = NULL, *bd = NULL;
    weft_result res = weft_none(), body = weft_none();
    weft_string_transport *st = NULL;
    if (weft_memory_reactor_install(r) < 0 || !(a = weft_http_agent_new(r, NULL)))
        goto out;
    weft_fount *up = weft_fount_of_bytes(r, "abc", 3, false);
    d = weft_http_agent_request(a, "POST", "http://127.0.0.1:8080/p", NULL, up, up ? -1 : 0);
    if (!d || weft_deferred_add_callbacks(d, keep_result, keep_result, &res) < 0)
        goto out;
    const weft_memory_connect *cs;
    /* (a connect already settled was cancelled: its factory is gone) */
    if (weft_memory_reactor_connects(r, &cs) != 1 || weft_deferred_called(cs[0].d))
        goto out;
    weft_protocol *p = cs[0].factory->ops->build(cs[0].factory, &cs[0].addr);
    if (!p)
        goto out;
    if (weft_string_transport_new(r, p, NULL, NULL, &st) < 0) {
        p->ops->destroy(p);
        goto out;
    }
    weft_deferred_callback(cs[0].d, p, NULL);
    weft_reactor_iterate(r, 0);
    weft_string_transport_receive(st, answer, strlen(answer));
    weft_reactor_iterate(r, 0);
    if (res.value && !weft_failed(res)) {
        bd = weft_http_response_read_body(res.value, 0);
        if (bd && weft_deferred_add_callbacks(bd, keep_result, keep_result, &body) < 0) {
            weft_deferred_unref(bd);
            bd = NULL;
        }
        weft_reactor_iterate(r, 0);
        weft_reactor_iterate(r, 0);
    }
out:
    weft_result_free(body);
    weft_result_free(res);
    body = res = weft_none();
    weft_http_agent_free(a); /* a request still waiting fails now, into res */
    weft_deferred_unref(bd);
    weft_deferred_unref(d);
    weft_string_transport_free(st);
    for (int i = 0; i < 3; i++)
        weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
    weft_result_free(body);
    weft_result_free(res);
}

WEFT_TEST(http_client, allocation_failures)
{
    static const char chunked[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                  "X-A: 1\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    memory_exchange((void *)chunked); /* once whole, to know it works */
    size_t runs = weft_test_each_alloc_failure(memory_exchange, (void *)chunked);
    cr_assert_gt(runs, 20);
    static const char sized[] = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello";
    weft_test_each_alloc_failure(memory_exchange, (void *)sized);
}

/* A consumer that stops the body closes the connection; the next request
 * gets a new one. */
WEFT_TEST(http_client, stopping_the_body)
{
    fixture fx;
    setup(&fx, h_big, NULL);
    weft_http_response *resp = await_response(fx.r, weft_http_agent_request(fx.a, "GET", url(&fx, "/"), NULL, NULL, 0));
    cr_assert_eq(await_failure(fx.r, weft_http_response_read_body(resp, 1000), NULL, 0), -EMSGSIZE);
    srv_wait_lost(&fx.s, 1);
    weft_http_response_free(resp);
    teardown(&fx);
}

/* A drain that pauses on every piece and resumes from the reactor: the
 * end of a body must still come when the last piece was paused on. */
typedef struct stutter {
    weft_drain d;
    weft_reactor *r;
    char got[64];
    size_t len, total, pauses;
    weft_deferred *done;
    int code;
} stutter;

static void st_resume(void *arg)
{
    stutter *s = arg;
    if (s->d.fount)
        weft_fount_resume(s->d.fount);
}

static void st_receive(weft_drain *d, const void *data, size_t len)
{
    stutter *s = (stutter *)d;
    size_t n = len < sizeof s->got - 1 - s->len ? len : sizeof s->got - 1 - s->len;
    memcpy(s->got + s->len, data, n);
    s->len += n;
    s->total += len;
    cr_assert_gt(len, 0, "no empty pieces");
    s->pauses++;
    weft_fount_pause(d->fount);
    cr_assert_eq(weft_reactor_call_soon(s->r, st_resume, s), 0);
}

static void st_stopped(weft_drain *d, const weft_failure *why)
{
    stutter *s = (stutter *)d;
    s->code = weft_failure_code(why);
    weft_deferred_callback(s->done, NULL, NULL);
}

static const weft_drain_ops stutter_ops = {NULL, st_receive, st_stopped};

static void stutter_through(fixture *fx, const char *path, stutter *s)
{
    weft_http_response *resp =
        await_response(fx->r, weft_http_agent_request(fx->a, "GET", url(fx, path), NULL, NULL, 0));
    *s = (stutter){.d.ops = &stutter_ops, .r = fx->r, .done = weft_deferred_new(fx->r)};
    weft_flow_to(weft_http_response_body(resp), &s->d);
    cr_assert_eq(weft_reactor_run_until(fx->r, s->done, 30), 0, "the body never ended (%zu bytes)", s->total);
    weft_deferred_unref(s->done);
    cr_assert_eq(s->code, WEFT_EOF);
    weft_http_response_free(resp);
}

static void h_mixed(srv *s, sconn *c, const char *m, const char *path, const char *head, const char *body, size_t bl)
{
    if (strcmp(path, "/chunked") == 0)
        h_chunked(s, c, m, path, head, body, bl);
    else if (strcmp(path, "/big") == 0)
        h_big(s, c, m, path, head, body, bl);
    else
        h_hello(s, c, m, path, head, body, bl);
}

WEFT_TEST(http_client, pausing_on_every_piece)
{
    fixture fx;
    setup(&fx, h_mixed, NULL);
    stutter s;
    stutter_through(&fx, "/", &s);
    cr_assert_str_eq(s.got, "hello");
    stutter_through(&fx, "/chunked", &s);
    cr_assert_str_eq(s.got, "hello, world");
    cr_assert_eq(s.pauses, 3);
    stutter_through(&fx, "/", &s);
    cr_assert_eq(fx.s.accepted, 1, "each connection went back to the pool");
    stutter_through(&fx, "/big", &s);
    cr_assert_eq(s.total, (size_t)BIG);
    teardown(&fx);
}

/* The server answers before the request body is all sent (and closes):
 * the response arrives whole, and the rest of the body is stopped. */
WEFT_TEST(http_client, answered_before_the_body_is_sent)
{
    fixture fx;
    setup(&fx, h_hello, NULL);
    fx.s.early = "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big!";
    size_t n = 16 * 1024 * 1024;
    char *big = calloc(1, n);
    weft_fount *body = weft_fount_of_bytes(fx.r, big, n, true);
    free(big);
    weft_http_response *resp =
        await_response(fx.r, weft_http_agent_request(fx.a, "POST", url(&fx, "/upload"), NULL, body, -1));
    cr_assert_eq(weft_http_response_status(resp), 413);
    weft_bytes *b = await_body(fx.r, resp);
    cr_assert_str_eq(b->data, "too big!");
    weft_free(b);
    weft_http_response_free(resp);
    /* the agent goes on with a new connection */
    expect_get(&fx, url(&fx, "/"), 200, "hello");
    cr_assert_eq(fx.s.accepted, 2);
    teardown(&fx);
}
