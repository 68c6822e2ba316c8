/* SPDX-License-Identifier: MIT */
/*
 * What the server's files share: the server, its connections (one llhttp
 * parser each) and the request, which is also its response. Private.
 *
 * A request is held by up to three parties, and is freed (or kept as the
 * connection's spare, so the next request allocates nothing) when none
 * holds it: the handler (until it finishes the response), the connection's
 * queue (until the response has been handed to the transport whole) and
 * the parser (until the request's last body byte). `busy` counts internal
 * holds (a coroutine still running, a file being sent).
 */
#ifndef WEFT_HTTP_INT_H
#define WEFT_HTTP_INT_H

#include <llhttp.h>
#include <string.h>

#include "../../core/internal.h"
#include "buf.h"
#include "../../core/list.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/http_resource.h"
#include "weft/http_server.h"
#include "weft/reactor.h"
#include "weft/timer.h"
#include "weft/transport.h"

/* The Server header and the agent's User-Agent: the version CMake builds. */
#define WEFT__HTTP_SERVER_NAME "weft/" WEFT_VERSION_STRING

/* The sizes the server's files tune by, each chosen here once. */
enum {
    /* A file read by the server itself (a chunked body, a transport that
     * cannot sendfile) goes in pieces of this: the transport's high-water
     * mark (transport.h), so that one piece fills what the transport holds
     * before it pauses the reading. */
    WEFT__HTTP_FILE_PIECE = WEFT__HIGH_WATER,
    /* Files up to this are read at once and written with the head in one
     * write: cheaper than sendfile's own system calls and a packet of its
     * own for the head. */
    WEFT__HTTP_SMALL_FILE = 16 * 1024,
    /* Body bytes written borrowed are lent to the transport from this size
     * up; below it a copy costs less than keeping track of the loan. */
    WEFT__HTTP_BORROW_MIN = 16 * 1024,
    /* Up to this much still to come, a request body nobody reads is read
     * and dropped so that the connection can be kept (a socket buffer's
     * worth, often in already); past it, reading what nobody wants costs
     * more than the client's next connection, and this one is closed. */
    WEFT__HTTP_DROP_MAX = 64 * 1024,
    /* A request whose response buffer grew past this is freed, not kept as
     * the connection's spare: the usual response buffers far less (only a
     * response waiting behind a pipelined one buffers at all). */
    WEFT__HTTP_SPARE_MAX = 64 * 1024,
};

struct weft_http_server {
    weft_factory factory;
    weft_reactor *r;
    weft_http_resource *root;
    weft_http_server_options opt; /* defaults filled in; server_name unused */
    char *server_line;            /* "Server: x\r\n", or NULL for none */
    weft_http_headers *extra;     /* added to every response; NULL when none */
    weft__list conns;
    size_t refs; /* the owner's, each connection's and each request's */
    bool freeing;
    bool stopping; /* quiesced: no more keep-alive */
    weft_failure *eof; /* the end of every body */
    long long date_sec; /* the second `date` was formatted for */
    char date[WEFT_HTTP_DATE_SIZE];
};

typedef struct weft__http_conn weft__http_conn;

/* What the connection's one timer waits for. NONE (nothing from the
 * client) becomes SEND: a response may be stuck on a client that reads
 * nothing. */
enum { WEFT__HT_NONE, WEFT__HT_IDLE, WEFT__HT_HEADER, WEFT__HT_BODY, WEFT__HT_LINGER, WEFT__HT_SEND };

/*
 * What a request's side (request.c, response.c) tells the connection that
 * carries it. The connection drives its requests and their responses; they
 * call back up only through this table, which it installs.
 */
typedef struct weft__http_conn_ops {
    /* req's response is over and handed to the transport whole: the next
     * one in the queue may write. */
    void (*response_done)(weft__http_conn *c, weft_http_request *req);
    /* Closes the connection once what is written has gone (abort: now). */
    void (*close)(weft__http_conn *c, bool abort);
} weft__http_conn_ops;

