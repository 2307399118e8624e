/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The launch plan: everything the starter needs to start a container,
 * resolved from the command line, the environment and the image into plain
 * data.  Building it has no side effects; the starter executes it.
 */
#ifndef SIF_LAUNCH_H
#define SIF_LAUNCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

enum sif_image_kind {
	SIF_IMAGE_SIF,        /* a SIF file: its primary squashfs partition */
	SIF_IMAGE_SQUASHFS,   /* a bare squashfs file */
	SIF_IMAGE_DIR,        /* a directory (sandbox) */
};

struct sif_slurm;

struct sif_image_ref {
	char *path;                 /* as given */
	char *realpath;             /* absolute, links resolved (directories) */
	enum sif_image_kind kind;
	int fd;                     /* O_CLOEXEC: the file, or the directory (O_PATH) */
	uint64_t offset, size;      /* of the squashfs inside the file */
	char arch[16];              /* Go name of the image's architecture, "" if unknown */
	uint64_t oci_config_off, oci_config_size;  /* oci-config.json in a SIF, size 0 if none */
};

/* the user's, the site's and --slurm's binds together (--slurm needs ~60) */
#define SIF_MAX_BINDS 256

struct sif_bind {
	char *src;                  /* host path */
	char *dst;                  /* container path (resolved inside the root) */
	bool ro;
	const char *why;            /* what asked for it, in traces and errors (static;
	                             * NULL: "--bind") */
	bool slurm;                 /* --slurm's (the share's shape has slurm_key instead) */
};

enum sif_verb { SIF_VERB_EXEC, SIF_VERB_RUN, SIF_VERB_SHELL };

struct sif_launch {
	enum sif_verb verb;
	struct sif_image_ref image;

	uid_t uid;
	gid_t gid;
	char *user;                 /* login name, or the uid as text */
	char *host_home;            /* the invoking user's home on the host */

	/* the container's view */
	char *home_src, *home_dst;  /* NULL src: no home bound (--no-home) */
	bool home_given;            /* --home was given */
	bool contain, pid_ns, ipc_ns, net_ns, writable_tmpfs, fakeroot, cleanenv;
	bool private_tmp;           /* fresh /tmp and /var/tmp (--contain, or sif.conf) */
	struct sif_bind *binds;
	size_t nbinds;
	char *host_cwd;             /* where sif was started */
	char *pwd;                  /* --pwd, or NULL */

	/* the payload */
	char **argv;                /* for exec: the command; run/shell: extra arguments */
	int argc;
	char **env_set;             /* --env K=V, --env-file and SIF_ENV_K, in order */
	size_t nenv_set;

	bool share;                 /* join or offer a live mount of the same root */
	const char *share_tag;      /* --share-tag: meet under this name; options must match */
	const char *share_origin;   /* NULL, or what chose share_tag for the user: "Slurm job
	                             * step 5.0", "mpirun job 1915551745" */
	unsigned linger;            /* seconds the mount's holder outlives its last launch */
	bool prefetch;              /* keep and use the image's prefetch profile */

	/* --slurm (hostslurm.c): set inside, in the environment */
	char *path_prepend;         /* put first on PATH (after --env), or NULL */
	char *slurm_conf;           /* SLURM_CONF (before --env), or NULL */
	char *slurm_key;            /* what its binds are made of, for the share's shape */
	struct sif_slurm *slurm;    /* its binds still to add (sif_slurm_binds), or NULL */

	int verbose;                /* -v: trace each namespace and mount step */
	const char *sessiondir;     /* an empty directory to build the root on */
};

/* Parse one -B/--bind or SIF_BIND value: "SRC[:DST[:ro|rw]][,...]" and
 * append to the plan.  Relative sources are taken from the cwd. */
int sif_launch_add_binds(struct sif_launch *l, const char *spec, struct sif_err *err);
/* Append one bind SRC (absolute) on DST, for WHY (a static string). */
int sif_launch_add_bind(struct sif_launch *l, const char *src, const char *dst, bool ro,
                        const char *why, struct sif_err *err);

/* Is PATH DIR itself or below it (component-wise)? */
bool sif_path_under(const char *path, const char *dir);
/* Does the container of L show the host path REAL (links resolved) at its
 * own path: through the host's /tmp, the home or a bind at its own path?
 * What shows it, or NULL. */
const char *sif_launch_host_path_shown(const struct sif_launch *l, const char *real);

/* Open and identify the image at PATH (SIF, squashfs or directory). */
int sif_image_open(struct sif_image_ref *ref, const char *path, struct sif_err *err);
void sif_image_close(struct sif_image_ref *ref);
/* The WorkingDir of the image's OCI config (malloc'd), or NULL; read only
 * when asked (sif run), not at every launch. */
char *sif_image_workdir(const struct sif_image_ref *ref);

/* Fill identity, home and cwd from the calling process. */
int sif_launch_init(struct sif_launch *l, struct sif_err *err);
void sif_launch_free(struct sif_launch *l);

#endif
