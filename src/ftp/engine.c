/* SPDX-License-Identifier: BSD-2-Clause */
/* FTP engine core: Telnet filtering, line framing and limits, phase gating, dispatch,
 * reply composition, actions and the hand-over state. No I/O happens here. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "berth/common.h"
#include "berth/xmem.h"
#include "ftp-internal.h"

enum {
	TELNET_SE = 240,
	TELNET_WILL = 251,
	TELNET_DONT = 254,
	TELNET_IAC = 255,
};

void
ftp_log(struct ftp_engine *e, enum log_level level, const char *fmt, ...)
{
	if (!e->cfg.log)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	e->cfg.log(e->cfg.userdata, (int)level, "%s", line);
}

uint64_t
ftp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool
ftp_name_safe(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

/* Append printf output and CRLF to the output queue. CR, LF and NUL inside the text
 * become '?': no caller-supplied string can end a reply line early. */
static void out_vline(struct ftp_engine *e, const char *prefix, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

static void
out_vline(struct ftp_engine *e, const char *prefix, const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	size_t plen = strlen(prefix), total;
	if (!size_add(plen, (size_t)n, &total) || !size_add(total, 3, &total))
		return;
	uint8_t *p;
	/* The reserve check before each command keeps this from failing in practice; a
	 * reply that does not fit is dropped rather than truncated. */
	if (xbuf_reserve(&e->out, total, &p) < 0)
		return;
	memcpy(p, prefix, plen);
	vsnprintf((char *)p + plen, (size_t)n + 1, fmt, ap);
	for (size_t i = plen; i < plen + (size_t)n; i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			p[i] = '?';
	p[plen + (size_t)n] = '\r';
	p[plen + (size_t)n + 1] = '\n';
	(void)xbuf_trim_tail(&e->out, 1);
}

void
reply(struct ftp_engine *e, unsigned code, const char *fmt, ...)
{
	char prefix[8];
	snprintf(prefix, sizeof(prefix), "%03u ", code % 1000);
	va_list ap;
	va_start(ap, fmt);
	out_vline(e, prefix, fmt, ap);
	va_end(ap);
}

void
reply_first(struct ftp_engine *e, unsigned code, const char *fmt, ...)
{
	char prefix[8];
	snprintf(prefix, sizeof(prefix), "%03u-", code % 1000);
	va_list ap;
	va_start(ap, fmt);
	out_vline(e, prefix, fmt, ap);
	va_end(ap);
}

void
reply_mid(struct ftp_engine *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	out_vline(e, "", fmt, ap);
	va_end(ap);
}

void
reply_errno(struct ftp_engine *e, int err)
{
	const char *text;
	unsigned code = ftp_reply_from_errno(err, &text);
	reply(e, code, "%s", text);
}

void
set_action(struct ftp_engine *e, enum ftp_action_type type)
{
	e->pending = type;
	e->act.type = type;
}

static void
end_session(struct ftp_engine *e)
{
	e->finished = true;
	e->drop_input = true;
	xbuf_reset(&e->in);
	set_action(e, FTP_ACT_CLOSE);
}

void
ftp_engine_close(struct ftp_engine *e, const char *text)
{
	if (e->pending == FTP_ACT_CLOSE || e->outstanding == FTP_ACT_CLOSE)
		return;
	if (xfer_active(e))
		xfer_kill(e, "session closed");
	reply(e, 421, "%s", text ? text : "Service not available, closing control connection.");
	end_session(e);
}

bool
ftp_engine_violated(const struct ftp_engine *e)
{
	return e->violated;
}

/* Unknown, refused and overlong lines before login: close after max_junk of them. */
static void
junk(struct ftp_engine *e)
{
	if (e->logged_in)
		return;
	if (++e->n_junk >= e->cfg.max_junk) {
		ftp_log(e, LOG_LEVEL_INFO, "too many invalid commands before login, closing");
		e->violated = true;
		ftp_engine_close(e, "Too many invalid commands, closing control connection.");
	}
}

int
ftp_engine_new(const struct ftp_engine_config *cfg, struct ftp_engine **ret)
{
	if (cfg->greeting && !ftp_name_safe(cfg->greeting))
		return -EINVAL;
	if (cfg->max_line > FTP_MAX_LINE_CAP)
		return -EINVAL;
	struct ftp_engine *e = xcalloc(1, sizeof(*e));
	e->cfg = *cfg;
	e->user = xstrdup(cfg->user ? cfg->user : "UNKNOWN");
	e->group = cfg->group ? xstrdup(cfg->group) : NULL;
	e->cfg.user = e->user;
	e->cfg.group = e->group;
	e->cfg.greeting = NULL;
	e->cfg.state = NULL;
	if (!e->cfg.max_line)
		e->cfg.max_line = FTP_DEFAULT_MAX_LINE;
	if (!e->cfg.max_prelogin_commands)
		e->cfg.max_prelogin_commands = FTP_DEFAULT_MAX_PRELOGIN_COMMANDS;
	if (!e->cfg.max_junk)
		e->cfg.max_junk = FTP_DEFAULT_MAX_JUNK;
	e->max_line = e->cfg.max_line;
	e->logged_in = cfg->vfs != NULL;
	if (cfg->state)
		e->st = *cfg->state;
	else
		e->st.mlst_facts = FTP_FACTS_ALL;
	e->st.mlst_facts &= FTP_FACTS_ALL;
	if (e->st.hash_algo > FTP_HASH_MD5)
		e->st.hash_algo = FTP_HASH_SHA256;
	/* A whole maximal line plus its CRLF, and as much again of pipelined commands. */
	xbuf_init(&e->in, 2 * ((size_t)e->max_line + 2));
	xbuf_init(&e->out, FTP_OUT_MAX);
	xbuf_init(&e->xfer.stage, FTP_STAGE_MAX);
	if (!e->logged_in)
		reply(e, 220, "%s", cfg->greeting ? cfg->greeting : "berth FTP server ready.");
	*ret = e;
	return 0;
}

void
ftp_engine_free(struct ftp_engine *e)
{
	if (!e)
		return;
	if (xfer_active(e))
		xfer_kill(e, "session closed");
	xbuf_deinit(&e->xfer.stage);
	xbuf_deinit(&e->in);
	xbuf_deinit(&e->out);
	if (e->password)
		freezero(e->password, strlen(e->password));
	free(e->login_user);
	free(e->rnfr);
	free(e->user);
	free(e->group);
	free(e);
}

size_t
ftp_engine_input_room(const struct ftp_engine *e)
{
	if (xbuf_avail(&e->out) < FTP_OUT_RESERVE)
		return 0;
	return xbuf_avail(&e->in);
}

/* Telnet (RFC 854) in the control stream: IAC IAC is a literal 0xff; IAC WILL/WONT/DO/
 * DONT take an option byte; other IAC commands (IP, DM, AYT...) are two bytes. A byte
 * after IAC that is not a command (e.g. the DM of an Urgent sequence was dropped by the
 * socket) drops only the IAC. */
int
ftp_engine_feed(struct ftp_engine *e, const void *data, size_t len)
{
	if (e->drop_input)
		return 0;
	if (len > ftp_engine_input_room(e))
		return -ENOBUFS;
	uint8_t *p;
	int r = xbuf_reserve(&e->in, len, &p);
	if (r < 0)
		return r;
	const uint8_t *s = data;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];
		switch (e->iac) {
		case 0:
			if (c == TELNET_IAC)
				e->iac = 1;
			else
				p[n++] = c;
			break;
		case 1:
			if (c == TELNET_IAC) {
				p[n++] = c;
				e->iac = 0;
			} else if (c >= TELNET_WILL && c <= TELNET_DONT) {
				e->iac = 2;
			} else if (c >= TELNET_SE) {
				e->iac = 0;
			} else {
				p[n++] = c;
				e->iac = 0;
			}
			break;
		default:
			e->iac = 0; /* the option byte */
			break;
		}
	}
	(void)xbuf_trim_tail(&e->in, len - n);
	return 0;
}

