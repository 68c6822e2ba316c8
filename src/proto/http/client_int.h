/* SPDX-License-Identifier: MIT */
/*
 * The HTTP client's private parts, shared by its files:
 *   url.c          URLs: parsing, resolving a Location, endpoint strings
 *   client.c       the agent, requests (redirects, retries), response getters
 *   pool.c         persistent connections per destination
 *   client_conn.c  one connection: connecting, timers, writing requests
 *   client_read.c  reading responses with llhttp, the response body fount
 *
 * Ownership: the agent owns its pools and its live requests; a pool counts
 * its connections but each connection frees itself (refcounted: one
 * reference while its connect is pending, one while weft holds its
 * protocol, one per queued call). A response belongs to whoever holds it;
 * it and its connection point at each other while the body streams, and
 * either side unlinks the other when it goes.
 */
#ifndef WEFT_HC_INT_H
#define WEFT_HC_INT_H

#include <llhttp.h>

#include "../../core/internal.h"
#include "../../core/list.h"
#include "http_int.h" /* the HTTP layer's growable buffer, and weft's name */
#include "weft/endpoint.h"
#include "weft/failure.h"
#include "weft/flow.h"
#include "weft/http_client.h"
#include "weft/timer.h"
#include "weft/tls.h"

/* ---- URLs (url.c) ---- */

typedef struct weft__hc_url {
    bool https;
    char *host;   /* without brackets; an IPv6 literal as is */
    int port;
    char *target; /* path and query, at least "/"; no fragment */
} weft__hc_url;

/* 0, WEFT_EINVAL (not an http(s) URL weft accepts) or WEFT_ENOMEM; on
 * failure nothing is left to clear. */
int weft__hc_url_parse(const char *url, weft__hc_url *out);
void weft__hc_url_clear(weft__hc_url *u);
/* "scheme://host[:port]/target" (the port when not the scheme's default) */
char *weft__hc_url_string(const weft__hc_url *u);
/* The Host header: host[:port], IPv6 in brackets. */
char *weft__hc_url_host_header(const weft__hc_url *u);
/* The client endpoint string reaching the URL's host over TCP. */
char *weft__hc_url_endpoint(const weft__hc_url *u, double timeout);
/* A reference (a Location) resolved against an absolute base URL (RFC
 * 3986 section 5.2, fragments dropped); NULL when out of memory or when it
 * cannot be resolved. *relative says whether ref named no scheme or
 * authority (when not NULL). */
char *weft__hc_url_resolve(const char *base, const char *ref, bool *relative);
/* A Host header for a client endpoint string ("tcp:host=H:port=P"): H, or
 * H:P when P is not 80 (443 for tls:); "localhost" for UNIX sockets. */
char *weft__hc_endpoint_host(const char *endpoint);

/* ---- the agent, requests, responses (client.c) ---- */

typedef struct weft__hc_pool weft__hc_pool;
typedef struct weft__hc_conn weft__hc_conn;

struct weft_http_agent {
    weft_reactor *r;
    weft_http_agent_options o; /* defaults filled in; strings ours */
    weft_tls_context *tls;     /* for https URLs, made at the first */
    weft__list pools;
    weft__list reqs;
    bool closing;
};

typedef struct weft__hc_req {
    weft__list link;      /* in the agent's reqs */
    weft__list wait_link; /* in its pool's waiting list, when waiting */
    weft_timer queue_timer; /* while waiting, with a queue_timeout */
    weft_http_agent *a;
    weft_deferred *d; /* ours, fired once */
    weft__hc_pool *pool;
    weft__hc_conn *conn; /* connecting for it, or carrying it */
    char *method, *target, *host, *url; /* url NULL for request_to */
    char *endpoint, *key;               /* key: the pool's name */
    bool tls;                           /* wrap in TLS ourselves (https URLs) */
    char *server_name;
    weft_http_headers *headers;
    weft_fount *body; /* until joined to a connection */
    int64_t body_length;
    bool has_body, retried, waiting;
    bool redirect_target_only; /* request_to: a relative Location */
    unsigned redirects_left;
    char *redirect_to, *redirect_method; /* while a 3xx body is skipped */
} weft__hc_req;

struct weft_http_response {
    weft_fount body;
    weft_reactor *r;
    int status, version;
    char *reason, *url;
    weft_http_headers *headers;
    int64_t length;
    weft__hc_conn *conn;      /* while the body streams */
    weft_failure *pending_end; /* how the body ended, for a drain yet to join */
    weft_result content;       /* the body, read by weft_http_agent_fetch */
};

/* Ends the body with f (borrowed), now or, with no drain yet, once one
 * joins (so that it hears how, not just that, the body ended). */
void weft__hc_body_end(weft_http_response *resp, const weft_failure *f);

/* Whether a failed request may go again on a new connection (Twisted's
 * _shouldRetry: idempotent, no body, not retried yet). */
bool weft__hc_req_may_retry(const weft__hc_req *req);
/* The request goes again on a fresh connection. */
void weft__hc_req_retry(weft__hc_req *req);
/* Fires the request's Deferred with the response (which passes to it) or
 * the failure (whose reference passes too), and frees the request. */
