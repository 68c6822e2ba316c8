/* SPDX-License-Identifier: MIT */
/*
 * The libuv peer of `weft portforward`: a TCP port forwarder as a libuv user
 * writes one. Each accepted connection is paired with a connection to the
 * target; nothing is read from it until the target has answered. Each read
 * lands in a fresh 64 KiB buffer that is handed to uv_write on the other side
 * as it is (no copy) and freed when written. Backpressure as weft's: when the
 * other side's write queue passes 64 KiB, reading stops until it drains
 * below 16 KiB. End of input on one side shuts the other's writing side
 * once its queue is sent; when both directions are shut, both close.
 *
 * Usage: forward_libuv --connect PORT [--port P]   (127.0.0.1 both ways)
 * Prints "forward_libuv: listening on (127.0.0.1:PORT)" on stderr when
 * ready. SIGTERM (default action) ends it.
 */
#include <stdbool.h>
#include <uv.h>

#include "bench.h"

enum { READ_SIZE = 64 * 1024, HIGH = 64 * 1024, LOW = 16 * 1024, BACKLOG = 1024 };

typedef struct pair pair;

typedef struct side {
    uv_tcp_t tcp;
    struct side *other;
    pair *pair;
    bool paused; /* reading stopped for backpressure */
    bool eof;    /* end of input seen */
    uv_shutdown_t shut;
} side;

struct pair {
    side in, out;
    uv_connect_t connect;
    int open;   /* handles not yet closed */
    int shut;   /* writing sides shut */
    bool closing;
};

typedef struct wreq {
    uv_write_t req;
    side *from;
    char *base;
} wreq;

static struct sockaddr_in target;

static void check(const char *what, int err)
{
    if (err < 0) {
        fprintf(stderr, "forward_libuv: %s: %s\n", what, uv_strerror(err));
        exit(1);
    }
}

static void on_closed(uv_handle_t *h)
{
    pair *p = ((side *)h->data)->pair;
    if (--p->open == 0)
        free(p);
}

static void close_pair(pair *p)
{
    if (p->closing)
        return;
    p->closing = true;
    uv_close((uv_handle_t *)&p->in.tcp, on_closed);
    uv_close((uv_handle_t *)&p->out.tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    char *b = malloc(READ_SIZE);
    *buf = uv_buf_init(b, b ? READ_SIZE : 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    side *from = w->from;
    free(w->base);
    free(w);
    if (from->pair->closing)
        return;
    if (status < 0) {
        close_pair(from->pair);
        return;
    }
    if (from->paused && uv_stream_get_write_queue_size((uv_stream_t *)&from->other->tcp) <= LOW) {
        from->paused = false;
        check("uv_read_start", uv_read_start((uv_stream_t *)&from->tcp, on_alloc, on_read));
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    side *s = req->data;
    pair *p = s->pair;
    if (status < 0 || ++p->shut == 2)
        close_pair(p);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    side *s = st->data;
    pair *p = s->pair;
    if (nread <= 0) {
        free(buf->base);
        if (nread == 0)
            return;
        if (nread != UV_EOF) {
            close_pair(p);
            return;
        }
        s->eof = true;
        uv_read_stop(st);
        s->other->shut.data = s->other;
        if (uv_shutdown(&s->other->shut, (uv_stream_t *)&s->other->tcp, on_shutdown) < 0)
            close_pair(p);
        return;
    }
    wreq *w = malloc(sizeof *w);
    if (!w) {
        free(buf->base);
        close_pair(p);
        return;
    }
    w->from = s;
    w->base = buf->base;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
    uv_stream_t *to = (uv_stream_t *)&s->other->tcp;
    if (uv_write(&w->req, to, &b, 1, on_written) < 0) {
        free(buf->base);
        free(w);
        close_pair(p);
        return;
    }
    if (uv_stream_get_write_queue_size(to) > HIGH) {
        s->paused = true;
        uv_read_stop(st);
    }
}

static void on_connected(uv_connect_t *req, int status)
{
    pair *p = req->data;
    if (status < 0 || p->closing) {
        close_pair(p);
        return;
    }
    uv_tcp_nodelay(&p->in.tcp, 1);
    uv_tcp_nodelay(&p->out.tcp, 1);
    if (uv_read_start((uv_stream_t *)&p->in.tcp, on_alloc, on_read) < 0 ||
        uv_read_start((uv_stream_t *)&p->out.tcp, on_alloc, on_read) < 0)
        close_pair(p);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    pair *p = calloc(1, sizeof *p);
    if (!p)
        return;
    side *sides[2] = {&p->in, &p->out};
    for (int i = 0; i < 2; i++) {
        check("uv_tcp_init", uv_tcp_init(server->loop, &sides[i]->tcp));
        sides[i]->tcp.data = sides[i];
        sides[i]->pair = p;
        sides[i]->other = sides[1 - i];
    }
    p->open = 2;
    p->connect.data = p;
    if (uv_accept(server, (uv_stream_t *)&p->in.tcp) < 0 ||
        uv_tcp_connect(&p->connect, &p->out.tcp, (const struct sockaddr *)&target, on_connected) < 0)
        close_pair(p);
}

int main(int argc, char **argv)
{
    int port = 0, to = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--connect") == 0)
            to = atoi(argv[i + 1]);
    }
    if (to <= 0 || to > 65535 || argc % 2 == 0) {
        fputs("usage: forward_libuv --connect PORT [--port P]\n", stderr);
        return 2;
    }
    check("uv_ip4_addr", uv_ip4_addr("127.0.0.1", to, &target));
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in sa;
    check("uv_ip4_addr", uv_ip4_addr("127.0.0.1", port, &sa));
    check("uv_tcp_init", uv_tcp_init(loop, &server));
    check("uv_tcp_bind", uv_tcp_bind(&server, (const struct sockaddr *)&sa, 0));
    check("uv_listen", uv_listen((uv_stream_t *)&server, BACKLOG, on_connection));
    struct sockaddr_in bound;
    int len = sizeof bound;
    check("uv_tcp_getsockname", uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len));
    fprintf(stderr, "forward_libuv: listening on (127.0.0.1:%d)\n", ntohs(bound.sin_port));
    fflush(stderr);
    return uv_run(loop, UV_RUN_DEFAULT) < 0;
}
