/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the image sources (image-tools/source.c): the JSON parsers
 * on good and hostile documents, and whole sources (OCI layout directory,
 * OCI archive, docker archive, plain and compressed) made here, byte by
 * byte, so that every layer range can be checked against its digest.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "digest.h"
#include "io.h"
#include "source.h"
#include "tap.h"

static char *tmp;    /* scratch directory, removed at the end */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		perror("malloc");
		exit(99);
	}
	return p;
}

__attribute__((format(printf, 1, 2)))
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		exit(99);
	va_end(ap);
	return s;
}

static void sha(const void *buf, size_t n, char out[72])
{
	if (sif_sha256_buf(buf, n, out) < 0)
		exit(99);
}

/* A failure explains itself in one line. */
static bool one_line(const struct sif_err *e)
{
	return e->msg[0] && !strchr(e->msg, '\n');
}

static bool has(const struct sif_err *e, const char *s)
{
	if (strstr(e->msg, s))
		return true;
	printf("#   message: %s\n", e->msg);
	return false;
}

/* ---- parsers --------------------------------------------------------- */

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define MT_MAN "application/vnd.oci.image.manifest.v1+json"
#define MT_IDX "application/vnd.oci.image.index.v1+json"
#define MT_CFG "application/vnd.oci.image.config.v1+json"

static void test_digest_and_time(void)
{
	tap_ok(img_digest_valid(D1), "a sha256 digest is valid");
	tap_ok(!img_digest_valid("sha256:ABCD111111111111111111111111111111111111111111111111111111111111"),
	       "upper-case hex is not");
	tap_ok(!img_digest_valid("sha256:111"), "a short one is not");
	tap_ok(!img_digest_valid(D1 "1"), "a long one is not");
	tap_ok(!img_digest_valid("sha512:1111111111111111111111111111111111111111111111111111111111111111"),
	       "another algorithm is not");
	tap_ok(!img_digest_valid("sha256:../../../../../../../../../../../../../../../../../../etc/pass"),
	       "a path is not");
	tap_ok(!img_digest_valid(NULL) && !img_digest_valid(""), "NULL and \"\" are not");

	tap_ok(img_parse_time("1970-01-01T00:00:00Z") == 0, "time: the epoch is 0");
	tap_ok(img_parse_time("2026-11-29T21:17:42.358538419Z") == 1795987062,
	       "time: fractional seconds, Z");
	tap_ok(img_parse_time("2024-01-02T03:04:05.5+01:00") == 1704161045, "time: +01:00");
	tap_ok(img_parse_time("2024-01-01T20:34:05-05:30") == 1704161045, "time: -05:30");
	tap_ok(img_parse_time("2024-01-02t02:04:05z") == 1704161045, "time: lower-case t and z");
	tap_ok(img_parse_time("2024-02-29T00:00:00Z") == 1709164800, "time: a leap day");
	tap_ok(img_parse_time("2000-03-01T00:00:00Z") == 951868800, "time: after 2000's leap day");
	tap_ok(img_parse_time("2023-02-29T00:00:00Z") == -1, "time: no leap day in 2023");
	tap_ok(img_parse_time("2100-02-29T00:00:00Z") == -1, "time: nor in 2100");
	tap_ok(img_parse_time("2024-13-01T00:00:00Z") == -1, "time: month 13");
	tap_ok(img_parse_time("2024-01-01T24:00:00Z") == -1, "time: hour 24");
	tap_ok(img_parse_time("2024-01-01T00:00:00") == -1, "time: no zone");
	tap_ok(img_parse_time("2024-01-01T00:00:00.Z") == -1, "time: empty fraction");
	tap_ok(img_parse_time("2024-01-01T00:00:00Zjunk") == -1, "time: trailing bytes");
	tap_ok(img_parse_time("2024-01-01 00:00:00Z") == -1, "time: a space for T");
	tap_ok(img_parse_time("0001-01-01T00:00:00Z") == -1, "time: Go's zero time is unknown");
	tap_ok(img_parse_time("9999-12-31T23:59:59Z") == 253402300799, "time: year 9999");
	tap_ok(img_parse_time(NULL) == -1 && img_parse_time("") == -1, "time: NULL and \"\"");
}

