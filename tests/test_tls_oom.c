/* SPDX-License-Identifier: MIT */
/* TLS out of memory: every allocation - weft's and OpenSSL's, which the test
 * support routes through weft's allocator - failing in turn, in making a
 * client context and in a handshake with a little data each way over the
 * memory transport: no crash, no leak. Once per run of the suite, not per
 * backend: the fake clock and the memory transport use none. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "certs.h"
#include "test.h"

typedef struct peer {
    weft_protocol base;
    char got[16];
    size_t len;
    bool made, lost, echo;
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
        return;
    }
    size_t room = sizeof x->got - x->len;
    memcpy(x->got + x->len, d, n < room ? n : room);
    x->len += n < room ? n : room;
}

static void p_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((peer *)p)->lost = true;
}

static const weft_protocol_ops peer_ops = {.connection_made = p_made, .data_received = p_data, .connection_lost = p_lost};

typedef struct run {
    const weft_test_certs *certs;
    weft_tls_context *server, *client; /* shared by the handshake runs */
    bool whole;                        /* the last run went all the way */
} run;

/* The server context into *sc, the client's into *cc, either NULL for none.
 * Trust roots named: the system's store would be 250,000 allocations. */
static int contexts(const weft_test_certs *certs, weft_tls_context **sc, weft_tls_context **cc)
{
    weft_tls_options so = {.certificate = certs->server_cert, .private_key = certs->server_key,
                           .trust_roots = certs->ca};
    weft_tls_options co = {.trust_roots = certs->ca};
    weft_failure *err = NULL;
    int rc = sc ? weft_tls_server_context_new(&so, sc, &err) : 0;
    weft_failure_unref(err);
    err = NULL;
    if (rc == 0 && cc && (rc = weft_tls_client_context_new(&co, cc, &err)) < 0 && sc) {
        weft_tls_context_free(*sc);
        *sc = NULL;
    }
    weft_failure_unref(err);
    return rc;
}

static void make_client_context(void *arg)
{
    run *o = arg;
    weft_tls_context *cc = NULL;
    o->whole = contexts(o->certs, NULL, &cc) == 0;
    weft_tls_context_free(cc);
    ERR_clear_error();
}

/* A handshake, "ping" and its echo, and a clean close. The client names no
 * server, so it offers no saved session: every run is a full handshake,
 * the server's chain verified. */
static void handshake_and_data(void *arg)
{
    run *o = arg;
    o->whole = false;
    weft_reactor *r;
    if (weft_clock_new(&r) < 0)
        return;
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_text_observer, stderr);
    peer server = {.base.ops = &peer_ops, .echo = true}, client = {.base.ops = &peer_ops};
    weft_memory_pair *mp = NULL;
    weft_protocol *sw = weft_tls_wrap(o->server, &server.base, NULL);
    weft_protocol *cw = weft_tls_wrap(o->client, &client.base, NULL);
    if (!sw || !cw || weft_memory_pair_new(r, cw, sw, &mp) < 0) {
        if (sw)
            weft_wrapper_discard(sw);
        if (cw)
            weft_wrapper_discard(cw);
        goto out;
    }
    weft_memory_pair_flush(mp);
    if (client.made && !client.lost && weft_transport_write(client.base.transport, "ping", 4) == 0) {
        weft_memory_pair_flush(mp);
        o->whole = client.len == 4 && memcmp(client.got, "ping", 4) == 0;
    }
    if (client.made && !client.lost)
        weft_transport_lose_connection(client.base.transport);
    weft_memory_pair_flush(mp);
    o->whole = o->whole && client.lost && server.lost;
    weft_memory_pair_free(mp);
    for (int k = 0; k < 3; k++)
        weft_reactor_iterate(r, 0);
out:
    weft_reactor_free(r);
    ERR_clear_error();
}

WEFT_TEST(tls_oom, openssl_allocates_through_weft)
{
    cr_assert_eq(weft_test_openssl_routed(), 0, "routed before OpenSSL's first allocation");
    weft_fault_alloc counting = {0};
    weft_fault_alloc_install(&counting);
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    weft_fault_alloc_remove();
    cr_assert_not_null(ctx);
    cr_assert_gt(counting.count, 100, "the failing allocator sees OpenSSL's allocations");
    SSL_CTX_free(ctx);
    /* And fails them: no SSL_CTX without memory. */
    weft_fault_alloc failing = {.fail_at = 1, .persistent = true};
    weft_fault_alloc_install(&failing);
    ctx = SSL_CTX_new(TLS_method());
    weft_fault_alloc_remove();
    cr_assert_null(ctx);
    ERR_clear_error();
}

/* The client's context only: the server's adds loading its key, where
 * OpenSSL 3's decoders make some 5,000 allocations of their own - a minute
 * under ASan for little of weft's code. */
WEFT_TEST(tls_oom, making_a_client_context, .timeout = 240)
{
    weft_test_certs certs;
    weft_test_certs_make(&certs);
    run o = {.certs = &certs};
    make_client_context(&o); /* once whole: OpenSSL's lazy set-up done */
    cr_assert(o.whole);
    size_t runs = weft_test_each_alloc_failure(make_client_context, &o);
    cr_assert_gt(runs, 1000);
    cr_assert(o.whole, "the last run, with nothing failing, made it");
    weft_test_certs_remove(&certs);
}

/* SSL_new failing sent the error path to SSL_get_verify_result(NULL): a
 * crash. */
WEFT_TEST(tls_oom, a_handshake_and_data_each_way, .timeout = 240)
{
    weft_test_certs certs;
    weft_test_certs_make(&certs);
    run o = {.certs = &certs};
    cr_assert_eq(contexts(&certs, &o.server, &o.client), 0);
    handshake_and_data(&o); /* once whole: OpenSSL's lazy set-up done, and it works */
    cr_assert(o.whole);
    size_t runs = weft_test_each_alloc_failure(handshake_and_data, &o);
    cr_assert_gt(runs, 1000);
    cr_assert(o.whole, "the last run, with nothing failing, went all the way");
    weft_tls_context_free(o.server);
    weft_tls_context_free(o.client);
    weft_test_certs_remove(&certs);
}
