/* SPDX-License-Identifier: MIT */
/*
 * Validators and the requests that use them: entity tags, the precondition
 * headers in the order RFC 9110 section 13.2.2 evaluates them, Range and
 * If-Range. Everything here is text in, verdict out.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "static_int.h"
#include "weft/http_headers.h"

void weft__static_etag(const struct stat *st, char out[WEFT__ETAG_SIZE])
{
    /* built backwards from the end, then moved to the front */
    char *end = out + WEFT__ETAG_SIZE, *p = end;
    *--p = '\0';
    *--p = '"';
    p = weft__http_fmt_hex(p, (uint64_t)(unsigned long)st->st_mtim.tv_nsec);
    *--p = '.';
    p = weft__http_fmt_hex(p, (uint64_t)st->st_mtim.tv_sec);
    *--p = '-';
    p = weft__http_fmt_hex(p, (uint64_t)st->st_size);
    *--p = '-';
    p = weft__http_fmt_hex(p, (uint64_t)st->st_ino);
    *--p = '"';
    memmove(out, p, (size_t)(end - p));
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Compares one entity tag [p, p+n) of a list with etag. */
static bool tag_equal(const char *p, size_t n, const char *etag, bool weak)
{
    bool tag_weak = n >= 2 && p[0] == 'W' && p[1] == '/';
    if (tag_weak) {
        if (!weak)
            return false;
        p += 2, n -= 2;
    }
    if (etag[0] == 'W' && etag[1] == '/') {
        if (!weak)
            return false;
        etag += 2;
    }
    return n == strlen(etag) && memcmp(p, etag, n) == 0;
}

bool weft__static_etag_listed(const char *list, const char *etag, bool weak)
{
    const char *p = list;
    while (*p) {
        while (ows(*p) || *p == ',')
            p++;
        if (!*p)
            break;
        if (*p == '*')
            return true;
        /* A tag runs to its closing quote; commas may sit inside it. */
        const char *start = p;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"')
            return false; /* not a list of entity tags: nothing matches */
        const char *close = strchr(p + 1, '"');
        if (!close)
            return false;
        p = close + 1;
        if (tag_equal(start, (size_t)(p - start), etag, weak))
            return true;
    }
    return false;
}

int weft__static_preconditions(const char *if_match, const char *if_unmodified_since, const char *if_none_match,
                               const char *if_modified_since, const char *etag, long long mtime)
{
    long long when;
    if (if_match) {
        if (!weft__static_etag_listed(if_match, etag, false))
            return 412;
    } else if (if_unmodified_since && weft_http_date_parse(if_unmodified_since, &when) == 0 && mtime > when) {
        return 412;
    }
    if (if_none_match) {
        if (weft__static_etag_listed(if_none_match, etag, true))
            return 304;
    } else if (if_modified_since && weft_http_date_parse(if_modified_since, &when) == 0 && mtime <= when) {
        return 304;
    }
    return 0;
}

/* Reads a decimal number of at most 19 digits (no overflow); NULL if none. */
static const char *number(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (++digits > 19)
            return NULL;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    *out = v;
    return digits ? p : NULL;
}

weft__range_kind weft__static_range(const char *range, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!range)
        return WEFT__RANGE_WHOLE;
    const char *p = range;
    while (ows(*p))
        p++;
    if (strncasecmp(p, "bytes", 5) != 0)
        return WEFT__RANGE_WHOLE;
    p += 5;
    while (ows(*p))
        p++;
    if (*p++ != '=')
        return WEFT__RANGE_WHOLE;
    while (ows(*p))
        p++;
    uint64_t a = 0, b = 0;
    bool suffix = *p == '-', open_end = false;
    if (suffix) {
        p = number(p + 1, &b);
        if (!p)
            return WEFT__RANGE_WHOLE;
    } else {
        p = number(p, &a);
        if (!p || *p++ != '-')
            return WEFT__RANGE_WHOLE;
        const char *q = number(p, &b);
        open_end = !q;
        if (q)
            p = q;
    }
    while (ows(*p))
        p++;
    if (*p) /* several ranges, or junk: the whole file */
        return WEFT__RANGE_WHOLE;
    if (suffix) {
        if (b == 0 || size == 0)
            return WEFT__RANGE_NONE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return WEFT__RANGE_PART;
    }
    if (!open_end && b < a)
        return WEFT__RANGE_WHOLE; /* invalid: ignored, as RFC 9110 says */
    if (a >= size)
        return WEFT__RANGE_NONE;
    *first = a;
    *last = open_end || b >= size ? size - 1 : b;
    return WEFT__RANGE_PART;
}

bool weft__static_if_range(const char *if_range, const char *etag, long long mtime)
{
    if (!if_range)
        return true;
    while (ows(*if_range))
        if_range++;
    if (if_range[0] == '"' || (if_range[0] == 'W' && if_range[1] == '/')) {
        size_t n = strlen(if_range);
        while (n > 0 && ows(if_range[n - 1]))
            n--;
        return if_range[0] == '"' && tag_equal(if_range, n, etag, false);
    }
    long long when;
    return weft_http_date_parse(if_range, &when) == 0 && when == mtime;
}
