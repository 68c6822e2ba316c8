/* SPDX-License-Identifier: MIT */
/* The framing protocols of basic.h over string transports and memory pairs:
 * LineReceiver, LineOnlyReceiver, NetstringReceiver and the Int8/16/32
 * string receivers, after Twisted's test_basic.py. Every input is fed whole
 * and in packets of every size from one byte up, since the network may
 * split it anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "weft/basic.h"

/* ---- helpers ---- */

/* A list of received strings. */
typedef struct strlist {
    char *v[256];
    size_t len[256];
    size_t n;
} strlist;

static void strlist_add(strlist *l, const void *s, size_t len)
{
    cr_assert_lt(l->n, 256);
    l->v[l->n] = malloc(len + 1);
    memcpy(l->v[l->n], s, len);
    l->v[l->n][len] = '\0';
    l->len[l->n++] = len;
}

static void strlist_extend_last(strlist *l, const void *s, size_t len)
{
    cr_assert_gt(l->n, 0);
    size_t i = l->n - 1;
    l->v[i] = realloc(l->v[i], l->len[i] + len + 1);
    memcpy(l->v[i] + l->len[i], s, len);
    l->len[i] += len;
    l->v[i][l->len[i]] = '\0';
}

static void strlist_clear(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

/* Compares with a NULL-terminated list of C strings. */
static void strlist_check(const strlist *l, const char *const *want, const char *what)
{
    size_t n = 0;
    while (want[n])
        n++;
    cr_assert_eq(l->n, n, "%s: %zu strings received, %zu expected", what, l->n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(l->len[i] == strlen(want[i]) && memcmp(l->v[i], want[i], l->len[i]) == 0,
                  "%s: string %zu is \"%s\", expected \"%s\"", what, i, l->v[i], want[i]);
}

static bool eq(const char *s, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/* A reactor on the fake clock whose log the test can read, and a string
 * transport for protocol p. */
typedef struct fx {
    weft_reactor *r;
    weft_string_transport *st;
    weft_test_log log;
} fx;

static void fx_open(fx *f, weft_protocol *p)
{
    f->r = weft_test_clock();
    weft_test_log_capture(f->r, &f->log);
    cr_assert_eq(weft_string_transport_new(f->r, p, NULL, NULL, &f->st), 0);
}

static void fx_close(fx *f)
{
    weft_string_transport_free(f->st);
    weft_reactor_iterate(f->r, 0);
    weft_reactor_free(f->r);
}

static bool closing(const fx *f)
{
    weft_string_transport_state s;
    weft_string_transport_inspect(f->st, &s);
    return s.lose_called || s.abort_called || s.closed;
}

/* Feeds len bytes in packets of `size` (0: whole), then one empty packet as
 * Twisted's tests do; stops when the transport reads no more. */
static void feed(fx *f, const void *data, size_t len, size_t size)
{
    if (size == 0)
        size = len ? len : 1;
    for (size_t off = 0; off <= len; off += size) {
        size_t n = len - off < size ? len - off : size;
        if (weft_string_transport_receive(f->st, (const char *)data + off, n) < 0)
            return;
        if (n == 0)
            break;
    }
}

static void feed_str(fx *f, const char *s, size_t size)
{
    feed(f, s, strlen(s), size);
}

/* Packet sizes every test tries: whole, then 1 to 9 bytes. */
static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* ---- LineReceiver: the LineTester of Twisted's tests ---- */

typedef struct line_tester {
    weft_line_receiver lr;
    weft_reactor *r;
    strlist received;
    size_t length;
} line_tester;

static void resume_later(void *arg)
{
    weft_line_receiver_resume(arg);
}

static void lt_line(weft_line_receiver *lr, const char *line, size_t len)
{
    line_tester *t = (line_tester *)lr;
    strlist_add(&t->received, line, len);
    if (len == 0) {
        weft_line_receiver_set_raw_mode(lr);
    } else if (eq(line, len, "pause")) {
        weft_line_receiver_pause(lr);
        cr_assert_eq(weft_call_later(t->r, 0, resume_later, lr, NULL), 0);
    } else if (eq(line, len, "rawpause")) {
        weft_line_receiver_pause(lr);
        weft_line_receiver_set_raw_mode(lr);
        strlist_add(&t->received, "", 0);
        cr_assert_eq(weft_call_later(t->r, 0, resume_later, lr, NULL), 0);
    } else if (eq(line, len, "stop")) {
        weft_line_receiver_stop(lr);
    } else if (len > 4 && memcmp(line, "len ", 4) == 0) {
        char num[32];
        snprintf(num, sizeof num, "%.*s", (int)(len - 4), line + 4);
        t->length = (size_t)strtoul(num, NULL, 10);
    } else if (len >= 7 && memcmp(line, "produce", 7) == 0) {
        cr_assert_eq(weft_transport_register_producer(lr->base.transport, weft_line_receiver_producer(lr), false), 0);
    } else if (len >= 9 && memcmp(line, "unproduce", 9) == 0) {
        weft_transport_unregister_producer(lr->base.transport);
    }
}

static void lt_raw(weft_line_receiver *lr, const void *data, size_t len)
{
    line_tester *t = (line_tester *)lr;
    size_t take = len < t->length ? len : t->length;
    t->length -= take;
    strlist_extend_last(&t->received, data, take);
    if (t->length == 0)
        cr_assert_eq(weft_line_receiver_set_line_mode(lr, (const char *)data + take, len - take), 0);
}

static void lt_exceeded(weft_line_receiver *lr, const char *data, size_t len)
{
    if (len > lr->max_length + 1)
        cr_assert_eq(weft_line_receiver_set_line_mode(lr, data + lr->max_length + 1, len - lr->max_length - 1), 0);
}

static const weft_line_receiver_ops lt_ops = {
    .line_received = lt_line, .raw_data_received = lt_raw, .line_length_exceeded = lt_exceeded};

static void lt_open(fx *f, line_tester *t)
{
    memset(t, 0, sizeof *t);
    weft_line_receiver_init(&t->lr, &lt_ops);
    cr_assert_eq(weft_line_receiver_set_delimiter(&t->lr, "\n", 1), 0);
    t->lr.max_length = 64;
    fx_open(f, &t->lr.base);
    t->r = f->r;
}

static void lt_close(fx *f, line_tester *t)
{
    fx_close(f);
    strlist_clear(&t->received);
}

static const char line_buffer[] = "len 10\n"
                                  "\n"
                                  "0123456789len 5\n"
                                  "\n"
                                  "1234\n"
                                  "len 20\n"
                                  "foo 123\n"
                                  "\n"
                                  "0123456789\n"
                                  "012345678len 0\n"
                                  "foo 5\n"
                                  "\n"
                                  "1234567890123456789012345678901234567890123456789012345678901234567890\n"
                                  "len 1\n"
                                  "\n"
                                  "a";

static const char *const line_output[] = {
    "len 10", "0123456789", "len 5", "1234\n", "len 20", "foo 123", "0123456789\n012345678",
    "len 0", "foo 5", "", "67890", "len 1", "a", NULL};

WEFT_TEST(line, buffer_in_every_packet_size)
{
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        line_tester t;
        lt_open(&f, &t);
        feed_str(&f, line_buffer, sizes[i]);
        strlist_check(&t.received, line_output, "LineTester");
        cr_assert(!closing(&f));
        lt_close(&f, &t);
    }
}

WEFT_TEST(line, pausing)
{
    static const char buf[] = "twiddle1\ntwiddle2\npause\ntwiddle3\n";
    static const char *const out1[] = {"twiddle1", "twiddle2", "pause", NULL};
    static const char *const out2[] = {"twiddle1", "twiddle2", "pause", "twiddle3", NULL};
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        line_tester t;
        lt_open(&f, &t);
        feed_str(&f, buf, sizes[i]);
        strlist_check(&t.received, out1, "paused");
        weft_string_transport_state s;
        weft_string_transport_inspect(f.st, &s);
        cr_assert(s.paused, "pausing the receiver pauses the transport");
        cr_assert(t.lr.paused);
        cr_assert_eq(weft_clock_advance(f.r, 0), 0);
        weft_reactor_iterate(f.r, 0); /* what the transport held while paused */
        strlist_check(&t.received, out2, "resumed");
        cr_assert(!t.lr.paused);
        lt_close(&f, &t);
    }
}

WEFT_TEST(line, raw_pausing)
{
    static const char buf[] = "twiddle1\ntwiddle2\nlen 5\nrawpause\n12345twiddle3\n";
    static const char *const out1[] = {"twiddle1", "twiddle2", "len 5", "rawpause", "", NULL};
    static const char *const out2[] = {"twiddle1", "twiddle2", "len 5", "rawpause", "12345", "twiddle3", NULL};
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        line_tester t;
        lt_open(&f, &t);
        feed_str(&f, buf, sizes[i]);
        strlist_check(&t.received, out1, "paused");
        cr_assert_eq(weft_clock_advance(f.r, 0), 0);
        weft_reactor_iterate(f.r, 0);
        strlist_check(&t.received, out2, "resumed");
        lt_close(&f, &t);
    }
}

