/* SPDX-License-Identifier: MIT */
/* Error pages: a small HTML document naming the status, with the detail
 * escaped into it (twisted.web's ErrorPage). */
#include <stdio.h>
#include <string.h>

#include "http_int.h"

static int escaped(weft__http_buf *out, const char *s)
{
    int rc = 0;
    for (; *s && rc == 0; s++) {
        switch (*s) {
        case '<': rc = weft__http_buf_append(out, "&lt;", 4); break;
        case '>': rc = weft__http_buf_append(out, "&gt;", 4); break;
        case '&': rc = weft__http_buf_append(out, "&amp;", 5); break;
        case '"': rc = weft__http_buf_append(out, "&quot;", 6); break;
        case '\'': rc = weft__http_buf_append(out, "&#39;", 5); break;
        default: rc = weft__http_buf_append(out, s, 1); break;
        }
    }
    return rc;
}

int weft__http_error_body(weft__http_buf *out, int status, const char *detail)
{
    char title[64];
    snprintf(title, sizeof title, "%d %s", status, weft_http_reason(status));
    int rc = 0;
    static const char a[] = "<!DOCTYPE html>\n<html><head><title>", b[] = "</title></head>\n<body><h1>",
                      c[] = "</h1>\n<p>", d[] = "</p>\n</body></html>\n";
    rc |= weft__http_buf_append(out, a, sizeof a - 1);
    rc |= escaped(out, title);
    rc |= weft__http_buf_append(out, b, sizeof b - 1);
    rc |= escaped(out, title);
    if (detail) {
        rc |= weft__http_buf_append(out, c, sizeof c - 1);
        rc |= escaped(out, detail);
    }
    rc |= weft__http_buf_append(out, d, sizeof d - 1);
    return rc ? WEFT_ENOMEM : 0;
}
