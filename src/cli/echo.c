/* SPDX-License-Identifier: MIT */
/* `weft echo`: an echo server on one or more endpoints. */
#include <getopt.h>
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
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"grace", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    char **listen = calloc((size_t)argc + 1, sizeof *listen);
    size_t nlisten = 0;
    double grace = 5;
    int c, status = WEFT_CLI_USAGE;
    if (!listen)
        return WEFT_CLI_FAILED;
    while ((c = getopt_long(argc, argv, "l:g:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen[nlisten++] = optarg;
            break;
        case 'g':
            if (!weft_cli_parse_seconds(optarg, &grace)) {
                fprintf(stderr, "weft echo: --grace wants a number of seconds, not '%s'\n", optarg);
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
    if (optind < argc) {
        fprintf(stderr, "weft echo: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    if (nlisten == 0)
        listen[nlisten++] = "tcp:8000";
    weft_reactor *r;
    if (weft_cli_reactor_new(grace, &r) < 0) {
        status = WEFT_CLI_FAILED;
        goto out;
    }
    weft_factory echo;
    weft_echo_factory_init(&echo);
    status = weft_cli_serve(r, "weft echo", listen, nlisten, &echo, grace);
    weft_reactor_free(r);
out:
    free(listen);
    return status;
}

const weft_cli_plugin weft_cli_echo = {"echo", "an echo server", echo_main};
