/* SPDX-License-Identifier: MIT */
/*
 * Cookie headers (what a request carries) and Set-Cookie values (what a
 * reply sets). Any header parses (or hits the pair limit, adding nothing);
 * a cookie the formatter accepts makes a header value the header list
 * accepts (no CR, LF or NUL can slip in), and reads back as itself.
 *
 * Input: a Cookie header; then, after a NUL, a name, value, path and
 * domain separated by NULs, and a byte of flags.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/proto/http/form_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void set_cookie(const char *v[4], unsigned flags)
{
    weft_http_cookie_options o = {
        .path = flags & 1 ? v[2] : NULL,
        .domain = flags & 2 ? v[3] : NULL,
        .expires = flags & 4 ? 1445412480 : 0,
        .max_age = flags & 8 ? -1 : flags & 16 ? 3600 : 0,
        .secure = flags & 32,
        .http_only = flags & 64,
        .same_site = (weft_http_same_site)((flags >> 7) & 3),
    };
    weft__http_buf b = {0};
    int rc = weft__http_cookie_format(&b, v[0], v[1], flags & 0x100 ? NULL : &o);
    if (rc != 0 && rc != WEFT_EINVAL)
        abort();
    if (rc == WEFT_EINVAL && b.len)
        abort(); /* a refusal appends nothing */
    if (rc == 0 && !b.failed) {
        weft_http_headers *h = weft_http_headers_new();
        if (h && weft_http_headers_add(h, "Set-Cookie", b.data) != 0)
            abort();
        weft_http_headers_free(h);
        /* name=value reads back as the pair (quotes dropped) */
        size_t nv = strlen(v[0]) + 1 + strlen(v[1]);
        weft_http_args *a = weft_http_args_new();
        if (a && weft__http_cookie_parse(a, b.data, nv, 10) == 0) {
            const char *name, *value;
            size_t vl = strlen(v[1]);
            const char *want = v[1];
            if (vl >= 2 && want[0] == '"' && want[vl - 1] == '"')
                want++, vl -= 2;
            weft_http_args_at(a, 0, &name, NULL, &value, NULL);
            if (weft_http_args_count(a) != 1 || strcmp(name, v[0]) != 0 || strlen(value) != vl ||
                memcmp(value, want, vl) != 0)
                abort();
        }
        weft_http_args_free(a);
    }
    weft__http_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t hlen = strlen(text);

    weft_http_args *a = weft_http_args_new();
    if (a) {
        int rc = weft__http_cookie_parse(a, text, hlen, 20);
        if (rc == -E2BIG && weft_http_args_count(a))
            abort();
        if (rc == 0) {
            for (size_t i = 0; i < weft_http_args_count(a); i++) {
                const char *name, *value;
                size_t nl, vl;
                weft_http_args_at(a, i, &name, &nl, &value, &vl);
                /* trimmed, and never holding the separator */
                if ((nl && (name[0] == ' ' || name[nl - 1] == ' ')) || memchr(name, ';', nl) || memchr(value, ';', vl))
                    abort();
            }
        }
        weft_http_args_free(a);
    }

    const char *v[4] = {"", "", "", ""};
    size_t i = hlen + 1, nv = 0;
    while (i < size && nv < 4) {
        v[nv++] = text + i;
        i += strlen(text + i) + 1;
    }
    unsigned flags = i < size ? (unsigned char)text[i] | (i + 1 < size ? (unsigned char)text[i + 1] << 8 : 0) : 0;
    set_cookie(v, flags);
    free(text);
    return 0;
}
