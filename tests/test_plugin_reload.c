/* SPDX-License-Identifier: MIT */
/*
 * Reloading a plugin while it serves (src/app/plugin_reload.h), in
 * process, with real builds: the example plugin examples/plugins/lines
 * built as v1 and v2 (tests/CMakeLists.txt), loaded with dlopen from
 * copies, its line protocol served over loopback TCP. New connections get
 * the new build; connections on "lines" move with their count, those on
 * "lines-stay" finish on their build, which is unmapped when the last of
 * them closes; a reload that fails leaves the old build serving and says
 * why; the console's reload and plugins; and a hundred reloads under
 * eight clients lose no line.
 *
 * The registry (src/app/plugin.c) is the real one, as the runner uses it:
 * the test program exports all of weft (tests/CMakeLists.txt), as the weft
 * command does through libweft.so, so the plugin finds the functions its
 * command would call.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/app/plugin_int.h"
#include "test.h"

/* ---- what is mapped: the builds' memory files in /proc/self/maps ---- */

enum { MAX_MAPPED = 64 };

/* The distinct inodes of the plugin builds mapped now; their count. */
static size_t mapped_builds(ino_t *out)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    char line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "/memfd:weft-plugin"))
            continue;
        unsigned long long ino;
        cr_assert_eq(sscanf(line, "%*s %*s %*s %*s %llu", &ino), 1);
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen |= out[i] == (ino_t)ino;
        if (!seen) {
            cr_assert_lt(n, MAX_MAPPED);
            out[n++] = (ino_t)ino;
        }
    }
    fclose(f);
    return n;
}

static bool is_mapped(ino_t ino)
{
    ino_t m[MAX_MAPPED];
    size_t n = mapped_builds(m);
    for (size_t i = 0; i < n; i++)
        if (m[i] == ino)
            return true;
    return false;
}

/* ---- the fixture: a slot, two ports, a place to copy builds to ---- */

typedef struct fixture {
    weft_reactor *r;
    weft__plugins reg;
    weft__plugin_rec *rec;   /* the plugin lines */
    weft__plugin_slot *slot; /* its slot */
    weft_port *port, *stay_port;
    char desc[64], stay_desc[64];
    char dir[64];     /* a scratch directory */
    char path[128];   /* dir/liblines.so: replaced by each build in turn */
} fixture;

static const char *build_path(const char *which)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", WEFT_TEST_PLUGINS, which);
    return path;
}

/* Puts a build at fx->path as an install does: a new file renamed over
 * the old one. */
static void install(fixture *fx, const char *which)
{
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s/.liblines.so.new", fx->dir);
    FILE *in = fopen(build_path(which), "rb"), *out = fopen(tmp, "wb");
    cr_assert(in && out);
    char buf[65536];
    for (size_t got; (got = fread(buf, 1, sizeof buf, in)) > 0;)
        cr_assert_eq(fwrite(buf, 1, got, out), got);
    cr_assert_eq(fclose(in), 0);
    cr_assert_eq(fclose(out), 0);
    cr_assert_eq(rename(tmp, fx->path), 0);
}

/* The builds of lines still mapped (their registry records). */
static size_t live_builds(const fixture *fx)
{
    size_t n = 0;
    for (const weft_plugin *p = fx->rec->builds; p; p = p->next)
        n++;
    return n;
}

static void reload_ok(fixture *fx, const char *which, weft__reload_report *rep)
{
    install(fx, which);
    weft_failure *why = NULL;
    int err = weft__plugin_reload(fx->slot, fx->path, rep, &why);
    cr_assert_eq(err, 0, "reload: %s", why ? weft_failure_message(why) : "?");
    cr_assert_null(why);
}

static void listen_on(fixture *fx, const char *name, weft_port **port, char *desc)
{
    weft_factory *f = weft__plugin_slot_factory(fx->slot, name);
    cr_assert_not_null(f, "the plugin registered %s", name);
    weft_address a;
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 0, &a), 0);
    cr_assert_eq(weft_listen(fx->r, &a, f, NULL, port), 0);
    cr_assert_eq(weft_port_address(*port, &a), 0);
    snprintf(desc, 64, "tcp:host=127.0.0.1:port=%d", weft_address_port(&a));
}

