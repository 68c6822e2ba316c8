/* SPDX-License-Identifier: MIT */
/*
 * Endpoint strings: Twisted's serverFromString and clientFromString. A
 * string is split into fields (endpoint_parse.c); the first names the kind,
 * found in the table of kinds (endpoint_kinds.c); the others are bound to
 * the kind's parameters the way Python binds a call's arguments, keywords
 * by name and positional fields by place; the kind then reads the values.
 *
 * Where Twisted accepts something by accident, weft refuses it with a
 * message instead: a parameter given twice (Python's dict keeps the last),
 * a client's positional host and port beside keywords for them (Twisted's
 * "tcp:H:P:host=X" silently keeps H), a kind that is not the first field
 * ("port=80:tcp" works in Twisted), and a backslash at the very end (a
 * StopIteration escaping Twisted's tokenizer). Kind names match without
 * regard to case for servers too, where Twisted matches "tcp" and "unix"
 * exactly but "tcp6" in any case.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "endpoint_int.h"
#include "weft/alloc.h"
#include "weft/error.h"

static int find_kind(weft__ep_parse *p, bool server, const weft__ep_kind **out)
{
    const weft__ep_field *first = &p->fields[0];
    if (first->key)
        return weft__ep_error(p, "the endpoint type must come first, not the parameter ", first->key, NULL);
    if (p->nfields == 1 && p->desc[0] == '\0')
        return weft__ep_error(p, "empty endpoint string", NULL, NULL);
    char known[128];
    weft__ep_out list = {.buf = known, .size = sizeof known};
    weft__ep_out_text(&list, server ? " (servers: " : " (clients: ");
    const char *sep = "";
    for (size_t i = 0; i < weft__ep_nkinds; i++) {
        const weft__ep_kind *k = weft__ep_kinds[i];
        if (k->server != server)
            continue;
        if (strcasecmp(k->name, first->value) == 0) {
            *out = k;
            return 0;
        }
        weft__ep_out_text(&list, sep);
        weft__ep_out_text(&list, k->name);
        sep = ", ";
    }
    weft__ep_out_text(&list, ")");
    return weft__ep_error(p, "unknown endpoint type ", first->value, known);
}

/* " (tcp servers take: port, interface, backlog)", or with `positional`
 * " (tcp servers take 3 by position: port, interface, backlog)": what the
 * kind would have accepted, for the message refusing what it was given. */
static void out_takes(weft__ep_out *o, const weft__ep_kind *k, bool positional)
{
    size_t n = positional ? k->npositional : k->nparams;
    weft__ep_out_fmt(o, " (%s %s take", k->name, k->server ? "servers" : "clients");
    if (positional)
        weft__ep_out_fmt(o, " %zu by position", n);
    weft__ep_out_text(o, ":");
    for (size_t i = 0; i < n; i++)
        weft__ep_out_fmt(o, "%s%s", i ? ", " : " ", k->params[i].name);
    weft__ep_out_text(o, ")");
}

static int refuse_field(weft__ep_parse *p, const weft__ep_kind *k, const char *what, const char *field,
                        bool positional)
{
    /* Names are short and a kind has at most WEFT__EP_MAX_PARAMS of them;
     * were the list ever longer, it would be cut, not overrun. */
    char takes[WEFT__EP_MAX_PARAMS * 24];
    weft__ep_out o = {.buf = takes, .size = sizeof takes};
    out_takes(&o, k, positional);
    return weft__ep_error(p, what, field, takes);
}

