/* SPDX-License-Identifier: BSD-2-Clause */
/* bench-dropin-rusage: run a command and write its rusage (µs precision) to a file */

/*
 * Usage: bench-dropin-rusage [--pipes] OUTFILE COMMAND [ARG...]
 *
 * Used as `sftp -D "bench-dropin-rusage OUTFILE /path/sftp-server"`: stdin and
 * stdout are inherited by the server, so it speaks SFTP to the client directly
 * (`sftp -D` connects a socketpair). With --pipes the server gets two pipes instead,
 * as sshd built with USE_PIPES connects a subsystem, and this wrapper relays between
 * them and its own stdin/stdout with splice(2) (its CPU is not the server's).
 * After the server exits, one line is written to OUTFILE:
 *   user_us sys_us maxrss_kib wall_us exit_status
 * exit_status is the exit code, or 128+signal. The wrapper exits with the
 * same status so the sftp client sees what the server did.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
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

/* One direction of the relay: data waits in @in, or @out is full. */
struct flow {
	int in, out;
	bool open, out_full;
};

/* Move what @in has to @out (one of them a pipe). */
static void
relay(struct flow *f)
{
	ssize_t n = splice(f->in, NULL, f->out, NULL, 1 << 20, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n > 0 || (n < 0 && errno == EINTR))
		return;
	if (n < 0 && errno == EAGAIN) {
		/* Input empty, or output full: if input is readable, wait for the output. */
		struct pollfd p = {.fd = f->in, .events = POLLIN};
		f->out_full = poll(&p, 1, 0) == 1;
		return;
	}
	f->open = false;
}

/* Client (fd 0/1) <-> server pipes until the server closes its stdout. */
static void
relay_loop(int to_srv, int from_srv)
{
	struct flow up = {0, to_srv, true, false}, down = {from_srv, 1, true, false};
	while (down.open) {
		struct pollfd p[2] = {
		        {.fd = !up.open      ? -1
		               : up.out_full ? up.out
		                             : up.in,
		         .events = up.out_full ? POLLOUT : POLLIN},
		        {.fd = down.out_full ? down.out : down.in,
		         .events = down.out_full ? POLLOUT : POLLIN},
		};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			up.out_full = false;
			relay(&up);
			if (!up.open)
				close(to_srv);
		}
		if (p[1].revents) {
			down.out_full = false;
			relay(&down);
		}
	}
}

int
main(int argc, char **argv)
{
	struct rusage ru;
	long long start, wall;
	int status, code;
	pid_t pid;
	FILE *out;

	bool pipes = argc > 1 && strcmp(argv[1], "--pipes") == 0;
	int to_srv[2] = {-1, -1}, from_srv[2] = {-1, -1};

	if (pipes) {
		argc--;
		argv++;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: %s [--pipes] OUTFILE COMMAND [ARG...]\n", argv[0]);
		return 2;
	}
	if (pipes && (pipe(to_srv) < 0 || pipe(from_srv) < 0)) {
		perror("pipe");
		return 2;
	}
	start = now_us();
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		if (pipes && (dup2(to_srv[0], 0) < 0 || dup2(from_srv[1], 1) < 0))
			_exit(127);
		if (pipes) {
			close(to_srv[0]);
			close(to_srv[1]);
			close(from_srv[0]);
			close(from_srv[1]);
		}
		execv(argv[2], argv + 2);
		fprintf(stderr, "exec %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	if (pipes) {
		close(to_srv[0]);
		close(from_srv[1]);
		relay_loop(to_srv[1], from_srv[0]);
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
