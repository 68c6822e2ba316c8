/* SPDX-License-Identifier: MIT */
/*
 * A whole process for the console and metrics tests, until the runner
 * wires both in: an echo port and a metrics server on 127.0.0.1 (port 0),
 * and the console at argv[1]. It says on stderr
 *     echo 127.0.0.1:PORT
 *     metrics 127.0.0.1:PORT
 *     console ready
 * and runs until SIGTERM. A command "later" answers after 10 ms, from the
 * loop, as a reload would.
 */
#include <stdio.h>
#include <stdlib.h>

#include "weft/weft.h"

static int listen_local(weft_reactor *r, weft_factory *f, const char *what, weft_port **out)
{
    weft_address a;
    weft_address_from_ip("127.0.0.1", 0, &a);
    int err = weft_listen(r, &a, f, NULL, out);
    if (err < 0) {
        fprintf(stderr, "console_server: cannot listen: %s\n", weft_strerror(err));
        return err;
    }
    weft_port_address(*out, &a);
    fprintf(stderr, "%s 127.0.0.1:%d\n", what, weft_address_port(&a));
    return 0;
}

static void answer_later(void *arg)
{
    weft_console_reply *reply = arg;
    weft_console_reply_line(reply, "answered from the loop");
    weft_console_reply_ok(reply);
}

static void later(void *arg, weft_console_reply *reply, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    weft_timer t;
    if (weft_call_later(arg, 0.01, answer_later, reply, &t) < 0)
        weft_console_reply_error(reply, "out of memory");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: console_server SOCKET\n", stderr);
        return 2;
    }
    weft_reactor *r;
    if (weft_reactor_new(NULL, &r) < 0)
        return 1;
    int status = 1;
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_http_resource *root = weft_http_resource_new(), *metrics = weft_metrics_resource_new(r);
    if (!root || !metrics || weft_http_resource_put_child(root, "metrics", metrics) < 0) {
        weft_http_resource_free(root);
        weft_reactor_free(r);
        return 1;
    }
    weft_http_server *srv = weft_http_server_new(r, root, NULL);
    weft_console *con = NULL;
    weft_port *echo_port, *metrics_port;
    int err;
    if (srv && listen_local(r, &echo, "echo", &echo_port) == 0 &&
        listen_local(r, weft_http_server_factory(srv), "metrics", &metrics_port) == 0) {
        if ((err = weft_console_new(r, argv[1], NULL, &con)) < 0)
            fprintf(stderr, "console_server: no console at %s: %s\n", argv[1], weft_strerror(err));
        else if (weft_console_add_command(con, "later", "later: answers from the loop", later, r) == 0) {
            fputs("console ready\n", stderr);
            status = weft_reactor_run(r) == 0 ? 0 : 1;
        }
    }
    weft_console_free(con);
    weft_http_server_free(srv);
    weft_reactor_free(r);
    return status;
}
