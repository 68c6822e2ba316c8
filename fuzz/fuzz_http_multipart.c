/* SPDX-License-Identifier: MIT */
/*
 * The multipart/form-data parser. Any Content-Type and body are parsed or
 * refused, and splitting cannot change the outcome: the body fed whole and
 * fed in pieces of pseudo-random sizes, with callbacks that now and then
 * say "not now" (as a paused part does), gives the same parts, the same
 * bytes and the same ending. Parts nest properly (data only inside a part,
 * every begin ended once).
 *
 * Input: the Content-Type value, a newline, then the body.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/proto/http/form_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* What a run saw, as one byte string: "B name\0filename\0type\0", "D"
 * bytes, "E", and finally the outcome. Consecutive data is merged, since
 * where bytes are cut is the splitter's business. */
typedef struct run {
    weft__http_buf log;
    bool in_part, in_data;
    unsigned seed; /* for "not now" */
    bool later_ok;
} run;

static int say_later(run *r)
{
    if (!r->later_ok)
        return 0;
    r->seed = r->seed * 1103515245u + 12345u;
    return (r->seed >> 16) % 5 == 0 ? WEFT__MP_LATER : 0;
}

static int begin(void *arg, const weft__http_mp_part *p)
{
    run *r = arg;
    if (r->in_part || !p->name || !p->headers)
        abort();
    r->in_part = true;
    r->in_data = false;
    weft__http_buf_add(&r->log, "B", 1);
    weft__http_buf_add(&r->log, p->name, strlen(p->name) + 1);
    weft__http_buf_add(&r->log, p->filename ? p->filename : "-", strlen(p->filename ? p->filename : "-") + 1);
    weft__http_buf_add(&r->log, p->content_type ? p->content_type : "-",
                       strlen(p->content_type ? p->content_type : "-") + 1);
    return 0;
}

static int data(void *arg, const char *d, size_t n)
{
    run *r = arg;
    if (!r->in_part || n == 0)
        abort();
    if (say_later(r))
        return WEFT__MP_LATER;
    if (!r->in_data)
        weft__http_buf_add(&r->log, "D", 1);
    r->in_data = true;
    weft__http_buf_add(&r->log, d, n);
    return 0;
}

static int end(void *arg)
{
    run *r = arg;
    if (!r->in_part)
        abort();
    if (say_later(r))
        return WEFT__MP_LATER;
    r->in_part = r->in_data = false;
    weft__http_buf_add(&r->log, "E", 1);
    return 0;
}

static const weft__http_mp_ops ops = {begin, data, end};

/* Feeds body in pieces (0: whole); returns the log. */
static bool feed_all(const char *ctype, const char *body, size_t len, unsigned seed, run *r)
{
    *r = (run){.seed = seed, .later_ok = seed != 0};
    weft__http_mp_limits lim = {.max_parts = 20, .max_header_bytes = 256};
    int err;
    const char *why;
    weft__http_mp *m = weft__http_mp_new(ctype, &lim, &ops, r, &err, &why);
    if (!m) {
        if (err != WEFT_EHTTP && err != WEFT_ENOMEM)
            abort();
        return false;
    }
    size_t off = 0;
    long rc = 0;
    unsigned s = seed;
    int stuck = 0;
    while (off < len) {
        size_t piece = len - off;
        if (seed) {
            s = s * 1664525u + 1013904223u;
            size_t k = 1 + (s >> 8) % 97;
            piece = piece < k ? piece : k;
        }
        rc = weft__http_mp_feed(m, body + off, piece, &why);
        if (rc < 0)
            break;
        if ((size_t)rc > piece)
            abort();
        off += (size_t)rc;
        /* "not now" is random: it gives way within a few tries */
        stuck = rc == 0 ? stuck + 1 : 0;
        if (stuck > 1000)
            abort();
    }
    int fin = rc < 0 ? (int)rc : weft__http_mp_finish(m, &why);
    while (fin == WEFT__MP_LATER) {
        rc = weft__http_mp_feed(m, "", 0, &why);
        fin = rc < 0 ? (int)rc : weft__http_mp_finish(m, &why);
        if (++stuck > 1000)
            abort();
    }
    if (fin != 0 && fin != WEFT_EHTTP && fin != -E2BIG && fin != WEFT_ENOMEM)
        abort();
    if (fin != 0 && !why && fin != WEFT_ENOMEM)
        abort(); /* a refusal says why */
    if (fin == 0 && r->in_part)
        abort(); /* a finished body has no part open */
    char outcome[16];
    int n = fin == 0 ? 1 : fin == WEFT_EHTTP ? 2 : fin == -E2BIG ? 3 : 4;
    outcome[0] = '#';
    outcome[1] = (char)('0' + n);
    weft__http_buf_add(&r->log, outcome, 2);
    weft__http_mp_free(m);
    return true;
}

int LLVMFuzzerTestOneInput(const unsigned char *in, size_t size)
{
    const unsigned char *nl = memchr(in, '\n', size);
    if (!nl)
        return 0;
    size_t clen = (size_t)(nl - in);
    char *ctype = malloc(clen + 1);
    if (!ctype)
        return 0;
    memcpy(ctype, in, clen);
    ctype[clen] = '\0';
    const char *body = (const char *)nl + 1;
    size_t len = size - clen - 1;

    run whole, split;
    bool a = feed_all(ctype, body, len, 0, &whole);
    bool b = feed_all(ctype, body, len, 1 + (unsigned)size, &split);
    if (a != b)
        abort();
    if (a && !whole.log.failed && !split.log.failed &&
        (whole.log.len != split.log.len || memcmp(whole.log.data, split.log.data, whole.log.len) != 0))
        abort(); /* where the body is cut changed what was read */
    weft__http_buf_free(&whole.log);
    weft__http_buf_free(&split.log);
    free(ctype);
    return 0;
}
