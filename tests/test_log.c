/* SPDX-License-Identifier: MIT */
/* Structured logging: rendering, levels by namespace, observers, the text
 * and JSON observers. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static weft_log_event event(const char *fmt, const weft_log_field *f, size_t n)
{
    return (weft_log_event){.time = 0, .level = WEFT_LOG_INFO, .ns = "t", .format = fmt, .fields = f, .nfields = n};
}

WEFT_TEST(log, format_fields_of_every_type)
{
    weft_log_field f[] = {
        WEFT_LOG_STR("s", "text"), WEFT_LOG_INT("i", -42), WEFT_LOG_UINT("u", 18446744073709551615u),
        WEFT_LOG_DOUBLE("d", 0.25), WEFT_LOG_BOOL("b", true), WEFT_LOG_STR("null", NULL),
    };
    weft_log_event ev = event("{s} {i} {u} {d} {b} {null}", f, 6);
    char buf[128];
    size_t n = weft_log_format(&ev, buf, sizeof buf);
    cr_assert_str_eq(buf, "text -42 18446744073709551615 0.25 true (null)");
    cr_assert_eq(n, strlen(buf));
}

WEFT_TEST(log, format_braces_and_missing_fields)
{
    weft_log_field f[] = {WEFT_LOG_INT("x", 1)};
    char buf[128];
    weft_log_event ev = event("{{literal}} {x} {missing} lone { and } end", f, 1);
    weft_log_format(&ev, buf, sizeof buf);
    cr_assert_str_eq(buf, "{literal} 1 {missing?} lone { and } end");
    ev = event("unclosed {x", f, 1);
    weft_log_format(&ev, buf, sizeof buf);
    cr_assert_str_eq(buf, "unclosed {x");
    ev = event("", NULL, 0);
    weft_log_format(&ev, buf, sizeof buf);
    cr_assert_str_eq(buf, "");
}

WEFT_TEST(log, format_truncates_like_snprintf)
{
    weft_log_field f[] = {WEFT_LOG_STR("w", "world")};
    weft_log_event ev = event("hello {w}!", f, 1);
    char buf[8];
    size_t n = weft_log_format(&ev, buf, sizeof buf);
    cr_assert_eq(n, strlen("hello world!"));
    cr_assert_str_eq(buf, "hello w");
    cr_assert_eq(weft_log_format(&ev, NULL, 0), n);
}

typedef struct sink {
    int calls;
    weft_log_level last_level;
    char last_ns[64];
    char last_text[256];
    weft_logger *lg;
    bool emit_inside;
    bool remove_self;
} sink;

static void observe(void *arg, const weft_log_event *ev)
{
    sink *s = arg;
    s->calls++;
    s->last_level = ev->level;
    snprintf(s->last_ns, sizeof s->last_ns, "%s", ev->ns);
    weft_log_format(ev, s->last_text, sizeof s->last_text);
    if (s->emit_inside)
        weft_log(s->lg, WEFT_LOG_WARN, "inner", "from inside an observer");
    if (s->remove_self)
        weft_logger_remove_observer(s->lg, observe, s);
}

static weft_logger *quiet_logger(void)
{
    weft_logger *lg = weft_logger_new();
    cr_assert_not_null(lg);
    cr_assert_eq(weft_logger_remove_observer(lg, weft_log_text_observer, stderr), 0);
    return lg;
}

WEFT_TEST(log, default_level_is_info)
{
    weft_logger *lg = quiet_logger();
    sink s = {0};
    cr_assert_eq(weft_logger_add_observer(lg, observe, &s, WEFT_LOG_DEBUG, NULL), 0);
    weft_log(lg, WEFT_LOG_DEBUG, "app", "hidden");
    weft_log(lg, WEFT_LOG_INFO, "app", "shown {n}", WEFT_LOG_INT("n", 7));
    cr_assert_eq(s.calls, 1);
    cr_assert_str_eq(s.last_text, "shown 7");
    cr_assert_str_eq(s.last_ns, "app");
    cr_assert_eq(weft_logger_set_level(lg, "", WEFT_LOG_DEBUG), 0);
    weft_log(lg, WEFT_LOG_DEBUG, "app", "now shown");
    cr_assert_eq(s.calls, 2);
    weft_logger_free(lg);
}

WEFT_TEST(log, namespace_levels_are_hierarchical)
{
    weft_logger *lg = quiet_logger();
    sink s = {0};
    cr_assert_eq(weft_logger_add_observer(lg, observe, &s, WEFT_LOG_DEBUG, NULL), 0);
    cr_assert_eq(weft_logger_set_level(lg, "db", WEFT_LOG_ERROR), 0);
    cr_assert_eq(weft_logger_set_level(lg, "db.pool", WEFT_LOG_DEBUG), 0);
    cr_assert(!weft_logger_enabled(lg, WEFT_LOG_WARN, "db"));
    cr_assert(!weft_logger_enabled(lg, WEFT_LOG_WARN, "db.query"));
    cr_assert(weft_logger_enabled(lg, WEFT_LOG_DEBUG, "db.pool"));
    cr_assert(weft_logger_enabled(lg, WEFT_LOG_DEBUG, "db.pool.conn"));
    cr_assert(!weft_logger_enabled(lg, WEFT_LOG_DEBUG, "db.pooling"), "db.pooling is not under db.pool");
    cr_assert(weft_logger_enabled(lg, WEFT_LOG_INFO, "dbx"), "dbx is not under db");
    weft_log(lg, WEFT_LOG_WARN, "db.query", "dropped");
    weft_log(lg, WEFT_LOG_DEBUG, "db.pool", "kept");
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(weft_logger_set_level(lg, "db", WEFT_LOG_INFO), 0); /* update in place */
    cr_assert(weft_logger_enabled(lg, WEFT_LOG_WARN, "db.query"));
    weft_logger_free(lg);
}

