/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Image sources (source.h): an OCI image layout (a directory, or a tar of
 * one), or the output of "docker save".  The JSON documents are read
 * whole, verified against their descriptors and parsed strictly; layers
 * are not read here at all: each becomes a byte range of an open file
 * that the layer applier streams (and verifies) later.
 *
 * Everything in an image is treated as hostile: digests must be sha256 and
 * well formed before they become paths, archive members are found through
 * an index of the whole tar that refuses ambiguous (duplicate), absolute,
 * "..", sparse and non-regular members, and every size is checked against
 * what the descriptor or the tar header promised.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "digest.h"
#include "io.h"
#include "source.h"

#define MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"

#define ANN_REF_NAME   "org.opencontainers.image.ref.name"
#define ANN_IMAGE_NAME "io.containerd.image.name"

#define MAX_NESTING     4        /* indexes within indexes */
#define MAX_MEMBERS     200000   /* members of an archive we index */
#define MAX_NAME        4096     /* longest member name or path we use */
#define MAX_LINK_HOPS   16       /* links followed inside an archive */
#define MAX_SMALL_JSON  4096     /* oci-layout */
#define QMAX            100      /* quoted strings in messages */

static const struct {
	const char *type;
	enum img_comp comp;
} layer_types[] = {
	{ "application/vnd.oci.image.layer.v1.tar", IMG_COMP_NONE },
	{ "application/vnd.oci.image.layer.v1.tar+gzip", IMG_COMP_GZIP },
	{ "application/vnd.oci.image.layer.v1.tar+zstd", IMG_COMP_ZSTD },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar", IMG_COMP_NONE },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", IMG_COMP_GZIP },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", IMG_COMP_ZSTD },
	{ "application/vnd.docker.image.rootfs.diff.tar", IMG_COMP_NONE },
	{ "application/vnd.docker.image.rootfs.diff.tar.gzip", IMG_COMP_GZIP },
	{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", IMG_COMP_GZIP },
};

/* ---- small helpers ------------------------------------------------------ */

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* S made fit for a one-line message: printable ASCII kept, any other byte
 * shown as '?', cut with "..." to fit N bytes. */
static const char *quote(char *buf, size_t n, const char *s)
{
	size_t i = 0;

	if (!s)
		s = "(null)";
	for (; *s && i + 1 < n; s++)
		buf[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[i] = '\0';
	if (*s && n >= 4)
		memcpy(buf + n - 4, "...", 4);
	return buf;
}

int img_digest_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0)
		return 0;
	for (int i = 7; i < IMG_DIGEST_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[IMG_DIGEST_LEN] == '\0';
}

static enum img_mtype mtype_of(const char *mt)
{
	if (streq(mt, MT_OCI_INDEX) || streq(mt, MT_DOCKER_LIST))
		return IMG_MT_INDEX;
	if (streq(mt, MT_OCI_MANIFEST) || streq(mt, MT_DOCKER_MANIFEST))
		return IMG_MT_MANIFEST;
	return IMG_MT_OTHER;
}

int img_layer_media_type(const char *media_type, enum img_comp *comp)
{
	for (size_t i = 0; i < sizeof(layer_types) / sizeof(layer_types[0]); i++)
		if (streq(media_type, layer_types[i].type)) {
			*comp = layer_types[i].comp;
			return 0;
		}
	return -1;
}

/* "blobs/sha256/HEX" of a valid DIGEST */
static void blob_path(char out[96], const char *digest)
{
	snprintf(out, 96, "blobs/sha256/%.64s", digest + 7);
}

/* A path in a docker-archive manifest: relative, no ".." component. */
static bool rel_path_ok(const char *p)
{
	size_t len = strlen(p);

	if (!len || len > MAX_NAME || p[0] == '/')
		return false;
	for (const char *c = p; *c; ) {
		const char *e = strchrnul(c, '/');
		if (e - c == 2 && c[0] == '.' && c[1] == '.')
			return false;
		c = *e ? e + 1 : e;
	}
	return true;
}

/* ---- JSON helpers --------------------------------------------------------
 * CTX, in the messages, is "" or "layer 2: ". */

static int json_parse(const void *buf, size_t len, json_t **out, struct sif_err *err)
{
	json_error_t je;
	char q[QMAX];

	*out = NULL;
	if (len > IMG_MAX_JSON)
		return sif_err_set(err, SIF_EFORMAT, "%zu bytes of JSON, more than the limit of %u",
		                   len, IMG_MAX_JSON);
	/* strict: a key given twice is refused, since readers disagree on
	 * which of the two counts; so is anything after the document */
	*out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!*out)
		return sif_err_set(err, SIF_EFORMAT, "invalid JSON (line %d, column %d): %s", je.line,
		                   je.column, quote(q, sizeof(q), je.text));
	return 0;
}

/* Absent and null are the same for optional members. */
static json_t *member(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_null(v) ? NULL : v;
}

static int get_str(json_t *o, const char *key, const char *ctx, bool required, const char **out,
                   struct sif_err *err)
{
	json_t *v = member(o, key);

	*out = NULL;
	if (!v)
		return required ? sif_err_set(err, SIF_EFORMAT, "%s\"%s\" is missing", ctx, key) : 0;
	if (!json_is_string(v))
		return sif_err_set(err, SIF_EFORMAT, "%s\"%s\" is not a string", ctx, key);
	*out = json_string_value(v);
	return 0;
}

static int get_size(json_t *o, const char *key, const char *ctx, int64_t *out,
                    struct sif_err *err)
{
	json_t *v = member(o, key);

	if (!v)
		return sif_err_set(err, SIF_EFORMAT, "%s\"%s\" is missing", ctx, key);
	if (!json_is_integer(v))
		return sif_err_set(err, SIF_EFORMAT, "%s\"%s\" is not an integer", ctx, key);
	if (json_integer_value(v) < 0)
		return sif_err_set(err, SIF_EFORMAT, "%s\"%s\" is negative", ctx, key);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int get_digest(json_t *o, const char *key, const char *ctx, char out[IMG_DIGEST_LEN + 1],
                      struct sif_err *err)
{
	const char *s;
	char q[QMAX];
	int r = get_str(o, key, ctx, true, &s, err);

	if (r < 0)
		return r;
	if (!img_digest_valid(s))
		return sif_err_set(err, SIF_EFORMAT, "%s%s \"%s\" is not a sha256 digest (\"sha256:\" "
		                   "and 64 lowercase hex digits)", ctx, key, quote(q, sizeof(q), s));
	memcpy(out, s, IMG_DIGEST_LEN + 1);
	return 0;
}

static int dup_str(const char *s, char **out, struct sif_err *err)
{
	*out = NULL;
	if (s && !(*out = strdup(s)))
		return sif_err_set(err, ENOMEM, "out of memory");
	return 0;
}

static int schema_version_2(json_t *root, struct sif_err *err)
{
	json_t *v = member(root, "schemaVersion");

	if (!v)
		return sif_err_set(err, SIF_EFORMAT, "\"schemaVersion\" is missing");
	if (!json_is_integer(v) || json_integer_value(v) != 2)
		return sif_err_set(err, SIF_EFORMAT, "\"schemaVersion\" is not 2");
	return 0;
}

/* ---- descriptors, indexes, manifests, configs ---------------------------- */

static void desc_free(struct img_desc *d)
{
	free(d->media_type);
	free(d->ref_name);
	free(d->image_name);
	free(d->os);
	free(d->arch);
	free(d->variant);
	memset(d, 0, sizeof(*d));
}

static int desc_parse(json_t *o, const char *ctx, struct img_desc *d, struct sif_err *err)
{
	const char *mt, *ref, *name, *os = NULL, *arch = NULL, *variant = NULL;
	json_t *ann, *plat;
	int r;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(o))
		return sif_err_set(err, SIF_EFORMAT, "%sis not a JSON object", ctx);
	if ((r = get_str(o, "mediaType", ctx, true, &mt, err)) < 0 ||
	    (r = get_digest(o, "digest", ctx, d->digest, err)) < 0 ||
	    (r = get_size(o, "size", ctx, &d->size, err)) < 0)
		return r;
	ann = member(o, "annotations");
	if (ann && !json_is_object(ann))
		return sif_err_set(err, SIF_EFORMAT, "%s\"annotations\" is not a JSON object", ctx);
	if ((r = get_str(ann, ANN_REF_NAME, ctx, false, &ref, err)) < 0 ||
	    (r = get_str(ann, ANN_IMAGE_NAME, ctx, false, &name, err)) < 0)
		return r;
	plat = member(o, "platform");
	if (plat) {
		if (!json_is_object(plat))
			return sif_err_set(err, SIF_EFORMAT, "%s\"platform\" is not a JSON object", ctx);
		if ((r = get_str(plat, "architecture", ctx, true, &arch, err)) < 0 ||
		    (r = get_str(plat, "os", ctx, true, &os, err)) < 0 ||
		    (r = get_str(plat, "variant", ctx, false, &variant, err)) < 0)
			return r;
	}
	d->mtype = mtype_of(mt);
	if ((r = dup_str(mt, &d->media_type, err)) < 0 ||
	    (r = dup_str(ref, &d->ref_name, err)) < 0 ||
	    (r = dup_str(name, &d->image_name, err)) < 0 ||
	    (r = dup_str(os, &d->os, err)) < 0 ||
	    (r = dup_str(arch, &d->arch, err)) < 0 ||
	    (r = dup_str(variant, &d->variant, err)) < 0)
		desc_free(d);
	return r;
}

