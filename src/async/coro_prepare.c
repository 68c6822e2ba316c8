/* SPDX-License-Identifier: MIT */
/* Laying out a new context for the assembly switches (coro_switch.h), and
 * the ucontext fallback for other architectures. */
#include <stdint.h>
#include <string.h>

#include "coro_switch.h"

#if defined(__x86_64__) && !defined(WEFT__CORO_UCONTEXT)

void weft__coro_start(void);

void *weft__coro_prepare(void *base, size_t size, void (*entry)(void *arg), void *arg, void *ctx)
{
    (void)ctx;
    uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
    /* 64 bytes of saved state below a 16-byte gap: after the switch pops
     * them and returns, the stack pointer is 16-aligned, so
     * weft__coro_start's call is made with the alignment the ABI wants. */
    uint64_t *sp = (uint64_t *)(top - 16 - 64);
    memset(sp, 0, 80);
    uint32_t mxcsr = 0x1F80;      /* all exceptions masked, round to nearest */
    uint16_t fpucw = 0x037F;      /* likewise for x87 */
    memcpy(&sp[0], &mxcsr, 4);
    memcpy((char *)&sp[0] + 4, &fpucw, 2);
    sp[4] = (uint64_t)(uintptr_t)entry; /* r12 */
    sp[3] = (uint64_t)(uintptr_t)arg;   /* r13 */
    sp[7] = (uint64_t)(uintptr_t)weft__coro_start;
    return sp;
}

#elif defined(__aarch64__) && !defined(WEFT__CORO_UCONTEXT)

void weft__coro_start(void);

void *weft__coro_prepare(void *base, size_t size, void (*entry)(void *arg), void *arg, void *ctx)
{
    (void)ctx;
    uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 176);
    memset(sp, 0, 176);
    sp[0] = (uint64_t)(uintptr_t)entry; /* x19 */
    sp[1] = (uint64_t)(uintptr_t)arg;   /* x20 */
    sp[11] = (uint64_t)(uintptr_t)weft__coro_start; /* x30 */
    return sp;
}

#else
#include <ucontext.h>

_Static_assert(sizeof(ucontext_t) <= WEFT__CORO_CTX_SIZE, "room for a ucontext_t");

/* makecontext passes ints; the pointers travel in halves. */
static void trampoline(unsigned eh, unsigned el, unsigned ah, unsigned al)
{
    void (*entry)(void *) = (void (*)(void *))(((uintptr_t)eh << 32) | el);
    entry((void *)(((uintptr_t)ah << 32) | al));
}

void *weft__coro_prepare(void *base, size_t size, void (*entry)(void *arg), void *arg, void *ctx)
{
    ucontext_t *uc = ctx;
    getcontext(uc);
    uc->uc_stack.ss_sp = base;
    uc->uc_stack.ss_size = size;
    uc->uc_link = NULL;
    uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
    makecontext(uc, (void (*)(void))trampoline, 4, (unsigned)(e >> 32), (unsigned)e, (unsigned)(a >> 32),
                (unsigned)a);
    return uc;
}

void weft__coro_switch(void **save, void *load)
{
    swapcontext((ucontext_t *)*save, (ucontext_t *)load);
}
#endif
