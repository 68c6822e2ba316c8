/* SPDX-License-Identifier: MIT */
/*
 * weft_failure: an error with a payload, as Twisted's Failure. It carries a
 * code (error.h), a message, where it was made, and optionally the failure
 * that caused it, so a chain reads "connect failed: timed out: ...".
 *
 * Failures are immutable and reference-counted (not atomically: a failure
 * belongs to one thread at a time, and may be handed to another whole).
 * Creating one never fails: when memory runs out, a shared static failure
 * with code WEFT_ENOMEM stands in (ref and unref do nothing to it).
 */
#ifndef WEFT_FAILURE_H
#define WEFT_FAILURE_H

#include "base.h"

/* A new failure with one reference, owned by the caller. The message is a
 * printf format; file and line are recorded from the call site. */
#define weft_failure_new(code, ...) weft__failure_new(__FILE__, __LINE__, NULL, (code), __VA_ARGS__)

/* Likewise, with `cause` as its cause; the caller's reference to cause
 * passes to the new failure (NULL: no cause). */
#define weft_failure_wrap(cause, code, ...) weft__failure_new(__FILE__, __LINE__, (cause), (code), __VA_ARGS__)

WEFT_API weft_failure *weft__failure_new(const char *file, int line, weft_failure *cause, int code,
                                         const char *fmt, ...) WEFT_PRINTF(5, 6);

/* Takes another reference and returns f, which the caller may keep: so a
 * failure borrowed for a call (const, as connection_lost's reason) can be
 * kept past it. */
WEFT_API weft_failure *weft_failure_ref(const weft_failure *f);

/* Drops a reference; the last one frees the failure and its causes' share.
 * NULL does nothing. */
WEFT_API void weft_failure_unref(weft_failure *f);

WEFT_API int weft_failure_code(const weft_failure *f);
/* Borrowed, valid while the failure lives. */
WEFT_API const char *weft_failure_message(const weft_failure *f);
WEFT_API weft_failure *weft_failure_cause(const weft_failure *f);
WEFT_API const char *weft_failure_file(const weft_failure *f);
WEFT_API int weft_failure_line(const weft_failure *f);

/* Failure.check: whether the failure's own code is `code`. */
WEFT_API bool weft_failure_check(const weft_failure *f, int code);

/* The failure itself or the nearest cause whose code is `code`, borrowed;
 * NULL when the chain has none. */
WEFT_API weft_failure *weft_failure_find(const weft_failure *f, int code);

/*
 * Writes the chain as text for people, snprintf-style (returns the length
 * needed): "message: cause message: ...". No code names and no source
 * places, so it may be shown to a user or logged as a message as it is.
 */
WEFT_API size_t weft_failure_describe(const weft_failure *f, char *buf, size_t size);

/* The same chain for developers, with each failure's code and where it was
 * made: "message [ENAME at src/x.c:12]: cause message [...]". */
WEFT_API size_t weft_failure_describe_verbose(const weft_failure *f, char *buf, size_t size);

#endif
