/* SPDX-License-Identifier: MIT */
/*
 * Timers, weft against libuv, the same work in the same process:
 *
 *   timers_cancel  schedule N timers with pseudo-random timeouts of 1..1000 s
 *                  (so the heap really orders them), then cancel all N in
 *                  scheduling order;
 *   timers_fire    schedule N timers with pseudo-random timeouts of 0..10 ms
 *                  and run the loop until every one has fired.
 *
 * Both sides get the same timeout sequence, each in its native unit (weft
 * seconds as double, libuv milliseconds), converted before the clock starts.
 * Each repetition uses a fresh reactor / loop, so weft's growth of its timer
 * storage is timed; libuv's uv_timer_t array is the caller's, preallocated
 * and touched beforehand, as libuv users do. Only scheduling + cancelling
 * (or scheduling + firing) is timed, with CLOCK_MONOTONIC; the best of REPS
 * repetitions is reported, weft and libuv alternating.
 *
 * Usage: timers [--reps N] [--only weft|libuv] [--case cancel|fire]
 * (the options are for profiling one side under callgrind).
 */
#include <uv.h>

#include "bench.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/reactor.h"
#include "weft/timer.h"

enum { N = 1000000, DEFAULT_REPS = 5 };

typedef struct inputs {
    uint64_t *ms;  /* libuv timeouts */
    double *secs;  /* the same, for weft */
} inputs;

static void make_inputs(inputs *in, uint64_t seed, uint64_t min_ms, uint64_t max_ms)
{
    in->ms = bench_alloc(N, sizeof *in->ms);
    in->secs = bench_alloc(N, sizeof *in->secs);
    for (size_t i = 0; i < N; i++) {
        in->ms[i] = min_ms + bench_rand(&seed) % (max_ms - min_ms + 1);
        in->secs[i] = (double)in->ms[i] / 1e3;
    }
}

static void free_inputs(inputs *in)
{
    free(in->ms);
    free(in->secs);
}

/* ---- weft ---- */

static weft_reactor *weft_fresh(void)
{
    weft_reactor_options o = {.no_signal_handlers = true};
    weft_reactor *r;
    int err = weft_reactor_new(&o, &r);
    if (err < 0)
        bench_die("weft_reactor_new", err);
    return r;
}

static void weft_noop(void *arg)
{
    (void)arg;
}

static double weft_cancel(const inputs *in, weft_timer *handles)
{
    weft_reactor *r = weft_fresh();
    weft_reactor_update_time(r);
    double t0 = bench_now();
    for (size_t i = 0; i < N; i++) {
        int err = weft_call_later(r, in->secs[i], weft_noop, NULL, &handles[i]);
        if (err < 0)
            bench_die("weft_call_later", err);
    }
    for (size_t i = 0; i < N; i++) {
        int err = weft_timer_cancel(r, handles[i]);
        if (err < 0)
            bench_die("weft_timer_cancel", err);
    }
    double t = bench_now() - t0;
    if (weft_reactor_timer_count(r) != 0)
        bench_die("weft: timers left after cancelling", 0);
    weft_reactor_free(r);
    return t;
}

typedef struct fire_state {
    weft_deferred *all_fired;
    size_t fired;
} fire_state;

static void weft_count(void *arg)
{
    fire_state *st = arg;
    if (++st->fired == N)
        weft_deferred_callback(st->all_fired, NULL, NULL);
}

static double weft_fire(const inputs *in)
{
    weft_reactor *r = weft_fresh();
    fire_state st = {.all_fired = weft_deferred_new(r), .fired = 0};
    if (!st.all_fired)
        bench_die("weft_deferred_new", WEFT_ENOMEM);
    weft_reactor_update_time(r);
    double t0 = bench_now();
    for (size_t i = 0; i < N; i++) {
        int err = weft_call_later(r, in->secs[i], weft_count, &st, NULL);
        if (err < 0)
            bench_die("weft_call_later", err);
    }
    int err = weft_reactor_run_until(r, st.all_fired, -1);
    if (err < 0)
        bench_die("weft_reactor_run_until", err);
    double t = bench_now() - t0;
    if (st.fired != N || weft_reactor_timer_count(r) != 0)
        bench_die("weft: wrong number of timers fired", (int)st.fired);
    weft_deferred_unref(st.all_fired);
    weft_reactor_free(r);
    return t;
}

/* ---- libuv ---- */

static void uv_check(const char *what, int err)
{
    if (err < 0) {
        fprintf(stderr, "bench: %s: %s\n", what, uv_strerror(err));
        exit(1);
    }
}

static void uv_noop(uv_timer_t *t)
{
    (void)t;
}

static void uv_count(uv_timer_t *t)
{
    ++*(size_t *)t->loop->data;
}

