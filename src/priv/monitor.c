/* SPDX-License-Identifier: BSD-2-Clause */
/* The per-connection monitor: forks the unprivileged network child and answers its
 * small request table (auth decisions, worker spawn). It never parses SSH packets. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "berth/account.h"
#include "berth/audit.h"
#include "berth/authkeys.h"
#include "berth/buf.h"
#include "berth/common.h"
#include "berth/control.h"
#include "berth/ftpsd.h"
#include "berth/log.h"
#include "berth/policy.h"
#include "berth/policy_state.h"
#include "berth/priv.h"
#include "berth/scp_engine.h"
#include "berth/spawner.h"
#include "berth/sshd.h"
#include "berth/tls.h"
#include "berth/worker.h"
#include "berth/xmem.h"

#define MON_MAX_PASSED       16
#define NET_CHILD_DATA_LIMIT (512UL * 1024 * 1024)
#define WORKER_EXIT_WAIT_MS  2000 /* a worker that closed its socket is exiting */

/* One session's worker: a slot stays after the worker exits until the network child
 * fetched its exit status (MON_REQ_SESSION_END) or the slot is needed again. */
struct mon_worker {
	pid_t pid;    /* 0 = free slot */
	int exit_fd;  /* readable once the worker exited (spawner's exit socket, or a
	              * pidfd); -1 after reaping */
	bool spawned; /* a child of the spawner: its status comes on exit_fd */
	bool exited;  /* reaped; status valid */
	int status;   /* wait status */
	time_t start;
	int rec_fd;           /* transfer records from the worker (audit.h), or -1 */
	const char *protocol; /* for the transfer logs: "sftp", "scp", "ftps", "ftp" */
	uint64_t rec_window;  /* start (monotonic ms) of the current second of records */
	size_t rec_budget;    /* records still read in it (AUDIT_RECORDS_PER_SECOND) */
};

struct monitor {
	const struct monitor_conn *mc;
	const struct berth_config *cfg;
	int sock;
	pid_t net_pid;
	struct mon_worker *workers; /* session workers (2 x MaxSessions slots) */
	size_t n_worker_slots;
	char *user;                 /* pinned at the first request */
	struct berth_account *acct; /* NULL: invalid or refused user */
	bool invalid;               /* no such account */
	bool keys_loaded;
	struct authkeys_list keys;
	enum berth_auth_method passed[MON_MAX_PASSED];
	size_t n_passed;
	unsigned failures;
	bool authenticated;
	bool disconnecting;
	struct berth_pam *pam; /* keyboard-interactive transaction in progress */
	size_t pam_nprompts;
	bool kbdint_virtual;                   /* single "Password:" prompt outstanding */
	char auth_method_log[64];              /* method that completed authentication */
	const struct authkeys_entry *key_used; /* the key that passed publickey, if any */
	int login_slot_fd;                     /* MaxLogins slot held for the session, or -1 */
	/* FTPS connections: "ftps" in the auth log lines instead of "ssh2", one worker,
	 * the control connection's local address for its data connections. */
	bool ftps;
	const char *proto_label;
	bool ftp_spawned;
	char local_addr[NI_MAXHOST];
};

/* The account database: loaded by each connection's monitor after the network child
 * has been forked, so no unprivileged process ever had a password hash in memory, and
 * edits to the accounts file apply to the next connection without a restart. */
static struct berth_accounts *monitor_db;

static struct berth_accounts *
load_accounts(const struct berth_config *cfg)
{
	struct berth_accounts *db = NULL;
	if (cfg->accounts_file) {
		struct berth_errors errs = BERTH_ERRORS_NULL;
		int kept;
		int r = berth_accounts_load_keep(cfg->accounts_file, cfg->state_directory, &db,
		                                 &errs, &kept);
		if (kept < 0)
			log_error("StateDirectory %s: cannot keep the last good accounts file: %s",
			          cfg->state_directory, strerror(-kept));
		for (size_t i = 0; i < errs.n; i++)
			log_error("%s", errs.msgs[i]);
		berth_errors_free(&errs);
		if (r < 0 || !db) {
			/* The configuration in force stays: the last copy validated at start,
			 * reload or by berthctl. Without one, fail closed. */
			berth_accounts_free(db);
			db = NULL;
			_cleanup_free_ char *good =
			        berth_accounts_last_good_path(cfg->state_directory);
			if (berth_accounts_load(good, &db, NULL) == 0 && db) {
				log_error("AccountsFile %s: %s; serving the last good copy %s",
				          cfg->accounts_file, r < 0 ? strerror(-r) : "invalid",
				          good);
			} else {
				berth_accounts_free(db);
				db = NULL;
				log_error("AccountsFile %s: %s; refusing logins",
				          cfg->accounts_file, r < 0 ? strerror(-r) : "invalid");
			}
		}
	}
	return db ? db : berth_accounts_new_empty();
}

static uint32_t
enabled_methods(const struct monitor *m)
{
	if (m->acct)
		return m->acct->allowed_methods;
	return berth_config_enabled_methods(m->cfg);
}

/* Methods allowed next given what passed so far; 0 when nothing can still succeed. */
static uint32_t
next_methods(const struct monitor *m)
{
	struct berth_auth_state st;
	const struct berth_auth_policy *pol = berth_account_policy(m->cfg, m->acct);
	if (berth_auth_evaluate(pol, enabled_methods(m), m->passed, m->n_passed, &st) != 0)
		return 0;
	if (st.complete)
		return 0;
	if (m->n_passed == 0 && st.next == 0)
		/* Unknown users and refused accounts answer like everyone else. */
		return berth_config_enabled_methods(m->cfg);
	return st.next;
}

/* The type name embedded at the front of a blob, for log lines only. */
static void
blob_type(const uint8_t *blob, size_t len, char *out, size_t outlen)
{
	struct xbuf b;
	const uint8_t *p;
	size_t n;
	snprintf(out, outlen, "unknown");
	xbuf_view_init(&b, blob, len);
	if (xbuf_get_string_direct(&b, &p, &n) == 0 && n > 0 && n < outlen) {
		memcpy(out, p, n);
		out[n] = '\0';
	}
}

static void
tell_master_authenticated(struct monitor *m)
{
	/* The channel stays open: session records and the end of the connection. */
	conn_report_auth(m->mc->startup_fd, m->user);
}

