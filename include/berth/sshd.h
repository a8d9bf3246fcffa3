/* SPDX-License-Identifier: BSD-2-Clause */
/* The libssh side of berthd: the bind (host keys, algorithms) built in the master, and
 * the per-connection network child that runs KEX, authentication (asking the monitor)
 * and pumps the sftp channel to the worker. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "berth/daemon.h"

/* Build the bind: system-wide libssh config disabled, host keys loaded from files
 * (read here, while privileged), algorithm lists applied. Errors are logged with the
 * offending file or option; returns 0 or -EINVAL. */
int sshd_bind_new(const struct berth_config *cfg, ssh_bind *ret);

/* Generate an ssh host/user key file pair (private at @path, public at @path.pub,
 * mode 0600/0644). @type is "ed25519", "rsa" (bits as given) or "ecdsa". */
int sshd_generate_key(const char *type, int bits, const char *path);

struct sshd_conn {
	int fd;                /* accepted TCP socket */
	int mon_fd;            /* socketpair to the monitor */
	const char *peer_addr; /* numeric address */
	unsigned peer_port;
	const struct berth_config *cfg;
};

/* Run one connection to the end (network child). Returns the process exit status. */
int sshd_net_run(ssh_bind bind, const struct sshd_conn *c);
