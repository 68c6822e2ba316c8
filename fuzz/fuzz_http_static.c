/* SPDX-License-Identifier: MIT */
/*
 * What the static file resource reads from requests: Range, If-Range,
 * If-Match / If-None-Match lists, dates, path segments - and the mime.types
 * text it loads. Any bytes are parsed or refused, and what is accepted
 * holds together: a partial range lies inside the file, first <= last.
 *
 * And the mapping from a request's path to a file: the first value, made
 * a request target (bytes a target cannot hold percent-encoded), is asked
 * of a static resource over a fixture tree that init builds in a temporary
 * directory, with symbolic links pointing inside and outside it. Every
 * descriptor the server opens meanwhile (openat, openat2) is checked where
 * it points, through /proc/self/fd: never outside the root. The fallback
 * check (open_checked) is asked the decoded path too. No answer carries an
 * outside file's bytes, lists a link out, or redirects to another host.
 *
 * Input: the first 8 bytes are the file size; the rest is split at NUL
 * bytes into the header values tried.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "weft/alloc.h"
#include "weft/http_percent.h"
#include "weft/http_static.h"
#include "weft/reactor.h"
#include "weft/testing.h"

#include "../src/proto/http/static_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* ---- the fixture, and every descriptor opened checked ---- */

#define SECRET "OUTSIDE\0SECRET\n"

static char base[64];       /* the temporary directory */
static char root[PATH_MAX]; /* base/root, as /proc names it */
static bool armed;          /* opens are checked while the server runs */

static void outside_opened(int fd, const char *how)
{
    char where[PATH_MAX];
    ssize_t n = weft__static_fd_path(fd, where, sizeof where);
    size_t rlen = strlen(root);
    if (n < 0 || (size_t)n < rlen || memcmp(where, root, rlen) != 0 || (where[rlen] != '/' && where[rlen] != '\0')) {
        fprintf(stderr, "%s opened %s, outside %s\n", how, n < 0 ? "?" : where, root);
        abort();
    }
}

typedef long (*syscall_fn)(long, ...);

static syscall_fn real_syscall(void)
{
    static syscall_fn fn;
    if (!fn && !(fn = (syscall_fn)dlsym(RTLD_NEXT, "syscall")))
        abort();
    return fn;
}

/* The library's openat and syscall (openat2) come here first. */
int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    int fd = (int)real_syscall()(SYS_openat, dirfd, path, flags, mode);
    if (fd >= 0 && armed)
        outside_opened(fd, "openat");
    return fd;
}

/* (reads six arguments whatever the call passed, as libc's syscall does:
 * not ASan's business) */
__attribute__((no_sanitize("address"))) long syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    long rc = real_syscall()(n, a[0], a[1], a[2], a[3], a[4], a[5]);
#ifdef SYS_openat2
    if (n == SYS_openat2 && rc >= 0 && armed)
        outside_opened((int)rc, "openat2");
#endif
    return rc;
}

static void put(const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", base, name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

static void put_dir(const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", base, name);
    if (mkdir(path, 0755) < 0)
        abort();
}

static void put_link(const char *name, const char *target)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", base, name);
    if (symlink(target, path) < 0)
        abort();
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_fixture(void)
{
    nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(base, sizeof base, "/tmp/weft-fuzz-static-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(base))
        abort();
    atexit(remove_fixture);
    /* (a NUL inside: no path the server reflects can spell it) */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/OUTSIDE.txt", base);
    FILE *secret = fopen(path, "w");
    if (!secret || fwrite(SECRET, 1, sizeof SECRET - 1, secret) != sizeof SECRET - 1)
        abort();
    fclose(secret);
    put("mime.types", "text/plain txt\ntext/html html\n");
    put_dir("root");
    put("root/a.txt", "inside a\n");
    put("root/index.html", "<p>index</p>\n");
    put_dir("root/dir");
    put("root/dir/b.txt", "inside b\n");
    put_dir("root/dir/sub");
    put_dir("root/dir/empty");
    put_link("root/link_in", "a.txt");
    put_link("root/link_dir_in", "dir");
    put_link("root/dir/link_up_in", "../a.txt");
    put_link("root/link_out_abs", "/etc/passwd");
    put_link("root/link_out_rel", "../OUTSIDE.txt");
    put_link("root/dir/link_out_up", "../../OUTSIDE.txt");
    put_link("root/link_out_dir", "..");
    put_link("root/dir/link_out_tmp", "/tmp");
    put_link("root/link_loop", "link_loop");
    snprintf(path, sizeof path, "%s/root", base);
    if (!realpath(path, root))
        abort();
    return 0;
}

/* `path` as a request target: '/' first, bytes a target cannot hold
 * percent-encoded ('%' itself kept, so escapes of every kind arrive). */
static char *target_of(const char *path)
{
    size_t len = strlen(path);
    char *t = malloc(3 * len + 2), *p = t;
    if (!t)
        abort();
    *p++ = '/';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c <= 0x20 || c >= 0x7f || c == '#' || c == '"')
            p += sprintf(p, "%%%02X", c);
        else
            *p++ = (char)c;
    }
    *p = '\0';
    return t;
}

