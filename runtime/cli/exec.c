/* SPDX-License-Identifier: BSD-3-Clause */
/* sif exec | run | shell: start a container as the invoking user. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "env.h"
#include "hostslurm.h"
#include "launch.h"
#include "passwd.h"
#include "resolve.h"
#include "siteconf.h"
#include "sif.h"
#include "starter.h"

extern char **environ;

#define COMMON_OPTIONS \
	"Options:\n" \
	"  -B, --bind SRC[:DST[:ro|rw]]  bind a host path (comma lists; repeatable;\n" \
	"                        also SIF_BIND); DST is resolved inside the container\n" \
	"  -e, --cleanenv        pass only TERM, LANG, LC_*, TZ, DISPLAY from the host\n" \
	"      --env NAME=VALUE  set a variable inside (repeatable; also SIF_ENV_NAME)\n" \
	"      --env-file FILE   NAME=VALUE lines to set inside\n" \
	"  -c, --contain         minimal /dev, private /tmp and /var/tmp, empty home\n" \
	"  -C, --containall      --contain, --pid, --ipc and --cleanenv\n" \
	"  -p, --pid             a new pid namespace (and /proc)\n" \
	"  -i, --ipc             a new IPC namespace\n" \
	"  -n, --net             a new network namespace with loopback only\n" \
	"      --writable-tmpfs  the root is writable; changes vanish at exit\n" \
	"  -f, --fakeroot        uid 0 inside, through a user namespace of its own\n" \
	"      --pwd DIR         start in DIR inside the container\n" \
	"  -H, --home SRC[:DST]  bind SRC as the home directory (default: yours)\n" \
	"      --no-home         do not bind a home directory\n" \
	"      --no-share        neither join nor offer a live mount of the image\n" \
	"      --slurm           the host's Slurm commands (srun, squeue, ...) inside,\n" \
	"                        first on PATH, with its slurm.conf and munge socket\n" \
	"      --no-slurm        not, where sif.conf makes --slurm the default\n" \
	"      --share-tag NAME  launches with this tag share one mount; their options\n" \
	"                        must match (MPI ranks of one job on one node); the\n" \
	"                        default in a Slurm step (slurm-JOB.STEP) and under\n" \
	"                        mpirun (mpi-JOBID)\n" \
	"      --handover=FD     exec: the SPANK plugin's (sif_spank(8)): hand the\n" \
	"                        container to the Slurm task on socket FD\n" \
	"  -v, --verbose         trace each namespace and mount step (also --debug)\n" \
	"  -h, --help            show this help\n" \
	"\n" \
	"IMAGE may also be docker://[HOST/]REPO[:TAG]: pulled into the cache as\n" \
	"'sif pull' does (see sif-pull(1)), then run from there.\n" \
	"Exit status: the payload's own; 128+N when a signal N ended it; 255 when\n" \
	"sif itself fails, with one line 'sif: error: ...' (a payload that exits\n" \
	"255 looks the same). See sif-exec(1).\n"

static const char exec_usage[] =
	"Usage: sif exec [OPTIONS] IMAGE COMMAND [ARG...]\n"
	"\n"
	"Run COMMAND inside IMAGE (a .sif file, a squashfs file or a directory) as\n"
	"you, in the current directory. No shell is needed in the image.\n"
	"\n" COMMON_OPTIONS;
static const char run_usage[] =
	"Usage: sif run [OPTIONS] IMAGE [ARG...]\n"
	"\n"
	"Run the image's runscript (/.singularity.d/runscript, from the OCI\n"
	"ENTRYPOINT and CMD) with ARGs, in the image's WorkingDir when it has one.\n"
	"\n" COMMON_OPTIONS;
static const char shell_usage[] =
	"Usage: sif shell [OPTIONS] IMAGE\n"
	"\n"
	"Start an interactive shell inside IMAGE: $SIF_SHELL, else the image's\n"
	"/bin/bash, else /bin/sh.\n"
	"\n" COMMON_OPTIONS;

/* What the payload's process needs to finish its environment. */
struct prepare_ctx {
	struct sif_env env;
	char **sh_scripts;
	const struct sif_launch *l;
	const char *cwd;
};

