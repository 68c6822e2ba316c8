/* SPDX-License-Identifier: MIT */
/* HAProxy itself in front of a haproxy: endpoint: send-proxy (v1) and
 * send-proxy-v2 (with TLVs), to TCP, UNIX and TLS backends, and the weft
 * command's access log behind it. The client connects from 127.0.0.2, so
 * that the address weft reports can only be the one the header gave (the
 * proxy connects from 127.0.0.1).
 *
 * HAProxy takes its frontend's listening socket from this process (bind
 * fd@N): no port is guessed, and no wait for it to listen is needed, since
 * connections queue on the socket until it accepts. A test cut short by
 * a failed assertion leaves nothing behind: its .fini stops what it
 * started and removes its files; and HAProxy and the weft command run
 * under timeout(1), so that even a crashed test leaves them for a minute
 * at most. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certs.h"
#include "net.h"
#include "proc.h"
#include "test.h"

/* What the test (one per process) has started and made, for cleanup. */
static struct {
    pid_t pids[2];
    char paths[6][160]; /* removed last first: files, then their directory */
    size_t npaths;
    weft_test_certs certs;
    bool have_certs;
} left;

static void remember_pid(pid_t pid)
{
    for (size_t i = 0; i < 2; i++)
        if (!left.pids[i]) {
            left.pids[i] = pid;
            return;
        }
    cr_assert_fail("more than two processes");
}

static void forget_pid(pid_t pid)
{
    for (size_t i = 0; i < 2; i++)
        if (left.pids[i] == pid)
            left.pids[i] = 0;
}

static void remember_path(const char *path)
{
    cr_assert_lt(left.npaths, 6);
    snprintf(left.paths[left.npaths++], sizeof left.paths[0], "%s", path);
}

/* Criterion runs this after the test, passed or failed: timeout(1) passes
 * SIGTERM on to HAProxy or weft. */
static void cleanup(void)
{
    for (size_t i = 0; i < 2; i++)
        if (left.pids[i] > 0) {
            kill(left.pids[i], SIGTERM);
            waitpid(left.pids[i], NULL, 0);
            left.pids[i] = 0;
        }
    while (left.npaths > 0) {
        const char *path = left.paths[--left.npaths];
        if (unlink(path) < 0)
            rmdir(path);
    }
    if (left.have_certs)
        weft_test_certs_remove(&left.certs);
    left.have_certs = false;
}

typedef struct haproxy {
    char dir[64], cfg[128];
    int front_port;
    weft_test_proc proc;
} haproxy;

/* Starts HAProxy in `mode` (tcp or http), its frontend with `frontend`
 * lines added, its backend with the one server line given. */
static void haproxy_start(haproxy *h, const char *mode, const char *frontend, const char *server)
{
    memset(h, 0, sizeof *h);
    snprintf(h->dir, sizeof h->dir, "/tmp/weft-haproxy-XXXXXX");
    cr_assert_not_null(mkdtemp(h->dir));
    remember_path(h->dir);
    snprintf(h->cfg, sizeof h->cfg, "%s/haproxy.cfg", h->dir);
    remember_path(h->cfg);
    int listener = weft_test_listener(&h->front_port);
    /* A copy without FD_CLOEXEC, for HAProxy to inherit. */
    int inherited = fcntl(listener, F_DUPFD, 10);
    cr_assert_geq(inherited, 10);
    FILE *f = fopen(h->cfg, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "global\n"
            "    maxconn 64\n"
            "defaults\n"
            "    mode %s\n"
            "    timeout connect 5s\n"
            "    timeout client 20s\n"
            "    timeout server 20s\n"
            "frontend fe\n"
            "    bind fd@%d\n"
            "%s"
            "    default_backend be\n"
            "backend be\n"
            "    %s\n",
            mode, inherited, frontend, server);
    fclose(f);
    /* A configuration HAProxy refuses fails here, saying why. */
    char *check[] = {"haproxy", "-c", "-q", "-f", h->cfg, NULL};
    weft_test_output o = weft_test_run(check, NULL, 0, 30);
    cr_assert_eq(o.status, 0, "haproxy -c: %s%s", o.out, o.err);
    weft_test_output_free(&o);
    char *argv[] = {"timeout", "60", "haproxy", "-f", h->cfg, "-db", NULL};
    weft_test_proc_spawn(&h->proc, argv);
    remember_pid(h->proc.pid);
    close(inherited);
    close(listener);
}

static void haproxy_stop(haproxy *h)
{
    weft_test_proc_finish(&h->proc, SIGTERM);
    forget_pid(h->proc.pid);
}

/* fmt with {port}, {dir}, {key} and {cert} replaced. */
static void fill(char *out, size_t size, const char *fmt, int port, const char *dir, const weft_test_certs *certs)
{
    char num[16];
    snprintf(num, sizeof num, "%d", port);
    const char *names[] = {"{port}", "{dir}", "{key}", "{cert}"};
    const char *values[] = {num, dir, certs->server_key, certs->server_cert};
    size_t n = 0;
    while (*fmt && n + 1 < size) {
        size_t i = 0;
        while (i < 4 && strncmp(fmt, names[i], strlen(names[i])) != 0)
            i++;
        if (i == 4) {
            out[n++] = *fmt++;
            continue;
        }
        n += (size_t)snprintf(out + n, size - n, "%s", values[i]);
        fmt += strlen(names[i]);
    }
    cr_assert_lt(n, size);
    out[n] = '\0';
}

