/* SPDX-License-Identifier: MIT */
/*
 * The weft command's runner, as real processes: its options before or
 * after the command, --help written from the commands' tables, plugins
 * loaded (and refused, each way, with one line saying why), the pid file,
 * the log file reopened on SIGUSR1, privileges dropped after binding.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "proc.h"
#include "test.h"

#define PLUGIN(name) WEFT_TEST_PLUGINS_DIR "/" name ".so"
#define LOCAL "tcp:0:interface=127.0.0.1"

static weft_test_output run_weft(char *const argv[])
{
    return weft_test_run(argv, NULL, 0, 30);
}

/* Reads a whole small file into buf; false when it is not there. */
static bool slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return true;
}

/* Reads what a server says to a fresh client until it closes. */
static void hear(int port, char *buf, size_t size)
{
    int fd = weft_test_dial(port);
    size_t len = 0;
    ssize_t n;
    while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
}

WEFT_TEST(runner, help_lists_every_command_with_its_origin_and_the_runner_options, .timeout = 60)
{
    weft_test_output o = run_weft((char *[]){WEFT_CLI_PATH, "--plugin", PLUGIN("greet"), "--help", NULL});
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_not_null(strstr(o.out, "  echo         an echo server (built-in)\n"), "%s", o.out);
    cr_assert_not_null(strstr(o.out, "  web          an HTTP server"), "%s", o.out);
    cr_assert_not_null(strstr(o.out, "  greet        says hello and closes (" PLUGIN("greet") ")\n"), "%s", o.out);
    cr_assert_not_null(strstr(o.out, "--log-file PATH"), "%s", o.out);
    cr_assert_not_null(strstr(o.out, "foreground"), "%s", o.out);
    weft_test_output_free(&o);

    /* A command's own options, from its table, then the shared ones. */
    o = run_weft((char *[]){WEFT_CLI_PATH, "web", "--help", NULL});
    cr_assert_eq(o.status, 0, "%s", o.err);
    const char *own = strstr(o.out, "  -p, --path DIR");
    const char *shared = strstr(o.out, "runner options");
    cr_assert(own && shared && own < shared, "%s", o.out);
    cr_assert_not_null(strstr(shared, "--pidfile PATH"), "%s", o.out);
    weft_test_output_free(&o);

    o = run_weft((char *[]){WEFT_CLI_PATH, NULL});
    cr_assert_eq(o.status, 2);
    cr_assert_not_null(strstr(o.err, "usage: weft"), "%s", o.err);
    weft_test_output_free(&o);
}

