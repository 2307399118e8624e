/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The in-process squashfs server: libsquashfuse's low-level operations on
 * a /dev/fuse descriptor that the starter mounted itself.
 *
 * This file includes squashfuse's headers, which bring squashfuse's own
 * installed config.h (FUSE_USE_VERSION, PACKAGE_*): it must not include
 * ours, and nothing else of sif may include squashfuse's (they also clash
 * with libsquashfs: sqfs_destroy, SQFS_COMP_MAX).  Its interface is
 * starter/fuse.h, plain C types only.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <squashfuse/ll.h>

#include "fuse.h"
#include "sqcheck.h"

/* Exported by libsquashfuse (stat.c) but missing from its installed
 * headers in 0.1.105. */
sqfs_err sqfs_stat(sqfs *fs, sqfs_inode *inode, struct stat *st);

/*
 * The image is not trusted yet, and libsquashfuse trusts it (see
 * sqread.c): every operation that reads it goes through the checked calls
 * of sqcheck.h, never through sqfs_ll_op_* or the bare libsquashfuse calls
 * they use.  A damaged or hostile image gives EIO to the request that
 * meets the damage, and one warning.
 */
struct sif_fuse {
	sqfs_ll ll;           /* first: the session's userdata, as sqfs_ll_op_forget wants */
	struct sif_sqc chk;
	struct fuse_session *se;
};

static struct sif_fuse *server(fuse_req_t req)
{
	return (struct sif_fuse *)((char *)fuse_req_userdata(req) - offsetof(struct sif_fuse, ll));
}

/* Answer an error R (<0) of the checked calls. */
static void reply_err(fuse_req_t req, int r)
{
	static bool warned;

	if (r == -EBADMSG) {
		if (!warned)
			fprintf(stderr, "sif: warning: the image's squashfs filesystem is damaged: "
			                "what cannot be read from it fails with an I/O error\n");
		warned = true;
		r = -EIO;
	}
	fuse_reply_err(req, -r);
}

/* The start of most operations: the inode INO, checked, which must be of
 * the type TYPE (S_IFREG, S_IFDIR; 0 for any) else the error ERR, and with
 * BUF a buffer of SIZE bytes (NULL for 0).  0, or <0 with the request
 * answered. */
static int begin(fuse_req_t req, fuse_ino_t ino, sqfs_inode *inode, unsigned type, int err,
                 size_t size, char **buf)
{
	struct sif_fuse *f = server(req);
	int r = sif_sqc_inode(&f->chk, inode, f->ll.ino_sqfs(&f->ll, ino));

	if (r < 0) {
		reply_err(req, r);
		return -1;
	}
	if (type && (inode->base.mode & S_IFMT) != type) {
		fuse_reply_err(req, err);
		return -1;
	}
	if (buf && !(*buf = size ? malloc(size) : NULL) && size) {
		fuse_reply_err(req, ENOMEM);
		return -1;
	}
	return 0;
}

/* The image never changes while it is served: every answer may be cached
 * for as long as the kernel likes (squashfuse already uses DBL_MAX for
 * positive entries and attributes, and keep_cache on open). */
static const double FOREVER = DBL_MAX;

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	sqfs_inode inode;
	struct stat st;

	(void)fi;
	if (begin(req, ino, &inode, 0, 0, 0, NULL) < 0)
		return;
	if (sqfs_stat(&server(req)->ll.fs, &inode, &st) != SQFS_OK) {
		reply_err(req, -EBADMSG);
		return;
	}
	st.st_ino = ino;
	fuse_reply_attr(req, &st, FOREVER);
}

/* lookup, with negative entries cached too: a miss is answered as an
 * entry with inode 0, which the kernel remembers for entry_timeout (a
 * library PATH search or Python's import probing asks for many names that
 * do not exist, again and again).  The directory's index makes it a
 * binary search's worth of reading, as in sqfs_dir_lookup. */
