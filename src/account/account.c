/* SPDX-License-Identifier: BSD-2-Clause */
/* Account lookup (virtual, then NSS), access policy and AuthenticationMethods evaluation. */
#include <grp.h>
#include <pwd.h>
#include <string.h>

#include "berth/account.h"
#include "berth/authkeys.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/policy.h"
#include "berth/xmem.h"
#include "account-internal.h"

#define NSS_BUF_MAX   (1u << 20)
#define NSS_GROUP_MAX 65536

static char **
strv_dup(char *const *v, size_t n)
{
	char **out = xcalloc(n ? n : 1, sizeof(char *));

	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void
account_deinit(struct berth_account *a)
{
	free(a->name);
	free(a->groups);
	free(a->home);
	free(a->root);
	free(a->start_dir);
	if (a->password_hash)
		freezero(a->password_hash, strlen(a->password_hash));
	strv_free(a->authorized_keys_files, a->n_authorized_keys_files);
	strv_free(a->inline_keys, a->n_inline_keys);
	free(a->source);
	policy_free(a->policy);
	*a = (struct berth_account){0};
}

struct berth_account *
berth_account_free(struct berth_account *a)
{
	if (a) {
		account_deinit(a);
		free(a);
	}
	return NULL;
}

struct berth_account *
account_dup(const struct berth_account *a)
{
	struct berth_account *c = xcalloc(1, sizeof(*c));

	*c = *a;
	c->name = xstrdup(a->name);
	c->groups = xcalloc(a->n_groups ? a->n_groups : 1, sizeof(gid_t));
	memcpy(c->groups, a->groups, a->n_groups * sizeof(gid_t));
	c->home = a->home ? xstrdup(a->home) : NULL;
	c->root = xstrdup(a->root);
	c->start_dir = xstrdup(a->start_dir);
	c->password_hash = a->password_hash ? xstrdup(a->password_hash) : NULL;
	c->authorized_keys_files = strv_dup(a->authorized_keys_files, a->n_authorized_keys_files);
	c->inline_keys = strv_dup(a->inline_keys, a->n_inline_keys);
	c->source = a->source ? xstrdup(a->source) : NULL;
	c->policy = a->policy ? policy_dup(a->policy) : policy_new();
	return c;
}

uint32_t
berth_config_enabled_methods(const struct berth_config *cfg)
{
	uint32_t m = 0;

	if (cfg->pubkey_authentication)
		m |= BERTH_AUTH_PUBLICKEY;
	if (cfg->password_authentication)
		m |= BERTH_AUTH_PASSWORD;
	if (cfg->kbdint_authentication)
		m |= BERTH_AUTH_KBDINT;
	return m;
}

static void
finish_methods(const struct berth_config *cfg, struct berth_account *a)
{
	uint32_t m = berth_config_enabled_methods(cfg);
	bool has_keys = a->n_inline_keys > 0 || a->n_authorized_keys_files > 0;

	if (!has_keys)
		m &= ~(uint32_t)BERTH_AUTH_PUBLICKEY;
	if (a->kind == BERTH_ACCOUNT_VIRTUAL) {
		/* Virtual keyboard-interactive is a single "Password:" prompt checked
		 * against the same hash. */
		if (!a->password_hash)
			m &= ~(uint32_t)(BERTH_AUTH_PASSWORD | BERTH_AUTH_KBDINT);
	} else if (!cfg->use_pam) {
		/* System passwords are only verified through PAM. */
		m &= ~(uint32_t)(BERTH_AUTH_PASSWORD | BERTH_AUTH_KBDINT);
	}
	a->allowed_methods = m;
}

/* The global ReadOnly, recorded in the policy with where it was set. */
static void
apply_global_read_only(const struct berth_config *cfg, struct berth_account *a)
{
	if (!cfg->read_only)
		return;
	a->read_only = true;
	policy_set_read_only(a->policy, "ReadOnly yes (berthd.conf)", cfg->origin_read_only.file,
	                     cfg->origin_read_only.line);
}

static int
lookup_system(const struct berth_config *cfg, const struct berth_accounts *db, const char *name,
              struct berth_account **ret)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ gid_t *groups = NULL;
	struct passwd pw, *res = NULL;
	size_t bufsize = 1024;
	int ngroups, r;

	for (;;) {
		buf = xreallocarray(buf, bufsize, 1);
		r = getpwnam_r(name, &pw, buf, bufsize, &res);
		if (r == ERANGE && bufsize < NSS_BUF_MAX) {
			bufsize *= 2;
			continue;
		}
		break;
	}
	if (r != 0 && r != ENOENT && r != ESRCH && r != EBADF && r != EPERM)
		return -r;
	if (!res)
		return BERTH_ACCOUNT_E_NOTFOUND;
	if (pw.pw_uid == 0)
		return BERTH_ACCOUNT_E_NOTFOUND; /* root never logs in here */
	if (!pw.pw_dir || pw.pw_dir[0] != '/')
		return BERTH_ACCOUNT_E_NOTFOUND;

	ngroups = 16;
	for (;;) {
		int n = ngroups;
		groups = xreallocarray(groups, (size_t)n, sizeof(gid_t));
		if (getgrouplist(name, pw.pw_gid, groups, &n) >= 0) {
			ngroups = n;
			break;
		}
		if (n <= ngroups || n > NSS_GROUP_MAX)
			return -E2BIG;
		ngroups = n;
	}

	struct berth_account *a = xcalloc(1, sizeof(*a));
	a->name = xstrdup(pw.pw_name);
	a->kind = BERTH_ACCOUNT_SYSTEM;
	a->uid = pw.pw_uid;
	a->gid = pw.pw_gid;
	a->groups = ptr_steal(&groups);
	a->n_groups = (size_t)ngroups;
	a->home = xstrdup(pw.pw_dir);
	a->root = berth_config_expand_tokens(cfg->system_root, a->name, a->home);
	/* Start in the home directory when it lies inside the jail. */
	size_t rl = strlen(a->root);
	while (rl > 1 && a->root[rl - 1] == '/')
		a->root[--rl] = '\0';
	if (strcmp(a->root, "/") == 0)
		a->start_dir = xstrdup(a->home);
	else if (strncmp(a->home, a->root, rl) == 0 && a->home[rl] == '/')
		a->start_dir = xstrdup(a->home + rl);
	else
		a->start_dir = xstrdup("/");
	a->policy = db && db->defaults_policy ? policy_dup(db->defaults_policy) : policy_new();
	a->read_only = policy_get(a->policy, POLICY_READ_ONLY) != 0;
	apply_global_read_only(cfg, a);
	a->enabled = true;
	a->authorized_keys_files = xcalloc(
	        cfg->n_authorized_keys_files ? cfg->n_authorized_keys_files : 1, sizeof(char *));
	for (size_t i = 0; i < cfg->n_authorized_keys_files; i++) {
		_cleanup_free_ char *p =
		        berth_config_expand_tokens(cfg->authorized_keys_files[i], a->name, a->home);
		a->authorized_keys_files[i] =
		        p[0] == '/' ? ptr_steal(&p) : xasprintf("%s/%s", a->home, p);
	}
	a->n_authorized_keys_files = cfg->n_authorized_keys_files;
	a->source = xstrdup("nss");
	finish_methods(cfg, a);
	*ret = a;
	return 0;
}

