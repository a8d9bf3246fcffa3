/* SPDX-License-Identifier: BSD-2-Clause */
/* A plain-FTP test driver for the engine: real sockets, no TLS, one forked process per
 * control connection, password "secret" for any user, a jail per run. It exists so real
 * clients (curl, lftp, Python ftplib) can check the engine's replies and listings; it is
 * not the daemon (berthd's FTPS side terminates TLS, asks the monitor, and runs the
 * logged-in engine in a worker).
 *
 * Usage: ftp-test-server JAIL PORTFILE   (listens on 127.0.0.1, writes the port, runs
 * until killed)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/ftp_engine.h"
#include "berth/vfs.h"

#define TIMEOUT_MS 20000

struct conn {
	int ctl, listener, data;
	struct sockaddr_storage peer, local;
	const char *jail;
	struct vfs *vfs;
	struct ftp_engine *e;
	struct ftp_engine_config cfg;
};

static void
die(const char *what)
{
	fprintf(stderr, "ftp-test-server: %s: %s\n", what, strerror(errno));
	_exit(1);
}

static void
log_cb(void *userdata, int level, const char *fmt, ...)
{
	(void)userdata;
	if (level > 4)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ftp-test-server[%d]: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
flush(struct conn *c)
{
	size_t n;
	const uint8_t *p = ftp_engine_output(c->e, &n);
	if (n && write_all(c->ctl, p, n) < 0)
		_exit(0);
	ftp_engine_output_consume(c->e, n);
}

static bool
same_ip(const struct sockaddr_storage *a, const struct sockaddr_in *b)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
	return a->ss_family == AF_INET && a4->sin_addr.s_addr == b->sin_addr.s_addr;
}

static int
open_data(struct conn *c, const struct ftp_action *a)
{
	if (!a->passive) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (const struct sockaddr *)&a->addr,
		                      sizeof(struct sockaddr_in)) < 0) {
			if (fd >= 0)
				close(fd);
			return -ECONNREFUSED;
		}
		c->data = fd;
		return 0;
	}
	if (c->listener < 0)
		return -ENOTCONN;
	struct pollfd p = {.fd = c->listener, .events = POLLIN};
	while (poll(&p, 1, TIMEOUT_MS) == 1) {
		struct sockaddr_in from;
		socklen_t len = sizeof(from);
		int fd = accept4(c->listener, (struct sockaddr *)&from, &len, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (!same_ip(&a->addr, &from)) { /* only the control peer */
			close(fd);
			continue;
		}
		close(c->listener);
		c->listener = -1;
		c->data = fd;
		return 0;
	}
	return -ETIMEDOUT;
}

static void
pasv_listen(struct conn *c)
{
	if (c->listener >= 0)
		close(c->listener);
	struct sockaddr_in a = *(struct sockaddr_in *)&c->local;
	a.sin_port = 0;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		if (fd >= 0)
			close(fd);
		(void)ftp_engine_pasv_done(c->e, -errno, NULL);
		return;
	}
	c->listener = fd;
	(void)ftp_engine_pasv_done(c->e, 0, (struct sockaddr *)&a);
}

static void
send_data(struct conn *c)
{
	static uint8_t buf[256 * 1024];
	int r;
	size_t n;
	while ((r = ftp_engine_data_produce(c->e, buf, sizeof(buf), &n)) == 0 && n > 0)
		if ((r = write_all(c->data, buf, n)) < 0)
			break;
	close(c->data);
	c->data = -1;
	(void)ftp_engine_data_done(c->e, r);
}

