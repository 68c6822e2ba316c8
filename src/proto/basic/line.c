/* SPDX-License-Identifier: MIT */
/*
 * Line framing: LineReceiver (lines and raw data, pausing) and
 * LineOnlyReceiver (lines only), after twisted.protocols.basic.
 *
 * A line is delivered as soon as its delimiter arrives. A partial line is
 * searched only once: `scanned` remembers how far, so a long line arriving
 * a byte at a time costs O(length), not O(length^2). A partial line is
 * known to be too long once it holds max_length + delimiter_len bytes with
 * no delimiter: any fewer could still end in a line of max_length whose
 * delimiter has only begun to arrive.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../core/internal.h"
#include "input.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/transport.h"

enum { DEFAULT_MAX_LENGTH = 16384 };

static int set_delimiter(char *dst, size_t *dst_len, const void *delim, size_t len)
{
    if (len == 0 || len > WEFT_LINE_DELIMITER_MAX || !delim)
        return WEFT_EINVAL;
    memcpy(dst, delim, len);
    *dst_len = len;
    return 0;
}

static int send_line(weft_protocol *p, const void *line, size_t len, const char *delim, size_t dlen)
{
    if (!p->transport)
        return -ENOTCONN;
    struct iovec iov[2] = {{(void *)line, len}, {(void *)delim, dlen}};
    return weft_transport_writev(p->transport, iov, 2);
}

/* Where a search for the delimiter must start, given how much of the
 * partial line was searched before: a delimiter may straddle that point. */
static size_t search_from(size_t scanned, size_t dlen)
{
    return scanned >= dlen ? scanned - (dlen - 1) : 0;
}

/* Whether n bytes with no delimiter are more than any line of max bytes. */
static bool too_long(size_t n, size_t max, size_t dlen)
{
    return n >= dlen && n - dlen >= max;
}

/* ---- LineReceiver ---- */

#define LR(p) ((weft_line_receiver *)(void *)(p))

static void refuse_line(weft_protocol *p, size_t max)
{
    weft__basic_refuse(p, "line receiver", "a line is longer than the limit of %zu bytes", max);
}

static void lr_exceeded(weft_line_receiver *lr, const char *data, size_t len)
{
    weft__input_pin(&lr->in);
    if (lr->ops->line_length_exceeded)
        lr->ops->line_length_exceeded(lr, data, len);
    else
        refuse_line(&lr->base, lr->max_length);
    weft__input_unpin(&lr->in);
}

/* Delivers lines and raw data from the input until it runs out, the
 * receiver is paused, or the connection is going. */
static void lr_process(void *self)
{
    weft_line_receiver *lr = self;
    weft__basic_input *in = &lr->in;
    while (!lr->paused && !weft__basic_closing(&lr->base)) {
        size_t n;
        const char *d = weft__input_peek(in, &n);
        if (n == 0)
            return;
        if (lr->raw) {
            weft__input_consume(in, n);
            lr->scanned = 0;
            weft__input_pin(in);
            if (lr->ops->raw_data_received)
                lr->ops->raw_data_received(lr, d, n);
            weft__input_unpin(in);
            continue;
        }
        size_t dlen = lr->delimiter_len;
        size_t from = search_from(lr->scanned, dlen);
        const char *at = weft__basic_find(d + from, n - from, lr->delimiter, dlen);
        if (!at) {
            lr->scanned = n;
            if (!too_long(n, lr->max_length, dlen))
                return;
            weft__input_consume(in, n);
            lr->scanned = 0;
            lr_exceeded(lr, d, n);
            continue;
        }
        size_t len = (size_t)(at - d);
        lr->scanned = 0;
        if (len > lr->max_length) {
            /* As Twisted: the long line, its delimiter and all that
             * followed go to the handler, which may give back the rest. */
            weft__input_consume(in, n);
            lr_exceeded(lr, d, n);
            continue;
        }
        weft__input_consume(in, len + dlen);
        weft__input_pin(in);
        if (lr->ops->line_received)
            lr->ops->line_received(lr, d, len);
        weft__input_unpin(in);
    }
}

static int lr_feed(weft_line_receiver *lr, const void *data, size_t len)
{
    int err = weft__input_feed(&lr->in, data, len, lr_process, lr);
    if (err < 0)
        weft__basic_out_of_memory(&lr->base, "line receiver");
    return err;
}