struct weft__http_conn {
    weft_protocol base;
    const weft__http_conn_ops *ops;
    weft_http_server *server;
    weft_transport *t; /* NULL once the connection is gone */
    llhttp_t parser;
    weft__list link;  /* in server->conns */
    weft__list queue; /* dispatched requests whose response is not out whole */
    unsigned queued;
    weft_http_request *cur;   /* the request being parsed */
    weft_http_request *spare; /* a finished request kept for reuse */
    weft__http_buf field, value;
    size_t header_bytes, nheaders;
    /* bytes read but not parsed while parsing is paused */
    weft__http_buf held;
    size_t held_off;
    bool parser_paused, in_execute, reading_paused, no_more, lost, dead;
    bool resume_posted;
    bool linger, lingering; /* refused: close by half-closing, then reading out */
    size_t lingered;
    weft__post resume_post;
    /* the buffer llhttp is parsing, and the end of the one before, to see
     * what precedes a header value */
    const char *buf_start;
    char tail[64];
    size_t tail_len;
    int final_status; /* an error page to send once the queue is empty */
    const char *final_detail;
    bool final_head; /* its request was a HEAD: the page's head alone */
    weft__http_buf scratch; /* a response head being built */
    weft__http_buf small_file; /* a small file read to go out with its head */
    weft_timer timer;
    bool timer_armed;
    int timer_kind;
    double deadline;
    size_t send_mark; /* bytes buffered when the send timer was set */
};

struct weft_http_request {
    weft__http_conn *conn; /* NULL once the connection is gone */
    weft_http_server *server;
    weft_reactor *r;
    weft__list link; /* in conn->queue */

    /* method, target, path, query, host, decoded segments: NUL-terminated,
     * at offsets into str */
    weft__http_buf str;
    size_t target_off, path_off, host_off;
    long query_off; /* -1: no '?' */
    weft__http_buf segs; /* (offset, length) pairs of the postpath */
    size_t postpath_first, nsegs, rest_off;
    int version;
    uint8_t parser_method; /* llhttp's method */
    bool is_head;
    weft_http_headers *headers;
    size_t te_count, cl_count, host_count;
    long host_idx, expect_idx; /* indexes in headers, -1: none */
    bool te_bad, te_unknown, te_chunked;

    /* the body */
    weft_fount body;
    int64_t content_length;
    uint64_t max_body, body_received;
    weft__http_buf held_body; /* a span parsed while the body could not flow */
    bool parsing, dispatched, in_queue, active, handler_done, resp_done;
    bool body_discard, expect_continue, continue_sent, keep_alive;
    unsigned busy;

    /* the response */
    int status;
    char *reason;
    weft_http_headers *resp;
    bool headers_sent, chunked, has_length, no_body, aborted;
    uint64_t resp_length, resp_sent;
    weft__http_buf out; /* what waits for the earlier responses */
    weft_producer *producer;
    weft_producer proxy; /* what the transport holds for producer */
    bool streaming, prod_registered, prod_paused, tpaused, whole;
    bool cut; /* finished short of its Content-Length: the client saw a cut body */
    weft_drain drain;
    weft_producer drain_producer;
    struct weft__http_file *file;
    bool finish_after_file;
    weft_deferred **notify;
    size_t nnotify;
    /* a coroutine handler */
    weft_http_coro_fn coro_fn;
    void *coro_arg;
    struct weft__http_parsed *parsed; /* args and cookies, made on demand (form_int.h) */
};

/* server_ref.c */
const char *weft__http_date(weft_http_server *s);
void weft__http_server_unref(weft_http_server *s);

/* connection.c: for the server, which makes and closes its connections. */
weft_protocol *weft__http_conn_new(weft_http_server *s);
void weft__http_conn_close(weft__http_conn *c, bool abort);
/* The server is stopping: an idle connection closes unless a request comes
 * soon (answered, with Connection: close). */
void weft__http_conn_quiesce(weft__http_conn *c);

