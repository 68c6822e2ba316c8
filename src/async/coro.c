/* SPDX-License-Identifier: MIT */
/*
 * Coroutines. A coroutine runs on its own mmap'd stack (a PROT_NONE guard
 * below it) and is resumed by whoever gets to it: its spawner first,
 * then the callback of the Deferred it awaits. Suspending switches back to
 * that resumer. The reactor's coroutine state (the current coroutine and a
 * pool of free stacks) hangs off its extension slot.
 *
 * Under AddressSanitizer every switch is announced
 * (__sanitizer_start_switch_fiber before, __sanitizer_finish_switch_fiber
 * after), so ASan knows which stack is live and keeps its fake stacks apart.
 * Stacks are mmap'd rather than taken from the allocator: guard pages need
 * whole pages of their own.
 *
 * The guard is 64 KiB, not one page: pooled stacks lie side by side, so a
 * frame that stepped over the guard would land in the next coroutine's
 * stack without a fault. Code built with -fstack-clash-protection (weft is,
 * and its build tells users to be) touches every page of a large frame in
 * order, so it faults on any guard; code built without it still faults for
 * frames up to 64 KiB (gcc's probes on aarch64 assume a guard this large
 * too). A guard costs address space only.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../core/internal.h"
#include "coro_switch.h"
#include "weft/alloc.h"
#include "weft/coro.h"
#include "weft/deferred.h"
#include "weft/deferred_list.h"
#include "weft/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEFT__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__ASAN 1
#endif
#endif

#ifdef WEFT__ASAN
#include <sanitizer/common_interface_defs.h>
enum { STACK_SCALE = 4 };
#else
enum { STACK_SCALE = 1 };
#endif

/* LeakSanitizer, when the program has it (weak: NULL otherwise). It scans
 * the threads' stacks but knows nothing of coroutines', so a block only a
 * coroutine's stack points to would look leaked: each stack in use is
 * registered as a root region (and a free one in the pool is not, so its
 * stale contents hide no leak). */
void __lsan_register_root_region(const void *p, size_t size) __attribute__((weak));
void __lsan_unregister_root_region(const void *p, size_t size) __attribute__((weak));

enum { DEFAULT_STACK = 64 * 1024, GUARD = 64 * 1024, POOL_MAX = 64 };

typedef struct stack {
    char *map;      /* the mapping: the guard, then the usable stack */
    size_t map_size;
} stack;

typedef struct coro {
    weft__handle handle; /* late: shutdown cancels coroutines last */
    weft_reactor *r;
    void *sp;        /* the coroutine's context while suspended */
    void *caller_sp; /* its resumer's context while it runs */
    stack st;
    weft_result (*fn)(void *arg);
    void *arg;
    weft_result result;   /* fn's, once done */
    weft_result resumed;  /* what the awaited Deferred gave */
    weft_deferred *out;   /* the coroutine's Deferred: our reference */
    weft_deferred *awaiting;
    bool done;
    bool dead; /* its stack is gone (weft_reactor_free): never resume it */
#ifdef WEFT__ASAN
    void *fake_stack;          /* the coroutine's, while suspended */
    const void *caller_bottom; /* the resumer's stack, learned at each resume */
    size_t caller_size;
#endif
#ifdef WEFT__CORO_UCONTEXT
    _Alignas(16) unsigned char self_ctx[WEFT__CORO_CTX_SIZE];
    _Alignas(16) unsigned char caller_ctx[WEFT__CORO_CTX_SIZE];
#endif
} coro;

typedef struct coro_state {
    coro *current;
    stack pool[POOL_MAX]; /* free stacks of the default size */
    size_t npool;
    size_t page;
    size_t guard; /* GUARD in whole pages */
    /* Coroutines whose stacks weft_reactor_free took while they awaited a
     * Deferred: freed here, or by settled() if that Deferred fires first. */
    weft__list zombies;
} coro_state;

static void state_free(void *arg)
{
    coro_state *cs = arg;
    weft__list *n;
    while ((n = weft__list_pop_front(&cs->zombies)))
        weft_free(WEFT_CONTAINER_OF(n, coro, handle.node));
    for (size_t i = 0; i < cs->npool; i++)
        munmap(cs->pool[i].map, cs->pool[i].map_size);
    weft_free(cs);
}

static coro_state *state_of(weft_reactor *r, bool create)
{
    coro_state *cs = weft__reactor_ext(r, WEFT__EXT_CORO);
    if (!cs && create && (cs = weft_calloc(1, sizeof *cs))) {
        cs->page = (size_t)sysconf(_SC_PAGESIZE);
        cs->guard = (GUARD + cs->page - 1) / cs->page * cs->page;
        weft__list_init(&cs->zombies);
        weft__reactor_set_ext(r, WEFT__EXT_CORO, cs, state_free);
    }
    return cs;
}

static size_t usable(const coro_state *cs, size_t asked)
{
    size_t size = (asked ? asked : DEFAULT_STACK) * STACK_SCALE;
    return (size + cs->page - 1) / cs->page * cs->page;
}

