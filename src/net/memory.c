/* SPDX-License-Identifier: MIT */
/*
 * Memory transports, the test doubles of testing.h: a string transport
 * (twisted.internet.testing.StringTransport) whose peer is the test, and a
 * connected pair (twisted.test.iosim) whose two ends a pump joins. Both are
 * one transport kind under the generic transport of transport.c, so writes
 * buffer, producers pause at the water marks, half-close and the two-phase
 * close behave exactly as over a socket; only where the bytes go differs.
 *
 * Ownership is split in two, because a test must look at a connection after
 * it is over: the handle (string transport, pair) is the test's, and holds
 * what must outlive the connection (the bytes written, which end closed and
 * how); the transport is weft's and is freed in the close step as any other.
 * Each points at the other until one goes; free() and the handles' own free
 * cut the link.
 */
#include <string.h>

#include "transport_int.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/testing.h"

/* Bytes in flight in one direction of a pair, counting those the receiver
 * has not read yet: a socket buffer's worth, so a receiver that stops
 * reading pushes back on the sender as TCP would. */
enum { PAIR_WINDOW = 64 * 1024, PAIR_MAX_STEPS = 10000 };

typedef struct membuf {
    char *data;
    size_t len, cap;
} membuf;

typedef struct memory memory;

struct weft_string_transport {
    memory *m; /* NULL once the transport is gone */
    membuf out; /* what the peer took; kept NUL-terminated */
    bool blocked;
    size_t credit; /* bytes a blocked peer takes now (drain) */
    weft_string_transport_state seen; /* what outlives the transport */
};

/* One direction's sender side: what it sent and how it ended live here, not
 * in the transport, so its peer still gets them after the transport is
 * freed. */
typedef struct pair_end {
    memory *m;  /* NULL once the transport is gone */
    membuf wire; /* sent, not yet moved to the other end */
    bool shut;   /* the writing side is shut (write_eof, or closed) */
    bool aborted;
    bool told;   /* the other end has been given our EOF or reset */
} pair_end;

struct weft_memory_pair {
    weft_reactor *r;
    pair_end end[2]; /* 0: client, 1: server */
};

struct memory {
    weft_transport base;
    weft_string_transport *st; /* one of these two, or neither once */
    weft_memory_pair *pair;    /* the handle has been freed */
    int side;
    membuf in; /* received while not reading */
    bool eof_pending;
    bool deliver_posted;
    weft__post deliver_post;
    weft_address host, peer;
};

static memory *M(const weft_transport *t)
{
    return (memory *)(void *)t;
}

/* ---- byte buffers ---- */

