/* SPDX-License-Identifier: MIT */
/*
 * The context switch, one implementation per architecture:
 * coro_switch_x86_64.S, coro_switch_aarch64.S, else coro_switch_ucontext.c.
 *
 * A suspended context is a stack pointer; everything else it needs (the
 * callee-saved registers, the floating-point control words, the return
 * address) is on its stack. weft__coro_switch saves the current context's
 * registers on the current stack, stores its stack pointer in *save, and
 * resumes the context whose stack pointer is `load`.
 */
#ifndef WEFT_ASYNC_CORO_SWITCH_H
#define WEFT_ASYNC_CORO_SWITCH_H

#include <stddef.h>

void weft__coro_switch(void **save, void *load);

/*
 * Lays out a new context on the stack [base, base + size) that, when first
 * switched to, calls entry(arg) on that stack; entry must never return.
 * Returns its stack pointer. (The ucontext fallback keeps the context in
 * `ctx`, WEFT__CORO_CTX_SIZE bytes, and returns ctx; elsewhere unused.)
 */
void *weft__coro_prepare(void *base, size_t size, void (*entry)(void *arg), void *arg, void *ctx);

/* The ucontext fallback: elsewhere, or when asked (WEFT_CORO_UCONTEXT, so
 * the fallback can be tested on x86-64 too). Its "stack pointers" are
 * pointers to ucontext_t storage that the caller provides: each side of a
 * switch must have *save pointing at its own storage before switching. */
#if defined(WEFT_CORO_UCONTEXT) || !(defined(__x86_64__) || defined(__aarch64__))
#include <ucontext.h>
#define WEFT__CORO_UCONTEXT 1
#define WEFT__CORO_CTX_SIZE sizeof(ucontext_t) /* 936 bytes on x86-64, 4560 on aarch64 */
#else
#define WEFT__CORO_CTX_SIZE 1
#endif

#endif
