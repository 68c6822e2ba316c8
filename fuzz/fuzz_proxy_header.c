/* SPDX-License-Identifier: MIT */
/* The PROXY protocol's header parser: any bytes are a whole header, the
 * beginning of one, or refused with a reason. A header it reads, written
 * back (in its version, and in the other when that can say it), reads as
 * the same addresses; every shorter cut of it asks for more; and bytes
 * after it change nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/net/proxy_header.h"
#include "weft/error.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_same(const weft__proxy_header *a, const unsigned char *bytes, size_t n)
{
    weft__proxy_header b;
    const char *why;
    ssize_t r = weft__proxy_header_parse(bytes, n, &b, &why);
    if (r != (ssize_t)n) {
        fprintf(stderr, "a written header (%zu bytes) reads as %zd: %s\n", n, r, why ? why : "");
        abort();
    }
    if (!weft_address_equal(&a->source, &b.source) || !weft_address_equal(&a->destination, &b.destination)) {
        fprintf(stderr, "a written header reads as other addresses\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    weft__proxy_header h;
    const char *why = NULL;
    ssize_t r = weft__proxy_header_parse(data, size, &h, &why);
    if (r < 0) {
        if (r != -EPROTO || !why || !*why)
            abort();
        return 0;
    }
    if (r == 0) {
        /* Waiting is only for what could still become a header. */
        if (size >= WEFT__PROXY_V2_MAX)
            abort();
        return 0;
    }
    if ((size_t)r > size || (h.version != 1 && h.version != 2) ||
        (h.version == 1 && r > WEFT__PROXY_V1_MAX) || r > WEFT__PROXY_V2_MAX ||
        !h.source.len != !h.destination.len)
        abort();
    size_t cuts[] = {0, 1, 5, 12, 13, 15, 16, (size_t)r / 2, (size_t)r - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        weft__proxy_header p;
        if (cuts[i] < (size_t)r && weft__proxy_header_parse(data, cuts[i], &p, &why) != 0) {
            fprintf(stderr, "the first %zu bytes of a %zd-byte header do not ask for more\n", cuts[i], r);
            abort();
        }
    }
    weft__proxy_header alone;
    if (weft__proxy_header_parse(data, (size_t)r, &alone, &why) != r ||
        !weft_address_equal(&alone.source, &h.source) || !weft_address_equal(&alone.destination, &h.destination))
        abort();
    unsigned char out[512];
    size_t n = weft__proxy_header_write(&h, h.version, out, sizeof out);
    if (!n)
        abort(); /* every header read can be written in its own version */
    check_same(&h, out, n);
    if ((n = weft__proxy_header_write(&h, 3 - h.version, out, sizeof out)))
        check_same(&h, out, n);
    return 0;
}
