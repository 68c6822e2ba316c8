/* SPDX-License-Identifier: MIT */
/*
 * The resource tree (twisted.web.resource): each resource has children by
 * path segment and a handler per method. A request's path is normalised
 * first, as nginx does before it matches locations (RFC 3986 6.2.2: escapes
 * of unreserved characters decoded, the others' hex digits in upper case,
 * dot segments removed by 5.2.4's remove_dot_segments; 400 for a ".." that
 * climbs above the root, or a '%' that starts no escape), so that however a
 * path is spelt it reaches one resource and no resource sees "." or "..".
 * It is then split on '/', each segment percent-decoded ("%2F" decodes
 * inside its segment), and walked from the root: a child put
 * under the next segment takes over (children are looked up first, even
 * below a leaf, as Twisted's getChildWithDefault does, so a proxy can be
 * mounted under a static directory); otherwise a resource marked leaf takes
 * the rest (the request's postpath), and one with a child function is asked
 * for the child. The resource reached answers with its handler for the
 * method; HEAD falls back on GET. Errors are rendered as HTML pages: 404 when
 * no resource matches, 405 with an Allow header when the method has no
 * handler, 500 when a coroutine handler returns a failure before responding,
 * 501 for methods the server does not know.
 *
 * Ownership: a resource owns its children and its handlers' destroy
 * arguments; the server owns its root. Resources are read-only once the
 * server runs, except through the child function.
 */
#ifndef WEFT_HTTP_RESOURCE_H
#define WEFT_HTTP_RESOURCE_H

#include "http_server.h"
#include "result.h"

/* Handles a request: respond now, or keep the request and finish later. */
typedef void (*weft_http_handler_fn)(void *arg, weft_http_request *req);
/* A coroutine handler (coro.h): runs on its own stack and may weft_await.
 * If it returns without finishing the request, weft finishes it: a failure
 * becomes a 500 page (or, once the headers are out, a closed connection);
 * a value is freed and the response finished as it stands. */
typedef weft_result (*weft_http_coro_fn)(void *arg, weft_http_request *req);
/* Builds (or finds) the child for a segment (decoded, len bytes), or NULL
 * for 404. A child it builds is kept by the parent under that name. */
typedef weft_http_resource *(*weft_http_child_fn)(void *arg, weft_http_resource *parent, const char *segment,
                                                  size_t len);

/* An empty resource (404 for every method until given handlers or
 * children); NULL when out of memory. */
WEFT_API weft_http_resource *weft_http_resource_new(void);
/* Frees res, its children and its destroy arguments. */
WEFT_API void weft_http_resource_free(weft_http_resource *res);

/* Puts child under `segment` (copied; "" is the child for a trailing slash,
 * as in Twisted). child passes to parent, even when this fails. Returns 0,
 * WEFT_ENOMEM, or -EEXIST when the name is taken. */
WEFT_API int weft_http_resource_put_child(weft_http_resource *parent, const char *segment,
                                          weft_http_resource *child);
/* The child named segment, or NULL. */
WEFT_API weft_http_resource *weft_http_resource_child(const weft_http_resource *parent, const char *segment);

/* The handler for `method` ("GET", ...; "*" for every method without its
 * own). Replaces the previous one. Returns 0 or WEFT_ENOMEM. */
WEFT_API int weft_http_resource_on(weft_http_resource *res, const char *method, weft_http_handler_fn fn, void *arg);
WEFT_API int weft_http_resource_on_coro(weft_http_resource *res, const char *method, weft_http_coro_fn fn,
                                        void *arg);
/* Leaf resources answer for every path below them (isLeaf). */
WEFT_API void weft_http_resource_set_leaf(weft_http_resource *res, bool leaf);
WEFT_API void weft_http_resource_set_child_fn(weft_http_resource *res, weft_http_child_fn fn, void *arg);
/* destroy(arg) runs when res is freed (for handler state). */
WEFT_API void weft_http_resource_set_destroy(weft_http_resource *res, weft_destroy_fn destroy, void *arg);

/*
 * The shorthand: mounts `res` (owned from then on) at a path prefix such as
 * "/api/v1" below root, making the resources on the way, and marks it leaf
 * so it answers for everything below the prefix. Returns 0, WEFT_ENOMEM,
 * -EEXIST, or WEFT_EINVAL for an empty prefix or "/" (give the root
 * itself handlers instead).
 */
WEFT_API int weft_http_resource_mount(weft_http_resource *root, const char *prefix, weft_http_resource *res);
/*
 * Routes: the leaf at prefix ("/api/time"; made, with the resources on the
 * way, if there is none; "/" is root itself) answers `method` with fn - a
 * coroutine handler for route_coro - for the prefix and everything below
 * it that no other route takes. Another method routed to the same prefix
 * joins it; those not routed get 405. Returns as weft_http_resource_on.
 */
WEFT_API int weft_http_route(weft_http_resource *root, const char *method, const char *prefix, weft_http_handler_fn fn,
                             void *arg);
WEFT_API int weft_http_route_coro(weft_http_resource *root, const char *method, const char *prefix,
                                  weft_http_coro_fn fn, void *arg);
/* mount with a new leaf answering every method with fn. */
WEFT_API int weft_http_resource_mount_handler(weft_http_resource *root, const char *prefix, weft_http_handler_fn fn,
                                              void *arg);

#endif
