/* SPDX-License-Identifier: BSD-2-Clause */
/* seccomp-bpf allow-lists per process role (see include/berth/sandbox.h).
 *
 * Modelled on OpenSSH's sandbox-seccomp-filter.c: raw BPF, no libseccomp; the
 * architecture is checked first (x32 syscall numbers never match an x86_64 rule); a
 * few calls that libraries may try harmlessly (opening or stat'ing files in the network
 * child, a socket other than AF_UNIX in the worker) fail with EACCES instead of killing;
 * mmap and mprotect are refused PROT_EXEC; everything not listed kills the process
 * (SECCOMP_RET_KILL_PROCESS: no handler can intercept it). The kernel's audit log
 * records the offending syscall number ("type=SECCOMP ... syscall=N"); the monitor logs
 * that a process died of SIGSYS. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "berth/common.h"
#include "berth/sandbox.h"
#include "berth/xmem.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#endif

/* Sanitizer runtimes (ASan, LSan at exit, UBSan reports) need more. */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif
#ifndef SANDBOX_SANITIZER
#define SANDBOX_SANITIZER 0
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + (n) * sizeof(uint64_t))
#else
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + (n) * sizeof(uint64_t) + 4)
#endif

enum rule_action {
	ALLOW,     /* allowed */
	EACCES_,   /* answered -EACCES */
	NO_EXEC,   /* allowed unless arg 2 (prot) asks for more than read/write */
	UNIX_ONLY, /* socket(AF_UNIX, ...) allowed; other families get -EACCES */
	INET_UNIX  /* socket(AF_INET/AF_INET6/AF_UNIX, ...) allowed; others get -EACCES */
};

/* The FTPS network child does what the SSH one does (I/O on its descriptors, memory,
 * clock, randomness); the FTP worker what every worker does, plus its data
 * connections (FTPW). */
#define NET    ((1u << SANDBOX_NET_SSH) | (1u << SANDBOX_NET_FTPS))
#define FTPW   (1u << SANDBOX_FTP_WORKER)
#define WORKER ((1u << SANDBOX_WORKER) | FTPW)
#define BOTH   (NET | WORKER)

struct rule {
	int nr;
	uint8_t action;
	uint8_t roles;
	bool sanitizer; /* only in sanitizer builds */
};

#define R(name, act, roles)                                                                        \
	{                                                                                          \
		__NR_##name, (act), (roles), false                                                 \
	}
#define RS(name, act, roles)                                                                       \
	{                                                                                          \
		__NR_##name, (act), (roles), true                                                  \
	}

