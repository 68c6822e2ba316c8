/* SPDX-License-Identifier: MIT */
/*
 * Directory listings: an HTML page of the entries, sorted by name. Names are
 * bytes chosen by whoever writes the directory, so every one is escaped
 * twice over: HTML entities in the text, percent-encoding in the href.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "static_int.h"
#include "weft/alloc.h"
#include "weft/error.h"


static int by_name(const void *a, const void *b)
{
    return strcmp(((const weft__listing_entry *)a)->name, ((const weft__listing_entry *)b)->name);
}

int weft__static_listing_page(weft__http_buf *out, const char *title, weft__listing_entry *v, size_t n)
{
    if (n) /* (v may be NULL then) */
        qsort(v, n, sizeof *v, by_name);
    size_t tlen = strlen(title);
    weft__http_buf_adds(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    weft__http_buf_add_html(out, title, tlen);
    weft__http_buf_adds(out, "</title></head>\n<body>\n<h1>Index of ");
    weft__http_buf_add_html(out, title, tlen);
    weft__http_buf_adds(out, "</h1>\n<ul>\n");
    if (strcmp(title, "/") != 0)
        weft__http_buf_adds(out, "<li><a href=\"../\">../</a></li>\n");
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i].name);
        weft__http_buf_adds(out, "<li><a href=\"./");
        /* "./": a name with a colon must not read as a scheme. */
        weft__http_buf_add_url(out, v[i].name, len);
        weft__http_buf_adds(out, v[i].dir ? "/\">" : "\">");
        weft__http_buf_add_html(out, v[i].name, len);
        if (v[i].dir) {
            weft__http_buf_adds(out, "/</a></li>\n");
        } else {
            char size[48];
            snprintf(size, sizeof size, "</a> %llu</li>\n", (unsigned long long)v[i].size);
            weft__http_buf_adds(out, size);
        }
    }
    weft__http_buf_adds(out, "</ul>\n</body></html>\n");
    return out->failed ? WEFT_ENOMEM : 0;
}

static void free_entries(weft__listing_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        weft_free(v[i].name);
    weft_free(v);
}

/* What an entry is, as the resource would see it: links are resolved the
 * way a request for them would be, so none leading out is listed. */
static int entry_stat(int fd, const char *name, struct stat *st, int rootfd, const char *root, const char *rel,
                      bool follow_out)
{
    if (fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (!S_ISLNK(st->st_mode))
        return 0;
    weft__http_buf path = {0};
    weft__http_buf_adds(&path, rel);
    weft__http_buf_adds(&path, "/");
    weft__http_buf_adds(&path, name);
    int target = path.failed ? WEFT_ENOMEM : weft__static_open_beneath(rootfd, root, path.data, follow_out);
    weft_free(path.data);
    if (target < 0)
        return target;
    int err = fstat(target, st) < 0 ? -errno : 0;
    close(target);
    return err;
}

int weft__static_listing(weft__http_buf *out, int dirfd, const char *title, int rootfd, const char *root, const char *rel,
                         bool follow_out)
{
    /* closedir closes the descriptor it reads: give it its own. */
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = -errno;
        close(fd);
        return err;
    }
    weft__listing_entry *v = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    for (struct dirent *e; (errno = 0, e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        int why = entry_stat(fd, e->d_name, &st, rootfd, root, rel, follow_out);
        if (why == WEFT_ENOMEM) {
            err = why;
            break;
        }
        if (why < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            weft__listing_entry *bigger = weft_realloc(v, ncap * sizeof *v);
            if (!bigger) {
                err = WEFT_ENOMEM;
                break;
            }
            v = bigger;
            cap = ncap;
        }
        char *name = weft_strdup(e->d_name);
        if (!name) {
            err = WEFT_ENOMEM;
            break;
        }
        v[n++] = (weft__listing_entry){name, S_ISDIR(st.st_mode), (uint64_t)st.st_size};
    }
    if (!err && errno)
        err = -errno;
    closedir(d);
    if (!err)
        err = weft__static_listing_page(out, title, v, n);
    free_entries(v, n);
    return err;
}
