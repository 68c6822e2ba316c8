/* SPDX-License-Identifier: MIT */
/* `weft web`: static files and reverse proxies over HTTP/1.1, after
 * `twist web`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *out)
{
    fputs("usage: weft web [--listen ENDPOINT]... [--path DIR] [--index NAME]... [--mime-type TYPE]\n"
          "                [--add-header 'Name: value']... [--proxy PREFIX=ENDPOINT|URL]...\n"
          "                [--proxy-connections N] [--proxy-queue-timeout SECONDS]\n"
          "                [--proxy-read-timeout SECONDS] [--access-log FILE|-] [--grace SECONDS]\n"
          "\n"
          "Serves the files under DIR, and forwards requests under each PREFIX to a server.\n"
          "\n"
          "  -l, --listen ENDPOINT     where to listen (repeatable; default tcp:8080), e.g.\n"
          "                            tcp:8080:interface=127.0.0.1, tls:8443:privateKey=key.pem:certKey=cert.pem\n"
          "  -p, --path DIR            the directory to serve\n"
          "  -i, --index NAME          the file answering for a directory (repeatable;\n"
          "                            default index.html)\n"
          "  -m, --mime-type TYPE      Content-Type for unknown extensions\n"
          "                            (default application/octet-stream)\n"
          "  -a, --add-header HEADER   a header added to every response, 'Name: value'\n"
          "                            (repeatable)\n"
          "  -x, --proxy PREFIX=ENDPOINT|URL\n"
          "                            forwards requests under PREFIX (repeatable), e.g.\n"
          "                            /api=tcp:host=127.0.0.1:port=9000 (/api/x goes as /x), or\n"
          "                            /pub=http://127.0.0.1:9000/public (/pub/x goes as /public/x);\n"
          "                            a path climbing above PREFIX with '..' gets 400\n"
          "      --proxy-connections N connections open to each upstream at once (default 256);\n"
          "                            further requests wait for one\n"
          "      --proxy-queue-timeout SECONDS\n"
          "                            how long a request may wait for a connection before\n"
          "                            it gets 503 (default 5; 0: no limit)\n"
          "      --proxy-read-timeout SECONDS\n"
          "                            how long the upstream may take to send the response's\n"
          "                            headers, and between body bytes, before the client\n"
          "                            gets 504 (default 60, as nginx's proxy_read_timeout;\n"
          "                            0: no limit)\n"
          "  -A, --access-log FILE     a line per request in the combined log format;\n"
          "                            - for standard output (default: none)\n"
          "  -g, --grace SECONDS       on SIGINT/SIGTERM, how long open connections may take\n"
          "                            to finish before they are closed (default 5)\n"
          "  -h, --help                this text\n",
          out);
}

enum { MAX_REPEAT = 32 };

/* Long options without a letter. */
enum { OPT_PROXY_CONNECTIONS = 256, OPT_PROXY_QUEUE_TIMEOUT, OPT_PROXY_READ_TIMEOUT };

typedef struct web_args {
    const char *path, *mime_type, *access_log;
    const char *index[MAX_REPEAT];
    size_t nindex;
    const char *headers[MAX_REPEAT];
    size_t nheaders;
    const char *proxies[MAX_REPEAT];
    size_t nproxies;
    weft_http_agent_options proxy; /* the proxies' agent */
} web_args;

static bool add_repeat(const char **list, size_t *n, const char *what, const char *value)
{
    if (*n == MAX_REPEAT) {
        fprintf(stderr, "weft web: at most %d %s\n", MAX_REPEAT, what);
        return false;
    }
    list[(*n)++] = value;
    return true;
}

