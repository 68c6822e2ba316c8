/* SPDX-License-Identifier: MIT */
/*
 * The runner as operators run it, through the real weft binary: systemd
 * hearing READY=1, the watchdog's pings and STOPPING=1 on a NOTIFY_SOCKET of
 * the test's own; the admin console (--console) answering its owner only;
 * /metrics (--metrics) scraped with curl; workers (--workers) under load.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "proc.h"
#include "test.h"

#define LOCAL "tcp:0:interface=127.0.0.1"

/* ---- systemd ---- */

/* systemd's end of NOTIFY_SOCKET: a datagram socket in a directory of its
 * own, named in the environment the weft process inherits. */
typedef struct notify_socket {
    int fd;
    char dir[32], path[64];
} notify_socket;

static void notify_open(notify_socket *n)
{
    snprintf(n->dir, sizeof n->dir, "/tmp/weft-ops-XXXXXX");
    cr_assert_not_null(mkdtemp(n->dir));
    snprintf(n->path, sizeof n->path, "%s/notify", n->dir);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", n->path);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(n->fd, 0);
    cr_assert_eq(bind(n->fd, (struct sockaddr *)&sun, sizeof sun), 0, "%s", strerror(errno));
    cr_assert_eq(setenv("NOTIFY_SOCKET", n->path, 1), 0);
}

/* The next message, waiting at most 10 s; "" when none came. */
static const char *notify_next(notify_socket *n, char *buf, size_t size)
{
    struct pollfd pfd = {n->fd, POLLIN, 0};
    buf[0] = '\0';
    if (poll(&pfd, 1, 10000) != 1)
        return buf;
    ssize_t len = recv(n->fd, buf, size - 1, 0);
    cr_assert_geq(len, 0);
    buf[len] = '\0';
    return buf;
}

static void notify_close(notify_socket *n)
{
    close(n->fd);
    unsetenv("NOTIFY_SOCKET");
    unlink(n->path);
    rmdir(n->dir);
}

WEFT_TEST(ops, weft_tells_systemd_ready_once_listening_pings_its_watchdog_and_says_stopping, .timeout = 60)
{
    notify_socket n;
    notify_open(&n);
    cr_assert_eq(setenv("WATCHDOG_USEC", "200000", 1), 0); /* a ping every 0.1 s */
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "echo", "--listen", LOCAL, NULL});
    unsetenv("WATCHDOG_USEC");
    int port = weft_test_proc_port(&p);
    char buf[256];
    cr_assert_str_eq(notify_next(&n, buf, sizeof buf), "READY=1");
    /* READY=1 came once the port listened: it answers now. */
    int fd = weft_test_dial(port);
    cr_assert_eq(write(fd, "x", 1), 1);
    cr_assert_eq(read(fd, buf, 1), 1);
    close(fd);
    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(notify_next(&n, buf, sizeof buf), "WATCHDOG=1");
    kill(p.pid, SIGTERM);
    const char *m;
    while (strcmp(m = notify_next(&n, buf, sizeof buf), "WATCHDOG=1") == 0)
        ;
    cr_assert_str_eq(m, "STOPPING=1");
    cr_assert_eq(weft_test_proc_finish(&p, 0), 0, "%s", p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
    notify_close(&n);
}

/* ---- the console ---- */

static weft_test_output ctl(const char *path, char *a1, char *a2, char *a3)
{
    char *argv[] = {WEFT_CLI_PATH, "ctl", "--socket", (char *)path, a1, a2, a3, NULL};
    return weft_test_run(argv, NULL, 0, 30);
}