WEFT_TEST(log, observer_filters)
{
    weft_logger *lg = quiet_logger();
    sink all = {0}, errors = {0}, net = {0};
    cr_assert_eq(weft_logger_add_observer(lg, observe, &all, WEFT_LOG_DEBUG, NULL), 0);
    cr_assert_eq(weft_logger_add_observer(lg, observe, &errors, WEFT_LOG_ERROR, ""), 0);
    cr_assert_eq(weft_logger_add_observer(lg, observe, &net, WEFT_LOG_DEBUG, "weft.net"), 0);
    weft_log(lg, WEFT_LOG_INFO, "weft.net.tcp", "a");
    weft_log(lg, WEFT_LOG_ERROR, "weft.core", "b");
    weft_log(lg, WEFT_LOG_CRITICAL, "weft.network", "c");
    cr_assert_eq(all.calls, 3);
    cr_assert_eq(errors.calls, 2);
    cr_assert_eq(net.calls, 1);
    cr_assert_str_eq(net.last_text, "a");
    /* Adding the same observer again updates its filter. */
    cr_assert_eq(weft_logger_add_observer(lg, observe, &net, WEFT_LOG_DEBUG, "weft.core"), 0);
    weft_log(lg, WEFT_LOG_INFO, "weft.net.tcp", "d");
    weft_log(lg, WEFT_LOG_INFO, "weft.core", "e");
    cr_assert_eq(net.calls, 2);
    cr_assert_str_eq(net.last_text, "e");
    cr_assert_eq(weft_logger_remove_observer(lg, observe, &net), 0);
    cr_assert_eq(weft_logger_remove_observer(lg, observe, &net), WEFT_ENOENT);
    weft_logger_free(lg);
}

WEFT_TEST(log, observers_may_emit_and_remove_themselves)
{
    weft_logger *lg = quiet_logger();
    sink a = {.emit_inside = true}, b = {0};
    a.lg = b.lg = lg;
    cr_assert_eq(weft_logger_add_observer(lg, observe, &a, WEFT_LOG_DEBUG, NULL), 0);
    cr_assert_eq(weft_logger_add_observer(lg, observe, &b, WEFT_LOG_DEBUG, NULL), 0);
    weft_log(lg, WEFT_LOG_INFO, "outer", "hello");
    /* a saw only the outer event (no recursion into itself); b saw both. */
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 2);
    a.emit_inside = false;
    a.remove_self = true;
    weft_log(lg, WEFT_LOG_INFO, "outer", "again");
    cr_assert_eq(a.calls, 2);
    cr_assert_eq(b.calls, 3);
    weft_log(lg, WEFT_LOG_INFO, "outer", "after removal");
    cr_assert_eq(a.calls, 2);
    cr_assert_eq(b.calls, 4);
    weft_logger_free(lg);
}

static int evaluated;

static int64_t expensive(void)
{
    evaluated++;
    return 1;
}

