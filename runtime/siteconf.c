/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "siteconf.h"

enum kind { LIST_PATH, BOOL, SECONDS };

static const struct key {
	const char *name;
	enum kind kind;
	size_t list_off, count_off;   /* LIST_PATH */
	size_t bool_off;              /* BOOL */
} keys[] = {
	{"bind path", LIST_PATH, offsetof(struct sif_config, binds),
	 offsetof(struct sif_config, nbinds), 0},
	{"allow user binds", BOOL, 0, 0, offsetof(struct sif_config, user_binds)},
	{"allowed bind source", LIST_PATH, offsetof(struct sif_config, bind_sources),
	 offsetof(struct sif_config, nbind_sources), 0},
	{"allowed image path", LIST_PATH, offsetof(struct sif_config, image_paths),
	 offsetof(struct sif_config, nimage_paths), 0},
	{"allow directory images", BOOL, 0, 0, offsetof(struct sif_config, dir_images)},
	{"mount home", BOOL, 0, 0, offsetof(struct sif_config, mount_home)},
	{"mount tmp", BOOL, 0, 0, offsetof(struct sif_config, mount_tmp)},
	{"mount linger", SECONDS, 0, 0, offsetof(struct sif_config, linger)},
	{"prefetch profiles", BOOL, 0, 0, offsetof(struct sif_config, prefetch)},
	{"slurm", BOOL, 0, 0, offsetof(struct sif_config, slurm)},
};

int sif_config_load(struct sif_config *c, const char *path, struct sif_err *err)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int r = 0;

	memset(c, 0, sizeof(*c));
	c->user_binds = c->dir_images = c->mount_home = c->mount_tmp = c->prefetch = true;
	c->linger = SIF_DEFAULT_LINGER;
	c->path = path;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return sif_err_advise(err, errno, "site configuration %s: %s (ask the administrator)",
		                      path, strerror(errno));
	}
	while (getline(&line, &cap, f) >= 0) {
		char *p, *eq, *key, *val;
		const struct key *k = NULL;
		lineno++;
		p = strchr(line, '#');
		if (p)
			*p = '\0';
		p = sif_trim(line);
		if (!*p)
			continue;
		eq = strchr(p, '=');
		if (!eq) {
			r = sif_err_advise(err, EINVAL, "%s:%u: expected 'key = value' (see sif.conf(5); "
			                   "ask the administrator)", path, lineno);
			break;
		}
		*eq = '\0';
		key = sif_trim(p);
		val = sif_trim(eq + 1);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(keys[i].name, key) == 0)
				k = &keys[i];
		if (!k) {
			r = sif_err_advise(err, EINVAL, "%s:%u: unknown key '%s' (see sif.conf(5); ask the "
			                   "administrator)", path, lineno, key);
			break;
		}
		if (k->kind == BOOL) {
			bool *b = (bool *)((char *)c + k->bool_off);
			if (strcmp(val, "yes") == 0)
				*b = true;
			else if (strcmp(val, "no") == 0)
				*b = false;
			else {
				r = sif_err_advise(err, EINVAL, "%s:%u: '%s' must be yes or no, not '%s' (ask "
				                   "the administrator)", path, lineno, key, val);
				break;
			}
			continue;
		}
		if (k->kind == SECONDS) {
			char *end;
			unsigned long v = strtoul(val, &end, 10);
			if (!isdigit((unsigned char)val[0]) || *end || v > 3600) {
				r = sif_err_advise(err, EINVAL, "%s:%u: '%s' must be a number of seconds from "
				                   "0 to 3600, not '%s' (ask the administrator)", path, lineno,
				                   key, val);
				break;
			}
			*(unsigned *)((char *)c + k->bool_off) = (unsigned)v;
			continue;
		}
		char **list = (char **)((char *)c + k->list_off);
		size_t *n = (size_t *)((char *)c + k->count_off);
		if (val[0] != '/') {
			r = sif_err_advise(err, EINVAL, "%s:%u: '%s' needs an absolute path, not '%s' (ask "
			                   "the administrator)", path, lineno, key, val);
			break;
		}
		if (*n >= SIF_CONFIG_MAX_LIST) {
			r = sif_err_advise(err, EINVAL, "%s:%u: more than %d '%s' lines (ask the "
			                   "administrator)", path, lineno, SIF_CONFIG_MAX_LIST, key);
			break;
		}
		list[*n] = strdup(val);
		if (!list[*n]) {
			r = sif_err_set(err, ENOMEM, "out of memory");
			break;
		}
		(*n)++;
	}
	free(line);
	fclose(f);
	if (r < 0)
		sif_config_free(c);
	return r;
}

