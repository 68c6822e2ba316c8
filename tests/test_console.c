/* SPDX-License-Identifier: MIT */
/* The admin console (console.h) over a real UNIX socket: the file's mode and
 * who may talk (a child that becomes nobody), the protocol and the built-in
 * commands, a command answering later, and the abuse limits; then a whole
 * process (tests/support/console_server) driven by `weft ctl`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "test.h"

/* A private directory per test, removed at the end with what is in it. */
typedef struct place {
    char dir[32], path[64];
} place;

static void place_make(place *p)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/weft-con-XXXXXX");
    cr_assert_not_null(mkdtemp(p->dir));
    snprintf(p->path, sizeof p->path, "%s/c.sock", p->dir);
}

static void place_remove(place *p)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
    cr_assert_eq(system(cmd), 0);
}

static int dial(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0, "connect %s: %s", path, strerror(errno));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* What a client has read, and whether the server has closed. */
typedef struct conv {
    char got[65536];
    size_t len;
    bool closed;
} conv;

static void pump(weft_reactor *r, int fd, conv *c)
{
    cr_assert_eq(weft_reactor_iterate(r, 0.01), 0);
    for (;;) {
        ssize_t n = read(fd, c->got + c->len, sizeof c->got - 1 - c->len);
        if (n > 0) {
            c->len += (size_t)n;
            c->got[c->len] = '\0';
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN))
            c->closed = true;
        return;
    }
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Sends `lines` and iterates until `replies` terminators ("ok" or "error:"
 * lines) have come back, or the server closed. */
static void converse(weft_reactor *r, int fd, const char *lines, size_t replies, conv *c)
{
    memset(c, 0, sizeof *c);
    cr_assert_eq(write(fd, lines, strlen(lines)), (ssize_t)strlen(lines));
    for (int i = 0; i < 2000 && !c->closed; i++) {
        pump(r, fd, c);
        size_t done = (strncmp(c->got, "ok\n", 3) == 0) + count(c->got, "\nok\n") + (strncmp(c->got, "error: ", 7) == 0) +
                      count(c->got, "\nerror: ");
        if (done >= replies)
            return;
    }
    cr_assert(c->closed, "no reply; got so far: %s", c->got);
}

static weft_console *console_at(weft_reactor *r, const char *path, const weft_console_options *o)
{
    weft_console *con;
    int err = weft_console_new(r, path, o, &con);
    cr_assert_eq(err, 0, "weft_console_new: %s", weft_strerror(err));
    return con;
}

