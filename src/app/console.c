/* SPDX-License-Identifier: MIT */
/*
 * The admin console (console.h): a UNIX socket, a line receiver per
 * client, commands by name. docs/console.md describes the protocol.
 *
 * A client runs one command at a time: while a reply is under way (a
 * handler that answers later) its line receiver is paused, and so it is
 * after MAX_BURST commands in one iteration; a post in the close step
 * resumes it, so the loop polls between bursts. The client's memory lives
 * on past its connection while a reply or that post still needs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../core/internal.h"
#include "text.h"
#include "weft/alloc.h"
#include "weft/basic.h"
#include "weft/console.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/socket.h"
#include "weft/stats.h"
#include "weft/transport.h"

enum {
    MAX_LINE = 4096,
    MAX_WORDS = 32,
    MAX_BURST = 32, /* commands a client runs per iteration */
    DEFAULT_CLIENTS = 16,
    DEFAULT_OUTPUT = 256 * 1024,
};

#define NS "weft.console"

typedef struct command {
    char *name, *help;
    weft_console_fn fn;
    void *arg;
} command;

typedef struct client client;

struct weft_console_reply {
    client *cl;
};

struct weft_console {
    weft_factory factory; /* first: the port's, and each client's */
    weft_reactor *r;
    weft_port *port;
    char *path;
    command *cmds;
    size_t ncmds;
    weft__list clients;
    size_t nclients;
    unsigned max_clients;
    size_t max_output;
    bool freed; /* by its owner: the memory goes when the factory's last user does */
};

struct client {
    weft_line_receiver lines; /* first: the protocol */
    weft_console *con;        /* NULL once the console is freed */
    weft__list link;          /* in con->clients while counted there */
    weft_console_reply reply;
    weft__post resume_post;
    bool admitted;            /* passed the checks: commands are run */
    bool busy;                /* a reply is under way */
    bool in_handler;          /* its handler is running now */
    bool resume_posted;
    bool gone;                /* the connection has ended */
    unsigned burst;
    char line[MAX_LINE + 1];
};

/* ---- the client's lifetime ---- */

static void client_free_if_done(client *cl)
{
    if (cl->gone && !cl->busy && !cl->resume_posted)
        weft_free(cl);
}

static void resume_now(void *arg)
{
    client *cl = arg;
    cl->resume_posted = false;
    cl->burst = 0;
    if (cl->gone) {
        client_free_if_done(cl);
        return;
    }
    if (!cl->busy && cl->lines.paused)
        weft_line_receiver_resume(&cl->lines);
}

static void resume_later(client *cl)
{
    weft_line_receiver_pause(&cl->lines);
    if (!cl->resume_posted) {
        cl->resume_posted = true;
        weft__reactor_post(weft_transport_reactor(cl->lines.base.transport), &cl->resume_post, resume_now, cl);
    }
}

static void detach(client *cl)
{
    if (cl->con && cl->link.next) {
        weft__list_remove(&cl->link);
        cl->link.next = NULL;
        cl->con->nclients--;
    }
}

static void client_destroy(weft_line_receiver *lr)
{
    client *cl = (client *)lr;
    detach(cl);
    cl->gone = true;
    client_free_if_done(cl);
}

/* ---- writing ---- */

static weft_transport *transport_of(client *cl)
{
    return cl->gone ? NULL : cl->lines.base.transport;
}

/* Writes the pieces as one line; a client that leaves too much unread is
 * dropped. */
static int send_line(client *cl, const char *prefix, const char *text, size_t len)
{
    weft_transport *t = transport_of(cl);
    if (!t || weft_transport_disconnecting(t))
        return -ENOTCONN;
    struct iovec iov[3] = {{(void *)prefix, strlen(prefix)}, {(void *)text, len}, {"\n", 1}};
    int rc = weft_transport_writev(t, iov, 3);
    if (rc < 0)
        return rc;
    size_t limit = cl->con ? cl->con->max_output : DEFAULT_OUTPUT;
    if (weft_transport_buffered(t) > limit) {
        weft_log(weft_reactor_logger(weft_transport_reactor(t)), WEFT_LOG_WARN, NS,
                 "a client left more than {limit} bytes of replies unread: disconnected",
                 WEFT_LOG_UINT("limit", limit));
        weft_transport_abort_connection(t);
        return -ENOTCONN;
    }
    return 0;
}

