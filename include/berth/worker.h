/* SPDX-License-Identifier: BSD-2-Clause */
/* The post-authentication worker: runs the SFTP engine as the account, jailed by the
 * VFS, over a socketpair to the network child. */
#pragma once

#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include "berth/account.h"
#include "berth/conf.h"
#include "berth/ftpsd.h"

struct berth_accounts;

struct worker_params {
	const struct berth_config *cfg;
	const struct berth_account *acct;
	bool privileged; /* switch to the account's uid/gid/groups */
	bool log_stderr; /* the worker logs to stderr (else syslog) */
	const char *peer_addr;
	unsigned peer_port;
	const char *scp_command; /* legacy scp session (exec command line); NULL = sftp */
	int policy_fd;     /* the account's encoded policy (policy_encode()), read by the worker */
	int state_fd;      /* the account's shared state file (policy_state_open()) or -1 */
	int live_fd;       /* the session's status page (live_status_create()), if has_live_fd */
	bool has_live_fd;  /* (so a zeroed struct never passes stdin as the page) */
	int audit_fd;      /* the worker's end of the transfer-record socket (audit.h), if */
	bool has_audit_fd; /* has_audit_fd */
	/* An FTP session (NULL for SFTP): the FTP driver's FTPS_WORKER_NARGS arguments from
	 * ftps_worker_args(). */
	char *const *ftps_args;
};

#define WORKER_ARGV_MARK     "--internal-worker"
#define WORKER_FTP_ARGV_MARK "--internal-ftp-worker"
/* argv[1] of a re-executed worker (either mode). */
#define WORKER_IS_MARK(s)                                                                          \
	(strcmp((s), WORKER_ARGV_MARK) == 0 || strcmp((s), WORKER_FTP_ARGV_MARK) == 0)

/* The worker's argv: WORKER_ARGC arguments (+ FTPS_WORKER_NARGS for FTP) and NULL. */
#define WORKER_ARGC 18
#define WORKER_NFDS 5 /* session, policy, state, status page, records: fds 3..7 */
struct worker_argv {
	char umask_s[16], port_s[16], level_s[16], fac_s[16];
	char *argv[WORKER_ARGC + FTPS_WORKER_NARGS + 1];
};
/* Start the worker through the spawner (spawner_spawn() errors: without a spawner the
 * caller falls back to fork() + worker_run()). */
int worker_spawn(const struct worker_params *p, int fd, pid_t *ret_pid, int *ret_exit_fd);
/* Move @fds (session, policy, state, page, records; -1 = none) to 3..7 and close every
 * other descriptor above stderr. */
int worker_place_fds(const int fds[WORKER_NFDS]);
/* Become the account, then re-execute berthd in worker mode serving SFTP (or, with
 * p->scp_command, the scp protocol; with @p->ftps_args, FTP) on @fd.
 * Returns only on failure (the exit status). */
int worker_run(const struct worker_params *p, int fd);
/* main() of the re-executed worker (argv[1] == WORKER_ARGV_MARK). */
int worker_exec_main(int argc, char **argv);