static void ask(const char *path, bool follow_out)
{
    weft_reactor *r;
    if (weft_clock_new(&r) < 0)
        abort();
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_text_observer, stderr);
    char types[PATH_MAX];
    snprintf(types, sizeof types, "%s/mime.types", base);
    weft_http_static_options o = {.mime_types = types, .follow_symlinks_out = follow_out};
    weft_http_resource *res = NULL;
    if (weft_http_static_new(root, &o, &res, NULL) < 0)
        abort();
    weft_http_server *srv = weft_http_server_new(r, res, NULL);
    if (!srv)
        abort();
    weft_factory *f = weft_http_server_factory(srv);
    weft_string_transport *st;
    if (weft_string_transport_new(r, f->ops->build(f, NULL), NULL, NULL, &st) < 0)
        abort();
    char *target = target_of(path);
    char head[64];
    snprintf(head, sizeof head, " HTTP/1.1\r\nHost: x\r\n\r\n");
    armed = !follow_out;
    weft_string_transport_receive(st, "GET ", 4);
    weft_string_transport_receive(st, target, strlen(target));
    weft_string_transport_receive(st, head, strlen(head));
    for (int i = 0; i < 4; i++)
        weft_reactor_iterate(r, 0);
    armed = false;
    size_t out_len;
    const char *out = weft_string_transport_value(st, &out_len);
    if (!follow_out) {
        if (memmem(out, out_len, SECRET, sizeof SECRET - 1))
            abort(); /* an outside file's bytes */
        if (strncmp(out, "HTTP/1.1 200 ", 13) == 0 && strstr(out, "link_out"))
            abort(); /* a link out, listed */
    }
    const char *loc = strstr(out, "\r\nLocation: ");
    if (loc && (loc[12] != '/' || loc[13] == '/' || loc[13] == '\\'))
        abort(); /* a redirect that names a host */
    free(target);
    weft_string_transport_free(st);
    weft_reactor_iterate(r, 0);
    weft_http_server_free(srv);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
}

/* The fallback check, asked the path as the static resource would: what
 * it returns lies inside. */
static void open_checked(const char *path)
{
    char rel[PATH_MAX] = ".";
    size_t n = 1, len = strlen(path);
    char *dec = malloc(len + 1);
    if (!dec)
        abort();
    size_t dlen = weft_http_percent_decode(dec, path, len, 0);
    for (size_t i = 0; i < dlen;) {
        size_t j = i;
        while (j < dlen && dec[j] != '/')
            j++;
        if (j > i) {
            if (!weft__static_segment_ok(dec + i, j - i) || n + 1 + (j - i) >= sizeof rel) {
                free(dec);
                return;
            }
            rel[n++] = '/';
            memcpy(rel + n, dec + i, j - i);
            n += j - i;
            rel[n] = '\0';
        }
        i = j + 1;
    }
    free(dec);
    int dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        abort();
    int fd = weft__static_open_checked(dirfd, root, rel);
    if (fd >= 0) {
        outside_opened(fd, "open_checked");
        close(fd);
    }
    close(dirfd);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t fsize;
    memcpy(&fsize, data, 8);
    fsize %= (uint64_t)1 << 48;
    data += 8, size -= 8;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* values: the text's NUL-separated parts */
    const char *v[4] = {"", "", "", ""};
    size_t nv = 0;
    for (size_t i = 0; i < size + 1 && nv < 4; ) {
        v[nv++] = text + i;
        i += strlen(text + i) + 1;
    }
    struct stat st = {0};
    st.st_ino = 1234;
    st.st_size = (off_t)fsize;
    st.st_mtim.tv_sec = 784111777;
    char etag[WEFT__ETAG_SIZE];
    weft__static_etag(&st, etag);

    uint64_t first = 0, last = 0;
    weft__range_kind k = weft__static_range(v[0], fsize, &first, &last);
    if (k == WEFT__RANGE_PART && (first > last || last >= fsize))
        abort();
    if (k == WEFT__RANGE_NONE && fsize > 0 && strchr(v[0], '=') == NULL)
        abort(); /* nothing unsatisfiable about text that is not a range at all */
    (void)weft__static_if_range(v[1], etag, 784111777);
    (void)weft__static_etag_listed(v[2], etag, true);
    (void)weft__static_etag_listed(v[2], etag, false);
    int pre = weft__static_preconditions(v[0], v[1], v[2], v[3], etag, 784111777);
    if (pre != 0 && pre != 304 && pre != 412)
        abort();
    (void)weft__static_segment_ok(text, size);

    weft_http_mime m = {0};
    if (weft__mime_parse(&m, text, size) == 0) {
        for (size_t i = 1; i < m.n; i++)
            if (strcasecmp(m.v[i - 1].ext, m.v[i].ext) >= 0)
                abort(); /* sorted, each extension once */
    }
    weft_free(m.text);
    weft_free(m.v);

    if (strlen(v[0]) < 512) {
        ask(v[0], false);
        if (fsize & 1)
            ask(v[0], true); /* follow_symlinks_out: no check of where, the rest still holds */
        open_checked(v[0]);
    }
    free(text);
    return 0;
}
