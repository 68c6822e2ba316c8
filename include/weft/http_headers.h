/* SPDX-License-Identifier: MIT */
/*
 * HTTP header lists (twisted.web's Headers): ordered (name, value) pairs,
 * names compared without regard to case, the same name allowed many times.
 * Names and values are copied in; what the getters return is borrowed from
 * the list and stays valid until the list changes or is freed.
 *
 * Shared by the server (request headers, response headers) and the client
 * agent. The status reason phrases live here too.
 */
#ifndef WEFT_HTTP_HEADERS_H
#define WEFT_HTTP_HEADERS_H

#include <stddef.h>

#include "base.h"

typedef struct weft_http_headers weft_http_headers;

/* An empty list, or NULL when out of memory. */
WEFT_API weft_http_headers *weft_http_headers_new(void);
WEFT_API void weft_http_headers_free(weft_http_headers *h);
/* A copy (NULL when out of memory); src may be NULL (an empty copy). */
WEFT_API weft_http_headers *weft_http_headers_copy(const weft_http_headers *src);

/* Appends a pair. Returns 0, WEFT_ENOMEM, or WEFT_EINVAL for a name that is
 * not an HTTP token or a value holding CR, LF or NUL (so nothing a caller
 * passes can split a header). */
WEFT_API int weft_http_headers_add(weft_http_headers *h, const char *name, const char *value);
WEFT_API int weft_http_headers_addn(weft_http_headers *h, const char *name, size_t name_len, const char *value,
                                    size_t value_len);
/* Replaces every pair named `name` with one (added at the end). */
WEFT_API int weft_http_headers_set(weft_http_headers *h, const char *name, const char *value);
/* Empties the list, keeping its memory for reuse. */
WEFT_API void weft_http_headers_clear(weft_http_headers *h);
/* Removes every pair named `name`; returns how many went. */
WEFT_API size_t weft_http_headers_remove(weft_http_headers *h, const char *name);

/* The first value of `name`, or NULL. */
WEFT_API const char *weft_http_headers_get(const weft_http_headers *h, const char *name);
/* How many pairs are named `name`. */
WEFT_API size_t weft_http_headers_count_of(const weft_http_headers *h, const char *name);
/* Whether some `name` header lists `token` among its comma-separated
 * elements, without regard to case ("Connection: keep-alive, Upgrade"). */
WEFT_API bool weft_http_headers_has_token(const weft_http_headers *h, const char *name, const char *token);

/* Iteration in order: pairs 0 .. count-1. */
WEFT_API size_t weft_http_headers_count(const weft_http_headers *h);
WEFT_API void weft_http_headers_at(const weft_http_headers *h, size_t i, const char **name, const char **value);

/* The standard reason phrase of a status code ("Not Found"), or "Unknown". */
WEFT_API const char *weft_http_reason(int status);

/* An HTTP date (RFC 9110 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT") for
 * a Unix time, into buf of at least 30 bytes; and back: 0, or WEFT_EINVAL
 * for text in none of the three forms RFC 9110 accepts. */
#define WEFT_HTTP_DATE_SIZE 30
WEFT_API void weft_http_date_format(long long unix_time, char buf[WEFT_HTTP_DATE_SIZE]);
WEFT_API int weft_http_date_parse(const char *text, long long *unix_time);

#endif
