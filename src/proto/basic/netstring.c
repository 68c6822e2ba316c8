/* SPDX-License-Identifier: MIT */
/*
 * Netstrings, after twisted.protocols.basic.NetstringReceiver: "len:data,".
 * The length is parsed digit by digit as it arrives (nothing of it is
 * buffered), and checked against max_length at every digit, so a peer
 * announcing a huge string is refused at the first digit too many, before
 * it can make us buffer anything. As Twisted, a length with a leading zero
 * is refused ("0:" alone is the empty string).
 */
#include <stdio.h>
#include <string.h>

#include "input.h"
#include "weft/error.h"
#include "weft/transport.h"

enum { DEFAULT_MAX_LENGTH = 99999 };

#define NR(p) ((weft_netstring_receiver *)(void *)(p))

/* Refuses the peer's input: logged, the connection lost, and nothing more
 * parsed from it (Twisted's brokenPeer). */
#define BROKEN(nr, ...)                                                          \
    do {                                                                         \
        (nr)->broken = true;                                                     \
        weft__basic_refuse(&(nr)->base, "netstring receiver", __VA_ARGS__);      \
    } while (0)

/* Parses the length from the bytes available; returns how many it used.
 * Bad input breaks the receiver. */
static size_t parse_length(weft_netstring_receiver *nr, const char *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == ':') {
            if (nr->digits == 0) {
                BROKEN(nr, "the netstring has no length before ':'");
                return 0;
            }
            nr->in_payload = true;
            return i + 1;
        }
        if (c < '0' || c > '9') {
            if (nr->digits == 0)
                BROKEN(nr, "the netstring does not start with a length (byte 0x%02x)", c);
            else
                BROKEN(nr, "the netstring's length is not followed by ':' (byte 0x%02x)", c);
            return 0;
        }
        if (nr->digits == 1 && nr->length == 0) {
            BROKEN(nr, "the netstring's length has a leading zero");
            return 0;
        }
        size_t digit = c - '0';
        if (nr->max_length < digit || nr->length > (nr->max_length - digit) / 10) {
            BROKEN(nr, "the netstring is longer than the limit of %zu bytes", nr->max_length);
            return 0;
        }
        nr->length = nr->length * 10 + digit;
        nr->digits++;
    }
    return n;
}

static void nr_process(void *self)
{
    weft_netstring_receiver *nr = self;
    weft__basic_input *in = &nr->in;
    while (!nr->broken && !weft__basic_closing(&nr->base)) {
        size_t n;
        const char *d = weft__input_peek(in, &n);
        if (n == 0)
            return;
        if (!nr->in_payload) {
            size_t used = parse_length(nr, d, n);
            weft__input_consume(in, used);
            continue;
        }
        /* The payload and its comma. */
        size_t len = nr->length;
        if (n <= len)
            return;
        if (d[len] != ',') {
            BROKEN(nr, "the netstring of %zu bytes is not terminated by ','", len);
            return;
        }
        weft__input_consume(in, len + 1);
        nr->in_payload = false;
        nr->length = nr->digits = 0;
        weft__input_pin(in);
        if (nr->ops->string_received)
            nr->ops->string_received(nr, d, len);
        weft__input_unpin(in);
    }
}

static void nr_made(weft_protocol *p)
{
    if (NR(p)->ops->connection_made)
        NR(p)->ops->connection_made(NR(p));
}

static void nr_data(weft_protocol *p, const void *data, size_t len)
{
    weft_netstring_receiver *nr = NR(p);
    if (nr->broken)
        return;
    if (weft__input_feed(&nr->in, data, len, nr_process, nr) < 0)
        weft__basic_out_of_memory(p, "netstring receiver");
    if (nr->broken)
        weft__input_free(&nr->in); /* nothing more will be parsed */
}

static bool nr_eof(weft_protocol *p)
{
    return NR(p)->ops->eof_received && NR(p)->ops->eof_received(NR(p));
}

static void nr_lost(weft_protocol *p, const weft_failure *reason)
{
    if (NR(p)->ops->connection_lost)
        NR(p)->ops->connection_lost(NR(p), reason);
    weft__input_free(&NR(p)->in);
}

static void nr_destroy(weft_protocol *p)
{
    weft__input_free(&NR(p)->in);
    if (NR(p)->ops->destroy)
        NR(p)->ops->destroy(NR(p));
}

static const weft_protocol_ops nr_protocol_ops = {
    .connection_made = nr_made, .data_received = nr_data, .eof_received = nr_eof,
    .connection_lost = nr_lost, .destroy = nr_destroy};

void weft_netstring_receiver_init(weft_netstring_receiver *nr, const weft_netstring_receiver_ops *ops)
{
    memset(nr, 0, sizeof *nr);
    nr->base.ops = &nr_protocol_ops;
    nr->ops = ops;
    nr->max_length = DEFAULT_MAX_LENGTH;
}

int weft_netstring_receiver_send_string(weft_netstring_receiver *nr, const void *data, size_t len)
{
    if (!nr->base.transport)
        return -ENOTCONN;
    char head[24];
    int hl = snprintf(head, sizeof head, "%zu:", len);
    struct iovec iov[3] = {{head, (size_t)hl}, {(void *)data, len}, {",", 1}};
    return weft_transport_writev(nr->base.transport, iov, 3);
}
