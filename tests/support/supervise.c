/* SPDX-License-Identifier: MIT */
/*
 * A supervisor program for test_supervisor, wired as a runner wires one:
 *
 *     supervise [--workers N] [--ready-timeout S] [--grace S] [--min-uptime S] -- WORKER [ARGS...]
 *
 * It listens on 127.0.0.1, port 0 ("listening on 127.0.0.1 (127.0.0.1:PORT)"),
 * or, started by a binary upgrade, adopts the sockets it was handed
 * (LISTEN_FDS for its own pid). SIGHUP reloads the workers, SIGUSR2
 * upgrades to this same program, SIGTERM and SIGINT stop. It says READY=1
 * to its own NOTIFY_SOCKET (the old supervisor of an upgrade) once its
 * workers are ready, and prints what happens on stdout for the test to wait
 * on: "all workers ready", "reload N done", "reload N failed: ...",
 * "upgrade done: new supervisor pid P", "upgrade failed: ...",
 * "supervisor pid P exits 0".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "weft/supervisor.h"
#include "weft/weft.h"

typedef struct runner {
    weft_reactor *r;
    weft_supervisor *s;
    char **self_argv;
    unsigned reloads;
} runner;

static void say(const char *fmt, ...) WEFT_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void notify_ready(void)
{
    const char *name = getenv("NOTIFY_SOCKET");
    if (!name || !*name || strlen(name) >= sizeof ((struct sockaddr_un *)0)->sun_path)
        return;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, name, strlen(name));
    if (name[0] == '@')
        sun.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
    if (sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sun, len) != 7)
        say("cannot notify %s", name);
    close(fd);
}

static weft_result started(void *arg, weft_result result)
{
    (void)arg;
    weft_failure *f = weft_result_failure(result);
    if (f)
        say("start failed: %s", weft_failure_message(f));
    else {
        say("all workers ready");
        notify_ready();
    }
    weft_result_free(result);
    return weft_none();
}

static weft_result reloaded(void *arg, weft_result result)
{
    runner *rn = arg;
    weft_failure *f = weft_result_failure(result);
    rn->reloads++;
    if (f)
        say("reload %u failed: %s", rn->reloads, weft_failure_message(f));
    else
        say("reload %u done", rn->reloads);
    weft_result_free(result);
    return weft_none();
}

static weft_result upgraded(void *arg, weft_result result)
{
    runner *rn = arg;
    weft_failure *f = weft_result_failure(result);
    if (f) {
        say("upgrade failed: %s", weft_failure_message(f));
    } else {
        say("upgrade done: new supervisor pid %d", (int)(intptr_t)result.value);
        weft_reactor_stop(rn->r);
    }
    weft_result_free(result);
    return weft_none();
}

static void watch(weft_deferred *d, weft_callback_fn fn, void *arg)
{
    if (!d || weft_deferred_add_both(d, fn, arg) < 0)
        say("out of memory");
    weft_deferred_unref(d);
}

static void on_hup(void *arg, int signo)
{
    (void)signo;
    runner *rn = arg;
    watch(weft_supervisor_reload(rn->s), reloaded, rn);
}

static void on_usr2(void *arg, int signo)
{
    (void)signo;
    runner *rn = arg;
    watch(weft_supervisor_upgrade(rn->s, rn->self_argv[0], rn->self_argv), upgraded, rn);
}

static int listen_loopback(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 1024) < 0)
        return -1;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    say("listening on 127.0.0.1 (127.0.0.1:%d)", ntohs(sin.sin_port));
    return fd;
}

int main(int argc, char **argv)
{
    weft_supervisor_options o = {0};
    int i = 1;
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
        double v = atof(argv[i + 1]);
        if (strcmp(argv[i], "--workers") == 0)
            o.workers = (unsigned)v;
        else if (strcmp(argv[i], "--ready-timeout") == 0)
            o.ready_timeout = v;
        else if (strcmp(argv[i], "--grace") == 0)
            o.grace = v;
        else if (strcmp(argv[i], "--min-uptime") == 0)
            o.min_uptime = v;
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "usage: supervise [--workers N] ... -- WORKER [ARGS...]\n");
        return 2;
    }
    o.path = argv[i + 1];
    o.argv = argv + i + 1;

    /* Handed over by an upgrade, or our own. */
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    bool adopted = pid && atoi(pid) == getpid() && fds && atoi(fds) == 1;
    int fd = adopted ? 3 : listen_loopback();
    if (fd < 0)
        return 1;
    if (adopted)
        say("supervisor pid %d adopted its socket", (int)getpid());
    o.fds = &fd;
    o.nfds = 1;
    const char *name = "web";
    o.names = &name;

    runner rn = {.self_argv = argv};
    if (weft_reactor_new(NULL, &rn.r) < 0)
        return 1;
    int rc = weft_supervisor_new(rn.r, &o, &rn.s);
    close(fd); /* the supervisor holds its own copy */
    if (rc < 0) {
        fprintf(stderr, "supervise: %s\n", weft_strerror(rc));
        weft_reactor_free(rn.r);
        return 1;
    }
    if (weft_reactor_add_signal(rn.r, SIGHUP, on_hup, &rn) < 0 || weft_reactor_add_signal(rn.r, SIGUSR2, on_usr2, &rn) < 0)
        return 1;
    watch(weft_supervisor_start(rn.s), started, &rn);
    weft_reactor_run(rn.r);
    weft_supervisor_free(rn.s);
    weft_reactor_free(rn.r);
    say("supervisor pid %d exits 0", (int)getpid());
    return 0;
}
