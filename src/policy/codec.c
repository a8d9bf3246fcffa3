/* SPDX-License-Identifier: BSD-2-Clause */
/* Versioned binary form of a policy, handed from the monitor to the worker.
 *
 *   u32 magic "BPOL", u32 version
 *   POLICY_KEY_COUNT x { u8 set, u64 v, string str, string text, origin }
 *   u32 n_dirs    x { string path, u32 perms, string text, origin }
 *   u32 n_filters x { string path, u32 n_allow x string, u32 n_deny x string,
 *                     string text, origin }
 *   origin = string file, u32 line     (an empty file string means none)
 *
 * The decoder reads inside the view it is given, checks every count against the limits
 * of the accounts syntax, every enum value and every path, and refuses trailing bytes. */
#include <errno.h>
#include <string.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/policy.h"
#include "berth/xmem.h"
#include "policy-internal.h"

#define POLICY_MAGIC 0x42504f4cu /* "BPOL" */

static int
put_str(struct xbuf *b, const char *s)
{
	return xbuf_put_cstring(b, s ? s : "");
}

static int
put_origin(struct xbuf *b, const struct policy_origin *o)
{
	int r = put_str(b, o->file);
	return r < 0 ? r : xbuf_put_u32(b, o->line);
}

int
policy_encode(const struct policy *p, struct xbuf *b)
{
	int r;
	if ((r = xbuf_put_u32(b, POLICY_MAGIC)) < 0 ||
	    (r = xbuf_put_u32(b, POLICY_CODEC_VERSION)) < 0)
		return r;
	for (unsigned k = 0; k < POLICY_KEY_COUNT; k++) {
		const struct policy_value *v = &p->values[k];
		if ((r = xbuf_put_u8(b, v->set)) < 0 || (r = xbuf_put_u64(b, v->v)) < 0 ||
		    (r = put_str(b, v->str)) < 0 || (r = put_str(b, v->text)) < 0 ||
		    (r = put_origin(b, &v->origin)) < 0)
			return r;
	}
	if ((r = xbuf_put_u32(b, (uint32_t)p->n_dirs)) < 0)
		return r;
	for (size_t i = 0; i < p->n_dirs; i++) {
		const struct policy_dir_rule *d = &p->dirs[i];
		if ((r = put_str(b, d->path)) < 0 || (r = xbuf_put_u32(b, d->perms)) < 0 ||
		    (r = put_str(b, d->text)) < 0 || (r = put_origin(b, &d->origin)) < 0)
			return r;
	}
	if ((r = xbuf_put_u32(b, (uint32_t)p->n_filters)) < 0)
		return r;
	for (size_t i = 0; i < p->n_filters; i++) {
		const struct policy_filter_rule *f = &p->filters[i];
		if ((r = put_str(b, f->path)) < 0 ||
		    (r = xbuf_put_u32(b, (uint32_t)f->n_allow)) < 0)
			return r;
		for (size_t j = 0; j < f->n_allow; j++)
			if ((r = put_str(b, f->allow[j])) < 0)
				return r;
		if ((r = xbuf_put_u32(b, (uint32_t)f->n_deny)) < 0)
			return r;
		for (size_t j = 0; j < f->n_deny; j++)
			if ((r = put_str(b, f->deny[j])) < 0)
				return r;
		if ((r = put_str(b, f->text)) < 0 || (r = put_origin(b, &f->origin)) < 0)
			return r;
	}
	return 0;
}

/* A string; empty becomes NULL when @null_if_empty. */
static int
get_str(struct xbuf *b, char **ret, bool null_if_empty)
{
	char *s;
	if (xbuf_get_cstring(b, &s, POLICY_MAX_TEXT) < 0)
		return -EBADMSG;
	if (null_if_empty && !s[0]) {
		free(s);
		s = NULL;
	}
	*ret = s;
	return 0;
}

static int
get_origin(struct xbuf *b, struct policy_origin *o)
{
	if (get_str(b, &o->file, true) < 0 || xbuf_get_u32(b, &o->line) < 0)
		return -EBADMSG;
	return 0;
}

/* Paths must be what policy_canon_dir() produces, so decisions on them are sound. */
static int
get_canon_path(struct xbuf *b, char **ret)
{
	char *s, *canon = NULL;
	if (get_str(b, &s, false) < 0)
		return -EBADMSG;
	if (policy_canon_dir(s, &canon) < 0 || strcmp(canon, s) != 0) {
		free(s);
		free(canon);
		return -EBADMSG;
	}
	free(canon);
	*ret = s;
	return 0;
}

static bool
value_valid(unsigned key, const struct policy_value *v)
{
	switch (key) {
	case POLICY_READ_ONLY:
	case POLICY_UPLOAD_HASH:
		return v->v <= 1 && !v->str;
	case POLICY_SETSTAT_MODE:
		return v->v <= POLICY_SETSTAT_REFUSE && !v->str;
	case POLICY_UPLOAD_MODE:
		return v->v <= POLICY_UPLOAD_ATOMIC_RESUME && !v->str;
	case POLICY_PROTOCOLS:
		return v->v <= POLICY_PROTO_ALL && !v->str;
	case POLICY_MAX_LOGINS:
	case POLICY_QUOTA_FILES:
		return v->v <= UINT32_MAX && !v->str;
	case POLICY_ALLOW_FROM:
	case POLICY_DENY_FROM:
		return (v->v == 0 && !v->str) || (v->v == 1 && v->str);
	default:
		return !v->str;
	}
}

