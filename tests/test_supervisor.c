/* SPDX-License-Identifier: MIT */
/*
 * The supervisor (supervisor.h) as real processes: tests/support/supervise
 * wired as a runner wires it (SIGHUP reloads, SIGUSR2 upgrades, SIGTERM
 * stops), tests/support/sup_worker as the worker (adopts descriptors 3...,
 * says READY=1, answers "ping" with its pid, drains on SIGTERM). Load comes
 * from threads of this test making one request per connection with plain
 * blocking sockets, counting refused connections and failed requests.
 * Every wait is on an event (a line the supervisor prints, an answer from
 * a new pid), bounded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "weft/supervisor.h"
#include "test.h"

enum { CLIENTS = 4, MAX_PIDS = 256 };

/* ---- requests ---- */

typedef enum outcome { ANSWERED, REFUSED, FAILED } outcome;

/* One request on its own connection: the answering pid in *pid. */
static outcome request(int port, const char *what, int *pid)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        close(fd);
        return REFUSED;
    }
    char line[64], buf[128];
    int n = snprintf(line, sizeof line, "%s\n", what);
    size_t got = 0;
    if (write(fd, line, (size_t)n) == n) {
        ssize_t k;
        while (got + 1 < sizeof buf && (k = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)k;
    }
    close(fd);
    buf[got] = '\0';
    return sscanf(buf, "pid %d", pid) == 1 ? ANSWERED : FAILED;
}

/* ---- load ---- */

typedef struct load {
    int port;
    atomic_bool stop;
    atomic_uint answered, refused, failed;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int pids[MAX_PIDS]; /* every pid that answered, first seen first */
    size_t npids;
    pthread_t threads[CLIENTS];
} load;

static void saw(load *l, int pid)
{
    pthread_mutex_lock(&l->lock);
    size_t i = 0;
    while (i < l->npids && l->pids[i] != pid)
        i++;
    if (i == l->npids && l->npids < MAX_PIDS)
        l->pids[l->npids++] = pid;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->lock);
}

static void *client(void *arg)
{
    load *l = arg;
    while (!atomic_load(&l->stop)) {
        int pid;
        switch (request(l->port, "ping", &pid)) {
        case ANSWERED:
            atomic_fetch_add(&l->answered, 1);
            saw(l, pid);
            break;
        case REFUSED:
            atomic_fetch_add(&l->refused, 1);
            break;
        case FAILED:
            atomic_fetch_add(&l->failed, 1);
            break;
        }
    }
    return NULL;
}

static void load_start(load *l, int port)
{
    memset(l, 0, sizeof *l);
    l->port = port;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->changed, NULL);
    for (int i = 0; i < CLIENTS; i++)
        cr_assert_eq(pthread_create(&l->threads[i], NULL, client, l), 0);
}

static void load_stop(load *l)
{
    atomic_store(&l->stop, true);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(l->threads[i], NULL);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->changed);
}

static bool known(const int *pids, size_t n, int pid)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

/* Waits (20 s at most) until `count` pids outside `before` have answered;
 * false if they did not. */
static bool wait_new_pids(load *l, const int *before, size_t nbefore, size_t count)
{
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += 20;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        size_t fresh = 0;
        for (size_t i = 0; i < l->npids; i++)
            fresh += !known(before, nbefore, l->pids[i]);
        if (fresh >= count || pthread_cond_timedwait(&l->changed, &l->lock, &end) == ETIMEDOUT) {
            pthread_mutex_unlock(&l->lock);
            return fresh >= count;
        }
    }
}

/* The pids seen so far, copied into pids; how many. */
static size_t seen(load *l, int *pids)
{
    pthread_mutex_lock(&l->lock);
    size_t n = l->npids;
    memcpy(pids, l->pids, n * sizeof *pids);
    pthread_mutex_unlock(&l->lock);
    return n;
}

/* ---- the supervisor ---- */

