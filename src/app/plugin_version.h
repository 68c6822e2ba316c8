/* SPDX-License-Identifier: MIT */
/*
 * What a reload stands on (plugin.h), apart from loading: versions and the
 * factories that outlive them.
 *
 * A version is one loaded build of a plugin, counted: the loader holds it
 * while it is the plugin's current build, a versioned factory holds the
 * version it builds with, and every connection holds the version whose
 * code it runs. When the last holder lets go, its release runs - where the
 * loader calls the plugin's fini and unloads the object.
 *
 * A versioned factory is the stable weft_factory a command listens with
 * (weft_plugin_factory's answer). Each connection's protocol is the
 * current version factory's, inside a small wrapper that forwards every
 * event to it and holds the version until the transport destroys the
 * wrapper (after the inner protocol's own destroy and release have
 * returned, so no code of the version is on the stack then). A wrapper,
 * not a hook on the protocol: it needs no global table to find a
 * protocol's version, leaves the protocol's fields (factory, release) as
 * its factory set them, and is the list of open connections a hand-over
 * walks; it costs an allocation per connection and a call per event.
 * weft_transport_protocol answers the wrapper; the inner protocol's own
 * transport is the connection's.
 *
 * Switching to a new version: new connections run the new code. Each open
 * connection moves when the factory it was built with has a hand-over's
 * save and the new one a restore: save in the old code, restore in the
 * new; the connection's wrapper then forwards to the restored protocol and
 * holds the new version, and the old protocol is destroyed without
 * connection_lost (its connection goes on). The wrapper, not the
 * transport, changes protocol: it may itself be inside another wrapper (a
 * server service counts its connections with one), which
 * weft_transport_set_protocol would replace instead. A
 * connection whose save or restore fails, or that is closing, stays on the
 * old code, as do all of them when either side has no hand-over.
 *
 * Everything here belongs to the reactor's thread.
 */
#ifndef WEFT_APP_PLUGIN_VERSION_H
#define WEFT_APP_PLUGIN_VERSION_H

#include "weft/plugin.h"

typedef struct weft__version weft__version;
typedef struct weft__vfactory weft__vfactory;

/* A version held once, by the caller. release(arg) runs once, inside the
 * call that lets go of the last hold, and the version is freed after it.
 * NULL when out of memory. */
weft__version *weft__version_new(weft_call_fn release, void *arg);
void weft__version_hold(weft__version *v);
void weft__version_drop(weft__version *v);

/* Connections running this version's code now. */
size_t weft__version_connections(const weft__version *v);

/* A versioned factory with no version yet: it refuses connections until
 * weft__vfactory_switch gives it one. NULL when out of memory. Free it
 * whenever: connections still open keep their version and forget it. */
weft__vfactory *weft__vfactory_new(void);
void weft__vfactory_free(weft__vfactory *vf);
weft_factory *weft__vfactory_base(weft__vfactory *vf);

/* What a switch did to the open connections. */
typedef struct weft__switch_report {
    size_t moved;  /* restored onto the new code */
    size_t stayed; /* left on their code: no hand-over, or closing */
    size_t failed; /* left on their code: save or restore failed */
} weft__switch_report;

/*
 * New connections are built from now on with f (borrowed from v's code),
 * which runs v's code: v is held as long as this factory builds with it or
 * a connection runs it. handover may be NULL. f is started (doStart) now,
 * and stopped once this factory no longer builds with it and its last
 * connection has ended, before its version is let go. Open connections
 * move as the header says; *report (may be NULL) counts them. Not from
 * inside an event of a connection it may move: the old protocol is
 * destroyed here.
 */
void weft__vfactory_switch(weft__vfactory *vf, weft__version *v, weft_factory *f, const weft_handover *handover,
                           weft__switch_report *report);

/* The version new connections get now, or NULL. */
weft__version *weft__vfactory_version(const weft__vfactory *vf);

#endif
