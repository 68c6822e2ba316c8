/* SPDX-License-Identifier: MIT */
/*
 * Bytes into flows and out of them: a fount over a buffer, and a drain that
 * gathers a whole flow (readBody). HTTP bodies use both, on the server and
 * in the client.
 */
#include <string.h>

#include "../core/internal.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/flow.h"
#include "weft/timer.h"


/* ---- a fount over a buffer ---- */

typedef struct bytes_fount {
    weft_fount f;
    weft_reactor *r;
    const char *data;
    size_t len, off;
    weft_timer timer; /* the pending start of emitting, when scheduled */
    bool scheduled, emitting, dead;
    char owned[]; /* the copy, when copied */
} bytes_fount;

static void bytes_free(bytes_fount *b)
{
    if (b->scheduled)
        weft_timer_cancel(b->r, b->timer);
    weft_free(b);
}

/* Emits until paused, detached or done. Runs from a timer, never inside the
 * caller's flow_to or resume, so a drain is never re-entered by the call it
 * is making. */
static void bytes_run(void *arg)
{
    bytes_fount *b = arg;
    b->scheduled = false;
    b->emitting = true;
    while (!b->dead && b->f.drain && !b->f.pauses && b->off < b->len) {
        size_t n = b->len - b->off < WEFT__IO_CHUNK ? b->len - b->off : WEFT__IO_CHUNK;
        b->off += n;
        weft_fount_emit(&b->f, b->data + b->off - n, n);
    }
    if (!b->dead && b->f.drain && !b->f.pauses && b->off == b->len) {
        weft_failure *eof = weft_failure_new(WEFT_EOF, "end of bytes");
        weft_fount_end(&b->f, eof);
        weft_failure_unref(eof);
        b->dead = true;
    }
    b->emitting = false;
    if (b->dead)
        bytes_free(b);
}

static void bytes_schedule(bytes_fount *b)
{
    if (b->scheduled || b->emitting || b->dead || !b->f.drain || b->f.pauses)
        return;
    /* Without a timer there is no safe later: the flow stalls rather than
     * re-entering its drain. Out of memory here is out of memory anywhere. */
    if (weft_call_later(b->r, 0, bytes_run, b, &b->timer) == 0)
        b->scheduled = true;
}

static void bytes_resume(weft_fount *f)
{
    bytes_schedule((bytes_fount *)f);
}

static void bytes_flowing_to(weft_fount *f, weft_drain *d)
{
    (void)d;
    bytes_schedule((bytes_fount *)f);
}

static void bytes_stop(weft_fount *f)
{
    bytes_fount *b = (bytes_fount *)f;
    if (b->dead)
        return;
    b->dead = true;
    if (b->f.drain && b->f.drain->fount == &b->f)
        b->f.drain->fount = NULL;
    b->f.drain = NULL;
    if (!b->emitting)
        bytes_free(b);
}

static const weft_fount_ops bytes_ops = {
    .resume = bytes_resume, .stop = bytes_stop, .flowing_to = bytes_flowing_to};

weft_fount *weft_fount_of_bytes(weft_reactor *r, const void *data, size_t len, bool copy)
{
    bytes_fount *b = weft_malloc(sizeof *b + (copy ? len : 0));
    if (!b)
        return NULL;
    *b = (bytes_fount){.f = {.ops = &bytes_ops}, .r = r, .data = data, .len = len};
    if (copy) {
        if (len)
            memcpy(b->owned, data, len);
        b->data = b->owned;
    }
    return &b->f;
}

/* ---- a drain gathering a flow ---- */

typedef struct collector {
    weft_drain d;
    weft_deferred *done;
    weft_bytes *bytes;
    size_t cap, max;
} collector;

static void collector_free(collector *c)
{
    weft_deferred_unref(c->done);
    weft_free(c->bytes);
    weft_free(c);
}

/* Leaves the fount (stopping it) and fails. */
static void collector_give_up(collector *c, weft_failure *why)
{
    weft_fount *f = c->d.fount;
    if (f) {
        f->drain = NULL;
        c->d.fount = NULL;
        weft_fount_stop(f);
    }
    weft_deferred *done = weft_deferred_ref(c->done);
    collector_free(c);
    if (why)
        weft_deferred_errback(done, why);
    weft_deferred_unref(done);
}

static void collector_receive(weft_drain *d, const void *data, size_t len)
{
    collector *c = (collector *)d;
    size_t have = c->bytes ? c->bytes->len : 0;
    if (c->max && len > c->max - have) {
        collector_give_up(c, weft_failure_new(-EMSGSIZE, "body longer than %zu bytes", c->max));
        return;
    }
    if (have + len + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < have + len + 1)
            cap *= 2;
        weft_bytes *nb = weft_realloc(c->bytes, sizeof *nb + cap);
        if (!nb) {
            collector_give_up(c, weft_failure_new(WEFT_ENOMEM, "out of memory gathering a body"));
            return;
        }
        if (!c->bytes)
            nb->len = 0;
        c->bytes = nb;
        c->cap = cap;
    }
    memcpy(c->bytes->data + have, data, len);
    c->bytes->len = have + len;
}

static void collector_stopped(weft_drain *d, const weft_failure *reason)
{
    collector *c = (collector *)d;
    c->d.fount = NULL;
    if (weft_failure_code(reason) != WEFT_EOF) {
        collector_give_up(c, weft_failure_ref((weft_failure *)reason));
        return;
    }
    weft_bytes *b = c->bytes;
    if (!b) {
        b = weft_malloc(sizeof *b + 1);
        if (!b) {
            collector_give_up(c, weft_failure_new(WEFT_ENOMEM, "out of memory gathering a body"));
            return;
        }
        b->len = 0;
    }
    b->data[b->len] = '\0';
    c->bytes = NULL;
    weft_deferred *done = weft_deferred_ref(c->done);
    collector_free(c);
    weft_deferred_callback(done, b, weft_free);
    weft_deferred_unref(done);
}

static void collector_cancel(void *arg, weft_deferred *d)
{
    (void)d;
    /* The Deferred errbacks itself with WEFT_ECANCELED once this returns. */
    collector_give_up(arg, NULL);
}

static const weft_drain_ops collector_ops = {.receive = collector_receive, .flow_stopped = collector_stopped};

weft_deferred *weft_fount_collect(weft_reactor *r, weft_fount *f, size_t max)
{
    collector *c = weft_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->d.ops = &collector_ops;
    c->max = max;
    c->done = weft_deferred_new(r);
    if (!c->done) {
        weft_free(c);
        return NULL;
    }
    weft_deferred *result = weft_deferred_ref(c->done);
    weft_deferred_set_canceller(c->done, collector_cancel, c);
    weft_flow_to(f, &c->d);
    return result;
}
