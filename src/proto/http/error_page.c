/* SPDX-License-Identifier: MIT */
/* Error pages: a small HTML document naming the status, with the detail
 * escaped into it (twisted.web's ErrorPage). */
#include <stdio.h>
#include <string.h>

#include "http_int.h"

int weft__http_error_body(weft__http_buf *out, int status, const char *detail)
{
    char title[64];
    snprintf(title, sizeof title, "%d %s", status, weft_http_reason(status));
    static const char a[] = "<!DOCTYPE html>\n<html><head><title>", b[] = "</title></head>\n<body><h1>",
                      c[] = "</h1>\n<p>", d[] = "</p>\n</body></html>\n";
    weft__http_buf_add(out, a, sizeof a - 1);
    weft__http_buf_add_html(out, title, strlen(title));
    weft__http_buf_add(out, b, sizeof b - 1);
    weft__http_buf_add_html(out, title, strlen(title));
    if (detail) {
        weft__http_buf_add(out, c, sizeof c - 1);
        weft__http_buf_add_html(out, detail, strlen(detail));
    }
    weft__http_buf_add(out, d, sizeof d - 1);
    return out->failed ? WEFT_ENOMEM : 0;
}
