/* SPDX-License-Identifier: MIT */
/* Hostile clients: every limit with its status, the request smuggling
 * cases, the timeouts (on the fake clock) and a slowloris crowd over real
 * TCP while a normal client is still served. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

typedef struct fx {
    weft_reactor *r;
    weft_http_server *s;
    weft_string_transport *st;
    weft_test_log log;
    int handled;
    weft_http_request *held;
} fx;

static void hello(void *arg, weft_http_request *req)
{
    fx *f = arg;
    f->handled++;
    weft_http_reply(req, 200, "text/plain", "Hello, World!", 13);
}

static weft_result drop_body(void *arg, weft_result res)
{
    weft_http_request *req = arg;
    if (weft_failed(res))
        weft_http_reply_error(req, 400, NULL); /* -EALREADY when the server answered */
    else
        weft_http_reply(req, 200, "text/plain", "read", 4);
    weft_result_free(res);
    return weft_none();
}

static void reader(void *arg, weft_http_request *req)
{
    fx *f = arg;
    f->handled++;
    const char *big = weft_http_request_header(req, "x-big");
    if (big)
        weft_http_request_set_max_body(req, 10u << 20);
    weft_deferred *d = weft_http_request_read_body(req);
    cr_assert_eq(weft_deferred_add_both(d, drop_body, req), 0);
    weft_deferred_unref(d);
}

/* 300,000 bytes at once: more than a client that reads nothing takes. */
static void big(void *arg, weft_http_request *req)
{
    (void)arg;
    static const char body[300000];
    weft_http_reply(req, 200, "application/octet-stream", body, sizeof body);
}

/* Starts the response and keeps the request, for the test to finish. */
static void hold(void *arg, weft_http_request *req)
{
    fx *f = arg;
    f->handled++;
    f->held = req;
    cr_assert_eq(weft_http_reply_write(req, "he", 2), 0);
}

static void fx_open(fx *f, const weft_http_server_options *o)
{
    memset(f, 0, sizeof *f);
    f->r = weft_test_clock();
    weft_test_log_capture(f->r, &f->log);
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource *r = weft_http_resource_new();
    weft_http_resource_on(root, "GET", hello, f);
    weft_http_resource_on(r, "*", reader, f);
    weft_http_resource_put_child(root, "read", r);
    weft_http_resource *b = weft_http_resource_new();
    weft_http_resource_on(b, "GET", big, f);
    weft_http_resource_put_child(root, "big", b);
    weft_http_resource *h = weft_http_resource_new();
    weft_http_resource_on(h, "GET", hold, f);
    weft_http_resource_put_child(root, "hold", h);
    f->s = weft_http_server_new(f->r, root, o);
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

static void fx_send(fx *f, const char *data, size_t len)
{
    weft_string_transport_receive(f->st, data, len);
    for (int i = 0; i < 3; i++)
        weft_reactor_iterate(f->r, 0);
}

static weft_string_transport_state fx_state(fx *f)
{
    weft_string_transport_state s;
    weft_string_transport_inspect(f->st, &s);
    return s;
}

/* Sends `req` and checks the one response is `status` and the connection
 * is closing. */
static void expect_refused(const weft_http_server_options *o, const char *req, size_t len, int status)
{
    fx f;
    fx_open(&f, o);
    fx_send(&f, req, len);
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
    const char *out = weft_string_transport_value(f.st, NULL);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "want %d for %.200s, got: %s", status, req, out);
    cr_assert(strstr(out, "Connection: close\r\n"), "%s", out);
    cr_assert(strstr(out, "<html>"), "an error page: %s", out);
    cr_assert(fx_state(&f).write_eof_called || fx_state(&f).lose_called || fx_state(&f).closed, "closed after %d",
              status);
    /* nothing after it is answered */
    size_t before;
    weft_string_transport_value(f.st, &before);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    size_t after;
    weft_string_transport_value(f.st, &after);
    cr_assert_eq(before, after);
    fx_close(&f);
}

