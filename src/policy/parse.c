/* SPDX-License-Identifier: BSD-2-Clause */
/* Policy keywords of the accounts file: values with units, permission lists, filters. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "berth/account.h"
#include "berth/common.h"
#include "berth/policy.h"
#include "berth/xmem.h"
#include "policy-internal.h"

#define WORDS_MAX 64

int
policy_parse_perms(const char *text, uint32_t *ret)
{
	static const struct {
		const char *name;
		uint32_t perms;
	} presets[] = {
	        {"full", POLICY_PERM_ALL},
	        {"*", POLICY_PERM_ALL},
	        {"none", 0},
	        {"read-only", POLICY_PERM(POLICY_OP_LIST) | POLICY_PERM(POLICY_OP_DOWNLOAD)},
	        {"upload-only", POLICY_PERM(POLICY_OP_UPLOAD)},
	};
	uint32_t perms = 0;
	const char *p = text;
	if (!*p)
		return -EINVAL;
	while (*p) {
		size_t n = strcspn(p, ",");
		bool found = false;
		char word[32];
		if (n == 0 || n >= sizeof(word))
			return -EINVAL;
		memcpy(word, p, n);
		word[n] = '\0';
		for (size_t i = 0; i < ARRAY_SIZE(presets) && !found; i++) {
			if (strcasecmp(word, presets[i].name) == 0) {
				perms |= presets[i].perms;
				found = true;
			}
		}
		enum policy_op op;
		if (!found && policy_op_from_name(word, &op) == 0) {
			perms |= POLICY_PERM(op);
			found = true;
		}
		if (!found)
			return -EINVAL;
		p += n;
		if (*p == ',' && *++p == '\0')
			return -EINVAL;
	}
	*ret = perms;
	return 0;
}

static int
parse_u64(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
			return -ERANGE;
	}
	*ret = v;
	return 0;
}

int
policy_parse_size(const char *text, uint64_t *ret)
{
	if (strcasecmp(text, "none") == 0) {
		*ret = 0;
		return 0;
	}
	size_t n = strspn(text, "0123456789");
	uint64_t v, mult = 1;
	int r = parse_u64(text, n, &v);
	if (r < 0)
		return r;
	const char *unit = text + n;
	if (*unit) {
		switch (*unit) {
		case 'k':
		case 'K':
			mult = UINT64_C(1) << 10;
			break;
		case 'm':
		case 'M':
			mult = UINT64_C(1) << 20;
			break;
		case 'g':
		case 'G':
			mult = UINT64_C(1) << 30;
			break;
		case 't':
		case 'T':
			mult = UINT64_C(1) << 40;
			break;
		default:
			return -EINVAL;
		}
		unit++;
		/* "10G", "10GB" and "10GiB" all mean the same. */
		if (strcasecmp(unit, "") != 0 && strcasecmp(unit, "B") != 0 &&
		    strcasecmp(unit, "iB") != 0)
			return -EINVAL;
	}
	if (__builtin_mul_overflow(v, mult, &v) || v > (uint64_t)INT64_MAX)
		return -ERANGE;
	*ret = v;
	return 0;
}

int
policy_parse_rate(const char *text, uint64_t *ret)
{
	size_t len = strlen(text);
	if (len > 2 && strcmp(text + len - 2, "/s") == 0) {
		char buf[64];
		if (len - 2 >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, text, len - 2);
		buf[len - 2] = '\0';
		return policy_parse_size(buf, ret);
	}
	return policy_parse_size(text, ret);
}

