/* SPDX-License-Identifier: MIT */
/* Making the test certificates with libcrypto directly: no openssl command,
 * no configuration file, and dates in the past when a test wants them. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certs.h"

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    cr_assert_not_null(e, "extension %d=%s", nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer, EVP_PKEY *issuer_key,
                       long from_days, long to_days, bool ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++ + (long)getpid() * 100);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    if (ca) {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
        if (san)
            add_ext(x, issuer, NID_subject_alt_name, san);
    }
    cr_assert_gt(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), 0);
    return x;
}

static void save(const char *path, X509 *x, EVP_PKEY *key, const char *key_path)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    if (key_path) {
        f = fopen(key_path, "w");
        cr_assert_not_null(f);
        PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
        fclose(f);
    }
}

void weft_test_certs_make(weft_test_certs *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "/tmp/weft-certs-XXXXXX");
    cr_assert_not_null(mkdtemp(c->dir));
#define PATH(field, name) snprintf(c->field, sizeof c->field, "%s/" name, c->dir)
    PATH(ca, "ca.pem");
    PATH(server_cert, "server.pem");
    PATH(server_key, "server.key");
    PATH(expired_cert, "expired.pem");
    PATH(expired_key, "expired.key");
    PATH(other_cert, "other.pem");
    PATH(other_key, "other.key");
    PATH(self_cert, "self.pem");
    PATH(self_key, "self.key");
    PATH(client_cert, "client.pem");
    PATH(client_key, "client.key");
#undef PATH
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    X509 *ca = make_cert(ca_key, "weft test CA", NULL, NULL, NULL, -1, 2, true);
    save(c->ca, ca, NULL, NULL);
    struct {
        const char *cert, *key, *cn, *san;
        long from, to;
        bool self;
    } kinds[] = {
        {c->server_cert, c->server_key, "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1", -1, 2, false},
        {c->expired_cert, c->expired_key, "localhost", "DNS:localhost,IP:127.0.0.1", -10, -5, false},
        {c->other_cert, c->other_key, "other.example", "DNS:other.example", -1, 2, false},
        {c->self_cert, c->self_key, "localhost", "DNS:localhost,IP:127.0.0.1", -1, 2, true},
        {c->client_cert, c->client_key, "a client", NULL, -1, 2, false},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        X509 *x = make_cert(k, kinds[i].cn, kinds[i].san, kinds[i].self ? NULL : ca, kinds[i].self ? NULL : ca_key,
                            kinds[i].from, kinds[i].to, false);
        save(kinds[i].cert, x, k, kinds[i].key);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    X509_free(ca);
    EVP_PKEY_free(ca_key);
}

void weft_test_certs_remove(weft_test_certs *c)
{
    const char *files[] = {c->ca, c->server_cert, c->server_key, c->expired_cert, c->expired_key, c->other_cert,
                           c->other_key, c->self_cert, c->self_key, c->client_cert, c->client_key};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(files[i]);
    rmdir(c->dir);
}
