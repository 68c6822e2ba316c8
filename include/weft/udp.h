/* SPDX-License-Identifier: MIT */
/*
 * UDP, after Twisted's DatagramProtocol and listenUDP: a socket bound to an
 * address delivers each datagram with its sender; sending takes an address,
 * or none once the socket is connected to one peer. Multicast groups can be
 * joined and left. Datagrams are never buffered: a send the kernel cannot
 * take now is dropped and reported (WEFT_EAGAIN), as UDP itself would.
 */
#ifndef WEFT_UDP_H
#define WEFT_UDP_H

#include "address.h"
#include "base.h"

typedef struct weft_udp weft_udp;
typedef struct weft_datagram_protocol weft_datagram_protocol;

typedef struct weft_datagram_ops {
    /* The socket is ready (startProtocol); p->transport is set. */
    void (*started)(weft_datagram_protocol *p);
    /* One datagram; data and from are borrowed for the call. */
    void (*datagram_received)(weft_datagram_protocol *p, const void *data, size_t len, const weft_address *from);
    /* Connected sockets only: the peer refused a datagram (ICMP). */
    void (*connection_refused)(weft_datagram_protocol *p);
    /* The socket is closed (stopProtocol); then destroy, if set, frees p. */
    void (*stopped)(weft_datagram_protocol *p);
    void (*destroy)(weft_datagram_protocol *p);
} weft_datagram_ops;

struct weft_datagram_protocol {
    const weft_datagram_ops *ops;
    weft_udp *transport; /* set by weft while the socket is open */
};

/*
 * Binds a UDP socket to addr (port 0: any free port) for protocol p
 * (borrowed until its destroy, or until stopped returns when it has none).
 * started runs from the loop, never inside this call. Returns 0 or an error
 * (-EADDRINUSE, WEFT_ENOMEM...).
 */
WEFT_API WEFT_NODISCARD int weft_udp_bind(weft_reactor *r, const weft_address *addr, weft_datagram_protocol *p,
                                          weft_udp **out);

/* Sends one datagram to `to` (NULL on a connected socket). Returns 0,
 * WEFT_EAGAIN (dropped: the kernel's buffer is full), -EMSGSIZE, or another
 * error; -ECONNREFUSED on a connected socket whose peer refused earlier
 * datagrams. */
WEFT_API int weft_udp_send(weft_udp *u, const void *data, size_t len, const weft_address *to);

/* Connects the socket to one peer: sends go there, and only its datagrams
 * arrive. Returns 0 or an error. */
WEFT_API int weft_udp_connect(weft_udp *u, const weft_address *peer);

/* Multicast: join or leave `group` (a numeric IPv4 or IPv6 address) on the
 * interface with address `iface` (IPv4) or index (IPv6; NULL: the default).
 * Loopback mode says whether our own multicast datagrams come back to us;
 * TTL bounds how far they go. */
WEFT_API int weft_udp_join_group(weft_udp *u, const char *group, const char *iface);
WEFT_API int weft_udp_leave_group(weft_udp *u, const char *group, const char *iface);
WEFT_API int weft_udp_set_multicast_loopback(weft_udp *u, bool on);
WEFT_API int weft_udp_set_multicast_ttl(weft_udp *u, int ttl);
/* The interface outgoing multicast leaves by: its IPv4 address, or for IPv6
 * its name (Twisted's setOutgoingInterface). */
WEFT_API int weft_udp_set_multicast_interface(weft_udp *u, const char *iface);

/* The bound address, with the real port when 0 was asked. */
WEFT_API int weft_udp_address(const weft_udp *u, weft_address *out);

WEFT_API void weft_udp_pause_reading(weft_udp *u);
WEFT_API void weft_udp_resume_reading(weft_udp *u);

/* Closes the socket at once; stopped and destroy run in the reactor's close
 * step, never inside this call. Safe from inside any callback. */
WEFT_API void weft_udp_close(weft_udp *u);

#endif
