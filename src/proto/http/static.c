/* SPDX-License-Identifier: MIT */
/*
 * The static file resource: a leaf whose postpath names a file below its
 * directory. It answers GET and HEAD with the file (sent with the
 * transport's sendfile), a 304/412/206/416 as the validators and Range
 * say, an index file or a listing for a directory, or a redirect adding the
 * slash a directory's URL needs so that relative links in it work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "static_int.h"
#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/failure.h"

typedef struct static_res {
    int dirfd;
    char *root; /* dirfd's real path, for the check where openat2 is missing */
    char **index;
    size_t nindex;
    char *default_type;
    weft_http_mime *mime;
    bool no_listing, follow_out;
} static_res;

static void static_free(void *arg)
{
    static_res *s = arg;
    if (s->dirfd >= 0)
        close(s->dirfd);
    weft_free(s->root);
    for (size_t i = 0; i < s->nindex; i++)
        weft_free(s->index[i]);
    weft_free(s->index);
    weft_free(s->default_type);
    weft_http_mime_free(s->mime);
    weft_free(s);
}

/* What a failed open tells the client: nothing about why, beyond 403. */
static int status_of(int err)
{
    return err == -EACCES || err == -EPERM ? 403 : err == WEFT_ENOMEM || err == -EMFILE || err == -ENFILE ? 503 : 404;
}

/* The request path decoded, for a listing's title (escaped there). A NUL
 * ends it: the title is text. */
static void add_decoded(weft__http_buf *b, const char *path)
{
    size_t len = strlen(path);
    if (!weft__http_buf_room(b, len + 1))
        return;
    size_t n = weft_http_percent_decode(b->data + b->len, path, len, 0);
    b->len += strnlen(b->data + b->len, n);
    b->data[b->len] = '\0';
}

static void redirect_to_slash(weft_http_request *req)
{
    /* The path with its slash, as a path-absolute reference: leading
     * slashes (and backslashes, which browsers read as slashes) collapse to
     * one, or "//evil.example" would send the client to another host. */
    const char *path = weft_http_request_path(req);
    path += strspn(path, "/\\");
    weft__http_buf loc = {0};
    weft__http_buf_adds(&loc, "/");
    weft__http_buf_adds(&loc, path);
    weft__http_buf_adds(&loc, "/");
    const char *query = weft_http_request_query(req);
    if (query) {
        weft__http_buf_adds(&loc, "?");
        weft__http_buf_adds(&loc, query);
    }
    weft__http_buf page = {0};
    weft__http_buf_adds(&page, "<!DOCTYPE html>\n<html><body><a href=\"");
    if (loc.data)
        weft__http_buf_add_html(&page, loc.data, loc.len);
    weft__http_buf_adds(&page, "\">Moved here</a></body></html>\n");
    if (loc.failed || page.failed || weft_http_reply_set_header(req, "Location", loc.data) < 0)
        weft_http_reply_error(req, 500, NULL);
    else
        weft_http_reply(req, 301, "text/html; charset=utf-8", page.data, page.len);
    weft_free(loc.data);
    weft_free(page.data);
}

static void listing(static_res *s, weft_http_request *req, int dirfd, const char *rel)
{
    if (s->no_listing) {
        weft_http_reply_error(req, 403, "Directory listings are off.");
        return;
    }
    weft__http_buf title = {0}, page = {0};
    add_decoded(&title, weft_http_request_path(req));
    int err = title.failed ? WEFT_ENOMEM : weft__static_listing(&page, dirfd, title.data ? title.data : "/", s->dirfd, s->root,
                                                                     rel, s->follow_out);
    if (err < 0)
        weft_http_reply_error(req, status_of(err), NULL);
    else
        weft_http_reply(req, 200, "text/html; charset=utf-8", page.data, page.len);
    weft_free(title.data);
    weft_free(page.data);
}

/* The request headers a file's answer depends on, found in one pass over
 * the request's list rather than six lookups. */
