/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Image sources: where the manifest, the config and the layer blobs of an
 * OCI or Docker image come from.  A source is opened once; its config is
 * read whole and verified against its digest; each layer is a byte range of
 * an open file (a blob file of an OCI layout, or a member of an uncompressed
 * tar archive), read later by the layer applier, which verifies the blob's
 * digest and size and the uncompressed diff_id while it streams.
 *
 * New kinds of sources (the registry client) fill the same structure.
 */
#ifndef SIF_SOURCE_H
#define SIF_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "err.h"

#define IMG_DIGEST_LEN 71             /* "sha256:" + 64 hex digits */
#define IMG_MAX_LAYERS 1000
#define IMG_MAX_JSON   (4u << 20)     /* manifests, indexes, configs: 4 MiB */

enum img_comp {
	IMG_COMP_DETECT = 0,   /* no media type says (docker-archive): detect */
	IMG_COMP_NONE, IMG_COMP_GZIP, IMG_COMP_ZSTD,
};

struct img_layer {
	char digest[IMG_DIGEST_LEN + 1];  /* of the blob as stored; "" when the source has none */
	char diff_id[IMG_DIGEST_LEN + 1]; /* of the uncompressed tar (config rootfs.diff_ids) */
	int64_t size;                     /* blob size from its descriptor; -1 unknown */
	enum img_comp comp;
	int fd;                           /* owned by the source (may be shared) */
	uint64_t off, len;                /* the blob's bytes in fd */
	/* A blob still arriving (sif pull converts while it downloads): with
	 * WAIT set, FD is not used; WAIT(WAIT_CTX, NEED, &FD) blocks until the
	 * blob's first NEED bytes (NEED <= len) are in the file and returns how
	 * many are there (>= NEED), with *FD the file's descriptor (owned by
	 * the caller of the build), or -errno when the download failed.  The
	 * reader verifies the blob's digest itself as it reads. */
	int64_t (*wait)(void *wait_ctx, uint64_t need, int *fd);
	void *wait_ctx;
};

enum img_kind { IMG_OCI_DIR, IMG_OCI_ARCHIVE, IMG_DOCKER_ARCHIVE };

struct img_source {
	enum img_kind kind;
	char *config;                     /* the image config JSON, verified, NUL-terminated */
	size_t config_len;
	char config_digest[IMG_DIGEST_LEN + 1];
	char manifest_digest[IMG_DIGEST_LEN + 1]; /* "" for docker-archive */
	struct img_layer *layers;         /* bottom first */
	size_t nlayers;
	int64_t created;                  /* config "created" in seconds, or -1 */
	void *priv;
};

/* Open SPEC: for IMG_OCI_DIR "DIR[:TAG]", IMG_OCI_ARCHIVE "FILE[:TAG]",
 * IMG_DOCKER_ARCHIVE "FILE[:REPO:TAG]" (prefix already stripped).  ARCH (a
 * Go name, "amd64") picks the manifest from an index with several. */
int img_source_open(struct img_source *s, enum img_kind kind, const char *spec,
                    const char *arch, struct sif_err *err);
void img_source_close(struct img_source *s);

/* Guess the kind of an unprefixed PATH: 1 and *KIND when it is an OCI
 * layout directory, an OCI archive or a docker archive; 0 if none. */
int img_source_detect(const char *path, enum img_kind *kind);

/* Raise the soft RLIMIT_NOFILE towards the hard one so that N more
 * descriptors (one per layer blob) fit. */
void img_room_for_fds(size_t n);

/* Is S "sha256:" and 64 lowercase hex digits? */
int img_digest_valid(const char *s);

/* ---- the parsers behind img_source_open ---------------------------------
 * Pure functions of a buffer (no I/O), exposed for the unit tests and the
 * fuzz target.  JSON is parsed strictly (no duplicate keys, no trailing
 * bytes, at most IMG_MAX_JSON bytes).  Each returns 0, or a negative errno
 * (SIF_EFORMAT for bad input) with a one-line message that does not name
 * the file: callers prefix it ("image.tar: index.json: ").  After a
 * failure the result holds nothing; its free function may still be called,
 * as it may on a zeroed result. */

