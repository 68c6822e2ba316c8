/* SPDX-License-Identifier: MIT */
/*
 * Fetches every URL given, all at once, each as a coroutine with a 10 s
 * timeout, and prints each one's status and body length - or why it
 * failed. Exits 1 when any failed. Twisted's twin: examples/twisted/fetch.py.
 *
 *     fetch http://127.0.0.1:8080/ https://example.org/
 */
#include <stdio.h>
#include <stdlib.h>
#include <weft/weft.h>

typedef struct job {
    weft_http_agent *agent;
    const char *url;
    int *failed;
} job;

static weft_result fetch(void *arg)
{
    job *j = arg;
    size_t len;
    weft_result res = weft_await_timeout(weft_http_agent_fetch(j->agent, "GET", j->url, 0), 10);
    if (weft_failed(res)) {
        printf("%s: failed: %s\n", j->url, weft_failure_message(weft_result_failure(res)));
        ++*j->failed;
    } else if (weft_http_response_content(res.value, &len)) {
        printf("%s: %d, %zu bytes\n", j->url, weft_http_response_status(res.value), len);
    }
    weft_result_free(res);
    return weft_none();
}

static weft_result run(weft_reactor *r, int argc, char **argv)
{
    int failed = 0;
    weft_http_agent *agent = weft_http_agent_new(r, NULL);
    job *jobs = calloc((size_t)argc, sizeof *jobs);
    weft_deferred **fetches = calloc((size_t)argc, sizeof *fetches);
    for (int i = 1; agent && jobs && fetches && i < argc; i++) {
        jobs[i] = (job){agent, argv[i], &failed};
        fetches[i - 1] = weft_coro_spawn(r, fetch, &jobs[i]);
    }
    weft_result_free(weft_await_all(r, fetches, (size_t)argc - 1));
    weft_http_agent_free(agent);
    free(jobs);
    free(fetches);
    return failed ? weft_err_new(WEFT_EFAILED, "%d of %d fetches failed", failed, argc - 1) : weft_none();
}

int main(int argc, char **argv)
{
    return weft_react(run, argc, argv);
}
