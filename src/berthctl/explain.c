/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl explain: would this account be allowed this operation on this path, and which
 * rules decide? Every verdict comes from the functions the servers call, in the order
 * they call them: berth_account_lookup() (the policy as the monitor compiles it for a
 * login), berth_account_check_access(), policy_check_login(), authkeys_entry_permits()
 * and berth_account_apply_key() (--key), the MaxLogins slots, the session's Protocols,
 * then policy_decide(), policy_decide_rename() or policy_decide_link() on the path the
 * policy layer would decide on, and policy_state_reserve() on the recorded usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "berth/account.h"
#include "berth/authkeys.h"
#include "berth/buf.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/control.h"
#include "berth/defender.h"
#include "berth/policy.h"
#include "berth/policy_state.h"
#include "berth/vfs.h"
#include "berth/vfs_policy.h"
#include "berth/xmem.h"
#include "ctl.h"
#include "report.h"

#define OP_LINK POLICY_OP_COUNT /* hard link: policy_decide_link() */

/* Operation names: the policy layer's classes, "link", and a few client words. */
static const struct {
	const char *name;
	unsigned op;
} op_names[] = {
        {"list", POLICY_OP_LIST},
        {"ls", POLICY_OP_LIST},
        {"download", POLICY_OP_DOWNLOAD},
        {"get", POLICY_OP_DOWNLOAD},
        {"upload", POLICY_OP_UPLOAD},
        {"put", POLICY_OP_UPLOAD},
        {"overwrite", POLICY_OP_OVERWRITE},
        {"delete", POLICY_OP_DELETE},
        {"rm", POLICY_OP_DELETE},
        {"rename", POLICY_OP_RENAME},
        {"mv", POLICY_OP_RENAME},
        {"mkdir", POLICY_OP_MKDIR},
        {"rmdir", POLICY_OP_RMDIR},
        {"symlink", POLICY_OP_SYMLINK},
        {"setstat", POLICY_OP_SETSTAT},
        {"chmod", POLICY_OP_SETSTAT},
        {"link", OP_LINK},
};

/* --protocol: what the login may use (as the monitor asks policy_check_login()) and what
 * the session needs (as the worker request is checked). */
static const struct {
	const char *name;
	uint32_t login, session;
} protocols[] = {
        {"sftp", POLICY_PROTO_SSH, POLICY_PROTO_SFTP},
        {"scp", POLICY_PROTO_SSH, POLICY_PROTO_SCP},
        {"ftps", POLICY_PROTO_FTPS, POLICY_PROTO_FTPS},
        {"ftp", POLICY_PROTO_FTPS | POLICY_PROTO_FTP, POLICY_PROTO_FTP},
};

struct explain {
	struct ctl *c;
	const struct berth_config *cfg;
	/* the request */
	const char *account, *opname, *path, *target, *from, *key, *protocol;
	unsigned op;
	uint32_t proto_login, proto_session;
	bool have_size;
	uint64_t size;
	time_t now;
	bool dir, replace, resolve, json;
	/* what was found */
	struct berth_accounts *db;
	struct berth_account *acct;
	struct report *rep;
	bool refused; /* an earlier stage refused: what follows is hypothetical */
	char *cpath, *ctarget;
	bool resolved;
	bool path_exists, path_dir, target_exists;
	uint64_t path_size;
};

static const char *
op_name(unsigned op)
{
	return op == OP_LINK ? "link" : policy_op_name((enum policy_op)op);
}

static bool
writes(unsigned op)
{
	return op == POLICY_OP_UPLOAD || op == POLICY_OP_OVERWRITE || op == OP_LINK;
}

/* Begin a section, hypothetical when an earlier one refused. */
static struct report_section *
section(struct explain *e, const char *name, const char *title)
{
	struct report_section *s = report_section(e->rep, name, "%s", title);
	s->hypothetical = e->refused;
	return s;
}

static void
end_section(struct explain *e, const struct report_section *s)
{
	if (s->decided && !s->allowed)
		e->refused = true;
}

/* The item for one scalar setting (its text and origin), or nothing if it is unset. */
static void
value_item(struct report_section *s, enum report_mark mark, const struct policy *p,
           enum policy_key key, const char *detail)
{
	const struct policy_value *v = &p->values[key];
	if (!v->set)
		return;
	report_item(s, mark, "value", NULL, v->origin.file, v->origin.line, v->text,
	            detail ? "%s" : NULL, detail);
}

static char *
value_where(const struct policy_value *v)
{
	if (v->origin.file && v->origin.line)
		return xasprintf("%s at %s:%u", v->text ? v->text : "?", v->origin.file,
		                 v->origin.line);
	if (v->origin.file)
		return xasprintf("%s at %s", v->text ? v->text : "?", v->origin.file);
	return xstrdup(v->text ? v->text : "?");
}

/* ---- ban (defender) ---- */