enum img_mtype { IMG_MT_OTHER = 0, IMG_MT_MANIFEST, IMG_MT_INDEX };

struct img_desc {                     /* an OCI content descriptor */
	char *media_type;
	enum img_mtype mtype;             /* what media_type says the blob is */
	char digest[IMG_DIGEST_LEN + 1];  /* always valid (img_digest_valid) */
	int64_t size;                     /* >= 0 */
	char *ref_name;                   /* annotation org.opencontainers.image.ref.name, or NULL */
	char *image_name;                 /* annotation io.containerd.image.name, or NULL */
	char *os, *arch, *variant;        /* its platform, NULL where not given */
};

/* An OCI image index (index.json, a nested index, a Docker manifest list). */
struct img_index {
	struct img_desc *m;
	size_t n;
};
int img_parse_index(const void *buf, size_t len, struct img_index *ix, struct sif_err *err);
void img_index_free(struct img_index *ix);

/* Which entry of IX to use: the one whose ref name (or containerd image
 * name) is TAG when TAG is not NULL, else the only one; among several
 * candidates, and always when NESTED (an index reached from another), the
 * one for platform linux/ARCH (ARCH a Go name, optionally with a variant:
 * "arm/v7"; "arm64" takes "v8" or no variant).  Returns the entry's
 * position, or a negative errno with a message listing what there is. */
int img_index_select(const struct img_index *ix, const char *tag, const char *arch, bool nested,
                     struct sif_err *err);

/* An image manifest (OCI, or Docker schema 2).  MEDIA_TYPE, when not NULL,
 * is what the descriptor pointing at it said; a "mediaType" in the
 * manifest must agree.  LAYERS have digest, size and comp set, diff_id ""
 * and fd -1. */
struct img_manifest {
	struct img_desc config;
	struct img_layer *layers;
	size_t nlayers;
};
int img_parse_manifest(const void *buf, size_t len, const char *media_type,
                       struct img_manifest *m, struct sif_err *err);
void img_manifest_free(struct img_manifest *m);

/* The compression a layer media type says, or -1 for a type that is not a
 * (possibly nondistributable) tar layer. */
int img_layer_media_type(const char *media_type, enum img_comp *comp);

/* An image config: rootfs.type must be "layers"; rootfs.diff_ids valid. */
struct img_config {
	char (*diff_ids)[IMG_DIGEST_LEN + 1];
	size_t ndiff_ids;
	int64_t created;                  /* seconds since 1970 (UTC), or -1 */
	char *os, *arch, *variant;        /* NULL where absent */
};
int img_parse_config(const void *buf, size_t len, struct img_config *c, struct sif_err *err);
void img_config_free(struct img_config *c);

/* The manifest.json of a docker-archive: [{Config, RepoTags, Layers}].
 * Paths are checked to be relative and free of ".." components. */
struct img_docker_image {
	char *config;
	char **repo_tags;
	size_t ntags;
	char **layers;
	size_t nlayers;
};
struct img_docker_manifest {
	struct img_docker_image *img;
	size_t n;
};
int img_parse_docker_manifest(const void *buf, size_t len, struct img_docker_manifest *dm,
                              struct sif_err *err);
void img_docker_manifest_free(struct img_docker_manifest *dm);

/* Which image of DM to use: the one REF names ("repo:tag", compared the
 * way Docker normalises names, so "busybox" is
 * "docker.io/library/busybox:latest"; or "@N", the Nth from 0, as skopeo
 * takes it), else the only one.  Returns its position or a negative errno. */
int img_docker_select(const struct img_docker_manifest *dm, const char *ref, struct sif_err *err);

/* oci-layout: {"imageLayoutVersion": "1.0.0"}. */
int img_parse_oci_layout(const void *buf, size_t len, struct sif_err *err);

/* RFC 3339 ("2024-01-02T03:04:05.678+01:00") to seconds since 1970 UTC;
 * -1 when S is NULL, malformed, or before 1970. */
int64_t img_parse_time(const char *s);

#endif
