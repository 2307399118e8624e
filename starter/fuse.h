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
/* The image's prefetch profile for the program TAG, in the directory DIRFD
 * (created there if missing): replayed when the server starts, saved when
 * it ends.  Its descriptor (for the holder to keep), or -errno. */
int sif_fuse_profile(struct sif_fuse *f, int dirfd, const char *tag);
/* A launch joined the mount: the profile is asked of the disk again. */
void sif_fuse_joined(struct sif_fuse *f);
/* Attach a session to fuse_fd (already mounted with mount(2)). */
int sif_fuse_start(struct sif_fuse *f, int fuse_fd, char *msg, size_t msglen);
/* The descriptor to poll; then serve one request (0, or <0: mount gone). */
int sif_fuse_fd(struct sif_fuse *f);
int sif_fuse_process_one(struct sif_fuse *f);

/* Free what sif_fuse_open made (the launcher's copy after the fork); in
 * the server, stop its pusher thread first, answering requests until it
 * has ended (if it has not after 10 s, free nothing: the process's exit
 * follows). */
void sif_fuse_close(struct sif_fuse *f);

#endif
