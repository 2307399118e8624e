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
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* pthread_tryjoin_np */
#endif
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/fuse.h>

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
struct sif_push;

struct sif_fuse {
	sqfs_ll ll;           /* first: the session's userdata, as sqfs_ll_op_forget wants */
	struct sif_sqc chk;
	struct fuse_session *se;
	struct sif_push *push;   /* NULL: none (see push_start) */
	struct sif_sqc_rec *rec; /* the prefetch profile's record, or NULL (none) */
	int pfd;                 /* the prefetch profile, or -1 */
	unsigned nloaded;        /* chunks it had (the first of rec->order) */
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

/*
 * Prefetch profiles.  With the page cache cold, much of what a start waits
 * for in the server is the disk: each data or fragment block a READ needs
 * is a read of the image of its own (~60 KiB, 0.1-0.2 ms here), one after
 * the other, about 100 of them in "import numpy" (19 ms of the serving
 * thread's time, against 22 ms of decompression).  What a start reads is
 * much the same from one start of a program in an image to the next, so
 * the server records which 64 KiB chunks of the image it read blocks from
 * in its first PROFILE_WINDOW_MS (the start, not what the program does for
 * hours after it), in the order first read, and then keeps that list in
 * the user's cache (CACHEDIR/prefetch/IMAGE-PROGRAM: hashes of the squashfs
 * superblock and of the program that started the mount), or when it ends,
 * if sooner.  The next server of
 * that image and program asks the disk for those chunks at once, from the
 * pusher thread, before the first READ comes, and again whenever a launch
 * joins the mount (the page cache may have lost them since); the disk
 * reads them while the launch sets up.  Measured, "import numpy" with the
 * page cache dropped, fresh mounts, interleaved, 20 rounds: -15.6 +- 3.4
 * ms (17.6 MiB of chunks); bench/exec.sh's row (b), whose runs mostly join
 * a lingering mount: 189-201 ms -> 172-176 ms.  Per program, not per image:
 * that profile replayed for /bin/true made its cold start 9 ms slower (its
 * few reads waited behind the others); its own profile makes it 1.7 ms
 * faster.  A profile only grows, to 64 MiB of chunks; it is read whole or
 * not at all (one header, runs inside the filesystem), and a wrong one only
 * makes the disk read parts of the image nobody needed.
 */
#define PROFILE_MAGIC "sif-prefetch 1\n"
#define PROFILE_MAX_BYTES (64u << 10)
#define PROFILE_WINDOW_MS 10000
#define PROFILE_MAX_CHUNKS (1u << 24)   /* 1 TiB images; beyond, no profile */

/* Is the monotonic time T past? */
static bool past(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* The chunks in the first N places of R's order into O, leaving out a place
 * taken but not written yet (SIF_SQC_REC_NONE); how many */
static unsigned profile_chunks(struct sif_sqc_rec *r, unsigned n, uint32_t *o)
{
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t k = __atomic_load_n(&r->order[i], __ATOMIC_ACQUIRE);
		if (k != SIF_SQC_REC_NONE)
			o[m++] = k;
	}
	return m;
}

/* The end of the run of adjacent chunks of O (N of them) that starts at I */
static unsigned run_end(const uint32_t *o, unsigned n, unsigned i)
{
	unsigned j = i + 1;
	while (j < n && o[j] == o[j - 1] + 1)
		j++;
	return j;
}

/* Ask the disk for the first N chunks of R, a run of adjacent chunks at a
 * time */
static void profile_replay(int fd, uint64_t offset, struct sif_sqc_rec *r, unsigned n)
{
	uint32_t o[SIF_SQC_REC_MAX];

	n = profile_chunks(r, n, o);
	for (unsigned i = 0, j; i < n; i = j) {
		j = run_end(o, n, i);
		posix_fadvise(fd, (off_t)(offset + ((uint64_t)o[i] << SIF_SQC_CHUNK_SHIFT)),
		              (off_t)(j - i) << SIF_SQC_CHUNK_SHIFT, POSIX_FADV_WILLNEED);
	}
}

/* Mark in R the chunks of the profile FD: all of them, or none if it is
 * not one (empty, damaged, of another image, being written) */
static void profile_load(int fd, struct sif_sqc_rec *r)
{
	char *buf = malloc(PROFILE_MAX_BYTES + 1), *p, *end;
	uint32_t run[2 * SIF_SQC_REC_MAX];
	unsigned nrun = 0, total = 0;
	ssize_t n;

	if (!buf)
		return;
	flock(fd, LOCK_SH);
	n = pread(fd, buf, PROFILE_MAX_BYTES + 1, 0);
	flock(fd, LOCK_UN);
	if (n < (ssize_t)strlen(PROFILE_MAGIC) || n > (ssize_t)PROFILE_MAX_BYTES ||
	    memcmp(buf, PROFILE_MAGIC, strlen(PROFILE_MAGIC)) != 0 || buf[n - 1] != '\n') {
		free(buf);
		return;
	}
	buf[n] = '\0';
	/* lines of two decimal numbers and nothing else, to the last byte */
	for (p = buf + strlen(PROFILE_MAGIC); p < buf + n; p = end + 1) {
		unsigned long long a, c;
		char *q;
		if (!isdigit((unsigned char)*p))
			break;
		errno = 0;
		a = strtoull(p, &q, 10);
		if (*q != ' ' || !isdigit((unsigned char)q[1]) || errno)
			break;
		c = strtoull(q + 1, &end, 10);
		if (*end != '\n' || errno || c == 0 || a >= r->nchunks ||
		    c > r->nchunks - a || c > SIF_SQC_REC_MAX - total || nrun == SIF_SQC_REC_MAX)
			break;
		run[2 * nrun] = (uint32_t)a;
		run[2 * nrun + 1] = (uint32_t)c;
		nrun++;
		total += (unsigned)c;
	}
	if (p == buf + n)   /* read to the end: every line was good */
		for (unsigned i = 0; i < nrun; i++)
			sif_sqc_mark(r, (uint64_t)run[2 * i] << SIF_SQC_CHUNK_SHIFT,
			             (uint64_t)run[2 * i + 1] << SIF_SQC_CHUNK_SHIFT);
	free(buf);
}

/* Stop recording R and write it to the profile PFD, which had NLOADED of
 * its chunks, when it has others; once (the pusher when its window ends,
 * or the server when it ends, whichever comes first). */
static void profile_close(struct sif_sqc_rec *r, int pfd, unsigned nloaded)
{
	uint32_t *o;
	unsigned n, m;
	size_t cap, len;
	char *buf;

	if (__atomic_exchange_n(&r->stopped, 1, __ATOMIC_ACQ_REL))
		return;
	m = __atomic_load_n(&r->count, __ATOMIC_ACQUIRE);
	m = m < SIF_SQC_REC_MAX ? m : SIF_SQC_REC_MAX;
	if (m <= nloaded || !(o = malloc(m * sizeof(*o))))
		return;
	n = profile_chunks(r, m, o);
	cap = strlen(PROFILE_MAGIC) + 1 + (size_t)n * 24;
	if (n <= nloaded || !(buf = malloc(cap))) {
		free(o);
		return;
	}
	len = (size_t)snprintf(buf, cap, "%s", PROFILE_MAGIC);
	for (unsigned i = 0, j; i < n; i = j) {
		j = run_end(o, n, i);
		len += (size_t)snprintf(buf + len, cap - len, "%u %u\n", o[i], j - i);
	}
	free(o);
	if (flock(pfd, LOCK_EX) == 0) {
		/* a write cut short leaves whole lines, or a last one without its
		 * newline, which profile_load refuses: never a wrong profile */
		if (ftruncate(pfd, 0) == 0 && pwrite(pfd, buf, len, 0) < 0) {
			/* an empty profile: the next server starts without one */
		}
		flock(pfd, LOCK_UN);
	}
	free(buf);
}

/* FNV-1a of the N bytes at P */
static uint64_t fnv(const void *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
	return h;
}

int sif_fuse_profile(struct sif_fuse *f, int dirfd, const char *tag)
{
	const unsigned bpw = 8 * sizeof(unsigned long);
	struct sif_sqc_rec *r;
	struct stat st;
	uint64_t bytes;
	char name[40];
	int fd;

	if (f->rec)
		return f->pfd;
	/* the chunks the image has (its superblock may claim more) */
	if (fstat(f->ll.fs.fd, &st) < 0 || (uint64_t)st.st_size <= f->ll.fs.offset)
		return -EINVAL;
	bytes = (uint64_t)st.st_size - f->ll.fs.offset;
	if (f->ll.fs.sb.bytes_used < bytes)
		bytes = f->ll.fs.sb.bytes_used;
	if (bytes == 0 || (bytes + (1u << SIF_SQC_CHUNK_SHIFT) - 1) >> SIF_SQC_CHUNK_SHIFT >
	                          PROFILE_MAX_CHUNKS)
		return -EFBIG;
	snprintf(name, sizeof(name), "%016llx-%016llx",
	         (unsigned long long)fnv(&f->ll.fs.sb, sizeof(f->ll.fs.sb)),
	         (unsigned long long)fnv(tag, strlen(tag)));
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0)
		return -errno;
	/* the user's own file, writable, and no other name of another file */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1 || !(st.st_mode & S_IWUSR)) {
		close(fd);
		return -EPERM;
	}
	r = calloc(1, sizeof(*r));
	if (r) {
		r->nchunks = (bytes + (1u << SIF_SQC_CHUNK_SHIFT) - 1) >> SIF_SQC_CHUNK_SHIFT;
		r->bits = calloc((size_t)((r->nchunks + bpw - 1) / bpw), sizeof(unsigned long));
		memset(r->order, 0xff, sizeof(r->order));   /* SIF_SQC_REC_NONE */
	}
	if (!r || !r->bits) {
		free(r);
		close(fd);
		return -ENOMEM;
	}
	profile_load(fd, r);
	f->nloaded = r->count;
	f->rec = r;
	f->chk.rec = r;
	f->pfd = fd;
	return fd;
}

