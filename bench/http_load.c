/* SPDX-License-Identifier: MIT */
/*
 * A small HTTP/1.1 client for the HTTP benchmarks (bench/http/run), written
 * on raw sockets and epoll (no weft) so that what it measures is the server.
 * wrk does the timed runs; this does what wrk cannot:
 *
 *   http_load port
 *       Prints a TCP port free on 127.0.0.1, chosen below the ephemeral
 *       range (so no client connection can take it before the server does).
 *
 *   http_load get --port P [--path /]
 *       One GET, connects retried for up to 30 s (a server under valgrind
 *       starts slowly); writes the status code on stderr's last line and the
 *       body (Content-Length, chunked, or up to the close) on stdout. Fails
 *       unless the status is 200.
 *
 *   http_load run --port P [--path /] [--conns 10] --count N
 *       Exactly N keep-alive GETs in all over CONNS connections, each
 *       connection sending its next request once the previous response is
 *       whole (no pipelining); every response must be a 200 and keep the
 *       connection open. What callgrind runs need: the same work every time.
 *       Prints  requests=N secs=S
 *
 * Talks to 127.0.0.1 only; a silent server fails the run after 30 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

enum { STALL_MS = 30000 };

static void die_errno(const char *what)
{
    fprintf(stderr, "http_load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void die(const char *why)
{
    fprintf(stderr, "http_load: %s\n", why);
    exit(1);
}

/* ---- port ---- */

static int free_port(void)
{
    uint64_t seed = (uint64_t)bench_now_ns() ^ ((uint64_t)getpid() << 32);
    for (int attempt = 0; attempt < 1000; attempt++) {
        int port = 20000 + (int)(bench_rand(&seed) % 12000); /* 20000..31999 */
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die_errno("socket");
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 1) == 0;
        close(fd);
        if (ok) {
            printf("%d\n", port);
            return 0;
        }
    }
    die("no free port in 20000-31999");
    return 1;
}

/* ---- connections ---- */

/* A blocking TCP connection to 127.0.0.1:port with Nagle off; refused
 * connects are retried for up to `patience` seconds. */
static int connect_to(int port, double patience)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double give_up = bench_now() + patience;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die_errno("socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        int err = errno;
        close(fd);
        if (err != ECONNREFUSED || bench_now() > give_up) {
            errno = err;
            die_errno("connect");
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die_errno("write");
        }
        p += w;
        n -= (size_t)w;
    }
}

/* ---- responses ---- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void buf_reserve(buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p)
        die("out of memory");
    b->cap = cap;
}

static void buf_add(buf *b, const char *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

typedef struct response {
    int status;
    bool close; /* Connection: close, or HTTP/1.0 without keep-alive */
    bool until_close; /* no length: the body runs to the close */
    size_t head;      /* bytes of status line and headers */
} response;

static const char *find(const char *p, size_t n, const char *what)
{
    return memmem(p, n, what, strlen(what));
}

/* A header's value (trimmed) into out, or false. Names compared without case. */
static bool header(const char *head, size_t n, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    const char *line = find(head, n, "\r\n");
    while (line && (size_t)(line - head) + 2 < n) {
        line += 2;
        const char *end = find(line, n - (size_t)(line - head), "\r\n");
        if (!end || end == line)
            return false;
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(end - v);
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl >= outsz)
                vl = outsz - 1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return true;
        }
        line = end;
    }
    return false;
}

/*
 * Parses the response at the start of p[0..n): returns its whole length once
 * it is complete (appending its decoded body to body when not NULL), 0 while
 * more is needed. Dies on what it cannot parse.
 */
static size_t parse_response(const char *p, size_t n, response *rs, buf *body)
{
    const char *eoh = find(p, n, "\r\n\r\n");
    if (!eoh) {
        if (n > 65536)
            die("response headers over 64 KiB");
        return 0;
    }
    size_t head = (size_t)(eoh - p) + 4;
    int minor = 0;
    if (sscanf(p, "HTTP/1.%d %d", &minor, &rs->status) != 2)
        die("not an HTTP/1.x response");
    rs->head = head;
    char v[128];
    bool keep = minor >= 1;
    if (header(p, head, "Connection", v, sizeof v)) {
        if (strcasestr(v, "close"))
            keep = false;
        else if (strcasestr(v, "keep-alive"))
            keep = true;
    }
    rs->close = !keep;
    rs->until_close = false;
    if (header(p, head, "Transfer-Encoding", v, sizeof v) && strcasestr(v, "chunked")) {
        size_t at = head;
        for (;;) {
            const char *eol = find(p + at, n - at, "\r\n");
            if (!eol)
                return 0;
            char *endp;
            unsigned long long size = strtoull(p + at, &endp, 16);
            if (endp == p + at)
                die("bad chunk size");
            at = (size_t)(eol - p) + 2;
            if (size == 0) {
                /* trailers, then an empty line */
                for (;;) {
                    const char *t = find(p + at, n - at, "\r\n");
                    if (!t)
                        return 0;
                    bool empty = t == p + at;
                    at = (size_t)(t - p) + 2;
                    if (empty)
                        return at;
                }
            }
            if (n - at < size + 2)
                return 0;
            if (body)
                buf_add(body, p + at, (size_t)size);
            at += (size_t)size + 2;
        }
    }
    if (header(p, head, "Content-Length", v, sizeof v)) {
        size_t cl = (size_t)strtoull(v, NULL, 10);
        if (n - head < cl)
            return 0;
        if (body)
            buf_add(body, p + head, cl);
        return head + cl;
    }
    if (rs->status == 204 || rs->status == 304)
        return head;
    rs->until_close = true;
    rs->close = true;
    return 0; /* the caller reads to the close */
}