void sif_config_free(struct sif_config *c)
{
	for (size_t i = 0; i < c->nbinds; i++)
		free(c->binds[i]);
	for (size_t i = 0; i < c->nbind_sources; i++)
		free(c->bind_sources[i]);
	for (size_t i = 0; i < c->nimage_paths; i++)
		free(c->image_paths[i]);
	c->nbinds = c->nbind_sources = c->nimage_paths = 0;
}

/* Is the real path of P under one of the prefixes (also resolved)? */
static bool allowed(const char *p, char *const *prefixes, size_t n)
{
	char rp[PATH_MAX], rq[PATH_MAX];

	if (!realpath(p, rp))
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *q = realpath(prefixes[i], rq) ? rq : prefixes[i];
		size_t len = strlen(q);
		while (len > 1 && q[len - 1] == '/')
			len--;
		if ((len == 1 && q[0] == '/') ||
		    (strncmp(rp, q, len) == 0 && (rp[len] == '\0' || rp[len] == '/')))
			return true;
	}
	return false;
}

bool sif_config_user_bind_allowed(const struct sif_config *c, const char *src)
{
	return c->user_binds && (!c->nbind_sources || allowed(src, c->bind_sources, c->nbind_sources));
}

int sif_config_apply(const struct sif_config *c, struct sif_launch *l, bool user_binds_given,
                     bool home_given, struct sif_err *err)
{
	if (user_binds_given && !c->user_binds)
		return sif_err_advise(err, EPERM, "user binds (-B, SIF_BIND) are disabled by the site "
		                      "policy in %s (ask the administrator)", c->path);
	/* --home SRC binds a host path of the user's choosing too */
	if (home_given && l->home_src && !c->user_binds)
		return sif_err_advise(err, EPERM, "--home %s: user binds are disabled by the site "
		                      "policy in %s (ask the administrator)", l->home_src, c->path);
	if (home_given && l->home_src && c->nbind_sources &&
	    !allowed(l->home_src, c->bind_sources, c->nbind_sources))
		return sif_err_advise(err, EPERM, "--home %s: not an allowed bind source in %s (ask "
		                      "the administrator)", l->home_src, c->path);
	if (c->nbind_sources)
		for (size_t i = 0; i < l->nbinds; i++)
			if (!allowed(l->binds[i].src, c->bind_sources, c->nbind_sources))
				return sif_err_advise(err, EPERM, "--bind %s: not an allowed bind source in "
				                      "%s (ask the administrator)", l->binds[i].src, c->path);
	/* the file sif opened, not whatever the name points to now */
	char fdp[64];
	snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", l->image.fd);
	if (c->nimage_paths && !allowed(fdp, c->image_paths, c->nimage_paths))
		return sif_err_advise(err, EPERM, "image %s: not in an allowed image location of %s "
		                      "(ask the administrator where images may be run from)",
		                      l->image.path, c->path);
	if (l->image.kind == SIF_IMAGE_DIR && !c->dir_images)
		return sif_err_advise(err, EPERM, "image %s: directory images are disabled by %s (use "
		                      "a .sif file)", l->image.path, c->path);

	/* the site's binds come first, so that the user's may land inside them */
	if (c->nbinds) {
		struct sif_bind *user = l->binds;
		size_t nuser = l->nbinds;
		l->binds = NULL;
		l->nbinds = 0;
		for (size_t i = 0; i < c->nbinds; i++) {
			/* a site path missing on this node (no /scratch on a login
			 * node) is left out, as Apptainer does */
			char src[PATH_MAX];
			snprintf(src, sizeof(src), "%s", c->binds[i]);
			src[strcspn(src, ":")] = '\0';
			if (access(src, F_OK) < 0)
				continue;
			int r = sif_launch_add_binds(l, c->binds[i], err);
			if (r < 0) {
				sif_err_prefix(err, "%s: bind path: ", c->path);
				for (size_t j = 0; j < nuser; j++) {
					free(user[j].src);
					free(user[j].dst);
				}
				free(user);
				return r;
			}
		}
		struct sif_bind *all = realloc(l->binds, (l->nbinds + nuser) * sizeof(*all));
		if (!all && l->nbinds + nuser) {
			free(user);
			return sif_err_set(err, ENOMEM, "out of memory");
		}
		if (nuser)
			memcpy(all + l->nbinds, user, nuser * sizeof(*user));
		free(user);
		l->binds = all;
		l->nbinds += nuser;
	}
	return 0;
}