static const char good_index[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" MT_IDX "\",\"manifests\":["
	"{\"mediaType\":\"" MT_MAN "\",\"digest\":\"" D1 "\",\"size\":10,"
	" \"annotations\":{\"org.opencontainers.image.ref.name\":\"one\"},"
	" \"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
	"{\"mediaType\":\"" MT_MAN "\",\"digest\":\"" D2 "\",\"size\":20,"
	" \"annotations\":{\"org.opencontainers.image.ref.name\":\"two\","
	"  \"io.containerd.image.name\":\"docker.io/library/two:latest\"},"
	" \"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
	"{\"mediaType\":\"" MT_IDX "\",\"digest\":\"" D3 "\",\"size\":30}]}";

/* Parse TEXT as an index: it must fail with a message containing WANT. */
static void bad_index(const char *text, const char *want, const char *what)
{
	struct img_index ix;
	struct sif_err e = {0};
	int r = img_parse_index(text, strlen(text), &ix, &e);
	tap_ok(r == -SIF_EFORMAT && one_line(&e) && has(&e, want) && !ix.m && !ix.n,
	       "index refused: %s", what);
	img_index_free(&ix);
}

static void test_index(void)
{
	struct img_index ix;
	struct sif_err e = {0};
	int r;

	r = img_parse_index(good_index, strlen(good_index), &ix, &e);
	tap_ok(r == 0 && ix.n == 3, "index: parsed (%s)", e.msg);
	tap_ok(ix.n == 3 && ix.m[0].mtype == IMG_MT_MANIFEST && ix.m[2].mtype == IMG_MT_INDEX &&
	       !strcmp(ix.m[1].digest, D2) && ix.m[1].size == 20 && !strcmp(ix.m[1].ref_name, "two") &&
	       !strcmp(ix.m[1].image_name, "docker.io/library/two:latest") &&
	       !strcmp(ix.m[1].variant, "v8") && !ix.m[0].variant && !ix.m[2].os,
	       "index: descriptors, annotations, platforms");

	tap_ok(img_index_select(&ix, "two", NULL, false, &e) == 1, "select by ref name");
	tap_ok(img_index_select(&ix, "docker.io/library/two:latest", NULL, false, &e) == 1,
	       "select by containerd image name");
	r = img_index_select(&ix, "three", NULL, false, &e);
	tap_ok(r == -ENOENT && one_line(&e) && has(&e, "no image is tagged \"three\"") &&
	       has(&e, "tags: one, two"), "an unknown tag: the tags are listed");
	r = img_index_select(&ix, NULL, NULL, false, &e);
	tap_ok(r < 0 && has(&e, "holds 3 images"), "several and no tag: refused");
	tap_ok(img_index_select(&ix, NULL, "arm64", false, &e) == 1,
	       "several and no tag: by platform");
	tap_ok(img_index_select(&ix, NULL, "arm64/v8", true, &e) == 1, "arm64/v8");
	r = img_index_select(&ix, NULL, "arm64/v9", true, &e);
	tap_ok(r == -ENOENT && has(&e, "no image for linux/arm64/v9") &&
	       has(&e, "linux/amd64, linux/arm64/v8"), "a missing platform: the others are listed");
	r = img_index_select(&ix, NULL, "ppc64le", true, &e);
	tap_ok(r == -ENOENT && one_line(&e) && has(&e, "no image for linux/ppc64le"),
	       "no image for the architecture");
	img_index_free(&ix);

	static const char arm[] = "{\"schemaVersion\":2,\"manifests\":["
		"{\"mediaType\":\"" MT_MAN "\",\"digest\":\"" D1 "\",\"size\":1,"
		" \"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
		"{\"mediaType\":\"" MT_MAN "\",\"digest\":\"" D2 "\",\"size\":1,"
		" \"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
		"{\"mediaType\":\"" MT_MAN "\",\"digest\":\"" D3 "\",\"size\":1,"
		" \"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}}]}";
	r = img_parse_index(arm, sizeof(arm) - 1, &ix, &e);
	tap_ok(r == 0 && img_index_select(&ix, NULL, "arm", true, &e) == 2,
	       "arm: v7 is preferred to v6");
	tap_ok(img_index_select(&ix, NULL, "arm/v6", true, &e) == 0, "arm/v6 asked for");
	r = img_index_select(&ix, NULL, "amd64", true, &e);
	tap_ok(r < 0 && has(&e, "it has: linux/arm/v6, linux/arm/v7") && !strstr(e.msg, "unknown"),
	       "attestation manifests are not listed");
	img_index_free(&ix);

	static const char one[] = "{\"schemaVersion\":2,\"manifests\":["
		"{\"mediaType\":\"" MT_MAN "\",\"digest\":\"" D1 "\",\"size\":1,"
		" \"platform\":{\"os\":\"linux\",\"architecture\":\"s390x\"}}]}";
	r = img_parse_index(one, sizeof(one) - 1, &ix, &e);
	tap_ok(r == 0 && img_index_select(&ix, NULL, "amd64", false, &e) == 0,
	       "index.json with one image: taken");
	tap_ok(img_index_select(&ix, NULL, "amd64", true, &e) < 0,
	       "a nested index with one image for another platform: refused");
	img_index_free(&ix);

	static const char empty[] = "{\"schemaVersion\":2,\"manifests\":[]}";
	r = img_parse_index(empty, sizeof(empty) - 1, &ix, &e);
	tap_ok(r == 0 && img_index_select(&ix, NULL, "amd64", false, &e) < 0 &&
	       has(&e, "holds no image"), "an empty index");
	img_index_free(&ix);

	bad_index("", "invalid JSON", "empty");
	bad_index("[]", "not a JSON object", "an array");
	bad_index("{\"manifests\":[]}", "\"schemaVersion\" is missing", "no schemaVersion");
	bad_index("{\"schemaVersion\":1,\"manifests\":[]}", "not 2", "schemaVersion 1");
	bad_index("{\"schemaVersion\":\"2\",\"manifests\":[]}", "not 2", "schemaVersion a string");
	bad_index("{\"schemaVersion\":2}", "\"manifests\" is missing", "no manifests");
	bad_index("{\"schemaVersion\":2,\"manifests\":{}}", "not an array", "manifests an object");
	bad_index("{\"schemaVersion\":2,\"manifests\":[]} x", "invalid JSON", "trailing bytes");
	bad_index("{\"schemaVersion\":2,\"schemaVersion\":2,\"manifests\":[]}", "invalid JSON",
	          "a duplicate key");
	bad_index("{\"schemaVersion\":2,\"mediaType\":\"" MT_MAN "\",\"manifests\":[]}",
	          "not an image index", "a manifest's media type");
	bad_index("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":"
	          "\"sha256:abc\",\"size\":1}]}", "manifest 1: digest \"sha256:abc\" is not a sha256",
	          "a short digest");
	bad_index("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":"
	          "\"sha256:../../x\\n\",\"size\":1}]}", "not a sha256", "a digest with a newline");
	bad_index("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1
	          "\",\"size\":-1}]}", "\"size\" is negative", "a negative size");
	bad_index("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1
	          "\",\"size\":1.5}]}", "\"size\" is not an integer", "a fractional size");
	bad_index("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1
	          "\",\"size\":99999999999999999999999}]}", "invalid JSON", "a size too big");
	bad_index("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D1 "\",\"size\":1}]}",
	          "\"mediaType\" is missing", "no media type");
	bad_index("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1
	          "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}]}", "\"architecture\" is missing",
	          "a platform without architecture");
	bad_index("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1
	          "\",\"size\":1,\"annotations\":{\"org.opencontainers.image.ref.name\":1}}]}",
	          "is not a string", "a ref name that is a number");
	bad_index("{\"schemaVersion\":2,\"manifests\":[\"x\"]}", "not a JSON object",
	          "a manifest that is a string");
	bad_index("{\"schemaVersion\":2,\"manifests\":[],\"x\":\"\\u0000\"}", "invalid JSON",
	          "a NUL in a string");
	bad_index("{\"schemaVersion\":2,\"manifests\":[],\"x\":\"\xff\"}", "invalid JSON",
	          "invalid UTF-8");

	/* bigger than IMG_MAX_JSON: refused before parsing */
	size_t big = IMG_MAX_JSON + 1;
	char *buf = xmalloc(big);
	memset(buf, ' ', big);
	memcpy(buf, empty, sizeof(empty) - 1);
	r = img_parse_index(buf, big, &ix, &e);
	tap_ok(r == -SIF_EFORMAT && has(&e, "more than the limit"), "JSON over IMG_MAX_JSON");
	/* deep nesting: refused, without exhausting the stack */
	memset(buf, '[', big);
	r = img_parse_index(buf, 100000, &ix, &e);
	tap_ok(r == -SIF_EFORMAT && one_line(&e), "100000 nested arrays");
	free(buf);
}

static char *manifest_json(const char *layer_mt, size_t nlayers)
{
	size_t cap = 256 + nlayers * 200, n;
	char *s = xmalloc(cap);
	n = (size_t)snprintf(s, cap, "{\"schemaVersion\":2,\"mediaType\":\"" MT_MAN "\","
	                     "\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":\"" D1
	                     "\",\"size\":100},\"layers\":[");
	for (size_t i = 0; i < nlayers; i++)
		n += (size_t)snprintf(s + n, cap - n, "%s{\"mediaType\":\"%s\",\"digest\":\"" D2
		                      "\",\"size\":%zu}", i ? "," : "", layer_mt, i);
	snprintf(s + n, cap - n, "]}");
	return s;
}

static void bad_manifest(const char *text, const char *mt, const char *want, const char *what)
{
	struct img_manifest m;
	struct sif_err e = {0};
	int r = img_parse_manifest(text, strlen(text), mt, &m, &e);
	tap_ok(r == -SIF_EFORMAT && one_line(&e) && has(&e, want) && !m.layers,
	       "manifest refused: %s", what);
	img_manifest_free(&m);
}

static void test_manifest(void)
{
	static const struct { const char *mt; enum img_comp comp; } ok[] = {
		{ "application/vnd.oci.image.layer.v1.tar", IMG_COMP_NONE },
		{ "application/vnd.oci.image.layer.v1.tar+gzip", IMG_COMP_GZIP },
		{ "application/vnd.oci.image.layer.v1.tar+zstd", IMG_COMP_ZSTD },
		{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", IMG_COMP_GZIP },
		{ "application/vnd.docker.image.rootfs.diff.tar.gzip", IMG_COMP_GZIP },
		{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", IMG_COMP_GZIP },
	};
	struct img_manifest m;
	struct sif_err e = {0};
	char *s;
	int r;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		s = manifest_json(ok[i].mt, 3);
		r = img_parse_manifest(s, strlen(s), MT_MAN, &m, &e);
		tap_ok(r == 0 && m.nlayers == 3 && m.layers[2].comp == ok[i].comp &&
		       m.layers[2].size == 2 && !strcmp(m.layers[0].digest, D2) && m.layers[1].fd == -1 &&
		       !m.layers[0].diff_id[0] && !strcmp(m.config.digest, D1) && m.config.size == 100,
		       "manifest with %s layers", ok[i].mt);
		img_manifest_free(&m);
		free(s);
	}
	s = manifest_json("application/vnd.oci.image.layer.v1.tar", IMG_MAX_LAYERS);
	r = img_parse_manifest(s, strlen(s), NULL, &m, &e);
	tap_ok(r == 0 && m.nlayers == IMG_MAX_LAYERS, "IMG_MAX_LAYERS layers");
	img_manifest_free(&m);
	free(s);
	s = manifest_json("application/vnd.oci.image.layer.v1.tar", IMG_MAX_LAYERS + 1);
	bad_manifest(s, NULL, "more than the limit of 1000", "IMG_MAX_LAYERS + 1 layers");
	free(s);
	s = manifest_json("application/vnd.oci.image.layer.v1.tar+bzip2", 2);
	bad_manifest(s, NULL, "layer 1: media type \"application/vnd.oci.image.layer.v1.tar+bzip2\" "
	             "is not that of a tar layer", "a bzip2 layer");
	free(s);
	s = manifest_json("application/vnd.oci.image.layer.v1.tar", 2);
	bad_manifest(s, "application/vnd.docker.distribution.manifest.v2+json",
	             "but its descriptor says", "a media type other than the descriptor's");
	free(s);

	static const char docker[] = "{\"schemaVersion\":2,\"mediaType\":"
		"\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{\"mediaType\":"
		"\"application/vnd.docker.container.image.v1+json\",\"digest\":\"" D1 "\",\"size\":7},"
		"\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
		"\"digest\":\"" D2 "\",\"size\":5,\"urls\":[\"http://x\"]}]}";
	r = img_parse_manifest(docker, sizeof(docker) - 1,
	                       "application/vnd.docker.distribution.manifest.v2+json", &m, &e);
	tap_ok(r == 0 && m.nlayers == 1 && m.layers[0].comp == IMG_COMP_GZIP,
	       "a Docker schema 2 manifest");
	img_manifest_free(&m);
	static const char nolayers[] = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG
		"\",\"digest\":\"" D1 "\",\"size\":2},\"layers\":[]}";
	r = img_parse_manifest(nolayers, sizeof(nolayers) - 1, NULL, &m, &e);
	tap_ok(r == 0 && m.nlayers == 0, "a manifest with no layers (umoci new)");
	img_manifest_free(&m);

	bad_manifest("{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}", NULL, "not 2",
	             "schema 1");
	bad_manifest("{\"schemaVersion\":2,\"manifests\":[]}", NULL, "is an image index",
	             "an index without media type");
	bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"" MT_IDX "\",\"manifests\":[]}", NULL,
	             "not an image manifest", "an index");
	bad_manifest("{\"schemaVersion\":2,\"layers\":[]}", NULL, "\"config\" is missing",
	             "no config");
	bad_manifest("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.cncf.helm."
	             "config.v1+json\",\"digest\":\"" D1 "\",\"size\":2},\"layers\":[]}", NULL,
	             "not that of a container image config", "a Helm chart");
	bad_manifest("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":\""
	             D1 "\",\"size\":99999999},\"layers\":[]}", NULL, "config is 99999999 bytes",
	             "a config too big");
	bad_manifest("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":\""
	             D1 "\",\"size\":2}}", NULL, "\"layers\" is missing", "no layers");
	bad_manifest("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":\""
	             D1 "\",\"size\":2},\"layers\":[{\"mediaType\":\"application/vnd.oci.image."
	             "layer.v1.tar\",\"digest\":\"md5:abc\",\"size\":1}]}", NULL,
	             "layer 1: digest \"md5:abc\"", "an md5 layer digest");
	bad_manifest("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":\""
	             D1 "\",\"size\":2},\"layers\":[{\"mediaType\":\"application/vnd.oci.image."
	             "layer.v1.tar\",\"digest\":\"" D1 "\"}]}", NULL, "layer 1: \"size\" is missing",
	             "a layer without size");
}

static void bad_config(const char *text, const char *want, const char *what)
{
	struct img_config c;
	struct sif_err e = {0};
	int r = img_parse_config(text, strlen(text), &c, &e);
	tap_ok(r == -SIF_EFORMAT && one_line(&e) && has(&e, want) && !c.diff_ids,
	       "config refused: %s", what);
	img_config_free(&c);
}

static void test_config(void)
{
	struct img_config c;
	struct sif_err e = {0};
	int r;
	static const char good[] = "{\"created\":\"2024-01-02T02:04:05Z\",\"architecture\":"
		"\"arm64\",\"variant\":\"v8\",\"os\":\"linux\",\"config\":{\"Env\":[\"A=b\"]},"
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]},\"history\":[]}";

	r = img_parse_config(good, sizeof(good) - 1, &c, &e);
	tap_ok(r == 0 && c.ndiff_ids == 2 && !strcmp(c.diff_ids[1], D2) && c.created == 1704161045 &&
	       !strcmp(c.arch, "arm64") && !strcmp(c.os, "linux") && !strcmp(c.variant, "v8"),
	       "config parsed");
	img_config_free(&c);
	static const char nocreated[] = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	r = img_parse_config(nocreated, sizeof(nocreated) - 1, &c, &e);
	tap_ok(r == 0 && c.created == -1 && c.ndiff_ids == 0 && !c.arch, "no created: -1");
	img_config_free(&c);
	static const char badtime[] = "{\"created\":\"yesterday\",\"rootfs\":{\"type\":\"layers\","
		"\"diff_ids\":[]}}";
	r = img_parse_config(badtime, sizeof(badtime) - 1, &c, &e);
	tap_ok(r == 0 && c.created == -1, "an unparsable created: -1");
	img_config_free(&c);

	bad_config("{\"created\":5,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	           "\"created\" is not a string", "created a number");
	bad_config("{}", "\"rootfs\" is missing", "no rootfs");
	bad_config("{\"rootfs\":[]}", "\"rootfs\" is not a JSON object", "rootfs an array");
	bad_config("{\"rootfs\":{\"diff_ids\":[]}}", "\"type\" is missing", "no rootfs.type");
	bad_config("{\"rootfs\":{\"type\":\"snapshot\",\"diff_ids\":[]}}", "is not \"layers\"",
	           "rootfs.type not layers");
	bad_config("{\"rootfs\":{\"type\":\"layers\"}}", "\"diff_ids\" is missing", "no diff_ids");
	bad_config("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",7]}}",
	           "diff_id 2 is not a string", "a diff_id a number");
	bad_config("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:zz\"]}}",
	           "diff_id 1 \"sha256:zz\" is not a sha256", "a bad diff_id");
	bad_config("\"x\"", "invalid JSON", "a bare string");
	bad_config("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"rootfs\":{}}",
	           "invalid JSON", "rootfs twice");
}

