/* SPDX-License-Identifier: MIT */
/* What the serving commands share: a server service per --listen. */
#include <errno.h>
#include <stdlib.h>

#include "cli.h"

int weft_cli_listen(weft_service *parent, const weft_args *args, const char *prog, const char *fallback,
                    weft_factory *factory, const char *const *alpn, size_t nalpn)
{
    size_t n;
    const char *const *listen = weft_args_all(args, "listen", &n);
    if (n == 0 && fallback) {
        listen = &fallback;
        n = 1;
    }
    weft_reactor *r = weft_service_reactor(parent);
    for (size_t i = 0; i < n; i++) {
        weft_failure *why = NULL;
        weft_service *s = weft_server_service_new(r, listen[i], listen[i], factory, &why);
        if (!s) {
            fprintf(stderr, "%s: %s\n", prog, weft_failure_message(why));
            int code = weft_failure_code(why);
            weft_failure_unref(why);
            return code == WEFT_ENOMEM ? WEFT_CLI_FAILED : WEFT_CLI_USAGE;
        }
        if (nalpn && weft_server_service_set_alpn(s, alpn, nalpn) < 0) {
            weft_service_free(s);
            fprintf(stderr, "%s: bad ALPN protocol list\n", prog);
            return WEFT_CLI_FAILED;
        }
        int err = weft_service_add(parent, s);
        if (err == WEFT_EEXIST) {
            fprintf(stderr, "%s: --listen %s is given twice\n", prog, listen[i]);
            return WEFT_CLI_USAGE;
        }
        if (err < 0)
            return WEFT_CLI_FAILED;
    }
    return WEFT_CLI_OK;
}

typedef struct holder {
    void *arg;
    void (*destroy)(void *arg);
} holder;

static void holder_destroy(void *arg)
{
    holder *h = arg;
    h->destroy(h->arg);
    free(h);
}

static const weft_service_ops holder_ops = {.destroy = holder_destroy};

weft_service *weft_cli_holder(weft_runner *rn, const char *name, void *arg, void (*destroy)(void *arg))
{
    holder *h = malloc(sizeof *h);
    if (!h) {
        destroy(arg);
        return NULL;
    }
    *h = (holder){arg, destroy};
    return weft_service_new(weft_runner_reactor(rn), name, &holder_ops, h);
}

bool weft_cli_parse_seconds(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= 0))
        return false;
    *out = v;
    return true;
}
