/* SPDX-License-Identifier: MIT */
/*
 * The weft command's runner (plugin.h's weft_runner_main), after Twisted's
 * twist: plugins loaded, the command's options parsed, its services built
 * under one top service, bound (privileged start), privileges dropped, the
 * services started, the reactor run until SIGINT or SIGTERM, then the tree
 * stopped within the grace period. The operator's options - logging, pid
 * file, user, umask - are the runner's, accepted by every command. No
 * daemonising: weft runs in the foreground, under systemd or the like.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weft/alloc.h"
#include "weft/endpoint.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/reactor.h"
#include "weft/service.h"
#include "weft/systemd.h"
#include "weft/trigger.h"
#include "plugin_int.h"
#include "runner_int.h"

enum { OK = 0, FAILED = 1, USAGE = 2 };

#ifndef WEFT_PLUGIN_DIR
#define WEFT_PLUGIN_DIR "/usr/local/lib/weft/plugins"
#endif

static const weft_option runner_options[] = {
    {"grace", 'g', "SECONDS",
     "on SIGINT/SIGTERM, how long open connections may take to finish before they are closed (default 5)"},
    {"log-level", 0, "[NS=]LEVEL",
     "debug, info, warn, error or critical: for every namespace, or for NS and those below it "
     "(weft.http=debug); repeatable (default info)"},
    {"log-format", 0, "text|json", "log lines as text or as JSON objects (default text)"},
    {"log-file", 0, "PATH", "log to PATH instead of standard error; reopened on SIGUSR1, for logrotate"},
    {"pidfile", 0, "PATH",
     "write the process id to PATH once the ports are bound, remove it at exit; refused while a live process "
     "holds it"},
    {"uid", 0, "USER", "after binding the ports, run as USER (a name or a number), with its group unless --gid"},
    {"gid", 0, "GROUP", "after binding the ports, run as GROUP (a name or a number)"},
    {"umask", 0, "MODE", "the file mode creation mask, in octal (e.g. 027), set once privileges are dropped"},
    {"plugin", 0, "PATH.so", "load the plugin at PATH.so first (repeatable)"},
    {"console", 0, "PATH",
     "serve the admin console (weft ctl) on a UNIX socket at PATH, made once privileges are dropped; - for the "
     "default path (weft ctl's): $XDG_RUNTIME_DIR/weft.sock, /run/weft/weft.sock for root, /tmp/weft-UID/weft.sock"},
    {"metrics", 0, "ENDPOINT", "serve the figures for Prometheus at /metrics over HTTP on ENDPOINT"},
    {"workers", 0, "N",
     "run N worker processes (this command again) sharing the ports this one binds; SIGHUP replaces them one by "
     "one, SIGUSR2 replaces this supervisor's binary"},
    {"help", 'h', NULL, "this text"},
    {0},
};

struct weft_runner {
    char name[96]; /* "weft COMMAND", before every message */
    weft__plugins plugins;
    const weft_command *cmd;
    weft_plugin *cmd_from;    /* the build cmd came from */
    weft__version *cmd_build; /* cmd_from's, held while its services live; NULL built in */
    int cmd_at; /* argv's index of the command's name */
    weft_args *args;
    weft_reactor *r;
    weft_service *top;
    double grace;
    /* logging */
    weft_log_observer_fn observer;
    FILE *log;            /* the file logged to; stderr when no --log-file */
    const char *log_path; /* --log-file, reopened on SIGUSR1 */
    /* the pid file, locked from the start, written once bound */
    const char *pid_path;
    int pid_fd;
    /* what to become once bound */
    bool set_uid, set_gid, set_umask;
    uid_t uid;
    gid_t gid;
    mode_t umask;
    /* operating it */
    weft_systemd_watchdog *watchdog;
    weft_console *console;
    unsigned workers; /* --workers: 0 without */
    weft__workers *wk;
    int argc;
    char **argv;
};

weft_reactor *weft_runner_reactor(const weft_runner *rn)
{
    return rn->r;
}

