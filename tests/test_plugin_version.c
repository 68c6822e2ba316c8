/* SPDX-License-Identifier: MIT */
/* Versions and versioned factories (src/app/plugin_version.h), with two
 * "versions" of a line protocol as two static factories, no loading:
 * connections counted per version, the old version released once, after
 * its last connection; connections moved with their state by a hand-over;
 * a failed restore leaving the connection on the old code. Loopback TCP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/app/plugin_version.h"
#include "test.h"

/* ---- one line protocol, two versions: "vN:COUNT:LINE" ---- */

typedef struct vfac {
    weft_factory base;
    const char *tag;
    int started, stopped;
    bool fail_restore;
} vfac;

typedef struct counter {
    weft_protocol base;
    const char *tag;
    unsigned count;
    char line[64];
    size_t len;
} counter;

static void counter_data(weft_protocol *p, const void *data, size_t len)
{
    counter *c = (counter *)p;
    const char *s = data;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\n') {
            cr_assert_lt(c->len, sizeof c->line);
            c->line[c->len++] = s[i];
            continue;
        }
        char out[128];
        int n = snprintf(out, sizeof out, "%s:%u:%.*s\n", c->tag, ++c->count, (int)c->len, c->line);
        c->len = 0;
        cr_assert_eq(weft_transport_write(p->transport, out, (size_t)n), 0);
    }
}

static const weft_protocol_ops counter_ops = {.data_received = counter_data};

static counter *counter_new(vfac *f)
{
    counter *c = weft_calloc(1, sizeof *c);
    cr_assert_not_null(c);
    c->base.ops = &counter_ops;
    c->base.release = weft_free;
    c->tag = f->tag;
    return c;
}

static weft_protocol *counter_build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    return &counter_new((vfac *)f)->base;
}

static void vfac_start(weft_factory *f)
{
    ((vfac *)f)->started++;
}

static void vfac_stop(weft_factory *f)
{
    ((vfac *)f)->stopped++;
}

static const weft_factory_ops vfac_ops = {counter_build, vfac_start, vfac_stop};

/* The state: the count, then the part of a line not yet ended. */
static int counter_save(weft_protocol *p, void **state, size_t *len)
{
    counter *c = (counter *)p;
    char *s = weft_malloc(sizeof c->count + c->len);
    if (!s)
        return WEFT_ENOMEM;
    memcpy(s, &c->count, sizeof c->count);
    memcpy(s + sizeof c->count, c->line, c->len);
    *state = s;
    *len = sizeof c->count + c->len;
    return 0;
}

static weft_protocol *counter_restore(weft_factory *f, const void *state, size_t len)
{
    vfac *vf = (vfac *)f;
    if (vf->fail_restore || len < sizeof(unsigned) || len - sizeof(unsigned) > sizeof((counter *)0)->line)
        return NULL;
    counter *c = counter_new(vf);
    memcpy(&c->count, state, sizeof c->count);
    c->len = len - sizeof c->count;
    memcpy(c->line, (const char *)state + sizeof c->count, c->len);
    return &c->base;
}

static const weft_handover handover = {counter_save, counter_restore};

/* ---- versions whose release is counted ---- */

typedef struct release_count {
    int released;
    vfac *f; /* its factory: stopped before the release */
    int f_stopped_at_release;
} release_count;

static void count_release(void *arg)
{
    release_count *rc = arg;
    rc->released++;
    rc->f_stopped_at_release = rc->f->stopped;
}

/* ---- clients: each collects the lines it is answered ---- */

typedef struct client {
    weft_protocol base;
    char got[4096];
    size_t len;
    bool lost;
} client;

static void client_data(weft_protocol *p, const void *data, size_t len)
{
    client *c = (client *)p;
    cr_assert_leq(c->len + len, sizeof c->got);
    memcpy(c->got + c->len, data, len);
    c->len += len;
}

static void client_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((client *)p)->lost = true;
}

static const weft_protocol_ops client_ops = {.data_received = client_data, .connection_lost = client_lost};

