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

/* One per connection. When the connection goes, the queue is freed and the
 * await fails: the coroutine then touches nothing of it. */
static weft_result serve(void *arg)
{
    conn *c = arg;
    for (;;) {
        weft_result r = weft_await(weft_deferred_queue_get(c->chunks));
        if (weft_failed(r)) {
            weft_result_free(r);
            return weft_none();
        }
        chunk *ch = r.value;
        if (!ch) { /* the peer is done: close once what came before is echoed */
            weft_transport_lose_connection(c->base.transport);
            return weft_none();
        }
        weft_transport_write(c->base.transport, ch->data, ch->len);
        weft_result_free(r);
    }
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
    if (!ch) {
        weft_transport_abort_connection(p->transport);
        return;
    }
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

static const weft_protocol_ops conn_ops = {
    .connection_made = made, .data_received = received, .eof_received = eof, .destroy = destroy};

static weft_protocol *build(weft_factory *f, const weft_address *peer)
{
    (void)f, (void)peer;
    conn *c = calloc(1, sizeof *c);
    if (c)
        c->base.ops = &conn_ops;
    return c ? &c->base : NULL;
}

static weft_factory factory = {.ops = &(const weft_factory_ops){.build = build}};

static weft_result run(weft_reactor *r, int argc, char **argv)
{
    weft_result port = weft_await(weft_listen_on(r, argc > 1 ? argv[1] : "tcp:8007", &factory));
    if (!weft_failed(port))
        weft_await(weft_reactor_when_stopped(r));
    return port;
}

int main(int argc, char **argv)
{
    return weft_react(run, argc, argv);
}
