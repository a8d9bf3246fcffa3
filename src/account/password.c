/* SPDX-License-Identifier: BSD-2-Clause */
/* crypt(3) password verification (libxcrypt) with constant-time compare and dummy hashing. */
#include <crypt.h>
#include <string.h>

#include "berth/acctedit.h"
#include "berth/account.h"
#include "berth/common.h"
#include "berth/xmem.h"
#include "account-internal.h"

static const char *const accepted_prefixes[] = {
        "$y$", "$gy$", "$7$", "$6$", "$5$", "$2b$", "$2y$", "$2a$",
};

bool
password_hash_supported(const char *hash)
{
	for (size_t i = 0; i < ARRAY_SIZE(accepted_prefixes); i++)
		if (strncmp(hash, accepted_prefixes[i], strlen(accepted_prefixes[i])) == 0)
			return true;
	return false;
}

static bool
ct_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	volatile unsigned char diff = (unsigned char)(la != lb);
	size_t n = MIN(la, lb);

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* crypt_rn() into heap scratch (struct crypt_data is ~32 KiB); wipes the scratch. */
static char *
hash_with(const char *password, const char *setting)
{
	struct crypt_data *data = xcalloc(1, sizeof(*data));
	char *out = NULL;
	const char *h = crypt_rn(password, setting, data, (int)sizeof(*data));

	if (h && h[0] != '*')
		out = xstrdup(h);
	freezero(data, sizeof(*data));
	return out;
}

int
berth_password_verify(const char *hash, const char *password)
{
	_cleanup_free_ char *computed = NULL;
	bool ok;

	if (!hash || !password || !password_hash_supported(hash))
		return -EINVAL;
	computed = hash_with(password, hash);
	if (!computed)
		return -EINVAL;
	ok = ct_equal(computed, hash);
	explicit_bzero(computed, strlen(computed));
	return ok ? 0 : BERTH_ACCOUNT_E_MISMATCH;
}

char *
password_make_dummy(const char *template_hash)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];

	/* The dummy is only ever used as a crypt(3) setting whose result is thrown away
	 * (password_dummy_run), so the real hash of the first account does: same
	 * algorithm, cost and salt, hence the same time, and nothing is computed at load
	 * (each connection's monitor loads the accounts file). */
	if (template_hash && password_hash_supported(template_hash))
		return xstrdup(template_hash);
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting)))
		return xstrdup(setting);
	return xstrdup("$6$berthdummysalt$"); /* unreachable on libxcrypt */
}

int
password_dummy_run(const char *dummy_hash, const char *password)
{
	_cleanup_free_ char *computed = hash_with(password ? password : "", dummy_hash);

	if (computed) {
		/* Same comparison work as a real check; the result is ignored. */
		(void)ct_equal(computed, dummy_hash);
		explicit_bzero(computed, strlen(computed));
	}
	return BERTH_ACCOUNT_E_MISMATCH;
}

int
berth_password_hash(const char *password, char **ret)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];

	if (!password || !*password)
		return -EINVAL;
	errno = 0;
	/* NULL random bytes: libxcrypt takes a fresh salt from the kernel. */
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting)))
		return errno ? -errno : -EINVAL;
	char *h = hash_with(password, setting);
	explicit_bzero(setting, sizeof(setting));
	if (!h)
		return -EINVAL;
	*ret = h;
	return 0;
}
