/* SPDX-License-Identifier: BSD-3-Clause */
/* Namespaces, the image mount and the container root. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enter.h"
#include "fuse.h"
#include "fusemod.h"
#include "io.h"
#include "resolve.h"
#include "share.h"
#include "starter.h"

void sif_trace(const struct sif_launch *l, const char *fmt, ...)
{
	va_list ap;

	if (!l->verbose)
		return;
	fputs("sif: debug: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- preflight ------------------------------------------------------------ */

static long read_sysctl(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long v = -1;

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) > 0)
			v = strtol(buf, NULL, 10);
		close(fd);
	}
	return v;
}

int sif_preflight(const struct sif_launch *l, struct sif_err *err)
{
	if (read_sysctl("/proc/sys/user/max_user_namespaces") == 0)
		return sif_err_advise(err, EPERM, "user namespaces are disabled on this machine "
		                   "(user.max_user_namespaces = 0): ask the administrator to run "
		                   "'sysctl -w user.max_user_namespaces=15000' and keep it in /etc/sysctl.d");
	if (read_sysctl("/proc/sys/kernel/unprivileged_userns_clone") == 0)
		return sif_err_advise(err, EPERM, "unprivileged user namespaces are disabled "
		                   "(kernel.unprivileged_userns_clone = 0): ask the administrator to "
		                   "set it to 1");
	if (read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1)
		return sif_err_set(err, EPERM, "AppArmor restricts unprivileged user namespaces "
		                   "(kernel.apparmor_restrict_unprivileged_userns = 1): ask the "
		                   "administrator to install an AppArmor profile that allows 'userns' "
		                   "for sif, or to set it to 0");
	if (l->image.kind != SIF_IMAGE_DIR) {
		int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			if (e == ENOENT || e == ENODEV || e == ENXIO)
				return sif_err_advise(err, e, "/dev/fuse is missing (%s): ask the administrator "
				                   "to load the fuse module ('modprobe fuse')", strerror(e));
			return sif_err_set(err, e, "/dev/fuse cannot be opened (%s): ask the "
			                   "administrator to make it mode 0666, as Debian does", strerror(e));
		}
		close(fd);
	}
	sif_trace(l, "preflight: user namespaces allowed%s", l->image.kind != SIF_IMAGE_DIR ?
	          ", /dev/fuse usable" : "");
	return 0;
}

/* ---- small mount helpers ------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		r = -errno;
	close(fd);
	return r;
}

int sif_map_ids(unsigned inside_uid, unsigned uid, unsigned inside_gid, unsigned gid)
{
	char map[64];
	int r = write_file("/proc/self/setgroups", "deny");

	if (r == 0) {
		snprintf(map, sizeof(map), "%u %u 1\n", inside_uid, uid);
		r = write_file("/proc/self/uid_map", map);
	}
	if (r == 0) {
		snprintf(map, sizeof(map), "%u %u 1\n", inside_gid, gid);
		r = write_file("/proc/self/gid_map", map);
	}
	return r;
}

static void fdpath(char buf[64], int fd)
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

/* Flags a remount must keep: in a user namespace, nosuid, nodev, noexec
 * and the atime flags of a mount that came from outside are locked. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
	return f;
}


/* Read-only, with every mount below (mount_setattr, Linux 5.12); where the
 * kernel lacks it, the top mount only. */
static int make_readonly(const char *path, bool recursive)
{
#ifdef SYS_mount_setattr
	struct mount_attr_v0 {
		uint64_t attr_set, attr_clr, propagation, userns_fd;
	} attr = {.attr_set = 0x00000001 /* MOUNT_ATTR_RDONLY */};
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? 0x8000 /* AT_RECURSIVE */ : 0,
	            &attr, sizeof(attr)) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
#endif
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(path), NULL) < 0)
		return -errno;
	return 0;
}

/* Does DST stop existing inside a tmpfs of ours (where making the mount
 * point touches nothing of the host's)? */
static bool in_fresh_mount(struct sif_session *s, const char *dst)
{
	char canon[PATH_MAX], rest[PATH_MAX];
	struct sif_err e;

	if (s->nfresh == 0 || sif_resolve_prefix(s->rootfd, dst, canon, sizeof(canon), rest,
	                                         sizeof(rest), &e) < 0 || !rest[0])
		return false;
	for (size_t i = 0; i < s->nfresh; i++) {
		if (!sif_path_under(canon, s->fresh[i]))
			continue;
		/* and on that tmpfs itself, not on a host directory an earlier
		 * bind put inside it */
		struct stat a, b;
		int fa = sif_resolve(s->rootfd, canon, SIF_RESOLVE_EXISTING, true, NULL, 0, &e);
		int fb = sif_resolve(s->rootfd, s->fresh[i], SIF_RESOLVE_EXISTING, true, NULL, 0, &e);
		bool same = fa >= 0 && fb >= 0 && fstat(fa, &a) == 0 && fstat(fb, &b) == 0 &&
		            a.st_dev == b.st_dev;
		if (fa >= 0)
			close(fa);
		if (fb >= 0)
			close(fb);
		return same;
	}
	return false;
}