static void lr_made(weft_protocol *p)
{
    if (LR(p)->ops->connection_made)
        LR(p)->ops->connection_made(LR(p));
}

static void lr_data(weft_protocol *p, const void *data, size_t len)
{
    lr_feed(LR(p), data, len);
}

static bool lr_eof(weft_protocol *p)
{
    return LR(p)->ops->eof_received && LR(p)->ops->eof_received(LR(p));
}

static void lr_lost(weft_protocol *p, const weft_failure *reason)
{
    if (LR(p)->ops->connection_lost)
        LR(p)->ops->connection_lost(LR(p), reason);
    weft__input_free(&LR(p)->in);
}

static void lr_destroy(weft_protocol *p)
{
    weft__input_free(&LR(p)->in);
    if (LR(p)->ops->destroy)
        LR(p)->ops->destroy(LR(p));
}

static const weft_protocol_ops lr_protocol_ops = {
    .connection_made = lr_made, .data_received = lr_data, .eof_received = lr_eof,
    .connection_lost = lr_lost, .destroy = lr_destroy};

static void lr_producer_pause(weft_producer *p)
{
    weft_line_receiver_pause(WEFT_CONTAINER_OF(p, weft_line_receiver, producer));
}

static void lr_producer_resume(weft_producer *p)
{
    weft_line_receiver_resume(WEFT_CONTAINER_OF(p, weft_line_receiver, producer));
}

static void lr_producer_stop(weft_producer *p)
{
    weft_line_receiver_stop(WEFT_CONTAINER_OF(p, weft_line_receiver, producer));
}

static const weft_producer_ops lr_producer_ops = {lr_producer_pause, lr_producer_resume, lr_producer_stop};

void weft_line_receiver_init(weft_line_receiver *lr, const weft_line_receiver_ops *ops)
{
    memset(lr, 0, sizeof *lr);
    lr->base.ops = &lr_protocol_ops;
    lr->ops = ops;
    lr->max_length = DEFAULT_MAX_LENGTH;
    set_delimiter(lr->delimiter, &lr->delimiter_len, "\r\n", 2);
    lr->producer.ops = &lr_producer_ops;
}

int weft_line_receiver_set_delimiter(weft_line_receiver *lr, const void *delim, size_t len)
{
    int err = set_delimiter(lr->delimiter, &lr->delimiter_len, delim, len);
    if (err == 0)
        lr->scanned = 0;
    return err;
}

int weft_line_receiver_send_line(weft_line_receiver *lr, const void *line, size_t len)
{
    return send_line(&lr->base, line, len, lr->delimiter, lr->delimiter_len);
}

int weft_line_receiver_vprintf(weft_line_receiver *lr, const char *fmt, va_list ap)
{
    char small[512];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    int err = n < 0 ? WEFT_EINVAL : 0;
    if (err == 0 && (size_t)n < sizeof small) {
        err = weft_line_receiver_send_line(lr, small, (size_t)n);
    } else if (err == 0) {
        char *big = weft_malloc((size_t)n + 1);
        err = big ? weft_line_receiver_send_line(lr, big, (size_t)vsnprintf(big, (size_t)n + 1, fmt, again))
                  : WEFT_ENOMEM;
        weft_free(big);
    }
    va_end(again);
    return err;
}

int weft_line_receiver_printf(weft_line_receiver *lr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int err = weft_line_receiver_vprintf(lr, fmt, ap);
    va_end(ap);
    return err;
}

void weft_line_receiver_set_raw_mode(weft_line_receiver *lr)
{
    lr->raw = true;
}

int weft_line_receiver_set_line_mode(weft_line_receiver *lr, const void *extra, size_t len)
{
    lr->raw = false;
    lr->scanned = 0;
    return len ? lr_feed(lr, extra, len) : 0;
}

void weft_line_receiver_pause(weft_line_receiver *lr)
{
    lr->paused = true;
    if (lr->base.transport)
        weft_transport_pause_reading(lr->base.transport);
}

void weft_line_receiver_resume(weft_line_receiver *lr)
{
    lr->paused = false;
    if (lr->base.transport)
        weft_transport_resume_reading(lr->base.transport);
    /* What is buffered comes now; from inside a callback, the parse
     * running below it goes on once the callback returns. */
    lr_feed(lr, NULL, 0);
}

