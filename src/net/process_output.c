/* SPDX-License-Identifier: MIT */
/* getProcessOutput / getProcessOutputAndValue: a process protocol that
 * collects both streams and fires a Deferred at the end. */
#include <stdio.h>
#include <string.h>

#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/process.h"

typedef struct buf {
    char *data;
    size_t len, cap;
    bool oom;
} buf;

typedef struct collector {
    weft_process_protocol base;
    weft_deferred *d; /* our reference */
    buf out, err;
    bool fail_on_error;
} collector;

static void append(buf *b, const void *data, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2;
        char *d = weft_realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static void output(weft_process_protocol *p, int fd, const void *data, size_t len)
{
    collector *c = (collector *)p;
    append(fd == 2 ? &c->err : &c->out, data, len);
}

void weft_process_output_free(void *arg)
{
    weft_process_output *o = arg;
    if (!o)
        return;
    weft_free(o->out);
    weft_free(o->err);
    weft_free(o);
}

static void ended(weft_process_protocol *p, int code, int signal)
{
    collector *c = (collector *)p;
    weft_deferred *d = c->d;
    c->d = NULL;
    if (c->out.oom || c->err.oom) {
        weft_deferred_errback(d, weft_failure_new(WEFT_ENOMEM, "out of memory collecting a child's output"));
    } else if (c->fail_on_error && (c->err.len || code != 0)) {
        weft_deferred_errback(d, weft_failure_new(WEFT_EFAILED, "child %s %d; stderr: %.200s",
                                                  signal ? "killed by signal" : "exited with", signal ? signal : code,
                                                  c->err.len ? c->err.data : "(empty)"));
    } else {
        weft_process_output *o = weft_malloc(sizeof *o);
        if (!o) {
            weft_deferred_errback(d, weft_failure_new(WEFT_ENOMEM, "out of memory"));
        } else {
            *o = (weft_process_output){c->out.data ? c->out.data : weft_strdup(""), c->err.data ? c->err.data : weft_strdup(""),
                                       c->out.len, c->err.len, code, signal};
            c->out.data = c->err.data = NULL;
            weft_deferred_callback(d, o, weft_process_output_free);
        }
    }
    weft_deferred_unref(d);
}

static void destroy(weft_process_protocol *p)
{
    collector *c = (collector *)p;
    weft_free(c->out.data);
    weft_free(c->err.data);
    weft_free(c);
}

static const weft_process_ops collector_ops = {.output = output, .ended = ended, .destroy = destroy};

weft_deferred *weft_process_output_of(weft_reactor *r, const char *path, char *const argv[], char *const envp[],
                                      bool fail_on_error)
{
    collector *c = weft_calloc(1, sizeof *c);
    weft_deferred *d = c ? weft_deferred_new(r) : NULL;
    if (!d) {
        weft_free(c);
        return NULL;
    }
    c->base.ops = &collector_ops;
    c->d = weft_deferred_ref(d);
    c->fail_on_error = fail_on_error;
    /* The child's stdin is /dev/null: nothing will be written to it. */
    static const weft_child_fd fds[3] = {{0, WEFT_CHILD_NULL, -1}, {1, WEFT_CHILD_PIPE, -1}, {2, WEFT_CHILD_PIPE, -1}};
    weft_process_options o = {.fds = fds, .nfds = 3};
    int err = weft_spawn_process(r, &c->base, path, argv, envp, NULL, &o, NULL);
    if (err < 0) {
        weft_deferred_unref(c->d);
        weft_free(c);
        weft_deferred_errback(d, weft_failure_new(err, "cannot run %s: %s", path, weft_strerror(err)));
    }
    return d;
}
