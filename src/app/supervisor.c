/* SPDX-License-Identifier: MIT */
/*
 * The supervisor (supervisor.h). Each of the N slots has a current worker
 * (serving, or starting in its place; none while a restart waits) and,
 * during a reload, the next one starting. Every process started - workers,
 * and the new supervisor of an upgrade - is a `child` on the live list
 * until it is reaped; one timer per child is its ready deadline, then its
 * SIGKILL deadline once it is told to stop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../async/waitq.h"
#include "../core/list.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/failure.h"
#include "weft/log.h"
#include "weft/process.h"
#include "weft/reactor.h"
#include "weft/supervisor.h"
#include "weft/timer.h"
#include "weft/trigger.h"

extern char **environ;

enum { MAX_FDS = 64, NOTIFY_MAX = 4096, NOTIFY_BURST = 64 };

#define NS "weft.workers"

/* Sets LISTEN_PID in the child itself: the shell execs the program in its
 * own process, so $$ is the program's pid (see supervisor.h). */
static const char trampoline[] = "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"";

typedef enum child_state { STARTING, READY, STOPPING } child_state;

typedef struct slot slot;

typedef struct child {
    weft_process_protocol base;
    weft__list node; /* on the supervisor's live list until reaped */
    weft_supervisor *s;
    slot *slot; /* NULL: the new supervisor of an upgrade */
    weft_process *pr;
    int pid;
    child_state state;
    bool timed_out;
    double started_at;
    weft_timer timer; /* ready deadline, then SIGKILL deadline */
} child;

struct slot {
    weft_supervisor *s;
    unsigned number; /* from 1, for the log */
    child *current;
    child *next; /* a reload's replacement, starting */
    unsigned quick_deaths;
    weft_timer restart;
};

struct weft_supervisor {
    weft_reactor *r;
    weft_logger *log;
    char *path;
    char **argv, **envp; /* envp NULL: the supervisor's environment at each start */
    int fds[MAX_FDS];
    size_t nfds;
    char *fds_var, *names_var, *notify_var; /* LISTEN_FDS=, LISTEN_FDNAMES=, NOTIFY_SOCKET= */
    int notify_fd;
    double ready_timeout, grace, min_uptime;
    weft_backoff backoff;
    unsigned nslots;
    slot *slots;
    weft__list live;
    bool started, stopping, has_trigger;
    uint64_t trigger;
    weft_deferred *start_d;  /* until every worker has been ready once */
    weft_deferred *reload_d; /* the reload under way */
    unsigned reload_at;      /* the slot it is replacing */
    child *upgrade;          /* the new supervisor, until ready */
    weft_deferred *upgrade_d;
    int upgrade_pid;
    weft__waitq stopped;
};

/* ---- strings ---- */

static void strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        weft_free(*p);
    weft_free(v);
}

static char **strv_copy(char *const *v)
{
    size_t n = 0;
    while (v[n])
        n++;
    char **c = weft_calloc(n + 1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(c[i] = weft_strdup(v[i]))) {
            strv_free(c);
            return NULL;
        }
    return c;
}

/* "NAME=value", allocated. */
static char *env_var(const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    char *s = weft_malloc(n + v + 2);
    if (s) {
        memcpy(s, name, n);
        s[n] = '=';
        memcpy(s + n + 1, value, v + 1);
    }
    return s;
}