/* A client of the frontend, from 127.0.0.2. */
static int dial_from_127_0_0_2(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in me = {.sin_family = AF_INET}, to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.2", &me.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof me), 0, "bind 127.0.0.2: %s", strerror(errno));
    cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof to), 0, "connect: %s", strerror(errno));
    return fd;
}

static void socket_name(int fd, bool peer, char *out, size_t size)
{
    weft_address a = {.len = sizeof a.u};
    cr_assert_eq(peer ? getpeername(fd, &a.u.sa, &a.len) : getsockname(fd, &a.u.sa, &a.len), 0);
    weft_address_format(&a, out, size);
}

/* ---- a weft server in this process, recording its connection ---- */

typedef struct seen {
    int made;
    char peer[128], host[128];
    char data[256];
    size_t len;
} seen;

typedef struct rec {
    weft_protocol base;
    seen *s;
} rec;

static void rec_made(weft_protocol *p)
{
    seen *s = ((rec *)p)->s;
    weft_address a;
    s->made++;
    cr_assert_eq(weft_transport_peer(p->transport, &a), 0);
    weft_address_format(&a, s->peer, sizeof s->peer);
    cr_assert_eq(weft_transport_host(p->transport, &a), 0);
    weft_address_format(&a, s->host, sizeof s->host);
}

static void rec_data(weft_protocol *p, const void *data, size_t len)
{
    seen *s = ((rec *)p)->s;
    size_t n = len < sizeof s->data - 1 - s->len ? len : sizeof s->data - 1 - s->len;
    memcpy(s->data + s->len, data, n);
    s->len += n;
    weft_transport_write(p->transport, data, len); /* and echoes */
}

static void rec_destroy(weft_protocol *p)
{
    free(p);
}

static const weft_protocol_ops rec_ops = {.connection_made = rec_made, .data_received = rec_data,
                                          .destroy = rec_destroy};

typedef struct rec_factory {
    weft_factory base;
    seen *s;
} rec_factory;

static weft_protocol *rec_build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    rec *p = calloc(1, sizeof *p);
    cr_assert_not_null(p);
    p->base.ops = &rec_ops;
    p->s = ((rec_factory *)f)->s;
    return &p->base;
}

static const weft_factory_ops rec_factory_ops = {.build = rec_build};

/* Listens on `desc_fmt` in this process, puts HAProxy in front with
 * `server_fmt` ({port}: the port weft got, {dir}: a directory for a UNIX
 * socket, {key} and {cert}: a test certificate), sends a line through it from
 * 127.0.0.2, and checks that weft saw that client, at the address the
 * client connected to, and the line. */
static void through_haproxy(const char *desc_fmt, const char *frontend_extra, const char *server_fmt)
{
    cr_assert(weft_test_have("haproxy"), "haproxy is not installed (scripts/deps installs it)");
    weft_reactor *r = weft_test_reactor();
    seen s = {0};
    rec_factory f = {.base.ops = &rec_factory_ops, .s = &s};
    char dir[64] = "/tmp/weft-haproxy-unix-XXXXXX", desc[512], server[512];
    cr_assert_not_null(mkdtemp(dir));
    remember_path(dir);
    char sock[128];
    snprintf(sock, sizeof sock, "%s/b.sock", dir);
    remember_path(sock);
    snprintf(sock, sizeof sock, "%s/b.sock.lock", dir);
    remember_path(sock);
    weft_test_certs_make(&left.certs);
    left.have_certs = true;
    const weft_test_certs certs = left.certs;
    fill(desc, sizeof desc, desc_fmt, 0, dir, &certs);
    weft_endpoint *e;
    weft_failure *why = NULL;
    cr_assert_eq(weft_endpoint_server(r, desc, &e, &why), 0, "%s: %s", desc, why ? weft_failure_message(why) : "");
    weft_deferred *d = weft_endpoint_listen(e, &f.base);
    weft_endpoint_free(e);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res) && !weft_failed(res), "%s does not listen", desc);
    weft_port *port = res.value;
    weft_deferred_unref(d);
    weft_address a;
    cr_assert_eq(weft_port_address(port, &a), 0);
    fill(server, sizeof server, server_fmt, weft_address_port(&a), dir, &certs);
    haproxy h;
    haproxy_start(&h, "tcp", frontend_extra, server);
    int fd = dial_from_127_0_0_2(h.front_port);
    cr_assert_eq(send(fd, "hello\n", 6, MSG_NOSIGNAL), 6);
    for (int i = 0; i < 2000 && s.len < 6; i++)
        weft_reactor_iterate(r, 0.01);
    cr_assert_eq(s.len, 6, "weft got \"%s\"; haproxy said:\n%s", s.data, h.proc.text);
    cr_assert_str_eq(s.data, "hello\n");
    char client[128], front[128];
    socket_name(fd, false, client, sizeof client);
    socket_name(fd, true, front, sizeof front);
    cr_assert_eq(s.made, 1);
    cr_assert_str_eq(s.peer, client, "weft's peer is the client's address as HAProxy saw it");
    cr_assert_str_eq(s.host, front, "weft's host is the address the client connected to");
    /* And the echo comes back through it all. */
    char back[8] = "";
    for (int i = 0; i < 2000; i++) {
        weft_reactor_iterate(r, 0.01);
        if (recv(fd, back, sizeof back - 1, MSG_DONTWAIT) > 0)
            break;
    }
    cr_assert_str_eq(back, "hello\n");
    close(fd);
    haproxy_stop(&h);
    weft_deferred_unref(weft_port_stop(port));
    weft_reactor_free(r);
}

