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

/* ---- argument lists ---- */

/* The pairs of a list as "name=value|..." with NULs shown as \0. */
static char *show(const weft_http_args *a)
{
    static char buf[4096];
    size_t o = 0;
    for (size_t i = 0; i < weft_http_args_count(a); i++) {
        const char *s[2];
        size_t n[2];
        weft_http_args_at(a, i, &s[0], &n[0], &s[1], &n[1]);
        for (int k = 0; k < 2; k++) {
            cr_assert_eq(s[k][n[k]], '\0', "NUL-terminated");
            for (size_t j = 0; j < n[k] && o + 3 < sizeof buf; j++) {
                if (s[k][j])
                    buf[o++] = s[k][j];
                else
                    buf[o++] = '\\', buf[o++] = '0';
            }
            if (o + 2 < sizeof buf)
                buf[o++] = k ? '|' : '=';
        }
    }
    buf[o] = '\0';
    return buf;
}

static void expect_args(const char *text, const char *want)
{
    weft_http_args *a = weft_http_args_new();
    cr_assert_not_null(a);
    cr_assert_eq(weft_http_args_parse(a, text, strlen(text), 0), 0, "%s", text);
    cr_assert_str_eq(show(a), want, "parsing %s", text);
    weft_http_args_free(a);
}

WEFT_TEST(http_args, parse_like_whatwg_and_parse_qsl)
{
    expect_args("", "");
    expect_args("test", "test=|");
    expect_args("a&b=&=c", "a=|b=|=c|");
    expect_args("&&&a=b&&&&c=d&", "a=b|c=d|");
    expect_args("a=b=c", "a=b=c|");
    expect_args("a==b", "a==b|");
    expect_args("=", "=|");
    expect_args("a+b=c+d%2B", "a b=c d+|");
    expect_args("a=1;b=2", "a=1;b=2|"); /* ';' separates nothing (Python >= 3.9.2, WHATWG) */
    expect_args("k=%E2%82%ac&%C3%A9=%c3%a9", "k=\xe2\x82\xac|\xc3\xa9=\xc3\xa9|");
    expect_args("a=%00b&%00=c", "a=\\0b|\\0=c|");
    /* malformed escapes: kept as they are */
    expect_args("a=100%&b=%zz&c=%4&%=%%", "a=100%|b=%zz|c=%4|%=%%|");
    expect_args("x=%FE%FF", "x=\xfe\xff|"); /* bytes, not checked for UTF-8 */
    expect_args("a=1&a=2&b=3&a=4", "a=1|a=2|b=3|a=4|");
}

WEFT_TEST(http_args, lookups_keep_order_and_lengths)
{
    weft_http_args *a = weft_http_args_new();
    const char *q = "tag=a&path=%2Ftmp%2Fx+y&tag=b&nul=a%00b&tag=&Tag=upper";
    cr_assert_eq(weft_http_args_parse(a, q, strlen(q), 0), 0);
    size_t len;
    cr_assert_str_eq(weft_http_args_get(a, "path", &len), "/tmp/x y");
    cr_assert_eq(len, 8);
    cr_assert_eq(weft_http_args_count_of(a, "tag"), 3);
    cr_assert_str_eq(weft_http_args_get(a, "tag", NULL), "a");
    cr_assert_str_eq(weft_http_args_get_nth(a, "tag", 1, NULL), "b");
    cr_assert_str_eq(weft_http_args_get_nth(a, "tag", 2, &len), "");
    cr_assert_eq(len, 0);
    cr_assert_null(weft_http_args_get_nth(a, "tag", 3, &len));
    cr_assert_eq(len, 0);
    cr_assert_str_eq(weft_http_args_get(a, "Tag", NULL), "upper"); /* case matters */
    const char *v = weft_http_args_get(a, "nul", &len);
    cr_assert_eq(len, 3);
    cr_assert(memcmp(v, "a\0b", 3) == 0);
    cr_assert_null(weft_http_args_get(a, "missing", NULL));
    cr_assert_eq(weft_http_args_count_of(a, "missing"), 0);
    /* a NULL list is an empty one */
    cr_assert_null(weft_http_args_get(NULL, "tag", NULL));
    cr_assert_eq(weft_http_args_count(NULL), 0);
    /* out of range */
    const char *n = "x";
    weft_http_args_at(a, 99, &n, NULL, NULL, NULL);
    cr_assert_null(n);
    /* add copies and does not decode */
    cr_assert_eq(weft_http_args_add(a, "raw", 3, "%41+", 4), 0);
    cr_assert_str_eq(weft_http_args_get(a, "raw", NULL), "%41+");
    cr_assert_eq(weft_http_args_count(a), 7);
    weft_http_args_free(a);
    weft_http_args_free(NULL);
}

