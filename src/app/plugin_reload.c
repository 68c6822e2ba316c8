/* SPDX-License-Identifier: MIT */
/*
 * Loading a plugin's build from a private copy, and switching a plugin's
 * factories to its next build while the old one serves
 * (plugin_reload.h).
 */
#define _GNU_SOURCE /* memfd_create */
#include "plugin_reload.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weft/alloc.h"
#include "weft/error.h"

/* A factory a build registered. */
typedef struct reg {
    struct reg *next;
    weft_factory *f;
    const weft_handover *handover;
    char name[];
} reg;

struct weft__plugin_build {
    weft__plugin_slot *slot; /* valid while the slot lives */
    weft__plugin_host host;  /* a copy: the build may end after its slot */
    int fd;                  /* the memory file, open while mapped: /proc/self/fd/N names one object only */
    ino_t inode;
    void *handle;
    const struct weft_plugin_entry *entry;
    weft_plugin *p;
    weft__version *v;
    reg *regs;
    bool initialising, initialised;
};

/* One of the slot's versioned factories. */
typedef struct named {
    struct named *next;
    weft__vfactory *vf;
    char name[];
} named;

struct weft__plugin_slot {
    char *name;
    weft__plugin_host host;
    weft__plugin_build *current;
    named *factories;
};

/* ---- a build's life ---- */

/* Ends a build: fini if its init succeeded, the host's record, its
 * registrations, then the object. The last step of a version's release,
 * or of a load that failed. */
static void build_end(void *arg)
{
    weft__plugin_build *b = arg;
    if (b->initialised && b->entry->fini)
        b->entry->fini(b->p);
    if (b->p)
        b->host.detach(b->host.ctx, b->p);
    for (reg *r = b->regs, *next; r; r = next) {
        next = r->next;
        weft_free(r);
    }
    if (b->handle)
        dlclose(b->handle);
    if (b->fd >= 0)
        close(b->fd);
    weft_free(b);
}

/* The failure's words, for people, without the path (the caller names
 * the file): "cannot load it: ..." and the like. */
static int fail(weft_failure **why, int code, const char *what, const char *detail)
{
    *why = weft_failure_new(code, "%s: %s", what, detail);
    return code;
}

/* dlerror's text without the name it gives the object (/proc/self/fd/N,
 * which says nothing to the operator). */
static const char *dl_why(const char *fdname)
{
    const char *e = dlerror();
    size_t n = strlen(fdname);
    if (!e)
        return "dlopen failed";
    return strncmp(e, fdname, n) == 0 && e[n] == ':' && e[n + 1] == ' ' ? e + n + 2 : e;
}

/* Copies the file at path into a new memory file. */
static int copy_to_memory(const char *path, int *out, weft_failure **why)
{
    int src = open(path, O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return fail(why, -errno, "cannot load it", strerror(errno));
    int fd = memfd_create("weft-plugin", MFD_CLOEXEC);
    if (fd < 0) {
        int err = -errno;
        close(src);
        return fail(why, err, "cannot copy it to memory", strerror(-err));
    }
    char buf[65536];
    for (;;) {
        ssize_t got = read(src, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int err = got < 0 ? -errno : 0;
            close(src);
            if (err < 0) {
                close(fd);
                return fail(why, err, "cannot read it", strerror(-err));
            }
            *out = fd;
            return 0;
        }
        for (ssize_t off = 0; off < got;) {
            ssize_t put = write(fd, buf + off, (size_t)(got - off));
            if (put < 0 && errno == EINTR)
                continue;
            if (put < 0) {
                int err = -errno;
                close(src);
                close(fd);
                return fail(why, err, "cannot copy it to memory", strerror(-err));
            }
            off += put;
        }
    }
}

/* Maps a copy of path and finds its entry; calls nothing of it but its
 * static constructors, which dlopen runs. */
static int build_open(const char *path, weft__plugin_build **out, weft_failure **why)
{
    weft__plugin_build *b = weft_calloc(1, sizeof *b);
    if (!b) {
        *why = weft_failure_new(WEFT_ENOMEM, "out of memory");
        return WEFT_ENOMEM;
    }
    b->fd = -1;
    int err = copy_to_memory(path, &b->fd, why);
    struct stat st;
    if (err == 0 && fstat(b->fd, &st) < 0)
        err = fail(why, -errno, "cannot copy it to memory", strerror(errno));
    if (err < 0) {
        build_end(b);
        return err;
    }
    b->inode = st.st_ino;
    char name[32];
    snprintf(name, sizeof name, "/proc/self/fd/%d", b->fd);
    /* RTLD_NOW: a symbol missing fails the load, not a call later. */
    b->handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!b->handle)
        err = fail(why, -ENOEXEC, "cannot load it", dl_why(name));
    else if (!(b->entry = dlsym(b->handle, WEFT_PLUGIN_ENTRY_SYMBOL)))
        *why = weft_failure_new(err = -ENOEXEC, "no " WEFT_PLUGIN_ENTRY_SYMBOL " symbol (not a weft plugin)");
    else if (b->entry->abi != WEFT_PLUGIN_ABI)
        *why = weft_failure_new(err = -EPROTO, "built for plugin ABI %u, this weft has %u", b->entry->abi,
                                (unsigned)WEFT_PLUGIN_ABI);
    else if (!b->entry->name || !b->entry->init || !b->entry->version)
        *why = weft_failure_new(err = -ENOEXEC, "its entry has no name, version or init");
    if (err < 0) {
        build_end(b);
        return err;
    }
    *out = b;
    return 0;
}

