/* SPDX-License-Identifier: MIT */
/*
 * The plugin registry (plugin.h): the plugins the runner has loaded, the
 * built-in one first, and what each registered. One function loads a
 * shared object and returns its weft_plugin, so that a reload can load a
 * plugin's new build the same way.
 */
#ifndef WEFT_APP_PLUGIN_INT_H
#define WEFT_APP_PLUGIN_INT_H

#include "weft/plugin.h"

typedef struct weft__plugins weft__plugins;

/* A factory a plugin registered by name. */
typedef struct weft__named_factory {
    char *name;                    /* copied */
    weft_factory *factory;         /* borrowed from the plugin's object */
    const weft_handover *handover; /* borrowed; NULL: connections stay on their code */
} weft__named_factory;

/* One loaded version of a plugin. */
struct weft_plugin {
    weft__plugins *registry;        /* the registry it is in (checks names across plugins) */
    const struct weft_plugin_entry *entry; /* its entry symbol, inside the object (or the binary, built in) */
    char *path;                     /* the object it came from; NULL when built in */
    void *handle;                   /* dlopen's handle; NULL when built in */
    const weft_command **commands;  /* what init registered, borrowed from the object, in order */
    size_t ncommands;
    weft__named_factory *factories;
    size_t nfactories;
    void *data;        /* weft_plugin_set_data's */
    bool initialised;  /* init returned 0: fini is owed */
    weft_plugin *next; /* in load order */
};

struct weft__plugins {
    weft_plugin *first;
    weft_plugin **last; /* where the next one goes */
};

void weft__plugins_init(weft__plugins *reg);
/* Finishes and unloads every plugin, the last loaded first (their fini
 * runs, then dlclose). Nothing they registered may be in use by then. */
void weft__plugins_free(weft__plugins *reg);

/*
 * Loads the shared object at `path` (RTLD_NOW | RTLD_LOCAL), reads its
 * entry symbol's ABI before calling anything, and runs its init; the
 * plugin joins the registry. 0 with *out set (may be NULL), or a negative
 * code with the object unloaded and `why` (size bytes) saying why, for
 * people, without the path: "no weft_plugin_entry symbol (not a weft
 * plugin)", "built for plugin ABI 2, this weft has 1", "its init failed:
 * ...", "a plugin named X is already loaded (from Y)", dlerror's text.
 */
int weft__plugin_load(weft__plugins *reg, const char *path, weft_plugin **out, char *why, size_t size);

/* The same for an entry inside the program (the built-in commands). */
int weft__plugin_add_builtin(weft__plugins *reg, const struct weft_plugin_entry *entry, char *why, size_t size);

/* The plugin named `name`, or NULL. */
weft_plugin *weft__plugins_find(const weft__plugins *reg, const char *name);
/* The command named `name` (and in *from, when not NULL, its plugin), or
 * NULL. */
const weft_command *weft__plugins_command(const weft__plugins *reg, const char *name, weft_plugin **from);

#endif