void img_index_free(struct img_index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		desc_free(&ix->m[i]);
	free(ix->m);
	ix->m = NULL;
	ix->n = 0;
}

/* BUF as a JSON object of schemaVersion 2 whose mediaType, when it has
 * one, is of kind WANT (WHAT in messages): *ROOT to decref, *MT or NULL. */
static int parse_v2(const void *buf, size_t len, enum img_mtype want, const char *what,
                    json_t **root, const char **mt, struct sif_err *err)
{
	char q[QMAX];
	int r;

	if ((r = json_parse(buf, len, root, err)) < 0)
		return r;
	if (!json_is_object(*root))
		return sif_err_set(err, SIF_EFORMAT, "is not a JSON object");
	if ((r = schema_version_2(*root, err)) < 0 ||
	    (r = get_str(*root, "mediaType", "", false, mt, err)) < 0)
		return r;
	if (*mt && mtype_of(*mt) != want)
		return sif_err_set(err, SIF_EFORMAT, "media type \"%s\" is not %s",
		                   quote(q, sizeof(q), *mt), what);
	return 0;
}

/* The array KEY of OBJ, or an error. */
static int get_array(json_t *obj, const char *key, json_t **arr, struct sif_err *err)
{
	*arr = member(obj, key);
	if (!json_is_array(*arr))
		return sif_err_set(err, SIF_EFORMAT, "\"%s\" is %s", key,
		                   *arr ? "not an array" : "missing");
	return 0;
}

int img_parse_index(const void *buf, size_t len, struct img_index *ix, struct sif_err *err)
{
	json_t *root, *arr;
	const char *mt;
	char ctx[48];
	size_t n;
	int r;

	memset(ix, 0, sizeof(*ix));
	root = NULL;
	if ((r = parse_v2(buf, len, IMG_MT_INDEX, "an image index", &root, &mt, err)) < 0 ||
	    (r = get_array(root, "manifests", &arr, err)) < 0)
		goto out;
	n = json_array_size(arr);
	ix->m = calloc(n ? n : 1, sizeof(*ix->m));
	if (!ix->m) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(ctx, sizeof(ctx), "manifest %zu: ", i + 1);
		if ((r = desc_parse(json_array_get(arr, i), ctx, &ix->m[i], err)) < 0)
			goto out;
		ix->n++;
	}
	r = 0;
out:
	json_decref(root);
	if (r < 0)
		img_index_free(ix);
	return r;
}

/* A list of names for a message: "a, b, c, ...". */
struct namelist {
	char s[480];
	size_t n;
	bool cut;
};

static void list_add(struct namelist *l, const char *item)
{
	char q[64];
	size_t k;

	if (l->cut)
		return;
	quote(q, sizeof(q), item);
	k = strlen(q);
	if (l->n + k + 2 + 5 >= sizeof(l->s)) {
		memcpy(l->s + l->n, ", ...", 6);
		l->n += 5;
		l->cut = true;
		return;
	}
	l->n += (size_t)snprintf(l->s + l->n, sizeof(l->s) - l->n, "%s%s", l->n ? ", " : "", q);
}

static void platform_name(const struct img_desc *d, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s%s%s", d->os, d->arch, d->variant ? "/" : "",
	         d->variant ? d->variant : "");
}

/* How well D's platform fits linux/ARCH[/VARIANT]: 0 not at all; 2 exact
 * (no variant, or the architecture's usual one, counts as the usual one). */
static int platform_score(const struct img_desc *d, const char *arch, const char *variant)
{
	const char *v, *usual;

	if (!streq(d->os, "linux") || !streq(d->arch, arch))
		return 0;
	v = d->variant ? d->variant : "";
	usual = streq(arch, "arm64") ? "v8" : streq(arch, "arm") ? "v7" : "";
	if (!*v)
		v = usual;
	if (variant)
		return streq(v, variant) || (!*variant && streq(v, usual)) ? 2 : 0;
	return streq(v, usual) ? 2 : 1;
}

static bool tag_matches(const struct img_desc *d, const char *tag)
{
	return !tag || streq(d->ref_name, tag) || streq(d->image_name, tag);
}

int img_index_select(const struct img_index *ix, const char *tag, const char *arch, bool nested,
                     struct sif_err *err)
{
	struct namelist l = {0};
	char a[64], q[QMAX], p[160];
	const char *variant = NULL, *slash;
	size_t ncand = 0, first = 0;
	int best = -1, best_score = 0;

	for (size_t i = 0; i < ix->n; i++)
		if (tag_matches(&ix->m[i], tag) && ncand++ == 0)
			first = i;
	if (ncand == 0) {
		for (size_t i = 0; i < ix->n; i++)
			if (ix->m[i].ref_name)
				list_add(&l, ix->m[i].ref_name);
		if (!tag)
			return sif_err_set(err, SIF_EFORMAT, "holds no image");
		return sif_err_advise(err, ENOENT, "no image is tagged \"%s\" (%s%s)",
		                      quote(q, sizeof(q), tag), l.n ? "tags: " : "none has a tag",
		                      l.s);
	}
	/* one candidate: taken, unless it says it is for another platform
	 * where we must choose by platform */
	if (ncand == 1 && (!nested || !arch || !ix->m[first].arch))
		return (int)first;

	if (!arch && nested)
		return sif_err_set(err, EINVAL, "holds %zu images for different platforms, and no "
		                   "architecture was given to choose one", ncand);
	if (!arch) {
		for (size_t i = 0; i < ix->n; i++)
			if (ix->m[i].ref_name)
				list_add(&l, ix->m[i].ref_name);
		return sif_err_advise(err, EINVAL, "holds %zu images; name one by its tag (%s%s)",
		                      ncand, l.n ? "tags: " : "none has a tag", l.s);
	}
	if (strlen(arch) >= sizeof(a))
		return sif_err_set(err, EINVAL, "architecture name \"%s\" is too long",
		                   quote(q, sizeof(q), arch));
	strcpy(a, arch);
	if ((slash = strchr(a, '/'))) {
		a[slash - a] = '\0';
		variant = a + (slash - a) + 1;
	}
	for (size_t i = 0; i < ix->n; i++) {
		int sc;
		if (!tag_matches(&ix->m[i], tag) || ix->m[i].mtype == IMG_MT_OTHER)
			continue;
		sc = platform_score(&ix->m[i], a, variant);
		if (sc > best_score) {
			best_score = sc;
			best = (int)i;
		}
	}
	if (best >= 0)
		return best;

	for (size_t i = 0; i < ix->n; i++) {
		const struct img_desc *d = &ix->m[i];
		/* "unknown/unknown" are build attestations, not images */
		if (!tag_matches(d, tag) || !d->os || streq(d->os, "unknown"))
			continue;
		platform_name(d, p, sizeof(p));
		list_add(&l, p);
	}
	if (!l.n && !nested) {
		/* several images, none saying what platform it is for */
		for (size_t i = 0; i < ix->n; i++)
			if (ix->m[i].ref_name)
				list_add(&l, ix->m[i].ref_name);
		return sif_err_advise(err, EINVAL, "holds %zu images; name one by its tag (%s%s)",
		                      ncand, l.n ? "tags: " : "none has a tag", l.s);
	}
	return sif_err_advise(err, ENOENT, "has no image for linux/%s (%s%s)",
	                      quote(q, sizeof(q), arch), l.n ? "it has: " : "no platform is named",
	                      l.s);
}

void img_manifest_free(struct img_manifest *m)
{
	desc_free(&m->config);
	free(m->layers);
	m->layers = NULL;
	m->nlayers = 0;
}

int img_parse_manifest(const void *buf, size_t len, const char *media_type,
                       struct img_manifest *m, struct sif_err *err)
{
	json_t *root, *arr;
	const char *mt;
	char q[QMAX], q2[QMAX], ctx[48];
	size_t n;
	int r;

