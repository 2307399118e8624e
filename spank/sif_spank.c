/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sif_spank.so: Slurm's SPANK plugin for sif.
 *
 *   srun --sif-image=IMG [--sif-bind=SRC[:DST[:ro|rw]],...] [--sif-pwd=DIR] CMD
 *   #SBATCH --sif-image=IMG      (the batch script itself runs in IMG)
 *
 * Slurm 22.05's SPANK cannot put "sif exec IMG" in front of a task's argv,
 * so each task is put into the container in slurm_spank_task_init(), in the
 * task's own process, as the user, just before Slurm execs the command:
 *
 *  1. The task starts the sif launcher (the plugin's "sif=" argument, by
 *     default the one installed with the plugin) as "sif exec --handover=3
 *     ... IMG" with the task's environment.  It sets the container up, or
 *     joins the one the step's other tasks on this node already share (the
 *     share tag of the step, as under "srun sif exec": one user and mount
 *     namespace and one FUSE server per node per step), and sends back the
 *     user namespace and the container's mount namespace (pivoted into the
 *     root already), the working directory and the payload's
 *     environment (runtime/cli/exec.c, starter/run.c sif_session_handover).
 *     The launcher is detached from the task (its own session, reparented)
 *     and holds the mount for as long as the task lives (a pidfd).
 *  2. The task enters the namespaces, changes to the working directory and
 *     drops every privilege: the same steps, in the same code
 *     (starter/enter.c), as a payload of "sif exec".
 *  3. The environment becomes the payload's, and a command srun named by a
 *     host path that the image does not have is looked up on the image's
 *     PATH.  Slurm then execs the command: signals, exit codes and
 *     accounting are Slurm's own.
 *
 * The plugin never runs anything as root: task_init runs in the task after
 * Slurm has become the user, and the plugin does nothing in slurmd or in
 * the privileged parts of slurmstepd.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/spank.h>

#include "enter.h"

SPANK_PLUGIN(sif, 1);

#define MAX_PLAN (64u << 20)

static struct spank_option opt_image = {
	"sif-image", "IMAGE",
	"Run each task in the container IMAGE (a .sif file, a squashfs file or a directory) with sif",
	1, 0, NULL};
static struct spank_option opt_bind = {
	"sif-bind", "SRC[:DST[:ro|rw]],...",
	"Bind host paths into the sif container (as sif exec -B)", 1, 0, NULL};
static struct spank_option opt_pwd = {
	"sif-pwd", "DIR", "Working directory inside the sif container (as sif exec --pwd)", 1, 0,
	NULL};

/* plugstack.conf arguments */
static char sif_path[PATH_MAX] = SIF_BINDIR "/sif";
static int verbose;

static int parse_args(int ac, char **av)
{
	for (int i = 0; i < ac; i++) {
		if (strncmp(av[i], "sif=", 4) == 0 && av[i][4] == '/' &&
		    strlen(av[i] + 4) < sizeof(sif_path)) {
			snprintf(sif_path, sizeof(sif_path), "%s", av[i] + 4);
		} else if (strcmp(av[i], "verbose") == 0) {
			verbose = 1;
		} else {
			slurm_error("sif: plugstack.conf: unknown argument '%s' for sif_spank.so "
			            "(expected sif=/ABSOLUTE/PATH/TO/sif or verbose)", av[i]);
			return -1;
		}
	}
	return 0;
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	if (parse_args(ac, av) < 0)
		return -1;
	/* in every context: srun and sbatch parse them, slurmstepd reads them */
	if (spank_option_register(sp, &opt_image) != ESPANK_SUCCESS ||
	    spank_option_register(sp, &opt_bind) != ESPANK_SUCCESS ||
	    spank_option_register(sp, &opt_pwd) != ESPANK_SUCCESS) {
		slurm_error("sif: cannot register the --sif-* options");
		return -1;
	}
	return 0;
}

