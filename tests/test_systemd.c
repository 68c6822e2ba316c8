/* SPDX-License-Identifier: MIT */
/* systemd integration: adopting a listening socket (weft_adopt_stream_port,
 * what the systemd: endpoint listens with); sd_notify's messages, read from
 * a datagram socket standing in for systemd's NOTIFY_SOCKET; the watchdog's
 * pings on the fake clock; and the weft command under the real activator,
 * systemd-socket-activate, through TCP (IPv4, IPv6) and UNIX sockets passed
 * by index and by name, with the refusals it must explain. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "proc.h"
#include "test.h"
#include "weft/memory_reactor.h"

/* ---- sockets for the tests ---- */

/* A temporary directory for socket files; removed with what is in it by
 * remove_dir. */
static void make_dir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/weft-systemd-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(const char *dir, const char *const *files)
{
    char path[256];
    for (; *files; files++) {
        snprintf(path, sizeof path, "%s/%s", dir, *files);
        unlink(path);
    }
    cr_assert_eq(rmdir(dir), 0, "%s: %s", dir, strerror(errno));
}

/* A stream socket bound to `a` (port 0 for IP) and, when `listening`, listening;
 * `a` gets the address bound. */
static int bound_socket(weft_address *a, int type, bool listening)
{
    int fd = socket(weft_address_family(a), type | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, &a->u.sa, a->len), 0, "bind: %s", strerror(errno));
    if (listening)
        cr_assert_eq(listen(fd, 16), 0);
    a->len = sizeof a->u;
    cr_assert_eq(getsockname(fd, &a->u.sa, &a->len), 0);
    return fd;
}

/* Connects to `a`, sends "hello\n", half-closes and reads until the peer
 * closes: the echo must be what was sent. The reads wait at most 20 s each.
 * With r, r's loop turns while waiting (the server is in this process). */
static void echo_client(weft_reactor *r, const weft_address *a)
{
    int c = socket(weft_address_family(a), SOCK_STREAM | SOCK_CLOEXEC | (r ? SOCK_NONBLOCK : 0), 0);
    cr_assert_geq(c, 0);
    struct timeval tv = {20, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rc = connect(c, &a->u.sa, a->len);
    cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
    for (int i = 0; r && i < 2000; i++) { /* a loopback connect completes at once; the loop accepts */
        struct pollfd pfd = {c, POLLOUT, 0};
        if (poll(&pfd, 1, 0) == 1)
            break;
        cr_assert_geq(weft_reactor_iterate(r, 0.01), 0);
    }
    cr_assert_eq(send(c, "hello\n", 6, MSG_NOSIGNAL), 6, "send: %s", strerror(errno));
    cr_assert_eq(shutdown(c, SHUT_WR), 0);
    char got[16];
    size_t len = 0;
    for (int i = 0; i < 2000; i++) {
        if (r)
            cr_assert_geq(weft_reactor_iterate(r, 0.01), 0);
        ssize_t n = recv(c, got + len, sizeof got - len, 0);
        if (n == 0)
            break;
        if (n < 0 && r && errno == EAGAIN)
            continue;
        cr_assert_gt(n, 0, "recv: %s", strerror(errno));
        len += (size_t)n;
    }
    close(c);
    cr_assert_eq(len, 6, "echoed %zu bytes", len);
    cr_assert_eq(memcmp(got, "hello\n", 6), 0);
}

/* ---- weft_adopt_stream_port ---- */

static void stop(weft_reactor *r, weft_port *port)
{
    weft_deferred_unref(weft_port_stop(port));
    weft_reactor_iterate(r, 0);
}

/* Adopts a listening socket, echoes through it, stops the port: the socket
 * given stays open and listening, so it can be adopted again. */
static void adopt_twice(weft_address *a)
{
    weft_reactor *r = weft_test_reactor();
    int fd = bound_socket(a, SOCK_STREAM, true);
    weft_factory echo;
    weft_echo_factory_init(&echo);
    for (int round = 0; round < 2; round++) {
        weft_port *port;
        cr_assert_eq(weft_adopt_stream_port(r, fd, 0, &echo, &port), 0);
        weft_address got;
        cr_assert_eq(weft_port_address(port, &got), 0);
        cr_assert(weft_address_equal(&got, a), "the port's address is the socket's");
        echo_client(r, a);
        stop(r, port);
        int listening = 0;
        socklen_t len = sizeof listening;
        cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0, "%s", strerror(errno));
        cr_assert_eq(listening, 1, "stopping the port leaves the socket given listening");
    }
    close(fd);
    weft_reactor_free(r);
}

