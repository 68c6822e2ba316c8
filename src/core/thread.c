/* SPDX-License-Identifier: MIT */
/*
 * call_from_thread: the reactor's one door for other threads. A mutex-guarded
 * queue and an eventfd. A caller writes the eventfd only when no wake-up is
 * already pending, so a burst of calls costs one write and one read; the
 * loop reads the eventfd before taking the queue, so a call queued after the
 * take always finds the flag clear and wakes the loop again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "reactor_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

static void on_wake(void *arg, int fd, unsigned events)
{
    (void)events;
    weft_reactor *r = arg;
    uint64_t n;
    while (read(fd, &n, sizeof n) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&r->cft_lock);
    weft__callvec batch = r->cft;
    r->cft = (weft__callvec){0};
    r->cft_wake_pending = false;
    pthread_mutex_unlock(&r->cft_lock);
    for (size_t i = 0; i < batch.len; i++)
        batch.v[i].fn(batch.v[i].arg);
    /* Give the buffer back for reuse unless callers already made a new one. */
    pthread_mutex_lock(&r->cft_lock);
    if (!r->cft.v) {
        batch.len = 0;
        r->cft = batch;
        batch.v = NULL;
    }
    pthread_mutex_unlock(&r->cft_lock);
    weft_free(batch.v);
}

int weft__cft_init(weft_reactor *r)
{
    int err = pthread_mutex_init(&r->cft_lock, NULL);
    if (err)
        return -err;
    r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->wake_fd < 0) {
        err = -errno;
        pthread_mutex_destroy(&r->cft_lock);
        return err;
    }
    if ((err = weft_reactor_add_reader(r, r->wake_fd, on_wake, r)) < 0) {
        close(r->wake_fd);
        r->wake_fd = -1;
        pthread_mutex_destroy(&r->cft_lock);
        return err;
    }
    return 0;
}

void weft__cft_fini(weft_reactor *r)
{
    if (r->wake_fd < 0)
        return;
    weft_reactor_remove_reader(r, r->wake_fd);
    close(r->wake_fd);
    r->wake_fd = -1;
    weft_free(r->cft.v);
    r->cft = (weft__callvec){0};
    pthread_mutex_destroy(&r->cft_lock);
}

int weft_reactor_call_from_thread(weft_reactor *r, weft_call_fn fn, void *arg)
{
    pthread_mutex_lock(&r->cft_lock);
    int err = weft__callvec_push(&r->cft, fn, arg, NULL);
    bool wake = err == 0 && !r->cft_wake_pending;
    if (wake)
        r->cft_wake_pending = true;
    pthread_mutex_unlock(&r->cft_lock);
    if (wake) {
        uint64_t one = 1;
        /* EAGAIN means the counter is full, so the loop is awake anyway. */
        while (write(r->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    return err;
}
