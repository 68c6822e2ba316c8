/* SPDX-License-Identifier: MIT */
/*
 * Handles (internal.h): the registry of what lives on a reactor, the
 * shutdown's disconnect step that ends them, what weft_reactor_free does
 * with those left, and weft_reactor_walk.
 *
 * Twisted's reactor disconnects every selectable at shutdown; libuv's
 * uv_loop_close refuses while handles live. weft ends them: shutdown first
 * asks nicely (connections flush and close, ports stop listening), aborts
 * what is still open when the grace period is over, then cancels the
 * coroutines still waiting - last, because a coroutine often finishes as
 * its connection goes.
 */
#include <stdio.h>

#include "reactor_int.h"
#include "weft/log.h"
#include "weft/timer.h"

/* Rounds of aborting before shutdown gives up on handles that will not end
 * (a coroutine that awaits again each time it is cancelled). */
enum { MAX_ROUNDS = 16 };

void weft__handles_init(weft_reactor *r)
{
    weft__list_init(&r->handles);
    weft__list_init(&r->retired);
}

void weft__handle_add(weft_reactor *r, weft__handle *h, const weft__handle_ops *ops)
{
    h->ops = ops;
    weft__list_push_back(&r->handles, &h->node);
}

void weft__handle_remove(weft__handle *h)
{
    if (h->node.next)
        weft__list_remove(&h->node);
}

void weft__handle_retire(weft_reactor *r, weft__handle *h)
{
    weft__handle_remove(h);
    weft__list_push_back(&r->retired, &h->node);
}

static weft__handle *of(weft__list *n)
{
    return WEFT_CONTAINER_OF(n, weft__handle, node);
}

/* Closes every live handle of one class, newest first (a TLS connection's
 * inner transport before the socket under it). Handles are moved aside
 * and put back one at a time, so that a close may remove any handle, its
 * own or another, and handles made meanwhile wait for the next round. */
static size_t close_class(weft_reactor *r, bool late, bool abort)
{
    weft__list todo, keep;
    weft__list_init(&todo);
    weft__list_init(&keep);
    weft__list_splice(&todo, &r->handles);
    size_t n = 0;
    weft__list *node;
    while ((node = weft__list_pop_back(&todo))) {
        weft__handle *h = of(node);
        weft__list_push_back(&keep, node);
        if (h->ops->late == late && h->ops->close) {
            n++;
            h->ops->close(h, abort);
        }
    }
    /* keep holds them newest first: put them back oldest first, before any
     * made while closing. */
    weft__list made;
    weft__list_init(&made);
    weft__list_splice(&made, &r->handles);
    while ((node = weft__list_pop_back(&keep)))
        weft__list_push_back(&r->handles, node);
    weft__list_splice(&r->handles, &made);
    return n;
}

static void count(weft_reactor *r, size_t *early, size_t *late)
{
    *early = *late = 0;
    for (weft__list *n = r->handles.next; n != &r->handles; n = n->next) {
        const weft__handle_ops *ops = of(n)->ops;
        if (ops->close)
            (ops->late ? (*late)++ : (*early)++);
    }
}

static void grace_over(void *arg)
{
    weft_reactor *r = arg;
    r->dc.timer.id = 0;
    r->dc.grace_over = true;
    r->wake_now = true; /* the step at the end of this iteration acts on it */
}

void weft__reactor_disconnect(weft_reactor *r, weft_call_fn done, void *arg)
{
    r->dc.active = true;
    r->dc.grace_over = r->fake_clock || r->shutdown_grace <= 0;
    r->dc.rounds = 0;
    r->dc.done = done;
    r->dc.arg = arg;
    close_class(r, false, false);
    if (!r->dc.grace_over && weft_call_later(r, r->shutdown_grace, grace_over, r, &r->dc.timer) < 0)
        r->dc.grace_over = true;
    /* The first step runs at the end of this iteration, whose poll must not
     * wait: often nothing is left to wait for. */
    r->wake_now = true;
}

static void log_left(weft_reactor *r, size_t left)
{
    weft_logger *lg = r->logger;
    weft_log(lg, WEFT_LOG_WARN, "weft.reactor", "shutdown: {count} handle(s) would not end",
             WEFT_LOG_INT("count", (long long)left));
    for (weft__list *n = r->handles.next; n != &r->handles; n = n->next) {
        weft__handle *h = of(n);
        char what[256] = "";
        if (h->ops->describe)
            h->ops->describe(h, what, sizeof what);
        weft_log(lg, WEFT_LOG_WARN, "weft.reactor", "  still alive: {kind} {what}", WEFT_LOG_STR("kind", h->ops->kind),
                 WEFT_LOG_STR("what", what));
    }
}

void weft__disconnect_step(weft_reactor *r)
{
    size_t early, late;
    count(r, &early, &late);
    if (early && !r->dc.grace_over)
        return; /* the grace timer wakes the loop */
    if ((early || late) && r->dc.rounds < MAX_ROUNDS) {
        r->dc.rounds++;
        close_class(r, early == 0, true);
        r->wake_now = true; /* what the aborts posted finishes next iteration */
        return;
    }
    if (early || late)
        log_left(r, early + late);
    weft_timer_cancel(r, r->dc.timer);
    r->dc.timer.id = 0;
    r->dc.active = false;
    r->dc.done(r->dc.arg);
}

/* Called by weft_reactor_free before anything else is torn down: the
 * handles still here end now, their last callbacks included, as at the
 * end of a shutdown whose grace is over. */
void weft__handles_fini(weft_reactor *r)
{
    for (unsigned round = 0; round < MAX_ROUNDS && !weft__list_empty(&r->handles); round++) {
        size_t early, late;
        count(r, &early, &late);
        if (!early && !late)
            break;
        close_class(r, early == 0, true);
        weft__reactor_run_posts(r);
    }
    weft__list *n;
    while ((n = weft__list_pop_front(&r->handles)) || (n = weft__list_pop_front(&r->retired))) {
        weft__handle *h = of(n);
        if (h->ops->free)
            h->ops->free(h);
    }
}

/* ---- walk ---- */

size_t weft_reactor_walk(weft_reactor *r, weft_walk_fn fn, void *arg)
{
    char what[256];
    size_t n = 0;
    for (weft__list *l = r->handles.next; l != &r->handles; l = l->next, n++) {
        weft__handle *h = of(l);
        what[0] = '\0';
        if (h->ops->describe)
            h->ops->describe(h, what, sizeof what);
        fn(arg, h->ops->kind, what);
    }
    for (size_t fd = 0; fd < r->nfds; fd++) {
        const weft__fdslot *s = &r->fds[fd];
        if (!s->interest || (int)fd == r->wake_fd || (int)fd == r->signal_fd || (int)fd == r->backend_fd)
            continue;
        snprintf(what, sizeof what, "%zu watched for%s%s", fd, s->interest & WEFT_READABLE ? " reading" : "",
                 s->interest & WEFT_WRITABLE ? " writing" : "");
        fn(arg, "descriptor", what);
        n++;
    }
    for (uint32_t i = 0; i < r->nheap; i++, n++) {
        double in = (double)(r->heap[i].when - r->now_ns) / 1e9;
        snprintf(what, sizeof what, "due in %.3f s", in);
        fn(arg, "timer", what);
    }
    for (size_t i = 0; i < r->soon.len; i++, n++)
        fn(arg, "call", "queued by call_soon");
    return n;
}