static int
reply_answer(struct monitor *m, enum mon_auth_result res)
{
	_cleanup_xbuf_ struct xbuf rep = XBUF_NULL;
	xbuf_init(&rep, MON_MSG_MAX);
	uint32_t next = res == MON_AUTH_SUCCESS ? 0 : next_methods(m);
	if (xbuf_put_u8(&rep, (uint8_t)res) < 0 || xbuf_put_u32(&rep, next) < 0)
		return -ENOBUFS;
	return mon_send(m->sock, xbuf_ptr(&rep), xbuf_len(&rep), -1);
}

/* "DenyFrom 192.0.2.9 (accounts:14)": the rule that refused a login. */
static char *
login_rule_text(const struct policy_verdict *v)
{
	const struct policy_step *s = v->n ? &v->steps[v->n - 1] : NULL;
	if (!s || !s->text)
		return xstrdup("policy");
	if (s->origin && s->origin->file)
		return xasprintf("%s (%s:%u)", s->text, s->origin->file, s->origin->line);
	return xstrdup(s->text);
}

/* MaxLogins: take one of the account's concurrent-login slots for this connection (an
 * OFD lock the kernel drops with the last process holding it). True when the login may
 * proceed. */
static bool
take_login_slot(struct monitor *m)
{
	const struct policy *p = m->acct->policy;
	uint64_t max = policy_get(p, POLICY_MAX_LOGINS);
	if (max == 0)
		return true;
	uint32_t slot;
	int r = policy_login_slot(m->cfg->state_directory, m->acct->name, (uint32_t)max,
	                          &m->login_slot_fd, &slot);
	if (r == 0)
		return true;
	const struct policy_value *v = &p->values[POLICY_MAX_LOGINS];
	if (r == POLICY_STATE_FULL)
		log_info("User %s from %s not allowed because of too many sessions (%s at %s:%u)",
		         m->user, m->mc->peer_addr, v->text ? v->text : "MaxLogins",
		         v->origin.file ? v->origin.file : "?", v->origin.line);
	else
		log_error("User %s from %s refused: cannot count sessions in %s/sessions: %s",
		          m->user, m->mc->peer_addr, m->cfg->state_directory, strerror(-r));
	return false;
}

/* The protocols a login on this connection can use (Protocols): SSH's two, or FTPS, and
 * plain FTP too on an allow-plain listener (the session's worker request says which). */
static uint32_t
login_protocols(const struct monitor *m)
{
	if (!m->ftps)
		return POLICY_PROTO_SSH;
	return POLICY_PROTO_FTPS | (m->mc->ftps_allow_plain ? POLICY_PROTO_FTP : 0);
}

/* Pin the user name; returns false when the client changed it (hang up). */
static bool
pin_user(struct monitor *m, const char *user)
{
	if (m->user) {
		if (strcmp(m->user, user) == 0)
			return true;
		/* Another user name on the same connection: a protocol violation. */
		conn_report_event(m->mc->startup_fd, DEFENDER_VIOLATION);
		return false;
	}
	m->user = xstrdup(user);
	struct berth_account *a = NULL;
	int r = berth_account_lookup(m->cfg, monitor_db, user, &a);
	if (r != 0) {
		m->invalid = true;
		if (r < 0)
			log_error("account lookup for %s failed: %s", user, strerror(-r));
		log_info("Invalid user %s from %s port %u", user, m->mc->peer_addr,
		         m->mc->peer_port);
		return true;
	}
	const char *why = NULL;
	if (berth_account_check_access(m->cfg, a, m->mc->peer_addr, &why) != 0) {
		log_info("User %s from %s not allowed because %s", user, m->mc->peer_addr,
		         why ? why : "of policy");
		berth_account_free(a);
		return true; /* acct stays NULL: every method fails, same answers */
	}
	/* The account's own login rules (AllowFrom, DenyFrom, Expires, Protocols): same
	 * treatment as AllowUsers, a refused account answers like a wrong password. */
	struct policy_verdict v;
	if (policy_check_login(a->policy, m->mc->peer_addr, time(NULL), login_protocols(m), &v) <
	    0) {
		_cleanup_free_ char *rule = login_rule_text(&v);
		log_info("User %s from %s not allowed because of %s", user, m->mc->peer_addr, rule);
		berth_account_free(a);
		return true;
	}
	m->acct = a;
	return true;
}

static void
record_failure(struct monitor *m)
{
	m->failures++;
}

/* Common end of a method attempt: success/partial/failure bookkeeping and logging. */
static enum mon_auth_result
method_result(struct monitor *m, enum berth_auth_method method, bool ok, const char *label,
              const char *detail)
{
	const char *inv = m->acct || !m->invalid ? "" : "invalid user ";
	bool over_limit = false;
	if (ok && m->n_passed < MON_MAX_PASSED) {
		m->passed[m->n_passed++] = method;
		struct berth_auth_state st = {0};
		const struct berth_auth_policy *pol = berth_account_policy(m->cfg, m->acct);
		/* FTP has one method: a password that is only part of a chain fails. */
		if (berth_auth_evaluate(pol, enabled_methods(m), m->passed, m->n_passed, &st) ==
		            0 &&
		    (st.complete || (st.partial && !m->ftps)) &&
		    (!st.complete || take_login_slot(m))) {
			log_info("%s %s for %s from %s port %u %s%s%s",
			         st.complete ? "Accepted" : "Partial", label, m->user,
			         m->mc->peer_addr, m->mc->peer_port, m->proto_label,
			         detail ? ": " : "", detail ? detail : "");
			if (st.complete) {
				m->authenticated = true;
				snprintf(m->auth_method_log, sizeof(m->auth_method_log), "%s",
				         label);
				tell_master_authenticated(m);
				return MON_AUTH_SUCCESS;
			}
			return MON_AUTH_PARTIAL;
		}
		m->n_passed--;
		over_limit = st.complete; /* MaxLogins: refused like a failed login */
	}
	if (!over_limit)
		log_info("Failed %s for %s%s from %s port %u %s%s%s", label, inv, m->user,
		         m->mc->peer_addr, m->mc->peer_port, m->proto_label, detail ? ": " : "",
		         detail ? detail : "");
	record_failure(m);
	if (!over_limit) /* MaxLogins refused a right credential: not the defender's business */
		conn_report_event(m->mc->startup_fd,
		                  m->invalid ? DEFENDER_INVALID_USER : DEFENDER_AUTH_FAILURE);
	if (m->cfg->max_auth_tries && m->failures >= m->cfg->max_auth_tries) {
		log_info("maximum authentication attempts exceeded for %s%s from %s port %u "
		         "%s [preauth]",
		         inv, m->user, m->mc->peer_addr, m->mc->peer_port, m->proto_label);
		m->disconnecting = true;
		return MON_AUTH_DISCONNECT;
	}
	return MON_AUTH_DENY;
}

