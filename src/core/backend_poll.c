/* SPDX-License-Identifier: MIT */
/*
 * The poll backend: portable POSIX, O(n) per wait. A dense pollfd array with
 * each descriptor's index kept in its slot, so adding and removing are O(1)
 * (removal moves the last entry into the hole).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "reactor_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

static int poll_init(weft_reactor *r)
{
    (void)r;
    return 0;
}

static void poll_fini(weft_reactor *r)
{
    weft_free(r->pfds);
    r->pfds = NULL;
    r->npfds = r->cap_pfds = 0;
}

static short poll_bits(unsigned interest)
{
    return (short)(((interest & WEFT_READABLE) ? POLLIN | POLLRDHUP : 0) | ((interest & WEFT_WRITABLE) ? POLLOUT : 0));
}

static int poll_update(weft_reactor *r, int fd, unsigned old, unsigned interest, uint32_t gen)
{
    (void)gen;
    weft__fdslot *s = &r->fds[fd];
    if (!old) {
        if (r->npfds == r->cap_pfds) {
            size_t cap = r->cap_pfds ? r->cap_pfds * 2 : 16;
            struct pollfd *p = weft_realloc(r->pfds, cap * sizeof *p);
            if (!p)
                return WEFT_ENOMEM;
            r->pfds = p;
            r->cap_pfds = cap;
        }
        s->pidx = (int32_t)r->npfds++;
        r->pfds[s->pidx] = (struct pollfd){.fd = fd, .events = poll_bits(interest)};
    } else if (interest) {
        r->pfds[s->pidx].events = poll_bits(interest);
    } else {
        size_t last = --r->npfds;
        if ((size_t)s->pidx != last) {
            r->pfds[s->pidx] = r->pfds[last];
            r->fds[r->pfds[s->pidx].fd].pidx = s->pidx;
        }
        s->pidx = -1;
    }
    return 0;
}

static int poll_wait(weft_reactor *r, int64_t timeout_ns, weft__event *out, int max)
{
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    int n = ppoll(r->pfds, r->npfds, tsp, NULL);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int k = 0;
    for (size_t i = 0; i < r->npfds && k < n && k < max; i++) {
        short e = r->pfds[i].revents;
        if (!e)
            continue;
        int fd = r->pfds[i].fd;
        out[k++] = (weft__event){
            .fd = fd,
            .gen = r->fds[fd].gen,
            .events = ((e & (POLLIN | POLLPRI | POLLRDHUP)) ? WEFT_READABLE : 0u) | ((e & POLLOUT) ? WEFT_WRITABLE : 0u) |
                      ((e & POLLHUP) ? WEFT_HANGUP : 0u) | ((e & (POLLERR | POLLNVAL)) ? WEFT_ERROR : 0u),
        };
    }
    return k;
}

const weft__backend_ops weft__poll_ops = {
    .kind = WEFT_BACKEND_POLL,
    .init = poll_init,
    .fini = poll_fini,
    .update = poll_update,
    .wait = poll_wait,
};
