/* SPDX-License-Identifier: MIT */
/*
 * The PROXY protocol's header, both versions. The parser takes everything
 * received so far each time (a header is at most a few kilobytes, and
 * usually arrives whole), so it keeps no state: it rejects as early as the
 * bytes allow and waits otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proxy_header.h"

static const unsigned char v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
static const char v1_sig[] = "PROXY ";

enum { V2_HEAD = 16, V2_INET = 12, V2_INET6 = 36, V2_UNIX = 216, UNIX_PATH = 108 };
enum { CMD_LOCAL = 0, CMD_PROXY = 1 };
enum { FAM_UNSPEC = 0, FAM_INET = 1, FAM_INET6 = 2, FAM_UNIX = 3 };
enum { PROTO_UNSPEC = 0, PROTO_STREAM = 1, PROTO_DGRAM = 2 };

static ssize_t refuse(const char **why, const char *reason)
{
    *why = reason;
    return -EPROTO;
}

/* ---- version 1: one line of text ---- */

/* The next field of a line: up to the next space or the end. */
typedef struct field {
    const char *p;
    size_t n;
} field;

static bool next_field(const char **s, const char *end, field *f)
{
    if (*s >= end)
        return false;
    f->p = *s;
    const char *sp = memchr(*s, ' ', (size_t)(end - *s));
    f->n = (size_t)((sp ? sp : end) - *s);
    *s = sp ? sp + 1 : end;
    /* An empty field is two spaces in a row, or a space at the end. */
    return f->n > 0;
}

static bool is(const field *f, const char *word)
{
    return f->n == strlen(word) && memcmp(f->p, word, f->n) == 0;
}

static bool v1_port(const field *f, int *out)
{
    if (f->n < 1 || f->n > 5 || (f->n > 1 && f->p[0] == '0'))
        return false;
    int v = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->p[i] < '0' || f->p[i] > '9')
            return false;
        v = v * 10 + (f->p[i] - '0');
    }
    *out = v;
    return v <= 65535;
}

/* inet_pton is strict for IPv4 (exactly four decimal parts, no leading
 * zeros) and takes IPv6 in any of its RFC 4291 spellings. */
static bool v1_address(const field *f, int family, weft_address *out)
{
    char text[INET6_ADDRSTRLEN];
    if (f->n >= sizeof text)
        return false;
    memcpy(text, f->p, f->n);
    text[f->n] = '\0';
    memset(out, 0, sizeof *out);
    if (family == AF_INET) {
        out->u.in.sin_family = AF_INET;
        out->len = sizeof out->u.in;
        return inet_pton(AF_INET, text, &out->u.in.sin_addr) == 1;
    }
    out->u.in6.sin6_family = AF_INET6;
    out->len = sizeof out->u.in6;
    return inet_pton(AF_INET6, text, &out->u.in6.sin6_addr) == 1;
}

static void set_port(weft_address *a, int port)
{
    if (a->u.sa.sa_family == AF_INET)
        a->u.in.sin_port = htons((uint16_t)port);
    else
        a->u.in6.sin6_port = htons((uint16_t)port);
}

/* The line without its CRLF. */
static ssize_t v1_line(const char *line, size_t n, weft__proxy_header *out, const char **why)
{
    const char *s = line + strlen(v1_sig), *end = line + n;
    field proto, src, dst, sport, dport;
    if (!next_field(&s, end, &proto))
        return refuse(why, "v1: no protocol after PROXY");
    /* UNKNOWN: the rest of the line is to be ignored, whatever it is. */
    if (is(&proto, "UNKNOWN"))
        return (ssize_t)n + 2;
    int family = is(&proto, "TCP4") ? AF_INET : is(&proto, "TCP6") ? AF_INET6 : AF_UNSPEC;
    if (family == AF_UNSPEC)
        return refuse(why, "v1: the protocol is not TCP4, TCP6 or UNKNOWN");
    if (!next_field(&s, end, &src) || !next_field(&s, end, &dst) || !next_field(&s, end, &sport) ||
        !next_field(&s, end, &dport))
        return refuse(why, "v1: missing or empty address fields (PROXY TCP4|TCP6 SRC DST SPORT DPORT)");
    if (dport.p + dport.n != end)
        return refuse(why, "v1: more than four address fields, or a space before CRLF");
    if (!v1_address(&src, family, &out->source) || !v1_address(&dst, family, &out->destination))
        return refuse(why, family == AF_INET ? "v1: an address is not a canonical IPv4 address"
                                             : "v1: an address is not an IPv6 address");
    int sp, dp;
    if (!v1_port(&sport, &sp) || !v1_port(&dport, &dp))
        return refuse(why, "v1: a port is not a number from 0 to 65535 without leading zeros");
    set_port(&out->source, sp);
    set_port(&out->destination, dp);
    return (ssize_t)n + 2;
}

