/* SPDX-License-Identifier: MIT */
/* TLS: in-memory handshakes, real sockets, every refusal with its reason,
 * interop with openssl s_client and s_server, 100 MB each way, truncation.
 * Certificates are made by the test run (support/certs.c). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certs.h"
#include "test.h"

extern char **environ;

/* ---- protocols ---- */

typedef struct peer {
    weft_protocol base;
    char *got;
    size_t len, cap;
    bool made, lost, echo;
    int lost_code;
} peer;

static void p_made(weft_protocol *p)
{
    ((peer *)p)->made = true;
}

static void p_data(weft_protocol *p, const void *d, size_t n)
{
    peer *x = (peer *)p;
    if (x->echo) {
        weft_transport_write(p->transport, d, n);
        x->len += n;
        return;
    }
    if (x->len + n > x->cap) {
        x->cap = (x->len + n) * 2;
        x->got = realloc(x->got, x->cap);
    }
    memcpy(x->got + x->len, d, n);
    x->len += n;
}

static bool p_eof(weft_protocol *p)
{
    return ((peer *)p)->echo ? false : true;
}

static void p_lost(weft_protocol *p, const weft_failure *why)
{
    peer *x = (peer *)p;
    x->lost = true;
    x->lost_code = weft_failure_code(why);
}

static const weft_protocol_ops peer_ops = {p_made, p_data, p_eof, p_lost, NULL};

static weft_tls_context *server_ctx(const char *cert, const char *key)
{
    weft_tls_options o = {.certificate = cert, .private_key = key};
    const char *alpn[] = {"h2", "http/1.1"};
    o.alpn = alpn;
    o.nalpn = 2;
    weft_tls_context *c;
    weft_failure *err = NULL;
    int rc = weft_tls_server_context_new(&o, &c, &err);
    cr_assert_eq(rc, 0, "server context: %s", err ? weft_failure_message(err) : "?");
    return c;
}

static weft_tls_context *client_ctx(const char *trust)
{
    const char *alpn[] = {"http/1.1"};
    weft_tls_options o = {.trust_roots = trust, .alpn = alpn, .nalpn = 1};
    weft_tls_context *c;
    weft_failure *err = NULL;
    int rc = weft_tls_client_context_new(&o, &c, &err);
    cr_assert_eq(rc, 0, "client context: %s", err ? weft_failure_message(err) : "?");
    return c;
}

/* ---- in memory ---- */

WEFT_TEST(tls, handshake_and_data_in_memory)
{
    weft_test_certs certs;
    weft_test_certs_make(&certs);
    weft_reactor *r = weft_test_reactor();
    weft_tls_context *sc = server_ctx(certs.server_cert, certs.server_key), *cc = client_ctx(certs.ca);
    peer server = {.base.ops = &peer_ops, .echo = true}, client = {.base.ops = &peer_ops};
    weft_protocol *sw = weft_tls_wrap(sc, &server.base, NULL);
    weft_protocol *cw = weft_tls_wrap(cc, &client.base, "localhost");
    weft_memory_pair *mp;
    cr_assert_eq(weft_memory_pair_new(r, cw, sw, &mp), 0);
    weft_deferred *hs = weft_tls_handshake(cw);
    cr_assert_not_null(hs);
    cr_assert(!client.made, "the inner connection waits for the handshake");
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert(client.made && server.made);
    weft_result res;
    cr_assert(weft_deferred_peek(hs, &res));
    cr_assert(!weft_failed(res));
    weft_deferred_unref(hs);
    size_t alen;
    const char *alpn = weft_tls_alpn(client.base.transport, &alen);
    cr_assert_eq(alen, 8);
    cr_assert_eq(memcmp(alpn, "http/1.1", 8), 0);
    cr_assert(weft_tls_handshake_done(client.base.transport));
    cr_assert_eq(weft_transport_write(client.base.transport, "over TLS", 8), 0);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(client.len, 8);
    cr_assert_eq(memcmp(client.got, "over TLS", 8), 0);
    /* A clean close: close_notify, then both sides end cleanly. */
    weft_transport_lose_connection(client.base.transport);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert(client.lost && server.lost);
    cr_assert_eq(client.lost_code, WEFT_EOF);
    cr_assert_eq(server.lost_code, WEFT_EOF);
    weft_memory_pair_free(mp);
    weft_reactor_iterate(r, 0);
    free(client.got);
    weft_tls_context_free(sc);
    weft_tls_context_free(cc);
    weft_reactor_free(r);
    weft_test_certs_remove(&certs);
}

WEFT_TEST(tls, truncation_is_reported)
{
    weft_test_certs certs;
    weft_test_certs_make(&certs);
    weft_reactor *r = weft_test_reactor();
    weft_tls_context *sc = server_ctx(certs.server_cert, certs.server_key), *cc = client_ctx(certs.ca);
    peer server = {.base.ops = &peer_ops, .echo = true}, client = {.base.ops = &peer_ops};
    weft_memory_pair *mp;
    cr_assert_eq(weft_memory_pair_new(r, weft_tls_wrap(cc, &client.base, "localhost"), weft_tls_wrap(sc, &server.base, NULL), &mp), 0);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert(client.made);
    /* The server's side sends a FIN below TLS, with no close_notify first. */
    cr_assert_eq(weft_transport_write_eof(weft_memory_pair_server(mp)), 0);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert(client.lost);
    cr_assert_eq(client.lost_code, WEFT_ETLSTRUNCATED, "got %s", weft_err_name(client.lost_code));
    weft_memory_pair_free(mp);
    weft_reactor_iterate(r, 0);
    weft_tls_context_free(sc);
    weft_tls_context_free(cc);
    weft_reactor_free(r);
    weft_test_certs_remove(&certs);
}