/* The policy. Order = filter order: the busiest calls first. */
static const struct rule rules[] = {
/* Sanitizer builds only, first so they override the EACCES rules below: the
         * ASan/UBSan runtimes (raw open() of /proc files, reports) and LeakSanitizer at
         * exit (a ptrace'ing tracer task that reads /proc/self/task and maps). */
#ifdef __NR_open
        RS(open, ALLOW, BOTH),
#endif
        RS(openat, ALLOW, BOTH),
        RS(newfstatat, ALLOW, BOTH),
        RS(sigaltstack, ALLOW, BOTH),
        RS(rt_sigaction, ALLOW, BOTH),
        RS(prctl, ALLOW, BOTH),
        RS(readlinkat, ALLOW, BOTH),
#ifdef __NR_readlink
        RS(readlink, ALLOW, BOTH),
#endif
        RS(sched_getaffinity, ALLOW, BOTH),
        RS(sched_yield, ALLOW, BOTH),
        RS(prlimit64, ALLOW, BOTH),
        RS(getrlimit, ALLOW, BOTH),
        RS(clone, ALLOW, BOTH),
        RS(clone3, ALLOW, BOTH),
        RS(ptrace, ALLOW, BOTH),
        RS(wait4, ALLOW, BOTH),
        RS(waitid, ALLOW, BOTH),
        RS(getdents64, ALLOW, BOTH),
#ifdef __NR_getdents
        RS(getdents, ALLOW, BOTH),
#endif
        RS(pipe2, ALLOW, BOTH),
        RS(tgkill, ALLOW, BOTH),
        RS(kill, ALLOW, BOTH),
        RS(getppid, ALLOW, BOTH),
        RS(set_robust_list, ALLOW, BOTH),
        RS(rseq, ALLOW, BOTH),
        RS(dup, ALLOW, BOTH),
        RS(nanosleep, ALLOW, BOTH),
        RS(clock_nanosleep, ALLOW, BOTH),
        RS(uname, ALLOW, BOTH),
        RS(ioctl, ALLOW, BOTH), /* isatty(2) before a report */
        /* I/O on descriptors already open */
        R(read, ALLOW, BOTH),
        R(write, ALLOW, BOTH),
        R(readv, ALLOW, BOTH),
        R(writev, ALLOW, BOTH),
#ifdef __NR_poll
        R(poll, ALLOW, BOTH),
#endif
        R(ppoll, ALLOW, BOTH),
        R(recvfrom, ALLOW, BOTH),
        R(sendto, ALLOW, BOTH),
        R(recvmsg, ALLOW, NET),
        R(sendmsg, ALLOW, NET),
        R(close, ALLOW, BOTH),
        R(fcntl, ALLOW, BOTH),
        R(shutdown, ALLOW, NET),
        R(lseek, ALLOW, WORKER),
        R(pread64, ALLOW, WORKER),
        R(pwrite64, ALLOW, WORKER),
        /* the worker's filesystem: every path goes through openat2 in the VFS */
        R(openat2, ALLOW, WORKER),
        R(openat, ALLOW, WORKER),
        R(newfstatat, ALLOW, WORKER),
        R(fstat, ALLOW, WORKER),
        R(statx, ALLOW, WORKER),
        R(fstatfs, ALLOW, WORKER),
        R(statfs, ALLOW, WORKER),
        R(getdents64, ALLOW, WORKER),
        R(mkdirat, ALLOW, WORKER),
        R(unlinkat, ALLOW, WORKER),
        R(renameat2, ALLOW, WORKER),
        R(linkat, ALLOW, WORKER),
        R(symlinkat, ALLOW, WORKER),
        R(readlinkat, ALLOW, WORKER),
        R(fchmod, ALLOW, WORKER),
        R(fchmodat, ALLOW, WORKER),
        R(fchown, ALLOW, WORKER),
        R(fchownat, ALLOW, WORKER),
        R(utimensat, ALLOW, WORKER),
        R(ftruncate, ALLOW, WORKER),
        R(fsync, ALLOW, WORKER),
        R(fdatasync, ALLOW, WORKER),
        R(copy_file_range, ALLOW, WORKER),
        R(fadvise64, ALLOW, WORKER),
/* x86_64 names of the same operations (the VFS goes through /proc/self/fd/N for
         * chmod and realpath, and renameat without RENAME_NOREPLACE support) */
#ifdef __NR_chmod
        R(chmod, ALLOW, WORKER),
#endif
#ifdef __NR_readlink
        R(readlink, ALLOW, WORKER),
#endif
#ifdef __NR_renameat
        R(renameat, ALLOW, WORKER),
#endif
#ifdef __NR_link
        R(link, ALLOW, WORKER),
#endif
#ifdef __NR_unlink
        R(unlink, ALLOW, WORKER),
#endif
#ifdef __NR_rmdir
        R(rmdir, ALLOW, WORKER),
#endif
        R(getuid, ALLOW, WORKER),
        R(geteuid, ALLOW, WORKER),
        R(getgid, ALLOW, WORKER),
        R(getegid, ALLOW, WORKER),
        /* the FTP worker's data connections: TCP sockets it listens on (PASV) or
         * connects from (PORT), and their options (TCP_NODELAY, TCP_QUICKACK) */
        R(socket, INET_UNIX, FTPW),
        R(bind, ALLOW, FTPW),
        R(listen, ALLOW, FTPW),
        R(accept4, ALLOW, FTPW),
        R(setsockopt, ALLOW, FTPW),
        R(getsockopt, ALLOW, FTPW),
        R(getpeername, ALLOW, FTPW),
        R(getsockname, ALLOW, FTPW),
        R(shutdown, ALLOW, FTPW),
        /* syslog may reconnect /dev/log; nothing else may open a socket */
        R(socket, UNIX_ONLY, WORKER),
        R(connect, ALLOW, WORKER),
        /* libraries that look for files in the network child get EACCES */
        R(openat, EACCES_, NET),
        R(newfstatat, EACCES_, NET),
        R(statx, EACCES_, NET),
        R(socket, EACCES_, NET),
#ifdef __NR_open
        R(open, EACCES_, NET),
#endif
#ifdef __NR_stat
        R(stat, EACCES_, NET),
#endif
        R(fstat, ALLOW, NET),
        /* memory */
        R(brk, ALLOW, BOTH),
        R(mmap, NO_EXEC, BOTH),
        R(mprotect, NO_EXEC, BOTH),
        R(munmap, ALLOW, BOTH),
        R(mremap, ALLOW, BOTH),
        R(madvise, ALLOW, BOTH),
        /* time, randomness, locks */
        R(clock_gettime, ALLOW, BOTH),
        R(gettimeofday, ALLOW, BOTH),
#ifdef __NR_time
        R(time, ALLOW, BOTH),
#endif
        R(getrandom, ALLOW, BOTH),
        R(futex, ALLOW, BOTH),
        R(getpid, ALLOW, BOTH),
        R(gettid, ALLOW, BOTH),
        /* signals, timers and the end */
        R(rt_sigreturn, ALLOW, BOTH),
        R(restart_syscall, ALLOW, BOTH),
        R(rt_sigprocmask, ALLOW, BOTH),
#ifdef __NR_alarm
        R(alarm, ALLOW, NET),
#endif
        R(setitimer, ALLOW, NET),
        R(exit, ALLOW, BOTH),
        R(exit_group, ALLOW, BOTH),
};

