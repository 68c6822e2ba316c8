/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.1 server (twisted.web's HTTPChannel, Request and Site). A
 * weft_http_server is a factory: listen on any endpoint with it (tcp:, unix:,
 * tls:). llhttp parses; weft does everything around it.
 *
 * One connection carries requests one after another (keep-alive) and may
 * send several before the first is answered (pipelining): each is handed to
 * its resource (http_resource.h) as soon as its headers are in, and the
 * responses go out in request order - a later response is held in memory
 * until those before it finish. At most max_pipelined requests wait; beyond
 * that the connection stops reading.
 *
 * A request is also its response, as in Twisted: the handler sets a status
 * and headers (the weft_http_reply_* functions: "reply" is what this server
 * sends; weft_http_response_* in http_client.h is what the agent receives), writes the body (streamed: chunked for HTTP/1.1 unless a
 * Content-Length was set; delimited by the close for HTTP/1.0) and finishes.
 * Request bodies arrive as a fount (flow.h), responses can be fed by a drain
 * or a producer, so both directions keep backpressure: a paused body fount
 * stops reading the connection; a response above the transport's high-water
 * mark pauses its producer or fount.
 *
 * Bad requests never reach a handler: the limits, the smuggling checks and
 * the timeouts below answer with an error page (where a response can still
 * be sent) and close the connection; nothing else is affected.
 *
 * Lifetime: a request passed to a handler stays valid until the handler has
 * finished it (weft_http_reply_finish, or weft_http_reply / _error, which
 * finish). If the connection goes first, writes return -ENOTCONN and the
 * reply_notify_finish Deferred errbacks; the handler must still finish the
 * request, which then frees it. All of a request's strings are borrowed from it.
 */
#ifndef WEFT_HTTP_SERVER_H
#define WEFT_HTTP_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "address.h"
#include "base.h"
#include "flow.h"
#include "http_headers.h"
#include "log.h"
#include "protocol.h"

typedef struct weft_http_server weft_http_server;
typedef struct weft_http_request weft_http_request;
typedef struct weft_http_resource weft_http_resource;

/* Every field's 0 (or NULL) means its default. */
typedef struct weft_http_server_options {
    size_t max_header_bytes; /* request line and headers: 431; 16 KiB */
    size_t max_headers;      /* header count: 431; 500 (Twisted's maxHeaders) */
    size_t max_uri;          /* request target: 414; 8 KiB */
    /* Request body bytes, declared or received: 413. A handler expecting
     * more raises it for its request. 1 MiB; UINT64_MAX for none. */
    uint64_t max_body;
    unsigned max_pipelined; /* requests read ahead of the response: 16 */
    double header_timeout;  /* from a request's first byte to its last header: 408 and close; 30 s */
    double idle_timeout;    /* keep-alive with no request under way: close; 60 s */
    double body_timeout;    /* no request body byte for this long: 408 and close; 60 s */
    /* A response waiting on a client that takes none of it for this long
     * (nginx's send_timeout): the connection is dropped; 60 s */
    double send_timeout;
    /* The Server header; NULL: "weft/VERSION"; "": none sent. */
    const char *server_name;
    /* Access log: one event per response in namespace "weft.http.access",
     * level INFO, formatted in the combined log format (fields host, ident,
     * user, time, request, status, bytes, referer, agent). NULL: none. */
    weft_logger *access_log;
} weft_http_server_options;

/*
 * A server answering from `root` (owned by the server from then on, freed
 * with it, even when this fails). opts is copied; NULL for defaults. NULL
 * when out of memory.
 */
WEFT_API weft_http_server *weft_http_server_new(weft_reactor *r, weft_http_resource *root,
                                                const weft_http_server_options *opts);
/* Closes every connection at once (requests under way see their
 * reply_notify_finish errback) and frees the server once the last handler has
 * finished its request. Stop its ports first. */
WEFT_API void weft_http_server_free(weft_http_server *s);
/* Graceful stop (after its ports have stopped accepting): keep-alive ends.
 * Connections with no request under way close now; the others close after
 * their last response, which says "Connection: close" when its head has
 * not gone out yet. Requests keep streaming to the end. */
WEFT_API void weft_http_server_quiesce(weft_http_server *s);
/* The factory to listen with (valid as long as s). */
WEFT_API weft_factory *weft_http_server_factory(weft_http_server *s);
/* A header added to every response (`--add-header`); copied. 0, WEFT_ENOMEM
 * or WEFT_EINVAL. */
WEFT_API int weft_http_server_add_header(weft_http_server *s, const char *name, const char *value);

/* ---- the request ---- */

WEFT_API const char *weft_http_request_method(const weft_http_request *req);
/* The target as received ("/a%20b?x=1", or "http://host/a" in absolute
 * form, or "*"). */
WEFT_API const char *weft_http_request_target(const weft_http_request *req);
/* The path of the target, without the query: "/a%20b" (for an absolute-form
 * target, the path part; "*" for OPTIONS *). Still percent-encoded, and
 * once the resource tree has walked it (when a handler runs) normalised as
 * http_resource.h says: "/a/./b/../%7Ec" is "/a/~c" (the target keeps what
 * was sent). */
WEFT_API const char *weft_http_request_path(const weft_http_request *req);
/* What follows '?', or NULL when there is no '?'. */
WEFT_API const char *weft_http_request_query(const weft_http_request *req);
/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
WEFT_API int weft_http_request_version(const weft_http_request *req);
WEFT_API const weft_http_headers *weft_http_request_headers(const weft_http_request *req);
/* The first value of a request header, or NULL. */
WEFT_API const char *weft_http_request_header(const weft_http_request *req, const char *name);
/* The host asked for: the absolute-form target's authority, else the Host
 * header, else "". */
WEFT_API const char *weft_http_request_host(const weft_http_request *req);

/*
 * Where the resource tree put the request: the path segments below the
 * resource that answers (Twisted's postpath), percent-decoded; and the same
 * part of the path still encoded, starting with '/' or empty ("" for a
 * request for the resource itself). A decoded segment may hold any byte,
 * '/' and NUL included ("%2F" and "%00" decode inside one segment), so use
 * the lengths; code that maps segments to files must refuse those.
 */
WEFT_API size_t weft_http_request_postpath_count(const weft_http_request *req);
WEFT_API const char *weft_http_request_postpath(const weft_http_request *req, size_t i, size_t *len);
WEFT_API const char *weft_http_request_rest(const weft_http_request *req);

/* The connection's transport (for its addresses, or weft_tls_alpn); NULL
 * once the connection is gone. */
WEFT_API weft_transport *weft_http_request_transport(const weft_http_request *req);
/* The client's address; 0, or -ENOTCONN when the connection is gone. */
WEFT_API int weft_http_request_peer(const weft_http_request *req, weft_address *out);
WEFT_API weft_reactor *weft_http_request_reactor(const weft_http_request *req);
/* Whether the request came over TLS. */
WEFT_API bool weft_http_request_is_secure(const weft_http_request *req);

/* ---- the request body ---- */

/* The declared Content-Length, -1 for a chunked body, 0 for none. */
WEFT_API int64_t weft_http_request_content_length(const weft_http_request *req);
/*
 * The body as a fount: it emits the body's bytes (de-chunked) and ends with
 * WEFT_EOF after the last, or with the failure that stopped it (-EMSGSIZE
 * above the body limit - the server has then answered 413 if no response
 * had started -, WEFT_ETIMEDOUT, the lost connection). Pausing it stops
 * reading the connection. When the client sent "Expect: 100-continue",
 * "100 Continue" goes out when a drain first joins the fount. Valid as long
 * as the request. A body nobody reads is drained and dropped after the
 * response (or the connection closed, when it is long).
 */
WEFT_API weft_fount *weft_http_request_body(weft_http_request *req);
/* This request's body limit (see max_body); call before reading. */
WEFT_API void weft_http_request_set_max_body(weft_http_request *req, uint64_t max);
/* The whole body: a Deferred of a weft_bytes (flow.h), or a failure as for
 * the fount. */
WEFT_API weft_deferred *weft_http_request_read_body(weft_http_request *req);

/* ---- the response ---- */

/* Sets the status (200 by default) and reason (NULL: the standard one).
 * -EALREADY once the headers have gone out, WEFT_EINVAL for a code
 * outside 100..999 or a reason holding CR or LF. */
WEFT_API int weft_http_reply_set_status(weft_http_request *req, int status, const char *reason);
WEFT_API int weft_http_reply_status(const weft_http_request *req);
/* The response headers, to change until the headers go out (then NULL).
 * Date, Server, Connection, Content-Length and Transfer-Encoding are the
 * server's business unless set here; a Content-Length set here is kept and
 * the body must match it (a shorter body closes the connection). One that
 * is not a decimal number cannot frame the response: a 500 page goes out
 * in its place, the call that would have sent the headers returns
 * WEFT_EINVAL, and what is written after is dropped. */
WEFT_API weft_http_headers *weft_http_reply_headers(weft_http_request *req);
/* add / set on the response headers. */
WEFT_API int weft_http_reply_add_header(weft_http_request *req, const char *name, const char *value);
WEFT_API int weft_http_reply_set_header(weft_http_request *req, const char *name, const char *value);

/* Writes body bytes (copied), the headers first if they have not gone out.
 * Nothing is sent for HEAD (the headers are, Content-Length kept). Returns
 * 0, WEFT_ENOMEM, -EALREADY after finish, -ENOTCONN when the connection
 * is gone. */
WEFT_API int weft_http_reply_write(weft_http_request *req, const void *data, size_t len);
/* Zero-copy: as weft_transport_write_borrowed; release(arg) runs once weft
 * is done with the bytes. */
WEFT_API int weft_http_reply_write_borrowed(weft_http_request *req, const void *data, size_t len, weft_destroy_fn release,
                                      void *arg);
/* Sends len bytes of the file fd from offset (fd passes to weft, closed when
 * sent or dropped): sendfile(2) on plain sockets, reads elsewhere (TLS). */
WEFT_API int weft_http_reply_send_file(weft_http_request *req, int fd, off_t offset, uint64_t len);
/* Ends the response. Returns 0 or -EALREADY. */
WEFT_API int weft_http_reply_finish(weft_http_request *req);
/* Everything at once: status, Content-Type (may be NULL), Content-Length,
 * body, finish. */
WEFT_API int weft_http_reply(weft_http_request *req, int status, const char *content_type, const void *body,
                               size_t len);
/* An HTML error page for status, with `detail` (may be NULL) escaped into
 * it; finishes. When the headers have already gone out the connection is
 * closed instead (the client sees a truncated body). */
WEFT_API int weft_http_reply_error(weft_http_request *req, int status, const char *detail);
/* Drops the connection at once (an aborted response), then finishes. */
WEFT_API void weft_http_reply_abort(weft_http_request *req);

/* Streaming bodies with backpressure (Twisted's Request.registerProducer):
 * the producer is paused while the response cannot go out (queued behind
 * an earlier response, or above the high-water mark) and resumed when it
 * can. Returns 0, WEFT_EBUSY or -ENOTCONN. */
WEFT_API int weft_http_reply_register_producer(weft_http_request *req, weft_producer *p, bool streaming);
WEFT_API void weft_http_reply_unregister_producer(weft_http_request *req);
/* The response as a drain (valid as long as the request): what it receives
 * is written, its fount paused as a producer would be; flow_stopped with
 * WEFT_EOF finishes the response, with a failure aborts it. If the
 * connection is lost first, the drain stops its fount and finishes the
 * request itself, so a handler that has joined a fount to it has nothing
 * left to do. */
WEFT_API weft_drain *weft_http_reply_drain(weft_http_request *req);

/* Whether the headers have gone out / the response finished. */
WEFT_API bool weft_http_reply_started(const weft_http_request *req);
WEFT_API bool weft_http_reply_finished(const weft_http_request *req);
/* A Deferred (the caller's) firing with none once the response has been
 * handed to the transport whole, or with the failure that lost the
 * connection first (Twisted's notifyFinish). NULL when out of memory. */
WEFT_API weft_deferred *weft_http_reply_notify_finish(weft_http_request *req);

#endif
