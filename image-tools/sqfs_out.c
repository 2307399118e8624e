/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writing a squashfs 4.0 filesystem with libsquashfs (see sqfs_out.h).
 *
 * The layout, in the order the kernel expects it (its table readers bound
 * each table by the start of the next one):
 *
 *   superblock | compressor options | data and fragment blocks |
 *   inode table | directory table | fragment table | id table | xattr tables
 *
 * File data is streamed first, through the block processor.  At the end the
 * tree is walked twice: once to number the inodes, once to write them (a
 * directory inode needs its parent's number, and post-order numbering gives
 * the parent its number only after its children).  The directory table is
 * kept in memory while the inode table goes to disk, then follows it.  The
 * superblock, which points at everything, is written last over the bytes
 * reserved for it at the start.
 *
 * All I/O goes through our own sqfs_file_t, which maps the filesystem's
 * offsets to the SIF file's (offset + base) and never touches what lies
 * before the base.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_writer.h>

#include <libdeflate.h>

#include "digest.h"
#include "sqfs_out.h"

#define NO_XATTR 0xFFFFFFFFu
#define MAX_JOBS 1024u
#define BACKLOG_BYTES (256u << 20)   /* input held by blocks in flight, at most */

/* ---- the output file: FD from BASE on ------------------------------------ */

struct fd_file {
	sqfs_file_t obj;
	int fd;
	uint64_t base;               /* where the filesystem starts in fd */
	uint64_t size;               /* the filesystem's size so far */
	int err;                     /* errno of the last failed I/O, for messages */
};

static bool fd_range(const struct fd_file *f, sqfs_u64 off, size_t n)
{
	/* off + n + base must fit an off_t */
	return off <= (uint64_t)INT64_MAX - f->base && n <= (uint64_t)INT64_MAX - f->base - off;
}

/* pread or pwrite all N bytes at OFF (EINTR and short transfers: again) */
static int fd_io(struct fd_file *f, sqfs_u64 off, unsigned char *buf, size_t n, bool wr)
{
	if (!fd_range(f, off, n)) {
		f->err = EFBIG;
		return SQFS_ERROR_IO;
	}
	while (n) {
		ssize_t r = wr ? pwrite(f->fd, buf, n, (off_t)(f->base + off))
		               : pread(f->fd, buf, n, (off_t)(f->base + off));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			f->err = r < 0 ? errno : EIO;   /* 0: the file shrank under us */
			return SQFS_ERROR_IO;
		}
		buf += r;
		off += (size_t)r;
		n -= (size_t)r;
		if (wr && off > f->size)
			f->size = off;
	}
	return 0;
}

static int fd_read_at(sqfs_file_t *file, sqfs_u64 off, void *buf, size_t n)
{
	struct fd_file *f = (struct fd_file *)file;

	if (off > f->size || n > f->size - off)
		return SQFS_ERROR_OUT_OF_BOUNDS;
	return fd_io(f, off, buf, n, false);
}

static int fd_write_at(sqfs_file_t *file, sqfs_u64 off, const void *buf, size_t n)
{
	return fd_io((struct fd_file *)file, off, (unsigned char *)buf, n, true);
}

static sqfs_u64 fd_get_size(const sqfs_file_t *file)
{
	return ((const struct fd_file *)file)->size;
}

/* The block writer cuts the file back after finding a duplicate block. */
static int fd_truncate(sqfs_file_t *file, sqfs_u64 size)
{
	struct fd_file *f = (struct fd_file *)file;

	if (!fd_range(f, size, 0)) {
		f->err = EFBIG;
		return SQFS_ERROR_IO;
	}
	while (ftruncate(f->fd, (off_t)(f->base + size)) < 0) {
		if (errno != EINTR) {
			f->err = errno;
			return SQFS_ERROR_IO;
		}
	}
	f->size = size;
	return 0;
}

static void fd_destroy(sqfs_object_t *obj)
{
	free(obj);   /* the fd is the caller's */
}

static const sqfs_file_t fd_ops = {
	.base = { .destroy = fd_destroy, .copy = NULL },   /* writable: not copyable */
	.read_at = fd_read_at, .write_at = fd_write_at,
	.get_size = fd_get_size, .truncate = fd_truncate,
};

/* ---- the writer ------------------------------------------------------------ */

struct sqfs_out {
	struct fd_file *file;
	sqfs_compressor_t *cmp;      /* data blocks and metadata */
	sqfs_compressor_t *uncmp;    /* reading fragment blocks back to verify dedup */
	sqfs_block_writer_t *bw;
	sqfs_frag_table_t *frag;
	sqfs_block_processor_t *proc;
	sqfs_id_table_t *ids;
	sqfs_xattr_writer_t *xw;
	sqfs_meta_writer_t *im;      /* inode table, straight to the file */
	sqfs_meta_writer_t *dm;      /* directory table, in memory until the inodes are out */
	sqfs_dir_writer_t *dw;
	sqfs_super_t super;
	sqfs_u32 blk_flags;          /* passed to begin_file */
	struct tree_inode *cur;      /* the file being streamed */
	struct dedup *dd;            /* whole files already written, by content */
	size_t ndd, capdd;
	uint64_t bytes_in;
	uint32_t ninodes;
	bool xattrs;                 /* some inode has xattrs */
	bool drained;                /* no block in flight any more */
};

