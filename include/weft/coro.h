/* SPDX-License-Identifier: MIT */
/*
 * Coroutines: inlineCallbacks (async/await) for C. weft_coro_spawn runs a
 * function on a stack of its own; inside it, weft_await(d) suspends until
 * the Deferred d fires and returns its result, while the reactor goes on.
 * The coroutine is itself a Deferred, fired with the function's result.
 *
 *     static weft_result fetch(void *arg) {
 *         weft_result r = weft_await(connect_somewhere(arg)); // await owns it
 *         if (weft_failed(r)) return r;
 *         ...
 *         return weft_ok(answer, free);
 *     }
 *     weft_deferred *d = weft_coro_spawn(reactor, fetch, "example.org");
 *
 * Switching stacks is a few instructions of assembly (x86-64, aarch64; a
 * ucontext fallback elsewhere) and no system call. Stacks come from mmap
 * with a 64 KiB guard below them and are reused from a pool per reactor.
 *
 * Overflow: a coroutine that runs off its stack faults (SIGSEGV) instead of
 * writing into memory beyond it - another coroutine's stack, for pooled
 * stacks lie side by side. For frames under 64 KiB that holds for any code;
 * for larger frames (a big local array, a large alloca) the code that has
 * them must be compiled with -fstack-clash-protection (gcc 8, clang 11 on
 * x86-64 and later), which makes a frame touch each of its pages in order.
 * weft is built with it, and passes it on to its users where the compiler
 * has it: in the Cflags of weft.pc and the compile options of the CMake
 * targets weft::weft and weft::weft_static. A program compiled otherwise
 * must add it itself, or keep the frames of code it runs in coroutines
 * under 64 KiB.
 *
 * Threads: a coroutine belongs to its reactor's thread. Await only
 * Deferreds of that reactor.
 */
#ifndef WEFT_CORO_H
#define WEFT_CORO_H

#include "base.h"
#include "result.h"

typedef struct weft_coro_options {
    /* Usable stack bytes; 0: 64 KiB (4 times that under AddressSanitizer,
     * whose frames are larger). Rounded up to whole pages. */
    size_t stack_size;
} weft_coro_options;

/*
 * Starts fn(arg) as a coroutine. It runs at once, inside this call, until
 * its first await that must wait (or to its end). Returns a Deferred (the
 * caller's reference) that fires with fn's result. Cancelling that Deferred
 * cancels the Deferred the coroutine awaits: its await returns the
 * WEFT_ECANCELED failure, and the coroutine may clean up (if it then awaits
 * again, the cancelled Deferred has already errbacked and what the
 * coroutine finally returns is dropped). NULL when out of memory (fn never
 * runs).
 */
WEFT_API weft_deferred *weft_coro_spawn(weft_reactor *r, weft_result (*fn)(void *arg), void *arg);
WEFT_API weft_deferred *weft_coro_spawn_with(weft_reactor *r, weft_result (*fn)(void *arg), void *arg,
                                             const weft_coro_options *opts);

/*
 * Waits for d and returns its result, which the caller now owns. The
 * caller's reference to d passes to the await (so a call that returns a
 * Deferred can be awaited in one line); keep one with weft_deferred_ref to
 * look at d afterwards (it then holds none, as Twisted's await leaves
 * None). NULL (a call that ran out of memory) returns a WEFT_ENOMEM failure.
 * A d that already has a result returns at once, with no switch. Outside a
 * coroutine (or on another reactor's Deferred), returns a WEFT_EINVAL
 * failure at once.
 *
 * At shutdown, once the connections are gone, an await still waiting is
 * cancelled (reactor.h): it returns the WEFT_ECANCELED failure.
 */
WEFT_API weft_result weft_await(weft_deferred *d);

/* Whether the caller runs in a coroutine of r. */
WEFT_API bool weft_coro_running(const weft_reactor *r);

/* Sleeps `seconds` on r's clock (fake or real); none, or the cancellation. */
WEFT_API weft_result weft_sleep(weft_reactor *r, double seconds);

/* await with a deadline: WEFT_ETIMEDOUT (with the cancel as cause) when d has
 * not fired within `seconds`; d is then cancelled. Takes d as weft_await. */
WEFT_API weft_result weft_await_timeout(weft_deferred *d, double seconds);

/* Awaits every Deferred (gather: the first failure as WEFT_EFIRSTERROR, or a
 * weft_result_list of their values). Takes the caller's references to all
 * of them, as weft_await. */
WEFT_API weft_result weft_await_all(weft_reactor *r, weft_deferred *const *ds, size_t n);

/* Awaits the first to succeed (a weft_result_list with `index` set) or a
 * failure when all fail. Takes the references as weft_await_all. */
WEFT_API weft_result weft_await_any(weft_reactor *r, weft_deferred *const *ds, size_t n);

#endif