static int
fixed_digits(const char *s, size_t n, int *ret)
{
	uint64_t v;
	if (strspn(s, "0123456789") < n || parse_u64(s, n, &v) < 0)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

int
policy_parse_date(const char *text, int64_t *ret)
{
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, s = 0;
	size_t len = strlen(text);
	if (len < 10 || text[4] != '-' || text[7] != '-' || fixed_digits(text, 4, &y) < 0 ||
	    fixed_digits(text + 5, 2, &mo) < 0 || fixed_digits(text + 8, 2, &d) < 0)
		return -EINVAL;
	const char *t = text + 10;
	if (*t == 'T' || *t == ' ') {
		t++;
		if (strlen(t) < 5 || t[2] != ':' || fixed_digits(t, 2, &h) < 0 ||
		    fixed_digits(t + 3, 2, &mi) < 0)
			return -EINVAL;
		t += 5;
		if (*t == ':') {
			if (fixed_digits(t + 1, 2, &s) < 0)
				return -EINVAL;
			t += 3;
		}
		if (*t == 'Z')
			t++;
	}
	if (*t || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || s > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	time_t v = timegm(&tm);
	/* timegm normalises 2026-02-31 to March: refuse dates that do not exist. */
	if (v == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -EINVAL;
	*ret = (int64_t)v;
	return 0;
}

int
policy_parse_protocols(const char *text, uint32_t *ret)
{
	static const struct {
		const char *name;
		uint32_t bits;
	} names[] = {
	        {"sftp", POLICY_PROTO_SFTP}, {"scp", POLICY_PROTO_SCP}, {"ftp", POLICY_PROTO_FTP},
	        {"ftps", POLICY_PROTO_FTPS}, {"all", POLICY_PROTO_ALL},
	};
	uint32_t bits = 0;
	const char *p = text;
	if (!*p)
		return -EINVAL;
	while (*p) {
		size_t n = strcspn(p, ",");
		bool found = false;
		for (size_t i = 0; i < ARRAY_SIZE(names) && !found; i++) {
			if (strlen(names[i].name) == n && strncasecmp(p, names[i].name, n) == 0) {
				bits |= names[i].bits;
				found = true;
			}
		}
		if (!found)
			return -EINVAL;
		p += n;
		if (*p == ',' && *++p == '\0')
			return -EINVAL;
	}
	*ret = bits;
	return 0;
}

int
policy_canon_dir(const char *text, char **ret)
{
	size_t len = strlen(text);
	if (text[0] != '/' || len >= POLICY_MAX_TEXT)
		return -EINVAL;
	char *out = xmalloc(len + 2), *o = out;
	const char *p = text;
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			return -EINVAL;
		}
		if (!(n == 1 && p[0] == '.')) {
			*o++ = '/';
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	if (o == out)
		*o++ = '/';
	*o = '\0';
	*ret = out;
	return 0;
}

/* Split @value into words: blanks separate, "double quotes" group (\" and \\ escape).
 * Returns the count or -EINVAL; words are heap strings. */
static int
split_words(const char *value, char **words, size_t max, const char **ret_err)
{
	size_t n = 0;
	const char *p = value;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n == max) {
			*ret_err = "too many values";
			goto fail;
		}
		size_t cap = strlen(p) + 1;
		char *w = xmalloc(cap), *o = w;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				*o++ = *p++;
			}
			if (*p != '"') {
				free(w);
				*ret_err = "unterminated quoted string";
				goto fail;
			}
			p++;
		} else {
			while (*p && *p != ' ' && *p != '\t')
				*o++ = *p++;
		}
		*o = '\0';
		words[n++] = w;
	}
	return (int)n;
fail:
	for (size_t i = 0; i < n; i++)
		free(words[i]);
	return -EINVAL;
}

static void
free_words(char **words, int n)
{
	for (int i = 0; i < n; i++)
		free(words[i]);
}

static void
set_origin(struct policy_origin *o, const char *file, unsigned line)
{
	o->file = file ? xstrdup(file) : NULL;
	o->line = line;
}

static int
set_permissions(struct policy *p, const char *kw, const char *value, const char *file,
                unsigned line, const char **ret_err)
{
	char *w[WORDS_MAX];
	int n = split_words(value, w, WORDS_MAX, ret_err);
	if (n < 0)
		return n;
	int r = -EINVAL;
	struct policy_dir_rule rule = {0};
	if (n != 2) {
		*ret_err = "expected a directory and a permission list, e.g. /in upload-only";
		goto out;
	}
	if (policy_canon_dir(w[0], &rule.path) < 0) {
		*ret_err = "the directory must be an absolute path inside the jail without \"..\"";
		goto out;
	}
	if (policy_parse_perms(w[1], &rule.perms) < 0) {
		*ret_err = "unknown permission (list, download, upload, overwrite, delete, rename, "
		           "mkdir, rmdir, symlink, setstat, *, full, read-only, upload-only, none)";
		goto out;
	}
	if (p->n_dirs >= POLICY_MAX_RULES) {
		*ret_err = "too many Permissions lines";
		goto out;
	}
	rule.text = xasprintf("%s %s", kw, value);
	set_origin(&rule.origin, file, line);
	policy_put_dir_rule(p, &rule);
	r = 0;
out:
	policy_dir_rule_clear(&rule);
	free_words(w, n);
	return r;
}

