/* SPDX-License-Identifier: MIT */
/*
 * `weft web --proxy` end to end, as a user runs it: the real command in
 * front of a real upstream on 127.0.0.1 (Python's threaded http.server,
 * which can hold requests for as long as a test wants), clients that are
 * curl or plain sockets. The defects of issue 10 each have a test here:
 * dot segments forwarded to the upstream (3), four slow upstream requests
 * holding up every other (4), no limit on the upstream's silence, and an
 * upstream's Content-Length past INT64_MAX.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "test.h"

/* The upstream. Every request is printed ("saw PATH") and answered with
 * what it asked for ("saw PATH" again), except:
 *   .../slow...   printed as "held N" (N: how many are held now) and held
 *                 until GET /release comes, straight to the upstream;
 *   .../huge      a Content-Length that no signed 64-bit integer holds. */
static const char upstream_py[] =
    "import http.server, sys, threading\n"
    "lock = threading.Lock(); release = threading.Event(); held = [0]\n"
    "def say(s):\n"
    "    with lock: print(s, flush=True)\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *a): pass\n"
    "    def send(self, body, status=200):\n"
    "        body = body.encode()\n"
    "        self.send_response(status)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def do_GET(self):\n"
    "        if self.path == '/release':\n"
    "            release.set(); self.send('released'); return\n"
    "        if self.path.endswith('/huge'):\n"
    "            say('saw ' + self.path)\n"
    "            self.wfile.write(b'HTTP/1.1 200 OK\\r\\nContent-Length: 18446744073709551615\\r\\n\\r\\nabc')\n"
    "            self.close_connection = True; return\n"
    "        if '/slow' in self.path:\n"
    "            with lock: held[0] += 1; n = held[0]\n"
    "            say('held %d' % n)\n"
    "            release.wait(60)\n"
    "            self.send('slow ' + self.path); return\n"
    "        say('saw ' + self.path)\n"
    "        self.send('saw ' + self.path)\n"
    "class S(http.server.ThreadingHTTPServer):\n"
    "    daemon_threads = True\n"
    "s = S(('127.0.0.1', 0), H)\n"
    "print('listening on upstream (127.0.0.1:%d)' % s.server_address[1], flush=True)\n"
    "s.serve_forever()\n";

typedef struct rig {
    weft_test_proc up, web;
    int up_port, port;
} rig;

/* The upstream, and `weft web` with `extra` options (NULL-terminated) and
 * --proxy /pub=http://127.0.0.1:UP/public. */