	memset(m, 0, sizeof(*m));
	root = NULL;
	if ((r = parse_v2(buf, len, IMG_MT_MANIFEST, "an image manifest", &root, &mt, err)) < 0)
		goto out;
	if (mt && media_type && strcmp(mt, media_type) != 0) {
		r = sif_err_set(err, SIF_EFORMAT, "says it is \"%s\", but its descriptor says \"%s\"",
		                quote(q, sizeof(q), mt), quote(q2, sizeof(q2), media_type));
		goto out;
	}
	if (!mt && member(root, "manifests")) {
		r = sif_err_set(err, SIF_EFORMAT, "is an image index, not an image manifest");
		goto out;
	}
	if ((r = desc_parse(member(root, "config"), "config: ", &m->config, err)) < 0) {
		if (!member(root, "config"))
			r = sif_err_set(err, SIF_EFORMAT, "\"config\" is missing");
		goto out;
	}
	if (!streq(m->config.media_type, MT_OCI_CONFIG) &&
	    !streq(m->config.media_type, MT_DOCKER_CONFIG)) {
		r = sif_err_set(err, SIF_EFORMAT, "config media type \"%s\" is not that of a container "
		                "image config", quote(q, sizeof(q), m->config.media_type));
		goto out;
	}
	if (m->config.size > (int64_t)IMG_MAX_JSON) {
		r = sif_err_set(err, SIF_EFORMAT, "config is %lld bytes, more than the limit of %u",
		                (long long)m->config.size, IMG_MAX_JSON);
		goto out;
	}
	if ((r = get_array(root, "layers", &arr, err)) < 0)
		goto out;
	n = json_array_size(arr);
	if (n > IMG_MAX_LAYERS) {
		r = sif_err_set(err, SIF_EFORMAT, "%zu layers, more than the limit of %d", n,
		                IMG_MAX_LAYERS);
		goto out;
	}
	m->layers = calloc(n ? n : 1, sizeof(*m->layers));
	if (!m->layers) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i);
		struct img_layer *l = &m->layers[i];
		snprintf(ctx, sizeof(ctx), "layer %zu: ", i + 1);
		if (!json_is_object(o)) {
			r = sif_err_set(err, SIF_EFORMAT, "%sis not a JSON object", ctx);
			goto out;
		}
		if ((r = get_str(o, "mediaType", ctx, true, &mt, err)) < 0 ||
		    (r = get_digest(o, "digest", ctx, l->digest, err)) < 0 ||
		    (r = get_size(o, "size", ctx, &l->size, err)) < 0)
			goto out;
		if (img_layer_media_type(mt, &l->comp) < 0) {
			r = sif_err_set(err, SIF_EFORMAT, "%smedia type \"%s\" is not that of a tar layer "
			                "(uncompressed, gzip or zstd)", ctx, quote(q, sizeof(q), mt));
			goto out;
		}
		l->fd = -1;
		m->nlayers++;
	}
	r = 0;
out:
	json_decref(root);
	if (r < 0)
		img_manifest_free(m);
	return r;
}

void img_config_free(struct img_config *c)
{
	free(c->diff_ids);
	free(c->os);
	free(c->arch);
	free(c->variant);
	memset(c, 0, sizeof(*c));
	c->created = -1;
}

int img_parse_config(const void *buf, size_t len, struct img_config *c, struct sif_err *err)
{
	json_t *root, *rootfs, *ids;
	const char *type, *created, *os, *arch, *variant;
	char q[QMAX], ctx[48];
	size_t n;
	int r;

	memset(c, 0, sizeof(*c));
	c->created = -1;
	if ((r = json_parse(buf, len, &root, err)) < 0)
		return r;
	if (!json_is_object(root)) {
		r = sif_err_set(err, SIF_EFORMAT, "is not a JSON object");
		goto out;
	}
	rootfs = member(root, "rootfs");
	if (!json_is_object(rootfs)) {
		r = sif_err_set(err, SIF_EFORMAT, "\"rootfs\" is %s",
		                rootfs ? "not a JSON object" : "missing");
		goto out;
	}
	if ((r = get_str(rootfs, "type", "rootfs: ", true, &type, err)) < 0)
		goto out;
	if (strcmp(type, "layers") != 0) {
		r = sif_err_set(err, SIF_EFORMAT, "rootfs: type \"%s\" is not \"layers\"",
		                quote(q, sizeof(q), type));
		goto out;
	}
	ids = member(rootfs, "diff_ids");
	if (!json_is_array(ids)) {
		r = sif_err_set(err, SIF_EFORMAT, "rootfs: \"diff_ids\" is %s",
		                ids ? "not an array" : "missing");
		goto out;
	}
	n = json_array_size(ids);
	if (n > IMG_MAX_LAYERS) {
		r = sif_err_set(err, SIF_EFORMAT, "rootfs: %zu diff_ids, more than the limit of %d", n,
		                IMG_MAX_LAYERS);
		goto out;
	}
	c->diff_ids = calloc(n ? n : 1, sizeof(*c->diff_ids));
	if (!c->diff_ids) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(ids, i));
		snprintf(ctx, sizeof(ctx), "rootfs: diff_id %zu ", i + 1);
		if (!s) {
			r = sif_err_set(err, SIF_EFORMAT, "%sis not a string", ctx);
			goto out;
		}
		if (!img_digest_valid(s)) {
			r = sif_err_set(err, SIF_EFORMAT, "%s\"%s\" is not a sha256 digest (\"sha256:\" and "
			                "64 lowercase hex digits)", ctx, quote(q, sizeof(q), s));
			goto out;
		}
		memcpy(c->diff_ids[i], s, IMG_DIGEST_LEN + 1);
		c->ndiff_ids++;
	}
	if ((r = get_str(root, "created", "", false, &created, err)) < 0 ||
	    (r = get_str(root, "os", "", false, &os, err)) < 0 ||
	    (r = get_str(root, "architecture", "", false, &arch, err)) < 0 ||
	    (r = get_str(root, "variant", "", false, &variant, err)) < 0)
		goto out;
	c->created = img_parse_time(created);
	if ((r = dup_str(os, &c->os, err)) < 0 || (r = dup_str(arch, &c->arch, err)) < 0 ||
	    (r = dup_str(variant, &c->variant, err)) < 0)
		goto out;
	r = 0;
out:
	json_decref(root);
	if (r < 0)
		img_config_free(c);
	return r;
}

void img_docker_manifest_free(struct img_docker_manifest *dm)
{
	for (size_t i = 0; i < dm->n; i++) {
		struct img_docker_image *im = &dm->img[i];
		free(im->config);
		for (size_t k = 0; k < im->ntags; k++)
			free(im->repo_tags[k]);
		free(im->repo_tags);
		for (size_t k = 0; k < im->nlayers; k++)
			free(im->layers[k]);
		free(im->layers);
	}
	free(dm->img);
	dm->img = NULL;
	dm->n = 0;
}

/* The strings of array V (a path each when PATHS) into *OUT, *N. */
static int str_array(json_t *v, const char *ctx, const char *key, bool paths, size_t max,
                     char ***out, size_t *n, struct sif_err *err)
{
	size_t len = json_array_size(v);
	char q[QMAX];

	if (len > max)
		return sif_err_set(err, SIF_EFORMAT, "%s%zu %s, more than the limit of %zu", ctx, len,
		                   key, max);
	*out = calloc(len ? len : 1, sizeof(**out));
	if (!*out)
		return sif_err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < len; i++) {
		const char *s = json_string_value(json_array_get(v, i));
		if (!s)
			return sif_err_set(err, SIF_EFORMAT, "%s%s entry %zu is not a string", ctx, key,
			                   i + 1);
		if (paths && !rel_path_ok(s))
			return sif_err_set(err, SIF_EFORMAT, "%s%s entry %zu \"%s\" is not a relative "
			                   "path inside the archive", ctx, key, i + 1,
			                   quote(q, sizeof(q), s));
		if (!((*out)[i] = strdup(s)))
			return sif_err_set(err, ENOMEM, "out of memory");
		(*n)++;
	}
	return 0;
}

int img_parse_docker_manifest(const void *buf, size_t len, struct img_docker_manifest *dm,
                              struct sif_err *err)
{
	json_t *root;
	char q[QMAX], ctx[48];
	size_t n;
	int r;

	memset(dm, 0, sizeof(*dm));
	if ((r = json_parse(buf, len, &root, err)) < 0)
		return r;
	if (!json_is_array(root)) {
		r = sif_err_set(err, SIF_EFORMAT, "is not a JSON array");
		goto out;
	}
	n = json_array_size(root);
	dm->img = calloc(n ? n : 1, sizeof(*dm->img));
	if (!dm->img) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(root, i), *tags, *layers;
		struct img_docker_image *im = &dm->img[i];
		const char *config;

