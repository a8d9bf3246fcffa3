/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-account policy: construction, merging and the pure decision functions. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "berth/account.h"
#include "berth/common.h"
#include "berth/policy.h"
#include "berth/xmem.h"
#include "policy-internal.h"

static const char *const op_names[POLICY_OP_COUNT] = {
        "list",   "download", "upload", "overwrite", "delete",
        "rename", "mkdir",    "rmdir",  "symlink",   "setstat",
};

const char *
policy_op_name(enum policy_op op)
{
	return (unsigned)op < POLICY_OP_COUNT ? op_names[op] : NULL;
}

int
policy_op_from_name(const char *name, enum policy_op *ret)
{
	for (unsigned i = 0; i < POLICY_OP_COUNT; i++) {
		if (strcmp(op_names[i], name) == 0) {
			*ret = (enum policy_op)i;
			return 0;
		}
	}
	return -EINVAL;
}

struct policy *
policy_new(void)
{
	return xcalloc(1, sizeof(struct policy));
}

static void
origin_free(struct policy_origin *o)
{
	free(o->file);
	o->file = NULL;
}

void
policy_origin_copy(struct policy_origin *dst, const struct policy_origin *src)
{
	dst->file = src->file ? xstrdup(src->file) : NULL;
	dst->line = src->line;
}

void
policy_value_clear(struct policy_value *v)
{
	free(v->str);
	free(v->text);
	origin_free(&v->origin);
	*v = (struct policy_value){0};
}

void
policy_value_copy(struct policy_value *dst, const struct policy_value *src)
{
	*dst = *src;
	dst->str = src->str ? xstrdup(src->str) : NULL;
	dst->text = src->text ? xstrdup(src->text) : NULL;
	policy_origin_copy(&dst->origin, &src->origin);
}

void
policy_dir_rule_clear(struct policy_dir_rule *r)
{
	free(r->path);
	free(r->text);
	origin_free(&r->origin);
	*r = (struct policy_dir_rule){0};
}

void
policy_filter_rule_clear(struct policy_filter_rule *r)
{
	free(r->path);
	for (size_t i = 0; i < r->n_allow; i++)
		free(r->allow[i]);
	free(r->allow);
	for (size_t i = 0; i < r->n_deny; i++)
		free(r->deny[i]);
	free(r->deny);
	free(r->text);
	origin_free(&r->origin);
	*r = (struct policy_filter_rule){0};
}

