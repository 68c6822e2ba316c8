/* SPDX-License-Identifier: MIT */
/*
 * The smallest HTTP server: "Hello, World!" to every GET.
 *
 *     hello_http tcp:8081      then: curl http://127.0.0.1:8081/
 *
 * Ctrl-C (or SIGTERM) stops it.
 */
#include <weft/weft.h>

static void hello(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply(req, 200, "text/plain", "Hello, World!", 13);
}

static weft_result serve(weft_reactor *r, int argc, char **argv)
{
    weft_http_resource *root = weft_http_resource_new();
    weft_http_route(root, "GET", "/", hello, NULL);
    weft_http_server *server = weft_http_server_new(r, root, NULL);
    weft_result port = weft_await(weft_listen_on(r, argc > 1 ? argv[1] : "tcp:8081", weft_http_server_factory(server)));
    if (!weft_failed(port))
        weft_await(weft_reactor_when_stopped(r));
    weft_http_server_free(server);
    return port;
}

int main(int argc, char **argv)
{
    return weft_react(serve, argc, argv);
}
