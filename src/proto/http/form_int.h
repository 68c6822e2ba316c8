/* SPDX-License-Identifier: MIT */
/*
 * What the request's arguments, forms and cookies share (args.c, form.c,
 * multipart.c, cookie.c). Private.
 *
 * A request parses its query, form body and cookies only when a handler
 * asks, and keeps the results in one weft__http_parsed, made on first use
 * and freed with the request (or when a kept request is reset).
 */
#ifndef WEFT_HTTP_FORM_INT_H
#define WEFT_HTTP_FORM_INT_H

#include "buf.h"
#include "weft/http_args.h"
#include "weft/http_cookie.h"
#include "weft/http_headers.h"

struct weft__http_parsed {
    weft_http_args *args; /* query, then body fields; NULL until asked */
    int args_err;         /* why the query could not be parsed */
    weft_http_args *cookies;
    int cookies_err;
    bool form_started; /* read_form has been called */
};
typedef struct weft__http_parsed weft__http_parsed;

/* The request's, made on first use; NULL when out of memory. */
weft__http_parsed *weft__http_parsed_of(weft_http_request *req);

/* ---- param.c: header values with parameters ---- */

/* The leading token of a header value with parameters ("form-data" of
 * "form-data; name=x", "multipart/form-data" of a Content-Type), its
 * length in *len; it is followed by nothing, or OWS and ';'. NULL when the
 * value does not start that way. */
const char *weft__http_param_type(const char *value, size_t *len);
/*
 * The parameter `name` (without regard to case) of such a value: its
 * value, unquoted (a quoted-string's quoted-pairs undone), appended to out
 * NUL-terminated. Returns its offset in out, -ENOENT when absent,
 * WEFT_EINVAL when the parameters are malformed or name appears twice (two
 * parsers could read two different values), WEFT_ENOMEM.
 */
long weft__http_param(const char *value, const char *name, weft__http_buf *out);

/* ---- multipart.c: the parser, without I/O (fuzz_http_multipart drives it) ---- */

typedef struct weft__http_mp weft__http_mp;

typedef struct weft__http_mp_limits {
    size_t max_parts;        /* parts, file or not */
    size_t max_header_bytes; /* one part's header block */
} weft__http_mp_limits;

/* What a part's headers say, borrowed for the part_begin call. */
typedef struct weft__http_mp_part {
    const weft_http_headers *headers;
    const char *name;     /* Content-Disposition's name (required) */
    const char *filename; /* its filename, or NULL when none was given */
    const char *content_type; /* NULL when none was given */
} weft__http_mp_part;

/* The callbacks return 0 to go on, WEFT__MP_LATER when they cannot take
 * this now (the parser stops there and gives the same call again on the
 * next feed), or a negative code to fail the parse with. */
enum { WEFT__MP_LATER = 1 };
typedef struct weft__http_mp_ops {
    int (*part_begin)(void *arg, const weft__http_mp_part *part);
    int (*part_data)(void *arg, const char *data, size_t len);
    int (*part_end)(void *arg);
} weft__http_mp_ops;

/* A parser for the body of a Content-Type value ("multipart/form-data;
 * boundary=..."); NULL with *err set (WEFT_EINVAL for a missing or bad
 * boundary, with *why saying which) or WEFT_ENOMEM. */
weft__http_mp *weft__http_mp_new(const char *content_type, const weft__http_mp_limits *lim, const weft__http_mp_ops *ops,
                                  void *arg, int *err, const char **why);
void weft__http_mp_free(weft__http_mp *m);
/* Parses what it can of len bytes: returns how many it took (fewer when a
 * callback said LATER: give the rest again), or a negative code, with the
 * reason in *why (static text). After an error the parser takes nothing
 * more. */
long weft__http_mp_feed(weft__http_mp *m, const char *data, size_t len, const char **why);
/* The body ended: 0 when the close delimiter was seen, WEFT__MP_LATER when
 * a part_end is still owed (feed again with no bytes), or an error. */
int weft__http_mp_finish(weft__http_mp *m, const char **why);

/* ---- cookie.c ---- */

/* Appends the pairs of one Cookie header value (the rules at the top of
 * http_cookie.h), as long as the list holds at most max pairs: 0, -E2BIG
 * (nothing added) or WEFT_ENOMEM (some may have been). */
int weft__http_cookie_parse(weft_http_args *a, const char *header, size_t len, size_t max);
/* The Set-Cookie value for name, value and opts (NULL: none), appended to
 * out: 0, or WEFT_EINVAL (nothing appended) for what http_cookie.h
 * refuses; out->failed says when memory ran out. */
int weft__http_cookie_format(weft__http_buf *out, const char *name, const char *value,
                             const weft_http_cookie_options *opts);

#endif
