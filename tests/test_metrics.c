/* SPDX-License-Identifier: MIT */
/* metrics.h: the Prometheus text format of a reactor's figures, checked by
 * a strict parser here and by promtool (Debian's prometheus), and scraped
 * with curl from a whole process (tests/support/console_server). */
#define _GNU_SOURCE
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "proc.h"
#include "test.h"

/* ---- a strict reader of the exposition format (0.0.4) ---- */

static const char *metric_name(const char *p)
{
    if (!(isalpha((unsigned char)*p) || *p == '_' || *p == ':'))
        return NULL;
    while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
        p++;
    return p;
}

/* {name="value",...}: escapes \\ \" \n only. Returns past the '}'. */
static const char *labels(const char *p)
{
    if (*p != '{')
        return p;
    p++;
    while (*p != '}') {
        const char *e = metric_name(p);
        cr_assert(e && e > p, "a label name expected at: %.40s", p);
        cr_assert(e[0] == '=' && e[1] == '"', "=\" expected at: %.40s", e);
        for (p = e + 2; *p != '"'; p++) {
            cr_assert(*p && *p != '\n', "an unterminated label value");
            if (*p == '\\') {
                p++;
                cr_assert(*p == '\\' || *p == '"' || *p == 'n', "a bad escape \\%c", *p);
            }
        }
        p++;
        if (*p == ',')
            p++;
        else
            cr_assert_eq(*p, '}', "',' or '}' expected at: %.40s", p);
    }
    return p + 1;
}

/* Checks every line; returns how many samples there were. */
static size_t check_exposition(const char *text)
{
    char family[128] = "", type[16] = "";
    bool helped = false;
    size_t samples = 0;
    cr_assert(text[0] && text[strlen(text) - 1] == '\n', "the text must end with a newline");
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        size_t len = (size_t)(strchr(line, '\n') - line);
        cr_assert_gt(len, 0, "an empty line");
        if (strncmp(line, "# HELP ", 7) == 0) {
            const char *e = metric_name(line + 7);
            cr_assert(e && *e == ' ', "# HELP NAME TEXT: %.*s", (int)len, line);
            snprintf(family, sizeof family, "%.*s", (int)(e - line - 7), line + 7);
            helped = true;
            type[0] = '\0';
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            const char *e = metric_name(line + 7);
            cr_assert(helped && e && strncmp(line + 7, family, strlen(family)) == 0 && e - line - 7 == (long)strlen(family),
                      "# TYPE for the family just helped: %.*s", (int)len, line);
            cr_assert(sscanf(e, " %15s", type) == 1);
            cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0, "type %s", type);
            continue;
        }
        cr_assert_neq(line[0], '#', "an unknown comment: %.*s", (int)len, line);
        cr_assert(type[0], "a sample before its # TYPE: %.*s", (int)len, line);
        const char *e = metric_name(line);
        cr_assert(e && e - line == (long)strlen(family) && strncmp(line, family, strlen(family)) == 0,
                  "a sample of another family than %s: %.*s", family, (int)len, line);
        cr_assert(strcmp(type, "counter") != 0 || strstr(family, "_total"), "a counter without _total: %s", family);
        e = labels(e);
        cr_assert_eq(*e, ' ', "one space before the value: %.*s", (int)len, line);
        char *end;
        double v = strtod(e + 1, &end);
        cr_assert(end > e + 1 && *end == '\n', "a number, then the end of the line: %.*s", (int)len, line);
        cr_assert_geq(v, 0);
        samples++;
    }
    return samples;
}

