/* SPDX-License-Identifier: MIT */
/*
 * The two ends of the bulk-transfer benchmarks, plain blocking sockets:
 *
 *   bulk sink [--port P] [--rate BYTES_PER_S] [--expect N]
 *       Listens on 127.0.0.1 (port 0: any free one; prints
 *       "bulk: listening on (127.0.0.1:PORT)" on stderr), accepts one
 *       connection, reads and discards until end of input - at most
 *       BYTES_PER_S a second when --rate is given, sleeping between reads -
 *       then closes and exits; 1 when it received other than N bytes.
 *
 *   bulk send --port P --bytes N
 *       Connects to 127.0.0.1:P, writes N bytes as fast as it can, shuts its
 *       writing side and waits for the other end to close: so the time
 *       covers every byte reaching the sink. Prints
 *         mb_per_s=X secs=Y   (MB = 10^6 bytes)
 *
 * Every wait is bounded: a peer silent for 60 s fails the run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

enum { CHUNK = 256 * 1024, SLOW_CHUNK = 64 * 1024, TIMEOUT_S = 60 };

static void die_errno(const char *what)
{
    fprintf(stderr, "bulk: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void set_timeout(int fd)
{
    struct timeval tv = {TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

static int sink(int port, double rate, long long expect)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die_errno("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = loopback(port);
    socklen_t len = sizeof sa;
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 16) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
        die_errno("listen");
    set_timeout(lfd); /* accept honours SO_RCVTIMEO */
    fprintf(stderr, "bulk: listening on (127.0.0.1:%d)\n", ntohs(sa.sin_port));
    fflush(stderr);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        die_errno("accept");
    close(lfd);
    set_timeout(fd);

    char *buf = bench_alloc(CHUNK, 1);
    size_t chunk = rate > 0 ? SLOW_CHUNK : CHUNK;
    long long got = 0;
    double t0 = bench_now();
    for (;;) {
        ssize_t n = read(fd, buf, chunk);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_errno("read");
        }
        got += n;
        if (rate > 0) {
            double ahead = (double)got / rate - (bench_now() - t0);
            if (ahead > 0) {
                struct timespec ts = {(time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
    }
    close(fd);
    free(buf);
    if (expect >= 0 && got != expect) {
        fprintf(stderr, "bulk: the sink received %lld bytes, not %lld\n", got, expect);
        return 1;
    }
    return 0;
}

static int send_bytes(int port, long long total)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die_errno("socket");
    struct sockaddr_in sa = loopback(port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die_errno("connect");
    set_timeout(fd);
    char *buf = bench_alloc(CHUNK, 1);
    for (size_t i = 0; i < CHUNK; i++)
        buf[i] = (char)(i * 7);
    double t0 = bench_now();
    long long left = total;
    while (left > 0) {
        ssize_t n = write(fd, buf, left < CHUNK ? (size_t)left : CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die_errno("write");
        }
        left -= n;
    }
    if (shutdown(fd, SHUT_WR) < 0)
        die_errno("shutdown");
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n == 0)
            break;
        if (n < 0 && errno != EINTR)
            die_errno("read (waiting for the far end to close)");
    }
    double secs = bench_now() - t0;
    close(fd);
    free(buf);
    printf("mb_per_s=%.1f secs=%.3f\n", (double)total / secs / 1e6, secs);
    return 0;
}

static void usage(void)
{
    fputs("usage: bulk sink [--port P] [--rate BYTES_PER_S] [--expect N]\n"
          "       bulk send --port P --bytes N\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    bool is_sink = strcmp(argv[1], "sink") == 0;
    if (!is_sink && strcmp(argv[1], "send") != 0)
        usage();
    int port = 0;
    double rate = 0;
    long long bytes = -1, expect = -1;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        const char *opt = argv[i], *val = argv[++i];
        if (strcmp(opt, "--port") == 0)
            port = atoi(val);
        else if (strcmp(opt, "--rate") == 0 && is_sink)
            rate = atof(val);
        else if (strcmp(opt, "--expect") == 0 && is_sink)
            expect = atoll(val);
        else if (strcmp(opt, "--bytes") == 0 && !is_sink)
            bytes = atoll(val);
        else
            usage();
    }
    if (port < 0 || port > 65535 || rate < 0)
        usage();
    if (is_sink)
        return sink(port, rate, expect);
    if (port == 0 || bytes <= 0)
        usage();
    return send_bytes(port, bytes);
}
