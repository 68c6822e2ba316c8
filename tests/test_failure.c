/* SPDX-License-Identifier: MIT */
/*
 * weft_failure, after twisted.python.failure.Failure as Deferreds use it:
 * a code, a message, the place it was made, an optional cause (the chain a
 * FirstError or a TimeoutError carries), check/find (Failure.check), a
 * printable description, reference counting, and the static out-of-memory
 * failure that stands in when a failure cannot be allocated.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

WEFT_TEST(failure, code_message_and_origin)
{
    int line = __LINE__ + 1;
    weft_failure *f = weft_failure_new(WEFT_EFAILED, "bad %s number %d", "thing", 42);
    cr_assert_not_null(f);
    cr_assert_eq(weft_failure_code(f), WEFT_EFAILED);
    cr_assert_str_eq(weft_failure_message(f), "bad thing number 42");
    cr_assert_null(weft_failure_cause(f));
    cr_assert_str_eq(weft_failure_file(f), __FILE__);
    cr_assert_eq(weft_failure_line(f), line);
    weft_failure_unref(f);
}

WEFT_TEST(failure, errno_style_codes)
{
    weft_failure *f = weft_failure_new(WEFT_ECANCELED, "stopped");
    cr_assert_eq(weft_failure_code(f), -ECANCELED);
    cr_assert(weft_failure_check(f, WEFT_ECANCELED));
    cr_assert_not(weft_failure_check(f, WEFT_ETIMEDOUT));
    weft_failure_unref(f);
}

WEFT_TEST(failure, empty_and_long_messages)
{
    weft_failure *f = weft_failure_new(WEFT_EINVAL, "%s", "");
    cr_assert_str_eq(weft_failure_message(f), "");
    weft_failure_unref(f);

    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    f = weft_failure_new(WEFT_EINVAL, "<%s>", big);
    cr_assert_eq(strlen(weft_failure_message(f)), sizeof big - 1 + 2);
    cr_assert_eq(weft_failure_message(f)[0], '<');
    cr_assert_eq(weft_failure_message(f)[sizeof big], '>');
    weft_failure_unref(f);
}

WEFT_TEST(failure, wrap_keeps_the_cause)
{
    weft_failure *root = weft_failure_new(WEFT_ECANCELED, "cancelled");
    weft_failure *mid = weft_failure_wrap(root, WEFT_ETIMEDOUT, "timed out after %d s", 5);
    weft_failure *top = weft_failure_wrap(mid, WEFT_EFIRSTERROR, "input 1 failed");

    cr_assert_eq(weft_failure_cause(top), mid);
    cr_assert_eq(weft_failure_cause(mid), root);
    cr_assert_null(weft_failure_cause(root));
    cr_assert_str_eq(weft_failure_message(mid), "timed out after 5 s");
    /* The caller's references moved into the wrapper: one unref frees all
     * (LeakSanitizer checks at the end of the test). */
    weft_failure_unref(top);
}

WEFT_TEST(failure, wrap_with_no_cause)
{
    weft_failure *f = weft_failure_wrap(NULL, WEFT_EFAILED, "alone");
    cr_assert_null(weft_failure_cause(f));
    cr_assert_eq(weft_failure_code(f), WEFT_EFAILED);
    weft_failure_unref(f);
}

WEFT_TEST(failure, check_looks_only_at_the_failure_itself)
{
    weft_failure *f = weft_failure_wrap(weft_failure_new(WEFT_ECANCELED, "c"), WEFT_ETIMEDOUT, "t");
    cr_assert(weft_failure_check(f, WEFT_ETIMEDOUT));
    cr_assert_not(weft_failure_check(f, WEFT_ECANCELED));
    weft_failure_unref(f);
}

