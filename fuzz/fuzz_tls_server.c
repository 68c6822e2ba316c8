/* SPDX-License-Identifier: MIT */
/*
 * A TLS server wrapper (over a string transport, an echo inside) against
 * whatever a peer sends. The first byte picks the mode:
 *
 *   0  the input is the peer's bytes from the first one (ClientHello
 *      parsing, the handshake), in chunks sized by the second byte;
 *   1  a real client (OpenSSL over memory BIOs) completes the handshake
 *      first; then the rest arrives as the peer's raw records, in chunks
 *      sized by the second byte (the record layer, decryption failures,
 *      alerts after the handshake);
 *   2  the handshake is completed first; then the rest is a script for the
 *      client, one operation a byte (low 3 bits; the high 5 are an
 *      argument): write plaintext, which it encrypts and sends; the size of
 *      the pieces its records arrive in; close_notify; truncation (an EOF
 *      below TLS); a key update (TLS 1.3) or a renegotiation (1.2); raw
 *      bytes in the middle of the stream; weft's reader paused or resumed;
 *      weft's peer blocked (backpressure) or unblocked.
 *
 * Bit 0x80 of the first byte limits the client to TLS 1.2. Whatever
 * arrives: no crash, no leak, and the connection ends. The key and
 * certificate are fixed (below); the client does not verify them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "weft/testing.h"
#include "weft/weft.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* P-256, self-signed for "weft fuzz", valid until 2126. */
static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpl4XmOKSfVOEGO7M\n"
                              "Zp/GBMxAyzy5qcOCYWamb7+b9qqhRANCAASMVfB1kIHgSjU8Lnd4md6vOQbMqEqg\n"
                              "iPOWBV2WUehVsxgBUDc9UCvL1ZPE2ipS1QEbiJfBXY2DfnCwwG0tpibK\n"
                              "-----END PRIVATE KEY-----\n";
static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBljCCATugAwIBAgIUUF+Io2DhmAbeWrWBg7aj5wCm2uMwCgYIKoZIzj0EAwIw\n"
                               "FDESMBAGA1UEAwwJd2VmdCBmdXp6MCAXDTI2MTIwMzE1NDcyNloYDzIxMjYxMTA5\n"
                               "MTU0NzI2WjAUMRIwEAYDVQQDDAl3ZWZ0IGZ1enowWTATBgcqhkjOPQIBBggqhkjO\n"
                               "PQMBBwNCAASMVfB1kIHgSjU8Lnd4md6vOQbMqEqgiPOWBV2WUehVsxgBUDc9UCvL\n"
                               "1ZPE2ipS1QEbiJfBXY2DfnCwwG0tpibKo2kwZzAdBgNVHQ4EFgQUuMnWQtdwY+Bd\n"
                               "gzuqDrrdM8pI+NAwHwYDVR0jBBgwFoAUuMnWQtdwY+BdgzuqDrrdM8pI+NAwDwYD\n"
                               "VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglsb2NhbGhvc3QwCgYIKoZIzj0EAwID\n"
                               "SQAwRgIhAN7KgUATMtQ/EyxZ4Nmec4G+Uc3tz0BpPBPE69luwqlRAiEAgQpEB9ae\n"
                               "WWhg5i2aXA/FszACYsXZ9d6gEPLlQXSFAfE=\n"
                               "-----END CERTIFICATE-----\n";

static char cert_path[64], key_path[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0)
        abort();
    fclose(f);
}

static void remove_files(void)
{
    unlink(cert_path);
    unlink(key_path);
}

/* The server's context (weft reads files) and the client's, made once. */
static weft_tls_context *server_ctx;
static SSL_CTX *client_ctx;

static void setup(void)
{
    snprintf(cert_path, sizeof cert_path, "/tmp/weft-fuzz-%d.pem", (int)getpid());
    snprintf(key_path, sizeof key_path, "/tmp/weft-fuzz-%d.key", (int)getpid());
    write_file(cert_path, cert_pem);
    write_file(key_path, key_pem);
    atexit(remove_files);
    weft_tls_options o = {.certificate = cert_path, .private_key = key_path};
    if (weft_tls_server_context_new(&o, &server_ctx, NULL) < 0)
        abort();
    client_ctx = SSL_CTX_new(TLS_client_method());
    if (!client_ctx)
        abort();
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
}

/* The protocol inside: an echo that closes at EOF. */
typedef struct echo {
    weft_protocol base;
    bool made, lost;
} echo;

static void e_made(weft_protocol *p)
{
    ((echo *)p)->made = true;
}

static void e_data(weft_protocol *p, const void *d, size_t n)
{
    weft_transport_write(p->transport, d, n);
}

static void e_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((echo *)p)->lost = true;
}

static const weft_protocol_ops echo_ops = {.connection_made = e_made, .data_received = e_data,
                                           .connection_lost = e_lost};

typedef struct fixture {
    weft_reactor *r;
    weft_string_transport *st;
    echo inner;
    SSL *peer;
    BIO *in, *out; /* the client's: what weft sent it, what it sends weft */
    size_t piece;  /* the client's bytes reach weft in pieces this big */
    bool paused, blocked;
} fixture;

static unsigned char scratch[32768];

