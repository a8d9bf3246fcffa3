/* SPDX-License-Identifier: BSD-2-Clause */
/* The network child: libssh KEX and authentication (decisions by the monitor), the one
 * sftp channel, and the non-blocking pump between that channel and the worker. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>

#include "berth/account.h"
#include "berth/authkeys.h"
#include "berth/buf.h"
#include "berth/common.h"
#include "berth/log.h"
#include "berth/priv.h"
#include "berth/sshd.h"
#include "berth/xmem.h"

#define PUMP_CHUNK      (64 * 1024)
#define PUMP_QUEUE      (512 * 1024)
#define PEER_BUFFER_CAP (4 * 1024 * 1024) /* our window is 1.28 MB (libssh 0.10) */
#define MAX_CHANNELS    16                /* session channels per connection, over its lifetime */

struct net {
	const struct sshd_conn *c;
	ssh_session session;
	ssh_event event;
	char *user; /* pinned by the first auth request */
	bool authenticated;
	bool hangup;                  /* policy says close now */
	const void *bad_sig_answered; /* key of a bad-signature request already answered */
	struct ssh_server_callbacks_struct scb;
	struct ssh_channel_callbacks_struct ccb;
	ssh_channel chan; /* the sftp channel */
	unsigned n_channels;
	bool subsystem_seen;
	bool peer_closed; /* client sent CHANNEL_CLOSE */
	int worker_fd;
};

static int
methods_to_ssh(uint32_t m)
{
	int r = 0;
	if (m & BERTH_AUTH_PUBLICKEY)
		r |= SSH_AUTH_METHOD_PUBLICKEY;
	if (m & BERTH_AUTH_PASSWORD)
		r |= SSH_AUTH_METHOD_PASSWORD;
	if (m & BERTH_AUTH_KBDINT)
		r |= SSH_AUTH_METHOD_INTERACTIVE;
	return r;
}

#define NOTE(n, lvl, ...) mon_note((n)->c->mon_fd, (lvl), __VA_ARGS__)

static bool
pin_user(struct net *n, const char *user)
{
	if (!n->user) {
		n->user = xstrdup(user);
		return true;
	}
	if (strcmp(n->user, user) == 0)
		return true;
	NOTE(n, LOG_LEVEL_INFO,
	     "Disconnecting %s port %u: change of username or service not allowed: (%s) -> (%s)",
	     n->c->peer_addr, n->c->peer_port, n->user, user);
	n->hangup = true;
	return false;
}

/* Map a monitor answer to libssh's callback return value. */
static int
apply_answer(struct net *n, const struct mon_answer *a)
{
	switch (a->result) {
	case MON_AUTH_SUCCESS:
		n->authenticated = true;
		return SSH_AUTH_SUCCESS;
	case MON_AUTH_PARTIAL:
		ssh_set_auth_methods(n->session, methods_to_ssh(a->methods));
		return SSH_AUTH_PARTIAL;
	case MON_AUTH_PK_OK:
		return SSH_AUTH_SUCCESS;
	case MON_AUTH_DISCONNECT:
		n->hangup = true;
		return SSH_AUTH_DENIED;
	default:
		if (a->methods)
			ssh_set_auth_methods(n->session, methods_to_ssh(a->methods));
		return SSH_AUTH_DENIED;
	}
}

static int
auth_password(ssh_session session, const char *user, const char *password, void *ud)
{
	struct net *n = ud;
	if (n->authenticated || !pin_user(n, user))
		return SSH_AUTH_DENIED;
	struct mon_answer a;
	if (mon_ask_password(n->c->mon_fd, user, password, &a) < 0) {
		n->hangup = true;
		return SSH_AUTH_DENIED;
	}
	return apply_answer(n, &a);
}

/* The wire blob of a public key (for the monitor, which only compares and hashes it). */
static int
key_blob(ssh_key key, uint8_t **ret_blob, size_t *ret_len)
{
	char *b64 = NULL;
	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return -EINVAL;
	int r = authkeys_base64_decode(b64, strlen(b64), ret_blob, ret_len);
	ssh_string_free_char(b64);
	return r;
}

/* A signed request whose signature did not verify: a failed attempt the monitor counts
 * and logs ("Failed publickey ... ssh2: ED25519 SHA256:..."); @key may be NULL when
 * libssh could not parse it. Returns libssh's auth answer. */