weft_plugin *weft_runner_plugin(const weft_runner *rn)
{
    return rn->cmd_from;
}

weft_service *weft__runner_top(const weft_runner *rn)
{
    return rn->top;
}

size_t weft__runner_worker_pids(const weft_runner *rn, int *pids, size_t max)
{
    return weft__workers_pids(rn->wk, pids, max);
}

/* "NAME: the failure, for people". */
static void say_failure(const weft_runner *rn, const weft_failure *f)
{
    size_t n = f ? weft_failure_describe(f, NULL, 0) : 0;
    char *text = n ? weft_malloc(n + 1) : NULL;
    if (text)
        weft_failure_describe(f, text, n + 1);
    fprintf(stderr, "%s: %s\n", rn->name, text ? text : f ? weft_failure_message(f) : "out of memory");
    weft_free(text);
}

/* ---- plugins ---- */

static int load_one(weft_runner *rn, const char *path, bool from_dir)
{
    char why[512];
    int err = weft__plugin_load(&rn->plugins, path, NULL, why, sizeof why);
    if (err == WEFT_EEXIST && from_dir)
        return OK; /* a --plugin of that name came first, and wins */
    if (err < 0) {
        fprintf(stderr, "weft: plugin %s refused: %s\n", path, why);
        return FAILED;
    }
    return OK;
}

static int is_object(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 3 && strcmp(d->d_name + n - 3, ".so") == 0;
}

/* Every *.so in `dir`, in name order; a directory that does not exist has
 * none. */
static int load_dir(weft_runner *rn, const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, is_object, alphasort);
    if (n < 0)
        return OK;
    int status = OK;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (status == OK)
            status = load_one(rn, path, true);
        free(names[i]);
    }
    free(names);
    return status;
}

/* --plugin (found anywhere in argv: it must be loaded before the command
 * it brings can be looked up), then WEFT_PLUGIN_PATH's directories, then
 * the install's. A plugin that cannot be loaded stops the command: running
 * without code the operator asked for would be worse. */
static int load_plugins(weft_runner *rn, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--plugin") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--plugin=", 9) == 0)
            path = argv[i] + 9;
        if (path && load_one(rn, path, false) != OK)
            return FAILED;
    }
    const char *env = getenv("WEFT_PLUGIN_PATH");
    char *dirs = env ? weft_strdup(env) : NULL;
    int status = OK;
    for (char *save = NULL, *dir = dirs ? strtok_r(dirs, ":", &save) : NULL; dir && status == OK;
         dir = strtok_r(NULL, ":", &save))
        status = load_dir(rn, dir);
    weft_free(dirs);
    return status == OK ? load_dir(rn, WEFT_PLUGIN_DIR) : status;
}

/* ---- help ---- */

static void runner_help(FILE *out)
{
    fputs("\nrunner options (every command takes them, before or after its name):\n", out);
    weft__args_help(out, runner_options);
    fputs("\nweft runs in the foreground and never daemonises: run it under systemd (or another\n"
          "supervisor), which keeps its output and restarts it.\n",
          out);
}

static void general_help(weft_runner *rn, FILE *out)
{
    fputs("usage: weft [RUNNER OPTIONS] COMMAND [OPTIONS]   (weft COMMAND --help for its options)\n"
          "       weft --help-endpoints                     every kind of ENDPOINT, its parameters and defaults\n"
          "\ncommands:\n",
          out);
    for (weft__plugin_rec *rec = rn->plugins.first; rec; rec = rec->next) {
        const weft_plugin *p = weft__plugin_rec_current(rec);
        for (size_t i = 0; i < p->ncommands; i++)
            fprintf(out, "  %-12s %s (%s)\n", p->commands[i]->name, p->commands[i]->summary,
                    rec->path ? rec->path : "built-in");
    }
    runner_help(out);
}