/* The client's records to weft, in pieces. */
static void to_weft(fixture *fx)
{
    int n;
    while ((n = BIO_read(fx->out, scratch, sizeof scratch)) > 0)
        for (size_t i = 0; i < (size_t)n; i += fx->piece)
            weft_string_transport_receive(fx->st, scratch + i, (size_t)n - i < fx->piece ? (size_t)n - i : fx->piece);
}

/* weft's records to the client, which reads (and answers: key updates,
 * alerts) what it can. */
static void to_peer(fixture *fx)
{
    size_t len;
    const char *v = weft_string_transport_value(fx->st, &len);
    if (len)
        BIO_write(fx->in, v, (int)len);
    weft_string_transport_clear(fx->st);
    while (SSL_read(fx->peer, scratch, sizeof scratch) > 0)
        ;
    to_weft(fx);
    ERR_clear_error();
}

static bool handshake(fixture *fx)
{
    for (int round = 0; round < 10; round++) {
        int rc = SSL_do_handshake(fx->peer);
        to_weft(fx);
        size_t len;
        const char *v = weft_string_transport_value(fx->st, &len);
        if (len)
            BIO_write(fx->in, v, (int)len);
        weft_string_transport_clear(fx->st);
        if (rc == 1 && fx->inner.made)
            return true;
    }
    return false;
}

static void chunks(fixture *fx, const unsigned char *data, size_t size, size_t step)
{
    for (size_t i = 0; i < size; i += step)
        if (weft_string_transport_receive(fx->st, data + i, size - i < step ? size - i : step) < 0)
            break;
}

static void script(fixture *fx, const unsigned char *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        unsigned op = data[i] & 7, arg = data[i] >> 3;
        switch (op) {
        case 0: { /* plaintext */
            size_t len = i + 1 < size ? 1 + data[++i] * (arg + 1u) * 4 : 1;
            SSL_write(fx->peer, scratch, (int)(len < sizeof scratch ? len : sizeof scratch));
            to_weft(fx);
            break;
        }
        case 1:
            fx->piece = 1 + arg * arg * 16;
            break;
        case 2:
            SSL_shutdown(fx->peer);
            to_weft(fx);
            break;
        case 3:
            weft_string_transport_receive_eof(fx->st);
            break;
        case 4:
            if (SSL_version(fx->peer) >= TLS1_3_VERSION)
                SSL_key_update(fx->peer, arg & 1 ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED);
            else
                SSL_renegotiate(fx->peer);
            SSL_do_handshake(fx->peer);
            to_weft(fx);
            break;
        case 5: { /* raw bytes mid-stream */
            size_t len = 1 + arg < size - i - 1 ? 1 + arg : size - i - 1;
            weft_string_transport_receive(fx->st, data + i + 1, len);
            i += len;
            break;
        }
        case 6:
            if (fx->inner.made && !fx->inner.lost) {
                fx->paused = !fx->paused;
                if (fx->paused)
                    weft_transport_pause_reading(fx->inner.base.transport);
                else
                    weft_transport_resume_reading(fx->inner.base.transport);
            }
            weft_reactor_iterate(fx->r, 0);
            break;
        default:
            fx->blocked = !fx->blocked;
            weft_string_transport_set_blocked(fx->st, fx->blocked);
            weft_reactor_iterate(fx->r, 0);
            break;
        }
        to_peer(fx);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!server_ctx)
        setup();
    if (size < 2)
        return 0;
    unsigned mode = (data[0] & 0x7f) % 3;
    bool tls12 = data[0] & 0x80;
    size_t step = 1 + data[1] * 8u;
    data += 2;
    size -= 2;
    fixture fx = {.inner.base.ops = &echo_ops, .piece = 1 << 16};
    if (weft_reactor_new(NULL, &fx.r) < 0)
        return 0;
    weft_logger_remove_observer(weft_reactor_logger(fx.r), weft_log_text_observer, stderr);
    weft_protocol *p = weft_tls_wrap(server_ctx, &fx.inner.base, NULL);
    if (p && weft_string_transport_new(fx.r, p, NULL, NULL, &fx.st) == 0) {
        if (mode == 0) {
            chunks(&fx, data, size, step);
        } else {
            fx.peer = SSL_new(client_ctx);
            fx.in = BIO_new(BIO_s_mem());
            fx.out = BIO_new(BIO_s_mem());
            if (!fx.peer || !fx.in || !fx.out)
                abort();
            SSL_set_bio(fx.peer, fx.in, fx.out);
            SSL_set_connect_state(fx.peer);
            if (tls12)
                SSL_set_max_proto_version(fx.peer, TLS1_2_VERSION);
            if (handshake(&fx)) {
                if (mode == 1)
                    chunks(&fx, data, size, step);
                else
                    script(&fx, data, size);
            }
        }
        weft_string_transport_set_blocked(fx.st, false);
        weft_string_transport_receive_eof(fx.st);
        for (int k = 0; k < 3; k++)
            weft_reactor_iterate(fx.r, 0);
        weft_string_transport_free(fx.st);
    } else if (p) {
        weft_wrapper_discard(p);
    }
    for (int k = 0; k < 3; k++)
        weft_reactor_iterate(fx.r, 0);
    weft_reactor_free(fx.r);
    SSL_free(fx.peer);
    ERR_clear_error();
    return 0;
}
