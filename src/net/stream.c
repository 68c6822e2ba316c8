/* SPDX-License-Identifier: MIT */
/*
 * The stream transport: TCP and UNIX stream sockets, and pipes (a child
 * process's standard streams). Reads go into
 * the reactor's shared read buffer (idle connections hold no read memory),
 * at most READS_PER_WAKEUP times per wake-up so one fast peer cannot starve
 * the others; writes go straight to sendmsg (MSG_NOSIGNAL: a closed peer is
 * an error, not a SIGPIPE).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stream.h"
#include "weft/alloc.h"
#include "weft/error.h"

enum { READS_PER_WAKEUP = 4 };

typedef struct stream {
    weft_transport base;
    int fd;
    bool tcp;
    bool sock;    /* a socket, not a pipe */
    bool reading; /* the reader is registered */
} stream;

static stream *S(const weft_transport *t)
{
    return (stream *)(void *)t;
}

static void on_readable(void *arg, int fd, unsigned events)
{
    (void)events;
    stream *s = arg;
    weft_transport *t = &s->base;
    size_t cap;
    char *buf = weft__reactor_read_buffer(t->r, &cap);
    if (!buf) {
        weft__transport_fail(t, WEFT_ENOMEM);
        return;
    }
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        ssize_t n = read(fd, buf, cap);
        if (n > 0) {
            t->stats->s.bytes_in += (size_t)n;
            weft__transport_data(t, buf, (size_t)n);
            if (!weft__transport_reading(t) || (size_t)n < cap)
                return;
        } else if (n == 0) {
            weft__transport_eof(t);
            return;
        } else if (errno == EAGAIN) {
            return;
        } else if (errno == EBADF && !S(t)->sock) {
            /* The write end of a pipe "reads" only when its reader is gone
             * (EPOLLERR/POLLERR): the child closed its stdin. */
            weft__transport_fail(t, -EPIPE);
            return;
        } else if (errno != EINTR) {
            weft__transport_fail(t, -errno);
            return;
        }
    }
}

static void on_writable(void *arg, int fd, unsigned events)
{
    (void)fd;
    (void)events;
    weft__transport_writable(&((stream *)arg)->base);
}

static ssize_t stream_send(weft_transport *t, const struct iovec *iov, int iovcnt)
{
    stream *s = S(t);
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    for (;;) {
        /* Pipes have no MSG_NOSIGNAL: process.c keeps SIGPIPE blocked in
         * the reactor's thread while it has children, so a closed pipe is
         * EPIPE here too. */
        ssize_t n = s->sock ? sendmsg(s->fd, &msg, MSG_NOSIGNAL) : writev(s->fd, iov, iovcnt);
        if (n >= 0) {
            t->stats->s.bytes_out += (size_t)n;
            return n;
        }
        if (errno == EAGAIN)
            return WEFT_EAGAIN;
        if (errno != EINTR)
            return -errno;
    }
}

/*
 * sendfile has no MSG_NOSIGNAL: sending to a connection the peer has reset
 * raises SIGPIPE - and not only when the call fails with EPIPE: when it has
 * moved some bytes first it returns their count, the signal raised all the
 * same. So the reactor's thread keeps SIGPIPE blocked from its first
 * sendfile until the reactor is freed (as process.c does while it has
 * children): a SIGPIPE raised meanwhile stays pending, harmless, and is
 * taken when a call fails with EPIPE or before the old mask comes back.
 * No system call per sendfile.
 * The slot's state says what the mask was: these two addresses.
 */
static const char sigpipe_was_blocked, sigpipe_was_open;

/* Takes the SIGPIPEs pending on this thread when they are ours: when the
 * mask had it open before the hold (else they belong to whoever blocked it). */
static void sigpipe_take(const void *state, sigset_t *pipe_only)
{
    if (state != &sigpipe_was_open)
        return;
    struct timespec zero = {0, 0};
    while (sigtimedwait(pipe_only, NULL, &zero) > 0)
        ;
}

static void sigpipe_release(void *state)
{
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpipe_take(state, &pipe_only);
    if (state == &sigpipe_was_open)
        pthread_sigmask(SIG_UNBLOCK, &pipe_only, NULL);
}

static void sigpipe_hold(weft_reactor *r)
{
    if (weft__reactor_ext(r, WEFT__EXT_SIGPIPE))
        return;
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    const char *was = sigismember(&old, SIGPIPE) ? &sigpipe_was_blocked : &sigpipe_was_open;
    weft__reactor_set_ext(r, WEFT__EXT_SIGPIPE, (void *)was, sigpipe_release);
}

