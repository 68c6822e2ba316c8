/* SPDX-License-Identifier: MIT */
/*
 * Deferreds. The chain runner follows Twisted's _runCallbacks: when a
 * Deferred's chain passes its result to a Deferred that was waiting on it,
 * the waiting one is pushed on an explicit stack and run in the same loop,
 * so long chains of chains do not grow the C stack. The stack is intrusive
 * (chain_prev), so running a chain never allocates.
 *
 * A Deferred on a run stack (`stacked`) is in the middle of its own loop,
 * like Twisted's _runningCallbacks but for the whole time it is on the
 * stack, not only while a callback runs: pairs added to it (or an unpause)
 * from a callback higher up run when the loop gets back to it, still within
 * the outermost fire/add/unpause call. Running it again in a nested loop
 * would reuse its chain_prev link and corrupt the outer stack.
 *
 * References: a waiting Deferred (`waiting_on` set) is kept alive by the
 * continuation entry in the Deferred it waits on (a strong reference); the
 * waiting side's pointer is weak and is cleared if the other is destroyed
 * unfired, which leaves the waiter paused for good, as nothing can fire it.
 */
#include <assert.h>
#include <string.h>

#include "../core/internal.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/log.h"

typedef struct entry {
    weft_callback_fn cb, eb;
    void *arg;
    weft_destroy_fn arg_free;
} entry;

#define INLINE_ENTRIES 4

struct weft_deferred {
    uint32_t refs;
    uint32_t paused;
    bool called;
    bool stacked;  /* on a run stack: its chain is being run (see above) */
    bool suppress; /* cancelled with no canceller: absorb one late firing */
    weft_result result;
    weft_deferred *waiting_on; /* weak; see the top of this file */
    weft_deferred *chain_prev; /* the run stack; the destroy list once unreachable */
    weft_canceller_fn canceller;
    void *canceller_arg;
    entry *ents;
    uint32_t head, len, cap;
    weft_reactor *reactor;
    const char *file;
    int line;
    entry inline_ents[INLINE_ENTRIES];
};

/* The continuation marker: an entry whose functions are this one hands the
 * result to the Deferred in arg, which waits on this one. Never called. */
static weft_result continue_marker(void *arg, weft_result r)
{
    (void)arg;
    return r;
}

/*
 * Freed Deferreds are kept (up to CACHE_MAX per reactor, linked through
 * chain_prev) and reused, so a program that makes and drops Deferreds at a
 * steady rate - every await, every call - stops allocating for them.
 */
#if defined(__SANITIZE_ADDRESS__)
#define WEFT__NO_CACHE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__NO_CACHE 1
#endif
#endif
/* Not under AddressSanitizer: a reused Deferred would hide a use after
 * free. */
enum { CACHE_MAX = 256 };

typedef struct cache {
    weft_deferred *free;
    unsigned n;
} cache;

#ifndef WEFT__NO_CACHE
static void cache_free(void *arg)
{
    cache *c = arg;
    while (c->free) {
        weft_deferred *d = c->free;
        c->free = d->chain_prev;
        weft_free(d);
    }
    weft_free(c);
}

static cache *cache_of(weft_reactor *r)
{
    cache *c = weft__reactor_ext(r, WEFT__EXT_DEFERREDS);
    if (!c && (c = weft_calloc(1, sizeof *c)))
        weft__reactor_set_ext(r, WEFT__EXT_DEFERREDS, c, cache_free);
    return c;
}
#endif

weft_deferred *weft__deferred_new(weft_reactor *r, const char *file, int line)
{
    cache *c = weft__reactor_ext(r, WEFT__EXT_DEFERREDS);
    weft_deferred *d;
    if (c && c->free && !weft__allocator_replaced()) {
        d = c->free;
        c->free = d->chain_prev;
        c->n--;
    } else if (!(d = weft_malloc(sizeof *d))) {
        return NULL;
    }
    memset(d, 0, offsetof(weft_deferred, inline_ents));
    d->refs = 1;
    d->ents = d->inline_ents;
    d->cap = INLINE_ENTRIES;
    d->reactor = r;
    d->file = file;
    d->line = line;
    return d;
}

void weft_deferred_set_canceller(weft_deferred *d, weft_canceller_fn fn, void *arg)
{
    d->canceller = fn;
    d->canceller_arg = arg;
}

weft_reactor *weft_deferred_reactor(const weft_deferred *d)
{
    return d->reactor;
}

