/* SPDX-License-Identifier: MIT */
/* System event triggers: startup and shutdown, three phases, "before"
 * Deferreds waited for up to the shutdown timeout. After Twisted's
 * SystemEventTestCase. */
#include <string.h>

#include "test.h"

typedef struct journal {
    char text[256];
    weft_reactor *r;
    weft_deferred *hold; /* returned by the "before" trigger, fired later */
} journal;

typedef struct entry {
    journal *j;
    const char *word;
} entry;

static weft_deferred *write_word(void *arg)
{
    entry *e = arg;
    strcat(e->j->text, e->word);
    strcat(e->j->text, " ");
    return NULL;
}

static void stop(void *arg)
{
    weft_reactor_stop(arg);
}

WEFT_TEST(trigger, phases_in_order)
{
    weft_reactor *r = weft_test_reactor();
    journal j = {.r = r};
    entry e[6] = {{&j, "s-before"}, {&j, "s-during"}, {&j, "s-after"}, {&j, "before"}, {&j, "during"}, {&j, "after"}};
    /* Added out of order on purpose. */
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_AFTER, WEFT_EVENT_SHUTDOWN, write_word, &e[5], NULL), 0);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_DURING, WEFT_EVENT_SHUTDOWN, write_word, &e[4], NULL), 0);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, write_word, &e[3], NULL), 0);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_AFTER, WEFT_EVENT_STARTUP, write_word, &e[2], NULL), 0);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_DURING, WEFT_EVENT_STARTUP, write_word, &e[1], NULL), 0);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_STARTUP, write_word, &e[0], NULL), 0);
    cr_assert_eq(weft_reactor_call_soon(r, stop, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_str_eq(j.text, "s-before s-during s-after before during after ");
    weft_reactor_free(r);
}

WEFT_TEST(trigger, remove)
{
    weft_reactor *r = weft_test_reactor();
    journal j = {.r = r};
    entry a = {&j, "a"}, b = {&j, "b"};
    uint64_t id;
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_DURING, WEFT_EVENT_SHUTDOWN, write_word, &a, &id), 0);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_DURING, WEFT_EVENT_SHUTDOWN, write_word, &b, NULL), 0);
    cr_assert_eq(weft_reactor_remove_trigger(r, id), 0);
    cr_assert_eq(weft_reactor_remove_trigger(r, id), WEFT_ENOENT);
    cr_assert_eq(weft_reactor_call_soon(r, stop, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_str_eq(j.text, "b ");
    cr_assert_eq(weft_reactor_add_trigger(r, 7, WEFT_EVENT_SHUTDOWN, write_word, &b, NULL), WEFT_EINVAL);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_AFTER, 9, write_word, &b, NULL), WEFT_EINVAL);
    weft_reactor_free(r);
}

static weft_deferred *hold_shutdown(void *arg)
{
    journal *j = arg;
    strcat(j->text, "holding ");
    j->hold = weft_deferred_new(j->r);
    return weft_deferred_ref(j->hold);
}

static void release_hold(void *arg)
{
    journal *j = arg;
    strcat(j->text, "released ");
    weft_deferred_callback(j->hold, NULL, NULL);
}

static weft_deferred *schedule_release(void *arg)
{
    journal *j = arg;
    cr_assert_eq(weft_call_later(j->r, 0.01, release_hold, j, NULL), 0);
    return NULL;
}

WEFT_TEST(trigger, before_deferred_delays_the_rest)
{
    weft_reactor *r = weft_test_reactor();
    journal j = {.r = r};
    entry during = {&j, "during"};
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, hold_shutdown, &j, NULL), 0);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, schedule_release, &j, NULL), 0);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_DURING, WEFT_EVENT_SHUTDOWN, write_word, &during, NULL), 0);
    cr_assert_eq(weft_reactor_call_soon(r, stop, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_str_eq(j.text, "holding released during ");
    weft_deferred_unref(j.hold);
    weft_reactor_free(r);
}

WEFT_TEST(trigger, before_deferred_waited_for_at_most_the_timeout)
{
    weft_reactor_options o = {.shutdown_timeout = 0.05};
    weft_reactor *r;
    cr_assert_eq(weft_reactor_new(&o, &r), 0);
    weft_test_log log;
    weft_test_log_capture(r, &log);
    journal j = {.r = r};
    entry after = {&j, "after"};
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, hold_shutdown, &j, NULL), 0);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_AFTER, WEFT_EVENT_SHUTDOWN, write_word, &after, NULL), 0);
    cr_assert_eq(weft_reactor_call_soon(r, stop, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_str_eq(j.text, "holding after ");
    /* The wait was cancelled: the trigger's Deferred fired with the cancel,
     * which the shutdown logged and consumed. */
    cr_assert(weft_deferred_called(j.hold));
    cr_assert(weft_test_log_contains(&log, "trigger failed: Deferred cancelled"));
    weft_deferred_unref(j.hold);
    weft_reactor_free(r);
}

static weft_deferred *add_during_phase(void *arg)
{
    entry *e = arg;
    static entry late;
    late = (entry){e->j, "late"};
    cr_assert_eq(weft_reactor_add_trigger(e->j->r, WEFT_PHASE_DURING, WEFT_EVENT_SHUTDOWN, write_word, &late, NULL), 0);
    return write_word(arg);
}

WEFT_TEST(trigger, added_to_the_running_phase_runs_in_it)
{
    weft_reactor *r = weft_test_reactor();
    journal j = {.r = r};
    entry first = {&j, "first"};
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_DURING, WEFT_EVENT_SHUTDOWN, add_during_phase, &first, NULL), 0);
    cr_assert_eq(weft_reactor_call_soon(r, stop, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_str_eq(j.text, "first late ");
    weft_reactor_free(r);
}

static weft_deferred *failing_trigger(void *arg)
{
    journal *j = arg;
    return weft_fail(j->r, weft_failure_new(WEFT_EFAILED, "disk on fire"));
}

WEFT_TEST(trigger, failing_before_trigger_is_logged_and_shutdown_goes_on)
{
    weft_reactor *r = weft_test_reactor();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    journal j = {.r = r};
    entry after = {&j, "after"};
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, failing_trigger, &j, NULL), 0);
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_AFTER, WEFT_EVENT_SHUTDOWN, write_word, &after, NULL), 0);
    cr_assert_eq(weft_reactor_call_soon(r, stop, r), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_str_eq(j.text, "after ");
    cr_assert(weft_test_log_contains(&log, "disk on fire"));
    cr_assert(!weft_test_log_contains(&log, "Unhandled"));
    weft_reactor_free(r);
}
