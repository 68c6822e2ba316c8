/* SPDX-License-Identifier: MIT */
/*
 * The load generator for the echo benchmarks, written on raw epoll (no weft,
 * no libuv) so that what it measures is the server. Two modes:
 *
 *   echo_load ping --port P [--conns 100] [--size 64]
 *                  [--warmup 1] [--duration 5] | [--count N]
 *       Closed loop: each connection sends a message, waits for the whole
 *       echo (checked byte for byte), sends the next. Every round trip's
 *       time goes into a histogram of 100 ns buckets. With --duration, runs
 *       the warm-up, forgets it, then measures for the duration; with
 *       --count, does exactly N round trips in all (no warm-up), closes every
 *       connection and stops - what callgrind and strace runs need. Prints
 *         msgs_per_s=X p50_us=Y p99_us=Z round_trips=N
 *
 *   echo_load idle --port P --pid PID [--conns 10000]
 *       Reads the server's VmRSS, opens the connections (in batches, each
 *       proved accepted by a one-byte echo), reads VmRSS again and prints
 *         rss_before_kib=A rss_after_kib=B bytes_per_conn=C
 *
 *   echo_load flood --port P --pid PID [--bytes 134217728]
 *       Backpressure: one connection sends and reads nothing until its
 *       socket takes no more for 2 s (the server has stopped reading) or
 *       all is sent; reads the server's VmRSS before and then; then sends
 *       the rest while reading everything back (checked byte for byte, and
 *       the server's EOF after it). Prints
 *         unread_bytes=S rss_before_kib=A rss_after_kib=B growth_kib=C
 *
 * Talks to 127.0.0.1 only. Every wait is bounded (connects are retried for
 * at most 10 s, a silent server fails the run after 10 s).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

enum {
    MAX_SIZE = 4096,
    HIST_BUCKETS = 1000000, /* 100 ns each: up to 100 ms, then the last */
    HIST_NS = 100,
    BATCH = 100,
    STALL_MS = 10000,
};

static void die_errno(const char *what)
{
    fprintf(stderr, "echo_load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void raise_nofile(size_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die_errno("getrlimit");
    if (rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max >= need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < need) {
        fprintf(stderr, "echo_load: need %zu descriptors, the limit is %lu (raise it with ulimit -n)\n", need,
                (unsigned long)rl.rlim_cur);
        exit(1);
    }
}

/* A blocking TCP connection to 127.0.0.1:port with Nagle off; refused
 * connects are retried for up to 10 s (a server under valgrind starts slowly). */
static int connect_to(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double give_up = bench_now() + 10;
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
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* ---- ping ---- */

typedef struct conn {
    int fd;
    bool busy;       /* a message is out */
    size_t got;      /* bytes of its echo received */
    int64_t sent_ns; /* when it was sent */
    uint64_t seq;
    unsigned char msg[MAX_SIZE];
} conn;

typedef struct ping {
    size_t size;
    uint32_t *hist;
    uint64_t done;    /* round trips completed (and recorded) */
    uint64_t started; /* messages sent */
} ping;

static void send_msg(ping *pg, conn *c, int64_t now)
{
    c->seq++;
    memcpy(c->msg, &c->seq, sizeof c->seq < pg->size ? sizeof c->seq : pg->size);
    ssize_t n = write(c->fd, c->msg, pg->size);
    if (n < 0)
        die_errno("write");
    if ((size_t)n != pg->size) {
        /* Never happens with small messages on an empty socket. */
        fprintf(stderr, "echo_load: short write (%zd of %zu)\n", n, pg->size);
        exit(1);
    }
    c->busy = true;
    c->got = 0;
    c->sent_ns = now;
    pg->started++;
}

static double percentile_us(const uint32_t *hist, uint64_t total, double q)
{
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)total + 0.999999), seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= want)
            return (double)((i + 1) * HIST_NS) / 1e3; /* the bucket's upper edge */
    }
    return (double)HIST_BUCKETS * HIST_NS / 1e3;
}

