/* SPDX-License-Identifier: MIT */
/*
 * Static files: the pure parts first (segment checks, opening below a
 * directory, validators, Range, preconditions, the MIME table, listing
 * pages), then a weft server with the static resource answering curl over
 * real TCP on 127.0.0.1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/proto/http/static_int.h"
#include "test.h"

/* ---- a scratch directory, removed whatever happens ---- */

typedef struct scratch {
    char root[64];    /* the served directory */
    char outside[96]; /* a file next to it, never to be served */
} scratch;

static void put_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "create %s", path);
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, (const char *)data + done, len - done);
        cr_assert_gt(w, 0);
        done += (size_t)w;
    }
    close(fd);
}

static void put_dir(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s", path);
}

static void put_link(const char *dir, const char *name, const char *target)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(symlink(target, path), 0, "symlink %s", path);
}

static void scratch_new(scratch *s)
{
    snprintf(s->root, sizeof s->root, "/tmp/weft-static-%d-XXXXXX", (int)getpid());
    cr_assert_not_null(mkdtemp(s->root));
    snprintf(s->outside, sizeof s->outside, "%s.secret", s->root);
    put_file("/", s->outside + 1, "top secret\n", 11);
}

/* rm -r, without following links. */
static void remove_tree(int parent, const char *name)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        cr_assert_geq(fd, 0);
        DIR *d = fdopendir(fd);
        cr_assert_not_null(d);
        for (struct dirent *e; (e = readdir(d));)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                remove_tree(dirfd(d), e->d_name);
        closedir(d);
        unlinkat(parent, name, AT_REMOVEDIR);
    } else {
        unlinkat(parent, name, 0);
    }
}

static void scratch_free(scratch *s)
{
    remove_tree(AT_FDCWD, s->root);
    unlink(s->outside);
}

/* ---- path segments and opening below a directory ---- */

WEFT_TEST(http_static, segments)
{
    cr_assert(weft__static_segment_ok("index.html", 10));
    cr_assert(weft__static_segment_ok("...", 3), "three dots are a name");
    cr_assert(weft__static_segment_ok(".hidden", 7));
    cr_assert(!weft__static_segment_ok("", 0));
    cr_assert(!weft__static_segment_ok(".", 1));
    cr_assert(!weft__static_segment_ok("..", 2));
    cr_assert(!weft__static_segment_ok("a/b", 3), "a %2F decoded inside a segment");
    cr_assert(!weft__static_segment_ok("a\\b", 3));
    cr_assert(!weft__static_segment_ok("..\\..", 5));
    cr_assert(!weft__static_segment_ok("a\0b", 3), "a %00 decoded");
}

static int open_in(const scratch *s, int dirfd, const char *rel, bool fallback)
{
    char root[4096];
    cr_assert_not_null(realpath(s->root, root));
    int fd = fallback ? weft__static_open_checked(dirfd, root, rel) : weft__static_open_beneath(dirfd, root, rel, false);
    if (fd >= 0)
        close(fd);
    return fd >= 0 ? 0 : fd;
}

/* Both ways: openat2, and the check used where openat2 is missing. */
static void open_stays_inside(bool fallback)
{
    scratch s;
    scratch_new(&s);
    put_file(s.root, "a.txt", "a", 1);
    put_dir(s.root, "sub");
    put_file(s.root, "sub/b.txt", "b", 1);
    put_link(s.root, "inside", "sub/b.txt");
    put_link(s.root, "sub/up", "../a.txt");
    put_link(s.root, "out", s.outside);
    char rel_out[128];
    snprintf(rel_out, sizeof rel_out, "../%s", strrchr(s.outside, '/') + 1);
    put_link(s.root, "out_rel", rel_out);
    put_link(s.root, "outdir", "/etc");
    int dirfd = open(s.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dirfd, 0);
    cr_assert_eq(open_in(&s, dirfd, "./a.txt", fallback), 0);
    cr_assert_eq(open_in(&s, dirfd, "./sub/b.txt", fallback), 0);
    cr_assert_eq(open_in(&s, dirfd, "./inside", fallback), 0, "a link inside is followed");
    cr_assert_eq(open_in(&s, dirfd, "./sub/up", fallback), 0, "a link climbing but staying inside");
    cr_assert_lt(open_in(&s, dirfd, "./out", fallback), 0, "an absolute link out");
    cr_assert_lt(open_in(&s, dirfd, "./out_rel", fallback), 0, "a relative link out");
    cr_assert_lt(open_in(&s, dirfd, "./outdir/passwd", fallback), 0, "through a directory link out");
    cr_assert_lt(open_in(&s, dirfd, "../etc/passwd", fallback), 0);
    cr_assert_eq(open_in(&s, dirfd, "./missing", fallback), -ENOENT);
    close(dirfd);
    scratch_free(&s);
}

