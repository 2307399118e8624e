/* SPDX-License-Identifier: BSD-3-Clause */
/* Building SIF images from their sources. */
#ifndef SIF_BUILD_H
#define SIF_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct sif_build_opts {
	const char *arch;     /* Go architecture name of the image ("amd64") */
	bool replace;         /* replace an existing output */
	bool have_time;       /* use TIME for every timestamp (SOURCE_DATE_EPOCH) */
	int64_t time;
};

/* Wrap the squashfs file SQFS as the primary system partition of a new SIF
 * at OUT.  OUT appears whole or not at all. */
int sif_build_squashfs(const char *out, const char *sqfs, const struct sif_build_opts *o,
                       struct sif_err *err);

#endif