static int bind_fields(weft__ep_parse *p, const weft__ep_kind *k, const char **values)
{
    assert(k->nparams <= WEFT__EP_MAX_PARAMS && k->npositional <= k->nparams);
    /* A wrapping kind's fields end where the wrapped string begins. */
    size_t end = 1;
    while (end < p->nfields && !(k->wraps && !p->fields[end].key))
        end++;
    /* Keywords first, so that a kind that fills free places knows which
     * are free. */
    for (size_t i = 1; i < end; i++) {
        const weft__ep_field *f = &p->fields[i];
        if (!f->key)
            continue;
        size_t j = 0;
        while (j < k->nparams && strcmp(k->params[j].name, f->key) != 0)
            j++;
        if (j == k->nparams)
            return refuse_field(p, k, "unknown parameter ", f->key, false);
        if (values[j])
            return weft__ep_error(p, "duplicate parameter ", f->key, NULL);
        values[j] = f->value;
    }
    if (end < p->nfields) {
        if (values[0])
            return weft__ep_error(p, "duplicate parameter ", k->params[0].name, NULL);
        values[0] = p->desc + p->fields[end].at;
        return 0;
    }
    size_t next = 0;
    for (size_t i = 1; i < p->nfields; i++) {
        const weft__ep_field *f = &p->fields[i];
        if (f->key)
            continue;
        if (k->fill_free)
            while (next < k->npositional && values[next])
                next++;
        if (next >= k->npositional)
            return refuse_field(p, k, "unexpected positional field ", f->value, true);
        if (values[next])
            return weft__ep_error(p, "duplicate parameter ", k->params[next].name, NULL);
        values[next++] = f->value;
    }
    return 0;
}

static int build(weft__ep_parse *p, weft_reactor *r, bool server, weft_endpoint **out)
{
    const weft__ep_kind *k = NULL;
    const char *values[WEFT__EP_MAX_PARAMS] = {0};
    int err;
    if ((err = find_kind(p, server, &k)) < 0 || (err = bind_fields(p, k, values)) < 0)
        return err;
    weft_endpoint *e = weft_calloc(1, sizeof *e);
    if (!e) {
        p->err = weft_failure_new(WEFT_ENOMEM, "out of memory making an endpoint");
        return WEFT_ENOMEM;
    }
    e->r = r;
    e->kind = k;
    weft__ep_args args = {k, values};
    if ((err = k->build(p, &args, e)) < 0) {
        weft_endpoint_free(e);
        return err;
    }
    *out = e;
    return 0;
}

static int parse(weft_reactor *r, bool server, const char *desc, weft_endpoint **out, weft_failure **err)
{
    weft__ep_parse p = {.desc = ""};
    weft_endpoint *e = NULL;
    int rc;
    if (!desc) {
        p.err = weft_failure_new(WEFT_EINVAL, "no endpoint string");
        rc = weft_failure_code(p.err);
    } else if ((rc = weft__ep_tokenize(&p, desc)) == 0) {
        rc = build(&p, r, server, &e);
    }
    weft__ep_parse_free(&p);
    *out = e;
    if (err)
        *err = p.err;
    else
        weft_failure_unref(p.err);
    return rc;
}

int weft_endpoint_server(weft_reactor *r, const char *desc, weft_endpoint **out, weft_failure **err)
{
    return parse(r, true, desc, out, err);
}

int weft_endpoint_client(weft_reactor *r, const char *desc, weft_endpoint **out, weft_failure **err)
{
    return parse(r, false, desc, out, err);
}

