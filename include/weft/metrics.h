/* SPDX-License-Identifier: MIT */
/*
 * The figures of stats.h for Prometheus: the text exposition format
 * (version 0.0.4), served at /metrics by weft's HTTP server so that
 * operators can scrape a running weft (`--metrics ENDPOINT`).
 *
 *     weft_http_resource *root = weft_http_resource_new();
 *     weft_http_resource_put_child(root, "metrics", weft_metrics_resource_new(r));
 *     weft_http_server *srv = weft_http_server_new(r, root, NULL);
 *     // listen on the endpoint with weft_http_server_factory(srv)
 *
 * Families (docs/console.md lists them with their help text): per port,
 * labelled port="ADDRESS" - weft_connections_open,
 * weft_connections_accepted_total, weft_bytes_received_total,
 * weft_bytes_sent_total, and weft_http_responses_total (labelled also
 * code="1xx".."5xx", "other"); connections no listening port accepted
 * (outgoing ones, process pipes) and those of ports gone are the series
 * port="other", so each family's sum is the reactor's total. Then
 * weft_uptime_seconds, weft_start_time_seconds, weft_ports,
 * weft_loop_lag_seconds, weft_loop_lag_max_seconds, and the process's
 * figures under the names Prometheus's own clients use:
 * process_resident_memory_bytes, process_open_fds, process_max_fds,
 * process_cpu_seconds_total.
 *
 * For workers: a supervisor adds worker="N" to every series of each
 * worker's text (weft_metrics_write's `labels`).
 */
#ifndef WEFT_METRICS_H
#define WEFT_METRICS_H

#include "base.h"
#include "http_resource.h"

/*
 * Writes r's figures in the exposition format into buf, snprintf-style
 * (returns the length the whole text needs). `labels` (NULL for none) is
 * put first in every series' labels, as written: `worker="2"`.
 */
WEFT_API size_t weft_metrics_write(weft_reactor *r, const char *labels, char *buf, size_t size);

/*
 * A resource answering GET (and HEAD) with the figures of r as
 * "text/plain; version=0.0.4; charset=utf-8", read when asked. The caller
 * owns it until it is put in a tree. Starts measuring loop lag
 * (weft_reactor_measure_lag) unless something did already. NULL when out
 * of memory.
 */
WEFT_API weft_http_resource *weft_metrics_resource_new(weft_reactor *r);

/* The Content-Type it is served with. */
#define WEFT_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