		dm->n++;
		snprintf(ctx, sizeof(ctx), "image %zu: ", i + 1);
		if (!json_is_object(o)) {
			r = sif_err_set(err, SIF_EFORMAT, "%sis not a JSON object", ctx);
			goto out;
		}
		if ((r = get_str(o, "Config", ctx, true, &config, err)) < 0)
			goto out;
		if (!rel_path_ok(config)) {
			r = sif_err_set(err, SIF_EFORMAT, "%sConfig \"%s\" is not a relative path inside "
			                "the archive", ctx, quote(q, sizeof(q), config));
			goto out;
		}
		if ((r = dup_str(config, &im->config, err)) < 0)
			goto out;
		tags = member(o, "RepoTags");
		if (tags && !json_is_array(tags)) {
			r = sif_err_set(err, SIF_EFORMAT, "%s\"RepoTags\" is not an array", ctx);
			goto out;
		}
		if (tags && (r = str_array(tags, ctx, "RepoTags", false, SIZE_MAX, &im->repo_tags,
		                           &im->ntags, err)) < 0)
			goto out;
		layers = member(o, "Layers");
		if (!json_is_array(layers)) {
			r = sif_err_set(err, SIF_EFORMAT, "%s\"Layers\" is %s", ctx,
			                layers ? "not an array" : "missing");
			goto out;
		}
		if ((r = str_array(layers, ctx, "Layers", true, IMG_MAX_LAYERS, &im->layers,
		                   &im->nlayers, err)) < 0)
			goto out;
	}
	r = 0;
out:
	json_decref(root);
	if (r < 0)
		img_docker_manifest_free(dm);
	return r;
}

/* REF the way Docker normalises a reference: "busybox" is
 * "docker.io/library/busybox:latest".  NULL when out of memory. */
static char *normalise_ref(const char *ref)
{
	const char *slash = strchr(ref, '/'), *last = strrchr(ref, '/');
	const char *domain = "docker.io", *name = ref;
	size_t dlen = 9;
	bool tagged = strchr(last ? last : ref, ':') != NULL;
	char *out;

	if (slash) {
		size_t n = (size_t)(slash - ref);
		/* a first component that looks like a host name is one */
		if (memchr(ref, '.', n) || memchr(ref, ':', n) || (n == 9 && !memcmp(ref, "localhost", 9))) {
			domain = ref;
			dlen = n;
			name = slash + 1;
			if (n == 15 && !memcmp(ref, "index.docker.io", 15)) {
				domain = "docker.io";
				dlen = 9;
			}
		}
	}
	if (asprintf(&out, "%.*s/%s%s%s", (int)dlen, domain,
	             dlen == 9 && !memcmp(domain, "docker.io", 9) && !strchr(name, '/') ?
	             "library/" : "", name, tagged ? "" : ":latest") < 0)
		return NULL;
	return out;
}

int img_docker_select(const struct img_docker_manifest *dm, const char *ref, struct sif_err *err)
{
	struct namelist l = {0};
	char q[QMAX], *want, *end;
	int found = -1;

	for (size_t i = 0; i < dm->n; i++)
		for (size_t k = 0; k < dm->img[i].ntags; k++)
			list_add(&l, dm->img[i].repo_tags[k]);
	if (!dm->n)
		return sif_err_set(err, SIF_EFORMAT, "manifest.json lists no image");
	if (!ref) {
		if (dm->n == 1)
			return 0;
		return sif_err_advise(err, EINVAL, "holds %zu images; name one as FILE:REPO:TAG or "
		                      "FILE:@N (%s%s)", dm->n, l.n ? "tags: " : "none has a tag", l.s);
	}
	if (ref[0] == '@') {
		unsigned long k;
		errno = 0;
		k = strtoul(ref + 1, &end, 10);
		if (ref[1] < '0' || ref[1] > '9' || *end || errno || k >= dm->n)
			return sif_err_advise(err, ENOENT, "there is no image %s: it holds %zu, from @0 "
			                      "to @%zu", quote(q, sizeof(q), ref), dm->n, dm->n - 1);
		return (int)k;
	}
	if (!(want = normalise_ref(ref)))
		return sif_err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < dm->n; i++)
		for (size_t k = 0; k < dm->img[i].ntags; k++) {
			char *have = normalise_ref(dm->img[i].repo_tags[k]);
			bool same = have && strcmp(have, want) == 0;
			free(have);
			if (same && found >= 0 && (size_t)found != i) {
				free(want);
				return sif_err_set(err, SIF_EFORMAT, "several images are tagged \"%s\"",
				                   quote(q, sizeof(q), ref));
			}
			if (same)
				found = (int)i;
		}
	free(want);
	if (found < 0)
		return sif_err_advise(err, ENOENT, "no image is tagged \"%s\" (%s%s)",
		                      quote(q, sizeof(q), ref), l.n ? "tags: " : "none has a tag", l.s);
	return found;
}

int img_parse_oci_layout(const void *buf, size_t len, struct sif_err *err)
{
	json_t *root;
	const char *v;
	char q[QMAX];
	int r;

	if ((r = json_parse(buf, len, &root, err)) < 0)
		return r;
	if (!json_is_object(root))
		r = sif_err_set(err, SIF_EFORMAT, "is not a JSON object");
	else if ((r = get_str(root, "imageLayoutVersion", "", true, &v, err)) == 0 &&
	         strcmp(v, "1.0.0") != 0)
		r = sif_err_set(err, SIF_EFORMAT, "imageLayoutVersion \"%s\" is not 1.0.0",
		                quote(q, sizeof(q), v));
	json_decref(root);
	return r;
}

/* ---- RFC 3339 times ---------------------------------------------------- */

static bool digits(const char **s, int n, int64_t *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*s)++) {
		if (**s < '0' || **s > '9')
			return false;
		*v = *v * 10 + (**s - '0');
	}
	return true;
}

static bool expect(const char **s, char c)
{
	if (**s != c)
		return false;
	(*s)++;
	return true;
}

/* Days from 1970-01-01 to Y-M-D of the proleptic Gregorian calendar: count
 * years from March, so that the leap day is the last day of a year. */
static int64_t days_since_epoch(int64_t y, int64_t m, int64_t d)
{
	int64_t yy = m <= 2 ? y - 1 : y;             /* year starting in March */
	int64_t mm = m <= 2 ? m + 9 : m - 3;         /* 0 = March ... 11 = February */
	int64_t yday = (153 * mm + 2) / 5 + d - 1;   /* days since 1 March */
	int64_t days = yy * 365 + yy / 4 - yy / 100 + yy / 400 + yday;
	/* the same count for 1970-01-01 (1969 from March, 306 days in) */
	return days - (1969 * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400 + 306);
}

int64_t img_parse_time(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t y, mo, d, h, mi, sec, oh = 0, om = 0, off = 0, t;

	if (!s)
		return -1;
	if (!digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) || !expect(&s, '-') ||
	    !digits(&s, 2, &d) || (*s != 'T' && *s != 't') || !(s++, digits(&s, 2, &h)) ||
	    !expect(&s, ':') || !digits(&s, 2, &mi) || !expect(&s, ':') || !digits(&s, 2, &sec))
		return -1;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1;
		if (!digits(&s, 2, &oh) || !expect(&s, ':') || !digits(&s, 2, &om) || oh > 23 ||
		    om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	t = days_since_epoch(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	return t < 0 ? -1 : t;
}

/* ---- tar archives: an index of every member ------------------------------ */

enum { M_REG, M_DIR, M_SYMLINK, M_HARDLINK, M_OTHER };

struct member {
	char *name;        /* without "." or empty components, or a leading or trailing '/' */
	char *link;        /* symlink or hardlink target, as stored */
	uint64_t off;      /* of the data in arc.fd */
	uint64_t size;
	unsigned char type;
	bool sparse;
	bool unsafe;       /* stored with an absolute name, a ".." or too long a name */
};

struct arc {
	const char *file;
	int fd;            /* the tar itself, or the spool with its members' data */
	uint64_t fsize;    /* of fd */
	bool spooled;
	bool has_manifest; /* a top-level manifest.json (for detection) */
	struct member *m;
	size_t n, cap;
};

static void arc_free(struct arc *A)
{
	for (size_t i = 0; i < A->n; i++) {
		free(A->m[i].name);
		free(A->m[i].link);
	}
	free(A->m);
	A->m = NULL;
	A->n = A->cap = 0;
	if (A->fd >= 0)
		close(A->fd);
	A->fd = -1;
}

/* NAME without "." and empty components; *UNSAFE when it was absolute or
 * has a ".." component.  NULL when out of memory. */
static char *norm_name(const char *in, bool *unsafe)
{
	char *out = malloc(strlen(in) + 1), *o = out;

	if (!out)
		return NULL;
	*unsafe = in[0] == '/';
	for (const char *p = in; *p; ) {
		const char *e;
		size_t len;
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		len = (size_t)(e - p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			*unsafe = true;
		if (len && !(len == 1 && p[0] == '.')) {
			if (o != out)
				*o++ = '/';
			memcpy(o, p, len);
			o += len;
		}
		p = e;
	}
	*o = '\0';
	return out;
}

/* Resolve "." and ".." of the relative path IN into OUT: false when it
 * climbs above the top of the archive or does not fit. */
static bool resolve_rel(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	for (const char *p = in; *p; ) {
		const char *e;
		size_t len;
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		len = (size_t)(e - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (!o)
				return false;
			while (o && out[o - 1] != '/')
				o--;
			if (o)
				o--;
		} else if (len && !(len == 1 && p[0] == '.')) {
			if (o + len + 2 > outsz)
				return false;
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = e;
	}
	out[o] = '\0';
	return true;
}

static int member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct member *)a)->name, ((const struct member *)b)->name);
}