static void command_help(weft_runner *rn, FILE *out)
{
    fprintf(out, "usage: %s [OPTIONS]\n\n", rn->name);
    weft__text_wrap(out, rn->cmd->description ? rn->cmd->description : rn->cmd->summary);
    if (rn->cmd->options && rn->cmd->options->name) {
        fputs("\noptions:\n", out);
        weft__args_help(out, rn->cmd->options);
    }
    runner_help(out);
}

/* The library writes the reference from its parser's own table. */
static int help_endpoints(void)
{
    size_t n = weft_endpoint_help(NULL, 0);
    char *text = weft_malloc(n + 1);
    if (!text) {
        fputs("weft: out of memory\n", stderr);
        return FAILED;
    }
    weft_endpoint_help(text, n + 1);
    fputs(text, stdout);
    weft_free(text);
    return fflush(stdout) == 0 ? OK : FAILED;
}

/* SIGHUP: every plugin loaded from a file is loaded again from it, each
 * saying one line (reloaded, or why not, the old build serving on). */
static void reload_plugins(void *arg, int signo)
{
    (void)signo;
    weft_runner *rn = arg;
    weft__plugins_reload_all(&rn->plugins, weft_reactor_logger(rn->r));
}

/* ---- the runner's options ---- */

static bool parse_level(const char *text, weft_log_level *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "critical"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (weft_log_level)i;
            return true;
        }
    if (strcmp(text, "warning") == 0) {
        *out = WEFT_LOG_WARN;
        return true;
    }
    return false;
}

static int set_levels(weft_runner *rn)
{
    size_t n;
    const char *const *all = weft_args_all(rn->args, "log-level", &n);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(all[i], '=');
        char ns[256] = "";
        weft_log_level level;
        if (eq)
            snprintf(ns, sizeof ns, "%.*s", (int)(eq - all[i]), all[i]);
        if (!parse_level(eq ? eq + 1 : all[i], &level)) {
            fprintf(stderr, "%s: --log-level wants [NS=]LEVEL with LEVEL debug, info, warn, error or critical, not '%s'\n",
                    rn->name, all[i]);
            return USAGE;
        }
        if (weft_logger_set_level(weft_reactor_logger(rn->r), ns, level) < 0)
            return FAILED;
    }
    return OK;
}

static int set_logging(weft_runner *rn)
{
    const char *format = weft_args_get(rn->args, "log-format", "text");
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
        fprintf(stderr, "%s: --log-format wants text or json, not '%s'\n", rn->name, format);
        return USAGE;
    }
    rn->observer = strcmp(format, "json") == 0 ? weft_log_json_observer : weft_log_text_observer;
    rn->log = stderr;
    if ((rn->log_path = weft_args_get(rn->args, "log-file", NULL))) {
        if (!(rn->log = fopen(rn->log_path, "ae"))) {
            fprintf(stderr, "%s: cannot open the log file %s: %s\n", rn->name, rn->log_path, strerror(errno));
            rn->log = stderr;
            return FAILED;
        }
        setvbuf(rn->log, NULL, _IOLBF, 0);
    }
    weft_logger *lg = weft_reactor_logger(rn->r);
    weft_logger_remove_observer(lg, weft_log_text_observer, stderr);
    /* Every level: the logger's levels (--log-level) do the filtering. */
    if (weft_logger_add_observer(lg, rn->observer, rn->log, WEFT_LOG_DEBUG, NULL) < 0)
        return FAILED;
    return set_levels(rn);
}

/* SIGUSR1, after logrotate moved the file: the next lines go to a new file
 * at the same path. The old file stays in use if the new cannot be opened. */
