/* SPDX-License-Identifier: MIT */
/*
 * The receive buffer of the basic.h receivers (see input.h for the rules a
 * callback's pointers live by), and how they refuse bad input.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "weft/transport.h"
#include "input.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/reactor.h"

/* An empty buffer bigger than this is freed rather than kept for the next
 * partial message, so idle connections hold little read memory. */
enum { KEEP_MAX = 16 * 1024, MIN_CAP = 256 };

static bool inside(const weft__basic_input *in, const void *p)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)in->buf;
    return in->buf && a >= b && a - b < in->cap;
}

/* Appends n bytes at the end of the buffer. src may lie in the buffer (a
 * part already parsed), or in a pinned block. */
static int put(weft__basic_input *in, const char *src, size_t n)
{
    if (n == 0)
        return 0;
    size_t used = in->end - in->start;
    if (in->cap - in->end >= n) {
        /* src, if it is ours, lies before end: memmove for overlap only. */
        memmove(in->buf + in->end, src, n);
        in->end += n;
        return 0;
    }
    if (in->buf != in->pinned && !inside(in, src) && in->cap - used >= n) {
        memmove(in->buf, in->buf + in->start, used);
        memcpy(in->buf + used, src, n);
        in->start = 0;
        in->end = used + n;
        return 0;
    }
    if (n > SIZE_MAX / 4 - used)
        return WEFT_ENOMEM;
    size_t need = used + n, cap = MIN_CAP;
    while (cap < need)
        cap *= 2;
    char *nb = weft_malloc(cap);
    if (!nb)
        return WEFT_ENOMEM;
    if (used)
        memcpy(nb, in->buf + in->start, used);
    memcpy(nb + used, src, n);
    /* A pinned block is freed by unpin, once its callback has returned. */
    if (in->buf != in->pinned)
        weft_free(in->buf);
    in->buf = nb;
    in->cap = cap;
    in->start = 0;
    in->end = need;
    return 0;
}

/* Copies what is left of the chunk being parsed into the buffer, so bytes
 * fed from now on can queue behind it. */
static int keep_chunk(weft__basic_input *in)
{
    const char *e = in->ext;
    size_t n = in->ext_len;
    in->ext = NULL;
    in->ext_len = 0;
    return put(in, e, n);
}

void weft__input_unpin(weft__basic_input *in)
{
    if (in->pinned && in->pinned != in->buf)
        weft_free(in->pinned);
    in->pinned = NULL;
    if (in->start == in->end)
        in->start = in->end = 0;
}

int weft__input_feed(weft__basic_input *in, const void *data, size_t len, void (*process)(void *self), void *self)
{
    int err;
    if (in->busy) {
        if (len == 0)
            return 0;
        if (in->ext_len && (err = keep_chunk(in)) < 0)
            return err;
        return put(in, data, len);
    }
    if (in->start == in->end && !inside(in, data)) {
        in->start = in->end = 0;
        in->ext = data;
        in->ext_len = len;
    } else if ((err = put(in, data, len)) < 0) {
        return err;
    }
    in->busy = true;
    process(self);
    in->busy = false;
    err = in->ext_len ? keep_chunk(in) : 0;
    in->ext = NULL;
    if (in->start == in->end) {
        in->start = in->end = 0;
        if (in->cap > KEEP_MAX) {
            weft_free(in->buf);
            in->buf = NULL;
            in->cap = 0;
        }
    }
    return err;
}

void weft__input_free(weft__basic_input *in)
{
    if (in->pinned && in->pinned != in->buf)
        weft_free(in->pinned);
    weft_free(in->buf);
    *in = (weft__basic_input){0};
}

bool weft__basic_closing(const weft_protocol *p)
{
    return !p->transport || weft_transport_disconnecting(p->transport);
}

static void refuse(weft_protocol *p, const char *protocol, const char *reason)
{
    weft_transport *t = p->transport;
    if (!t)
        return;
    char peer[128] = "unknown peer";
    weft_address a;
    if (weft_transport_peer(t, &a) == 0)
        weft_address_format(&a, peer, sizeof peer);
    weft_log(weft_reactor_logger(weft_transport_reactor(t)), WEFT_LOG_WARN, "weft.basic",
             "{protocol} from {peer}: {reason}; closing the connection", WEFT_LOG_STR("protocol", protocol),
             WEFT_LOG_STR("peer", peer), WEFT_LOG_STR("reason", reason));
    weft_transport_lose_connection(t);
}

void weft__basic_refuse(weft_protocol *p, const char *protocol, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    refuse(p, protocol, reason);
}

void weft__basic_out_of_memory(weft_protocol *p, const char *protocol)
{
    refuse(p, protocol, "out of memory buffering its input");
}

const char *weft__basic_find(const char *data, size_t len, const char *delim, size_t dlen)
{
    if (dlen == 0 || len < dlen)
        return NULL;
    const char *p = data, *last = data + (len - dlen);
    while (p <= last) {
        p = memchr(p, (unsigned char)delim[0], (size_t)(last - p) + 1);
        if (!p)
            return NULL;
        if (memcmp(p, delim, dlen) == 0)
            return p;
        p++;
    }
    return NULL;
}
