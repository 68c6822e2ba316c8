/* SPDX-License-Identifier: MIT */
/*
 * The reverse proxy (twisted.web.proxy.ReverseProxyResource): a leaf
 * resource forwarding each request to an upstream server through an agent's
 * pool. The upstream target is `path` followed by the request's rest and
 * query, so a proxy mounted at /api with path "" sends /api/users?x=1 as
 * /users?x=1. Bodies stream both ways with backpressure; hop-by-hop headers
 * (Connection and the headers it names, Keep-Alive, Proxy-*, TE, Trailer,
 * Transfer-Encoding, Upgrade) are dropped; X-Forwarded-For (appended to),
 * X-Forwarded-Proto and X-Forwarded-Host are set. An upstream that cannot be
 * reached is a 502, one that times out a 504.
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

#endif
