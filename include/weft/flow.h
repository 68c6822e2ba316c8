/* SPDX-License-Identifier: MIT */
/*
 * Flow, after Glyph Lefkowitz's Tubes: a fount emits items, a drain takes
 * them, and a tube in between transforms them (bytes to lines, lines to
 * frames...). Items here are byte strings, borrowed for the call that
 * carries them.
 *
 * Backpressure runs upstream: a drain that cannot keep up pauses its fount;
 * a tube whose output is paused pauses its own input; a transport's drain
 * pauses its fount when the write buffer passes its high-water mark, and a
 * transport's fount pauses by not reading. Pauses count: a fount flows again
 * when every pause has been undone.
 *
 * Ending runs downstream: a fount that has no more items (EOF, a lost
 * connection) tells its drain flow_stopped with the reason, and each tube
 * passes that on after its last items.
 *
 * Single-threaded: everything belongs to one reactor's thread.
 */
#ifndef WEFT_FLOW_H
#define WEFT_FLOW_H

#include "base.h"
#include "failure.h"

typedef struct weft_fount weft_fount;
typedef struct weft_drain weft_drain;

typedef struct weft_fount_ops {
    void (*pause)(weft_fount *f);  /* the first pause */
    void (*resume)(weft_fount *f); /* the last pause undone */
    void (*stop)(weft_fount *f);   /* the drain wants nothing more */
    /* A drain joined (or, with NULL, left): founts that emit on their own
     * schedule rather than as input arrives start here. May be NULL. */
    void (*flowing_to)(weft_fount *f, weft_drain *d);
} weft_fount_ops;

struct weft_fount {
    const weft_fount_ops *ops;
    weft_drain *drain; /* where items go, or NULL */
    unsigned pauses;
    bool ended; /* flow_stopped has been sent */
};

typedef struct weft_drain_ops {
    /* The drain now takes from f (NULL: from nothing). */
    void (*flowing_from)(weft_drain *d, weft_fount *f);
    void (*receive)(weft_drain *d, const void *data, size_t len);
    /* No more items: WEFT_EOF for a normal end, or what went wrong
     * (borrowed). */
    void (*flow_stopped)(weft_drain *d, const weft_failure *reason);
} weft_drain_ops;

struct weft_drain {
    const weft_drain_ops *ops;
    weft_fount *fount; /* what it takes from, or NULL */
};

/* Joins f to d (detaching each from what it was joined to). If f has
 * already ended, d is told flow_stopped at once. */
WEFT_API void weft_flow_to(weft_fount *f, weft_drain *d);

/* Counted pause and resume of a fount. */
WEFT_API void weft_fount_pause(weft_fount *f);
WEFT_API void weft_fount_resume(weft_fount *f);
/* The drain wants nothing more. */
WEFT_API void weft_fount_stop(weft_fount *f);

/* For fount implementations: emit an item to the drain (dropped when there
 * is none), and end the flow (once; reason borrowed). */
WEFT_API void weft_fount_emit(weft_fount *f, const void *data, size_t len);
WEFT_API void weft_fount_end(weft_fount *f, const weft_failure *reason);

/* ---- tubes ---- */

typedef struct weft_tube weft_tube;

typedef struct weft_tube_ops {
    /* An item arrived; emit zero or more with weft_tube_emit. */
    void (*received)(weft_tube *t, const void *data, size_t len);
    /* Upstream ended; emit what remains. May be NULL. The end then passes
     * downstream. */
    void (*stopped)(weft_tube *t, const weft_failure *reason);
    /* Frees the tube, after its end has passed downstream. May be NULL. */
    void (*destroy)(weft_tube *t);
} weft_tube_ops;

struct weft_tube {
    const weft_tube_ops *ops;
    weft_drain in;
    weft_fount out;
};

/* Sets up a tube embedded as the first member of the caller's struct. */
WEFT_API void weft_tube_init(weft_tube *t, const weft_tube_ops *ops);

WEFT_API void weft_tube_emit(weft_tube *t, const void *data, size_t len);

