/* SPDX-License-Identifier: MIT */
/*
 * Protocol wrappers, after Twisted's ProtocolWrapper (and the shape of its
 * TLSMemoryBIOProtocol): a wrapper is the protocol of an outer transport and
 * gives the protocol it wraps an inner transport of its own, so it sees -
 * and may change - every byte both ways: counting, throttling, logging,
 * timing out, encrypting.
 *
 *     outer transport <-> wrapper (incoming / outgoing hooks) <-> inner
 *     transport <-> inner protocol
 *
 * The inner transport is a real weft transport: buffering, producers,
 * half-close and the two-phase close all work as usual. Backpressure passes
 * through: when the outer transport's buffer fills, the inner one stops
 * sending, so the inner protocol's producers pause.
 */
#ifndef WEFT_WRAPPER_H
#define WEFT_WRAPPER_H

#include "base.h"
#include "failure.h"
#include "protocol.h"

typedef struct weft_wrapper weft_wrapper;

typedef struct weft_wrapper_ops {
    /* Bytes from the network: hand them to the inner protocol with
     * weft_wrapper_pass_up, changed or not, now or later. NULL: passed up. */
    void (*incoming)(weft_wrapper *w, const void *data, size_t len);
    /* Bytes the inner protocol wrote: send them with weft_wrapper_pass_down.
     * NULL: sent as they are. */
    void (*outgoing)(weft_wrapper *w, const void *data, size_t len);
    /* The outer connection is up; the inner connection starts when this
     * returns, unless the wrapper called weft_wrapper_hold_start (then it
     * starts at weft_wrapper_start). May be NULL. */
    void (*connected)(weft_wrapper *w);
    /* The connection is gone; the inner protocol hears next. May be NULL. */
    void (*lost)(weft_wrapper *w, const weft_failure *why);
    /* The network's EOF. Return true to pass it to the inner protocol as
     * usual; false when the wrapper deals with it (e.g. with
     * weft_wrapper_fail). NULL: passed on. */
    bool (*eof)(weft_wrapper *w);
    /* The inner side is closing (lose_connection or write_eof, not abort):
     * the last chance to send something (TLS's close_notify) before the
     * outer transport closes or half-closes. May be NULL. */
    void (*closing)(weft_wrapper *w);
    /* Frees the wrapper's own state (ctx), last. May be NULL. */
    void (*destroy)(weft_wrapper *w);
    /* What the inner transport's weft_transport_peer and _host answer, for
     * a wrapper that knows better than the socket (the PROXY protocol's
     * client and destination). NULL: the outer transport's. */
    int (*peer)(const weft_wrapper *w, weft_address *out);
    int (*host)(const weft_wrapper *w, weft_address *out);
} weft_wrapper_ops;

/*
 * Wraps `inner` (ownership passes to the wrapper, which destroys it with
 * itself; on failure it is still the caller's). ops are borrowed for the
 * wrapper's life, ctx is the caller's. The result is the protocol to give
 * the outer transport (from a factory's build). NULL when out of memory.
 */
WEFT_API weft_protocol *weft_wrapper_new(const weft_wrapper_ops *ops, void *ctx, weft_protocol *inner);

/* From the wrapper's protocol back to the wrapper, and its parts. */
WEFT_API weft_wrapper *weft_wrapper_of(weft_protocol *wrapper_protocol);
WEFT_API void *weft_wrapper_ctx(const weft_wrapper *w);
WEFT_API weft_protocol *weft_wrapper_inner(const weft_wrapper *w);
/* The outer transport, valid from connected until lost returns. */
WEFT_API weft_transport *weft_wrapper_outer(const weft_wrapper *w);

/* Delivers bytes to the inner protocol / sends bytes to the network. */
WEFT_API void weft_wrapper_pass_up(weft_wrapper *w, const void *data, size_t len);
WEFT_API int weft_wrapper_pass_down(weft_wrapper *w, const void *data, size_t len);

/* Ends the inner side's input as an EOF would (TLS's close_notify). */
WEFT_API void weft_wrapper_pass_up_eof(weft_wrapper *w);

/* Closes the connection with `code` as the inner protocol's reason (the
 * outer transport is aborted). */
WEFT_API void weft_wrapper_fail(weft_wrapper *w, int code);

/*
 * Puts a wrapper under a protocol already connected on t (STARTTLS): the
 * wrapper becomes t's protocol, and the protocol (which must be the one
 * given to weft_wrapper_new) gets the wrapper's inner transport - no second
 * connection_made; its producer and paused reading move along. What it had
 * written before goes out as it was; what it writes from now on waits until
 * the wrapper starts. Returns 0, or WEFT_EINVAL when t's protocol is not the
 * wrapper's or t is closing.
 */
WEFT_API int weft_wrapper_adopt(weft_transport *t, weft_protocol *wrapper_protocol);

/*
 * Puts a new wrapper on t in place of the protocol t has now, which t
 * forgets (it stays its caller's, unconnected: its connection_lost and
 * destroy are not called by t): the wrapper is connected to t, then its
 * inner protocol as usual. For a protocol that must read a preamble before
 * it knows what to build (the PROXY header: the factory then sees the
 * client's address). The protocol replaced must have no producer
 * registered and reading not paused. Returns 0, or WEFT_EINVAL when t is
 * closing.
 */
WEFT_API int weft_wrapper_install(weft_transport *t, weft_protocol *wrapper_protocol);

/* Frees a wrapper that never went on a transport, giving its inner protocol
 * back to the caller (not destroyed). */
WEFT_API void weft_wrapper_discard(weft_protocol *wrapper_protocol);

/* The wrapper's own protocol (the one on the outer transport). */
WEFT_API weft_protocol *weft_wrapper_protocol(weft_wrapper *w);

/* The wrapper whose inner transport t is, or NULL for other transports. */
WEFT_API weft_wrapper *weft_wrapper_of_transport(weft_transport *t);

/* Holds the inner connection_made back (from connected) until
 * weft_wrapper_start; bytes arriving meanwhile still reach incoming. */
WEFT_API void weft_wrapper_hold_start(weft_wrapper *w);

/* Throttling: stop (or restart) reading from the network, and stop (or
 * restart) sending what the inner protocol writes - it is buffered, and the
 * inner protocol's producers pause at the usual water marks. These combine
 * with the inner protocol's own pause_reading; neither undoes the other. */
WEFT_API void weft_wrapper_throttle_input(weft_wrapper *w, bool throttled);
WEFT_API void weft_wrapper_throttle_output(weft_wrapper *w, bool throttled);
WEFT_API void weft_wrapper_start(weft_wrapper *w);

#endif