static void bad_docker(const char *text, const char *want, const char *what)
{
	struct img_docker_manifest dm;
	struct sif_err e = {0};
	int r = img_parse_docker_manifest(text, strlen(text), &dm, &e);
	tap_ok(r == -SIF_EFORMAT && one_line(&e) && has(&e, want) && !dm.img,
	       "manifest.json refused: %s", what);
	img_docker_manifest_free(&dm);
}

static void test_docker_manifest(void)
{
	struct img_docker_manifest dm;
	struct sif_err e = {0};
	int r;
	static const char good[] = "["
		"{\"Config\":\"c1.json\",\"RepoTags\":[\"busybox:latest\",\"localhost:5000/a/b:1\"],"
		" \"Layers\":[\"l1/layer.tar\",\"./l2/layer.tar\"]},"
		"{\"Config\":\"blobs/sha256/aa\",\"RepoTags\":null,\"Layers\":[]},"
		"{\"Config\":\"c3.json\",\"RepoTags\":[\"docker.io/library/debian:12\","
		" \"quay.io/x/y\",\"index.docker.io/me/app:2\"],\"Layers\":[\"x\"],"
		" \"LayerSources\":{}}]";

	r = img_parse_docker_manifest(good, sizeof(good) - 1, &dm, &e);
	tap_ok(r == 0 && dm.n == 3 && !strcmp(dm.img[0].config, "c1.json") && dm.img[0].ntags == 2 &&
	       dm.img[0].nlayers == 2 && !strcmp(dm.img[0].layers[1], "./l2/layer.tar") &&
	       dm.img[1].ntags == 0 && dm.img[1].nlayers == 0, "manifest.json parsed (%s)", e.msg);
	tap_ok(img_docker_select(&dm, "busybox", &e) == 0, "\"busybox\" is busybox:latest");
	tap_ok(img_docker_select(&dm, "docker.io/library/busybox:latest", &e) == 0,
	       "the full name matches the short tag");
	tap_ok(img_docker_select(&dm, "localhost:5000/a/b:1", &e) == 0, "a registry with a port");
	tap_ok(img_docker_select(&dm, "debian:12", &e) == 2, "a short name matches the full tag");
	tap_ok(img_docker_select(&dm, "quay.io/x/y:latest", &e) == 2, "an implied :latest");
	tap_ok(img_docker_select(&dm, "me/app:2", &e) == 2, "index.docker.io is docker.io");
	tap_ok(img_docker_select(&dm, "@1", &e) == 1, "@1");
	r = img_docker_select(&dm, "@3", &e);
	tap_ok(r == -ENOENT && has(&e, "from @0 to @2"), "@3 of 3");
	r = img_docker_select(&dm, "@x", &e);
	tap_ok(r == -ENOENT, "@x");
	r = img_docker_select(&dm, "debian:11", &e);
	tap_ok(r == -ENOENT && one_line(&e) && has(&e, "no image is tagged \"debian:11\"") &&
	       has(&e, "busybox:latest"), "an unknown tag: the tags are listed");
	r = img_docker_select(&dm, NULL, &e);
	tap_ok(r == -EINVAL && has(&e, "holds 3 images"), "several and none named: refused");
	img_docker_manifest_free(&dm);

	static const char twice[] = "[{\"Config\":\"a\",\"RepoTags\":[\"x:1\"],\"Layers\":[]},"
		"{\"Config\":\"b\",\"RepoTags\":[\"x:1\"],\"Layers\":[]}]";
	r = img_parse_docker_manifest(twice, sizeof(twice) - 1, &dm, &e);
	tap_ok(r == 0 && img_docker_select(&dm, "x:1", &e) < 0 && has(&e, "several images"),
	       "a tag on two images: refused");
	img_docker_manifest_free(&dm);
	r = img_parse_docker_manifest("[]", 2, &dm, &e);
	tap_ok(r == 0 && img_docker_select(&dm, NULL, &e) < 0 && has(&e, "no image"),
	       "an empty manifest.json");
	img_docker_manifest_free(&dm);

	bad_docker("{}", "not a JSON array", "an object");
	bad_docker("[{\"RepoTags\":[],\"Layers\":[]}]", "image 1: \"Config\" is missing",
	           "no Config");
	bad_docker("[{\"Config\":\"/etc/passwd\",\"Layers\":[]}]", "not a relative path",
	           "an absolute Config");
	bad_docker("[{\"Config\":\"a/../../b\",\"Layers\":[]}]", "not a relative path",
	           "a Config with ..");
	bad_docker("[{\"Config\":\"c\",\"Layers\":[\"ok\",\"../x/layer.tar\"]}]",
	           "Layers entry 2 \"../x/layer.tar\" is not a relative path", "a layer with ..");
	bad_docker("[{\"Config\":\"c\",\"Layers\":[\"\"]}]", "not a relative path",
	           "an empty layer path");
	bad_docker("[{\"Config\":\"c\",\"Layers\":[1]}]", "Layers entry 1 is not a string",
	           "a layer a number");
	bad_docker("[{\"Config\":\"c\",\"RepoTags\":\"x\",\"Layers\":[]}]",
	           "\"RepoTags\" is not an array", "RepoTags a string");
	bad_docker("[{\"Config\":\"c\"}]", "\"Layers\" is missing", "no Layers");
	bad_docker("[5]", "image 1: is not a JSON object", "a number");

	struct sif_err e2 = {0};
	tap_ok(img_parse_oci_layout("{\"imageLayoutVersion\":\"1.0.0\"}", 30, &e2) == 0,
	       "oci-layout 1.0.0");
	tap_ok(img_parse_oci_layout("{\"imageLayoutVersion\":\"1.1.0\"}", 30, &e2) == -SIF_EFORMAT &&
	       has(&e2, "is not 1.0.0"), "oci-layout 1.1.0 refused");
	tap_ok(img_parse_oci_layout("{}", 2, &e2) == -SIF_EFORMAT && has(&e2, "missing"),
	       "an empty oci-layout refused");
}

