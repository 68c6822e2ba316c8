/* SPDX-License-Identifier: MIT */
/*
 * A weft plugin: `weft --plugin ./liblines.so lines --listen tcp:8007`
 * answers every line with its build's version and the line's number on
 * the connection ("v1 3: hello").
 *
 * Reload it while it serves (`weft ctl reload lines`, or SIGHUP) after
 * building it again with another VERSION: new connections get the new
 * build. Open ones move to it with their count, through the state
 * hand-over registered with the "lines" factory ("v2 4: hello" next);
 * with --stay the command listens with "lines-stay", registered without
 * one, and open connections finish on the build they started on, which
 * stays loaded until the last of them closes.
 *
 * Built against an installed weft with CMake (CMakeLists.txt) or
 * pkg-config (Makefile); either way it links no weft library: the weft
 * command that loads it provides weft's functions.
 */
#include <stdio.h>
#include <string.h>
#include <weft/plugin.h>
#include <weft/weft.h>

#ifndef VERSION
#define VERSION "v1"
#endif

enum { MAX_LINE = 1024 };

typedef struct lines {
    weft_protocol base;
    unsigned count; /* lines answered on this connection, across reloads */
    size_t len;
    char line[MAX_LINE];
} lines;

static void answer(lines *l)
{
    char out[MAX_LINE + 64];
    size_t len = l->len - (l->len && l->line[l->len - 1] == '\r');
    int n = snprintf(out, sizeof out, "%s %u: %.*s\n", VERSION, ++l->count, (int)len, l->line);
    weft_transport_write(l->base.transport, out, (size_t)n);
}

static void lines_data(weft_protocol *p, const void *data, size_t len)
{
    lines *l = (lines *)p;
    const char *s = data;
    for (size_t i = 0; i < len && !weft_transport_disconnecting(p->transport); i++) {
        if (s[i] == '\n') {
            answer(l);
            l->len = 0;
        } else if (l->len < sizeof l->line) {
            l->line[l->len++] = s[i];
        } else {
            static const char too_long[] = "error: line too long\n";
            weft_transport_write(p->transport, too_long, sizeof too_long - 1);
            weft_transport_lose_connection(p->transport);
        }
    }
}

static const weft_protocol_ops lines_ops = {.data_received = lines_data};

static void lines_init(weft_protocol *p, void *arg)
{
    (void)arg;
    p->ops = &lines_ops;
}

/* Borrowed by the runner while this build is loaded: static storage. */
static weft_protocol_factory factory;

/* The state handed to the next build: the count (4 bytes, big-endian),
 * then the part of a line not ended yet. Plain bytes, so any later build
 * can read what any earlier one wrote. */
static int lines_save(weft_protocol *p, void **state, size_t *len)
{
    lines *l = (lines *)p;
    unsigned char *s = weft_malloc(4 + l->len);
    if (!s)
        return WEFT_ENOMEM;
    for (int i = 0; i < 4; i++)
        s[i] = (unsigned char)(l->count >> (24 - 8 * i));
    memcpy(s + 4, l->line, l->len);
    *state = s;
    *len = 4 + l->len;
    return 0;
}

static weft_protocol *lines_restore(weft_factory *f, const void *state, size_t len)
{
    const unsigned char *s = state;
    if (len < 4 || len - 4 > MAX_LINE)
        return NULL;
    weft_protocol *p = f->ops->build(f, NULL);
    if (!p)
        return NULL;
    lines *l = (lines *)p;
    l->count = (unsigned)s[0] << 24 | (unsigned)s[1] << 16 | (unsigned)s[2] << 8 | s[3];
    l->len = len - 4;
    memcpy(l->line, s + 4, l->len);
    return p;
}

static const weft_handover handover = {lines_save, lines_restore};

static int lines_build(weft_runner *rn, weft_service *top, const weft_args *args)
{
    const char *name = weft_args_has(args, "stay") ? "lines-stay" : "lines";
    weft_factory *f = weft_plugin_factory(weft_runner_plugin(rn), name);
    size_t n;
    const char *const *listen = weft_args_all(args, "listen", &n);
    static const char *const fallback[] = {"tcp:8007"};
    if (n == 0) {
        listen = fallback;
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        weft_failure *why = NULL;
        weft_service *s = weft_server_service_new(weft_runner_reactor(rn), listen[i], listen[i], f, &why);
        if (!s) {
            int status = why ? 2 : 1; /* a bad endpoint string, or out of memory */
            fprintf(stderr, "weft lines: %s: %s\n", listen[i], why ? weft_failure_message(why) : "out of memory");
            weft_failure_unref(why);
            return status;
        }
        int err = weft_service_add(top, s);
        if (err < 0) {
            fprintf(stderr, "weft lines: %s: %s\n", listen[i], weft_strerror(err));
            return 1;
        }
    }
    return 0;
}

static const weft_option lines_options[] = {
    {"listen", 'l', "ENDPOINT", "where to listen (repeatable; default tcp:8007)"},
    {"stay", 0, NULL, "at a reload, open connections finish on the build they started on"},
    {0},
};

static const weft_command lines_command = {
    .name = "lines",
    .summary = "answer each line with the plugin's version and its number (" VERSION ")",
    .description = "An example plugin that can be reloaded while it serves.",
    .options = lines_options,
    .build = lines_build,
};

static int init(weft_plugin *p)
{
    factory = WEFT_PROTOCOL_FACTORY(lines, lines_init, NULL);
    int err = weft_plugin_add_factory(p, "lines", &factory.base, &handover);
    if (err == 0)
        err = weft_plugin_add_factory(p, "lines-stay", &factory.base, NULL);
    if (err == 0)
        err = weft_plugin_add_command(p, &lines_command);
    return err;
}

WEFT_PLUGIN_DEFINE("lines", VERSION, init, NULL);
