/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "sif pull": a registry image into the cache, converted by the same path
 * as "sif build".
 *
 *   reference -> the tag's manifest (one request; its digest names the
 *   cached image: a warm pull stops here) -> index -> the platform's
 *   manifest -> config -> layers fetched in parallel into the blob cache,
 *   each verified while it streams, and at the same time
 *   sif_build_source() into sif/DIGEST-OPTIONS.sif, reading each layer's
 *   file as it grows (top layer first, its own digests checked as it
 *   reads); the image is marked valid once every download succeeded.
 */
#ifndef SIF_PULL_H
#define SIF_PULL_H

#include <limits.h>
#include <stdbool.h>

#include "build.h"
#include "err.h"

struct sif_pull_opts {
	bool insecure;          /* plain HTTP to the registry */
	const char *ca_file;    /* CA bundle for the registry's certificate */
	unsigned jobs;          /* parallel downloads; 0: 4 */
	int verbose;            /* trace requests on stderr */
	bool progress;          /* show download progress (a terminal) */
};

/* Pull REF ("docker://...") and build it with BO (arch, compressor,
 * level, time: part of the cache key) into the cache, unless it is there:
 * OUT gets the cached image's path. */
int sif_pull(const char *ref, const struct sif_pull_opts *po, const struct sif_build_opts *bo,
             char out[PATH_MAX], struct sif_err *err);

/* Copy the image SRC to DST (a reflink where the filesystem can), whole
 * or not at all; REPLACE an existing DST. */
int sif_pull_copy(const char *src, const char *dst, bool replace, struct sif_err *err);

#endif
