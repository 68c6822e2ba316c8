/* SPDX-License-Identifier: MIT */
/*
 * Fetches every URL given, all at once, each as a coroutine with a 10 s
 * timeout, and prints each one's status and body length - or why it
 * failed. Exits 1 when any failed. Twisted's twin: examples/twisted/fetch.py.
 *
 *     fetch http://127.0.0.1:8080/ https://example.org/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft/weft.h>

typedef struct job {
    weft_http_agent *agent;
    const char *url;
} job;

static weft_result fetch(void *arg)
{
    job *j = arg;
    weft_result resp = weft_await_timeout(weft_http_agent_request(j->agent, "GET", j->url, NULL, NULL, 0), 10);
    weft_result body = resp;
    if (!weft_failed(resp))
        body = weft_await_timeout(weft_http_response_read_body(resp.value, 0), 10);
    if (weft_failed(body))
        printf("%s: failed: %s\n", j->url, weft_failure_message(weft_result_failure(body)));
    else
        printf("%s: %d, %zu bytes\n", j->url, weft_http_response_status(resp.value), ((weft_bytes *)body.value)->len);
    bool ok = !weft_failed(body);
    weft_result_free(body);
    if (body.value != resp.value)
        weft_result_free(resp);
    return weft_ok((void *)(intptr_t)ok, NULL);
}

static weft_result run(weft_reactor *r, int argc, char **argv)
{
    weft_http_agent *agent = weft_http_agent_new(r, NULL);
    job *jobs = calloc((size_t)argc, sizeof *jobs);
    weft_deferred **fetches = calloc((size_t)argc, sizeof *fetches);
    for (int i = 1; agent && jobs && fetches && i < argc; i++) {
        jobs[i] = (job){agent, argv[i]};
        fetches[i - 1] = weft_coro_spawn(r, fetch, &jobs[i]);
    }
    weft_result all = weft_await_all(r, fetches, (size_t)argc - 1);
    size_t failed = 0;
    for (int i = 0; !weft_failed(all) && i < argc - 1; i++)
        failed += !((weft_result_list *)all.value)->items[i].value;
    weft_result_free(all);
    weft_http_agent_free(agent);
    free(jobs);
    free(fetches);
    return failed ? weft_err_new(WEFT_EFAILED, "%zu of %d fetches failed", failed, argc - 1) : weft_none();
}

int main(int argc, char **argv)
{
    return weft_react(run, argc, argv);
}