WEFT_TEST(line, stop_producing)
{
    static const char buf[] = "twiddle1\ntwiddle2\nstop\nmore\nstuff\n";
    static const char *const out[] = {"twiddle1", "twiddle2", "stop", NULL};
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        line_tester t;
        lt_open(&f, &t);
        feed_str(&f, buf, sizes[i]);
        strlist_check(&t.received, out, "stopped");
        cr_assert(closing(&f));
        weft_reactor_iterate(f.r, 0);
        strlist_check(&t.received, out, "nothing after stop");
        lt_close(&f, &t);
    }
}

WEFT_TEST(line, receiver_as_producer)
{
    static const char *const out[] = {"produce", "hello world", "unproduce", "goodbye", NULL};
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        line_tester t;
        lt_open(&f, &t);
        feed_str(&f, "produce\nhello world\nunproduce\ngoodbye\n", sizes[i]);
        strlist_check(&t.received, out, "producer");
        lt_close(&f, &t);
    }
}

/* Switching modes on every byte (Twisted's FlippingLineTester): deep
 * re-feeding from inside callbacks, with no recursion. */
typedef struct flipper {
    weft_line_receiver lr;
    size_t lines;
    bool bad;
} flipper;

static void flip_line(weft_line_receiver *lr, const char *line, size_t len)
{
    flipper *fl = (flipper *)lr;
    fl->lines++;
    fl->bad = fl->bad || !eq(line, len, "x");
    weft_line_receiver_set_raw_mode(lr);
}

static void flip_raw(weft_line_receiver *lr, const void *data, size_t len)
{
    cr_assert_eq(weft_line_receiver_set_line_mode(lr, (const char *)data + 1, len - 1), 0);
}

static const weft_line_receiver_ops flip_ops = {.line_received = flip_line, .raw_data_received = flip_raw};

WEFT_TEST(line, mode_switching_from_every_callback)
{
    enum { N = 3000 };
    char *data = malloc(3 * N);
    for (size_t i = 0; i < N; i++)
        memcpy(data + 3 * i, "x\nx", 3);
    for (size_t i = 0; i < 3; i++) {
        flipper fl;
        memset(&fl, 0, sizeof fl);
        weft_line_receiver_init(&fl.lr, &flip_ops);
        weft_line_receiver_set_delimiter(&fl.lr, "\n", 1);
        fx f;
        fx_open(&f, &fl.lr.base);
        feed(&f, data, 3 * N, sizes[i]);
        cr_assert_eq(fl.lines, N);
        cr_assert(!fl.bad);
        fx_close(&f);
    }
    free(data);
}

/* Twisted's ClearingReceiver. */
typedef struct clearing {
    weft_line_receiver lr;
    char line[64], rest[64];
} clearing;

static void clearing_line(weft_line_receiver *lr, const char *line, size_t len)
{
    clearing *c = (clearing *)lr;
    snprintf(c->line, sizeof c->line, "%.*s", (int)len, line);
    const char *rest;
    size_t n = weft_line_receiver_clear_buffer(lr, &rest);
    snprintf(c->rest, sizeof c->rest, "%.*s", (int)n, rest);
}

static const weft_line_receiver_ops clearing_ops = {.line_received = clearing_line};

WEFT_TEST(line, clear_line_buffer_from_a_callback)
{
    clearing c;
    weft_line_receiver_init(&c.lr, &clearing_ops);
    fx f;
    fx_open(&f, &c.lr.base);
    feed_str(&f, "foo\r\nbar\r\nbaz", 0);
    cr_assert_str_eq(c.line, "foo");
    cr_assert_str_eq(c.rest, "bar\r\nbaz");
    feed_str(&f, "quux\r\n", 0);
    cr_assert_str_eq(c.line, "quux");
    cr_assert_str_eq(c.rest, "");
    fx_close(&f);
}

/* Records lines, raw data and long lines; every switch is the test's. */
typedef struct catcher {
    weft_line_receiver lr;
    strlist lines, raw, long_lines;
    int made, eofs, lost, destroyed;
    bool keep_open;
} catcher;

static void catch_made(weft_line_receiver *lr)
{
    ((catcher *)lr)->made++;
}

static void catch_line(weft_line_receiver *lr, const char *line, size_t len)
{
    strlist_add(&((catcher *)lr)->lines, line, len);
}

