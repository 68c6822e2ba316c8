/* SPDX-License-Identifier: MIT */
/*
 * Socket addresses: IPv4, IPv6 and UNIX (paths and Linux abstract names),
 * held by value. Twisted's IPv4Address / IPv6Address / UNIXAddress in one
 * type.
 */
#ifndef WEFT_ADDRESS_H
#define WEFT_ADDRESS_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "base.h"

typedef struct weft_address {
    socklen_t len; /* 0: no address */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage storage;
    } u;
} weft_address;

/* Parses a numeric IPv4 or IPv6 address (no brackets) and a port. Returns 0
 * or WEFT_EINVAL. */
WEFT_API int weft_address_from_ip(const char *ip, int port, weft_address *out);

/* A UNIX socket address; a leading '@' names an abstract socket. Returns 0,
 * or WEFT_EINVAL when the path is empty or too long. */
WEFT_API int weft_address_from_unix(const char *path, weft_address *out);

/* AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC for no address. */
WEFT_API int weft_address_family(const weft_address *a);

/* The port of an IP address; -1 for others. */
WEFT_API int weft_address_port(const weft_address *a);

/*
 * Text for humans and logs, snprintf-style (returns the length needed):
 * "127.0.0.1:8080", "[::1]:8080", "unix:/run/x.sock", "unix:@name",
 * "unix:(unnamed)".
 */
WEFT_API size_t weft_address_format(const weft_address *a, char *buf, size_t size);

/* The host alone, snprintf-style: "127.0.0.1", "::1" (no brackets, no
 * port); other kinds as weft_address_format ("unix:/run/x.sock"). For
 * logs and X-Forwarded-For. */
WEFT_API size_t weft_address_host(const weft_address *a, char *buf, size_t size);

/* Whether two addresses are the same. */
WEFT_API bool weft_address_equal(const weft_address *a, const weft_address *b);

#endif
