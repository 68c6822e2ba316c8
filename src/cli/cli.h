/* SPDX-License-Identifier: MIT */
/* The weft command's built-in commands (registered by main.c's built-in
 * plugin, as a plugin's would be) and what they share. */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include <stdio.h>

#include "weft/weft.h"

extern const weft_command weft_cli_echo;
extern const weft_command weft_cli_portforward;
extern const weft_command weft_cli_web;
extern const weft_command weft_cli_ctl;

/* Exit statuses: 0 fine, 1 failed at run time, 2 bad usage (as getopt tools). */
enum { WEFT_CLI_OK = 0, WEFT_CLI_FAILED = 1, WEFT_CLI_USAGE = 2 };

/*
 * Adds under `parent` a server service for each --listen value (or for
 * `fallback` when there is none and it is not NULL), named by its endpoint
 * string, with protocols from `factory` (borrowed), offering `alpn` on
 * tls: endpoints. The runner binds them, announces them ("PROG: listening
 * on ...") and stops them. WEFT_CLI_OK, or the exit status having said why
 * on stderr, after `prog`: WEFT_CLI_USAGE for a bad endpoint string.
 */
int weft_cli_listen(weft_service *parent, const weft_args *args, const char *prog, const char *fallback,
                    weft_factory *factory, const char *const *alpn, size_t nalpn);

/* A service owning `arg`, freed by `destroy` after the services under it:
 * what holds a command's factory and its state. */
weft_service *weft_cli_holder(weft_runner *rn, const char *name, void *arg, void (*destroy)(void *arg));

/* Parses a number of seconds; false when it is not a non-negative number. */
bool weft_cli_parse_seconds(const char *text, double *out);

#endif
