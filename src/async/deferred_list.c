/* SPDX-License-Identifier: MIT */
/*
 * DeferredList and gather. One state object per list, shared by an entry on
 * each input and by a pass-through entry at the head of the list's own
 * Deferred (`out`), which keeps the state alive for out's canceller until out
 * fires or dies. The state holds a reference to out while any input entry is
 * still live - that is what fires out - and drops it when the last input
 * entry has run or been dropped, so nothing cycles.
 */
#include <stdio.h>
#include <string.h>

#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/deferred_list.h"
#include "weft/error.h"

typedef struct list_state list_state;

typedef struct input_slot {
    list_state *st;
    weft_deferred *d; /* weak; NULL once its entry ran or was dropped */
} input_slot;

struct list_state {
    size_t refs;  /* live input entries + out's head entry */
    size_t live;  /* live input entries */
    size_t finished;
    unsigned flags;
    bool aborted; /* set-up failed: entries pass everything through */
    weft_deferred *out;
    weft_result_list *results; /* NULL once handed to out */
    size_t n;
    input_slot slots[];
};

static void list_destroy(void *p)
{
    weft_result_list *l = p;
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        weft_result_free(l->items[i]);
    weft_free(l);
}

static void state_release(void *arg)
{
    list_state *st = arg;
    if (--st->refs > 0)
        return;
    list_destroy(st->results);
    weft_free(st);
}

/* An input entry is gone (ran or dropped). */
static void slot_release(void *arg)
{
    input_slot *s = arg;
    list_state *st = s->st;
    s->d = NULL;
    if (--st->live == 0)
        weft_deferred_unref(st->out);
    state_release(st);
}

static void fire_with_list(list_state *st, size_t index)
{
    weft_result_list *l = st->results;
    st->results = NULL;
    l->index = index;
    weft_deferred_callback(st->out, l, list_destroy);
}

static weft_result on_input(void *arg, weft_result result)
{
    input_slot *s = arg;
    list_state *st = s->st;
    if (st->aborted)
        return result;
    size_t index = (size_t)(s - st->slots);
    weft_failure *f = weft_result_failure(result);
    bool out_open = !weft_deferred_called(st->out);
    st->finished++;

    if (!f) {
        if (!out_open)
            return result;
        weft_result_list *l = st->results;
        l->items[index] = result;
        result = weft_none();
        if (st->flags & WEFT_LIST_FIRE_ON_ONE_CALLBACK)
            fire_with_list(st, index);
        else if (st->finished == st->n)
            fire_with_list(st, 0);
        return result;
    }

    bool consume = st->flags & WEFT_LIST_CONSUME_ERRORS;
    if (out_open) {
        st->results->items[index] = weft_err(weft_failure_ref(f));
        if (st->flags & WEFT_LIST_FIRE_ON_ONE_ERRBACK)
            weft_deferred_errback(st->out, weft_failure_wrap(weft_failure_ref(f), WEFT_EFIRSTERROR,
                                                             "input %zu of %zu failed", index, st->n));
        else if (st->finished == st->n)
            fire_with_list(st, 0);
    }
    if (consume) {
        weft_result_free(result);
        return weft_none();
    }
    return result;
}

static void cancel_inputs(void *arg, weft_deferred *out)
{
    (void)out;
    list_state *st = arg;
    st->refs++; /* cancelling may run entries that release the state */
    for (size_t i = 0; i < st->n; i++) {
        weft_deferred *d = st->slots[i].d;
        if (d) {
            weft_deferred_ref(d);
            weft_deferred_cancel(d);
            weft_deferred_unref(d);
        }
    }
    state_release(st);
}

weft_deferred *weft_deferred_list(weft_reactor *r, weft_deferred *const *inputs, size_t n, unsigned flags)
{
    list_state *st = weft_malloc(sizeof *st + n * sizeof st->slots[0]);
    weft_result_list *l = weft_malloc(sizeof *l + n * sizeof l->items[0]);
    weft_deferred *out = st && l ? weft_deferred_new(r) : NULL;
    if (!out || weft_deferred_add_callbacks_full(out, NULL, NULL, st, state_release) < 0) {
        weft_deferred_unref(out);
        weft_free(st);
        weft_free(l);
        return NULL;
    }
    /* Two references to start: out's head entry, and this function's own
     * while it adds entries, since inputs that already fired run theirs (and
     * may fire out) inside the loop. */
    *st = (list_state){.refs = 2, .flags = flags, .out = out, .results = l, .n = n};
    l->count = n;
    l->index = 0;
    for (size_t i = 0; i < n; i++) {
        l->items[i] = weft_none();
        st->slots[i] = (input_slot){st, NULL};
    }
    weft_deferred_set_canceller(out, cancel_inputs, st);

    /* The inputs' entries share one reference to out while any is live. */
    if (n > 0)
        weft_deferred_ref(out);
    st->live = 1; /* held until every entry is added, so no early release */
    /* Each input is paused while entries are added, so that an input that
     * already fired does not hand its value (or, consuming, its failure)
     * to the list before we know the list can be made: on failure no input
     * may have been touched. Unpausing below runs the entries in order. */
    size_t paused = 0;
    for (size_t i = 0; i < n; i++) {
        weft_deferred_pause(inputs[i]);
        paused++;
        st->slots[i].d = inputs[i];
        st->refs++;
        st->live++;
        if (weft_deferred_add_callbacks_full(inputs[i], on_input, on_input, &st->slots[i], slot_release) < 0) {
            st->slots[i].d = NULL;
            st->refs--;
            st->live--;
            st->aborted = true;
            break;
        }
    }
    /* Aborted: the entries already added pass every result through. */
    for (size_t i = 0; i < paused; i++)
        weft_deferred_unpause(inputs[i]);
    bool aborted = st->aborted;
    if (--st->live == 0 && n > 0)
        weft_deferred_unref(out);
    if (!aborted && n == 0 && !(flags & WEFT_LIST_FIRE_ON_ONE_CALLBACK))
        fire_with_list(st, 0);
    state_release(st);
    if (aborted) {
        weft_deferred_unref(out);
        return NULL;
    }
    return out;
}

weft_deferred *weft_gather(weft_reactor *r, weft_deferred *const *inputs, size_t n, bool consume_errors)
{
    return weft_deferred_list(r, inputs, n, WEFT_LIST_FIRE_ON_ONE_ERRBACK | (consume_errors ? WEFT_LIST_CONSUME_ERRORS : 0u));
}
