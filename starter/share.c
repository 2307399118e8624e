/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mount sharing.  The process that serves a launch's image (the holder,
 * "sif-fuse") also holds the launch's user and mount namespaces.  Once the
 * root is assembled it listens on an abstract unix socket named after the
 * user and everything that shaped the root (image, binds, home, ...); a
 * later launch of the same image with the same options connects, checks
 * that the holder is the same user (SO_PEERCRED), receives descriptors of
 * the user namespace and of the container's mount namespace (SCM_RIGHTS:
 * the one the launch that set the root up pivoted into, and handed to the
 * holder with its word that the root is ready), enters them and starts
 * its payload in the root already there: no new mount, no new FUSE
 * server, no pivot, the image's page cache shared.  The launch that finds no holder claims the name
 * (binds and listens) before it sets the root up, and hands the socket to
 * its holder: launches that start at the same moment, the tasks of one
 * srun, wait in its queue until the root is ready and join it, instead of
 * each building a mount of its own.
 *
 * Inside a Slurm job step or under mpirun the name is a tag of the job's
 * (runtime/cli/exec.c), so that all tasks of the step on a node share one
 * mount and namespace (MPI shared memory, cross-memory attach).
 *
 * Membership is the connection itself: every launch, the first included,
 * keeps its socket open until it ends, and the kernel closes it when the
 * launch dies, even by kill -9.  When the last member is gone the holder
 * lingers for the configured time, then exits, and the namespaces and the
 * FUSE connection go with it.  Its life is tied to its members, not to
 * signals: Slurm's scancel (proctrack/linuxproc) signals what it still
 * finds of a step, and loses track of the holder once it is reparented.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fuse.h"
#include "share.h"
#include "starter.h"

#define MAX_MEMBERS 4096

/* The name is a hash of what shaped the root.  It is no secret and no
 * defence (the peer's uid is checked); it only has to keep different roots
 * apart, which 128 bits of FNV-1a do.  (Not SHA-256 from libcrypto: loading
 * libcrypto cost every launch 0.6 ms, measured with hyperfine, for a name.) */
struct fnv128 { unsigned __int128 h; };

static void put(struct fnv128 *c, const char *s)
{
	/* FNV-1a, 128-bit: prime 2^88 + 2^8 + 0x3b */
	const unsigned __int128 prime = ((unsigned __int128)1 << 88) + 0x13b;
	size_t n = s ? strlen(s) + 1 : 1;
	for (size_t i = 0; i < n; i++) {
		c->h ^= (unsigned char)(s ? s[i] : 0);
		c->h *= prime;
	}
}

static void fnv_init(struct fnv128 *c)
{
	c->h = ((unsigned __int128)0x6c62272e07bb0142ULL << 64) | 0x62b821756295c58dULL;
}

static void fnv_hex(const struct fnv128 *c, char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", (unsigned)(unsigned char)(c->h >> (8 * (15 - i))));
}

