/* SPDX-License-Identifier: MIT */
/*
 * What every serving subcommand shares: listening on endpoint strings,
 * announcing the addresses, and the graceful shutdown - stop accepting, give
 * open connections `grace` seconds, then close the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

typedef struct server {
    weft_reactor *r;
    const char *prog;
    weft_wrapping_factory *wf;
    weft_port **ports;
    size_t nports;
    double grace;
    weft_cli_serve_extra x;
    /* The "listening on" lines, said once the reactor runs: by then SIGINT
     * and SIGTERM stop it gracefully, so a client that reads them may
     * signal at once. */
    char said[4096];
    size_t nsaid;
} server;

static weft_deferred *announce(void *arg)
{
    server *s = arg;
    fwrite(s->said, 1, s->nsaid, stderr);
    fflush(stderr);
    return NULL;
}

static weft_result close_the_rest(void *arg, weft_result result)
{
    server *s = arg;
    if (weft_failure_check(weft_result_failure(result), WEFT_ETIMEDOUT)) {
        fprintf(stderr, "%s: grace period over, closing %zu connection(s)\n", s->prog, weft_wrapping_factory_count(s->wf));
        weft_wrapping_factory_close_all(s->wf, true);
        weft_result_free(result);
        return weft_none();
    }
    return result;
}

static weft_deferred *shutdown_gracefully(void *arg)
{
    server *s = arg;
    for (size_t i = 0; i < s->nports; i++)
        weft_deferred_unref(weft_port_stop(s->ports[i]));
    s->nports = 0;
    if (s->x.quiesce)
        s->x.quiesce(s->x.quiesce_arg);
    size_t open = weft_wrapping_factory_count(s->wf);
    if (open == 0)
        return NULL;
    fprintf(stderr, "%s: stopped accepting; waiting up to %gs for %zu connection(s)\n", s->prog, s->grace, open);
    weft_deferred *d = weft_wrapping_factory_drained(s->wf);
    if (!d || weft_deferred_add_timeout(d, s->grace) < 0 || weft_deferred_add_errback(d, close_the_rest, s) < 0) {
        weft_wrapping_factory_close_all(s->wf, true);
        return d;
    }
    return d;
}

/* "PROG: what went wrong: its cause...", for people (no source places). */
static void print_failure(const char *prog, const weft_failure *f)
{
    size_t n = f ? weft_failure_describe(f, NULL, 0) : 0;
    char *text = n ? malloc(n + 1) : NULL;
    if (text)
        weft_failure_describe(f, text, n + 1);
    fprintf(stderr, "%s: %s\n", prog, text ? text : f ? weft_failure_message(f) : "out of memory");
    free(text);
}

static int listen_one(server *s, const char *desc)
{
    weft_failure *why = NULL;
    weft_endpoint *e;
    if (weft_endpoint_server(s->r, desc, &e, &why) < 0) {
        print_failure(s->prog, why);
        weft_failure_unref(why);
        return WEFT_CLI_USAGE;
    }
    if (s->x.nalpn && weft_endpoint_set_alpn(e, s->x.alpn, s->x.nalpn) < 0) {
        fprintf(stderr, "%s: bad ALPN protocol list\n", s->prog);
        weft_endpoint_free(e);
        return WEFT_CLI_FAILED;
    }
    weft_deferred *d = weft_endpoint_listen(e, weft_wrapping_factory_base(s->wf));
    weft_endpoint_free(e);
    weft_result res;
    if (!d || weft_reactor_run_until(s->r, d, 30) < 0 || weft_deferred_take(d, &res) < 0) {
        fprintf(stderr, "%s: cannot listen on %s\n", s->prog, desc);
        weft_deferred_unref(d);
        return WEFT_CLI_FAILED;
    }
    weft_deferred_unref(d);
    if (weft_failed(res)) {
        /* "cannot listen on ADDRESS: the cause" (a file that cannot be
         * loaded, the system's error). */
        print_failure(s->prog, weft_result_failure(res));
        weft_result_free(res);
        return WEFT_CLI_FAILED;
    }
    weft_port *port = res.value;
    s->ports[s->nports++] = port;
    weft_address a;
    char text[256];
    weft_port_address(port, &a);
    weft_address_format(&a, text, sizeof text);
    int n = snprintf(s->said + s->nsaid, sizeof s->said - s->nsaid, "%s: listening on %s (%s)\n", s->prog, desc, text);
    if (n > 0)
        s->nsaid = s->nsaid + (size_t)n < sizeof s->said ? s->nsaid + (size_t)n : sizeof s->said - 1;
    return WEFT_CLI_OK;
}

