/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

/* The named temporary file to remove if a signal ends the process. */
static volatile sig_atomic_t have_pending;
static char pending[4096];

static void on_signal(int sig)
{
	if (have_pending)
		unlink(pending);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void watch_pending(const char *path)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa = {.sa_handler = on_signal};

	snprintf(pending, sizeof(pending), "%s", path);
	have_pending = 1;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static void unwatch_pending(void)
{
	have_pending = 0;
}

static unsigned default_mode(void)
{
	mode_t m = umask(0);
	umask(m);
	return 0666u & ~(unsigned)m;
}

static char *dir_of(const char *path)
{
	char *copy = strdup(path), *d;
	if (!copy)
		return NULL;
	d = strdup(dirname(copy));
	free(copy);
	return d;
}

int sif_outfile_open(struct sif_outfile *o, const char *path, bool replace, struct sif_err *err)
{
	struct stat st;
	char *dir;
	int r = 0;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->replace = replace;
	o->mode = default_mode();
	if (lstat(path, &st) == 0) {
		if (!replace)
			return sif_err_advise(err, EEXIST, "%s exists (remove it, or use --force to replace it)",
			                   path);
		if (S_ISDIR(st.st_mode))
			return sif_err_set(err, EISDIR, "%s is a directory", path);
	}
	o->path = strdup(path);
	dir = dir_of(path);
	if (!o->path || !dir) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	o->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (o->fd >= 0) {
		free(dir);
		return 0;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		r = sif_err_set(err, errno, "create a file in %s: %s", dir, strerror(errno));
		goto fail;
	}
	/* no O_TMPFILE here: a hidden temporary beside the destination */
	{
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		size_t n = strlen(dir) + strlen(base) + 16;
		o->tmppath = malloc(n);
		if (!o->tmppath) {
			r = sif_err_set(err, ENOMEM, "out of memory");
			goto fail;
		}
		snprintf(o->tmppath, n, "%s/.%s.XXXXXX", dir, base);
		o->fd = mkostemp(o->tmppath, O_CLOEXEC);
		if (o->fd < 0) {
			r = sif_err_set(err, errno, "create a file in %s: %s", dir, strerror(errno));
			free(o->tmppath);
			o->tmppath = NULL;
			goto fail;
		}
		watch_pending(o->tmppath);
	}
	free(dir);
	return 0;
fail:
	free(dir);
	free(o->path);
	o->path = NULL;
	return r;
}

/* Give the anonymous file a name: PATH itself (fails if it exists), or a
 * temporary name beside it to rename over PATH. */
static int link_anonymous(struct sif_outfile *o, bool direct, struct sif_err *err)
{
	char proc[64];
	size_t n = strlen(o->path) + 16;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
	if (direct) {
		if (linkat(AT_FDCWD, proc, AT_FDCWD, o->path, AT_SYMLINK_FOLLOW) < 0)
			return sif_err_set(err, errno, "create %s: %s", o->path, strerror(errno));
		return 0;
	}
	o->tmppath = malloc(n);
	if (!o->tmppath)
		return sif_err_set(err, ENOMEM, "out of memory");
	for (unsigned i = 0;; i++) {
		snprintf(o->tmppath, n, "%s.%06u~", o->path, ((unsigned)getpid() + i) % 1000000u);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmppath, AT_SYMLINK_FOLLOW) == 0)
			break;
		if (errno != EEXIST || i > 100) {
			int r = sif_err_set(err, errno, "create %s: %s", o->tmppath, strerror(errno));
			free(o->tmppath);
			o->tmppath = NULL;
			return r;
		}
	}
	watch_pending(o->tmppath);
	return 0;
}

int sif_outfile_commit(struct sif_outfile *o, struct sif_err *err)
{
	bool anonymous = o->tmppath == NULL;
	char *dir;
	int r, dfd;

	if (fchmod(o->fd, o->mode) < 0 || fsync(o->fd) < 0) {
		r = sif_err_set(err, errno, "write %s: %s", o->path, strerror(errno));
		goto fail;
	}
	if (anonymous) {
		r = link_anonymous(o, !o->replace, err);
		if (r < 0)
			goto fail;
	}
	if (o->tmppath && !o->replace) {
		/* link() fails if the destination appeared meanwhile: never clobber */
		if (link(o->tmppath, o->path) < 0) {
			r = sif_err_set(err, errno, "create %s: %s", o->path, strerror(errno));
			goto fail;
		}
		unlink(o->tmppath);
	} else if (o->tmppath && rename(o->tmppath, o->path) < 0) {
		r = sif_err_set(err, errno, "rename to %s: %s", o->path, strerror(errno));
		goto fail;
	}
	unwatch_pending();
	free(o->tmppath);
	o->tmppath = NULL;
	dir = dir_of(o->path);
	if (dir && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(dir);
	close(o->fd);
	o->fd = -1;
	free(o->path);
	o->path = NULL;
	return 0;
fail:
	sif_outfile_abort(o);
	return r;
}

void sif_outfile_abort(struct sif_outfile *o)
{
	if (o->tmppath) {
		unlink(o->tmppath);
		unwatch_pending();
		free(o->tmppath);
		o->tmppath = NULL;
	}
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	free(o->path);
	o->path = NULL;
}
