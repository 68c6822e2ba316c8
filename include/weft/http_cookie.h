/* SPDX-License-Identifier: MIT */
/*
 * Cookies (RFC 6265): those a request carries (Twisted's
 * request.getCookie and received_cookies), and those a response sets
 * (request.addCookie).
 *
 *     const char *sid = weft_http_request_cookie(req, "sid");     // or NULL
 *     weft_http_reply_set_cookie(req, "sid", "31d4d96e407aad42",
 *                                &(weft_http_cookie_options){.path = "/", .secure = true,
 *                                                            .http_only = true,
 *                                                            .same_site = WEFT_HTTP_SAME_SITE_LAX});
 *     weft_http_reply_set_cookie(req, "old", "", &(weft_http_cookie_options){.max_age = -1}); // delete
 *
 * Reading follows what browsers send (RFC 6265 §5.4) and takes what other
 * clients send too: every Cookie header, in order; pairs split on ';',
 * whitespace trimmed, split at the first '='; a value in double quotes
 * loses them ("a=\"b\"" is a=b); a piece with no '=' is a value with the
 * name "" (RFC 6265bis, as browsers send a cookie set without a name).
 * Names are compared byte for byte (case matters); values are not decoded.
 *
 * Writing refuses what could break the header or be read differently by
 * browsers, rather than mending it: a name that is not a token, a value
 * outside RFC 6265's cookie-octets (no space, '"', ',', ';', '\' or
 * control: percent-encode such values first, WEFT_HTTP_PERCENT_COMPONENT
 * leaves only cookie-octets), a Path with a control or ';', a Domain other
 * than letters, digits, '-' and '.', SameSite=None without Secure, and the
 * __Secure- and __Host- prefixes without what browsers require of them
 * (Secure; and for __Host-, Path=/ and no Domain). Each cookie is its own
 * Set-Cookie header: they are never folded into one.
 */
#ifndef WEFT_HTTP_COOKIE_H
#define WEFT_HTTP_COOKIE_H

#include "http_args.h"
#include "http_server.h"

/* The first value of the request's cookie `name`, or NULL (none, or
 * weft_http_request_cookies failed). Borrowed from the request. */
WEFT_API const char *weft_http_request_cookie(weft_http_request *req, const char *name);
/* All the request's cookies, in order, as an argument list (http_args.h)
 * kept with the request: 0 with *out set, -E2BIG past WEFT_HTTP_ARGS_MAX
 * pairs, or WEFT_ENOMEM. */
WEFT_API int weft_http_request_cookies(weft_http_request *req, const weft_http_args **out);

typedef enum weft_http_same_site {
    WEFT_HTTP_SAME_SITE_UNSET, /* no SameSite attribute (browsers take Lax) */
    WEFT_HTTP_SAME_SITE_STRICT,
    WEFT_HTTP_SAME_SITE_LAX,
    WEFT_HTTP_SAME_SITE_NONE, /* needs secure */
} weft_http_same_site;

/* Every field's 0 (or NULL) means the attribute is not sent. */
typedef struct weft_http_cookie_options {
    const char *path;
    const char *domain;
    /* Expires, as a Unix time (sent as an HTTP date). */
    long long expires;
    /* Max-Age in seconds; negative sends Max-Age=0 (delete it now), as Go's
     * MaxAge < 0. */
    long long max_age;
    bool secure;
    bool http_only;
    weft_http_same_site same_site;
} weft_http_cookie_options;

/*
 * Adds a Set-Cookie header for name=value with the attributes of opts
 * (NULL: none) to the response. Returns 0, WEFT_EINVAL for what the top of
 * this file refuses (nothing added), -EALREADY once the headers have gone
 * out, or WEFT_ENOMEM.
 */
WEFT_API int weft_http_reply_set_cookie(weft_http_request *req, const char *name, const char *value,
                                        const weft_http_cookie_options *opts);

#endif
