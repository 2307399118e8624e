/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "env.h"
#include "resolve.h"

/* ---- the variable list --------------------------------------------------- */

void sif_env_init(struct sif_env *e)
{
	memset(e, 0, sizeof(*e));
}

void sif_env_free(struct sif_env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static ssize_t find(const struct sif_env *e, const char *name, size_t len)
{
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->v[i], name, len) == 0 && e->v[i][len] == '=')
			return (ssize_t)i;
	return -1;
}

const char *sif_env_get(const struct sif_env *e, const char *name)
{
	ssize_t i = find(e, name, strlen(name));
	return i < 0 ? NULL : e->v[i] + strlen(name) + 1;
}

int sif_env_set(struct sif_env *e, const char *name, const char *value)
{
	size_t len = strlen(name);
	ssize_t i = find(e, name, len);
	char *kv = malloc(len + strlen(value) + 2);

	if (!kv)
		return -ENOMEM;
	sprintf(kv, "%s=%s", name, value);
	if (i >= 0) {
		free(e->v[i]);
		e->v[i] = kv;
		return 0;
	}
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		char **nv = realloc(e->v, cap * sizeof(*nv));
		if (!nv) {
			free(kv);
			return -ENOMEM;
		}
		e->v = nv;
		e->cap = cap;
	}
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
	return 0;
}

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* ---- simple script forms ------------------------------------------------- */

/* A double-quoted word starting after the opening quote at *p: backslash
 * escapes \" \\ \$ \` (and \newline); no expansion allowed. */
static int dquoted(const char **p, char *out, size_t outlen)
{
	const char *s = *p;
	size_t j = 0;

	for (;; s++) {
		if (!*s)
			return -1;
		if (*s == '"')
			break;
		if (*s == '$' || *s == '`')
			return -1;
		if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
			s++;
		if (j + 1 >= outlen)
			return -1;
		out[j++] = *s;
	}
	out[j] = '\0';
	*p = s + 1;
	return 0;
}

/* One line "export NAME=..." of a form we evaluate; 1 if not such a form. */
static int simple_line(const char *line, char *name, size_t namelen, char *value,
                       size_t valuelen, bool *if_unset)
{
	const char *p = line, *n0;
	size_t n;

	*if_unset = false;
	if (strncmp(p, "export", 6) != 0 || !isblank((unsigned char)p[6]))
		return 1;
	p += 6;
	while (isblank((unsigned char)*p))
		p++;
	n0 = p;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	n = (size_t)(p - n0);
	if (!valid_name(n0, n) || *p != '=' || n >= namelen)
		return 1;
	memcpy(name, n0, n);
	name[n] = '\0';
	p++;

	if (p[0] == '"' && p[1] == '$' && p[2] == '{') {
		/* "${NAME:-default}" or "${NAME:-"default"}" */
		p += 3;
		if (strncmp(p, name, n) != 0 || strncmp(p + n, ":-", 2) != 0)
			return 1;
		p += n + 2;
		if (*p == '"') {
			p++;
			if (dquoted(&p, value, valuelen) < 0)
				return 1;
		} else {
			size_t j = 0;
			for (; *p && *p != '}'; p++) {
				if (*p == '$' || *p == '`' || *p == '"')
					return 1;
				if (*p == '\\' && p[1])
					p++;
				if (j + 1 >= valuelen)
					return 1;
				value[j++] = *p;
			}
			value[j] = '\0';
		}
		if (p[0] != '}' || p[1] != '"')
			return 1;
		p += 2;
		*if_unset = true;
	} else if (*p == '"') {
		p++;
		if (dquoted(&p, value, valuelen) < 0)
			return 1;
	} else if (*p == '\'') {
		const char *end = strchr(p + 1, '\'');
		if (!end || (size_t)(end - p - 1) >= valuelen)
			return 1;
		memcpy(value, p + 1, (size_t)(end - p - 1));
		value[end - p - 1] = '\0';
		p = end + 1;
	} else {
		size_t j = 0;
		for (; *p && !isblank((unsigned char)*p); p++) {
			if (!(isalnum((unsigned char)*p) || strchr("_./:,+=@%-", *p)) || j + 1 >= valuelen)
				return 1;
			value[j++] = *p;
		}
		value[j] = '\0';
	}
	while (isblank((unsigned char)*p))
		p++;
	return *p == '\0' ? 0 : 1;
}