/* ---- whole sources --------------------------------------------------- */

struct blob {
	char digest[72];
	char *data;
	size_t len;
};

/* An image made here: two layers (with made-up contents: nothing here
 * looks inside a layer), a config, a manifest, an index. */
struct image {
	struct blob layer[2], config, manifest;
	char *index;
};

static void blob_set(struct blob *b, char *data, size_t len)
{
	b->data = data;
	b->len = len;
	sha(data, len, b->digest);
}

static void image_make(struct image *im, const char *layer_mt)
{
	char *s;
	memset(im, 0, sizeof(*im));
	for (int i = 0; i < 2; i++) {
		size_t n = i ? 100000 : 1234;
		char *d = xmalloc(n);
		for (size_t k = 0; k < n; k++)
			d[k] = (char)(k * 7 + (size_t)i);
		blob_set(&im->layer[i], d, n);
	}
	s = fmt("{\"created\":\"2024-01-02T02:04:05Z\",\"architecture\":\"amd64\",\"os\":\"linux\","
	        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]}}");
	blob_set(&im->config, s, strlen(s));
	s = fmt("{\"schemaVersion\":2,\"mediaType\":\"" MT_MAN "\",\"config\":{\"mediaType\":\""
	        MT_CFG "\",\"digest\":\"%s\",\"size\":%zu},\"layers\":["
	        "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
	        "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
	        im->config.digest, im->config.len, layer_mt, im->layer[0].digest, im->layer[0].len,
	        layer_mt, im->layer[1].digest, im->layer[1].len);
	blob_set(&im->manifest, s, strlen(s));
	im->index = fmt("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_MAN "\","
	                "\"digest\":\"%s\",\"size\":%zu,\"annotations\":"
	                "{\"org.opencontainers.image.ref.name\":\"t\"}}]}",
	                im->manifest.digest, im->manifest.len);
}

