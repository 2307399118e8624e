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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <squashfuse/dir.h>
#include <squashfuse/file.h>
#include <squashfuse/ll.h>

#include "fuse.h"

/* Exported by libsquashfuse (stat.c) but missing from its installed
 * headers in 0.1.105. */
sqfs_err sqfs_stat(sqfs *fs, sqfs_inode *inode, struct stat *st);

/* The image never changes while it is served: every answer may be cached
 * for as long as the kernel likes (squashfuse already uses DBL_MAX for
 * positive entries and attributes, and keep_cache on open). */
static const double FOREVER = DBL_MAX;

/* lookup, with negative entries cached too: a miss is answered as an
 * entry with inode 0, which the kernel remembers for entry_timeout (a
 * library PATH search or Python's import probing asks for many names that
 * do not exist, again and again). */
static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	sqfs_ll_i lli;
	sqfs_name namebuf;
	sqfs_dir_entry entry;
	bool found = false;
	sqfs_inode inode;
	struct fuse_entry_param fe;

	if (sqfs_ll_iget(req, &lli, parent))
		return;   /* replied */
	if (!S_ISDIR(lli.inode.base.mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	sqfs_dentry_init(&entry, namebuf);
	if (sqfs_dir_lookup(&lli.ll->fs, &lli.inode, name, strlen(name), &entry, &found)) {
		fuse_reply_err(req, EIO);
		return;
	}
	memset(&fe, 0, sizeof(fe));
	fe.attr_timeout = fe.entry_timeout = FOREVER;
	if (!found) {
		fe.ino = 0;   /* a cacheable "no such entry" */
		fuse_reply_entry(req, &fe);
		return;
	}
	if (sqfs_inode_get(&lli.ll->fs, &inode, sqfs_dentry_inode(&entry)) ||
	    sqfs_stat(&lli.ll->fs, &inode, &fe.attr)) {
		fuse_reply_err(req, EIO);
		return;
	}
	fe.ino = lli.ll->ino_register(lli.ll, &entry);
	fe.attr.st_ino = fe.ino;
	fuse_reply_entry(req, &fe);
}

/*
 * Open-less serving.  Where the kernel supports it (FUSE_NO_OPENDIR_SUPPORT,
 * Linux 5.1, whose no-open default also keeps the page cache and caches
 * directory listings), open and opendir answer ENOSYS once and the kernel
 * never sends OPEN, RELEASE, OPENDIR or RELEASEDIR again: a Python start,
 * which opens hundreds of files, then costs no round trip per file.  Reads
 * and readdirs then come with no handle, and find their inode by number.
 */
static bool no_open;

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	no_open = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) &&
	          (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (no_open && !(fi->flags & (O_WRONLY | O_RDWR)))
		fuse_reply_err(req, ENOSYS);
	else
		sqfs_ll_op_open(req, ino, fi);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (no_open)
		fuse_reply_err(req, ENOSYS);
	else
		sqfs_ll_op_opendir(req, ino, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	sqfs_ll *ll = fuse_req_userdata(req);
	sqfs_inode own, *inode = (sqfs_inode *)(intptr_t)fi->fh;
	sqfs_off_t osize = (sqfs_off_t)size;
	char *buf;

	if (!inode) {
		if (sqfs_ll_inode(ll, &own, ino) != SQFS_OK) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		inode = &own;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (sqfs_read_range(&ll->fs, inode, off, &osize, buf) != SQFS_OK)
		fuse_reply_err(req, EIO);
	else
		fuse_reply_buf(req, buf, (size_t)osize);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	sqfs_ll_i own, *lli = (sqfs_ll_i *)(intptr_t)fi->fh;
	sqfs_name namebuf;
	sqfs_dir_entry entry;
	sqfs_dir dir;
	sqfs_err e = SQFS_OK;
	struct stat st;
	char *buf, *pos;

	if (!lli) {
		if (sqfs_ll_iget(req, &own, ino))
			return;   /* replied */
		lli = &own;
	}
	if (!S_ISDIR(lli->inode.base.mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (sqfs_dir_open(&lli->ll->fs, &lli->inode, &dir, off)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pos = buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memset(&st, 0, sizeof(st));
	sqfs_dentry_init(&entry, namebuf);
	while (sqfs_dir_next(&lli->ll->fs, &dir, &entry, &e)) {
		size_t n;
		st.st_ino = lli->ll->ino_fuse_num(lli->ll, &entry);
		st.st_mode = sqfs_dentry_mode(&entry);
		n = sqfs_ll_add_direntry(req, pos, size, sqfs_dentry_name(&entry), &st,
		                         sqfs_dentry_next_offset(&entry));
		if (n > size)
			break;
		pos += n;
		size -= n;
	}
	if (e)
		fuse_reply_err(req, EIO);
	else
		fuse_reply_buf(req, buf, (size_t)(pos - buf));
	free(buf);
}

struct sif_fuse {
	sqfs_ll ll;
	struct fuse_session *se;
};

int sif_fuse_open(struct sif_fuse **out, int image_fd, uint64_t offset, char *msg, size_t msglen)
{
	struct sif_fuse *f = calloc(1, sizeof(*f));
	sqfs_err e;

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
	if (sqfs_ll_init(&f->ll) != SQFS_OK) {
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
	ops.getattr = sqfs_ll_op_getattr;
	ops.opendir = op_opendir;
	ops.releasedir = sqfs_ll_op_releasedir;
	ops.readdir = op_readdir;
	ops.lookup = op_lookup;
	ops.open = op_open;
	ops.create = sqfs_ll_op_create;
	ops.release = sqfs_ll_op_release;
	ops.read = op_read;
	ops.readlink = sqfs_ll_op_readlink;
	ops.listxattr = sqfs_ll_op_listxattr;
	ops.getxattr = sqfs_ll_op_getxattr;
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
	sqfs_ll_destroy(&f->ll);
	free(f);
}