static void catch_raw(weft_line_receiver *lr, const void *data, size_t len)
{
    cr_assert_gt(len, 0, "raw data is never empty");
    strlist_add(&((catcher *)lr)->raw, data, len);
}

static void catch_long(weft_line_receiver *lr, const char *data, size_t len)
{
    strlist_add(&((catcher *)lr)->long_lines, data, len);
}

static bool catch_eof(weft_line_receiver *lr)
{
    ((catcher *)lr)->eofs++;
    return ((catcher *)lr)->keep_open;
}

static void catch_lost(weft_line_receiver *lr, const weft_failure *why)
{
    (void)why;
    ((catcher *)lr)->lost++;
}

static void catch_destroy(weft_line_receiver *lr)
{
    ((catcher *)lr)->destroyed++;
}

static const weft_line_receiver_ops catch_ops = {
    .connection_made = catch_made, .eof_received = catch_eof, .connection_lost = catch_lost,
    .destroy = catch_destroy, .line_received = catch_line, .raw_data_received = catch_raw,
    .line_length_exceeded = catch_long};

/* The same without a long-line handler: the default refuses. */
static const weft_line_receiver_ops strict_ops = {
    .line_received = catch_line, .raw_data_received = catch_raw, .eof_received = catch_eof,
    .connection_lost = catch_lost};

static void catcher_open(fx *f, catcher *c, const weft_line_receiver_ops *ops)
{
    memset(c, 0, sizeof *c);
    weft_line_receiver_init(&c->lr, ops);
    fx_open(f, &c->lr.base);
}

static void catcher_close(fx *f, catcher *c)
{
    fx_close(f);
    strlist_clear(&c->lines);
    strlist_clear(&c->raw);
    strlist_clear(&c->long_lines);
}

WEFT_TEST(line, connection_events_pass_through)
{
    fx f;
    catcher c;
    catcher_open(&f, &c, &catch_ops);
    cr_assert_eq(c.made, 1);
    feed_str(&f, "one\r\ntwo\r\nthr", 0);
    cr_assert_eq(weft_string_transport_receive_eof(f.st), 0);
    cr_assert_eq(c.eofs, 1);
    static const char *const out[] = {"one", "two", NULL};
    strlist_check(&c.lines, out, "a partial line is dropped at EOF");
    weft_reactor_iterate(f.r, 0);
    cr_assert_eq(c.lost, 1);
    cr_assert_eq(c.destroyed, 1);
    cr_assert_null(c.lr.in.buf, "the buffer is freed with the connection");
    catcher_close(&f, &c);
}

WEFT_TEST(line, maximum_line_length_is_refused_and_logged)
{
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        catcher c;
        catcher_open(&f, &c, &strict_ops);
        size_t n = c.lr.max_length + 1;
        char *long_line = malloc(n + 3);
        memset(long_line, 'x', n);
        memcpy(long_line + n, "\r\nr", 3);
        feed(&f, long_line, n + 3, sizes[i] ? sizes[i] * 97 : 0);
        cr_assert(closing(&f));
        cr_assert_eq(c.lines.n, 0);
        cr_assert(weft_test_log_contains(&f.log, "longer than the limit of 16384"), "%s", f.log.lines[0]);
        cr_assert(weft_test_log_contains(&f.log, "192.168.1.1:54321"), "the peer is named");
        cr_assert_eq(f.log.levels[0], WEFT_LOG_WARN);
        free(long_line);
        catcher_close(&f, &c);
    }
}

WEFT_TEST(line, a_line_of_max_length_is_fine)
{
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        catcher c;
        catcher_open(&f, &c, &strict_ops);
        c.lr.max_length = 4;
        feed_str(&f, "xxxx\r\nxxx\r\nxxxx\r", sizes[i]);
        cr_assert(!closing(&f), "max_length + a partial delimiter is not too long yet");
        feed_str(&f, "\n", 0);
        static const char *const out[] = {"xxxx", "xxx", "xxxx", NULL};
        strlist_check(&c.lines, out, "max length");
        feed_str(&f, "xxxxx", sizes[i]);
        cr_assert(!closing(&f));
        feed_str(&f, "x", 0);
        cr_assert(closing(&f), "max_length + delimiter bytes with no delimiter: too long");
        catcher_close(&f, &c);
    }
}

WEFT_TEST(line, partial_delimiter_across_packets)
{
    /* Twisted's test_maximumLineLengthPartialDelimiter. */
    fx f;
    catcher c;
    catcher_open(&f, &c, &strict_ops);
    c.lr.max_length = 4;
    feed_str(&f, "xxx", 0);
    feed_str(&f, "\r", 0);
    feed_str(&f, "\nxxx", 0);
    cr_assert(!closing(&f));
    static const char *const out[] = {"xxx", NULL};
    strlist_check(&c.lines, out, "partial delimiter");
    catcher_close(&f, &c);
}

WEFT_TEST(line, long_line_handler_gets_what_was_held)
{
    /* Twisted's LineReceiverLineLengthExceededTests, MAX_LENGTH 6. */
    static const char *const cases[][2] = {
        {"xxxxxxxxxxxxxx", "xxxxxxxxxxxxxx"},
        {"x\r\nxxxxxxxxxxxxxx", "xxxxxxxxxxxxxx"},
        {"xxxxxxxxxxxxxx\r\nxxxxxxxxxxxxxx", "xxxxxxxxxxxxxx\r\nxxxxxxxxxxxxxx"},
        {"xxxxxxxxxxxxxx\r\nxxxxxxxxxxxxxx\r\n", "xxxxxxxxxxxxxx\r\nxxxxxxxxxxxxxx\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx f;
        catcher c;
        catcher_open(&f, &c, &catch_ops);
        c.lr.max_length = 6;
        feed_str(&f, cases[i][0], 0);
        const char *want[] = {cases[i][1], NULL};
        strlist_check(&c.long_lines, want, cases[i][0]);
        cr_assert(!closing(&f), "the handler did not close");
        catcher_close(&f, &c);
    }
    /* Byte by byte, the handler sees each max_length + delimiter bytes. */
    fx f;
    catcher c;
    catcher_open(&f, &c, &catch_ops);
    c.lr.max_length = 6;
    feed_str(&f, "xxxxxxxxxxxxxxxx", 1);
    static const char *const want[] = {"xxxxxxxx", "xxxxxxxx", NULL};
    strlist_check(&c.long_lines, want, "byte by byte");
    catcher_close(&f, &c);
}

WEFT_TEST(line, raw_mode_and_back)
{
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        catcher c;
        catcher_open(&f, &c, &catch_ops);
        feed_str(&f, "a\r\n", sizes[i]);
        weft_line_receiver_set_raw_mode(&c.lr);
        cr_assert(c.lr.raw);
        feed_str(&f, "raw\r\nbytes", sizes[i]);
        size_t total = 0;
        for (size_t k = 0; k < c.raw.n; k++)
            total += c.raw.len[k];
        cr_assert_eq(total, 10);
        cr_assert_eq(weft_line_receiver_set_line_mode(&c.lr, "b\r\nc", 4), 0);
        cr_assert(!c.lr.raw);
        feed_str(&f, "\r\n", sizes[i]);
        static const char *const out[] = {"a", "b", "c", NULL};
        strlist_check(&c.lines, out, "lines around raw mode");
        catcher_close(&f, &c);
    }
}