static bool ours(const char *var)
{
    static const char *const names[] = {"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "NOTIFY_SOCKET="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(var, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

/* base's variables but ours, then ours: an array of borrowed strings, to
 * free (the array only) once the child has started. */
static char **child_env(const weft_supervisor *s, char *const *base)
{
    size_t n = 0;
    while (base[n])
        n++;
    char **env = weft_calloc(n + 4, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!ours(base[i]))
            env[k++] = base[i];
    env[k++] = s->fds_var;
    env[k++] = s->names_var;
    env[k++] = s->notify_var;
    return env;
}

/* sh -c TRAMPOLINE PATH ARGV[1]...: borrowed strings, as child_env. */
static char **child_argv(const char *path, char *const *argv)
{
    size_t n = 0;
    while (argv[n])
        n++;
    char **v = weft_calloc(n + 4, sizeof *v);
    if (!v)
        return NULL;
    v[0] = (char *)"/bin/sh";
    v[1] = (char *)"-c";
    v[2] = (char *)trampoline;
    v[3] = (char *)path;
    for (size_t i = 1; i < n; i++)
        v[3 + i] = argv[i];
    return v;
}

/* "exited with status 3", "killed by signal 9 (SIGKILL)" */
static void describe_end(char *buf, size_t size, int code, int signo)
{
    if (signo) {
        const char *abbrev = sigabbrev_np(signo);
        snprintf(buf, size, "killed by signal %d (SIG%s)", signo, abbrev ? abbrev : "?");
    } else {
        snprintf(buf, size, "exited with status %d", code);
    }
}

/* ---- children ---- */

static void child_end(weft_process_protocol *p, int code, int signo);

static void child_destroy(weft_process_protocol *p)
{
    weft_free(WEFT_CONTAINER_OF(p, child, base));
}

static const weft_process_ops child_ops = {.ended = child_end, .destroy = child_destroy};

static void stop_child(child *c);

/* A worker that never got ready served nothing: SIGKILL. A new supervisor
 * may have started workers: SIGTERM, so it stops them, as any stop. */
static void not_ready(void *arg)
{
    child *c = arg;
    weft_supervisor *s = c->s;
    c->timer.id = 0;
    c->timed_out = true;
    if (c->slot) {
        weft_log(s->log, WEFT_LOG_WARN, NS, "worker {slot} (pid {pid}) not ready after {seconds} s: killed",
                 WEFT_LOG_UINT("slot", c->slot->number), WEFT_LOG_INT("pid", c->pid),
                 WEFT_LOG_DOUBLE("seconds", s->ready_timeout));
        weft_process_signal(c->pr, SIGKILL);
    } else {
        weft_log(s->log, WEFT_LOG_WARN, NS, "new supervisor (pid {pid}) not ready after {seconds} s: stopped",
                 WEFT_LOG_INT("pid", c->pid), WEFT_LOG_DOUBLE("seconds", s->ready_timeout));
        stop_child(c);
    }
}

/* Starts path (through the trampoline) with the sockets as descriptors
 * 3...; 0 or the spawn's error. */
static int spawn(weft_supervisor *s, slot *sl, const char *path, char *const *argv, char *const *envp, child **out)
{
    child *c = weft_calloc(1, sizeof *c);
    char **av = child_argv(path, argv);
    char **env = child_env(s, envp ? envp : environ);
    int rc = WEFT_ENOMEM;
    if (c && av && env) {
        weft_child_fd fds[3 + MAX_FDS];
        for (int i = 0; i < 3; i++)
            fds[i] = (weft_child_fd){i, WEFT_CHILD_INHERIT, -1};
        for (size_t i = 0; i < s->nfds; i++)
            fds[3 + i] = (weft_child_fd){3 + (int)i, WEFT_CHILD_DUP, s->fds[i]};
        weft_process_options o = {.fds = fds, .nfds = 3 + s->nfds};
        c->base.ops = &child_ops;
        c->s = s;
        c->slot = sl;
        rc = weft_spawn_process(s->r, &c->base, av[0], av, env, NULL, &o, &c->pr);
    }
    weft_free(av);
    weft_free(env);
    if (rc < 0) {
        weft_free(c);
        return rc;
    }
    c->pid = weft_process_pid(c->pr);
    c->started_at = weft_reactor_now(s->r);
    weft__list_push_back(&s->live, &c->node);
    if (weft_call_later(s->r, s->ready_timeout, not_ready, c, &c->timer) < 0)
        c->timer.id = 0; /* no deadline then; it still gets ready or dies */
    *out = c;
    return 0;
}

static void stop_late(void *arg)
{
    child *c = arg;
    c->timer.id = 0;
    weft_log(c->s->log, WEFT_LOG_WARN, NS, "pid {pid} still running {seconds} s after SIGTERM: SIGKILL",
             WEFT_LOG_INT("pid", c->pid), WEFT_LOG_DOUBLE("seconds", c->s->grace));
    weft_process_signal(c->pr, SIGKILL);
}

/* SIGTERM: a worker stops accepting and drains; SIGKILL after grace. */
static void stop_child(child *c)
{
    if (c->state == STOPPING)
        return;
    c->state = STOPPING;
    weft_timer_cancel(c->s->r, c->timer);
    weft_process_signal(c->pr, SIGTERM);
    if (weft_call_later(c->s->r, c->s->grace, stop_late, c, &c->timer) < 0)
        weft_process_signal(c->pr, SIGKILL); /* no deadline possible: do not wait forever */
}

static child *find_child(weft_supervisor *s, int pid)
{
    for (weft__list *n = s->live.next; n != &s->live; n = n->next) {
        child *c = WEFT_CONTAINER_OF(n, child, node);
        if (c->pid == pid)
            return c;
    }
    return NULL;
}

/* ---- Deferreds held ---- */

/* Fires *held (if any) with none, or with f (taken either way). */
static void settle(weft_deferred **held, weft_failure *f)
{
    weft_deferred *d = *held;
    if (!d) {
        weft_failure_unref(f);
        return;
    }
    *held = NULL;
    if (f)
        weft_deferred_errback(d, f);
    else
        weft_deferred_callback(d, NULL, NULL);
    weft_deferred_unref(d);
}

/* A Deferred held in *held with a reference for the caller too. */
static weft_deferred *hold(weft_supervisor *s, weft_deferred **held)
{
    weft_deferred *d = weft_deferred_new(s->r);
    if (!d)
        return NULL;
    *held = weft_deferred_ref(d);
    return d;
}

static void maybe_stopped(weft_supervisor *s)
{
    if (s->stopping && weft__list_empty(&s->live))
        weft__waitq_fire_all(&s->stopped, NULL);
}

/* ---- restarts ---- */

static void restart_slot(void *arg);

/* Twisted's procmon: a worker that was ready and lived min_uptime comes
 * back at once; one that died quicker comes back after a delay growing
 * with each quick death. */
static void schedule_restart(slot *sl, bool quick)
{
    weft_supervisor *s = sl->s;
    double delay = 0;
    if (quick)
        delay = weft_backoff_delay(&s->backoff, sl->quick_deaths++);
    else
        sl->quick_deaths = 0;
    weft_log(s->log, WEFT_LOG_INFO, NS, "restarting worker {slot} in {seconds} s", WEFT_LOG_UINT("slot", sl->number),
             WEFT_LOG_DOUBLE("seconds", delay));
    if (weft_call_later(s->r, delay, restart_slot, sl, &sl->restart) < 0)
        weft_log(s->log, WEFT_LOG_ERROR, NS, "cannot restart worker {slot}: out of memory",
                 WEFT_LOG_UINT("slot", sl->number));
}

static void restart_slot(void *arg)
{
    slot *sl = arg;
    weft_supervisor *s = sl->s;
    sl->restart.id = 0;
    int rc = spawn(s, sl, s->path, s->argv, s->envp, &sl->current);
    if (rc < 0) {
        weft_log(s->log, WEFT_LOG_ERROR, NS, "cannot start worker {slot}: {error}", WEFT_LOG_UINT("slot", sl->number),
                 WEFT_LOG_STR("error", weft_strerror(rc)));
        sl->current = NULL;
        schedule_restart(sl, true);
    }
}

/* ---- reload ---- */

static void reload_step(weft_supervisor *s)
{
    if (s->reload_at == s->nslots) {
        weft_log(s->log, WEFT_LOG_INFO, NS, "reload done: {count} workers replaced", WEFT_LOG_UINT("count", s->nslots));
        settle(&s->reload_d, NULL);
        return;
    }
    slot *sl = &s->slots[s->reload_at];
    /* A slot waiting for a restart gets its new worker now. */
    weft_timer_cancel(s->r, sl->restart);
    int rc = spawn(s, sl, s->path, s->argv, s->envp, &sl->next);
    if (rc < 0) {
        sl->next = NULL;
        if (!sl->current)
            schedule_restart(sl, true);
        weft_log(s->log, WEFT_LOG_WARN, NS, "reload abandoned: cannot start worker {slot}: {error}",
                 WEFT_LOG_UINT("slot", sl->number), WEFT_LOG_STR("error", weft_strerror(rc)));
        settle(&s->reload_d, weft_failure_new(rc, "cannot start worker %u", sl->number));
    }
}

/* ---- upgrade ---- */

static weft_result upgrade_done(void *arg, weft_result result)
{
    weft_supervisor *s = arg;
    weft_result_free(result);
    weft_deferred *d = s->upgrade_d;
    s->upgrade_d = NULL;
    weft_deferred_callback(d, (void *)(intptr_t)s->upgrade_pid, NULL);
    weft_deferred_unref(d);
    return weft_none();
}

static void upgrade_ready(weft_supervisor *s, child *c)
{
    weft_log(s->log, WEFT_LOG_INFO, NS, "new supervisor (pid {pid}) ready: stopping the old workers",
             WEFT_LOG_INT("pid", c->pid));
    s->upgrade = NULL;
    s->upgrade_pid = c->pid;
    weft_timer_cancel(s->r, c->timer);
    weft__list_remove(&c->node);
    /* Left to run on its own: it outlives us (detach frees c). Detaching
     * fails only before the child's started has run, which READY=1 cannot
     * precede. */
    if (weft_process_detach(c->pr) < 0) {
        weft__list_push_back(&s->live, &c->node);
        stop_child(c);
        settle(&s->upgrade_d, weft_failure_new(WEFT_EFAILED, "cannot leave the new supervisor running"));
        return;
    }
    weft_deferred *stopped = weft_supervisor_stop(s);
    if (!stopped || weft_deferred_add_both(stopped, upgrade_done, s) < 0)
        upgrade_done(s, weft_none()); /* out of memory: say so now, the workers still stop */
    weft_deferred_unref(stopped);
}

/* ---- events ---- */

static void all_ready_yet(weft_supervisor *s)
{
    if (!s->start_d)
        return;
    for (unsigned i = 0; i < s->nslots; i++)
        if (!s->slots[i].current || s->slots[i].current->state != READY)
            return;
    weft_log(s->log, WEFT_LOG_INFO, NS, "every worker ready ({count})", WEFT_LOG_UINT("count", s->nslots));
    settle(&s->start_d, NULL);
}

static void on_ready(weft_supervisor *s, int pid)
{
    child *c = find_child(s, pid);
    if (!c || c->state != STARTING)
        return;
    weft_timer_cancel(s->r, c->timer);
    c->timer.id = 0;
    c->state = READY;
    if (!c->slot) {
        upgrade_ready(s, c);
        return;
    }
    slot *sl = c->slot;
    weft_log(s->log, WEFT_LOG_INFO, NS, "worker {slot} (pid {pid}) ready", WEFT_LOG_UINT("slot", sl->number),
             WEFT_LOG_INT("pid", pid));
    if (sl->next == c) {
        child *old = sl->current;
        sl->current = c;
        sl->next = NULL;
        if (old) {
            weft_log(s->log, WEFT_LOG_INFO, NS, "worker {slot}: pid {pid} replaces pid {old}, which drains",
                     WEFT_LOG_UINT("slot", sl->number), WEFT_LOG_INT("pid", pid), WEFT_LOG_INT("old", old->pid));
            stop_child(old);
        }
        s->reload_at++;
        reload_step(s);
    }
    all_ready_yet(s);
}

static void child_end(weft_process_protocol *p, int code, int signo)
{
    child *c = WEFT_CONTAINER_OF(p, child, base);
    weft_supervisor *s = c->s;
    weft_timer_cancel(s->r, c->timer);
    weft__list_remove(&c->node);
    char how[64];
    describe_end(how, sizeof how, code, signo);
    slot *sl = c->slot;
    bool was_current = sl && sl->current == c, was_next = sl && sl->next == c;
    if (was_current)
        sl->current = NULL;
    if (was_next)
        sl->next = NULL;
    int why = c->timed_out ? WEFT_ETIMEDOUT : WEFT_EFAILED;
    if (!sl && s->upgrade == c) {
        weft_log(s->log, WEFT_LOG_WARN, NS, "new supervisor (pid {pid}) {how}: the old one goes on serving",
                 WEFT_LOG_INT("pid", c->pid), WEFT_LOG_STR("how", how));
        s->upgrade = NULL;
        settle(&s->upgrade_d, weft_failure_new(why, "new supervisor (pid %d) %s before it was ready", c->pid, how));
        return;
    }
    if (c->state == STOPPING || !sl) {
        weft_log(s->log, WEFT_LOG_INFO, NS, "pid {pid} stopped ({how})", WEFT_LOG_INT("pid", c->pid),
                 WEFT_LOG_STR("how", how));
        maybe_stopped(s);
        return;
    }
    weft_log(s->log, WEFT_LOG_WARN, NS, "worker {slot} (pid {pid}) {how}", WEFT_LOG_UINT("slot", sl->number),
             WEFT_LOG_INT("pid", c->pid), WEFT_LOG_STR("how", how));
    bool quick = c->state != READY || weft_reactor_now(s->r) - c->started_at < s->min_uptime;
    if (was_next) {
        if (sl->current)
            weft_log(s->log, WEFT_LOG_WARN, NS, "reload abandoned: worker {slot} keeps pid {pid}",
                     WEFT_LOG_UINT("slot", sl->number), WEFT_LOG_INT("pid", sl->current->pid));
        else if (!s->stopping)
            schedule_restart(sl, true);
        settle(&s->reload_d, weft_failure_new(why, "the new worker %u (pid %d) %s before it was ready", sl->number,
                                              c->pid, how));
    } else if (was_current) {
        if (c->state == STARTING)
            settle(&s->start_d, weft_failure_new(why, "worker %u (pid %d) %s before it was ready", sl->number,
                                                 c->pid, how));
        /* A replacement starting takes the slot when ready. */
        if (!s->stopping && !sl->next)
            schedule_restart(sl, quick);
    }
    maybe_stopped(s);
}

/* sd_notify datagrams: only the kernel's word (SCM_CREDENTIALS) on who
 * sent one counts. Descriptors sent along (FDSTORE=1) are not kept. */
static void on_notify(void *arg, int fd, unsigned events)
{
    (void)events;
    weft_supervisor *s = arg;
    for (int burst = 0; burst < NOTIFY_BURST; burst++) {
        char buf[NOTIFY_MAX + 1];
        union {
            struct cmsghdr align;
            char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
        } control;
        struct iovec iov = {buf, NOTIFY_MAX};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                           .msg_controllen = sizeof control.space};
        ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return;
        int pid = 0;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
            if (h->cmsg_level != SOL_SOCKET)
                continue;
            if (h->cmsg_type == SCM_CREDENTIALS) {
                struct ucred cred;
                memcpy(&cred, CMSG_DATA(h), sizeof cred);
                pid = cred.pid;
            } else if (h->cmsg_type == SCM_RIGHTS) {
                size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < count; i++) {
                    int passed;
                    memcpy(&passed, CMSG_DATA(h) + i * sizeof(int), sizeof passed);
                    close(passed);
                }
            }
        }
        if (pid <= 0 || (size_t)n > NOTIFY_MAX)
            continue;
        buf[n] = '\0';
        for (char *line = buf; line && *line;) {
            char *end = strchr(line, '\n');
            if (end)
                *end = '\0';
            if (strcmp(line, "READY=1") == 0)
                on_ready(s, pid);
            line = end ? end + 1 : NULL;
        }
    }
}