static char *getopt_value(spank_t sp, struct spank_option *o)
{
	char *v = NULL;
	if (spank_option_getopt(sp, o, &v) != ESPANK_SUCCESS || !v || !*v)
		return NULL;
	return v;
}

static int read_all(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Start the launcher, detached from the task: its own session, and a
 * child of init once the intermediate process is reaped, so that neither
 * the task's process group nor Slurm's process tracking signal it; its
 * life is the task's (sif_session_handover). */
static int start_launcher(char *const argv[], char *const envp[], int sock, int errfd)
{
	pid_t a = fork(), r;
	int st;

	if (a < 0)
		return -errno;
	if (a == 0) {
		setsid();
		pid_t b = fork();
		if (b != 0)
			_exit(b < 0 ? 127 : 0);
		/* descriptor 3 is the socket; nothing else of Slurm's reaches sif */
		if (dup2(sock, 3) < 0 || dup2(errfd, 2) < 0)
			_exit(127);
		syscall(SYS_close_range, 4, ~0U, 0);
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(argv[0], argv, envp);
		dprintf(2, "sif: error: start the sif launcher %s for --sif-image: %s (check the "
		        "plugin's sif= argument in plugstack.conf)\n", argv[0], strerror(errno));
		_exit(127);
	}
	while ((r = waitpid(a, &st, 0)) < 0 && errno == EINTR)
		;
	return r == a && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
}

/* What the launcher wrote on its stderr (a pipe) until it closed it: on
 * success the -v trace, on failure its one line.  Each line goes to Slurm's
 * log of the task (the task's stderr), as an error when FAILED; returns
 * the number of lines. */
static int relay_launcher_lines(int fd, bool failed)
{
	char buf[8192];
	size_t have = 0;
	int lines = 0;

	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		ssize_t n;
		if (poll(&pf, 1, 10000) <= 0)
			break;   /* the launcher keeps it open: no more waiting */
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		char *nl;
		while ((nl = memchr(buf, '\n', have)) || have == sizeof(buf) - 1) {
			size_t k = nl ? (size_t)(nl - buf) : have;
			buf[k] = '\0';
			if (failed)
				slurm_error("%s", buf);
			else
				slurm_info("%s", buf);
			lines++;
			k += nl ? 1 : 0;
			memmove(buf, buf + k, have - k);
			have -= k;
		}
	}
	if (have > 0) {
		buf[have] = '\0';
		if (failed)
			slurm_error("%s", buf);
		else
			slurm_info("%s", buf);
		lines++;
	}
	return lines;
}

/* The launcher's answer: the namespaces, then the plan.  Returns the plan
 * (malloc'd, *len bytes), or NULL when the launcher failed (it said why on
 * the task's stderr). */
