/* SPDX-License-Identifier: MIT */
/* Between listen.c, connect.c and memory_reactor.c: how a memory reactor
 * takes over listening and connecting. */
#ifndef WEFT_NET_SOCKET_INT_H
#define WEFT_NET_SOCKET_INT_H

#include "../core/internal.h"
#include "transport_int.h"
#include "weft/socket.h"

/* Hangs something on a port, freed (fn(arg)) when the port stops: what a
 * kind of endpoint made to listen with (a TLS factory and context). Two
 * per port at most (TLS's, and haproxy:'s around it), freed last first. */
void weft__port_attach(weft_port *p, weft_destroy_fn fn, void *arg);

/* A socket whose connect succeeded becomes a connection: a protocol from f
 * on a stream transport (not yet started: weft__transport_start). On
 * failure fd is still the caller's. */
int weft__connected(weft_reactor *r, int fd, const weft_address *peer, weft_factory *f, weft_protocol **p,
                    weft_transport **t);

/* The listening socket (borrowed), for a supervisor handing it to its
 * workers; -1 for a port without one (a memory reactor's). */
int weft__port_fd(const weft_port *p);

/* A port with no socket, for the memory reactor. NULL when out of memory. */
weft_port *weft__port_fake(weft_reactor *r, const weft_address *addr, weft_factory *factory);

/* A reactor that records listens and connects instead of making them (the
 * memory reactor, memory_reactor.h) keeps these first in its extension
 * slot: listen.c and connect.c call them, knowing nothing of the records. */
typedef struct weft__recorder {
    int (*listen)(weft_reactor *r, const weft_address *addr, weft_factory *factory, const weft_listen_options *opts,
                  weft_port **out);
    weft_deferred *(*connect)(weft_reactor *r, const weft_address *addr, weft_factory *factory,
                              const weft_connect_options *opts);
    /* A fake port stopped: the record says so. */
    void (*port_stopped)(weft_reactor *r, weft_port *port);
} weft__recorder;

/* r's recorder, or NULL for a reactor that makes real sockets. */
static inline const weft__recorder *weft__recorder_of(const weft_reactor *r)
{
    return weft__reactor_ext(r, WEFT__EXT_MEMORY);
}

#endif