/* ---- the notify socket ---- */

static int notify_open(weft_supervisor *s)
{
    uint64_t nonce;
    if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce)
        nonce = (uint64_t)(uintptr_t)s;
    char name[64];
    snprintf(name, sizeof name, "weft-supervisor/%d/%016llx", (int)getpid(), (unsigned long long)nonce);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    /* An abstract name: no file to clean up, gone with the socket. */
    memcpy(sun.sun_path + 1, name, strlen(name));
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 || bind(fd, (struct sockaddr *)&sun, len) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    s->notify_fd = fd;
    char at_name[sizeof name + 1];
    snprintf(at_name, sizeof at_name, "@%s", name);
    s->notify_var = env_var("NOTIFY_SOCKET", at_name);
    return s->notify_var ? 0 : WEFT_ENOMEM;
}

/* ---- the API ---- */

static int copy_options(weft_supervisor *s, const weft_supervisor_options *o)
{
    s->path = weft_strdup(o->path);
    s->argv = strv_copy(o->argv);
    s->envp = o->envp ? strv_copy(o->envp) : NULL;
    if (!s->path || !s->argv || (o->envp && !s->envp))
        return WEFT_ENOMEM;
    size_t len = 0;
    for (size_t i = 0; i < o->nfds; i++)
        len += strlen(o->names && o->names[i] ? o->names[i] : "unknown") + 1;
    char *names = weft_malloc(len + 1);
    if (!names)
        return WEFT_ENOMEM;
    names[0] = '\0';
    for (size_t i = 0; i < o->nfds; i++) {
        if (i)
            strcat(names, ":");
        strcat(names, o->names && o->names[i] ? o->names[i] : "unknown");
    }
    s->names_var = env_var("LISTEN_FDNAMES", names);
    weft_free(names);
    char count[24];
    snprintf(count, sizeof count, "%zu", o->nfds);
    s->fds_var = env_var("LISTEN_FDS", count);
    if (!s->names_var || !s->fds_var)
        return WEFT_ENOMEM;
    /* Above the descriptors the children get (3...), so setting theirs
     * never overwrites one still to be copied. */
    for (size_t i = 0; i < o->nfds; i++) {
        int fd = fcntl(o->fds[i], F_DUPFD_CLOEXEC, 3 + (int)o->nfds);
        if (fd < 0)
            return -errno;
        s->fds[s->nfds++] = fd;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return notify_open(s);
}

static bool valid(const weft_supervisor_options *o)
{
    if (!o || !o->path || !o->argv || !o->argv[0] || !o->fds || o->nfds == 0 || o->nfds > MAX_FDS)
        return false;
    for (size_t i = 0; o->names && i < o->nfds; i++)
        if (o->names[i] && (strchr(o->names[i], ':') || !o->names[i][0]))
            return false;
    return true;
}

int weft_supervisor_new(weft_reactor *r, const weft_supervisor_options *opts, weft_supervisor **out)
{
    if (!valid(opts))
        return WEFT_EINVAL;
    weft_supervisor *s = weft_calloc(1, sizeof *s);
    if (!s)
        return WEFT_ENOMEM;
    s->r = r;
    s->log = weft_reactor_logger(r);
    s->notify_fd = -1;
    weft__list_init(&s->live);
    weft__waitq_init(&s->stopped);
    s->nslots = opts->workers ? opts->workers : 1;
    s->ready_timeout = opts->ready_timeout > 0 ? opts->ready_timeout : 30;
    s->grace = opts->grace > 0 ? opts->grace : 10;
    s->min_uptime = opts->min_uptime > 0 ? opts->min_uptime : 1;
    s->backoff = opts->backoff;
    s->slots = weft_calloc(s->nslots, sizeof *s->slots);
    int rc = s->slots ? copy_options(s, opts) : WEFT_ENOMEM;
    if (rc == 0)
        rc = weft_reactor_add_reader(r, s->notify_fd, on_notify, s);
    if (rc < 0) {
        weft_supervisor_free(s);
        return rc;
    }
    for (unsigned i = 0; i < s->nslots; i++)
        s->slots[i] = (slot){.s = s, .number = i + 1};
    *out = s;
    return 0;
}

static weft_deferred *on_shutdown(void *arg)
{
    weft_supervisor *s = arg;
    s->has_trigger = false;
    return weft_supervisor_stop(s);
}

weft_deferred *weft_supervisor_start(weft_supervisor *s)
{
    if (s->started)
        return weft_fail(s->r, weft_failure_new(WEFT_ERUNNING, "the supervisor has been started"));
    weft_deferred *d = hold(s, &s->start_d);
    if (!d)
        return NULL;
    if (weft_reactor_add_trigger(s->r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, on_shutdown, s, &s->trigger) < 0) {
        weft_deferred_unref(s->start_d);
        s->start_d = NULL;
        weft_deferred_unref(d);
        return NULL;
    }
    s->has_trigger = true;
    s->started = true;
    weft_log(s->log, WEFT_LOG_INFO, NS, "starting {count} workers: {path}", WEFT_LOG_UINT("count", s->nslots),
             WEFT_LOG_STR("path", s->path));
    for (unsigned i = 0; i < s->nslots; i++)
        restart_slot(&s->slots[i]);
    return d;
}

static weft_deferred *busy(weft_supervisor *s)
{
    if (!s->started || s->stopping)
        return weft_fail(s->r, weft_failure_new(s->stopping ? WEFT_ECANCELED : WEFT_ENOTRUNNING,
                                                "the supervisor is not running"));
    if (s->reload_d || s->upgrade_d)
        return weft_fail(s->r, weft_failure_new(WEFT_ERUNNING, "a %s is under way",
                                                s->reload_d ? "reload" : "binary upgrade"));
    return NULL;
}

weft_deferred *weft_supervisor_reload(weft_supervisor *s)
{
    weft_deferred *refused = busy(s);
    if (refused)
        return refused;
    weft_deferred *d = hold(s, &s->reload_d);
    if (!d)
        return NULL;
    weft_log(s->log, WEFT_LOG_INFO, NS, "reload: replacing {count} workers one by one",
             WEFT_LOG_UINT("count", s->nslots));
    s->reload_at = 0;
    reload_step(s);
    return d;
}

weft_deferred *weft_supervisor_upgrade(weft_supervisor *s, const char *path, char *const argv[])
{
    weft_deferred *refused = busy(s);
    if (refused)
        return refused;
    if (!path || !argv || !argv[0])
        return weft_fail(s->r, weft_failure_new(WEFT_EINVAL, "no program to upgrade to"));
    weft_deferred *d = hold(s, &s->upgrade_d);
    if (!d)
        return NULL;
    int rc = spawn(s, NULL, path, argv, NULL, &s->upgrade);
    if (rc < 0) {
        s->upgrade = NULL;
        settle(&s->upgrade_d, weft_failure_new(rc, "cannot start %s", path));
        return d;
    }
    weft_log(s->log, WEFT_LOG_INFO, NS, "binary upgrade: new supervisor {path} (pid {pid}) starting",
             WEFT_LOG_STR("path", path), WEFT_LOG_INT("pid", s->upgrade->pid));
    return d;
}

weft_deferred *weft_supervisor_stop(weft_supervisor *s)
{
    weft_deferred *d = weft__waitq_add(&s->stopped, s->r);
    if (!d)
        return NULL;
    if (!s->stopping) {
        s->stopping = true;
        weft_log(s->log, WEFT_LOG_INFO, NS, "stopping the workers");
        for (unsigned i = 0; i < s->nslots; i++)
            weft_timer_cancel(s->r, s->slots[i].restart);
        settle(&s->start_d, weft_failure_new(WEFT_ECANCELED, "the supervisor stopped"));
        settle(&s->reload_d, weft_failure_new(WEFT_ECANCELED, "the supervisor stopped"));
        if (s->upgrade) {
            s->upgrade = NULL;
            settle(&s->upgrade_d, weft_failure_new(WEFT_ECANCELED, "the supervisor stopped"));
        }
        for (weft__list *n = s->live.next; n != &s->live; n = n->next)
            stop_child(WEFT_CONTAINER_OF(n, child, node));
    }
    maybe_stopped(s);
    return d;
}

size_t weft_supervisor_pids(const weft_supervisor *s, int *pids, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; i < s->nslots; i++) {
        const child *c = s->slots[i].current;
        if (c && c->state == READY) {
            if (n < max)
                pids[n] = c->pid;
            n++;
        }
    }
    return n;
}

