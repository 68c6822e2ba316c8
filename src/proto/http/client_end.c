/* SPDX-License-Identifier: MIT */
/*
 * How a client connection's exchanges end: closing or aborting it, failing
 * what is under way (whoever waits hears why), the timers that end a wait,
 * the end of a response body and of a response, the upload let go - and
 * what the connection tells its pool. client_read.c and client_conn.c call
 * down into this file; it calls up (to a request, to the pool) only
 * through the tables client.c and pool.c install (client_int.h).
 */
#include "client_int.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/transport.h"

void weft__hc_conn_unref(weft__hc_conn *c)
{
    if (--c->refs > 0)
        return;
    weft__http_buf_free(&c->field);
    weft__http_buf_free(&c->reason);
    weft__http_buf_free(&c->stash);
    weft_http_headers_free(c->headers);
    if (c->pending)
        weft_http_response_free(c->pending);
    weft_free(c);
}

bool weft__hc_conn_open(const weft__hc_conn *c)
{
    return c->t && !c->lost && !weft_transport_disconnecting(c->t);
}

void weft__hc_conn_timer_stop(weft__hc_conn *c)
{
    weft_timer_cancel(c->r, c->timer);
    c->timer = (weft_timer){0};
}

void weft__hc_conn_close(weft__hc_conn *c)
{
    weft__hc_conn_timer_stop(c);
    if (c->t)
        weft_transport_lose_connection(c->t);
}

void weft__hc_conn_abort(weft__hc_conn *c)
{
    weft__hc_conn_timer_stop(c);
    if (c->t)
        weft_transport_abort_connection(c->t);
}

/* ---- ends: of the request, of the response body, of the upload ---- */

void weft__hc_conn_fail_request(weft__hc_conn *c, weft_failure *f)
{
    weft__hc_req *req = c->req;
    c->req = NULL;
    c->discard = false;
    if (req) {
        req->conn = NULL;
        req->ops->fail(req, f);
    } else {
        weft_failure_unref(f);
    }
}

void weft__hc_body_end(weft_http_response *resp, const weft_failure *f)
{
    if (resp->body.drain) {
        weft_fount_end(&resp->body, f);
    } else if (!resp->pending_end && !resp->body.ended) {
        resp->pending_end = weft_failure_ref((weft_failure *)f);
    }
}

/* The streaming body ends with f (borrowed); the response is unlinked. */
void weft__hc_conn_end_body(weft__hc_conn *c, const weft_failure *f)
{
    weft_http_response *resp = c->resp;
    c->resp = NULL;
    if (!resp)
        return;
    resp->conn = NULL;
    weft__hc_body_end(resp, f);
}

/* Something went wrong with the exchange under way: whoever waits hears
 * f (the reference passes), and the connection is dropped. */
void weft__hc_conn_fail(weft__hc_conn *c, weft_failure *f)
{
    weft__hc_conn_abort(c); /* first, so that whoever hears finds it closing */
    weft__hc_conn_end_body(c, f);
    weft__hc_conn_fail_request(c, weft_failure_ref(f));
    weft_failure_unref(f);
}

/* Lets go of the body fount, stopping it, wherever the upload stands. */
void weft__hc_conn_upload_abandon(weft__hc_conn *c)
{
    weft_fount *f = c->up.fount;
    if (c->up_active && c->t)
        weft_transport_unregister_producer(c->t);
    c->up_active = false;
    if (!f)
        return;
    f->drain = NULL;
    c->up.fount = NULL;
    weft_fount_stop(f);
}

/* ---- the pool ---- */

void weft__hc_conn_release(weft__hc_conn *c)
{
    if (c->pool)
        c->pool->ops->release(c);
    else
        weft__hc_conn_close(c); /* orphaned: its agent has gone */
}

void weft__hc_conn_uncount(weft__hc_conn *c)
{
    if (c->pool)
        c->pool->ops->remove(c);
}

/* ---- timers ---- */

static void response_timed_out(void *arg)
{
    weft__hc_conn *c = arg;
    c->timer = (weft_timer){0};
    weft__hc_conn_fail(c, weft_failure_new(WEFT_ETIMEDOUT, "no response from the server within %g s",
                                           c->response_timeout));
}

bool weft__hc_conn_gated(const weft__hc_conn *c)
{
    const weft_http_response *r = c->resp;
    return r && !(r->body.drain && r->body.pauses == 0);
}

/* Waiting on the server: from the end of the request to the end of the
 * response, unless the body's consumer is the one holding things up. */
void weft__hc_conn_timer_arm(weft__hc_conn *c)
{
    if (!c->req && !c->resp)
        return; /* idle: its own timer runs */
    weft__hc_conn_timer_stop(c);
    if (c->response_timeout <= 0 || !weft__hc_conn_open(c) || c->up_active || weft__hc_conn_gated(c))
        return;
    if (weft_call_later(c->r, c->response_timeout, response_timed_out, c, &c->timer) < 0)
        weft__hc_conn_fail(c, weft_failure_new(WEFT_ENOMEM, "out of memory setting the response timeout"));
}

static void idle_expired(void *arg)
{
    weft__hc_conn *c = arg;
    c->timer = (weft_timer){0};
    weft__hc_conn_uncount(c);
    weft__hc_conn_close(c);
}

void weft__hc_conn_set_idle(weft__hc_conn *c, double idle_timeout)
{
    weft__hc_conn_timer_stop(c);
    if (weft_call_later(c->r, idle_timeout, idle_expired, c, &c->timer) < 0) {
        weft__hc_conn_uncount(c);
        weft__hc_conn_close(c);
    }
}

/* ---- the response ---- */

void weft_http_response_free(weft_http_response *resp)
{
    if (!resp)
        return;
    weft__hc_conn *c = resp->conn;
    if (c) {
        /* An unread body: the connection cannot be reused. */
        c->resp = NULL;
        resp->conn = NULL;
        weft__hc_conn_abort(c);
    }
    if (!resp->body.ended && resp->body.drain) {
        /* Whoever drains it must hear that nothing more will come. */
        weft_failure *f = weft_failure_new(WEFT_ECANCELED, "the response was freed");
        weft_fount_end(&resp->body, f);
        weft_failure_unref(f);
    }
    weft_failure_unref(resp->pending_end);
    weft_result_free(resp->content);
    weft_http_headers_free(resp->headers);
    weft_free(resp->reason);
    weft_free(resp->url);
    weft_free(resp);
}
