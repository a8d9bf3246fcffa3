/* SPDX-License-Identifier: BSD-2-Clause */
/* The worker's FTP driver: the logged-in FTP engine over the account's VFS, executing
 * its actions with sockets and the resumption-only TLS data context. One poll loop over
 * the control socket (to the network child), the passive listener and the data
 * connection; nothing blocks, so ABOR, STAT and NOOP are answered during a transfer and
 * a bandwidth limit (-EAGAIN and a wake time from the engine) never sleeps.
 *
 * Data connections: PASV/EPSV listen on a random port of FTPSPassivePorts on the control
 * connection's local address and accept only the control peer's address (others are
 * refused and logged, and the listener keeps waiting); PORT/EPRT connect from the local
 * address to the address the engine already checked. Under PROT P the worker is the TLS
 * server and the handshake must resume the control connection's session (522
 * otherwise, with the reason logged). An upload ends cleanly only with the client's
 * close_notify; a TCP end without it is a truncation (426). */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/audit.h"
#include "berth/buf.h"
#include "berth/common.h"
#include "berth/ftp_engine.h"
#include "berth/ftpsd.h"
#include "berth/log.h"
#include "berth/sandbox.h"
#include "berth/tls.h"
#include "berth/vfs.h"
#include "berth/xmem.h"
#include "ftps-internal.h"

#define DATA_BUF      (256 * 1024)  /* file bytes per pread/pwrite */
#define DATA_BUDGET   (1024 * 1024) /* bytes moved before looking at the control socket */
#define HELLO_MS      10000
#define PASV_TRIES    64
#define PASV_BACKLOG  8
#define TLS_HANDSHAKE 0x16 /* first byte of a TLS handshake record */
/* Transfer memory (the buffer, OpenSSL's connection buffers) stays in the heap while
 * transfers follow each other and goes back to the kernel after this long without one:
 * a client sending many small files pays no mmap/munmap, page faults and madvise per
 * file, and an idle session still keeps none of it. */
#define TRIM_IDLE_MS 250

enum dstate {
	D_NONE = 0,
	D_ACCEPT,    /* DATA_OPEN, passive: waiting for the control peer */
	D_CONNECT,   /* DATA_OPEN, active: connect() in progress */
	D_HANDSHAKE, /* DATA_OPEN: TLS handshake (resumption required) */
	D_OPEN,      /* open reported; DATA_SEND/RECV comes next */
	D_SEND,
	D_RECV,
	D_SHUTDOWN, /* download complete: close_notify */
	D_FINISH,   /* ftp_engine_data_done() said -EAGAIN: retry at the wake time */
	D_CANCELLED /* ABOR: waiting for DATA_ABORT */
};

struct fw {
	const struct ftps_worker_session *s;
	struct ftp_engine *e;
	struct tls_data_ctx *dctx; /* built at the first PROT P data connection */
	struct xbuf blob;          /* the hand-over's resumption blob until then (wiped) */
	int ctl;
	struct xbuf ctl_in, ctl_out, feed;
	bool ctl_eof, ctl_readable, ctl_wblocked, ccc_wait, closing;
	uint64_t last_activity;
	/* settings */
	struct sockaddr_storage peer, local, announce;
	bool have_announce;
	uint32_t pasv_min, pasv_max, data_timeout, idle_timeout, stall_timeout;
	/* the passive listener and the data connection */
	int listener;
	int data;
	enum dstate ds;
	struct tls_conn *tls;
	bool xfer_tls, peeked, eof, clean_eof, produced_all, blocked;
	short events; /* what the data connection (or listener) waits for */
	struct sockaddr_storage want_peer;
	char data_peer[INET6_ADDRSTRLEN];
	uint64_t open_deadline, last_progress, wake;
	int finish_result;
	uint64_t trim_at; /* a transfer ended: release the transfer memory then (0: none) */
	uint8_t *buf;
	size_t blen, boff;
};

/* ---- logging ---- */

static void
engine_log(void *userdata, int level, const char *fmt, ...)
{
	struct fw *w = userdata;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg((enum log_level)level, "ftps user %s from %s port %s: %s", w->s->user,
	        w->s->peer_addr, w->s->peer_port, line);
}

static void
on_transfer(void *userdata, const struct ftp_transfer *t)
{
	const struct fw *w = userdata;
	log_info("transfer %s user %s from %s port %s ftps: \"%s\" %llu bytes in %.3fs "
	         "%s%s%s%s%s%s%s%s",
	         t->upload ? "upload" : "download", w->s->user, w->s->peer_addr, w->s->peer_port,
	         t->path, (unsigned long long)t->bytes, t->seconds,
	         t->completed ? "completed" : "aborted", t->reason ? " (" : "",
	         t->reason ? t->reason : "", t->reason ? ")" : "", t->sha256 ? " sha256 " : "",
	         t->sha256 ? t->sha256 : "", t->published ? "" : " not published: ",
	         t->published ? "" : (t->unpublished ? t->unpublished : "?"));
	/* The transfer logs (when on): the monitor writes them. */
	audit_worker_transfer(t->upload, t->path, t->bytes, t->seconds,
	                      t->completed && t->published,
	                      !t->completed ? (t->reason ? t->reason : "aborted")
	                                    : (t->unpublished ? t->unpublished : "not published"),
	                      t->sha256);
}