static bool
pattern_ok(const char *pat)
{
	return pat[0] && !strchr(pat, '/') && strlen(pat) < POLICY_MAX_TEXT;
}

static int
set_filter(struct policy *p, const char *kw, const char *value, const char *file, unsigned line,
           const char **ret_err)
{
	char *w[WORDS_MAX];
	int n = split_words(value, w, WORDS_MAX, ret_err);
	if (n < 0)
		return n;
	int r = -EINVAL;
	struct policy_filter_rule rule = {0};
	if (n < 2) {
		*ret_err = "expected a directory and patterns, e.g. /in *.csv,!*.exe";
		goto out;
	}
	if (policy_canon_dir(w[0], &rule.path) < 0) {
		*ret_err = "the directory must be an absolute path inside the jail without \"..\"";
		goto out;
	}
	for (int i = 1; i < n; i++) {
		for (char *save = NULL, *tok = strtok_r(w[i], ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			bool neg = tok[0] == '!';
			const char *pat = neg ? tok + 1 : tok;
			if (!pattern_ok(pat)) {
				*ret_err = "empty pattern, or a pattern containing \"/\" (patterns "
				           "match names, not paths)";
				goto out;
			}
			if (rule.n_allow + rule.n_deny >= POLICY_MAX_PATTERNS) {
				*ret_err = "too many patterns";
				goto out;
			}
			char ***v = neg ? &rule.deny : &rule.allow;
			size_t *c = neg ? &rule.n_deny : &rule.n_allow;
			*v = xreallocarray(*v, *c + 1, sizeof(char *));
			(*v)[(*c)++] = xstrdup(pat);
		}
	}
	if (rule.n_allow + rule.n_deny == 0) {
		*ret_err = "no patterns";
		goto out;
	}
	if (p->n_filters >= POLICY_MAX_RULES) {
		*ret_err = "too many Filter lines";
		goto out;
	}
	rule.text = xasprintf("%s %s", kw, value);
	set_origin(&rule.origin, file, line);
	policy_put_filter_rule(p, &rule);
	r = 0;
out:
	policy_filter_rule_clear(&rule);
	free_words(w, n);
	return r;
}

enum vtype {
	V_BOOL,
	V_SETSTAT,
	V_SIZE,
	V_COUNT,
	V_RATE,
	V_DATE,
	V_PROTO,
	V_UPMODE,
	V_HASH,
	V_ADDR
};

static const struct {
	const char *name;
	enum policy_key key;
	enum vtype type;
	const char *help;
} keywords[] = {
        {"ReadOnly", POLICY_READ_ONLY, V_BOOL, "expected yes or no"},
        {"SetstatMode", POLICY_SETSTAT_MODE, V_SETSTAT, "expected apply, ignore or refuse"},
        {"QuotaSize", POLICY_QUOTA_BYTES, V_SIZE, "expected a size such as 500M, 10G or none"},
        {"QuotaFiles", POLICY_QUOTA_FILES, V_COUNT, "expected a number of files or none"},
        {"MaxFileSize", POLICY_MAX_FILE_SIZE, V_SIZE, "expected a size such as 2G or none"},
        {"UploadBandwidth", POLICY_BW_UPLOAD, V_RATE, "expected bytes per second, e.g. 2M or none"},
        {"DownloadBandwidth", POLICY_BW_DOWNLOAD, V_RATE,
         "expected bytes per second, e.g. 2M or none"},
        {"Expires", POLICY_EXPIRES, V_DATE,
         "expected an ISO 8601 UTC date (2026-12-31 or 2026-12-31T18:00:00Z) or none"},
        {"MaxLogins", POLICY_MAX_LOGINS, V_COUNT, "expected a number or none"},
        {"Protocols", POLICY_PROTOCOLS, V_PROTO, "expected a list of sftp, scp, ftp, ftps or all"},
        {"UploadMode", POLICY_UPLOAD_MODE, V_UPMODE, "expected standard, atomic or atomic-resume"},
        {"UploadChecksum", POLICY_UPLOAD_HASH, V_HASH, "expected sha256 or none"},
        {"AllowFrom", POLICY_ALLOW_FROM, V_ADDR,
         "expected addresses, CIDR blocks or patterns, e.g. 192.0.2.0/24,10.1.*"},
        {"DenyFrom", POLICY_DENY_FROM, V_ADDR,
         "expected addresses, CIDR blocks or patterns, e.g. 192.0.2.0/24,10.1.*"},
};

bool
policy_is_keyword(const char *keyword)
{
	if (strcasecmp(keyword, "Permissions") == 0 || strcasecmp(keyword, "Filter") == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
		if (strcasecmp(keyword, keywords[i].name) == 0)
			return true;
	return false;
}

static int
parse_enum(const char *v, const char *const *names, size_t n, uint64_t *ret)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(v, names[i]) == 0) {
			*ret = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int
parse_value(enum vtype type, const char *v, uint64_t *ret, char **ret_str)
{
	static const char *const yesno[] = {"no", "yes"};
	static const char *const setstat[] = {"apply", "ignore", "refuse"};
	static const char *const upmode[] = {"standard", "atomic", "atomic-resume"};
	static const char *const hash[] = {"none", "sha256"};
	int64_t date;
	uint32_t u32;
	int r;

	switch (type) {
	case V_BOOL:
		return parse_enum(v, yesno, 2, ret);
	case V_SETSTAT:
		return parse_enum(v, setstat, 3, ret);
	case V_UPMODE:
		return parse_enum(v, upmode, 3, ret);
	case V_HASH:
		return parse_enum(v, hash, 2, ret);
	case V_SIZE:
		return policy_parse_size(v, ret);
	case V_RATE:
		return policy_parse_rate(v, ret);
	case V_COUNT:
		if (strcasecmp(v, "none") == 0) {
			*ret = 0;
			return 0;
		}
		r = parse_u64(v, strlen(v), ret);
		return r < 0 ? r : *ret > UINT32_MAX ? -ERANGE : 0;
	case V_DATE:
		if (strcasecmp(v, "none") == 0) {
			*ret = 0;
			return 0;
		}
		if ((r = policy_parse_date(v, &date)) < 0)
			return r;
		*ret = (uint64_t)date;
		return 0;
	case V_PROTO:
		if ((r = policy_parse_protocols(v, &u32)) < 0)
			return r;
		*ret = u32;
		return 0;
	case V_ADDR:
		if (strcasecmp(v, "none") == 0) {
			*ret = 0;
			return 0;
		}
		/* Malformed CIDR entries are found by matching once. */
		if (strlen(v) >= POLICY_MAX_TEXT ||
		    berth_match_addr_list("192.0.2.1", v) == -EINVAL ||
		    berth_match_addr_list("2001:db8::1", v) == -EINVAL)
			return -EINVAL;
		*ret = 1;
		*ret_str = xstrdup(v);
		return 0;
	}
	return -EINVAL;
}

int
policy_set_keyword(struct policy *p, const char *keyword, const char *value, const char *file,
                   unsigned line, const char **ret_err)
{
	*ret_err = "invalid value";
	if (strlen(value) >= POLICY_MAX_TEXT) {
		*ret_err = "value too long";
		return -EINVAL;
	}
	if (strcasecmp(keyword, "Permissions") == 0)
		return set_permissions(p, "Permissions", value, file, line, ret_err);
	if (strcasecmp(keyword, "Filter") == 0)
		return set_filter(p, "Filter", value, file, line, ret_err);
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
		if (strcasecmp(keyword, keywords[i].name) != 0)
			continue;
		char *w[2];
		int n = split_words(value, w, 2, ret_err);
		if (n != 1) {
			if (n > 0)
				free_words(w, n);
			if (n >= 0)
				*ret_err = n == 0 ? "missing value" : "expects a single value";
			return -EINVAL;
		}
		uint64_t v = 0;
		char *str = NULL;
		if (parse_value(keywords[i].type, w[0], &v, &str) < 0) {
			*ret_err = keywords[i].help;
			free_words(w, n);
			return -EINVAL;
		}
		struct policy_value *pv = &p->values[keywords[i].key];
		policy_value_clear(pv);
		pv->set = true;
		pv->v = v;
		pv->str = str;
		pv->text = xasprintf("%s %s", keywords[i].name, w[0]);
		set_origin(&pv->origin, file, line);
		free_words(w, n);
		return 0;
	}
	return POLICY_E_NOT_A_KEYWORD;
}
