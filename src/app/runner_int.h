/* SPDX-License-Identifier: MIT */
/* What the runner's files share inside the library: parsing options, the
 * help text, and the runner's tree for those who look at it (the admin
 * console). */
#ifndef WEFT_APP_RUNNER_INT_H
#define WEFT_APP_RUNNER_INT_H

#include <stdio.h>

#include "weft/console.h"
#include "weft/plugin.h"

/* An empty set of options; NULL when out of memory. */
weft_args *weft__args_new(void);
void weft__args_free(weft_args *a);

/*
 * Parses argv from *at against the option tables (each ending with a
 * zeroed entry; NULL entries are skipped), adding to `a`; values point into
 * argv. Stops at "--" (after it), at the end, or - when stop_at_word - at
 * the first word that is not an option, leaving *at there. 0, or
 * WEFT_EINVAL / WEFT_ENOMEM with `why` (size bytes) saying what was wrong.
 */
int weft__args_parse(weft_args *a, int argc, char **argv, int *at, const weft_option *const *tables,
                     size_t ntables, bool stop_at_word, char *why, size_t size);

/* The options of a table as --help lists them, wrapped at 80 columns. */
void weft__args_help(FILE *out, const weft_option *table);
/* A paragraph, wrapped at 80 columns. */
void weft__text_wrap(FILE *out, const char *text);

/* The top of the running command's service tree (what `weft ctl status`
 * walks). */
weft_service *weft__runner_top(const weft_runner *rn);


/* Stops the tree as SIGTERM does; grace < 0 keeps --grace. -1 with `why`
 * when refused. */
int weft__runner_stop(weft_runner *rn, double grace, char *why, size_t size);

/* The pids of the serving workers (--workers), up to max; how many there
 * are (0 without workers). */
size_t weft__runner_worker_pids(const weft_runner *rn, int *pids, size_t max);

/* --workers (runner_workers.c): the runner as a supervisor. */
typedef struct weft__workers weft__workers;
typedef struct weft__workers_config {
    const char *name; /* "weft web", for messages */
    int argc;         /* the runner's command line, run again for each worker */
    char **argv;
    weft_service *top; /* bound: its server services' sockets go to the workers */
    unsigned workers;
    double grace;
    void (*ready)(void *arg); /* every worker said READY=1 */
    void *ready_arg;
} weft__workers_config;

/* Takes the bound sockets of c->top's server services (they may be freed
 * after), makes the workers' command line and the supervisor, and handles
 * SIGHUP (reload) and SIGUSR2 (upgrade). 0, or -1 having said why on
 * stderr; *out is to be freed either way. */
int weft__workers_new(weft_reactor *r, const weft__workers_config *c, weft__workers **out);
/* Starts the workers. 0 or WEFT_ENOMEM. */
int weft__workers_start(weft__workers *w);
size_t weft__workers_pids(const weft__workers *w, int *pids, size_t max);
/* Once the reactor has stopped (its shutdown stopped the workers). NULL is
 * ignored. */
void weft__workers_free(weft__workers *w);

/* Adds the runner's console commands (stop, status) to con. 0 or an error. */
int weft__runner_console_commands(weft_console *con, weft_runner *rn);

/* Adds, under top, an HTTP server on `endpoint` serving /metrics. 0, or an
 * error with *why (the caller's). */
int weft__metrics_service_add(weft_service *top, const char *endpoint, weft_failure **why);

#endif
