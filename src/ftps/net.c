/* SPDX-License-Identifier: BSD-2-Clause */
/* The FTPS network child: unprivileged and chrooted, it terminates TLS on the control
 * connection and runs the pre-login FTP engine; the monitor checks the password. After
 * login it hands the session to the worker (state, resumption blob, pipelined commands)
 * and pumps the control connection between the client and the worker's control socket,
 * shutting TLS down when the worker asks for CCC. It never touches a file. */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/ftp_engine.h"
#include "berth/ftpsd.h"
#include "berth/log.h"
#include "berth/priv.h"
#include "berth/sandbox.h"
#include "berth/tls.h"
#include "berth/xmem.h"
#include "ftps-internal.h"

#define FLUSH_MS       2000  /* last reply (421, 221) before closing */
#define HELLO_MS       10000 /* hand-over to a worker that just started */
#define CCC_MS         30000 /* the client's close_notify after CCC */
#define GRACE_EARLY_MS 500   /* our 421 leaves before the monitor's LoginGraceTime kill */

struct fnet {
	const struct ftps_conn *c;
	int fd;
	struct tls_conn *tls; /* NULL while (or when) the control connection is plaintext */
	struct ftp_engine *e; /* the pre-login engine */
	uint64_t grace_deadline;
	/* after login */
	int wfd;
	struct xbuf to_worker, from_worker, to_client;
	bool client_eof, worker_eof, ccc_pending;
	short client_rd_events, client_wr_events; /* what the last TLS call wanted */
	uint64_t out_since; /* to_client became non-empty / last write progress */
};

#define NOTE(n, lvl, ...) mon_note((n)->c->mon_fd, (lvl), __VA_ARGS__)

static void
engine_log(void *userdata, int level, const char *fmt, ...)
{
	struct fnet *n = userdata;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	NOTE(n, level, "ftps from %s port %u: %s", n->c->peer_addr, n->c->peer_port, line);
}

/* Wait until @fd has @events or @deadline (ms, 0 = none) passed: 0 or -ETIMEDOUT. */
static int
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	for (;;) {
		int r = poll(&p, 1, ftps_poll_timeout(deadline));
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static short
want_events(int r)
{
	return r == TLS_WANT_WRITE ? POLLOUT : POLLIN;
}

/* One non-blocking read of control bytes: >0 bytes, 0 end of stream, -EAGAIN (poll for
 * *@want), or -errno. */
static ssize_t
conn_read(struct fnet *n, void *buf, size_t cap, short *want)
{
	*want = POLLIN;
	if (n->tls) {
		size_t got = 0;
		int r = tls_conn_read(n->tls, buf, cap, &got);
		if (r == 0)
			return (ssize_t)got;
		if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
			*want = want_events(r);
			return -EAGAIN;
		}
		if (r == TLS_E_CLOSED || r == TLS_E_TRUNCATED)
			return 0;
		return r < 0 ? r : -EPROTO;
	}
	ssize_t k;
	do
		k = recv(n->fd, buf, cap, 0);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return k;
}

/* One non-blocking write: >0 bytes taken, -EAGAIN (poll for *@want), or -errno. */
static ssize_t
conn_write(struct fnet *n, const void *buf, size_t len, short *want)
{
	*want = POLLOUT;
	if (n->tls) {
		size_t w = 0;
		int r = tls_conn_write(n->tls, buf, len, &w);
		if (r == 0)
			return (ssize_t)w;
		if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
			*want = want_events(r);
			return -EAGAIN;
		}
		return r < 0 ? r : -EPIPE;
	}
	ssize_t k;
	do
		k = send(n->fd, buf, len, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return k;
}