WEFT_TEST(console, the_socket_is_made_0600_whatever_the_umask)
{
    place p;
    place_make(&p);
    weft_reactor *r = weft_test_reactor();
    mode_t old = umask(0);
    weft_console *con = console_at(r, p.path, NULL);
    umask(old);
    struct stat st;
    cr_assert_eq(stat(p.path, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
    cr_assert_str_eq(weft_console_path(con), p.path);
    weft_console_free(con);
    cr_assert_neq(stat(p.path, &st), 0, "the socket file outlived the console");
    weft_reactor_free(r);
    place_remove(&p);
}

WEFT_TEST(console, a_missing_directory_is_made_private)
{
    place p;
    place_make(&p);
    char path[160];
    snprintf(path, sizeof path, "%s/run/c.sock", p.dir);
    weft_reactor *r = weft_test_reactor();
    weft_console *con = console_at(r, path, NULL);
    char dir[160];
    snprintf(dir, sizeof dir, "%s/run", p.dir);
    struct stat st;
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0700);
    weft_console_free(con);
    weft_reactor_free(r);
    place_remove(&p);
}

WEFT_TEST(console, a_stale_socket_file_is_replaced_and_a_live_one_refused)
{
    place p;
    place_make(&p);
    /* stale: bound by a socket that has since closed */
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", p.path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    close(fd);
    weft_reactor *r = weft_test_reactor();
    weft_console *con = console_at(r, p.path, NULL);

    /* live: this console answers there */
    weft_console *second;
    cr_assert_eq(weft_console_new(r, p.path, NULL, &second), -EADDRINUSE);
    int c = dial(p.path); /* the first still serves */
    conv cv;
    converse(r, c, "help\n", 1, &cv);
    cr_assert(strstr(cv.got, "\nok\n"), "%s", cv.got);
    close(c);
    weft_console_free(con);

    /* not a socket: not ours to remove */
    FILE *f = fopen(p.path, "w");
    fclose(f);
    cr_assert_eq(weft_console_new(r, p.path, NULL, &second), -EEXIST);
    cr_assert_eq(weft_console_new(r, "", NULL, &second), WEFT_EINVAL);
    weft_reactor_free(r);
    place_remove(&p);
}

WEFT_TEST(console, help_status_and_log_level)
{
    place p;
    place_make(&p);
    weft_reactor *r = weft_test_reactor();
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_address a;
    weft_address_from_ip("127.0.0.1", 0, &a);
    weft_port *port;
    cr_assert_eq(weft_listen(r, &a, &echo, NULL, &port), 0);
    weft_port_address(port, &a);
    char name[64];
    weft_address_format(&a, name, sizeof name);

    weft_console *con = console_at(r, p.path, NULL);
    int c = dial(p.path);
    conv cv;
    converse(r, c, "help\n", 1, &cv);
    cr_assert(strstr(cv.got, "| status: "), "%s", cv.got);
    cr_assert(strstr(cv.got, "| log-level [NAMESPACE=]LEVEL"), "%s", cv.got);

    converse(r, c, "status\n", 1, &cv);
    char want[128];
    snprintf(want, sizeof want, "| pid %d\n", (int)getpid());
    cr_assert(strstr(cv.got, want), "%s", cv.got);
    cr_assert(strstr(cv.got, "| connections_open 1\n"), "%s", cv.got); /* this client */
    snprintf(want, sizeof want, " name=%s\n", name);
    cr_assert(strstr(cv.got, want), "%s", cv.got);
    cr_assert(strstr(cv.got, "| loop_lag_max_seconds "), "%s", cv.got);
    cr_assert_eq(strcmp(cv.got + cv.len - 3, "ok\n"), 0, "%s", cv.got);
    /* every line but the last is output */
    for (char *l = cv.got; l < cv.got + cv.len - 3; l = strchr(l, '\n') + 1)
        cr_assert_eq(strncmp(l, "| ", 2), 0, "%s", l);

    weft_logger *lg = weft_reactor_logger(r);
    cr_assert_not(weft_logger_enabled(lg, WEFT_LOG_DEBUG, "weft.http"));
    converse(r, c, "log-level weft.http=debug\r\n", 1, &cv);
    cr_assert_str_eq(cv.got, "ok\n");
    cr_assert(weft_logger_enabled(lg, WEFT_LOG_DEBUG, "weft.http.access"));
    cr_assert_not(weft_logger_enabled(lg, WEFT_LOG_DEBUG, "weft.net"));
    converse(r, c, "log-level warn\n", 1, &cv);
    cr_assert_str_eq(cv.got, "ok\n");
    cr_assert_not(weft_logger_enabled(lg, WEFT_LOG_INFO, "weft.net"));
    converse(r, c, "log-level loud\n", 1, &cv);
    cr_assert(strncmp(cv.got, "error: no log level 'loud'", 26) == 0, "%s", cv.got);
    converse(r, c, "\n  \nnosuch thing\n", 1, &cv); /* blank lines get no reply */
    cr_assert_str_eq(cv.got, "error: unknown command 'nosuch' (try help)\n");

    close(c);
    weft_console_free(con);
    weft_deferred_unref(weft_port_stop(port));
    weft_reactor_free(r);
    place_remove(&p);
}

/* A command that answers from the loop, as a reload waiting on a Deferred. */
static void answer_later(void *arg)
{
    weft_console_reply *reply = arg;
    weft_console_reply_line(reply, "later, from the loop");
    weft_console_reply_ok(reply);
}

static void later(void *arg, weft_console_reply *reply, int argc, char **argv)
{
    weft_timer t;
    cr_assert_eq(argc, 2);
    cr_assert_str_eq(argv[1], "please");
    cr_assert_eq(weft_call_later(arg, 0.01, answer_later, reply, &t), 0);
}

static void shout(void *arg, weft_console_reply *reply, int argc, char **argv)
{
    (void)arg;
    (void)argc;
    weft_console_reply_error(reply, "%s!", argv[0]);
}

WEFT_TEST(console, commands_added_by_name_answer_in_order_even_from_the_loop)
{
    place p;
    place_make(&p);
    weft_reactor *r = weft_test_reactor();
    weft_console *con = console_at(r, p.path, NULL);
    cr_assert_eq(weft_console_add_command(con, "later", "later please: answers from the loop", later, r), 0);
    cr_assert_eq(weft_console_add_command(con, "help", "help: replaced", shout, NULL), 0);
    cr_assert_eq(weft_console_add_command(con, "two words", "x", shout, NULL), WEFT_EINVAL);
    int c = dial(p.path);
    conv cv;
    /* pipelined: the second waits for the first's reply */
    converse(r, c, "later please\nhelp\n", 2, &cv);
    cr_assert_str_eq(cv.got, "| later, from the loop\nok\nerror: help!\n");
    close(c);
    weft_console_free(con);
    weft_reactor_free(r);
    place_remove(&p);
}

WEFT_TEST(console, a_reply_under_way_outlives_its_client_and_the_console)
{
    place p;
    place_make(&p);
    weft_reactor *r = weft_test_reactor();
    weft_console *con = console_at(r, p.path, NULL);
    cr_assert_eq(weft_console_add_command(con, "later", "later please", later, r), 0);
    int c = dial(p.path);
    cr_assert_eq(write(c, "later please\n", 13), 13);
    conv cv = {0};
    pump(r, c, &cv);
    pump(r, c, &cv);
    close(c);
    weft_console_free(con);
    /* the reply is finished after both have gone: nothing to say it to */
    for (int i = 0; i < 20; i++)
        weft_reactor_iterate(r, 0.01);
    weft_reactor_free(r);
    place_remove(&p);
}

WEFT_TEST(console, a_peer_of_another_user_is_refused_and_logged_whatever_the_mode)
{
    cr_assert_eq(geteuid(), 0, "this test needs root, to become nobody");
    struct passwd *nobody = getpwnam("nobody");
    cr_assert_not_null(nobody);
    place p;
    place_make(&p);
    weft_reactor *r = weft_test_reactor();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_console *con = console_at(r, p.path, NULL);
    /* everyone may reach and write the socket: the check must hold alone */
    cr_assert_eq(chmod(p.dir, 0755), 0);
    cr_assert_eq(chmod(p.path, 0777), 0);

    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* the child: nobody, asking for the status */
        close(pipefd[0]);
        if (setgid(nobody->pw_gid) < 0 || setuid(nobody->pw_uid) < 0)
            _exit(3);
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s", p.path);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
            _exit(4);
        if (send(fd, "status\n", 7, MSG_NOSIGNAL) != 7) {
            /* the refusal may have closed the connection first */
        }
        char buf[4096];
        size_t len = 0;
        ssize_t n;
        while (len < sizeof buf && (n = read(fd, buf + len, sizeof buf - len)) > 0)
            len += (size_t)n;
        if (write(pipefd[1], buf, len) < 0)
            _exit(5);
        _exit(0);
    }
    close(pipefd[1]);
    int status = -1;
    for (int i = 0; i < 2000; i++) {
        weft_reactor_iterate(r, 0.01);
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed: %d", status);
    char said[4096] = "";
    ssize_t n = read(pipefd[0], said, sizeof said - 1);
    close(pipefd[0]);
    cr_assert_gt(n, 0);
    said[n] = '\0';
    /* refused: told so, and nothing of the status */
    cr_assert_str_eq(said, "error: permission denied\n");
    char want[128];
    snprintf(want, sizeof want, "uid %u is not the owner (uid 0)", (unsigned)nobody->pw_uid);
    cr_assert(weft_test_log_contains(&log, want), "not logged");
    weft_console_free(con);
    weft_reactor_free(r);
    place_remove(&p);
}

/* Root was let in (it can ptrace the process anyway); the rule is now that
 * a console serves exactly one user, its owner. */
WEFT_TEST(console, root_is_refused_by_a_console_another_user_owns)
{
    cr_assert_eq(geteuid(), 0, "this test needs root, to become nobody");
    struct passwd *nobody = getpwnam("nobody");
    cr_assert_not_null(nobody);
    place p;
    place_make(&p);
    cr_assert_eq(chown(p.dir, nobody->pw_uid, nobody->pw_gid), 0);
    int ready[2], done[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(done), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* the child: nobody, serving a console until told to stop */
        close(ready[0]);
        close(done[1]);
        weft_reactor *r;
        weft_console *con;
        if (setgid(nobody->pw_gid) < 0 || setuid(nobody->pw_uid) < 0 || weft_reactor_new(NULL, &r) < 0 ||
            weft_console_new(r, p.path, NULL, &con) < 0)
            _exit(3);
        if (write(ready[1], "r", 1) != 1)
            _exit(4);
        struct pollfd pfd = {done[0], POLLIN, 0};
        while (poll(&pfd, 1, 0) == 0)
            weft_reactor_iterate(r, 0.01);
        weft_console_free(con);
        weft_reactor_free(r);
        _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    struct pollfd pfd = {ready[0], POLLIN, 0};
    char c;
    cr_assert_eq(poll(&pfd, 1, 20000), 1, "the child did not start its console");
    cr_assert_eq(read(ready[0], &c, 1), 1, "the child could not start its console");
    int fd = dial(p.path);
    fcntl(fd, F_SETFL, 0);
    /* served, the connection would stay open: bounded, not hung */
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (send(fd, "status\n", 7, MSG_NOSIGNAL) != 7) {
        /* the refusal may have closed the connection first */
    }
    char said[4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof said - 1 && (n = read(fd, said + len, sizeof said - 1 - len)) > 0)
        len += (size_t)n;
    said[len] = '\0';
    close(fd);
    close(done[1]);
    close(ready[0]);
    int status = -1;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed: %d", status);
    cr_assert_str_eq(said, "error: permission denied\n");
    place_remove(&p);
}

WEFT_TEST(console, a_line_too_long_is_answered_and_the_connection_closed)
{
    place p;
    place_make(&p);
    weft_reactor *r = weft_test_reactor();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_console *con = console_at(r, p.path, NULL);
    int c = dial(p.path);
    char line[5000];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    conv cv;
    converse(r, c, line, 1, &cv);
    for (int i = 0; i < 2000 && !cv.closed; i++)
        pump(r, c, &cv);
    cr_assert(cv.closed);
    cr_assert_str_eq(cv.got, "error: line too long\n");
    cr_assert(weft_test_log_contains(&log, "longer than 4096 bytes"));
    close(c);
    /* a line of exactly 4096 bytes is a command */
    c = dial(p.path);
    memset(line, 'y', 4096);
    line[4096] = '\n';
    line[4097] = '\0';
    converse(r, c, line, 1, &cv);
    cr_assert(strncmp(cv.got, "error: unknown command 'yyy", 27) == 0, "%s", cv.got);
    close(c);
    weft_console_free(con);
    weft_reactor_free(r);
    place_remove(&p);
}

WEFT_TEST(console, a_flood_of_commands_is_run_a_few_dozen_at_a_time)
{
    place p;
    place_make(&p);
    weft_reactor *r = weft_test_reactor();
    weft_console *con = console_at(r, p.path, NULL);
    cr_assert_eq(weft_console_add_command(con, "x", "x", shout, NULL), 0);
    int c = dial(p.path);
    char flood[600] = "";
    for (int i = 0; i < 200; i++)
        strcat(flood, "x\n");
    cr_assert_eq(write(c, flood, strlen(flood)), (ssize_t)strlen(flood));
    conv cv = {0};
    size_t done = 0, most = 0;
    for (int i = 0; i < 2000 && done < 200; i++) {
        pump(r, c, &cv);
        size_t now = count(cv.got, "error: x!\n");
        most = now - done > most ? now - done : most;
        done = now;
    }
    cr_assert_eq(done, 200);
    /* 32 as the bytes are read, 32 more in the close step */
    cr_assert_leq(most, 64, "%zu commands ran in one iteration", most);
    close(c);
    weft_console_free(con);
    weft_reactor_free(r);
    place_remove(&p);
}

WEFT_TEST(console, a_client_that_never_reads_its_replies_is_disconnected)
{
    place p;
    place_make(&p);
    weft_reactor *r = weft_test_reactor();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_console_options o = {.max_output = 4096};
    weft_console *con = console_at(r, p.path, &o);
    int c = dial(p.path);
    /* a reply of ~1 KiB per command, none of it read: past the socket's own
     * buffers, the console's bound is reached and the client dropped */
    static char big[1024];
    memset(big, 'z', sizeof big - 1);
    cr_assert_eq(weft_console_add_command(con, "z", big, shout, NULL), 0); /* help's reply: over 1 KiB */
    const char *cmd = "help\n";
    bool dropped = false;
    for (int i = 0; i < 20000 && !dropped; i++) {
        ssize_t n = write(c, cmd, strlen(cmd));
        cr_assert(n > 0 || errno == EAGAIN || errno == EPIPE || errno == ECONNRESET, "write: %s", strerror(errno));
        if (n < 0 && errno != EAGAIN)
            dropped = true;
        weft_reactor_iterate(r, 0);
        dropped = dropped || weft_test_log_contains(&log, "unread: disconnected");
    }
    cr_assert(dropped, "never disconnected");
    cr_assert(weft_test_log_contains(&log, "left more than 4096 bytes of replies unread"));
    close(c);
    weft_console_free(con);
    weft_reactor_free(r);
    place_remove(&p);
}

WEFT_TEST(console, past_max_clients_a_client_is_told_and_closed)
{
    place p;
    place_make(&p);
    weft_reactor *r = weft_test_reactor();
    weft_console_options o = {.max_clients = 2};
    weft_console *con = console_at(r, p.path, &o);
    int a = dial(p.path), b = dial(p.path);
    conv cv;
    converse(r, a, "help\n", 1, &cv);
    converse(r, b, "help\n", 1, &cv);
    int c = dial(p.path);
    memset(&cv, 0, sizeof cv);
    for (int i = 0; i < 2000 && !cv.closed; i++)
        pump(r, c, &cv);
    cr_assert_str_eq(cv.got, "error: too many clients\n");
    close(c);
    /* one gone, there is room again */
    close(a);
    for (int i = 0; i < 5; i++)
        weft_reactor_iterate(r, 0.01);
    c = dial(p.path);
    converse(r, c, "help\n", 1, &cv);
    cr_assert(strstr(cv.got, "\nok\n"), "%s", cv.got);
    close(b);
    close(c);
    weft_console_free(con);
    weft_reactor_free(r);
    place_remove(&p);
}

/* ---- a whole process and weft ctl ---- */

static weft_test_output ctl(const char *path, const char *a1, const char *a2)
{
    char *argv[] = {WEFT_CLI_PATH, "ctl", "--socket", (char *)path, (char *)a1, (char *)a2, NULL};
    return weft_test_run(argv, NULL, 0, 20);
}

WEFT_TEST(console, weft_ctl_talks_to_a_running_process)
{
    place p;
    place_make(&p);
    weft_test_proc srv;
    char *argv[] = {WEFT_CONSOLE_SERVER_PATH, p.path, NULL};
    weft_test_proc_spawn(&srv, argv);
    weft_test_proc_wait_for(&srv, "console ready");

    weft_test_output o = ctl(p.path, "status", NULL);
    cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
    char want[64];
    snprintf(want, sizeof want, "pid %d\n", (int)srv.pid);
    cr_assert(strstr(o.out, want), "%s", o.out);
    cr_assert(strstr(o.out, "\nport listening=1 "), "%s", o.out);
    cr_assert_eq(strstr(o.out, "| "), NULL, "the prefix is the protocol's, not the user's");
    weft_test_output_free(&o);

    o = ctl(p.path, "later", NULL);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_str_eq(o.out, "answered from the loop\n");
    weft_test_output_free(&o);

    o = ctl(p.path, "log-level", "nonsense");
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "weft ctl: no log level 'nonsense'"), "%s", o.err);
    weft_test_output_free(&o);

    o = ctl(p.path, "two words", NULL);
    cr_assert_eq(o.status, 2, "%s", o.err);
    weft_test_output_free(&o);

    char *none[] = {WEFT_CLI_PATH, "ctl", "--socket", p.path, NULL};
    o = weft_test_run(none, NULL, 0, 20);
    cr_assert_eq(o.status, 2);
    weft_test_output_free(&o);

    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.sock", p.dir);
    o = ctl(missing, "status", NULL);
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "cannot reach the console"), "%s", o.err);
    weft_test_output_free(&o);

    cr_assert_eq(weft_test_proc_finish(&srv, SIGTERM), 0, "%s", srv.text);
    struct stat st;
    cr_assert_neq(stat(p.path, &st), 0, "the socket file outlived the process");
    place_remove(&p);
}

WEFT_TEST(console, the_default_path_follows_xdg_runtime_dir)
{
    char buf[128];
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    weft_console_default_path(buf, sizeof buf);
    cr_assert_str_eq(buf, "/run/user/1000/weft.sock");
    unsetenv("XDG_RUNTIME_DIR");
    weft_console_default_path(buf, sizeof buf);
    cr_assert_str_eq(buf, geteuid() == 0 ? "/run/weft/weft.sock" : "/tmp/weft-0/weft.sock");
}
