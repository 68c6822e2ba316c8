/* SPDX-License-Identifier: MIT */
/*
 * TLS echo throughput: one TLS connection (OpenSSL, blocking), 16 KiB
 * messages sent and their echoes read back, a window of 4 messages in
 * flight, for SECONDS after a one-second warm-up. Prints MB/s of echoed
 * data. Usage: tls_load PORT SECONDS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

enum { MSG = 16 * 1024, WINDOW = 4 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int read_all(SSL *ssl, char *buf, int n)
{
    for (int got = 0; got < n;) {
        int r = SSL_read(ssl, buf + got, n - got);
        if (r <= 0)
            return -1;
        got += r;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("tls_load: connect");
        return 1;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        fprintf(stderr, "tls_load: handshake failed\n");
        return 1;
    }
    char *out = malloc(MSG), *in = malloc(MSG);
    memset(out, 'x', MSG);
    for (int i = 0; i < WINDOW; i++)
        SSL_write(ssl, out, MSG);
    double seconds = atof(argv[2]), start = now(), measure_from = start + 1, end = measure_from + seconds;
    unsigned long long bytes = 0;
    for (double t = start; t < end; t = now()) {
        if (read_all(ssl, in, MSG) < 0 || SSL_write(ssl, out, MSG) != MSG) {
            fprintf(stderr, "tls_load: connection lost\n");
            return 1;
        }
        if (t >= measure_from)
            bytes += MSG;
    }
    printf("%.1f\n", bytes / seconds / 1e6);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    free(out);
    free(in);
    return 0;
}
