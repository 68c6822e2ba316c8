/* SPDX-License-Identifier: MIT */
/*
 * The libevent peer of `weft echo`: the textbook bufferevent echo server.
 * An evconnlistener accepts; each connection gets a socket bufferevent whose
 * read callback moves the whole input buffer to the output buffer
 * (evbuffer_add_buffer moves chains, it does not copy). Above 64 KiB of
 * output it stops reading until the output drains below 16 KiB, as weft's
 * water marks do. TCP_NODELAY is on, as in weft. SIGTERM or SIGINT ends the
 * loop; the listener and the base are freed and the process exits 0.
 *
 * Usage: echo_libevent [--port P]   (default 0: any free port)
 * Prints "echo_libevent: listening on (127.0.0.1:PORT)" on stderr when ready.
 */
#define _GNU_SOURCE
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>

#include "bench.h"

enum { HIGH = 64 * 1024, LOW = 16 * 1024, BACKLOG = 1024 };

static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* Set only while reading is paused: the output drained to the low mark. */
static void on_write(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_enable(bev, EV_READ);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *out = bufferevent_get_output(bev);
    evbuffer_add_buffer(out, bufferevent_get_input(bev));
    if (evbuffer_get_length(out) > HIGH) {
        bufferevent_disable(bev, EV_READ);
        bufferevent_setwatermark(bev, EV_WRITE, LOW, 0);
        bufferevent_setcb(bev, on_read, on_write, on_event, NULL);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)sa;
    (void)salen;
    (void)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
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
