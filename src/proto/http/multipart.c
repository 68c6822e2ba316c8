/* SPDX-License-Identifier: MIT */
/*
 * multipart/form-data (RFC 7578 over RFC 2046 §5.1): the parser, with no
 * I/O. It takes the body in pieces of any size and calls back with each
 * part's headers, its bytes and its end; form.c drives it from a request
 * body and turns parts into fields or founts.
 *
 * What an attacker tries, and what stops it (each has a test in
 * test_http_multipart.c; the fuzz target fuzz_http_multipart feeds any
 * bytes split anywhere):
 *
 *  - A huge number of parts (tiny parts of a few dozen bytes): max_parts
 *    (1000) counts every part, file or not; past it, 400. Fields also
 *    count against the request's max_fields.
 *  - A delimiter split across reads at every position: the state carries
 *    how much of "\r\n--boundary" has matched; nothing is copied to do it,
 *    because a partial match is a prefix of the delimiter itself.
 *  - A body made of delimiter-like prefixes ("\r\n--bounda\r\n--bou..."):
 *    a match can start only at a CR, and the delimiter has one CR (the
 *    boundary's characters cannot include it), so a mismatch never backs
 *    up: each byte is looked at a bounded number of times (at most the
 *    delimiter's length, 74) and the held-back bytes are never stored.
 *  - Header floods inside a part (many lines, or one endless line):
 *    max_header_bytes (8 KiB) per part's header block; past it, 400.
 *  - Ambiguities two parsers could read differently: two
 *    Content-Disposition or Content-Type headers, a parameter given twice,
 *    obs-fold, a bare LF, control bytes in a header, anything but
 *    padding, CRLF or "--" after a delimiter: all 400, never a guess.
 *  - A missing or bad boundary (none, empty, longer than 70, characters
 *    outside RFC 2046's bchars), a part without Content-Disposition:
 *    form-data or without a name: 400.
 *  - A body that ends early (no close delimiter): 400, and a file part cut
 *    short ends its fount with the failure, never with EOF, so a truncated
 *    upload cannot pass for a whole one.
 *  - A client that never ends, or sends slowly: the preamble, the epilogue
 *    and a file part's bytes cost no memory here; the request's max_body
 *    (413) and body_timeout (408) bound them, as for any body.
 *  - A file part read slower than it arrives: the part's fount pauses the
 *    request body, which stops reading the connection; what was read and
 *    not yet delivered is at most one read.
 *  - Fields (non-file parts, and file parts when the handler takes no
 *    files) are held in memory: max_field_bytes (1 MiB) for all of them
 *    together; past it, 413.
 */
#include <string.h>
#include <strings.h>

#include "form_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

enum { MAX_BOUNDARY = 70 };

enum state {
    S_PREAMBLE,   /* before the first delimiter: ignored */
    S_AFTER,      /* after a delimiter: "--", or padding and CRLF */
    S_HEADERS,    /* a part's header block */
    S_BODY,       /* a part's bytes */
    S_PART_END,   /* a part ended; its part_end is owed */
    S_EPILOGUE,   /* after the close delimiter: ignored */
    S_FAILED,
};

/* Sub-states of S_AFTER. */
enum { A_START, A_DASH, A_PAD, A_CR };

struct weft__http_mp {
    const weft__http_mp_ops *ops;
    void *arg;
    weft__http_mp_limits lim;
    char delim[4 + MAX_BOUNDARY]; /* "\r\n--" boundary */
    size_t dlen;
    enum state state;
    int after;
    size_t match; /* bytes of delim matched and held back */
    weft__http_buf head; /* the header block being read */
    size_t line_start;
    weft_http_headers *headers;
    weft__http_buf strs; /* the part's name, filename, content type */
    size_t parts;
    bool in_part; /* part_begin has been called, part_end not yet */
    int err;
    const char *why;
};

static long fail(weft__http_mp *m, int code, const char *why)
{
    m->state = S_FAILED;
    m->err = code;
    m->why = why;
    return code;
}

/* RFC 2046 bchars: DIGIT ALPHA ' ( ) + _ , - . / : = ? and space (not last). */
static bool bchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("'()+_,-./:=? ", c) != NULL);
}

weft__http_mp *weft__http_mp_new(const char *content_type, const weft__http_mp_limits *lim, const weft__http_mp_ops *ops,
                                  void *arg, int *err, const char **why)
{
    weft__http_buf b = {0};
    long off = weft__http_param(content_type, "boundary", &b);
    *why = NULL;
    if (off < 0) {
        weft__http_buf_free(&b);
        *err = off == WEFT_ENOMEM ? WEFT_ENOMEM : WEFT_EHTTP;
        *why = off == -ENOENT ? "multipart/form-data without a boundary" : "a malformed Content-Type";
        return NULL;
    }
    const char *bd = b.data + off;
    size_t blen = strlen(bd);
    bool ok = blen > 0 && blen <= MAX_BOUNDARY && bd[blen - 1] != ' ';
    for (size_t i = 0; ok && i < blen; i++)
        ok = bchar((unsigned char)bd[i]);
    weft__http_mp *m = ok ? weft_calloc(1, sizeof *m) : NULL;
    if (m)
        m->headers = weft_http_headers_new();
    if (!m || !m->headers) {
        weft__http_buf_free(&b);
        weft_free(m);
        *err = ok ? WEFT_ENOMEM : WEFT_EHTTP;
        *why = ok ? NULL : "a bad multipart boundary (1 to 70 characters of RFC 2046's set)";
        return NULL;
    }
    m->ops = ops;
    m->arg = arg;
    m->lim = *lim;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, bd, blen);
    m->dlen = 4 + blen;
    /* The body starts as if after a CRLF: the first delimiter may open it. */
    m->match = 2;
    weft__http_buf_free(&b);
    return m;
}