const char *weft_deferred_origin(const weft_deferred *d, int *line)
{
    if (line)
        *line = d->line;
    return d->file;
}

weft_deferred *weft_deferred_ref(weft_deferred *d)
{
    d->refs++;
    return d;
}

/* Writes the description (verbose or not) of f into stack, or into a heap
 * block when it does not fit; returns the text (NULL when out of memory). */
static char *describe_failure(const weft_failure *f, bool verbose, char *stack, size_t size)
{
    size_t (*fn)(const weft_failure *, char *, size_t) = verbose ? weft_failure_describe_verbose : weft_failure_describe;
    size_t n = fn(f, stack, size);
    if (n < size)
        return stack;
    char *text = weft_malloc(n + 1);
    if (text)
        fn(f, text, n + 1);
    return text;
}

/* The message is for people (no source places); where the Deferred was made
 * and the failure's verbose chain go in fields of their own. */
static void report_unhandled(weft_deferred *d)
{
    weft_logger *lg = weft_reactor_logger(d->reactor);
    if (!weft_logger_enabled(lg, WEFT_LOG_CRITICAL, "weft.deferred"))
        return;
    weft_failure *f = weft_result_failure(d->result);
    char stack[512], vstack[512];
    char *text = describe_failure(f, false, stack, sizeof stack);
    char *verbose = describe_failure(f, true, vstack, sizeof vstack);
    weft_log(lg, WEFT_LOG_CRITICAL, "weft.deferred", "Unhandled error in Deferred: {failure}",
             WEFT_LOG_STR("failure", text ? text : "out of memory describing the failure"),
             WEFT_LOG_INT("code", weft_failure_code(f)), WEFT_LOG_STR("file", d->file), WEFT_LOG_INT("line", d->line),
             WEFT_LOG_STR("detail", verbose ? verbose : ""));
    if (text != stack)
        weft_free(text);
    if (verbose != vstack)
        weft_free(verbose);
}

/* Drops an entry that will never run. A waiter whose last reference was
 * that entry's joins the destroy list `later` instead of being destroyed here:
 * recursing would overflow the stack on a long chain of waiting Deferreds. */
static void drop_entry(entry *e, weft_deferred **later)
{
    if (e->cb == continue_marker) {
        weft_deferred *waiter = e->arg;
        waiter->waiting_on = NULL;
        if (--waiter->refs == 0) {
            waiter->chain_prev = *later;
            *later = waiter;
        }
    } else if (e->arg_free) {
        e->arg_free(e->arg);
    }
}

static void destroy_deferred(weft_deferred *d, weft_deferred **later)
{
    assert(!d->waiting_on); /* the waited-on Deferred holds a reference */
    if (weft_failed(d->result))
        report_unhandled(d);
    weft_result_free(d->result);
    d->result = weft_none();
    /* Entries are dropped from a copy of the bounds: arg_free may be user
     * code, but d is unreachable now, so nothing can add to it. */
    for (uint32_t i = d->head; i < d->len; i++)
        drop_entry(&d->ents[i], later);
    if (d->ents != d->inline_ents)
        weft_free(d->ents);
#ifndef WEFT__NO_CACHE
    cache *c = weft__allocator_replaced() ? NULL : cache_of(d->reactor);
    if (c && c->n < CACHE_MAX) {
        d->chain_prev = c->free;
        c->free = d;
        c->n++;
        return;
    }
#endif
    weft_free(d);
}

void weft_deferred_unref(weft_deferred *d)
{
    if (!d || --d->refs > 0)
        return;
    /* An unreachable Deferred is on no run stack (the stack holds a
     * reference), so chain_prev is free to link the destroy list. */
    d->chain_prev = NULL;
    while (d) {
        weft_deferred *later = d->chain_prev;
        destroy_deferred(d, &later);
        d = later;
    }
}

void weft__result_deferred_destroy(void *d)
{
    weft_deferred_unref(d);
}

/* Takes the fields one by one: passing a 32-byte entry by value made gcc -O2
 * store and reload it through the stack, a measurable stall per callback. */
