/* SPDX-License-Identifier: MIT */
/*
 * Transports: Twisted's ITransport, ITCPTransport, IConsumer and
 * IPushProducer. A transport carries bytes for one protocol over TCP, a UNIX
 * socket, TLS or memory; every kind answers the same calls.
 *
 * Writing never blocks. What the kernel takes at once is not copied; the rest
 * waits in a buffer (a chain flushed with writev). When the buffer grows past
 * the high-water mark (64 KiB by default) the registered producer is paused;
 * when it drains below the low-water mark it is resumed.
 *
 * Lifetime: weft owns transports. A transport stays valid until its
 * protocol's connection_lost returns; closing it (lose, abort) from inside
 * any callback is safe, and the connection_lost call always comes later, from
 * the reactor, never from inside the call that closed it.
 */
#ifndef WEFT_TRANSPORT_H
#define WEFT_TRANSPORT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "address.h"
#include "base.h"
#include "protocol.h"

/*
 * Queues bytes for sending (copied unless sent at once). Returns 0,
 * WEFT_ENOMEM, or -ENOTCONN when the transport is closing or closed, in
 * which case nothing is sent.
 */
WEFT_API int weft_transport_write(weft_transport *t, const void *data, size_t len);
WEFT_API int weft_transport_writev(weft_transport *t, const struct iovec *iov, int iovcnt);

/*
 * Zero-copy write: the bytes stay the caller's and are sent from where they
 * are; release(arg) is called once weft no longer needs them (sent, or the
 * connection closed), from the reactor, never inside this call. Returns as
 * weft_transport_write; on failure release is not called.
 */
WEFT_API int weft_transport_write_borrowed(weft_transport *t, const void *data, size_t len, weft_destroy_fn release,
                                           void *arg);

/*
 * Sends len bytes of the regular file fd, from offset, in order with the
 * writes before and after it. The bytes are never read into memory on TCP
 * and UNIX sockets and pipes: when the range reaches the head of the buffer
 * it goes out with sendfile(2). Transports without a descriptor of their
 * own (TLS and other wrappers, the memory transport) read it 64 KiB at a
 * time as their buffer drains, so every kind accepts files. sendfile cannot
 * be told not to raise SIGPIPE, so from the first file sent that way until
 * the reactor is freed its thread keeps SIGPIPE blocked (a peer gone is
 * then an error on the connection, never the end of the process).
 *
 * The range counts in weft_transport_buffered and towards the water marks
 * from the start (a producer registered is paused at once when it passes
 * the high mark). On success fd belongs to weft: it is closed once the range
 * has been sent or the connection has closed (in the reactor's close step,
 * as borrowed buffers are given back), or at once when len is 0. On failure
 * fd stays the caller's. A file that shrinks under it ends the connection
 * with -ENODATA.
 *
 * Returns 0, -ENOTCONN as weft_transport_write, -EBADF (not open for
 * reading), WEFT_EINVAL (not a regular file, or the range runs past the end
 * of the file), WEFT_ENOMEM.
 */
WEFT_API int weft_transport_send_file(weft_transport *t, int fd, off_t offset, uint64_t len);

/* Whether the transport is closing or closed (Twisted's
 * transport.disconnecting): nothing more will be delivered to its protocol
 * after the current call, and writes are refused. */
WEFT_API bool weft_transport_disconnecting(const weft_transport *t);

/* Closes once the buffer has been sent (loseConnection). Idempotent. */
WEFT_API void weft_transport_lose_connection(weft_transport *t);

/* Closes now, dropping the buffer; TCP sends a reset (abortConnection). */
WEFT_API void weft_transport_abort_connection(weft_transport *t);

/* Half-close: shuts our writing side once the buffer has been sent
 * (loseWriteConnection). Reading goes on. Returns 0 or -ENOTCONN. */
WEFT_API int weft_transport_write_eof(weft_transport *t);

/* Stops / restarts delivering data_received (and eof). */
WEFT_API void weft_transport_pause_reading(weft_transport *t);
WEFT_API void weft_transport_resume_reading(weft_transport *t);