/* The defender (issue 8): is the source (--from) banned right now? The master refuses a
 * banned source right after accept(), before anything below, from the bans it keeps
 * and persists on every change in StateDirectory/defender: that file is read here,
 * with the same matching (defender_ban_of()). Nothing is shown without --from or with
 * Defender no: explain never shows a check berthd does not make. */
static void
explain_ban(struct explain *e)
{
	const struct berth_config *cfg = e->cfg;
	if (!e->from || !cfg->defender)
		return;
	struct defender_config dc;
	struct defender *d = NULL;
	defender_config_from(cfg, &dc);
	if (defender_new(&dc, &d) < 0)
		return;
	_cleanup_free_ char *path = defender_state_path(cfg->state_directory);
	_cleanup_free_ char *title = xasprintf("defender: connections from %s", e->from);
	struct report_section *s = section(e, "ban", title);
	int64_t now = (int64_t)e->now;
	struct defender_ban b;
	int r = defender_load(d, path, now);
	if (r < 0) {
		report_item(s, REPORT_NOTE, "defender", NULL, path, 0, "bans unknown",
		            "cannot read the state file: %s", strerror(-r));
	} else if (defender_ban_of(d, e->from, now, &b)) {
		char when[64];
		defender_format_until(b.until, when, sizeof(when));
		report_item(s, REPORT_DENIES, "defender", NULL, path, 0, "banned",
		            "%s until %s (ban %u of this source)", b.key, when, b.bans);
		report_decide(s, false,
		              "connection refused right after accept(): %s is banned until %s",
		              b.key, when);
	} else if (defender_allowed(d, e->from)) {
		report_item(s, REPORT_ALLOWS, "defender", NULL, NULL, 0, "DefenderAllowFrom",
		            "%s is never banned by score", cfg->defender_allow_from);
	} else {
		report_item(s, REPORT_ALLOWS, "defender", NULL, path, 0, "not banned", NULL);
	}
	end_section(e, s);
	defender_free(d);
}

/* ---- login ---- */

/* berth_account_check_access() refused: where the rule it names is written. */
static void
access_refused(struct explain *e, struct report_section *s, int r, const char *why)
{
	const struct berth_account *a = e->acct;
	const struct berth_conf_origin *o = NULL;
	if (r == BERTH_ACCOUNT_E_DENIED && why && strstr(why, "DenyUsers"))
		o = &e->cfg->origin_deny_users;
	else if (r == BERTH_ACCOUNT_E_DENIED && why && strstr(why, "AllowUsers"))
		o = &e->cfg->origin_allow_users;
	else if (r == BERTH_ACCOUNT_E_DENIED && !a->has_methods)
		o = &e->cfg->origin_auth_methods;
	if (!why)
		why = "refused";
	if (o) {
		report_item(s, REPORT_DENIES, "account", NULL, o->file, o->line, why, NULL);
		if (o->file)
			report_decide(s, false, "login refused: %s at %s:%u", why, o->file,
			              o->line);
		else
			report_decide(s, false, "login refused: %s", why);
	} else if (a->kind == BERTH_ACCOUNT_VIRTUAL) {
		report_item_at(s, REPORT_DENIES, "account", NULL, a->source, why, NULL);
		report_decide(s, false, "login refused: %s at %s", why, a->source);
	} else {
		report_item(s, REPORT_DENIES, "account", NULL, NULL, 0, why, NULL);
		report_decide(s, false, "login refused: %s", why);
	}
}

static char *
methods_text(uint32_t m)
{
	char buf[128] = "";
	for (uint32_t bit = 1; bit && bit <= m; bit <<= 1) {
		if (!(m & bit))
			continue;
		const char *n = berth_auth_method_name((enum berth_auth_method)bit);
		if (n)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
			         buf[0] ? "," : "", n);
	}
	return xstrdup(buf[0] ? buf : "none");
}

/* The key the login would use (--key FINGERPRINT): its own conditions, and its
 * command="internal-sftp -R" folded into the policy as the monitor does. */
static bool
explain_key(struct explain *e, struct report_section *s)
{
	struct berth_account *a = e->acct;
	struct authkeys_list keys = AUTHKEYS_LIST_NULL;
	(void)berth_account_load_keys(a, &keys, NULL);
	const struct authkeys_entry *found = NULL;
	char fp[AUTHKEYS_FP_MAX];
	for (size_t i = 0; i < keys.n; i++) {
		const struct authkeys_entry *k = &keys.entries[i];
		authkeys_fingerprint(k->blob, k->blob_len, fp, sizeof(fp));
		if (e->key && strcmp(fp, e->key) == 0 && !found)
			found = k;
		else if (!e->key && k->opts.read_only)
			report_item(
			        s, REPORT_NOTE, "key", NULL, k->source, k->line,
			        "command=\"internal-sftp -R\"",
			        "sessions logged in with key %s are read-only; --key %s explains "
			        "one",
			        fp, fp);
	}
	bool ok = true;
	if (e->key && !found) {
		report_item(s, REPORT_DENIES, "key", NULL, NULL, 0, "no such key",
		            "%s is not one of the account's authorized keys", e->key);
		report_decide(s, false, "login refused: key %s is not authorized", e->key);
		ok = false;
	} else if (found) {
		const char *why = NULL;
		ok = authkeys_entry_permits(found, e->from, e->now, &why) == 0;
		report_item(s, ok ? REPORT_ALLOWS : REPORT_DENIES, "key", NULL, found->source,
		            found->line, e->key, "%s", ok ? "permits this login" : why);
		if (!ok)
			report_decide(s, false, "login refused: key %s: %s at %s:%u", e->key,
			              why ? why : "refused", found->source, found->line);
		else
			berth_account_apply_key(a, found);
	}
	authkeys_list_free(&keys);
	return ok;
}