static int push_entry(weft_deferred *d, weft_callback_fn cb, weft_callback_fn eb, void *arg, weft_destroy_fn arg_free)
{
    if (d->len == d->cap) {
        if (d->head > 0) {
            memmove(d->ents, d->ents + d->head, (d->len - d->head) * sizeof *d->ents);
            d->len -= d->head;
            d->head = 0;
        } else {
            uint32_t cap = d->cap < 16 ? 16 : d->cap * 2;
            entry *ents = d->ents == d->inline_ents ? weft_malloc(cap * sizeof *ents)
                                                    : weft_realloc(d->ents, cap * sizeof *ents);
            if (!ents)
                return WEFT_ENOMEM;
            if (d->ents == d->inline_ents)
                memcpy(ents, d->inline_ents, d->len * sizeof *ents);
            d->ents = ents;
            d->cap = cap;
        }
    }
    entry *e = &d->ents[d->len++];
    e->cb = cb;
    e->eb = eb;
    e->arg = arg;
    e->arg_free = arg_free;
    return 0;
}

static entry pop_entry(weft_deferred *d)
{
    entry e = d->ents[d->head++];
    if (d->head == d->len)
        d->head = d->len = 0;
    return e;
}

/*
 * Makes `cur`, whose step just returned the Deferred `inner` (one reference
 * held by cur->result), wait for it - or takes inner's result at once when
 * it has one. Returns true when cur must stop running for now.
 */
static bool wait_on(weft_deferred *cur, weft_deferred *inner)
{
    if (inner == cur) {
        weft_deferred_unref(inner);
        cur->result = weft_err_new(WEFT_EINVAL, "a callback returned the Deferred it belongs to");
        return false;
    }
    /* Steal inner's result only when it has one now. A stacked inner is
     * still running its chain (its result may be in a callback's hands):
     * wait for it like for an unfired one, so the result is owned once. */
    if (inner->called && !inner->paused && !inner->waiting_on && !inner->stacked) {
        cur->result = inner->result;
        inner->result = weft_none();
        weft_deferred_unref(inner);
        return false;
    }
    if (push_entry(inner, continue_marker, continue_marker, cur, NULL) < 0) {
        weft_deferred_unref(inner);
        cur->result = weft_err_new(WEFT_ENOMEM, "out of memory chaining Deferreds");
        return false;
    }
    cur->paused++;
    cur->waiting_on = inner;
    cur->refs++; /* held by the continuation entry */
    /* Drop the result's reference: if it was the last, inner is destroyed
     * here and its continuation entry releases cur (drop_entry). */
    cur->result = weft_none();
    weft_deferred_unref(inner);
    return true;
}

static void run_callbacks(weft_deferred *self)
{
    if (self->stacked)
        return; /* its loop, lower on the stack, will get to it */
    /* Every Deferred on the stack holds a reference for as long as it is
     * there: self's is taken here, a waiter's comes from its entry. */
    self->refs++;
    self->chain_prev = NULL;
    self->stacked = true;
    weft_deferred *top = self;

    while (top) {
        weft_deferred *cur = top;
        if (cur->paused) {
            /* Nothing more can happen now; the others keep their entries. */
            while (top) {
                weft_deferred *prev = top->chain_prev;
                top->stacked = false;
                weft_deferred_unref(top);
                top = prev;
            }
            return;
        }
        bool finished = true;
        while (cur->head < cur->len) {
            entry e = pop_entry(cur);
            if (e.cb == continue_marker) {
                weft_deferred *waiter = e.arg;
                waiter->result = cur->result;
                cur->result = weft_none();
                waiter->paused--;
                waiter->waiting_on = NULL;
                waiter->chain_prev = top;
                waiter->stacked = true;
                top = waiter; /* its entry's reference moves to the stack */
                finished = false;
                break;
            }
            weft_callback_fn fn = weft_failed(cur->result) ? e.eb : e.cb;
            if (fn) {
                /* The argument is the callback's now: leave none behind so
                 * nothing (take, a steal) can hand it out a second time. */
                weft_result arg = cur->result;
                cur->result = weft_none();
                cur->result = fn(e.arg, arg);
            }
            if (e.arg_free)
                e.arg_free(e.arg);
            if (weft_result_is_deferred(cur->result) && wait_on(cur, cur->result.value))
                break;
        }
        if (finished) {
            top = cur->chain_prev;
            cur->stacked = false;
            weft_deferred_unref(cur);
        }
    }
}

int weft_deferred_fire(weft_deferred *d, weft_result result)
{
    if (weft_result_is_deferred(result)) {
        weft_result_free(result);
        return WEFT_EINVAL;
    }
    if (d->called) {
        weft_result_free(result);
        if (d->suppress) {
            d->suppress = false;
            return 0;
        }
        return WEFT_EALREADYCALLED;
    }
    d->called = true;
    d->result = result;
    run_callbacks(d);
    return 0;
}

