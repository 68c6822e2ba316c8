/* SPDX-License-Identifier: MIT */
/*
 * Framing protocols, after twisted.protocols.basic: lines (LineReceiver and
 * LineOnlyReceiver), netstrings (NetstringReceiver) and strings with a
 * big-endian length prefix (Int8/16/32StringReceiver).
 *
 * Each receiver is a weft_protocol that turns bytes into messages. Embed it
 * as the first member of your protocol and give it a table of your events;
 * the receiver takes the protocol's data_received and passes the connection
 * events (connection_made, eof_received, connection_lost, destroy) on to
 * your table, typed:
 *
 *     typedef struct chat { weft_line_receiver lines; int said; } chat;
 *
 *     static void chat_line(weft_line_receiver *lr, const char *line, size_t len)
 *     {
 *         ((chat *)lr)->said++;
 *         weft_line_receiver_send_line(lr, line, len);
 *     }
 *     static void chat_free(weft_line_receiver *lr) { weft_free(lr); }
 *     static const weft_line_receiver_ops chat_ops = {
 *         .line_received = chat_line, .destroy = chat_free};
 *
 *     static weft_protocol *build(weft_factory *f, const weft_address *peer)
 *     {
 *         chat *c = weft_calloc(1, sizeof *c);
 *         if (!c)
 *             return NULL;
 *         weft_line_receiver_init(&c->lines, &chat_ops);
 *         return &c->lines.base;
 *     }
 *
 * Bytes may arrive split anywhere; messages handed to your callbacks are
 * whole and borrowed for the call. A callback may call any function here on
 * its own receiver, close the transport, or write.
 *
 * Bad input from the network - a line longer than max_length, a malformed
 * netstring, a length prefix above max_length - is logged with the peer's
 * address (level warn, namespace "weft.basic") and the connection is lost;
 * the line and prefix limits can be handled otherwise through the ops, as
 * Twisted's lineLengthExceeded and lengthLimitExceeded. Once the transport
 * is closing (lose_connection, abort), a receiver delivers nothing more,
 * not even messages it has buffered.
 *
 * Memory: init allocates nothing. A receiver buffers only what it has not
 * delivered yet (bounded by max_length plus one read for lines and
 * prefixed strings) and frees it when the connection is lost, after your
 * connection_lost, or when the protocol is destroyed. Use the functions
 * below while connected (from connection_made until connection_lost
 * returns), on the reactor's thread. Fields marked private are the
 * receiver's; the others may be read, and set where they say so.
 */
#ifndef WEFT_BASIC_H
#define WEFT_BASIC_H

#include <stdarg.h>

#include "base.h"
#include "failure.h"
#include "protocol.h"

/* Private: the receive buffer every receiver here keeps. Unparsed bytes sit
 * either in the caller's chunk (parsed in place, no copy) or in buf. */
typedef struct weft__basic_input {
    char *buf;
    size_t start, end, cap;
    char *pinned;    /* the block a running callback may point into */
    const char *ext; /* the chunk being parsed in place */
    size_t ext_len;
    bool busy;       /* parsing: bytes fed now are queued, not parsed */
} weft__basic_input;

/* ---- LineReceiver ---- */

enum { WEFT_LINE_DELIMITER_MAX = 16 };

typedef struct weft_line_receiver weft_line_receiver;

typedef struct weft_line_receiver_ops {
    /* The connection events, as in weft_protocol_ops; each may be NULL. */
    void (*connection_made)(weft_line_receiver *lr);
    bool (*eof_received)(weft_line_receiver *lr);
    void (*connection_lost)(weft_line_receiver *lr, const weft_failure *reason);
    void (*destroy)(weft_line_receiver *lr);
    /* A line, without its delimiter. */
    void (*line_received)(weft_line_receiver *lr, const char *line, size_t len);
    /* Raw mode: bytes as they come (never empty). May be NULL if the
     * protocol never goes raw. */
    void (*raw_data_received)(weft_line_receiver *lr, const void *data, size_t len);
    /*
     * A line longer than max_length: data is everything the receiver held
     * from the start of that line (the line, and when its delimiter has
     * arrived, the delimiter and what followed), all of it now taken from
     * the buffer. To go on, give back what should be parsed with
     * set_line_mode(extra); parsing resumes when this returns. NULL: log
     * and lose the connection.
     */
    void (*line_length_exceeded)(weft_line_receiver *lr, const char *data, size_t len);
} weft_line_receiver_ops;

