/* SPDX-License-Identifier: MIT */
/* Founts, drains and tubes: the plumbing of flow.h. Transports' founts and
 * drains live in src/net/transport.c. */
#include "weft/error.h"
#include "weft/flow.h"

void weft_flow_to(weft_fount *f, weft_drain *d)
{
    if (f->ended) {
        /* Nothing will ever come: say so at once, and link nothing. */
        if (d && d->ops->flow_stopped) {
            weft_failure *eof = weft_failure_new(WEFT_EOF, "flow already ended");
            d->ops->flow_stopped(d, eof);
            weft_failure_unref(eof);
        }
        return;
    }
    if (f->drain == d && (!d || d->fount == f))
        return;
    if (f->drain && f->drain->fount == f) {
        weft_drain *old = f->drain;
        old->fount = NULL;
        if (old->ops->flowing_from)
            old->ops->flowing_from(old, NULL);
    }
    f->drain = d;
    if (d) {
        if (d->fount && d->fount != f)
            d->fount->drain = NULL;
        d->fount = f;
        if (d->ops->flowing_from)
            d->ops->flowing_from(d, f);
    }
    if (f->ops->flowing_to && f->drain == d)
        f->ops->flowing_to(f, d);
}

void weft_fount_pause(weft_fount *f)
{
    if (f->pauses++ == 0 && f->ops->pause)
        f->ops->pause(f);
}

void weft_fount_resume(weft_fount *f)
{
    if (f->pauses > 0 && --f->pauses == 0 && f->ops->resume)
        f->ops->resume(f);
}

void weft_fount_stop(weft_fount *f)
{
    if (f->ops->stop)
        f->ops->stop(f);
}

void weft_fount_emit(weft_fount *f, const void *data, size_t len)
{
    if (f->drain && !f->ended)
        f->drain->ops->receive(f->drain, data, len);
}

void weft_fount_end(weft_fount *f, const weft_failure *reason)
{
    if (f->ended)
        return;
    f->ended = true;
    /* Unlinked first: a drain may free itself when told (a tube does). */
    weft_drain *d = f->drain;
    f->drain = NULL;
    if (d) {
        d->fount = NULL;
        if (d->ops->flow_stopped)
            d->ops->flow_stopped(d, reason);
    }
}

/* ---- tubes ---- */

#define TUBE_OF_IN(d) ((weft_tube *)(void *)((char *)(d)-offsetof(weft_tube, in)))
#define TUBE_OF_OUT(f) ((weft_tube *)(void *)((char *)(f)-offsetof(weft_tube, out)))

static void tube_pause(weft_fount *f)
{
    weft_tube *t = TUBE_OF_OUT(f);
    if (t->in.fount)
        weft_fount_pause(t->in.fount);
}

static void tube_resume(weft_fount *f)
{
    weft_tube *t = TUBE_OF_OUT(f);
    if (t->in.fount)
        weft_fount_resume(t->in.fount);
}

static void tube_stop(weft_fount *f)
{
    weft_tube *t = TUBE_OF_OUT(f);
    if (t->in.fount)
        weft_fount_stop(t->in.fount);
}

static void tube_flowing_from(weft_drain *d, weft_fount *f)
{
    weft_tube *t = TUBE_OF_IN(d);
    /* A paused output holds back whatever feeds the tube now. */
    if (f && t->out.pauses)
        weft_fount_pause(f);
}

static void tube_receive(weft_drain *d, const void *data, size_t len)
{
    weft_tube *t = TUBE_OF_IN(d);
    if (!t->out.ended)
        t->ops->received(t, data, len);
}

static void tube_end(weft_tube *t, const weft_failure *reason)
{
    weft_fount *up = t->in.fount;
    if (up && up->drain == &t->in)
        up->drain = NULL;
    t->in.fount = NULL;
    weft_fount_end(&t->out, reason);
    if (t->ops->destroy)
        t->ops->destroy(t);
}

static void tube_flow_stopped(weft_drain *d, const weft_failure *reason)
{
    weft_tube *t = TUBE_OF_IN(d);
    if (t->out.ended)
        return;
    if (t->ops->stopped)
        t->ops->stopped(t, reason);
    tube_end(t, reason);
}

static const weft_fount_ops tube_fount_ops = {.pause = tube_pause, .resume = tube_resume, .stop = tube_stop};
static const weft_drain_ops tube_drain_ops = {tube_flowing_from, tube_receive, tube_flow_stopped};

void weft_tube_init(weft_tube *t, const weft_tube_ops *ops)
{
    *t = (weft_tube){.ops = ops, .in = {.ops = &tube_drain_ops}, .out = {.ops = &tube_fount_ops}};
}

void weft_tube_emit(weft_tube *t, const void *data, size_t len)
{
    weft_fount_emit(&t->out, data, len);
}

void weft_tube_fail(weft_tube *t, const weft_failure *reason)
{
    if (t->out.ended)
        return;
    weft_fount *up = t->in.fount;
    if (up) {
        up->drain = NULL;
        t->in.fount = NULL;
        weft_fount_stop(up);
    }
    tube_end(t, reason);
}

weft_fount *weft_series(weft_fount *f, weft_tube *const *tubes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        weft_flow_to(f, &tubes[i]->in);
        f = &tubes[i]->out;
    }
    return f;
}
