/* SPDX-License-Identifier: MIT */
/* The weft command: `weft [RUNNER OPTIONS] COMMAND [OPTIONS]`, like twist.
 * Its commands come from plugins; these, built in, register through a
 * plugin entry of their own, as a plugin's would. */
#include "cli.h"

static int builtin_init(weft_plugin *p)
{
    int err;
    if ((err = weft_plugin_add_command(p, &weft_cli_echo)) < 0 ||
        (err = weft_plugin_add_command(p, &weft_cli_portforward)) < 0 ||
        (err = weft_plugin_add_command(p, &weft_cli_web)) < 0 || (err = weft_plugin_add_command(p, &weft_cli_ctl)) < 0)
        return err;
    return 0;
}

static const struct weft_plugin_entry builtin = {
    .abi = WEFT_PLUGIN_ABI, .name = "built-in", .version = WEFT_VERSION_STRING, .init = builtin_init};

int main(int argc, char **argv)
{
    return weft_runner_main(argc, argv, &builtin);
}