static void image_free(struct image *im)
{
	free(im->layer[0].data);
	free(im->layer[1].data);
	free(im->config.data);
	free(im->manifest.data);
	free(im->index);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || sif_pwrite_full(fd, data, len, 0) < 0 || close(fd) < 0) {
		perror(path);
		exit(99);
	}
}

static void write_blob(const char *dir, const struct blob *b)
{
	char *p = fmt("%s/blobs/sha256/%s", dir, b->digest + 7);
	write_file(p, b->data, b->len);
	free(p);
}

static char *layout_dir(const struct image *im, const char *name)
{
	char *dir = fmt("%s/%s", tmp, name), *p;
	p = fmt("mkdir -p '%s/blobs/sha256'", dir);
	if (system(p) != 0)
		exit(99);
	free(p);
	p = fmt("%s/oci-layout", dir);
	write_file(p, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	free(p);
	p = fmt("%s/index.json", dir);
	write_file(p, im->index, strlen(im->index));
	free(p);
	write_blob(dir, &im->layer[0]);
	write_blob(dir, &im->layer[1]);
	write_blob(dir, &im->config);
	write_blob(dir, &im->manifest);
	return dir;
}

/* A tar written by hand (ustar), so that hostile members can be made. */
struct tar {
	char *buf;
	size_t len, cap;
};

static void tar_put(struct tar *t, const void *data, size_t len)
{
	size_t need = t->len + len + 512;
	if (need > t->cap) {
		t->cap = need * 2;
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf)
			exit(99);
	}
	memcpy(t->buf + t->len, data, len);
	t->len += len;
	if (len % 512) {
		memset(t->buf + t->len, 0, 512 - len % 512);
		t->len += 512 - len % 512;
	}
}

/* TYPE '0' file, '1' hard link, '2' symlink, '5' directory. */
static void tar_add(struct tar *t, const char *name, char type, const void *data, size_t len,
                    const char *link)
{
	unsigned char h[512] = {0};
	unsigned sum = 0;

	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", type == '5' ? 0755 : 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011zo", len);
	snprintf((char *)h + 136, 12, "%011o", 0);
	memset(h + 148, ' ', 8);
	h[156] = (unsigned char)type;
	if (link)
		snprintf((char *)h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	tar_put(t, h, 512);
	if (len)
		tar_put(t, data, len);
}

static void tar_file(struct tar *t, const char *name, const void *data, size_t len)
{
	tar_add(t, name, '0', data, len, NULL);
}

static void tar_blob(struct tar *t, const struct blob *b)
{
	char *n = fmt("blobs/sha256/%s", b->digest + 7);
	tar_file(t, n, b->data, b->len);
	free(n);
}

static char *tar_write(struct tar *t, const char *name)
{
	static const char zeros[1024];
	char *p = fmt("%s/%s", tmp, name);
	tar_put(t, zeros, sizeof(zeros));
	write_file(p, t->buf, t->len);
	free(t->buf);
	memset(t, 0, sizeof(*t));
	return p;
}

static void oci_members(struct tar *t, const struct image *im)
{
	tar_add(t, "blobs/", '5', NULL, 0, NULL);
	tar_add(t, "blobs/sha256/", '5', NULL, 0, NULL);
	tar_blob(t, &im->layer[0]);
	tar_blob(t, &im->config);
	tar_blob(t, &im->layer[1]);
	tar_blob(t, &im->manifest);
	tar_file(t, "index.json", im->index, strlen(im->index));
	tar_file(t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
}

/* FILE compressed with gzip into FILE.gz (libarchive's "raw" writer). */
static char *gzip_file(const char *file)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	char *out = fmt("%s.gz", file), buf[65536];
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || archive_write_set_format_raw(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, out) != ARCHIVE_OK)
		exit(99);
	archive_entry_set_pathname(e, "x");
	archive_entry_set_filetype(e, AE_IFREG);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		exit(99);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(a, buf, (size_t)n) != n)
			exit(99);
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	close(fd);
	return out;
}

/* Every layer of S reads as bytes with the digest WANT[i] (S's own when
 * NULL), from a close-on-exec descriptor. */
static bool layers_read_back(const struct img_source *s, const char *const *want)
{
	for (size_t i = 0; i < s->nlayers; i++) {
		const struct img_layer *l = &s->layers[i];
		char *buf = xmalloc(l->len), got[72];
		bool ok = sif_pread_full(l->fd, buf, l->len, (int64_t)l->off) == 0;
		if (ok)
			sha(buf, l->len, got);
		free(buf);
		if (!ok || strcmp(got, want ? want[i] : l->digest) != 0 ||
		    !(fcntl(l->fd, F_GETFD) & FD_CLOEXEC)) {
			printf("#   layer %zu: fd %d off %llu len %llu\n", i, l->fd,
			       (unsigned long long)l->off, (unsigned long long)l->len);
			return false;
		}
	}
	return true;
}

static bool source_is(const struct img_source *s, const struct image *im, bool oci)
{
	return s->nlayers == 2 && s->config_len == im->config.len &&
	       !memcmp(s->config, im->config.data, im->config.len) && !s->config[s->config_len] &&
	       !strcmp(s->config_digest, im->config.digest) && s->created == 1704161045 &&
	       !strcmp(s->layers[0].diff_id, D1) && !strcmp(s->layers[1].diff_id, D2) &&
	       (oci ? !strcmp(s->manifest_digest, im->manifest.digest) &&
	              !strcmp(s->layers[1].digest, im->layer[1].digest) &&
	              s->layers[1].size == (int64_t)im->layer[1].len &&
	              s->layers[0].comp == IMG_COMP_GZIP
	            : !s->manifest_digest[0] && !s->layers[0].digest[0] &&
	              s->layers[0].comp == IMG_COMP_DETECT);
}

/* Open SPEC as KIND: it must fail with a one-line message holding WANT. */
static void refused(enum img_kind kind, const char *spec, const char *want, const char *what)
{
	struct img_source s;
	struct sif_err e = {0};
	int r = img_source_open(&s, kind, spec, "amd64", &e);
	tap_ok(r < 0 && one_line(&e) && has(&e, want) && !s.layers && !s.config && !s.priv,
	       "refused: %s", what);
	printf("# %s\n", e.msg);
	if (r == 0)
		img_source_close(&s);
}