const uint8_t *
ftp_engine_output(const struct ftp_engine *e, size_t *ret_len)
{
	*ret_len = xbuf_len(&e->out);
	return xbuf_ptr(&e->out);
}

void
ftp_engine_output_consume(struct ftp_engine *e, size_t n)
{
	(void)xbuf_consume(&e->out, MIN(n, xbuf_len(&e->out)));
}

bool
ftp_engine_next_action(struct ftp_engine *e, struct ftp_action *ret)
{
	if (e->pending == FTP_ACT_NONE || xbuf_len(&e->out) > 0)
		return false;
	e->act.type = e->pending;
	*ret = e->act;
	e->outstanding = e->pending;
	e->pending = FTP_ACT_NONE;
	return true;
}

uint64_t
ftp_engine_wake_time(const struct ftp_engine *e)
{
	return e->wake_ms;
}

void
ftp_engine_export_state(const struct ftp_engine *e, struct ftp_session_state *ret)
{
	*ret = e->st;
}

const uint8_t *
ftp_engine_pending_input(const struct ftp_engine *e, size_t *ret_len)
{
	*ret_len = xbuf_len(&e->in);
	return xbuf_ptr(&e->in);
}

enum {
	STATE_VERSION = 1,
	STATE_TLS = 0x1,
	STATE_PBSZ = 0x2,
	STATE_PROT_P = 0x4,
	STATE_UTF8 = 0x8,
	STATE_ASCII = 0x10,
	STATE_ALL = 0x1f,
};