/* MaxLogins: a login needs a free slot when authentication completes. */
static bool
explain_max_logins(struct explain *e, struct report_section *s)
{
	const struct policy *p = e->acct->policy;
	uint64_t max = policy_get(p, POLICY_MAX_LOGINS);
	if (!max)
		return true;
	uint32_t used = 0;
	int r = policy_login_count(e->cfg->state_directory, e->acct->name,
	                           (uint32_t)MIN(max, (uint64_t)UINT32_MAX), &used);
	if (r < 0) {
		value_item(s, REPORT_NOTE, p, POLICY_MAX_LOGINS, "cannot count the logins now");
		return true;
	}
	bool ok = used < max;
	_cleanup_free_ char *d = xasprintf("%u of %llu in use now", used, (unsigned long long)max);
	value_item(s, ok ? REPORT_ALLOWS : REPORT_DENIES, p, POLICY_MAX_LOGINS, d);
	if (!ok) {
		_cleanup_free_ char *w = value_where(&p->values[POLICY_MAX_LOGINS]);
		report_decide(s, false, "login refused: too many sessions (%s)", w);
	}
	return ok;
}

static void
explain_login(struct explain *e)
{
	struct berth_account *a = e->acct;
	_cleanup_free_ char *title =
	        xasprintf("login of %s from %s over %s", a->name,
	                  e->from ? e->from : "an unknown address (no --from)", e->protocol);
	struct report_section *s = section(e, "login", title);
	if (a->kind == BERTH_ACCOUNT_VIRTUAL)
		report_item_at(s, REPORT_ALLOWS, "account", NULL, a->source, "virtual account",
		               "uid %u, gid %u, jail %s, start %s", (unsigned)a->uid,
		               (unsigned)a->gid, a->root, a->start_dir);
	else
		report_item(s, REPORT_ALLOWS, "account", NULL, NULL, 0, "system account (NSS)",
		            "uid %u, gid %u, jail %s, start %s", (unsigned)a->uid, (unsigned)a->gid,
		            a->root, a->start_dir);
	if (!e->from)
		report_item(s, REPORT_NOTE, "source", NULL, NULL, 0, "no --from",
		            "AllowFrom and user@address patterns match no address");
	/* As the monitor when it pins the user name. */
	const char *why = NULL;
	int r = berth_account_check_access(e->cfg, a, e->from, &why);
	if (r != 0) {
		access_refused(e, s, r, why);
		end_section(e, s);
		return;
	}
	report_item_at(s, REPORT_ALLOWS, "account", NULL,
	               a->kind == BERTH_ACCOUNT_VIRTUAL ? a->source : NULL, "enabled", NULL);
	if (e->cfg->n_deny_users)
		report_item(s, REPORT_ALLOWS, "account", NULL, e->cfg->origin_deny_users.file,
		            e->cfg->origin_deny_users.line, "DenyUsers", "not listed");
	if (e->cfg->n_allow_users)
		report_item(s, REPORT_ALLOWS, "account", NULL, e->cfg->origin_allow_users.file,
		            e->cfg->origin_allow_users.line, "AllowUsers", "listed");
	_cleanup_free_ char *m = methods_text(a->allowed_methods);
	if (a->has_methods)
		report_item_at(s, REPORT_ALLOWS, "account", NULL, a->source,
		               "AuthenticationMethods", "usable methods: %s", m);
	else
		report_item(s, REPORT_ALLOWS, "account", NULL, e->cfg->origin_auth_methods.file,
		            e->cfg->origin_auth_methods.line, "AuthenticationMethods",
		            "usable methods: %s", m);
	struct policy_verdict v;
	if (policy_check_login(a->policy, e->from, e->now, e->proto_login, &v) < 0) {
		report_steps(s, &v, false);
		const struct policy_step *st = &v.steps[v.n - 1];
		if (st->origin && st->origin->file)
			report_decide(s, false, "login refused by %s at %s:%u", st->text,
			              st->origin->file, st->origin->line);
		else
			report_decide(s, false, "login refused by %s", st->text);
		end_section(e, s);
		return;
	}
	report_steps(s, &v, false);
	if (!explain_key(e, s) || !explain_max_logins(e, s)) {
		end_section(e, s);
		return;
	}
	report_decide(s, true, "login allowed");
	end_section(e, s);
}

/* ---- session ---- */

