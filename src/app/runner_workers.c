/* SPDX-License-Identifier: MIT */
/*
 * --workers N: the runner becomes a supervisor (supervisor.h), as nginx's
 * master. It binds the command's ports itself, then runs N workers, each
 * this same weft command line run again with every port it bound replaced
 * by `systemd:name=wI` - the socket the worker inherits - so a worker is an
 * ordinary weft adopting its sockets as under systemd, and says READY=1 to
 * the supervisor as it would to systemd. SIGHUP replaces the workers one by
 * one, SIGUSR2 replaces the supervisor's binary; SIGINT and SIGTERM stop.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/reactor.h"
#include "weft/service.h"
#include "weft/supervisor.h"
#include "runner_int.h"
#include "service_int.h"

enum { MAX_PORTS = 64 };

struct weft__workers {
    weft_reactor *r;
    const char *name; /* "weft web", before every message */
    weft_supervisor *sup;
    char exe[4096];
    char **argv;       /* the workers': argv[0] is exe */
    char **self_argv;  /* an upgrade's: the workers' with --workers kept */
    char *names[MAX_PORTS], *endpoints[MAX_PORTS];
    size_t nports;
    unsigned reloads;
    void (*ready)(void *arg);
    void *ready_arg;
};

/* Options the supervisor keeps to itself: a worker given them would fight
 * it for the pid file and the console, or fail to drop privileges it no
 * longer has. */
static const char *const supervisor_only[] = {"workers", "pidfile", "console", "uid", "gid", NULL};

/* Whether argv[i] is one of `names` ("--NAME" or "--NAME=..."); *with_value
 * says whether its value is the next word. */
