/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Applying image layers to the in-memory tree, top layer first.
 *
 * Reading: the blob (a byte range of an open file) is decompressed by one
 * libarchive reader (raw format; gzip, zstd or none), whose output -- the
 * layer's tar stream -- feeds a second reader (tar only).  Both streams are
 * hashed on the way: the blob against its descriptor's digest, the tar
 * against the config's diff_id.
 *
 * The rules, for an entry of layer L at path P (layers above L are already
 * in the tree):
 *  - an ancestor of P that a higher layer deleted (whiteout), made a
 *    non-directory, or made opaque hides the entry;
 *  - so does P itself when a higher layer defined or deleted it, except
 *    that a directory a higher layer only needed as a parent takes its
 *    metadata from the highest layer that has it;
 *  - a whiteout .wh.NAME hides NAME in layers below L (not in L itself);
 *    .wh..wh..opq hides the directory's children in layers below L;
 *  - within one layer a later entry replaces an earlier one (tar order);
 *  - a higher layer that wrote beneath P while P is a symlink or a file in
 *    this layer is refused: applied in order, that write would have gone
 *    through the symlink (CVE-2021-29136); so is an entry beneath a
 *    non-directory of its own layer;
 *  - names with ".." or a leading "/" and whiteouts of "." or ".." are
 *    refused; hard links must name an earlier entry of the same layer.
 * Every kept file is final: its data goes straight to the squashfs writer.
 * A kept hard link whose target a higher layer replaced owes its data to
 * a second read of that layer (layer_finish).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "digest.h"
#include "layer.h"

#define OBUF_SIZE (1u << 20)
#define IBUF_SIZE (1u << 20)
#define MAX_NAME 256            /* squashfs directory entry names */
#define MAX_PATH 4096
#define XATTR_VALUE_MAX 65536
#define WHOLE_MAX (16 << 20)            /* files up to this are read whole */
#define XATTR_TOTAL_MAX (256u << 20)

/* ---- the two-stage stream ------------------------------------------------ */

struct lstream {
	const struct img_layer *l;
	int32_t idx;
	int fd;                         /* the blob's file */
	uint64_t avail;                 /* blob bytes in it (l->len unless still arriving) */
	struct archive *raw, *tar;
	uint64_t pos;                   /* blob bytes read */
	int kind;                       /* IMG_COMP_NONE, _GZIP or _ZSTD: what the bytes are */
	bool raw_eof;                   /* the decompressed stream ended */
	z_stream z;                     /* gzip: zlib checks each member's CRC and length */
	bool z_init;
	const unsigned char *zin;       /* unread blob bytes in obuf */
	size_t zin_len;
	uint64_t tar_bytes;
	struct sif_sha256 blob_h, tar_h;
	bool blob_hashing, tar_hashing;
	unsigned char *obuf, *ibuf;
	char why[512];                  /* first failure of the outer reader */
	void (*progress)(void *, uint64_t);
	void *pctx;
};

/* Wait until the blob's first NEED bytes can be read (l->wait); sets
 * s->avail and s->fd.  Returns 0, or -errno with s->why set. */
static int64_t lstream_wait(struct lstream *s, uint64_t need)
{
	int64_t have;
	int fd = -1;

	if (!s->l->wait) {
		s->avail = s->l->len;
		s->fd = s->l->fd;
		return 0;
	}
	if (need > s->l->len)
		need = s->l->len;
	have = s->l->wait(s->l->wait_ctx, need, &fd);
	if (have < 0 || (uint64_t)have < need || fd < 0) {
		int e = have < 0 ? (int)-have : EIO;
		snprintf(s->why, sizeof(s->why), "download failed (%s)", strerror(e));
		return -e;
	}
	s->fd = fd;
	s->avail = (uint64_t)have < s->l->len ? (uint64_t)have : s->l->len;
	return 0;
}

static la_ssize_t outer_read(struct archive *a, void *ud, const void **buf)
{
	struct lstream *s = ud;
	uint64_t left = s->l->len - s->pos;
	size_t want = left < OBUF_SIZE ? (size_t)left : OBUF_SIZE;
	ssize_t n;

	if (want == 0)
		return 0;
	if (s->pos + want > s->avail) {
		/* a blob still downloading: wait for what there is, a good chunk
		 * when more is coming */
		uint64_t need = s->pos + (want < (256u << 10) ? want : (256u << 10));
		int64_t have;
		if ((have = lstream_wait(s, need)) < 0) {
			archive_set_error(a, (int)-have, "%s", s->why);
			return ARCHIVE_FATAL;
		}
		if (s->pos + want > s->avail)
			want = (size_t)(s->avail - s->pos);
	}
	do
		n = pread(s->fd, s->obuf, want, (off_t)(s->l->off + s->pos));
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		int e = n < 0 ? errno : EIO;
		snprintf(s->why, sizeof(s->why), "%s", n < 0 ? strerror(errno)
		         : "the blob is shorter than its size");
		archive_set_error(a, e, "%s", s->why);
		return ARCHIVE_FATAL;
	}
	if (s->blob_hashing)
		sif_sha256_update(&s->blob_h, s->obuf, (size_t)n);
	s->pos += (uint64_t)n;
	if (s->progress)
		s->progress(s->pctx, (uint64_t)n);
	*buf = s->obuf;
	return n;
}

