/* SPDX-License-Identifier: MIT */
/*
 * Services and their tree (service.h), after twisted.application.service's
 * Service and MultiService. A stop is a walk: each stopping service keeps
 * one (struct walk) that stops its children last first, each one's stop
 * begun when the one after it has ended, then the service's own stop; who
 * asked to stop waits in the walk's queue. The deadline is a timeout on the
 * caller's Deferred, whose errback names the services whose own stop is
 * still pending and cancels those stops.
 */
#include <stdio.h>
#include <string.h>

#include "../async/waitq.h"
#include "../core/list.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/reactor.h"
#include "weft/service.h"
#include "service_int.h"

typedef enum state {
    STOPPED,  /* nothing bound, nothing running */
    BOUND,    /* privileged_start done */
    RUNNING,  /* start done */
    STOPPING, /* a walk is under way */
} state;

typedef struct walk walk;

struct weft_service {
    weft_reactor *r;
    char *name; /* NULL: none */
    const weft_service_ops *ops;
    void *arg;
    weft_service *parent;
    weft__list node;     /* in the parent's children */
    weft__list children; /* in the order added */
    state state;
    walk *walk; /* while STOPPING */
};

struct walk {
    weft_service *s;
    weft__list *cursor;     /* the next child to stop, going back; &s->children once all are */
    weft_deferred *pending; /* s's own stop while it is pending, else NULL */
    weft__waitq waiters;    /* who waits for this walk's end */
};

static const weft_service_ops group_ops = {0};

#define SERVICE_OF(n) WEFT_CONTAINER_OF(n, weft_service, node)

weft_service *weft_service_new(weft_reactor *r, const char *name, const weft_service_ops *ops, void *arg)
{
    weft_service *s = weft_calloc(1, sizeof *s);
    char *copy = name ? weft_strdup(name) : NULL;
    if (!s || (name && !copy)) {
        weft_free(s);
        weft_free(copy);
        if (ops && ops->destroy)
            ops->destroy(arg);
        return NULL;
    }
    s->r = r;
    s->name = copy;
    s->ops = ops ? ops : &group_ops;
    s->arg = arg;
    weft__list_init(&s->node);
    weft__list_init(&s->children);
    return s;
}

/* "what: description" on the reactor's logger, for failures that are told
 * and not returned (a stop's, a start's when adding to a running parent). */
static void report(weft_service *s, const char *what, const weft_failure *f)
{
    size_t n = weft_failure_describe(f, NULL, 0);
    char *text = weft_malloc(n + 1);
    if (text)
        weft_failure_describe(f, text, n + 1);
    weft_log(weft_reactor_logger(s->r), WEFT_LOG_WARN, "weft.service", "{service}: {what}: {why}",
             WEFT_LOG_STR("service", s->name ? s->name : "(unnamed)"), WEFT_LOG_STR("what", what),
             WEFT_LOG_STR("why", text ? text : weft_failure_message(f)));
    weft_free(text);
}

/* ---- starting ---- */

static weft_deferred *stop_subtree(weft_service *s);

/* After a failed start: stops what has bound or started, in the background
 * (the caller gets the start's failure, not the stop's). */
static void undo(weft_service *s)
{
    weft_deferred_unref(stop_subtree(s));
}

/* Takes the subtree to BOUND (privileged_start) or RUNNING (start), parent
 * first; a service already there is left as it is. */
static int step_subtree(weft_service *s, state to, weft_failure **why)
{
    if (s->state >= to)
        return 0;
    int (*step)(weft_service *, void *, weft_failure **) = to == BOUND ? s->ops->privileged_start : s->ops->start;
    if (step) {
        int err = step(s, s->arg, why);
        if (err < 0)
            return err;
    }
    s->state = to;
    for (weft__list *n = s->children.next; n != &s->children; n = n->next) {
        int err = step_subtree(SERVICE_OF(n), to, why);
        if (err < 0)
            return err;
    }
    return 0;
}

/* Both starts: bind, then start if `to` is RUNNING; on a failure what was
 * done is undone and the failure is the caller's. */
static int start_to(weft_service *s, state to, weft_failure **why)
{
    weft_failure *mine = NULL;
    int err = step_subtree(s, BOUND, &mine);
    if (err == 0 && to == RUNNING)
        err = step_subtree(s, RUNNING, &mine);
    if (err < 0) {
        if (!mine)
            mine = weft_failure_new(err, "%s", weft_strerror(err));
        undo(s);
        if (why)
            *why = mine;
        else
            weft_failure_unref(mine);
    }
    return err;
}

int weft_service_privileged_start(weft_service *s, weft_failure **why)
{
    return start_to(s, BOUND, why);
}

int weft_service_start(weft_service *s, weft_failure **why)
{
    if (s->state == RUNNING || s->state == STOPPING)
        return s->state == RUNNING ? WEFT_ERUNNING : WEFT_EBUSY;
    return start_to(s, RUNNING, why);
}

/* ---- the tree ---- */

