/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a build adds to the image besides the layers: Apptainer's
 * /.singularity.d layout made from the OCI image config (runscript from
 * ENTRYPOINT/CMD, env/10-docker2singularity.sh from Env, labels.json from
 * Labels, ...) and the mount points the launcher binds over.
 */
#ifndef SIF_META_H
#define SIF_META_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sqfs_out.h"
#include "tree.h"

struct json_t;

/* Add /.singularity.d made from the image config CONFIG (LEN bytes of JSON,
 * already verified) to T, file data through OUT, with mtime TIME.  Files
 * the layers had at those paths are replaced. */
int meta_add_singularity(struct tree *t, struct sqfs_out *out, const char *config, size_t len,
                         int64_t time, struct sif_err *err);

/* Make sure /proc /sys /dev /tmp /var/tmp /home (directories) and
 * /etc/passwd /etc/group /etc/hosts /etc/resolv.conf (files) exist, made
 * with mtime TIME where missing.  Paths that exist are left alone. */
int meta_ensure_mountpoints(struct tree *t, struct sqfs_out *out, int64_t time,
                            struct sif_err *err);

/* The texts meta_add_singularity writes, made from CONFIG (a parsed image
 * config: the whole document or its "config" object).  Each returns a
 * malloc'd NUL-terminated string, or NULL with ERR filled. */
/* /.singularity.d/runscript: exec ENTRYPOINT + CMD, arguments replace CMD */
char *meta_runscript(const struct json_t *config, struct sif_err *err);
/* /.singularity.d/env/10-docker2singularity.sh: one export line per Env entry */
char *meta_env_script(const struct json_t *config, struct sif_err *err);
/* /.singularity.d/labels.json: Labels, indented, keys sorted ("{}" if none) */
char *meta_labels_json(const struct json_t *config, struct sif_err *err);

#endif
