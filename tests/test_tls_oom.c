/* SPDX-License-Identifier: MIT */
/* TLS out of memory: every allocation - weft's and OpenSSL's, which the test
 * support routes through weft's allocator - failing in turn, in making the
 * contexts and in a handshake with a little data each way over the memory
 * transport: no crash, no leak. Once per run of the suite, not per backend:
 * the fake clock and the memory transport use none. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "test.h"

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
