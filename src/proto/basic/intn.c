/* SPDX-License-Identifier: MIT */
/*
 * Length-prefixed strings, after twisted.protocols.basic.IntNStringReceiver
 * (Int8, Int16 and Int32StringReceiver): a 1, 2 or 4 byte big-endian length,
 * then that many bytes. The limit is checked as soon as a prefix is whole,
 * so a peer announcing a string past max_length is refused before it can
 * make us buffer it.
 */
#include <string.h>

#include "../../core/internal.h"
#include "input.h"
#include "weft/error.h"
#include "weft/transport.h"

enum { DEFAULT_MAX_LENGTH = 99999 };

#define IR(p) ((weft_intn_receiver *)(void *)(p))

static uint64_t read_prefix(const char *d, unsigned prefix)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < prefix; i++)
        v = v << 8 | (unsigned char)d[i];
    return v;
}

static void ir_process(void *self)
{
    weft_intn_receiver *ir = self;
    weft__basic_input *in = &ir->in;
    while (!ir->paused && !weft__basic_closing(&ir->base)) {
        size_t n;
        const char *d = weft__input_peek(in, &n);
        if (n < ir->prefix)
            return;
        uint64_t length = read_prefix(d, ir->prefix);
        if (length > ir->max_length) {
            /* As Twisted: the prefix stays; nothing more is parsed now. */
            if (ir->ops->length_limit_exceeded)
                ir->ops->length_limit_exceeded(ir, length);
            else
                weft__basic_refuse(&ir->base, "int-prefixed string receiver",
                                   "a string of %llu bytes is announced, over the limit of %zu",
                                   (unsigned long long)length, ir->max_length);
            return;
        }
        if (n - ir->prefix < length)
            return;
        weft__input_consume(in, ir->prefix + (size_t)length);
        weft__input_pin(in);
        if (ir->ops->string_received)
            ir->ops->string_received(ir, d + ir->prefix, (size_t)length);
        weft__input_unpin(in);
    }
}

static int ir_feed(weft_intn_receiver *ir, const void *data, size_t len)
{
    int err = weft__input_feed(&ir->in, data, len, ir_process, ir);
    if (err < 0)
        weft__basic_out_of_memory(&ir->base, "int-prefixed string receiver");
    return err;
}

static void ir_made(weft_protocol *p)
{
    if (IR(p)->ops->connection_made)
        IR(p)->ops->connection_made(IR(p));
}

static void ir_data(weft_protocol *p, const void *data, size_t len)
{
    ir_feed(IR(p), data, len);
}

static bool ir_eof(weft_protocol *p)
{
    return IR(p)->ops->eof_received && IR(p)->ops->eof_received(IR(p));
}

static void ir_lost(weft_protocol *p, const weft_failure *reason)
{
    if (IR(p)->ops->connection_lost)
        IR(p)->ops->connection_lost(IR(p), reason);
    weft__input_free(&IR(p)->in);
}

static void ir_destroy(weft_protocol *p)
{
    weft__input_free(&IR(p)->in);
    if (IR(p)->ops->destroy)
        IR(p)->ops->destroy(IR(p));
}

static const weft_protocol_ops ir_protocol_ops = {
    .connection_made = ir_made, .data_received = ir_data, .eof_received = ir_eof,
    .connection_lost = ir_lost, .destroy = ir_destroy};

static void ir_producer_pause(weft_producer *p)
{
    weft_intn_receiver_pause(WEFT_CONTAINER_OF(p, weft_intn_receiver, producer));
}

static void ir_producer_resume(weft_producer *p)
{
    weft_intn_receiver_resume(WEFT_CONTAINER_OF(p, weft_intn_receiver, producer));
}

static void ir_producer_stop(weft_producer *p)
{
    weft_intn_receiver_stop(WEFT_CONTAINER_OF(p, weft_intn_receiver, producer));
}

static const weft_producer_ops ir_producer_ops = {ir_producer_pause, ir_producer_resume, ir_producer_stop};

int weft_intn_receiver_init(weft_intn_receiver *ir, unsigned prefix_bytes, const weft_intn_receiver_ops *ops)
{
    if (prefix_bytes != 1 && prefix_bytes != 2 && prefix_bytes != 4)
        return WEFT_EINVAL;
    memset(ir, 0, sizeof *ir);
    ir->base.ops = &ir_protocol_ops;
    ir->ops = ops;
    ir->prefix = prefix_bytes;
    ir->max_length = DEFAULT_MAX_LENGTH;
    ir->producer.ops = &ir_producer_ops;
    return 0;
}

int weft_intn_receiver_send_string(weft_intn_receiver *ir, const void *data, size_t len)
{
    if ((uint64_t)len >> (8 * ir->prefix) != 0)
        return -EMSGSIZE;
    if (!ir->base.transport)
        return -ENOTCONN;
    unsigned char head[4];
    for (unsigned i = 0; i < ir->prefix; i++)
        head[i] = (unsigned char)((uint64_t)len >> (8 * (ir->prefix - 1 - i)));
    struct iovec iov[2] = {{head, ir->prefix}, {(void *)data, len}};
    return weft_transport_writev(ir->base.transport, iov, 2);
}

void weft_intn_receiver_pause(weft_intn_receiver *ir)
{
    ir->paused = true;
    if (ir->base.transport)
        weft_transport_pause_reading(ir->base.transport);
}

void weft_intn_receiver_resume(weft_intn_receiver *ir)
{
    ir->paused = false;
    if (ir->base.transport)
        weft_transport_resume_reading(ir->base.transport);
    ir_feed(ir, NULL, 0);
}

void weft_intn_receiver_stop(weft_intn_receiver *ir)
{
    ir->paused = true;
    if (ir->base.transport)
        weft_transport_lose_connection(ir->base.transport);
}

weft_producer *weft_intn_receiver_producer(weft_intn_receiver *ir)
{
    return &ir->producer;
}
