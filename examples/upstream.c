/* SPDX-License-Identifier: MIT */
/*
 * An HTTP server whose handlers are coroutines: GET /proxy?path=/x fetches
 * /x from UPSTREAM through the agent and answers it in upper case; GET
 * /time answers {"time": SECONDS} as JSON. Twisted's twin:
 * examples/twisted/upstream.py.
 *
 *     upstream tcp:8080 http://127.0.0.1:9000    then: curl '127.0.0.1:8080/proxy?path=/a.txt'
 */
#include <ctype.h>
#include <stdio.h>
#include <time.h>
#include <weft/weft.h>

typedef struct app {
    weft_http_agent *agent;
    const char *upstream;
} app;

static weft_result proxy(void *arg, weft_http_request *req)
{
    app *a = arg;
    char url[2048];
    size_t len;
    const char *path = weft_http_request_arg(req, "path", NULL);
    if (!path || path[0] != '/' || snprintf(url, sizeof url, "%s%s", a->upstream, path) >= (int)sizeof url) {
        weft_http_reply_error(req, 400, "Give ?path=/something.");
        return weft_none();
    }
    weft_result res = weft_await_timeout(weft_http_agent_fetch(a->agent, "GET", url, 1 << 20), 10);
    if (weft_failed(res))
        return res; /* a 500 page, with the failure logged */
    char *body = weft_http_response_content(res.value, &len);
    for (size_t i = 0; i < len; i++)
        body[i] = (char)toupper((unsigned char)body[i]);
    weft_http_reply(req, weft_http_response_status(res.value), "text/plain", body, len);
    return res;
}

static void now(void *arg, weft_http_request *req)
{
    char json[64];
    int n = snprintf(json, sizeof json, "{\"time\": %lld}\n", (long long)time(NULL));
    (void)arg;
    weft_http_reply(req, 200, "application/json", json, (size_t)n);
}

static weft_result serve(weft_reactor *r, int argc, char **argv)
{
    if (argc != 3)
        return weft_err_new(WEFT_EINVAL, "usage: upstream LISTEN-ENDPOINT UPSTREAM-URL");
    app a = {weft_http_agent_new(r, NULL), argv[2]};
    weft_http_resource *root = weft_http_resource_new();
    weft_http_route(root, "GET", "/time", now, NULL);
    weft_http_route_coro(root, "GET", "/proxy", proxy, &a);
    weft_http_server *server = weft_http_server_new(r, root, NULL);
    weft_result port = weft_await(weft_listen_on(r, argv[1], weft_http_server_factory(server)));
    if (!weft_failed(port))
        weft_await(weft_reactor_when_stopped(r));
    weft_http_server_free(server);
    weft_http_agent_free(a.agent);
    return port;
}

int main(int argc, char **argv)
{
    return weft_react(serve, argc, argv);
}