/* Formats into a stack buffer, or the heap for a long text. */
static int send_vformat(client *cl, const char *prefix, const char *fmt, va_list ap)
{
    char small[512];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    int rc;
    if (n < 0) {
        rc = WEFT_EINVAL;
    } else if ((size_t)n < sizeof small) {
        rc = send_line(cl, prefix, small, (size_t)n);
    } else {
        char *big = weft_malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, again);
            rc = send_line(cl, prefix, big, (size_t)n);
            weft_free(big);
        } else {
            rc = WEFT_ENOMEM;
        }
    }
    va_end(again);
    return rc;
}

int weft_console_reply_line(weft_console_reply *reply, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = send_vformat(reply->cl, "| ", fmt, ap);
    va_end(ap);
    return rc;
}

static void reply_done(client *cl)
{
    cl->busy = false;
    if (cl->gone)
        client_free_if_done(cl);
    else if (!cl->in_handler)
        resume_later(cl); /* answered from the loop: the next command waits for the next iteration */
}

void weft_console_reply_ok(weft_console_reply *reply)
{
    client *cl = reply->cl;
    send_line(cl, "", "ok", 2);
    reply_done(cl);
}

void weft_console_reply_error(weft_console_reply *reply, const char *fmt, ...)
{
    client *cl = reply->cl;
    va_list ap;
    va_start(ap, fmt);
    send_vformat(cl, "error: ", fmt, ap);
    va_end(ap);
    reply_done(cl);
}

weft_reactor *weft_console_reply_reactor(const weft_console_reply *reply)
{
    return reply->cl->con ? reply->cl->con->r : NULL;
}

/* ---- running commands ---- */

static const command *find(const weft_console *con, const char *name)
{
    for (size_t i = 0; i < con->ncmds; i++)
        if (strcmp(con->cmds[i].name, name) == 0)
            return &con->cmds[i];
    return NULL;
}

static void run(client *cl, char *line)
{
    char *argv[MAX_WORDS + 1];
    int argc = 0;
    for (char *save = NULL, *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (argc == MAX_WORDS) {
            send_line(cl, "error: ", "too many words", 14);
            return;
        }
        argv[argc++] = w;
    }
    if (argc == 0)
        return; /* a blank line: no command, no reply */
    argv[argc] = NULL;
    const command *cmd = cl->con ? find(cl->con, argv[0]) : NULL;
    if (!cmd) {
        char why[128];
        int n = snprintf(why, sizeof why, "unknown command '%.64s' (try help)", argv[0]);
        send_line(cl, "error: ", why, (size_t)n);
        return;
    }
    cl->busy = true;
    cl->in_handler = true;
    cl->reply.cl = cl;
    cmd->fn(cmd->arg, &cl->reply, argc, argv);
    cl->in_handler = false;
}

static void client_line(weft_line_receiver *lr, const char *line, size_t len)
{
    client *cl = (client *)lr;
    if (!cl->admitted || cl->gone)
        return;
    if (len && line[len - 1] == '\r')
        len--;
    memcpy(cl->line, line, len);
    cl->line[len] = '\0';
    if (memchr(cl->line, '\0', len)) {
        send_line(cl, "error: ", "a NUL byte in the line", 22);
        return;
    }
    run(cl, cl->line);
    if (cl->gone)
        return;
    if (cl->busy)
        weft_line_receiver_pause(lr); /* until the reply is finished */
    else if (++cl->burst >= MAX_BURST)
        resume_later(cl);
}

static void client_too_long(weft_line_receiver *lr, const char *data, size_t len)
{
    (void)data;
    (void)len;
    client *cl = (client *)lr;
    weft_transport *t = transport_of(cl);
    if (!t)
        return;
    weft_log(weft_reactor_logger(weft_transport_reactor(t)), WEFT_LOG_WARN, NS,
             "a client sent a line longer than {max} bytes: disconnected", WEFT_LOG_UINT("max", MAX_LINE));
    send_line(cl, "error: ", "line too long", 13);
    weft_transport_lose_connection(t);
}