WEFT_TEST(ops, the_console_shows_the_service_tree_and_stop_stops_with_its_grace, .timeout = 60)
{
    char dir[] = "/tmp/weft-ops-XXXXXX", path[128], want[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/weft.sock", dir);
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "echo", "--listen", LOCAL, "--console", path, "--grace", "30",
                                        NULL});
    int port = weft_test_proc_port(&p);
    weft_test_proc_wait_for(&p, "console on");
    int held = weft_test_dial(port);
    cr_assert_eq(write(held, "x", 1), 1);
    char c;
    cr_assert_eq(read(held, &c, 1), 1);

    weft_test_output o = ctl(path, "status", NULL, NULL);
    cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
    cr_assert_not_null(strstr(o.out, "\nuptime_seconds "), "%s", o.out); /* the console's own figures */
    cr_assert_not_null(strstr(o.out, "service depth=0 running=1 name=weft\n"), "%s", o.out);
    snprintf(want, sizeof want, "service depth=2 running=1 connections=1 address=127.0.0.1:%d name=%s\n", port, LOCAL);
    cr_assert_not_null(strstr(o.out, want), "%s", o.out);
    weft_test_output_free(&o);

    /* The reactor waits --grace + 5 s for the tree: no more. */
    o = ctl(path, "stop", "--grace", "99");
    cr_assert_eq(o.status, 1);
    cr_assert_not_null(strstr(o.err, "at most --grace (30s)"), "%s", o.err);
    weft_test_output_free(&o);

    /* A grace of 0: the held connection is closed at once, not in 30 s. */
    o = ctl(path, "stop", "--grace", "0");
    cr_assert_eq(o.status, 0, "%s", o.err);
    weft_test_output_free(&o);
    cr_assert_leq(read(held, &c, 1), 0, "closed (or reset)");
    close(held);
    cr_assert_eq(weft_test_proc_finish(&p, 0), 0, "%s", p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
    struct stat st;
    cr_assert_neq(stat(path, &st), 0, "the socket file is removed");
    rmdir(dir);
}

WEFT_TEST(ops, the_console_is_made_as_the_dropped_user_and_refuses_root, .timeout = 60)
{
    cr_assert_eq(geteuid(), 0, "this test needs root, to become nobody");
    struct passwd *nobody = getpwnam("nobody");
    cr_assert_not_null(nobody);
    char dir[] = "/tmp/weft-ops-XXXXXX", path[160];
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chown(dir, nobody->pw_uid, nobody->pw_gid), 0);
    snprintf(path, sizeof path, "%s/run/weft.sock", dir);
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "--uid", "nobody", "echo", "--listen", LOCAL, "--console",
                                        path, NULL});
    weft_test_proc_wait_for(&p, "console on");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_uid, nobody->pw_uid, "made once privileges were dropped");
    cr_assert_eq(st.st_mode & 0777, 0600);

    /* root is not the owner: refused, whatever it may do otherwise */
    weft_test_output o = ctl(path, "status", NULL, NULL);
    cr_assert_eq(o.status, 1, "%s%s", o.out, o.err);
    cr_assert_not_null(strstr(o.err, "permission denied"), "%s", o.err);
    cr_assert_null(strstr(o.out, "uptime"), "%s", o.out);
    weft_test_output_free(&o);
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    cr_assert_not_null(strstr(p.text, "is not the owner"), "logged: %s", p.text);
    char sub[160];
    snprintf(sub, sizeof sub, "%s/run", dir);
    rmdir(sub);
    rmdir(dir);
}

/* ---- metrics ---- */

/* The port of the "listening on ENDPOINT (ADDRESS:PORT)" line. */
static int port_of(weft_test_proc *p, const char *endpoint)
{
    char line[256];
    snprintf(line, sizeof line, "listening on %s (", endpoint);
    const char *at = weft_test_proc_wait_for(p, line), *paren = strchr(at, ')');
    cr_assert_not_null(paren);
    const char *colon = paren;
    while (colon > at && *colon != ':')
        colon--;
    return atoi(colon + 1);
}

WEFT_TEST(ops, metrics_are_served_for_prometheus_on_the_metrics_endpoint, .timeout = 60)
{
    if (!weft_test_have("curl"))
        cr_skip_test("curl is not installed");
    weft_test_proc p;
    /* two spellings of port 0 on 127.0.0.1, to tell the lines apart */
    const char *scrape = "tcp:port=0:interface=127.0.0.1";
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "echo", "--listen", LOCAL, "--metrics", (char *)scrape, NULL});
    int echo = port_of(&p, LOCAL), metrics = port_of(&p, scrape);
    cr_assert_neq(echo, metrics);
    int fd = weft_test_dial(echo);
    cr_assert_eq(write(fd, "x", 1), 1);
    char c;
    cr_assert_eq(read(fd, &c, 1), 1);
    close(fd);

    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", metrics);
    weft_test_output o = weft_test_run((char *[]){"curl", "-sS", "-i", url, NULL}, NULL, 0, 30);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_not_null(strstr(o.out, "HTTP/1.1 200"), "%s", o.out);
    cr_assert_not_null(strstr(o.out, "text/plain; version=0.0.4"), "%s", o.out);
    char want[128];
    snprintf(want, sizeof want, "weft_connections_accepted_total{port=\"127.0.0.1:%d\"} 1\n", echo);
    cr_assert_not_null(strstr(o.out, want), "%s", o.out);
    cr_assert_not_null(strstr(o.out, "process_resident_memory_bytes "), "%s", o.out);
    weft_test_output_free(&o);
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
}