typedef struct conditions {
    const char *if_match, *if_unmodified_since, *if_none_match, *if_modified_since, *if_range, *range;
} conditions;

static void read_conditions(weft_http_request *req, conditions *c)
{
    *c = (conditions){0};
    const weft_http_headers *h = weft_http_request_headers(req);
    for (size_t i = 0, n = weft_http_headers_count(h); i < n; i++) {
        const char *name, *value;
        weft_http_headers_at(h, i, &name, &value);
        if ((name[0] | 0x20) == 'r') {
            if (strcasecmp(name, "Range") == 0 && !c->range)
                c->range = value;
            continue;
        }
        if ((name[0] | 0x20) != 'i' || (name[1] | 0x20) != 'f' || name[2] != '-')
            continue;
        const char *rest = name + 3;
        const char **slot = strcasecmp(rest, "Match") == 0                 ? &c->if_match
                            : strcasecmp(rest, "None-Match") == 0          ? &c->if_none_match
                            : strcasecmp(rest, "Modified-Since") == 0      ? &c->if_modified_since
                            : strcasecmp(rest, "Unmodified-Since") == 0    ? &c->if_unmodified_since
                            : strcasecmp(rest, "Range") == 0               ? &c->if_range
                                                                           : NULL;
        if (slot && !*slot)
            *slot = value;
    }
}

/* Sends len bytes of fd (taken) from first, then finishes. */
static void send_body_of(weft_http_request *req, int fd, uint64_t first, uint64_t len)
{
    if (len == 0 || strcmp(weft_http_request_method(req), "HEAD") == 0) {
        close(fd);
    } else if (weft_http_reply_send_file(req, fd, (off_t)first, len) < 0) {
        /* fd went with the call. The connection is gone, or the body cannot
         * match the Content-Length announced: either way, abort. */
        weft_http_reply_abort(req);
        return;
    }
    weft_http_reply_finish(req);
}

/* Answers with the regular file fd (taken) named `name` (for its type).
 * The response's headers start empty: add, never set. */
static void serve_file(static_res *s, weft_http_request *req, int fd, const struct stat *st, const char *name)
{
    char etag[WEFT__ETAG_SIZE], modified[WEFT_HTTP_DATE_SIZE], clen[24] = "", crange[80];
    long long mtime = (long long)st->st_mtim.tv_sec;
    uint64_t size = (uint64_t)st->st_size, first = 0, last = 0;
    conditions c;
    read_conditions(req, &c);
    weft__static_etag(st, etag);
    weft_http_date_format(mtime, modified);
    int err = weft_http_reply_add_header(req, "ETag", etag);
    if (!err)
        err = weft_http_reply_add_header(req, "Last-Modified", modified);
    if (!err)
        err = weft_http_reply_add_header(req, "Accept-Ranges", "bytes");
    if (err < 0) {
        close(fd);
        weft_http_reply_error(req, 500, NULL);
        return;
    }
    int pre = weft__static_preconditions(c.if_match, c.if_unmodified_since, c.if_none_match, c.if_modified_since,
                                         etag, mtime);
    if (pre == 304) {
        close(fd);
        weft_http_reply_set_status(req, 304, NULL);
        weft_http_reply_finish(req);
        return;
    }
    if (pre) {
        close(fd);
        weft_http_reply_error(req, pre, NULL);
        return;
    }
    weft__range_kind kind = WEFT__RANGE_WHOLE;
    if (c.range && weft__static_if_range(c.if_range, etag, mtime))
        kind = weft__static_range(c.range, size, &first, &last);
    if (kind == WEFT__RANGE_NONE) {
        close(fd);
        snprintf(crange, sizeof crange, "bytes */%llu", (unsigned long long)size);
        weft_http_reply_add_header(req, "Content-Range", crange);
        weft_http_reply_error(req, 416, NULL);
        return;
    }
    uint64_t len = size;
    if (kind == WEFT__RANGE_PART) {
        len = last - first + 1;
        snprintf(crange, sizeof crange, "bytes %llu-%llu/%llu", (unsigned long long)first, (unsigned long long)last,
                 (unsigned long long)size);
        err = weft_http_reply_set_status(req, 206, NULL);
        if (!err)
            err = weft_http_reply_add_header(req, "Content-Range", crange);
    }
    if (!err)
        err = weft_http_reply_add_header(req, "Content-Type", weft_http_mime_type(s->mime, name, s->default_type));
    if (!err)
        err = weft_http_reply_add_header(req, "Content-Length", weft__http_fmt_u64(clen + sizeof clen - 1, len));
    if (err < 0) {
        close(fd);
        weft_http_reply_error(req, 500, NULL);
        return;
    }
    send_body_of(req, fd, first, len);
}

