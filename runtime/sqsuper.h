/* SPDX-License-Identifier: BSD-3-Clause */
/* The squashfs 4.0 superblock: enough to recognise and sanity-check an
 * image before anyone mounts or wraps it. */
#ifndef SIF_SQSUPER_H
#define SIF_SQSUPER_H

#include <stdint.h>

#include "err.h"

struct sif_sqsuper {
	uint32_t inodes;
	uint32_t mkfs_time;
	uint32_t block_size;
	uint16_t compression;     /* 1 gzip, 2 lzma, 3 lzo, 4 xz, 5 lz4, 6 zstd */
	uint64_t bytes_used;
	uint64_t inode_table_start;  /* metadata (inodes, directories, tables) runs from here to bytes_used */
};

/* Read and check the superblock at OFF of fd, in a region of LEN bytes. */
int sif_sqsuper_read(int fd, int64_t off, uint64_t len, struct sif_sqsuper *sb,
                     struct sif_err *err);

#endif