static bool
rule_applies(const struct rule *r, enum sandbox_role role)
{
	if (!(r->roles & (1u << role)))
		return false;
	return !r->sanitizer || SANDBOX_SANITIZER;
}

/* A later rule for a syscall already named earlier never matches: skip it. */
static bool
rule_shadowed(const struct rule *r, enum sandbox_role role)
{
	for (const struct rule *p = rules; p < r; p++)
		if (p->nr == r->nr && rule_applies(p, role))
			return true;
	return false;
}

#define STMT(code, k)       ((struct sock_filter)BPF_STMT((code), (k)))
#define JUMP(code, k, t, f) ((struct sock_filter)BPF_JUMP((code), (k), (t), (f)))

/* The role's program in @out (at most @cap instructions); returns its length. */
static size_t
build(enum sandbox_role role, struct sock_filter *out, size_t cap, size_t *ret_syscalls)
{
	size_t n = 0, nsys = 0;
#define EMIT(insn)                                                                                 \
	do {                                                                                       \
		if (n < cap)                                                                       \
			out[n] = (insn);                                                           \
		n++;                                                                               \
	} while (0)
#ifdef SANDBOX_ARCH
	EMIT(STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	EMIT(JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0));
	EMIT(STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#endif
	EMIT(STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
	for (const struct rule *r = rules; r < rules + ARRAY_SIZE(rules); r++) {
		if (!rule_applies(r, role) || rule_shadowed(r, role))
			continue;
		nsys++;
		uint32_t nr = (uint32_t)r->nr;
		switch (r->action) {
		case ALLOW:
			EMIT(JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1));
			EMIT(STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
			break;
		case EACCES_:
			EMIT(JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1));
			EMIT(STMT(BPF_RET | BPF_K,
			          SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)));
			break;
		case NO_EXEC:
			EMIT(JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 4));
			EMIT(STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)));
			EMIT(JUMP(BPF_JMP | BPF_JSET | BPF_K, ~(uint32_t)(PROT_READ | PROT_WRITE),
			          0, 1));
			EMIT(STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
			EMIT(STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
			break;
		case UNIX_ONLY:
			EMIT(JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 4));
			EMIT(STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)));
			EMIT(JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1));
			EMIT(STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
			EMIT(STMT(BPF_RET | BPF_K,
			          SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)));
			break;
		case INET_UNIX:
			EMIT(JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 6));
			EMIT(STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)));
			EMIT(JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 2, 0));
			EMIT(JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 1, 0));
			EMIT(JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 1));
			EMIT(STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
			EMIT(STMT(BPF_RET | BPF_K,
			          SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)));
			break;
		}
	}
	EMIT(STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#undef EMIT
	if (ret_syscalls)
		*ret_syscalls = nsys;
	return n;
}

void
sandbox_policy_size(enum sandbox_role role, size_t *ret_syscalls, size_t *ret_insns)
{
	size_t insns = build(role, NULL, 0, ret_syscalls);
	if (ret_insns)
		*ret_insns = insns;
}

const char *
sandbox_role_name(enum sandbox_role role)
{
	switch (role) {
	case SANDBOX_NET_SSH:
		return "network";
	case SANDBOX_WORKER:
		return "worker";
	case SANDBOX_NET_FTPS:
		return "ftps network";
	case SANDBOX_FTP_WORKER:
		return "ftp worker";
	default:
		return "?";
	}
}

int
sandbox_install(enum sandbox_role role)
{
#ifndef SANDBOX_ARCH
	return -EINVAL; /* no table for this architecture */
#else
	if ((unsigned)role >= SANDBOX_ROLES)
		return -EINVAL;
	size_t n = build(role, NULL, 0, NULL);
	if (n > BPF_MAXINSNS)
		return -E2BIG;
	struct sock_filter *insns = xreallocarray(NULL, n, sizeof(*insns));
	build(role, insns, n, NULL);
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = insns};
	int r = 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		r = -errno;
	free(insns);
	return r;
#endif
}
