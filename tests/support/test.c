/* SPDX-License-Identifier: MIT */
/* Shared test support: the leak check, reactors, log capture and the
 * fault-injection driver. */
#include <stdio.h>
#include <string.h>

#include "test.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_HAVE_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_HAVE_LSAN 1
#endif

#ifdef WEFT_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

void weft_test_check_leaks(void)
{
#ifdef WEFT_HAVE_LSAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (see the LeakSanitizer report above)");
#endif
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
