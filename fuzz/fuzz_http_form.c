/* SPDX-License-Identifier: MIT */
/*
 * Query strings and urlencoded bodies (weft_http_args_parse), and the
 * percent-encoder and decoder under them. Any bytes parse (or hit the pair
 * limit, adding nothing); what parses encodes to text that parses back to
 * the same pairs; every encoding set decodes back to its input; a short
 * buffer holds a prefix of the whole encoding; decoding in place is
 * decoding.
 *
 * Input: the first byte chooses the pair limit (0: the default); the rest
 * is the text.
 */
#include <stdlib.h>
#include <string.h>

#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/http_args.h"
#include "weft/http_percent.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void same_pairs(const weft_http_args *a, const weft_http_args *b)
{
    if (weft_http_args_count(a) != weft_http_args_count(b))
        abort();
    for (size_t i = 0; i < weft_http_args_count(a); i++) {
        const char *an, *av, *bn, *bv;
        size_t anl, avl, bnl, bvl;
        weft_http_args_at(a, i, &an, &anl, &av, &avl);
        weft_http_args_at(b, i, &bn, &bnl, &bv, &bvl);
        if (anl != bnl || avl != bvl || memcmp(an, bn, anl) != 0 || memcmp(av, bv, avl) != 0)
            abort();
        if (an[anl] || av[avl])
            abort(); /* NUL-terminated */
    }
}

static void percent(const char *text, size_t len)
{
    size_t cap = 3 * len + 1;
    char *enc = malloc(cap), *dec = malloc(len + 1), *in_place = malloc(cap);
    if (!enc || !dec || !in_place)
        goto out;
    for (int set = WEFT_HTTP_PERCENT_UNRESERVED; set <= WEFT_HTTP_PERCENT_FORM; set++) {
        size_t n = weft_http_percent_encode(enc, cap, text, len, (weft_http_percent_set)set);
        if (n >= cap || enc[n] != '\0')
            abort();
        unsigned flags = set == WEFT_HTTP_PERCENT_FORM ? WEFT_HTTP_PERCENT_PLUS : 0;
        if (weft_http_percent_decode(dec, enc, n, flags) != len || memcmp(dec, text, len) != 0)
            abort();
        /* a buffer of any shorter size: a prefix, NUL-terminated, the same length reported */
        size_t small = len ? (unsigned char)text[0] % (n + 1) : 0;
        char *part = malloc(small + 1);
        if (part) {
            if (weft_http_percent_encode(part, small + 1, text, len, (weft_http_percent_set)set) != n)
                abort();
            size_t got = strlen(part);
            if (got > small || memcmp(part, enc, got) != 0)
                abort();
            /* it stopped at the first unit (a byte, or a whole escape) that did not fit */
            if (got < n && got + (enc[got] == '%' ? 3 : 1) <= small)
                abort();
            free(part);
        }
    }
    /* decoding in place is decoding */
    for (unsigned flags = 0; flags < 2; flags++) {
        memcpy(in_place, text, len);
        size_t a = weft_http_percent_decode(dec, text, len, flags);
        size_t b = weft_http_percent_decode(in_place, in_place, len, flags);
        if (a != b || a > len || memcmp(dec, in_place, a) != 0)
            abort();
    }
out:
    free(enc);
    free(dec);
    free(in_place);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max = data[0] < 200 ? data[0] : 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    percent(text, len);

    weft_http_args *a = weft_http_args_new();
    if (!a)
        return 0;
    int rc = weft_http_args_parse(a, text, len, max);
    if (rc == -E2BIG && weft_http_args_count(a) != 0)
        abort(); /* a refused parse adds nothing */
    if (rc != 0 && rc != -E2BIG && rc != WEFT_ENOMEM)
        abort();
    if (rc == 0) {
        size_t n = weft_http_args_count(a);
        if (n > (max ? max : WEFT_HTTP_ARGS_MAX))
            abort();
        /* lookups agree with iteration (the first few: each is a scan) */
        for (size_t i = 0; i < n && i < 32; i++) {
            const char *name;
            size_t name_len;
            weft_http_args_at(a, i, &name, &name_len, NULL, NULL);
            if (strlen(name) == name_len &&
                (!weft_http_args_get(a, name, NULL) || weft_http_args_count_of(a, name) == 0 ||
                 !weft_http_args_get_nth(a, name, weft_http_args_count_of(a, name) - 1, NULL) ||
                 weft_http_args_get_nth(a, name, weft_http_args_count_of(a, name), NULL)))
                abort();
        }
        size_t elen;
        char *enc = weft_http_args_encode(a, &elen);
        if (enc) {
            weft_http_args *b = weft_http_args_new();
            if (b && weft_http_args_parse(b, enc, elen, n ? n : 1) == 0)
                same_pairs(a, b);
            weft_http_args_free(b);
            weft_free(enc);
        }
    }
    weft_http_args_free(a);
    return 0;
}
