/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "dir:ROOTFS" builds: a directory tree (a sandbox, a debootstrap root)
 * read into the in-memory tree as it is on disk -- owners, modes, times,
 * hard links, device nodes, extended attributes squashfs can hold.  Every
 * name is opened relative to its parent's descriptor and never followed:
 * symbolic links are stored, not resolved.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "build.h"
#include "sqfs_out.h"
#include "tree.h"

#define MAX_DEPTH 512

struct hl {                       /* files with more than one name */
	dev_t dev;
	ino_t ino;
	struct tree_inode *node;
};

struct scan {
	struct tree *t;
	struct sqfs_out *out;
	struct hl *hl;
	size_t nhl, caphl;
	char path[8192];
	unsigned char buf[1 << 20];
};

static int fail(struct scan *s, int e, const char *what, struct sif_err *err)
{
	return sif_err_set(err, e, "%s%s: %s: %s", s->path[0] ? "" : ".", s->path, what,
	                   strerror(e));
}

static int read_xattrs(struct scan *s, int fd, struct tree_inode *ino, struct sif_err *err)
{
	char names[65536], *p;
	ssize_t n = flistxattr(fd, names, sizeof(names));

	if (n < 0)
		return errno == ENOTSUP ? 0 : fail(s, errno, "list extended attributes", err);
	for (p = names; p < names + n; p += strlen(p) + 1) {
		ssize_t v;
		if (strncmp(p, "user.", 5) != 0 && strncmp(p, "trusted.", 8) != 0 &&
		    strncmp(p, "security.", 9) != 0)
			continue;
		v = fgetxattr(fd, p, s->buf, sizeof(s->buf));
		if (v < 0) {
			if (errno == ENODATA || errno == EPERM || errno == EACCES)
				continue;   /* trusted.* is root's */
			return fail(s, errno, "read extended attribute", err);
		}
		if (tree_xattr_set(ino, p, s->buf, (size_t)v) < 0)
			return sif_err_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

static void set_stat(struct tree_inode *ino, const struct stat *st)
{
	ino->mode = st->st_mode & (S_IFMT | 07777);
	ino->uid = st->st_uid;
	ino->gid = st->st_gid;
	ino->mtime = st->st_mtime;
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		ino->rdev_major = major(st->st_rdev);
		ino->rdev_minor = minor(st->st_rdev);
	}
}

static int copy_data(struct scan *s, int fd, struct tree_inode *ino, off_t size,
                     struct sif_err *err)
{
	ssize_t n;
	int r;

	if (size > 0 && (size_t)size <= sizeof(s->buf)) {
		/* read whole: a file seen before is not compressed again */
		size_t got = 0;
		while (got < (size_t)size) {
			n = read(fd, s->buf + got, (size_t)size - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return fail(s, errno, "read", err);
			if (n == 0)
				return sif_err_set(err, EAGAIN, "%s: changed while it was read; build again",
				                   s->path);
			got += (size_t)n;
		}
		return sqfs_out_file_write(s->out, ino, s->buf, got, err);
	}
	r = sqfs_out_file_begin(s->out, ino, err);

	if (r < 0)
		return r;
	for (;;) {
		n = read(fd, s->buf, sizeof(s->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(s, errno, "read", err);
		if (n == 0)
			break;
		if ((r = sqfs_out_file_append(s->out, s->buf, (size_t)n, err)) < 0)
			return r;
	}
	return sqfs_out_file_end(s->out, err);
}

static int scan_dir(struct scan *s, int dfd, struct tree_node *dir, int depth, struct sif_err *err);

/* The file opened is the one looked at (the tree may change under us). */
static int same_file(struct scan *s, int fd, const struct stat *st, struct sif_err *err)
{
	struct stat now;

	if (fstat(fd, &now) < 0)
		return fail(s, errno, "stat", err);
	if (now.st_dev != st->st_dev || now.st_ino != st->st_ino ||
	    (now.st_mode & S_IFMT) != (st->st_mode & S_IFMT))
		return sif_err_set(err, EAGAIN, "%s: changed while it was read; build again",
		                   s->path);
	return 0;
}

/* One entry NAME of the directory open as DFD. */
static int scan_entry(struct scan *s, int dfd, struct tree_node *dir, const char *name,
                      int depth, struct sif_err *err)
{
	struct stat st;
	struct tree_node *c;
	struct tree_inode *ino = NULL;
	size_t len = strlen(s->path);
	int fd = -1, r = 0;

	if (len + strlen(name) + 2 >= sizeof(s->path))
		return sif_err_set(err, ENAMETOOLONG, "%s/%s: path too long", s->path, name);
	if (strlen(name) > 255)
		return sif_err_set(err, ENAMETOOLONG, "%s/%s: name too long", s->path, name);
	snprintf(s->path + len, sizeof(s->path) - len, "/%s", name);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = fail(s, errno, "stat", err);
		goto out;
	}
	c = tree_add_child(s->t, dir, name);
	if (!c) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	c->layer = 0;
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		for (size_t i = 0; i < s->nhl; i++)
			if (s->hl[i].dev == st.st_dev && s->hl[i].ino == st.st_ino) {
				c->inode = s->hl[i].node;
				c->inode->nlink++;
				goto out;
			}
	}
	ino = tree_inode_new(st.st_mode & S_IFMT);
	if (!ino) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	c->inode = ino;
	s->t->ninodes++;
	set_stat(ino, &st);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		if (s->nhl == s->caphl) {
			size_t cap = s->caphl ? s->caphl * 2 : 64;
			struct hl *v = realloc(s->hl, cap * sizeof(*v));
			if (!v) {
				r = sif_err_set(err, ENOMEM, "out of memory");
				goto out;
			}
			s->hl = v;
			s->caphl = cap;
		}
		s->hl[s->nhl++] = (struct hl){.dev = st.st_dev, .ino = st.st_ino, .node = ino};
	}

	switch (st.st_mode & S_IFMT) {
	case S_IFLNK: {
		ssize_t n = readlinkat(dfd, name, (char *)s->buf, sizeof(s->buf) - 1);
		if (n < 0) {
			r = fail(s, errno, "read symbolic link", err);
			goto out;
		}
		s->buf[n] = '\0';
		ino->target = strdup((char *)s->buf);
		if (!ino->target)
			r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;   /* no xattrs on links */
	}
	case S_IFREG:
		fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			r = fail(s, errno, "open", err);
			goto out;
		}
		if ((r = same_file(s, fd, &st, err)) < 0)
			goto out;
		if ((r = read_xattrs(s, fd, ino, err)) < 0)
			goto out;
		if (st.st_size == 0)
			ino->data_done = true;
		else
			r = copy_data(s, fd, ino, st.st_size, err);
		break;
	case S_IFDIR:
		if (depth >= MAX_DEPTH) {
			r = sif_err_set(err, ELOOP, "%s: directories nested deeper than %d", s->path,
			                MAX_DEPTH);
			goto out;
		}
		fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_DIRECTORY);
		if (fd < 0) {
			r = fail(s, errno, "open directory", err);
			goto out;
		}
		if ((r = same_file(s, fd, &st, err)) < 0)
			goto out;
		if ((r = read_xattrs(s, fd, ino, err)) < 0)
			goto out;
		r = scan_dir(s, fd, c, depth + 1, err);
		break;
	default:
		break;     /* devices, fifos, sockets: metadata only */
	}
