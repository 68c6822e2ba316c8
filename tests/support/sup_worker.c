/* SPDX-License-Identifier: MIT */
/*
 * A worker for test_supervisor: adopts its listening sockets as socket
 * activation hands them over (descriptors 3..., LISTEN_FDS, LISTEN_PID must
 * be its own pid), says READY=1 on NOTIFY_SOCKET, and answers a line
 * protocol, one request per connection:
 *
 *     ping  ->  "pid PID\n", then closes
 *     hold  ->  nothing until the worker stops; then "pid PID drained\n"
 *               (a request in flight that a graceful stop completes)
 *
 * On SIGTERM it stops accepting (closes its copies of the sockets: what is
 * queued stays for the others), answers what it holds and exits 0 once its
 * connections are closed - as the weft command drains.
 *
 *     sup_worker [--not-ready-if FILE]   never say READY=1 when FILE exists
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "weft/weft.h"

enum { MAX_LISTEN = 16 };

typedef struct conn {
    weft_protocol base;
    struct conn *next, *prev;
    char line[64];
    size_t len;
    bool held;
} conn;

typedef struct worker {
    weft_reactor *r;
    int fds[MAX_LISTEN];
    int nfds;
    conn head; /* every open connection */
    size_t open;
    bool stopping;
} worker;

static worker w;

static void answer(conn *c, const char *extra)
{
    char out[64];
    int n = snprintf(out, sizeof out, "pid %d%s\n", (int)getpid(), extra);
    weft_transport_write(c->base.transport, out, (size_t)n);
    weft_transport_lose_connection(c->base.transport);
}

static void conn_data(weft_protocol *p, const void *data, size_t len)
{
    conn *c = (conn *)p;
    for (size_t i = 0; i < len && !c->held; i++) {
        char ch = ((const char *)data)[i];
        if (ch != '\n') {
            if (c->len + 1 < sizeof c->line)
                c->line[c->len++] = ch;
            continue;
        }
        c->line[c->len] = '\0';
        if (strcmp(c->line, "hold") == 0 && !w.stopping) {
            c->held = true;
            printf("holding a request\n");
            fflush(stdout);
        } else {
            answer(c, strcmp(c->line, "hold") == 0 ? " drained" : "");
        }
        return;
    }
}

static void conn_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    conn *c = (conn *)p;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    if (--w.open == 0 && w.stopping)
        weft_reactor_stop(w.r);
}

static void conn_destroy(weft_protocol *p)
{
    free(p);
}

static const weft_protocol_ops conn_ops = {
    .data_received = conn_data, .connection_lost = conn_lost, .destroy = conn_destroy};

static void on_accept(void *arg, int fd, unsigned events)
{
    (void)arg;
    (void)events;
    for (int i = 0; i < 32; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return; /* EAGAIN: another worker took it */
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(cfd);
            continue;
        }
        c->base.ops = &conn_ops;
        c->next = w.head.next;
        c->prev = &w.head;
        w.head.next->prev = c;
        w.head.next = c;
        w.open++;
        if (weft_adopt_stream(w.r, cfd, &c->base) < 0) {
            c->prev->next = c->next;
            c->next->prev = c->prev;
            w.open--;
            free(c);
            close(cfd);
        }
    }
}

static void on_term(void *arg, int signo)
{
    (void)arg;
    (void)signo;
    if (w.stopping)
        return;
    w.stopping = true;
    for (int i = 0; i < w.nfds; i++) {
        weft_reactor_remove_reader(w.r, w.fds[i]);
        close(w.fds[i]);
    }
    for (conn *c = w.head.next; c != &w.head; c = c->next)
        if (c->held)
            answer(c, " drained");
    if (w.open == 0)
        weft_reactor_stop(w.r);
}

/* sd_notify(0, "READY=1"), by hand: NOTIFY_SOCKET is a path or, with '@',
 * an abstract name. */
static int notify_ready(void)
{
    const char *name = getenv("NOTIFY_SOCKET");
    if (!name || !*name || strlen(name) >= sizeof ((struct sockaddr_un *)0)->sun_path)
        return -1;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, name, strlen(name));
    if (name[0] == '@')
        sun.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
    ssize_t n = sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sun, len);
    close(fd);
    return n == 7 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *not_ready_if = argc == 3 && strcmp(argv[1], "--not-ready-if") == 0 ? argv[2] : NULL;
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (!pid || atoi(pid) != getpid() || !fds || atoi(fds) < 1 || atoi(fds) > MAX_LISTEN) {
        fprintf(stderr, "sup_worker: no sockets for pid %d (LISTEN_PID=%s LISTEN_FDS=%s)\n", (int)getpid(),
                pid ? pid : "", fds ? fds : "");
        return 2;
    }
    w.head.next = w.head.prev = &w.head;
    if (weft_reactor_new(NULL, &w.r) < 0)
        return 1;
    w.nfds = atoi(fds);
    for (int i = 0; i < w.nfds; i++) {
        w.fds[i] = 3 + i;
        if (weft_reactor_add_reader(w.r, w.fds[i], on_accept, NULL) < 0)
            return 1;
    }
    if (weft_reactor_add_signal(w.r, SIGTERM, on_term, NULL) < 0)
        return 1;
    if (!not_ready_if || access(not_ready_if, F_OK) != 0) {
        if (notify_ready() < 0) {
            fprintf(stderr, "sup_worker: cannot notify: %s\n", strerror(errno));
            return 1;
        }
    }
    weft_reactor_run(w.r);
    weft_reactor_free(w.r);
    return 0;
}
