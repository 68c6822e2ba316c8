/* SPDX-License-Identifier: MIT */
/*
 * Timers and Deferreds at work: a looping call ticks every second, a slow
 * "lookup" is simulated with defer_later, three of them are gathered, and
 * Ctrl-C shuts down gracefully through a "before shutdown" trigger that takes
 * a moment to finish. Run it with `make run`.
 */
#include <stdio.h>
#include <weft/weft.h>

static weft_result tick(void *arg, uint64_t count)
{
    weft_reactor *r = arg;
    weft_log(weft_reactor_logger(r), WEFT_LOG_INFO, "clock", "tick at {now}s ({count} interval(s) since the last)",
             WEFT_LOG_DOUBLE("now", weft_reactor_now(r)), WEFT_LOG_UINT("count", count));
    return weft_none();
}

static weft_result lookup_done(void *arg)
{
    return weft_ok(arg, NULL); /* the name itself is the "answer" */
}

static weft_result print_all(void *arg, weft_result result)
{
    weft_reactor *r = arg;
    weft_result_list *l = result.value;
    for (size_t i = 0; i < l->count; i++)
        weft_log(weft_reactor_logger(r), WEFT_LOG_INFO, "clock", "lookup {i} answered {name}", WEFT_LOG_UINT("i", i),
                 WEFT_LOG_STR("name", l->items[i].value));
    return result;
}

static weft_deferred *say_goodbye(void *arg)
{
    weft_reactor *r = arg;
    weft_log(weft_reactor_logger(r), WEFT_LOG_INFO, "clock", "shutting down: flushing for half a second");
    return weft_defer_later(r, 0.5, NULL, NULL);
}

int main(void)
{
    weft_reactor *r;
    int err = weft_reactor_new(NULL, &r);
    if (err < 0) {
        fprintf(stderr, "clock: %s\n", weft_strerror(err));
        return 1;
    }
    weft_looping_call *lc = weft_looping_call_new(r, tick, r);
    if (!lc || weft_looping_call_start(lc, 1.0, true, NULL) < 0)
        return 1;

    weft_deferred *lookups[3] = {
        weft_defer_later(r, 0.3, lookup_done, "alpha"),
        weft_defer_later(r, 0.1, lookup_done, "beta"),
        weft_defer_later(r, 0.2, lookup_done, "gamma"),
    };
    weft_deferred *all = weft_gather(r, lookups, 3, false);
    if (!all || weft_deferred_add_callback(all, print_all, r) < 0)
        return 1;
    for (size_t i = 0; i < 3; i++)
        weft_deferred_unref(lookups[i]);
    weft_deferred_unref(all);

    if (weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, say_goodbye, r, NULL) < 0)
        return 1;
    fprintf(stderr, "clock: ticking every second; Ctrl-C to stop\n");
    err = weft_reactor_run(r);
    weft_looping_call_free(lc);
    weft_reactor_free(r);
    return err < 0;
}