/* A whole file already written: a later file with the same size and
 * SHA-256 shares its blocks (as mksquashfs's duplicate check does), and is
 * not compressed again. */
struct dedup {
	uint64_t size;
	char digest[72];
	struct tree_inode *ino;      /* held */
};

/* libsquashfs's error codes (error.h) as an errno and a reason */
static const struct sq_error {
	int code, errnum;
	const char *why;
} sq_errors[] = {
	{ SQFS_ERROR_ALLOC, ENOMEM, "out of memory" },
	{ SQFS_ERROR_IO, EIO, NULL },   /* the reason is the errno our file recorded */
	{ SQFS_ERROR_COMPRESSOR, EIO, "compressor failed" },
	{ SQFS_ERROR_INTERNAL, EPROTO, "internal error in libsquashfs" },
	{ SQFS_ERROR_CORRUPTED, SIF_EFORMAT, "corrupted data" },
	{ SQFS_ERROR_UNSUPPORTED, ENOTSUP, "not supported by this libsquashfs" },
	{ SQFS_ERROR_OVERFLOW, EOVERFLOW, "value too large" },
	{ SQFS_ERROR_OUT_OF_BOUNDS, ERANGE, "out of bounds" },
	{ SFQS_ERROR_SUPER_MAGIC, SIF_EFORMAT, "no squashfs superblock" },
	{ SFQS_ERROR_SUPER_VERSION, SIF_EFORMAT, "not squashfs 4.0" },
	{ SQFS_ERROR_SUPER_BLOCK_SIZE, EINVAL, "invalid block size" },
	{ SQFS_ERROR_NOT_DIR, ENOTDIR, "not a directory" },
	{ SQFS_ERROR_NO_ENTRY, ENOENT, "no such entry" },
	{ SQFS_ERROR_LINK_LOOP, ELOOP, "hard link loop" },
	{ SQFS_ERROR_NOT_FILE, EINVAL, "not a regular file" },
	{ SQFS_ERROR_ARG_INVALID, EINVAL, "invalid argument (e.g. a name too long)" },
	{ SQFS_ERROR_SEQUENCE, EINVAL, "calls out of sequence" },
};

static int sq_errno(const struct sqfs_out *out, int ret, const char **why)
{
	for (size_t i = 0; i < sizeof(sq_errors) / sizeof(sq_errors[0]); i++) {
		if (sq_errors[i].code != ret)
			continue;
		if (sq_errors[i].why) {
			*why = sq_errors[i].why;
			return sq_errors[i].errnum;
		}
		int e = out && out->file && out->file->err ? out->file->err : EIO;
		*why = strerror(e);
		return e;
	}
	*why = "unknown libsquashfs error";
	return EIO;
}

/* "write squashfs: WHAT: REASON" for libsquashfs error RET. */
static int sq_fail(const struct sqfs_out *out, struct sif_err *err, int ret, const char *what)
{
	const char *why;
	int e = sq_errno(out, ret, &why);

	return sif_err_set(err, e, "write squashfs: %s: %s", what, why);
}

/* The same for an error at tree node N; REASON is a libsquashfs code if
 * WHY is NULL. */
static int node_fail(const struct sqfs_out *out, struct sif_err *err, const struct tree_node *n,
                     int ret, int errnum, const char *why)
{
	char buf[PATH_MAX];
	const char *p = tree_path(n, buf, sizeof(buf));

	if (!why)
		errnum = sq_errno(out, ret, &why);
	return sif_err_set(err, errnum, "write squashfs: /%s: %s", p, why);
}

/* ---- holding compressors to their contract -------------------------------- */

/* compressor.h says do_block returns 0 when the result would be larger than
 * the input, so the block is stored uncompressed.  libsquashfs 1.2's lz4
 * does not (an 8-byte id table becomes a 9-byte "compressed" block), and
 * unsquashfs 4.5 rejects such an image.  This wrapper, around the
 * compressor that writes, makes every compressor keep to it.
 *
 * For gzip it also does the compressing, with libdeflate at the same level
 * rather than libsquashfs's zlib: the same format (a zlib stream of
 * deflate data, 32 KiB window, what the kernel and unsquashfs read), and,
 * measured on the Debian + python3 + numpy image's files in 128 KiB
 * blocks at level 9, a third of zlib's CPU time for 1-2% smaller blocks
 * (bench/README.md).  libsquashfs still writes the compressor's options. */
struct cmp_wrap {
	sqfs_compressor_t obj;
	sqfs_compressor_t *inner;
	struct libdeflate_compressor *ld;   /* gzip: this one's own, or NULL */
	int ld_level;
};

static sqfs_compressor_t *inner_of(const sqfs_compressor_t *c)
{
	return ((const struct cmp_wrap *)c)->inner;
}

