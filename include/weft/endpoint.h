/* SPDX-License-Identifier: MIT */
/*
 * Endpoint strings, Twisted's serverFromString and clientFromString, with
 * Twisted's syntax: fields separated by ':', a field either positional or
 * key=value, and '\' escaping the next character (so "unix:/tmp/a\:b" names
 * "/tmp/a:b"). Kind names ignore case; parameter names do not. Positional
 * fields fill the parameters in the order listed (Twisted's), up to the
 * count given as "by position".
 *
 * Every kind with every parameter, its meaning and default - the same text
 * weft_endpoint_help writes and `weft --help-endpoints` prints, made from
 * the parser's table (docs/endpoints.md is the manual page):
 *
 * Servers (weft_endpoint_server)
 *   tcp   TCP on IPv4 (on IPv6 when interface is an IPv6 address);
 *         by position: port, interface, backlog
 *           port=N            the port; 0 picks a free one        required
 *           interface=ADDR    the address to listen on            0.0.0.0
 *           backlog=N         connections waiting to be accepted  50
 *   tcp6  TCP on IPv6 only; by position: port, backlog, interface
 *           port, backlog     as tcp
 *           interface=ADDR    the IPv6 address to listen on       ::
 *   unix  a UNIX socket; by position: address, mode, backlog, lockfile
 *           address=PATH      the socket's path; @NAME is NAME in the
 *                             abstract namespace                  required
 *           mode=MODE         the socket file's permissions       0666
 *           backlog=N         as tcp                              50
 *           lockfile=0|1      hold PATH.lock: a second server
 *                             fails, a stale socket is replaced   1
 *   tls (and ssl, Twisted's name)   TLS 1.2/1.3 over TCP;
 *         by position: port, privateKey, certKey
 *           port, interface, backlog   as tcp
 *           privateKey=PATH   the private key (PEM), which may
 *                             hold the certificate too            required
 *           certKey=PATH      the certificate (PEM), its chain
 *                             may follow                          the privateKey file
 *           extraCertChain=PATH  more chain certificates (PEM)    none
 *   systemd  a listening socket passed by socket activation (LISTEN_FDS);
 *         by position: domain, index, name; give index or name
 *           domain=INET|INET6|UNIX  the socket's family, checked    any
 *           index=N           its place among those passed, from 0
 *           name=NAME         its FileDescriptorName= (LISTEN_FDNAMES)
 *         looked up when listening; the port listens on a duplicate, so
 *         stopping it leaves the passed socket open (docs/systemd.md)
 *   haproxy  the PROXY protocol (v1, v2: HAProxy's send-proxy) before any
 *         server endpoint, whose string is the rest ("haproxy:tcp:8080");
 *         peer and host are then the client's as the header says
 *           endpoint=ENDPOINT the server endpoint behind the proxy required
 *           headerTimeout=SECONDS  close a connection whose header
 *                             is not whole by then                5
 *
 * Clients (weft_endpoint_client)
 *   tcp   by position: host, port ("tcp:H:P"; a single positional field
 *         fills whichever of host and port no keyword gave)
 *           host=HOST         an IP address, or a name: resolved, its IPv6
 *                             and IPv4 addresses raced            required
 *           port=N            1-65535                             required
 *           timeout=SECONDS   give up connecting after this long  30
 *           bindAddress=ADDR  the local address to connect from   none
 *   unix  by position: path
 *           path=PATH         the socket's path, or @NAME         required
 *           timeout=SECONDS   as tcp                              30
 *   tls   tcp's parameters, and the server's certificate must be valid
 *         for host (SNI sends it when it is a name)
 *           trustRoots=PATH   CAs: a PEM file or hashed directory the system's
 *           certificate=PATH  a client certificate (PEM)          none
 *           privateKey=PATH   its private key (PEM)               none
 *
 * A bad string is refused with a failure whose message names the bad part,
 * and for a parameter the kind does not take, lists those it does
 * ("tcp:80:bogus=1: unknown parameter 'bogus' (tcp servers take: port,
 * interface, backlog)").
 */
#ifndef WEFT_ENDPOINT_H
#define WEFT_ENDPOINT_H