int weft_service_add(weft_service *parent, weft_service *child)
{
    if (!child)
        return WEFT_ENOMEM;
    if (child->parent)
        return WEFT_EINVAL;
    if (child->name && weft_service_child(parent, child->name)) {
        weft_service_free(child);
        return WEFT_EEXIST;
    }
    child->parent = parent;
    weft__list_push_back(&parent->children, &child->node);
    if (parent->state != RUNNING)
        return 0;
    weft_failure *why = NULL;
    int err = weft_service_start(child, &why);
    if (err < 0) {
        report(child, "cannot start", why);
        weft_failure_unref(why);
    }
    return err;
}

static void detach(weft_service *s)
{
    if (!s->parent)
        return;
    /* A parent's walk whose cursor is s goes on from the sibling before. */
    walk *w = s->parent->walk;
    if (w && w->cursor == &s->node)
        w->cursor = s->node.prev;
    weft__list_remove(&s->node);
    s->parent = NULL;
}

weft_deferred *weft_service_remove(weft_service *child)
{
    detach(child);
    return weft_service_stop(child, 0);
}

const char *weft_service_name(const weft_service *s)
{
    return s->name;
}

bool weft_service_running(const weft_service *s)
{
    return s->state == RUNNING;
}

weft_service *weft_service_parent(const weft_service *s)
{
    return s->parent;
}

void *weft_service_arg(const weft_service *s)
{
    return s->arg;
}

weft_reactor *weft_service_reactor(const weft_service *s)
{
    return s->r;
}

const weft_service_ops *weft__service_ops(const weft_service *s)
{
    return s->ops;
}

weft_service *weft_service_child(const weft_service *s, const char *name)
{
    for (weft__list *n = s->children.next; n != &s->children; n = n->next)
        if (SERVICE_OF(n)->name && strcmp(SERVICE_OF(n)->name, name) == 0)
            return SERVICE_OF(n);
    return NULL;
}

weft_service *weft_service_first_child(const weft_service *s)
{
    return weft__list_empty(&s->children) ? NULL : SERVICE_OF(s->children.next);
}

weft_service *weft_service_next_sibling(const weft_service *s)
{
    if (!s->parent || s->node.next == &s->parent->children)
        return NULL;
    return SERVICE_OF(s->node.next);
}

/* ---- stopping ---- */

static void quiesce_subtree(weft_service *s)
{
    if (s->state != BOUND && s->state != RUNNING)
        return;
    for (weft__list *n = s->children.prev; n != &s->children; n = n->prev)
        quiesce_subtree(SERVICE_OF(n));
    if (s->ops->quiesce)
        s->ops->quiesce(s, s->arg);
}

static void walk_step(walk *w);

/* The walk is over: s is stopped, then its waiters fire (one of them may
 * free s, so s is left alone from then on; w is out of reach by then). */
static void walk_end(walk *w)
{
    if (w->s) {
        w->s->state = STOPPED;
        w->s->walk = NULL;
    }
    weft__waitq_fire_all(&w->waiters, NULL);
    weft_free(w);
}

static weft_result child_stopped(void *arg, weft_result result)
{
    walk *w = arg;
    weft_result_free(result); /* told by the child's own walk */
    if (w->s)
        walk_step(w);
    else
        walk_end(w);
    return weft_none();
}

static weft_result own_stopped(void *arg, weft_result result)
{
    walk *w = arg;
    weft_deferred_unref(w->pending);
    w->pending = NULL;
    if (w->s && weft_failed(result) && !weft_failure_check(weft_result_failure(result), WEFT_ECANCELED))
        report(w->s, "stopping failed", weft_result_failure(result));
    weft_result_free(result);
    walk_end(w);
    return weft_none();
}

/* Waits on `d`, a Deferred not yet fired, with `fn`; false when out of
 * memory (then the wait is given up, as if d had fired). */
static bool wait_on(weft_deferred *d, weft_callback_fn fn, walk *w)
{
    return weft_deferred_add_both(d, fn, w) == 0;
}

static void walk_step(walk *w)
{
    weft_service *s = w->s;
    while (w->cursor != &s->children) {
        weft_service *c = SERVICE_OF(w->cursor);
        w->cursor = w->cursor->prev;
        weft_deferred *d = stop_subtree(c);
        if (!d)
            continue;
        bool waiting = !weft_deferred_called(d) && wait_on(d, child_stopped, w);
        weft_deferred_unref(d);
        if (waiting)
            return;
    }
    weft_deferred *d = s->ops->stop ? s->ops->stop(s, s->arg) : NULL;
    if (d && !weft_deferred_called(d)) {
        w->pending = d;
        if (wait_on(d, own_stopped, w))
            return;
        w->pending = NULL;
    } else if (d) {
        weft_result res;
        if (weft_deferred_take(d, &res) == 0) {
            if (weft_failed(res))
                report(s, "stopping failed", weft_result_failure(res));
            weft_result_free(res);
        }
    }
    weft_deferred_unref(d);
    walk_end(w);
}

/* Begins stopping s's subtree unless it is stopping or stopped: a Deferred
 * (the caller's) firing when it has stopped, NULL when it has already (or
 * memory ran out: then s is left as it was). */