struct weft_line_receiver {
    weft_protocol base; /* first: the receiver is the protocol */
    const weft_line_receiver_ops *ops;
    /* The longest line accepted (16384 by default); set at any time. */
    size_t max_length;
    bool raw;    /* read only: in raw mode */
    bool paused; /* read only: pause() in effect (Twisted's paused) */
    char delimiter[WEFT_LINE_DELIMITER_MAX]; /* read only: set_delimiter */
    size_t delimiter_len;
    size_t scanned; /* private: bytes searched without finding a delimiter */
    weft_producer producer; /* private: see weft_line_receiver_producer */
    weft__basic_input in;   /* private */
};

/* Sets up lr (the caller's memory) as a line receiver in line mode, with
 * delimiter "\r\n" and max_length 16384, reporting to ops (borrowed; must
 * outlive lr). lr->base is the protocol to hand to weft. */
WEFT_API void weft_line_receiver_init(weft_line_receiver *lr, const weft_line_receiver_ops *ops);

/* The delimiter (copied): 1 to WEFT_LINE_DELIMITER_MAX bytes. Returns 0 or
 * WEFT_EINVAL. Takes effect for bytes not yet parsed. */
WEFT_API int weft_line_receiver_set_delimiter(weft_line_receiver *lr, const void *delim, size_t len);

/* Writes line and the delimiter (one writev). Returns as
 * weft_transport_writev, or -ENOTCONN with no transport. */
WEFT_API int weft_line_receiver_send_line(weft_line_receiver *lr, const void *line, size_t len);
/* Sends a line formatted as printf would (the delimiter added): Python's
 * sendLine(b"..." % ...). Returns as send_line, or WEFT_ENOMEM, WEFT_EINVAL
 * for a bad format. */
WEFT_API int weft_line_receiver_printf(weft_line_receiver *lr, const char *fmt, ...) WEFT_PRINTF(2, 3);
WEFT_API int weft_line_receiver_vprintf(weft_line_receiver *lr, const char *fmt, va_list ap);

/* Raw mode: what is buffered and what arrives next goes to
 * raw_data_received. */
WEFT_API void weft_line_receiver_set_raw_mode(weft_line_receiver *lr);

/*
 * Line mode again. extra (copied; may be NULL when len is 0) is parsed as if
 * it had just arrived: from raw_data_received, pass back the bytes that
 * were not yours. Called from a callback, the parsing happens once it
 * returns; elsewhere, lines may be delivered inside this call. Returns 0, or
 * WEFT_ENOMEM (the connection is then lost).
 */
WEFT_API int weft_line_receiver_set_line_mode(weft_line_receiver *lr, const void *extra, size_t len);

/*
 * Flow control (Twisted's pauseProducing/resumeProducing/stopProducing):
 * pause stops delivering lines and raw data at once, even from a buffer
 * being parsed, and pauses the transport's reading; resume restarts both and
 * delivers what is buffered (inside this call unless called from a
 * callback); stop pauses for good and loses the connection.
 */
WEFT_API void weft_line_receiver_pause(weft_line_receiver *lr);
WEFT_API void weft_line_receiver_resume(weft_line_receiver *lr);
WEFT_API void weft_line_receiver_stop(weft_line_receiver *lr);

/* The receiver as a streaming producer (pause, resume, stop above), to
 * register with a consumer. Valid as long as lr. */
WEFT_API weft_producer *weft_line_receiver_producer(weft_line_receiver *lr);

/*
 * Drops everything buffered and not yet delivered (clearLineBuffer) and
 * returns how many bytes that was; *data (if data is not NULL) points at
 * them until the receiver next gets bytes or another call - they may be
 * passed straight to set_line_mode.
 */
WEFT_API size_t weft_line_receiver_clear_buffer(weft_line_receiver *lr, const char **data);

/* ---- LineOnlyReceiver ---- */

typedef struct weft_line_only_receiver weft_line_only_receiver;

typedef struct weft_line_only_receiver_ops {
    void (*connection_made)(weft_line_only_receiver *lr);
    bool (*eof_received)(weft_line_only_receiver *lr);
    void (*connection_lost)(weft_line_only_receiver *lr, const weft_failure *reason);
    void (*destroy)(weft_line_only_receiver *lr);
    void (*line_received)(weft_line_only_receiver *lr, const char *line, size_t len);
    /* A line longer than max_length, instead of line_received: the whole
     * line when its delimiter has arrived (parsing then goes on with the
     * next), else the part held so far (dropped; the rest of that line will
     * parse as a new one). NULL: log and lose the connection. */
    void (*line_length_exceeded)(weft_line_only_receiver *lr, const char *data, size_t len);
} weft_line_only_receiver_ops;

/* Lines only: no raw mode and no pausing, for protocols that need neither. */
struct weft_line_only_receiver {
    weft_protocol base;
    const weft_line_only_receiver_ops *ops;
    size_t max_length; /* 16384 by default; set at any time */
    char delimiter[WEFT_LINE_DELIMITER_MAX];
    size_t delimiter_len;
    size_t scanned;       /* private */
    weft__basic_input in; /* private */
};

