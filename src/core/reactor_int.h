/* SPDX-License-Identifier: MIT */
/*
 * The reactor's insides, shared by the files of src/core: the descriptor
 * table, the backend contract, the timer heap and the call queues. Nothing
 * outside src/core includes this; upper layers use internal.h.
 */
#ifndef WEFT_CORE_REACTOR_INT_H
#define WEFT_CORE_REACTOR_INT_H

#include <pthread.h>
#include <signal.h>

#include "internal.h"
#include "weft/reactor.h"
#include "weft/timer.h"

/* What one descriptor is watched for. `gen` changes each time the descriptor
 * starts being watched, and travels with its events through the backend, so
 * an event queued for an earlier registration of the same number is
 * recognised as stale and dropped. */
typedef struct weft__fdslot {
    weft_fd_fn rfn, wfn;
    void *rarg, *warg;
    uint32_t gen;
    uint8_t interest; /* WEFT_READABLE | WEFT_WRITABLE registered with the backend */
    int32_t pidx;     /* poll backend: index in its pollfd array */
} weft__fdslot;

typedef struct weft__event {
    int fd;
    uint32_t gen;
    unsigned events;
} weft__event;

#define WEFT__MAX_EVENTS 256

/* The backend contract: a handful of functions, one file each. */
typedef struct weft__backend_ops {
    weft_backend kind;
    int (*init)(weft_reactor *r);
    void (*fini)(weft_reactor *r);
    /* Makes the backend watch fd for `interest` (0: not at all), given what it
     * watched before. */
    int (*update)(weft_reactor *r, int fd, unsigned old_interest, unsigned interest, uint32_t gen);
    /* Waits up to timeout_ns (negative: no limit) and stores ready events;
     * returns how many, 0 on timeout or EINTR, or a negative error. */
    int (*wait)(weft_reactor *r, int64_t timeout_ns, weft__event *out, int max);
} weft__backend_ops;

extern const weft__backend_ops weft__epoll_ops;
extern const weft__backend_ops weft__poll_ops;

typedef struct weft__call {
    weft_call_fn fn;
    void *arg;
    weft_destroy_fn drop; /* runs instead of fn when the call is dropped */
} weft__call;

typedef struct weft__callvec {
    weft__call *v;
    size_t len, cap;
} weft__callvec;

int weft__callvec_push(weft__callvec *q, weft_call_fn fn, void *arg, weft_destroy_fn drop);
/* Drops every call (their drop functions run) and frees the vector. */
void weft__callvec_drop(weft__callvec *q);

/* A timer's slot; handles name a slot and its generation. */
typedef struct weft__timer_slot {
    weft_call_fn fn;
    void *arg;
    weft_destroy_fn drop; /* runs instead of fn when the timer is cancelled or dropped */
    uint32_t gen;
    uint32_t heap_idx; /* position in the heap, or the next free slot when free */
    bool pending;
} weft__timer_slot;

/* Heap entries carry the key, so sifting touches only the heap array. */
typedef struct weft__heap_ent {
    int64_t when;
    uint32_t seq; /* scheduling order, compared modulo 2^32 */
    uint32_t slot;
} weft__heap_ent;

struct weft_reactor {
    const weft__backend_ops *backend;
    int backend_fd;          /* epoll */
    bool no_pwait2;          /* epoll_pwait2 said ENOSYS once: do not ask again */
    struct pollfd *pfds;     /* poll */
    size_t npfds, cap_pfds;

    weft__fdslot *fds;
    size_t nfds;

    int64_t now_ns;
    bool fake_clock;

    /* timers */
    weft__timer_slot *tslots;
    uint32_t ntslots, free_tslot;
    weft__heap_ent *heap;
    uint32_t nheap, cap_heap;
    uint32_t timer_seq;

    /* call_soon: `soon` fills while a snapshot of it runs; `spare` keeps a
     * drained buffer for reuse. */
    weft__callvec soon, spare;

    /* call_from_thread */
    pthread_mutex_t cft_lock;
    weft__callvec cft;
    bool cft_wake_pending;
    int wake_fd;

    /* signals */
    int signal_fd;
    sigset_t signals;      /* handled through signal_fd */
    sigset_t was_blocked;  /* of those, blocked before we blocked them */
    struct {
        weft_signal_fn fn;
        void *arg;
    } sig[_NSIG];

    /* running and stopping */
    bool running, stopping, shutdown_pending, stop_now, no_signal_handlers;
    bool wake_now; /* weft__reactor_wake: the next poll does not block */
    double shutdown_timeout;
    double shutdown_grace;
    weft__reactor_hook hook;

    /* handles (internal.h): live ones, and ended ones the user may still
     * free (stopped ports) */
    weft__list handles, retired;
    /* the shutdown's disconnect step (handle.c) */
    struct {
        bool active, grace_over;
        unsigned rounds;
        weft_timer timer;
        weft_call_fn done;
        void *arg;
    } dc;
    struct {
        void *state;
        weft_destroy_fn free;
    } ext[WEFT__EXT_COUNT];

    /* the close step: posts in order, appended at the tail */
    weft__post *posts, **posts_tail;

    void *read_buf;

    weft_logger *logger;

    /* stats.c: the reactor's own counters and every port's block; when it
     * was made; the loop lag timer and its figures (nanoseconds) */
    weft__counters counters;
    weft__list counter_blocks;
    int64_t born_ns;
    double born_wall;
    struct {
        weft_timer timer;
        int64_t interval, due, recent, max;
        uint64_t samples;
    } lag;
};

/* timer.c */
void weft__timers_fini(weft_reactor *r);
/* Runs due timers. With `all`, also those scheduled meanwhile that fall due
 * (the fake clock's advance); otherwise only those scheduled before. */
void weft__timers_run(weft_reactor *r, bool all);
/* Nanoseconds until the next timer, or -1 when there is none. */
int64_t weft__timers_next(const weft_reactor *r);

/* signal.c */
void weft__signals_init(weft_reactor *r);
void weft__signals_fini(weft_reactor *r);
/* The handler weft_reactor_run gives SIGINT and SIGTERM when the program
 * has none: fn(r, signo), given by the reactor (which it stops). */
int weft__signals_default_install(weft_reactor *r, weft_signal_fn fn);
void weft__signals_default_remove(weft_reactor *r, weft_signal_fn fn);

/* watch.c: calls a ready descriptor's watchers. */
void weft__reactor_dispatch(weft_reactor *r, const weft__event *ev);

/* calls.c: runs the call_soon queue as it stands when called; runs the
 * close step's posts as they stand. */
void weft__reactor_run_soon(weft_reactor *r);
void weft__reactor_run_posts(weft_reactor *r);

/* handle.c */
void weft__handles_init(weft_reactor *r);
/* After each iteration while the disconnect step is under way. */
void weft__disconnect_step(weft_reactor *r);
/* weft_reactor_free: ends every handle still here, frees the retired. */
void weft__handles_fini(weft_reactor *r);

/* stats.c */
void weft__stats_init(weft_reactor *r);

/* thread.c */
int weft__cft_init(weft_reactor *r);
void weft__cft_fini(weft_reactor *r);

int64_t weft__monotonic_ns(void);

#endif
