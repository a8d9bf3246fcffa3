/* SPDX-License-Identifier: BSD-2-Clause */
/* The network child after authentication: up to MaxSessions session channels on one
 * connection, each served by its own worker process, and the non-blocking pump that
 * moves bytes between every channel and its worker, fairly and window-aware. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/log.h"
#include "berth/scp_engine.h"
#include "berth/xmem.h"

#include "ssh-internal.h"

#define PUMP_CHUNK     (64 * 1024)
#define PUMP_QUEUE     (512 * 1024) /* worker -> client, each channel */
#define PUMP_WRITE_MAX (256 * 1024) /* one channel's share of a round */
/* client -> worker, each channel: more than libssh 0.10's window (1,280,000 bytes), so
 * that everything libssh buffers for a channel fits the queue (see chan_read_client). */
#define PUMP_IN_QUEUE (2 * 1024 * 1024)
/* An honest peer makes libssh buffer at most PUMP_IN_QUEUE + one window; beyond this
 * the peer sent past the window it was granted. */
#define PEER_BUFFER_CAP (6 * 1024 * 1024)

/* One session channel and, once a session runs on it, its worker. */
struct chan {
	ssh_channel ch;
	int wfd;            /* socket to the worker; -1 before the session starts / after */
	uint32_t worker_id; /* the monitor's name for the worker; 0 = none */
	struct xbuf to_worker, from_worker;
	bool in_eof;      /* no more client data: EOF, CLOSE or a read error */
	bool worker_shut; /* shutdown(SHUT_WR) sent to the worker */
	bool worker_eof;  /* the worker closed its side (or was cut off) */
	bool out_closed;  /* the channel takes no more data: worker output is discarded */
	bool aborted;     /* ended by the server (stall): no exit-status */
	bool done;        /* release after this round */
	time_t last_out;  /* last output progress, or when output became pending */
};

enum pump_result { PUMP_IDLE, PUMP_PROGRESS, PUMP_FATAL };

time_t
net_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

bool
net_session_dead(struct net *n)
{
	int st = ssh_get_status(n->session);
	return (st & (SSH_CLOSED | SSH_CLOSED_ERROR)) || !ssh_is_connected(n->session);
}

static struct chan *
chan_find(struct net *n, ssh_channel ch)
{
	for (size_t i = 0; i < n->n_chans; i++)
		if (n->chans[i]->ch == ch)
			return n->chans[i];
	return NULL;
}

/* ---- channel requests ---- */

static void
refuse_log(struct net *n, const char *what)
{
	/* OpenSSH clients send env LANG with every session: not worth an INFO line. */
	NOTE(n, strcmp(what, "env") == 0 ? LOG_LEVEL_VERBOSE : LOG_LEVEL_INFO,
	     "refused %s request from %s for %s port %u", what, n->user ? n->user : "?",
	     n->c->peer_addr, n->c->peer_port);
}

static int
on_pty(ssh_session s, ssh_channel ch, const char *term, int w, int h, int pw, int ph, void *ud)
{
	refuse_log(ud, "pty-req");
	return -1;
}

static int
on_shell(ssh_session s, ssh_channel ch, void *ud)
{
	refuse_log(ud, "shell");
	return -1;
}

static int
on_env(ssh_session s, ssh_channel ch, const char *name, const char *value, void *ud)
{
	refuse_log(ud, "env");
	return -1;
}

static void
on_x11(ssh_session s, ssh_channel ch, int single, const char *proto, const char *cookie,
       uint32_t screen, void *ud)
{
	refuse_log(ud, "x11-req");
}

static void
on_agent(ssh_session s, ssh_channel ch, void *ud)
{
	refuse_log(ud, "auth-agent-req");
}

/* Ask the monitor for a worker serving @c (sftp, or scp with @scp_command); 0 or
 * -errno (refused). */
static int
chan_start(struct net *n, struct chan *c, const char *scp_command)
{
	int fd = -1;
	uint32_t id = 0;
	int r = mon_ask_spawn_worker(n->c->mon_fd, scp_command, &fd, &id);
	if (r < 0)
		return r;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return -errno;
	}
	c->wfd = fd;
	c->worker_id = id;
	c->last_out = net_now();
	n->last_activity = c->last_out;
	return 0;
}