void weft__http_mp_free(weft__http_mp *m)
{
    if (!m)
        return;
    weft__http_buf_free(&m->head);
    weft__http_buf_free(&m->strs);
    weft_http_headers_free(m->headers);
    weft_free(m);
}

/* Part bytes to the callback (the preamble's go nowhere). */
static int emit(weft__http_mp *m, const char *p, size_t n)
{
    if (!n || m->state == S_PREAMBLE)
        return 0;
    return m->ops->part_data(m->arg, p, n);
}

/*
 * Looks for the delimiter in p[0..n), giving what precedes it to emit.
 * Returns the bytes taken, *found when they end with a whole delimiter;
 * fewer than n without it when emit said LATER or failed (*rc).
 */
static size_t scan(weft__http_mp *m, const char *p, size_t n, bool *found, int *rc)
{
    const char *d = m->delim;
    size_t dlen = m->dlen, i = 0;
    *found = false;
    *rc = 0;
    if (m->match) {
        size_t k = m->match;
        while (i < n && k < dlen && p[i] == d[k])
            i++, k++;
        if (k == dlen) {
            m->match = 0;
            *found = true;
            return i;
        }
        if (i == n) {
            m->match = k;
            return n;
        }
        /* Not a delimiter: what matched is data, and is d's prefix. Only
         * p[i] may start the next match (d's one CR is at its start). */
        if ((*rc = emit(m, d, k)) != 0)
            return 0;
        m->match = 0;
    }
    size_t start = i;
    while (i < n) {
        const char *cr = memchr(p + i, '\r', n - i);
        if (!cr)
            break;
        size_t j = (size_t)(cr - p), cmp = n - j < dlen ? n - j : dlen;
        if (memcmp(p + j, d, cmp) == 0) {
            if ((*rc = emit(m, p + start, j - start)) != 0)
                return start;
            if (cmp == dlen) {
                *found = true;
                return j + dlen;
            }
            m->match = cmp; /* the rest may come in the next piece */
            return n;
        }
        i = j + 1;
    }
    if ((*rc = emit(m, p + start, n - start)) != 0)
        return start;
    return n;
}

/* The header block (without its final empty line) into m->headers, then
 * what RFC 7578 requires of it. */
static long parse_headers(weft__http_mp *m, weft__http_mp_part *part)
{
    weft_http_headers_clear(m->headers);
    weft__http_buf_clear(&m->strs);
    const char *p = m->head.data, *end = m->head.data + m->head.len - 2;
    while (p < end) {
        /* each line ends "\r\n" (headers_in made sure); a CR before that
         * is a control character in the value, refused below */
        const char *eol = (const char *)memchr(p, '\n', (size_t)(end + 2 - p)) - 1;
        if (*p == ' ' || *p == '\t')
            return fail(m, WEFT_EHTTP, "a folded header line in a part");
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        size_t nlen = colon ? (size_t)(colon - p) : 0;
        for (size_t i = 0; i < nlen; i++)
            if (!weft__http_is_tchar((unsigned char)p[i]))
                nlen = 0;
        if (!nlen)
            return fail(m, WEFT_EHTTP, "a malformed header line in a part");
        const char *v = colon + 1, *vend = eol;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        for (const char *c = v; c < vend; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
                return fail(m, WEFT_EHTTP, "a control character in a part's header");
        if (weft_http_headers_addn(m->headers, p, nlen, v, (size_t)(vend - v)) < 0)
            return fail(m, WEFT_ENOMEM, NULL);
        p = eol + 2;
    }
    part->headers = m->headers;
    if (weft_http_headers_count_of(m->headers, "content-disposition") != 1)
        return fail(m, WEFT_EHTTP, "a part without one Content-Disposition");
    if (weft_http_headers_count_of(m->headers, "content-type") > 1)
        return fail(m, WEFT_EHTTP, "a part with two Content-Types");
    const char *cd = weft_http_headers_get(m->headers, "content-disposition");
    size_t tlen;
    const char *type = weft__http_param_type(cd, &tlen);
    if (!type || tlen != 9 || strncasecmp(type, "form-data", 9) != 0)
        return fail(m, WEFT_EHTTP, "a part whose Content-Disposition is not form-data");
    long name = weft__http_param(cd, "name", &m->strs);
    if (name == WEFT_ENOMEM)
        return fail(m, WEFT_ENOMEM, NULL);
    if (name < 0)
        return fail(m, WEFT_EHTTP, name == -ENOENT ? "a part without a name" : "a malformed Content-Disposition");
    long filename = weft__http_param(cd, "filename", &m->strs);
    if (filename == WEFT_ENOMEM || (filename < 0 && filename != -ENOENT))
        return fail(m, filename == WEFT_ENOMEM ? WEFT_ENOMEM : WEFT_EHTTP, "a malformed Content-Disposition");
    part->name = m->strs.data + name;
    part->filename = filename >= 0 ? m->strs.data + filename : NULL;
    part->content_type = weft_http_headers_get(m->headers, "content-type");
    return 0;
}

/* Header bytes from p[0..n): returns how many were taken (*done when they
 * complete the block, ending with its empty line) or a negative code. */
static long headers_in(weft__http_mp *m, const char *p, size_t n, bool *done)
{
    size_t i = 0;
    *done = false;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t take = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
        if (take > m->lim.max_header_bytes - m->head.len)
            return fail(m, WEFT_EHTTP, "a part's headers are too large");
        weft__http_buf_append(&m->head, p + i, take);
        if (m->head.failed)
            return fail(m, WEFT_ENOMEM, NULL);
        i += take;
        if (!nl)
            break;
        size_t line = m->head.len - m->line_start;
        if (line < 2 || m->head.data[m->head.len - 2] != '\r')
            return fail(m, WEFT_EHTTP, "a bare LF in a part's headers");
        if (line == 2) {
            *done = true;
            break;
        }
        m->line_start = m->head.len;
    }
    return (long)i;
}

