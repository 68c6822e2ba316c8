/* SPDX-License-Identifier: MIT */
/*
 * The examples as a user runs them: real processes, real peers. Each C
 * example and its Twisted twin (examples/twisted/) go through the same
 * scenario, so the pair is shown to do the same thing; where they speak to
 * each other (a Twisted client against weft's server, weft's client against
 * Twisted's server), they do. Every example server is also stopped by
 * SIGINT and SIGTERM with a client connected: exit status 0, and no
 * sanitizer report (the ASan build's children run LeakSanitizer at exit).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"
#include "net.h"
#include "proc.h"
#include "test.h"

#define EXAMPLE(name) WEFT_EXAMPLES_DIR "/" name
#define TWIN(name) WEFT_SOURCE_DIR "/examples/twisted/" name
#define PYTHON "/usr/bin/python3" /* the python3 with Twisted */

/* ---- a line-reading client ---- */

typedef struct peer {
    int fd;
    char buf[16384];
    size_t len;
} peer;

static void dial(peer *p, int port)
{
    memset(p, 0, sizeof *p);
    p->fd = weft_test_dial(port);
}

static void say(peer *p, const char *text)
{
    size_t len = strlen(text);
    cr_assert_eq(write(p->fd, text, len), (ssize_t)len);
}

/* Reads until `needle` has arrived (10 s at most); returns the line it is
 * in, and forgets everything up to that line's end. */
