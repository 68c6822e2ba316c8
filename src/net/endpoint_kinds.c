/* SPDX-License-Identifier: MIT */
/*
 * The kinds of endpoint strings, one table row each, with Twisted's
 * parameters and defaults:
 *
 *   servers  tcp  PORT INTERFACE BACKLOG        (_parseTCP: interface all, backlog 50)
 *            tcp6 PORT BACKLOG INTERFACE        (_TCP6ServerParser: interface "::")
 *            unix ADDRESS MODE BACKLOG LOCKFILE (_parseUNIX: mode 0666, lockfile 1)
 *            tls, ssl PORT PRIVATEKEY CERTKEY, interface, backlog, extraCertChain
 *                                               (_parseSSL: certKey = privateKey)
 *            systemd DOMAIN INDEX NAME          (_SystemdParser; endpoint_systemd.c)
 *   clients  tcp  HOST PORT, timeout, bindAddress (_parseClientTCP: timeout 30)
 *            unix PATH, timeout                 (_parseClientUNIX)
 *            tls  as tcp, trustRoots, certificate, privateKey
 *
 * Each parameter carries a one-line description and its default, which
 * weft_endpoint_help prints: the reference is made from these rows.
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
#include "socket_int.h"
#include "weft/alloc.h"
#include "weft/tls.h"
#include "weft/wrapper.h"
#include "weft/error.h"

/* The defaults, as numbers for the code and as text for the reference
 * (one definition each, so the two cannot differ). */
#define DEFAULT_BACKLOG 50
#define DEFAULT_MODE 0666
#define DEFAULT_TIMEOUT 30
#define DEFAULT_INTERFACE_V4 "0.0.0.0"
#define DEFAULT_INTERFACE_V6 "::"
#define TEXT(x) TEXT_(x)
#define TEXT_(x) #x
static const double default_timeout = DEFAULT_TIMEOUT;

/* ---- the parameters: what each takes, means and defaults to ---- */

#define P_PORT_SERVER {"port", "N", "the port to listen on; 0 picks a free one", NULL}
#define P_BACKLOG {"backlog", "N", "how many connections may wait to be accepted", TEXT(DEFAULT_BACKLOG)}
#define P_INTERFACE_V4                                                                                    \
    {"interface", "ADDR", "the address to listen on (an IPv6 one listens on IPv6)",                       \
     DEFAULT_INTERFACE_V4 " (every IPv4 address)"}
#define P_INTERFACE_V6                                                                                    \
    {"interface", "ADDR", "the address to listen on (IPv6 only)", DEFAULT_INTERFACE_V6 " (every IPv6 address)"}
#define P_HOST {"host", "HOST", "an IP address, or a name to resolve (IPv6, IPv4 raced)", NULL}
#define P_PORT_CLIENT {"port", "N", "the port to connect to (1-65535)", NULL}
#define P_TIMEOUT {"timeout", "SECONDS", "give up connecting after this long", TEXT(DEFAULT_TIMEOUT)}
#define P_BIND {"bindAddress", "ADDR", "the local address to connect from", "none, the system picks"}

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

static int listen_plain(const weft_endpoint *e, weft_factory *f, weft_port **out, weft_failure **why)
{
    (void)why; /* the code says it all */
    return weft__ep_listen(e, f, out);
}

static weft_deferred *connect_plain(const weft_endpoint *e, weft_factory *f)
{
    weft_connect_options o = {.timeout = e->timeout, .bind = e->bind.len ? &e->bind : NULL};
    if (!e->addr.len && e->host)
        return weft_connect_host(e->r, e->host, e->port, f, &o);
    return weft_connect(e->r, &e->addr, f, &o);
}

/* ---- tcp and tcp6 servers ---- */