static bool is_option(const char *arg, const char *const *names, bool *next_is_value)
{
    if (strncmp(arg, "--", 2) != 0)
        return false;
    for (size_t k = 0; names[k]; k++) {
        size_t n = strlen(names[k]);
        if (strncmp(arg + 2, names[k], n) == 0 && (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
            *next_is_value = arg[2 + n] == '\0';
            return true;
        }
    }
    return false;
}

/* The worker's spelling of a bound port: the inherited socket, under
 * haproxy: still when the port read PROXY headers. */
static char *worker_endpoint(const char *endpoint, size_t i)
{
    char text[64];
    snprintf(text, sizeof text, "%ssystemd:name=w%zu", strncmp(endpoint, "haproxy:", 8) == 0 ? "haproxy:" : "", i);
    return weft_strdup(text);
}

static void free_argv(char **argv)
{
    if (!argv)
        return;
    for (size_t i = 0; argv[i]; i++)
        weft_free(argv[i]);
    weft_free(argv);
}

/* A word of argv, with each bound port's endpoint string replaced (alone,
 * or after "--option=" or "-l"); marks the ports it found. */
static char *rewrite_word(weft__workers *w, const char *word, bool *found)
{
    const char *eq = word[0] == '-' ? (word[1] == '-' ? strchr(word, '=') : word[1] ? word + 1 : NULL) : NULL;
    const char *value = eq ? eq + 1 : word;
    for (size_t i = 0; i < w->nports; i++)
        if (strcmp(value, w->endpoints[i]) == 0) {
            found[i] = true;
            size_t head = (size_t)(value - word), n = strlen(w->names[i]);
            char *out = weft_malloc(head + n + 1);
            if (out) {
                memcpy(out, word, head);
                memcpy(out + head, w->names[i], n + 1);
            }
            return out;
        }
    return weft_strdup(word);
}

/* The command line again, from argv[1] on, for a worker (keep_workers
 * false) or a new supervisor (true). NULL when out of memory. */
static char **make_argv(weft__workers *w, int argc, char **argv, bool keep_workers)
{
    char **out = weft_calloc((size_t)argc + 2 * w->nports + 3, sizeof *out);
    bool found[MAX_PORTS] = {false};
    size_t n = 0;
    if (!out || !(out[n++] = weft_strdup(w->exe)))
        goto fail;
    bool after_dashes = false;
    for (int i = 1; i < argc; i++) {
        bool takes_value;
        if (!after_dashes && is_option(argv[i], supervisor_only, &takes_value) &&
            !(keep_workers && strncmp(argv[i], "--workers", 9) == 0)) {
            i += takes_value; /* and its value */
            continue;
        }
        after_dashes = after_dashes || strcmp(argv[i], "--") == 0;
        if (!(out[n++] = rewrite_word(w, argv[i], found)))
            goto fail;
    }
    /* A port the command listens on by default (web's tcp:8080): given. */
    for (size_t i = 0; i < w->nports; i++)
        if (!found[i]) {
            if (after_dashes) {
                fprintf(stderr, "%s: --workers: %s is not on the command line before '--'\n", w->name,
                        w->endpoints[i]);
                free_argv(out);
                return NULL;
            }
            if (!(out[n++] = weft_strdup("--listen")) || !(out[n++] = weft_strdup(w->names[i])))
                goto fail;
        }
    return out;
fail:
    free_argv(out);
    fputs("weft: out of memory\n", stderr);
    return NULL;
}

typedef struct collect {
    weft__workers *w;
    int fds[MAX_PORTS];
    bool bad;
} collect;

static void collect_port(collect *c, weft_service *s)
{
    weft__workers *w = c->w;
    if (weft_server_service_is(s)) {
        const char *endpoint = weft_server_service_endpoint(s);
        int fd = weft__server_service_fd(s);
        if (w->nports == MAX_PORTS || fd < 0 || strncmp(endpoint, "tls:", 4) == 0 ||
            strncmp(endpoint, "unix:", 5) == 0) {
            fprintf(stderr, "%s: --workers: cannot hand %s to workers (%s)\n", w->name, endpoint,
                    w->nports == MAX_PORTS ? "too many ports"
                    : fd < 0              ? "no socket"
                                          : "only tcp:, systemd: and haproxy: ports are, for now");
            c->bad = true;
            return;
        }
        char name[32];
        snprintf(name, sizeof name, "w%zu", w->nports);
        c->fds[w->nports] = fd;
        if (!(w->endpoints[w->nports] = weft_strdup(endpoint)) ||
            !(w->names[w->nports] = worker_endpoint(endpoint, w->nports))) {
            c->bad = true;
            return;
        }
        w->nports++;
    }
    for (weft_service *ch = weft_service_first_child(s); ch && !c->bad; ch = weft_service_next_sibling(ch))
        collect_port(c, ch);
}

static void say(weft__workers *w, weft_log_level level, const char *text, const char *why)
{
    weft_log(weft_reactor_logger(w->r), level, "weft.workers", "{text}{sep}{why}", WEFT_LOG_STR("text", text),
             WEFT_LOG_STR("sep", why ? ": " : ""), WEFT_LOG_STR("why", why ? why : ""));
}

static weft_result started(void *arg, weft_result result)
{
    weft__workers *w = arg;
    weft_failure *f = weft_result_failure(result);
    if (f) {
        say(w, WEFT_LOG_ERROR, "the workers could not all start (restarting them)", weft_failure_message(f));
    } else {
        w->ready(w->ready_arg); /* the supervisor said "every worker ready" */
    }
    weft_result_free(result);
    return weft_none();
}

static weft_result reloaded(void *arg, weft_result result)
{
    weft__workers *w = arg;
    weft_failure *f = weft_result_failure(result);
    char text[64];
    snprintf(text, sizeof text, "reload %u %s", ++w->reloads, f ? "failed" : "done: every worker replaced");
    say(w, f ? WEFT_LOG_ERROR : WEFT_LOG_INFO, text, f ? weft_failure_message(f) : NULL);
    weft_result_free(result);
    return weft_none();
}

static weft_result upgraded(void *arg, weft_result result)
{
    weft__workers *w = arg;
    weft_failure *f = weft_result_failure(result);
    if (f) {
        say(w, WEFT_LOG_ERROR, "upgrade failed, this supervisor goes on", weft_failure_message(f));
    } else {
        char text[96];
        snprintf(text, sizeof text, "upgrade done: the new supervisor is pid %d; this one exits",
                 (int)(intptr_t)result.value);
        say(w, WEFT_LOG_INFO, text, NULL);
        weft_reactor_stop(w->r);
    }
    weft_result_free(result);
    return weft_none();
}

static void watch(weft__workers *w, weft_deferred *d, weft_callback_fn fn)
{
    if (!d || weft_deferred_add_both(d, fn, w) < 0)
        say(w, WEFT_LOG_ERROR, "out of memory", NULL);
    weft_deferred_unref(d);
}

static void on_hup(void *arg, int signo)
{
    (void)signo;
    weft__workers *w = arg;
    watch(w, weft_supervisor_reload(w->sup), reloaded);
}

static void on_usr2(void *arg, int signo)
{
    (void)signo;
    weft__workers *w = arg;
    watch(w, weft_supervisor_upgrade(w->sup, w->exe, w->self_argv), upgraded);
}

int weft__workers_new(weft_reactor *r, const weft__workers_config *c, weft__workers **out)
{
    *out = NULL;
    weft__workers *w = weft_calloc(1, sizeof *w);
    if (!w) {
        fputs("weft: out of memory\n", stderr);
        return -1;
    }
    *out = w;
    w->r = r;
    w->name = c->name;
    w->ready = c->ready;
    w->ready_arg = c->ready_arg;
    /* The binary's path, read now: a binary replaced later (an upgrade)
     * is then the new one at the same path. */
    ssize_t n = readlink("/proc/self/exe", w->exe, sizeof w->exe - 1);
    if (n <= 0) {
        fprintf(stderr, "%s: --workers: cannot find weft's own binary (/proc/self/exe)\n", c->name);
        return -1;
    }
    w->exe[n] = '\0';
    collect col = {.w = w};
    collect_port(&col, c->top);
    if (col.bad)
        return -1;
    if (w->nports == 0) {
        fprintf(stderr, "%s: --workers: the command listens on nothing to hand to workers\n", c->name);
        return -1;
    }
    if (!(w->argv = make_argv(w, c->argc, c->argv, false)) || !(w->self_argv = make_argv(w, c->argc, c->argv, true)))
        return -1;
    weft_supervisor_options o = {
        .path = w->exe,
        .argv = w->argv,
        .fds = col.fds,
        .names = (const char *const *)w->names,
        .nfds = w->nports,
        .workers = c->workers,
        /* a worker drains for --grace; SIGKILL only after that */
        .grace = c->grace + 2,
    };
    /* LISTEN_FDNAMES cannot hold ':': the names the supervisor passes are
     * w0, w1... and only the workers' endpoints say haproxy:. */
    char *plain[MAX_PORTS];
    for (size_t i = 0; i < w->nports; i++)
        plain[i] = strstr(w->names[i], "name=") + 5;
    o.names = (const char *const *)plain;
    int err = weft_supervisor_new(r, &o, &w->sup);
    if (err < 0) {
        fprintf(stderr, "%s: cannot supervise workers: %s\n", c->name, weft_strerror(err));
        return -1;
    }
    if (weft_reactor_add_signal(r, SIGHUP, on_hup, w) < 0 || weft_reactor_add_signal(r, SIGUSR2, on_usr2, w) < 0) {
        fputs("weft: out of memory\n", stderr);
        return -1;
    }
    return 0;
}

int weft__workers_start(weft__workers *w)
{
    weft_deferred *d = weft_supervisor_start(w->sup);
    if (!d)
        return WEFT_ENOMEM;
    watch(w, d, started);
    return 0;
}

size_t weft__workers_pids(const weft__workers *w, int *pids, size_t max)
{
    return w && w->sup ? weft_supervisor_pids(w->sup, pids, max) : 0;
}

void weft__workers_free(weft__workers *w)
{
    if (!w)
        return;
    weft_supervisor_free(w->sup);
    free_argv(w->argv);
    free_argv(w->self_argv);
    for (size_t i = 0; i < w->nports; i++) {
        weft_free(w->names[i]);
        weft_free(w->endpoints[i]);
    }
    weft_free(w);
}