/* gzip, with zlib rather than libarchive's filter: zlib checks every
 * member's CRC-32 and length, as Go's and Python's readers do.  Members may
 * follow one another (pigz, concatenated streams). */
static la_ssize_t gunzip_read(struct lstream *s)
{
	s->z.next_out = s->ibuf;
	s->z.avail_out = IBUF_SIZE;
	while (s->z.avail_out == IBUF_SIZE && !s->raw_eof) {
		int zr;
		if (!s->zin_len) {
			const void *b;
			la_ssize_t n = outer_read(s->tar, s, &b);
			if (n < 0)
				return -1;
			if (n == 0) {
				snprintf(s->why, sizeof(s->why), "truncated gzip input");
				return -1;
			}
			s->zin = b;
			s->zin_len = (size_t)n;
		}
		s->z.next_in = (unsigned char *)s->zin;
		s->z.avail_in = (uInt)s->zin_len;
		zr = inflate(&s->z, Z_NO_FLUSH);
		s->zin = s->z.next_in;
		s->zin_len = s->z.avail_in;
		if (zr == Z_STREAM_END) {
			/* another member, or the end of the blob (trailing zero
			 * bytes some writers pad with are tolerated) */
			while (s->zin_len && *s->zin == 0) {
				s->zin++;
				s->zin_len--;
			}
			if (!s->zin_len && s->pos == s->l->len)
				s->raw_eof = true;
			else if (inflateReset(&s->z) != Z_OK)
				zr = Z_STREAM_ERROR;
			else
				continue;
		} else if (zr == Z_BUF_ERROR && s->z.avail_in == 0) {
			continue;   /* wants more input */
		}
		if (zr != Z_OK && zr != Z_STREAM_END) {
			snprintf(s->why, sizeof(s->why), "gzip data is corrupt (%s)",
			         s->z.msg ? s->z.msg : "inflate failed");
			return -1;
		}
	}
	return (la_ssize_t)(IBUF_SIZE - s->z.avail_out);
}

static la_ssize_t inner_read(struct archive *a, void *ud, const void **buf)
{
	struct lstream *s = ud;
	la_ssize_t n;

	if (s->kind == IMG_COMP_NONE) {
		n = outer_read(a, s, buf);
		if (n > 0) {
			if (s->tar_hashing)
				sif_sha256_update(&s->tar_h, *buf, (size_t)n);
			s->tar_bytes += (uint64_t)n;
		}
		return n;
	}
	if (s->kind == IMG_COMP_GZIP)
		n = s->raw_eof ? 0 : gunzip_read(s);
	else
		n = s->raw_eof ? 0 : archive_read_data(s->raw, s->ibuf, IBUF_SIZE);
	if (n < 0) {
		if (!s->why[0])
			snprintf(s->why, sizeof(s->why), "%s", s->raw && archive_error_string(s->raw) ?
			         archive_error_string(s->raw) : "decompression failed");
		archive_set_error(a, EIO, "%s", s->why);
		return ARCHIVE_FATAL;
	}
	if (n == 0)
		s->raw_eof = true;
	if (s->tar_hashing)
		sif_sha256_update(&s->tar_h, s->ibuf, (size_t)n);
	s->tar_bytes += (uint64_t)n;
	*buf = s->ibuf;
	return n;
}

static void lstream_close(struct lstream *s)
{
	if (s->tar)
		archive_read_free(s->tar);
	if (s->raw)
		archive_read_free(s->raw);
	if (s->z_init)
		inflateEnd(&s->z);
	if (s->blob_hashing)
		sif_sha256_free(&s->blob_h);
	if (s->tar_hashing)
		sif_sha256_free(&s->tar_h);
	free(s->obuf);
	free(s->ibuf);
	memset(s, 0, sizeof(*s));
}

static int lstream_fail(struct lstream *s, struct archive *a, int errnum, struct sif_err *err)
{
	const char *why = s->why[0] ? s->why : archive_error_string(a);

	return sif_err_set(err, errnum ? errnum : SIF_EFORMAT, "layer %d: %s", (int)s->idx + 1,
	                   why ? why : "unreadable");
}

static int lstream_open(struct lstream *s, const struct img_layer *l, int32_t idx, bool verify,
                        struct sif_err *err)
{
	struct archive_entry *e;
	int r;