void weft_line_receiver_stop(weft_line_receiver *lr)
{
    lr->paused = true;
    if (lr->base.transport)
        weft_transport_lose_connection(lr->base.transport);
}

weft_producer *weft_line_receiver_producer(weft_line_receiver *lr)
{
    return &lr->producer;
}

size_t weft_line_receiver_clear_buffer(weft_line_receiver *lr, const char **data)
{
    size_t n;
    const char *d = weft__input_peek(&lr->in, &n);
    weft__input_consume(&lr->in, n);
    lr->scanned = 0;
    if (data)
        *data = d;
    return n;
}

/* ---- LineOnlyReceiver ---- */

#define LO(p) ((weft_line_only_receiver *)(void *)(p))

static void lo_exceeded(weft_line_only_receiver *lr, const char *data, size_t len)
{
    weft__input_pin(&lr->in);
    if (lr->ops->line_length_exceeded)
        lr->ops->line_length_exceeded(lr, data, len);
    else
        refuse_line(&lr->base, lr->max_length);
    weft__input_unpin(&lr->in);
}

static void lo_process(void *self)
{
    weft_line_only_receiver *lr = self;
    weft__basic_input *in = &lr->in;
    while (!weft__basic_closing(&lr->base)) {
        size_t n;
        const char *d = weft__input_peek(in, &n);
        if (n == 0)
            return;
        size_t dlen = lr->delimiter_len;
        size_t from = search_from(lr->scanned, dlen);
        const char *at = weft__basic_find(d + from, n - from, lr->delimiter, dlen);
        if (!at) {
            lr->scanned = n;
            if (!too_long(n, lr->max_length, dlen))
                return;
            weft__input_consume(in, n);
            lr->scanned = 0;
            lo_exceeded(lr, d, n);
            continue;
        }
        size_t len = (size_t)(at - d);
        weft__input_consume(in, len + dlen);
        lr->scanned = 0;
        if (len > lr->max_length) {
            lo_exceeded(lr, d, len);
            continue;
        }
        weft__input_pin(in);
        if (lr->ops->line_received)
            lr->ops->line_received(lr, d, len);
        weft__input_unpin(in);
    }
}

static void lo_made(weft_protocol *p)
{
    if (LO(p)->ops->connection_made)
        LO(p)->ops->connection_made(LO(p));
}

static void lo_data(weft_protocol *p, const void *data, size_t len)
{
    if (weft__input_feed(&LO(p)->in, data, len, lo_process, LO(p)) < 0)
        weft__basic_out_of_memory(p, "line receiver");
}

static bool lo_eof(weft_protocol *p)
{
    return LO(p)->ops->eof_received && LO(p)->ops->eof_received(LO(p));
}

static void lo_lost(weft_protocol *p, const weft_failure *reason)
{
    if (LO(p)->ops->connection_lost)
        LO(p)->ops->connection_lost(LO(p), reason);
    weft__input_free(&LO(p)->in);
}

static void lo_destroy(weft_protocol *p)
{
    weft__input_free(&LO(p)->in);
    if (LO(p)->ops->destroy)
        LO(p)->ops->destroy(LO(p));
}

static const weft_protocol_ops lo_protocol_ops = {
    .connection_made = lo_made, .data_received = lo_data, .eof_received = lo_eof,
    .connection_lost = lo_lost, .destroy = lo_destroy};

void weft_line_only_receiver_init(weft_line_only_receiver *lr, const weft_line_only_receiver_ops *ops)
{
    memset(lr, 0, sizeof *lr);
    lr->base.ops = &lo_protocol_ops;
    lr->ops = ops;
    lr->max_length = DEFAULT_MAX_LENGTH;
    set_delimiter(lr->delimiter, &lr->delimiter_len, "\r\n", 2);
}

int weft_line_only_receiver_set_delimiter(weft_line_only_receiver *lr, const void *delim, size_t len)
{
    int err = set_delimiter(lr->delimiter, &lr->delimiter_len, delim, len);
    if (err == 0)
        lr->scanned = 0;
    return err;
}

int weft_line_only_receiver_send_line(weft_line_only_receiver *lr, const void *line, size_t len)
{
    return send_line(&lr->base, line, len, lr->delimiter, lr->delimiter_len);
}