static void stack_in_use(coro_state *cs, const stack *st, bool in_use)
{
    if (in_use && __lsan_register_root_region)
        __lsan_register_root_region(st->map + cs->guard, st->map_size - cs->guard);
    else if (!in_use && __lsan_unregister_root_region)
        __lsan_unregister_root_region(st->map + cs->guard, st->map_size - cs->guard);
}

static int stack_get(coro_state *cs, size_t size, stack *out)
{
    size_t map_size = size + cs->guard;
    for (size_t i = cs->npool; i-- > 0;) {
        if (cs->pool[i].map_size == map_size) {
            *out = cs->pool[i];
            cs->pool[i] = cs->pool[--cs->npool];
            stack_in_use(cs, out, true);
            return 0;
        }
    }
    char *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return WEFT_ENOMEM;
    /* The guard: the stack grows down into it and faults. */
    if (mprotect(map, cs->guard, PROT_NONE) < 0) {
        munmap(map, map_size);
        return WEFT_ENOMEM;
    }
    *out = (stack){map, map_size};
    stack_in_use(cs, out, true);
    return 0;
}

static void stack_put(coro_state *cs, stack st)
{
    stack_in_use(cs, &st, false);
    if (cs->npool < POOL_MAX)
        cs->pool[cs->npool++] = st;
    else
        munmap(st.map, st.map_size);
}

/* ---- switching ---- */

static void coro_main(void *arg);

/* Runs co until it suspends or ends; then, if it ended, settles it. */
static void resume(coro *co)
{
    coro_state *cs = state_of(co->r, false);
    coro *prev = cs->current;
    cs->current = co;
#ifdef WEFT__CORO_UCONTEXT
    co->caller_sp = co->caller_ctx;
#endif
#ifdef WEFT__ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, co->st.map + cs->guard, co->st.map_size - cs->guard);
#endif
    weft__coro_switch(&co->caller_sp, co->sp);
#ifdef WEFT__ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    cs->current = prev;
    if (!co->done)
        return;
    weft_deferred *out = co->out;
    weft_result result = co->result;
    weft__handle_remove(&co->handle);
    stack_put(cs, co->st);
    weft_free(co);
    weft_deferred_fire(out, result);
    weft_deferred_unref(out);
}

/* In the coroutine: back to whoever resumed it. */
static void suspend(coro *co)
{
#ifdef WEFT__ASAN
    __sanitizer_start_switch_fiber(&co->fake_stack, co->caller_bottom, co->caller_size);
#endif
    weft__coro_switch(&co->sp, co->caller_sp);
#ifdef WEFT__ASAN
    __sanitizer_finish_switch_fiber(co->fake_stack, &co->caller_bottom, &co->caller_size);
#endif
}

static void coro_main(void *arg)
{
    coro *co = arg;
#ifdef WEFT__ASAN
    __sanitizer_finish_switch_fiber(NULL, &co->caller_bottom, &co->caller_size);
#endif
    co->result = co->fn(co->arg);
    co->done = true;
#ifdef WEFT__ASAN
    /* NULL: this fiber ends, its fake stack can go. */
    __sanitizer_start_switch_fiber(NULL, co->caller_bottom, co->caller_size);
#endif
    weft__coro_switch(&co->sp, co->caller_sp);
    __builtin_unreachable();
}

/* ---- the public calls ---- */

static void cancel_coro(void *arg, weft_deferred *d)
{
    (void)d;
    coro *co = arg;
    if (co->awaiting)
        weft_deferred_cancel(co->awaiting);
}

static void handle_describe(const weft__handle *h, char *buf, size_t size)
{
    const coro *co = WEFT_CONTAINER_OF(h, coro, handle);
    int line;
    if (co->awaiting) {
        const char *file = weft_deferred_origin(co->awaiting, &line);
        snprintf(buf, size, "awaiting a Deferred made at %s:%d", file, line);
    } else
        snprintf(buf, size, "running");
}

/* Shutdown, once the connections are gone: cancel what it awaits. */
static void handle_close(weft__handle *h, bool abort)
{
    coro *co = WEFT_CONTAINER_OF(h, coro, handle);
    if (abort && co->awaiting)
        weft_deferred_cancel(co->awaiting);
}

/* weft_reactor_free, for a coroutine that would not end (it awaited again
 * each time it was cancelled): its stack goes, and what its frames held
 * leaks. If what it awaits fires later, settled() finds it dead. */
static void handle_free(weft__handle *h)
{
    coro *co = WEFT_CONTAINER_OF(h, coro, handle);
    coro_state *cs = state_of(co->r, false);
    stack_put(cs, co->st);
    co->dead = true;
    weft_deferred_unref(co->out);
    if (co->awaiting)
        weft__list_push_back(&cs->zombies, &co->handle.node);
    else
        weft_free(co);
}

static const weft__handle_ops coro_ops = {
    .kind = "coroutine", .describe = handle_describe, .close = handle_close, .free = handle_free, .late = true};