int
ftp_session_state_put(struct xbuf *b, const struct ftp_session_state *s)
{
	uint32_t flags = (s->tls ? STATE_TLS : 0) | (s->pbsz ? STATE_PBSZ : 0) |
	                 (s->prot_p ? STATE_PROT_P : 0) | (s->utf8 ? STATE_UTF8 : 0) |
	                 (s->type_ascii ? STATE_ASCII : 0);
	int r;
	if ((r = xbuf_put_u8(b, STATE_VERSION)) < 0 || (r = xbuf_put_u32(b, flags)) < 0 ||
	    (r = xbuf_put_u32(b, s->mlst_facts)) < 0 || (r = xbuf_put_u32(b, s->hash_algo)) < 0)
		return r;
	return 0;
}

int
ftp_session_state_get(struct xbuf *b, struct ftp_session_state *ret)
{
	struct xbuf v;
	uint8_t version;
	uint32_t flags, facts, algo;
	if (xbuf_len(b) < 13)
		return -EBADMSG;
	xbuf_view_init(&v, xbuf_ptr(b), 13);
	(void)xbuf_get_u8(&v, &version);
	(void)xbuf_get_u32(&v, &flags);
	(void)xbuf_get_u32(&v, &facts);
	(void)xbuf_get_u32(&v, &algo);
	if (version != STATE_VERSION || (flags & ~(uint32_t)STATE_ALL) ||
	    (facts & ~(uint32_t)FTP_FACTS_ALL) || algo > FTP_HASH_MD5)
		return -EBADMSG;
	(void)xbuf_consume(b, 13);
	*ret = (struct ftp_session_state){
	        .tls = flags & STATE_TLS,
	        .pbsz = flags & STATE_PBSZ,
	        .prot_p = flags & STATE_PROT_P,
	        .utf8 = flags & STATE_UTF8,
	        .type_ascii = flags & STATE_ASCII,
	        .mlst_facts = facts,
	        .hash_algo = algo,
	};
	return 0;
}

/* ---- completion reports of the pre-login and TLS actions ---- */

int
ftp_engine_tls_done(struct ftp_engine *e, int result)
{
	if (e->outstanding != FTP_ACT_START_TLS && e->outstanding != FTP_ACT_CCC)
		return -EPROTO;
	bool start = e->outstanding == FTP_ACT_START_TLS;
	e->outstanding = FTP_ACT_NONE;
	if (result < 0) {
		/* The control connection is in an unknown TLS state: no reply is possible. */
		ftp_log(e, LOG_LEVEL_INFO, "%s failed: %s", start ? "TLS handshake" : "CCC",
		        strerror(-result));
		end_session(e);
		return 0;
	}
	if (start) {
		e->st.tls = true;
		e->drop_input = false;
	} else {
		e->st.tls = false;
	}
	return 0;
}