/* request.c */
weft_http_request *weft__http_request_new(weft__http_conn *c);
void weft__http_request_reset(weft_http_request *req);
void weft__http_request_free(weft_http_request *req);
/* Frees (or recycles) req if nobody holds it any more. */
void weft__http_request_release(weft_http_request *req);
/* The connection is gone: req lives on until its handler finishes. */
void weft__http_request_detach(weft_http_request *req, const weft_failure *why);
/* Ends the body fount with a failure of this code. */
void weft__http_request_fail_body(weft_http_request *req, int code, const char *what);
/* Delivers the held body span, if the body can flow now. */
void weft__http_request_flush_body(weft_http_request *req);
bool weft__http_body_blocked(const weft_http_request *req);
/* Splits the target into path, query and host; < 0 when malformed. */
int weft__http_request_parse_target(weft_http_request *req, bool connect);

/* args.c: what weft__http_parsed holds goes with the request. */
void weft__http_parsed_free(struct weft__http_parsed *p);

/* response.c */
/* Sends the head, and status/close framing for a response decided now. */
int weft__http_respond_internal(weft_http_request *req, int status, const char *ctype, const void *body, size_t len,
                                bool close);
/* The queue reached req: what it buffered goes out, its producer runs. */
/* Returns true when req's response was already finished (and is now out). */
bool weft__http_response_activate(weft_http_request *req);
void weft__http_response_lost(weft_http_request *req, const weft_failure *why);
int weft__http_write_100(weft_http_request *req);
/* A whole response with no request object (refused before dispatch); for
 * a HEAD (head), the page's head alone (RFC 9110 9.3.2). */
int weft__http_conn_error_response(weft__http_conn *c, int status, const char *detail, bool head);

/* headers.c */
/* Whether s (len bytes) is an RFC 9110 token: a header name, a method. */
bool weft__http_is_token(const char *s, size_t len);

/* error_page.c */
int weft__http_error_body(weft__http_buf *out, int status, const char *detail);

/* access_log.c */
void weft__http_access_log(weft_http_request *req);

/* resource.c: the tree, as its owner built it */
typedef struct weft__http_child {
    char *name;
    size_t len;
    weft_http_resource *res;
} weft__http_child;

typedef struct weft__http_handler {
    char *method;
    weft_http_handler_fn fn; /* or, when NULL: */
    weft_http_coro_fn coro;
    void *arg;
} weft__http_handler;

struct weft_http_resource {
    weft__http_child *children;
    size_t nchildren, children_cap;
    weft__http_handler *handlers;
    size_t nhandlers;
    bool leaf;
    weft_http_child_fn child_fn;
    void *child_arg;
    weft_destroy_fn destroy;
    void *destroy_arg;
};

/* The child named by seg (len bytes), or NULL. */
weft_http_resource *weft__http_resource_find(const weft_http_resource *parent, const char *seg, size_t len);
/* weft_http_resource_put_child by length. */
int weft__http_resource_put(weft_http_resource *parent, const char *seg, size_t len, weft_http_resource *child);
/* The handler set for exactly `method` ("*" included), or NULL. */
const weft__http_handler *weft__http_resource_handler(const weft_http_resource *res, const char *method);

/* dispatch.c: walks req down the server's tree and runs what answers it. */
void weft__http_dispatch(weft_http_request *req);

/* client_conn.c: whether `name` is a hop-by-hop field of the message whose
 * headers are h (RFC 9110 section 7.6.1: Connection and the fields it
 * names, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
 * Upgrade), which a sender sets for its own connection and never passes on:
 * the agent's own to write, and dropped by the proxy both ways. */
bool weft__http_hop_by_hop(const weft_http_headers *h, const char *name);

/* path.c: normalises a path (RFC 3986 section 6.2.2) in place - escapes of
 * unreserved characters decoded, the others' hex digits in upper case, then
 * the dot segments removed (section 5.2.4) - and sets *len to its new length
 * (never more). *climbed (when not NULL) says whether a ".." found nothing
 * left to remove (dropped, as the RFC does). 0, or WEFT_EINVAL for a '%'
 * that does not start an escape (the path is then unspecified). */
int weft__http_path_normalize(char *path, size_t *len, bool *climbed);

#endif
