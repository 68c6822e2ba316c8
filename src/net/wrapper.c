/* SPDX-License-Identifier: MIT */
/*
 * Protocol wrappers. One allocation holds the wrapper protocol (on the
 * outer transport) and the inner transport (a transport kind whose "kernel"
 * is the wrapper's outgoing hook). Two owners share it: the outer
 * transport, which destroys the wrapper protocol after its connection_lost,
 * and the inner transport, freed in its own close step; the memory goes
 * when both are done.
 *
 * Backpressure: the wrapper registers itself as a streaming producer on the
 * outer transport. Paused, the inner kind's send answers EAGAIN, so the
 * inner transport buffers and pauses its own producers at its water marks;
 * resumed, the inner transport is told it may write again.
 */
#include <errno.h>
#include <string.h>

#include "transport_int.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/transport.h"
#include "weft/wrapper.h"

struct weft_wrapper {
    weft_protocol proto;   /* on the outer transport */
    weft_transport inner_t; /* for the inner protocol */
    weft_producer producer; /* registered on the outer transport */
    const weft_wrapper_ops *ops;
    void *ctx;
    weft_protocol *inner;
    weft_transport *outer;
    int owners; /* the wrapper protocol and the inner transport */
    bool hold, started, outer_full, inner_closed;
    bool inner_ready; /* inner_t set up: from connection_made on */
    bool inner_reading;   /* what the inner transport asked */
    bool throttled_in, throttled_out;
    bool failing; /* weft_wrapper_fail: no goodbye, the outer side is aborted */
    /* Bytes (and an EOF) passed up while the inner side had paused reading:
     * a record decoded after the pause, say. Delivered once it resumes. */
    char *held;
    size_t held_len, held_cap;
    bool held_eof, deliver_posted;
    bool adopted; /* weft_wrapper_adopt: the inner protocol was connected already */
    weft__post deliver_post;
};


static void release(weft_wrapper *w)
{
    if (--w->owners > 0)
        return;
    weft_free(w->held);
    if (w->ops->destroy)
        w->ops->destroy(w);
    weft_free(w);
}

/* ---- the inner transport's kind ---- */

static ssize_t inner_send(weft_transport *t, const struct iovec *iov, int iovcnt)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(t, weft_wrapper, inner_t);
    if (!w->outer)
        return -ENOTCONN;
    /* Before the start (a STARTTLS handshake), writes wait in the buffer. */
    if (!w->started || w->outer_full || w->throttled_out)
        return WEFT_EAGAIN;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (w->ops->outgoing)
            w->ops->outgoing(w, iov[i].iov_base, iov[i].iov_len);
        else if (weft_transport_write(w->outer, iov[i].iov_base, iov[i].iov_len) < 0)
            return total ? (ssize_t)total : -ENOTCONN;
        total += iov[i].iov_len;
        if (!w->outer)
            break;
    }
    return (ssize_t)total;
}

static void inner_want_writable(weft_transport *t, bool on)
{
    (void)t;
    (void)on; /* the producer's resume says when */
}

static void deliver_held(void *arg)
{
    weft_wrapper *w = arg;
    w->deliver_posted = false;
    if (!w->started || !weft__transport_reading(&w->inner_t))
        return;
    if (w->held_len) {
        /* Taken out first: the protocol may pause again, or pass more up. */
        char *data = w->held;
        size_t len = w->held_len;
        w->held = NULL;
        w->held_len = w->held_cap = 0;
        weft__transport_data(&w->inner_t, data, len);
        weft_free(data);
    }
    if (w->held_eof && !w->held_len && weft__transport_reading(&w->inner_t)) {
        w->held_eof = false;
        weft__transport_eof(&w->inner_t);
    }
}

static void update_reading(weft_wrapper *w)
{
    if (!w->outer)
        return;
    if (w->inner_reading && !w->throttled_in)
        weft_transport_resume_reading(w->outer);
    else
        weft_transport_pause_reading(w->outer);
}

static void inner_set_reading(weft_transport *t, bool on)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(t, weft_wrapper, inner_t);
    w->inner_reading = on;
    update_reading(w);
    if (on && (w->held_len || w->held_eof) && !w->deliver_posted) {
        /* From the reactor, not inside the caller's resume_reading. */
        w->deliver_posted = true;
        weft__reactor_post(w->inner_t.r, &w->deliver_post, deliver_held, w);
    }
}

static int inner_shutdown_write(weft_transport *t)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(t, weft_wrapper, inner_t);
    if (!w->outer)
        return -ENOTCONN;
    if (w->ops->closing)
        w->ops->closing(w);
    return w->outer ? weft_transport_write_eof(w->outer) : -ENOTCONN;
}

static void inner_close(weft_transport *t, bool abort)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(t, weft_wrapper, inner_t);
    w->inner_closed = true;
    if (!w->outer)
        return;
    if (abort || w->failing) {
        weft_transport_abort_connection(w->outer);
        return;
    }
    if (w->ops->closing && !w->inner_t.write_closed)
        w->ops->closing(w);
    if (w->outer)
        weft_transport_lose_connection(w->outer);
}