static void reopen_log(void *arg, int signo)
{
    (void)signo;
    weft_runner *rn = arg;
    FILE *f = fopen(rn->log_path, "ae");
    weft_logger *lg = weft_reactor_logger(rn->r);
    if (!f) {
        weft_log(lg, WEFT_LOG_ERROR, "weft.runner", "cannot reopen the log file {path}: {why}",
                 WEFT_LOG_STR("path", rn->log_path), WEFT_LOG_STR("why", strerror(errno)));
        return;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    if (weft_logger_add_observer(lg, rn->observer, f, WEFT_LOG_DEBUG, NULL) < 0) {
        fclose(f);
        return;
    }
    weft_logger_remove_observer(lg, rn->observer, rn->log);
    fclose(rn->log);
    rn->log = f;
    weft_log(lg, WEFT_LOG_INFO, "weft.runner", "log file reopened");
    /* Workers write to the same path: each reopens it too. Only ready
     * workers are listed, and they have their own handler by then. */
    int pids[256];
    size_t n = weft__workers_pids(rn->wk, pids, sizeof pids / sizeof pids[0]);
    for (size_t i = 0; i < n; i++)
        if (kill(pids[i], SIGUSR1) < 0)
            weft_log(lg, WEFT_LOG_WARN, "weft.runner", "cannot tell worker {pid} to reopen the log: {why}",
                     WEFT_LOG_INT("pid", pids[i]), WEFT_LOG_STR("why", strerror(errno)));
}

static int parse_id(weft_runner *rn, const char *what, const char *text, bool user)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(text, &end, 10);
    bool number = *text && !*end && !errno && text[0] != '-';
    if (user) {
        struct passwd *pw = number ? getpwuid((uid_t)n) : getpwnam(text);
        if (!pw && !number) {
            fprintf(stderr, "%s: %s: no user '%s'\n", rn->name, what, text);
            return USAGE;
        }
        rn->uid = pw ? pw->pw_uid : (uid_t)n;
        rn->set_uid = true;
        /* The user's own group, unless --gid says otherwise. */
        if (pw && !rn->set_gid) {
            rn->gid = pw->pw_gid;
            rn->set_gid = true;
        }
        return OK;
    }
    struct group *gr = number ? getgrgid((gid_t)n) : getgrnam(text);
    if (!gr && !number) {
        fprintf(stderr, "%s: %s: no group '%s'\n", rn->name, what, text);
        return USAGE;
    }
    rn->gid = gr ? gr->gr_gid : (gid_t)n;
    rn->set_gid = true;
    return OK;
}

static int runner_values(weft_runner *rn)
{
    const char *grace = weft_args_get(rn->args, "grace", "5");
    char *end;
    errno = 0;
    rn->grace = strtod(grace, &end);
    if (errno || end == grace || *end || !(rn->grace >= 0)) {
        fprintf(stderr, "%s: --grace wants a number of seconds, not '%s'\n", rn->name, grace);
        return USAGE;
    }
    const char *gid = weft_args_get(rn->args, "gid", NULL), *uid = weft_args_get(rn->args, "uid", NULL);
    int status = OK;
    if ((gid && (status = parse_id(rn, "--gid", gid, false)) != OK) ||
        (uid && (status = parse_id(rn, "--uid", uid, true)) != OK))
        return status;
    const char *mask = weft_args_get(rn->args, "umask", NULL);
    if (mask) {
        errno = 0;
        unsigned long m = strtoul(mask, &end, 8);
        if (errno || end == mask || *end || m > 0777) {
            fprintf(stderr, "%s: --umask wants an octal mode such as 027, not '%s'\n", rn->name, mask);
            return USAGE;
        }
        rn->umask = (mode_t)m;
        rn->set_umask = true;
    }
    rn->pid_path = weft_args_get(rn->args, "pidfile", NULL);
    const char *workers = weft_args_get(rn->args, "workers", NULL);
    if (workers) {
        errno = 0;
        unsigned long n = strtoul(workers, &end, 10);
        if (errno || end == workers || *end || workers[0] == '-' || n < 1 || n > 256) {
            fprintf(stderr, "%s: --workers wants a number from 1 to 256, not '%s'\n", rn->name, workers);
            return USAGE;
        }
        rn->workers = (unsigned)n;
    }
    return OK;
}

/* ---- the pid file ---- */

