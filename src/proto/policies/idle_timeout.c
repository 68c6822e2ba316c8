/* SPDX-License-Identifier: MIT */
/* TimeoutMixin: one timer, reset in place (reset never allocates). */
#include "weft/error.h"
#include "weft/policies.h"

static void fire(void *arg)
{
    weft_idle_timeout *t = arg;
    t->timer.id = 0;
    t->expired(t);
}

int weft_idle_timeout_set(weft_idle_timeout *t, weft_reactor *r, double seconds, void (*expired)(weft_idle_timeout *t))
{
    weft_idle_timeout_cancel(t);
    t->r = r;
    t->period = seconds;
    t->expired = expired;
    if (seconds <= 0)
        return 0;
    return weft_call_later(r, seconds, fire, t, &t->timer);
}

void weft_idle_timeout_reset(weft_idle_timeout *t)
{
    /* As Twisted: once expired (or cancelled), a reset does not re-arm. */
    if (t->period > 0)
        weft_timer_reset(t->r, t->timer, t->period);
}

void weft_idle_timeout_cancel(weft_idle_timeout *t)
{
    if (t->r)
        weft_timer_cancel(t->r, t->timer);
    t->timer.id = 0;
}
