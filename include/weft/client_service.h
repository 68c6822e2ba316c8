/* SPDX-License-Identifier: MIT */
/*
 * A client that stays connected, after Twisted's ClientService and
 * ReconnectingClientFactory: it connects to an endpoint, and whenever the
 * attempt fails or the connection is lost, tries again after a delay that
 * grows exponentially (with jitter, up to a maximum) and goes back to the
 * initial delay after each successful connection. Delays run on the
 * reactor's clock, so a fake clock (testing.h) drives it in tests.
 */
#ifndef WEFT_CLIENT_SERVICE_H
#define WEFT_CLIENT_SERVICE_H

#include "base.h"
#include "endpoint.h"
#include "protocol.h"

typedef struct weft_backoff {
    double initial; /* first retry delay; 0: 1 s */
    double max;     /* cap; 0: 60 s */
    double factor;  /* growth per failure; 0: 1.5 */
    double jitter;  /* each delay is scaled by 1 + jitter * u, u uniform in
                       [-1, 1]; 0: none */
} weft_backoff;

/* The delay before retry number `attempt` (0 for the first retry) without
 * jitter: min(initial * factor^attempt, max). */
WEFT_API double weft_backoff_delay(const weft_backoff *b, unsigned attempt);

typedef struct weft_client_service weft_client_service;

/*
 * A service connecting to `endpoint` (a client endpoint; ownership passes
 * to the service) with protocols from `factory` (borrowed until the service
 * is freed). policy may be NULL for the defaults; seed feeds the jitter (0:
 * from the kernel), so tests can make it repeatable. NULL when out of
 * memory; the endpoint is then still the caller's.
 */
WEFT_API weft_client_service *weft_client_service_new(weft_reactor *r, weft_endpoint *endpoint,
                                                      weft_factory *factory, const weft_backoff *policy,
                                                      uint64_t seed);

/* Starts connecting. 0, or WEFT_ERUNNING. */
WEFT_API int weft_client_service_start(weft_client_service *s);

/* A Deferred (the caller's) of the connected protocol: at once when
 * connected, else at the next successful connection. Errbacks with
 * WEFT_ECANCELED if the service stops first. NULL when out of memory. */
WEFT_API weft_deferred *weft_client_service_when_connected(weft_client_service *s);

/* Stops: no more attempts; an attempt under way is cancelled; an open
 * connection is closed. The Deferred fires when nothing is left open. */
WEFT_API weft_deferred *weft_client_service_stop(weft_client_service *s);

/* Failed attempts since the last success. */
WEFT_API unsigned weft_client_service_failures(const weft_client_service *s);

/* Frees the service (stopping it first if it runs; what is open is aborted). */
WEFT_API void weft_client_service_free(weft_client_service *s);

#endif
