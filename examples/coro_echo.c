/* SPDX-License-Identifier: MIT */
/*
 * An echo server written as coroutines: each connection's bytes go into a
 * DeferredQueue, and one coroutine per connection reads them in a plain
 * loop - `await` the next chunk, write it back - until the peer is done.
 *
 *     coro_echo tcp:8007      then: echo hello | nc -q1 127.0.0.1 8007
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft/weft.h>

typedef struct conn {
    weft_protocol base;
    weft_deferred_queue *chunks; /* NULL value: the peer is done */
} conn;

typedef struct chunk {
    size_t len;
    char data[];
} chunk;

static weft_result serve(void *arg)
{
    conn *c = arg;
    for (;;) {
        weft_deferred *next;
        if (weft_deferred_queue_get(c->chunks, &next) < 0)
            break;
        weft_result r = weft_await(next);
        chunk *ch = r.value;
        if (weft_failed(r) || !ch) {
            weft_result_free(r);
            break;
        }
        weft_transport_write(c->base.transport, ch->data, ch->len);
        weft_result_free(r);
    }
    weft_transport_lose_connection(c->base.transport);
    return weft_none();
}

static void made(weft_protocol *p)
{
    conn *c = (conn *)p;
    weft_reactor *r = weft_transport_reactor(p->transport);
    c->chunks = weft_deferred_queue_new(r, 0, 0);
    weft_deferred *d = c->chunks ? weft_coro_spawn(r, serve, c) : NULL;
    if (!d)
        weft_transport_abort_connection(p->transport);
    weft_deferred_unref(d);
}

static void received(weft_protocol *p, const void *data, size_t len)
{
    chunk *ch = malloc(sizeof *ch + len);
    ch->len = len;
    memcpy(ch->data, data, len);
    if (weft_deferred_queue_put(((conn *)p)->chunks, ch, free) < 0)
        free(ch);
}

static bool eof(weft_protocol *p)
{
    /* Tell the coroutine; it closes once it has echoed what came before. */
    if (weft_deferred_queue_put(((conn *)p)->chunks, NULL, NULL) < 0)
        return false;
    return true;
}

static void destroy(weft_protocol *p)
{
    weft_deferred_queue_free(((conn *)p)->chunks);
    free(p);
}

static const weft_protocol_ops conn_ops = {.connection_made = made, .data_received = received, .eof_received = eof,
                                           .destroy = destroy};

static weft_protocol *build(weft_factory *f, const weft_address *peer)
{
    (void)f, (void)peer;
    conn *c = calloc(1, sizeof *c);
    c->base.ops = &conn_ops;
    return &c->base;
}

int main(int argc, char **argv)
{
    const char *where = argc > 1 ? argv[1] : "tcp:8007";
    weft_reactor *r;
    weft_endpoint *e;
    weft_failure *why = NULL;
    if (weft_reactor_new(NULL, &r) < 0)
        return 1;
    if (weft_endpoint_server(r, where, &e, &why) < 0) {
        fprintf(stderr, "coro_echo: %s\n", weft_failure_message(why));
        return 2;
    }
    weft_factory f = {.ops = &(weft_factory_ops){.build = build}};
    weft_deferred *listening = weft_endpoint_listen(e, &f);
    weft_endpoint_free(e);
    weft_result res;
    if (weft_reactor_run_until(r, listening, 10) < 0 || weft_deferred_take(listening, &res) < 0 || weft_failed(res)) {
        fprintf(stderr, "coro_echo: cannot listen on %s\n", where);
        return 1;
    }
    weft_deferred_unref(listening);
    fprintf(stderr, "coro_echo: listening on %s; Ctrl-C to stop\n", where);
    weft_reactor_run(r);
    weft_deferred_unref(weft_port_stop(res.value));
    weft_reactor_free(r);
    return 0;
}
