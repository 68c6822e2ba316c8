/* SPDX-License-Identifier: MIT */
/* Stream transports over real sockets: TCP on IPv4 and IPv6, UNIX paths and
 * abstract names; connecting, echo, half-close, abort, lose after flush,
 * zero-copy writes, backpressure. Everything on loopback, port 0. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* ---- an echo server ---- */

typedef struct echo {
    weft_protocol base;
    bool half_close; /* keep writing after the peer's EOF */
} echo;

static void echo_made(weft_protocol *p);

static void echo_data(weft_protocol *p, const void *data, size_t len)
{
    cr_assert_eq(weft_transport_write(p->transport, data, len), 0);
}

static bool echo_eof(weft_protocol *p)
{
    echo *e = (echo *)p;
    if (e->half_close)
        weft_transport_write_eof(p->transport);
    return e->half_close;
}

static void free_protocol(weft_protocol *p)
{
    free(p);
}

static const weft_protocol_ops echo_ops = {
    .connection_made = echo_made, .data_received = echo_data, .eof_received = echo_eof, .destroy = free_protocol};

typedef struct server_factory {
    weft_factory base;
    int built, started, stopped;
    bool half_close;
    bool deaf; /* its protocols never read: a reader slower than any writer */
    weft_protocol *last; /* the last protocol built */
} server_factory;

static void echo_made(weft_protocol *p)
{
    if (((server_factory *)p->factory)->deaf)
        weft_transport_pause_reading(p->transport);
}

static weft_protocol *build_echo(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    server_factory *sf = (server_factory *)f;
    sf->built++;
    echo *e = calloc(1, sizeof *e);
    e->base.ops = &echo_ops;
    e->half_close = sf->half_close;
    sf->last = &e->base;
    return &e->base;
}

static void factory_started(weft_factory *f)
{
    ((server_factory *)f)->started++;
}

static void factory_stopped(weft_factory *f)
{
    ((server_factory *)f)->stopped++;
}

static const weft_factory_ops echo_factory_ops = {build_echo, factory_started, factory_stopped};

/* ---- a client that sends, collects and notes how it ended ---- */

typedef struct client {
    weft_protocol base;
    char *got;
    size_t len, cap;
    bool made, eof, lost;
    int lost_code;
    bool keep_open_on_eof;
    weft_deferred *done; /* fires on connection_lost */
} client;

static void client_made(weft_protocol *p)
{
    ((client *)p)->made = true;
}

static void client_data(weft_protocol *p, const void *data, size_t len)
{
    client *c = (client *)p;
    if (c->len + len > c->cap) {
        c->cap = (c->len + len) * 2;
        c->got = realloc(c->got, c->cap);
    }
    memcpy(c->got + c->len, data, len);
    c->len += len;
}

static bool client_eof(weft_protocol *p)
{
    client *c = (client *)p;
    c->eof = true;
    return c->keep_open_on_eof;
}

static void client_lost(weft_protocol *p, const weft_failure *why)
{
    client *c = (client *)p;
    c->lost = true;
    c->lost_code = weft_failure_code(why);
    weft_deferred_callback(c->done, NULL, NULL);
}

static const weft_protocol_ops client_ops = {
    .connection_made = client_made, .data_received = client_data, .eof_received = client_eof,
    .connection_lost = client_lost};

typedef struct client_factory {
    weft_factory base;
    client *c;
} client_factory;

static weft_protocol *build_client(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    return &((client_factory *)f)->c->base;
}

static const weft_factory_ops client_factory_ops = {.build = build_client};

/* ---- fixture ---- */

typedef struct fixture {
    weft_reactor *r;
    server_factory sf;
    weft_port *port;
    weft_address addr;
    client c;
    client_factory cf;
} fixture;

static void setup_on(fixture *fx, const weft_address *where)
{
    memset(fx, 0, sizeof *fx);
    fx->r = weft_test_reactor();
    fx->sf.base.ops = &echo_factory_ops;
    int err = weft_listen(fx->r, where, &fx->sf.base, NULL, &fx->port);
    cr_assert_eq(err, 0, "listen: %s", weft_strerror(err));
    cr_assert_eq(weft_port_address(fx->port, &fx->addr), 0);
    fx->c.base.ops = &client_ops;
    fx->c.done = weft_deferred_new(fx->r);
    fx->cf.base.ops = &client_factory_ops;
    fx->cf.c = &fx->c;
}

