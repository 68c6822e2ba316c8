/* SPDX-License-Identifier: MIT */
/*
 * metrics.h: the Prometheus text exposition format, version 0.0.4. Each
 * family is its # HELP and # TYPE lines, then its samples; label values
 * escape backslash, double quote and newline, as the format requires.
 */
#include <string.h>

#include "text.h"
#include "weft/alloc.h"
#include "weft/http_resource.h"
#include "weft/metrics.h"
#include "weft/stats.h"

typedef struct port_row {
    char *name; /* NULL: the "other" row */
    weft_conn_stats s;
} port_row;

typedef struct view {
    weft_reactor *r;
    const char *labels;
    weft_reactor_stats all;
    port_row *rows;
    size_t nrows, cap;
    bool failed;
} view;

static void note_port(void *arg, const char *name, bool listening, const weft_conn_stats *s)
{
    (void)listening;
    view *v = arg;
    if (v->nrows == v->cap || v->failed) {
        v->failed = true;
        return;
    }
    char *copy = weft_strdup(name);
    if (!copy) {
        v->failed = true;
        return;
    }
    v->rows[v->nrows++] = (port_row){copy, *s};
}

static void sub(uint64_t *a, uint64_t b)
{
    *a = *a > b ? *a - b : 0;
}

/* Every port's counters, and "other": what the totals hold beyond them. */
static int view_take(view *v, weft_reactor *r, const char *labels)
{
    *v = (view){.r = r, .labels = labels};
    weft_reactor_stats_get(r, &v->all);
    v->cap = weft_reactor_port_stats(r, note_port, v) + 1; /* counts; notes nothing yet (cap 0) */
    v->failed = false;
    v->rows = weft_calloc(v->cap, sizeof *v->rows);
    if (!v->rows)
        return -1;
    weft_reactor_port_stats(r, note_port, v);
    port_row other = {NULL, v->all.all};
    for (size_t i = 0; i < v->nrows; i++) {
        const weft_conn_stats *s = &v->rows[i].s;
        sub(&other.s.accepted, s->accepted);
        sub(&other.s.open, s->open);
        sub(&other.s.bytes_in, s->bytes_in);
        sub(&other.s.bytes_out, s->bytes_out);
        for (int k = 0; k < 10; k++)
            sub(&other.s.http_responses[k], s->http_responses[k]);
    }
    if (v->nrows < v->cap)
        v->rows[v->nrows++] = other;
    return v->failed ? -1 : 0;
}

static void view_free(view *v)
{
    for (size_t i = 0; i < v->nrows; i++)
        weft_free(v->rows[i].name);
    weft_free(v->rows);
}

static void family(weft__text *t, const char *name, const char *type, const char *help)
{
    weft__text_put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: \ " and newline escaped. */
static void put_value(weft__text *t, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            weft__text_put(t, "\\\\");
        else if (*s == '"')
            weft__text_put(t, "\\\"");
        else if (*s == '\n')
            weft__text_put(t, "\\n");
        else
            weft__text_put(t, "%c", *s);
    }
}

/* name{labels,port="..."[,code="..."]} */
static void port_series(weft__text *t, const view *v, const char *name, const port_row *row, const char *code)
{
    weft__text_put(t, "%s{", name);
    if (v->labels && *v->labels)
        weft__text_put(t, "%s,", v->labels);
    weft__text_put(t, "port=\"");
    put_value(t, row->name ? row->name : "other");
    weft__text_put(t, "\"");
    if (code)
        weft__text_put(t, ",code=\"%s\"", code);
    weft__text_put(t, "} ");
}

static void plain_series(weft__text *t, const view *v, const char *name)
{
    if (v->labels && *v->labels)
        weft__text_put(t, "%s{%s} ", name, v->labels);
    else
        weft__text_put(t, "%s ", name);
}

/* A process-wide gauge: its HELP and TYPE lines and its series' name; the
 * caller writes the value. */
static void gauge(weft__text *t, const view *v, const char *name, const char *help)
{
    family(t, name, "gauge", help);
    plain_series(t, v, name);
}

enum { F_OPEN, F_ACCEPTED, F_IN, F_OUT };

static uint64_t field(const weft_conn_stats *s, int f)
{
    return f == F_OPEN ? s->open : f == F_ACCEPTED ? s->accepted : f == F_IN ? s->bytes_in : s->bytes_out;
}