int sif_env_apply_simple(struct sif_env *e, const struct sif_env *host, const char *script)
{
	char *copy = strdup(script), *save = NULL, *line;
	struct { char name[256]; char *value; bool if_unset; } *sets = NULL;
	size_t nsets = 0;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	/* first check every line, then apply: all or nothing */
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[256], *value = malloc(strlen(line) + 1);
		bool if_unset;
		while (isblank((unsigned char)*line))
			line++;
		if (!value) {
			r = -ENOMEM;
			break;
		}
		if (*line == '\0' || *line == '#' || strcmp(line, ":") == 0) {
			free(value);
			continue;
		}
		if (simple_line(line, name, sizeof(name), value, strlen(line) + 1, &if_unset) != 0) {
			free(value);
			r = 1;
			break;
		}
		void *ns = realloc(sets, (nsets + 1) * sizeof(*sets));
		if (!ns) {
			free(value);
			r = -ENOMEM;
			break;
		}
		sets = ns;
		snprintf(sets[nsets].name, sizeof(sets[nsets].name), "%s", name);
		sets[nsets].value = value;
		sets[nsets].if_unset = if_unset;
		nsets++;
	}
	for (size_t i = 0; r == 0 && i < nsets; i++) {
		bool is_path = strcmp(sets[i].name, "PATH") == 0;
		/* ${NAME:-v}: an empty value counts as unset, as in sh */
		if (sets[i].if_unset && sif_env_get(e, sets[i].name) && *sif_env_get(e, sets[i].name))
			continue;
		if (!is_path && host && sif_env_get(host, sets[i].name))
			continue;   /* the host's value wins */
		if (sif_env_set(e, sets[i].name, sets[i].value) < 0)
			r = -ENOMEM;
	}
	for (size_t i = 0; i < nsets; i++)
		free(sets[i].value);
	free(sets);
	free(copy);
	return r;
}

/* ---- export -p ------------------------------------------------------------ */

int sif_env_parse_export_p(struct sif_env *e, const char *text)
{
	const char *p = text;
	char *value = malloc(strlen(text) + 1);

	if (!value)
		return -ENOMEM;
	while (*p) {
		const char *n0;
		char name[256];
		size_t n, j = 0;
		bool has_value = false;

		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		else if (strncmp(p, "declare -x ", 11) == 0)
			p += 11;
		else
			goto skip_line;
		n0 = p;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		n = (size_t)(p - n0);
		if (!valid_name(n0, n) || n >= sizeof(name))
			goto skip_line;
		memcpy(name, n0, n);
		name[n] = '\0';
		if (*p == '=') {
			has_value = true;
			p++;
			/* concatenated quoted runs: 'a'\''b', "a\"b", bare words */
			while (*p && *p != '\n') {
				if (*p == '\'') {
					for (p++; *p && *p != '\''; p++)
						value[j++] = *p;
					if (*p)
						p++;
				} else if (*p == '"') {
					for (p++; *p && *p != '"'; p++) {
						if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1]))
							p++;
						value[j++] = *p;
					}
					if (*p)
						p++;
				} else if (*p == '\\' && p[1]) {
					value[j++] = p[1];
					p += 2;
				} else {
					value[j++] = *p++;
				}
			}
		}
		value[j] = '\0';
		if (has_value && sif_env_set(e, name, value) < 0) {
			free(value);
			return -ENOMEM;
		}
skip_line:
		p += strcspn(p, "\n");
		if (*p)
			p++;
	}
	free(value);
	return 0;
}

/* ---- building the environment -------------------------------------------- */

static bool keep_when_clean(const char *kv)
{
	static const char *const keep[] = {"TERM=", "LANG=", "LC_", "TZ=", "DISPLAY=", "XAUTHORITY="};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (strncmp(kv, keep[i], strlen(keep[i])) == 0)
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The image's env scripts, sorted by name (01-base.sh, 10-docker..., 90-...). */
static int list_scripts(int rootfd, char ***out, size_t *n)
{
	struct sif_err e;
	char p[64];
	int fd = sif_resolve(rootfd, "/.singularity.d/env", SIF_RESOLVE_EXISTING, true, NULL, 0, &e);
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (fd < 0)
		return 0;   /* no such directory: nothing to apply */
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	d = opendir(p);
	close(fd);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 4 || strcmp(de->d_name + l - 3, ".sh") != 0)
			continue;
		char **nv = realloc(v, (k + 2) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		if (asprintf(&v[k], "/.singularity.d/env/%s", de->d_name) < 0)
			break;
		k++;
		v[k] = NULL;
	}
	closedir(d);
	if (k)
		qsort(v, k, sizeof(*v), cmp_str);
	*out = v;
	*n = k;
	return 0;
}