/* Closes every handle and the loop, outside the timed part. */
static void uv_finish(uv_loop_t *loop, uv_timer_t *timers)
{
    for (size_t i = 0; i < N; i++)
        uv_close((uv_handle_t *)&timers[i], NULL);
    uv_check("uv_run", uv_run(loop, UV_RUN_DEFAULT));
    uv_check("uv_loop_close", uv_loop_close(loop));
}

static double libuv_cancel(const inputs *in, uv_timer_t *timers)
{
    uv_loop_t loop;
    uv_check("uv_loop_init", uv_loop_init(&loop));
    uv_update_time(&loop);
    double t0 = bench_now();
    for (size_t i = 0; i < N; i++) {
        uv_check("uv_timer_init", uv_timer_init(&loop, &timers[i]));
        uv_check("uv_timer_start", uv_timer_start(&timers[i], uv_noop, in->ms[i], 0));
    }
    for (size_t i = 0; i < N; i++)
        uv_check("uv_timer_stop", uv_timer_stop(&timers[i]));
    double t = bench_now() - t0;
    uv_finish(&loop, timers);
    return t;
}

static double libuv_fire(const inputs *in, uv_timer_t *timers)
{
    uv_loop_t loop;
    size_t fired = 0;
    uv_check("uv_loop_init", uv_loop_init(&loop));
    loop.data = &fired;
    uv_update_time(&loop);
    double t0 = bench_now();
    for (size_t i = 0; i < N; i++) {
        uv_check("uv_timer_init", uv_timer_init(&loop, &timers[i]));
        uv_check("uv_timer_start", uv_timer_start(&timers[i], uv_count, in->ms[i], 0));
    }
    uv_check("uv_run", uv_run(&loop, UV_RUN_DEFAULT));
    double t = bench_now() - t0;
    if (fired != N)
        bench_die("libuv: wrong number of timers fired", (int)fired);
    uv_finish(&loop, timers);
    return t;
}

/* ---- main ---- */

static double mops(double secs)
{
    return secs > 0 ? (double)N / secs / 1e6 : 0;
}

static void report(const char *name, double weft_best, double uv_best)
{
    double w = mops(weft_best), u = mops(uv_best);
    printf("%s weft=%.2f libuv=%.2f unit=Mops/s ratio=%.2f\n", name, w, u, u > 0 ? w / u : 0);
    fflush(stdout);
}

static void usage(void)
{
    fprintf(stderr, "usage: timers [--reps N] [--only weft|libuv] [--case cancel|fire]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int reps = DEFAULT_REPS;
    int do_weft = 1, do_uv = 1, do_cancel = 1, do_fire = 1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        const char *opt = argv[i], *val = argv[++i];
        if (strcmp(opt, "--reps") == 0) {
            reps = atoi(val);
            if (reps < 1)
                usage();
        } else if (strcmp(opt, "--only") == 0) {
            do_weft = strcmp(val, "weft") == 0;
            do_uv = strcmp(val, "libuv") == 0;
            if (!do_weft && !do_uv)
                usage();
        } else if (strcmp(opt, "--case") == 0) {
            do_cancel = strcmp(val, "cancel") == 0;
            do_fire = strcmp(val, "fire") == 0;
            if (!do_cancel && !do_fire)
                usage();
        } else {
            usage();
        }
    }

    weft_timer *handles = bench_alloc(N, sizeof *handles);
    uv_timer_t *timers = bench_alloc(N, sizeof *timers);

    if (do_cancel) {
        inputs in;
        make_inputs(&in, 0x5eed0001, 1000, 1000000);
        double wb = 1e30, ub = 1e30;
        for (int rep = 0; rep < reps; rep++) {
            if (do_weft) {
                double t = weft_cancel(&in, handles);
                wb = t < wb ? t : wb;
            }
            if (do_uv) {
                double t = libuv_cancel(&in, timers);
                ub = t < ub ? t : ub;
            }
        }
        report("timers_cancel", do_weft ? wb : 0, do_uv ? ub : 0);
        free_inputs(&in);
    }

    if (do_fire) {
        inputs in;
        make_inputs(&in, 0x5eed0002, 0, 10);
        double wb = 1e30, ub = 1e30;
        for (int rep = 0; rep < reps; rep++) {
            if (do_weft) {
                double t = weft_fire(&in);
                wb = t < wb ? t : wb;
            }
            if (do_uv) {
                double t = libuv_fire(&in, timers);
                ub = t < ub ? t : ub;
            }
        }
        report("timers_fire", do_weft ? wb : 0, do_uv ? ub : 0);
        free_inputs(&in);
    }

    free(handles);
    free(timers);
    return 0;
}
