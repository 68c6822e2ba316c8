/* SPDX-License-Identifier: MIT */
/*
 * Workers under a supervisor, as nginx's master runs its workers, with
 * Twisted's ProcessMonitor's restart backoff: the supervisor holds the
 * listening sockets (bound by the caller) and runs N worker processes that
 * inherit them, each with its own reactor, all accepting on the same
 * sockets.
 *
 * The hand-over is systemd's socket activation, so one worker program runs
 * under systemd and under the supervisor alike: the sockets are the
 * worker's descriptors 3, 4, ... with LISTEN_FDS=n, LISTEN_FDNAMES=a:b:...
 * and LISTEN_PID=the worker's own pid (sd_listen_fds checks it). A worker
 * says it is ready with sd_notify's READY=1 on the unix datagram socket
 * NOTIFY_SOCKET names, which the supervisor creates (an abstract name) and
 * reads with SO_PASSCRED, so a datagram counts only for the worker whose
 * pid the kernel vouches for. LISTEN_PID must be set in the child itself:
 * posix_spawn runs no code there, so a worker is started through
 * `/bin/sh -c 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"' PATH ARGS`
 * (the shell execs the worker in the same process, so $$ is its pid; the
 * worker's argv[0] is then PATH, and a program that cannot be run shows as
 * a worker exiting with the shell's status 127).
 *
 * The sockets are shared, not per worker (no SO_REUSEPORT): every worker
 * accepts from the one queue of each socket. So a worker that closes its
 * copy - stopping, replaced, killed - loses nothing that was queued: what
 * it has not accepted stays in the queue for the others, and the socket
 * never closes while the supervisor holds it, so no connection is refused
 * either. (With SO_REUSEPORT each worker has its own queue, and what is
 * queued on a closing worker's socket is reset - the known
 * reset-on-reload problem.) The supervisor makes the sockets non-blocking;
 * that flag belongs to the socket, so the workers see it too, and a worker
 * woken for a connection another took gets EAGAIN instead of blocking.
 *
 * Life of a worker: started, then ready (READY=1 within ready_timeout, or
 * it is killed with SIGKILL: a worker that never got ready serves nothing
 * to drain). One that dies unexpectedly is logged (its exit status or
 * signal) and restarted: at once when it was ready and had lived
 * min_uptime, else after a delay growing with each quick death
 * (weft_backoff_delay: 1 s growing to a cap by default), as procmon.
 * Stopping a worker is SIGTERM (the worker stops accepting and finishes
 * its connections), then SIGKILL after `grace` seconds.
 *
 * Ownership: the supervisor copies the options (argv, envp, names) and
 * duplicates the descriptors (the caller's stay the caller's to close). It
 * belongs to its reactor's thread. The Deferreds it returns are the
 * caller's.
 */
#ifndef WEFT_SUPERVISOR_H
#define WEFT_SUPERVISOR_H

#include "base.h"
#include "client_service.h"
#include "deferred.h"

typedef struct weft_supervisor weft_supervisor;

typedef struct weft_supervisor_options {
    /* The worker program (a path, or a name looked up in PATH), and its
     * arguments (argv[0] first, NULL-terminated). */
    const char *path;
    char *const *argv;
    /* The workers' environment, NULL-terminated; NULL: the supervisor's.
     * LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES and NOTIFY_SOCKET in it are
     * replaced by the supervisor's. */
    char *const *envp;
    /* The listening sockets, bound and listening; names (NULL, or one per
     * socket, without ':') become LISTEN_FDNAMES ("unknown" otherwise, as
     * systemd). At most 64. */
    const int *fds;
    const char *const *names;
    size_t nfds;
    unsigned workers;     /* 0: 1 */
    double ready_timeout; /* from start to READY=1; 0: 30 s */
    double grace;         /* from SIGTERM to SIGKILL; 0: 10 s */
    double min_uptime;    /* ready this long, a death restarts at once; 0: 1 s */
    weft_backoff backoff; /* restart delays after quick deaths (jitter unused) */
} weft_supervisor_options;