int weft_cli_serve(weft_reactor *r, const char *prog, char *const *listen, size_t nlisten, weft_factory *inner,
                   double grace)
{
    return weft_cli_serve_with(r, prog, listen, nlisten, inner, grace, NULL);
}

int weft_cli_serve_with(weft_reactor *r, const char *prog, char *const *listen, size_t nlisten, weft_factory *inner,
                        double grace, const weft_cli_serve_extra *extra)
{
    server s = {.r = r, .prog = prog, .grace = grace};
    if (extra)
        s.x = *extra;
    s.wf = weft_wrapping_factory_new(r, inner);
    s.ports = calloc(nlisten, sizeof *s.ports);
    int status = WEFT_CLI_FAILED;
    if (!s.wf || !s.ports)
        goto out;
    for (size_t i = 0; i < nlisten; i++)
        if ((status = listen_one(&s, listen[i])) != WEFT_CLI_OK)
            goto out;
    if (weft_reactor_add_trigger(r, WEFT_PHASE_BEFORE, WEFT_EVENT_SHUTDOWN, shutdown_gracefully, &s, NULL) < 0 ||
        weft_reactor_add_trigger(r, WEFT_PHASE_AFTER, WEFT_EVENT_STARTUP, announce, &s, NULL) < 0) {
        status = WEFT_CLI_FAILED;
        goto out;
    }
    int err = weft_reactor_run(r);
    status = err < 0 ? WEFT_CLI_FAILED : WEFT_CLI_OK;
    if (err < 0)
        fprintf(stderr, "%s: %s\n", prog, weft_strerror(err));
out:
    for (size_t i = 0; i < s.nports; i++)
        weft_deferred_unref(weft_port_stop(s.ports[i]));
    free(s.ports);
    weft_wrapping_factory_free(s.wf);
    return status;
}

int weft_cli_parse(int argc, char **argv, const char *name, bool with_connect, void (*usage)(FILE *out),
                   weft_cli_args *args, int *status)
{
    return weft_cli_parse_extra(argc, argv, name, with_connect, usage, NULL, args, status);
}

int weft_cli_parse_extra(int argc, char **argv, const char *name, bool with_connect, void (*usage)(FILE *out),
                         const weft_cli_extra *extra, weft_cli_args *args, int *status)
{
    static const struct option shared[] = {
        {"listen", required_argument, NULL, 'l'},
        {"connect", required_argument, NULL, 'c'},
        {"grace", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
    };
    enum { NSHARED = sizeof shared / sizeof shared[0], MAX_EXTRA = 16 };
    struct option opts[NSHARED + MAX_EXTRA + 1] = {{0}};
    char letters[2 * (NSHARED + MAX_EXTRA) + 1];
    size_t n = 0;
    for (size_t i = 0; i < NSHARED; i++)
        if (with_connect || shared[i].val != 'c')
            opts[n++] = shared[i];
    snprintf(letters, sizeof letters, "%s%s", with_connect ? "l:c:g:h" : "l:g:h", extra ? extra->letters : "");
    for (size_t i = 0; extra && extra->opts[i].name && i < MAX_EXTRA; i++)
        opts[n++] = extra->opts[i];
    *args = (weft_cli_args){.listen = calloc((size_t)argc + 1, sizeof *args->listen), .grace = 5};
    *status = WEFT_CLI_USAGE;
    if (!args->listen) {
        *status = WEFT_CLI_FAILED;
        return -1;
    }
    int c;
    while ((c = getopt_long(argc, argv, letters, opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            args->listen[args->nlisten++] = optarg;
            break;
        case 'c':
            args->connect = optarg;
            break;
        case 'g':
            if (!weft_cli_parse_seconds(optarg, &args->grace)) {
                fprintf(stderr, "weft %s: --grace wants a number of seconds, not '%s'\n", name, optarg);
                return -1;
            }
            break;
        case 'h':
            usage(stdout);
            *status = WEFT_CLI_OK;
            return -1;
        case '?':
        case ':':
            goto bad;
        default:
            if (!extra || !extra->handle(extra->ctx, c, optarg))
                goto bad;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft %s: unexpected argument '%s'\n", name, argv[optind]);
        goto bad;
    }
    return 0;
bad:
    usage(stderr);
    return -1;
}

void weft_cli_args_free(weft_cli_args *args)
{
    free(args->listen);
}

int weft_cli_reactor_new(double grace, weft_reactor **out)
{
    weft_reactor_options o = {.shutdown_timeout = grace + 5};
    return weft_reactor_new(&o, out);
}

bool weft_cli_parse_seconds(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= 0))
        return false;
    *out = v;
    return true;
}
