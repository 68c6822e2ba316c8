/* SPDX-License-Identifier: MIT */
/* Shared test support: the leak check, reactors, log capture and the
 * fault-injection driver. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

/* LeakSanitizer's entry point, weak: present when a runtime that has it is
 * linked in (ASan in the gcc pass, LSan in the clang pass). */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static void check_leaks(size_t live_before)
{
    size_t live = weft_allocations_live();
    cr_assert_eq(live, live_before, "%td blocks allocated by weft were never freed",
                 (ptrdiff_t)(live - live_before));
    if (__lsan_do_recoverable_leak_check)
        cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (see the LeakSanitizer report above)");
}

void weft_test_main(void (*body)(void))
{
    size_t live = weft_allocations_live();
    body();
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