/*
 * Pushing programs ahead of their page faults.
 *
 * A program or library is read through page faults on its mapping, each
 * a READ of the kernel's read-around window that the faulting process
 * waits for: 128 KiB on FUSE (the kernel's own default, which a FUSE
 * server may only lower), where the page cache of a disk gets the disk's
 * read-ahead (8 MiB on this machine's virtio disk: bwrap's python3 start
 * takes 37 major faults, sif's 210).  "import numpy" from a fresh mount
 * sent 432 READs, 250 of them for ELF files (python3.11 61, libcrypto 54,
 * _multiarray_umath 40, libc 24), each of which gets mostly read.  So when
 * a READ at offset 0 finds an ELF header (execve and the dynamic loader
 * read it before mapping the file), a second thread decompresses the rest
 * of the file, up to PUSH_MAX_BYTES, and stores it into the kernel's page
 * cache (FUSE_NOTIFY_STORE) while the program starts on the other CPU:
 * its faults then find the pages there.  Measured, "import numpy" with
 * the page cache dropped, interleaved with the build before, paired
 * differences: -31 ms +- 4 (20 rounds, a shared mount; READs 428 -> 316,
 * jobs first in first out), -26 ms +- 5 (16 rounds, fresh mounts, newest
 * first as below); with both CPUs kept busy by other work, no slower
 * (-9 ms +- 19).  At SCHED_IDLE it was slower than none with the CPUs
 * busy (+23 to +36 ms): a store holds each page locked while it copies,
 * and a thread that only runs on an idle CPU may hold it long.
 *
 * The pusher reads the image through its own libsquashfuse handle
 * (libsquashfuse has no locking), with the same checks as the serving
 * thread: a damaged block stops the push of that file (the READ that
 * meets it warns).  It must be a thread other than the serving one: a
 * store waits for the pages it writes to be unlocked, and a page being
 * read stays locked until the server answers that READ.  The serving
 * thread never waits for the pusher: it hands a file over only when the
 * queue's lock is free and there is room.
 */
