/* SPDX-License-Identifier: MIT */
/*
 * The part of every transport that is not about its source: the write
 * buffer (a chain of copied or borrowed buffers flushed with one writev),
 * producers and water marks, half-close, and the two-phase close whose
 * second phase - producer stop, connection_lost, destroy, free - runs in the
 * reactor's close step, never inside the call that closed.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

struct weft__wnode {
    weft__wnode *next;
    const char *data;
    size_t len, off;
    size_t cap; /* room in storage; 0 for a borrowed buffer */
    weft_destroy_fn release;
    void *arg;
    char storage[];
};

enum { MIN_NODE = 4096, MAX_IOV = 64 };

/*
 * A file range (weft_transport_send_file) is a node like a borrowed buffer
 * with no bytes in memory: data is NULL, len and off count the range, and
 * its release closes the descriptor, so every path that gives borrowed
 * buffers back (sent, or dropped by a close) closes files too. What only
 * files need lives in the node's storage.
 */
typedef struct wfile {
    int fd;
    bool readback;  /* the kind cannot sendfile it: read pieces and send them */
    off_t start;    /* the file offset of the range's first byte */
    char *piece;    /* readback: WEFT__IO_CHUNK bytes read from file offset piece_at */
    off_t piece_at;
    size_t piece_len;
} wfile;

/* One sendfile call asks for at most this much; the kernel takes what the
 * socket buffer holds anyway. */
#define SENDFILE_MAX ((size_t)1 << 30)

_Static_assert(offsetof(weft__wnode, storage) % _Alignof(wfile) == 0, "a file's data fits a node's storage");

static wfile *file_of(weft__wnode *n)
{
    return (wfile *)(void *)n->storage;
}

static void file_release(void *arg)
{
    wfile *f = file_of(arg);
    close(f->fd);
    weft_free(f->piece);
}

static bool is_file(const weft__wnode *n)
{
    return n->release == file_release;
}

static void self_pause(weft_producer *p);
static void self_resume(weft_producer *p);
static void self_stop(weft_producer *p);
static const weft_producer_ops self_ops = {self_pause, self_resume, self_stop};
static const weft_fount_ops fount_ops;
static const weft_drain_ops drain_ops;
static const weft_producer_ops fount_producer_ops;

static void handle_describe(const weft__handle *h, char *buf, size_t size)
{
    const weft_transport *t = WEFT_CONTAINER_OF(h, weft_transport, handle);
    weft_address a;
    char host[128] = "?", peer[128] = "?";
    if (weft_transport_host(t, &a) == 0)
        weft_address_format(&a, host, sizeof host);
    if (weft_transport_peer(t, &a) == 0)
        weft_address_format(&a, peer, sizeof peer);
    snprintf(buf, size, "%s %s <- %s%s", t->kind->name, host, peer,
             t->state == WEFT__T_OPEN ? "" : t->state == WEFT__T_CLOSING ? " (closing)" : " (closed)");
}

static void handle_close(weft__handle *h, bool abort)
{
    weft_transport *t = WEFT_CONTAINER_OF(h, weft_transport, handle);
    if (abort)
        weft_transport_abort_connection(t);
    else
        weft_transport_lose_connection(t);
}

static const weft__handle_ops handle_ops = {.kind = "connection", .describe = handle_describe, .close = handle_close};

void weft__transport_init(weft_transport *t, const weft__transport_kind *kind, weft_reactor *r, weft_protocol *proto)
{
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->r = r;
    t->proto = proto;
    t->high = WEFT__HIGH_WATER;
    t->low = WEFT__LOW_WATER;
    t->self_producer.ops = &self_ops;
    t->fount.ops = &fount_ops;
    t->drain.ops = &drain_ops;
    t->fount_producer.ops = &fount_producer_ops;
    t->close_code = WEFT_EOF;
    t->stats = weft__reactor_counters(r);
    weft__counters_ref(t->stats);
    weft__handle_add(r, &t->handle, &handle_ops);
    if (proto->factory)
        weft_factory_start(proto->factory);
}