static reg *find_reg(const weft__plugin_build *b, const char *name)
{
    for (reg *r = b->regs; r; r = r->next)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

int weft__plugin_build_add_factory(weft__plugin_build *b, const char *name, weft_factory *f,
                                   const weft_handover *handover)
{
    if (!b->initialising || !name || !f)
        return WEFT_EINVAL;
    if (find_reg(b, name))
        return WEFT_EEXIST;
    size_t len = strlen(name) + 1;
    reg *r = weft_malloc(sizeof *r + len);
    if (!r)
        return WEFT_ENOMEM;
    *r = (reg){.next = b->regs, .f = f, .handover = handover};
    memcpy(r->name, name, len);
    b->regs = r;
    return 0;
}

/* ---- the slot ---- */

weft__plugin_slot *weft__plugin_slot_new(const char *name, const weft__plugin_host *host)
{
    weft__plugin_slot *s = weft_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->host = *host;
    if (name && !(s->name = weft_strdup(name))) {
        weft_free(s);
        return NULL;
    }
    return s;
}

static named *find_named(const weft__plugin_slot *s, const char *name)
{
    for (named *n = s->factories; n; n = n->next)
        if (strcmp(n->name, name) == 0)
            return n;
    return NULL;
}

static void named_free_list(named *n)
{
    while (n) {
        named *next = n->next;
        weft__vfactory_free(n->vf);
        weft_free(n);
        n = next;
    }
}

void weft__plugin_slot_free(weft__plugin_slot *s)
{
    if (!s)
        return;
    named_free_list(s->factories);
    if (s->current)
        weft__version_drop(s->current->v);
    weft_free(s->name);
    weft_free(s);
}

weft_factory *weft__plugin_slot_factory(weft__plugin_slot *s, const char *name)
{
    named *n = find_named(s, name);
    return n ? weft__vfactory_base(n->vf) : NULL;
}

weft__plugin_build *weft__plugin_slot_current(const weft__plugin_slot *s)
{
    return s->current;
}

/* Versioned factories for the names b registers that the slot has not
 * served yet, on a list of their own until the reload cannot fail. */
static int new_factories(const weft__plugin_slot *s, const weft__plugin_build *b, named **out)
{
    *out = NULL;
    for (reg *r = b->regs; r; r = r->next) {
        if (find_named(s, r->name))
            continue;
        size_t len = strlen(r->name) + 1;
        named *n = weft_malloc(sizeof *n + len);
        if (n && !(n->vf = weft__vfactory_new())) {
            weft_free(n);
            n = NULL;
        }
        if (!n) {
            named_free_list(*out);
            *out = NULL;
            return WEFT_ENOMEM;
        }
        memcpy(n->name, r->name, len);
        n->next = *out;
        *out = n;
    }
    return 0;
}

/* Runs b's init and checks what it registered; on failure *why says why
 * and b is still to be ended. */
static int build_init(weft__plugin_slot *s, weft__plugin_build *b, named **added, weft_failure **why)
{
    const struct weft_plugin_entry *e = b->entry;
    if (s->name && strcmp(e->name, s->name) != 0) {
        *why = weft_failure_new(WEFT_EINVAL, "it is the plugin %s, not %s", e->name, s->name);
        return WEFT_EINVAL;
    }
    if (!(b->v = weft__version_new(build_end, b))) {
        *why = weft_failure_new(WEFT_ENOMEM, "out of memory");
        return WEFT_ENOMEM;
    }
    if (!(b->p = s->host.attach(s->host.ctx, b, why))) {
        if (!*why)
            *why = weft_failure_new(WEFT_ENOMEM, "out of memory");
        return weft_failure_code(*why);
    }
    if (!s->name && !(s->name = weft_strdup(e->name))) {
        *why = weft_failure_new(WEFT_ENOMEM, "out of memory");
        return WEFT_ENOMEM;
    }
    b->initialising = true;
    int err = e->init(b->p);
    b->initialising = false;
    if (err < 0) {
        *why = weft_failure_new(err, "its init failed: %s", weft_strerror(err));
        return err;
    }
    b->initialised = true;
    for (named *n = s->factories; n; n = n->next) {
        if (!find_reg(b, n->name)) {
            *why = weft_failure_new(WEFT_EINVAL, "it (%s %s) does not register the factory %s that %s serves", e->name,
                                    e->version, n->name, s->current->entry->version);
            return WEFT_EINVAL;
        }
    }
    if (new_factories(s, b, added) < 0) {
        *why = weft_failure_new(WEFT_ENOMEM, "out of memory");
        return WEFT_ENOMEM;
    }
    return 0;
}

int weft__plugin_reload(weft__plugin_slot *s, const char *path, weft__reload_report *report, weft_failure **why)
{
    *why = NULL;
    weft__plugin_build *b;
    int err = build_open(path, &b, why);
    if (err < 0)
        return err;
    b->slot = s;
    b->host = s->host;
    named *added = NULL;
    err = build_init(s, b, &added, why);
    if (err < 0) {
        /* Through the version when there is one: its release ends b. */
        if (b->v)
            weft__version_drop(b->v);
        else
            build_end(b);
        return err;
    }
    /* From here nothing fails. */
    weft__reload_report rep;
    memset(&rep, 0, sizeof rep);
    if (added) {
        named *last = added;
        while (last->next)
            last = last->next;
        last->next = s->factories;
        s->factories = added;
    }
    for (named *n = s->factories; n; n = n->next) {
        reg *r = find_reg(b, n->name);
        weft__switch_report one;
        weft__vfactory_switch(n->vf, b->v, r->f, r->handover, &one);
        rep.conns.moved += one.moved;
        rep.conns.stayed += one.stayed;
        rep.conns.failed += one.failed;
    }
    weft__plugin_build *old = s->current;
    s->current = b;
    if (report) {
        /* Copied: the old build may be gone when the caller reads them. */
        snprintf(rep.from, sizeof rep.from, "%s", old ? old->entry->version : "");
        snprintf(rep.to, sizeof rep.to, "%s", b->entry->version);
        *report = rep;
    }
    /* The slot's hold on the old build goes (b's, made with it, stays):
     * without open connections the old build ends here. */
    if (old)
        weft__version_drop(old->v);
    return 0;
}

const struct weft_plugin_entry *weft__plugin_build_entry(const weft__plugin_build *b)
{
    return b->entry;
}

weft_plugin *weft__plugin_build_plugin(const weft__plugin_build *b)
{
    return b->p;
}

weft__plugin_slot *weft__plugin_build_slot(const weft__plugin_build *b)
{
    return b->slot;
}

weft__version *weft__plugin_build_version(const weft__plugin_build *b)
{
    return b->v;
}

size_t weft__plugin_build_connections(const weft__plugin_build *b)
{
    return weft__version_connections(b->v);
}

ino_t weft__plugin_build_inode(const weft__plugin_build *b)
{
    return b->inode;
}
