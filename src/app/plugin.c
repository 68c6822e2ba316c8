/* SPDX-License-Identifier: MIT */
/*
 * The plugin registry (plugin_int.h). Loading is plugin_reload.c's: a
 * plugin's first build and each one after it are loaded the same way, and
 * this file is the slot's host - a weft_plugin record per build, which
 * holds what that build's init registered - and the operator's side of a
 * reload (the line it says, the console's commands).
 */
#include <stdio.h>
#include <string.h>

#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/reactor.h"
#include "plugin_int.h"

void weft__plugins_init(weft__plugins *reg)
{
    reg->first = NULL;
    reg->last = &reg->first;
}

weft_plugin *weft__plugin_rec_current(const weft__plugin_rec *rec)
{
    if (!rec->slot)
        return rec->builds;
    weft__plugin_build *b = weft__plugin_slot_current(rec->slot);
    return b ? weft__plugin_build_plugin(b) : NULL;
}

weft__plugin_rec *weft__plugins_find(const weft__plugins *reg, const char *name)
{
    for (weft__plugin_rec *rec = reg->first; rec; rec = rec->next)
        if (strcmp(weft__plugin_rec_current(rec)->entry->name, name) == 0)
            return rec;
    return NULL;
}

static const weft_command *find_command(const weft_plugin *p, const char *name)
{
    for (size_t i = 0; i < p->ncommands; i++)
        if (strcmp(p->commands[i]->name, name) == 0)
            return p->commands[i];
    return NULL;
}

const weft_command *weft__plugins_command(const weft__plugins *reg, const char *name, weft_plugin **from)
{
    for (weft__plugin_rec *rec = reg->first; rec; rec = rec->next) {
        weft_plugin *p = weft__plugin_rec_current(rec);
        const weft_command *c = find_command(p, name);
        if (c) {
            if (from)
                *from = p;
            return c;
        }
    }
    return NULL;
}

/* ---- the records: the slot's host ---- */

static void record_free(weft_plugin *p)
{
    for (size_t i = 0; i < p->nfactories; i++)
        weft_free(p->factories[i].name);
    weft_free(p->factories);
    weft_free(p->commands);
    weft_free(p);
}

static void rec_free(weft__plugin_rec *rec)
{
    weft_free(rec->path);
    weft_free(rec);
}

/* A build about to be initialised: its record, the plugin's data carried
 * over from the build serving now. A plugin's first build may not take a
 * name another plugin has. */
static weft_plugin *host_attach(void *ctx, weft__plugin_build *b, weft_failure **why)
{
    weft__plugin_rec *rec = ctx;
    const struct weft_plugin_entry *e = weft__plugin_build_entry(b);
    weft__plugin_rec *same = rec->registry ? weft__plugins_find(rec->registry, e->name) : NULL;
    if (same && same != rec) {
        *why = weft_failure_new(WEFT_EEXIST, "a plugin named %s is already loaded (from %s)", e->name,
                                same->path ? same->path : "weft itself");
        return NULL;
    }
    weft_plugin *p = weft_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    weft_plugin *now = weft__plugin_rec_current(rec);
    *p = (weft_plugin){.rec = rec, .b = b, .entry = e, .data = now ? now->data : NULL, .next = rec->builds};
    rec->builds = p;
    rec->loads++;
    return p;
}

/* After the build's fini, before it is unmapped: its commands go with it.
 * The last build of a plugin the registry has let go takes the plugin's
 * record with it. */
static void host_detach(void *ctx, weft_plugin *p)
{
    weft__plugin_rec *rec = ctx;
    for (weft_plugin **at = &rec->builds; *at; at = &(*at)->next)
        if (*at == p) {
            *at = p->next;
            break;
        }
    record_free(p);
    if (!rec->registry && !rec->builds)
        rec_free(rec);
}

