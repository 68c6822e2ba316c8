/* SPDX-License-Identifier: MIT */
/* weft: an event-driven networking engine for C. This header includes all of
 * weft's public headers; each documents one concept. */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include "address.h"
#include "alloc.h"
#include "base.h"
#include "basic.h"
#include "client_service.h"
#include "coro.h"
#include "deferred.h"
#include "deferred_list.h"
#include "deferred_queue.h"
#include "endpoint.h"
#include "error.h"
#include "failure.h"
#include "flow.h"
#include "log.h"
#include "looping_call.h"
#include "policies.h"
#include "portforward.h"
#include "process.h"
#include "protocol.h"
#include "reactor.h"
#include "resolver.h"
#include "result.h"
#include "semaphore.h"
#include "socket.h"
#include "threadpool.h"
#include "timer.h"
#include "tls.h"
#include "transport.h"
#include "trigger.h"
#include "udp.h"
#include "wrapper.h"
#include "wrapping_factory.h"
#include "wire.h"

#endif