WEFT_TEST(http_static, open_beneath_stays_inside)
{
    open_stays_inside(false);
}

WEFT_TEST(http_static, open_checked_stays_inside)
{
    open_stays_inside(true);
}

/* ---- validators, preconditions, Range ---- */

WEFT_TEST(http_static, etag_from_inode_size_and_mtime)
{
    struct stat st = {.st_ino = 0x1234, .st_size = 1024};
    st.st_mtim.tv_sec = 1700000000;
    st.st_mtim.tv_nsec = 5;
    char a[WEFT__ETAG_SIZE], b[WEFT__ETAG_SIZE];
    weft__static_etag(&st, a);
    cr_assert_str_eq(a, "\"1234-400-6553f100.5\"");
    st.st_mtim.tv_nsec = 6;
    weft__static_etag(&st, b);
    cr_assert_str_neq(a, b, "a nanosecond changes it");
}

WEFT_TEST(http_static, etag_lists)
{
    const char *e = "\"abc\"";
    cr_assert(weft__static_etag_listed("\"abc\"", e, false));
    cr_assert(weft__static_etag_listed("*", e, false));
    cr_assert(weft__static_etag_listed(" \"x\", \"abc\" ", e, false));
    cr_assert(weft__static_etag_listed("\"a,b\", \"abc\"", e, false), "a comma inside a tag");
    cr_assert(!weft__static_etag_listed("\"abcd\"", e, false));
    cr_assert(!weft__static_etag_listed("W/\"abc\"", e, false), "weak tags never match strongly");
    cr_assert(weft__static_etag_listed("W/\"abc\"", e, true));
    cr_assert(!weft__static_etag_listed("abc", e, true), "not an entity tag");
    cr_assert(!weft__static_etag_listed("", e, true));
}

WEFT_TEST(http_static, preconditions)
{
    const char *e = "\"abc\"";
    long long mtime = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    const char *at = "Sun, 06 Nov 1994 08:49:37 GMT", *before = "Sun, 06 Nov 1994 08:49:36 GMT";
    cr_assert_eq(weft__static_preconditions(NULL, NULL, NULL, NULL, e, mtime), 0);
    cr_assert_eq(weft__static_preconditions(NULL, NULL, "\"abc\"", NULL, e, mtime), 304);
    cr_assert_eq(weft__static_preconditions(NULL, NULL, "W/\"abc\"", NULL, e, mtime), 304, "weak comparison");
    cr_assert_eq(weft__static_preconditions(NULL, NULL, "\"x\"", NULL, e, mtime), 0);
    cr_assert_eq(weft__static_preconditions(NULL, NULL, NULL, at, e, mtime), 304);
    cr_assert_eq(weft__static_preconditions(NULL, NULL, NULL, before, e, mtime), 0);
    cr_assert_eq(weft__static_preconditions(NULL, NULL, NULL, "yesterday", e, mtime), 0, "bad dates are ignored");
    cr_assert_eq(weft__static_preconditions(NULL, NULL, "\"x\"", at, e, mtime), 0,
                 "If-None-Match decides; If-Modified-Since is not looked at");
    cr_assert_eq(weft__static_preconditions("\"x\"", NULL, NULL, NULL, e, mtime), 412);
    cr_assert_eq(weft__static_preconditions("\"abc\"", NULL, NULL, NULL, e, mtime), 0);
    cr_assert_eq(weft__static_preconditions(NULL, before, NULL, NULL, e, mtime), 412);
    cr_assert_eq(weft__static_preconditions(NULL, at, NULL, NULL, e, mtime), 0);
}

static weft__range_kind range(const char *h, uint64_t size, uint64_t *a, uint64_t *b)
{
    *a = *b = 12345;
    return weft__static_range(h, size, a, b);
}

