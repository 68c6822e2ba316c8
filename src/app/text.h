/* SPDX-License-Identifier: MIT */
/*
 * What the console and the metrics share: text written snprintf-style into
 * a caller's buffer of any size (0 included), counting the length the whole
 * would need, so that a caller sizes with one pass and fills with a second.
 * Private to src/app.
 */
#ifndef WEFT_APP_TEXT_H
#define WEFT_APP_TEXT_H

#include <stddef.h>

#include "weft/base.h"

typedef struct weft__text {
    char *buf;  /* the caller's; NUL-terminated when size > 0 */
    size_t size, len;
} weft__text;

static inline weft__text weft__text_into(char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    return (weft__text){buf, size, 0};
}

void weft__text_put(weft__text *t, const char *fmt, ...) WEFT_PRINTF(2, 3);

/* Runs fill(arg, text) twice: to size, then into memory of that size (the
 * caller's, weft_free). NULL when out of memory; *len its length. */
char *weft__text_make(void (*fill)(void *arg, weft__text *t), void *arg, size_t *len);

#endif
