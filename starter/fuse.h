/* SPDX-License-Identifier: BSD-3-Clause */
/* The squashfs FUSE server (starter/fuse.c): plain C types only, so that
 * no other file needs squashfuse's headers. */
#ifndef SIF_STARTER_FUSE_H
#define SIF_STARTER_FUSE_H

#include <stddef.h>
#include <stdint.h>

struct sif_fuse;

/* Read the squashfs at OFFSET of image_fd; 0 or -errno with a message. */
int sif_fuse_open(struct sif_fuse **f, int image_fd, uint64_t offset, char *msg, size_t msglen);
/* Serve requests on fuse_fd (already mounted) until the mount goes away. */
int sif_fuse_serve(struct sif_fuse *f, int fuse_fd, char *msg, size_t msglen);

/* Free what sif_fuse_open made (the launcher's copy after the fork). */
void sif_fuse_close(struct sif_fuse *f);

#endif