static int put_image(struct fnv128 *c, const struct sif_launch *l)
{
	char buf[256];
	struct stat st;

	if (fstat(l->image.fd, &st) < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "sif-share-2 uid=%u gid=%u", (unsigned)l->uid, (unsigned)l->gid);
	put(c, buf);
	snprintf(buf, sizeof(buf), "image dev=%llu ino=%llu size=%lld mtime=%lld.%09ld off=%llu",
	         (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (long long)st.st_size,
	         (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
	         (unsigned long long)l->image.offset);
	put(c, buf);
	put(c, l->sessiondir);
	return 0;
}

/* Everything that shaped the root, as 32 hex digits. */
static int shape_of(const struct sif_launch *l, char out[33])
{
	struct fnv128 c;
	char buf[64];
	int r;

	fnv_init(&c);
	if ((r = put_image(&c, l)) < 0)
		return r;
	snprintf(buf, sizeof(buf), "contain=%d tmp=%d fakeroot=%d", l->contain, l->private_tmp,
	         l->fakeroot);
	put(&c, buf);
	put(&c, l->home_src);
	put(&c, l->home_dst);
	put(&c, l->host_cwd);
	put(&c, l->pwd);
	/* --slurm's binds by their key: a joiner never computes them */
	put(&c, l->slurm_key);
	for (size_t i = 0; i < l->nbinds; i++) {
		if (l->binds[i].slurm)
			continue;
		put(&c, l->binds[i].src);
		put(&c, l->binds[i].dst);
		put(&c, l->binds[i].ro ? "ro" : "rw");
	}
	fnv_hex(&c, out);
	return 0;
}

/* The marker's content for the shape HEX. */
static void marker_of(const char hex[33], char out[SIF_SHARE_MARKER_LEN + 1])
{
	snprintf(out, SIF_SHARE_MARKER_LEN + 1, "sif-share-2 %s\n", hex);
}

int sif_share_marker(const struct sif_launch *l, char out[SIF_SHARE_MARKER_LEN + 1])
{
	char hex[33];
	int r = shape_of(l, hex);
	if (r < 0)
		return r;
	marker_of(hex, out);
	return 0;
}

int sif_share_name(const struct sif_launch *l, char name[SIF_SHARE_NAME_MAX])
{
	char hex[33];
	int r, n;

	if (l->share_tag) {
		/* by tag: the image and the tag; the shape is checked on joining */
		struct fnv128 c;
		fnv_init(&c);
		if ((r = put_image(&c, l)) < 0)
			return r;
		put(&c, "tag");
		put(&c, l->share_tag);
		fnv_hex(&c, hex);
	} else if ((r = shape_of(l, hex)) < 0) {
		return r;
	}
	/* abstract namespace: name[0] is NUL */
	memset(name, 0, SIF_SHARE_NAME_MAX);
	n = snprintf(name + 1, SIF_SHARE_NAME_MAX - 1, "sif-%u-%s%s", (unsigned)l->uid,
	             l->share_tag ? "t-" : "", hex);
	return 1 + n;   /* the address length */
}

static socklen_t addr_of(struct sockaddr_un *a, const char *name, int len)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, name, (size_t)len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)len);
}

static bool peer_is_me(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.uid == getuid();
}