/* As weft_line_receiver_init. */
WEFT_API void weft_line_only_receiver_init(weft_line_only_receiver *lr, const weft_line_only_receiver_ops *ops);
WEFT_API int weft_line_only_receiver_set_delimiter(weft_line_only_receiver *lr, const void *delim, size_t len);
WEFT_API int weft_line_only_receiver_send_line(weft_line_only_receiver *lr, const void *line, size_t len);

/* ---- NetstringReceiver ---- */

/*
 * Netstrings (cr.yp.to/proto/netstrings.txt): "5:hello," carries "hello".
 * The length is decimal with no leading zeros ("0:," is the empty string)
 * and at most max_length; anything else - a non-digit, a leading zero, a
 * missing ':' or ',', a length past the limit - is refused: logged, the
 * connection lost, and nothing more parsed from it.
 */
typedef struct weft_netstring_receiver weft_netstring_receiver;

typedef struct weft_netstring_receiver_ops {
    void (*connection_made)(weft_netstring_receiver *nr);
    bool (*eof_received)(weft_netstring_receiver *nr);
    void (*connection_lost)(weft_netstring_receiver *nr, const weft_failure *reason);
    void (*destroy)(weft_netstring_receiver *nr);
    void (*string_received)(weft_netstring_receiver *nr, const char *data, size_t len);
} weft_netstring_receiver_ops;

struct weft_netstring_receiver {
    weft_protocol base;
    const weft_netstring_receiver_ops *ops;
    size_t max_length; /* 99999 by default; set at any time */
    bool broken;       /* read only: the peer sent a bad netstring (brokenPeer) */
    bool in_payload;   /* private: parsing state */
    size_t length, digits;
    weft__basic_input in;
};

/* As weft_line_receiver_init, with max_length 99999. */
WEFT_API void weft_netstring_receiver_init(weft_netstring_receiver *nr, const weft_netstring_receiver_ops *ops);

/* Writes data as a netstring (one writev). Returns as weft_transport_writev,
 * or -ENOTCONN with no transport. */
WEFT_API int weft_netstring_receiver_send_string(weft_netstring_receiver *nr, const void *data, size_t len);

/* ---- Int8/16/32StringReceiver ---- */

/*
 * Strings after a 1, 2 or 4 byte big-endian length. A length above
 * max_length is refused as soon as its prefix arrives, before any of the
 * string.
 */
typedef struct weft_intn_receiver weft_intn_receiver;

typedef struct weft_intn_receiver_ops {
    void (*connection_made)(weft_intn_receiver *ir);
    bool (*eof_received)(weft_intn_receiver *ir);
    void (*connection_lost)(weft_intn_receiver *ir, const weft_failure *reason);
    void (*destroy)(weft_intn_receiver *ir);
    void (*string_received)(weft_intn_receiver *ir, const char *data, size_t len);
    /* A prefix announced `length` > max_length. Parsing stops; the prefix
     * stays buffered, and what arrives next is buffered behind it and calls
     * this again, so close the connection (or pause) unless you mean to
     * raise max_length. NULL: log and lose the connection. */
    void (*length_limit_exceeded)(weft_intn_receiver *ir, uint64_t length);
} weft_intn_receiver_ops;

struct weft_intn_receiver {
    weft_protocol base;
    const weft_intn_receiver_ops *ops;
    size_t max_length; /* 99999 by default; set at any time */
    unsigned prefix;   /* read only: 1, 2 or 4 */
    bool paused;       /* read only: pause() in effect */
    weft_producer producer; /* private */
    weft__basic_input in;   /* private */
};

/* Sets up ir with a prefix of prefix_bytes (1, 2 or 4: Int8, Int16,
 * Int32StringReceiver) and max_length 99999. Returns 0 or WEFT_EINVAL. */
WEFT_API int weft_intn_receiver_init(weft_intn_receiver *ir, unsigned prefix_bytes, const weft_intn_receiver_ops *ops);

/* Writes the prefix and data (one writev). Returns as weft_transport_writev;
 * -EMSGSIZE, with nothing written, when len does not fit the prefix
 * (StringTooLongError); -ENOTCONN with no transport. */
WEFT_API int weft_intn_receiver_send_string(weft_intn_receiver *ir, const void *data, size_t len);

/* As weft_line_receiver_pause, _resume, _stop and _producer. */
WEFT_API void weft_intn_receiver_pause(weft_intn_receiver *ir);
WEFT_API void weft_intn_receiver_resume(weft_intn_receiver *ir);
WEFT_API void weft_intn_receiver_stop(weft_intn_receiver *ir);
WEFT_API weft_producer *weft_intn_receiver_producer(weft_intn_receiver *ir);

#endif
