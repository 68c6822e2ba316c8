/* SPDX-License-Identifier: MIT */
/*
 * Timers and Deferreds at work: a looping call ticks every second, three
 * slow "lookups" are simulated with defer_later and gathered, and Ctrl-C
 * shuts down gracefully through a "before shutdown" trigger that takes a
 * moment to finish.
 */
#include <weft/weft.h>

static weft_result tick(void *arg, uint64_t count)
{
    weft_reactor *r = arg;
    weft_log(weft_reactor_logger(r), WEFT_LOG_INFO, "clock", "tick at {now}s ({count} interval(s) since the last)",
             WEFT_LOG_DOUBLE("now", weft_reactor_now(r)), WEFT_LOG_UINT("count", count));
    return weft_none();
}

static weft_result answer(void *arg)
{
    return weft_ok(arg, NULL); /* the name itself is the "answer" */
}

static weft_deferred *say_goodbye(void *arg)
{
    weft_reactor *r = arg;
    weft_log(weft_reactor_logger(r), WEFT_LOG_INFO, "clock", "shutting down: flushing for half a second");
    return weft_defer_later(r, 0.5, NULL, NULL);
}

static weft_result run(weft_reactor *r, int argc, char **argv)
{
    (void)argc, (void)argv;
    weft_looping_call *lc = weft_looping_call_new(r, tick, r);
    if (!lc || weft_looping_call_start(lc, 1.0, true, NULL) < 0 ||
        weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, say_goodbye, r, NULL) < 0)
        return weft_err_new(WEFT_ENOMEM, "out of memory");
    weft_log(weft_reactor_logger(r), WEFT_LOG_INFO, "clock", "ticking every second; Ctrl-C to stop");
    weft_deferred *lookups[3] = {weft_defer_later(r, 0.3, answer, "alpha"), weft_defer_later(r, 0.1, answer, "beta"),
                                 weft_defer_later(r, 0.2, answer, "gamma")};
    weft_result all = weft_await_all(r, lookups, 3);
    for (size_t i = 0; !weft_failed(all) && i < 3; i++)
        weft_log(weft_reactor_logger(r), WEFT_LOG_INFO, "clock", "lookup {i} answered {name}", WEFT_LOG_UINT("i", i),
                 WEFT_LOG_STR("name", ((weft_result_list *)all.value)->items[i].value));
    weft_result_free(all);
    weft_await(weft_reactor_when_stopped(r));
    weft_looping_call_free(lc);
    return weft_none();
}

int main(int argc, char **argv)
{
    return weft_react(run, argc, argv);
}
