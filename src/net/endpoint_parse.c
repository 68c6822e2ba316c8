/* SPDX-License-Identifier: MIT */
/*
 * The text side of endpoint strings: splitting a string into fields with
 * Twisted's escaping rules, reading the values parameters take (ports,
 * modes, seconds, addresses, paths), the error messages that say which part
 * is wrong, and writing the canonical form back.
 *
 * Values are read more strictly than Python's int() would (no sign, no
 * spaces, no '_'): a configuration string is better refused than guessed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

/* ---- fields ---- */

int weft__ep_tokenize(weft__ep_parse *p, const char *desc)
{
    *p = (weft__ep_parse){.desc = desc};
    size_t len = strlen(desc), nmax = 1;
    for (size_t i = 0; i < len; i++)
        nmax += desc[i] == ':';
    /* One block: the field array, then the unescaped text. Unescaping only
     * shrinks, so the text fits in len + 1 bytes. */
    if (nmax > (SIZE_MAX - len - 1) / sizeof(weft__ep_field))
        return weft__ep_error(p, "too long", NULL, NULL);
    p->fields = weft_malloc(nmax * sizeof(weft__ep_field) + len + 1);
    if (!p->fields) {
        p->err = weft_failure_new(WEFT_ENOMEM, "out of memory reading an endpoint string");
        return WEFT_ENOMEM;
    }
    char *text = (char *)(p->fields + nmax);
    size_t w = 0, start = 0, at = 0;
    const char *key = NULL;
    for (size_t i = 0;; i++) {
        char c = desc[i];
        if (c == ':' || c == '\0') {
            text[w++] = '\0';
            p->fields[p->nfields++] = (weft__ep_field){key, text + start, at};
            if (c == '\0')
                return 0;
            start = w;
            at = i + 1;
            key = NULL;
        } else if (c == '=' && !key) {
            /* After the first '=' of a field, Twisted takes only ':' as an
             * operator, so "a=b=c" gives a the value "b=c". */
            text[w++] = '\0';
            key = text + start;
            start = w;
        } else if (c == '\\') {
            if (desc[i + 1] == '\0')
                return weft__ep_error(p, "a backslash at the end escapes nothing", NULL, NULL);
            text[w++] = desc[++i];
        } else {
            text[w++] = c;
        }
    }
}

void weft__ep_parse_free(weft__ep_parse *p)
{
    weft_free(p->fields);
    p->fields = NULL;
    p->nfields = 0;
}

/* ---- the writer ---- */