void weft__transport_start(weft_transport *t)
{
    t->proto->transport = t;
    t->started = true;
    if (t->proto->ops->connection_made)
        t->proto->ops->connection_made(t->proto);
    if (t->state != WEFT__T_CLOSED)
        t->kind->set_reading(t, weft__transport_reading(t));
}

/* ---- closing ---- */

static void release_borrowed(void *arg)
{
    weft_transport *t = arg;
    t->release_posted = false;
    weft__wnode *n = t->released;
    t->released = NULL;
    while (n) {
        weft__wnode *next = n->next;
        n->release(n->arg);
        weft_free(n);
        n = next;
    }
}

/* A node fully sent or dropped: copies are freed now, borrowed buffers are
 * given back in the close step (never inside the caller's write). */
static void retire(weft_transport *t, weft__wnode *n)
{
    if (!n->release) {
        weft_free(n);
        return;
    }
    if (is_file(n))
        t->files--;
    n->next = t->released;
    t->released = n;
    if (!t->release_posted && !t->finish_posted) {
        t->release_posted = true;
        weft__reactor_post(t->r, &t->release_post, release_borrowed, t);
    }
}

static void finish(void *arg)
{
    weft_transport *t = arg;
    weft_protocol *p = t->proto;
    release_borrowed(t);
    if (t->producer) {
        weft_producer *prod = t->producer;
        t->producer = NULL;
        if (prod->ops->stop)
            prod->ops->stop(prod);
    }
    weft_failure *why =
        t->close_code == WEFT_EOF ? weft_failure_new(WEFT_EOF, "connection closed cleanly")
        : t->close_code == -ECONNABORTED ? weft_failure_new(-ECONNABORTED, "connection aborted")
                                          : weft_failure_new(t->close_code, "connection lost: %s", weft_strerror(t->close_code));
    /* Flow: nothing more will be read, and nothing more can be written. */
    weft_fount_end(&t->fount, why);
    if (t->drain.fount) {
        weft_fount *up = t->drain.fount;
        weft_flow_to(up, NULL);
        weft_fount_stop(up);
    }
    if (t->started && p->ops->connection_lost)
        p->ops->connection_lost(p, why);
    weft_failure_unref(why);
    p->transport = NULL;
    /* The factory is told first: a protocol may own the factory that built
     * it (the port forwarder's outbound side does), and destroy frees it. */
    if (p->factory)
        weft_factory_stop(p->factory);
    weft_protocol_destroy(p);
    weft__handle_remove(&t->handle);
    if (t->accepted)
        t->stats->s.open--;
    weft__counters_unref(t->stats);
    t->kind->free(t);
}

void weft__transport_accepted(weft_transport *t, weft__counters *c)
{
    weft__counters_unref(t->stats);
    t->stats = c;
    weft__counters_ref(c);
    t->accepted = true;
    c->s.accepted++;
    c->s.open++;
}

void weft__transport_share_counters(weft_transport *inner, const weft_transport *outer)
{
    weft__counters_unref(inner->stats);
    inner->stats = outer->stats;
    weft__counters_ref(inner->stats);
}

static void close_now(weft_transport *t, int code, bool abort)
{
    if (t->state == WEFT__T_CLOSED)
        return;
    t->state = WEFT__T_CLOSED;
    t->close_code = code;
    t->kind->close(t, abort);
    weft__wnode *n = t->head;
    t->head = t->tail = NULL;
    t->buffered = 0;
    while (n) {
        weft__wnode *next = n->next;
        retire(t, n);
        n = next;
    }
    /* The release post (if any) was made first, so it runs first. */
    t->finish_posted = true;
    weft__reactor_post(t->r, &t->finish_post, finish, t);
}

void weft__transport_fail(weft_transport *t, int code)
{
    close_now(t, code, false);
}

/* ---- writing ---- */

static void set_want_writable(weft_transport *t, bool on)
{
    if (t->want_writable != on && t->state != WEFT__T_CLOSED) {
        t->want_writable = on;
        t->kind->want_writable(t, on);
    }
}

