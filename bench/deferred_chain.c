/* SPDX-License-Identifier: MIT */
/*
 * Deferred chains, weft against Twisted: ITERS times, make a Deferred, add
 * CHAIN callbacks, fire it, drop it. Each callback adds one to the value it
 * is given and returns it, as bench/deferred_twisted.py does with Twisted's
 * Deferred. Reports nanoseconds per callback, best of REPS repetitions.
 *
 * Usage: deferred_chain [TWISTED_NS_PER_CALLBACK] [--iters N] [--reps N]
 * With the Twisted figure (printed by deferred_twisted.py, run by bench/run),
 * prints the full comparison line; without it, weft's figure alone.
 */
#include <errno.h>

#include "bench.h"
#include "weft/deferred.h"
#include "weft/reactor.h"

enum { CHAIN = 10, DEFAULT_ITERS = 1000000, DEFAULT_REPS = 5 };

static weft_result add_one(void *arg, weft_result r)
{
    (void)arg;
    return weft_ok((void *)((uintptr_t)r.value + 1), NULL);
}

static double run_once(weft_reactor *r, long iters)
{
    double t0 = bench_now();
    for (long i = 0; i < iters; i++) {
        weft_deferred *d = weft_deferred_new(r);
        if (!d)
            bench_die("weft_deferred_new", 0);
        for (int k = 0; k < CHAIN; k++) {
            int err = weft_deferred_add_callback(d, add_one, NULL);
            if (err < 0)
                bench_die("weft_deferred_add_callback", err);
        }
        int err = weft_deferred_callback(d, NULL, NULL);
        if (err < 0)
            bench_die("weft_deferred_callback", err);
        if (i == iters - 1) {
            weft_result res;
            if (!weft_deferred_peek(d, &res) || (uintptr_t)res.value != CHAIN)
                bench_die("the chain did not run through", 0);
        }
        weft_deferred_unref(d);
    }
    return bench_now() - t0;
}

static void usage(void)
{
    fprintf(stderr, "usage: deferred_chain [TWISTED_NS] [--iters N] [--reps N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long iters = DEFAULT_ITERS;
    int reps = DEFAULT_REPS;
    double peer = 0;
    int have_peer = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            iters = atol(argv[++i]);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            char *end;
            errno = 0;
            peer = strtod(argv[i], &end);
            if (errno || end == argv[i] || *end || peer <= 0)
                usage();
            have_peer = 1;
        }
    }
    if (iters < 1 || reps < 1)
        usage();

    weft_reactor_options o = {.no_signal_handlers = true};
    weft_reactor *r;
    int err = weft_reactor_new(&o, &r);
    if (err < 0)
        bench_die("weft_reactor_new", err);
    double best = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        double t = run_once(r, iters);
        best = t < best ? t : best;
    }
    weft_reactor_free(r);

    double ns = best * 1e9 / ((double)iters * CHAIN);
    if (have_peer)
        printf("deferred_chain weft=%.1f twisted=%.1f unit=ns/callback ratio=%.2f\n", ns, peer, peer / ns);
    else
        printf("deferred_chain weft=%.1f unit=ns/callback\n", ns);
    return 0;
}