static ssize_t parse_v1(const char *buf, size_t len, weft__proxy_header *out, const char **why)
{
    size_t sig = strlen(v1_sig);
    if (memcmp(buf, v1_sig, len < sig ? len : sig) != 0)
        return refuse(why, "not a PROXY header (neither v1's \"PROXY \" nor v2's signature)");
    size_t limit = len < WEFT__PROXY_V1_MAX ? len : WEFT__PROXY_V1_MAX;
    for (size_t i = 0; i < limit; i++) {
        if (buf[i] == '\n')
            return refuse(why, "v1: a line feed without a carriage return");
        if (buf[i] != '\r')
            continue;
        if (i + 1 == len)
            return 0; /* the LF may come next */
        if (buf[i + 1] != '\n')
            return refuse(why, "v1: a carriage return without a line feed");
        if (i + 2 > WEFT__PROXY_V1_MAX)
            break;
        out->version = 1;
        return v1_line(buf, i, out, why);
    }
    if (len >= WEFT__PROXY_V1_MAX)
        return refuse(why, "v1: no CRLF in the first 107 bytes");
    return 0;
}

/* ---- version 2: binary ---- */

static uint16_t be16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void v2_unix(const unsigned char *path, weft_address *out)
{
    memset(out, 0, sizeof *out);
    out->u.un.sun_family = AF_UNIX;
    memcpy(out->u.un.sun_path, path, UNIX_PATH);
    size_t n;
    if (path[0] != '\0') {
        n = strnlen((const char *)path, UNIX_PATH);
        n += n < UNIX_PATH; /* its NUL, when there is room for one */
    } else {
        /* An abstract name, padded with NULs as the kernel's sockaddr is;
         * all NULs is an unnamed socket. */
        n = UNIX_PATH;
        while (n > 0 && path[n - 1] == '\0')
            n--;
    }
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

static void v2_ip(const unsigned char *a, int family, weft__proxy_header *out)
{
    size_t alen = family == AF_INET ? 4 : 16;
    const unsigned char *ports = a + 2 * alen;
    weft_address *src = &out->source, *dst = &out->destination;
    memset(src, 0, sizeof *src);
    memset(dst, 0, sizeof *dst);
    if (family == AF_INET) {
        src->u.in.sin_family = dst->u.in.sin_family = AF_INET;
        src->len = dst->len = sizeof src->u.in;
        memcpy(&src->u.in.sin_addr, a, 4);
        memcpy(&dst->u.in.sin_addr, a + 4, 4);
    } else {
        src->u.in6.sin6_family = dst->u.in6.sin6_family = AF_INET6;
        src->len = dst->len = sizeof src->u.in6;
        memcpy(&src->u.in6.sin6_addr, a, 16);
        memcpy(&dst->u.in6.sin6_addr, a + 16, 16);
    }
    set_port(src, be16(ports));
    set_port(dst, be16(ports + 2));
}

static ssize_t parse_v2(const unsigned char *buf, size_t len, weft__proxy_header *out, const char **why)
{
    if (memcmp(buf, v2_sig, len < sizeof v2_sig ? len : sizeof v2_sig) != 0)
        return refuse(why, "not a PROXY header (neither v1's \"PROXY \" nor v2's signature)");
    if (len < V2_HEAD) {
        if (len > 12 && buf[12] >> 4 != 2)
            return refuse(why, "v2: unknown version (not 2)");
        return 0;
    }
    int version = buf[12] >> 4, command = buf[12] & 15, family = buf[13] >> 4, proto = buf[13] & 15;
    size_t total = V2_HEAD + be16(buf + 14);
    if (version != 2)
        return refuse(why, "v2: unknown version (not 2)");
    if (command != CMD_LOCAL && command != CMD_PROXY)
        return refuse(why, "v2: unknown command (neither LOCAL nor PROXY)");
    /* LOCAL's family is to be ignored, not checked. */
    if (command == CMD_PROXY && (family > FAM_UNIX || proto > PROTO_DGRAM))
        return refuse(why, "v2: unknown address family or transport protocol");
    if (total > WEFT__PROXY_V2_MAX)
        return refuse(why, "v2: the header is longer than weft accepts (4096 bytes)");
    if (len < total)
        return 0;
    size_t alen = 0;
    if (command == CMD_PROXY && proto != PROTO_UNSPEC)
        alen = family == FAM_INET ? V2_INET : family == FAM_INET6 ? V2_INET6 : family == FAM_UNIX ? V2_UNIX : 0;
    if (V2_HEAD + alen > total)
        return refuse(why, "v2: the length is too short for the family's addresses");
    /* TLVs: skipped, but each must fit, so a malformed sender is noticed.
     * Only after known addresses: LOCAL's block (and UNSPEC's) is to be
     * skipped whole, whatever it holds. */
    for (size_t at = V2_HEAD + alen; alen && at < total;) {
        if (total - at < 3 || total - at - 3 < be16(buf + at + 1))
            return refuse(why, "v2: a TLV runs past the end of the header");
        at += 3 + (size_t)be16(buf + at + 1);
    }
    out->version = 2;
    if (alen == V2_UNIX) {
        v2_unix(buf + V2_HEAD, &out->source);
        v2_unix(buf + V2_HEAD + UNIX_PATH, &out->destination);
    } else if (alen) {
        v2_ip(buf + V2_HEAD, family == FAM_INET ? AF_INET : AF_INET6, out);
    }
    return (ssize_t)total;
}

ssize_t weft__proxy_header_parse(const void *buf, size_t len, weft__proxy_header *out, const char **why)
{
    const unsigned char *b = buf;
    *why = NULL;
    memset(out, 0, sizeof *out);
    if (len == 0)
        return 0;
    if (b[0] == v2_sig[0])
        return parse_v2(b, len, out, why);
    return parse_v1(buf, len, out, why);
}

/* ---- writing ---- */

static size_t write_v1(const weft__proxy_header *h, char *buf, size_t size)
{
    int family = weft_address_family(&h->source);
    if (family == AF_UNSPEC && weft_address_family(&h->destination) == AF_UNSPEC) {
        static const char unknown[] = "PROXY UNKNOWN\r\n";
        if (size < sizeof unknown)
            return 0;
        memcpy(buf, unknown, sizeof unknown);
        return sizeof unknown - 1;
    }
    if ((family != AF_INET && family != AF_INET6) || weft_address_family(&h->destination) != family)
        return 0;
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    const void *sa = family == AF_INET ? (const void *)&h->source.u.in.sin_addr : &h->source.u.in6.sin6_addr;
    const void *da = family == AF_INET ? (const void *)&h->destination.u.in.sin_addr : &h->destination.u.in6.sin6_addr;
    inet_ntop(family, sa, src, sizeof src);
    inet_ntop(family, da, dst, sizeof dst);
    int n = snprintf(buf, size, "PROXY %s %s %s %d %d\r\n", family == AF_INET ? "TCP4" : "TCP6", src, dst,
                     weft_address_port(&h->source), weft_address_port(&h->destination));
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static size_t write_v2(const weft__proxy_header *h, unsigned char *buf, size_t size)
{
    int family = weft_address_family(&h->source);
    size_t alen = family == AF_INET ? V2_INET : family == AF_INET6 ? V2_INET6 : family == AF_UNIX ? V2_UNIX : 0;
    if (family != weft_address_family(&h->destination) || size < V2_HEAD + alen)
        return 0;
    memset(buf, 0, V2_HEAD + alen);
    memcpy(buf, v2_sig, sizeof v2_sig);
    buf[12] = alen ? 0x21 : 0x20;
    buf[13] = (unsigned char)(alen == V2_INET ? 0x11 : alen == V2_INET6 ? 0x21 : alen == V2_UNIX ? 0x31 : 0);
    buf[14] = 0;
    buf[15] = (unsigned char)alen;
    unsigned char *a = buf + V2_HEAD;
    if (family == AF_UNIX) {
        memcpy(a, h->source.u.un.sun_path, h->source.len - offsetof(struct sockaddr_un, sun_path));
        memcpy(a + UNIX_PATH, h->destination.u.un.sun_path,
               h->destination.len - offsetof(struct sockaddr_un, sun_path));
    } else if (alen) {
        size_t n = family == AF_INET ? 4 : 16;
        memcpy(a, family == AF_INET ? (const void *)&h->source.u.in.sin_addr : &h->source.u.in6.sin6_addr, n);
        memcpy(a + n, family == AF_INET ? (const void *)&h->destination.u.in.sin_addr : &h->destination.u.in6.sin6_addr,
               n);
        uint16_t sp = htons((uint16_t)weft_address_port(&h->source)), dp = htons((uint16_t)weft_address_port(&h->destination));
        memcpy(a + 2 * n, &sp, 2);
        memcpy(a + 2 * n + 2, &dp, 2);
    }
    return V2_HEAD + alen;
}

size_t weft__proxy_header_write(const weft__proxy_header *h, int version, void *buf, size_t size)
{
    return version == 1 ? write_v1(h, buf, size) : version == 2 ? write_v2(h, buf, size) : 0;
}