static char *hear(peer *p, const char *needle, char *line, size_t size)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        p->buf[p->len] = '\0';
        char *at = strstr(p->buf, needle);
        char *end = at ? strchr(at, '\n') : NULL;
        if (end) {
            char *begin = at;
            while (begin > p->buf && begin[-1] != '\n')
                begin--;
            snprintf(line, size, "%.*s", (int)(end - begin), begin);
            p->len -= (size_t)(end + 1 - p->buf);
            memmove(p->buf, end + 1, p->len);
            return line;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        int left = 10000 - (int)((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        struct pollfd pfd = {p->fd, POLLIN, 0};
        cr_assert(left > 0 && poll(&pfd, 1, left) > 0, "no '%s' heard; got:\n%s", needle, p->buf);
        ssize_t n = read(p->fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
        cr_assert_gt(n, 0, "the connection closed before '%s'; got:\n%s", needle, p->buf);
        p->len += (size_t)n;
    }
}

/* What a finished example said must hold no sanitizer report. */
static void assert_clean(const weft_test_proc *p, int status, const char *what)
{
    cr_assert_eq(status, 0, "%s exited with %d:\n%s", what, status, p->text);
    cr_assert_null(strstr(p->text, "Sanitizer"), "%s:\n%s", what, p->text);
    cr_assert_null(strstr(p->text, "runtime error"), "%s:\n%s", what, p->text);
}

/* ---- chat ---- */

static void chat_scenario(char *const server[])
{
    weft_test_proc s;
    weft_test_proc_spawn(&s, server);
    int port = weft_test_proc_port(&s);
    peer a, b;
    char line[1024];
    dial(&a, port);
    say(&a, "alice\n");
    hear(&a, "* alice joined", line, sizeof line);
    dial(&b, port);
    say(&b, "alice\r\n");
    hear(&b, "Taken or empty", line, sizeof line);
    say(&b, "bob\n");
    hear(&a, "* bob joined", line, sizeof line);
    hear(&b, "* bob joined", line, sizeof line);
    say(&a, "hello, all\n");
    hear(&b, "<alice> hello, all", line, sizeof line);
    hear(&a, "<alice> hello, all", line, sizeof line);
    say(&b, "/who\n");
    hear(&b, "Here:", line, sizeof line);
    cr_assert(strstr(line, " alice") && strstr(line, " bob"), "/who said: %s", line);
    close(a.fd);
    hear(&b, "* alice left", line, sizeof line);
    close(b.fd);
    assert_clean(&s, weft_test_proc_finish(&s, SIGTERM), server[0]);
}

WEFT_TEST(examples, chat)
{
    chat_scenario((char *[]){EXAMPLE("chat"), "tcp:0:interface=127.0.0.1", NULL});
}

WEFT_TEST(examples, chat_twisted_twin)
{
    chat_scenario((char *[]){PYTHON, TWIN("chat.py"), "tcp:0:interface=127.0.0.1", NULL});
}

/* ---- fetch ---- */

typedef struct web {
    weft_test_proc p;
    char dir[64];
    int port;
} web;

static void web_start(web *w)
{
    snprintf(w->dir, sizeof w->dir, "/tmp/weft-examples-XXXXXX");
    cr_assert_not_null(mkdtemp(w->dir));
    char path[128];
    snprintf(path, sizeof path, "%s/hello.txt", w->dir);
    FILE *f = fopen(path, "w");
    fputs("Hello, World!", f);
    fclose(f);
    weft_test_proc_spawn(&w->p, (char *[]){WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--path",
                                           w->dir, NULL});
    w->port = weft_test_proc_port(&w->p);
}

static void web_stop(web *w)
{
    assert_clean(&w->p, weft_test_proc_finish(&w->p, SIGTERM), "weft web");
    char path[128];
    snprintf(path, sizeof path, "%s/hello.txt", w->dir);
    unlink(path);
    rmdir(w->dir);
}

static void fetch_scenario(const char *program, const char *script)
{
    web w;
    web_start(&w);
    char good[96];
    snprintf(good, sizeof good, "http://127.0.0.1:%d/hello.txt", w.port);
    char *argv[] = {(char *)program, (char *)script, good, "http://127.0.0.1:1/", NULL};
    weft_test_output o = weft_test_run(script ? argv : (char *[]){argv[0], good, argv[3], NULL}, NULL, 0, 30);
    char want[160];
    snprintf(want, sizeof want, "%s: 200, 13 bytes", good);
    cr_assert(strstr(o.out, want), "%s said:\n%s\n%s", program, o.out, o.err);
    cr_assert(strstr(o.out, "http://127.0.0.1:1/: failed:"), "%s said:\n%s", program, o.out);
    cr_assert_eq(o.status, 1, "a failed fetch makes the status 1:\n%s", o.err);
    cr_assert(strstr(o.err, "1 of 2 fetches failed"), "%s said:\n%s", program, o.err);
    weft_test_output_free(&o);
    web_stop(&w);
}

WEFT_TEST(examples, fetch)
{
    fetch_scenario(EXAMPLE("fetch"), NULL);
}

WEFT_TEST(examples, fetch_twisted_twin)
{
    fetch_scenario(PYTHON, TWIN("fetch.py"));
}

WEFT_TEST(examples, fetch_says_when_a_server_never_answers, .timeout = 60)
{
    /* A listening socket nobody accepts from: the connection is made (the
     * kernel's backlog), the request goes, no answer ever comes. */
    int port, fd = weft_test_listener(&port);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    weft_test_output o = weft_test_run((char *[]){EXAMPLE("fetch"), url, NULL}, NULL, 0, 40);
    cr_assert(strstr(o.out, "failed:") && strstr(o.out, "timed out"), "fetch said:\n%s", o.out);
    cr_assert_eq(o.status, 1);
    weft_test_output_free(&o);
    close(fd);
}

/* ---- tls_echo ---- */

static void echo_server(weft_test_proc *p, const weft_test_certs *c)
{
    char where[512];
    snprintf(where, sizeof where, "tls:0:interface=127.0.0.1:privateKey=%s:certKey=%s", c->server_key, c->server_cert);
    weft_test_proc_spawn(p, (char *[]){WEFT_CLI_PATH, "echo", "--listen", where, NULL});
}

WEFT_TEST(examples, tls_echo)
{
    weft_test_certs c;
    weft_test_certs_make(&c);
    weft_test_proc s;
    echo_server(&s, &c);
    char where[256];
    snprintf(where, sizeof where, "tls:host=localhost:port=%d:trustRoots=%s", weft_test_proc_port(&s), c.ca);
    weft_test_output o = weft_test_run((char *[]){EXAMPLE("tls_echo"), where, NULL}, NULL, 0, 60);
    cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
    cr_assert(strstr(o.out, "1048576 bytes echoed intact"), "%s", o.out);
    weft_test_output_free(&o);
    /* Not the trust root that signed it: refused, and said why. */
    snprintf(where, sizeof where, "tls:host=localhost:port=%d:trustRoots=%s", weft_test_proc_port(&s), c.self_cert);
    o = weft_test_run((char *[]){EXAMPLE("tls_echo"), where, NULL}, NULL, 0, 60);
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "certificate"), "%s", o.err);
    weft_test_output_free(&o);
    assert_clean(&s, weft_test_proc_finish(&s, SIGTERM), "weft echo");
    weft_test_certs_remove(&c);
}