out:
	if (fd >= 0)
		close(fd);
	s->path[len] = '\0';
	return r;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of a directory, sorted: the image's bytes must not depend on
 * the order the filesystem lists them in. */
static int scan_dir(struct scan *s, int dfd, struct tree_node *dir, int depth, struct sif_err *err)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (!d) {
		r = fail(s, errno, "read directory", err);
		if (fd >= 0)
			close(fd);
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				r = fail(s, errno, "read directory", err);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*v));
			if (!v) {
				r = sif_err_set(err, ENOMEM, "out of memory");
				break;
			}
			names = v;
		}
		if (!(names[n] = strdup(de->d_name))) {
			r = sif_err_set(err, ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (r == 0 && n)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = scan_entry(s, dfd, dir, names[i], depth, err);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int dirsrc_scan(struct tree *t, struct sqfs_out *out, const char *root, struct sif_err *err)
{
	struct scan *s = calloc(1, sizeof(*s));
	struct stat st;
	int fd, r;

	if (!s)
		return sif_err_set(err, ENOMEM, "out of memory");
	s->t = t;
	s->out = out;
	fd = open(root, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = sif_err_set(err, errno, "%s: %s", root, strerror(errno));
		goto out;
	}
	set_stat(t->root->inode, &st);
	t->root->implicit = false;
	r = read_xattrs(s, fd, t->root->inode, err);
	if (r == 0)
		r = scan_dir(s, fd, t->root, 0, err);
	if (r < 0)
		sif_err_prefix(err, "%s: ", root);
out:
	if (fd >= 0)
		close(fd);
	free(s->hl);
	free(s);
	return r;
}
