/* SPDX-License-Identifier: MIT */
/* `weft echo`: an echo server on one or more endpoints. */
#include <stdlib.h>

#include "cli.h"

static void usage(FILE *out)
{
    fputs("usage: weft echo --listen ENDPOINT [--listen ENDPOINT]... [--grace SECONDS]\n"
          "\n"
          "Echoes every byte back to its sender (RFC 862), half-close aware.\n"
          "\n"
          "  -l, --listen ENDPOINT  where to listen, e.g. tcp:8000, tcp6:8000:interface=::1,\n"
          "                         unix:/run/echo.sock (repeatable; default tcp:8000)\n"
          "  -g, --grace SECONDS    on SIGINT/SIGTERM, how long open connections may take\n"
          "                         to finish before they are closed (default 5)\n"
          "  -h, --help             this text\n",
          out);
}

static int echo_main(int argc, char **argv)
{
    weft_cli_args a;
    int status;
    if (weft_cli_parse(argc, argv, "echo", false, usage, &a, &status) == 0) {
        if (a.nlisten == 0)
            a.listen[a.nlisten++] = "tcp:8000";
        weft_reactor *r;
        status = WEFT_CLI_FAILED;
        if (weft_cli_reactor_new(a.grace, &r) == 0) {
            weft_factory echo;
            weft_echo_factory_init(&echo);
            status = weft_cli_serve(r, "weft echo", a.listen, a.nlisten, &echo, a.grace);
            weft_reactor_free(r);
        }
    }
    weft_cli_args_free(&a);
    return status;
}

const weft_cli_plugin weft_cli_echo = {"echo", "an echo server", echo_main};
