/* SPDX-License-Identifier: MIT */
/*
 * Form bodies: application/x-www-form-urlencoded and multipart/form-data
 * (RFC 7578), read into the request's arguments (http_args.h) as Twisted
 * merges a POST's body into request.args - with the files of a multipart
 * form streamed, each as a fount (flow.h), so an upload of any size is
 * never held whole in memory.
 *
 *     static void on_file(void *arg, weft_http_request *req, weft_http_part *part) {
 *         // weft_http_part_name(part), _filename(part), _content_type(part)
 *         weft_flow_to(weft_http_part_body(part), my_file_drain(...));
 *     }
 *     static weft_result upload(void *arg, weft_http_request *req) {   // a coroutine handler
 *         weft_http_form_options o = {.on_file = on_file, .arg = arg};
 *         weft_http_request_set_max_body(req, 1ull << 30);
 *         weft_result r = weft_await(weft_http_request_read_form(req, &o)); // await owns it
 *         if (weft_failed(r))
 *             return r;      // weft has answered 400 or 413 already
 *         const char *title = weft_http_request_arg(req, "title", NULL);
 *         ...
 *     }
 *
 * Answering in JSON needs no helper: build it with snprintf (escaping what
 * you put between quotes) and send it whole.
 *
 *     char json[128];
 *     int n = snprintf(json, sizeof json, "{\"saved\":%zu,\"ok\":true}", count);
 *     weft_http_reply(req, 200, "application/json", json, (size_t)n);
 *
 * Bad forms: a malformed body (see multipart.c for the list), a field
 * count, a field size or a part count past the limits below are answered
 * by weft itself - 413 for a size, 400 for the rest, with an error page
 * naming the problem and "Connection: close" - and the Deferred errbacks
 * (WEFT_EHTTP, -EMSGSIZE or -E2BIG), as a body past max_body is answered
 * 413. The handler still finishes the request (weft_http_reply_error
 * returns -EALREADY then, and finishes it; a coroutine handler may just
 * return the failure).
 */
#ifndef WEFT_HTTP_FORM_H
#define WEFT_HTTP_FORM_H

#include "deferred.h"
#include "flow.h"
#include "http_args.h"
#include "http_headers.h"
#include "http_server.h"

typedef struct weft_http_part weft_http_part;

/* A file part has begun: join its body to a drain, or stop it to skip it. */
typedef void (*weft_http_part_fn)(void *arg, weft_http_request *req, weft_http_part *part);

/* Every field's 0 (or NULL) means its default. */
typedef struct weft_http_form_options {
    /* Pairs in the request's arguments, the query's included: 400 past
     * it. WEFT_HTTP_ARGS_MAX (1000). */
    size_t max_fields;
    /* The bytes of every field held in memory - an urlencoded body whole;
     * a multipart form's names and non-file values -: 413 past it. 1 MiB. */
    size_t max_field_bytes;
    /* Parts of a multipart form, files included: 400 past it. 1000. */
    size_t max_parts;
    /* One part's header block: 400 past it. 8 KiB. */
    size_t max_part_header_bytes;
    /* Called for each part with a filename, as it begins. NULL: file parts
     * are read into the arguments like any field (their names there, their
     * contents as values; the filenames are lost), within max_field_bytes. */
    weft_http_part_fn on_file;
    void *arg;
} weft_http_form_options;

/*
 * Reads the request's body as a form, once: for Content-Type
 * application/x-www-form-urlencoded or multipart/form-data (whatever the
 * method), its fields are appended to the request's arguments after the
 * query's. Returns a Deferred (the caller's) firing with the request's
 * arguments (a const weft_http_args *, borrowed from the request) once the
 * whole body has been read; at once, with the body untouched, when the
 * request has another Content-Type or none. Fails as the top of this file
 * says, with the body's own failure (the lost connection, a timeout, -EMSGSIZE
 * past max_body), with WEFT_ECANCELED when cancelled (the body is then
 * dropped), or with -EALREADY when called a second time. opts is copied;
 * NULL for defaults. NULL when out of memory.
 *
 * A file part's bytes do not flow until a drain joins its fount, and the
 * request's body waits meanwhile: join one in on_file or later, or
 * weft_fount_stop the part to drop its bytes - a part left alone holds
 * the request forever. Pausing the part pauses the request body, and so
 * the connection's reading.
 */
WEFT_API weft_deferred *weft_http_request_read_form(weft_http_request *req, const weft_http_form_options *opts);

/*
 * A file part. Its strings are borrowed from it; it lives until its fount
 * has ended - after the end reaches the drain's flow_stopped (WEFT_EOF at
 * the part's closing delimiter, or the failure that stopped the form: a
 * part cut short never ends with WEFT_EOF) -, or, for a part whose fount
 * was stopped, until its closing delimiter; at the latest until the form's
 * Deferred fires.
 */
/* Content-Disposition's name and filename (quoted-string escapes undone,
 * nothing else decoded: browsers send '"' as %22). filename may be "". */
WEFT_API const char *weft_http_part_name(const weft_http_part *p);
WEFT_API const char *weft_http_part_filename(const weft_http_part *p);
/* Its Content-Type, or NULL when it has none (RFC 7578: text/plain). */
WEFT_API const char *weft_http_part_content_type(const weft_http_part *p);
/* All its headers. */
WEFT_API const weft_http_headers *weft_http_part_headers(const weft_http_part *p);
/* Its bytes, as a fount (Content-Transfer-Encoding is not undone: RFC
 * 7578 deprecates it). */
WEFT_API weft_fount *weft_http_part_body(weft_http_part *p);

#endif