WEFT_TEST(http_args, limit_refuses_before_allocating)
{
    weft_http_args *a = weft_http_args_new();
    /* 1000 pairs: taken; 1001: refused, and nothing added */
    size_t n = 1001;
    char *q = malloc(2 * n);
    for (size_t i = 0; i < n; i++)
        q[2 * i] = 'a', q[2 * i + 1] = '&';
    cr_assert_eq(weft_http_args_parse(a, q, 2 * n - 1, 0), -E2BIG);
    cr_assert_eq(weft_http_args_count(a), 0);
    cr_assert_eq(weft_http_args_parse(a, q, 2 * (n - 1) - 1, 0), 0);
    cr_assert_eq(weft_http_args_count(a), 1000);
    /* the limit counts what the list already holds */
    cr_assert_eq(weft_http_args_parse(a, "b=1", 3, 0), -E2BIG);
    cr_assert_eq(weft_http_args_parse(a, "b=1", 3, 1001), 0);
    cr_assert_eq(weft_http_args_parse(a, "", 0, 1001), 0); /* no pair is never too many */
    free(q);
    weft_http_args_free(a);

    /* a million '&' are no pairs at all; a million pairs under a limit of
     * 5 are refused by the count, before any entry is made */
    size_t big = 1u << 20;
    q = malloc(2 * big);
    memset(q, '&', big);
    a = weft_http_args_new();
    cr_assert_eq(weft_http_args_parse(a, q, big, 5), 0);
    cr_assert_eq(weft_http_args_count(a), 0);
    for (size_t i = 0; i < big; i++)
        q[2 * i] = 'x', q[2 * i + 1] = '&';
    cr_assert_eq(weft_http_args_parse(a, q, 2 * big, 5), -E2BIG);
    cr_assert_eq(weft_http_args_count(a), 0);
    weft_http_args_free(a);
    free(q);
}

WEFT_TEST(http_args, encode_round_trips)
{
    weft_http_args *a = weft_http_args_new();
    cr_assert_eq(weft_http_args_add(a, "a b", 3, "x&y=z", 5), 0);
    cr_assert_eq(weft_http_args_add(a, "", 0, "", 0), 0);
    cr_assert_eq(weft_http_args_add(a, "n\0l", 3, "\xc3\xa9+%", 4), 0);
    size_t len;
    char *s = weft_http_args_encode(a, &len);
    cr_assert_str_eq(s, "a+b=x%26y%3Dz&=&n%00l=%C3%A9%2B%25");
    cr_assert_eq(len, strlen(s));
    weft_http_args *b = weft_http_args_new();
    cr_assert_eq(weft_http_args_parse(b, s, len, 0), 0);
    char *t = weft_http_args_encode(b, NULL);
    /* "=" is the empty name with the empty value, and comes back as one */
    cr_assert_str_eq(t, s);
    weft_free(s);
    weft_free(t);
    s = weft_http_args_encode(NULL, &len);
    cr_assert_str_eq(s, "");
    cr_assert_eq(len, 0);
    weft_free(s);
    weft_http_args_free(a);
    weft_http_args_free(b);
}

static void parse_some(void *arg)
{
    (void)arg;
    weft_http_args *a = weft_http_args_new();
    if (!a)
        return;
    const char *q = "a=1&b=%20&c&d=4&e=5&f=6&g=7&h=8&i=9&j=10";
    if (weft_http_args_parse(a, q, strlen(q), 0) == 0) {
        cr_assert_eq(weft_http_args_count(a), 10);
        cr_assert_str_eq(weft_http_args_get(a, "b", NULL), " ");
    } else {
        cr_assert_eq(weft_http_args_count(a), 0, "a failed parse adds nothing");
    }
    char *s = weft_http_args_encode(a, NULL);
    weft_free(s);
    weft_http_args_free(a);
}

WEFT_TEST(http_args, out_of_memory_at_each_allocation)
{
    cr_assert_gt(weft_test_each_alloc_failure(parse_some, NULL), 2);
}
