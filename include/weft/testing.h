/* SPDX-License-Identifier: MIT */
/*
 * Test doubles, after twisted.internet.testing and task.Clock: a fake clock
 * that moves only when told, and an allocator that fails on demand. Use them
 * to test timing and error paths with no real time and no luck involved.
 * (weft_reactor_run_until, in deferred.h, runs a reactor until a Deferred
 * fires or a timeout passes.)
 */
#ifndef WEFT_TESTING_H
#define WEFT_TESTING_H

#include "base.h"
#include "clock.h"
#include "fault_alloc.h"

/* ==== memory transports: StringTransport and iosim ====
 *
 * Transports with no socket behind them, to test a protocol with no network
 * and no real time (twisted.internet.testing.StringTransport and
 * twisted.test.iosim). They are real weft transports: writing, buffering,
 * producers and water marks, half-close and the two-phase close are the
 * same code as over TCP; only where the bytes go differs. They answer
 * weft_transport_set_nodelay/_keepalive with -EOPNOTSUPP, as UNIX sockets do.
 *
 * Two-phase close applies as everywhere: once a memory transport has closed,
 * the protocol's connection_lost and destroy run in the reactor's close
 * step, never inside the call that closed it. With a string transport, run
 * weft_reactor_iterate(r, 0) to let them happen; the pair's pump does it for
 * you. Likewise, bytes held while a protocol had paused reading are
 * delivered from the reactor once it resumes, not inside resume_reading.
 *
 * Handles belong to the test and outlive their connection, so a test can
 * look at what happened after connection_lost; the transports inside them
 * belong to weft as always and are valid until connection_lost returns.
 * Single-threaded, as the reactor they run on.
 */

#include "address.h"
#include "protocol.h"

typedef struct weft_string_transport weft_string_transport;

/*
 * Connects protocol p (borrowed until its destroy, as with any transport)
 * to a new string transport on r, and delivers connection_made before
 * returning. host and peer are what weft_transport_host and _peer answer
 * (copied; NULL for Twisted's defaults, 10.0.0.1:12345 and
 * 192.168.1.1:54321). The peer takes whatever is written, unless blocked.
 * Returns 0, or WEFT_ENOMEM with nothing delivered. Free the handle with
 * weft_string_transport_free.
 */
WEFT_API WEFT_NODISCARD int weft_string_transport_new(weft_reactor *r, weft_protocol *p, const weft_address *host,
                                                      const weft_address *peer, weft_string_transport **out);

/* Frees the handle. A connection still open is aborted (-ECONNABORTED); its
 * connection_lost comes in the next close step (weft_reactor_iterate, or
 * weft_reactor_free). NULL does nothing. */
WEFT_API void weft_string_transport_free(weft_string_transport *st);

/* The transport (the protocol's p->transport), or NULL once connection_lost
 * has run. */
WEFT_API weft_transport *weft_string_transport_transport(const weft_string_transport *st);

/* Everything the peer has taken since the last clear (Twisted's value()),
 * with a NUL after it that is not counted; *len (if len is not NULL) gets
 * its length. Borrowed until the next write, clear or free; never NULL. */
WEFT_API const char *weft_string_transport_value(const weft_string_transport *st, size_t *len);
WEFT_API void weft_string_transport_clear(weft_string_transport *st);

/*
 * The peer sends bytes (copied): data_received runs now, inside this call,
 * or - while the protocol has paused reading - once it resumes, from the
 * reactor. Returns 0; -ENOTCONN when the transport no longer reads (closing,
 * closed, or after an EOF), and then nothing is delivered; WEFT_ENOMEM.
 */
WEFT_API int weft_string_transport_receive(weft_string_transport *st, const void *data, size_t len);

/* The peer shuts its writing side: eof_received (after any held bytes), now
 * or once reading resumes. Returns 0 or -ENOTCONN as receive. */
WEFT_API int weft_string_transport_receive_eof(weft_string_transport *st);

/*
 * A slow peer. While blocked, the peer takes nothing: writes stay in the
 * transport's buffer, streaming producers are paused past the high-water
 * mark, lose_connection waits for the buffer. drain lets up to max buffered
 * bytes through now (as if the peer read them; producers resume at the
 * low-water mark) and returns how many went. Unblocking sends everything
 * buffered at once.
 */
