/* SPDX-License-Identifier: MIT */
/*
 * A TLS echo client: connects to an echo server, verifying it against the
 * trust root in the endpoint string, streams BYTES (1 MiB by default)
 * through a producer - so it never buffers more than the transport's
 * high-water mark - and checks that every byte comes back unchanged.
 * Twisted's twin: examples/twisted/tls_echo.py.
 *
 *     tls_echo tls:host=localhost:port=8443:trustRoots=ca.pem [BYTES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <weft/weft.h>

typedef struct check {
    weft_protocol base;
    weft_producer sender;
    size_t size, sent, got;
    bool paused;
    weft_deferred *done; /* fires once every byte came back, or fails */
} check;

/* The bytes sent: a pattern that a shifted or dropped byte breaks. */
#define BYTE_AT(i) ((unsigned char)((i)*31 + 7))

static void send_more(weft_producer *p)
{
    check *c = WEFT_CONTAINER_OF(p, check, sender);
    unsigned char chunk[16384];
    c->paused = false;
    while (!c->paused && c->sent < c->size) {
        size_t n = c->size - c->sent < sizeof chunk ? c->size - c->sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = BYTE_AT(c->sent + i);
        c->sent += n;
        weft_transport_write(c->base.transport, chunk, n);
    }
}

static void pause_sending(weft_producer *p)
{
    WEFT_CONTAINER_OF(p, check, sender)->paused = true;
}

static const weft_producer_ops sender_ops = {.pause = pause_sending, .resume = send_more};

static void made(weft_protocol *p)
{
    check *c = (check *)p;
    c->sender.ops = &sender_ops;
    weft_transport_register_producer(p->transport, &c->sender, true);
    send_more(&c->sender);
}

static void received(weft_protocol *p, const void *data, size_t len)
{
    check *c = (check *)p;
    for (size_t i = 0; i < len; i++, c->got++) {
        if (((const unsigned char *)data)[i] != BYTE_AT(c->got)) {
            weft_deferred_errback(c->done, weft_failure_new(WEFT_EFAILED, "byte %zu came back changed", c->got));
            weft_transport_abort_connection(p->transport);
            return;
        }
    }
    if (c->got == c->size) {
        weft_deferred_callback(c->done, NULL, NULL);
        weft_transport_lose_connection(p->transport);
    }
}

static void lost(weft_protocol *p, const weft_failure *why)
{
    check *c = (check *)p;
    if (!weft_deferred_called(c->done))
        weft_deferred_errback(c->done, weft_failure_wrap(weft_failure_ref(why), WEFT_EFAILED,
                                                         "connection lost after %zu of %zu bytes", c->got, c->size));
}

static void destroy(weft_protocol *p)
{
    weft_deferred_unref(((check *)p)->done);
    free(p);
}

static const weft_protocol_ops check_ops = {
    .connection_made = made, .data_received = received, .connection_lost = lost, .destroy = destroy};

static weft_result run(weft_reactor *r, int argc, char **argv)
{
    if (argc < 2)
        return weft_err_new(WEFT_EINVAL, "usage: tls_echo tls:host=H:port=P:trustRoots=CA.pem [BYTES]");
    check *c = calloc(1, sizeof *c);
    if (!c || !(c->done = weft_deferred_new(r)))
        return weft_err_new(WEFT_ENOMEM, "out of memory");
    c->base.ops = &check_ops;
    c->size = argc > 2 ? strtoull(argv[2], NULL, 0) : 1 << 20;
    size_t size = c->size;
    weft_deferred *done = weft_deferred_ref(c->done);
    weft_result res = weft_await(weft_connect_protocol(r, argv[1], &c->base));
    if (!weft_failed(res))
        res = weft_await(weft_deferred_ref(done));
    if (!weft_failed(res))
        printf("%zu bytes echoed intact\n", size);
    weft_deferred_unref(done);
    return res;
}

int main(int argc, char **argv)
{
    return weft_react(run, argc, argv);
}
