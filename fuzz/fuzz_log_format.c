/* SPDX-License-Identifier: MIT */
/* Log format rendering: any format string with a fixed set of fields must
 * render without reading or writing out of bounds, into buffers of every
 * size, and the text and JSON observers must cope with any bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/log.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *fmt = malloc(size + 1);
    if (!fmt)
        return 0;
    memcpy(fmt, data, size);
    fmt[size] = '\0';
    weft_log_field fields[] = {
        WEFT_LOG_STR("s", fmt), WEFT_LOG_INT("i", -1), WEFT_LOG_UINT("u", 1),
        WEFT_LOG_DOUBLE("d", 1.5), WEFT_LOG_BOOL("b", true), WEFT_LOG_PTR("p", fmt),
    };
    weft_log_event ev = {.level = WEFT_LOG_INFO, .ns = fmt, .format = fmt, .fields = fields, .nfields = 6};
    size_t need = weft_log_format(&ev, NULL, 0);
    char *full = malloc(need + 1);
    if (full) {
        if (weft_log_format(&ev, full, need + 1) != need || strlen(full) != need)
            abort();
        char small[7];
        weft_log_format(&ev, small, sizeof small);
        if (strncmp(small, full, strlen(small)) != 0)
            abort();
        free(full);
    }
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull) {
        weft_log_text_observer(devnull, &ev);
        weft_log_json_observer(devnull, &ev);
        fclose(devnull);
    }
    free(fmt);
    return 0;
}