static void
explain_session(struct explain *e)
{
	const struct policy *p = e->acct->policy;
	_cleanup_free_ char *title = xasprintf("%s session", e->protocol);
	struct report_section *s = section(e, "session", title);
	const struct policy_value *v = &p->values[POLICY_PROTOCOLS];
	/* SFTP request filters of berthd.conf act in the engine, before the policy layer. */
	if (e->proto_session & POLICY_PROTO_SSH) {
		if (e->cfg->deny_requests)
			report_item(
			        s, REPORT_NOTE, "requests", NULL, NULL, 0, "DenyRequests",
			        "berthd.conf refuses the SFTP requests %s before any rule here; "
			        "explain does not evaluate them",
			        e->cfg->deny_requests);
		if (e->cfg->allow_requests)
			report_item(
			        s, REPORT_NOTE, "requests", NULL, NULL, 0, "AllowRequests",
			        "berthd.conf allows only the SFTP requests %s (not evaluated by "
			        "explain)",
			        e->cfg->allow_requests);
	}
	if (e->acct->uid == 0) {
		/* The monitor's worker refuses it (src/priv/worker.c). */
		report_item_at(s, REPORT_DENIES, "account", NULL,
		               e->acct->kind == BERTH_ACCOUNT_VIRTUAL ? e->acct->source : NULL,
		               "uid 0", "berthd never runs a session as root");
		report_decide(s, false, "%s session refused: the account has uid 0", e->protocol);
		end_section(e, s);
		return;
	}
	/* The worker request is checked against the session's own protocol. */
	bool ok = (policy_get(p, POLICY_PROTOCOLS) & e->proto_session) != 0;
	if (v->set) {
		value_item(s, ok ? REPORT_ALLOWS : REPORT_DENIES, p, POLICY_PROTOCOLS, NULL);
		_cleanup_free_ char *w = value_where(v);
		report_decide(s, ok, "%s session %s by %s", e->protocol, ok ? "allowed" : "refused",
		              w);
	} else {
		report_item(s, REPORT_ALLOWS, "default", NULL, NULL, 0, "no Protocols rule",
		            "every protocol");
		report_decide(s, true, "%s session allowed (no Protocols rule)", e->protocol);
	}
	end_section(e, s);
}

/* ---- path ---- */

struct resolve_answer {
	char *path;
	bool exists, dir;
	uint64_t size;
	int err; /* resolving failed: -errno, the lexical path stays */
};

struct resolve_ctx {
	const char *path, *target;
	bool follow, target_follow;
};

static int
resolve_one(struct vfs *v, const char *path, bool follow, struct xbuf *out)
{
	_cleanup_free_ char *canon = NULL;
	int r = vfs_policy_resolve(v, path, follow, &canon);
	if (r == 1) /* "", "." or "..": the object itself */
		r = vfs_policy_resolve(v, path, true, &canon);
	struct vfs_attr a = {0};
	bool exists = r == 0 && vfs_stat(v, canon, false, &a) == 0;
	if (xbuf_put_u32(out, r < 0 ? (uint32_t)-r : 0) < 0 ||
	    xbuf_put_cstring(out, r < 0 ? "" : canon) < 0 || xbuf_put_u8(out, exists) < 0 ||
	    xbuf_put_u8(out, exists && S_ISDIR(a.mode)) < 0 || xbuf_put_u64(out, a.size) < 0)
		return -ENOBUFS;
	return 0;
}

/* In the child, as the account. */
static int
resolve_fn(struct vfs *v, void *ctx, struct xbuf *out)
{
	const struct resolve_ctx *rc = ctx;
	int r = resolve_one(v, rc->path, rc->follow, out);
	if (r == 0 && rc->target)
		r = resolve_one(v, rc->target, rc->target_follow, out);
	return r;
}

static int
get_answer(struct xbuf *b, struct resolve_answer *ret)
{
	uint32_t err;
	uint8_t ex, dir;
	if (xbuf_get_u32(b, &err) < 0 || xbuf_get_cstring(b, &ret->path, POLICY_MAX_TEXT) < 0 ||
	    xbuf_get_u8(b, &ex) < 0 || xbuf_get_u8(b, &dir) < 0 || xbuf_get_u64(b, &ret->size) < 0)
		return -EBADMSG;
	ret->err = -(int)err;
	ret->exists = ex;
	ret->dir = dir;
	return 0;
}

/* Does the policy layer decide on the object the path leads to (links followed) or on
 * the entry it names? As vfs_policy.c resolves for each operation. */
static bool
follows(unsigned op)
{
	return op == POLICY_OP_LIST || op == POLICY_OP_DOWNLOAD || op == POLICY_OP_UPLOAD ||
	       op == POLICY_OP_OVERWRITE || op == POLICY_OP_SETSTAT;
}

/* --resolve: the canonical paths as the policy layer finds them, looked up as the
 * account through the jail. False when it could not run (printed). */