int weft_deferred_callback(weft_deferred *d, void *value, weft_destroy_fn destroy)
{
    return weft_deferred_fire(d, weft_ok(value, destroy));
}

int weft_deferred_errback(weft_deferred *d, weft_failure *f)
{
    return weft_deferred_fire(d, weft_err(f));
}

int weft_deferred_add_callbacks_full(weft_deferred *d, weft_callback_fn callback, weft_callback_fn errback,
                                     void *arg, weft_destroy_fn arg_free)
{
    int err = push_entry(d, callback, errback, arg, arg_free);
    if (err < 0)
        return err;
    if (d->called)
        run_callbacks(d);
    return 0;
}

int weft_deferred_add_callbacks(weft_deferred *d, weft_callback_fn callback, weft_callback_fn errback, void *arg)
{
    return weft_deferred_add_callbacks_full(d, callback, errback, arg, NULL);
}

int weft_deferred_add_callback(weft_deferred *d, weft_callback_fn callback, void *arg)
{
    return weft_deferred_add_callbacks_full(d, callback, NULL, arg, NULL);
}

int weft_deferred_add_errback(weft_deferred *d, weft_callback_fn errback, void *arg)
{
    return weft_deferred_add_callbacks_full(d, NULL, errback, arg, NULL);
}

int weft_deferred_add_both(weft_deferred *d, weft_callback_fn fn, void *arg)
{
    return weft_deferred_add_callbacks_full(d, fn, fn, arg, NULL);
}

static weft_result fire_other(void *arg, weft_result result)
{
    int err = weft_deferred_fire(arg, result);
    if (err < 0)
        return weft_err_new(err, "chained Deferred could not be fired");
    return weft_none();
}

static void unref_deferred(void *d)
{
    weft_deferred_unref(d);
}

int weft_deferred_chain(weft_deferred *d, weft_deferred *other)
{
    if (d == other)
        return WEFT_EINVAL;
    weft_deferred_ref(other);
    int err = weft_deferred_add_callbacks_full(d, fire_other, fire_other, other, unref_deferred);
    if (err < 0)
        weft_deferred_unref(other);
    return err;
}

void weft_deferred_pause(weft_deferred *d)
{
    d->paused++;
}

void weft_deferred_unpause(weft_deferred *d)
{
    if (d->paused == 0 || --d->paused > 0)
        return;
    if (d->called)
        run_callbacks(d);
}

void weft_deferred_cancel(weft_deferred *d)
{
    weft_deferred_ref(d);
    if (!d->called) {
        if (d->canceller)
            d->canceller(d->canceller_arg, d);
        else
            d->suppress = true;
        if (!d->called)
            weft_deferred_errback(d, weft_failure_new(WEFT_ECANCELED, "Deferred cancelled"));
    } else if (d->waiting_on) {
        weft_deferred_cancel(d->waiting_on);
    }
    weft_deferred_unref(d);
}

bool weft_deferred_called(const weft_deferred *d)
{
    return d->called;
}

bool weft_deferred_peek(const weft_deferred *d, weft_result *out)
{
    if (!d->called || d->paused || d->waiting_on)
        return false;
    if (out)
        *out = d->result;
    return true;
}

int weft_deferred_take(weft_deferred *d, weft_result *out)
{
    if (!weft_deferred_peek(d, out))
        return WEFT_EAGAIN;
    d->result = weft_none();
    return 0;
}

/* ---- helpers ---- */

static weft_deferred *fired(weft_reactor *r, weft_result result, const char *file, int line)
{
    weft_deferred *d = weft__deferred_new(r, file, line);
    if (!d) {
        weft_result_free(result);
        return NULL;
    }
    d->called = true;
    d->result = result;
    return d;
}

weft_deferred *weft__succeed(weft_reactor *r, void *value, weft_destroy_fn destroy, const char *file, int line)
{
    return fired(r, weft_ok(value, destroy), file, line);
}

weft_deferred *weft__fail(weft_reactor *r, weft_failure *f, const char *file, int line)
{
    return fired(r, weft_err(f), file, line);
}

weft_deferred *weft__maybe_deferred(weft_reactor *r, weft_result (*fn)(void *arg), void *arg, const char *file,
                                    int line)
{
    weft_result result = fn(arg);
    if (weft_result_is_deferred(result))
        return result.value;
    return fired(r, result, file, line);
}
