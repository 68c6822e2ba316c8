/* SPDX-License-Identifier: MIT */
/* What the services' files share inside the library. */
#ifndef WEFT_APP_SERVICE_INT_H
#define WEFT_APP_SERVICE_INT_H

#include "weft/service.h"

/* The kind of s (what it was made with; a group's are all NULL), so a kind
 * can tell its own services from others. */
const weft_service_ops *weft__service_ops(const weft_service *s);

/* A bound server service's listening socket (borrowed), or -1. */
int weft__server_service_fd(const weft_service *s);

#endif
