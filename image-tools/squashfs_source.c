/* SPDX-License-Identifier: BSD-3-Clause */
/* "squashfs:FILE" builds: an existing squashfs becomes the image's primary
 * system partition, copied (extents shared where the filesystem can), never
 * unpacked. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "outfile.h"
#include "sif.h"
#include "sqsuper.h"

int sif_build_squashfs(const char *out, const char *sqfs, const struct sif_build_opts *o,
                       struct sif_err *err)
{
	struct sif_outfile of;
	struct sif_image img;
	struct sif_sqsuper sb;
	struct stat st;
	uint8_t extra[SIF_EXTRA_LEN];
	const char *code = sif_arch_code(o->arch);
	int64_t t;
	int fd, r;

	if (!code)
		return sif_err_advise(err, EINVAL, "unknown architecture \"%s\" (use a Go name such as "
		                   "amd64, arm64, ppc64le)", o->arch);
	fd = open(sqfs, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return sif_err_set(err, errno, "open %s: %s", sqfs, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = sif_err_set(err, SIF_EFORMAT, "%s: not a regular file", sqfs);
		goto out_fd;
	}
	r = sif_sqsuper_read(fd, 0, (uint64_t)st.st_size, &sb, err);
	if (r < 0) {
		sif_err_prefix(err, "%s: ", sqfs);
		goto out_fd;
	}
	/* reproducible: the same squashfs gives the same SIF */
	t = o->have_time ? o->time : (int64_t)sb.mkfs_time;

	r = sif_outfile_open(&of, out, o->replace, err);
	if (r < 0)
		goto out_fd;
	r = sif_create_fd(&img, of.fd, &(struct sif_create_opts){.time = t, .arch = code}, err);
	if (r < 0)
		goto out_abort;
	sif_partition_extra(extra, SIF_FS_SQUASH, SIF_PART_PRIMSYS, code);
	r = sif_add_object(&img, &(struct sif_object_input){
		.datatype = SIF_DATA_PARTITION, .group = 1, .time = t, .extra = extra,
		.src_fd = fd, .src_off = 0, .size = st.st_size,
	}, err);
	img.fd = -1;   /* the outfile owns the descriptor */
	sif_close(&img);
	if (r < 0)
		goto out_abort;
	r = sif_outfile_commit(&of, err);
	goto out_fd;
out_abort:
	sif_outfile_abort(&of);
out_fd:
	close(fd);
	return r < 0 ? r : 0;
}
