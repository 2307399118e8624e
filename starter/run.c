/* SPDX-License-Identifier: BSD-3-Clause */
/* Starting the payload, and staying with it as reaper and signal relay. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sys/capability.h>

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

/* No capability survives into the payload: bounding set emptied, then
 * every set cleared.  (Under --fakeroot the payload is root of its own
 * user namespace and keeps capabilities there only.) */
static int drop_capabilities(bool keep_bounding)
{
	int last = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	cap_t none;
	int r = 0;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	if (!keep_bounding)
		for (int c = 0; c <= last; c++)
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	if (keep_bounding)
		return 0;
	none = cap_init();
	if (!none)
		return -ENOMEM;
	if (cap_set_proc(none) < 0)
		r = -errno;
	cap_free(none);
	return r;
}

/* TIOCSTI and TIOCLINUX would let the payload type into the caller's
 * terminal, outside the container: refused. */
static int deny_tty_injection(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -ENOMEM;
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
	                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
		                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
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
	int stopped;               /* --pid: init tells the launcher the payload stopped */
	pid_t launcher;
	sigset_t oldmask;
};

static __attribute__((noreturn)) void child_main(struct child_args *a)
{
	const struct sif_launch *l = a->s->l;
	int ep = a->errpipe;

	/* killed with the launcher, even by kill -9 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!l->pid_ns && getppid() != a->launcher)
		_exit(255);

	/* a mount namespace of its own: the launch's namespace keeps the
	 * assembled root for others to join; this one pivots into it */
	if (unshare(CLONE_NEWNS | (l->ipc_ns ? CLONE_NEWIPC : 0) | (l->net_ns ? CLONE_NEWNET : 0)) < 0)
		child_fail(ep, "create the container's namespaces: %s", strerror(errno));
	if (l->net_ns && loopback_up() < 0)
		child_fail(ep, "bring up the loopback interface: %s", strerror(errno));
	if (l->net_ns) {
		/* a sysfs of the new network namespace: /sys/class/net shows lo only */
		char sys[PATH_MAX + 8];
		snprintf(sys, sizeof(sys), "%s/sys", a->s->root);
		if (mount("sysfs", sys, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0)
			child_fail(ep, "mount /sys for the new network namespace: %s", strerror(errno));
	}
	if (l->pid_ns) {
		char proc[PATH_MAX + 8];
		snprintf(proc, sizeof(proc), "%s/proc", a->s->root);
		if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			child_fail(ep, "mount /proc for the new pid namespace: %s", strerror(errno));
	}
	if (chdir(a->s->root) < 0)
		child_fail(ep, "enter the container root: %s", strerror(errno));
	/* pivot_root(".", "."): the old root ends up on top, and is detached */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_fail(ep, "pivot_root into the container: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		child_fail(ep, "detach the host root: %s", strerror(errno));
	if (chdir(a->s->cwd) < 0)
		child_fail(ep, "%s %s: %s%s", l->pwd ? "--pwd" : "working directory", a->s->cwd,
		           strerror(errno), l->pwd ? " (inside the container)" : "");

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
	if (drop_capabilities(l->fakeroot) < 0)
		child_fail(ep, "drop capabilities: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(ep, "set no_new_privs: %s", strerror(errno));
	if (deny_tty_injection() < 0)
		child_fail(ep, "install the seccomp filter: %s", strerror(errno));

	for (size_t i = 0; i < NRELAYED; i++)
		signal(relayed[i], SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &a->oldmask, NULL);

	/* the image's own environment scripts run only now, as the payload
	 * would: unprivileged, inside */
	char msg[512];
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

	if (!l->writable_tmpfs) {
		sif_trace(l, "mount: the root read-only");
		if (mount(NULL, s->root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
		          NULL) < 0)
			return sif_err_set(err, errno, "make the root read-only: %s", strerror(errno));
	}
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
	if ((l->pid_ns && unshare(CLONE_NEWPID) < 0) || sfd < 0 || (pid = fork()) < 0) {
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
	if (pid == 0) {
		close(pipefd[0]);
		close(stopfd[0]);
		close(sfd);
		a.errpipe = pipefd[1];
		child_main(&a);
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
	int stop_r = stopfd[0];
	for (;;) {
		struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = stop_r, .events = POLLIN}};
		struct signalfd_siginfo si;
		char c;

		if (poll(pf, stop_r >= 0 ? 2 : 1, -1) < 0)
			continue;
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
			if (si.ssi_code != SI_KERNEL)
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