	memset(s, 0, sizeof(*s));
	s->l = l;
	s->idx = idx;
	s->obuf = malloc(OBUF_SIZE);
	s->ibuf = malloc(IBUF_SIZE);
	s->tar = archive_read_new();
	if (!s->obuf || !s->ibuf || !s->tar)
		goto nomem;
	if (verify && l->digest[0]) {
		if (sif_sha256_init(&s->blob_h) < 0)
			goto nomem;
		s->blob_hashing = true;
	}
	if (verify && l->diff_id[0]) {
		if (sif_sha256_init(&s->tar_h) < 0)
			goto nomem;
		s->tar_hashing = true;
	}
	/* what the bytes are: gzip, zstd or a plain tar */
	{
		unsigned char m[4] = {0};
		ssize_t n;
		if (lstream_wait(s, 4) < 0)
			return sif_err_set(err, EIO, "layer %d: %s", (int)idx + 1, s->why);
		n = l->len >= 4 ? pread(s->fd, m, 4, (off_t)l->off) : 0;
		if (n < 0)
			return sif_err_set(err, errno, "layer %d: %s", (int)idx + 1, strerror(errno));
		s->kind = m[0] == 0x1f && m[1] == 0x8b ? IMG_COMP_GZIP
		        : memcmp(m, "\x28\xb5\x2f\xfd", 4) == 0 ? IMG_COMP_ZSTD : IMG_COMP_NONE;
	}
	/* the media type, where the source has one, must say what the bytes are */
	if (l->comp != IMG_COMP_DETECT && (int)l->comp != s->kind) {
		static const char *const names[] = {
			[IMG_COMP_NONE] = "an uncompressed tar", [IMG_COMP_GZIP] = "gzip",
			[IMG_COMP_ZSTD] = "zstd"};
		return sif_err_set(err, SIF_EFORMAT, "layer %d: its media type says %s, but the blob "
		                   "is %s", (int)idx + 1, names[l->comp],
		                   s->kind == IMG_COMP_NONE ? "not compressed" : names[s->kind]);
	}
	if (s->kind == IMG_COMP_GZIP) {
		if (inflateInit2(&s->z, 15 + 16) != Z_OK)
			goto nomem;
		s->z_init = true;
	} else if (s->kind == IMG_COMP_ZSTD) {
		/* zstd through libarchive's filter, which checks frame checksums */
		s->raw = archive_read_new();
		if (!s->raw)
			goto nomem;
		archive_read_support_filter_zstd(s->raw);
		archive_read_support_format_raw(s->raw);
		if (archive_read_open(s->raw, s, NULL, outer_read, NULL) != ARCHIVE_OK)
			return lstream_fail(s, s->raw, 0, err);
		r = archive_read_next_header(s->raw, &e);
		if (r == ARCHIVE_EOF)
			s->raw_eof = true;
		else if (r != ARCHIVE_OK)
			return lstream_fail(s, s->raw, 0, err);
	}
	/* inner: the layer's tar stream */
	archive_read_support_format_tar(s->tar);
	archive_read_support_format_empty(s->tar);
	if (archive_read_open(s->tar, s, NULL, inner_read, NULL) != ARCHIVE_OK)
		return lstream_fail(s, s->tar, 0, err);
	return 0;
nomem:
	return sif_err_set(err, ENOMEM, "layer %d: out of memory", (int)idx + 1);
}

/* Read what the tar reader left (end blocks, padding) and check both
 * digests. */
static int lstream_verify(struct lstream *s, struct layer_stats *st, struct sif_err *err)
{
	char got[72];
	la_ssize_t n;

	do {
		const void *b;
		n = inner_read(s->tar, s, &b);
	} while (n > 0);
	if (n < 0)
		return lstream_fail(s, s->tar, 0, err);
	/* bytes after the end of a compressed stream still count */
	if (s->kind == IMG_COMP_GZIP && s->zin_len)
		return sif_err_set(err, SIF_EFORMAT, "layer %d: data after the end of the gzip "
		                   "stream", (int)s->idx + 1);
	while (s->pos < s->l->len) {
		const void *b;
		if (outer_read(s->tar, s, &b) < 0)
			return lstream_fail(s, s->tar, 0, err);
	}
	if (st) {
		st->blob_bytes += s->pos;
		st->tar_bytes += s->tar_bytes;
	}
	if (s->blob_hashing) {
		s->blob_hashing = false;
		sif_sha256_final(&s->blob_h, got);
		if (strcmp(got, s->l->digest) != 0)
			return sif_err_set(err, SIF_EFORMAT, "layer %d: digest mismatch: the blob is "
			                   "%.19s..., its descriptor says %.19s...", (int)s->idx + 1, got,
			                   s->l->digest);
	}
	if (s->tar_hashing) {
		s->tar_hashing = false;
		sif_sha256_final(&s->tar_h, got);
		if (strcmp(got, s->l->diff_id) != 0)
			return sif_err_set(err, SIF_EFORMAT, "layer %d: digest mismatch: the uncompressed "
			                   "layer is %.19s..., the config's diff_id says %.19s...",
			                   (int)s->idx + 1, got, s->l->diff_id);
	}
	return 0;
}

/* ---- paths ------------------------------------------------------------- */

/* Normalize an entry name in place: drop "./" and empty components and a
 * trailing "/"; refuse ".." and absolute names.  "" is the root. */