/* Room for len more bytes and a NUL. */
static int membuf_reserve(membuf *b, size_t more)
{
    if (more >= SIZE_MAX - b->len)
        return WEFT_ENOMEM;
    size_t need = b->len + more + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = weft_realloc(b->data, cap);
    if (!p)
        return WEFT_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

static int membuf_append(membuf *b, const void *data, size_t len)
{
    if (membuf_reserve(b, len) < 0)
        return WEFT_ENOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

/* Appends the first n bytes of iov. */
static int membuf_append_iov(membuf *b, const struct iovec *iov, int iovcnt, size_t n)
{
    if (membuf_reserve(b, n) < 0)
        return WEFT_ENOMEM;
    for (int i = 0; i < iovcnt && n > 0; i++) {
        size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;
        if (k)
            memcpy(b->data + b->len, iov[i].iov_base, k);
        b->len += k;
        n -= k;
    }
    b->data[b->len] = '\0';
    return 0;
}

static void membuf_free(membuf *b)
{
    weft_free(b->data);
    *b = (membuf){0};
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    return total;
}

/* ---- receiving ---- */

/* Delivers what was held while the protocol was not reading, then a held
 * EOF, for as long as it reads. New bytes may arrive during a delivery (a
 * test feeding from a callback); they go to the back of the queue. */
static void deliver_held(memory *m)
{
    weft_transport *t = &m->base;
    while (weft__transport_reading(t)) {
        if (m->in.len) {
            membuf b = m->in;
            m->in = (membuf){0};
            weft__transport_data(t, b.data, b.len);
            if (!m->in.data && t->state != WEFT__T_CLOSED) {
                b.len = 0; /* keep the allocation for the next hold */
                m->in = b;
            } else {
                membuf_free(&b);
            }
            continue;
        }
        if (m->eof_pending) {
            m->eof_pending = false;
            weft__transport_eof(t);
        }
        break;
    }
}

static void deliver_post(void *arg)
{
    memory *m = arg;
    m->deliver_posted = false;
    if (m->base.state != WEFT__T_CLOSED)
        deliver_held(m);
}

/* Bytes from the peer: now if the protocol reads and nothing is held before
 * them, else held until it reads again. */
static int mem_receive(memory *m, const void *data, size_t len)
{
    weft_transport *t = &m->base;
    if (t->state != WEFT__T_OPEN || t->read_closed || m->eof_pending)
        return -ENOTCONN;
    if (len == 0)
        return 0;
    if (!m->in.len && weft__transport_reading(t)) {
        weft__transport_data(t, data, len);
        return 0;
    }
    if (membuf_append(&m->in, data, len) < 0)
        return WEFT_ENOMEM;
    if (weft__transport_reading(t))
        deliver_held(m);
    return 0;
}

static int mem_receive_eof(memory *m)
{
    weft_transport *t = &m->base;
    if (t->state != WEFT__T_OPEN || t->read_closed || m->eof_pending)
        return -ENOTCONN;
    m->eof_pending = true;
    if (weft__transport_reading(t))
        deliver_held(m);
    return 0;
}

/* ---- the string transport's record of what the transport did ---- */

/* Adds what the live transport shows now to *s. Some states pass quickly
 * (closing with an empty buffer closes at once), so the kind's calls record
 * them as they happen and the flags, once set, stay set. */
static void observe(const memory *m, weft_string_transport_state *s)
{
    const weft_transport *t = &m->base;
    if (t->state == WEFT__T_CLOSING)
        s->lose_called = true;
    if (t->write_eof)
        s->write_eof_called = true;
    if (t->write_closed)
        s->write_closed = true;
    bool open = t->state != WEFT__T_CLOSED;
    s->paused = open && t->user_paused;
    s->buffered = t->buffered;
    s->producer = open && t->producer;
    s->streaming = open && t->producer && t->streaming;
}

static void record(memory *m)
{
    if (m->st)
        observe(m, &m->st->seen);
}

/* ---- the kind ---- */

static pair_end *end_of(const memory *m)
{
    return &m->pair->end[m->side];
}

static memory *peer_of(const memory *m)
{
    return m->pair->end[!m->side].m;
}

static ssize_t mem_send(weft_transport *t, const struct iovec *iov, int iovcnt)
{
    memory *m = M(t);
    size_t total = iov_total(iov, iovcnt);
    size_t n = total;
    membuf *dst;
    if (m->st) {
        weft_string_transport *st = m->st;
        if (st->blocked) {
            n = st->credit < total ? st->credit : total;
            st->credit -= n;
        }
        dst = &st->out;
    } else if (m->pair) {
        memory *peer = peer_of(m);
        /* A peer that has closed discards what reaches it, as a closed
         * socket discards what it had not read. */
        if (!peer || peer->base.state != WEFT__T_OPEN)
            return (ssize_t)total;
        size_t used = end_of(m)->wire.len + peer->in.len;
        size_t room = used < PAIR_WINDOW ? PAIR_WINDOW - used : 0;
        n = room < total ? room : total;
        dst = &end_of(m)->wire;
    } else {
        return (ssize_t)total; /* the handle is gone; the transport is closing */
    }
    if (n == 0)
        return WEFT_EAGAIN;
    if (membuf_append_iov(dst, iov, iovcnt, n) < 0)
        return WEFT_ENOMEM;
    return (ssize_t)n;
}

static void mem_want_writable(weft_transport *t, bool on)
{
    /* Nothing to watch: the test (drain, unblock) or the pump calls
     * weft__transport_writable when the peer makes room. */
    (void)t;
    (void)on;
}

static void mem_set_reading(weft_transport *t, bool on)
{
    memory *m = M(t);
    record(m);
    if (on && (m->in.len || m->eof_pending) && !m->deliver_posted) {
        /* Held bytes come later, from the reactor, as a socket's would:
         * never inside the resume_reading call (often made from a
         * protocol's own callback). */
        m->deliver_posted = true;
        weft__reactor_post(t->r, &m->deliver_post, deliver_post, m);
    }
}

static int mem_shutdown_write(weft_transport *t)
{
    memory *m = M(t);
    record(m);
    if (m->pair)
        end_of(m)->shut = true;
    return 0;
}

static void mem_close(weft_transport *t, bool abort)
{
    memory *m = M(t);
    membuf_free(&m->in);
    m->eof_pending = false;
    if (m->st) {
        weft_string_transport_state *s = &m->st->seen;
        observe(m, s);
        s->closed = true;
        s->abort_called = s->abort_called || abort;
        s->close_code = t->close_code;
    } else if (m->pair) {
        pair_end *e = end_of(m);
        e->shut = true;
        if (abort || t->close_code != WEFT_EOF) {
            /* A reset: what was in flight is lost with it. */
            e->aborted = true;
            membuf_free(&e->wire);
        }
    }
}

static int mem_peer(const weft_transport *t, weft_address *out)
{
    *out = M(t)->peer;
    return 0;
}

static int mem_host(const weft_transport *t, weft_address *out)
{
    *out = M(t)->host;
    return 0;
}

static void mem_free(weft_transport *t)
{
    memory *m = M(t);
    if (m->st) {
        m->st->m = NULL;
        m->st->seen.finished = true;
    } else if (m->pair) {
        end_of(m)->m = NULL;
    }
    membuf_free(&m->in);
    weft_free(m);
}

static const weft__transport_kind memory_kind = {
    .name = "memory",
    .send = mem_send,
    .want_writable = mem_want_writable,
    .set_reading = mem_set_reading,
    .shutdown_write = mem_shutdown_write,
    .close = mem_close,
    .peer = mem_peer,
    .host = mem_host,
    .set_option = NULL, /* no TCP options: -EOPNOTSUPP, as over UNIX sockets */
    .free = mem_free,
};

static memory *memory_new(const weft_address *host, const weft_address *peer)
{
    memory *m = weft_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->host = *host;
    m->peer = *peer;
    return m;
}

/* Twisted's StringTransport defaults: we are 10.0.0.1:12345, the peer is
 * 192.168.1.1:54321. */
static void default_addresses(weft_address *host, weft_address *peer)
{
    weft_address_from_ip("10.0.0.1", 12345, host);
    weft_address_from_ip("192.168.1.1", 54321, peer);
}

/* ---- string transport ---- */

int weft_string_transport_new(weft_reactor *r, weft_protocol *p, const weft_address *host, const weft_address *peer,
                              weft_string_transport **out)
{
    weft_address dhost, dpeer;
    default_addresses(&dhost, &dpeer);
    weft_string_transport *st = weft_calloc(1, sizeof *st);
    memory *m = memory_new(host ? host : &dhost, peer ? peer : &dpeer);
    if (!st || !m || membuf_reserve(&st->out, 0) < 0) {
        if (st)
            membuf_free(&st->out);
        weft_free(st);
        weft_free(m);
        return WEFT_ENOMEM;
    }
    st->out.data[0] = '\0';
    st->m = m;
    m->st = st;
    weft__transport_init(&m->base, &memory_kind, r, p);
    *out = st;
    weft__transport_start(&m->base);
    return 0;
}

void weft_string_transport_free(weft_string_transport *st)
{
    if (!st)
        return;
    if (st->m) {
        memory *m = st->m;
        m->st = NULL;
        st->m = NULL;
        weft_transport_abort_connection(&m->base);
    }
    membuf_free(&st->out);
    weft_free(st);
}

weft_transport *weft_string_transport_transport(const weft_string_transport *st)
{
    return st->m ? &st->m->base : NULL;
}

const char *weft_string_transport_value(const weft_string_transport *st, size_t *len)
{
    if (len)
        *len = st->out.len;
    return st->out.data;
}

void weft_string_transport_clear(weft_string_transport *st)
{
    st->out.len = 0;
    st->out.data[0] = '\0';
}

int weft_string_transport_receive(weft_string_transport *st, const void *data, size_t len)
{
    return st->m ? mem_receive(st->m, data, len) : -ENOTCONN;
}

int weft_string_transport_receive_eof(weft_string_transport *st)
{
    return st->m ? mem_receive_eof(st->m) : -ENOTCONN;
}

void weft_string_transport_set_blocked(weft_string_transport *st, bool blocked)
{
    st->blocked = blocked;
    st->credit = 0;
    if (!blocked && st->m && st->m->base.head)
        weft__transport_writable(&st->m->base);
}

size_t weft_string_transport_drain(weft_string_transport *st, size_t max)
{
    if (!st->m || !st->m->base.head)
        return 0;
    size_t before = st->out.len;
    st->credit = st->blocked ? max : 0;
    weft__transport_writable(&st->m->base);
    st->credit = 0;
    return st->out.len - before;
}

void weft_string_transport_disconnect(weft_string_transport *st, int code)
{
    if (st->m && st->m->base.state != WEFT__T_CLOSED)
        weft__transport_fail(&st->m->base, code);
}

void weft_string_transport_inspect(const weft_string_transport *st, weft_string_transport_state *out)
{
    *out = st->seen;
    if (st->m)
        observe(st->m, out);
    out->connected = st->m && st->m->base.started && !st->seen.closed;
}

/* ---- connected pair ---- */

int weft_memory_pair_new(weft_reactor *r, weft_protocol *client, weft_protocol *server, weft_memory_pair **out)
{
    weft_address server_addr, client_addr;
    default_addresses(&server_addr, &client_addr);
    weft_memory_pair *mp = weft_calloc(1, sizeof *mp);
    memory *c = memory_new(&client_addr, &server_addr);
    memory *s = memory_new(&server_addr, &client_addr);
    if (!mp || !c || !s) {
        weft_free(mp);
        weft_free(c);
        weft_free(s);
        return WEFT_ENOMEM;
    }
    mp->r = r;
    mp->end[0].m = c;
    mp->end[1].m = s;
    c->pair = s->pair = mp;
    c->side = 0;
    s->side = 1;
    weft__transport_init(&c->base, &memory_kind, r, client);
    weft__transport_init(&s->base, &memory_kind, r, server);
    *out = mp;
    /* As an accepted connection meets its client: the server first. */
    weft__transport_start(&s->base);
    weft__transport_start(&c->base);
    return 0;
}

void weft_memory_pair_free(weft_memory_pair *mp)
{
    if (!mp)
        return;
    for (int i = 0; i < 2; i++) {
        memory *m = mp->end[i].m;
        if (m) {
            m->pair = NULL;
            mp->end[i].m = NULL;
            weft_transport_abort_connection(&m->base);
        }
        membuf_free(&mp->end[i].wire);
    }
    weft_free(mp);
}

weft_transport *weft_memory_pair_client(const weft_memory_pair *mp)
{
    return mp->end[0].m ? &mp->end[0].m->base : NULL;
}

weft_transport *weft_memory_pair_server(const weft_memory_pair *mp)
{
    return mp->end[1].m ? &mp->end[1].m->base : NULL;
}

/* The end `to` learns that the other end's writing side is over. */
static void tell(weft_memory_pair *mp, int to, bool reset)
{
    memory *m = mp->end[to].m;
    if (!m || m->base.state == WEFT__T_CLOSED)
        return;
    if (reset)
        weft__transport_fail(&m->base, -ECONNRESET);
    else if (m->base.state == WEFT__T_OPEN && !m->base.read_closed && !m->eof_pending)
        mem_receive_eof(m);
}

/* One exchange: what each end sent before the step reaches the other (as
 * iosim takes both outputs before delivering either), then EOFs and resets
 * of ends whose bytes have all arrived, then senders the window held back
 * may write again. Returns whether anything moved. */
static bool move(weft_memory_pair *mp)
{
    bool moved = false;
    membuf taken[2];
    for (int i = 0; i < 2; i++) {
        taken[i] = mp->end[i].wire;
        mp->end[i].wire = (membuf){0};
    }
    for (int i = 0; i < 2; i++) {
        if (taken[i].len) {
            moved = true;
            memory *to = mp->end[!i].m;
            /* A receiver that is closing or gone discards, as a socket
             * being closed does; out of memory, the receiver fails. */
            if (to && to->base.state == WEFT__T_OPEN && !to->base.read_closed &&
                mem_receive(to, taken[i].data, taken[i].len) == WEFT_ENOMEM)
                weft__transport_fail(&to->base, WEFT_ENOMEM);
        }
        membuf_free(&taken[i]);
    }
    for (int i = 0; i < 2; i++) {
        pair_end *e = &mp->end[i];
        if (e->shut && !e->told && !e->wire.len) {
            e->told = true;
            moved = true;
            tell(mp, !i, e->aborted);
        }
    }
    for (int i = 0; i < 2; i++) {
        memory *m = mp->end[i].m;
        if (m && m->base.state != WEFT__T_CLOSED && m->base.head) {
            size_t before = mp->end[i].wire.len, buffered = m->base.buffered;
            weft__transport_writable(&m->base);
            m = mp->end[i].m;
            if (mp->end[i].wire.len != before || !m || m->base.buffered != buffered)
                moved = true;
        }
    }
    return moved;
}

int weft_memory_pair_pump(weft_memory_pair *mp)
{
    int err = weft_reactor_iterate(mp->r, 0);
    if (err < 0)
        return err;
    if (!move(mp))
        return 0;
    /* Let the close step finish what the exchange closed. */
    err = weft_reactor_iterate(mp->r, 0);
    return err < 0 ? err : 1;
}

int weft_memory_pair_flush(weft_memory_pair *mp)
{
    for (int i = 0; i < PAIR_MAX_STEPS; i++) {
        int rc = weft_memory_pair_pump(mp);
        if (rc <= 0)
            return rc;
    }
    return WEFT_EAGAIN;
}

void weft_memory_pair_disconnect(weft_memory_pair *mp, int code)
{
    for (int i = 0; i < 2; i++) {
        pair_end *e = &mp->end[i];
        e->told = true; /* each end hears it from the network, not the other */
        membuf_free(&e->wire);
        if (e->m && e->m->base.state != WEFT__T_CLOSED)
            weft__transport_fail(&e->m->base, code);
    }
}
