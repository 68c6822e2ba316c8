/* SPDX-License-Identifier: MIT */
/* `weft portforward`: forwards every connection to another endpoint. */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"

static void usage(FILE *out)
{
    fputs("usage: weft portforward --listen ENDPOINT [--listen ENDPOINT]... --connect ENDPOINT\n"
          "                        [--grace SECONDS]\n"
          "\n"
          "Forwards each connection made to a listening endpoint to the connect endpoint,\n"
          "both ways, with backpressure: a slow side slows the other down.\n"
          "\n"
          "  -l, --listen ENDPOINT   where to listen (repeatable), e.g. tcp:8080\n"
          "  -c, --connect ENDPOINT  where to forward, e.g. tcp:host=127.0.0.1:port=80,\n"
          "                          unix:path=/run/app.sock\n"
          "  -g, --grace SECONDS     on SIGINT/SIGTERM, how long open connections may take\n"
          "                          to finish before they are closed (default 5)\n"
          "  -h, --help              this text\n",
          out);
}

static int portforward_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"connect", required_argument, NULL, 'c'},
        {"grace", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    char **listen = calloc((size_t)argc + 1, sizeof *listen);
    size_t nlisten = 0;
    const char *connect = NULL;
    double grace = 5;
    int c, status = WEFT_CLI_USAGE;
    if (!listen)
        return WEFT_CLI_FAILED;
    while ((c = getopt_long(argc, argv, "l:c:g:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen[nlisten++] = optarg;
            break;
        case 'c':
            connect = optarg;
            break;
        case 'g':
            if (!weft_cli_parse_seconds(optarg, &grace)) {
                fprintf(stderr, "weft portforward: --grace wants a number of seconds, not '%s'\n", optarg);
                goto out;
            }
            break;
        case 'h':
            usage(stdout);
            status = WEFT_CLI_OK;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind < argc || nlisten == 0 || !connect) {
        fprintf(stderr, "weft portforward: %s\n",
                optind < argc ? "unexpected argument" : "--listen and --connect are both required");
        usage(stderr);
        goto out;
    }
    weft_reactor *r;
    if (weft_cli_reactor_new(grace, &r) < 0) {
        status = WEFT_CLI_FAILED;
        goto out;
    }
    weft_failure *why = NULL;
    weft_endpoint *target;
    if (weft_endpoint_client(r, connect, &target, &why) < 0) {
        fprintf(stderr, "weft portforward: %s\n", why ? weft_failure_message(why) : "out of memory");
        weft_failure_unref(why);
        weft_reactor_free(r);
        goto out;
    }
    weft_portforward *pf = weft_portforward_new(r, target);
    if (!pf) {
        weft_endpoint_free(target);
        weft_reactor_free(r);
        status = WEFT_CLI_FAILED;
        goto out;
    }
    status = weft_cli_serve(r, "weft portforward", listen, nlisten, weft_portforward_factory(pf), grace);
    weft_portforward_free(pf);
    weft_reactor_free(r);
out:
    free(listen);
    return status;
}

const weft_cli_plugin weft_cli_portforward = {"portforward", "forward connections to another endpoint",
                                              portforward_main};
