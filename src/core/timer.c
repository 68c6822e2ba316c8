/* SPDX-License-Identifier: MIT */
/*
 * Timers: a slab of slots and a 4-ary min-heap of (due time, sequence, slot).
 * Handles are (generation << 32 | slot + 1), so a handle outliving its timer
 * is recognised instead of touching a reused slot. The heap holds its keys
 * inline, so sifting walks one array; four children share a cache line.
 * Free slots form a LIFO list threaded through heap_idx.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reactor_int.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/clock.h"

#define NO_SLOT UINT32_MAX

int64_t weft__monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int weft__seconds_to_ns(double seconds, int64_t *out)
{
    if (isnan(seconds))
        return WEFT_EINVAL;
    if (seconds <= 0)
        *out = 0;
    else if (seconds > 3.15e9) /* a century; keeps now + delay far from overflow */
        *out = (int64_t)3.15e18;
    else
        *out = (int64_t)(seconds * 1e9 + 0.5); /* positive here: this rounds */
    return 0;
}

static inline bool before(const weft__heap_ent *a, const weft__heap_ent *b)
{
    return a->when < b->when || (a->when == b->when && (int32_t)(a->seq - b->seq) < 0);
}

static inline void heap_set(weft_reactor *r, uint32_t i, weft__heap_ent e)
{
    r->heap[i] = e;
    r->tslots[e.slot].heap_idx = i;
}

static void sift_up(weft_reactor *r, uint32_t i)
{
    weft__heap_ent e = r->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 4;
        if (!before(&e, &r->heap[parent]))
            break;
        heap_set(r, i, r->heap[parent]);
        i = parent;
    }
    heap_set(r, i, e);
}

static void sift_down(weft_reactor *r, uint32_t i)
{
    weft__heap_ent e = r->heap[i];
    for (;;) {
        uint32_t first = 4 * i + 1;
        if (first >= r->nheap)
            break;
        uint32_t best = first;
        uint32_t end = first + 4 < r->nheap ? first + 4 : r->nheap;
        for (uint32_t c = first + 1; c < end; c++)
            if (before(&r->heap[c], &r->heap[best]))
                best = c;
        if (!before(&r->heap[best], &e))
            break;
        heap_set(r, i, r->heap[best]);
        i = best;
    }
    heap_set(r, i, e);
}

static void heap_remove(weft_reactor *r, uint32_t i)
{
    uint32_t last = --r->nheap;
    if (i == last)
        return;
    weft__heap_ent moved = r->heap[last];
    bool up = before(&moved, &r->heap[i]);
    heap_set(r, i, moved);
    if (up)
        sift_up(r, i);
    else
        sift_down(r, i);
}

/* Removes the earliest entry. The hole at the root goes down to a leaf
 * along the smaller children (no comparison with the moved entry on the
 * way), and the last entry is sifted up from there: it nearly always
 * belongs near the bottom, so this saves a comparison per level. */
static void heap_pop(weft_reactor *r)
{
    uint32_t n = --r->nheap;
    if (n == 0)
        return;
    weft__heap_ent last = r->heap[n];
    uint32_t i = 0;
    for (;;) {
        uint32_t first = 4 * i + 1;
        if (first >= n)
            break;
        uint32_t best = first;
        uint32_t end = first + 4 < n ? first + 4 : n;
        for (uint32_t c = first + 1; c < end; c++)
            if (before(&r->heap[c], &r->heap[best]))
                best = c;
        heap_set(r, i, r->heap[best]);
        i = best;
    }
    heap_set(r, i, last);
    sift_up(r, i);
}

static void slot_free(weft_reactor *r, uint32_t s)
{
    r->tslots[s].pending = false;
    r->tslots[s].heap_idx = r->free_tslot;
    r->free_tslot = s;
}

