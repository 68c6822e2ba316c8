/* SPDX-License-Identifier: MIT */
/*
 * Inside endpoint strings, shared by endpoint.c (the public calls and the
 * binding of fields to parameters), endpoint_parse.c (splitting a string
 * into fields, reading values, error messages, writing descriptions) and
 * endpoint_kinds.c (the table of kinds: tcp, tcp6, unix...; systemd in
 * endpoint_systemd.c).
 *
 * A kind is one row of a table: its name, whether it listens or connects,
 * its parameters in positional order (each with a one-line description and
 * its default), and three functions (build an endpoint from the values,
 * describe it, and listen or connect). The parser, its error messages and
 * the reference text (weft_endpoint_help, endpoint_help.c) all read the same
 * rows, so what is documented is what is accepted; nothing else dispatches
 * on the kind.
 */
#ifndef WEFT_NET_ENDPOINT_INT_H
#define WEFT_NET_ENDPOINT_INT_H

#include "weft/deferred.h"
#include "weft/endpoint.h"

typedef struct weft__ep_kind weft__ep_kind;

struct weft_endpoint {
    weft_reactor *r;
    const weft__ep_kind *kind;
    weft_address addr;           /* where to listen, or where to connect */
    weft_listen_options listen;  /* servers */
    double timeout;              /* clients: seconds (Twisted's default 30) */
    weft_address bind;           /* clients: bindAddress, len 0 for none */
    /* tls: file paths and the host name as given (owned; NULL when not
     * given). */
    char *cert, *key, *chain, *trust, *host;
    int port; /* clients given a host name (addr.len is 0): resolved at connect */
    /* tls: ALPN protocols offered (weft_endpoint_set_alpn); the names live
     * in alpn_buf, owned. */
    const char *alpn[WEFT_ENDPOINT_ALPN_MAX];
    size_t nalpn;
    char *alpn_buf;
    /* systemd: the inherited socket, by index (name NULL) or by name
     * (owned), and the address family it must have (0: any). */
    int sd_index;
    char *sd_name;
    int sd_family;
    /* haproxy: the endpoint it wraps (owned), which reads a PROXY header
     * first on each connection, waiting at most proxy_timeout seconds (0:
     * no header; weft__ep_listen reads it). */
    weft_endpoint *wrapped;
    double proxy_timeout;
};

/* ---- splitting a string into fields (endpoint_parse.c) ---- */

/* One field of an endpoint string, unescaped. key is NULL for a positional
 * field; both point into the parse's buffer. at: where the field begins in
 * the string as written. */
typedef struct weft__ep_field {
    const char *key;
    const char *value;
    size_t at;
} weft__ep_field;

/* One parse: the string as given (borrowed), its fields, and the failure
 * when something is wrong with it. */
typedef struct weft__ep_parse {
    const char *desc;
    weft__ep_field *fields; /* one allocation holding the fields and their text */
    size_t nfields;
    weft_failure *err;      /* the caller's once set */
} weft__ep_parse;

/*
 * Splits desc into fields with Twisted's rules (endpoints._tokenize): ':'
 * ends a field; the first unescaped '=' of a field makes it key=value, and
 * any later '=' is part of the value; '\' takes the next character as it
 * is. Returns 0, or WEFT_EINVAL / WEFT_ENOMEM with p->err set. Free with
 * weft__ep_parse_free whatever it returns.
 */
int weft__ep_tokenize(weft__ep_parse *p, const char *desc);
void weft__ep_parse_free(weft__ep_parse *p);

/*
 * Sets p->err to a WEFT_EINVAL failure reading "DESC: BEFORE'PART'AFTER"
 * (PART and its quotes left out when NULL; AFTER may be NULL), with bytes
 * that are not printable shown as \xNN so the message is safe to log.
 * Returns WEFT_EINVAL, or WEFT_ENOMEM when the message could not be made.
 */
int weft__ep_error(weft__ep_parse *p, const char *before, const char *part, const char *after);

/* Values. Each returns 0, or reports what is wrong through weft__ep_error
 * naming `what` and the value. */
int weft__ep_port(weft__ep_parse *p, const char *s, int min, int *out);
int weft__ep_backlog(weft__ep_parse *p, const char *s, int *out);
/* A whole number from 0 to INT_MAX (an index), named `what`. */
int weft__ep_index(weft__ep_parse *p, const char *what, const char *s, int *out);
int weft__ep_mode(weft__ep_parse *p, const char *s, unsigned *out);
int weft__ep_flag(weft__ep_parse *p, const char *what, const char *s, bool *out);
int weft__ep_seconds(weft__ep_parse *p, const char *what, const char *s, double *out);
/* A numeric IPv4 or IPv6 address with `port`; names are refused with
 * "host names are not resolved yet". */
int weft__ep_ip(weft__ep_parse *p, const char *what, const char *s, int port, weft_address *out);
int weft__ep_unix_path(weft__ep_parse *p, const char *s, weft_address *out);

