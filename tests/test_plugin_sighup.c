/* SPDX-License-Identifier: MIT */
/*
 * Reloading a plugin from the operator's side, as a real process: `weft
 * --plugin DIR/liblines.so lines` (the example plugin) serving clients
 * that send lines all along, the file replaced by the other build and
 * SIGHUP sent, a few times over: every line is answered, in order, the
 * connections' counts going on across builds, both versions seen, one log
 * line per reload; a broken build put in place is refused with the reason
 * logged and the old build serving on; SIGTERM then ends weft with status
 * 0 and the sanitizers quiet. (The hundred reloads are test_plugin_reload's,
 * in process.)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "net.h"
#include "proc.h"
#include "test.h"

enum { CLIENTS = 4, RELOADS = 6 };

static const char *build_path(const char *which)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", WEFT_TEST_PLUGINS, which);
    return path;
}

/* Puts a build at `path` as an install does: a new file renamed over the
 * old one. */
static void install(const char *dir, const char *path, const char *which)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/.liblines.so.new", dir);
    FILE *in = fopen(build_path(which), "rb"), *out = fopen(tmp, "wb");
    cr_assert(in && out, "%s", build_path(which));
    char buf[65536];
    for (size_t got; (got = fread(buf, 1, sizeof buf, in)) > 0;)
        cr_assert_eq(fwrite(buf, 1, got, out), got);
    cr_assert_eq(fclose(in), 0);
    cr_assert_eq(fclose(out), 0);
    cr_assert_eq(rename(tmp, path), 0);
}

/* Waits for the next `needle` in weft's output not seen before, and marks
 * it seen (its first letter made upper case): the same reload line comes
 * back at every other reload. */
static void wait_for_next(weft_test_proc *p, const char *needle)
{
    char *at = (char *)weft_test_proc_wait_for(p, needle);
    *at = (char)(*at - 'a' + 'A');
}

typedef struct client {
    int fd, id;
    unsigned sent, count; /* lines sent; answered on this connection */
    char in[256];
    size_t len;
    bool v1, v2; /* versions seen */
} client;