static void connect_client(fixture *fx)
{
    weft_deferred *d = weft_connect(fx->r, &fx->addr, &fx->cf.base, NULL);
    cr_assert_not_null(d);
    cr_assert_eq(weft_reactor_run_until(fx->r, d, 10), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert(!weft_failed(res), "connect failed");
    cr_assert_eq(res.value, &fx->c.base);
    cr_assert(fx->c.made);
    cr_assert_not_null(fx->c.base.transport);
    weft_deferred_unref(d);
}

static void teardown(fixture *fx)
{
    if (fx->port)
        weft_deferred_unref(weft_port_stop(fx->port));
    /* Let closes finish their second phase. */
    weft_reactor_iterate(fx->r, 0);
    weft_deferred_unref(fx->c.done);
    free(fx->c.got);
    weft_reactor_free(fx->r);
}

static void wait_for_bytes(fixture *fx, size_t n)
{
    for (int i = 0; i < 10000 && fx->c.len < n && !fx->c.lost; i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 1), 0);
    cr_assert_eq(fx->c.len, n);
}

static void echo_round_trip(const weft_address *where)
{
    fixture fx;
    setup_on(&fx, where);
    cr_assert_eq(fx.sf.started, 1, "the port started the factory");
    connect_client(&fx);
    cr_assert_eq(weft_transport_write(fx.c.base.transport, "hello, ", 7), 0);
    struct iovec iov[2] = {{"wo", 2}, {"rld", 3}};
    cr_assert_eq(weft_transport_writev(fx.c.base.transport, iov, 2), 0);
    wait_for_bytes(&fx, 12);
    cr_assert_eq(memcmp(fx.c.got, "hello, world", 12), 0);
    cr_assert_eq(fx.sf.built, 1);
    weft_transport_lose_connection(fx.c.base.transport);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    cr_assert_eq(fx.c.lost_code, WEFT_EOF);
    cr_assert_null(fx.c.base.transport);
    teardown(&fx);
}

WEFT_TEST(tcp, echo_ipv4)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    echo_round_trip(&a);
}

WEFT_TEST(tcp, echo_ipv6)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("::1", 0, &a), 0);
    echo_round_trip(&a);
}

WEFT_TEST(tcp, echo_unix_path)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-test-%d.sock", (int)getpid());
    weft_address a;
    cr_assert_eq(weft_address_from_unix(path, &a), 0);
    echo_round_trip(&a);
    cr_assert_neq(access(path, F_OK), 0, "the socket file is removed when the port stops");
}

WEFT_TEST(tcp, echo_unix_abstract)
{
    char name[64];
    snprintf(name, sizeof name, "@weft-test-%d", (int)getpid());
    weft_address a;
    cr_assert_eq(weft_address_from_unix(name, &a), 0);
    echo_round_trip(&a);
}

WEFT_TEST(tcp, addresses)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    setup_on(&fx, &a);
    cr_assert_gt(weft_address_port(&fx.addr), 0, "the real port is known when 0 was asked");
    connect_client(&fx);
    weft_address peer, host;
    cr_assert_eq(weft_transport_peer(fx.c.base.transport, &peer), 0);
    cr_assert_eq(weft_transport_host(fx.c.base.transport, &host), 0);
    cr_assert(weft_address_equal(&peer, &fx.addr));
    char text[64];
    weft_address_format(&peer, text, sizeof text);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", weft_address_port(&fx.addr));
    cr_assert_str_eq(text, want);
    cr_assert_eq(weft_transport_set_nodelay(fx.c.base.transport, true), 0);
    cr_assert_eq(weft_transport_set_cork(fx.c.base.transport, true), 0);
    cr_assert_eq(weft_transport_set_cork(fx.c.base.transport, false), 0);
    cr_assert_eq(weft_transport_set_keepalive(fx.c.base.transport, true), 0);
    weft_transport_abort_connection(fx.c.base.transport);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    cr_assert_eq(fx.c.lost_code, -ECONNABORTED);
    teardown(&fx);
}