static void fill(void *arg, weft__text *t)
{
    const view *v = arg;
    static const struct {
        const char *name, *type, *help;
    } per_port[] = {
        {"weft_connections_open", "gauge", "Connections accepted by the port and open now."},
        {"weft_connections_accepted_total", "counter", "Connections accepted by the port."},
        {"weft_bytes_received_total", "counter", "Bytes read from the sockets of the port's connections."},
        {"weft_bytes_sent_total", "counter", "Bytes written to the sockets of the port's connections."},
    };
    for (int f = 0; f < 4; f++) {
        family(t, per_port[f].name, per_port[f].type, per_port[f].help);
        for (size_t i = 0; i < v->nrows; i++) {
            port_series(t, v, per_port[f].name, &v->rows[i], NULL);
            weft__text_put(t, "%llu\n", (unsigned long long)field(&v->rows[i].s, f));
        }
    }
    family(t, "weft_http_responses_total", "counter", "HTTP responses sent, by status class.");
    static const char *const codes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t i = 0; i < v->nrows; i++) {
        const weft_conn_stats *s = &v->rows[i].s;
        uint64_t other = s->http_responses[0];
        for (int k = 6; k < 10; k++)
            other += s->http_responses[k];
        for (int k = 1; k <= 5; k++) {
            port_series(t, v, "weft_http_responses_total", &v->rows[i], codes[k - 1]);
            weft__text_put(t, "%llu\n", (unsigned long long)s->http_responses[k]);
        }
        port_series(t, v, "weft_http_responses_total", &v->rows[i], "other");
        weft__text_put(t, "%llu\n", (unsigned long long)other);
    }
    const weft_reactor_stats *a = &v->all;
    gauge(t, v, "weft_ports", "Ports listening.");
    weft__text_put(t, "%zu\n", a->ports);
    gauge(t, v, "weft_uptime_seconds", "Seconds since the reactor started.");
    weft__text_put(t, "%.3f\n", a->uptime);
    gauge(t, v, "weft_start_time_seconds", "When the reactor started, in seconds since the Unix epoch.");
    weft__text_put(t, "%.3f\n", a->started);
    gauge(t, v, "weft_loop_lag_seconds", "How late the loop ran its lag timer, at the last measure.");
    weft__text_put(t, "%.6f\n", a->lag_recent);
    gauge(t, v, "weft_loop_lag_max_seconds", "The largest loop lag measured since measuring began.");
    weft__text_put(t, "%.6f\n", a->lag_max);
    gauge(t, v, "process_resident_memory_bytes", "Resident memory size in bytes.");
    weft__text_put(t, "%llu\n", (unsigned long long)a->rss);
    gauge(t, v, "process_open_fds", "Number of open file descriptors.");
    weft__text_put(t, "%llu\n", (unsigned long long)a->open_fds);
    gauge(t, v, "process_max_fds", "Maximum number of open file descriptors.");
    weft__text_put(t, "%llu\n", (unsigned long long)a->max_fds);
    family(t, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    plain_series(t, v, "process_cpu_seconds_total");
    weft__text_put(t, "%.3f\n", a->cpu_seconds);
}

size_t weft_metrics_write(weft_reactor *r, const char *labels, char *buf, size_t size)
{
    view v;
    weft__text t = weft__text_into(buf, size);
    if (view_take(&v, r, labels) == 0)
        fill(&v, &t);
    view_free(&v);
    return t.len;
}

static void serve(void *arg, weft_http_request *req)
{
    view v;
    size_t len = 0;
    char *body = NULL;
    if (view_take(&v, arg, NULL) == 0)
        body = weft__text_make(fill, &v, &len);
    view_free(&v);
    if (!body) {
        weft_http_reply_error(req, 500, "out of memory");
        return;
    }
    weft_http_reply_set_header(req, "Cache-Control", "no-store");
    weft_http_reply(req, 200, WEFT_METRICS_CONTENT_TYPE, body, len);
    weft_free(body);
}

weft_http_resource *weft_metrics_resource_new(weft_reactor *r)
{
    weft_http_resource *res = weft_http_resource_new();
    if (!res)
        return NULL;
    if (weft_http_resource_on(res, "GET", serve, r) < 0) {
        weft_http_resource_free(res);
        return NULL;
    }
    if (weft_reactor_measure_lag(r, 0) < 0) {
        weft_http_resource_free(res);
        return NULL;
    }
    return res;
}
