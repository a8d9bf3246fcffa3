/* SPDX-License-Identifier: BSD-2-Clause */
/* The FTPS side of berthd (src/ftps): the TLS server the master builds from berthd.conf,
 * the per-connection network child (TLS and the pre-login FTP engine, authentication by
 * the monitor) and the worker's FTP driver (the logged-in engine, data connections with
 * TLS resumed from the control connection). The FTP counterpart of sshd.h.
 *
 * Processes (docs/DESIGN.md, "FTPS in berthd"):
 *
 *   master (root)      ftps_server_new(): certificate chain and key, read once.
 *   monitor (root)     forks the network child, tls_server_forget_key(), checks the
 *                      password (MON_REQ_PASSWORD), spawns the worker once.
 *   network child      ftps_net_run(): privsep user, chroot; TLS on the control
 *                      connection, the pre-login engine; after login it pumps the
 *                      control connection to the worker over the control socket.
 *   worker (account)   ftps_worker_main(): the logged-in engine over the account's VFS;
 *                      PASV/PORT data connections and their TLS (resumption only).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/conf.h"

struct berth_errors;
struct tls_server;
struct vfs;

/**
 * ftps_enabled() - whether berthd.conf configures any FTPS listener.
 */
bool ftps_enabled(const struct berth_config *cfg);

/**
 * ftps_server_new() - the TLS server context of the FTPS listeners (master, as root,
 * before any fork): FTPSCertificateFile, FTPSCertificateKeyFile, FTPSMinProtocol,
 * FTPSCiphers, FTPSCipherSuites.
 * @cfg: configuration.
 * @errors: one "file: problem" line per error (may be NULL).
 * @warnings: non-fatal findings such as an expired certificate (may be NULL).
 * @ret: the server; NULL (and 0 returned) when no certificate is configured.
 *
 * Return: 0, TLS_E_CONFIG (see @errors) or -errno.
 */
int ftps_server_new(const struct berth_config *cfg, struct berth_errors *errors,
                    struct berth_errors *warnings, struct tls_server **ret);

/**
 * ftps_config_check() - the FTPS part of `berthd -t`: a certificate when a listener
 * needs TLS, the certificate and key load (tls_server_new()'s errors, with file
 * names), no listener address given twice (SSH listeners included), FTPSPassiveAddressFor
 * patterns parse.
 * @cfg: configuration.
 * @errors: receives every problem.
 * @warnings: receives warnings (expired certificate).
 *
 * Return: 0 or BERTH_CONF_E_INVALID.
 */
int ftps_config_check(const struct berth_config *cfg, struct berth_errors *errors,
                      struct berth_errors *warnings);

/**
 * ftps_passive_address() - the IPv4 address to announce in PASV replies to @peer:
 * the first FTPSPassiveAddressFor whose patterns match, else FTPSPassiveAddress, else
 * NULL (the control connection's local address).
 * @cfg: configuration.
 * @peer: numeric client address.
 *
 * Return: a string owned by @cfg, or NULL.
 */
const char *ftps_passive_address(const struct berth_config *cfg, const char *peer);

/**
 * struct ftps_conn - one accepted FTPS control connection, as the network child gets it.
 * @fd:          the accepted TCP socket.
 * @mon_fd:      socketpair to the monitor.
 * @peer_addr:   numeric peer address; @peer_port its port.
 * @peer_port:   peer port.
 * @cfg:         configuration.
 * @tls:         the master's server context (NULL without a certificate: AUTH is then
 *               refused and only an allow-plain listener can log in).
 * @implicit:    TLS from the first byte (FTPSImplicitListenAddress).
 * @allow_plain: the listener accepts plain FTP (allow-plain).
 */
struct ftps_conn {
	int fd;
	int mon_fd;
	const char *peer_addr;
	unsigned peer_port;
	const struct berth_config *cfg;
	struct tls_server *tls;
	bool implicit;
	bool allow_plain;
};

/**
 * ftps_net_run() - run one control connection to its end in the network child
 * (already chrooted and unprivileged). Returns the process exit status.
 */
int ftps_net_run(const struct ftps_conn *c);

/* The FTP worker's own arguments after the common worker arguments (worker.c). */
#define FTPS_WORKER_NARGS 8

/**
 * ftps_worker_args() - the FTP-specific worker arguments the monitor passes on the
 * worker's command line.
 * @cfg:         configuration.
 * @peer_addr:   numeric client address (selects the PASV address).
 * @local_addr:  numeric local address of the control connection (PASV listeners bind
 *               there; active connections leave from there).
 * @allow_plain: the connection came in on an allow-plain listener.
 * @out:         FTPS_WORKER_NARGS heap strings; free with ftps_worker_args_free().
 */
void ftps_worker_args(const struct berth_config *cfg, const char *peer_addr, const char *local_addr,
                      bool allow_plain, char *out[FTPS_WORKER_NARGS]);
void ftps_worker_args_free(char *out[FTPS_WORKER_NARGS]);

/**
 * struct ftps_worker_session - who the worker serves (from the common worker arguments).
 * @user:      account name.
 * @peer_addr: numeric client address.
 * @peer_port: client port (text).
 * @read_only: the session is read-only (MLSx "perm" hint; the VFS enforces).
 * @seccomp:   install the SANDBOX_FTP_WORKER filter before the first command is handled.
 */
struct ftps_worker_session {
	const char *user;
	const char *peer_addr;
	const char *peer_port;
	bool read_only;
	bool seccomp;
};

/**
 * ftps_worker_main() - serve the logged-in FTP session on @fd (the control socket to the
 * network child) over @vfs until it ends. Never blocks: one poll loop over the control
 * socket, the passive listener and the data connection.
 * @vfs:  the account's VFS (jail), borrowed.
 * @s:    the session.
 * @args: the FTPS_WORKER_NARGS strings from ftps_worker_args().
 * @fd:   the control socket.
 *
 * Return: the worker's exit status.
 */
int ftps_worker_main(struct vfs *vfs, const struct ftps_worker_session *s, char *const *args,
                     int fd);