static void wrap_destroy(sqfs_object_t *obj)
{
	struct cmp_wrap *w = (struct cmp_wrap *)obj;

	if (w->ld)
		libdeflate_free_compressor(w->ld);
	sqfs_destroy(w->inner);
	free(obj);
}

static sqfs_object_t *wrap_copy(const sqfs_object_t *obj)   /* one per worker thread */
{
	const struct cmp_wrap *w = (const struct cmp_wrap *)obj;
	sqfs_compressor_t *inner = sqfs_copy(w->inner);
	struct cmp_wrap *c = inner ? malloc(sizeof(*c)) : NULL;

	if (!c) {
		sqfs_destroy(inner);
		return NULL;
	}
	*c = *w;
	c->inner = inner;
	c->ld = NULL;
	if (w->ld && !(c->ld = libdeflate_alloc_compressor(w->ld_level))) {
		sqfs_destroy(inner);
		free(c);
		return NULL;
	}
	return &c->obj.base;
}

static void wrap_get_configuration(const sqfs_compressor_t *c, sqfs_compressor_config_t *cfg)
{
	inner_of(c)->get_configuration(inner_of(c), cfg);
}

static int wrap_write_options(sqfs_compressor_t *c, sqfs_file_t *file)
{
	return inner_of(c)->write_options(inner_of(c), file);
}

static int wrap_read_options(sqfs_compressor_t *c, sqfs_file_t *file)
{
	return inner_of(c)->read_options(inner_of(c), file);
}

static sqfs_s32 wrap_do_block(sqfs_compressor_t *c, const sqfs_u8 *in, sqfs_u32 size,
                              sqfs_u8 *out, sqfs_u32 outsize)
{
	struct cmp_wrap *w = (struct cmp_wrap *)c;
	sqfs_s32 r;

	if (w->ld) {
		/* smaller than the input, or stored as it is (0) */
		size_t room;
		if (size == 0 || size > (sqfs_u32)INT32_MAX)
			return 0;
		room = outsize < size ? outsize : size - 1;
		return (sqfs_s32)libdeflate_zlib_compress(w->ld, in, size, out, room);
	}
	r = inner_of(c)->do_block(inner_of(c), in, size, out, outsize);
	return r > 0 && (sqfs_u32)r >= size ? 0 : r;
}

static const sqfs_compressor_t wrap_ops = {
	.base = { .destroy = wrap_destroy, .copy = wrap_copy },
	.get_configuration = wrap_get_configuration, .write_options = wrap_write_options,
	.read_options = wrap_read_options, .do_block = wrap_do_block,
};

/* Wrap *CMP, a gzip one at LEVEL compressing with libdeflate when GZIP
 * (on failure, *CMP is destroyed and NULL). */
static int wrap_compressor(sqfs_compressor_t **cmp, bool gzip, int level)
{
	struct cmp_wrap *w = calloc(1, sizeof(*w));

	if (w && gzip && !(w->ld = libdeflate_alloc_compressor(level))) {
		free(w);
		w = NULL;
	}
	if (!w) {
		sqfs_destroy(*cmp);
		*cmp = NULL;
		return SQFS_ERROR_ALLOC;
	}
	w->obj = wrap_ops;
	w->inner = *cmp;
	w->ld_level = level;
	*cmp = &w->obj;
	return 0;
}

static const struct comp {
	int out;
	SQFS_COMPRESSOR id;
	const char *name;
	int min, max;                /* explicit levels; 0 is always the default */
} comps[] = {
	{ SQFS_OUT_GZIP, SQFS_COMP_GZIP, "gzip", SQFS_GZIP_MIN_LEVEL, SQFS_GZIP_MAX_LEVEL },
	{ SQFS_OUT_LZMA, SQFS_COMP_LZMA, "lzma", 1, SQFS_LZMA_MAX_LEVEL },
	{ SQFS_OUT_LZO, SQFS_COMP_LZO, "lzo", 1, SQFS_LZO_MAX_LEVEL },
	{ SQFS_OUT_XZ, SQFS_COMP_XZ, "xz", 1, SQFS_XZ_MAX_LEVEL },
	{ SQFS_OUT_LZ4, SQFS_COMP_LZ4, "lz4", 0, 0 },
	{ SQFS_OUT_ZSTD, SQFS_COMP_ZSTD, "zstd", SQFS_ZSTD_MIN_LEVEL, SQFS_ZSTD_MAX_LEVEL },
	/* stored: metadata may still be gzip-compressed, as mksquashfs -noD -noF does */
	{ SQFS_OUT_NONE, SQFS_COMP_GZIP, "none", 0, 0 },
};

static sqfs_u32 clamp_time(int64_t t)
{
	return t < 0 ? 0 : t > (int64_t)UINT32_MAX ? UINT32_MAX : (sqfs_u32)t;
}

/* Check the options and create the compressors (libsquashfs copies CMP for
 * each worker thread). */
