/* SPDX-License-Identifier: MIT */
/*
 * `weft ctl`: sends one command to a running weft's console (console.h)
 * and prints its reply. A plain blocking client: one connection, one line
 * out, lines in until "ok" or "error: ...". Exit status 0 on ok, 1 on an
 * error reply or a failure, 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *out)
{
    char path[108];
    weft_console_default_path(path, sizeof path);
    fprintf(out,
            "usage: weft ctl [--socket PATH] [--timeout SECONDS] COMMAND [ARG]...\n"
            "\n"
            "Sends COMMAND to a running weft's admin console and prints the reply:\n"
            "  status                     uptime, connections and bytes per port, requests,\n"
            "                             loop lag, memory, descriptors\n"
            "  log-level [NS=]LEVEL       set the log level (debug, info, warn, error, critical)\n"
            "  help                       every command the process offers\n"
            "Exits 0 when the reply is ok, 1 on an error reply or failure, 2 on bad usage.\n"
            "\n"
            "  -s, --socket PATH      the console's socket (default %s)\n"
            "  -t, --timeout SECONDS  how long to wait for the reply (default 30)\n"
            "  -h, --help             this text\n",
            path);
}

/* Only a console of our own user or root's is spoken to: in a directory
 * others may write, the socket may not be the process we mean. */
static bool trusted(int fd, const char *path)
{
    struct ucred who;
    socklen_t len = sizeof who;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &who, &len) < 0) {
        fprintf(stderr, "weft ctl: %s: cannot tell who listens: %s\n", path, strerror(errno));
        return false;
    }
    if (who.uid == geteuid() || who.uid == 0 || geteuid() == 0)
        return true;
    fprintf(stderr, "weft ctl: %s: the console belongs to uid %u, not to us (uid %u)\n", path, (unsigned)who.uid,
            (unsigned)geteuid());
    return false;
}

static int dial(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        fprintf(stderr, "weft ctl: %s: path too long for a socket\n", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        fprintf(stderr, "weft ctl: cannot reach the console at %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!trusted(fd, path)) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Prints the reply's lines; the status its last line says. */
static int read_reply(int fd, double timeout)
{
    char buf[8192];
    size_t len = 0;
    for (;;) {
        char *nl;
        while ((nl = memchr(buf, '\n', len))) {
            *nl = '\0';
            if (strncmp(buf, "| ", 2) == 0) {
                puts(buf + 2);
            } else if (strcmp(buf, "ok") == 0) {
                return fflush(stdout) == 0 ? WEFT_CLI_OK : WEFT_CLI_FAILED;
            } else if (strncmp(buf, "error: ", 7) == 0) {
                fflush(stdout);
                fprintf(stderr, "weft ctl: %s\n", buf + 7);
                return WEFT_CLI_FAILED;
            } else {
                fprintf(stderr, "weft ctl: the console said something not in its protocol: %s\n", buf);
                return WEFT_CLI_FAILED;
            }
            len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len);
        }
        if (len == sizeof buf) {
            fprintf(stderr, "weft ctl: a reply line longer than %zu bytes\n", sizeof buf);
            return WEFT_CLI_FAILED;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, (int)(timeout * 1000));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0) {
            fprintf(stderr, "weft ctl: no reply within %g s\n", timeout);
            return WEFT_CLI_FAILED;
        }
        ssize_t n = ready < 0 ? -1 : read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "weft ctl: the console closed the connection before its reply was complete\n");
            return WEFT_CLI_FAILED;
        }
        len += (size_t)n;
    }
}

static int ctl_main(int argc, char **argv)
{
    static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    char path[108];
    weft_console_default_path(path, sizeof path);
    const char *socket_path = path;
    double timeout = 30;
    int c;
    /* "+": options end at the command, whose own words may start with '-' */
    while ((c = getopt_long(argc, argv, "+s:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            socket_path = optarg;
            break;
        case 't':
            if (!weft_cli_parse_seconds(optarg, &timeout) || timeout <= 0) {
                fprintf(stderr, "weft ctl: --timeout wants a number of seconds above 0, not '%s'\n", optarg);
                return WEFT_CLI_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return WEFT_CLI_OK;
        default:
            usage(stderr);
            return WEFT_CLI_USAGE;
        }
    }
    if (optind >= argc) {
        fputs("weft ctl: which command? (weft ctl help lists them)\n", stderr);
        usage(stderr);
        return WEFT_CLI_USAGE;
    }
    /* One line: the words joined by spaces, none of them able to split it. */
    size_t n = 1;
    for (int i = optind; i < argc; i++) {
        if (!*argv[i] || strpbrk(argv[i], " \t\r\n")) {
            fprintf(stderr, "weft ctl: '%s': a word of a command can be neither empty nor hold spaces\n", argv[i]);
            return WEFT_CLI_USAGE;
        }
        n += strlen(argv[i]) + 1;
    }
    char *line = malloc(n);
    if (!line) {
        fputs("weft ctl: out of memory\n", stderr);
        return WEFT_CLI_FAILED;
    }
    line[0] = '\0';
    for (int i = optind; i < argc; i++) {
        strcat(line, argv[i]);
        strcat(line, i + 1 < argc ? " " : "\n");
    }
    int status = WEFT_CLI_FAILED;
    int fd = dial(socket_path);
    if (fd >= 0) {
        /* A console that refuses us may close before our line is in: its
         * "error: ..." is still there to read. */
        if (send_all(fd, line, strlen(line)) || errno == EPIPE || errno == ECONNRESET)
            status = read_reply(fd, timeout);
        else
            fprintf(stderr, "weft ctl: cannot send to the console: %s\n", strerror(errno));
        close(fd);
    }
    free(line);
    return status;
}

const weft_command weft_cli_ctl = {.name = "ctl", .summary = "talk to a running weft's admin console", .run = ctl_main};
