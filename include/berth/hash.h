/* SPDX-License-Identifier: BSD-2-Clause */
/* Message digests behind a small interface, so protocol engines and the VFS never include
 * OpenSSL headers (check-file, HASH/XSHA256, upload checksums). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum berth_hash_alg {
	BERTH_HASH_MD5 = 0,
	BERTH_HASH_SHA1,
	BERTH_HASH_SHA256,
	BERTH_HASH_SHA512,
	BERTH_HASH_COUNT,
};

#define BERTH_HASH_MAX 64 /* bytes of the longest digest (SHA-512) */

struct berth_hash; /* one running digest */

/* New digest of @alg. Never NULL (allocation failure is fatal, as xmalloc). */
struct berth_hash *berth_hash_new(enum berth_hash_alg alg);
void berth_hash_update(struct berth_hash *h, const void *data, size_t len);
/* Finish into @out (BERTH_HASH_MAX bytes) and start over; returns the digest length. */
size_t berth_hash_final(struct berth_hash *h, uint8_t out[BERTH_HASH_MAX]);
/* Free; NULL is fine. Returns NULL. */
struct berth_hash *berth_hash_free(struct berth_hash *h);

/* "md5", "sha1", "sha256", "sha512" (the names of draft-ietf-secsh-filexfer-extensions). */
const char *berth_hash_name(enum berth_hash_alg alg);
size_t berth_hash_len(enum berth_hash_alg alg);
/* Parse one name of @len bytes (not NUL-terminated); -EINVAL if unknown. */
int berth_hash_from_name(const char *name, size_t len, enum berth_hash_alg *ret);
/* Lower-case hex of @n bytes into @out (2 * @n + 1 bytes). */
void berth_hex(const uint8_t *in, size_t n, char *out);