static void setup(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->r = weft_test_reactor();
    snprintf(fx->dir, sizeof fx->dir, "/tmp/weft-reload-XXXXXX");
    cr_assert_not_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/liblines.so", fx->dir);
    weft__plugins_init(&fx->reg);
    install(fx, "v1/liblines.so");
    char why[512];
    cr_assert_eq(weft__plugin_load(&fx->reg, fx->path, &fx->rec, why, sizeof why), 0, "%s", why);
    fx->slot = fx->rec->slot;
    cr_assert_str_eq(weft_plugin_version(weft__plugin_rec_current(fx->rec)), "v1");
    listen_on(fx, "lines", &fx->port, fx->desc);
    listen_on(fx, "lines-stay", &fx->stay_port, fx->stay_desc);
}

/* ---- clients: each keeps one line in flight and checks every answer ---- */

typedef struct client {
    weft_protocol base;
    fixture *fx;
    int id;
    bool stay;          /* on "lines-stay": never moves */
    const char *expect; /* stay: the version its connection runs */
    char in[256];
    size_t len;
    unsigned sent, answered; /* lines, over all its connections */
    unsigned conn_answered;  /* on this connection: the count the server must say */
    unsigned seen_v1, seen_v2;
    bool up, lost;
    bool hold; /* answers do not make it send the next line */
} client;

static void client_send(client *c)
{
    char line[32];
    int n = snprintf(line, sizeof line, "c%d-%u\n", c->id, ++c->sent);
    cr_assert_eq(weft_transport_write(c->base.transport, line, (size_t)n), 0);
}

static void client_made(weft_protocol *p)
{
    client *c = (client *)p;
    c->up = true;
    client_send(c);
}

/* One answer: "VERSION COUNT: c<id>-<n>", for the oldest line in flight. */
static void check_answer(client *c, const char *a, size_t len)
{
    char version[16], text[32], want[32];
    unsigned count;
    char line[128];
    cr_assert_lt(len, sizeof line);
    memcpy(line, a, len);
    line[len] = '\0';
    cr_assert_eq(sscanf(line, "%15s %u: %31s", version, &count, text), 3, "answer %s", line);
    snprintf(want, sizeof want, "c%d-%u", c->id, ++c->answered);
    cr_assert_str_eq(text, want, "client %d: lines answered in order, none lost", c->id);
    cr_assert_eq(count, ++c->conn_answered, "client %d: the count goes on (%s)", c->id, line);
    if (c->stay)
        cr_assert_str_eq(version, c->expect, "client %d stays on its build", c->id);
    if (strcmp(version, "v1") == 0)
        c->seen_v1++;
    else if (strcmp(version, "v2") == 0)
        c->seen_v2++;
    else
        cr_assert_fail("client %d: version %s", c->id, version);
}

static void client_data(weft_protocol *p, const void *data, size_t len)
{
    client *c = (client *)p;
    const char *s = data;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\n') {
            cr_assert_lt(c->len, sizeof c->in);
            c->in[c->len++] = s[i];
            continue;
        }
        check_answer(c, c->in, c->len);
        c->len = 0;
        if (!c->hold)
            client_send(c);
    }
}

static void client_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    client *c = (client *)p;
    c->up = false;
    c->lost = true;
}

static const weft_protocol_ops client_ops = {
    .connection_made = client_made, .data_received = client_data, .connection_lost = client_lost};

static void client_connect(fixture *fx, client *c)
{
    c->base = (weft_protocol){.ops = &client_ops};
    c->fx = fx;
    c->len = 0;
    c->conn_answered = 0;
    c->lost = false;
    c->sent = c->answered; /* a line in flight when it hung up is not answered */
    if (c->stay)
        c->expect = weft__plugin_build_entry(weft__plugin_slot_current(fx->slot))->version;
    weft_deferred *d = weft_connect_protocol(fx->r, c->stay ? fx->stay_desc : fx->desc, &c->base);
    cr_assert_eq(weft_reactor_run_until(fx->r, d, 10), 0);
    weft_deferred_unref(d);
    cr_assert(c->up);
}