static void refuse_log(struct fw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
refuse_log(struct fw *w, const char *fmt, ...)
{
	char why[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_info("refused data connection from %s: %s (user %s, control connection from %s "
	         "port %s)",
	         w->data_peer, why, w->s->user, w->s->peer_addr, w->s->peer_port);
}

/* ---- the data connection ---- */

static void
data_close(struct fw *w)
{
	if (w->ds != D_NONE || w->buf)
		w->trim_at = ftps_now_ms() + TRIM_IDLE_MS;
	w->tls = tls_conn_free(w->tls);
	if (w->data >= 0)
		close(w->data);
	w->data = -1;
	w->blen = w->boff = 0;
	w->ds = D_NONE;
	w->blocked = false;
	w->events = 0;
	w->wake = 0;
}

static void
listener_close(struct fw *w)
{
	if (w->listener >= 0)
		close(w->listener);
	w->listener = -1;
}

static void
pasv_listen(struct fw *w, int family)
{
	listener_close(w);
	struct sockaddr_storage a = w->local;
	if (a.ss_family != family) {
		(void)ftp_engine_pasv_done(w->e, -EAFNOSUPPORT, NULL);
		return;
	}
	uint32_t range = w->pasv_max - w->pasv_min + 1;
	int r = -EADDRINUSE;
	for (unsigned i = 0; i < PASV_TRIES && r == -EADDRINUSE; i++) {
		uint16_t port = (uint16_t)(w->pasv_min + arc4random_uniform(range));
		if (family == AF_INET)
			((struct sockaddr_in *)&a)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
		int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = -errno;
			break;
		}
		socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in)
		                                  : sizeof(struct sockaddr_in6);
		if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, PASV_BACKLOG) < 0) {
			r = -errno;
			close(fd);
			continue;
		}
		w->listener = fd;
		r = 0;
	}
	if (r < 0) {
		log_error("ftps user %s: no passive port free in %u-%u: %s", w->s->user,
		          w->pasv_min, w->pasv_max, strerror(-r));
		(void)ftp_engine_pasv_done(w->e, r, NULL);
		return;
	}
	/* PASV announces IPv4: the configured (NAT) address or our own; EPSV only a port. */
	struct sockaddr_storage ann = a;
	if (family == AF_INET && w->have_announce) {
		in_port_t port = ((struct sockaddr_in *)&a)->sin_port;
		ann = w->announce;
		((struct sockaddr_in *)&ann)->sin_port = port;
	}
	(void)ftp_engine_pasv_done(w->e, 0, (struct sockaddr *)&ann);
}

/* Before a transfer's final reply: a fresh session ticket on the control connection
 * for the client's next data connection (tls_conn_new_ticket()). */
static void
ticket_for_next(struct fw *w)
{
	if (w->dctx || xbuf_len(&w->blob))
		(void)ftps_msg_put(&w->ctl_out, FTPS_MSG_TICKET, NULL, 0);
}

/* DATA_OPEN has its outcome: report it (0 = open, with TLS when asked). */
static void
open_finish(struct fw *w, int result)
{
	listener_close(w);
	if (result != 0) {
		data_close(w);
		ticket_for_next(w);
	} else
		w->ds = D_OPEN;
	w->open_deadline = 0;
	int r = ftp_engine_data_open_done(w->e, result);
	if (r == -ECANCELED)
		w->ds = D_CANCELLED; /* ABOR came meanwhile: DATA_ABORT follows */
}

/* Acknowledge at once (not after the delayed-ACK timeout): clients write their last TLS
 * handshake messages (ChangeCipherSpec, Finished) as separate small segments, and with
 * Nagle on their side the second waits for our ACK of the first, 40 ms per data
 * connection (lftp, GnuTLS). Not permanent in the kernel: set again after each read. */