static void test_oci_dir(void)
{
	struct image im;
	struct img_source s;
	struct sif_err e = {0};
	enum img_kind kind = IMG_DOCKER_ARCHIVE;
	char *dir, *spec, *p;
	int r;

	image_make(&im, "application/vnd.oci.image.layer.v1.tar+gzip");
	dir = layout_dir(&im, "lay:out");
	r = img_source_open(&s, IMG_OCI_DIR, dir, "amd64", &e);
	tap_ok(r == 0, "OCI directory (with a ':' in its name) opened (%s)", e.msg);
	if (r == 0) {
		tap_ok(s.kind == IMG_OCI_DIR && source_is(&s, &im, true), "its manifest and config");
		tap_ok(layers_read_back(&s, NULL), "its layers read back as their blobs");
		img_source_close(&s);
		tap_ok(!s.layers && !s.config && !s.priv, "closed");
		img_source_close(&s);
	}
	spec = fmt("%s:t", dir);
	r = img_source_open(&s, IMG_OCI_DIR, spec, "amd64", &e);
	tap_ok(r == 0 && source_is(&s, &im, true), "DIR:TAG (%s)", e.msg);
	if (r == 0)
		img_source_close(&s);
	tap_ok(img_source_detect(dir, &kind) == 1 && kind == IMG_OCI_DIR, "detected: OCI directory");
	kind = IMG_DOCKER_ARCHIVE;
	tap_ok(img_source_detect(spec, &kind) == 1 && kind == IMG_OCI_DIR, "detected: DIR:TAG");
	free(spec);
	spec = fmt("%s:nope", dir);
	refused(IMG_OCI_DIR, spec, "no image is tagged \"nope\" (tags: t)", "an unknown tag");
	free(spec);
	spec = fmt("%s/none", tmp);
	refused(IMG_OCI_DIR, spec, "No such file or directory", "a missing directory");
	free(spec);
	refused(IMG_OCI_DIR, "/etc/passwd", "not a directory", "a file as a directory");

	/* a layer blob of the wrong size */
	p = fmt("%s/blobs/sha256/%s", dir, im.layer[1].digest + 7);
	write_file(p, "short", 5);
	refused(IMG_OCI_DIR, dir, "layer 2 (blobs/sha256/", "a layer blob of the wrong size");
	/* a layer blob that is a symbolic link */
	unlink(p);
	if (symlink("/etc/passwd", p) < 0)
		exit(99);
	refused(IMG_OCI_DIR, dir, "is a symbolic link", "a layer blob that is a symbolic link");
	/* one that is a FIFO: refused, without blocking */
	unlink(p);
	if (mkfifo(p, 0600) < 0)
		exit(99);
	refused(IMG_OCI_DIR, dir, "is not a regular file", "a layer blob that is a FIFO");
	/* a missing one */
	unlink(p);
	refused(IMG_OCI_DIR, dir, "layer 2 names blobs/sha256/", "a missing layer blob");
	free(p);
	write_blob(dir, &im.layer[1]);

	/* a manifest whose bytes do not match its digest */
	p = fmt("%s/blobs/sha256/%s", dir, im.manifest.digest + 7);
	im.manifest.data[im.manifest.len - 1] = ' ';
	write_file(p, im.manifest.data, im.manifest.len);
	refused(IMG_OCI_DIR, dir, "does not match its digest", "a manifest changed");
	im.manifest.data[im.manifest.len - 1] = '}';
	write_file(p, im.manifest.data, im.manifest.len - 1);
	refused(IMG_OCI_DIR, dir, "but its descriptor says", "a manifest of the wrong size");
	write_file(p, im.manifest.data, im.manifest.len);
	free(p);

	/* a config whose diff_ids are one short */
	p = fmt("%s/blobs/sha256/%s", dir, im.config.digest + 7);
	write_file(p, "x", 1);
	refused(IMG_OCI_DIR, dir, "but its descriptor says", "a config of the wrong size");
	write_blob(dir, &im.config);
	free(p);
	image_free(&im);

	struct image im2;
	char *c2 = fmt("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]}}");
	image_make(&im2, "application/vnd.oci.image.layer.v1.tar");
	free(im2.config.data);
	blob_set(&im2.config, c2, strlen(c2));
	free(im2.manifest.data);
	free(im2.index);
	/* remake the manifest and index for the new config */
	{
		char *m = fmt("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CFG "\",\"digest\":"
		              "\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci."
		              "image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu},{\"mediaType\":"
		              "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
		              im2.config.digest, im2.config.len, im2.layer[0].digest, im2.layer[0].len,
		              im2.layer[1].digest, im2.layer[1].len);
		blob_set(&im2.manifest, m, strlen(m));
		im2.index = fmt("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_MAN "\","
		                "\"digest\":\"%s\",\"size\":%zu}]}", im2.manifest.digest,
		                im2.manifest.len);
	}
	free(dir);
	dir = layout_dir(&im2, "short-config");
	refused(IMG_OCI_DIR, dir, "rootfs.diff_ids has 1 entries, but the image has 2 layers",
	        "diff_ids fewer than the layers");
	image_free(&im2);

	/* a nested index choosing by platform */
	image_make(&im, "application/vnd.oci.image.layer.v1.tar+zstd");
	free(dir);
	dir = layout_dir(&im, "multi");
	{
		struct blob nested;
		char *n = fmt("{\"schemaVersion\":2,\"mediaType\":\"" MT_IDX "\",\"manifests\":["
		              "{\"mediaType\":\"" MT_MAN "\",\"digest\":\"" D1 "\",\"size\":5,"
		              " \"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
		              "{\"mediaType\":\"" MT_MAN "\",\"digest\":\"%s\",\"size\":%zu,"
		              " \"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
		              im.manifest.digest, im.manifest.len);
		blob_set(&nested, n, strlen(n));
		write_blob(dir, &nested);
		p = fmt("%s/index.json", dir);
		free(im.index);
		im.index = fmt("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_IDX "\","
		               "\"digest\":\"%s\",\"size\":%zu}]}", nested.digest, nested.len);
		write_file(p, im.index, strlen(im.index));
		free(p);
		free(nested.data);
	}
	r = img_source_open(&s, IMG_OCI_DIR, dir, "amd64", &e);
	tap_ok(r == 0 && s.nlayers == 2 && s.layers[0].comp == IMG_COMP_ZSTD &&
	       !strcmp(s.manifest_digest, im.manifest.digest), "nested index: linux/amd64 (%s)",
	       e.msg);
	if (r == 0)
		img_source_close(&s);
	r = img_source_open(&s, IMG_OCI_DIR, dir, "arm64", &e);
	tap_ok(r < 0 && one_line(&e) && has(&e, "names blobs/sha256/1111"),
	       "nested index: linux/arm64 names a missing manifest");
	r = img_source_open(&s, IMG_OCI_DIR, dir, "riscv64", &e);
	tap_ok(r < 0 && has(&e, "no image for linux/riscv64 (it has: linux/arm64, linux/amd64)"),
	       "nested index: no riscv64");
	p = fmt("%s/oci-layout", dir);
	unlink(p);
	refused(IMG_OCI_DIR, dir, "no oci-layout in the layout", "no oci-layout");
	kind = IMG_OCI_DIR;
	tap_ok(img_source_detect(dir, &kind) == 0, "not detected without oci-layout");
	free(p);
	free(dir);
	image_free(&im);
}