static void client_hang_up(fixture *fx, client *c)
{
    weft_transport_lose_connection(c->base.transport);
    for (int i = 0; i < 1000 && !c->lost; i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 1), 0);
    cr_assert(c->lost);
}

/* Runs until every client has `more` answers more than now. */
static void pump(fixture *fx, client *cs, size_t n, unsigned more)
{
    unsigned target[16];
    for (size_t i = 0; i < n; i++)
        target[i] = cs[i].answered + more;
    for (int round = 0; round < 100000; round++) {
        bool done = true;
        for (size_t i = 0; i < n; i++)
            done &= cs[i].answered >= target[i];
        if (done)
            return;
        cr_assert_eq(weft_reactor_iterate(fx->r, 1), 0);
    }
    cr_assert_fail("the clients were not answered");
}

/* Stops c sending and waits for its line in flight to be answered, then
 * sends the first half of its next line: a reload now finds it in the
 * server's buffer. */
static void half_line(fixture *fx, client *c)
{
    c->hold = true;
    for (int i = 0; i < 1000 && c->answered < c->sent; i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 1), 0);
    cr_assert_eq(c->answered, c->sent);
    char line[32];
    int n = snprintf(line, sizeof line, "c%d-%u", c->id, ++c->sent);
    cr_assert_eq(weft_transport_write(c->base.transport, line, (size_t)n), 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 0), 0);
}

/* Ends the line half_line began, and lets c go on. */
static void finish_line(client *c)
{
    c->hold = false;
    cr_assert_eq(weft_transport_write(c->base.transport, "\n", 1), 0);
}

/* Waits until the builds mapped are exactly `want` (the old ones unmap as
 * their last connections' closes finish, in the reactor's close step). */
static void expect_mapped(fixture *fx, const ino_t *want, size_t n)
{
    ino_t m[MAX_MAPPED];
    size_t got = 0;
    for (int round = 0; round < 1000; round++) {
        got = mapped_builds(m);
        bool same = got == n;
        for (size_t i = 0; same && i < n; i++)
            same = is_mapped(want[i]);
        if (same)
            return;
        cr_assert_eq(weft_reactor_iterate(fx->r, 0.01), 0);
    }
    cr_assert_fail("%zu builds mapped, %zu expected", got, n);
}

static void teardown(fixture *fx, client *cs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cs[i].up)
            client_hang_up(fx, &cs[i]);
    weft_deferred_unref(weft_port_stop(fx->port));
    weft_deferred_unref(weft_port_stop(fx->stay_port));
    /* Until the server's ends of the connections are gone too. */
    for (int i = 0; i < 1000 && weft__plugin_build_connections(weft__plugin_slot_current(fx->slot)) > 0; i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 0.01), 0);
    expect_mapped(fx, (ino_t[]){weft__plugin_build_inode(weft__plugin_slot_current(fx->slot))}, 1);
    cr_assert_eq(live_builds(fx), 1, "every build but the current one ended");
    weft__plugins_free(&fx->reg);
    ino_t m[MAX_MAPPED];
    cr_assert_eq(mapped_builds(m), 0, "the last build is unmapped with the registry");
    weft_reactor_free(fx->r);
    unlink(fx->path);
    cr_assert_eq(rmdir(fx->dir), 0);
}