static const struct member *arc_find(const struct arc *A, const char *name)
{
	struct member key = { .name = (char *)name };
	return A->n ? bsearch(&key, A->m, A->n, sizeof(*A->m), member_cmp) : NULL;
}

static const char *tmpdir(void)
{
	const char *d = getenv("SIF_TMPDIR");
	if (!d || !*d)
		d = getenv("TMPDIR");
	return d && *d ? d : "/tmp";
}

/* An anonymous temporary file in SIF_TMPDIR, TMPDIR or /tmp. */
static int spool_open(const char *file, struct sif_err *err)
{
	const char *dir = tmpdir();
	char *path;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	/* O_TMPFILE is not on every file system: a named file, unlinked at once */
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		if (asprintf(&path, "%s/sif-spool.XXXXXX", dir) < 0)
			return sif_err_set(err, ENOMEM, "out of memory");
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
		free(path);
	}
	if (fd < 0)
		return sif_err_advise(err, errno, "%s: a temporary file in %s (to unpack the archive "
		                      "into): %s (set SIF_TMPDIR to a writable directory)", file, dir,
		                      strerror(errno));
	return fd;
}

static int arc_push(struct arc *A, struct archive_entry *e, const char *name,
                    struct sif_err *err)
{
	struct member *m;
	const char *hl = archive_entry_hardlink(e), *sl = archive_entry_symlink(e);

	if (A->n == MAX_MEMBERS)
		return sif_err_set(err, SIF_EFORMAT, "%s: more than %d members: not an image archive",
		                   A->file, MAX_MEMBERS);
	if (A->n == A->cap) {
		size_t cap = A->cap ? 2 * A->cap : 64;
		struct member *nm = realloc(A->m, cap * sizeof(*nm));
		if (!nm)
			return sif_err_set(err, ENOMEM, "out of memory");
		A->m = nm;
		A->cap = cap;
	}
	m = &A->m[A->n];
	memset(m, 0, sizeof(*m));
	/* no image archive needs longer names; storing them would let a
	 * small compressed archive claim gigabytes of names */
	if (strlen(name) > MAX_NAME)
		return sif_err_set(err, SIF_EFORMAT, "%s: a member name is longer than %d bytes: not "
		                   "an image archive", A->file, MAX_NAME);
	if (!(m->name = norm_name(name, &m->unsafe)))
		return sif_err_set(err, ENOMEM, "out of memory");
	A->n++;
	if (hl) {
		m->type = M_HARDLINK;
	} else {
		switch (archive_entry_filetype(e)) {
		case AE_IFREG: m->type = M_REG; break;
		case AE_IFDIR: m->type = M_DIR; break;
		case AE_IFLNK: m->type = sl ? M_SYMLINK : M_OTHER; break;
		default: m->type = M_OTHER; break;
		}
	}
	if ((hl || m->type == M_SYMLINK) && !(m->link = strdup(hl ? hl : sl)))
		return sif_err_set(err, ENOMEM, "out of memory");
	m->size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0 ?
	          (uint64_t)archive_entry_size(e) : 0;
	m->sparse = archive_entry_sparse_count(e) > 0;
	return 0;
}

/* Copy the data of the current member into the spool at A->fsize. */
static int arc_spool(struct arc *A, struct archive *a, struct member *m, char *buf,
                     size_t bufsz, struct sif_err *err)
{
	uint64_t done = 0;
	la_ssize_t n;
	int r;
	char q[QMAX];

	m->off = A->fsize;
	while ((n = archive_read_data(a, buf, bufsz)) > 0) {
		if ((r = sif_pwrite_full(A->fd, buf, (size_t)n, (int64_t)(m->off + done))) < 0) {
			if (r == -ENOSPC || r == -EDQUOT)
				return sif_err_advise(err, -r, "%s: unpacking into %s: %s (set SIF_TMPDIR to "
				                      "a directory with room, or decompress %s first)",
				                      A->file, tmpdir(), strerror(-r), A->file);
			return sif_err_set(err, -r, "%s: unpacking into %s: %s", A->file, tmpdir(),
			                   strerror(-r));
		}
		done += (uint64_t)n;
	}
	if (n < 0) {
		const char *why = archive_error_string(a);
		return sif_err_set(err, SIF_EFORMAT, "%s: member %s: %s", A->file,
		                   quote(q, sizeof(q), m->name), why ? why : "read error");
	}
	if (done != m->size)
		return sif_err_set(err, SIF_EFORMAT, "%s: member %s has %llu bytes, not the %llu its "
		                   "header says", A->file, quote(q, sizeof(q), m->name),
		                   (unsigned long long)done, (unsigned long long)m->size);
	A->fsize += done;
	return 0;
}

/*
 * Read the tar on FD (which A takes over) once, indexing every member.
 *
 * A plain tar in a regular file is used in place: a member's data starts
 * where libarchive stands right after reading its header
 * (archive_filter_bytes(a, 0) counts the bytes consumed, headers and pax or
 * GNU long-name records included; checked against Python's
 * tarfile.TarInfo.offset_data on ustar, GNU and pax archives).
 *
 * A compressed tar ("docker save | gzip") has no such offsets, and a pipe
 * cannot be read twice: the data of each regular member is then spooled
 * into one anonymous temporary file (O_TMPFILE in SIF_TMPDIR, TMPDIR or
 * /tmp) while the archive is read, and the members are ranges of that
 * file.  Which members the image needs is known only once manifest.json or
 * index.json is read, and those often come last, so every regular member
 * is spooled: this costs as much room as the uncompressed archive.
 *
 * With NAMES_ONLY (detection) no data is kept, and reading stops at a
 * top-level manifest.json.
 */
static int arc_scan(struct arc *A, int fd, const char *file, bool names_only,
                    struct sif_err *err)
{
	struct archive *a;
	struct archive_entry *e;
	struct stat st;
	char *buf = NULL, q[QMAX];
	bool first = true;
	int r;