static void drained(weft_transport *t)
{
    if (t->state == WEFT__T_CLOSING && !(t->producer && !t->streaming)) {
        close_now(t, WEFT_EOF, false);
        return;
    }
    if (t->write_eof && !t->write_closed) {
        t->write_closed = true;
        int err = t->kind->shutdown_write(t);
        if (err < 0) {
            close_now(t, err, false);
            return;
        }
        if (t->read_closed)
            close_now(t, WEFT_EOF, false);
        return;
    }
    /* A pull producer writes once each time the buffer empties. */
    if (t->producer && !t->streaming && t->producer->ops->resume)
        t->producer->ops->resume(t->producer);
}

static void below_low_water(weft_transport *t)
{
    if (t->producer && t->streaming && t->producer_paused && t->buffered <= t->low) {
        t->producer_paused = false;
        t->producer->ops->resume(t->producer);
    }
}

static void above_high_water(weft_transport *t)
{
    if (t->producer && t->streaming && !t->producer_paused && t->buffered > t->high) {
        t->producer_paused = true;
        t->producer->ops->pause(t->producer);
    }
}

/* The fallback for kinds (or files) sendfile cannot serve: the next piece
 * is read into the node's own buffer and offered to send; what send does
 * not take stays there for the next try. */
static ssize_t send_file_piece(weft_transport *t, weft__wnode *n, wfile *f, size_t *total)
{
    off_t pos = f->start + (off_t)n->off;
    size_t left = n->len - n->off;
    if (!(pos >= f->piece_at && pos < f->piece_at + (off_t)f->piece_len)) {
        if (!f->piece && !(f->piece = weft_malloc(WEFT__IO_CHUNK)))
            return WEFT_ENOMEM;
        ssize_t got;
        do
            got = pread(f->fd, f->piece, left < WEFT__IO_CHUNK ? left : WEFT__IO_CHUNK, pos);
        while (got < 0 && errno == EINTR);
        if (got <= 0)
            return got < 0 ? -errno : -ENODATA; /* the file shrank */
        f->piece_at = pos;
        f->piece_len = (size_t)got;
    }
    size_t skip = (size_t)(pos - f->piece_at);
    size_t have = f->piece_len - skip;
    struct iovec iov = {f->piece + skip, have < left ? have : left};
    *total = iov.iov_len;
    return t->kind->send(t, &iov, 1);
}

/* Sends from the file range at the head of the chain. */
static ssize_t send_file_head(weft_transport *t, size_t *total)
{
    weft__wnode *n = t->head;
    wfile *f = file_of(n);
    if (!f->readback && t->kind->send_file) {
        size_t left = n->len - n->off;
        size_t chunk = left < SENDFILE_MAX ? left : SENDFILE_MAX;
        ssize_t sent = t->kind->send_file(t, f->fd, f->start + (off_t)n->off, chunk);
        if (sent != -EINVAL && sent != -ENOSYS) {
            *total = chunk;
            return sent == 0 ? -ENODATA : sent; /* 0: the file shrank */
        }
        f->readback = true;
    }
    return send_file_piece(t, n, f, total);
}

/* Sends from the buffer until it is empty or the kind takes no more. */
static void flush(weft_transport *t)
{
    while (t->head && t->state != WEFT__T_CLOSED) {
        struct iovec iov[MAX_IOV];
        int cnt = 0;
        size_t total = 0;
        ssize_t sent;
        if (t->files && is_file(t->head)) {
            sent = send_file_head(t, &total);
        } else {
            for (weft__wnode *n = t->head; n && cnt < MAX_IOV; n = n->next, cnt++) {
                if (t->files && is_file(n))
                    break; /* the bytes before a file go first, by themselves */
                iov[cnt].iov_base = (void *)(n->data + n->off);
                iov[cnt].iov_len = n->len - n->off;
                total += iov[cnt].iov_len;
            }
            sent = t->kind->send(t, iov, cnt);
        }
        if (sent == WEFT_EAGAIN)
            break;
        if (sent < 0) {
            close_now(t, (int)sent, false);
            return;
        }
        t->buffered -= (size_t)sent;
        size_t left = (size_t)sent;
        /* Empty nodes (a zero-length borrowed write) go with the rest. */
        while (t->head) {
            weft__wnode *n = t->head;
            size_t in = n->len - n->off;
            if (left < in) {
                n->off += left;
                break;
            }
            left -= in;
            t->head = n->next;
            if (!t->head)
                t->tail = NULL;
            retire(t, n);
        }
        if ((size_t)sent < total)
            break;
    }
    if (t->state == WEFT__T_CLOSED)
        return;
    set_want_writable(t, t->head != NULL);
    below_low_water(t);
    if (!t->head && t->state != WEFT__T_CLOSED)
        drained(t);
}

