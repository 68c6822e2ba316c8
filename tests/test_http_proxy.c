/* SPDX-License-Identifier: MIT */
/*
 * The reverse proxy in one reactor over real TCP: a weft upstream, a weft
 * server proxying /up to it, and weft's agent as the client. Backpressure
 * both ways (a client that stops reading pauses the upstream's producer; an
 * upstream that stops reading a body stops the client's upload), a client
 * leaving mid-body ends the upstream's response, hop-by-hop headers, 502;
 * and the hostile cases: dot segments, an exhausted pool, an upstream whose
 * Content-Length no int64_t holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

typedef struct gen {
    weft_producer base;
    weft_http_request *req;
    uint64_t left, total;
    bool paused, done, lost, stopped;
} gen;

typedef struct up_state {
    gen g;
    size_t body_got;
    bool body_paused_seen;
    weft_http_request *upload;
    weft_fount *upload_fount;
    weft_drain upload_drain;
    bool upload_ended;
    int hung, echoed; /* requests seen by up_hang, up_headers */
} up_state;

static void gen_run(gen *g)
{
    static const char block[16384];
    while (!g->paused && g->left && !g->done) {
        size_t n = g->left < sizeof block ? (size_t)g->left : sizeof block;
        g->left -= n;
        if (weft_http_reply_write(g->req, block, n) != 0)
            break;
    }
    if (!g->left && !g->done) {
        g->done = true;
        weft_http_reply_unregister_producer(g->req);
        weft_http_reply_finish(g->req);
    }
}

static void gen_pause(weft_producer *p)
{
    ((gen *)p)->paused = true;
}

static void gen_resume(weft_producer *p)
{
    gen *g = (gen *)p;
    g->paused = false;
    gen_run(g);
}

static void gen_stop(weft_producer *p)
{
    gen *g = (gen *)p;
    g->paused = true;
    g->stopped = true;
    if (!g->done) {
        g->done = true;
        weft_http_reply_finish(g->req);
    }
}

static const weft_producer_ops gen_ops = {gen_pause, gen_resume, gen_stop};

static weft_result note_lost(void *arg, weft_result r)
{
    ((gen *)arg)->lost = weft_failed(r);
    weft_result_free(r);
    return weft_none();
}

static void up_big(void *arg, weft_http_request *req)
{
    up_state *s = arg;
    gen *g = &s->g;
    g->req = req;
    g->left = g->total;
    char len[32];
    snprintf(len, sizeof len, "%llu", (unsigned long long)g->total);
    weft_http_reply_set_header(req, "Content-Length", len);
    weft_http_reply_set_header(req, "Connection", "X-Hop-Out");
    weft_http_reply_set_header(req, "X-Hop-Out", "dropped");
    weft_deferred *fin = weft_http_reply_notify_finish(req);
    cr_assert_eq(weft_deferred_add_both(fin, note_lost, g), 0);
    weft_deferred_unref(fin);
    cr_assert_eq(weft_http_reply_register_producer(req, &g->base, true), 0);
    gen_run(g);
}

/* The upload's drain upstream: counts, and pauses after each piece until
 * the test resumes it. */
static void ud_receive(weft_drain *d, const void *data, size_t len)
{
    (void)data;
    up_state *s = (up_state *)((char *)d - offsetof(up_state, upload_drain));
    s->body_got += len;
    if (s->body_got > (1u << 20) && !s->body_paused_seen) {
        s->body_paused_seen = true;
        weft_fount_pause(d->fount);
    }
}

static void ud_stopped(weft_drain *d, const weft_failure *why)
{
    up_state *s = (up_state *)((char *)d - offsetof(up_state, upload_drain));
    cr_assert_eq(weft_failure_code(why), WEFT_EOF, "%s", weft_failure_message(why));
    s->upload_ended = true;
    char text[64];
    snprintf(text, sizeof text, "got %zu", s->body_got);
    weft_http_reply(s->upload, 200, "text/plain", text, strlen(text));
}

static const weft_drain_ops ud_ops = {.receive = ud_receive, .flow_stopped = ud_stopped};

static void up_upload(void *arg, weft_http_request *req)
{
    up_state *s = arg;
    s->upload = req;
    weft_http_request_set_max_body(req, UINT64_MAX);
    s->upload_drain.ops = &ud_ops;
    s->upload_fount = weft_http_request_body(req);
    weft_flow_to(s->upload_fount, &s->upload_drain);
}

