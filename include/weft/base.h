/* SPDX-License-Identifier: MIT */
/*
 * Definitions every weft header shares: the export macro, the plain callback
 * type used by call_soon, call_later and call_from_thread, and the value
 * destructor type used wherever weft holds a value on the user's behalf.
 */
#ifndef WEFT_BASE_H
#define WEFT_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define WEFT_API __attribute__((visibility("default")))
#define WEFT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define WEFT_NODISCARD __attribute__((warn_unused_result))
#else
#define WEFT_API
#define WEFT_PRINTF(fmt, args)
#define WEFT_NODISCARD
#endif

/* A function weft calls later with the pointer it was given. */
typedef void (*weft_call_fn)(void *arg);

/* Frees a value weft was holding; never called with a value weft did not get. */
typedef void (*weft_destroy_fn)(void *value);

/* The struct of `type` whose member `member` is at ptr: for callbacks that
 * get a pointer to something embedded in the caller's struct (a factory, a
 * producer, a drain) and want the struct. */
#define WEFT_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

typedef struct weft_reactor weft_reactor;
typedef struct weft_deferred weft_deferred;
typedef struct weft_failure weft_failure;

#endif
