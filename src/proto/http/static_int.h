/* SPDX-License-Identifier: MIT */
/*
 * What the static file resource's files share (static.c the resource,
 * static_path.c opening files safely, static_range.c validators, Range and
 * conditional requests, mime.c the type table, listing.c directory pages).
 * The functions here are pure or touch only the descriptors given, so the
 * tests call them directly. Private.
 */
#ifndef WEFT_HTTP_STATIC_INT_H
#define WEFT_HTTP_STATIC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "buf.h"
#include "weft/http_static.h"

/* ---- static_path.c ---- */

/* Whether a decoded path segment may name a file below the root: not "",
 * "." or "..", and no '/', '\\' or NUL in it. */
bool weft__static_segment_ok(const char *seg, size_t len);

/*
 * Opens (read-only, close-on-exec) the file that the relative path `rel`
 * (segments already checked, joined with '/') names below the directory
 * dirfd, never anything outside it: openat2 with RESOLVE_BENEATH where the
 * kernel has it, else openat and a check of where the descriptor really
 * points (/proc/self/fd), so a link swapped in meanwhile cannot escape.
 * `root` is dirfd's real path, for that check. With follow_out, symbolic
 * links may lead anywhere (".." segments are still refused before this).
 * Returns the descriptor, or a negative errno (-ENOENT, -EXDEV for a way
 * out, ...).
 */
int weft__static_open_beneath(int dirfd, const char *root, const char *rel, bool follow_out);
/* Where a descriptor points, read back from /proc (NUL-terminated); the
 * length, or -1 (no /proc, or too long for buf). */
ssize_t weft__static_fd_path(int fd, char *buf, size_t size);
/* The fallback alone (for the tests, on kernels that have openat2). */
int weft__static_open_checked(int dirfd, const char *root, const char *rel);

/* ---- static_range.c ---- */

/* The strong validator of a file, as nginx builds it but with the inode and
 * the modification time to the nanosecond: "\"ino-size-sec.nsec\"" in hex. */
#define WEFT__ETAG_SIZE 80
void weft__static_etag(const struct stat *st, char out[WEFT__ETAG_SIZE]);

/* Whether an If-Match / If-None-Match list ("*", or entity tags separated by
 * commas, weak ones with W/) holds etag; weak: the weak comparison (W/
 * ignored on both sides), else the strong one (weak tags never match). */
bool weft__static_etag_listed(const char *list, const char *etag, bool weak);

/* The precondition checks of RFC 9110 section 13.2.2 for a GET or HEAD:
 * 0 to go on, 412 (If-Match / If-Unmodified-Since fail) or 304 (If-None-Match
 * / If-Modified-Since say the client's copy is current). Any header may be
 * NULL; dates that do not parse are ignored. */
int weft__static_preconditions(const char *if_match, const char *if_unmodified_since, const char *if_none_match,
                               const char *if_modified_since, const char *etag, long long mtime);

typedef enum weft__range_kind {
    WEFT__RANGE_WHOLE, /* no Range, or one to ignore (bad syntax, other units, several ranges) */
    WEFT__RANGE_PART,  /* 206 for [*first, *last] */
    WEFT__RANGE_NONE,  /* 416: nothing of the file is in it */
} weft__range_kind;

/* Reads a Range header for a file of `size` bytes (RFC 9110 section 14).
 * One range is served; several get the whole file (as the resource's
 * documentation says), as does anything malformed. */
weft__range_kind weft__static_range(const char *range, uint64_t size, uint64_t *first, uint64_t *last);

/* Whether an If-Range value lets the Range apply: it must be the (strong)
 * etag itself, or an HTTP date equal to the modification time. */
bool weft__static_if_range(const char *if_range, const char *etag, long long mtime);

/* ---- mime.c ---- */

/* The extension table: sorted, each extension once (the first line naming
 * it wins, as in nginx). `text` holds the strings the entries point to. */
typedef struct weft__mime_entry {
    const char *ext, *type;
} weft__mime_entry;

struct weft_http_mime {
    char *text;
    weft__mime_entry *v;
    size_t n;
};

/* Builds a table from mime.types text (copied); 0 or WEFT_ENOMEM. */
int weft__mime_parse(weft_http_mime *m, const char *text, size_t len);

/* ---- listing.c ---- */


typedef struct weft__listing_entry {
    char *name;
    bool dir;
    uint64_t size;
} weft__listing_entry;

/* The HTML page listing entries (sorted by name here) under a title path
 * (decoded, escaped here). 0 or WEFT_ENOMEM. */
int weft__static_listing_page(weft__http_buf *out, const char *title, weft__listing_entry *v, size_t n);

/* Reads the directory dirfd (borrowed; read from its start), which is `rel`
 * below the served root (rootfd, real path root), into a listing page.
 * Symbolic links are listed as what they point to, when that is a file or
 * directory the resource would serve (opened as weft__static_open_beneath
 * does, follow_out alike). 0 or a negative errno. */
int weft__static_listing(weft__http_buf *out, int dirfd, const char *title, int rootfd, const char *root, const char *rel,
                         bool follow_out);

#endif
