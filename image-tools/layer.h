/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Applying one image layer (a tar stream, uncompressed, gzip or zstd) to
 * the in-memory tree, top layer first (tree.h): the blob's digest and size
 * and the uncompressed diff_id are verified while it streams; kept files'
 * data goes to the squashfs writer.
 */
#ifndef SIF_LAYER_H
#define SIF_LAYER_H

#include <stdint.h>

#include "err.h"
#include "source.h"
#include "sqfs_out.h"
#include "tree.h"

struct layer_stats {
	uint64_t blob_bytes, tar_bytes;   /* read, and after decompression */
	uint64_t entries, kept;
};

/* Apply layer L, number IDX (0 is the bottom layer; call from the top
 * down), to T.  Digests are checked where L has them (l->digest,
 * l->diff_id non-empty).  PROGRESS, if not NULL, is called now and then
 * with the blob bytes read so far. */
int layer_apply(struct tree *t, struct sqfs_out *out, const struct img_layer *l, int32_t idx,
                struct layer_stats *st, void (*progress)(void *, uint64_t), void *pctx,
                struct sif_err *err);

/* After every layer is applied: write data still owed to hard links whose
 * target a higher layer replaced (a second read of those layers).  With OUT
 * NULL (a failed build) it only frees what layer_apply kept for this. */
int layer_finish(struct tree *t, struct sqfs_out *out, const struct img_layer *layers,
                 size_t nlayers, struct sif_err *err);

#endif
