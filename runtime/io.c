/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

int sif_pread_full(int fd, void *buf, size_t len, int64_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int sif_pwrite_full(int fd, const void *buf, size_t len, int64_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int sif_pwrite_zeros(int fd, int64_t off, uint64_t len)
{
	static const char zeros[65536];

	while (len > 0) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		int r = sif_pwrite_full(fd, zeros, n, off);
		if (r < 0)
			return r;
		off += (int64_t)n;
		len -= n;
	}
	return 0;
}

int sif_copy_range(int src_fd, int64_t src_off, int dst_fd, int64_t dst_off, uint64_t len)
{
	char buf[1 << 16];

	/* copy_file_range shares extents on filesystems that can (btrfs, xfs,
	 * NFS 4.2 server-side copy) and falls back to a kernel copy elsewhere */
	while (len > 0) {
		loff_t in = src_off, out = dst_off;
		ssize_t n = copy_file_range(src_fd, &in, dst_fd, &out, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		src_off += n;
		dst_off += n;
		len -= (uint64_t)n;
	}
	while (len > 0) {
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		int r = sif_pread_full(src_fd, buf, want, src_off);
		if (r == 0)
			r = sif_pwrite_full(dst_fd, buf, want, dst_off);
		if (r < 0)
			return r;
		src_off += (int64_t)want;
		dst_off += (int64_t)want;
		len -= want;
	}
	return 0;
}

int sif_mkdirs(const char *dir, mode_t mode)
{
	char buf[PATH_MAX];

	if ((size_t)snprintf(buf, sizeof(buf), "%s", dir) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int sif_cache_dir(char *buf, size_t len)
{
	const char *d = getenv("SIF_CACHEDIR"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
	int r;

	if (d && *d)
		r = snprintf(buf, len, "%s", d);
	else if (x && *x == '/')
		r = snprintf(buf, len, "%s/sif", x);
	else if (h && *h == '/')
		r = snprintf(buf, len, "%s/.cache/sif", h);
	else
		return -ENOENT;
	return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
}

char *sif_trim(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}
