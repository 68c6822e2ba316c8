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

typedef struct client {
    weft_protocol base;
    weft_deferred_queue *lines; /* complete lines received */
    char partial[4096];
    size_t plen;
} client;

static void received(weft_protocol *p, const void *data, size_t len)
{
    client *c = (client *)p;
    for (size_t i = 0; i < len; i++) {
        char ch = ((const char *)data)[i];
        if (ch != '\n' && c->plen < sizeof c->partial - 1) {
            c->partial[c->plen++] = ch;
            continue;
        }
        c->partial[c->plen] = '\0';
        char *line = strdup(c->partial);
        if (weft_deferred_queue_put(c->lines, line, free) < 0)
            free(line);
        c->plen = 0;
    }
}

static const weft_protocol_ops client_ops = {.data_received = received};

typedef struct job {
    weft_factory factory; /* builds our one client */
    weft_reactor *r;
    const char *where;
    char **lines;
    int nlines;
    client c;
} job;

static weft_protocol *build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    return &((job *)f)->c.base;
}

static const weft_factory_ops job_factory_ops = {.build = build};

static weft_result talk(void *arg)
{
    job *j = arg;
    weft_endpoint *e;
    weft_failure *why = NULL;
    if (weft_endpoint_client(j->r, j->where, &e, &why) < 0)
        return weft_err(why);
    weft_deferred *connecting = weft_endpoint_connect(e, &j->factory);
    weft_endpoint_free(e);
    weft_result r = weft_await(connecting);
    if (weft_failed(r))
        return r;
    for (int i = 0; i < j->nlines; i++) {
        weft_transport_write(j->c.base.transport, j->lines[i], strlen(j->lines[i]));
        weft_transport_write(j->c.base.transport, "\n", 1);
        weft_deferred *next;
        if (weft_deferred_queue_get(j->c.lines, &next) < 0)
            return weft_err_new(WEFT_ENOMEM, "out of memory");
        weft_result line = weft_await_timeout(next, 5);
        if (weft_failed(line))
            return line;
        printf("%s -> %s\n", j->lines[i], (char *)line.value);
        weft_result_free(line);
    }
    weft_transport_lose_connection(j->c.base.transport);
    return weft_none();
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: coro_lines CLIENT-ENDPOINT LINE...\n");
        return 2;
    }
    job j = {.factory.ops = &job_factory_ops, .where = argv[1], .lines = argv + 2, .nlines = argc - 2};
    if (weft_reactor_new(NULL, &j.r) < 0)
        return 1;
    j.c.base.ops = &client_ops;
    j.c.lines = weft_deferred_queue_new(j.r, 0, 0);
    weft_deferred *d = weft_coro_spawn(j.r, talk, &j);
    weft_reactor_run_until(j.r, d, 30);
    weft_result res;
    int status = 0;
    if (weft_deferred_take(d, &res) == 0 && weft_failed(res)) {
        fprintf(stderr, "coro_lines: %s\n", weft_failure_message(weft_result_failure(res)));
        status = 1;
    }
    weft_result_free(res);
    weft_deferred_unref(d);
    /* Let the close finish, then free. */
    weft_reactor_iterate(j.r, 0);
    weft_deferred_queue_free(j.c.lines);
    weft_reactor_free(j.r);
    return status;
}
