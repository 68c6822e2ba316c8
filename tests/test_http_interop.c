/* SPDX-License-Identifier: MIT */
/* The HTTP server against real clients, each run as a child process of the
 * test (and reaped by it) on 127.0.0.1 at the port the server got from port
 * 0: curl, ab, wrk, h2load, Python's http.client and Twisted's Agent. Every
 * run is small and bounded by the client's own timeout and ours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "certs.h"
#include "test.h"

typedef struct srv {
    char file[64]; /* a file /file serves */
    weft_reactor *r;
    weft_http_server *s;
    weft_port *port;
    weft_tls_context *tls;
    weft_factory *tls_factory;
    int portno;
    char base[64]; /* http://127.0.0.1:PORT */
} srv;

static void hello(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_http_reply(req, 200, "text/plain", "Hello, World!", 13);
}

/* Answers "got N sum S" for the body it read. */
static weft_result summed(void *arg, weft_result res)
{
    weft_http_request *req = arg;
    if (weft_failed(res)) {
        weft_http_reply_error(req, 400, NULL);
    } else {
        weft_bytes *b = res.value;
        unsigned long sum = 0;
        for (size_t i = 0; i < b->len; i++)
            sum += (unsigned char)b->data[i];
        char text[64];
        int n = snprintf(text, sizeof text, "got %zu sum %lu\n", b->len, sum);
        weft_http_reply(req, 200, "text/plain", text, (size_t)n);
    }
    weft_result_free(res);
    return weft_none();
}

static void sum_body(void *arg, weft_http_request *req)
{
    (void)arg;
    weft_deferred *d = weft_http_request_read_body(req);
    cr_assert_eq(weft_deferred_add_both(d, summed, req), 0);
    weft_deferred_unref(d);
}

/* Every other name is a leaf saying hello. */
static weft_http_resource *any_child(void *arg, weft_http_resource *parent, const char *seg, size_t len)
{
    (void)arg, (void)parent, (void)seg, (void)len;
    weft_http_resource *res = weft_http_resource_new();
    if (res) {
        weft_http_resource_on(res, "GET", hello, NULL);
        weft_http_resource_set_leaf(res, true);
    }
    return res;
}

/* /file/N: N bytes of a file, with weft_http_reply_send_file (sendfile). */
static void send_file(void *arg, weft_http_request *req)
{
    const char *path = arg;
    size_t len;
    const char *n = weft_http_request_postpath(req, 0, &len);
    unsigned long long size = n ? strtoull(n, NULL, 10) : 0;
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    char cl[32];
    snprintf(cl, sizeof cl, "%llu", size);
    weft_http_reply_set_header(req, "Content-Length", cl);
    cr_assert_eq(weft_http_reply_send_file(req, fd, 0, size), 0);
    weft_http_reply_finish(req);
}

static void secure(void *arg, weft_http_request *req)
{
    (void)arg;
    const char *text = weft_http_request_is_secure(req) ? "secure" : "plain";
    weft_http_reply(req, 200, "text/plain", text, strlen(text));
}

static void srv_start(srv *v)
{
    v->r = weft_test_reactor();
    weft_http_resource *root = weft_http_resource_new();
    weft_http_resource_on(root, "GET", hello, NULL);
    weft_http_resource_set_child_fn(root, any_child, NULL);
    cr_assert_eq(weft_http_resource_mount_handler(root, "/sum", sum_body, NULL), 0);
    cr_assert_eq(weft_http_resource_mount_handler(root, "/file", send_file, v->file), 0);
    cr_assert_eq(weft_http_resource_mount_handler(root, "/secure", secure, NULL), 0);
    v->s = weft_http_server_new(v->r, root, NULL);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    weft_listen_options lo = {.backlog = 256};
    weft_factory *f = weft_http_server_factory(v->s);
    if (v->tls) {
        v->tls_factory = weft_tls_factory_new(v->tls, f, NULL);
        cr_assert_not_null(v->tls_factory);
        f = v->tls_factory;
    }
    cr_assert_eq(weft_listen(v->r, &a, f, &lo, &v->port), 0);
    cr_assert_eq(weft_port_address(v->port, &a), 0);
    v->portno = weft_address_port(&a);
    snprintf(v->base, sizeof v->base, "%s://127.0.0.1:%d", v->tls ? "https" : "http", v->portno);
}