/* The supervisors a test started, which a failed test must not leave
 * running: SIGTERM stops their workers too. The new supervisor of an
 * upgrade becomes our child (we are a subreaper then) once the old exits. */
static pid_t running[2];

static void stop_running(void)
{
    for (int i = 0; i < 2; i++)
        if (running[i] > 0 && kill(running[i], SIGTERM) == 0)
            waitpid(running[i], NULL, 0);
}

/* weft_test_proc_finish, and the supervisor no longer ours to stop. */
static int finish(weft_test_proc *p, int sig)
{
    int status = weft_test_proc_finish(p, sig);
    running[0] = 0;
    return status;
}

/* Starts supervise with `workers` workers and the options in extra (NULL
 * terminated), and the worker's own arguments after it; returns its port
 * once every worker is ready. */
static int supervise(weft_test_proc *p, const char *workers, const char *const *extra, const char *const *worker_args)
{
    const char *argv[32] = {SUPERVISE_PATH, "--workers", workers};
    size_t n = 3;
    for (size_t i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n++] = "--";
    argv[n++] = SUP_WORKER_PATH;
    for (size_t i = 0; worker_args && worker_args[i]; i++)
        argv[n++] = worker_args[i];
    argv[n] = NULL;
    weft_test_proc_spawn(p, (char *const *)argv);
    running[0] = p->pid;
    int port = weft_test_proc_port(p);
    weft_test_proc_wait_for(p, "all workers ready");
    return port;
}

/* Waits for needle and drops the output up to its end, so the next wait
 * finds a later one. */
static void consume_through(weft_test_proc *p, const char *needle)
{
    const char *at = weft_test_proc_wait_for(p, needle);
    size_t off = (size_t)(at - p->text) + strlen(needle);
    memmove(p->text, p->text + off, p->len - off + 1);
    p->len -= off;
}

WEFT_TEST(supervisor, workers_share_the_socket_and_each_answers, .fini = stop_running)
{
    weft_test_proc p;
    int port = supervise(&p, "3", NULL, NULL);
    load l;
    load_start(&l, port);
    /* Three workers accepting from one queue: all three answer. */
    bool all = wait_new_pids(&l, NULL, 0, 3);
    load_stop(&l);
    cr_assert(all, "only %zu of 3 workers answered in %u requests", l.npids, atomic_load(&l.answered));
    cr_assert_eq(l.npids, 3, "%zu pids answered", l.npids);
    cr_assert_eq(atomic_load(&l.refused) + atomic_load(&l.failed), 0);
    cr_assert_eq(finish(&p, SIGTERM), 0, "%s", p.text);
}

WEFT_TEST(supervisor, a_killed_worker_is_replaced_and_only_its_requests_in_flight_fail, .fini = stop_running)
{
    weft_test_proc p;
    const char *extra[] = {"--min-uptime", "0.001", NULL};
    int port = supervise(&p, "2", extra, NULL);
    load l;
    load_start(&l, port);
    cr_assert(wait_new_pids(&l, NULL, 0, 2), "%s", p.text);
    int before[MAX_PIDS];
    size_t nbefore = seen(&l, before);
    cr_assert_eq(kill(before[0], SIGKILL), 0);
    weft_test_proc_wait_for(&p, "killed by signal 9 (SIGKILL)");
    /* A new worker takes its place and answers too. */
    bool replaced = wait_new_pids(&l, before, nbefore, 1);
    load_stop(&l);
    cr_log_info("SIGKILL under load: %u answered, %u failed, %u refused", atomic_load(&l.answered),
                atomic_load(&l.failed), atomic_load(&l.refused));
    cr_assert(replaced, "no new worker answered:\n%s", p.text);
    cr_assert_str_not_empty(weft_test_proc_wait_for(&p, "restarting worker"));
    /* What the killed worker had accepted is lost - one request per client
     * at most - and nothing else: the queue stayed with the others. */
    cr_assert_leq(atomic_load(&l.failed), CLIENTS, "%u failed", atomic_load(&l.failed));
    cr_assert_eq(atomic_load(&l.refused), 0);
    cr_assert_eq(finish(&p, SIGTERM), 0, "%s", p.text);
}

