/* SPDX-License-Identifier: MIT */
/* `weft web`: static files and reverse proxies over HTTP/1.1, after
 * `twist web`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const weft_option options[] = {
    {"listen", 'l', "ENDPOINT",
     "where to listen (repeatable; default tcp:8080), e.g. tcp:8080:interface=127.0.0.1, "
     "tls:8443:privateKey=key.pem:certKey=cert.pem"},
    {"path", 'p', "DIR", "the directory to serve"},
    {"index", 'i', "NAME", "the file answering for a directory (repeatable; default index.html)"},
    {"mime-type", 'm', "TYPE", "Content-Type for unknown extensions (default application/octet-stream)"},
    {"add-header", 'a', "HEADER", "a header added to every response, 'Name: value' (repeatable)"},
    {"proxy", 'x', "PREFIX=ENDPOINT|URL",
     "forwards requests under PREFIX (repeatable), e.g. /api=tcp:host=127.0.0.1:port=9000 (/api/x goes as /x), or "
     "/pub=http://127.0.0.1:9000/public (/pub/x goes as /public/x); a path climbing above PREFIX with '..' gets 400"},
    {"proxy-connections", 0, "N",
     "connections open to each upstream at once (default 256); further requests wait for one"},
    {"proxy-queue-timeout", 0, "SECONDS",
     "how long a request may wait for a connection before it gets 503 (default 5; 0: no limit)"},
    {"proxy-read-timeout", 0, "SECONDS",
     "how long the upstream may take to send the response's headers, and between body bytes, before the client "
     "gets 504 (default 60, as nginx's proxy_read_timeout; 0: no limit)"},
    {"access-log", 'A', "FILE", "a line per request in the combined log format; - for standard output (default: none)"},
    {0},
};

enum { MAX_REPEAT = 32 };

typedef struct web_args {
    const char *path, *mime_type, *access_log;
    const char *const *index, *const *headers, *const *proxies;
    size_t nindex, nheaders, nproxies;
    weft_http_agent_options proxy; /* the proxies' agent */
} web_args;

static bool at_most(size_t n, const char *what)
{
    if (n <= MAX_REPEAT)
        return true;
    fprintf(stderr, "weft web: at most %d %s\n", MAX_REPEAT, what);
    return false;
}

/* Reads and checks the options; false having said why. */
static bool web_options(const weft_args *args, web_args *w)
{
    w->path = weft_args_get(args, "path", NULL);
    w->mime_type = weft_args_get(args, "mime-type", NULL);
    w->access_log = weft_args_get(args, "access-log", NULL);
    w->index = weft_args_all(args, "index", &w->nindex);
    w->headers = weft_args_all(args, "add-header", &w->nheaders);
    w->proxies = weft_args_all(args, "proxy", &w->nproxies);
    if (!at_most(w->nindex, "--index") || !at_most(w->nheaders, "--add-header") || !at_most(w->nproxies, "--proxy"))
        return false;
    for (size_t i = 0; i < w->nheaders; i++)
        if (!strchr(w->headers[i], ':')) {
            fprintf(stderr, "weft web: --add-header wants 'Name: value', not '%s'\n", w->headers[i]);
            return false;
        }
    for (size_t i = 0; i < w->nproxies; i++)
        if (w->proxies[i][0] != '/' || !strchr(w->proxies[i], '=')) {
            fprintf(stderr, "weft web: --proxy wants PREFIX=ENDPOINT with PREFIX starting with '/', not '%s'\n",
                    w->proxies[i]);
            return false;
        }
    const char *value = weft_args_get(args, "proxy-connections", NULL);
    if (value) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-' || n == 0 || n > 65536) {
            fprintf(stderr, "weft web: --proxy-connections wants a number from 1 to 65536, not '%s'\n", value);
            return false;
        }
        w->proxy.max_per_host = (unsigned)n;
    }
    static const char *const timeouts[] = {"proxy-queue-timeout", "proxy-read-timeout"};
    double *to[] = {&w->proxy.queue_timeout, &w->proxy.response_timeout};
    for (size_t i = 0; i < 2; i++)
        if ((value = weft_args_get(args, timeouts[i], NULL)) && !weft_cli_parse_seconds(value, to[i])) {
            fprintf(stderr, "weft web: --%s wants a number of seconds, not '%s'\n", timeouts[i], value);
            return false;
        }
    return true;
}

