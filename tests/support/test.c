/* SPDX-License-Identifier: MIT */
/* Shared test support: the leak checks, the abort path out of coroutines,
 * reactors, log capture and the fault-injection driver. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

#undef criterion_abort_test /* this file calls Criterion's own */

/* Sanitizer entry points, weak: present when a runtime that has them is
 * linked in (ASan in the gcc pass; LeakSanitizer alone in the clang pass,
 * which needs no fiber bookkeeping). */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size) __attribute__((weak));
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old)
    __attribute__((weak));
void __asan_unpoison_memory_region(const volatile void *addr, size_t size) __attribute__((weak));

/* OpenSSL through weft's allocator in every test process, so that the
 * fault-injection passes fail its allocations too. OpenSSL takes this only
 * before its first allocation: a constructor runs before main, and before
 * Criterion starts the test. */
static int openssl_routed = 1;

__attribute__((constructor)) static void route_openssl(void)
{
    openssl_routed = weft_tls_route_allocations();
}

int weft_test_openssl_routed(void)
{
    return openssl_routed;
}

static void check_leaks(size_t live_before)
{
    size_t live = weft_allocations_live();
    cr_assert_eq(live, live_before, "%td blocks allocated by weft were never freed",
                 (ptrdiff_t)(live - live_before));
    if (__lsan_do_recoverable_leak_check)
        cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (see the LeakSanitizer report above)");
}

/* The test running in this process (Criterion runs one per process): where
 * weft_test_abort jumps from a coroutine's stack. */
typedef struct test_frame {
    jmp_buf back;
    pthread_t thread;
    char *stack;   /* the thread's stack: [stack, stack + size) */
    size_t size;
} test_frame;

static test_frame *running;

static bool on_test_stack(const test_frame *f)
{
    char here;
    uintptr_t a = (uintptr_t)&here, lo = (uintptr_t)f->stack;
    return !f->stack || (a >= lo && a - lo < f->size);
}

void weft_test_abort(void)
{
    test_frame *f = running;
    if (!f || !pthread_equal(pthread_self(), f->thread) || on_test_stack(f))
        criterion_abort_test();
    /* NULL: the coroutine's stack is left for good. */
    if (__sanitizer_start_switch_fiber)
        __sanitizer_start_switch_fiber(NULL, f->stack, f->size);
    longjmp(f->back, 1);
}

/* Back on the test's stack from a coroutine's: the switch is over for the
 * sanitizer, and the frames the test had below this one when it switched
 * are dead but still poisoned - cleared, as a longjmp within one stack
 * would have them. */
static __attribute__((noinline)) void landed(const test_frame *f)
{
    if (__sanitizer_finish_switch_fiber)
        __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
    if (__asan_unpoison_memory_region) {
        char here;
        __asan_unpoison_memory_region(f->stack, (size_t)(&here - f->stack));
    }
}

void weft_test_main(void (*body)(void))
{
    test_frame f = {.thread = pthread_self()};
    pthread_attr_t attr;
    if (pthread_getattr_np(f.thread, &attr) == 0) {
        void *stack;
        if (pthread_attr_getstack(&attr, &stack, &f.size) == 0)
            f.stack = stack;
        pthread_attr_destroy(&attr);
    }
    size_t live = weft_allocations_live();
    if (setjmp(f.back)) {
        running = NULL;
        landed(&f);
        criterion_abort_test();
    }
    running = &f;
    body();
    running = NULL;
    check_leaks(live);
}

weft_reactor *weft_test_reactor(void)
{
    weft_reactor *r = NULL;
    int err = weft_reactor_new(NULL, &r);
    cr_assert_eq(err, 0, "weft_reactor_new: %s", weft_strerror(err));
    return r;
}

weft_reactor *weft_test_clock(void)
{
    weft_reactor *r = NULL;
    int err = weft_clock_new(&r);
    cr_assert_eq(err, 0, "weft_clock_new: %s", weft_strerror(err));
    return r;
}

static void capture(void *arg, const weft_log_event *ev)
{
    weft_test_log *log = arg;
    if (log->count >= sizeof log->lines / sizeof log->lines[0])
        return;
    weft_log_format(ev, log->lines[log->count], sizeof log->lines[0]);
    log->levels[log->count++] = ev->level;
}

void weft_test_log_capture(weft_reactor *r, weft_test_log *log)
{
    memset(log, 0, sizeof *log);
    weft_logger *lg = weft_reactor_logger(r);
    weft_logger_remove_observer(lg, weft_log_text_observer, stderr);
    cr_assert_eq(weft_logger_add_observer(lg, capture, log, WEFT_LOG_DEBUG, NULL), 0);
}

bool weft_test_log_contains(const weft_test_log *log, const char *needle)
{
    for (size_t i = 0; i < log->count; i++)
        if (strstr(log->lines[i], needle))
            return true;
    return false;
}

size_t weft_test_each_alloc_failure(void (*fn)(void *arg), void *arg)
{
    for (uint64_t n = 1;; n++) {
        weft_fault_alloc fa = {.fail_at = n};
        weft_fault_alloc_install(&fa);
        fn(arg);
        weft_fault_alloc_remove();
        if (fa.failed == 0)
            return (size_t)n;
        cr_assert_lt(n, 100000, "fault injection did not converge");
    }
}
