/* SPDX-License-Identifier: MIT */
/* Socket addresses by value: parsing numeric IPs and UNIX paths, and
 * formatting any of them for humans. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "weft/address.h"
#include "weft/error.h"

int weft_address_from_ip(const char *ip, int port, weft_address *out)
{
    if (port < 0 || port > 65535)
        return WEFT_EINVAL;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, ip, &out->u.in.sin_addr) == 1) {
        out->u.in.sin_family = AF_INET;
        out->u.in.sin_port = htons((uint16_t)port);
        out->len = sizeof out->u.in;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &out->u.in6.sin6_addr) == 1) {
        out->u.in6.sin6_family = AF_INET6;
        out->u.in6.sin6_port = htons((uint16_t)port);
        out->len = sizeof out->u.in6;
        return 0;
    }
    return WEFT_EINVAL;
}

int weft_address_from_unix(const char *path, weft_address *out)
{
    size_t n = strlen(path);
    memset(out, 0, sizeof *out);
    /* A path needs its NUL; an abstract name ('@' standing for the leading
     * NUL) fills sun_path exactly. */
    if (n == 0 || n > sizeof out->u.un.sun_path || (path[0] != '@' && n == sizeof out->u.un.sun_path))
        return WEFT_EINVAL;
    out->u.un.sun_family = AF_UNIX;
    memcpy(out->u.un.sun_path, path, n);
    if (path[0] == '@') {
        /* Abstract: a leading NUL, and the length says where the name ends. */
        out->u.un.sun_path[0] = '\0';
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

int weft_address_family(const weft_address *a)
{
    return a->len ? a->u.sa.sa_family : AF_UNSPEC;
}

int weft_address_port(const weft_address *a)
{
    switch (weft_address_family(a)) {
    case AF_INET:
        return ntohs(a->u.in.sin_port);
    case AF_INET6:
        return ntohs(a->u.in6.sin6_port);
    default:
        return -1;
    }
}

size_t weft_address_format(const weft_address *a, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    int n;
    switch (weft_address_family(a)) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof ip);
        n = snprintf(buf, size, "%s:%d", ip, weft_address_port(a));
        break;
    case AF_INET6:
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
        n = snprintf(buf, size, "[%s]:%d", ip, weft_address_port(a));
        break;
    case AF_UNIX: {
        size_t plen = a->len > offsetof(struct sockaddr_un, sun_path) ? a->len - offsetof(struct sockaddr_un, sun_path) : 0;
        if (plen == 0)
            n = snprintf(buf, size, "unix:(unnamed)");
        else if (a->u.un.sun_path[0] == '\0')
            n = snprintf(buf, size, "unix:@%.*s", (int)plen - 1, a->u.un.sun_path + 1);
        else
            n = snprintf(buf, size, "unix:%.*s", (int)strnlen(a->u.un.sun_path, plen), a->u.un.sun_path);
        break;
    }
    default:
        n = snprintf(buf, size, "(no address)");
    }
    return n > 0 ? (size_t)n : 0;
}

size_t weft_address_host(const weft_address *a, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    int fam = weft_address_family(a);
    if (fam != AF_INET && fam != AF_INET6)
        return weft_address_format(a, buf, size);
    inet_ntop(fam, fam == AF_INET ? (const void *)&a->u.in.sin_addr : (const void *)&a->u.in6.sin6_addr, ip,
              sizeof ip);
    int n = snprintf(buf, size, "%s", ip);
    return n > 0 ? (size_t)n : 0;
}

bool weft_address_equal(const weft_address *a, const weft_address *b)
{
    return a->len == b->len && memcmp(&a->u, &b->u, a->len) == 0;
}
