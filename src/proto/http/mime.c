/* SPDX-License-Identifier: MIT */
/*
 * The extension -> Content-Type table, from a mime.types file ("type ext
 * ext ..." per line, '#' comments). The file is read once into one buffer,
 * cut into NUL-terminated words in place, and the entries pointing at them
 * sorted for binary search: one lookup per response, no allocation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "static_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

/* For a system without /etc/mime.types (Debian's media-types provides it). */
static const char builtin_types[] = "text/html html htm\n"
                                    "text/css css\n"
                                    "text/javascript js mjs\n"
                                    "text/plain txt\n"
                                    "text/markdown md\n"
                                    "application/json json\n"
                                    "application/xml xml\n"
                                    "application/pdf pdf\n"
                                    "application/wasm wasm\n"
                                    "image/png png\n"
                                    "image/jpeg jpg jpeg\n"
                                    "image/gif gif\n"
                                    "image/svg+xml svg svgz\n"
                                    "image/webp webp\n"
                                    "image/x-icon ico\n"
                                    "font/woff woff\n"
                                    "font/woff2 woff2\n"
                                    "video/mp4 mp4\n"
                                    "audio/mpeg mp3\n";

/* Extensions are compared without regard to case; the line number breaks
 * ties so the first line naming an extension is the one kept. */
typedef struct ranked {
    weft__mime_entry e;
    size_t line;
} ranked;

static int by_ext(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    int c = strcasecmp(x->e.ext, y->e.ext);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

int weft__mime_parse(weft_http_mime *m, const char *text, size_t len)
{
    memset(m, 0, sizeof *m);
    m->text = weft_malloc(len + 1);
    if (!m->text)
        return WEFT_ENOMEM;
    memcpy(m->text, text, len);
    m->text[len] = '\0';
    /* Every extension is at least one word: a bound for the entries. */
    size_t words = 0;
    for (size_t i = 0; i < len; i++)
        words += !space(text[i]) && text[i] != '\n' && (i == 0 || space(text[i - 1]) || text[i - 1] == '\n');
    ranked *v = weft_malloc((words ? words : 1) * sizeof *v);
    if (!v) {
        weft_free(m->text);
        m->text = NULL;
        return WEFT_ENOMEM;
    }
    size_t n = 0, line = 0;
    char *p = m->text;
    while (*p) {
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        if (eol)
            *eol = '\0';
        char *hash = strchr(p, '#');
        if (hash)
            *hash = '\0';
        const char *type = NULL;
        for (char *w = p; *w;) {
            while (space(*w))
                w++;
            if (!*w)
                break;
            char *end = w;
            while (*end && !space(*end))
                end++;
            bool more = *end != '\0';
            *end = '\0';
            if (!type)
                type = w;
            else
                v[n++] = (ranked){{w, type}, line};
            w = more ? end + 1 : end;
        }
        line++;
        p = next;
    }
    qsort(v, n, sizeof *v, by_ext);
    /* Kept in place: entries are a prefix of v, reused as the table. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || strcasecmp(v[i].e.ext, v[kept - 1].e.ext) != 0)
            v[kept++] = v[i];
    weft__mime_entry *entries = weft_malloc((kept ? kept : 1) * sizeof *entries);
    if (!entries) {
        weft_free(v);
        weft_free(m->text);
        m->text = NULL;
        return WEFT_ENOMEM;
    }
    for (size_t i = 0; i < kept; i++)
        entries[i] = v[i].e;
    weft_free(v);
    m->v = entries;
    m->n = kept;
    return 0;
}

/* Reads a whole file; 0, -ENOENT..., or WEFT_ENOMEM. */
static int slurp(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* Room for the whole file and the 0-byte read that ends it (a file
     * growing meanwhile, or one whose size is not known, grows the buffer). */
    struct stat st;
    size_t cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
    char *buf = weft_malloc(cap);
    int err = buf ? 0 : WEFT_ENOMEM;
    while (!err) {
        if (n == cap) {
            char *bigger = weft_realloc(buf, cap * 2);
            if (!bigger) {
                err = WEFT_ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got == 0)
            break;
        if (got < 0 && errno != EINTR)
            err = -errno;
        else if (got > 0)
            n += (size_t)got;
    }
    close(fd);
    if (err) {
        weft_free(buf);
        return err;
    }
    *out = buf;
    *len = n;
    return 0;
}

int weft_http_mime_load(const char *path, weft_http_mime **out)
{
    weft_http_mime *m = weft_malloc(sizeof *m);
    if (!m)
        return WEFT_ENOMEM;
    char *text = NULL;
    size_t len = 0;
    int err = slurp(path ? path : "/etc/mime.types", &text, &len);
    if (err == -ENOENT)
        err = weft__mime_parse(m, builtin_types, sizeof builtin_types - 1);
    else if (err == 0)
        err = weft__mime_parse(m, text, len);
    weft_free(text);
    if (err < 0) {
        weft_free(m);
        return err;
    }
    *out = m;
    return 0;
}

void weft_http_mime_free(weft_http_mime *m)
{
    if (!m)
        return;
    weft_free(m->v);
    weft_free(m->text);
    weft_free(m);
}

static int find_ext(const void *key, const void *elem)
{
    return strcasecmp(key, ((const weft__mime_entry *)elem)->ext);
}

const char *weft_http_mime_type(const weft_http_mime *m, const char *name, const char *dflt)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    /* ".bashrc" has no extension; "a." an empty one. */
    if (!dot || dot == base || !dot[1])
        return dflt;
    const weft__mime_entry *e = bsearch(dot + 1, m->v, m->n, sizeof *m->v, find_ext);
    return e ? e->type : dflt;
}
