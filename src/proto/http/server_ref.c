/* SPDX-License-Identifier: MIT */
/*
 * The server as its connections and requests hold it: a reference each
 * (and the owner's), the last one's release freeing it, and the Date
 * header that every response carries, formatted once a second.
 */
#include <time.h>

#include "weft/failure.h"
#include "http_int.h"

const char *weft__http_date(weft_http_server *s)
{
    /* Formatted once a second, not once a response. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != s->date_sec) {
        s->date_sec = ts.tv_sec;
        weft_http_date_format(ts.tv_sec, s->date);
    }
    return s->date;
}

static void server_destroy(weft_http_server *s)
{
    weft_http_resource_free(s->root);
    weft_failure_unref(s->eof);
    weft_http_headers_free(s->extra);
    weft_free(s->server_line);
    weft_free(s);
}

void weft__http_server_unref(weft_http_server *s)
{
    if (--s->refs == 0)
        server_destroy(s);
}