/* Bind SRC (a host path) onto DST resolved inside the root; the mount
 * point is created in the root's writable layer when missing. */
static int bind_into(struct sif_session *s, const char *src, const char *dst, bool ro,
                     bool recursive, bool create, const char *why, struct sif_err *err)
{
	char sp[64], dp[64], canon[PATH_MAX];
	struct stat st;
	int sfd, dfd, r;

	sfd = open(src, O_PATH | O_CLOEXEC);
	if (sfd < 0)
		return sif_err_set(err, errno, "%s %s: %s", why, src, strerror(errno));
	if (fstat(sfd, &st) < 0) {
		r = sif_err_set(err, errno, "%s %s: %s", why, src, strerror(errno));
		close(sfd);
		return r;
	}
	/* mount points in the image were made beforehand (prepare_mountpoints);
	 * only inside a tmpfs of ours are they made here */
	if (!create && in_fresh_mount(s, dst))
		create = true;
	dfd = sif_resolve(s->rootfd, dst, !create ? SIF_RESOLVE_EXISTING :
	                  S_ISDIR(st.st_mode) ? SIF_RESOLVE_MKDIR : SIF_RESOLVE_MKFILE,
	                  true, canon, sizeof(canon), err);
	if (dfd < 0) {
		close(sfd);
		if (err && err->code == ENOENT && !create)
			sif_err_advise(err, ENOENT, "%s %s: the destination %s does not exist inside a "
			            "directory bound from the host (create it there first)", why, src, dst);
		else
			sif_err_prefix(err, "%s %s: destination %s: ", why, src, dst);
		return dfd;
	}
	if (strcmp(canon, "/") == 0) {
		close(sfd);
		close(dfd);
		return sif_err_advise(err, EINVAL, "%s %s: the destination %s is the container's root "
		                      "(choose a directory inside it)", why, src, dst);
	}
	fdpath(sp, sfd);
	fdpath(dp, dfd);
	sif_trace(s->l, "mount: bind %s on %s%s (%s)", src, canon, ro ? " read-only" : "", why);
	if (mount(sp, dp, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0) {
		r = sif_err_set(err, errno, "%s %s on %s: %s", why, src, canon, strerror(errno));
		goto out;
	}
	r = 0;
	if (ro) {
		/* the new mount sits on top of dfd's dentry: reach it by path */
		char path[PATH_MAX * 2];
		snprintf(path, sizeof(path), "%s%s", s->root, canon);
		r = make_readonly(path, recursive);
		if (r < 0)
			r = sif_err_set(err, -r, "%s %s read-only: %s", why, canon, strerror(-r));
	}
out:
	close(sfd);
	close(dfd);
	return r;
}

/* Mount a fresh filesystem (tmpfs, devpts) on DST inside the root. */
static int mount_fresh(struct sif_session *s, const char *type, const char *dst,
                       unsigned long flags, const char *data, struct sif_err *err)
{
	char dp[64], canon[PATH_MAX];
	int dfd = sif_resolve(s->rootfd, dst, SIF_RESOLVE_MKDIR, true, canon, sizeof(canon), err);
	int r = 0;

	if (dfd < 0)
		return dfd;
	fdpath(dp, dfd);
	sif_trace(s->l, "mount: %s on %s (%s)", type, canon, data ? data : "");
	if (mount(type, dp, type, flags, data) < 0)
		r = sif_err_set(err, errno, "mount %s on %s: %s", type, canon, strerror(errno));
	else if (s->nfresh < sizeof(s->fresh) / sizeof(s->fresh[0]))
		snprintf(s->fresh[s->nfresh++], sizeof(s->fresh[0]), "%s", canon);
	close(dfd);
	return r;
}

/* ---- the image ----------------------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every descriptor from 3 up but those in KEEP: close_range(2) in the
 * gaps (Linux 5.9), else one by one through /proc/self/fd.  (A loop over
 * every possible number cost a launch 10 ms.) */
static void close_all_but(int *keep, size_t n)
{
	unsigned lo = 3;
	qsort(keep, n, sizeof(*keep), cmp_int);
#ifdef SYS_close_range
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		if (keep[i] < (int)lo)
			continue;
		if ((unsigned)keep[i] > lo)
			ok = syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0) == 0;
		lo = (unsigned)keep[i] + 1;
	}
	if (ok && syscall(SYS_close_range, lo, ~0U, 0) == 0)
		return;
