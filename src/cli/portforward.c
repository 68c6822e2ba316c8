/* SPDX-License-Identifier: MIT */
/* `weft portforward`: forwards every connection to another endpoint. */
#include "cli.h"

static const weft_option options[] = {
    {"listen", 'l', "ENDPOINT", "where to listen (repeatable), e.g. tcp:8080"},
    {"connect", 'c', "ENDPOINT", "where to forward, e.g. tcp:host=127.0.0.1:port=80, unix:path=/run/app.sock"},
    {0},
};

static void free_forwarder(void *pf)
{
    weft_portforward_free(pf);
}

static int build(weft_runner *rn, weft_service *top, const weft_args *args)
{
    const char *connect = weft_args_get(args, "connect", NULL);
    if (!weft_args_has(args, "listen") || !connect) {
        fprintf(stderr, "weft portforward: --listen and --connect are both required (weft portforward --help)\n");
        return WEFT_CLI_USAGE;
    }
    weft_failure *why = NULL;
    weft_endpoint *target;
    if (weft_endpoint_client(weft_runner_reactor(rn), connect, &target, &why) < 0) {
        fprintf(stderr, "weft portforward: %s\n", why ? weft_failure_message(why) : "out of memory");
        weft_failure_unref(why);
        return WEFT_CLI_USAGE;
    }
    weft_portforward *pf = weft_portforward_new(weft_runner_reactor(rn), target);
    if (!pf) {
        weft_endpoint_free(target);
        return WEFT_CLI_FAILED;
    }
    weft_service *s = weft_cli_holder(rn, "portforward", pf, free_forwarder);
    if (weft_service_add(top, s) < 0)
        return WEFT_CLI_FAILED;
    return weft_cli_listen(s, args, "weft portforward", NULL, weft_portforward_factory(pf), NULL, 0);
}

const weft_command weft_cli_portforward = {
    .name = "portforward",
    .summary = "forward connections to another endpoint",
    .description = "Forwards each connection made to a listening endpoint to the connect endpoint, both ways, with "
                   "backpressure: a slow side slows the other down.",
    .options = options,
    .build = build};
