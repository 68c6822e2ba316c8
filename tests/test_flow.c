/* SPDX-License-Identifier: MIT */
/* Flow: founts, drains, tubes, series; pause upstream, end downstream. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

typedef struct source {
    weft_fount base;
    int pauses, resumes, stops;
} source;

static void src_pause(weft_fount *f)
{
    ((source *)f)->pauses++;
}

static void src_resume(weft_fount *f)
{
    ((source *)f)->resumes++;
}

static void src_stop(weft_fount *f)
{
    ((source *)f)->stops++;
}

static const weft_fount_ops source_ops = {.pause = src_pause, .resume = src_resume, .stop = src_stop};

typedef struct sink {
    weft_drain base;
    char got[256];
    size_t len, items;
    int ended;
    int end_code;
    weft_fount *from;
} sink;

static void sink_flowing_from(weft_drain *d, weft_fount *f)
{
    ((sink *)d)->from = f;
}

static void sink_receive(weft_drain *d, const void *data, size_t len)
{
    sink *s = (sink *)d;
    memcpy(s->got + s->len, data, len);
    s->len += len;
    s->items++;
}

static void sink_stopped(weft_drain *d, const weft_failure *why)
{
    sink *s = (sink *)d;
    s->ended++;
    s->end_code = weft_failure_code(why);
}

static const weft_drain_ops sink_ops = {sink_flowing_from, sink_receive, sink_stopped};

/* A tube that upper-cases, and one that splits on spaces. */
typedef struct upper {
    weft_tube base;
    bool destroyed;
} upper;

static void upper_received(weft_tube *t, const void *data, size_t len)
{
    char buf[256];
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)toupper(((const unsigned char *)data)[i]);
    weft_tube_emit(t, buf, len);
}

static void upper_destroy(weft_tube *t)
{
    ((upper *)t)->destroyed = true;
}

static const weft_tube_ops upper_ops = {.received = upper_received, .destroy = upper_destroy};

typedef struct words {
    weft_tube base;
    char pending[64];
    size_t n;
} words;

static void words_received(weft_tube *t, const void *data, size_t len)
{
    words *w = (words *)t;
    for (size_t i = 0; i < len; i++) {
        char c = ((const char *)data)[i];
        if (c == ' ') {
            if (w->n)
                weft_tube_emit(t, w->pending, w->n);
            w->n = 0;
        } else {
            w->pending[w->n++] = c;
        }
    }
}

static void words_stopped(weft_tube *t, const weft_failure *why)
{
    (void)why;
    words *w = (words *)t;
    if (w->n)
        weft_tube_emit(t, w->pending, w->n);
}

static const weft_tube_ops words_ops = {.received = words_received, .stopped = words_stopped};

WEFT_TEST(flow, series_transforms_in_order)
{
    source src = {.base.ops = &source_ops};
    upper up;
    words w = {0};
    weft_tube_init(&up.base, &upper_ops);
    up.destroyed = false;
    weft_tube_init(&w.base, &words_ops);
    sink s = {.base.ops = &sink_ops};
    weft_tube *tubes[2] = {&up.base, &w.base};
    weft_flow_to(weft_series(&src.base, tubes, 2), &s.base);
    cr_assert_eq(s.from, &w.base.out);
    weft_fount_emit(&src.base, "hello wo", 8);
    weft_fount_emit(&src.base, "rld and more", 12);
    cr_assert_eq(s.items, 3); /* HELLO WORLD AND; MORE waits for the end */
    weft_failure *eof = weft_failure_new(WEFT_EOF, "done");
    weft_fount_end(&src.base, eof);
    weft_failure_unref(eof);
    cr_assert_eq(s.items, 4);
    cr_assert_eq(memcmp(s.got, "HELLOWORLDANDMORE", 17), 0);
    cr_assert_eq(s.ended, 1);
    cr_assert_eq(s.end_code, WEFT_EOF);
    cr_assert(up.destroyed);
    cr_assert_null(s.base.fount, "an ended flow unlinks");
}

WEFT_TEST(flow, pause_propagates_upstream_and_counts)
{
    source src = {.base.ops = &source_ops};
    upper up;
    weft_tube_init(&up.base, &upper_ops);
    sink s = {.base.ops = &sink_ops};
    weft_tube *tubes[1] = {&up.base};
    weft_flow_to(weft_series(&src.base, tubes, 1), &s.base);
    weft_fount_pause(s.from);
    weft_fount_pause(s.from);
    cr_assert_eq(src.pauses, 1, "the first pause reaches the source");
    weft_fount_resume(s.from);
    cr_assert_eq(src.resumes, 0, "one pause still holds");
    weft_fount_resume(s.from);
    cr_assert_eq(src.resumes, 1);
    weft_fount_stop(s.from);
    cr_assert_eq(src.stops, 1);
}

