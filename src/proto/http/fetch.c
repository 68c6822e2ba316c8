/* SPDX-License-Identifier: MIT */
/*
 * weft_http_agent_fetch: a request and its whole body in one Deferred, as
 * treq's get + content - for the many callers who want the answer, not a
 * stream.
 */
#include "client_int.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/http_client.h"

static weft_result got_body(void *arg, weft_result body)
{
    weft_http_response *resp = arg;
    resp->content = body;
    return weft_ok(resp, (weft_destroy_fn)weft_http_response_free);
}

static weft_result body_failed(void *arg, weft_result failure)
{
    weft_http_response_free(arg);
    return failure;
}

static weft_result got_response(void *arg, weft_result result)
{
    size_t max = *(size_t *)arg;
    weft_http_response *resp = weft_result_take(&result);
    weft_deferred *body = weft_http_response_read_body(resp, max);
    if (!body || weft_deferred_add_callbacks(body, got_body, body_failed, resp) < 0) {
        weft_deferred_unref(body);
        weft_http_response_free(resp);
        return weft_err_new(WEFT_ENOMEM, "out of memory reading a response body");
    }
    return weft_chain(body);
}

weft_deferred *weft_http_agent_fetch(weft_http_agent *a, const char *method, const char *url, size_t max)
{
    size_t *limit = weft_malloc(sizeof *limit);
    weft_deferred *d = limit ? weft_http_agent_request(a, method, url, NULL, NULL, 0) : NULL;
    if (!d) {
        weft_free(limit);
        return NULL;
    }
    *limit = max;
    if (weft_deferred_add_callbacks_full(d, got_response, NULL, limit, weft_free) < 0) {
        weft_free(limit);
        weft_deferred_cancel(d);
        weft_deferred_unref(d);
        return NULL;
    }
    return d;
}

char *weft_http_response_content(const weft_http_response *resp, size_t *len)
{
    weft_bytes *b = resp->content.value;
    if (len)
        *len = b ? b->len : 0;
    return b ? b->data : NULL;
}