/* Ends a tube's output early with a reason (for tubes that meet bad
 * input): stops its upstream and tells downstream flow_stopped. */
WEFT_API void weft_tube_fail(weft_tube *t, const weft_failure *reason);

/* f -> tubes[0] -> ... -> tubes[n-1]; returns the last fount (f itself when
 * n is 0), to flow into a drain. */
WEFT_API weft_fount *weft_series(weft_fount *f, weft_tube *const *tubes, size_t n);

/* ---- framing tubes ----
 * Each is made unconnected (join it with weft_series or weft_flow_to) and
 * frees itself when its flow ends; weft_tube_free frees one never used.
 * Decoders emit one item per frame, its payload; encoders emit each item
 * framed, as one item. Bad input (a frame longer than max_length, a
 * malformed netstring) fails the tube: its upstream is stopped - a
 * transport closes - and downstream sees flow_stopped with -EMSGSIZE or
 * WEFT_EINVAL. NULL when out of memory or for a bad parameter. */

/* bytes -> lines ending in `delimiter` (NULL: "\r\n"; at most 7 bytes),
 * each at most max_length (0: 16384) */
WEFT_API weft_tube *weft_tube_lines(const char *delimiter, size_t max_length);
/* lines -> bytes, each followed by the delimiter */
WEFT_API weft_tube *weft_tube_to_lines(const char *delimiter);
/* bytes -> netstring payloads (max_length 0: 99999), and back */
WEFT_API weft_tube *weft_tube_netstrings(size_t max_length);
WEFT_API weft_tube *weft_tube_to_netstrings(void);
/* bytes -> strings after a big-endian length prefix of 1, 2 or 4 bytes
 * (max_length 0: 99999), and back */
WEFT_API weft_tube *weft_tube_prefixed(unsigned prefix_bytes, size_t max_length);
WEFT_API weft_tube *weft_tube_to_prefixed(unsigned prefix_bytes);

WEFT_API void weft_tube_free(weft_tube *t);

/* ---- transports ---- */

typedef struct weft_transport weft_transport;

/*
 * A transport's fount emits what it reads (instead of its protocol's
 * data_received, once flowing to a drain) and ends with EOF or the
 * connection's loss; its drain writes what it receives, pauses its fount
 * above the high-water mark, and on flow_stopped closes the connection once
 * the buffer is sent. Both live as long as the transport.
 */
WEFT_API weft_fount *weft_transport_fount(weft_transport *t);
WEFT_API weft_drain *weft_transport_drain(weft_transport *t);

/* Joins two transports both ways with backpressure (port forwarding,
 * proxying): a's fount to b's drain and b's fount to a's drain. Either side
 * ending closes the other once its buffer is sent. */
WEFT_API void weft_flow_pipe(weft_transport *a, weft_transport *b);

/* ---- bytes in, bytes out ---- */

/* A byte string as a Deferred's value: len bytes at data, NUL-terminated
 * (data[len] == 0) for convenience. Free with weft_free. */
typedef struct weft_bytes {
    size_t len;
    char data[];
} weft_bytes;

/*
 * Gathers everything f emits into one weft_bytes (Twisted's readBody):
 * returns a Deferred (the caller's) firing with it when f ends with
 * WEFT_EOF, or with the failure f ended with, or with -EMSGSIZE once more
 * than max bytes arrive (0: no limit; f is then stopped). Takes f's drain.
 * NULL when out of memory.
 */
WEFT_API weft_deferred *weft_fount_collect(weft_reactor *r, weft_fount *f, size_t max);

/*
 * A fount emitting len bytes from data - copied when copy is true, else
 * borrowed until the fount is freed - once a drain joins it and is not
 * paused, in pieces of at most 64 KiB, then ending with WEFT_EOF. It frees
 * itself once its flow is over: ended, or stopped by its drain (so a
 * consumer that gives up on it must weft_fount_stop it). NULL when out of
 * memory.
 */
WEFT_API weft_fount *weft_fount_of_bytes(weft_reactor *r, const void *data, size_t len, bool copy);

#endif
