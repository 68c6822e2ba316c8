/* SPDX-License-Identifier: MIT */
/* The framing functions of framing.h. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "framing.h"
#include "weft/error.h"

#define EMSGSIZE_CODE (-EMSGSIZE)

ssize_t weft__frame_line(const char *d, size_t n, const char *delim, size_t dlen, size_t max, const char **msg,
                         size_t *len)
{
    const char *end = dlen && n >= dlen ? memmem(d, n, delim, dlen) : NULL;
    if (!end) {
        /* Too long already, even if its delimiter is still to come. */
        return n > max + dlen ? EMSGSIZE_CODE : 0;
    }
    size_t l = (size_t)(end - d);
    if (l > max)
        return EMSGSIZE_CODE;
    *msg = d;
    *len = l;
    return (ssize_t)(l + dlen);
}

ssize_t weft__frame_netstring(const char *d, size_t n, size_t max, const char **msg, size_t *len)
{
    size_t l = 0, i = 0;
    for (; i < n && d[i] != ':'; i++) {
        if (d[i] < '0' || d[i] > '9' || (i == 1 && d[0] == '0'))
            return WEFT_EINVAL;
        l = l * 10 + (size_t)(d[i] - '0');
        if (l > max)
            return EMSGSIZE_CODE;
    }
    if (i == n)
        return i > 20 ? WEFT_EINVAL : 0; /* no ':' yet */
    if (i == 0)
        return WEFT_EINVAL; /* ":" with no length */
    size_t need = i + 1 + l + 1;
    if (n < need)
        return 0;
    if (d[need - 1] != ',')
        return WEFT_EINVAL;
    *msg = d + i + 1;
    *len = l;
    return (ssize_t)need;
}

ssize_t weft__frame_prefixed(const char *d, size_t n, unsigned prefix, size_t max, const char **msg, size_t *len)
{
    if (prefix != 1 && prefix != 2 && prefix != 4)
        return WEFT_EINVAL;
    if (n < prefix)
        return 0;
    size_t l = 0;
    for (unsigned i = 0; i < prefix; i++)
        l = l << 8 | (unsigned char)d[i];
    if (l > max)
        return EMSGSIZE_CODE;
    if (n < prefix + l)
        return 0;
    *msg = d + prefix;
    *len = l;
    return (ssize_t)(prefix + l);
}

ssize_t weft__frame_netstring_header(size_t len, char *out)
{
    return snprintf(out, 24, "%zu:", len);
}

ssize_t weft__frame_prefix_header(size_t len, unsigned prefix, char *out)
{
    if ((prefix != 1 && prefix != 2 && prefix != 4) || (prefix < 4 && len >> (8 * prefix)) || len > 0xffffffffu)
        return prefix == 1 || prefix == 2 || prefix == 4 ? EMSGSIZE_CODE : WEFT_EINVAL;
    for (unsigned i = 0; i < prefix; i++)
        out[i] = (char)(len >> (8 * (prefix - 1 - i)));
    return prefix;
}
