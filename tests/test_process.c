/* SPDX-License-Identifier: MIT */
/* Child processes: I/O both ways, exit codes and signals, stderr and extra
 * descriptors, 10 MiB of output, stdin backpressure, the output helper,
 * killing at shutdown; and never a zombie left behind. */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

typedef struct child {
    weft_process_protocol base;
    char out[256], err[256];
    size_t out_len, err_len, fd3_len, total;
    int closed_mask;
    bool started, exited, ended, destroyed;
    int code, sig;
    int order; /* exited before ended: 1 */
} child;

static void c_started(weft_process_protocol *p)
{
    ((child *)p)->started = true;
}

static void c_output(weft_process_protocol *p, int fd, const void *data, size_t len)
{
    child *c = (child *)p;
    c->total += len;
    if (fd == 1 && c->out_len + len < sizeof c->out) {
        memcpy(c->out + c->out_len, data, len);
        c->out_len += len;
    } else if (fd == 2 && c->err_len + len < sizeof c->err) {
        memcpy(c->err + c->err_len, data, len);
        c->err_len += len;
    } else if (fd == 3) {
        c->fd3_len += len;
    }
}

static void c_closed(weft_process_protocol *p, int fd)
{
    ((child *)p)->closed_mask |= 1 << fd;
}

static void c_exited(weft_process_protocol *p, int code, int sig)
{
    child *c = (child *)p;
    c->exited = true;
    c->code = code;
    c->sig = sig;
    if (!c->ended)
        c->order = 1;
}

static void c_ended(weft_process_protocol *p, int code, int sig)
{
    child *c = (child *)p;
    c->ended = true;
    cr_assert_eq(code, c->code);
    cr_assert_eq(sig, c->sig);
}

static const weft_process_ops child_ops = {c_started, c_output, c_closed, c_exited, c_ended, NULL};

static void run_until_ended(weft_reactor *r, child *c)
{
    for (int i = 0; i < 10000 && !c->ended; i++)
        cr_assert_eq(weft_reactor_iterate(r, 1), 0);
    cr_assert(c->ended);
}

static void no_zombies(void)
{
    int st;
    cr_assert_eq(waitpid(-1, &st, WNOHANG), -1, "a child is left");
    cr_assert_eq(errno, ECHILD);
}

static weft_process *spawn(weft_reactor *r, child *c, char *const argv[], const weft_process_options *o)
{
    memset(c, 0, sizeof *c);
    c->base.ops = &child_ops;
    weft_process *pr;
    int err = weft_spawn_process(r, &c->base, argv[0], argv, NULL, NULL, o, &pr);
    cr_assert_eq(err, 0, "spawn %s: %s", argv[0], weft_strerror(err));
    cr_assert(!c->started, "started never runs inside spawn");
    return pr;
}

WEFT_TEST(process, stdin_to_stdout_through_cat)
{
    weft_reactor *r = weft_test_reactor();
    child c;
    char *argv[] = {"cat", NULL};
    weft_process *pr = spawn(r, &c, argv, NULL);
    cr_assert_gt(weft_process_pid(pr), 0);
    cr_assert_eq(weft_process_write(pr, "hello, child\n", 13), 0);
    weft_process_close_stdin(pr);
    run_until_ended(r, &c);
    cr_assert(c.started);
    cr_assert_eq(c.out_len, 13);
    cr_assert_eq(memcmp(c.out, "hello, child\n", 13), 0);
    cr_assert_eq(c.code, 0);
    cr_assert_eq(c.sig, 0);
    cr_assert_eq(c.closed_mask, 7, "fd_closed for 0, 1 and 2");
    cr_assert_eq(c.order, 1, "exited comes before ended");
    weft_reactor_free(r);
    no_zombies();
}

WEFT_TEST(process, exit_codes_and_stderr)
{
    weft_reactor *r = weft_test_reactor();
    child c;
    char *argv[] = {"sh", "-c", "echo oops >&2; exit 3", NULL};
    spawn(r, &c, argv, NULL);
    run_until_ended(r, &c);
    cr_assert_eq(c.code, 3);
    cr_assert_eq(c.err_len, 5);
    cr_assert_eq(memcmp(c.err, "oops\n", 5), 0);
    weft_reactor_free(r);
    no_zombies();
}