WEFT_TEST(line, setting_raw_mode_redelivers_the_buffer_raw)
{
    fx f;
    catcher c;
    catcher_open(&f, &c, &catch_ops);
    feed_str(&f, "partial line", 0);
    weft_line_receiver_set_raw_mode(&c.lr);
    cr_assert_eq(c.raw.n, 0, "not inside set_raw_mode");
    feed_str(&f, "!", 0);
    static const char *const out[] = {"partial line!", NULL};
    strlist_check(&c.raw, out, "the held partial line comes first");
    const char *rest;
    cr_assert_eq(weft_line_receiver_clear_buffer(&c.lr, &rest), 0);
    catcher_close(&f, &c);
}

WEFT_TEST(line, clear_buffer_and_give_it_back)
{
    fx f;
    catcher c;
    catcher_open(&f, &c, &catch_ops);
    feed_str(&f, "one\r\ntw", 0);
    const char *rest;
    size_t n = weft_line_receiver_clear_buffer(&c.lr, &rest);
    cr_assert_eq(n, 2);
    cr_assert_eq(memcmp(rest, "tw", 2), 0);
    cr_assert_eq(weft_line_receiver_set_line_mode(&c.lr, rest, n), 0);
    feed_str(&f, "o\r\n", 0);
    static const char *const out[] = {"one", "two", NULL};
    strlist_check(&c.lines, out, "given back");
    catcher_close(&f, &c);
}

WEFT_TEST(line, custom_delimiters)
{
    cr_assert_eq(weft_line_receiver_set_delimiter(&(weft_line_receiver){0}, "", 0), WEFT_EINVAL);
    cr_assert_eq(weft_line_receiver_set_delimiter(&(weft_line_receiver){0}, "01234567890123456", 17), WEFT_EINVAL);
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        catcher c;
        catcher_open(&f, &c, &catch_ops);
        cr_assert_eq(weft_line_receiver_set_delimiter(&c.lr, "\r\n\r\n", 4), 0);
        feed_str(&f, "a\r\n\r\nb\r\nc\r\n\r\n\r\n\r\nd\r\n\r", sizes[i]);
        static const char *const out[] = {"a", "b\r\nc", "", NULL};
        strlist_check(&c.lines, out, "\\r\\n\\r\\n");
        catcher_close(&f, &c);
    }
}

WEFT_TEST(line, send_line)
{
    fx f;
    catcher c;
    catcher_open(&f, &c, &catch_ops);
    cr_assert_eq(weft_line_receiver_send_line(&c.lr, "hello", 5), 0);
    weft_line_receiver_set_delimiter(&c.lr, "\n", 1);
    cr_assert_eq(weft_line_receiver_send_line(&c.lr, "", 0), 0);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "hello\r\n\n");
    weft_transport_lose_connection(c.lr.base.transport);
    cr_assert_eq(weft_line_receiver_send_line(&c.lr, "late", 4), -ENOTCONN);
    catcher_close(&f, &c);
    cr_assert_eq(weft_line_receiver_send_line(&c.lr, "gone", 4), -ENOTCONN);
}

/* Closes the connection on "quit". */
static void quitter_line(weft_line_receiver *lr, const char *line, size_t len)
{
    catch_line(lr, line, len);
    if (eq(line, len, "quit"))
        weft_transport_lose_connection(lr->base.transport);
}

static const weft_line_receiver_ops quitter_ops = {.line_received = quitter_line};

WEFT_TEST(line, nothing_is_delivered_after_lose_connection)
{
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        catcher c;
        catcher_open(&f, &c, &quitter_ops);
        feed_str(&f, "a\r\nquit\r\nb\r\nc\r\n", sizes[i]);
        static const char *const out[] = {"a", "quit", NULL};
        strlist_check(&c.lines, out, "lines after quit");
        catcher_close(&f, &c);
    }
}

WEFT_TEST(line, max_length_changes_take_effect_at_once)
{
    fx f;
    catcher c;
    catcher_open(&f, &c, &catch_ops);
    feed_str(&f, "abcdef\r\n", 0);
    c.lr.max_length = 3;
    feed_str(&f, "abcdef\r\nabc\r\n", 0);
    static const char *const out[] = {"abcdef", NULL};
    strlist_check(&c.lines, out, "before");
    static const char *const longs[] = {"abcdef\r\nabc\r\n", NULL};
    strlist_check(&c.long_lines, longs, "after");
    catcher_close(&f, &c);
}

/* Twisted's ProducerTests: a protocol that echoes each line and pauses. */
static void consuming_line(weft_line_receiver *lr, const char *line, size_t len)
{
    weft_transport_write(lr->base.transport, line, len);
    weft_transport_write(lr->base.transport, "|", 1);
    weft_line_receiver_pause(lr);
}

static const weft_line_receiver_ops consuming_ops = {.line_received = consuming_line};

static bool transport_paused(const fx *f)
{
    weft_string_transport_state s;
    weft_string_transport_inspect(f->st, &s);
    return s.paused;
}

WEFT_TEST(line, pause_and_resume)
{
    weft_line_receiver lr;
    weft_line_receiver_init(&lr, &consuming_ops);
    fx f;
    fx_open(&f, &lr.base);
    feed_str(&f, "hello, ", 0);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "");
    cr_assert(!transport_paused(&f));
    cr_assert(!lr.paused);

    feed_str(&f, "world\r\n", 0);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "hello, world|");
    cr_assert(transport_paused(&f));
    cr_assert(lr.paused);

    weft_line_receiver_resume(&lr);
    weft_reactor_iterate(f.r, 0);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "hello, world|");
    cr_assert(!transport_paused(&f));
    cr_assert(!lr.paused);

    feed_str(&f, "hello\r\nworld\r\n", 0);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "hello, world|hello|");
    cr_assert(lr.paused);

    weft_line_receiver_resume(&lr);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "hello, world|hello|world|",
                     "the buffered line comes inside resume");
    cr_assert(lr.paused);
    cr_assert(transport_paused(&f));

    /* While paused, the transport holds what arrives. */
    feed_str(&f, "goodbye\r\n", 0);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "hello, world|hello|world|");
    weft_line_receiver_resume(&lr);
    weft_reactor_iterate(f.r, 0);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "hello, world|hello|world|goodbye|");
    cr_assert(lr.paused);

    weft_line_receiver_resume(&lr);
    weft_reactor_iterate(f.r, 0);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "hello, world|hello|world|goodbye|");
    cr_assert(!lr.paused);
    cr_assert(!transport_paused(&f));
    fx_close(&f);
}