static int
bad_signature(struct net *n, const char *user, ssh_key key)
{
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	if (key && key_blob(key, &blob, &blob_len) < 0)
		blob_len = 0;
	struct mon_answer a;
	int r = mon_ask_pubkey(n->c->mon_fd, user, blob, blob_len, MON_PK_BAD_SIGNATURE, &a);
	free(blob);
	if (r < 0) {
		n->hangup = true;
		return SSH_AUTH_DENIED;
	}
	apply_answer(n, &a); /* never SUCCESS: sets the methods or the hang-up */
	return SSH_AUTH_DENIED;
}

static int
auth_pubkey(ssh_session session, const char *user, struct ssh_key_struct *pubkey,
            char signature_state, void *ud)
{
	struct net *n = ud;
	if (n->authenticated || !pin_user(n, user))
		return SSH_AUTH_DENIED;
	if (signature_state != SSH_PUBLICKEY_STATE_NONE &&
	    signature_state != SSH_PUBLICKEY_STATE_VALID) {
		/* Bad signature: never an identity. (libssh 0.10 does not call us for it;
		 * see answer_dropped_auth; a later libssh might.) */
		n->bad_sig_answered = pubkey;
		return bad_signature(n, user, pubkey);
	}
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	int r = key_blob(pubkey, &blob, &blob_len);
	if (r < 0)
		return SSH_AUTH_DENIED;
	struct mon_answer a;
	r = mon_ask_pubkey(
	        n->c->mon_fd, user, blob, blob_len,
	        signature_state == SSH_PUBLICKEY_STATE_VALID ? MON_PK_VERIFIED : MON_PK_PROBE, &a);
	free(blob);
	if (r < 0) {
		n->hangup = true;
		return SSH_AUTH_DENIED;
	}
	if (signature_state == SSH_PUBLICKEY_STATE_NONE && a.result != MON_AUTH_PK_OK &&
	    a.result != MON_AUTH_DISCONNECT) {
		if (a.methods)
			ssh_set_auth_methods(n->session, methods_to_ssh(a.methods));
		return SSH_AUTH_DENIED;
	}
	if (signature_state == SSH_PUBLICKEY_STATE_VALID && a.result == MON_AUTH_PK_OK)
		return SSH_AUTH_DENIED; /* the monitor must decide, not probe-answer */
	return apply_answer(n, &a);
}

/* Send prompts from a kbd-int step as an INFO_REQUEST. */
static int
send_kbdint_prompts(struct net *n, ssh_message msg, const struct mon_kbdint *k)
{
	const char *prompts[MON_KBDINT_MAX_PROMPTS];
	char echo[MON_KBDINT_MAX_PROMPTS];
	unsigned np = 0;
	_cleanup_xbuf_ struct xbuf instr = XBUF_NULL;
	xbuf_init(&instr, 4096);
	for (uint32_t i = 0; i < k->n; i++) {
		if (k->kind[i] == MON_PROMPT_INFO) {
			(void)xbuf_putf(&instr, "%s%s", xbuf_len(&instr) ? "\n" : "", k->text[i]);
			continue;
		}
		prompts[np] = k->text[i];
		echo[np] = k->kind[i] == MON_PROMPT_ECHO;
		np++;
	}
	(void)xbuf_put_u8(&instr, 0);
	if (np == 0) {
		/* Only information: nothing to answer; treat as failure. */
		ssh_message_reply_default(msg);
		return 0;
	}
	ssh_message_auth_interactive_request(msg, "", (const char *)xbuf_ptr(&instr), np, prompts,
	                                     echo);
	return 0;
}

static void
reply_kbdint_final(struct net *n, ssh_message msg, const struct mon_kbdint *k)
{
	switch (k->ans.result) {
	case MON_AUTH_SUCCESS:
		n->authenticated = true;
		ssh_message_auth_reply_success(msg, 0);
		return;
	case MON_AUTH_PARTIAL:
		ssh_set_auth_methods(n->session, methods_to_ssh(k->ans.methods));
		ssh_message_auth_set_methods(msg, methods_to_ssh(k->ans.methods));
		ssh_message_auth_reply_success(msg, 1);
		return;
	case MON_AUTH_DISCONNECT:
		n->hangup = true;
		/* fall through */
	default:
		if (k->ans.methods) {
			ssh_set_auth_methods(n->session, methods_to_ssh(k->ans.methods));
			ssh_message_auth_set_methods(msg, methods_to_ssh(k->ans.methods));
		}
		ssh_message_reply_default(msg);
		return;
	}
}

/* Everything the server callbacks do not handle: keyboard-interactive, and the
 * refusals we want logged (forwarding, other channel types). */
