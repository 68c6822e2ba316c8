/* SPDX-License-Identifier: MIT */
/*
 * weft_react: a program's whole main in one call, as Twisted's task.react.
 * It makes a reactor, runs main(r, argc, argv) as a coroutine (so it may
 * weft_await), stops the reactor when main returns, and turns main's result
 * into an exit status:
 *
 *     static weft_result serve(weft_reactor *r, int argc, char **argv)
 *     {
 *         weft_result port = weft_await(weft_listen_on(r, argc > 1 ? argv[1] : "tcp:8000", &factory));
 *         if (!weft_failed(port))  // else: "prog: cannot listen on...", status 1
 *             weft_await(weft_reactor_when_stopped(r)); // serve until Ctrl-C has closed it all
 *         return port;
 *     }
 *
 *     int main(int argc, char **argv) { return weft_react(serve, argc, argv); }
 *
 * What main's ports and connections use (factories, servers) must outlive
 * them: awaiting weft_reactor_when_stopped (trigger.h) returns once they
 * have all ended, so main may free those then, or make them in static
 * storage.
 *
 * The exit status is 0 when main succeeds, and when the reactor was stopped
 * (SIGINT, SIGTERM, weft_reactor_stop) before main finished - whatever main
 * then returns, its cancelled awaits included. It is 1 when main fails: the
 * failure's message goes to stderr after the program's name. Everything main
 * left alive ends with the reactor (reactor.h, shutdown), so nothing leaks.
 */
#ifndef WEFT_REACT_H
#define WEFT_REACT_H

#include "base.h"
#include "reactor.h"
#include "result.h"

/* A program's main as a coroutine; argv is main's. Its result's value is
 * freed by weft. */
typedef weft_result (*weft_main_fn)(weft_reactor *r, int argc, char **argv);

/* Runs main as above; returns the exit status (1 too when no reactor can be
 * made). */
WEFT_API int weft_react(weft_main_fn main, int argc, char **argv);
/* The same with reactor options (NULL for the defaults). */
WEFT_API int weft_react_with(const weft_reactor_options *opts, weft_main_fn main, int argc, char **argv);

#endif
