/* SPDX-License-Identifier: MIT */
/*
 * TLS (OpenSSL 3) as a protocol wrapper over any transport, after Twisted's
 * TLSMemoryBIOProtocol: the wrapped protocol sees plaintext through an inner
 * transport, the outer transport carries the records. It works over TCP,
 * UNIX sockets and the memory transports of testing.h alike.
 *
 * Defaults: TLS 1.2 at least (1.3 preferred), Mozilla's "intermediate"
 * cipher list, no compression, no renegotiation, session tickets on.
 * Clients verify the peer's chain against the system trust store (or
 * trust_roots) and its host name (SNI is sent; an IP address is checked as
 * an IP). A handshake or verification failure closes the connection with a
 * failure saying why (codes below).
 *
 * The inner protocol's connection_made comes after the handshake; what it
 * writes goes out encrypted; lose_connection sends close_notify first. A
 * peer that closes without close_notify is reported as WEFT_ETLSTRUNCATED.
 */
#ifndef WEFT_TLS_H
#define WEFT_TLS_H

#include "base.h"
#include "error.h"
#include "protocol.h"

typedef struct weft_tls_context weft_tls_context;

/*
 * Routes OpenSSL's allocations (libssl's and libcrypto's, for the whole
 * process) through weft's allocator (alloc.h), so that an allocator put in
 * with weft_replace_allocator - the failing one of testing.h included - sees
 * them too. Optional: without it OpenSSL uses malloc.
 *
 * OpenSSL accepts this only before its first allocation, so call it first
 * thing in main (or from a constructor), before any weft or OpenSSL call
 * and before any library that uses OpenSSL starts. Returns 0, or WEFT_EBUSY
 * when OpenSSL has allocated already (nothing changes then). It stays for
 * the life of the process, and OpenSSL keeps memory that long (its
 * configuration, providers, per-thread error queues); so an allocator
 * installed afterwards must be able to free and resize what the earlier
 * one allocated (any allocator over malloc, as testing.h's, can). These
 * blocks are not in weft_allocations_live.
 */
WEFT_API int weft_tls_route_allocations(void);

typedef struct weft_tls_options {
    /* Our certificate (PEM, possibly followed by its chain) and key: required
     * for servers, optional for clients (client certificates). */
    const char *certificate;
    const char *private_key;
    const char *extra_chain; /* more chain certificates (PEM), optional */
    /* Trust: a CA file or a directory of hashed certificates; NULL: the
     * system's store. Servers use it to verify client certificates. */
    const char *trust_roots;
    /* Clients: check the peer (default); false only for tests. */
    bool insecure_no_verify;
    /* Servers: ask clients for a certificate, and require one. */
    bool request_client_cert, require_client_cert;
    /* ALPN protocols, most preferred first, e.g. {"h2", "http/1.1"}. */
    const char *const *alpn;
    size_t nalpn;
} weft_tls_options;

/* Contexts hold certificates and settings, shared by many connections.
 * Returns 0, or WEFT_EINVAL with *err (the caller's) saying what was wrong
 * (an unreadable file, a key not matching its certificate...). Connections
 * and factories keep their own references, so weft_tls_context_free (which
 * drops the creator's) may come whenever the creator is done with it. */
WEFT_API int weft_tls_server_context_new(const weft_tls_options *opts, weft_tls_context **out, weft_failure **err);
WEFT_API int weft_tls_client_context_new(const weft_tls_options *opts, weft_tls_context **out, weft_failure **err);
WEFT_API void weft_tls_context_free(weft_tls_context *ctx);

/* SNI on servers: connections naming `server_name` get `ctx`'s certificate
 * (borrowed; it must outlive `server`). Returns 0 or WEFT_ENOMEM. */
WEFT_API int weft_tls_context_add_sni(weft_tls_context *server, const char *server_name, weft_tls_context *ctx);

/*
 * Wraps `inner` in TLS (ownership passes to the wrapper; on failure it is
 * still the caller's). For clients, `server_name` is the name sent by SNI and
 * checked against the certificate (NULL: neither). Give the result to the
 * outer transport (a factory's build returns it). NULL when out of memory.
 */
WEFT_API weft_protocol *weft_tls_wrap(weft_tls_context *ctx, weft_protocol *inner, const char *server_name);

/*
 * STARTTLS: switches the established connection t to TLS from now on. What
 * its protocol wrote before this call goes out in clear, what it writes
 * after goes out encrypted once the handshake is done; its transport
 * becomes the TLS connection's (read p->transport again). For a client,
 * server_name is as in weft_tls_wrap. weft_tls_handshake on
 * weft_tls_protocol_of(t') tells how the handshake ends. Returns 0,
 * WEFT_EINVAL (t is closing) or WEFT_ENOMEM.
 */
WEFT_API int weft_tls_start(weft_transport *t, weft_tls_context *ctx, const char *server_name);

/* The TLS wrapper protocol of a TLS connection's inner transport (for
 * weft_tls_handshake), or NULL. */
WEFT_API weft_protocol *weft_tls_protocol_of(weft_transport *inner);

/* A Deferred (the caller's) that fires with none when the handshake of a
 * connection whose protocol came from weft_tls_wrap (or a TLS factory) is
 * done, or errbacks with why it failed (WEFT_ETLSVERIFY with the reason for
 * a certificate, WEFT_ETLS otherwise) - already fired if it has ended.
 * NULL before the connection is up, or when out of memory. */
WEFT_API weft_deferred *weft_tls_handshake(weft_protocol *tls_protocol);

/* A factory wrapping every protocol `inner` builds in TLS with ctx (inner
 * borrowed until the factory is gone). weft_tls_factory_free frees it at
 * once when nothing uses it, else when its last connection ends. */
WEFT_API weft_factory *weft_tls_factory_new(weft_tls_context *ctx, weft_factory *inner, const char *server_name);
WEFT_API void weft_tls_factory_free(weft_factory *f);

/* On a TLS connection's inner transport: the ALPN protocol agreed, as bytes
 * (not NUL-terminated; *len set) valid while the connection lives, NULL if
 * none; and whether the handshake is done. NULL/false on other
 * transports. */
WEFT_API const char *weft_tls_alpn(weft_transport *t, size_t *len);
WEFT_API bool weft_tls_handshake_done(weft_transport *t);

/* Whether the handshake resumed an earlier session (a ticket or a session
 * ID) rather than doing a full one. Clients keep the latest session per
 * server name in their context (64 names at most) and offer it on the next
 * connection to that name; servers issue tickets. */
WEFT_API bool weft_tls_session_reused(weft_transport *t);

#endif