void weft__transport_writable(weft_transport *t)
{
    flush(t);
}

static int append_copy(weft_transport *t, const char *data, size_t len)
{
    weft__wnode *tail = t->tail;
    if (tail && tail->cap && tail->cap - tail->len >= len) {
        memcpy(tail->storage + tail->len, data, len);
        tail->len += len;
    } else {
        size_t cap = len > MIN_NODE ? len : MIN_NODE;
        weft__wnode *n = weft_malloc(sizeof *n + cap);
        if (!n)
            return WEFT_ENOMEM;
        *n = (weft__wnode){.data = n->storage, .len = len, .cap = cap};
        memcpy(n->storage, data, len);
        if (tail)
            tail->next = n;
        else
            t->head = n;
        t->tail = n;
    }
    t->buffered += len;
    return 0;
}

static bool can_write(const weft_transport *t)
{
    return t->state == WEFT__T_OPEN && !t->write_eof;
}

int weft_transport_writev(weft_transport *t, const struct iovec *iov, int iovcnt)
{
    if (!can_write(t))
        return -ENOTCONN;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total == 0)
        return 0;
    size_t done = 0;
    if (!t->head) {
        /* Nothing waiting: offer the caller's bytes to the kernel as they are. */
        ssize_t sent = t->kind->send(t, iov, iovcnt > MAX_IOV ? MAX_IOV : iovcnt);
        if (sent < 0 && sent != WEFT_EAGAIN) {
            close_now(t, (int)sent, false);
            return 0; /* the loss is reported through connection_lost */
        }
        if (sent > 0)
            done = (size_t)sent;
        if (done == total) {
            /* All sent. A pull producer is asked for more from the reactor,
             * as after any flush (Twisted's startWriting): never from inside
             * its own write. */
            if (t->producer && !t->streaming)
                set_want_writable(t, true);
            return 0;
        }
    }
    size_t skip = done;
    for (int i = 0; i < iovcnt; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        if (append_copy(t, (const char *)iov[i].iov_base + skip, len - skip) < 0) {
            /* Part of the stream is lost: the connection cannot go on. */
            close_now(t, WEFT_ENOMEM, false);
            return WEFT_ENOMEM;
        }
        skip = 0;
    }
    set_want_writable(t, true);
    above_high_water(t);
    return 0;
}

int weft_transport_write(weft_transport *t, const void *data, size_t len)
{
    struct iovec iov = {(void *)data, len};
    return weft_transport_writev(t, &iov, 1);
}

/* Appends a node that is not a copy (borrowed bytes, a file range) and
 * sends it at once if nothing waits before it. */
static void enqueue(weft_transport *t, weft__wnode *n)
{
    if (t->tail)
        t->tail->next = n;
    else
        t->head = n;
    t->tail = n;
    t->buffered += n->len;
    if (t->head == n)
        flush(t);
    else
        set_want_writable(t, true);
    if (t->state != WEFT__T_CLOSED)
        above_high_water(t);
}

int weft_transport_write_borrowed(weft_transport *t, const void *data, size_t len, weft_destroy_fn release, void *arg)
{
    if (!can_write(t))
        return -ENOTCONN;

    weft__wnode *n = weft_malloc(sizeof *n);
    if (!n)
        return WEFT_ENOMEM;
    *n = (weft__wnode){.data = data, .len = len, .release = release, .arg = arg};
    enqueue(t, n);
    return 0;
}

/* Whether fd was opened for reading: 0, -EBADF, or fcntl's error. */
static int open_for_reading(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    return (fl & O_ACCMODE) == O_WRONLY ? -EBADF : 0;
}

