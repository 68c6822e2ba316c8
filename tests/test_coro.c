/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
/* Coroutines: await on pending and fired Deferreds, failures, cancellation
 * mid-await, nesting, ten thousand at once, the guard page, sleep and the
 * await helpers, on the fake clock. */
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static void fire_with_7(void *arg)
{
    weft_deferred_callback(arg, (void *)7, NULL);
}

typedef struct ctx {
    weft_reactor *r;
    weft_deferred *d;
    int steps;
    int code;
    intptr_t got;
    bool cleaned_up;
} ctx;

static weft_result await_pending(void *arg)
{
    ctx *c = arg;
    c->steps++;
    c->d = weft_deferred_new(c->r);
    cr_assert_eq(weft_reactor_call_soon(c->r, fire_with_7, c->d), 0);
    cr_assert(weft_coro_running(c->r));
    weft_result res = weft_await(c->d); /* the await takes the reference */
    c->steps++;
    c->got = (intptr_t)res.value;
    return weft_ok((void *)(c->got * 6), NULL);
}

WEFT_TEST(coro, await_a_pending_deferred)
{
    weft_reactor *r = weft_test_reactor();
    ctx c = {.r = r};
    weft_deferred *d = weft_coro_spawn(r, await_pending, &c);
    cr_assert_not_null(d);
    cr_assert_eq(c.steps, 1, "it ran up to its await inside spawn");
    cr_assert(!weft_deferred_called(d));
    cr_assert(!weft_coro_running(r));
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    cr_assert_eq(c.steps, 2);
    cr_assert_eq(c.got, 7);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert_eq((intptr_t)res.value, 42);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static weft_result await_fired(void *arg)
{
    ctx *c = arg;
    weft_deferred *d = weft_succeed(c->r, strdup("ready"), free);
    weft_result res = weft_await(weft_deferred_ref(d));
    c->steps = weft_deferred_called(d);
    weft_result left;
    cr_assert(weft_deferred_peek(d, &left));
    cr_assert_null(left.value, "await took the result out");
    weft_deferred_unref(d);
    return res; /* the value passes on to the coroutine's Deferred */
}

WEFT_TEST(coro, await_a_fired_deferred_returns_at_once)
{
    weft_reactor *r = weft_test_reactor();
    ctx c = {.r = r};
    weft_deferred *d = weft_coro_spawn(r, await_fired, &c);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res), "finished inside spawn: no switch was needed");
    cr_assert_str_eq(res.value, "ready");
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static weft_result await_failure(void *arg)
{
    ctx *c = arg;
    weft_result res = weft_await(weft_deferred_ref(c->d));
    c->code = weft_failure_code(weft_result_failure(res));
    return res; /* passes the failure on */
}