#define PUSH_MAX_BYTES (64u << 20)
#define PUSH_QUEUE 16
#define PUSH_CHUNK_BLOCKS 2

struct push_job {
	fuse_ino_t ino;
	sqfs_inode inode;
	uint64_t pos, end;
};

struct sif_push {
	struct fuse_session *se;
	struct sif_sqc_rec *rec;            /* the profile's record, or NULL */
	int pfd;                            /* the profile */
	unsigned nreplay;                   /* chunks to ask for: the profile's, then all
	                                     * recorded once the window closed */
	bool replay_due;                    /* at the start, and when a launch joins */
	struct timespec window_end;         /* of the recording (CLOCK_MONOTONIC) */
	bool window_open;
	uint64_t offset;                    /* of the filesystem in the image file */
	sqfs fs;                  /* the pusher's own handle on the image */
	struct sif_sqc chk;
	size_t chunk;             /* PUSH_CHUNK_BLOCKS blocks, at least a page */
	size_t page;
	char *buf;                /* a chunk */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct push_job q[PUSH_QUEUE];
	unsigned head, count;
};

/* Store N bytes of DATA at OFF of the kernel's inode INO (FUSE_NOTIFY_STORE),
 * written here rather than by fuse_lowlevel_notify_store, which prints
 * every failure but ENOENT to stderr, and the server's stderr goes to the
 * launches using the mount: a store that fails (ENOMEM in a job's memory
 * limit, say) only ends a push.  0 or -errno. */
