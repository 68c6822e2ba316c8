/* SPDX-License-Identifier: MIT */
/*
 * NetstringReceiver fed any bytes, split into chunks of random sizes, over a
 * string transport, and checked against a reference parse of the whole
 * input: the same strings in the same order, and the peer refused exactly
 * when the reference finds the input malformed. Strings starting with 'S'
 * are echoed, with 'Q' end the connection (the check then only asks for a
 * prefix of the reference's strings).
 *
 * Input: byte 0 picks max_length; byte 1 the largest chunk and whether the
 * peer is slow; byte 2 seeds the chunk sizes; the rest is what the peer
 * sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/basic.h"
#include "weft/reactor.h"
#include "weft/testing.h"
#include "weft/transport.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const size_t limits[] = {99999, 0, 1, 5, 50, 1000};
static const size_t chunk_max[] = {1, 2, 3, 7, 64, 4096};

enum { MAX_STRINGS = 4096 };

typedef struct ref {
    size_t off[MAX_STRINGS], len[MAX_STRINGS];
    size_t n;
    bool truncated;
    bool broken;
} ref;

/* The netstrings of d[0..n), parsed the plain way. */
static void reference(const char *d, size_t n, size_t max, ref *out)
{
    size_t pos = 0;
    out->n = 0;
    out->truncated = false;
    out->broken = false;
    while (pos < n) {
        size_t len = 0, digits = 0;
        while (pos < n && d[pos] >= '0' && d[pos] <= '9') {
            if (digits == 1 && len == 0) {
                out->broken = true; /* leading zero */
                return;
            }
            len = len * 10 + (size_t)(d[pos] - '0');
            digits++;
            pos++;
            if (len > max) {
                out->broken = true;
                return;
            }
        }
        if (pos == n)
            return;
        if (d[pos] != ':' || digits == 0) {
            out->broken = true;
            return;
        }
        pos++;
        if (n - pos < len + 1)
            return;
        if (d[pos + len] != ',') {
            out->broken = true;
            return;
        }
        if (out->n == MAX_STRINGS) {
            out->truncated = true; /* more strings than we keep: no verdict */
            return;
        }
        out->off[out->n] = pos;
        out->len[out->n++] = len;
        pos += len + 1;
    }
}

typedef struct fuzz_nr {
    weft_netstring_receiver nr;
    const char *in;
    const ref *want;
    size_t got;
    bool quit;
} fuzz_nr;

static void on_string(weft_netstring_receiver *nr, const char *s, size_t len)
{
    fuzz_nr *f = (fuzz_nr *)nr;
    if (len > nr->max_length || f->got >= f->want->n || len != f->want->len[f->got] ||
        memcmp(s, f->in + f->want->off[f->got], len) != 0)
        abort();
    f->got++;
    if (len && s[0] == 'S')
        weft_netstring_receiver_send_string(nr, s, len);
    if (len && s[0] == 'Q') {
        f->quit = true;
        weft_transport_lose_connection(nr->base.transport);
    }
}

static const weft_netstring_receiver_ops ops = {.string_received = on_string};

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
    size_t max = limits[data[0] % 6];
    size_t ci = data[1] % 6;
    bool slow = data[1] & 0x40;
    uint32_t seed = data[2] | 1u << 20;
    const char *in = (const char *)data + 3;
    size_t len = size - 3;
    reference(in, len, max, &want);
    if (want.truncated)
        return 0;

    weft_reactor *r = NULL;
    if (weft_clock_new(&r) < 0)
        return 0;
    weft_logger *lg = weft_reactor_logger(r);
    weft_logger_remove_observer(lg, weft_log_text_observer, stderr);
    weft_logger_add_observer(lg, quiet, NULL, WEFT_LOG_DEBUG, NULL);

    fuzz_nr f;
    memset(&f, 0, sizeof f);
    weft_netstring_receiver_init(&f.nr, &ops);
    f.nr.max_length = max;
    f.in = in;
    f.want = &want;
    weft_string_transport *st = NULL;
    if (weft_string_transport_new(r, &f.nr.base, NULL, NULL, &st) < 0) {
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
        if (next(&seed) % 8 == 0)
            weft_string_transport_drain(st, next(&seed) % 64);
    }
    if (!f.quit && (f.got != want.n || f.nr.broken != want.broken || closing(st) != want.broken))
        abort();
    weft_string_transport_receive_eof(st);
    weft_reactor_iterate(r, 0);
    weft_string_transport_free(st);
    weft_reactor_free(r);
    return 0;
}