WEFT_TEST(process, signals)
{
    weft_reactor *r = weft_test_reactor();
    child c;
    char *argv[] = {"sleep", "100", NULL};
    weft_process *pr = spawn(r, &c, argv, NULL);
    cr_assert_eq(weft_process_signal(pr, SIGTERM), 0);
    run_until_ended(r, &c);
    cr_assert_eq(c.sig, SIGTERM);
    cr_assert_eq(c.code, -1);
    weft_reactor_free(r);
    no_zombies();
}

WEFT_TEST(process, ten_mebibytes_of_output, .timeout = 60)
{
    weft_reactor *r = weft_test_reactor();
    child c;
    char *argv[] = {"head", "-c", "10485760", "/dev/zero", NULL};
    spawn(r, &c, argv, NULL);
    run_until_ended(r, &c);
    cr_assert_eq(c.total, 10485760);
    cr_assert_eq(c.code, 0);
    weft_reactor_free(r);
    no_zombies();
}

WEFT_TEST(process, extra_descriptors_null_and_cwd)
{
    weft_reactor *r = weft_test_reactor();
    child c;
    weft_child_fd fds[] = {{0, WEFT_CHILD_NULL, -1}, {1, WEFT_CHILD_PIPE, -1}, {3, WEFT_CHILD_PIPE, -1}};
    weft_process_options o = {.fds = fds, .nfds = 3};
    char *argv[] = {"sh", "-c", "pwd; echo three >&3; cat; echo done", NULL};
    memset(&c, 0, sizeof c);
    c.base.ops = &child_ops;
    weft_process *pr;
    cr_assert_eq(weft_spawn_process(r, &c.base, "sh", argv, NULL, "/tmp", &o, &pr), 0);
    run_until_ended(r, &c);
    cr_assert_eq(c.fd3_len, 6);
    cr_assert_str_eq(c.out, "/tmp\ndone\n", "stdin was /dev/null, so cat ended at once");
    weft_reactor_free(r);
    no_zombies();
}