/* Locked at once (a second weft is refused before it binds anything);
 * written once bound. The lock, not the content, says whether the file is
 * held: a file left by a process that died holds no lock and is taken
 * over. */
static int pidfile_lock(weft_runner *rn)
{
    if (!rn->pid_path)
        return OK;
    rn->pid_fd = open(rn->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (rn->pid_fd < 0) {
        fprintf(stderr, "%s: cannot open the pid file %s: %s\n", rn->name, rn->pid_path, strerror(errno));
        return FAILED;
    }
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(rn->pid_fd, F_SETLK, &lock) == 0)
        return OK;
    int err = errno;
    struct flock held = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if ((err == EAGAIN || err == EACCES) && fcntl(rn->pid_fd, F_GETLK, &held) == 0 && held.l_type != F_UNLCK)
        fprintf(stderr, "%s: the pid file %s is held by process %d, which is running\n", rn->name, rn->pid_path,
                (int)held.l_pid);
    else
        fprintf(stderr, "%s: cannot lock the pid file %s: %s\n", rn->name, rn->pid_path, strerror(err));
    close(rn->pid_fd);
    rn->pid_fd = -1;
    return FAILED;
}

static int pidfile_write(weft_runner *rn)
{
    if (rn->pid_fd < 0)
        return OK;
    char text[32];
    int n = snprintf(text, sizeof text, "%d\n", (int)getpid());
    if (ftruncate(rn->pid_fd, 0) < 0 || pwrite(rn->pid_fd, text, (size_t)n, 0) != n) {
        fprintf(stderr, "%s: cannot write the pid file %s: %s\n", rn->name, rn->pid_path, strerror(errno));
        return FAILED;
    }
    return OK;
}

/* Removed while still locked, so that no other process takes it between. */
static void pidfile_remove(weft_runner *rn)
{
    if (rn->pid_fd < 0)
        return;
    if (unlink(rn->pid_path) < 0 && errno != ENOENT)
        fprintf(stderr, "%s: cannot remove the pid file %s: %s\n", rn->name, rn->pid_path, strerror(errno));
    close(rn->pid_fd);
    rn->pid_fd = -1;
}

/* ---- privileges ---- */

static int drop_privileges(weft_runner *rn)
{
    if (rn->set_gid && (setgroups(1, &rn->gid) < 0 || setgid(rn->gid) < 0)) {
        fprintf(stderr, "%s: cannot change to group %u: %s\n", rn->name, (unsigned)rn->gid, strerror(errno));
        return FAILED;
    }
    if (rn->set_uid && setuid(rn->uid) < 0) {
        fprintf(stderr, "%s: cannot change to user %u: %s\n", rn->name, (unsigned)rn->uid, strerror(errno));
        return FAILED;
    }
    if (rn->set_umask)
        umask(rn->umask);
    return OK;
}

/* ---- running ---- */

typedef void (*server_fn)(weft_runner *rn, weft_service *s, void *arg);

/* Calls fn on every server service of the tree, in order. */
static void each_server(weft_runner *rn, weft_service *s, server_fn fn, void *arg)
{
    if (weft_server_service_is(s))
        fn(rn, s, arg);
    for (weft_service *c = weft_service_first_child(s); c; c = weft_service_next_sibling(c))
        each_server(rn, c, fn, arg);
}

static void count_one(weft_runner *rn, weft_service *s, void *arg)
{
    (void)rn;
    *(size_t *)arg += weft_server_service_connections(s);
}

static size_t connections(weft_runner *rn)
{
    size_t n = 0;
    each_server(rn, rn->top, count_one, &n);
    return n;
}

static void announce_one(weft_runner *rn, weft_service *s, void *arg)
{
    (void)arg;
    weft_address a;
    char where[256];
    if (!weft_server_service_address(s, &a))
        return;
    weft_address_format(&a, where, sizeof where);
    fprintf(stderr, "%s: listening on %s (%s)\n", rn->name, weft_server_service_endpoint(s), where);
}

