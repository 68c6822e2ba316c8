/* SPDX-License-Identifier: MIT */
/*
 * The HTTP layer's one growable byte buffer: response heads, parsed header
 * bytes, request lines, error pages, listings, paths. Private.
 *
 * One error idiom, SQLite's StrAccum's: an append that finds no memory
 * sets `failed`, and every append after it does nothing (the buffer looks
 * full, so the check costs the appends nothing); the caller builds freely
 * and checks `failed` once, where it uses the content. weft__http_buf_clear
 * empties a buffer for reuse and forgets a failure.
 *
 * weft__http_buf_reserve is the primitive under the appends, for the
 * arenas (header and argument lists) that lay out their own bytes and must
 * keep what they hold when one addition fails: it answers, it remembers
 * nothing.
 */
#ifndef WEFT_HTTP_BUF_H
#define WEFT_HTTP_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "weft/http_percent.h"

typedef struct weft__http_buf {
    char *data; /* weft_malloc'd */
    size_t len, cap;
    bool failed; /* an append found no memory: the content is incomplete */
} weft__http_buf;

/* Room for `more` bytes past len; 0 or WEFT_ENOMEM (failed untouched). */
int weft__http_buf_reserve(weft__http_buf *b, size_t more);
/* The appends' slow path: grows the buffer, or fails it. */
bool weft__http_buf_grow(weft__http_buf *b, size_t more);

/* Room for `more` bytes past len, for a caller that writes them itself;
 * false when the buffer has failed (now or before: a failed buffer is
 * full). */
static inline bool weft__http_buf_room(weft__http_buf *b, size_t more)
{
    return b->cap - b->len >= more || weft__http_buf_grow(b, more);
}

/* Bytes. Inline: a response head is a few dozen small appends. */
static inline void weft__http_buf_append(weft__http_buf *b, const void *p, size_t n)
{
    if (!weft__http_buf_room(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void weft__http_buf_appends(weft__http_buf *b, const char *s)
{
    weft__http_buf_append(b, s, strlen(s));
}

/* Empty, for reuse: the memory is kept, a failure forgotten. */
static inline void weft__http_buf_clear(weft__http_buf *b)
{
    b->len = 0;
    b->failed = false;
}

void weft__http_buf_free(weft__http_buf *b);

/* The appends below keep the content NUL-terminated, so that it can be
 * used as a string. */
void weft__http_buf_add(weft__http_buf *b, const void *p, size_t n);
void weft__http_buf_adds(weft__http_buf *b, const char *s);
/* A NUL-terminated copy of n bytes, its NUL counted in len; returns its
 * offset (meaningless once the buffer has failed). */
size_t weft__http_buf_add_str(weft__http_buf *b, const void *p, size_t n);
/* &, <, >, " and ' as entities. */
void weft__http_buf_add_html(weft__http_buf *b, const char *s, size_t n);
/* Every byte but the unreserved ones (RFC 3986) percent-encoded
 * (weft_http_percent_encode; decoding is weft_http_percent_decode). */
void weft__http_buf_add_url(weft__http_buf *b, const char *s, size_t n);
/* The content as a string the caller owns (weft_free), b left empty; NULL,
 * and everything freed, when the buffer has failed. */
char *weft__http_buf_take(weft__http_buf *b);

/* RFC 9110 tchar (header names, tokens, cookie names). A switch, not
 * strchr: every header name added passes here, so it is on every
 * response's path. */
static inline bool weft__http_is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

/* ---- numbers, shared by the server, the client and the static files ---- */

/* Decimal / lower-case hex digits of v, written backwards ending at `end`
 * (at most 20 bytes before it); returns where they start. By hand: these
 * are on every response's path, where snprintf is a fifth of the cost. */
char *weft__http_fmt_u64(char *end, uint64_t v);
char *weft__http_fmt_hex(char *end, uint64_t v);

#endif