static bool
method_allowed_now(struct monitor *m, enum berth_auth_method method)
{
	return m->acct && (next_methods(m) & method) && (enabled_methods(m) & method);
}

static int
handle_pubkey(struct monitor *m, struct xbuf *req)
{
	_cleanup_free_ char *user = NULL;
	uint8_t state;
	const uint8_t *blob;
	size_t blob_len;
	if (xbuf_get_cstring(req, &user, BERTH_ACCOUNT_NAME_MAX + 1) < 0 ||
	    xbuf_get_u8(req, &state) < 0 || xbuf_get_string_direct(req, &blob, &blob_len) < 0 ||
	    state > MON_PK_BAD_SIGNATURE)
		return -EBADMSG;
	bool verified = state == MON_PK_VERIFIED;
	if (!pin_user(m, user)) {
		log_info("Disconnecting %s port %u: change of username not allowed",
		         m->mc->peer_addr, m->mc->peer_port);
		m->disconnecting = true;
		return reply_answer(m, MON_AUTH_DISCONNECT);
	}
	char fp[160], type[64], detail[256];
	authkeys_fingerprint(blob, blob_len, fp, sizeof(fp));
	blob_type(blob, blob_len, type, sizeof(type));
	snprintf(detail, sizeof(detail), "%s %s", authkeys_type_label(type), fp);
	if (state == MON_PK_BAD_SIGNATURE)
		/* A signature that does not verify is a failed attempt with this key (an
		 * unparsable key has no blob and no fingerprint), as in sshd. */
		return reply_answer(m, method_result(m, BERTH_AUTH_PUBLICKEY, false, "publickey",
		                                     blob_len ? detail : NULL));

	const struct authkeys_entry *e = NULL;
	if (method_allowed_now(m, BERTH_AUTH_PUBLICKEY)) {
		if (!m->keys_loaded) {
			struct berth_errors errs = BERTH_ERRORS_NULL;
			int r = berth_account_load_keys(m->acct, &m->keys, &errs);
			if (r < 0)
				log_error("authorized keys for %s: %s", m->user, strerror(-r));
			for (size_t i = 0; i < errs.n; i++)
				log_error("%s", errs.msgs[i]);
			berth_errors_free(&errs);
			m->keys_loaded = true;
		}
		e = authkeys_find(&m->keys, blob, blob_len);
		const char *why = NULL;
		if (e && authkeys_entry_permits(e, m->mc->peer_addr, time(NULL), &why) != 0) {
			log_info("Authentication refused for %s from %s: key %s:%u: %s", m->user,
			         m->mc->peer_addr, e->source, e->line, why ? why : "denied");
			e = NULL;
		}
	}
	if (!verified) {
		if (e) /* answer the probe truthfully; no state changes */
			return reply_answer(m, MON_AUTH_PK_OK);
		return reply_answer(
		        m, method_result(m, BERTH_AUTH_PUBLICKEY, false, "publickey", detail));
	}
	if (e)
		snprintf(detail, sizeof(detail), "%s %s", authkeys_type_label(e->type), fp);
	enum mon_auth_result res =
	        method_result(m, BERTH_AUTH_PUBLICKEY, e != NULL, "publickey", detail);
	if (e && (res == MON_AUTH_SUCCESS || res == MON_AUTH_PARTIAL))
		m->key_used = e; /* its command="internal-sftp -R" makes the session read-only */
	return reply_answer(m, res);
}

/* Verify a password for the pinned account (crypt for virtual, PAM for system). */
static bool
check_password(struct monitor *m, const char *password)
{
	bool allowed = method_allowed_now(m, BERTH_AUTH_PASSWORD) ||
	               method_allowed_now(m, BERTH_AUTH_KBDINT);
	if (!allowed || !m->acct) {
		berth_password_dummy_verify(monitor_db, password);
		return false;
	}
	if (m->acct->kind == BERTH_ACCOUNT_VIRTUAL)
		return berth_account_verify_password(monitor_db, m->acct, password) == 0;
	if (!m->cfg->use_pam) {
		berth_password_dummy_verify(monitor_db, password);
		return false;
	}
	struct berth_pam *p = NULL;
	int r = berth_pam_password(m->cfg->pam_service_name, m->user, m->mc->peer_addr, password,
	                           &p);
	if (r == BERTH_PAM_SUCCESS) {
		berth_pam_end(p);
		return true;
	}
	if (r < 0)
		log_error("PAM for %s: %s", m->user, strerror(-r));
	return false;
}

static int
handle_password(struct monitor *m, struct xbuf *req)
{
	_cleanup_free_ char *user = NULL;
	char *pw = NULL;
	if (xbuf_get_cstring(req, &user, BERTH_ACCOUNT_NAME_MAX + 1) < 0 ||
	    xbuf_get_cstring(req, &pw, 1024) < 0)
		return -EBADMSG;
	if (!pin_user(m, user)) {
		freezero(pw, strlen(pw));
		m->disconnecting = true;
		return reply_answer(m, MON_AUTH_DISCONNECT);
	}
	bool ok = method_allowed_now(m, BERTH_AUTH_PASSWORD) && check_password(m, pw);
	if (!method_allowed_now(m, BERTH_AUTH_PASSWORD))
		berth_password_dummy_verify(monitor_db, pw);
	freezero(pw, strlen(pw));
	return reply_answer(m, method_result(m, BERTH_AUTH_PASSWORD, ok, "password", NULL));
}

