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
#define _GNU_SOURCE 1   /* sched_getaffinity; our config.h is not for this file */
#include <errno.h>
#include <float.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

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

/* The kernel reads ahead through FUSE in requests of max_readahead: a
 * whole squashfs block (128 KiB by default, up to 1 MiB) per request means
 * each block is decompressed once, and fewer round trips. */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->max_readahead < (1u << 20))
		conn->max_readahead = 1u << 20;
	conn->want |= conn->capable & FUSE_CAP_ASYNC_READ;
}

/*
 * Several threads serve: reads, where the time goes (decompression), run in
 * parallel, each thread with a squashfs handle of its own (libsquashfuse
 * 0.1.105 has no locking, so nothing of one handle is ever touched by two
 * threads); every other operation goes through the shared handle under one
 * lock.  An open file's inode (fi->fh) is plain data, valid in any handle
 * of the same image.
 */
struct sif_fuse {
	sqfs_ll ll;
	struct fuse_session *se;
	int image_fd;
	size_t offset;
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread sqfs *thread_fs;
static struct sif_fuse *the_fuse;   /* one server per process */

#define LOCKED(op, call) \
	static void locked_##op call

LOCKED(getattr, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_getattr(r, i, f); pthread_mutex_unlock(&shared_lock); }
LOCKED(opendir, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_opendir(r, i, f); pthread_mutex_unlock(&shared_lock); }
LOCKED(releasedir, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_releasedir(r, i, f); pthread_mutex_unlock(&shared_lock); }
LOCKED(readdir, (fuse_req_t r, fuse_ino_t i, size_t n, off_t o, struct fuse_file_info *f))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_readdir(r, i, n, o, f); pthread_mutex_unlock(&shared_lock); }
LOCKED(open, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_open(r, i, f); pthread_mutex_unlock(&shared_lock); }
LOCKED(create, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m, struct fuse_file_info *f))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_create(r, p, n, m, f); pthread_mutex_unlock(&shared_lock); }
LOCKED(release, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_release(r, i, f); pthread_mutex_unlock(&shared_lock); }
LOCKED(readlink, (fuse_req_t r, fuse_ino_t i))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_readlink(r, i); pthread_mutex_unlock(&shared_lock); }
LOCKED(listxattr, (fuse_req_t r, fuse_ino_t i, size_t n))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_listxattr(r, i, n); pthread_mutex_unlock(&shared_lock); }
LOCKED(getxattr, (fuse_req_t r, fuse_ino_t i, const char *n, size_t z))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_getxattr(r, i, n, z); pthread_mutex_unlock(&shared_lock); }
LOCKED(forget, (fuse_req_t r, fuse_ino_t i, unsigned long n))
{ pthread_mutex_lock(&shared_lock); sqfs_ll_op_forget(r, i, n); pthread_mutex_unlock(&shared_lock); }
LOCKED(statfs, (fuse_req_t r, fuse_ino_t i))
{ pthread_mutex_lock(&shared_lock); stfs_ll_op_statfs(r, i); pthread_mutex_unlock(&shared_lock); }
LOCKED(lookup, (fuse_req_t r, fuse_ino_t p, const char *n))
{ pthread_mutex_lock(&shared_lock); op_lookup(r, p, n); pthread_mutex_unlock(&shared_lock); }

/* read, in the calling thread's own handle */
static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	sqfs_inode *inode = (sqfs_inode *)(intptr_t)fi->fh;
	sqfs_off_t osize = (sqfs_off_t)size;
	char *buf;

	(void)ino;
	if (!thread_fs) {
		sqfs *fs = calloc(1, sizeof(*fs));
		if (!fs || sqfs_init(fs, the_fuse->image_fd, the_fuse->offset) != SQFS_OK) {
			free(fs);
			fuse_reply_err(req, EIO);
			return;
		}
		thread_fs = fs;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (sqfs_read_range(thread_fs, inode, off, &osize, buf) != SQFS_OK)
		fuse_reply_err(req, EIO);
	else
		fuse_reply_buf(req, buf, (size_t)osize);
	free(buf);
}

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
	f->image_fd = image_fd;
	f->offset = (size_t)offset;
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
	ops.getattr = locked_getattr;
	ops.opendir = locked_opendir;
	ops.releasedir = locked_releasedir;
	ops.readdir = locked_readdir;
	ops.lookup = locked_lookup;
	ops.open = locked_open;
	ops.create = locked_create;
	ops.release = locked_release;
	ops.read = op_read;
	ops.readlink = locked_readlink;
	ops.listxattr = locked_listxattr;
	ops.getxattr = locked_getxattr;
	ops.forget = locked_forget;
	ops.statfs = locked_statfs;
	ops.init = op_init;

	the_fuse = f;
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

/* A serving thread: wait for requests and answer them until the mount is
 * gone, then end the process (the holder has nothing left to hold). */
static void *worker(void *p)
{
	struct sif_fuse *f = p;
	struct pollfd pfd = {.fd = fuse_session_fd(f->se), .events = POLLIN};

	for (;;) {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		if ((pfd.revents & (POLLERR | POLLNVAL)) || sif_fuse_process_one(f) < 0)
			break;
	}
	_exit(0);
	return NULL;
}

int sif_fuse_start_threads(struct sif_fuse *f)
{
	cpu_set_t set;
	int n = 1;
	pthread_attr_t a;

	/* as many as the CPUs this process may use (login nodes are shared) */
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n > 8)
		n = 8;
	if (n < 1)
		n = 1;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 * 1024);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, &a, worker, f) != 0) {
			pthread_attr_destroy(&a);
			return i > 0 ? i : -EAGAIN;
		}
	}
	pthread_attr_destroy(&a);
	return n;
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
