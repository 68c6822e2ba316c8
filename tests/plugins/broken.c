/* SPDX-License-Identifier: MIT */
/* Builds of the lines plugin that must not load, one per way a reload
 * fails (test_plugin_reload.c), chosen by a definition:
 *   BROKEN_ABI      its entry says another plugin ABI
 *   BROKEN_INIT     its init fails
 *   BROKEN_SYMBOL   it calls a function nobody defines
 *   BROKEN_ENTRY    it has no entry symbol at all
 *   BROKEN_NAME     it is another plugin
 *   BROKEN_FACTORY  it does not register "lines-stay", which lines serves */
#include <errno.h>
#include <weft/plugin.h>
#include <weft/weft.h>

static weft_protocol_factory factory;

#ifdef BROKEN_SYMBOL
extern int weft_no_such_function(void);
#endif

static void proto_init(weft_protocol *p, void *arg)
{
    static const weft_protocol_ops ops = {0};
    (void)arg;
    p->ops = &ops;
}

static int init(weft_plugin *p)
{
#ifdef BROKEN_SYMBOL
    if (weft_no_such_function())
        return -EIO;
#endif
    factory = WEFT_PROTOCOL_FACTORY(weft_protocol, proto_init, NULL);
    int err = weft_plugin_add_factory(p, "lines", &factory.base, NULL);
#ifndef BROKEN_FACTORY
    if (err == 0)
        err = weft_plugin_add_factory(p, "lines-stay", &factory.base, NULL);
#endif
#ifdef BROKEN_INIT
    /* After registering: what a failed init registered is dropped. */
    if (err == 0)
        err = -EIO;
#endif
    return err;
}

#if defined BROKEN_ABI
WEFT_API const struct weft_plugin_entry weft_plugin_entry = {
    .abi = WEFT_PLUGIN_ABI + 1, .name = "lines", .version = "broken", .init = init};
#elif defined BROKEN_NAME
WEFT_PLUGIN_DEFINE("other", "broken", init, NULL);
#elif defined BROKEN_ENTRY
WEFT_API int (*not_an_entry)(weft_plugin *p) = init;
#else
WEFT_PLUGIN_DEFINE("lines", "broken", init, NULL);
#endif
