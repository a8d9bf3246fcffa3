/* SPDX-License-Identifier: BSD-2-Clause */
/* berthd's master process: effective settings, listeners, accept loop and limits.
 *
 * The master owns the listening sockets and the libssh bind (host keys are loaded
 * here, before any fork). Per accepted connection it forks a monitor (privileged when
 * started as root) which forks the unprivileged network child; see
 * docs/design-daemon.md for the process model.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "berth/log.h"

#include "berth/conf.h"

/* Runtime facts the master resolves once (not in berthd.conf). */
struct daemon_runtime {
	bool privileged;   /* started as root: uid switches and privsep chroot */
	uid_t privsep_uid; /* unprivileged user for the pre-auth network child */
	gid_t privsep_gid;
	char *privsep_chroot; /* empty root-owned directory for that child */
	bool log_stderr;      /* logging goes to stderr (workers are told after exec) */
	/* For SIGHUP (src/daemon/reload.c): where the configuration came from. */
	const char *config_path; /* berthd.conf to re-read; NULL (quickstart): no reload */
	uint16_t port_override;  /* -p PORT, applied to every reloaded configuration */
	bool debug;              /* -d: the log level stays DEBUG across reloads */
};

/* Modern defaults; strict KEX is appended by libssh itself. */
#define DAEMON_DEFAULT_KEX                                                                         \
	"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"    \
	"ecdh-sha2-nistp521,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"          \
	"diffie-hellman-group14-sha256"
#define DAEMON_DEFAULT_CIPHERS                                                                     \
	"chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,"  \
	"aes192-ctr,aes256-ctr"
#define DAEMON_DEFAULT_MACS                                                                        \
	"hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"
#define DAEMON_DEFAULT_HOSTKEY_ALGS                                                                \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"    \
	"rsa-sha2-256"
#define DAEMON_DEFAULT_PUBKEY_ALGS                                                                 \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"    \
	"rsa-sha2-256"

/* Resolve the privsep user ("berth", else "nobody") and chroot directory. */
int daemon_runtime_init(struct daemon_runtime *rt, const struct berth_config *cfg);

/* Run the master: bind listeners, accept, fork per connection. Returns only on a fatal
 * setup error (-errno) or after SIGTERM/SIGINT (0). */
int daemon_run(const struct berth_config *cfg, const struct daemon_runtime *rt);

/**
 * daemon_check_config() - everything `berthd -t` checks (also `berthctl check`):
 * berth_config_check() (keywords, host key files, the accounts file parsed and checked)
 * and ftps_config_check() (the FTPS certificate and key loaded, listeners), then, if that
 * passed, the host keys and algorithm lists loaded into a throw-away
 * libssh bind. Problems of the first part go to @errors; the bind logs its own (log.h).
 * @cfg: loaded configuration.
 * @errors: "file:line: message" diagnostics.
 *
 * Return: 0 or BERTH_CONF_E_INVALID.
 */
int daemon_check_config(const struct berth_config *cfg, struct berth_errors *errors);