int sif_env_build(struct sif_env *out, char ***sh_scripts, const struct sif_launch *l,
                  int rootfd, char *const *host_environ, struct sif_err *err)
{
	struct sif_env host;
	char **scripts = NULL, **shl = NULL;
	size_t nscripts = 0, nsh = 0;
	int r = 0;

	sif_env_init(out);
	sif_env_init(&host);
	*sh_scripts = NULL;

	for (char *const *p = host_environ; p && *p; p++) {
		const char *eq = strchr(*p, '=');
		char name[256];
		if (!eq || (size_t)(eq - *p) >= sizeof(name) || !valid_name(*p, (size_t)(eq - *p)))
			continue;
		memcpy(name, *p, (size_t)(eq - *p));
		name[eq - *p] = '\0';
		/* sif's own variables are for sif; the host's PATH makes no sense inside */
		if (strncmp(name, "SIF_", 4) == 0 || strcmp(name, "PATH") == 0)
			continue;
		if (l->cleanenv && !keep_when_clean(*p))
			continue;
		if (sif_env_set(&host, name, eq + 1) < 0 || sif_env_set(out, name, eq + 1) < 0)
			goto nomem;
	}

	list_scripts(rootfd, &scripts, &nscripts);
	for (size_t i = 0; i < nscripts; i++) {
		char *text = NULL;
		if (!shl) {
			struct sif_err e;
			if (sif_read_in_root(rootfd, scripts[i], 1 << 20, &text, NULL, &e) < 0) {
				fprintf(stderr, "sif: warning: %s: %s\n", scripts[i], e.msg);
				continue;
			}
			r = sif_env_apply_simple(out, &host, text);
			free(text);
			if (r < 0)
				goto nomem;
			if (r == 0)
				continue;
			r = 0;
			shl = calloc(nscripts - i + 1, sizeof(*shl));
			if (!shl)
				goto nomem;
		}
		/* this script and every later one: for the image's shell */
		shl[nsh++] = scripts[i];
		scripts[i] = NULL;
	}

	if (!sif_env_get(out, "PATH") && sif_env_set(out, "PATH", SIF_DEFAULT_PATH) < 0)
		goto nomem;
	r = sif_env_overrides(out, l, NULL, err);
	if (r < 0)
		goto out;
	*sh_scripts = shl;
	shl = NULL;
	goto out;
nomem:
	r = sif_err_set(err, ENOMEM, "out of memory building the environment");
out:
	for (size_t i = 0; i < nscripts; i++)
		free(scripts[i]);
	free(scripts);
	if (shl) {
		for (size_t i = 0; i < nsh; i++)
			free(shl[i]);
		free(shl);
	}
	sif_env_free(&host);
	if (r < 0)
		sif_env_free(out);
	return r;
}

int sif_env_overrides(struct sif_env *e, const struct sif_launch *l, const char *cwd,
                      struct sif_err *err)
{
	const char *name = strrchr(l->image.path, '/') ? strrchr(l->image.path, '/') + 1
	                                               : l->image.path;

	if (sif_env_set(e, "HOME", l->home_dst ? l->home_dst : "/") < 0 ||
	    sif_env_set(e, "SIF_CONTAINER", l->image.path) < 0 ||
	    sif_env_set(e, "SIF_NAME", name) < 0 ||
	    (cwd && sif_env_set(e, "PWD", cwd) < 0) ||
	    (l->verb == SIF_VERB_SHELL && sif_env_set(e, "PS1", "Sif> ") < 0))
		return sif_err_set(err, ENOMEM, "out of memory building the environment");

	/* --slurm: the host's configuration (the user may name another) */
	if (l->slurm_conf && sif_env_set(e, "SLURM_CONF", l->slurm_conf) < 0)
		return sif_err_set(err, ENOMEM, "out of memory building the environment");