static void test_oci_archive(void)
{
	struct image im;
	struct img_source s;
	struct sif_err e = {0};
	struct tar t = {0};
	enum img_kind kind;
	char *file, *spec, *gz;
	int r;

	image_make(&im, "application/vnd.oci.image.layer.v1.tar+gzip");
	oci_members(&t, &im);
	file = tar_write(&t, "oci.tar");
	spec = fmt("%s:t", file);
	r = img_source_open(&s, IMG_OCI_ARCHIVE, spec, "amd64", &e);
	tap_ok(r == 0, "OCI archive opened (%s)", e.msg);
	if (r == 0) {
		tap_ok(s.kind == IMG_OCI_ARCHIVE && source_is(&s, &im, true), "its manifest and config");
		tap_ok(layers_read_back(&s, NULL), "its layers are ranges of the archive");
		tap_ok(s.layers[0].fd == s.layers[1].fd, "one descriptor for both layers");
		img_source_close(&s);
	}
	kind = IMG_OCI_DIR;
	tap_ok(img_source_detect(file, &kind) == 1 && kind == IMG_OCI_ARCHIVE,
	       "detected: OCI archive");
	gz = gzip_file(file);
	free(spec);
	spec = fmt("%s:t", gz);
	setenv("SIF_TMPDIR", tmp, 1);
	r = img_source_open(&s, IMG_OCI_ARCHIVE, spec, "amd64", &e);
	tap_ok(r == 0 && source_is(&s, &im, true) && layers_read_back(&s, NULL),
	       "a gzip-compressed OCI archive: spooled (%s)", e.msg);
	if (r == 0) {
		char link[64], target[256];
		ssize_t n;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", s.layers[0].fd);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		tap_ok(strstr(target, "(deleted)") != NULL, "the spool is an unlinked file (%s)", target);
		img_source_close(&s);
	}
	kind = IMG_OCI_DIR;
	tap_ok(img_source_detect(gz, &kind) == 1 && kind == IMG_OCI_ARCHIVE,
	       "detected: a compressed OCI archive");
	setenv("SIF_TMPDIR", "/nonexistent/dir", 1);
	refused(IMG_OCI_ARCHIVE, spec, "set SIF_TMPDIR", "nowhere to spool");
	setenv("SIF_TMPDIR", tmp, 1);
	free(gz);
	free(spec);
	free(file);

	/* a truncated archive (cut in the middle of the big layer) */
	oci_members(&t, &im);
	t.len = 512 * 4 + 50000;
	file = tar_write(&t, "cut.tar");
	refused(IMG_OCI_ARCHIVE, file, "damaged tar archive", "a truncated archive");
	free(file);

	/* a member twice */
	oci_members(&t, &im);
	tar_file(&t, "index.json", im.index, strlen(im.index));
	file = tar_write(&t, "dup.tar");
	refused(IMG_OCI_ARCHIVE, file, "member index.json appears more than once", "a duplicate");
	free(file);

	/* a member stored with an absolute name */
	tar_blob(&t, &im.layer[0]);
	tar_blob(&t, &im.layer[1]);
	tar_blob(&t, &im.config);
	tar_blob(&t, &im.manifest);
	tar_file(&t, "/index.json", im.index, strlen(im.index));
	tar_file(&t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	file = tar_write(&t, "abs.tar");
	refused(IMG_OCI_ARCHIVE, file, "absolute path or a \"..\"", "an absolute member name");
	free(file);

	/* a blob missing */
	tar_blob(&t, &im.layer[0]);
	tar_blob(&t, &im.config);
	tar_blob(&t, &im.manifest);
	tar_file(&t, "index.json", im.index, strlen(im.index));
	tar_file(&t, "./oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	file = tar_write(&t, "missing.tar");
	spec = fmt("%s: layer 2 names blobs/sha256/%s, which is not in the archive", file,
	           im.layer[1].digest + 7);
	refused(IMG_OCI_ARCHIVE, file, spec, "a missing layer");
	free(spec);
	free(file);

	/* a blob that is a directory */
	tar_blob(&t, &im.layer[0]);
	tar_blob(&t, &im.config);
	tar_blob(&t, &im.manifest);
	spec = fmt("blobs/sha256/%s", im.layer[1].digest + 7);
	tar_add(&t, spec, '5', NULL, 0, NULL);
	free(spec);
	tar_file(&t, "index.json", im.index, strlen(im.index));
	tar_file(&t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	file = tar_write(&t, "dir.tar");
	refused(IMG_OCI_ARCHIVE, file, "is not a regular file", "a layer that is a directory");
	free(file);

	/* not a tar at all */
	file = fmt("%s/junk", tmp);
	write_file(file, "this is not a tar archive, not at all, no", 41);
	refused(IMG_OCI_ARCHIVE, file, "not readable as a tar archive", "junk");
	kind = IMG_OCI_DIR;
	tap_ok(img_source_detect(file, &kind) == 0, "junk is not detected");
	free(file);
	image_free(&im);
}

static void test_docker_archive(void)
{
	struct image im;
	struct img_source s;
	struct sif_err e = {0};
	struct tar t = {0};
	enum img_kind kind;
	char *file, *spec, *gz, *mj, cfgname[80];
	const char *want[3];
	int r;

	image_make(&im, "application/vnd.oci.image.layer.v1.tar");
	/* docker save before 25: ID/layer.tar, a repeated layer as a symbolic
	 * link, and here a hard link too; the config named by its digest */
	{
		char *c = fmt("{\"created\":\"2024-01-02T02:04:05Z\",\"rootfs\":{\"type\":\"layers\","
		              "\"diff_ids\":[\"" D1 "\",\"" D2 "\",\"" D1 "\"]}}");
		free(im.config.data);
		blob_set(&im.config, c, strlen(c));
		snprintf(cfgname, sizeof(cfgname), "%.64s.json", im.config.digest + 7);
	}
	tar_add(&t, "aaa/", '5', NULL, 0, NULL);
	tar_file(&t, "aaa/layer.tar", im.layer[0].data, im.layer[0].len);
	tar_file(&t, "aaa/VERSION", "1.0", 3);
	tar_file(&t, "bbb/layer.tar", im.layer[1].data, im.layer[1].len);
	tar_add(&t, "ccc/layer.tar", '2', NULL, 0, "../aaa/layer.tar");
	tar_add(&t, "ddd/layer.tar", '1', NULL, 0, "bbb/layer.tar");
	tar_file(&t, cfgname, im.config.data, im.config.len);
	mj = fmt("[{\"Config\":\"%s\",\"RepoTags\":[\"busybox:latest\"],\"Layers\":[\"aaa/layer.tar\","
	         "\"ddd/layer.tar\",\"./ccc/layer.tar\"]},{\"Config\":\"%s\",\"RepoTags\":"
	         "[\"other:1\"],\"Layers\":[\"aaa/layer.tar\",\"bbb/layer.tar\",\"ccc/nothing\"]}]",
	         cfgname, cfgname);
	tar_file(&t, "manifest.json", mj, strlen(mj));
	free(mj);
	file = tar_write(&t, "docker.tar");
	refused(IMG_DOCKER_ARCHIVE, file, "holds 2 images", "two images, none named");
	spec = fmt("%s:busybox", file);
	r = img_source_open(&s, IMG_DOCKER_ARCHIVE, spec, "amd64", &e);
	tap_ok(r == 0, "docker archive opened (%s)", e.msg);
	want[0] = want[2] = im.layer[0].digest;
	want[1] = im.layer[1].digest;
	if (r == 0) {
		tap_ok(s.kind == IMG_DOCKER_ARCHIVE && s.nlayers == 3 && !s.manifest_digest[0] &&
		       !strcmp(s.config_digest, im.config.digest) && s.created == 1704161045 &&
		       !strcmp(s.layers[2].diff_id, D1) && s.layers[1].comp == IMG_COMP_DETECT &&
		       !s.layers[0].digest[0] && s.layers[1].size == (int64_t)im.layer[1].len,
		       "its config and layers");
		tap_ok(layers_read_back(&s, want), "symbolic and hard links lead to the layer data");
		img_source_close(&s);
	}
	free(spec);
	spec = fmt("%s:docker.io/library/other:1", file);
	refused(IMG_DOCKER_ARCHIVE, spec, "manifest.json: layer 3 names ccc/nothing, which is not in "
	        "the archive", "a missing layer, with the image named by its full name");
	free(spec);
	kind = IMG_OCI_DIR;
	tap_ok(img_source_detect(file, &kind) == 1 && kind == IMG_DOCKER_ARCHIVE,
	       "detected: docker archive");
	gz = gzip_file(file);
	spec = fmt("%s:busybox:latest", gz);
	r = img_source_open(&s, IMG_DOCKER_ARCHIVE, spec, "amd64", &e);
	tap_ok(r == 0 && s.nlayers == 3 && layers_read_back(&s, want),
	       "docker save | gzip: spooled (%s)", e.msg);
	if (r == 0)
		img_source_close(&s);
	kind = IMG_OCI_DIR;
	tap_ok(img_source_detect(gz, &kind) == 1 && kind == IMG_DOCKER_ARCHIVE,
	       "detected: a compressed docker archive");
	free(spec);
	free(gz);
	free(file);

	/* docker save 25+: an OCI layout with a manifest.json beside it */
	oci_members(&t, &im);
	{
		char *m = fmt("[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":[\"x/y:z\"],\"Layers\":"
		              "[\"blobs/sha256/%s\",\"blobs/sha256/%s\",\"blobs/sha256/%s\"]}]",
		              im.config.digest + 7, im.layer[0].digest + 7, im.layer[1].digest + 7,
		              im.layer[0].digest + 7);
		tar_file(&t, "manifest.json", m, strlen(m));
		free(m);
	}
	file = tar_write(&t, "docker25.tar");
	r = img_source_open(&s, IMG_DOCKER_ARCHIVE, file, "amd64", &e);
	tap_ok(r == 0 && s.nlayers == 3 && layers_read_back(&s, want),
	       "docker 25 archive (blobs/sha256 paths) (%s)", e.msg);
	if (r == 0)
		img_source_close(&s);
	kind = IMG_OCI_ARCHIVE;
	tap_ok(img_source_detect(file, &kind) == 1 && kind == IMG_DOCKER_ARCHIVE,
	       "docker 25 archive: detected as a docker archive");
	free(file);

	/* hostile links and members */
	static const struct { const char *type, *link, *want, *what; } bad[] = {
		{ "2", "../../etc/passwd", "links outside the archive", "a symlink climbing out" },
		{ "2", "/etc/passwd", "links to the absolute path", "an absolute symlink" },
		{ "2", "layer.tar", "too many levels of links", "a symlink to itself" },
		{ "1", "nowhere", "a link to nowhere, which is not in the archive", "a dangling link" },
		{ "3", NULL, "is not a regular file", "a character device" },
		{ "0", NULL, "which is not in the archive", "a member name with .." },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char c[256];
		snprintf(c, sizeof(c), "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]}}");
		tar_file(&t, "c.json", c, strlen(c));
		if (i == 5) {
			tar_file(&t, "x/../x/layer.tar", "abc", 3);
		} else {
			tar_add(&t, "x/layer.tar", bad[i].type[0], NULL, 0, bad[i].link);
		}
		mj = fmt("[{\"Config\":\"c.json\",\"Layers\":[\"x/layer.tar\"]}]");
		tar_file(&t, "manifest.json", mj, strlen(mj));
		free(mj);
		file = tar_write(&t, "bad.tar");
		refused(IMG_DOCKER_ARCHIVE, file, bad[i].want, bad[i].what);
		free(file);
	}
	/* a config named by a digest it does not have */
	tar_file(&t, "blobs/sha256/1111111111111111111111111111111111111111111111111111111111111111",
	         im.config.data, im.config.len);
	mj = fmt("[{\"Config\":\"blobs/sha256/1111111111111111111111111111111111111111111111111111111"
	         "111111111\",\"Layers\":[]}]");
	tar_file(&t, "manifest.json", mj, strlen(mj));
	free(mj);
	file = tar_write(&t, "badcfg.tar");
	refused(IMG_DOCKER_ARCHIVE, file, "does not match the digest in its name", "a false config name");
	free(file);
	/* layers and diff_ids disagree */
	tar_file(&t, "c.json", im.config.data, im.config.len);
	tar_file(&t, "l", "x", 1);
	mj = fmt("[{\"Config\":\"c.json\",\"Layers\":[\"l\"]}]");
	tar_file(&t, "manifest.json", mj, strlen(mj));
	free(mj);
	file = tar_write(&t, "count.tar");
	refused(IMG_DOCKER_ARCHIVE, file, "c.json: rootfs.diff_ids has 3 entries, but the image has 1",
	        "layers and diff_ids disagree");
	free(file);
	/* a GNU sparse member */
	{
		unsigned char h[512] = {0}, d[512] = {0};
		unsigned sum = 0;
		tar_file(&t, "c.json", "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]}}",
		         strlen("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]}}"));
		snprintf((char *)h, 100, "l");
		snprintf((char *)h + 100, 8, "%07o", 0644);
		snprintf((char *)h + 108, 8, "%07o", 0);
		snprintf((char *)h + 116, 8, "%07o", 0);
		snprintf((char *)h + 124, 12, "%011o", 512);
		snprintf((char *)h + 136, 12, "%011o", 0);
		memset(h + 148, ' ', 8);
		h[156] = 'S';
		memcpy(h + 257, "ustar  ", 8);
		snprintf((char *)h + 386, 12, "%011o", 4096);      /* offset */
		snprintf((char *)h + 398, 12, "%011o", 512);       /* bytes */
		snprintf((char *)h + 483, 12, "%011o", 8192);      /* real size */
		for (int i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum);
		tar_put(&t, h, 512);
		tar_put(&t, d, 512);
		mj = fmt("[{\"Config\":\"c.json\",\"Layers\":[\"l\"]}]");
		tar_file(&t, "manifest.json", mj, strlen(mj));
		free(mj);
		file = tar_write(&t, "sparse.tar");
		refused(IMG_DOCKER_ARCHIVE, file, "member l is a sparse file", "a sparse layer");
		free(file);
	}
	image_free(&im);
}

static void test_detect_misc(void)
{
	enum img_kind kind = IMG_OCI_DIR;
	char *fifo = fmt("%s/fifo", tmp);

	tap_ok(img_source_detect("/nonexistent/x", &kind) == 0, "detect: nothing there");
	tap_ok(img_source_detect("/etc", &kind) == 0, "detect: a plain directory");
	if (mkfifo(fifo, 0600) < 0)
		exit(99);
	tap_ok(img_source_detect(fifo, &kind) == 0, "detect: a FIFO is not read");
	free(fifo);
	refused(IMG_OCI_DIR, "", "no image path given", "an empty spec");
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	char *cmd;

	tmp = fmt("%s/sif-test-source.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 99;
	}
	test_digest_and_time();
	test_index();
	test_manifest();
	test_config();
	test_docker_manifest();
	test_oci_dir();
	test_oci_archive();
	test_docker_archive();
	test_detect_misc();
	cmd = fmt("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
	free(cmd);
	free(tmp);
	return tap_done();
}
