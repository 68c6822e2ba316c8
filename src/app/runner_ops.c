/* SPDX-License-Identifier: MIT */
/*
 * What the runner offers operators beside the command's own services: the
 * admin console's runner commands (stop, status with the service tree) and
 * the /metrics server of --metrics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/address.h"
#include "weft/alloc.h"
#include "weft/console.h"
#include "weft/error.h"
#include "weft/http_resource.h"
#include "weft/http_server.h"
#include "weft/metrics.h"
#include "weft/service.h"
#include "runner_int.h"

/* ---- /metrics ---- */

static void metrics_quiesce(weft_service *s, void *arg)
{
    (void)s;
    weft_http_server_quiesce(arg);
}

/* After the server service below it, so after its connections. */
static void metrics_free(void *arg)
{
    weft_http_server_free(arg);
}

static const weft_service_ops metrics_ops = {.quiesce = metrics_quiesce, .destroy = metrics_free};

int weft__metrics_service_add(weft_service *top, const char *endpoint, weft_failure **why)
{
    weft_reactor *r = weft_service_reactor(top);
    weft_http_resource *root = weft_http_resource_new(), *metrics = weft_metrics_resource_new(r);
    if (!root || !metrics || weft_http_resource_put_child(root, "metrics", metrics) < 0) {
        weft_http_resource_free(metrics);
        weft_http_resource_free(root);
        *why = weft_failure_new(WEFT_ENOMEM, "out of memory");
        return WEFT_ENOMEM;
    }
    weft_http_server *srv = weft_http_server_new(r, root, NULL);
    weft_service *group = srv ? weft_service_new(r, "metrics", &metrics_ops, srv) : NULL;
    int err = weft_service_add(top, group);
    if (err < 0) {
        *why = weft_failure_new(err, "cannot serve --metrics: %s", weft_strerror(err));
        return err;
    }
    weft_service *port = weft_server_service_new(r, endpoint, endpoint, weft_http_server_factory(srv), why);
    if (!port)
        return weft_failure_code(*why);
    if ((err = weft_service_add(group, port)) < 0) {
        *why = weft_failure_new(err, "cannot serve --metrics: %s", weft_strerror(err));
        return err;
    }
    return 0;
}

/* ---- the console's runner commands ---- */

/* stop [--grace S]: as SIGTERM, with S for the runner's grace. Answered
 * before the stop begins, so the client hears it. */
static void cmd_stop(void *arg, weft_console_reply *reply, int argc, char **argv)
{
    weft_runner *rn = arg;
    double grace = -1;
    if (argc == 3 && strcmp(argv[1], "--grace") == 0) {
        char *end;
        grace = strtod(argv[2], &end);
        if (end == argv[2] || *end || !(grace >= 0)) {
            weft_console_reply_error(reply, "--grace wants a number of seconds, not '%s'", argv[2]);
            return;
        }
    } else if (argc != 1) {
        weft_console_reply_error(reply, "usage: stop [--grace SECONDS]");
        return;
    }
    char why[128];
    if (weft__runner_stop(rn, grace, why, sizeof why) < 0) {
        weft_console_reply_error(reply, "%s", why);
        return;
    }
    weft_console_reply_ok(reply);
}

static void tree_lines(weft_console_reply *reply, const weft_service *s, int depth)
{
    char extra[320] = "";
    weft_address a;
    if (weft_server_service_is(s)) {
        char where[256] = "-";
        if (weft_server_service_address(s, &a))
            weft_address_format(&a, where, sizeof where);
        snprintf(extra, sizeof extra, " connections=%zu address=%s", weft_server_service_connections(s), where);
    }
    /* name= last: an endpoint string may hold anything */
    weft_console_reply_line(reply, "service depth=%d running=%d%s name=%s", depth, weft_service_running(s) ? 1 : 0,
                            extra, weft_service_name(s) ? weft_service_name(s) : "");
    for (const weft_service *c = weft_service_first_child(s); c; c = weft_service_next_sibling(c))
        tree_lines(reply, c, depth + 1);
}

/* The console's own status, then the service tree, then the workers. */
static void cmd_status(void *arg, weft_console_reply *reply, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    weft_runner *rn = arg;
    weft_reactor *r = weft_runner_reactor(rn);
    size_t n = weft_console_status(r, NULL, 0);
    char *text = weft_malloc(n + 1);
    if (!text) {
        weft_console_reply_error(reply, "out of memory");
        return;
    }
    weft_console_status(r, text, n + 1);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        weft_console_reply_line(reply, "%s", line);
    weft_free(text);
    tree_lines(reply, weft__runner_top(rn), 0);
    int pids[256];
    size_t nw = weft__runner_worker_pids(rn, pids, sizeof pids / sizeof pids[0]);
    for (size_t i = 0; i < nw && i < sizeof pids / sizeof pids[0]; i++)
        weft_console_reply_line(reply, "worker %zu pid=%d", i, pids[i]);
    weft_console_reply_ok(reply);
}

int weft__runner_console_commands(weft_console *con, weft_runner *rn)
{
    int err;
    if ((err = weft_console_add_command(con, "stop", "stop [--grace S]: stop serving as SIGTERM does, S the grace",
                                        cmd_stop, rn)) < 0 ||
        (err = weft_console_add_command(con, "status",
                                        "status: uptime, connections, bytes, requests, loop lag, memory, the "
                                        "services, the workers",
                                        cmd_status, rn)) < 0)
        return err;
    return 0;
}
