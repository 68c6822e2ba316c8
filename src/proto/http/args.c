/* SPDX-License-Identifier: MIT */
/*
 * Argument lists (http_args.h), and what a request keeps of its arguments,
 * forms and cookies (form_int.h), made on first use. The names and values
 * live in one arena ("name\0value\0" each) and the pairs are offsets into
 * it, as in a header list.
 */
#include <string.h>

#include "form_int.h"
#include "http_int.h"

typedef struct pair {
    size_t name, name_len, value, value_len; /* offsets into the arena */
} pair;

struct weft_http_args {
    weft__http_buf arena;
    pair *pairs;
    size_t n, cap;
};

weft_http_args *weft_http_args_new(void)
{
    return weft_calloc(1, sizeof(weft_http_args));
}

void weft_http_args_free(weft_http_args *a)
{
    if (!a)
        return;
    weft__http_buf_free(&a->arena);
    weft_free(a->pairs);
    weft_free(a);
}

/* Room for `more` pairs and `bytes` arena bytes, so that what follows
 * cannot fail half-way. */
static int reserve(weft_http_args *a, size_t more, size_t bytes)
{
    if (more > a->cap - a->n) {
        size_t cap = a->cap ? a->cap : 8;
        while (cap - a->n < more)
            cap *= 2;
        pair *p = weft_realloc(a->pairs, cap * sizeof *p);
        if (!p)
            return WEFT_ENOMEM;
        a->pairs = p;
        a->cap = cap;
    }
    return weft__http_buf_reserve(&a->arena, bytes);
}

/* Decodes into the arena (room reserved) and NUL-terminates. */
static size_t put_decoded(weft_http_args *a, const char *s, size_t n, size_t *len)
{
    size_t off = a->arena.len;
    *len = weft_http_percent_decode(a->arena.data + off, s, n, WEFT_HTTP_PERCENT_PLUS);
    a->arena.data[off + *len] = '\0';
    a->arena.len += *len + 1;
    return off;
}

int weft_http_args_parse(weft_http_args *a, const char *text, size_t len, size_t max)
{
    if (!max)
        max = WEFT_HTTP_ARGS_MAX;
    /* Count first: a limit hit costs this scan and nothing else. */
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] != '&' && (i == 0 || text[i - 1] == '&'))
            count++;
    if (count > max || a->n > max - count)
        return -E2BIG;
    if (len > SIZE_MAX / 2 || reserve(a, count, len + 2 * count) < 0)
        return WEFT_ENOMEM;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *vstart = eq ? eq + 1 : stop;
            pair *q = &a->pairs[a->n++];
            q->name = put_decoded(a, p, (size_t)((eq ? eq : stop) - p), &q->name_len);
            q->value = put_decoded(a, vstart, (size_t)(stop - vstart), &q->value_len);
        }
        p = stop + 1;
    }
    return 0;
}

int weft_http_args_add(weft_http_args *a, const char *name, size_t name_len, const char *value, size_t value_len)
{
    if (name_len > SIZE_MAX / 2 - 2 || value_len > SIZE_MAX / 2 || reserve(a, 1, name_len + value_len + 2) < 0)
        return WEFT_ENOMEM;
    pair *q = &a->pairs[a->n++];
    q->name = weft__http_buf_add_str(&a->arena, name, name_len);
    q->name_len = name_len;
    q->value = weft__http_buf_add_str(&a->arena, value, value_len);
    q->value_len = value_len;
    return 0;
}

size_t weft_http_args_count(const weft_http_args *a)
{
    return a ? a->n : 0;
}

void weft_http_args_at(const weft_http_args *a, size_t i, const char **name, size_t *name_len, const char **value,
                       size_t *value_len)
{
    const pair *q = a && i < a->n ? &a->pairs[i] : NULL;
    if (name)
        *name = q ? a->arena.data + q->name : NULL;
    if (name_len)
        *name_len = q ? q->name_len : 0;
    if (value)
        *value = q ? a->arena.data + q->value : NULL;
    if (value_len)
        *value_len = q ? q->value_len : 0;
}

static bool named(const weft_http_args *a, const pair *q, const char *name, size_t len)
{
    return q->name_len == len && memcmp(a->arena.data + q->name, name, len) == 0;
}

/* The n-th pair named name, or NULL. */
static const pair *find(const weft_http_args *a, const char *name, size_t n)
{
    if (!a)
        return NULL;
    size_t len = strlen(name);
    for (size_t i = 0; i < a->n; i++)
        if (named(a, &a->pairs[i], name, len) && n-- == 0)
            return &a->pairs[i];
    return NULL;
}

const char *weft_http_args_get_nth(const weft_http_args *a, const char *name, size_t n, size_t *len)
{
    const pair *q = find(a, name, n);
    if (len)
        *len = q ? q->value_len : 0;
    return q ? a->arena.data + q->value : NULL;
}

const char *weft_http_args_get(const weft_http_args *a, const char *name, size_t *len)
{
    return weft_http_args_get_nth(a, name, 0, len);
}

size_t weft_http_args_count_of(const weft_http_args *a, const char *name)
{
    size_t n = 0, len = strlen(name);
    for (size_t i = 0; a && i < a->n; i++)
        n += named(a, &a->pairs[i], name, len);
    return n;
}

char *weft_http_args_encode(const weft_http_args *a, size_t *len)
{
    weft__http_buf b = {0};
    weft__http_buf_add(&b, "", 0);
    for (size_t i = 0; a && i < a->n; i++) {
        const pair *q = &a->pairs[i];
        /* '&', the name, '=', the value: escapes at most triple */
        if (!weft__http_buf_room(&b, 3 * (q->name_len + q->value_len) + 3))
            break;
        if (i)
            b.data[b.len++] = '&';
        b.len += weft_http_percent_encode(b.data + b.len, 3 * q->name_len + 1, a->arena.data + q->name, q->name_len,
                                          WEFT_HTTP_PERCENT_FORM);
        b.data[b.len++] = '=';
        b.len += weft_http_percent_encode(b.data + b.len, 3 * q->value_len + 1, a->arena.data + q->value,
                                          q->value_len, WEFT_HTTP_PERCENT_FORM);
    }
    size_t n = b.len;
    char *s = weft__http_buf_take(&b);
    if (len)
        *len = s ? n : 0;
    return s;
}

/* ---- the request's ---- */

weft__http_parsed *weft__http_parsed_of(weft_http_request *req)
{
    if (!req->parsed)
        req->parsed = weft_calloc(1, sizeof *req->parsed);
    return req->parsed;
}

void weft__http_parsed_free(weft__http_parsed *p)
{
    if (!p)
        return;
    weft_http_args_free(p->args);
    weft_http_args_free(p->cookies);
    weft_free(p);
}
