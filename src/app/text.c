/* SPDX-License-Identifier: MIT */
/* text.h: snprintf-style text for the console and the metrics. */
#include <stdarg.h>
#include <stdio.h>

#include "text.h"
#include "weft/alloc.h"

void weft__text_put(weft__text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->len < t->size ? t->size - t->len : 0;
    int n = vsnprintf(room ? t->buf + t->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

char *weft__text_make(void (*fill)(void *arg, weft__text *t), void *arg, size_t *len)
{
    weft__text t = weft__text_into(NULL, 0);
    fill(arg, &t);
    char *buf = weft_malloc(t.len + 1);
    if (!buf)
        return NULL;
    t = weft__text_into(buf, t.len + 1);
    fill(arg, &t);
    *len = t.len;
    return buf;
}
