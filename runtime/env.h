/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The payload's environment, as Apptainer builds it: the host's variables
 * pass (all but sif's own SIF_*; only a few with --cleanenv); the image's
 * /.singularity.d/env/ scripts (*.sh) apply in order with the host's value winning,
 * except for PATH; then SIF_ENV_K=V, --env-file and --env K=V, which win
 * over everything.
 *
 * The forms image conversion writes (export X="${X:-v}", export X=v) are
 * evaluated here, without a shell.  A script with any other shell code,
 * and every script after it, is run by the image's /bin/sh inside the
 * container just before the payload starts (sif_env_apply_scripts).
 */
#ifndef SIF_ENV_H
#define SIF_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "launch.h"

#define SIF_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct sif_env {
	char **v;        /* "K=V" strings, NULL-terminated */
	size_t n, cap;
};

void sif_env_init(struct sif_env *e);
void sif_env_free(struct sif_env *e);
int sif_env_set(struct sif_env *e, const char *name, const char *value);
const char *sif_env_get(const struct sif_env *e, const char *name);

/* Parse one script: apply what it sets to E (host names in HOST keep their
 * value, except PATH); returns 1 when the script holds other shell code
 * (nothing applied), 0 when applied, <0 on error. */
int sif_env_apply_simple(struct sif_env *e, const struct sif_env *host, const char *script);

/* Parse the output of "export -p" (dash, bash --posix, bash, busybox) into E. */
int sif_env_parse_export_p(struct sif_env *e, const char *text);

/* Build the environment for L from HOST_ENVIRON and the image under ROOTFD.
 * Scripts left for the shell are listed in *sh_scripts (container paths,
 * NULL-terminated, malloc'd). */
int sif_env_build(struct sif_env *out, char ***sh_scripts, const struct sif_launch *l,
                  int rootfd, char *const *host_environ, struct sif_err *err);

/* What sif sets over the image's and the host's variables: HOME, SIF_*,
 * PWD (when CWD is given), PS1 for shell, then the user's --env, --env-file
 * and SIF_ENV_K; applied again after the image's shell scripts ran. */
int sif_env_overrides(struct sif_env *e, const struct sif_launch *l, const char *cwd,
                      struct sif_err *err);

/* Inside the container, after privileges are dropped: run SCRIPTS with
 * /bin/sh on top of E and take the environment it leaves. */
int sif_env_apply_scripts(struct sif_env *e, char *const *scripts, struct sif_err *err);

/* Read an --env-file: KEY=VALUE lines, '#' comments, optional quotes. */
int sif_env_read_file(const char *path, char ***out, size_t *n, struct sif_err *err);

#endif
