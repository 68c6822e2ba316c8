/* SPDX-License-Identifier: MIT */
/* Cookies (http_cookie.h): the request's, parsed from its Cookie headers
 * on first use and kept with it, and Set-Cookie values for the response. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "form_int.h"
#include "http_int.h"

/* ---- reading ---- */

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

/* [*s, *e) without the whitespace around it */
static void trim(const char **s, const char **e)
{
    while (*s < *e && ows(**s))
        (*s)++;
    while (*e > *s && ows((*e)[-1]))
        (*e)--;
}

int weft__http_cookie_parse(weft_http_args *a, const char *header, size_t len, size_t max)
{
    /* Counted first, as in weft_http_args_parse: a limit costs a scan. */
    size_t count = 0, have = weft_http_args_count(a);
    const char *end = header + len;
    for (const char *p = header; p < end;) {
        const char *semi = memchr(p, ';', (size_t)(end - p)), *stop = semi ? semi : end, *s = p, *e = stop;
        trim(&s, &e);
        count += s < e;
        p = stop + 1;
    }
    if (count > max || have > max - count)
        return -E2BIG;
    for (const char *p = header; p < end;) {
        const char *semi = memchr(p, ';', (size_t)(end - p)), *stop = semi ? semi : end;
        const char *s = p, *e = stop;
        p = stop + 1;
        trim(&s, &e);
        if (s == e)
            continue;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        const char *ns = s, *ne = eq ? eq : s, *vs = eq ? eq + 1 : s, *ve = e;
        trim(&ns, &ne);
        trim(&vs, &ve);
        if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"')
            vs++, ve--;
        if (weft_http_args_add(a, ns, (size_t)(ne - ns), vs, (size_t)(ve - vs)) < 0)
            return WEFT_ENOMEM; /* some pairs added: the caller drops the list */
    }
    return 0;
}

int weft_http_request_cookies(weft_http_request *req, const weft_http_args **out)
{
    *out = NULL;
    weft__http_parsed *p = weft__http_parsed_of(req);
    if (!p)
        return WEFT_ENOMEM;
    if (!p->cookies && !p->cookies_err) {
        weft_http_args *a = weft_http_args_new();
        int rc = a ? 0 : WEFT_ENOMEM;
        const weft_http_headers *h = req->headers;
        for (size_t i = 0; rc == 0 && i < weft_http_headers_count(h); i++) {
            const char *name, *value;
            weft_http_headers_at(h, i, &name, &value);
            if (strcasecmp(name, "cookie") == 0)
                rc = weft__http_cookie_parse(a, value, strlen(value), WEFT_HTTP_ARGS_MAX);
        }
        if (rc < 0) {
            weft_http_args_free(a);
            if (rc != WEFT_ENOMEM)
                p->cookies_err = rc;
            return rc;
        }
        p->cookies = a;
    }
    *out = p->cookies;
    return p->cookies_err;
}

const char *weft_http_request_cookie(weft_http_request *req, const char *name)
{
    const weft_http_args *a;
    weft_http_request_cookies(req, &a);
    return weft_http_args_get(a, name, NULL);
}

/* ---- writing ---- */

/* RFC 6265 cookie-octet: printable US-ASCII but for '"', ',', ';', '\'. */
static bool cookie_octet(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
}

static bool valid_value(const char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') /* a quoted value is sent as it is */
        v++, n -= 2;
    for (size_t i = 0; i < n; i++)
        if (!cookie_octet((unsigned char)v[i]))
            return false;
    return true;
}

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!weft__http_is_tchar((unsigned char)*s))
            return false;
    return true;
}

/* RFC 6265 av-octet: any CHAR but controls and ';'. */
static bool valid_path(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == ';')
            return false;
    return true;
}

static bool valid_domain(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '.'))
            return false;
    return true;
}

int weft__http_cookie_format(weft__http_buf *out, const char *name, const char *value,
                             const weft_http_cookie_options *opts)
{
    static const weft_http_cookie_options none;
    const weft_http_cookie_options *o = opts ? opts : &none;
    if (!valid_name(name) || !valid_value(value) || (o->path && !valid_path(o->path)) ||
        (o->domain && !valid_domain(o->domain)) || o->same_site > WEFT_HTTP_SAME_SITE_NONE ||
        (o->same_site == WEFT_HTTP_SAME_SITE_NONE && !o->secure))
        return WEFT_EINVAL;
    /* What browsers require of the prefixes (RFC 6265bis §4.1.3). */
    if (strncmp(name, "__Secure-", 9) == 0 && !o->secure)
        return WEFT_EINVAL;
    if (strncmp(name, "__Host-", 7) == 0 && (!o->secure || o->domain || !o->path || strcmp(o->path, "/") != 0))
        return WEFT_EINVAL;
    weft__http_buf_adds(out, name);
    weft__http_buf_adds(out, "=");
    weft__http_buf_adds(out, value);
    if (o->path) {
        weft__http_buf_adds(out, "; Path=");
        weft__http_buf_adds(out, o->path);
    }
    if (o->domain) {
        weft__http_buf_adds(out, "; Domain=");
        weft__http_buf_adds(out, o->domain);
    }
    if (o->expires) {
        char date[WEFT_HTTP_DATE_SIZE];
        weft_http_date_format(o->expires, date);
        weft__http_buf_adds(out, "; Expires=");
        weft__http_buf_adds(out, date);
    }
    if (o->max_age) {
        char age[32];
        snprintf(age, sizeof age, "; Max-Age=%lld", o->max_age < 0 ? 0 : o->max_age);
        weft__http_buf_adds(out, age);
    }
    if (o->secure)
        weft__http_buf_adds(out, "; Secure");
    if (o->http_only)
        weft__http_buf_adds(out, "; HttpOnly");
    static const char *const same_site[] = {NULL, "; SameSite=Strict", "; SameSite=Lax", "; SameSite=None"};
    if (same_site[o->same_site])
        weft__http_buf_adds(out, same_site[o->same_site]);
    return 0;
}

int weft_http_reply_set_cookie(weft_http_request *req, const char *name, const char *value,
                               const weft_http_cookie_options *opts)
{
    if (weft_http_reply_started(req))
        return -EALREADY;
    weft__http_buf b = {0};
    int rc = weft__http_cookie_format(&b, name, value, opts);
    if (rc == 0)
        rc = b.failed ? WEFT_ENOMEM : weft_http_reply_add_header(req, "Set-Cookie", b.data);
    weft__http_buf_free(&b);
    return rc;
}