WEFT_TEST(tcp, connection_refused)
{
    weft_reactor *r = weft_test_reactor();
    /* A port that was just free: listen, note it, stop. */
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    server_factory sf = {.base.ops = &echo_factory_ops};
    weft_port *port;
    cr_assert_eq(weft_listen(r, &a, &sf.base, NULL, &port), 0);
    cr_assert_eq(weft_port_address(port, &a), 0);
    weft_deferred_unref(weft_port_stop(port));
    cr_assert_eq(sf.stopped, 1);
    client c = {.base.ops = &client_ops};
    client_factory cf = {.base.ops = &client_factory_ops, .c = &c};
    weft_deferred *d = weft_connect(r, &a, &cf.base, NULL);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert(weft_failed(res));
    cr_assert_eq(weft_failure_code(weft_result_failure(res)), -ECONNREFUSED);
    cr_assert(!c.made);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(tcp, connect_cancelled)
{
    weft_reactor *r = weft_test_reactor();
    weft_address a;
    /* TEST-NET-1: never answers on these machines (no route out). */
    cr_assert_eq(weft_address_from_ip("192.0.2.1", 9, &a), 0);
    client c = {.base.ops = &client_ops};
    client_factory cf = {.base.ops = &client_factory_ops, .c = &c};
    weft_deferred *d = weft_connect(r, &a, &cf.base, NULL);
    weft_deferred_cancel(d);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert(weft_failed(res));
    int code = weft_failure_code(weft_result_failure(res));
    cr_assert(code == WEFT_ECANCELED || code == -ENETUNREACH, "got %s", weft_err_name(code));
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(tcp, half_close_both_ways)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    setup_on(&fx, &a);
    fx.sf.half_close = true;
    fx.c.keep_open_on_eof = true;
    connect_client(&fx);
    cr_assert_eq(weft_transport_write(fx.c.base.transport, "last words", 10), 0);
    cr_assert_eq(weft_transport_write_eof(fx.c.base.transport), 0);
    cr_assert_eq(weft_transport_write(fx.c.base.transport, "x", 1), -ENOTCONN);
    /* The server echoes, sees our EOF, shuts its side; we read it all. */
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    cr_assert_eq(fx.c.len, 10);
    cr_assert(fx.c.eof);
    cr_assert_eq(fx.c.lost_code, WEFT_EOF);
    teardown(&fx);
}

WEFT_TEST(tcp, eof_without_half_close_closes)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    setup_on(&fx, &a);
    fx.c.keep_open_on_eof = true;
    connect_client(&fx);
    cr_assert_eq(weft_transport_write(fx.c.base.transport, "bye", 3), 0);
    cr_assert_eq(weft_transport_write_eof(fx.c.base.transport), 0);
    /* The echo server does not half-close: its EOF closes it after the echo. */
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    cr_assert_eq(fx.c.len, 3);
    cr_assert_eq(fx.c.lost_code, WEFT_EOF);
    teardown(&fx);
}

static size_t released_bytes;

static void note_release(void *arg)
{
    released_bytes += (size_t)arg;
}

WEFT_TEST(tcp, big_writes_lose_after_flush_and_zero_copy)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    setup_on(&fx, &a);
    fx.c.keep_open_on_eof = true;
    connect_client(&fx);
    enum { N = 8 << 20 };
    char *big = malloc(N);
    for (size_t i = 0; i < N; i++)
        big[i] = (char)(i * 7 + i / 4096);
    weft_transport *t = fx.c.base.transport;
    cr_assert_eq(weft_transport_write(t, big, N / 2), 0);
    cr_assert_eq(weft_transport_write_borrowed(t, big + N / 2, N / 2, note_release, (void *)(size_t)(N / 2)), 0);
    cr_assert_eq(released_bytes, 0, "release never runs inside the write");
    cr_assert_gt(weft_transport_buffered(t), 0, "8 MiB cannot all go at once");
    cr_assert_eq(weft_transport_write_eof(t), 0);
    wait_for_bytes(&fx, N);
    cr_assert_eq(memcmp(fx.c.got, big, N), 0);
    cr_assert_eq(released_bytes, N / 2);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    free(big);
    teardown(&fx);
}