WEFT_TEST(log, filtered_events_evaluate_nothing)
{
    weft_logger *lg = quiet_logger();
    sink s = {0};
    cr_assert_eq(weft_logger_add_observer(lg, observe, &s, WEFT_LOG_DEBUG, NULL), 0);
    weft_log(lg, WEFT_LOG_DEBUG, "app", "{x}", WEFT_LOG_INT("x", expensive()));
    cr_assert_eq(evaluated, 0);
    weft_log(lg, WEFT_LOG_INFO, "app", "{x}", WEFT_LOG_INT("x", expensive()));
    cr_assert_eq(evaluated, 1);
    weft_logger_free(lg);
}

static char *capture_output(void (*observer)(void *, const weft_log_event *), const weft_log_event *ev)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    observer(f, ev);
    fclose(f);
    return buf;
}

WEFT_TEST(log, text_observer_line)
{
    weft_log_field f[] = {WEFT_LOG_STR("who", "world")};
    weft_log_event ev = {.time = 1764107302.5, .level = WEFT_LOG_WARN, .ns = "app.web", .format = "hello {who}", .fields = f, .nfields = 1};
    char *out = capture_output(weft_log_text_observer, &ev);
    cr_assert_str_eq(out, "2025-11-25T21:48:22.500Z [app.web#warn] hello world\n");
    free(out);
}

WEFT_TEST(log, json_observer_line)
{
    weft_log_field f[] = {WEFT_LOG_STR("quote", "say \"hi\"\n\ttab\x01"), WEFT_LOG_INT("n", -3), WEFT_LOG_BOOL("ok", false),
                          WEFT_LOG_DOUBLE("nan", NAN), WEFT_LOG_DOUBLE("half", 0.5), WEFT_LOG_STR("nothing", NULL)};
    weft_log_event ev = {.time = 1.5, .level = WEFT_LOG_ERROR, .ns = "app", .format = "{quote} {n}", .fields = f, .nfields = 6};
    char *out = capture_output(weft_log_json_observer, &ev);
    cr_assert_str_eq(out,
                     "{\"time\":1.500000,\"level\":\"error\",\"namespace\":\"app\",\"format\":\"{quote} {n}\","
                     "\"text\":\"say \\\"hi\\\"\\n\\ttab\\u0001 -3\",\"quote\":\"say \\\"hi\\\"\\n\\ttab\\u0001\","
                     "\"n\":-3,\"ok\":false,\"nan\":null,\"half\":0.5,\"nothing\":null}\n");
    free(out);
}

WEFT_TEST(log, long_lines_are_not_truncated)
{
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    weft_log_field f[] = {WEFT_LOG_STR("big", big)};
    weft_log_event ev = {.level = WEFT_LOG_INFO, .ns = "n", .format = "<{big}>", .fields = f, .nfields = 1};
    char *out = capture_output(weft_log_text_observer, &ev);
    cr_assert(strstr(out, big) != NULL);
    cr_assert_eq(strlen(out), strlen("1970-01-01T00:00:00.000Z [n#info] <>\n") + strlen(big));
    free(out);
    out = capture_output(weft_log_json_observer, &ev);
    cr_assert(strstr(out, big) != NULL);
    free(out);
}

WEFT_TEST(log, level_names)
{
    cr_assert_str_eq(weft_log_level_name(WEFT_LOG_DEBUG), "debug");
    cr_assert_str_eq(weft_log_level_name(WEFT_LOG_CRITICAL), "critical");
    cr_assert_str_eq(weft_log_level_name((weft_log_level)99), "unknown");
}

static void logger_scenario(void *arg)
{
    (void)arg;
    weft_logger *lg = weft_logger_new();
    if (!lg)
        return;
    sink s = {0};
    int err = weft_logger_add_observer(lg, observe, &s, WEFT_LOG_DEBUG, "x.y");
    cr_assert(err == 0 || err == WEFT_ENOMEM);
    err = weft_logger_set_level(lg, "x", WEFT_LOG_DEBUG);
    cr_assert(err == 0 || err == WEFT_ENOMEM);
    weft_logger_remove_observer(lg, weft_log_text_observer, stderr);
    weft_log(lg, WEFT_LOG_INFO, "x.y", "hi");
    weft_logger_free(lg);
}

WEFT_TEST(log, allocation_failures)
{
    cr_assert_gt(weft_test_each_alloc_failure(logger_scenario, NULL), 2);
}