WEFT_TEST(runner, runner_options_go_before_or_after_the_command, .timeout = 60)
{
    char *const before[] = {WEFT_CLI_PATH, "--grace", "1", "--log-level", "debug", "echo", "--listen", LOCAL, NULL};
    char *const after[] = {WEFT_CLI_PATH, "echo", "--listen", LOCAL, "--log-level", "weft.net=debug",
                           "--log-level=info", "-g", "1", NULL};
    char *const *both[] = {before, after};
    for (int i = 0; i < 2; i++) {
        weft_test_proc p;
        weft_test_proc_spawn(&p, both[i]);
        int port = weft_test_proc_port(&p);
        int fd = weft_test_dial(port);
        cr_assert_eq(write(fd, "x", 1), 1);
        char c;
        cr_assert_eq(read(fd, &c, 1), 1);
        close(fd);
        cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    }

    weft_test_output o = run_weft((char *[]){WEFT_CLI_PATH, "echo", "--log-level", "loud", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert_not_null(strstr(o.err, "weft echo: --log-level wants [NS=]LEVEL"), "%s", o.err);
    weft_test_output_free(&o);
    o = run_weft((char *[]){WEFT_CLI_PATH, "echo", "--frobnicate", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert_not_null(strstr(o.err, "weft echo: no option '--frobnicate'"), "%s", o.err);
    weft_test_output_free(&o);
    o = run_weft((char *[]){WEFT_CLI_PATH, "echo", "--log-format", "xml", NULL});
    cr_assert_eq(o.status, 2);
    weft_test_output_free(&o);
}

WEFT_TEST(runner, a_plugin_command_runs_as_a_built_in_one_does, .timeout = 60)
{
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "--plugin", PLUGIN("greet"), "greet", "--listen", LOCAL, NULL});
    char said[64];
    hear(weft_test_proc_port(&p), said, sizeof said);
    cr_assert_str_eq(said, "hello from a plugin\n");
    cr_assert_eq(weft_test_proc_finish(&p, SIGINT), 0, "%s", p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
}

WEFT_TEST(runner, plugins_load_from_the_directories_of_weft_plugin_path, .timeout = 60)
{
    char dir[] = "/tmp/weft-test-plugins-XXXXXX", link[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(link, sizeof link, "%s/greet.so", dir);
    cr_assert_eq(symlink(PLUGIN("greet"), link), 0);
    char path[256];
    snprintf(path, sizeof path, "/nonexistent/weft:%s", dir);
    setenv("WEFT_PLUGIN_PATH", path, 1);
    weft_test_output o = run_weft((char *[]){WEFT_CLI_PATH, "--help", NULL});
    char want[256];
    snprintf(want, sizeof want, "  greet        says hello and closes (%s)\n", link);
    cr_assert_not_null(strstr(o.out, want), "%s%s", o.out, o.err);
    weft_test_output_free(&o);

    /* The same plugin given with --plugin too: that one wins, quietly. */
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "greet", "--listen", LOCAL, "--plugin", PLUGIN("greet"), NULL});
    char said[64];
    hear(weft_test_proc_port(&p), said, sizeof said);
    cr_assert_str_eq(said, "hello from a plugin\n");
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    unsetenv("WEFT_PLUGIN_PATH");
    unlink(link);
    rmdir(dir);
}

/* Each way a plugin is refused: exit status 1 and one line naming the
 * file and why, before any of its code ran. */
WEFT_TEST(runner, a_plugin_is_refused_with_one_line_saying_why, .timeout = 60)
{
    static const struct {
        const char *path, *why;
    } cases[] = {
        {PLUGIN("refuse_no_entry"), "no weft_plugin_entry symbol (not a weft plugin)"},
        {PLUGIN("refuse_abi"), "built for plugin ABI 99, this weft has 1"},
        {PLUGIN("refuse_init"), "its init failed: Invalid argument"},
        {"/nonexistent/nothing.so", "cannot load it: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weft_test_output o = run_weft((char *[]){WEFT_CLI_PATH, "--plugin", (char *)cases[i].path, "echo", NULL});
        char want[512];
        snprintf(want, sizeof want, "weft: plugin %s refused: %s", cases[i].path, cases[i].why);
        cr_assert_eq(o.status, 1, "%s: %s", cases[i].path, o.err);
        cr_assert_eq(strncmp(o.err, want, strlen(want)), 0, "want \"%s\", got:\n%s", want, o.err);
        cr_assert_eq(strchr(o.err, '\n') - o.err + 1, (long)strlen(o.err), "one line: %s", o.err);
        weft_test_output_free(&o);
    }
}

WEFT_TEST(runner, the_pidfile_is_written_once_bound_held_against_others_and_removed, .timeout = 60)
{
    char path[] = "/tmp/weft-test-pid-XXXXXX", text[64];
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    /* A stale file: a pid no process has, no lock. Taken over. */
    cr_assert_eq(write(fd, "999999999\n", 10), 10);
    close(fd);
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "echo", "--listen", LOCAL, "--pidfile", path, NULL});
    weft_test_proc_wait_for(&p, "listening on");
    cr_assert(slurp(path, text, sizeof text));
    char want[32];
    snprintf(want, sizeof want, "%d\n", (int)p.pid);
    cr_assert_str_eq(text, want);

    weft_test_output o = run_weft((char *[]){WEFT_CLI_PATH, "echo", "--listen", LOCAL, "--pidfile", path, NULL});
    snprintf(want, sizeof want, "is held by process %d", (int)p.pid);
    cr_assert_eq(o.status, 1, "%s", o.err);
    cr_assert_not_null(strstr(o.err, want), "%s", o.err);
    cr_assert_null(strstr(o.err, "listening on"), "refused before binding: %s", o.err);
    weft_test_output_free(&o);
    cr_assert(slurp(path, text, sizeof text));
    snprintf(want, sizeof want, "%d\n", (int)p.pid);
    cr_assert_str_eq(text, want, "the refused one left the file alone");

    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    cr_assert_eq(access(path, F_OK), -1, "removed at exit");
}

/* Waits, on the directory's changes and not on a clock, until the file at
 * `path` holds `count` times `needle`. */
static void wait_in_file(const char *dir, const char *path, const char *needle, int count)
{
    static char text[1 << 16];
    int watch = inotify_init1(IN_CLOEXEC);
    cr_assert_geq(watch, 0);
    cr_assert_geq(inotify_add_watch(watch, dir, IN_CREATE | IN_MODIFY), 0);
    int seen = 0;
    for (int i = 0; i < 200 && seen < count; i++) {
        seen = 0;
        if (slurp(path, text, sizeof text))
            for (const char *at = text; (at = strstr(at, needle)); at++)
                seen++;
        struct pollfd pfd = {watch, POLLIN, 0};
        char events[4096];
        if (seen < count && poll(&pfd, 1, 10000) > 0)
            (void)!read(watch, events, sizeof events);
    }
    close(watch);
    cr_assert_geq(seen, count, "%d of %d '%s' in %s", seen, count, needle, path);
}

/* With workers, the supervisor passes SIGUSR1 on: each worker, writing to
 * the same path, reopens it too. */
WEFT_TEST(runner, the_log_file_is_reopened_by_every_worker_on_sigusr1, .timeout = 60)
{
    char dir[] = "/tmp/weft-test-log-XXXXXX", path[96], moved[96];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/weft.log", dir);
    snprintf(moved, sizeof moved, "%s/weft.log.1", dir);
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "echo", "--workers", "2", "--listen", LOCAL, "--log-file", path,
                                        NULL});
    wait_in_file(dir, path, "every worker ready", 1);
    cr_assert_eq(rename(path, moved), 0);
    kill(p.pid, SIGUSR1);
    wait_in_file(dir, path, "log file reopened", 3); /* the supervisor and both workers */
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
    unlink(path);
    unlink(moved);
    rmdir(dir);
}