static int make_compressors(struct sqfs_out *out, const struct sqfs_out_opts *o,
                            const struct comp *c, uint32_t block_size, struct sif_err *err)
{
	sqfs_compressor_config_t cfg;
	char what[64];
	int r;

	if (o->level && c->max == 0)
		return sif_err_set(err, EINVAL, "write squashfs: compression level %d: %s has no "
		                   "levels, use 0", o->level, c->name);
	if (o->level && (o->level < c->min || o->level > c->max))
		return sif_err_set(err, EINVAL, "write squashfs: compression level %d: valid for "
		                   "%s are %d to %d, or 0 for its default", o->level, c->name,
		                   c->min, c->max);
	snprintf(what, sizeof(what), "compressor %s", c->name);
	r = sqfs_compressor_config_init(&cfg, c->id, block_size, 0);
	if (r)
		return sq_fail(out, err, r, what);
	if (o->level)
		cfg.level = (sqfs_u32)o->level;
	r = sqfs_compressor_create(&cfg, &out->cmp);
	if (!r)
		r = wrap_compressor(&out->cmp, c->id == SQFS_COMP_GZIP, (int)cfg.level);
	if (r)
		return sq_fail(out, err, r, what);
	cfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
	r = sqfs_compressor_create(&cfg, &out->uncmp);
	return r ? sq_fail(out, err, r, what) : 0;
}

int sqfs_out_open(struct sqfs_out **outp, int fd, uint64_t offset, const struct sqfs_out_opts *o,
                  struct sif_err *err)
{
	static const unsigned char zero[sizeof(sqfs_super_t)];
	const struct comp *c = NULL;
	uint32_t bs = o->block_size ? o->block_size : SQFS_DEFAULT_BLOCK_SIZE;
	unsigned jobs = o->jobs ? o->jobs : 1;
	struct sqfs_out *out;
	sqfs_block_processor_desc_t desc;
	size_t backlog, cap;
	int r;

	*outp = NULL;
	for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++)
		if (comps[i].out == o->comp)
			c = &comps[i];
	if (!c)
		return sif_err_set(err, EINVAL, "write squashfs: unknown compressor %d", o->comp);
	if (bs < SQFS_MIN_BLOCK_SIZE || bs > SQFS_MAX_BLOCK_SIZE || (bs & (bs - 1)))
		return sif_err_set(err, EINVAL, "write squashfs: block size %u: must be a power of "
		                   "two from %u to %u", bs, SQFS_MIN_BLOCK_SIZE, SQFS_MAX_BLOCK_SIZE);
	if (jobs > MAX_JOBS)
		return sif_err_set(err, EINVAL, "write squashfs: %u jobs: at most %u", jobs, MAX_JOBS);
	if (offset > (uint64_t)INT64_MAX)
		return sif_err_set(err, EINVAL, "write squashfs: offset %llu too large",
		                   (unsigned long long)offset);

	out = calloc(1, sizeof(*out));
	if (!out || !(out->file = calloc(1, sizeof(*out->file)))) {
		free(out);
		return sif_err_set(err, ENOMEM, "write squashfs: out of memory");
	}
	out->file->obj = fd_ops;
	out->file->fd = fd;
	out->file->base = offset;

	if ((r = make_compressors(out, o, c, bs, err)) < 0)
		goto fail;
	r = sqfs_super_init(&out->super, bs, clamp_time(o->mkfs_time), c->id);
	if (r) {
		r = sq_fail(out, err, r, "superblock");
		goto fail;
	}
	if (o->comp == SQFS_OUT_NONE) {
		out->blk_flags = SQFS_BLK_DONT_COMPRESS;
		out->super.flags |= SQFS_FLAG_UNCOMPRESSED_DATA | SQFS_FLAG_UNCOMPRESSED_FRAGMENTS;
	}

	/* Room for the superblock, then the compressor's options if it has any
	 * that are not the defaults (an uncompressed metadata block). */
	r = fd_write_at(&out->file->obj, 0, zero, sizeof(zero));
	if (r) {
		r = sq_fail(out, err, r, "superblock");
		goto fail;
	}
	r = out->cmp->write_options(out->cmp, &out->file->obj);
	if (r < 0) {
		r = sq_fail(out, err, r, "compressor options");
		goto fail;
	}
	if (r > 0)
		out->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;

	out->bw = sqfs_block_writer_create(&out->file->obj, SQFS_DEVBLK_SIZE, 0);
	out->frag = sqfs_frag_table_create(0);
	out->ids = sqfs_id_table_create(0);
	out->xw = sqfs_xattr_writer_create(0);
	if (!out->bw || !out->frag || !out->ids || !out->xw) {
		r = sif_err_set(err, ENOMEM, "write squashfs: out of memory");
		goto fail;
	}

	/* Blocks in flight: enough to keep the workers busy, bounded in memory. */
	backlog = 10 * (size_t)jobs + 10;
	cap = BACKLOG_BYTES / bs;
	if (cap < 2 * (size_t)jobs + 2)
		cap = 2 * (size_t)jobs + 2;
	if (backlog > cap)
		backlog = cap;
	memset(&desc, 0, sizeof(desc));
	desc.size = sizeof(desc);
	desc.max_block_size = bs;
	desc.num_workers = jobs;
	desc.max_backlog = (sqfs_u32)backlog;
	desc.cmp = out->cmp;
	desc.wr = out->bw;
	desc.tbl = out->frag;
	desc.file = &out->file->obj;   /* fragment dedup compares bytes, not just hashes */
	desc.uncmp = out->uncmp;
	r = sqfs_block_processor_create_ex(&desc, &out->proc);
	if (r) {
		out->proc = NULL;
		r = sq_fail(out, err, r, "block processor");
		goto fail;
	}
	*outp = out;
	return 0;