void weft_endpoint_free(weft_endpoint *e)
{
    if (!e)
        return;
    weft_free(e->cert);
    weft_free(e->key);
    weft_free(e->alpn_buf);
    weft_free(e->chain);
    weft_free(e->trust);
    weft_free(e->host);
    weft_free(e->sd_name);
    weft_endpoint_free(e->wrapped);
    weft_free(e);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static weft_failure *wrong_direction(const weft_endpoint *e, const char *what)
{
    char desc[256];
    weft_endpoint_describe(e, desc, sizeof desc);
    return weft_failure_new(WEFT_EINVAL, "%s: a %s endpoint cannot %s", desc, e->kind->server ? "server" : "client",
                            what);
}

/* "cannot listen on ADDRESS: REASON", the reason being why's description
 * (a certificate that cannot be loaded...) or else the error code's. An
 * endpoint with no address of its own (systemd:) is named by its string.
 * The reference to why passes here. */
static weft_failure *listen_failure(const weft_endpoint *e, int err, weft_failure *why)
{
    char where[160];
    if (e->addr.len)
        weft_address_format(&e->addr, where, sizeof where);
    else
        weft_endpoint_describe(e, where, sizeof where);
    weft_failure *f;
    if (!why)
        return weft_failure_new(err, "cannot listen on %s: %s", where, weft_strerror(err));
    size_t n = weft_failure_describe(why, NULL, 0);
    char *reason = weft_malloc(n + 1);
    if (reason) {
        weft_failure_describe(why, reason, n + 1);
        f = weft_failure_new(err, "cannot listen on %s: %s", where, reason);
        weft_free(reason);
    } else {
        f = weft_failure_new(err, "cannot listen on %s: %s", where, weft_failure_message(why));
    }
    weft_failure_unref(why);
    return f;
}

weft_deferred *weft_endpoint_listen(weft_endpoint *e, weft_factory *factory)
{
    /* The Deferred first: made after a successful listen, its failure would
     * leave a port nobody can stop. */
    weft_deferred *d = weft_deferred_new(e->r);
    if (!d)
        return NULL;
    if (!e->kind->listen) {
        weft_deferred_errback(d, wrong_direction(e, "listen"));
        return d;
    }
    weft_port *port = NULL;
    weft_failure *why = NULL;
    int err = e->kind->listen(e, factory, &port, &why);
    if (err < 0)
        weft_deferred_errback(d, listen_failure(e, err, why));
    else
        weft_deferred_callback(d, port, NULL);
    return d;
}

weft_deferred *weft_endpoint_connect(weft_endpoint *e, weft_factory *factory)
{
    if (!e->kind->connect)
        return weft_fail(e->r, wrong_direction(e, "connect"));
    return e->kind->connect(e, factory);
}

size_t weft_endpoint_describe(const weft_endpoint *e, char *buf, size_t size)
{
    weft__ep_out o = {.buf = buf, .size = size};
    if (size)
        buf[0] = '\0';
    weft__ep_out_text(&o, e->kind->name);
    e->kind->describe(e, &o);
    return o.len;
}

bool weft__endpoint_equal(const weft_endpoint *a, const weft_endpoint *b)
{
    return a->kind == b->kind && weft_address_equal(&a->addr, &b->addr) && a->listen.backlog == b->listen.backlog &&
           same_str(a->cert, b->cert) && same_str(a->key, b->key) && same_str(a->chain, b->chain) &&
           same_str(a->trust, b->trust) && same_str(a->host, b->host) && a->port == b->port &&
           a->listen.reuse_port == b->listen.reuse_port && a->listen.mode == b->listen.mode &&
           a->listen.lockfile == b->listen.lockfile && a->listen.max_accepts == b->listen.max_accepts &&
           a->timeout == b->timeout && weft_address_equal(&a->bind, &b->bind) && a->sd_index == b->sd_index &&
           same_str(a->sd_name, b->sd_name) && a->sd_family == b->sd_family &&
           a->proxy_timeout == b->proxy_timeout && !a->wrapped == !b->wrapped &&
           (!a->wrapped || weft__endpoint_equal(a->wrapped, b->wrapped));
}

int weft_endpoint_set_alpn(weft_endpoint *e, const char *const *protocols, size_t n)
{
    if (e->wrapped)
        return weft_endpoint_set_alpn(e->wrapped, protocols, n);
    if (n > WEFT_ENDPOINT_ALPN_MAX)
        return WEFT_EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(protocols[i]);
        if (l == 0 || l > 255)
            return WEFT_EINVAL;
        total += l + 1;
    }
    char *buf = n ? weft_malloc(total) : NULL;
    if (n && !buf)
        return WEFT_ENOMEM;
    weft_free(e->alpn_buf);
    e->alpn_buf = buf;
    e->nalpn = n;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(protocols[i]) + 1;
        memcpy(buf, protocols[i], l);
        e->alpn[i] = buf;
        buf += l;
    }
    return 0;
}
