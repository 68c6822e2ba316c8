/* SPDX-License-Identifier: MIT */
/*
 * What a reactor has done, for `weft ctl status`, /metrics (metrics.h) and
 * any program that wants its own figures: connections accepted and open per
 * listening port, bytes read and written, HTTP responses by status class,
 * how late the loop runs its timers, and the process's memory and
 * descriptors.
 *
 *     weft_reactor_stats s;
 *     weft_reactor_stats_get(r, &s);
 *     printf("%" PRIu64 " open, %" PRIu64 " bytes in\n", s.all.open, s.all.bytes_in);
 *
 * The counters are plain integers bumped where the work is done (a port's
 * accept, a socket's read and write, the HTTP server's finished response):
 * counting allocates nothing and costs a few instructions. Each listening
 * port has its own counters, which live on after the port stops as long as
 * connections it accepted are open; when the last of those closes they are
 * added to the reactor's, so the totals never go back. Connections no port
 * accepted (outgoing ones, process pipes) count in the totals only.
 *
 * Bytes are counted at the socket: a TLS connection's are its ciphertext.
 * UDP is not counted. Loop lag is measured only once weft_reactor_measure_lag
 * has started it (the console and the metrics resource start it).
 *
 * Everything here runs on the reactor's thread; the structs are the
 * caller's.
 */
#ifndef WEFT_STATS_H
#define WEFT_STATS_H

#include "base.h"

typedef struct weft_port weft_port; /* socket.h */

/* Counters of connections: one port's, or all of a reactor's. */
typedef struct weft_conn_stats {
    uint64_t accepted;  /* connections accepted, since it began */
    uint64_t open;      /* of those, open now */
    uint64_t bytes_in;  /* bytes read from sockets */
    uint64_t bytes_out; /* bytes written to sockets */
    /* HTTP responses sent, by status / 100: [2] counts the 2xx, [5] the
     * 5xx; [6] to [9] the other three-digit codes a handler may choose,
     * [0] none. */
    uint64_t http_responses[10];
} weft_conn_stats;

typedef struct weft_reactor_stats {
    double uptime;         /* seconds since the reactor was made */
    double started;        /* when, in seconds since the Unix epoch */
    weft_conn_stats all;   /* every connection, through ports or not */
    size_t ports;          /* ports listening now */
    /* Loop lag: how late the measuring timer ran, in seconds. `recent` is
     * the last measure, `max` the largest since measuring began; both 0
     * and `lag_samples` 0 when lag is not measured. */
    double lag_recent, lag_max;
    uint64_t lag_samples;
    /* The process (not only this reactor): resident memory (bytes), open
     * descriptors and their limit, CPU time (user + system, seconds); 0
     * where the system would not say. */
    uint64_t rss;
    uint64_t open_fds, max_fds;
    double cpu_seconds;
    int pid;
} weft_reactor_stats;

/* Fills *out; reading /proc makes it a few system calls, so it is for
 * asking now and then, not per event. */
WEFT_API void weft_reactor_stats_get(weft_reactor *r, weft_reactor_stats *out);

/* One port's counters. */
WEFT_API void weft_port_stats(const weft_port *port, weft_conn_stats *out);

/*
 * Calls fn once per port with counters of its own, oldest first: those
 * listening, then those stopped whose connections are still open
 * (listening false). `name` is the address it listened on, as
 * weft_address_format writes it ("127.0.0.1:8080", "unix:/run/x.sock");
 * name and stats are borrowed for the call, and fn must not change r.
 * Returns how many there were.
 */
typedef void (*weft_port_stats_fn)(void *arg, const char *name, bool listening, const weft_conn_stats *stats);
WEFT_API size_t weft_reactor_port_stats(weft_reactor *r, weft_port_stats_fn fn, void *arg);

/*
 * Starts measuring loop lag: a timer every `interval` seconds that notes
 * how late it runs (the time callbacks kept the loop from it). 0: every 0.5
 * s, or as it is when measuring already. Again with another interval
 * changes it; a negative one stops measuring.
 * Returns 0, WEFT_EINVAL (NaN) or WEFT_ENOMEM. The timer is the reactor's:
 * freeing the reactor ends it.
 */
WEFT_API int weft_reactor_measure_lag(weft_reactor *r, double interval);

#endif
