/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolve.h"

#define MAX_LINKS 40      /* as the kernel's MAXSYMLINKS */
#define MAX_DEPTH 256

/* The path still to walk, as a stack of pending text: links push their
 * target in front of what remains. */
struct walk {
	char *rest;           /* malloc'd, components separated by '/' */
};

static int push_front(struct walk *w, const char *front)
{
	size_t a = strlen(front), b = w->rest ? strlen(w->rest) : 0;
	char *n = malloc(a + b + 2);
	if (!n)
		return -ENOMEM;
	memcpy(n, front, a);
	n[a] = '/';
	if (b)
		memcpy(n + a + 1, w->rest, b);
	n[a + 1 + b] = '\0';
	free(w->rest);
	w->rest = n;
	return 0;
}

/* Pop the next non-empty component into comp; returns false at the end. */
static bool next_component(struct walk *w, char *comp, size_t complen, bool *last)
{
	char *p = w->rest;
	while (p && *p == '/')
		p++;
	if (!p || !*p)
		return false;
	size_t n = strcspn(p, "/");
	if (n >= complen)
		n = complen - 1;    /* longer than NAME_MAX: openat will say ENAMETOOLONG */
	memcpy(comp, p, n);
	comp[n] = '\0';
	p += strcspn(p, "/");
	memmove(w->rest, p, strlen(p) + 1);
	p = w->rest;
	while (*p == '/')
		p++;
	*last = *p == '\0';
	return true;
}

static int resolve_impl(int rootfd, const char *path, enum sif_resolve_create create,
                        bool follow_last, char *canon, size_t canonlen, char *rest,
                        size_t restlen, struct sif_err *err)
{
	/* the descriptors of the directories walked so far: [0] is the root */
	int stack[MAX_DEPTH];
	size_t depth = 0, links = 0;
	char comp[NAME_MAX + 2];
	char cpath[PATH_MAX] = "";
	struct walk w = {.rest = strdup(path)};
	bool last = true;
	int r = 0, fd = -1;

	if (!w.rest)
		return sif_err_set(err, ENOMEM, "out of memory");
	stack[0] = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (stack[0] < 0) {
		free(w.rest);
		return sif_err_set(err, errno, "resolve %s: %s", path, strerror(errno));
	}

	while (next_component(&w, comp, sizeof(comp), &last)) {
		struct stat st;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			if (depth > 0) {
				close(stack[depth--]);
				char *slash = strrchr(cpath, '/');
				if (slash)
					*slash = '\0';
			}
			continue;
		}
		fd = openat(stack[depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create != SIF_RESOLVE_EXISTING) {
			if (last && create == SIF_RESOLVE_MKFILE) {
				/* O_CREAT needs a real directory descriptor, not O_PATH */
				int dfd = openat(stack[depth], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				int nf = dfd < 0 ? -1 : openat(dfd, comp, O_WRONLY | O_CREAT | O_EXCL |
				                                O_NOFOLLOW | O_CLOEXEC, 0644);
				if (nf >= 0)
					close(nf);
				if (dfd >= 0)
					close(dfd);
			} else {
				mkdirat(stack[depth], comp, 0755);
			}
			fd = openat(stack[depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0 && errno == ENOENT && rest) {
			/* report where the path stops existing, and what is left */
			snprintf(canon, canonlen, "%s", cpath[0] ? cpath : "/");
			snprintf(rest, restlen, "%s%s", comp, w.rest);
			r = 0;
			goto out;
		}
		if (fd < 0) {
			r = sif_err_set(err, errno, "%s%s/%s: %s", create ? "create " : "", cpath, comp,
			                strerror(errno));
			goto out;
		}
		if (fstat(fd, &st) < 0) {
			r = sif_err_set(err, errno, "stat %s/%s: %s", cpath, comp, strerror(errno));
			goto out;
		}
		if (S_ISLNK(st.st_mode) && (!last || follow_last)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
			close(fd);
			fd = -1;
			if (n < 0) {
				r = sif_err_set(err, errno, "readlink %s/%s: %s", cpath, comp, strerror(errno));
				goto out;
			}
			target[n] = '\0';
			if (++links > MAX_LINKS) {
				r = sif_err_set(err, ELOOP, "%s: too many levels of symbolic links", path);
				goto out;
			}
			if (push_front(&w, target) < 0) {
				r = sif_err_set(err, ENOMEM, "out of memory");
				goto out;
			}
			if (target[0] == '/') {
				/* absolute: start again at the container's root */
				while (depth > 0)
					close(stack[depth--]);
				cpath[0] = '\0';
			}
			last = false;
			continue;
		}
		if (!last && !S_ISDIR(st.st_mode)) {
			r = sif_err_set(err, ENOTDIR, "%s/%s: %s", cpath, comp, strerror(ENOTDIR));
			goto out;
		}
		if (strlen(cpath) + strlen(comp) + 2 > sizeof(cpath) || depth + 1 >= MAX_DEPTH) {
			r = sif_err_set(err, ENAMETOOLONG, "%s: path too long", path);
			goto out;
		}
		strcat(cpath, "/");
		strcat(cpath, comp);
		stack[++depth] = fd;
		fd = -1;
	}
	/* the result is the top of the stack (the root itself for "/") */
	if (canon)
		snprintf(canon, canonlen, "%s", cpath[0] ? cpath : "/");
	if (rest) {
		rest[0] = '\0';
		r = 0;
		goto out;
	}
	fd = stack[depth];
	stack[depth] = -1;
	r = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i <= depth; i++)
		if (stack[i] >= 0)
			close(stack[i]);
	free(w.rest);
	return r;
}

int sif_resolve(int rootfd, const char *path, enum sif_resolve_create create, bool follow_last,
                char *canon, size_t canonlen, struct sif_err *err)
{
	return resolve_impl(rootfd, path, create, follow_last, canon, canonlen, NULL, 0, err);
}

int sif_resolve_prefix(int rootfd, const char *path, char *canon, size_t canonlen, char *rest,
                       size_t restlen, struct sif_err *err)
{
	return resolve_impl(rootfd, path, SIF_RESOLVE_EXISTING, true, canon, canonlen, rest,
	                    restlen, err);
}

int sif_read_in_root(int rootfd, const char *path, size_t maxlen, char **out, size_t *len,
                     struct sif_err *err)
{
	char proc[64];
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int pfd, fd, r = 0;

	pfd = sif_resolve(rootfd, path, SIF_RESOLVE_EXISTING, true, NULL, 0, err);
	if (pfd < 0)
		return pfd;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(pfd);
		return sif_err_set(err, EINVAL, "%s: not a regular file", path);
	}
	fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	close(pfd);
	if (fd < 0)
		return sif_err_set(err, errno, "open %s: %s", path, strerror(errno));
	buf = malloc(maxlen + 1);
	if (!buf) {
		close(fd);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	while (n < maxlen) {
		ssize_t k = read(fd, buf + n, maxlen - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = sif_err_set(err, errno, "read %s: %s", path, strerror(errno));
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}
