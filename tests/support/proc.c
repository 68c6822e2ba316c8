/* SPDX-License-Identifier: MIT */
/* Child processes for tests (proc.h). */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void weft_test_proc_spawn(weft_test_proc *p, char *const argv[])
{
    memset(p, 0, sizeof *p);
    int fds[2];
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    int rc = posix_spawnp(&p->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    cr_assert_eq(rc, 0, "cannot start %s: %s", argv[0], strerror(rc));
    p->out_fd = fds[0];
}

/* Reads what is there within `seconds`; false at EOF or on timeout. */
static bool read_some(weft_test_proc *p, int ms)
{
    struct pollfd pfd = {p->out_fd, POLLIN, 0};
    if (poll(&pfd, 1, ms) <= 0)
        return false;
    if (p->len + 1 >= sizeof p->text) /* full: keep the newest half */
    {
        memmove(p->text, p->text + sizeof p->text / 2, p->len - sizeof p->text / 2);
        p->len -= sizeof p->text / 2;
    }
    ssize_t n = read(p->out_fd, p->text + p->len, sizeof p->text - 1 - p->len);
    if (n <= 0)
        return false;
    p->len += (size_t)n;
    p->text[p->len] = '\0';
    return true;
}

const char *weft_test_proc_wait_for(weft_test_proc *p, const char *needle)
{
    double end = now() + 20;
    for (;;) {
        p->text[p->len] = '\0';
        const char *at = strstr(p->text, needle);
        if (at)
            return at;
        double left = end - now();
        if (left <= 0 || !read_some(p, (int)(left * 1000) + 1))
            break;
    }
    cr_assert_fail("no '%s' in the output of %d:\n%s", needle, (int)p->pid, p->text);
    return NULL;
}

int weft_test_proc_port(weft_test_proc *p)
{
    const char *line = weft_test_proc_wait_for(p, "listening on");
    const char *close_paren = strchr(line, ')');
    cr_assert_not_null(close_paren);
    const char *colon = close_paren;
    while (colon > line && *colon != ':')
        colon--;
    return atoi(colon + 1);
}

int weft_test_proc_finish(weft_test_proc *p, int sig)
{
    if (sig)
        kill(p->pid, sig);
    double end = now() + 30;
    while (now() < end && read_some(p, 1000 * 30))
        ;
    /* Its output ended (it is exiting) or it overstayed: then it is killed. */
    if (now() >= end)
        kill(p->pid, SIGKILL);
    int status;
    waitpid(p->pid, &status, 0);
    close(p->out_fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
        cr_assert_not_null(*buf);
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

weft_test_output weft_test_run(char *const argv[], const void *input, size_t input_len, double seconds)
{
    weft_test_output o = {.status = -1};
    size_t out_cap = 0, err_cap = 0;
    append(&o.out, &o.out_len, &out_cap, "", 0);
    append(&o.err, &o.err_len, &err_cap, "", 0);
    int in[2], out[2], err[2];
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    cr_assert_eq(rc, 0, "cannot start %s: %s", argv[0], strerror(rc));
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    size_t sent = 0;
    if (!input || input_len == 0) {
        close(in[1]);
        in[1] = -1;
    }
    double end = now() + seconds;
    bool out_open = true, err_open = true;
    char buf[65536];
    while ((out_open || err_open) && now() < end) {
        struct pollfd pfd[3] = {{out_open ? out[0] : -1, POLLIN, 0},
                                {err_open ? err[0] : -1, POLLIN, 0},
                                {in[1], POLLOUT, 0}};
        if (poll(pfd, 3, (int)((end - now()) * 1000) + 1) <= 0)
            continue;
        if (pfd[2].revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t n = write(in[1], (const char *)input + sent, input_len - sent);
            if (n > 0)
                sent += (size_t)n;
            if (n < 0 && errno != EAGAIN)
                sent = input_len;
            if (sent == input_len) {
                close(in[1]);
                in[1] = -1;
            }
        }
        for (int i = 0; i < 2; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(pfd[i].fd, buf, sizeof buf);
            if (n <= 0) {
                *(i ? &err_open : &out_open) = false;
                continue;
            }
            if (i == 0)
                append(&o.out, &o.out_len, &out_cap, buf, (size_t)n);
            else
                append(&o.err, &o.err_len, &err_cap, buf, (size_t)n);
        }
    }
    if (in[1] >= 0)
        close(in[1]);
    close(out[0]);
    close(err[0]);
    int status;
    if (out_open || err_open) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return o;
    }
    waitpid(pid, &status, 0);
    o.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return o;
}

void weft_test_output_free(weft_test_output *o)
{
    free(o->out);
    free(o->err);
}

bool weft_test_have(const char *program)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", dir, program);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}
