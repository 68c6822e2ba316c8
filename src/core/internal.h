/* SPDX-License-Identifier: MIT */
/*
 * What src/core offers the layers above it beyond the public API: hooks the
 * async layer sets on a reactor, and helpers every layer uses. Layers only
 * look down: nothing in src/core includes anything from above.
 */
#ifndef WEFT_CORE_INTERNAL_H
#define WEFT_CORE_INTERNAL_H

#include "list.h"
#include "weft/base.h"
#include "weft/reactor.h"
#include "weft/stats.h"

/* The async layer drives system events (trigger.h) through this hook: the
 * core calls fire(state, event) when "startup" or "shutdown" begins; for
 * shutdown, the hook calls weft__reactor_crash once its phases are done.
 * free(state) runs when the reactor is freed. */
typedef struct weft__reactor_hook {
    void (*fire)(void *state, int event);
    void (*free)(void *state);
    void *state;
} weft__reactor_hook;

/* The hook's state, or NULL when none is set. */
void *weft__reactor_hook_state(weft_reactor *r);
void weft__reactor_set_hook(weft_reactor *r, const weft__reactor_hook *hook);

/* Makes this iteration's poll (or the next one's) return at once: for a
 * caller of iterate waiting on a condition that a callback has just made
 * true, with nothing left to wake the poll (weft_reactor_run_until). */
void weft__reactor_wake(weft_reactor *r);

/* Whether weft_replace_allocator installed an allocator of the user's. Caches
 * of freed objects stand aside then, so that a counting or failing
 * allocator (fault_alloc.h) sees every allocation. */
bool weft__allocator_replaced(void);

/* The installed allocator as it is (no size-0 rounding), outside the count
 * of weft's live blocks: for memory that is not weft's own (OpenSSL's, which
 * tls.c routes through it). weft__allocator_free(NULL) does nothing. */
void *weft__allocator_malloc(size_t size);
void *weft__allocator_realloc(void *ptr, size_t size);
void weft__allocator_free(void *ptr);

/* Extension slots: state an upper layer hangs off a reactor, freed (by the
 * given function) when the reactor is. One per slot. */
enum { WEFT__EXT_MEMORY, WEFT__EXT_CORO, WEFT__EXT_THREADS, WEFT__EXT_PROCESSES, WEFT__EXT_DEFERREDS, WEFT__EXT_RESOLVER, WEFT__EXT_SIGPIPE, WEFT__EXT_COUNT };
void *weft__reactor_ext(const weft_reactor *r, int slot);
void weft__reactor_set_ext(weft_reactor *r, int slot, void *state, weft_destroy_fn free_state);

/* Ends run at the end of this iteration, with no more system events. */
void weft__reactor_crash(weft_reactor *r);

double weft__reactor_shutdown_timeout(const weft_reactor *r);

/* The reactor's time in integer nanoseconds, for code that must not round. */
int64_t weft__reactor_now_ns(const weft_reactor *r);

/* Converts seconds to nanoseconds, clamping to a century; 0 for negatives.
 * WEFT_EINVAL for NaN. */
int weft__seconds_to_ns(double seconds, int64_t *out);

/*
 * An allocation-free "call this soon": the caller embeds the node and posts
 * it; fn(arg) runs in the close step at the end of the current iteration
 * (libuv's closing handles). Used for the second phase of two-phase close,
 * so that freeing never runs inside the call that closed. A node must not be
 * posted twice before it has run.
 */
typedef struct weft__post {
    struct weft__post *next;
    weft_call_fn fn;
    void *arg;
} weft__post;

void weft__reactor_post(weft_reactor *r, weft__post *p, weft_call_fn fn, void *arg);

/* A buffer every read on this reactor may use (one read at a time): 64 KiB,
 * made on first use, so idle connections hold no read memory. NULL when out
 * of memory. */
void *weft__reactor_read_buffer(weft_reactor *r, size_t *size);

