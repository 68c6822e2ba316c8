/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the benchmark programs: a monotonic clock, a small
 * deterministic pseudo-random generator (so every peer gets the same
 * sequence), and checked allocation. Benchmarks are programs, not library
 * code: on any error they print why and exit.
 */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* splitmix64: one 64-bit state word, good enough spread for timeouts. */
static inline uint64_t bench_rand(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline void bench_die(const char *what, int err)
{
    fprintf(stderr, "bench: %s failed (%d)\n", what, err);
    exit(1);
}

/* Allocates and touches the memory, so page faults are not timed later. */
static inline void *bench_alloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        bench_die("calloc", 0);
    memset(p, 0, n * size);
    return p;
}

/* A "Name:  1234 kB" field of /proc/PID/status (VmRSS, VmHWM...) in KiB,
 * or -1 when the process or the field is not there. */
static inline long bench_proc_status_kib(long pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    size_t flen = strlen(field);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kib = strtol(line + flen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

#endif
