/* SPDX-License-Identifier: MIT */
/*
 * The reactor: one event loop per thread, after Twisted's reactor and libuv's
 * uv_loop_t. It watches descriptors, runs timers (timer.h), queued calls and
 * signal handlers, and owns a logger.
 *
 * Loop order, one iteration (weft_reactor_iterate):
 *   1. update the cached time (weft_reactor_now);
 *   2. run the timers due by then, in time order, ties in scheduling order;
 *      timers scheduled by these callbacks wait for the next iteration;
 *   3. run the call_soon queue as it stood when this step began; what is
 *      queued meanwhile runs next iteration, so call_soon chains never
 *      starve I/O;
 *   4. poll for I/O, blocking until the next timer at most (not at all when
 *      calls are queued or the reactor is stopping), then run the ready
 *      descriptors' callbacks; calls from other threads and signal handlers
 *      run here, because they arrive through descriptors;
 *   5. the close step: the second half of closes made during this
 *      iteration (connection_lost deliveries, frees) runs here.
 *
 * Shutdown (weft_reactor_stop, SIGINT, SIGTERM), in order, as Twisted's:
 *   1. the "before" shutdown triggers (trigger.h), whose Deferreds are
 *      waited for (shutdown_timeout): services drain here, and the thread
 *      pool finishes its jobs;
 *   2. the "during" triggers;
 *   3. everything still alive ends: ports stop listening, pending connects
 *      are cancelled, connections are closed gracefully (what they have
 *      buffered is sent) and aborted when shutdown_grace is over; then
 *      coroutines still waiting are cancelled (their await returns
 *      WEFT_ECANCELED, so they can clean up);
 *   4. the "after" triggers; then weft_reactor_run returns.
 * weft_reactor_free ends whatever is still alive the same way, at once, so
 * a program that stops its loop and frees it leaks nothing.
 *
 * Threads: a reactor and everything attached to it belong to the thread that
 * runs it. The only call allowed from other threads is
 * weft_reactor_call_from_thread.
 *
 * Callbacks: every callback may add or remove any watcher, timer or call
 * (its own included), stop the reactor, and free objects it owns. A watcher
 * removed while events for it are pending in the same iteration is not
 * called; a descriptor closed and reopened with the same number in between
 * is not confused with the old one.
 */
#ifndef WEFT_REACTOR_H
#define WEFT_REACTOR_H

#include "base.h"
#include "log.h"

typedef enum weft_backend {
    WEFT_BACKEND_DEFAULT = 0, /* the WEFT_BACKEND environment variable, else epoll */
    WEFT_BACKEND_EPOLL,
    WEFT_BACKEND_POLL,
} weft_backend;

typedef struct weft_reactor_options {
    weft_backend backend;
    /* Time moves only through weft_clock_advance (testing.h); the reactor
     * never sleeps waiting for a timer. For tests. */
    bool fake_clock;
    /* Leave SIGINT and SIGTERM alone. By default weft_reactor_run makes them
     * stop the reactor gracefully, unless a handler is set for them. */
    bool no_signal_handlers;
    /* How long shutdown waits for "before" triggers' Deferreds (trigger.h);
     * 0 means 30 seconds. */
    double shutdown_timeout;
    /* How long connections still open at shutdown may take to send what
     * they have buffered before they are aborted; 0 means 5 seconds,
     * negative none (abort at once, as always on a fake clock). */
    double shutdown_grace;
} weft_reactor_options;

/*
 * Creates a reactor. opts may be NULL for the defaults (copied). On success
 * stores it in *out and returns 0; otherwise returns WEFT_ENOMEM, WEFT_EINVAL
 * (an unknown backend, WEFT_BACKEND included) or the error of the system
 * call that failed (-EMFILE...). Free with weft_reactor_free.
 */
WEFT_API WEFT_NODISCARD int weft_reactor_new(const weft_reactor_options *opts, weft_reactor **out);

/*
 * Frees the reactor. What is still alive on it ends first, as in step 3 of
 * shutdown but at once: connections are aborted (their connection_lost and
 * destroy run now), ports close (a port not yet stopped is freed here),
 * coroutines are cancelled. Then pending timers and queued calls are
 * dropped without running (their drop functions run: weft_call_later_full,
 * weft_reactor_call_soon_full), watchers and signal handlers are removed
 * (descriptors watched with add_reader/add_writer stay open: they are the
 * caller's), the signal mask is restored. Must not be called while the
 * reactor runs. NULL does nothing.
 */
WEFT_API void weft_reactor_free(weft_reactor *r);

/* The backend in use. */
WEFT_API weft_backend weft_reactor_backend(const weft_reactor *r);
WEFT_API const char *weft_backend_name(weft_backend backend);

/* The reactor's logger: owned by the reactor, valid until it is freed. */
WEFT_API weft_logger *weft_reactor_logger(weft_reactor *r);

/*
 * Runs until stopped: fires the "startup" system event, iterates, and when
 * weft_reactor_stop is called fires "shutdown" (trigger.h) and returns 0
 * after its last phase. Returns WEFT_ERUNNING when already running.
 */
WEFT_API int weft_reactor_run(weft_reactor *r);

