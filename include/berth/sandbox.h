/* SPDX-License-Identifier: BSD-2-Clause */
/* seccomp-bpf allow-lists for the processes that handle client bytes.
 *
 * One table of syscall rules (src/priv/sandbox.c), each rule tagged with the roles it
 * applies to; a role's filter is every rule tagged with it, checked against the
 * architecture (x86_64, aarch64), with SECCOMP_RET_KILL_PROCESS for everything else.
 * A role for the FTPS network child is added by tagging the rules it needs.
 *
 * Installed by the process itself, after its privileges are dropped and with
 * PR_SET_NO_NEW_PRIVS set, before it reads the first byte from the network (network
 * child) or the client (worker). Builds with ASan/UBSan add the syscalls the sanitizer
 * runtimes need (reports, leak checking at exit).
 */
#pragma once

#include <stddef.h>

enum sandbox_role {
	SANDBOX_NET_SSH = 0,    /* the pre-/post-auth network child: libssh, no filesystem */
	SANDBOX_WORKER = 1,     /* a session's worker: the VFS and the SFTP/scp engines */
	SANDBOX_NET_FTPS = 2,   /* the FTPS network child: TLS and the control pump, as
	                         * SANDBOX_NET_SSH */
	SANDBOX_FTP_WORKER = 3, /* the FTP worker: SANDBOX_WORKER plus TCP sockets for the
	                         * data connections (PASV listen/accept, PORT connect) */
	SANDBOX_ROLES,
};

/* Install the role's filter for the calling process (and its future threads). 0, or
 * -errno (e.g. -EINVAL on an architecture without a table, -EACCES without
 * NO_NEW_PRIVS). */
int sandbox_install(enum sandbox_role role);

/* Size of a role's policy: syscalls named in it (allowed or answered with an errno)
 * and BPF instructions of the filter. */
void sandbox_policy_size(enum sandbox_role role, size_t *ret_syscalls, size_t *ret_insns);

/* Name for logs ("network", "worker"). */
const char *sandbox_role_name(enum sandbox_role role);