static int inner_peer(const weft_transport *t, weft_address *out)
{
    const weft_wrapper *w = WEFT_CONTAINER_OF(t, weft_wrapper, inner_t);
    if (!w->outer)
        return -ENOTCONN;
    return w->ops->peer ? w->ops->peer(w, out) : weft_transport_peer(w->outer, out);
}

static int inner_host(const weft_transport *t, weft_address *out)
{
    const weft_wrapper *w = WEFT_CONTAINER_OF(t, weft_wrapper, inner_t);
    if (!w->outer)
        return -ENOTCONN;
    return w->ops->host ? w->ops->host(w, out) : weft_transport_host(w->outer, out);
}

static int inner_set_option(weft_transport *t, int option, bool on)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(t, weft_wrapper, inner_t);
    if (!w->outer)
        return -ENOTCONN;
    return option == WEFT__OPT_NODELAY ? weft_transport_set_nodelay(w->outer, on)
           : option == WEFT__OPT_CORK  ? weft_transport_set_cork(w->outer, on)
                                       : weft_transport_set_keepalive(w->outer, on);
}

static void inner_free(weft_transport *t)
{
    release(WEFT_CONTAINER_OF(t, weft_wrapper, inner_t));
}

static const weft__transport_kind inner_kind = {
    .name = "wrapper",
    .send = inner_send,
    .want_writable = inner_want_writable,
    .set_reading = inner_set_reading,
    .shutdown_write = inner_shutdown_write,
    .close = inner_close,
    .peer = inner_peer,
    .host = inner_host,
    .set_option = inner_set_option,
    .free = inner_free,
};

/* ---- the outer transport's producer ---- */

static void outer_pause(weft_producer *p)
{
    WEFT_CONTAINER_OF(p, weft_wrapper, producer)->outer_full = true;
}

static void outer_resume(weft_producer *p)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(p, weft_wrapper, producer);
    w->outer_full = false;
    if (w->started && !w->inner_closed && !w->throttled_out)
        weft__transport_writable(&w->inner_t);
}

static const weft_producer_ops outer_producer_ops = {outer_pause, outer_resume, NULL};

/* ---- the wrapper as the outer transport's protocol ---- */

void weft_wrapper_start(weft_wrapper *w)
{
    if (w->started || !w->outer)
        return;
    w->started = true;
    if (!w->adopted) {
        weft__transport_start(&w->inner_t);
        return;
    }
    /* An adopted protocol had its connection_made long ago: it just goes on,
     * reading as it was, its waiting writes going out now. */
    w->inner_t.started = true;
    inner_set_reading(&w->inner_t, weft__transport_reading(&w->inner_t));
    weft__transport_writable(&w->inner_t);
}

static void w_made(weft_protocol *p)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(p, weft_wrapper, proto);
    w->outer = p->transport;
    /* Only now: the inner transport needs the reactor, and counts the inner
     * protocol's factory as a user until it closes. */
    weft__transport_init(&w->inner_t, &inner_kind, weft_transport_reactor(w->outer), w->inner);
    weft__transport_share_counters(&w->inner_t, w->outer);
    w->inner_ready = true;
    weft_transport_register_producer(w->outer, &w->producer, true);
    if (w->ops->connected)
        w->ops->connected(w);
    if (!w->hold)
        weft_wrapper_start(w);
}

static void w_data(weft_protocol *p, const void *data, size_t len)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(p, weft_wrapper, proto);
    if (w->ops->incoming)
        w->ops->incoming(w, data, len);
    else
        weft_wrapper_pass_up(w, data, len);
}

static bool w_eof(weft_protocol *p)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(p, weft_wrapper, proto);
    if (w->ops->eof && !w->ops->eof(w))
        return true;
    if (w->started)
        weft__transport_eof(&w->inner_t);
    /* The inner transport decides: half-close, or lose (which closes us). */
    return true;
}

static void w_lost(weft_protocol *p, const weft_failure *why)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(p, weft_wrapper, proto);
    if (w->ops->lost)
        w->ops->lost(w, why);
    w->outer = NULL;
    /* If the inner connection never started, its protocol hears nothing but
     * destroy, from the inner transport's close step. */
    weft__transport_fail(&w->inner_t, weft_failure_code(why));
}

static void w_destroy(weft_protocol *p)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(p, weft_wrapper, proto);
    if (!w->inner_ready) {
        /* Destroyed without ever being connected: no inner transport will
         * come to release its share or destroy the inner protocol. */
        weft_protocol_destroy(w->inner);
        w->owners--;
    }
    release(w);
}

static const weft_protocol_ops wrapper_protocol_ops = {w_made, w_data, w_eof, w_lost, w_destroy};