WEFT_TEST(systemd, adopted_tcp_port_echoes_and_stopping_it_leaves_the_socket_open)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    adopt_twice(&a);
    cr_assert_eq(weft_address_from_ip("::1", 0, &a), 0);
    adopt_twice(&a);
}

WEFT_TEST(systemd, adopted_unix_port_leaves_the_socket_file_to_its_owner)
{
    char dir[64], path[128];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/s.sock", dir);
    weft_address a;
    cr_assert_eq(weft_address_from_unix(path, &a), 0);
    adopt_twice(&a);
    cr_assert_eq(access(path, F_OK), 0, "the socket file was not weft's to remove");
    remove_dir(dir, (const char *const[]){"s.sock", NULL});
}

WEFT_TEST(systemd, adopt_refuses_what_is_not_a_listening_stream_socket)
{
    weft_reactor *r = weft_test_reactor();
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_port *port = NULL;
    int pipe_fds[2];
    cr_assert_eq(pipe(pipe_fds), 0);
    cr_assert_eq(weft_adopt_stream_port(r, pipe_fds[0], 0, &echo, &port), -ENOTSOCK);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    cr_assert_eq(weft_adopt_stream_port(r, pipe_fds[0], 0, &echo, &port), -EBADF);

    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    int fd = bound_socket(&a, SOCK_DGRAM, false);
    cr_assert_eq(weft_adopt_stream_port(r, fd, 0, &echo, &port), -ESOCKTNOSUPPORT);
    close(fd);
    fd = bound_socket(&a, SOCK_STREAM, false);
    cr_assert_eq(weft_adopt_stream_port(r, fd, 0, &echo, &port), WEFT_EINVAL, "bound but not listening");
    close(fd);
    fd = bound_socket(&a, SOCK_STREAM, true);
    cr_assert_eq(weft_adopt_stream_port(r, fd, AF_INET6, &echo, &port), -EAFNOSUPPORT);
    cr_assert_eq(weft_adopt_stream_port(r, fd, AF_UNIX, &echo, &port), -EAFNOSUPPORT);
    cr_assert_eq(weft_adopt_stream_port(r, fd, AF_INET, &echo, &port), 0);
    stop(r, port);
    close(fd);
    weft_reactor_free(r);
}

/* As weft_listen, adopting on a memory reactor records a listen (on the
 * socket's address) instead of listening. */
WEFT_TEST(systemd, adopt_on_a_memory_reactor_is_recorded)
{
    weft_reactor *r = weft_test_clock();
    cr_assert_eq(weft_memory_reactor_install(r), 0);
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    int fd = bound_socket(&a, SOCK_STREAM, true);
    weft_port *port;
    cr_assert_eq(weft_adopt_stream_port(r, fd, 0, &echo, &port), 0);
    const weft_memory_listen *l;
    cr_assert_eq(weft_memory_reactor_listens(r, &l), 1);
    cr_assert(weft_address_equal(&l[0].addr, &a));
    cr_assert_eq(l[0].factory, &echo);
    cr_assert_eq(l[0].port, port);
    stop(r, port);
    close(fd);
    weft_reactor_free(r);
}

/* ---- notifications ---- */

/* systemd's end of NOTIFY_SOCKET: a datagram socket in a directory of its
 * own, named in the environment. */
