/* SPDX-License-Identifier: MIT */
/*
 * Line receivers fed any bytes, split into chunks of random sizes, over a
 * string transport.
 *
 * Input: byte 0 picks the receiver, delimiter and limit; byte 1 the largest
 * chunk and whether the peer is slow; byte 2 seeds the chunk sizes; the
 * rest is what the peer sends.
 *
 * LineReceiver: lines starting with a command byte make the protocol switch
 * to raw mode and back ('R'), pause ('P'; resumed after each chunk), clear
 * its buffer ('C'), lower its limit ('M'), echo ('S') or quit ('Q').
 * Checked: every line is at most max_length and ends at the first delimiter;
 * lines with their delimiters, raw bytes taken, cleared bytes and long-line
 * data, in order, are exactly the bytes sent, in order.
 *
 * LineOnlyReceiver: checked against a whole-input reference split - the same
 * lines, and the connection refused exactly when some line is too long.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/basic.h"
#include "weft/reactor.h"
#include "weft/testing.h"
#include "weft/transport.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const struct {
    const char *s;
    size_t len;
} delimiters[] = {{"\r\n", 2}, {"\n", 1}, {"\0", 1}, {"END", 3}, {"\r\n\r\n", 4}, {"aab", 3}};

static const size_t limits[] = {16384, 0, 1, 4, 7, 32};
static const size_t chunk_max[] = {1, 2, 3, 7, 64, 4096};

typedef struct fuzz_lr {
    weft_line_receiver lr;
    const char *sent; /* what the peer sends */
    size_t sent_len;
    size_t at;        /* how much of it the events have accounted for */
    size_t raw_left;  /* raw bytes still to take */
    bool give_back;   /* a long-line handler that goes on */
} fuzz_lr;

/* The event's bytes are the next ones sent. */
static void account(fuzz_lr *f, const void *bytes, size_t len)
{
    if (len > f->sent_len - f->at || memcmp(f->sent + f->at, bytes, len) != 0)
        abort();
    f->at += len;
}

/* The first delimiter in what was sent from `from` lies at from + len. */
static void check_first_delimiter(const fuzz_lr *f, size_t from, size_t len)
{
    const char *d = f->lr.delimiter;
    size_t dl = f->lr.delimiter_len;
    for (size_t i = 0; i + dl <= len + dl; i++) {
        if (memcmp(f->sent + from + i, d, dl) == 0) {
            if (i != len)
                abort();
            return;
        }
    }
    abort();
}

static void on_line(weft_line_receiver *lr, const char *line, size_t len)
{
    fuzz_lr *f = (fuzz_lr *)lr;
    if (len > lr->max_length)
        abort();
    size_t from = f->at;
    account(f, line, len);
    account(f, lr->delimiter, lr->delimiter_len);
    check_first_delimiter(f, from, len);
    if (len == 0)
        return;
    switch (line[0]) {
    case 'R':
        f->raw_left = len > 1 ? (unsigned char)line[1] % 16 : 3;
        weft_line_receiver_set_raw_mode(lr);
        break;
    case 'P':
        weft_line_receiver_pause(lr);
        break;
    case 'C': {
        const char *rest;
        size_t n = weft_line_receiver_clear_buffer(lr, &rest);
        account(f, rest, n);
        break;
    }
    case 'M':
        lr->max_length = len > 1 ? (unsigned char)line[1] % 8 : 0;
        break;
    case 'S':
        weft_line_receiver_send_line(lr, line, len);
        break;
    case 'Q':
        weft_transport_lose_connection(lr->base.transport);
        break;
    }
}

static void on_raw(weft_line_receiver *lr, const void *data, size_t len)
{
    fuzz_lr *f = (fuzz_lr *)lr;
    if (len == 0)
        abort();
    size_t take = len < f->raw_left ? len : f->raw_left;
    account(f, data, take);
    f->raw_left -= take;
    if (f->raw_left == 0) {
        /* The rest must be the next bytes sent too; it comes back as lines. */
        if (len - take > f->sent_len - f->at || memcmp(f->sent + f->at, (const char *)data + take, len - take) != 0)
            abort();
        weft_line_receiver_set_line_mode(lr, (const char *)data + take, len - take);
    }
}

static void on_long(weft_line_receiver *lr, const char *data, size_t len)
{
    fuzz_lr *f = (fuzz_lr *)lr;
    if (len <= lr->max_length)
        abort();
    /* Drop max_length + 1 bytes and parse the rest, as Twisted's tests. */
    size_t drop = lr->max_length + 1;
    account(f, data, drop);
    if (len - drop > f->sent_len - f->at || memcmp(f->sent + f->at, data + drop, len - drop) != 0)
        abort();
    weft_line_receiver_set_line_mode(lr, data + drop, len - drop);
}

static const weft_line_receiver_ops strict_ops = {.line_received = on_line, .raw_data_received = on_raw};
static const weft_line_receiver_ops lenient_ops = {
    .line_received = on_line, .raw_data_received = on_raw, .line_length_exceeded = on_long};

