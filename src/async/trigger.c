/* SPDX-License-Identifier: MIT */
/*
 * System event triggers, after Twisted's _ThreePhaseEvent. The state hangs
 * off the reactor through the core's hook (core/internal.h), created with the
 * first trigger. Triggers are one-shot: each runs in the one firing of its
 * event. The "before" phase's Deferreds are gathered in a DeferredList; for
 * shutdown it carries the reactor's shutdown timeout.
 */
#include "../core/internal.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/deferred_list.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/trigger.h"

typedef struct trigger {
    uint64_t id;
    weft_trigger_fn fn;
    void *arg;
    weft_phase phase;
    weft_system_event event;
} trigger;

typedef struct triggers {
    weft_reactor *r;
    trigger *v;
    size_t len, cap;
    uint64_t next_id;
} triggers;

static void triggers_free(void *state)
{
    triggers *t = state;
    weft_free(t->v);
    weft_free(t);
}

/* Takes the first trigger of (event, phase) out, or returns false. */
static bool take(triggers *t, int event, int phase, trigger *out)
{
    for (size_t i = 0; i < t->len; i++) {
        if ((int)t->v[i].event == event && (int)t->v[i].phase == phase) {
            *out = t->v[i];
            for (size_t j = i + 1; j < t->len; j++)
                t->v[j - 1] = t->v[j];
            t->len--;
            return true;
        }
    }
    return false;
}

/* Runs every trigger of one phase, including those added while it runs. */
static void run_phase(triggers *t, int event, int phase, weft_deferred ***waits, size_t *nwaits)
{
    trigger tr;
    while (take(t, event, phase, &tr)) {
        weft_deferred *d = tr.fn(tr.arg);
        if (!d)
            continue;
        weft_deferred **v = waits ? weft_realloc(*waits, (*nwaits + 1) * sizeof *v) : NULL;
        if (!v) {
            /* Not waited for (other phases, or no memory to remember it). */
            weft_deferred_unref(d);
            continue;
        }
        v[(*nwaits)++] = d;
        *waits = v;
    }
}

static void after_disconnect(void *arg)
{
    triggers *t = arg;
    run_phase(t, WEFT_EVENT_SHUTDOWN, WEFT_PHASE_AFTER, NULL, NULL);
    weft__reactor_crash(t->r);
}

static void finish_event(triggers *t, int event)
{
    run_phase(t, event, WEFT_PHASE_DURING, NULL, NULL);
    if (event == WEFT_EVENT_SHUTDOWN) {
        /* Between "during" and "after": everything still alive ends. */
        weft__reactor_disconnect(t->r, after_disconnect, t);
        return;
    }
    run_phase(t, event, WEFT_PHASE_AFTER, NULL, NULL);
}

typedef struct continuation {
    triggers *t;
    int event;
} continuation;

static weft_result continue_firing(void *arg, weft_result result)
{
    continuation *c = arg;
    weft_logger *lg = weft_reactor_logger(c->t->r);
    weft_failure *f = weft_result_failure(result);
    if (f) {
        weft_log(lg, WEFT_LOG_ERROR, "weft.reactor", "waiting for \"before\" triggers failed: {message}",
                 WEFT_LOG_STR("message", weft_failure_message(f)));
    } else if (result.value) {
        weft_result_list *l = result.value;
        for (size_t i = 0; i < l->count; i++) {
            weft_failure *item = weft_result_failure(l->items[i]);
            if (item)
                weft_log(lg, WEFT_LOG_ERROR, "weft.reactor", "a \"before\" trigger failed: {message}",
                         WEFT_LOG_STR("message", weft_failure_message(item)), WEFT_LOG_INT("code", weft_failure_code(item)));
        }
    }
    weft_result_free(result);
    finish_event(c->t, c->event);
    return weft_none();
}