void weft_supervisor_free(weft_supervisor *s)
{
    if (!s)
        return;
    s->stopping = true;
    for (weft__list *n = s->live.next; n != &s->live; n = n->next)
        weft_process_signal(WEFT_CONTAINER_OF(n, child, node)->pr, SIGKILL);
    /* SIGKILL cannot be refused: each is reaped within moments. */
    while (!weft__list_empty(&s->live))
        if (weft_reactor_iterate(s->r, 1) < 0)
            break;
    for (unsigned i = 0; s->slots && i < s->nslots; i++)
        weft_timer_cancel(s->r, s->slots[i].restart);
    if (s->has_trigger)
        weft_reactor_remove_trigger(s->r, s->trigger);
    settle(&s->start_d, weft_failure_new(WEFT_ECANCELED, "the supervisor was freed"));
    settle(&s->reload_d, weft_failure_new(WEFT_ECANCELED, "the supervisor was freed"));
    settle(&s->upgrade_d, weft_failure_new(WEFT_ECANCELED, "the supervisor was freed"));
    weft__waitq_drop_all(&s->stopped);
    if (s->notify_fd >= 0) {
        weft_reactor_remove_reader(s->r, s->notify_fd);
        close(s->notify_fd);
    }
    for (size_t i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    weft_free(s->fds_var);
    weft_free(s->names_var);
    weft_free(s->notify_var);
    weft_free(s->path);
    strv_free(s->argv);
    strv_free(s->envp);
    weft_free(s->slots);
    weft_free(s);
}
