/* SPDX-License-Identifier: MIT */
/*
 * The smallest HTTP server: "Hello, World!" to every GET.
 *
 *     hello_http tcp:8081      then: curl http://127.0.0.1:8081/
 *
 * Ctrl-C (or SIGTERM) stops it.
 */
#include <stdio.h>
#include <weft/weft.h>

static void hello(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply(req, 200, "text/plain", "Hello, World!", 13);
}

int main(int argc, char **argv)
{
    weft_reactor *r;
    weft_endpoint *e;
    if (argc != 2 || weft_reactor_new(NULL, &r) < 0)
        return 2;
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource_on(root, "GET", hello, NULL);
    weft_http_resource_set_leaf(root, true);
    weft_http_server *server = weft_http_server_new(r, root, NULL);
    if (!server || weft_endpoint_server(r, argv[1], &e, NULL) < 0)
        return 2;
    weft_deferred *listening = weft_endpoint_listen(e, weft_http_server_factory(server));
    weft_endpoint_free(e);
    weft_result port;
    if (weft_reactor_run_until(r, listening, 10) < 0 || weft_deferred_take(listening, &port) < 0 || weft_failed(port)) {
        fprintf(stderr, "hello_http: cannot listen on %s\n", argv[1]);
        return 1;
    }
    weft_deferred_unref(listening);
    weft_reactor_run(r);
    weft_deferred_unref(weft_port_stop(port.value));
    weft_http_server_free(server);
    weft_reactor_free(r);
    return 0;
}
