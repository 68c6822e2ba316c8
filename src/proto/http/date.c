/* SPDX-License-Identifier: MIT */
/*
 * HTTP dates. Calendar arithmetic by hand (days from the civil date, after
 * Howard Hinnant's well-known algorithm) rather than gmtime_r/timegm: no
 * locale, no time zone state, and timegm is not POSIX.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "weft/error.h"
#include "weft/http_headers.h"

static const char days[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"}; /* day 0 was a Thursday */
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long long)yoe + era * 400 + (*m <= 2);
}

static void two(char **p, unsigned v)
{
    (*p)[0] = (char)('0' + v / 10 % 10);
    (*p)[1] = (char)('0' + v % 10);
    *p += 2;
}

void weft_http_date_format(long long t, char buf[WEFT_HTTP_DATE_SIZE])
{
    long long day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    long long secs = t - day * 86400;
    long long y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    int wd = (int)(((day % 7) + 7) % 7);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999; /* keeps the fixed width; such dates mean nothing in HTTP */
    /* By hand: fixed width, and no format-truncation guesswork. */
    char *p = buf;
    memcpy(p, days[wd], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    two(&p, d);
    *p++ = ' ';
    memcpy(p, months[m - 1], 3);
    p += 3;
    *p++ = ' ';
    two(&p, (unsigned)(y / 100));
    two(&p, (unsigned)(y % 100));
    *p++ = ' ';
    two(&p, (unsigned)(secs / 3600));
    *p++ = ':';
    two(&p, (unsigned)(secs / 60 % 60));
    *p++ = ':';
    two(&p, (unsigned)(secs % 60));
    memcpy(p, " GMT", 5);
}

static int month_of(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (strncmp(s, months[i], 3) == 0)
            return i + 1;
    return 0;
}

static int finish(long long y, int mon, int d, int hh, int mm, int ss, long long *out)
{
    if (mon < 1 || d < 1 || d > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
        return WEFT_EINVAL;
    *out = days_from_civil(y, (unsigned)mon, (unsigned)d) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

int weft_http_date_parse(const char *s, long long *out)
{
    char wd[16], mon[4], tz[4];
    int d, hh, mm, ss, n = 0;
    long long y;
    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4lld %2d:%2d:%2d %3s%n", wd, &d, mon, &y, &hh, &mm, &ss, tz, &n) == 8 &&
        !s[n] && strcmp(tz, "GMT") == 0)
        return finish(y, month_of(mon), d, hh, mm, ss, out);
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit years: 1970-2069) */
    n = 0;
    if (sscanf(s, "%15[A-Za-z], %2d-%3[A-Za-z]-%2lld %2d:%2d:%2d %3s%n", wd, &d, mon, &y, &hh, &mm, &ss, tz, &n) ==
            8 &&
        !s[n] && strcmp(tz, "GMT") == 0)
        return finish(y < 70 ? 2000 + y : 1900 + y, month_of(mon), d, hh, mm, ss, out);
    /* asctime: Sun Nov  6 08:49:37 1994 */
    n = 0;
    if (sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4lld%n", wd, mon, &d, &hh, &mm, &ss, &y, &n) == 7 && !s[n])
        return finish(y, month_of(mon), d, hh, mm, ss, out);
    return WEFT_EINVAL;
}
