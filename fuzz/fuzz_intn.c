/* SPDX-License-Identifier: MIT */
/*
 * Int8/16/32 string receivers fed any bytes, split into chunks of random
 * sizes, over a string transport, and checked against a reference parse of
 * the whole input: the same strings in the same order, and the limit
 * reported exactly when the reference meets a length past it - through the
 * default (the connection refused) or a handler of our own (told the right
 * length, nothing more delivered). Strings starting with 'P' pause the
 * receiver (resumed after each chunk), with 'S' are echoed, with 'Q' end the
 * connection.
 *
 * Input: byte 0 picks the prefix width, max_length and the handler; byte 1
 * the largest chunk and whether the peer is slow; byte 2 seeds the chunk
 * sizes; the rest is what the peer sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/basic.h"
#include "weft/reactor.h"
#include "weft/testing.h"
#include "weft/transport.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const unsigned prefixes[] = {1, 2, 4};
static const size_t limits[] = {99999, 0, 1, 5, 50, 300};
static const size_t chunk_max[] = {1, 2, 3, 7, 64, 4096};

enum { MAX_STRINGS = 4096 };

typedef struct ref {
    size_t off[MAX_STRINGS], len[MAX_STRINGS];
    size_t n;
    bool truncated;
    bool over;
    uint64_t over_length;
} ref;

static uint64_t be(const unsigned char *p, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++)
        v = v << 8 | p[i];
    return v;
}

static void reference(const unsigned char *d, size_t n, unsigned w, size_t max, ref *out)
{
    size_t pos = 0;
    out->n = 0;
    out->truncated = false;
    out->over = false;
    while (n - pos >= w) {
        uint64_t len = be(d + pos, w);
        if (len > max) {
            out->over = true;
            out->over_length = len;
            return;
        }
        if (n - pos - w < len)
            return;
        if (out->n == MAX_STRINGS) {
            out->truncated = true; /* more strings than we keep: no verdict */
            return;
        }
        out->off[out->n] = pos + w;
        out->len[out->n++] = (size_t)len;
        pos += w + (size_t)len;
    }
}

typedef struct fuzz_ir {
    weft_intn_receiver ir;
    const unsigned char *in;
    const ref *want;
    size_t got;
    unsigned exceeded;
    bool quit;
} fuzz_ir;

static void on_string(weft_intn_receiver *ir, const char *s, size_t len)
{
    fuzz_ir *f = (fuzz_ir *)ir;
    if (len > ir->max_length || f->got >= f->want->n || len != f->want->len[f->got] ||
        memcmp(s, f->in + f->want->off[f->got], len) != 0 || f->exceeded)
        abort();
    f->got++;
    if (len == 0)
        return;
    if (s[0] == 'P')
        weft_intn_receiver_pause(ir);
    else if (s[0] == 'S')
        weft_intn_receiver_send_string(ir, s, len);
    else if (s[0] == 'Q') {
        f->quit = true;
        weft_transport_lose_connection(ir->base.transport);
    }
}

static void on_exceeded(weft_intn_receiver *ir, uint64_t length)
{
    fuzz_ir *f = (fuzz_ir *)ir;
    if (!f->want->over || length != f->want->over_length || f->got != f->want->n)
        abort();
    f->exceeded++;
}

static const weft_intn_receiver_ops strict_ops = {.string_received = on_string};
static const weft_intn_receiver_ops lenient_ops = {.string_received = on_string, .length_limit_exceeded = on_exceeded};

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
    static ref want;
    if (size < 3)
        return 0;
    unsigned w = prefixes[data[0] % 3];
    size_t max = limits[(data[0] / 3) % 6];
    bool lenient = (data[0] / 18) & 1;
    size_t ci = data[1] % 6;
    bool slow = data[1] & 0x40;
    uint32_t seed = data[2] | 1u << 20;
    const unsigned char *in = data + 3;
    size_t len = size - 3;
    reference(in, len, w, max, &want);
    if (want.truncated)
        return 0;

    weft_reactor *r = NULL;
    if (weft_clock_new(&r) < 0)
        return 0;
    weft_logger *lg = weft_reactor_logger(r);
    weft_logger_remove_observer(lg, weft_log_text_observer, stderr);
    weft_logger_add_observer(lg, quiet, NULL, WEFT_LOG_DEBUG, NULL);

    fuzz_ir f;
    memset(&f, 0, sizeof f);
    if (weft_intn_receiver_init(&f.ir, w, lenient ? &lenient_ops : &strict_ops) < 0)
        abort();
    f.ir.max_length = max;
    f.in = in;
    f.want = &want;
    weft_string_transport *st = NULL;
    if (weft_string_transport_new(r, &f.ir.base, NULL, NULL, &st) < 0) {
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
        if (f.ir.paused && !closing(st)) {
            weft_intn_receiver_resume(&f.ir);
            weft_reactor_iterate(r, 0);
        }
        if (next(&seed) % 8 == 0)
            weft_string_transport_drain(st, next(&seed) % 64);
    }
    while (f.ir.paused && !closing(st)) {
        size_t before = f.got;
        weft_intn_receiver_resume(&f.ir);
        weft_reactor_iterate(r, 0);
        if (f.got == before && f.ir.paused)
            break;
    }
    if (!f.quit) {
        if (f.got != want.n)
            abort();
        if (lenient && (f.exceeded > 0) != want.over)
            abort();
        if (closing(st) != (want.over && !lenient))
            abort();
    }
    weft_string_transport_receive_eof(st);
    weft_reactor_iterate(r, 0);
    weft_string_transport_free(st);
    weft_reactor_free(r);
    return 0;
}
