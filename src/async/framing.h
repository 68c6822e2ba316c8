/* SPDX-License-Identifier: MIT */
/*
 * Framing, as pure functions over a byte range: where the next complete
 * frame is, or that more bytes are needed, or that the bytes are bad. No
 * state, no allocation, so the framing tubes (flow_tubes.c) and anything
 * else can share them, and a fuzzer can call them directly.
 *
 * Each returns the bytes the frame takes (> 0) and sets *msg and *len to its
 * payload; 0 when the range holds no complete frame yet; or a negative
 * error: WEFT_EMSGSIZE (-EMSGSIZE) when the frame is or would be longer than
 * max, WEFT_EINVAL when the bytes cannot be a frame.
 */
#ifndef WEFT_ASYNC_FRAMING_H
#define WEFT_ASYNC_FRAMING_H

#include <sys/types.h>

#include "weft/base.h"

/* A line ending in delim (not included in the payload). */
ssize_t weft__frame_line(const char *d, size_t n, const char *delim, size_t dlen, size_t max, const char **msg,
                         size_t *len);

/* A netstring: decimal length (no leading zeros but "0"), ':', payload, ','. */
ssize_t weft__frame_netstring(const char *d, size_t n, size_t max, const char **msg, size_t *len);

/* A big-endian length prefix of 1, 2 or 4 bytes, then the payload. */
ssize_t weft__frame_prefixed(const char *d, size_t n, unsigned prefix, size_t max, const char **msg, size_t *len);

/* Writes the header that goes before a payload of len bytes (netstring
 * "len:", or the prefix) into out (at least 24 bytes); returns its length,
 * or WEFT_EMSGSIZE when len does not fit the prefix. */
ssize_t weft__frame_netstring_header(size_t len, char *out);
ssize_t weft__frame_prefix_header(size_t len, unsigned prefix, char *out);

#endif
