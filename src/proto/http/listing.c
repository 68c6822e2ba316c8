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

void weft__sbuf_add(weft__sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n + 1)
            cap *= 2;
        char *d = weft_realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void weft__sbuf_adds(weft__sbuf *b, const char *s)
{
    weft__sbuf_add(b, s, strlen(s));
}

void weft__sbuf_add_html(weft__sbuf *b, const char *s, size_t n)
{
    size_t plain = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ent = s[i] == '&'    ? "&amp;"
                          : s[i] == '<'  ? "&lt;"
                          : s[i] == '>'  ? "&gt;"
                          : s[i] == '"'  ? "&quot;"
                          : s[i] == '\'' ? "&#39;"
                                         : NULL;
        if (!ent)
            continue;
        weft__sbuf_add(b, s + plain, i - plain);
        weft__sbuf_adds(b, ent);
        plain = i + 1;
    }
    weft__sbuf_add(b, s + plain, n - plain);
}

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

void weft__sbuf_add_url(weft__sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            weft__sbuf_add(b, (const char *)&c, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            weft__sbuf_add(b, esc, 3);
        }
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const weft__listing_entry *)a)->name, ((const weft__listing_entry *)b)->name);
}

int weft__static_listing_page(weft__sbuf *out, const char *title, weft__listing_entry *v, size_t n)
{
    qsort(v, n, sizeof *v, by_name);
    size_t tlen = strlen(title);
    weft__sbuf_adds(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    weft__sbuf_add_html(out, title, tlen);
    weft__sbuf_adds(out, "</title></head>\n<body>\n<h1>Index of ");
    weft__sbuf_add_html(out, title, tlen);
    weft__sbuf_adds(out, "</h1>\n<ul>\n");
    if (strcmp(title, "/") != 0)
        weft__sbuf_adds(out, "<li><a href=\"../\">../</a></li>\n");
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i].name);
        weft__sbuf_adds(out, "<li><a href=\"./");
        /* "./": a name with a colon must not read as a scheme. */
        weft__sbuf_add_url(out, v[i].name, len);
        weft__sbuf_adds(out, v[i].dir ? "/\">" : "\">");
        weft__sbuf_add_html(out, v[i].name, len);
        if (v[i].dir) {
            weft__sbuf_adds(out, "/</a></li>\n");
        } else {
            char size[48];
            snprintf(size, sizeof size, "</a> %llu</li>\n", (unsigned long long)v[i].size);
            weft__sbuf_adds(out, size);
        }
    }
    weft__sbuf_adds(out, "</ul>\n</body></html>\n");
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
    weft__sbuf path = {0};
    weft__sbuf_adds(&path, rel);
    weft__sbuf_adds(&path, "/");
    weft__sbuf_adds(&path, name);
    int target = path.failed ? WEFT_ENOMEM : weft__static_open_beneath(rootfd, root, path.data, follow_out);
    weft_free(path.data);
    if (target < 0)
        return target;
    int err = fstat(target, st) < 0 ? -errno : 0;
    close(target);
    return err;
}

int weft__static_listing(weft__sbuf *out, int dirfd, const char *title, int rootfd, const char *root, const char *rel,
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
