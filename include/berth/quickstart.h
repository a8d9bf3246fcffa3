/* SPDX-License-Identifier: BSD-2-Clause */
/* `berthd --quickstart [DIR]`: state directory with host keys and a demo account. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "berth/tls.h"

#define QUICKSTART_ROOT_DIR "/var/lib/berth/quickstart"
#define QUICKSTART_PORT     2222
#define QUICKSTART_ADDR     "127.0.0.1"
/* FTPS: explicit (AUTH TLS) and implicit TLS, self-signed certificate in the state dir. */
#define QUICKSTART_FTPS_PORT          2121
#define QUICKSTART_FTPS_IMPLICIT_PORT 2990
#define QUICKSTART_FTPS_CERT          "ftps_cert.pem"
#define QUICKSTART_FTPS_KEY           "ftps_key.pem"

struct quickstart_info {
	bool created_keys;
	bool created_account;
	char password[64];   /* only when created_account: print once */
	char *password_file; /* heap */
	bool created_cert;   /* a new self-signed FTPS certificate was written */
	char ftps_fingerprint
	        [BERTH_TLS_FINGERPRINT_LEN]; /* SHA-256 of the FTPS certificate, "AB:CD:..." */
};

/* /var/lib/berth/quickstart as root, else $PWD/berth-state. */
int quickstart_default_dir(char **ret);
/* Create (or reuse) @dir: host keys, the self-signed FTPS certificate, demo jail,
 * accounts file, authorized_keys. */
int quickstart_prepare(const char *dir, struct quickstart_info *info);
/* The accounts-file text for the demo account (berth-accounts(5) syntax). */
char *quickstart_accounts_text(const char *hash, const char *root, const char *authorized_keys,
                               uid_t uid, gid_t gid);