WEFT_TEST(plugin_reload, new_connections_get_the_new_build_and_open_ones_move_or_stay_as_registered)
{
    fixture fx;
    setup(&fx);
    client cs[2] = {{.id = 0}, {.id = 1, .stay = true}};
    client_connect(&fx, &cs[0]);
    client_connect(&fx, &cs[1]);
    pump(&fx, cs, 2, 3);
    ino_t v1 = weft__plugin_build_inode(weft__plugin_slot_current(fx.slot));

    half_line(&fx, &cs[0]);
    weft__reload_report rep;
    reload_ok(&fx, "v2/liblines.so", &rep);
    finish_line(&cs[0]); /* the line begun under v1 is answered by v2 */
    cr_assert_str_eq(rep.from, "v1");
    cr_assert_str_eq(rep.to, "v2");
    cr_assert_eq(rep.conns.moved, 1, "the connection on lines moved");
    cr_assert_eq(rep.conns.stayed, 1, "the one on lines-stay stayed");
    cr_assert_eq(rep.conns.failed, 0);
    ino_t v2 = weft__plugin_build_inode(weft__plugin_slot_current(fx.slot));
    cr_assert_neq(v1, v2);

    unsigned before = cs[0].seen_v2;
    pump(&fx, cs, 2, 3);
    cr_assert_gt(cs[0].seen_v2, before, "the moved connection runs v2, its count going on");
    cr_assert_eq(cs[1].seen_v2, 0, "the other still runs v1");
    client c = {.id = 2, .stay = true};
    client_connect(&fx, &c);
    pump(&fx, &c, 1, 2);
    cr_assert_eq(c.seen_v2, 2, "a new connection gets v2");

    cr_assert(is_mapped(v1), "v1 stays mapped while a connection runs it");
    cr_assert_eq(live_builds(&fx), 2);
    weft_plugin *from = NULL;
    cr_assert_not_null(weft__plugins_command(&fx.reg, "lines", &from));
    cr_assert_str_eq(weft_plugin_version(from), "v2", "the command is the new build's");
    /* v2 held as a runner holds a build whose command's services live. */
    weft__version *held = weft__plugin_build_version(weft__plugin_slot_current(fx.slot));
    weft__version_hold(held);
    client_hang_up(&fx, &cs[1]);
    expect_mapped(&fx, (ino_t[]){v2}, 1);
    cr_assert_eq(live_builds(&fx), 1, "v1 ended with its last connection");
    client_hang_up(&fx, &c);
    reload_ok(&fx, "v1/liblines.so", &rep);
    cr_assert_eq(rep.conns.moved, 1);
    ino_t v1_again = weft__plugin_build_inode(weft__plugin_slot_current(fx.slot));
    expect_mapped(&fx, (ino_t[]){v2, v1_again}, 2); /* v2: held */
    weft__version_drop(held);
    expect_mapped(&fx, (ino_t[]){v1_again}, 1);
    teardown(&fx, cs, 2);
}

WEFT_TEST(plugin_reload, a_reload_that_fails_leaves_the_old_build_serving_and_says_why)
{
    static const struct {
        const char *build, *why;
    } cases[] = {
        {"broken/no-such-file.so", "cannot load it: No such file or directory"},
        {"broken/libbroken_symbol.so", "cannot load it: undefined symbol: weft_no_such_function"},
        {"broken/libbroken_entry.so", "no weft_plugin_entry symbol (not a weft plugin)"},
        {"broken/libbroken_abi.so", "built for plugin ABI 2, this weft has 1"},
        {"broken/libbroken_init.so", "its init failed: "},
        {"broken/libbroken_name.so", "it is the plugin other, not lines"},
        {"broken/libbroken_factory.so", "does not register the factory lines-stay that v1 serves"},
    };
    fixture fx;
    setup(&fx);
    client c = {.id = 0};
    client_connect(&fx, &c);
    pump(&fx, &c, 1, 2);
    ino_t v1 = weft__plugin_build_inode(weft__plugin_slot_current(fx.slot));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weft_failure *why = NULL;
        weft__reload_report rep = {.to = "untouched"};
        int err = weft__plugin_reload(fx.slot, build_path(cases[i].build), &rep, &why);
        cr_assert_lt(err, 0, "%s loaded", cases[i].build);
        cr_assert_not_null(why);
        cr_assert_not_null(strstr(weft_failure_message(why), cases[i].why), "%s: %s", cases[i].build,
                           weft_failure_message(why));
        cr_assert_eq(weft_failure_code(why), err);
        weft_failure_unref(why);
        cr_assert_str_eq(rep.to, "untouched");
        cr_assert_str_eq(weft__plugin_build_entry(weft__plugin_slot_current(fx.slot))->version, "v1");
        expect_mapped(&fx, (ino_t[]){v1}, 1);
        pump(&fx, &c, 1, 1);
    }
    cr_assert_eq(c.seen_v2, 0);
    cr_assert_eq(fx.rec->loads, 3, "v1, and the two builds that got as far as init");
    cr_assert_eq(live_builds(&fx), 1);
    weft_plugin *from = NULL;
    cr_assert_not_null(weft__plugins_command(&fx.reg, "lines", &from));
    cr_assert_str_eq(weft_plugin_version(from), "v1", "a failed init's command went with it");
    teardown(&fx, &c, 1);
}

