/* SPDX-License-Identifier: MIT */
/* Memory transports (testing.h): the string transport a test plays the peer
 * of, and the connected pair a pump drives. Both are real transports, so
 * these tests also pin down the generic transport's semantics as a protocol
 * sees them: buffering, water marks, half-close, two-phase close. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ---- a protocol that records what happens to it ---- */

typedef struct rec {
    weft_protocol base;
    int made, eofs, lost, destroyed;
    int lost_code;
    char got[4096];
    size_t len;
    bool keep_open_on_eof;  /* eof_received returns true */
    bool echo;              /* write back what arrives */
    bool close_on_data;     /* lose_connection from data_received */
    bool pause_on_data;     /* pause_reading from data_received */
    bool write_eof_on_eof;  /* answer the peer's EOF with ours */
    weft_address peer, host; /* as seen in connection_made */
} rec;

static void rec_made(weft_protocol *p)
{
    rec *r = (rec *)p;
    r->made++;
    cr_assert_eq(weft_transport_peer(p->transport, &r->peer), 0);
    cr_assert_eq(weft_transport_host(p->transport, &r->host), 0);
}

static void rec_data(weft_protocol *p, const void *data, size_t len)
{
    rec *r = (rec *)p;
    cr_assert_leq(r->len + len, sizeof r->got);
    memcpy(r->got + r->len, data, len);
    r->len += len;
    if (r->echo)
        cr_assert_eq(weft_transport_write(p->transport, data, len), 0);
    if (r->pause_on_data)
        weft_transport_pause_reading(p->transport);
    if (r->close_on_data)
        weft_transport_lose_connection(p->transport);
}

static bool rec_eof(weft_protocol *p)
{
    rec *r = (rec *)p;
    r->eofs++;
    if (r->write_eof_on_eof)
        weft_transport_write_eof(p->transport);
    return r->keep_open_on_eof;
}

static void rec_lost(weft_protocol *p, const weft_failure *why)
{
    rec *r = (rec *)p;
    r->lost++;
    r->lost_code = weft_failure_code(why);
    cr_assert_not_null(p->transport, "the transport is valid until connection_lost returns");
}

static void rec_destroy(weft_protocol *p)
{
    ((rec *)p)->destroyed++;
}

static const weft_protocol_ops rec_ops = {
    .connection_made = rec_made, .data_received = rec_data, .eof_received = rec_eof,
    .connection_lost = rec_lost, .destroy = rec_destroy};

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    r->base.ops = &rec_ops;
}

static weft_string_transport *string_new(weft_reactor *r, rec *p)
{
    weft_string_transport *st = NULL;
    cr_assert_eq(weft_string_transport_new(r, &p->base, NULL, NULL, &st), 0);
    return st;
}

static weft_string_transport_state state_of(const weft_string_transport *st)
{
    weft_string_transport_state s;
    weft_string_transport_inspect(st, &s);
    return s;
}

static bool value_is(const weft_string_transport *st, const char *want)
{
    size_t len;
    const char *v = weft_string_transport_value(st, &len);
    return len == strlen(want) && memcmp(v, want, len) == 0;
}

/* ---- string transport ---- */