static bool
resolve(struct explain *e, struct report_section *s)
{
	struct resolve_ctx rc = {e->path, e->target, follows(e->op), false};
	_cleanup_xbuf_ struct xbuf out = XBUF_NULL;
	xbuf_init(&out, CTL_AS_ACCOUNT_MAX);
	int r = ctl_as_account(e->cfg, e->acct, resolve_fn, &rc, &out);
	if (r != 0)
		return false;
	struct resolve_answer pa = {0}, ta = {0};
	if (get_answer(&out, &pa) < 0 || (e->target && get_answer(&out, &ta) < 0)) {
		free(pa.path);
		ctl_err("explain --resolve: malformed answer");
		return false;
	}
	e->resolved = true;
	if (pa.err < 0)
		report_item(s, REPORT_NOTE, "resolve", NULL, NULL, 0, e->path,
		            "cannot be resolved in the jail: %s; evaluated as written",
		            strerror(-pa.err));
	else {
		free(e->cpath);
		e->cpath = ptr_steal(&pa.path);
		e->path_exists = pa.exists;
		e->path_dir = pa.dir;
		e->path_size = pa.size;
		report_item(s, REPORT_NOTE, "resolve", NULL, NULL, 0, e->cpath, "%s, as %s",
		            !pa.exists ? "does not exist"
		            : pa.dir   ? "an existing directory"
		                       : "exists",
		            e->acct->name);
	}
	if (e->target && ta.err < 0)
		report_item(s, REPORT_NOTE, "resolve", NULL, NULL, 0, e->target,
		            "cannot be resolved in the jail: %s; evaluated as written",
		            strerror(-ta.err));
	else if (e->target) {
		free(e->ctarget);
		e->ctarget = ptr_steal(&ta.path);
		e->target_exists = ta.exists;
		report_item(s, REPORT_NOTE, "resolve", NULL, NULL, 0, e->ctarget, "%s, as %s",
		            ta.exists ? "exists" : "does not exist", e->acct->name);
	}
	free(pa.path);
	free(ta.path);
	return true;
}

