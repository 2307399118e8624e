/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading a squashfs with libsquashfuse, checked: the primitives of
 * sqcheck.h, which both "sif inspect" (below: files inside an image
 * without mounting it, sqread.h) and the FUSE server (fuse.c) use, and
 * inspect's path walk on top of them.
 *
 * Like fuse.c this file includes squashfuse's headers, which bring
 * squashfuse's own installed config.h: it must not include ours, and it is
 * built alone, in starter/libsiffuse.a.
 *
 * sqfs_lookup_path follows no symlinks and knows no "..": paths are walked
 * here one component at a time, keeping the inode of every directory above
 * so that ".." goes up (and stops at the root), and a symlink's target is
 * walked from the image's root (absolute) or from the directory holding the
 * link (relative).  Nothing outside the image can be reached: there is no
 * outside.
 *
 * libsquashfuse (0.1.10x) trusts the image it reads, and both "sif inspect"
 * and "sif exec" read images not trusted yet (a hostile image must not
 * corrupt the memory of the user's FUSE server), so what it would take on
 * trust is checked here first:
 * - a directory entry's name is read into the caller's buffer at the length
 *   the image gives (up to 65536 bytes, and in sqfs_dir_lookup's index walk
 *   up to 4 GiB) although sqfs_name holds 257: entries are read with
 *   sqfs_dir_next into a 64 KiB buffer, and the directory index is walked
 *   here (sif_sqc_lookup, a binary search's worth of reading like
 *   sqfs_dir_lookup's), each index name's size checked before it is read;
 * - metadata offsets (of an inode, of a directory's listing, of the header
 *   an index entry points to, of a table entry, of an xattr) past the end of
 *   their block make it copy from beyond the block: checked against the
 *   block first;
 * - a fragment index past the fragment table, a uid/gid index past the id
 *   table, an xattr index past the xattr table, or a fragment past the end
 *   of its block, make it read out of bounds: checked before the table or
 *   the block is read;
 * - its block caches take position 0 for "unused": a metadata or data block
 *   said to be at 0 (where the superblock is) comes back as a NULL block
 *   and crashes it, so every position is checked to lie after the
 *   superblock and inside the filesystem before it is read;
 * - a block size of 0 would divide by zero: checked at open;
 * - sqfs_read_range copies from a data block at the offset the read asks
 *   for even when the block is shorter, and its block index
 *   (sqfs_blockidx_*) sizes and keys its arrays by what the image claims:
 *   files are read by sif_sqc_read, which walks the block list itself;
 * - sqfs_xattr_find reads a name of the image's length into a buffer of
 *   the asked name's length: attributes are looked up by sif_sqc_getxattr;
 * - on 64-bit, its FUSE node numbers are the inode ids but for the root (1)
 *   and the inode at 0 (2): an entry naming id 1 or 2, which no image has
 *   (they lie inside the first inode), would alias those: refused by
 *   sif_sqc_inode.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <squashfuse/xattr.h>
#include <zstd.h>

#include "sqcheck.h"
#include "sqread.h"

#define PATH_BUF 8192     /* a path still to walk, links expanded */
#define MAX_DEPTH 512     /* directories above the one being walked */
#define STRIDE 256        /* blocks between two remembered places of a block list */

/* Can a block be at POS (from the filesystem's start)? */
static bool pos_ok(const sqfs *fs, uint64_t pos)
{
	return pos >= sizeof(struct squashfs_super_block) && pos < fs->sb.bytes_used;
}

/* Do the LEN bytes at OFFSET lie inside the metadata block at BASE + BLOCK? */
static bool md_range_ok(sqfs *fs, uint64_t base, uint64_t block, size_t offset, size_t len)
{
	sqfs_off_t pos = (sqfs_off_t)(base + block);
	sqfs_block *b;

	if (block > fs->sb.bytes_used || !pos_ok(fs, base + block) ||
	    offset >= SQUASHFS_METADATA_SIZE || sqfs_md_cache(fs, &pos, &b) != SQFS_OK || !b)
		return false;
	return offset < b->size && len <= b->size - offset;   /* the block stays cached */
}

static bool md_offset_ok(sqfs *fs, uint64_t base, uint64_t block, size_t offset)
{
	return md_range_ok(fs, base, block, offset, 1);
}

/* Is a metadata reference (block << 16 | offset, from BASE) readable? */
static bool md_ref_ok(sqfs *fs, uint64_t base, uint64_t ref)
{
	return md_offset_ok(fs, base, ref >> 16, ref & 0xffff);
}

/* Is entry IDX of the table T (of COUNT entries) where it can be read? */
static bool table_ok(sqfs *fs, const sqfs_table *t, uint64_t idx, uint64_t count)
{
	uint64_t pos = idx * t->each;

	return idx < count && t->blocks &&
	       md_range_ok(fs, 0, t->blocks[pos / SQUASHFS_METADATA_SIZE],
	                   pos % SQUASHFS_METADATA_SIZE, t->each);
}

/*
 * zstd blocks, each thread with a decompression context of its own, kept:
 * libsquashfuse's zstd decompressor calls ZSTD_decompress, which makes and
 * frees a context (a ~160 KiB allocation, fresh pages) for every block.
 * Measured on the bench image's files in 128 KiB blocks at level 15: 133
 * -> 125 us per block of libcrypto, 87 -> 72 us for a .pyc.  A thread's
 * context goes with the thread (the key's destructor) or with
 * sif_sqc_fini.
 */
static pthread_key_t zstd_key;
static bool zstd_key_ok;
static pthread_once_t zstd_once = PTHREAD_ONCE_INIT;

static void zstd_free(void *d)
{
	ZSTD_freeDCtx(d);
}

static void zstd_key_init(void)
{
	zstd_key_ok = pthread_key_create(&zstd_key, zstd_free) == 0;
}

static sqfs_err zstd_block(void *in, size_t insz, void *out, size_t *outsz)
{
	ZSTD_DCtx *d = pthread_getspecific(zstd_key);
	size_t n;

	if (!d) {
		d = ZSTD_createDCtx();
		if (d && pthread_setspecific(zstd_key, d) != 0) {
			ZSTD_freeDCtx(d);
			d = NULL;
		}
	}
	n = d ? ZSTD_decompressDCtx(d, out, *outsz, in, insz) : ZSTD_decompress(out, *outsz, in, insz);
	if (ZSTD_isError(n))
		return SQFS_ERR;
	*outsz = n;
	return SQFS_OK;
}

int sif_sqc_init(struct sif_sqc *c, sqfs *fs)
{
	uint32_t bs = fs->sb.block_size;

	memset(c, 0, sizeof(*c));
	c->fs = fs;
	if (bs < 4096 || bs > (1u << 20) || (bs & (bs - 1)))
		return -EBADMSG;
	pthread_once(&zstd_once, zstd_key_init);
	if (fs->sb.compression == ZSTD_COMPRESSION && fs->decompressor && zstd_key_ok)
		fs->decompressor = zstd_block;
	c->name = malloc(SIF_SQC_NAME_BUF);
	return c->name ? 0 : -ENOMEM;
}

void sif_sqc_fini(struct sif_sqc *c)
{
	size_t i;

	free(c->name);
	if (zstd_key_ok) {
		ZSTD_freeDCtx(pthread_getspecific(zstd_key));
		pthread_setspecific(zstd_key, NULL);
	}
	for (i = 0; i < SIF_SQC_FILES; i++)
		free(c->files[i].marks);
	/* libsquashfuse 0.1.10x's sqfs_destroy forgets the xattr ID table
	 * (sqfs_init made it); sqfs_destroy follows this call everywhere */
	if (c->fs) {
		free(c->fs->xattr_table.blocks);
		c->fs->xattr_table.blocks = NULL;
	}
	memset(c, 0, sizeof(*c));
}

int sif_sqc_inode(struct sif_sqc *c, sqfs_inode *ino, sqfs_inode_id id)
{
	sqfs *fs = c->fs;

	/* An inode at byte 1 or 2 of the table would lie inside the first one
	 * (at 0, at least 32 bytes long): no image has them, and libsquashfuse
	 * gives FUSE node numbers 1 and 2 to the root and to the inode at 0,
	 * which an entry naming 1 or 2 would alias (the server's pushes into
	 * the page cache would land on another file). */
	if (id == 1 || id == 2)
		return -EBADMSG;
	if (!md_ref_ok(fs, fs->sb.inode_table_start, id) || sqfs_inode_get(fs, ino, id) != SQFS_OK)
		return -EBADMSG;
	/* what sqfs_stat reads */
	if (!table_ok(fs, &fs->id_table, ino->base.uid, fs->sb.no_ids) ||
	    !table_ok(fs, &fs->id_table, ino->base.guid, fs->sb.no_ids))
		return -EBADMSG;
	/* a listing has 3 bytes more than it holds (sqfs_dir_open subtracts
	 * them, unsigned); an empty one may point past the table's end */
	if (S_ISDIR(ino->base.mode) &&
	    (ino->xtra.dir.dir_size < 3 ||
	     (ino->xtra.dir.dir_size > 3 &&
	      !md_offset_ok(fs, fs->sb.directory_table_start, ino->xtra.dir.start_block,
	                    ino->xtra.dir.offset))))
		return -EBADMSG;
	return 0;
}

/* Names in squashfs order (bytes, shorter first) */
static int namecmp(const char *a, size_t an, const char *b, size_t bn)
{
	int o = memcmp(a, b, an < bn ? an : bn);

	return o ? o : (an > bn) - (an < bn);
}

/* Move D (just opened) forward with the index of DIR: to the last header
 * whose first name is not after NAME (N bytes), or without NAME, the last
 * one that starts before OFFSET.  What sqfs_dir_lookup does, checked. */
static int dir_seek(struct sif_sqc *c, sqfs_inode *dir, sqfs_dir *d, const char *name, size_t n,
                    uint64_t offset)
{
	sqfs *fs = c->fs;
	sqfs_md_cursor cur = dir->next;   /* the index follows the inode */
	struct squashfs_dir_index idx;
	char first[SQUASHFS_NAME_LEN + 1];
	uint64_t block = 0, index = 0;
	size_t k;

	for (k = dir->xtra.dir.idx_count; k > 0; k--) {
		if (sqfs_md_read(fs, &cur, &idx, sizeof(idx)) != SQFS_OK ||
		    idx.size >= SQUASHFS_NAME_LEN)   /* the name has size + 1 bytes */
			return -EBADMSG;
		if (!name && idx.index >= offset)
			break;
		if (sqfs_md_read(fs, &cur, name ? first : NULL, idx.size + 1) != SQFS_OK)
			return -EBADMSG;
		if (name && namecmp(first, idx.size + 1, name, n) > 0)
			break;
		block = idx.start_block;
		index = idx.index;
	}
	if (index == 0)
		return 0;
	if ((sqfs_off_t)index >= d->total)
		return -EBADMSG;
	d->cur.block = (sqfs_off_t)(fs->sb.directory_table_start + block);
	d->cur.offset = (dir->xtra.dir.offset + index) % SQUASHFS_METADATA_SIZE;
	d->offset = (sqfs_off_t)index;
	return md_offset_ok(fs, fs->sb.directory_table_start, block, d->cur.offset) ? 0 : -EBADMSG;
}

int sif_sqc_opendir(struct sif_sqc *c, sqfs_inode *dir, sqfs_dir *d, uint64_t offset)
{
	sqfs_dir_entry e;
	int r;

	/* at 0 sqfs_dir_open only sets D up (from the listing checked by
	 * sif_sqc_inode); at OFFSET it would walk the index unchecked */
	if (sqfs_dir_open(c->fs, dir, d, 0) != SQFS_OK)
		return -EBADMSG;
	if (offset == 0)
		return 0;
	if ((r = dir_seek(c, dir, d, NULL, 0, offset)) < 0)
		return r;
	while ((uint64_t)d->offset < offset && (r = sif_sqc_next(c, d, &e)) > 0)
		;
	if (r < 0)
		return r;
	return (uint64_t)d->offset == offset ? 0 : -EBADMSG;
}

int sif_sqc_next(struct sif_sqc *c, sqfs_dir *d, sqfs_dir_entry *e)
{
	sqfs_err err = SQFS_OK;

	/* sqfs_dir_next reads on while its header's count lasts, past the
	 * listing's size if the image says so: stop at the size */
	if (d->offset >= d->total)
		return 0;
	sqfs_dentry_init(e, c->name);
	if (!sqfs_dir_next(c->fs, d, e, &err))
		return err != SQFS_OK ? -EBADMSG : 0;
	if (sqfs_dentry_name_size(e) > SQUASHFS_NAME_LEN)
		return -EBADMSG;
	sqfs_dentry_name(e);   /* NUL-terminates it */
	return 1;
}

int sif_sqc_lookup(struct sif_sqc *c, sqfs_inode *dir, const char *name, size_t n,
                   sqfs_dir_entry *e)
{
	sqfs_dir d;
	int r, o;

	if (sqfs_dir_open(c->fs, dir, &d, 0) != SQFS_OK)
		return -EBADMSG;
	if ((r = dir_seek(c, dir, &d, name, n, 0)) < 0)
		return r;
	/* entries are sorted: stop at the first one after NAME */
	while ((r = sif_sqc_next(c, &d, e)) > 0) {
		o = namecmp(c->name, sqfs_dentry_name_size(e), name, n);
		if (o == 0)
			return 0;
		if (o > 0)
			break;
	}
	return r < 0 ? r : -ENOENT;
}

void sif_sqc_mark(struct sif_sqc_rec *r, uint64_t pos, uint64_t len)
{
	const unsigned bpw = 8 * sizeof(unsigned long);
	uint64_t k, last;

	if (!r || len == 0 || __atomic_load_n(&r->stopped, __ATOMIC_ACQUIRE))
		return;
	last = (pos + len - 1) >> SIF_SQC_CHUNK_SHIFT;
	for (k = pos >> SIF_SQC_CHUNK_SHIFT; k <= last && k < r->nchunks; k++) {
		unsigned long bit = 1UL << (k % bpw);
		if (__atomic_fetch_or(&r->bits[k / bpw], bit, __ATOMIC_RELAXED) & bit)
			continue;
		unsigned i = __atomic_fetch_add(&r->count, 1, __ATOMIC_RELAXED);
		if (i < SIF_SQC_REC_MAX)
			__atomic_store_n(&r->order[i], (uint32_t)k, __ATOMIC_RELEASE);
	}
}

/* The fragment holding the tail of the regular file INO, checked: its block
 * in *B, the tail at *OFF, *N bytes. */
static bool fragment(struct sif_sqc *c, sqfs_inode *ino, sqfs_block **b, size_t *off, size_t *n)
{
	sqfs *fs = c->fs;
	struct squashfs_fragment_entry frag;
	uint32_t idx = ino->xtra.reg.frag_idx;

	*b = NULL;
	if (!table_ok(fs, &fs->frag_table, idx, fs->sb.fragments) ||
	    sqfs_frag_entry(fs, &frag, idx) != SQFS_OK || !pos_ok(fs, frag.start_block))
		return false;
	sif_sqc_mark(c->rec, frag.start_block, frag.size & (SQUASHFS_COMPRESSED_BIT_BLOCK - 1));
	if (sqfs_frag_block(fs, ino, off, n, b) != SQFS_OK || !*b)
		return false;
	return *off <= (*b)->size && *n <= (*b)->size - *off;
}

/* The places remembered in the block list of INO (NULL if there is no
 * memory for them): a file is known by all that its list depends on. */
static struct sif_sqc_file *file_marks(struct sif_sqc *c, const sqfs_inode *ino)
{
	struct sif_sqc_file *f;
	size_t i;

	for (i = 0; i < SIF_SQC_FILES; i++) {
		f = &c->files[i];
		if (f->size && f->size == ino->xtra.reg.file_size &&
		    f->start_block == ino->xtra.reg.start_block &&
		    f->frag_idx == ino->xtra.reg.frag_idx &&
		    f->next_block == (uint64_t)ino->next.block && f->next_offset == ino->next.offset)
			return f;
	}
	f = &c->files[c->next_file];
	c->next_file = (c->next_file + 1) % SIF_SQC_FILES;
	f->nmarks = 0;
	f->size = ino->xtra.reg.file_size;
	f->start_block = ino->xtra.reg.start_block;
	f->frag_idx = ino->xtra.reg.frag_idx;
	f->next_block = (uint64_t)ino->next.block;
	f->next_offset = (uint32_t)ino->next.offset;
	if (!f->marks) {
		f->marks = malloc(16 * sizeof(*f->marks));
		f->cap = f->marks ? 16 : 0;
	}
	return f->marks ? f : NULL;
}

/* Remember BL, the place before block nmarks * STRIDE. */
static void mark(struct sif_sqc_file *f, const sqfs_blocklist *bl)
{
	if (f->nmarks == f->cap) {
		sqfs_blocklist *m = realloc(f->marks, 2 * f->cap * sizeof(*m));
		if (!m)
			return;   /* a later read walks further */
		f->marks = m;
		f->cap *= 2;
	}
	f->marks[f->nmarks++] = *bl;
}

int sif_sqc_read(struct sif_sqc *c, sqfs_inode *ino, uint64_t start, size_t *size, char *buf)
{
	sqfs *fs = c->fs;
	uint64_t fsize = ino->xtra.reg.file_size, bs = fs->sb.block_size, i, first;
	size_t want = *size, got = 0, off = (size_t)(start % bs), take, n, nblocks;
	struct sif_sqc_file *f;
	sqfs_blocklist bl;
	sqfs_block *b;

	*size = 0;
	if (!S_ISREG(ino->base.mode))
		return -EBADMSG;
	if (start >= fsize || want == 0)
		return 0;
	if (want > fsize - start)
		want = (size_t)(fsize - start);
	nblocks = sqfs_blocklist_count(fs, ino);   /* full blocks, and a tail without fragment */
	first = start / bs;
	/* from the last remembered place before the first block, walking and
	 * remembering the block list (where each block is, how long) */
	i = 0;
	sqfs_blocklist_init(fs, ino, &bl);
	f = first < nblocks && nblocks > STRIDE ? file_marks(c, ino) : NULL;
	if (f && f->nmarks > 0) {
		i = first / STRIDE < f->nmarks ? first / STRIDE : f->nmarks - 1;
		bl = f->marks[i];
		i *= STRIDE;
	}
	for (; got < want && i < nblocks; i++) {
		if (f && i % STRIDE == 0 && i / STRIDE == f->nmarks)
			mark(f, &bl);
		if (sqfs_blocklist_next(&bl) != SQFS_OK)
			return -EBADMSG;
		if (i < first)
			continue;
		b = NULL;
		if (bl.input_size == 0) {   /* a hole */
			n = (size_t)(fsize - i * bs < bs ? fsize - i * bs : bs);
		} else {
			if (!pos_ok(fs, bl.block))
				return -EBADMSG;
			sif_sqc_mark(c->rec, bl.block, bl.input_size);
			if (sqfs_data_cache(fs, &fs->data_cache, (sqfs_off_t)bl.block, bl.header, &b) !=
			            SQFS_OK || !b)
				return -EBADMSG;
			n = b->size < bs ? b->size : (size_t)bs;
		}
		if (off > n)
			return -EBADMSG;
		take = n - off < want - got ? n - off : want - got;
		if (b)
			memcpy(buf + got, (char *)b->data + off, take);
		else
			memset(buf + got, 0, take);
		got += take;
		off = 0;
	}
	/* the tail, in a fragment */
	if (got < want && ino->xtra.reg.frag_idx != SQUASHFS_INVALID_FRAG) {
		size_t foff;

		if (!fragment(c, ino, &b, &foff, &n) || off > n)
			return -EBADMSG;
		take = n - off < want - got ? n - off : want - got;
		memcpy(buf + got, (char *)b->data + foff + off, take);
		got += take;
	}
	*size = got;
	return 0;
}

/* The prefixes of attribute names by type, as libsquashfuse 0.1.105 names
 * them (its sqfs_xattr_prefixes, which sqfs_xattr_name writes; the
 * kernel's squashfs has 1 for "trusted." and 2 for "security.") */
static const struct {
	const char *prefix;
	size_t len;
} xattr_prefix[] = {{"user.", 5}, {"security.", 9}, {"trusted.", 8}};

/* sqfs_xattr_open, checked: the entry of INO in the xattr id table and
 * where its attributes start. */
static int xattr_open(struct sif_sqc *c, sqfs_inode *ino, sqfs_xattr *x)
{
	sqfs *fs = c->fs;

	x->remain = 0;
	if (fs->xattr_info.xattr_ids == 0 || ino->xattr == SQUASHFS_INVALID_XATTR)
		return 0;
	if (!table_ok(fs, &fs->xattr_table, ino->xattr, fs->xattr_info.xattr_ids) ||
	    sqfs_xattr_open(fs, ino, x) != SQFS_OK ||
	    !md_ref_ok(fs, fs->xattr_info.xattr_table_start, x->info.xattr))
		return -EBADMSG;
	return 0;
}

long sif_sqc_listxattr(struct sif_sqc *c, sqfs_inode *ino, char *buf, size_t size)
{
	sqfs_xattr x;
	size_t len = 0, n;
	int r;

	if ((r = xattr_open(c, ino, &x)) < 0)
		return r;
	while (x.remain > 0) {
		if (sqfs_xattr_read(&x) != SQFS_OK)
			return -EBADMSG;
		n = sqfs_xattr_name_size(&x);   /* with the prefix */
		if (size > 0) {
			if (len + n + 1 > size)
				return -ERANGE;
			if (sqfs_xattr_name(&x, buf + len, true) != SQFS_OK)
				return -EBADMSG;
			buf[len + n] = '\0';
		}
		len += n + 1;
	}
	return (long)len;
}

long sif_sqc_getxattr(struct sif_sqc *c, sqfs_inode *ino, const char *name, char *buf,
                      size_t size)
{
	sqfs *fs = c->fs;
	size_t t, n, vsize;
	sqfs_xattr x;
	int r;

	for (t = 0; t < sizeof(xattr_prefix) / sizeof(xattr_prefix[0]); t++)
		if (strncmp(name, xattr_prefix[t].prefix, xattr_prefix[t].len) == 0)
			break;
	if (t == sizeof(xattr_prefix) / sizeof(xattr_prefix[0]))
		return -ENODATA;
	name += xattr_prefix[t].len;
	n = strlen(name);
	if ((r = xattr_open(c, ino, &x)) < 0)
		return r;
	while (x.remain > 0) {
		if (sqfs_xattr_read(&x) != SQFS_OK)
			return -EBADMSG;
		/* a name is read only when it has NAME's size */
		if (x.type != t || x.entry.size != n)
			continue;
		if (sqfs_xattr_name(&x, c->name, false) != SQFS_OK)
			return -EBADMSG;
		if (memcmp(c->name, name, n) != 0)
			continue;
		if (x.ool) {   /* the value is elsewhere: where? */
			sqfs_md_cursor cur = x.c_vsize;
			uint64_t ref;
			if (sqfs_md_read(fs, &cur, &x.val, sizeof(x.val)) != SQFS_OK ||
			    sqfs_md_read(fs, &cur, &ref, sizeof(ref)) != SQFS_OK ||
			    !md_ref_ok(fs, fs->xattr_info.xattr_table_start, ref))
				return -EBADMSG;
		}
		if (sqfs_xattr_value_size(&x, &vsize) != SQFS_OK)
			return -EBADMSG;
		if (size == 0)
			return (long)vsize;
		if (vsize > size)
			return -ERANGE;
		if (sqfs_xattr_value(&x, buf) != SQFS_OK)
			return -EBADMSG;
		return (long)vsize;
	}
	return -ENODATA;
}

struct sif_sq {
	sqfs fs;
	struct sif_sqc chk;
};

int sif_sq_open(struct sif_sq **out, int fd, uint64_t offset)
{
	struct sif_sq *sq = calloc(1, sizeof(*sq));
	sqfs_err e;
	int r;

	*out = NULL;
	if (!sq)
		return -ENOMEM;
	/* sqfs_init reads and checks the superblock at OFFSET and prints
	 * nothing (unlike sqfs_open_image); on failure it has freed what it
	 * took */
	e = sqfs_init(&sq->fs, fd, (size_t)offset);
	if (e != SQFS_OK) {
		free(sq);
		return e == SQFS_BADCOMP || e == SQFS_BADVERSION ? -ENOTSUP : -EBADMSG;
	}
	if ((r = sif_sqc_init(&sq->chk, &sq->fs)) < 0) {
		sif_sq_close(sq);
		return r;
	}
	*out = sq;
	return 0;
}

void sif_sq_close(struct sif_sq *sq)
{
	if (!sq)
		return;
	sif_sqc_fini(&sq->chk);
	sqfs_destroy(&sq->fs);
	free(sq);
}

/* Resolve PATH to *OUT (see sqread.h); FOLLOW: follow a final symlink. */
static int resolve(struct sif_sq *sq, const char *path, bool follow, sqfs_inode *out)
{
	sqfs *fs = &sq->fs;
	struct sif_sqc *c = &sq->chk;
	sqfs_dir_entry entry;
	sqfs_inode_id *above;           /* above[0] the root ... above[depth] the current dir */
	size_t depth = 0;
	char *rest, *next;              /* the path still to walk, in two buffers */
	char target[4096];
	sqfs_inode cur, child;
	int links = 0, r = 0;
	char *p;

	if (strlen(path) >= PATH_BUF)
		return -ENAMETOOLONG;
	above = malloc(MAX_DEPTH * sizeof(*above));
	rest = malloc(PATH_BUF);
	next = malloc(PATH_BUF);
	if (!above || !rest || !next) {
		r = -ENOMEM;
		goto out;
	}
	strcpy(rest, path);
	above[0] = sqfs_inode_root(fs);
	if ((r = sif_sqc_inode(c, &cur, above[0])) < 0)
		goto out;
	for (p = rest;;) {
		char *end, *q;
		size_t n;
		bool last;

		while (*p == '/')
			p++;
		if (!*p)
			break;   /* the path ends at the directory CUR */
		end = p + strcspn(p, "/");
		n = (size_t)(end - p);
		for (q = end; *q == '/'; q++)
			;
		last = !*q;

		if (n == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (depth > 0)
				depth--;
			if ((r = sif_sqc_inode(c, &cur, above[depth])) < 0)
				goto out;
			p = end;
			continue;
		}
		if (!S_ISDIR(cur.base.mode)) {
			r = -ENOTDIR;
			goto out;
		}
		if (n > SQUASHFS_NAME_LEN) {
			r = -ENAMETOOLONG;
			goto out;
		}
		if ((r = sif_sqc_lookup(c, &cur, p, n, &entry)) < 0 ||
		    (r = sif_sqc_inode(c, &child, sqfs_dentry_inode(&entry))) < 0)
			goto out;

		if (S_ISLNK(child.base.mode) && (!last || follow)) {
			size_t size = sizeof(target);
			if (++links > SIF_SQ_MAX_LINKS) {
				r = -ELOOP;
				goto out;
			}
			if (child.xtra.symlink_size == 0) {
				r = -ENOENT;
				goto out;
			}
			if (child.xtra.symlink_size >= sizeof(target)) {
				r = -ENAMETOOLONG;
				goto out;
			}
			if (sqfs_readlink(fs, &child, target, &size) != SQFS_OK) {
				r = -EBADMSG;
				goto out;
			}
			/* walk TARGET, then what followed the link */
			if (strlen(target) + 1 + strlen(end) >= PATH_BUF) {
				r = -ENAMETOOLONG;
				goto out;
			}
			strcpy(next, target);
			strcat(next, "/");
			strcat(next, end);
			q = rest;
			rest = next;
			next = q;
			p = rest;
			if (target[0] == '/') {
				depth = 0;
				if ((r = sif_sqc_inode(c, &cur, above[0])) < 0)
					goto out;
			}
			continue;   /* a relative target: from the link's directory, CUR */
		}
		if (last) {
			cur = child;
			break;
		}
		if (depth + 1 >= MAX_DEPTH) {
			r = -ENAMETOOLONG;
			goto out;
		}
		above[++depth] = sqfs_dentry_inode(&entry);
		cur = child;
		p = end;
	}
	*out = cur;
out:
	free(above);
	free(rest);
	free(next);
	return r;
}

int sif_sq_mode(struct sif_sq *sq, const char *path, bool follow, uint32_t *mode)
{
	sqfs_inode ino;
	int r = resolve(sq, path, follow, &ino);

	if (r == 0)
		*mode = (uint32_t)ino.base.mode;
	return r;
}

int sif_sq_read(struct sif_sq *sq, const char *path, size_t max, char **data, size_t *len)
{
	sqfs_inode ino;
	size_t size, got;
	char *buf;
	int r = resolve(sq, path, true, &ino);

	*data = NULL;
	if (len)
		*len = 0;
	if (r < 0)
		return r;
	if (S_ISDIR(ino.base.mode))
		return -EISDIR;
	if (!S_ISREG(ino.base.mode))
		return -EINVAL;
	if (ino.xtra.reg.file_size > max)
		return -EFBIG;
	got = size = (size_t)ino.xtra.reg.file_size;
	buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	if ((r = sif_sqc_read(&sq->chk, &ino, 0, &got, buf)) < 0 || got != size) {
		free(buf);
		return r < 0 ? r : -EBADMSG;
	}
	buf[got] = '\0';
	*data = buf;
	if (len)
		*len = got;
	return 0;
}

int sif_sq_read_file(int fd, uint64_t offset, const char *path, size_t max, char **data,
                     size_t *len)
{
	struct sif_sq *sq;
	int r = sif_sq_open(&sq, fd, offset);

	*data = NULL;
	if (r < 0)
		return r;
	r = sif_sq_read(sq, path, max, data, len);
	sif_sq_close(sq);
	return r;
}
