/* SPDX-License-Identifier: MIT */
/*
 * Child processes. posix_spawn starts the child with an empty signal mask
 * and default dispositions (the reactor's thread blocks several signals,
 * which children must not inherit), its descriptors set up by file actions,
 * everything else closed. Each pipe is a stream transport whose protocol is
 * a small adapter forwarding to the process protocol. A pidfd (or, where the
 * kernel has none, SIGCHLD) says when to reap.
 *
 * Life: started (posted, so no output can come before it), output and
 * fd_closed per pipe, exited when reaped, ended once exited with every pipe
 * closed; the memory goes when every pipe adapter has been destroyed too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../async/waitq.h"
#include "../core/list.h"
#include "stream.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/process.h"
#include "weft/trigger.h"

extern char **environ;

enum { MAX_PIPES = 64 };

typedef struct pipe_end {
    weft_protocol base;
    weft_process *pr;
    int child_fd;
    int parent_fd;
    weft_transport *t; /* until its connection_lost */
    bool lost, destroyed;
} pipe_end;

typedef struct procs procs;

struct weft_process {
    weft__list node; /* on the reactor's list while not reaped */
    weft_reactor *r;
    procs *all;
    weft_process_protocol *p;
    pid_t pid;
    int pidfd;
    bool reaped, ended, kill_on_shutdown;
    int code, signal;
    weft__post start_post;
    size_t npipes;
    pipe_end pipes[];
};

/* The reactor's children: for SIGCHLD, shutdown, and the SIGPIPE mask. */
struct procs {
    weft_reactor *r;
    weft__list live;
    bool sigchld;        /* the SIGCHLD fallback is installed */
    bool sigpipe_was_blocked;
    weft__waitq killed; /* shutdown waits for kill_on_shutdown children */
};

static void procs_free(void *arg)
{
    procs *ps = arg;
    /* A SIGPIPE from a write to a dead child may be pending: take it before
     * the mask is restored, or it would kill us then. */
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_only, NULL, &zero) > 0)
        ;
    if (!ps->sigpipe_was_blocked)
        pthread_sigmask(SIG_UNBLOCK, &pipe_only, NULL);
    weft__waitq_drop_all(&ps->killed);
    weft_free(ps);
}

static void wake_shutdown_waiters(procs *ps)
{
    for (weft__list *n = ps->live.next; n != &ps->live; n = n->next)
        if (WEFT_CONTAINER_OF(n, weft_process, node)->kill_on_shutdown)
            return;
    weft__waitq_fire_all(&ps->killed, NULL);
}

static weft_deferred *kill_children(void *arg)
{
    procs *ps = arg;
    bool any = false;
    for (weft__list *n = ps->live.next; n != &ps->live; n = n->next) {
        weft_process *pr = WEFT_CONTAINER_OF(n, weft_process, node);
        if (pr->kill_on_shutdown) {
            weft_process_signal(pr, SIGTERM);
            any = true;
        }
    }
    return any ? weft__waitq_add(&ps->killed, ps->r) : NULL;
}

static procs *procs_of(weft_reactor *r)
{
    procs *ps = weft__reactor_ext(r, WEFT__EXT_PROCESSES);
    if (ps)
        return ps;
    ps = weft_calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    ps->r = r;
    weft__list_init(&ps->live);
    weft__waitq_init(&ps->killed);
    if (weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, kill_children, ps, NULL) < 0) {
        weft_free(ps);
        return NULL;
    }
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ps->sigpipe_was_blocked = sigismember(&old, SIGPIPE);
    weft__reactor_set_ext(r, WEFT__EXT_PROCESSES, ps, procs_free);
    return ps;
}

/* ---- the end of a process ---- */

static bool all_pipes(const weft_process *pr, bool destroyed)
{
    for (size_t i = 0; i < pr->npipes; i++)
        if (!(destroyed ? pr->pipes[i].destroyed : pr->pipes[i].lost))
            return false;
    return true;
}

static void maybe_free(weft_process *pr)
{
    if (pr->ended && all_pipes(pr, true))
        weft_free(pr);
}

static void maybe_end(weft_process *pr)
{
    if (pr->ended || !pr->reaped || !all_pipes(pr, false))
        return;
    pr->ended = true;
    weft_process_protocol *p = pr->p;
    if (p->ops->ended)
        p->ops->ended(p, pr->code, pr->signal);
    p->process = NULL;
    if (p->ops->destroy)
        p->ops->destroy(p);
    maybe_free(pr);
}

static void on_exit_status(weft_process *pr, int status)
{
    pr->reaped = true;
    pr->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    pr->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    weft__list_remove(&pr->node);
    if (pr->pidfd >= 0) {
        weft_reactor_remove_reader(pr->r, pr->pidfd);
        close(pr->pidfd);
        pr->pidfd = -1;
    }
    if (pr->p->ops->exited)
        pr->p->ops->exited(pr->p, pr->code, pr->signal);
    wake_shutdown_waiters(pr->all);
    maybe_end(pr);
}