static int
conn_write_all(struct fnet *n, const uint8_t *p, size_t len, uint64_t deadline)
{
	while (len > 0) {
		short want;
		ssize_t k = conn_write(n, p, len, &want);
		if (k == -EAGAIN) {
			int r = wait_fd(n->fd, want, deadline);
			if (r < 0)
				return r;
			continue;
		}
		if (k < 0)
			return (int)k;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* close_notify without waiting for the peer's (end of session), bounded. */
static void
conn_close_notify(struct fnet *n)
{
	if (!n->tls)
		return;
	uint64_t deadline = ftps_now_ms() + FLUSH_MS;
	for (;;) {
		int r = tls_conn_shutdown(n->tls, false);
		if ((r != TLS_WANT_READ && r != TLS_WANT_WRITE) ||
		    wait_fd(n->fd, want_events(r), deadline) < 0)
			break;
	}
}

static int
handshake(struct fnet *n, uint64_t deadline)
{
	for (;;) {
		int r = tls_conn_handshake(n->tls);
		if (r != TLS_WANT_READ && r != TLS_WANT_WRITE)
			return r;
		r = wait_fd(n->fd, want_events(r), deadline);
		if (r < 0)
			return r;
	}
}

/* TLS on the control connection (implicit at once, explicit after "234"). */
static int
start_tls(struct fnet *n)
{
	if (!n->c->tls)
		return -ENOKEY;
	int r = tls_conn_new_server(n->c->tls, n->fd, &n->tls);
	/* The connection holds its own key reference until the handshake completes. */
	tls_server_forget_key(n->c->tls);
	if (r < 0) {
		NOTE(n, LOG_LEVEL_ERROR, "TLS for %s port %u: %s", n->c->peer_addr, n->c->peer_port,
		     strerror(-r));
		return r;
	}
	r = handshake(n, n->grace_deadline);
	if (r == 0) {
		struct tls_conn_info info;
		if (tls_conn_get_info(n->tls, &info) == 0)
			NOTE(n, LOG_LEVEL_VERBOSE, "TLS %s %s%s%s from %s port %u", info.version,
			     info.cipher, info.alpn[0] ? " alpn " : "", info.alpn, n->c->peer_addr,
			     n->c->peer_port);
		return 0;
	}
	const char *why = r == -ETIMEDOUT ? "timeout"
	                  : r < 0         ? strerror(-r)
	                                  : tls_conn_reason(n->tls);
	if (r == TLS_E_ALPN)
		NOTE(n, LOG_LEVEL_INFO | MON_NOTE_VIOLATION, "refused TLS from %s port %u: %s",
		     n->c->peer_addr, n->c->peer_port, why);
	else
		NOTE(n, LOG_LEVEL_VERBOSE, "TLS handshake with %s port %u failed: %s",
		     n->c->peer_addr, n->c->peer_port, why);
	n->tls = tls_conn_free(n->tls);
	return r < 0 ? r : -EPROTO;
}

static enum ftp_login_result
login(struct fnet *n, const struct ftp_action *a)
{
	struct mon_answer ans;
	if (mon_ask_password(n->c->mon_fd, a->user, a->password, &ans) < 0)
		return FTP_LOGIN_FAILED_END;
	switch (ans.result) {
	case MON_AUTH_SUCCESS:
		return FTP_LOGIN_OK;
	case MON_AUTH_DISCONNECT:
		return FTP_LOGIN_FAILED_END;
	default:
		return FTP_LOGIN_FAILED;
	}
}

/* The pre-login engine until login (1) or the end of the connection (0). */
static int
prelogin(struct fnet *n)
{
	uint8_t buf[4096];
	bool timed_out = false;
	for (;;) {
		if (ftp_engine_process(n->e) < 0)
			return 0;
		size_t olen;
		const uint8_t *o = ftp_engine_output(n->e, &olen);
		if (olen) {
			uint64_t d = timed_out ? ftps_now_ms() + FLUSH_MS : n->grace_deadline;
			if (conn_write_all(n, o, olen, d) < 0)
				return 0;
			ftp_engine_output_consume(n->e, olen);
			continue;
		}
		struct ftp_action a;
		if (ftp_engine_next_action(n->e, &a)) {
			switch (a.type) {
			case FTP_ACT_START_TLS:
				(void)ftp_engine_tls_done(n->e, start_tls(n));
				continue;
			case FTP_ACT_LOGIN:
				(void)ftp_engine_login_done(n->e, login(n, &a));
				continue;
			case FTP_ACT_HANDOFF:
				return 1;
			default: /* CLOSE */
				if (ftp_engine_violated(n->e))
					NOTE(n, LOG_LEVEL_INFO | MON_NOTE_VIOLATION,
					     "protocol violation from %s port %u: too many invalid "
					     "commands before login",
					     n->c->peer_addr, n->c->peer_port);
				return 0;
			}
		}
		if (timed_out)
			return 0;
		if (n->grace_deadline && ftps_now_ms() >= n->grace_deadline) {
			NOTE(n, LOG_LEVEL_INFO, "Timeout before authentication for %s port %u",
			     n->c->peer_addr, n->c->peer_port);
			ftp_engine_close(n->e, "Login timeout: closing control connection.");
			timed_out = true;
			continue;
		}
		size_t room = ftp_engine_input_room(n->e);
		if (room == 0)
			return 0; /* cannot happen: no output is pending */
		short want;
		ssize_t k = conn_read(n, buf, MIN(room, sizeof(buf)), &want);
		if (k > 0) {
			(void)ftp_engine_feed(n->e, buf, (size_t)k);
			continue;
		}
		if (k != -EAGAIN)
			return 0;
		int r = wait_fd(n->fd, want, n->grace_deadline);
		if (r < 0 && r != -ETIMEDOUT)
			return 0;
	}
}

/* ---- after login: the hand-over and the control-connection pump ---- */

static int
send_all_blocking(int fd, const struct xbuf *b, uint64_t deadline)
{
	const uint8_t *p = xbuf_ptr(b);
	size_t len = xbuf_len(b);
	while (len > 0) {
		ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			int r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		if (k <= 0)
			return k < 0 ? -errno : -EPIPE;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* HELLO: session state, the TLS resumption blob, the commands pipelined after PASS.
 * The buffers holding the blob are sized once and wiped (no realloc()ed copies). */
static int
send_hello(struct fnet *n, int wfd)
{
	struct ftp_session_state st;
	size_t plen;
	ftp_engine_export_state(n->e, &st);
	const uint8_t *pending = ftp_engine_pending_input(n->e, &plen);
	_cleanup_xbuf_ struct xbuf blob = XBUF_NULL;
	_cleanup_xbuf_ struct xbuf h = XBUF_NULL;
	if (n->tls) {
		int r = tls_conn_export_resumption(n->tls, &blob);
		if (r < 0)
			return r;
	}
	size_t cap = FTPS_MSG_HDR + 64 + xbuf_len(&blob) + plen;
	uint8_t *p;
	xbuf_init(&h, cap);
	if (xbuf_reserve(&h, cap, &p) < 0 || xbuf_trim_tail(&h, cap) < 0 ||
	    xbuf_put_u8(&h, FTPS_MSG_HELLO) < 0 || xbuf_put_u32(&h, 0) < 0 ||
	    ftp_session_state_put(&h, &st) < 0 ||
	    xbuf_put_string(&h, xbuf_ptr(&blob), xbuf_len(&blob)) < 0 ||
	    xbuf_put_string(&h, pending, plen) < 0 ||
	    xbuf_poke_u32(&h, 1, (uint32_t)(xbuf_len(&h) - FTPS_MSG_HDR)) < 0)
		return -ENOBUFS;
	return send_all_blocking(wfd, &h, ftps_now_ms() + HELLO_MS);
}

/* RFC 4217 12.3: close_notify both ways, then plaintext. The "200" went out first. */
static int
do_ccc(struct fnet *n)
{
	if (!n->tls)
		return -EPROTO;
	uint64_t deadline = ftps_now_ms() + CCC_MS;
	int r;
	for (;;) {
		r = tls_conn_shutdown(n->tls, true);
		if (r != TLS_WANT_READ && r != TLS_WANT_WRITE)
			break;
		if ((r = wait_fd(n->fd, want_events(r), deadline)) < 0)
			break;
	}
	if (r > 0)
		NOTE(n, LOG_LEVEL_VERBOSE, "CCC from %s port %u failed: %s", n->c->peer_addr,
		     n->c->peer_port, tls_conn_reason(n->tls));
	n->tls = tls_conn_free(n->tls);
	if (r == 0)
		NOTE(n, LOG_LEVEL_VERBOSE, "CCC: control connection of %s port %u in plaintext now",
		     n->c->peer_addr, n->c->peer_port);
	return r == 0 ? 0 : r < 0 ? r : -EPROTO;
}

/* One round of the pump; true when something moved. A fatal condition sets the EOF
 * flags. */
static bool
pump_round(struct fnet *n)
{
	bool progress = false;
	uint8_t buf[FTPS_CHUNK];
	/* client -> worker */
	n->client_rd_events = 0;
	if (!n->client_eof && !n->ccc_pending &&
	    xbuf_avail(&n->to_worker) >= FTPS_CHUNK + FTPS_MSG_HDR) {
		short want;
		ssize_t k = conn_read(n, buf, sizeof(buf), &want);
		if (k > 0) {
			(void)ftps_msg_put(&n->to_worker, FTPS_MSG_DATA, buf, (size_t)k);
			progress = true;
		} else if (k == -EAGAIN) {
			n->client_rd_events = want;
		} else {
			n->client_eof = true;
		}
	}
	ssize_t w = ftps_write_from(n->wfd, &n->to_worker);
	if (w > 0)
		progress = true;
	else if (w < 0)
		n->worker_eof = true;
	/* worker -> frames */
	if (!n->worker_eof && xbuf_avail(&n->from_worker) >= FTPS_CHUNK) {
		ssize_t k = ftps_read_into(n->wfd, &n->from_worker, FTPS_CHUNK);
		if (k > 0)
			progress = true;
		else if (k != -EAGAIN)
			n->worker_eof = true;
	}
	while (!n->ccc_pending && xbuf_avail(&n->to_client) >= FTPS_MSG_MAX) {
		uint8_t type;
		struct xbuf payload;
		int r = ftps_msg_take(&n->from_worker, &type, &payload);
		if (r == 1)
			break;
		if (r < 0 ||
		    (type != FTPS_MSG_DATA && type != FTPS_MSG_CCC && type != FTPS_MSG_TICKET)) {
			NOTE(n, LOG_LEVEL_ERROR, "bad message from the worker of %s port %u",
			     n->c->peer_addr, n->c->peer_port);
			n->worker_eof = n->client_eof = true;
			xbuf_reset(&n->to_client);
			return false;
		}
		if (type == FTPS_MSG_CCC) {
			n->ccc_pending = true;
		} else if (type == FTPS_MSG_TICKET) {
			if (n->tls)
				(void)tls_conn_new_ticket(n->tls);
		} else if (xbuf_len(&payload)) {
			if (xbuf_len(&n->to_client) == 0)
				n->out_since = ftps_now_ms();
			(void)xbuf_put(&n->to_client, xbuf_ptr(&payload), xbuf_len(&payload));
		}
		progress = true;
	}
	/* -> client */
	n->client_wr_events = 0;
	if (xbuf_len(&n->to_client) > 0) {
		short want;
		ssize_t k = conn_write(n, xbuf_ptr(&n->to_client), xbuf_len(&n->to_client), &want);
		if (k > 0) {
			(void)xbuf_consume(&n->to_client, (size_t)k);
			n->out_since = ftps_now_ms();
			progress = true;
		} else if (k == -EAGAIN) {
			n->client_wr_events = want;
		} else {
			n->client_eof = true;
			xbuf_reset(&n->to_client);
		}
	}
	if (n->ccc_pending && xbuf_len(&n->to_client) == 0 && !n->client_eof) {
		int r = do_ccc(n);
		uint8_t res[4] = {0};
		uint32_t code = r < 0 ? (uint32_t)-r : 0;
		res[0] = (uint8_t)(code >> 24);
		res[1] = (uint8_t)(code >> 16);
		res[2] = (uint8_t)(code >> 8);
		res[3] = (uint8_t)code;
		if (ftps_msg_put(&n->to_worker, FTPS_MSG_CCC_DONE, res, sizeof(res)) < 0)
			n->worker_eof = true;
		if (r < 0)
			n->client_eof =
			        true; /* the TLS state is unknown: nothing more can be sent */
		n->ccc_pending = false;
		progress = true;
	}
	return progress;
}

static int
pump(struct fnet *n)
{
	uint32_t stall = n->c->cfg->stall_timeout;
	for (;;) {
		if (pump_round(n))
			continue;
		/* The client left: the worker sees EOF when we close (after its input). */
		if (n->client_eof && (xbuf_len(&n->to_worker) == 0 || n->worker_eof))
			return 0;
		/* The session ended (QUIT, timeout, worker gone): deliver the last replies. */
		if (n->worker_eof && xbuf_len(&n->to_client) == 0) {
			conn_close_notify(n);
			return 0;
		}
		struct pollfd p[2];
		nfds_t np = 0;
		short ev = n->client_rd_events | n->client_wr_events;
		if (ev)
			p[np++] = (struct pollfd){.fd = n->fd, .events = ev};
		short wev = 0;
		if (!n->worker_eof && xbuf_avail(&n->from_worker) >= FTPS_CHUNK)
			wev |= POLLIN;
		if (!n->worker_eof && xbuf_len(&n->to_worker) > 0)
			wev |= POLLOUT;
		if (wev)
			p[np++] = (struct pollfd){.fd = n->wfd, .events = wev};
		uint64_t deadline = 0;
		if (stall && xbuf_len(&n->to_client) > 0)
			deadline = n->out_since + (uint64_t)stall * 1000;
		if (deadline && ftps_now_ms() >= deadline) {
			NOTE(n, LOG_LEVEL_INFO,
			     "closing control connection of %s port %u: client not reading (%us)",
			     n->c->peer_addr, n->c->peer_port, stall);
			return 1;
		}
		if (np == 0 && !deadline)
			return 1; /* nothing can move any more */
		if (poll(p, np, ftps_poll_timeout(deadline)) < 0 && errno != EINTR)
			return 1;
	}
}

static int
postlogin(struct fnet *n)
{
	/* A plaintext login never started TLS: drop the key now. */
	if (n->c->tls)
		tls_server_forget_key(n->c->tls);
	int wfd = -1;
	int r = mon_ask_ftp_worker(n->c->mon_fd, n->tls != NULL, &wfd);
	if (r == 0) {
		r = send_hello(n, wfd);
		if (r < 0) {
			NOTE(n, LOG_LEVEL_ERROR, "session hand-over for %s port %u failed: %s",
			     n->c->peer_addr, n->c->peer_port, strerror(-r));
			close(wfd);
		}
	} else {
		NOTE(n, LOG_LEVEL_ERROR, "no session worker for %s port %u: %s", n->c->peer_addr,
		     n->c->peer_port, strerror(-r));
	}
	if (r < 0) {
		ftp_engine_close(n->e, "Cannot start the session, closing control connection.");
		size_t olen;
		const uint8_t *o = ftp_engine_output(n->e, &olen);
		(void)conn_write_all(n, o, olen, ftps_now_ms() + FLUSH_MS);
		conn_close_notify(n);
		return 1;
	}
	ftp_engine_free(n->e);
	n->e = NULL;
	/* What the handshake and the pre-login engine freed leaves the heap: this process
	 * now only pumps the control connection for the rest of the session. */
	(void)malloc_trim(0);
	n->wfd = wfd;
	(void)ftps_set_nonblock(wfd);
	xbuf_init(&n->to_worker, FTPS_CTL_QUEUE);
	xbuf_init(&n->from_worker, FTPS_CTL_QUEUE);
	xbuf_init(&n->to_client, FTPS_CTL_QUEUE);
	r = pump(n);
	close(wfd);
	xbuf_deinit(&n->to_worker);
	xbuf_deinit(&n->from_worker);
	xbuf_deinit(&n->to_client);
	return r;
}

static void
on_alarm(int sig)
{
	(void)sig;
	_exit(2); /* async-signal-safe only (regreSSHion) */
}

int
ftps_net_run(const struct ftps_conn *c)
{
	const struct berth_config *cfg = c->cfg;
	struct fnet n = {.c = c, .fd = c->fd, .wfd = -1};
	signal(SIGPIPE, SIG_IGN);
	/* Tickets issued here resume only here (and in this connection's worker). */
	if (c->tls && tls_server_rekey_tickets(c->tls) < 0)
		return 1;
	int one = 1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ftps_set_nonblock(c->fd) < 0)
		return 1;
	if (cfg->login_grace_time) {
		struct sigaction sa = {.sa_handler = on_alarm};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		alarm(cfg->login_grace_time + 2); /* the inner fuse; the monitor kills first */
		uint64_t g = (uint64_t)cfg->login_grace_time * 1000;
		n.grace_deadline =
		        ftps_now_ms() + (g > 2 * GRACE_EARLY_MS ? g - GRACE_EARLY_MS : g);
	}
	struct sockaddr_storage peer = {0}, local = {0};
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	(void)getpeername(c->fd, (struct sockaddr *)&peer, &pl);
	(void)getsockname(c->fd, (struct sockaddr *)&local, &ll);
	/* Before the first byte from the network is read: the seccomp allow-list. */
	if (cfg->seccomp_filter) {
		int r = sandbox_install(SANDBOX_NET_FTPS);
		if (r < 0) {
			NOTE(&n, LOG_LEVEL_ERROR,
			     "seccomp filter for the FTPS network child: %s (SeccompFilter no "
			     "disables it)",
			     strerror(-r));
			close(c->fd);
			return 1;
		}
	}
	if (c->implicit && start_tls(&n) < 0) {
		close(c->fd);
		return 1;
	}
	struct ftp_session_state st = {.tls = c->implicit, .mlst_facts = FTP_FACTS_ALL};
	struct ftp_engine_config ec = {
	        .state = &st,
	        .tls_available = c->tls != NULL,
	        .allow_plain_login = c->allow_plain,
	        .allow_plain_data = cfg->ftps_allow_clear_data,
	        .allow_ccc = cfg->ftps_allow_ccc,
	        .peer = peer,
	        .local = local,
	        .max_line = cfg->ftps_max_line,
	        .max_prelogin_commands = cfg->ftps_max_prelogin_commands,
	        .max_junk = cfg->ftps_max_invalid_commands,
	        .log = engine_log,
	        .userdata = &n,
	};
	if (ftp_engine_new(&ec, &n.e) < 0) {
		close(c->fd);
		return 1;
	}
	int rc = 0;
	if (prelogin(&n) == 1) {
		alarm(0);
		n.grace_deadline = 0;
		rc = postlogin(&n);
	} else {
		conn_close_notify(&n);
	}
	ftp_engine_free(n.e);
	tls_conn_free(n.tls);
	close(c->fd);
	return rc;
}