int
berth_account_lookup(const struct berth_config *cfg, const struct berth_accounts *db,
                     const char *name, struct berth_account **ret)
{
	if (!name || !berth_account_name_valid(name))
		return BERTH_ACCOUNT_E_NOTFOUND;
	for (size_t i = 0; db && i < db->n; i++) {
		if (strcmp(db->v[i].a.name, name) == 0) {
			struct berth_account *a = account_dup(&db->v[i].a);
			apply_global_read_only(cfg, a);
			finish_methods(cfg, a);
			*ret = a;
			return 0;
		}
	}
	if (!cfg->system_accounts)
		return BERTH_ACCOUNT_E_NOTFOUND;
	return lookup_system(cfg, db, name, ret);
}

void
berth_account_apply_key(struct berth_account *acct, const struct authkeys_entry *key)
{
	if (key && key->opts.read_only)
		policy_set_read_only(acct->policy, "command=\"internal-sftp -R\"", key->source,
		                     key->line);
}

/* "user" or "user@addr-pattern". */
static bool
user_pattern_matches(const char *pattern, const char *user, const char *client_addr)
{
	const char *at = strchr(pattern, '@');
	_cleanup_free_ char *upat =
	        at ? xstrndup(pattern, (size_t)(at - pattern)) : xstrdup(pattern);

	if (!berth_match_pattern(user, upat))
		return false;
	if (!at)
		return true;
	if (!client_addr)
		return false;
	return berth_match_addr_list(client_addr, at + 1) == 1;
}

const struct berth_auth_policy *
berth_account_policy(const struct berth_config *cfg, const struct berth_account *acct)
{
	if (acct && acct->has_methods)
		return &acct->methods;
	return &cfg->auth_methods;
}