weft_protocol *weft_wrapper_new(const weft_wrapper_ops *ops, void *ctx, weft_protocol *inner)
{
    weft_wrapper *w = weft_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->proto.ops = &wrapper_protocol_ops;
    w->producer.ops = &outer_producer_ops;
    w->ops = ops;
    w->ctx = ctx;
    w->inner = inner;
    w->owners = 2;
    return &w->proto;
}

weft_wrapper *weft_wrapper_of(weft_protocol *p)
{
    return WEFT_CONTAINER_OF(p, weft_wrapper, proto);
}

void *weft_wrapper_ctx(const weft_wrapper *w)
{
    return w->ctx;
}

weft_protocol *weft_wrapper_inner(const weft_wrapper *w)
{
    return w->inner;
}

weft_transport *weft_wrapper_outer(const weft_wrapper *w)
{
    return w->outer;
}

void weft_wrapper_pass_up(weft_wrapper *w, const void *data, size_t len)
{
    if (!w->started || w->inner_t.state == WEFT__T_CLOSED)
        return;
    if (weft__transport_reading(&w->inner_t) && !w->held_len) {
        weft__transport_data(&w->inner_t, data, len);
        return;
    }
    if (w->held_len + len > w->held_cap) {
        size_t cap = (w->held_len + len) * 2;
        char *h = weft_realloc(w->held, cap);
        if (!h) {
            weft_wrapper_fail(w, WEFT_ENOMEM);
            return;
        }
        w->held = h;
        w->held_cap = cap;
    }
    memcpy(w->held + w->held_len, data, len);
    w->held_len += len;
}

int weft_wrapper_pass_down(weft_wrapper *w, const void *data, size_t len)
{
    return w->outer ? weft_transport_write(w->outer, data, len) : -ENOTCONN;
}

void weft_wrapper_pass_up_eof(weft_wrapper *w)
{
    if (!w->started)
        return;
    if (w->held_len || !weft__transport_reading(&w->inner_t))
        w->held_eof = true; /* after what is held */
    else
        weft__transport_eof(&w->inner_t);
}

void weft_wrapper_fail(weft_wrapper *w, int code)
{
    if (!w->inner_ready)
        return;
    /* The inner transport closes with this reason; its close aborts the
     * outer transport. */
    w->failing = true;
    weft__transport_fail(&w->inner_t, code);
}

int weft_wrapper_adopt(weft_transport *t, weft_protocol *wrapper_protocol)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(wrapper_protocol, weft_wrapper, proto);
    if (t->proto != w->inner || t->state != WEFT__T_OPEN)
        return WEFT_EINVAL;
    /* What the protocol had set on the old transport moves to the new one. */
    weft_producer *prod = t->producer;
    bool streaming = t->streaming, paused = t->user_paused;
    if (prod)
        weft_transport_unregister_producer(t);
    if (paused)
        weft_transport_resume_reading(t);
    w->adopted = true;
    /* t now carries the wrapper, which counts as a user of the inner
     * protocol's factory as t did for the protocol. */
    w->proto.factory = w->inner->factory;
    t->proto = &w->proto;
    w->proto.transport = t;
    w_made(&w->proto);
    w->inner->transport = &w->inner_t;
    w->inner_t.user_paused = paused;
    if (prod)
        weft_transport_register_producer(&w->inner_t, prod, streaming);
    return 0;
}

int weft_wrapper_install(weft_transport *t, weft_protocol *wrapper_protocol)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(wrapper_protocol, weft_wrapper, proto);
    if (t->state != WEFT__T_OPEN)
        return WEFT_EINVAL;
    /* t counted the replaced protocol's factory as a user, and stops
     * whichever factory its protocol names when it closes: the wrapper
     * takes the name over. */
    w->proto.factory = t->proto->factory;
    t->proto->transport = NULL;
    t->proto = &w->proto;
    w->proto.transport = t;
    w_made(&w->proto);
    return 0;
}

void weft_wrapper_discard(weft_protocol *wrapper_protocol)
{
    weft_wrapper *w = WEFT_CONTAINER_OF(wrapper_protocol, weft_wrapper, proto);
    w->owners = 1; /* no inner transport was ever made */
    release(w);
}

weft_protocol *weft_wrapper_protocol(weft_wrapper *w)
{
    return &w->proto;
}

weft_wrapper *weft_wrapper_of_transport(weft_transport *t)
{
    return t && t->kind == &inner_kind ? WEFT_CONTAINER_OF(t, weft_wrapper, inner_t) : NULL;
}

void weft_wrapper_hold_start(weft_wrapper *w)
{
    w->hold = true;
}

void weft_wrapper_throttle_input(weft_wrapper *w, bool throttled)
{
    w->throttled_in = throttled;
    if (w->started)
        update_reading(w);
}

void weft_wrapper_throttle_output(weft_wrapper *w, bool throttled)
{
    w->throttled_out = throttled;
    if (!throttled && w->started && !w->inner_closed && !w->outer_full)
        weft__transport_writable(&w->inner_t);
}
