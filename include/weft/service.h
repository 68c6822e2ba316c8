/* SPDX-License-Identifier: MIT */
/*
 * Services, after twisted.application.service: something that starts, runs
 * and stops with the program - a listening port, a kept-up client
 * connection, a periodic job, or a group of them. Services nest (Twisted's
 * MultiService): every service may have named children, started after it in
 * the order they were added and stopped before it in reverse order. Stopping
 * returns a Deferred, so a service can drain (a server stops accepting, then
 * waits for its connections) before its parent counts it stopped.
 *
 *     weft_service *top = weft_service_new(r, "weft", NULL, NULL);
 *     weft_service_add(top, weft_server_service_new(r, "web", "tcp:8080", &site, NULL));
 *     weft_service_start(top, &why);          // binds, then starts
 *     ...
 *     weft_await(weft_service_stop(top, 5));  // children in reverse order
 *     weft_service_free(top);
 *
 * Starting has two steps, as Twisted's privilegedStartService and
 * startService: a runner calls weft_service_privileged_start (ports are
 * bound: port 80 needs privileges), drops privileges, then
 * weft_service_start. weft_service_start alone does both.
 *
 * Stopping has two steps too. First the whole subtree quiesces at once
 * (every server stops accepting, an HTTP server ends its idle keep-alive
 * connections), so that no port keeps taking connections while another
 * drains; then the services stop one after another, as above.
 *
 * Ownership: a parent owns its children (weft_service_add transfers the
 * child); freeing a service frees its subtree. A service belongs to its
 * reactor's thread.
 */
#ifndef WEFT_SERVICE_H
#define WEFT_SERVICE_H

#include "base.h"
#include "client_service.h"
#include "deferred.h"
#include "failure.h"
#include "protocol.h"

typedef struct weft_service weft_service;

/* What a kind of service does; every function may be NULL. Each gets the
 * `arg` given to weft_service_new. */
typedef struct weft_service_ops {
    /* Before privileges are dropped: bind ports here. 0, or a negative
     * WEFT_E* code with *why set (the caller's) to say what failed. */
    int (*privileged_start)(weft_service *s, void *arg, weft_failure **why);
    /* Start running. 0, or a negative code with *why set. */
    int (*start)(weft_service *s, void *arg, weft_failure **why);
    /* Stopping begins: take no new work (stop listening, end idle
     * connections). Called on the whole subtree, children (last first)
     * before their parent, before any service's stop. */
    void (*quiesce)(weft_service *s, void *arg);
    /* Stop: a Deferred (the caller's) firing once stopped, or NULL when
     * stopped at once. Its failure is logged (weft.service, warn), not
     * fatal: the service counts as stopped either way. Cancelled when the
     * stop's deadline passes: its canceller should end what is left (abort
     * connections). Called after privileged_start even when start was
     * not. */
    weft_deferred *(*stop)(weft_service *s, void *arg);
    /* Frees what arg holds; called once, from weft_service_free. */
    void (*destroy)(void *arg);
} weft_service_ops;

/* A service named `name` (copied; NULL for none) of the kind `ops` (NULL: a
 * plain group, MultiService), over `arg`. NULL when out of memory (destroy
 * is then called on arg, so ownership is never ambiguous). */
WEFT_API weft_service *weft_service_new(weft_reactor *r, const char *name, const weft_service_ops *ops, void *arg);

/* Makes `child` (NULL is ENOMEM, so a constructor's result may be passed
 * straight in) a child of `parent`, which owns it from then on even on
 * failure. When the parent runs, the child is started at once. 0,
 * WEFT_ENOMEM, WEFT_EINVAL (the child has a parent), WEFT_EEXIST (a sibling
 * has that name; the child is freed), or the child's start failure (logged,
 * weft.service; the child stays, stopped). */
WEFT_API int weft_service_add(weft_service *parent, weft_service *child);

/* Detaches `child` from its parent at once, stopping it if it runs; the
 * Deferred (the caller's) fires once it has stopped, and the child is then
 * the caller's to free. NULL when out of memory. */