int
ftp_engine_login_done(struct ftp_engine *e, enum ftp_login_result result)
{
	if (e->outstanding != FTP_ACT_LOGIN)
		return -EPROTO;
	e->outstanding = FTP_ACT_NONE;
	if (e->password)
		freezero(e->password, strlen(e->password));
	e->password = NULL;
	e->act.password = NULL;
	e->act.user = NULL;
	if (result == FTP_LOGIN_OK) {
		reply(e, 230, "Login successful.");
		/* Commands pipelined after PASS stay buffered for the worker. */
		e->finished = true;
		set_action(e, FTP_ACT_HANDOFF);
		return 0;
	}
	free(e->login_user);
	e->login_user = NULL;
	reply(e, 530, "Login incorrect.");
	if (result != FTP_LOGIN_FAILED)
		end_session(e);
	return 0;
}

/* ---- pre-login (and phase-independent) commands ---- */

int
cmd_auth(struct ftp_engine *e, char *arg)
{
	if (e->st.tls) {
		reply(e, 503, "Already using TLS.");
		return 0;
	}
	if (e->logged_in) {
		reply(e, 503, "AUTH must come before login.");
		return 0;
	}
	if (!e->cfg.tls_available) {
		reply(e, 502, "AUTH not available.");
		junk(e);
		return 0;
	}
	if (strcasecmp(arg, "TLS") != 0 && strcasecmp(arg, "TLS-C") != 0 &&
	    strcasecmp(arg, "SSL") != 0 && strcasecmp(arg, "TLS-P") != 0) {
		reply(e, 504, "Unknown AUTH type.");
		junk(e);
		return 0;
	}
	reply(e, 234, "Proceed with negotiation.");
	/* Whatever arrived after the AUTH line came in plaintext: never execute it
	 * (CVE-2011-0411 class). RFC 4217 4: the session restarts from here. */
	xbuf_reset(&e->in);
	e->iac = 0;
	e->discarding = false;
	e->drop_input = true;
	free(e->login_user);
	e->login_user = NULL;
	e->st.pbsz = false;
	e->st.prot_p = false;
	set_action(e, FTP_ACT_START_TLS);
	return 0;
}

int
cmd_pbsz(struct ftp_engine *e, char *arg)
{
	if (!e->st.tls) {
		reply(e, 503, "PBSZ requires a protected control connection.");
		return 0;
	}
	size_t n = strspn(arg, "0123456789");
	if (n == 0 || n > 10 || arg[n] != '\0') {
		reply(e, 501, "Syntax error in PBSZ argument.");
		return 0;
	}
	e->st.pbsz = true;
	reply(e, 200, "PBSZ=0");
	return 0;
}

int
cmd_prot(struct ftp_engine *e, char *arg)
{
	if (!e->st.tls) {
		reply(e, 503, "PROT requires a protected control connection.");
		return 0;
	}
	if (!e->st.pbsz) {
		reply(e, 503, "PBSZ must precede PROT.");
		return 0;
	}
	if (strcasecmp(arg, "P") == 0) {
		e->st.prot_p = true;
		reply(e, 200, "PROT now Private.");
	} else if (strcasecmp(arg, "C") == 0) {
		if (!e->cfg.allow_plain_data) {
			reply(e, 534, "PROT C refused: data connections must be protected.");
			return 0;
		}
		e->st.prot_p = false;
		reply(e, 200, "PROT now Clear.");
	} else if (strcasecmp(arg, "S") == 0 || strcasecmp(arg, "E") == 0) {
		reply(e, 536, "PROT level not supported by mechanism.");
	} else {
		reply(e, 504, "Unknown PROT level.");
	}
	return 0;
}

int
cmd_ccc(struct ftp_engine *e, char *arg)
{
	if (!e->st.tls) {
		reply(e, 533, "Control connection is not protected.");
		return 0;
	}
	if (!e->cfg.allow_ccc) {
		reply(e, 534, "CCC refused by policy.");
		return 0;
	}
	reply(e, 200, "CCC OK, clearing the control connection.");
	set_action(e, FTP_ACT_CCC);
	return 0;
}

static bool
tls_required_for_login(struct ftp_engine *e)
{
	if (e->st.tls || e->cfg.allow_plain_login)
		return false;
	reply(e, 530, "Login requires TLS: send AUTH TLS first.");
	junk(e);
	return true;
}