static char **
strv_copy(char *const *v, size_t n)
{
	char **out = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void
dir_rule_copy(struct policy_dir_rule *dst, const struct policy_dir_rule *src)
{
	dst->path = xstrdup(src->path);
	dst->perms = src->perms;
	dst->text = xstrdup(src->text);
	policy_origin_copy(&dst->origin, &src->origin);
}

static void
filter_rule_copy(struct policy_filter_rule *dst, const struct policy_filter_rule *src)
{
	dst->path = xstrdup(src->path);
	dst->allow = strv_copy(src->allow, src->n_allow);
	dst->n_allow = src->n_allow;
	dst->deny = strv_copy(src->deny, src->n_deny);
	dst->n_deny = src->n_deny;
	dst->text = xstrdup(src->text);
	policy_origin_copy(&dst->origin, &src->origin);
}

struct policy *
policy_free(struct policy *p)
{
	if (!p)
		return NULL;
	for (unsigned k = 0; k < POLICY_KEY_COUNT; k++)
		policy_value_clear(&p->values[k]);
	for (size_t i = 0; i < p->n_dirs; i++)
		policy_dir_rule_clear(&p->dirs[i]);
	free(p->dirs);
	for (size_t i = 0; i < p->n_filters; i++)
		policy_filter_rule_clear(&p->filters[i]);
	free(p->filters);
	free(p);
	return NULL;
}

struct policy *
policy_dup(const struct policy *p)
{
	struct policy *c = policy_new();
	policy_merge(c, p);
	return c;
}

/* Longest path first, so the first match is the most specific rule. */
static bool
path_longer(const char *a, const char *b)
{
	return strlen(a) > strlen(b);
}

/* Insert or replace the rule for @r->path, keeping longest-first order. Takes @r. */
void
policy_put_dir_rule(struct policy *p, struct policy_dir_rule *r)
{
	for (size_t i = 0; i < p->n_dirs; i++) {
		if (strcmp(p->dirs[i].path, r->path) == 0) {
			policy_dir_rule_clear(&p->dirs[i]);
			p->dirs[i] = *r;
			*r = (struct policy_dir_rule){0};
			return;
		}
	}
	p->dirs = xreallocarray(p->dirs, p->n_dirs + 1, sizeof(*p->dirs));
	size_t at = p->n_dirs;
	while (at > 0 && path_longer(r->path, p->dirs[at - 1].path)) {
		p->dirs[at] = p->dirs[at - 1];
		at--;
	}
	p->dirs[at] = *r;
	p->n_dirs++;
	*r = (struct policy_dir_rule){0};
}

void
policy_put_filter_rule(struct policy *p, struct policy_filter_rule *r)
{
	for (size_t i = 0; i < p->n_filters; i++) {
		if (strcmp(p->filters[i].path, r->path) == 0) {
			policy_filter_rule_clear(&p->filters[i]);
			p->filters[i] = *r;
			*r = (struct policy_filter_rule){0};
			return;
		}
	}
	p->filters = xreallocarray(p->filters, p->n_filters + 1, sizeof(*p->filters));
	size_t at = p->n_filters;
	while (at > 0 && path_longer(r->path, p->filters[at - 1].path)) {
		p->filters[at] = p->filters[at - 1];
		at--;
	}
	p->filters[at] = *r;
	p->n_filters++;
	*r = (struct policy_filter_rule){0};
}

void
policy_merge(struct policy *dst, const struct policy *src)
{
	for (unsigned k = 0; k < POLICY_KEY_COUNT; k++) {
		if (!src->values[k].set)
			continue;
		policy_value_clear(&dst->values[k]);
		policy_value_copy(&dst->values[k], &src->values[k]);
	}
	for (size_t i = 0; i < src->n_dirs; i++) {
		struct policy_dir_rule r;
		dir_rule_copy(&r, &src->dirs[i]);
		policy_put_dir_rule(dst, &r);
	}
	for (size_t i = 0; i < src->n_filters; i++) {
		struct policy_filter_rule r;
		filter_rule_copy(&r, &src->filters[i]);
		policy_put_filter_rule(dst, &r);
	}
}

void
policy_set_read_only(struct policy *p, const char *text, const char *file, unsigned line)
{
	struct policy_value *v = &p->values[POLICY_READ_ONLY];
	if (v->set && v->v)
		return;
	policy_value_clear(v);
	v->set = true;
	v->v = 1;
	v->text = xstrdup(text);
	v->origin.file = file ? xstrdup(file) : NULL;
	v->origin.line = line;
}

uint64_t
policy_get(const struct policy *p, enum policy_key key)
{
	const struct policy_value *v = &p->values[key];
	if (!v->set) {
		if (key == POLICY_PROTOCOLS)
			return POLICY_PROTO_ALL;
		if (key == POLICY_UPLOAD_HASH)
			return 1;
		return 0;
	}
	return v->v;
}

bool
policy_has_path_rules(const struct policy *p)
{
	return p->n_dirs > 0 || p->n_filters > 0;
}

bool
policy_reserved_name(const char *name)
{
	return name[0] == '.' &&
	       strncmp(name + 1, POLICY_RESERVED_PREFIX, sizeof(POLICY_RESERVED_PREFIX) - 1) == 0;
}

/* ---- paths ---- */

int
policy_path_lexical(const char *cwd, const char *path, unsigned flags, char **ret)
{
	size_t n = strlen(path);
	if (n == 0 || n >= PATH_MAX)
		return -EINVAL;
	const char *base = path[0] == '/' || strcmp(cwd, "/") == 0 ? "" : cwd;
	char *out = xmalloc(strlen(base) + n + 2), *o = stpcpy(out, base);
	for (const char *c = path; *c;) {
		while (*c == '/')
			c++;
		size_t len = strcspn(c, "/");
		if (len == 0)
			break;
		bool dot = len == 1 && c[0] == '.', dotdot = len == 2 && c[0] == '.' && c[1] == '.';
		if ((dot || dotdot) && !(flags & POLICY_PATH_DOTS)) {
			free(out);
			return 1;
		}
		if (dotdot) {
			/* Up one component; at the root, stay there. */
			while (o > out && *--o != '/')
				;
		} else if (!dot) {
			*o++ = '/';
			memcpy(o, c, len);
			o += len;
		}
		c += len;
	}
	if (o == out)
		*o++ = '/';
	*o = '\0';
	*ret = out;
	return 0;
}

/* ---- decisions ---- */

/* Does the rule path @rule cover directory @dir (length @dlen)? "/" covers everything. */
static bool
covers(const char *rule, const char *dir, size_t dlen)
{
	size_t rlen = strlen(rule);
	if (rlen == 1 && rule[0] == '/')
		return true;
	return rlen <= dlen && memcmp(rule, dir, rlen) == 0 && (rlen == dlen || dir[rlen] == '/');
}

/* Is @path (length @plen) equal to or below @rule? (For protected directories.) */
static bool
at_or_below(const char *path, size_t plen, const char *rule)
{
	return covers(path, rule, strlen(rule));
}

/* Length of the parent directory of @path ("/a/b" -> 2 for "/a", "/a" -> 1 for "/").
 * A relative path (fast path without rules) has parent "" (length 0). */
static size_t
parent_len(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return 0;
	return slash == path ? 1 : (size_t)(slash - path);
}

static const char *
leaf_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static const struct policy_dir_rule *
dir_rule_for(const struct policy *p, const char *dir, size_t dlen)
{
	for (size_t i = 0; i < p->n_dirs; i++)
		if (covers(p->dirs[i].path, dir, dlen))
			return &p->dirs[i];
	return NULL;
}

static const struct policy_filter_rule *
filter_rule_for(const struct policy *p, const char *dir, size_t dlen)
{
	for (size_t i = 0; i < p->n_filters; i++)
		if (covers(p->filters[i].path, dir, dlen))
			return &p->filters[i];
	return NULL;
}

static uint32_t
perms_for(const struct policy *p, const char *dir, size_t dlen)
{
	const struct policy_dir_rule *r = dir_rule_for(p, dir, dlen);
	return r ? r->perms : POLICY_PERM_ALL;
}

static void
step(struct policy_verdict *v, enum policy_rule_kind kind, bool allows, enum policy_op op,
     const char *path, const char *text, const struct policy_origin *origin)
{
	if (v->n == POLICY_VERDICT_STEPS)
		memmove(&v->steps[0], &v->steps[1],
		        sizeof(v->steps[0]) * (POLICY_VERDICT_STEPS - 1));
	else
		v->n++;
	v->steps[v->n - 1] = (struct policy_step){kind, allows, op, path, text, origin};
}

static int
deny(struct policy_verdict *v)
{
	v->allowed = false;
	return -EACCES;
}

static void
verdict_init(struct policy_verdict *v)
{
	*v = (struct policy_verdict){.allowed = true};
}

static bool
value_step(const struct policy *p, struct policy_verdict *v, enum policy_key key, bool allows,
           enum policy_op op)
{
	const struct policy_value *val = &p->values[key];
	step(v, POLICY_RULE_VALUE, allows, op, NULL, val->text, &val->origin);
	return allows;
}

/* Permission of @op in directory (@dir, @dlen); records the rule. */
static bool
check_perm(const struct policy *p, struct policy_verdict *v, enum policy_op op, const char *dir,
           size_t dlen)
{
	const struct policy_dir_rule *r = dir_rule_for(p, dir, dlen);
	if (!r) {
		step(v, POLICY_RULE_DEFAULT, true, op, NULL, "no Permissions rule", NULL);
		return true;
	}
	bool ok = (r->perms & POLICY_PERM(op)) != 0;
	step(v, POLICY_RULE_PERMISSIONS, ok, op, r->path, r->text, &r->origin);
	return ok;
}

/* Name filter for the final component of @path; true when no filter applies. */
static bool
check_filter(const struct policy *p, struct policy_verdict *v, enum policy_op op, const char *path)
{
	size_t plen = parent_len(path);
	const struct policy_filter_rule *f = filter_rule_for(p, path, plen);
	if (!f)
		return true;
	const char *name = leaf_of(path);
	for (size_t i = 0; i < f->n_deny; i++) {
		if (berth_match_pattern(name, f->deny[i])) {
			step(v, POLICY_RULE_FILTER, false, op, f->path, f->text, &f->origin);
			return false;
		}
	}
	bool ok = f->n_allow == 0;
	for (size_t i = 0; i < f->n_allow && !ok; i++)
		ok = berth_match_pattern(name, f->allow[i]);
	step(v, POLICY_RULE_FILTER, ok, op, f->path, f->text, &f->origin);
	return ok;
}

static bool
check_reserved(struct policy_verdict *v, enum policy_op op, const char *path)
{
	if (!policy_reserved_name(leaf_of(path)))
		return true;
	step(v, POLICY_RULE_RESERVED, false, op, path,
	     "names starting with \".berth-\" are reserved", NULL);
	return false;
}

static bool
check_read_only(const struct policy *p, struct policy_verdict *v, enum policy_op op)
{
	if (!(POLICY_PERM(op) & POLICY_PERM_WRITES) || !policy_get(p, POLICY_READ_ONLY))
		return true;
	return value_step(p, v, POLICY_READ_ONLY, false, op);
}

static bool
filtered_op(enum policy_op op)
{
	return op == POLICY_OP_DOWNLOAD || op == POLICY_OP_UPLOAD || op == POLICY_OP_OVERWRITE ||
	       op == POLICY_OP_RENAME || op == POLICY_OP_SYMLINK;
}

int
policy_decide(const struct policy *p, enum policy_op op, const char *path, unsigned flags,
              struct policy_verdict *ret)
{
	verdict_init(ret);
	if ((unsigned)op >= POLICY_OP_COUNT) {
		step(ret, POLICY_RULE_DEFAULT, false, op, path, "unknown operation", NULL);
		return deny(ret);
	}
	if (op != POLICY_OP_LIST && !check_reserved(ret, op, path))
		return deny(ret);
	if (!check_read_only(p, ret, op))
		return deny(ret);
	if (op == POLICY_OP_SETSTAT) {
		uint64_t mode = policy_get(p, POLICY_SETSTAT_MODE);
		if (mode == POLICY_SETSTAT_REFUSE) {
			value_step(p, ret, POLICY_SETSTAT_MODE, false, op);
			return deny(ret);
		}
		if (mode == POLICY_SETSTAT_IGNORE) {
			value_step(p, ret, POLICY_SETSTAT_MODE, true, op);
			ret->ignore = true;
			return POLICY_IGNORE;
		}
	}
	size_t dlen = op == POLICY_OP_LIST ? strlen(path) : parent_len(path);
	if (!check_perm(p, ret, op, path, dlen))
		return deny(ret);
	if (filtered_op(op) && !(flags & POLICY_F_DIR) && !check_filter(p, ret, op, path))
		return deny(ret);
	return 0;
}

/* Rules defined at or below @path (a directory about to be moved or replaced). */
static bool
check_protected(const struct policy *p, struct policy_verdict *v, const char *path)
{
	size_t plen = strlen(path);
	for (size_t i = 0; i < p->n_dirs; i++) {
		if (at_or_below(path, plen, p->dirs[i].path)) {
			step(v, POLICY_RULE_PROTECTED, false, POLICY_OP_RENAME, path,
			     p->dirs[i].text, &p->dirs[i].origin);
			return false;
		}
	}
	for (size_t i = 0; i < p->n_filters; i++) {
		if (at_or_below(path, plen, p->filters[i].path)) {
			step(v, POLICY_RULE_PROTECTED, false, POLICY_OP_RENAME, path,
			     p->filters[i].text, &p->filters[i].origin);
			return false;
		}
	}
	return true;
}

int
policy_decide_rename(const struct policy *p, const char *src, const char *dst, unsigned flags,
                     struct policy_verdict *ret)
{
	verdict_init(ret);
	if (!check_reserved(ret, POLICY_OP_RENAME, src) ||
	    !check_reserved(ret, POLICY_OP_UPLOAD, dst) ||
	    !check_read_only(p, ret, POLICY_OP_RENAME))
		return deny(ret);
	size_t slen = parent_len(src), dlen = parent_len(dst);
	if (!check_perm(p, ret, POLICY_OP_RENAME, src, slen) ||
	    !check_perm(p, ret, POLICY_OP_UPLOAD, dst, dlen))
		return deny(ret);
	if ((flags & POLICY_F_EXISTS) && !check_perm(p, ret, POLICY_OP_OVERWRITE, dst, dlen))
		return deny(ret);
	bool dir = flags & POLICY_F_DIR;
	if (!dir && !check_filter(p, ret, POLICY_OP_RENAME, dst))
		return deny(ret);
	if (dir && (!check_protected(p, ret, src) || !check_protected(p, ret, dst)))
		return deny(ret);
	/* The content moves: it must not become downloadable where it was not. A
	 * directory's content is governed by the rule of the directory itself. */
	uint32_t before = dir ? perms_for(p, src, strlen(src)) : perms_for(p, src, slen);
	uint32_t after = dir ? perms_for(p, dst, strlen(dst)) : perms_for(p, dst, dlen);
	if ((after & POLICY_PERM(POLICY_OP_DOWNLOAD)) &&
	    !(before & POLICY_PERM(POLICY_OP_DOWNLOAD))) {
		step(ret, POLICY_RULE_LINK, false, POLICY_OP_DOWNLOAD, src,
		     "the target directory would make content downloadable that its source "
		     "directory does not",
		     NULL);
		return deny(ret);
	}
	return 0;
}

int
policy_decide_link(const struct policy *p, const char *src, const char *dst,
                   struct policy_verdict *ret)
{
	verdict_init(ret);
	if (!check_reserved(ret, POLICY_OP_DOWNLOAD, src) ||
	    !check_reserved(ret, POLICY_OP_UPLOAD, dst) ||
	    !check_read_only(p, ret, POLICY_OP_UPLOAD))
		return deny(ret);
	size_t slen = parent_len(src), dlen = parent_len(dst);
	if (!check_perm(p, ret, POLICY_OP_DOWNLOAD, src, slen) ||
	    !check_perm(p, ret, POLICY_OP_UPLOAD, dst, dlen) ||
	    !check_filter(p, ret, POLICY_OP_UPLOAD, dst))
		return deny(ret);
	/* Both names reach the same file: the new name may not grant more over its
	 * content than the old one does. */
	static const enum policy_op content[] = {POLICY_OP_DOWNLOAD, POLICY_OP_OVERWRITE,
	                                         POLICY_OP_SETSTAT};
	uint32_t before = perms_for(p, src, slen), after = perms_for(p, dst, dlen);
	for (size_t i = 0; i < ARRAY_SIZE(content); i++) {
		uint32_t bit = POLICY_PERM(content[i]);
		if ((after & bit) && !(before & bit)) {
			step(ret, POLICY_RULE_LINK, false, content[i], src,
			     "a hard link may not grant more over a file than its source "
			     "directory does",
			     NULL);
			return deny(ret);
		}
	}
	return 0;
}

int
policy_check_login(const struct policy *p, const char *addr, time_t now, uint32_t protocols,
                   struct policy_verdict *ret)
{
	verdict_init(ret);
	const struct policy_value *exp = &p->values[POLICY_EXPIRES];
	if (exp->set && exp->v != 0) {
		bool ok = (int64_t)now < (int64_t)exp->v;
		value_step(p, ret, POLICY_EXPIRES, ok, POLICY_OP_LIST);
		if (!ok)
			return deny(ret);
	}
	const struct policy_value *df = &p->values[POLICY_DENY_FROM];
	if (df->set && df->str) {
		bool ok = !addr || berth_match_addr_list(addr, df->str) != 1;
		value_step(p, ret, POLICY_DENY_FROM, ok, POLICY_OP_LIST);
		if (!ok)
			return deny(ret);
	}
	const struct policy_value *af = &p->values[POLICY_ALLOW_FROM];
	if (af->set && af->str) {
		bool ok = addr && berth_match_addr_list(addr, af->str) == 1;
		value_step(p, ret, POLICY_ALLOW_FROM, ok, POLICY_OP_LIST);
		if (!ok)
			return deny(ret);
	}
	if (p->values[POLICY_PROTOCOLS].set) {
		bool ok = (policy_get(p, POLICY_PROTOCOLS) & protocols) != 0;
		value_step(p, ret, POLICY_PROTOCOLS, ok, POLICY_OP_LIST);
		if (!ok)
			return deny(ret);
	}
	if (ret->n == 0)
		step(ret, POLICY_RULE_DEFAULT, true, POLICY_OP_LIST, NULL, "no login restriction",
		     NULL);
	return 0;
}

char *
policy_verdict_describe(const struct policy_verdict *v)
{
	if (v->n == 0)
		return xstrdup(v->allowed ? "allowed" : "denied");
	const struct policy_step *s = &v->steps[v->n - 1];
	const char *word = v->ignore ? "ignored" : v->allowed ? "allowed" : "denied";
	const char *op = policy_op_name(s->op);
	if (s->kind == POLICY_RULE_DEFAULT)
		return xasprintf("%s %s (%s)", word, op ? op : "?", s->text ? s->text : "no rule");
	char where[POLICY_MAX_TEXT + 32] = "";
	if (s->origin && s->origin->file && s->origin->line)
		snprintf(where, sizeof(where), " at %s:%u", s->origin->file, s->origin->line);
	else if (s->origin && s->origin->file)
		snprintf(where, sizeof(where), " at %s", s->origin->file);
	const char *text = s->text ? s->text : "?";
	switch (s->kind) {
	case POLICY_RULE_RESERVED:
	case POLICY_RULE_LINK:
		return xasprintf("%s %s of %s: %s", word, op ? op : "?", s->path ? s->path : "?",
		                 text);
	case POLICY_RULE_PROTECTED:
		return xasprintf("%s: %s carries its own rule (%s%s) and cannot be moved or "
		                 "replaced",
		                 word, s->path ? s->path : "?", text, where);
	default:
		return xasprintf("%s %s by %s%s", word, op ? op : "?", text, where);
	}
}