#define REFUSED(o, lit, status) expect_refused((o), (lit), sizeof(lit) - 1, (status))

/* ---- limits ---- */

WEFT_TEST(http_hostile, header_bytes_431)
{
    char req[20000];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nX-Long: ");
    memset(req + n, 'a', 17000);
    strcpy(req + n + 17000, "\r\n\r\n");
    expect_refused(NULL, req, strlen(req), 431);
    /* a smaller limit, set */
    weft_http_server_options o = {.max_header_bytes = 1000};
    n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nX-Long: ");
    memset(req + n, 'a', 1200);
    strcpy(req + n + 1200, "\r\n\r\n");
    expect_refused(&o, req, strlen(req), 431);
}

WEFT_TEST(http_hostile, header_count_431)
{
    /* the default, 500, well inside the default 16 KiB of header bytes */
    char req[16384] = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 520; i++)
        sprintf(req + strlen(req), "X-%d: y\r\n", i);
    strcat(req, "\r\n");
    expect_refused(NULL, req, strlen(req), 431);
    weft_http_server_options o = {.max_headers = 5};
    strcpy(req, "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n");
    expect_refused(&o, req, strlen(req), 431);
}

WEFT_TEST(http_hostile, uri_414)
{
    char req[20000] = "GET /";
    memset(req + 5, 'a', 9000);
    strcpy(req + 9005, " HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_refused(NULL, req, strlen(req), 414);
    weft_http_server_options o = {.max_uri = 10};
    REFUSED(&o, "GET /0123456789abc HTTP/1.1\r\nHost: x\r\n\r\n", 414);
}

WEFT_TEST(http_hostile, body_413_declared)
{
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n", 413);
    weft_http_server_options o = {.max_body = 10};
    REFUSED(&o, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890", 413);
}

WEFT_TEST(http_hostile, body_413_chunked)
{
    weft_http_server_options o = {.max_body = 10};
    REFUSED(&o, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n",
            413);
}

WEFT_TEST(http_hostile, body_limit_raised_per_request_declared)
{
    fx f;
    fx_open(&f, &(weft_http_server_options){.max_body = 10});
    static const char req[] = "POST /read HTTP/1.1\r\nHost: x\r\nX-Big: 1\r\nContent-Length: 16\r\n\r\n0123456789abcdef";
    fx_send(&f, req, sizeof req - 1);
    cr_assert(strstr(weft_string_transport_value(f.st, NULL), "HTTP/1.1 200 OK"), "%s",
              weft_string_transport_value(f.st, NULL));
    fx_close(&f);
}

WEFT_TEST(http_hostile, body_limit_raised_per_request)
{
    weft_http_server_options o = {.max_body = 10};
    fx f;
    fx_open(&f, &o);
    static const char req[] = "POST /read HTTP/1.1\r\nHost: x\r\nX-Big: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "10\r\n0123456789abcdef\r\n0\r\n\r\n";
    fx_send(&f, req, sizeof req - 1);
    cr_assert(strstr(weft_string_transport_value(f.st, NULL), "HTTP/1.1 200 OK"), "%s",
              weft_string_transport_value(f.st, NULL));
    fx_close(&f);
}

WEFT_TEST(http_hostile, unknown_transfer_coding_501)
{
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501);
}

WEFT_TEST(http_hostile, unknown_method_501)
{
    REFUSED(NULL, "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501);
}

/* ---- smuggling ---- */

WEFT_TEST(http_hostile, content_length_with_transfer_encoding)
{
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", 400);
}

WEFT_TEST(http_hostile, duplicate_content_length)
{
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400);
}

/* Defect: 18446744073709551615 became -1, the request was taken for a
 * chunked one and the early 413 skipped. A length that does not fit is
 * malformed. */
WEFT_TEST(http_hostile, content_length_above_int64_max_is_400)
{
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n0\r\n\r\n", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775808\r\n\r\n", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n", 400);
    /* the largest that fits is only too large for the limit */
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n", 413);
}

WEFT_TEST(http_hostile, transfer_encoding_not_final_chunked)
{
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 400);
    REFUSED(NULL, "POST /read HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400);
}

WEFT_TEST(http_hostile, obs_fold)
{
    REFUSED(NULL, "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400);
    REFUSED(NULL, "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400);
}

WEFT_TEST(http_hostile, bare_cr_and_lf)
{
    REFUSED(NULL, "GET / HTTP/1.1\nHost: x\n\n", 400);
    REFUSED(NULL, "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400);
    REFUSED(NULL, "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400);
    REFUSED(NULL, "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400);
}

WEFT_TEST(http_hostile, invalid_header_names)
{
    REFUSED(NULL, "GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 400);
    REFUSED(NULL, "GET / HTTP/1.1\r\nHost: x\r\nX-A : y\r\n\r\n", 400);
    REFUSED(NULL, "GET / HTTP/1.1\r\nHost: x\r\n: y\r\n\r\n", 400);
    REFUSED(NULL, "GET / HTTP/1.1\r\nHost: x\r\nX\x01: y\r\n\r\n", 400);
}

WEFT_TEST(http_hostile, chunk_size_garbage)
{
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n0\r\n\r\n", 400);
    REFUSED(NULL, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400);
    REFUSED(NULL,
            "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
            400);
}

WEFT_TEST(http_hostile, missing_or_double_host)
{
    REFUSED(NULL, "GET / HTTP/1.1\r\n\r\n", 400);
    REFUSED(NULL, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}

WEFT_TEST(http_hostile, garbage)
{
    REFUSED(NULL, "\x00\x01\x02\x03 / HTTP/1.1\r\n\r\n", 400);
    REFUSED(NULL, "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505);
    REFUSED(NULL, "GET / FTP/1.1\r\nHost: x\r\n\r\n", 400);
}

WEFT_TEST(http_hostile, error_after_pipelined_requests_waits_its_turn)
{
    fx f;
    fx_open(&f, NULL);
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n";
    fx_send(&f, req, sizeof req - 1);
    const char *out = weft_string_transport_value(f.st, NULL);
    const char *ok = strstr(out, "HTTP/1.1 200 OK"), *bad = strstr(out, "HTTP/1.1 400 Bad Request");
    cr_assert(ok && bad && ok < bad, "%s", out);
    cr_assert_eq(f.handled, 1);
    fx_close(&f);
}

/* Issue 10: a HEAD refused before dispatch, while an earlier response is
 * still being written, gets its error page's head once that response is
 * out, and no body (RFC 9110 9.3.2). */
WEFT_TEST(http_hostile, a_refused_head_waiting_its_turn_gets_no_body)
{
    fx f;
    fx_open(&f, NULL);
    static const char req[] = "GET /hold HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n";
    fx_send(&f, req, sizeof req - 1);
    cr_assert_not_null(f.held);
    size_t len;
    const char *out = weft_string_transport_value(f.st, &len);
    cr_assert_null(strstr(out, "HTTP/1.1 400"), "the 400 waits for the held response: %s", out);
    cr_assert_eq(weft_http_reply_write(f.held, "ld", 2), 0);
    cr_assert_eq(weft_http_reply_finish(f.held), 0);
    for (int i = 0; i < 3; i++)
        weft_reactor_iterate(f.r, 0);
    out = weft_string_transport_value(f.st, &len);
    const char *bad = strstr(out, "HTTP/1.1 400 Bad Request\r\n");
    cr_assert(bad && bad > strstr(out, "\r\n0\r\n\r\n"), "%s", out);
    cr_assert(strstr(bad, "\r\nContent-Length: "), "%s", out);
    const char *end = strstr(bad, "\r\n\r\n");
    cr_assert(end && end + 4 == out + len, "nothing may follow the 400's head: %s", out);
    fx_close(&f);
}

/* ---- timeouts, on the fake clock ---- */

WEFT_TEST(http_hostile, header_timeout_408)
{
    fx f;
    fx_open(&f, &(weft_http_server_options){.header_timeout = 5, .idle_timeout = 100});
    fx_send(&f, "GET / HTTP/1.1\r\nHo", 18);
    for (int i = 0; i < 4; i++) {
        weft_clock_advance(f.r, 1);
        fx_send(&f, "s", 1); /* a byte now and then does not extend it */
    }
    cr_assert(!fx_state(&f).lose_called);
    weft_clock_advance(f.r, 1.5);
    weft_reactor_iterate(f.r, 0);
    const char *out = weft_string_transport_value(f.st, NULL);
    cr_assert(strncmp(out, "HTTP/1.1 408 ", 13) == 0, "%s", out);
    cr_assert(fx_state(&f).write_eof_called);
    fx_close(&f);
}

WEFT_TEST(http_hostile, idle_timeout_closes)
{
    fx f;
    fx_open(&f, &(weft_http_server_options){.idle_timeout = 10});
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    weft_clock_advance(f.r, 9);
    cr_assert(!fx_state(&f).lose_called);
    fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27); /* activity: the idle time starts again */
    weft_clock_advance(f.r, 9);
    cr_assert(!fx_state(&f).lose_called);
    weft_clock_advance(f.r, 1.5);
    weft_reactor_iterate(f.r, 0);
    cr_assert(fx_state(&f).lose_called || fx_state(&f).closed);
    cr_assert_eq(f.handled, 2);
    fx_close(&f);
}

WEFT_TEST(http_hostile, send_timeout_drops_a_client_that_reads_nothing)
{
    fx f;
    fx_open(&f, &(weft_http_server_options){.send_timeout = 60, .idle_timeout = 1000});
    weft_string_transport_set_blocked(f.st, true);
    fx_send(&f, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", 30);
    cr_assert_gt(fx_state(&f).buffered, 0);
    weft_clock_advance(f.r, 59);
    cr_assert_not(fx_state(&f).abort_called);
    weft_clock_advance(f.r, 2);
    weft_reactor_iterate(f.r, 0);
    cr_assert(fx_state(&f).abort_called, "nothing taken for 60 s: dropped");
    fx_close(&f);
}

WEFT_TEST(http_hostile, send_timeout_spares_a_slow_reader)
{
    fx f;
    fx_open(&f, &(weft_http_server_options){.send_timeout = 60, .idle_timeout = 1000});
    weft_string_transport_set_blocked(f.st, true);
    fx_send(&f, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", 30);
    for (int i = 0; i < 10; i++) {
        weft_clock_advance(f.r, 40);
        weft_string_transport_drain(f.st, 1000); /* a little every 40 s */
        weft_reactor_iterate(f.r, 0);
        cr_assert_not(fx_state(&f).abort_called, "after %d s", (i + 1) * 40);
    }
    fx_close(&f);
}

WEFT_TEST(http_hostile, body_timeout_408)
{
    fx f;
    fx_open(&f, &(weft_http_server_options){.body_timeout = 3});
    fx_send(&f, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab", 52);
    weft_clock_advance(f.r, 2);
    fx_send(&f, "cd", 2); /* each body byte restarts the body timer */
    weft_clock_advance(f.r, 2);
    cr_assert(!fx_state(&f).lose_called);
    weft_clock_advance(f.r, 1.5);
    weft_reactor_iterate(f.r, 0);
    const char *out = weft_string_transport_value(f.st, NULL);
    cr_assert(strncmp(out, "HTTP/1.1 408 ", 13) == 0, "%s", out);
    cr_assert(fx_state(&f).write_eof_called);
    fx_close(&f);
}

WEFT_TEST(http_hostile, one_timer_per_connection)
{
    fx f;
    fx_open(&f, NULL);
    size_t before = weft_reactor_timer_count(f.r);
    for (int i = 0; i < 50; i++)
        fx_send(&f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    cr_assert_leq(weft_reactor_timer_count(f.r), before, "no timer per request");
    cr_assert_eq(f.handled, 50);
    fx_close(&f);
}

/* ---- slowloris over TCP ---- */

enum { CROWD = 200 };

typedef struct slow {
    weft_protocol base;
    struct crowd *crowd;
    bool answered, gone;
    char first[16];
    size_t first_len;
} slow;

typedef struct crowd {
    weft_reactor *r;
    slow conns[CROWD];
    size_t next, gone, answered_408;
    weft_deferred *all_gone;
    weft_looping_call *drip;
    weft_address addr;
} crowd;

static void slow_made(weft_protocol *p)
{
    weft_transport_write(p->transport, "GET / HTTP/1.1\r\nX-Slow: ", 24);
}

static void slow_received(weft_protocol *p, const void *data, size_t len)
{
    slow *s = (slow *)p;
    size_t n = len < sizeof s->first - 1 - s->first_len ? len : sizeof s->first - 1 - s->first_len;
    memcpy(s->first + s->first_len, data, n);
    s->first_len += n;
}

static void slow_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    slow *s = (slow *)p;
    s->gone = true;
    if (strncmp(s->first, "HTTP/1.1 408", 12) == 0)
        s->crowd->answered_408++;
    else
        fprintf(stderr, "lost %s with [%.*s]\n", weft_failure_message(why), (int)s->first_len, s->first);
    if (++s->crowd->gone == CROWD)
        weft_deferred_callback(s->crowd->all_gone, NULL, NULL);
}

static const weft_protocol_ops slow_ops = {.connection_made = slow_made, .data_received = slow_received,
                                           .connection_lost = slow_lost};

typedef struct crowd_factory {
    weft_factory base;
    crowd *c;
} crowd_factory;

static weft_protocol *crowd_build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    crowd *c = ((crowd_factory *)f)->c;
    cr_assert_lt(c->next, CROWD);
    slow *s = &c->conns[c->next++];
    s->base.ops = &slow_ops;
    s->crowd = c;
    return &s->base;
}

static const weft_factory_ops crowd_ops = {.build = crowd_build};

static weft_result drip(void *arg, uint64_t count)
{
    (void)count;
    crowd *c = arg;
    for (size_t i = 0; i < c->next; i++)
        if (!c->conns[i].gone && c->conns[i].base.transport)
            weft_transport_write(c->conns[i].base.transport, "a", 1);
    return weft_none();
}

/* A normal client: one request, Connection: close, the whole answer. */
typedef struct normal {
    weft_protocol base;
    char buf[4096];
    size_t len;
    weft_deferred *done;
} normal;

static void normal_made(weft_protocol *p)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    weft_transport_write(p->transport, req, sizeof req - 1);
}

static void normal_received(weft_protocol *p, const void *data, size_t len)
{
    normal *n = (normal *)p;
    if (n->len + len < sizeof n->buf) {
        memcpy(n->buf + n->len, data, len);
        n->len += len;
    }
}

static void normal_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    normal *n = (normal *)p;
    n->buf[n->len] = 0;
    weft_deferred_callback(n->done, NULL, NULL);
}

static const weft_protocol_ops normal_ops = {.connection_made = normal_made, .data_received = normal_received,
                                             .connection_lost = normal_lost};

typedef struct normal_factory {
    weft_factory base;
    normal *n;
} normal_factory;

static weft_protocol *normal_build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    return &((normal_factory *)f)->n->base;
}

static const weft_factory_ops normal_fops = {.build = normal_build};

WEFT_TEST(http_hostile, slowloris_crowd, .timeout = 60)
{
    weft_reactor *r = weft_test_reactor();
    fx holder = {0};
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource_on(root, "GET", hello, &holder);
    weft_http_server *s =
        weft_http_server_new(r, root, &(weft_http_server_options){.header_timeout = 1.5, .idle_timeout = 30});
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    weft_port *port;
    weft_listen_options lo = {.backlog = 512};
    cr_assert_eq(weft_listen(r, &a, weft_http_server_factory(s), &lo, &port), 0);
    cr_assert_eq(weft_port_address(port, &a), 0);

    crowd *c = calloc(1, sizeof *c);
    c->r = r;
    c->all_gone = weft_deferred_new(r);
    crowd_factory cf = {.base.ops = &crowd_ops, .c = c};
    weft_deferred *connects[CROWD];
    for (int i = 0; i < CROWD; i++)
        connects[i] = weft_connect(r, &a, &cf.base, NULL);
    c->drip = weft_looping_call_new(r, drip, c);
    cr_assert_eq(weft_looping_call_start(c->drip, 0.2, false, NULL), 0);

    /* Normal clients, one after another, while the crowd drips. */
    for (int i = 0; i < 3; i++) {
        normal n = {.base.ops = &normal_ops};
        n.done = weft_deferred_new(r);
        normal_factory nf = {.base.ops = &normal_fops, .n = &n};
        weft_deferred *cd = weft_connect(r, &a, &nf.base, NULL);
        cr_assert_eq(weft_reactor_run_until(r, n.done, 5), 0, "a normal client is served meanwhile");
        cr_assert(strstr(n.buf, "HTTP/1.1 200 OK") && strstr(n.buf, "Hello, World!"), "%s", n.buf);
        weft_deferred_unref(cd);
        weft_deferred_unref(n.done);
    }
    cr_assert_eq(holder.handled, 3);
    cr_assert_eq(weft_reactor_run_until(r, c->all_gone, 20), 0, "the server cut the slow clients off");
    cr_assert_eq(c->answered_408, CROWD, "each was told 408 (%zu)", c->answered_408);

    weft_looping_call_stop(c->drip);
    weft_looping_call_free(c->drip);
    for (int i = 0; i < CROWD; i++)
        weft_deferred_unref(connects[i]);
    weft_deferred_unref(c->all_gone);
    free(c);
    weft_deferred *stopped = weft_port_stop(port);
    cr_assert_eq(weft_reactor_run_until(r, stopped, 10), 0);
    weft_deferred_unref(stopped);
    weft_http_server_free(s);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}

/* ---- allocation failures ---- */

static void plain(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply(req, 200, "text/plain", "ok", 2);
}

static weft_result coro_plain(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply_write(req, "co", 2);
    return weft_none();
}

static void one_run(void *arg)
{
    (void)arg;
    weft_reactor *r;
    if (weft_clock_new(&r) < 0)
        return;
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_text_observer, stderr);
    weft_http_resource *root = weft_http_resource_new(), *co = weft_http_resource_new();
    if (!root || !co || weft_http_resource_on_coro(co, "GET", coro_plain, NULL) < 0) {
        weft_http_resource_free(co);
        weft_http_resource_free(root);
        weft_reactor_free(r);
        return;
    }
    /* (put_child takes co even when it fails) */
    if (weft_http_resource_put_child(root, "co", co) < 0 || weft_http_resource_on(root, "*", plain, NULL) < 0) {
        weft_http_resource_free(root);
        weft_reactor_free(r);
        return;
    }
    weft_http_server *s = weft_http_server_new(r, root, NULL);
    if (!s) {
        weft_reactor_free(r);
        return;
    }
    weft_factory *f = weft_http_server_factory(s);
    weft_protocol *p = f->ops->build(f, NULL);
    weft_string_transport *st = NULL;
    if (p && weft_string_transport_new(r, p, NULL, NULL, &st) < 0) {
        p->ops->destroy(p);
        st = NULL;
    }
    if (st) {
        static const char reqs[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                                   "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                                   "GET /co HTTP/1.1\r\nHost: x\r\n\r\n"
                                   "GET /nope/%41 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"
                                   "BAD\r\n\r\n";
        weft_string_transport_receive(st, reqs, sizeof reqs - 1);
        for (int i = 0; i < 4; i++)
            weft_reactor_iterate(r, 0);
        weft_string_transport_free(st);
    }
    weft_reactor_iterate(r, 0);
    weft_http_server_free(s);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}

WEFT_TEST(http_hostile, every_allocation_failure, .timeout = 120)
{
    size_t runs = weft_test_each_alloc_failure(one_run, NULL);
    cr_assert_gt(runs, 20);
}