int
cmd_user(struct ftp_engine *e, char *arg)
{
	if (e->logged_in) {
		reply(e, 530, "Cannot change to another user.");
		return 0;
	}
	if (tls_required_for_login(e))
		return 0;
	free(e->login_user);
	e->login_user = xstrdup(arg);
	reply(e, 331, "Please specify the password.");
	return 0;
}

int
cmd_pass(struct ftp_engine *e, char *arg)
{
	if (e->logged_in) {
		reply(e, 230, "Already logged in.");
		return 0;
	}
	if (tls_required_for_login(e))
		return 0;
	if (!e->login_user) {
		reply(e, 503, "Login with USER first.");
		junk(e);
		return 0;
	}
	e->password = xstrdup(arg ? arg : "");
	e->act.user = e->login_user;
	e->act.password = e->password;
	set_action(e, FTP_ACT_LOGIN);
	return 0;
}

int
cmd_quit(struct ftp_engine *e, char *arg)
{
	if (xfer_active(e)) {
		/* RFC 959 4.1.1: finish the transfer, answer it, then close. */
		e->quit_after_xfer = true;
		return 0;
	}
	reply(e, 221, "Goodbye.");
	end_session(e);
	return 0;
}

int
cmd_syst(struct ftp_engine *e, char *arg)
{
	reply(e, 215, "UNIX Type: L8");
	return 0;
}

int
cmd_noop(struct ftp_engine *e, char *arg)
{
	reply(e, 200, "NOOP ok.");
	return 0;
}

int
cmd_rein(struct ftp_engine *e, char *arg)
{
	reply(e, 502, "REIN not implemented.");
	return 0;
}

static const char *const hash_names[] = {"SHA-256", "SHA-512", "SHA-1", "MD5"};
static const char *const fact_names[] = {"type", "size", "modify", "perm", "unique", "UNIX.mode"};

int
cmd_feat(struct ftp_engine *e, char *arg)
{
	reply_first(e, 211, "Features:");
	if (e->cfg.tls_available)
		reply_mid(e, " AUTH TLS");
	if (e->cfg.allow_ccc)
		reply_mid(e, " CCC");
	reply_mid(e, " EPRT");
	reply_mid(e, " EPSV");
	if (e->cfg.hash) {
		char list[64] = "";
		for (size_t i = 0; i < ARRAY_SIZE(hash_names); i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s%s",
			         i ? ";" : "", hash_names[i], i == e->st.hash_algo ? "*" : "");
		reply_mid(e, " HASH %s", list);
	}
	reply_mid(e, " HOST");
	reply_mid(e, " MDTM");
	reply_mid(e, " MFMT");
	char facts[96] = "";
	for (size_t i = 0; i < ARRAY_SIZE(fact_names); i++)
		snprintf(facts + strlen(facts), sizeof(facts) - strlen(facts), "%s%s;",
		         fact_names[i], (e->st.mlst_facts & (1u << i)) ? "*" : "");
	reply_mid(e, " MLST %s", facts);
	if (e->cfg.tls_available) {
		reply_mid(e, " PBSZ");
		reply_mid(e, " PROT");
	}
	reply_mid(e, " REST STREAM");
	reply_mid(e, " SIZE");
	reply_mid(e, " TVFS");
	reply_mid(e, " UTF8");
	if (e->cfg.hash) {
		reply_mid(e, " XMD5");
		reply_mid(e, " XSHA1");
		reply_mid(e, " XSHA256");
		reply_mid(e, " XSHA512");
	}
	reply(e, 211, "End");
	return 0;
}

int
cmd_help(struct ftp_engine *e, char *arg)
{
	reply_first(e, 214, "The following commands are recognized.");
	char line[128];
	size_t used = 0, count = 0;
	for (size_t i = 0; i < ftp_cmds_count; i++) {
		const struct ftp_cmd *c = &ftp_cmds[i];
		if (!(c->flags & CMD_HELP) ||
		    !(c->flags & (e->logged_in ? CMD_POSTLOGIN : CMD_PRELOGIN)) ||
		    (strcmp(c->verb, "HASH") == 0 && !e->cfg.hash))
			continue;
		used += (size_t)snprintf(line + used, sizeof(line) - used, " %s", c->verb);
		if (++count % 16 == 0) {
			reply_mid(e, "%s", line);
			used = 0;
		}
	}
	if (used)
		reply_mid(e, "%s", line);
	reply(e, 214, "Help OK.");
	return 0;
}