void weft__hc_req_deliver(weft__hc_req *req, weft_http_response *resp);
void weft__hc_req_fail(weft__hc_req *req, weft_failure *f);
/* For a 3xx: whether to follow it; if so records where (and returns true). */
bool weft__hc_req_wants_redirect(weft__hc_req *req, int status, const weft_http_headers *h);
/* The skipped 3xx is over: go where it said. */
void weft__hc_req_follow(weft__hc_req *req);

/* ---- pools (pool.c) ---- */

struct weft__hc_pool {
    weft__list link; /* in the agent's pools */
    weft_http_agent *a;
    char *key;
    weft_endpoint *ep;
    bool tls;
    char *server_name;
    unsigned nconns, nidle;
    weft__list conns;   /* every connection counted */
    weft__list idle;    /* the idle ones, most recent first */
    weft__list waiting; /* requests waiting for a connection */
};

/* The pool for req's destination, made if needed; NULL with *err set. */
weft__hc_pool *weft__hc_pool_get(weft_http_agent *a, const weft__hc_req *req, weft_failure **err);
/* Gives req a connection: an idle one (unless fresh), a new one, or a
 * place in the queue. */
void weft__hc_pool_acquire(weft__hc_pool *p, weft__hc_req *req, bool fresh);
/* A waiting request gives up its place (and its queue timer). */
void weft__hc_pool_unqueue(weft__hc_req *req);
/* A connection finished a response and may be reused. */
void weft__hc_pool_release(weft__hc_conn *c);
/* A connection is gone (or never came): uncount it, serve the queue. */
void weft__hc_pool_remove(weft__hc_conn *c);
/* The agent goes: close idle connections, orphan busy ones, free pools. */
void weft__hc_pools_free(weft_http_agent *a);

/* ---- connections (client_conn.c) ---- */

struct weft__hc_conn {
    weft_protocol base;
    weft_factory factory;
    unsigned refs;
    weft_reactor *r;
    weft__hc_pool *pool; /* NULL once orphaned or uncounted */
    weft__list link;       /* in the pool's conns */
    weft__list idle_link;  /* in the pool's idle list */
    weft_transport *t;     /* from connection_made to connection_lost */
    weft_protocol *wrapper;
    weft_deferred *connecting;
    weft__hc_req *req;       /* waiting for its response */
    weft_http_response *resp;  /* whose body is streaming */
    weft_timer timer;          /* connect, response or idle timeout */
    unsigned served;           /* requests sent on it */
    /* copied from the agent, which may go first */
    double response_timeout;
    size_t max_header_bytes;
    bool built, made, chain_done, failed, timed_out, lost;
    bool counted, idle, reused, got_bytes, discard, interim, in_trailers;
    bool keep_alive, eof, eof_pending, read_paused, kick_queued, head;
    /* the response being parsed */
    llhttp_t parser;
    size_t head_bytes;
    weft__http_buf field;  /* a header's name, then its value after name_len */
    size_t name_len;
    weft__http_buf reason; /* NUL-terminated when complete */
    weft_http_headers *headers;
    weft_http_response *pending; /* parsed, to deliver */
    bool complete;               /* a message ended, to handle */
    /* bytes held while the body's consumer is not taking them */
    weft__http_buf stash;
    /* the request body going out */
    weft_drain up;
    weft_producer prod;
    int64_t up_left;
    bool up_active, up_chunked;
};

/* Between client_conn.c and client_read.c: */
bool weft__hc_conn_open(const weft__hc_conn *c);
void weft__hc_conn_unref(weft__hc_conn *c);
void weft__hc_conn_abort(weft__hc_conn *c);
/* The exchange under way fails: whoever waits hears f (the reference
 * passes), and the connection is dropped. */
void weft__hc_conn_fail(weft__hc_conn *c, weft_failure *f);
/* The streaming body ends with f (borrowed); the response is unlinked. */
void weft__hc_conn_end_body(weft__hc_conn *c, const weft_failure *f);
void weft__hc_conn_upload_abandon(weft__hc_conn *c);
/* The response timer: armed while the server owes us bytes. */
void weft__hc_conn_timer_arm(weft__hc_conn *c);
void weft__hc_conn_timer_stop(weft__hc_conn *c);
/* A fresh parser for the next response. */
void weft__hc_conn_parse_start(weft__hc_conn *c);
/* Parses bytes read (resumed: run llhttp even on none, after a pause). */
void weft__hc_conn_feed(weft__hc_conn *c, const char *data, size_t len, bool resumed);
/* The server's EOF, once what was held before it is parsed. */
void weft__hc_conn_finish_eof(weft__hc_conn *c);
/* Whether the body's consumer is not taking bytes (no drain, paused). */
bool weft__hc_conn_gated(const weft__hc_conn *c);

/* Connects for req (counted in p). 0 or WEFT_ENOMEM. */
int weft__hc_conn_connect(weft__hc_pool *p, weft__hc_req *req);
/* Sends req on the connection (connected and free). */
void weft__hc_conn_start(weft__hc_conn *c, weft__hc_req *req);
/* A request gives up its connection (cancelled): close it, or abandon
 * the connect. */
void weft__hc_conn_abandon(weft__hc_conn *c);
/* The pool put it aside: idle timer on, or closes. */
void weft__hc_conn_set_idle(weft__hc_conn *c, double idle_timeout);
void weft__hc_conn_close(weft__hc_conn *c);

#endif