WEFT_TEST(coro, failures_come_back_from_await)
{
    weft_reactor *r = weft_test_reactor();
    ctx c = {.r = r, .d = weft_deferred_new(r)};
    weft_deferred *d = weft_coro_spawn(r, await_failure, &c);
    weft_deferred_errback(c.d, weft_failure_new(WEFT_EFAILED, "no luck"));
    weft_deferred_unref(c.d);
    cr_assert_eq(c.code, WEFT_EFAILED);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    cr_assert_str_eq(weft_failure_message(weft_result_failure(res)), "no luck");
    weft_result_free(res);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static weft_result cancellable(void *arg)
{
    ctx *c = arg;
    weft_result res = weft_await(weft_deferred_ref(c->d));
    c->code = weft_failure_code(weft_result_failure(res));
    weft_result_free(res);
    c->cleaned_up = true;
    return weft_ok((void *)99, NULL);
}

WEFT_TEST(coro, cancelling_cancels_what_it_awaits)
{
    weft_reactor *r = weft_test_reactor();
    ctx c = {.r = r, .d = weft_deferred_new(r)};
    weft_deferred *d = weft_coro_spawn(r, cancellable, &c);
    weft_deferred_cancel(d);
    cr_assert(weft_deferred_called(c.d), "the awaited Deferred was cancelled");
    cr_assert_eq(c.code, WEFT_ECANCELED, "the coroutine saw the cancel");
    cr_assert(c.cleaned_up);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert_eq((intptr_t)res.value, 99, "and what it returned is the result");
    weft_deferred_unref(c.d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static weft_result inner_coro(void *arg)
{
    weft_reactor *r = arg;
    weft_result s = weft_sleep(r, 1);
    cr_assert(!weft_failed(s));
    return weft_ok((void *)5, NULL);
}

static weft_result outer_coro(void *arg)
{
    weft_reactor *r = arg;
    weft_deferred *a = weft_coro_spawn(r, inner_coro, r);
    weft_deferred *b = weft_coro_spawn(r, inner_coro, r);
    weft_result ra = weft_await(a);
    weft_result rb = weft_await(b);
    return weft_ok((void *)((intptr_t)ra.value + (intptr_t)rb.value), NULL);
}

WEFT_TEST(coro, coroutines_spawn_coroutines)
{
    weft_reactor *r = weft_test_clock();
    weft_deferred *d = weft_coro_spawn(r, outer_coro, r);
    cr_assert(!weft_deferred_called(d));
    cr_assert_eq(weft_clock_advance(r, 1), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert_eq((intptr_t)res.value, 10);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

typedef struct many {
    weft_reactor *r;
    int done;
} many;

static weft_result sleeper(void *arg)
{
    many *m = arg;
    for (int i = 0; i < 3; i++)
        weft_sleep(m->r, 1);
    m->done++;
    return weft_none();
}

WEFT_TEST(coro, ten_thousand_at_once, .timeout = 120)
{
    weft_reactor *r = weft_test_clock();
    many m = {r, 0};
    enum { N = 10000 };
    weft_deferred **ds = malloc(N * sizeof *ds);
    for (int i = 0; i < N; i++) {
        ds[i] = weft_coro_spawn(r, sleeper, &m);
        cr_assert_not_null(ds[i]);
    }
    for (int s = 0; s < 3; s++)
        cr_assert_eq(weft_clock_advance(r, 1), 0);
    cr_assert_eq(m.done, N);
    for (int i = 0; i < N; i++) {
        cr_assert(weft_deferred_called(ds[i]));
        weft_deferred_unref(ds[i]);
    }
    free(ds);
    weft_reactor_free(r);
}

static int depth(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return n ? depth(n + 1) + pad[0] : 0; /* never ends: n only grows */
}

static weft_result overflow(void *arg)
{
    (void)arg;
    return weft_ok((void *)(intptr_t)depth(1), NULL);
}

static void on_segv(int sig)
{
    (void)sig;
    _exit(42);
}

WEFT_TEST(coro, stack_overflow_hits_the_guard_page)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* Report the fault from a stack of our own, with a status the
         * parent recognises. */
        static char alt[64 * 1024];
        stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
        sigaltstack(&ss, NULL);
        struct sigaction sa = {.sa_handler = on_segv, .sa_flags = SA_ONSTACK};
        sigaction(SIGSEGV, &sa, NULL);
        weft_reactor *r;
        if (weft_reactor_new(NULL, &r) < 0)
            _exit(1);
        weft_coro_options o = {.stack_size = 16 * 1024};
        weft_coro_spawn_with(r, overflow, NULL, &o);
        _exit(0); /* not reached: the recursion cannot end */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 42, "the overflow faulted (status %d)", status);
}

/* Under AddressSanitizer weft gives coroutines 4 times the stack asked. */
#if defined(__SANITIZE_ADDRESS__)
enum { STACK_SCALE = 4 };
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
enum { STACK_SCALE = 4 };
#else
enum { STACK_SCALE = 1 };
#endif
#else
enum { STACK_SCALE = 1 };
#endif

enum { CANARY = 1024 };
static volatile unsigned char *canary; /* at the top of the neighbour's stack */

static bool canary_intact(void)
{
    for (size_t i = 0; i < CANARY; i++)
        if (canary[i] != (unsigned char)(i * 7 + 1))
            return false;
    return true;
}

static void on_segv_check_neighbour(int sig)
{
    (void)sig;
    _exit(canary_intact() ? 42 : 43);
}

/* One frame of 64 KiB, written from its lowest address up. */
static void big_frame(void)
{
    volatile unsigned char buf[64 * 1024];
    for (size_t i = 0; i < sizeof buf; i += 64)
        buf[i] = 0xAA;
}

/* Small frames down to about 2 KiB above the end of the stack, then the
 * big one. */
static void descend(uintptr_t end)
{
    volatile char pad[256];
    pad[0] = 1;
    if ((uintptr_t)pad > end + 2048)
        descend(end);
    else
        big_frame();
    pad[1] = pad[0]; /* no tail call: every frame stays */
}

/* One try at two coroutines with stacks side by side: the attacker maps
 * its stack first (above), the neighbour second. */
typedef struct pair {
    weft_deferred *go, *never;
    uintptr_t top;                 /* near the top of the attacker's stack */
    volatile unsigned char *mark;  /* the neighbour's canary */
} pair;

static weft_result overflows_later(void *arg)
{
    pair *p = arg;
    volatile char top;
    p->top = (uintptr_t)&top;
    weft_result go = weft_await(p->go);
    weft_result_free(go);
    descend((uintptr_t)&top - 64 * 1024 * STACK_SCALE + 1024);
    return weft_none();
}

static weft_result neighbour(void *arg)
{
    pair *p = arg;
    volatile unsigned char mark[CANARY];
    for (size_t i = 0; i < CANARY; i++)
        mark[i] = (unsigned char)(i * 7 + 1);
    p->mark = mark;
    return weft_await(p->never); /* never fires: the process ends first */
}

/* Whether the mapping holding `low` ends where a PROT_NONE mapping begins
 * that ends where the mapping holding `high` begins: two stacks with one
 * guard between them (/proc/self/maps). */
static bool guard_between(uintptr_t low, uintptr_t high)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[512], perms[8];
    unsigned long start, end, low_end = 0, guard_end = 0;
    bool ok = false;
    while (fgets(line, sizeof line, f) && sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3) {
        if (low >= start && low < end)
            low_end = end;
        else if (low_end && start == low_end && strcmp(perms, "---p") == 0)
            guard_end = end;
        else if (guard_end && start == guard_end)
            ok = high >= start && high < end;
    }
    fclose(f);
    return ok;
}

/*
 * The guard used to be one page, and stacks in a pool lie side by side: a
 * frame larger than a page near the end of one stack stepped over the guard
 * into the next one down and wrote there, with no fault; that coroutine
 * later returned through garbage. Now the frame faults before it writes.
 */
WEFT_TEST(coro, a_frame_larger_than_the_guard_faults_without_touching_the_neighbour)
{
    pid_t pid = fork();
    if (pid == 0) {
        static char alt[64 * 1024];
        stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
        sigaltstack(&ss, NULL);
        struct sigaction sa = {.sa_handler = on_segv_check_neighbour, .sa_flags = SA_ONSTACK};
        sigaction(SIGSEGV, &sa, NULL);
        weft_reactor *r;
        if (weft_reactor_new(NULL, &r) < 0)
            _exit(1);
        /* mmap fills holes first: try pairs until two stacks are adjacent. */
        static pair pairs[64];
        for (size_t i = 0; i < 64; i++) {
            pair *p = &pairs[i];
            p->go = weft_deferred_new(r);
            p->never = weft_deferred_new(r);
            if (!weft_coro_spawn(r, overflows_later, p) || !weft_coro_spawn(r, neighbour, p))
                _exit(1);
            if (guard_between((uintptr_t)p->mark, p->top)) {
                canary = p->mark;
                weft_deferred_callback(p->go, NULL, NULL);
                _exit(0);
            }
        }
        _exit(44);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(!WIFEXITED(status) || WEXITSTATUS(status) != 44, "no two stacks were mapped side by side");
    cr_assert(!WIFEXITED(status) || WEXITSTATUS(status) != 0, "the frame did not fault");
    cr_assert(!WIFEXITED(status) || WEXITSTATUS(status) != 43, "the frame wrote into the neighbour's stack");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 42, "the overflow faulted cleanly (status %#x)", status);
}

static weft_result times_out(void *arg)
{
    ctx *c = arg;
    weft_result res = weft_await_timeout(weft_deferred_ref(c->d), 5);
    c->code = weft_failure_code(weft_result_failure(res));
    weft_result_free(res);
    return weft_none();
}

WEFT_TEST(coro, await_with_a_timeout)
{
    weft_reactor *r = weft_test_clock();
    ctx c = {.r = r, .d = weft_deferred_new(r)};
    weft_deferred *d = weft_coro_spawn(r, times_out, &c);
    cr_assert_eq(weft_clock_advance(r, 4.9), 0);
    cr_assert(!weft_deferred_called(d));
    cr_assert_eq(weft_clock_advance(r, 0.1), 0);
    cr_assert(weft_deferred_called(d));
    cr_assert_eq(c.code, WEFT_ETIMEDOUT);
    weft_deferred_unref(c.d);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

static weft_result value_after(void *arg)
{
    return weft_ok(arg, NULL);
}

typedef struct group {
    weft_reactor *r;
    weft_result all, any;
} group;

static weft_result all_and_any(void *arg)
{
    group *g = arg;
    weft_deferred *ds[3] = {weft_defer_later(g->r, 3, value_after, (void *)1),
                            weft_defer_later(g->r, 1, value_after, (void *)2),
                            weft_defer_later(g->r, 2, value_after, (void *)3)};
    weft_deferred *again[3] = {weft_deferred_ref(ds[0]), weft_deferred_ref(ds[1]), weft_deferred_ref(ds[2])};
    g->any = weft_await_any(g->r, again, 3);
    g->all = weft_await_all(g->r, ds, 3);
    return weft_none();
}

WEFT_TEST(coro, await_all_and_any)
{
    weft_reactor *r = weft_test_clock();
    group g = {.r = r};
    weft_deferred *d = weft_coro_spawn(r, all_and_any, &g);
    weft_clock_advance(r, 1);
    cr_assert(!weft_failed(g.any));
    weft_result_list *any = g.any.value;
    cr_assert_eq(any->index, 1);
    cr_assert_eq((intptr_t)any->items[1].value, 2);
    weft_clock_advance(r, 2);
    cr_assert(weft_deferred_called(d));
    cr_assert(!weft_failed(g.all));
    weft_result_list *all = g.all.value;
    /* The value taken by await_any is no longer in its input. */
    cr_assert_eq((intptr_t)all->items[0].value, 1);
    cr_assert_null(all->items[1].value);
    cr_assert_eq((intptr_t)all->items[2].value, 3);
    weft_result_free(g.any);
    weft_result_free(g.all);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static weft_result holds_a_block(void *arg)
{
    char *volatile block = malloc(64);
    memset(block, 7, 64);
    weft_result res = weft_await(arg);
    free(block);
    return res;
}

/* LeakSanitizer scans threads' stacks, not coroutines': a block that only a
 * suspended coroutine's stack points to looked leaked. */
WEFT_TEST(coro, a_suspended_coroutines_stack_is_scanned_for_leaks)
{
    if (!__lsan_do_recoverable_leak_check)
        cr_skip_test("no LeakSanitizer in this build");
    weft_reactor *r = weft_test_reactor();
    weft_deferred *go = weft_deferred_new(r);
    weft_deferred *d = weft_coro_spawn(r, holds_a_block, weft_deferred_ref(go)); /* the await takes it */
    cr_assert(!weft_deferred_called(d));
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "the block the coroutine holds is not a leak");
    weft_deferred_callback(go, NULL, NULL);
    cr_assert(weft_deferred_called(d));
    weft_deferred_unref(go);
    weft_deferred_unref(d);
    weft_reactor_free(r);
}

WEFT_TEST(coro, await_outside_a_coroutine_fails)
{
    weft_reactor *r = weft_test_reactor();
    weft_result res = weft_await(weft_deferred_new(r));
    cr_assert(weft_failed(res));
    cr_assert_eq(weft_failure_code(weft_result_failure(res)), WEFT_EINVAL);
    weft_result_free(res);
    weft_reactor_free(r);
}
