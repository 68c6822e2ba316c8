/* SPDX-License-Identifier: MIT */
/*
 * A request's walk down the resource tree (twisted.web.resource's
 * getChildForRequest, then render): the path normalised, split into
 * decoded segments once, children first, then a leaf or a child function;
 * the handler for the method run (a coroutine on its own stack), or the
 * error page that stands for one.
 */
#include <string.h>

#include "weft/coro.h"
#include "http_int.h"

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

static void run_handler(weft_http_request *req, const weft__http_handler *h)
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
    const weft__http_handler *h = weft__http_resource_handler(res, method);
    if (!h && req->is_head)
        h = weft__http_resource_handler(res, "GET");
    if (!h)
        h = weft__http_resource_handler(res, "*");
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

/* One path however it was spelt, before any resource sees it, as nginx
 * does before it matches its locations (RFC 3986 6.2.2; path.c): in place,
 * as the path everything after the walk reads. Returns why it is refused,
 * or NULL. */
static const char *normalise(weft_http_request *req)
{
    char *path = req->str.data + req->path_off;
    if (!strpbrk(path, "%.")) /* nothing to do, as for most paths */
        return NULL;
    size_t len = strlen(path);
    bool climbed;
    if (weft__http_path_normalize(path, &len, &climbed) < 0)
        return "The path has a malformed %-escape.";
    if (climbed)
        return "The path climbs above the root.";
    path[len] = '\0';
    return NULL;
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
    const char *refused = normalise(req);
    if (refused) {
        weft_http_reply_error(req, 400, refused);
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
        weft_http_resource *next = weft__http_resource_find(res, seg, len);
        if (!next && res->leaf)
            break;
        if (!next && res->child_fn) {
            next = res->child_fn(res->child_arg, res, seg, len);
            if (next && weft__http_resource_put(res, seg, len, next) < 0)
                next = weft__http_resource_find(res, seg, len);
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