/* A streaming producer writing as fast as it may: the transport's water
 * marks pause it, so the buffer stays bounded however slow the reader. */
typedef struct firehose {
    weft_producer base;
    weft_transport *t;
    bool paused, stopped;
    int pauses, resumes;
    size_t written, max_buffered;
} firehose;

static void hose_pause(weft_producer *p)
{
    firehose *h = (firehose *)p;
    h->paused = true;
    h->pauses++;
}

static void hose_resume(weft_producer *p)
{
    firehose *h = (firehose *)p;
    h->paused = false;
    h->resumes++;
}

static void hose_stop(weft_producer *p)
{
    ((firehose *)p)->stopped = true;
}

static const weft_producer_ops hose_ops = {hose_pause, hose_resume, hose_stop};

WEFT_TEST(tcp, backpressure_pauses_the_producer)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    setup_on(&fx, &a);
    fx.sf.deaf = true; /* the server reads nothing: kernel buffers fill, then ours */
    connect_client(&fx);
    weft_transport *t = fx.c.base.transport;
    firehose h = {.base.ops = &hose_ops, .t = t};
    cr_assert_eq(weft_transport_register_producer(t, &h.base, true), 0);
    cr_assert_eq(weft_transport_register_producer(t, &h.base, true), WEFT_EBUSY);
    static char chunk[16384];
    for (int i = 0; i < 100000 && h.pauses == 0; i++) {
        if (!h.paused) {
            cr_assert_eq(weft_transport_write(t, chunk, sizeof chunk), 0);
            h.written += sizeof chunk;
        }
        if (weft_transport_buffered(t) > h.max_buffered)
            h.max_buffered = weft_transport_buffered(t);
        weft_reactor_iterate(fx.r, 0);
    }
    cr_assert_eq(h.pauses, 1, "the producer was paused");
    cr_assert_leq(h.max_buffered, 64 * 1024 + sizeof chunk, "bounded by the high-water mark");
    /* Once the server reads again, our buffer drains and the producer goes on. */
    fx.sf.deaf = false;
    weft_transport_pause_reading(t); /* its echoes must not fill the server's buffer meanwhile */
    for (int i = 0; i < 10000 && h.resumes == 0; i++) {
        if (i == 0)
            weft_transport_resume_reading(fx.sf.last->transport);
        weft_reactor_iterate(fx.r, 1);
    }
    cr_assert_eq(h.resumes, 1);
    weft_transport_abort_connection(t);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    cr_assert(h.stopped, "a producer is stopped when its consumer goes");
    teardown(&fx);
}

WEFT_TEST(tcp, listen_errors)
{
    weft_reactor *r = weft_test_reactor();
    server_factory sf = {.base.ops = &echo_factory_ops};
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    weft_port *p1, *p2;
    cr_assert_eq(weft_listen(r, &a, &sf.base, NULL, &p1), 0);
    cr_assert_eq(weft_port_address(p1, &a), 0);
    cr_assert_eq(weft_listen(r, &a, &sf.base, NULL, &p2), -EADDRINUSE);
    weft_deferred_unref(weft_port_stop(p1));
    cr_assert_eq(sf.started, 1);
    cr_assert_eq(sf.stopped, 1);
    weft_reactor_free(r);
}

/* A pull producer writes one chunk each time it is asked; the transport
 * must keep asking (from the loop) while its writes go straight out. */
typedef struct puller {
    weft_producer base;
    weft_transport *t;
    int asked, left;
} puller;

static void pull_resume(weft_producer *p)
{
    puller *pl = (puller *)p;
    pl->asked++;
    if (pl->left-- > 0)
        cr_assert_eq(weft_transport_write(pl->t, "chunk;", 6), 0);
    else
        weft_transport_unregister_producer(pl->t);
}

static const weft_producer_ops pull_ops = {NULL, pull_resume, NULL};