static void up_headers(void *arg, weft_http_request *req)
{
    ((up_state *)arg)->echoed++;
    char out[4096] = "";
    const weft_http_headers *h = weft_http_request_headers(req);
    snprintf(out, sizeof out, "%s %s\n", weft_http_request_method(req), weft_http_request_target(req));
    for (size_t i = 0; i < weft_http_headers_count(h); i++) {
        const char *n, *v;
        weft_http_headers_at(h, i, &n, &v);
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s: %s\n", n, v);
    }
    weft_http_reply(req, 200, "text/plain", out, strlen(out));
}

/* Never answers; finishes its request when the connection goes. */
static weft_result hang_over(void *arg, weft_result r)
{
    weft_http_reply_finish(arg);
    weft_result_free(r);
    return weft_none();
}

static void up_hang(void *arg, weft_http_request *req)
{
    ((up_state *)arg)->hung++;
    weft_deferred *fin = weft_http_reply_notify_finish(req);
    cr_assert_eq(weft_deferred_add_both(fin, hang_over, req), 0);
    weft_deferred_unref(fin);
}

/* An upstream that answers anything with one canned response and closes. */
typedef struct canned {
    weft_factory f;
    const char *response;
    weft_port *port;
} canned;

static void canned_data(weft_protocol *p, const void *data, size_t len)
{
    (void)data, (void)len;
    canned *c = (canned *)p->factory;
    weft_transport_write(p->transport, c->response, strlen(c->response));
    weft_transport_lose_connection(p->transport);
}

static void canned_destroy(weft_protocol *p)
{
    free(p);
}

static const weft_protocol_ops canned_conn_ops = {.data_received = canned_data, .destroy = canned_destroy};

static weft_protocol *canned_build(weft_factory *f, const weft_address *peer)
{
    (void)f, (void)peer;
    weft_protocol *p = calloc(1, sizeof *p);
    p->ops = &canned_conn_ops;
    return p;
}

static const weft_factory_ops canned_ops = {.build = canned_build};

typedef struct rig {
    weft_reactor *r;
    up_state up;
    weft_http_server *upstream, *front;
    weft_port *up_port, *front_port;
    weft_http_agent *proxy_agent, *client;
    canned huge;
    char base[64];
} rig;

static weft_port *listen_local(weft_reactor *r, weft_http_server *s)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    weft_port *p;
    cr_assert_eq(weft_listen(r, &a, weft_http_server_factory(s), NULL, &p), 0);
    return p;
}

static int port_of(weft_port *p)
{
    weft_address a;
    cr_assert_eq(weft_port_address(p, &a), 0);
    return weft_address_port(&a);
}

/* The proxy's agent takes ao; the front server mounts
 *   /up       the upstream, path ""
 *   /pub      the upstream, path "/public" (an echo of what it receives)
 *   /nowhere  a port where nothing listens
 *   /huge     an upstream whose Content-Length is 2^64 - 1 */