static void rig_start(rig *g, const char *const *extra)
{
    char *uargv[] = {"/usr/bin/python3", "-c", (char *)upstream_py, NULL};
    weft_test_proc_spawn(&g->up, uargv);
    g->up_port = weft_test_proc_port(&g->up);
    char spec[128];
    snprintf(spec, sizeof spec, "/pub=http://127.0.0.1:%d/public", g->up_port);
    char *argv[32] = {WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--proxy", spec};
    int n = 6;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    weft_test_proc_spawn(&g->web, argv);
    g->port = weft_test_proc_port(&g->web);
}

/* Stops both; the upstream's output is then whole in g->up.text. */
static void rig_stop(rig *g)
{
    cr_assert_eq(weft_test_proc_finish(&g->web, SIGTERM), 0, "%s", g->web.text);
    cr_assert_eq(weft_test_proc_finish(&g->up, SIGTERM), 128 + SIGTERM, "%s", g->up.text);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Sends GET path on a new connection, exactly as written (no client
 * normalising it on the way); returns the socket. */
static int send_get(int port, const char *path)
{
    int fd = connect_to(port);
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    cr_assert_eq(write(fd, req, (size_t)n), n);
    return fd;
}

/* Reads the whole response (the connection closes after it); returns its
 * status (0 when what came is not a response), the text in out. Waits at
 * most 20 s for each piece. */
static int read_response(int fd, char *out, size_t size)
{
    size_t got = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        cr_assert_gt(poll(&p, 1, 20000), 0, "no answer; so far:\n%.*s", (int)got, out);
        ssize_t n = read(fd, out + got, size - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == size - 1)
            break;
    }
    out[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(out, "HTTP/1.1 %d", &status) != 1)
        return 0; /* none: the callers show what came instead */
    return status;
}

static int get(int port, const char *path, char *out, size_t size)
{
    return read_response(send_get(port, path), out, size);
}

WEFT_TEST(web_proxy, a_url_maps_the_prefix_to_the_upstream_path, .timeout = 60)
{
    rig g;
    rig_start(&g, NULL);
    char text[4096];
    cr_assert_eq(get(g.port, "/pub/x/y?q=1", text, sizeof text), 200, "%s", text);
    cr_assert(strstr(text, "\r\n\r\nsaw /public/x/y?q=1"), "%s", text);
    cr_assert_eq(get(g.port, "/pub", text, sizeof text), 200, "%s", text);
    cr_assert(strstr(text, "\r\n\r\nsaw /public"), "%s", text);
    rig_stop(&g);
}

/* Defect 3: `GET /pub/../private/keys` reached the upstream as
 * /public/../private/keys, which the upstream resolves to /private/keys -
 * beside the mount point, not under it. However the dots are spelt, the
 * path is normalised before the walk (http_resource.h): one that climbs out
 * of /pub is not the proxy's (here nothing's: 404), one that stays inside
 * is forwarded normalised. */
WEFT_TEST(web_proxy, dot_segments_never_reach_the_upstream, .timeout = 60)
{
    rig g;
    rig_start(&g, NULL);
    static const char *const climbing[] = {
        "/pub/../private/keys",     "/pub/%2e%2e/private/keys", "/pub/%2E%2E/private/keys",
        "/pub/.%2e/private/keys",   "/pub/%2e./private/keys",   "/pub/a/../../private/keys",
        "/pub/a/./../../private",   "/pub/..",                  "/pub/%2e%2e",
        "/pub/a/%2e%2e/%2e%2e/x",
    };
    char text[4096];
    for (size_t i = 0; i < sizeof climbing / sizeof *climbing; i++) {
        int status = get(g.port, climbing[i], text, sizeof text);
        cr_assert_eq(status, 404, "%s:\n%s", climbing[i], text);
    }
    /* Dots that stay below the mount point: resolved here, not upstream. */
    static const char *const inside[][2] = {
        {"/pub/a/../b", "/public/b"},
        {"/pub/./a/%2e/b/", "/public/a/b/"},
        {"/pub/a/b/%2E%2E/c?x=../y", "/public/a/c?x=../y"},
        {"/pub/%7Euser/%41", "/public/~user/A"},
        {"/pub/a/..", "/public/"},
    };
    for (size_t i = 0; i < sizeof inside / sizeof *inside; i++) {
        int status = get(g.port, inside[i][0], text, sizeof text);
        cr_assert_eq(status, 200, "%s:\n%s", inside[i][0], text);
        char want[256];
        snprintf(want, sizeof want, "\r\n\r\nsaw %s", inside[i][1]);
        cr_assert(strstr(text, want), "%s should go as %s:\n%s", inside[i][0], inside[i][1], text);
    }
    cr_assert_eq(get(g.port, "/pub/bad%zzescape", text, sizeof text), 400, "%s", text);
    rig_stop(&g);
    /* What the upstream saw: never a dot segment, never an escaped dot. */
    cr_assert_null(strstr(g.up.text, "/.."), "%s", g.up.text);
    cr_assert_null(strstr(g.up.text, "/./"), "%s", g.up.text);
    cr_assert_null(strcasestr(g.up.text, "%2e"), "%s", g.up.text);
    cr_assert_null(strstr(g.up.text, "private"), "%s", g.up.text);
}

/* Holds n slow requests at the upstream (through the proxy); returns their
 * sockets in fds. */
static void hold_slow(rig *g, int n, int *fds)
{
    char path[64], held[32];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "/pub/slow/%d", i);
        fds[i] = send_get(g->port, path);
    }
    snprintf(held, sizeof held, "held %d\n", n);
    weft_test_proc_wait_for(&g->up, held);
}

/* Lets the held requests go (asking the upstream directly: the proxy's
 * connections may all be taken) and checks that each was answered. */
static void release_slow(rig *g, int n, const int *fds)
{
    char text[4096];
    cr_assert_eq(get(g->up_port, "/release", text, sizeof text), 200, "%s", text);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(read_response(fds[i], text, sizeof text), 200, "%s", text);
        char want[64];
        snprintf(want, sizeof want, "slow /public/slow/%d", i);
        cr_assert(strstr(text, want), "%s", text);
    }
}

