/* SPDX-License-Identifier: MIT */
/*
 * Header values with parameters (RFC 9110 §5.6.6): Content-Type's
 * "multipart/form-data; boundary=x" and a part's Content-Disposition
 * "form-data; name="f"; filename="a.txt"".
 *
 * Quoted strings: a backslash escapes only '"' and '\' and is kept before
 * anything else, as Python's email package reads them, because browsers
 * send a filename's backslashes as they are ("C:\new.txt") and escape a
 * quote as %22 (HTML's multipart/form-data encoding), not with a backslash.
 */
#include <string.h>
#include <strings.h>

#include "form_int.h"
#include "weft/error.h"

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p)
{
    while (ows(*p))
        p++;
    return p;
}

static size_t token_len(const char *p)
{
    size_t n = 0;
    while (weft__http_is_tchar((unsigned char)p[n]))
        n++;
    return n;
}

const char *weft__http_param_type(const char *value, size_t *len)
{
    const char *p = skip_ows(value);
    size_t n = token_len(p);
    if (n && p[n] == '/') /* type "/" subtype */
        n += 1 + token_len(p + n + 1);
    if (!n || p[n - 1] == '/')
        return NULL;
    const char *after = skip_ows(p + n);
    if (*after && *after != ';')
        return NULL;
    *len = n;
    return p;
}

/* A quoted-string at p (after its opening quote): its end after the
 * closing quote, or NULL. With out, the unquoted bytes are appended. */
static const char *quoted(const char *p, weft__http_buf *out)
{
    for (;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c == '\\' && (p[1] == '"' || p[1] == '\\'))
            c = (unsigned char)*++p;
        else if (c < 0x20 ? c != '\t' : c == 0x7f) /* NUL (the end) and controls */
            return NULL;
        if (out)
            weft__http_buf_add(out, &c, 1);
    }
}

long weft__http_param(const char *value, const char *name, weft__http_buf *out)
{
    size_t tlen;
    const char *p = weft__http_param_type(value, &tlen);
    if (!p)
        return WEFT_EINVAL;
    p = skip_ows(p + tlen);
    size_t want = strlen(name);
    long found = -ENOENT;
    while (*p == ';') {
        p = skip_ows(p + 1);
        if (!*p || *p == ';')
            continue; /* an empty parameter */
        size_t n = token_len(p);
        if (!n || p[n] != '=')
            return WEFT_EINVAL;
        bool match = n == want && strncasecmp(p, name, n) == 0;
        if (match && found >= 0)
            return WEFT_EINVAL;
        weft__http_buf *to = match ? out : NULL;
        size_t start = out->len;
        p += n + 1;
        if (*p == '"') {
            p = quoted(p + 1, to);
            if (!p)
                return WEFT_EINVAL;
        } else {
            size_t v = token_len(p);
            if (!v)
                return WEFT_EINVAL;
            if (to)
                weft__http_buf_add(to, p, v);
            p += v;
        }
        if (match) {
            weft__http_buf_add(out, "", 0); /* the NUL, even for an empty value */
            if (out->failed)
                return WEFT_ENOMEM;
            out->len++; /* past the NUL: the next value starts after it */
            found = (long)start;
        }
        p = skip_ows(p);
        if (*p && *p != ';')
            return WEFT_EINVAL;
    }
    return found;
}