/* Only the process's own user is served, whatever the socket file's mode:
 * root too is refused (an operator who is root runs weft ctl as the user
 * weft runs as), so that a console serves exactly one user. */
static void client_made(weft_line_receiver *lr)
{
    client *cl = (client *)lr;
    weft_console *con = cl->con;
    weft_transport *t = lr->base.transport;
    weft_logger *lg = weft_reactor_logger(con->r);
    weft_peer_credentials who;
    int rc = weft_transport_peer_credentials(t, &who);
    unsigned owner = (unsigned)geteuid();
    if (rc < 0 || who.uid != owner) {
        if (rc < 0)
            weft_log(lg, WEFT_LOG_WARN, NS, "refused a console client whose credentials are unknown: {error}",
                     WEFT_LOG_STR("error", weft_strerror(rc)));
        else
            weft_log(lg, WEFT_LOG_WARN, NS, "refused a console client: pid {pid} uid {uid} is not the owner (uid {owner})",
                     WEFT_LOG_INT("pid", who.pid), WEFT_LOG_UINT("uid", who.uid), WEFT_LOG_UINT("owner", owner));
        send_line(cl, "error: ", "permission denied", 17);
        weft_transport_lose_connection(t);
        return;
    }
    if (con->nclients >= con->max_clients) {
        weft_log(lg, WEFT_LOG_WARN, NS, "refused a console client: {max} clients connected already",
                 WEFT_LOG_UINT("max", con->max_clients));
        send_line(cl, "error: ", "too many clients", 16);
        weft_transport_lose_connection(t);
        return;
    }
    weft__list_push_back(&con->clients, &cl->link);
    con->nclients++;
    cl->admitted = true;
}

static const weft_line_receiver_ops client_ops = {
    .connection_made = client_made,
    .destroy = client_destroy,
    .line_received = client_line,
    .line_length_exceeded = client_too_long,
};

static weft_protocol *build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    weft_console *con = (weft_console *)f;
    client *cl = weft_calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    weft_line_receiver_init(&cl->lines, &client_ops);
    cl->lines.max_length = MAX_LINE;
    if (weft_line_receiver_set_delimiter(&cl->lines, "\n", 1) < 0) {
        weft_free(cl);
        return NULL;
    }
    cl->con = con;
    return &cl->lines.base;
}

/* ---- the console ---- */

static void console_release(weft_console *con)
{
    for (size_t i = 0; i < con->ncmds; i++) {
        weft_free(con->cmds[i].name);
        weft_free(con->cmds[i].help);
    }
    weft_free(con->cmds);
    weft_free(con->path);
    weft_free(con);
}

/* The factory's last user (the port, or the last client) has gone. */
static void factory_stopped(weft_factory *f)
{
    weft_console *con = (weft_console *)f;
    if (con->freed)
        console_release(con);
}

static const weft_factory_ops console_factory_ops = {.build = build, .stop = factory_stopped};

int weft_console_add_command(weft_console *c, const char *name, const char *help, weft_console_fn fn, void *arg)
{
    if (!name || !*name || strpbrk(name, " \t\r\n"))
        return WEFT_EINVAL;
    char *n = weft_strdup(name), *h = weft_strdup(help ? help : name);
    if (!n || !h) {
        weft_free(n);
        weft_free(h);
        return WEFT_ENOMEM;
    }
    command *cmd = (command *)find(c, name);
    if (!cmd) {
        command *v = weft_realloc(c->cmds, (c->ncmds + 1) * sizeof *v);
        if (!v) {
            weft_free(n);
            weft_free(h);
            return WEFT_ENOMEM;
        }
        c->cmds = v;
        cmd = &c->cmds[c->ncmds++];
    } else {
        weft_free(cmd->name);
        weft_free(cmd->help);
    }
    *cmd = (command){.name = n, .help = h, .fn = fn, .arg = arg};
    return 0;
}

const char *weft_console_path(const weft_console *c)
{
    return c->path;
}

/* ---- built-in commands ---- */

static void fill_status(void *arg, weft__text *t);

static void cmd_help(void *arg, weft_console_reply *reply, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    weft_console *con = arg;
    for (size_t i = 0; i < con->ncmds; i++)
        weft_console_reply_line(reply, "%s", con->cmds[i].help);
    weft_console_reply_ok(reply);
}