/* Access log lines: the server's events, rendered, one per line. */
static void access_line(void *file, const weft_log_event *event)
{
    char line[4096];
    size_t n = weft_log_format(event, line, sizeof line);
    if (n >= sizeof line)
        n = sizeof line - 1;
    line[n] = '\n';
    fwrite(line, 1, n + 1, file);
}

typedef struct web {
    weft_reactor *r;
    weft_http_resource *root;
    weft_http_agent *agent;
    weft_logger *access;
    FILE *access_file;
    weft_http_server *server;
} web;

/* The proxy to what a --proxy value names after its '=': a URL or an
 * endpoint string. 0, WEFT_EINVAL (said why) or WEFT_ENOMEM. */
static int make_proxy(web *w, const char *spec, const char *to, weft_http_resource **out)
{
    if (strstr(to, "://")) {
        int rc = weft_http_proxy_new_url(w->agent, to, out);
        if (rc == WEFT_EINVAL)
            fprintf(stderr, "weft web: --proxy %s: not an http:// or https:// URL without a query\n", spec);
        return rc;
    }
    weft_endpoint *check;
    weft_failure *why = NULL;
    if (weft_endpoint_client(w->r, to, &check, &why) < 0) {
        if (!why)
            return WEFT_ENOMEM;
        fprintf(stderr, "weft web: --proxy %s: %s\n", spec, weft_failure_message(why));
        weft_failure_unref(why);
        return WEFT_EINVAL;
    }
    weft_endpoint_free(check);
    *out = weft_http_proxy_new(w->agent, to, NULL);
    return *out ? 0 : WEFT_ENOMEM;
}

static int mount_proxy(web *w, const char *spec)
{
    const char *eq = strchr(spec, '=');
    char *prefix = strndup(spec, (size_t)(eq - spec));
    weft_http_resource *proxy = NULL;
    int rc = prefix ? make_proxy(w, spec, eq + 1, &proxy) : WEFT_ENOMEM;
    if (rc == 0 && (rc = weft_http_resource_mount(w->root, prefix, proxy)) < 0 && rc != WEFT_ENOMEM)
        fprintf(stderr, "weft web: --proxy %s: cannot mount at '%s'\n", spec, prefix);
    free(prefix);
    return rc == 0 ? WEFT_CLI_OK : rc == WEFT_ENOMEM ? WEFT_CLI_FAILED : WEFT_CLI_USAGE;
}

static int add_header(web *w, const char *spec)
{
    const char *colon = strchr(spec, ':');
    char *name = strndup(spec, (size_t)(colon - spec));
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    int rc = name ? weft_http_server_add_header(w->server, name, value) : WEFT_ENOMEM;
    if (rc == WEFT_EINVAL)
        fprintf(stderr, "weft web: --add-header '%s' is not a valid header\n", spec);
    free(name);
    return rc == 0 ? WEFT_CLI_OK : rc == WEFT_EINVAL ? WEFT_CLI_USAGE : WEFT_CLI_FAILED;
}

static int open_access_log(web *w, const char *where)
{
    if (strcmp(where, "-") == 0) {
        w->access_file = stdout;
    } else if (!(w->access_file = fopen(where, "a"))) {
        fprintf(stderr, "weft web: cannot open the access log %s: %s\n", where, strerror(errno));
        return WEFT_CLI_FAILED;
    }
    /* A line at a time, so `tail -f` and tests see each request at once. */
    setvbuf(w->access_file, NULL, _IOLBF, 0);
    w->access = weft_logger_new();
    if (!w->access)
        return WEFT_CLI_FAILED;
    weft_logger_remove_observer(w->access, weft_log_text_observer, stderr);
    if (weft_logger_add_observer(w->access, access_line, w->access_file, WEFT_LOG_INFO, "weft.http.access") < 0)
        return WEFT_CLI_FAILED;
    return WEFT_CLI_OK;
}

