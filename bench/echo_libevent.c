/* SPDX-License-Identifier: MIT */
/*
 * The libevent peer of `weft echo`, doing the same work per read as weft and
 * as bench/echo_libuv.c: up to four reads per wake-up into one shared 64 KiB
 * buffer; each read is offered to the kernel at once with send(2), and only
 * what it does not take is copied, into the connection's evbuffer, which an
 * EV_WRITE event flushes (evbuffer_write). Above 64 KiB queued it stops
 * reading that connection (event_del) until the queue drains to 16 KiB:
 * weft's default water marks. At EOF the queue is sent before the close.
 * TCP_NODELAY is on, as in weft.
 *
 * Not the textbook bufferevent server: in libevent 2.1 a bufferevent reads
 * at most 4 KiB per read(2), after an ioctl(FIONREAD) each time
 * (EVBUFFER_MAX_READ; 2.2 makes it settable), and always writes from the
 * next loop iteration - a different amount of work per byte than the other
 * two servers do. SIGTERM or SIGINT ends the loop; the listener and the
 * base are freed and the process exits 0 (callgrind then writes its output).
 *
 * Usage: echo_libevent [--port P]   (default 0: any free port)
 * Prints "echo_libevent: listening on (127.0.0.1:PORT)" on stderr when ready.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

enum { READ_SIZE = 64 * 1024, READS_PER_WAKEUP = 4, HIGH = 64 * 1024, LOW = 16 * 1024, BACKLOG = 1024 };

typedef struct client {
    evutil_socket_t fd;
    struct event *rd, *wr;
    struct evbuffer *out; /* what the kernel has not taken yet */
    bool paused;          /* reading stopped above HIGH */
    bool closing;         /* EOF seen: close once out is empty */
} client;

static char read_buf[READ_SIZE];

static void client_free(client *c)
{
    event_free(c->rd);
    event_free(c->wr);
    evbuffer_free(c->out);
    evutil_closesocket(c->fd);
    free(c);
}

static void set_reading(client *c, bool on)
{
    if (on)
        event_add(c->rd, NULL);
    else
        event_del(c->rd);
}

/* Writes at once what the kernel takes; queues the rest. Returns false when
 * the connection is dead. */
static bool echo(client *c, const char *data, size_t len)
{
    if (evbuffer_get_length(c->out) == 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
        if (len == 0)
            return true;
    }
    if (evbuffer_add(c->out, data, len) < 0)
        return false;
    event_add(c->wr, NULL);
    if (evbuffer_get_length(c->out) > HIGH && !c->paused) {
        c->paused = true;
        set_reading(c, false);
    }
    return true;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    client *c = arg;
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        ssize_t n = read(fd, read_buf, sizeof read_buf);
        if (n > 0) {
            if (!echo(c, read_buf, (size_t)n)) {
                client_free(c);
                return;
            }
            if (c->paused || (size_t)n < sizeof read_buf)
                return;
        } else if (n == 0) {
            set_reading(c, false);
            if (evbuffer_get_length(c->out) == 0)
                client_free(c);
            else
                c->closing = true;
            return;
        } else if (errno == EAGAIN) {
            return;
        } else if (errno != EINTR) {
            client_free(c);
            return;
        }
    }
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    client *c = arg;
    if (evbuffer_write(c->out, fd) < 0 && errno != EAGAIN && errno != EINTR) {
        client_free(c);
        return;
    }
    size_t left = evbuffer_get_length(c->out);
    if (left == 0) {
        event_del(c->wr);
        if (c->closing) {
            client_free(c);
            return;
        }
    }
    if (c->paused && left <= LOW) {
        c->paused = false;
        set_reading(c, true);
    }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)sa;
    (void)salen;
    (void)arg;
    struct event_base *base = evconnlistener_get_base(l);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    client *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->fd = fd;
    c->rd = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->wr = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    c->out = evbuffer_new();
    if (!c->rd || !c->wr || !c->out || event_add(c->rd, NULL) < 0) {
        if (c->rd)
            event_free(c->rd);
        if (c->wr)
            event_free(c->wr);
        if (c->out)
            evbuffer_free(c->out);
        evutil_closesocket(fd);
        free(c);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    int port = 0;
    if (argc == 3 && strcmp(argv[1], "--port") == 0) {
        port = atoi(argv[2]);
    } else if (argc != 1) {
        fputs("usage: echo_libevent [--port P]\n", stderr);
        return 2;
    }
    struct event_base *base = event_base_new();
    if (!base)
        bench_die("event_base_new", 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l = evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                                       BACKLOG, (struct sockaddr *)&sa, sizeof sa);
    if (!l)
        bench_die("evconnlistener_new_bind", 0);
    struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *intr = evsignal_new(base, SIGINT, on_signal, base);
    if (!term || !intr || event_add(term, NULL) < 0 || event_add(intr, NULL) < 0)
        bench_die("evsignal_new", 0);

    struct sockaddr_in bound;
    socklen_t len = sizeof bound;
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &len) < 0)
        bench_die("getsockname", 0);
    fprintf(stderr, "echo_libevent: listening on (127.0.0.1:%d)\n", ntohs(bound.sin_port));
    fflush(stderr);

    event_base_dispatch(base);
    event_free(term);
    event_free(intr);
    evconnlistener_free(l);
    event_base_free(base);
    return 0;
}
