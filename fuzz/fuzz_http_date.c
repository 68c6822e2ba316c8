/* SPDX-License-Identifier: MIT */
/*
 * HTTP dates (If-Modified-Since and friends come from the network): any
 * text parses or is refused, and what parses formats back to a date that
 * parses to the same time.
 */
#include <stdlib.h>
#include <string.h>

#include "weft/http_headers.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char text[128];
    if (size >= sizeof text)
        size = sizeof text - 1;
    memcpy(text, data, size);
    text[size] = '\0';
    long long t;
    if (weft_http_date_parse(text, &t) != 0)
        return 0;
    if (t < 0 || t > 253402300799LL) /* outside years 1970..9999 the format clamps */
        return 0;
    char again[WEFT_HTTP_DATE_SIZE];
    weft_http_date_format(t, again);
    long long t2;
    if (weft_http_date_parse(again, &t2) != 0 || t2 != t)
        abort();
    return 0;
}
