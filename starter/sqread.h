/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading files inside a squashfs without mounting it (starter/sqread.c,
 * libsquashfuse): for "sif inspect".  Plain C types only, so that no other
 * file needs squashfuse's headers (see starter/fuse.c).
 *
 * Paths are resolved as inside the container: from the image's root,
 * symlinks (absolute or relative) followed inside the image only, ".."
 * stopping at the root, at most SIF_SQ_MAX_LINKS links.
 */
#ifndef SIF_STARTER_SQREAD_H
#define SIF_STARTER_SQREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIF_SQ_MAX_LINKS 40

struct sif_sq;

/* Open the squashfs at OFFSET of FD (which stays the caller's): 0,
 * -EBADMSG (no squashfs there), -ENOTSUP (a version or compression
 * libsquashfuse cannot read), -ENOMEM. */
int sif_sq_open(struct sif_sq **sq, int fd, uint64_t offset);
void sif_sq_close(struct sif_sq *sq);

/* The type and permission bits (st_mode) of PATH; a final symlink is
 * followed when FOLLOW is true. */
int sif_sq_mode(struct sif_sq *sq, const char *path, bool follow, uint32_t *mode);

/* The regular file PATH (final symlink followed), at most MAX bytes, in a
 * malloc'd NUL-terminated *DATA of *LEN bytes (LEN may be NULL).  Errors:
 * -ENOENT, -ENOTDIR, -ELOOP, -ENAMETOOLONG, -EISDIR, -EINVAL (another kind
 * of file), -EFBIG (longer than MAX), -EBADMSG (the filesystem is damaged),
 * -ENOMEM. */
int sif_sq_read(struct sif_sq *sq, const char *path, size_t max, char **data, size_t *len);

/* The same for one file: open, read, close. */
int sif_sq_read_file(int fd, uint64_t offset, const char *path, size_t max, char **data,
                     size_t *len);

#endif
