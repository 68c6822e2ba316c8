/* SPDX-License-Identifier: MIT */
/*
 * The plugin registry and loader (plugin_int.h). A plugin is refused
 * before any of its code runs when its entry is missing or built for
 * another ABI; its init runs only then, and a failing init unloads it
 * again with nothing of it left registered.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "weft/alloc.h"
#include "weft/error.h"
#include "plugin_int.h"

void weft__plugins_init(weft__plugins *reg)
{
    reg->first = NULL;
    reg->last = &reg->first;
}

weft_plugin *weft__plugins_find(const weft__plugins *reg, const char *name)
{
    for (weft_plugin *p = reg->first; p; p = p->next)
        if (strcmp(p->entry->name, name) == 0)
            return p;
    return NULL;
}

const weft_command *weft__plugins_command(const weft__plugins *reg, const char *name, weft_plugin **from)
{
    for (weft_plugin *p = reg->first; p; p = p->next)
        for (size_t i = 0; i < p->ncommands; i++)
            if (strcmp(p->commands[i]->name, name) == 0) {
                if (from)
                    *from = p;
                return p->commands[i];
            }
    return NULL;
}

/* Frees what p holds; runs fini first when init had succeeded. */
static void plugin_free(weft_plugin *p)
{
    if (p->initialised && p->entry->fini)
        p->entry->fini(p);
    for (size_t i = 0; i < p->nfactories; i++)
        weft_free(p->factories[i].name);
    weft_free(p->factories);
    weft_free(p->commands);
    if (p->handle)
        dlclose(p->handle);
    weft_free(p->path);
    weft_free(p);
}

void weft__plugins_free(weft__plugins *reg)
{
    /* The last loaded first: a later plugin may use an earlier one's. */
    while (reg->first) {
        weft_plugin **at = &reg->first;
        while ((*at)->next)
            at = &(*at)->next;
        plugin_free(*at);
        *at = NULL;
    }
    reg->last = &reg->first;
}

/* Runs init and joins the registry, or frees p with why said. */
static int join(weft__plugins *reg, weft_plugin *p, char *why, size_t size)
{
    weft_plugin *same = weft__plugins_find(reg, p->entry->name);
    if (same) {
        snprintf(why, size, "a plugin named %s is already loaded (from %s)", p->entry->name,
                 same->path ? same->path : "weft itself");
        plugin_free(p);
        return WEFT_EEXIST;
    }
    p->registry = reg;
    int err = p->entry->init ? p->entry->init(p) : 0;
    if (err < 0) {
        snprintf(why, size, "its init failed: %s", weft_strerror(err));
        plugin_free(p);
        return err;
    }
    p->initialised = true;
    *reg->last = p;
    reg->last = &p->next;
    return 0;
}

int weft__plugin_add_builtin(weft__plugins *reg, const struct weft_plugin_entry *entry, char *why, size_t size)
{
    weft_plugin *p = weft_calloc(1, sizeof *p);
    if (!p) {
        snprintf(why, size, "out of memory");
        return WEFT_ENOMEM;
    }
    p->entry = entry;
    return join(reg, p, why, size);
}

int weft__plugin_load(weft__plugins *reg, const char *path, weft_plugin **out, char *why, size_t size)
{
    weft_plugin *p = weft_calloc(1, sizeof *p);
    if (!p || !(p->path = weft_strdup(path))) {
        weft_free(p);
        snprintf(why, size, "out of memory");
        return WEFT_ENOMEM;
    }
    /* Its constructors run here: a plugin has nothing of its own to do
     * before init, and C has none unless asked for. */
    if (!(p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        const char *e = dlerror();
        snprintf(why, size, "cannot load it: %s", e ? e : "dlopen failed");
        plugin_free(p);
        return WEFT_EINVAL;
    }
    p->entry = dlsym(p->handle, WEFT_PLUGIN_ENTRY_SYMBOL);
    if (!p->entry) {
        snprintf(why, size, "no %s symbol (not a weft plugin)", WEFT_PLUGIN_ENTRY_SYMBOL);
        plugin_free(p);
        return WEFT_EINVAL;
    }
    /* The ABI number first: nothing else of the entry means anything
     * until it matches. */
    if (p->entry->abi != WEFT_PLUGIN_ABI) {
        snprintf(why, size, "built for plugin ABI %u, this weft has %u", p->entry->abi, (unsigned)WEFT_PLUGIN_ABI);
        p->entry = NULL;
        plugin_free(p);
        return WEFT_EINVAL;
    }
    if (!p->entry->name || !*p->entry->name) {
        snprintf(why, size, "its entry has no name");
        plugin_free(p);
        return WEFT_EINVAL;
    }
    int err = join(reg, p, why, size);
    if (err == 0 && out)
        *out = p;
    return err;
}

int weft_plugin_add_command(weft_plugin *p, const weft_command *c)
{
    if (!c || !c->name || (!c->build == !c->run))
        return WEFT_EINVAL;
    if (weft__plugins_command(p->registry, c->name, NULL))
        return WEFT_EEXIST;
    for (size_t i = 0; i < p->ncommands; i++)
        if (strcmp(p->commands[i]->name, c->name) == 0)
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

/* Without reloading yet, the factory registered under that name (the
 * reload's forwarding factory takes this place). */
weft_factory *weft_plugin_factory(weft_plugin *p, const char *name)
{
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
