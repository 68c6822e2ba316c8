/* SPDX-License-Identifier: MIT */
/*
 * The haproxy: kind, Twisted's HAProxyServerParser: "haproxy:" before any
 * server endpoint string reads a PROXY header on each connection first
 * (haproxy.h). Its own parameters come before the wrapped string, which is
 * the rest as written: "haproxy:headerTimeout=3:tls:8443:privateKey=k.pem".
 *
 * Where Twisted wraps the factory it gives the wrapped endpoint (so that
 * haproxy:ssl: would read the header inside TLS, where no proxy sends it),
 * the wrapped endpoint is marked instead, and its listen puts the PROXY
 * factory around whatever it layers on (weft__ep_listen): the header is
 * read first, as it comes first on the wire.
 */
#include <string.h>
#include <strings.h>

#include "endpoint_int.h"
#include "socket_int.h"
#include "weft/error.h"
#include "weft/haproxy.h"

#define TEXT(x) TEXT_(x)
#define TEXT_(x) #x

static void free_factory(void *f)
{
    weft_haproxy_factory_free(f);
}

static int listen_plain(const weft_endpoint *e, weft_factory *f, weft_port **out, void *arg)
{
    (void)arg;
    return weft_listen(e->r, &e->addr, f, &e->listen, out);
}

int weft__ep_listen(const weft_endpoint *e, weft_factory *f, weft_port **out)
{
    return weft__ep_listen_with(e, f, listen_plain, NULL, out);
}

int weft__ep_listen_with(const weft_endpoint *e, weft_factory *f, weft__ep_listen_fn fn, void *arg, weft_port **out)
{
    if (e->proxy_timeout <= 0)
        return fn(e, f, out, arg);
    weft_factory *pf = weft_haproxy_factory_new(f, e->proxy_timeout);
    if (!pf)
        return WEFT_ENOMEM;
    int err = fn(e, pf, out, arg);
    if (err < 0) {
        weft_haproxy_factory_free(pf);
        return err;
    }
    weft__port_attach(*out, free_factory, pf);
    return 0;
}

/* Whether the wrapped string names haproxy again: refused before it is
 * parsed, so that "haproxy:haproxy:..." cannot recurse as deep as the
 * string is long. */
static bool wraps_haproxy(const weft__ep_parse *p)
{
    for (size_t i = 1; i < p->nfields; i++)
        if (!p->fields[i].key)
            return strcasecmp(p->fields[i].value, weft__ep_haproxy_server.name) == 0;
    return false;
}

static int build_haproxy(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e)
{
    const char *wrapped = weft__ep_arg(a, "endpoint"), *timeout = weft__ep_arg(a, "headerTimeout");
    double seconds = WEFT_HAPROXY_TIMEOUT;
    int err;
    if (!wrapped)
        return weft__ep_error(p, "missing the endpoint to wrap (haproxy:tcp:8080)", NULL, NULL);
    if (timeout && (err = weft__ep_seconds(p, "headerTimeout", timeout, &seconds)) < 0)
        return err;
    if (wraps_haproxy(p))
        return weft__ep_error(p, "haproxy: cannot wrap haproxy: (one PROXY header per connection)", NULL, NULL);
    weft_failure *why = NULL;
    if ((err = weft_endpoint_server(e->r, wrapped, &e->wrapped, &why)) < 0) {
        /* The wrapped string's own message says what is wrong with it. */
        p->err = why;
        return err;
    }
    if (e->wrapped->kind->wraps)
        return weft__ep_error(p, "haproxy: cannot wrap haproxy: (one PROXY header per connection)", NULL, NULL);
    e->wrapped->proxy_timeout = seconds;
    e->addr = e->wrapped->addr; /* for "cannot listen on ADDRESS" */
    return 0;
}

static void describe_haproxy(const weft_endpoint *e, weft__ep_out *o)
{
    if (e->wrapped->proxy_timeout != WEFT_HAPROXY_TIMEOUT)
        weft__ep_out_seconds(o, "headerTimeout", e->wrapped->proxy_timeout);
    weft__ep_out_fmt(o, ":%s", e->wrapped->kind->name);
    e->wrapped->kind->describe(e->wrapped, o);
}

static int listen_haproxy(const weft_endpoint *e, weft_factory *f, weft_port **out, weft_failure **why)
{
    return e->wrapped->kind->listen(e->wrapped, f, out, why);
}

static const weft__ep_param haproxy_params[] = {
    {"endpoint", "ENDPOINT", "the server endpoint behind the proxy: the rest of the string", NULL},
    {"headerTimeout", "SECONDS", "close a connection whose PROXY header is not whole by then",
     TEXT(WEFT_HAPROXY_TIMEOUT)},
};

const weft__ep_kind weft__ep_haproxy_server = {
    .name = "haproxy", .server = true, .family = AF_INET,
    .summary = "the PROXY protocol (v1, v2) before a server endpoint: the peer is the client it names",
    .example = "haproxy:tcp:8080:interface=127.0.0.1",
    .params = haproxy_params, .nparams = 2, .npositional = 1, .wraps = true,
    .build = build_haproxy, .describe = describe_haproxy, .listen = listen_haproxy,
};
