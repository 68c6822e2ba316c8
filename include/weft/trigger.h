/* SPDX-License-Identifier: MIT */
/*
 * System event triggers, Twisted's addSystemEventTrigger. The reactor fires
 * two system events: "startup" when weft_reactor_run begins and "shutdown"
 * when weft_reactor_stop is called (SIGINT and SIGTERM call it by default).
 * Each event runs in three phases, in order: "before" triggers, "during"
 * triggers, "after" triggers; within a phase, in the order added.
 *
 * A "before" trigger may return a Deferred: the "during" phase waits until
 * all of them have fired, or until the reactor's shutdown_timeout passes (the
 * waits are then cancelled). Deferreds returned in other phases are not
 * waited for. The reactor stops iterating after the shutdown "after" phase.
 */
#ifndef WEFT_TRIGGER_H
#define WEFT_TRIGGER_H

#include "base.h"

typedef enum weft_phase {
    WEFT_PHASE_BEFORE,
    WEFT_PHASE_DURING,
    WEFT_PHASE_AFTER,
} weft_phase;

typedef enum weft_system_event {
    WEFT_EVENT_STARTUP,
    WEFT_EVENT_SHUTDOWN,
} weft_system_event;

/* Returns NULL or a Deferred to wait for (one reference, passing to weft). */
typedef weft_deferred *(*weft_trigger_fn)(void *arg);

/*
 * Adds a trigger; stores an id for weft_reactor_remove_trigger in *id when
 * id is not NULL. Returns 0, WEFT_EINVAL or WEFT_ENOMEM. A trigger added to
 * the phase that is running now runs in it.
 */
WEFT_API WEFT_NODISCARD int weft_reactor_add_trigger(weft_reactor *r, weft_phase phase, weft_system_event event,
                                                     weft_trigger_fn fn, void *arg, uint64_t *id);

/* Removes a trigger that has not run; WEFT_ENOENT if there is none. */
WEFT_API int weft_reactor_remove_trigger(weft_reactor *r, uint64_t id);

/*
 * A Deferred (the caller's) that fires with none during shutdown, once
 * every port and connection has ended - when the coroutines' awaits are
 * cancelled (reactor.h). What a server's main awaits to serve until Ctrl-C,
 * then free what its connections used (react.h). Cancelling it fires it
 * too, with none. NULL when out of memory.
 */
WEFT_API weft_deferred *weft_reactor_when_stopped(weft_reactor *r);

#endif