/* promtool's own reading, when Debian's prometheus is installed. */
static void promtool_accepts(const char *text)
{
    if (!weft_test_have("promtool")) {
        cr_log_warn("promtool is missing (Debian's prometheus): its check is skipped");
        return;
    }
    char *argv[] = {"promtool", "check", "metrics", NULL};
    weft_test_output o = weft_test_run(argv, text, strlen(text), 30);
    cr_assert_eq(o.status, 0, "promtool: %s%s", o.out, o.err);
    weft_test_output_free(&o);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static char *metrics_of(weft_reactor *r, const char *extra)
{
    size_t n = weft_metrics_write(r, extra, NULL, 0);
    char *text = malloc(n + 1);
    cr_assert_eq(weft_metrics_write(r, extra, text, n + 1), n);
    return text;
}

WEFT_TEST(metrics, a_unix_path_is_a_label_value_escaped)
{
    char dir[] = "/tmp/weft-met-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[96];
    snprintf(path, sizeof path, "%s/a\"b\\c\nd", dir);
    weft_reactor *r = weft_test_reactor();
    weft_factory echo;
    weft_echo_factory_init(&echo);
    weft_address a;
    cr_assert_eq(weft_address_from_unix(path, &a), 0);
    weft_port *p;
    cr_assert_eq(weft_listen(r, &a, &echo, NULL, &p), 0);
    char *text = metrics_of(r, NULL);
    char want[160];
    snprintf(want, sizeof want, "weft_connections_accepted_total{port=\"unix:%s/a\\\"b\\\\c\\nd\"} 0\n", dir);
    cr_assert(strstr(text, want), "%s\nnot in:\n%s", want, text);
    cr_assert(strstr(text, "weft_connections_accepted_total{port=\"other\"} 0\n"), "%s", text);
    check_exposition(text);
    promtool_accepts(text);
    free(text);
    weft_deferred_unref(weft_port_stop(p));
    weft_reactor_free(r);
    rmdir(dir);
}

WEFT_TEST(metrics, a_supervisors_labels_come_first_in_every_series)
{
    weft_reactor *r = weft_test_reactor();
    char *text = metrics_of(r, "worker=\"2\"");
    size_t samples = check_exposition(text);
    cr_assert_gt(samples, 10);
    cr_assert_eq(count_of(text, "{worker=\"2\""), samples, "%s", text);
    promtool_accepts(text);
    free(text);
    weft_reactor_free(r);
}

/* ---- a whole process, scraped with curl ---- */

WEFT_TEST(metrics, curl_scrapes_a_running_process)
{
    if (!weft_test_have("curl"))
        cr_skip_test("curl is missing");
    char dir[] = "/tmp/weft-met-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sock[64];
    snprintf(sock, sizeof sock, "%s/c.sock", dir);
    weft_test_proc srv;
    char *argv[] = {WEFT_CONSOLE_SERVER_PATH, sock, NULL};
    weft_test_proc_spawn(&srv, argv);
    weft_test_proc_wait_for(&srv, "console ready");
    int echo_port = 0, metrics_port = 0;
    const char *e = strstr(srv.text, "echo 127.0.0.1:"), *m = strstr(srv.text, "metrics 127.0.0.1:");
    cr_assert(e && m);
    echo_port = atoi(e + strlen("echo 127.0.0.1:"));
    metrics_port = atoi(m + strlen("metrics 127.0.0.1:"));

    /* something to count: one echo of 5 bytes */
    int c = weft_test_dial(echo_port);
    cr_assert_eq(write(c, "hello", 5), 5);
    char buf[5];
    size_t got = 0;
    while (got < 5) {
        ssize_t n = read(c, buf + got, 5 - got);
        cr_assert_gt(n, 0);
        got += (size_t)n;
    }

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", metrics_port);
    char *curl[] = {"curl", "-sS", "-D", "/dev/stderr", url, NULL};
    weft_test_output o = weft_test_run(curl, NULL, 0, 20);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert(strstr(o.err, "HTTP/1.1 200 OK\r\n"), "%s", o.err);
    cr_assert(strstr(o.err, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), "%s", o.err);
    char want[128];
    snprintf(want, sizeof want, "weft_connections_accepted_total{port=\"127.0.0.1:%d\"} 1\n", echo_port);
    cr_assert(strstr(o.out, want), "%s", o.out);
    snprintf(want, sizeof want, "weft_connections_open{port=\"127.0.0.1:%d\"} 1\n", echo_port);
    cr_assert(strstr(o.out, want), "%s", o.out);
    snprintf(want, sizeof want, "weft_bytes_received_total{port=\"127.0.0.1:%d\"} 5\n", echo_port);
    cr_assert(strstr(o.out, want), "%s", o.out);
    snprintf(want, sizeof want, "process_open_fds ");
    cr_assert(strstr(o.out, want), "%s", o.out);
    check_exposition(o.out);
    promtool_accepts(o.out);
    weft_test_output_free(&o);

    /* the scrape itself is counted, as a 2xx on the metrics port */
    o = weft_test_run(curl, NULL, 0, 20);
    snprintf(want, sizeof want, "weft_http_responses_total{port=\"127.0.0.1:%d\",code=\"2xx\"} 1\n", metrics_port);
    cr_assert(strstr(o.out, want), "%s", o.out);
    weft_test_output_free(&o);

    close(c);
    cr_assert_eq(weft_test_proc_finish(&srv, SIGTERM), 0, "%s", srv.text);
    rmdir(dir);
}
