/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the layer applier: the input is split into up to
 * three layers (at "\n--LAYER--\n" separators), each a tar stream that may
 * be gzip or zstd compressed, applied top down to a fresh tree as a build
 * does, then the tree is written out as squashfs.  Digests are not checked
 * (the fuzzer cannot forge them); everything after them is.  ASan/UBSan
 * turn any misstep in the whiteout, hard-link and path rules into a finding.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layer.h"
#include "sqfs_out.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char sep[] = "\n--LAYER--\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int in = -1, out = -1;
	struct img_layer l[3];
	struct sif_err err = {0};
	struct sqfs_out *sq = NULL;
	struct tree t;
	size_t n = 0, start = 0;
	uint64_t fsize;
	int r = 0;

	if (in < 0) {
		in = memfd_create("fuzz-layer", MFD_CLOEXEC);
		out = memfd_create("fuzz-out", MFD_CLOEXEC);
	}
	if (ftruncate(in, 0) < 0 || ftruncate(out, 0) < 0 ||
	    pwrite(in, data, size, 0) != (ssize_t)size)
		return 0;
	memset(l, 0, sizeof(l));
	for (size_t i = 0; n < 3; i++) {
		const uint8_t *p = i < size ? memmem(data + start, size - start, sep, sizeof(sep) - 1)
		                            : NULL;
		size_t end = p ? (size_t)(p - data) : size;
		l[n].fd = in;
		l[n].off = start;
		l[n].len = end - start;
		l[n].size = -1;
		n++;
		if (!p)
			break;
		start = end + sizeof(sep) - 1;
	}
	if (tree_init(&t, &err) < 0)
		return 0;
	if (sqfs_out_open(&sq, out, 0, &(struct sqfs_out_opts){.comp = SQFS_OUT_GZIP, .level = 1,
	                                                         .jobs = 1}, &err) == 0) {
		for (size_t i = n; r == 0 && i-- > 0;)
			r = layer_apply(&t, sq, &l[i], (int32_t)i, NULL, NULL, NULL, &err);
		if (r == 0)
			r = layer_finish(&t, sq, l, n, &err);
		else
			layer_finish(&t, NULL, l, 0, &err);
		if (r == 0)
			sqfs_out_finish(sq, &t, &fsize, &err);
	}
	sqfs_out_free(sq);
	tree_free(&t);
	return 0;
}