typedef struct notify_socket {
    int fd;
    char dir[64];
} notify_socket;

static void notify_socket_open(notify_socket *n)
{
    make_dir(n->dir, sizeof n->dir);
    char path[128];
    snprintf(path, sizeof path, "%s/notify", n->dir);
    weft_address a;
    cr_assert_eq(weft_address_from_unix(path, &a), 0);
    n->fd = bound_socket(&a, SOCK_DGRAM, false);
    cr_assert_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
}

/* The next message, waiting at most `ms`; "" when none came. */
static const char *notify_next(notify_socket *n, int ms, char *buf, size_t size)
{
    struct pollfd pfd = {n->fd, POLLIN, 0};
    buf[0] = '\0';
    if (poll(&pfd, 1, ms) != 1)
        return buf;
    ssize_t len = recv(n->fd, buf, size - 1, 0);
    cr_assert_geq(len, 0);
    buf[len] = '\0';
    return buf;
}

static void notify_socket_close(notify_socket *n)
{
    close(n->fd);
    unsetenv("NOTIFY_SOCKET");
    remove_dir(n->dir, (const char *const[]){"notify", NULL});
}

WEFT_TEST(systemd, notify_sends_ready_stopping_and_status)
{
    weft_reactor *r = weft_test_clock();
    notify_socket n;
    notify_socket_open(&n);
    char buf[256];
    cr_assert_eq(weft_systemd_notify_ready(r), 0);
    cr_assert_str_eq(notify_next(&n, 5000, buf, sizeof buf), "READY=1");
    cr_assert_eq(weft_systemd_notify_status(r, "serving 2 ports"), 0);
    cr_assert_str_eq(notify_next(&n, 5000, buf, sizeof buf), "STATUS=serving 2 ports");
    cr_assert_eq(weft_systemd_notify_stopping(r), 0);
    cr_assert_str_eq(notify_next(&n, 5000, buf, sizeof buf), "STOPPING=1");
    /* A newline would make a second assignment ("READY=1" here). */
    cr_assert_eq(weft_systemd_notify_status(r, "x\nREADY=1"), WEFT_EINVAL);
    cr_assert_str_eq(notify_next(&n, 0, buf, sizeof buf), "", "nothing more was sent: %s", buf);
    notify_socket_close(&n);
    weft_reactor_free(r);
}

WEFT_TEST(systemd, outside_systemd_every_call_does_nothing)
{
    weft_reactor *r = weft_test_clock();
    unsetenv("NOTIFY_SOCKET");
    cr_assert_eq(setenv("WATCHDOG_USEC", "1000000", 1), 0);
    cr_assert_eq(weft_systemd_notify_ready(r), 0);
    cr_assert_eq(weft_systemd_notify_status(r, "hello"), 0);
    cr_assert_eq(weft_systemd_notify_stopping(r), 0);
    weft_systemd_watchdog *w = (weft_systemd_watchdog *)&w;
    cr_assert_eq(weft_systemd_watchdog_start(r, &w), 0);
    cr_assert_null(w);
    cr_assert_eq(weft_reactor_timer_count(r), 0);
    weft_systemd_watchdog_stop(w);
    weft_reactor_free(r);
}

