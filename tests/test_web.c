/* SPDX-License-Identifier: MIT */
/*
 * `weft web` end to end: the real command serving files, with added headers
 * and an access log, proxying to an upstream (Python's http.server, so the
 * proxy's request is seen by another implementation), over TLS with ALPN,
 * and refusing bad usage.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs.h"
#include "proc.h"
#include "test.h"

typedef struct tree {
    char dir[64];
} tree;

static void make_tree(tree *t)
{
    strcpy(t->dir, "/tmp/weft-web-XXXXXX");
    cr_assert_not_null(mkdtemp(t->dir));
    char path[256];
    snprintf(path, sizeof path, "%s/hello.txt", t->dir);
    FILE *f = fopen(path, "w");
    fputs("hello from weft web\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/sub", t->dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sub/start.htm", t->dir);
    f = fopen(path, "w");
    fputs("the index\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/data.weftunknown", t->dir);
    f = fopen(path, "w");
    fputs("?", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/big.bin", t->dir);
    f = fopen(path, "w");
    for (int i = 0; i < 3 * 1024 * 1024; i++)
        fputc((i * 131) & 0xff, f);
    fclose(f);
}

static void remove_tree(tree *t)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
    cr_assert_eq(system(cmd), 0);
}

static weft_test_output curl(const char *const *args)
{
    char *argv[32] = {"curl", "-sS", "--max-time", "20"};
    int n = 4;
    for (int i = 0; args[i]; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    return weft_test_run(argv, NULL, 0, 30);
}

WEFT_TEST(web, serves_files_with_added_headers_and_an_access_log, .timeout = 60)
{
    tree t;
    make_tree(&t);
    char log[128];
    snprintf(log, sizeof log, "%s/access.log", t.dir);
    weft_test_proc web;
    char *argv[] = {WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--path", t.dir,
                    "--add-header", "X-Served-By: weft test", "--access-log", log,
                    "--index", "start.htm", "--mime-type", "text/x-weft", NULL};
    weft_test_proc_spawn(&web, argv);
    int port = weft_test_proc_port(&web);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello.txt", port);
    weft_test_output o = curl((const char *[]){"-i", "-A", "test-agent/1", "-e", "http://ref.example/", url, NULL});
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert(strstr(o.out, "HTTP/1.1 200 OK"), "%s", o.out);
    cr_assert(strstr(o.out, "X-Served-By: weft test"), "%s", o.out);
    cr_assert(strstr(o.out, "\r\n\r\nhello from weft web\n"), "%s", o.out);
    weft_test_output_free(&o);
    /* --index names the file answering for a directory */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/sub/", port);
    o = curl((const char *[]){url, NULL});
    cr_assert_str_eq(o.out, "the index\n");
    weft_test_output_free(&o);
    /* --mime-type: the type of what /etc/mime.types does not know */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data.weftunknown", port);
    o = curl((const char *[]){"-I", url, NULL});
    cr_assert(strstr(o.out, "Content-Type: text/x-weft\r\n"), "%s", o.out);
    weft_test_output_free(&o);
    cr_assert_eq(weft_test_proc_finish(&web, SIGTERM), 0, "%s", web.text);
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    char line[1024] = "";
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    /* 127.0.0.1 - - [26/Nov/2026:01:02:03 +0000] "GET /hello.txt HTTP/1.1" 200 20 "http://ref.example/" "test-agent/1" */
    cr_assert(strncmp(line, "127.0.0.1 - - [", 15) == 0, "%s", line);
    cr_assert(strstr(line, "] \"GET /hello.txt HTTP/1.1\" 200 20 \"http://ref.example/\" \"test-agent/1\""), "%s",
              line);
    remove_tree(&t);
}

/* An upstream that answers every request with what it received: method,
 * path and headers, one per line, then the body's length. */
