/* SPDX-License-Identifier: MIT */
/*
 * Echo (RFC 862): the connection's fount flows into its own drain, so what
 * is read is written back with the transport's backpressure - above the
 * high-water mark of unsent echo, reading pauses until the peer has taken
 * enough of it - and the peer's EOF ends the flow, which closes the
 * connection once the echo is sent.
 */
#include "weft/alloc.h"
#include "weft/flow.h"
#include "weft/transport.h"
#include "weft/wire.h"

static void echo_made(weft_protocol *p)
{
    weft_flow_to(weft_transport_fount(p->transport), weft_transport_drain(p->transport));
}

static void echo_destroy(weft_protocol *p)
{
    weft_free(p);
}

static const weft_protocol_ops echo_ops = {.connection_made = echo_made, .destroy = echo_destroy};

static weft_protocol *build(weft_factory *f, const weft_address *peer)
{
    (void)f;
    (void)peer;
    weft_protocol *p = weft_calloc(1, sizeof *p);
    if (p)
        p->ops = &echo_ops;
    return p;
}

static const weft_factory_ops echo_factory_ops = {.build = build};

void weft_echo_factory_init(weft_factory *f)
{
    *f = (weft_factory){.ops = &echo_factory_ops};
}