WEFT_TEST(flow, joining_a_paused_tube_pauses_the_new_fount)
{
    source a = {.base.ops = &source_ops};
    upper up;
    weft_tube_init(&up.base, &upper_ops);
    sink s = {.base.ops = &sink_ops};
    weft_flow_to(&up.base.out, &s.base);
    weft_fount_pause(&up.base.out);
    weft_flow_to(&a.base, &up.base.in);
    cr_assert_eq(a.pauses, 1);
}

WEFT_TEST(flow, flow_to_an_ended_fount_ends_at_once)
{
    source src = {.base.ops = &source_ops};
    weft_failure *eof = weft_failure_new(WEFT_EOF, "done");
    weft_fount_end(&src.base, eof);
    weft_failure_unref(eof);
    sink s = {.base.ops = &sink_ops};
    weft_flow_to(&src.base, &s.base);
    cr_assert_eq(s.ended, 1);
    weft_fount_emit(&src.base, "x", 1);
    cr_assert_eq(s.items, 0);
}

WEFT_TEST(flow, redirecting_a_fount_detaches_the_old_drain)
{
    source src = {.base.ops = &source_ops};
    sink a = {.base.ops = &sink_ops}, b = {.base.ops = &sink_ops};
    weft_flow_to(&src.base, &a.base);
    weft_flow_to(&src.base, &b.base);
    cr_assert_null(a.from);
    cr_assert_null(a.base.fount);
    weft_fount_emit(&src.base, "x", 1);
    cr_assert_eq(a.items, 0);
    cr_assert_eq(b.items, 1);
}

WEFT_TEST(flow, a_failing_tube_stops_upstream_and_ends_downstream)
{
    source src = {.base.ops = &source_ops};
    upper up;
    weft_tube_init(&up.base, &upper_ops);
    sink s = {.base.ops = &sink_ops};
    weft_tube *tubes[1] = {&up.base};
    weft_flow_to(weft_series(&src.base, tubes, 1), &s.base);
    weft_failure *bad = weft_failure_new(WEFT_EINVAL, "bad frame");
    weft_tube_fail(&up.base, bad);
    weft_failure_unref(bad);
    cr_assert_eq(src.stops, 1);
    cr_assert_eq(s.ended, 1);
    cr_assert_eq(s.end_code, WEFT_EINVAL);
    cr_assert_null(src.base.drain);
}

/* ---- framing tubes ---- */

static void feed(source *src, const char *data, size_t len, size_t step)
{
    if (len == 0)
        weft_fount_emit(&src->base, data, 0); /* an empty item is an item */
    for (size_t i = 0; i < len; i += step)
        weft_fount_emit(&src->base, data + i, len - i < step ? len - i : step);
}

static void end_flow(source *src)
{
    weft_failure *eof = weft_failure_new(WEFT_EOF, "done");
    weft_fount_end(&src->base, eof);
    weft_failure_unref(eof);
}

WEFT_TEST(flow, lines_tube_splits_whatever_the_chunks)
{
    const char *input = "one\r\ntwo\r\n\r\nthree\r\npartial";
    for (size_t step = 1; step <= 8; step++) {
        source src = {.base.ops = &source_ops};
        sink s = {.base.ops = &sink_ops};
        weft_tube *t = weft_tube_lines(NULL, 0);
        weft_flow_to(weft_series(&src.base, &t, 1), &s.base);
        feed(&src, input, strlen(input), step);
        cr_assert_eq(s.items, 4, "step %zu", step);
        cr_assert_eq(memcmp(s.got, "onetwothree", 11), 0);
        end_flow(&src);
        cr_assert_eq(s.ended, 1);
    }
}

WEFT_TEST(flow, lines_tube_refuses_a_line_too_long)
{
    source src = {.base.ops = &source_ops};
    sink s = {.base.ops = &sink_ops};
    weft_tube *t = weft_tube_lines("\n", 4);
    weft_flow_to(weft_series(&src.base, &t, 1), &s.base);
    feed(&src, "ok\nmuch too long", 16, 3);
    cr_assert_eq(s.items, 1);
    cr_assert_eq(s.ended, 1);
    cr_assert_eq(s.end_code, -EMSGSIZE);
    cr_assert_eq(src.stops, 1, "the source was told to stop");
}