static const char upstream_py[] =
    "import http.server, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *a): pass\n"
    "    def answer(self):\n"
    "        n = 0\n"
    "        if self.headers.get('Transfer-Encoding', '') == 'chunked':\n"
    "            while True:\n"
    "                size = int(self.rfile.readline().strip(), 16)\n"
    "                if size == 0:\n"
    "                    self.rfile.readline(); break\n"
    "                n += len(self.rfile.read(size)); self.rfile.readline()\n"
    "        else:\n"
    "            n = len(self.rfile.read(int(self.headers.get('Content-Length', 0))))\n"
    "        lines = [self.command + ' ' + self.path] + [k + ': ' + v for k, v in self.headers.items()]\n"
    "        body = ('\\n'.join(lines) + '\\nbody-length: %d\\n' % n).encode()\n"
    "        self.send_response(201 if self.command == 'POST' else 200)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.send_header('X-Upstream', 'python')\n"
    "        self.send_header('Connection', 'X-Hop')\n"
    "        self.send_header('X-Hop', 'dropped')\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    do_GET = do_POST = do_PUT = answer\n"
    "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "print('listening on upstream (127.0.0.1:%d)' % s.server_address[1], flush=True)\n"
    "s.serve_forever()\n";

WEFT_TEST(web, proxies_to_an_upstream_with_forwarding_headers, .timeout = 60)
{
    weft_test_proc up;
    char *uargv[] = {"/usr/bin/python3", "-c", (char *)upstream_py, NULL};
    weft_test_proc_spawn(&up, uargv);
    int up_port = weft_test_proc_port(&up);
    char spec[128];
    snprintf(spec, sizeof spec, "/api=tcp:host=127.0.0.1:port=%d", up_port);
    weft_test_proc web;
    char *argv[] = {WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--proxy", spec, NULL};
    weft_test_proc_spawn(&web, argv);
    int port = weft_test_proc_port(&web);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/users?id=7", port);
    weft_test_output o = curl((const char *[]){"-i", "-H", "X-Forwarded-For: 10.1.2.3", "-H",
                                               "Connection: keep-alive, X-Secret", "-H", "X-Secret: hop",
                                               "-H", "X-Kept: end-to-end", url, NULL});
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert(strstr(o.out, "HTTP/1.1 200 OK"), "%s", o.out);
    cr_assert(strstr(o.out, "X-Upstream: python"), "%s", o.out);
    cr_assert_null(strstr(o.out, "X-Hop"), "hop-by-hop response headers are dropped:\n%s", o.out);
    cr_assert(strstr(o.out, "GET /users?id=7\n"), "%s", o.out);
    cr_assert(strstr(o.out, "X-Forwarded-For: 10.1.2.3, 127.0.0.1\n"), "%s", o.out);
    cr_assert(strstr(o.out, "X-Forwarded-Proto: http\n"), "%s", o.out);
    cr_assert(strstr(o.out, "X-Kept: end-to-end\n"), "%s", o.out);
    cr_assert_null(strstr(o.out, "X-Secret"), "headers named by Connection are dropped:\n%s", o.out);
    weft_test_output_free(&o);

    /* A chunked upload streams through: the upstream sees the whole body. */
    char *body = malloc(1 << 20);
    memset(body, 'u', 1 << 20);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/upload", port);
    char *pargv[] = {"curl", "-sS", "--max-time", "20", "-i", "-H", "Transfer-Encoding: chunked", "--data-binary",
                     "@-", url, NULL};
    o = weft_test_run(pargv, body, 1 << 20, 30);
    free(body);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert(strstr(o.out, "HTTP/1.1 201 Created"), "%s", o.out);
    cr_assert(strstr(o.out, "POST /upload\n"), "%s", o.out);
    cr_assert(strstr(o.out, "body-length: 1048576\n"), "%s", o.out);
    weft_test_output_free(&o);

    /* Nothing listens there any more: 502. */
    cr_assert_eq(weft_test_proc_finish(&up, SIGTERM), 128 + SIGTERM);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/gone", port);
    o = curl((const char *[]){"-i", url, NULL});
    cr_assert(strstr(o.out, "HTTP/1.1 502 Bad Gateway"), "%s", o.out);
    weft_test_output_free(&o);
    cr_assert_eq(weft_test_proc_finish(&web, SIGTERM), 0, "%s", web.text);
}

WEFT_TEST(web, https_with_alpn, .timeout = 60)
{
    weft_test_certs certs;
    weft_test_certs_make(&certs);
    tree t;
    make_tree(&t);
    char listen[512];
    snprintf(listen, sizeof listen, "tls:0:interface=127.0.0.1:privateKey=%s:certKey=%s", certs.server_key,
             certs.server_cert);
    weft_test_proc web;
    char *argv[] = {WEFT_CLI_PATH, "web", "--listen", listen, "--path", t.dir, NULL};
    weft_test_proc_spawn(&web, argv);
    int port = weft_test_proc_port(&web);
    char url[128], resolve[64];
    snprintf(url, sizeof url, "https://localhost:%d/big.bin", port);
    snprintf(resolve, sizeof resolve, "localhost:%d:127.0.0.1", port);
    char *cargv[] = {"curl", "-sS", "-v", "--max-time", "20", "--http1.1", "--cacert", certs.ca, "--resolve",
                     resolve, url, NULL};
    weft_test_output o = weft_test_run(cargv, NULL, 0, 30);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert(strstr(o.err, "ALPN: server accepted http/1.1") || strstr(o.err, "ALPN, server accepted to use http/1.1"),
              "%s", o.err);
    cr_assert_eq(o.out_len, 3 * 1024 * 1024);
    for (size_t i = 0; i < o.out_len; i += 1009)
        cr_assert_eq((unsigned char)o.out[i], (i * 131) & 0xff);
    weft_test_output_free(&o);
    cr_assert_eq(weft_test_proc_finish(&web, SIGTERM), 0, "%s", web.text);
    remove_tree(&t);
    weft_test_certs_remove(&certs);
}

WEFT_TEST(web, refuses_bad_usage)
{
    const char *bad[][6] = {
        {"web", NULL},
        {"web", "--proxy", "api=tcp:host=127.0.0.1:port=1", NULL},
        {"web", "--proxy", "/api=tcp:host=127.0.0.1", NULL},
        {"web", "--path", "/nonexistent/dir", NULL},
        {"web", "--path", "/tmp", "--add-header", "no colon", NULL},
        {"web", "--path", "/tmp", "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[8] = {WEFT_CLI_PATH};
        for (int k = 0; bad[i][k]; k++)
            argv[k + 1] = (char *)bad[i][k];
        weft_test_output o = weft_test_run(argv, NULL, 0, 20);
        cr_assert_eq(o.status, 2, "case %zu exited %d: %s", i, o.status, o.err);
        cr_assert(strstr(o.err, "weft web") || strstr(o.err, "usage"), "%s", o.err);
        weft_test_output_free(&o);
    }
}

/* SIGTERM with a keep-alive client idle: it is closed at once, not after
 * the grace period, and the command exits cleanly. */
WEFT_TEST(web, sigterm_closes_idle_keep_alive_connections, .timeout = 60)
{
    tree t;
    make_tree(&t);
    weft_test_proc web;
    char *argv[] = {WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--path", t.dir,
                    "--grace", "30", NULL};
    weft_test_proc_spawn(&web, argv);
    int port = weft_test_proc_port(&web);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char req[] = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    char buf[4096] = "";
    size_t got = 0;
    while (!strstr(buf, "hello from weft web\n")) {
        struct pollfd p = {fd, POLLIN, 0};
        cr_assert_gt(poll(&p, 1, 10000), 0);
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        cr_assert_gt(n, 0);
        got += (size_t)n;
        buf[got] = '\0';
    }
    /* The connection is idle and kept alive; now stop the server. */
    kill(web.pid, SIGTERM);
    struct pollfd p = {fd, POLLIN, 0};
    cr_assert_gt(poll(&p, 1, 20000), 0, "closed well before the 30 s grace");
    cr_assert_eq(read(fd, buf, sizeof buf), 0, "an orderly close");
    close(fd);
    cr_assert_eq(weft_test_proc_finish(&web, 0), 0, "%s", web.text);
    cr_assert_null(strstr(web.text, "grace period over"), "%s", web.text);
    remove_tree(&t);
}

/* Issue 10, defect 1: `weft web --path DIR --proxy /api=...` answered
 * /api/hello from DIR/api/hello; the upstream never saw the request. The
 * proxy's prefix is a child of the static root, and children come first. */
WEFT_TEST(web, a_proxy_mounted_under_a_static_directory_is_reached, .timeout = 60)
{
    tree t;
    make_tree(&t);
    char path[256];
    snprintf(path, sizeof path, "%s/api", t.dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/api/hello", t.dir);
    FILE *f = fopen(path, "w");
    fputs("from the directory, not the upstream\n", f);
    fclose(f);
    weft_test_proc up;
    char *uargv[] = {"/usr/bin/python3", "-c", (char *)upstream_py, NULL};
    weft_test_proc_spawn(&up, uargv);
    char spec[128];
    snprintf(spec, sizeof spec, "/api=tcp:host=127.0.0.1:port=%d", weft_test_proc_port(&up));
    weft_test_proc web;
    char *argv[] = {WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--path", t.dir, "--proxy", spec,
                    NULL};
    weft_test_proc_spawn(&web, argv);
    int port = weft_test_proc_port(&web);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/hello", port);
    weft_test_output o = curl((const char *[]){"-i", url, NULL});
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert(strstr(o.out, "X-Upstream: python"), "%s", o.out);
    cr_assert(strstr(o.out, "GET /hello\n"), "%s", o.out);
    cr_assert_null(strstr(o.out, "from the directory"), "%s", o.out);
    weft_test_output_free(&o);
    /* the rest of the tree is still the directory's */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello.txt", port);
    o = curl((const char *[]){url, NULL});
    cr_assert_str_eq(o.out, "hello from weft web\n");
    weft_test_output_free(&o);
    cr_assert_eq(weft_test_proc_finish(&web, SIGTERM), 0, "%s", web.text);
    cr_assert_eq(weft_test_proc_finish(&up, SIGTERM), 128 + SIGTERM);
    remove_tree(&t);
}

/* ---- SIGTERM with a request half in (issue 11) ---- */

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void send_text(int fd, const char *text)
{
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Reads until `needle` has come (or fails after 20 s). */
static void read_until(int fd, const char *needle)
{
    char buf[4096] = "";
    size_t got = 0;
    while (!strstr(buf, needle)) {
        struct pollfd p = {fd, POLLIN, 0};
        cr_assert_gt(poll(&p, 1, 20000), 0, "waiting for %s; got %s", needle, buf);
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        cr_assert_gt(n, 0, "waiting for %s; got %s", needle, buf);
        got += (size_t)n;
        buf[got] = '\0';
    }
}

/* Stops `web` with SIGTERM while fd's request is half in, past the grace
 * period: a clean exit, and nothing from AddressSanitizer (the binary is
 * built with it, as the tests are). */
static void stop_mid_request(weft_test_proc *web, int fd)
{
    int status = weft_test_proc_finish(web, SIGTERM);
    cr_assert_null(strstr(web->text, "AddressSanitizer"), "%s", web->text);
    cr_assert_null(strstr(web->text, "runtime error"), "%s", web->text);
    cr_assert_eq(status, 0, "exit status %d: %s", status, web->text);
    close(fd);
}

/* The grace period ended with a proxied POST's body still arriving and
 * the upstream silent: weft_http_reply_error freed the request, and the
 * connection's loss released it again. */
WEFT_TEST(web, sigterm_mid_proxied_body_is_a_clean_exit, .timeout = 60)
{
    /* an upstream that takes connections (the kernel's backlog) and never
     * answers */
    int up = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(up, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(up, 8), 0);
    cr_assert_eq(getsockname(up, (struct sockaddr *)&sa, &len), 0);
    char spec[128];
    snprintf(spec, sizeof spec, "/api=tcp:host=127.0.0.1:port=%d", ntohs(sa.sin_port));
    weft_test_proc web;
    char *argv[] = {WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--proxy", spec, "--grace", "0.5",
                    NULL};
    weft_test_proc_spawn(&web, argv);
    int fd = connect_to(weft_test_proc_port(&web));
    send_text(fd, "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
    /* the proxy has connected upstream: the request is under way */
    struct pollfd p = {up, POLLIN, 0};
    cr_assert_gt(poll(&p, 1, 20000), 0, "the proxy connects upstream");
    stop_mid_request(&web, fd);
    close(up);
}

/* The same with a static file's request mid-body (the file is answered
 * once the body is in) and with a request mid-headers. */
WEFT_TEST(web, sigterm_mid_static_body_or_mid_headers_is_a_clean_exit, .timeout = 60)
{
    tree t;
    make_tree(&t);
    char *argv[] = {WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--path", t.dir, "--grace", "0.5",
                    NULL};
    weft_test_proc web;
    weft_test_proc_spawn(&web, argv);
    int fd = connect_to(weft_test_proc_port(&web));
    send_text(fd, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n");
    read_until(fd, "HTTP/1.1 100 Continue\r\n\r\n"); /* the body is being read */
    send_text(fd, "abc");
    stop_mid_request(&web, fd);

    weft_test_proc_spawn(&web, argv);
    fd = connect_to(weft_test_proc_port(&web));
    /* one request answered (the server runs), the next one's head half in */
    send_text(fd, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    read_until(fd, "hello from weft web\n");
    send_text(fd, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n");
    stop_mid_request(&web, fd);
    remove_tree(&t);
}

/* ---- refusals over a raw socket ---- */

/* Reads until the server closes (or fails after 20 s); returns the bytes. */
static size_t read_to_close(int fd, char *buf, size_t size)
{
    size_t got = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        cr_assert_gt(poll(&p, 1, 20000), 0, "waiting for the close; got %.*s", (int)got, buf);
        ssize_t n = read(fd, buf + got, size - 1 - got);
        cr_assert_geq(n, 0);
        if (n == 0)
            break;
        got += (size_t)n;
        cr_assert_lt(got, size - 1, "more than expected: %.*s", (int)got, buf);
    }
    buf[got] = '\0';
    return got;
}

/* Issue 10: a HEAD request refused before it reached a handler got the
 * error page's body. "The HEAD method is identical to GET except that the
 * server MUST NOT send content in the response" (RFC 9110 9.3.2): the head
 * a GET would get, Content-Length included, and nothing after it. */
WEFT_TEST(web, a_head_request_refused_before_dispatch_gets_no_body, .timeout = 60)
{
    tree t;
    make_tree(&t);
    char *argv[] = {WEFT_CLI_PATH, "web", "--listen", "tcp:0:interface=127.0.0.1", "--path", t.dir, NULL};
    weft_test_proc web;
    weft_test_proc_spawn(&web, argv);
    int port = weft_test_proc_port(&web);
    static const char *const refused[] = {
        "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",             /* 400, llhttp's */
        "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",                /* 400, weft's */
        "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", /* 501 */
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        int fd = connect_to(port);
        send_text(fd, refused[i]);
        char buf[4096];
        size_t n = read_to_close(fd, buf, sizeof buf);
        close(fd);
        cr_assert(strncmp(buf, "HTTP/1.1 40", 11) == 0 || strncmp(buf, "HTTP/1.1 501 ", 13) == 0, "%s", buf);
        cr_assert(strstr(buf, "\r\nContent-Length: "), "%s", buf);
        const char *end = strstr(buf, "\r\n\r\n");
        cr_assert(end && end + 4 == buf + n, "case %zu: nothing may follow the head: %s", i, buf);
    }
    /* a GET refused the same way still gets its page */
    int fd = connect_to(port);
    send_text(fd, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    char buf[4096];
    read_to_close(fd, buf, sizeof buf);
    close(fd);
    cr_assert(strstr(buf, "\r\n\r\n<!DOCTYPE html>") || strstr(buf, "\r\n\r\n<html>"), "%s", buf);
    cr_assert_eq(weft_test_proc_finish(&web, SIGTERM), 0, "%s", web.text);
    remove_tree(&t);
}