static int
put_prompts(struct xbuf *rep, const struct berth_pam_prompts *pp)
{
	uint32_t n = 0;
	for (size_t i = 0; i < pp->n; i++)
		n++;
	if (xbuf_put_u8(rep, 1) < 0 || xbuf_put_u32(rep, n) < 0)
		return -ENOBUFS;
	for (size_t i = 0; i < pp->n; i++) {
		if (xbuf_put_cstring(rep, pp->v[i].text ? pp->v[i].text : "") < 0 ||
		    xbuf_put_u8(rep, pp->v[i].info ? 2 : pp->v[i].echo) < 0)
			return -ENOBUFS;
	}
	return 0;
}

/* Reply to a kbd-int step: answer fields, then u8 more, [u32 n, n * (string, u8 kind)]
 * where kind 0 = secret prompt, 1 = echoed prompt, 2 = information only. */
static int
reply_kbdint(struct monitor *m, enum mon_auth_result res, const struct berth_pam_prompts *pp)
{
	_cleanup_xbuf_ struct xbuf rep = XBUF_NULL;
	xbuf_init(&rep, MON_MSG_MAX);
	uint32_t next = res == MON_AUTH_SUCCESS ? 0 : next_methods(m);
	if (xbuf_put_u8(&rep, (uint8_t)res) < 0 || xbuf_put_u32(&rep, next) < 0)
		return -ENOBUFS;
	if (pp) {
		if (put_prompts(&rep, pp) < 0)
			return -ENOBUFS;
	} else if (xbuf_put_u8(&rep, 0) < 0) {
		return -ENOBUFS;
	}
	return mon_send(m->sock, xbuf_ptr(&rep), xbuf_len(&rep), -1);
}

static int
pam_step(struct monitor *m)
{
	struct berth_pam_prompts pp = {0};
	int r = berth_pam_next(m->pam, &pp);
	if (r == BERTH_PAM_PROMPTS) {
		m->pam_nprompts = pp.n;
		int rr = reply_kbdint(m, MON_AUTH_DENY, &pp);
		berth_pam_prompts_free(&pp);
		return rr;
	}
	m->pam = berth_pam_end(m->pam);
	m->pam_nprompts = 0;
	if (r < 0)
		log_error("PAM for %s: %s", m->user, strerror(-r));
	bool ok = r == BERTH_PAM_SUCCESS;
	return reply_kbdint(
	        m, method_result(m, BERTH_AUTH_KBDINT, ok, "keyboard-interactive/pam", NULL), NULL);
}

static int
handle_kbdint_query(struct monitor *m, struct xbuf *req)
{
	_cleanup_free_ char *user = NULL;
	if (xbuf_get_cstring(req, &user, BERTH_ACCOUNT_NAME_MAX + 1) < 0)
		return -EBADMSG;
	if (!pin_user(m, user)) {
		m->disconnecting = true;
		return reply_kbdint(m, MON_AUTH_DISCONNECT, NULL);
	}
	m->pam = berth_pam_end(m->pam);
	m->kbdint_virtual = false;
	if (!(berth_config_enabled_methods(m->cfg) & BERTH_AUTH_KBDINT))
		return reply_kbdint(m, MON_AUTH_DENY, NULL);
	if (m->acct && m->acct->kind == BERTH_ACCOUNT_SYSTEM && m->cfg->use_pam &&
	    method_allowed_now(m, BERTH_AUTH_KBDINT)) {
		int r = berth_pam_start(m->cfg->pam_service_name, m->user, m->mc->peer_addr,
		                        BERTH_PAM_AUTHENTICATE | BERTH_PAM_ACCOUNT, &m->pam);
		if (r < 0) {
			log_error("PAM start for %s: %s", m->user, strerror(-r));
			return reply_kbdint(m, MON_AUTH_DENY, NULL);
		}
		return pam_step(m);
	}
	/* Virtual, unknown or refused users: one password prompt, same shape for all. */
	struct berth_pam_prompt pr = {.text = (char *)"Password: ", .echo = false};
	struct berth_pam_prompts pp = {.v = &pr, .n = 1};
	m->kbdint_virtual = true;
	return reply_kbdint(m, MON_AUTH_DENY, &pp);
}

static int
handle_kbdint_answer(struct monitor *m, struct xbuf *req)
{
	_cleanup_free_ char *user = NULL;
	uint32_t n;
	if (xbuf_get_cstring(req, &user, BERTH_ACCOUNT_NAME_MAX + 1) < 0 ||
	    xbuf_get_u32(req, &n) < 0 || n > 32)
		return -EBADMSG;
	if (!pin_user(m, user)) {
		m->disconnecting = true;
		return reply_kbdint(m, MON_AUTH_DISCONNECT, NULL);
	}
	char *ans[32] = {0};
	for (uint32_t i = 0; i < n; i++) {
		if (xbuf_get_cstring(req, &ans[i], 1024) < 0) {
			for (uint32_t j = 0; j < i; j++)
				freezero(ans[j], strlen(ans[j]));
			return -EBADMSG;
		}
	}
	int r;
	if (m->pam && n == m->pam_nprompts) {
		r = berth_pam_answer(m->pam, ans, n); /* wipes and frees the answers */
		if (r < 0) {
			m->pam = berth_pam_end(m->pam);
			return reply_kbdint(m,
			                    method_result(m, BERTH_AUTH_KBDINT, false,
			                                  "keyboard-interactive/pam", NULL),
			                    NULL);
		}
		return pam_step(m);
	}
	bool ok = false;
	if (m->kbdint_virtual && n == 1) {
		ok = method_allowed_now(m, BERTH_AUTH_KBDINT) && check_password(m, ans[0]);
	}
	for (uint32_t i = 0; i < n; i++)
		freezero(ans[i], strlen(ans[i]));
	m->kbdint_virtual = false;
	m->pam = berth_pam_end(m->pam);
	return reply_kbdint(
	        m, method_result(m, BERTH_AUTH_KBDINT, ok, "keyboard-interactive", NULL), NULL);
}

/* ---- session workers ---- */

static int
worker_exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static struct mon_worker *
worker_by_id(struct monitor *m, uint32_t id)
{
	for (size_t i = 0; i < m->n_worker_slots; i++)
		if (m->workers[i].pid > 0 && (uint32_t)m->workers[i].pid == id)
			return &m->workers[i];
	return NULL;
}

static uint64_t monotonic_ms(void);

/* 0 when @w's record channel may be read now (a new second refills its budget), else
 * how many ms until it may (AUDIT_RECORDS_PER_SECOND). */
