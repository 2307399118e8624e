/* SPDX-License-Identifier: BSD-3-Clause */
/* SHA-256 digests of streams (libcrypto), in the OCI form "sha256:HEX". */
#ifndef SIF_DIGEST_H
#define SIF_DIGEST_H

#include <stddef.h>
#include <stdint.h>

struct sif_sha256 {
	void *ctx;             /* EVP_MD_CTX */
	uint64_t bytes;        /* bytes hashed so far */
};

int sif_sha256_init(struct sif_sha256 *h);
void sif_sha256_update(struct sif_sha256 *h, const void *buf, size_t n);
/* Finish into OUT ("sha256:" + 64 hex digits + NUL, 72 bytes) and free. */
void sif_sha256_final(struct sif_sha256 *h, char out[72]);
void sif_sha256_free(struct sif_sha256 *h);
/* The digest of BUF in one call. */
int sif_sha256_buf(const void *buf, size_t n, char out[72]);

#endif
