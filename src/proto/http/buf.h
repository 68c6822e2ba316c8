/* SPDX-License-Identifier: MIT */
/*
 * The HTTP layer's one growable byte buffer: response heads, parsed header
 * bytes, request lines, error pages, listings, paths. Private.
 *
 * Two styles of use share it: the hot paths check each append's result
 * (weft__http_buf_append, inline); page and path builders append freely
 * and check `failed` once at the end (weft__http_buf_add and friends keep
 * the content NUL-terminated, so it can be used as a string).
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
    bool failed; /* an add found no memory: the content is incomplete */
} weft__http_buf;

/* Room for `more` bytes past len; 0 or WEFT_ENOMEM. */
int weft__http_buf_reserve(weft__http_buf *b, size_t more);

/* Inline: a response head is a few dozen small appends. */
static inline int weft__http_buf_append(weft__http_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        int rc = weft__http_buf_reserve(b, n);
        if (rc < 0)
            return rc;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Appends a NUL-terminated copy; returns the offset, or WEFT_ENOMEM. */
long weft__http_buf_add_str(weft__http_buf *b, const void *p, size_t n);
void weft__http_buf_free(weft__http_buf *b);

/* The builders' appends: on failure they set `failed` and do nothing more. */
void weft__http_buf_add(weft__http_buf *b, const void *p, size_t n);
void weft__http_buf_adds(weft__http_buf *b, const char *s);
/* &, <, >, " and ' as entities. */
void weft__http_buf_add_html(weft__http_buf *b, const char *s, size_t n);
/* Every byte but the unreserved ones (RFC 3986) percent-encoded
 * (weft_http_percent_encode; decoding is weft_http_percent_decode). */
void weft__http_buf_add_url(weft__http_buf *b, const char *s, size_t n);
/* The content as a string the caller owns (weft_free), b left empty; NULL,
 * and everything freed, when an add failed. */
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
