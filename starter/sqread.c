/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading files inside a squashfs without mounting it (sqread.h), with
 * libsquashfuse's own reader: for "sif inspect", which shows an image's
 * labels, environment and runscript.
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
 * libsquashfuse (0.1.10x) trusts the image it reads, and "sif inspect" is
 * for images not trusted yet, so what it would take on trust is checked
 * here first:
 * - a directory entry's name is read into the caller's buffer at the length
 *   the image gives (up to 65536 bytes, and in sqfs_dir_lookup's index walk
 *   up to 4 GiB) although sqfs_name holds 257: names are read here with
 *   sqfs_dir_next into a 64 KiB buffer, never with sqfs_dir_lookup;
 * - metadata offsets (of an inode, of a directory's listing) past the end of
 *   their block make it copy from beyond the block: checked against the
 *   block first;
 * - a fragment index past the fragment table, or a fragment past the end of
 *   its block, make it read out of bounds: checked before any data is read;
 * - its block caches take position 0 for "unused": a metadata or data block
 *   said to be at 0 (where the superblock is) comes back as a NULL block
 *   and crashes it, so every position is checked to lie after the
 *   superblock and inside the filesystem before it is read;
 * - a block size of 0 would divide by zero: checked at open.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <squashfuse/dir.h>
#include <squashfuse/file.h>
#include <squashfuse/fs.h>

#include "sqread.h"

#define PATH_BUF 8192     /* a path still to walk, links expanded */
#define MAX_DEPTH 512     /* directories above the one being walked */
#define NAME_BUF 65537    /* the longest name a directory entry can claim, + 1 */

struct sif_sq {
	sqfs fs;
	char *name;           /* NAME_BUF bytes for directory entries' names */
};

int sif_sq_open(struct sif_sq **out, int fd, uint64_t offset)
{
	struct sif_sq *sq = calloc(1, sizeof(*sq));
	sqfs_err e;

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
	if (sq->fs.sb.block_size < 4096 || sq->fs.sb.block_size > (1u << 20) ||
	    (sq->fs.sb.block_size & (sq->fs.sb.block_size - 1))) {
		sif_sq_close(sq);
		return -EBADMSG;
	}
	sq->name = malloc(NAME_BUF);
	if (!sq->name) {
		sif_sq_close(sq);
		return -ENOMEM;
	}
	*out = sq;
	return 0;
}

void sif_sq_close(struct sif_sq *sq)
{
	if (!sq)
		return;
	sqfs_destroy(&sq->fs);
	free(sq->name);
	free(sq);
}

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

/* Is the fragment of the regular file INO where it can be read? */
static bool fragment_ok(sqfs *fs, sqfs_inode *ino)
{
	struct squashfs_fragment_entry frag;
	size_t idx = ino->xtra.reg.frag_idx, pos, off, n;
	sqfs_block *b;

	if (idx >= fs->sb.fragments || !fs->frag_table.blocks)
		return false;
	/* its entry, in the fragment table's metadata */
	pos = idx * sizeof(frag);
	if (!md_range_ok(fs, 0, fs->frag_table.blocks[pos / SQUASHFS_METADATA_SIZE],
	                 pos % SQUASHFS_METADATA_SIZE, sizeof(frag)) ||
	    sqfs_frag_entry(fs, &frag, (uint32_t)idx) != SQFS_OK || !pos_ok(fs, frag.start_block))
		return false;
	/* the file's tail, inside the fragment block */
	if (sqfs_frag_block(fs, ino, &off, &n, &b) != SQFS_OK || !b)
		return false;
	return off <= b->size && n <= b->size - off;
}

/* The inode ID, checked: 0 or -EBADMSG. */
static int inode_get(sqfs *fs, sqfs_inode *ino, sqfs_inode_id id)
{
	if (!md_offset_ok(fs, fs->sb.inode_table_start, id >> 16, id & 0xffff) ||
	    sqfs_inode_get(fs, ino, id) != SQFS_OK)
		return -EBADMSG;
	/* an empty directory's listing may point past the table's end */
	if (S_ISDIR(ino->base.mode) && ino->xtra.dir.dir_size > 3 &&
	    !md_offset_ok(fs, fs->sb.directory_table_start, ino->xtra.dir.start_block,
	                  ino->xtra.dir.offset))
		return -EBADMSG;
	return 0;
}

/* The entry NAME (N bytes) of the directory DIR: its inode ID in *ID; 0,
 * -ENOENT or -EBADMSG.  A plain walk of the listing (see the top). */
static int lookup(struct sif_sq *sq, sqfs_inode *dir, const char *name, size_t n,
                  sqfs_inode_id *id)
{
	sqfs_dir d;
	sqfs_dir_entry entry;
	sqfs_err e = SQFS_OK;

	if (sqfs_dir_open(&sq->fs, dir, &d, 0) != SQFS_OK)
		return -EBADMSG;
	sqfs_dentry_init(&entry, sq->name);
	/* sqfs_dir_next reads on while its header's count lasts, past the
	 * listing's size if the image says so: stop at the size */
	while (d.offset < d.total && sqfs_dir_next(&sq->fs, &d, &entry, &e)) {
		if (sqfs_dentry_name_size(&entry) == n && memcmp(sq->name, name, n) == 0) {
			*id = sqfs_dentry_inode(&entry);
			return 0;
		}
	}
	return e != SQFS_OK ? -EBADMSG : -ENOENT;
}

/* Resolve PATH to *OUT (see sqread.h); FOLLOW: follow a final symlink. */
static int resolve(struct sif_sq *sq, const char *path, bool follow, sqfs_inode *out)
{
	sqfs *fs = &sq->fs;
	sqfs_inode_id *above;           /* above[0] the root ... above[depth] the current dir */
	size_t depth = 0;
	char *rest, *next;              /* the path still to walk, in two buffers */
	char target[4096];
	sqfs_inode cur, child;
	sqfs_inode_id id;
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
	if ((r = inode_get(fs, &cur, above[0])) < 0)
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
			if ((r = inode_get(fs, &cur, above[depth])) < 0)
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
		if ((r = lookup(sq, &cur, p, n, &id)) < 0 || (r = inode_get(fs, &child, id)) < 0)
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
				if ((r = inode_get(fs, &cur, above[0])) < 0)
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
		above[++depth] = id;
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
	sqfs_off_t got;
	uint64_t size;
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
	size = ino.xtra.reg.file_size;
	if (size > max)
		return -EFBIG;
	/* where its blocks start, and the fragment holding its tail */
	if ((ino.xtra.reg.frag_idx == SQUASHFS_INVALID_FRAG ? size > 0 : size >= sq->fs.sb.block_size)
	    && !pos_ok(&sq->fs, ino.xtra.reg.start_block))
		return -EBADMSG;
	if (size % sq->fs.sb.block_size && ino.xtra.reg.frag_idx != SQUASHFS_INVALID_FRAG &&
	    !fragment_ok(&sq->fs, &ino))
		return -EBADMSG;
	buf = malloc((size_t)size + 1);
	if (!buf)
		return -ENOMEM;
	got = (sqfs_off_t)size;
	if (size > 0 && sqfs_read_range(&sq->fs, &ino, 0, &got, buf) != SQFS_OK) {
		free(buf);
		return -EBADMSG;
	}
	if (got < 0 || (uint64_t)got > size) {
		free(buf);
		return -EBADMSG;
	}
	buf[got] = '\0';
	*data = buf;
	if (len)
		*len = (size_t)got;
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