/* The bytes after a delimiter: "--" ends the body; else optional padding
 * (RFC 2046's transport-padding) and CRLF start a part. */
static long after_in(weft__http_mp *m, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        switch (m->after) {
        case A_START:
            if (c == '-') {
                m->after = A_DASH;
                break;
            }
            /* fall through */
        case A_PAD:
            if (c == ' ' || c == '\t')
                m->after = A_PAD;
            else if (c == '\r')
                m->after = A_CR;
            else
                return fail(m, WEFT_EHTTP, "a malformed multipart delimiter");
            break;
        case A_DASH:
            if (c != '-')
                return fail(m, WEFT_EHTTP, "a malformed multipart delimiter");
            m->state = S_EPILOGUE;
            return (long)i + 1;
        case A_CR:
            if (c != '\n')
                return fail(m, WEFT_EHTTP, "a malformed multipart delimiter");
            if (m->parts++ >= m->lim.max_parts)
                return fail(m, -E2BIG, "too many parts in the form");
            m->state = S_HEADERS;
            weft__http_buf_clear(&m->head);
            m->line_start = 0;
            return (long)i + 1;
        }
    }
    return (long)n;
}

long weft__http_mp_feed(weft__http_mp *m, const char *data, size_t len, const char **why)
{
    size_t i = 0;
    long r = 0;
    while (m->state != S_FAILED && (i < len || m->state == S_PART_END)) {
        const char *p = data + i;
        size_t n = len - i;
        switch (m->state) {
        case S_PREAMBLE:
        case S_BODY: {
            bool found;
            int rc;
            size_t took = scan(m, p, n, &found, &rc);
            i += took;
            if (rc == WEFT__MP_LATER)
                return (long)i;
            if (rc < 0) {
                fail(m, rc, NULL);
                break;
            }
            if (found) {
                m->state = m->in_part ? S_PART_END : S_AFTER;
                m->after = A_START;
            }
            break;
        }
        case S_PART_END: {
            int rc = m->ops->part_end(m->arg);
            if (rc == WEFT__MP_LATER)
                return (long)i;
            if (rc < 0) {
                fail(m, rc, NULL);
                break;
            }
            m->in_part = false;
            m->state = S_AFTER;
            break;
        }
        case S_AFTER:
            if ((r = after_in(m, p, n)) >= 0)
                i += (size_t)r;
            break;
        case S_HEADERS: {
            bool done;
            if ((r = headers_in(m, p, n, &done)) < 0)
                break;
            i += (size_t)r;
            if (!done)
                break;
            weft__http_mp_part part;
            if (parse_headers(m, &part) < 0)
                break;
            int rc = m->ops->part_begin(m->arg, &part);
            if (rc < 0) {
                fail(m, rc, NULL);
                break;
            }
            m->in_part = true;
            m->state = S_BODY;
            break;
        }
        case S_EPILOGUE:
            i = len;
            break;
        case S_FAILED:
            break;
        }
    }
    if (m->state == S_FAILED) {
        *why = m->why;
        return m->err;
    }
    return (long)i;
}

int weft__http_mp_finish(weft__http_mp *m, const char **why)
{
    *why = m->why;
    switch (m->state) {
    case S_FAILED:
        return m->err;
    case S_EPILOGUE:
        return 0;
    case S_PART_END:
        return WEFT__MP_LATER;
    case S_PREAMBLE:
        fail(m, WEFT_EHTTP, "no multipart delimiter in the body");
        break;
    default:
        fail(m, WEFT_EHTTP, "the form ended without its closing delimiter");
        break;
    }
    *why = m->why;
    return m->err;
}