static int request(char *out, size_t outsz, int port, const char *path)
{
    int n = snprintf(out, outsz, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    if (n < 0 || (size_t)n >= outsz)
        die("path too long");
    return n;
}

/* ---- get ---- */

static int run_get(int port, const char *path)
{
    char req[1024];
    int rl = request(req, sizeof req, port, path);
    int fd = connect_to(port, 30);
    struct timeval tv = {STALL_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    write_all(fd, req, (size_t)rl);
    buf in = {0}, body = {0};
    response rs = {0};
    size_t whole = 0;
    for (;;) {
        buf_reserve(&in, 65536);
        ssize_t r = read(fd, in.p + in.len, in.cap - in.len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die_errno("read");
        }
        if (r == 0) {
            if (rs.until_close) {
                buf_add(&body, in.p + rs.head, in.len - rs.head);
                break;
            }
            die("the server closed the connection before the response was whole");
        }
        in.len += (size_t)r;
        if (!rs.until_close && (whole = parse_response(in.p, in.len, &rs, &body)) > 0)
            break;
    }
    (void)whole;
    close(fd);
    fwrite(body.p ? body.p : "", 1, body.len, stdout);
    fflush(stdout);
    fprintf(stderr, "status=%d\n", rs.status);
    free(in.p);
    free(body.p);
    return rs.status == 200 ? 0 : 1;
}

/* ---- run ---- */

typedef struct conn {
    int fd;
    buf in;
} conn;

static int run_many(int port, const char *path, size_t nconns, uint64_t count)
{
    char req[1024];
    int rl = request(req, sizeof req, port, path);
    conn *conns = bench_alloc(nconns, sizeof *conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die_errno("epoll_create1");
    uint64_t sent = 0, done = 0;
    double start = bench_now();
    for (size_t i = 0; i < nconns; i++) {
        conn *c = &conns[i];
        c->fd = connect_to(port, 30);
        if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0)
            die_errno("fcntl");
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            die_errno("epoll_ctl");
        if (sent < count) {
            write_all(c->fd, req, (size_t)rl);
            sent++;
        }
    }
    struct epoll_event evs[256];
    double last_progress = bench_now();
    while (done < count) {
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_errno("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            buf_reserve(&c->in, 16384);
            ssize_t r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                die_errno("read");
            }
            if (r == 0)
                die("the server closed a keep-alive connection");
            c->in.len += (size_t)r;
            response rs = {0};
            size_t whole = parse_response(c->in.p, c->in.len, &rs, NULL);
            if (rs.until_close)
                die("a response without a length (it would close the connection)");
            if (whole == 0)
                continue;
            if (rs.status != 200) {
                fprintf(stderr, "http_load: status %d\n", rs.status);
                exit(1);
            }
            if (rs.close)
                die("the server asked to close a keep-alive connection");
            if (whole != c->in.len)
                die("bytes after a response that no request asked for");
            c->in.len = 0;
            done++;
            last_progress = bench_now();
            if (sent < count) {
                write_all(c->fd, req, (size_t)rl);
                sent++;
            }
        }
        if (bench_now() - last_progress > STALL_MS / 1000.0)
            die("no response for 30 s");
    }
    double secs = bench_now() - start;
    for (size_t i = 0; i < nconns; i++) {
        close(conns[i].fd);
        free(conns[i].in.p);
    }
    close(ep);
    free(conns);
    printf("requests=%llu secs=%.3f\n", (unsigned long long)done, secs);
    return 0;
}

/* ---- main ---- */

static void usage(void)
{
    fputs("usage: http_load port\n"
          "       http_load get --port P [--path /]\n"
          "       http_load run --port P [--path /] [--conns N] --count N\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    if (strcmp(mode, "port") == 0) {
        if (argc != 2)
            usage();
        return free_port();
    }
    bool get = strcmp(mode, "get") == 0;
    if (!get && strcmp(mode, "run") != 0)
        usage();
    int port = 0;
    const char *path = "/";
    size_t conns = 10;
    uint64_t count = 0;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        const char *opt = argv[i], *val = argv[++i];
        if (strcmp(opt, "--port") == 0)
            port = atoi(val);
        else if (strcmp(opt, "--path") == 0)
            path = val;
        else if (strcmp(opt, "--conns") == 0)
            conns = (size_t)atol(val);
        else if (strcmp(opt, "--count") == 0)
            count = (uint64_t)atoll(val);
        else
            usage();
    }
    if (port <= 0 || port > 65535 || path[0] != '/' || conns < 1 || (!get && count < 1))
        usage();
    return get ? run_get(port, path) : run_many(port, path, conns, count);
}
