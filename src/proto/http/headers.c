/* SPDX-License-Identifier: MIT */
/*
 * Header lists. The bytes of every name and value live in one arena
 * ("name\0value\0" each) and the pairs are offsets into it, so building a
 * request's list costs no allocation once the arena and the pair array have
 * grown to a connection's usual size, and clear() keeps both for the next
 * request. Removing leaves the arena bytes behind until clear: lists are
 * short-lived and removal is rare.
 */
#include <string.h>
#include <strings.h>

#include "http_int.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/http_headers.h"

typedef struct pair {
    size_t name, value; /* offsets into the arena */
} pair;

struct weft_http_headers {
    weft__http_buf arena;
    pair *pairs;
    size_t n, npairs_cap;
};

weft_http_headers *weft_http_headers_new(void)
{
    return weft_calloc(1, sizeof(weft_http_headers));
}

void weft_http_headers_free(weft_http_headers *h)
{
    if (!h)
        return;
    weft__http_buf_free(&h->arena);
    weft_free(h->pairs);
    weft_free(h);
}

void weft_http_headers_clear(weft_http_headers *h)
{
    weft__http_buf_clear(&h->arena);
    h->n = 0;
}

bool weft__http_is_token(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!weft__http_is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

static bool valid_value(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return false;
    return true;
}

static int reserve(weft_http_headers *h, size_t bytes)
{
    if (h->n == h->npairs_cap) {
        size_t cap = h->npairs_cap ? h->npairs_cap * 2 : 16;
        pair *p = weft_realloc(h->pairs, cap * sizeof *p);
        if (!p)
            return WEFT_ENOMEM;
        h->pairs = p;
        h->npairs_cap = cap;
    }
    return h->arena.cap - h->arena.len >= bytes ? 0 : weft__http_buf_reserve(&h->arena, bytes);
}

int weft_http_headers_addn(weft_http_headers *h, const char *name, size_t name_len, const char *value,
                           size_t value_len)
{
    if (!weft__http_is_token(name, name_len) || !valid_value(value, value_len))
        return WEFT_EINVAL;
    int rc = reserve(h, name_len + value_len + 2);
    if (rc)
        return rc;
    /* "name\0value\0", in the room reserved above */
    pair *p = &h->pairs[h->n++];
    char *at = h->arena.data + h->arena.len;
    memcpy(at, name, name_len);
    at[name_len] = '\0';
    memcpy(at + name_len + 1, value, value_len);
    at[name_len + 1 + value_len] = '\0';
    p->name = h->arena.len;
    p->value = p->name + name_len + 1;
    h->arena.len += name_len + value_len + 2;
    return 0;
}

int weft_http_headers_add(weft_http_headers *h, const char *name, const char *value)
{
    return weft_http_headers_addn(h, name, strlen(name), value, strlen(value));
}

size_t weft_http_headers_remove(weft_http_headers *h, const char *name)
{
    size_t kept = 0;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->arena.data + h->pairs[i].name, name) != 0)
            h->pairs[kept++] = h->pairs[i];
    size_t gone = h->n - kept;
    h->n = kept;
    return gone;
}

int weft_http_headers_set(weft_http_headers *h, const char *name, const char *value)
{
    size_t name_len = strlen(name), value_len = strlen(value);
    if (!weft__http_is_token(name, name_len) || !valid_value(value, value_len))
        return WEFT_EINVAL;
    /* Make room first, so a failure leaves the old pairs in place. */
    int rc = reserve(h, name_len + value_len + 2);
    if (rc)
        return rc;
    weft_http_headers_remove(h, name);
    return weft_http_headers_addn(h, name, name_len, value, value_len);
}

const char *weft_http_headers_get(const weft_http_headers *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->arena.data + h->pairs[i].name, name) == 0)
            return h->arena.data + h->pairs[i].value;
    return NULL;
}

size_t weft_http_headers_count_of(const weft_http_headers *h, const char *name)
{
    size_t c = 0;
    for (size_t i = 0; i < h->n; i++)
        c += strcasecmp(h->arena.data + h->pairs[i].name, name) == 0;
    return c;
}

static bool list_has(const char *list, const char *token, size_t tlen)
{
    const char *s = list;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *start = s;
        while (*s && *s != ',')
            s++;
        const char *end = s;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0)
            return true;
    }
    return false;
}

bool weft_http_headers_has_token(const weft_http_headers *h, const char *name, const char *token)
{
    size_t tlen = strlen(token);
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->arena.data + h->pairs[i].name, name) == 0 && list_has(h->arena.data + h->pairs[i].value, token, tlen))
            return true;
    return false;
}

size_t weft_http_headers_count(const weft_http_headers *h)
{
    return h->n;
}

void weft_http_headers_at(const weft_http_headers *h, size_t i, const char **name, const char **value)
{
    *name = h->arena.data + h->pairs[i].name;
    *value = h->arena.data + h->pairs[i].value;
}

weft_http_headers *weft_http_headers_copy(const weft_http_headers *src)
{
    weft_http_headers *h = weft_http_headers_new();
    if (!h || !src)
        return h;
    for (size_t i = 0; i < src->n; i++) {
        const char *n = src->arena.data + src->pairs[i].name, *v = src->arena.data + src->pairs[i].value;
        if (weft_http_headers_addn(h, n, strlen(n), v, strlen(v)) != 0) {
            weft_http_headers_free(h);
            return NULL;
        }
    }
    return h;
}
