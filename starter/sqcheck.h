/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Checked access to a squashfs through libsquashfuse (implemented in
 * starter/sqread.c): what both "sif inspect" (sqread.c) and the FUSE server
 * (fuse.c) read from images not trusted yet goes through these, never
 * through the libsquashfuse calls they replace (sqfs_dir_lookup,
 * sqfs_read_range, sqfs_xattr_lookup, a bare sqfs_inode_get ...).  See the
 * comment at the top of sqread.c for what libsquashfuse takes on trust.
 *
 * This header includes squashfuse's, which bring squashfuse's own config.h:
 * only files built in starter/libsiffuse.a may include it.
 *
 * Errors: -EBADMSG (the filesystem is damaged), -ENOENT, -ENODATA, -ENOMEM,
 * -ERANGE.
 */
#ifndef SIF_STARTER_SQCHECK_H
#define SIF_STARTER_SQCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <squashfuse/dir.h>
#include <squashfuse/file.h>
#include <squashfuse/fs.h>

#define SIF_SQC_NAME_BUF 65537  /* the longest name a directory entry can claim, + 1 */
#define SIF_SQC_FILES 8         /* files whose block lists are remembered */

/* Where the block list of a file was, every STRIDE (256) blocks, as found
 * by walking it (libsquashfuse's own index, sqfs_blockidx_*, is computed
 * from what the image claims and keyed by an inode number the image
 * chooses: not used). */
struct sif_sqc_file {
	uint64_t next_block, start_block, size;   /* which file (0 size: unused) */
	uint32_t next_offset, frag_idx;
	sqfs_blocklist *marks;                      /* marks[k]: before block k * STRIDE */
	size_t nmarks, cap;
};

/* The image's chunks (SIF_SQC_CHUNK bytes from the filesystem's start) whose
 * data or fragment blocks were read, in the order first read: what a later
 * start asks of the disk ahead (fuse.c's prefetch profile).  Shared by the
 * server's two threads: bits set and places taken atomically. */
#define SIF_SQC_CHUNK_SHIFT 16
#define SIF_SQC_REC_MAX 1024   /* chunks: 64 MiB */
#define SIF_SQC_REC_NONE UINT32_MAX   /* a place of order taken, not written yet */
struct sif_sqc_rec {
	unsigned long *bits;   /* one per chunk of the filesystem */
	uint64_t nchunks;      /* at most 2^24 */
	uint32_t order[SIF_SQC_REC_MAX];   /* made SIF_SQC_REC_NONE first */
	unsigned count;        /* taken places of order (may pass the max) */
	int stopped;           /* nothing more is marked */
};

struct sif_sqc {
	sqfs *fs;
	struct sif_sqc_rec *rec;   /* NULL: reads are not recorded */
	char *name;           /* SIF_SQC_NAME_BUF bytes: a directory entry's name */
	struct sif_sqc_file files[SIF_SQC_FILES];
	size_t next_file;     /* the slot to reuse next */
};

/* After sqfs_init(FS) succeeded: check the superblock (its block size)
 * and allocate.  0, -EBADMSG or -ENOMEM; sif_sqc_fini in every case. */
int sif_sqc_init(struct sif_sqc *c, sqfs *fs);
void sif_sqc_fini(struct sif_sqc *c);

/* Mark the chunks of the LEN bytes at POS (from the filesystem's start) in
 * R (NULL: none), appending those not marked yet to its order. */
void sif_sqc_mark(struct sif_sqc_rec *r, uint64_t pos, uint64_t len);

/* The inode ID, with what it points to checked (its metadata, a directory's
 * listing, its uid and gid).  0 or -EBADMSG. */
int sif_sqc_inode(struct sif_sqc *c, sqfs_inode *ino, sqfs_inode_id id);

/* Open the directory DIR at OFFSET (0, or an offset sif_sqc_next gave as
 * sqfs_dentry_next_offset) for sif_sqc_next.  0 or -EBADMSG. */
int sif_sqc_opendir(struct sif_sqc *c, sqfs_inode *dir, sqfs_dir *d, uint64_t offset);
/* The next entry of D in *E, its name in c->name (NUL-terminated): 1, 0 at
 * the end, or -EBADMSG. */
int sif_sqc_next(struct sif_sqc *c, sqfs_dir *d, sqfs_dir_entry *e);

/* The entry NAME (N bytes) of the directory DIR, found with the
 * directory's index: 0 (*E filled, its name in c->name), -ENOENT,
 * -EBADMSG. */
int sif_sqc_lookup(struct sif_sqc *c, sqfs_inode *dir, const char *name, size_t n,
                   sqfs_dir_entry *e);

/* Up to *SIZE bytes of the regular file INO from START into BUF; *SIZE
 * becomes what was read (0 at or past the end).  0 or -EBADMSG. */
int sif_sqc_read(struct sif_sqc *c, sqfs_inode *ino, uint64_t start, size_t *size, char *buf);

/* The extended attributes of INO: their names ("user.x\0security.y\0") in
 * BUF, at most SIZE bytes, or with SIZE 0 only their length; or the value
 * of NAME the same way.  The length (>= 0), -ENODATA (no such attribute),
 * -ERANGE (SIZE too small), -EBADMSG. */
long sif_sqc_listxattr(struct sif_sqc *c, sqfs_inode *ino, char *buf, size_t size);
long sif_sqc_getxattr(struct sif_sqc *c, sqfs_inode *ino, const char *name, char *buf,
                      size_t size);

#endif