WEFT_TEST(string_transport, connection_made_and_addresses)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    cr_assert_eq(p.made, 1);
    cr_assert_eq(weft_string_transport_transport(st), p.base.transport);
    char buf[64];
    weft_address_format(&p.peer, buf, sizeof buf);
    cr_assert_str_eq(buf, "192.168.1.1:54321");
    weft_address_format(&p.host, buf, sizeof buf);
    cr_assert_str_eq(buf, "10.0.0.1:12345");
    cr_assert(state_of(st).connected);
    cr_assert_eq(weft_transport_set_nodelay(p.base.transport, true), -EOPNOTSUPP);
    cr_assert_eq(weft_transport_set_cork(p.base.transport, true), -EOPNOTSUPP);
    weft_string_transport_free(st);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.lost, 1);
    cr_assert_eq(p.lost_code, -ECONNABORTED, "freeing an open string transport aborts it");
    cr_assert_eq(p.destroyed, 1);

    /* Chosen addresses. */
    rec q;
    rec_init(&q);
    weft_address host, peer;
    cr_assert_eq(weft_address_from_ip("::1", 80, &host), 0);
    cr_assert_eq(weft_address_from_unix("/run/x.sock", &peer), 0);
    cr_assert_eq(weft_string_transport_new(r, &q.base, &host, &peer, &st), 0);
    cr_assert(weft_address_equal(&q.host, &host));
    cr_assert(weft_address_equal(&q.peer, &peer));
    weft_string_transport_free(st);
    weft_reactor_free(r);
    cr_assert_eq(q.lost, 1, "weft_reactor_free finishes closes still pending");
}

WEFT_TEST(string_transport, records_writes_until_cleared)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    weft_transport *t = p.base.transport;
    cr_assert(value_is(st, ""));
    cr_assert_eq(weft_transport_write(t, "hello, ", 7), 0);
    struct iovec iov[2] = {{"wo", 2}, {"rld", 3}};
    cr_assert_eq(weft_transport_writev(t, iov, 2), 0);
    cr_assert(value_is(st, "hello, world"));
    cr_assert_str_eq(weft_string_transport_value(st, NULL), "hello, world", "NUL-terminated");
    weft_string_transport_clear(st);
    cr_assert(value_is(st, ""));
    cr_assert_eq(weft_transport_write(t, "x", 1), 0);
    cr_assert(value_is(st, "x"));
    cr_assert_eq(weft_transport_buffered(t), 0);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

static void count_release(void *arg)
{
    (*(int *)arg)++;
}

WEFT_TEST(string_transport, borrowed_writes_are_released_from_the_reactor)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    int released = 0;
    static const char big[] = "borrowed bytes";
    cr_assert_eq(weft_transport_write_borrowed(p.base.transport, big, sizeof big - 1, count_release, &released), 0);
    cr_assert(value_is(st, "borrowed bytes"));
    cr_assert_eq(released, 0, "never inside the write");
    weft_reactor_iterate(r, 0);
    cr_assert_eq(released, 1);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

WEFT_TEST(string_transport, receive_and_eof_close_cleanly)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    cr_assert_eq(weft_string_transport_receive(st, "abc", 3), 0);
    cr_assert_eq(weft_string_transport_receive(st, "", 0), 0);
    cr_assert_eq(weft_string_transport_receive(st, "def", 3), 0);
    cr_assert_eq(p.len, 6);
    cr_assert_eq(memcmp(p.got, "abcdef", 6), 0);
    cr_assert_eq(weft_string_transport_receive_eof(st), 0);
    cr_assert_eq(p.eofs, 1);
    /* eof_received said no: the transport loses the connection itself. */
    weft_string_transport_state s = state_of(st);
    cr_assert(s.lose_called);
    cr_assert(s.closed);
    cr_assert_eq(s.close_code, WEFT_EOF);
    cr_assert_eq(p.lost, 0, "connection_lost waits for the close step");
    cr_assert_eq(weft_string_transport_receive(st, "x", 1), -ENOTCONN);
    cr_assert_eq(weft_string_transport_receive_eof(st), -ENOTCONN);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.lost, 1);
    cr_assert_eq(p.lost_code, WEFT_EOF);
    cr_assert_eq(p.destroyed, 1);
    cr_assert_null(p.base.transport);
    cr_assert_null(weft_string_transport_transport(st));
    s = state_of(st);
    cr_assert(s.finished);
    cr_assert(!s.connected);
    cr_assert(!s.abort_called);
    cr_assert_eq(weft_string_transport_receive(st, "x", 1), -ENOTCONN);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