static int
decode_values(struct xbuf *b, struct policy *p)
{
	for (unsigned k = 0; k < POLICY_KEY_COUNT; k++) {
		struct policy_value *v = &p->values[k];
		uint8_t set;
		if (xbuf_get_u8(b, &set) < 0 || set > 1 || xbuf_get_u64(b, &v->v) < 0 ||
		    get_str(b, &v->str, true) < 0 || get_str(b, &v->text, true) < 0 ||
		    get_origin(b, &v->origin) < 0)
			return -EBADMSG;
		v->set = set;
		if (!value_valid(k, v) || (!v->set && (v->v || v->str)))
			return -EBADMSG;
	}
	return 0;
}

static int
get_count(struct xbuf *b, uint32_t max, uint32_t *ret)
{
	if (xbuf_get_u32(b, ret) < 0 || *ret > max)
		return -EBADMSG;
	return 0;
}

static int
decode_dirs(struct xbuf *b, struct policy *p)
{
	uint32_t n;
	if (get_count(b, POLICY_MAX_RULES, &n) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		struct policy_dir_rule d = {0};
		int r = -EBADMSG;
		if (get_canon_path(b, &d.path) < 0 || xbuf_get_u32(b, &d.perms) < 0 ||
		    d.perms > POLICY_PERM_ALL || get_str(b, &d.text, false) < 0 ||
		    get_origin(b, &d.origin) < 0)
			goto fail;
		for (size_t j = 0; j < p->n_dirs; j++)
			if (strcmp(p->dirs[j].path, d.path) == 0)
				goto fail; /* duplicates cannot come from the parser */
		policy_put_dir_rule(p, &d);
		continue;
	fail:
		policy_dir_rule_clear(&d);
		return r;
	}
	return 0;
}

static int
get_patterns(struct xbuf *b, uint32_t max, char ***ret, size_t *ret_n)
{
	uint32_t n;
	if (get_count(b, max, &n) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		char *s;
		if (get_str(b, &s, false) < 0)
			return -EBADMSG;
		*ret = xreallocarray(*ret, *ret_n + 1, sizeof(char *));
		(*ret)[(*ret_n)++] = s;
		if (!s[0] || strchr(s, '/'))
			return -EBADMSG;
	}
	return 0;
}

static int
decode_filters(struct xbuf *b, struct policy *p)
{
	uint32_t n;
	if (get_count(b, POLICY_MAX_RULES, &n) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		struct policy_filter_rule f = {0};
		if (get_canon_path(b, &f.path) < 0 ||
		    get_patterns(b, POLICY_MAX_PATTERNS, &f.allow, &f.n_allow) < 0 ||
		    get_patterns(b, POLICY_MAX_PATTERNS - (uint32_t)f.n_allow, &f.deny, &f.n_deny) <
		            0 ||
		    f.n_allow + f.n_deny == 0 || get_str(b, &f.text, false) < 0 ||
		    get_origin(b, &f.origin) < 0)
			goto fail;
		for (size_t j = 0; j < p->n_filters; j++)
			if (strcmp(p->filters[j].path, f.path) == 0)
				goto fail;
		policy_put_filter_rule(p, &f);
		continue;
	fail:
		policy_filter_rule_clear(&f);
		return -EBADMSG;
	}
	return 0;
}

int
policy_decode(struct xbuf *b, struct policy **ret)
{
	uint32_t magic, version;
	if (xbuf_get_u32(b, &magic) < 0 || magic != POLICY_MAGIC || xbuf_get_u32(b, &version) < 0 ||
	    version != POLICY_CODEC_VERSION)
		return -EBADMSG;
	struct policy *p = policy_new();
	if (decode_values(b, p) < 0 || decode_dirs(b, p) < 0 || decode_filters(b, p) < 0 ||
	    xbuf_len(b) != 0) {
		policy_free(p);
		return -EBADMSG;
	}
	*ret = p;
	return 0;
}

static bool
str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool
origin_eq(const struct policy_origin *a, const struct policy_origin *b)
{
	return str_eq(a->file, b->file) && a->line == b->line;
}

static bool
strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

bool
policy_equal(const struct policy *a, const struct policy *b)
{
	for (unsigned k = 0; k < POLICY_KEY_COUNT; k++) {
		const struct policy_value *x = &a->values[k], *y = &b->values[k];
		if (x->set != y->set || x->v != y->v || !str_eq(x->str, y->str) ||
		    !str_eq(x->text, y->text) || !origin_eq(&x->origin, &y->origin))
			return false;
	}
	if (a->n_dirs != b->n_dirs || a->n_filters != b->n_filters)
		return false;
	for (size_t i = 0; i < a->n_dirs; i++) {
		const struct policy_dir_rule *x = &a->dirs[i], *y = &b->dirs[i];
		if (!str_eq(x->path, y->path) || x->perms != y->perms ||
		    !str_eq(x->text, y->text) || !origin_eq(&x->origin, &y->origin))
			return false;
	}
	for (size_t i = 0; i < a->n_filters; i++) {
		const struct policy_filter_rule *x = &a->filters[i], *y = &b->filters[i];
		if (!str_eq(x->path, y->path) ||
		    !strv_eq(x->allow, x->n_allow, y->allow, y->n_allow) ||
		    !strv_eq(x->deny, x->n_deny, y->deny, y->n_deny) || !str_eq(x->text, y->text) ||
		    !origin_eq(&x->origin, &y->origin))
			return false;
	}
	return true;
}
