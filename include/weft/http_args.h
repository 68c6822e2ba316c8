/* SPDX-License-Identifier: MIT */
/*
 * Arguments: the name=value pairs of a query string or of an
 * application/x-www-form-urlencoded body (Twisted's request.args, Python's
 * urllib.parse.parse_qsl), as an ordered multimap: every pair is kept, in
 * the order it came, so a name given three times has three values.
 *
 *     // GET /find?path=%2Ftmp&tag=a&tag=b
 *     const char *path = weft_http_request_arg(req, "path", NULL);   // "/tmp", or NULL
 *     size_t ntags = weft_http_args_count_of(args, "tag");           // 2
 *     const char *second = weft_http_args_get_nth(args, "tag", 1, NULL); // "b"
 *
 * Parsing follows the WHATWG URL standard's urlencoded parser: the text is
 * split on '&' (not ';'); empty pieces are skipped ("a&&b" is two pairs); a
 * piece is split at its first '=' (a piece with none is a name with the
 * value ""; "=c" is the name "" with the value "c"); '+' is a space and
 * %XX escapes are decoded in names and values alike (weft_http_percent_decode
 * with WEFT_HTTP_PERCENT_PLUS: malformed escapes are kept as they are, as
 * Python's parse_qsl keeps them). So "a&b=&=c" is ("a", ""), ("b", ""),
 * ("", "c"). Bytes are not checked to be UTF-8, and a decoded name or value
 * may hold NUL ("%00"): the lengths are the truth; every name and value is
 * also NUL-terminated for code that wants C strings.
 *
 * Limits: a parse that would leave more than `max` pairs in the list adds
 * none and fails with -E2BIG (Python's max_num_fields), before allocating
 * anything for them, so a query of a million '&' costs a scan, not a
 * million entries.
 *
 * Ownership: a list owns copies of its names and values; what the getters
 * return is borrowed and valid until the list changes or is freed. The
 * request's list belongs to the request (valid as long as it is), and
 * grows only when weft_http_request_read_form (http_form.h) adds the body's
 * fields.
 */
#ifndef WEFT_HTTP_ARGS_H
#define WEFT_HTTP_ARGS_H

#include <stddef.h>

#include "base.h"
#include "http_server.h"

typedef struct weft_http_args weft_http_args;

/* The default limit on the pairs of a list (Django's and Python's 1000). */
#define WEFT_HTTP_ARGS_MAX 1000

/* An empty list, or NULL when out of memory. */
WEFT_API weft_http_args *weft_http_args_new(void);
/* NULL does nothing. */
WEFT_API void weft_http_args_free(weft_http_args *a);

/*
 * Parses len bytes of urlencoded text (a query without its '?', or a form
 * body) and appends its pairs. max is the most pairs the list may hold
 * afterwards (0: WEFT_HTTP_ARGS_MAX). Returns 0, -E2BIG (nothing added) or
 * WEFT_ENOMEM (nothing added).
 */
WEFT_API int weft_http_args_parse(weft_http_args *a, const char *text, size_t len, size_t max);
/* Appends one pair (copied; no decoding). 0 or WEFT_ENOMEM. */
WEFT_API int weft_http_args_add(weft_http_args *a, const char *name, size_t name_len, const char *value,
                                size_t value_len);

/* The pairs in order, 0 .. count - 1; any out pointer may be NULL. */
WEFT_API size_t weft_http_args_count(const weft_http_args *a);
WEFT_API void weft_http_args_at(const weft_http_args *a, size_t i, const char **name, size_t *name_len,
                                const char **value, size_t *value_len);

/* Lookups by name (exact bytes: case matters, and a name holding NUL
 * matches no C string). a may be NULL (an empty list). */
/* The first value of name, or NULL; its length in *len when len is not NULL. */
WEFT_API const char *weft_http_args_get(const weft_http_args *a, const char *name, size_t *len);
/* How many values name has. */
WEFT_API size_t weft_http_args_count_of(const weft_http_args *a, const char *name);
/* The n-th value of name (from 0), or NULL. */
WEFT_API const char *weft_http_args_get_nth(const weft_http_args *a, const char *name, size_t n, size_t *len);

/* The list as urlencoded text ("a=1&b=x+y", WEFT_HTTP_PERCENT_FORM), for
 * a query or a form body: weft_malloc'd, NUL-terminated, its length in
 * *len (may be NULL); the caller frees it with weft_free. Parsing it gives
 * the same pairs. NULL when out of memory. */
WEFT_API char *weft_http_args_encode(const weft_http_args *a, size_t *len);

/* ---- the request's ---- */

/*
 * The request's arguments: its query's pairs (at most WEFT_HTTP_ARGS_MAX;
 * for more, parse weft_http_request_query yourself), followed by its form
 * body's once weft_http_request_read_form has read it - both kept, the
 * query's first, where Twisted's dict would keep only the body's. Parsed
 * on the first call and kept with the request. Returns 0 with *out set (an
 * empty list when there is no query), -E2BIG when the query has more pairs
 * than the limit, or WEFT_ENOMEM; the same answer every time.
 */
WEFT_API int weft_http_request_args(weft_http_request *req, const weft_http_args **out);
/* The first value of the argument `name`, or NULL when there is none (or
 * when weft_http_request_args fails: call it to tell the two apart). */
WEFT_API const char *weft_http_request_arg(weft_http_request *req, const char *name, size_t *len);

#endif