static int run_ping(int port, size_t nconns, size_t size, double warmup, double duration, uint64_t count)
{
    raise_nofile(nconns + 16);
    ping pg = {.size = size, .hist = bench_alloc(HIST_BUCKETS, sizeof(uint32_t))};
    conn *conns = bench_alloc(nconns, sizeof *conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die_errno("epoll_create1");
    for (size_t i = 0; i < nconns; i++) {
        conn *c = &conns[i];
        c->fd = connect_to(port);
        if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0)
            die_errno("fcntl");
        for (size_t k = 0; k < size; k++)
            c->msg[k] = (unsigned char)(i * 31 + k);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            die_errno("epoll_ctl");
    }

    int64_t now = bench_now_ns();
    int64_t measure_from = count ? now : now + (int64_t)(warmup * 1e9);
    int64_t stop_at = count ? INT64_MAX : measure_from + (int64_t)(duration * 1e9);
    bool measuring = count != 0;
    for (size_t i = 0; i < nconns && (!count || pg.started < count); i++)
        send_msg(&pg, &conns[i], now);

    unsigned char buf[MAX_SIZE];
    struct epoll_event evs[256];
    int64_t last_progress = now;
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_errno("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, buf, size - c->got);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                die_errno("read");
            }
            if (r == 0 || !c->busy) {
                fprintf(stderr, "echo_load: the server %s\n", r == 0 ? "closed a connection" : "sent unasked bytes");
                exit(1);
            }
            if (memcmp(buf, c->msg + c->got, (size_t)r) != 0) {
                fprintf(stderr, "echo_load: the echo differs from the message\n");
                exit(1);
            }
            c->got += (size_t)r;
            if (c->got < size)
                continue;
            c->busy = false;
            now = bench_now_ns();
            last_progress = now;
            if (measuring) {
                int64_t b = (now - c->sent_ns) / HIST_NS;
                pg.hist[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++;
                pg.done++;
            }
            if (!count || pg.started < count)
                send_msg(&pg, c, now);
        }
        now = bench_now_ns();
        if (count && pg.done >= count)
            break;
        if (!measuring && now >= measure_from) {
            memset(pg.hist, 0, HIST_BUCKETS * sizeof(uint32_t));
            measuring = true;
        }
        if (now >= stop_at)
            break;
        if (now - last_progress > (int64_t)STALL_MS * 1000000) {
            fprintf(stderr, "echo_load: no echo for %d s\n", STALL_MS / 1000);
            exit(1);
        }
    }
    double secs = (double)(now - measure_from) / 1e9;
    for (size_t i = 0; i < nconns; i++)
        close(conns[i].fd);
    close(ep);
    printf("msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f round_trips=%llu\n", secs > 0 ? (double)pg.done / secs : 0,
           percentile_us(pg.hist, pg.done, 0.50), percentile_us(pg.hist, pg.done, 0.99), (unsigned long long)pg.done);
    free(conns);
    free(pg.hist);
    return 0;
}

/* ---- idle ---- */

static int run_idle(int port, size_t nconns, long pid)
{
    raise_nofile(nconns + 16);
    long before = bench_proc_status_kib(pid, "VmRSS");
    if (before < 0) {
        fprintf(stderr, "echo_load: cannot read VmRSS of process %ld\n", pid);
        return 1;
    }
    int *fds = bench_alloc(nconns, sizeof *fds);
    struct timeval tv = {STALL_MS / 1000, 0};
    for (size_t i = 0; i < nconns; i += BATCH) {
        size_t end = i + BATCH < nconns ? i + BATCH : nconns;
        for (size_t k = i; k < end; k++) {
            fds[k] = connect_to(port);
            setsockopt(fds[k], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        }
        /* One byte there and back: the server has accepted them all. */
        for (size_t k = i; k < end; k++)
            if (write(fds[k], "x", 1) != 1)
                die_errno("write");
        for (size_t k = i; k < end; k++) {
            char c;
            if (read(fds[k], &c, 1) != 1 || c != 'x')
                die_errno("read (no echo)");
        }
    }
    long after = bench_proc_status_kib(pid, "VmRSS");
    if (after < 0) {
        fprintf(stderr, "echo_load: process %ld went away\n", pid);
        return 1;
    }
    printf("rss_before_kib=%ld rss_after_kib=%ld bytes_per_conn=%.0f\n", before, after,
           (double)(after - before) * 1024.0 / (double)nconns);
    for (size_t i = 0; i < nconns; i++)
        close(fds[i]);
    free(fds);
    return 0;
}

/* ---- flood ---- */

enum { FLOOD_CHUNK = 64 * 1024, FLOOD_STALL_MS = 2000 };

/* The byte at offset i of the flood: a function of the offset, so the echo
 * is checked without keeping what was sent. */
static unsigned char flood_byte(uint64_t i)
{
    uint64_t z = (i >> 3) * UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 29)) * UINT64_C(0xbf58476d1ce4e5b9);
    return (unsigned char)((z ^ (z >> 32)) >> (8 * (i & 7)));
}

typedef struct flood_conn {
    int fd;
    uint64_t total, sent, got;
    unsigned char out[FLOOD_CHUNK];
    size_t out_len, out_off;
} flood_conn;