WEFT_TEST(systemd, watchdog_pings_every_half_interval_on_the_reactors_clock)
{
    weft_reactor *r = weft_test_clock();
    notify_socket n;
    notify_socket_open(&n);
    char pid[32], buf[256];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    cr_assert_eq(setenv("WATCHDOG_PID", pid, 1), 0);
    cr_assert_eq(setenv("WATCHDOG_USEC", "3000000", 1), 0);
    weft_systemd_watchdog *w;
    cr_assert_eq(weft_systemd_watchdog_start(r, &w), 0);
    cr_assert_not_null(w);
    cr_assert_float_eq(weft_systemd_watchdog_interval(w), 1.5, 1e-9);
    cr_assert_str_eq(notify_next(&n, 5000, buf, sizeof buf), "WATCHDOG=1", "the first ping at once");
    for (int i = 0; i < 3; i++) {
        /* Nothing until the half interval is over: the loop's own timer
         * sends it, so a loop that stops turning stops pinging. */
        cr_assert_eq(weft_clock_advance(r, 1.4), 0);
        cr_assert_str_eq(notify_next(&n, 0, buf, sizeof buf), "", "early: %s", buf);
        cr_assert_eq(weft_clock_advance(r, 0.1), 0);
        cr_assert_str_eq(notify_next(&n, 5000, buf, sizeof buf), "WATCHDOG=1");
        cr_assert_str_eq(notify_next(&n, 0, buf, sizeof buf), "", "one ping: %s", buf);
    }
    weft_systemd_watchdog_stop(w);
    cr_assert_eq(weft_clock_advance(r, 10), 0);
    cr_assert_str_eq(notify_next(&n, 0, buf, sizeof buf), "", "stopped: %s", buf);
    cr_assert_eq(weft_reactor_timer_count(r), 0);
    notify_socket_close(&n);
    weft_reactor_free(r);
}

WEFT_TEST(systemd, watchdog_is_off_unless_asked_for_this_process)
{
    weft_reactor *r = weft_test_clock();
    notify_socket n;
    notify_socket_open(&n);
    weft_systemd_watchdog *w;
    unsetenv("WATCHDOG_USEC");
    cr_assert_eq(weft_systemd_watchdog_start(r, &w), 0);
    cr_assert_null(w, "no WATCHDOG_USEC");
    cr_assert_eq(setenv("WATCHDOG_USEC", "1000000", 1), 0);
    char pid[32], buf[64];
    snprintf(pid, sizeof pid, "%ld", (long)getppid());
    cr_assert_eq(setenv("WATCHDOG_PID", pid, 1), 0);
    cr_assert_eq(weft_systemd_watchdog_start(r, &w), 0);
    cr_assert_null(w, "WATCHDOG_PID names another process");
    cr_assert_str_eq(notify_next(&n, 0, buf, sizeof buf), "", "%s", buf);
    notify_socket_close(&n);
    weft_reactor_free(r);
}

/* ---- the weft command under systemd-socket-activate ---- */

static void need_activator(void)
{
    if (!weft_test_have("systemd-socket-activate"))
        cr_skip_test("systemd-socket-activate is not installed (Debian's systemd)");
}

/* A port free on `ip` a moment ago: systemd-socket-activate does not take
 * port 0. */
static int free_port(const char *ip)
{
    weft_address a;
    cr_assert_eq(weft_address_from_ip(ip, 0, &a), 0);
    int fd = bound_socket(&a, SOCK_STREAM, false);
    close(fd);
    return weft_address_port(&a);
}

/* Starts `weft echo --listen ENDPOINT` under systemd-socket-activate with
 * `options` (its -l, --fdname=...; NULL-terminated) and waits until the
 * activator listens. weft itself starts at the first connection. */
static void activate(weft_test_proc *p, const char *const *options, const char *endpoint)
{
    char *argv[16];
    size_t n = 0;
    argv[n++] = "systemd-socket-activate";
    for (; *options; options++)
        argv[n++] = (char *)*options;
    argv[n++] = WEFT_CLI_PATH;
    argv[n++] = "echo";
    argv[n++] = "--listen";
    argv[n++] = (char *)endpoint;
    argv[n] = NULL;
    weft_test_proc_spawn(p, argv);
    weft_test_proc_wait_for(p, "Listening on ");
}

/* Echoes through `a` (weft starts on that connection), checks weft said
 * where it listens, then SIGTERM: weft exits 0. */
static void echo_then_term(weft_test_proc *p, const weft_address *a, const char *announced)
{
    echo_client(NULL, a);
    weft_test_proc_wait_for(p, announced);
    cr_assert_eq(weft_test_proc_finish(p, SIGTERM), 0, "%s", p->text);
}