WEFT_TEST(string_transport, lose_and_abort_are_reported)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    cr_assert(!state_of(st).lose_called);
    weft_transport_write(p.base.transport, "bye", 3);
    weft_transport_lose_connection(p.base.transport);
    weft_string_transport_state s = state_of(st);
    cr_assert(s.lose_called);
    cr_assert(!s.abort_called);
    cr_assert(value_is(st, "bye"));
    cr_assert_eq(weft_transport_write(p.base.transport, "more", 4), -ENOTCONN);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.lost_code, WEFT_EOF);
    weft_string_transport_free(st);

    rec q;
    rec_init(&q);
    st = string_new(r, &q);
    weft_transport_abort_connection(q.base.transport);
    s = state_of(st);
    cr_assert(s.abort_called);
    cr_assert(!s.lose_called);
    cr_assert(s.closed);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(q.lost_code, -ECONNABORTED);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

WEFT_TEST(string_transport, lose_from_inside_data_received)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    p.close_on_data = true;
    weft_string_transport *st = string_new(r, &p);
    cr_assert_eq(weft_string_transport_receive(st, "quit", 4), 0);
    cr_assert(state_of(st).lose_called);
    cr_assert_eq(p.lost, 0);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.lost, 1);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

WEFT_TEST(string_transport, half_close_both_ways)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    p.keep_open_on_eof = true;
    weft_string_transport *st = string_new(r, &p);
    cr_assert_eq(weft_string_transport_receive_eof(st), 0);
    cr_assert_eq(p.eofs, 1);
    weft_string_transport_state s = state_of(st);
    cr_assert(!s.closed, "eof_received said keep writing");
    cr_assert_eq(weft_transport_write(p.base.transport, "reply", 5), 0);
    cr_assert_eq(weft_transport_write_eof(p.base.transport), 0);
    s = state_of(st);
    cr_assert(s.write_eof_called);
    cr_assert(s.write_closed);
    cr_assert(s.closed, "both directions are over");
    cr_assert(value_is(st, "reply"));
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.lost_code, WEFT_EOF);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

WEFT_TEST(string_transport, write_eof_waits_for_a_blocked_peer_and_reading_goes_on)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    weft_string_transport_set_blocked(st, true);
    cr_assert_eq(weft_transport_write(p.base.transport, "tail", 4), 0);
    cr_assert_eq(weft_transport_write_eof(p.base.transport), 0);
    weft_string_transport_state s = state_of(st);
    cr_assert(s.write_eof_called);
    cr_assert(!s.write_closed, "the buffer is not sent yet");
    cr_assert_eq(weft_transport_write(p.base.transport, "x", 1), -ENOTCONN);
    cr_assert_eq(weft_string_transport_receive(st, "in", 2), 0, "reading goes on after our write_eof");
    cr_assert_eq(p.len, 2);
    weft_string_transport_set_blocked(st, false);
    cr_assert(value_is(st, "tail"));
    cr_assert(state_of(st).write_closed);
    cr_assert(!state_of(st).closed);
    cr_assert_eq(weft_string_transport_receive_eof(st), 0);
    cr_assert(state_of(st).closed);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

WEFT_TEST(string_transport, disconnect_with_a_reason)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    weft_string_transport_disconnect(st, -ECONNRESET);
    weft_string_transport_disconnect(st, -ETIMEDOUT); /* already closed: nothing */
    cr_assert_eq(p.lost, 0);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.lost, 1);
    cr_assert_eq(p.lost_code, -ECONNRESET);
    cr_assert(!state_of(st).lose_called);
    cr_assert_eq(state_of(st).close_code, -ECONNRESET);
    weft_string_transport_disconnect(st, -ECONNRESET); /* gone: nothing */
    weft_string_transport_free(st);

    rec q;
    rec_init(&q);
    st = string_new(r, &q);
    weft_string_transport_disconnect(st, WEFT_EOF);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(q.lost_code, WEFT_EOF);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

/* A streaming producer counting pauses and resumes. */
typedef struct prod {
    weft_producer base;
    int pauses, resumes, stops;
    bool paused;
} prod;