static int store(int fd, uint64_t ino, uint64_t off, const void *data, size_t n)
{
	struct fuse_out_header oh = {
		.len = (uint32_t)(sizeof(oh) + sizeof(struct fuse_notify_store_out) + n),
		.error = FUSE_NOTIFY_STORE,
		.unique = 0,
	};
	struct fuse_notify_store_out so = {.nodeid = ino, .offset = off, .size = (uint32_t)n};
	struct iovec iov[3] = {{&oh, sizeof(oh)}, {&so, sizeof(so)}, {(void *)data, n}};

	return writev(fd, iov, 3) < 0 ? -errno : 0;
}

/* Push one chunk of J (the newest job), which moves on: 0, or -1 when J
 * is done (or cannot go on: a damaged block, an inode the kernel no
 * longer knows, the mount gone). */
static int push_chunk(struct sif_push *p, struct push_job *j)
{
	/* chunks end on block and page boundaries: each decompresses its
	 * blocks once, and the kernel marks whole pages only as read */
	size_t n = (size_t)(p->chunk - j->pos % p->chunk);

	if (j->pos >= j->end)
		return -1;
	if (n > j->end - j->pos)
		n = (size_t)(j->end - j->pos);
	if (sif_sqc_read(&p->chk, &j->inode, j->pos, &n, p->buf) < 0 || n == 0)
		return -1;
	if (store(fuse_session_fd(p->se), j->ino, j->pos, p->buf, n) < 0)
		return -1;
	j->pos += n;
	return 0;
}

/*
 * The jobs are taken newest first, a chunk at a time: the dynamic loader
 * reads the header of each library before it maps the next, and the
 * program's own code runs after all are loaded, so the file whose header
 * came last is the one about to be faulted on.  (First in, first out, the
 * pusher was still on python3.11 when libc's relocation faulted: libc took
 * 18 READs of the server.)
 */
static void *push_main(void *arg)
{
	struct sif_push *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct push_job j;
		unsigned top;
		int r;

		while (!p->stop && p->count == 0 && !__atomic_load_n(&p->replay_due, __ATOMIC_ACQUIRE)) {
			if (!p->window_open)
				pthread_cond_wait(&p->cv, &p->mu);
			else if (pthread_cond_timedwait(&p->cv, &p->mu, &p->window_end) == ETIMEDOUT)
				break;
		}
		if (p->stop)
			break;
		if (p->window_open && past(&p->window_end)) {
			unsigned n;
			p->window_open = false;
			pthread_mutex_unlock(&p->mu);
			profile_close(p->rec, p->pfd, p->nreplay);
			/* the launches that join from now on get all that was
			 * recorded (a mount made before its profile existed
			 * would otherwise ask for nothing) */
			n = __atomic_load_n(&p->rec->count, __ATOMIC_ACQUIRE);
			pthread_mutex_lock(&p->mu);
			__atomic_store_n(&p->nreplay, n < SIF_SQC_REC_MAX ? n : SIF_SQC_REC_MAX,
			                 __ATOMIC_RELAXED);
			continue;
		}
		if (__atomic_load_n(&p->replay_due, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&p->replay_due, false, __ATOMIC_RELEASE);
			pthread_mutex_unlock(&p->mu);
			profile_replay(p->fs.fd, p->offset, p->rec,
			               __atomic_load_n(&p->nreplay, __ATOMIC_RELAXED));
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->count == 0)
			continue;
		top = (p->head + p->count - 1) % PUSH_QUEUE;
		j = p->q[top];
		pthread_mutex_unlock(&p->mu);
		r = push_chunk(p, &j);
		pthread_mutex_lock(&p->mu);
		/* the job is where it was unless newer ones came, or it was dropped */
		for (unsigned i = 0; i < p->count; i++) {
			unsigned k = (p->head + i) % PUSH_QUEUE;
			if (p->q[k].ino != j.ino)
				continue;
			if (r == 0) {
				p->q[k].pos = j.pos;
				break;
			}
			for (; i + 1 < p->count; i++)   /* remove it, keeping the order */
				p->q[(p->head + i) % PUSH_QUEUE] = p->q[(p->head + i + 1) % PUSH_QUEUE];
			p->count--;
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void push_free(struct sif_push *p)
{
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->buf);
	sif_sqc_fini(&p->chk);
	sqfs_destroy(&p->fs);
	free(p);
}

/* Start the pusher of F, whose session exists: without it (no memory, no
 * thread) the server only serves, as it did before. */
static void push_start(struct sif_fuse *f)
{
	struct sif_push *p = calloc(1, sizeof(*p));

	if (!p)
		return;
	pthread_mutex_init(&p->mu, NULL);
	/* the recording window is timed on the monotonic clock */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (sqfs_init(&p->fs, f->ll.fs.fd, f->ll.fs.offset) != SQFS_OK) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return;
	}
	/* block sizes and page sizes are powers of two: the larger is a
	 * multiple of the other */
	p->page = (size_t)sysconf(_SC_PAGESIZE);
	p->chunk = (size_t)p->fs.sb.block_size * PUSH_CHUNK_BLOCKS;
	if (p->chunk < p->page)
		p->chunk = p->page;
	if (sif_sqc_init(&p->chk, &p->fs) < 0 || !(p->buf = malloc(p->chunk))) {
		push_free(p);
		return;
	}
	p->chk.rec = p->rec = f->rec;
	p->pfd = f->pfd;
	p->nreplay = f->nloaded;
	p->replay_due = p->nreplay > 0;
	p->offset = f->ll.fs.offset;
	if (p->rec && clock_gettime(CLOCK_MONOTONIC, &p->window_end) == 0) {
		p->window_end.tv_sec += PROFILE_WINDOW_MS / 1000;
		p->window_open = true;
	}
	p->se = f->se;
	if (pthread_create(&p->thread, NULL, push_main, p) != 0) {
		push_free(p);
		return;
	}
	f->push = p;
}

