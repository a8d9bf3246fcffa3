/* SPDX-License-Identifier: BSD-2-Clause */
/* The network child: libssh KEX and authentication (decisions by the monitor); the
 * session channels and their workers are in channels.c. */
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
#include "berth/sandbox.h"
#include "berth/sshd.h"
#include "berth/xmem.h"

#include "ssh-internal.h"

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
		__attribute__((fallthrough));
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
on_alarm(int sig)
{
	/* Only async-signal-safe work here (regreSSHion): leave at once. */
	_exit(2);
}

int
sshd_net_run(ssh_bind bind, const struct sshd_conn *c)
{
	const struct berth_config *cfg = c->cfg;
	struct net n = {.c = c};
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
	        .channel_open_request_session_function = net_channel_open,
	};
	ssh_callbacks_init(&n.scb);
	ssh_set_server_callbacks(n.session, &n.scb);
	net_channel_callbacks_init(&n);
	ssh_set_message_callback(n.session, on_message, &n);
	ssh_set_auth_methods(n.session, methods_to_ssh(berth_config_enabled_methods(cfg)));

	/* Before the first byte from the network is read: the seccomp allow-list. */
	if (cfg->seccomp_filter) {
		int r = sandbox_install(SANDBOX_NET_SSH);
		if (r < 0) {
			NOTE(&n, LOG_LEVEL_ERROR,
			     "seccomp filter for the network child: %s (SeccompFilter no disables "
			     "it)",
			     strerror(-r));
			ssh_free(n.session);
			return 1;
		}
	}
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

	/* Authentication (the monitor decides); then the session channels. */
	while (!n.authenticated) {
		int r = ssh_event_dopoll(n.event, 1000);
		if (r == SSH_ERROR || n.hangup || net_session_dead(&n))
			break;
	}
	int rc = 1;
	if (n.authenticated && !n.hangup) {
		if (cfg->login_grace_time)
			alarm(0);
		rc = net_serve(&n);
	}
	if (n.hangup && !n.authenticated)
		ssh_session_set_disconnect_message(n.session, "Too many authentication failures");
	net_channels_close(&n);
	dropped_auth_net = NULL;
	ssh_set_blocking(n.session, 1);
	ssh_disconnect(n.session);
	ssh_event_free(n.event);
	ssh_free(n.session);
	free(n.user);
	return rc;
}