static void rig_open_with(rig *g, uint64_t big_total, const weft_http_agent_options *ao)
{
    memset(g, 0, sizeof *g);
    g->r = weft_test_reactor();
    g->up.g = (gen){.base.ops = &gen_ops, .total = big_total};
    weft_http_resource *uroot = weft_http_resource_new();
    weft_http_resource *b = weft_http_resource_new(), *u = weft_http_resource_new(), *h = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on(b, "GET", up_big, &g->up), 0);
    cr_assert_eq(weft_http_resource_on(u, "POST", up_upload, &g->up), 0);
    cr_assert_eq(weft_http_resource_on(h, "*", up_headers, &g->up), 0);
    weft_http_resource_set_leaf(h, true);
    weft_http_resource *pub = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on(pub, "*", up_headers, &g->up), 0);
    weft_http_resource_set_leaf(pub, true);
    cr_assert_eq(weft_http_resource_put_child(uroot, "public", pub), 0);
    weft_http_resource *hang = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_on(hang, "GET", up_hang, &g->up), 0);
    cr_assert_eq(weft_http_resource_put_child(uroot, "hang", hang), 0);
    cr_assert_eq(weft_http_resource_put_child(uroot, "big", b), 0);
    cr_assert_eq(weft_http_resource_put_child(uroot, "upload", u), 0);
    cr_assert_eq(weft_http_resource_put_child(uroot, "headers", h), 0);
    g->upstream = weft_http_server_new(g->r, uroot, NULL);
    g->up_port = listen_local(g->r, g->upstream);

    g->huge = (canned){.f.ops = &canned_ops,
                       .response = "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nabc"};
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_listen(g->r, &a, &g->huge.f, NULL, &g->huge.port), 0);

    g->proxy_agent = weft_http_agent_new(g->r, ao);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp:host=127.0.0.1:port=%d", port_of(g->up_port));
    weft_http_resource *froot = weft_http_resource_new();
    cr_assert_eq(weft_http_resource_mount(froot, "/up", weft_http_proxy_new(g->proxy_agent, ep, NULL)), 0);
    cr_assert_eq(weft_http_resource_mount(froot, "/pub", weft_http_proxy_new(g->proxy_agent, ep, "/public")), 0);
    snprintf(ep, sizeof ep, "tcp:host=127.0.0.1:port=%d", port_of(g->huge.port));
    cr_assert_eq(weft_http_resource_mount(froot, "/huge", weft_http_proxy_new(g->proxy_agent, ep, NULL)), 0);
    cr_assert_eq(weft_http_resource_mount(froot, "/nowhere",
                                          weft_http_proxy_new(g->proxy_agent, "tcp:host=127.0.0.1:port=1", NULL)),
                 0);
    g->front = weft_http_server_new(g->r, froot, NULL);
    g->front_port = listen_local(g->r, g->front);
    g->client = weft_http_agent_new(g->r, NULL);
    snprintf(g->base, sizeof g->base, "http://127.0.0.1:%d", port_of(g->front_port));
}

static void rig_open(rig *g, uint64_t big_total, double response_timeout)
{
    weft_http_agent_options ao = {.response_timeout = response_timeout};
    rig_open_with(g, big_total, &ao);
}

static void rig_close(rig *g)
{
    weft_http_agent_free(g->client);
    weft_deferred *s1 = weft_port_stop(g->front_port), *s2 = weft_port_stop(g->up_port);
    weft_deferred *s3 = weft_port_stop(g->huge.port);
    cr_assert_eq(weft_reactor_run_until(g->r, s1, 10), 0);
    cr_assert_eq(weft_reactor_run_until(g->r, s2, 10), 0);
    cr_assert_eq(weft_reactor_run_until(g->r, s3, 10), 0);
    weft_deferred_unref(s1);
    weft_deferred_unref(s2);
    weft_deferred_unref(s3);
    weft_http_server_free(g->front);
    weft_http_agent_free(g->proxy_agent);
    weft_http_server_free(g->upstream);
    for (int i = 0; i < 20; i++)
        weft_reactor_iterate(g->r, 0.001);
    weft_reactor_free(g->r);
}

static weft_http_response *get(rig *g, const char *method, const char *path, weft_http_headers *h, weft_fount *body,
                               int64_t len)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", g->base, path);
    weft_deferred *d = weft_http_agent_request(g->client, method, url, h, body, len);
    cr_assert_eq(weft_reactor_run_until(g->r, d, 20), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    cr_assert(!weft_failed(res), "%s", weft_failure_message(weft_result_failure(res)));
    return res.value;
}

