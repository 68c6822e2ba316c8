/* SPDX-License-Identifier: MIT */
/* weft_transport_set_protocol over real sockets: a connection handed from
 * one protocol to another while it stays open - bytes after the switch go
 * to the new protocol in order, what the old one queued is sent first, a
 * pause and a producer of the old one do not stick, the factories' counts
 * follow, and a closing transport refuses. Loopback, port 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ---- the server side: line protocols that tag their answers ---- */

typedef struct world world;

typedef struct liner {
    weft_protocol base;
    world *w;
    char tag; /* 'A' or 'B' */
    char line[64];
    size_t len;
    int lost, destroyed;
} liner;

typedef struct counting_factory {
    weft_factory base;
    int started, stopped;
} counting_factory;

struct world {
    weft_reactor *r;
    counting_factory fa;  /* listens; builds A */
    counting_factory fb;  /* B's own factory, when the test gives it one */
    liner *a, *b;         /* the server's two protocols (the test frees them) */
    weft_transport *server;
    size_t flood;         /* A answers "switch" with this many bytes, then switches */
    size_t queued_at_switch;
    bool lose_then_switch;
    weft_protocol *refused; /* set_protocol's answer when lose_then_switch */
    bool pause_and_produce;
    int producer_stopped;
    weft_producer producer;
};

static void liner_line(liner *l, const char *line, size_t len, const char *rest, size_t rest_len);

static void liner_data(weft_protocol *p, const void *data, size_t len)
{
    liner *l = (liner *)p;
    const char *s = data;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\n') {
            cr_assert_lt(l->len, sizeof l->line);
            l->line[l->len++] = s[i];
            continue;
        }
        size_t n = l->len;
        l->len = 0;
        /* After a switch the rest of this chunk is the new protocol's. */
        if (p->transport == NULL || weft_transport_protocol(l->w->server) != p) {
            cr_assert_fail("a line after the switch reached the old protocol");
            return;
        }
        liner_line(l, l->line, n, s + i + 1, len - i - 1);
        if (weft_transport_protocol(l->w->server) != p)
            return;
    }
}

static void liner_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((liner *)p)->lost++;
}

static void liner_destroy(weft_protocol *p)
{
    ((liner *)p)->destroyed++;
}

static void liner_made(weft_protocol *p);

static const weft_protocol_ops liner_ops = {
    .connection_made = liner_made, .data_received = liner_data, .connection_lost = liner_lost, .destroy = liner_destroy};

static void answer(liner *l, const char *line, size_t len)
{
    char out[80];
    int n = snprintf(out, sizeof out, "%c:%.*s\n", l->tag, (int)len, line);
    cr_assert_eq(weft_transport_write(l->base.transport, out, (size_t)n), 0);
}

static void producer_stop(weft_producer *p)
{
    ((world *)p->arg)->producer_stopped++;
}

static void producer_nothing(weft_producer *p)
{
    (void)p;
}

static const weft_producer_ops producer_ops = {producer_nothing, producer_nothing, producer_stop};

static void liner_made(weft_protocol *p)
{
    world *w = ((liner *)p)->w;
    w->server = p->transport;
    if (w->pause_and_produce) {
        weft_transport_pause_reading(p->transport);
        w->producer = (weft_producer){&producer_ops, w};
        cr_assert_eq(weft_transport_register_producer(p->transport, &w->producer, true), 0);
    }
}

static liner *liner_new(world *w, char tag)
{
    liner *l = calloc(1, sizeof *l);
    l->base.ops = &liner_ops;
    l->w = w;
    l->tag = tag;
    return l;
}

static void liner_line(liner *l, const char *line, size_t len, const char *rest, size_t rest_len)
{
    world *w = l->w;
    if (l->tag == 'A' && len == 6 && memcmp(line, "switch", 6) == 0) {
        if (w->lose_then_switch) {
            weft_transport_lose_connection(l->base.transport);
            w->refused = weft_transport_set_protocol(l->base.transport, &w->b->base);
            return;
        }
        if (w->flood) {
            char *big = malloc(w->flood);
            memset(big, 'a', w->flood);
            big[w->flood - 1] = '\n';
            cr_assert_eq(weft_transport_write(l->base.transport, big, w->flood), 0);
            free(big);
        }
        w->queued_at_switch = weft_transport_buffered(l->base.transport);
        cr_assert_eq(weft_transport_set_protocol(l->base.transport, &w->b->base), &l->base);
        cr_assert_null(l->base.transport, "the old protocol is detached");
        /* The bytes after "switch\n" in this chunk are the new protocol's. */
        if (rest_len)
            w->b->base.ops->data_received(&w->b->base, rest, rest_len);
        return;
    }
    answer(l, line, len);
}