static int
on_message(ssh_session session, ssh_message msg, void *ud)
{
	struct net *n = ud;
	int type = ssh_message_type(msg), sub = ssh_message_subtype(msg);
	if (type == SSH_REQUEST_AUTH && sub == SSH_AUTH_METHOD_INTERACTIVE) {
		/* An INFO_RESPONSE carries no user name: it continues the pinned one. */
		bool response = ssh_message_auth_kbdint_is_response(msg);
		const char *user = response ? n->user : ssh_message_auth_user(msg);
		if (n->authenticated || !user || !pin_user(n, user))
			return 1;
		struct mon_kbdint k = {0};
		int r;
		if (!response) {
			r = mon_ask_kbdint_query(n->c->mon_fd, user, &k);
		} else {
			int na = ssh_userauth_kbdint_getnanswers(session);
			const char *ans[MON_KBDINT_MAX_PROMPTS];
			if (na < 0 || na > MON_KBDINT_MAX_PROMPTS)
				na = 0;
			for (int i = 0; i < na; i++)
				ans[i] = ssh_userauth_kbdint_getanswer(session, (unsigned)i);
			r = mon_ask_kbdint_answer(n->c->mon_fd, user, ans, (uint32_t)na, &k);
		}
		if (r < 0) {
			n->hangup = true;
			return 1;
		}
		if (k.n > 0)
			send_kbdint_prompts(n, msg, &k);
		else
			reply_kbdint_final(n, msg, &k);
		mon_kbdint_clear(&k);
		return 0;
	}
	if (type == SSH_REQUEST_GLOBAL) {
		NOTE(n, LOG_LEVEL_INFO, "refused global request %d from %s port %u", sub,
		     n->c->peer_addr, n->c->peer_port);
	} else if (type == SSH_REQUEST_CHANNEL_OPEN) {
		NOTE(n, LOG_LEVEL_INFO, "refused channel open type %d from %s port %u", sub,
		     n->c->peer_addr, n->c->peer_port);
	} else if (type == SSH_REQUEST_CHANNEL) {
		NOTE(n, LOG_LEVEL_INFO, "refused channel request %d from %s port %u", sub,
		     n->c->peer_addr, n->c->peer_port);
	}
	return 1; /* default reply: failure */
}

/*
 * Signed public-key requests that libssh 0.10 drops without an answer.
 *
 * RFC 4252 section 7: the server MUST answer a signed publickey request with SUCCESS or
 * FAILURE. libssh 0.10.6 verifies the signature inside its USERAUTH_REQUEST packet
 * handler (messages.c) and, when it does not verify ("Received an invalid signature
 * from peer"), or the key or signature does not parse, frees the message without
 * calling any callback and without replying: the client waits until LoginGraceTime.
 * The handler's only exit for such a message is ssh_message_free(), which libssh calls
 * through its PLT. berthd defines ssh_message_free itself, so the dynamic linker binds
 * libssh's calls to this one: it recognises a publickey request whose signature state
 * is WRONG/ERROR (or whose key did not parse), has the monitor count and log it as a
 * failed attempt, answers FAILURE with the methods that can continue (a real message,
 * public accessors and ssh_message_reply_default() only), then hands the message to
 * libssh's own ssh_message_free (RTLD_NEXT). daemon-auth tests that the answer comes.
 */
static struct net *dropped_auth_net; /* the session of this network child, or NULL */
static void (*libssh_message_free)(ssh_message);

static void
answer_dropped_auth(struct net *n, ssh_message msg)
{
	if (ssh_message_type(msg) != SSH_REQUEST_AUTH ||
	    ssh_message_subtype(msg) != SSH_AUTH_METHOD_PUBLICKEY)
		return;
		/* Deprecated in favour of the server callbacks, which never see this message. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	ssh_key key = ssh_message_auth_pubkey(msg);
	enum ssh_publickey_state_e st = ssh_message_auth_publickey_state(msg);
#pragma GCC diagnostic pop
	if (key && st != SSH_PUBLICKEY_STATE_WRONG && st != SSH_PUBLICKEY_STATE_ERROR)
		return; /* a probe or a verified request: auth_pubkey answered it */
	if (key && key == n->bad_sig_answered) {
		n->bad_sig_answered = NULL; /* a later libssh called auth_pubkey for it */
		return;
	}
	const char *user = ssh_message_auth_user(msg);
	if (n->authenticated || n->hangup || !user)
		return;
	if (pin_user(n, user))
		bad_signature(n, user, key);
	ssh_message_reply_default(msg);
}