static void prod_pause(weft_producer *p)
{
    ((prod *)p)->pauses++;
    ((prod *)p)->paused = true;
}

static void prod_resume(weft_producer *p)
{
    ((prod *)p)->resumes++;
    ((prod *)p)->paused = false;
}

static void prod_stop(weft_producer *p)
{
    ((prod *)p)->stops++;
}

static const weft_producer_ops prod_ops = {prod_pause, prod_resume, prod_stop};

WEFT_TEST(string_transport, blocked_peer_pauses_producers_by_water_marks)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    weft_transport *t = p.base.transport;
    prod pr = {.base.ops = &prod_ops};
    cr_assert_eq(weft_transport_set_write_limits(t, 100, 40), 0);
    cr_assert_eq(weft_transport_register_producer(t, &pr.base, true), 0);
    weft_string_transport_state s = state_of(st);
    cr_assert(s.producer && s.streaming);
    weft_string_transport_set_blocked(st, true);
    char chunk[60];
    memset(chunk, 'a', sizeof chunk);
    cr_assert_eq(weft_transport_write(t, chunk, sizeof chunk), 0);
    cr_assert_eq(pr.pauses, 0);
    cr_assert_eq(weft_transport_write(t, chunk, sizeof chunk), 0);
    cr_assert_eq(pr.pauses, 1, "paused past the high-water mark");
    cr_assert_eq(state_of(st).buffered, 120);
    cr_assert(value_is(st, ""));
    cr_assert_eq(weft_string_transport_drain(st, 50), 50);
    cr_assert_eq(pr.resumes, 0, "70 left: above the low-water mark");
    cr_assert_eq(weft_string_transport_drain(st, 30), 30);
    cr_assert_eq(pr.resumes, 1, "40 left: resumed at the low-water mark");
    cr_assert_eq(state_of(st).buffered, 40);
    size_t len;
    weft_string_transport_value(st, &len);
    cr_assert_eq(len, 80);
    /* lose_connection waits for the rest. */
    weft_transport_lose_connection(t);
    cr_assert(state_of(st).lose_called);
    cr_assert(!state_of(st).closed);
    cr_assert_eq(weft_string_transport_drain(st, 1000), 40);
    cr_assert(state_of(st).closed);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(pr.stops, 1, "the producer is stopped when the connection goes");
    cr_assert_eq(p.lost_code, WEFT_EOF);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

/* A pull producer writing n chunks, one each time it is asked. */
typedef struct puller {
    weft_producer base;
    weft_transport *t;
    int left, asked;
} puller;

static void pull_resume(weft_producer *p)
{
    puller *pl = (puller *)p;
    pl->asked++;
    if (pl->left == 0) {
        weft_transport_unregister_producer(pl->t);
        return;
    }
    pl->left--;
    cr_assert_eq(weft_transport_write(pl->t, "chunk;", 6), 0);
}

static const weft_producer_ops pull_ops = {.resume = pull_resume};

WEFT_TEST(string_transport, pull_producer_is_asked_when_the_buffer_drains)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    weft_string_transport_set_blocked(st, true);
    puller pl = {.base.ops = &pull_ops, .t = p.base.transport, .left = 3};
    cr_assert_eq(weft_transport_register_producer(p.base.transport, &pl.base, false), 0);
    cr_assert_eq(pl.asked, 1, "asked at once");
    cr_assert(value_is(st, ""), "the peer is blocked");
    cr_assert_eq(weft_transport_register_producer(p.base.transport, &pl.base, false), WEFT_EBUSY);
    weft_string_transport_drain(st, 6);
    cr_assert_geq(pl.asked, 2, "the buffer drained: asked again");
    size_t len;
    const char *v = weft_string_transport_value(st, &len);
    cr_assert_geq(len, 6);
    cr_assert_eq(memcmp(v, "chunk;", 6), 0);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

