/* SPDX-License-Identifier: MIT */
/*
 * Name resolution with c-ares, its sockets and timers driven by the reactor:
 * no thread per lookup, nothing blocks. /etc/hosts and /etc/resolv.conf are
 * honoured (search domains, servers, options) unless servers are given.
 */
#ifndef WEFT_RESOLVER_H
#define WEFT_RESOLVER_H

#include "address.h"
#include "base.h"

typedef struct weft_resolver weft_resolver;

typedef struct weft_resolver_options {
    /* "127.0.0.1:5353,[::1]:53" (c-ares' CSV form); NULL: resolv.conf's. */
    const char *servers;
    /* Seconds per try (0: c-ares' default) and tries per server (0: its
     * default). */
    double timeout;
    int tries;
    /* The resolv.conf to read (search domains, options, servers unless
     * given above); NULL: /etc/resolv.conf. */
    const char *resolv_conf;
} weft_resolver_options;

/* A resolver on r; opts may be NULL. Returns 0, WEFT_EINVAL (bad servers)
 * or WEFT_ENOMEM. Free with weft_resolver_free. */
WEFT_API WEFT_NODISCARD int weft_resolver_new(weft_reactor *r, const weft_resolver_options *opts, weft_resolver **out);

/* Frees it; resolutions still pending errback with WEFT_ECANCELED. */
WEFT_API void weft_resolver_free(weft_resolver *res);

/* The reactor's own resolver (resolv.conf's servers), made on first use and
 * freed with the reactor; endpoints use it. NULL when out of memory. */
WEFT_API weft_resolver *weft_reactor_resolver(weft_reactor *r);

/* The addresses a name has (port 0), owned by the list. */
typedef struct weft_address_list {
    size_t count;
    weft_address addrs[];
} weft_address_list;

/*
 * Resolves `name` (a host name, or a numeric address, which is returned as
 * it is) for `family`: AF_INET, AF_INET6 or AF_UNSPEC (both). The Deferred
 * (the caller's) fires with a weft_address_list (freed with the value) or
 * errbacks: WEFT_ENOTFOUND (no such name or no address of that family),
 * WEFT_ETIMEDOUT (no server answered), WEFT_EDNS (anything else, the reason
 * in the message). Cancelling it abandons the lookup. NULL when out of
 * memory.
 */
WEFT_API weft_deferred *weft_resolve(weft_resolver *res, const char *name, int family);

#endif