static ssize_t stream_send_file(weft_transport *t, int fd, off_t offset, size_t len)
{
    stream *s = S(t);
    sigpipe_hold(t->r);
    ssize_t n;
    do
        n = sendfile(s->fd, fd, &offset, len);
    while (n < 0 && errno == EINTR);
    if (n >= 0) {
        t->stats->s.bytes_out += (size_t)n;
        return n;
    }
    int err = errno;
    if (err == EPIPE) {
        /* The connection ends here: its SIGPIPE is not left pending. */
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        sigpipe_take(weft__reactor_ext(t->r, WEFT__EXT_SIGPIPE), &pipe_only);
    }
    return err == EAGAIN ? WEFT_EAGAIN : -err;
}

static void stream_want_writable(weft_transport *t, bool on)
{
    stream *s = S(t);
    if (!on) {
        weft_reactor_remove_writer(t->r, s->fd);
        return;
    }
    int err = weft_reactor_add_writer(t->r, s->fd, on_writable, s);
    if (err < 0)
        weft__transport_fail(t, err);
}

static void stream_set_reading(weft_transport *t, bool on)
{
    stream *s = S(t);
    if (on == s->reading)
        return;
    if (!on) {
        weft_reactor_remove_reader(t->r, s->fd);
        s->reading = false;
        return;
    }
    int err = weft_reactor_add_reader(t->r, s->fd, on_readable, s);
    if (err < 0) {
        weft__transport_fail(t, err);
        return;
    }
    s->reading = true;
}

static int stream_shutdown_write(weft_transport *t)
{
    return S(t)->sock && shutdown(S(t)->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void stream_close(weft_transport *t, bool abort)
{
    stream *s = S(t);
    if (s->reading)
        weft_reactor_remove_reader(t->r, s->fd);
    if (t->want_writable)
        weft_reactor_remove_writer(t->r, s->fd);
    s->reading = false;
    if (abort) {
        /* Linger 0: close sends a reset instead of a FIN. */
        struct linger lg = {1, 0};
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(s->fd);
    s->fd = -1;
}

static int stream_peer(const weft_transport *t, weft_address *out)
{
    out->len = sizeof out->u;
    return getpeername(S(t)->fd, &out->u.sa, &out->len) < 0 ? -errno : 0;
}

static int stream_host(const weft_transport *t, weft_address *out)
{
    out->len = sizeof out->u;
    return getsockname(S(t)->fd, &out->u.sa, &out->len) < 0 ? -errno : 0;
}

static int stream_peer_credentials(const weft_transport *t, weft_peer_credentials *out)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (!S(t)->sock || S(t)->tcp)
        return -EOPNOTSUPP;
    if (getsockopt(S(t)->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    *out = (weft_peer_credentials){.pid = cred.pid, .uid = cred.uid, .gid = cred.gid};
    return 0;
}

static int stream_set_option(weft_transport *t, int option, bool on)
{
    stream *s = S(t);
    int v = on;
    int rc;
    if (option == WEFT__OPT_NODELAY || option == WEFT__OPT_CORK) {
        if (!s->tcp)
            return -EOPNOTSUPP;
        rc = setsockopt(s->fd, IPPROTO_TCP, option == WEFT__OPT_CORK ? TCP_CORK : TCP_NODELAY, &v, sizeof v);
    } else {
        rc = setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
    }
    return rc < 0 ? -errno : 0;
}

static void stream_free(weft_transport *t)
{
    weft_free(S(t));
}

static const weft__transport_kind stream_kind = {
    .name = "stream",
    .send = stream_send,
    .want_writable = stream_want_writable,
    .set_reading = stream_set_reading,
    .shutdown_write = stream_shutdown_write,
    .close = stream_close,
    .peer = stream_peer,
    .host = stream_host,
    .set_option = stream_set_option,
    .free = stream_free,
    .send_file = stream_send_file,
    .peer_credentials = stream_peer_credentials,
};

int weft__stream_new(weft_reactor *r, int fd, weft_protocol *p, weft_transport **out)
{
    stream *s = weft_malloc(sizeof *s);
    if (!s)
        return WEFT_ENOMEM;
    weft__transport_init(&s->base, &stream_kind, r, p);
    s->fd = fd;
    s->reading = false;
    weft_address host;
    int type;
    socklen_t tlen = sizeof type;
    s->sock = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0;
    s->tcp = s->sock && stream_host(&s->base, &host) == 0 &&
             (weft_address_family(&host) == AF_INET || weft_address_family(&host) == AF_INET6);
    if (s->tcp) {
        /* Nagle delays small replies by a round trip; off by default. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    *out = &s->base;
    return 0;
}