/* The directory fd (taken), asked for with its slash: an index file, or a
 * listing. `rel` is its path below the root. */
static void serve_directory(static_res *s, weft_http_request *req, int dirfd, weft__http_buf *rel)
{
    size_t base = rel->len;
    for (size_t i = 0; i < s->nindex; i++) {
        rel->len = base;
        weft__http_buf_adds(rel, "/");
        weft__http_buf_adds(rel, s->index[i]);
        if (rel->failed)
            break;
        int fd = weft__static_open_beneath(s->dirfd, s->root, rel->data, s->follow_out);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            close(dirfd);
            serve_file(s, req, fd, &st, s->index[i]);
            return;
        }
        if (fd >= 0)
            close(fd);
    }
    rel->len = base;
    rel->data[base] = '\0';
    listing(s, req, dirfd, rel->data);
    close(dirfd);
}

static void answer(static_res *s, weft_http_request *req)
{
    /* The path below the root, segment by segment; empty segments (a
     * trailing slash, or "//") name nothing. */
    weft__http_buf rel = {0};
    weft__http_buf_adds(&rel, ".");
    size_t name_at = 0; /* where the last segment starts in rel: the file's name */
    size_t n = weft_http_request_postpath_count(req);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *seg = weft_http_request_postpath(req, i, &len);
        if (len == 0)
            continue;
        if (!weft__static_segment_ok(seg, len)) {
            weft_free(rel.data);
            weft_http_reply_error(req, 404, NULL);
            return;
        }
        weft__http_buf_adds(&rel, "/");
        name_at = rel.len;
        weft__http_buf_add(&rel, seg, len);
    }
    int fd = rel.failed ? WEFT_ENOMEM : weft__static_open_beneath(s->dirfd, s->root, rel.data, s->follow_out);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) < 0) {
        close(fd);
        fd = -errno;
    }
    const char *rest = weft_http_request_rest(req);
    size_t rlen = strlen(rest);
    bool slash = rlen > 0 && rest[rlen - 1] == '/';
    if (fd < 0) {
        weft_http_reply_error(req, status_of(fd), NULL);
    } else if (S_ISREG(st.st_mode) && !slash) {
        serve_file(s, req, fd, &st, rel.data + name_at);
    } else if (!S_ISDIR(st.st_mode)) {
        /* Not a file or directory, or a file asked for as a directory. */
        close(fd);
        weft_http_reply_error(req, 404, NULL);
    } else {
        if (!slash) {
            close(fd);
            redirect_to_slash(req);
        } else {
            serve_directory(s, req, fd, &rel);
        }
    }
    weft_free(rel.data);
}

/* A request's body is read and dropped before the answer: a malformed one
 * then gets its 400, the body's limit its 413 before any file goes out,
 * and a valid one leaves the connection open for the next request. */
typedef struct body_wait {
    weft_drain d;
    static_res *s;
    weft_http_request *req;
} body_wait;

static void drop_bytes(weft_drain *d, const void *data, size_t len)
{
    (void)d, (void)data, (void)len;
}

