/* SPDX-License-Identifier: BSD-2-Clause */
/* Virtual accounts file (berth-accounts(5)): "Account name" stanzas of Keyword value lines. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "berth/account.h"
#include "berth/authkeys.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/file.h"
#include "berth/policy.h"
#include "berth/xmem.h"
#include "account-internal.h"

#define ACCOUNTS_MAX_FILE  (16u << 20)
#define ACCOUNTS_MAX_LINE  16384
#define ACCOUNTS_MAX_COUNT 100000
#define GROUPS_MAX         64
#define KEY_FILES_MAX      16
#define INHERIT_MAX        64
#define VGROUPS_MAX        4096

/* Which template fields a stanza set, so Defaults, inherited Groups and the account's
 * own lines merge in that order whatever the line order inside a stanza. */
enum {
	T_UID = 1u << 0,
	T_GID = 1u << 1,
	T_GROUPS = 1u << 2,
	T_ROOT = 1u << 3,
	T_START_DIR = 1u << 4,
	T_ENABLED = 1u << 5,
	T_METHODS = 1u << 6,
	T_KEYS_RESET = 1u << 7, /* AuthorizedKeysFile none: drop inherited files */
};

struct template
{
	uint32_t set;
	uid_t uid;
	gid_t gid;
	gid_t groups[GROUPS_MAX];
	size_t n_groups;
	char *root; /* may contain %u */
	unsigned root_line;
	char *start_dir;
	bool enabled;
	struct berth_auth_policy methods;
	char **key_files; /* may contain %u; appended across layers */
	size_t n_key_files;
	struct policy *pol; /* policy keywords (berth/policy.h) */
};

/* A Group stanza, already flattened with the groups it inherits. */
struct vgroup {
	char *name;
	unsigned line;
	struct template t;
};

struct vparse {
	const char *file;
	unsigned line;
	struct berth_errors *errors;
	bool failed;
	struct berth_accounts *db;
	struct template defaults;
	struct vgroup *groups;
	size_t n_groups;
	/* the stanza being built */
	enum { IN_NONE, IN_DEFAULTS, IN_ACCOUNT, IN_GROUP, IN_BAD_ACCOUNT } state;
	struct template cur;
	struct vaccount acct;
	char *group_name;
	unsigned group_line;
	size_t inherit[INHERIT_MAX]; /* indices into groups, in order */
	size_t n_inherit;
};

static void _printf_(2, 3) verr(struct vparse *vp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	berth_errors_vadd(vp->errors, vp->file, vp->line, fmt, ap);
	va_end(ap);
	vp->failed = true;
}

static void
template_init(struct template *t)
{
	*t = (struct template){.enabled = true, .pol = policy_new()};
}

static void
template_free(struct template *t)
{
	free(t->root);
	free(t->start_dir);
	for (size_t i = 0; i < t->n_key_files; i++)
		free(t->key_files[i]);
	free(t->key_files);
	policy_free(t->pol);
	*t = (struct template){0};
}

/* @src's settings override @dst's (key files append unless @src reset them). */
static void
template_merge(struct template *dst, const struct template *src)
{
	uint32_t s = src->set;
	if (s & T_UID)
		dst->uid = src->uid;
	if (s & T_GID)
		dst->gid = src->gid;
	if (s & T_GROUPS) {
		memcpy(dst->groups, src->groups, sizeof(dst->groups));
		dst->n_groups = src->n_groups;
	}
	if (s & T_ROOT) {
		free(dst->root);
		dst->root = xstrdup(src->root);
		dst->root_line = src->root_line;
	}
	if (s & T_START_DIR) {
		free(dst->start_dir);
		dst->start_dir = xstrdup(src->start_dir);
	}
	if (s & T_ENABLED)
		dst->enabled = src->enabled;
	if (s & T_METHODS)
		dst->methods = src->methods;
	if (s & T_KEYS_RESET) {
		for (size_t i = 0; i < dst->n_key_files; i++)
			free(dst->key_files[i]);
		dst->n_key_files = 0;
	}
	for (size_t i = 0; i < src->n_key_files && dst->n_key_files < KEY_FILES_MAX; i++) {
		dst->key_files =
		        xreallocarray(dst->key_files, dst->n_key_files + 1, sizeof(char *));
		dst->key_files[dst->n_key_files++] = xstrdup(src->key_files[i]);
	}
	policy_merge(dst->pol, src->pol);
	dst->set |= s;
}