static char **prepare_env(void *p, char *msg, size_t msglen)
{
	struct prepare_ctx *c = p;
	struct sif_err err = {0};

	/* the image's shell scripts, then sif's and the user's settings again:
	 * the user's word is last */
	if (c->sh_scripts && (sif_env_apply_scripts(&c->env, c->sh_scripts, &err) < 0 ||
	                      sif_env_overrides(&c->env, c->l, c->cwd, &err) < 0)) {
		snprintf(msg, msglen, "%s", err.msg);
		return NULL;
	}
	return c->env.v;
}

static int add_env(struct sif_launch *l, char *kv)
{
	char **nv = realloc(l->env_set, (l->nenv_set + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	l->env_set = nv;
	l->env_set[l->nenv_set++] = kv;
	return 0;
}

/* /etc/passwd and /etc/group with the invoking user in them. */
static int write_identity(struct sif_session *s, const struct sif_launch *l, struct sif_err *err)
{
	char *img_pw = NULL, *img_gr = NULL, *pw, *gr;
	struct passwd *hp = getpwuid(l->uid);
	struct group *hg = getgrgid(l->gid);
	char gname[32], shell[512] = "/bin/sh";
	struct sif_err ignore;
	int r;

	if (hp && hp->pw_shell && *hp->pw_shell) {
		int fd = sif_resolve(s->rootfd, hp->pw_shell, SIF_RESOLVE_EXISTING, true, NULL, 0, &ignore);
		if (fd >= 0) {
			snprintf(shell, sizeof(shell), "%s", hp->pw_shell);
			close(fd);
		}
	}
	snprintf(gname, sizeof(gname), "%u", (unsigned)l->gid);
	sif_read_in_root(s->rootfd, "/etc/passwd", 4 << 20, &img_pw, NULL, &ignore);
	sif_read_in_root(s->rootfd, "/etc/group", 4 << 20, &img_gr, NULL, &ignore);
	pw = sif_passwd_generate(img_pw, l->user, l->uid, l->gid, hp ? hp->pw_gecos : "",
	                         l->home_dst ? l->home_dst : "/", shell);
	gr = sif_group_generate(img_gr, hg ? hg->gr_name : gname, l->gid, l->user);
	free(img_pw);
	free(img_gr);
	if (!pw || !gr) {
		free(pw);
		free(gr);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	r = sif_session_write(s, "/etc/passwd", pw, err);
	if (r == 0)
		r = sif_session_write(s, "/etc/group", gr, err);
	free(pw);
	free(gr);
	return r;
}

/* An id from the environment that can name a share tag: short, and only
 * letters, digits and ".-_" (a PMIx namespace may be "slurm.pmix.5.0"). */
static const char *env_id(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v || strlen(v) > 64)
		return NULL;
	for (const char *p = v; *p; p++)
		if (!(*p >= '0' && *p <= '9') && !(*p >= 'a' && *p <= 'z') &&
		    !(*p >= 'A' && *p <= 'Z') && *p != '.' && *p != '-' && *p != '_')
			return NULL;
	return v;
}

/* The tasks of one job step on one node meet under one tag without being
 * told: a Slurm step (srun; the batch script itself has no SLURM_STEP_ID
 * and shares by its options alone), else an Open MPI mpirun job (Debian
 * 12's Open MPI 4.1 exports PMIX_NAMESPACE, equal to
 * OMPI_MCA_ess_base_jobid; older ones OMPI_MCA_orte_ess_jobid).  Fills TAG
 * and ORIGIN, or returns false. */
static bool job_share_tag(char *tag, size_t taglen, char *origin, size_t originlen)
{
	const char *job = env_id("SLURM_JOB_ID"), *step = env_id("SLURM_STEP_ID");

	if (job && step) {
		snprintf(tag, taglen, "slurm-%s.%s", job, step);
		snprintf(origin, originlen, "Slurm job step %s.%s", job, step);
		return true;
	}
	if (getenv("OMPI_COMM_WORLD_SIZE")) {
		const char *id = env_id("PMIX_NAMESPACE");
		if (!id)
			id = env_id("OMPI_MCA_ess_base_jobid");
		if (!id)
			id = env_id("OMPI_MCA_orte_ess_jobid");
		if (id) {
			snprintf(tag, taglen, "mpi-%s", id);
			snprintf(origin, originlen, "mpirun job %s", id);
			return true;
		}
	}
	return false;
}

/* ---- the PMIx rendezvous -------------------------------------------------
 * Under 'srun --mpi=pmix' (Slurm 22.05, PMIx 4.2) a task's PMIx client
 * reaches slurmd's PMIx server by the TCP address in PMIX_SERVER_URI* (no
 * file needed) and reads the job's data from the server's shared-memory
 * store, files under PMIX_SERVER_TMPDIR (slurmd's spool, pmix.JOB.STEP/;
 * PMIX_DSTORE_*_BASE_PATH name its parts); under mpirun the same lie in
 * mpirun's session directory (/tmp/ompi.HOST.UID/pid.N).  Without them the
 * client falls back to asking the server, with "PMIX ERROR" lines.  The
 * container must show that directory at its own path: it is bound when
 * nothing shows it already (/tmp, the home, a bind), and only when it is a
 * directory of the user's, not writable by others, and either slurmd's
 * (named pmix.JOB.STEP, in a directory only root may write: no user can
 * make or rename one there) or one the site lets the user bind with -B: a
 * variable never opens a path the site's bind policy closes. */

/* Is NAME "pmix.JOB.STEP", as slurmd names a step's PMIx directory? */
static bool slurm_pmix_name(const char *name)
{
	int dots = 0;
	if (strncmp(name, "pmix.", 5) != 0 || !name[5])
		return false;
	for (const char *p = name + 5; *p; p++) {
		if (*p == '.' && p[-1] != '.' && p[1])
			dots++;
		else if (*p < '0' || *p > '9')
			return false;
	}
	return dots == 1;
}

/* Why the host directory REAL may not be bound as the PMIx rendezvous, or NULL. */
static const char *pmix_dir_unsafe(const struct sif_launch *l, const struct sif_config *cfg,
                                   const char *real, char *why, size_t n)
{
	struct stat st;
	char parent[PATH_MAX];

	if (lstat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		return "not a directory";
	if (st.st_uid != l->uid) {
		snprintf(why, n, "owned by uid %u, not by you", (unsigned)st.st_uid);
		return why;
	}
	if (st.st_mode & 022)
		return "writable by others";
	size_t k = strlen(real);
	if (k >= sizeof(parent))
		return "path too long";
	memcpy(parent, real, k + 1);
	*strrchr(parent, '/') = '\0';
	if (slurm_pmix_name(parent + strlen(parent) + 1) &&
	    stat(parent[0] ? parent : "/", &st) == 0 && st.st_uid == 0 && !(st.st_mode & 022))
		return NULL;   /* made for the user by slurmd, in its spool */
	if (!sif_config_user_bind_allowed(cfg, real)) {
		snprintf(why, n, "a directory of yours the site policy in %s does not let you bind",
		         cfg->path);
		return why;
	}
	return NULL;
}

static int pmix_rendezvous(struct sif_launch *l, const struct sif_config *cfg, struct sif_err *err)
{
	static char name[4][64];
	char real[4][PATH_MAX], why[PATH_MAX + 96];
	const char *names[4];
	size_t nreal = 0;

	/* the server's directory first: the stores usually lie inside it */
	const char *tmpdir = getenv("PMIX_SERVER_TMPDIR");
	if (tmpdir && *tmpdir)
		names[nreal++] = "PMIX_SERVER_TMPDIR";
	for (char **e = environ; *e && nreal < 4; e++) {
		size_t len = strcspn(*e, "=");
		if (strncmp(*e, "PMIX_DSTORE_", 12) == 0 && len > 22 &&
		    strncmp(*e + len - 10, "_BASE_PATH", 10) == 0) {
			snprintf(name[nreal], sizeof(name[nreal]), "%.*s", (int)len, *e);
			names[nreal] = name[nreal];
			nreal++;
		}
	}
	for (size_t i = 0; i < nreal; i++) {
		const char *v = getenv(names[i]), *shown, *bad;
		bool dup = false;

		if (!v || v[0] != '/') {
			fprintf(stderr, "sif: warning: %s=%s is not an absolute path: not bound (the PMIx "
			        "client inside may not reach its server)\n", names[i], v ? v : "");
			real[i][0] = '\0';
			continue;
		}
		if (!realpath(v, real[i])) {
			fprintf(stderr, "sif: warning: %s=%s: %s: not bound (the PMIx client inside may "
			        "not reach its server)\n", names[i], v, strerror(errno));
			real[i][0] = '\0';
			continue;
		}
		for (size_t j = 0; j < i; j++)
			dup |= real[j][0] && sif_path_under(real[i], real[j]);
		if (dup)
			continue;   /* inside the server's directory: bound, shown or warned of with it */
		if ((shown = sif_launch_host_path_shown(l, real[i]))) {
			if (l->verbose)
				fprintf(stderr, "sif: debug: pmix: %s %s: visible already through %s\n",
				        names[i], real[i], shown);
			continue;
		}
		if ((bad = pmix_dir_unsafe(l, cfg, real[i], why, sizeof(why)))) {
			fprintf(stderr, "sif: warning: %s=%s: %s: not bound (the PMIx client inside may not "
			        "reach its server; bind it with -B if it is right)\n", names[i], v, bad);
			continue;
		}
		if (sif_launch_add_bind(l, real[i], real[i], false, "the PMIx server's directory",
		                        err) < 0)
			return -err->code;
		if (l->verbose)
			fprintf(stderr, "sif: debug: pmix: %s %s: bound at its own path (the PMIx "
			        "server's directory)\n", names[i], real[i]);
	}
	return 0;
}

static bool exists_in(struct sif_session *s, const char *path)
{
	struct sif_err e;
	int fd = sif_resolve(s->rootfd, path, SIF_RESOLVE_EXISTING, true, NULL, 0, &e);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int launch(enum sif_verb verb, int argc, char **argv, const struct sif_command *cmd)
{
	static const struct option opts[] = {
		{"bind", required_argument, NULL, 'B'},
		{"cleanenv", no_argument, NULL, 'e'},
		{"env", required_argument, NULL, 'E'},
		{"env-file", required_argument, NULL, 'F'},
		{"contain", no_argument, NULL, 'c'},
		{"containall", no_argument, NULL, 'C'},
		{"pid", no_argument, NULL, 'p'},
		{"ipc", no_argument, NULL, 'i'},
		{"net", no_argument, NULL, 'n'},
		{"writable-tmpfs", no_argument, NULL, 'W'},
		{"fakeroot", no_argument, NULL, 'f'},
		{"pwd", required_argument, NULL, 'P'},
		{"home", required_argument, NULL, 'H'},
		{"no-home", no_argument, NULL, 'N'},
		{"no-share", no_argument, NULL, 'S'},
		{"share-tag", required_argument, NULL, 'T'},
		{"slurm", no_argument, NULL, 'U'},
		{"no-slurm", no_argument, NULL, 'u'},
		{"handover", required_argument, NULL, 'O'},
		{"verbose", no_argument, NULL, 'v'},
		{"debug", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sif_launch l;
	struct sif_session s;
	struct sif_err err = {0};
	struct prepare_ctx pc = {0};
	struct sif_config cfg;
	bool home_given = false, no_home = false, user_binds = false, no_share = false;
	int handover = -1;   /* the SPANK plugin's task socket */
	char **pargv = NULL, *workdir = NULL;
	const char *bind_env;
	int c, r, status = SIF_EXIT_FAILURE, slurm = -1;

	if (sif_launch_init(&l, &err) < 0)
		return cli_fail(&err);
	/* the site's policy first: nothing of the user's overrides it */
	if (sif_config_load(&cfg, SIF_SYSCONFDIR "/sif.conf", &err) < 0) {
		sif_launch_free(&l);
		return cli_fail(&err);
	}
	l.verb = verb;
	l.sessiondir = SIF_SESSIONDIR;

	/* SIF_BIND first, so that -B can add to it */
	bind_env = getenv("SIF_BIND");
	if (bind_env && *bind_env) {
		user_binds = true;
		if (sif_launch_add_binds(&l, bind_env, &err) < 0) {
			sif_err_prefix(&err, "SIF_BIND: ");
			goto fail;
		}
	}
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "SIF_ENV_", 8) == 0 && strchr(*e, '=') && add_env(&l, *e + 8) < 0)
			goto nomem;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+B:ecCpinfH:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'B':
			user_binds = true;
			if (sif_launch_add_binds(&l, optarg, &err) < 0)
				goto fail;
			break;
		case 'e': l.cleanenv = true; break;
		case 'E':
			if (!strchr(optarg, '=')) {
				sif_err_set(&err, EINVAL, "--env %s: expected NAME=VALUE", optarg);
				goto fail;
			}
			if (add_env(&l, optarg) < 0)
				goto nomem;
			break;
		case 'F': {
			char **kv = NULL;
			size_t n = 0;
			if (sif_env_read_file(optarg, &kv, &n, &err) < 0)
				goto fail;
			for (size_t i = 0; i < n; i++)
				if (add_env(&l, kv[i]) < 0)
					goto nomem;
			free(kv);
			break;
		}
		case 'c': l.contain = true; break;
		case 'C': l.contain = l.pid_ns = l.ipc_ns = l.cleanenv = true; break;
		case 'p': l.pid_ns = true; break;
		case 'i': l.ipc_ns = true; break;
		case 'n': l.net_ns = true; break;
		case 'W': l.writable_tmpfs = true; break;
		case 'f': l.fakeroot = true; break;
		case 'P':
			if (optarg[0] != '/') {
				sif_err_advise(&err, EINVAL, "--pwd %s: give an absolute path inside the container",
				            optarg);
				goto fail;
			}
			l.pwd = optarg;
			break;
		case 'H': {
			char *colon = strchr(optarg, ':');
			free(l.home_src);
			free(l.home_dst);
			l.home_src = colon ? strndup(optarg, (size_t)(colon - optarg)) : strdup(optarg);
			l.home_dst = strdup(colon ? colon + 1 : optarg);
			if (!l.home_src || !l.home_dst)
				goto nomem;
			if (l.home_dst[0] != '/') {
				sif_err_advise(&err, EINVAL, "--home %s: the destination must be absolute", optarg);
				goto fail;
			}
			home_given = l.home_given = true;
			break;
		}
		case 'N': no_home = true; break;
		case 'S': no_share = true; break;
		case 'T':
			if (!*optarg) {
				sif_err_set(&err, EINVAL, "--share-tag: give a name");
				goto fail;
			}
			l.share_tag = optarg;
			break;
		case 'U': slurm = 1; break;
		case 'u': slurm = 0; break;
		case 'O': {
			unsigned fd;
			if (cli_parse_uint(optarg, INT_MAX, &fd) < 0 || fd < 3) {
				sif_err_set(&err, EINVAL, "--handover %s: expected a descriptor number", optarg);
				goto fail;
			}
			handover = (int)fd;
			break;
		}
		case 'v': l.verbose++; break;
		case 'h':
			cli_usage(stdout, cmd);
			sif_launch_free(&l);
			sif_config_free(&cfg);
			return 0;
		default:
			sif_launch_free(&l);
			sif_config_free(&cfg);
			return cli_failf("%s: unknown option or missing value '%s': run 'sif help %s'",
			                 cmd->name, argv[optind - 1], cmd->name);
		}
	}
	if (no_home && home_given) {
		sif_err_advise(&err, EINVAL, "--home and --no-home contradict each other: choose one");
		goto fail;
	}
	if (!home_given && !no_home && !cfg.mount_home)
		no_home = true;   /* the site's default */
	if (!home_given && !no_home && strcmp(l.home_src, "/") == 0)
		no_home = true;   /* an account whose home is / : nothing to bind */
	if (!cfg.mount_tmp)
		l.private_tmp = true;
	/* a writable root is each launch's own; everything else may be shared */
	if (l.share_tag && (no_share || l.writable_tmpfs)) {
		sif_err_set(&err, EINVAL, "--share-tag contradicts %s: choose one",
		            no_share ? "--no-share" : "--writable-tmpfs");
		goto fail;
	}
	l.share = !no_share && !l.writable_tmpfs;
	l.linger = cfg.linger;
	l.prefetch = cfg.prefetch;
	/* inside a job step: all its tasks on this node share one mount */
	static char job_tag[96], job_origin[112];
	if (l.share && !l.share_tag &&
	    job_share_tag(job_tag, sizeof(job_tag), job_origin, sizeof(job_origin))) {
		l.share_tag = job_tag;
		l.share_origin = job_origin;
		if (l.verbose)
			fprintf(stderr, "sif: debug: share: %s: share tag %s (--no-share or "
			        "--share-tag to choose otherwise)\n", job_origin, job_tag);
	}
	if (!home_given && !no_home && access(l.home_src, F_OK) < 0) {
		/* service accounts and nodes without home directories */
		fprintf(stderr, "sif: warning: your home directory %s does not exist here: not bound "
		        "(use --home or --no-home to choose)\n", l.home_src);
		no_home = true;
	}
	if (no_home || (l.contain && !home_given)) {
		/* --no-home: nothing bound; --contain: an empty home of its own */
		free(l.home_src);
		l.home_src = NULL;
		if (no_home) {
			free(l.home_dst);
			l.home_dst = NULL;
		}
	}
	if (optind >= argc) {
		sif_launch_free(&l);
		sif_config_free(&cfg);
		return cli_failf("%s: name an IMAGE: run 'sif help %s'", cmd->name, cmd->name);
	}
	if (handover >= 0 && (verb != SIF_VERB_EXEC || optind + 1 < argc || l.pid_ns || l.ipc_ns ||
	                      l.net_ns || l.fakeroot)) {
		sif_launch_free(&l);
		sif_config_free(&cfg);
		return cli_failf("exec --handover (the SPANK plugin's) takes an IMAGE and no COMMAND, "
		                 "and no --pid, --ipc, --net or --fakeroot");
	}
	if (verb == SIF_VERB_EXEC && optind + 1 >= argc && handover < 0) {
		sif_launch_free(&l);
		sif_config_free(&cfg);
		return cli_failf("exec: name a COMMAND to run in the image: run 'sif help exec'");
	}
	if (verb == SIF_VERB_SHELL && optind + 1 < argc) {
		sif_launch_free(&l);
		sif_config_free(&cfg);
		return cli_failf("shell: takes no arguments after IMAGE (use 'sif exec IMAGE CMD')");
	}

	/* a registry image: the image tool pulls it into the cache (or finds
	 * it there with one manifest request) and names the cached SIF */
	static char pulled[PATH_MAX];
	const char *image = argv[optind];
	if (strncmp(image, "docker://", 9) == 0) {
		int st = cli_pull_cached(image, l.verbose > 0, pulled, sizeof(pulled));
		if (st != 0) {
			sif_launch_free(&l);
			sif_config_free(&cfg);
			return st;
		}
		image = pulled;
	}
	if (sif_image_open(&l.image, image, &err) < 0)
		goto fail;
	if (sif_config_apply(&cfg, &l, user_binds, home_given, &err) < 0)
		goto fail;
	if (sif_slurm_choose(&l, slurm, cfg.slurm, cfg.path, &err) < 0)
		goto fail;
	/* srun --mpi=pmix, mpirun: the PMIx server's directory, where the
	 * container lacks it */
	if (pmix_rendezvous(&l, &cfg, &err) < 0)
		goto fail;
	if (l.image.arch[0] && strcmp(l.image.arch, sif_host_arch()) != 0)
		fprintf(stderr, "sif: warning: %s is built for %s, this machine is %s: its programs "
		        "may not run\n", l.image.path, l.image.arch, sif_host_arch());
	l.argv = argv + optind + 1;
	l.argc = argc - optind - 1;
	/* run starts in the image's WorkingDir (OCI config), unless --pwd; exec
	 * keeps the caller's directory, as Apptainer does */
	if (verb == SIF_VERB_RUN && !l.pwd)
		l.pwd = workdir = sif_image_workdir(&l.image);

	r = sif_session_begin(&l, &s, &err);
	if (r < 0)
		goto fail_session;
	/* --slurm's binds: for a root set up here, not for one joined */
	if (r == 0 && (sif_slurm_binds(&l, &err) < 0 || sif_session_setup(&l, &s, &err) < 0))
		goto fail_session;
	if (!s.joined && !l.fakeroot && write_identity(&s, &l, &err) < 0)
		goto fail_session;
	if (sif_session_finish(&s, &err) < 0)
		goto fail_session;
	if (sif_env_build(&pc.env, &pc.sh_scripts, &l, s.rootfd, environ, &err) < 0)
		goto fail_session;
	pc.l = &l;
	pc.cwd = s.cwd;
	if (sif_env_set(&pc.env, "PWD", s.cwd) < 0)
		goto nomem_session;

	if (handover >= 0) {
		/* a Slurm task enters this root itself (spank/sif_spank.c) */
		r = sif_session_handover(&s, handover, prepare_env, &pc, &err);
		sif_session_end(&s);
		if (r < 0)
			goto fail;
		status = 0;
		goto out;
	}

	/* what to run */
	pargv = calloc((size_t)l.argc + 4, sizeof(*pargv));
	if (!pargv)
		goto nomem_session;
	if (verb == SIF_VERB_EXEC) {
		for (int i = 0; i < l.argc; i++)
			pargv[i] = l.argv[i];
	} else if (verb == SIF_VERB_RUN) {
		if (!exists_in(&s, "/.singularity.d/runscript")) {
			sif_err_advise(&err, ENOENT, "run: %s has no runscript (/.singularity.d/runscript): "
			            "use 'sif exec %s COMMAND'", l.image.path, l.image.path);
			goto fail_session;
		}
		/* a runscript without "#!" is run by /bin/sh, as Apptainer does */
		char *head = NULL;
		struct sif_err ignore;
		int k = 0;
		if (sif_read_in_root(s.rootfd, "/.singularity.d/runscript", 2, &head, NULL, &ignore) < 0 ||
		    strncmp(head, "#!", 2) != 0)
			pargv[k++] = "/bin/sh";
		free(head);
		pargv[k++] = "/.singularity.d/runscript";
		for (int i = 0; i < l.argc; i++)
			pargv[k + i] = l.argv[i];
	} else {
		const char *sh = getenv("SIF_SHELL");
		if (!sh || !*sh)
			sh = exists_in(&s, "/bin/bash") ? "/bin/bash" : "/bin/sh";
		pargv[0] = (char *)sh;
	}

	r = sif_session_run(&s, pargv, prepare_env, &pc, &err);
	sif_session_end(&s);
	if (r < 0)
		goto fail;
	status = r;
	goto out;

nomem_session:
	sif_err_set(&err, ENOMEM, "out of memory");
fail_session:
	sif_session_end(&s);
	goto fail;
nomem:
	sif_err_set(&err, ENOMEM, "out of memory");
fail:
	status = cli_fail(&err);
out:
	free(pargv);
	free(workdir);
	sif_env_free(&pc.env);
	if (pc.sh_scripts) {
		for (char **p = pc.sh_scripts; *p; p++)
			free(*p);
		free(pc.sh_scripts);
	}
	sif_launch_free(&l);
	sif_config_free(&cfg);
	return status;
}

static int run_exec(int argc, char **argv) { return launch(SIF_VERB_EXEC, argc, argv, &sif_cmd_exec); }
static int run_run(int argc, char **argv) { return launch(SIF_VERB_RUN, argc, argv, &sif_cmd_run); }
static int run_shell(int argc, char **argv) { return launch(SIF_VERB_SHELL, argc, argv, &sif_cmd_shell); }

const struct sif_command sif_cmd_exec = {
	.name = "exec",
	.summary = "run a command in a container",
	.usage = exec_usage,
	.run = run_exec,
};
const struct sif_command sif_cmd_run = {
	.name = "run",
	.summary = "run an image's runscript",
	.usage = run_usage,
	.run = run_run,
};
const struct sif_command sif_cmd_shell = {
	.name = "shell",
	.summary = "start a shell in a container",
	.usage = shell_usage,
	.run = run_shell,
};
