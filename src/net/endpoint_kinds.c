/* SPDX-License-Identifier: MIT */
/*
 * The kinds of endpoint strings, one table row each, with Twisted's
 * parameters and defaults:
 *
 *   servers  tcp  PORT INTERFACE BACKLOG        (_parseTCP: interface all, backlog 50)
 *            tcp6 PORT BACKLOG INTERFACE        (_TCP6ServerParser: interface "::")
 *            unix ADDRESS MODE BACKLOG LOCKFILE (_parseUNIX: mode 0666, lockfile 1)
 *   clients  tcp  HOST PORT, timeout, bindAddress (_parseClientTCP: timeout 30)
 *            unix PATH, timeout                 (_parseClientUNIX)
 *
 * Parameters named in the same order as Twisted's functions, so positional
 * fields mean what they mean there ("tcp:80:127.0.0.1" listens on
 * 127.0.0.1). As in Twisted, an interface or host may be of either family:
 * "tcp" only picks the default interface. Each describe writes what differs
 * from the defaults, so equal endpoints read the same.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <string.h>

#include "endpoint_int.h"
#include "weft/error.h"

enum { DEFAULT_BACKLOG = 50, DEFAULT_MODE = 0666 };
static const double default_timeout = 30;

const char *weft__ep_arg(const weft__ep_args *a, const char *name)
{
    for (size_t i = 0; i < a->kind->nparams; i++)
        if (strcmp(a->kind->params[i], name) == 0)
            return a->values[i];
    return NULL;
}

static int backlog_arg(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e)
{
    const char *s = weft__ep_arg(a, "backlog");
    e->listen.backlog = DEFAULT_BACKLOG;
    return s ? weft__ep_backlog(p, s, &e->listen.backlog) : 0;
}

static int timeout_arg(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e)
{
    const char *s = weft__ep_arg(a, "timeout");
    e->timeout = default_timeout;
    return s ? weft__ep_seconds(p, "timeout", s, &e->timeout) : 0;
}

static int listen_plain(const weft_endpoint *e, weft_factory *f, weft_port **out)
{
    return weft_listen(e->r, &e->addr, f, &e->listen, out);
}

static weft_deferred *connect_plain(const weft_endpoint *e, weft_factory *f)
{
    weft_connect_options o = {.timeout = e->timeout, .bind = e->bind.len ? &e->bind : NULL};
    return weft_connect(e->r, &e->addr, f, &o);
}

/* ---- tcp and tcp6 servers ---- */

static const char *default_interface(const weft_endpoint *e)
{
    return e->kind->family == AF_INET6 ? "::" : "0.0.0.0";
}

static int build_tcp_server(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e)
{
    const char *port = weft__ep_arg(a, "port");
    if (!port)
        return weft__ep_error(p, "missing port", NULL, NULL);
    int n, err;
    if ((err = weft__ep_port(p, port, 0, &n)) < 0)
        return err;
    /* An empty interface is the default, as Twisted's interface="". */
    const char *iface = weft__ep_arg(a, "interface");
    if ((err = weft__ep_ip(p, "interface", iface && *iface ? iface : default_interface(e), n, &e->addr)) < 0)
        return err;
    return backlog_arg(p, a, e);
}

static void describe_tcp_server(const weft_endpoint *e, weft__ep_out *o)
{
    weft__ep_out_fmt(o, ":%d", weft_address_port(&e->addr));
    weft_address any;
    if (weft_address_from_ip(default_interface(e), weft_address_port(&e->addr), &any) < 0 ||
        !weft_address_equal(&any, &e->addr))
        weft__ep_out_ip(o, "interface", &e->addr);
    if (e->listen.backlog != DEFAULT_BACKLOG)
        weft__ep_out_fmt(o, ":backlog=%d", e->listen.backlog);
}

static const char *const tcp_server_params[] = {"port", "interface", "backlog"};
static const char *const tcp6_server_params[] = {"port", "backlog", "interface"};

static const weft__ep_kind tcp_server = {
    .name = "tcp", .server = true, .family = AF_INET,
    .params = tcp_server_params, .nparams = 3, .npositional = 3,
    .build = build_tcp_server, .describe = describe_tcp_server, .listen = listen_plain,
};

static const weft__ep_kind tcp6_server = {
    .name = "tcp6", .server = true, .family = AF_INET6,
    .params = tcp6_server_params, .nparams = 3, .npositional = 3,
    .build = build_tcp_server, .describe = describe_tcp_server, .listen = listen_plain,
};

/* ---- unix server ---- */

