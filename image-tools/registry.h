/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The OCI distribution client behind "sif pull": image references, the
 * registry's authentication (anonymous, Basic, Bearer tokens from the
 * WWW-Authenticate challenge), stored credentials, and the requests a pull
 * makes (manifests, blobs) over libcurl.
 *
 * Secrets (passwords, tokens, the Authorization header) are never part of
 * a message, verbose or not.
 */
#ifndef SIF_REGISTRY_H
#define SIF_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define REG_DOCKER_HUB "registry-1.docker.io"
#define REG_MAX_MANIFEST (4u << 20)   /* manifests and indexes: 4 MiB */

/* docker://[HOST[:PORT]/]REPO[:TAG|@sha256:HEX] */
struct reg_ref {
	char host[256];      /* "registry-1.docker.io", "127.0.0.1:5000" */
	char repo[256];      /* "library/ubuntu" */
	char tag[129];       /* "latest"; "" when only a digest is given */
	char digest[72];     /* "sha256:HEX", or "" */
};

/* Parse S, with or without its "docker://" prefix.  Docker Hub short names
 * resolve as Docker resolves them ("ubuntu" is
 * registry-1.docker.io/library/ubuntu:latest); the first component is a
 * host when it has a '.' or a ':' or is "localhost". */
int reg_parse_ref(const char *s, struct reg_ref *r, struct sif_err *err);
/* "HOST/REPO:TAG" or "HOST/REPO@DIGEST" into BUF. */
void reg_ref_format(const struct reg_ref *r, char *buf, size_t n);

/* A parsed WWW-Authenticate challenge. */
enum reg_scheme { REG_AUTH_NONE = 0, REG_AUTH_BASIC, REG_AUTH_BEARER };
struct reg_challenge {
	enum reg_scheme scheme;
	char realm[1024];
	char service[1024];
	char scope[1024];
};
/* Parse one header value ("Bearer realm=\"...\",service=\"...\""); 0, or
 * -EINVAL for a scheme this client does not speak or a malformed value. */
int reg_parse_challenge(const char *value, struct reg_challenge *c);

/* ---- credentials ---------------------------------------------------------
 * sif's own file, $XDG_CONFIG_HOME/sif/auth.json (else
 * ~/.config/sif/auth.json): {"auths": {"HOST": {"auth": "base64(user:pass)"}}},
 * mode 0600, updated under an OFD lock on auth.json.lock beside it; then
 * Docker's $DOCKER_CONFIG/config.json (else ~/.docker/config.json), read
 * only, with its credential helpers. */
struct reg_creds {
	char *user;
	char *pass;
};
void reg_creds_free(struct reg_creds *c);
/* The path of sif's auth file into BUF; -errno when there is no home. */
int reg_auth_path(char *buf, size_t n, struct sif_err *err);
/* Look HOST up in the auth file PATH (either format): 1 and *C when found,
 * 0 when not there (or PATH does not exist), or -errno. */
int reg_auth_file_lookup(const char *path, const char *host, struct reg_creds *c,
                         struct sif_err *err);
/* Look HOST up in sif's file, then in Docker's. */
int reg_creds_lookup(const char *host, struct reg_creds *c, struct sif_err *err);
/* Run the Docker credential helper docker-credential-HELPER (from PATH)
 * with "get", SERVER on its standard input; parse its answer
 * {"Username": ..., "Secret": ...}.  1 and *C; 0 when it has none
 * ("credentials not found"); -errno (one line naming ORIGIN, never the
 * helper's answer) when it fails, is missing, or takes over 60 s.  sif's
 * file is read first; in Docker's, credHelpers[HOST] comes before
 * credsStore, which comes before auths. */
int reg_helper_get(const char *helper, const char *server, const char *origin,
                   struct reg_creds *c, struct sif_err *err);
/* Store (USER, PASS) for HOST in PATH (NULL: sif's file), or remove HOST
 * when USER is NULL (-ENOENT when it was not there).  Written to a
 * temporary file of mode 0600 and renamed into place. */
int reg_auth_file_store(const char *path, const char *host, const char *user, const char *pass,
                        struct sif_err *err);

/* base64 (standard alphabet, padded); the result is malloc'd. */
char *reg_base64(const void *buf, size_t n);
/* Decode; returns the length, or -1.  OUT has room for strlen(in)/4*3+1. */
long reg_unbase64(const char *in, unsigned char *out);

/* ---- the client ---------------------------------------------------------- */
struct reg_opts {
	bool insecure;          /* plain HTTP to this registry */
	const char *ca_file;    /* extra CA bundle (PEM), or NULL */
	int verbose;            /* trace requests (never their secrets) */
	const struct reg_creds *creds;  /* instead of the stored ones (login) */
};