/* READY=1, and the watchdog's pings when the unit asks for them: from
 * here on the loop turns. Outside systemd both do nothing. */
static void tell_systemd_ready(weft_runner *rn)
{
    weft_systemd_notify_ready(rn->r);
    int err = weft_systemd_watchdog_start(rn->r, &rn->watchdog);
    if (err < 0)
        weft_log(weft_reactor_logger(rn->r), WEFT_LOG_ERROR, "weft.runner", "cannot start the systemd watchdog: {why}",
                 WEFT_LOG_STR("why", weft_strerror(err)));
}

/* Hook: every port listens and the reactor runs, so SIGINT and SIGTERM stop
 * gracefully from now on. Where systemd hears READY=1. */
static void every_port_listens(weft_runner *rn)
{
    tell_systemd_ready(rn);
}

/* Hook: stopping begins (SIGINT, SIGTERM). Where systemd hears STOPPING=1. */
static void stopping_begins(weft_runner *rn)
{
    weft_systemd_notify_stopping(rn->r);
}

int weft__runner_stop(weft_runner *rn, double grace, char *why, size_t size)
{
    /* The reactor waits grace + 5 s for the tree (weft_runner_main): no
     * longer grace fits. */
    if (grace > rn->grace) {
        snprintf(why, size, "the grace can be at most --grace (%gs)", rn->grace);
        return -1;
    }
    if (grace >= 0)
        rn->grace = grace;
    weft_reactor_stop(rn->r);
    return 0;
}

/* --console: made once privileges are dropped, so the socket is the
 * user's the process runs as, and only that user is served. */
static int open_console(weft_runner *rn)
{
    const char *path = weft_args_get(rn->args, "console", NULL);
    char fallback[256];
    if (!path)
        return OK;
    if (strcmp(path, "-") == 0) {
        weft_console_default_path(fallback, sizeof fallback);
        path = fallback;
    }
    int err = weft_console_new(rn->r, path, NULL, &rn->console);
    if (err < 0) {
        fprintf(stderr, "%s: cannot serve the console at %s: %s\n", rn->name, path, weft_strerror(err));
        return FAILED;
    }
    /* With workers, the plugins' code runs in them: SIGHUP replaces them. */
    if ((err = weft__runner_console_commands(rn->console, rn)) < 0 ||
        (!rn->wk && (err = weft__plugins_console_commands(&rn->plugins, rn->console)) < 0)) {
        fprintf(stderr, "%s: %s\n", rn->name, weft_strerror(err));
        return FAILED;
    }
    fprintf(stderr, "%s: console on %s\n", rn->name, path);
    return OK;
}

/* --metrics: one more server service, announced and stopped as the
 * command's. */
static int add_metrics(weft_runner *rn)
{
    const char *endpoint = weft_args_get(rn->args, "metrics", NULL);
    weft_failure *why = NULL;
    if (!endpoint || weft__metrics_service_add(rn->top, endpoint, &why) == 0)
        return OK;
    say_failure(rn, why);
    int code = weft_failure_code(why);
    weft_failure_unref(why);
    return code == WEFT_ENOMEM ? FAILED : USAGE;
}

static void workers_ready(void *arg)
{
    every_port_listens(arg);
}

/* --workers: the bound sockets go to the supervisor, said with the
 * "listening on" lines at once; the tree, whose services the workers run,
 * is freed (its ports stop listening here) and left empty. */
static int become_supervisor(weft_runner *rn)
{
    each_server(rn, rn->top, announce_one, NULL);
    fflush(stderr);
    weft__workers_config c = {.name = rn->name, .argc = rn->argc, .argv = rn->argv, .top = rn->top,
                              .workers = rn->workers, .grace = rn->grace, .ready = workers_ready, .ready_arg = rn};
    if (weft__workers_new(rn->r, &c, &rn->wk) < 0)
        return FAILED;
    weft_service_free(rn->top);
    if (!(rn->top = weft_service_new(rn->r, "weft", NULL, NULL))) {
        fprintf(stderr, "%s: out of memory\n", rn->name);
        return FAILED;
    }
    return OK;
}