static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sif_fuse *f = server(req);
	sqfs_dir_entry entry;
	sqfs_inode dir, inode;
	struct fuse_entry_param fe;
	int r;

	if (begin(req, parent, &dir, S_IFDIR, ENOTDIR, 0, NULL) < 0)
		return;
	memset(&fe, 0, sizeof(fe));
	fe.attr_timeout = fe.entry_timeout = FOREVER;
	r = sif_sqc_lookup(&f->chk, &dir, name, strlen(name), &entry);
	if (r == -ENOENT) {
		fe.ino = 0;   /* a cacheable "no such entry" */
		fuse_reply_entry(req, &fe);
		return;
	}
	if (r < 0 || (r = sif_sqc_inode(&f->chk, &inode, sqfs_dentry_inode(&entry))) < 0) {
		reply_err(req, r);
		return;
	}
	if (sqfs_stat(&f->ll.fs, &inode, &fe.attr) != SQFS_OK) {
		reply_err(req, -EBADMSG);
		return;
	}
	fe.ino = f->ll.ino_register(&f->ll, &entry);
	fe.attr.st_ino = fe.ino;
	fuse_reply_entry(req, &fe);
}

/*
 * Open-less serving.  Where the kernel supports it (FUSE_NO_OPENDIR_SUPPORT,
 * Linux 5.1, whose no-open default also keeps the page cache and caches
 * directory listings), open and opendir answer ENOSYS once and the kernel
 * never sends OPEN, RELEASE, OPENDIR or RELEASEDIR again: a Python start,
 * which opens hundreds of files, then costs no round trip per file.  Reads
 * and readdirs find their inode by number, with or without a handle.
 */
static bool no_open;

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	no_open = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) &&
	          (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT);
	/* Symlink targets in the page cache (Linux 4.20): without it every
	 * walk through a link (/bin -> usr/bin on a merged-/usr image, each
	 * libfoo.so.N -> libfoo.so.N.M.K the loader opens) asks the server
	 * again.  Measured on a join of /bin/true: a READLINK round trip per
	 * exec, about 1% of the launch's CPU in fuse_readlink_folio alone. */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
}

/* open and opendir: an inode of the type TYPE (S_IFREG, S_IFDIR), else
 * the error ERR; no handle is kept */
static void open_as(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, unsigned type,
                    int err)
{
	sqfs_inode inode;

	if (no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (begin(req, ino, &inode, type, err, 0, NULL) < 0)
		return;
	fi->fh = 0;
	fi->keep_cache = type == S_IFREG;
	fuse_reply_open(req, fi);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fi->flags & (O_WRONLY | O_RDWR))
		fuse_reply_err(req, EROFS);
	else
		open_as(req, ino, fi, S_IFREG, EISDIR);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	open_as(req, ino, fi, S_IFDIR, ENOTDIR);
}