static weft_protocol *build_a(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    world *w = WEFT_CONTAINER_OF(f, world, fa);
    cr_assert_null(w->a, "one connection per test");
    w->a = liner_new(w, 'A');
    return &w->a->base;
}

static void count_start(weft_factory *f)
{
    ((counting_factory *)f)->started++;
}

static void count_stop(weft_factory *f)
{
    ((counting_factory *)f)->stopped++;
}

static const weft_factory_ops a_factory_ops = {build_a, count_start, count_stop};
static const weft_factory_ops b_factory_ops = {NULL, count_start, count_stop};

/* ---- the client: collects what it reads ---- */

typedef struct client {
    weft_protocol base;
    char *got;
    size_t len, cap;
    bool lost;
} client;

static void client_data(weft_protocol *p, const void *data, size_t len)
{
    client *c = (client *)p;
    if (c->len + len > c->cap) {
        c->cap = (c->len + len) * 2;
        c->got = realloc(c->got, c->cap);
    }
    memcpy(c->got + c->len, data, len);
    c->len += len;
}

static void client_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((client *)p)->lost = true;
}

static const weft_protocol_ops client_ops = {.data_received = client_data, .connection_lost = client_lost};

/* ---- fixture ---- */

typedef struct fixture {
    world w;
    weft_port *port;
    client c;
} fixture;

static void setup(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->w.r = weft_test_reactor();
    fx->w.fa.base.ops = &a_factory_ops;
    fx->w.fb.base.ops = &b_factory_ops;
    fx->w.b = liner_new(&fx->w, 'B');
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_listen(fx->w.r, &a, &fx->w.fa.base, NULL, &fx->port), 0);
}

static void connect_client(fixture *fx)
{
    weft_address a;
    cr_assert_eq(weft_port_address(fx->port, &a), 0);
    char desc[64];
    snprintf(desc, sizeof desc, "tcp:host=127.0.0.1:port=%d", weft_address_port(&a));
    fx->c.base.ops = &client_ops;
    weft_deferred *d = weft_connect_protocol(fx->w.r, desc, &fx->c.base);
    cr_assert_eq(weft_reactor_run_until(fx->w.r, d, 10), 0);
    weft_deferred_unref(d);
    for (int i = 0; i < 1000 && !fx->w.server; i++)
        cr_assert_eq(weft_reactor_iterate(fx->w.r, 1), 0);
    cr_assert_not_null(fx->w.server, "the server saw the connection");
}

static void send_text(fixture *fx, const char *s)
{
    cr_assert_eq(weft_transport_write(fx->c.base.transport, s, strlen(s)), 0);
}

static void wait_for(fixture *fx, size_t n)
{
    for (int i = 0; i < 100000 && fx->c.len < n && !fx->c.lost; i++)
        cr_assert_eq(weft_reactor_iterate(fx->w.r, 1), 0);
    cr_assert_eq(fx->c.len, n);
}

static void close_and_teardown(fixture *fx)
{
    if (fx->c.base.transport)
        weft_transport_lose_connection(fx->c.base.transport);
    for (int i = 0; i < 1000 && !(fx->c.lost && fx->w.b->lost + fx->w.a->lost > 0); i++)
        cr_assert_eq(weft_reactor_iterate(fx->w.r, 1), 0);
    weft_deferred_unref(weft_port_stop(fx->port));
    weft_reactor_iterate(fx->w.r, 0);
    weft_reactor_free(fx->w.r);
    free(fx->c.got);
}

/* The protocols are the test's memory (their destroy only counts): freed
 * after the checks on them. */
static void free_liners(fixture *fx)
{
    free(fx->w.a);
    free(fx->w.b);
}