/* The "listening on" lines, said once the reactor runs: a client that reads
 * them may signal at once. */
static weft_deferred *started(void *arg)
{
    weft_runner *rn = arg;
    weft_log(weft_reactor_logger(rn->r), WEFT_LOG_INFO, "weft.runner", "{command} started (pid {pid})",
             WEFT_LOG_STR("command", rn->name), WEFT_LOG_INT("pid", getpid()));
    each_server(rn, rn->top, announce_one, NULL);
    fflush(stderr);
    if (!rn->wk) /* else once the workers are ready */
        every_port_listens(rn);
    return NULL;
}

static weft_result grace_over(void *arg, weft_result result)
{
    weft_runner *rn = arg;
    if (weft_failure_check(weft_result_failure(result), WEFT_ETIMEDOUT)) {
        fprintf(stderr, "%s: grace period over, closing %zu connection(s)\n", rn->name, connections(rn));
    } else if (weft_failed(result)) {
        say_failure(rn, weft_result_failure(result));
    }
    weft_result_free(result);
    return weft_none();
}

/* SIGINT or SIGTERM: the tree stops - every port stops accepting, then
 * each service drains - within the grace period; the reactor's shutdown
 * waits for it. */
static weft_deferred *stopping(void *arg)
{
    weft_runner *rn = arg;
    stopping_begins(rn);
    /* A grace of 0 closes at once: the service's deadline of 0 is none. */
    weft_deferred *d = weft_service_stop(rn->top, rn->grace > 0 ? rn->grace : 1e-9);
    size_t open = connections(rn);
    if (d && !weft_deferred_called(d) && open)
        fprintf(stderr, "%s: stopped accepting; waiting up to %gs for %zu connection(s)\n", rn->name, rn->grace,
                open);
    if (d && weft_deferred_add_errback(d, grace_over, rn) < 0) {
        weft_deferred_cancel(d);
    }
    return d;
}

static int run(weft_runner *rn)
{
    weft_failure *why = NULL;
    int status = rn->cmd->build(rn, rn->top, rn->args);
    if (status != OK || (status = add_metrics(rn)) != OK)
        return status;
    if (weft_service_privileged_start(rn->top, &why) < 0) {
        say_failure(rn, why);
        weft_failure_unref(why);
        return FAILED;
    }
    if ((rn->workers && (status = become_supervisor(rn)) != OK) || (status = pidfile_write(rn)) != OK ||
        (status = drop_privileges(rn)) != OK || (status = open_console(rn)) != OK)
        return status;
    if (rn->wk && weft__workers_start(rn->wk) < 0) {
        fprintf(stderr, "%s: out of memory\n", rn->name);
        return FAILED;
    }
    if (weft_service_start(rn->top, &why) < 0) {
        say_failure(rn, why);
        weft_failure_unref(why);
        return FAILED;
    }
    if (weft_reactor_add_trigger(rn->r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, stopping, rn, NULL) < 0 ||
        weft_reactor_add_trigger(rn->r, WEFT_PHASE_AFTER, WEFT_EVENT_STARTUP, started, rn, NULL) < 0 ||
        (rn->log_path && weft_reactor_add_signal(rn->r, SIGUSR1, reopen_log, rn) < 0) ||
        (!rn->wk && weft_reactor_add_signal(rn->r, SIGHUP, reload_plugins, rn) < 0)) {
        fprintf(stderr, "%s: out of memory\n", rn->name);
        return FAILED;
    }
    int err = weft_reactor_run(rn->r);
    if (err < 0) {
        fprintf(stderr, "%s: %s\n", rn->name, weft_strerror(err));
        return FAILED;
    }
    return OK;
}

/* Finds the command and parses every option, the runner's included; OK
 * when it is to run, else the exit status (--help said, or bad usage). */
