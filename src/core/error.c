/* SPDX-License-Identifier: MIT */
/* Names and messages for error codes: errno values through libc, weft's own
 * from the table below. */
#define _GNU_SOURCE
#include <string.h>

#include "weft/error.h"

static const struct {
    const char *name;
    const char *message;
} own[] = {
    [WEFT_EOF - WEFT_EOF] = {"WEFT_EOF", "end of stream"},
    [WEFT_EALREADYCALLED - WEFT_EOF] = {"WEFT_EALREADYCALLED", "already called"},
    [WEFT_ENOTACTIVE - WEFT_EOF] = {"WEFT_ENOTACTIVE", "timer not pending"},
    [WEFT_EFIRSTERROR - WEFT_EOF] = {"WEFT_EFIRSTERROR", "one of several operations failed"},
    [WEFT_EQUEUEOVERFLOW - WEFT_EOF] = {"WEFT_EQUEUEOVERFLOW", "queue full"},
    [WEFT_EQUEUEUNDERFLOW - WEFT_EOF] = {"WEFT_EQUEUEUNDERFLOW", "too many waiting on queue"},
    [WEFT_ENOTRUNNING - WEFT_EOF] = {"WEFT_ENOTRUNNING", "not running"},
    [WEFT_ERUNNING - WEFT_EOF] = {"WEFT_ERUNNING", "already running"},
    [WEFT_EFAILED - WEFT_EOF] = {"WEFT_EFAILED", "operation failed"},
    [WEFT_ETLS - WEFT_EOF] = {"WEFT_ETLS", "TLS error"},
    [WEFT_ETLSVERIFY - WEFT_EOF] = {"WEFT_ETLSVERIFY", "TLS certificate verification failed"},
    [WEFT_ETLSTRUNCATED - WEFT_EOF] = {"WEFT_ETLSTRUNCATED", "TLS connection truncated (no close_notify)"},
    [WEFT_ENOTFOUND - WEFT_EOF] = {"WEFT_ENOTFOUND", "name not found"},
    [WEFT_EDNS - WEFT_EOF] = {"WEFT_EDNS", "name resolution failed"},
    [WEFT_EHTTP - WEFT_EOF] = {"WEFT_EHTTP", "bad HTTP message"},
};

_Static_assert(sizeof own / sizeof own[0] == (size_t)(WEFT__ELAST - WEFT_EOF), "every weft code has a name");

const char *weft_strerror(int code)
{
    if (code >= WEFT_EOF && code < WEFT__ELAST)
        return own[code - WEFT_EOF].message;
    if (code < 0 && code > -4096)
        return strerror(-code);
    return code == 0 ? "success" : "unknown error";
}

const char *weft_err_name(int code)
{
    if (code >= WEFT_EOF && code < WEFT__ELAST)
        return own[code - WEFT_EOF].name;
    if (code < 0 && code > -4096) {
        const char *n = strerrorname_np(-code);
        if (n)
            return n;
    }
    return code == 0 ? "OK" : "EUNKNOWN";
}