/* Each line of the status text as a line of the reply. */
static void cmd_status(void *arg, weft_console_reply *reply, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    weft_console *con = arg;
    size_t len;
    char *text = weft__text_make(fill_status, con->r, &len);
    if (!text) {
        weft_console_reply_error(reply, "out of memory");
        return;
    }
    for (char *line = text, *end; *line; line = end + 1) {
        end = strchr(line, '\n');
        *end = '\0';
        weft_console_reply_line(reply, "%s", line);
    }
    weft_free(text);
    weft_console_reply_ok(reply);
}

static const char *const level_names[] = {"debug", "info", "warn", "error", "critical"};

static void cmd_log_level(void *arg, weft_console_reply *reply, int argc, char **argv)
{
    weft_console *con = arg;
    if (argc != 2) {
        weft_console_reply_error(reply, "usage: log-level [NAMESPACE=]LEVEL (debug, info, warn, error, critical)");
        return;
    }
    char *eq = strchr(argv[1], '=');
    const char *ns = "", *name = argv[1];
    if (eq) {
        *eq = '\0';
        ns = argv[1];
        name = eq + 1;
    }
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(name, level_names[i]) == 0 || (i == WEFT_LOG_WARN && strcasecmp(name, "warning") == 0)) {
            if (weft_logger_set_level(weft_reactor_logger(con->r), ns, (weft_log_level)i) < 0) {
                weft_console_reply_error(reply, "out of memory");
                return;
            }
            weft_log(weft_reactor_logger(con->r), WEFT_LOG_WARN, NS, "log level of {ns} set to {level} from the console",
                     WEFT_LOG_STR("ns", *ns ? ns : "(default)"), WEFT_LOG_STR("level", level_names[i]));
            weft_console_reply_ok(reply);
            return;
        }
    }
    weft_console_reply_error(reply, "no log level '%s' (debug, info, warn, error, critical)", name);
}

/* ---- listening ---- */

/* A socket file already at path: refused when a process answers on it or
 * when it is no socket at all; left for the port to replace otherwise. */