static void round_trip_through(weft_tube *encode, weft_tube *decode, size_t step)
{
    source src = {.base.ops = &source_ops};
    sink s = {.base.ops = &sink_ops};
    weft_tube *tubes[2] = {encode, decode};
    weft_flow_to(weft_series(&src.base, tubes, 2), &s.base);
    const char *msgs[4] = {"", "a", "hello, world", "with : and , inside"};
    for (int i = 0; i < 4; i++)
        feed(&src, msgs[i], strlen(msgs[i]), step);
    cr_assert_eq(s.items, 4);
    cr_assert_eq(s.len, strlen("ahello, worldwith : and , inside"));
    end_flow(&src);
}

WEFT_TEST(flow, netstring_and_prefixed_round_trips)
{
    round_trip_through(weft_tube_to_netstrings(), weft_tube_netstrings(0), 100);
    for (unsigned p = 1; p <= 4; p *= 2)
        round_trip_through(weft_tube_to_prefixed(p), weft_tube_prefixed(p, 0), 100);
    cr_assert_null(weft_tube_prefixed(3, 0));
    weft_tube_free(weft_tube_to_lines(NULL));
}

WEFT_TEST(flow, malformed_netstring_fails_the_tube)
{
    const char *bad[] = {"x:abc,", "3:abcd", "03:abc,", ":abc,"};
    for (int i = 0; i < 4; i++) {
        source src = {.base.ops = &source_ops};
        sink s = {.base.ops = &sink_ops};
        weft_tube *t = weft_tube_netstrings(0);
        weft_flow_to(weft_series(&src.base, &t, 1), &s.base);
        feed(&src, bad[i], strlen(bad[i]), 1);
        cr_assert_eq(s.ended, 1, "%s", bad[i]);
        cr_assert_eq(s.end_code, WEFT_EINVAL, "%s", bad[i]);
        cr_assert_eq(s.items, 0);
    }
}

/* A line echo server made of nothing but tubes: the connection's fount
 * through bytes->lines->bytes back into its own drain. */
static void line_echo_made(weft_protocol *p)
{
    weft_tube *tubes[2] = {weft_tube_lines("\n", 0), weft_tube_to_lines("\n")};
    weft_flow_to(weft_series(weft_transport_fount(p->transport), tubes, 2), weft_transport_drain(p->transport));
}

static void free_proto(weft_protocol *p)
{
    free(p);
}

static const weft_protocol_ops line_echo_ops = {.connection_made = line_echo_made, .destroy = free_proto};

static weft_protocol *build_line_echo(weft_factory *f, const weft_address *peer)
{
    (void)f, (void)peer;
    weft_protocol *p = calloc(1, sizeof *p);
    p->ops = &line_echo_ops;
    return p;
}

typedef struct reader {
    weft_protocol base;
    char got[64];
    size_t len;
    bool lost;
} reader;

static void reader_data(weft_protocol *p, const void *d, size_t n)
{
    reader *r = (reader *)p;
    memcpy(r->got + r->len, d, n);
    r->len += n;
}

static void reader_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((reader *)p)->lost = true;
}

static const weft_protocol_ops reader_ops = {.data_received = reader_data, .connection_lost = reader_lost};

typedef struct one_reader {
    weft_factory base;
    reader *r;
} one_reader;

static weft_protocol *build_reader(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    return &((one_reader *)f)->r->base;
}

WEFT_TEST(flow, line_echo_server_made_of_tubes)
{
    weft_reactor *r = weft_test_reactor();
    weft_factory sf = {.ops = &(weft_factory_ops){.build = build_line_echo}};
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    weft_port *port;
    cr_assert_eq(weft_listen(r, &a, &sf, NULL, &port), 0);
    weft_port_address(port, &a);
    reader rd = {.base.ops = &reader_ops};
    one_reader cf = {.base.ops = &(weft_factory_ops){.build = build_reader}, .r = &rd};
    weft_deferred *d = weft_connect(r, &a, &cf.base, NULL);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_deferred_unref(d);
    cr_assert_eq(weft_transport_write(rd.base.transport, "first\nsec", 9), 0);
    cr_assert_eq(weft_transport_write(rd.base.transport, "ond\nthird-unfinished", 20), 0);
    for (int i = 0; i < 500 && rd.len < 13; i++)
        weft_reactor_iterate(r, 0.01);
    cr_assert_eq(rd.len, 13);
    cr_assert_eq(memcmp(rd.got, "first\nsecond\n", 13), 0);
    /* Our EOF ends the server's flow, which closes it. */
    cr_assert_eq(weft_transport_write_eof(rd.base.transport), 0);
    for (int i = 0; i < 500 && !rd.lost; i++)
        weft_reactor_iterate(r, 0.01);
    cr_assert(rd.lost);
    weft_deferred_unref(weft_port_stop(port));
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}

/* ---- bytes into flows and out ---- */

static weft_result keep_bytes(void *arg, weft_result r)
{
    *(weft_result *)arg = r;
    return weft_none();
}