typedef struct fixture {
    weft_reactor *r;
    weft__vfactory *vf;
    weft_port *port;
    char desc[64];
    vfac f1, f2;
    release_count rc1, rc2;
    weft__version *v1, *v2;
} fixture;

static void setup(fixture *fx, bool with_handover)
{
    memset(fx, 0, sizeof *fx);
    fx->r = weft_test_reactor();
    fx->f1 = (vfac){.base.ops = &vfac_ops, .tag = "v1"};
    fx->f2 = (vfac){.base.ops = &vfac_ops, .tag = "v2"};
    fx->rc1.f = &fx->f1;
    fx->rc2.f = &fx->f2;
    fx->v1 = weft__version_new(count_release, &fx->rc1);
    fx->v2 = weft__version_new(count_release, &fx->rc2);
    fx->vf = weft__vfactory_new();
    cr_assert(fx->v1 && fx->v2 && fx->vf);
    weft__vfactory_switch(fx->vf, fx->v1, &fx->f1.base, with_handover ? &handover : NULL, NULL);
    cr_assert_eq(fx->f1.started, 1);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_listen(fx->r, &a, weft__vfactory_base(fx->vf), NULL, &fx->port), 0);
    cr_assert_eq(weft_port_address(fx->port, &a), 0);
    snprintf(fx->desc, sizeof fx->desc, "tcp:host=127.0.0.1:port=%d", weft_address_port(&a));
}

static void dial(fixture *fx, client *c, weft__version *expect_on)
{
    size_t before = weft__version_connections(expect_on);
    memset(c, 0, sizeof *c);
    c->base.ops = &client_ops;
    weft_deferred *d = weft_connect_protocol(fx->r, fx->desc, &c->base);
    cr_assert_eq(weft_reactor_run_until(fx->r, d, 10), 0);
    weft_deferred_unref(d);
    for (int i = 0; i < 1000 && weft__version_connections(expect_on) == before; i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 1), 0);
    cr_assert_eq(weft__version_connections(expect_on), before + 1);
}

/* Sends `line` and waits for the answer, which must be `expect`. */
static void ask(fixture *fx, client *c, const char *line, const char *expect)
{
    size_t at = c->len;
    cr_assert_eq(weft_transport_write(c->base.transport, line, strlen(line)), 0);
    for (int i = 0; i < 1000 && c->len < at + strlen(expect) && !c->lost; i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 1), 0);
    cr_assert_eq(c->len - at, strlen(expect), "answer to %s: %.*s", line, (int)(c->len - at), c->got + at);
    cr_assert_eq(memcmp(c->got + at, expect, strlen(expect)), 0, "answer to %s: %.*s", line, (int)(c->len - at),
                 c->got + at);
}

/* Closes c's connection and waits until the server has ended it: v (whose
 * release rc counts) has one connection less, or is released. */
static void hang_up(fixture *fx, client *c, weft__version *v, const release_count *rc)
{
    size_t before = weft__version_connections(v);
    weft_transport_lose_connection(c->base.transport);
    for (int i = 0; i < 1000 && !(c->lost && (rc->released || weft__version_connections(v) < before)); i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 1), 0);
    cr_assert(rc->released || weft__version_connections(v) == before - 1);
}

static void teardown(fixture *fx)
{
    weft_deferred_unref(weft_port_stop(fx->port));
    weft_reactor_iterate(fx->r, 0);
    weft_reactor_free(fx->r);
    weft__vfactory_free(fx->vf);
}

