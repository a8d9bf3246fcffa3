/* SPDX-License-Identifier: BSD-2-Clause */
/* Internals shared by the account module's files (not a public API). */
#pragma once

#include "berth/account.h"

struct vaccount {
	struct berth_account a; /* as parsed, tokens expanded */
	unsigned line;          /* "Account" line */
	unsigned root_line;     /* line that set Root (or Defaults') */
	unsigned keys_line;     /* first AuthorizedKeysFile line */
};

struct berth_accounts {
	struct vaccount *v;
	size_t n;
	char *file;
	char *dummy_hash; /* crypt setting for unknown users: the first account's hash */
	struct policy *defaults_policy; /* policy keywords of Defaults (system accounts) */
};

/* @rest without a trailing comment and the blanks before it; caller frees. */
char *accounts_strip_comment(const char *rest);

bool password_hash_supported(const char *hash);
/* Heap dummy hash: same algorithm/cost as @template_hash, else default yescrypt. */
char *password_make_dummy(const char *template_hash);
/* Hash @password against @dummy_hash and discard; returns BERTH_ACCOUNT_E_MISMATCH. */
int password_dummy_run(const char *dummy_hash, const char *password);

struct berth_account *account_dup(const struct berth_account *a);
void account_deinit(struct berth_account *a);
