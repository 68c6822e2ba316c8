/* SPDX-License-Identifier: MIT */
/*
 * The bare context switch, three ways doing the same work: the main context
 * and one other, on its own 64 KiB stack, switch to each other N times
 * (a round trip is two switches), nothing else in the loop.
 *
 *  - weft: weft__coro_switch, the switch under weft's coroutines (internal:
 *    this program links libweft.a and includes src/async/coro_switch.h);
 *  - boost_context: Boost.Context's jump_fcontext (Debian's
 *    libboost-context-dev), the best-known switch without system calls:
 *    the peer that says whether weft's is as cheap as a switch gets;
 *  - swapcontext: glibc's, which also saves and restores the signal mask
 *    with a system call each way.
 *
 * Prints three numbers, nanoseconds per round trip (best of 5 runs each):
 * weft, boost_context, swapcontext.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

#include "../src/async/coro_switch.h"

enum { STACK = 64 * 1024, N_FAST = 20000000, N_SLOW = 1000000, RUNS = 5 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *stack_new(void)
{
    void *s = NULL;
    if (posix_memalign(&s, 64, STACK) != 0)
        abort();
    return s;
}

/* ---- weft ---- */

static void *weft_main, *weft_other;

static void weft_entry(void *arg)
{
    (void)arg;
    for (;;)
        weft__coro_switch(&weft_other, weft_main);
}

static double weft_round_trip(void)
{
    /* The ucontext fallback's "stack pointers" are context storage. */
    static _Alignas(16) char main_ctx[WEFT__CORO_CTX_SIZE], other_ctx[WEFT__CORO_CTX_SIZE];
    void *stack = stack_new();
    weft_main = main_ctx;
    weft_other = weft__coro_prepare(stack, STACK, weft_entry, NULL, other_ctx);
    double t0 = now();
    for (int i = 0; i < N_FAST; i++)
        weft__coro_switch(&weft_main, weft_other);
    double ns = (now() - t0) / N_FAST * 1e9;
    free(stack);
    return ns;
}

/* ---- Boost.Context (its C-linkage functions, declared as its
 * boost/context/detail/fcontext.hpp declares them) ---- */

typedef void *fcontext_t;
typedef struct transfer_t {
    fcontext_t fctx;
    void *data;
} transfer_t;

transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

static void boost_entry(transfer_t t)
{
    for (;;)
        t = jump_fcontext(t.fctx, NULL);
}

static double boost_round_trip(void)
{
    char *stack = stack_new();
    fcontext_t other = make_fcontext(stack + STACK, STACK, boost_entry); /* the top: stacks grow down */
    double t0 = now();
    for (int i = 0; i < N_FAST; i++)
        other = jump_fcontext(other, NULL).fctx;
    double ns = (now() - t0) / N_FAST * 1e9;
    free(stack);
    return ns;
}

/* ---- swapcontext ---- */

static ucontext_t uc_main, uc_other;

static void uc_entry(void)
{
    for (;;)
        swapcontext(&uc_other, &uc_main);
}

static double swapcontext_round_trip(void)
{
    void *stack = stack_new();
    if (getcontext(&uc_other) < 0)
        abort();
    uc_other.uc_stack.ss_sp = stack;
    uc_other.uc_stack.ss_size = STACK;
    uc_other.uc_link = NULL;
    makecontext(&uc_other, uc_entry, 0);
    double t0 = now();
    for (int i = 0; i < N_SLOW; i++)
        swapcontext(&uc_main, &uc_other);
    double ns = (now() - t0) / N_SLOW * 1e9;
    free(stack);
    return ns;
}

static double best_of(double (*run)(void))
{
    double best = 1e9;
    for (int i = 0; i < RUNS; i++) {
        double ns = run();
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(void)
{
    double w = best_of(weft_round_trip);
    double b = best_of(boost_round_trip);
    double u = best_of(swapcontext_round_trip);
    printf("%.2f %.2f %.1f\n", w, b, u);
    return 0;
}
