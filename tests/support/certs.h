/* SPDX-License-Identifier: MIT */
/* Test certificates, made by the test run (never committed): a CA, a
 * server certificate for localhost and 127.0.0.1 signed by it, an expired
 * one, one for another name, and a self-signed one; all P-256. */
#ifndef WEFT_TEST_CERTS_H
#define WEFT_TEST_CERTS_H

typedef struct weft_test_certs {
    char dir[64];
    char ca[128];
    char server_cert[128], server_key[128];
    char expired_cert[128], expired_key[128];
    char other_cert[128], other_key[128]; /* CN and SAN other.example */
    char self_cert[128], self_key[128];   /* self-signed localhost */
    char client_cert[128], client_key[128];
} weft_test_certs;

/* Makes them in a new directory under /tmp; fails the test on error. */
void weft_test_certs_make(weft_test_certs *c);
/* Removes the files and the directory. */
void weft_test_certs_remove(weft_test_certs *c);

#endif