/* An allocated line protocol, as a factory would build. */
typedef struct chat {
    weft_line_receiver lr;
    int *lost;
} chat;

static void chat_line(weft_line_receiver *lr, const char *line, size_t len)
{
    weft_line_receiver_send_line(lr, line, len);
}

static void chat_lost(weft_line_receiver *lr, const weft_failure *why)
{
    (void)why;
    (*((chat *)lr)->lost)++;
}

static void chat_free(weft_line_receiver *lr)
{
    free(lr);
}

static const weft_line_receiver_ops chat_ops = {
    .line_received = chat_line, .connection_lost = chat_lost, .destroy = chat_free};

WEFT_TEST(line, conversation_over_a_memory_pair)
{
    weft_reactor *r = weft_test_clock();
    int lost = 0;
    chat *server = calloc(1, sizeof *server);
    weft_line_receiver_init(&server->lr, &chat_ops);
    server->lost = &lost;
    catcher client;
    memset(&client, 0, sizeof client);
    weft_line_receiver_init(&client.lr, &catch_ops);
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &client.lr.base, &server->lr.base, &mp), 0);
    weft_line_receiver_send_line(&client.lr, "hello", 5);
    weft_line_receiver_send_line(&client.lr, "world", 5);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    static const char *const out[] = {"hello", "world", NULL};
    strlist_check(&client.lines, out, "echoed lines");
    weft_transport_lose_connection(client.lr.base.transport);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(lost, 1);
    cr_assert_eq(client.lost, 1);
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
    strlist_clear(&client.lines);
}

/* ---- LineOnlyReceiver ---- */

typedef struct only {
    weft_line_only_receiver lr;
    strlist lines, long_lines;
} only;

static void only_line(weft_line_only_receiver *lr, const char *line, size_t len)
{
    strlist_add(&((only *)lr)->lines, line, len);
    if (eq(line, len, "quit"))
        weft_transport_lose_connection(lr->base.transport);
}

static void only_long(weft_line_only_receiver *lr, const char *data, size_t len)
{
    strlist_add(&((only *)lr)->long_lines, data, len);
}

static const weft_line_only_receiver_ops only_ops = {.line_received = only_line};
static const weft_line_only_receiver_ops only_long_ops = {.line_received = only_line,
                                                          .line_length_exceeded = only_long};

static void only_open(fx *f, only *o, const weft_line_only_receiver_ops *ops)
{
    memset(o, 0, sizeof *o);
    weft_line_only_receiver_init(&o->lr, ops);
    fx_open(f, &o->lr.base);
}

static void only_close(fx *f, only *o)
{
    fx_close(f);
    strlist_clear(&o->lines);
    strlist_clear(&o->long_lines);
}

WEFT_TEST(line_only, buffer_in_every_packet_size)
{
    static const char buf[] = "foo\n    bleakness\n    desolation\n    plastic forks\n";
    static const char *const out[] = {"foo", "    bleakness", "    desolation", "    plastic forks", NULL};
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        only o;
        only_open(&f, &o, &only_ops);
        cr_assert_eq(weft_line_only_receiver_set_delimiter(&o.lr, "\n", 1), 0);
        o.lr.max_length = 64;
        feed_str(&f, buf, sizes[i]);
        strlist_check(&o.lines, out, "LineOnlyTester");
        only_close(&f, &o);
    }
}

WEFT_TEST(line_only, longer_than_max_is_refused)
{
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        only o;
        only_open(&f, &o, &only_ops);
        o.lr.max_length = 64;
        char buf[80];
        memset(buf, 'x', 67);
        memcpy(buf + 67, "\r\nr", 3);
        feed(&f, buf, 70, sizes[i]);
        cr_assert(closing(&f));
        cr_assert_eq(o.lines.n, 0);
        cr_assert(weft_test_log_contains(&f.log, "longer than the limit of 64"));
        only_close(&f, &o);
    }
}

WEFT_TEST(line_only, long_lines_go_to_the_handler_and_parsing_goes_on)
{
    fx f;
    only o;
    only_open(&f, &o, &only_long_ops);
    o.lr.max_length = 3;
    feed_str(&f, "abc\r\nabcd\r\nxyz\r\n", 0);
    static const char *const out[] = {"abc", "xyz", NULL};
    static const char *const longs[] = {"abcd", NULL};
    strlist_check(&o.lines, out, "short lines");
    strlist_check(&o.long_lines, longs, "long lines");
    feed_str(&f, "abcde", 0);
    static const char *const longs2[] = {"abcd", "abcde", NULL};
    strlist_check(&o.long_lines, longs2, "a partial line held past the limit");
    only_close(&f, &o);
}

WEFT_TEST(line_only, nothing_after_lose_and_send_line)
{
    for (size_t i = 0; i < NSIZES; i++) {
        fx f;
        only o;
        only_open(&f, &o, &only_ops);
        feed_str(&f, "a\r\nquit\r\nb\r\n", sizes[i]);
        static const char *const out[] = {"a", "quit", NULL};
        strlist_check(&o.lines, out, "quit");
        only_close(&f, &o);
    }
    fx f;
    only o;
    only_open(&f, &o, &only_ops);
    cr_assert_eq(weft_line_only_receiver_send_line(&o.lr, "hi", 2), 0);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "hi\r\n");
    cr_assert_eq(weft_line_only_receiver_set_delimiter(&o.lr, NULL, 0), WEFT_EINVAL);
    only_close(&f, &o);
}

/* ---- NetstringReceiver ---- */

typedef struct nets {
    weft_netstring_receiver nr;
    strlist got;
    bool echo;
    int lost;
} nets;

static void nets_string(weft_netstring_receiver *nr, const char *data, size_t len)
{
    nets *n = (nets *)nr;
    strlist_add(&n->got, data, len);
    if (n->echo)
        weft_transport_write(nr->base.transport, data, len);
}

static void nets_lost(weft_netstring_receiver *nr, const weft_failure *why)
{
    (void)why;
    ((nets *)nr)->lost++;
}

static const weft_netstring_receiver_ops nets_ops = {.string_received = nets_string, .connection_lost = nets_lost};

static void nets_open(fx *f, nets *n, size_t max)
{
    memset(n, 0, sizeof *n);
    weft_netstring_receiver_init(&n->nr, &nets_ops);
    cr_assert_eq(n->nr.max_length, 99999);
    n->nr.max_length = max;
    fx_open(f, &n->nr.base);
}