WEFT_TEST(string_transport, paused_reading_holds_data_and_eof)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    p.pause_on_data = true;
    weft_string_transport *st = string_new(r, &p);
    cr_assert_eq(weft_string_transport_receive(st, "one", 3), 0);
    cr_assert(state_of(st).paused);
    cr_assert_eq(weft_string_transport_receive(st, "two", 3), 0);
    cr_assert_eq(weft_string_transport_receive(st, "three", 5), 0);
    cr_assert_eq(weft_string_transport_receive_eof(st), 0);
    cr_assert_eq(p.len, 3, "held while paused");
    cr_assert_eq(p.eofs, 0);
    p.pause_on_data = false;
    weft_transport_resume_reading(p.base.transport);
    cr_assert_eq(p.len, 3, "never inside resume_reading");
    cr_assert(!state_of(st).paused);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.len, 11);
    cr_assert_eq(memcmp(p.got, "onetwothree", 11), 0);
    cr_assert_eq(p.eofs, 1, "the EOF comes after the held bytes");
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.lost, 1);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

WEFT_TEST(string_transport, pausing_again_during_held_delivery)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    weft_transport_pause_reading(p.base.transport);
    cr_assert_eq(weft_string_transport_receive(st, "ab", 2), 0);
    p.pause_on_data = true;
    weft_transport_resume_reading(p.base.transport);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.len, 2);
    cr_assert_eq(weft_string_transport_receive(st, "cd", 2), 0);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.len, 2, "paused again: held");
    p.pause_on_data = false;
    weft_transport_resume_reading(p.base.transport);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.len, 4);
    weft_string_transport_free(st);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}

WEFT_TEST(string_transport, closing_while_data_is_held_drops_it)
{
    weft_reactor *r = weft_test_clock();
    rec p;
    rec_init(&p);
    weft_string_transport *st = string_new(r, &p);
    weft_transport_pause_reading(p.base.transport);
    cr_assert_eq(weft_string_transport_receive(st, "held", 4), 0);
    weft_transport_resume_reading(p.base.transport); /* posts the delivery */
    weft_transport_abort_connection(p.base.transport);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(p.len, 0);
    cr_assert_eq(p.lost, 1);
    weft_string_transport_free(st);
    weft_reactor_free(r);
}

static void string_lifecycle(void *arg)
{
    (void)arg;
    weft_reactor *r = NULL;
    if (weft_clock_new(&r) < 0)
        return;
    rec p;
    rec_init(&p);
    p.pause_on_data = true;
    weft_string_transport *st = NULL;
    if (weft_string_transport_new(r, &p.base, NULL, NULL, &st) == 0) {
        weft_transport_write(p.base.transport, "hello", 5);
        weft_string_transport_set_blocked(st, true);
        weft_transport_write(p.base.transport, "world", 5);
        weft_string_transport_receive(st, "a", 1);
        weft_string_transport_receive(st, "b", 1);
        weft_transport_resume_reading(p.base.transport);
        weft_reactor_iterate(r, 0);
        weft_string_transport_drain(st, 3);
        /* An allocation that failed may have closed the connection, and the
         * iteration finished it. */
        if (p.base.transport)
            weft_transport_lose_connection(p.base.transport);
        weft_string_transport_free(st);
        cr_assert_eq(p.made, 1);
    }
    weft_reactor_free(r);
    cr_assert_eq(p.lost, p.made, "connection_lost once for each connection_made");
}

WEFT_TEST(string_transport, allocation_failures_leak_nothing)
{
    size_t runs = weft_test_each_alloc_failure(string_lifecycle, NULL);
    cr_assert_gt(runs, 3);
}

/* ---- connected pair ---- */