WEFT_TEST(failure, find_walks_the_cause_chain)
{
    weft_failure *root = weft_failure_new(WEFT_ECANCELED, "root");
    weft_failure *mid = weft_failure_wrap(root, WEFT_ETIMEDOUT, "mid");
    weft_failure *top = weft_failure_wrap(mid, WEFT_EFIRSTERROR, "top");

    cr_assert_eq(weft_failure_find(top, WEFT_EFIRSTERROR), top);
    cr_assert_eq(weft_failure_find(top, WEFT_ETIMEDOUT), mid);
    cr_assert_eq(weft_failure_find(top, WEFT_ECANCELED), root);
    cr_assert_null(weft_failure_find(top, WEFT_ENOMEM));
    cr_assert_null(weft_failure_find(root, WEFT_ETIMEDOUT), "find does not look upwards");
    weft_failure_unref(top);
}

WEFT_TEST(failure, find_returns_the_nearest_match)
{
    weft_failure *inner = weft_failure_new(WEFT_EFAILED, "inner");
    weft_failure *outer = weft_failure_wrap(inner, WEFT_EFAILED, "outer");
    cr_assert_eq(weft_failure_find(outer, WEFT_EFAILED), outer);
    cr_assert_eq(weft_failure_find(inner, WEFT_EFAILED), inner);
    weft_failure_unref(outer);
}

WEFT_TEST(failure, describe_one)
{
    weft_failure *f = weft_failure_new(WEFT_ECANCELED, "Deferred cancelled");
    char got[512];
    size_t n = weft_failure_describe(f, got, sizeof got);
    cr_assert_str_eq(got, "Deferred cancelled");
    cr_assert_eq(n, strlen(got));
    weft_failure_unref(f);
}

WEFT_TEST(failure, describe_chain)
{
    weft_failure *root = weft_failure_new(WEFT_ECANCELED, "cancelled");
    weft_failure *top = weft_failure_wrap(root, WEFT_EFIRSTERROR, "input 2 of 3 failed");
    char got[512];
    size_t n = weft_failure_describe(top, got, sizeof got);
    cr_assert_str_eq(got, "input 2 of 3 failed: cancelled");
    cr_assert_eq(n, strlen(got));
    weft_failure_unref(top);
}

/* Issue 11: the description shown to people named build paths
 * ("... [ECANCELED at src/async/deferred.c:412]"). */
WEFT_TEST(failure, description_for_people_has_no_build_paths)
{
    weft_failure *f = weft_failure_wrap(weft_failure_new(WEFT_ECANCELED, "inner"), WEFT_ETIMEDOUT, "outer");
    char got[512];
    weft_failure_describe(f, got, sizeof got);
    cr_assert_null(strstr(got, __FILE__), "%s", got);
    cr_assert_null(strstr(got, ".c:"), "%s", got);
    cr_assert_null(strstr(got, "ETIMEDOUT"), "%s", got);
    cr_assert_str_eq(got, "outer: inner");
    weft_failure_unref(f);
}

WEFT_TEST(failure, verbose_description_names_codes_and_places)
{
    int line = __LINE__ + 1;
    weft_failure *root = weft_failure_new(WEFT_ECANCELED, "cancelled");
    weft_failure *top = weft_failure_wrap(root, WEFT_EFIRSTERROR, "input 2 of 3 failed");
    char want[512], got[512];
    snprintf(want, sizeof want, "input 2 of 3 failed [WEFT_EFIRSTERROR at %s:%d]: cancelled [ECANCELED at %s:%d]",
             __FILE__, line + 1, __FILE__, line);
    size_t n = weft_failure_describe_verbose(top, got, sizeof got);
    cr_assert_str_eq(got, want);
    cr_assert_eq(n, strlen(want));
    weft_failure_unref(top);
}

static void check_snprintf_like(size_t (*describe)(const weft_failure *, char *, size_t), size_t min)
{
    weft_failure *f = weft_failure_wrap(weft_failure_new(WEFT_ECANCELED, "inner message"), WEFT_ETIMEDOUT,
                                        "outer message");
    char full[512];
    size_t need = describe(f, full, sizeof full);
    cr_assert_eq(need, strlen(full));
    cr_assert_geq(need, min);

    /* Measuring only. */
    cr_assert_eq(describe(f, NULL, 0), need);

    /* Every truncation point gives a NUL-terminated prefix and the same
     * length needed. */
    for (size_t size = 1; size <= need + 1; size++) {
        char buf[512];
        memset(buf, '#', sizeof buf);
        cr_assert_eq(describe(f, buf, size), need, "size %zu", size);
        cr_assert_eq(strlen(buf), size - 1, "size %zu", size);
        cr_assert_eq(strncmp(buf, full, size - 1), 0, "size %zu", size);
        cr_assert_eq(buf[size], '#', "wrote past size %zu", size);
    }
    weft_failure_unref(f);
}