	memset(A, 0, sizeof(*A));
	A->file = file;
	A->fd = fd;
	if (fstat(fd, &st) < 0) {
		int errnum = errno;
		arc_free(A);
		return sif_err_set(err, errnum, "%s: %s", file, strerror(errnum));
	}
	if (!(a = archive_read_new())) {
		arc_free(A);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	/* only tar, and only the compressions an image archive plausibly has */
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_bzip2(a);
	if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
		const char *why = archive_error_string(a);
		r = sif_err_set(err, SIF_EFORMAT, "%s: not readable as a tar archive: %s", file,
		                why ? why : "unknown error");
		goto out;
	}
	for (;;) {
		const char *name;
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			const char *why = archive_error_string(a);
			r = sif_err_set(err, SIF_EFORMAT, "%s: %s%s", file,
			                first ? "not readable as a tar archive: " : "damaged tar archive: ",
			                why ? why : "unknown error");
			goto out;
		}
		if (first) {
			first = false;
			if ((archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_TAR) {
				r = sif_err_set(err, SIF_EFORMAT, "%s: not a tar archive", file);
				goto out;
			}
			if (!names_only && (archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE ||
			                    !S_ISREG(st.st_mode))) {
				if ((r = spool_open(file, err)) < 0)
					goto out;
				A->fd = r;
				A->spooled = true;
				if (!(buf = malloc(1 << 16))) {
					r = sif_err_set(err, ENOMEM, "out of memory");
					goto out;
				}
			}
		}
		name = archive_entry_pathname(e);
		if (!name)
			name = archive_entry_pathname_utf8(e);
		if (!name)
			continue;   /* it cannot be looked up */
		if ((r = arc_push(A, e, name, err)) < 0)
			goto out;
		if (names_only) {
			if (strcmp(A->m[A->n - 1].name, "manifest.json") == 0) {
				A->has_manifest = true;
				break;
			}
			continue;
		}
		struct member *m = &A->m[A->n - 1];
		if (m->type != M_REG || m->sparse)
			continue;
		if (A->spooled) {
			if ((r = arc_spool(A, a, m, buf, 1 << 16, err)) < 0)
				goto out;
		} else {
			int64_t off = archive_filter_bytes(a, 0);
			if (off < 0) {
				r = sif_err_set(err, SIF_EFORMAT, "%s: member %s: no data offset", file,
				                quote(q, sizeof(q), m->name));
				goto out;
			}
			m->off = (uint64_t)off;
		}
	}
	if (!A->spooled)
		A->fsize = (uint64_t)st.st_size;
	qsort(A->m, A->n, sizeof(*A->m), member_cmp);
	/* the same name twice: tar tools disagree on which one counts (GNU tar
	 * extracts both, in order), so the archive is ambiguous and refused;
	 * only repeated directories are harmless */
	for (size_t i = 1; i < A->n && !names_only; i++)
		if (!strcmp(A->m[i].name, A->m[i - 1].name) &&
		    (A->m[i].type != M_DIR || A->m[i - 1].type != M_DIR)) {
			r = sif_err_set(err, SIF_EFORMAT, "%s: member %s appears more than once (an "
			                "ambiguous archive)", file, quote(q, sizeof(q), A->m[i].name));
			goto out;
		}
	r = 0;
out:
	archive_read_free(a);
	free(buf);
	if (A->spooled)
		close(fd);   /* everything is in the spool */
	if (r < 0)
		arc_free(A);
	return r;
}

/* The regular member PATH (a relative path without ".."), following links
 * inside the archive.  WHAT, when not NULL, is who names it ("layer 2"). */
static int arc_resolve(const struct arc *A, const char *path, const char *what,
                       const struct member **out, struct sif_err *err)
{
	char cur[MAX_NAME + 1], tmp[2 * MAX_NAME + 2], q[QMAX], q2[QMAX];
	const struct member *m;

	if (!resolve_rel(path, cur, sizeof(cur)) || path[0] == '/')
		return sif_err_set(err, SIF_EFORMAT, "%s: %s%s%s is not a path inside the archive",
		                   A->file, what ? what : "", what ? ": " : "",
		                   quote(q, sizeof(q), path));
	for (int hops = 0; ; hops++) {
		m = arc_find(A, cur);
		if (!m && what)
			return sif_err_set(err, SIF_EFORMAT, "%s: %s names %s%s%s, which is not in the "
			                   "archive", A->file, what, quote(q, sizeof(q), path),
			                   hops ? ", a link to " : "", hops ? quote(q2, sizeof(q2), cur) : "");
		if (!m)
			return sif_err_set(err, SIF_EFORMAT, "%s: no %s in the archive", A->file,
			                   quote(q, sizeof(q), cur));
		if (m->unsafe)
			return sif_err_set(err, SIF_EFORMAT, "%s: member %s is stored with an absolute "
			                   "path or a \"..\" component", A->file, quote(q, sizeof(q), cur));
		if (m->type == M_REG && m->sparse)
			return sif_err_set(err, SIF_EFORMAT, "%s: member %s is a sparse file", A->file,
			                   quote(q, sizeof(q), cur));
		if (m->type == M_REG)
			break;
		if (m->type != M_SYMLINK && m->type != M_HARDLINK)
			return sif_err_set(err, SIF_EFORMAT, "%s: member %s is not a regular file",
			                   A->file, quote(q, sizeof(q), cur));
		if (hops == MAX_LINK_HOPS)
			return sif_err_set(err, SIF_EFORMAT, "%s: member %s: too many levels of links",
			                   A->file, quote(q, sizeof(q), path));
		if (m->link[0] == '/')
			return sif_err_set(err, SIF_EFORMAT, "%s: member %s links to the absolute path %s",
			                   A->file, quote(q, sizeof(q), cur),
			                   quote(q2, sizeof(q2), m->link));
		if (m->type == M_SYMLINK) {
			/* relative to the link's directory (docker save links a
			 * repeated layer as "../ID/layer.tar") */
			const char *slash = strrchr(cur, '/');
			int dl = slash ? (int)(slash - cur) : 0;
			snprintf(tmp, sizeof(tmp), "%.*s%s%s", dl, cur, dl ? "/" : "", m->link);
		} else {
			snprintf(tmp, sizeof(tmp), "%s", m->link);
		}
		if (strlen(m->link) > MAX_NAME || !resolve_rel(tmp, cur, sizeof(cur)))
			return sif_err_set(err, SIF_EFORMAT, "%s: member %s links outside the archive",
			                   A->file, quote(q, sizeof(q), m->name));
	}
	if (m->off > A->fsize || m->size > A->fsize - m->off)
		return sif_err_set(err, SIF_EFORMAT, "%s: member %s ends beyond the end of the file",
		                   A->file, quote(q, sizeof(q), cur));
	*out = m;
	return 0;
}

/* ---- where blobs come from: a layout directory or an archive ------------- */

struct store {
	const char *name;      /* DIR or FILE, for messages */
	int dirfd;             /* the layout directory, or -1 */
	struct arc *arc;       /* the archive, or NULL */
};

struct loc {
	int fd;
	bool owned;            /* a new descriptor (the caller closes it) */
	uint64_t off, len;
};

/* Find PATH; WHAT, when not NULL, is who names it ("index.json: manifest 1"). */
static int store_locate(const struct store *st, const char *path, const char *what,
                        struct loc *l, struct sif_err *err)
{
	struct stat sb;
	char q[QMAX];
	int fd;

	if (st->arc) {
		const struct member *m;
		int r = arc_resolve(st->arc, path, what, &m, err);
		if (r < 0)
			return r;
		*l = (struct loc){ .fd = st->arc->fd, .owned = false, .off = m->off, .len = m->size };
		return 0;
	}
	/* O_NOFOLLOW: a blob is a file of the layout, not a link to anywhere;
	 * O_NONBLOCK: a FIFO planted there cannot hang us before fstat */
	fd = openat(st->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT && what)
			return sif_err_set(err, SIF_EFORMAT, "%s: %s names %s, which is not in the layout",
			                   st->name, what, quote(q, sizeof(q), path));
		if (e == ENOENT)
			return sif_err_set(err, SIF_EFORMAT, "%s: no %s in the layout (not an OCI image "
			                   "layout?)", st->name, path);
		if (e == ELOOP)
			return sif_err_set(err, SIF_EFORMAT, "%s: %s is a symbolic link (refused)",
			                   st->name, path);
		return sif_err_set(err, e, "%s: %s: %s", st->name, path, strerror(e));
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return sif_err_set(err, SIF_EFORMAT, "%s: %s is not a regular file", st->name, path);
	}
	*l = (struct loc){ .fd = fd, .owned = true, .off = 0, .len = (uint64_t)sb.st_size };
	return 0;
}

/* Read the JSON document PATH whole: at most LIMIT bytes; of SIZE bytes and
 * with digest DIGEST when those are given (>= 0, not NULL).  *BUF gets a
 * NUL-terminated copy, DG (if not NULL) its sha256. */
static int store_read_json(const struct store *st, const char *path, const char *what,
                           size_t limit, int64_t size, const char *digest, char **buf,
                           size_t *len, char dg[IMG_DIGEST_LEN + 1], struct sif_err *err)
{
	struct loc l;
	char got[IMG_DIGEST_LEN + 1], q[QMAX];
	int r;

	*buf = NULL;
	if ((r = store_locate(st, path, what, &l, err)) < 0)
		return r;
	if (l.len > limit) {
		r = sif_err_set(err, SIF_EFORMAT, "%s: %s is %llu bytes, more than the limit of %zu "
		                "for JSON", st->name, quote(q, sizeof(q), path),
		                (unsigned long long)l.len, limit);
		goto out;
	}
	if (size >= 0 && l.len != (uint64_t)size) {
		r = sif_err_set(err, SIF_EFORMAT, "%s: %s is %llu bytes, but its descriptor says %lld",
		                st->name, quote(q, sizeof(q), path), (unsigned long long)l.len,
		                (long long)size);
		goto out;
	}
	if (!(*buf = malloc(l.len + 1))) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if ((r = sif_pread_full(l.fd, *buf, l.len, (int64_t)l.off)) < 0) {
		r = sif_err_set(err, -r, "%s: reading %s: %s", st->name, quote(q, sizeof(q), path),
		                strerror(-r));
		goto out;
	}
	(*buf)[l.len] = '\0';
	*len = l.len;
	if ((digest || dg) && (r = sif_sha256_buf(*buf, l.len, got)) < 0) {
		r = sif_err_set(err, -r, "sha256: %s", strerror(-r));
		goto out;
	}
	if (digest && strcmp(got, digest) != 0) {
		r = sif_err_set(err, SIF_EFORMAT, "%s: %s does not match its digest (its content is "
		                "%s)", st->name, quote(q, sizeof(q), path), got);
		goto out;
	}
	if (dg)
		memcpy(dg, got, sizeof(got));
	r = 0;
out:
	if (l.owned)
		close(l.fd);
	if (r < 0) {
		free(*buf);
		*buf = NULL;
	}
	return r;
}