/*
 * Handles: what lives on a reactor and must end when it shuts down -
 * connections, ports, pending connects, UDP sockets, coroutines. Each embeds
 * a weft__handle and registers it while it lives. The shutdown sequence
 * (reactor.h) closes them: gracefully first, then at once when the grace is
 * over; weft_reactor_free closes what is left; weft_reactor_walk lists them.
 */
typedef struct weft__handle weft__handle;
typedef struct weft__handle_ops {
    const char *kind; /* "tcp", "port", "coroutine"... */
    /* A short description for weft_reactor_walk (addresses, state). NULL:
     * the kind says enough. */
    void (*describe)(const weft__handle *h, char *buf, size_t size);
    /* Asks it to end: gracefully (a connection sends what it has buffered,
     * a port stops listening) or at once (reset, cancel). It removes or
     * retires itself, now or in a later iteration. NULL: shutdown does not
     * wait for it. */
    void (*close)(weft__handle *h, bool abort);
    /* Frees what weft_reactor_free finds still here: a retired handle, or a
     * live one that would not end. NULL: nothing to free. */
    void (*free)(weft__handle *h);
    /* Closed only once everything else has gone: coroutines, which may
     * still be finishing with the connections. */
    bool late;
} weft__handle_ops;

struct weft__handle {
    weft__list node;
    const weft__handle_ops *ops;
};

/* Registers h (live). */
void weft__handle_add(weft_reactor *r, weft__handle *h, const weft__handle_ops *ops);
/* Unregisters h; safe on a handle never added, or removed already. */
void weft__handle_remove(weft__handle *h);
/* h has ended but its memory is still the user's to free (a stopped port):
 * weft_reactor_free frees it with ops->free unless removed first. */
void weft__handle_retire(weft_reactor *r, weft__handle *h);

/* The shutdown's last step, after the "during" triggers: closes every
 * handle (the connections and ports first, gracefully, aborting what
 * remains when the grace is over; then the late ones), and calls done(arg)
 * from the loop once none is left (or they would not end). */
void weft__reactor_disconnect(weft_reactor *r, weft_call_fn done, void *arg);


/*
 * Connection counters (stats.h): a block per listening port, and the
 * reactor's own for every other connection and for ports gone. Each
 * transport points at one block and counts into it with plain adds (no
 * allocation, no call). A block lives while its port or any transport
 * pointing at it does (refs); the last to let go adds its counts to the
 * reactor's block and frees it, so the totals never go back. The
 * reactor's block holds a reference of its own and is never freed.
 */
enum { WEFT__COUNTERS_NAME = 128 };
typedef struct weft__counters {
    weft_conn_stats s;
    weft__list link; /* in the reactor's list of blocks */
    weft_reactor *r;
    size_t refs;
    bool listening;
    char name[WEFT__COUNTERS_NAME]; /* the port's address */
} weft__counters;

/* The reactor's own block; the caller takes no reference. */
weft__counters *weft__reactor_counters(weft_reactor *r);
/* A port's block, named, listening, with one reference (the port's); NULL
 * when out of memory. */
weft__counters *weft__counters_new(weft_reactor *r, const char *name);
static inline void weft__counters_ref(weft__counters *c)
{
    c->refs++;
}
void weft__counters_unref(weft__counters *c);

/*
 * The sizes bytes move in, named once. IO_CHUNK: what one read takes into
 * the reactor's shared buffer, and what a file range or a bytes fount hands
 * on at a time - 64 KiB, the size of the largest UDP datagram and of a
 * socket's default buffer, so one read empties what one wake-up brings.
 * HIGH_WATER / LOW_WATER: a transport's write buffer pauses its producer
 * above 64 KiB queued and resumes it below 16 KiB (Twisted's bufferSize is
 * 64 KiB); the gap keeps a producer from flapping on every write.
 */
enum { WEFT__IO_CHUNK = 64 * 1024, WEFT__HIGH_WATER = 64 * 1024, WEFT__LOW_WATER = 16 * 1024 };

#endif
