/* SPDX-License-Identifier: MIT */
/*
 * The PROXY protocol, versions 1 and 2 (HAProxy's proxy-protocol.txt),
 * after Twisted's twisted.protocols.haproxy: a proxy in front of a server
 * (HAProxy's send-proxy and send-proxy-v2, cloud load balancers, nginx's
 * proxy_protocol) sends a header first on each connection saying who the
 * client is. The endpoint string haproxy:ENDPOINT ("haproxy:tcp:8080",
 * "haproxy:tls:8443:...", "haproxy:unix:/run/app.sock") listens this way
 * on any server endpoint; the factory below does it for weft_listen.
 *
 * Each connection must begin with a valid header, v1 (text) or v2
 * (binary), told apart by its first bytes and accepted however it is cut
 * into pieces. Only once the header is whole is the wrapped factory asked
 * for a protocol - with the client's address as its peer - and that
 * protocol connected; weft_transport_peer and _host then answer the
 * header's source and destination (the socket's own for v1 UNKNOWN and v2
 * LOCAL or UNSPEC, a proxy's health check), and the bytes after the header
 * reach it as they came. v2's TLVs are checked for framing and skipped.
 *
 * A malformed header, a connection closed before its header is whole, or a
 * header not whole within header_timeout seconds closes the connection
 * (aborted, but for the early close) with a log line saying why
 * (namespace weft.net.haproxy: a warning, information for the early
 * close); nothing is built. Listen this way only where the proxy alone
 * can connect: whoever can connect can claim to be any client.
 */
#ifndef WEFT_HAPROXY_H
#define WEFT_HAPROXY_H

#include "base.h"
#include "protocol.h"

/* The header timeout when none is given, in seconds: longer than a TCP
 * retransmit, as the protocol's text asks. */
#define WEFT_HAPROXY_TIMEOUT 5.0

/*
 * A factory whose connections read a PROXY header, then get a protocol
 * from `inner` (borrowed until this factory is gone). header_timeout in
 * seconds; 0 for WEFT_HAPROXY_TIMEOUT. NULL when out of memory. To layer
 * it with TLS, this factory goes outside (it wraps the TLS factory): the
 * header comes before the handshake on the wire.
 */
WEFT_API weft_factory *weft_haproxy_factory_new(weft_factory *inner, double header_timeout);

/* Frees the factory at once when nothing uses it, else when its last
 * connection ends. NULL does nothing. */
WEFT_API void weft_haproxy_factory_free(weft_factory *f);

#endif