static void nets_close(fx *f, nets *n)
{
    fx_close(f);
    strlist_clear(&n->got);
}

WEFT_TEST(netstring, buffer_in_every_packet_size)
{
    char a515[516];
    memset(a515, 'a', 515);
    a515[515] = '\0';
    const char *const strings[] = {"hello", "world", "how", "are", "you123", ":today", a515, NULL};
    /* What send_string writes... */
    fx f;
    nets n;
    nets_open(&f, &n, 699);
    for (size_t i = 0; strings[i]; i++)
        cr_assert_eq(weft_netstring_receiver_send_string(&n.nr, strings[i], strlen(strings[i])), 0);
    size_t len;
    const char *v = weft_string_transport_value(f.st, &len);
    char *wire = malloc(len);
    memcpy(wire, v, len);
    cr_assert_eq(memcmp(wire, "5:hello,5:world,3:how,", 22), 0);
    nets_close(&f, &n);
    /* ... reads back whole, in any split. */
    for (size_t i = 0; i < NSIZES; i++) {
        nets_open(&f, &n, 699);
        feed(&f, wire, len, sizes[i]);
        strlist_check(&n.got, strings, "netstrings");
        cr_assert(!closing(&f));
        cr_assert(!n.nr.broken);
        nets_close(&f, &n);
    }
    free(wire);
}

WEFT_TEST(netstring, small_and_nested_strings)
{
    static const char *const cases[][2] = {
        {"0:,", ""}, {"1:a,", "a"}, {"2:ab,", "ab"}, {"4:1:a,,", "1:a,"}, {"10:0123456789,", "0123456789"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t i = 0; i < NSIZES; i++) {
            fx f;
            nets n;
            nets_open(&f, &n, 50);
            feed_str(&f, cases[c][0], sizes[i]);
            const char *want[] = {cases[c][1], NULL};
            strlist_check(&n.got, want, cases[c][0]);
            nets_close(&f, &n);
        }
    }
}

WEFT_TEST(netstring, two_strings_split_after_a_length_digit)
{
    fx f;
    nets n;
    nets_open(&f, &n, 50);
    feed_str(&f, "1:a,1", 0);
    static const char *const one[] = {"a", NULL};
    strlist_check(&n.got, one, "first");
    feed_str(&f, ":b,", 0);
    static const char *const two[] = {"a", "b", NULL};
    strlist_check(&n.got, two, "second");
    nets_close(&f, &n);
}

WEFT_TEST(netstring, illegal_input_is_refused_in_any_split)
{
    static const struct {
        const char *in;
        const char *why;
    } cases[] = {
        {"9999999999999999999999", "longer than the limit of 50"},
        {"abc", "does not start with a length"},
        {"4:abcde", "not terminated by ','"},
        {"51:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab,", "longer than the limit of 50"},
        {"2:aaa,", "not terminated by ','"},
        {"0:a,", "not terminated by ','"},
        {":aaa,", "no length before ':'"},
        {"3aaa,", "not followed by ':'"},
        {"aaa,", "does not start with a length"},
        {"aaa", "does not start with a length"},
        {"01:a,", "leading zero"},
        {"00:,", "leading zero"},
        {"1:a,-", "does not start with a length"},
        {"3:abc,\r\n", "does not start with a length"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t i = 0; i < NSIZES; i++) {
            fx f;
            nets n;
            nets_open(&f, &n, 50);
            feed_str(&f, cases[c].in, sizes[i]);
            cr_assert(closing(&f), "%s is refused", cases[c].in);
            cr_assert(n.nr.broken);
            cr_assert(weft_test_log_contains(&f.log, cases[c].why), "%s: logged \"%s\"", cases[c].in,
                      f.log.count ? f.log.lines[0] : "nothing");
            cr_assert(weft_test_log_contains(&f.log, "netstring receiver from 192.168.1.1:54321"));
            weft_reactor_iterate(f.r, 0);
            cr_assert_eq(n.lost, 1);
            nets_close(&f, &n);
        }
    }
}

WEFT_TEST(netstring, length_limit_borders)
{
    fx f;
    nets n;
    nets_open(&f, &n, 12);
    feed_str(&f, "12:aaaaaaaaaaaa,", 1);
    cr_assert_eq(n.got.n, 1);
    cr_assert(!closing(&f));
    nets_close(&f, &n);

    nets_open(&f, &n, 11);
    feed_str(&f, "12:", 0);
    cr_assert(closing(&f), "one over the limit");
    nets_close(&f, &n);

    nets_open(&f, &n, 11);
    feed_str(&f, "1000:", 0);
    cr_assert(closing(&f));
    nets_close(&f, &n);

    nets_open(&f, &n, 99999);
    feed_str(&f, "100000:", 0);
    cr_assert(closing(&f), "the default limit");
    nets_close(&f, &n);

    nets_open(&f, &n, 0);
    feed_str(&f, "0:,0:,", 1);
    cr_assert_eq(n.got.n, 2);
    feed_str(&f, "1", 0);
    cr_assert(closing(&f));
    nets_close(&f, &n);
}

WEFT_TEST(netstring, nothing_more_after_a_bad_netstring)
{
    fx f;
    nets n;
    nets_open(&f, &n, 50);
    feed_str(&f, "1:a,x1:b,", 0);
    static const char *const out[] = {"a", NULL};
    strlist_check(&n.got, out, "before the bad byte");
    cr_assert(n.nr.broken);
    cr_assert_null(n.nr.in.buf);
    nets_close(&f, &n);
}

WEFT_TEST(netstring, send_string_and_echo)
{
    fx f;
    nets n;
    nets_open(&f, &n, 50);
    n.echo = true;
    cr_assert_eq(weft_netstring_receiver_send_string(&n.nr, "hello", 5), 0);
    cr_assert_eq(weft_netstring_receiver_send_string(&n.nr, "", 0), 0);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "5:hello,0:,");
    weft_string_transport_clear(f.st);
    feed_str(&f, "3:abc,", 1);
    cr_assert_str_eq(weft_string_transport_value(f.st, NULL), "abc");
    nets_close(&f, &n);
    cr_assert_eq(weft_netstring_receiver_send_string(&n.nr, "x", 1), -ENOTCONN);
}