/* Defect 4: with the agent's 4 connections per host, a fifth request
 * waited for one of four slow ones to end. A proxy's pool is larger: the
 * fifth is answered while the four are still held at the upstream (they
 * are let go only after it has its answer, so it cannot have waited for
 * them). */
WEFT_TEST(web_proxy, four_slow_upstream_requests_do_not_stall_a_fifth, .timeout = 90)
{
    rig g;
    rig_start(&g, NULL);
    int fds[4];
    hold_slow(&g, 4, fds);
    char text[4096];
    cr_assert_eq(get(g.port, "/pub/fast", text, sizeof text), 200, "%s", text);
    cr_assert(strstr(text, "\r\n\r\nsaw /public/fast"), "%s", text);
    release_slow(&g, 4, fds);
    rig_stop(&g);
}

/* The pool exhausted on purpose (--proxy-connections 2): the third request
 * waits its queue timeout and gets 503, never reaching the upstream, and
 * never waiting for the two slow ones to end; then the pool serves again. */
WEFT_TEST(web_proxy, an_exhausted_pool_answers_503_after_its_queue_timeout, .timeout = 90)
{
    rig g;
    rig_start(&g, (const char *[]){"--proxy-connections", "2", "--proxy-queue-timeout", "0.2", NULL});
    int fds[2];
    hold_slow(&g, 2, fds);
    char text[4096];
    cr_assert_eq(get(g.port, "/pub/slow/extra", text, sizeof text), 503, "%s", text);
    cr_assert(strstr(text, "no connection came free within 0.2 s"), "%s", text);
    release_slow(&g, 2, fds);
    cr_assert_eq(get(g.port, "/pub/after", text, sizeof text), 200, "%s", text);
    rig_stop(&g);
    cr_assert_null(strstr(g.up.text, "held 3"), "the refused request reached the upstream:\n%s", g.up.text);
}

/* nginx's proxy_read_timeout: an upstream that says nothing for that long
 * is a 504 (a small setting here; the default is 60 s). */
WEFT_TEST(web_proxy, an_upstream_silent_past_the_read_timeout_is_a_504, .timeout = 90)
{
    rig g;
    rig_start(&g, (const char *[]){"--proxy-read-timeout", "0.2", NULL});
    char text[4096];
    int fds[1];
    hold_slow(&g, 1, fds);
    cr_assert_eq(read_response(fds[0], text, sizeof text), 504, "%s", text);
    cr_assert(strstr(text, "no response from the server within 0.2 s"), "%s", text);
    /* Released only now: the 504 did not wait for it. */
    cr_assert_eq(get(g.up_port, "/release", text, sizeof text), 200, "%s", text);
    rig_stop(&g);
}

/* Content-Length: 18446744073709551615 from the upstream is a malformed
 * response: the client gets a 502, not a body framed some other way. */
WEFT_TEST(web_proxy, an_upstream_content_length_above_int64_max_is_a_502, .timeout = 60)
{
    rig g;
    rig_start(&g, NULL);
    char text[4096];
    int status = get(g.port, "/pub/huge", text, sizeof text);
    rig_stop(&g);
    cr_assert_eq(status, 502, "the proxy answered %d", status);
}

WEFT_TEST(web_proxy, refuses_bad_proxy_options)
{
    const char *bad[][4] = {
        {"--proxy-connections", "0", NULL},
        {"--proxy-connections", "many", NULL},
        {"--proxy-connections", "-3", NULL},
        {"--proxy-queue-timeout", "-1", NULL},
        {"--proxy-read-timeout", "soon", NULL},
        {"--proxy", "/x=ftp://127.0.0.1/", NULL},
        {"--proxy", "/x=http://127.0.0.1:1/a?q", NULL},
        {"--proxy", "/x=http://user@127.0.0.1/", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[12] = {WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--proxy",
                          "/ok=tcp:host=127.0.0.1:port=1"};
        int n = 6;
        for (int k = 0; bad[i][k]; k++)
            argv[n++] = (char *)bad[i][k];
        weft_test_output o = weft_test_run(argv, NULL, 0, 20);
        cr_assert_eq(o.status, 2, "case %zu exited %d: %s", i, o.status, o.err);
        cr_assert(strstr(o.err, "weft web"), "%s", o.err);
        weft_test_output_free(&o);
    }
}