static int normalize(char *p, const char *what, int32_t idx, struct sif_err *err)
{
	char *in = p, *out = p;

	if (*p == '/')
		return sif_err_set(err, SIF_EFORMAT, "layer %d: %s \"%.200s\" is an absolute name",
		                   (int)idx + 1, what, p);
	while (*in) {
		char *c = in;
		size_t n;
		while (*in && *in != '/')
			in++;
		n = (size_t)(in - c);
		if (*in)
			in++;
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return sif_err_set(err, SIF_EFORMAT, "layer %d: %s \"%.200s\" has a \"..\" component",
			                   (int)idx + 1, what, p);
		if (n >= MAX_NAME)
			return sif_err_set(err, SIF_EFORMAT, "layer %d: a name in \"%.200s\" is longer than "
			                   "%d bytes", (int)idx + 1, p, MAX_NAME - 1);
		if (out != p)
			*out++ = '/';
		memmove(out, c, n);
		out += n;
	}
	*out = '\0';
	return 0;
}

/* ---- hard-link map: the non-directories of the layer being read --------- */

struct lrec {
	char *path;
	struct tree_inode *ino;          /* held */
	uint64_t ordinal;                /* entry number in the layer */
};

struct lmap {
	struct lrec *slots;
	size_t nslots, n;
};

static size_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)h;
}

static struct lrec *lmap_find(struct lmap *m, const char *path)
{
	if (!m->nslots)
		return NULL;
	for (size_t i = str_hash(path) & (m->nslots - 1);; i = (i + 1) & (m->nslots - 1)) {
		if (!m->slots[i].path)
			return NULL;
		if (strcmp(m->slots[i].path, path) == 0)
			return &m->slots[i];
	}
}

static int lmap_put(struct lmap *m, const char *path, struct tree_inode *ino, uint64_t ordinal)
{
	struct lrec *r = lmap_find(m, path);

	if (!r) {
		if ((m->n + 1) * 4 > m->nslots * 3) {
			size_t n = m->nslots ? m->nslots * 2 : 256;
			struct lrec *s = calloc(n, sizeof(*s));
			if (!s)
				return -ENOMEM;
			for (size_t i = 0; i < m->nslots; i++) {
				size_t j;
				if (!m->slots[i].path)
					continue;
				for (j = str_hash(m->slots[i].path) & (n - 1); s[j].path; j = (j + 1) & (n - 1))
					;
				s[j] = m->slots[i];
			}
			free(m->slots);
			m->slots = s;
			m->nslots = n;
		}
		size_t j;
		for (j = str_hash(path) & (m->nslots - 1); m->slots[j].path; j = (j + 1) & (m->nslots - 1))
			;
		r = &m->slots[j];
		r->path = strdup(path);
		if (!r->path)
			return -ENOMEM;
		m->n++;
	} else {
		tree_inode_unhold(r->ino);
	}
	r->ino = ino;
	r->ordinal = ordinal;
	ino->holds++;
	return 0;
}

static void lmap_free(struct lmap *m)
{
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].path) {
			free(m->slots[i].path);
			tree_inode_unhold(m->slots[i].ino);
		}
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* ---- hard links owed data (layer_finish) -------------------------------- */

struct owed {
	int32_t layer;
	uint64_t ordinal;
	int64_t size;                    /* what the first read saw */
	struct tree_inode *ino;          /* held */
};

struct apply {
	struct tree *t;
	struct sqfs_out *out;
	int32_t idx;
	struct lmap map;
	struct lstream s;
	char path[MAX_PATH], target[MAX_PATH];
	unsigned char zeros[65536];
	unsigned char *whole;            /* a file read whole (dedup) */
	size_t wholecap;
	struct layer_stats *st;
};

/* owed data, across layers: kept in the tree's user area */
static struct owed *owed_v;
static size_t owed_n;

/* ---- applying entries ---------------------------------------------------- */


static uint32_t entry_type(struct archive_entry *e)
{
	return archive_entry_filetype(e) & S_IFMT;
}

/* Fill INO's metadata from entry E. */
static int set_meta(struct apply *a, struct tree_inode *ino, struct archive_entry *e)
{
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	const char *name;
	const void *val;
	size_t size;

	if (uid < 0 || uid > UINT32_MAX - 1 || gid < 0 || gid > UINT32_MAX - 1)
		return -ERANGE;
	ino->mode = (ino->mode & S_IFMT) | ((uint32_t)archive_entry_perm(e) & 07777);
	ino->uid = (uint32_t)uid;
	ino->gid = (uint32_t)gid;
	ino->mtime = archive_entry_mtime(e);
	/* extended attributes squashfs can hold */
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK) {
		if (strncmp(name, "user.", 5) != 0 && strncmp(name, "trusted.", 8) != 0 &&
		    strncmp(name, "security.", 9) != 0)
			continue;
		/* Linux holds at most 64 KiB per value; all of them stay in
		 * memory until the end, so the image's total is bounded too */
		if (size > XATTR_VALUE_MAX || a->t->bytes + size > XATTR_TOTAL_MAX)
			return -E2BIG;
		if (tree_xattr_set(ino, name, val, size) < 0)
			return -ENOMEM;
		a->t->bytes += size;
	}
	return 0;
}