static void srv_stop(srv *v)
{
    weft_deferred *d = weft_port_stop(v->port);
    cr_assert_eq(weft_reactor_run_until(v->r, d, 10), 0);
    weft_deferred_unref(d);
    if (v->tls_factory)
        weft_tls_factory_free(v->tls_factory);
    weft_http_server_free(v->s);
    weft_reactor_iterate(v->r, 0);
    weft_tls_context_free(v->tls);
    weft_reactor_free(v->r);
}

/* Runs argv to its end while the server serves; the output is the caller's
 * (weft_process_output_free). */
static weft_process_output *run(srv *v, char *const argv[])
{
    weft_deferred *d = weft_process_output_of(v->r, argv[0], argv, NULL, false);
    cr_assert_not_null(d);
    cr_assert_eq(weft_reactor_run_until(v->r, d, 60), 0, "%s did not finish", argv[0]);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    cr_assert(!weft_failed(res), "%s: %s", argv[0], weft_failed(res) ? weft_failure_message(res.value) : "");
    weft_process_output *out = weft_result_take(&res);
    return out;
}

static char *url(const srv *v, const char *path)
{
    static char bufs[4][128];
    static int i;
    char *b = bufs[i++ % 4];
    snprintf(b, sizeof bufs[0], "%s%s", v->base, path);
    return b;
}

/* A temporary file of n bytes; returns its sum. */
static unsigned long temp_file(char *path, size_t n)
{
    strcpy(path, "/tmp/weft_http_interopXXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unsigned long sum = 0;
    char buf[4096];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof buf ? n - done : sizeof buf;
        for (size_t i = 0; i < k; i++) {
            buf[i] = (char)((done + i) * 7 % 251);
            sum += (unsigned char)buf[i];
        }
        cr_assert_eq(write(fd, buf, k), (ssize_t)k);
        done += k;
    }
    close(fd);
    return sum;
}

/* A temporary file of n bytes; returns its sum. */
static unsigned long temp_file(char *path, size_t n);

WEFT_TEST(http_interop, curl_sendfile)
{
    srv v = {0};
    unsigned long sum = temp_file(v.file, 20u << 20);
    (void)sum;
    srv_start(&v);
    char *argv[] = {"curl", "-s", "--max-time", "20", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{size_download} ",
                    url(&v, "/file/20971520"), url(&v, "/file/1000"), NULL};
    weft_process_output *o = run(&v, argv);
    unlink(v.file);
    cr_assert_eq(o->code, 0, "%s", o->err);
    cr_assert_str_eq(o->out, "200 20971520 200 1000 ");
    weft_process_output_free(o);
    srv_stop(&v);
}

WEFT_TEST(http_interop, curl_over_tls)
{
    weft_test_certs certs;
    weft_test_certs_make(&certs);
    srv v = {0};
    temp_file(v.file, 300000);
    weft_tls_options to = {.certificate = certs.server_cert, .private_key = certs.server_key};
    cr_assert_eq(weft_tls_server_context_new(&to, &v.tls, NULL), 0);
    srv_start(&v);
    char *argv[] = {"curl", "-sv", "--max-time", "20", "--cacert", certs.ca, "-o", "/dev/null", "-w",
                    "%{http_code} %{size_download} ", url(&v, "/file/300000"), url(&v, "/secure"), NULL};
    weft_process_output *o = run(&v, argv);
    unlink(v.file);
    cr_assert_eq(o->code, 0, "%s", o->err);
    cr_assert_str_eq(o->out, "200 300000 secure200 6 ", "%s", o->err);
    cr_assert(strstr(o->err, "Re-using existing connection"), "%s", o->err);
    weft_process_output_free(o);
    srv_stop(&v);
    weft_test_certs_remove(&certs);
}

