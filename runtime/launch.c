/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "io.h"
#include "launch.h"
#include "sif.h"
#include "sqsuper.h"

static char *absolute(const char *cwd, const char *p)
{
	char *out;
	if (p[0] == '/')
		return strdup(p);
	if (asprintf(&out, "%s/%s", cwd, p) < 0)
		return NULL;
	return out;
}

/* Append B (its strings the plan's from now on, freed on failure). */
static int append_bind(struct sif_launch *l, struct sif_bind b, struct sif_err *err)
{
	struct sif_bind *nb = b.src && b.dst ? realloc(l->binds, (l->nbinds + 1) * sizeof(*nb)) : NULL;

	if (!nb) {
		free(b.src);
		free(b.dst);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	l->binds = nb;
	l->binds[l->nbinds++] = b;
	return 0;
}

static int add_one_bind(struct sif_launch *l, char *spec, struct sif_err *err)
{
	char *fields[4] = {NULL};
	int n = 0;
	char *save = NULL, *tok;
	struct sif_bind b = {0};

	/* split on ':'; an empty spec (",,") is ignored */
	for (tok = strtok_r(spec, ":", &save); tok && n < 4; tok = strtok_r(NULL, ":", &save))
		fields[n++] = tok;
	if (n == 0)
		return 0;
	if (n > 3 || tok)
		return sif_err_set(err, EINVAL, "bind \"%s\": too many ':' fields (SRC[:DST[:ro|rw]])",
		                   fields[0]);
	if (n == 3 || (n == 2 && (strcmp(fields[1], "ro") == 0 || strcmp(fields[1], "rw") == 0))) {
		const char *mode = fields[n - 1];
		if (strcmp(mode, "ro") == 0)
			b.ro = true;
		else if (strcmp(mode, "rw") != 0)
			return sif_err_set(err, EINVAL, "bind %s: option \"%s\" is neither ro nor rw",
			                   fields[0], mode);
		n--;
	}
	b.src = absolute(l->host_cwd, fields[0]);
	b.dst = strdup(n == 2 ? fields[1] : fields[0]);
	if (!b.src || !b.dst) {
		free(b.src);
		free(b.dst);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	if (b.dst[0] != '/') {
		int r = sif_err_set(err, EINVAL, "bind %s: the destination \"%s\" must be an absolute "
		                    "path", fields[0], b.dst);
		free(b.src);
		free(b.dst);
		return r;
	}
	return append_bind(l, b, err);
}

int sif_launch_add_binds(struct sif_launch *l, const char *spec, struct sif_err *err)
{
	char *copy = strdup(spec), *save = NULL, *item;
	int r = 0;

	if (!copy)
		return sif_err_set(err, ENOMEM, "out of memory");
	for (item = strtok_r(copy, ",", &save); item && r == 0; item = strtok_r(NULL, ",", &save))
		r = add_one_bind(l, item, err);
	free(copy);
	return r;
}

int sif_launch_add_bind(struct sif_launch *l, const char *src, const char *dst, bool ro,
                        const char *why, struct sif_err *err)
{
	struct sif_bind b = {.src = strdup(src), .dst = strdup(dst), .ro = ro, .why = why};
	return append_bind(l, b, err);
}

bool sif_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

const char *sif_launch_host_path_shown(const struct sif_launch *l, const char *real)
{
	char rs[PATH_MAX], rd[PATH_MAX];

	if (!l->contain && !l->private_tmp &&
	    (sif_path_under(real, "/tmp") || sif_path_under(real, "/var/tmp")))
		return "the host's /tmp and /var/tmp";
	if (l->home_src && l->home_dst && realpath(l->home_src, rs) && realpath(l->home_dst, rd) &&
	    strcmp(rs, rd) == 0 && sif_path_under(real, rd))
		return "the home directory";
	for (size_t i = 0; i < l->nbinds; i++)
		if (realpath(l->binds[i].src, rs) && realpath(l->binds[i].dst, rd) &&
		    strcmp(rs, rd) == 0 && sif_path_under(real, rd))
			return "a bind";
	return NULL;
}

/* The JSON object named oci-config.json (where Apptainer stores the OCI
 * image config): its place, for sif_image_workdir to read if asked. */
static void find_oci_config(const struct sif_image *img, struct sif_image_ref *ref)
{
	for (size_t i = 0; i < img->ndescr; i++) {
		const struct sif_descriptor *d = &img->descr[i];
		if (d->used && d->datatype == SIF_DATA_GENERICJSON &&
		    strcmp(d->name, "oci-config.json") == 0 && d->size > 0 && d->size <= (1 << 20)) {
			ref->oci_config_off = (uint64_t)d->offset;
			ref->oci_config_size = (uint64_t)d->size;
			return;
		}
	}
}

char *sif_image_workdir(const struct sif_image_ref *ref)
{
	char *buf, *out = NULL;
	json_t *root, *cfg, *wd;

	if (ref->oci_config_size == 0)
		return NULL;
	buf = malloc(ref->oci_config_size);
	if (!buf || sif_pread_full(ref->fd, buf, ref->oci_config_size,
	                           (int64_t)ref->oci_config_off) < 0) {
		free(buf);
		return NULL;
	}
	/* the whole image config ({"config": {"WorkingDir": ...}}) or its "config" part */
	root = json_loadb(buf, ref->oci_config_size, 0, NULL);
	free(buf);
	cfg = json_is_object(json_object_get(root, "config")) ? json_object_get(root, "config") : root;
	wd = json_object_get(cfg, "WorkingDir");
	if (json_is_string(wd) && json_string_value(wd)[0] == '/')
		out = strdup(json_string_value(wd));
	json_decref(root);
	return out;
}

int sif_image_open(struct sif_image_ref *ref, const char *path, struct sif_err *err)
{
	struct stat st;
	char magic[4];
	int fd, r;

	memset(ref, 0, sizeof(*ref));
	ref->fd = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return sif_err_set(err, errno, "image %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = sif_err_set(err, errno, "image %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	ref->path = strdup(path);
	if (!ref->path) {
		close(fd);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	if (S_ISDIR(st.st_mode)) {
		ref->kind = SIF_IMAGE_DIR;
		ref->fd = fd;
		ref->realpath = realpath(path, NULL);
		if (!ref->realpath) {
			r = sif_err_set(err, errno, "image %s: %s", path, strerror(errno));
			sif_image_close(ref);
			return r;
		}
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		free(ref->path);
		ref->path = NULL;
		return sif_err_set(err, SIF_EFORMAT, "image %s: not a SIF file, squashfs file or "
		                   "directory", path);
	}
	ref->fd = fd;
	if (pread(fd, magic, 4, 0) == 4 && memcmp(magic, "hsqs", 4) == 0) {
		struct sif_sqsuper sb;
		ref->kind = SIF_IMAGE_SQUASHFS;
		ref->offset = 0;
		ref->size = (uint64_t)st.st_size;
		r = sif_sqsuper_read(fd, 0, ref->size, &sb, err);
		if (r < 0)
			goto fail;
		return 0;
	}

	/* a SIF file: serve its primary squashfs partition where it lies */
	{
		struct sif_image img;
		const struct sif_descriptor *d;
		struct sif_partition_info p;
		struct sif_sqsuper sb;
		int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

		if (dfd < 0) {
			r = sif_err_set(err, errno, "image %s: %s", path, strerror(errno));
			goto fail;
		}
		r = sif_load(&img, dfd, false, err);
		if (r < 0) {
			close(dfd);
			if (err && err->code == SIF_EFORMAT && strstr(err->msg, "SIF_MAGIC"))
				r = sif_err_set(err, SIF_EFORMAT, "not a SIF file, squashfs file or directory");
			goto fail;
		}
		d = sif_primary_partition(&img);
		if (!d) {
			sif_close(&img);
			r = sif_err_set(err, SIF_EFORMAT, "no primary system partition to run");
			goto fail;
		}
		sif_partition_info(d, &p);
		ref->kind = SIF_IMAGE_SIF;
		ref->offset = (uint64_t)d->offset;
		ref->size = (uint64_t)d->size;
		snprintf(ref->arch, sizeof(ref->arch), "%s",
		         strcmp(sif_arch_name(p.arch), "unknown") ? sif_arch_name(p.arch) : "");
		find_oci_config(&img, ref);
		if (p.fstype != SIF_FS_SQUASH) {
			r = sif_err_set(err, SIF_EFORMAT, "the primary partition is %s, not squashfs "
			                "(encrypted and ext3 images are not supported)",
			                sif_fstype_name(p.fstype));
			sif_close(&img);
			goto fail;
		}
		sif_close(&img);
		r = sif_sqsuper_read(fd, (int64_t)ref->offset, ref->size, &sb, err);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	sif_err_prefix(err, "image %s: ", path);
	sif_image_close(ref);
	return r;
}

void sif_image_close(struct sif_image_ref *ref)
{
	if (ref->fd >= 0)
		close(ref->fd);
	free(ref->path);
	free(ref->realpath);
	memset(ref, 0, sizeof(*ref));
	ref->fd = -1;
}

int sif_launch_init(struct sif_launch *l, struct sif_err *err)
{
	struct passwd *pw;
	char cwd[PATH_MAX];

	memset(l, 0, sizeof(*l));
	l->image.fd = -1;
	l->uid = getuid();
	l->gid = getgid();
	pw = getpwuid(l->uid);
	if (pw) {
		l->user = strdup(pw->pw_name);
		l->host_home = strdup(pw->pw_dir);
	} else {
		const char *h = getenv("HOME");
		if (asprintf(&l->user, "%u", (unsigned)l->uid) < 0)
			l->user = NULL;
		l->host_home = strdup(h && *h ? h : "/");
	}
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), "/");
	l->host_cwd = strdup(cwd);
	if (!l->user || !l->host_home || !l->host_cwd)
		return sif_err_set(err, ENOMEM, "out of memory");
	l->home_src = strdup(l->host_home);
	l->home_dst = strdup(l->host_home);
	if (!l->home_src || !l->home_dst)
		return sif_err_set(err, ENOMEM, "out of memory");
	return 0;
}

void sif_launch_free(struct sif_launch *l)
{
	sif_image_close(&l->image);
	for (size_t i = 0; i < l->nbinds; i++) {
		free(l->binds[i].src);
		free(l->binds[i].dst);
	}
	free(l->binds);
	free(l->user);
	free(l->host_home);
	free(l->home_src);
	free(l->home_dst);
	free(l->host_cwd);
	free(l->env_set);
	free(l->path_prepend);
	free(l->slurm_conf);
	free(l->slurm_key);
	free(l->slurm);
	memset(l, 0, sizeof(*l));
	l->image.fd = -1;
}