static bool web_option(void *ctx, int letter, const char *value)
{
    web_args *w = ctx;
    switch (letter) {
    case 'p':
        w->path = value;
        return true;
    case 'm':
        w->mime_type = value;
        return true;
    case 'A':
        w->access_log = value;
        return true;
    case 'i':
        return add_repeat(w->index, &w->nindex, "--index", value);
    case 'a':
        if (!strchr(value, ':')) {
            fprintf(stderr, "weft web: --add-header wants 'Name: value', not '%s'\n", value);
            return false;
        }
        return add_repeat(w->headers, &w->nheaders, "--add-header", value);
    case 'x':
        if (value[0] != '/' || !strchr(value, '=')) {
            fprintf(stderr, "weft web: --proxy wants PREFIX=ENDPOINT with PREFIX starting with '/', not '%s'\n",
                    value);
            return false;
        }
        return add_repeat(w->proxies, &w->nproxies, "--proxy", value);
    case OPT_PROXY_CONNECTIONS: {
        char *end;
        errno = 0;
        unsigned long n = strtoul(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-' || n == 0 || n > 65536) {
            fprintf(stderr, "weft web: --proxy-connections wants a number from 1 to 65536, not '%s'\n", value);
            return false;
        }
        w->proxy.max_per_host = (unsigned)n;
        return true;
    }
    case OPT_PROXY_QUEUE_TIMEOUT:
    case OPT_PROXY_READ_TIMEOUT: {
        double *to = letter == OPT_PROXY_QUEUE_TIMEOUT ? &w->proxy.queue_timeout : &w->proxy.response_timeout;
        if (!weft_cli_parse_seconds(value, to)) {
            fprintf(stderr, "weft web: %s wants a number of seconds, not '%s'\n",
                    letter == OPT_PROXY_QUEUE_TIMEOUT ? "--proxy-queue-timeout" : "--proxy-read-timeout", value);
            return false;
        }
        return true;
    }
    }
    return false;
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

/* On SIGTERM, once the ports have stopped: idle keep-alive connections
 * close at once rather than holding the grace period. */
static void quiesce(void *server)
{
    weft_http_server_quiesce(server);
}

static int serve_web(weft_cli_args *args, const web_args *a)
{
    web w = {0};
    if (weft_cli_reactor_new(args->grace, &w.r) < 0)
        return WEFT_CLI_FAILED;
    int status = WEFT_CLI_FAILED;
    if (a->nproxies && !(w.agent = weft_http_agent_new(w.r, &a->proxy)))
        goto out;
    if ((status = build_root(&w, a)) != WEFT_CLI_OK)
        goto out;
    if (a->access_log && (status = open_access_log(&w, a->access_log)) != WEFT_CLI_OK)
        goto out;
    weft_http_server_options so = {.access_log = w.access};
    w.server = weft_http_server_new(w.r, w.root, &so);
    w.root = NULL; /* the server's, even when that failed */
    status = WEFT_CLI_FAILED;
    if (!w.server)
        goto out;
    for (size_t i = 0; i < a->nheaders; i++)
        if ((status = add_header(&w, a->headers[i])) != WEFT_CLI_OK)
            goto out;
    static const char *const alpn[] = {"http/1.1"};
    weft_cli_serve_extra x = {alpn, 1, quiesce, w.server};
    status = weft_cli_serve_with(w.r, "weft web", args->listen, args->nlisten, weft_http_server_factory(w.server),
                                 args->grace, &x);
out:
    weft_http_server_free(w.server);
    weft_http_resource_free(w.root);
    weft_http_agent_free(w.agent);
    weft_logger_free(w.access);
    if (w.access_file && w.access_file != stdout)
        fclose(w.access_file);
    weft_reactor_free(w.r);
    return status;
}

static int web_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"path", required_argument, NULL, 'p'},       {"index", required_argument, NULL, 'i'},
        {"mime-type", required_argument, NULL, 'm'},  {"add-header", required_argument, NULL, 'a'},
        {"proxy", required_argument, NULL, 'x'},      {"access-log", required_argument, NULL, 'A'},
        {"proxy-connections", required_argument, NULL, OPT_PROXY_CONNECTIONS},
        {"proxy-queue-timeout", required_argument, NULL, OPT_PROXY_QUEUE_TIMEOUT},
        {"proxy-read-timeout", required_argument, NULL, OPT_PROXY_READ_TIMEOUT},
        {0},
    };
    /* A proxy's pool, not a client's: many connections to one upstream
     * (the agent's 4 would let four slow requests hold up every other),
     * enough of them kept idle for a steady load not to reconnect, and no
     * request waiting on an upstream or for a connection without end. */
    web_args a = {.proxy = {.max_per_host = 256, .max_idle = 32, .queue_timeout = 5, .response_timeout = 60}};
    weft_cli_extra extra = {opts, "p:i:m:a:x:A:", web_option, &a};
    weft_cli_args args;
    int status;
    if (weft_cli_parse_extra(argc, argv, "web", false, usage, &extra, &args, &status) == 0) {
        if (args.nlisten == 0)
            args.listen[args.nlisten++] = "tcp:8080";
        if (!a.path && a.nproxies == 0) {
            fprintf(stderr, "weft web: nothing to serve: give --path DIR or --proxy PREFIX=ENDPOINT\n");
            usage(stderr);
            status = WEFT_CLI_USAGE;
        } else {
            status = serve_web(&args, &a);
        }
    }
    weft_cli_args_free(&args);
    return status;
}

const weft_cli_plugin weft_cli_web = {"web", "an HTTP server: static files and reverse proxies", web_main};
