/* SPDX-License-Identifier: MIT */
/*
 * The plugin registry (plugin.h): the plugins the runner holds, the
 * built-in one first, and what each registered. A plugin loaded from a
 * file has a slot (plugin_reload.h) and one weft_plugin record per build
 * still mapped - the slot's host attaches one for each build and detaches
 * it before the build is unmapped - so that its first load, `--plugin`,
 * and every reload after it (SIGHUP, the console's `reload`) go one way:
 * weft__plugin_reload, from a memfd copy of the file.
 *
 * The registry belongs to the reactor's thread.
 */
#ifndef WEFT_APP_PLUGIN_INT_H
#define WEFT_APP_PLUGIN_INT_H

#include "weft/console.h"
#include "weft/log.h"
#include "weft/plugin.h"
#include "plugin_reload.h"

typedef struct weft__plugins weft__plugins;
typedef struct weft__plugin_rec weft__plugin_rec;

/* A factory the built-in plugin registered by name (a loaded plugin's go
 * to its slot, which keeps them across builds). */
typedef struct weft__named_factory {
    char *name;                    /* copied */
    weft_factory *factory;         /* borrowed from the program */
    const weft_handover *handover; /* borrowed; unused: the built-in plugin is never reloaded */
} weft__named_factory;

/* One build's record, what its init and fini are given. */
struct weft_plugin {
    weft__plugin_rec *rec;                 /* the plugin it is a build of */
    weft__plugin_build *b;                 /* NULL when built in */
    const struct weft_plugin_entry *entry; /* inside the build's object (or the program, built in) */
    const weft_command **commands;         /* what init registered, borrowed from the build, in order */
    size_t ncommands;
    weft__named_factory *factories; /* the built-in plugin's only */
    size_t nfactories;
    void *data;        /* weft_plugin_set_data's; carried to the next build */
    weft_plugin *next; /* the plugin's live builds, newest first */
};

/* One plugin: built in, or loaded from a file across its builds. */
struct weft__plugin_rec {
    weft__plugins *registry;  /* NULL once the registry is freed while one of its builds still runs */
    char *path;               /* the file it is loaded and reloaded from; NULL when built in */
    weft__plugin_slot *slot;  /* NULL when built in */
    weft_plugin *builds;      /* the built-in's one record, or each build still mapped, newest first */
    unsigned loads;           /* builds that got as far as init, the first one included */
    weft__plugin_rec *next;   /* in load order */
};

struct weft__plugins {
    weft__plugin_rec *first;
    weft__plugin_rec **last; /* where the next one goes */
};

void weft__plugins_init(weft__plugins *reg);
/* Lets every plugin go, the last loaded first: a build with no connection
 * left is finished (fini) and unmapped now, one still running code when
 * its last connection ends. Stop the ports first. */
void weft__plugins_free(weft__plugins *reg);

/*
 * Loads the plugin at `path` (weft__plugin_reload into a new slot): its
 * entry's ABI is read before anything of it runs, then its init; the
 * plugin joins the registry. 0 with *out set (out may be NULL), or a
 * negative code - WEFT_EEXIST when a plugin of its name is loaded already
 * - with nothing of it left and `why` (size bytes) saying why, for people,
 * without the path: "no weft_plugin_entry symbol (not a weft plugin)",
 * "built for plugin ABI 2, this weft has 1", "its init failed: ...", "a
 * plugin named X is already loaded (from Y)", "cannot load it: ...".
 */
int weft__plugin_load(weft__plugins *reg, const char *path, weft__plugin_rec **out, char *why, size_t size);

/* The same for an entry inside the program (the built-in commands). */
int weft__plugin_add_builtin(weft__plugins *reg, const struct weft_plugin_entry *entry, char *why, size_t size);

/* The plugin named `name`, or NULL. */
weft__plugin_rec *weft__plugins_find(const weft__plugins *reg, const char *name);
/* The build serving now. */
weft_plugin *weft__plugin_rec_current(const weft__plugin_rec *rec);
/* The command named `name` among the plugins' current builds (and in
 * *from, when not NULL, its build), or NULL. */
const weft_command *weft__plugins_command(const weft__plugins *reg, const char *name, weft_plugin **from);

/* Holds p's build mapped, whatever reloads come, until weft__version_drop
 * of the answer: for the services its command made, which may run its
 * code. NULL (nothing to drop) when p is built in. */
weft__version *weft__plugin_hold(weft_plugin *p);

/*
 * Reloads `rec` from its file. Says one line, logged on `lg` (namespace
 * weft.plugin; lg may be NULL) and copied to `said` (size bytes; may be
 * NULL): "reloaded NAME from V1 to V2 (moved M, stayed S connections)",
 * or "cannot reload NAME from PATH: WHY" with the old build serving on.
 * 0 or a negative code.
 */
int weft__plugin_reload_one(weft__plugin_rec *rec, weft_logger *lg, char *said, size_t size);
/* Every plugin loaded from a file, each from its path (SIGHUP); with none,
 * says so. */
void weft__plugins_reload_all(weft__plugins *reg, weft_logger *lg);

/* Adds the console's `reload [NAME]` (every plugin loaded from a file, or
 * NAME's) and `plugins` (each plugin: name, version, path, its live builds
 * with their connections). 0 or WEFT_ENOMEM. reg must outlive con. */
int weft__plugins_console_commands(weft__plugins *reg, weft_console *con);

#endif