/* The READ at 0 of INO answered with DATA (SIZE bytes): if it is an ELF
 * file, hand the rest over.  Never waits. */
static void push_maybe(struct sif_fuse *f, fuse_ino_t ino, const sqfs_inode *inode,
                       const char *data, size_t size)
{
	struct sif_push *p = f->push;
	uint64_t end = inode->xtra.reg.file_size, from;
	struct push_job *j;

	if (!p || size >= end || size < SELFMAG || memcmp(data, ELFMAG, SELFMAG) != 0)
		return;
	from = size / p->page * p->page;   /* whole pages only are marked read */
	if (end > PUSH_MAX_BYTES)
		end = PUSH_MAX_BYTES;
	if (from >= end || pthread_mutex_trylock(&p->mu) != 0)
		return;
	for (unsigned i = 0; i < p->count; i++)
		if (p->q[(p->head + i) % PUSH_QUEUE].ino == ino)
			goto out;   /* already there */
	if (p->count == PUSH_QUEUE) {   /* full: the oldest job goes */
		p->head = (p->head + 1) % PUSH_QUEUE;
		p->count--;
	}
	j = &p->q[(p->head + p->count) % PUSH_QUEUE];
	j->ino = ino;
	j->inode = *inode;
	j->pos = from;
	j->end = end;
	p->count++;
	pthread_cond_signal(&p->cv);
out:
	pthread_mutex_unlock(&p->mu);
}

