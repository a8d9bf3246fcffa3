/* SPDX-License-Identifier: BSD-2-Clause */
/* bench-dropin-rusage: run a command and write its rusage (µs precision) to a file */

/*
 * Usage: bench-dropin-rusage OUTFILE COMMAND [ARG...]
 *
 * Used as `sftp -D "bench-dropin-rusage OUTFILE /path/sftp-server"`: stdin and
 * stdout are inherited by the server, so it speaks SFTP to the client directly.
 * After the server exits, one line is written to OUTFILE:
 *   user_us sys_us maxrss_kib wall_us exit_status
 * exit_status is the exit code, or 128+signal. The wrapper exits with the
 * same status so the sftp client sees what the server did.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static long long
tv_us(const struct timeval *tv)
{
	return (long long)tv->tv_sec * 1000000LL + tv->tv_usec;
}

int
main(int argc, char **argv)
{
	struct rusage ru;
	long long start, wall;
	int status, code;
	pid_t pid;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: %s OUTFILE COMMAND [ARG...]\n", argv[0]);
		return 2;
	}
	start = now_us();
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		execv(argv[2], argv + 2);
		fprintf(stderr, "exec %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("wait4");
			return 2;
		}
	}
	wall = now_us() - start;
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		code = 128 + WTERMSIG(status);
	else
		code = 255;
	out = fopen(argv[1], "w");
	if (out == NULL) {
		perror(argv[1]);
		return 2;
	}
	fprintf(out, "%lld %lld %ld %lld %d\n", tv_us(&ru.ru_utime), tv_us(&ru.ru_stime),
	        ru.ru_maxrss, wall, code);
	if (fclose(out) != 0) {
		perror(argv[1]);
		return 2;
	}
	return code;
}