const char *
ftp_hash_name(uint32_t algo)
{
	return algo < ARRAY_SIZE(hash_names) ? hash_names[algo] : "SHA-256";
}

int
cmd_opts(struct ftp_engine *e, char *arg)
{
	char *opt = arg, *rest = strchr(arg, ' ');
	if (rest)
		*rest++ = '\0';
	if (strcasecmp(opt, "UTF8") == 0 || strcasecmp(opt, "UTF-8") == 0) {
		if (!rest || strcasecmp(rest, "ON") == 0)
			e->st.utf8 = true;
		reply(e, 200, "Always in UTF8 mode.");
	} else if (strcasecmp(opt, "MLST") == 0) {
		uint32_t facts = 0;
		for (char *save = NULL, *f = strtok_r(rest ? rest : (char *)"", ";", &save); f;
		     f = strtok_r(NULL, ";", &save))
			for (size_t i = 0; i < ARRAY_SIZE(fact_names); i++)
				if (strcasecmp(f, fact_names[i]) == 0)
					facts |= 1u << i;
		e->st.mlst_facts = facts;
		char list[96] = "";
		for (size_t i = 0; i < ARRAY_SIZE(fact_names); i++)
			if (facts & (1u << i))
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s;",
				         fact_names[i]);
		reply(e, 200, "MLST OPTS%s%s", list[0] ? " " : "", list);
	} else if (strcasecmp(opt, "HASH") == 0 && e->cfg.hash) {
		if (!rest) {
			reply(e, 200, "%s", ftp_hash_name(e->st.hash_algo));
			return 0;
		}
		for (uint32_t i = 0; i < ARRAY_SIZE(hash_names); i++) {
			if (strcasecmp(rest, hash_names[i]) == 0) {
				e->st.hash_algo = i;
				reply(e, 200, "%s", hash_names[i]);
				return 0;
			}
		}
		reply(e, 501, "Unknown hash algorithm.");
	} else {
		reply(e, 501, "Option not understood.");
	}
	return 0;
}

int
cmd_host(struct ftp_engine *e, char *arg)
{
	/* RFC 7151: before USER; one virtual host here, so any well-formed name is fine. */
	if (e->logged_in) {
		reply(e, 503, "Already logged in.");
		return 0;
	}
	if (e->login_user) {
		reply(e, 503, "HOST must come before USER.");
		return 0;
	}
	reply(e, 220, "Host accepted.");
	return 0;
}

/* ---- framing and dispatch ---- */

static bool
verb_urgent(const uint8_t *p, size_t len)
{
	size_t n = 0;
	while (n < len && n < 9 && p[n] != ' ')
		n++;
	if (n != 4)
		return false;
	char verb[5];
	for (size_t i = 0; i < 4; i++)
		verb[i] = (char)toupper(p[i]);
	verb[4] = '\0';
	const struct ftp_cmd *c = ftp_cmd_find(verb);
	return c && (c->flags & CMD_URGENT);
}

/* The next complete line at the head of the input: 1 with its content (no CR LF) and
 * the bytes it occupies, 0 when none is complete yet, 2 when an overlong line was
 * answered and dropped. */
static int
next_line(struct ftp_engine *e, const uint8_t **ret, size_t *ret_len, size_t *ret_total)
{
	for (;;) {
		size_t n = xbuf_len(&e->in);
		const uint8_t *p = xbuf_ptr(&e->in);
		if (n == 0)
			return 0;
		const uint8_t *lf = memchr(p, '\n', n);
		if (e->discarding) {
			if (!lf) {
				xbuf_reset(&e->in);
				return 0;
			}
			(void)xbuf_consume(&e->in, (size_t)(lf - p) + 1);
			e->discarding = false;
			continue;
		}
		size_t len = lf ? (size_t)(lf - p) : n;
		if (lf && len > 0 && p[len - 1] == '\r')
			len--;
		if (len > e->max_line || (!lf && n > (size_t)e->max_line + 1)) {
			ftp_log(e, LOG_LEVEL_VERBOSE, "command line longer than %u bytes refused",
			        e->max_line);
			if (lf) {
				(void)xbuf_consume(&e->in, (size_t)(lf - p) + 1);
			} else {
				xbuf_reset(&e->in);
				e->discarding = true;
			}
			reply(e, 500, "Command line too long.");
			junk(e);
			return 2;
		}
		if (!lf)
			return 0;
		*ret = p;
		*ret_len = len;
		*ret_total = (size_t)(lf - p) + 1;
		return 1;
	}
}

