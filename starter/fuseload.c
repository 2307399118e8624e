/* SPDX-License-Identifier: BSD-3-Clause */
/* The launcher's side of the image server module (fusemod.h): fuse.h's and
 * sqread.h's functions, each a call into sif-fuse.so, loaded on first use. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "fusemod.h"
#include "sqread.h"

static const struct sif_fuse_module *mod;

int sif_fuse_module_load(char *msg, size_t msglen)
{
	const char *dir = getenv("SIF_LIBEXECDIR");
	char path[PATH_MAX];
	const struct sif_fuse_module *m;
	void *h;

	if (mod)
		return 0;
	if (!dir || !*dir)
		dir = SIF_LIBEXECDIR;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, SIF_FUSE_MODULE_FILE) >= sizeof(path)) {
		snprintf(msg, msglen, "SIF_LIBEXECDIR is too long (unset it)");
		return -ENAMETOOLONG;
	}
	/* RTLD_NOW: every symbol now, not a failure in the middle of serving */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		/* dlerror() names the file */
		snprintf(msg, msglen, "load the image server: %s (reinstall sif, or set "
		         "SIF_LIBEXECDIR to the directory that holds %s)", e ? e : path,
		         SIF_FUSE_MODULE_FILE);
		return -ELIBACC;
	}
	m = dlsym(h, SIF_FUSE_MODULE_SYMBOL);
	if (!m || m->version != SIF_FUSE_MODULE_VERSION || m->size != sizeof(*m)) {
		snprintf(msg, msglen, "load the image server %s: %s (reinstall sif: it is not this "
		         "sif's)", path, m ? "another version" : "no module table");
		dlclose(h);
		return -ELIBBAD;
	}
	mod = m;   /* never unloaded: the holder serves with it until it ends */
	return 0;
}

/* The functions that take an object exist only once the module made it. */

int sif_fuse_open(struct sif_fuse **f, int image_fd, uint64_t offset, char *msg, size_t msglen)
{
	int r = sif_fuse_module_load(msg, msglen);
	if (r < 0)
		return r;
	return mod->fuse_open(f, image_fd, offset, msg, msglen);
}

int sif_fuse_profile(struct sif_fuse *f, int dirfd, const char *tag)
{
	return mod->fuse_profile(f, dirfd, tag);
}

void sif_fuse_joined(struct sif_fuse *f)
{
	if (f)
		mod->fuse_joined(f);
}

int sif_fuse_start(struct sif_fuse *f, int fuse_fd, char *msg, size_t msglen)
{
	return mod->fuse_start(f, fuse_fd, msg, msglen);
}

int sif_fuse_fd(struct sif_fuse *f)
{
	return mod->fuse_fd(f);
}

int sif_fuse_process_one(struct sif_fuse *f)
{
	return mod->fuse_process_one(f);
}

void sif_fuse_close(struct sif_fuse *f)
{
	if (f)
		mod->fuse_close(f);
}

int sif_sq_open(struct sif_sq **sq, int fd, uint64_t offset)
{
	char msg[PATH_MAX + 160];
	int r = sif_fuse_module_load(msg, sizeof(msg));
	if (r < 0)
		return r;
	return mod->sq_open(sq, fd, offset);
}

void sif_sq_close(struct sif_sq *sq)
{
	if (sq)
		mod->sq_close(sq);
}

int sif_sq_mode(struct sif_sq *sq, const char *path, bool follow, uint32_t *mode)
{
	return mod->sq_mode(sq, path, follow, mode);
}

int sif_sq_read(struct sif_sq *sq, const char *path, size_t max, char **data, size_t *len)
{
	return mod->sq_read(sq, path, max, data, len);
}

int sif_sq_read_file(int fd, uint64_t offset, const char *path, size_t max, char **data,
                     size_t *len)
{
	char msg[PATH_MAX + 160];
	int r = sif_fuse_module_load(msg, sizeof(msg));
	if (r < 0)
		return r;
	return mod->sq_read_file(fd, offset, path, max, data, len);
}