static void out_bytes(weft__ep_out *o, const char *s, size_t n)
{
    if (o->len < o->size) {
        size_t room = o->size - o->len - 1;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
    if (o->size)
        o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
}

void weft__ep_out_text(weft__ep_out *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

void weft__ep_out_value(weft__ep_out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* '=' needs escaping only in a positional value, but escaping it
         * everywhere keeps one rule. */
        if (s[i] == ':' || s[i] == '=' || s[i] == '\\')
            out_bytes(o, "\\", 1);
        out_bytes(o, s + i, 1);
    }
}

void weft__ep_out_fmt(weft__ep_out *o, const char *fmt, ...)
{
    /* vsnprintf keeps the writer's promise by itself: it writes what fits,
     * NUL-terminated, and says how much it wanted. Once the buffer is full
     * its last byte is already a NUL. */
    size_t room = o->len < o->size ? o->size - o->len : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

void weft__ep_out_ip(weft__ep_out *o, const char *key, const weft_address *a)
{
    char ip[INET6_ADDRSTRLEN] = "";
    if (weft_address_family(a) == AF_INET)
        inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof ip);
    else
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
    weft__ep_out_fmt(o, ":%s=", key);
    weft__ep_out_value(o, ip, strlen(ip));
}

void weft__ep_out_seconds(weft__ep_out *o, const char *key, double seconds)
{
    char text[40];
    if (seconds == floor(seconds) && seconds < 1e15) {
        snprintf(text, sizeof text, "%.0f", seconds);
    } else {
        /* The fewest digits that read back as the same double. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(text, sizeof text, "%.*g", prec, seconds);
            if (strtod(text, NULL) == seconds)
                break;
        }
    }
    weft__ep_out_fmt(o, ":%s=%s", key, text);
}

void weft__ep_out_unix_path(weft__ep_out *o, const weft_address *a)
{
    const char *path = a->u.un.sun_path;
    size_t n = a->len - offsetof(struct sockaddr_un, sun_path);
    if (path[0] == '\0') {
        out_bytes(o, "@", 1);
        weft__ep_out_value(o, path + 1, n - 1);
    } else {
        weft__ep_out_value(o, path, strnlen(path, n));
    }
}

/* ---- errors ---- */

/* s as it may appear in a log line: printable ASCII as it is, the rest as
 * \xNN. */
static void out_shown(weft__ep_out *o, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f)
            out_bytes(o, s, 1);
        else
            weft__ep_out_fmt(o, "\\x%02x", c);
    }
}

static void out_message(weft__ep_out *o, const weft__ep_parse *p, const char *before, const char *part,
                        const char *after)
{
    if (p->desc[0]) {
        out_shown(o, p->desc);
        weft__ep_out_text(o, ": ");
    }
    weft__ep_out_text(o, before);
    if (part) {
        weft__ep_out_text(o, "'");
        out_shown(o, part);
        weft__ep_out_text(o, "'");
    }
    if (after)
        weft__ep_out_text(o, after);
}

int weft__ep_error(weft__ep_parse *p, const char *before, const char *part, const char *after)
{
    weft__ep_out measure = {0};
    out_message(&measure, p, before, part, after);
    weft__ep_out o = {.buf = weft_malloc(measure.len + 1), .size = measure.len + 1};
    weft_failure_unref(p->err);
    if (!o.buf) {
        p->err = weft_failure_new(WEFT_ENOMEM, "out of memory describing a bad endpoint string");
        return WEFT_ENOMEM;
    }
    out_message(&o, p, before, part, after);
    p->err = weft_failure_new(WEFT_EINVAL, "%s", o.buf);
    weft_free(o.buf);
    return weft_failure_code(p->err) == WEFT_ENOMEM ? WEFT_ENOMEM : WEFT_EINVAL;
}

/* ---- values ---- */

static bool all_digits(const char *s, const char *set)
{
    return *s && strspn(s, set) == strlen(s);
}

/* A decimal number of digits only, saturating at `max` + 1. */
static unsigned long decimal(const char *s, unsigned long max)
{
    unsigned long v = 0;
    for (; *s && v <= max; s++)
        v = v * 10 + (unsigned long)(*s - '0');
    return v;
}

int weft__ep_port(weft__ep_parse *p, const char *s, int min, int *out)
{
    bool negative = s[0] == '-' && all_digits(s + 1, "0123456789");
    if (!all_digits(s, "0123456789") && !negative)
        return weft__ep_error(p, "port ", s, " is not a number");
    unsigned long v = negative ? 0 : decimal(s, 65535);
    if (negative || v > 65535 || v < (unsigned long)min)
        return weft__ep_error(p, "port ", s, min ? " is out of range (1-65535)" : " is out of range (0-65535)");
    *out = (int)v;
    return 0;
}

int weft__ep_backlog(weft__ep_parse *p, const char *s, int *out)
{
    unsigned long v = all_digits(s, "0123456789") ? decimal(s, INT_MAX) : 0;
    if (v < 1 || v > INT_MAX)
        return weft__ep_error(p, "backlog ", s, " is not a positive integer");
    *out = (int)v;
    return 0;
}

int weft__ep_index(weft__ep_parse *p, const char *what, const char *s, int *out)
{
    unsigned long v = all_digits(s, "0123456789") ? decimal(s, INT_MAX) : (unsigned long)INT_MAX + 1;
    if (v > INT_MAX) {
        char before[48];
        snprintf(before, sizeof before, "%s ", what);
        return weft__ep_error(p, before, s, " is not a whole number (0 or more)");
    }
    *out = (int)v;
    return 0;
}

int weft__ep_mode(weft__ep_parse *p, const char *s, unsigned *out)
{
    /* Octal as Python's int(s, 8): "660", "0660" and "0o660" alike. */
    const char *digits = s[0] == '0' && (s[1] == 'o' || s[1] == 'O') ? s + 2 : s;
    unsigned long v = 0;
    if (all_digits(digits, "01234567"))
        for (const char *d = digits; *d && v <= 07777; d++)
            v = v * 8 + (unsigned long)(*d - '0');
    /* 0 is refused too: weft_listen reads mode 0 as "leave it to umask", and
     * a socket nobody may open is never what was meant. */
    if (v < 1 || v > 07777)
        return weft__ep_error(p, "bad mode ", s, " (octal permissions such as 0660)");
    *out = (unsigned)v;
    return 0;
}

int weft__ep_flag(weft__ep_parse *p, const char *what, const char *s, bool *out)
{
    if ((s[0] != '0' && s[0] != '1') || s[1] != '\0') {
        char before[48];
        snprintf(before, sizeof before, "bad %s ", what);
        return weft__ep_error(p, before, s, " (0 or 1)");
    }
    *out = s[0] == '1';
    return 0;
}

int weft__ep_seconds(weft__ep_parse *p, const char *what, const char *s, double *out)
{
    /* Digits, a point and an exponent: what describe writes, and no hex,
     * "inf" or "nan", which strtod alone would take. */
    char *end = NULL;
    double v = 0;
    if ((s[0] >= '0' && s[0] <= '9') || s[0] == '.') {
        if (all_digits(s, "0123456789.eE+-"))
            v = strtod(s, &end);
    }
    if (!end || *end != '\0' || !isfinite(v) || v <= 0) {
        char before[48];
        snprintf(before, sizeof before, "%s ", what);
        return weft__ep_error(p, before, s, " is not a positive number of seconds");
    }
    *out = v;
    return 0;
}

int weft__ep_ip(weft__ep_parse *p, const char *what, const char *s, int port, weft_address *out)
{
    if (weft_address_from_ip(s, port, out) == 0)
        return 0;
    char before[48];
    snprintf(before, sizeof before, "%s ", what);
    if (s[0] == '[')
        return weft__ep_error(p, before, s, ": write IPv6 addresses without brackets, escaping their colons");
    return weft__ep_error(p, before, s, " is not an IP address");
}

int weft__ep_unix_path(weft__ep_parse *p, const char *s, weft_address *out)
{
    if (s[0] == '\0')
        return weft__ep_error(p, "empty path", NULL, NULL);
    if (strcmp(s, "@") == 0)
        return weft__ep_error(p, "empty abstract socket name after '@'", NULL, NULL);
    if (weft_address_from_unix(s, out) < 0) {
        char after[64];
        snprintf(after, sizeof after, " is too long (at most %zu bytes)", sizeof out->u.un.sun_path - 1);
        return weft__ep_error(p, "path ", s, after);
    }
    return 0;
}

const char *weft__ep_arg(const weft__ep_args *a, const char *name)
{
    for (size_t i = 0; i < a->kind->nparams; i++)
        if (strcmp(a->kind->params[i].name, name) == 0)
            return a->values[i];
    return NULL;
}