WEFT_TEST(set_protocol, bytes_after_the_switch_reach_the_new_protocol_after_what_the_old_one_queued)
{
    fixture fx;
    setup(&fx);
    connect_client(&fx);
    fx.w.flood = (size_t)8 << 20; /* more than the socket buffers hold: it waits in weft's */
    /* One write: the switch happens in the middle of a chunk. */
    send_text(&fx, "one\nswitch\ntwo\nthree\n");
    for (int i = 0; i < 1000 && weft_transport_protocol(fx.w.server) != &fx.w.b->base; i++)
        cr_assert_eq(weft_reactor_iterate(fx.w.r, 1), 0);
    cr_assert_gt(fx.w.queued_at_switch, 0, "A's answer was still queued at the switch");
    send_text(&fx, "four\n");
    const char *tail = "B:two\nB:three\nB:four\n";
    size_t want = 6 + fx.w.flood + strlen(tail);
    wait_for(&fx, want);
    cr_assert_eq(memcmp(fx.c.got, "A:one\n", 6), 0);
    for (size_t i = 6; i < 6 + fx.w.flood - 1; i++)
        if (fx.c.got[i] != 'a')
            cr_assert_fail("byte %zu of A's answer is %#x", i, (unsigned)(unsigned char)fx.c.got[i]);
    cr_assert_eq(memcmp(fx.c.got + 6 + fx.w.flood, tail, strlen(tail)), 0, "got %.*s", (int)strlen(tail),
                 fx.c.got + 6 + fx.w.flood);
    /* B inherited A's factory: the listening factory counted one connection
     * all along (the port, and the connection). */
    cr_assert_eq(fx.w.b->base.factory, &fx.w.fa.base);
    cr_assert_eq(fx.w.fa.base.users, 2);
    /* A was detached, told nothing; ending it is ours. */
    cr_assert_eq(fx.w.a->lost + fx.w.a->destroyed, 0);
    weft_protocol_destroy(&fx.w.a->base);
    close_and_teardown(&fx);
    cr_assert_eq(fx.w.b->lost, 1);
    cr_assert_eq(fx.w.b->destroyed, 1);
    cr_assert_eq(fx.w.a->destroyed, 1);
    cr_assert_eq(fx.w.fa.stopped, 1);
    free_liners(&fx);
}

WEFT_TEST(set_protocol, a_pause_and_a_producer_of_the_old_protocol_do_not_stick_and_counts_move_to_the_new_factory)
{
    fixture fx;
    setup(&fx);
    fx.w.pause_and_produce = true;
    fx.w.b->base.factory = &fx.w.fb.base;
    connect_client(&fx);
    send_text(&fx, "x\n");
    /* A paused reading: the line waits in the socket. */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(weft_reactor_iterate(fx.w.r, 0), 0);
    cr_assert_eq(fx.c.len, 0);
    cr_assert_eq(fx.w.fa.base.users, 2);

    cr_assert_eq(weft_transport_set_protocol(fx.w.server, &fx.w.b->base), &fx.w.a->base);
    cr_assert_eq(fx.w.producer_stopped, 1, "A's producer was stopped");
    cr_assert_eq(fx.w.fb.started, 1, "B's factory counts the connection");
    cr_assert_eq(fx.w.fa.base.users, 1, "A's no longer does");
    cr_assert_eq(weft_transport_register_producer(fx.w.server, &fx.w.producer, true), 0, "none is registered");
    weft_transport_unregister_producer(fx.w.server);
    weft_protocol_destroy(&fx.w.a->base);
    wait_for(&fx, 4);
    cr_assert_eq(memcmp(fx.c.got, "B:x\n", 4), 0, "B reads: the pause was lifted");
    close_and_teardown(&fx);
    cr_assert_eq(fx.w.b->lost, 1);
    cr_assert_eq(fx.w.fb.stopped, 1);
    cr_assert_eq(fx.w.producer_stopped, 1, "stopped once");
    free_liners(&fx);
}

WEFT_TEST(set_protocol, a_closing_transport_refuses_the_switch)
{
    fixture fx;
    setup(&fx);
    connect_client(&fx);
    fx.w.lose_then_switch = true;
    send_text(&fx, "one\nswitch\n");
    for (int i = 0; i < 1000 && !fx.c.lost; i++)
        cr_assert_eq(weft_reactor_iterate(fx.w.r, 1), 0);
    cr_assert(fx.c.lost);
    cr_assert_eq(fx.c.len, 6);
    cr_assert_null(fx.w.refused);
    cr_assert_null(fx.w.b->base.transport, "B was never attached");
    close_and_teardown(&fx);
    cr_assert_eq(fx.w.a->lost, 1);
    cr_assert_eq(fx.w.a->destroyed, 1);
    cr_assert_eq(fx.w.b->lost + fx.w.b->destroyed, 0);
    free_liners(&fx);
}
