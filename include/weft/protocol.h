/* SPDX-License-Identifier: MIT */
/*
 * Protocols, factories and producers: Twisted's IProtocol, IProtocolFactory
 * and IPushProducer/IPullProducer, as tables of functions over structs the
 * user embeds as their first member:
 *
 *     typedef struct echo { weft_protocol base; size_t bytes; } echo;
 *
 * A factory builds one protocol per connection. weft calls the protocol's
 * events on the reactor's thread, in this order: connection_made once; then
 * data_received and at most one eof_received; then connection_lost exactly
 * once; then destroy. A protocol may close its transport from inside any of
 * them.
 */
#ifndef WEFT_PROTOCOL_H
#define WEFT_PROTOCOL_H

#include "address.h"
#include "base.h"
#include "failure.h"

typedef struct weft_transport weft_transport;
typedef struct weft_protocol weft_protocol;
typedef struct weft_factory weft_factory;
typedef struct weft_producer weft_producer;

typedef struct weft_protocol_ops {
    /* The connection is up; p->transport is set and stays valid until
     * connection_lost returns. */
    void (*connection_made)(weft_protocol *p);
    /* Bytes arrived; data is borrowed for the call. */
    void (*data_received)(weft_protocol *p, const void *data, size_t len);
    /* The peer closed its writing side (TCP half-close). Return true to keep
     * ours open and go on writing; false (or a NULL function) closes the
     * connection once what is buffered has been sent. */
    bool (*eof_received)(weft_protocol *p);
    /* The connection is gone. The reason's code is WEFT_EOF for a clean close
     * (Twisted's ConnectionDone) and the error otherwise (ConnectionLost);
     * borrowed for the call. */
    void (*connection_lost)(weft_protocol *p, const weft_failure *reason);
    /* Frees the protocol; called once, last. NULL: the protocol is not weft's
     * to free. */
    void (*destroy)(weft_protocol *p);
} weft_protocol_ops;

struct weft_protocol {
    const weft_protocol_ops *ops;
    weft_transport *transport; /* set by weft; NULL outside a connection */
    weft_factory *factory;     /* the factory that built it, or NULL */
    /* Frees the protocol's memory after its destroy: set by a factory that
     * allocated it (weft_protocol_factory); NULL otherwise. */
    weft_destroy_fn release;
};

typedef struct weft_factory_ops {
    /* A protocol for a new connection from (or to) `peer`, or NULL to refuse
     * it (the connection is closed). */
    weft_protocol *(*build)(weft_factory *f, const weft_address *peer);
    /* doStart / doStop: called when the first port or connection starts using
     * the factory, and when the last stops. May be NULL. */
    void (*start)(weft_factory *f);
    void (*stop)(weft_factory *f);
} weft_factory_ops;

struct weft_factory {
    const weft_factory_ops *ops;
    void *arg;      /* the user's: weft never touches it */
    unsigned users; /* weft's count of ports and connections using it */
};

/* For code that uses factories outside endpoints (wrappers, tests): counts a
 * user and calls start on the first / stop on the last. */
WEFT_API void weft_factory_start(weft_factory *f);
WEFT_API void weft_factory_stop(weft_factory *f);

/*
 * Twisted's Factory.forProtocol: a factory whose protocols are `size`
 * bytes of weft's memory, zeroed, set up by init(p, arg) (which sets
 * p->ops, or calls a receiver's init), and freed by weft after their
 * destroy - which then frees only what the protocol holds, if anything.
 * A value: make one with WEFT_PROTOCOL_FACTORY and pass &f.base.
 *
 *     weft_protocol_factory f = WEFT_PROTOCOL_FACTORY(chat, chat_init, &room);
 */
typedef struct weft_protocol_factory {
    weft_factory base;
    size_t size;
    void (*init)(weft_protocol *p, void *arg);
} weft_protocol_factory;

WEFT_API extern const weft_factory_ops weft_protocol_factory_ops;

#define WEFT_PROTOCOL_FACTORY(type, init_fn, user_arg)                                                          \
    ((weft_protocol_factory){.base = {.ops = &weft_protocol_factory_ops, .arg = (user_arg)},                   \
                             .size = sizeof(type),                                                              \
                             .init = (init_fn)})

/* Ends a protocol that will not be used (or is done): its destroy, then
 * its release. For code that builds protocols outside connections. */
WEFT_API void weft_protocol_destroy(weft_protocol *p);

/*
 * A producer: something a consumer (a transport) can pause when its buffer
 * fills and resume when it drains. Streaming producers (IPushProducer) write
 * until paused; pull producers (IPullProducer) write once each time resume
 * is called. stop means the consumer is gone and will take no more.
 */
typedef struct weft_producer_ops {
    void (*pause)(weft_producer *p);  /* NULL for pull producers */
    void (*resume)(weft_producer *p); /* pull producers: "produce once now" */
    void (*stop)(weft_producer *p);
} weft_producer_ops;

struct weft_producer {
    const weft_producer_ops *ops;
    void *arg; /* the user's: weft never touches it */
};

#endif
