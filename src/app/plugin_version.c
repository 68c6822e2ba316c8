/* SPDX-License-Identifier: MIT */
/*
 * Versions and versioned factories (plugin_version.h): the counting that
 * keeps a plugin's old build mapped while its connections live, and the
 * hand-over that moves them to the new build.
 */
#include "plugin_version.h"

#include "../core/list.h"
#include "../net/transport_int.h"
#include "weft/alloc.h"
#include "weft/transport.h"

struct weft__version {
    size_t holds;
    size_t connections;
    weft_call_fn release;
    void *arg;
};

struct weft__vfactory {
    weft_factory base;
    weft__version *v; /* what new connections get; NULL before the first switch */
    weft_factory *f;
    const weft_handover *handover;
    weft__list open; /* the wrappers of every version */
};

/* One connection running one version's code. */
typedef struct vconn {
    weft_protocol base;
    weft__list node;           /* on its factory's open list, while that lives */
    weft_protocol *inner;
    weft__version *v;
    weft_factory *f;           /* built it (or restored it): a user until the end */
    const weft_handover *handover;
} vconn;

weft__version *weft__version_new(weft_call_fn release, void *arg)
{
    weft__version *v = weft_malloc(sizeof *v);
    if (v)
        *v = (weft__version){.holds = 1, .release = release, .arg = arg};
    return v;
}

void weft__version_hold(weft__version *v)
{
    v->holds++;
}

void weft__version_drop(weft__version *v)
{
    if (--v->holds > 0)
        return;
    if (v->release)
        v->release(v->arg);
    weft_free(v);
}

size_t weft__version_connections(const weft__version *v)
{
    return v->connections;
}

/* ---- the wrapper: every event forwarded ---- */

static void c_made(weft_protocol *p)
{
    vconn *c = (vconn *)p;
    c->inner->transport = p->transport;
    if (c->inner->ops->connection_made)
        c->inner->ops->connection_made(c->inner);
}

static void c_data(weft_protocol *p, const void *data, size_t len)
{
    weft_protocol *in = ((vconn *)p)->inner;
    if (in->ops->data_received)
        in->ops->data_received(in, data, len);
}

static bool c_eof(weft_protocol *p)
{
    weft_protocol *in = ((vconn *)p)->inner;
    return in->ops->eof_received && in->ops->eof_received(in);
}

static void c_lost(weft_protocol *p, const weft_failure *why)
{
    weft_protocol *in = ((vconn *)p)->inner;
    if (in->ops->connection_lost)
        in->ops->connection_lost(in, why);
    in->transport = NULL;
}

/* The connection's end, or its move to other code: the inner protocol
 * ends, then its factory and version are let go - the version last, as
 * its release may unload the code everything before it ran. */
static void c_destroy(weft_protocol *p)
{
    vconn *c = (vconn *)p;
    weft__list_remove(&c->node);
    weft_protocol_destroy(c->inner);
    weft_factory_stop(c->f);
    c->v->connections--;
    weft__version *v = c->v;
    weft_free(c);
    weft__version_drop(v);
}

static const weft_protocol_ops vconn_ops = {c_made, c_data, c_eof, c_lost, c_destroy};

/* Wraps `inner` (which it then owns, even on failure) as a connection of
 * vf's current version. */
static vconn *vconn_new(weft__vfactory *vf, weft_protocol *inner)
{
    vconn *c = weft_malloc(sizeof *c);
    if (!c) {
        weft_protocol_destroy(inner);
        return NULL;
    }
    *c = (vconn){.base.ops = &vconn_ops, .inner = inner, .v = vf->v, .f = vf->f,
                 .handover = vf->handover};
    if (!inner->factory)
        inner->factory = vf->f;
    weft__list_push_back(&vf->open, &c->node);
    weft_factory_start(vf->f);
    weft__version_hold(vf->v);
    vf->v->connections++;
    return c;
}