fail:
	sqfs_out_free(out);
	return r;
}

/* ---- file data ------------------------------------------------------------- */

int sqfs_out_file_begin(struct sqfs_out *out, struct tree_inode *ino, struct sif_err *err)
{
	int r;

	if (out->cur)
		return sif_err_set(err, EINVAL, "write squashfs: begin file: another file is open");
	if (!S_ISREG(ino->mode) || ino->sq || ino->data_done)
		return sif_err_set(err, EINVAL, "write squashfs: begin file: not a regular file "
		                   "without data");
	/* The processor creates the inode in ino->sq and keeps updating it (it
	 * may reallocate it) until sqfs_block_processor_finish. */
	r = sqfs_block_processor_begin_file(out->proc, &ino->sq, NULL, out->blk_flags);
	if (r)
		return sq_fail(out, err, r, "begin file");
	ino->size = 0;
	out->cur = ino;
	return 0;
}

int sqfs_out_file_append(struct sqfs_out *out, const void *buf, size_t n, struct sif_err *err)
{
	int r;

	if (!out->cur)
		return sif_err_set(err, EINVAL, "write squashfs: append: no file is open");
	if (!n)
		return 0;
	r = sqfs_block_processor_append(out->proc, buf, n);
	if (r)
		return sq_fail(out, err, r, "file data");
	out->cur->size += n;
	out->bytes_in += n;
	return 0;
}

static size_t dd_slot(const struct sqfs_out *out, uint64_t size, const char *digest)
{
	size_t i = 0;

	for (int k = 7; k < 23; k++)   /* the digest's first hex digits */
		i = i * 16 + (size_t)(digest[k] <= '9' ? digest[k] - '0' : digest[k] - 'a' + 10);
	i ^= (size_t)size;
	for (i &= out->capdd - 1;; i = (i + 1) & (out->capdd - 1))
		if (!out->dd[i].ino ||
		    (out->dd[i].size == size && strcmp(out->dd[i].digest, digest) == 0))
			return i;
}

static int dd_grow(struct sqfs_out *out)
{
	size_t cap = out->capdd ? out->capdd * 2 : 1024;
	struct dedup *old = out->dd, *v = calloc(cap, sizeof(*v));
	size_t oldcap = out->capdd;

	if (!v)
		return -ENOMEM;
	out->dd = v;
	out->capdd = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].ino)
			out->dd[dd_slot(out, old[i].size, old[i].digest)] = old[i];
	free(old);
	return 0;
}

int sqfs_out_file_write(struct sqfs_out *out, struct tree_inode *ino, const void *buf,
                        size_t n, struct sif_err *err)
{
	char digest[72];
	size_t i;
	int r;

	if (n == 0) {
		ino->size = 0;
		ino->data_done = true;
		return 0;
	}
	if ((out->ndd + 1) * 2 > out->capdd && dd_grow(out) < 0)
		return sif_err_set(err, ENOMEM, "write squashfs: out of memory");
	if (sif_sha256_buf(buf, n, digest) < 0)
		return sif_err_set(err, ENOMEM, "write squashfs: out of memory");
	i = dd_slot(out, n, digest);
	if (out->dd[i].ino) {
		ino->same_data = out->dd[i].ino;
		ino->same_data->holds++;
		ino->size = n;
		ino->data_done = true;
		out->bytes_in += n;
		return 0;
	}
	if ((r = sqfs_out_file_begin(out, ino, err)) < 0 ||
	    (r = sqfs_out_file_append(out, buf, n, err)) < 0 ||
	    (r = sqfs_out_file_end(out, err)) < 0)
		return r;
	out->dd[i] = (struct dedup){.size = n, .ino = ino};
	memcpy(out->dd[i].digest, digest, sizeof(digest));
	ino->holds++;
	out->ndd++;
	return 0;
}

int sqfs_out_file_end(struct sqfs_out *out, struct sif_err *err)
{
	int r;

	if (!out->cur)
		return sif_err_set(err, EINVAL, "write squashfs: end file: no file is open");
	r = sqfs_block_processor_end_file(out->proc);
	if (r)
		return sq_fail(out, err, r, "end file");
	out->cur->data_done = true;
	out->cur = NULL;
	return 0;
}

uint64_t sqfs_out_bytes_in(const struct sqfs_out *out)
{
	return out->bytes_in;
}

/* ---- inodes and directories ------------------------------------------------ */

/* Pass 1: number the inodes in post-order over name-sorted children, each
 * tree_inode once however many names it has; check what cannot be written. */