/* Lets rec go: its current build ends now when no connection runs it. */
static void rec_let_go(weft__plugin_rec *rec)
{
    rec->registry = NULL;
    if (!rec->slot) {
        weft_plugin *p = rec->builds;
        if (p->entry->fini)
            p->entry->fini(p);
        record_free(p);
        rec_free(rec);
        return;
    }
    weft__plugin_slot *slot = rec->slot;
    rec->slot = NULL;
    /* The detach of rec's last build frees rec: inside this call, or when
     * the last connection running a build ends. */
    weft__plugin_slot_free(slot);
}

void weft__plugins_free(weft__plugins *reg)
{
    /* The last loaded first: a later plugin may use an earlier one's. */
    while (reg->first) {
        weft__plugin_rec **at = &reg->first;
        while ((*at)->next)
            at = &(*at)->next;
        weft__plugin_rec *rec = *at;
        *at = NULL;
        rec_let_go(rec);
    }
    reg->last = &reg->first;
}

static void join(weft__plugins *reg, weft__plugin_rec *rec)
{
    *reg->last = rec;
    reg->last = &rec->next;
}

int weft__plugin_add_builtin(weft__plugins *reg, const struct weft_plugin_entry *entry, char *why, size_t size)
{
    weft__plugin_rec *rec = weft_calloc(1, sizeof *rec);
    weft_plugin *p = rec ? weft_calloc(1, sizeof *p) : NULL;
    if (!p) {
        weft_free(rec);
        snprintf(why, size, "out of memory");
        return WEFT_ENOMEM;
    }
    *rec = (weft__plugin_rec){.registry = reg, .builds = p, .loads = 1};
    *p = (weft_plugin){.rec = rec, .entry = entry};
    int err = entry->init ? entry->init(p) : 0;
    if (err < 0) {
        snprintf(why, size, "its init failed: %s", weft_strerror(err));
        record_free(p);
        rec_free(rec);
        return err;
    }
    join(reg, rec);
    return 0;
}

int weft__plugin_load(weft__plugins *reg, const char *path, weft__plugin_rec **out, char *why, size_t size)
{
    weft__plugin_rec *rec = weft_calloc(1, sizeof *rec);
    weft__plugin_host host = {host_attach, host_detach, rec};
    if (!rec || !(rec->path = weft_strdup(path)) || !(rec->slot = weft__plugin_slot_new(NULL, &host))) {
        if (rec)
            rec_free(rec);
        snprintf(why, size, "out of memory");
        return WEFT_ENOMEM;
    }
    rec->registry = reg;
    weft_failure *f = NULL;
    int err = weft__plugin_reload(rec->slot, path, NULL, &f);
    if (err < 0) {
        snprintf(why, size, "%s", weft_failure_message(f));
        weft_failure_unref(f);
        /* The build that failed is gone already (detached): nothing holds rec. */
        weft__plugin_slot_free(rec->slot);
        rec_free(rec);
        return err;
    }
    join(reg, rec);
    if (out)
        *out = rec;
    return 0;
}

weft__version *weft__plugin_hold(weft_plugin *p)
{
    if (!p->b)
        return NULL;
    weft__version *v = weft__plugin_build_version(p->b);
    weft__version_hold(v);
    return v;
}

/* ---- what init registers ---- */

int weft_plugin_add_command(weft_plugin *p, const weft_command *c)
{
    if (!c || !c->name || !c->build == !c->run) /* one or the other */
        return WEFT_EINVAL;
    if (find_command(p, c->name))
        return WEFT_EEXIST;
    /* Another plugin's command of that name; the plugin's own builds
     * before this one do not count, the new build's commands replace
     * theirs. */
    weft__plugins *reg = p->rec->registry;
    for (weft__plugin_rec *rec = reg ? reg->first : NULL; rec; rec = rec->next)
        if (rec != p->rec && find_command(weft__plugin_rec_current(rec), c->name))
            return WEFT_EEXIST;
    const weft_command **grown = weft_realloc(p->commands, (p->ncommands + 1) * sizeof *grown);
    if (!grown)
        return WEFT_ENOMEM;
    p->commands = grown;
    p->commands[p->ncommands++] = c;
    return 0;
}