/* Reaps pr if it has exited; true when it did. */
static bool try_reap(weft_process *pr)
{
    int status;
    pid_t got;
    while ((got = waitpid(pr->pid, &status, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (got != pr->pid)
        return false;
    on_exit_status(pr, status);
    return true;
}

static void on_pidfd(void *arg, int fd, unsigned events)
{
    (void)fd;
    (void)events;
    try_reap(arg);
}

static void on_sigchld(void *arg, int signo)
{
    (void)signo;
    procs *ps = arg;
    /* One SIGCHLD may stand for several children: ask each. */
    weft__list *n = ps->live.next;
    while (n != &ps->live) {
        weft__list *next = n->next;
        try_reap(WEFT_CONTAINER_OF(n, weft_process, node));
        n = next;
    }
}

/* ---- the pipes ---- */

#define PIPE_OF(p) ((pipe_end *)(void *)(p))

static void pipe_data(weft_protocol *p, const void *data, size_t len)
{
    pipe_end *pe = PIPE_OF(p);
    weft_process_protocol *pp = pe->pr->p;
    if (pp->ops->output)
        pp->ops->output(pp, pe->child_fd, data, len);
}

static void pipe_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    pipe_end *pe = PIPE_OF(p);
    pe->lost = true;
    pe->t = NULL;
    weft_process_protocol *pp = pe->pr->p;
    if (pp->ops->fd_closed)
        pp->ops->fd_closed(pp, pe->child_fd);
    maybe_end(pe->pr);
}

static void pipe_destroy(weft_protocol *p)
{
    pipe_end *pe = PIPE_OF(p);
    pe->destroyed = true;
    maybe_free(pe->pr);
}

/* The stdin pipe is watched for reading too: it reports an error once the
 * child has closed its end (as Twisted's ProcessWriter watches it). */
static const weft_protocol_ops pipe_ops = {.data_received = pipe_data,
                                           .connection_lost = pipe_lost, .destroy = pipe_destroy};

static void start(void *arg)
{
    weft_process *pr = arg;
    pr->p->process = pr;
    if (pr->p->ops->started)
        pr->p->ops->started(pr->p);
    for (size_t i = 0; i < pr->npipes; i++)
        if (pr->pipes[i].t)
            weft__transport_start(pr->pipes[i].t);
    /* A child that ended at once, with no pipes, ends here. */
    if (pr->pidfd < 0 && !pr->all->sigchld)
        try_reap(pr);
    maybe_end(pr);
}

/* ---- spawning ---- */

/* Moves fd above `floor`, so no child descriptor number collides with it
 * while the file actions run. */
static int lift(int fd, int floor)
{
    if (fd > floor)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, floor + 1);
    close(fd);
    return high;
}

int weft_spawn_process(weft_reactor *r, weft_process_protocol *p, const char *path, char *const argv[],
                       char *const envp[], const char *cwd, const weft_process_options *opts, weft_process **out)
{
    static const weft_child_fd std_fds[3] = {{0, WEFT_CHILD_PIPE, -1}, {1, WEFT_CHILD_PIPE, -1}, {2, WEFT_CHILD_PIPE, -1}};
    const weft_child_fd *fds = opts && opts->fds ? opts->fds : std_fds;
    size_t nfds = opts && opts->fds ? opts->nfds : 3;
    int maxfd = 2;
    size_t npipes = 0;
    for (size_t i = 0; i < nfds; i++) {
        if (fds[i].child_fd < 0)
            return WEFT_EINVAL;
        if (fds[i].child_fd > maxfd)
            maxfd = fds[i].child_fd;
        npipes += fds[i].kind == WEFT_CHILD_PIPE;
    }
    /* Refused before any pipe exists, so no failure below leaves one open. */
    if (npipes > MAX_PIPES)
        return WEFT_EINVAL;
    procs *ps = procs_of(r);
    if (!ps)
        return WEFT_ENOMEM;
    weft_process *pr = weft_calloc(1, sizeof *pr + npipes * sizeof pr->pipes[0]);
    if (!pr)
        return WEFT_ENOMEM;
    pr->r = r;
    pr->all = ps;
    pr->p = p;
    pr->pidfd = -1;
    pr->kill_on_shutdown = opts && opts->kill_on_shutdown;
    weft__list_init(&pr->node);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    int child_ends[MAX_PIPES];
    size_t nchild_ends = 0;
    int err = 0;
    size_t k = 0;
    for (size_t i = 0; i < nfds && !err; i++) {
        const weft_child_fd *f = &fds[i];
        if (f->kind == WEFT_CHILD_PIPE) {
            int pfd[2];
            if (pipe2(pfd, O_CLOEXEC) < 0) {
                err = -errno;
                break;
            }
            bool child_reads = f->child_fd == 0;
            int child_end = lift(child_reads ? pfd[0] : pfd[1], maxfd);
            int parent_end = lift(child_reads ? pfd[1] : pfd[0], maxfd);
            if (child_end < 0 || parent_end < 0) {
                err = -EMFILE;
                if (child_end >= 0)
                    close(child_end);
                if (parent_end >= 0)
                    close(parent_end);
                break;
            }
            child_ends[nchild_ends++] = child_end;
            fcntl(parent_end, F_SETFL, fcntl(parent_end, F_GETFL) | O_NONBLOCK);
            pr->pipes[k++] = (pipe_end){.base.ops = &pipe_ops, .pr = pr, .child_fd = f->child_fd, .parent_fd = parent_end};
            posix_spawn_file_actions_adddup2(&fa, child_end, f->child_fd);
        } else if (f->kind == WEFT_CHILD_NULL) {
            posix_spawn_file_actions_addopen(&fa, f->child_fd, "/dev/null", O_RDWR, 0);
        } else {
            /* dup2 onto itself clears close-on-exec (glibc does this). */
            int from = f->kind == WEFT_CHILD_DUP ? f->parent_fd : f->child_fd;
            posix_spawn_file_actions_adddup2(&fa, from, f->child_fd);
        }
    }
    pr->npipes = k;
    if (!err && cwd)
        err = -posix_spawn_file_actions_addchdir_np(&fa, cwd);
    if (!err)
        err = -posix_spawn_file_actions_addclosefrom_np(&fa, maxfd + 1);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!err) {
        int (*spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                     char *const[], char *const[]) = strchr(path, '/') ? posix_spawn : posix_spawnp;
        err = -spawn(&pr->pid, path, &fa, &attr, argv, envp ? envp : environ);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (size_t i = 0; i < nchild_ends; i++)
        close(child_ends[i]);
    if (err) {
        for (size_t i = 0; i < k; i++)
            close(pr->pipes[i].parent_fd);
        weft_free(pr);
        return err;
    }

    /* From here the child runs: everything below must end in a reaped child. */
    weft__list_push_back(&ps->live, &pr->node);
    pr->pidfd = (int)syscall(SYS_pidfd_open, pr->pid, 0);
    if (pr->pidfd >= 0 && weft_reactor_add_reader(r, pr->pidfd, on_pidfd, pr) < 0) {
        close(pr->pidfd);
        pr->pidfd = -1;
    }
    if (pr->pidfd < 0 && !ps->sigchld) /* kernels before 5.3 */
        ps->sigchld = weft_reactor_add_signal(r, SIGCHLD, on_sigchld, ps) == 0;
    for (size_t i = 0; i < k; i++) {
        pipe_end *pe = &pr->pipes[i];
        if (weft__stream_new(r, pe->parent_fd, &pe->base, &pe->t) < 0) {
            close(pe->parent_fd);
            pe->lost = pe->destroyed = true; /* as if closed at once */
        }
    }
    weft__reactor_post(r, &pr->start_post, start, pr);
    if (out)
        *out = pr;
    return 0;
}

static weft_transport *stdin_of(weft_process *pr)
{
    for (size_t i = 0; i < pr->npipes; i++)
        if (pr->pipes[i].child_fd == 0 && !pr->pipes[i].lost)
            return pr->pipes[i].t;
    return NULL;
}

int weft_process_write(weft_process *pr, const void *data, size_t len)
{
    weft_transport *t = stdin_of(pr);
    return t ? weft_transport_write(t, data, len) : -ENOTCONN;
}

weft_transport *weft_process_stdin(weft_process *pr)
{
    return stdin_of(pr);
}

void weft_process_close_stdin(weft_process *pr)
{
    weft_transport *t = stdin_of(pr);
    if (t)
        weft_transport_lose_connection(t);
}

int weft_process_signal(weft_process *pr, int signo)
{
    if (pr->reaped)
        return -ESRCH;
    return kill(pr->pid, signo) < 0 ? -errno : 0;
}

int weft_process_pid(const weft_process *pr)
{
    return pr->pid;
}

int weft_process_detach(weft_process *pr)
{
    if (pr->npipes > 0 || pr->p->process != pr || pr->reaped)
        return WEFT_EINVAL;
    weft__list_remove(&pr->node);
    if (pr->pidfd >= 0) {
        weft_reactor_remove_reader(pr->r, pr->pidfd);
        close(pr->pidfd);
        pr->pidfd = -1;
    }
    wake_shutdown_waiters(pr->all);
    weft_process_protocol *p = pr->p;
    p->process = NULL;
    if (p->ops->destroy)
        p->ops->destroy(p);
    weft_free(pr);
    return 0;
}
