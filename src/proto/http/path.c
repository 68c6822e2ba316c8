/* SPDX-License-Identifier: MIT */
/*
 * Path normalisation (RFC 3986 section 6.2.2): the one place where dot
 * segments are taken out of a path, for the server's resource walk (so
 * also the reverse proxy's targets) and the client's resolved Locations. A pure function over bytes, in place: both
 * steps only ever shorten the path.
 */
#include "http_int.h"
#include "weft/http_percent.h"

/* RFC 3986 section 2.3 */
static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

/* Section 6.2.2.2 (escapes of unreserved characters decoded: "%2e" is ".")
 * and 6.2.2.1 (the other escapes' hex digits in upper case), so that the
 * dot segments are found however they were spelt. A '%' that does not start
 * an escape is refused: decoding around it could make a new one, and a
 * second pass would then give another path. */
static int decode_unreserved(char *p, size_t *len)
{
    static const char upper[] = "0123456789ABCDEF";
    size_t w = 0, n = *len;
    for (size_t r = 0; r < n; r++) {
        if (p[r] != '%') {
            p[w++] = p[r];
            continue;
        }
        char one[3]; /* the escape decoded, or (not one) copied */
        if (r + 2 >= n || weft_http_percent_decode(one, p + r, 3, 0) != 1)
            return WEFT_EINVAL;
        unsigned char c = (unsigned char)one[0];
        if (unreserved(c)) {
            p[w++] = (char)c;
        } else {
            p[w++] = '%';
            p[w++] = upper[c >> 4];
            p[w++] = upper[c & 15];
        }
        r += 2;
    }
    *len = w;
    return 0;
}

/* Section 5.2.4 (remove_dot_segments), segment by segment: the output is
 * the prefix ("/" for an absolute path) followed by the kept segments, each
 * but the last with its '/'. A ".." with nothing left to remove is dropped
 * as the RFC says, and reported. */
static size_t remove_dots(char *p, size_t n, bool *climbed)
{
    size_t base = n && p[0] == '/' ? 1 : 0, in = base, out = base;
    for (;;) {
        size_t end = in;
        while (end < n && p[end] != '/')
            end++;
        size_t seg = end - in;
        bool last = end == n;
        if (seg == 1 && p[in] == '.') {
            /* nothing: the output already ends where the next segment goes */
        } else if (seg == 2 && p[in] == '.' && p[in + 1] == '.') {
            if (out > base) {
                out--; /* the '/' after the last kept segment */
                while (out > base && p[out - 1] != '/')
                    out--;
            } else {
                *climbed = true;
            }
        } else {
            memmove(p + out, p + in, seg);
            out += seg;
            if (!last)
                p[out++] = '/';
        }
        if (last)
            return out;
        in = end + 1;
    }
}

/* Whether there is nothing to do: no escape, no segment starting with a
 * dot. (Most paths; a look at each byte costs less than the two passes.) */
static bool plain(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '%' || (p[i] == '.' && (i == 0 || p[i - 1] == '/')))
            return false;
    return true;
}

int weft__http_path_normalize(char *path, size_t *len, bool *climbed)
{
    bool above = false;
    int rc = 0;
    if (!plain(path, *len)) {
        rc = decode_unreserved(path, len);
        if (rc == 0)
            *len = remove_dots(path, *len, &above);
    }
    if (climbed)
        *climbed = above;
    return rc;
}
