/* SPDX-License-Identifier: MIT */
/*
 * The epoll backend, level-triggered. Each registration's data word carries
 * the descriptor and its generation (reactor_int.h), so the reactor can drop
 * events of a registration that ended while the batch was being dispatched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "reactor_int.h"
#include "weft/error.h"

static int epoll_init(weft_reactor *r)
{
    r->backend_fd = epoll_create1(EPOLL_CLOEXEC);
    return r->backend_fd < 0 ? -errno : 0;
}

static void epoll_fini(weft_reactor *r)
{
    if (r->backend_fd >= 0)
        close(r->backend_fd);
    r->backend_fd = -1;
}

static int epoll_update(weft_reactor *r, int fd, unsigned old, unsigned interest, uint32_t gen)
{
    struct epoll_event ev = {
        .events = ((interest & WEFT_READABLE) ? EPOLLIN | EPOLLRDHUP : 0u) | ((interest & WEFT_WRITABLE) ? EPOLLOUT : 0u),
        .data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)gen << 32,
    };
    int op = !old ? EPOLL_CTL_ADD : !interest ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(r->backend_fd, op, fd, &ev) == 0)
        return 0;
    /* The descriptor was closed (and perhaps reused) without being removed
     * first: its old registration is gone, which is what DEL wanted. */
    if (op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT))
        return 0;
    return -errno;
}

static int epoll_wait_events(weft_reactor *r, int64_t timeout_ns, weft__event *out, int max)
{
    struct epoll_event evs[WEFT__MAX_EVENTS];
    if (max > WEFT__MAX_EVENTS)
        max = WEFT__MAX_EVENTS;
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    /* epoll_pwait2 (Linux 5.11) takes nanoseconds, so timers are not rounded
     * to milliseconds. */
    int n = -1;
    errno = ENOSYS;
    if (!r->no_pwait2)
        n = epoll_pwait2(r->backend_fd, evs, max, tsp, NULL);
    if (n < 0 && errno == ENOSYS) {
        /* Kernels before 5.11, and valgrind: fall back for good. */
        r->no_pwait2 = true;
        int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(r->backend_fd, evs, max, ms);
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = evs[i].events;
        out[i] = (weft__event){
            .fd = (int)(uint32_t)evs[i].data.u64,
            .gen = (uint32_t)(evs[i].data.u64 >> 32),
            .events = ((e & (EPOLLIN | EPOLLPRI | EPOLLRDHUP)) ? WEFT_READABLE : 0u) |
                      ((e & EPOLLOUT) ? WEFT_WRITABLE : 0u) | ((e & EPOLLHUP) ? WEFT_HANGUP : 0u) |
                      ((e & EPOLLERR) ? WEFT_ERROR : 0u),
        };
    }
    return n;
}

const weft__backend_ops weft__epoll_ops = {
    .kind = WEFT_BACKEND_EPOLL,
    .init = epoll_init,
    .fini = epoll_fini,
    .update = epoll_update,
    .wait = epoll_wait_events,
};
