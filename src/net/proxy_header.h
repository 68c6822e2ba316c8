/* SPDX-License-Identifier: MIT */
/*
 * The PROXY protocol's header (HAProxy's proxy-protocol.txt, versions 1 and
 * 2), read with no I/O: given the bytes a connection has received so far,
 * says whether they hold a complete header, are the beginning of one, or
 * can never become one. Shared by the haproxy: wrapper (haproxy.c), its
 * tests and the fuzz target.
 *
 * Stricter than the text's "may"s: a v1 line must end in CRLF within 107
 * bytes and have exactly its fields (addresses in their family's canonical
 * form, ports 0-65535 without leading zeros); a v2 header must have a
 * known version, command, family and protocol, room for its family's
 * addresses, well-framed TLVs (skipped, not interpreted), and be at most
 * WEFT__PROXY_V2_MAX bytes. Tolerant where the text recommends it: a
 * header may arrive a byte at a time.
 */
#ifndef WEFT_NET_PROXY_HEADER_H
#define WEFT_NET_PROXY_HEADER_H

#include <sys/types.h>

#include "weft/address.h"

/* The longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6
 * addresses and ports). */
#define WEFT__PROXY_V1_MAX 107
/* The longest v2 header accepted: 16 bytes, UNIX addresses (216) and room
 * for every TLV HAProxy sends (ALPN, authority, unique id, SSL's). A
 * header announcing more is refused before it is read. */
#define WEFT__PROXY_V2_MAX 4096

typedef struct weft__proxy_header {
    int version; /* 1 or 2 */
    /* The client's address and the one it connected to; both with len 0
     * when the header gives none (v1 UNKNOWN, v2 LOCAL, v2 UNSPEC): the
     * connection's own addresses stand. */
    weft_address source, destination;
} weft__proxy_header;

/*
 * Reads a header at the start of buf (len bytes, borrowed). Returns its
 * length with *out filled when it is complete; 0 when the bytes so far
 * begin a valid header and more are needed; -EPROTO when they cannot begin
 * one, with *why a static sentence saying what is wrong (for logs).
 */
ssize_t weft__proxy_header_parse(const void *buf, size_t len, weft__proxy_header *out, const char **why);

/*
 * Writes h as a version 1 or 2 header into buf (size bytes; 16 + 216 is
 * always enough), as HAProxy would: v1 "PROXY TCP4|TCP6 ..." or "PROXY
 * UNKNOWN", v2 PROXY over TCP or UNIX stream, or LOCAL when h has no
 * addresses. Returns its length, or 0 when h cannot be written in that
 * version (UNIX addresses in v1, families that differ) or does not fit.
 * For tests and the fuzz target's round trip.
 */
size_t weft__proxy_header_write(const weft__proxy_header *h, int version, void *buf, size_t size);

#endif