static void fire(void *state, int event)
{
    triggers *t = state;
    weft_deferred **waits = NULL;
    size_t nwaits = 0;
    run_phase(t, event, WEFT_PHASE_BEFORE, &waits, &nwaits);
    if (nwaits == 0) {
        finish_event(t, event);
        return;
    }
    continuation *c = weft_malloc(sizeof *c);
    weft_deferred *all = c ? weft_deferred_list(t->r, waits, nwaits, WEFT_LIST_CONSUME_ERRORS) : NULL;
    for (size_t i = 0; i < nwaits; i++)
        weft_deferred_unref(waits[i]);
    weft_free(waits);
    if (!all) {
        weft_free(c);
        finish_event(t, event); /* no memory to wait: carry on rather than hang */
        return;
    }
    *c = (continuation){t, event};
    int err = 0;
    if (event == WEFT_EVENT_SHUTDOWN)
        err = weft_deferred_add_timeout(all, weft__reactor_shutdown_timeout(t->r));
    if (err == 0)
        err = weft_deferred_add_callbacks_full(all, continue_firing, continue_firing, c, weft_free);
    if (err < 0) {
        weft_free(c);
        weft_deferred_cancel(all);
        weft_deferred_unref(all);
        finish_event(t, event);
        return;
    }
    weft_deferred_unref(all);
}

int weft_reactor_add_trigger(weft_reactor *r, weft_phase phase, weft_system_event event, weft_trigger_fn fn,
                             void *arg, uint64_t *id)
{
    if ((unsigned)phase > WEFT_PHASE_AFTER || (unsigned)event > WEFT_EVENT_SHUTDOWN || !fn)
        return WEFT_EINVAL;
    triggers *t = weft__reactor_hook_state(r);
    if (!t) {
        if (!(t = weft_calloc(1, sizeof *t)))
            return WEFT_ENOMEM;
        t->r = r;
        t->next_id = 1;
        weft__reactor_set_hook(r, &(weft__reactor_hook){fire, triggers_free, t});
    }
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        trigger *v = weft_realloc(t->v, cap * sizeof *v);
        if (!v)
            return WEFT_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->len] = (trigger){t->next_id++, fn, arg, phase, event};
    if (id)
        *id = t->v[t->len].id;
    t->len++;
    return 0;
}

/* weft_reactor_when_stopped: a late handle, so that shutdown fires it once
 * the connections and ports are gone, with the coroutines' awaits. */
typedef struct stopped {
    weft__handle handle;
    weft_deferred *d; /* our reference */
} stopped;

static void stopped_fire(stopped *s)
{
    weft_deferred *d = s->d;
    weft__handle_remove(&s->handle);
    weft_free(s);
    weft_deferred_set_canceller(d, NULL, NULL);
    if (!weft_deferred_called(d))
        weft_deferred_callback(d, NULL, NULL);
    weft_deferred_unref(d);
}

static void stopped_close(weft__handle *h, bool abort)
{
    if (abort)
        stopped_fire(WEFT_CONTAINER_OF(h, stopped, handle));
}

/* Cancelled (an await cancelled by hand, say): it fires all the same. */
static void stopped_cancel(void *arg, weft_deferred *d)
{
    (void)d;
    stopped_fire(arg);
}

static const weft__handle_ops stopped_ops = {.kind = "waiting for the stop", .close = stopped_close, .late = true};

weft_deferred *weft_reactor_when_stopped(weft_reactor *r)
{
    stopped *s = weft_calloc(1, sizeof *s);
    weft_deferred *d = s ? weft_deferred_new(r) : NULL;
    if (!d) {
        weft_free(s);
        return NULL;
    }
    s->d = weft_deferred_ref(d);
    weft_deferred_set_canceller(d, stopped_cancel, s);
    weft__handle_add(r, &s->handle, &stopped_ops);
    return d;
}

int weft_reactor_remove_trigger(weft_reactor *r, uint64_t id)
{
    triggers *t = weft__reactor_hook_state(r);
    for (size_t i = 0; t && i < t->len; i++) {
        if (t->v[i].id == id) {
            for (size_t j = i + 1; j < t->len; j++)
                t->v[j - 1] = t->v[j];
            t->len--;
            return 0;
        }
    }
    return WEFT_ENOENT;
}