WEFT_TEST(http_interop, curl_keep_alive)
{
    srv v = {0};
    srv_start(&v);
    char *argv[] = {"curl", "-sv", "--max-time", "10", url(&v, "/a"), url(&v, "/b"), NULL};
    weft_process_output *o = run(&v, argv);
    cr_assert_eq(o->code, 0, "%s", o->err);
    cr_assert_str_eq(o->out, "Hello, World!Hello, World!");
    cr_assert(strstr(o->err, "Re-using existing connection"), "%s", o->err);
    weft_process_output_free(o);
    srv_stop(&v);
}

WEFT_TEST(http_interop, curl_chunked_upload)
{
    srv v = {0};
    srv_start(&v);
    char path[64];
    unsigned long sum = temp_file(path, 300000);
    char want[64];
    snprintf(want, sizeof want, "got 300000 sum %lu\n", sum);
    char *argv[] = {"curl", "-sv", "--max-time", "10", "-H", "Transfer-Encoding: chunked", "-T", path,
                    url(&v, "/sum/up"), NULL};
    weft_process_output *o = run(&v, argv);
    unlink(path);
    cr_assert_eq(o->code, 0, "%s", o->err);
    cr_assert(strstr(o->err, "Transfer-Encoding: chunked"), "%s", o->err);
    cr_assert_str_eq(o->out, want);
    weft_process_output_free(o);
    srv_stop(&v);
}

WEFT_TEST(http_interop, curl_100_continue)
{
    srv v = {0};
    srv_start(&v);
    char path[64], data[80];
    unsigned long sum = temp_file(path, 5000);
    snprintf(data, sizeof data, "@%s", path);
    char want[64];
    snprintf(want, sizeof want, "got 5000 sum %lu\n", sum);
    char *argv[] = {"curl",          "-sv", "--max-time", "10", "-H", "Expect: 100-continue", "--expect100-timeout",
                    "5",             "--data-binary",      data, url(&v, "/sum"), NULL};
    weft_process_output *o = run(&v, argv);
    unlink(path);
    cr_assert_eq(o->code, 0, "%s", o->err);
    cr_assert(strstr(o->err, "< HTTP/1.1 100 Continue"), "%s", o->err);
    cr_assert_str_eq(o->out, want);
    weft_process_output_free(o);
    srv_stop(&v);
}

WEFT_TEST(http_interop, ab_keep_alive)
{
    srv v = {0};
    srv_start(&v);
    char *argv[] = {"ab", "-q", "-k", "-s", "10", "-n", "300", "-c", "4", url(&v, "/"), NULL};
    weft_process_output *o = run(&v, argv);
    cr_assert_eq(o->code, 0, "%s%s", o->out, o->err);
    cr_assert(strstr(o->out, "Complete requests:      300"), "%s", o->out);
    cr_assert(strstr(o->out, "Failed requests:        0"), "%s", o->out);
    cr_assert(strstr(o->out, "Keep-Alive requests:    300"), "%s", o->out);
    cr_assert_null(strstr(o->out, "Non-2xx"), "%s", o->out);
    weft_process_output_free(o);
    srv_stop(&v);
}

WEFT_TEST(http_interop, wrk)
{
    srv v = {0};
    srv_start(&v);
    char *argv[] = {"wrk", "-d1s", "-c10", "-t1", "--timeout", "5s", url(&v, "/"), NULL};
    weft_process_output *o = run(&v, argv);
    cr_assert_eq(o->code, 0, "%s%s", o->out, o->err);
    cr_assert(strstr(o->out, "requests in"), "%s", o->out);
    cr_assert_null(strstr(o->out, "Non-2xx"), "%s", o->out);
    cr_assert_null(strstr(o->out, "Socket errors"), "%s", o->out);
    weft_process_output_free(o);
    srv_stop(&v);
}

