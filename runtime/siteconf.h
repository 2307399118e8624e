/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Site policy: SYSCONFDIR/sif.conf (see sif.conf(5)).  Read by every launch;
 * no flag or variable of the user's overrides it.  It is the site's policy
 * for sif, not a security boundary: a user can run other tools.
 */
#ifndef SIF_SITECONF_H
#define SIF_SITECONF_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "launch.h"

#define SIF_CONFIG_MAX_LIST 64
#define SIF_DEFAULT_LINGER 5   /* seconds */

struct sif_config {
	char *binds[SIF_CONFIG_MAX_LIST];        /* "bind path": always bound */
	size_t nbinds;
	bool user_binds;                         /* "allow user binds" */
	char *bind_sources[SIF_CONFIG_MAX_LIST]; /* "allowed bind source": prefixes */
	size_t nbind_sources;
	char *image_paths[SIF_CONFIG_MAX_LIST];  /* "allowed image path": prefixes */
	size_t nimage_paths;
	bool dir_images;                         /* "allow directory images" */
	bool mount_home;                         /* "mount home": the default */
	bool mount_tmp;                          /* "mount tmp": the default */
	unsigned linger;                         /* "mount linger": seconds */
	bool prefetch;                           /* "prefetch profiles" */
	bool slurm;                              /* "slurm": --slurm by default */
	const char *path;                        /* where it was read from */
};

/* Defaults (everything allowed, home and tmp mounted), then PATH if it
 * exists.  A missing file is no error; an unknown key or a bad value is,
 * naming the file and line. */
int sif_config_load(struct sif_config *c, const char *path, struct sif_err *err);
void sif_config_free(struct sif_config *c);

/* Check the plan against the policy and add the site's binds; call after
 * the user's options are in the plan and the image is open.  An explicit
 * --home SRC is a user bind for the policy. */
int sif_config_apply(const struct sif_config *c, struct sif_launch *l, bool user_binds_given,
                     bool home_given, struct sif_err *err);

/* May the user bind the host path SRC (as -B would)?  User binds allowed,
 * and SRC under an allowed bind source when the site lists them. */
bool sif_config_user_bind_allowed(const struct sif_config *c, const char *src);

#endif