int weft_transport_send_file(weft_transport *t, int fd, off_t offset, uint64_t len)
{
    if (!can_write(t))
        return -ENOTCONN;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || offset < 0 || offset > st.st_size || len > (uint64_t)(st.st_size - offset))
        return WEFT_EINVAL;
    if (len > SIZE_MAX - t->buffered)
        return -EOVERFLOW; /* 32-bit systems: the buffered count must hold it */
    if (len == 0) {
        int err = open_for_reading(fd);
        if (err == 0)
            close(fd);
        return err;
    }
    weft__wnode *n = weft_malloc(sizeof *n + sizeof(wfile));
    if (!n)
        return WEFT_ENOMEM;
    *n = (weft__wnode){.len = (size_t)len, .release = file_release, .arg = n};
    *file_of(n) = (wfile){.fd = fd, .start = offset};
    /*
     * Nothing waiting and a kind that sends files: the range goes straight
     * to sendfile, as a write goes straight to sendmsg, and only what the
     * kernel does not take is queued. sendfile refuses a descriptor not open
     * for reading (EBADF) before it moves a byte, which answers what fcntl
     * would be asked; -EINVAL or -ENOSYS: not for this file, read it back.
     */
    if (!t->head && t->kind->send_file) {
        ssize_t sent = t->kind->send_file(t, fd, offset, len < SENDFILE_MAX ? (size_t)len : SENDFILE_MAX);
        if (sent == -EBADF) {
            weft_free(n);
            return -EBADF;
        }
        if (sent != -EINVAL && sent != -ENOSYS) {
            if (sent == 0 || (sent < 0 && sent != WEFT_EAGAIN)) {
                /* The file shrank (0), or the connection failed: the loss
                 * is reported through connection_lost, as a write's. */
                weft_free(n);
                close(fd);
                close_now(t, sent == 0 ? -ENODATA : (int)sent, false);
                return 0;
            }
            if ((uint64_t)sent == len) {
                weft_free(n);
                close(fd);
                /* A pull producer is asked for more from the reactor, as
                 * after a write sent whole. */
                if (t->producer && !t->streaming)
                    set_want_writable(t, true);
                return 0;
            }
            /* The rest waits for writability. */
            n->off = sent > 0 ? (size_t)sent : 0;
            t->files++;
            t->head = t->tail = n;
            t->buffered += n->len - n->off;
            set_want_writable(t, true);
            above_high_water(t);
            return 0;
        }
        file_of(n)->readback = true;
    }
    int err = open_for_reading(fd);
    if (err < 0) {
        weft_free(n);
        return err;
    }
    t->files++;
    enqueue(t, n);
    return 0;
}

bool weft_transport_disconnecting(const weft_transport *t)
{
    return t->state != WEFT__T_OPEN;
}

/* ---- closing, as the user asks ---- */

void weft_transport_lose_connection(weft_transport *t)
{
    if (t->state != WEFT__T_OPEN)
        return;
    t->state = WEFT__T_CLOSING;
    t->kind->set_reading(t, false);
    if (!t->head)
        drained(t);
}

void weft_transport_abort_connection(weft_transport *t)
{
    close_now(t, -ECONNABORTED, true);
}

int weft_transport_write_eof(weft_transport *t)
{
    if (!can_write(t))
        return -ENOTCONN;
    t->write_eof = true;
    if (!t->head)
        drained(t);
    return 0;
}

/* ---- reading ---- */

void weft__transport_data(weft_transport *t, const void *data, size_t len)
{
    if (!weft__transport_reading(t))
        return;
    if (t->fount.drain)
        weft_fount_emit(&t->fount, data, len);
    else if (t->proto->ops->data_received)
        t->proto->ops->data_received(t->proto, data, len);
}