WEFT_TEST(flow, bytes_fount_into_collect_round_trips)
{
    weft_reactor *r = weft_test_clock();
    size_t len = 1 << 20;
    char *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 7);
    weft_fount *f = weft_fount_of_bytes(r, data, len, true);
    free(data);
    cr_assert_not_null(f);
    weft_deferred *d = weft_fount_collect(r, f, 0);
    weft_result got = {0};
    cr_assert_eq(weft_deferred_add_both(d, keep_bytes, &got), 0);
    cr_assert_not(weft_deferred_called(d), "nothing is emitted inside flow_to");
    weft_clock_advance(r, 0);
    cr_assert(weft_deferred_called(d));
    cr_assert_not(weft_failed(got));
    weft_bytes *b = got.value;
    cr_assert_eq(b->len, len);
    for (size_t i = 0; i < len; i += 4099)
        cr_assert_eq(b->data[i], (char)(i * 7));
    cr_assert_eq(b->data[len], 0);
    weft_result_free(got);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(flow, empty_bytes_collect_to_an_empty_string)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_fount_collect(r, weft_fount_of_bytes(r, "", 0, false), 0);
    weft_result got = {0};
    cr_assert_eq(weft_deferred_add_both(d, keep_bytes, &got), 0);
    weft_clock_advance(r, 0);
    cr_assert_not(weft_failed(got));
    cr_assert_eq(((weft_bytes *)got.value)->len, 0);
    cr_assert_str_eq(((weft_bytes *)got.value)->data, "");
    weft_result_free(got);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(flow, collect_refuses_more_than_its_limit_and_stops_the_fount)
{
    weft_reactor *r = weft_test_clock();
    static char big[200000];
    weft_deferred *d = weft_fount_collect(r, weft_fount_of_bytes(r, big, sizeof big, false), 100000);
    weft_result got = {0};
    cr_assert_eq(weft_deferred_add_both(d, keep_bytes, &got), 0);
    weft_clock_advance(r, 0);
    cr_assert(weft_failed(got));
    cr_assert_eq(weft_failure_code(got.value), -EMSGSIZE);
    weft_result_free(got);
    weft_deferred_unref(d);
    cr_assert_eq(weft_reactor_timer_count(r), 0);
    weft_reactor_free(r); /* the stopped fount freed itself: LSan checks */
}

WEFT_TEST(flow, cancelling_collect_stops_the_fount)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_fount_collect(r, weft_fount_of_bytes(r, "abc", 3, true), 0);
    weft_result got = {0};
    cr_assert_eq(weft_deferred_add_both(d, keep_bytes, &got), 0);
    weft_deferred_cancel(d);
    cr_assert(weft_failed(got));
    cr_assert_eq(weft_failure_code(got.value), WEFT_ECANCELED);
    weft_result_free(got);
    weft_deferred_unref(d);
    cr_assert_eq(weft_reactor_timer_count(r), 0, "the scheduled emit went with the fount");
    weft_reactor_free(r);
}

typedef struct pausing_drain {
    weft_drain base;
    size_t got, pieces;
    bool ended;
} pausing_drain;

static void pd_receive(weft_drain *d, const void *data, size_t len)
{
    (void)data;
    pausing_drain *p = (pausing_drain *)d;
    p->got += len;
    p->pieces++;
    weft_fount_pause(d->fount);
}

static void pd_stopped(weft_drain *d, const weft_failure *reason)
{
    cr_assert_eq(weft_failure_code(reason), WEFT_EOF);
    ((pausing_drain *)d)->ended = true;
}

static const weft_drain_ops pd_ops = {.receive = pd_receive, .flow_stopped = pd_stopped};

WEFT_TEST(flow, bytes_fount_waits_while_paused)
{
    weft_reactor *r = weft_test_clock();
    static char buf[150000];
    weft_fount *f = weft_fount_of_bytes(r, buf, sizeof buf, false);
    pausing_drain p = {.base = {.ops = &pd_ops}};
    weft_flow_to(f, &p.base);
    weft_clock_advance(r, 0);
    cr_assert_eq(p.pieces, 1);
    cr_assert_eq(p.got, 65536);
    weft_clock_advance(r, 0);
    cr_assert_eq(p.pieces, 1, "paused: nothing more");
    weft_fount_resume(f);
    weft_clock_advance(r, 0);
    cr_assert_eq(p.got, 131072);
    weft_fount_resume(f);
    weft_clock_advance(r, 0);
    cr_assert_eq(p.got, sizeof buf);
    cr_assert_not(p.ended, "the end waits for the last pause to be undone");
    weft_fount_resume(f);
    weft_clock_advance(r, 0);
    cr_assert(p.ended);
    weft_reactor_free(r);
}