/* The test: a hundred reloads under eight clients sending lines
 * all along, the two builds taking turns at one path. Four clients are on
 * "lines" and move at each reload, their counts going on; four are on
 * "lines-stay", each hanging up and coming back every few reloads, so old
 * builds stay mapped exactly as long as one of them runs it. */
WEFT_TEST(plugin_reload, a_hundred_reloads_under_eight_clients_lose_no_line, .timeout = 240)
{
    enum { CLIENTS = 8, RELOADS = 100 };
    fixture fx;
    setup(&fx);
    client cs[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cs[i] = (client){.id = i, .stay = i >= CLIENTS / 2};
        client_connect(&fx, &cs[i]);
    }
    /* The build each stay client's connection runs, by inode. */
    ino_t stay_on[CLIENTS] = {0};
    ino_t current = weft__plugin_build_inode(weft__plugin_slot_current(fx.slot));
    for (int i = CLIENTS / 2; i < CLIENTS; i++)
        stay_on[i] = current;

    for (int n = 1; n <= RELOADS; n++) {
        pump(&fx, cs, CLIENTS, 2);
        const char *next = n % 2 ? "v2" : "v1";
        char which[32];
        snprintf(which, sizeof which, "%s/liblines.so", next);
        weft__reload_report rep;
        reload_ok(&fx, which, &rep);
        cr_assert_str_eq(rep.to, next);
        cr_assert_eq(rep.conns.moved, CLIENTS / 2);
        cr_assert_eq(rep.conns.stayed, CLIENTS / 2);
        current = weft__plugin_build_inode(weft__plugin_slot_current(fx.slot));
        pump(&fx, cs, CLIENTS, 1);
        /* One stay client comes back on the new build each reload. */
        client *c = &cs[CLIENTS / 2 + n % (CLIENTS / 2)];
        client_hang_up(&fx, c);
        client_connect(&fx, c);
        stay_on[c->id] = current;
        ino_t want[CLIENTS + 1] = {current};
        size_t nwant = 1;
        for (int i = CLIENTS / 2; i < CLIENTS; i++) {
            bool dup = false;
            for (size_t j = 0; j < nwant; j++)
                dup |= want[j] == stay_on[i];
            if (!dup)
                want[nwant++] = stay_on[i];
        }
        expect_mapped(&fx, want, nwant);
    }
    pump(&fx, cs, CLIENTS, 2);
    for (int i = 0; i < CLIENTS / 2; i++) {
        cr_assert_gt(cs[i].seen_v1, 0, "client %d saw v1", i);
        cr_assert_gt(cs[i].seen_v2, 0, "client %d saw v2", i);
        cr_assert_eq(cs[i].conn_answered, cs[i].answered, "one connection all along, its count intact");
    }
    cr_assert_eq(fx.rec->loads, RELOADS + 1);
    teardown(&fx, cs, CLIENTS);
}

/* ---- the console's reload and plugins ---- */

/* A console client: one command, its whole reply. */
typedef struct asker {
    weft_protocol base;
    char out[4096];
    size_t len;
    bool up, done, lost;
} asker;

static void asker_made(weft_protocol *p)
{
    ((asker *)p)->up = true;
}