static int number_node(struct sqfs_out *out, struct tree_node *n, struct sif_err *err)
{
	struct tree_inode *ino = n->inode;

	switch (ino->mode & S_IFMT) {
	case S_IFDIR: {
		struct tree_node **kids;
		size_t nk;
		int r;

		if (ino->nlink != 1)
			return node_fail(out, err, n, 0, EMLINK, "a directory with more than one name");
		if (tree_sorted_children(n, &kids, &nk) < 0)
			return sif_err_set(err, ENOMEM, "write squashfs: out of memory");
		for (size_t i = 0; i < nk; i++)
			if (kids[i]->inode && (r = number_node(out, kids[i], err)) < 0) {
				free(kids);
				return r;
			}
		free(kids);
		break;
	}
	case S_IFREG:
		if (!ino->data_done && (ino->size || ino->sq))
			return node_fail(out, err, n, 0, EINVAL, "file data was not written");
		break;
	case S_IFCHR:
	case S_IFBLK:
		if (ino->rdev_major > 0xfff || ino->rdev_minor > 0xfffff)
			return node_fail(out, err, n, 0, EOVERFLOW, "device number too large for "
			                 "squashfs (major < 4096, minor < 1048576)");
		break;
	case S_IFLNK:
		if (!ino->target)
			return node_fail(out, err, n, 0, EINVAL, "symbolic link without a target");
		break;
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		return node_fail(out, err, n, 0, EINVAL, "unknown file type");
	}
	if (!ino->ino) {
		if (out->ninodes >= UINT32_MAX - 1)
			return sif_err_set(err, EOVERFLOW, "write squashfs: too many inodes");
		ino->ino = ++out->ninodes;
	}
	return 0;
}

/* The xattr index of INO (NO_XATTR: none); keys outside the user., trusted.
 * and security. namespaces cannot be stored in squashfs and are left out. */
static int xattr_index(struct sqfs_out *out, const struct tree_inode *ino, sqfs_u32 *idx)
{
	const struct tree_xattr *x;
	bool begun = false;
	int r;

	*idx = NO_XATTR;
	for (x = ino->xattrs; x; x = x->next) {
		if (sqfs_get_xattr_prefix_id(x->key) < 0 || !strchr(x->key, '.')[1])
			continue;
		if (!begun && (r = sqfs_xattr_writer_begin(out->xw, 0)))
			return r;
		begun = true;
		if ((r = sqfs_xattr_writer_add(out->xw, x->key, x->value, x->size)))
			return r;
	}
	if (!begun)
		return 0;
	out->xattrs = true;
	return sqfs_xattr_writer_end(out->xw, idx);
}

/* Fields every inode has; the type is already set. */
static int set_base(struct sqfs_out *out, sqfs_inode_generic_t *sq, const struct tree_inode *ino)
{
	int r;

	/* libsquashfs derives the type from base.type; keeping the S_IFMT bits
	 * too, as the type says, suits readers that take the mode as it is. */
	sq->base.mode = (sqfs_u16)(ino->mode & (S_IFMT | 07777));
	sq->base.mod_time = clamp_time(ino->mtime);
	sq->base.inode_number = ino->ino;
	if ((r = sqfs_id_table_id_to_index(out->ids, ino->uid, &sq->base.uid_idx)))
		return r;
	return sqfs_id_table_id_to_index(out->ids, ino->gid, &sq->base.gid_idx);
}

/* Link count and xattr index of a non-directory inode, made extended when a
 * basic one cannot hold them (a basic file inode has no link count). */
static int set_links(sqfs_inode_generic_t *sq, sqfs_u32 nlink, sqfs_u32 xattr)
{
	int r;

	if ((xattr != NO_XATTR || (sq->base.type == SQFS_INODE_FILE && nlink != 1)) &&
	    (r = sqfs_inode_make_extended(sq)))
		return r;
	switch (sq->base.type) {
	case SQFS_INODE_FILE:
		return 0;
	case SQFS_INODE_EXT_FILE:
		sq->data.file_ext.nlink = nlink;
		sq->data.file_ext.xattr_idx = xattr;
		return 0;
	case SQFS_INODE_EXT_SLINK:
		sq->data.slink_ext.xattr_idx = xattr;
		break;
	case SQFS_INODE_EXT_BDEV:
	case SQFS_INODE_EXT_CDEV:
		sq->data.dev_ext.xattr_idx = xattr;
		break;
	case SQFS_INODE_EXT_FIFO:
	case SQFS_INODE_EXT_SOCKET:
		sq->data.ipc_ext.xattr_idx = xattr;
		break;
	}
	/* the other types, basic or extended, all begin with the link count */
	sq->data.ipc.nlink = nlink;
	return 0;
}

static sqfs_inode_generic_t *new_inode(SQFS_INODE_TYPE type, size_t extra)
{
	sqfs_inode_generic_t *sq = calloc(1, sizeof(*sq) + extra);

	if (sq) {
		sq->base.type = (sqfs_u16)type;
		sq->payload_bytes_available = sq->payload_bytes_used = (sqfs_u32)extra;
	}
	return sq;
}