static bool same_ns(int a, int b)
{
	struct stat x, y;
	return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* Are these the namespaces a holder of ours hands out?  A user namespace
 * that is a child of our own and belongs to us, and a mount namespace that
 * belongs to exactly that one (and, checked once inside, has an overlay
 * root).  Anything of another user's is refused here and by the peer's
 * credentials; a process of the user's own could offer another of the
 * user's containers, which grants nothing the user does not have. */
static bool namespaces_are_ours(int userns, int mntns)
{
	int parent = ioctl(userns, NS_GET_PARENT), mine = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	int owner = ioctl(mntns, NS_GET_USERNS);
	uid_t uid = (uid_t)-1;
	bool ok = parent >= 0 && mine >= 0 && owner >= 0 && same_ns(parent, mine) &&
	          same_ns(owner, userns) && ioctl(userns, NS_GET_OWNER_UID, &uid) == 0 &&
	          uid == getuid();

	if (parent >= 0)
		close(parent);
	if (mine >= 0)
		close(mine);
	if (owner >= 0)
		close(owner);
	return ok;
}

/* Bind and listen on NAME: the launch that does sets the root up, and its
 * holder answers the connections queued meanwhile once the root is ready
 * (sif_holder_run).  False when another launch has the name. */
static bool claim(const struct sif_launch *l, struct sif_session *s, const char *name, int len)
{
	struct sockaddr_un a;
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (lfd < 0)
		return true;   /* no socket: set up alone, unshared */
	if (bind(lfd, (struct sockaddr *)&a, addr_of(&a, name, len)) < 0 || listen(lfd, 128) < 0) {
		int e = errno;
		close(lfd);
		return e != EADDRINUSE;   /* in use: someone else sets it up */
	}
	s->listen_fd = lfd;
	sif_trace(l, "share: claimed %s: this launch sets the root up, later ones join it",
	          name + 1);
	return true;
}

int sif_share_join(const struct sif_launch *l, struct sif_session *s, struct sif_err *err)
{
	struct sockaddr_un a;
	char name[SIF_SHARE_NAME_MAX];
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	char cwd[PATH_MAX + 40];
	struct iovec iov = {.iov_base = cwd, .iov_len = sizeof(cwd) - 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	                   .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	int len, fd, nsfd[2] = {-1, -1}, attempts = 0;
	ssize_t n;

	len = sif_share_name(l, name);
	if (len < 0)
		return 0;
again:
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&a, addr_of(&a, name, len)) < 0) {
		/* nobody holds such a mount: claim the name, then set one up.
		 * Launches that start at the same moment (the tasks of one srun)
		 * find the claim and wait in the listening queue until the root
		 * is ready, instead of each setting up its own. */
		close(fd);
		fd = -1;
		if (claim(l, s, name, len))
			return 0;
		if (++attempts > 100)
			return 0;   /* the name stays busy but unanswered: go alone */
		usleep(2000);   /* its holder is between bind and listen, or closing */
		goto again;
	}
	/* the holder must be this user's own process, never anyone else's
	 * squatting on the name */
	if (!peer_is_me(fd)) {
		sif_trace(l, "share: %s is held by another user: not joined", name + 1);
		goto none;
	}
	do {
		n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n <= 32) {
		/* the holder was just ending, or its creator failed before the
		 * root was ready: claim the name or join the next one */
		close(fd);
		if (++attempts > 100)
			return 0;
		goto again;
	}
	cwd[n] = '\0';
	char shape[33];
	if (shape_of(l, shape) < 0 || memcmp(cwd, shape, 32) != 0) {
		/* only with a tag can the same name hold another root */
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
					close(((int *)CMSG_DATA(cm))[i]);
		close(fd);
		if (l->share_origin)
			/* a tag of the job's (exec.c): its tasks on this node meet
			 * under it without being told */
			return sif_err_advise(err, EINVAL, "the tasks of %s on this node share one "
			                      "mount (share tag %s), and the one holding it used other "
			                      "options (binds, home, working directory, --contain, "
			                      "--fakeroot, --pwd): use the same ones in every task, "
			                      "--share-tag NAME, or --no-share", l->share_origin,
			                      l->share_tag);
		return sif_err_advise(err, EINVAL, "--share-tag %s: the launch holding this tag "
		                      "used other options (binds, home, working directory, "
		                      "--contain, --fakeroot, --pwd): use the same ones, another "
		                      "tag, or --no-share", l->share_tag ? l->share_tag : "");
	}
	memmove(cwd, cwd + 32, (size_t)n - 32 + 1);
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < k; i++) {
			if (k == 2 && nsfd[i] < 0)
				nsfd[i] = fds[i];
			else
				close(fds[i]);   /* not what a holder sends */
		}
	}
	if (nsfd[0] < 0 || nsfd[1] < 0 || !namespaces_are_ours(nsfd[0], nsfd[1])) {
		sif_trace(l, "share: %s offers namespaces that are not a holder's: not joined",
		          name + 1);
		if (nsfd[0] >= 0)
			close(nsfd[0]);
		if (nsfd[1] >= 0)
			close(nsfd[1]);
		goto none;
	}
	if (setns(nsfd[0], CLONE_NEWUSER) < 0 || setns(nsfd[1], CLONE_NEWNS) < 0) {
		int e = errno;
		close(nsfd[0]);
		close(nsfd[1]);
		close(fd);
		return sif_err_set(err, e, "join the shared mount %s: %s", name + 1, strerror(e));
	}
	close(nsfd[0]);
	close(nsfd[1]);
	prctl(PR_SET_DUMPABLE, 0);
	/* and a holder's root is there: the overlay, pivoted into, never a
	 * namespace whose root is the host's */
	struct statfs sf;
	if (statfs("/", &sf) < 0 || sf.f_type != OVERLAYFS_SUPER_MAGIC) {
		close(fd);
		return sif_err_advise(err, EPROTO, "join the shared mount %s: no container root there "
		                      "(retry with --no-share)", name + 1);
	}
	/* ... and it is this image's with these options: the marker only the
	 * launch that set the root up could bind there (read-only, from its
	 * session tmpfs) says so.  The payloads of every container run in its
	 * mount namespace, and one of another image (a hostile one) could
	 * squat this name and offer its own; it cannot write the marker. */
	char want[SIF_SHARE_MARKER_LEN + 1], got[SIF_SHARE_MARKER_LEN + 2];
	int mfd = open(SIF_SHARE_MARKER, O_RDONLY | O_CLOEXEC);
	ssize_t got_n = -1;
	if (mfd >= 0) {
		if (fstatfs(mfd, &sf) == 0 && sf.f_type == TMPFS_MAGIC)
			got_n = read(mfd, got, sizeof(got));
		close(mfd);
	}
	marker_of(shape, want);   /* the shape checked against the welcome above */
	if (got_n != SIF_SHARE_MARKER_LEN ||
	    memcmp(got, want, SIF_SHARE_MARKER_LEN) != 0) {
		close(fd);
		return sif_err_advise(err, EPROTO, "join the shared mount %s: the root offered under "
		                      "this name is not this image's with these options (another "
		                      "program holds the name): retry with --no-share", name + 1);
	}
	s->member_fd = fd;
	s->joined = true;
	cwd[sizeof(s->cwd) - 1] = '\0';
	memcpy(s->cwd, cwd, strlen(cwd) + 1);
	sif_trace(l, "share: joined the live mount %s (no new namespace, mount or FUSE server)",
	          name + 1);
	return 1;
