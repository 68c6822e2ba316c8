/* SPDX-License-Identifier: MIT */
/*
 * A memory reactor, after twisted.internet.testing.MemoryReactor: on a
 * reactor made one, weft_listen and weft_connect (and so endpoints) record
 * what they were asked instead of touching the network, so a test checks
 * what code tried to listen on or connect to, and settles each connect as it
 * likes. Included by testing.h.
 */
#ifndef WEFT_MEMORY_REACTOR_H
#define WEFT_MEMORY_REACTOR_H

#include "address.h"
#include "base.h"
#include "protocol.h"
#include "socket.h"

/* Makes r record listens and connects from now on. Returns 0 or
 * WEFT_ENOMEM. Combine with weft_clock_new for Twisted's MemoryReactorClock. */
WEFT_API int weft_memory_reactor_install(weft_reactor *r);

typedef struct weft_memory_listen {
    weft_address addr;
    weft_factory *factory;
    weft_listen_options opts;
    weft_port *port; /* a port that listens on nothing; stop it as usual */
    bool stopped;
} weft_memory_listen;

typedef struct weft_memory_connect {
    weft_address addr;
    weft_factory *factory;
    weft_connect_options opts; /* opts.bind is NULL; see bind */
    weft_address bind;         /* len 0 when none was asked */
    weft_deferred *d;          /* the connect's Deferred (weft's reference) */
} weft_memory_connect;

/* The calls recorded so far, in order; the arrays are the reactor's and
 * change with the next call. */
WEFT_API size_t weft_memory_reactor_listens(const weft_reactor *r, const weft_memory_listen **out);
WEFT_API size_t weft_memory_reactor_connects(const weft_reactor *r, const weft_memory_connect **out);

/* Fails the i-th recorded connect with `code` (e.g. -ECONNREFUSED).
 * Returns 0, WEFT_EINVAL (no such connect) or WEFT_EALREADYCALLED. */
WEFT_API int weft_memory_reactor_fail_connect(weft_reactor *r, size_t i, int code);

#endif