static void
quickack(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/* The data socket is connected (accepted or connect() done). */
static void
data_connected(struct fw *w)
{
	w->last_progress = ftps_now_ms();
	/* The last record and close_notify leave at once (small files). */
	int one = 1;
	(void)setsockopt(w->data, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	quickack(w->data);
	if (!w->xfer_tls) {
		open_finish(w, 0);
		return;
	}
	if (!w->dctx && xbuf_len(&w->blob) == 0) {
		refuse_log(w, "no TLS session to resume (the control connection had no TLS)");
		open_finish(w, FTP_DATA_E_TLS);
		return;
	}
	int r = 0;
	if (!w->dctx) {
		/* The first PROT P data connection: only now does this process pay for
		 * OpenSSL's context (~350 KiB of heap); a session that never transfers under
		 * PROT P never does. */
		r = tls_data_ctx_new(xbuf_ptr(&w->blob), xbuf_len(&w->blob), &w->dctx);
		xbuf_deinit(&w->blob);
		if (r < 0) {
			log_error("ftps user %s: TLS data context: %s", w->s->user, strerror(-r));
			w->dctx = NULL;
		}
	}
	if (w->dctx)
		r = tls_conn_new_data(w->dctx, w->data, &w->tls);
	if (r < 0) {
		refuse_log(w, "TLS: %s", strerror(-r));
		open_finish(w, FTP_DATA_E_TLS);
		return;
	}
	w->peeked = false;
	w->ds = D_HANDSHAKE;
}

static void
data_open(struct fw *w, const struct ftp_action *a)
{
	w->xfer_tls = a->tls;
	w->eof = w->clean_eof = w->produced_all = false;
	w->open_deadline = ftps_now_ms() + (uint64_t)w->data_timeout * 1000;
	ftps_addr_text(&a->addr, w->data_peer, sizeof(w->data_peer));
	if (a->passive) {
		if (w->listener < 0) {
			(void)ftp_engine_data_open_done(w->e, -ENOTCONN);
			return;
		}
		w->want_peer = a->addr;
		w->ds = D_ACCEPT;
		w->blocked = false;
		return;
	}
	int fam = a->addr.ss_family;
	socklen_t len = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		(void)ftp_engine_data_open_done(w->e, -errno);
		return;
	}
	/* Leave from the control connection's address, as the client expects. */
	if (w->local.ss_family == fam)
		(void)bind(fd, (const struct sockaddr *)&w->local, len);
	w->data = fd;
	if (connect(fd, (const struct sockaddr *)&a->addr, len) == 0) {
		data_connected(w);
		return;
	}
	if (errno != EINPROGRESS) {
		int e = errno;
		log_info("ftps user %s: active data connection to %s failed: %s", w->s->user,
		         w->data_peer, strerror(e));
		open_finish(w, -e);
		return;
	}
	w->ds = D_CONNECT;
	w->blocked = true;
	w->events = POLLOUT;
}

/* The local end of a transfer (or its failure): close and report. */
static void
data_end(struct fw *w, int result)
{
	bool retry = w->ds == D_FINISH;
	data_close(w);
	if (!retry)
		ticket_for_next(w);
	int r = ftp_engine_data_done(w->e, result);
	if (r == -EAGAIN) {
		/* TYPE A upload: converted bytes still to write after a bandwidth wait. */
		w->ds = D_FINISH;
		w->finish_result = result;
		w->wake = ftp_engine_wake_time(w->e);
	}
}

static bool
accept_step(struct fw *w)
{
	bool progress = false;
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		int fd = accept4(w->listener, (struct sockaddr *)&from, &fl,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED) {
				w->blocked = true;
				w->events = POLLIN;
				return progress;
			}
			log_error("ftps user %s: accept: %m", w->s->user);
			open_finish(w, -errno);
			return true;
		}
		progress = true;
		ftps_addr_text(&from, w->data_peer, sizeof(w->data_peer));
		if (!ftps_addr_same_host(&from, &w->want_peer)) {
			refuse_log(w, "not the control connection's peer");
			close(fd);
			continue; /* the real client may still come */
		}
		w->data = fd;
		data_connected(w);
		return true;
	}
}

static bool
connect_step(struct fw *w)
{
	int err = 0;
	socklen_t el = sizeof(err);
	if (getsockopt(w->data, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY) {
		w->blocked = true;
		w->events = POLLOUT;
		return false;
	}
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	if (err == 0 && getpeername(w->data, (struct sockaddr *)&peer, &pl) < 0)
		err = errno == ENOTCONN ? ECONNREFUSED : errno;
	if (err) {
		log_info("ftps user %s: active data connection to %s failed: %s", w->s->user,
		         w->data_peer, strerror(err));
		open_finish(w, -err);
		return true;
	}
	data_connected(w);
	return true;
}

static bool
handshake_step(struct fw *w)
{
	if (!w->peeked) {
		/* A data connection under PROT P that does not start with a TLS handshake
		 * record is plaintext: refuse it with that reason, not an OpenSSL one. */
		uint8_t b;
		ssize_t k = recv(w->data, &b, 1, MSG_PEEK);
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			w->blocked = true;
			w->events = POLLIN;
			return false;
		}
		if (k <= 0) {
			refuse_log(w, "closed before the TLS handshake");
			open_finish(w, FTP_DATA_E_TLS);
			return true;
		}
		if (b != TLS_HANDSHAKE) {
			refuse_log(w, "no TLS (plaintext on a PROT P data connection)");
			open_finish(w, FTP_DATA_E_TLS);
			return true;
		}
		w->peeked = true;
	}
	int r = tls_conn_handshake(w->tls);
	quickack(w->data);
	if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
		w->blocked = true;
		w->events = r == TLS_WANT_WRITE ? POLLOUT : POLLIN;
		return false;
	}
	if (r == 0) {
		open_finish(w, 0);
		return true;
	}
	if (r == TLS_E_NOT_RESUMED) {
		refuse_log(w, "no TLS session reuse: %s", tls_conn_reason(w->tls));
		open_finish(w, FTP_DATA_E_NOREUSE);
	} else {
		refuse_log(w, "TLS handshake failed: %s",
		           r < 0 ? strerror(-r) : tls_conn_reason(w->tls));
		open_finish(w, FTP_DATA_E_TLS);
	}
	return true;
}

