/* SPDX-License-Identifier: MIT */
/*
 * Child processes, Twisted's spawnProcess and ProcessProtocol: a child whose
 * standard streams (and any extra descriptors) are pipes to the reactor,
 * inherited, or /dev/null; events for its output, its closed streams, its
 * exit and its end; writes to its stdin with backpressure (the stdin pipe is
 * a transport, with its producer and water marks); signals; and reaping
 * without races (a pidfd where the kernel has one, SIGCHLD otherwise).
 *
 * While a reactor has children, SIGPIPE is blocked in its thread, so a
 * child that closed its stdin makes writes fail (EPIPE) instead of killing
 * the parent; a SIGPIPE left pending is consumed before the mask is
 * restored.
 */
#ifndef WEFT_PROCESS_H
#define WEFT_PROCESS_H

#include "base.h"
#include "result.h"

typedef struct weft_process weft_process;
typedef struct weft_transport weft_transport;
typedef struct weft_process_protocol weft_process_protocol;

typedef struct weft_process_ops {
    /* The child runs; p->process is set (connectionMade). */
    void (*started)(weft_process_protocol *p);
    /* Output on one of its pipes: fd 1 (out), 2 (err) or an extra one
     * (childDataReceived); data is borrowed for the call. */
    void (*output)(weft_process_protocol *p, int child_fd, const void *data, size_t len);
    /* One of its pipes closed, stdin (0) included (childConnectionLost). */
    void (*fd_closed)(weft_process_protocol *p, int child_fd);
    /* It exited: code, or the signal that killed it (processExited). */
    void (*exited)(weft_process_protocol *p, int code, int signal);
    /* It exited and all its pipes are closed (processEnded); p->process is
     * invalid once this returns. */
    void (*ended)(weft_process_protocol *p, int code, int signal);
    /* Frees the protocol, last. May be NULL. */
    void (*destroy)(weft_process_protocol *p);
} weft_process_ops;

struct weft_process_protocol {
    const weft_process_ops *ops;
    weft_process *process; /* set by weft from started to ended */
};

typedef enum weft_child_fd_kind {
    WEFT_CHILD_PIPE,    /* a pipe: the child reads fd 0, writes the others */
    WEFT_CHILD_INHERIT, /* the parent's descriptor of the same number */
    WEFT_CHILD_NULL,    /* /dev/null */
    WEFT_CHILD_DUP,     /* the parent's descriptor `parent_fd` */
} weft_child_fd_kind;

typedef struct weft_child_fd {
    int child_fd;
    weft_child_fd_kind kind;
    int parent_fd; /* WEFT_CHILD_DUP only */
} weft_child_fd;

typedef struct weft_process_options {
    /* The child's descriptors; NULL: pipes for 0, 1 and 2 (Twisted's
     * childFDs default). Descriptors not listed are closed in the child.
     * At most 64 of them pipes (more: WEFT_EINVAL). */
    const weft_child_fd *fds;
    size_t nfds;
    /* SIGTERM the child when the reactor shuts down, and wait for it. */
    bool kill_on_shutdown;
} weft_process_options;

/*
 * Starts `path` (searched in PATH when it has no '/') with argv and envp
 * (NULL: the parent's environment), in `cwd` (NULL: the parent's), for
 * protocol p (borrowed until its destroy). started runs from the loop,
 * never inside this call. Stores the process in *out when out is not NULL
 * (valid until ended returns). Returns 0 or an error: -ENOENT (no such
 * program), WEFT_EINVAL, WEFT_ENOMEM...
 */
WEFT_API WEFT_NODISCARD int weft_spawn_process(weft_reactor *r, weft_process_protocol *p, const char *path,
                                               char *const argv[], char *const envp[], const char *cwd,
                                               const weft_process_options *opts, weft_process **out);

/* Writes to the child's stdin (a pipe): as weft_transport_write. */
WEFT_API int weft_process_write(weft_process *pr, const void *data, size_t len);

/* The transport of the child's stdin, for producers and water marks; NULL
 * when it has none or it is closed. */
WEFT_API weft_transport *weft_process_stdin(weft_process *pr);

/* Closes the child's stdin once what was written has gone (closeStdin). */
WEFT_API void weft_process_close_stdin(weft_process *pr);

/* Sends a signal, unless the child has already been reaped (then
 * -ESRCH). */
WEFT_API int weft_process_signal(weft_process *pr, int signo);

WEFT_API int weft_process_pid(const weft_process *pr);

/*
 * Stops watching a running child that has no pipes: it runs on, unwatched
 * (it is reaped by whoever inherits it once this process exits: init, or
 * the nearest subreaper), the protocol gets no more events, its destroy
 * runs now and pr is gone. For a process handing its work to a child that
 * outlives it (a supervisor's binary upgrade). 0, or WEFT_EINVAL when it
 * has pipes, has not started (started has not run) or has ended.
 */
WEFT_API int weft_process_detach(weft_process *pr);

/* ---- getProcessOutput ---- */

typedef struct weft_process_output {
    char *out, *err; /* NUL-terminated too; owned by the struct */
    size_t out_len, err_len;
    int code, signal;
} weft_process_output;

/*
 * Runs a program to its end and fires with a weft_process_output (the
 * value's destroy frees it): getProcessOutputAndValue. With `fail_on_error`
 * it errbacks (WEFT_EFAILED, the output in the message) when the child
 * wrote to stderr or did not exit 0 - getProcessOutput's strictness. NULL
 * when out of memory; a child that cannot start errbacks.
 */
WEFT_API weft_deferred *weft_process_output_of(weft_reactor *r, const char *path, char *const argv[],
                                               char *const envp[], bool fail_on_error);

WEFT_API void weft_process_output_free(void *output);

#endif
