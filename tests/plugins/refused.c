/* SPDX-License-Identifier: MIT */
/* Test plugins the runner must refuse, one per build of this file:
 * REFUSE_NO_ENTRY exports no entry symbol, REFUSE_ABI one built for
 * another ABI, REFUSE_INIT one whose init fails. */
#include "weft/weft.h"

#if defined(REFUSE_NO_ENTRY)
WEFT_API int weft_not_a_plugin(void);
int weft_not_a_plugin(void)
{
    return 0;
}
#elif defined(REFUSE_ABI)
static int init(weft_plugin *p)
{
    (void)p;
    return 0;
}
WEFT_API const struct weft_plugin_entry weft_plugin_entry = {
    .abi = WEFT_PLUGIN_ABI + 98, .name = "future", .version = "9", .init = init};
#elif defined(REFUSE_INIT)
static int init(weft_plugin *p)
{
    (void)p;
    return WEFT_EINVAL;
}
WEFT_PLUGIN_DEFINE("broken", "1.0", init, NULL);
#endif