static void
recv_data(struct conn *c)
{
	static uint8_t buf[256 * 1024];
	int r = 0;
	for (;;) {
		ssize_t n = read(c->data, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		size_t off = 0;
		while (off < (size_t)n && r == 0) {
			size_t used = 0;
			r = ftp_engine_data_consume(c->e, buf + off, (size_t)n - off, &used);
			off += used;
		}
		if (r < 0)
			break;
	}
	close(c->data);
	c->data = -1;
	while (ftp_engine_data_done(c->e, r) == -EAGAIN)
		;
}

/* LOGIN succeeded: the logged-in engine takes over with the state and pipelined input,
 * as the worker does in berthd. */
static void
handoff(struct conn *c)
{
	struct ftp_session_state st;
	ftp_engine_export_state(c->e, &st);
	size_t n;
	const uint8_t *p = ftp_engine_pending_input(c->e, &n);
	uint8_t *rest = malloc(n ? n : 1);
	memcpy(rest, p, n);
	ftp_engine_free(c->e);
	if (vfs_posix_new(c->jail, "/", 022, &c->vfs) < 0)
		die("vfs_posix_new");
	c->cfg.vfs = c->vfs;
	c->cfg.state = &st;
	if (ftp_engine_new(&c->cfg, &c->e) < 0)
		die("ftp_engine_new");
	c->cfg.state = NULL;
	(void)ftp_engine_feed(c->e, rest, n);
	free(rest);
}

static void
serve(struct conn *c)
{
	uint8_t buf[4096];
	for (;;) {
		if (ftp_engine_process(c->e) < 0)
			_exit(1);
		flush(c);
		struct ftp_action a;
		if (ftp_engine_next_action(c->e, &a)) {
			switch (a.type) {
			case FTP_ACT_LOGIN:
				(void)ftp_engine_login_done(c->e, strcmp(a.password, "secret") == 0
				                                          ? FTP_LOGIN_OK
				                                          : FTP_LOGIN_FAILED);
				break;
			case FTP_ACT_HANDOFF:
				handoff(c);
				break;
			case FTP_ACT_CLOSE:
				_exit(0);
			case FTP_ACT_PASV_LISTEN:
				pasv_listen(c);
				break;
			case FTP_ACT_DATA_OPEN:
				(void)ftp_engine_data_open_done(c->e, open_data(c, &a));
				break;
			case FTP_ACT_DATA_SEND:
				send_data(c);
				break;
			case FTP_ACT_DATA_RECV:
				recv_data(c);
				break;
			case FTP_ACT_DATA_ABORT:
				if (c->data >= 0)
					close(c->data);
				c->data = -1;
				(void)ftp_engine_data_done(c->e, FTP_DATA_E_ABORTED);
				break;
			default: /* no TLS here */
				_exit(1);
			}
			continue;
		}
		size_t room = ftp_engine_input_room(c->e);
		struct pollfd p = {.fd = c->ctl, .events = POLLIN};
		if (room == 0 || poll(&p, 1, TIMEOUT_MS) != 1)
			_exit(0);
		ssize_t n = read(c->ctl, buf, room < sizeof(buf) ? room : sizeof(buf));
		if (n <= 0)
			_exit(0);
		(void)ftp_engine_feed(c->e, buf, (size_t)n);
	}
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ftp-test-server JAIL PORTFILE\n");
		return 2;
	}
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) < 0)
		die("listen");
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 ||
	    rename(tmp, argv[2]) < 0)
		die("port file");
	for (;;) {
		struct conn c = {.listener = -1, .data = -1, .jail = argv[1]};
		socklen_t pl = sizeof(c.peer), ll = sizeof(c.local);
		c.ctl = accept4(lfd, (struct sockaddr *)&c.peer, &pl, SOCK_CLOEXEC);
		if (c.ctl < 0)
			continue;
		if (fork() != 0) {
			close(c.ctl);
			continue;
		}
		close(lfd);
		(void)getsockname(c.ctl, (struct sockaddr *)&c.local, &ll);
		c.cfg = (struct ftp_engine_config){
		        .allow_plain_login = true,
		        .allow_plain_data = true,
		        .peer = c.peer,
		        .local = c.local,
		        .user = "demo",
		        .uid = getuid(),
		        .gid = getgid(),
		        .log = log_cb,
		};
		if (ftp_engine_new(&c.cfg, &c.e) < 0)
			die("ftp_engine_new");
		serve(&c);
	}
}
