/* SPDX-License-Identifier: MIT */
/*
 * Plugins for the weft command, after twisted.plugin and twist's
 * subcommands. A plugin is a shared object exporting one symbol,
 * `weft_plugin_entry` (WEFT_PLUGIN_DEFINE writes it), a struct whose first
 * member is the ABI version it was built against: the runner reads that
 * number before calling anything, and refuses an object built for another.
 * The entry's init registers commands (subcommands of `weft`) and named
 * factories. Built-in subcommands (web, echo, portforward) register the same
 * way, from inside the weft binary.
 *
 *     static int init(weft_plugin *p)
 *     {
 *         return weft_plugin_add_command(p, &lines_command);
 *     }
 *     WEFT_PLUGIN_DEFINE("lines", "1.0", init, NULL);
 *
 * Reloading (`weft ctl reload NAME`, SIGHUP) maps the plugin's new build
 * beside the old one and calls its init. New connections then run the new
 * code: the factory a command got from weft_plugin_factory forwards to the
 * newest version's factory of that name. Open connections either finish on
 * the old code - the old object stays mapped until its last connection
 * closes, then its fini runs and it is unloaded - or, when the factory was
 * registered with a hand-over, move to the new code with their state. A
 * reload that fails (no entry symbol, another ABI, init failing) leaves the
 * old version serving and says why.
 *
 * Ownership: the runner owns loaded plugins; what init registers is
 * borrowed from the plugin's object and must live as long as it is mapped
 * (static storage, or freed in fini).
 */
#ifndef WEFT_PLUGIN_H
#define WEFT_PLUGIN_H

#include "base.h"
#include "failure.h"
#include "protocol.h"
#include "service.h"

/* Bumped whenever a struct here, or any call a plugin makes, changes
 * incompatibly. */
#define WEFT_PLUGIN_ABI 1

typedef struct weft_plugin weft_plugin; /* one loaded version of a plugin */
typedef struct weft_runner weft_runner; /* the weft command while it runs */
typedef struct weft_args weft_args;     /* a command's parsed options */
struct weft_plugin_entry;

/* One option of a command, for parsing and for --help. */
typedef struct weft_option {
    const char *name;  /* long name: "listen" for --listen */
    char letter;       /* short name, or 0 */
    const char *value; /* the value's name in the help ("ENDPOINT"), or NULL for a flag */
    const char *help;  /* one line; "(repeatable)" and defaults said here */
} weft_option;

/* A subcommand: `weft NAME [OPTIONS]`. */
typedef struct weft_command {
    const char *name;
    const char *summary;     /* one line, for `weft --help` */
    const char *description; /* a paragraph for `weft NAME --help`, or NULL */
    const weft_option *options; /* ends with a zeroed entry; the runner adds its own (--help, logging, ...) */
    /* Builds the command's services under `top` (the runner starts them).
     * Returns 0, or an exit status having said why on stderr: 2 for bad
     * usage, 1 for a failure. */
    int (*build)(weft_runner *rn, weft_service *top, const weft_args *args);
    /* Instead of build, for a tool that serves nothing (`weft ctl`): run
     * with the words from the command's name on (argv[0] is the name),
     * parsing them itself; returns the exit status. NULL for services. */
    int (*run)(int argc, char **argv);
} weft_command;

/* The last value given for option `name`, or `fallback`. */
WEFT_API const char *weft_args_get(const weft_args *a, const char *name, const char *fallback);
/* Every value given for a repeatable option, in order; *n their count. */
WEFT_API const char *const *weft_args_all(const weft_args *a, const char *name, size_t *n);
/* Whether a flag (or any option) was given. */
WEFT_API bool weft_args_has(const weft_args *a, const char *name);

/* The runner's reactor. */
WEFT_API weft_reactor *weft_runner_reactor(const weft_runner *rn);
/* The plugin whose command runs (its build the command came from): what a
 * command's build asks for its factories (weft_plugin_factory). */
WEFT_API weft_plugin *weft_runner_plugin(const weft_runner *rn);

/*
 * The weft command's main: `PROG [RUNNER OPTIONS] COMMAND [OPTIONS]`, the
 * runner's options accepted after the command too. Registers `builtin`'s
 * commands, loads the plugins (--plugin, WEFT_PLUGIN_PATH, the install's
 * plugin directory), parses the command's options, builds its services
 * under one top service, binds them, drops privileges, starts them and runs
 * the reactor until SIGINT or SIGTERM, then stops them within --grace.
 * SIGHUP reloads every plugin loaded from a file, from its path.
 * Returns the exit status: 0, 1 for a failure, 2 for bad usage.
 */
WEFT_API int weft_runner_main(int argc, char **argv, const struct weft_plugin_entry *builtin);

/* Moving a connection's state from the old code to the new at a reload. */
typedef struct weft_handover {
    /* In the old code: the protocol's state as bytes (*state from
     * weft_alloc; the runner frees it). 0 or a negative code: then the
     * connection stays on the old code. */
    int (*save)(weft_protocol *p, void **state, size_t *len);
    /* In the new code: the protocol that goes on with that state on the
     * same transport, or NULL (the connection stays on the old code). */
    weft_protocol *(*restore)(weft_factory *f, const void *state, size_t len);
} weft_handover;

/* What init may register. The command and the factory are borrowed (see
 * above); `handover` may be NULL. 0, WEFT_ENOMEM or WEFT_EEXIST. */
WEFT_API int weft_plugin_add_command(weft_plugin *p, const weft_command *c);
WEFT_API int weft_plugin_add_factory(weft_plugin *p, const char *name, weft_factory *f, const weft_handover *handover);

/* A factory that outlives reloads: it builds each protocol with the newest
 * version's factory registered as `name`, and keeps that version mapped
 * while the protocol's connection is open. NULL when no version registered
 * it. Owned by the runner. */
WEFT_API weft_factory *weft_plugin_factory(weft_plugin *p, const char *name);

WEFT_API const char *weft_plugin_name(const weft_plugin *p);
WEFT_API const char *weft_plugin_version(const weft_plugin *p);
/* The plugin's own pointer, kept across reloads (init sets it). */
WEFT_API void *weft_plugin_data(const weft_plugin *p);
WEFT_API void weft_plugin_set_data(weft_plugin *p, void *data);

/* The entry: a struct with no typedef, since the object a plugin exports
 * has the name weft_plugin_entry itself. */
struct weft_plugin_entry {
    unsigned abi; /* WEFT_PLUGIN_ABI: first, always */
    const char *name;
    const char *version;
    int (*init)(weft_plugin *p);  /* 0 or a negative code */
    void (*fini)(weft_plugin *p); /* before the object is unloaded; may be NULL */
};

#define WEFT_PLUGIN_ENTRY_SYMBOL "weft_plugin_entry"
#define WEFT_PLUGIN_DEFINE(name_, version_, init_, fini_)                                                        \
    WEFT_API const struct weft_plugin_entry weft_plugin_entry = {                                                     \
        .abi = WEFT_PLUGIN_ABI, .name = (name_), .version = (version_), .init = (init_), .fini = (fini_)}

#endif