WEFT_TEST(systemd, activated_unix_socket_by_name_echoes_and_sigterm_exits_0, .timeout = 60)
{
    need_activator();
    char dir[64], listen[128], want[200];
    make_dir(dir, sizeof dir);
    snprintf(listen, sizeof listen, "--listen=%s/web.sock", dir);
    weft_test_proc p;
    activate(&p, (const char *const[]){listen, "--fdname=web", NULL}, "systemd:name=web");
    weft_address a;
    cr_assert_eq(weft_address_from_unix(listen + 9, &a), 0);
    snprintf(want, sizeof want, "weft echo: listening on systemd:name=web (unix:%s)", listen + 9);
    echo_then_term(&p, &a, want);
    remove_dir(dir, (const char *const[]){"web.sock", NULL});
}

static void tcp_by_index(const char *ip, const char *listen_fmt, const char *endpoint, const char *announced_fmt)
{
    need_activator();
    int port = free_port(ip);
    char listen[64], want[160];
    snprintf(listen, sizeof listen, listen_fmt, port);
    weft_test_proc p;
    activate(&p, (const char *const[]){listen, NULL}, endpoint);
    weft_address a;
    cr_assert_eq(weft_address_from_ip(ip, port, &a), 0);
    snprintf(want, sizeof want, announced_fmt, endpoint, port);
    echo_then_term(&p, &a, want);
}

WEFT_TEST(systemd, activated_tcp_socket_by_index_echoes, .timeout = 60)
{
    tcp_by_index("127.0.0.1", "--listen=127.0.0.1:%d", "systemd:index=0", "listening on %s (127.0.0.1:%d)");
}

WEFT_TEST(systemd, activated_tcp6_socket_with_twisteds_domain_echoes, .timeout = 60)
{
    tcp_by_index("::1", "--listen=[::1]:%d", "systemd:domain=INET6:index=0", "listening on %s ([::1]:%d)");
}

/* Two sockets passed: the name picks the second, whose connection weft
 * answers. */
WEFT_TEST(systemd, activated_socket_is_found_by_its_name_among_several, .timeout = 60)
{
    need_activator();
    char dir[64], one[128], two[128];
    make_dir(dir, sizeof dir);
    snprintf(one, sizeof one, "--listen=%s/one.sock", dir);
    snprintf(two, sizeof two, "--listen=%s/two.sock", dir);
    weft_test_proc p;
    activate(&p, (const char *const[]){one, two, "--fdname=admin:web", NULL}, "systemd:name=web");
    weft_address a;
    cr_assert_eq(weft_address_from_unix(two + 9, &a), 0);
    echo_then_term(&p, &a, "listening on systemd:name=web (unix:");
    remove_dir(dir, (const char *const[]){"one.sock", "two.sock", NULL});
}

/* weft starts at the first connection (or datagram) to `path`, then must
 * fail with exit status 1 and `message`. */
static void refused(const char *const *options, const char *path, int type, const char *endpoint,
                    const char *message)
{
    weft_test_proc p;
    activate(&p, options, endpoint);
    weft_address a;
    cr_assert_eq(weft_address_from_unix(path, &a), 0);
    int c = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    cr_assert_geq(c, 0);
    cr_assert_eq(connect(c, &a.u.sa, a.len), 0, "%s", strerror(errno));
    if (type == SOCK_DGRAM)
        cr_assert_eq(send(c, "x", 1, 0), 1);
    weft_test_proc_wait_for(&p, message);
    close(c);
    /* The activator execs weft: its exit status is weft's. */
    int status = weft_test_proc_finish(&p, 0);
    cr_assert_eq(status, 1, "exit status %d:\n%s", status, p.text);
}