/* Write buffered bytes: >0 written, 0 blocked, <0 connection error. */
static ssize_t
data_write(struct fw *w, const uint8_t *p, size_t len)
{
	if (w->tls) {
		size_t n = 0;
		int r = tls_conn_write(w->tls, p, len, &n);
		if (r == 0)
			return (ssize_t)n;
		if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
			w->blocked = true;
			w->events = r == TLS_WANT_READ ? POLLIN : POLLOUT;
			return 0;
		}
		return -ECONNRESET;
	}
	ssize_t k;
	do
		k = send(w->data, p, len, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		w->blocked = true;
		w->events = POLLOUT;
		return 0;
	}
	return k < 0 ? -ECONNRESET : k;
}

/* The result of produce/consume: 0 to go on; -EAGAIN to wait for the engine's wake time
 * (bandwidth); else the transfer was cancelled (ABOR) or ended with a local error. */
static int
pump_check(struct fw *w, int r)
{
	w->wake = 0;
	if (r == -EAGAIN)
		w->wake = ftp_engine_wake_time(w->e);
	else if (r == -ECANCELED)
		w->ds = D_CANCELLED; /* DATA_ABORT follows */
	else if (r < 0)
		data_end(w, r);
	return r < 0 ? r : 0;
}

static bool
send_step(struct fw *w, uint64_t now)
{
	bool progress = false;
	size_t moved = 0;
	while (moved < DATA_BUDGET) {
		if (w->boff == w->blen && !w->produced_all) {
			if (w->wake && now < w->wake)
				return progress;
			size_t n = 0;
			int r = pump_check(w, ftp_engine_data_produce(w->e, w->buf, DATA_BUF, &n));
			if (r < 0)
				return r == -EAGAIN ? progress : true;
			w->boff = 0;
			w->blen = n;
			w->produced_all = n == 0;
			progress = true;
		}
		if (w->boff < w->blen) {
			ssize_t k = data_write(w, w->buf + w->boff, w->blen - w->boff);
			if (k == 0)
				return progress;
			if (k < 0) {
				data_end(w, -ECONNRESET);
				return true;
			}
			w->boff += (size_t)k;
			moved += (size_t)k;
			w->last_progress = now;
			progress = true;
			continue;
		}
		/* Everything produced and written. */
		if (w->tls) {
			w->ds = D_SHUTDOWN;
		} else {
			data_end(w, 0);
		}
		return true;
	}
	return progress;
}

static bool
shutdown_step(struct fw *w)
{
	int r = tls_conn_shutdown(w->tls, false);
	if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
		w->blocked = true;
		w->events = r == TLS_WANT_READ ? POLLIN : POLLOUT;
		return false;
	}
	/* close_notify sent (or the peer is gone after taking every byte). */
	data_end(w, 0);
	return true;
}

/* Read what the data connection has into the buffer (up to its end). */
static void
data_read(struct fw *w)
{
	/* The client's close_notify is a small write after its data: our ACK must not wait
	 * for the delayed-ACK timer (see quickack()). */
	quickack(w->data);
	while (w->blen < DATA_BUF && !w->eof) {
		size_t room = DATA_BUF - w->blen;
		if (w->tls) {
			size_t n = 0;
			int r = tls_conn_read(w->tls, w->buf + w->blen, room, &n);
			if (r == 0) {
				w->blen += n;
				continue;
			}
			if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
				w->blocked = true;
				w->events = r == TLS_WANT_WRITE ? POLLOUT : POLLIN;
				return;
			}
			w->eof = true;
			w->clean_eof = r == TLS_E_CLOSED;
			if (r == TLS_E_TRUNCATED)
				log_info("ftps user %s from %s port %s: upload truncated: the data "
				         "connection ended without TLS close_notify",
				         w->s->user, w->s->peer_addr, w->s->peer_port);
			else if (r != TLS_E_CLOSED)
				log_info("ftps user %s from %s port %s: data connection: %s",
				         w->s->user, w->s->peer_addr, w->s->peer_port,
				         r < 0 ? strerror(-r) : tls_conn_reason(w->tls));
			return;
		}
		ssize_t k;
		do
			k = read(w->data, w->buf + w->blen, room);
		while (k < 0 && errno == EINTR);
		if (k > 0) {
			w->blen += (size_t)k;
			continue;
		}
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			w->blocked = true;
			w->events = POLLIN;
			return;
		}
		w->eof = true;
		w->clean_eof = k == 0;
	}
}

