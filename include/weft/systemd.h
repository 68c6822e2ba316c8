/* SPDX-License-Identifier: MIT */
/*
 * Telling systemd how the service is doing (sd_notify(3)), for units with
 * Type=notify and WatchdogSec=. weft runs in the foreground and never
 * daemonises: systemd starts it, and learns from these messages when it is
 * ready, when it is stopping and that its loop still turns.
 *
 *     weft_systemd_notify_ready(r);           // every port listens
 *     weft_systemd_watchdog *wd;
 *     weft_systemd_watchdog_start(r, &wd);    // if the unit has WatchdogSec=
 *     ... weft_reactor_run(r) ...
 *     weft_systemd_notify_stopping(r);        // the graceful stop begins
 *     weft_systemd_watchdog_stop(wd);
 *
 * Outside systemd (NOTIFY_SOCKET unset) every call does nothing and returns
 * 0, so a program calls them unconditionally. The environment is read at
 * each call and left as it is. Listening sockets passed by socket
 * activation are the systemd: endpoint's (endpoint.h, docs/systemd.md).
 */
#ifndef WEFT_SYSTEMD_H
#define WEFT_SYSTEMD_H

#include "base.h"

/*
 * READY=1: start-up is done (every port listens); a Type=notify unit counts
 * as started from now on. STOPPING=1: the service is stopping. STATUS=text:
 * one line shown by `systemctl status` (text is copied; a newline in it is
 * refused with WEFT_EINVAL, as it would start another assignment). Each
 * returns 0 (sent, or not under systemd) or the error sending it (also
 * logged at debug level in namespace weft.systemd).
 */
WEFT_API int weft_systemd_notify_ready(weft_reactor *r);
WEFT_API int weft_systemd_notify_stopping(weft_reactor *r);
WEFT_API int weft_systemd_notify_status(weft_reactor *r, const char *text);

typedef struct weft_systemd_watchdog weft_systemd_watchdog;

/*
 * When the unit asks for a watchdog (WATCHDOG_USEC set for this process:
 * sd_watchdog_enabled), sends WATCHDOG=1 now and then every half interval
 * from a timer of r, so that a loop that stops turning stops pinging and
 * systemd acts on it (WatchdogSec=, Restart=on-watchdog). Stores the
 * watchdog in *out (the caller's: weft_systemd_watchdog_stop it before
 * freeing r), or NULL when there is none to ping: not asked, or NOTIFY_SOCKET
 * unset. Returns 0, WEFT_ENOMEM, or WEFT_EINVAL when WATCHDOG_USEC is not a
 * number. A ping that cannot be sent is logged (warning, weft.systemd) and
 * the next one tried on time.
 */
WEFT_API WEFT_NODISCARD int weft_systemd_watchdog_start(weft_reactor *r, weft_systemd_watchdog **out);

/* The seconds between two pings: half of WATCHDOG_USEC. */
WEFT_API double weft_systemd_watchdog_interval(const weft_systemd_watchdog *w);

/* Stops pinging and frees w (NULL does nothing). */
WEFT_API void weft_systemd_watchdog_stop(weft_systemd_watchdog *w);

#endif
