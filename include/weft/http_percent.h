/* SPDX-License-Identifier: MIT */
/*
 * Percent-encoding (RFC 3986 §2.1, the WHATWG URL standard's percent-encode
 * sets, application/x-www-form-urlencoded), as Python's urllib.parse quote,
 * quote_plus, unquote and unquote_plus.
 *
 * Both functions work on the caller's buffers and allocate nothing; bytes
 * are bytes (NUL included), so lengths are given, not found.
 *
 *     char q[64];
 *     size_t n = weft_http_percent_encode(q, sizeof q, "a b&c", 5, WEFT_HTTP_PERCENT_FORM);
 *     // q = "a+b%26c", n = 7; had q been too small, n would say how much was needed
 *
 * The HTTP server itself decodes request path segments with the same
 * decoder (weft_http_request_postpath), and query and form arguments with
 * the '+' rule (http_args.h).
 */
#ifndef WEFT_HTTP_PERCENT_H
#define WEFT_HTTP_PERCENT_H

#include <stddef.h>

#include "base.h"

/* Which bytes stay as they are; every other byte becomes %XX (upper-case
 * hex). ALPHA and DIGIT are kept by every set. */
typedef enum weft_http_percent_set {
    /* RFC 3986 unreserved: keeps - . _ ~ only (Python's quote(s, safe="")). */
    WEFT_HTTP_PERCENT_UNRESERVED,
    /* One path segment (RFC 3986 pchar): keeps unreserved, the sub-delims
     * ! $ & ' ( ) * + , ; = and : @; encodes '/', '?', '#', '%'. */
    WEFT_HTTP_PERCENT_PATH_SEGMENT,
    /* The WHATWG component percent-encode set (JavaScript's
     * encodeURIComponent): keeps unreserved and ! ' ( ) *. */
    WEFT_HTTP_PERCENT_COMPONENT,
    /* A name or value of application/x-www-form-urlencoded, as browsers
     * and URLSearchParams send it (the WHATWG serializer): keeps * - . _,
     * writes space as '+' (Python's quote_plus differs: it keeps '~' and
     * encodes '*'). */
    WEFT_HTTP_PERCENT_FORM,
} weft_http_percent_set;

/*
 * Encodes len bytes of src into dst as snprintf does: at most size - 1
 * bytes and a terminating NUL (nothing when size is 0). Returns the length
 * of the whole encoding (without the NUL) - at most 3 * len -, so a result
 * >= size means dst was too small and holds a truncated prefix (never a
 * split escape). dst and src must not overlap.
 */
WEFT_API size_t weft_http_percent_encode(char *dst, size_t size, const void *src, size_t len, weft_http_percent_set set);

/* decode flags */
enum {
    /* '+' decodes to a space (application/x-www-form-urlencoded, Python's
     * unquote_plus); otherwise '+' is kept. */
    WEFT_HTTP_PERCENT_PLUS = 1u << 0,
};

/*
 * Decodes len bytes of src into dst, which has room for len bytes (the
 * decoding is never longer); dst may be src itself (decoding in place).
 * Returns the decoded length; no NUL is added, and "%00" decodes to a NUL.
 * A '%' not followed by two hex digits is kept as it is, with what follows
 * ("%zz" stays "%zz", "100%" stays "100%"), as the WHATWG URL standard and
 * Python's unquote do. No check that the result is UTF-8.
 */
WEFT_API size_t weft_http_percent_decode(char *dst, const void *src, size_t len, unsigned flags);

#endif
