/* SPDX-License-Identifier: MIT */
/* An intrusive circular doubly-linked list (libuv's queue.h idea): nodes are
 * embedded in the objects, so linking never allocates and unlinking is O(1).
 * An empty list is a head pointing at itself. */
#ifndef WEFT_CORE_LIST_H
#define WEFT_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct weft__list {
    struct weft__list *prev, *next;
} weft__list;

static inline void weft__list_init(weft__list *h)
{
    h->prev = h->next = h;
}

static inline bool weft__list_empty(const weft__list *h)
{
    return h->next == h;
}

static inline void weft__list_push_back(weft__list *h, weft__list *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}

static inline void weft__list_remove(weft__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

static inline weft__list *weft__list_pop_front(weft__list *h)
{
    if (weft__list_empty(h))
        return NULL;
    weft__list *n = h->next;
    weft__list_remove(n);
    return n;
}

static inline weft__list *weft__list_pop_back(weft__list *h)
{
    if (weft__list_empty(h))
        return NULL;
    weft__list *n = h->prev;
    weft__list_remove(n);
    return n;
}

/* Moves every node of `from` to the end of `to`, leaving `from` empty. */
static inline void weft__list_splice(weft__list *to, weft__list *from)
{
    if (weft__list_empty(from))
        return;
    from->next->prev = to->prev;
    to->prev->next = from->next;
    from->prev->next = to;
    to->prev = from->prev;
    weft__list_init(from);
}

#endif