WEFT_TEST(netstring, conversation_over_a_memory_pair)
{
    weft_reactor *r = weft_test_clock();
    nets c, s;
    memset(&c, 0, sizeof c);
    memset(&s, 0, sizeof s);
    weft_netstring_receiver_init(&c.nr, &nets_ops);
    weft_netstring_receiver_init(&s.nr, &nets_ops);
    weft_memory_pair *mp = NULL;
    cr_assert_eq(weft_memory_pair_new(r, &c.nr.base, &s.nr.base, &mp), 0);
    /* 200 KiB: more than the pair's window, so it crosses in many steps. */
    size_t big = 200 * 1024;
    char *data = malloc(big);
    memset(data, 'z', big);
    s.nr.max_length = big;
    cr_assert_eq(weft_netstring_receiver_send_string(&c.nr, data, big), 0);
    cr_assert_eq(weft_netstring_receiver_send_string(&c.nr, "tail", 4), 0);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert_eq(s.got.n, 2);
    cr_assert_eq(s.got.len[0], big);
    cr_assert_eq(memcmp(s.got.v[0], data, big), 0);
    cr_assert_str_eq(s.got.v[1], "tail");
    /* A bad netstring from the client closes the server, which closes the
     * client: nothing else is hurt. */
    weft_transport_write(c.nr.base.transport, "x", 1);
    cr_assert_eq(weft_memory_pair_flush(mp), 0);
    cr_assert(s.nr.broken);
    cr_assert_eq(s.lost, 1);
    cr_assert_eq(c.lost, 1);
    weft_memory_pair_free(mp);
    weft_reactor_free(r);
    free(data);
    strlist_clear(&c.got);
    strlist_clear(&s.got);
}

/* ---- Int8/16/32StringReceiver ---- */

typedef struct ints {
    weft_intn_receiver ir;
    strlist got;
    uint64_t exceeded[8];
    size_t nexceeded;
    bool pause_each;
} ints;

static void ints_string(weft_intn_receiver *ir, const char *data, size_t len)
{
    ints *t = (ints *)ir;
    strlist_add(&t->got, data, len);
    if (t->pause_each)
        weft_intn_receiver_pause(ir);
}

static void ints_exceeded(weft_intn_receiver *ir, uint64_t length)
{
    ints *t = (ints *)ir;
    if (t->nexceeded < 8)
        t->exceeded[t->nexceeded] = length;
    t->nexceeded++;
}

static const weft_intn_receiver_ops ints_ops = {.string_received = ints_string};
static const weft_intn_receiver_ops ints_exceeded_ops = {.string_received = ints_string,
                                                         .length_limit_exceeded = ints_exceeded};

static void ints_open(fx *f, ints *t, unsigned prefix, const weft_intn_receiver_ops *ops)
{
    memset(t, 0, sizeof *t);
    cr_assert_eq(weft_intn_receiver_init(&t->ir, prefix, ops), 0);
    cr_assert_eq(t->ir.max_length, 99999);
    t->ir.max_length = 50; /* as Twisted's TestMixin */
    fx_open(f, &t->ir.base);
}

static void ints_close(fx *f, ints *t)
{
    fx_close(f);
    strlist_clear(&t->got);
}

/* A prefixed message. */
static size_t message(char *out, unsigned prefix, const char *s, size_t len)
{
    for (unsigned i = 0; i < prefix; i++)
        out[i] = (char)(unsigned char)((uint64_t)len >> (8 * (prefix - 1 - i)));
    memcpy(out + prefix, s, len);
    return prefix + len;
}

static const unsigned prefixes[] = {1, 2, 4};

WEFT_TEST(intn, init_checks_the_prefix)
{
    weft_intn_receiver ir;
    cr_assert_eq(weft_intn_receiver_init(&ir, 3, &ints_ops), WEFT_EINVAL);
    cr_assert_eq(weft_intn_receiver_init(&ir, 8, &ints_ops), WEFT_EINVAL);
    cr_assert_eq(weft_intn_receiver_init(&ir, 0, &ints_ops), WEFT_EINVAL);
}

WEFT_TEST(intn, receive_in_every_packet_size)
{
    static const char *const strings[] = {"a", "bbbbbbbbbbbbbbbb", "", "c", NULL};
    for (size_t p = 0; p < 3; p++) {
        char wire[128];
        size_t len = 0;
        for (size_t i = 0; strings[i]; i++)
            len += message(wire + len, prefixes[p], strings[i], strlen(strings[i]));
        for (size_t i = 0; i < NSIZES; i++) {
            fx f;
            ints t;
            ints_open(&f, &t, prefixes[p], &ints_ops);
            feed(&f, wire, len, sizes[i]);
            strlist_check(&t.got, strings, "intn");
            cr_assert(!closing(&f));
            ints_close(&f, &t);
        }
    }
}

WEFT_TEST(intn, partial_strings_deliver_nothing)
{
    static const struct {
        unsigned prefix;
        const char *data;
        size_t len;
    } cases[] = {
        {4, "\x00\x00\x00", 3}, {4, "hello there", 11}, {4, "", 0},
        {2, "\x00", 1}, {2, "hello there", 11}, {2, "", 0},
        {1, "\x08", 1}, {1, "dzadz", 5}, {1, "", 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t i = 0; i < NSIZES; i++) {
            fx f;
            ints t;
            ints_open(&f, &t, cases[c].prefix, &ints_ops);
            t.ir.max_length = 99999;
            feed(&f, cases[c].data, cases[c].len, sizes[i]);
            cr_assert_eq(t.got.n, 0);
            ints_close(&f, &t);
        }
    }
}

WEFT_TEST(intn, send_string)
{
    static const char *const want[] = {"\x10" "bbbbbbbbbbbbbbbb", "\x00\x10" "bbbbbbbbbbbbbbbb",
                                       "\x00\x00\x00\x10" "bbbbbbbbbbbbbbbb"};
    for (size_t p = 0; p < 3; p++) {
        fx f;
        ints t;
        ints_open(&f, &t, prefixes[p], &ints_ops);
        cr_assert_eq(weft_intn_receiver_send_string(&t.ir, "bbbbbbbbbbbbbbbb", 16), 0);
        size_t len;
        const char *v = weft_string_transport_value(f.st, &len);
        cr_assert_eq(len, prefixes[p] + 16);
        cr_assert_eq(memcmp(v, want[p], len), 0);
        ints_close(&f, &t);
    }
}

WEFT_TEST(intn, send_string_refuses_what_the_prefix_cannot_say)
{
    char *big = calloc(1, 65537);
    fx f;
    ints t;
    ints_open(&f, &t, 1, &ints_ops);
    cr_assert_eq(weft_intn_receiver_send_string(&t.ir, big, 256), -EMSGSIZE);
    cr_assert_eq(weft_intn_receiver_send_string(&t.ir, big, 257), -EMSGSIZE);
    cr_assert_eq(weft_intn_receiver_send_string(&t.ir, big, 255), 0);
    size_t len;
    weft_string_transport_value(f.st, &len);
    cr_assert_eq(len, 256, "nothing written for the refused ones");
    ints_close(&f, &t);

    ints_open(&f, &t, 2, &ints_ops);
    cr_assert_eq(weft_intn_receiver_send_string(&t.ir, big, 65536), -EMSGSIZE);
    cr_assert_eq(weft_intn_receiver_send_string(&t.ir, big, 65535), 0);
    ints_close(&f, &t);
    free(big);
}