static int
on_subsystem(ssh_session s, ssh_channel ch, const char *name, void *ud)
{
	struct net *n = ud;
	struct chan *c = chan_find(n, ch);
	bool started = c && c->worker_id != 0;
	if (!c || started || strcmp(name, "sftp") != 0) {
		NOTE(n, LOG_LEVEL_INFO, "refused subsystem '%s' from %s for %s port %u%s", name,
		     n->user ? n->user : "?", n->c->peer_addr, n->c->peer_port,
		     started ? " (already started)" : "");
		return -1;
	}
	int r = chan_start(n, c, NULL);
	if (r < 0) {
		NOTE(n, LOG_LEVEL_ERROR, "worker could not be started for %s: %s", n->user,
		     strerror(-r));
		return -1;
	}
	return 0;
}

/* Legacy scp (`scp -O`, OpenSSH before 9.0) is the only command served: the worker
 * parses the line as scp's arguments (src/scp/args.c); no shell, no program runs. */
static int
on_exec(ssh_session s, ssh_channel ch, const char *cmd, void *ud)
{
	struct net *n = ud;
	struct chan *c = chan_find(n, ch);
	if (!c || c->worker_id != 0 || !scp_command_is_scp(cmd) || strlen(cmd) > SCP_MAX_CMD) {
		refuse_log(n, "exec");
		return -1;
	}
	int r = chan_start(n, c, cmd);
	if (r < 0) {
		NOTE(n, LOG_LEVEL_ERROR, "worker could not be started for %s: %s", n->user,
		     strerror(-r));
		return -1;
	}
	return 0;
}

static void
on_channel_close(ssh_session s, ssh_channel ch, void *ud)
{
	struct chan *c = chan_find(ud, ch);
	if (c)
		c->out_closed = true; /* input still drains (libssh may hold unread data) */
}

void
net_channel_callbacks_init(struct net *n)
{
	n->ccb = (struct ssh_channel_callbacks_struct){
	        .userdata = n,
	        .channel_pty_request_function = on_pty,
	        .channel_shell_request_function = on_shell,
	        .channel_exec_request_function = on_exec,
	        .channel_env_request_function = on_env,
	        .channel_x11_req_function = on_x11,
	        .channel_auth_agent_req_function = on_agent,
	        .channel_subsystem_request_function = on_subsystem,
	        .channel_close_function = on_channel_close,
	};
	ssh_callbacks_init(&n->ccb);
}

ssh_channel
net_channel_open(ssh_session session, void *ud)
{
	struct net *n = ud;
	if (!n->authenticated) {
		n->hangup = true;
		return NULL;
	}
	uint32_t max = n->c->cfg->max_sessions_per_conn;
	size_t open = 0;
	for (size_t i = 0; i < n->n_chans; i++)
		open += !n->chans[i]->out_closed && !n->chans[i]->done;
	if (open >= max || n->n_chans >= ARRAY_SIZE(n->chans)) {
		NOTE(n, LOG_LEVEL_INFO,
		     "refused session channel from %s port %u for %s: MaxSessions %u reached",
		     n->c->peer_addr, n->c->peer_port, n->user, (unsigned)max);
		return NULL;
	}
	ssh_channel ch = ssh_channel_new(session);
	if (!ch)
		return NULL;
	/* Install the request callbacks before libssh can dispatch any request. */
	ssh_set_channel_callbacks(ch, &n->ccb);
	struct chan *c = xcalloc(1, sizeof(*c));
	c->ch = ch;
	c->wfd = -1;
	xbuf_init(&c->to_worker, PUMP_IN_QUEUE);
	xbuf_init(&c->from_worker, PUMP_QUEUE);
	n->chans[n->n_chans++] = c;
	n->last_activity = net_now();
	return ch;
}

/* ---- the pump ---- */

/* Drop the worker connection: it sees EOF and EPIPE and ends its session. */
static void
chan_cut_worker(struct chan *c)
{
	if (c->wfd >= 0)
		close(c->wfd);
	c->wfd = -1;
	c->worker_eof = true;
	c->worker_shut = true;
	xbuf_reset(&c->to_worker);
	xbuf_reset(&c->from_worker);
}

/* The session on @c is over: exit-status (the worker's, from the monitor), EOF and
 * CLOSE, unless the client closed first; then the channel is released. */
static void
chan_finish(struct net *n, struct chan *c)
{
	chan_cut_worker(c);
	if (!c->out_closed && !ssh_channel_is_closed(c->ch)) {
		uint32_t status;
		if (c->worker_id && !c->aborted &&
		    mon_ask_session_end(n->c->mon_fd, c->worker_id, &status) == 0)
			ssh_channel_request_send_exit_status(c->ch, (int)status);
		ssh_channel_send_eof(c->ch);
	}
	c->done = true;
}

