/* SPDX-License-Identifier: MIT */
/* Signal handlers on the loop, and the default SIGINT/SIGTERM shutdown. */
#include <signal.h>
#include <pthread.h>

#include "test.h"

typedef struct got {
    weft_reactor *r;
    int signo;
    int calls;
    bool stop;
} got;

static void on_signal(void *arg, int signo)
{
    got *g = arg;
    g->signo = signo;
    g->calls++;
    if (g->stop)
        weft_reactor_stop(g->r);
}

static bool blocked(int signo)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, signo);
}

WEFT_TEST(signal, handler_runs_on_the_loop)
{
    weft_reactor *r = weft_test_reactor();
    got g = {.r = r};
    cr_assert(!blocked(SIGUSR1));
    cr_assert_eq(weft_reactor_add_signal(r, SIGUSR1, on_signal, &g), 0);
    cr_assert(blocked(SIGUSR1));
    raise(SIGUSR1);
    cr_assert_eq(g.calls, 0, "handlers never run in signal context");
    for (int i = 0; i < 100 && g.calls == 0; i++)
        cr_assert_eq(weft_reactor_iterate(r, 1), 0);
    cr_assert_eq(g.calls, 1);
    cr_assert_eq(g.signo, SIGUSR1);
    cr_assert_eq(weft_reactor_remove_signal(r, SIGUSR1), 0);
    cr_assert(!blocked(SIGUSR1));
    cr_assert_eq(weft_reactor_remove_signal(r, SIGUSR1), WEFT_ENOENT);
    weft_reactor_free(r);
}

WEFT_TEST(signal, several_signals_one_descriptor)
{
    weft_reactor *r = weft_test_reactor();
    got a = {.r = r}, b = {.r = r};
    cr_assert_eq(weft_reactor_add_signal(r, SIGUSR1, on_signal, &a), 0);
    cr_assert_eq(weft_reactor_add_signal(r, SIGUSR2, on_signal, &b), 0);
    raise(SIGUSR2);
    raise(SIGUSR1);
    for (int i = 0; i < 100 && (a.calls == 0 || b.calls == 0); i++)
        cr_assert_eq(weft_reactor_iterate(r, 1), 0);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(b.signo, SIGUSR2);
    weft_reactor_free(r); /* removes both and restores the mask */
    cr_assert(!blocked(SIGUSR1));
    cr_assert(!blocked(SIGUSR2));
}

WEFT_TEST(signal, mask_restored_to_what_it_was)
{
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    weft_reactor *r = weft_test_reactor();
    got g = {.r = r};
    cr_assert_eq(weft_reactor_add_signal(r, SIGUSR1, on_signal, &g), 0);
    cr_assert_eq(weft_reactor_remove_signal(r, SIGUSR1), 0);
    cr_assert(blocked(SIGUSR1), "a signal blocked before stays blocked");
    weft_reactor_free(r);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
}

WEFT_TEST(signal, uncatchable_refused)
{
    weft_reactor *r = weft_test_reactor();
    got g = {.r = r};
    cr_assert_eq(weft_reactor_add_signal(r, SIGKILL, on_signal, &g), WEFT_EINVAL);
    cr_assert_eq(weft_reactor_add_signal(r, SIGSTOP, on_signal, &g), WEFT_EINVAL);
    cr_assert_eq(weft_reactor_add_signal(r, 0, on_signal, &g), WEFT_EINVAL);
    cr_assert_eq(weft_reactor_add_signal(r, SIGUSR1, NULL, &g), WEFT_EINVAL);
    weft_reactor_free(r);
}

static void send_signal(void *arg)
{
    raise(*(int *)arg);
}

static void stop_later(void *arg)
{
    weft_reactor_stop(arg);
}

static weft_deferred *note_shutdown(void *arg)
{
    (*(int *)arg)++;
    return NULL;
}

static void run_with_signal(int signo)
{
    weft_reactor *r = weft_test_reactor();
    int shutdowns = 0;
    cr_assert_eq(weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, note_shutdown, &shutdowns, NULL), 0);
    weft_test_log log;
    weft_test_log_capture(r, &log);
    cr_assert_eq(weft_call_later(r, 0, send_signal, &signo, NULL), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_eq(shutdowns, 1, "the signal ran the shutdown triggers");
    cr_assert(weft_test_log_contains(&log, "shutting down"));
    cr_assert(!blocked(signo), "run restores the mask when it returns");
    weft_reactor_free(r);
}

WEFT_TEST(signal, sigint_stops_run_gracefully)
{
    run_with_signal(SIGINT);
}

WEFT_TEST(signal, sigterm_stops_run_gracefully)
{
    run_with_signal(SIGTERM);
}

WEFT_TEST(signal, user_handler_replaces_the_default)
{
    weft_reactor *r = weft_test_reactor();
    got g = {.r = r};
    int signo = SIGINT;
    cr_assert_eq(weft_reactor_add_signal(r, SIGINT, on_signal, &g), 0);
    cr_assert_eq(weft_call_later(r, 0, send_signal, &signo, NULL), 0);
    cr_assert_eq(weft_call_later(r, 0.05, stop_later, r, NULL), 0);
    cr_assert_eq(weft_reactor_run(r), 0);
    cr_assert_eq(g.calls, 1);
    cr_assert(blocked(SIGINT), "the user's handler is still installed");
    weft_reactor_free(r);
    cr_assert(!blocked(SIGINT));
}