static int check_path(const struct sockaddr_un *sun)
{
    struct stat st;
    if (lstat(sun->sun_path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0 ? -EADDRINUSE : 0;
    close(fd);
    return rc;
}

/* The socket's directory, made private when missing. */
static int make_directory(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

int weft_console_new(weft_reactor *r, const char *path, const weft_console_options *opts, weft_console **out)
{
    weft_console_options o = opts ? *opts : (weft_console_options){0};
    weft_address addr = {0};
    if (!path || !*path || strlen(path) >= sizeof addr.u.un.sun_path)
        return WEFT_EINVAL;
    addr.u.un.sun_family = AF_UNIX;
    memcpy(addr.u.un.sun_path, path, strlen(path) + 1);
    addr.len = (socklen_t)sizeof addr.u.un;
    int err;
    if ((err = make_directory(path)) < 0 || (err = check_path(&addr.u.un)) < 0)
        return err;
    weft_console *con = weft_calloc(1, sizeof *con);
    if (!con || !(con->path = weft_strdup(path))) {
        weft_free(con);
        return WEFT_ENOMEM;
    }
    con->factory.ops = &console_factory_ops;
    con->r = r;
    con->max_clients = o.max_clients ? o.max_clients : DEFAULT_CLIENTS;
    con->max_output = o.max_output ? o.max_output : DEFAULT_OUTPUT;
    weft__list_init(&con->clients);
    if ((err = weft_console_add_command(con, "help", "help: these lines", cmd_help, con)) < 0 ||
        (err = weft_console_add_command(con, "status", "status: uptime, connections, bytes, requests, loop lag, memory",
                                        cmd_status, con)) < 0 ||
        (err = weft_console_add_command(con, "log-level", "log-level [NAMESPACE=]LEVEL: set the log level", cmd_log_level,
                                        con)) < 0)
        goto fail;
    weft_listen_options lo = {.mode = 0600, .lockfile = true};
    if ((err = weft_listen(r, &addr, &con->factory, &lo, &con->port)) < 0)
        goto fail;
    if ((err = weft_reactor_measure_lag(r, 0)) < 0) {
        con->freed = true;
        weft_deferred_unref(weft_port_stop(con->port)); /* frees con */
        return err;
    }
    *out = con;
    return 0;
fail:
    console_release(con);
    return err;
}

void weft_console_free(weft_console *c)
{
    if (!c)
        return;
    c->freed = true;
    weft__list *l;
    while ((l = weft__list_pop_front(&c->clients))) {
        client *cl = WEFT_CONTAINER_OF(l, client, link);
        cl->link.next = NULL;
        cl->con = NULL;
        if (!cl->gone)
            weft_transport_abort_connection(cl->lines.base.transport);
    }
    c->nclients = 0;
    /* c goes with the factory's last user: held here so that it goes now
     * when the port was that user or had stopped already (a shutdown), or
     * with the last client still closing. */
    weft_factory_start(&c->factory);
    weft_deferred_unref(weft_port_stop(c->port));
    weft_factory_stop(&c->factory);
}

/* ---- the status text ---- */

static void put_port(void *arg, const char *name, bool listening, const weft_conn_stats *s)
{
    weft__text *t = arg;
    weft__text_put(t, "port listening=%d open=%llu accepted=%llu bytes_in=%llu bytes_out=%llu", listening,
                   (unsigned long long)s->open, (unsigned long long)s->accepted, (unsigned long long)s->bytes_in,
                   (unsigned long long)s->bytes_out);
    for (int i = 1; i <= 5; i++)
        weft__text_put(t, " http_%dxx=%llu", i, (unsigned long long)s->http_responses[i]);
    weft__text_put(t, " name=");
    /* The name ends the line: a UNIX path may hold spaces, not a newline. */
    for (const char *c = name; *c; c++)
        weft__text_put(t, "%c", (unsigned char)*c < 0x20 ? '?' : *c);
    weft__text_put(t, "\n");
}

static void fill_status(void *arg, weft__text *t)
{
    weft_reactor *r = arg;
    weft_reactor_stats s;
    weft_reactor_stats_get(r, &s);
    unsigned long long other = 0;
    for (int i = 6; i < 10; i++)
        other += s.all.http_responses[i];
    weft__text_put(t, "pid %d\n", s.pid);
    weft__text_put(t, "uptime_seconds %.3f\n", s.uptime);
    weft__text_put(t, "started_seconds %.3f\n", s.started);
    weft__text_put(t, "ports %zu\n", s.ports);
    weft__text_put(t, "connections_open %llu\n", (unsigned long long)s.all.open);
    weft__text_put(t, "connections_accepted %llu\n", (unsigned long long)s.all.accepted);
    weft__text_put(t, "bytes_in %llu\n", (unsigned long long)s.all.bytes_in);
    weft__text_put(t, "bytes_out %llu\n", (unsigned long long)s.all.bytes_out);
    for (int i = 1; i <= 5; i++)
        weft__text_put(t, "http_%dxx %llu\n", i, (unsigned long long)s.all.http_responses[i]);
    weft__text_put(t, "http_other %llu\n", other);
    weft__text_put(t, "loop_lag_seconds %.6f\n", s.lag_recent);
    weft__text_put(t, "loop_lag_max_seconds %.6f\n", s.lag_max);
    weft__text_put(t, "rss_bytes %llu\n", (unsigned long long)s.rss);
    weft__text_put(t, "open_fds %llu\n", (unsigned long long)s.open_fds);
    weft__text_put(t, "max_fds %llu\n", (unsigned long long)s.max_fds);
    weft__text_put(t, "cpu_seconds %.3f\n", s.cpu_seconds);
    weft_reactor_port_stats(r, put_port, t);
}

size_t weft_console_status(weft_reactor *r, char *buf, size_t size)
{
    weft__text t = weft__text_into(buf, size);
    fill_status(r, &t);
    return t.len;
}

size_t weft_console_default_path(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, size, "%s/weft.sock", xdg);
    else if (geteuid() == 0)
        n = snprintf(buf, size, "/run/weft/weft.sock");
    else
        n = snprintf(buf, size, "/tmp/weft-%u/weft.sock", (unsigned)geteuid());
    return n > 0 ? (size_t)n : 0;
}
