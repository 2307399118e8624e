/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the SIF reader: any bytes are loaded as an image;
 * whatever passes validation is then walked the way "sif inspect" and the
 * launcher walk it (primary partition lookup, every object's extras and its
 * data).  ASan/UBSan turn any read outside the file or the tables into a
 * finding.  Build: ./configure CC=clang --enable-fuzzing; run: tests/fuzz/run.sh.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io.h"
#include "sif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sif_err err = {0};
	struct sif_image img;
	uint8_t buf[64];

	if (memfd < 0) {
		memfd = memfd_create("fuzz-sif", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
	}
	if (ftruncate(memfd, 0) < 0 || sif_pwrite_full(memfd, data, size, 0) < 0)
		abort();
	if (sif_load(&img, memfd, false, &err) < 0) {
		/* a refusal must explain itself in one line */
		if (!err.msg[0] || strchr(err.msg, '\n'))
			abort();
		return 0;
	}
	const struct sif_descriptor *p = sif_primary_partition(&img);
	if (p && p->size >= 4 && sif_read_object(&img, p, buf, 4, 0, &err) < 0)
		abort();
	for (size_t i = 0; i < img.ndescr; i++) {
		const struct sif_descriptor *d = &img.descr[i];
		struct sif_partition_info pi;
		struct sif_signature_info si;
		char s[SIF_EXTRA_LEN + 1];
		if (!d->used)
			continue;
		sif_partition_info(d, &pi);
		sif_signature_info(d, &si);
		sif_extra_string(d, s, sizeof(s));
		(void)sif_arch_name(pi.arch);
		(void)sif_datatype_name(d->datatype);
		if (sif_get_object(&img, d->id) != d)
			abort();
		size_t n = d->size < (int64_t)sizeof(buf) ? (size_t)d->size : sizeof(buf);
		/* the whole object, its last bytes: all inside the file */
		if (sif_read_object(&img, d, buf, n, (uint64_t)d->size - n, &err) < 0)
			abort();
	}
	img.fd = -1;   /* memfd is reused */
	sif_close(&img);
	return 0;
}