void sif_fuse_joined(struct sif_fuse *f)
{
	struct sif_push *p = f ? f->push : NULL;

	if (!p || __atomic_load_n(&p->nreplay, __ATOMIC_RELAXED) == 0)
		return;
	/* as push_maybe, never waiting for the pusher: when its lock is
	 * taken, the replay waits for the pusher's next wake-up */
	__atomic_store_n(&p->replay_due, true, __ATOMIC_RELEASE);
	if (pthread_mutex_trylock(&p->mu) == 0) {
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

/*
 * Stop the pusher: true once it has ended.  After its stop flag it ends
 * its chunk, whose store may wait for pages a READ holds locked, in a
 * wait that not even SIGKILL ends: so until it has ended, the requests
 * keep being answered here (the serving loop has ended already), and once
 * the mount is gone the kernel has ended every request.  False only if it
 * has not ended after PUSH_STOP_MS (it cannot happen as far as the kernel
 * goes: the pusher waits only for READs answered here); then the thread
 * and what it uses, the session too, are left to the process's exit,
 * which follows.
 */
#define PUSH_STOP_MS 10000

static bool push_stop(struct sif_fuse *f)
{
	struct sif_push *p = f->push;
	struct timespec deadline;
	bool served_out = false;

	if (!p)
		return true;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PUSH_STOP_MS / 1000;
	while (pthread_tryjoin_np(p->thread, NULL) != 0) {
		if (past(&deadline))
			return false;
		if (!served_out) {
			struct pollfd pf = {.fd = fuse_session_fd(f->se), .events = POLLIN};
			int r = poll(&pf, 1, 10);
			if (r > 0 && ((pf.revents & (POLLERR | POLLHUP | POLLNVAL)) ||
			              sif_fuse_process_one(f) < 0))
				served_out = true;   /* the mount is gone */
		} else {
			struct timespec ms = {0, 1000 * 1000};
			nanosleep(&ms, NULL);
		}
	}
	f->push = NULL;
	push_free(p);
	return true;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	struct sif_fuse *f = server(req);
	sqfs_inode inode;
	char *buf;
	int r;

	(void)fi;
	if (begin(req, ino, &inode, S_IFREG, EISDIR, size, &buf) < 0)
		return;
	if (off < 0 || (r = sif_sqc_read(&f->chk, &inode, (uint64_t)off, &size, buf)) < 0) {
		reply_err(req, off < 0 ? -EINVAL : r);
	} else {
		fuse_reply_buf(req, buf, size);
		if (off == 0)
			push_maybe(f, ino, &inode, buf, size);
	}
	free(buf);
}

/*
 * readdir and readdirplus.  With readdirplus (FUSE_CAP_READDIRPLUS, which
 * libfuse asks for when the operation exists, adaptively: the kernel uses
 * it for a directory's first listing and again only when lookups followed)
 * a listing brings each entry's attributes, and the kernel keeps them as
 * it keeps a lookup's: Python lists each directory of its path and then
 * stats what it found there, a LOOKUP round trip per name otherwise.
 * Measured, "import numpy" from a fresh mount: 433 LOOKUPs -> 277.  An
 * entry whose inode is damaged is listed without attributes (the kernel
 * then looks it up, which fails with EIO, as plain readdir would).
 */
static void readdir_as(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct sif_fuse *f = server(req);
	sqfs_inode inode, child;
	sqfs_dir_entry entry;
	sqfs_dir dir;
	struct fuse_entry_param fe;
	struct stat st;
	char *buf, *pos;
	int r;

	if (begin(req, ino, &inode, S_IFDIR, ENOTDIR, size, &buf) < 0)
		return;
	if (off < 0 || (r = sif_sqc_opendir(&f->chk, &inode, &dir, (uint64_t)off)) < 0) {
		reply_err(req, off < 0 ? -EINVAL : r);
		free(buf);
		return;
	}
	pos = buf;
	while ((r = sif_sqc_next(&f->chk, &dir, &entry)) > 0) {
		off_t next = (off_t)sqfs_dentry_next_offset(&entry);
		size_t n;

		memset(&fe, 0, sizeof(fe));
		fe.attr.st_ino = f->ll.ino_fuse_num(&f->ll, &entry);
		fe.attr.st_mode = sqfs_dentry_mode(&entry);
		/* an entry that does not fit is not sent: registered, it would
		 * never be forgotten (libsquashfuse counts them on 32-bit) */
		if (plus && fuse_add_direntry_plus(req, NULL, 0, f->chk.name, NULL, 0) <= size &&
		    sif_sqc_inode(&f->chk, &child, sqfs_dentry_inode(&entry)) == 0 &&
		    sqfs_stat(&f->ll.fs, &child, &st) == SQFS_OK) {
			fe.ino = f->ll.ino_register(&f->ll, &entry);
			fe.attr = st;
			fe.attr.st_ino = fe.ino;
			fe.attr_timeout = fe.entry_timeout = FOREVER;
		}
		n = plus ? fuse_add_direntry_plus(req, pos, size, f->chk.name, &fe, next)
		         : fuse_add_direntry(req, pos, size, f->chk.name, &fe.attr, next);
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

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	(void)fi;
	readdir_as(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
	(void)fi;
	readdir_as(req, ino, size, off, true);
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
	f->pfd = -1;
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
	ops.readdirplus = op_readdirplus;
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
	push_start(f);
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
	if (!f || !push_stop(f))
		return;
	if (f->se && f->rec)   /* the server, not the launcher's copy */
		profile_close(f->rec, f->pfd, f->nloaded);
	if (f->pfd >= 0)
		close(f->pfd);
	if (f->rec)
		free(f->rec->bits);
	free(f->rec);
	if (f->se) {
		fuse_session_unmount(f->se);
		fuse_session_destroy(f->se);
	}
	sif_sqc_fini(&f->chk);
	sqfs_ll_destroy(&f->ll);
	free(f);
}
