/* SPDX-License-Identifier: MIT */
/*
 * The resource tree (twisted.web.resource): children by path segment, a
 * handler per method, the walk from the root, and coroutine handlers.
 */
#include <string.h>

#include "weft/coro.h"
#include "http_int.h"

typedef struct child {
    char *name;
    size_t len;
    weft_http_resource *res;
} child;

typedef struct handler {
    char *method;
    weft_http_handler_fn fn;
    weft_http_coro_fn coro;
    void *arg;
} handler;

struct weft_http_resource {
    child *children;
    size_t nchildren, children_cap;
    handler *handlers;
    size_t nhandlers;
    bool leaf;
    weft_http_child_fn child_fn;
    void *child_arg;
    weft_destroy_fn destroy;
    void *destroy_arg;
};

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

static weft_http_resource *find_child(const weft_http_resource *parent, const char *seg, size_t len)
{
    for (size_t i = 0; i < parent->nchildren; i++)
        if (parent->children[i].len == len && memcmp(parent->children[i].name, seg, len) == 0)
            return parent->children[i].res;
    return NULL;
}

static int put_child(weft_http_resource *parent, const char *seg, size_t len, weft_http_resource *child_res)
{
    if (find_child(parent, seg, len)) {
        weft_http_resource_free(child_res);
        return -EEXIST;
    }
    if (parent->nchildren == parent->children_cap) {
        size_t cap = parent->children_cap ? parent->children_cap * 2 : 4;
        child *v = weft_realloc(parent->children, cap * sizeof *v);
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
    parent->children[parent->nchildren++] = (child){name, len, child_res};
    return 0;
}

int weft_http_resource_put_child(weft_http_resource *parent, const char *segment, weft_http_resource *child_res)
{
    return put_child(parent, segment, strlen(segment), child_res);
}

weft_http_resource *weft_http_resource_child(const weft_http_resource *parent, const char *segment)
{
    return find_child(parent, segment, strlen(segment));
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
    handler *v = weft_realloc(res->handlers, (res->nhandlers + 1) * sizeof *v);
    if (!v)
        return WEFT_ENOMEM;
    res->handlers = v;
    char *m = weft_strdup(method);
    if (!m)
        return WEFT_ENOMEM;
    v[res->nhandlers++] = (handler){m, fn, coro, arg};
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
            return put_child(at, seg, len, res);
        }
        weft_http_resource *next = find_child(at, seg, len);
        if (!next) {
            int rc = (next = weft_http_resource_new()) ? put_child(at, seg, len, next) : WEFT_ENOMEM;
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

/* ---- answering ---- */

static const handler *find_handler(const weft_http_resource *res, const char *method)
{
    for (size_t i = 0; i < res->nhandlers; i++)
        if (strcmp(res->handlers[i].method, method) == 0)
            return &res->handlers[i];
    return NULL;
}

static weft_result coro_main(void *arg)
{
    weft_http_request *req = arg;
    weft_result r = req->coro_fn(req->coro_arg, req);
    if (!req->handler_done) {
        if (weft_failed(r)) {
            if (req->headers_sent)
                weft_http_reply_abort(req);
            else
                weft_http_reply_error(req, 500, NULL);
        } else {
            weft_http_reply_finish(req);
        }
    }
    weft_result_free(r);
    req->busy--;
    weft__http_request_release(req);
    return weft_none();
}

static void run_handler(weft_http_request *req, const handler *h)
{
    if (h->fn) {
        h->fn(h->arg, req);
        return;
    }
    req->coro_fn = h->coro;
    req->coro_arg = h->arg;
    req->busy++;
    weft_deferred *d = weft_coro_spawn(req->r, coro_main, req);
    if (!d) {
        req->busy--;
        weft_http_reply_error(req, 503, "Out of memory.");
        return;
    }
    weft_deferred_unref(d);
}

static bool known_method(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return true;
    return false;
}

/* What Allow lists for res: its handlers' methods, HEAD where GET is, and
 * OPTIONS, which the server answers for a resource without a handler for
 * it. */
static void allow_list(const weft_http_resource *res, char *allow, size_t size)
{
    size_t n = 0;
    bool get = false, head = false, options = false;
    allow[0] = 0;
    for (size_t i = 0; i <= res->nhandlers + 1; i++) {
        const char *m = i < res->nhandlers ? res->handlers[i].method : i == res->nhandlers ? "HEAD" : "OPTIONS";
        if (i == res->nhandlers && (!get || head))
            continue;
        if (i == res->nhandlers + 1 && options)
            continue;
        get |= strcmp(m, "GET") == 0;
        head |= strcmp(m, "HEAD") == 0;
        options |= strcmp(m, "OPTIONS") == 0;
        size_t l = strlen(m);
        if (strcmp(m, "*") == 0 || n + l + 3 > size)
            continue;
        if (n) {
            memcpy(allow + n, ", ", 2);
            n += 2;
        }
        memcpy(allow + n, m, l + 1);
        n += l;
    }
}

static void answer(weft_http_request *req, weft_http_resource *res)
{
    const char *method = weft_http_request_method(req);
    const handler *h = find_handler(res, method);
    if (!h && req->is_head)
        h = find_handler(res, "GET");
    if (!h)
        h = find_handler(res, "*");
    if (h) {
        run_handler(req, h);
        return;
    }
    if (res->nhandlers == 0) {
        weft_http_reply_error(req, 404, "No such resource.");
        return;
    }
    bool options = req->parser_method == HTTP_OPTIONS;
    if (!options && !known_method(method)) {
        weft_http_reply_error(req, 501, "The method is not implemented.");
        return;
    }
    char allow[256];
    allow_list(res, allow, sizeof allow);
    if (weft_http_reply_set_header(req, "Allow", allow) < 0) {
        weft_http_reply_error(req, 503, "Out of memory.");
        return;
    }
    /* RFC 9110 9.3.7: what the resource can do, with a Content-Length of 0 */
    if (options)
        weft_http_reply(req, 200, NULL, "", 0);
    else
        weft_http_reply_error(req, 405, "The method is not allowed for this resource.");
}

static int add_segment(weft_http_request *req, const char *enc, size_t len)
{
    if (!weft__http_buf_room(&req->str, len + 1) || !weft__http_buf_room(&req->segs, 2 * sizeof(size_t)))
        return WEFT_ENOMEM;
    size_t off = req->str.len;
    size_t dlen = weft_http_percent_decode(req->str.data + off, enc, len, 0);
    req->str.data[off + dlen] = 0;
    req->str.len += dlen + 1;
    size_t pair[2] = {off, dlen};
    memcpy(req->segs.data + req->segs.len, pair, sizeof pair);
    req->segs.len += sizeof pair;
    req->nsegs++;
    return 0;
}

void weft__http_dispatch(weft_http_request *req)
{
    weft_http_resource *res = req->server->root;
    const char *path = weft_http_request_path(req);
    if (strcmp(path, "*") == 0) {
        /* OPTIONS * asks about the server, not a resource. */
        if (req->parser_method == HTTP_OPTIONS) {
            if (weft_http_reply_set_header(req, "Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH") < 0)
                weft_http_reply_error(req, 503, "Out of memory.");
            else
                weft_http_reply(req, 200, NULL, "", 0);
        } else {
            weft_http_reply_error(req, 400, "'*' is a target for OPTIONS only.");
        }
        return;
    }
    if (path[0] != '/') {
        weft_http_reply_error(req, 400, "The request's target is malformed.");
        return;
    }
    /* Split and decode every segment once; the walk then moves an index. */
    size_t path_off = req->path_off;
    const char *p = path + 1;
    for (;;) {
        size_t len = strcspn(p, "/");
        size_t pos = (size_t)(p - path);
        if (add_segment(req, p, len) < 0) {
            weft_http_reply_error(req, 503, "Out of memory.");
            return;
        }
        path = req->str.data + path_off; /* str may have moved */
        p = path + pos + len;
        if (*p != '/')
            break;
        p++;
    }
    /* segment offsets in the encoded path, to find the rest */
    size_t i = 0, enc = 0;
    const size_t *segs = (const size_t *)(const void *)req->segs.data;
    while (i < req->nsegs) {
        const char *seg = req->str.data + segs[2 * i];
        size_t len = segs[2 * i + 1];
        /* Children first, even below a leaf (http_resource.h): a proxy
         * mounted under a static directory takes its prefix. */
        weft_http_resource *next = find_child(res, seg, len);
        if (!next && res->leaf)
            break;
        if (!next && res->child_fn) {
            next = res->child_fn(res->child_arg, res, seg, len);
            if (next && put_child(res, seg, len, next) < 0)
                next = find_child(res, seg, len);
        }
        if (!next) {
            if (len == 0 && i + 1 == req->nsegs)
                break; /* a trailing slash: the resource itself */
            weft_http_reply_error(req, 404, "No such resource.");
            return;
        }
        res = next;
        path = req->str.data + path_off;
        enc += 1 + strcspn(path + enc + 1, "/");
        i++;
    }
    req->postpath_first = i;
    req->rest_off = path_off + enc;
    answer(req, res);
}
