/* SPDX-License-Identifier: MIT */
/*
 * The systemd: server endpoint, Twisted's _SystemdParser: a listening socket
 * inherited through systemd's socket activation (sd_listen_fds(3):
 * LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), picked by its place among those
 * passed or by the name its socket unit gives it (FileDescriptorName=):
 *
 *     systemd:index=0   systemd:name=web   systemd:domain=INET:index=0
 *
 * Twisted requires domain (it does not look at the socket); here it is
 * optional and checked against the socket when given, so Twisted's strings
 * work unchanged. Twisted's positional order: domain, index, name.
 *
 * The sockets are looked up when the endpoint listens, not when the string
 * is parsed: a bad string is a usage error, a socket that was not passed is
 * the environment's. The environment is left as it is (Twisted unsets it) so
 * that every systemd: endpoint of the process, and a second listen of the
 * same one, finds the same sockets; processes weft starts do not take them,
 * as LISTEN_PID names this one and sd_listen_fds marks them close-on-exec.
 *
 * The port listens on a duplicate of the inherited descriptor
 * (weft_adopt_stream_port): stopping the port closes the duplicate only.
 * The inherited descriptor stays open until the process exits, so the
 * socket goes on queueing connections and the same string can listen again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "endpoint_int.h"
#include "weft/error.h"
#include "weft/failure.h"

/* Twisted's domain names: the AF_ constants without their prefix. */
static const struct {
    const char *name;
    int family;
} domains[] = {{"INET", AF_INET}, {"INET6", AF_INET6}, {"UNIX", AF_UNIX}};

static const char *domain_name(int family)
{
    for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++)
        if (domains[i].family == family)
            return domains[i].name;
    return NULL;
}

/* What systemd accepts as a FileDescriptorName= (fdname_is_valid): 1 to 255
 * printable ASCII characters, no ':' (the separator of LISTEN_FDNAMES). */
