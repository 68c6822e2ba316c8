/* SPDX-License-Identifier: MIT */
/*
 * Structured logging, after twisted.logger. An event is a level, a namespace
 * ("weft.deferred"), a format string with named fields ("{count} items from
 * {peer}") and the fields themselves. Observers receive events; built-in ones
 * write human text or JSON lines. Each reactor owns a logger (see
 * weft_reactor_logger); a logger can also stand alone.
 *
 *     weft_log(lg, WEFT_LOG_INFO, "app.db", "loaded {rows} rows from {path}",
 *              WEFT_LOG_UINT("rows", n), WEFT_LOG_STR("path", path));
 *
 * Filtering happens twice: the logger drops events below the level set for
 * their namespace (weft_logger_set_level; hierarchical, "a.b" covers "a.b.c";
 * INFO by default), then each observer takes only events at or above its own
 * minimum level and under its namespace prefix.
 *
 * Single-threaded: a logger belongs to its reactor's thread.
 */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

#include <stdio.h>

#include "base.h"

typedef enum weft_log_level {
    WEFT_LOG_DEBUG,
    WEFT_LOG_INFO,
    WEFT_LOG_WARN,
    WEFT_LOG_ERROR,
    WEFT_LOG_CRITICAL,
} weft_log_level;

typedef enum weft_log_type {
    WEFT_LOG_T_STR,
    WEFT_LOG_T_INT,
    WEFT_LOG_T_UINT,
    WEFT_LOG_T_DOUBLE,
    WEFT_LOG_T_BOOL,
    WEFT_LOG_T_PTR,
} weft_log_type;

/* A named field. Strings are borrowed for the duration of the emit call. */
typedef struct weft_log_field {
    const char *key;
    weft_log_type type;
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double d;
        bool b;
        const void *p;
    } v;
} weft_log_field;

#define WEFT_LOG_STR(k, x) ((weft_log_field){.key = (k), .type = WEFT_LOG_T_STR, .v.s = (x)})
#define WEFT_LOG_INT(k, x) ((weft_log_field){.key = (k), .type = WEFT_LOG_T_INT, .v.i = (x)})
#define WEFT_LOG_UINT(k, x) ((weft_log_field){.key = (k), .type = WEFT_LOG_T_UINT, .v.u = (x)})
#define WEFT_LOG_DOUBLE(k, x) ((weft_log_field){.key = (k), .type = WEFT_LOG_T_DOUBLE, .v.d = (x)})
#define WEFT_LOG_BOOL(k, x) ((weft_log_field){.key = (k), .type = WEFT_LOG_T_BOOL, .v.b = (x)})
#define WEFT_LOG_PTR(k, x) ((weft_log_field){.key = (k), .type = WEFT_LOG_T_PTR, .v.p = (x)})

/* An event as observers see it; everything in it is borrowed for the call. */
typedef struct weft_log_event {
    double time; /* wall-clock seconds since the Unix epoch */
    weft_log_level level;
    const char *ns;
    const char *format;
    const weft_log_field *fields;
    size_t nfields;
} weft_log_event;

typedef struct weft_logger weft_logger;

/* Called for each event that passes the observer's filter, on the logger's
 * thread. An observer may emit events itself; those reach every observer but
 * the one emitting (recursion stops there). */
typedef void (*weft_log_observer_fn)(void *arg, const weft_log_event *event);

/* A logger with the default observer: human text on stderr, INFO and up.
 * NULL when out of memory. Free with weft_logger_free. */
WEFT_API weft_logger *weft_logger_new(void);
WEFT_API void weft_logger_free(weft_logger *lg);

/*
 * Adds an observer taking events at min_level or above whose namespace is
 * ns_prefix or below it (NULL or "" for all; copied). Returns 0 or
 * WEFT_ENOMEM. The same fn and arg may be added once; adding again updates
 * the filter.
 */
WEFT_API int weft_logger_add_observer(weft_logger *lg, weft_log_observer_fn fn, void *arg,
                                      weft_log_level min_level, const char *ns_prefix);

/* Removes the observer added with fn and arg; WEFT_ENOENT if there is none.
 * The default observer is (weft_log_text_observer, stderr). Safe from inside
 * an observer. */
WEFT_API int weft_logger_remove_observer(weft_logger *lg, weft_log_observer_fn fn, void *arg);

/* Sets the lowest level kept for namespace ns and those below it ("" sets
 * the default). Returns 0 or WEFT_ENOMEM. */
WEFT_API int weft_logger_set_level(weft_logger *lg, const char *ns, weft_log_level level);

/* Whether an event at this level and namespace would reach any observer. */
WEFT_API bool weft_logger_enabled(const weft_logger *lg, weft_log_level level, const char *ns);

/* Publishes one event. fields may be NULL when nfields is 0. */
WEFT_API void weft_logger_emit(weft_logger *lg, weft_log_level level, const char *ns,
                               const char *format, const weft_log_field *fields, size_t nfields);

/* Emits with the fields given as WEFT_LOG_* arguments; does nothing (and
 * evaluates no field) when the level is filtered out. */
#define weft_log(lg, level, ns, ...) WEFT__LOG((lg), (level), (ns), __VA_ARGS__, {.key = NULL})
/* The format is the first of the variadic arguments and an end marker the
 * last, so that an event with no fields is ISO C (no empty __VA_ARGS__). */
#define WEFT__LOG(lg, level, ns, format, ...)                                                 \
    do {                                                                                      \
        weft_logger *weft_lg_ = (lg);                                                         \
        if (weft_logger_enabled(weft_lg_, (level), (ns))) {                                   \
            const weft_log_field weft_fields_[] = {__VA_ARGS__};                              \
            weft_logger_emit(weft_lg_, (level), (ns), (format), weft_fields_,                 \
                             sizeof weft_fields_ / sizeof weft_fields_[0] - 1);               \
        }                                                                                     \
    } while (0)

/*
 * Renders the event's format with its fields into buf, snprintf-style: always
 * NUL-terminated when size > 0, returns the length the whole text needs.
 * "{name}" is replaced by the field's value, "{{" and "}}" by braces; a name
 * with no field renders as "{name?}" so a mistake shows instead of vanishing.
 */
WEFT_API size_t weft_log_format(const weft_log_event *event, char *buf, size_t size);

/* "debug", "info", "warn", "error", "critical". */
WEFT_API const char *weft_log_level_name(weft_log_level level);

/* Built-in observers; arg is a FILE * (borrowed, must outlive the observer).
 * Text: "2026-11-25T21:41:42.123Z [weft.deferred#warn] message".
 * JSON lines: one object per line with "time", "level", "namespace",
 * "format", "text" and every field under its own name. */
WEFT_API void weft_log_text_observer(void *file, const weft_log_event *event);
WEFT_API void weft_log_json_observer(void *file, const weft_log_event *event);

#endif