WEFT_TEST(failure, describe_is_snprintf_like)
{
    check_snprintf_like(weft_failure_describe, strlen("outer message: inner message"));
    check_snprintf_like(weft_failure_describe_verbose, 40);
}

WEFT_TEST(failure, describe_null_is_empty)
{
    char buf[8] = "junk";
    cr_assert_eq(weft_failure_describe(NULL, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(weft_failure_describe_verbose(NULL, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
}

/* Issue 11: the "Unhandled error in Deferred" line's message carried
 * "(Deferred created at src/...:N)" and the failure's own source places.
 * Its text is now for people; where the Deferred was made, and the verbose
 * chain, are fields of their own (a JSON observer shows them). */
WEFT_TEST(failure, unhandled_error_message_has_no_build_paths)
{
    weft_reactor *r = weft_test_clock();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    char *json = NULL;
    size_t json_len = 0;
    FILE *js = open_memstream(&json, &json_len);
    cr_assert_not_null(js);
    cr_assert_eq(weft_logger_add_observer(weft_reactor_logger(r), weft_log_json_observer, js, WEFT_LOG_DEBUG, NULL), 0);
    int line = __LINE__ + 1;
    weft_failure *root = weft_failure_new(WEFT_ECANCELED, "root cause");
    weft_failure *top = weft_failure_wrap(root, WEFT_ETIMEDOUT, "outer failure");
    weft_deferred *d = weft_fail(r, top);
    weft_deferred_unref(d);
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_json_observer, js);
    fclose(js);
    cr_assert_eq(log.count, 1);
    cr_assert_str_eq(strstr(log.lines[0], "Unhandled"), "Unhandled error in Deferred: outer failure: root cause");
    cr_assert_null(strstr(log.lines[0], __FILE__), "%s", log.lines[0]);
    char field[512];
    snprintf(field, sizeof field, "\"file\":\"%s\"", __FILE__);
    cr_assert_not_null(strstr(json, field), "the creation site is a field: %s", json);
    snprintf(field, sizeof field, "\"line\":%d", line + 2);
    cr_assert_not_null(strstr(json, field), "%s", json);
    snprintf(field, sizeof field, "outer failure [ETIMEDOUT at %s:%d]: root cause [ECANCELED at %s:%d]", __FILE__,
             line + 1, __FILE__, line);
    cr_assert_not_null(strstr(json, field), "the verbose chain is a field: %s", json);
    free(json);
    weft_reactor_free(r);
}

WEFT_TEST(failure, references)
{
    weft_failure *f = weft_failure_new(WEFT_EFAILED, "shared");
    cr_assert_eq(weft_failure_ref(f), f);
    cr_assert_eq(weft_failure_ref(f), f);
    weft_failure_unref(f);
    weft_failure_unref(f);
    /* Still alive with the last reference: ASan would flag a use after free. */
    cr_assert_str_eq(weft_failure_message(f), "shared");
    weft_failure_unref(f);
    weft_failure_unref(NULL);
}

WEFT_TEST(failure, shared_cause_outlives_the_wrapper)
{
    weft_failure *cause = weft_failure_new(WEFT_ECANCELED, "cause");
    weft_failure *a = weft_failure_wrap(weft_failure_ref(cause), WEFT_EFIRSTERROR, "a");
    weft_failure *b = weft_failure_wrap(weft_failure_ref(cause), WEFT_ETIMEDOUT, "b");
    weft_failure_unref(a);
    cr_assert_eq(weft_failure_cause(b), cause);
    cr_assert_str_eq(weft_failure_message(cause), "cause");
    weft_failure_unref(b);
    cr_assert_eq(weft_failure_code(cause), WEFT_ECANCELED);
    weft_failure_unref(cause);
}

WEFT_TEST(failure, long_cause_chain_frees_without_recursion)
{
    weft_failure *f = weft_failure_new(WEFT_EFAILED, "root");
    for (int i = 0; i < 200000; i++)
        f = weft_failure_wrap(f, WEFT_EFAILED, "level %d", i);
    cr_assert_str_eq(weft_failure_message(f), "level 199999");
    weft_failure_unref(f);
}

WEFT_TEST(failure, out_of_memory_failure_stands_in)
{
    weft_fault_alloc fa = {.fail_at = 1};
    weft_fault_alloc_install(&fa);
    weft_failure *f = weft_failure_new(WEFT_EINVAL, "this message cannot be stored");
    weft_fault_alloc_remove();

    cr_assert_eq(fa.failed, 1);
    cr_assert_not_null(f);
    cr_assert_eq(weft_failure_code(f), WEFT_ENOMEM);
    cr_assert(weft_failure_check(f, WEFT_ENOMEM));
    cr_assert_str_eq(weft_failure_message(f), "out of memory");
    cr_assert_null(weft_failure_cause(f));
    cr_assert_not_null(weft_failure_file(f));

    char buf[256];
    size_t n = weft_failure_describe(f, buf, sizeof buf);
    cr_assert_eq(n, strlen(buf));
    cr_assert_str_eq(buf, "out of memory");
    weft_failure_describe_verbose(f, buf, sizeof buf);
    cr_assert_not_null(strstr(buf, "out of memory [ENOMEM at "), "%s", buf);

    /* ref and unref do nothing to it, however unbalanced. */
    cr_assert_eq(weft_failure_ref(f), f);
    weft_failure_unref(f);
    weft_failure_unref(f);
    weft_failure_unref(f);
    cr_assert_eq(weft_failure_code(f), WEFT_ENOMEM);
}

WEFT_TEST(failure, out_of_memory_is_shared)
{
    weft_fault_alloc fa = {.fail_at = 1, .persistent = true};
    weft_fault_alloc_install(&fa);
    weft_failure *a = weft_failure_new(WEFT_EINVAL, "a");
    weft_failure *b = weft_failure_new(WEFT_ECANCELED, "b");
    weft_fault_alloc_remove();
    cr_assert_eq(a, b);
    cr_assert_eq(weft_failure_code(b), WEFT_ENOMEM);
    weft_failure_unref(a);
    weft_failure_unref(b);
}

WEFT_TEST(failure, wrap_out_of_memory_releases_the_cause)
{
    weft_failure *cause = weft_failure_new(WEFT_ECANCELED, "cause");
    weft_failure_ref(cause); /* ours, to look at it afterwards */

    weft_fault_alloc fa = {.fail_at = 1};
    weft_fault_alloc_install(&fa);
    weft_failure *f = weft_failure_wrap(cause, WEFT_ETIMEDOUT, "wrapper");
    weft_fault_alloc_remove();

    cr_assert_eq(weft_failure_code(f), WEFT_ENOMEM);
    cr_assert_null(weft_failure_cause(f));
    /* The reference given to wrap was dropped; ours is the last one, so the
     * leak check at the end proves wrap let go of its share. */
    cr_assert_str_eq(weft_failure_message(cause), "cause");
    weft_failure_unref(cause);
}

WEFT_TEST(failure, result_helpers)
{
    weft_result r = weft_err_new(WEFT_EFAILED, "as a result");
    cr_assert(weft_failed(r));
    cr_assert_not(weft_result_is_deferred(r));
    cr_assert_eq(weft_failure_code(weft_result_failure(r)), WEFT_EFAILED);
    weft_result_free(r);

    int x = 7;
    weft_result v = weft_ok(&x, NULL);
    cr_assert_not(weft_failed(v));
    cr_assert_null(weft_result_failure(v));
    cr_assert_eq(weft_result_take(&v), &x);
    cr_assert_null(v.value);
    cr_assert_null(v.destroy);

    weft_result none = weft_none();
    cr_assert_not(weft_failed(none));
    cr_assert_null(none.value);
    weft_result_free(none);
}