static int meta_fail(struct apply *a, int r, struct sif_err *err)
{
	if (r == -ERANGE)
		return sif_err_set(err, SIF_EFORMAT, "layer %d: \"%s\": owner out of range",
		                   (int)a->idx + 1, a->path);
	if (r == -E2BIG)
		return sif_err_set(err, SIF_EFORMAT, "layer %d: \"%s\": extended attributes larger "
		                   "than Linux allows, or too many of them", (int)a->idx + 1, a->path);
	return sif_err_set(err, ENOMEM, "out of memory");
}

/* The target of the symbolic link E, checked. */
static int link_target(struct apply *a, struct archive_entry *e, char **out, struct sif_err *err)
{
	const char *t = archive_entry_symlink(e);

	if (!t || !*t)
		return sif_err_set(err, SIF_EFORMAT, "layer %d: symbolic link \"%s\" has no target",
		                   (int)a->idx + 1, a->path);
	if (strlen(t) >= MAX_PATH)
		return sif_err_set(err, SIF_EFORMAT, "layer %d: symbolic link \"%s\": target too "
		                   "long", (int)a->idx + 1, a->path);
	free(*out);
	*out = strdup(t);   /* stored verbatim, never followed */
	return *out ? 0 : sif_err_set(err, ENOMEM, "out of memory");
}

/* Stream the data of the current entry of A's tar into INO. */
static int write_data(struct apply *a, struct tree_inode *ino, struct archive_entry *e,
                      struct sif_err *err)
{
	la_int64_t size = archive_entry_size(e), pos = 0, off;
	const void *buf;
	size_t n;
	int r;

	if (!archive_entry_size_is_set(e) || size <= 0) {
		ino->size = 0;
		ino->data_done = true;
		return 0;
	}
	if (size <= WHOLE_MAX) {
		/* read whole: a file seen before is not compressed again */
		la_ssize_t got;
		if ((size_t)size > a->wholecap) {
			size_t cap = a->wholecap ? a->wholecap : 65536;
			while (cap < (size_t)size)
				cap *= 2;
			unsigned char *nb = realloc(a->whole, cap);
			if (!nb)
				return sif_err_set(err, ENOMEM, "out of memory");
			a->whole = nb;
			a->wholecap = cap;
		}
		while (pos < size) {
			got = archive_read_data(a->s.tar, a->whole + pos, (size_t)(size - pos));
			if (got < 0)
				return lstream_fail(&a->s, a->s.tar, 0, err);
			if (got == 0)
				return sif_err_set(err, SIF_EFORMAT, "layer %d: \"%s\": data ends before "
				                   "the file's size", (int)a->idx + 1, a->path);
			pos += got;
		}
		return sqfs_out_file_write(a->out, ino, a->whole, (size_t)size, err);
	}
	r = sqfs_out_file_begin(a->out, ino, err);
	if (r < 0)
		return r;
	for (;;) {
		r = archive_read_data_block(a->s.tar, &buf, &n, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return lstream_fail(&a->s, a->s.tar, 0, err);
		if (off < pos || off > size || (la_int64_t)n > size - off)
			return sif_err_set(err, SIF_EFORMAT, "layer %d: %s: data outside the file's size",
			                   (int)a->idx + 1, a->path);
		while (pos < off) {   /* a hole of a sparse file */
			size_t z = off - pos < (la_int64_t)sizeof(a->zeros) ? (size_t)(off - pos)
			                                                      : sizeof(a->zeros);
			if ((r = sqfs_out_file_append(a->out, a->zeros, z, err)) < 0)
				return r;
			pos += (la_int64_t)z;
		}
		if (n && (r = sqfs_out_file_append(a->out, buf, n, err)) < 0)
			return r;
		pos += (la_int64_t)n;
	}
	while (pos < size) {          /* a hole at the end */
		size_t z = size - pos < (la_int64_t)sizeof(a->zeros) ? (size_t)(size - pos)
		                                                       : sizeof(a->zeros);
		if ((r = sqfs_out_file_append(a->out, a->zeros, z, err)) < 0)
			return r;
		pos += (la_int64_t)z;
	}
	return sqfs_out_file_end(a->out, err);
}

enum walk { KEPT, HIDDEN };

/* Walk to the parent directory of A->path, creating what is missing.  For
 * a whiteout (PLACEHOLDER) missing parents are placeholders, not
 * directories: deleting beneath a path that does not exist creates
 * nothing.  *LAST points at the last component. */
static int walk_parents(struct apply *a, bool placeholder, struct tree_node **dirp,
                        char **last, struct sif_err *err)
{
	struct tree_node *dir = a->t->root;
	char *p = a->path, *slash;

	if (dir->opaque_below > a->idx)
		return HIDDEN;   /* a higher layer made the root opaque */
	while ((slash = strchr(p, '/'))) {
		struct tree_node *c;
		*slash = '\0';
		c = tree_child(dir, p);
		if (c) {
			if (c->hide_below > a->idx)
				goto hidden;
			if (c->inode && !S_ISDIR(c->inode->mode)) {
				if (c->layer > a->idx)
					goto hidden;
				/* a whiteout beneath a file of its own layer deletes
				 * nothing (umoci writes those); beneath a symbolic link
				 * it would delete through it */
				if (placeholder && !S_ISLNK(c->inode->mode))
					goto hidden;
				*slash = '/';
				return sif_err_set(err, SIF_EFORMAT, "layer %d: \"%s\" is written through "
				                   "\"%.*s\", which the same layer makes a %s", (int)a->idx + 1,
				                   a->path, (int)(slash - a->path), a->path,
				                   S_ISLNK(c->inode->mode) ? "symbolic link" : "non-directory");
			}
			if (c->opaque_below > a->idx)
				goto hidden;
			if (!c->inode && !placeholder) {
				c->inode = tree_inode_new(S_IFDIR | 0755);
				if (!c->inode)
					goto nomem;
				c->implicit = true;
				c->layer = a->idx;
				a->t->ninodes++;
			}
		} else {
			c = tree_add_child(a->t, dir, p);
			if (!c)
				goto nomem;
			if (!placeholder) {
				c->inode = tree_inode_new(S_IFDIR | 0755);
				if (!c->inode)
					goto nomem;
				c->implicit = true;
				a->t->ninodes++;
			}
			c->layer = a->idx;
		}
		*slash = '/';
		dir = c;
		p = slash + 1;
	}
	*dirp = dir;
	*last = p;
	return KEPT;
hidden:
	*slash = '/';
	return HIDDEN;
nomem:
	*slash = '/';
	return sif_err_set(err, ENOMEM, "out of memory");
}

static int apply_whiteout(struct apply *a, struct tree_node *dir, const char *name,
                          struct sif_err *err)
{
	struct tree_node *c;