static weft_bytes *body_of(rig *g, weft_http_response *resp)
{
    weft_deferred *d = weft_http_response_read_body(resp, 0);
    cr_assert_eq(weft_reactor_run_until(g->r, d, 20), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    cr_assert(!weft_failed(res), "%s", weft_failure_message(weft_result_failure(res)));
    return res.value;
}

WEFT_TEST(http_proxy, forwards_with_forwarding_headers_and_without_hop_by_hop, .timeout = 60)
{
    rig g;
    rig_open(&g, 0, 0);
    weft_http_headers *h = weft_http_headers_new();
    /* (Connection and what it names are covered in test_web with curl: the
     * agent sets its own Connection.) */
    weft_http_headers_add(h, "Keep-Alive", "timeout=5");
    weft_http_headers_add(h, "TE", "trailers");
    weft_http_headers_add(h, "Proxy-Authorization", "Basic eDp5");
    weft_http_headers_add(h, "X-Forwarded-For", "10.0.0.9");
    weft_http_headers_add(h, "X-End", "kept");
    weft_http_response *resp = get(&g, "GET", "/up/headers/a%20b?q=1", h, NULL, 0);
    weft_http_headers_free(h);
    weft_bytes *b = body_of(&g, resp);
    cr_assert_eq(weft_http_response_status(resp), 200, "%d: %s", weft_http_response_status(resp), b->data);
    cr_assert(strstr(b->data, "GET /headers/a%20b?q=1\n"), "%s", b->data);
    cr_assert(strstr(b->data, "X-End: kept\n"), "%s", b->data);
    cr_assert(strstr(b->data, "X-Forwarded-For: 10.0.0.9, 127.0.0.1\n"), "%s", b->data);
    cr_assert(strstr(b->data, "X-Forwarded-Proto: http\n"), "%s", b->data);
    cr_assert(strstr(b->data, "X-Forwarded-Host: 127.0.0.1:"), "%s", b->data);
    cr_assert_null(strstr(b->data, "Keep-Alive"), "%s", b->data);
    cr_assert_null(strstr(b->data, "TE:"), "%s", b->data);
    cr_assert_null(strstr(b->data, "Proxy-Authorization"), "%s", b->data);
    weft_free(b);
    weft_http_response_free(resp);
    rig_close(&g);
}

/* A drain that takes `budget` bytes, then pauses its fount. */
typedef struct taker {
    weft_drain base;
    size_t got, budget;
    bool ended;
    int code;
} taker;

static void tk_receive(weft_drain *d, const void *data, size_t len)
{
    (void)data;
    taker *t = (taker *)d;
    t->got += len;
    if (t->got >= t->budget && t->budget)
        weft_fount_pause(d->fount);
}

static void tk_stopped(weft_drain *d, const weft_failure *why)
{
    taker *t = (taker *)d;
    t->ended = true;
    t->code = weft_failure_code(why);
}

static const weft_drain_ops tk_ops = {.receive = tk_receive, .flow_stopped = tk_stopped};

WEFT_TEST(http_proxy, a_client_that_stops_reading_pauses_the_upstream, .timeout = 120)
{
    const uint64_t total = 256u << 20;
    rig g;
    rig_open(&g, total, 0);
    weft_http_response *resp = get(&g, "GET", "/up/big", NULL, NULL, 0);
    cr_assert_eq(weft_http_response_status(resp), 200);
    cr_assert_null(weft_http_headers_get(weft_http_response_headers(resp), "X-Hop-Out"));
    cr_assert_eq(weft_http_response_content_length(resp), (int64_t)total);
    taker t = {.base.ops = &tk_ops, .budget = 1u << 20};
    weft_fount *f = weft_http_response_body(resp);
    weft_flow_to(f, &t.base);
    /* Run until the upstream's producer has been paused and stays so. */
    for (int i = 0; i < 2000 && !(g.up.g.paused && t.got >= t.budget); i++)
        weft_reactor_iterate(g.r, 0.01);
    for (int i = 0; i < 50; i++)
        weft_reactor_iterate(g.r, 0.001);
    cr_assert(g.up.g.paused, "the upstream is paused while the client reads nothing");
    uint64_t sent = total - g.up.g.left;
    /* What is in flight: socket buffers on two connections plus weft's
     * bounded buffers; nowhere near the whole body. */
    cr_assert_lt(sent, 32u << 20, "the upstream produced %llu bytes for a client that read %zu",
                 (unsigned long long)sent, t.got);
    t.budget = 0;
    weft_fount_resume(f);
    for (int i = 0; i < 100000 && !t.ended; i++)
        weft_reactor_iterate(g.r, 0.01);
    cr_assert(t.ended);
    cr_assert_eq(t.code, WEFT_EOF);
    cr_assert_eq(t.got, total);
    weft_http_response_free(resp);
    rig_close(&g);
}

WEFT_TEST(http_proxy, an_upstream_that_stops_reading_stops_the_upload, .timeout = 120)
{
    rig g;
    rig_open(&g, 0, 0);
    const size_t total = 64u << 20;
    char *data = calloc(1, total);
    weft_fount *body = weft_fount_of_bytes(g.r, data, total, false);
    char url[256];
    snprintf(url, sizeof url, "%s/up/upload", g.base);
    weft_deferred *d = weft_http_agent_request(g.client, "POST", url, NULL, body, -1);
    for (int i = 0; i < 3000 && !g.up.body_paused_seen; i++)
        weft_reactor_iterate(g.r, 0.01);
    cr_assert(g.up.body_paused_seen);
    for (int i = 0; i < 100; i++)
        weft_reactor_iterate(g.r, 0.002);
    /* The upstream reads nothing more: the proxy stops reading the client,
     * whose fount of bytes is then held back by its own connection. */
    cr_assert_lt(g.up.body_got, 2u << 20);
    cr_assert_not(weft_deferred_called(d));
    weft_fount_resume(g.up.upload_fount);
    cr_assert_eq(weft_reactor_run_until(g.r, d, 60), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    cr_assert(!weft_failed(res), "%s", weft_failure_message(weft_result_failure(res)));
    weft_http_response *resp = res.value;
    weft_bytes *b = body_of(&g, resp);
    char want[64];
    snprintf(want, sizeof want, "got %zu", total);
    cr_assert_str_eq(b->data, want);
    weft_free(b);
    weft_http_response_free(resp);
    free(data);
    rig_close(&g);
}

WEFT_TEST(http_proxy, a_client_leaving_mid_body_ends_the_upstream_response, .timeout = 60)
{
    rig g;
    rig_open(&g, 256u << 20, 0);
    weft_http_response *resp = get(&g, "GET", "/up/big", NULL, NULL, 0);
    taker t = {.base.ops = &tk_ops, .budget = 1u << 20};
    weft_flow_to(weft_http_response_body(resp), &t.base);
    for (int i = 0; i < 2000 && t.got < t.budget; i++)
        weft_reactor_iterate(g.r, 0.01);
    /* Freeing an unread response closes its connection. */
    weft_http_response_free(resp);
    for (int i = 0; i < 2000 && !g.up.g.stopped; i++)
        weft_reactor_iterate(g.r, 0.01);
    cr_assert(g.up.g.stopped, "the upstream's producer was stopped: its client went");
    cr_assert_gt(g.up.g.left, 0);
    rig_close(&g);
}

WEFT_TEST(http_proxy, an_unreachable_upstream_is_a_502)
{
    rig g;
    rig_open(&g, 0, 0);
    weft_http_response *resp = get(&g, "GET", "/nowhere/x", NULL, NULL, 0);
    cr_assert_eq(weft_http_response_status(resp), 502);
    weft_bytes *b = body_of(&g, resp);
    cr_assert(strstr(b->data, "502"), "%s", b->data);
    weft_free(b);
    weft_http_response_free(resp);
    rig_close(&g);
}

WEFT_TEST(http_proxy, an_upstream_that_does_not_answer_in_time_is_a_504, .timeout = 60)
{
    rig g;
    rig_open(&g, 0, 0.3);
    weft_http_response *resp = get(&g, "GET", "/up/hang", NULL, NULL, 0);
    weft_bytes *b = body_of(&g, resp);
    cr_assert_eq(weft_http_response_status(resp), 504, "%s", b->data);
    weft_free(b);
    weft_http_response_free(resp);
    rig_close(&g);
}

/* The status and body of GET path. */
static int status_of(rig *g, const char *path, char *text, size_t size)
{
    weft_http_response *resp = get(g, "GET", path, NULL, NULL, 0);
    weft_bytes *b = body_of(g, resp);
    snprintf(text, size, "%s", b->data);
    int status = weft_http_response_status(resp);
    weft_free(b);
    weft_http_response_free(resp);
    return status;
}

WEFT_TEST(http_proxy, dot_segments_are_resolved_below_the_mount_point_or_refused, .timeout = 60)
{
    rig g;
    rig_open(&g, 0, 0);
    char text[4096];
    /* (The agent sends its targets as given: no normalising on the way.) */
    cr_assert_eq(status_of(&g, "/pub/a/../b/%2e/c", text, sizeof text), 200, "%s", text);
    cr_assert(strstr(text, "GET /public/b/c\n"), "%s", text);
    cr_assert_eq(g.up.echoed, 1);
    /* Dots that lead out of the mount point are resolved before the walk
     * (http_resource.h): the path is /headers, which is not the proxy's
     * (404 here); above the root, 400. */
    static const struct {
        const char *path;
        int status;
    } climbing[] = {
        {"/pub/../headers", 404}, {"/pub/%2e%2e/headers", 404}, {"/pub/x/.%2E/../headers", 404},
        {"/up/../../etc/passwd", 400},
    };
    for (size_t i = 0; i < sizeof climbing / sizeof *climbing; i++)
        cr_assert_eq(status_of(&g, climbing[i].path, text, sizeof text), climbing[i].status, "%s: %s",
                     climbing[i].path, text);
    cr_assert_eq(g.up.echoed, 1, "no climbing request reached the upstream");
    rig_close(&g);
}

WEFT_TEST(http_proxy, an_exhausted_pool_is_a_503_once_the_queue_timeout_passes, .timeout = 60)
{
    weft_http_agent_options ao = {.max_per_host = 1, .queue_timeout = 0.2};
    rig g;
    rig_open_with(&g, 0, &ao);
    char url[256];
    snprintf(url, sizeof url, "%s/up/hang", g.base);
    weft_deferred *held = weft_http_agent_request(g.client, "GET", url, NULL, NULL, 0);
    for (int i = 0; i < 2000 && g.up.hung == 0; i++)
        weft_reactor_iterate(g.r, 0.01);
    cr_assert_eq(g.up.hung, 1, "the first request holds the proxy's one connection");
    char text[4096];
    cr_assert_eq(status_of(&g, "/up/headers", text, sizeof text), 503, "%s", text);
    cr_assert(strstr(text, "no connection came free within 0.2 s"), "%s", text);
    cr_assert_eq(g.up.echoed, 0, "the refused request never reached the upstream");
    cr_assert_not(weft_deferred_called(held));
    /* The client of the held one leaves: its connection goes, and the
     * pool serves again. */
    weft_deferred_cancel(held);
    weft_deferred_unref(held);
    cr_assert_eq(status_of(&g, "/up/headers", text, sizeof text), 200, "%s", text);
    rig_close(&g);
}

WEFT_TEST(http_proxy, an_upstream_content_length_above_int64_max_is_a_502, .timeout = 60)
{
    rig g;
    rig_open(&g, 0, 0);
    char url[256], what[512] = "";
    snprintf(url, sizeof url, "%s/huge/x", g.base);
    weft_deferred *d = weft_http_agent_request(g.client, "GET", url, NULL, NULL, 0);
    cr_assert_eq(weft_reactor_run_until(g.r, d, 20), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    int status = 0;
    if (weft_failed(res)) {
        weft_failure_describe(weft_result_failure(res), what, sizeof what);
    } else {
        status = weft_http_response_status(res.value);
        snprintf(what, sizeof what, "%d", status);
    }
    weft_result_free(res);
    rig_close(&g);
    cr_assert_eq(status, 502, "the client got %s", what);
}

/* Issue 10: a Content-Length the front server could not frame its
 * response by never reaches it from an upstream: the proxy's agent refuses
 * the upstream's response first, and the client gets 502 - for a GET and
 * for a HEAD, whose response has no body to check the length against. */
WEFT_TEST(http_proxy, an_upstream_content_length_that_is_not_a_number_is_a_502, .timeout = 60)
{
    rig g;
    rig_open(&g, 0, 0);
    g.huge.response = "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nabc";
    static const char *const methods[] = {"GET", "HEAD"};
    for (size_t i = 0; i < 2; i++) {
        char url[256];
        snprintf(url, sizeof url, "%s/huge/x", g.base);
        weft_deferred *d = weft_http_agent_request(g.client, methods[i], url, NULL, NULL, 0);
        cr_assert_eq(weft_reactor_run_until(g.r, d, 20), 0);
        weft_result res;
        cr_assert_eq(weft_deferred_take(d, &res), 0);
        weft_deferred_unref(d);
        cr_assert_not(weft_failed(res), "%s: the client's request failed", methods[i]);
        cr_assert_eq(weft_http_response_status(res.value), 502, "%s", methods[i]);
        weft_result_free(res);
    }
    rig_close(&g);
}
