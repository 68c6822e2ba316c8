/* SPDX-License-Identifier: MIT */
/*
 * Endpoint strings, Twisted's serverFromString and clientFromString, with
 * Twisted's syntax: fields separated by ':', a field either positional or
 * key=value, and '\' escaping the next character (so "unix:/tmp/a\:b" names
 * "/tmp/a:b").
 *
 * Servers (kind names ignore case; parameters may also be given by position,
 * in Twisted's order: tcp PORT:BACKLOG:INTERFACE... see the tests):
 *   tcp:PORT[:interface=ADDR][:backlog=N]            IPv4 (interface 0.0.0.0;
 *                                                    an IPv6 one listens on IPv6)
 *   tcp6:PORT[:interface=ADDR][:backlog=N]           IPv6 (interface ::)
 *   unix:PATH[:mode=0666][:lockfile=1][:backlog=N]   PATH may start with '@'
 *                                                    for an abstract name;
 *                                                    lockfile=1 is the default
 * Clients:
 *   tcp:host=H:port=P[:timeout=S][:bindAddress=A]   (also tcp:H:P; timeout 30)
 *   unix:path=PATH[:timeout=S]                      (also unix:PATH)
 *
 * A bad string is refused with a failure whose message names the bad part
 * ("tcp:80:bogus=1: unknown parameter 'bogus'").
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
 * weft_port_stop). The endpoint may be freed once this returns. */
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

#endif
