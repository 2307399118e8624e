/* SPDX-License-Identifier: BSD-3-Clause */
/* Whole-buffer positional I/O: retry on EINTR and short transfers. */
#ifndef SIF_IO_H
#define SIF_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Return 0 or a negative errno; a read that meets end of file is -EIO. */
int sif_pread_full(int fd, void *buf, size_t len, int64_t off);
int sif_pwrite_full(int fd, const void *buf, size_t len, int64_t off);
int sif_pwrite_zeros(int fd, int64_t off, uint64_t len);
/* Copy LEN bytes from src_fd at src_off to dst_fd at dst_off. */
int sif_copy_range(int src_fd, int64_t src_off, int dst_fd, int64_t dst_off, uint64_t len);

/* mkdir -p DIR with MODE for what it creates; 0 or -errno. */
int sif_mkdirs(const char *dir, mode_t mode);
/* The user's sif cache directory: $SIF_CACHEDIR, else $XDG_CACHE_HOME/sif,
 * else $HOME/.cache/sif (not created).  0, -ENOENT (none of them set) or
 * -ENAMETOOLONG. */
int sif_cache_dir(char *buf, size_t len);
/* S without its leading and trailing blanks (in place). */
char *sif_trim(char *s);

#endif