	if (strcmp(name, ".wh..opq") == 0) {   /* ".wh." + ".wh..opq" */
		if (dir->opaque_below < a->idx)
			dir->opaque_below = a->idx;
		return 0;
	}
	if (strncmp(name, ".wh.", 4) == 0)
		return 0;   /* other AUFS metadata (.wh..wh.plnk, ...): nothing to apply */
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return sif_err_set(err, SIF_EFORMAT, "layer %d: whiteout \"%s\" names no file",
		                   (int)a->idx + 1, a->path);
	c = tree_child(dir, name);
	if (!c) {
		c = tree_add_child(a->t, dir, name);
		if (!c)
			return sif_err_set(err, ENOMEM, "out of memory");
		c->layer = a->idx;
	}
	if (c->hide_below < a->idx)
		c->hide_below = a->idx;
	return 0;
}

/* Make node C the entry E of this layer (C is new, a placeholder, or an
 * earlier entry of the same layer being replaced). */
static int define(struct apply *a, struct tree_node *c, struct archive_entry *e,
                  struct tree_inode *link, struct sif_err *err)
{
	uint32_t type = entry_type(e);
	struct tree_inode *ino;
	int r;

	if (link) {
		if (c->inode)
			tree_inode_put(c->inode);
		else
			a->t->ninodes++;
		c->inode = link;
		link->nlink++;
		c->layer = a->idx;
		c->implicit = false;
		tree_remove_children(a->t, c);
		return 0;
	}
	if (type == S_IFDIR && c->inode && S_ISDIR(c->inode->mode)) {
		ino = c->inode;   /* keep its children */
	} else {
		ino = tree_inode_new(type);
		if (!ino)
			return sif_err_set(err, ENOMEM, "out of memory");
		if (c->inode)
			tree_inode_put(c->inode);
		else
			a->t->ninodes++;
		c->inode = ino;
		if (type != S_IFDIR)
			tree_remove_children(a->t, c);
	}
	c->layer = a->idx;
	c->implicit = false;
	if ((r = set_meta(a, ino, e)) < 0)
		return meta_fail(a, r, err);
	switch (type) {
	case S_IFLNK:
		if ((r = link_target(a, e, &ino->target, err)) < 0)
			return r;
		break;
	case S_IFCHR:
	case S_IFBLK:
		ino->rdev_major = (uint32_t)archive_entry_rdevmajor(e);
		ino->rdev_minor = (uint32_t)archive_entry_rdevminor(e);
		break;
	case S_IFREG:
		r = write_data(a, ino, e, err);
		if (r < 0)
			return r;
		break;
	}
	return 0;
}

static int apply_entry(struct apply *a, struct archive_entry *e, uint64_t ordinal,
                       struct sif_err *err)
{
	const char *name = archive_entry_pathname(e), *hl = archive_entry_hardlink(e);
	uint32_t type = entry_type(e);
	struct tree_inode *link = NULL, *detached = NULL;
	struct tree_node *dir, *c;
	char *last;
	int r;

	if (!name)
		return sif_err_set(err, SIF_EFORMAT, "layer %d: an entry has no name", (int)a->idx + 1);
	if (strlen(name) >= sizeof(a->path))
		return sif_err_set(err, SIF_EFORMAT, "layer %d: a name is longer than %d bytes",
		                   (int)a->idx + 1, MAX_PATH - 1);
	strcpy(a->path, name);
	if ((r = normalize(a->path, "entry", a->idx, err)) < 0)
		return r;
	/* the OCI spec says layers should not hold sparse files, and holes
	 * would let a few bytes claim terabytes of zeros */
	if (archive_entry_sparse_count(e) > 0)
		return sif_err_set(err, SIF_EFORMAT, "layer %d: \"%s\" is a sparse file, which image "
		                   "layers must not hold", (int)a->idx + 1, a->path);

