/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the image JSON parsers of image-tools/source.c: any
 * bytes are parsed as an OCI image index, an image manifest, an image
 * config, a docker-archive manifest.json, an oci-layout file and an RFC
 * 3339 time.  What parses is then used the way img_source_open uses it
 * (choosing an image by tag and by platform); what does not must explain
 * itself in one line and leave nothing behind.  ASan/UBSan/LSan turn any
 * bad read, overflow or leak into a finding.
 * Build: ./configure CC=clang --enable-fuzzing; run: tests/fuzz/run.sh.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal is one non-empty line. */
static void check_refusal(int r, const struct sif_err *err)
{
	if (r >= 0 || !err->msg[0] || strchr(err->msg, '\n') || err->code != -r)
		abort();
}

static void check_desc(const struct img_desc *d)
{
	if (!d->media_type || !img_digest_valid(d->digest) || d->size < 0)
		abort();
}

static void fuzz_index(const uint8_t *data, size_t size)
{
	static const char *const tags[] = { NULL, "latest", "t", "" };
	static const char *const arches[] = { NULL, "amd64", "arm64", "arm/v7", "arm64/v8" };
	struct sif_err err = {0};
	struct img_index ix;
	int r = img_parse_index(data, size, &ix, &err);

	if (r < 0) {
		check_refusal(r, &err);
		if (ix.m || ix.n)
			abort();
		return;
	}
	for (size_t i = 0; i < ix.n; i++)
		check_desc(&ix.m[i]);
	for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++)
		for (size_t a = 0; a < sizeof(arches) / sizeof(arches[0]); a++)
			for (int nested = 0; nested < 2; nested++) {
				r = img_index_select(&ix, tags[t], arches[a], nested, &err);
				if (r >= 0 && (size_t)r >= ix.n)
					abort();
				if (r < 0)
					check_refusal(r, &err);
			}
	/* the tag of every entry picks an entry carrying it */
	for (size_t i = 0; i < ix.n; i++) {
		const char *tag = ix.m[i].ref_name;
		if (!tag)
			continue;
		r = img_index_select(&ix, tag, "amd64", false, &err);
		if (r >= 0 && strcmp(ix.m[r].ref_name ? ix.m[r].ref_name : "", tag) != 0 &&
		    strcmp(ix.m[r].image_name ? ix.m[r].image_name : "", tag) != 0)
			abort();
	}
	img_index_free(&ix);
	img_index_free(&ix);   /* harmless twice */
}

static void fuzz_manifest(const uint8_t *data, size_t size)
{
	static const char *const types[] = {
		NULL, "application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json",
	};
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct sif_err err = {0};
		struct img_manifest m;
		int r = img_parse_manifest(data, size, types[t], &m, &err);
		if (r < 0) {
			check_refusal(r, &err);
			if (m.layers || m.nlayers)
				abort();
			continue;
		}
		check_desc(&m.config);
		if (m.nlayers > IMG_MAX_LAYERS || m.config.size > (int64_t)IMG_MAX_JSON)
			abort();
		for (size_t i = 0; i < m.nlayers; i++) {
			const struct img_layer *l = &m.layers[i];
			if (!img_digest_valid(l->digest) || l->size < 0 || l->fd != -1 || l->diff_id[0] ||
			    l->comp < IMG_COMP_NONE || l->comp > IMG_COMP_ZSTD)
				abort();
		}
		img_manifest_free(&m);
	}
}

static void fuzz_config(const uint8_t *data, size_t size)
{
	struct sif_err err = {0};
	struct img_config c;
	int r = img_parse_config(data, size, &c, &err);

	if (r < 0) {
		check_refusal(r, &err);
		if (c.diff_ids || c.ndiff_ids)
			abort();
		return;
	}
	if (c.ndiff_ids > IMG_MAX_LAYERS || c.created < -1)
		abort();
	for (size_t i = 0; i < c.ndiff_ids; i++)
		if (!img_digest_valid(c.diff_ids[i]))
			abort();
	img_config_free(&c);
}

static void fuzz_docker(const uint8_t *data, size_t size)
{
	static const char *const refs[] = { NULL, "busybox", "repo:t", "@0", "@1",
	                                     "localhost:5000/a/b:c", "index.docker.io/x" };
	struct sif_err err = {0};
	struct img_docker_manifest dm;
	int r = img_parse_docker_manifest(data, size, &dm, &err);

	if (r < 0) {
		check_refusal(r, &err);
		if (dm.img || dm.n)
			abort();
		return;
	}
	for (size_t i = 0; i < dm.n; i++) {
		const struct img_docker_image *im = &dm.img[i];
		if (!im->config || im->nlayers > IMG_MAX_LAYERS || im->config[0] == '/')
			abort();
		for (size_t k = 0; k < im->nlayers; k++)
			if (!im->layers[k][0] || im->layers[k][0] == '/')
				abort();
		for (size_t k = 0; k < im->ntags; k++) {
			r = img_docker_select(&dm, im->repo_tags[k], &err);
			if (r < 0)
				check_refusal(r, &err);
			else if ((size_t)r >= dm.n)
				abort();
		}
	}
	for (size_t k = 0; k < sizeof(refs) / sizeof(refs[0]); k++) {
		r = img_docker_select(&dm, refs[k], &err);
		if (r < 0)
			check_refusal(r, &err);
		else if ((size_t)r >= dm.n)
			abort();
	}
	img_docker_manifest_free(&dm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sif_err err = {0};
	char *s;
	int r;

	fuzz_index(data, size);
	fuzz_manifest(data, size);
	fuzz_config(data, size);
	fuzz_docker(data, size);
	r = img_parse_oci_layout(data, size, &err);
	if (r < 0)
		check_refusal(r, &err);

	/* as a string: a time, a digest */
	s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (img_parse_time(s) < -1)
		abort();
	if (img_digest_valid(s) && strlen(s) != IMG_DIGEST_LEN)
		abort();
	free(s);
	return 0;
}