int weft_plugin_add_factory(weft_plugin *p, const char *name, weft_factory *f, const weft_handover *handover)
{
    if (p->b)
        return weft__plugin_build_add_factory(p->b, name, f, handover);
    if (!name || !f)
        return WEFT_EINVAL;
    for (size_t i = 0; i < p->nfactories; i++)
        if (strcmp(p->factories[i].name, name) == 0)
            return WEFT_EEXIST;
    weft__named_factory *grown = weft_realloc(p->factories, (p->nfactories + 1) * sizeof *grown);
    if (!grown)
        return WEFT_ENOMEM;
    p->factories = grown;
    char *copy = weft_strdup(name);
    if (!copy)
        return WEFT_ENOMEM;
    p->factories[p->nfactories++] = (weft__named_factory){copy, f, handover};
    return 0;
}

/* A loaded plugin's comes from its slot, and forwards to the newest
 * build's; the built-in plugin is never reloaded, so its own will do. */
weft_factory *weft_plugin_factory(weft_plugin *p, const char *name)
{
    if (p->b)
        return p->rec->slot ? weft__plugin_slot_factory(p->rec->slot, name) : NULL;
    for (size_t i = 0; i < p->nfactories; i++)
        if (strcmp(p->factories[i].name, name) == 0)
            return p->factories[i].factory;
    return NULL;
}

const char *weft_plugin_name(const weft_plugin *p)
{
    return p->entry->name;
}

const char *weft_plugin_version(const weft_plugin *p)
{
    return p->entry->version ? p->entry->version : "";
}

void *weft_plugin_data(const weft_plugin *p)
{
    return p->data;
}

void weft_plugin_set_data(weft_plugin *p, void *data)
{
    p->data = data;
}

/* ---- reloading, for the operator ---- */

int weft__plugin_reload_one(weft__plugin_rec *rec, weft_logger *lg, char *said, size_t size)
{
    char line[1024], name[128];
    /* Copied: the reload may unmap the build the name is in. */
    snprintf(name, sizeof name, "%s", weft__plugin_rec_current(rec)->entry->name);
    if (!rec->slot) {
        snprintf(line, sizeof line, "cannot reload %s: it is built into weft", name);
        if (said)
            snprintf(said, size, "%s", line);
        return WEFT_EINVAL;
    }
    weft__reload_report rep;
    weft_failure *why = NULL;
    int err = weft__plugin_reload(rec->slot, rec->path, &rep, &why);
    if (err < 0) {
        snprintf(line, sizeof line, "cannot reload %s from %s: %s", name, rec->path, weft_failure_message(why));
        if (lg)
            weft_log(lg, WEFT_LOG_ERROR, "weft.plugin", "cannot reload {plugin} from {path}: {why}",
                     WEFT_LOG_STR("plugin", name), WEFT_LOG_STR("path", rec->path),
                     WEFT_LOG_STR("why", weft_failure_message(why)));
        weft_failure_unref(why);
    } else {
        /* A connection whose hand-over failed stays on the old build too. */
        size_t stayed = rep.conns.stayed + rep.conns.failed;
        snprintf(line, sizeof line, "reloaded %s from %s to %s (moved %zu, stayed %zu connections)", name, rep.from,
                 rep.to, rep.conns.moved, stayed);
        if (lg)
            weft_log(lg, rep.conns.failed ? WEFT_LOG_WARN : WEFT_LOG_INFO, "weft.plugin",
                     "reloaded {plugin} from {from} to {to} (moved {moved}, stayed {stayed} connections)",
                     WEFT_LOG_STR("plugin", name), WEFT_LOG_STR("from", rep.from), WEFT_LOG_STR("to", rep.to),
                     WEFT_LOG_UINT("moved", rep.conns.moved), WEFT_LOG_UINT("stayed", stayed),
                     WEFT_LOG_UINT("handover_failed", rep.conns.failed));
    }
    if (said)
        snprintf(said, size, "%s", line);
    return err;
}

