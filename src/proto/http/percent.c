/* SPDX-License-Identifier: MIT */
/* Percent-encoding and decoding (http_percent.h): the HTTP layer's one
 * encoder and one decoder, used for paths, listings, query and form
 * arguments alike. */
#include <stdint.h>

#include "weft/http_percent.h"

static bool kept(unsigned char c, weft_http_percent_set set)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (set) {
    case WEFT_HTTP_PERCENT_UNRESERVED:
        return c == '-' || c == '.' || c == '_' || c == '~';
    case WEFT_HTTP_PERCENT_PATH_SEGMENT:
        switch (c) {
        case '-': case '.': case '_': case '~':                                     /* unreserved */
        case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+':
        case ',': case ';': case '=':                                               /* sub-delims */
        case ':': case '@':
            return true;
        default:
            return false;
        }
    case WEFT_HTTP_PERCENT_COMPONENT:
        switch (c) {
        case '-': case '.': case '_': case '~': case '!': case '\'': case '(': case ')': case '*':
            return true;
        default:
            return false;
        }
    case WEFT_HTTP_PERCENT_FORM:
        return c == '*' || c == '-' || c == '.' || c == '_';
    }
    return false;
}

size_t weft_http_percent_encode(char *dst, size_t size, const void *src, size_t len, weft_http_percent_set set)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = src;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        char esc[3];
        size_t n = 1;
        if (kept(c, set)) {
            esc[0] = (char)c;
        } else if (c == ' ' && set == WEFT_HTTP_PERCENT_FORM) {
            esc[0] = '+';
        } else {
            esc[0] = '%';
            esc[1] = hex[c >> 4];
            esc[2] = hex[c & 15];
            n = 3;
        }
        /* Whole escapes only: a truncated result never ends in "%4". */
        if (o + n < size)
            for (size_t k = 0; k < n; k++)
                dst[o + k] = esc[k];
        else if (o < size)
            size = o + 1; /* nothing more fits; later, shorter escapes must not either */
        o += n;
    }
    if (size)
        dst[o < size ? o : size - 1] = '\0';
    return o;
}

static int hex_digit(unsigned char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

size_t weft_http_percent_decode(char *dst, const void *src, size_t len, unsigned flags)
{
    const unsigned char *s = src;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && len - i > 2 && (hi = hex_digit(s[i + 1])) >= 0 && (lo = hex_digit(s[i + 2])) >= 0) {
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (s[i] == '+' && (flags & WEFT_HTTP_PERCENT_PLUS)) {
            dst[o++] = ' ';
        } else {
            dst[o++] = (char)s[i];
        }
    }
    return o;
}
