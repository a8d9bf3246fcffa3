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
#include "berth/file.h"
#include "berth/authkeys.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/xmem.h"
#include "account-internal.h"

#define ACCOUNTS_MAX_FILE  (16u << 20)
#define ACCOUNTS_MAX_LINE  16384
#define ACCOUNTS_MAX_COUNT 100000
#define GROUPS_MAX         64

struct template
{
	bool have_uid, have_gid;
	uid_t uid;
	gid_t gid;
	gid_t groups[GROUPS_MAX];
	size_t n_groups;
	char *root; /* may contain %u */
	unsigned root_line;
	char *start_dir;
	bool read_only;
	bool enabled;
	bool has_methods;
	struct berth_auth_policy methods;
	char **key_files; /* may contain %u */
	size_t n_key_files;
};

struct vparse {
	const char *file;
	unsigned line;
	struct berth_errors *errors;
	bool failed;
	struct berth_accounts *db;
	struct template defaults;
	/* the stanza being built */
	enum { IN_NONE, IN_DEFAULTS, IN_ACCOUNT, IN_BAD_ACCOUNT } state;
	struct template cur;
	struct vaccount acct;
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
template_free(struct template *t)
{
	free(t->root);
	free(t->start_dir);
	for (size_t i = 0; i < t->n_key_files; i++)
		free(t->key_files[i]);
	free(t->key_files);
	*t = (struct template){0};
}

static void
template_copy(struct template *dst, const struct template *src)
{
	*dst = *src;
	dst->root = src->root ? xstrdup(src->root) : NULL;
	dst->start_dir = src->start_dir ? xstrdup(src->start_dir) : NULL;
	dst->key_files = src->n_key_files ? xcalloc(src->n_key_files, sizeof(char *)) : NULL;
	for (size_t i = 0; i < src->n_key_files; i++)
		dst->key_files[i] = xstrdup(src->key_files[i]);
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

/* Apply one setting to template @t (Defaults or the current account). */
static void
apply_setting(struct vparse *vp, struct template *t, const char *kw, const char *rest)
{
	_cleanup_free_ char *v = NULL;

	if (strcasecmp(kw, "AuthorizedKey") == 0) {
		/* Handled by the caller (account only). */
		verr(vp, "AuthorizedKey is only valid inside an Account stanza");
		return;
	}
	if (strcasecmp(kw, "AuthenticationMethods") == 0) {
		const char *err = "invalid value";
		_cleanup_free_ char *val = xstrdup(rest);
		char *hash = strchr(val, '#');
		if (hash)
			*hash = '\0';
		size_t l = strlen(val);
		while (l && (val[l - 1] == ' ' || val[l - 1] == '\t'))
			val[--l] = '\0';
		if (berth_auth_policy_parse(val, &t->methods, &err) < 0) {
			verr(vp, "AuthenticationMethods: %s", err);
			return;
		}
		t->has_methods = true;
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
			t->have_uid = true;
		} else {
			t->gid = id;
			t->have_gid = true;
		}
	} else if (strcasecmp(kw, "Groups") == 0) {
		t->n_groups = 0;
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
	} else if (strcasecmp(kw, "ReadOnly") == 0) {
		(void)parse_yesno(vp, kw, v, &t->read_only);
	} else if (strcasecmp(kw, "Enabled") == 0) {
		(void)parse_yesno(vp, kw, v, &t->enabled);
	} else if (strcasecmp(kw, "Disabled") == 0) {
		bool d;
		if (parse_yesno(vp, kw, v, &d) == 0)
			t->enabled = !d;
	} else if (strcasecmp(kw, "AuthorizedKeysFile") == 0) {
		if (strcasecmp(v, "none") == 0) {
			for (size_t i = 0; i < t->n_key_files; i++)
				free(t->key_files[i]);
			t->n_key_files = 0;
			return;
		}
		if (v[0] != '/') {
			verr(vp, "AuthorizedKeysFile: \"%s\" must be an absolute path", v);
			return;
		}
		if (t->n_key_files >= 16) {
			verr(vp, "AuthorizedKeysFile: too many files (max 16)");
			return;
		}
		t->key_files = xreallocarray(t->key_files, t->n_key_files + 1, sizeof(char *));
		t->key_files[t->n_key_files++] = ptr_steal(&v);
	} else {
		verr(vp, "unknown keyword \"%.64s\"", kw);
	}
}

static void
finish_account(struct vparse *vp)
{
	struct vaccount *va = &vp->acct;
	struct template *t = &vp->cur;
	struct berth_account *a = &va->a;
	unsigned saved = vp->line;

	if (vp->state != IN_ACCOUNT)
		goto out;
	vp->line = va->line;
	if (!t->have_uid || !t->have_gid) {
		verr(vp, "Account %s: Uid and Gid are required (here or in Defaults)", a->name);
		goto out;
	}
	if (!t->root) {
		verr(vp, "Account %s: Root is required (here or in Defaults)", a->name);
		goto out;
	}
	a->kind = BERTH_ACCOUNT_VIRTUAL;
	a->uid = t->uid;
	a->gid = t->gid;
	a->n_groups = t->n_groups;
	a->groups = xcalloc(t->n_groups ? t->n_groups : 1, sizeof(gid_t));
	memcpy(a->groups, t->groups, t->n_groups * sizeof(gid_t));
	a->root = berth_config_expand_tokens(t->root, a->name, NULL);
	a->home = xstrdup(a->root);
	a->start_dir = xstrdup(t->start_dir ? t->start_dir : "/");
	a->read_only = t->read_only;
	a->enabled = t->enabled;
	a->has_methods = t->has_methods;
	a->methods = t->methods;
	a->authorized_keys_files = xcalloc(t->n_key_files ? t->n_key_files : 1, sizeof(char *));
	for (size_t i = 0; i < t->n_key_files; i++)
		a->authorized_keys_files[i] =
		        berth_config_expand_tokens(t->key_files[i], a->name, a->root);
	a->n_authorized_keys_files = t->n_key_files;
	a->source = xasprintf("%s:%u", vp->file, va->line);
	va->root_line = t->root_line;
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
	template_free(t);
	vp->line = saved;
}

static void
begin_stanza(struct vparse *vp, const char *kw, const char *rest)
{
	finish_account(vp);
	if (strcasecmp(kw, "Defaults") == 0) {
		if (*rest && *rest != '#')
			verr(vp, "Defaults takes no argument");
		if (vp->db->n > 0)
			verr(vp, "Defaults must come before the first Account");
		vp->state = IN_DEFAULTS;
		return;
	}
	_cleanup_free_ char *name = NULL;
	if (single_value(vp, "Account", rest, &name) < 0) {
		vp->state = IN_BAD_ACCOUNT;
		return;
	}
	if (!berth_account_name_valid(name)) {
		verr(vp, "Account: invalid name \"%.80s\"", name);
		vp->state = IN_BAD_ACCOUNT;
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
	template_copy(&vp->cur, &vp->defaults);
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
	if (strcasecmp(kw, "Account") == 0 || strcasecmp(kw, "Defaults") == 0) {
		begin_stanza(vp, kw, rest);
		return;
	}
	switch (vp->state) {
	case IN_NONE:
		verr(vp, "\"%.64s\" outside an Account or Defaults stanza", kw);
		return;
	case IN_BAD_ACCOUNT:
		return; /* already reported once at the Account line */
	case IN_DEFAULTS:
		if (strcasecmp(kw, "Password") == 0) {
			verr(vp, "Password is not allowed in Defaults");
			return;
		}
		apply_setting(vp, &vp->defaults, kw, rest);
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
	vp.defaults.enabled = true;
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
	finish_account(&vp);
	template_free(&vp.defaults);
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
	free(db);
	return NULL;
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
