/* SPDX-License-Identifier: MIT */
/*
 * The libuv peer of `weft echo`, doing the same work per read as weft and as
 * bench/echo_libevent.c: reads land in one shared 64 KiB buffer (the read
 * callback is done with it before the next read); each read is offered to
 * the kernel at once with uv_try_write, and only what the kernel does not
 * take is copied into a uv_write request. Above 64 KiB queued it stops
 * reading that connection (uv_read_stop) until the queue drains to 16 KiB:
 * weft's default water marks. At EOF the queue is sent (uv_shutdown) before
 * the close. TCP_NODELAY is on, as in weft. One difference libuv does not
 * let us remove: it reads up to 32 times per wake-up while reads fill the
 * buffer, where weft and the libevent peer stop at 4 (only bulk transfers
 * see it; a ping-pong read is short). SIGTERM or SIGINT closes every
 * handle, so the loop ends and the process exits 0 (callgrind then writes
 * its output).
 *
 * Usage: echo_libuv [--port P]   (default 0: any free port)
 * Prints "echo_libuv: listening on (127.0.0.1:PORT)" on stderr when ready.
 */
#include <stdbool.h>
#include <uv.h>

#include "bench.h"

enum { READ_SIZE = 64 * 1024, HIGH = 64 * 1024, LOW = 16 * 1024, BACKLOG = 1024 };

typedef struct client {
    uv_tcp_t tcp;
    bool paused;
} client;

typedef struct wreq {
    uv_write_t req;
    uv_buf_t buf;
    char data[];
} wreq;

static char read_buf[READ_SIZE];

static void check(const char *what, int err)
{
    if (err < 0) {
        fprintf(stderr, "echo_libuv: %s: %s\n", what, uv_strerror(err));
        exit(1);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_client_closed(uv_handle_t *h)
{
    free(h->data);
}

static void close_client(uv_stream_t *s)
{
    if (!uv_is_closing((uv_handle_t *)s))
        uv_close((uv_handle_t *)s, on_client_closed);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    uv_stream_t *s = req->handle;
    free(w);
    if (status < 0) {
        close_client(s);
        return;
    }
    client *c = s->data;
    if (c->paused && uv_stream_get_write_queue_size(s) <= LOW && !uv_is_closing((uv_handle_t *)s)) {
        c->paused = false;
        check("uv_read_start", uv_read_start(s, on_alloc, on_read));
    }
}

static void on_shut(uv_shutdown_t *req, int status)
{
    (void)status;
    close_client(req->handle);
    free(req);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread == UV_EOF) {
        /* The echo queued so far goes out first. */
        uv_shutdown_t *req = malloc(sizeof *req);
        uv_read_stop(s);
        ((client *)s->data)->paused = false; /* and reading never resumes */
        if (!req || uv_shutdown(req, s, on_shut) < 0) {
            free(req);
            close_client(s);
        }
        return;
    }
    if (nread < 0) {
        close_client(s);
        return;
    }
    if (nread == 0)
        return;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
    int n = uv_try_write(s, &b, 1);
    if (n == nread)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        close_client(s);
        return;
    }
    size_t off = n > 0 ? (size_t)n : 0, len = (size_t)nread - off;
    wreq *w = malloc(sizeof *w + len);
    if (!w) {
        close_client(s);
        return;
    }
    memcpy(w->data, buf->base + off, len);
    w->buf = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, s, &w->buf, 1, on_written) < 0) {
        free(w);
        close_client(s);
        return;
    }
    client *c = s->data;
    if (uv_stream_get_write_queue_size(s) > HIGH) {
        c->paused = true;
        uv_read_stop(s);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    client *c = malloc(sizeof *c);
    if (!c)
        return;
    c->paused = false;
    check("uv_tcp_init", uv_tcp_init(server->loop, &c->tcp));
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        close_client((uv_stream_t *)&c->tcp);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->data ? on_client_closed : NULL);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    (void)signum;
    uv_walk(sig->loop, close_any, NULL);
}

int main(int argc, char **argv)
{
    int port = 0;
    if (argc == 3 && strcmp(argv[1], "--port") == 0) {
        port = atoi(argv[2]);
    } else if (argc != 1) {
        fputs("usage: echo_libuv [--port P]\n", stderr);
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    uv_signal_t sigterm, sigint;
    struct sockaddr_in sa;
    check("uv_ip4_addr", uv_ip4_addr("127.0.0.1", port, &sa));
    check("uv_tcp_init", uv_tcp_init(loop, &server));
    server.data = NULL;
    check("uv_tcp_bind", uv_tcp_bind(&server, (const struct sockaddr *)&sa, 0));
    check("uv_listen", uv_listen((uv_stream_t *)&server, BACKLOG, on_connection));
    check("uv_signal_init", uv_signal_init(loop, &sigterm));
    check("uv_signal_init", uv_signal_init(loop, &sigint));
    sigterm.data = sigint.data = NULL;
    check("uv_signal_start", uv_signal_start(&sigterm, on_signal, SIGTERM));
    check("uv_signal_start", uv_signal_start(&sigint, on_signal, SIGINT));

    struct sockaddr_in bound;
    int len = sizeof bound;
    check("uv_tcp_getsockname", uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len));
    fprintf(stderr, "echo_libuv: listening on (127.0.0.1:%d)\n", ntohs(bound.sin_port));
    fflush(stderr);

    check("uv_run", uv_run(loop, UV_RUN_DEFAULT));
    check("uv_loop_close", uv_loop_close(loop));
    return 0;
}