/* The addresses of the two ends; 0 or an error (-ENOTCONN...). */
WEFT_API int weft_transport_peer(const weft_transport *t, weft_address *out);
WEFT_API int weft_transport_host(const weft_transport *t, weft_address *out);

/* Who is at the other end of a UNIX socket (SO_PEERCRED): the peer's
 * process, user and group when it connected. 0, or -EOPNOTSUPP for other
 * kinds of transport. */
typedef struct weft_peer_credentials {
    int pid;
    unsigned uid, gid;
} weft_peer_credentials;
WEFT_API int weft_transport_peer_credentials(const weft_transport *t, weft_peer_credentials *out);

/* TCP options (TCP_NODELAY is on by default). -EOPNOTSUPP elsewhere. */
WEFT_API int weft_transport_set_nodelay(weft_transport *t, bool on);
WEFT_API int weft_transport_set_keepalive(weft_transport *t, bool on);
/* TCP_CORK (nginx's tcp_nopush): while on, partial segments are held, so a
 * response head and the file after it leave in full segments together;
 * turning it off sends what is held. -EOPNOTSUPP elsewhere. */
WEFT_API int weft_transport_set_cork(weft_transport *t, bool on);

/* Bytes waiting to be sent. */
WEFT_API size_t weft_transport_buffered(const weft_transport *t);

/* The water marks (bytes buffered) at which a registered producer is paused
 * and resumed; low must not exceed high. Returns 0 or WEFT_EINVAL. */
WEFT_API int weft_transport_set_write_limits(weft_transport *t, size_t high, size_t low);

/*
 * Consumer side: registers the producer feeding this transport (one at a
 * time; borrowed until unregistered or stopped). Streaming producers are
 * paused and resumed by the water marks; pull producers are asked for more
 * (resume) whenever the buffer drains. When the connection goes, the
 * producer's stop is called. Returns 0, WEFT_EBUSY (one is registered) or
 * -ENOTCONN.
 */
WEFT_API int weft_transport_register_producer(weft_transport *t, weft_producer *p, bool streaming);
WEFT_API void weft_transport_unregister_producer(weft_transport *t);

/* Producer side: the transport itself as a push producer of the bytes it
 * reads (pause = pause_reading, stop = abort). Valid as long as t. */
WEFT_API weft_producer *weft_transport_producer(weft_transport *t);

/* The protocol this transport carries, and its reactor. */
WEFT_API weft_protocol *weft_transport_protocol(const weft_transport *t);

/*
 * Hands the open connection to another protocol (a protocol switch, as an
 * upgrade makes, or a plugin's reload moving a connection to its new code).
 * Nothing is lost or reordered: the bytes delivered so far went to the old
 * protocol, every byte read after this call goes to p; what the old one
 * wrote stays queued and is sent before what p writes. Bytes the old
 * protocol was handed in the call it is making now and did not consume are
 * the caller's to pass on (p->ops->data_received).
 *
 * p takes over a connection already made: it is not told connection_made
 * (call it if p is to start as on a new connection), nor an EOF already
 * delivered. p->transport is set; a NULL p->factory takes the old
 * protocol's, and the factories' counts of users move with the connection.
 * p starts as a new connection's protocol does: reading (a pause the old
 * one made is lifted) and with no producer (one the old protocol
 * registered is stopped and unregistered; a flow's stays, flow.h).
 *
 * Ownership: the transport owns p from then on (its connection_lost and
 * destroy come from the transport). The old protocol is returned detached,
 * its transport NULL and told nothing (no connection_lost, no destroy): it
 * is the caller's to end with weft_protocol_destroy, once its own callback,
 * if this is called from one, has returned. NULL when the transport is
 * closing or closed, or connection_made has not been delivered yet:
 * nothing changed, and p stays the caller's.
 */
WEFT_API weft_protocol *weft_transport_set_protocol(weft_transport *t, weft_protocol *p);
WEFT_API weft_reactor *weft_transport_reactor(const weft_transport *t);

#endif