/* ---- LineOnlyReceiver against a reference ---- */

typedef struct fuzz_lo {
    weft_line_only_receiver lr;
    const char *want; /* the reference's lines, each with its delimiter */
    size_t want_len, at;
    size_t nlines;
} fuzz_lo;

static void lo_line(weft_line_only_receiver *lr, const char *line, size_t len)
{
    fuzz_lo *f = (fuzz_lo *)lr;
    size_t dl = lr->delimiter_len;
    if (len > lr->max_length || f->want_len - f->at < len + dl || memcmp(f->want + f->at, line, len) != 0 ||
        memcmp(f->want + f->at + len, lr->delimiter, dl) != 0)
        abort();
    f->at += len + dl;
    f->nlines++;
}

static const weft_line_only_receiver_ops lo_ops = {.line_received = lo_line};

/* The whole input split the simple way: how many bytes of complete lines
 * come before the first line that is too long, and whether there is one. */
static size_t reference(const char *d, size_t n, const char *delim, size_t dl, size_t max, bool *refused)
{
    size_t start = 0;
    *refused = false;
    for (;;) {
        size_t i = start;
        while (i + dl <= n && memcmp(d + i, delim, dl) != 0)
            i++;
        if (i + dl > n) {
            /* A partial line is known too long at max + dl bytes. */
            *refused = n - start >= max + dl;
            return start;
        }
        if (i - start > max) {
            *refused = true;
            return start;
        }
        start = i + dl;
    }
}

static void quiet(void *arg, const weft_log_event *ev)
{
    char buf[512];
    (void)arg;
    weft_log_format(ev, buf, sizeof buf);
}

static uint32_t next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static bool closing(const weft_string_transport *st)
{
    weft_string_transport_state s;
    weft_string_transport_inspect(st, &s);
    return s.lose_called || s.closed;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t di = data[0] % 6, li = (data[0] / 6) % 6;
    bool lenient = (data[0] / 36) & 1, line_only = (data[0] / 72) & 1;
    size_t ci = data[1] % 6;
    bool slow = data[1] & 0x40;
    uint32_t seed = data[2] | 1u << 20;
    const char *in = (const char *)data + 3;
    size_t len = size - 3;

    weft_reactor *r = NULL;
    if (weft_clock_new(&r) < 0)
        return 0;
    weft_logger *lg = weft_reactor_logger(r);
    weft_logger_remove_observer(lg, weft_log_text_observer, stderr);
    weft_logger_add_observer(lg, quiet, NULL, WEFT_LOG_DEBUG, NULL);

    fuzz_lr f;
    fuzz_lo o;
    weft_protocol *p;
    size_t want_len = 0;
    bool refused = false;
    if (line_only) {
        memset(&o, 0, sizeof o);
        weft_line_only_receiver_init(&o.lr, &lo_ops);
        weft_line_only_receiver_set_delimiter(&o.lr, delimiters[di].s, delimiters[di].len);
        o.lr.max_length = limits[li];
        want_len = reference(in, len, delimiters[di].s, delimiters[di].len, limits[li], &refused);
        o.want = in;
        o.want_len = want_len;
        p = &o.lr.base;
    } else {
        memset(&f, 0, sizeof f);
        weft_line_receiver_init(&f.lr, lenient ? &lenient_ops : &strict_ops);
        weft_line_receiver_set_delimiter(&f.lr, delimiters[di].s, delimiters[di].len);
        f.lr.max_length = limits[li];
        f.sent = in;
        f.sent_len = len;
        p = &f.lr.base;
    }
    weft_string_transport *st = NULL;
    if (weft_string_transport_new(r, p, NULL, NULL, &st) < 0) {
        weft_reactor_free(r);
        return 0;
    }
    if (slow)
        weft_string_transport_set_blocked(st, true);

    for (size_t off = 0; off < len;) {
        size_t n = 1 + next(&seed) % chunk_max[ci];
        if (n > len - off)
            n = len - off;
        if (weft_string_transport_receive(st, in + off, n) < 0)
            break;
        off += n;
        if (!line_only && f.lr.paused && !closing(st)) {
            weft_line_receiver_resume(&f.lr);
            weft_reactor_iterate(r, 0);
        }
        if (next(&seed) % 8 == 0)
            weft_string_transport_drain(st, next(&seed) % 64);
    }
    if (line_only) {
        /* Every line before the first bad one, and refused iff there is one. */
        if (o.at != want_len || closing(st) != refused)
            abort();
    } else {
        while (f.lr.paused && !closing(st)) {
            size_t before = f.at;
            weft_line_receiver_resume(&f.lr);
            weft_reactor_iterate(r, 0);
            if (f.at == before && f.lr.paused)
                break;
        }
        if (f.at > len)
            abort();
    }
    weft_string_transport_receive_eof(st);
    weft_reactor_iterate(r, 0);
    weft_string_transport_free(st);
    weft_reactor_free(r);
    return 0;
}