static char *receive_plan(int sock, int ns[2], size_t *len)
{
	char tag = 0, cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {.iov_base = &tag, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	                   .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	uint32_t n32;
	char *plan;
	ssize_t n;

	ns[0] = ns[1] = -1;
	do {
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	for (cm = CMSG_FIRSTHDR(&m); n == 1 && cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(2 * sizeof(int)))
			memcpy(ns, CMSG_DATA(cm), 2 * sizeof(int));
	if (n != 1 || tag != 'S' || ns[0] < 0 || ns[1] < 0 ||
	    read_all(sock, &n32, sizeof(n32)) < 0 || n32 < 6 || n32 > MAX_PLAN ||
	    !(plan = malloc((size_t)n32 + 1)))
		return NULL;
	if (read_all(sock, plan, n32) < 0 || plan[n32 - 1] != '\0') {
		free(plan);
		return NULL;
	}
	plan[n32] = '\0';
	*len = n32;
	return plan;
}

/* The command inside the container: srun passes a path it resolved on the
 * submitting host, Slurm one it resolved on this node's; when the image has
 * no such file, the name is looked up on the payload's PATH, as "sif exec"
 * does.  Returns the path to exec (argv0 itself, or malloc'd), or NULL. */
static char *command_in_container(const char *argv0, const char *path)
{
	const char *name = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;

	if (strchr(argv0, '/') && access(argv0, X_OK) == 0)
		return (char *)argv0;
	if (!*name)
		return NULL;
	for (const char *p = path ? path : ""; *p;) {
		const char *e = strchr(p, ':');
		size_t k = e ? (size_t)(e - p) : strlen(p);
		char cand[PATH_MAX];
		struct stat st;
		if (k > 0 && snprintf(cand, sizeof(cand), "%.*s/%s", (int)k, p, name) < (int)sizeof(cand) &&
		    stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return strdup(cand);
		p += k + (e ? 1 : 0);
	}
	return NULL;
}

/* The task's environment becomes the payload's (PLAN's strings from ENV). */
static int set_environment(spank_t sp, char **job_env, const char *env, const char *end)
{
	/* names the payload does not have go; copied first, as unsetenv
	 * changes the job's array */
	size_t n = 0;
	for (char **e = job_env; e && *e; e++)
		n++;
	char **drop = calloc(n + 1, sizeof(*drop));
	size_t k = 0;
	if (!drop)
		return -1;
	for (char **e = job_env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		size_t nl = (size_t)(eq - *e);
		bool keep = false;
		for (const char *v = env; v < end; v += strlen(v) + 1)
			if (strncmp(v, *e, nl) == 0 && v[nl] == '=') {
				keep = true;
				break;
			}
		if (!keep && !(drop[k++] = strndup(*e, nl)))
			break;
	}
	int r = 0;
	for (size_t i = 0; i < k; i++) {
		if (drop[i] && spank_unsetenv(sp, drop[i]) != ESPANK_SUCCESS)
			r = -1;
		free(drop[i]);
	}
	free(drop);
	for (const char *v = env; r == 0 && v < end; v += strlen(v) + 1) {
		const char *eq = strchr(v, '=');
		char name[1024];
		if (!eq || (size_t)(eq - v) >= sizeof(name))
			continue;
		memcpy(name, v, (size_t)(eq - v));
		name[eq - v] = '\0';
		if (spank_setenv(sp, name, eq + 1, 1) != ESPANK_SUCCESS)
			r = -1;
	}
	return r;
}

/* A task that asked for a container and cannot have it ends here, with
 * sif's own exit status: it never runs its command on the host (Slurm
 * would go on after a plugin loaded as "optional" fails), nor half inside. */
static __attribute__((noreturn)) void fail(void)
{
	_exit(255);
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	char *image, *bind, *pwd, **job_env = NULL, **argv = NULL, *plan = NULL;
	char *largv[16], handover[] = "--handover=3", msg[512], script_bind[PATH_MAX * 2 + 8];
	uint32_t stepid = 0;
	int argc = 0, sv[2], ep[2], ns[2] = {-1, -1}, k = 0;
	size_t len = 0;

	(void)ac;
	(void)av;
	if (spank_context() != S_CTX_REMOTE || !(image = getopt_value(sp, &opt_image)))
		return 0;
	bind = getopt_value(sp, &opt_bind);
	pwd = getopt_value(sp, &opt_pwd);
	if (spank_get_item(sp, S_JOB_ENV, &job_env) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ARGV, &argc, &argv) != ESPANK_SUCCESS || argc < 1 ||
	    !argv || !argv[0] || spank_get_item(sp, S_JOB_STEPID, &stepid) != ESPANK_SUCCESS) {
		slurm_error("sif: error: --sif-image: cannot read the task's command and environment "
		            "from Slurm");
		fail();
	}

	largv[k++] = sif_path;
	largv[k++] = "exec";
	largv[k++] = handover;
	if (verbose)
		largv[k++] = "-v";
	if (bind) {
		largv[k++] = "-B";
		largv[k++] = bind;
	}
	if (stepid == SLURM_BATCH_SCRIPT) {
		/* the batch script is a file in slurmd's spool: visible at its path */
		if (argv[0][0] != '/' || strchr(argv[0], ',') || strchr(argv[0], ':') ||
		    snprintf(script_bind, sizeof(script_bind), "%s:%s:ro", argv[0], argv[0]) >=
		            (int)sizeof(script_bind)) {
			slurm_error("sif: error: --sif-image: the batch script's path %s cannot be bound "
			            "into the container", argv[0]);
			fail();
		}
		largv[k++] = "-B";
		largv[k++] = script_bind;
	}
	if (pwd) {
		largv[k++] = "--pwd";
		largv[k++] = pwd;
	}
	largv[k++] = "--";
	largv[k++] = image;
	largv[k] = NULL;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		slurm_error("sif: error: --sif-image: socketpair: %s", strerror(errno));
		fail();
	}
	if (start_launcher(largv, job_env, sv[1], ep[1]) < 0) {
		slurm_error("sif: error: --sif-image: cannot start the sif launcher %s (check the "
		            "plugin's sif= argument in plugstack.conf)", sif_path);
		fail();
	}
	close(sv[1]);
	close(ep[1]);
	plan = receive_plan(sv[0], ns, &len);
	close(sv[0]);
	/* the launcher's own words: its one error line, or its -v trace */
	if (relay_launcher_lines(ep[0], !plan) == 0 && !plan)
		slurm_error("sif: error: --sif-image %s: the sif launcher %s ended without setting "
		            "the container up", image, sif_path);
	close(ep[0]);
	if (!plan)
		fail();

	const char *root = plan, *cwd = root + strlen(root) + 1, *from = cwd + strlen(cwd) + 1;
	const char *env = from + strlen(from) + 1, *end = plan + len;
	if (env > end) {
		slurm_error("sif: error: --sif-image: the launcher's answer is malformed");
		fail();
	}
	/* the launch's user namespace and the container's mount namespace,
	 * pivoted into the root already (root "/"); a launcher of an earlier
	 * version sends the launch's own, to copy and pivot (root: its path) */
	bool pivoted = strcmp(root, "/") == 0;
	if (setns(ns[0], CLONE_NEWUSER) < 0 || setns(ns[1], CLONE_NEWNS) < 0 ||
	    (!pivoted && unshare(CLONE_NEWNS) < 0)) {
		slurm_error("sif: error: --sif-image: enter the container's namespaces: %s",
		            strerror(errno));
		fail();
	}
	if ((!pivoted && sif_enter_pivot(root, msg, sizeof(msg)) < 0) ||
	    sif_enter_cwd(cwd, from[0] == 'P', msg, sizeof(msg)) < 0) {
		slurm_error("sif: error: --sif-image: %s", msg);
		fail();
	}
	const char *path = NULL;
	for (const char *v = env; v < end; v += strlen(v) + 1)
		if (strncmp(v, "PATH=", 5) == 0)
			path = v + 5;
	char *cmd = command_in_container(argv[0], path);
	if (!cmd) {
		slurm_error("sif: error: %s: not found in the container %s (PATH=%s): check the command",
		            argv[0], image, path ? path : "");
		fail();
	}
	if (cmd != argv[0])
		argv[0] = cmd;   /* the array Slurm execs */
	if (sif_enter_drop_privileges(false, msg, sizeof(msg)) < 0) {
		slurm_error("sif: error: --sif-image: %s", msg);
		fail();
	}
	if (set_environment(sp, job_env, env, end) < 0) {
		slurm_error("sif: error: --sif-image: cannot set the task's environment");
		fail();
	}
	if (verbose)
		slurm_info("sif: task in %s (root %s, cwd %s): %s", image, root, cwd, argv[0]);
	close(ns[0]);
	close(ns[1]);
	free(plan);
	return 0;
}
