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
 * that are not regular files or directories. Files are opened relative to
 * the directory with openat2(RESOLVE_BENEATH) (Linux 5.6+; older kernels:
 * the opened descriptor's real path is checked), so a link swapped in
 * during a request cannot lead out. openat2 refuses absolute symbolic
 * links even when they point inside: make links inside relative.
 *
 * Validators: the ETag is strong, built from the inode, size and
 * modification time in nanoseconds; Last-Modified is the modification
 * time. If-Match and If-Unmodified-Since (412) and If-Range are honoured
 * too. The directory is opened once, by weft_http_static_new, and the MIME
 * table is loaded then: both live as long as the resource.
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
 * *out (the caller's until put in a tree or given to a server), or
 * WEFT_EINVAL / a negative errno with *err (the caller's; may be NULL)
 * saying why. opts (and its strings) copied; NULL for defaults. */
WEFT_API int weft_http_static_new(const char *dir, const weft_http_static_options *opts, weft_http_resource **out,
                                  weft_failure **err);

/*
 * The extension table on its own (for handlers that send files themselves):
 * loaded from a mime.types file (NULL: "/etc/mime.types"; a missing file
 * gives the small built-in table). Returns 0 and *out (the caller's, freed
 * with weft_http_mime_free), WEFT_ENOMEM, or the error reading the file.
 */
typedef struct weft_http_mime weft_http_mime;
WEFT_API int weft_http_mime_load(const char *path, weft_http_mime **out);
WEFT_API void weft_http_mime_free(weft_http_mime *m);
/* The type for a file name by its extension (case ignored), or dflt (which
 * may be NULL). Borrowed from m. */
WEFT_API const char *weft_http_mime_type(const weft_http_mime *m, const char *name, const char *dflt);

#endif
