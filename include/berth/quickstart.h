/* SPDX-License-Identifier: BSD-2-Clause */
/* `berthd --quickstart [DIR]`: state directory with host keys and a demo account. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define QUICKSTART_ROOT_DIR "/var/lib/berth/quickstart"
#define QUICKSTART_PORT     2222
#define QUICKSTART_ADDR     "127.0.0.1"

struct quickstart_info {
	bool created_keys;
	bool created_account;
	char password[64];   /* only when created_account: print once */
	char *password_file; /* heap */
};

/* /var/lib/berth/quickstart as root, else $PWD/berth-state. */
int quickstart_default_dir(char **ret);
/* Create (or reuse) @dir: host keys, demo jail, accounts file, authorized_keys. */
int quickstart_prepare(const char *dir, struct quickstart_info *info);
/* The accounts-file text for the demo account (berth-accounts(5) syntax). */
char *quickstart_accounts_text(const char *hash, const char *root, const char *authorized_keys,
                               uid_t uid, gid_t gid);