	if (hl) {
		struct lrec *rec;
		if (strlen(hl) >= sizeof(a->target))
			return sif_err_set(err, SIF_EFORMAT, "layer %d: hard link target too long",
			                   (int)a->idx + 1);
		strcpy(a->target, hl);
		if ((r = normalize(a->target, "hard link target", a->idx, err)) < 0)
			return r;
		rec = lmap_find(&a->map, a->target);
		if (!rec)
			return sif_err_set(err, SIF_EFORMAT, "layer %d: hard link \"%s\" names \"%s\", which "
			                   "is not an earlier file of the same layer (links across layers "
			                   "are not supported)", (int)a->idx + 1, a->path, a->target);
		link = rec->ino;
		type = link->mode & S_IFMT;
	} else if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK && type != S_IFCHR &&
	           type != S_IFBLK && type != S_IFIFO) {
		return sif_err_set(err, SIF_EFORMAT, "layer %d: %s: unsupported file type 0%o",
		                   (int)a->idx + 1, a->path, type);
	}

	if (!a->path[0]) {                 /* the root directory itself */
		if (type != S_IFDIR)
			return sif_err_set(err, SIF_EFORMAT, "layer %d: the root is not a directory",
			                   (int)a->idx + 1);
		c = a->t->root;
		if (c->implicit || c->layer == a->idx)
			return define(a, c, e, NULL, err);
		return 0;
	}

	/* whiteouts */
	last = strrchr(a->path, '/');
	last = last ? last + 1 : a->path;
	if (strncmp(last, ".wh.", 4) == 0) {
		r = walk_parents(a, true, &dir, &last, err);
		if (r != KEPT)
			return r < 0 ? r : 0;
		return apply_whiteout(a, dir, last + 4, err);
	}

	r = walk_parents(a, false, &dir, &last, err);
	if (r < 0)
		return r;
	if (r == HIDDEN) {
		c = NULL;
		goto hidden;
	}
	c = tree_child(dir, last);
	if (!c) {
		c = tree_add_child(a->t, dir, last);
		if (!c)
			return sif_err_set(err, ENOMEM, "out of memory");
	} else if (c->hide_below > a->idx) {
		goto hidden;
	} else if (!c->inode) {
		/* a whiteout of this same layer, or the parent of a higher
		 * layer's whiteouts: those would delete through a symlink */
		if (type == S_IFLNK && (c->nchildren || c->opaque_below >= 0))
			return sif_err_set(err, SIF_EFORMAT, "layer %d: \"%s\" is a symbolic link, but a "
			                   "higher layer deletes beneath it as if it were a directory",
			                   (int)a->idx + 1, a->path);
	} else if (S_ISDIR(c->inode->mode)) {
		if (c->implicit) {
			if (type != S_IFDIR)
				return sif_err_set(err, SIF_EFORMAT, "layer %d: \"%s\" is a %s, but a higher "
				                   "layer writes beneath it as if it were a directory",
				                   (int)a->idx + 1, a->path,
				                   type == S_IFLNK ? "symbolic link" : "non-directory");
		} else if (c->layer > a->idx) {
			/* a higher layer's directory; if this layer makes the path
			 * a non-directory, nothing below this layer survives
			 * beneath it (dir -> symlink -> dir across three layers) */
			if (type != S_IFDIR && c->opaque_below < a->idx)
				c->opaque_below = a->idx;
			goto hidden;
		} else if (type != S_IFDIR) {
			return sif_err_set(err, SIF_EFORMAT, "layer %d: \"%s\" is both a directory and "
			                   "a non-directory", (int)a->idx + 1, a->path);
		}
	} else if (c->layer > a->idx) {
		goto hidden;                           /* a higher layer replaced it */
	}
	r = define(a, c, e, link, err);
	if (r < 0)
		return r;
	if (type != S_IFDIR && lmap_put(&a->map, a->path, c->inode, ordinal) < 0)
		return sif_err_set(err, ENOMEM, "out of memory");
	a->st->kept++;
	return 0;

hidden:
	/* hidden by a higher layer; a hard link later in this layer may still
	 * name it: remember its metadata (data is read again if needed) */
	if (type == S_IFDIR || link)
		return 0;
	detached = tree_inode_new(type);
	if (!detached)
		return sif_err_set(err, ENOMEM, "out of memory");
	detached->nlink = 0;
	detached->holds = 1;   /* ours until the map holds it */
	r = set_meta(a, detached, e);
	if (r < 0)
		r = meta_fail(a, r, err);
	else if (type == S_IFLNK)
		r = link_target(a, e, &detached->target, err);
	if (r < 0) {
		tree_inode_unhold(detached);
		return r;
	}
	detached->rdev_major = (uint32_t)archive_entry_rdevmajor(e);
	detached->rdev_minor = (uint32_t)archive_entry_rdevminor(e);
	if (type == S_IFREG && archive_entry_size(e) > 0) {
		struct owed *v = realloc(owed_v, (owed_n + 1) * sizeof(*v));
		if (!v) {
			tree_inode_unhold(detached);
			return sif_err_set(err, ENOMEM, "out of memory");
		}
		owed_v = v;
		/* recorded now, read again only if a kept link ends up naming it */
		owed_v[owed_n++] = (struct owed){.layer = a->idx, .ordinal = ordinal, .ino = detached,
		                                 .size = archive_entry_size(e)};
		detached->holds++;
	} else {
		detached->data_done = true;
	}
	r = lmap_put(&a->map, a->path, detached, ordinal);
	tree_inode_unhold(detached);   /* the map holds it now (or nobody) */
	return r < 0 ? sif_err_set(err, ENOMEM, "out of memory") : 0;
}

