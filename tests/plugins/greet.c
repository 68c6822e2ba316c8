/* SPDX-License-Identifier: MIT */
/* A test plugin: `weft greet --listen ENDPOINT` says a line to every
 * client and closes. Built against weft's headers and shared library, as a
 * user's plugin is. */
#include <stdlib.h>
#include <string.h>

#include "weft/weft.h"

static void greet_made(weft_protocol *p)
{
    static const char line[] = "hello from a plugin\n";
    weft_transport_write(p->transport, line, sizeof line - 1);
    weft_transport_lose_connection(p->transport);
}

static void greet_destroy(weft_protocol *p)
{
    free(p);
}

static const weft_protocol_ops greet_ops = {.connection_made = greet_made, .destroy = greet_destroy};

static weft_protocol *greet_build(weft_factory *f, const weft_address *peer)
{
    (void)f;
    (void)peer;
    weft_protocol *p = calloc(1, sizeof *p);
    if (p)
        p->ops = &greet_ops;
    return p;
}

static const weft_factory_ops factory_ops = {.build = greet_build};
static weft_factory factory = {.ops = &factory_ops};

static const weft_option options[] = {
    {"listen", 'l', "ENDPOINT", "where to listen (repeatable)"},
    {0},
};

static int build(weft_runner *rn, weft_service *top, const weft_args *args)
{
    size_t n;
    const char *const *listen = weft_args_all(args, "listen", &n);
    for (size_t i = 0; i < n; i++) {
        weft_failure *why = NULL;
        weft_service *s = weft_server_service_new(weft_runner_reactor(rn), listen[i], listen[i], &factory, &why);
        if (!s) {
            weft_failure_unref(why);
            return 2;
        }
        if (weft_service_add(top, s) < 0)
            return 1;
    }
    return 0;
}

static const weft_command greet = {.name = "greet", .summary = "says hello and closes", .options = options, .build = build};

static int init(weft_plugin *p)
{
    return weft_plugin_add_command(p, &greet);
}

WEFT_PLUGIN_DEFINE("greet", "1.0", init, NULL);