WEFT_TEST(http_static, ranges)
{
    uint64_t a, b;
    cr_assert_eq(range(NULL, 1000, &a, &b), WEFT__RANGE_WHOLE);
    cr_assert_eq(range("bytes=0-99", 1000, &a, &b), WEFT__RANGE_PART);
    cr_assert(a == 0 && b == 99);
    cr_assert_eq(range("bytes=-100", 1000, &a, &b), WEFT__RANGE_PART);
    cr_assert(a == 900 && b == 999);
    cr_assert_eq(range("bytes=100-", 1000, &a, &b), WEFT__RANGE_PART);
    cr_assert(a == 100 && b == 999);
    cr_assert_eq(range("bytes=990-2000", 1000, &a, &b), WEFT__RANGE_PART);
    cr_assert(a == 990 && b == 999, "the end is clamped");
    cr_assert_eq(range("bytes=-5000", 1000, &a, &b), WEFT__RANGE_PART);
    cr_assert(a == 0 && b == 999, "a suffix longer than the file is all of it");
    cr_assert_eq(range("Bytes = 5-5", 1000, &a, &b), WEFT__RANGE_PART);
    cr_assert(a == 5 && b == 5);
    cr_assert_eq(range("bytes=1000-", 1000, &a, &b), WEFT__RANGE_NONE);
    cr_assert_eq(range("bytes=5000-6000", 1000, &a, &b), WEFT__RANGE_NONE);
    cr_assert_eq(range("bytes=-0", 1000, &a, &b), WEFT__RANGE_NONE);
    cr_assert_eq(range("bytes=-10", 0, &a, &b), WEFT__RANGE_NONE, "nothing of an empty file");
    cr_assert_eq(range("bytes=0-", 0, &a, &b), WEFT__RANGE_NONE);
    cr_assert_eq(range("bytes=0-1,5-6", 1000, &a, &b), WEFT__RANGE_WHOLE, "several ranges: the whole file");
    cr_assert_eq(range("bytes=9-5", 1000, &a, &b), WEFT__RANGE_WHOLE, "invalid: ignored");
    cr_assert_eq(range("items=0-5", 1000, &a, &b), WEFT__RANGE_WHOLE);
    cr_assert_eq(range("bytes=x-5", 1000, &a, &b), WEFT__RANGE_WHOLE);
    cr_assert_eq(range("bytes=-", 1000, &a, &b), WEFT__RANGE_WHOLE);
    cr_assert_eq(range("bytes=", 1000, &a, &b), WEFT__RANGE_WHOLE);
    cr_assert_eq(range("bytes=99999999999999999999-", 1000, &a, &b), WEFT__RANGE_WHOLE, "no overflow");
    cr_assert_eq(range("bytes=0-18446744073709551615", 1000, &a, &b), WEFT__RANGE_WHOLE);
    cr_assert_eq(range("bytes=0-9999999999999999999", 1000, &a, &b), WEFT__RANGE_PART);
    cr_assert(a == 0 && b == 999);
}

WEFT_TEST(http_static, if_range)
{
    long long mtime = 784111777;
    cr_assert(weft__static_if_range(NULL, "\"abc\"", mtime));
    cr_assert(weft__static_if_range("\"abc\"", "\"abc\"", mtime));
    cr_assert(!weft__static_if_range("\"abd\"", "\"abc\"", mtime));
    cr_assert(!weft__static_if_range("W/\"abc\"", "\"abc\"", mtime), "strong comparison only");
    cr_assert(weft__static_if_range("Sun, 06 Nov 1994 08:49:37 GMT", "\"abc\"", mtime));
    cr_assert(!weft__static_if_range("Sun, 06 Nov 1994 08:49:38 GMT", "\"abc\"", mtime));
    cr_assert(!weft__static_if_range("garbage", "\"abc\"", mtime));
}

/* ---- the MIME table ---- */

WEFT_TEST(http_static, mime_table_from_text)
{
    static const char text[] = "# comment line\n"
                               "text/html\t\thtml htm\n"
                               "text/x-other\thtml\n" /* a later line does not win */
                               "image/png png # trailing comment\n"
                               "application/x-empty\n"
                               "\n"
                               "text/css css";
    weft_http_mime m;
    cr_assert_eq(weft__mime_parse(&m, text, sizeof text - 1), 0);
    cr_assert_str_eq(weft_http_mime_type(&m, "index.html", "d"), "text/html");
    cr_assert_str_eq(weft_http_mime_type(&m, "A.HTM", "d"), "text/html", "case ignored");
    cr_assert_str_eq(weft_http_mime_type(&m, "dir.d/pic.png", "d"), "image/png");
    cr_assert_str_eq(weft_http_mime_type(&m, "style.css", "d"), "text/css", "a last line without newline");
    cr_assert_str_eq(weft_http_mime_type(&m, "x.comment", "d"), "d");
    cr_assert_str_eq(weft_http_mime_type(&m, "README", "d"), "d");
    cr_assert_str_eq(weft_http_mime_type(&m, ".html", "d"), "d", "a dot file has no extension");
    cr_assert_str_eq(weft_http_mime_type(&m, "a.", "d"), "d");
    cr_assert_str_eq(weft_http_mime_type(&m, "png.d/file", "d"), "d", "dots in directories do not count");
    cr_assert_null(weft_http_mime_type(&m, "x.unknown", NULL));
    weft_free(m.v);
    weft_free(m.text);
}

