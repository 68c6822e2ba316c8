/* SPDX-License-Identifier: MIT */
/* Echo (RFC 862): a bare weft_protocol per connection, nothing more. */
#include "weft/alloc.h"
#include "weft/transport.h"
#include "weft/wire.h"

static void echo_data(weft_protocol *p, const void *data, size_t len)
{
    weft_transport_write(p->transport, data, len);
}

static bool echo_eof(weft_protocol *p)
{
    weft_transport_write_eof(p->transport);
    return true;
}

static void echo_destroy(weft_protocol *p)
{
    weft_free(p);
}

static const weft_protocol_ops echo_ops = {.data_received = echo_data, .eof_received = echo_eof, .destroy = echo_destroy};

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