static bool
recv_step(struct fw *w, uint64_t now)
{
	bool progress = false;
	size_t moved = 0;
	while (moved < DATA_BUDGET) {
		if (w->boff < w->blen) {
			if (w->wake && now < w->wake)
				return progress;
			size_t used = 0;
			int r = pump_check(w, ftp_engine_data_consume(w->e, w->buf + w->boff,
			                                              w->blen - w->boff, &used));
			if (r < 0)
				return r == -EAGAIN ? progress : true;
			w->boff += used;
			moved += used;
			if (w->boff == w->blen)
				w->boff = w->blen = 0;
			progress = true;
			continue;
		}
		if (w->eof) {
			if (w->tls && w->clean_eof)
				(void)tls_conn_shutdown(w->tls,
				                        false); /* our close_notify, best effort */
			data_end(w, w->clean_eof ? 0 : -ECONNRESET);
			return true;
		}
		size_t before = w->blen;
		data_read(w);
		if (w->blen == before && !w->eof)
			return progress;
		w->last_progress = now;
		progress = true;
	}
	return progress;
}

/* Advance the data connection; true when something changed. */
static bool
data_step(struct fw *w, uint64_t now)
{
	if (w->ds == D_NONE || w->ds == D_OPEN || w->ds == D_CANCELLED)
		return false;
	if (w->open_deadline && now >= w->open_deadline) {
		if (w->ds == D_ACCEPT)
			log_info("ftps user %s from %s port %s: no data connection within %us",
			         w->s->user, w->s->peer_addr, w->s->peer_port, w->data_timeout);
		else if (w->ds == D_HANDSHAKE)
			refuse_log(w, "no TLS handshake within %us", w->data_timeout);
		else
			log_info("ftps user %s: active data connection to %s timed out", w->s->user,
			         w->data_peer);
		open_finish(w, w->ds == D_HANDSHAKE ? FTP_DATA_E_TLS : -ETIMEDOUT);
		return true;
	}
	if ((w->ds == D_SEND || w->ds == D_RECV) && w->stall_timeout &&
	    now >= w->last_progress + (uint64_t)w->stall_timeout * 1000 && !w->wake) {
		log_info("ftps user %s from %s port %s: data connection stalled for %us",
		         w->s->user, w->s->peer_addr, w->s->peer_port, w->stall_timeout);
		data_end(w, -ETIMEDOUT);
		return true;
	}
	if (w->blocked)
		return false;
	switch (w->ds) {
	case D_ACCEPT:
		return accept_step(w);
	case D_CONNECT:
		return connect_step(w);
	case D_HANDSHAKE:
		return handshake_step(w);
	case D_SEND:
		return send_step(w, now);
	case D_RECV:
		return recv_step(w, now);
	case D_SHUTDOWN:
		return shutdown_step(w);
	case D_FINISH:
		if (w->wake && now < w->wake)
			return false;
		data_end(w, w->finish_result);
		return true;
	default:
		return false;
	}
}

/* ---- the engine's actions ---- */

static int
do_action(struct fw *w, const struct ftp_action *a)
{
	switch (a->type) {
	case FTP_ACT_PASV_LISTEN:
		pasv_listen(w, a->family);
		return 0;
	case FTP_ACT_DATA_OPEN:
		data_open(w, a);
		return 0;
	case FTP_ACT_DATA_SEND:
	case FTP_ACT_DATA_RECV:
		w->ds = a->type == FTP_ACT_DATA_SEND ? D_SEND : D_RECV;
		if (!w->buf)
			w->buf = xmalloc(DATA_BUF); /* kept for the next transfer (trim_at) */
		w->blen = w->boff = 0;
		w->blocked = false;
		w->last_progress = ftps_now_ms();
		return 0;
	case FTP_ACT_DATA_ABORT:
		data_close(w);
		listener_close(w);
		ticket_for_next(w);
		(void)ftp_engine_data_done(w->e, FTP_DATA_E_ABORTED);
		return 0;
	case FTP_ACT_CCC:
		if (ftps_msg_put(&w->ctl_out, FTPS_MSG_CCC, NULL, 0) < 0)
			return -ENOBUFS;
		w->ccc_wait = true;
		return 0;
	case FTP_ACT_CLOSE:
		data_close(w);
		listener_close(w);
		w->closing = true;
		return 0;
	default:
		return -EPROTO; /* pre-login actions never reach the worker */
	}
}