WEFT_TEST(http_static, mime_from_etc_and_builtin)
{
    weft_http_mime *m;
    cr_assert_eq(weft_http_mime_load(NULL, &m), 0);
    cr_assert_str_eq(weft_http_mime_type(m, "a.html", "d"), "text/html");
    cr_assert_str_eq(weft_http_mime_type(m, "a.css", "d"), "text/css");
    cr_assert_str_eq(weft_http_mime_type(m, "a.png", "d"), "image/png");
    cr_assert_str_eq(weft_http_mime_type(m, "a.json", "d"), "application/json");
    cr_assert_str_eq(weft_http_mime_type(m, "a.zzunknown", "d"), "d");
    weft_http_mime_free(m);
    cr_assert_eq(weft_http_mime_load("/nonexistent/mime.types", &m), 0, "a missing file: the built-in table");
    cr_assert_str_eq(weft_http_mime_type(m, "a.html", "d"), "text/html");
    cr_assert_str_eq(weft_http_mime_type(m, "a.png", "d"), "image/png");
    weft_http_mime_free(m);
    cr_assert_eq(weft_http_mime_load("/", &m), -EISDIR);
}

/* ---- listings ---- */

WEFT_TEST(http_static, escaping)
{
    weft__sbuf b = {0};
    const char *name = "<b>&\"x'.txt";
    weft__sbuf_add_html(&b, name, strlen(name));
    cr_assert_str_eq(b.data, "&lt;b&gt;&amp;&quot;x&#39;.txt");
    b.len = 0;
    weft__sbuf_add_url(&b, name, strlen(name));
    cr_assert_str_eq(b.data, "%3Cb%3E%26%22x%27.txt");
    b.len = 0;
    weft__sbuf_add_url(&b, "a b/\xc3\xa9~_-.", 10);
    cr_assert_str_eq(b.data, "a%20b%2F%C3%A9~_-.");
    weft_free(b.data);
}

WEFT_TEST(http_static, listing_page_sorted_and_escaped)
{
    weft__listing_entry v[] = {
        {"zeta.txt", false, 3},
        {"<b>&\"x'.txt", false, 12},
        {"alpha", true, 0},
    };
    weft__sbuf b = {0};
    cr_assert_eq(weft__static_listing_page(&b, "/files/<i>/", v, 3), 0);
    cr_assert_not_null(strstr(b.data, "<title>Index of /files/&lt;i&gt;/</title>"));
    cr_assert_not_null(strstr(b.data, "<a href=\"../\">"));
    const char *x = strstr(b.data, "<a href=\"./%3Cb%3E%26%22x%27.txt\">&lt;b&gt;&amp;&quot;x&#39;.txt</a>");
    const char *alpha = strstr(b.data, "<a href=\"./alpha/\">alpha/</a>");
    const char *zeta = strstr(b.data, "<a href=\"./zeta.txt\">zeta.txt</a>");
    cr_assert(x && alpha && zeta, "%s", b.data);
    cr_assert(x < alpha && alpha < zeta, "sorted by name (bytes)");
    cr_assert_null(strstr(b.data, "<b>"), "no markup from a name");
    weft_free(b.data);
}

WEFT_TEST(http_static, listing_of_a_directory)
{
    scratch s;
    scratch_new(&s);
    put_file(s.root, "b.txt", "bb", 2);
    put_file(s.root, "a.txt", "a", 1);
    put_dir(s.root, "c");
    put_link(s.root, "broken", "nowhere");
    int dirfd = open(s.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    weft__sbuf b = {0};
    cr_assert_eq(weft__static_listing(&b, dirfd, "/"), 0);
    const char *a = strstr(b.data, "./a.txt\""), *bb = strstr(b.data, "./b.txt\""), *c = strstr(b.data, "./c/\"");
    cr_assert(a && bb && c && a < bb && bb < c, "%s", b.data);
    cr_assert_null(strstr(b.data, "broken"), "a broken link is not listed");
    cr_assert_null(strstr(b.data, "../"), "no parent at the top");
    weft_free(b.data);
    close(dirfd);
    scratch_free(&s);
}