WEFT_TEST(intn, data_of_each_width)
{
    static const char *const sent[] = {"\x03" "foo", "\x00\x03" "foo", "\x00\x00\x00\x03" "foo"};
    static const char *const recv[] = {"\x04" "ubar", "\x00\x04" "ubar", "\x00\x00\x00\x04" "ubar"};
    for (size_t p = 0; p < 3; p++) {
        fx f;
        ints t;
        ints_open(&f, &t, prefixes[p], &ints_ops);
        weft_intn_receiver_send_string(&t.ir, "foo", 3);
        cr_assert_eq(memcmp(weft_string_transport_value(f.st, NULL), sent[p], prefixes[p] + 3), 0);
        feed(&f, recv[p], prefixes[p] + 4, 0);
        static const char *const out[] = {"ubar", NULL};
        strlist_check(&t.got, out, "ubar");
        ints_close(&f, &t);
    }
}

WEFT_TEST(intn, length_limit_exceeded_gets_the_length)
{
    for (size_t p = 0; p < 3; p++) {
        for (size_t i = 0; i < NSIZES; i++) {
            fx f;
            ints t;
            ints_open(&f, &t, prefixes[p], &ints_exceeded_ops);
            t.ir.max_length = 10;
            char wire[32];
            size_t len = message(wire, prefixes[p], "xxxxxxxxxxx", 11);
            feed(&f, wire, len, sizes[i]);
            cr_assert_geq(t.nexceeded, 1);
            cr_assert_eq(t.exceeded[0], 11);
            cr_assert_eq(t.got.n, 0, "the long string is not delivered");
            cr_assert(!closing(&f), "the handler did not close");
            ints_close(&f, &t);
        }
    }
}

WEFT_TEST(intn, illegal_strings_are_refused)
{
    static const struct {
        unsigned prefix;
        const char *data;
        size_t len;
    } cases[] = {
        {4, "\x10\x00\x00\x00" "aaaaaa", 10},
        {2, "\x10\x00" "aaaaaa", 8},
        {1, "\x00\x00" "aaaaaa", 8},
        {4, "\xff\xff\xff\xff", 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t i = 0; i < NSIZES; i++) {
            fx f;
            ints t;
            ints_open(&f, &t, cases[c].prefix, &ints_ops);
            feed(&f, cases[c].data, cases[c].len, sizes[i]);
            cr_assert(closing(&f), "case %zu", c);
            cr_assert(weft_test_log_contains(&f.log, "over the limit of 50"));
            cr_assert(weft_test_log_contains(&f.log, "192.168.1.1:54321"));
            ints_close(&f, &t);
        }
    }
}

WEFT_TEST(intn, pause_and_resume)
{
    for (size_t p = 0; p < 3; p++) {
        fx f;
        ints t;
        ints_open(&f, &t, prefixes[p], &ints_ops);
        t.pause_each = true;
        char wire[64];
        size_t len = message(wire, prefixes[p], "one", 3);
        len += message(wire + len, prefixes[p], "two", 3);
        len += message(wire + len, prefixes[p], "three", 5);
        feed(&f, wire, len, 0);
        cr_assert_eq(t.got.n, 1);
        cr_assert(t.ir.paused);
        weft_intn_receiver_resume(&t.ir);
        cr_assert_eq(t.got.n, 2, "one buffered string each resume");
        weft_intn_receiver_resume(&t.ir);
        cr_assert_eq(t.got.n, 3);
        t.pause_each = false;
        weft_intn_receiver_resume(&t.ir);
        cr_assert(!t.ir.paused);
        static const char *const out[] = {"one", "two", "three", NULL};
        strlist_check(&t.got, out, "paused strings");
        weft_intn_receiver_stop(&t.ir);
        cr_assert(closing(&f));
        cr_assert_eq(weft_intn_receiver_producer(&t.ir)->ops->pause != NULL, true);
        ints_close(&f, &t);
    }
}

WEFT_TEST(intn, zero_max_length_and_empty_strings)
{
    fx f;
    ints t;
    ints_open(&f, &t, 4, &ints_ops);
    t.ir.max_length = 0;
    feed(&f, "\0\0\0\0\0\0\0\0", 8, 1);
    cr_assert_eq(t.got.n, 2);
    feed(&f, "\0\0\0\1", 4, 0);
    cr_assert(closing(&f));
    ints_close(&f, &t);
}

/* ---- out of memory ---- */

typedef struct oom_case {
    int kind;
} oom_case;

static void oom_session(void *arg)
{
    int kind = ((oom_case *)arg)->kind;
    weft_reactor *r = NULL;
    if (weft_clock_new(&r) < 0)
        return;
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_text_observer, stderr);
    weft_string_transport *st = NULL;
    catcher c;
    nets n;
    ints t;
    weft_protocol *p;
    memset(&c, 0, sizeof c);
    memset(&n, 0, sizeof n);
    memset(&t, 0, sizeof t);
    if (kind == 0) {
        weft_line_receiver_init(&c.lr, &catch_ops);
        p = &c.lr.base;
    } else if (kind == 1) {
        weft_netstring_receiver_init(&n.nr, &nets_ops);
        p = &n.nr.base;
    } else {
        weft_intn_receiver_init(&t.ir, 2, &ints_ops);
        p = &t.ir.base;
    }
    if (weft_string_transport_new(r, p, NULL, NULL, &st) == 0) {
        static const char lines[] = "one\r\ntwo\r\nthree and a half";
        static const char netstrings[] = "3:one,3:two,11:three and a";
        static const char prefixed[] = "\0\3one\0\3two\0\13three and a";
        const char *in = kind == 0 ? lines : kind == 1 ? netstrings : prefixed;
        size_t len = kind == 0 ? sizeof lines - 1 : kind == 1 ? sizeof netstrings - 1 : sizeof prefixed - 1;
        for (size_t i = 0; i < len; i += 4)
            weft_string_transport_receive(st, in + i, len - i < 4 ? len - i : 4);
        weft_string_transport_free(st);
    }
    weft_reactor_free(r);
    strlist_clear(&c.lines);
    strlist_clear(&n.got);
    strlist_clear(&t.got);
}

WEFT_TEST(basic, allocation_failures_leak_nothing)
{
    for (int kind = 0; kind < 3; kind++) {
        oom_case oc = {kind};
        cr_assert_gt(weft_test_each_alloc_failure(oom_session, &oc), 3);
    }
}