static int check_name(weft__ep_parse *p, const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return weft__ep_error(p, "name ", s, " must have 1 to 255 characters");
    for (const char *c = s; *c; c++)
        if (*c == ':' || (unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            return weft__ep_error(p, "name ", s, " is not a systemd name (printable ASCII, no ':')");
    return 0;
}

static int build_systemd(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e)
{
    const char *domain = weft__ep_arg(a, "domain"), *index = weft__ep_arg(a, "index");
    const char *name = weft__ep_arg(a, "name");
    /* The domain first: "systemd:0" is domain 0 (Twisted's order), and the
     * message should say so. */
    if (domain) {
        for (size_t i = 0; i < sizeof domains / sizeof domains[0] && !e->sd_family; i++)
            if (strcasecmp(domain, domains[i].name) == 0)
                e->sd_family = domains[i].family;
        if (!e->sd_family)
            return weft__ep_error(p, "domain ", domain,
                                  strspn(domain, "0123456789") == strlen(domain) && *domain
                                      ? " is not INET, INET6 or UNIX (an index is written index=N)"
                                      : " is not INET, INET6 or UNIX");
    }
    if (!index == !name)
        return weft__ep_error(p, index ? "give index or name, not both" : "missing index or name", NULL, NULL);
    e->sd_index = -1;
    if (index)
        return weft__ep_index(p, "index", index, &e->sd_index);
    int err = check_name(p, name);
    return err < 0 ? err : weft__ep_strdup(p, name, &e->sd_name);
}

static void describe_systemd(const weft_endpoint *e, weft__ep_out *o)
{
    if (e->sd_family)
        weft__ep_out_fmt(o, ":domain=%s", domain_name(e->sd_family));
    if (e->sd_name) {
        weft__ep_out_text(o, ":name=");
        weft__ep_out_value(o, e->sd_name, strlen(e->sd_name));
    } else {
        weft__ep_out_fmt(o, ":index=%d", e->sd_index);
    }
}

/* Why sd_listen_fds found no sockets: it does not say, the environment
 * does. */
static weft_failure *none_passed(void)
{
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    if (!fds)
        return weft_failure_new(WEFT_ENOENT, "no sockets were passed by systemd (LISTEN_FDS is not set: is weft "
                                             "started by a socket unit, or by systemd-socket-activate?)");
    if (pid && strtol(pid, NULL, 10) != (long)getpid())
        return weft_failure_new(WEFT_ENOENT, "the sockets passed are for another process (LISTEN_PID=%s, this is %ld)",
                                pid, (long)getpid());
    return weft_failure_new(WEFT_ENOENT, "no sockets were passed by systemd (LISTEN_FDS=%s)", fds);
}

/* "no socket named 'x' (systemd passed 'a', 'b')". */
static weft_failure *no_such_name(const char *name, char **names, int n)
{
    char list[512];
    weft__ep_out o = {.buf = list, .size = sizeof list};
    for (int i = 0; i < n; i++)
        weft__ep_out_fmt(&o, "%s'%s'", i ? ", " : "", names ? names[i] : "unknown");
    return weft_failure_new(WEFT_ENOENT, "no socket named '%s' (systemd passed %s; FileDescriptorName= names them)",
                            name, list);
}

/* The inherited descriptor e names, or a failure saying why there is none. */
static int find_fd(const weft_endpoint *e, int *fd, weft_failure **why)
{
    char **names = NULL;
    int n = sd_listen_fds_with_names(0, &names);
    *fd = -1;
    if (n < 0) {
        *why = weft_failure_new(n, "cannot read the sockets systemd passed: %s", weft_strerror(n));
    } else if (n == 0) {
        *why = none_passed();
    } else if (!e->sd_name) {
        if (e->sd_index < n)
            *fd = SD_LISTEN_FDS_START + e->sd_index;
        else
            *why = weft_failure_new(WEFT_ENOENT, "no socket at index %d (systemd passed %d: index 0 to %d)",
                                    e->sd_index, n, n - 1);
    } else {
        for (int i = 0; i < n && *fd < 0; i++)
            if (names && strcmp(names[i], e->sd_name) == 0)
                *fd = SD_LISTEN_FDS_START + i;
        if (*fd < 0)
            *why = no_such_name(e->sd_name, names, n);
    }
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    return *fd < 0 ? (*why ? weft_failure_code(*why) : WEFT_ENOMEM) : 0;
}

/* Why the descriptor cannot be listened on, from weft_adopt_stream_port's
 * code. */
static weft_failure *refused(const weft_endpoint *e, int fd, int err)
{
    switch (err) {
    case -ENOTSOCK:
    case -EBADF:
        return weft_failure_new(err, "descriptor %d is not an open socket", fd);
    case -ESOCKTNOSUPPORT:
        return weft_failure_new(err, "descriptor %d is not a stream socket (ListenStream=, not ListenDatagram=)", fd);
    case WEFT_EINVAL:
        return weft_failure_new(err, "descriptor %d is a socket that is not listening (Accept=no is needed)", fd);
    case -EAFNOSUPPORT: {
        int family = 0;
        socklen_t len = sizeof family;
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len);
        const char *have = domain_name(family);
        if (e->sd_family && have)
            return weft_failure_new(err, "descriptor %d is a socket of domain %s, not %s", fd, have,
                                    domain_name(e->sd_family));
        return weft_failure_new(err, "descriptor %d is not an INET, INET6 or UNIX socket", fd);
    }
    default:
        return NULL; /* the code says it all */
    }
}

static int adopt(const weft_endpoint *e, weft_factory *f, weft_port **out, void *arg)
{
    return weft_adopt_stream_port(e->r, *(const int *)arg, e->sd_family, f, out);
}

static int listen_systemd(const weft_endpoint *e, weft_factory *f, weft_port **out, weft_failure **why)
{
    int fd, err;
    if ((err = find_fd(e, &fd, why)) < 0)
        return err;
    /* Through weft__ep_listen_with, so that haproxy:systemd: reads the
     * PROXY header on the adopted socket too. */
    if ((err = weft__ep_listen_with(e, f, adopt, &fd, out)) < 0)
        *why = refused(e, fd, err);
    return err;
}

static const weft__ep_param systemd_params[] = {
    {"domain", "INET|INET6|UNIX", "the socket's address family, checked when given", "any (Twisted requires it)"},
    {"index", "N", "the socket's place among those passed (LISTEN_FDS), from 0", "none; give index or name"},
    {"name", "NAME", "the socket's FileDescriptorName= (LISTEN_FDNAMES)", "none; give index or name"},
};

const weft__ep_kind weft__ep_systemd_server = {
    .name = "systemd", .server = true, .family = AF_UNSPEC,
    .summary = "a listening socket passed by systemd's socket activation",
    .example = "systemd:name=web",
    .params = systemd_params, .nparams = 3, .npositional = 3,
    .build = build_systemd, .describe = describe_systemd, .listen = listen_systemd,
};