/* The reply ends with a line "ok" or "error: ...". */
static void asker_data(weft_protocol *p, const void *data, size_t len)
{
    asker *a = (asker *)p;
    cr_assert_lt(a->len + len, sizeof a->out);
    memcpy(a->out + a->len, data, len);
    a->len += len;
    a->out[a->len] = '\0';
    if (a->len == 0 || a->out[a->len - 1] != '\n')
        return;
    const char *last = a->out + a->len - 1;
    while (last > a->out && last[-1] != '\n')
        last--;
    a->done = strncmp(last, "ok\n", 3) == 0 || strncmp(last, "error: ", 7) == 0;
}

static void asker_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    ((asker *)p)->lost = true;
}

static const weft_protocol_ops asker_ops = {
    .connection_made = asker_made, .data_received = asker_data, .connection_lost = asker_lost};

/* Sends `command` to the console at `path`; its reply in *a. */
static void ask(fixture *fx, const char *path, const char *command, asker *a)
{
    *a = (asker){.base.ops = &asker_ops};
    char where[256];
    snprintf(where, sizeof where, "unix:%s", path);
    weft_deferred *d = weft_connect_protocol(fx->r, where, &a->base);
    cr_assert_eq(weft_reactor_run_until(fx->r, d, 10), 0);
    weft_deferred_unref(d);
    cr_assert(a->up);
    cr_assert_eq(weft_transport_write(a->base.transport, command, strlen(command)), 0);
    cr_assert_eq(weft_transport_write(a->base.transport, "\n", 1), 0);
    for (int i = 0; i < 1000 && !a->done; i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 0.01), 0);
    cr_assert(a->done, "%s: %s", command, a->out);
    weft_transport_lose_connection(a->base.transport);
    for (int i = 0; i < 1000 && !a->lost; i++)
        cr_assert_eq(weft_reactor_iterate(fx->r, 0.01), 0);
}

WEFT_TEST(plugin_reload, the_console_reloads_a_plugin_and_lists_its_builds)
{
    fixture fx;
    setup(&fx);
    char sock[160], want[512];
    snprintf(sock, sizeof sock, "%s/console.sock", fx.dir);
    weft_console *con;
    cr_assert_eq(weft_console_new(fx.r, sock, NULL, &con), 0);
    cr_assert_eq(weft__plugins_console_commands(&fx.reg, con), 0);
    client c = {.id = 0, .stay = true};
    client_connect(&fx, &c);
    pump(&fx, &c, 1, 2);

    asker a;
    ask(&fx, sock, "plugins", &a);
    snprintf(want, sizeof want, "| lines v1 %s, loaded 1 time; builds: v1 (1 connection)\nok\n", fx.path);
    cr_assert_str_eq(a.out, want);

    install(&fx, "v2/liblines.so");
    ask(&fx, sock, "reload lines", &a);
    cr_assert_str_eq(a.out, "| reloaded lines from v1 to v2 (moved 0, stayed 1 connections)\nok\n");
    ask(&fx, sock, "plugins", &a);
    snprintf(want, sizeof want,
             "| lines v2 %s, loaded 2 times; builds: v2 (0 connections), v1 (1 connection)\nok\n", fx.path);
    cr_assert_str_eq(a.out, want);
    pump(&fx, &c, 1, 1); /* still on v1: c.expect */

    install(&fx, "broken/libbroken_init.so");
    ask(&fx, sock, "reload", &a);
    snprintf(want, sizeof want, "| cannot reload lines from %s: its init failed: ", fx.path);
    cr_assert_eq(strncmp(a.out, want, strlen(want)), 0, "%s", a.out);
    cr_assert_not_null(strstr(a.out, "\nerror: 1 of 1 plugins not reloaded\n"), "%s", a.out);
    ask(&fx, sock, "reload nothing", &a);
    cr_assert_str_eq(a.out, "error: no plugin named nothing\n");
    cr_assert_str_eq(weft_plugin_version(weft__plugin_rec_current(fx.rec)), "v2");

    weft_console_free(con);
    client_hang_up(&fx, &c);
    teardown(&fx, &c, 1);
}
