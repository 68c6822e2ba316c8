/* SPDX-License-Identifier: MIT */
/* The HTTP client fed arbitrary bytes as a server's answer, over a string
 * transport (the connect is caught by the memory reactor): two requests
 * on one pooled connection, bodies read whole or up to a limit, the bytes
 * arriving in pieces sized by the input. Whatever arrives: no crash, no
 * leak, every Deferred settles or is cancelled.
 *
 * Input: byte 0 sizes the pieces, byte 1 chooses (bit 0) HEAD for the
 * first request, (bit 1) a 64-byte read limit, (bit 2) a 256-byte header
 * limit, (bit 3) a chunked request body, (bit 4) a consumer that pauses
 * on every piece and resumes from the reactor; the rest is the server's. */
#include <stdlib.h>
#include <string.h>

#include "weft/memory_reactor.h"
#include "weft/testing.h"
#include "weft/weft.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

typedef struct stutter {
    weft_drain d;
    weft_reactor *r;
} stutter;

static void stutter_resume(void *arg)
{
    stutter *s = arg;
    if (s->d.fount)
        weft_fount_resume(s->d.fount);
}

static void stutter_receive(weft_drain *d, const void *data, size_t len)
{
    (void)data, (void)len;
    stutter *s = (stutter *)d;
    weft_fount_pause(d->fount);
    if (weft_reactor_call_soon(s->r, stutter_resume, s) < 0)
        weft_fount_resume(d->fount);
}

static const weft_drain_ops stutter_ops = {NULL, stutter_receive, NULL};

typedef struct harness {
    weft_reactor *r;
    weft_http_response *resp[2];
    weft_deferred *body[2];
    stutter drains[2];
    size_t max;
    bool stutter;
} harness;

typedef struct slot {
    harness *h;
    int i;
} slot;

static weft_result swallow(void *arg, weft_result r)
{
    (void)arg;
    weft_result_free(r);
    return weft_none();
}

static weft_result got_response(void *arg, weft_result r)
{
    slot *s = arg;
    if (weft_failed(r))
        return swallow(NULL, r);
    weft_http_response *resp = weft_result_take(&r);
    s->h->resp[s->i] = resp;
    if (s->h->stutter) {
        stutter *d = &s->h->drains[s->i];
        *d = (stutter){.d.ops = &stutter_ops, .r = s->h->r};
        weft_flow_to(weft_http_response_body(resp), &d->d);
        return weft_none();
    }
    weft_deferred *b = weft_http_response_read_body(resp, s->h->max);
    if (b && weft_deferred_add_both(b, swallow, NULL) < 0)
        abort();
    s->h->body[s->i] = b;
    return weft_none();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t step = 1 + data[0] * 4u;
    unsigned flags = data[1];
    data += 2;
    size -= 2;
    harness h = {.max = flags & 2 ? 64 : 0, .stutter = flags & 16};
    if (weft_reactor_new(NULL, &h.r) < 0 || weft_memory_reactor_install(h.r) < 0)
        abort();
    weft_logger_remove_observer(weft_reactor_logger(h.r), weft_log_text_observer, stderr);
    weft_http_agent_options o = {.max_per_host = 1, .max_header_bytes = flags & 4 ? 256 : 0};
    weft_http_agent *a = weft_http_agent_new(h.r, &o);
    slot slots[2] = {{&h, 0}, {&h, 1}};
    weft_fount *body = flags & 8 ? weft_fount_of_bytes(h.r, "request body", 12, false) : NULL;
    weft_deferred *d[2] = {
        weft_http_agent_request(a, flags & 1 ? "HEAD" : "POST", "http://127.0.0.1/a", NULL, body, body ? -1 : 0),
        weft_http_agent_request(a, "GET", "http://127.0.0.1/b", NULL, NULL, 0)};
    for (int i = 0; i < 2; i++)
        if (!d[i] || weft_deferred_add_callbacks(d[i], got_response, swallow, &slots[i]) < 0)
            abort();
    /* Settle the connect with a string transport. */
    const weft_memory_connect *cs;
    if (weft_memory_reactor_connects(h.r, &cs) != 1)
        abort();
    weft_protocol *p = cs[0].factory->ops->build(cs[0].factory, &cs[0].addr);
    weft_string_transport *st = NULL;
    if (!p || weft_string_transport_new(h.r, p, NULL, NULL, &st) < 0)
        abort();
    weft_deferred_callback(cs[0].d, p, NULL);
    weft_reactor_iterate(h.r, 0);
    for (size_t i = 0; i < size; i += step) {
        if (weft_string_transport_receive(st, data + i, size - i < step ? size - i : step) < 0)
            break;
        weft_reactor_iterate(h.r, 0);
    }
    weft_string_transport_receive_eof(st);
    for (int k = 0; k < 4; k++)
        weft_reactor_iterate(h.r, 0);
    for (int i = 0; i < 2; i++)
        weft_http_response_free(h.resp[i]);
    weft_http_agent_free(a);
    for (int i = 0; i < 2; i++) {
        weft_deferred_unref(d[i]);
        weft_deferred_unref(h.body[i]);
    }
    weft_string_transport_free(st);
    for (int k = 0; k < 4; k++)
        weft_reactor_iterate(h.r, 0);
    weft_reactor_free(h.r);
    return 0;
}
