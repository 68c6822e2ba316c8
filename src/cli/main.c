/* SPDX-License-Identifier: MIT */
/* The weft command: `weft SUBCOMMAND [OPTIONS]`, like twist. Subcommands are
 * plugins; these are the built-in ones. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const weft_cli_plugin *const plugins[] = {&weft_cli_echo, &weft_cli_portforward, &weft_cli_web, &weft_cli_ctl};
enum { NPLUGINS = sizeof plugins / sizeof plugins[0] };

static void usage(FILE *out)
{
    fputs("usage: weft SUBCOMMAND [OPTIONS]   (weft SUBCOMMAND --help for its options)\n"
          "       weft --help-endpoints       every kind of ENDPOINT, its parameters and defaults\n"
          "\nsubcommands:\n",
          out);
    for (size_t i = 0; i < NPLUGINS; i++)
        fprintf(out, "  %-12s %s\n", plugins[i]->name, plugins[i]->summary);
}

/* The library writes the reference from its parser's own table. */
static int help_endpoints(void)
{
    size_t n = weft_endpoint_help(NULL, 0);
    char *text = malloc(n + 1);
    if (!text) {
        fputs("weft: out of memory\n", stderr);
        return WEFT_CLI_FAILED;
    }
    weft_endpoint_help(text, n + 1);
    fputs(text, stdout);
    free(text);
    return fflush(stdout) == 0 ? WEFT_CLI_OK : WEFT_CLI_FAILED;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return WEFT_CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return WEFT_CLI_OK;
    }
    if (strcmp(name, "--help-endpoints") == 0)
        return help_endpoints();
    for (size_t i = 0; i < NPLUGINS; i++)
        if (strcmp(plugins[i]->name, name) == 0)
            return plugins[i]->main(argc - 1, argv + 1);
    fprintf(stderr, "weft: no subcommand '%s'\n", name);
    usage(stderr);
    return WEFT_CLI_USAGE;
}
