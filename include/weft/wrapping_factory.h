/* SPDX-License-Identifier: MIT */
/*
 * The wrapping factory, after twisted.protocols.policies.WrappingFactory: it
 * builds each connection's protocol with another factory and wraps it, so it
 * can watch every connection: count them, close them all, and tell when the
 * last one is gone (what a graceful shutdown needs), or refuse connections
 * past a limit (LimitConnectionsByPeer / limitTotalConnectionsFactory).
 */
#ifndef WEFT_WRAPPING_FACTORY_H
#define WEFT_WRAPPING_FACTORY_H

#include "base.h"
#include "protocol.h"

typedef struct weft_wrapping_factory weft_wrapping_factory;

/* Wraps `inner` (borrowed until freed). NULL when out of memory. */
WEFT_API weft_wrapping_factory *weft_wrapping_factory_new(weft_reactor *r, weft_factory *inner);

/* Frees it; connections still open are aborted first. */
WEFT_API void weft_wrapping_factory_free(weft_wrapping_factory *wf);

/* The factory to listen (or connect) with. */
WEFT_API weft_factory *weft_wrapping_factory_base(weft_wrapping_factory *wf);

/* Refuses connections beyond `max` open at once (0: no limit): they are
 * accepted and closed at once. */
WEFT_API void weft_wrapping_factory_set_limit(weft_wrapping_factory *wf, size_t max);

/* Connections open now. */
WEFT_API size_t weft_wrapping_factory_count(const weft_wrapping_factory *wf);

/* Closes every open connection: lose (after flush) or abort. */
WEFT_API void weft_wrapping_factory_close_all(weft_wrapping_factory *wf, bool abort);

/* A Deferred (the caller's reference) that fires when no connection is
 * open - at once if none is. NULL when out of memory. */
WEFT_API weft_deferred *weft_wrapping_factory_drained(weft_wrapping_factory *wf);

#endif
