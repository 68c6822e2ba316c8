/* SPDX-License-Identifier: MIT */
/*
 * Child processes for tests: servers whose stderr is watched for what they
 * announce (the weft command, nginx...), and commands run to completion with
 * their output captured (curl, python3...). Every wait is on the child's
 * own output or exit, bounded by a timeout; nothing sleeps.
 */
#ifndef WEFT_TEST_PROC_H
#define WEFT_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A long-running child; its stdout and stderr both go to `text`. */
typedef struct weft_test_proc {
    pid_t pid;
    int out_fd;
    char text[16384];
    size_t len;
} weft_test_proc;

/* Starts argv[0] (a path, or a name found on PATH); fails the test if it
 * cannot. */
void weft_test_proc_spawn(weft_test_proc *p, char *const argv[]);
/* Waits up to 20 s for `needle` in the child's output; returns where it
 * is, or fails the test showing what was said. */
const char *weft_test_proc_wait_for(weft_test_proc *p, const char *needle);
/* The port of weft's "listening on ... (127.0.0.1:PORT)" line. */
int weft_test_proc_port(weft_test_proc *p);
/* Sends sig (0: none), reads the rest of the output, reaps the child (after
 * 30 s it is killed); returns its exit status, or 128 + the signal. */
int weft_test_proc_finish(weft_test_proc *p, int sig);

/* What a command run to completion said. Free with weft_test_output_free. */
typedef struct weft_test_output {
    int status; /* exit status, 128 + signal, or -1 when it ran past its time (then killed) */
    char *out, *err; /* NUL-terminated */
    size_t out_len, err_len;
} weft_test_output;

/* Runs argv with `input` (may be NULL) on its stdin, for at most `seconds`. */
weft_test_output weft_test_run(char *const argv[], const void *input, size_t input_len, double seconds);
void weft_test_output_free(weft_test_output *o);

/* Whether `program` is on PATH (for tests whose peer may be missing). */
bool weft_test_have(const char *program);

#endif