/*
 * Asks a running reactor to stop: the "shutdown" event starts in the next
 * iteration and run returns when it is over. Safe from any callback; calling
 * it again while stopping does nothing. Returns WEFT_ENOTRUNNING when the
 * reactor is not in weft_reactor_run.
 */
WEFT_API int weft_reactor_stop(weft_reactor *r);

/* Whether weft_reactor_run is active (stopping included). */
WEFT_API bool weft_reactor_running(const weft_reactor *r);

/*
 * Runs one iteration (the loop order above), blocking for I/O at most
 * timeout seconds (0: not at all; negative: until an event or the next
 * timer). Returns 0 or the poll error. Usable with or without run.
 */
WEFT_API int weft_reactor_iterate(weft_reactor *r, double timeout);

/* Seconds on CLOCK_MONOTONIC (or on the fake clock), cached at the start of
 * each iteration, as libuv's uv_now. */
WEFT_API double weft_reactor_now(const weft_reactor *r);

/* Refreshes the cached time; for callbacks that ran long. */
WEFT_API void weft_reactor_update_time(weft_reactor *r);

/* ---- descriptors (Twisted's IReactorFDSet) ---- */

enum {
    WEFT_READABLE = 1u << 0,
    WEFT_WRITABLE = 1u << 1,
    WEFT_HANGUP = 1u << 2, /* peer closed; reported to readers and writers */
    WEFT_ERROR = 1u << 3,  /* error pending on the descriptor; likewise */
};

/* Called when fd is ready; events holds WEFT_READABLE or WEFT_WRITABLE and
 * possibly WEFT_HANGUP / WEFT_ERROR. Level-triggered: called again next
 * iteration while the condition holds. */
typedef void (*weft_fd_fn)(void *arg, int fd, unsigned events);

/*
 * Calls fn(arg, fd, events) whenever fd is readable (or writable), until
 * removed. Adding again replaces fn and arg. Returns 0, WEFT_EINVAL (fd < 0),
 * WEFT_ENOMEM, or the backend's error (-EPERM for a regular file under
 * epoll). The descriptor stays the caller's: remove its watchers before
 * closing it.
 */
WEFT_API WEFT_NODISCARD int weft_reactor_add_reader(weft_reactor *r, int fd, weft_fd_fn fn, void *arg);
WEFT_API WEFT_NODISCARD int weft_reactor_add_writer(weft_reactor *r, int fd, weft_fd_fn fn, void *arg);

/* Stops watching; WEFT_ENOENT when nothing was watching. Safe from inside
 * any callback, that watcher's own included. */
WEFT_API int weft_reactor_remove_reader(weft_reactor *r, int fd);
WEFT_API int weft_reactor_remove_writer(weft_reactor *r, int fd);

/* ---- queued calls ---- */

/* Runs fn(arg) in the next iteration's call_soon step (FIFO). Returns 0 or
 * WEFT_ENOMEM, in which case fn never runs. */
WEFT_API WEFT_NODISCARD int weft_reactor_call_soon(weft_reactor *r, weft_call_fn fn, void *arg);
/* As call_soon, and drop(arg) (may be NULL) runs instead of fn if the
 * reactor is freed first: for an arg that holds references. */
WEFT_API WEFT_NODISCARD int weft_reactor_call_soon_full(weft_reactor *r, weft_call_fn fn, void *arg,
                                                        weft_destroy_fn drop);

/*
 * From any thread: runs fn(arg) on the reactor's thread soon, waking it if
 * it sleeps. Calls from one thread run in the order they were made. Returns
 * 0 or WEFT_ENOMEM (fn never runs). The reactor must outlive every call.
 * Calls still queued when the reactor is freed are dropped.
 */
WEFT_API WEFT_NODISCARD int weft_reactor_call_from_thread(weft_reactor *r, weft_call_fn fn, void *arg);

/* ---- signals ---- */

typedef void (*weft_signal_fn)(void *arg, int signo);

/*
 * Runs fn(arg, signo) on the loop when signo arrives (through signalfd; the
 * signal is blocked in the calling thread from now until it is removed).
 * One handler per signal and reactor; adding again replaces it. Threads
 * created afterwards inherit the blocked mask, which is what keeps the
 * signal for the reactor. Returns 0, WEFT_EINVAL (a signal that cannot be
 * caught), WEFT_ENOMEM or a system error.
 */
WEFT_API WEFT_NODISCARD int weft_reactor_add_signal(weft_reactor *r, int signo, weft_signal_fn fn, void *arg);

/* Removes the handler and unblocks the signal; WEFT_ENOENT if none. */
WEFT_API int weft_reactor_remove_signal(weft_reactor *r, int signo);

/* ---- what is alive (uv_walk) ---- */

/* Called once per thing alive; both strings are borrowed for the call. */
typedef void (*weft_walk_fn)(void *arg, const char *kind, const char *description);

/*
 * For debugging: calls fn for everything alive on r - connections ("tcp",
 * "unix", "tls"... with their addresses), ports, pending connects, UDP
 * sockets, coroutines, descriptors watched directly, pending timers and
 * queued calls - and returns how many there were. fn must not change r.
 */
WEFT_API size_t weft_reactor_walk(weft_reactor *r, weft_walk_fn fn, void *arg);

#endif