WEFT_TEST(tcp, pull_producer_is_asked_until_done)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    setup_on(&fx, &a);
    connect_client(&fx);
    puller pl = {.base.ops = &pull_ops, .t = fx.c.base.transport, .left = 3};
    cr_assert_eq(weft_transport_register_producer(pl.t, &pl.base, false), 0);
    cr_assert_eq(pl.asked, 1, "asked at once, as Twisted");
    wait_for_bytes(&fx, 18);
    cr_assert_eq(memcmp(fx.c.got, "chunk;chunk;chunk;", 18), 0);
    cr_assert_eq(pl.asked, 4, "asked again after each write until it unregistered");
    weft_transport_abort_connection(pl.t);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    teardown(&fx);
}

WEFT_TEST(tcp, zero_length_borrowed_write, .timeout = 10)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    setup_on(&fx, &a);
    connect_client(&fx);
    released_bytes = 0;
    cr_assert_eq(weft_transport_write_borrowed(fx.c.base.transport, "", 0, note_release, (void *)(size_t)1), 0);
    cr_assert_eq(weft_transport_write(fx.c.base.transport, "x", 1), 0);
    wait_for_bytes(&fx, 1);
    cr_assert_eq(released_bytes, 1, "the empty buffer was given back");
    weft_transport_abort_connection(fx.c.base.transport);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    teardown(&fx);
}

/* ---- sendfile: file ranges in the write chain ---- */

/* A temporary file of n patterned bytes, already unlinked (nothing to clean
 * up but the descriptor); *content gets a copy to compare with. */
static int patterned_file(size_t n, char **content)
{
    char path[] = "/tmp/weft-test-sendfile-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(unlink(path), 0);
    char *buf = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(i * 13 + i / 65536);
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, buf + done, n - done);
        cr_assert_gt(w, 0);
        done += (size_t)w;
    }
    if (content)
        *content = buf;
    else
        free(buf);
    return fd;
}

static int open_fds(void)
{
    int count = 0;
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        count += e->d_name[0] != '.';
    closedir(d);
    return count - 1; /* opendir's own */
}

/* The server side of the fixture's connection, once accepted. */
static weft_transport *server_transport(fixture *fx)
{
    for (int i = 0; i < 10000 && !fx->sf.last; i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 1), 0);
    cr_assert_not_null(fx->sf.last);
    return fx->sf.last->transport;
}

/* The most a loopback TCP connection can take from the sender at once: the
 * largest send buffer plus the largest receive buffer the kernel allows
 * (tcp_wmem and tcp_rmem's maximums). */
static size_t loopback_capacity(void)
{
    size_t total = 0;
    const char *const files[] = {"/proc/sys/net/ipv4/tcp_wmem", "/proc/sys/net/ipv4/tcp_rmem"};
    for (size_t i = 0; i < 2; i++) {
        unsigned long lo, def, max = 16ul << 20;
        FILE *f = fopen(files[i], "r");
        if (!f || fscanf(f, "%lu %lu %lu", &lo, &def, &max) != 3)
            max = 16ul << 20;
        if (f)
            fclose(f);
        total += max;
    }
    return total;
}

/* Writes, a whole file, writes, part of a second file, a write: everything
 * arrives in that order. */
static void file_between_writes(const weft_address *where, size_t n)
{
    fixture fx;
    setup_on(&fx, where);
    connect_client(&fx);
    weft_transport *t = server_transport(&fx);
    weft_transport_pause_reading(t); /* the echo server: it only sends here */
    char *content;
    int fd = patterned_file(n, &content);
    int fd2 = dup(fd);
    cr_assert_eq(weft_transport_write(t, "before|", 7), 0);
    cr_assert_eq(weft_transport_send_file(t, fd, 0, n), 0);
    size_t room = loopback_capacity();
    cr_assert_geq(weft_transport_buffered(t), n > room ? n - room : 0, "the file waits in the buffer, counted");
    cr_assert_eq(weft_transport_write(t, "|middle|", 8), 0);
    cr_assert_eq(weft_transport_send_file(t, fd2, 1000, 5000), 0);
    cr_assert_eq(weft_transport_write(t, "|after", 6), 0);
    weft_transport_lose_connection(t);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 30), 0);
    cr_assert_eq(fx.c.lost_code, WEFT_EOF);
    size_t want = 7 + n + 8 + 5000 + 6;
    cr_assert_eq(fx.c.len, want, "got %zu of %zu bytes", fx.c.len, want);
    const char *g = fx.c.got;
    cr_assert_eq(memcmp(g, "before|", 7), 0);
    cr_assert_eq(memcmp(g + 7, content, n), 0, "the file arrives byte-exact");
    cr_assert_eq(memcmp(g + 7 + n, "|middle|", 8), 0);
    cr_assert_eq(memcmp(g + 15 + n, content + 1000, 5000), 0, "the range from its offset");
    cr_assert_eq(memcmp(g + 15 + n + 5000, "|after", 6), 0);
    free(content);
    teardown(&fx);
}