/* ---- workers ---- */

/* A directory with one file, for weft web --path. */
typedef struct site {
    char dir[32], file[64];
} site;

static void site_make(site *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/weft-ops-XXXXXX");
    cr_assert_not_null(mkdtemp(s->dir));
    snprintf(s->file, sizeof s->file, "%s/hello.txt", s->dir);
    FILE *f = fopen(s->file, "w");
    cr_assert_not_null(f);
    fputs("hello from a worker\n", f);
    fclose(f);
}

static void site_remove(site *s)
{
    unlink(s->file);
    rmdir(s->dir);
}

/* `weft web --workers 2` on the site (with its console at `console`
 * unless NULL); its port once every worker is ready. */
static int web_workers_console(weft_test_proc *p, site *s, const char *console)
{
    char *argv[] = {WEFT_CLI_PATH, "web", "--workers", "2", "--listen", LOCAL, "--path", s->dir, "--grace", "5",
                    "--console", (char *)console, NULL};
    if (!console)
        argv[10] = NULL;
    weft_test_proc_spawn(p, argv);
    int port = port_of(p, LOCAL);
    weft_test_proc_wait_for(p, "every worker ready (2)");
    return port;
}

static int web_workers(weft_test_proc *p, site *s)
{
    return web_workers_console(p, s, NULL);
}

/* wrk's figures: requests done, non-2xx/3xx responses, socket errors of
 * every kind. */
typedef struct load {
    long requests, bad_status, errors;
} load;

static void wrk_start(weft_test_proc *wrk, int port, const char *seconds)
{
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello.txt", port);
    /* stdbuf: wrk's stdout is a pipe, and "Running" would otherwise come
     * only at its end */
    weft_test_proc_spawn(wrk, (char *[]){"stdbuf", "-oL", "wrk", "-t1", "-c20", "-d", (char *)seconds, url, NULL});
    weft_test_proc_wait_for(wrk, "Running");
}

static load wrk_finish(weft_test_proc *wrk)
{
    cr_assert_eq(weft_test_proc_finish(wrk, 0), 0, "%s", wrk->text);
    load l = {0};
    const char *at = strstr(wrk->text, " requests in ");
    cr_assert_not_null(at, "%s", wrk->text);
    while (at > wrk->text && at[-1] != ' ' && at[-1] != '\n')
        at--;
    l.requests = atol(at);
    if ((at = strstr(wrk->text, "Non-2xx or 3xx responses: ")))
        l.bad_status = atol(at + strlen("Non-2xx or 3xx responses: "));
    if ((at = strstr(wrk->text, "Socket errors: "))) {
        long c = 0, r = 0, w = 0, t = 0;
        cr_assert_eq(sscanf(at, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &c, &r, &w, &t), 4,
                     "%s", wrk->text);
        l.errors = c + r + w + t;
    }
    return l;
}

WEFT_TEST(ops, three_reloads_under_load_lose_no_request_and_refuse_no_connection, .timeout = 120)
{
    if (!weft_test_have("wrk"))
        cr_skip_test("wrk is not installed (Debian's wrk)");
    site s;
    site_make(&s);
    weft_test_proc p, wrk;
    int port = web_workers(&p, &s);
    wrk_start(&wrk, port, "10s");
    char done[64];
    for (int i = 1; i <= 3; i++) {
        kill(p.pid, SIGHUP);
        snprintf(done, sizeof done, "reload %d done", i);
        weft_test_proc_wait_for(&p, done);
    }
    /* the reloads happened while wrk ran */
    cr_assert_eq(waitpid(wrk.pid, NULL, WNOHANG), 0, "wrk ended before the third reload was done: %s", p.text);
    load l = wrk_finish(&wrk);
    cr_assert_gt(l.requests, 0, "%s", wrk.text);
    cr_assert_eq(l.bad_status, 0, "%s", wrk.text);
    cr_assert_eq(l.errors, 0, "%s", wrk.text);
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
    site_remove(&s);
}