weft_deferred *weft_coro_spawn_with(weft_reactor *r, weft_result (*fn)(void *arg), void *arg,
                                    const weft_coro_options *opts)
{
    coro_state *cs = state_of(r, true);
    if (!cs)
        return NULL;
    coro *co = weft_calloc(1, sizeof *co);
    if (!co)
        return NULL;
    co->r = r;
    co->fn = fn;
    co->arg = arg;
    size_t size = usable(cs, opts ? opts->stack_size : 0);
    if (stack_get(cs, size, &co->st) < 0) {
        weft_free(co);
        return NULL;
    }
    co->out = weft_deferred_new(r);
    if (!co->out) {
        stack_put(cs, co->st);
        weft_free(co);
        return NULL;
    }
    void *ctx = NULL;
#ifdef WEFT__CORO_UCONTEXT
    ctx = co->self_ctx;
#endif
    co->sp = weft__coro_prepare(co->st.map + cs->guard, size, coro_main, co, ctx);
    weft_deferred_set_canceller(co->out, cancel_coro, co);
    weft_deferred *out = weft_deferred_ref(co->out);
    weft__handle_add(r, &co->handle, &coro_ops);
    resume(co);
    return out;
}

weft_deferred *weft_coro_spawn(weft_reactor *r, weft_result (*fn)(void *arg), void *arg)
{
    return weft_coro_spawn_with(r, fn, arg, NULL);
}

bool weft_coro_running(const weft_reactor *r)
{
    coro_state *cs = weft__reactor_ext(r, WEFT__EXT_CORO);
    return cs && cs->current;
}

static weft_result settled(void *arg, weft_result result)
{
    coro *co = arg;
    if (co->dead) {
        weft_result_free(result);
        weft__list_remove(&co->handle.node);
        weft_deferred_unref(co->awaiting);
        weft_free(co);
        return weft_none();
    }
    co->resumed = result;
    weft_deferred *d = co->awaiting;
    co->awaiting = NULL;
    weft_deferred_unref(d); /* d's chain holds its own reference while it runs */
    resume(co);
    return weft_none();
}

weft_result weft_await(weft_deferred *d)
{
    if (!d)
        return weft_err_new(WEFT_ENOMEM, "out of memory: no Deferred to await");
    coro_state *cs = weft__reactor_ext(weft_deferred_reactor(d), WEFT__EXT_CORO);
    coro *co = cs ? cs->current : NULL;
    weft_result res;
    if (!co) {
        weft_deferred_unref(d);
        return weft_err_new(WEFT_EINVAL, "weft_await outside a coroutine of this Deferred's reactor");
    }
    if (weft_deferred_take(d, &res) == 0) {
        weft_deferred_unref(d);
        return res;
    }
    /* The caller's reference is now the coroutine's, until settled. */
    co->awaiting = d;
    if (weft_deferred_add_callbacks(d, settled, settled, co) < 0) {
        co->awaiting = NULL;
        weft_deferred_unref(d);
        return weft_err_new(WEFT_ENOMEM, "out of memory awaiting a Deferred");
    }
    suspend(co);
    return co->resumed;
}

weft_result weft_sleep(weft_reactor *r, double seconds)
{
    return weft_await(weft_defer_later(r, seconds, NULL, NULL));
}

weft_result weft_await_timeout(weft_deferred *d, double seconds)
{
    int err = d ? weft_deferred_add_timeout(d, seconds) : 0;
    if (err < 0) {
        weft_deferred_unref(d);
        return weft_err_new(err, "cannot set a timeout");
    }
    return weft_await(d);
}

/* The caller's references go: the list holds its own. */
static void drop_all(weft_deferred *const *ds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        weft_deferred_unref(ds[i]);
}

/* A NULL among them is a Deferred that could not be made. */
static bool any_missing(weft_deferred *const *ds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!ds[i]) {
            drop_all(ds, n);
            return true;
        }
    return false;
}

static weft_result await_list(weft_deferred *list, weft_deferred *const *ds, size_t n)
{
    drop_all(ds, n);
    return weft_await(list);
}

weft_result weft_await_all(weft_reactor *r, weft_deferred *const *ds, size_t n)
{
    if (any_missing(ds, n))
        return weft_err_new(WEFT_ENOMEM, "out of memory: no Deferred to await");
    return await_list(weft_gather(r, ds, n, true), ds, n);
}

weft_result weft_await_any(weft_reactor *r, weft_deferred *const *ds, size_t n)
{
    if (n == 0)
        return weft_err_new(WEFT_EINVAL, "awaiting any of no Deferreds");
    if (any_missing(ds, n))
        return weft_err_new(WEFT_ENOMEM, "out of memory: no Deferred to await");
    weft_result res = await_list(
        weft_deferred_list(r, ds, n, WEFT_LIST_FIRE_ON_ONE_CALLBACK | WEFT_LIST_CONSUME_ERRORS), ds, n);
    if (weft_failed(res))
        return res;
    /* The list fired with the success at `index` - or, when every input
     * failed, once all had, with nothing but failures. */
    weft_result_list *l = res.value;
    if (!weft_failed(l->items[l->index]))
        return res;
    weft_result out = weft_err(weft_failure_wrap(weft_failure_ref(weft_result_failure(l->items[0])), WEFT_EFAILED,
                                                 "all %zu awaited Deferreds failed", n));
    weft_result_free(res);
    return out;
}
