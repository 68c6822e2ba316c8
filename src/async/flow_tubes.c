/* SPDX-License-Identifier: MIT */
/*
 * The framing tubes of flow.h: bytes to frames (lines, netstrings,
 * length-prefixed strings) and back, over the pure functions of framing.h.
 * A decoding tube parses each chunk in place when it holds nothing from
 * before, and keeps only the unparsed tail; bad input fails the tube, which
 * stops its upstream (a transport closes) and ends its downstream with why.
 */
#include <string.h>

#include "framing.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/flow.h"

typedef enum { K_LINES, K_NETSTRINGS, K_PREFIXED } kind;

typedef struct frame_tube {
    weft_tube base;
    kind k;
    bool encode;
    size_t max;
    unsigned prefix;
    char delim[8];
    size_t dlen;
    char *buf; /* decode: unparsed bytes; encode: scratch for one frame */
    size_t len, cap;
} frame_tube;

static ssize_t next_frame(frame_tube *t, const char *d, size_t n, const char **msg, size_t *len)
{
    switch (t->k) {
    case K_LINES:
        return weft__frame_line(d, n, t->delim, t->dlen, t->max, msg, len);
    case K_NETSTRINGS:
        return weft__frame_netstring(d, n, t->max, msg, len);
    default:
        return weft__frame_prefixed(d, n, t->prefix, t->max, msg, len);
    }
}

static bool reserve(frame_tube *t, size_t need)
{
    if (need <= t->cap)
        return true;
    size_t cap = need < 256 ? 256 : need * 2;
    char *b = weft_realloc(t->buf, cap);
    if (!b)
        return false;
    t->buf = b;
    t->cap = cap;
    return true;
}

static void fail(frame_tube *t, int code)
{
    weft_failure *f = code == WEFT_ENOMEM ? weft_failure_new(code, "out of memory framing")
                      : code == -EMSGSIZE ? weft_failure_new(code, "frame longer than %zu bytes", t->max)
                                          : weft_failure_new(code, "malformed frame");
    weft_tube_fail(&t->base, f);
    weft_failure_unref(f);
}

/* Emits every complete frame in [d, d+n); returns the bytes used, or -1
 * after failing the tube. */
static ssize_t emit_frames(frame_tube *t, const char *d, size_t n)
{
    size_t used = 0;
    while (!t->base.out.ended) {
        const char *msg;
        size_t len;
        ssize_t took = next_frame(t, d + used, n - used, &msg, &len);
        if (took < 0) {
            fail(t, (int)took);
            return -1;
        }
        if (took == 0)
            break;
        weft_tube_emit(&t->base, msg, len);
        used += (size_t)took;
    }
    return (ssize_t)used;
}

static void decode(weft_tube *tube, const void *data, size_t n)
{
    frame_tube *t = (frame_tube *)tube;
    const char *d = data;
    if (t->len == 0) {
        ssize_t used = emit_frames(t, d, n);
        if (used < 0)
            return;
        d += used;
        n -= (size_t)used;
        if (n == 0)
            return;
    }
    if (!reserve(t, t->len + n)) {
        fail(t, WEFT_ENOMEM);
        return;
    }
    memcpy(t->buf + t->len, d, n);
    t->len += n;
    ssize_t used = emit_frames(t, t->buf, t->len);
    if (used <= 0)
        return;
    memmove(t->buf, t->buf + used, t->len - (size_t)used);
    t->len -= (size_t)used;
}

static void encode(weft_tube *tube, const void *data, size_t n)
{
    frame_tube *t = (frame_tube *)tube;
    char head[24];
    ssize_t hlen = 0;
    const char *tail = "";
    size_t tlen = 0;
    if (t->k == K_LINES) {
        tail = t->delim;
        tlen = t->dlen;
    } else if (t->k == K_NETSTRINGS) {
        hlen = weft__frame_netstring_header(n, head);
        tail = ",";
        tlen = 1;
    } else {
        hlen = weft__frame_prefix_header(n, t->prefix, head);
    }
    if (hlen < 0) {
        fail(t, (int)hlen);
        return;
    }
    if (!reserve(t, (size_t)hlen + n + tlen)) {
        fail(t, WEFT_ENOMEM);
        return;
    }
    memcpy(t->buf, head, (size_t)hlen);
    memcpy(t->buf + hlen, data, n);
    memcpy(t->buf + hlen + n, tail, tlen);
    weft_tube_emit(tube, t->buf, (size_t)hlen + n + tlen);
}

static void destroy(weft_tube *tube)
{
    frame_tube *t = (frame_tube *)tube;
    weft_free(t->buf);
    weft_free(t);
}

static const weft_tube_ops decode_ops = {.received = decode, .destroy = destroy};
static const weft_tube_ops encode_ops = {.received = encode, .destroy = destroy};

static weft_tube *make(kind k, bool encoding, size_t max, unsigned prefix, const char *delim)
{
    size_t dlen = delim ? strlen(delim) : 0;
    if ((k == K_LINES && (dlen == 0 || dlen >= sizeof ((frame_tube *)0)->delim)) ||
        (k == K_PREFIXED && prefix != 1 && prefix != 2 && prefix != 4))
        return NULL;
    frame_tube *t = weft_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    weft_tube_init(&t->base, encoding ? &encode_ops : &decode_ops);
    t->k = k;
    t->encode = encoding;
    t->max = max;
    t->prefix = prefix;
    if (delim)
        memcpy(t->delim, delim, dlen);
    t->dlen = dlen;
    return &t->base;
}

weft_tube *weft_tube_lines(const char *delimiter, size_t max_length)
{
    return make(K_LINES, false, max_length ? max_length : 16384, 0, delimiter ? delimiter : "\r\n");
}

weft_tube *weft_tube_to_lines(const char *delimiter)
{
    return make(K_LINES, true, 0, 0, delimiter ? delimiter : "\r\n");
}

weft_tube *weft_tube_netstrings(size_t max_length)
{
    return make(K_NETSTRINGS, false, max_length ? max_length : 99999, 0, NULL);
}

weft_tube *weft_tube_to_netstrings(void)
{
    return make(K_NETSTRINGS, true, 0, 0, NULL);
}

weft_tube *weft_tube_prefixed(unsigned prefix_bytes, size_t max_length)
{
    return make(K_PREFIXED, false, max_length ? max_length : 99999, prefix_bytes, NULL);
}

weft_tube *weft_tube_to_prefixed(unsigned prefix_bytes)
{
    return make(K_PREFIXED, true, 0, prefix_bytes, NULL);
}

void weft_tube_free(weft_tube *t)
{
    if (t && t->ops->destroy)
        t->ops->destroy(t);
}
