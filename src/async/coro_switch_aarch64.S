/* SPDX-License-Identifier: MIT */
/*
 * AArch64 (AAPCS64) context switch (see coro_switch.h).
 *
 * A suspended context's stack, from its saved stack pointer upwards (176
 * bytes, 16-aligned):
 *     +0   x19 x20   +16  x21 x22   +32  x23 x24   +48  x25 x26
 *     +64  x27 x28   +80  x29 (fp) x30 (lr, where to resume)
 *     +96  d8 d9     +112 d10 d11   +128 d12 d13   +144 d14 d15
 *     +160 fpcr      +168 padding
 * A new context is laid out by weft__coro_prepare with lr pointing at
 * weft__coro_start, the entry function in x19 and its argument in x20.
 */
#if defined(__aarch64__) && !defined(WEFT_CORO_UCONTEXT)
    .text
    .globl weft__coro_switch
    .hidden weft__coro_switch
    .type weft__coro_switch, %function
    .p2align 4
weft__coro_switch:
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldr x9, [sp, #160]
    msr fpcr, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    ret
    .size weft__coro_switch, .-weft__coro_switch

    .globl weft__coro_start
    .hidden weft__coro_start
    .type weft__coro_start, %function
    .p2align 4
weft__coro_start:
    mov x0, x20
    blr x19
    brk #0
    .size weft__coro_start, .-weft__coro_start
#endif
    .section .note.GNU-stack, "", %progbits
