/* SPDX-License-Identifier: MIT */
/*
 * The reverse proxy (twisted.web.proxy.ReverseProxyResource): a leaf
 * resource forwarding each request to an upstream server through an agent's
 * pool. The upstream target is `path` followed by the request's rest and
 * query, so a proxy mounted at /api with path "" sends /api/users?x=1 as
 * /users?x=1. Bodies stream both ways with backpressure.
 *
 * The rest is the resource walk's, from a path normalised before any
 * resource sees it (http_resource.h): /api/a/../b goes as /b, and
 * /api/../x is not the proxy's at all but /x's, so no dot segment can take
 * a request out from under the mount point on the upstream.
 *
 * What the proxy changes on the way:
 * - hop-by-hop headers (Connection and the headers it names, Keep-Alive,
 *   Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade) are dropped
 *   both ways, and so are Proxy-Authorization (the client's credentials for
 *   a proxy) and Proxy-Authenticate; X-Forwarded-For (appended to),
 *   X-Forwarded-Proto and X-Forwarded-Host are set.
 *
 * When the upstream does not answer: 503 when the request waited the
 * agent's queue_timeout for a pooled connection (the proxy is at its
 * max_per_host: it never reached the upstream), 504 when connecting or the
 * response timed out (connect_timeout, response_timeout), 502 for anything
 * else (refused, reset, a malformed response).
 *
 * Pool settings are the agent's (http_client.h), and an agent's defaults
 * are a client's: give proxies an agent of their own, sized for a proxy.
 * `weft web` uses max_per_host 256, max_idle 32, queue_timeout 5 s and
 * response_timeout 60 s (nginx's proxy_read_timeout); with the defaults'
 * 4 connections and no timeouts, four slow upstream requests hold up every
 * other request to that upstream for as long as they last.
 */
#ifndef WEFT_HTTP_PROXY_H
#define WEFT_HTTP_PROXY_H

#include "http_client.h"
#include "http_resource.h"

/* A proxy to the client endpoint `endpoint` ("tcp:host=127.0.0.1:port=9000",
 * "unix:/run/app.sock", "tls:host=..."), requests going through `agent`
 * (borrowed: it must outlive the resource). endpoint and path copied; path
 * may be NULL. NULL when out of memory. The endpoint string is parsed for
 * each request: check it first with weft_endpoint_client; a bad one shows
 * as 502 responses. */
WEFT_API weft_http_resource *weft_http_proxy_new(weft_http_agent *agent, const char *endpoint, const char *path);

/* The same for an upstream named by a URL, http://host[:port][/path] or
 * https://... (verified against the system's trusted roots, with the URL's
 * host as the name; for other roots, give a "tls:...:trustRoots=..."
 * endpoint to weft_http_proxy_new): its path is the upstream path, so with
 * "http://127.0.0.1:9000/public" mounted at /pub, /pub/x goes as /public/x.
 * url is copied; *out (the caller's) is the resource. 0, WEFT_EINVAL for
 * what is not such a URL (a query or fragment included), or WEFT_ENOMEM. */
WEFT_API int weft_http_proxy_new_url(weft_http_agent *agent, const char *url, weft_http_resource **out);

#endif
