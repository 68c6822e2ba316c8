/* SPDX-License-Identifier: MIT */
/* Endpoint strings: any bytes, read as a server string and as a client
 * string, must either parse - and then describe into buffers of every size
 * and read back from the description as an equal endpoint - or be refused
 * with WEFT_EINVAL and a printable message. Nothing listens or connects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/net/endpoint_int.h"
#include "weft/error.h"
#include "weft/reactor.h"
#include "weft/testing.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

typedef int (*parse_fn)(weft_reactor *, const char *, weft_endpoint **, weft_failure **);

/* Endpoints only remember their reactor, so one serves every input. */
static weft_reactor *reactor(void)
{
    static weft_reactor *r;
    if (!r && weft_clock_new(&r) < 0)
        abort();
    return r;
}

static void check_refusal(int rc, const weft_endpoint *e, const weft_failure *f)
{
    if (e || !f || (rc != WEFT_EINVAL && rc != WEFT_ENOMEM) || weft_failure_code(f) != rc)
        abort();
    const char *msg = weft_failure_message(f);
    if (rc == WEFT_EINVAL && !*msg)
        abort();
    for (const char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) /* bad bytes are shown as \xNN */
            abort();
}

static void check_round_trip(parse_fn parse, const weft_endpoint *e)
{
    size_t need = weft_endpoint_describe(e, NULL, 0);
    char *desc = malloc(need + 1);
    if (!desc)
        return;
    if (weft_endpoint_describe(e, desc, need + 1) != need || strlen(desc) != need)
        abort();
    char small[7];
    weft_endpoint_describe(e, small, sizeof small);
    if (strncmp(small, desc, strlen(small)) != 0 || strlen(small) != (need < 6 ? need : 6))
        abort();
    weft_endpoint *again = NULL;
    weft_failure *f = NULL;
    if (parse(reactor(), desc, &again, &f) != 0) {
        fprintf(stderr, "description \"%s\" does not parse: %s\n", desc, f ? weft_failure_message(f) : "");
        abort();
    }
    if (!weft__endpoint_equal(e, again)) {
        fprintf(stderr, "description \"%s\" parses to another endpoint\n", desc);
        abort();
    }
    char *desc2 = malloc(need + 1);
    if (desc2) {
        if (weft_endpoint_describe(again, desc2, need + 1) != need || strcmp(desc, desc2) != 0)
            abort();
        free(desc2);
    }
    weft_endpoint_free(again);
    free(desc);
}

static void check(parse_fn parse, const char *s)
{
    weft_endpoint *e = NULL;
    weft_failure *f = NULL;
    int rc = parse(reactor(), s, &e, &f);
    if (rc == 0) {
        if (!e || f)
            abort();
        check_round_trip(parse, e);
        weft_endpoint_free(e);
    } else {
        check_refusal(rc, e, f);
        weft_failure_unref(f);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check(weft_endpoint_server, s);
    check(weft_endpoint_client, s);
    free(s);
    return 0;
}