WEFT_TEST(ops, a_worker_killed_under_load_is_replaced_and_only_its_requests_in_flight_fail, .timeout = 120)
{
    if (!weft_test_have("wrk"))
        cr_skip_test("wrk is not installed (Debian's wrk)");
    site s;
    site_make(&s);
    weft_test_proc p, wrk;
    int port = web_workers(&p, &s);
    const char *line = weft_test_proc_wait_for(&p, "worker 1 (pid ");
    int victim = atoi(line + strlen("worker 1 (pid "));
    cr_assert_gt(victim, 0);
    wrk_start(&wrk, port, "6s");
    cr_assert_eq(kill(victim, SIGKILL), 0);
    char said[96];
    snprintf(said, sizeof said, "worker 1 (pid %d) killed by signal 9", victim);
    const char *at = weft_test_proc_wait_for(&p, said);
    /* forget what came before, so that the ready line waited for is the new worker's */
    size_t cut = (size_t)(at - p.text);
    memmove(p.text, at, p.len - cut + 1);
    p.len -= cut;
    const char *ready = weft_test_proc_wait_for(&p, ") ready");
    const char *start = ready;
    while (start > p.text && start[-1] != '\n')
        start--;
    cr_assert_not_null(strstr(start, "] worker 1 (pid "), "not worker 1: %s", p.text);
    cr_assert_eq(waitpid(wrk.pid, NULL, WNOHANG), 0, "wrk ended before the worker was replaced: %s", p.text);
    load l = wrk_finish(&wrk);
    cr_assert_gt(l.requests, 0, "%s", wrk.text);
    cr_assert_eq(l.bad_status, 0, "%s", wrk.text);
    /* at most a request per connection was in flight on the killed worker */
    cr_assert_leq(l.errors, 20, "%s", wrk.text);
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
    site_remove(&s);
}

WEFT_TEST(ops, sigterm_stops_the_workers_with_clients_connected_and_exits_0, .timeout = 60)
{
    site s;
    site_make(&s);
    weft_test_proc p;
    char console[64];
    snprintf(console, sizeof console, "%s/weft.sock", s.dir);
    int port = web_workers_console(&p, &s, console);
    /* the supervisor's console lists its workers */
    weft_test_output o = ctl(console, "status", NULL, NULL);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_not_null(strstr(o.out, "\nworker 0 pid="), "%s", o.out);
    cr_assert_not_null(strstr(o.out, "\nworker 1 pid="), "%s", o.out);
    weft_test_output_free(&o);
    /* one client between requests (keep-alive), one in the middle of one */
    int idle = weft_test_dial(port), partial = weft_test_dial(port);
    const char *get = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(write(idle, get, strlen(get)), (ssize_t)strlen(get));
    char buf[512];
    cr_assert_gt(read(idle, buf, sizeof buf), 0);
    cr_assert_eq(write(partial, "GET /hello.txt HTTP/1.1\r\n", 25), 25);
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
    cr_assert_not_null(strstr(p.text, "exited with status 0"), "%s", p.text);
    close(idle);
    close(partial);
    site_remove(&s);
}

WEFT_TEST(ops, sigusr2_hands_the_ports_to_a_new_supervisor_and_the_old_one_exits_0, .timeout = 60)
{
    site s;
    site_make(&s);
    weft_test_proc p;
    int port = web_workers(&p, &s);
    kill(p.pid, SIGUSR2);
    const char *at = weft_test_proc_wait_for(&p, "upgrade done: the new supervisor is pid ");
    int next = atoi(at + strlen("upgrade done: the new supervisor is pid "));
    cr_assert_gt(next, 0);
    /* the same port, served by the new supervisor's workers */
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello.txt", port);
    weft_test_output o = weft_test_run((char *[]){"curl", "-sS", url, NULL}, NULL, 0, 30);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_str_eq(o.out, "hello from a worker\n");
    weft_test_output_free(&o);
    /* The new one is not our child: its output is the same pipe, which
     * ends once it and its workers are gone. */
    cr_assert_eq(kill(next, SIGTERM), 0);
    cr_assert_eq(weft_test_proc_finish(&p, 0), 0, "%s", p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
    site_remove(&s);
}