void weft__transport_eof(weft_transport *t)
{
    if (t->read_closed)
        return;
    t->read_closed = true;
    if (t->state != WEFT__T_OPEN) {
        if (t->state == WEFT__T_CLOSING && !t->head)
            close_now(t, WEFT_EOF, false);
        return;
    }
    t->kind->set_reading(t, false);
    if (t->fount.drain) {
        /* Flowing: the end goes downstream, and our writing side stays open
         * until whatever feeds our drain ends too. */
        weft_failure *eof = weft_failure_new(WEFT_EOF, "end of input");
        weft_fount_end(&t->fount, eof);
        weft_failure_unref(eof);
        if (t->state == WEFT__T_OPEN && t->write_closed)
            close_now(t, WEFT_EOF, false);
        return;
    }
    bool keep = t->proto->ops->eof_received && t->proto->ops->eof_received(t->proto);
    if (t->state != WEFT__T_OPEN)
        return;
    if (!keep)
        weft_transport_lose_connection(t);
    else if (t->write_closed)
        close_now(t, WEFT_EOF, false);
}

void weft_transport_pause_reading(weft_transport *t)
{
    t->user_paused = true;
    if (t->state != WEFT__T_CLOSED)
        t->kind->set_reading(t, false);
}

void weft_transport_resume_reading(weft_transport *t)
{
    t->user_paused = false;
    if (t->state != WEFT__T_CLOSED)
        t->kind->set_reading(t, weft__transport_reading(t));
}

/* ---- the rest of the API ---- */

int weft_transport_peer(const weft_transport *t, weft_address *out)
{
    return t->state == WEFT__T_CLOSED ? -ENOTCONN : t->kind->peer(t, out);
}

int weft_transport_host(const weft_transport *t, weft_address *out)
{
    return t->state == WEFT__T_CLOSED ? -ENOTCONN : t->kind->host(t, out);
}

static int set_option(weft_transport *t, int option, bool on)
{
    if (t->state == WEFT__T_CLOSED)
        return -ENOTCONN;
    return t->kind->set_option ? t->kind->set_option(t, option, on) : -EOPNOTSUPP;
}

int weft_transport_peer_credentials(const weft_transport *t, weft_peer_credentials *out)
{
    if (t->state == WEFT__T_CLOSED)
        return -ENOTCONN;
    return t->kind->peer_credentials ? t->kind->peer_credentials(t, out) : -EOPNOTSUPP;
}

int weft_transport_set_nodelay(weft_transport *t, bool on)
{
    return set_option(t, WEFT__OPT_NODELAY, on);
}

int weft_transport_set_keepalive(weft_transport *t, bool on)
{
    return set_option(t, WEFT__OPT_KEEPALIVE, on);
}

int weft_transport_set_cork(weft_transport *t, bool on)
{
    return set_option(t, WEFT__OPT_CORK, on);
}

size_t weft_transport_buffered(const weft_transport *t)
{
    return t->buffered;
}

int weft_transport_set_write_limits(weft_transport *t, size_t high, size_t low)
{
    if (low > high)
        return WEFT_EINVAL;
    t->high = high;
    t->low = low;
    if (t->buffered > high)
        above_high_water(t);
    else
        below_low_water(t);
    return 0;
}

int weft_transport_register_producer(weft_transport *t, weft_producer *p, bool streaming)
{
    if (t->producer)
        return WEFT_EBUSY;
    if (t->state == WEFT__T_CLOSED)
        return -ENOTCONN;
    t->producer = p;
    t->streaming = streaming;
    t->producer_paused = false;
    if (streaming)
        above_high_water(t);
    else if (p->ops->resume)
        p->ops->resume(p); /* as Twisted: a pull producer is asked at once */
    return 0;
}

void weft_transport_unregister_producer(weft_transport *t)
{
    t->producer = NULL;
    t->producer_paused = false;
    if (t->state == WEFT__T_CLOSING && !t->head)
        close_now(t, WEFT_EOF, false);
}

weft_producer *weft_transport_producer(weft_transport *t)
{
    return &t->self_producer;
}

weft_protocol *weft_transport_protocol(const weft_transport *t)
{
    return t->proto;
}

weft_reactor *weft_transport_reactor(const weft_transport *t)
{
    return t->r;
}

bool weft__transport_code_switch(weft_transport *t)
{
    if (t->state != WEFT__T_OPEN || !t->started)
        return false;
    /* The old code's producer fed the old code's stream, which ends here;
     * its stop runs while the old code is still attached, and may close
     * the connection. */
    if (t->producer && t->producer != &t->fount_producer) {
        weft_producer *prod = t->producer;
        weft_transport_unregister_producer(t);
        if (prod->ops->stop)
            prod->ops->stop(prod);
        if (t->state != WEFT__T_OPEN)
            return false;
    }
    /* Before the caller puts the new code in place, which is no matter:
     * no kind delivers from inside set_reading. */
    if (t->user_paused)
        weft_transport_resume_reading(t);
    return true;
}