/*
 * A supervisor on r, not started. Stores it in *out and returns 0, or
 * WEFT_EINVAL (no path or argv, no sockets, too many, a name with ':'),
 * WEFT_ENOMEM, or the error of the notify socket's creation.
 */
WEFT_API WEFT_NODISCARD int weft_supervisor_new(weft_reactor *r, const weft_supervisor_options *opts,
                                                weft_supervisor **out);

/*
 * Starts the workers. The Deferred fires with none once every one has said
 * READY=1 - the moment a runner tells its own supervisor (systemd, or the
 * old supervisor during an upgrade) READY=1 - or errbacks with why one
 * could not get there (it died, or timed out; the supervisor goes on
 * restarting it with backoff: the caller decides whether to stop). Also
 * adds a "before shutdown" trigger, so stopping the reactor (SIGTERM,
 * SIGINT) stops the workers first. NULL when out of memory.
 */
WEFT_API weft_deferred *weft_supervisor_start(weft_supervisor *s);

/*
 * A rolling replace (what a runner does on SIGHUP): worker by worker, a new
 * one is started and, once it is ready, the old one is sent SIGTERM and
 * drains while the next is replaced - there is always a ready worker per
 * slot, and since they all accept on the same sockets no request is lost
 * and no connection refused. Fires with none once every worker has been
 * replaced. A new worker that dies or is not ready in time is killed, its
 * old worker kept, the reload abandoned (the workers after it keep their
 * old code) and logged; the Deferred errbacks (WEFT_ETIMEDOUT, or
 * WEFT_EFAILED for a death). WEFT_ERUNNING while a reload or an upgrade
 * runs, WEFT_ENOTRUNNING before start, WEFT_ECANCELED when the supervisor
 * stops (or has stopped) first. NULL when out of memory.
 */
WEFT_API weft_deferred *weft_supervisor_reload(weft_supervisor *s);

/*
 * A binary upgrade (what a runner does on SIGUSR2), nginx's scheme with
 * sd_notify's handshake: `path` (the supervisor's own program, typically
 * rebuilt in place) is started with `argv` and the listening sockets passed
 * on as to a worker (descriptors 3..., LISTEN_FDS, LISTEN_FDNAMES,
 * LISTEN_PID) and NOTIFY_SOCKET naming this supervisor's socket; its
 * standard streams are this process's. The new supervisor adopts the
 * sockets, starts its own workers, and sends READY=1 when they are all
 * ready (what weft_supervisor_start's Deferred says). Then this
 * supervisor's workers are stopped (SIGTERM, drained, SIGKILL after grace)
 * and the Deferred fires with the new supervisor's pid (an int stored in
 * the value pointer: (int)(intptr_t)value): the caller now exits (0) and
 * the new supervisor, no longer watched, is adopted by init or the
 * nearest subreaper. Until then the old workers serve. If the new one dies
 * or is not ready within ready_timeout, it is killed and the old
 * supervisor goes on serving: the Deferred errbacks (WEFT_ETIMEDOUT,
 * WEFT_EFAILED); the refusals are those of weft_supervisor_reload. NULL
 * when out of memory.
 */
WEFT_API weft_deferred *weft_supervisor_upgrade(weft_supervisor *s, const char *path, char *const argv[]);

/*
 * Stops: no more restarts, a reload or upgrade under way is abandoned
 * (errback WEFT_ECANCELED, the new process killed), every worker is sent
 * SIGTERM and, after grace, SIGKILL. The Deferred fires with none once all
 * have exited. Stopping again returns a Deferred for the same end. NULL
 * when out of memory.
 */
WEFT_API weft_deferred *weft_supervisor_stop(weft_supervisor *s);

/* The pids of the workers serving now (ready, not stopping), up to max of
 * them in pids; returns how many there are. */
WEFT_API size_t weft_supervisor_pids(const weft_supervisor *s, int *pids, size_t max);

/*
 * Frees the supervisor and its descriptors. Meant for after its stop (or
 * the reactor's shutdown) is over; workers still alive then are killed with
 * SIGKILL and reaped here, iterating the reactor until they are. Must not
 * be called from the reactor's callbacks. NULL is ignored.
 */
WEFT_API void weft_supervisor_free(weft_supervisor *s);

#endif
