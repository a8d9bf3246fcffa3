/* SPDX-License-Identifier: BSD-2-Clause */
/* Message digests (OpenSSL EVP), the only place outside the daemon that includes OpenSSL. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "berth/hash.h"

struct berth_hash {
	EVP_MD_CTX *ctx;
	const EVP_MD *md;
};

static const struct {
	const char *name;
	size_t len;
} algs[BERTH_HASH_COUNT] = {
        [BERTH_HASH_MD5] = {"md5", 16},
        [BERTH_HASH_SHA1] = {"sha1", 20},
        [BERTH_HASH_SHA256] = {"sha256", 32},
        [BERTH_HASH_SHA512] = {"sha512", 64},
};

static const EVP_MD *
md_of(enum berth_hash_alg alg)
{
	switch (alg) {
	case BERTH_HASH_MD5:
		return EVP_md5();
	case BERTH_HASH_SHA1:
		return EVP_sha1();
	case BERTH_HASH_SHA256:
		return EVP_sha256();
	case BERTH_HASH_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

struct berth_hash *
berth_hash_new(enum berth_hash_alg alg)
{
	struct berth_hash *h = calloc(1, sizeof(*h));
	if (!h || !(h->md = md_of(alg)) || !(h->ctx = EVP_MD_CTX_new()) ||
	    !EVP_DigestInit_ex(h->ctx, h->md, NULL))
		abort(); /* out of memory or a broken crypto library: nothing sensible to do */
	return h;
}

void
berth_hash_update(struct berth_hash *h, const void *data, size_t len)
{
	if (len && !EVP_DigestUpdate(h->ctx, data, len))
		abort();
}

size_t
berth_hash_final(struct berth_hash *h, uint8_t out[BERTH_HASH_MAX])
{
	unsigned int n = 0;
	if (!EVP_DigestFinal_ex(h->ctx, out, &n) || !EVP_DigestInit_ex(h->ctx, h->md, NULL))
		abort();
	return n;
}

struct berth_hash *
berth_hash_free(struct berth_hash *h)
{
	if (h) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
	}
	return NULL;
}

const char *
berth_hash_name(enum berth_hash_alg alg)
{
	return (unsigned)alg < BERTH_HASH_COUNT ? algs[alg].name : "?";
}

size_t
berth_hash_len(enum berth_hash_alg alg)
{
	return (unsigned)alg < BERTH_HASH_COUNT ? algs[alg].len : 0;
}

int
berth_hash_from_name(const char *name, size_t len, enum berth_hash_alg *ret)
{
	for (unsigned i = 0; i < BERTH_HASH_COUNT; i++) {
		if (strlen(algs[i].name) == len && memcmp(algs[i].name, name, len) == 0) {
			*ret = (enum berth_hash_alg)i;
			return 0;
		}
	}
	return -EINVAL;
}

void
berth_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}