static int slot_alloc(weft_reactor *r, uint32_t *out)
{
    if (r->free_tslot == NO_SLOT || r->ntslots == 0) {
        uint32_t n = r->ntslots ? r->ntslots * 2 : 64;
        if (n <= r->ntslots)
            return WEFT_ENOMEM;
        weft__timer_slot *s = weft_realloc(r->tslots, (size_t)n * sizeof *s);
        if (!s)
            return WEFT_ENOMEM;
        weft__heap_ent *h = weft_realloc(r->heap, (size_t)n * sizeof *h);
        if (!h) {
            /* Keep the grown slab: it is consistent, only unused. */
            r->tslots = s;
            return WEFT_ENOMEM;
        }
        r->tslots = s;
        r->heap = h;
        r->cap_heap = n;
        /* New slots join the free list, lowest index first. */
        uint32_t first = r->ntslots;
        if (r->ntslots == 0)
            r->free_tslot = NO_SLOT;
        for (uint32_t i = n; i-- > first;) {
            s[i] = (weft__timer_slot){.gen = 0, .heap_idx = r->free_tslot};
            r->free_tslot = i;
        }
        r->ntslots = n;
    }
    uint32_t i = r->free_tslot;
    r->free_tslot = r->tslots[i].heap_idx;
    r->tslots[i].gen++;
    if (r->tslots[i].gen == 0) /* never make a zero handle */
        r->tslots[i].gen = 1;
    *out = i;
    return 0;
}

/* The slot a handle names while its timer is pending, or NO_SLOT. */
static uint32_t lookup(const weft_reactor *r, weft_timer t)
{
    uint32_t s = (uint32_t)t.id - 1;
    if ((uint32_t)t.id == 0 || s >= r->ntslots)
        return NO_SLOT;
    const weft__timer_slot *slot = &r->tslots[s];
    return slot->gen == (uint32_t)(t.id >> 32) && slot->pending ? s : NO_SLOT;
}

static void schedule(weft_reactor *r, uint32_t s, int64_t when, bool in_heap)
{
    weft__heap_ent e = {.when = when, .seq = r->timer_seq++, .slot = s};
    if (in_heap) {
        uint32_t i = r->tslots[s].heap_idx;
        bool up = before(&e, &r->heap[i]);
        heap_set(r, i, e);
        if (up)
            sift_up(r, i);
        else
            sift_down(r, i);
    } else {
        heap_set(r, r->nheap++, e);
        sift_up(r, r->nheap - 1);
    }
}

int weft_call_later(weft_reactor *r, double seconds, weft_call_fn fn, void *arg, weft_timer *out)
{
    return weft_call_later_full(r, seconds, fn, arg, NULL, out);
}

int weft_call_later_full(weft_reactor *r, double seconds, weft_call_fn fn, void *arg, weft_destroy_fn drop,
                         weft_timer *out)
{
    int64_t delay;
    int err = weft__seconds_to_ns(seconds, &delay);
    if (err < 0)
        return err;
    uint32_t s;
    if ((err = slot_alloc(r, &s)) < 0)
        return err;
    weft__timer_slot *slot = &r->tslots[s];
    slot->fn = fn;
    slot->arg = arg;
    slot->drop = drop;
    slot->pending = true;
    schedule(r, s, r->now_ns + delay, false);
    if (out)
        out->id = (uint64_t)slot->gen << 32 | (s + 1);
    return 0;
}

int weft_timer_cancel(weft_reactor *r, weft_timer t)
{
    uint32_t s = lookup(r, t);
    if (s == NO_SLOT)
        return WEFT_ENOTACTIVE;
    weft_destroy_fn drop = r->tslots[s].drop;
    void *arg = r->tslots[s].arg;
    heap_remove(r, r->tslots[s].heap_idx);
    slot_free(r, s);
    if (drop)
        drop(arg);
    return 0;
}

int weft_timer_reset(weft_reactor *r, weft_timer t, double seconds)
{
    uint32_t s = lookup(r, t);
    if (s == NO_SLOT)
        return WEFT_ENOTACTIVE;
    int64_t delay;
    int err = weft__seconds_to_ns(seconds, &delay);
    if (err < 0)
        return err;
    schedule(r, s, r->now_ns + delay, true);
    return 0;
}

