/* SPDX-License-Identifier: MIT */
/*
 * Failures: one allocation holding the header and the formatted message.
 * When that allocation fails, a static failure stands in; its negative
 * reference count marks it as never to be freed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/failure.h"
#include "weft/result.h"

struct weft_failure {
    long refs; /* < 0: the static out-of-memory failure */
    int code;
    int line;
    const char *file;
    weft_failure *cause;
    char message[];
};

static weft_failure out_of_memory = {
    .refs = -1,
    .code = WEFT_ENOMEM,
    .file = __FILE__,
};

weft_failure *weft__failure_new(const char *file, int line, weft_failure *cause, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    weft_failure *f = weft_malloc(sizeof *f + (size_t)n + 1);
    if (!f) {
        weft_failure_unref(cause);
        return &out_of_memory;
    }
    va_start(ap, fmt);
    vsnprintf(f->message, (size_t)n + 1, fmt, ap);
    va_end(ap);
    f->refs = 1;
    f->code = code;
    f->file = file;
    f->line = line;
    f->cause = cause;
    return f;
}

weft_failure *weft_failure_ref(const weft_failure *f)
{
    /* Failures are immutable but for their count: a borrowed (const) one may
     * be kept, as connection_lost's reason often is. */
    weft_failure *mine = (weft_failure *)f;
    if (mine->refs > 0)
        mine->refs++;
    return mine;
}

void weft_failure_unref(weft_failure *f)
{
    /* A loop rather than recursion: cause chains can be long. */
    while (f && f->refs > 0 && --f->refs == 0) {
        weft_failure *cause = f->cause;
        weft_free(f);
        f = cause;
    }
}

void weft__result_failure_destroy(void *f)
{
    weft_failure_unref(f);
}

int weft_failure_code(const weft_failure *f)
{
    return f->code;
}

const char *weft_failure_message(const weft_failure *f)
{
    return f == &out_of_memory ? "out of memory" : f->message;
}

weft_failure *weft_failure_cause(const weft_failure *f)
{
    return f->cause;
}

const char *weft_failure_file(const weft_failure *f)
{
    return f->file;
}

int weft_failure_line(const weft_failure *f)
{
    return f->line;
}

bool weft_failure_check(const weft_failure *f, int code)
{
    return f->code == code;
}

weft_failure *weft_failure_find(const weft_failure *f, int code)
{
    for (; f; f = f->cause)
        if (f->code == code)
            return (weft_failure *)f;
    return NULL;
}

static size_t describe(const weft_failure *f, char *buf, size_t size, bool verbose)
{
    size_t len = 0;
    for (; f; f = f->cause) {
        char *at = len < size ? buf + len : NULL;
        size_t room = len < size ? size - len : 0;
        int n = verbose ? snprintf(at, room, "%s%s [%s at %s:%d]", len ? ": " : "", weft_failure_message(f),
                                   weft_err_name(f->code), f->file, f->line)
                        : snprintf(at, room, "%s%s", len ? ": " : "", weft_failure_message(f));
        if (n > 0)
            len += (size_t)n;
    }
    if (size && len == 0)
        buf[0] = '\0';
    return len;
}

size_t weft_failure_describe(const weft_failure *f, char *buf, size_t size)
{
    return describe(f, buf, size, false);
}

size_t weft_failure_describe_verbose(const weft_failure *f, char *buf, size_t size)
{
    return describe(f, buf, size, true);
}
