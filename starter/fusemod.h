/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The image server as a module (sif-fuse.so, in $(pkglibexecdir)): fuse.c
 * and sqread.c with libsquashfuse, libfuse3 and the decompressors under
 * them.  A launch that joins a live mount never serves an image, and
 * loading those eight libraries at every start cost it ~0.5 ms (measured on
 * this project's test machine: a join of /bin/true 3.0 ms with them, 2.5 ms
 * without); the launcher loads the module only when it mounts an image or
 * "sif inspect" reads one.  The launcher's starter/fuseload.c defines
 * fuse.h's and sqread.h's functions as calls through this table.
 */
#ifndef SIF_STARTER_FUSEMOD_H
#define SIF_STARTER_FUSEMOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sif_fuse;
struct sif_sq;

#define SIF_FUSE_MODULE_FILE "sif-fuse.so"
#define SIF_FUSE_MODULE_SYMBOL "sif_fuse_module"
#define SIF_FUSE_MODULE_VERSION 2

struct sif_fuse_module {
	unsigned version;   /* SIF_FUSE_MODULE_VERSION */
	size_t size;        /* sizeof(struct sif_fuse_module) */
	int (*fuse_open)(struct sif_fuse **f, int image_fd, uint64_t offset, char *msg,
	                 size_t msglen);
	int (*fuse_profile)(struct sif_fuse *f, int dirfd, const char *tag);
	void (*fuse_joined)(struct sif_fuse *f);
	int (*fuse_start)(struct sif_fuse *f, int fuse_fd, char *msg, size_t msglen);
	int (*fuse_fd)(struct sif_fuse *f);
	int (*fuse_process_one)(struct sif_fuse *f);
	void (*fuse_close)(struct sif_fuse *f);
	int (*sq_open)(struct sif_sq **sq, int fd, uint64_t offset);
	void (*sq_close)(struct sif_sq *sq);
	int (*sq_mode)(struct sif_sq *sq, const char *path, bool follow, uint32_t *mode);
	int (*sq_read)(struct sif_sq *sq, const char *path, size_t max, char **data, size_t *len);
	int (*sq_read_file)(int fd, uint64_t offset, const char *path, size_t max, char **data,
	                    size_t *len);
};

/* Load the module (once): 0, or a negative errno and why in MSG.  It is
 * $SIF_LIBEXECDIR/sif-fuse.so when SIF_LIBEXECDIR is set (an uninstalled
 * build tree, as for sif-build), else the installed one. */
int sif_fuse_module_load(char *msg, size_t msglen);

#endif
