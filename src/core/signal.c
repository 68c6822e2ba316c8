/* SPDX-License-Identifier: MIT */
/*
 * Signals through signalfd: a handled signal is blocked in the thread that
 * asked for it and read from one descriptor per reactor, so handlers run on
 * the loop like any callback and nothing runs in signal context. What was
 * blocked before is remembered, so removing a handler restores the mask.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "reactor_int.h"
#include "weft/error.h"

void weft__signals_init(weft_reactor *r)
{
    sigemptyset(&r->signals);
    sigemptyset(&r->was_blocked);
}

static void on_signals(void *arg, int fd, unsigned events)
{
    (void)events;
    weft_reactor *r = arg;
    struct signalfd_siginfo si[16];
    ssize_t n;
    while ((n = read(fd, si, sizeof si)) > 0) {
        for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
            int signo = (int)si[i].ssi_signo;
            if (signo > 0 && signo < _NSIG && r->sig[signo].fn)
                r->sig[signo].fn(r->sig[signo].arg, signo);
        }
    }
}

/* Points the signalfd at the current set, creating or closing it. */
static int refresh(weft_reactor *r)
{
    if (sigisemptyset(&r->signals)) {
        if (r->signal_fd >= 0) {
            weft_reactor_remove_reader(r, r->signal_fd);
            close(r->signal_fd);
            r->signal_fd = -1;
        }
        return 0;
    }
    int fd = signalfd(r->signal_fd, &r->signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (r->signal_fd < 0) {
        int err = weft_reactor_add_reader(r, fd, on_signals, r);
        if (err < 0) {
            close(fd);
            return err;
        }
        r->signal_fd = fd;
    }
    return 0;
}

int weft_reactor_add_signal(weft_reactor *r, int signo, weft_signal_fn fn, void *arg)
{
    if (signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP || !fn)
        return WEFT_EINVAL;
    if (!sigismember(&r->signals, signo)) {
        sigset_t one, old;
        sigemptyset(&one);
        sigaddset(&one, signo);
        int err = pthread_sigmask(SIG_BLOCK, &one, &old);
        if (err)
            return -err;
        sigaddset(&r->signals, signo);
        if ((err = refresh(r)) < 0) {
            sigdelset(&r->signals, signo);
            if (!sigismember(&old, signo))
                pthread_sigmask(SIG_UNBLOCK, &one, NULL);
            return err;
        }
        if (sigismember(&old, signo))
            sigaddset(&r->was_blocked, signo);
    }
    r->sig[signo].fn = fn;
    r->sig[signo].arg = arg;
    return 0;
}

int weft_reactor_remove_signal(weft_reactor *r, int signo)
{
    if (signo <= 0 || signo >= _NSIG || !sigismember(&r->signals, signo))
        return WEFT_ENOENT;
    r->sig[signo].fn = NULL;
    sigdelset(&r->signals, signo);
    int err = refresh(r);
    if (!sigismember(&r->was_blocked, signo)) {
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    }
    sigdelset(&r->was_blocked, signo);
    return err;
}

void weft__signals_fini(weft_reactor *r)
{
    for (int s = 1; s < _NSIG; s++)
        if (sigismember(&r->signals, s))
            weft_reactor_remove_signal(r, s);
}

static const int default_signals[] = {SIGINT, SIGTERM};

int weft__signals_default_install(weft_reactor *r, weft_signal_fn fn)
{
    for (size_t i = 0; i < 2; i++) {
        int s = default_signals[i];
        if (sigismember(&r->signals, s))
            continue; /* the user's handler wins */
        int err = weft_reactor_add_signal(r, s, fn, r);
        if (err < 0) {
            weft__signals_default_remove(r, fn);
            return err;
        }
    }
    return 0;
}

void weft__signals_default_remove(weft_reactor *r, weft_signal_fn fn)
{
    for (size_t i = 0; i < 2; i++) {
        int s = default_signals[i];
        if (sigismember(&r->signals, s) && r->sig[s].fn == fn)
            weft_reactor_remove_signal(r, s);
    }
}