WEFT_TEST(memory_pair, echo_conversation)
{
    weft_reactor *r = weft_test_clock();
    rec c, s;
    rec_init(&c);
    rec_init(&s);
    s.echo = true;
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &c.base, &s.base, &mp), 0);
    cr_assert_eq(c.made, 1);
    cr_assert_eq(s.made, 1);
    cr_assert_eq(weft_memory_pair_client(mp), c.base.transport);
    cr_assert_eq(weft_memory_pair_server(mp), s.base.transport);
    cr_assert(weft_address_equal(&c.peer, &s.host));
    cr_assert(weft_address_equal(&s.peer, &c.host));
    cr_assert_eq(weft_memory_pair_pump(mp), 0, "nothing to move yet");
    cr_assert_eq(weft_transport_write(c.base.transport, "ping", 4), 0);
    cr_assert_eq(s.len, 0, "nothing moves until pumped");
    cr_assert_eq(weft_memory_pair_pump(mp), 1);
    cr_assert_eq(s.len, 4);
    cr_assert_eq(c.len, 0, "the echo moves in the next step");
    cr_assert_eq(weft_memory_pair_pump(mp), 1);
    cr_assert_eq(c.len, 4);
    cr_assert_eq(memcmp(c.got, "ping", 4), 0);
    cr_assert_eq(weft_memory_pair_pump(mp), 0);
    weft_memory_pair_free(mp);
    weft_reactor_iterate(r, 0);
    cr_assert_eq(c.lost_code, -ECONNABORTED);
    cr_assert_eq(s.lost_code, -ECONNABORTED);
    weft_reactor_free(r);
}

/* Two protocols that bounce a counter until it reaches a limit. */
typedef struct volley {
    weft_protocol base;
    int hits, limit;
    bool lost;
} volley;

static void volley_data(weft_protocol *p, const void *data, size_t len)
{
    volley *v = (volley *)p;
    for (size_t i = 0; i < len; i++) {
        unsigned char n = ((const unsigned char *)data)[i];
        v->hits++;
        if (n < v->limit) {
            n++;
            weft_transport_write(p->transport, &n, 1);
        } else {
            weft_transport_lose_connection(p->transport);
        }
    }
}

static void volley_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((volley *)p)->lost = true;
}

static const weft_protocol_ops volley_ops = {.data_received = volley_data, .connection_lost = volley_lost};

WEFT_TEST(memory_pair, flush_runs_a_whole_conversation)
{
    weft_reactor *r = weft_test_clock();
    volley a = {.base.ops = &volley_ops, .limit = 100}, b = {.base.ops = &volley_ops, .limit = 100};
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &a.base, &b.base, &mp), 0);
    unsigned char zero = 0;
    weft_transport_write(a.base.transport, &zero, 1);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(a.hits + b.hits, 101);
    cr_assert(a.lost && b.lost, "closing one side closes the other at the next pump");
    cr_assert_null(weft_memory_pair_client(mp));
    cr_assert_null(weft_memory_pair_server(mp));
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
}

WEFT_TEST(memory_pair, endless_conversation_is_reported)
{
    weft_reactor *r = weft_test_clock();
    weft_factory f;
    weft_echo_factory_init(&f);
    weft_protocol *e1 = f.ops->build(&f, NULL), *e2 = f.ops->build(&f, NULL);
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, e1, e2, &mp), 0);
    /* Two echoes bounce one byte forever. */
    weft_transport_write(e1->transport, "x", 1);
    cr_assert_eq(weft_memory_pair_flush(mp), WEFT_EAGAIN);
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
}

WEFT_TEST(memory_pair, lose_delivers_data_then_eof_then_connection_lost)
{
    weft_reactor *r = weft_test_clock();
    rec c, s;
    rec_init(&c);
    rec_init(&s);
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &c.base, &s.base, &mp), 0);
    weft_transport_write(c.base.transport, "last words", 10);
    weft_transport_lose_connection(c.base.transport);
    cr_assert_eq(weft_memory_pair_pump(mp), 1);
    cr_assert_eq(s.len, 10);
    cr_assert_eq(s.eofs, 1);
    cr_assert_eq(c.lost, 1);
    cr_assert_eq(s.lost, 1, "the server closed on EOF, and the pump ran the close step");
    cr_assert_eq(c.lost_code, WEFT_EOF);
    cr_assert_eq(s.lost_code, WEFT_EOF);
    cr_assert_eq(c.destroyed + s.destroyed, 2);
    cr_assert_eq(weft_memory_pair_pump(mp), 0);
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
}

