/* SPDX-License-Identifier: MIT */
/* The socket stream transport (stream.c), for listen.c and connect.c. */
#ifndef WEFT_NET_STREAM_H
#define WEFT_NET_STREAM_H

#include "transport_int.h"

/* Wraps a connected non-blocking socket. On success the transport owns fd;
 * on failure the caller still does. Start it with weft__transport_start. */
int weft__stream_new(weft_reactor *r, int fd, weft_protocol *p, weft_transport **out);

#endif
