/* SPDX-License-Identifier: MIT */
/*
 * A line-based client written as a coroutine: connect, then for each line
 * given on the command line send it and await the reply line, as straight
 * code. Against the echo servers:
 *
 *     coro_lines tcp:host=127.0.0.1:port=8007 hello world
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft/weft.h>

/* Lines received go into a queue the coroutine awaits; NULL once the
 * connection has gone. The protocol frees itself and the queue at its end,
 * so the coroutine touches neither after it has let go of the connection. */
typedef struct client {
    weft_line_receiver lr;
    weft_deferred_queue *lines;
} client;

static void got_line(weft_line_receiver *lr, const char *line, size_t len)
{
    char *copy = strndup(line, len);
    if (!copy || weft_deferred_queue_put(((client *)lr)->lines, copy, free) < 0)
        free(copy);
}

static void lost(weft_line_receiver *lr, const weft_failure *why)
{
    (void)why;
    if (weft_deferred_queue_put(((client *)lr)->lines, NULL, NULL) < 0)
        weft_transport_abort_connection(lr->base.transport);
}

static void destroy(weft_line_receiver *lr)
{
    weft_deferred_queue_free(((client *)lr)->lines);
    free(lr);
}

static const weft_line_receiver_ops client_ops = {
    .line_received = got_line, .connection_lost = lost, .destroy = destroy};

static weft_result talk(weft_reactor *r, int argc, char **argv)
{
    if (argc < 3)
        return weft_err_new(WEFT_EINVAL, "usage: coro_lines CLIENT-ENDPOINT LINE...");
    client *c = calloc(1, sizeof *c);
    if (!c || !(c->lines = weft_deferred_queue_new(r, 0, 0))) {
        free(c);
        return weft_err_new(WEFT_ENOMEM, "out of memory");
    }
    weft_line_receiver_init(&c->lr, &client_ops);
    weft_line_receiver_set_delimiter(&c->lr, "\n", 1);
    weft_result res = weft_await(weft_connect_protocol(r, argv[1], &c->lr.base));
    for (int i = 2; !weft_failed(res) && i < argc; i++) {
        weft_result_free(res);
        weft_line_receiver_send_line(&c->lr, argv[i], strlen(argv[i]));
        res = weft_await_timeout(weft_deferred_queue_get(c->lines), 5);
        if (!weft_failed(res) && !res.value)
            return weft_err_new(WEFT_EOF, "the server closed the connection");
        if (!weft_failed(res))
            printf("%s -> %s\n", argv[i], (char *)res.value);
    }
    if (!weft_failed(res))
        weft_transport_lose_connection(c->lr.base.transport);
    return res;
}

int main(int argc, char **argv)
{
    return weft_react(talk, argc, argv);
}
