/* SPDX-License-Identifier: MIT */
/*
 * Mapping a request to a file without ever leaving the served directory.
 * Segments are checked one by one first (no "..", no separators hidden by
 * percent-encoding); then the kernel resolves the path below the directory's
 * descriptor with RESOLVE_BENEATH, which also stops symbolic links (and
 * links renamed in meanwhile) from leading out. Where openat2 is missing
 * (Linux before 5.6, or a seccomp filter refusing it) the descriptor
 * opened is checked instead: its real path, read back from /proc, must lie
 * below the root. Checking what was opened, not the name, leaves no race.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif

#include "static_int.h"

bool weft__static_segment_ok(const char *seg, size_t len)
{
    if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (seg[i] == '/' || seg[i] == '\\' || seg[i] == '\0')
            return false;
    return true;
}

/* O_NONBLOCK: opening a FIFO planted in the directory must not hang the
 * loop (it is refused afterwards, as anything but files and directories). */
enum { OPEN_FLAGS = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK };

ssize_t weft__static_fd_path(int fd, char *buf, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, size - 1);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

int weft__static_open_checked(int dirfd, const char *root, const char *rel)
{
    int fd = openat(dirfd, rel, OPEN_FLAGS);
    if (fd < 0)
        return -errno;
    char real[PATH_MAX];
    ssize_t n = weft__static_fd_path(fd, real, sizeof real);
    size_t rlen = strlen(root);
    /* Fails closed: without /proc nothing is served. */
    bool inside = n > 0 && (size_t)n >= rlen && memcmp(real, root, rlen) == 0 &&
                  ((size_t)n == rlen || real[rlen] == '/' || (rlen == 1 && root[0] == '/'));
    if (!inside) {
        close(fd);
        return n > 0 ? -EXDEV : -EACCES;
    }
    return fd;
}

int weft__static_open_beneath(int dirfd, const char *root, const char *rel, bool follow_out)
{
    if (follow_out) {
        int fd = openat(dirfd, rel, OPEN_FLAGS);
        return fd < 0 ? -errno : fd;
    }
#if defined(SYS_openat2) && defined(RESOLVE_BENEATH)
    struct open_how how = {
        .flags = OPEN_FLAGS,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    if (fd >= 0)
        return (int)fd;
    if (errno != ENOSYS && errno != EPERM)
        return -errno;
#endif
    return weft__static_open_checked(dirfd, root, rel);
}
