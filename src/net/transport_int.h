/* SPDX-License-Identifier: MIT */
/*
 * What every transport kind shares (transport.c) and the small contract a
 * kind implements: sockets (stream.c), protocol wrappers such as TLS
 * (wrapper.c), memory (memory.c). The
 * generic part owns the write buffer, the producers, the half-close states
 * and the two-phase close; a kind only moves bytes and watches its source.
 */
#ifndef WEFT_NET_TRANSPORT_INT_H
#define WEFT_NET_TRANSPORT_INT_H

#include <sys/types.h>

#include "../core/internal.h"
#include "weft/flow.h"
#include "weft/transport.h"

typedef struct weft__transport_kind {
    const char *name; /* for weft_reactor_walk: "stream", "wrapper", "memory" */
    /* Sends from iov; returns the bytes taken (0 included), or a negative
     * error. WEFT_EAGAIN means none could be taken now. */
    ssize_t (*send)(weft_transport *t, const struct iovec *iov, int iovcnt);
    /* Be told (weft__transport_writable) when send may take more. */
    void (*want_writable)(weft_transport *t, bool on);
    /* Deliver (weft__transport_data / _eof) or not. */
    void (*set_reading)(weft_transport *t, bool on);
    /* Shuts the writing side; the buffer is empty when this is called. */
    int (*shutdown_write)(weft_transport *t);
    /* Releases the source (closes the descriptor); abort: reset. Watchers
     * must be gone after this. */
    void (*close)(weft_transport *t, bool abort);
    int (*peer)(const weft_transport *t, weft_address *out);
    int (*host)(const weft_transport *t, weft_address *out);
    /* TCP_NODELAY / SO_KEEPALIVE; NULL: -EOPNOTSUPP. */
    int (*set_option)(weft_transport *t, int option, bool on);
    /* Frees the kind's struct, whose first member is the weft_transport. */
    void (*free)(weft_transport *t);
    /* Sends up to len bytes of the regular file fd from offset without
     * reading them into memory (sendfile); returns as send. -EINVAL or
     * -ENOSYS: not for this file, the generic part reads it instead. NULL:
     * the generic part always reads. */
    ssize_t (*send_file)(weft_transport *t, int fd, off_t offset, size_t len);
    /* SO_PEERCRED; NULL: -EOPNOTSUPP. */
    int (*peer_credentials)(const weft_transport *t, weft_peer_credentials *out);
} weft__transport_kind;

enum { WEFT__OPT_NODELAY, WEFT__OPT_KEEPALIVE, WEFT__OPT_CORK };

typedef struct weft__wnode weft__wnode;

typedef enum weft__tstate {
    WEFT__T_OPEN,
    WEFT__T_CLOSING, /* lose_connection: closes when the buffer is sent */
    WEFT__T_CLOSED,  /* the source is released; the close step finishes */
} weft__tstate;

struct weft_transport {
    const weft__transport_kind *kind;
    weft_reactor *r;
    weft_protocol *proto;

    weft__wnode *head, *tail;
    size_t buffered;
    size_t files; /* file ranges in the chain: while 0, flush never looks for them */
    size_t high, low;
    weft__wnode *released; /* borrowed buffers to give back in the close step */

    weft_producer *producer;
    weft_producer self_producer;
    bool streaming, producer_paused;

    weft__counters *stats; /* a port's counters or the reactor's (one reference) */
    weft__handle handle; /* on the reactor while the transport lives */
    weft__tstate state;
    bool started;         /* connection_made delivered */
    bool user_paused;     /* pause_reading */
    bool read_closed;     /* EOF received, or reading stopped for good */
    bool write_eof;       /* write_eof asked: shut down after the buffer */
    bool write_closed;    /* our writing side is shut */
    bool want_writable;   /* the kind is watching for writability */
    bool accepted;        /* counted open in its port's counters */
    bool release_posted, finish_posted;
    int close_code;       /* WEFT_EOF for a clean close */
    weft__post release_post, finish_post;

    /* flow.h: what it reads, as a fount; what it writes, as a drain, whose
     * upstream fount is registered as a producer through fount_producer. */
    weft_fount fount;
    weft_drain drain;
    weft_producer fount_producer;
};

/* Sets up the generic part; the protocol is borrowed until destroy. */
void weft__transport_init(weft_transport *t, const weft__transport_kind *kind, weft_reactor *r, weft_protocol *proto);

/* Delivers connection_made (and starts reading). */
void weft__transport_start(weft_transport *t);

/* For kinds: bytes read, end of input, writable again, and a fatal error. */
void weft__transport_data(weft_transport *t, const void *data, size_t len);
void weft__transport_eof(weft_transport *t);
void weft__transport_writable(weft_transport *t);
void weft__transport_fail(weft_transport *t, int code);

/* Counting (stats.h): the connection was accepted by the port counting
 * into c; a wrapper's inner transport counts where its outer one does;
 * an HTTP response with this status was sent (on every response's path,
 * so inline). */
void weft__transport_accepted(weft_transport *t, weft__counters *c);
void weft__transport_share_counters(weft_transport *inner, const weft_transport *outer);
static inline void weft__transport_count_response(weft_transport *t, int status)
{
    t->stats->s.http_responses[(unsigned)status / 100u]++; /* 100 to 999: the server allows no other */
}

/* Whether the kind should go on reading now. */
static inline bool weft__transport_reading(const weft_transport *t)
{
    return t->state != WEFT__T_CLOSED && !t->user_paused && !t->read_closed && t->state != WEFT__T_CLOSING;
}

/*
 * What switching the code behind an open connection does to its transport,
 * apart from the protocol (weft_transport_set_protocol; a wrapper that
 * changes the protocol it forwards to, as a plugin reload's does): the
 * producer the old code registered is stopped and unregistered, a pause it
 * made is lifted. false, with nothing changed, when the transport is not
 * open, not started yet, or the producer's stop closed it.
 */
bool weft__transport_code_switch(weft_transport *t);

#endif
