/* SPDX-License-Identifier: MIT */
/* A TLS server wrapper fed random bytes, in chunks sized by the input,
 * over a string transport: whatever arrives, no crash, no leak, and the
 * connection ends. A key and certificate are made once, at the first run. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "weft/testing.h"
#include "weft/weft.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char cert_path[64], key_path[64];

static void make_files(void)
{
    snprintf(cert_path, sizeof cert_path, "/tmp/weft-fuzz-%d.pem", (int)getpid());
    snprintf(key_path, sizeof key_path, "/tmp/weft-fuzz-%d.key", (int)getpid());
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, k, EVP_sha256());
    FILE *f = fopen(cert_path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void remove_files(void)
{
    unlink(cert_path);
    unlink(key_path);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static weft_tls_context *ctx;
    if (!ctx) {
        make_files();
        atexit(remove_files);
        weft_tls_options o = {.certificate = cert_path, .private_key = key_path};
        if (weft_tls_server_context_new(&o, &ctx, NULL) < 0)
            abort();
    }
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] * 8u;
    data++;
    size--;
    weft_reactor *r;
    if (weft_reactor_new(NULL, &r) < 0)
        return 0;
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_text_observer, stderr);
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_protocol *inner = echo.ops->build(&echo, NULL);
    weft_protocol *p = weft_tls_wrap(ctx, inner, NULL);
    weft_string_transport *st;
    if (weft_string_transport_new(r, p, NULL, NULL, &st) == 0) {
        for (size_t i = 0; i < size; i += step)
            if (weft_string_transport_receive(st, data + i, size - i < step ? size - i : step) < 0)
                break;
        weft_string_transport_receive_eof(st);
        for (int k = 0; k < 3; k++)
            weft_reactor_iterate(r, 0);
        weft_string_transport_free(st);
    }
    for (int k = 0; k < 3; k++)
        weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
    return 0;
}
