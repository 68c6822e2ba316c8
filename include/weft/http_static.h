/* SPDX-License-Identifier: MIT */
/*
 * Static files (twisted.web.static.File): a leaf resource serving a
 * directory. GET and HEAD; bodies go out with sendfile(2) on plain sockets.
 * ETag and Last-Modified, answered with 304 for If-None-Match and
 * If-Modified-Since; one Range per request (206, or 416 when it cannot be
 * satisfied; several ranges get the whole file); Content-Type from
 * /etc/mime.types by extension; an index file for a directory, else an
 * escaped listing. A directory asked for without its trailing slash is
 * redirected (301) to it.
 *
 * Nothing outside the directory is served: segments "..", segments holding
 * '/', '\\' or NUL after decoding, and (by default) symbolic links whose
 * target lies outside the directory are all refused with 404, as are files
 * that are not regular files or directories.
 */
#ifndef WEFT_HTTP_STATIC_H
#define WEFT_HTTP_STATIC_H

#include "http_resource.h"

/* Every field's 0 (or NULL) means its default. */
typedef struct weft_http_static_options {
    /* Names tried in a directory, in order (`--index`): {"index.html"}. */
    const char *const *index_names;
    size_t nindex;
    /* Content-Type for extensions mime.types does not know (`--mime-type`):
     * "application/octet-stream". */
    const char *default_type;
    /* Where the extension table comes from: "/etc/mime.types". A missing
     * file leaves a small built-in table. */
    const char *mime_types;
    /* No listing for directories without an index (403 instead). */
    bool no_listing;
    /* Serve symbolic links pointing outside the directory. */
    bool follow_symlinks_out;
} weft_http_static_options;

/* A resource serving `dir` (copied; must be a directory). Returns 0 and
 * *out, or WEFT_EINVAL / an errno with *err (the caller's; may be NULL)
 * saying why. opts copied; NULL for defaults. */
WEFT_API int weft_http_static_new(const char *dir, const weft_http_static_options *opts, weft_http_resource **out,
                                  weft_failure **err);

/* The Content-Type for a file name by its extension, from the table r
 * serves with (for handlers that send files themselves); never NULL. */
WEFT_API const char *weft_http_static_type(const weft_http_resource *r, const char *name);

#endif