/* Sends what the socket takes; returns false when it takes nothing now. */
static bool flood_send(flood_conn *f)
{
    if (f->out_off == f->out_len) {
        uint64_t left = f->total - f->sent;
        f->out_len = left < FLOOD_CHUNK ? (size_t)left : FLOOD_CHUNK;
        for (size_t k = 0; k < f->out_len; k++)
            f->out[k] = flood_byte(f->sent + k);
        f->out_off = 0;
    }
    ssize_t n = send(f->fd, f->out + f->out_off, f->out_len - f->out_off, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        die_errno("send");
    if (n <= 0)
        return false;
    f->out_off += (size_t)n;
    f->sent += (uint64_t)n;
    if (f->sent == f->total && shutdown(f->fd, SHUT_WR) < 0)
        die_errno("shutdown");
    return true;
}

static int run_flood(int port, uint64_t bytes, long pid)
{
    static flood_conn f;
    f.total = bytes;
    long before = bench_proc_status_kib(pid, "VmRSS");
    if (before < 0) {
        fprintf(stderr, "echo_load: cannot read VmRSS of process %ld\n", pid);
        return 1;
    }
    f.fd = connect_to(port);
    if (fcntl(f.fd, F_SETFL, O_NONBLOCK) < 0)
        die_errno("fcntl");
    while (f.sent < f.total) {
        if (flood_send(&f))
            continue;
        struct pollfd pfd = {f.fd, POLLOUT, 0};
        if (poll(&pfd, 1, FLOOD_STALL_MS) == 0)
            break;
    }
    uint64_t unread = f.sent;
    long after = bench_proc_status_kib(pid, "VmRSS");
    if (after < 0) {
        fprintf(stderr, "echo_load: process %ld went away\n", pid);
        return 1;
    }
    unsigned char in[FLOOD_CHUNK];
    for (;;) {
        struct pollfd pfd = {f.fd, (short)(POLLIN | (f.sent < f.total ? POLLOUT : 0)), 0};
        int n = poll(&pfd, 1, STALL_MS);
        if (n < 0 && errno != EINTR)
            die_errno("poll");
        if (n == 0) {
            fprintf(stderr, "echo_load: no echo for %d s after %llu bytes\n", STALL_MS / 1000,
                    (unsigned long long)f.got);
            exit(1);
        }
        if (pfd.revents & POLLOUT)
            flood_send(&f);
        if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t r = recv(f.fd, in, sizeof in, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0)
            die_errno("recv");
        if (r == 0)
            break;
        for (ssize_t k = 0; k < r; k++) {
            if (f.got + (uint64_t)k >= f.total || in[k] != flood_byte(f.got + (uint64_t)k)) {
                fprintf(stderr, "echo_load: the echo differs at byte %llu\n", (unsigned long long)(f.got + (uint64_t)k));
                exit(1);
            }
        }
        f.got += (uint64_t)r;
    }
    if (f.got != f.total) {
        fprintf(stderr, "echo_load: %llu bytes came back of %llu\n", (unsigned long long)f.got,
                (unsigned long long)f.total);
        exit(1);
    }
    close(f.fd);
    printf("unread_bytes=%llu rss_before_kib=%ld rss_after_kib=%ld growth_kib=%ld\n", (unsigned long long)unread, before,
           after, after - before);
    return 0;
}

/* ---- main ---- */

static void usage(void)
{
    fputs("usage: echo_load ping --port P [--conns N] [--size BYTES] [--warmup S] [--duration S] [--count N]\n"
          "       echo_load idle --port P --pid PID [--conns N]\n"
          "       echo_load flood --port P --pid PID [--bytes N]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    bool idle = strcmp(mode, "idle") == 0, flood = strcmp(mode, "flood") == 0;
    if (!idle && !flood && strcmp(mode, "ping") != 0)
        usage();
    int port = 0;
    long pid = 0;
    size_t conns = idle ? 10000 : 100, size = 64;
    double warmup = 1, duration = 5;
    uint64_t count = 0, bytes = UINT64_C(128) << 20;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        const char *opt = argv[i], *val = argv[++i];
        if (strcmp(opt, "--port") == 0)
            port = atoi(val);
        else if (strcmp(opt, "--pid") == 0)
            pid = atol(val);
        else if (strcmp(opt, "--conns") == 0)
            conns = (size_t)atol(val);
        else if (strcmp(opt, "--size") == 0)
            size = (size_t)atol(val);
        else if (strcmp(opt, "--warmup") == 0)
            warmup = atof(val);
        else if (strcmp(opt, "--duration") == 0)
            duration = atof(val);
        else if (strcmp(opt, "--count") == 0)
            count = (uint64_t)atoll(val);
        else if (strcmp(opt, "--bytes") == 0)
            bytes = (uint64_t)atoll(val);
        else
            usage();
    }
    if (port <= 0 || port > 65535 || conns < 1 || size < 1 || size > MAX_SIZE || warmup < 0 || duration <= 0 ||
        ((idle || flood) && pid <= 0) || bytes < 1)
        usage();
    if (flood)
        return run_flood(port, bytes, pid);
    return idle ? run_idle(port, conns, pid) : run_ping(port, conns, size, warmup, duration, count);
}