WEFT_TEST(tcp, send_file_32mib_between_writes, .timeout = 60)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    int before = open_fds();
    /* Larger than loopback can swallow at once, so part of it must wait
     * in the transport's buffer. */
    size_t n = loopback_capacity() + (8u << 20);
    file_between_writes(&a, n > (32u << 20) ? n : 32u << 20);
    cr_assert_eq(open_fds(), before, "both files were closed once sent");
}

WEFT_TEST(tcp, send_file_over_unix_socket, .timeout = 60)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-test-sf-%d.sock", (int)getpid());
    weft_address a;
    cr_assert_eq(weft_address_from_unix(path, &a), 0);
    int before = open_fds();
    file_between_writes(&a, 4u << 20);
    cr_assert_eq(open_fds(), before);
}

WEFT_TEST(tcp, send_file_to_a_slow_reader_pauses_the_producer, .timeout = 60)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    setup_on(&fx, &a);
    fx.c.keep_open_on_eof = true;
    connect_client(&fx);
    weft_transport *t = server_transport(&fx);
    weft_transport_pause_reading(t);
    weft_transport_pause_reading(fx.c.base.transport); /* the slow reader */
    firehose h = {.base.ops = &hose_ops, .t = t};
    cr_assert_eq(weft_transport_register_producer(t, &h.base, true), 0);
    enum { N = 16 << 20 };
    char *content;
    int fd = patterned_file(N, &content);
    cr_assert_eq(weft_transport_send_file(t, fd, 0, N), 0);
    cr_assert_eq(h.pauses, 1, "a file above the high-water mark pauses the producer at once");
    for (int i = 0; i < 20; i++)
        weft_reactor_iterate(fx.r, 0);
    size_t stuck = weft_transport_buffered(t);
    cr_assert_gt(stuck, N / 2, "the kernel holds a few MiB at most; the rest waits, counted");
    cr_assert(h.paused);
    cr_assert_eq(h.resumes, 0);
    cr_assert_eq(fx.c.len, 0);
    /* The reader wakes: the file drains, the producer is resumed, all arrives. */
    weft_transport_resume_reading(fx.c.base.transport);
    for (int i = 0; i < 100000 && fx.c.len < N; i++)
        cr_assert_eq(weft_reactor_iterate(fx.r, 1), 0);
    cr_assert_eq(fx.c.len, N);
    cr_assert_eq(memcmp(fx.c.got, content, N), 0);
    cr_assert_eq(h.resumes, 1, "resumed below the low-water mark");
    cr_assert_eq(weft_transport_buffered(t), 0);
    weft_transport_unregister_producer(t);
    weft_transport_abort_connection(t);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    free(content);
    teardown(&fx);
}

/* The connection goes mid-file - closed here, or reset by the peer while
 * sendfile runs (no SIGPIPE may kill us) - and the file is closed. */
