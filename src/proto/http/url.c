/* SPDX-License-Identifier: MIT */
/*
 * http(s) URLs for the client: parsed strictly (anything odd is refused
 * rather than guessed at), resolved against a base for Location, and
 * turned into the endpoint string and Host header that reach them.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

static char *dup_n(const char *s, size_t n)
{
    char *p = weft_malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Bytes a URL may hold: printable ASCII, no space (RFC 3986 leaves out
 * '"<>\^`{|}' too, but servers and browsers pass them; they cannot split
 * a request line). */
static bool url_byte_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

static bool host_byte_ok(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

/* Length of a scheme ("http:") at s, 0 when s has none. */
static size_t scheme_len(const char *s)
{
    if (!is_alpha(s[0]))
        return 0;
    size_t i = 1;
    while (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    return s[i] == ':' ? i : 0;
}

int weft__hc_url_parse(const char *url, weft__hc_url *out)
{
    *out = (weft__hc_url){0};
    for (const char *c = url; *c; c++)
        if (!url_byte_ok((unsigned char)*c))
            return WEFT_EINVAL;
    size_t sl = scheme_len(url);
    bool https;
    if (sl == 4 && strncasecmp(url, "http", 4) == 0)
        https = false;
    else if (sl == 5 && strncasecmp(url, "https", 5) == 0)
        https = true;
    else
        return WEFT_EINVAL;
    const char *s = url + sl + 1;
    if (strncmp(s, "//", 2) != 0)
        return WEFT_EINVAL;
    s += 2;
    size_t alen = strcspn(s, "/?#");
    const char *auth = s, *rest = s + alen;
    if (memchr(auth, '@', alen))
        return WEFT_EINVAL; /* credentials in URLs: refused, not sent */
    const char *host, *port_at;
    size_t hlen;
    if (alen && auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close)
            return WEFT_EINVAL;
        host = auth + 1;
        hlen = (size_t)(close - host);
        char tmp[INET6_ADDRSTRLEN];
        unsigned char bin[16];
        if (hlen == 0 || hlen >= sizeof tmp)
            return WEFT_EINVAL;
        memcpy(tmp, host, hlen);
        tmp[hlen] = 0;
        if (inet_pton(AF_INET6, tmp, bin) != 1)
            return WEFT_EINVAL;
        port_at = close + 1;
    } else {
        host = auth;
        hlen = strcspn(auth, ":/?#");
        if (hlen > alen)
            hlen = alen;
        for (size_t i = 0; i < hlen; i++)
            if (!host_byte_ok(host[i]))
                return WEFT_EINVAL;
        port_at = host + hlen;
    }
    if (hlen == 0 || hlen > 253)
        return WEFT_EINVAL;
    int port = https ? 443 : 80;
    if (port_at < rest) {
        if (*port_at != ':')
            return WEFT_EINVAL;
        port_at++;
        if (port_at < rest) {
            long n = 0;
            for (const char *c = port_at; c < rest; c++) {
                if (!is_digit(*c) || n > 65535)
                    return WEFT_EINVAL;
                n = n * 10 + (*c - '0');
            }
            if (n < 1 || n > 65535)
                return WEFT_EINVAL;
            port = (int)n;
        }
    }
    size_t tlen = strcspn(rest, "#");
    out->https = https;
    out->port = port;
    out->host = dup_n(host, hlen);
    if (tlen == 0 || rest[0] == '?') {
        weft__http_buf b = {0};
        weft__http_buf_adds(&b, "/");
        weft__http_buf_add(&b, rest, tlen);
        out->target = weft__http_buf_take(&b);
    } else {
        out->target = dup_n(rest, tlen);
    }
    if (!out->host || !out->target) {
        weft__hc_url_clear(out);
        return WEFT_ENOMEM;
    }
    return 0;
}

void weft__hc_url_clear(weft__hc_url *u)
{
    weft_free(u->host);
    weft_free(u->target);
    *u = (weft__hc_url){0};
}

static bool is_ipv6(const char *host)
{
    return strchr(host, ':') != NULL;
}

static void add_authority(weft__http_buf *b, const weft__hc_url *u)
{
    if (is_ipv6(u->host)) {
        weft__http_buf_adds(b, "[");
        weft__http_buf_adds(b, u->host);
        weft__http_buf_adds(b, "]");
    } else {
        weft__http_buf_adds(b, u->host);
    }
    if (u->port != (u->https ? 443 : 80)) {
        char port[16];
        snprintf(port, sizeof port, ":%d", u->port);
        weft__http_buf_adds(b, port);
    }
}

char *weft__hc_url_string(const weft__hc_url *u)
{
    weft__http_buf b = {0};
    weft__http_buf_adds(&b, u->https ? "https://" : "http://");
    add_authority(&b, u);
    weft__http_buf_adds(&b, u->target);
    return weft__http_buf_take(&b);
}

char *weft__hc_url_host_header(const weft__hc_url *u)
{
    weft__http_buf b = {0};
    add_authority(&b, u);
    return weft__http_buf_take(&b);
}

/* Endpoint strings escape ':' '=' and '\' with '\'. */
static void add_escaped(weft__http_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == ':' || *s == '=' || *s == '\\')
            weft__http_buf_add(b, "\\", 1);
        weft__http_buf_add(b, s, 1);
    }
}