bool
berth_account_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > BERTH_ACCOUNT_NAME_MAX || name[0] == '-')
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x21 || *p == 0x7f || *p == '/' || *p == ':' || *p == '\\')
			return false;
	return true;
}

/* One value: the rest of the line, optionally "quoted" (\" and \\ escapes). */
static int
single_value(struct vparse *vp, const char *kw, const char *rest, char **ret)
{
	if (*rest == '"') {
		size_t len = strlen(rest);
		char *out = xmalloc(len + 1), *o = out;
		const char *p = rest + 1;

		for (;;) {
			if (*p == '\0') {
				free(out);
				verr(vp, "%s: unterminated quoted string", kw);
				return -1;
			}
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
				*o++ = p[1];
				p += 2;
				continue;
			}
			if (*p == '"')
				break;
			*o++ = *p++;
		}
		*o = '\0';
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != '#') {
			free(out);
			verr(vp, "%s: garbage after closing quote", kw);
			return -1;
		}
		*ret = out;
		return 0;
	}
	size_t len = strcspn(rest, " \t");
	const char *after = rest + len;
	while (*after == ' ' || *after == '\t')
		after++;
	if (len == 0) {
		verr(vp, "%s: missing value", kw);
		return -1;
	}
	if (*after && *after != '#') {
		verr(vp, "%s: expects a single value (quote values containing spaces)", kw);
		return -1;
	}
	*ret = xstrndup(rest, len);
	return 0;
}