static int
handle_line(struct ftp_engine *e, char *line)
{
	char *arg = strchr(line, ' ');
	if (arg) {
		*arg++ = '\0';
		if (*arg == '\0')
			arg = NULL;
	}
	size_t vlen = strlen(line);
	bool verb_ok = vlen > 0 && vlen <= 8;
	for (size_t i = 0; i < vlen; i++) {
		verb_ok = verb_ok && (isalpha((unsigned char)line[i]) ||
		                      (i > 0 && isdigit((unsigned char)line[i])));
		line[i] = (char)toupper((unsigned char)line[i]);
	}
	if (strcmp(line, "PASS") == 0)
		ftp_log(e, LOG_LEVEL_DEBUG1, "FTP command: PASS <hidden>");
	else
		ftp_log(e, LOG_LEVEL_DEBUG1, "FTP command: %s%s%s", line, arg ? " " : "",
		        arg ? arg : "");

	if (!e->logged_in && ++e->n_commands > e->cfg.max_prelogin_commands) {
		ftp_log(e, LOG_LEVEL_INFO, "too many commands before login, closing");
		e->violated = true;
		ftp_engine_close(e, "Too many commands before login, closing control connection.");
		return 0;
	}
	const struct ftp_cmd *c = verb_ok ? ftp_cmd_find(line) : NULL;
	if (!c) {
		reply(e, 500, "Unknown command.");
		junk(e);
		return 0;
	}
	if (!e->logged_in && !(c->flags & CMD_PRELOGIN)) {
		reply(e, 530, "Please login with USER and PASS.");
		junk(e);
		return 0;
	}
	if (e->logged_in && !(c->flags & CMD_POSTLOGIN)) {
		reply(e, 500, "Unknown command.");
		return 0;
	}
	/* RNTO must follow RNFR directly (RFC 959 4.1.3). */
	if (e->rnfr && strcmp(c->verb, "RNTO") != 0 && strcmp(c->verb, "RNFR") != 0) {
		free(e->rnfr);
		e->rnfr = NULL;
	}
	if ((c->flags & CMD_ARG) && !arg) {
		reply(e, 501, "Syntax error in parameters or arguments.");
		junk(e);
		return 0;
	}
	return c->fn(e, arg);
}

int
ftp_engine_process(struct ftp_engine *e)
{
	for (;;) {
		if (e->finished || e->drop_input)
			return 0;
		if (xbuf_avail(&e->out) < FTP_OUT_RESERVE)
			return 0; /* backpressure: the peer is not reading replies */
		const uint8_t *p;
		size_t len, total;
		int r = next_line(e, &p, &len, &total);
		if (r == 0)
			return 0;
		if (r == 2)
			continue;
		if (e->pending != FTP_ACT_NONE || e->outstanding != FTP_ACT_NONE) {
			/* Only ABOR, STAT, NOOP and QUIT, and only during a transfer. */
			if (!xfer_active(e) || e->xfer.aborting || e->quit_after_xfer ||
			    !verb_urgent(p, len))
				return 0;
		}
		if (memchr(p, '\0', len) || memchr(p, '\r', len)) {
			/* A bare CR or NUL inside a line (RFC 959's "CR NUL" pathname escape
			 * included): never passed on as part of a name. */
			(void)xbuf_consume(&e->in, total);
			free(e->rnfr);
			e->rnfr = NULL;
			reply(e, 501, "CR and NUL are not allowed in commands.");
			junk(e);
			continue;
		}
		char *line = xstrndup((const char *)p, len);
		(void)xbuf_consume(&e->in, total);
		r = handle_line(e, line);
		freezero(line, len); /* may hold a password */
		if (r < 0)
			return r;
	}
}