WEFT_TEST(memory_pair, half_close_conversation)
{
    weft_reactor *r = weft_test_clock();
    rec c, s;
    rec_init(&c);
    rec_init(&s);
    s.keep_open_on_eof = true;
    s.write_eof_on_eof = false;
    c.keep_open_on_eof = true;
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &c.base, &s.base, &mp), 0);
    weft_transport_write(c.base.transport, "request", 7);
    cr_assert_eq(weft_transport_write_eof(c.base.transport), 0);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(s.len, 7);
    cr_assert_eq(s.eofs, 1);
    cr_assert_eq(s.lost, 0, "the server keeps its side open");
    cr_assert_eq(c.lost, 0);
    weft_transport_write(s.base.transport, "response", 8);
    weft_transport_write_eof(s.base.transport);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(c.len, 8);
    cr_assert_eq(memcmp(c.got, "response", 8), 0);
    cr_assert_eq(c.eofs, 1);
    cr_assert_eq(c.lost, 1);
    cr_assert_eq(s.lost, 1);
    cr_assert_eq(c.lost_code, WEFT_EOF);
    cr_assert_eq(s.lost_code, WEFT_EOF);
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
}

WEFT_TEST(memory_pair, abort_resets_the_other_side)
{
    weft_reactor *r = weft_test_clock();
    rec c, s;
    rec_init(&c);
    rec_init(&s);
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &c.base, &s.base, &mp), 0);
    weft_transport_write(c.base.transport, "lost", 4);
    weft_transport_abort_connection(c.base.transport);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(s.len, 0, "an abort drops what was in flight");
    cr_assert_eq(s.eofs, 0);
    cr_assert_eq(c.lost_code, -ECONNABORTED);
    cr_assert_eq(s.lost_code, -ECONNRESET);
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
}

WEFT_TEST(memory_pair, disconnect_fails_both_ends)
{
    weft_reactor *r = weft_test_clock();
    rec c, s;
    rec_init(&c);
    rec_init(&s);
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &c.base, &s.base, &mp), 0);
    weft_transport_write(c.base.transport, "in flight", 9);
    weft_memory_pair_disconnect(mp, -ETIMEDOUT);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(c.lost_code, -ETIMEDOUT);
    cr_assert_eq(s.lost_code, -ETIMEDOUT);
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
}

/* A producer writing 4 KiB blocks until it has sent `total`. */
typedef struct bulk {
    weft_producer base;
    weft_transport *t;
    size_t sent, total;
    int pauses, resumes;
    bool paused;
} bulk;

static void bulk_run(bulk *b)
{
    static char block[4096];
    while (!b->paused && b->sent < b->total) {
        cr_assert_eq(weft_transport_write(b->t, block, sizeof block), 0);
        b->sent += sizeof block;
    }
}

static void bulk_pause(weft_producer *p)
{
    bulk *b = (bulk *)p;
    b->pauses++;
    b->paused = true;
}

static void bulk_resume(weft_producer *p)
{
    bulk *b = (bulk *)p;
    b->resumes++;
    b->paused = false;
    bulk_run(b);
}

static const weft_producer_ops bulk_ops = {bulk_pause, bulk_resume, NULL};

/* Counts bytes without keeping them. */
typedef struct sink {
    weft_protocol base;
    size_t bytes;
} sink;

static void sink_data(weft_protocol *p, const void *data, size_t len)
{
    (void)data;
    ((sink *)p)->bytes += len;
}

static const weft_protocol_ops sink_ops = {.data_received = sink_data};

