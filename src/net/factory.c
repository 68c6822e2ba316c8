/* SPDX-License-Identifier: MIT */
/* Factories (protocol.h): the count of their users, Factory.forProtocol,
 * and the one way a protocol ends. */
#include "weft/alloc.h"
#include "weft/protocol.h"

void weft_factory_start(weft_factory *f)
{
    if (f->users++ == 0 && f->ops->start)
        f->ops->start(f);
}

void weft_factory_stop(weft_factory *f)
{
    if (f->users > 0 && --f->users == 0 && f->ops->stop)
        f->ops->stop(f);
}

void weft_protocol_destroy(weft_protocol *p)
{
    weft_destroy_fn release = p->release;
    if (p->ops->destroy)
        p->ops->destroy(p);
    if (release)
        release(p);
}

static void release(void *p)
{
    weft_free(p);
}

static weft_protocol *build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    weft_protocol_factory *pf = (weft_protocol_factory *)f;
    weft_protocol *p = weft_calloc(1, pf->size);
    if (!p)
        return NULL;
    pf->init(p, f->arg);
    p->release = release;
    return p;
}

const weft_factory_ops weft_protocol_factory_ops = {.build = build};
