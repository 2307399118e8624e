/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "sif.h"

/* ---- little-endian field access ---------------------------------------- */

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int64_t get_i64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_i64(uint8_t *p, int64_t s)
{
	uint64_t v = (uint64_t)s;
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void sif_header_decode(const uint8_t buf[SIF_HEADER_SIZE], struct sif_header *h)
{
	memcpy(h->launch, buf, 32);
	memcpy(h->magic, buf + 32, 10);
	memcpy(h->version, buf + 42, 3);
	memcpy(h->arch, buf + 45, 3);
	memcpy(h->uuid, buf + 48, 16);
	h->created = get_i64(buf + 64);
	h->modified = get_i64(buf + 72);
	h->dfree = get_i64(buf + 80);
	h->dtotal = get_i64(buf + 88);
	h->descoff = get_i64(buf + 96);
	h->descsize = get_i64(buf + 104);
	h->dataoff = get_i64(buf + 112);
	h->datasize = get_i64(buf + 120);
}

void sif_header_encode(const struct sif_header *h, uint8_t buf[SIF_HEADER_SIZE])
{
	memcpy(buf, h->launch, 32);
	memcpy(buf + 32, h->magic, 10);
	memcpy(buf + 42, h->version, 3);
	memcpy(buf + 45, h->arch, 3);
	memcpy(buf + 48, h->uuid, 16);
	put_i64(buf + 64, h->created);
	put_i64(buf + 72, h->modified);
	put_i64(buf + 80, h->dfree);
	put_i64(buf + 88, h->dtotal);
	put_i64(buf + 96, h->descoff);
	put_i64(buf + 104, h->descsize);
	put_i64(buf + 112, h->dataoff);
	put_i64(buf + 120, h->datasize);
}

void sif_descr_decode(const uint8_t buf[SIF_DESCR_SIZE], struct sif_descriptor *d)
{
	d->datatype = (int32_t)get_u32(buf);
	d->used = buf[4] != 0;
	d->id = get_u32(buf + 5);
	d->groupid = get_u32(buf + 9);
	d->link = get_u32(buf + 13);
	d->offset = get_i64(buf + 17);
	d->size = get_i64(buf + 25);
	d->sizewithpad = get_i64(buf + 33);
	d->created = get_i64(buf + 41);
	d->modified = get_i64(buf + 49);
	d->uid = get_i64(buf + 57);
	d->gid = get_i64(buf + 65);
	memcpy(d->name, buf + 73, SIF_NAME_LEN);
	d->name[SIF_NAME_LEN] = '\0';
	memcpy(d->extra, buf + 201, SIF_EXTRA_LEN);
}

void sif_descr_encode(const struct sif_descriptor *d, uint8_t buf[SIF_DESCR_SIZE])
{
	put_u32(buf, (uint32_t)d->datatype);
	buf[4] = d->used ? 1 : 0;
	put_u32(buf + 5, d->id);
	put_u32(buf + 9, d->groupid);
	put_u32(buf + 13, d->link);
	put_i64(buf + 17, d->offset);
	put_i64(buf + 25, d->size);
	put_i64(buf + 33, d->sizewithpad);
	put_i64(buf + 41, d->created);
	put_i64(buf + 49, d->modified);
	put_i64(buf + 57, d->uid);
	put_i64(buf + 65, d->gid);
	/* strncpy semantics: NUL padded, and a 128-byte name keeps no NUL */
	memset(buf + 73, 0, SIF_NAME_LEN);
	memcpy(buf + 73, d->name, strnlen(d->name, SIF_NAME_LEN));
	memcpy(buf + 201, d->extra, SIF_EXTRA_LEN);
}

/* ---- validation --------------------------------------------------------- */

/* Is [off, off+len) inside [lo, hi)?  All values checked non-negative. */
static bool span_inside(int64_t off, int64_t len, int64_t lo, int64_t hi)
{
	return off >= lo && len >= 0 && off <= hi && len <= hi - off;
}

static int cmp_by_id(const void *a, const void *b)
{
	const struct sif_descriptor *x = *(const struct sif_descriptor *const *)a;
	const struct sif_descriptor *y = *(const struct sif_descriptor *const *)b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_by_start(const void *a, const void *b)
{
	const struct sif_descriptor *x = *(const struct sif_descriptor *const *)a;
	const struct sif_descriptor *y = *(const struct sif_descriptor *const *)b;
	int64_t xs = x->offset - (x->sizewithpad - x->size);
	int64_t ys = y->offset - (y->sizewithpad - y->size);
	if (xs != ys)
		return xs < ys ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int validate_header(const struct sif_header *h, uint64_t filesize, struct sif_err *err)
{
	const int64_t fsz = (int64_t)filesize;

	if (memcmp(h->magic, SIF_MAGIC, sizeof(SIF_MAGIC)) != 0)
		return sif_err_set(err, SIF_EFORMAT, "not a SIF image (no SIF_MAGIC at offset 32)");
	if (memcmp(h->version, SIF_VERSION, 3) != 0) {
		char v[3] = {0};
		for (int i = 0; i < 2; i++)
			v[i] = (h->version[i] >= 0x20 && h->version[i] < 0x7f) ? h->version[i] : '?';
		return sif_err_set(err, SIF_EFORMAT, "unsupported SIF version \"%s\" (only %s is known)",
		                   v, SIF_VERSION);
	}
	if (h->dtotal < 1 || h->dtotal > SIF_MAX_DESCRS)
		return sif_err_set(err, SIF_EFORMAT, "header: descriptor count %lld is outside 1..%d",
		                   (long long)h->dtotal, SIF_MAX_DESCRS);
	if (h->dfree < 0 || h->dfree > h->dtotal)
		return sif_err_set(err, SIF_EFORMAT, "header: %lld free descriptors of %lld",
		                   (long long)h->dfree, (long long)h->dtotal);
	if (h->descsize != h->dtotal * SIF_DESCR_SIZE)
		return sif_err_set(err, SIF_EFORMAT,
		                   "header: descriptor table size %lld does not match %lld descriptors",
		                   (long long)h->descsize, (long long)h->dtotal);
	if (!span_inside(h->descoff, h->descsize, SIF_HEADER_SIZE, fsz))
		return sif_err_set(err, SIF_EFORMAT,
		                   "header: descriptor table at %lld (%lld bytes) lies outside the file "
		                   "(%lld bytes)", (long long)h->descoff, (long long)h->descsize,
		                   (long long)fsz);
	if (!span_inside(h->dataoff, h->datasize, h->descoff + h->descsize, fsz))
		return sif_err_set(err, SIF_EFORMAT,
		                   "header: data section at %lld (%lld bytes) lies outside the file "
		                   "(%lld bytes) or before the end of the descriptor table",
		                   (long long)h->dataoff, (long long)h->datasize, (long long)fsz);
	return 0;
}

static int validate_descriptors(struct sif_image *img, struct sif_err *err)
{
	const struct sif_header *h = &img->hdr;
	struct sif_descriptor **used = NULL;
	size_t nused = 0;
	int primaries = 0;
	int r = 0;

	used = calloc(img->ndescr ? img->ndescr : 1, sizeof(*used));
	if (!used)
		return sif_err_set(err, ENOMEM, "out of memory reading the descriptor table");

	for (size_t i = 0; i < img->ndescr; i++) {
		struct sif_descriptor *d = &img->descr[i];
		if (!d->used)
			continue;
		if (d->id == 0 || (d->id & SIF_GROUP_MASK)) {
			r = sif_err_set(err, SIF_EFORMAT, "descriptor %zu: invalid object ID %u", i + 1, d->id);
			goto out;
		}
		if ((d->groupid & SIF_GROUP_MASK) != SIF_GROUP_MASK) {
			r = sif_err_set(err, SIF_EFORMAT, "descriptor %zu: invalid group ID %#x", i + 1,
			                d->groupid);
			goto out;
		}
		if (d->offset < 0 || d->size < 0 || d->sizewithpad < d->size ||
		    !span_inside(d->offset - (d->sizewithpad - d->size), d->sizewithpad,
		                 h->dataoff, h->dataoff + h->datasize)) {
			r = sif_err_set(err, SIF_EFORMAT,
			                "object %u: position %lld (%lld bytes, %lld with padding) lies "
			                "outside the data section", d->id, (long long)d->offset,
			                (long long)d->size, (long long)d->sizewithpad);
			goto out;
		}
		if (d->datatype == SIF_DATA_PARTITION) {
			struct sif_partition_info p;
			sif_partition_info(d, &p);
			if (p.parttype == SIF_PART_PRIMSYS && ++primaries > 1) {
				r = sif_err_set(err, SIF_EFORMAT,
				                "object %u: a second primary system partition", d->id);
				goto out;
			}
		}
		used[nused++] = d;
	}
	if ((int64_t)(img->ndescr - nused) != h->dfree) {
		r = sif_err_set(err, SIF_EFORMAT,
		                "header: %zu descriptors in use but the header says %lld of %zu are free",
		                nused, (long long)h->dfree, img->ndescr);
		goto out;
	}
	/* IDs are unique, and links name an object that exists (group links
	 * may name any group); sorted so a hostile table of 65536 objects
	 * costs n log n, not n^2 */
	qsort(used, nused, sizeof(*used), cmp_by_id);
	for (size_t i = 1; i < nused; i++) {
		if (used[i]->id == used[i - 1]->id) {
			r = sif_err_set(err, SIF_EFORMAT, "object ID %u is used twice", used[i]->id);
			goto out;
		}
	}
	for (size_t i = 0; i < nused; i++) {
		uint32_t l = used[i]->link;
		struct sif_descriptor key = {.id = l}, *kp = &key;
		if (l != 0 && !sif_link_is_group(l) &&
		    !bsearch(&kp, used, nused, sizeof(*used), cmp_by_id)) {
			r = sif_err_set(err, SIF_EFORMAT, "object %u: links to object %u, which does not exist",
			                used[i]->id, l);
			goto out;
		}
	}
	/* no two objects (with their padding) may share a byte */
	qsort(used, nused, sizeof(*used), cmp_by_start);
	for (size_t i = 1; i < nused; i++) {
		const struct sif_descriptor *a = used[i - 1], *b = used[i];
		if (b->offset - (b->sizewithpad - b->size) < a->offset + a->size) {
			r = sif_err_set(err, SIF_EFORMAT, "objects %u and %u overlap", a->id, b->id);
			goto out;
		}
	}
out:
	free(used);
	return r;
}

int sif_load(struct sif_image *img, int fd, bool writable, struct sif_err *err)
{
	uint8_t hbuf[SIF_HEADER_SIZE];
	struct stat st;
	uint8_t *table = NULL;
	int r;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (fstat(fd, &st) < 0)
		return sif_err_set(err, errno, "stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return sif_err_set(err, SIF_EFORMAT, "not a SIF image (not a regular file)");
	img->filesize = (uint64_t)st.st_size;
	if (img->filesize < SIF_HEADER_SIZE)
		return sif_err_set(err, SIF_EFORMAT,
		                   "not a SIF image (%llu bytes, shorter than the %d-byte header)",
		                   (unsigned long long)img->filesize, SIF_HEADER_SIZE);
	r = sif_pread_full(fd, hbuf, sizeof(hbuf), 0);
	if (r < 0)
		return sif_err_set(err, -r, "read header: %s", strerror(-r));
	sif_header_decode(hbuf, &img->hdr);
	r = validate_header(&img->hdr, img->filesize, err);
	if (r < 0)
		return r;

	img->ndescr = (size_t)img->hdr.dtotal;
	img->descr = calloc(img->ndescr, sizeof(*img->descr));
	table = malloc((size_t)img->hdr.descsize);
	if (!img->descr || !table) {
		r = sif_err_set(err, ENOMEM, "out of memory for %zu descriptors", img->ndescr);
		goto fail;
	}
	r = sif_pread_full(fd, table, (size_t)img->hdr.descsize, img->hdr.descoff);
	if (r < 0) {
		r = sif_err_set(err, -r, "read descriptor table: %s", strerror(-r));
		goto fail;
	}
	for (size_t i = 0; i < img->ndescr; i++)
		sif_descr_decode(table + i * SIF_DESCR_SIZE, &img->descr[i]);
	free(table);
	table = NULL;
	r = validate_descriptors(img, err);
	if (r < 0)
		goto fail;
	img->fd = fd;
	img->writable = writable;
	return 0;
fail:
	free(table);
	free(img->descr);
	img->descr = NULL;
	img->ndescr = 0;
	return r;
}

int sif_open(struct sif_image *img, const char *path, int flags, struct sif_err *err)
{
	bool writable = (flags & O_ACCMODE) == O_RDWR;
	/* O_NONBLOCK: a FIFO or device named as an image must not hang the open;
	 * sif_load refuses anything but a regular file */
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int r;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (fd < 0) {
		r = sif_err_set(err, errno, "open %s: %s", path, strerror(errno));
		return r;
	}
	r = sif_load(img, fd, writable, err);
	if (r < 0) {
		close(fd);
		sif_err_prefix(err, "%s: ", path);
	}
	return r;
}

void sif_close(struct sif_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	free(img->descr);
	memset(img, 0, sizeof(*img));
	img->fd = -1;
}

/* ---- writing ------------------------------------------------------------- */

static int write_header(struct sif_image *img, struct sif_err *err)
{
	uint8_t buf[SIF_HEADER_SIZE];
	int r;

	sif_header_encode(&img->hdr, buf);
	r = sif_pwrite_full(img->fd, buf, sizeof(buf), 0);
	if (r < 0)
		return sif_err_set(err, -r, "write SIF header: %s", strerror(-r));
	return 0;
}

static int write_descr(struct sif_image *img, size_t idx, struct sif_err *err)
{
	uint8_t buf[SIF_DESCR_SIZE];
	int r;

	sif_descr_encode(&img->descr[idx], buf);
	r = sif_pwrite_full(img->fd, buf, sizeof(buf),
	                    img->hdr.descoff + (int64_t)(idx * SIF_DESCR_SIZE));
	if (r < 0)
		return sif_err_set(err, -r, "write SIF descriptor %zu: %s", idx + 1, strerror(-r));
	return 0;
}

int sif_create_fd(struct sif_image *img, int fd, const struct sif_create_opts *opts,
                  struct sif_err *err)
{
	static const char default_launch[] = "#!/usr/bin/env run-singularity\n";
	struct sif_header *h = &img->hdr;
	size_t n = opts->ndescr ? opts->ndescr : SIF_DEFAULT_DESCRS;
	const char *launch = opts->launch ? opts->launch : default_launch;
	uint8_t *zero;
	int r;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (n > SIF_MAX_DESCRS)
		return sif_err_set(err, EINVAL, "%zu descriptors requested, at most %d are allowed",
		                   n, SIF_MAX_DESCRS);
	if (strlen(launch) > SIF_LAUNCH_LEN)
		return sif_err_set(err, EINVAL, "launch script longer than %d bytes", SIF_LAUNCH_LEN);
	if (opts->arch && (strlen(opts->arch) != 2))
		return sif_err_set(err, EINVAL, "architecture code \"%s\" is not two digits", opts->arch);

	memcpy(h->launch, launch, strlen(launch));
	memcpy(h->magic, SIF_MAGIC, sizeof(SIF_MAGIC));
	memcpy(h->version, SIF_VERSION, 3);
	memcpy(h->arch, opts->arch ? opts->arch : "00", 3);
	if (opts->uuid)
		memcpy(h->uuid, opts->uuid, 16);
	h->created = h->modified = opts->time;
	h->dfree = h->dtotal = (int64_t)n;
	h->descoff = SIF_DESCR_OFFSET;
	h->descsize = (int64_t)n * SIF_DESCR_SIZE;
	h->dataoff = h->descoff + h->descsize;
	h->datasize = 0;

	img->descr = calloc(n, sizeof(*img->descr));
	zero = calloc(1, (size_t)h->dataoff);
	if (!img->descr || !zero) {
		free(zero);
		free(img->descr);
		img->descr = NULL;
		return sif_err_set(err, ENOMEM, "out of memory creating a SIF image");
	}
	img->ndescr = n;
	img->fd = fd;
	img->writable = true;
	/* header, zero gap up to the table, and an all-unused table */
	r = sif_pwrite_full(fd, zero, (size_t)h->dataoff, 0);
	free(zero);
	if (r < 0 || ftruncate(fd, h->dataoff) < 0) {
		r = r < 0 ? r : -errno;
		img->fd = -1;
		sif_close(img);
		return sif_err_set(err, -r, "write SIF image: %s", strerror(-r));
	}
	img->filesize = (uint64_t)h->dataoff;
	r = write_header(img, err);
	if (r < 0) {
		img->fd = -1;
		sif_close(img);
	}
	return r;
}

void sif_partition_extra(uint8_t extra[SIF_EXTRA_LEN], int32_t fstype, int32_t parttype,
                         const char *arch)
{
	memset(extra, 0, SIF_EXTRA_LEN);
	put_u32(extra, (uint32_t)fstype);
	put_u32(extra + 4, (uint32_t)parttype);
	if (arch)
		memcpy(extra + 8, arch, strnlen(arch, 2));
}

void sif_signature_extra(uint8_t extra[SIF_EXTRA_LEN], int32_t hashtype,
                         const uint8_t *fingerprint, size_t len)
{
	memset(extra, 0, SIF_EXTRA_LEN);
	put_u32(extra, (uint32_t)hashtype);
	if (len > 20)
		len = 20;
	if (fingerprint)
		memcpy(extra + 4, fingerprint, len);
}

static int copy_object_data(struct sif_image *img, const struct sif_object_input *in,
                            int64_t dst, struct sif_err *err)
{
	int r;

	if (in->size == 0)
		return 0;
	if (in->in_place) {
		if (in->src_off != dst)
			return sif_err_set(err, EINVAL, "object data was written at %lld, not at %lld",
			                   (long long)in->src_off, (long long)dst);
		return 0;
	}
	if (in->data) {
		r = sif_pwrite_full(img->fd, in->data, (size_t)in->size, dst);
	} else {
		r = sif_copy_range(in->src_fd, in->src_off, img->fd, dst, (uint64_t)in->size);
	}
	if (r < 0)
		return sif_err_set(err, -r, "write object data: %s", strerror(-r));
	return 0;
}

int64_t sif_next_offset(const struct sif_image *img, size_t align)
{
	int64_t end = img->hdr.dataoff + img->hdr.datasize;

	if (!align)
		align = SIF_PART_ALIGN;
	return (end + (int64_t)align - 1) / (int64_t)align * (int64_t)align;
}

int sif_add_object(struct sif_image *img, const struct sif_object_input *in,
                   struct sif_err *err)
{
	struct sif_header *h = &img->hdr;
	struct sif_descriptor *d = NULL;
	size_t idx = 0, align;
	int64_t end, off;
	int r;

	if (!img->writable)
		return sif_err_set(err, EBADF, "image is open read-only");
	if (in->size < 0 || (!in->data && !in->in_place && in->size > 0 && in->src_fd < 0))
		return sif_err_set(err, EINVAL, "object has no data source");
	if (in->name && strlen(in->name) > SIF_NAME_LEN)
		return sif_err_set(err, EINVAL, "object name longer than %d bytes", SIF_NAME_LEN);
	if (in->group & SIF_GROUP_MASK)
		return sif_err_set(err, EINVAL, "group number %u too large", in->group);
	if (in->link && !sif_link_is_group(in->link) && !sif_get_object(img, in->link))
		return sif_err_set(err, EINVAL, "link to object %u, which does not exist", in->link);
	for (idx = 0; idx < img->ndescr; idx++)
		if (!img->descr[idx].used)
			break;
	if (idx == img->ndescr)
		return sif_err_set(err, ENOSPC, "all %zu descriptors are in use", img->ndescr);

	if (in->datatype == SIF_DATA_PARTITION && in->extra) {
		struct sif_descriptor tmp;
		struct sif_partition_info p;
		memcpy(tmp.extra, in->extra, SIF_EXTRA_LEN);
		tmp.datatype = SIF_DATA_PARTITION;
		sif_partition_info(&tmp, &p);
		if (p.parttype == SIF_PART_PRIMSYS && sif_primary_partition(img))
			return sif_err_set(err, EEXIST, "the image already has a primary partition");
	}

	align = in->align ? in->align : (in->datatype == SIF_DATA_PARTITION ? SIF_PART_ALIGN : 1);
	end = h->dataoff + h->datasize;
	off = (end + (int64_t)align - 1) / (int64_t)align * (int64_t)align;
	if (in->size > INT64_MAX - off)
		return sif_err_set(err, EFBIG, "object of %lld bytes is too large", (long long)in->size);

	r = copy_object_data(img, in, off, err);
	if (r < 0)
		return r;

	d = &img->descr[idx];
	memset(d, 0, sizeof(*d));
	d->datatype = in->datatype;
	d->used = true;
	d->id = (uint32_t)idx + 1;
	d->groupid = SIF_GROUP_MASK | in->group;
	d->link = in->link;
	d->offset = off;
	d->size = in->size;
	d->sizewithpad = in->size + (off - end);
	d->created = d->modified = in->time;
	if (in->name)
		memcpy(d->name, in->name, strlen(in->name));
	if (in->extra)
		memcpy(d->extra, in->extra, SIF_EXTRA_LEN);

	h->dfree--;
	h->datasize += d->sizewithpad;
	h->modified = in->time;
	if (d->datatype == SIF_DATA_PARTITION) {
		struct sif_partition_info p;
		sif_partition_info(d, &p);
		if (p.parttype == SIF_PART_PRIMSYS)
			memcpy(h->arch, p.arch, 3);
	}
	if ((uint64_t)(off + in->size) > img->filesize)
		img->filesize = (uint64_t)(off + in->size);
	r = write_descr(img, idx, err);
	if (r == 0)
		r = write_header(img, err);
	if (r < 0) {
		memset(d, 0, sizeof(*d));
		return r;
	}
	return (int)d->id;
}

int sif_delete_object(struct sif_image *img, uint32_t id, unsigned flags, int64_t time,
                      struct sif_err *err)
{
	struct sif_header *h = &img->hdr;
	struct sif_descriptor *d = NULL;
	size_t idx;
	int r;

	if (!img->writable)
		return sif_err_set(err, EBADF, "image is open read-only");
	for (idx = 0; idx < img->ndescr; idx++) {
		if (img->descr[idx].used && img->descr[idx].id == id) {
			d = &img->descr[idx];
			break;
		}
	}
	if (!d)
		return sif_err_set(err, ENOENT, "no object with ID %u", id);
	for (size_t i = 0; i < img->ndescr; i++) {
		if (img->descr[i].used && img->descr[i].link == id)
			return sif_err_set(err, EBUSY, "object %u is linked from object %u; delete that first",
			                   id, img->descr[i].id);
	}
	if (flags & SIF_DELETE_ZERO) {
		r = sif_pwrite_zeros(img->fd, d->offset, (uint64_t)d->size);
		if (r < 0)
			return sif_err_set(err, -r, "zero object %u: %s", id, strerror(-r));
	}
	if (d->datatype == SIF_DATA_PARTITION) {
		struct sif_partition_info p;
		sif_partition_info(d, &p);
		if (p.parttype == SIF_PART_PRIMSYS)
			memcpy(h->arch, "00", 3);
	}
	if ((flags & SIF_DELETE_COMPACT) && d->offset + d->size == h->dataoff + h->datasize) {
		h->datasize -= d->sizewithpad;
		if (ftruncate(img->fd, h->dataoff + h->datasize) < 0)
			return sif_err_set(err, errno, "truncate image: %s", strerror(errno));
		img->filesize = (uint64_t)(h->dataoff + h->datasize);
	}
	memset(d, 0, sizeof(*d));
	h->dfree++;
	h->modified = time;
	r = write_descr(img, idx, err);
	if (r == 0)
		r = write_header(img, err);
	return r;
}

/* ---- lookups ------------------------------------------------------------- */

const struct sif_descriptor *sif_get_object(const struct sif_image *img, uint32_t id)
{
	for (size_t i = 0; i < img->ndescr; i++)
		if (img->descr[i].used && img->descr[i].id == id)
			return &img->descr[i];
	return NULL;
}

const struct sif_descriptor *sif_primary_partition(const struct sif_image *img)
{
	for (size_t i = 0; i < img->ndescr; i++) {
		const struct sif_descriptor *d = &img->descr[i];
		struct sif_partition_info p;
		if (!d->used || d->datatype != SIF_DATA_PARTITION)
			continue;
		sif_partition_info(d, &p);
		if (p.parttype == SIF_PART_PRIMSYS)
			return d;
	}
	return NULL;
}

void sif_partition_info(const struct sif_descriptor *d, struct sif_partition_info *p)
{
	p->fstype = (int32_t)get_u32(d->extra);
	p->parttype = (int32_t)get_u32(d->extra + 4);
	memcpy(p->arch, d->extra + 8, 3);
	p->arch[2] = '\0';
}

void sif_signature_info(const struct sif_descriptor *d, struct sif_signature_info *s)
{
	s->hashtype = (int32_t)get_u32(d->extra);
	memcpy(s->fingerprint, d->extra + 4, 20);
	s->fingerprint_len = 0;
	for (size_t i = 0; i < 20; i++)
		if (s->fingerprint[i])
			s->fingerprint_len = 20;
}

void sif_extra_string(const struct sif_descriptor *d, char *out, size_t outlen)
{
	size_t n = strnlen((const char *)d->extra, SIF_EXTRA_LEN);
	if (outlen == 0)
		return;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, d->extra, n);
	out[n] = '\0';
}

int sif_read_object(const struct sif_image *img, const struct sif_descriptor *d, void *buf,
                    size_t len, uint64_t off, struct sif_err *err)
{
	int r;

	if (off > (uint64_t)d->size || len > (uint64_t)d->size - off)
		return sif_err_set(err, ERANGE, "read past the end of object %u", d->id);
	r = sif_pread_full(img->fd, buf, len, d->offset + (int64_t)off);
	if (r < 0)
		return sif_err_set(err, -r, "read object %u: %s", d->id, strerror(-r));
	return 0;
}

/* ---- names --------------------------------------------------------------- */

const char *sif_datatype_name(int32_t t)
{
	switch (t) {
	case SIF_DATA_DEFFILE: return "Def.FILE";
	case SIF_DATA_ENVVAR: return "Env.Vars";
	case SIF_DATA_LABELS: return "JSON.Labels";
	case SIF_DATA_PARTITION: return "FS";
	case SIF_DATA_SIGNATURE: return "Signature";
	case SIF_DATA_GENERICJSON: return "JSON.Generic";
	case SIF_DATA_GENERIC: return "Generic/Raw";
	case SIF_DATA_CRYPTOMSG: return "Cryptographic Message";
	case SIF_DATA_SBOM: return "SBOM";
	case SIF_DATA_OCI_ROOTIDX: return "OCI.RootIndex";
	case SIF_DATA_OCI_BLOB: return "OCI.Blob";
	default: return "Unknown";
	}
}

const char *sif_fstype_name(int32_t t)
{
	switch (t) {
	case SIF_FS_SQUASH: return "Squashfs";
	case SIF_FS_EXT3: return "Ext3";
	case SIF_FS_IMMOBJECTS: return "Archive";
	case SIF_FS_RAW: return "Raw";
	case SIF_FS_ENCRYPTED_SQUASH: return "Encrypted squashfs";
	default: return "Unknown";
	}
}

const char *sif_parttype_name(int32_t t)
{
	switch (t) {
	case SIF_PART_SYSTEM: return "System";
	case SIF_PART_PRIMSYS: return "*System";
	case SIF_PART_DATA: return "Data";
	case SIF_PART_OVERLAY: return "Overlay";
	default: return "Unknown";
	}
}

const char *sif_hash_name(int32_t t)
{
	switch (t) {
	case SIF_HASH_SHA256: return "SHA-256";
	case SIF_HASH_SHA384: return "SHA-384";
	case SIF_HASH_SHA512: return "SHA-512";
	case SIF_HASH_BLAKE2S: return "BLAKE2s-256";
	case SIF_HASH_BLAKE2B: return "BLAKE2b-256";
	default: return "Unknown";
	}
}

static const char *const arch_names[] = {
	"unknown", "386", "amd64", "arm", "arm64", "ppc64", "ppc64le", "mips",
	"mipsle", "mips64", "mips64le", "s390x", "riscv64", "loong64",
};
#define NARCH (sizeof(arch_names) / sizeof(arch_names[0]))

const char *sif_arch_name(const char code[3])
{
	if (code[0] < '0' || code[0] > '9' || code[1] < '0' || code[1] > '9' || code[2] != '\0')
		return "unknown";
	unsigned n = (unsigned)(code[0] - '0') * 10 + (unsigned)(code[1] - '0');
	return n < NARCH ? arch_names[n] : "unknown";
}

const char *sif_arch_code(const char *goarch)
{
	static const char *const codes[] = {
		"00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13",
	};
	for (size_t i = 1; i < NARCH; i++)
		if (strcmp(goarch, arch_names[i]) == 0)
			return codes[i];
	return NULL;
}

const char *sif_host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__i386__)
	return "386";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__arm__)
	return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "ppc64le";
#elif defined(__powerpc64__)
	return "ppc64";
#elif defined(__s390x__)
	return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#elif defined(__loongarch64)
	return "loong64";
#else
	return "unknown";
#endif
}

const char *sif_cryptomsg_format_name(int32_t f)
{
	switch (f) {
	case 1: return "OpenPGP";
	case 2: return "PEM";
	default: return "Unknown";
	}
}

const char *sif_cryptomsg_type_name(int32_t t)
{
	switch (t) {
	case 0x100: return "Clear Signature";
	case 0x200: return "RSA-OAEP";
	default: return "Unknown";
	}
}

const char *sif_sbom_format_name(int32_t f)
{
	static const char *const names[] = {
		"cyclonedx-json", "cyclonedx-xml", "github-json", "spdx-json",
		"spdx-rdf", "spdx-tag-value", "spdx-yaml", "syft-json",
	};
	if (f >= 1 && (size_t)f <= sizeof(names) / sizeof(names[0]))
		return names[f - 1];
	return "unknown";
}