WEFT_TEST(systemd, a_missing_index_or_name_is_refused_with_what_was_passed, .timeout = 60)
{
    need_activator();
    char dir[64], listen[128];
    make_dir(dir, sizeof dir);
    snprintf(listen, sizeof listen, "--listen=%s/web.sock", dir);
    refused((const char *const[]){listen, "--fdname=web", NULL}, listen + 9, SOCK_STREAM, "systemd:index=1",
            "weft echo: cannot listen on systemd:index=1: no socket at index 1 (systemd passed 1: index 0 to 0)\n");
    unlink(listen + 9);
    refused((const char *const[]){listen, "--fdname=web", NULL}, listen + 9, SOCK_STREAM, "systemd:name=api",
            "weft echo: cannot listen on systemd:name=api: no socket named 'api' (systemd passed 'web'; "
            "FileDescriptorName= names them)\n");
    unlink(listen + 9);
    refused((const char *const[]){listen, NULL}, listen + 9, SOCK_STREAM, "systemd:domain=INET:index=0",
            "weft echo: cannot listen on systemd:domain=INET:index=0: descriptor 3 is a socket of domain UNIX, "
            "not INET\n");
    remove_dir(dir, (const char *const[]){"web.sock", NULL});
}

WEFT_TEST(systemd, a_datagram_socket_is_refused, .timeout = 60)
{
    need_activator();
    char dir[64], listen[128];
    make_dir(dir, sizeof dir);
    snprintf(listen, sizeof listen, "--listen=%s/dgram.sock", dir);
    refused((const char *const[]){"--datagram", listen, NULL}, listen + 9, SOCK_DGRAM, "systemd:index=0",
            "weft echo: cannot listen on systemd:index=0: descriptor 3 is not a stream socket (ListenStream=, not "
            "ListenDatagram=)\n");
    remove_dir(dir, (const char *const[]){"dgram.sock", NULL});
}

/* A socket unit with Accept=yes passes each connection, not a listening
 * socket: the activator's --accept does the same. */
WEFT_TEST(systemd, a_connected_socket_is_refused, .timeout = 60)
{
    need_activator();
    char dir[64], listen[128];
    make_dir(dir, sizeof dir);
    snprintf(listen, sizeof listen, "--listen=%s/web.sock", dir);
    weft_test_proc p;
    activate(&p, (const char *const[]){"--accept", listen, NULL}, "systemd:index=0");
    weft_address a;
    cr_assert_eq(weft_address_from_unix(listen + 9, &a), 0);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(c, &a.u.sa, a.len), 0, "%s", strerror(errno));
    weft_test_proc_wait_for(&p, "weft echo: cannot listen on systemd:index=0: descriptor 3 is a socket that is not "
                                "listening (Accept=no is needed)\n");
    close(c);
    /* The activator goes on accepting: a signal ends it. */
    weft_test_proc_finish(&p, SIGTERM);
    remove_dir(dir, (const char *const[]){"web.sock", NULL});
}

WEFT_TEST(systemd, without_activation_the_listen_fails_saying_so, .timeout = 60)
{
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    char *argv[] = {WEFT_CLI_PATH, "echo", "--listen", "systemd:index=0", NULL};
    weft_test_output o = weft_test_run(argv, NULL, 0, 30);
    cr_assert_eq(o.status, 1, "%s", o.err);
    cr_assert_str_eq(o.err, "weft echo: cannot listen on systemd:index=0: no sockets were passed by systemd "
                            "(LISTEN_FDS is not set: is weft started by a socket unit, or by "
                            "systemd-socket-activate?)\n");
    weft_test_output_free(&o);
    /* Sockets passed to another process (LISTEN_PID) are not weft's. */
    cr_assert_eq(setenv("LISTEN_FDS", "1", 1), 0);
    cr_assert_eq(setenv("LISTEN_PID", "1", 1), 0);
    o = weft_test_run(argv, NULL, 0, 30);
    cr_assert_eq(o.status, 1, "%s", o.err);
    cr_assert_not_null(strstr(o.err, "weft echo: cannot listen on systemd:index=0: the sockets passed are for "
                                     "another process (LISTEN_PID=1, this is "),
                       "%s", o.err);
    weft_test_output_free(&o);
}
