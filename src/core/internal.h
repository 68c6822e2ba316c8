/* SPDX-License-Identifier: MIT */
/*
 * What src/core offers the layers above it beyond the public API: hooks the
 * async layer sets on a reactor, and helpers every layer uses. Layers only
 * look down: nothing in src/core includes anything from above.
 */
#ifndef WEFT_CORE_INTERNAL_H
#define WEFT_CORE_INTERNAL_H

#include "weft/base.h"
#include "weft/reactor.h"

/* The async layer drives system events (trigger.h) through this hook: the
 * core calls fire(state, event) when "startup" or "shutdown" begins; for
 * shutdown, the hook calls weft__reactor_crash once its phases are done.
 * free(state) runs when the reactor is freed. */
typedef struct weft__reactor_hook {
    void (*fire)(void *state, int event);
    void (*free)(void *state);
    void *state;
} weft__reactor_hook;

/* The hook's state, or NULL when none is set. */
void *weft__reactor_hook_state(weft_reactor *r);
void weft__reactor_set_hook(weft_reactor *r, const weft__reactor_hook *hook);

/* Ends run at the end of this iteration, with no more system events. */
void weft__reactor_crash(weft_reactor *r);

double weft__reactor_shutdown_timeout(const weft_reactor *r);

/* The reactor's time in integer nanoseconds, for code that must not round. */
int64_t weft__reactor_now_ns(const weft_reactor *r);

/* Converts seconds to nanoseconds, clamping to a century; 0 for negatives.
 * WEFT_EINVAL for NaN. */
int weft__seconds_to_ns(double seconds, int64_t *out);

#define WEFT__CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
