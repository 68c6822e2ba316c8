/* SPDX-License-Identifier: MIT */
/* Running out of descriptors: the server refuses what it cannot hold,
 * without spinning, and serves again when descriptors come back. Clients
 * live in a child process, so only the server feels the limit. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

enum { CLIENTS = 40 };

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory itself */
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* The child: opens CLIENTS connections, says so, waits to be told, closes
 * them all, then checks one fresh connection echoes, and exits 0 if so. */
static void child(int port, int ready_w, int go_r)
{
    int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        fds[i] = connect_to(port);
    char c = 1;
    if (write(ready_w, &c, 1) != 1 || read(go_r, &c, 1) != 1)
        _exit(3);
    for (int i = 0; i < CLIENTS; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    int fd = connect_to(port);
    if (fd < 0 || write(fd, "ping", 4) != 4)
        _exit(4);
    char buf[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t n = read(fd, buf + got, 4 - got);
        if (n <= 0)
            _exit(5);
        got += (size_t)n;
    }
    _exit(memcmp(buf, "ping", 4) == 0 ? 0 : 6);
}

typedef struct watch {
    int warnings;
} watch;

static void count_warnings(void *arg, const weft_log_event *ev)
{
    if (ev->level == WEFT_LOG_WARN && strstr(ev->format, "out of descriptors"))
        ((watch *)arg)->warnings++;
}

WEFT_TEST(emfile, server_survives_running_out_of_descriptors, .timeout = 60)
{
    weft_reactor *r = weft_test_reactor();
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_text_observer, stderr);
    watch w = {0};
    cr_assert_eq(weft_logger_add_observer(weft_reactor_logger(r), count_warnings, &w, WEFT_LOG_DEBUG, NULL), 0);
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_wrapping_factory *wf = weft_wrapping_factory_new(r, &echo);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    weft_port *p;
    cr_assert_eq(weft_listen(r, &a, weft_wrapping_factory_base(wf), NULL, &p), 0);
    cr_assert_eq(weft_port_address(p, &a), 0);

    int ready[2], go[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(go), 0);
    /* Room for ten connections, no more. */
    struct rlimit lim = {(rlim_t)(open_fds() + 10), (rlim_t)(open_fds() + 10)};
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        child(weft_address_port(&a), ready[1], go[0]);
    }
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    close(ready[1]);
    close(go[0]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);

    /* A second of serving while over the limit. */
    for (int i = 0; i < 20; i++)
        weft_reactor_iterate(r, 0.05);
    cr_assert_gt(w.warnings, 0, "the shortage was noticed");
    cr_assert_lt(w.warnings, 20, "and did not spin (%d warnings)", w.warnings);
    size_t served = weft_wrapping_factory_count(wf);
    cr_assert(served > 0 && served < CLIENTS, "%zu connections held", served);

    /* The client lets go; its fresh connection must be served. */
    cr_assert_eq(write(go[1], "x", 1), 1);
    int status = -1;
    for (int i = 0; i < 400; i++) {
        weft_reactor_iterate(r, 0.05);
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client's last connection echoed (status %d)", status);
    setrlimit(RLIMIT_NOFILE, &old);
    close(ready[0]);
    close(go[1]);
    weft_deferred_unref(weft_port_stop(p));
    weft_wrapping_factory_free(wf);
    weft_reactor_free(r);
}