int weft_timer_delay(weft_reactor *r, weft_timer t, double seconds)
{
    uint32_t s = lookup(r, t);
    if (s == NO_SLOT)
        return WEFT_ENOTACTIVE;
    int64_t by = 0;
    if (weft__seconds_to_ns(fabs(seconds), &by) < 0)
        return WEFT_EINVAL; /* NaN */
    int64_t when = r->heap[r->tslots[s].heap_idx].when;
    schedule(r, s, seconds < 0 ? when - by : when + by, true);
    return 0;
}

bool weft_timer_active(const weft_reactor *r, weft_timer t)
{
    return lookup(r, t) != NO_SLOT;
}

double weft_timer_time(const weft_reactor *r, weft_timer t)
{
    uint32_t s = lookup(r, t);
    return s == NO_SLOT ? NAN : (double)r->heap[r->tslots[s].heap_idx].when / 1e9;
}

size_t weft_reactor_timer_count(const weft_reactor *r)
{
    return r->nheap;
}

int64_t weft__timers_next(const weft_reactor *r)
{
    if (r->nheap == 0)
        return -1;
    int64_t d = r->heap[0].when - r->now_ns;
    return d > 0 ? d : 0;
}

void weft__timers_run(weft_reactor *r, bool all)
{
    uint32_t limit = r->timer_seq;
    while (r->nheap > 0) {
        weft__heap_ent top = r->heap[0];
        if (top.when > r->now_ns || (!all && (int32_t)(top.seq - limit) >= 0))
            break;
        weft__timer_slot *slot = &r->tslots[top.slot];
        weft_call_fn fn = slot->fn;
        void *arg = slot->arg;
        heap_pop(r);
        slot_free(r, top.slot);
        fn(arg);
    }
}

void weft__timers_fini(weft_reactor *r)
{
    /* Timers that will never fire give back what they hold; a drop may
     * cancel other timers, so take them one at a time. */
    while (r->nheap > 0) {
        uint32_t s = r->heap[r->nheap - 1].slot;
        weft_destroy_fn drop = r->tslots[s].drop;
        void *arg = r->tslots[s].arg;
        r->nheap--;
        slot_free(r, s);
        if (drop)
            drop(arg);
    }
    weft_free(r->tslots);
    weft_free(r->heap);
    r->tslots = NULL;
    r->heap = NULL;
    r->ntslots = r->nheap = r->cap_heap = 0;
}

/* ---- the fake clock (clock.h) ---- */


int weft_clock_advance(weft_reactor *r, double seconds)
{
    int64_t by;
    if (!r->fake_clock || seconds < 0 || weft__seconds_to_ns(seconds, &by) < 0)
        return WEFT_EINVAL;
    r->now_ns += by;
    weft__timers_run(r, true);
    return 0;
}

int weft_clock_pump(weft_reactor *r, const double *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int err = weft_clock_advance(r, steps[i]);
        if (err < 0)
            return err;
    }
    return 0;
}

static int cmp_ent(const void *a, const void *b)
{
    const weft__heap_ent *x = a, *y = b;
    return before(x, y) ? -1 : before(y, x) ? 1 : 0;
}

size_t weft_clock_calls(const weft_reactor *r, weft_timer *out, size_t max)
{
    if (max == 0 || r->nheap == 0)
        return r->nheap;
    weft__heap_ent *copy = weft_malloc((size_t)r->nheap * sizeof *copy);
    if (!copy)
        return r->nheap; /* nothing stored: the caller sees out untouched */
    memcpy(copy, r->heap, (size_t)r->nheap * sizeof *copy);
    qsort(copy, r->nheap, sizeof *copy, cmp_ent);
    for (size_t i = 0; i < max && i < r->nheap; i++)
        out[i].id = (uint64_t)r->tslots[copy[i].slot].gen << 32 | (copy[i].slot + 1);
    weft_free(copy);
    return r->nheap;
}
