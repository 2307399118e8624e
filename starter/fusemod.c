/* SPDX-License-Identifier: BSD-3-Clause */
/* The table sif-fuse.so exports (fusemod.h); everything else in the module
 * is hidden (-fvisibility=hidden). */
#include "fuse.h"
#include "fusemod.h"
#include "sqread.h"

__attribute__((visibility("default"))) extern const struct sif_fuse_module sif_fuse_module;
const struct sif_fuse_module sif_fuse_module = {
	.version = SIF_FUSE_MODULE_VERSION,
	.size = sizeof(struct sif_fuse_module),
	.fuse_open = sif_fuse_open,
	.fuse_profile = sif_fuse_profile,
	.fuse_joined = sif_fuse_joined,
	.fuse_start = sif_fuse_start,
	.fuse_fd = sif_fuse_fd,
	.fuse_process_one = sif_fuse_process_one,
	.fuse_close = sif_fuse_close,
	.sq_open = sif_sq_open,
	.sq_close = sif_sq_close,
	.sq_mode = sif_sq_mode,
	.sq_read = sif_sq_read,
	.sq_read_file = sif_sq_read_file,
};
