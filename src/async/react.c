/* SPDX-License-Identifier: MIT */
/* weft_react (react.h): Twisted's task.react over a coroutine main. */
#include <stdio.h>
#include <string.h>

#include "weft/coro.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/react.h"
#include "weft/trigger.h"

typedef struct program {
    weft_reactor *r;
    weft_main_fn main;
    int argc;
    char **argv;
    weft_result result;
    bool done;
    bool stopped_first; /* the reactor began to stop before main finished */
} program;

static weft_result run_main(void *arg)
{
    program *p = arg;
    return p->main(p->r, p->argc, p->argv);
}

static weft_result finished(void *arg, weft_result result)
{
    program *p = arg;
    p->result = result;
    p->done = true;
    weft_reactor_stop(p->r); /* nothing to do when it is stopping already */
    return weft_none();
}

static weft_deferred *stopping(void *arg)
{
    program *p = arg;
    if (!p->done)
        p->stopped_first = true;
    return NULL;
}

static void start(void *arg)
{
    program *p = arg;
    weft_deferred *d = weft_coro_spawn(p->r, run_main, p);
    if (!d || weft_deferred_add_callbacks(d, finished, finished, p) < 0) {
        if (d)
            weft_deferred_cancel(d);
        p->result = weft_err_new(WEFT_ENOMEM, "out of memory starting main");
        p->done = true;
        weft_reactor_stop(p->r);
    }
    weft_deferred_unref(d);
}

static const char *name_of(const char *argv0)
{
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
    return slash ? slash + 1 : argv0 ? argv0 : "weft";
}

int weft_react_with(const weft_reactor_options *opts, weft_main_fn main, int argc, char **argv)
{
    program p = {.main = main, .argc = argc, .argv = argv};
    int err = weft_reactor_new(opts, &p.r);
    if (err < 0) {
        fprintf(stderr, "%s: cannot make a reactor: %s\n", name_of(argv[0]), weft_strerror(err));
        return 1;
    }
    if ((err = weft_reactor_add_trigger(p.r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, stopping, &p, NULL)) < 0 ||
        (err = weft_reactor_call_soon(p.r, start, &p)) < 0 || (err = weft_reactor_run(p.r)) < 0) {
        fprintf(stderr, "%s: %s\n", name_of(argv[0]), weft_strerror(err));
        weft_reactor_free(p.r);
        weft_result_free(p.result);
        return 1;
    }
    /* main still suspended (it ignored the cancel of its awaits) ends with
     * the reactor; its Deferred is not waited for. */
    weft_reactor_free(p.r);
    int status = 0;
    weft_failure *f = weft_result_failure(p.result);
    if (f && !p.stopped_first) {
        char why[1024];
        weft_failure_describe(f, why, sizeof why);
        fprintf(stderr, "%s: %s\n", name_of(argv[0]), why);
        status = 1;
    }
    weft_result_free(p.result);
    return status;
}

int weft_react(weft_main_fn main, int argc, char **argv)
{
    return weft_react_with(NULL, main, argc, argv);
}