WEFT_TEST(memory_pair, a_reader_that_stops_pushes_back_on_the_writer)
{
    weft_reactor *r = weft_test_clock();
    rec c;
    rec_init(&c);
    sink s = {.base.ops = &sink_ops};
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &c.base, &s.base, &mp), 0);
    weft_transport_pause_reading(s.base.transport);
    bulk b = {.base.ops = &bulk_ops, .t = c.base.transport, .total = 1024 * 1024};
    cr_assert_eq(weft_transport_register_producer(c.base.transport, &b.base, true), 0);
    bulk_run(&b);
    cr_assert_eq(b.pauses, 1, "the client's buffer passed its high-water mark");
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(s.bytes, 0);
    cr_assert(b.paused, "still paused: the server reads nothing");
    cr_assert_lt(b.sent, b.total);
    size_t buffered = weft_transport_buffered(c.base.transport);
    cr_assert_gt(buffered, 0);
    cr_assert_leq(b.sent, 64 * 1024 + 64 * 1024 + 4096, "the window plus the high-water mark, no more");
    weft_transport_resume_reading(s.base.transport);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(b.sent, b.total);
    cr_assert_eq(s.bytes, b.total, "everything arrived once the server read again");
    cr_assert_geq(b.resumes, 1);
    weft_transport_unregister_producer(c.base.transport);
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
}

WEFT_TEST(memory_pair, bytes_to_a_closing_side_are_discarded)
{
    weft_reactor *r = weft_test_clock();
    rec c, s;
    rec_init(&c);
    rec_init(&s);
    c.keep_open_on_eof = true;
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &c.base, &s.base, &mp), 0);
    weft_transport_lose_connection(s.base.transport);
    weft_transport_write(c.base.transport, "late", 4);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(s.len, 0);
    cr_assert_eq(c.eofs, 1, "the client sees the server's EOF");
    cr_assert_eq(s.lost, 1);
    cr_assert_eq(c.lost, 0, "half-close: the client keeps its side");
    cr_assert_eq(weft_transport_write(c.base.transport, "into the void", 13), 0);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    weft_transport_lose_connection(c.base.transport);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(c.lost_code, WEFT_EOF);
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
}

/* A client that writes from a timer, to show the pump runs the reactor. */
static void write_later(void *arg)
{
    rec *c = arg;
    weft_transport_write(c->base.transport, "tick", 4);
}

WEFT_TEST(memory_pair, pump_runs_timers_due_and_queued_calls)
{
    weft_reactor *r = weft_test_clock();
    rec c, s;
    rec_init(&c);
    rec_init(&s);
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &c.base, &s.base, &mp), 0);
    cr_assert_eq(weft_reactor_call_soon(r, write_later, &c), 0);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(s.len, 4);
    weft_timer tm;
    cr_assert_eq(weft_call_later(r, 5.0, write_later, &c, &tm), 0);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(s.len, 4, "the fake clock has not moved");
    cr_assert_eq(weft_clock_advance(r, 5.0), 0);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(s.len, 8);
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
}

static void pair_lifecycle(void *arg)
{
    (void)arg;
    weft_reactor *r = NULL;
    if (weft_clock_new(&r) < 0)
        return;
    rec c, s;
    rec_init(&c);
    rec_init(&s);
    s.echo = true;
    weft_memory_pair *mp = NULL;
    if (weft_memory_pair_new(r, &c.base, &s.base, &mp) == 0) {
        weft_transport_pause_reading(c.base.transport);
        weft_transport_write(c.base.transport, "ping", 4);
        weft_memory_pair_flush(mp);
        if (c.base.transport)
            weft_transport_resume_reading(c.base.transport);
        weft_memory_pair_flush(mp);
        if (c.base.transport)
            weft_transport_lose_connection(c.base.transport);
        weft_memory_pair_pump(mp);
        weft_memory_pair_free(mp);
    }
    weft_reactor_free(r);
    cr_assert_eq(c.lost, c.made);
    cr_assert_eq(s.lost, s.made);
}

WEFT_TEST(memory_pair, allocation_failures_leak_nothing)
{
    size_t runs = weft_test_each_alloc_failure(pair_lifecycle, NULL);
    cr_assert_gt(runs, 3);
}