#endif
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool k = fd < 3 || fd == dirfd(d);
		for (size_t i = 0; i < n; i++)
			k = k || fd == keep[i];
		if (!k)
			close(fd);
	}
	closedir(d);
}

/* The image's prefetch profile (fuse.c) for this launch's program, in
 * CACHEDIR/prefetch: its descriptor, or -1 when there is none to be had (no
 * cache directory, not writable: the launch goes on without). */
static int open_profile(const struct sif_launch *l, struct sif_fuse *f)
{
	const char *tag = l->verb == SIF_VERB_RUN ? "run" : l->verb == SIF_VERB_SHELL ? "shell"
	                  : l->argc > 0 ? l->argv[0] : "";
	char dir[PATH_MAX];
	int d, fd;

	if (sif_cache_dir(dir, sizeof(dir) - sizeof("/prefetch")) < 0)
		return -1;
	strcat(dir, "/prefetch");
	if ((fd = sif_mkdirs(dir, 0700)) < 0 ||
	    (d = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		sif_trace(l, "prefetch profile: %s: %s", dir, strerror(fd < 0 ? -fd : errno));
		return -1;
	}
	/* the user's own directory, which nobody else may write into */
	struct stat st;
	if (fstat(d, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		sif_trace(l, "prefetch profile: %s is not the user's own, or others may write "
		          "there: no profile", dir);
		close(d);
		return -1;
	}
	fd = sif_fuse_profile(f, d, tag);
	if (fd < 0)
		sif_trace(l, "prefetch profile in %s: %s", dir, strerror(-fd));
	close(d);
	return fd < 0 ? -1 : fd;
}

/* The holder: a process of the user's own, in the launch's namespaces,
 * that serves the image over FUSE (for SIF and squashfs images) and lets
 * later launches join the root (share.c).  A socket pair is the creator's
 * membership. */
static int start_holder(struct sif_session *s, const char *lower, struct sif_err *err)
{
	const struct sif_launch *l = s->l;
	struct sif_fuse *f = NULL;
	char msg[PATH_MAX + 160], opts[256];
	int fusefd = -1, pfd = -1, sv[2], wp[2] = {-1, -1}, r;
	pid_t pid;

	if (l->image.kind != SIF_IMAGE_DIR) {
		/* the image server's libraries: loaded here, not by every launch */
		if ((r = sif_fuse_module_load(msg, sizeof(msg))) < 0)
			return sif_err_advise(err, -r, "%s", msg);
		r = sif_fuse_open(&f, l->image.fd, l->image.offset, msg, sizeof(msg));
		if (r < 0)
			return sif_err_set(err, -r, "image %s: %s", l->image.path, msg);
		if (l->prefetch)
			pfd = open_profile(l, f);
		fusefd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		if (fusefd < 0) {
			r = sif_err_set(err, errno, "open /dev/fuse: %s", strerror(errno));
			sif_fuse_close(f);
			return r;
		}
		/* mount(2) ourselves: libfuse would run the setuid fusermount3 */
		snprintf(opts, sizeof(opts),
		         "fd=%d,rootmode=40000,user_id=%u,group_id=%u,default_permissions",
		         fusefd, (unsigned)l->uid, (unsigned)l->gid);
		sif_trace(l, "mount: fuse.sif (squashfs at offset %llu of %s) on %s, read-only",
		          (unsigned long long)l->image.offset, l->image.path, lower);
		if (mount(l->image.path, lower, "fuse.sif", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0) {
			r = sif_err_set(err, errno, "mount the image with FUSE: %s", strerror(errno));
			close(fusefd);
			sif_fuse_close(f);
			return r;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = sif_err_set(err, errno, "socketpair: %s", strerror(errno));
		goto fail;
	}

	/* the server's stderr: relayed to the members by the holder */
	if (pipe2(wp, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = sif_err_set(err, errno, "pipe: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		r = sif_err_set(err, errno, "fork the image server: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		close(wp[0]);
		close(wp[1]);
		goto fail;
	}
	if (pid == 0) {
		/* The holder keeps only the image, /dev/fuse and its sockets: not
		 * the caller's descriptors (a pipe left open here would hold
		 * "$(sif exec ...)" until it ends).  It is not tied to the
		 * launcher's life: its members' sockets are. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		prctl(PR_SET_NAME, "sif-fuse");
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		/* non-blocking: a full pipe loses a warning, never stops the
		 * server, which alone empties it */
		dup2(wp[1], 2);
		int keep[] = {fusefd, l->image.fd, sv[1], s->listen_fd, wp[0], pfd};
		close_all_but(keep, sizeof(keep) / sizeof(keep[0]));
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		setsid();   /* out of the caller's process group and terminal */
		if (f && sif_fuse_start(f, fusefd, msg, sizeof(msg)) < 0)
			_exit(1);
		/* non-blocking: the holder waits in poll() alone, on the image's
		 * requests and its members at once; a read finds a request or
		 * returns EAGAIN, never blocks.  One serving thread (the other one
		 * only pushes programs ahead, see fuse.c): libsquashfuse has no
		 * locking, and serving reads from a thread pool with a handle per
		 * thread measured slower here (numpy import on a shared mount,
		 * 86 -> 90-93 ms; cold 281 -> 269 ms, within noise). */
		if (fusefd >= 0)
			fcntl(fusefd, F_SETFL, fcntl(fusefd, F_GETFL) | O_NONBLOCK);
		sif_holder_run(f, sv[1], s->listen_fd, l->linger, wp[0]);
		sif_fuse_close(f);
		_exit(0);
	}
	close(sv[1]);
	close(wp[0]);
	close(wp[1]);
	s->member_fd = sv[0];
	if (s->listen_fd >= 0)
		close(s->listen_fd);   /* the holder's now */
	sif_fuse_close(f);   /* the server has its own copy */
	if (fusefd >= 0)
		close(fusefd);
	s->server = pid;
	sif_trace(l, "holder: pid %d %s%s", (int)pid, f ? "serves the image" : "holds the namespaces",
	          s->listen_fd >= 0 ? "; the root may be shared" : "");
	s->listen_fd = -1;
	return 0;
fail:
	if (fusefd >= 0)
		close(fusefd);
	sif_fuse_close(f);
	return r;
}

/* ---- setup --------------------------------------------------------------- */

static int enter_namespaces(const struct sif_launch *l, struct sif_err *err)
{
	int r;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		int e = errno;
		return sif_err_advise(err, e, "create a user namespace: %s (%s)", strerror(e),
		                   e == EPERM || e == ENOSPC ?
		                   "unprivileged user namespaces are not allowed here, or the per-user "
		                   "limit is reached: ask the administrator" :
		                   "this kernel may lack user namespace support");
	}
	sif_trace(l, "namespace: new user and mount namespace");
	/* an identity map: the user is the same user inside */
	r = sif_map_ids((unsigned)l->uid, (unsigned)l->uid, (unsigned)l->gid, (unsigned)l->gid);
	if (r < 0)
		return sif_err_set(err, -r, "write the user namespace's id maps: %s", strerror(-r));
	sif_trace(l, "namespace: uid %u and gid %u mapped to themselves, setgroups denied",
	          (unsigned)l->uid, (unsigned)l->gid);
	/* From here this process holds capabilities over the new namespaces:
	 * not dumpable, so that nothing of the user's (the payload included)
	 * can ptrace it or open its /proc files. */
	prctl(PR_SET_DUMPABLE, 0);
	/* see host mounts appear (autofs, CVMFS) but never send ours out */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return sif_err_set(err, errno, "make / a slave mount: %s", strerror(errno));
	return 0;
}

static int mkdir_in(const char *dir, const char *name, char *out, size_t outlen,
                    struct sif_err *err)
{
	snprintf(out, outlen, "%s/%s", dir, name);
	if (mkdir(out, 0755) < 0 && errno != EEXIST)
		return sif_err_set(err, errno, "mkdir %s: %s", out, strerror(errno));
	return 0;
}

static int setup_dev(struct sif_session *s, struct sif_err *err)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	static const char *const links[][2] = {
		{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}, {"core", "/proc/kcore"},
	};
	char path[PATH_MAX * 2], canon[PATH_MAX];
	int r, dfd;

	if (!s->l->contain)
		return bind_into(s, "/dev", "/dev", false, true, false, "bind", err);
	/* --contain: a minimal /dev of its own */
	r = mount_fresh(s, "tmpfs", "/dev", MS_NOSUID | MS_NOEXEC, "mode=0755,size=512k", err);
	for (size_t i = 0; r == 0 && i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		snprintf(path, sizeof(path), "/dev/%s", nodes[i]);
		r = bind_into(s, path, path, false, false, true, "bind", err);
	}
	if (r == 0)
		r = mount_fresh(s, "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC,
		                "newinstance,ptmxmode=0666,mode=0620", err);
	if (r == 0)
		r = mount_fresh(s, "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777", err);
	if (r < 0)
		return r;
	dfd = sif_resolve(s->rootfd, "/dev", SIF_RESOLVE_EXISTING, true, canon, sizeof(canon), err);
	if (dfd < 0)
		return dfd;
	snprintf(path, sizeof(path), "%s%s", s->root, canon);
	close(dfd);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		char p[PATH_MAX * 3];
		snprintf(p, sizeof(p), "%s/%s", path, links[i][0]);
		if (symlink(links[i][1], p) < 0 && errno != EEXIST)
			return sif_err_set(err, errno, "symlink /dev/%s: %s", links[i][0], strerror(errno));
	}
	return 0;
}

/* May the host cwd be bound at its own path?  Not over a directory of the
 * image that has content (that would hide part of the image). */
static bool may_bind_cwd(struct sif_session *s, const char *dir)
{
	struct sif_err e;
	int fd = sif_resolve(s->rootfd, dir, SIF_RESOLVE_EXISTING, true, NULL, 0, &e);
	int dfd;
	bool empty = true;

	if (fd < 0)
		return true;   /* missing: a new mount point */
	char p[64];
	fdpath(p, fd);
	dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(fd);
	if (dfd < 0)
		return false;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return false;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

/* Will the host cwd show at its own path through /tmp, $HOME or a bind? */
static bool cwd_visible(const struct sif_launch *l)
{
	return sif_launch_host_path_shown(l, l->host_cwd) != NULL;
}

struct mountpoint {
	const char *path;
	bool dir;
};

/* Make DIR/REL in the session's upper layer: directories, and a file last
 * when !last_dir.  Modes follow the merged view where it has the directory. */
static int make_in_upper(struct sif_session *s, const char *canon, const char *rest,
                         bool last_dir, struct sif_err *err)
{
	char path[PATH_MAX * 2], merged[PATH_MAX * 3];
	char *p, *next;
	size_t base;

	snprintf(path, sizeof(path), "%s/upper", s->dir);
	base = strlen(path);
	if (snprintf(path + base, sizeof(path) - base, "%s/%s", strcmp(canon, "/") ? canon : "",
	             rest) >= (int)(sizeof(path) - base))
		return sif_err_set(err, ENAMETOOLONG, "%s/%s: path too long", canon, rest);
	for (p = path + base + 1; p && *p; p = next) {
		struct stat st;
		next = strchr(p, '/');
		if (next)
			*next = '\0';
		bool is_last = !next || next[1] == '\0';
		if (strcmp(p, "..") == 0 || strcmp(p, ".") == 0)
			return sif_err_set(err, EINVAL, "mount point %s/%s: a link leads through '%s' "
			                   "into a missing directory", canon, rest, p);
		if (lstat(path, &st) < 0) {
			mode_t mode = 0755;
			snprintf(merged, sizeof(merged), "%s%s", s->root, path + base);
			if (stat(merged, &st) == 0 && S_ISDIR(st.st_mode))
				mode = st.st_mode & 07777;
			if (is_last && !last_dir) {
				int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (fd < 0)
					return sif_err_set(err, errno, "create mount point %s: %s", path + base,
					                   strerror(errno));
				close(fd);
			} else if (mkdir(path, mode) < 0) {
				return sif_err_set(err, errno, "create mount point %s: %s", path + base,
				                   strerror(errno));
			}
		} else if (!S_ISDIR(st.st_mode) && !is_last) {
			return sif_err_set(err, ENOTDIR, "mount point %s: not a directory", path + base);
		}
		if (next)
			*next++ = '/';
	}
	return 0;
}

static int mount_overlay(struct sif_session *s, struct sif_err *err)
{
	char opts[PATH_MAX * 3 + 64];

	snprintf(opts, sizeof(opts), "lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", s->dir,
	         s->dir, s->dir);
	sif_trace(s->l, "mount: overlay on %s (%s)", s->root, opts);
	if (mount("overlay", s->root, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
		return sif_err_advise(err, errno, "mount an overlay over the image: %s (overlayfs in a "
		                   "user namespace needs Linux 5.11 or later)", strerror(errno));
	if (s->rootfd >= 0)
		close(s->rootfd);
	s->rootfd = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		return sif_err_set(err, errno, "open the container root: %s", strerror(errno));
	return 0;
}

/* Every mount point the image lacks is made in the upper layer (where the
 * user owns everything: the image's directories belong to users that are
 * not mapped here, so nothing can be created through the overlay itself),
 * then the overlay is mounted afresh so that it sees them. */
static int prepare_mountpoints(struct sif_session *s, const struct mountpoint *mp, size_t n,
                               struct sif_err *err)
{
	char canon[PATH_MAX], rest[PATH_MAX];
	bool made = false;
	int r;

	for (size_t i = 0; i < n; i++) {
		r = sif_resolve_prefix(s->rootfd, mp[i].path, canon, sizeof(canon), rest, sizeof(rest),
		                       err);
		if (r < 0) {
			sif_err_prefix(err, "mount point %s: ", mp[i].path);
			return r;
		}
		if (!rest[0])
			continue;
		sif_trace(s->l, "root: mount point %s: create %s%s%s in the writable layer", mp[i].path,
		          strcmp(canon, "/") ? canon : "", "/", rest);
		r = make_in_upper(s, canon, rest, mp[i].dir, err);
		if (r < 0)
			return r;
		made = true;
	}
	if (!made)
		return 0;
	if (umount2(s->root, MNT_DETACH) < 0)
		return sif_err_set(err, errno, "remount the overlay: %s", strerror(errno));
	return mount_overlay(s, err);
}

int sif_session_begin(const struct sif_launch *l, struct sif_session *s, struct sif_err *err)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->rootfd = -1;
	s->member_fd = -1;
	s->listen_fd = -1;
	s->l = l;
	if (strlen(l->sessiondir) + sizeof("/root") > sizeof(s->root))
		return sif_err_set(err, ENAMETOOLONG, "session directory %s: path too long",
		                   l->sessiondir);
	strcpy(s->dir, l->sessiondir);
	strcpy(s->root, l->sessiondir);
	strcat(s->root, "/root");

	/* the sources exist before anything is set up */
	for (size_t i = 0; i < l->nbinds; i++)
		if (access(l->binds[i].src, F_OK) < 0)
			return sif_err_advise(err, errno, "%s %s: the source %s on this host (%s)",
			                   l->binds[i].why ? l->binds[i].why : "--bind",
			                   l->binds[i].src, errno == ENOENT ? "does not exist" : "is not reachable",
			                   errno == ENOENT ? "create it, or fix the -B option" : strerror(errno));
	if (l->home_src && access(l->home_src, F_OK) < 0)
		return sif_err_advise(err, errno, "%s %s: %s (create it, or use --no-home)",
		                   l->home_given ? "--home" : "your home directory", l->home_src,
		                   strerror(errno));

	/* the same root, live already? then no namespace, mount or server of
	 * our own is needed */
	if (!l->share)
		return 0;
	r = sif_share_join(l, s, err);
	if (r <= 0)
		return r;
	/* in the container's mount namespace: the root is / */
	s->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		return sif_err_set(err, errno, "open the shared root: %s", strerror(errno));
	return 1;
}

int sif_session_setup(const struct sif_launch *l, struct sif_session *s, struct sif_err *err)
{
	static const char *const etc[] = {"/etc/hosts", "/etc/resolv.conf", "/etc/localtime"};
	struct mountpoint mp[SIF_MAX_BINDS + 16];
	size_t nmp = 0;
	char lower[PATH_MAX], path[PATH_MAX];
	bool bind_cwd = false;
	int r;

	if (s->joined)
		return 0;
	if (l->nbinds > SIF_MAX_BINDS)
		return sif_err_set(err, E2BIG, "%zu binds: at most %d are allowed", l->nbinds,
		                   SIF_MAX_BINDS);

	/* setting up: can this machine do it at all?  (A launch that joins
	 * needs neither a new user namespace nor /dev/fuse.) */
	r = sif_preflight(l, err);
	if (r < 0)
		return r;
	r = enter_namespaces(l, err);
	if (r < 0)
		return r;

	/* everything of the launch lives on one tmpfs over the session dir,
	 * seen only in this mount namespace */
	sif_trace(l, "mount: tmpfs on %s (the session)", s->dir);
	if (mount("sif-session", s->dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return sif_err_advise(err, errno, "mount the session tmpfs on %s: %s (is sif installed "
		                   "completely? the directory must exist)", s->dir, strerror(errno));
	if ((r = mkdir_in(s->dir, "lower", lower, sizeof(lower), err)) < 0 ||
	    (r = mkdir_in(s->dir, "upper", path, sizeof(path), err)) < 0 ||
	    (r = mkdir_in(s->dir, "work", path, sizeof(path), err)) < 0 ||
	    (r = mkdir_in(s->dir, "files", path, sizeof(path), err)) < 0 ||
	    (r = mkdir_in(s->dir, "root", s->root, sizeof(s->root), err)) < 0)
		return r;

	if (l->image.kind == SIF_IMAGE_DIR) {
		/* by path: a descriptor opened before unshare() belongs to the old
		 * mount namespace, and the kernel refuses to bind from there */
		sif_trace(l, "mount: bind directory image %s on %s", l->image.realpath, lower);
		if (mount(l->image.realpath, lower, NULL, MS_BIND | MS_REC, NULL) < 0)
			return sif_err_set(err, errno, "bind the directory image %s: %s", l->image.path,
			                   strerror(errno));
	}
	r = start_holder(s, lower, err);
	if (r < 0)
		return r;

	/* the root: the image under a writable tmpfs layer, for the mount
	 * points the image lacks (read-only again before the payload starts,
	 * unless --writable-tmpfs) */
	r = mount_overlay(s, err);
	if (r < 0)
		return r;

	/* where the payload starts */
	if (l->pwd) {
		snprintf(s->cwd, sizeof(s->cwd), "%s", l->pwd);
	} else if (l->contain || strcmp(l->host_cwd, "/") == 0) {
		snprintf(s->cwd, sizeof(s->cwd), "%s", l->contain && l->home_dst ? l->home_dst : "/");
	} else if (cwd_visible(l)) {
		snprintf(s->cwd, sizeof(s->cwd), "%s", l->host_cwd);
	} else if (may_bind_cwd(s, l->host_cwd)) {
		bind_cwd = true;
		snprintf(s->cwd, sizeof(s->cwd), "%s", l->host_cwd);
	} else {
		fprintf(stderr, "sif: warning: the working directory %s is also a path in the image, "
		        "which is not hidden by binding over it: starting in /\n", l->host_cwd);
		snprintf(s->cwd, sizeof(s->cwd), "/");
	}

	/* the mount points, in the order they are mounted */
	mp[nmp++] = (struct mountpoint){"/proc", true};
	mp[nmp++] = (struct mountpoint){"/sys", true};
	mp[nmp++] = (struct mountpoint){"/dev", true};
	mp[nmp++] = (struct mountpoint){"/tmp", true};
	mp[nmp++] = (struct mountpoint){"/var/tmp", true};
	if (l->home_dst)
		mp[nmp++] = (struct mountpoint){l->home_dst, true};
	for (size_t i = 0; i < l->nbinds; i++) {
		struct stat st;
		mp[nmp++] = (struct mountpoint){l->binds[i].dst,
		                                stat(l->binds[i].src, &st) == 0 && S_ISDIR(st.st_mode)};
	}
	for (size_t i = 0; i < sizeof(etc) / sizeof(etc[0]); i++)
		if (access(etc[i], R_OK) == 0)
			mp[nmp++] = (struct mountpoint){etc[i], false};
	if (!l->fakeroot) {
		mp[nmp++] = (struct mountpoint){"/etc/passwd", false};
		mp[nmp++] = (struct mountpoint){"/etc/group", false};
	}
	if (bind_cwd)
		mp[nmp++] = (struct mountpoint){l->host_cwd, true};
	if (l->share)
		mp[nmp++] = (struct mountpoint){SIF_SHARE_MARKER, false};
	r = prepare_mountpoints(s, mp, nmp, err);
	if (r < 0)
		return r;

	/* the system directories */
	/* the host's /proc; with --pid the payload's first process mounts a new
	 * one over it, in its own mount namespace (so a shared root serves
	 * launches with and without --pid alike) */
	if ((r = bind_into(s, "/proc", "/proc", false, true, false, "bind", err)) < 0)
		return r;
	if ((r = bind_into(s, "/sys", "/sys", false, true, false, "bind", err)) < 0 ||
	    (r = setup_dev(s, err)) < 0)
		return r;
	if (l->contain || l->private_tmp) {
		if ((r = mount_fresh(s, "tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "mode=1777", err)) < 0 ||
		    (r = mount_fresh(s, "tmpfs", "/var/tmp", MS_NOSUID | MS_NODEV, "mode=1777", err)) < 0)
			return r;
	} else {
		if ((r = bind_into(s, "/tmp", "/tmp", false, true, false, "bind", err)) < 0 ||
		    (r = bind_into(s, "/var/tmp", "/var/tmp", false, true, false, "bind", err)) < 0)
			return r;
	}

	/* home */
	if (l->home_src) {
		r = bind_into(s, l->home_src, l->home_dst, false, true, false, "--home", err);
		if (r < 0)
			return r;
	} else if (l->home_dst && l->contain) {
		r = mount_fresh(s, "tmpfs", l->home_dst, MS_NOSUID | MS_NODEV, "mode=0700", err);
		if (r < 0)
			return r;
	}

	/* host files every program expects: not worth failing a launch for */
	for (size_t i = 0; i < sizeof(etc) / sizeof(etc[0]); i++) {
		struct sif_err e = {0};
		if (access(etc[i], R_OK) == 0 &&
		    bind_into(s, etc[i], etc[i], false, false, false, "bind", &e) < 0)
			fprintf(stderr, "sif: warning: %s\n", e.msg);
	}
	s->bind_cwd = bind_cwd;
	return 0;
}

int sif_session_finish(struct sif_session *s, struct sif_err *err)
{
	const struct sif_launch *l = s->l;
	int r;

	if (s->joined)
		return 0;   /* done by the launch that set the root up */
	/* the user's binds, in order: a later one may land inside an earlier */
	for (size_t i = 0; i < l->nbinds; i++) {
		const struct sif_bind *b = &l->binds[i];
		r = bind_into(s, b->src, b->dst, b->ro, true, false, b->why ? b->why : "--bind", err);
		if (r < 0)
			return r;
	}
	if (s->bind_cwd) {
		r = bind_into(s, l->host_cwd, l->host_cwd, false, true, false,
		              "bind the working directory", err);
		if (r < 0)
			return r;
	}
	/* what shaped the root, for joiners to check (share.c) */
	if (l->share) {
		char marker[SIF_SHARE_MARKER_LEN + 1];
		if ((r = sif_share_marker(l, marker)) < 0)
			return sif_err_set(err, -r, "describe the root for sharing: %s", strerror(-r));
		if ((r = sif_session_write(s, SIF_SHARE_MARKER, marker, err)) < 0)
			return r;
	}
	if (!l->writable_tmpfs) {
		sif_trace(l, "mount: the root read-only");
		if (mount(NULL, s->root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
		          NULL) < 0)
			return sif_err_set(err, errno, "make the root read-only: %s", strerror(errno));
	}
	sif_trace(l, "root: assembled at %s; the payload starts in %s", s->root, s->cwd);

	/* The container's mount namespace: a copy of the launch's, pivoted
	 * into the root, the host's root detached.  This launcher moves into
	 * it, its payload starts there, and launches that join the share get
	 * it from the holder: each of them only changes to its working
	 * directory, instead of copying the host's mount table and pivoting
	 * again (the holder keeps the launch's own namespace, where the image
	 * is mounted). */
	char msg[PATH_MAX + 64];
	if (unshare(CLONE_NEWNS) < 0)
		return sif_err_set(err, errno, "create the container's mount namespace: %s",
		                   strerror(errno));
	if ((r = sif_enter_pivot(s->root, msg, sizeof(msg))) < 0)
		return sif_err_set(err, -r, "%s", msg);
	sif_trace(l, "namespace: a mount namespace pivoted into the root (the container's)");
	if (s->rootfd >= 0)
		close(s->rootfd);
	s->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		return sif_err_set(err, errno, "open the container root: %s", strerror(errno));
	return sif_share_publish(s, err);
}

int sif_session_write(struct sif_session *s, const char *path, const char *content,
                      struct sif_err *err)
{
	if (s->joined)
		return 0;
	char file[PATH_MAX + 64];
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int fd, r;

	/* written on the session's tmpfs and bound over the image's file (a
	 * link there is followed inside the root, never written through) */
	snprintf(file, sizeof(file), "%s/files/%s", s->dir, base);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return sif_err_set(err, errno, "write %s: %s", file, strerror(errno));
	r = sif_pwrite_full(fd, content, strlen(content), 0);
	close(fd);
	if (r < 0)
		return sif_err_set(err, -r, "write %s: %s", file, strerror(-r));
	return bind_into(s, file, path, true, false, false, "generated", err);
}

void sif_session_end(struct sif_session *s)
{
	/* leaving is closing our membership: the holder lingers or ends */
	if (s->member_fd >= 0)
		close(s->member_fd);
	s->member_fd = -1;
	/* a claim whose root was never set up: queued launches try again */
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	if (s->rootfd >= 0)
		close(s->rootfd);
	s->rootfd = -1;
}
