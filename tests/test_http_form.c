/* SPDX-License-Identifier: MIT */
/* Percent-encoding, query arguments and form bodies, through the public
 * API: the parsers on their own, then a real server on a TCP port with curl
 * as the client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ---- percent-encoding ---- */

static void expect_encode(const char *in, size_t len, weft_http_percent_set set, const char *want)
{
    char out[256];
    size_t n = weft_http_percent_encode(out, sizeof out, in, len, set);
    cr_assert_eq(n, strlen(want), "length %zu for %s", n, want);
    cr_assert_str_eq(out, want);
}

WEFT_TEST(http_percent, encode_sets)
{
    const char all[] = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\x7f\xc3\xa9";
    size_t n = sizeof all - 1;
    /* what Python's quote(s, safe="") gives */
    expect_encode(all, n, WEFT_HTTP_PERCENT_UNRESERVED,
                  "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~%7F%C3%A9");
    /* quote(s, safe="!$&'()*+,;=:@") */
    expect_encode(all, n, WEFT_HTTP_PERCENT_PATH_SEGMENT,
                  "%20!%22%23$%25&'()*+,-.%2F:;%3C=%3E%3F@%5B%5C%5D%5E_%60%7B%7C%7D~%7F%C3%A9");
    /* what JavaScript's encodeURIComponent gives */
    expect_encode(all, n, WEFT_HTTP_PERCENT_COMPONENT,
                  "%20!%22%23%24%25%26'()*%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~%7F%C3%A9");
    /* what node's URLSearchParams and a browser's form give */
    expect_encode(all, n, WEFT_HTTP_PERCENT_FORM,
                  "+%21%22%23%24%25%26%27%28%29*%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D%7E%7F%C3%A9");
    expect_encode("aZ09", 4, WEFT_HTTP_PERCENT_FORM, "aZ09");
    expect_encode("a\0b", 3, WEFT_HTTP_PERCENT_UNRESERVED, "a%00b");
    expect_encode("", 0, WEFT_HTTP_PERCENT_FORM, "");
}

WEFT_TEST(http_percent, encode_truncates_like_snprintf)
{
    char out[6];
    memset(out, 'x', sizeof out);
    /* "a%2Fb" needs 5 + NUL: fits exactly */
    cr_assert_eq(weft_http_percent_encode(out, 6, "a/b", 3, WEFT_HTTP_PERCENT_UNRESERVED), 5);
    cr_assert_str_eq(out, "a%2Fb");
    /* one short: a whole prefix, never half an escape, and not the 'b' after it */
    cr_assert_eq(weft_http_percent_encode(out, 4, "a/b", 3, WEFT_HTTP_PERCENT_UNRESERVED), 5);
    cr_assert_str_eq(out, "a");
    cr_assert_eq(weft_http_percent_encode(out, 1, "a/b", 3, WEFT_HTTP_PERCENT_UNRESERVED), 5);
    cr_assert_str_eq(out, "");
    /* size 0 writes nothing at all */
    out[0] = 'x';
    cr_assert_eq(weft_http_percent_encode(out, 0, "abc", 3, WEFT_HTTP_PERCENT_UNRESERVED), 3);
    cr_assert_eq(out[0], 'x');
    cr_assert_eq(weft_http_percent_encode(NULL, 0, "a b", 3, WEFT_HTTP_PERCENT_COMPONENT), 5);
}

static void expect_decode(const char *in, unsigned flags, const char *want, size_t want_len)
{
    char out[256];
    size_t n = weft_http_percent_decode(out, in, strlen(in), flags);
    cr_assert_eq(n, want_len, "length %zu for %s", n, in);
    cr_assert(memcmp(out, want, n) == 0, "decoding %s", in);
}

WEFT_TEST(http_percent, decode)
{
    expect_decode("a%20b+c", 0, "a b+c", 5);
    expect_decode("a%20b+c", WEFT_HTTP_PERCENT_PLUS, "a b c", 5);
    expect_decode("%2b%2B", WEFT_HTTP_PERCENT_PLUS, "++", 2);
    expect_decode("%e2%82%ac%C3%A9", 0, "\xe2\x82\xac\xc3\xa9", 5);
    expect_decode("a%00b", 0, "a\0b", 3);
    /* malformed escapes stay as they are, with what follows them */
    expect_decode("%", 0, "%", 1);
    expect_decode("%4", 0, "%4", 2);
    expect_decode("100%", 0, "100%", 4);
    expect_decode("%zz%4g%%41", 0, "%zz%4g%A", 8);
    expect_decode("%%%", 0, "%%%", 3);
    expect_decode("", 0, "", 0);
}

WEFT_TEST(http_percent, decode_in_place_and_round_trip)
{
    char buf[] = "x%3Dy+%26+z";
    size_t n = weft_http_percent_decode(buf, buf, strlen(buf), WEFT_HTTP_PERCENT_PLUS);
    cr_assert_eq(n, 7);
    cr_assert(memcmp(buf, "x=y & z", 7) == 0);

    /* every byte, through every set, comes back */
    char all[256], enc[3 * 256 + 1], dec[3 * 256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    for (int set = WEFT_HTTP_PERCENT_UNRESERVED; set <= WEFT_HTTP_PERCENT_FORM; set++) {
        size_t e = weft_http_percent_encode(enc, sizeof enc, all, 256, (weft_http_percent_set)set);
        cr_assert_lt(e, sizeof enc);
        unsigned flags = set == WEFT_HTTP_PERCENT_FORM ? WEFT_HTTP_PERCENT_PLUS : 0;
        cr_assert_eq(weft_http_percent_decode(dec, enc, e, flags), 256);
        cr_assert(memcmp(dec, all, 256) == 0, "set %d", set);
    }
}
