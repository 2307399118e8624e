/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building a SIF from OCI/Docker layers or a directory, in one pass and
 * without extracting anything to disk:
 *
 *   SIF header, descriptors, the image config as "oci-config.json"
 *   -> the squashfs written in place after it: layers applied top down
 *      into the in-memory tree (layer.c), file data streamed to the
 *      compressor threads as it is read, then /.singularity.d and the
 *      mount points (meta.c), then inodes, directories and tables
 *   -> the partition's descriptor, fsync, link into place (outfile.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "build.h"
#include "layer.h"
#include "meta.h"
#include "outfile.h"
#include "sif.h"
#include "sqfs_out.h"
#include "tree.h"

/* ---- CPUs --------------------------------------------------------------- */

static long read_long_pair(const char *path, long *a, long *b)
{
	char buf[128] = "";
	FILE *f = fopen(path, "re");
	int n;

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	*a = -1;
	*b = 0;
	if (strncmp(buf, "max", 3) == 0)
		return 0;
	n = sscanf(buf, "%ld %ld", a, b);
	return n >= 1 ? n : -1;
}

/* The CPU quota of this process's cgroup (v2 cpu.max, or v1
 * cpu.cfs_quota_us), rounded up; 0 when there is none. */
static unsigned cgroup_cpus(void)
{
	char line[4096], path[4200];
	unsigned best = 0;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *ctrl = strchr(line, ':'), *cg;
		long quota, period;
		if (!ctrl || !(cg = strchr(ctrl + 1, ':')))
			continue;
		*cg++ = '\0';
		cg[strcspn(cg, "\n")] = '\0';
		ctrl++;
		/* walk up: a parent's limit binds too */
		for (;;) {
			unsigned n = 0;
			if (*ctrl == '\0') {
				snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cpu.max", cg);
				if (read_long_pair(path, &quota, &period) == 2 && quota > 0 && period > 0)
					n = (unsigned)((quota + period - 1) / period);
			} else if (strstr(ctrl, "cpu")) {
				long dummy;
				snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu,cpuacct%s/cpu.cfs_quota_us", cg);
				if (read_long_pair(path, &quota, &dummy) >= 1 && quota > 0) {
					snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu,cpuacct%s/cpu.cfs_period_us",
					         cg);
					if (read_long_pair(path, &period, &dummy) >= 1 && period > 0)
						n = (unsigned)((quota + period - 1) / period);
				}
			}
			if (n && (!best || n < best))
				best = n;
			char *slash = strrchr(cg, '/');
			if (!slash || slash == cg)
				break;
			*slash = '\0';
		}
	}
	fclose(f);
	return best;
}

unsigned sif_usable_cpus(void)
{
	cpu_set_t set;
	unsigned n = 1, q;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		n = (unsigned)CPU_COUNT(&set);
	q = cgroup_cpus();
	if (q && q < n)
		n = q;
	return n;
}

/* ---- progress ----------------------------------------------------------- */

struct progress {
	bool on;
	uint64_t done, total;
	size_t layer, nlayers;
	struct timespec last;
};

static void progress_show(void *ctx, uint64_t n)
{
	struct progress *p = ctx;
	struct timespec now;

	p->done += n;
	if (!p->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == p->last.tv_sec && now.tv_nsec - p->last.tv_nsec < 100000000L &&
	    p->done < p->total)
		return;
	p->last = now;
	int width = 30, fill = p->total ? (int)(p->done * (uint64_t)width / p->total) : width;
	if (fill > width)
		fill = width;
	fprintf(stderr, "\rlayer %zu/%zu [%.*s%*s] %6.1f/%.1f MiB", p->layer, p->nlayers, fill,
	        "##############################", width - fill, "",
	        (double)p->done / 1048576.0, (double)p->total / 1048576.0);
	fflush(stderr);
}

static void progress_line(struct progress *p, const char *what)
{
	if (p->on)
		fprintf(stderr, "\r\033[K%s\n", what);
}

/* ---- common ------------------------------------------------------------- */

/* Directories no entry defined get the build's time. */
static void date_implicit(struct tree_node *n, int64_t t)
{
	if (n->inode && n->implicit)
		n->inode->mtime = t;
	for (size_t i = 0; i < n->nslots; i++)
		if (n->slots[i])
			date_implicit(n->slots[i], t);
}

struct job {
	struct sif_outfile of;
	struct sif_image img;
	bool of_open, img_open;
	struct sqfs_out *sq;
	struct tree t;
	bool tree_init;
	int64_t part_off;
	const char *code;
};

static void job_free(struct job *j, bool abort)
{
	sqfs_out_free(j->sq);
	j->sq = NULL;
	if (j->tree_init)
		tree_free(&j->t);
	if (j->img_open) {
		j->img.fd = -1;   /* the outfile owns the descriptor */
		sif_close(&j->img);
	}
	if (j->of_open && abort)
		sif_outfile_abort(&j->of);
}

/* Open OUT and start a SIF whose objects before the partition are the
 * optional JSON CONFIG; then the squashfs writer at the partition offset. */
static int job_start(struct job *j, const char *out, const char *arch, const char *config,
                     size_t config_len, int64_t t, const struct sif_build_opts *o,
                     struct sif_err *err)
{
	int r;

