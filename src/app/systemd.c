/* SPDX-License-Identifier: MIT */
/*
 * sd_notify for the runner: READY=1, STOPPING=1, STATUS= and the watchdog's
 * pings. Here, with the services and the runner, rather than in src/net:
 * these messages describe the process's life, which the runner drives; the
 * network side of systemd (adopting its sockets) is the systemd: endpoint.
 *
 * libsystemd sends each message on a socket of its own, so nothing is kept
 * open between calls, and with NOTIFY_SOCKET unset sd_notify returns 0
 * without doing anything: the calls cost nothing outside systemd.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/looping_call.h"
#include "weft/reactor.h"
#include "weft/systemd.h"

static int notify(weft_reactor *r, const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0)
        weft_log(weft_reactor_logger(r), WEFT_LOG_DEBUG, "weft.systemd", "cannot tell systemd {state}: {error}",
                 WEFT_LOG_STR("state", state), WEFT_LOG_STR("error", weft_strerror(rc)));
    return rc < 0 ? rc : 0;
}

int weft_systemd_notify_ready(weft_reactor *r)
{
    return notify(r, "READY=1");
}

int weft_systemd_notify_stopping(weft_reactor *r)
{
    return notify(r, "STOPPING=1");
}

int weft_systemd_notify_status(weft_reactor *r, const char *text)
{
    if (strchr(text, '\n'))
        return WEFT_EINVAL;
    size_t n = strlen(text);
    char *state = weft_malloc(n + sizeof "STATUS=");
    if (!state)
        return WEFT_ENOMEM;
    memcpy(state, "STATUS=", 7);
    memcpy(state + 7, text, n + 1);
    int rc = notify(r, state);
    weft_free(state);
    return rc;
}

struct weft_systemd_watchdog {
    weft_reactor *r;
    weft_looping_call *loop;
    double interval;
};

static weft_result ping(void *arg, uint64_t count)
{
    (void)count;
    weft_systemd_watchdog *w = arg;
    int rc = sd_notify(0, "WATCHDOG=1");
    if (rc < 0)
        weft_log(weft_reactor_logger(w->r), WEFT_LOG_WARN, "weft.systemd", "cannot ping systemd's watchdog: {error}",
                 WEFT_LOG_STR("error", weft_strerror(rc)));
    return weft_none();
}

int weft_systemd_watchdog_start(weft_reactor *r, weft_systemd_watchdog **out)
{
    *out = NULL;
    uint64_t usec = 0;
    int rc = sd_watchdog_enabled(0, &usec);
    if (rc <= 0 || usec == 0 || !getenv("NOTIFY_SOCKET"))
        return rc < 0 ? rc : 0;
    weft_systemd_watchdog *w = weft_calloc(1, sizeof *w);
    if (!w)
        return WEFT_ENOMEM;
    w->r = r;
    /* Half the interval, as sd_watchdog_enabled(3) advises: a ping a little
     * late still arrives in time. */
    w->interval = (double)usec / 2e6;
    w->loop = weft_looping_call_new(r, ping, w);
    rc = w->loop ? weft_looping_call_start(w->loop, w->interval, true, NULL) : WEFT_ENOMEM;
    if (rc < 0) {
        weft_looping_call_free(w->loop);
        weft_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

double weft_systemd_watchdog_interval(const weft_systemd_watchdog *w)
{
    return w->interval;
}

void weft_systemd_watchdog_stop(weft_systemd_watchdog *w)
{
    if (!w)
        return;
    weft_looping_call_free(w->loop);
    weft_free(w);
}
