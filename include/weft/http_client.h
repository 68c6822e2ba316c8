/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.1 client (twisted.web.client's Agent and HTTPConnectionPool).
 * An agent sends requests and keeps a pool of persistent connections per
 * destination; a request returns a Deferred of the response as soon as its
 * headers are in, and the body then streams as a fount, with backpressure
 * (pausing it stops reading the connection). A connection goes back to the
 * pool when its response body has been read to the end.
 *
 *     weft_deferred *d = weft_http_agent_request(agent, "GET",
 *                            "https://example.org/", NULL, NULL, 0);
 *     ... d fires with a weft_http_response *; then
 *     weft_http_response_read_body(resp) -> a Deferred of weft_bytes.
 *
 * Lifetime: the agent outlives its requests' Deferreds (freeing it cancels
 * what is under way and closes pooled connections). A response is the
 * Deferred's value; its body fount is valid as long as the response.
 */
#ifndef WEFT_HTTP_CLIENT_H
#define WEFT_HTTP_CLIENT_H

#include <stdint.h>

#include "base.h"
#include "flow.h"
#include "http_headers.h"

typedef struct weft_http_agent weft_http_agent;
typedef struct weft_http_response weft_http_response;

/* Every field's 0 (or NULL) means its default. */
typedef struct weft_http_agent_options {
    unsigned max_per_host;  /* connections open per destination: 4; more requests wait */
    unsigned max_idle;      /* idle persistent connections kept per destination: 2 */
    double idle_timeout;    /* an idle pooled connection closes after: 240 s */
    double connect_timeout; /* resolve + connect (+ TLS handshake): 30 s */
    /* How long a request may wait for a connection while max_per_host are
     * busy: then it fails with WEFT_ETIMEDOUT, caused by WEFT_EBUSY (so
     * weft_failure_find(f, WEFT_EBUSY) tells this wait from the server's
     * slowness). 0: no limit - it waits its turn, however long. */
    double queue_timeout;
    /* From sending the request to the response's headers, and then between
     * body bytes: WEFT_ETIMEDOUT. 0: none. */
    double response_timeout;
    /* Redirects followed (301, 302, 303, 307, 308; 303 and, for POST, 301/302
     * become GET without a body): 0 means none - the 3xx is the response.
     * Past the limit (a loop), the last 3xx is the response. A redirect that
     * would send the body again (307/308, or 301/302 for PUT) is not
     * followed, the body having gone; one to another origin drops
     * Authorization, Proxy-Authorization and Cookie. */
    unsigned max_redirects;
    /* https: a CA file or directory to trust instead of the system's store. */
    const char *trust_roots;
    /* The largest response header block accepted: 64 KiB. */
    size_t max_header_bytes;
    /* User-Agent sent when the request has none; NULL: "weft/VERSION";
     * "": none. */
    const char *user_agent;
} weft_http_agent_options;

/* NULL when out of memory. opts copied (NULL: defaults). */
WEFT_API weft_http_agent *weft_http_agent_new(weft_reactor *r, const weft_http_agent_options *opts);
WEFT_API void weft_http_agent_free(weft_http_agent *a);

/*
 * Sends a request to an http:// or https:// URL. headers are copied (NULL
 * for none; Host, Content-Length and the hop-by-hop fields - Connection and
 * what it names, Keep-Alive, Proxy-Connection, TE, Trailer,
 * Transfer-Encoding, Upgrade - are the agent's, and left out). body, when not NULL, is a fount the agent joins to the
 * connection once it has one and takes from until it ends (body_length
 * bytes, or -1 for a chunked body of unknown length); if the request fails
 * first, the agent stops it (weft_fount_stop), so the flow always ends.
 * weft_fount_of_bytes (flow.h) makes one from a buffer. Returns a Deferred (the caller's) of a
 * weft_http_response (destroy: weft_http_response_free), or of a failure:
 * WEFT_EINVAL for a bad URL, connect and TLS failures as the endpoints give
 * them, WEFT_EHTTP for a malformed response, WEFT_ETIMEDOUT (connect,
 * response or queue timeout). Cancelling it
 * before the response comes closes the connection. NULL when out of memory.
 */
WEFT_API weft_deferred *weft_http_agent_request(weft_http_agent *a, const char *method, const char *url,
                                                const weft_http_headers *headers, weft_fount *body,
                                                int64_t body_length);
/*
 * The same through a client endpoint string (endpoint.h: "tcp:host=H:port=P",
 * "unix:/run/app.sock", "tls:..."), with the request target as it goes on
 * the request line ("/path?q"); the Host header is taken from headers (or
 * the endpoint's host). Connections are pooled per endpoint string. For
 * reverse proxies and for servers on UNIX sockets.
 */
WEFT_API weft_deferred *weft_http_agent_request_to(weft_http_agent *a, const char *endpoint, const char *method,
                                                   const char *target, const weft_http_headers *headers,
                                                   weft_fount *body, int64_t body_length);

/*
 * A request and its whole body in one Deferred (treq's get + content): it
 * fires with the response once the body has been read - at most max bytes
 * (0: no limit), else -EMSGSIZE - which weft_http_response_content then
 * gives. Failures as weft_http_agent_request's. NULL when out of memory.
 * In a coroutine:
 *     weft_result r = weft_await_timeout(weft_http_agent_fetch(agent, "GET", url, 0), 10);
 */
WEFT_API weft_deferred *weft_http_agent_fetch(weft_http_agent *a, const char *method, const char *url, size_t max);

/* ---- the response ---- */
WEFT_API int weft_http_response_status(const weft_http_response *resp);
WEFT_API const char *weft_http_response_reason(const weft_http_response *resp);
/* 10 or 11 */
WEFT_API int weft_http_response_version(const weft_http_response *resp);
WEFT_API const weft_http_headers *weft_http_response_headers(const weft_http_response *resp);
/* The URL finally answered (after redirects); for request_to, the target. */
WEFT_API const char *weft_http_response_url(const weft_http_response *resp);
/* Content-Length, or -1 when the body is chunked or delimited by the close. */
WEFT_API int64_t weft_http_response_content_length(const weft_http_response *resp);
/* The body: emits its bytes, ends with WEFT_EOF after the last (the
 * connection then returns to the pool) or with a failure (WEFT_EHTTP,
 * WEFT_ETIMEDOUT, the connection lost before the end, WEFT_ECANCELED when
 * the response is freed first). Nothing is read from the connection until
 * a drain joins the fount (join it from the response's callback, or soon
 * after): bytes are never dropped for want of a drain. Stopping it closes
 * the connection. A body-less response (HEAD, 204, 304, Content-Length: 0)
 * has ended already, and its connection is back in the pool. */
WEFT_API weft_fount *weft_http_response_body(weft_http_response *resp);
/* The whole body (twisted's readBody): a Deferred of weft_bytes, failing
 * with -EMSGSIZE past max bytes (0: no limit). */
WEFT_API weft_deferred *weft_http_response_read_body(weft_http_response *resp, size_t max);
/* The body weft_http_agent_fetch read: len bytes, not NUL-terminated,
 * borrowed from resp (which may change them in place); NULL for a response
 * from weft_http_agent_request. */
WEFT_API char *weft_http_response_content(const weft_http_response *resp, size_t *len);
/* Frees the response; an unread body is abandoned and its connection
 * closed rather than pooled. */
WEFT_API void weft_http_response_free(weft_http_response *resp);

#endif
