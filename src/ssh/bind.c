/* SPDX-License-Identifier: BSD-2-Clause */
/* The libssh bind (host keys, algorithms) and key-file helpers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/daemon.h"
#include "berth/log.h"
#include "berth/sshd.h"
#include "berth/xmem.h"

static int
bind_opt(ssh_bind b, enum ssh_bind_options_e opt, const char *name, const char *value)
{
	if (!value)
		return 0;
	if (ssh_bind_options_set(b, opt, value) < 0) {
		log_error("%s %s: not supported by libssh: %s", name, value, ssh_get_error(b));
		return -EINVAL;
	}
	return 0;
}

int
sshd_bind_new(const struct berth_config *cfg, ssh_bind *ret)
{
	ssh_init();
	ssh_bind b = ssh_bind_new();
	if (!b)
		return -ENOMEM;
	bool no = false;
	/* Never read /etc/ssh/libssh_server_config: our settings are the only ones. */
	ssh_bind_options_set(b, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no);
	int min_rsa = (int)MAX(cfg->required_rsa_size, 3072u);
	ssh_bind_options_set(b, SSH_BIND_OPTIONS_RSA_MIN_SIZE, &min_rsa);
	int r = 0;
	r |= bind_opt(b, SSH_BIND_OPTIONS_KEY_EXCHANGE, "KexAlgorithms",
	              cfg->kex_algorithms ? cfg->kex_algorithms : DAEMON_DEFAULT_KEX);
	r |= bind_opt(b, SSH_BIND_OPTIONS_CIPHERS_C_S, "Ciphers",
	              cfg->ciphers ? cfg->ciphers : DAEMON_DEFAULT_CIPHERS);
	r |= bind_opt(b, SSH_BIND_OPTIONS_CIPHERS_S_C, "Ciphers",
	              cfg->ciphers ? cfg->ciphers : DAEMON_DEFAULT_CIPHERS);
	r |= bind_opt(b, SSH_BIND_OPTIONS_HMAC_C_S, "MACs",
	              cfg->macs ? cfg->macs : DAEMON_DEFAULT_MACS);
	r |= bind_opt(b, SSH_BIND_OPTIONS_HMAC_S_C, "MACs",
	              cfg->macs ? cfg->macs : DAEMON_DEFAULT_MACS);
	r |= bind_opt(b, SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES, "PubkeyAcceptedAlgorithms",
	              cfg->pubkey_accepted_algorithms ? cfg->pubkey_accepted_algorithms
	                                              : DAEMON_DEFAULT_PUBKEY_ALGS);
	if (r) {
		ssh_bind_free(b);
		return -EINVAL;
	}
	size_t loaded = 0;
	for (size_t i = 0; i < cfg->n_host_keys; i++) {
		const char *path = cfg->host_keys[i];
		if (access(path, R_OK) < 0) {
			log_error("HostKey %s: %m", path);
			continue;
		}
		if (ssh_bind_options_set(b, SSH_BIND_OPTIONS_HOSTKEY, path) < 0) {
			log_error("HostKey %s: cannot load: %s", path, ssh_get_error(b));
			continue;
		}
		loaded++;
	}
	if (!loaded) {
		log_error("no usable host keys");
		ssh_bind_free(b);
		return -ENOENT;
	}
	/* Host-key algorithms last: libssh checks them against the loaded keys. */
	if (bind_opt(b, SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, "HostKeyAlgorithms",
	             cfg->host_key_algorithms ? cfg->host_key_algorithms
	                                      : DAEMON_DEFAULT_HOSTKEY_ALGS) < 0) {
		ssh_bind_free(b);
		return -EINVAL;
	}
	*ret = b;
	return 0;
}

int
sshd_generate_key(const char *type, int bits, const char *path)
{
	enum ssh_keytypes_e t;
	if (strcmp(type, "ed25519") == 0) {
		t = SSH_KEYTYPE_ED25519;
		bits = 0;
	} else if (strcmp(type, "rsa") == 0) {
		t = SSH_KEYTYPE_RSA;
		if (bits < 3072)
			bits = 3072;
	} else if (strcmp(type, "ecdsa") == 0) {
		t = SSH_KEYTYPE_ECDSA_P256;
		bits = 256;
	} else {
		return -EINVAL;
	}
	ssh_key key = NULL;
	if (ssh_pki_generate(t, bits, &key) != SSH_OK)
		return -EIO;
	mode_t old = umask(077);
	int rc = ssh_pki_export_privkey_file(key, NULL, NULL, NULL, path);
	umask(old);
	if (rc != SSH_OK) {
		ssh_key_free(key);
		return -EIO;
	}
	chmod(path, 0600);
	char *b64 = NULL;
	int r = 0;
	if (ssh_pki_export_pubkey_base64(key, &b64) == SSH_OK) {
		_cleanup_free_ char *pub = xasprintf("%s.pub", path);
		FILE *f = fopen(pub, "we");
		if (f) {
			fprintf(f, "%s %s berthd\n", ssh_key_type_to_char(ssh_key_type(key)), b64);
			if (fclose(f) != 0)
				r = -EIO;
		} else {
			r = -errno;
		}
		ssh_string_free_char(b64);
	} else {
		r = -EIO;
	}
	ssh_key_free(key);
	return r;
}