static int open_descriptors(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* 64 pipes at most: the 65th was created before the count was checked, and
 * its two descriptors were left open. */
WEFT_TEST(process, too_many_pipes_refused_without_leaking_descriptors)
{
    weft_reactor *r = weft_test_reactor();
    child c = {.base.ops = &child_ops};
    weft_child_fd fds[65];
    for (int i = 0; i < 65; i++)
        fds[i] = (weft_child_fd){i, WEFT_CHILD_PIPE, -1};
    weft_process_options o = {.fds = fds, .nfds = 65};
    char *argv[] = {"true", NULL};
    int before = open_descriptors();
    cr_assert_eq(weft_spawn_process(r, &c.base, "true", argv, NULL, NULL, &o, NULL), WEFT_EINVAL);
    cr_assert_eq(open_descriptors(), before, "every descriptor made for the refused spawn is closed");
    weft_reactor_free(r);
    no_zombies();
}

typedef struct hose {
    weft_producer base;
    int pauses;
} hose;

static void hose_pause(weft_producer *p)
{
    ((hose *)p)->pauses++;
}

static void hose_resume(weft_producer *p)
{
    (void)p;
}

static const weft_producer_ops hose_ops = {hose_pause, hose_resume, NULL};

WEFT_TEST(process, stdin_backpressure, .timeout = 60)
{
    weft_reactor *r = weft_test_reactor();
    child c;
    char *argv[] = {"sleep", "100", NULL}; /* never reads its stdin */
    weft_process *pr = spawn(r, &c, argv, NULL);
    weft_transport *in = weft_process_stdin(pr);
    cr_assert_not_null(in);
    hose h = {.base.ops = &hose_ops};
    cr_assert_eq(weft_transport_register_producer(in, &h.base, true), 0);
    static char chunk[4096];
    size_t written = 0;
    while (h.pauses == 0 && written < (64u << 20)) {
        cr_assert_eq(weft_process_write(pr, chunk, sizeof chunk), 0);
        written += sizeof chunk;
    }
    cr_assert_eq(h.pauses, 1, "the producer was paused");
    cr_assert_leq(weft_transport_buffered(in), 64 * 1024 + sizeof chunk);
    weft_process_signal(pr, SIGKILL);
    run_until_ended(r, &c);
    cr_assert_eq(c.sig, SIGKILL);
    weft_reactor_free(r);
    no_zombies();
}

WEFT_TEST(process, missing_program)
{
    weft_reactor *r = weft_test_reactor();
    child c = {.base.ops = &child_ops};
    char *argv[] = {"/nonexistent/program", NULL};
    cr_assert_eq(weft_spawn_process(r, &c.base, argv[0], argv, NULL, NULL, NULL, NULL), -ENOENT);
    weft_reactor_free(r);
    no_zombies();
}

WEFT_TEST(process, output_helper)
{
    weft_reactor *r = weft_test_reactor();
    char *ok[] = {"sh", "-c", "printf 'out'; printf 'err' >&2; exit 4", NULL};
    weft_deferred *d = weft_process_output_of(r, "sh", ok, NULL, false);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert(!weft_failed(res));
    weft_process_output *o = res.value;
    cr_assert_str_eq(o->out, "out");
    cr_assert_str_eq(o->err, "err");
    cr_assert_eq(o->code, 4);
    weft_deferred_unref(d);

    d = weft_process_output_of(r, "sh", ok, NULL, true);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert(weft_failed(res));
    cr_assert(strstr(weft_failure_message(weft_result_failure(res)), "err") != NULL);
    weft_result_free(res);
    weft_deferred_unref(d);

    char *missing[] = {"/nonexistent", NULL};
    d = weft_process_output_of(r, "/nonexistent", missing, NULL, false);
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert_eq(weft_failure_code(weft_result_failure(res)), -ENOENT);
    weft_result_free(res);
    weft_deferred_unref(d);
    weft_reactor_free(r);
    no_zombies();
}

static void stop(void *arg)
{
    weft_reactor_stop(arg);
}

WEFT_TEST(process, killed_at_shutdown_when_asked)
{
    weft_reactor *r = weft_test_reactor();
    child c;
    char *argv[] = {"sleep", "100", NULL};
    weft_process_options o = {.kill_on_shutdown = true};
    spawn(r, &c, argv, &o);
    cr_assert_eq(weft_reactor_call_soon(r, stop, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert(c.exited, "shutdown waited for the child");
    cr_assert_eq(c.sig, SIGTERM);
    run_until_ended(r, &c);
    weft_reactor_free(r);
    no_zombies();
}

static void c_destroy(weft_process_protocol *p)
{
    ((child *)p)->destroyed = true;
}

WEFT_TEST(process, a_detached_child_runs_on_unwatched)
{
    weft_reactor *r = weft_test_reactor();
    child c;
    static const weft_process_ops destroyed_ops = {c_started, NULL, NULL, c_exited, c_ended, c_destroy};
    char *argv[] = {"sleep", "100", NULL};
    /* With pipes it cannot be left alone: they are the reactor's. */
    weft_process *piped = spawn(r, &c, argv, NULL);
    for (int i = 0; i < 100 && !c.started; i++)
        cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    cr_assert_eq(weft_process_detach(piped), WEFT_EINVAL);
    cr_assert_eq(weft_process_signal(piped, SIGKILL), 0);
    run_until_ended(r, &c);

    weft_child_fd none[] = {{0, WEFT_CHILD_NULL, -1}, {1, WEFT_CHILD_NULL, -1}, {2, WEFT_CHILD_NULL, -1}};
    weft_process_options o = {.fds = none, .nfds = 3};
    weft_process *pr = spawn(r, &c, argv, &o);
    c.base.ops = &destroyed_ops;
    cr_assert_eq(weft_process_detach(pr), WEFT_EINVAL, "not before started");
    for (int i = 0; i < 100 && !c.started; i++)
        cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    int pid = weft_process_pid(pr);
    cr_assert_eq(weft_process_detach(pr), 0);
    cr_assert(c.destroyed);
    cr_assert_null(c.base.process);
    /* It runs on, and its end is no longer the reactor's business. */
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status));
    for (int i = 0; i < 10; i++)
        cr_assert_eq(weft_reactor_iterate(r, 0), 0);
    cr_assert(!c.exited && !c.ended);
    weft_reactor_free(r);
    no_zombies();
}