static const char *default_interface(const weft_endpoint *e)
{
    return e->kind->family == AF_INET6 ? DEFAULT_INTERFACE_V6 : DEFAULT_INTERFACE_V4;
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

static const weft__ep_param tcp_server_params[] = {P_PORT_SERVER, P_INTERFACE_V4, P_BACKLOG};
static const weft__ep_param tcp6_server_params[] = {P_PORT_SERVER, P_BACKLOG, P_INTERFACE_V6};

static const weft__ep_kind tcp_server = {
    .name = "tcp", .server = true, .family = AF_INET,
    .summary = "TCP on IPv4 (on IPv6 when interface is an IPv6 address)",
    .example = "tcp:8080:interface=127.0.0.1",
    .params = tcp_server_params, .nparams = 3, .npositional = 3,
    .build = build_tcp_server, .describe = describe_tcp_server, .listen = listen_plain,
};

static const weft__ep_kind tcp6_server = {
    .name = "tcp6", .server = true, .family = AF_INET6,
    .summary = "TCP on IPv6 only",
    .example = "tcp6:8080:interface=\\:\\:1",
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

static const weft__ep_param unix_server_params[] = {
    {"address", "PATH", "the socket's path, or @NAME: an abstract socket", NULL},
    {"mode", "MODE", "the socket file's permissions, in octal", TEXT(DEFAULT_MODE)},
    P_BACKLOG,
    {"lockfile", "0|1", "hold PATH.lock, so a second server fails", "1"},
};

static const weft__ep_kind unix_server = {
    .name = "unix", .server = true, .family = AF_UNIX,
    .summary = "a UNIX socket",
    .example = "unix:/run/weft.sock:mode=0660",
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
    if ((err = weft__ep_port(p, port, 1, &n)) < 0)
        return err;
    if (weft_address_from_ip(host, n, &e->addr) < 0) {
        if (host[0] == '[')
            return weft__ep_ip(p, "host", host, n, &e->addr); /* says how to write it */
        /* A name: resolved at connect, and raced (HostnameEndpoint). */
        e->addr.len = 0;
        e->port = n;
        if ((err = weft__ep_strdup(p, host, &e->host)) < 0)
            return err;
    }
    /* An empty bindAddress binds nothing, as Twisted's ("", 0). */
    if (bind && *bind) {
        if ((err = weft__ep_ip(p, "bindAddress", bind, 0, &e->bind)) < 0)
            return err;
        if (e->addr.len && weft_address_family(&e->bind) != weft_address_family(&e->addr))
            return weft__ep_error(p, "bindAddress ", bind, " is not of the host's address family");
    }
    return timeout_arg(p, a, e);
}

static void describe_tcp_client(const weft_endpoint *e, weft__ep_out *o)
{
    if (e->addr.len) {
        weft__ep_out_ip(o, "host", &e->addr);
        weft__ep_out_fmt(o, ":port=%d", weft_address_port(&e->addr));
    } else {
        weft__ep_out_text(o, ":host=");
        weft__ep_out_value(o, e->host, strlen(e->host));
        weft__ep_out_fmt(o, ":port=%d", e->port);
    }
    if (e->timeout != default_timeout)
        weft__ep_out_seconds(o, "timeout", e->timeout);
    if (e->bind.len)
        weft__ep_out_ip(o, "bindAddress", &e->bind);
}

static const weft__ep_param tcp_client_params[] = {P_HOST, P_PORT_CLIENT, P_TIMEOUT, P_BIND};

static const weft__ep_kind tcp_client = {
    .name = "tcp", .server = false, .family = AF_INET,
    .summary = "TCP to an IP address or a host name",
    .example = "tcp:host=example.com:port=80",
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

static const weft__ep_param unix_client_params[] = {
    {"path", "PATH", "the socket's path, or @NAME: an abstract socket", NULL},
    P_TIMEOUT,
};

static const weft__ep_kind unix_client = {
    .name = "unix", .server = false, .family = AF_UNIX,
    .summary = "a UNIX socket",
    .example = "unix:path=/run/weft.sock",
    .params = unix_client_params, .nparams = 2, .npositional = 1,
    .build = build_unix_client, .describe = describe_unix_client, .connect = connect_plain,
};

/* ---- tls (and Twisted's ssl spelling): servers and clients ---- */

static int build_tls_server(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e)
{
    int err = build_tcp_server(p, a, e);
    if (err < 0)
        return err;
    const char *key = weft__ep_arg(a, "privateKey"), *cert = weft__ep_arg(a, "certKey");
    if (!key || !*key)
        return weft__ep_error(p, "missing privateKey", NULL, NULL);
    /* As Twisted: certKey defaults to the privateKey file (both in one PEM). */
    if ((err = weft__ep_strdup(p, key, &e->key)) < 0 || (err = weft__ep_strdup(p, cert ? cert : key, &e->cert)) < 0 ||
        (err = weft__ep_strdup(p, weft__ep_arg(a, "extraCertChain"), &e->chain)) < 0)
        return err;
    return 0;
}

static void out_path(weft__ep_out *o, const char *key, const char *value)
{
    if (!value)
        return;
    weft__ep_out_fmt(o, ":%s=", key);
    weft__ep_out_value(o, value, strlen(value));
}

static void describe_tls_server(const weft_endpoint *e, weft__ep_out *o)
{
    describe_tcp_server(e, o);
    out_path(o, "privateKey", e->key);
    if (strcmp(e->cert, e->key) != 0)
        out_path(o, "certKey", e->cert);
    out_path(o, "extraCertChain", e->chain);
}

static void free_tls_factory(void *f)
{
    weft_tls_factory_free(f);
}

static int listen_tls(const weft_endpoint *e, weft_factory *f, weft_port **out, weft_failure **why)
{
    weft_tls_options o = {.certificate = e->cert,
                         .private_key = e->key,
                         .extra_chain = e->chain,
                         .alpn = e->alpn,
                         .nalpn = e->nalpn};
    weft_tls_context *ctx;
    /* Why the context cannot be made goes to the caller, who decides
     * whether to log it. */
    int err = weft_tls_server_context_new(&o, &ctx, why);
    if (err < 0)
        return err;
    weft_factory *tf = weft_tls_factory_new(ctx, f, NULL);
    weft_tls_context_free(ctx); /* the factory holds its own reference */
    if (!tf)
        return WEFT_ENOMEM;
    if ((err = weft__ep_listen(e, tf, out)) < 0) {
        weft_tls_factory_free(tf);
        return err;
    }
    weft__port_attach(*out, free_tls_factory, tf);
    return 0;
}

/* Twisted's _parseSSL order: port, privateKey, certKey, then by name. */
static const weft__ep_param tls_server_params[] = {
    P_PORT_SERVER,
    {"privateKey", "PATH", "the private key (PEM); may hold the certificate too", NULL},
    {"certKey", "PATH", "the certificate (PEM), which its chain may follow", "the privateKey file"},
    P_INTERFACE_V4,
    P_BACKLOG,
    {"extraCertChain", "PATH", "more chain certificates (PEM), sent after certKey's", "none"},
};

static const weft__ep_kind tls_server = {
    .name = "tls", .server = true, .family = AF_INET,
    .summary = "TLS 1.2 or 1.3 over TCP (ssl is Twisted's name for it)",
    .example = "tls:8443:privateKey=server.key:certKey=server.pem",
    .params = tls_server_params, .nparams = 6, .npositional = 3,
    .build = build_tls_server, .describe = describe_tls_server, .listen = listen_tls,
};

static const weft__ep_kind ssl_server = {
    .name = "ssl", .server = true, .family = AF_INET,
    .summary = "TLS 1.2 or 1.3 over TCP (ssl is Twisted's name for it)",
    .example = "ssl:8443:privateKey=server.key:certKey=server.pem",
    .params = tls_server_params, .nparams = 6, .npositional = 3,
    .build = build_tls_server, .describe = describe_tls_server, .listen = listen_tls,
};

static int build_tls_client(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e)
{
    int err = build_tcp_client(p, a, e);
    if (err < 0)
        return err;
    const char *cert = weft__ep_arg(a, "certificate"), *key = weft__ep_arg(a, "privateKey");
    if ((cert && *cert) != (key && *key))
        return weft__ep_error(p, "certificate and privateKey go together", NULL, NULL);
    /* The name checked against the certificate: a host name build_tcp_client
     * kept, else the address in its canonical spelling ("::0" is "::"), the
     * one describe writes. */
    char ip[64];
    if (!e->host)
        weft_address_host(&e->addr, ip, sizeof ip);
    if ((!e->host && (err = weft__ep_strdup(p, ip, &e->host)) < 0) ||
        (err = weft__ep_strdup(p, weft__ep_arg(a, "trustRoots"), &e->trust)) < 0 ||
        (err = weft__ep_strdup(p, cert, &e->cert)) < 0 || (err = weft__ep_strdup(p, key, &e->key)) < 0)
        return err;
    return 0;
}

static void describe_tls_client(const weft_endpoint *e, weft__ep_out *o)
{
    describe_tcp_client(e, o);
    out_path(o, "trustRoots", e->trust);
    out_path(o, "certificate", e->cert);
    out_path(o, "privateKey", e->key);
}

/* After the TCP connection: wait for the handshake, then give the inner
 * protocol, as a plain connect gives its protocol. */
typedef struct tls_connecting {
    weft_protocol *wrapper;
} tls_connecting;

static weft_result tls_connected(void *arg, weft_result r)
{
    tls_connecting *c = arg;
    c->wrapper = r.value;
    weft_deferred *hs = weft_tls_handshake(c->wrapper);
    if (!hs)
        return weft_err_new(WEFT_ENOMEM, "out of memory waiting for the TLS handshake");
    return weft_chain(hs);
}

static weft_result tls_ready(void *arg, weft_result r)
{
    tls_connecting *c = arg;
    weft_result_free(r);
    return weft_ok(weft_wrapper_inner(weft_wrapper_of(c->wrapper)), NULL);
}

static weft_deferred *connect_tls(const weft_endpoint *e, weft_factory *f)
{
    weft_tls_options o = {.trust_roots = e->trust,
                         .certificate = e->cert,
                         .private_key = e->key,
                         .alpn = e->alpn,
                         .nalpn = e->nalpn};
    weft_tls_context *ctx;
    weft_failure *why = NULL;
    if (weft_tls_client_context_new(&o, &ctx, &why) < 0)
        return weft_fail(e->r, why ? why : weft_failure_new(WEFT_ENOMEM, "out of memory"));
    weft_factory *tf = weft_tls_factory_new(ctx, f, e->host);
    weft_tls_context_free(ctx);
    tls_connecting *c = tf ? weft_calloc(1, sizeof *c) : NULL;
    weft_deferred *d = c ? connect_plain(e, tf) : NULL;
    weft_tls_factory_free(tf); /* it goes with its connection, or now if none */
    if (!d) {
        weft_free(c);
        return NULL;
    }
    if (weft_deferred_add_callback(d, tls_connected, c) < 0 ||
        weft_deferred_add_callbacks_full(d, tls_ready, NULL, c, weft_free) < 0) {
        /* A fresh connect Deferred has room for both: not reached. */
        weft_deferred_cancel(d);
    }
    return d;
}

static const weft__ep_param tls_client_params[] = {
    P_HOST,
    P_PORT_CLIENT,
    P_TIMEOUT,
    P_BIND,
    {"trustRoots", "PATH", "the CAs to trust: a PEM file or a hashed directory", "the system's"},
    {"certificate", "PATH", "a client certificate (PEM), given with privateKey", "none"},
    {"privateKey", "PATH", "the client certificate's private key (PEM)", "none"},
};

static const weft__ep_kind tls_client = {
    .name = "tls", .server = false, .family = AF_INET,
    .summary = "TLS 1.2 or 1.3 over TCP; the server's certificate must be valid for host",
    .example = "tls:host=example.com:port=443",
    .params = tls_client_params, .nparams = 7, .npositional = 2, .fill_free = true,
    .build = build_tls_client, .describe = describe_tls_client, .connect = connect_tls,
};

/* ---- the table ---- */

int weft__ep_strdup(weft__ep_parse *p, const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return 0;
    if (!(*out = weft_strdup(s))) {
        if (!p->err)
            p->err = weft_failure_new(WEFT_ENOMEM, "out of memory parsing an endpoint");
        return WEFT_ENOMEM;
    }
    return 0;
}

const weft__ep_kind *const weft__ep_kinds[] = {
    &tcp_server, &tcp6_server, &unix_server, &tls_server,  &ssl_server, &weft__ep_systemd_server,
    &weft__ep_haproxy_server, &tcp_client, &unix_client, &tls_client,
};
const size_t weft__ep_nkinds = sizeof weft__ep_kinds / sizeof weft__ep_kinds[0];
