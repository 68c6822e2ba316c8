/* SPDX-License-Identifier: MIT */
/*
 * The resource tree (twisted.web.resource): children by path segment and a
 * handler per method, as a server's owner builds it. dispatch.c walks it.
 */
#include <string.h>

#include "http_int.h"

weft_http_resource *weft_http_resource_new(void)
{
    return weft_calloc(1, sizeof(weft_http_resource));
}

void weft_http_resource_free(weft_http_resource *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->nchildren; i++) {
        weft_free(res->children[i].name);
        weft_http_resource_free(res->children[i].res);
    }
    weft_free(res->children);
    for (size_t i = 0; i < res->nhandlers; i++)
        weft_free(res->handlers[i].method);
    weft_free(res->handlers);
    if (res->destroy)
        res->destroy(res->destroy_arg);
    weft_free(res);
}

weft_http_resource *weft__http_resource_find(const weft_http_resource *parent, const char *seg, size_t len)
{
    for (size_t i = 0; i < parent->nchildren; i++)
        if (parent->children[i].len == len && memcmp(parent->children[i].name, seg, len) == 0)
            return parent->children[i].res;
    return NULL;
}

int weft__http_resource_put(weft_http_resource *parent, const char *seg, size_t len, weft_http_resource *child_res)
{
    if (weft__http_resource_find(parent, seg, len)) {
        weft_http_resource_free(child_res);
        return -EEXIST;
    }
    if (parent->nchildren == parent->children_cap) {
        size_t cap = parent->children_cap ? parent->children_cap * 2 : 4;
        weft__http_child *v = weft_realloc(parent->children, cap * sizeof *v);
        if (!v) {
            weft_http_resource_free(child_res);
            return WEFT_ENOMEM;
        }
        parent->children = v;
        parent->children_cap = cap;
    }
    char *name = weft_malloc(len + 1);
    if (!name) {
        weft_http_resource_free(child_res);
        return WEFT_ENOMEM;
    }
    memcpy(name, seg, len);
    name[len] = 0;
    parent->children[parent->nchildren++] = (weft__http_child){name, len, child_res};
    return 0;
}

int weft_http_resource_put_child(weft_http_resource *parent, const char *segment, weft_http_resource *child_res)
{
    return weft__http_resource_put(parent, segment, strlen(segment), child_res);
}

weft_http_resource *weft_http_resource_child(const weft_http_resource *parent, const char *segment)
{
    return weft__http_resource_find(parent, segment, strlen(segment));
}

const weft__http_handler *weft__http_resource_handler(const weft_http_resource *res, const char *method)
{
    for (size_t i = 0; i < res->nhandlers; i++)
        if (strcmp(res->handlers[i].method, method) == 0)
            return &res->handlers[i];
    return NULL;
}

static int set_handler(weft_http_resource *res, const char *method, weft_http_handler_fn fn, weft_http_coro_fn coro,
                       void *arg)
{
    for (size_t i = 0; i < res->nhandlers; i++) {
        if (strcmp(res->handlers[i].method, method) == 0) {
            res->handlers[i].fn = fn;
            res->handlers[i].coro = coro;
            res->handlers[i].arg = arg;
            return 0;
        }
    }
    weft__http_handler *v = weft_realloc(res->handlers, (res->nhandlers + 1) * sizeof *v);
    if (!v)
        return WEFT_ENOMEM;
    res->handlers = v;
    char *m = weft_strdup(method);
    if (!m)
        return WEFT_ENOMEM;
    v[res->nhandlers++] = (weft__http_handler){m, fn, coro, arg};
    return 0;
}

int weft_http_resource_on(weft_http_resource *res, const char *method, weft_http_handler_fn fn, void *arg)
{
    return set_handler(res, method, fn, NULL, arg);
}

int weft_http_resource_on_coro(weft_http_resource *res, const char *method, weft_http_coro_fn fn, void *arg)
{
    return set_handler(res, method, NULL, fn, arg);
}

void weft_http_resource_set_leaf(weft_http_resource *res, bool leaf)
{
    res->leaf = leaf;
}

void weft_http_resource_set_child_fn(weft_http_resource *res, weft_http_child_fn fn, void *arg)
{
    res->child_fn = fn;
    res->child_arg = arg;
}

void weft_http_resource_set_destroy(weft_http_resource *res, weft_destroy_fn destroy, void *arg)
{
    res->destroy = destroy;
    res->destroy_arg = arg;
}

int weft_http_resource_mount(weft_http_resource *root, const char *prefix, weft_http_resource *res)
{
    while (*prefix == '/')
        prefix++;
    size_t plen = strlen(prefix);
    while (plen && prefix[plen - 1] == '/')
        plen--;
    if (plen == 0) {
        weft_http_resource_free(res);
        return WEFT_EINVAL;
    }
    weft_http_resource *at = root;
    const char *seg = prefix, *end = prefix + plen;
    for (;;) {
        const char *slash = memchr(seg, '/', (size_t)(end - seg));
        size_t len = slash ? (size_t)(slash - seg) : (size_t)(end - seg);
        if (!slash) {
            weft_http_resource_set_leaf(res, true);
            return weft__http_resource_put(at, seg, len, res);
        }
        weft_http_resource *next = weft__http_resource_find(at, seg, len);
        if (!next) {
            int rc = (next = weft_http_resource_new()) ? weft__http_resource_put(at, seg, len, next) : WEFT_ENOMEM;
            if (rc < 0) {
                weft_http_resource_free(res);
                return rc;
            }
        }
        at = next;
        seg = slash + 1;
    }
}

int weft_http_resource_mount_handler(weft_http_resource *root, const char *prefix, weft_http_handler_fn fn, void *arg)
{
    weft_http_resource *res = weft_http_resource_new();
    if (!res || weft_http_resource_on(res, "*", fn, arg) < 0) {
        weft_http_resource_free(res);
        return WEFT_ENOMEM;
    }
    return weft_http_resource_mount(root, prefix, res);
}

/* The leaf at prefix below root (root itself for "/"), made with the
 * resources on the way when there is none; NULL when out of memory. */
static weft_http_resource *leaf_at(weft_http_resource *root, const char *prefix)
{
    weft_http_resource *at = root;
    for (const char *seg = prefix + strspn(prefix, "/"); *seg; seg += strspn(seg, "/")) {
        size_t len = strcspn(seg, "/");
        weft_http_resource *next = weft__http_resource_find(at, seg, len);
        if (!next && (!(next = weft_http_resource_new()) || weft__http_resource_put(at, seg, len, next) < 0))
            return NULL; /* what it could not keep is freed */
        at = next;
        seg += len;
    }
    weft_http_resource_set_leaf(at, true);
    return at;
}

int weft_http_route(weft_http_resource *root, const char *method, const char *prefix, weft_http_handler_fn fn,
                    void *arg)
{
    weft_http_resource *res = leaf_at(root, prefix);
    return res ? weft_http_resource_on(res, method, fn, arg) : WEFT_ENOMEM;
}

int weft_http_route_coro(weft_http_resource *root, const char *method, const char *prefix, weft_http_coro_fn fn,
                         void *arg)
{
    weft_http_resource *res = leaf_at(root, prefix);
    return res ? weft_http_resource_on_coro(res, method, fn, arg) : WEFT_ENOMEM;
}