static void file_cut_short(bool reset_by_peer)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    setup_on(&fx, &a);
    int before = open_fds();
    connect_client(&fx);
    weft_transport *t = server_transport(&fx);
    weft_transport_pause_reading(t);
    enum { N = 32 << 20 };
    int fd = patterned_file(N, NULL);
    cr_assert_eq(weft_transport_send_file(t, fd, 0, N), 0);
    cr_assert_eq(weft_transport_write(t, "after", 5), 0);
    for (int i = 0; i < 10000 && fx.c.len < 1; i++)
        cr_assert_eq(weft_reactor_iterate(fx.r, 1), 0);
    cr_assert_gt(fx.c.len, 0, "the file has begun to arrive");
    if (reset_by_peer)
        weft_transport_abort_connection(fx.c.base.transport);
    else
        weft_transport_abort_connection(t);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    cr_assert_lt(fx.c.len, N);
    /* The server notices a reset when it next writes or reads. */
    for (int i = 0; i < 10000 && open_fds() != before; i++)
        cr_assert_eq(weft_reactor_iterate(fx.r, 1), 0);
    cr_assert_eq(open_fds(), before, "the file and both sockets are closed");
    teardown(&fx);
}

WEFT_TEST(tcp, send_file_closed_mid_file_closes_the_file, .timeout = 30)
{
    file_cut_short(false);
}

WEFT_TEST(tcp, send_file_reset_by_the_peer_mid_file, .timeout = 30)
{
    file_cut_short(true);
}

WEFT_TEST(tcp, send_file_refuses_bad_files)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    setup_on(&fx, &a);
    connect_client(&fx);
    weft_transport *t = fx.c.base.transport;
    int fd = patterned_file(100, NULL);
    cr_assert_eq(weft_transport_send_file(t, -1, 0, 1), -EBADF);
    cr_assert_eq(weft_transport_send_file(t, fd, 101, 0), WEFT_EINVAL, "offset past the end");
    cr_assert_eq(weft_transport_send_file(t, fd, 50, 51), WEFT_EINVAL, "range past the end");
    cr_assert_eq(weft_transport_send_file(t, fd, -1, 1), WEFT_EINVAL);
    cr_assert_eq(weft_transport_send_file(t, fd, 0, UINT64_MAX), WEFT_EINVAL);
    cr_assert_eq(fcntl(fd, F_GETFD), 0, "refused: the descriptor is still the caller's");
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
    cr_assert_eq(weft_transport_send_file(t, dir, 0, 0), WEFT_EINVAL, "not a regular file");
    close(dir);
    char path[] = "/tmp/weft-test-wronly-XXXXXX";
    int wr = mkstemp(path);
    unlink(path);
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", wr);
    int wronly = open(link, O_WRONLY);
    cr_assert_geq(wronly, 0);
    cr_assert_eq(weft_transport_send_file(t, wronly, 0, 0), -EBADF, "not open for reading");
    close(wronly);
    close(wr);
    /* A zero-length range at the very end is nothing to send: taken, closed. */
    int fd2 = dup(fd);
    cr_assert_eq(weft_transport_send_file(t, fd2, 100, 0), 0);
    cr_assert_eq(fcntl(fd2, F_GETFD), -1, "closed at once");
    cr_assert_eq(weft_transport_buffered(t), 0);
    weft_transport_abort_connection(t);
    cr_assert_eq(weft_transport_send_file(t, fd, 0, 10), -ENOTCONN);
    close(fd);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 10), 0);
    teardown(&fx);
}

/* Kinds without sendfile (here the string transport; TLS is the same)
 * read the file piece by piece as the peer drains, in order. */
WEFT_TEST(tcp, send_file_read_back_where_there_is_no_socket)
{
    weft_reactor *r = weft_test_reactor();
    client c = {.base.ops = &client_ops, .done = weft_deferred_new(r)};
    weft_string_transport *st;
    cr_assert_eq(weft_string_transport_new(r, &c.base, NULL, NULL, &st), 0);
    weft_transport *t = weft_string_transport_transport(st);
    weft_string_transport_set_blocked(st, true);
    enum { N = 300000 };
    char *content;
    int fd = patterned_file(N, &content);
    firehose h = {.base.ops = &hose_ops, .t = t};
    cr_assert_eq(weft_transport_register_producer(t, &h.base, true), 0);
    cr_assert_eq(weft_transport_write(t, "<", 1), 0);
    cr_assert_eq(weft_transport_send_file(t, fd, 0, N), 0);
    cr_assert_eq(weft_transport_write(t, ">", 1), 0);
    cr_assert_eq(weft_transport_buffered(t), N + 2);
    cr_assert_eq(h.pauses, 1);
    /* Odd sizes: send takes part of a piece, the rest waits for the next. */
    while (weft_string_transport_drain(st, 7777) > 0)
        ;
    cr_assert_eq(h.resumes, 1);
    size_t len;
    const char *v = weft_string_transport_value(st, &len);
    cr_assert_eq(len, N + 2);
    cr_assert_eq(v[0], '<');
    cr_assert_eq(memcmp(v + 1, content, N), 0);
    cr_assert_eq(v[N + 1], '>');
    weft_transport_unregister_producer(t);
    weft_string_transport_free(st);
    weft_reactor_iterate(r, 0);
    weft_deferred_unref(c.done);
    free(content);
    weft_reactor_free(r);
}