static void client_connect(client *c, int port, int id)
{
    *c = (client){.fd = weft_test_dial(port), .id = id};
    /* A lost answer fails the read rather than hanging the test. */
    struct timeval tv = {.tv_sec = 20};
    cr_assert_eq(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

static void client_write(client *c, const char *text)
{
    size_t n = strlen(text);
    cr_assert_eq(write(c->fd, text, n), (ssize_t)n);
}

/* Reads one answer and checks it is the next line's: "VERSION COUNT:
 * c<id>-<n>". Returns its version, or checks it is `want`. */
static void client_answer(client *c, const char *want)
{
    char *nl;
    while (!(nl = memchr(c->in, '\n', c->len))) {
        ssize_t n = read(c->fd, c->in + c->len, sizeof c->in - 1 - c->len);
        cr_assert_gt(n, 0, "client %d: no answer to line %u", c->id, c->count + 1);
        c->len += (size_t)n;
    }
    *nl = '\0';
    char version[16], text[32], expect[32];
    unsigned count;
    cr_assert_eq(sscanf(c->in, "%15s %u: %31s", version, &count, text), 3, "answer '%s'", c->in);
    snprintf(expect, sizeof expect, "c%d-%u", c->id, ++c->count);
    cr_assert_str_eq(text, expect, "client %d: every line answered, in order", c->id);
    cr_assert_eq(count, c->count, "client %d: the count goes on across builds (%s)", c->id, c->in);
    if (want)
        cr_assert_str_eq(version, want, "client %d: %s", c->id, c->in);
    c->v1 |= strcmp(version, "v1") == 0;
    c->v2 |= strcmp(version, "v2") == 0;
    size_t rest = c->len - (size_t)(nl + 1 - c->in);
    memmove(c->in, nl + 1, rest);
    c->len = rest;
}

/* Each client sends `n` lines, one at a time, each answered by `want`. */
static void exchange(client *cs, unsigned n, const char *want)
{
    for (unsigned k = 0; k < n; k++)
        for (int i = 0; i < CLIENTS; i++) {
            char line[32];
            snprintf(line, sizeof line, "c%d-%u\n", cs[i].id, ++cs[i].sent);
            client_write(&cs[i], line);
            client_answer(&cs[i], want);
        }
}

WEFT_TEST(plugin_sighup, sighup_reloads_the_plugin_from_its_file_while_clients_send_lines, .timeout = 120)
{
    char dir[] = "/tmp/weft-sighup-XXXXXX", path[128], want[256], sock[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/liblines.so", dir);
    snprintf(sock, sizeof sock, "%s/console.sock", dir);
    install(dir, path, "v1/liblines.so");
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "--plugin", path, "lines", "--listen",
                                        "tcp:0:interface=127.0.0.1", "--console", sock, NULL});
    int port = weft_test_proc_port(&p);
    client cs[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        client_connect(&cs[i], port, i);
    exchange(cs, 2, "v1");

    const char *now = "v1";
    for (int n = 1; n <= RELOADS; n++) {
        const char *next = strcmp(now, "v1") == 0 ? "v2" : "v1";
        /* A line begun under the old build, ended under the new. */
        char line[32];
        snprintf(line, sizeof line, "c0-%u", ++cs[0].sent);
        client_write(&cs[0], line);
        char which[32];
        snprintf(which, sizeof which, "%s/liblines.so", next);
        install(dir, path, which);
        snprintf(want, sizeof want, "reloaded lines from %s to %s (moved %d, stayed 0 connections)", now, next,
                 CLIENTS);
        if (n < RELOADS) {
            cr_assert_eq(kill(p.pid, SIGHUP), 0);
            wait_for_next(&p, want);
        } else {
            /* The last one as an operator would: weft ctl reload NAME. */
            weft_test_output o =
                weft_test_run((char *[]){WEFT_CLI_PATH, "ctl", "--socket", sock, "reload", "lines", NULL}, NULL, 0, 30);
            cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
            cr_assert_not_null(strstr(o.out, want), "%s", o.out);
            weft_test_output_free(&o);
        }
        client_write(&cs[0], "\n");
        client_answer(&cs[0], next);
        exchange(cs, 2, next);
        now = next;
    }

    /* A build that fails its init: refused, said why, the old one goes on. */
    install(dir, path, "broken/libbroken_init.so");
    cr_assert_eq(kill(p.pid, SIGHUP), 0);
    snprintf(want, sizeof want, "cannot reload lines from %s: its init failed: ", path);
    weft_test_proc_wait_for(&p, want);
    exchange(cs, 2, now);
    client fresh;
    client_connect(&fresh, port, CLIENTS);
    client_write(&fresh, "c4-1\n");
    client_answer(&fresh, now);
    close(fresh.fd);

    weft_test_output o = weft_test_run((char *[]){WEFT_CLI_PATH, "ctl", "--socket", sock, "plugins", NULL}, NULL, 0, 30);
    cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
    cr_assert_not_null(strstr(o.out, path), "weft ctl plugins names the file: %s", o.out);
    weft_test_output_free(&o);
    for (int i = 0; i < CLIENTS; i++) {
        cr_assert(cs[i].v1 && cs[i].v2, "client %d saw both builds", i);
        close(cs[i].fd);
    }
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
    cr_assert_null(strstr(p.text, "Sanitizer"), "%s", p.text);
    cr_assert_null(strstr(p.text, "runtime error"), "%s", p.text);
    unlink(path);
    cr_assert_eq(rmdir(dir), 0);
}

/* SIGHUP's default action ends a process: a weft with nothing to reload
 * says so and serves on. */
WEFT_TEST(plugin_sighup, sighup_with_no_plugin_loaded_from_a_file_is_said_and_weft_serves_on, .timeout = 60)
{
    weft_test_proc p;
    weft_test_proc_spawn(&p, (char *[]){WEFT_CLI_PATH, "echo", "--listen", "tcp:0:interface=127.0.0.1", NULL});
    int port = weft_test_proc_port(&p);
    cr_assert_eq(kill(p.pid, SIGHUP), 0);
    weft_test_proc_wait_for(&p, "no plugin loaded from a file: nothing to reload");
    int fd = weft_test_dial(port);
    char got[8] = "";
    cr_assert_eq(write(fd, "hi\n", 3), 3);
    cr_assert_eq(read(fd, got, sizeof got - 1), 3);
    cr_assert_str_eq(got, "hi\n");
    close(fd);
    cr_assert_eq(weft_test_proc_finish(&p, SIGTERM), 0, "%s", p.text);
}
