/* SPDX-License-Identifier: BSD-3-Clause */
/* Starting the payload, and staying with it as reaper and signal relay. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enter.h"
#include "starter.h"

extern char **environ;

/* The signals the launcher passes on (kill -9 cannot be: the parent-death
 * signal covers it). */
static const int relayed[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
                              SIGTSTP, SIGCONT, SIGALRM, SIGPIPE};
#define NRELAYED (sizeof(relayed) / sizeof(relayed[0]))

static void relay_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < NRELAYED; i++)
		sigaddset(set, relayed[i]);
	sigaddset(set, SIGCHLD);
}

/* Wait for the next signal of SET.  One meant for the payload is passed to
 * TARGET, unless the terminal sent it (it reached the payload's process
 * group already; only signals sent to this process itself are relayed).
 * Returns true when it was SIGCHLD, for the caller to reap. */
static bool relay_next(const sigset_t *set, pid_t target)
{
	siginfo_t si;
	int sig = sigwaitinfo(set, &si);

	if (sig == SIGCHLD)
		return true;
	if (sig > 0 && si.si_code != SI_KERNEL)
		kill(target, sig);
	return false;
}

/* /proc/P/WHAT into BUF (NUL-terminated): its length, or -1. */
static ssize_t read_proc(pid_t p, const char *what, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)p, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* The parent of process P (from /proc/P/stat), or -1. */
static pid_t parent_of(pid_t p)
{
	char buf[512];
	int ppid;
	if (read_proc(p, "stat", buf, sizeof(buf)) <= 0)
		return -1;
	char *e = strrchr(buf, ')');   /* after the name, which may hold anything */
	return e && sscanf(e + 1, " %*c %d", &ppid) == 1 ? (pid_t)ppid : -1;
}

/* Was a signal from SENDER sent to the whole Slurm job step?  slurmstepd
 * signals every process of the step it tracks (scancel, srun's
 * forwarding, time limits), the payload included, so relaying what it
 * sent the launcher would deliver it twice, and a second SIGTERM or
 * SIGINT means "abort now" to mpirun and others.  True when SENDER is an
 * ancestor of this launcher named slurmstepd, inside a Slurm job. */
static bool from_slurm_step(pid_t sender)
{
	if (sender <= 1 || !getenv("SLURM_JOB_ID"))
		return false;
	pid_t p = getppid();
	for (int depth = 0; p > 1 && depth < 32; depth++, p = parent_of(p)) {
		if (p != sender)
			continue;
		char comm[32];
		return read_proc(p, "comm", comm, sizeof(comm)) > 0 &&
		       strncmp(comm, "slurmstepd", 10) == 0;
	}
	return false;
}

/* A failure before exec: one message to the launcher through the pipe. */
static __attribute__((noreturn, format(printf, 2, 3))) void child_fail(int pipefd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0 && write(pipefd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(255);
}

static int loopback_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0))
		r = -errno;
	close(fd);
	return r;
}

/* Root of a new user namespace of its own, uid 0 mapped to the user: the
 * capabilities it has reach nothing the user does not own. */
static int become_fakeroot(const struct sif_launch *l)
{
	int r;

	if (unshare(CLONE_NEWUSER) < 0)
		return -errno;
	r = sif_map_ids(0, (unsigned)l->uid, 0, (unsigned)l->gid);
	if (r == 0 && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		r = -errno;
	return r;
}

/* Init of a --pid container: pass signals on to the payload, reap every
 * orphan, and end with the payload's status. */
static __attribute__((noreturn)) void container_init(pid_t payload, int stopped)
{
	sigset_t set;
	relay_set(&set);
	prctl(PR_SET_NAME, "sif-init");
	for (;;) {
		if (!relay_next(&set, payload))
			continue;
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG | WUNTRACED)) > 0) {
			if (p != payload)
				continue;
			if (WIFSTOPPED(st)) {
				/* pid 1 cannot stop: the launcher stops for the payload,
				 * so that the shell sees the job stopped (Ctrl-Z) */
				if (write(stopped, "S", 1) < 0) {
					/* the launcher is gone: nothing to tell */
				}
				continue;
			}
			/* the kernel kills the rest of the namespace when init ends */
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
	}
}

struct child_args {
	struct sif_session *s;
	char *const *argv;
	sif_prepare_env_fn prepare;
	void *ctx;
	int errpipe;
	int close_fds[3];          /* the launcher's ends, closed in the child */
	int stopped;               /* --pid: init tells the launcher the payload stopped */
	pid_t launcher;
	sigset_t oldmask;
};

