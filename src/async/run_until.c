/* SPDX-License-Identifier: MIT */
/* Running a reactor until a Deferred has a result, for tests, examples and
 * main functions. The deadline is real time even on a fake clock, so a test
 * waiting on a fake-clock reactor still ends. */
#include <time.h>

#include "../core/internal.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/reactor.h"

static double real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A timer may fire d in the timer step of an iteration whose poll would
 * then sleep with nothing left to wake it: d's firing wakes the poll. */
static weft_result wake(void *arg, weft_result result)
{
    weft__reactor_wake(arg);
    return result;
}

int weft_reactor_run_until(weft_reactor *r, weft_deferred *d, double timeout)
{
    if (!weft_deferred_peek(d, NULL) && weft_deferred_add_both(d, wake, r) < 0)
        return WEFT_ENOMEM;
    double deadline = timeout >= 0 ? real_now() + timeout : 0;
    while (!weft_deferred_peek(d, NULL)) {
        double wait = -1;
        if (timeout >= 0) {
            wait = deadline - real_now();
            if (wait <= 0)
                return WEFT_ETIMEDOUT;
        }
        int err = weft_reactor_iterate(r, wait);
        if (err < 0)
            return err;
    }
    return 0;
}