static weft_protocol *build(weft_factory *f, const weft_address *peer)
{
    weft__vfactory *vf = (weft__vfactory *)f;
    if (!vf->v)
        return NULL;
    weft_protocol *inner = vf->f->ops->build(vf->f, peer);
    if (!inner)
        return NULL;
    vconn *c = vconn_new(vf, inner);
    return c ? &c->base : NULL;
}

static const weft_factory_ops vfactory_ops = {.build = build};

weft__vfactory *weft__vfactory_new(void)
{
    weft__vfactory *vf = weft_calloc(1, sizeof *vf);
    if (!vf)
        return NULL;
    vf->base.ops = &vfactory_ops;
    weft__list_init(&vf->open);
    return vf;
}

weft_factory *weft__vfactory_base(weft__vfactory *vf)
{
    return &vf->base;
}

weft__version *weft__vfactory_version(const weft__vfactory *vf)
{
    return vf->v;
}

/* ---- switching ---- */

/* Moves one open connection of older code to vf's current version: 1
 * moved, 0 stayed, -1 failed (it stays). The wrapper stays where it is -
 * the transport's protocol, or inside another wrapper (a server service
 * counts its connections with one) - and changes the protocol it forwards
 * to, and the version it holds. */
static int hand_over(weft__vfactory *vf, vconn *c)
{
    weft_transport *t = c->base.transport;
    if (!c->handover || !c->handover->save || !vf->handover || !vf->handover->restore || !t ||
        weft_transport_disconnecting(t))
        return 0;
    void *state = NULL;
    size_t len = 0;
    if (c->handover->save(c->inner, &state, &len) < 0) {
        weft_free(state);
        return -1;
    }
    weft_protocol *inner = vf->handover->restore(vf->f, state, len);
    weft_free(state);
    if (!inner)
        return -1;
    /* The old code's producer and pause go, as at any protocol switch. */
    if (!weft__transport_code_switch(t)) {
        weft_protocol_destroy(inner);
        return -1;
    }
    weft_protocol *old = c->inner;
    weft__version *old_v = c->v;
    weft_factory *old_f = c->f;
    if (!inner->factory)
        inner->factory = vf->f;
    inner->transport = t;
    old->transport = NULL;
    c->inner = inner;
    c->v = vf->v;
    c->f = vf->f;
    c->handover = vf->handover;
    /* To the end of the list: the switch's walk passes over it. */
    weft__list_remove(&c->node);
    weft__list_push_back(&vf->open, &c->node);
    weft_factory_start(c->f);
    weft__version_hold(c->v);
    c->v->connections++;
    /* The old code ends as a connection's does in c_destroy, its version
     * last; told nothing, since its connection goes on. */
    weft_protocol_destroy(old);
    weft_factory_stop(old_f);
    old_v->connections--;
    weft__version_drop(old_v);
    return 1;
}

void weft__vfactory_switch(weft__vfactory *vf, weft__version *v, weft_factory *f, const weft_handover *handover,
                           weft__switch_report *report)
{
    weft__switch_report r = {0};
    weft__version *was = vf->v;
    weft_factory *was_f = vf->f;
    weft__version_hold(v);
    weft_factory_start(f);
    vf->v = v;
    vf->f = f;
    vf->handover = handover;
    /* Connections moved are appended as they go, as connections of v:
     * the walk passes over them. */
    for (weft__list *n = vf->open.next; n != &vf->open;) {
        weft__list *next = n->next;
        vconn *c = WEFT_CONTAINER_OF(n, vconn, node);
        if (c->v != v) {
            int moved = hand_over(vf, c);
            if (moved > 0)
                r.moved++;
            else if (moved == 0)
                r.stayed++;
            else
                r.failed++;
        }
        n = next;
    }
    if (was_f)
        weft_factory_stop(was_f);
    if (was)
        weft__version_drop(was);
    if (report)
        *report = r;
}

void weft__vfactory_free(weft__vfactory *vf)
{
    if (!vf)
        return;
    /* Open connections keep their version; they leave the list. */
    while (weft__list_pop_front(&vf->open))
        ;
    if (vf->f)
        weft_factory_stop(vf->f);
    if (vf->v)
        weft__version_drop(vf->v);
    weft_free(vf);
}