none:
	close(fd);
	return 0;
}

int sif_share_publish(struct sif_session *s, struct sif_err *err)
{
	char msg[PATH_MAX + 40], shape[33];
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = msg};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	                   .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	int n, ns;
	ssize_t sent;

	if (s->member_fd < 0)
		return 0;
	if (shape_of(s->l, shape) < 0)
		return sif_err_set(err, EIO, "describe the root for sharing: %s", strerror(errno));
	/* the word that the root is ready, with the container's mount
	 * namespace (this process's, pivoted) for the holder to hand out */
	ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return sif_err_set(err, errno, "open the container's mount namespace: %s",
		                   strerror(errno));
	n = snprintf(msg, sizeof(msg), "R%s%s", shape, s->cwd);
	iov.iov_len = (size_t)n;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &ns, sizeof(int));
	sent = sendmsg(s->member_fd, &m, MSG_NOSIGNAL);
	int e = errno;
	close(ns);
	if (sent != n)
		return sif_err_set(err, e, "tell the image server the root is ready: %s", strerror(e));
	return 0;
}

/* ---- the holder ---------------------------------------------------------- */

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* A new member gets the user namespace (the holder's) and the container's
 * mount namespace (MNTNS, from the creator), and the root's shape and cwd. */
static void welcome(int c, const char *cwd, int mntns)
{
	int ns[2];
	char cbuf[CMSG_SPACE(sizeof(ns))];
	struct iovec iov = {.iov_base = (void *)cwd, .iov_len = strlen(cwd)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	                   .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	ns[0] = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	ns[1] = mntns;
	if (ns[0] >= 0) {
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(ns));
		memcpy(CMSG_DATA(cm), ns, sizeof(ns));
		if (sendmsg(c, &m, MSG_NOSIGNAL) < 0) {
			/* the member is gone already; poll will see it */
		}
		close(ns[0]);
	}
}

/* A member's message: at most one descriptor (the creator's mount
 * namespace) lands in *FD, any other is closed. */
static ssize_t recv_member(int c, char *buf, size_t len, int *fd)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	                   .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);

	if (n < 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int x;
			memcpy(&x, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = x;
			else
				close(x);
		}
	}
	return n;
}

#define M0 3   /* the first member's slot in the holder's poll set */

