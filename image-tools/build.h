/* SPDX-License-Identifier: BSD-3-Clause */
/* Building SIF images from their sources. */
#ifndef SIF_BUILD_H
#define SIF_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "source.h"

struct sif_build_opts {
	const char *arch;     /* Go architecture name ("amd64"): picks from an index */
	bool replace;         /* replace an existing output */
	bool have_time;       /* use TIME for every timestamp (SOURCE_DATE_EPOCH) */
	int64_t time;
	int comp;             /* enum sqfs_out_comp */
	int level;            /* 0: the compressor's default */
	unsigned jobs;        /* compression threads */
	bool progress;        /* show progress on stderr (a terminal) */
};

/* Wrap the squashfs file SQFS as the primary system partition of a new SIF
 * at OUT.  OUT appears whole or not at all. */
int sif_build_squashfs(const char *out, const char *sqfs, const struct sif_build_opts *o,
                       struct sif_err *err);

/* Build OUT from the OCI or Docker image SPEC of KIND (source.h). */
int sif_build_image(const char *out, enum img_kind kind, const char *spec,
                    const struct sif_build_opts *o, struct sif_err *err);

/* Build OUT from an open image source (a registry pull fills one from its
 * cache); the source stays open. */
int sif_build_source(const char *out, const struct img_source *src,
                     const struct sif_build_opts *o, struct sif_err *err);

/* Build OUT from the directory tree ROOT (ownership, modes, times, hard
 * links and extended attributes as they are on disk). */
int sif_build_dir(const char *out, const char *root, const struct sif_build_opts *o,
                  struct sif_err *err);

/* The CPUs this process may use: its affinity mask, bounded by its cgroup's
 * CPU quota (login nodes are shared). */
unsigned sif_usable_cpus(void);

/* Internal: what dirsrc.c adds to the tree. */
struct tree;
struct sqfs_out;
int dirsrc_scan(struct tree *t, struct sqfs_out *out, const char *root, struct sif_err *err);

#endif
