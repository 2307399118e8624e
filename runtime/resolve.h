/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Resolve a path inside a container root, as the container will see it:
 * ".." stops at the root, and symlinks (absolute or relative) are followed
 * relative to the root, never to the host.  Every component is opened with
 * O_NOFOLLOW from its parent's descriptor, so no host path is ever reached
 * through a link planted in an image.
 */
#ifndef SIF_RESOLVE_H
#define SIF_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

enum sif_resolve_create {
	SIF_RESOLVE_EXISTING = 0,   /* the path must exist */
	SIF_RESOLVE_MKDIR,          /* create missing components as directories */
	SIF_RESOLVE_MKFILE,         /* missing parents as directories, the last as an empty file */
};

/* Resolve PATH inside the root directory ROOTFD.  On success returns an
 * O_PATH|O_CLOEXEC descriptor of the result and, when canon is not NULL,
 * writes its canonical path inside the root ("/etc/hosts") there.  A final
 * symlink is followed when follow_last is true. */
int sif_resolve(int rootfd, const char *path, enum sif_resolve_create create, bool follow_last,
                char *canon, size_t canonlen, struct sif_err *err);

/* Resolve as far as PATH exists: CANON gets the canonical path of the
 * deepest existing part and REST what is missing after it ("" when all of
 * it exists; it may hold '..' from a link, which the caller must refuse). */
int sif_resolve_prefix(int rootfd, const char *path, char *canon, size_t canonlen, char *rest,
                       size_t restlen, struct sif_err *err);

/* Read a whole regular file (at most maxlen bytes) found by sif_resolve;
 * returns a NUL-terminated malloc'd buffer in *out. */
int sif_read_in_root(int rootfd, const char *path, size_t maxlen, char **out, size_t *len,
                     struct sif_err *err);

#endif
