/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The /.singularity.d layout of an image made from an OCI image, as
 * Apptainer's Docker/OCI conversion lays it out, so that Apptainer runs our
 * images and we run Apptainer's (see meta.h):
 *
 *   /.singularity.d/                     0755
 *     runscript                          0755  exec ENTRYPOINT + CMD
 *     labels.json                        0644  Labels
 *     env/01-base.sh                     0755  sourced first (empty)
 *     env/10-docker2singularity.sh       0755  Env
 *     env/90-environment.sh              0755  the user's own (empty)
 *     env/95-apps.sh                     0755  SCIF apps (none)
 *     env/99-base.sh                     0755  sourced last (empty)
 *     libs/                              0755  libraries a runtime binds in
 *   /singularity -> .singularity.d/runscript
 *   /environment -> .singularity.d/env/90-environment.sh
 *
 * Not made, because Apptainer's runtime no longer reads them from the image:
 * actions/{exec,run,shell,start,test} (since Singularity 3.6 it interprets
 * an action script of its own, chosen by the name of the action, and reads
 * /.singularity.d/env/ and the runscript itself), the /.exec, /.run, /.shell
 * and /.test links to them, startscript (without one, "instance start"
 * starts nothing, as with Apptainer's empty one) and env/99-runtimevars.sh
 * (Apptainer serves that path from memory).
 *
 * Every env script must stay in the forms runtime/env.c evaluates without
 * a shell (comments and export lines): one line of other shell code and
 * the launcher runs that script, and every one after it, with the image's
 * /bin/sh at each start.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "meta.h"

/* ---- texts ---------------------------------------------------------------- */

static const char base01_sh[] =
	"#!/bin/sh\n"
	"# The first of the image's environment scripts (made by sif build).\n";

static const char environment90_sh[] =
	"#!/bin/sh\n"
	"# This image's own environment: export lines added here are set in the\n"
	"# container (made empty by sif build).\n";

static const char apps95_sh[] =
	"#!/bin/sh\n"
	"# SCIF apps: none in an image made from an OCI image (made by sif build).\n";

/* Apptainer's own also appends /.singularity.d/libs to LD_LIBRARY_PATH
 * (where its --nv binds the host's GPU libraries); appending takes shell
 * code, which would cost every launch of ours a /bin/sh, so it is not done:
 * with "apptainer run --nv" our images may need LD_LIBRARY_PATH set by hand. */
static const char base99_sh[] =
	"#!/bin/sh\n"
	"# The last of the image's environment scripts (made by sif build).\n";

/* A string being built, through a memory stream. */
struct text {
	FILE *f;
	char *buf;
	size_t len;
};

static int text_open(struct text *x, struct sif_err *err)
{
	x->buf = NULL;
	x->len = 0;
	x->f = open_memstream(&x->buf, &x->len);
	return x->f ? 0 : sif_err_set(err, ENOMEM, "out of memory");
}

/* The finished string, or NULL (ERR filled) if writing it failed. */
static char *text_close(struct text *x, struct sif_err *err)
{
	bool failed = ferror(x->f) != 0;

	if (fclose(x->f) != 0 || failed || !x->buf) {
		free(x->buf);
		sif_err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	return x->buf;
}

/* One word for sh, single-quoted: nothing in it is expanded. */
static void put_squoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* The inside of a double-quoted word: \ " $ ` escaped, the only characters
 * that keep a meaning there (runtime/env.c's dquoted() reads them back). */
static void put_dquoted_body(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"' || *s == '$' || *s == '`')
			fputc('\\', f);
		fputc(*s, f);
	}
}

/* The "config" object of an image config, or the object itself when it is
 * already that part (Apptainer stores only it, as oci-config.json). */
/* Each string of the JSON array A, single-quoted, after a space. */
static void put_words(FILE *f, const json_t *a)
{
	for (size_t i = 0; i < json_array_size(a); i++) {
		fputc(' ', f);
		put_squoted(f, json_string_value(json_array_get(a, i)));
	}
}

static const json_t *config_object(const json_t *root)
{
	const json_t *c = json_object_get(root, "config");
	return json_is_object(c) ? c : root;
}

/* The array of strings KEY of C in *A: NULL when absent or null. */
static int string_array(const json_t *c, const char *key, const json_t **a, struct sif_err *err)
{
	const json_t *v = json_object_get(c, key);

	*a = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return sif_err_set(err, SIF_EFORMAT, "image config: %s is not an array", key);
	for (size_t i = 0; i < json_array_size(v); i++)
		if (!json_is_string(json_array_get(v, i)))
			return sif_err_set(err, SIF_EFORMAT, "image config: %s[%zu] is not a string",
			                   key, i);
	*a = v;
	return 0;
}

char *meta_runscript(const struct json_t *config, struct sif_err *err)
{
	const json_t *c = config_object(config), *ep, *cmd;
	size_t nep, ncmd;
	struct text x;

	if (string_array(c, "Entrypoint", &ep, err) < 0 || string_array(c, "Cmd", &cmd, err) < 0 ||
	    text_open(&x, err) < 0)
		return NULL;
	nep = json_array_size(ep);   /* 0 for NULL */
	ncmd = json_array_size(cmd);

	fputs("#!/bin/sh\n"
	      "# The image's ENTRYPOINT and CMD (OCI config), run as \"docker run\" runs\n"
	      "# them: arguments given to \"run\" replace CMD.  Made by sif build: every\n"
	      "# word is quoted, none is evaluated.\n", x.f);
	if (ncmd > 0) {
		fputs("if [ $# -eq 0 ]; then\n\tset --", x.f);
		put_words(x.f, cmd);
		fputs("\nfi\n", x.f);
	} else if (nep == 0) {
		/* Apptainer's own runscript then runs the arguments, if any; and
		 * a shell is what it starts for an image without a runscript */
		fputs("# no ENTRYPOINT and no CMD: the arguments, else a shell\n"
		      "if [ $# -eq 0 ]; then\n\tset -- /bin/sh\nfi\n", x.f);
	}
	if (nep > 0) {
		fputs("set --", x.f);
		put_words(x.f, ep);
		fputs(" \"$@\"\n", x.f);
	}
	/* Apptainer's runtime looks for this exact eval line and then runs the
	 * runscript in its built-in shell interpreter rather than with the
	 * image's /bin/sh (process_linux.go, getDockerRunscript) */
	fputs("# Apptainer runs a runscript with the next line in its own shell, so that\n"
	      "# an image without /bin/sh runs too; here it changes nothing.\n"
	      "SINGULARITY_OCI_RUN='-- \"$@\"'\n"
	      "eval \"set ${SINGULARITY_OCI_RUN}\"\n"
	      "exec \"$@\"\n", x.f);
	return text_close(&x, err);
}

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

char *meta_env_script(const struct json_t *config, struct sif_err *err)
{
	const json_t *env;
	size_t n;
	struct text x;

	if (string_array(config_object(config), "Env", &env, err) < 0 || text_open(&x, err) < 0)
		return NULL;
	n = json_array_size(env);
	fputs("#!/bin/sh\n"
	      "# The image's environment (Env of its OCI config), made by sif build.\n"
	      "# A variable the host sets keeps the host's value, except PATH.\n", x.f);
	for (size_t i = 0; i < n; i++) {
		const char *kv = json_string_value(json_array_get(env, i));
		const char *eq = strchr(kv, '=');
		size_t k = eq ? (size_t)(eq - kv) : 0;
		bool later = false;

		if (!eq || !valid_name(kv, k))
			continue;   /* not NAME=VALUE: nothing a shell could set */
		/* a name given twice: the last value counts, as with docker run */
		for (size_t j = i + 1; j < n && !later; j++) {
			const char *o = json_string_value(json_array_get(env, j));
			later = strncmp(o, kv, k + 1) == 0;
		}
		if (later)
			continue;
		if (k == 4 && strncmp(kv, "PATH", 4) == 0) {
			fputs("export PATH=\"", x.f);
			put_dquoted_body(x.f, eq + 1);
			fputs("\"\n", x.f);
		} else {
			fprintf(x.f, "export %.*s=\"${%.*s:-\"", (int)k, kv, (int)k, kv);
			put_dquoted_body(x.f, eq + 1);
			fputs("\"}\"\n", x.f);
		}
	}
	return text_close(&x, err);
}

char *meta_labels_json(const struct json_t *config, struct sif_err *err)
{
	const json_t *l = json_object_get(config_object(config), "Labels");
	char *s, *out;

	if (!l || json_is_null(l) || (json_is_object(l) && json_object_size(l) == 0)) {
		out = strdup("{}\n");
		if (!out)
			sif_err_set(err, ENOMEM, "out of memory");
		return out;
	}
	if (!json_is_object(l)) {
		sif_err_set(err, SIF_EFORMAT, "image config: Labels is not an object");
		return NULL;
	}
	s = json_dumps(l, JSON_INDENT(4) | JSON_SORT_KEYS);
	if (!s || asprintf(&out, "%s\n", s) < 0)
		out = NULL;
	free(s);
	if (!out)
		sif_err_set(err, ENOMEM, "out of memory");
	return out;
}

/* ---- the tree ------------------------------------------------------------- */

/* The child NAME of DIR if it is a real entry (not a whiteout placeholder). */
static struct tree_node *entry(const struct tree_node *dir, const char *name)
{
	struct tree_node *c = tree_child(dir, name);
	return c && c->inode ? c : NULL;
}

static bool is_dir(const struct tree_node *n)
{
	return n && n->inode && S_ISDIR(n->inode->mode);
}

/* NAME in DIR made afresh as MODE, root's, with mtime TIME, in *OUT:
 * whatever was there (a whiteout placeholder too) goes, with everything
 * beneath it. */
static int make_node(struct tree *t, struct tree_node *dir, const char *name, uint32_t mode,
                     int64_t time, struct tree_node **out, struct sif_err *err)
{
	struct tree_node *old = tree_child(dir, name), *n;

	if (old)
		tree_remove(t, old);
	n = tree_add_child(t, dir, name);
	if (!n)
		return sif_err_set(err, ENOMEM, "out of memory");
	n->inode = tree_inode_new(mode);
	if (!n->inode) {
		tree_remove(t, n);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	n->inode->uid = n->inode->gid = 0;
	n->inode->mtime = time;
	n->implicit = false;
	t->ninodes++;
	*out = n;
	return 0;
}

/* The directory NAME in DIR, in *OUT: one that is there is kept with what
 * it holds (and made root's 0755 with mtime TIME), anything else replaced. */
static int ensure_dir(struct tree *t, struct tree_node *dir, const char *name, int64_t time,
                      struct tree_node **out, struct sif_err *err)
{
	struct tree_node *n = entry(dir, name);

	if (!is_dir(n))
		return make_node(t, dir, name, S_IFDIR | 0755, time, out, err);
	n->inode->mode = S_IFDIR | 0755;
	n->inode->uid = n->inode->gid = 0;
	n->inode->mtime = time;
	n->implicit = false;
	*out = n;
	return 0;
}

static int write_data(struct sqfs_out *out, struct tree_inode *ino, const char *data, size_t len,
                      struct sif_err *err)
{
	int r = sqfs_out_file_begin(out, ino, err);

	if (r == 0 && len > 0)
		r = sqfs_out_file_append(out, data, len, err);
	if (r == 0)
		r = sqfs_out_file_end(out, err);
	return r;
}

/* The regular file NAME in DIR, replacing what was there, holding TEXT. */
static int add_file(struct tree *t, struct sqfs_out *out, struct tree_node *dir, const char *name,
                    uint32_t perm, const char *text, int64_t time, struct sif_err *err)
{
	struct tree_node *n;
	char where[4096];
	int r = make_node(t, dir, name, S_IFREG | perm, time, &n, err);

	if (r < 0)
		return r;
	r = write_data(out, n->inode, text, strlen(text), err);
	if (r < 0)
		sif_err_prefix(err, "writing /%s: ", tree_path(n, where, sizeof(where)));
	return r;
}

/* The symlink NAME -> TARGET at the root, as Apptainer's build makes it;
 * a directory of that name (someone's data) is left alone. */
static int root_link(struct tree *t, const char *name, const char *target, int64_t time,
                     struct sif_err *err)
{
	struct tree_node *n = entry(t->root, name);
	int r;

	if (is_dir(n))
		return 0;
	r = make_node(t, t->root, name, S_IFLNK | 0777, time, &n, err);
	if (r < 0)
		return r;
	n->inode->target = strdup(target);
	if (!n->inode->target)
		return sif_err_set(err, ENOMEM, "out of memory");
	return 0;
}

int meta_add_singularity(struct tree *t, struct sqfs_out *out, const char *config, size_t len,
                         int64_t time, struct sif_err *err)
{
	struct tree_node *sd, *envd, *libs;
	char *runscript = NULL, *env = NULL, *labels = NULL;
	json_error_t je;
	json_t *root;
	int r;

	root = json_loadb(config, len, 0, &je);
	if (!root)
		return sif_err_set(err, SIF_EFORMAT, "image config: not valid JSON (line %d: %s)",
		                   je.line, je.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return sif_err_set(err, SIF_EFORMAT, "image config: not a JSON object");
	}
	/* the texts first: a config they cannot be made from changes nothing */
	runscript = meta_runscript(root, err);
	env = runscript ? meta_env_script(root, err) : NULL;
	labels = env ? meta_labels_json(root, err) : NULL;
	json_decref(root);
	if (!labels) {
		r = err && err->code ? -err->code : -ENOMEM;
		goto out;
	}

	if ((r = ensure_dir(t, t->root, ".singularity.d", time, &sd, err)) < 0 ||
	    (r = ensure_dir(t, sd, "env", time, &envd, err)) < 0 ||
	    (r = ensure_dir(t, sd, "libs", time, &libs, err)) < 0 ||
	    (r = add_file(t, out, sd, "runscript", 0755, runscript, time, err)) < 0 ||
	    (r = add_file(t, out, sd, "labels.json", 0644, labels, time, err)) < 0 ||
	    (r = add_file(t, out, envd, "01-base.sh", 0755, base01_sh, time, err)) < 0 ||
	    (r = add_file(t, out, envd, "10-docker2singularity.sh", 0755, env, time, err)) < 0 ||
	    (r = add_file(t, out, envd, "90-environment.sh", 0755, environment90_sh, time, err)) < 0 ||
	    (r = add_file(t, out, envd, "95-apps.sh", 0755, apps95_sh, time, err)) < 0 ||
	    (r = add_file(t, out, envd, "99-base.sh", 0755, base99_sh, time, err)) < 0 ||
	    (r = root_link(t, "singularity", ".singularity.d/runscript", time, err)) < 0 ||
	    (r = root_link(t, "environment", ".singularity.d/env/90-environment.sh", time, err)) < 0)
		goto out;
	r = 0;
out:
	free(runscript);
	free(env);
	free(labels);
	return r;
}

/* ---- mount points --------------------------------------------------------- */

static const struct {
	const char *path;
	uint32_t mode;
} mountpoints[] = {
	{"proc", S_IFDIR | 0755},
	{"sys", S_IFDIR | 0755},
	{"dev", S_IFDIR | 0755},
	{"tmp", S_IFDIR | 01777},
	{"var/tmp", S_IFDIR | 01777},
	{"home", S_IFDIR | 0755},
	{"etc/passwd", S_IFREG | 0644},
	{"etc/group", S_IFREG | 0644},
	{"etc/hosts", S_IFREG | 0644},
	{"etc/resolv.conf", S_IFREG | 0644},
};

/* PATH (relative to the root) made as MODE when nothing is there; missing
 * parents made as directories.  A parent that is not a directory (a symlink
 * above all) stops it: no path is made through a link, the launcher
 * resolves such paths itself. */
static int ensure_path(struct tree *t, struct sqfs_out *out, const char *path, uint32_t mode,
                       int64_t time, struct sif_err *err)
{
	struct tree_node *dir = t->root, *n;
	char buf[64], *save = NULL, *name, *next;
	int r;

	snprintf(buf, sizeof(buf), "%s", path);
	for (name = strtok_r(buf, "/", &save); name; name = next) {
		next = strtok_r(NULL, "/", &save);
		n = entry(dir, name);
		if (next) {
			if (!n && (r = make_node(t, dir, name, S_IFDIR | 0755, time, &n, err)) < 0)
				return r;
			if (!is_dir(n))
				return 0;
			dir = n;
			continue;
		}
		if (n)
			return 0;   /* there, as whatever it is (a dangling symlink too) */
		if ((r = make_node(t, dir, name, mode, time, &n, err)) < 0)
			return r;
		if (S_ISREG(mode) && (r = write_data(out, n->inode, "", 0, err)) < 0) {
			sif_err_prefix(err, "writing /%s: ", path);
			return r;
		}
	}
	return 0;
}

int meta_ensure_mountpoints(struct tree *t, struct sqfs_out *out, int64_t time,
                            struct sif_err *err)
{
	for (size_t i = 0; i < sizeof(mountpoints) / sizeof(mountpoints[0]); i++) {
		int r = ensure_path(t, out, mountpoints[i].path, mountpoints[i].mode, time, err);
		if (r < 0)
			return r;
	}
	return 0;
}