static bool
chan_read_client(struct chan *c, uint8_t *tmp, int held)
{
	if (held == SSH_EOF || held == SSH_ERROR) {
		c->in_eof = true;
		return false;
	}
	if (held < 0 || (size_t)held > xbuf_avail(&c->to_worker))
		return false; /* the window stays shut until the worker takes more */
	bool moved = false;
	while (!c->in_eof && xbuf_avail(&c->to_worker) > 0) {
		uint32_t want = (uint32_t)MIN((size_t)PUMP_CHUNK, xbuf_avail(&c->to_worker));
		int r = ssh_channel_read_nonblocking(c->ch, tmp, want, 0);
		if (r > 0) {
			xbuf_put(&c->to_worker, tmp, (size_t)r);
			moved = true;
		} else if (r == SSH_EOF || r == SSH_ERROR) {
			c->in_eof = true;
		} else {
			if (ssh_channel_is_eof(c->ch) && ssh_channel_poll(c->ch, 0) == SSH_EOF)
				c->in_eof = true;
			break;
		}
	}
	return moved;
}

/* Move what can move on one channel without blocking. */
static enum pump_result
chan_pump(struct net *n, struct chan *c, uint8_t *tmp, time_t now)
{
	const struct berth_config *cfg = n->c->cfg;
	bool progressed = false;

	/* libssh 0.10 buffers data past the window it granted; a peer that ignores the
	 * window is cut off instead of growing this process. */
	int held = c->in_eof ? 0 : ssh_channel_poll(c->ch, 0);
	if (held > PEER_BUFFER_CAP) {
		NOTE(n, LOG_LEVEL_INFO, "Disconnecting %s port %u: peer ignores the channel window",
		     n->c->peer_addr, n->c->peer_port);
		return PUMP_FATAL;
	}
	if (c->wfd < 0) {
		/* No session (yet): only a close by the client matters. */
		if (c->out_closed)
			c->done = true;
		return PUMP_IDLE;
	}
	if (!c->in_eof && chan_read_client(c, tmp, held))
		progressed = true;
	/* queue -> worker */
	while (xbuf_len(&c->to_worker) > 0) {
		ssize_t w = write(c->wfd, xbuf_ptr(&c->to_worker), xbuf_len(&c->to_worker));
		if (w > 0) {
			xbuf_consume(&c->to_worker, (size_t)w);
			progressed = true;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		c->worker_eof = true; /* worker gone */
		xbuf_reset(&c->to_worker);
		break;
	}
	if (c->in_eof && xbuf_len(&c->to_worker) == 0 && !c->worker_shut) {
		shutdown(c->wfd, SHUT_WR);
		c->worker_shut = true;
	}
	/* worker -> queue */
	while (!c->worker_eof && xbuf_avail(&c->from_worker) >= PUMP_CHUNK) {
		uint8_t *p;
		if (xbuf_reserve(&c->from_worker, PUMP_CHUNK, &p) < 0)
			break;
		ssize_t r = read(c->wfd, p, PUMP_CHUNK);
		xbuf_trim_tail(&c->from_worker, PUMP_CHUNK - (r > 0 ? (size_t)r : 0));
		if (r > 0) {
			progressed = true;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			c->worker_eof = true;
		break;
	}
	if (c->out_closed)
		xbuf_reset(&c->from_worker); /* nobody to deliver it to */
	/* queue -> client: this channel's share of the round, as far as the window allows */
	if (xbuf_len(&c->from_worker) > 0) {
		uint32_t win = ssh_channel_window_size(c->ch);
		size_t len = MIN(MIN(xbuf_len(&c->from_worker), (size_t)win), PUMP_WRITE_MAX);
		if (len > 0) {
			int w = ssh_channel_write(c->ch, xbuf_ptr(&c->from_worker), (uint32_t)len);
			if (w > 0) {
				xbuf_consume(&c->from_worker, (size_t)w);
				c->last_out = now;
				progressed = true;
			} else if (w == SSH_ERROR) {
				if (net_session_dead(n))
					return PUMP_FATAL;
				c->out_closed = true; /* the channel went away under us */
				xbuf_reset(&c->from_worker);
			}
		}
	}
	if (xbuf_len(&c->from_worker) == 0)
		c->last_out = now;
	else if (cfg->stall_timeout && now - c->last_out >= (time_t)cfg->stall_timeout) {
		NOTE(n, LOG_LEVEL_INFO, "Stalled transfer for %s from %s port %u: closing", n->user,
		     n->c->peer_addr, n->c->peer_port);
		c->aborted = true;
		chan_finish(n, c);
		return PUMP_PROGRESS;
	}
	if (c->worker_eof && xbuf_len(&c->from_worker) == 0) {
		chan_finish(n, c);
		return PUMP_PROGRESS;
	}
	return progressed ? PUMP_PROGRESS : PUMP_IDLE;
}

/* Close and forget the channels finished in this round (libssh frees each once the
 * client's CLOSE has arrived too). */
static void
release_done(struct net *n)
{
	size_t j = 0;
	for (size_t i = 0; i < n->n_chans; i++) {
		struct chan *c = n->chans[i];
		if (!c->done) {
			n->chans[j++] = c;
			continue;
		}
		chan_cut_worker(c);
		ssh_channel_close(c->ch);
		ssh_channel_free(c->ch);
		xbuf_deinit(&c->to_worker);
		xbuf_deinit(&c->from_worker);
		free(c);
	}
	n->n_chans = j;
}

/* True when some channel's libssh buffer already holds more than its queue can take. */
static bool
chan_backlog(struct net *n)
{
	for (size_t i = 0; i < n->n_chans; i++)
		if (n->chans[i]->wfd >= 0 && !n->chans[i]->in_eof &&
		    ssh_channel_poll(n->chans[i]->ch, 0) > (int)xbuf_avail(&n->chans[i]->to_worker))
			return true;
	return false;
}

int
net_serve(struct net *n)
{
	const struct berth_config *cfg = n->c->cfg;
	int sfd = ssh_get_fd(n->session);
	ssh_set_blocking(n->session, 0);
	uint8_t *tmp = xmalloc(PUMP_CHUNK);
	struct pollfd pfd[1 + ARRAY_SIZE(n->chans)];
	time_t conn_out = net_now(); /* socket output pending since (StallTimeout) */
	n->last_activity = conn_out;
	int rc = 0;

	for (;;) {
		time_t now = net_now();
		bool progressed = false;
		size_t count = n->n_chans; /* callbacks may append channels meanwhile */
		size_t start = count ? n->rr++ % count : 0;
		for (size_t k = 0; k < count; k++) {
			struct chan *c = n->chans[(start + k) % count];
			if (c->done)
				continue;
			enum pump_result r = chan_pump(n, c, tmp, now);
			if (r == PUMP_FATAL) {
				rc = 1;
				goto out;
			}
			progressed |= r == PUMP_PROGRESS;
		}
		release_done(n);
		if (progressed)
			n->last_activity = now;
		if (n->hangup || net_session_dead(n))
			goto out;
		bool pending = ssh_get_poll_flags(n->session) & SSH_WRITE_PENDING;
		if (!pending || progressed)
			conn_out = now;
		if (cfg->stall_timeout && now - conn_out >= (time_t)cfg->stall_timeout) {
			NOTE(n, LOG_LEVEL_INFO, "Stalled transfer for %s from %s port %u: closing",
			     n->user, n->c->peer_addr, n->c->peer_port);
			rc = 1;
			goto out;
		}
		if (cfg->idle_timeout && now - n->last_activity >= (time_t)cfg->idle_timeout) {
			NOTE(n, LOG_LEVEL_INFO, "Idle timeout for %s from %s port %u: closing",
			     n->user, n->c->peer_addr, n->c->peer_port);
			goto out;
		}
		if (progressed) {
			/* Let libssh flush and read more without sleeping. */
			if (ssh_event_dopoll(n->event, 0) == SSH_ERROR)
				goto out;
			continue;
		}
		size_t np = 0;
		pfd[np++] = (struct pollfd){.fd = sfd,
		                            .events = (short)(POLLIN | (pending ? POLLOUT : 0))};
		for (size_t i = 0; i < n->n_chans; i++) {
			struct chan *c = n->chans[i];
			if (c->wfd < 0 || c->worker_eof)
				continue;
			short ev = 0;
			if (xbuf_avail(&c->from_worker) >= PUMP_CHUNK)
				ev |= POLLIN;
			if (xbuf_len(&c->to_worker) > 0)
				ev |= POLLOUT;
			pfd[np++] = (struct pollfd){.fd = c->wfd, .events = ev};
		}
		(void)poll(pfd, np, 1000);
		/* libssh reads at most 4 KiB per wake-up: drain what is there. */
		for (int i = 0; i < 64; i++) {
			int r = ssh_event_dopoll(n->event, 0);
			if (r == SSH_ERROR) {
				rc = 1;
				goto out;
			}
			if (r != SSH_OK || chan_backlog(n))
				break;
		}
	}
out:
	free(tmp);
	return rc;
}

void
net_channels_close(struct net *n)
{
	for (size_t i = 0; i < n->n_chans; i++) {
		chan_cut_worker(n->chans[i]);
		xbuf_deinit(&n->chans[i]->to_worker);
		xbuf_deinit(&n->chans[i]->from_worker);
		free(n->chans[i]);
	}
	n->n_chans = 0;
}