static const char *
leaf(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static bool
explain_path(struct explain *e)
{
	const struct policy *p = e->acct->policy;
	_cleanup_free_ char *title =
	        e->target ? xasprintf("%s %s to %s", op_name(e->op), e->cpath, e->ctarget)
	                  : xasprintf("%s %s", op_name(e->op), e->cpath);
	struct report_section *s = section(e, "path", title);
	s->primary = true;
	if (e->resolve) {
		if (!resolve(e, s))
			return false;
	} else {
		report_item(s, REPORT_NOTE, "path", NULL, NULL, 0, "as written",
		            "symbolic links inside the jail are resolved by the server at access "
		            "time; --resolve follows them now, as %s",
		            e->acct->name);
	}
	if (strcmp(e->cpath, e->path) != 0)
		report_item(s, REPORT_NOTE, "path", NULL, NULL, 0, e->cpath,
		            "\"%s\" from the start directory %s", e->path, e->acct->start_dir);
	unsigned op = e->op;
	bool dir = e->dir || (e->resolved && e->path_dir);
	struct policy_verdict v;
	switch (op) {
	case POLICY_OP_LIST:
		if (policy_reserved_name(leaf(e->cpath))) {
			report_item(s, REPORT_DENIES, "reserved", "list", NULL, 0,
			            "names starting with \".berth-\" are reserved", "%s", e->cpath);
			report_decide(s, false, "%s is never listed or found (no such file)",
			              e->cpath);
			end_section(e, s);
			return true;
		}
		(void)policy_decide(p, POLICY_OP_LIST, e->cpath, POLICY_F_DIR, &v);
		break;
	case POLICY_OP_UPLOAD:
		if (e->resolved && e->path_exists) {
			report_item(
			        s, REPORT_NOTE, "path", "upload", NULL, 0, e->cpath,
			        "exists: an upload to this name replaces it, which the overwrite "
			        "permission decides");
			op = POLICY_OP_OVERWRITE;
		}
		(void)policy_decide(p, (enum policy_op)op, e->cpath, 0, &v);
		break;
	case POLICY_OP_RENAME: {
		unsigned f = (dir ? POLICY_F_DIR : 0) | (e->replace ? POLICY_F_EXISTS : 0);
		if (e->resolved && e->target_exists && !e->replace)
			report_item(
			        s, REPORT_NOTE, "path", "rename", NULL, 0, e->ctarget,
			        "exists: an SFTP rename fails (it never replaces); posix-rename "
			        "and FTP RNTO replace it (--replace)");
		(void)policy_decide_rename(p, e->cpath, e->ctarget, f, &v);
		break;
	}
	case OP_LINK:
		(void)policy_decide_link(p, e->cpath, e->ctarget, &v);
		break;
	case POLICY_OP_MKDIR:
	case POLICY_OP_RMDIR:
		(void)policy_decide(p, (enum policy_op)op, e->cpath, POLICY_F_DIR, &v);
		break;
	case POLICY_OP_SYMLINK:
		if (e->target)
			report_item(s, REPORT_NOTE, "path", "symlink", NULL, 0, e->target,
			            "the link's target is stored as given and decided when used");
		(void)policy_decide(p, POLICY_OP_SYMLINK, e->cpath, 0, &v);
		break;
	default:
		(void)policy_decide(p, (enum policy_op)op, e->cpath, dir ? POLICY_F_DIR : 0, &v);
		break;
	}
	report_verdict(s, &v);
	if (op == POLICY_OP_SETSTAT && !v.allowed && v.n &&
	    v.steps[v.n - 1].kind == POLICY_RULE_PERMISSIONS)
		report_item(s, REPORT_NOTE, "path", "setstat", NULL, 0, "the uploading handle",
		            "an upload may still set its own file's mode and times through the "
		            "handle that created it (put -p, scp -p)");
	if (writes(op) || op == POLICY_OP_DOWNLOAD) {
		enum policy_key k =
		        op == POLICY_OP_DOWNLOAD ? POLICY_BW_DOWNLOAD : POLICY_BW_UPLOAD;
		value_item(s, REPORT_NOTE, p, k, "throttles, never refuses");
	}
	if (op == POLICY_OP_UPLOAD || op == POLICY_OP_OVERWRITE)
		value_item(s, REPORT_NOTE, p, POLICY_UPLOAD_MODE,
		           policy_get(p, POLICY_UPLOAD_MODE) == POLICY_UPLOAD_STANDARD
		                   ? "written in place"
		                   : "published under its name only when complete");
	end_section(e, s);
	return true;
}

/* ---- quota ---- */

/* Would the account's usage take @bytes and @files more under the limits? The same
 * compare-and-swap the policy layer makes, on a private copy of the recorded usage. */
static bool
fits(const struct policy_state_info *u, uint64_t bytes, uint64_t files, uint64_t max_bytes,
     uint64_t max_files)
{
	struct policy_state *st;
	if (policy_state_map(-1, &st) < 0)
		return false;
	bool ok = policy_state_reserve(st, u->bytes, u->files, 0, 0) == 0 &&
	          policy_state_reserve(st, bytes, files, max_bytes, max_files) == 0;
	policy_state_unmap(st);
	return ok;
}

static void
explain_quota(struct explain *e)
{
	const struct policy *p = e->acct->policy;
	uint64_t qb = policy_get(p, POLICY_QUOTA_BYTES), qf = policy_get(p, POLICY_QUOTA_FILES);
	uint64_t mx = policy_get(p, POLICY_MAX_FILE_SIZE);
	struct report_section *s = section(e, "quota", "quota and file size");
	if (!qb && !qf && !mx) {
		report_item(s, REPORT_ALLOWS, "default", NULL, NULL, 0,
		            "no QuotaSize, QuotaFiles or MaxFileSize", NULL);
		report_decide(s, true, "no quota");
		end_section(e, s);
		return;
	}
	/* What the operation adds: a new name is one more file; bytes as --size says (an
	 * overwrite gives the old size back first, a link adds its source's size). */
	bool new_file = e->op == OP_LINK || (e->op == POLICY_OP_UPLOAD && !e->path_exists);
	uint64_t bytes = e->have_size ? e->size : 0;
	if (e->op == OP_LINK && !e->have_size && e->resolved)
		bytes = e->path_size;
	if (e->op != OP_LINK && e->resolved && e->path_exists)
		bytes = bytes > e->path_size ? bytes - e->path_size : 0;
	bool ok = true;
	_cleanup_free_ char *deny = NULL;
	if (mx && e->op != OP_LINK) {
		uint64_t sz = e->have_size ? e->size : 0;
		bool m_ok = !e->have_size || sz <= mx;
		_cleanup_free_ char *d = e->have_size
		                                 ? xasprintf("%llu bytes", (unsigned long long)sz)
		                                 : xstrdup("give --size to check a size");
		value_item(s, m_ok ? REPORT_ALLOWS : REPORT_DENIES, p, POLICY_MAX_FILE_SIZE, d);
		if (!m_ok) {
			ok = false;
			deny = value_where(&p->values[POLICY_MAX_FILE_SIZE]);
		}
	}
	if (qb || qf) {
		struct policy_state_info u;
		int r = policy_state_read(e->cfg->state_directory, e->acct->name, &u);
		if (r < 0 || !u.valid) {
			const char *why = r == -ENOENT ? "no usage recorded yet"
			                  : r < 0      ? strerror(-r)
			                               : "usage unknown (invalidated)";
			report_item(s, REPORT_NOTE, "quota", NULL, NULL, 0, why,
			            "the next session walks the jail first; or berthctl quota "
			            "rescan %s",
			            e->acct->name);
			value_item(s, REPORT_NOTE, p, POLICY_QUOTA_BYTES, NULL);
			value_item(s, REPORT_NOTE, p, POLICY_QUOTA_FILES, NULL);
		} else {
			if (qb) {
				bool b_ok = fits(&u, bytes, 0, qb, 0);
				_cleanup_free_ char *d = xasprintf(
				        "used %llu of %llu bytes, %s %llu",
				        (unsigned long long)u.bytes, (unsigned long long)qb,
				        b_ok ? "room for" : "no room for",
				        (unsigned long long)bytes);
				value_item(s, b_ok ? REPORT_ALLOWS : REPORT_DENIES, p,
				           POLICY_QUOTA_BYTES, d);
				if (!b_ok && ok) {
					ok = false;
					deny = value_where(&p->values[POLICY_QUOTA_BYTES]);
				}
			}
			if (qf) {
				bool f_ok = fits(&u, 0, new_file, 0, qf);
				_cleanup_free_ char *d = xasprintf("%llu of %llu files, %s",
				                                   (unsigned long long)u.files,
				                                   (unsigned long long)qf,
				                                   !new_file ? "no new file"
				                                   : f_ok    ? "room for one more"
				                                             : "full");
				value_item(s, f_ok ? REPORT_ALLOWS : REPORT_DENIES, p,
				           POLICY_QUOTA_FILES, d);
				if (!f_ok && ok) {
					ok = false;
					deny = value_where(&p->values[POLICY_QUOTA_FILES]);
				}
			}
		}
	}
	if (!e->have_size && (qb || mx))
		report_item(s, REPORT_NOTE, "quota", NULL, NULL, 0, "no --size",
		            "a write is refused at the byte that passes QuotaSize or MaxFileSize");
	if (ok)
		report_decide(s, true, "within the quota");
	else
		report_decide(s, false, "quota exceeded: %s", deny);
	end_section(e, s);
}

/* ---- the command ---- */

static const char explain_help[] =
        "Options:\n"
        "  --to TARGET        the new name (rename, link) or a symlink's target\n"
        "  --from ADDR        the client's numeric address\n"
        "  --protocol P       sftp (default), scp, ftps or ftp\n"
        "  --key SHA256:FP    the login uses this key (its from=, expiry-time=, -R)\n"
        "  --size N           bytes the upload writes (quota, MaxFileSize)\n"
        "  --at DATE          evaluate at this UTC time (2027-01-31[T12:00]) instead of now\n"
        "  --dir              the object (rename source, setstat) is a directory\n"
        "  --replace          the rename replaces an existing target (posix-rename, FTP)\n"
        "  --resolve          resolve the paths in the jail now, as the account\n"
        "  --json             one JSON object instead of lines\n"
        "Operations: list (ls), download (get), upload (put), overwrite, delete (rm),\n"
        "rename (mv), mkdir, rmdir, symlink, setstat (chmod), link.\n"
        "Exit status: 0 allowed, 1 denied, 2 usage error or unknown account.\n";

enum {
	O_TO = 256,
	O_FROM,
	O_PROTOCOL,
	O_KEY,
	O_SIZE,
	O_AT,
	O_DIR,
	O_REPLACE,
	O_RESOLVE,
	O_JSON,
};

static int
parse(struct explain *e, const struct ctl_command *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
	        CTL_COMMON_LONGOPTS,
	        {"to", required_argument, NULL, O_TO},
	        {"from", required_argument, NULL, O_FROM},
	        {"protocol", required_argument, NULL, O_PROTOCOL},
	        {"key", required_argument, NULL, O_KEY},
	        {"size", required_argument, NULL, O_SIZE},
	        {"at", required_argument, NULL, O_AT},
	        {"dir", no_argument, NULL, O_DIR},
	        {"replace", no_argument, NULL, O_REPLACE},
	        {"resolve", no_argument, NULL, O_RESOLVE},
	        {"json", no_argument, NULL, O_JSON},
	        {0},
	};
	const char *at = NULL, *size = NULL;
	int opt;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("usage: berthctl [-f berthd.conf | -A accounts] explain "
			       "%s\n\n%s\n\n%s",
			       cmd->args, cmd->summary, explain_help);
			return -1;
		case O_TO:
			e->target = optarg;
			break;
		case O_FROM:
			e->from = optarg;
			break;
		case O_PROTOCOL:
			e->protocol = optarg;
			break;
		case O_KEY:
			e->key = optarg;
			break;
		case O_SIZE:
			size = optarg;
			break;
		case O_AT:
			at = optarg;
			break;
		case O_DIR:
			e->dir = true;
			break;
		case O_REPLACE:
			e->replace = true;
			break;
		case O_RESOLVE:
			e->resolve = true;
			break;
		case O_JSON:
			e->json = true;
			break;
		default:
			if (ctl_common_option(e->c, opt, optarg))
				break;
			ctl_err("explain: unknown option or missing argument: %s",
			        argv[optind - 1]);
			return CTL_USAGE;
		}
	}
	if (argc - optind != 3) {
		ctl_err("explain: expected ACCOUNT OPERATION PATH");
		fprintf(stderr, "usage: berthctl explain %s\n", cmd->args);
		return CTL_USAGE;
	}
	e->account = argv[optind];
	e->opname = argv[optind + 1];
	e->path = argv[optind + 2];
	e->op = UINT32_MAX;
	for (size_t i = 0; i < ARRAY_SIZE(op_names); i++)
		if (strcmp(op_names[i].name, e->opname) == 0)
			e->op = op_names[i].op;
	if (e->op == UINT32_MAX) {
		ctl_err("explain: unknown operation \"%s\"", e->opname);
		return CTL_USAGE;
	}
	if ((e->op == POLICY_OP_RENAME || e->op == OP_LINK) && !e->target) {
		ctl_err("explain: %s needs --to TARGET", op_name(e->op));
		return CTL_USAGE;
	}
	if (e->target && e->op != POLICY_OP_RENAME && e->op != OP_LINK &&
	    e->op != POLICY_OP_SYMLINK) {
		ctl_err("explain: --to applies to rename, link and symlink only");
		return CTL_USAGE;
	}
	if (!e->protocol)
		e->protocol = "sftp";
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(protocols); i++) {
		if (strcmp(protocols[i].name, e->protocol) == 0) {
			e->proto_login = protocols[i].login;
			e->proto_session = protocols[i].session;
			known = true;
		}
	}
	if (!known) {
		ctl_err("explain: --protocol: sftp, scp, ftps or ftp");
		return CTL_USAGE;
	}
	if (size && policy_parse_size(size, &e->size) < 0) {
		ctl_err("explain: --size: expected a size (1024, 10K, 500M, 2G)");
		return CTL_USAGE;
	}
	e->have_size = size != NULL;
	e->now = time(NULL);
	int64_t t;
	if (at && policy_parse_date(at, &t) < 0) {
		ctl_err("explain: --at: expected a UTC date (2027-01-31, 2027-01-31T12:00)");
		return CTL_USAGE;
	}
	if (at)
		e->now = (time_t)t;
	struct in6_addr any;
	if (e->from && inet_pton(AF_INET, e->from, &any) != 1 &&
	    inet_pton(AF_INET6, e->from, &any) != 1) {
		ctl_err("explain: --from: expected a numeric address");
		return CTL_USAGE;
	}
	if (!berth_account_name_valid(e->account)) {
		ctl_err("explain: invalid account name \"%s\"", e->account);
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* Both paths as written, made canonical the way the policy layer's first attempt does
 * (plus "." and "..", which the kernel resolves the same way when no link is on the
 * way). */
static int
lexical_paths(struct explain *e)
{
	_cleanup_free_ char *start = NULL;
	if (policy_path_lexical("/", e->acct->start_dir, POLICY_PATH_DOTS, &start) != 0)
		start = xstrdup("/");
	if (policy_path_lexical(start, e->path, POLICY_PATH_DOTS, &e->cpath) != 0 ||
	    (e->target && e->op != POLICY_OP_SYMLINK &&
	     policy_path_lexical(start, e->target, POLICY_PATH_DOTS, &e->ctarget) != 0)) {
		ctl_err("explain: a path must be 1 to %d bytes", PATH_MAX - 1);
		return CTL_USAGE;
	}
	if (!e->ctarget && e->target)
		e->ctarget = xstrdup(e->target);
	return CTL_OK;
}

int
ctl_cmd_explain(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_command self = {
	        "explain", ctl_cmd_explain,
	        "ACCOUNT OPERATION PATH [--to TARGET] [--from ADDR] [--protocol P] [options]",
	        "Would ACCOUNT be allowed OPERATION on PATH? Prints every rule that takes part,\n"
	        "with file:line, from the decision functions berthd uses."};
	struct explain e = {.c = c};
	int rc = parse(&e, &self, argc, argv);
	if (rc != CTL_OK)
		return rc < 0 ? CTL_OK : CTL_USAGE;
	if (ctl_account(c, e.account, &e.cfg, &e.db, &e.acct) != CTL_OK) {
		rc = CTL_USAGE;
		goto out;
	}
	if ((rc = lexical_paths(&e)) != CTL_OK)
		goto out;
	e.rep = report_new();
	report_field(e.rep, "account", e.account);
	report_field(e.rep, "operation", op_name(e.op));
	report_field(e.rep, "path", e.path);
	report_field(e.rep, "target", e.target);
	report_field(e.rep, "from", e.from);
	report_field(e.rep, "protocol", e.protocol);
	report_field(e.rep, "key", e.key);
	explain_ban(&e);
	explain_login(&e);
	explain_session(&e);
	if (!explain_path(&e)) {
		rc = CTL_USAGE;
		goto out;
	}
	if (writes(e.op))
		explain_quota(&e);
	report_field(e.rep, "jail_path", e.cpath);
	report_field(e.rep, "jail_target", e.op == POLICY_OP_SYMLINK ? NULL : e.ctarget);
	bool allowed = report_finish(e.rep);
	if (e.json)
		report_print_json(e.rep, stdout);
	else
		report_print_text(e.rep, stdout);
	rc = allowed ? CTL_OK : CTL_ERROR;
out:
	report_free(e.rep);
	berth_account_free(e.acct);
	berth_accounts_free(e.db);
	free(e.cpath);
	free(e.ctarget);
	return rc;
}
