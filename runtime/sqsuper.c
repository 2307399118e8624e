/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "io.h"
#include "sqsuper.h"

#define SQ_SUPER_SIZE 96

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

int sif_sqsuper_read(int fd, int64_t off, uint64_t len, struct sif_sqsuper *sb, struct sif_err *err)
{
	uint8_t b[SQ_SUPER_SIZE];
	uint16_t block_log, major;
	int r;

	if (len < SQ_SUPER_SIZE)
		return sif_err_set(err, SIF_EFORMAT, "not a squashfs image (%llu bytes, shorter than "
		                   "a superblock)", (unsigned long long)len);
	r = sif_pread_full(fd, b, sizeof(b), off);
	if (r < 0)
		return sif_err_set(err, -r, "read squashfs superblock: %s", strerror(-r));
	if (memcmp(b, "hsqs", 4) != 0)
		return sif_err_set(err, SIF_EFORMAT, "not a squashfs image (no \"hsqs\" magic)");
	major = le16(b + 28);
	if (major != 4)
		return sif_err_set(err, SIF_EFORMAT, "squashfs version %u is not supported (only 4.x)",
		                   major);
	sb->inodes = le32(b + 4);
	sb->mkfs_time = le32(b + 8);
	sb->block_size = le32(b + 12);
	sb->compression = le16(b + 20);
	block_log = le16(b + 22);
	sb->bytes_used = le64(b + 40);
	sb->inode_table_start = le64(b + 64);
	if (sb->block_size < 4096 || sb->block_size > (1u << 20) || block_log >= 32 ||
	    (1u << block_log) != sb->block_size)
		return sif_err_set(err, SIF_EFORMAT, "squashfs superblock: bad block size %u",
		                   sb->block_size);
	if (sb->bytes_used < SQ_SUPER_SIZE || sb->bytes_used > len)
		return sif_err_set(err, SIF_EFORMAT, "squashfs superblock: %llu bytes used, but the "
		                   "image holds %llu (truncated?)", (unsigned long long)sb->bytes_used,
		                   (unsigned long long)len);
	if (sb->inode_table_start < SQ_SUPER_SIZE || sb->inode_table_start > sb->bytes_used)
		return sif_err_set(err, SIF_EFORMAT, "squashfs superblock: inode table at %llu, "
		                   "outside the %llu bytes used", (unsigned long long)sb->inode_table_start,
		                   (unsigned long long)sb->bytes_used);
	return 0;
}
