/* SPDX-License-Identifier: MIT */
/*
 * stats.h: the reactor's connection counters (the blocks internal.h
 * describes), the loop lag timer, and the process's figures read from the
 * system when asked.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "reactor_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

void weft__stats_init(weft_reactor *r)
{
    r->counters.r = r;
    r->counters.refs = 1; /* the reactor's: never freed */
    weft__list_init(&r->counter_blocks);
    r->born_ns = r->now_ns;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->born_wall = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

weft__counters *weft__reactor_counters(weft_reactor *r)
{
    return &r->counters;
}

weft__counters *weft__counters_new(weft_reactor *r, const char *name)
{
    weft__counters *c = weft_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->r = r;
    c->refs = 1;
    c->listening = true;
    snprintf(c->name, sizeof c->name, "%s", name);
    weft__list_push_back(&r->counter_blocks, &c->link);
    return c;
}

static void add(weft_conn_stats *to, const weft_conn_stats *from)
{
    to->accepted += from->accepted;
    to->open += from->open;
    to->bytes_in += from->bytes_in;
    to->bytes_out += from->bytes_out;
    for (size_t i = 0; i < sizeof to->http_responses / sizeof to->http_responses[0]; i++)
        to->http_responses[i] += from->http_responses[i];
}

void weft__counters_unref(weft__counters *c)
{
    if (--c->refs > 0)
        return;
    /* Only a port's block gets here (the reactor's keeps its own
     * reference); nothing of it is open any more. */
    add(&c->r->counters.s, &c->s);
    weft__list_remove(&c->link);
    weft_free(c);
}

/* ---- reading them ---- */

static weft__counters *block_of(weft__list *l)
{
    return WEFT_CONTAINER_OF(l, weft__counters, link);
}

size_t weft_reactor_port_stats(weft_reactor *r, weft_port_stats_fn fn, void *arg)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (weft__list *l = r->counter_blocks.next; l != &r->counter_blocks; l = l->next) {
            const weft__counters *c = block_of(l);
            if (c->listening == (pass == 0)) {
                fn(arg, c->name, c->listening, &c->s);
                n++;
            }
        }
    return n;
}

/* The resident set from /proc/self/statm (its second field, in pages). */
static uint64_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f)
        return 0;
    unsigned long long size, resident;
    int got = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

/* Entries of /proc/self/fd, less the one the listing itself holds. */
static uint64_t open_descriptors(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

void weft_reactor_stats_get(weft_reactor *r, weft_reactor_stats *out)
{
    memset(out, 0, sizeof *out);
    int64_t now = r->fake_clock ? r->now_ns : weft__monotonic_ns();
    out->uptime = (double)(now - r->born_ns) / 1e9;
    out->started = r->born_wall;
    out->all = r->counters.s;
    for (weft__list *l = r->counter_blocks.next; l != &r->counter_blocks; l = l->next) {
        const weft__counters *c = block_of(l);
        add(&out->all, &c->s);
        out->ports += c->listening;
    }
    out->lag_recent = (double)r->lag.recent / 1e9;
    out->lag_max = (double)r->lag.max / 1e9;
    out->lag_samples = r->lag.samples;
    out->rss = resident_bytes();
    out->open_fds = open_descriptors();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        out->max_fds = (uint64_t)rl.rlim_cur;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out->cpu_seconds = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    out->pid = (int)getpid();
}

/* ---- loop lag ---- */

static void lag_tick(void *arg);

static int lag_arm(weft_reactor *r)
{
    r->lag.due = r->now_ns + r->lag.interval;
    return weft_call_later(r, (double)r->lag.interval / 1e9, lag_tick, r, &r->lag.timer);
}

/* A timer never runs early: how late it is, is how long the loop was kept
 * from it (callbacks that ran long, or a host that did not schedule us). */
static void lag_tick(void *arg)
{
    weft_reactor *r = arg;
    r->lag.timer.id = 0;
    int64_t late = r->now_ns > r->lag.due ? r->now_ns - r->lag.due : 0;
    r->lag.recent = late;
    if (late > r->lag.max)
        r->lag.max = late;
    r->lag.samples++;
    if (lag_arm(r) < 0) {
        r->lag.interval = 0;
        weft_log(r->logger, WEFT_LOG_WARN, "weft.reactor", "loop lag: no memory for the next measure; stopped");
    }
}

int weft_reactor_measure_lag(weft_reactor *r, double interval)
{
    if (isnan(interval))
        return WEFT_EINVAL;
    if (interval == 0 && r->lag.interval)
        return 0; /* measuring already, at the interval someone chose */
    weft_timer_cancel(r, r->lag.timer);
    r->lag.timer.id = 0;
    if (interval < 0) {
        r->lag.interval = 0;
        return 0;
    }
    int64_t ns;
    int err = weft__seconds_to_ns(interval > 0 ? interval : 0.5, &ns);
    if (err < 0)
        return err;
    r->lag.interval = ns > 0 ? ns : 1;
    if ((err = lag_arm(r)) < 0)
        r->lag.interval = 0;
    return err;
}
