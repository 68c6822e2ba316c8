/* SPDX-License-Identifier: MIT */
/* The memory reactor of memory_reactor.h: two growing arrays of records
 * hung off the reactor's extension slot. */
#include <errno.h>

#include "socket_int.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/memory_reactor.h"

typedef struct records {
    weft__recorder ops; /* first: what listen.c and connect.c call */
    weft_memory_listen *listens;
    size_t nlistens;
    weft_memory_connect *connects;
    size_t nconnects;
} records;

static void records_free(void *arg)
{
    records *rec = arg;
    for (size_t i = 0; i < rec->nconnects; i++)
        weft_deferred_unref(rec->connects[i].d);
    weft_free(rec->listens);
    weft_free(rec->connects);
    weft_free(rec);
}

static records *of(const weft_reactor *r)
{
    return weft__reactor_ext(r, WEFT__EXT_MEMORY);
}

static int record_listen(weft_reactor *r, const weft_address *addr, weft_factory *factory,
                         const weft_listen_options *opts, weft_port **out)
{
    records *rec = of(r);
    weft_memory_listen *v = weft_realloc(rec->listens, (rec->nlistens + 1) * sizeof *v);
    if (!v)
        return WEFT_ENOMEM;
    rec->listens = v;
    weft_port *port = weft__port_fake(r, addr, factory);
    if (!port)
        return WEFT_ENOMEM;
    v[rec->nlistens++] = (weft_memory_listen){*addr, factory, opts ? *opts : (weft_listen_options){0}, port, false};
    *out = port;
    return 0;
}

static void record_port_stopped(weft_reactor *r, weft_port *port)
{
    records *rec = of(r);
    for (size_t i = 0; i < rec->nlistens; i++) {
        if (rec->listens[i].port == port) {
            rec->listens[i].stopped = true;
            rec->listens[i].port = NULL;
        }
    }
}

static weft_deferred *record_connect(weft_reactor *r, const weft_address *addr, weft_factory *factory,
                                    const weft_connect_options *opts)
{
    records *rec = of(r);
    weft_memory_connect *v = weft_realloc(rec->connects, (rec->nconnects + 1) * sizeof *v);
    if (!v)
        return NULL;
    rec->connects = v;
    weft_deferred *d = weft_deferred_new(r);
    if (!d)
        return NULL;
    weft_memory_connect c = {.addr = *addr, .factory = factory, .d = d};
    if (opts) {
        c.opts = *opts;
        c.opts.bind = NULL;
        if (opts->bind)
            c.bind = *opts->bind;
    }
    v[rec->nconnects++] = c;
    return weft_deferred_ref(d);
}

int weft_memory_reactor_install(weft_reactor *r)
{
    if (weft__reactor_ext(r, WEFT__EXT_MEMORY))
        return 0;
    records *rec = weft_calloc(1, sizeof *rec);
    if (!rec)
        return WEFT_ENOMEM;
    rec->ops = (weft__recorder){record_listen, record_connect, record_port_stopped};
    weft__reactor_set_ext(r, WEFT__EXT_MEMORY, rec, records_free);
    return 0;
}

size_t weft_memory_reactor_listens(const weft_reactor *r, const weft_memory_listen **out)
{
    records *rec = of(r);
    *out = rec ? rec->listens : NULL;
    return rec ? rec->nlistens : 0;
}

size_t weft_memory_reactor_connects(const weft_reactor *r, const weft_memory_connect **out)
{
    records *rec = of(r);
    *out = rec ? rec->connects : NULL;
    return rec ? rec->nconnects : 0;
}

int weft_memory_reactor_fail_connect(weft_reactor *r, size_t i, int code)
{
    records *rec = of(r);
    if (!rec || i >= rec->nconnects)
        return WEFT_EINVAL;
    weft_deferred *d = rec->connects[i].d;
    if (weft_deferred_called(d))
        return WEFT_EALREADYCALLED;
    return weft_deferred_errback(d, weft_failure_new(code, "connect failed: %s", weft_strerror(code)));
}