/* ---- the control socket ---- */

static int
ctl_frames(struct fw *w)
{
	while (xbuf_avail(&w->feed) >= FTPS_MSG_MAX) {
		uint8_t type;
		struct xbuf payload;
		int r = ftps_msg_take(&w->ctl_in, &type, &payload);
		if (r == 1)
			return 0;
		if (r < 0)
			return r;
		if (type == FTPS_MSG_DATA) {
			if (xbuf_put(&w->feed, xbuf_ptr(&payload), xbuf_len(&payload)) < 0)
				return -ENOBUFS;
			w->last_activity = ftps_now_ms();
		} else if (type == FTPS_MSG_CCC_DONE && w->ccc_wait) {
			uint32_t code;
			if (xbuf_get_u32(&payload, &code) < 0 || code > 4095)
				return -EBADMSG;
			w->ccc_wait = false;
			(void)ftp_engine_tls_done(w->e, -(int)code);
		} else {
			return -EBADMSG;
		}
	}
	return 0;
}

static bool
engine_io(struct fw *w)
{
	bool progress = false;
	size_t room = ftp_engine_input_room(w->e);
	size_t n = MIN(room, xbuf_len(&w->feed));
	if (n > 0 && ftp_engine_feed(w->e, xbuf_ptr(&w->feed), n) == 0) {
		(void)xbuf_consume(&w->feed, n);
		progress = true;
	}
	if (ftp_engine_process(w->e) < 0) {
		w->closing = true;
		return true;
	}
	size_t olen;
	const uint8_t *o = ftp_engine_output(w->e, &olen);
	while (olen > 0 && xbuf_avail(&w->ctl_out) > FTPS_MSG_HDR) {
		size_t k = MIN(olen, MIN(xbuf_avail(&w->ctl_out) - FTPS_MSG_HDR, (size_t)65536));
		(void)ftps_msg_put(&w->ctl_out, FTPS_MSG_DATA, o, k);
		ftp_engine_output_consume(w->e, k);
		o = ftp_engine_output(w->e, &olen);
		progress = true;
	}
	return progress;
}

/* ---- start-up: the hand-over ---- */