/* sendfile to a socket whose peer has gone raises SIGPIPE, which must not
 * reach us: the connection fails with EPIPE instead. */
WEFT_TEST(tcp, send_file_to_a_closed_peer_is_epipe_not_sigpipe)
{
    weft_reactor *r = weft_test_reactor();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    client c = {.base.ops = &client_ops, .done = weft_deferred_new(r)};
    cr_assert_eq(weft_adopt_stream(r, sv[0], &c.base), 0);
    cr_assert_not_null(c.base.transport);
    close(sv[1]);
    int fd = patterned_file(1000, NULL);
    cr_assert_eq(weft_transport_send_file(c.base.transport, fd, 0, 1000), 0);
    cr_assert_eq(weft_reactor_run_until(r, c.done, 10), 0);
    cr_assert_eq(c.lost_code, -EPIPE);
    sigset_t pending;
    cr_assert_eq(sigpending(&pending), 0);
    cr_assert(!sigismember(&pending, SIGPIPE), "no SIGPIPE left behind");
    weft_deferred_unref(c.done);
    weft_reactor_free(r);
}

/* Behind a protocol wrapper (an idle-timeout policy here; TLS is another)
 * the inner transport has no descriptor: the file is read back piece by
 * piece as the TCP connection under it drains, and arrives whole, in order. */
WEFT_TEST(tcp, send_file_through_a_wrapper, .timeout = 60)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    fixture fx;
    memset(&fx, 0, sizeof fx);
    fx.r = weft_test_reactor();
    fx.sf.base.ops = &echo_factory_ops;
    weft_policy_factory *pf = weft_timeout_factory_new(fx.r, &fx.sf.base, 60);
    cr_assert_not_null(pf);
    cr_assert_eq(weft_listen(fx.r, &a, weft_policy_factory_base(pf), NULL, &fx.port), 0);
    cr_assert_eq(weft_port_address(fx.port, &fx.addr), 0);
    fx.c.base.ops = &client_ops;
    fx.c.done = weft_deferred_new(fx.r);
    fx.cf.base.ops = &client_factory_ops;
    fx.cf.c = &fx.c;
    int before = open_fds();
    connect_client(&fx);
    weft_transport *t = server_transport(&fx);
    weft_transport_pause_reading(t);
    enum { N = 8 << 20 };
    char *content;
    int fd = patterned_file(N, &content);
    cr_assert_eq(weft_transport_write(t, "[", 1), 0);
    cr_assert_eq(weft_transport_send_file(t, fd, 0, N), 0);
    cr_assert_eq(weft_transport_write(t, "]", 1), 0);
    weft_transport_lose_connection(t);
    cr_assert_eq(weft_reactor_run_until(fx.r, fx.c.done, 30), 0);
    cr_assert_eq(fx.c.len, N + 2);
    cr_assert_eq(fx.c.got[0], '[');
    cr_assert_eq(memcmp(fx.c.got + 1, content, N), 0);
    cr_assert_eq(fx.c.got[N + 1], ']');
    for (int i = 0; i < 100 && open_fds() != before; i++)
        cr_assert_eq(weft_reactor_iterate(fx.r, 1), 0);
    cr_assert_eq(open_fds(), before, "the file was closed");
    free(content);
    teardown(&fx);
    weft_policy_factory_free(pf);
}