static __attribute__((noreturn)) void child_main(struct child_args *a)
{
	const struct sif_launch *l = a->s->l;
	int ep = a->errpipe;
	char msg[512];

	/* killed with the launcher, even by kill -9 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!l->pid_ns && getppid() != a->launcher)
		_exit(255);

	/* The launcher is in the container's mount namespace already, pivoted
	 * (sif_session_finish, or the share it joined), and so is this child.
	 * A new /proc (--pid) or /sys (--net) is mounted in a namespace of the
	 * payload's own, never in the one other launches share. */
	if (unshare(((l->pid_ns || l->net_ns) ? CLONE_NEWNS : 0) | (l->ipc_ns ? CLONE_NEWIPC : 0) |
	            (l->net_ns ? CLONE_NEWNET : 0)) < 0)
		child_fail(ep, "create the container's namespaces: %s", strerror(errno));
	if (l->net_ns && loopback_up() < 0)
		child_fail(ep, "bring up the loopback interface: %s", strerror(errno));
	/* a sysfs of the new network namespace: /sys/class/net shows lo only */
	if (l->net_ns && mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
	                       NULL) < 0)
		child_fail(ep, "mount /sys for the new network namespace: %s", strerror(errno));
	if (l->pid_ns && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		child_fail(ep, "mount /proc for the new pid namespace: %s", strerror(errno));
	if (sif_enter_cwd(a->s->cwd, l->pwd != NULL, msg, sizeof(msg)) < 0)
		child_fail(ep, "%s", msg);

	if (l->pid_ns) {
		pid_t q = fork();
		if (q < 0)
			child_fail(ep, "fork the payload: %s", strerror(errno));
		if (q > 0) {
			close(ep);
			container_init(q, a->stopped);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	}

	/* the launcher is not dumpable; the fakeroot process must be, to
	 * write its own id maps (exec makes the payload dumpable anyway) */
	if (l->fakeroot)
		prctl(PR_SET_DUMPABLE, 1);
	if (l->fakeroot && become_fakeroot(l) < 0)
		child_fail(ep, "--fakeroot: create the inner user namespace: %s", strerror(errno));
	if (sif_enter_drop_privileges(l->fakeroot, msg, sizeof(msg)) < 0)
		child_fail(ep, "%s", msg);

	for (size_t i = 0; i < NRELAYED; i++)
		signal(relayed[i], SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &a->oldmask, NULL);

	/* the image's own environment scripts run only now, as the payload
	 * would: unprivileged, inside */
	char **envp = a->prepare(a->ctx, msg, sizeof(msg));
	if (!envp)
		child_fail(ep, "%s", msg);
	/* every descriptor of the launcher's own is close-on-exec; the
	 * caller's (PMI sockets, pipes) are passed on as they are */
	environ = envp;
	execvp(a->argv[0], a->argv);
	child_fail(ep, "%s: %s%s", a->argv[0], strerror(errno),
	           errno == ENOENT ? " in the container (check the command and PATH)" : "");
}

/* The payload's process, started from a copy of the launcher's descriptor
 * table (the ends it must not keep are closed here). */
static int child_entry(void *arg)
{
	struct child_args *a = arg;
	close(a->close_fds[0]);
	close(a->close_fds[1]);
	close(a->close_fds[2]);
	child_main(a);
}

/* Start the payload's process.  A plain launch shares the launcher's
 * memory until the payload's exec (CLONE_VM | CLONE_VFORK, as posix_spawn
 * does; the launcher waits meanwhile): fork() copied the page tables and
 * write-protected the launcher's pages, which cost a joining launch 0.3 ms
 * here (a TLB shootdown across CPUs, expensive in a VM).  The child
 * changes no memory the launcher reads again but environ, which is put
 * back.  With --pid the child stays as the container's init and never
 * execs, and --fakeroot changes its credentials through glibc: those fork,
 * and so does an ASan build. */
static pid_t start_child(struct child_args *a)
{
	const struct sif_launch *l = a->s->l;
	const size_t stack_size = 1 << 20;

	bool own_memory = l->pid_ns || l->fakeroot;
#if defined(__SANITIZE_ADDRESS__)
	own_memory = true;   /* ASan knows nothing of a stack of our own */
#endif
	if (own_memory) {
		pid_t pid = fork();
		if (pid == 0)
			child_entry(a);
		return pid;
	}
	char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -1;
	char **saved = environ;
	pid_t pid = clone(child_entry, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, a);
	int e = errno;
	environ = saved;
	munmap(stack, stack_size);
	errno = e;
	return pid;
}

/* A message of the image server's (share.c: "W" and a warning line, the
 * image is damaged, say) on our membership socket: printed as it came.
 * -1 when the holder is gone: nothing more to hear. */
static int relay_server_warning(int member)
{
	char buf[1024];
	ssize_t n = recv(member, buf, sizeof(buf), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n > 1 && buf[0] == 'W' && write(STDERR_FILENO, buf + 1, (size_t)n - 1) < 0) {
		/* nowhere to say it */
	}
	return 0;
}

int sif_session_run(struct sif_session *s, char *const argv[], sif_prepare_env_fn prepare,
                    void *ctx, struct sif_err *err)
{
	const struct sif_launch *l = s->l;
	struct child_args a = {.s = s, .argv = argv, .prepare = prepare, .ctx = ctx,
	                       .launcher = getpid()};
	sigset_t set;
	int pipefd[2], stopfd[2], sfd, st = 0;
	char msg[1024];
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return sif_err_set(err, errno, "pipe: %s", strerror(errno));
	if (pipe2(stopfd, O_CLOEXEC) < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return sif_err_set(err, e, "pipe: %s", strerror(e));
	}
	a.stopped = stopfd[1];
	relay_set(&set);
	sigprocmask(SIG_BLOCK, &set, &a.oldmask);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	a.errpipe = pipefd[1];
	a.close_fds[0] = pipefd[0];
	a.close_fds[1] = stopfd[0];
	a.close_fds[2] = sfd;
	if ((l->pid_ns && unshare(CLONE_NEWPID) < 0) || sfd < 0 || (pid = start_child(&a)) < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		close(stopfd[0]);
		close(stopfd[1]);
		if (sfd >= 0)
			close(sfd);
		sigprocmask(SIG_SETMASK, &a.oldmask, NULL);
		return sif_err_set(err, e, "start the payload: %s", strerror(e));
	}
	close(pipefd[1]);
	close(stopfd[1]);
	sif_trace(l, "run: payload pid %d: %s", (int)pid, argv[0]);

	/* the child closes its end at exec (close-on-exec) or writes why not */
	do {
		n = read(pipefd[0], msg, sizeof(msg) - 1);
	} while (n < 0 && errno == EINTR);
	close(pipefd[0]);

	/* Signals (signalfd) and, with --pid, the init's word that the payload
	 * stopped.  Signals the terminal sent reached the payload's process
	 * group already; only those sent to the launcher itself are relayed. */
	int stop_r = stopfd[0], member = s->member_fd;
	for (;;) {
		struct pollfd pf[3] = {{.fd = sfd, .events = POLLIN}, {.fd = stop_r, .events = POLLIN},
		                       {.fd = member, .events = POLLIN}};
		struct signalfd_siginfo si;
		char c;

		if (poll(pf, 3, -1) < 0)
			continue;
		if (member >= 0 && pf[2].revents && relay_server_warning(member) < 0)
			member = -1;
		if (stop_r >= 0 && pf[1].revents) {
			if (read(stop_r, &c, 1) == 1) {
				raise(SIGSTOP);   /* job control: stop with the payload */
			} else {
				close(stop_r);
				stop_r = -1;
			}
		}
		if (!(pf[0].revents & POLLIN) || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD) {
			bool step = si.ssi_code != SI_KERNEL && from_slurm_step((pid_t)si.ssi_pid);
			sif_trace(l, "signal: %s from pid %d: %s", strsignal((int)si.ssi_signo),
			          (int)si.ssi_pid, si.ssi_code == SI_KERNEL ? "the terminal's, not relayed" :
			          step ? "slurmstepd signals the whole step: not relayed" : "relayed");
			if (si.ssi_code != SI_KERNEL && !step)
				kill(pid, (int)si.ssi_signo);
			continue;
		}
		pid_t p;
		bool done = false;
		while ((p = waitpid(-1, &st, WNOHANG | WUNTRACED)) > 0) {
			if (p == s->server) {
				s->server = 0;
				continue;
			}
			if (p != pid)
				continue;
			if (WIFSTOPPED(st)) {
				/* job control: stop with the payload so the shell sees it */
				raise(SIGSTOP);
				continue;
			}
			done = true;
		}
		if (done)
			break;
	}
	close(sfd);
	if (stop_r >= 0)
		close(stop_r);
	sigprocmask(SIG_SETMASK, &a.oldmask, NULL);
	if (n > 0) {
		msg[n] = '\0';
		return sif_err_set(err, ENOEXEC, "%s", msg);
	}
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* ---- handing the root over to a Slurm task (the SPANK plugin) ----------- */

/* Write all of BUF, or fail. */
static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* In a child, as the payload would be (pivoted, unprivileged): the
 * environment PREPARE gives, sent to the task as the root, the cwd and
 * the environment, NUL-separated, after their length. */
static __attribute__((noreturn)) void send_plan(struct sif_session *s, int sock, int ep,
                                                sif_prepare_env_fn prepare, void *ctx)
{
	char msg[512], **envp;
	size_t len = 2 + strlen(s->cwd) + 1 + 2;
	char *blob, *p;
	uint32_t n32;

	if (sif_enter_cwd(s->cwd, s->l->pwd != NULL, msg, sizeof(msg)) < 0 ||
	    sif_enter_drop_privileges(false, msg, sizeof(msg)) < 0)
		child_fail(ep, "%s", msg);
	if (!(envp = prepare(ctx, msg, sizeof(msg))))
		child_fail(ep, "%s", msg);
	for (char **e = envp; *e; e++)
		len += strlen(*e) + 1;
	if (len > UINT32_MAX || !(p = blob = malloc(len)))
		child_fail(ep, "out of memory");
	p = stpcpy(p, "/") + 1;   /* the root: this mount namespace's own */
	p = stpcpy(p, s->cwd) + 1;
	p = stpcpy(p, s->l->pwd ? "P" : "-") + 1;
	for (char **e = envp; *e; e++)
		p = stpcpy(p, *e) + 1;
	n32 = (uint32_t)(p - blob);
	if (write_all(sock, &n32, sizeof(n32)) < 0 || write_all(sock, blob, n32) < 0)
		child_fail(ep, "hand the container over to the task: %s", strerror(errno));
	_exit(0);
}

int sif_session_handover(struct sif_session *s, int sock, sif_prepare_env_fn prepare, void *ctx,
                         struct sif_err *err)
{
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int ns[2], pipefd[2], pidfd, st, r;
	char cbuf[CMSG_SPACE(sizeof(ns))], tag = 'S', msg[1024];
	struct iovec iov = {.iov_base = &tag, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	                   .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	ssize_t n;
	pid_t pid = -1;

	/* the task this root is for: the peer that made the socket pair; its
	 * end is this process's end (the task's exec is, too) */
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 || cr.uid != getuid())
		return sif_err_set(err, EPERM, "--handover: descriptor %d is not a socket of this "
		                   "user's task (it is for the SPANK plugin only)", sock);
	pidfd = (int)syscall(SYS_pidfd_open, cr.pid, 0);
	if (pidfd < 0)
		return sif_err_set(err, errno, "--handover: the task (pid %d) is gone: %s",
		                   (int)cr.pid, strerror(errno));
	/* the task's namespaces will be these two: the user namespace and the
	 * container's mount namespace, pivoted already; it enters them and
	 * changes to the working directory, as a payload does */
	ns[0] = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	ns[1] = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (ns[0] < 0 || ns[1] < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		int e = errno;
		for (int i = 0; i < 2; i++)
			if (ns[i] >= 0)
				close(ns[i]);
		close(pidfd);
		return sif_err_set(err, e, "hand the container over: %s", strerror(e));
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(ns));
	memcpy(CMSG_DATA(cm), ns, sizeof(ns));
	r = sendmsg(sock, &m, MSG_NOSIGNAL) == 1 ? 0 : -errno;
	close(ns[0]);
	close(ns[1]);
	if (r == 0 && (pid = fork()) == 0) {
		close(pipefd[0]);
		send_plan(s, sock, pipefd[1], prepare, ctx);
	}
	if (r == 0 && pid < 0)
		r = -errno;
	close(pipefd[1]);
	if (r < 0) {
		close(pipefd[0]);
		close(pidfd);
		return sif_err_set(err, -r, "hand the container over to the task: %s", strerror(-r));
	}
	do {
		n = read(pipefd[0], msg, sizeof(msg) - 1);
	} while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* the task has all it needs (or sees the end of the socket) */
	close(sock);
	if (n > 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		close(pidfd);
		if (n <= 0)
			snprintf(msg, sizeof(msg), "prepare the container for the task: the helper died");
		else
			msg[n] = '\0';
		return sif_err_set(err, ENOEXEC, "%s", msg);
	}
	sif_trace(s->l, "handover: the task (pid %d) has the container; holding it until the "
	          "task ends", (int)cr.pid);
	/* membership of the mount is this process's: it lasts as long as the
	 * task (whose pid the payload keeps), whatever signals the job gets */
	static const int quiet[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE,
	                            SIGTSTP, SIGTTIN, SIGTTOU};
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		signal(quiet[i], SIG_IGN);
	/* nor its output: Slurm waits for the task's to close */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; null >= 0 && fd <= 2; fd++)
		dup2(null, fd);
	if (null > 2)
		close(null);
	struct pollfd pf = {.fd = pidfd, .events = POLLIN};
	while (poll(&pf, 1, -1) < 0 && errno == EINTR)
		;
	close(pidfd);
	return 0;
}
