/* SPDX-License-Identifier: MIT */
/*
 * Every weft subcommand stops clean (issue 11): stopped by SIGINT and by
 * SIGTERM while a client is connected idle, mid-request, or mid-TLS
 * handshake, it exits 0 and - in the sanitizer build, where the child runs
 * LeakSanitizer at exit - reports nothing.
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
#include <unistd.h>

#include "certs.h"
#include "net.h"
#include "proc.h"
#include "test.h"

typedef struct state {
    const char *name;
    const char *send; /* what the client has sent when the signal comes */
    size_t len;
} state;

/* What proves the connection accepted: a first exchange the program
 * answers (none for a TLS listener mid-handshake). */
typedef struct prime {
    const char *send, *expect;
} prime;

static const prime http = {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 "};
static const prime echo = {"ping\n", "ping\n"};
static const prime none = {NULL, NULL};

static void exchange(int fd, const prime *pr)
{
    if (!pr->send)
        return;
    cr_assert_eq(write(fd, pr->send, strlen(pr->send)), (ssize_t)strlen(pr->send));
    char got[4096];
    size_t len = 0;
    while (len < sizeof got - 1) {
        struct pollfd pfd = {fd, POLLIN, 0};
        cr_assert_gt(poll(&pfd, 1, 20000), 0, "no answer to the first exchange");
        ssize_t n = read(fd, got + len, sizeof got - 1 - len);
        cr_assert_gt(n, 0, "closed before answering");
        len += (size_t)n;
        got[len] = '\0';
        if (strstr(got, pr->expect))
            return;
    }
}

/* Starts argv, connects a client that makes the first exchange and then
 * sends `st`, signals, and checks the exit. The client is still connected
 * when the program ends. */
static void stop_with(char *const argv[], const prime *pr, const state *st, int sig)
{
    weft_test_proc p;
    weft_test_proc_spawn(&p, argv);
    int fd = weft_test_dial(weft_test_proc_port(&p));
    exchange(fd, pr);
    if (st->len)
        cr_assert_eq(write(fd, st->send, st->len), (ssize_t)st->len);
    int status = weft_test_proc_finish(&p, sig);
    cr_assert_eq(status, 0, "weft %s, client %s, signal %d: exit %d\n%s", argv[1], st->name, sig, status, p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "weft %s, client %s:\n%s", argv[1], st->name, p.text);
    cr_assert_null(strstr(p.text, "runtime error"), "weft %s, client %s:\n%s", argv[1], st->name, p.text);
    close(fd);
}

static const state idle = {"idle", NULL, 0};
static const state mid_request = {"mid-request", "GET / HTTP/1.1\r\nHost: x\r\nX-Half", 32};
static const state mid_body = {"mid-body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", 53};
/* A TLS record header promising a ClientHello that never comes whole. */
static const state mid_handshake = {"mid-handshake", "\x16\x03\x01\x02\x00\x01\x00\x01", 8};
static const state mid_line = {"mid-stream", "some bytes, no end", 18};

static const int sigs[] = {SIGINT, SIGTERM};

WEFT_TEST(stop, web, .timeout = 120)
{
    const state *states[] = {&idle, &mid_request, &mid_body};
    for (size_t s = 0; s < 3; s++)
        for (int i = 0; i < 2; i++)
            stop_with((char *[]){WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--path", WEFT_SOURCE_DIR "/docs", "--grace", "0.5",
                                 NULL},
                      &http, states[s], sigs[i]);
}

WEFT_TEST(stop, echo, .timeout = 120)
{
    const state *states[] = {&idle, &mid_line};
    for (size_t s = 0; s < 2; s++)
        for (int i = 0; i < 2; i++)
            stop_with((char *[]){WEFT_CLI_PATH, "echo", "--listen", "tcp:0:interface=127.0.0.1", NULL}, &echo,
                      states[s], sigs[i]);
}

WEFT_TEST(stop, tls_listeners_mid_handshake, .timeout = 120)
{
    weft_test_certs c;
    weft_test_certs_make(&c);
    char where[512];
    snprintf(where, sizeof where, "tls:0:interface=127.0.0.1:privateKey=%s:certKey=%s", c.server_key, c.server_cert);
    for (int i = 0; i < 2; i++) {
        stop_with((char *[]){WEFT_CLI_PATH, "echo", "--listen", where, NULL}, &none, &mid_handshake, sigs[i]);
        stop_with((char *[]){WEFT_CLI_PATH, "web", "--listen", where, "--path", WEFT_SOURCE_DIR "/docs", "--grace", "0.5", NULL}, &none,
                  &mid_handshake, sigs[i]);
    }
    weft_test_certs_remove(&c);
}

WEFT_TEST(stop, portforward, .timeout = 120)
{
    int port;
    int target = weft_test_listener(&port);
    char connect_to[64];
    snprintf(connect_to, sizeof connect_to, "tcp:host=127.0.0.1:port=%d", port);
    const state *states[] = {&idle, &mid_line};
    for (size_t s = 0; s < 2; s++) {
        for (int i = 0; i < 2; i++) {
            weft_test_proc p;
            weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "portforward", "--listen", "tcp:0:interface=127.0.0.1",
                                                "--connect", connect_to, "--grace", "0.5", NULL});
            int fd = weft_test_dial(weft_test_proc_port(&p));
            /* The forwarder has connected through when the target accepts. */
            int up = accept4(target, NULL, NULL, SOCK_CLOEXEC);
            cr_assert_geq(up, 0);
            if (states[s]->len)
                cr_assert_eq(write(fd, states[s]->send, states[s]->len), (ssize_t)states[s]->len);
            int status = weft_test_proc_finish(&p, sigs[i]);
            cr_assert_eq(status, 0, "portforward, client %s: exit %d\n%s", states[s]->name, status, p.text);
            cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
            close(up);
            close(fd);
        }
    }
    close(target);
}