/* The server's warnings (its stderr, a pipe: the holder outlives the
 * launch that started it, and must not hold the caller's terminal or pipe
 * open) go to the members alive, as "W" messages their launchers print
 * (a damaged image: what cannot be read fails with EIO, and says so). */
static void relay_warnings(struct pollfd *w, const struct pollfd *members, int n)
{
	char buf[1024];
	ssize_t r = read(w->fd, buf + 1, sizeof(buf) - 1);

	if (r <= 0) {
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			w->fd = -1;   /* gone: poll no more */
		return;
	}
	buf[0] = 'W';
	for (int i = 0; i < n; i++)
		if (send(members[i].fd, buf, (size_t)r + 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* that member is gone or busy: the warning is lost for it */
		}
}

void sif_holder_run(struct sif_fuse *f, int creator, int lfd, unsigned linger, int warnfd)
{
	struct pollfd *p = calloc(MAX_MEMBERS + M0, sizeof(*p));
	char cwd[PATH_MAX + 40] = "";   /* "R", the root's shape, its cwd */
	int nmembers = 1;
	long deadline = -1;
	bool ready = false;
	int mntns = -1;   /* the container's mount namespace, from the creator */

	if (!p)
		return;
	/* The holder's life is its members' (their sockets), not the job's:
	 * Slurm's scancel signals every process of the step it can find, this
	 * one included while the launcher is its parent; a payload that traps
	 * SIGTERM to save its work still needs the image served. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* [0] FUSE, [1] the listening socket, [2] the server's warnings,
	 * [M0..] members ([M0] the creator) */
	p[0].fd = f ? sif_fuse_fd(f) : -1;
	p[0].events = POLLIN;
	p[1].fd = -1;
	p[1].events = POLLIN;
	p[2].fd = warnfd;
	p[2].events = POLLIN;
	p[M0].fd = creator;
	p[M0].events = POLLIN;

	for (;;) {
		int timeout = -1;
		if (nmembers == 0) {
			long left = deadline - now_ms();
			if (left <= 0)
				break;
			timeout = (int)left;
		}
		int r = poll(p, (nfds_t)(M0 + nmembers), timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if (p[0].revents) {
			if ((p[0].revents & (POLLERR | POLLNVAL)) || sif_fuse_process_one(f) < 0)
				break;   /* the mount is gone */
		}
		if (p[2].revents)
			relay_warnings(&p[2], p + M0, nmembers);
		if (p[1].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0 && (nmembers >= MAX_MEMBERS || !peer_is_me(c))) {
				close(c);
				c = -1;
			}
			if (c >= 0) {
				welcome(c, cwd + 1, mntns);
				sif_fuse_joined(f);
				p[M0 + nmembers].fd = c;
				p[M0 + nmembers].events = POLLIN;
				p[M0 + nmembers].revents = 0;
				nmembers++;
			}
		}
		for (int i = M0; i < M0 + nmembers; i++) {
			char buf[PATH_MAX + 40];
			ssize_t n;
			if (!p[i].revents)
				continue;
			int fd = -1;
			n = (p[i].revents & POLLIN) ? recv_member(p[i].fd, buf, sizeof(buf) - 1, &fd) : 0;
			if (n > 0 && p[i].fd == creator && !ready && buf[0] == 'R' && fd >= 0) {
				/* the root is complete: from now on others may join it */
				buf[n] = '\0';
				memcpy(cwd, buf, (size_t)n + 1);
				ready = true;
				mntns = fd;
				/* answer the launches queued since the claim */
				p[1].fd = lfd;
				continue;
			}
			if (fd >= 0)
				close(fd);
			if (n > 0)
				continue;
			/* a member ended */
			close(p[i].fd);
			p[i] = p[M0 + nmembers - 1];
			nmembers--;
			i--;
			if (nmembers == 0) {
				if (!ready || lfd < 0 || linger == 0)
					goto out;
				deadline = now_ms() + (long)linger * 1000L;
			}
		}
	}
out:
	if (lfd >= 0)
		close(lfd);
	if (mntns >= 0)
		close(mntns);
	free(p);
}