/* ---- assembling the source -------------------------------------------- */

struct src_priv {
	int *fds;              /* descriptors the source owns */
	size_t nfds;
};

static int priv_add_fd(struct img_source *s, int fd, struct sif_err *err)
{
	struct src_priv *p = s->priv;
	int *n = realloc(p->fds, (p->nfds + 1) * sizeof(*n));

	if (!n) {
		close(fd);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	p->fds = n;
	p->fds[p->nfds++] = fd;
	return 0;
}

/* One descriptor per layer blob of a layout directory: make room under
 * RLIMIT_NOFILE for images with many layers (the soft limit is often 1024;
 * the hard one is ours to use). */
void img_room_for_fds(size_t n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int take_config(struct img_source *s, char *buf, size_t len, const char *dg,
                       const char *what, size_t nlayers, struct img_config *c,
                       struct sif_err *err)
{
	int r;

	s->config = buf;
	s->config_len = len;
	memcpy(s->config_digest, dg, IMG_DIGEST_LEN + 1);
	if ((r = img_parse_config(buf, len, c, err)) < 0) {
		sif_err_prefix(err, "%s: ", what);
		return r;
	}
	if (c->ndiff_ids != nlayers)
		return sif_err_set(err, SIF_EFORMAT, "%s: rootfs.diff_ids has %zu entries, but the "
		                   "image has %zu layers", what, c->ndiff_ids, nlayers);
	s->created = c->created;
	return 0;
}

static int oci_load(struct img_source *s, const struct store *st, const char *tag,
                    const char *arch, struct sif_err *err)
{
	struct img_index ix = {0};
	struct img_manifest man = {0};
	struct img_config cfg = {0};
	char *buf = NULL, path[96], what[256], dg[IMG_DIGEST_LEN + 1];
	char digest[IMG_DIGEST_LEN + 1], *mt = NULL, q[QMAX];
	enum img_mtype mtype;
	int64_t size;
	size_t len;
	int r, i;

	if ((r = store_read_json(st, "oci-layout", NULL, MAX_SMALL_JSON, -1, NULL, &buf, &len,
	                         NULL, err)) < 0)
		goto out;
	r = img_parse_oci_layout(buf, len, err);
	free(buf);
	buf = NULL;
	if (r < 0) {
		sif_err_prefix(err, "%s: oci-layout: ", st->name);
		goto out;
	}
	if ((r = store_read_json(st, "index.json", NULL, IMG_MAX_JSON, -1, NULL, &buf, &len, NULL,
	                         err)) < 0)
		goto out;
	r = img_parse_index(buf, len, &ix, err);
	free(buf);
	buf = NULL;
	/* from index.json down through nested indexes to a manifest; WHAT is
	 * the index being read */
	snprintf(what, sizeof(what), "index.json");
	for (int depth = 0; ; depth++) {
		if (r < 0) {
			sif_err_prefix(err, "%s: %s: ", st->name, what);
			goto out;
		}
		if ((i = img_index_select(&ix, depth ? NULL : tag, arch, depth > 0, err)) < 0) {
			r = i;
			sif_err_prefix(err, "%s: %s: ", st->name, what);
			goto out;
		}
		memcpy(digest, ix.m[i].digest, sizeof(digest));
		size = ix.m[i].size;
		mtype = ix.m[i].mtype;
		free(mt);
		mt = ix.m[i].media_type;
		ix.m[i].media_type = NULL;
		img_index_free(&ix);
		if (mtype == IMG_MT_OTHER) {
			r = sif_err_set(err, SIF_EFORMAT, "%s: %s: the chosen entry has media type \"%s\", "
			                "not that of an image manifest or index", st->name, what,
			                quote(q, sizeof(q), mt));
			goto out;
		}
		if (size > (int64_t)IMG_MAX_JSON) {
			r = sif_err_set(err, SIF_EFORMAT, "%s: %s: the chosen entry is %lld bytes, more "
			                "than the limit of %u", st->name, what, (long long)size,
			                IMG_MAX_JSON);
			goto out;
		}
		blob_path(path, digest);
		if ((r = store_read_json(st, path, what, IMG_MAX_JSON, size, digest, &buf, &len,
		                         NULL, err)) < 0)
			goto out;
		if (mtype == IMG_MT_MANIFEST)
			break;
		if (depth == MAX_NESTING) {
			r = sif_err_set(err, SIF_EFORMAT, "%s: image indexes nested more than %d deep",
			                st->name, MAX_NESTING);
			goto out;
		}
		snprintf(what, sizeof(what), "%s", path);
		r = img_parse_index(buf, len, &ix, err);
		free(buf);
		buf = NULL;
	}
	if ((r = img_parse_manifest(buf, len, mt, &man, err)) < 0) {
		sif_err_prefix(err, "%s: %s: ", st->name, path);
		goto out;
	}
	free(buf);
	buf = NULL;
	memcpy(s->manifest_digest, digest, sizeof(digest));

	blob_path(path, man.config.digest);
	if ((r = store_read_json(st, path, "the manifest's config", IMG_MAX_JSON, man.config.size,
	                         man.config.digest, &buf, &len, dg, err)) < 0)
		goto out;
	snprintf(what, sizeof(what), "%s: %s", st->name, path);
	r = take_config(s, buf, len, dg, what, man.nlayers, &cfg, err);
	buf = NULL;
	if (r < 0)
		goto out;

	s->layers = man.layers;
	s->nlayers = man.nlayers;
	man.layers = NULL;
	man.nlayers = 0;
	if (!st->arc)
		img_room_for_fds(s->nlayers);
	for (size_t k = 0; k < s->nlayers; k++) {
		struct img_layer *l = &s->layers[k];
		struct loc lc;
		memcpy(l->diff_id, cfg.diff_ids[k], IMG_DIGEST_LEN + 1);
		l->fd = -1;
		for (size_t j = 0; j < k && l->fd < 0; j++)
			if (!strcmp(s->layers[j].digest, l->digest)) {
				l->fd = s->layers[j].fd;
				l->off = s->layers[j].off;
				l->len = s->layers[j].len;
			}
		blob_path(path, l->digest);
		if (l->fd >= 0) {
			lc = (struct loc){ .fd = l->fd, .off = l->off, .len = l->len };
		} else {
			snprintf(what, sizeof(what), "layer %zu", k + 1);
			if ((r = store_locate(st, path, what, &lc, err)) < 0) {
				if (r == -EMFILE)
					sif_err_advise(err, EMFILE, "%s: too many open files for %zu layers "
					               "(raise \"ulimit -n\")", st->name, s->nlayers);
				goto out;
			}
			if (lc.owned && (r = priv_add_fd(s, lc.fd, err)) < 0)
				goto out;
		}
		if (lc.len != (uint64_t)l->size) {
			r = sif_err_set(err, SIF_EFORMAT, "%s: layer %zu (%s) is %llu bytes, but the "
			                "manifest says %lld", st->name, k + 1, path,
			                (unsigned long long)lc.len, (long long)l->size);
			goto out;
		}
		l->fd = lc.fd;
		l->off = lc.off;
		l->len = lc.len;
	}
	r = 0;
out:
	free(buf);
	free(mt);
	img_index_free(&ix);
	img_manifest_free(&man);
	img_config_free(&cfg);
	return r;
}

/* The sha256 a docker-archive member name carries, if any
 * ("blobs/sha256/HEX", "HEX.json"), into OUT. */
static bool digest_in_name(const char *name, char out[IMG_DIGEST_LEN + 1])
{
	const char *base = strrchr(name, '/');
	size_t len;

	base = base ? base + 1 : name;
	len = strlen(base);
	if (len == 69 && !strcmp(base + 64, ".json"))
		len = 64;
	else if (len != 64 || strncmp(name, "blobs/sha256/", 13) != 0 || base != name + 13)
		return false;
	snprintf(out, IMG_DIGEST_LEN + 1, "sha256:%.64s", base);
	return img_digest_valid(out) != 0;
}

static int docker_load(struct img_source *s, const struct store *st, const char *ref,
                       struct sif_err *err)
{
	struct img_docker_manifest dm = {0};
	struct img_config cfg = {0};
	struct img_docker_image *im;
	char *buf = NULL, what[256], dg[IMG_DIGEST_LEN + 1], named[IMG_DIGEST_LEN + 1];
	char q[QMAX];
	size_t len;
	int r, i;

	if ((r = store_read_json(st, "manifest.json", NULL, IMG_MAX_JSON, -1, NULL, &buf, &len,
	                         NULL, err)) < 0)
		goto out;
	r = img_parse_docker_manifest(buf, len, &dm, err);
	free(buf);
	buf = NULL;
	if (r < 0) {
		sif_err_prefix(err, "%s: manifest.json: ", st->name);
		goto out;
	}
	if ((i = img_docker_select(&dm, ref, err)) < 0) {
		r = i;
		sif_err_prefix(err, "%s: ", st->name);
		goto out;
	}
	im = &dm.img[i];
	if ((r = store_read_json(st, im->config, "manifest.json: Config", IMG_MAX_JSON, -1, NULL,
	                         &buf, &len, dg, err)) < 0)
		goto out;
	if (digest_in_name(im->config, named) && strcmp(named, dg) != 0) {
		r = sif_err_set(err, SIF_EFORMAT, "%s: %s does not match the digest in its name (its "
		                "content is %s)", st->name, quote(q, sizeof(q), im->config), dg);
		goto out;
	}
	snprintf(what, sizeof(what), "%s: %s", st->name, quote(q, sizeof(q), im->config));
	r = take_config(s, buf, len, dg, what, im->nlayers, &cfg, err);
	buf = NULL;
	if (r < 0)
		goto out;

	if (!(s->layers = calloc(im->nlayers ? im->nlayers : 1, sizeof(*s->layers)))) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	s->nlayers = im->nlayers;
	for (size_t k = 0; k < im->nlayers; k++) {
		struct img_layer *l = &s->layers[k];
		struct loc lc;
		l->fd = -1;
		snprintf(what, sizeof(what), "manifest.json: layer %zu", k + 1);
		if ((r = store_locate(st, im->layers[k], what, &lc, err)) < 0)
			goto out;
		/* no compressed digests here: the layer applier checks the
		 * diff_id, and finds out how the tar is compressed */
		memcpy(l->diff_id, cfg.diff_ids[k], IMG_DIGEST_LEN + 1);
		l->digest[0] = '\0';
		l->size = (int64_t)lc.len;
		l->comp = IMG_COMP_DETECT;
		l->fd = lc.fd;
		l->off = lc.off;
		l->len = lc.len;
	}
	r = 0;
out:
	free(buf);
	img_docker_manifest_free(&dm);
	img_config_free(&cfg);
	return r;
}

/* Split SPEC into the longest prefix that exists (a directory when
 * WANT_DIR, anything else otherwise) and what follows it after a ':'
 * (NULL when nothing does): "dir:with:colons:tag" works when
 * "dir:with:colons" exists. */
static int split_spec(const char *spec, bool want_dir, char **path, char **ref,
                      struct sif_err *err)
{
	size_t len = strlen(spec), cut = len, wrong = 0;
	struct stat st;
	char q[QMAX];

	*path = *ref = NULL;
	if (!len)
		return sif_err_set(err, EINVAL, "no image path given");
	for (;;) {
		char *p = strndup(spec, cut);
		if (!p)
			return sif_err_set(err, ENOMEM, "out of memory");
		if (cut && stat(p, &st) == 0) {
			if (!!S_ISDIR(st.st_mode) != want_dir) {
				wrong = wrong ? wrong : cut;   /* the longest, for the message */
			} else {
				*path = p;
				if (cut < len && spec[cut + 1] && !(*ref = strdup(spec + cut + 1))) {
					free(p);
					*path = NULL;
					return sif_err_set(err, ENOMEM, "out of memory");
				}
				return 0;
			}
		}
		free(p);
		while (cut > 0 && spec[--cut] != ':')
			;
		if (!cut)
			break;
	}
	if (wrong) {
		char *p = strndup(spec, wrong);
		quote(q, sizeof(q), p ? p : spec);
		free(p);
		return sif_err_set(err, want_dir ? ENOTDIR : EISDIR, "%s: %s", q,
		                   want_dir ? "not a directory (an OCI layout directory is expected)"
		                            : "is a directory, not an archive");
	}
	return sif_err_set(err, ENOENT, "%s: %s", quote(q, sizeof(q), spec), strerror(ENOENT));
}

/* NAME is PATH fit for messages (it must live as long as A). */
static int open_archive(const char *path, const char *name, struct arc *A, bool names_only,
                        struct sif_err *err)
{
	struct stat st;
	const char *q = name;
	/* no O_NONBLOCK: a FIFO ("docker save img | sif build ... /dev/stdin")
	 * is read, spooled, like a compressed archive */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	A->fd = -1;
	if (fd < 0)
		return sif_err_set(err, errno, "%s: %s", q, strerror(errno));
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		close(fd);
		return sif_err_set(err, SIF_EFORMAT, "%s: not a regular file or a pipe", q);
	}
	return arc_scan(A, fd, name, names_only, err);
}

int img_source_open(struct img_source *s, enum img_kind kind, const char *spec,
                    const char *arch, struct sif_err *err)
{
	struct arc A = { .fd = -1 };
	struct store st = { .dirfd = -1 };
	char *path = NULL, *ref = NULL, q[QMAX];
	int r;

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->created = -1;
	if (!(s->priv = calloc(1, sizeof(struct src_priv))))
		return sif_err_set(err, ENOMEM, "out of memory");
	if ((r = split_spec(spec, kind == IMG_OCI_DIR, &path, &ref, err)) < 0)
		goto out;
	quote(q, sizeof(q), path);
	st.name = q;
	if (kind == IMG_OCI_DIR) {
		st.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (st.dirfd < 0) {
			r = sif_err_set(err, errno, "%s: %s", q, strerror(errno));
			goto out;
		}
		r = oci_load(s, &st, ref, arch, err);
		goto out;
	}
	if (kind != IMG_OCI_ARCHIVE && kind != IMG_DOCKER_ARCHIVE) {
		r = sif_err_set(err, EINVAL, "unknown image source kind %d", (int)kind);
		goto out;
	}
	if ((r = open_archive(path, q, &A, false, err)) < 0)
		goto out;
	st.arc = &A;
	r = kind == IMG_OCI_ARCHIVE ? oci_load(s, &st, ref, arch, err)
	                            : docker_load(s, &st, ref, err);
	if (r == 0) {
		/* the layers point into it: the source keeps the descriptor */
		r = priv_add_fd(s, A.fd, err);
		A.fd = -1;
	}
out:
	if (st.dirfd >= 0)
		close(st.dirfd);
	arc_free(&A);
	free(path);
	free(ref);
	if (r < 0)
		img_source_close(s);
	return r < 0 ? r : 0;
}

void img_source_close(struct img_source *s)
{
	struct src_priv *p = s->priv;

	if (p) {
		for (size_t i = 0; i < p->nfds; i++)
			close(p->fds[i]);
		free(p->fds);
		free(p);
	}
	free(s->config);
	free(s->layers);
	memset(s, 0, sizeof(*s));
	s->created = -1;
}

int img_source_detect(const char *path, enum img_kind *kind)
{
	char *p, *ref;
	struct stat st;
	struct arc A;
	int found = 0;

	if (split_spec(path, true, &p, &ref, NULL) == 0) {
		int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0 && fstatat(dfd, "oci-layout", &st, 0) == 0 && S_ISREG(st.st_mode)) {
			*kind = IMG_OCI_DIR;
			found = 1;
		}
		if (dfd >= 0)
			close(dfd);
		free(p);
		free(ref);
		return found;
	}
	if (split_spec(path, false, &p, &ref, NULL) < 0)
		return 0;
	/* only regular files: detection must not consume a pipe */
	if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && open_archive(p, p, &A, true, NULL) == 0) {
		/* docker save (25 and later) writes an OCI layout and a
		 * manifest.json: taken as a docker archive, as its user would
		 * name an image in it by REPO:TAG */
		if (A.has_manifest) {
			*kind = IMG_DOCKER_ARCHIVE;
			found = 1;
		} else {
			for (size_t i = 0; i < A.n && !found; i++)
				if (!strcmp(A.m[i].name, "oci-layout")) {
					*kind = IMG_OCI_ARCHIVE;
					found = 1;
				}
		}
		arc_free(&A);
	}
	free(p);
	free(ref);
	return found;
}
