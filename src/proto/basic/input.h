/* SPDX-License-Identifier: MIT */
/*
 * What the receivers of basic.h share: the receive buffer, and refusing a
 * peer's bad input.
 *
 * The buffer parses a chunk from the network in place when nothing is held
 * from before, so the common case copies nothing; only the unparsed tail is
 * kept. Callbacks get pointers into the chunk or into the buffer, and may
 * feed bytes back while they run (set_line_mode(extra), a nested
 * data_received): such bytes are queued behind what is unparsed, and the
 * block a callback points into is "pinned" - never moved, compacted or
 * freed until the callback returns.
 */
#ifndef WEFT_PROTO_BASIC_INPUT_H
#define WEFT_PROTO_BASIC_INPUT_H

#include "weft/basic.h"
#include "weft/transport.h"

/* The bytes not yet parsed, contiguous. */
static inline const char *weft__input_peek(const weft__basic_input *in, size_t *len)
{
    if (in->ext_len) {
        *len = in->ext_len;
        return in->ext;
    }
    *len = in->end - in->start;
    return in->buf ? in->buf + in->start : "";
}

/* Marks the first n of them parsed. They stay where they are until the
 * next feed, so a pointer to them stays good through a callback. */
static inline void weft__input_consume(weft__basic_input *in, size_t n)
{
    if (in->ext_len) {
        in->ext += n;
        in->ext_len -= n;
    } else {
        in->start += n;
    }
}

/* Around every callback given a pointer into the input. */
static inline void weft__input_pin(weft__basic_input *in)
{
    in->pinned = in->buf;
}

void weft__input_unpin(weft__basic_input *in);

/*
 * Feeds bytes: parsed now by process(self) - which peeks, consumes and
 * calls back until it needs more - or, while a parse is running, queued
 * behind the unparsed bytes for it to reach. data may point into the
 * input's own buffer. Returns 0 or WEFT_ENOMEM (bytes were lost: the caller
 * must end the connection).
 */
int weft__input_feed(weft__basic_input *in, const void *data, size_t len, void (*process)(void *self), void *self);

/* Frees the buffer; the input is empty and usable again. */
void weft__input_free(weft__basic_input *in);

/* Whether the connection is going: no transport, or lose/abort called. A
 * receiver delivers nothing more then. */
bool weft__basic_closing(const weft_protocol *p);

/* Logs why the peer's input is refused (warn, "weft.basic", with the peer's
 * address) and loses the connection. */
void weft__basic_refuse(weft_protocol *p, const char *protocol, const char *fmt, ...) WEFT_PRINTF(3, 4);

/* For feed failures: logs and loses the connection. */
void weft__basic_out_of_memory(weft_protocol *p, const char *protocol);

/* Returns the position of delim in data, or NULL. */
const char *weft__basic_find(const char *data, size_t len, const char *delim, size_t dlen);

#endif