char *weft__hc_url_endpoint(const weft__hc_url *u, double timeout)
{
    weft__http_buf b = {0};
    char tail[64];
    weft__http_buf_adds(&b, "tcp:host=");
    add_escaped(&b, u->host);
    snprintf(tail, sizeof tail, ":port=%d:timeout=%g", u->port, timeout);
    weft__http_buf_adds(&b, tail);
    return weft__http_buf_take(&b);
}

/* The value of key=VALUE (or of the positional field number `positional`)
 * in an endpoint string, unescaped; NULL if absent. */
static char *endpoint_param(const char *ep, const char *key, size_t positional)
{
    size_t klen = strlen(key), pos = 0;
    const char *s = strchr(ep, ':');
    while (s) {
        s++; /* past the ':' starting this field */
        weft__http_buf b = {0};
        const char *c = s;
        bool has_eq = false;
        for (; *c && *c != ':'; c++) {
            if (*c == '\\' && c[1])
                c++;
            else if (*c == '=')
                has_eq = true;
            weft__http_buf_add(&b, c, 1);
        }
        char *v = weft__http_buf_take(&b);
        if (v && strncmp(s, key, klen) == 0 && s[klen] == '=') {
            char *val = dup_n(v + klen + 1, strlen(v) - klen - 1);
            weft_free(v);
            return val;
        }
        if (!has_eq && pos++ == positional)
            return v;
        weft_free(v);
        s = *c ? c : NULL;
    }
    return NULL;
}

char *weft__hc_endpoint_host(const char *endpoint)
{
    size_t kl = strcspn(endpoint, ":");
    bool tls = (kl == 3 && (strncasecmp(endpoint, "tls", 3) == 0 || strncasecmp(endpoint, "ssl", 3) == 0));
    bool tcp = kl == 3 && strncasecmp(endpoint, "tcp", 3) == 0;
    if (!tls && !tcp)
        return weft_strdup("localhost");
    char *host = endpoint_param(endpoint, "host", 0);
    char *port = endpoint_param(endpoint, "port", 1);
    if (!host || !port) {
        weft_free(host);
        weft_free(port);
        return weft_strdup("localhost");
    }
    weft__hc_url u = {.https = tls, .host = host, .port = atoi(port)};
    char *h = weft__hc_url_host_header(&u);
    weft_free(host);
    weft_free(port);
    return h;
}

char *weft__hc_url_resolve(const char *base, const char *ref, bool *relative)
{
    weft__hc_url b;
    if (weft__hc_url_parse(base, &b) < 0)
        return NULL;
    size_t rlen = strcspn(ref, "#");
    weft__http_buf out = {0};
    bool rel = false;
    if (scheme_len(ref)) {
        weft__http_buf_add(&out, ref, rlen);
    } else if (strncmp(ref, "//", 2) == 0) {
        weft__http_buf_adds(&out, b.https ? "https:" : "http:");
        weft__http_buf_add(&out, ref, rlen);
    } else {
        rel = true;
        weft__http_buf_adds(&out, b.https ? "https://" : "http://");
        add_authority(&out, &b);
        size_t bpath = strcspn(b.target, "?");
        if (rlen == 0) {
            weft__http_buf_adds(&out, b.target);
        } else if (ref[0] == '?') {
            weft__http_buf_add(&out, b.target, bpath);
            weft__http_buf_add(&out, ref, rlen);
        } else {
            /* the merged path (section 5.2.3), then the reference's query */
            if (ref[0] != '/') {
                const char *slash = b.target;
                for (size_t i = 0; i < bpath; i++)
                    if (b.target[i] == '/')
                        slash = b.target + i;
                weft__http_buf_add(&out, b.target, (size_t)(slash - b.target) + 1);
            }
            weft__http_buf_add(&out, ref, rlen);
        }
    }
    weft__hc_url_clear(&b);
    char *s = weft__http_buf_take(&out);
    /* Parsed again: to check it, and to take the dots out of any path. */
    weft__hc_url u;
    int err = s ? weft__hc_url_parse(s, &u) : WEFT_ENOMEM;
    weft_free(s);
    if (err < 0)
        return NULL;
    /* The path shrinks in place; the query follows it down. */
    size_t plen = strcspn(u.target, "?"), qlen = strlen(u.target + plen), n = plen;
    s = NULL;
    if (weft__http_path_normalize(u.target, &n, NULL) == 0) {
        memmove(u.target + n, u.target + plen, qlen + 1);
        s = weft__hc_url_string(&u);
    }
    weft__hc_url_clear(&u);
    if (s && relative)
        *relative = rel;
    return s;
}