static uint64_t
records_wait_ms(struct mon_worker *w, uint64_t now_ms)
{
	if (now_ms >= w->rec_window + 1000) {
		w->rec_window = now_ms;
		w->rec_budget = AUDIT_RECORDS_PER_SECOND;
	}
	return w->rec_budget > 0 ? 0 : w->rec_window + 1000 - now_ms;
}

/* Write the transfer records @w sent (see audit.h); @last: it exited, read them all
 * and close the channel. */
static void
worker_records(struct monitor *m, struct mon_worker *w, bool last)
{
	if (w->rec_fd < 0)
		return;
	struct xfer_session s = {
	        .account = m->acct ? m->acct->name : m->user,
	        .addr = m->mc->peer_addr,
	        .port = m->mc->peer_port,
	        .protocol = w->protocol ? w->protocol : "?",
	        .session_id = (uint32_t)w->pid,
	};
	if (last) {
		/* Everything it wrote, yet bounded: a process the worker left behind could
		 * hold its end. */
		size_t budget = 64 * (size_t)AUDIT_RECORDS_PER_SECOND;
		while (budget > 0 && audit_channel_drain(w->rec_fd, m->cfg, &s, &budget) == 0)
			;
		close(w->rec_fd);
		w->rec_fd = -1;
		return;
	}
	if (records_wait_ms(w, monotonic_ms()) == 0)
		(void)audit_channel_drain(w->rec_fd, m->cfg, &s, &w->rec_budget);
}

/* Reap @w if it has exited, waiting at most @wait_ms; logs the end of its session. */
static void
worker_reap(struct monitor *m, struct mon_worker *w, int wait_ms)
{
	if (w->pid <= 0 || w->exited)
		return;
	int st;
	if (w->spawned) {
		if (spawner_exit_status(w->exit_fd, wait_ms, &st) != 1)
			return;
	} else {
		if (wait_ms != 0 && w->exit_fd >= 0) {
			struct pollfd p = {.fd = w->exit_fd, .events = POLLIN};
			while (poll(&p, 1, wait_ms) < 0 && errno == EINTR)
				;
		}
		pid_t r;
		do
			r = waitpid(w->pid, &st, wait_ms < 0 ? 0 : WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r != w->pid)
			return;
	}
	w->exited = true;           /* the slot stays until the status is asked for or needed */
	worker_records(m, w, true); /* what it sent before it exited */
	w->status = st;
	if (w->exit_fd >= 0)
		close(w->exit_fd);
	w->exit_fd = -1;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		log_error("worker %d for %s killed by its seccomp filter (the kernel audit log "
		          "names the system call)",
		          (int)w->pid, m->user);
	log_info("Close session: user %s from %s port %u id %d (%lds, worker status %d)", m->user,
	         m->mc->peer_addr, m->mc->peer_port, (int)w->pid, (long)(time(NULL) - w->start),
	         worker_exit_code(st));
	conn_report_end(m->mc->startup_fd, (uint32_t)w->pid);
}

static size_t
workers_running(struct monitor *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n_worker_slots; i++)
		if (m->workers[i].pid > 0 && !m->workers[i].exited)
			n++;
	return n;
}

/* A slot for a new session, or NULL past MaxSessions. A worker whose channel just
 * closed may still be exiting: give it a moment before refusing. */
static struct mon_worker *
worker_slot(struct monitor *m)
{
	if (!m->workers) {
		m->n_worker_slots = 2 * (size_t)m->cfg->max_sessions_per_conn;
		m->workers = xcalloc(m->n_worker_slots, sizeof(*m->workers));
		for (size_t i = 0; i < m->n_worker_slots; i++)
			m->workers[i].exit_fd = m->workers[i].rec_fd = -1;
	}
	for (size_t i = 0; i < m->n_worker_slots; i++)
		worker_reap(m, &m->workers[i], 0);
	if (workers_running(m) >= m->cfg->max_sessions_per_conn) {
		struct pollfd p[2 * BERTH_MAX_SESSIONS_PER_CONN];
		nfds_t np = 0;
		for (size_t i = 0; i < m->n_worker_slots; i++)
			if (m->workers[i].exit_fd >= 0)
				p[np++] = (struct pollfd){.fd = m->workers[i].exit_fd,
				                          .events = POLLIN};
		(void)poll(p, np, WORKER_EXIT_WAIT_MS);
		for (size_t i = 0; i < m->n_worker_slots; i++)
			worker_reap(m, &m->workers[i], 0);
		if (workers_running(m) >= m->cfg->max_sessions_per_conn)
			return NULL;
	}
	struct mon_worker *oldest = NULL;
	for (size_t i = 0; i < m->n_worker_slots; i++) {
		struct mon_worker *w = &m->workers[i];
		if (w->pid == 0)
			return w;
		if (w->exited && (!oldest || w->start < oldest->start))
			oldest = w; /* its status was never asked for */
	}
	return oldest;
}

static void
worker_track(struct mon_worker *w, pid_t pid, int exit_fd, bool spawned)
{
	*w = (struct mon_worker){.pid = pid,
	                         .exit_fd = exit_fd,
	                         .spawned = spawned,
	                         .start = time(NULL),
	                         .rec_fd = -1};
}

/* The account's compiled policy, encoded into a sealed memfd the worker reads at start:
 * the worker gets its own rules and nothing else of the accounts file. */