static int build_root(web *w, const web_args *a)
{
    if (a->path) {
        weft_http_static_options so = {.index_names = a->nindex ? a->index : NULL,
                                       .nindex = a->nindex,
                                       .default_type = a->mime_type};
        weft_failure *why = NULL;
        if (weft_http_static_new(a->path, &so, &w->root, &why) < 0) {
            fprintf(stderr, "weft web: --path %s: %s\n", a->path, why ? weft_failure_message(why) : "out of memory");
            weft_failure_unref(why);
            return WEFT_CLI_USAGE;
        }
    } else if (!(w->root = weft_http_resource_new())) {
        return WEFT_CLI_FAILED;
    }
    for (size_t i = 0; i < a->nproxies; i++) {
        int status = mount_proxy(w, a->proxies[i]);
        if (status != WEFT_CLI_OK)
            return status;
    }
    return WEFT_CLI_OK;
}

/* Stopping begins, once the ports have stopped (the server services
 * below quiesce first): idle keep-alive connections close at once rather
 * than holding the grace period. */
static void web_quiesce(weft_service *s, void *arg)
{
    (void)s;
    web *w = arg;
    weft_http_server_quiesce(w->server);
}

/* After the server services below it, so after their connections. */
static void web_free(void *arg)
{
    web *w = arg;
    weft_http_server_free(w->server);
    weft_http_resource_free(w->root);
    weft_http_agent_free(w->agent);
    weft_logger_free(w->access);
    if (w->access_file && w->access_file != stdout)
        fclose(w->access_file);
    free(w);
}

static const weft_service_ops web_ops = {.quiesce = web_quiesce, .destroy = web_free};

static int build(weft_runner *rn, weft_service *top, const weft_args *args)
{
    /* A proxy's pool, not a client's: many connections to one upstream
     * (the agent's 4 would let four slow requests hold up every other),
     * enough of them kept idle for a steady load not to reconnect, and no
     * request waiting on an upstream or for a connection without end. */
    web_args a = {.proxy = {.max_per_host = 256, .max_idle = 32, .queue_timeout = 5, .response_timeout = 60}};
    if (!web_options(args, &a))
        return WEFT_CLI_USAGE;
    if (!a.path && a.nproxies == 0) {
        fprintf(stderr, "weft web: nothing to serve: give --path DIR or --proxy PREFIX=ENDPOINT (weft web --help)\n");
        return WEFT_CLI_USAGE;
    }
    web *w = calloc(1, sizeof *w);
    if (!w)
        return WEFT_CLI_FAILED;
    w->r = weft_runner_reactor(rn);
    weft_service *s = weft_service_new(w->r, "web", &web_ops, w);
    if (weft_service_add(top, s) < 0)
        return WEFT_CLI_FAILED;
    int status;
    if (a.nproxies && !(w->agent = weft_http_agent_new(w->r, &a.proxy)))
        return WEFT_CLI_FAILED;
    if ((status = build_root(w, &a)) != WEFT_CLI_OK)
        return status;
    if (a.access_log && (status = open_access_log(w, a.access_log)) != WEFT_CLI_OK)
        return status;
    weft_http_server_options so = {.access_log = w->access};
    w->server = weft_http_server_new(w->r, w->root, &so);
    w->root = NULL; /* the server's, even when that failed */
    if (!w->server)
        return WEFT_CLI_FAILED;
    for (size_t i = 0; i < a.nheaders; i++)
        if ((status = add_header(w, a.headers[i])) != WEFT_CLI_OK)
            return status;
    static const char *const alpn[] = {"http/1.1"};
    return weft_cli_listen(s, args, "weft web", "tcp:8080", weft_http_server_factory(w->server), alpn, 1);
}

const weft_command weft_cli_web = {
    .name = "web",
    .summary = "an HTTP server: static files and reverse proxies",
    .description = "Serves the files under DIR, and forwards requests under each PREFIX to a server.",
    .options = options,
    .build = build};
