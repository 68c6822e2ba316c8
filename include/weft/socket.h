/* SPDX-License-Identifier: MIT */
/*
 * Stream sockets by address: listening ports and outgoing connections over
 * TCP (IPv4, IPv6) and UNIX sockets, Twisted's listenTCP/connectTCP and
 * listenUNIX/connectUNIX. Endpoint strings (endpoint.h) are the usual way in;
 * these are what they call.
 */
#ifndef WEFT_SOCKET_H
#define WEFT_SOCKET_H

#include "address.h"
#include "base.h"
#include "protocol.h"

typedef struct weft_port weft_port;

typedef struct weft_listen_options {
    int backlog;       /* 0: 50, as Twisted */
    bool reuse_port;   /* SO_REUSEPORT, to share a port between processes */
    unsigned mode;     /* UNIX: the socket file's permissions (0: 0666 & ~umask) */
    bool lockfile;     /* UNIX: hold PATH.lock, and remove a stale socket file */
    int max_accepts;   /* connections accepted per wake-up; 0: 32 */
} weft_listen_options;

/*
 * Listens on addr (SO_REUSEADDR set) and builds a protocol with `factory`
 * for each connection accepted. opts may be NULL. Stores the port in *out.
 * Returns 0 or the error (-EADDRINUSE, -EACCES, WEFT_ENOMEM...). The factory
 * is borrowed until the port has stopped and its connections are gone.
 *
 * When descriptors run out (EMFILE/ENFILE) the port keeps a reserve
 * descriptor to accept and close the waiting connections, so the loop does
 * not spin, and backs off before accepting again.
 */
WEFT_API WEFT_NODISCARD int weft_listen(weft_reactor *r, const weft_address *addr, weft_factory *factory,
                                        const weft_listen_options *opts, weft_port **out);

/*
 * Listens on a socket already bound and listening (Twisted's
 * adoptStreamPort): one inherited from systemd's socket activation, or from
 * a parent process. It must be a listening stream socket of family AF_INET,
 * AF_INET6 or AF_UNIX, and of `family` unless that is 0. fd stays the
 * caller's: the port listens on its own duplicate (close-on-exec), which
 * stopping it closes; the socket keeps listening while the caller's copy is
 * open, so the caller may adopt it again later. The socket is made
 * non-blocking (the open file's flag, shared with fd). A UNIX socket's file
 * is left in place when the port stops: whoever bound it removes it.
 * Returns 0, or -ENOTSOCK / -EBADF (not an open socket), -ESOCKTNOSUPPORT
 * (not a stream socket), -EAFNOSUPPORT (another family), WEFT_EINVAL (not
 * listening), WEFT_ENOMEM; the factory is borrowed as weft_listen's. On a
 * memory reactor it is recorded as a listen on the socket's address.
 */
WEFT_API WEFT_NODISCARD int weft_adopt_stream_port(weft_reactor *r, int fd, int family, weft_factory *factory,
                                                   weft_port **out);

/* The address the port listens on, with the real port when 0 was asked. */
WEFT_API int weft_port_address(const weft_port *port, weft_address *out);

/*
 * Stops listening (stopListening): the socket closes now, connections
 * already accepted go on. Returns a Deferred that fires when the port is
 * gone (it frees itself); NULL when out of memory (the port is freed all
 * the same).
 */
WEFT_API weft_deferred *weft_port_stop(weft_port *port);

typedef struct weft_resolver weft_resolver;

typedef struct weft_connect_options {
    double timeout;           /* seconds; 0: 30, as Twisted; negative: none */
    const weft_address *bind; /* local address to bind first, or NULL */
    weft_resolver *resolver;  /* weft_connect_host: NULL for the reactor's */
} weft_connect_options;

/*
 * Connects to addr. The returned Deferred fires with the connected protocol
 * (a borrowed pointer, valid until its connection_lost) once connection_made
 * has run, or errbacks with why: -ECONNREFUSED, -ETIMEDOUT (the timeout),
 * -ENETUNREACH, -ECONNRESET, ... The factory builds the protocol when the
 * connection is up. Cancelling the Deferred abandons the attempt (errback
 * WEFT_ECANCELED). NULL when out of memory.
 */
WEFT_API weft_deferred *weft_connect(weft_reactor *r, const weft_address *addr, weft_factory *factory,
                                     const weft_connect_options *opts);

/*
 * Connects to a host by name (or numeric address) and port, as
 * HostnameEndpoint: resolves it, then races the addresses with Happy
 * Eyeballs v2 (RFC 8305): families interleaved, IPv6 first; a new attempt
 * every 250 ms while none has connected, or at once when one fails; the
 * first to connect wins and the others are closed. The timeout covers the
 * whole: resolution and race. Fires as weft_connect, or errbacks with the
 * resolver's failure, the last attempt's error, or -ETIMEDOUT.
 */
WEFT_API weft_deferred *weft_connect_host(weft_reactor *r, const char *host, int port, weft_factory *factory,
                                          const weft_connect_options *opts);

/* Makes a transport of an already connected stream socket (adoptStreamConnection);
 * weft owns fd on success. Returns 0 or an error. */
WEFT_API WEFT_NODISCARD int weft_adopt_stream(weft_reactor *r, int fd, weft_protocol *p);

#endif