WEFT_TEST(http_interop, h2load_h1)
{
    srv v = {0};
    srv_start(&v);
    char *argv[] = {"h2load", "--h1", "-n", "300", "-c", "4", "-T", "10", url(&v, "/"), NULL};
    weft_process_output *o = run(&v, argv);
    cr_assert_eq(o->code, 0, "%s%s", o->out, o->err);
    cr_assert(strstr(o->out, "300 succeeded, 0 failed, 0 errored"), "%s", o->out);
    cr_assert(strstr(o->out, "300 2xx"), "%s", o->out);
    weft_process_output_free(o);
    srv_stop(&v);
}

WEFT_TEST(http_interop, python_http_client)
{
    srv v = {0};
    srv_start(&v);
    char port[16];
    snprintf(port, sizeof port, "%d", v.portno);
    static const char script[] =
        "import http.client, sys\n"
        "c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=10)\n"
        "out = []\n"
        "for i in range(3):\n"
        "    c.request('GET', '/x%d' % i)\n"
        "    r = c.getresponse(); out.append('%d %s' % (r.status, r.read().decode()))\n"
        "c.request('POST', '/sum', body=b'abc', headers={'Content-Type': 'text/plain'})\n"
        "r = c.getresponse(); out.append('%d %s' % (r.status, r.read().decode().strip()))\n"
        "c.request('HEAD', '/')\n"
        "r = c.getresponse(); out.append('%d %s %r' % (r.status, r.getheader('Content-Length'), r.read()))\n"
        "c.request('DELETE', '/sum/x')\n"
        "r = c.getresponse(); out.append('%d %d' % (r.status, len(r.read())))\n"
        "c.request('PUT', '/')\n"
        "r = c.getresponse(); out.append('%d %s' % (r.status, r.getheader('Allow')))\n"
        "r.read(); c.close()\n"
        "print('|'.join(out))\n";
    char *argv[] = {"/usr/bin/python3", "-c", (char *)script, port, NULL};
    weft_process_output *o = run(&v, argv);
    cr_assert_eq(o->code, 0, "%s", o->err);
    cr_assert_str_eq(o->out, "200 Hello, World!|200 Hello, World!|200 Hello, World!|200 got 3 sum 294|"
                             "200 13 b''|200 12|405 GET, HEAD, OPTIONS\n");
    weft_process_output_free(o);
    srv_stop(&v);
}

WEFT_TEST(http_interop, twisted_agent)
{
    srv v = {0};
    srv_start(&v);
    static const char script[] =
        "import sys\n"
        "from twisted.internet import task, defer\n"
        "from twisted.web.client import Agent, HTTPConnectionPool, readBody\n"
        "from twisted.web.http_headers import Headers\n"
        "from twisted.web.client import FileBodyProducer\n"
        "from io import BytesIO\n"
        "@defer.inlineCallbacks\n"
        "def main(reactor, base):\n"
        "    pool = HTTPConnectionPool(reactor, persistent=True)\n"
        "    agent = Agent(reactor, pool=pool)\n"
        "    out = []\n"
        "    for path in (b'/', b'/again'):\n"
        "        r = yield agent.request(b'GET', base.encode() + path)\n"
        "        body = yield readBody(r)\n"
        "        out.append('%d %s' % (r.code, body.decode()))\n"
        "    r = yield agent.request(b'POST', base.encode() + b'/sum', Headers({}),\n"
        "                            FileBodyProducer(BytesIO(b'x' * 100000)))\n"
        "    body = yield readBody(r)\n"
        "    out.append('%d %s' % (r.code, body.decode().strip()))\n"
        "    r = yield agent.request(b'GET', base.encode() + b'/sum')\n"
        "    yield readBody(r)\n"
        "    out.append('%d' % r.code)\n"
        "    yield pool.closeCachedConnections()\n"
        "    print('|'.join(out))\n"
        "task.react(main, [sys.argv[1]])\n";
    char *argv[] = {"/usr/bin/python3", "-c", (char *)script, v.base, NULL};
    weft_process_output *o = run(&v, argv);
    cr_assert_eq(o->code, 0, "%s%s", o->out, o->err);
    cr_assert_str_eq(o->out, "200 Hello, World!|200 Hello, World!|200 got 100000 sum 12000000|200\n", "%s", o->err);
    weft_process_output_free(o);
    srv_stop(&v);
}
