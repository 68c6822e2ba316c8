/* SPDX-License-Identifier: MIT */
/* The access log: one event per response, in the combined log format. */
#include <stdio.h>
#include <time.h>

#include "http_int.h"

void weft__http_access_log(weft_http_request *req)
{
    weft_logger *lg = req->server->opt.access_log;
    if (!lg || !req->dispatched || !weft_logger_enabled(lg, WEFT_LOG_INFO, "weft.http.access"))
        return;
    char host[64] = "-";
    weft_address peer;
    if (weft_http_request_peer(req, &peer) == 0)
        weft_address_host(&peer, host, sizeof host);
    char when[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    char line[512];
    snprintf(line, sizeof line, "%s %.400s HTTP/%d.%d", weft_http_request_method(req), weft_http_request_target(req),
             req->version / 10, req->version % 10);
    const char *referer = weft_http_request_header(req, "referer");
    const char *agent = weft_http_request_header(req, "user-agent");
    weft_log(lg, WEFT_LOG_INFO, "weft.http.access",
             "{host} {ident} {user} [{time}] \"{request}\" {status} {bytes} \"{referer}\" \"{agent}\"",
             WEFT_LOG_STR("host", host), WEFT_LOG_STR("ident", "-"), WEFT_LOG_STR("user", "-"),
             WEFT_LOG_STR("time", when), WEFT_LOG_STR("request", line), WEFT_LOG_INT("status", req->status),
             WEFT_LOG_UINT("bytes", req->resp_sent), WEFT_LOG_STR("referer", referer ? referer : "-"),
             WEFT_LOG_STR("agent", agent ? agent : "-"));
}
