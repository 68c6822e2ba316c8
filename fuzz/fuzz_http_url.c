/* SPDX-License-Identifier: MIT */
/*
 * The client's URLs: what a user passes, and the Location a server sends
 * back resolved against the URL asked for. Any bytes parse or are refused;
 * what parses gives an endpoint string that the endpoint parser accepts,
 * and a resolved Location parses again to itself.
 *
 * Input: a base URL and a Location, separated by the first NUL.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/proto/http/client_int.h"
#include "weft/alloc.h"
#include "weft/endpoint.h"
#include "weft/reactor.h"
#include "weft/testing.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_endpoint(weft_reactor *r, const weft__hc_url *u)
{
    char *ep = weft__hc_url_endpoint(u, 5);
    if (!ep)
        return;
    weft_endpoint *e;
    weft_failure *why = NULL;
    if (weft_endpoint_client(r, ep, &e, &why) < 0)
        abort(); /* a URL the parser took must make a good endpoint string */
    weft_endpoint_free(e);
    weft_free(ep);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *text = malloc(size + 2);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = text[size + 1] = '\0';
    const char *base = text, *ref = text + strlen(text) + 1;
    if (ref > text + size)
        ref = "";
    weft_reactor *r;
    if (weft_clock_new(&r) < 0) {
        free(text);
        return 0;
    }
    weft__hc_url u;
    if (weft__hc_url_parse(base, &u) == 0) {
        check_endpoint(r, &u);
        char *back = weft__hc_url_string(&u);
        weft_free(back);
        weft_free(weft__hc_url_host_header(&u));
        weft__hc_url_clear(&u);
        bool relative = false;
        char *to = weft__hc_url_resolve(base, ref, &relative);
        if (to) {
            weft__hc_url v;
            if (weft__hc_url_parse(to, &v) != 0)
                abort(); /* resolving makes a URL that parses */
            char *again = weft__hc_url_string(&v);
            if (again && strcmp(again, to) != 0)
                abort();
            weft_free(again);
            weft__hc_url_clear(&v);
            weft_free(to);
        }
    }
    weft_reactor_free(r);
    free(text);
    return 0;
}