WEFT_API void weft_string_transport_set_blocked(weft_string_transport *st, bool blocked);
WEFT_API size_t weft_string_transport_drain(weft_string_transport *st, size_t max);

/* The network ends the connection: code WEFT_EOF for a clean close
 * (ConnectionDone), else the error connection_lost reports (-ECONNRESET...).
 * connection_lost follows in the close step. Does nothing once closed. */
WEFT_API void weft_string_transport_disconnect(weft_string_transport *st, int code);

/* What the protocol did to its transport. The *_called flags and closed
 * stay set once set; the rest describe the moment. */
typedef struct weft_string_transport_state {
    bool connected;        /* connection_made delivered and not closed */
    bool lose_called;      /* lose_connection (closes once the buffer is sent) */
    bool abort_called;     /* abort_connection */
    bool write_eof_called; /* write_eof */
    bool write_closed;     /* ... and our writing side has been shut */
    bool paused;           /* reading paused (pause_reading) */
    bool producer;         /* a producer is registered ... */
    bool streaming;        /* ... and it is a streaming one */
    bool closed;           /* closed: connection_lost is due or has run */
    bool finished;         /* connection_lost and destroy have run */
    int close_code;        /* once closed: WEFT_EOF when clean, else the error */
    size_t buffered;       /* bytes waiting for a blocked peer */
} weft_string_transport_state;

WEFT_API void weft_string_transport_inspect(const weft_string_transport *st, weft_string_transport_state *out);

/*
 * A connected pair (iosim): client and server protocols (borrowed until
 * their destroy) joined by two memory transports on r. connection_made is
 * delivered to the server, then the client, before this returns; nothing
 * moves between them until pumped. The client is 192.168.1.1:54321 and the
 * server 10.0.0.1:12345. Each direction holds at most 64 KiB in flight
 * (sent, not yet read), so a side that stops reading pushes back on the
 * other as TCP would. Returns 0 or WEFT_ENOMEM (nothing delivered). Free
 * with weft_memory_pair_free.
 */
typedef struct weft_memory_pair weft_memory_pair;

WEFT_API WEFT_NODISCARD int weft_memory_pair_new(weft_reactor *r, weft_protocol *client, weft_protocol *server,
                                                 weft_memory_pair **out);

/* Frees the pair. Connections still open are aborted; their connection_lost
 * comes in the next close step. NULL does nothing. */
WEFT_API void weft_memory_pair_free(weft_memory_pair *mp);

/* Each end's transport, or NULL once its connection_lost has run. */
WEFT_API weft_transport *weft_memory_pair_client(const weft_memory_pair *mp);
WEFT_API weft_transport *weft_memory_pair_server(const weft_memory_pair *mp);

/*
 * One step: runs a reactor iteration without blocking (due timers, queued
 * calls, the close step); gives each end what the other had sent before the
 * step; then the EOF of an end that shut its writing side, or lost its
 * connection cleanly, once all it sent has arrived (an end that aborted or
 * failed is a reset instead: -ECONNRESET on the other side); then lets
 * senders the window held back write again; and, if anything moved,
 * iterates once more, so that the connection_lost calls the step made due
 * have run when it returns.
 * Bytes reaching an end that is closing are discarded. Returns 1 when
 * something moved, 0 when the pair was quiet, or the reactor's error.
 */
WEFT_API int weft_memory_pair_pump(weft_memory_pair *mp);

/* Pumps until a step moves nothing (iosim's flush). Returns 0, the
 * reactor's error, or WEFT_EAGAIN when still busy after 10,000 steps (two
 * protocols that never stop talking). */
WEFT_API int weft_memory_pair_flush(weft_memory_pair *mp);

/* The network drops the connection: each end still open fails with code
 * (WEFT_EOF for a clean close on both sides) and what was in flight is lost.
 * connection_lost follows in the close step. */
WEFT_API void weft_memory_pair_disconnect(weft_memory_pair *mp, int code);

#endif