void
ssh_message_free(ssh_message msg)
{
	if (!libssh_message_free)
		libssh_message_free = (void (*)(ssh_message))dlsym(RTLD_NEXT, "ssh_message_free");
	if (msg && dropped_auth_net)
		answer_dropped_auth(dropped_auth_net, msg);
	if (libssh_message_free)
		libssh_message_free(msg);
}

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
on_exec(ssh_session s, ssh_channel ch, const char *cmd, void *ud)
{
	refuse_log(ud, "exec");
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

static int
on_subsystem(ssh_session s, ssh_channel ch, const char *name, void *ud)
{
	struct net *n = ud;
	if (n->subsystem_seen || strcmp(name, "sftp") != 0) {
		NOTE(n, LOG_LEVEL_INFO, "refused subsystem '%s' from %s for %s port %u%s", name,
		     n->user ? n->user : "?", n->c->peer_addr, n->c->peer_port,
		     n->subsystem_seen ? " (already started)" : "");
		return -1;
	}
	n->subsystem_seen = true;
	n->chan = ch;
	int fd = -1;
	if (mon_ask_spawn_worker(n->c->mon_fd, &fd) < 0) {
		NOTE(n, LOG_LEVEL_ERROR, "worker could not be started for %s", n->user);
		return -1;
	}
	n->worker_fd = fd;
	return 0;
}

static void
on_channel_close(ssh_session s, ssh_channel ch, void *ud)
{
	struct net *n = ud;
	if (ch == n->chan)
		n->peer_closed = true;
}

static ssh_channel
on_channel_open(ssh_session session, void *ud)
{
	struct net *n = ud;
	if (!n->authenticated) {
		n->hangup = true;
		return NULL;
	}
	/* Several session channels may exist before sftp starts (a client may open the next
	 * before closing one whose request we refused); only one ever runs sftp. */
	if (n->worker_fd >= 0 || n->n_channels >= MAX_CHANNELS) {
		NOTE(n, LOG_LEVEL_INFO, "refused extra session channel from %s port %u",
		     n->c->peer_addr, n->c->peer_port);
		return NULL;
	}
	ssh_channel ch = ssh_channel_new(session);
	if (!ch)
		return NULL;
	/* Install the request callbacks before libssh can dispatch any request. */
	ssh_set_channel_callbacks(ch, &n->ccb);
	n->n_channels++;
	return ch;
}

static bool
session_dead(struct net *n)
{
	int st = ssh_get_status(n->session);
	return (st & (SSH_CLOSED | SSH_CLOSED_ERROR)) || !ssh_is_connected(n->session);
}

static void
on_alarm(int sig)
{
	/* Only async-signal-safe work here (regreSSHion): leave at once. */
	_exit(2);
}

static time_t
now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Pump bytes between the channel and the worker until either side ends. */
static int
pump(struct net *n)
{
	const struct berth_config *cfg = n->c->cfg;
	ssh_channel ch = n->chan;
	int wfd = n->worker_fd;
	int sfd = ssh_get_fd(n->session);
	fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK);
	ssh_set_blocking(n->session, 0);

	_cleanup_xbuf_ struct xbuf to_worker = XBUF_NULL, from_worker = XBUF_NULL;
	xbuf_init(&to_worker, PUMP_QUEUE);
	xbuf_init(&from_worker, PUMP_QUEUE);
	uint8_t *tmp = xmalloc(PUMP_CHUNK);
	bool chan_eof = false, worker_eof = false, worker_shut = false;
	time_t last_activity = now_mono(), last_progress = last_activity;
	int rc = 0;

	for (;;) {
		bool progressed = false;
		/* client -> queue */
		while (!chan_eof && xbuf_avail(&to_worker) >= PUMP_CHUNK) {
			int r = ssh_channel_read_nonblocking(ch, tmp, PUMP_CHUNK, 0);
			if (r > 0) {
				xbuf_put(&to_worker, tmp, (size_t)r);
				progressed = true;
			} else if (r == SSH_EOF) {
				chan_eof = true;
			} else if (r == SSH_ERROR) {
				rc = 1;
				goto out;
			} else {
				if (ssh_channel_is_eof(ch) && ssh_channel_poll(ch, 0) == SSH_EOF)
					chan_eof = true;
				break;
			}
		}
		/* queue -> worker */
		while (xbuf_len(&to_worker) > 0) {
			ssize_t w = write(wfd, xbuf_ptr(&to_worker), xbuf_len(&to_worker));
			if (w > 0) {
				xbuf_consume(&to_worker, (size_t)w);
				progressed = true;
				continue;
			}
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			worker_eof = true; /* worker gone */
			xbuf_reset(&to_worker);
			break;
		}
		if ((chan_eof || ssh_channel_is_closed(ch)) && xbuf_len(&to_worker) == 0 &&
		    !worker_shut) {
			shutdown(wfd, SHUT_WR);
			worker_shut = true;
		}
		/* worker -> queue */
		while (!worker_eof && xbuf_avail(&from_worker) >= PUMP_CHUNK) {
			uint8_t *p;
			if (xbuf_reserve(&from_worker, PUMP_CHUNK, &p) < 0)
				break;
			ssize_t r = read(wfd, p, PUMP_CHUNK);
			xbuf_trim_tail(&from_worker, PUMP_CHUNK - (r > 0 ? (size_t)r : 0));
			if (r > 0) {
				progressed = true;
				continue;
			}
			if (r == 0 || (errno != EAGAIN && errno != EINTR))
				worker_eof = true;
			break;
		}
		/* queue -> client, as much as the window allows */
		while (xbuf_len(&from_worker) > 0 && !ssh_channel_is_closed(ch)) {
			uint32_t win = ssh_channel_window_size(ch);
			if (win == 0)
				break;
			size_t len = MIN(xbuf_len(&from_worker), (size_t)win);
			len = MIN(len, (size_t)(256 * 1024));
			int w = ssh_channel_write(ch, xbuf_ptr(&from_worker), (uint32_t)len);
			if (w == SSH_ERROR) {
				rc = 1;
				goto out;
			}
			if (w <= 0)
				break;
			xbuf_consume(&from_worker, (size_t)w);
			progressed = true;
		}
		/* libssh 0.10 buffers data past the window it granted; a peer that ignores
		 * the window is cut off instead of growing this process. */
		if (ssh_channel_poll(ch, 0) > PEER_BUFFER_CAP) {
			NOTE(n, LOG_LEVEL_INFO,
			     "Disconnecting %s port %u: peer ignores the channel window",
			     n->c->peer_addr, n->c->peer_port);
			rc = 1;
			goto out;
		}
		time_t now = now_mono();
		if (progressed) {
			last_activity = now;
			last_progress = now;
		}
		if (worker_eof && xbuf_len(&from_worker) == 0)
			break;
		if (ssh_channel_is_closed(ch) || session_dead(n)) {
			rc = 0;
			goto out;
		}
		bool pending_out = xbuf_len(&from_worker) > 0 ||
		                   (ssh_get_poll_flags(n->session) & SSH_WRITE_PENDING);
		if (!pending_out)
			last_progress = now;
		if (cfg->stall_timeout && pending_out &&
		    now - last_progress >= (time_t)cfg->stall_timeout) {
			NOTE(n, LOG_LEVEL_INFO, "Stalled transfer for %s from %s port %u: closing",
			     n->user, n->c->peer_addr, n->c->peer_port);
			rc = 1;
			goto out;
		}
		if (cfg->idle_timeout && now - last_activity >= (time_t)cfg->idle_timeout) {
			NOTE(n, LOG_LEVEL_INFO, "Idle timeout for %s from %s port %u: closing",
			     n->user, n->c->peer_addr, n->c->peer_port);
			rc = 0;
			goto out;
		}
		if (progressed) {
			/* Let libssh flush and read more without sleeping. */
			if (ssh_event_dopoll(n->event, 0) == SSH_ERROR)
				goto out;
			continue;
		}
		struct pollfd p[2] = {
		        {.fd = sfd, .events = POLLIN},
		        {.fd = wfd, .events = 0},
		};
		if (ssh_get_poll_flags(n->session) & SSH_WRITE_PENDING)
			p[0].events |= POLLOUT;
		if (!worker_eof && xbuf_avail(&from_worker) >= PUMP_CHUNK)
			p[1].events |= POLLIN;
		if (xbuf_len(&to_worker) > 0)
			p[1].events |= POLLOUT;
		if (worker_eof)
			p[1].fd = -1;
		(void)poll(p, 2, 1000);
		/* libssh reads at most 4 KiB per wake-up: drain what is there. */
		for (int i = 0; i < 64; i++) {
			int r = ssh_event_dopoll(n->event, 0);
			if (r == SSH_ERROR) {
				rc = 1;
				goto out;
			}
			if (r != SSH_OK)
				break;
			if (ssh_channel_poll(ch, 0) >= (int)PUMP_QUEUE)
				break;
		}
	}
	/* Orderly end: exit status, EOF, close; then let the client close its side and
	 * hang up itself (a server-side disconnect first makes scp report an error). */
	if (!n->peer_closed) {
		ssh_channel_request_send_exit_status(ch, 0);
		ssh_channel_send_eof(ch);
	}
	ssh_channel_close(ch);
	for (int i = 0; i < 100 && !session_dead(n); i++) {
		if (ssh_event_dopoll(n->event, 50) == SSH_ERROR)
			break;
		if (n->peer_closed && i >= 40)
			break; /* 2 s for the client's own disconnect */
	}
out:
	free(tmp);
	return rc;
}

