/* SPDX-License-Identifier: MIT */
/*
 * Port forwarding, after twisted.protocols.portforward: each inbound
 * connection opens one outbound connection to a target endpoint, and the two
 * are piped both ways with backpressure (flow.h), so a slow side slows the
 * other instead of filling memory. Either side closing closes the other once
 * its data has been sent. Inbound bytes wait (unread) until the outbound
 * connection is up; if it fails, the inbound connection is closed and the
 * failure logged.
 */
#ifndef WEFT_PORTFORWARD_H
#define WEFT_PORTFORWARD_H

#include "base.h"
#include "endpoint.h"
#include "protocol.h"

typedef struct weft_portforward weft_portforward;

/* A forwarder to `target`, a client endpoint whose ownership passes to the
 * forwarder (it is freed with it). NULL when out of memory; the endpoint is
 * then still the caller's. */
WEFT_API weft_portforward *weft_portforward_new(weft_reactor *r, weft_endpoint *target);

/* The factory to listen with. */
WEFT_API weft_factory *weft_portforward_factory(weft_portforward *pf);

/* Forwarded connections not yet entirely closed. */
WEFT_API size_t weft_portforward_active(const weft_portforward *pf);

/* Frees the forwarder once its last connection is gone (at once if none
 * is open); it accepts no more meanwhile. NULL does nothing. */
WEFT_API void weft_portforward_free(weft_portforward *pf);

#endif