/* Append SQ to the inode table, recording where it went in INO. */
static int put_inode(struct sqfs_out *out, struct tree_inode *ino, const sqfs_inode_generic_t *sq)
{
	sqfs_u64 block;
	sqfs_u32 off;

	sqfs_meta_writer_get_position(out->im, &block, &off);
	ino->ref = (block << 16) | off;
	ino->written = true;
	return sqfs_meta_writer_write_inode(out->im, sq);
}

/* The inode of a non-directory. */
static int write_leaf(struct sqfs_out *out, struct tree_node *n, struct sif_err *err)
{
	struct tree_inode *ino = n->inode;
	sqfs_inode_generic_t *sq = NULL, *mine = NULL;
	sqfs_u32 xattr;
	size_t len;
	int r;

	switch (ino->mode & S_IFMT) {
	case S_IFREG:
		sq = ino->sq;
		if (ino->same_data) {
			/* the same bytes as an earlier file: its blocks, our inode */
			const sqfs_inode_generic_t *o = ino->same_data->sq;
			if (!o || !(sq = mine = malloc(sizeof(*o) + o->payload_bytes_available)))
				goto nomem;
			memcpy(sq, o, sizeof(*o) + o->payload_bytes_used);
			sq->payload_bytes_available = o->payload_bytes_used;
		} else if (!sq) {   /* empty, never streamed */
			if (!(sq = mine = new_inode(SQFS_INODE_FILE, 0)))
				goto nomem;
			sq->data.file.fragment_index = 0xFFFFFFFF;
			sq->data.file.fragment_offset = 0xFFFFFFFF;
		}
		break;
	case S_IFLNK:
		len = strlen(ino->target);
		if (!(sq = mine = new_inode(SQFS_INODE_SLINK, len)))
			goto nomem;
		memcpy(sq->extra, ino->target, len);
		sq->data.slink.target_size = (sqfs_u32)len;
		break;
	case S_IFCHR:
	case S_IFBLK:
		if (!(sq = mine = new_inode(S_ISCHR(ino->mode) ? SQFS_INODE_CDEV : SQFS_INODE_BDEV, 0)))
			goto nomem;
		/* Linux's new_encode_dev(), which the squashfs kernel module decodes */
		sq->data.dev.devno = (ino->rdev_minor & 0xff) | (ino->rdev_major << 8) |
		                     ((ino->rdev_minor & ~0xffu) << 12);
		break;
	default:   /* fifo or socket (number_node let nothing else through) */
		if (!(sq = mine = new_inode(S_ISFIFO(ino->mode) ? SQFS_INODE_FIFO
		                                                : SQFS_INODE_SOCKET, 0)))
			goto nomem;
		break;
	}
	if ((r = set_base(out, sq, ino)) || (r = xattr_index(out, ino, &xattr)) ||
	    (r = set_links(sq, ino->nlink ? ino->nlink : 1, xattr)) ||
	    (r = put_inode(out, ino, sq))) {
		free(mine);
		return node_fail(out, err, n, r, 0, NULL);
	}
	free(mine);
	return 0;
nomem:
	return sif_err_set(err, ENOMEM, "write squashfs: out of memory");
}

static int write_node(struct sqfs_out *out, struct tree_node *n, sqfs_u32 parent,
                      struct sif_err *err);

/* Pass 2 for a directory: its children's inodes, then its listing and inode. */
static int write_dir(struct sqfs_out *out, struct tree_node *n, sqfs_u32 parent,
                     struct sif_err *err)
{
	struct tree_inode *ino = n->inode;
	struct tree_node **kids;
	sqfs_inode_generic_t *sq = NULL;
	size_t nk, subdirs = 0;
	sqfs_u32 xattr;
	int r = 0;

	if (tree_sorted_children(n, &kids, &nk) < 0)
		return sif_err_set(err, ENOMEM, "write squashfs: out of memory");
	for (size_t i = 0; i < nk; i++) {
		if (!kids[i]->inode)   /* whiteout placeholder */
			continue;
		if ((r = write_node(out, kids[i], ino->ino, err)) < 0)
			goto out;
		subdirs += S_ISDIR(kids[i]->inode->mode);
	}
	/* Entries in name order; the dir writer adds headers (and the index of
	 * an extended directory inode) as squashfs needs them. */
	if ((r = sqfs_dir_writer_begin(out->dw, 0)))
		goto fail;
	for (size_t i = 0; i < nk; i++) {
		const struct tree_inode *c = kids[i]->inode;
		if (c && (r = sqfs_dir_writer_add_entry(out->dw, kids[i]->name, c->ino, c->ref,
		                                        (sqfs_u16)c->mode)))
			goto fail;
	}
	if ((r = sqfs_dir_writer_end(out->dw)) || (r = xattr_index(out, ino, &xattr)))
		goto fail;
	sq = sqfs_dir_writer_create_inode(out->dw, 0, xattr, parent);
	if (!sq) {
		r = SQFS_ERROR_ALLOC;
		goto fail;
	}
	/* Its name, its "." and each subdirectory's "..".  (libsquashfs 1.2
	 * counts every entry, files too: set it here.) */
	if (sq->base.type == SQFS_INODE_EXT_DIR)
		sq->data.dir_ext.nlink = (sqfs_u32)(2 + subdirs);
	else
		sq->data.dir.nlink = (sqfs_u32)(2 + subdirs);
	if ((r = set_base(out, sq, ino)) || (r = put_inode(out, ino, sq)))
		goto fail;
	goto out;
fail:
	r = node_fail(out, err, n, r, 0, NULL);
out:
	sqfs_free(sq);
	free(kids);
	return r;
}