static int parse(weft_runner *rn, int argc, char **argv, bool *help)
{
    const weft_option *const only_runner[] = {runner_options};
    char why[256];
    int at = 1;
    if (weft__args_parse(rn->args, argc, argv, &at, only_runner, 1, true, why, sizeof why) < 0) {
        fprintf(stderr, "weft: %s\n", why);
        return USAGE;
    }
    if (at == argc) {
        *help = true;
        return weft_args_has(rn->args, "help") ? OK : USAGE;
    }
    const char *name = argv[at++];
    if (strcmp(name, "help") == 0) {
        *help = true;
        return OK;
    }
    if (!(rn->cmd = weft__plugins_command(&rn->plugins, name, &rn->cmd_from))) {
        fprintf(stderr, "weft: no subcommand '%s' (weft --help lists them)\n", name);
        return USAGE;
    }
    rn->cmd_build = weft__plugin_hold(rn->cmd_from);
    snprintf(rn->name, sizeof rn->name, "weft %s", name);
    rn->cmd_at = at - 1;
    if (rn->cmd->run)
        return OK; /* its words are its own */
    const weft_option *const both[] = {runner_options, rn->cmd->options};
    int err = weft__args_parse(rn->args, argc, argv, &at, both, 2, false, why, sizeof why);
    if (err < 0 || at < argc) {
        if (err == 0)
            snprintf(why, sizeof why, "unexpected argument '%s'", argv[at]);
        fprintf(stderr, "%s: %s (%s --help for the options)\n", rn->name, why, rn->name);
        return USAGE;
    }
    return OK;
}

int weft_runner_main(int argc, char **argv, const struct weft_plugin_entry *builtin)
{
    if (argc == 2 && strcmp(argv[1], "--help-endpoints") == 0)
        return help_endpoints();
    weft_runner rn = {.name = "weft", .pid_fd = -1, .argc = argc, .argv = argv};
    weft__plugins_init(&rn.plugins);
    char why[256];
    int status = FAILED;
    bool help = false;
    if (weft__plugin_add_builtin(&rn.plugins, builtin, why, sizeof why) < 0) {
        fprintf(stderr, "weft: the built-in commands: %s\n", why);
        goto out;
    }
    if ((status = load_plugins(&rn, argc, argv)) != OK)
        goto out;
    if (!(rn.args = weft__args_new())) {
        status = FAILED;
        goto out;
    }
    status = parse(&rn, argc, argv, &help);
    if (status == OK && !help && rn.cmd && rn.cmd->run) {
        status = rn.cmd->run(argc - rn.cmd_at, argv + rn.cmd_at);
        goto out;
    }
    if (help || weft_args_has(rn.args, "help")) {
        if (rn.cmd)
            command_help(&rn, status == OK ? stdout : stderr);
        else
            general_help(&rn, status == OK ? stdout : stderr);
        goto out;
    }
    if (status != OK || (status = runner_values(&rn)) != OK || (status = pidfile_lock(&rn)) != OK)
        goto out;
    weft_reactor_options o = {.shutdown_timeout = rn.grace + 5};
    status = FAILED;
    if (weft_reactor_new(&o, &rn.r) < 0 || !(rn.top = weft_service_new(rn.r, "weft", NULL, NULL))) {
        fprintf(stderr, "%s: cannot make a reactor\n", rn.name);
        goto out;
    }
    if ((status = set_logging(&rn)) == OK)
        status = run(&rn);
out:
    weft_systemd_watchdog_stop(rn.watchdog);
    weft_console_free(rn.console);
    weft__workers_free(rn.wk);
    weft_service_free(rn.top);
    if (rn.cmd_build)
        weft__version_drop(rn.cmd_build);
    pidfile_remove(&rn);
    weft_reactor_free(rn.r);
    if (rn.log && rn.log != stderr)
        fclose(rn.log);
    weft__args_free(rn.args);
    /* Last: the services above may run the plugins' code until freed. */
    weft__plugins_free(&rn.plugins);
    return status;
}
