/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfdeps.h"
#include "io.h"
#include "hostslurm.h"

/* The Slurm client commands sif offers inside (those the host has). */
static const char *const commands[] = {
	"srun", "salloc", "sbatch", "sattach", "sbcast", "scancel", "scontrol", "scrontab",
	"sdiag", "sinfo", "sprio", "squeue", "sacct", "sacctmgr", "sreport", "sshare", "sstat",
	"strigger", "sh5util",
};

/* Files Slurm's clients read next to slurm.conf (libslurmfull's names). */
static const char *const siblings[] = {
	"plugstack.conf", "cgroup.conf", "gres.conf", "topology.conf", "acct_gather.conf",
	"job_container.conf", "mpi.conf", "knl_cray.conf", "knl_generic.conf", "ext_sensors.conf",
	"oci.conf", "helpers.conf", "burst_buffer.conf", "cli_filter.lua",
};

/* What slurm.conf says that matters here. */
struct slurm_conf {
	char plugin_dir[PATH_MAX];      /* "" if not set */
	char auth_type[64];             /* "" if not set */
	char munge_socket[PATH_MAX];    /* AuthInfo's socket=, "" if not set */
	char plugstack[PATH_MAX];       /* PlugStackConfig, "" if not set */
};

static void debug(const struct sif_launch *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void debug(const struct sif_launch *l, const char *fmt, ...)
{
	va_list ap;
	if (!l->verbose)
		return;
	fputs("sif: debug: slurm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A value with its blanks trimmed and one pair of double quotes removed. */
static char *trim(char *s)
{
	char *e;
	s = sif_trim(s);
	e = s + strlen(s);
	if (e - s >= 2 && s[0] == '"' && e[-1] == '"') {
		e[-1] = '\0';
		s++;
	}
	return s;
}

/* slurm.conf: "Key=Value" lines, keys in any case, '#' comments.  Only the
 * file itself: an Include'd file is not read (nor bound unless it is next
 * to slurm.conf). */
static int read_conf(const char *path, struct slurm_conf *c, struct sif_err *err)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;

	memset(c, 0, sizeof(*c));
	if (!f)
		return sif_err_advise(err, errno, "--slurm: the Slurm configuration %s: %s (ask the "
		                      "administrator, or leave out --slurm)", path, strerror(errno));
	while (getline(&line, &cap, f) >= 0) {
		char *hash = strchr(line, '#'), *eq, *key, *val;
		if (hash)
			*hash = '\0';
		eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		if (strcasecmp(key, "PluginDir") == 0)
			snprintf(c->plugin_dir, sizeof(c->plugin_dir), "%s", val);
		else if (strcasecmp(key, "AuthType") == 0)
			snprintf(c->auth_type, sizeof(c->auth_type), "%s", val);
		else if (strcasecmp(key, "PlugStackConfig") == 0)
			snprintf(c->plugstack, sizeof(c->plugstack), "%s", val);
		else if (strcasecmp(key, "AuthInfo") == 0) {
			/* comma-separated: "cred_expire=120,socket=/run/munge/munge.socket.2" */
			char *save = NULL;
			for (char *o = strtok_r(val, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
				o = trim(o);
				if (strncasecmp(o, "socket=", 7) == 0)
					snprintf(c->munge_socket, sizeof(c->munge_socket), "%s", o + 7);
			}
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/* The first directory of the host's PATH that has an executable NAME. */
static bool find_on_path(const char *name, char *dir, size_t dirlen)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL;
	bool found = false;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	if (!(copy = strdup(path)))
		return false;
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char p[PATH_MAX];
		struct stat st;
		if (d[0] != '/')
			continue;   /* a relative PATH entry means nothing inside */
		if (snprintf(p, sizeof(p), "%s/%s", d, name) < (int)sizeof(p) && stat(p, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(p, X_OK) == 0) {
			snprintf(dir, dirlen, "%s", d);
			found = true;
		}
	}
	free(copy);
	return found;
}

/* Bind the host path P (links resolved) at its own path, read-only. */
static int bind_same(struct sif_launch *l, const char *p, const char *what, struct sif_err *err)
{
	char real[PATH_MAX];
	if (!realpath(p, real))
		return sif_err_set(err, errno, "--slurm: %s %s: %s", what, p, strerror(errno));
	debug(l, "%s: bind %s at %s", what, real, p);
	return sif_launch_add_bind(l, real, p, true, "--slurm", err);
}

/* Bind the directory holding FILE at its own path; where that directory is
 * a top-level one (/etc, /run, /tmp) only FILE itself, and the files named
 * in ALSO that exist next to it. */
static int bind_dir_of(struct sif_launch *l, const char *file, const char *what,
                       const char *const *also, size_t nalso, struct sif_err *err)
{
	char dir[PATH_MAX], real[PATH_MAX];
	char *slash;
	int r;

	snprintf(dir, sizeof(dir), "%s", file);
	slash = strrchr(dir, '/');
	if (!slash)
		return sif_err_set(err, EINVAL, "--slurm: %s %s: not an absolute path", what, file);
	*slash = '\0';
	if (realpath(*dir ? dir : "/", real) && strchr(real + 1, '/'))
		return bind_same(l, dir, what, err);
	r = bind_same(l, file, what, err);
	for (size_t i = 0; i < nalso && r == 0; i++) {
		char p[PATH_MAX];
		if (snprintf(p, sizeof(p), "%s/%s", dir, also[i]) < (int)sizeof(p) &&
		    access(p, F_OK) == 0)
			r = bind_same(l, p, what, err);
	}
	return r;
}


static int prefix_bind(struct sif_launch *l, const char *src, const char *sub, const char *name,
                       struct sif_err *err)
{
	char dst[PATH_MAX];
	snprintf(dst, sizeof(dst), SIF_SLURM_PREFIX "%s%s", sub, name);
	return sif_launch_add_bind(l, src, dst, true, "--slurm", err);
}

/* The SPANK plugins PLUGSTACK lists ("required|optional PATH [ARGS]", and
 * "include GLOB" of more such files, one level): the clients load them too
 * (srun, sbatch and salloc parse their options), so their libraries join
 * the private prefix's and each file outside the plugin directories is
 * bound at its own path.  A plugin the host cannot load either is left out;
 * a relative name is PluginDir's, bound already. */
static int spank_plugins(struct sif_launch *l, struct sif_elfdeps *deps, const char *plugstack,
                         const char *plugindirs, int depth, struct sif_err *err)
{
	FILE *f = fopen(plugstack, "re");
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	if (!f)
		return 0;   /* none: the clients load none */
	while (r == 0 && getline(&line, &cap, f) >= 0) {
		char *hash = strchr(line, '#'), *save = NULL, *kind, *path;
		if (hash)
			*hash = '\0';
		kind = strtok_r(line, " \t\n", &save);
		path = kind ? strtok_r(NULL, " \t\n", &save) : NULL;
		if (!path || path[0] != '/')
			continue;
		if (strcasecmp(kind, "include") == 0) {
			glob_t g;
			if (depth > 0 || glob(path, 0, NULL, &g) != 0)
				continue;
			for (size_t i = 0; i < g.gl_pathc && r == 0; i++) {
				r = bind_same(l, g.gl_pathv[i], "plugstack include", err);
				if (r == 0)
					r = spank_plugins(l, deps, g.gl_pathv[i], plugindirs, depth + 1, err);
			}
			globfree(&g);
			continue;
		}
		if (strcasecmp(kind, "required") != 0 && strcasecmp(kind, "optional") != 0)
			continue;
		struct sif_err e = {0};
		if (access(path, R_OK) < 0 || sif_elfdeps_add(deps, path, &e) < 0) {
			debug(l, "SPANK plugin %s: %s: left out", path, e.msg[0] ? e.msg : strerror(errno));
			continue;
		}
		bool in_plugindir = false;
		char *copy = strdup(plugindirs), *s2 = NULL;
		for (char *d = copy ? strtok_r(copy, ":", &s2) : NULL; d; d = strtok_r(NULL, ":", &s2))
			in_plugindir |= sif_path_under(path, d);
		free(copy);
		if (!in_plugindir)
			r = bind_same(l, path, "SPANK plugin", err);
	}
	free(line);
	fclose(f);
	return r;
}

/* What sif_slurm_plan found, for sif_slurm_binds. */
struct sif_slurm {
	char bindir[PATH_MAX];          /* where srun is */
	char conf[PATH_MAX];            /* the slurm.conf the clients read */
	const char *hostexec, *why;
};

/* The identity of a file in the key: a change to it is another plan. */
static void put_id(char *buf, size_t len, const char *what, const char *path)
{
	struct stat st;
	size_t n = strlen(buf);
	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	snprintf(buf + n, len - n, " %s=%s@%llu:%llu:%lld:%lld.%09ld", what, path,
	         (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
	         (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

int sif_slurm_plan(struct sif_launch *l, const char *hostexec, const char *why,
                   struct sif_err *err)
{
	struct slurm_conf c;
	char bindir[PATH_MAX], conf[PATH_MAX];
	const char *env_conf = getenv("SLURM_CONF");
	int r;

	/* the commands */
	if (!find_on_path("srun", bindir, sizeof(bindir)))
		return sif_err_advise(err, ENOENT, "%s: this host has no Slurm client commands (no srun "
		                      "on PATH): install them (Debian: slurm-client), or leave out "
		                      "--slurm", why);
	if (access(hostexec, X_OK) < 0)
		return sif_err_advise(err, errno, "%s: %s: %s (sif is not installed completely: "
		                      "reinstall it)", why, hostexec, strerror(errno));
	/* the configuration: what the clients would read on the host */
	if (env_conf && *env_conf) {
		if (env_conf[0] != '/' || access(env_conf, R_OK) < 0)
			return sif_err_advise(err, ENOENT, "%s: SLURM_CONF=%s: %s (set SLURM_CONF to the "
			                      "cluster's slurm.conf, or leave out --slurm)", why, env_conf,
			                      env_conf[0] != '/' ? "not an absolute path" : strerror(errno));
		snprintf(conf, sizeof(conf), "%s", env_conf);
	} else if (access("/etc/slurm/slurm.conf", R_OK) == 0) {
		snprintf(conf, sizeof(conf), "/etc/slurm/slurm.conf");
	} else if (access("/run/slurm/conf/slurm.conf", R_OK) == 0) {
		/* configless: slurmd's copy */
		snprintf(conf, sizeof(conf), "/run/slurm/conf/slurm.conf");
	} else {
		return sif_err_advise(err, ENOENT, "%s: Slurm is not configured on this host (no "
		                      "SLURM_CONF, no /etc/slurm/slurm.conf, no "
		                      "/run/slurm/conf/slurm.conf): set SLURM_CONF, or leave out "
		                      "--slurm", why);
	}
	r = read_conf(conf, &c, err);
	if (r < 0)
		return r;
	debug(l, "configuration %s", conf);


	/* What the binds will be made of, cheaply: a launch that joins a live
	 * root of the same key needs none of them (the holder's root has
	 * them), so the closure, ~2 ms, is left to the launch that sets the
	 * root up (sif_slurm_binds). */
	char key[4 * PATH_MAX + 512], p[PATH_MAX + 8];
	snprintf(key, sizeof(key), "slurm-1 hostexec=%s", hostexec);
	put_id(key, sizeof(key), "conf", conf);
	snprintf(p, sizeof(p), "%s/srun", bindir);
	put_id(key, sizeof(key), "srun", p);
	put_id(key, sizeof(key), "plugins", c.plugin_dir[0] ? c.plugin_dir : "-");
	put_id(key, sizeof(key), "ldcache", "/etc/ld.so.cache");
	struct sif_slurm *sl = calloc(1, sizeof(*sl));
	free(l->slurm_key);
	free(l->slurm);
	free(l->path_prepend);
	free(l->slurm_conf);
	l->slurm = sl;
	l->slurm_key = strdup(key);
	l->path_prepend = strdup(SIF_SLURM_PREFIX "/bin");
	l->slurm_conf = strdup(conf);
	if (!sl || !l->slurm_key || !l->path_prepend || !l->slurm_conf)
		return sif_err_set(err, ENOMEM, "out of memory");
	snprintf(sl->bindir, sizeof(sl->bindir), "%s", bindir);
	snprintf(sl->conf, sizeof(sl->conf), "%s", conf);
	sl->hostexec = hostexec;
	sl->why = why;
	return 0;
}

int sif_slurm_binds(struct sif_launch *l, struct sif_err *err)
{
	struct sif_slurm *sl = l->slurm;
	struct sif_elfdeps deps = {0};
	struct slurm_conf c;
	char plugindirs[PATH_MAX];
	const char *ncmds[sizeof(commands) / sizeof(commands[0])];
	size_t n = 0, first = l->nbinds;
	int r;

	if (!sl)
		return 0;
	l->slurm = NULL;
	const char *why = sl->why, *hostexec = sl->hostexec, *bindir = sl->bindir, *conf = sl->conf;
	r = read_conf(conf, &c, err);
	if (r < 0)
		goto out;

	/* the client programs and the libraries they load */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char p[PATH_MAX];
		if (snprintf(p, sizeof(p), "%s/%s", bindir, commands[i]) >= (int)sizeof(p) ||
		    access(p, X_OK) < 0)
			continue;
		if (!sif_elf_is_dynamic_program(p)) {
			debug(l, "%s: not a dynamically linked program for this machine: left out", p);
			continue;
		}
		r = sif_elfdeps_add(&deps, p, err);
		if (r < 0) {
			sif_err_prefix(err, "%s: ", why);
			goto out;
		}
		ncmds[n++] = commands[i];
	}
	if (!deps.interp) {
		r = sif_err_advise(err, ENOEXEC, "%s: %s/srun is not a dynamically linked program for "
		                   "this machine (leave out --slurm)", why, bindir);
		goto out;
	}

	/* the plugins: PluginDir, else where libslurmfull.so is (Slurm
	 * installs both in one directory; Debian's slurm-wlm too) */
	if (c.plugin_dir[0]) {
		snprintf(plugindirs, sizeof(plugindirs), "%s", c.plugin_dir);
	} else {
		plugindirs[0] = '\0';
		for (size_t i = 0; i < deps.nlibs; i++)
			if (strcmp(deps.libs[i].name, "libslurmfull.so") == 0 ||
			    strcmp(deps.libs[i].name, "libslurm.so") == 0) {
				snprintf(plugindirs, sizeof(plugindirs), "%s", deps.libs[i].path);
				*strrchr(plugindirs, '/') = '\0';
			}
		if (!plugindirs[0]) {
			r = sif_err_advise(err, ENOENT, "%s: cannot tell where the Slurm plugins are: "
			                   "%s sets no PluginDir and %s/srun loads no libslurmfull.so (ask "
			                   "the administrator to set PluginDir)", why, conf, bindir);
			goto out;
		}
	}
	char *save = NULL, *copy = strdup(plugindirs);
	if (!copy) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	for (char *d = strtok_r(copy, ":", &save); d && r == 0; d = strtok_r(NULL, ":", &save)) {
		DIR *dh = opendir(d);
		struct dirent *de;
		if (!dh) {
			r = sif_err_advise(err, errno, "%s: the Slurm plugin directory %s: %s (check "
			                   "PluginDir in %s)", why, d, strerror(errno), conf);
			break;
		}
		while ((de = readdir(dh)) && r == 0) {
			char p[PATH_MAX];
			size_t len = strlen(de->d_name);
			struct sif_err e = {0};
			if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", d, de->d_name);
			/* a plugin whose libraries the host lacks does not load
			 * there either: left out of the closure, not an error */
			if (sif_elfdeps_add(&deps, p, &e) < 0)
				debug(l, "plugin %s: %s: left out", p, e.msg);
		}
		closedir(dh);
		if (r == 0)
			r = bind_same(l, d, "plugin directory", err);
	}
	free(copy);
	if (r < 0)
		goto out;

	/* slurm.conf and the files next to it; a PlugStackConfig elsewhere */
	r = bind_dir_of(l, conf, "configuration", siblings, sizeof(siblings) / sizeof(siblings[0]),
	                err);
	if (r < 0)
		goto out;
	char plugstack[PATH_MAX];
	if (c.plugstack[0] == '/') {
		snprintf(plugstack, sizeof(plugstack), "%s", c.plugstack);
	} else {
		/* Slurm's default: plugstack.conf beside slurm.conf */
		snprintf(plugstack, sizeof(plugstack), "%.*s/plugstack.conf",
		         (int)(strrchr(conf, '/') - conf), conf);
	}
	if (c.plugstack[0] == '/' && access(c.plugstack, F_OK) == 0) {
		char confdir[PATH_MAX];
		snprintf(confdir, sizeof(confdir), "%s", conf);
		*strrchr(confdir, '/') = '\0';
		if (!sif_path_under(c.plugstack, confdir) && (r = bind_same(l, c.plugstack, "PlugStackConfig",
		                                                       err)) < 0)
			goto out;
	}
	if ((r = spank_plugins(l, &deps, plugstack, plugindirs, 0, err)) < 0)
		goto out;

	/* munge's socket: the clients sign their requests through it */
	if (!c.auth_type[0] || strcasecmp(c.auth_type, "auth/munge") == 0) {
		const char *sock = c.munge_socket[0] ? c.munge_socket : "/run/munge/munge.socket.2";
		struct stat st;
		if (sock[0] != '/' || stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			r = sif_err_advise(err, ENOTCONN, "%s: the munge socket %s %s (is munged running "
			                   "on this host? AuthInfo=socket= in %s names another)", why, sock,
			                   sock[0] != '/' ? "is not an absolute path" :
			                   access(sock, F_OK) < 0 ? "does not exist" : "is not a socket",
			                   conf);
			goto out;
		}
		r = bind_dir_of(l, sock, "munge socket", NULL, 0, err);
		if (r < 0)
			goto out;
	} else {
		debug(l, "AuthType=%s: no munge socket bound", c.auth_type);
	}

	/* the private prefix: loader, libraries, programs, and on PATH the
	 * commands that run them with those (sif-hostexec) */
	debug(l, "%zu commands from %s, the loader %s and %zu libraries under " SIF_SLURM_PREFIX,
	      n, bindir, deps.interp, deps.nlibs);
	r = prefix_bind(l, deps.interp, "/", "ld.so", err);
	for (size_t i = 0; i < deps.nlibs && r == 0; i++)
		r = prefix_bind(l, deps.libs[i].path, "/lib/", deps.libs[i].name, err);
	for (size_t i = 0; i < n && r == 0; i++) {
		char p[PATH_MAX], real[PATH_MAX];
		if (snprintf(p, sizeof(p), "%s/%s", bindir, ncmds[i]) >= (int)sizeof(p) ||
		    !realpath(p, real)) {
			r = sif_err_set(err, errno, "%s: %s: %s", why, p, strerror(errno));
			break;
		}
		r = prefix_bind(l, real, "/libexec/", ncmds[i], err);
		if (r == 0)
			r = prefix_bind(l, hostexec, "/bin/", ncmds[i], err);
	}
	/* the share's shape has the key instead of these */
	for (size_t i = first; i < l->nbinds; i++)
		l->binds[i].slurm = true;
out:
	sif_elfdeps_free(&deps);
	free(sl);
	return r;
}

int sif_slurm_choose(struct sif_launch *l, int choice, bool site_default, const char *site_conf,
                     struct sif_err *err)
{
	static char why[PATH_MAX + 32];
	int r;

	if (choice == 0 || (choice < 0 && !site_default))
		return 0;
	if (choice > 0)
		snprintf(why, sizeof(why), "--slurm");
	else
		snprintf(why, sizeof(why), "slurm = yes in %s", site_conf);
#ifndef SIF_HAVE_HOSTEXEC
	return sif_err_advise(err, ENOTSUP, "%s: this sif was built without a static C library, "
	                      "which --slurm needs (rebuild it with libc6-dev or glibc-static; "
	                      "%s)", why, choice > 0 ? "or leave out --slurm" : "or use --no-slurm");
#else
	r = sif_slurm_plan(l, SIF_LIBEXECDIR "/sif-hostexec", why, err);
	if (r == -ENOENT && choice < 0) {
		debug(l, "left out: %s", err->msg);
		err->code = 0;
		err->msg[0] = '\0';
		return 0;
	}
	return r;
#endif
}