static int
read_exact(int fd, uint8_t *p, size_t len, uint64_t deadline)
{
	while (len > 0) {
		ssize_t k = read(fd, p, len);
		if (k > 0) {
			p += k;
			len -= (size_t)k;
			continue;
		}
		if (k == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int r = poll(&pf, 1, ftps_poll_timeout(deadline));
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/* HELLO: state, resumption blob (checked now, kept in a buffer sized once and wiped when
 * the TLS data context is built from it), pending input. */
static int
read_hello(struct fw *w, struct ftp_session_state *st)
{
	uint64_t deadline = ftps_now_ms() + HELLO_MS;
	uint8_t hdr[FTPS_MSG_HDR];
	int r = read_exact(w->ctl, hdr, sizeof(hdr), deadline);
	if (r < 0)
		return r;
	uint32_t len =
	        (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
	if (hdr[0] != FTPS_MSG_HELLO || len > FTPS_MSG_MAX)
		return -EBADMSG;
	_cleanup_xbuf_ struct xbuf msg = XBUF_NULL;
	uint8_t *p;
	xbuf_init(&msg, len ? len : 1);
	if (len && xbuf_reserve(&msg, len, &p) < 0)
		return -ENOMEM;
	if (len && (r = read_exact(w->ctl, p, len, deadline)) < 0)
		return r;
	struct xbuf v;
	const uint8_t *blob, *pending;
	size_t blob_len, plen;
	xbuf_view_init(&v, xbuf_ptr(&msg), xbuf_len(&msg));
	if (ftp_session_state_get(&v, st) < 0 || xbuf_get_string_direct(&v, &blob, &blob_len) < 0 ||
	    xbuf_get_string_direct(&v, &pending, &plen) < 0 || xbuf_len(&v) != 0 ||
	    blob_len > BERTH_TLS_BLOB_MAX)
		return -EBADMSG;
	if (blob_len > 0) {
		uint8_t *bp;
		if ((r = tls_data_blob_check(blob, blob_len)) < 0 || (r = tls_data_prepare()) < 0)
			return r;
		xbuf_init(&w->blob, blob_len);
		if (xbuf_reserve(&w->blob, blob_len, &bp) < 0 ||
		    xbuf_trim_tail(&w->blob, blob_len) < 0 ||
		    xbuf_put(&w->blob, blob, blob_len) < 0)
			return -ENOMEM;
	}
	if (xbuf_put(&w->feed, pending, plen) < 0)
		return -EBADMSG;
	return 0;
}

/* ---- arguments ---- */

static int
parse_u32_arg(const char *s, uint32_t max, uint32_t *ret)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > max)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

struct wflags {
	bool plain, cleardata, ccc;
};

static int
parse_args(struct fw *w, char *const *args, struct wflags *f, uint32_t *max_line)
{
	if (ftps_addr_parse(args[0], &w->local) < 0)
		return -EINVAL;
	for (const char *p = args[1]; strcmp(args[1], "-") != 0 && *p;) {
		size_t n = strcspn(p, ",");
		if (n == 5 && strncmp(p, "plain", 5) == 0)
			f->plain = true;
		else if (n == 9 && strncmp(p, "cleardata", 9) == 0)
			f->cleardata = true;
		else if (n == 3 && strncmp(p, "ccc", 3) == 0)
			f->ccc = true;
		else
			return -EINVAL;
		p += n + (p[n] == ',');
	}
	if (sscanf(args[2], "%u-%u", &w->pasv_min, &w->pasv_max) != 2 || w->pasv_min < 1024 ||
	    w->pasv_max > 65535 || w->pasv_min > w->pasv_max)
		return -EINVAL;
	if (strcmp(args[3], "-") != 0) {
		if (ftps_addr_parse(args[3], &w->announce) < 0 || w->announce.ss_family != AF_INET)
			return -EINVAL;
		w->have_announce = true;
	}
	if (parse_u32_arg(args[4], 86400, &w->data_timeout) < 0 ||
	    parse_u32_arg(args[5], 86400 * 7, &w->idle_timeout) < 0 ||
	    parse_u32_arg(args[6], 86400, &w->stall_timeout) < 0 ||
	    parse_u32_arg(args[7], 65536, max_line) < 0)
		return -EINVAL;
	if (w->data_timeout == 0)
		w->data_timeout = 60;
	return 0;
}

/* ---- the loop ---- */

static int
serve(struct fw *w)
{
	int rc = 0;
	bool progress = true;
	for (;;) {
		uint64_t now = ftps_now_ms();
		if (w->ctl_readable && !w->ctl_eof && xbuf_avail(&w->ctl_in) >= FTPS_CHUNK) {
			ssize_t k = ftps_read_into(w->ctl, &w->ctl_in, FTPS_CHUNK);
			if (k > 0)
				progress = true;
			else if (k == -EAGAIN)
				w->ctl_readable = false;
			else
				w->ctl_eof = true;
		}
		if (ctl_frames(w) < 0) {
			log_error("ftps user %s: bad message on the control socket", w->s->user);
			return 1;
		}
		progress |= engine_io(w);
		struct ftp_action a;
		if (!w->ccc_wait && !w->closing && ftp_engine_next_action(w->e, &a)) {
			if (do_action(w, &a) < 0) {
				log_error("ftps user %s: unexpected engine action %d", w->s->user,
				          (int)a.type);
				return 1;
			}
			progress = true;
			continue;
		}
		bool was_busy = w->ds != D_NONE;
		if (data_step(w, now)) {
			/* A transfer that ended queued its TICKET: its final reply goes into the
			 * same write to the network child (one wake-up there, not two). */
			(void)engine_io(w);
			progress = true;
		}
		if (xbuf_len(&w->ctl_out) > 0 && !w->ctl_wblocked) {
			ssize_t k = ftps_write_from(w->ctl, &w->ctl_out);
			if (k > 0)
				progress = true;
			else if (k == 0)
				w->ctl_wblocked = true;
			else
				return 0; /* the network child is gone: so is the client */
		}
		if (w->closing && xbuf_len(&w->ctl_out) == 0)
			return rc;
		if (w->ctl_eof && !progress)
			return rc; /* the client closed the control connection */
		/* Idle: no command and no transfer for IdleTimeout (a transfer that ended in
		 * this round counts as activity now). */
		bool busy = w->ds != D_NONE || w->ccc_wait;
		if (busy || was_busy)
			w->last_activity = now;
		else if (w->idle_timeout &&
		         now >= w->last_activity + (uint64_t)w->idle_timeout * 1000 &&
		         !w->closing) {
			log_info("Idle timeout for %s from %s port %s (%us)", w->s->user,
			         w->s->peer_addr, w->s->peer_port, w->idle_timeout);
			ftp_engine_close(w->e, "Idle timeout: closing control connection.");
			progress = true;
		}
		uint64_t deadline = 0;
		if (!progress) {
			if (w->idle_timeout && !busy)
				deadline = w->last_activity + (uint64_t)w->idle_timeout * 1000;
			deadline = ftps_deadline_min(deadline, w->open_deadline);
			deadline = ftps_deadline_min(deadline, w->wake);
			if ((w->ds == D_SEND || w->ds == D_RECV) && w->stall_timeout)
				deadline = ftps_deadline_min(
				        deadline,
				        w->last_progress + (uint64_t)w->stall_timeout * 1000);
			if (w->ds == D_FINISH && !w->wake)
				deadline = now;
			if (w->ds == D_NONE)
				deadline = ftps_deadline_min(deadline, w->trim_at);
		}
		struct pollfd p[2];
		nfds_t np = 0;
		short cev = 0;
		if (!w->ctl_eof && xbuf_avail(&w->ctl_in) >= FTPS_CHUNK)
			cev |= POLLIN;
		if (xbuf_len(&w->ctl_out) > 0)
			cev |= POLLOUT;
		p[np++] = (struct pollfd){.fd = cev ? w->ctl : -1, .events = cev};
		int dfd = w->ds == D_ACCEPT ? w->listener : w->data;
		bool dwait = w->blocked && dfd >= 0 && w->ds != D_NONE;
		p[np++] = (struct pollfd){.fd = dwait ? dfd : -1, .events = w->events};
		int timeout = progress ? 0 : ftps_poll_timeout(deadline);
		if (!progress && w->trim_at && w->ds == D_NONE && now >= w->trim_at) {
			/* No transfer for TRIM_IDLE_MS: the transfer memory leaves the heap
			 * (memory per logged-in session). */
			free(w->buf);
			w->buf = NULL;
			(void)malloc_trim(0);
			w->trim_at = 0;
			progress = true; /* look again before sleeping without a deadline */
			continue;
		}
		int pr = poll(p, np, timeout);
		if (pr < 0 && errno != EINTR)
			return 1;
		progress = false;
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			w->ctl_readable = true;
		if (p[0].revents & (POLLOUT | POLLHUP | POLLERR))
			w->ctl_wblocked = false;
		if (p[1].revents)
			w->blocked = false;
	}
}

int
ftps_worker_main(struct vfs *vfs, const struct ftps_worker_session *s, char *const *args, int fd)
{
	/* The transfer buffer and OpenSSL's buffers come from the heap and are reused from
	 * one transfer to the next; glibc neither maps nor trims per transfer (fixed
	 * thresholds), and serve() gives the memory back with malloc_trim() once no
	 * transfer followed for TRIM_IDLE_MS: an idle session keeps no transfer memory. */
	(void)mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	(void)mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
	struct fw w = {.s = s, .ctl = fd, .listener = -1, .data = -1, .ctl_readable = true};
	struct wflags f = {0};
	uint32_t max_line = 0;
	if (parse_args(&w, args, &f, &max_line) < 0) {
		log_error("ftps worker for %s: bad arguments", s->user);
		return 2;
	}
	if (ftps_addr_parse(s->peer_addr, &w.peer) < 0) {
		log_error("ftps worker for %s: bad peer address %s", s->user, s->peer_addr);
		return 2;
	}
	xbuf_init(&w.ctl_in, FTPS_CTL_QUEUE);
	xbuf_init(&w.ctl_out, FTPS_CTL_QUEUE);
	xbuf_init(&w.feed, FTPS_CTL_QUEUE);
	struct ftp_session_state st;
	int r = read_hello(&w, &st);
	int rc = 1;
	if (r < 0) {
		log_error("ftps worker for %s: no session hand-over: %s", s->user, strerror(-r));
		goto out;
	}
	(void)ftps_set_nonblock(fd);
	struct ftp_engine_config ec = {
	        .vfs = vfs,
	        .state = &st,
	        .tls_available = true,
	        /* Plaintext transfers: PROT C when allowed, or a plain session on an
	         * allow-plain listener (it cannot do PROT P). */
	        .allow_plain_data = f.cleardata || (f.plain && !st.tls),
	        .allow_ccc = f.ccc,
	        .peer = w.peer,
	        .local = w.local,
	        .user = s->user,
	        .uid = (uint32_t)getuid(),
	        .gid = (uint32_t)getgid(),
	        .read_only = s->read_only,
	        .max_line = max_line,
	        .hash = true,
	        .log = engine_log,
	        .transfer = on_transfer,
	        .userdata = &w,
	};
	r = ftp_engine_new(&ec, &w.e);
	if (r < 0) {
		log_error("ftps worker for %s: engine: %s", s->user, strerror(-r));
		goto out;
	}
	/* The seccomp allow-list before the first command (the hand-over's pipelined input
	 * included) is handled. */
	if (s->seccomp && (r = sandbox_install(SANDBOX_FTP_WORKER)) < 0) {
		log_error("seccomp filter for the FTP worker of %s: %s (SeccompFilter no disables "
		          "it)",
		          s->user, strerror(-r));
		goto out;
	}
	w.last_activity = ftps_now_ms();
	rc = serve(&w);
out:
	ftp_engine_free(w.e); /* a transfer still running is logged as aborted */
	data_close(&w);
	free(w.buf);
	listener_close(&w);
	w.dctx = tls_data_ctx_free(w.dctx);
	xbuf_deinit(&w.blob);
	xbuf_deinit(&w.ctl_in);
	xbuf_deinit(&w.ctl_out);
	xbuf_deinit(&w.feed);
	return rc;
}
