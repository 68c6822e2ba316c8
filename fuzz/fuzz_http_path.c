/* SPDX-License-Identifier: MIT */
/*
 * Path normalisation (path.c), as the reverse proxy applies it to every
 * target it forwards. Any bytes are normalised or refused; what is
 * normalised is never longer, holds no "." or ".." segment and no escape of
 * an unreserved character, and normalising it again changes nothing and
 * climbs nowhere.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../src/proto/http/http_int.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static void check_normal(const char *p, size_t n)
{
    for (size_t i = 0, start = 0; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        size_t seg = i - start;
        if ((seg == 1 && p[start] == '.') || (seg == 2 && p[start] == '.' && p[start + 1] == '.'))
            abort(); /* a dot segment left */
        start = i + 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%')
            continue;
        if (i + 2 >= n || !is_hex(p[i + 1]) || !is_hex(p[i + 2]))
            abort(); /* escapes are whole, in upper case */
        int c = (p[i + 1] <= '9' ? p[i + 1] - '0' : p[i + 1] - 'A' + 10) << 4 |
                (p[i + 2] <= '9' ? p[i + 2] - '0' : p[i + 2] - 'A' + 10);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("-._~", c)))
            abort(); /* an unreserved character left escaped */
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *once = malloc(size + 1), *twice = malloc(size + 1);
    if (!once || !twice) {
        free(once);
        free(twice);
        return 0;
    }
    memcpy(once, data, size);
    size_t n = size;
    bool climbed = false;
    if (weft__http_path_normalize(once, &n, &climbed) == 0) {
        if (n > size)
            abort();
        check_normal(once, n);
        memcpy(twice, once, n);
        size_t m = n;
        bool again = true;
        if (weft__http_path_normalize(twice, &m, &again) != 0 || again || m != n || memcmp(once, twice, n) != 0)
            abort(); /* not idempotent */
    }
    free(once);
    free(twice);
    return 0;
}