int
berth_account_check_access(const struct berth_config *cfg, const struct berth_account *acct,
                           const char *client_addr, const char **ret_reason)
{
	const char *reason;
	struct berth_auth_state st;
	int r;

	if (!acct->enabled) {
		if (ret_reason)
			*ret_reason = "account is disabled";
		return BERTH_ACCOUNT_E_DISABLED;
	}
	for (size_t i = 0; i < cfg->n_deny_users; i++) {
		if (user_pattern_matches(cfg->deny_users[i], acct->name, client_addr)) {
			reason = "user is listed in DenyUsers";
			goto deny;
		}
	}
	if (cfg->n_allow_users > 0) {
		bool ok = false;
		for (size_t i = 0; i < cfg->n_allow_users && !ok; i++)
			ok = user_pattern_matches(cfg->allow_users[i], acct->name, client_addr);
		if (!ok) {
			reason = "user is not listed in AllowUsers";
			goto deny;
		}
	}
	r = berth_auth_evaluate(berth_account_policy(cfg, acct), acct->allowed_methods, NULL, 0,
	                        &st);
	if (r != 0 || st.next == 0) {
		reason = "no usable authentication method for this account";
		goto deny;
	}
	return 0;
deny:
	if (ret_reason)
		*ret_reason = reason;
	return BERTH_ACCOUNT_E_DENIED;
}

int
berth_auth_evaluate(const struct berth_auth_policy *policy, uint32_t enabled,
                    const enum berth_auth_method *passed, size_t n_passed,
                    struct berth_auth_state *ret)
{
	struct berth_auth_state st = {0};
	size_t pos[BERTH_AUTH_CHAINS_MAX] = {0};
	size_t nc = MIN(policy->n_chains, (size_t)BERTH_AUTH_CHAINS_MAX);

	if (nc == 0) {
		/* "any": the first success of an enabled method completes. */
		for (size_t i = 0; i < n_passed; i++)
			if (!(passed[i] & enabled))
				return BERTH_ACCOUNT_E_METHOD;
		st.complete = n_passed > 0;
		st.next = st.complete ? 0 : enabled;
		*ret = st;
		return 0;
	}
	for (size_t i = 0; i < n_passed; i++) {
		bool advanced = false;

		if (!(passed[i] & enabled))
			return BERTH_ACCOUNT_E_METHOD;
		for (size_t c = 0; c < nc; c++) {
			if (pos[c] < policy->chains[c].n &&
			    policy->chains[c].methods[pos[c]] == (uint8_t)passed[i]) {
				pos[c]++;
				advanced = true;
			}
		}
		if (!advanced)
			return BERTH_ACCOUNT_E_METHOD;
		for (size_t c = 0; c < nc; c++) {
			if (pos[c] == policy->chains[c].n) {
				if (i + 1 != n_passed)
					return BERTH_ACCOUNT_E_METHOD; /* passed after completion */
				st.complete = true;
			}
		}
	}
	if (!st.complete) {
		for (size_t c = 0; c < nc; c++) {
			bool alive = true;

			/* A chain that needs a disabled method can never finish. */
			for (size_t k = pos[c]; k < policy->chains[c].n; k++)
				if (!(policy->chains[c].methods[k] & enabled))
					alive = false;
			if (alive)
				st.next |= policy->chains[c].methods[pos[c]];
		}
		st.partial = n_passed > 0;
	}
	*ret = st;
	return 0;
}

int
berth_password_dummy_verify(const struct berth_accounts *db, const char *password)
{
	static char *builtin;

	if (db && db->dummy_hash)
		return password_dummy_run(db->dummy_hash, password);
	if (!builtin)
		builtin = password_make_dummy(NULL);
	return password_dummy_run(builtin, password);
}

int
berth_account_verify_password(const struct berth_accounts *db, const struct berth_account *acct,
                              const char *password)
{
	if (!acct || acct->kind != BERTH_ACCOUNT_VIRTUAL || !acct->password_hash ||
	    !password_hash_supported(acct->password_hash))
		return berth_password_dummy_verify(db, password);
	return berth_password_verify(acct->password_hash, password) == 0 ? 0
	                                                                 : BERTH_ACCOUNT_E_MISMATCH;
}

int
berth_account_load_keys(const struct berth_account *acct, struct authkeys_list *list,
                        struct berth_errors *errors)
{
	bool bad = false;

	for (size_t i = 0; i < acct->n_inline_keys; i++) {
		_cleanup_free_ char *src = xasprintf("%s (AuthorizedKey)", acct->source);
		if (authkeys_parse(acct->inline_keys[i], strlen(acct->inline_keys[i]), src, list,
		                   errors) != 0)
			bad = true;
	}
	for (size_t i = 0; i < acct->n_authorized_keys_files; i++) {
		int r = authkeys_load_file(acct->authorized_keys_files[i], list, errors);

		if (r == -ENOENT || r == -ENOTDIR)
			continue;
		if (r < 0) {
			berth_errors_add(errors, acct->authorized_keys_files[i], 0, "%s",
			                 strerror(-r));
			bad = true;
		} else if (r > 0) {
			bad = true;
		}
	}
	return bad ? AUTHKEYS_E_INVALID : 0;
}
