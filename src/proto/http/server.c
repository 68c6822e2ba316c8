/* SPDX-License-Identifier: MIT */
/* The server (twisted.web's Site) as its owner and the reactor meet it:
 * made with its options, a factory building a connection per client,
 * quiesced, freed (server_ref.c frees it when its last holder lets go). */
#include <string.h>

#include "weft/failure.h"
#include "http_int.h"

static weft_protocol *build(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    weft_http_server *s = WEFT_CONTAINER_OF(f, weft_http_server, factory);
    if (s->freeing)
        return NULL;
    return weft__http_conn_new(s);
}

static const weft_factory_ops factory_ops = {.build = build};

weft_http_server *weft_http_server_new(weft_reactor *r, weft_http_resource *root,
                                       const weft_http_server_options *opts)
{
    weft_http_server *s = weft_calloc(1, sizeof *s);
    if (!s) {
        weft_http_resource_free(root);
        return NULL;
    }
    s->factory.ops = &factory_ops;
    s->r = r;
    s->root = root;
    s->refs = 1;
    s->date_sec = -1;
    weft__list_init(&s->conns);
    s->eof = weft_failure_new(WEFT_EOF, "end of the request body");
    if (opts)
        s->opt = *opts;
    weft_http_server_options *o = &s->opt;
    if (!o->max_header_bytes)
        o->max_header_bytes = 16 * 1024;
    if (!o->max_headers)
        o->max_headers = 500; /* Twisted's maxHeaders */
    if (!o->max_uri)
        o->max_uri = 8 * 1024;
    if (!o->max_body)
        o->max_body = 1024 * 1024;
    if (!o->max_pipelined)
        o->max_pipelined = 16;
    if (!(o->header_timeout > 0))
        o->header_timeout = 30;
    if (!(o->idle_timeout > 0))
        o->idle_timeout = 60;
    if (!(o->body_timeout > 0))
        o->body_timeout = 60;
    if (!(o->send_timeout > 0))
        o->send_timeout = 60;
    const char *name = o->server_name ? o->server_name : WEFT__HTTP_SERVER_NAME;
    o->server_name = NULL;
    if (*name) {
        size_t n = strlen(name);
        if (strpbrk(name, "\r\n") == NULL) {
            s->server_line = weft_malloc(n + 11);
            if (!s->server_line) {
                weft_http_server_free(s);
                return NULL;
            }
            memcpy(s->server_line, "Server: ", 8);
            memcpy(s->server_line + 8, name, n);
            memcpy(s->server_line + 8 + n, "\r\n", 3);
        }
    }
    return s;
}

void weft_http_server_free(weft_http_server *s)
{
    if (!s)
        return;
    s->freeing = true;
    /* Each connection's close runs in the close step; they and the
     * requests their handlers still hold keep the server until then. */
    for (weft__list *n = s->conns.next; n != &s->conns; n = n->next) {
        weft__http_conn *c = WEFT_CONTAINER_OF(n, weft__http_conn, link);
        weft__http_conn_close(c, true);
    }
    weft__http_server_unref(s);
}

void weft_http_server_quiesce(weft_http_server *s)
{
    s->stopping = true;
    for (weft__list *n = s->conns.next; n != &s->conns; n = n->next)
        weft__http_conn_quiesce(WEFT_CONTAINER_OF(n, weft__http_conn, link));
}

weft_factory *weft_http_server_factory(weft_http_server *s)
{
    return &s->factory;
}

int weft_http_server_add_header(weft_http_server *s, const char *name, const char *value)
{
    if (!s->extra && !(s->extra = weft_http_headers_new()))
        return WEFT_ENOMEM;
    return weft_http_headers_add(s->extra, name, value);
}
