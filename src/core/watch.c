/* SPDX-License-Identifier: MIT */
/*
 * The descriptor table: watchers added and removed (Twisted's
 * IReactorFDSet), their interest kept in step with the backend, and ready
 * events dispatched to them - checked against the slot's generation, so an
 * event for a descriptor closed and reused meanwhile is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "reactor_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

static int fd_slot(weft_reactor *r, int fd, weft__fdslot **out)
{
    if (fd < 0)
        return WEFT_EINVAL;
    if ((size_t)fd >= r->nfds) {
        size_t n = r->nfds ? r->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        weft__fdslot *s = weft_realloc(r->fds, n * sizeof *s);
        if (!s)
            return WEFT_ENOMEM;
        memset(s + r->nfds, 0, (n - r->nfds) * sizeof *s);
        for (size_t i = r->nfds; i < n; i++)
            s[i].pidx = -1;
        r->fds = s;
        r->nfds = n;
    }
    *out = &r->fds[fd];
    return 0;
}

static int watch(weft_reactor *r, int fd, unsigned dir, weft_fd_fn fn, void *arg)
{
    weft__fdslot *s;
    int err = fd_slot(r, fd, &s);
    if (err < 0)
        return err;
    unsigned interest = s->interest | dir;
    if (interest != s->interest) {
        uint32_t gen = s->interest ? s->gen : s->gen + 1;
        if ((err = r->backend->update(r, fd, s->interest, interest, gen)) < 0)
            return err;
        s->gen = gen;
        s->interest = (uint8_t)interest;
    }
    if (dir == WEFT_READABLE) {
        s->rfn = fn;
        s->rarg = arg;
    } else {
        s->wfn = fn;
        s->warg = arg;
    }
    return 0;
}

static int unwatch(weft_reactor *r, int fd, unsigned dir)
{
    if (fd < 0 || (size_t)fd >= r->nfds || !(r->fds[fd].interest & dir))
        return WEFT_ENOENT;
    weft__fdslot *s = &r->fds[fd];
    unsigned interest = s->interest & ~dir;
    /* Forget the callback even if the backend refuses, so it never runs. */
    if (dir == WEFT_READABLE)
        s->rfn = NULL;
    else
        s->wfn = NULL;
    int err = r->backend->update(r, fd, s->interest, interest, s->gen);
    s->interest = (uint8_t)interest;
    return err;
}

int weft_reactor_add_reader(weft_reactor *r, int fd, weft_fd_fn fn, void *arg)
{
    return watch(r, fd, WEFT_READABLE, fn, arg);
}

int weft_reactor_add_writer(weft_reactor *r, int fd, weft_fd_fn fn, void *arg)
{
    return watch(r, fd, WEFT_WRITABLE, fn, arg);
}

int weft_reactor_remove_reader(weft_reactor *r, int fd)
{
    return unwatch(r, fd, WEFT_READABLE);
}

int weft_reactor_remove_writer(weft_reactor *r, int fd)
{
    return unwatch(r, fd, WEFT_WRITABLE);
}

void weft__reactor_dispatch(weft_reactor *r, const weft__event *ev)
{
    const unsigned trouble = WEFT_HANGUP | WEFT_ERROR;
    int fd = ev->fd;
    /* Re-read the slot before each call: a callback may grow the table or
     * drop the watcher. */
    if ((size_t)fd >= r->nfds || r->fds[fd].gen != ev->gen)
        return;
    if ((ev->events & (WEFT_READABLE | trouble)) && r->fds[fd].rfn)
        r->fds[fd].rfn(r->fds[fd].rarg, fd, ev->events & ~WEFT_WRITABLE);
    if (r->fds[fd].gen != ev->gen)
        return;
    if ((ev->events & (WEFT_WRITABLE | trouble)) && r->fds[fd].wfn)
        r->fds[fd].wfn(r->fds[fd].warg, fd, ev->events & ~WEFT_READABLE);
}