int layer_apply(struct tree *t, struct sqfs_out *out, const struct img_layer *l, int32_t idx,
                struct layer_stats *st, void (*progress)(void *, uint64_t), void *pctx,
                struct sif_err *err)
{
	struct apply *a = calloc(1, sizeof(*a));
	struct layer_stats dummy = {0};
	struct archive_entry *e;
	uint64_t ordinal = 0;
	int r;

	if (!a)
		return sif_err_set(err, ENOMEM, "out of memory");
	a->t = t;
	a->out = out;
	a->idx = idx;
	a->st = st ? st : &dummy;
	r = lstream_open(&a->s, l, idx, true, err);
	if (r < 0)
		goto out;
	a->s.progress = progress;
	a->s.pctx = pctx;
	for (;;) {
		r = archive_read_next_header(a->s.tar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			r = lstream_fail(&a->s, a->s.tar, 0, err);
			goto out;
		}
		a->st->entries++;
		r = apply_entry(a, e, ordinal++, err);
		if (r < 0)
			goto out;
	}
	r = lstream_verify(&a->s, a->st, err);
out:
	lstream_close(&a->s);
	lmap_free(&a->map);
	free(a->whole);
	free(a);
	return r;
}

static int by_layer(const void *x, const void *y)
{
	const struct owed *p = x, *q = y;

	if (p->layer != q->layer)
		return p->layer < q->layer ? -1 : 1;
	return p->ordinal < q->ordinal ? -1 : p->ordinal > q->ordinal;
}

int layer_finish(struct tree *t, struct sqfs_out *out, const struct img_layer *layers,
                 size_t nlayers, struct sif_err *err)
{
	size_t i = 0, k;
	int r = 0;

	(void)t;
	if (!out)
		goto out;   /* a failed build: only free */
	/* only the hidden files a kept hard link names are owed their data */
	for (k = 0; k < owed_n; k++)
		if (owed_v[k].ino->nlink == 0) {
			tree_inode_unhold(owed_v[k].ino);
			owed_v[k--] = owed_v[--owed_n];
		}
	if (owed_n)
		qsort(owed_v, owed_n, sizeof(*owed_v), by_layer);
	while (r == 0 && i < owed_n) {
		int32_t idx = owed_v[i].layer;
		struct apply *a = calloc(1, sizeof(*a));
		struct archive_entry *e;
		uint64_t ordinal = 0;

		if (!a || (size_t)idx >= nlayers) {
			free(a);
			r = sif_err_set(err, ENOMEM, "out of memory");
			break;
		}
		a->t = t;
		a->out = out;
		a->idx = idx;
		/* read and verified again: the blob may have changed since */
		r = lstream_open(&a->s, &layers[idx], idx, true, err);
		while (r == 0) {
			r = archive_read_next_header(a->s.tar, &e);
			if (r == ARCHIVE_EOF) {
				r = i < owed_n && owed_v[i].layer == idx ?
				    sif_err_set(err, SIF_EFORMAT, "layer %d changed while it was read",
				                (int)idx + 1) : 0;
				break;
			}
			if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
				r = lstream_fail(&a->s, a->s.tar, 0, err);
				break;
			}
			r = 0;
			if (i >= owed_n || owed_v[i].layer != idx || ordinal++ != owed_v[i].ordinal)
				continue;
			snprintf(a->path, sizeof(a->path), "%s", archive_entry_pathname(e) ?
			         archive_entry_pathname(e) : "");
			if (archive_entry_size(e) != owed_v[i].size || archive_entry_hardlink(e)) {
				r = sif_err_set(err, SIF_EFORMAT, "layer %d changed while it was read",
				                (int)idx + 1);
				break;
			}
			r = write_data(a, owed_v[i].ino, e, err);
			i++;
		}
		if (r == 0)
			r = lstream_verify(&a->s, NULL, err);
		lstream_close(&a->s);
		free(a->whole);
		free(a);
	}
out:
	for (k = 0; k < owed_n; k++)
		tree_inode_unhold(owed_v[k].ino);
	free(owed_v);
	owed_v = NULL;
	owed_n = 0;
	return r;
}