static void body_read(weft_drain *d, const weft_failure *why)
{
    body_wait *w = (body_wait *)d;
    static_res *s = w->s;
    weft_http_request *req = w->req;
    weft_free(w);
    if (weft_failure_code(why) == WEFT_EOF)
        answer(s, req);
    else
        weft_http_reply_error(req, 400, NULL); /* (-EALREADY where the server answered) */
}

static const weft_drain_ops body_wait_ops = {.receive = drop_bytes, .flow_stopped = body_read};

static void serve(void *arg, weft_http_request *req)
{
    if (weft_http_request_content_length(req) == 0) {
        answer(arg, req);
        return;
    }
    body_wait *w = weft_calloc(1, sizeof *w);
    if (!w) {
        weft_http_reply_error(req, 503, NULL);
        return;
    }
    *w = (body_wait){.d.ops = &body_wait_ops, .s = arg, .req = req};
    weft_flow_to(weft_http_request_body(req), &w->d);
}

static int copy_options(static_res *s, const weft_http_static_options *o)
{
    static const char *const default_index[] = {"index.html"};
    const char *const *names = o && o->nindex ? o->index_names : default_index;
    size_t count = o && o->nindex ? o->nindex : 1;
    s->index = weft_calloc(count, sizeof *s->index);
    if (!s->index)
        return WEFT_ENOMEM;
    for (; s->nindex < count; s->nindex++) {
        if (!weft__static_segment_ok(names[s->nindex], strlen(names[s->nindex])))
            return WEFT_EINVAL;
        if (!(s->index[s->nindex] = weft_strdup(names[s->nindex])))
            return WEFT_ENOMEM;
    }
    s->default_type = weft_strdup(o && o->default_type ? o->default_type : "application/octet-stream");
    if (!s->default_type)
        return WEFT_ENOMEM;
    s->no_listing = o && o->no_listing;
    s->follow_out = o && o->follow_symlinks_out;
    return 0;
}

/* dirfd's real path: where /proc says it is (what the open check compares
 * with), else realpath. */
static char *real_path(int dirfd, const char *dir)
{
    char buf[PATH_MAX];
    if (weft__static_fd_path(dirfd, buf, sizeof buf) > 0)
        return weft_strdup(buf);
    return realpath(dir, buf) ? weft_strdup(buf) : NULL;
}

int weft_http_static_new(const char *dir, const weft_http_static_options *opts, weft_http_resource **out,
                         weft_failure **err)
{
    static_res *s = weft_calloc(1, sizeof *s);
    if (!s) {
        if (err)
            *err = weft_failure_new(WEFT_ENOMEM, "out of memory");
        return WEFT_ENOMEM;
    }
    const char *what = "out of memory";
    int code = 0;
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        code = errno == ENOTDIR ? WEFT_EINVAL : -errno;
        what = code == WEFT_EINVAL ? "not a directory" : weft_strerror(code);
    } else if (!(s->root = real_path(s->dirfd, dir))) {
        code = WEFT_ENOMEM;
    } else if ((code = copy_options(s, opts)) < 0) {
        what = code == WEFT_EINVAL ? "an index name must be a plain file name" : what;
    } else if ((code = weft_http_mime_load(opts ? opts->mime_types : NULL, &s->mime)) < 0) {
        what = "cannot read the MIME types";
    }
    weft_http_resource *res = code < 0 ? NULL : weft_http_resource_new();
    if (!code && !res)
        code = WEFT_ENOMEM;
    if (res) {
        weft_http_resource_set_destroy(res, static_free, s);
        weft_http_resource_set_leaf(res, true);
        if (weft_http_resource_on(res, "GET", serve, s) < 0 || weft_http_resource_on(res, "HEAD", serve, s) < 0) {
            weft_http_resource_free(res);
            if (err)
                *err = weft_failure_new(WEFT_ENOMEM, "out of memory");
            return WEFT_ENOMEM;
        }
        *out = res;
        return 0;
    }
    if (err)
        *err = weft_failure_new(code, "cannot serve %s: %s", dir, what);
    static_free(s);
    return code;
}