static weft_deferred *stop_subtree(weft_service *s)
{
    if (!s->walk) {
        if (s->state == STOPPED)
            return NULL;
        walk *w = weft_calloc(1, sizeof *w);
        if (!w)
            return NULL;
        w->s = s;
        w->cursor = s->children.prev;
        weft__waitq_init(&w->waiters);
        s->walk = w;
        s->state = STOPPING;
        walk_step(w);
        if (!s->walk)
            return NULL;
    }
    return weft__waitq_add(&s->walk->waiters, s->r);
}

/* Text built in a fixed buffer, cut short when full. */
typedef struct text {
    char buf[512];
    size_t len;
} text;

static void text_add(text *t, const char *s)
{
    int n = snprintf(t->buf + t->len, sizeof t->buf - t->len, "%s", s);
    if (n > 0)
        t->len = t->len + (size_t)n < sizeof t->buf ? t->len + (size_t)n : sizeof t->buf - 1;
}

/* s's path from `top`: "top/child/s". */
static void path_of(const weft_service *top, const weft_service *s, text *t)
{
    if (s != top && s->parent) {
        path_of(top, s->parent, t);
        text_add(t, "/");
    }
    text_add(t, s->name ? s->name : "(unnamed)");
}

/* The services under s whose own stop is pending: named into t, and their
 * stops (a reference each) into out, when there is room. */
static size_t pending_stops(const weft_service *top, weft_service *s, text *t, weft_deferred **out, size_t room)
{
    size_t n = 0;
    for (weft__list *c = s->children.prev; c != &s->children; c = c->prev)
        n += pending_stops(top, SERVICE_OF(c), t, out + n, room > n ? room - n : 0);
    if (!s->walk || !s->walk->pending)
        return n;
    if (t->len)
        text_add(t, ", ");
    path_of(top, s, t);
    if (room > n)
        out[n] = weft_deferred_ref(s->walk->pending);
    return n + 1;
}

typedef struct deadline {
    weft_service *s;
    double seconds;
} deadline;

enum { MAX_CANCELLED = 64 };

static weft_result deadline_passed(void *arg, weft_result result)
{
    deadline *dl = arg;
    if (!weft_failure_check(weft_result_failure(result), WEFT_ETIMEDOUT))
        return result;
    /* Collected first, then cancelled: a cancelled stop lets its walk go
     * on to stops that begin after the deadline, and those are left to
     * run. */
    text names = {.len = 0};
    weft_deferred *stops[MAX_CANCELLED];
    size_t n = pending_stops(dl->s, dl->s, &names, stops, MAX_CANCELLED);
    weft_failure *f = weft_failure_wrap(weft_failure_ref(weft_result_failure(result)), WEFT_ETIMEDOUT,
                                        "not stopped after %gs: %s", dl->seconds, n ? names.buf : "(none pending)");
    weft_result_free(result);
    for (size_t i = 0; i < n && i < MAX_CANCELLED; i++) {
        weft_deferred_cancel(stops[i]);
        weft_deferred_unref(stops[i]);
    }
    return weft_err(f);
}

weft_deferred *weft_service_stop(weft_service *s, double seconds)
{
    if (s->state == STOPPED)
        return weft_succeed(s->r, NULL, NULL);
    if (!s->walk)
        quiesce_subtree(s);
    weft_deferred *d = stop_subtree(s);
    if (!d)
        return s->state == STOPPED ? weft_succeed(s->r, NULL, NULL) : NULL;
    if (seconds <= 0 || weft_deferred_called(d))
        return d;
    deadline *dl = weft_malloc(sizeof *dl);
    if (!dl || weft_deferred_add_timeout(d, seconds) < 0 ||
        weft_deferred_add_callbacks_full(d, NULL, deadline_passed, dl, weft_free) < 0) {
        /* Without its deadline: the stop still runs. */
        weft_free(dl);
        return d;
    }
    *dl = (deadline){s, seconds};
    return d;
}

/* Freeing under a stop: the walks of the subtree lose their service
 * first, all of them (so none goes on to a sibling being freed), then
 * their waiters are cancelled and their pending stops too, which ends each
 * walk quietly. */
static void orphan(weft_service *s, bool end)
{
    walk *w = s->walk;
    if (w && !end) {
        w->s = NULL;
    } else if (w) {
        /* Parent first: cancelling the children's waiters below may end
         * this walk, which must be off s by then. */
        s->walk = NULL;
        weft__waitq_cancel_all(&w->waiters);
        if (w->pending)
            weft_deferred_cancel(w->pending); /* own_stopped ends w */
    }
    for (weft__list *n = s->children.next; n != &s->children; n = n->next)
        orphan(SERVICE_OF(n), end);
}

static void free_subtree(weft_service *s)
{
    weft__list *n;
    while ((n = weft__list_pop_back(&s->children)))
        free_subtree(SERVICE_OF(n));
    if (s->ops->destroy)
        s->ops->destroy(s->arg);
    weft_free(s->name);
    weft_free(s);
}

void weft_service_free(weft_service *s)
{
    if (!s)
        return;
    detach(s);
    orphan(s, false);
    orphan(s, true);
    free_subtree(s);
}
