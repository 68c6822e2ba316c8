/* SPDX-License-Identifier: MIT */
/*
 * ClientService: connect, watch the connection through a wrapping factory
 * (its "drained" Deferred says when the connection is gone), retry with
 * back-off. One attempt, one connection or one timer at a time.
 */
#include <math.h>
#include <sys/random.h>

#include "../async/waitq.h"

#include "weft/alloc.h"
#include "weft/client_service.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/reactor.h"
#include "weft/wrapping_factory.h"
#include "weft/timer.h"
#include "weft/transport.h"

struct weft_client_service {
    weft_reactor *r;
    weft_endpoint *endpoint;
    weft_wrapping_factory *wf;
    weft_backoff policy;
    uint64_t rng;
    unsigned failures;
    bool running;
    weft_deferred *attempt; /* the connect under way */
    weft_protocol *connected;
    weft_timer retry;
    weft__waitq waiters; /* when_connected */
};

double weft_backoff_delay(const weft_backoff *b, unsigned attempt)
{
    double initial = b->initial > 0 ? b->initial : 1.0;
    double max = b->max > 0 ? b->max : 60.0;
    double factor = b->factor > 0 ? b->factor : 1.5;
    double d = initial * pow(factor, attempt);
    return d < max ? d : max;
}

/* xorshift64*: the jitter needs spread, not secrecy. */
static double uniform(weft_client_service *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static void connect_now(void *arg);

static void schedule_retry(weft_client_service *s)
{
    double delay = weft_backoff_delay(&s->policy, s->failures);
    if (s->policy.jitter > 0)
        delay *= 1 + s->policy.jitter * (2 * uniform(s) - 1);
    s->failures++;
    if (weft_call_later(s->r, delay, connect_now, s, &s->retry) < 0) {
        weft_log(weft_reactor_logger(s->r), WEFT_LOG_ERROR, "weft.client", "cannot schedule a reconnection: out of memory");
        s->running = false;
    }
}

/* when_connected's waiters get the protocol (a value the queue cannot
 * carry: each is fired by hand) or, when the service stops, a cancel. */
static void tell_waiters(weft_client_service *s, weft_protocol *p)
{
    if (!p) {
        weft_failure *f = weft_failure_new(WEFT_ECANCELED, "client service stopped");
        weft__waitq_fire_all(&s->waiters, f);
        weft_failure_unref(f);
        return;
    }
    size_t n = s->waiters.count;
    weft_deferred *d;
    while (n-- > 0 && (d = weft__waitq_pop(&s->waiters))) {
        weft_deferred_callback(d, p, NULL);
        weft_deferred_unref(d);
    }
}

static weft_result connection_gone(void *arg, weft_result r)
{
    weft_client_service *s = arg;
    weft_result_free(r);
    s->connected = NULL;
    if (s->running)
        schedule_retry(s);
    return weft_none();
}

static weft_result attempt_done(void *arg, weft_result r)
{
    weft_client_service *s = arg;
    s->attempt = NULL;
    weft_failure *f = weft_result_failure(r);
    if (f) {
        if (s->running) {
            weft_log(weft_reactor_logger(s->r), WEFT_LOG_INFO, "weft.client", "{error}; retrying",
                     WEFT_LOG_STR("error", weft_failure_message(f)));
            schedule_retry(s);
        }
        weft_result_free(r);
        return weft_none();
    }
    s->failures = 0;
    s->connected = r.value;
    weft_deferred *gone = weft_wrapping_factory_drained(s->wf);
    if (!gone || weft_deferred_add_both(gone, connection_gone, s) < 0) {
        /* Without a way to hear of its loss, do not keep the connection. */
        weft_transport_abort_connection(s->connected->transport);
    }
    weft_deferred_unref(gone);
    tell_waiters(s, s->connected);
    return weft_none();
}

static void connect_now(void *arg)
{
    weft_client_service *s = arg;
    s->retry.id = 0;
    weft_deferred *d = weft_endpoint_connect(s->endpoint, weft_wrapping_factory_base(s->wf));
    if (!d) {
        schedule_retry(s);
        return;
    }
    s->attempt = d;
    if (weft_deferred_add_both(d, attempt_done, s) < 0) {
        s->attempt = NULL;
        weft_deferred_cancel(d);
        schedule_retry(s);
    }
    weft_deferred_unref(d);
}

weft_client_service *weft_client_service_new(weft_reactor *r, weft_endpoint *endpoint, weft_factory *factory,
                                              const weft_backoff *policy, uint64_t seed)
{
    weft_client_service *s = weft_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->wf = weft_wrapping_factory_new(r, factory);
    if (!s->wf) {
        weft_free(s);
        return NULL;
    }
    s->r = r;
    s->endpoint = endpoint;
    weft__waitq_init(&s->waiters);
    if (policy)
        s->policy = *policy;
    if (!seed && getrandom(&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t)(uintptr_t)s;
    s->rng = seed ? seed : 1;
    return s;
}

int weft_client_service_start(weft_client_service *s)
{
    if (s->running)
        return WEFT_ERUNNING;
    s->running = true;
    s->failures = 0;
    connect_now(s);
    return 0;
}

weft_deferred *weft_client_service_when_connected(weft_client_service *s)
{
    if (s->connected)
        return weft_succeed(s->r, s->connected, NULL);
    return weft__waitq_add(&s->waiters, s->r);
}

weft_deferred *weft_client_service_stop(weft_client_service *s)
{
    s->running = false;
    weft_timer_cancel(s->r, s->retry);
    if (s->attempt)
        weft_deferred_cancel(s->attempt);
    tell_waiters(s, NULL);
    weft_wrapping_factory_close_all(s->wf, false);
    return weft_wrapping_factory_drained(s->wf);
}

unsigned weft_client_service_failures(const weft_client_service *s)
{
    return s->failures;
}

void weft_client_service_free(weft_client_service *s)
{
    if (!s)
        return;
    if (s->running)
        weft_deferred_unref(weft_client_service_stop(s));
    weft_wrapping_factory_free(s->wf);
    weft_endpoint_free(s->endpoint);
    weft__waitq_drop_all(&s->waiters);
    weft_free(s);
}
