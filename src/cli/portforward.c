/* SPDX-License-Identifier: MIT */
/* `weft portforward`: forwards every connection to another endpoint. */
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

static int forward(weft_cli_args *a)
{
    weft_reactor *r;
    if (weft_cli_reactor_new(a->grace, &r) < 0)
        return WEFT_CLI_FAILED;
    weft_failure *why = NULL;
    weft_endpoint *target;
    int status = WEFT_CLI_USAGE;
    if (weft_endpoint_client(r, a->connect, &target, &why) < 0) {
        fprintf(stderr, "weft portforward: %s\n", why ? weft_failure_message(why) : "out of memory");
        weft_failure_unref(why);
    } else {
        weft_portforward *pf = weft_portforward_new(r, target);
        if (pf) {
            status = weft_cli_serve(r, "weft portforward", a->listen, a->nlisten, weft_portforward_factory(pf), a->grace);
            weft_portforward_free(pf);
        } else {
            weft_endpoint_free(target);
            status = WEFT_CLI_FAILED;
        }
    }
    weft_reactor_free(r);
    return status;
}

static int portforward_main(int argc, char **argv)
{
    weft_cli_args a;
    int status;
    if (weft_cli_parse(argc, argv, "portforward", true, usage, &a, &status) == 0) {
        if (a.nlisten == 0 || !a.connect) {
            fprintf(stderr, "weft portforward: --listen and --connect are both required\n");
            usage(stderr);
            status = WEFT_CLI_USAGE;
        } else {
            status = forward(&a);
        }
    }
    weft_cli_args_free(&a);
    return status;
}

const weft_cli_plugin weft_cli_portforward = {"portforward", "forward connections to another endpoint",
                                              portforward_main};