WEFT_TEST(runner, the_log_file_is_reopened_on_sigusr1, .timeout = 60)
{
    char dir[] = "/tmp/weft-test-log-XXXXXX", path[96], moved[96], text[4096];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/weft.log", dir);
    snprintf(moved, sizeof moved, "%s/weft.log.1", dir);
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "echo", "--listen", LOCAL, "--log-file", path, "--log-format",
                                        "json", NULL});
    weft_test_proc_wait_for(&p, "listening on");
    cr_assert(slurp(path, text, sizeof text));
    cr_assert_not_null(strstr(text, "\"text\":\"weft echo started"), "%s", text);
    cr_assert_eq(text[0], '{', "JSON lines: %s", text);
    /* logrotate: the file moves, then the signal. */
    cr_assert_eq(rename(path, moved), 0);
    /* Waits on the directory's changes, not on a clock. */
    int watch = inotify_init1(IN_CLOEXEC);
    cr_assert_geq(watch, 0);
    cr_assert_geq(inotify_add_watch(watch, dir, IN_CREATE | IN_MODIFY), 0);
    kill(p.pid, SIGUSR1);
    bool reopened = false;
    for (int i = 0; i < 100 && !reopened; i++) {
        reopened = slurp(path, text, sizeof text) && strstr(text, "log file reopened");
        struct pollfd pfd = {watch, POLLIN, 0};
        char events[4096];
        if (!reopened && poll(&pfd, 1, 10000) > 0)
            (void)!read(watch, events, sizeof events);
    }
    close(watch);
    cr_assert(reopened, "no new file at %s", path);
    cr_assert(slurp(moved, text, sizeof text));
    cr_assert_null(strstr(text, "reopened"), "the moved file gets nothing new: %s", text);
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    unlink(path);
    unlink(moved);
    rmdir(dir);
}

static void proc_status(pid_t pid, const char *key, char *out, size_t size)
{
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    cr_assert(slurp(path, text, sizeof text));
    const char *at = strstr(text, key);
    cr_assert_not_null(at, "no %s in %s", key, path);
    at += strlen(key);
    while (*at == '\t' || *at == ' ')
        at++;
    snprintf(out, size, "%.*s", (int)strcspn(at, "\n"), at);
}

/* As root: the socket is bound in a directory only root may write, then
 * the process runs as nobody (and its group), with the umask asked for,
 * and still serves on what it bound. */
WEFT_TEST(runner, privileges_are_dropped_after_binding, .timeout = 60)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to drop privileges");
    char dir[] = "/tmp/weft-test-uid-XXXXXX", where[128], sock[96];
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chmod(dir, 0700), 0);
    snprintf(sock, sizeof sock, "%s/echo.sock", dir);
    snprintf(where, sizeof where, "unix:%s:lockfile=0", sock);
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "echo", "--listen", where, "--uid", "nobody", "--umask", "027",
                                        NULL});
    weft_test_proc_wait_for(&p, "listening on");
    char uid[64], gid[64], mask[16];
    proc_status(p.pid, "Uid:", uid, sizeof uid);
    proc_status(p.pid, "Gid:", gid, sizeof gid);
    proc_status(p.pid, "Umask:", mask, sizeof mask);
    cr_assert_str_eq(uid, "65534\t65534\t65534\t65534");
    cr_assert_str_eq(gid, "65534\t65534\t65534\t65534");
    cr_assert_str_eq(mask, "0027");

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s", strerror(errno));
    cr_assert_eq(write(fd, "ok", 2), 2);
    char got[3] = "";
    cr_assert_eq(read(fd, got, 2), 2);
    cr_assert_str_eq(got, "ok");
    close(fd);
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    unlink(sock);
    rmdir(dir);

    weft_test_output o = run_weft((char *[]){WEFT_CLI_PATH, "echo", "--uid", "no-such-user-here", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert_not_null(strstr(o.err, "--uid: no user 'no-such-user-here'"), "%s", o.err);
    weft_test_output_free(&o);
}