#include "base.h"
#include "protocol.h"
#include "socket.h"

typedef struct weft_endpoint weft_endpoint;

/*
 * Parses a server (listening) or client (connecting) endpoint string. On
 * success stores the endpoint (free with weft_endpoint_free) and returns 0;
 * otherwise returns WEFT_EINVAL (or WEFT_ENOMEM), sets *out to NULL and, when
 * err is not NULL, stores a failure saying what is wrong (the caller's
 * reference; *err is set to NULL on success).
 */
WEFT_API int weft_endpoint_server(weft_reactor *r, const char *desc, weft_endpoint **out, weft_failure **err);
WEFT_API int weft_endpoint_client(weft_reactor *r, const char *desc, weft_endpoint **out, weft_failure **err);

WEFT_API void weft_endpoint_free(weft_endpoint *e);

/* Listens: a Deferred of the weft_port (its value; stop it with
 * weft_port_stop). The endpoint may be freed once this returns. A failure
 * says "cannot listen on ADDRESS: REASON", the reason naming the cause: the
 * system's error ("Address already in use"), or for tls: the file that
 * cannot be loaded and why ("cannot load the certificate c.pem: No such
 * file or directory", OpenSSL's reason for a file that is not a PEM
 * certificate or key, or a key that does not match its certificate). */
WEFT_API weft_deferred *weft_endpoint_listen(weft_endpoint *e, weft_factory *factory);

/* Connects: a Deferred of the connected weft_protocol, as weft_connect. */
WEFT_API weft_deferred *weft_endpoint_connect(weft_endpoint *e, weft_factory *factory);

/* The ALPN protocols a tls: endpoint offers (servers) or asks for
 * (clients), most preferred first, e.g. {"http/1.1"}: set by the protocol
 * that listens or connects with it (the HTTP server, the agent), not by
 * the endpoint string. Copied; n 0 clears. Other kinds ignore it. Returns
 * 0, WEFT_ENOMEM, or WEFT_EINVAL (more than WEFT_ENDPOINT_ALPN_MAX, or a
 * name empty or over 255 bytes). */
#define WEFT_ENDPOINT_ALPN_MAX 8
WEFT_API int weft_endpoint_set_alpn(weft_endpoint *e, const char *const *protocols, size_t n);

/* ---- in one call ---- */

/*
 * Listens on a server endpoint string: a Deferred (the caller's) of the
 * weft_port, or of the failure saying why - a bad string included. The
 * port is the caller's to stop; one still listening when the reactor shuts
 * down stops then (reactor.h). Logs "listening on ADDRESS" (namespace
 * weft.net, level info), the port the kernel chose included, as Twisted's
 * ports log "starting on". In a coroutine, one line:
 *     weft_result port = weft_await(weft_listen_on(r, "tcp:8080", &factory));
 * NULL only when out of memory.
 */
WEFT_API weft_deferred *weft_listen_on(weft_reactor *r, const char *desc, weft_factory *factory);

/* Connects to a client endpoint string: a Deferred of the connected
 * protocol (borrowed, as weft_endpoint_connect's), or of the failure. */
WEFT_API weft_deferred *weft_connect_to(weft_reactor *r, const char *desc, weft_factory *factory);

/* connectProtocol: connects the protocol p, already made. p passes to weft:
 * it becomes the connection's protocol (its destroy runs after
 * connection_lost), or, when no connection is made, its destroy runs
 * (p->ops->destroy, if any). A Deferred of p, or of the failure. */
WEFT_API weft_deferred *weft_connect_protocol(weft_reactor *r, const char *desc, weft_protocol *p);

/* The endpoint in canonical string form ("tcp:8080:interface=127.0.0.1"),
 * snprintf-style. */
WEFT_API size_t weft_endpoint_describe(const weft_endpoint *e, char *buf, size_t size);

/* The reference of endpoint strings: every kind, every parameter with a
 * one-line description and its default, as `weft --help-endpoints` prints
 * it; snprintf-style (returns the length needed). */
WEFT_API size_t weft_endpoint_help(char *buf, size_t size);

#endif
