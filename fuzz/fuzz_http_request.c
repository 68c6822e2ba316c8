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
 */
#include <stdlib.h>
#include <string.h>

#include "weft/deferred.h"
#include "weft/http_resource.h"
#include "weft/reactor.h"
#include "weft/testing.h"
#include "weft/transport.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static weft_result answer_body(void *arg, weft_result res)
{
    weft_http_request *req = arg;
    if (weft_failed(res)) {
        weft_http_reply_error(req, 400, "bad body");
    } else {
        weft_bytes *b = res.value;
        weft_http_reply(req, 200, "application/octet-stream", b->data, b->len);
    }
    weft_result_free(res);
    return weft_none();
}

static void read_all(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_deferred *d = weft_http_request_read_body(req);
    if (!d) {
        weft_http_reply_error(req, 503, NULL);
        return;
    }
    if (weft_deferred_add_both(d, answer_body, req) < 0)
        abort();
    weft_deferred_unref(d);
}

static void stream(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply_write(req, "part one,", 9);
    weft_http_reply_write(req, weft_http_request_path(req), strlen(weft_http_request_path(req)));
    weft_http_reply_finish(req);
}

/* The body, as a fount, straight into the response. */
static void echo(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_flow_to(weft_http_request_body(req), weft_http_reply_drain(req));
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t split = (size_t)data[0] * (size - 2) / 255;
    unsigned flags = data[1];
    data += 2;
    size -= 2;

    weft_reactor *r;
    if (weft_clock_new(&r) < 0)
        return 0;
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_text_observer, stderr);
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource *s = weft_http_resource_new(), *e = weft_http_resource_new();
    if (!root || !s || !e)
        abort();
    weft_http_resource_on(root, "*", read_all, NULL);
    weft_http_resource_on(s, "GET", stream, NULL);
    weft_http_resource_on(e, "*", echo, NULL);
    weft_http_resource_set_leaf(e, true);
    weft_http_resource_put_child(root, "stream", s);
    weft_http_resource_put_child(root, "echo", e);
    weft_http_server_options o = {0};
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

    weft_string_transport_free(st);
    weft_reactor_iterate(r, 0);
    weft_http_server_free(srv);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
    return 0;
}