/* release and releasedir: nothing was kept open */
static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	sqfs_inode inode;
	char *buf;
	int r;

	(void)fi;
	if (begin(req, ino, &inode, S_IFREG, EISDIR, size, &buf) < 0)
		return;
	if (off < 0 || (r = sif_sqc_read(&server(req)->chk, &inode, (uint64_t)off, &size, buf)) < 0)
		reply_err(req, off < 0 ? -EINVAL : r);
	else
		fuse_reply_buf(req, buf, size);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	struct sif_fuse *f = server(req);
	sqfs_inode inode;
	sqfs_dir_entry entry;
	sqfs_dir dir;
	struct stat st;
	char *buf, *pos;
	int r;

	(void)fi;
	if (begin(req, ino, &inode, S_IFDIR, ENOTDIR, size, &buf) < 0)
		return;
	if (off < 0 || (r = sif_sqc_opendir(&f->chk, &inode, &dir, (uint64_t)off)) < 0) {
		reply_err(req, off < 0 ? -EINVAL : r);
		free(buf);
		return;
	}
	pos = buf;
	memset(&st, 0, sizeof(st));
	while ((r = sif_sqc_next(&f->chk, &dir, &entry)) > 0) {
		size_t n;
		st.st_ino = f->ll.ino_fuse_num(&f->ll, &entry);
		st.st_mode = sqfs_dentry_mode(&entry);
		n = sqfs_ll_add_direntry(req, pos, size, f->chk.name, &st,
		                         sqfs_dentry_next_offset(&entry));
		if (n > size)
			break;
		pos += n;
		size -= n;
	}
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_buf(req, buf, (size_t)(pos - buf));
	free(buf);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	sqfs_inode inode;
	size_t size;
	char *target;

	if (begin(req, ino, &inode, S_IFLNK, EINVAL, 0, NULL) < 0)
		return;
	/* the target follows the (checked) inode; sqfs_readlink reads at most
	 * SIZE - 1 bytes of it */
	if (inode.xtra.symlink_size > 65535) {
		reply_err(req, -EBADMSG);
		return;
	}
	size = inode.xtra.symlink_size + 1;
	if (!(target = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (sqfs_readlink(&server(req)->ll.fs, &inode, target, &size) != SQFS_OK)
		reply_err(req, -EBADMSG);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

/* listxattr and getxattr: SIZE 0 asks for the length only */
static void reply_xattr(fuse_req_t req, long r, char *buf, size_t size)
{
	if (r < 0)
		reply_err(req, (int)r);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	sqfs_inode inode;
	char *buf;

	if (begin(req, ino, &inode, 0, 0, size, &buf) < 0)
		return;
	reply_xattr(req, sif_sqc_listxattr(&server(req)->chk, &inode, buf, size), buf, size);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	sqfs_inode inode;
	char *buf;

	if (begin(req, ino, &inode, 0, 0, size, &buf) < 0)
		return;
	reply_xattr(req, sif_sqc_getxattr(&server(req)->chk, &inode, name, buf, size), buf, size);
}

/*
 * libsquashfuse 0.1.105 keeps 8 metadata blocks, 1 data block and 3
 * fragment blocks decompressed (first in, first out).  The kernel's reads
 * are not aligned to the image's blocks (readahead windows, and the
 * read-around of a page fault in a mapped library, start anywhere): with
 * one data block kept, two reads that share a block decompress it twice;
 * and Python's imports, which go back and forth between directories, evict
 * the few fragments and metadata blocks they keep coming back to.  Measured
 * with "import numpy" from a fresh mount: 861 blocks decompressed (60 MB)
 * for 309 distinct ones; 375 (39 MB) with these sizes, 343 with twice the
 * data blocks and four times the fragments (1 ms less of zstd, 3.5 MiB more
 * of the server's memory: its peak stays under 8 MiB with these).  The
 * caches are the server's own: the kernel's page cache keeps what it
 * served.
 */
#define CACHE_DATA_BYTES (2u << 20)   /* 16 blocks of 128 KiB */
#define CACHE_FRAG_BYTES (512u << 10)
#define CACHE_MD_BLOCKS 64u           /* of 8 KiB */

/* Replace the block cache C by one of COUNT blocks, if bigger; C stays as it
 * was when there is no memory for it. */
static void grow_cache(sqfs_cache *c, size_t count)
{
	sqfs_cache bigger;

	/* on failure sqfs_block_cache_init frees what it took itself */
	if (count <= c->count || sqfs_block_cache_init(&bigger, count) != SQFS_OK)
		return;
	sqfs_cache_destroy(c);
	*c = bigger;
}

/*
 * The tables (inodes, directories, fragments, ids, xattrs) lie at the end
 * of the image, one after the other, and every lookup reads them 8 KiB at a
 * time, each read waiting for the disk when the page cache is cold: they
 * are asked from the disk at once (POSIX_FADV_WILLNEED starts the reads and
 * returns) when they are not too big (200 KiB for a Debian with numpy).
 */
#define AHEAD_TABLES_MAX (16u << 20)

int sif_fuse_open(struct sif_fuse **out, int image_fd, uint64_t offset, char *msg, size_t msglen)
{
	struct sif_fuse *f = calloc(1, sizeof(*f));
	const struct squashfs_super_block *sb;
	sqfs_err e;
	int r;

	if (!f) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	/* sqfs_init reads and checks the superblock at the partition's offset;
	 * unlike sqfs_ll_open it prints nothing and opens nothing itself */
	e = sqfs_init(&f->ll.fs, image_fd, (size_t)offset);
	if (e != SQFS_OK) {
		snprintf(msg, msglen, "%s",
		         e == SQFS_BADCOMP ? "the squashfs compression is not supported by libsquashfuse"
		         : e == SQFS_BADVERSION ? "unsupported squashfs version"
		         : "the squashfs filesystem is damaged");
		free(f);
		return -EBADMSG;
	}
	if ((r = sif_sqc_init(&f->chk, &f->ll.fs)) < 0) {
		snprintf(msg, msglen, "%s", r == -ENOMEM ? "out of memory"
		                            : "the squashfs filesystem is damaged (its block size)");
		sif_sqc_fini(&f->chk);
		sqfs_destroy(&f->ll.fs);
		free(f);
		return r;
	}
	/* the block size was checked by sif_sqc_init */
	grow_cache(&f->ll.fs.data_cache, CACHE_DATA_BYTES / f->ll.fs.sb.block_size);
	grow_cache(&f->ll.fs.frag_cache, CACHE_FRAG_BYTES / f->ll.fs.sb.block_size);
	grow_cache(&f->ll.fs.md_cache, CACHE_MD_BLOCKS);
	sb = &f->ll.fs.sb;
	if (sb->inode_table_start < sb->bytes_used &&
	    sb->bytes_used - sb->inode_table_start <= AHEAD_TABLES_MAX)
		posix_fadvise(image_fd, (off_t)(offset + sb->inode_table_start),
		              (off_t)(sb->bytes_used - sb->inode_table_start), POSIX_FADV_WILLNEED);
	if (sqfs_ll_init(&f->ll) != SQFS_OK) {
		sif_sqc_fini(&f->chk);
		snprintf(msg, msglen, "cannot set up the squashfs inode table");
		sqfs_destroy(&f->ll.fs);
		free(f);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}

int sif_fuse_start(struct sif_fuse *f, int fuse_fd, char *msg, size_t msglen)
{
	static struct fuse_lowlevel_ops ops;
	char *argv[] = {"sif", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	char mnt[32];

	memset(&ops, 0, sizeof(ops));
	ops.getattr = op_getattr;
	ops.opendir = op_opendir;
	ops.releasedir = op_release;
	ops.readdir = op_readdir;
	ops.lookup = op_lookup;
	ops.open = op_open;
	ops.create = sqfs_ll_op_create;
	ops.release = op_release;
	ops.read = op_read;
	ops.readlink = op_readlink;
	ops.listxattr = op_listxattr;
	ops.getxattr = op_getxattr;
	ops.forget = sqfs_ll_op_forget;
	ops.statfs = stfs_ll_op_statfs;
	ops.init = op_init;

	f->se = fuse_session_new(&args, &ops, sizeof(ops), &f->ll);
	if (!f->se) {
		snprintf(msg, msglen, "cannot create the FUSE session");
		return -ENOMEM;
	}
	/* "/dev/fd/N": libfuse takes the descriptor we already mounted with
	 * mount(2) and mounts nothing itself, so fusermount3 is never run */
	snprintf(mnt, sizeof(mnt), "/dev/fd/%d", fuse_fd);
	if (fuse_session_mount(f->se, mnt) != 0) {
		snprintf(msg, msglen, "cannot attach the FUSE session to /dev/fuse");
		fuse_session_destroy(f->se);
		f->se = NULL;
		return -EIO;
	}
	return 0;
}

int sif_fuse_fd(struct sif_fuse *f)
{
	return fuse_session_fd(f->se);
}

/* One request, from the one thread that serves (libsquashfuse 0.1.105 has
 * no locking).  0, or <0 when the mount is gone. */
int sif_fuse_process_one(struct sif_fuse *f)
{
	struct fuse_buf buf = {.mem = NULL};
	int r;

	if (fuse_session_exited(f->se))
		return -ENODEV;
	r = fuse_session_receive_buf(f->se, &buf);
	if (r == -EINTR || r == -EAGAIN) {
		free(buf.mem);
		return 0;
	}
	if (r <= 0) {
		free(buf.mem);
		return r < 0 ? r : -ENODEV;
	}
	fuse_session_process_buf(f->se, &buf);
	free(buf.mem);
	return 0;
}

void sif_fuse_close(struct sif_fuse *f)
{
	if (!f)
		return;
	if (f->se) {
		fuse_session_unmount(f->se);
		fuse_session_destroy(f->se);
	}
	sif_sqc_fini(&f->chk);
	sqfs_ll_destroy(&f->ll);
	free(f);
}
