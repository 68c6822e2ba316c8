/* SPDX-License-Identifier: MIT */
/*
 * The admin console, manhole's place: a UNIX socket where the process's
 * owner asks a running weft what it is doing (`weft ctl status`) and tells
 * it what to do (`weft ctl log-level weft.http=debug`). docs/console.md is
 * the manual.
 *
 *     weft_console *con;
 *     if (weft_console_new(r, "/run/weft/weft.sock", NULL, &con) == 0)
 *         weft_console_add_command(con, "stop", "stop [--grace S]: stop serving", stop_cmd, app);
 *
 * The protocol: one command per line ("NAME ARG ARG...", words split on
 * spaces and tabs; a trailing CR is ignored). The reply is zero or more
 * lines each beginning "| " (the text after it is the output), then one
 * last line, "ok" or "error: WHY". Commands on one connection are answered
 * in order, one at a time.
 *
 * Who may talk: the socket file is made with mode 0600 whatever the umask,
 * and every client's credentials (SO_PEERCRED) are checked when it
 * connects: only the process's own user (its effective uid) is served,
 * root included - a console serves exactly one user. Anyone else is told
 * "error: permission denied", disconnected and logged (namespace
 * "weft.console", level warn), whatever the file's mode says.
 *
 * Limits, each logged when it bites: a line longer than 4096 bytes is
 * answered "error: line too long" and the connection closed; a client that
 * leaves more than max_output bytes of replies unread is disconnected;
 * past max_clients connections, a new one is told "error: too many
 * clients" and closed. A client's commands are run at most 32 per loop
 * iteration (its reading paused meanwhile), so a flood of them cannot
 * hold up the loop.
 *
 * Built-in commands: help, status (stats.h's figures, one "KEY VALUE" line
 * each, then a "port NAME KEY=VALUE..." line per port), log-level
 * ([NAMESPACE=]LEVEL: the reactor logger's level). A command added with the
 * name of a built-in replaces it.
 *
 * Ownership: the console is the caller's (weft_console_free). Strings given
 * here are copied. Single-threaded: the reactor's thread.
 */
#ifndef WEFT_CONSOLE_H
#define WEFT_CONSOLE_H

#include "base.h"

typedef struct weft_console weft_console;
typedef struct weft_console_reply weft_console_reply;

typedef struct weft_console_options {
    unsigned max_clients; /* connections at once; 0: 16 */
    size_t max_output;    /* reply bytes a client may leave unread; 0: 256 KiB */
} weft_console_options;

/*
 * Listens at `path` (a filesystem path, made with mode 0600; its directory
 * is made, mode 0700, when missing). A socket file left there by a process
 * that is gone is replaced; one a live process answers on is not
 * (WEFT_EADDRINUSE... -EADDRINUSE). Starts measuring loop lag
 * (weft_reactor_measure_lag) unless something did already. opts may be
 * NULL. Returns 0 with *out set, or the error (-EADDRINUSE, -EACCES,
 * WEFT_EINVAL for a path that does not fit a socket address, WEFT_ENOMEM).
 */
WEFT_API WEFT_NODISCARD int weft_console_new(weft_reactor *r, const char *path, const weft_console_options *opts,
                                             weft_console **out);

/* Stops listening (the socket file is removed) and closes every client.
 * A reply still under way stays valid until its handler finishes it (its
 * text then goes nowhere). NULL does nothing. */
WEFT_API void weft_console_free(weft_console *c);

/* The socket's path. */
WEFT_API const char *weft_console_path(const weft_console *c);

/*
 * A command's handler: argv[0] is the command's name, argv[1..argc-1] its
 * words (borrowed for the call). It answers through `reply`: any number of
 * weft_console_reply_line, then exactly one weft_console_reply_ok or
 * weft_console_reply_error - now, or later from the loop (a reload that
 * waits for a Deferred); the client's next command waits until then.
 */
typedef void (*weft_console_fn)(void *arg, weft_console_reply *reply, int argc, char **argv);

/*
 * Adds (or replaces) the command `name`; `help` is its line in `help`
 * ("stop [--grace S]: stop serving, waiting up to S seconds"). Returns 0,
 * WEFT_ENOMEM, or WEFT_EINVAL for a name that is empty or holds a space.
 */
WEFT_API int weft_console_add_command(weft_console *c, const char *name, const char *help, weft_console_fn fn,
                                      void *arg);

/* One line of output (no newline in it: each one starts a new "| " line).
 * Returns 0, or -ENOTCONN when the client has gone (the text is dropped;
 * the reply must still be finished). */
WEFT_API int weft_console_reply_line(weft_console_reply *reply, const char *fmt, ...) WEFT_PRINTF(2, 3);

/* Ends the reply: "ok", or "error: " and the text. The reply is freed:
 * do not use it again. */
WEFT_API void weft_console_reply_ok(weft_console_reply *reply);
WEFT_API void weft_console_reply_error(weft_console_reply *reply, const char *fmt, ...) WEFT_PRINTF(2, 3);

/* The reactor the reply's console runs on. */
WEFT_API weft_reactor *weft_console_reply_reactor(const weft_console_reply *reply);

/*
 * The status text (the `status` command's lines without their "| "), one
 * line per "\n", snprintf-style into buf: returns the length the whole
 * text needs. For a supervisor that gathers its workers' (docs/console.md).
 */
WEFT_API size_t weft_console_status(weft_reactor *r, char *buf, size_t size);

/*
 * Where the console listens when not told (and where `weft ctl` looks):
 * $XDG_RUNTIME_DIR/weft.sock when XDG_RUNTIME_DIR is set, else
 * /run/weft/weft.sock for root and /tmp/weft-UID/weft.sock for others.
 * snprintf-style.
 */
WEFT_API size_t weft_console_default_path(char *buf, size_t size);

#endif