WEFT_TEST(examples, tls_echo_twisted_twin_against_weft_echo)
{
    weft_test_certs c;
    weft_test_certs_make(&c);
    weft_test_proc s;
    echo_server(&s, &c);
    char port[16];
    snprintf(port, sizeof port, "%d", weft_test_proc_port(&s));
    weft_test_output o = weft_test_run((char *[]){PYTHON, TWIN("tls_echo.py"), "localhost", port, c.ca, NULL}, NULL, 0, 60);
    cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
    cr_assert(strstr(o.out, "1048576 bytes echoed intact"), "%s", o.out);
    weft_test_output_free(&o);
    assert_clean(&s, weft_test_proc_finish(&s, SIGTERM), "weft echo");
    weft_test_certs_remove(&c);
}

WEFT_TEST(examples, tls_echo_against_twisted)
{
    weft_test_certs c;
    weft_test_certs_make(&c);
    static const char server[] =
        "import sys\n"
        "from twisted.internet import endpoints, protocol, reactor\n"
        "class Echo(protocol.Protocol):\n"
        "    def dataReceived(self, data):\n"
        "        self.transport.write(data)\n"
        "def listening(port):\n"
        "    print('listening on ssl (127.0.0.1:%d)' % port.getHost().port, flush=True)\n"
        "where = 'ssl:0:interface=127.0.0.1:privateKey=%s:certKey=%s' % (sys.argv[1], sys.argv[2])\n"
        "endpoints.serverFromString(reactor, where).listen(protocol.Factory.forProtocol(Echo)).addCallback(listening)\n"
        "reactor.run()\n";
    weft_test_proc s;
    weft_test_proc_spawn(&s, (char *[]){PYTHON, "-c", (char *)server, c.server_key, c.server_cert, NULL});
    char where[256];
    snprintf(where, sizeof where, "tls:host=localhost:port=%d:trustRoots=%s", weft_test_proc_port(&s), c.ca);
    weft_test_output o = weft_test_run((char *[]){EXAMPLE("tls_echo"), where, "4000000", NULL}, NULL, 0, 60);
    cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
    cr_assert(strstr(o.out, "4000000 bytes echoed intact"), "%s", o.out);
    weft_test_output_free(&o);
    weft_test_proc_finish(&s, SIGTERM);
    weft_test_certs_remove(&c);
}

/* ---- every example server stops clean, a client connected ---- */

static void stops_clean(char *const argv[], const char *partial, int sig)
{
    weft_test_proc s;
    weft_test_proc_spawn(&s, argv);
    peer c;
    dial(&c, weft_test_proc_port(&s));
    if (partial)
        say(&c, partial);
    assert_clean(&s, weft_test_proc_finish(&s, sig), argv[0]);
    close(c.fd);
}

WEFT_TEST(examples, every_server_stops_clean_with_a_client_connected)
{
    int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        stops_clean((char *[]){EXAMPLE("hello_http"), "tcp:0:interface=127.0.0.1", NULL}, "GET / HTTP/1.1\r\nHost:", sigs[i]);
        stops_clean((char *[]){EXAMPLE("coro_echo"), "tcp:0:interface=127.0.0.1", NULL}, "mid-await", sigs[i]);
        stops_clean((char *[]){EXAMPLE("chat"), "tcp:0:interface=127.0.0.1", NULL}, "alice\nhalf a li", sigs[i]);
    }
}

WEFT_TEST(examples, clock_stops_clean)
{
    int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        weft_test_proc s;
        weft_test_proc_spawn(&s, (char *[]){EXAMPLE("clock"), NULL});
        weft_test_proc_wait_for(&s, "lookup 2 answered gamma");
        assert_clean(&s, weft_test_proc_finish(&s, sigs[i]), "clock");
        cr_assert(strstr(s.text, "shutting down: flushing"), "%s", s.text);
    }
}

WEFT_TEST(examples, coro_lines_against_coro_echo)
{
    weft_test_proc s;
    weft_test_proc_spawn(&s, (char *[]){EXAMPLE("coro_echo"), "tcp:0:interface=127.0.0.1", NULL});
    char where[64];
    snprintf(where, sizeof where, "tcp:host=127.0.0.1:port=%d", weft_test_proc_port(&s));
    weft_test_output o = weft_test_run((char *[]){EXAMPLE("coro_lines"), where, "one", "two", NULL}, NULL, 0, 30);
    cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
    cr_assert(strstr(o.out, "one -> one\ntwo -> two\n"), "%s", o.out);
    weft_test_output_free(&o);
    assert_clean(&s, weft_test_proc_finish(&s, SIGINT), "coro_echo");
}

/* ---- upstream ---- */

