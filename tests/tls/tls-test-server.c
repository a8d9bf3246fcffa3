/* SPDX-License-Identifier: BSD-2-Clause */
/* A tiny FTPS-shaped TLS server for interop tests with real clients (openssl s_client,
 * Python ssl): one poll loop over the listener and every connection, non-blocking, as
 * the network child and the worker will drive src/tls.
 *
 * Usage: tls-test-server CERT KEY PORTFILE [--keep-control]
 *
 * Connections are "control" connections (certificate and key) until one completes its
 * handshake; that one's resumption blob builds the data context, the server forgets
 * the key, and every later connection is a "data" connection on the resumption-only
 * context. Each successful connection gets one line ("OK control TLSv1.3 alpn=ftp" or
 * "OK data TLSv1.3 resumed") and then close_notify, except the control connection with
 * --keep-control, which stays open until the client closes it. Every outcome is
 * printed on stdout ("control ok ...", "data refused NOT_RESUMED: reason"). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/tls.h"
#include "berth/xmem.h"

#define MAX_CONNS 64

enum state { HANDSHAKE, WRITE_LINE, HOLD, SHUTDOWN };

struct conn {
	int fd;
	struct tls_conn *tls;
	bool data;
	enum state st;
	int want; /* TLS_WANT_READ / TLS_WANT_WRITE */
	char line[128];
	size_t off;
};

static struct tls_server *srv;
static struct tls_data_ctx *dctx;
static bool keep_control;

static const char *
status_name(int r)
{
	switch (r) {
	case TLS_E_CLOSED:
		return "CLOSED";
	case TLS_E_TRUNCATED:
		return "TRUNCATED";
	case TLS_E_NOT_RESUMED:
		return "NOT_RESUMED";
	case TLS_E_ALPN:
		return "ALPN";
	case TLS_E_HANDSHAKE:
		return "HANDSHAKE";
	case TLS_E_PROTOCOL:
		return "PROTOCOL";
	default:
		return r < 0 ? strerror(-r) : "?";
	}
}

static void
finish(struct conn *c)
{
	tls_conn_free(c->tls);
	close(c->fd);
	c->fd = -1;
	c->tls = NULL;
}

/* Advance one connection; returns false when it is finished. */
static bool
step(struct conn *c)
{
	const char *kind = c->data ? "data" : "control";
	for (;;) {
		int r;
		switch (c->st) {
		case HANDSHAKE:
			r = tls_conn_handshake(c->tls);
			if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
				c->want = r;
				return true;
			}
			if (r != 0) {
				printf("%s refused %s: %s\n", kind, status_name(r),
				       tls_conn_reason(c->tls));
				return false;
			}
			struct tls_conn_info info;
			tls_conn_get_info(c->tls, &info);
			printf("%s ok %s %s%s alpn=%s\n", kind, info.version, info.cipher,
			       info.resumed ? " resumed" : "", info.alpn[0] ? info.alpn : "-");
			snprintf(c->line, sizeof(c->line), "OK %s %s%s%s%s\n", kind, info.version,
			         info.resumed ? " resumed" : "", info.alpn[0] ? " alpn=" : "",
			         info.alpn);
			if (!c->data) {
				struct xbuf blob = XBUF_NULL;
				if (tls_conn_export_resumption(c->tls, &blob) != 0 ||
				    tls_data_ctx_new(xbuf_ptr(&blob), xbuf_len(&blob), &dctx) !=
				            0) {
					printf("control: cannot export the resumption blob\n");
					exit(1);
				}
				xbuf_deinit(&blob);
				tls_server_forget_key(srv);
			}
			c->st = WRITE_LINE;
			break;
		case WRITE_LINE: {
			size_t n = 0;
			r = tls_conn_write(c->tls, c->line + c->off, strlen(c->line) - c->off, &n);
			if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
				c->want = r;
				return true;
			}
			if (r != 0) {
				printf("%s write failed %s: %s\n", kind, status_name(r),
				       tls_conn_reason(c->tls));
				return false;
			}
			c->off += n;
			if (c->off == strlen(c->line))
				c->st = (!c->data && keep_control) ? HOLD : SHUTDOWN;
			break;
		}
		case HOLD: {
			char b[256];
			size_t n;
			r = tls_conn_read(c->tls, b, sizeof(b), &n);
			if (r == 0)
				continue; /* ignore input */
			if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
				c->want = r;
				return true;
			}
			if (r == TLS_E_CLOSED) {
				c->st = SHUTDOWN;
				break;
			}
			printf("%s ended %s\n", kind, status_name(r));
			return false;
		}
		case SHUTDOWN:
			r = tls_conn_shutdown(c->tls, false);
			if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
				c->want = r;
				return true;
			}
			return false;
		}
	}
}

int
main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s CERT KEY PORTFILE [--keep-control]\n", argv[0]);
		return 2;
	}
	keep_control = argc > 4 && strcmp(argv[4], "--keep-control") == 0;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct tls_settings s = {.cert_file = argv[1], .key_file = argv[2]};
	struct berth_errors errs = BERTH_ERRORS_NULL, warns = BERTH_ERRORS_NULL;
	if (tls_server_new(&s, &errs, &warns, &srv) != 0) {
		berth_errors_print(&errs, stderr);
		return 1;
	}
	berth_errors_print(&warns, stderr);
	if (tls_server_rekey_tickets(srv) < 0)
		return 1;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t sl = sizeof(sin);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0) {
		perror("listen");
		return 1;
	}
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", argv[3]);
	FILE *pf = fopen(tmp, "we");
	if (!pf || fprintf(pf, "%u\n", (unsigned)ntohs(sin.sin_port)) < 0 || fclose(pf) != 0 ||
	    rename(tmp, argv[3]) < 0) {
		perror(argv[3]);
		return 1;
	}

	struct conn conns[MAX_CONNS];
	for (size_t i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	for (;;) {
		struct pollfd pfd[MAX_CONNS + 1];
		size_t map[MAX_CONNS + 1], np = 0;
		pfd[np] = (struct pollfd){.fd = lfd, .events = POLLIN};
		map[np++] = MAX_CONNS;
		for (size_t i = 0; i < MAX_CONNS; i++) {
			if (conns[i].fd < 0)
				continue;
			short ev = conns[i].want == TLS_WANT_WRITE ? POLLOUT : POLLIN;
			pfd[np] = (struct pollfd){.fd = conns[i].fd, .events = ev};
			map[np++] = i;
		}
		if (poll(pfd, np, -1) < 0 && errno != EINTR)
			return 1;
		for (size_t k = 1; k < np; k++) {
			struct conn *c = &conns[map[k]];
			if (pfd[k].revents && !step(c))
				finish(c);
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0)
				continue;
			struct conn *c = NULL;
			for (size_t i = 0; i < MAX_CONNS && !c; i++)
				if (conns[i].fd < 0)
					c = &conns[i];
			if (!c) {
				close(fd);
				continue;
			}
			*c = (struct conn){.fd = fd, .data = dctx != NULL, .st = HANDSHAKE};
			int r = c->data ? tls_conn_new_data(dctx, fd, &c->tls)
			                : tls_conn_new_server(srv, fd, &c->tls);
			if (r != 0) {
				printf("%s cannot start: %s\n", c->data ? "data" : "control",
				       strerror(-r));
				close(fd);
				c->fd = -1;
				continue;
			}
			if (!step(c))
				finish(c);
		}
	}
}