	j->code = sif_arch_code(arch);
	if (!j->code)
		return sif_err_advise(err, EINVAL, "unknown architecture \"%s\" (use a Go name such as "
		                      "amd64, arm64, ppc64le)", arch);
	r = sif_outfile_open(&j->of, out, o->replace, err);
	if (r < 0)
		return r;
	j->of_open = true;
	r = sif_create_fd(&j->img, j->of.fd, &(struct sif_create_opts){.time = t, .arch = j->code},
	                  err);
	if (r < 0)
		return r;
	j->img_open = true;
	if (config) {
		r = sif_add_object(&j->img, &(struct sif_object_input){
			.datatype = SIF_DATA_GENERICJSON, .name = "oci-config.json", .time = t,
			.data = config, .src_fd = -1, .size = (int64_t)config_len,
		}, err);
		if (r < 0)
			return r;
	}
	j->part_off = sif_next_offset(&j->img, SIF_PART_ALIGN);
	r = sqfs_out_open(&j->sq, j->of.fd, (uint64_t)j->part_off, &(struct sqfs_out_opts){
		.comp = o->comp, .level = o->level, .jobs = o->jobs ? o->jobs : 1, .mkfs_time = t,
	}, err);
	if (r < 0)
		return r;
	r = tree_init(&j->t, err);
	if (r < 0)
		return r;
	j->tree_init = true;
	return 0;
}

static int job_finish(struct job *j, int64_t t, struct sif_err *err)
{
	uint8_t extra[SIF_EXTRA_LEN];
	uint64_t size;
	int r;

	date_implicit(j->t.root, t);
	r = sqfs_out_finish(j->sq, &j->t, &size, err);
	if (r < 0)
		return r;
	sif_partition_extra(extra, SIF_FS_SQUASH, SIF_PART_PRIMSYS, j->code);
	r = sif_add_object(&j->img, &(struct sif_object_input){
		.datatype = SIF_DATA_PARTITION, .group = 1, .time = t, .extra = extra,
		.in_place = true, .src_fd = -1, .src_off = j->part_off, .size = (int64_t)size,
	}, err);
	if (r < 0)
		return r;
	return sif_outfile_commit(&j->of, err);
}

/* The image's own architecture (config "architecture"), as a Go name we
 * know, else FALLBACK. */
static const char *config_arch(const char *config, size_t len, const char *fallback,
                               char *buf, size_t buflen)
{
	json_t *root = json_loadb(config, len, 0, NULL);
	json_t *a = json_object_get(root, "architecture");
	const char *out = fallback;

	if (json_is_string(a) && sif_arch_code(json_string_value(a))) {
		snprintf(buf, buflen, "%s", json_string_value(a));
		out = buf;
	}
	json_decref(root);
	return out;
}

int sif_build_image(const char *out, enum img_kind kind, const char *spec,
                    const struct sif_build_opts *o, struct sif_err *err)
{
	struct img_source src;
	int r = img_source_open(&src, kind, spec, o->arch, err);

	if (r < 0)
		return r;
	r = sif_build_source(out, &src, o, err);
	img_source_close(&src);
	return r;
}

int sif_build_source(const char *out, const struct img_source *srcp,
                     const struct sif_build_opts *o, struct sif_err *err)
{
	const struct img_source src = *srcp;
	struct job j = {0};
	struct progress p = {.on = o->progress};
	struct layer_stats st = {0};
	char archbuf[32];
	const char *arch;
	int64_t t;
	int r;

	t = o->have_time ? o->time : (src.created >= 0 ? src.created : 0);
	arch = config_arch(src.config, src.config_len, o->arch, archbuf, sizeof(archbuf));
	r = job_start(&j, out, arch, src.config, src.config_len, t, o, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < src.nlayers; i++)
		p.total += src.layers[i].len;
	p.nlayers = src.nlayers;
	/* top layer first: what it defines or deletes is final (layer.c) */
	for (size_t i = src.nlayers; i-- > 0;) {
		p.layer = src.nlayers - i;
		r = layer_apply(&j.t, j.sq, &src.layers[i], (int32_t)i, &st, progress_show, &p, err);
		if (r < 0)
			goto out;
	}
	r = layer_finish(&j.t, j.sq, src.layers, src.nlayers, err);
	if (r < 0)
		goto out;
	progress_line(&p, "layers read and verified; writing the image");
	r = meta_add_singularity(&j.t, j.sq, src.config, src.config_len, t, err);
	if (r == 0)
		r = meta_ensure_mountpoints(&j.t, j.sq, t, err);
	if (r == 0)
		r = job_finish(&j, t, err);
	if (r == 0 && p.on)
		fprintf(stderr, "%s: %zu layers, %.1f MiB read, %.1f MiB of files\n", out, src.nlayers,
		        (double)st.blob_bytes / 1048576.0, (double)st.tar_bytes / 1048576.0);
out:
	if (r < 0) {
		layer_finish(NULL, NULL, NULL, 0, NULL);
		progress_line(&p, "");
	}
	job_free(&j, r < 0);
	return r < 0 ? r : 0;
}

int sif_build_dir(const char *out, const char *root, const struct sif_build_opts *o,
                  struct sif_err *err)
{
	struct job j = {0};
	struct stat sb;
	int64_t t;
	int r;

	if (stat(root, &sb) < 0)
		return sif_err_set(err, errno, "%s: %s", root, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return sif_err_set(err, ENOTDIR, "%s: not a directory", root);
	t = o->have_time ? o->time : (int64_t)sb.st_mtime;
	r = job_start(&j, out, o->arch, NULL, 0, t, o, err);
	if (r == 0)
		r = dirsrc_scan(&j.t, j.sq, root, err);
	if (r == 0)
		r = meta_ensure_mountpoints(&j.t, j.sq, t, err);
	if (r == 0)
		r = job_finish(&j, t, err);
	job_free(&j, r < 0);
	return r < 0 ? r : 0;
}