WEFT_TEST(haproxy_interop, send_proxy_v1_to_tcp, .timeout = 120, .fini = cleanup)
{
    through_haproxy("haproxy:tcp:0:interface=127.0.0.1", "", "server s1 127.0.0.1:{port} send-proxy");
}

/* With TLVs (a CRC32C of the header, and a unique id) to skip. */
WEFT_TEST(haproxy_interop, send_proxy_v2_with_tlvs_to_tcp, .timeout = 120, .fini = cleanup)
{
    through_haproxy("haproxy:tcp:0:interface=127.0.0.1", "    unique-id-format %ci:%cp_%fi:%fp_%Ts\n",
                    "server s1 127.0.0.1:{port} send-proxy-v2 proxy-v2-options crc32c,unique-id");
}

WEFT_TEST(haproxy_interop, send_proxy_v2_to_unix, .timeout = 120, .fini = cleanup)
{
    through_haproxy("haproxy:unix:{dir}/b.sock", "", "server s1 unix@{dir}/b.sock send-proxy-v2");
}

/* HAProxy sends the header, then speaks TLS to the server: the header is
 * read before the handshake. */
WEFT_TEST(haproxy_interop, send_proxy_v2_then_tls, .timeout = 120, .fini = cleanup)
{
    through_haproxy("haproxy:tls:0:interface=127.0.0.1:privateKey={key}:certKey={cert}", "",
                    "server s1 127.0.0.1:{port} send-proxy-v2 ssl verify none");
}

/* What an operator sees: `weft web` behind HAProxy logs the client's
 * address, not the proxy's. */
static void web_behind_haproxy(const char *send_proxy)
{
    cr_assert(weft_test_have("haproxy") && weft_test_have("curl"), "haproxy and curl are needed (scripts/deps)");
    char www[64] = "/tmp/weft-haproxy-www-XXXXXX", file[128];
    cr_assert_not_null(mkdtemp(www));
    remember_path(www);
    snprintf(file, sizeof file, "%s/hello.txt", www);
    remember_path(file);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs("hello\n", f);
    fclose(f);
    char *argv[] = {"timeout", "60", WEFT_CLI_PATH, "web", "--listen", "haproxy:tcp:0:interface=127.0.0.1",
                    "--path", www, "--access-log", "-", NULL};
    weft_test_proc web;
    weft_test_proc_spawn(&web, argv);
    remember_pid(web.pid);
    int port = weft_test_proc_port(&web);
    char server[128];
    snprintf(server, sizeof server, "server s1 127.0.0.1:%d %s", port, send_proxy);
    haproxy h;
    haproxy_start(&h, "http", "", server);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello.txt", h.front_port);
    char *curl[] = {"curl", "-sS", "--max-time", "20", "--interface", "127.0.0.2", url, NULL};
    weft_test_output o = weft_test_run(curl, NULL, 0, 30);
    cr_assert_eq(o.status, 0, "curl: %s; haproxy: %s", o.err, h.proc.text);
    cr_assert_str_eq(o.out, "hello\n");
    weft_test_output_free(&o);
    /* The combined log format starts with the client's host. */
    const char *line = weft_test_proc_wait_for(&web, "\"GET /hello.txt HTTP/1.1\" 200");
    while (line > web.text && line[-1] != '\n')
        line--;
    cr_assert_eq(strncmp(line, "127.0.0.2 - - [", 15), 0, "the access log names the proxy, not the client: %.*s",
                 (int)(strchr(line, '\n') ? strchr(line, '\n') - line : 200), line);
    haproxy_stop(&h);
    weft_test_proc_finish(&web, SIGTERM);
    forget_pid(web.pid);
}

WEFT_TEST(haproxy_interop, weft_web_logs_the_client_behind_send_proxy, .timeout = 120, .fini = cleanup)
{
    web_behind_haproxy("send-proxy");
}

WEFT_TEST(haproxy_interop, weft_web_logs_the_client_behind_send_proxy_v2, .timeout = 120, .fini = cleanup)
{
    web_behind_haproxy("send-proxy-v2");
}