WEFT_TEST(plugin_version, old_connections_finish_on_the_old_version_which_is_released_once_after_the_last)
{
    fixture fx;
    setup(&fx, false);
    client a, b, c;
    dial(&fx, &a, fx.v1);
    dial(&fx, &b, fx.v1);
    ask(&fx, &a, "x\n", "v1:1:x\n");

    weft__switch_report rep;
    weft__vfactory_switch(fx.vf, fx.v2, &fx.f2.base, NULL, &rep);
    cr_assert_eq(rep.moved + rep.failed, 0);
    cr_assert_eq(rep.stayed, 2);
    weft__version_drop(fx.v1); /* the loader lets go of the old build */
    weft__version_drop(fx.v2); /* ...and holds the new one through the factory */
    cr_assert_eq(weft__vfactory_version(fx.vf), fx.v2);

    dial(&fx, &c, fx.v2);
    ask(&fx, &c, "y\n", "v2:1:y\n");
    ask(&fx, &a, "z\n", "v1:2:z\n");
    ask(&fx, &b, "z\n", "v1:1:z\n");
    cr_assert_eq(weft__version_connections(fx.v1), 2);

    hang_up(&fx, &a, fx.v1, &fx.rc1);
    cr_assert_eq(fx.rc1.released, 0, "a connection still runs v1");
    cr_assert_eq(fx.f1.stopped, 0);
    hang_up(&fx, &b, fx.v1, &fx.rc1);
    cr_assert_eq(fx.rc1.released, 1, "released with its last connection");
    cr_assert_eq(fx.rc1.f_stopped_at_release, 1, "its factory was stopped first");
    cr_assert_eq(fx.f1.started, 1);

    hang_up(&fx, &c, fx.v2, &fx.rc2);
    cr_assert_eq(fx.rc2.released, 0, "the factory still builds with v2");
    teardown(&fx);
    cr_assert_eq(fx.rc1.released, 1, "once");
    cr_assert_eq(fx.rc2.released, 1);
    cr_assert_eq(fx.f2.stopped, 1);
}

WEFT_TEST(plugin_version, a_handover_moves_each_open_connection_with_its_state)
{
    fixture fx;
    setup(&fx, true);
    client a, b;
    dial(&fx, &a, fx.v1);
    dial(&fx, &b, fx.v1);
    ask(&fx, &a, "one\n", "v1:1:one\n");
    ask(&fx, &a, "two\n", "v1:2:two\n");
    /* Half a line before the switch: its start travels in the state. */
    cr_assert_eq(weft_transport_write(b.base.transport, "hal", 3), 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(weft_reactor_iterate(fx.r, 0), 0);

    weft__switch_report rep;
    weft__vfactory_switch(fx.vf, fx.v2, &fx.f2.base, &handover, &rep);
    cr_assert_eq(rep.moved, 2);
    cr_assert_eq(rep.stayed + rep.failed, 0);
    cr_assert_eq(weft__version_connections(fx.v1), 0);
    cr_assert_eq(weft__version_connections(fx.v2), 2);
    cr_assert_eq(fx.f1.stopped, 1, "v1's factory has no connection left and builds no more");
    cr_assert_eq(fx.rc1.released, 0, "the loader still holds v1");
    weft__version_drop(fx.v1);
    cr_assert_eq(fx.rc1.released, 1, "no connection runs v1 any more");
    weft__version_drop(fx.v2);

    ask(&fx, &a, "three\n", "v2:3:three\n");
    ask(&fx, &b, "f\n", "v2:1:half\n");
    hang_up(&fx, &a, fx.v2, &fx.rc2);
    hang_up(&fx, &b, fx.v2, &fx.rc2);
    teardown(&fx);
    cr_assert_eq(fx.rc2.released, 1);
}

WEFT_TEST(plugin_version, a_failed_restore_leaves_the_connection_on_the_old_code)
{
    fixture fx;
    setup(&fx, true);
    client a;
    dial(&fx, &a, fx.v1);
    ask(&fx, &a, "one\n", "v1:1:one\n");
    fx.f2.fail_restore = true;

    weft__switch_report rep;
    weft__vfactory_switch(fx.vf, fx.v2, &fx.f2.base, &handover, &rep);
    cr_assert_eq(rep.failed, 1);
    cr_assert_eq(rep.moved, 0);
    weft__version_drop(fx.v1);
    weft__version_drop(fx.v2);
    cr_assert_eq(fx.rc1.released, 0);
    ask(&fx, &a, "two\n", "v1:2:two\n");
    hang_up(&fx, &a, fx.v1, &fx.rc1);
    cr_assert_eq(fx.rc1.released, 1);
    teardown(&fx);
    cr_assert_eq(fx.rc2.released, 1);
}
