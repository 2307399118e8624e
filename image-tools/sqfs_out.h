/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writing a squashfs filesystem with libsquashfs, in-process, into an open
 * file at an offset (the SIF partition being built).
 *
 * File data is streamed as it arrives (sqfs_out_file_*), compressed by
 * libsquashfs's block processor on --jobs worker threads; when every file
 * is in, sqfs_out_finish() writes the inodes and directories of the tree,
 * the id, fragment and xattr tables and the superblock.  The same tree and
 * the same options give the same bytes (reproducible builds).
 */
#ifndef SIF_SQFS_OUT_H
#define SIF_SQFS_OUT_H

#include <stdint.h>

#include "err.h"
#include "tree.h"

enum sqfs_out_comp {
	SQFS_OUT_GZIP = 1, SQFS_OUT_LZMA = 2, SQFS_OUT_LZO = 3, SQFS_OUT_XZ = 4,
	SQFS_OUT_LZ4 = 5, SQFS_OUT_ZSTD = 6,
	SQFS_OUT_NONE = 100,         /* stored uncompressed (-noI -noD -noF style) */
};

struct sqfs_out_opts {
	int comp;                    /* enum sqfs_out_comp */
	int level;                   /* 0: the compressor's default */
	unsigned jobs;               /* compression threads, >= 1 */
	uint32_t block_size;         /* 0: 128 KiB */
	int64_t mkfs_time;           /* superblock time (reproducible) */
};

struct sqfs_out;

/* Start a filesystem in FD at byte OFFSET (nothing before it is touched). */
int sqfs_out_open(struct sqfs_out **out, int fd, uint64_t offset, const struct sqfs_out_opts *o,
                  struct sif_err *err);

/* Stream the data of the regular file INO: begin, append any number of
 * times, end.  One file at a time.  Sets ino->size, ino->sq, ino->data_done. */
int sqfs_out_file_begin(struct sqfs_out *out, struct tree_inode *ino, struct sif_err *err);
int sqfs_out_file_append(struct sqfs_out *out, const void *buf, size_t n, struct sif_err *err);
int sqfs_out_file_end(struct sqfs_out *out, struct sif_err *err);

/* The whole data of the regular file INO at once: a file with the same
 * bytes as one written this way before shares its blocks and is not
 * compressed again (ino->same_data). */
int sqfs_out_file_write(struct sqfs_out *out, struct tree_inode *ino, const void *buf,
                        size_t n, struct sif_err *err);

/* Write the tree's inodes and directories, the tables and the superblock.
 * *SIZE receives the filesystem's size in bytes, padded to 4096. */
int sqfs_out_finish(struct sqfs_out *out, struct tree *t, uint64_t *size, struct sif_err *err);

/* Bytes of uncompressed data taken in so far (progress reports). */
uint64_t sqfs_out_bytes_in(const struct sqfs_out *out);

void sqfs_out_free(struct sqfs_out *out);

#endif
