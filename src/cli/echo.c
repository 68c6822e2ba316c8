/* SPDX-License-Identifier: MIT */
/* `weft echo`: an echo server on one or more endpoints. */
#include <stdlib.h>

#include "cli.h"

static const weft_option options[] = {
    {"listen", 'l', "ENDPOINT",
     "where to listen, e.g. tcp:8000, tcp6:8000:interface=::1, unix:/run/echo.sock (repeatable; default tcp:8000)"},
    {0},
};

static int build(weft_runner *rn, weft_service *top, const weft_args *args)
{
    weft_factory *echo = malloc(sizeof *echo);
    if (!echo)
        return WEFT_CLI_FAILED;
    weft_echo_factory_init(echo);
    weft_service *s = weft_cli_holder(rn, "echo", echo, free);
    if (weft_service_add(top, s) < 0)
        return WEFT_CLI_FAILED;
    return weft_cli_listen(s, args, "weft echo", "tcp:8000", echo, NULL, 0);
}

const weft_command weft_cli_echo = {
    .name = "echo",
    .summary = "an echo server",
    .description = "Echoes every byte back to its sender (RFC 862), half-close aware.",
    .options = options,
    .build = build};
