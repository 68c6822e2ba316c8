/* SPDX-License-Identifier: MIT */
/*
 * What the static file resource reads from requests: Range, If-Range,
 * If-Match / If-None-Match lists, dates, path segments - and the mime.types
 * text it loads. Any bytes are parsed or refused, and what is accepted
 * holds together: a partial range lies inside the file, first <= last.
 *
 * Input: the first 8 bytes are the file size; the rest is split at NUL
 * bytes into the header values tried.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "weft/alloc.h"

#include "../src/proto/http/static_int.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t fsize;
    memcpy(&fsize, data, 8);
    fsize %= (uint64_t)1 << 48;
    data += 8, size -= 8;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* values: the text's NUL-separated parts */
    const char *v[4] = {"", "", "", ""};
    size_t nv = 0;
    for (size_t i = 0; i < size + 1 && nv < 4; ) {
        v[nv++] = text + i;
        i += strlen(text + i) + 1;
    }
    struct stat st = {0};
    st.st_ino = 1234;
    st.st_size = (off_t)fsize;
    st.st_mtim.tv_sec = 784111777;
    char etag[WEFT__ETAG_SIZE];
    weft__static_etag(&st, etag);

    uint64_t first = 0, last = 0;
    weft__range_kind k = weft__static_range(v[0], fsize, &first, &last);
    if (k == WEFT__RANGE_PART && (first > last || last >= fsize))
        abort();
    if (k == WEFT__RANGE_NONE && fsize > 0 && strchr(v[0], '=') == NULL)
        abort(); /* nothing unsatisfiable about text that is not a range at all */
    (void)weft__static_if_range(v[1], etag, 784111777);
    (void)weft__static_etag_listed(v[2], etag, true);
    (void)weft__static_etag_listed(v[2], etag, false);
    int pre = weft__static_preconditions(v[0], v[1], v[2], v[3], etag, 784111777);
    if (pre != 0 && pre != 304 && pre != 412)
        abort();
    (void)weft__static_segment_ok(text, size);

    weft_http_mime m = {0};
    if (weft__mime_parse(&m, text, size) == 0) {
        for (size_t i = 1; i < m.n; i++)
            if (strcasecmp(m.v[i - 1].ext, m.v[i].ext) >= 0)
                abort(); /* sorted, each extension once */
    }
    weft_free(m.text);
    weft_free(m.v);
    free(text);
    return 0;
}
