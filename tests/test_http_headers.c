/* SPDX-License-Identifier: MIT */
/* Header lists, reason phrases and HTTP dates. */
#include <string.h>

#include "test.h"

WEFT_TEST(http_headers, add_get_in_order_without_case)
{
    weft_http_headers *h = weft_http_headers_new();
    cr_assert_not_null(h);
    cr_assert_eq(weft_http_headers_add(h, "Content-Type", "text/plain"), 0);
    cr_assert_eq(weft_http_headers_add(h, "Set-Cookie", "a=1"), 0);
    cr_assert_eq(weft_http_headers_add(h, "set-cookie", "b=2"), 0);
    cr_assert_str_eq(weft_http_headers_get(h, "content-type"), "text/plain");
    cr_assert_str_eq(weft_http_headers_get(h, "SET-COOKIE"), "a=1");
    cr_assert_null(weft_http_headers_get(h, "X-None"));
    cr_assert_eq(weft_http_headers_count_of(h, "Set-Cookie"), 2);
    cr_assert_eq(weft_http_headers_count(h), 3);
    const char *n, *v;
    weft_http_headers_at(h, 2, &n, &v);
    cr_assert_str_eq(n, "set-cookie");
    cr_assert_str_eq(v, "b=2");
    cr_assert_eq(weft_http_headers_set(h, "Set-Cookie", "c=3"), 0);
    cr_assert_eq(weft_http_headers_count(h), 2);
    cr_assert_str_eq(weft_http_headers_get(h, "set-cookie"), "c=3");
    cr_assert_eq(weft_http_headers_remove(h, "content-type"), 1);
    cr_assert_eq(weft_http_headers_remove(h, "content-type"), 0);
    weft_http_headers *c = weft_http_headers_copy(h);
    weft_http_headers_clear(h);
    cr_assert_eq(weft_http_headers_count(h), 0);
    cr_assert_str_eq(weft_http_headers_get(c, "Set-Cookie"), "c=3");
    /* Growing past the first arena and pair array keeps every value. */
    char name[32], value[64];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "X-%d", i);
        snprintf(value, sizeof value, "value number %d, padded to be long enough", i);
        cr_assert_eq(weft_http_headers_add(h, name, value), 0);
    }
    cr_assert_str_eq(weft_http_headers_get(h, "x-199"), "value number 199, padded to be long enough");
    cr_assert_str_eq(weft_http_headers_get(h, "x-0"), "value number 0, padded to be long enough");
    weft_http_headers_free(c);
    weft_http_headers_free(h);
}

WEFT_TEST(http_headers, refuses_what_could_split_a_header)
{
    weft_http_headers *h = weft_http_headers_new();
    cr_assert_eq(weft_http_headers_add(h, "X-A", "a\r\nX-Injected: 1"), WEFT_EINVAL);
    cr_assert_eq(weft_http_headers_add(h, "X-A", "a\nb"), WEFT_EINVAL);
    cr_assert_eq(weft_http_headers_add(h, "X A", "a"), WEFT_EINVAL);
    cr_assert_eq(weft_http_headers_add(h, "X:A", "a"), WEFT_EINVAL);
    cr_assert_eq(weft_http_headers_add(h, "", "a"), WEFT_EINVAL);
    cr_assert_eq(weft_http_headers_addn(h, "X-A", 3, "a\0b", 3), WEFT_EINVAL);
    cr_assert_eq(weft_http_headers_set(h, "X-A", "a\rb"), WEFT_EINVAL);
    cr_assert_eq(weft_http_headers_count(h), 0);
    cr_assert_eq(weft_http_headers_add(h, "X-Odd!#$%&'*+-.^_`|~", "tab\tand spaces ok"), 0);
    weft_http_headers_free(h);
}

WEFT_TEST(http_headers, tokens_in_comma_lists)
{
    weft_http_headers *h = weft_http_headers_new();
    cr_assert_eq(weft_http_headers_add(h, "Connection", "keep-alive ,  Upgrade"), 0);
    cr_assert_eq(weft_http_headers_add(h, "Connection", "X-Foo"), 0);
    cr_assert(weft_http_headers_has_token(h, "connection", "upgrade"));
    cr_assert(weft_http_headers_has_token(h, "connection", "Keep-Alive"));
    cr_assert(weft_http_headers_has_token(h, "connection", "x-foo"));
    cr_assert_not(weft_http_headers_has_token(h, "connection", "close"));
    cr_assert_not(weft_http_headers_has_token(h, "connection", "keep"));
    weft_http_headers_free(h);
}

WEFT_TEST(http_headers, reasons)
{
    cr_assert_str_eq(weft_http_reason(200), "OK");
    cr_assert_str_eq(weft_http_reason(404), "Not Found");
    cr_assert_str_eq(weft_http_reason(431), "Request Header Fields Too Large");
    cr_assert_str_eq(weft_http_reason(799), "Unknown");
}

WEFT_TEST(http_headers, dates_both_ways)
{
    char buf[WEFT_HTTP_DATE_SIZE];
    weft_http_date_format(784111777, buf);
    cr_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    weft_http_date_format(0, buf);
    cr_assert_str_eq(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    weft_http_date_format(951782400, buf); /* a leap day */
    cr_assert_str_eq(buf, "Tue, 29 Feb 2000 00:00:00 GMT");
    long long t;
    cr_assert_eq(weft_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    cr_assert_eq(t, 784111777);
    cr_assert_eq(weft_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    cr_assert_eq(t, 784111777);
    cr_assert_eq(weft_http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    cr_assert_eq(t, 784111777);
    for (long long x = -86400LL * 400; x < 86400LL * 365 * 200; x += 86400LL * 17 + 3607) {
        weft_http_date_format(x < 0 ? -x : x, buf);
        cr_assert_eq(weft_http_date_parse(buf, &t), 0, "%s", buf);
        cr_assert_eq(t, x < 0 ? -x : x, "%s", buf);
    }
    cr_assert_eq(weft_http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC", &t), WEFT_EINVAL);
    cr_assert_eq(weft_http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT", &t), WEFT_EINVAL);
    cr_assert_eq(weft_http_date_parse("Sun, 06 Nov 1994 25:49:37 GMT", &t), WEFT_EINVAL);
    cr_assert_eq(weft_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT trailing", &t), WEFT_EINVAL);
    cr_assert_eq(weft_http_date_parse("", &t), WEFT_EINVAL);
    cr_assert_eq(weft_http_date_parse("yesterday", &t), WEFT_EINVAL);
}