WEFT_API weft_deferred *weft_service_remove(weft_service *child);

/* Binds (privileged_start) the subtree, parent first. On a failure, what
 * has started is stopped and the failure returned (*why, the caller's). */
WEFT_API int weft_service_privileged_start(weft_service *s, weft_failure **why);

/* Starts the subtree (after privileged_start, which it calls if not yet
 * done), parent first then children in order. On a failure, the services
 * already started are stopped in reverse order and the failure returned.
 * WEFT_ERUNNING when already running. */
WEFT_API int weft_service_start(weft_service *s, weft_failure **why);

/*
 * Stops the subtree: children in reverse order (each one's stop begun only
 * once the one after it has stopped, so a web service stops before the
 * database it uses), then the service itself. The Deferred (the caller's)
 * fires with None once every service has stopped, or after `deadline`
 * seconds (<= 0: no deadline) with WEFT_ETIMEDOUT naming the services still
 * stopping - their stops are then cancelled, and those not yet begun go on
 * stopping. Stopping a stopped service fires at once; stopping one that is
 * stopping waits for that stop. NULL when out of memory.
 */
WEFT_API weft_deferred *weft_service_stop(weft_service *s, double deadline);

/* Frees the subtree (detaching it from its parent); a running service is
 * not stopped first (stop it and wait): its destroy is still called, and
 * Deferreds waiting for a stop under way errback with WEFT_ECANCELED. Free
 * services before their reactor. NULL is ignored. */
WEFT_API void weft_service_free(weft_service *s);

WEFT_API const char *weft_service_name(const weft_service *s);
WEFT_API bool weft_service_running(const weft_service *s);
WEFT_API weft_service *weft_service_parent(const weft_service *s);
WEFT_API void *weft_service_arg(const weft_service *s);
WEFT_API weft_reactor *weft_service_reactor(const weft_service *s);
/* The child named `name`, or NULL. */
WEFT_API weft_service *weft_service_child(const weft_service *s, const char *name);
/* Children in order: first, then next until NULL. */
WEFT_API weft_service *weft_service_first_child(const weft_service *s);
WEFT_API weft_service *weft_service_next_sibling(const weft_service *s);

/*
 * A server (Twisted's strports.service): listens on the endpoint string
 * when privileged-started, with protocols from `factory` (borrowed: it must
 * outlive the service). It quiesces by no longer listening; its stop then
 * waits for the connections it accepted to close, and when cancelled (the
 * deadline passed) aborts them. NULL when out of memory or the string does
 * not parse; *why (the caller's; `why` may be NULL) then says which.
 */
WEFT_API weft_service *weft_server_service_new(weft_reactor *r, const char *name, const char *endpoint,
                                               weft_factory *factory, weft_failure **why);
/* The ALPN protocols offered on a tls: endpoint (weft_endpoint_set_alpn),
 * set before it listens. */
WEFT_API int weft_server_service_set_alpn(weft_service *s, const char *const *protocols, size_t n);
/* Whether s is a server service. */
WEFT_API bool weft_server_service_is(const weft_service *s);
/* The endpoint string it was made with. */
WEFT_API const char *weft_server_service_endpoint(const weft_service *s);
/* Connections open now through a server service; its listening address
 * (false before it listens, and after). */
WEFT_API size_t weft_server_service_connections(const weft_service *s);
WEFT_API bool weft_server_service_address(const weft_service *s, weft_address *out);

/* A weft_client_service (client_service.h) as a service: connects to the
 * endpoint string when started, reconnects with `policy`'s backoff (NULL:
 * the defaults), closes its connection when stopped. `factory` is
 * borrowed. NULL as weft_server_service_new. */
WEFT_API weft_service *weft_client_service_service_new(weft_reactor *r, const char *name, const char *endpoint,
                                                       weft_factory *factory, const weft_backoff *policy,
                                                       weft_failure **why);
/* The weft_client_service inside (to wait for its connection). */
WEFT_API weft_client_service *weft_client_service_service_client(const weft_service *s);

#endif
