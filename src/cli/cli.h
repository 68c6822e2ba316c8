/* SPDX-License-Identifier: MIT */
/* The weft command: its subcommands (built-in plugins) and what they share. */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "weft/weft.h"

typedef struct weft_cli_plugin {
    const char *name;
    const char *summary;
    /* argv[0] is the subcommand's name. Returns the exit status. */
    int (*main)(int argc, char **argv);
} weft_cli_plugin;

extern const weft_cli_plugin weft_cli_echo;
extern const weft_cli_plugin weft_cli_portforward;
extern const weft_cli_plugin weft_cli_web;
extern const weft_cli_plugin weft_cli_ctl;

/* Exit statuses: 0 fine, 1 failed at run time, 2 bad usage (as getopt tools). */
enum { WEFT_CLI_OK = 0, WEFT_CLI_FAILED = 1, WEFT_CLI_USAGE = 2 };

/*
 * Serves `inner`'s protocols on every listen endpoint until SIGINT or
 * SIGTERM: then stops accepting, waits up to `grace` seconds for open
 * connections to finish, closes what remains, and returns WEFT_CLI_OK. Prints
 * one line on stderr per listening address (with the real port). Returns
 * WEFT_CLI_USAGE for a bad endpoint, WEFT_CLI_FAILED when one cannot listen.
 */
int weft_cli_serve(weft_reactor *r, const char *prog, char *const *listen, size_t nlisten, weft_factory *inner,
                   double grace);
/* What a serving subcommand may add: ALPN protocols for tls: endpoints, and
 * a call made once the ports have stopped, before the grace period (to end
 * keep-alive, say). */
typedef struct weft_cli_serve_extra {
    const char *const *alpn;
    size_t nalpn;
    void (*quiesce)(void *arg);
    void *quiesce_arg;
} weft_cli_serve_extra;
int weft_cli_serve_with(weft_reactor *r, const char *prog, char *const *listen, size_t nlisten, weft_factory *inner,
                        double grace, const weft_cli_serve_extra *extra);

/* What serving subcommands take: --listen (repeatable), --grace, --help,
 * and --connect when asked for. */
typedef struct weft_cli_args {
    char **listen; /* argv's strings; the array is freed by weft_cli_args_free */
    size_t nlisten;
    const char *connect;
    double grace;
} weft_cli_args;

/* A subcommand's own options, beside the shared ones: `opts` ends with a
 * zeroed entry and each option's val is its short letter (also listed in
 * `letters`, getopt style). handle returns false for a bad value, having
 * said why on stderr. */
typedef struct weft_cli_extra {
    const struct option *opts;
    const char *letters;
    bool (*handle)(void *ctx, int letter, const char *value);
    void *ctx;
} weft_cli_extra;

/* Parses argv for the subcommand `name`, printing usage() on --help (then
 * returns -1 with *status WEFT_CLI_OK) or on a mistake (-1, WEFT_CLI_USAGE).
 * extra may be NULL. Returns 0 when the command should run. */
int weft_cli_parse(int argc, char **argv, const char *name, bool with_connect, void (*usage)(FILE *out),
                   weft_cli_args *args, int *status);
int weft_cli_parse_extra(int argc, char **argv, const char *name, bool with_connect, void (*usage)(FILE *out),
                         const weft_cli_extra *extra, weft_cli_args *args, int *status);
void weft_cli_args_free(weft_cli_args *args);

/* A reactor whose shutdown may take the grace period and a little more. */
int weft_cli_reactor_new(double grace, weft_reactor **out);

/* Parses a --grace value; false when it is not a non-negative number. */
bool weft_cli_parse_seconds(const char *text, double *out);

#endif