struct reg_client;

/* Timeouts, in seconds: SIF_PULL_CONNECT_TIMEOUT (a connection), SIF_PULL_
 * REQUEST_TIMEOUT (the whole of a manifest, token or ping request) and
 * SIF_PULL_STALL_TIMEOUT (any transfer moving under REG_STALL_BYTES a
 * second that long fails, and is retried).  -EINVAL for a bad value. */
#define REG_CONNECT_TIMEOUT 30
#define REG_REQUEST_TIMEOUT 120
#define REG_STALL_TIMEOUT 30
#define REG_STALL_BYTES 1024
struct reg_timeouts {
	long connect, request, stall;
};
int reg_timeouts_get(struct reg_timeouts *t, struct sif_err *err);

/* Mirrors: SIF_REGISTRY_MIRRORS is "REGISTRY=MIRROR[,MIRROR...]" entries
 * separated by ';' or white space; a MIRROR is [http://|https://]HOST[:PORT]
 * [/PREFIX] (PREFIX/REPO is the repository there).  Without a scheme a
 * mirror speaks HTTPS unless SIF_INSECURE_REGISTRIES lists it.  The
 * mirrors of HOST into OUT (at most MAX); their number, or -errno for a
 * malformed SPEC (any entry, not only HOST's). */
#define REG_MAX_MIRRORS 8
struct reg_mirror {
	char host[256];
	char prefix[256];
	int scheme;          /* 0: as SIF_INSECURE_REGISTRIES says, 1: http, 2: https */
};
int reg_mirrors_parse(const char *spec, const char *host, struct reg_mirror *out, size_t max,
                      struct sif_err *err);

/* Call once, before any thread starts (curl_global_init). */
int reg_global_init(struct sif_err *err);

/* A client for REPO on HOST (its reference, of which host and repo are
 * used).  Plain HTTP when o->insecure or when HOST is listed in
 * SIF_INSECURE_REGISTRIES (comma-separated).  Unless o->creds is given
 * (a login), the mirrors SIF_REGISTRY_MIRRORS names for HOST are tried
 * first, in order, by every manifest and blob request, each with its own
 * stored credentials; the registry itself is tried last, and its error is
 * the one reported.  Digests are verified whoever answers. */
int reg_client_open(struct reg_client **c, const struct reg_ref *ref, const struct reg_opts *o,
                    struct sif_err *err);
void reg_client_close(struct reg_client *c);

/* A manifest or index fetched by REFERENCE (a tag or a digest).  When
 * REFERENCE is a digest, the content is verified against it.  BUF is
 * malloc'd and NUL-terminated; MEDIA_TYPE is the Content-Type (without
 * parameters); DIGEST the sha256 of the bytes (which must agree with the
 * registry's Docker-Content-Digest when it sends one). */
struct reg_manifest {
	char *buf;
	size_t len;
	char media_type[128];
	char digest[72];
};
int reg_get_manifest(struct reg_client *c, const char *reference, struct reg_manifest *m,
                     struct sif_err *err);
/* HEAD of the manifest REFERENCE: 1 with DIGEST (the registry's
 * Docker-Content-Digest, unverified: use it only to look content up by
 * digest) and MEDIA_TYPE, 0 when the registry sends no digest, or -errno. */
int reg_head_manifest(struct reg_client *c, const char *reference, char digest[72],
                      char media_type[128], struct sif_err *err);
void reg_manifest_free(struct reg_manifest *m);

/* Write the blob DIGEST (SIZE bytes, -1 unknown) to FD (at its start,
 * truncating it on a retry), verifying size and digest while it streams.
 * Safe to call from several threads on one client.  PROGRESS, when not
 * NULL, is called with the bytes received by this call so far, and with 0
 * when a retry starts the file over. */
int reg_get_blob(struct reg_client *c, const char *digest, int64_t size, int fd,
                 void (*progress)(void *arg, uint64_t bytes), void *arg, struct sif_err *err);

/* GET /v2/ of the registry itself (never a mirror) with the client's
 * credentials (sif login): 0 when the registry accepts them. */
int reg_ping(struct reg_client *c, struct sif_err *err);

/* A registry host as a user names it ("docker.io", "https://host:5000/")
 * to the HOST[:PORT] requests go to, into OUT; -EINVAL if it is none. */
int reg_host_normalize(const char *in, char *out, size_t n);

/* Is HOST allowed plain HTTP by SIF_INSECURE_REGISTRIES? */
bool reg_host_insecure(const char *host);

#endif