WEFT_TEST(supervisor, three_rolling_reloads_under_load_lose_no_request_and_refuse_no_connection, .fini = stop_running)
{
    weft_test_proc p;
    int port = supervise(&p, "2", NULL, NULL);
    load l;
    load_start(&l, port);
    cr_assert(wait_new_pids(&l, NULL, 0, 2), "%s", p.text);
    for (int i = 1; i <= 3; i++) {
        int before[MAX_PIDS];
        size_t nbefore = seen(&l, before);
        char done[32];
        snprintf(done, sizeof done, "reload %d done", i);
        cr_assert_eq(kill(p.pid, SIGHUP), 0);
        weft_test_proc_wait_for(&p, done);
        /* The new workers serve before the next reload. */
        cr_assert(wait_new_pids(&l, before, nbefore, 2), "reload %d: the new workers did not answer:\n%s", i, p.text);
    }
    load_stop(&l);
    cr_log_info("3 reloads under load: %u answered, %u failed, %u refused", atomic_load(&l.answered),
                atomic_load(&l.failed), atomic_load(&l.refused));
    cr_assert_eq(l.npids, 8, "%zu pids answered", l.npids);
    cr_assert_gt(atomic_load(&l.answered), 0);
    cr_assert_eq(atomic_load(&l.failed), 0, "%u of %u requests failed", atomic_load(&l.failed),
                 atomic_load(&l.answered));
    cr_assert_eq(atomic_load(&l.refused), 0, "%u connections refused", atomic_load(&l.refused));
    cr_assert_eq(finish(&p, SIGTERM), 0, "%s", p.text);
}

