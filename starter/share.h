/* SPDX-License-Identifier: BSD-3-Clause */
/* Mount sharing between launches of one image by one user (share.c). */
#ifndef SIF_SHARE_H
#define SIF_SHARE_H

#include <stdbool.h>

#include "err.h"
#include "launch.h"

#define SIF_SHARE_NAME_MAX 108   /* sun_path */

struct sif_session;
struct sif_fuse;

/* The file in a shared root that says what shaped it, written by the
 * launch that set it up (a read-only bind from its session tmpfs), and
 * its content for L: "sif-share-2 " and 32 hex digits, a newline. */
#define SIF_SHARE_MARKER "/.sif/share"
#define SIF_SHARE_MARKER_LEN 45
int sif_share_marker(const struct sif_launch *l, char out[SIF_SHARE_MARKER_LEN + 1]);

/* The abstract socket name for L's root; returns its length, <0 on error. */
int sif_share_name(const struct sif_launch *l, char name[SIF_SHARE_NAME_MAX]);
/* Join a live mount for L: 1 when joined (S ready to run), 0 when there is
 * none to join (then S->listen_fd, when >= 0, is the name claimed for the
 * root this launch sets up), <0 on failure. */
int sif_share_join(const struct sif_launch *l, struct sif_session *s, struct sif_err *err);
/* Tell the holder the root is complete; it then lets others join. */
int sif_share_publish(struct sif_session *s, struct sif_err *err);
/* The holder's loop: serve F (NULL for a directory image), the creator's
 * membership socket and, once ready, the listening socket LFD the creator
 * claimed for joiners (-1: none); pass what the server writes to WARNFD's
 * other end (its stderr) to the members as "W" messages; return when the
 * mount is gone, or LINGER seconds after the last member left. */
void sif_holder_run(struct sif_fuse *f, int creator, int lfd, unsigned linger, int warnfd);

#endif
