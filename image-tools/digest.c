/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"

int sif_sha256_init(struct sif_sha256 *h)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	h->bytes = 0;
	h->ctx = c;
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		h->ctx = NULL;
		return -ENOMEM;
	}
	return 0;
}

void sif_sha256_update(struct sif_sha256 *h, const void *buf, size_t n)
{
	if (n) {
		EVP_DigestUpdate(h->ctx, buf, n);
		h->bytes += n;
	}
}

void sif_sha256_final(struct sif_sha256 *h, char out[72])
{
	unsigned char md[32];
	unsigned len = 0;
	static const char hex[] = "0123456789abcdef";

	EVP_DigestFinal_ex(h->ctx, md, &len);
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[71] = '\0';
	sif_sha256_free(h);
}

void sif_sha256_free(struct sif_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int sif_sha256_buf(const void *buf, size_t n, char out[72])
{
	struct sif_sha256 h;
	int r = sif_sha256_init(&h);

	if (r < 0)
		return r;
	sif_sha256_update(&h, buf, n);
	sif_sha256_final(&h, out);
	return 0;
}
