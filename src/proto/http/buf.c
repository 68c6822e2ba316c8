/* SPDX-License-Identifier: MIT */
/* The HTTP layer's growable buffer (buf.h). */
#include <stdint.h>

#include "buf.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/http_percent.h"

int weft__http_buf_reserve(weft__http_buf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2)
            return WEFT_ENOMEM;
        cap *= 2;
    }
    char *d = weft_realloc(b->data, cap);
    if (!d)
        return WEFT_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

static void fail(weft__http_buf *b)
{
    b->failed = true;
    /* Full from now on: every append takes the slow path, and does nothing. */
    b->cap = b->len;
}

bool weft__http_buf_grow(weft__http_buf *b, size_t more)
{
    if (b->failed)
        return false;
    if (weft__http_buf_reserve(b, more) == 0)
        return true;
    fail(b);
    return false;
}

size_t weft__http_buf_add_str(weft__http_buf *b, const void *p, size_t n)
{
    size_t off = b->len;
    if (!weft__http_buf_room(b, n + 1))
        return off;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->data[b->len + n] = 0;
    b->len += n + 1;
    return off;
}

void weft__http_buf_free(weft__http_buf *b)
{
    weft_free(b->data);
    *b = (weft__http_buf){0};
}

void weft__http_buf_add(weft__http_buf *b, const void *p, size_t n)
{
    if (!weft__http_buf_room(b, n + 1))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void weft__http_buf_adds(weft__http_buf *b, const char *s)
{
    weft__http_buf_add(b, s, strlen(s));
}

void weft__http_buf_add_html(weft__http_buf *b, const char *s, size_t n)
{
    size_t plain = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ent = s[i] == '&'    ? "&amp;"
                          : s[i] == '<'  ? "&lt;"
                          : s[i] == '>'  ? "&gt;"
                          : s[i] == '"'  ? "&quot;"
                          : s[i] == '\'' ? "&#39;"
                                         : NULL;
        if (!ent)
            continue;
        weft__http_buf_add(b, s + plain, i - plain);
        weft__http_buf_adds(b, ent);
        plain = i + 1;
    }
    weft__http_buf_add(b, s + plain, n - plain);
}

void weft__http_buf_add_url(weft__http_buf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX / 3 - 1) {
        fail(b);
        return;
    }
    if (!weft__http_buf_room(b, 3 * n + 1))
        return;
    b->len += weft_http_percent_encode(b->data + b->len, 3 * n + 1, s, n, WEFT_HTTP_PERCENT_UNRESERVED);
}

char *weft__http_buf_take(weft__http_buf *b)
{
    weft__http_buf_add(b, "", 0); /* the terminating NUL, and room for it */
    if (b->failed) {
        weft__http_buf_free(b);
        return NULL;
    }
    char *s = b->data;
    *b = (weft__http_buf){0};
    return s;
}

char *weft__http_fmt_u64(char *end, uint64_t v)
{
    char *p = end;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    return p;
}

char *weft__http_fmt_hex(char *end, uint64_t v)
{
    char *p = end;
    do
        *--p = "0123456789abcdef"[v & 15];
    while (v >>= 4);
    return p;
}