static int build_unix_server(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e)
{
    const char *path = weft__ep_arg(a, "address");
    if (!path)
        return weft__ep_error(p, "missing path", NULL, NULL);
    const char *mode = weft__ep_arg(a, "mode"), *lockfile = weft__ep_arg(a, "lockfile");
    int err;
    e->listen.mode = DEFAULT_MODE;
    e->listen.lockfile = true;
    if ((err = weft__ep_unix_path(p, path, &e->addr)) < 0 ||
        (mode && (err = weft__ep_mode(p, mode, &e->listen.mode)) < 0) ||
        (lockfile && (err = weft__ep_flag(p, "lockfile", lockfile, &e->listen.lockfile)) < 0))
        return err;
    return backlog_arg(p, a, e);
}

static void describe_unix_server(const weft_endpoint *e, weft__ep_out *o)
{
    weft__ep_out_text(o, ":");
    weft__ep_out_unix_path(o, &e->addr);
    if (e->listen.mode != DEFAULT_MODE)
        weft__ep_out_fmt(o, ":mode=0%o", e->listen.mode);
    if (!e->listen.lockfile)
        weft__ep_out_text(o, ":lockfile=0");
    if (e->listen.backlog != DEFAULT_BACKLOG)
        weft__ep_out_fmt(o, ":backlog=%d", e->listen.backlog);
}

static const char *const unix_server_params[] = {"address", "mode", "backlog", "lockfile"};

static const weft__ep_kind unix_server = {
    .name = "unix", .server = true, .family = AF_UNIX,
    .params = unix_server_params, .nparams = 4, .npositional = 4,
    .build = build_unix_server, .describe = describe_unix_server, .listen = listen_plain,
};

/* ---- tcp client ---- */

static int build_tcp_client(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e)
{
    const char *host = weft__ep_arg(a, "host"), *port = weft__ep_arg(a, "port");
    const char *bind = weft__ep_arg(a, "bindAddress");
    if (!host)
        return weft__ep_error(p, "missing host", NULL, NULL);
    if (!*host)
        return weft__ep_error(p, "empty host", NULL, NULL);
    if (!port)
        return weft__ep_error(p, "missing port", NULL, NULL);
    int n, err;
    if ((err = weft__ep_port(p, port, 1, &n)) < 0 || (err = weft__ep_ip(p, "host", host, n, &e->addr)) < 0)
        return err;
    /* An empty bindAddress binds nothing, as Twisted's ("", 0). */
    if (bind && *bind) {
        if ((err = weft__ep_ip(p, "bindAddress", bind, 0, &e->bind)) < 0)
            return err;
        if (weft_address_family(&e->bind) != weft_address_family(&e->addr))
            return weft__ep_error(p, "bindAddress ", bind, " is not of the host's address family");
    }
    return timeout_arg(p, a, e);
}

static void describe_tcp_client(const weft_endpoint *e, weft__ep_out *o)
{
    weft__ep_out_ip(o, "host", &e->addr);
    weft__ep_out_fmt(o, ":port=%d", weft_address_port(&e->addr));
    if (e->timeout != default_timeout)
        weft__ep_out_seconds(o, "timeout", e->timeout);
    if (e->bind.len)
        weft__ep_out_ip(o, "bindAddress", &e->bind);
}

static const char *const tcp_client_params[] = {"host", "port", "timeout", "bindAddress"};

static const weft__ep_kind tcp_client = {
    .name = "tcp", .server = false, .family = AF_INET,
    .params = tcp_client_params, .nparams = 4, .npositional = 2, .fill_free = true,
    .build = build_tcp_client, .describe = describe_tcp_client, .connect = connect_plain,
};

/* ---- unix client ---- */

static int build_unix_client(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e)
{
    const char *path = weft__ep_arg(a, "path");
    if (!path)
        return weft__ep_error(p, "missing path", NULL, NULL);
    int err = weft__ep_unix_path(p, path, &e->addr);
    return err < 0 ? err : timeout_arg(p, a, e);
}

static void describe_unix_client(const weft_endpoint *e, weft__ep_out *o)
{
    weft__ep_out_text(o, ":path=");
    weft__ep_out_unix_path(o, &e->addr);
    if (e->timeout != default_timeout)
        weft__ep_out_seconds(o, "timeout", e->timeout);
}

static const char *const unix_client_params[] = {"path", "timeout"};

static const weft__ep_kind unix_client = {
    .name = "unix", .server = false, .family = AF_UNIX,
    .params = unix_client_params, .nparams = 2, .npositional = 1,
    .build = build_unix_client, .describe = describe_unix_client, .connect = connect_plain,
};

/* ---- the table ---- */

const weft__ep_kind *const weft__ep_kinds[] = {
    &tcp_server, &tcp6_server, &unix_server, &tcp_client, &unix_client,
};
const size_t weft__ep_nkinds = sizeof weft__ep_kinds / sizeof weft__ep_kinds[0];
