/* SPDX-License-Identifier: MIT */
/*
 * Services over endpoint strings (service.h): a server, as Twisted's
 * strports.service, and a kept-up client, as its ClientService. A server's
 * connections go through a wrapping factory, which counts them and says
 * when the last has gone: what its stop waits for.
 */
#include "weft/alloc.h"
#include "weft/endpoint.h"
#include "weft/error.h"
#include "weft/reactor.h"
#include "weft/service.h"
#include "weft/socket.h"
#include "weft/wrapping_factory.h"
#include "service_int.h"
#include "../net/socket_int.h"

typedef struct server {
    char *desc;       /* the endpoint string, as given */
    weft_endpoint *e; /* parsed when made; listened on when bound */
    weft_wrapping_factory *wf;
    weft_port *port; /* while listening */
} server;

static int server_bind(weft_service *s, void *arg, weft_failure **why)
{
    (void)s;
    server *sv = arg;
    weft_deferred *d = weft_endpoint_listen(sv->e, weft_wrapping_factory_base(sv->wf));
    weft_result res;
    /* Listening is done when the call returns: the Deferred has fired. */
    if (!d || weft_deferred_take(d, &res) < 0) {
        weft_deferred_unref(d);
        *why = weft_failure_new(WEFT_ENOMEM, "out of memory listening on %s", sv->desc);
        return WEFT_ENOMEM;
    }
    weft_deferred_unref(d);
    if (weft_failed(res)) {
        *why = weft_failure_ref(weft_result_failure(res));
        weft_result_free(res);
        return weft_failure_code(*why);
    }
    sv->port = res.value;
    return 0;
}

static void server_quiesce(weft_service *s, void *arg)
{
    (void)s;
    server *sv = arg;
    if (sv->port)
        weft_deferred_unref(weft_port_stop(sv->port));
    sv->port = NULL;
}

/* The deadline passed: what is still open is aborted. */
static void abort_the_rest(void *arg, weft_deferred *d)
{
    server *sv = arg;
    weft_wrapping_factory_close_all(sv->wf, true);
    weft_deferred_errback(d, weft_failure_new(WEFT_ECANCELED, "stopping cancelled"));
}

/* The last connection has gone: the stop is over, unless the deadline
 * ended it first. */
static weft_result drained(void *arg, weft_result result)
{
    weft_deferred *d = arg;
    if (weft_deferred_called(d))
        weft_result_free(result);
    else
        weft_deferred_fire(d, result);
    return weft_none();
}

static void drop_ref(void *d)
{
    weft_deferred_unref(d);
}

static weft_deferred *server_stop(weft_service *s, void *arg)
{
    server *sv = arg;
    server_quiesce(s, arg); /* not quiesced when a failed start stops it */
    if (weft_wrapping_factory_count(sv->wf) == 0)
        return NULL;
    weft_deferred *last = weft_wrapping_factory_drained(sv->wf);
    weft_deferred *d = last ? weft_deferred_new(weft_service_reactor(s)) : NULL;
    if (!d || weft_deferred_add_callbacks_full(last, drained, drained, weft_deferred_ref(d), drop_ref) < 0) {
        if (d)
            weft_deferred_unref(d); /* the reference for the callback */
        weft_deferred_unref(d);
        weft_deferred_unref(last);
        weft_wrapping_factory_close_all(sv->wf, true);
        return NULL;
    }
    weft_deferred_unref(last);
    weft_deferred_set_canceller(d, abort_the_rest, sv);
    return d;
}

static void server_destroy(void *arg)
{
    server *sv = arg;
    if (sv->port)
        weft_deferred_unref(weft_port_stop(sv->port));
    weft_wrapping_factory_free(sv->wf);
    weft_endpoint_free(sv->e);
    weft_free(sv->desc);
    weft_free(sv);
}

static const weft_service_ops server_ops = {
    .privileged_start = server_bind, .quiesce = server_quiesce, .stop = server_stop, .destroy = server_destroy};

weft_service *weft_server_service_new(weft_reactor *r, const char *name, const char *endpoint,
                                      weft_factory *factory, weft_failure **why)
{
    weft_failure *mine = NULL;
    server *sv = weft_calloc(1, sizeof *sv);
    if (!sv || !(sv->desc = weft_strdup(endpoint)) || !(sv->wf = weft_wrapping_factory_new(r, factory)) ||
        weft_endpoint_server(r, endpoint, &sv->e, &mine) < 0) {
        if (sv)
            server_destroy(sv);
        if (why)
            *why = mine ? mine : weft_failure_new(WEFT_ENOMEM, "out of memory");
        else
            weft_failure_unref(mine);
        return NULL;
    }
    return weft_service_new(r, name, &server_ops, sv);
}

static server *server_of(const weft_service *s)
{
    return weft_server_service_is(s) ? weft_service_arg(s) : NULL;
}

bool weft_server_service_is(const weft_service *s)
{
    return weft__service_ops(s) == &server_ops;
}

int weft_server_service_set_alpn(weft_service *s, const char *const *protocols, size_t n)
{
    server *sv = server_of(s);
    return sv ? weft_endpoint_set_alpn(sv->e, protocols, n) : WEFT_EINVAL;
}

const char *weft_server_service_endpoint(const weft_service *s)
{
    server *sv = server_of(s);
    return sv ? sv->desc : NULL;
}

size_t weft_server_service_connections(const weft_service *s)
{
    server *sv = server_of(s);
    return sv ? weft_wrapping_factory_count(sv->wf) : 0;
}

int weft__server_service_fd(const weft_service *s)
{
    server *sv = server_of(s);
    return sv && sv->port ? weft__port_fd(sv->port) : -1;
}

bool weft_server_service_address(const weft_service *s, weft_address *out)
{
    server *sv = server_of(s);
    return sv && sv->port && weft_port_address(sv->port, out) == 0;
}

/* ---- a kept-up client ---- */

static int client_start(weft_service *s, void *arg, weft_failure **why)
{
    (void)s;
    int err = weft_client_service_start(arg);
    if (err < 0)
        *why = weft_failure_new(err, "cannot start the client: %s", weft_strerror(err));
    return err;
}

static weft_deferred *client_stop(weft_service *s, void *arg)
{
    (void)s;
    return weft_client_service_stop(arg);
}

static void client_destroy(void *arg)
{
    weft_client_service_free(arg);
}

static const weft_service_ops client_ops = {.start = client_start, .stop = client_stop, .destroy = client_destroy};

weft_service *weft_client_service_service_new(weft_reactor *r, const char *name, const char *endpoint,
                                              weft_factory *factory, const weft_backoff *policy, weft_failure **why)
{
    weft_endpoint *e;
    weft_failure *mine = NULL;
    weft_client_service *cs = NULL;
    if (weft_endpoint_client(r, endpoint, &e, &mine) == 0 && !(cs = weft_client_service_new(r, e, factory, policy, 0)))
        weft_endpoint_free(e);
    if (!cs) {
        if (why)
            *why = mine ? mine : weft_failure_new(WEFT_ENOMEM, "out of memory");
        else
            weft_failure_unref(mine);
        return NULL;
    }
    return weft_service_new(r, name, &client_ops, cs);
}

weft_client_service *weft_client_service_service_client(const weft_service *s)
{
    return weft__service_ops(s) == &client_ops ? weft_service_arg(s) : NULL;
}