int
sshd_net_run(ssh_bind bind, const struct sshd_conn *c)
{
	const struct berth_config *cfg = c->cfg;
	struct net n = {.c = c, .worker_fd = -1};
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	if (cfg->login_grace_time) {
		struct sigaction sa = {.sa_handler = on_alarm};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		/* The monitor enforces the grace time too; this is the inner fuse. */
		alarm(cfg->login_grace_time + 1);
	}
	signal(SIGPIPE, SIG_IGN);

	n.session = ssh_new();
	if (!n.session)
		return 1;
	long timeout = cfg->login_grace_time ? (long)cfg->login_grace_time : 120;
	ssh_options_set(n.session, SSH_OPTIONS_TIMEOUT, &timeout);
	if (ssh_bind_accept_fd(bind, n.session, c->fd) != SSH_OK) {
		NOTE(&n, LOG_LEVEL_ERROR, "accept from %s: %s", c->peer_addr, ssh_get_error(bind));
		ssh_free(n.session);
		return 1;
	}

	if (!libssh_message_free)
		libssh_message_free = (void (*)(ssh_message))dlsym(RTLD_NEXT, "ssh_message_free");
	dropped_auth_net = &n;
	n.scb = (struct ssh_server_callbacks_struct){
	        .userdata = &n,
	        .auth_password_function = auth_password,
	        .auth_pubkey_function = auth_pubkey,
	        .channel_open_request_session_function = on_channel_open,
	};
	ssh_callbacks_init(&n.scb);
	ssh_set_server_callbacks(n.session, &n.scb);
	n.ccb = (struct ssh_channel_callbacks_struct){
	        .userdata = &n,
	        .channel_pty_request_function = on_pty,
	        .channel_shell_request_function = on_shell,
	        .channel_exec_request_function = on_exec,
	        .channel_env_request_function = on_env,
	        .channel_x11_req_function = on_x11,
	        .channel_auth_agent_req_function = on_agent,
	        .channel_subsystem_request_function = on_subsystem,
	        .channel_close_function = on_channel_close,
	};
	ssh_callbacks_init(&n.ccb);
	ssh_set_message_callback(n.session, on_message, &n);
	ssh_set_auth_methods(n.session, methods_to_ssh(berth_config_enabled_methods(cfg)));

	if (ssh_handle_key_exchange(n.session) != SSH_OK) {
		NOTE(&n, LOG_LEVEL_VERBOSE, "key exchange with %s port %u failed: %s", c->peer_addr,
		     c->peer_port, ssh_get_error(n.session));
		ssh_free(n.session);
		return 1;
	}
	n.event = ssh_event_new();
	if (!n.event || ssh_event_add_session(n.event, n.session) != SSH_OK) {
		ssh_disconnect(n.session);
		ssh_free(n.session);
		return 1;
	}

	/* Authentication, channel open and subsystem request. */
	time_t since = now_mono();
	while (n.worker_fd < 0) {
		int r = ssh_event_dopoll(n.event, 1000);
		if (r == SSH_ERROR || n.hangup || session_dead(&n))
			break;
		if (n.authenticated && cfg->login_grace_time)
			alarm(0);
		if (n.authenticated && cfg->idle_timeout &&
		    now_mono() - since >= (time_t)cfg->idle_timeout)
			break;
	}
	int rc = 1;
	if (n.worker_fd >= 0 && !n.hangup)
		rc = pump(&n);
	if (n.hangup)
		ssh_session_set_disconnect_message(n.session, "Too many authentication failures");
	if (n.worker_fd >= 0)
		close(n.worker_fd);
	dropped_auth_net = NULL;
	ssh_set_blocking(n.session, 1);
	ssh_disconnect(n.session);
	ssh_event_free(n.event);
	ssh_free(n.session);
	free(n.user);
	return rc;
}
