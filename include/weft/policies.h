/* SPDX-License-Identifier: MIT */
/*
 * Policies, after twisted.protocols.policies: factories that wrap another
 * factory's protocols (wrapper.h) to time out idle connections
 * (TimeoutFactory), limit bandwidth (ThrottlingFactory) or log traffic
 * (TrafficLoggingFactory); and weft_idle_timeout, TimeoutMixin for a
 * protocol of one's own. Connection limits are on the wrapping factory
 * (wrapping_factory.h). Timers run on the reactor's clock, fake or real.
 */
#ifndef WEFT_POLICIES_H
#define WEFT_POLICIES_H

#include "base.h"
#include "protocol.h"
#include "timer.h"

/* ---- TimeoutMixin ---- */

typedef struct weft_idle_timeout weft_idle_timeout;
struct weft_idle_timeout {
    weft_reactor *r;
    double period;
    weft_timer timer;
    void (*expired)(weft_idle_timeout *t);
};

/* (Re)arms: `expired` runs after `seconds` without a reset; 0 or less
 * disarms (setTimeout). Returns 0 or WEFT_ENOMEM. */
WEFT_API int weft_idle_timeout_set(weft_idle_timeout *t, weft_reactor *r, double seconds,
                                   void (*expired)(weft_idle_timeout *t));
/* Activity: starts the period again (resetTimeout). */
WEFT_API void weft_idle_timeout_reset(weft_idle_timeout *t);
WEFT_API void weft_idle_timeout_cancel(weft_idle_timeout *t);

/* ---- wrapping factories ---- */

typedef struct weft_policy_factory weft_policy_factory;

/* Closes connections idle (nothing read or written) for `seconds`. */
WEFT_API weft_policy_factory *weft_timeout_factory_new(weft_reactor *r, weft_factory *inner, double seconds);

/* Limits all its connections together to these many bytes per second read
 * and written (0: no limit), measured each second as Twisted does: a second
 * over the limit pauses reading (or writing) for as long as the excess takes
 * at the limit. */
WEFT_API weft_policy_factory *weft_throttling_factory_new(weft_reactor *r, weft_factory *inner, double read_bps,
                                                          double write_bps);

/* Logs every chunk read and written (at DEBUG, in `ns`, with the peer and a
 * printable excerpt), and each connection's start and end at INFO. */
WEFT_API weft_policy_factory *weft_traffic_logging_factory_new(weft_reactor *r, weft_factory *inner, const char *ns);

/* The factory to listen or connect with. */
WEFT_API weft_factory *weft_policy_factory_base(weft_policy_factory *pf);

/* Connections open now. */
WEFT_API size_t weft_policy_factory_count(const weft_policy_factory *pf);

/* Frees it once its last connection is gone (at once if none). `inner` must
 * live until then. NULL does nothing. */
WEFT_API void weft_policy_factory_free(weft_policy_factory *pf);

#endif