static int
policy_memfd(const struct policy *p)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, POLICY_CODEC_MAX);
	int r = policy_encode(p, &b);
	if (r < 0)
		return r;
	int fd = memfd_create("berth-policy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	size_t off = 0, len = xbuf_len(&b);
	while (off < len) {
		ssize_t n = write(fd, xbuf_ptr(&b) + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			close(fd);
			return r;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* What the worker needs of the account's policy: the encoded rules, and the shared state
 * file when there is a quota or a bandwidth limit. Fails closed. */
static int
prepare_policy(struct monitor *m, int *ret_policy_fd, int *ret_state_fd)
{
	berth_account_apply_key(m->acct, m->key_used);
	struct policy *p = m->acct->policy;
	int pfd = policy_memfd(p);
	if (pfd < 0) {
		log_error("cannot hand the policy of %s to its session: %s", m->user,
		          strerror(-pfd));
		return pfd;
	}
	int sfd = -1;
	if (policy_get(p, POLICY_QUOTA_BYTES) || policy_get(p, POLICY_QUOTA_FILES) ||
	    policy_get(p, POLICY_BW_UPLOAD) || policy_get(p, POLICY_BW_DOWNLOAD)) {
		int r = policy_state_open(m->cfg->state_directory, m->acct->name, &sfd);
		if (r < 0) {
			log_error("cannot open the quota state of %s in %s/quota: %s", m->user,
			          m->cfg->state_directory, strerror(-r));
			close(pfd);
			return r;
		}
	}
	*ret_policy_fd = pfd;
	*ret_state_fd = sfd;
	return 0;
}

/* The optional session kind of a spawn request: NULL (sftp) or the scp command line
 * in *ret_scp (caller frees). 0 or -EBADMSG. */
static int
spawn_kind(struct xbuf *req, char **ret_scp)
{
	uint8_t kind;
	*ret_scp = NULL;
	if (xbuf_len(req) == 0)
		return 0;
	if (xbuf_get_u8(req, &kind) < 0 || kind != MON_SESSION_SCP ||
	    xbuf_get_cstring(req, ret_scp, SCP_MAX_CMD) < 0 || xbuf_len(req) != 0)
		return -EBADMSG;
	return 0;
}

/* An FTP session's worker request: its protocol (POLICY_PROTO_FTPS, or POLICY_PROTO_FTP
 * for a plaintext control connection, which only an allow-plain listener has). 0 or
 * -EBADMSG. */
static int
ftp_spawn_kind(const struct monitor *m, struct xbuf *req, uint64_t *ret_proto)
{
	uint8_t kind;
	if (xbuf_get_u8(req, &kind) < 0 || xbuf_len(req) != 0 ||
	    (kind != MON_SESSION_FTPS && (kind != MON_SESSION_FTP || !m->mc->ftps_allow_plain)))
		return -EBADMSG;
	*ret_proto = kind == MON_SESSION_FTPS ? POLICY_PROTO_FTPS : POLICY_PROTO_FTP;
	return 0;
}

static int
handle_spawn(struct monitor *m, struct xbuf *req)
{
	uint8_t no = 0;
	struct mon_worker *slot = NULL;
	_cleanup_free_ char *scp = NULL;
	uint64_t proto = POLICY_PROTO_SFTP;
	if (m->ftps ? ftp_spawn_kind(m, req, &proto) < 0 : spawn_kind(req, &scp) < 0)
		return -EBADMSG;
	if (scp)
		proto = POLICY_PROTO_SCP;
	if (m->ftps && m->ftp_spawned) {
		/* An FTP session has exactly one worker, started at login. */
		log_error("refusing a second FTP worker for %s port %u", m->mc->peer_addr,
		          m->mc->peer_port);
		return -EPROTO;
	}
	if (!m->authenticated || !m->acct || !(slot = worker_slot(m))) {
		log_error("refusing worker request from %s port %u (%s)", m->mc->peer_addr,
		          m->mc->peer_port,
		          m->authenticated && m->acct ? "MaxSessions reached"
		                                      : "not authenticated");
		return mon_send(m->sock, &no, 1, -1);
	}
	/* Protocols: the login needed one of the connection's protocols; this session needs
	 * its own (sftp or scp; ftps, or ftp over a plaintext control connection). */
	if (!(policy_get(m->acct->policy, POLICY_PROTOCOLS) & proto)) {
		const struct policy_value *v = &m->acct->policy->values[POLICY_PROTOCOLS];
		log_info("refusing %s for %s from %s port %u: %s (%s:%u)",
		         proto == POLICY_PROTO_FTPS  ? "ftps"
		         : proto == POLICY_PROTO_FTP ? "ftp (plaintext)"
		         : scp                       ? "scp"
		                                     : "subsystem 'sftp'",
		         m->user, m->mc->peer_addr, m->mc->peer_port,
		         v->text ? v->text : "Protocols", v->origin.file ? v->origin.file : "?",
		         v->origin.line);
		return mon_send(m->sock, &no, 1, -1);
	}
	int pfd, sfd;
	if (prepare_policy(m, &pfd, &sfd) < 0)
		return mon_send(m->sock, &no, 1, -1);
	int sv[2], rec_mon = -1, rec_worker = -1;
	int ar = audit_channel_new(m->cfg, &rec_mon, &rec_worker);
	if (ar < 0)
		log_error("transfer log channel for %s: %s", m->user, strerror(-ar));
	if (ar < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		close(pfd);
		if (sfd >= 0)
			close(sfd);
		if (rec_mon >= 0) {
			close(rec_mon);
			close(rec_worker);
		}
		return mon_send(m->sock, &no, 1, -1);
	}
	/* The session's status page (berthctl sessions); without one it runs unseen. */
	int lfd = live_status_create();
	struct worker_params wp = {
	        .cfg = m->cfg,
	        .acct = m->acct,
	        .privileged = m->mc->rt->privileged,
	        .log_stderr = m->mc->rt->log_stderr,
	        .peer_addr = m->mc->peer_addr,
	        .peer_port = m->mc->peer_port,
	        .scp_command = scp,
	        .policy_fd = pfd,
	        .state_fd = sfd,
	        .live_fd = lfd,
	        .has_live_fd = lfd >= 0,
	        .audit_fd = rec_worker,
	        .has_audit_fd = rec_worker >= 0,
	};
	char *ftps_args[FTPS_WORKER_NARGS] = {0};
	if (m->ftps) {
		ftps_worker_args(m->cfg, m->mc->peer_addr, m->local_addr, m->mc->ftps_allow_plain,
		                 ftps_args);
		wp.ftps_args = ftps_args;
		m->ftp_spawned = true;
	}
	/* Through the spawner (a clean image whose pages the workers share); when there
	 * is none, fork and exec here as before. */
	pid_t pid = 0;
	int exit_fd = -1;
	int sr = worker_spawn(&wp, sv[1], &pid, &exit_fd);
	if (sr == -EPIPE || sr == -EBADF) {
		pid = fork();
		if (pid == 0) {
			close(m->sock);
			close(sv[0]);
			spawner_forget();
			_exit(worker_run(&wp, sv[1]));
		}
		exit_fd = pid > 0 ? pidfd_open(pid, 0) : -1;
	} else if (sr < 0) {
		log_error("cannot start the session of %s: %s", m->user, strerror(-sr));
		pid = -1;
	}
	if (pid < 0) {
		ftps_worker_args_free(ftps_args);
		close(sv[0]);
		close(sv[1]);
		close(pfd);
		if (sfd >= 0)
			close(sfd);
		if (rec_mon >= 0) {
			close(rec_mon);
			close(rec_worker);
		}
		if (lfd >= 0)
			close(lfd);
		return mon_send(m->sock, &no, 1, -1);
	}
	/* The worker's state fd must be its own open file: its slot locks are its own. */
	close(pfd);
	if (sfd >= 0)
		close(sfd);
	ftps_worker_args_free(ftps_args);
	close(sv[1]);
	if (rec_worker >= 0)
		close(rec_worker);
	worker_track(slot, pid, exit_fd, sr == 0);
	slot->rec_fd = rec_mon;
	slot->protocol = proto == POLICY_PROTO_FTPS  ? "ftps"
	                 : proto == POLICY_PROTO_FTP ? "ftp"
	                 : scp                       ? "scp"
	                                             : "sftp";
	if (lfd >= 0) {
		conn_report_session(m->mc->startup_fd, (uint32_t)pid,
		                    m->ftps ? (proto == POLICY_PROTO_FTPS ? LIVE_FTPS : LIVE_FTP)
		                    : scp   ? LIVE_SCP
		                            : LIVE_SFTP,
		                    lfd);
		close(lfd);
	}
	if (m->ftps)
		log_info("Starting session: ftp for %s from %s port %u id %d", m->user,
		         m->mc->peer_addr, m->mc->peer_port, (int)pid);
	else if (scp)
		log_info("Starting session: command '%.200s' for %s from %s port %u id %d", scp,
		         m->user, m->mc->peer_addr, m->mc->peer_port, (int)pid);
	else
		log_info("Starting session: subsystem 'sftp' for %s from %s port %u id %d", m->user,
		         m->mc->peer_addr, m->mc->peer_port, (int)pid);
	uint8_t yes[5] = {1};
	put_u32_be(yes + 1, (uint32_t)pid);
	int r = mon_send(m->sock, yes, sizeof(yes), sv[0]);
	close(sv[0]);
	return r;
}

static int
handle_note(struct monitor *m, struct xbuf *req)
{
	uint8_t level;
	_cleanup_free_ char *line = NULL;
	if (xbuf_get_u8(req, &level) < 0 || xbuf_get_cstring(req, &line, 1024) < 0)
		return -EBADMSG;
	if (level & MON_NOTE_VIOLATION) {
		conn_report_event(m->mc->startup_fd, DEFENDER_VIOLATION);
		level &= (uint8_t)~MON_NOTE_VIOLATION;
	}
	if (level < LOG_LEVEL_FATAL || level > LOG_LEVEL_DEBUG3)
		level = LOG_LEVEL_INFO;
	log_msg((enum log_level)level, "%s", line);
	return 0;
}

/* The network child saw a session's worker close its socket: tell it the exit status. */
static int
handle_session_end(struct monitor *m, struct xbuf *req)
{
	uint32_t id;
	if (!m->authenticated || xbuf_get_u32(req, &id) < 0)
		return -EBADMSG;
	uint8_t rep[5] = {0};
	struct mon_worker *w = worker_by_id(m, id);
	if (w) {
		worker_reap(m, w, WORKER_EXIT_WAIT_MS);
		if (w->exited) {
			rep[0] = 1;
			put_u32_be(rep + 1, (uint32_t)worker_exit_code(w->status));
			w->pid = 0; /* the slot is free again */
		}
	}
	return mon_send(m->sock, rep, sizeof(rep), -1);
}

/* The request table: which requests are valid in which phase. */
static int
dispatch(struct monitor *m, const uint8_t *msg, size_t len)
{
	struct xbuf req;
	uint8_t type;
	xbuf_view_init(&req, msg, len);
	if (xbuf_get_u8(&req, &type) < 0)
		return -EBADMSG;
	bool preauth = !m->authenticated && !m->disconnecting;
	switch (type) {
	case MON_REQ_PUBKEY:
		return preauth ? handle_pubkey(m, &req) : -EPROTO;
	case MON_REQ_PASSWORD:
		return preauth ? handle_password(m, &req) : -EPROTO;
	case MON_REQ_KBDINT_QUERY:
		return preauth ? handle_kbdint_query(m, &req) : -EPROTO;
	case MON_REQ_KBDINT_ANSWER:
		return preauth ? handle_kbdint_answer(m, &req) : -EPROTO;
	case MON_REQ_SPAWN_WORKER:
		return handle_spawn(m, &req);
	case MON_REQ_NOTE:
		return handle_note(m, &req);
	case MON_REQ_SESSION_END:
		return handle_session_end(m, &req);
	default:
		return -EPROTO;
	}
}

static void
setup_net_child_logging(const struct berth_config *cfg)
{
	log_set_ident("berthd");
	/* syslog must be connected before chroot; log.c reuses the open socket. */
	if (cfg->log_target != BERTH_LOG_TARGET_STDERR)
		openlog("berthd", LOG_PID | LOG_NDELAY, cfg->syslog_facility);
}

static _noreturn_ void
net_child(const struct monitor_conn *mc, int sock)
{
	setup_net_child_logging(mc->cfg);
	if (mc->rt->privileged) {
		if (chroot(mc->rt->privsep_chroot) < 0 || chdir("/") < 0) {
			log_error("chroot(%s): %m", mc->rt->privsep_chroot);
			_exit(255);
		}
		int r = priv_drop_to(mc->rt->privsep_uid, mc->rt->privsep_gid, NULL, 0);
		if (r < 0) {
			log_error("privilege drop failed: %s", strerror(-r));
			_exit(255);
		}
		/* The network child never creates processes. */
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_NPROC, &rl);
	}
#if !defined(__SANITIZE_ADDRESS__)
	/* Bound what a hostile peer can make libssh allocate (sanitizers need more). */
	struct rlimit mem = {NET_CHILD_DATA_LIMIT, NET_CHILD_DATA_LIMIT};
	setrlimit(RLIMIT_DATA, &mem);
#endif
	priv_harden_process();
	if (mc->proto != MON_PROTO_SSH) {
		/* The FTPS child needs no SSH host key: drop them (freed memory is wiped). */
		ssh_bind_free(mc->bind);
		struct ftps_conn fc = {
		        .fd = mc->fd,
		        .mon_fd = sock,
		        .peer_addr = mc->peer_addr,
		        .peer_port = mc->peer_port,
		        .cfg = mc->cfg,
		        .tls = mc->tls,
		        .implicit = mc->proto == MON_PROTO_FTPS_IMPLICIT,
		        .allow_plain = mc->ftps_allow_plain,
		};
		_exit(ftps_net_run(&fc));
	}
	/* The SSH child needs no TLS key. */
	if (mc->tls)
		tls_server_forget_key(mc->tls);
	struct sshd_conn c = {
	        .fd = mc->fd,
	        .mon_fd = sock,
	        .peer_addr = mc->peer_addr,
	        .peer_port = mc->peer_port,
	        .cfg = mc->cfg,
	};
	_exit(sshd_net_run(mc->bind, &c));
}

static uint64_t
monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
monitor_connection_run(const struct monitor_conn *mc)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_error("socketpair: %m");
		return 1;
	}
	pid_t monitor_pid = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %m");
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		if (mc->startup_fd >= 0)
			close(mc->startup_fd);
		spawner_forget(); /* only root processes may ask for workers */
		/* berthctl kick kills the monitor: the connection goes with it. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != monitor_pid)
			_exit(1);
		net_child(mc, sv[1]);
	}
	close(sv[1]);
	/* The monitor never uses the TLS key (only the network child's handshake does). */
	if (mc->tls)
		tls_server_forget_key(mc->tls);
	struct monitor m = {
	        .mc = mc, .cfg = mc->cfg, .sock = sv[0], .net_pid = pid, .login_slot_fd = -1};
	m.ftps = mc->proto != MON_PROTO_SSH;
	m.proto_label = m.ftps ? "ftps" : "ssh2";
	if (m.ftps) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(mc->fd, (struct sockaddr *)&ss, &sl) < 0 ||
		    getnameinfo((struct sockaddr *)&ss, sl, m.local_addr, sizeof(m.local_addr),
		                NULL, 0, NI_NUMERICHOST) != 0)
			snprintf(m.local_addr, sizeof(m.local_addr), "0.0.0.0");
	}
	close(mc->fd); /* the network child owns the connection */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	monitor_db = load_accounts(mc->cfg);

	/* LoginGraceTime in milliseconds: whole seconds of time() would cut up to one
	 * second off it (the FTPS child sends its 421 half a second before). */
	uint64_t grace_end = monotonic_ms() + (uint64_t)mc->cfg->login_grace_time * 1000;
	time_t hangup_at = 0;
	static uint8_t msg[MON_MSG_MAX];
	for (;;) {
		int timeout = -1;
		time_t now = time(NULL);
		if (!m.authenticated && mc->cfg->login_grace_time) {
			uint64_t now_ms = monotonic_ms();
			if (now_ms >= grace_end) {
				log_info("Timeout before authentication for %s port %u",
				         mc->peer_addr, mc->peer_port);
				kill(pid, SIGKILL);
				break;
			}
			timeout = (int)MIN(grace_end - now_ms, (uint64_t)3600 * 1000);
		}
		if (m.disconnecting) {
			if (!hangup_at)
				hangup_at = now + 2;
			if (now >= hangup_at) {
				kill(pid, SIGKILL);
				break;
			}
			timeout = 500;
		}
		struct pollfd p[1 + 4 * BERTH_MAX_SESSIONS_PER_CONN];
		nfds_t np = 0;
		p[np++] = (struct pollfd){.fd = m.sock, .events = POLLIN};
		for (size_t i = 0; i < m.n_worker_slots; i++) {
			if (m.workers[i].exit_fd >= 0)
				p[np++] = (struct pollfd){.fd = m.workers[i].exit_fd,
				                          .events = POLLIN};
			if (m.workers[i].rec_fd < 0)
				continue;
			/* A worker past its records per second waits (in write) for the next. */
			uint64_t wait = records_wait_ms(&m.workers[i], monotonic_ms());
			if (wait == 0)
				p[np++] = (struct pollfd){.fd = m.workers[i].rec_fd,
				                          .events = POLLIN};
			else if (timeout < 0 || (uint64_t)timeout > wait)
				timeout = (int)wait;
		}
		int pr = poll(p, np, timeout);
		if (pr < 0 && errno != EINTR)
			break;
		for (size_t i = 0; pr > 0 && i < m.n_worker_slots; i++)
			worker_records(&m, &m.workers[i], false); /* the transfer logs */
		for (size_t i = 0; pr > 0 && i < m.n_worker_slots; i++)
			worker_reap(&m, &m.workers[i], 0); /* logs each session's end */
		if (pr <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		int fd;
		ssize_t n = mon_recv(m.sock, msg, MON_MSG_MAX, &fd);
		if (fd >= 0)
			close(fd);
		if (n == 0)
			break; /* network child gone */
		if (n < 0) {
			if (n == -EINTR || n == -EAGAIN)
				continue;
			break;
		}
		int r = dispatch(&m, msg, (size_t)n);
		explicit_bzero(msg, (size_t)n);
		if (r < 0) {
			conn_report_event(mc->startup_fd, DEFENDER_VIOLATION);
			log_error("monitor: bad request from network child for %s port %u: %s",
			          mc->peer_addr, mc->peer_port, strerror(-r));
			kill(pid, SIGKILL);
			break;
		}
	}
	close(m.sock);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		log_error("network child for %s port %u killed by its seccomp filter (the kernel "
		          "audit log names the system call)",
		          mc->peer_addr, mc->peer_port);
	else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		log_error("network child for %s port %u died of signal %d", mc->peer_addr,
		          mc->peer_port, WTERMSIG(status));
	for (size_t i = 0; i < m.n_worker_slots; i++)
		worker_reap(&m, &m.workers[i], -1); /* their sockets closed with the child */
	free(m.workers);
	if (!m.authenticated) {
		log_verbose("Connection closed by %s port %u [preauth]", mc->peer_addr,
		            mc->peer_port);
	}
	berth_pam_end(m.pam);
	if (m.login_slot_fd >= 0)
		close(m.login_slot_fd); /* the MaxLogins slot is free again */
	authkeys_list_free(&m.keys);
	berth_account_free(m.acct);
	free(m.user);
	return 0;
}