/* Pass 2: write N's inode (and beneath it) unless another name did. */
static int write_node(struct sqfs_out *out, struct tree_node *n, sqfs_u32 parent,
                      struct sif_err *err)
{
	if (n->inode->written)
		return 0;
	return S_ISDIR(n->inode->mode) ? write_dir(out, n, parent, err) : write_leaf(out, n, err);
}

/* ---- the end --------------------------------------------------------------- */

int sqfs_out_finish(struct sqfs_out *out, struct tree *t, uint64_t *size, struct sif_err *err)
{
	static const unsigned char zero[4096];
	sqfs_super_t *s = &out->super;
	struct fd_file *f = out->file;
	uint64_t end;
	int r;

	*size = 0;
	if (out->cur)
		return sif_err_set(err, EINVAL, "write squashfs: a file is still open");
	if (!t->root || !t->root->inode || !S_ISDIR(t->root->inode->mode))
		return sif_err_set(err, EINVAL, "write squashfs: the root is not a directory");
	/* every data and fragment block on disk, every file inode final */
	if ((r = sqfs_block_processor_finish(out->proc)))
		return sq_fail(out, err, r, "file data");
	out->drained = true;

	out->im = sqfs_meta_writer_create(&f->obj, out->cmp, 0);
	out->dm = sqfs_meta_writer_create(&f->obj, out->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
	out->dw = out->dm ? sqfs_dir_writer_create(out->dm, 0) : NULL;
	if (!out->im || !out->dw)
		return sif_err_set(err, ENOMEM, "write squashfs: out of memory");

	out->ninodes = 0;
	if ((r = number_node(out, t->root, err)) < 0)
		return r;
	s->inode_table_start = f->size;
	/* the root's parent: one past the last inode, as mksquashfs does */
	if ((r = write_node(out, t->root, out->ninodes + 1, err)) < 0)
		return r;
	if ((r = sqfs_meta_writer_flush(out->im)))
		return sq_fail(out, err, r, "inode table");
	s->directory_table_start = f->size;
	if ((r = sqfs_meta_writer_flush(out->dm)) || (r = sqfs_meta_write_write_to_file(out->dm)))
		return sq_fail(out, err, r, "directory table");
	if ((r = sqfs_frag_table_write(out->frag, &f->obj, s, out->cmp)))
		return sq_fail(out, err, r, "fragment table");
	if ((r = sqfs_id_table_write(out->ids, &f->obj, s, out->cmp)))
		return sq_fail(out, err, r, "id table");
	if (out->xattrs) {
		if ((r = sqfs_xattr_writer_flush(out->xw, &f->obj, s, out->cmp)))
			return sq_fail(out, err, r, "xattr table");
		s->flags &= (sqfs_u16)~SQFS_FLAG_NO_XATTRS;
	} else {
		s->xattr_id_table_start = 0xFFFFFFFFFFFFFFFFull;
		s->flags |= SQFS_FLAG_NO_XATTRS;
	}
	s->inode_count = out->ninodes;
	s->root_inode_ref = t->root->inode->ref;
	s->bytes_used = f->size;
	if ((r = sqfs_super_write(s, &f->obj)))
		return sq_fail(out, err, r, "superblock");

	/* zeros up to the next 4 KiB, as the size of a loop device must be */
	end = (s->bytes_used + 4095) & ~(uint64_t)4095;
	if (end > f->size && (r = fd_write_at(&f->obj, f->size, zero, (size_t)(end - f->size))))
		return sq_fail(out, err, r, "padding");
	*size = end;
	return 0;
}

void sqfs_out_free(struct sqfs_out *out)
{
	if (!out)
		return;
	/* libsquashfs 1.2 leaks the blocks still in flight when a block
	 * processor is destroyed: after a failure, let them land first (the
	 * output is abandoned anyway).  They update their files' inodes, so
	 * the writer must be freed before the tree. */
	if (out->proc && !out->drained) {
		if (out->cur)
			sqfs_block_processor_end_file(out->proc);
		sqfs_block_processor_sync(out->proc);
	}
	for (size_t i = 0; i < out->capdd; i++)
		if (out->dd[i].ino)
			tree_inode_unhold(out->dd[i].ino);
	free(out->dd);
	/* users first, then what they use */
	sqfs_destroy(out->dw);
	sqfs_destroy(out->dm);
	sqfs_destroy(out->im);
	sqfs_destroy(out->xw);
	sqfs_destroy(out->ids);
	sqfs_destroy(out->proc);
	sqfs_destroy(out->frag);
	sqfs_destroy(out->bw);
	sqfs_destroy(out->uncmp);
	sqfs_destroy(out->cmp);
	if (out->file)
		sqfs_destroy(&out->file->obj);
	free(out);
}
