/* SPDX-License-Identifier: MIT */
/*
 * The HTTP client's private parts, shared by its files, each calling only
 * those below it:
 *   client.c       the agent, requests (redirects, retries), response getters
 *   pool.c         persistent connections per destination
 *   client_conn.c  one connection: connecting, writing requests, its protocol
 *   client_read.c  reading responses with llhttp, the response body fount
 *   client_end.c   how a connection's exchanges end: closing, failing,
 *                  timers, the end of a body and of a response
 *   url.c          URLs: parsing, resolving a Location, endpoint strings
 * What goes up (a response for the request, a connection free again for
 * the pool) goes through the tables below, which client.c and pool.c
 * install.
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
typedef struct weft__hc_req weft__hc_req;

/* What the pool and the connections tell the request they serve. */
typedef struct weft__hc_req_ops {
    /* For a 3xx: whether the request follows it (recording where); its
     * body is then skipped, and follow called at its end. */
    bool (*redirect)(weft__hc_req *req, int status, const weft_http_headers *h);
    /* The response's head is in: it passes to the request, which is freed. */
    void (*deliver)(weft__hc_req *req, weft_http_response *resp);
    void (*follow)(weft__hc_req *req);
    /* The request fails (f's reference passes), and is freed. */
    void (*fail)(weft__hc_req *req, weft_failure *f);
    /* A pooled connection closed as it was reused, before any response:
     * go again on a new connection where allowed, else fail with f. */
    void (*stale)(weft__hc_req *req, weft_failure *f);
} weft__hc_req_ops;

/* What a connection tells its pool. */
typedef struct weft__hc_pool_ops {
    /* A response ended with keep-alive: c may serve another request. */
    void (*release)(weft__hc_conn *c);
    /* c is gone, or never came: no longer counted. */
    void (*remove)(weft__hc_conn *c);
} weft__hc_pool_ops;

struct weft_http_agent {
    weft_reactor *r;
    weft_http_agent_options o; /* defaults filled in; strings ours */
    weft_tls_context *tls;     /* for https URLs, made at the first */
    weft__list pools;
    weft__list reqs;
    bool closing;
};

struct weft__hc_req {
    const weft__hc_req_ops *ops;
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
};

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


/* ---- pools (pool.c) ---- */

struct weft__hc_pool {
    const weft__hc_pool_ops *ops;
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
    const char *why; /* why a callback refused it (static text), or NULL */
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

/* client_end.c */
bool weft__hc_conn_open(const weft__hc_conn *c);
void weft__hc_conn_unref(weft__hc_conn *c);
void weft__hc_conn_close(weft__hc_conn *c);
void weft__hc_conn_abort(weft__hc_conn *c);
/* The exchange under way fails: whoever waits hears f (the reference
 * passes), and the connection is dropped. */
void weft__hc_conn_fail(weft__hc_conn *c, weft_failure *f);
/* The request waiting on c fails (f's reference passes); c is left as it
 * is. */
void weft__hc_conn_fail_request(weft__hc_conn *c, weft_failure *f);
/* Ends the body with f (borrowed), now or, with no drain yet, once one
 * joins (so that it hears how, not just that, the body ended). */
void weft__hc_body_end(weft_http_response *resp, const weft_failure *f);
/* The streaming body ends with f (borrowed); the response is unlinked. */
void weft__hc_conn_end_body(weft__hc_conn *c, const weft_failure *f);
/* Lets go of the request body's fount, stopping it. */
void weft__hc_conn_upload_abandon(weft__hc_conn *c);
/* Whether the body's consumer is not taking bytes (no drain, paused). */
bool weft__hc_conn_gated(const weft__hc_conn *c);
/* The response timer: armed while the server owes us bytes. */
void weft__hc_conn_timer_arm(weft__hc_conn *c);
void weft__hc_conn_timer_stop(weft__hc_conn *c);
/* Idle in the pool: the idle timer on, or closes. */
void weft__hc_conn_set_idle(weft__hc_conn *c, double idle_timeout);
/* To the pool (pool.c's table): the response over with keep-alive (an
 * orphan, whose agent has gone, closes instead); gone. */
void weft__hc_conn_release(weft__hc_conn *c);
void weft__hc_conn_uncount(weft__hc_conn *c);

/* client_read.c */
/* A fresh parser for the next response. */
void weft__hc_conn_parse_start(weft__hc_conn *c);
/* Parses bytes read (resumed: run llhttp even on none, after a pause). */
void weft__hc_conn_feed(weft__hc_conn *c, const char *data, size_t len, bool resumed);
/* The server's EOF, once what was held before it is parsed. */
void weft__hc_conn_finish_eof(weft__hc_conn *c);

/* client_conn.c */
/* Connects for req (counted in p). 0 or WEFT_ENOMEM. */
int weft__hc_conn_connect(weft__hc_pool *p, weft__hc_req *req);
/* Sends req on the connection (connected and free). */
void weft__hc_conn_start(weft__hc_conn *c, weft__hc_req *req);
/* A request gives up its connection (cancelled): close it, or abandon
 * the connect. */
void weft__hc_conn_abandon(weft__hc_conn *c);

#endif