void weft__plugins_reload_all(weft__plugins *reg, weft_logger *lg)
{
    bool any = false;
    for (weft__plugin_rec *rec = reg->first; rec; rec = rec->next)
        if (rec->slot) {
            any = true;
            (void)weft__plugin_reload_one(rec, lg, NULL, 0); /* each said why */
        }
    if (!any && lg)
        weft_log(lg, WEFT_LOG_INFO, "weft.plugin", "no plugin loaded from a file: nothing to reload");
}

/* ---- the console's commands ---- */

static void console_reload(void *arg, weft_console_reply *reply, int argc, char **argv)
{
    weft__plugins *reg = arg;
    weft_logger *lg = weft_reactor_logger(weft_console_reply_reactor(reply));
    char said[1024];
    if (argc > 2) {
        weft_console_reply_error(reply, "usage: reload [NAME]");
        return;
    }
    if (argc == 2) {
        weft__plugin_rec *rec = weft__plugins_find(reg, argv[1]);
        if (!rec) {
            weft_console_reply_error(reply, "no plugin named %s", argv[1]);
            return;
        }
        if (weft__plugin_reload_one(rec, lg, said, sizeof said) < 0)
            weft_console_reply_error(reply, "%s", said);
        else {
            weft_console_reply_line(reply, "%s", said);
            weft_console_reply_ok(reply);
        }
        return;
    }
    size_t tried = 0, failed = 0;
    for (weft__plugin_rec *rec = reg->first; rec; rec = rec->next) {
        if (!rec->slot)
            continue;
        tried++;
        failed += weft__plugin_reload_one(rec, lg, said, sizeof said) < 0;
        weft_console_reply_line(reply, "%s", said);
    }
    if (failed)
        weft_console_reply_error(reply, "%zu of %zu plugins not reloaded", failed, tried);
    else {
        if (!tried)
            weft_console_reply_line(reply, "no plugin loaded from a file: nothing to reload");
        weft_console_reply_ok(reply);
    }
}

/* One line per plugin: "NAME VERSION PATH, loaded N times; builds: V (C
 * connections), ..." - the builds still mapped, newest first; "NAME
 * VERSION built-in" for the built-in one. */
static void console_plugins(void *arg, weft_console_reply *reply, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    weft__plugins *reg = arg;
    for (weft__plugin_rec *rec = reg->first; rec; rec = rec->next) {
        const weft_plugin *now = weft__plugin_rec_current(rec);
        if (!rec->slot) {
            weft_console_reply_line(reply, "%s %s built-in", now->entry->name, weft_plugin_version(now));
            continue;
        }
        char builds[512] = "";
        size_t at = 0;
        for (const weft_plugin *p = rec->builds; p && at < sizeof builds; p = p->next) {
            size_t conns = weft__plugin_build_connections(p->b);
            int n = snprintf(builds + at, sizeof builds - at, "%s%s (%zu connection%s)", at ? ", " : "",
                             weft_plugin_version(p), conns, conns == 1 ? "" : "s");
            if (n < 0)
                break;
            at += (size_t)n;
        }
        weft_console_reply_line(reply, "%s %s %s, loaded %u time%s; builds: %s", now->entry->name,
                                weft_plugin_version(now), rec->path, rec->loads, rec->loads == 1 ? "" : "s", builds);
    }
    weft_console_reply_ok(reply);
}

int weft__plugins_console_commands(weft__plugins *reg, weft_console *con)
{
    int err = weft_console_add_command(con, "reload",
                                       "reload [NAME]: load every plugin loaded from a file (or NAME) again from its "
                                       "file; open connections move where the plugin hands them over",
                                       console_reload, reg);
    if (err == 0)
        err = weft_console_add_command(con, "plugins",
                                       "plugins: each plugin's name, version and file, and its builds still loaded "
                                       "with their connections",
                                       console_plugins, reg);
    return err;
}