/* ---- writing descriptions (endpoint_parse.c) ---- */

/* An snprintf-style writer: len counts every byte asked for, buf gets what
 * fits, always NUL-terminated when size > 0. */
typedef struct weft__ep_out {
    char *buf;
    size_t size;
    size_t len;
} weft__ep_out;

void weft__ep_out_text(weft__ep_out *o, const char *s);
/* Writes s with ':', '=' and '\' escaped, so it reads back as one value. */
void weft__ep_out_value(weft__ep_out *o, const char *s, size_t n);
void weft__ep_out_fmt(weft__ep_out *o, const char *fmt, ...) WEFT_PRINTF(2, 3);
/* ":key=IP" (escaped), without the port. */
void weft__ep_out_ip(weft__ep_out *o, const char *key, const weft_address *a);
/* ":key=SECONDS" in the shortest form that reads back as the same double. */
void weft__ep_out_seconds(weft__ep_out *o, const char *key, double seconds);
/* The path or "@name" of a UNIX address, escaped. */
void weft__ep_out_unix_path(weft__ep_out *o, const weft_address *a);

/* ---- kinds (endpoint_kinds.c) ---- */

/* The most parameters a kind may have. */
#define WEFT__EP_MAX_PARAMS 32

/* One parameter of a kind, for the parser and for the reference text. */
typedef struct weft__ep_param {
    const char *name;
    const char *value; /* what a value looks like: "N", "ADDR", "PATH"... */
    const char *help;  /* one line */
    const char *dflt;  /* the default, as text; NULL: required */
} weft__ep_param;

/* The values given for a kind's parameters, in the kind's order; NULL for
 * a parameter not given. */
typedef struct weft__ep_args {
    const weft__ep_kind *kind;
    const char *const *values;
} weft__ep_args;

/* The value given for the parameter called `name`, or NULL. */
const char *weft__ep_arg(const weft__ep_args *a, const char *name);

struct weft__ep_kind {
    const char *name;     /* matched without regard to case */
    bool server;          /* for weft_endpoint_server, or for _client */
    int family;           /* AF_INET, AF_INET6 or AF_UNIX: the default interface */
    const char *summary;  /* one line, for the reference text */
    const char *example;  /* a string of this kind, which parses */
    const weft__ep_param *params; /* every parameter, positional ones first */
    size_t nparams;
    size_t npositional;   /* how many of them a positional field may give */
    /* How positional fields find their parameter. false: the Nth positional
     * field is the Nth parameter, as a Python call (servers). true: each
     * takes the first positional parameter no keyword gave, as Twisted's
     * client "tcp:host=H:80" (the 80 is the port). */
    bool fill_free;
    /* A kind that wraps another endpoint (haproxy): its keywords come
     * first, and its first positional field begins the wrapped endpoint's
     * string, which is the rest of the string as written (its first
     * parameter's value). */
    bool wraps;
    /* Fills e (zeroed, r and kind set) from the values; or reports why not
     * with weft__ep_error. */
    int (*build)(weft__ep_parse *p, const weft__ep_args *a, weft_endpoint *e);
    void (*describe)(const weft_endpoint *e, weft__ep_out *o);
    /* Servers: listens (weft_listen's contract). When it fails for a reason
     * the code alone does not tell (a certificate that cannot be loaded), it
     * stores that failure in *why (the caller's). */
    int (*listen)(const weft_endpoint *e, weft_factory *f, weft_port **out, weft_failure **why);
    /* Clients: connects (weft_connect's contract). */
    weft_deferred *(*connect)(const weft_endpoint *e, weft_factory *f);
};

/* A copy of s for the endpoint (NULL stays NULL); reports running out of
 * memory through p. */
int weft__ep_strdup(weft__ep_parse *p, const char *s, char **out);

/* Kinds with a file of their own. */
extern const weft__ep_kind weft__ep_systemd_server; /* endpoint_systemd.c */
/* Every server kind's listen ends here: weft_listen on e->addr with f, or
 * with a haproxy: factory around f when the endpoint is wrapped by one
 * (proxy_timeout), so that the PROXY header is read before anything the
 * kind layers on (TLS). */
int weft__ep_listen(const weft_endpoint *e, weft_factory *f, weft_port **out);
/* The same around another way of making the port (systemd: adopts one). */
typedef int (*weft__ep_listen_fn)(const weft_endpoint *e, weft_factory *f, weft_port **out, void *arg);
int weft__ep_listen_with(const weft_endpoint *e, weft_factory *f, weft__ep_listen_fn fn, void *arg, weft_port **out);

/* The haproxy: kind (endpoint_haproxy.c). */
extern const weft__ep_kind weft__ep_haproxy_server;

extern const weft__ep_kind *const weft__ep_kinds[];
extern const size_t weft__ep_nkinds;

/* Whether two endpoints are the same (what round-trips of describe keep);
 * for tests and the fuzz target. */
bool weft__endpoint_equal(const weft_endpoint *a, const weft_endpoint *b);

#endif