weft_protocol *weft_transport_set_protocol(weft_transport *t, weft_protocol *p)
{
    if (!weft__transport_code_switch(t))
        return NULL;
    weft_protocol *old = t->proto;
    if (!p->factory)
        p->factory = old->factory;
    /* Started first: a factory the two share never drops to no users. */
    if (p->factory)
        weft_factory_start(p->factory);
    if (old->factory)
        weft_factory_stop(old->factory);
    t->proto = p;
    p->transport = t;
    old->transport = NULL;
    return old;
}

static void self_pause(weft_producer *p)
{
    weft_transport_pause_reading(WEFT_CONTAINER_OF(p, weft_transport, self_producer));
}

static void self_resume(weft_producer *p)
{
    weft_transport_resume_reading(WEFT_CONTAINER_OF(p, weft_transport, self_producer));
}

static void self_stop(weft_producer *p)
{
    weft_transport_lose_connection(WEFT_CONTAINER_OF(p, weft_transport, self_producer));
}

/* ---- flow: the transport as fount and drain ---- */


static void fount_pause(weft_fount *f)
{
    weft_transport_pause_reading(WEFT_CONTAINER_OF(f, weft_transport, fount));
}

static void fount_resume(weft_fount *f)
{
    weft_transport_resume_reading(WEFT_CONTAINER_OF(f, weft_transport, fount));
}

static void fount_stop(weft_fount *f)
{
    weft_transport_lose_connection(WEFT_CONTAINER_OF(f, weft_transport, fount));
}

static const weft_fount_ops fount_ops = {.pause = fount_pause, .resume = fount_resume, .stop = fount_stop};

/* The upstream fount, seen by the write buffer as a streaming producer. */
static void upstream_pause(weft_producer *p)
{
    weft_transport *t = WEFT_CONTAINER_OF(p, weft_transport, fount_producer);
    if (t->drain.fount)
        weft_fount_pause(t->drain.fount);
}

static void upstream_resume(weft_producer *p)
{
    weft_transport *t = WEFT_CONTAINER_OF(p, weft_transport, fount_producer);
    if (t->drain.fount)
        weft_fount_resume(t->drain.fount);
}

static const weft_producer_ops fount_producer_ops = {upstream_pause, upstream_resume, NULL};

static void drain_flowing_from(weft_drain *d, weft_fount *f)
{
    weft_transport *t = WEFT_CONTAINER_OF(d, weft_transport, drain);
    if (t->producer == &t->fount_producer) {
        /* The old upstream may still be paused by us: let it go. */
        if (t->producer_paused && f == NULL)
            t->producer_paused = false;
        weft_transport_unregister_producer(t);
    }
    if (f && t->state != WEFT__T_CLOSED)
        weft_transport_register_producer(t, &t->fount_producer, true);
}

static void drain_receive(weft_drain *d, const void *data, size_t len)
{
    weft_transport_write(WEFT_CONTAINER_OF(d, weft_transport, drain), data, len);
}

static void drain_flow_stopped(weft_drain *d, const weft_failure *reason)
{
    (void)reason;
    weft_transport *t = WEFT_CONTAINER_OF(d, weft_transport, drain);
    if (t->producer == &t->fount_producer)
        weft_transport_unregister_producer(t);
    weft_transport_lose_connection(t);
}

static const weft_drain_ops drain_ops = {drain_flowing_from, drain_receive, drain_flow_stopped};

weft_fount *weft_transport_fount(weft_transport *t)
{
    return &t->fount;
}

weft_drain *weft_transport_drain(weft_transport *t)
{
    return &t->drain;
}

void weft_flow_pipe(weft_transport *a, weft_transport *b)
{
    weft_flow_to(&a->fount, &b->drain);
    weft_flow_to(&b->fount, &a->drain);
}
