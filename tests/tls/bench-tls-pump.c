/* SPDX-License-Identifier: BSD-2-Clause */
/* Benchmark (never pass/fail): where should FTPS data-connection TLS terminate?
 *
 *   direct: the worker encrypts/decrypts itself (tls_conn on the data socket);
 *   pump:   the worker moves plaintext over a socketpair and a second process (the
 *           network child) terminates TLS, as the SSH side pumps its channel.
 *
 * The client is an OpenSSL client in its own process over loopback TCP (blocking
 * sockets, TLS 1.3, the default cipher: AES-128-GCM). Data comes from memory, so the
 * difference is the TLS placement alone. Prints wall time, MB/s and total CPU of all
 * processes for downloads and uploads, alternating the modes.
 *
 * Usage: bench-tls-pump [MiB per transfer (default 512)] [rounds (default 3)] */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/conf.h"
#include "berth/tls.h"
#include "berth/xmem.h"

#define CHUNK (256u * 1024)

static struct tls_server *srv;
static struct sockaddr_in addr;
static int lfd;
static uint64_t total;
static char buf[CHUNK];

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu(void)
{
	struct rusage a, b;
	getrusage(RUSAGE_SELF, &a);
	getrusage(RUSAGE_CHILDREN, &b);
	return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec +
	                b.ru_stime.tv_sec) +
	       (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
	                b.ru_stime.tv_usec) /
	               1e6;
}

static void
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			die("write");
		c += w;
		n -= (size_t)w;
	}
}

static _noreturn_ void
client(bool upload)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("connect");
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		die("SSL_connect");
	uint64_t n = 0;
	if (upload) {
		while (n < total) {
			size_t w = 0;
			if (SSL_write_ex(ssl, buf, MIN((uint64_t)CHUNK, total - n), &w) != 1)
				die("SSL_write");
			n += w;
		}
		SSL_shutdown(ssl);
		/* Wait for the server's close_notify (closing with unread tickets would
		 * reset the connection). */
		size_t r;
		while (SSL_read_ex(ssl, buf, sizeof(buf), &r) == 1)
			;
	} else {
		size_t r;
		while (SSL_read_ex(ssl, buf, sizeof(buf), &r) == 1)
			n += r;
	}
	_exit(n == total ? 0 : 1);
}

static struct tls_conn *
server_conn(int fd)
{
	struct tls_conn *c = NULL;
	if (tls_conn_new_server(srv, fd, &c) != 0)
		die("tls_conn_new_server");
	int r;
	while ((r = tls_conn_handshake(c)) == TLS_WANT_READ || r == TLS_WANT_WRITE)
		;
	if (r != 0) {
		fprintf(stderr, "handshake: %s\n", tls_conn_reason(c));
		exit(1);
	}
	return c;
}

/* TLS side of a transfer: @src plaintext fd for downloads (or -1: memory), @dst for
 * uploads (or -1: discard). */
static void
tls_side(int fd, bool upload, int plain)
{
	struct tls_conn *c = server_conn(fd);
	static char pb[CHUNK];
	if (!upload) {
		uint64_t n = 0;
		for (;;) {
			size_t len;
			if (plain >= 0) {
				ssize_t got = read(plain, pb, sizeof(pb));
				if (got < 0)
					die("read");
				if (got == 0)
					break;
				len = (size_t)got;
			} else {
				if (n == total)
					break;
				len = (size_t)MIN((uint64_t)CHUNK, total - n);
			}
			size_t off = 0;
			while (off < len) {
				size_t w = 0;
				if (tls_conn_write(c, (plain >= 0 ? pb : buf) + off, len - off,
				                   &w) != 0)
					die("tls_conn_write");
				off += w;
			}
			n += len;
		}
		while (tls_conn_shutdown(c, false) > 0)
			;
	} else {
		for (;;) {
			size_t got = 0;
			int r = tls_conn_read(c, pb, sizeof(pb), &got);
			if (r == TLS_E_CLOSED) {
				while (tls_conn_shutdown(c, false) > 0)
					;
				break;
			}
			if (r != 0)
				die("tls_conn_read");
			if (plain >= 0)
				write_all(plain, pb, got);
		}
	}
	tls_conn_free(c);
}

static double
run(bool pump, bool upload, double *ret_cpu)
{
	double c0 = cpu(), t0 = now();
	pid_t cl = fork();
	if (cl == 0)
		client(upload);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept");
	if (!pump) {
		tls_side(fd, upload, -1);
	} else {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
			die("socketpair");
		pid_t p = fork();
		if (p == 0) {
			close(sp[0]);
			tls_side(fd, upload, sp[1]);
			_exit(0);
		}
		close(sp[1]);
		close(fd);
		fd = -1;
		if (!upload) {
			for (uint64_t n = 0; n < total; n += CHUNK)
				write_all(sp[0], buf, (size_t)MIN((uint64_t)CHUNK, total - n));
		} else {
			static char wb[CHUNK];
			while (read(sp[0], wb, sizeof(wb)) > 0)
				;
		}
		close(sp[0]);
		int st;
		waitpid(p, &st, 0);
	}
	if (fd >= 0)
		close(fd);
	int st;
	waitpid(cl, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "client failed\n");
		exit(1);
	}
	*ret_cpu = cpu() - c0;
	return now() - t0;
}

int
main(int argc, char **argv)
{
	unsigned mib = argc > 1 ? (unsigned)atoi(argv[1]) : 512;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	total = (uint64_t)mib << 20;
	signal(SIGPIPE, SIG_IGN);
	memset(buf, 'b', sizeof(buf));
	char dir[] = "/tmp/berth-bench-tls-XXXXXX";
	if (!mkdtemp(dir))
		die("mkdtemp");
	_cleanup_free_ char *crt = xasprintf("%s/c.pem", dir), *key = xasprintf("%s/k.pem", dir);
	bool created;
	if (tls_selfsigned_ensure(crt, key, &created) < 0)
		die("selfsigned");
	struct tls_settings s = {.cert_file = crt, .key_file = key};
	struct berth_errors e = BERTH_ERRORS_NULL;
	if (tls_server_new(&s, &e, NULL, &srv) != 0) {
		berth_errors_print(&e, stderr);
		return 1;
	}
	unlink(crt);
	unlink(key);
	rmdir(dir);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t sl = sizeof(addr);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &sl) < 0)
		die("listen");

	printf("%u MiB per transfer, %d rounds, TLS 1.3 AES-128-GCM, loopback TCP\n", mib, rounds);
	printf("%-10s %-7s %8s %9s %8s\n", "direction", "mode", "wall s", "MB/s", "CPU s");
	for (int up = 0; up < 2; up++) {
		double sum[2] = {0, 0}, csum[2] = {0, 0};
		for (int r = 0; r < rounds; r++) {
			for (int pump = 0; pump < 2; pump++) {
				double c;
				double t = run(pump, up, &c);
				sum[pump] += t;
				csum[pump] += c;
				printf("%-10s %-7s %8.3f %9.1f %8.3f\n", up ? "upload" : "download",
				       pump ? "pump" : "direct", t, (double)total / 1e6 / t, c);
			}
		}
		printf("%-10s mean: direct %.3f s (CPU %.3f s), pump %.3f s (CPU %.3f s): "
		       "pump/direct "
		       "wall %.2f, CPU %.2f\n",
		       up ? "upload" : "download", sum[0] / rounds, csum[0] / rounds,
		       sum[1] / rounds, csum[1] / rounds, sum[1] / sum[0], csum[1] / csum[0]);
	}
	tls_server_free(srv);
	return 0;
}