/* GETs path from 127.0.0.1:port; returns the status, the body in body. */
static int http_get(int port, const char *path, char *body, size_t size)
{
    peer c;
    dial(&c, port);
    char req[512];
    /* HTTP/1.0: a body delimited by the close, never chunked. */
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    say(&c, req);
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {c.fd, POLLIN, 0};
        cr_assert_gt(poll(&pfd, 1, 20000), 0, "no answer to %s", path);
        ssize_t n = read(c.fd, c.buf + len, sizeof c.buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(c.fd);
    c.buf[len] = '\0';
    const char *start = strstr(c.buf, "\r\n\r\n");
    snprintf(body, size, "%s", start ? start + 4 : "");
    return atoi(c.buf + 9);
}

static void upstream_scenario(char *const program[])
{
    web w;
    web_start(&w);
    char upstream[64];
    snprintf(upstream, sizeof upstream, "http://127.0.0.1:%d", w.port);
    char *argv[8];
    size_t n = 0;
    while (program[n])
        argv[n] = program[n], n++;
    argv[n++] = "tcp:0:interface=127.0.0.1";
    argv[n++] = upstream;
    argv[n] = NULL;
    weft_test_proc s;
    weft_test_proc_spawn(&s, argv);
    int port = weft_test_proc_port(&s);
    char body[4096];
    cr_assert_eq(http_get(port, "/proxy?path=/hello.txt", body, sizeof body), 200);
    cr_assert_str_eq(body, "HELLO, WORLD!");
    cr_assert_eq(http_get(port, "/proxy?path=%2Fhello.txt&other=1", body, sizeof body), 200, "the argument decoded");
    cr_assert_eq(http_get(port, "/proxy", body, sizeof body), 400);
    cr_assert_eq(http_get(port, "/proxy?path=/missing", body, sizeof body), 404, "the upstream's status passes");
    cr_assert_eq(http_get(port, "/time", body, sizeof body), 200);
    cr_assert(strncmp(body, "{\"time\": ", 9) == 0 && atoll(body + 9) > 1700000000, "%s", body);
    assert_clean(&s, weft_test_proc_finish(&s, SIGTERM), argv[0]);
    web_stop(&w);
}

WEFT_TEST(examples, upstream)
{
    upstream_scenario((char *[]){EXAMPLE("upstream"), NULL});
}

WEFT_TEST(examples, upstream_twisted_twin)
{
    upstream_scenario((char *[]){PYTHON, TWIN("upstream.py"), NULL});
}

WEFT_TEST(examples, upstream_stops_clean_mid_await)
{
    /* An upstream that takes the connection and never answers: the
     * handler is suspended in its await when the signal comes. */
    int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        int upstream_port, fd = weft_test_listener(&upstream_port);
        char upstream[64];
        snprintf(upstream, sizeof upstream, "http://127.0.0.1:%d", upstream_port);
        weft_test_proc s;
        weft_test_proc_spawn(&s, (char *[]){EXAMPLE("upstream"), "tcp:0:interface=127.0.0.1", upstream, NULL});
        peer c;
        dial(&c, weft_test_proc_port(&s));
        say(&c, "GET /proxy?path=/slow HTTP/1.1\r\nHost: x\r\n\r\n");
        /* The request reached the upstream: the handler awaits it now. */
        int up = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        cr_assert_geq(up, 0);
        char b[256];
        cr_assert_gt(read(up, b, sizeof b), 0);
        assert_clean(&s, weft_test_proc_finish(&s, sigs[i]), "upstream");
        close(up);
        close(c.fd);
        close(fd);
    }
}

/* The clients too: stopped while they await a peer that never answers. */
WEFT_TEST(examples, every_client_stops_clean_mid_await)
{
    int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        int port, fd = weft_test_listener(&port);
        char url[64], tcp[64], tls[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
        snprintf(tcp, sizeof tcp, "tcp:host=127.0.0.1:port=%d", port);
        snprintf(tls, sizeof tls, "tls:host=127.0.0.1:port=%d", port);
        char *const programs[][4] = {{EXAMPLE("fetch"), url, NULL},
                                     {EXAMPLE("coro_lines"), tcp, "hello", NULL},
                                     {EXAMPLE("tls_echo"), tls, NULL}};
        for (size_t k = 0; k < 3; k++) {
            weft_test_proc s;
            weft_test_proc_spawn(&s, programs[k]);
            /* Connected, and what it sends first has arrived: it awaits. */
            int up = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
            cr_assert_geq(up, 0);
            char b[512];
            cr_assert_gt(read(up, b, sizeof b), 0);
            assert_clean(&s, weft_test_proc_finish(&s, sigs[i]), programs[k][0]);
            close(up);
        }
        close(fd);
    }
}