static int
parse_id(const char *s, uint32_t *ret)
{
	uint64_t v = 0;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return -EINVAL;
	for (; *s; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	if (v >= UINT32_MAX) /* (uid_t)-1 is "no change" for setresuid */
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

static int
parse_yesno(struct vparse *vp, const char *kw, const char *v, bool *ret)
{
	if (strcasecmp(v, "yes") == 0)
		*ret = true;
	else if (strcasecmp(v, "no") == 0)
		*ret = false;
	else {
		verr(vp, "%s: expected yes or no, got \"%s\"", kw, v);
		return -1;
	}
	return 0;
}

static bool
path_has_dotdot(const char *p)
{
	for (const char *s = p; *s;) {
		size_t len = strcspn(s, "/");
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += len;
		while (*s == '/')
			s++;
	}
	return false;
}

/* The value of a keyword without its trailing comment: a '#' outside double quotes that
 * starts the value or follows a blank. Caller frees. */
char *
accounts_strip_comment(const char *rest)
{
	char *v = xstrdup(rest);
	bool quoted = false;
	for (char *p = v; *p; p++) {
		if (*p == '\\' && quoted && p[1]) {
			p++;
		} else if (*p == '"') {
			quoted = !quoted;
		} else if (*p == '#' && !quoted && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	size_t l = strlen(v);
	while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
		v[--l] = '\0';
	return v;
}

/* Inherit group[,group...]: groups must be defined earlier in the file. */
static void
apply_inherit(struct vparse *vp, const char *rest)
{
	_cleanup_free_ char *v = accounts_strip_comment(rest);
	if (!v[0]) {
		verr(vp, "Inherit: missing group name");
		return;
	}
	for (char *save = NULL, *g = strtok_r(v, ", \t", &save); g;
	     g = strtok_r(NULL, ", \t", &save)) {
		size_t i;
		for (i = 0; i < vp->n_groups; i++)
			if (strcmp(vp->groups[i].name, g) == 0)
				break;
		if (i == vp->n_groups) {
			verr(vp,
			     "Inherit: unknown group \"%.64s\" (a Group must be defined before it "
			     "is used)",
			     g);
			continue;
		}
		if (vp->n_inherit >= INHERIT_MAX) {
			verr(vp, "Inherit: more than %d groups", INHERIT_MAX);
			return;
		}
		vp->inherit[vp->n_inherit++] = i;
	}
}

/* Apply one setting to template @t (Defaults, a Group or the current account). */
static void
apply_setting(struct vparse *vp, struct template *t, const char *kw, const char *rest)
{
	_cleanup_free_ char *v = NULL;

	if (strcasecmp(kw, "AuthorizedKey") == 0) {
		/* Handled by the caller (account only). */
		verr(vp, "AuthorizedKey is only valid inside an Account stanza");
		return;
	}
	if (strcasecmp(kw, "Inherit") == 0) {
		if (vp->state == IN_DEFAULTS)
			verr(vp, "Inherit is not allowed in Defaults");
		else
			apply_inherit(vp, rest);
		return;
	}
	if (policy_is_keyword(kw)) {
		_cleanup_free_ char *val = accounts_strip_comment(rest);
		const char *err = NULL;
		if (policy_set_keyword(t->pol, kw, val, vp->file, vp->line, &err) < 0)
			verr(vp, "%s: %s", kw, err ? err : "invalid value");
		return;
	}
	if (strcasecmp(kw, "AuthenticationMethods") == 0) {
		const char *err = "invalid value";
		_cleanup_free_ char *val = accounts_strip_comment(rest);
		if (berth_auth_policy_parse(val, &t->methods, &err) < 0) {
			verr(vp, "AuthenticationMethods: %s", err);
			return;
		}
		t->set |= T_METHODS;
		return;
	}
	if (single_value(vp, kw, rest, &v) < 0)
		return;
	if (strcasecmp(kw, "Uid") == 0 || strcasecmp(kw, "Gid") == 0) {
		uint32_t id;
		if (parse_id(v, &id) < 0) {
			verr(vp, "%s: invalid id \"%s\"", kw, v);
			return;
		}
		if (id == 0) {
			verr(vp, "%s 0 (root) is not allowed for virtual accounts", kw);
			return;
		}
		if (tolower((unsigned char)kw[0]) == 'u') {
			t->uid = id;
			t->set |= T_UID;
		} else {
			t->gid = id;
			t->set |= T_GID;
		}
	} else if (strcasecmp(kw, "Groups") == 0) {
		t->n_groups = 0;
		t->set |= T_GROUPS;
		if (strcasecmp(v, "none") == 0)
			return;
		for (char *save = NULL, *g = strtok_r(v, ",", &save); g;
		     g = strtok_r(NULL, ",", &save)) {
			uint32_t id;
			if (parse_id(g, &id) < 0 || id == 0) {
				verr(vp, "Groups: invalid group id \"%s\"", g);
				return;
			}
			if (t->n_groups >= GROUPS_MAX) {
				verr(vp, "Groups: more than %d groups", GROUPS_MAX);
				return;
			}
			t->groups[t->n_groups++] = id;
		}
	} else if (strcasecmp(kw, "Root") == 0) {
		if (v[0] != '/' || path_has_dotdot(v)) {
			verr(vp, "Root: \"%s\" must be an absolute path without \"..\"", v);
			return;
		}
		free(t->root);
		t->root = ptr_steal(&v);
		t->root_line = vp->line;
		t->set |= T_ROOT;
	} else if (strcasecmp(kw, "StartDirectory") == 0) {
		if (v[0] != '/' || path_has_dotdot(v)) {
			verr(vp,
			     "StartDirectory: \"%s\" must be an absolute path inside the jail "
			     "without \"..\"",
			     v);
			return;
		}
		free(t->start_dir);
		t->start_dir = ptr_steal(&v);
		t->set |= T_START_DIR;
	} else if (strcasecmp(kw, "Enabled") == 0) {
		if (parse_yesno(vp, kw, v, &t->enabled) == 0)
			t->set |= T_ENABLED;
	} else if (strcasecmp(kw, "Disabled") == 0) {
		bool d;
		if (parse_yesno(vp, kw, v, &d) == 0) {
			t->enabled = !d;
			t->set |= T_ENABLED;
		}
	} else if (strcasecmp(kw, "AuthorizedKeysFile") == 0) {
		if (strcasecmp(v, "none") == 0) {
			for (size_t i = 0; i < t->n_key_files; i++)
				free(t->key_files[i]);
			t->n_key_files = 0;
			t->set |= T_KEYS_RESET;
			return;
		}
		if (v[0] != '/') {
			verr(vp, "AuthorizedKeysFile: \"%s\" must be an absolute path", v);
			return;
		}
		if (t->n_key_files >= KEY_FILES_MAX) {
			verr(vp, "AuthorizedKeysFile: too many files (max %d)", KEY_FILES_MAX);
			return;
		}
		t->key_files = xreallocarray(t->key_files, t->n_key_files + 1, sizeof(char *));
		t->key_files[t->n_key_files++] = ptr_steal(&v);
	} else {
		verr(vp, "unknown keyword \"%.64s\"", kw);
	}
}

/* Defaults, then the inherited groups in order, then the stanza's own lines. */
static void
effective_template(struct vparse *vp, const struct template *base, struct template *ret)
{
	template_init(ret);
	if (base)
		template_merge(ret, base);
	for (size_t i = 0; i < vp->n_inherit; i++)
		template_merge(ret, &vp->groups[vp->inherit[i]].t);
	template_merge(ret, &vp->cur);
}

static void
finish_group(struct vparse *vp)
{
	if (vp->n_groups >= VGROUPS_MAX) {
		unsigned saved = vp->line;
		vp->line = vp->group_line;
		verr(vp, "too many groups (max %d)", VGROUPS_MAX);
		vp->line = saved;
		free(vp->group_name);
		vp->group_name = NULL;
		return;
	}
	vp->groups = xreallocarray(vp->groups, vp->n_groups + 1, sizeof(*vp->groups));
	struct vgroup *g = &vp->groups[vp->n_groups++];
	g->name = ptr_steal(&vp->group_name);
	g->line = vp->group_line;
	effective_template(vp, NULL, &g->t);
}

static void
finish_stanza(struct vparse *vp)
{
	struct vaccount *va = &vp->acct;
	struct template eff = {0};
	struct berth_account *a = &va->a;
	unsigned saved = vp->line;

	if (vp->state == IN_GROUP) {
		finish_group(vp);
		goto out;
	}
	if (vp->state != IN_ACCOUNT)
		goto out;
	effective_template(vp, &vp->defaults, &eff);
	vp->line = va->line;
	if (!(eff.set & T_UID) || !(eff.set & T_GID)) {
		verr(vp, "Account %s: Uid and Gid are required (here, in a Group or in Defaults)",
		     a->name);
		goto out;
	}
	if (!eff.root) {
		verr(vp, "Account %s: Root is required (here, in a Group or in Defaults)", a->name);
		goto out;
	}
	a->kind = BERTH_ACCOUNT_VIRTUAL;
	a->uid = eff.uid;
	a->gid = eff.gid;
	a->n_groups = eff.n_groups;
	a->groups = xcalloc(eff.n_groups ? eff.n_groups : 1, sizeof(gid_t));
	memcpy(a->groups, eff.groups, eff.n_groups * sizeof(gid_t));
	a->root = berth_config_expand_tokens(eff.root, a->name, NULL);
	a->home = xstrdup(a->root);
	a->start_dir = xstrdup(eff.start_dir ? eff.start_dir : "/");
	a->read_only = policy_get(eff.pol, POLICY_READ_ONLY) != 0;
	a->enabled = eff.enabled;
	a->has_methods = (eff.set & T_METHODS) != 0;
	a->methods = eff.methods;
	a->authorized_keys_files = xcalloc(eff.n_key_files ? eff.n_key_files : 1, sizeof(char *));
	for (size_t i = 0; i < eff.n_key_files; i++)
		a->authorized_keys_files[i] =
		        berth_config_expand_tokens(eff.key_files[i], a->name, a->root);
	a->n_authorized_keys_files = eff.n_key_files;
	a->policy = ptr_steal(&eff.pol);
	a->source = xasprintf("%s:%u", vp->file, va->line);
	va->root_line = eff.root_line;
	if (vp->db->n >= ACCOUNTS_MAX_COUNT) {
		verr(vp, "too many accounts (max %d)", ACCOUNTS_MAX_COUNT);
		goto out;
	}
	vp->db->v = xreallocarray(vp->db->v, vp->db->n + 1, sizeof(*vp->db->v));
	vp->db->v[vp->db->n++] = *va;
	*va = (struct vaccount){0};
out:
	account_deinit(&va->a);
	*va = (struct vaccount){0};
	template_free(&eff);
	template_free(&vp->cur);
	free(vp->group_name);
	vp->group_name = NULL;
	vp->n_inherit = 0;
	vp->line = saved;
}

static bool
group_name_taken(struct vparse *vp, const char *name)
{
	for (size_t i = 0; i < vp->n_groups; i++) {
		if (strcmp(vp->groups[i].name, name) == 0) {
			verr(vp, "Group %s: duplicate (first defined at line %u)", name,
			     vp->groups[i].line);
			return true;
		}
	}
	return false;
}

static void
begin_stanza(struct vparse *vp, const char *kw, const char *rest)
{
	finish_stanza(vp);
	if (strcasecmp(kw, "Defaults") == 0) {
		if (*rest && *rest != '#')
			verr(vp, "Defaults takes no argument");
		if (vp->db->n > 0)
			verr(vp, "Defaults must come before the first Account");
		vp->state = IN_DEFAULTS;
		return;
	}
	bool group = strcasecmp(kw, "Group") == 0;
	_cleanup_free_ char *name = NULL;
	if (single_value(vp, group ? "Group" : "Account", rest, &name) < 0) {
		vp->state = IN_BAD_ACCOUNT;
		return;
	}
	if (!berth_account_name_valid(name)) {
		verr(vp, "%s: invalid name \"%.80s\"", group ? "Group" : "Account", name);
		vp->state = IN_BAD_ACCOUNT;
		return;
	}
	if (group) {
		if (group_name_taken(vp, name)) {
			vp->state = IN_BAD_ACCOUNT;
			return;
		}
		vp->state = IN_GROUP;
		template_init(&vp->cur);
		vp->group_name = ptr_steal(&name);
		vp->group_line = vp->line;
		return;
	}
	for (size_t i = 0; i < vp->db->n; i++) {
		if (strcmp(vp->db->v[i].a.name, name) == 0) {
			verr(vp, "Account %s: duplicate (first defined at %s)", name,
			     vp->db->v[i].a.source);
			vp->state = IN_BAD_ACCOUNT;
			return;
		}
	}
	vp->state = IN_ACCOUNT;
	template_init(&vp->cur);
	vp->acct.a.name = ptr_steal(&name);
	vp->acct.line = vp->line;
}

static void
parse_line(struct vparse *vp, char *line)
{
	char *kw = line, *rest;
	size_t l = strlen(line);

	while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
		line[--l] = '\0';
	while (*kw == ' ' || *kw == '\t')
		kw++;
	if (*kw == '\0' || *kw == '#')
		return;
	rest = kw + strcspn(kw, " \t");
	if (*rest) {
		*rest++ = '\0';
		while (*rest == ' ' || *rest == '\t')
			rest++;
	}
	if (strcasecmp(kw, "Account") == 0 || strcasecmp(kw, "Defaults") == 0 ||
	    strcasecmp(kw, "Group") == 0) {
		begin_stanza(vp, kw, rest);
		return;
	}
	switch (vp->state) {
	case IN_NONE:
		verr(vp, "\"%.64s\" outside an Account, Group or Defaults stanza", kw);
		return;
	case IN_BAD_ACCOUNT:
		return; /* already reported once at the stanza line */
	case IN_DEFAULTS:
	case IN_GROUP:
		if (strcasecmp(kw, "Password") == 0) {
			verr(vp, "Password is not allowed in %s",
			     vp->state == IN_GROUP ? "a Group" : "Defaults");
			return;
		}
		apply_setting(vp, vp->state == IN_GROUP ? &vp->cur : &vp->defaults, kw, rest);
		return;
	case IN_ACCOUNT:
		break;
	}
	struct berth_account *a = &vp->acct.a;
	if (strcasecmp(kw, "Password") == 0) {
		_cleanup_free_ char *v = NULL;
		if (single_value(vp, kw, rest, &v) < 0)
			return;
		if (strcasecmp(v, "none") == 0)
			return;
		if (!password_hash_supported(v)) {
			verr(vp, "Password: not a supported crypt(3) hash (use yescrypt $y$, "
			         "sha512-crypt $6$ or bcrypt $2b$, e.g. from mkpasswd)");
			explicit_bzero(v, strlen(v));
			return;
		}
		if (a->password_hash)
			freezero(a->password_hash, strlen(a->password_hash));
		a->password_hash = ptr_steal(&v);
	} else if (strcasecmp(kw, "AuthorizedKey") == 0) {
		struct authkeys_list tmp = AUTHKEYS_LIST_NULL;
		struct berth_errors kerr = BERTH_ERRORS_NULL;

		if (!*rest) {
			verr(vp, "AuthorizedKey: missing key");
			return;
		}
		/* Validate now so mistakes point at this line. */
		if (authkeys_parse(rest, strlen(rest), vp->file, &tmp, &kerr) != 0 || tmp.n != 1) {
			const char *m = kerr.n ? kerr.msgs[0] : "no key";
			const char *colon = kerr.n ? strstr(m, ": ") : NULL;
			verr(vp, "AuthorizedKey: %s", colon ? colon + 2 : m);
		} else if (a->n_inline_keys >= 256) {
			verr(vp, "AuthorizedKey: too many inline keys (max 256)");
		} else {
			a->inline_keys =
			        xreallocarray(a->inline_keys, a->n_inline_keys + 1, sizeof(char *));
			a->inline_keys[a->n_inline_keys++] = xstrdup(rest);
		}
		authkeys_list_free(&tmp);
		berth_errors_free(&kerr);
	} else {
		apply_setting(vp, &vp->cur, kw, rest);
	}
}

struct berth_accounts *
berth_accounts_new_empty(void)
{
	struct berth_accounts *db = xcalloc(1, sizeof(*db));

	db->file = xstrdup("(none)");
	return db;
}

int
berth_accounts_load_string(const char *text, size_t len, const char *name,
                           struct berth_accounts **ret, struct berth_errors *errors)
{
	struct berth_accounts *db = berth_accounts_new_empty();
	struct vparse vp = {.file = name, .errors = errors, .db = db};
	size_t pos = 0;

	free(db->file);
	db->file = xstrdup(name);
	template_init(&vp.defaults);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;

		vp.line++;
		if (llen > ACCOUNTS_MAX_LINE)
			verr(&vp, "line too long (%zu bytes, max %d)", llen, ACCOUNTS_MAX_LINE);
		else if (memchr(text + pos, '\0', llen))
			verr(&vp, "NUL byte in line");
		else {
			char *line = xstrndup(text + pos, llen);
			parse_line(&vp, line);
			freezero(line, llen);
		}
		pos += llen + (nl ? 1 : 0);
	}
	finish_stanza(&vp);
	/* System accounts (SystemAccounts yes) get the policy keywords of Defaults. */
	db->defaults_policy = ptr_steal(&vp.defaults.pol);
	template_free(&vp.defaults);
	for (size_t i = 0; i < vp.n_groups; i++) {
		free(vp.groups[i].name);
		template_free(&vp.groups[i].t);
	}
	free(vp.groups);
	if (vp.failed) {
		berth_accounts_free(db);
		return BERTH_ACCOUNT_E_INVALID;
	}
	const char *tmpl = NULL;
	for (size_t i = 0; i < db->n && !tmpl; i++)
		tmpl = db->v[i].a.password_hash;
	db->dummy_hash = password_make_dummy(tmpl);
	*ret = db;
	return 0;
}

int
berth_accounts_load(const char *path, struct berth_accounts **ret, struct berth_errors *errors)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = read_small_file(path, ACCOUNTS_MAX_FILE, false, &data, &len);
	if (r < 0)
		goto fail;
	r = berth_accounts_load_string(data, len, path, ret, errors);
	explicit_bzero(data, len);
	return r;
fail:
	berth_errors_add(errors, path, 0, "cannot read accounts file: %s", strerror(-r));
	return r;
}

char *
berth_accounts_last_good_path(const char *state_dir)
{
	return xasprintf("%s/accounts.last-good", state_dir);
}

int
berth_accounts_save_last_good(const char *state_dir, const char *text, size_t len)
{
	_cleanup_free_ char *path = berth_accounts_last_good_path(state_dir);
	if (mkdir(state_dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return write_file_atomic(path, text, len, 0600);
}

int
berth_accounts_load_keep(const char *path, const char *state_dir, struct berth_accounts **ret,
                         struct berth_errors *errors, int *ret_kept)
{
	_cleanup_free_ char *data = NULL, *good = NULL;
	size_t len = 0, good_len = 0;
	*ret_kept = 0;
	int r = read_small_file(path, ACCOUNTS_MAX_FILE, false, &data, &len);
	if (r < 0) {
		berth_errors_add(errors, path, 0, "cannot read accounts file: %s", strerror(-r));
		return r;
	}
	/* The bytes kept are the bytes validated (the file may change meanwhile). */
	r = berth_accounts_load_string(data, len, path, ret, errors);
	if (r == 0 && state_dir) {
		_cleanup_free_ char *good_path = berth_accounts_last_good_path(state_dir);
		int g = read_small_file(good_path, ACCOUNTS_MAX_FILE, true, &good, &good_len);
		if (g < 0 || good_len != len || memcmp(good, data, len) != 0)
			*ret_kept = berth_accounts_save_last_good(state_dir, data, len);
		if (good)
			explicit_bzero(good, good_len);
	}
	explicit_bzero(data, len);
	return r;
}

int
berth_accounts_keep_last_good(const char *path, const char *state_dir)
{
	struct berth_accounts *db = NULL;
	int kept;
	int r = berth_accounts_load_keep(path, state_dir, &db, NULL, &kept);
	berth_accounts_free(db);
	return r != 0 ? r : kept;
}

struct berth_accounts *
berth_accounts_free(struct berth_accounts *db)
{
	if (!db)
		return NULL;
	for (size_t i = 0; i < db->n; i++)
		account_deinit(&db->v[i].a);
	free(db->v);
	free(db->file);
	free(db->dummy_hash);
	policy_free(db->defaults_policy);
	free(db);
	return NULL;
}

const struct policy *
berth_accounts_defaults_policy(const struct berth_accounts *db)
{
	static const struct policy none;
	return db && db->defaults_policy ? db->defaults_policy : &none;
}

size_t
berth_accounts_count(const struct berth_accounts *db)
{
	return db ? db->n : 0;
}

int
berth_accounts_check(const struct berth_accounts *db, struct berth_errors *errors)
{
	bool bad = false;

	for (size_t i = 0; db && i < db->n; i++) {
		const struct vaccount *va = &db->v[i];
		const struct berth_account *a = &va->a;
		struct stat st;

		if (stat(a->root, &st) < 0) {
			berth_errors_add(errors, db->file, va->root_line ? va->root_line : va->line,
			                 "Account %s: Root %s: %s", a->name, a->root,
			                 strerror(errno));
			bad = true;
		} else if (!S_ISDIR(st.st_mode)) {
			berth_errors_add(errors, db->file, va->root_line ? va->root_line : va->line,
			                 "Account %s: Root %s is not a directory", a->name,
			                 a->root);
			bad = true;
		}
		for (size_t k = 0; k < a->n_authorized_keys_files; k++) {
			struct authkeys_list l = AUTHKEYS_LIST_NULL;
			int r = authkeys_load_file(a->authorized_keys_files[k], &l, errors);

			if (r < 0) {
				berth_errors_add(errors, db->file, va->line,
				                 "Account %s: AuthorizedKeysFile %s: %s", a->name,
				                 a->authorized_keys_files[k], strerror(-r));
				bad = true;
			} else if (r > 0) {
				bad = true;
			}
			authkeys_list_free(&l);
		}
		if (a->password_hash == NULL && a->n_inline_keys == 0 &&
		    a->n_authorized_keys_files == 0 && a->enabled) {
			berth_errors_add(errors, db->file, va->line,
			                 "Account %s: no Password and no keys: nobody can log in",
			                 a->name);
			bad = true;
		}
	}
	return bad ? BERTH_ACCOUNT_E_INVALID : 0;
}