WEFT_TEST(supervisor, a_new_worker_never_ready_is_killed_and_the_old_one_kept, .fini = stop_running)
{
    char flag[] = "/tmp/weft-sup-not-ready-XXXXXX";
    int fd = mkstemp(flag);
    cr_assert_geq(fd, 0);
    close(fd);
    unlink(flag);
    weft_test_proc p;
    const char *extra[] = {"--ready-timeout", "0.5", NULL};
    const char *worker_args[] = {"--not-ready-if", flag, NULL};
    int port = supervise(&p, "1", extra, worker_args);
    int old = 0;
    cr_assert_eq(request(port, "ping", &old), ANSWERED);
    /* From now on a new worker never says READY=1. */
    fd = open(flag, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(kill(p.pid, SIGHUP), 0);
    weft_test_proc_wait_for(&p, "reload 1 failed");
    unlink(flag);
    cr_assert_str_not_empty(weft_test_proc_wait_for(&p, "not ready after 0.5 s: killed"));
    cr_assert_str_not_empty(weft_test_proc_wait_for(&p, "reload abandoned: worker 1 keeps pid"));
    int now = 0;
    cr_assert_eq(request(port, "ping", &now), ANSWERED);
    cr_assert_eq(now, old, "pid %d answers, not the old %d", now, old);
    cr_assert_eq(finish(&p, SIGTERM), 0, "%s", p.text);
}

WEFT_TEST(supervisor, a_worker_dying_quickly_is_restarted_with_growing_delays, .fini = stop_running)
{
    weft_test_proc p;
    const char *argv[] = {SUPERVISE_PATH, "--workers", "1", "--", "/bin/false", NULL};
    weft_test_proc_spawn(&p, (char *const *)argv);
    running[0] = p.pid;
    weft_test_proc_wait_for(&p, "start failed");
    cr_assert_str_not_empty(weft_test_proc_wait_for(&p, "worker 1 (pid"));
    cr_assert_str_not_empty(weft_test_proc_wait_for(&p, "exited with status 1"));
    /* procmon's backoff: 1 s, then 1.5 s (weft_backoff's defaults)... */
    weft_test_proc_wait_for(&p, "restarting worker 1 in 1 s");
    weft_test_proc_wait_for(&p, "restarting worker 1 in 1.5 s");
    cr_assert_eq(finish(&p, SIGTERM), 0, "%s", p.text);
}

WEFT_TEST(supervisor, stopping_with_requests_in_flight_drains_them_and_exits_zero, .fini = stop_running)
{
    weft_test_proc p;
    int port = supervise(&p, "2", NULL, NULL);
    /* Two requests the workers hold until they stop. */
    int held[2];
    for (int i = 0; i < 2; i++) {
        held[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        struct timeval tv = {20, 0};
        setsockopt(held[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        cr_assert_eq(connect(held[i], (struct sockaddr *)&sin, sizeof sin), 0);
        cr_assert_eq(write(held[i], "hold\n", 5), 5);
    }
    consume_through(&p, "holding a request");
    consume_through(&p, "holding a request");
    kill(p.pid, SIGTERM);
    for (int i = 0; i < 2; i++) {
        char buf[64] = {0};
        size_t got = 0;
        ssize_t k;
        while (got + 1 < sizeof buf && (k = read(held[i], buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)k;
        close(held[i]);
        cr_assert_not_null(strstr(buf, "drained"), "request %d got '%s'", i, buf);
    }
    cr_assert_eq(finish(&p, 0), 0, "%s", p.text);
    cr_assert_not_null(strstr(p.text, "exits 0"), "%s", p.text);
}

WEFT_TEST(supervisor, a_binary_upgrade_under_load_hands_the_socket_over_and_loses_nothing, .fini = stop_running)
{
    /* The new supervisor outlives the old: it becomes our child then. */
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    weft_test_proc p;
    int port = supervise(&p, "2", NULL, NULL);
    load l;
    load_start(&l, port);
    cr_assert(wait_new_pids(&l, NULL, 0, 2), "%s", p.text);
    int before[MAX_PIDS];
    size_t nbefore = seen(&l, before);
    cr_assert_eq(kill(p.pid, SIGUSR2), 0);
    const char *done = weft_test_proc_wait_for(&p, "upgrade done: new supervisor pid ");
    int next = atoi(done + strlen("upgrade done: new supervisor pid "));
    cr_assert_gt(next, 0);
    running[1] = next;
    int status;
    cr_assert_eq(waitpid(p.pid, &status, 0), p.pid);
    running[0] = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the old supervisor ended with %#x:\n%s", status, p.text);
    /* The new supervisor's workers serve; the old ones are gone. */
    cr_assert(wait_new_pids(&l, before, nbefore, 2), "%s", p.text);
    load_stop(&l);
    cr_log_info("upgrade under load: %u answered, %u failed, %u refused", atomic_load(&l.answered),
                atomic_load(&l.failed), atomic_load(&l.refused));
    cr_assert_eq(atomic_load(&l.failed), 0, "%u of %u requests failed", atomic_load(&l.failed),
                 atomic_load(&l.answered));
    cr_assert_eq(atomic_load(&l.refused), 0, "%u connections refused", atomic_load(&l.refused));
    cr_assert_eq(kill(next, SIGTERM), 0);
    char bye[64];
    snprintf(bye, sizeof bye, "supervisor pid %d exits 0", next);
    weft_test_proc_wait_for(&p, bye);
    cr_assert_eq(waitpid(next, &status, 0), next);
    running[1] = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the new supervisor ended with %#x:\n%s", status, p.text);
    close(p.out_fd);
}

WEFT_TEST(supervisor, an_upgrade_whose_supervisor_never_gets_ready_is_stopped_and_the_old_one_serves_on, .fini = stop_running)
{
    char flag[] = "/tmp/weft-sup-not-ready-XXXXXX";
    int fd = mkstemp(flag);
    cr_assert_geq(fd, 0);
    close(fd);
    unlink(flag);
    weft_test_proc p;
    const char *extra[] = {"--ready-timeout", "0.5", NULL};
    const char *worker_args[] = {"--not-ready-if", flag, NULL};
    int port = supervise(&p, "1", extra, worker_args);
    int old = 0;
    cr_assert_eq(request(port, "ping", &old), ANSWERED);
    /* The new supervisor's workers never get ready, so neither does it. */
    fd = open(flag, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(kill(p.pid, SIGUSR2), 0);
    weft_test_proc_wait_for(&p, "upgrade failed");
    unlink(flag);
    cr_assert_str_not_empty(weft_test_proc_wait_for(&p, "not ready after 0.5 s: stopped"));
    /* It stopped its workers and exited before the old one said so. */
    cr_assert_str_not_empty(weft_test_proc_wait_for(&p, "the old one goes on serving"));
    int now = 0;
    cr_assert_eq(request(port, "ping", &now), ANSWERED);
    cr_assert_eq(now, old, "pid %d answers, not the old %d", now, old);
    cr_assert_eq(finish(&p, SIGTERM), 0, "%s", p.text);
}

/* ---- the library in this process: options, and start, reload, stop with
 * every block weft allocated freed (WEFT_TEST's check) ---- */

WEFT_TEST(supervisor, options_that_cannot_work_are_refused)
{
    weft_reactor *r = weft_test_reactor();
    char *argv[] = {SUP_WORKER_PATH, NULL};
    int fd = 0;
    const char *colon = "a:b";
    weft_supervisor_options ok = {.path = SUP_WORKER_PATH, .argv = argv, .fds = &fd, .nfds = 1};
    weft_supervisor_options o;
    weft_supervisor *s = NULL;
    o = ok, o.path = NULL;
    cr_assert_eq(weft_supervisor_new(r, &o, &s), WEFT_EINVAL);
    o = ok, o.nfds = 0;
    cr_assert_eq(weft_supervisor_new(r, &o, &s), WEFT_EINVAL);
    o = ok, o.nfds = 65;
    cr_assert_eq(weft_supervisor_new(r, &o, &s), WEFT_EINVAL);
    o = ok, o.names = &colon;
    cr_assert_eq(weft_supervisor_new(r, &o, &s), WEFT_EINVAL, "':' separates LISTEN_FDNAMES");
    cr_assert_null(s);
    weft_reactor_free(r);
}

static int loopback_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(fd, 128), 0);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* Runs r until d fires; its failure, if any, fails the test. */
static void await_ok(weft_reactor *r, weft_deferred *d, const char *what)
{
    cr_assert_not_null(d);
    cr_assert_eq(weft_reactor_run_until(r, d, 20), 0, "%s never finished", what);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    weft_failure *f = weft_result_failure(res);
    cr_assert_null(f, "%s: %s", what, f ? weft_failure_message(f) : "");
    weft_deferred_unref(d);
}

WEFT_TEST(supervisor, start_reload_and_stop_through_the_library)
{
    weft_reactor *r = weft_test_reactor();
    int port;
    int fd = loopback_listener(&port);
    char *argv[] = {SUP_WORKER_PATH, NULL};
    weft_supervisor_options o = {.path = SUP_WORKER_PATH, .argv = argv, .fds = &fd, .nfds = 1, .workers = 2};
    weft_supervisor *s;
    cr_assert_eq(weft_supervisor_new(r, &o, &s), 0);
    close(fd); /* the supervisor holds its own */
    await_ok(r, weft_supervisor_start(s), "start");
    int first[2], then[2];
    cr_assert_eq(weft_supervisor_pids(s, first, 2), 2);
    await_ok(r, weft_supervisor_reload(s), "reload");
    cr_assert_eq(weft_supervisor_pids(s, then, 2), 2);
    for (int i = 0; i < 2; i++)
        cr_assert(!known(first, 2, then[i]), "pid %d was not replaced", then[i]);
    await_ok(r, weft_supervisor_stop(s), "stop");
    cr_assert_eq(weft_supervisor_pids(s, then, 2), 0);
    /* Nothing is left to reap: every worker has exited. */
    cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
    weft_supervisor_free(s);
    weft_reactor_free(r);
}
