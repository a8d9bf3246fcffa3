/* SPDX-License-Identifier: BSD-2-Clause */
/* seccomp filters: each role's filter installed in a forked child. The parent sees
 * "Seccomp: 2" in the child's /proc status; allowed calls work, the EACCES rules
 * answer EACCES, and a forbidden call (or another architecture's ABI) kills the child
 * with SIGSYS. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "berth/sandbox.h"

/* Child exit codes telling the parent which step failed. */
enum { OK = 0, E_INSTALL = 10, E_ALLOWED, E_EACCES, E_SURVIVED, E_SYNC };

struct child {
	pid_t pid;
	int to_parent, from_parent;
};

/* Fork a child that installs @role's filter, reports "ready", waits for "go", then
 * runs @body and _exits with its result (no atexit work inside the filter). */
static struct child
spawn(enum sandbox_role role, int (*body)(void))
{
	int up[2], down[2];
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		/* A fault must end the child, not run the test framework's handler. */
		signal(SIGSEGV, SIG_DFL);
		(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (sandbox_install(role) < 0)
			_exit(E_INSTALL);
		char c = 'r';
		if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(E_SYNC);
		_exit(body());
	}
	close(up[1]);
	close(down[0]);
	return (struct child){.pid = pid, .to_parent = up[0], .from_parent = down[1]};
}