	/* SIF_ENV_K, --env-file and --env: the user's word is last */
	for (size_t i = 0; i < l->nenv_set; i++) {
		const char *kv = l->env_set[i], *eq = strchr(kv, '=');
		char var[256];
		if (!eq || (size_t)(eq - kv) >= sizeof(var) || !valid_name(kv, (size_t)(eq - kv)))
			return sif_err_set(err, EINVAL, "environment \"%s\" (--env, --env-file or "
			                   "SIF_ENV_): not NAME=VALUE with a valid NAME", kv);
		memcpy(var, kv, (size_t)(eq - kv));
		var[eq - kv] = '\0';
		if (sif_env_set(e, var, eq + 1) < 0)
			return sif_err_set(err, ENOMEM, "out of memory building the environment");
	}

	/* --slurm: its commands come first, whatever PATH the image or --env
	 * gave (once: this runs again after the image's shell scripts) */
	if (l->path_prepend) {
		const char *path = sif_env_get(e, "PATH");
		size_t n = strlen(l->path_prepend);
		char *np;
		int r;
		if (path && strncmp(path, l->path_prepend, n) == 0 && (path[n] == ':' || !path[n]))
			return 0;   /* first already */
		if (asprintf(&np, "%s%s%s", l->path_prepend, path && *path ? ":" : "",
		             path && *path ? path : "") < 0)
			return sif_err_set(err, ENOMEM, "out of memory building the environment");
		r = sif_env_set(e, "PATH", np);
		free(np);
		if (r < 0)
			return sif_err_set(err, ENOMEM, "out of memory building the environment");
	}
	return 0;
}

int sif_env_apply_scripts(struct sif_env *e, char *const *scripts, struct sif_err *err)
{
	int pfd[2], st;
	pid_t pid;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	size_t n = 0;

	for (char *const *s = scripts; s && *s; s++)
		n++;
	if (n == 0)
		return 0;
	if (access("/bin/sh", X_OK) < 0) {
		fprintf(stderr, "sif: warning: the image has no /bin/sh: %s%s not applied\n", scripts[0],
		        n > 1 ? " and the env scripts after it are" : " is");
		return 0;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return sif_err_set(err, errno, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return sif_err_set(err, errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		char **argv = calloc(n + 5, sizeof(*argv));
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (!argv)
			_exit(127);
		argv[0] = "sh";
		argv[1] = "-c";
		/* a script's own output goes to stderr; only export -p is read */
		argv[2] = "for f do . \"$f\" >&2; done; export -p";
		argv[3] = "sh";
		for (size_t i = 0; i < n; i++)
			argv[4 + i] = scripts[i];
		dup2(pfd[1], 1);
		if (null >= 0)
			dup2(null, 0);
		execve("/bin/sh", argv, e->v);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (!nb)
				break;
			buf = nb;
		}
		ssize_t k = read(pfd[0], buf + len, cap - len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!buf || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		free(buf);
		fprintf(stderr, "sif: warning: the image's environment scripts failed (%s...): "
		        "their variables are not applied\n", scripts[0]);
		return 0;
	}
	buf[len] = '\0';
	/* what the shell exported is the environment now */
	struct sif_env fresh;
	sif_env_init(&fresh);
	if (sif_env_parse_export_p(&fresh, buf) < 0) {
		free(buf);
		sif_env_free(&fresh);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	free(buf);
	sif_env_free(e);
	*e = fresh;
	return 0;
}

int sif_env_read_file(const char *path, char ***out, size_t *n, struct sif_err *err)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;

	if (!f)
		return sif_err_set(err, errno, "--env-file %s: %s", path, strerror(errno));
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *p = line, *eq, *v;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		while (isblank((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		eq = strchr(p, '=');
		if (!eq || !valid_name(p, (size_t)(eq - p))) {
			fclose(f);
			free(line);
			return sif_err_set(err, EINVAL, "--env-file %s:%u: not NAME=VALUE", path, lineno);
		}
		v = eq + 1;
		size_t vl = strlen(v);
		if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
			v[vl - 1] = '\0';
			memmove(v, v + 1, vl - 1);
		}
		char **nv = realloc(*out, (*n + 1) * sizeof(*nv));
		if (!nv || !(nv[*n] = strdup(p))) {
			fclose(f);
			free(line);
			if (nv)
				*out = nv;
			return sif_err_set(err, ENOMEM, "out of memory");
		}
		*out = nv;
		(*n)++;
	}
	fclose(f);
	free(line);
	return 0;
}
