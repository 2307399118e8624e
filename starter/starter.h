/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The starter: the only part of sif that touches namespaces and mounts.
 * It executes a resolved launch plan (runtime/launch.h) and parses no
 * configuration.  Sequence for one launch:
 *
 *   sif_session_begin()   joins a live root of the same shape (share.c), or
 *   sif_session_setup()   sif_preflight() (can this machine do it at all?
 *                         one clear line if not), user + mount namespace,
 *                         image served by FUSE, root assembled (overlay,
 *                         /proc, /sys, /dev, /tmp, $HOME, binds, cwd, /etc files)
 *   sif_session_write()   the caller writes generated files (/etc/passwd)
 *   sif_session_finish()  the user's binds, the working directory, the root
 *                         read-only; this process moves into the container's
 *                         mount namespace (pivoted), which joiners get too
 *   sif_session_run()     payload started in the root; this process stays
 *                         as reaper and signal relay; returns its status
 */
#ifndef SIF_STARTER_H
#define SIF_STARTER_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "launch.h"

struct sif_session {
	char dir[PATH_MAX];         /* the session tmpfs */
	char root[PATH_MAX];        /* the assembled root: DIR/root */
	int rootfd;                 /* O_PATH of the root */
	pid_t server;               /* the FUSE server, or 0 */
	char cwd[PATH_MAX];         /* where the payload starts, inside the root */
	char fresh[8][PATH_MAX];    /* our own tmpfs mounts inside the root: mount
	                               points may be made in them */
	size_t nfresh;
	bool bind_cwd;
	int member_fd;              /* our membership of the mount's holder, or -1 */
	int listen_fd;              /* the share name we claimed, for our holder, or -1 */
	bool joined;                /* the root was set up by an earlier launch */
	const struct sif_launch *l;
};

int sif_preflight(const struct sif_launch *l, struct sif_err *err);
/* Initialise S and join a live root of the same shape (share.c): 1 when
 * joined (sif_session_setup then has nothing to do), 0 when this launch
 * sets the root up (having claimed the share name, if sharing), or a
 * negative errno. */
int sif_session_begin(const struct sif_launch *l, struct sif_session *s, struct sif_err *err);
/* After sif_session_begin: set the root up, unless joined. */
int sif_session_setup(const struct sif_launch *l, struct sif_session *s, struct sif_err *err);
/* Write CONTENT as the file PATH inside the root (resolved inside it). */
int sif_session_write(struct sif_session *s, const char *path, const char *content,
                      struct sif_err *err);
/* The user's binds (after the generated files: a bind over /etc wins) and
 * the working directory. */
int sif_session_finish(struct sif_session *s, struct sif_err *err);

/* Called in the payload's process after privileges are dropped and just
 * before exec: returns the environment to exec with, or NULL after writing
 * why into msg. */
typedef char **(*sif_prepare_env_fn)(void *ctx, char *msg, size_t msglen);

/* Start ARGV in the root with the environment PREPARE gives; returns the
 * exit status to pass on (0..255, 128+N for a signal), or a negative errno
 * for sif's own failure. */
int sif_session_run(struct sif_session *s, char *const argv[], sif_prepare_env_fn prepare,
                    void *ctx, struct sif_err *err);
void sif_session_end(struct sif_session *s);

/* For the SPANK plugin (spank/sif_spank.c): instead of starting a payload,
 * give the task at the other end of SOCK (a socket pair the task made) the
 * launch's namespaces (SCM_RIGHTS), then the root, the working directory,
 * "P" or "-" (whether it came from --pwd) and the payload's environment,
 * as PREPARE gives it inside the container: a 32-bit length, then
 * NUL-terminated strings.  The task enters the root itself, and this
 * process keeps the mount until the task ends.  Returns 0, or <0. */
int sif_session_handover(struct sif_session *s, int sock, sif_prepare_env_fn prepare, void *ctx,
                         struct sif_err *err);

/* For the starter's own files: deny setgroups, then map INSIDE_UID to UID
 * and INSIDE_GID to GID (one id each) in the caller's new user namespace. */
int sif_map_ids(unsigned inside_uid, unsigned uid, unsigned inside_gid, unsigned gid);

/* "sif: debug: ..." on stderr when the plan asks for -v. */
void sif_trace(const struct sif_launch *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
