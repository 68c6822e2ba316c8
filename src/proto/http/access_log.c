/* SPDX-License-Identifier: MIT */
/* The access log: one event per response, in the combined log format. */
#include <stdio.h>
#include <time.h>

#include "http_int.h"

/* Appends s to out (size bytes, NUL-terminated) escaped as nginx escapes
 * its log fields: '"', '\' and bytes outside printable ASCII become \xHH,
 * so that no field can end early and forge the ones after it, or a line.
 * Stops short rather than splitting an escape. */
static void escape(char *out, size_t size, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool plain = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
        size_t need = plain ? 1 : 4;
        if (n + need >= size)
            break;
        if (plain) {
            out[n++] = (char)ch;
        } else {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = '\0';
}

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
    char line[1024] = "", version[16], referer[1024] = "-", agent[1024] = "-";
    escape(line, sizeof line - sizeof version, weft_http_request_method(req));
    escape(line, sizeof line - sizeof version, " ");
    escape(line, sizeof line - sizeof version, weft_http_request_target(req));
    snprintf(version, sizeof version, " HTTP/%d.%d", req->version / 10 % 10, req->version % 10);
    strcat(line, version);
    const char *v = weft_http_request_header(req, "referer");
    if (v) {
        referer[0] = '\0';
        escape(referer, sizeof referer, v);
    }
    if ((v = weft_http_request_header(req, "user-agent"))) {
        agent[0] = '\0';
        escape(agent, sizeof agent, v);
    }
    weft_log(lg, WEFT_LOG_INFO, "weft.http.access",
             "{host} {ident} {user} [{time}] \"{request}\" {status} {bytes} \"{referer}\" \"{agent}\"",
             WEFT_LOG_STR("host", host), WEFT_LOG_STR("ident", "-"), WEFT_LOG_STR("user", "-"),
             WEFT_LOG_STR("time", when), WEFT_LOG_STR("request", line), WEFT_LOG_INT("status", req->status),
             WEFT_LOG_UINT("bytes", req->resp_sent), WEFT_LOG_STR("referer", referer),
             WEFT_LOG_STR("agent", agent));
}