/* Wait for "ready", check the child's /proc status, let it go; its wait status. */
static int
finish(struct child c, bool expect_filter)
{
	char ch;
	if (read(c.to_parent, &ch, 1) == 1 && expect_filter) {
		char path[64], buf[4096];
		snprintf(path, sizeof(path), "/proc/%d/status", (int)c.pid);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		assert_non_null(strstr(buf, "\nSeccomp:\t2\n"));
		assert_non_null(strstr(buf, "\nSeccomp_filters:\t1\n"));
	}
	ch = 'g';
	(void)!write(c.from_parent, &ch, 1);
	close(c.to_parent);
	close(c.from_parent);
	int st;
	while (waitpid(c.pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	return st;
}

static void
expect_exit(int st, int code)
{
	if (!WIFEXITED(st))
		fail_msg("child killed by signal %d, expected exit %d", WTERMSIG(st), code);
	assert_int_equal(WEXITSTATUS(st), code);
}

static void
expect_sigsys(int st)
{
	if (WIFEXITED(st))
		fail_msg("child exited %d instead of being killed", WEXITSTATUS(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

/* ---- network child ---- */

static int
net_allowed(void)
{
	if (write(STDOUT_FILENO, "", 0) != 0)
		return E_ALLOWED;
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || munmap(p, 4096) != 0)
		return E_ALLOWED;
	errno = 0;
	if (socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != EACCES)
		return E_EACCES;
	return OK;
}

static int
net_forbidden(void)
{
	(void)syscall(SYS_mkdirat, AT_FDCWD, "/tmp/berth-sandbox-must-not-exist", 0700);
	return E_SURVIVED;
}

static int
net_exec_memory(void)
{
	(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return E_SURVIVED;
}

static void
test_network_role(void **state)
{
	expect_exit(finish(spawn(SANDBOX_NET_SSH, net_allowed), true), OK);
	expect_sigsys(finish(spawn(SANDBOX_NET_SSH, net_forbidden), true));
	expect_sigsys(finish(spawn(SANDBOX_NET_SSH, net_exec_memory), true));
	assert_int_equal(access("/tmp/berth-sandbox-must-not-exist", F_OK), -1);
}

/* ---- worker ---- */

static int
worker_allowed(void)
{
	int fd = openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return E_ALLOWED;
	close(fd);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* syslog reconnects */
	if (fd < 0)
		return E_ALLOWED;
	close(fd);
	errno = 0;
	if (socket(AF_INET6, SOCK_STREAM, 0) != -1 || errno != EACCES)
		return E_EACCES;
	return OK;
}

static int
worker_exec(void)
{
	char *argv[] = {(char *)"/bin/true", NULL}, *envp[] = {NULL};
	(void)execve(argv[0], argv, envp);
	return E_SURVIVED;
}

static int
worker_exec_memory(void)
{
	(void)mprotect((void *)((uintptr_t)&worker_exec_memory & ~(uintptr_t)4095), 4096,
	               PROT_READ | PROT_WRITE | PROT_EXEC);
	return E_SURVIVED;
}

#if defined(__x86_64__)
/* The i386 ABI on an x86_64 kernel: another architecture for the filter. */
static int
worker_other_arch(void)
{
	long ret = 20; /* __NR_getpid on i386 */
	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
	return E_SURVIVED;
}

/* The x32 ABI: same architecture value, syscall numbers with bit 30 set. */
static int
worker_x32(void)
{
	(void)syscall(0x40000000 | SYS_getpid);
	return E_SURVIVED;
}
#endif

static void
test_worker_role(void **state)
{
	expect_exit(finish(spawn(SANDBOX_WORKER, worker_allowed), true), OK);
	expect_sigsys(finish(spawn(SANDBOX_WORKER, worker_exec), true));
	expect_sigsys(finish(spawn(SANDBOX_WORKER, worker_exec_memory), true));
#if defined(__x86_64__)
	expect_sigsys(finish(spawn(SANDBOX_WORKER, worker_x32), true));
	int st = finish(spawn(SANDBOX_WORKER, worker_other_arch), true);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV)
		printf("# i386 emulation is off in this kernel: arch check not exercised\n");
	else
		expect_sigsys(st);
#endif
}

/* ---- FTPS: the network child (as SSH's) and the FTP worker (data connections) ---- */

static int
ftp_worker_allowed(void)
{
	/* A PASV listener on loopback, as the FTP worker opens one. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return E_ALLOWED;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int one = 1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return E_ALLOWED;
	/* An active connection to it, as PORT does, and the accept. */
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		return E_ALLOWED;
	int s = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	int err = 0;
	socklen_t el = sizeof(err);
	if (s < 0 || getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el) < 0 ||
	    getpeername(s, (struct sockaddr *)&a, &al) < 0 || shutdown(s, SHUT_RDWR) < 0)
		return E_ALLOWED;
	close(s);
	close(c);
	close(fd);
	/* Still the worker's file system; other socket families refused. */
	fd = openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return E_ALLOWED;
	close(fd);
	errno = 0;
	if (socket(AF_PACKET, SOCK_RAW, 0) != -1 || errno != EACCES)
		return E_EACCES;
	return OK;
}

static void
test_ftps_roles(void **state)
{
	expect_exit(finish(spawn(SANDBOX_NET_FTPS, net_allowed), true), OK);
	expect_sigsys(finish(spawn(SANDBOX_NET_FTPS, net_forbidden), true));
	expect_sigsys(finish(spawn(SANDBOX_NET_FTPS, net_exec_memory), true));
	expect_exit(finish(spawn(SANDBOX_FTP_WORKER, ftp_worker_allowed), true), OK);
	expect_sigsys(finish(spawn(SANDBOX_FTP_WORKER, worker_exec), true));
	expect_sigsys(finish(spawn(SANDBOX_FTP_WORKER, worker_exec_memory), true));
	/* The SFTP worker still gets no TCP socket. */
	expect_exit(finish(spawn(SANDBOX_WORKER, worker_allowed), true), OK);
}

static void
test_sizes(void **state)
{
	for (int r = 0; r < SANDBOX_ROLES; r++) {
		size_t nsys, ninsns;
		sandbox_policy_size(r, &nsys, &ninsns);
		printf("# seccomp policy %s: %zu syscalls, %zu BPF instructions\n",
		       sandbox_role_name(r), nsys, ninsns);
		assert_true(nsys > 10 && nsys < 150);
		assert_true(ninsns > nsys && ninsns < 512);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sizes),
	        cmocka_unit_test(test_network_role),
	        cmocka_unit_test(test_worker_role),
	        cmocka_unit_test(test_ftps_roles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
