/* SPDX-License-Identifier: MIT */
/*
 * Loading a plugin's build, and loading its next build while the old one
 * serves (plugin.h). The loader (plugin.c: --plugin, WEFT_PLUGIN_PATH, the
 * registry of commands) keeps one slot per plugin and calls
 * weft__plugin_reload for its first build and for every reload after; its
 * weft_plugin_add_factory and weft_plugin_factory land here
 * (weft__plugin_build_add_factory, weft__plugin_slot_factory).
 *
 * A build is mapped from a private copy: the file's bytes go to an
 * anonymous memory file (memfd) which is what dlopen maps. dlopen keeps one
 * object per path name, so opening a path again after the file was
 * replaced (an install, a rebuild) would answer the object already mapped,
 * and a file rewritten in place under a mapping crashes the process; from
 * a copy, every load is a new object, the file may change or go the moment
 * it is loaded, and no temporary file is left anywhere (a noexec /tmp does
 * not matter). In /proc/self/maps a build shows as /memfd:weft-plugin
 * (deleted), with its own inode (weft__plugin_build_inode).
 *
 * Everything here belongs to the reactor's thread.
 */
#ifndef WEFT_APP_PLUGIN_RELOAD_H
#define WEFT_APP_PLUGIN_RELOAD_H

#include <sys/types.h>

#include "plugin_version.h"

typedef struct weft__plugin_slot weft__plugin_slot;   /* a plugin across its builds */
typedef struct weft__plugin_build weft__plugin_build; /* one loaded build */

/* What the loader lends a load: its registry record (weft_plugin) for each
 * build, which init and fini are given. */
typedef struct weft__plugin_host {
    /* A record for build b, about to be initialised (its registrations
     * reach b through weft__plugin_build_add_factory), or NULL with *why
     * saying why the build may not join (another plugin has its name; out
     * of memory). */
    weft_plugin *(*attach)(void *ctx, weft__plugin_build *b, weft_failure **why);
    /* Frees that record: after the build's fini, before it is unmapped. */
    void (*detach)(void *ctx, weft_plugin *p);
    void *ctx;
} weft__plugin_host;

/* An empty slot for the plugin `name` (copied; NULL: whatever the first
 * build is called). The host is copied. NULL when out of memory. */
weft__plugin_slot *weft__plugin_slot_new(const char *name, const weft__plugin_host *host);

/* Frees the slot and its factories. Its current build is let go: it is
 * finished (fini) and unmapped once its last connection has ended - at
 * once when none is open. */
void weft__plugin_slot_free(weft__plugin_slot *s);

/* What a reload did. */
typedef struct weft__reload_report {
    char from[64], to[64];      /* the versions (cut short); from is empty at a first load */
    weft__switch_report conns;  /* the open connections, every factory together */
} weft__reload_report;

/*
 * Loads the build at `path` into the slot, as its first build or as the
 * next: maps a copy of the file (above), reads weft_plugin_entry and checks
 * its ABI before calling anything, runs its init, then makes its factories
 * the ones the slot's versioned factories build with (each open connection
 * moved with its state where both builds' factories have a hand-over, left
 * on the old build otherwise). The old build stays mapped while a
 * connection runs its code; then its fini runs, the host detaches it and
 * it is unmapped.
 *
 * On failure nothing changes - the old build goes on serving - and *why
 * (the caller's) says why, for people, without the path (the caller names
 * the file): no such file, not a shared object or a symbol it needs
 * missing (dlerror's words), no weft_plugin_entry, another ABI, another
 * plugin's name, the host refusing it, init failing (its code), or a
 * factory the old build registered that the new one does not (connections
 * would have nothing to go on with). Returns 0 (and *report, which may be
 * NULL) or a negative code, the failure's.
 */
int weft__plugin_reload(weft__plugin_slot *s, const char *path, weft__reload_report *report, weft_failure **why);

/* The build serving now, or NULL before the first load. */
weft__plugin_build *weft__plugin_slot_current(const weft__plugin_slot *s);

/* The factory that outlives reloads for `name` (weft_plugin_factory): NULL
 * when no build registered it. Owned by the slot. */
weft_factory *weft__plugin_slot_factory(weft__plugin_slot *s, const char *name);

/* For weft_plugin_add_factory: records (name, f, handover) for the build
 * being initialised (name copied; f and handover borrowed from the build's
 * code). 0, WEFT_ENOMEM, WEFT_EEXIST (the build registered that name
 * already), WEFT_EINVAL (outside its init). */
int weft__plugin_build_add_factory(weft__plugin_build *b, const char *name, weft_factory *f,
                                   const weft_handover *handover);

const struct weft_plugin_entry *weft__plugin_build_entry(const weft__plugin_build *b);
weft_plugin *weft__plugin_build_plugin(const weft__plugin_build *b);
weft__plugin_slot *weft__plugin_build_slot(const weft__plugin_build *b);
/* The build's count (plugin_version.h): what else runs its code holds it
 * - the runner, for the services a command of this build made, whose
 * functions may be the build's - and it stays mapped until let go. */
weft__version *weft__plugin_build_version(const weft__plugin_build *b);
/* Connections running the build's code now. */
size_t weft__plugin_build_connections(const weft__plugin_build *b);
/* The inode of its memory file: how it shows in /proc/self/maps. */
ino_t weft__plugin_build_inode(const weft__plugin_build *b);

#endif
