/* SPDX-License-Identifier: BSD-2-Clause */
/* berthd.conf parser: one keyword table drives defaults, parsing, dumping and docs. */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>

#include "config.h"
#include "berth/account.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/file.h"
#include "berth/log.h"
#include "berth/tls.h"
#include "berth/xmem.h"

#define MAX_ARGS      64
#define MAX_FILE_SIZE (4u << 20)

struct parse_ctx;
struct kw;

/* Setters return 0, or -1 after writing a message into ctx->msg. */
typedef int (*kw_set_fn)(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc);
typedef void (*kw_dump_fn)(const struct berth_config *cfg, const struct kw *k, FILE *f);

enum kw_type {
	KW_STRING,   /* one word, heap string at off */
	KW_PATH,     /* one absolute path (or "none" -> NULL when none_ok) */
	KW_BOOL,     /* yes/no */
	KW_UINT,     /* uint32_t within [min, max] */
	KW_DURATION, /* uint32_t seconds, sshd time format, within [min, max] */
	KW_ALGOS,    /* comma list, +/-/^ relative to the default */
	KW_CUSTOM,   /* own set/dump */
};

struct kw {
	const char *name;
	enum kw_type type;
	const char *type_name; /* for docs */
	const char *def;       /* default in config syntax; NULL = computed after loading */
	const char *doc;
	size_t off;
	uint32_t min, max;
	bool multi;               /* every occurrence accumulates */
	bool none_ok;             /* KW_PATH: "none" stores NULL */
	const char *const *known; /* KW_ALGOS: recognised names */
	kw_set_fn set;
	kw_dump_fn dump;
	size_t origin_off; /* offset of a struct berth_conf_origin, 0 = not tracked */
};

struct parse_ctx {
	struct berth_config *cfg;
	struct berth_errors *errors;
	const char *file; /* current file (stable copy in cfg->files) */
	unsigned line;
	bool seen[128];
	bool failed;
	bool defaults; /* applying table defaults: no "seen" bookkeeping */
	unsigned depth;
	char *base_dir;
	char msg[512];
};

static void _printf_(2, 3) ctx_msg(struct parse_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
}

static void _printf_(2, 3) ctx_error(struct parse_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	berth_errors_vadd(ctx->errors, ctx->file, ctx->line, fmt, ap);
	va_end(ap);
	ctx->failed = true;
}

#define FIELD(cfg, k, type)  ((type *)((char *)(cfg) + (k)->off))
#define CFIELD(cfg, k, type) ((const type *)((const char *)(cfg) + (k)->off))

/* ---- small parsers ---- */

int
berth_parse_duration(const char *text, uint32_t *ret)
{
	uint64_t total = 0;
	const char *s = text;

	if (!*s)
		return -EINVAL;
	while (*s) {
		uint64_t n = 0, mult;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		while (isdigit((unsigned char)*s)) {
			n = n * 10 + (uint64_t)(*s - '0');
			if (n > UINT32_MAX)
				return -ERANGE;
			s++;
		}
		switch (*s) {
		case '\0':
			mult = 1;
			break;
		case 's':
		case 'S':
			mult = 1;
			s++;
			break;
		case 'm':
		case 'M':
			mult = 60;
			s++;
			break;
		case 'h':
		case 'H':
			mult = 3600;
			s++;
			break;
		case 'd':
		case 'D':
			mult = 86400;
			s++;
			break;
		case 'w':
		case 'W':
			mult = 604800;
			s++;
			break;
		default:
			return -EINVAL;
		}
		total += n * mult;
		if (total > UINT32_MAX)
			return -ERANGE;
	}
	*ret = (uint32_t)total;
	return 0;
}

static int
parse_u32(const char *s, unsigned base, uint32_t *ret)
{
	uint64_t n = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		n = n * base + d;
		if (n > UINT32_MAX)
			return -ERANGE;
	}
	*ret = (uint32_t)n;
	return 0;
}

static bool
numeric_host_ok(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

int
berth_parse_listen_addr(const char *text, struct berth_listen_addr *ret)
{
	_cleanup_free_ char *host = NULL;
	const char *port_text = NULL;
	uint32_t port = 0;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close)
			return -EINVAL;
		host = xstrndup(text + 1, (size_t)(close - text - 1));
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
		if (!strchr(host, ':'))
			return -EINVAL; /* brackets are for IPv6 only */
	} else {
		const char *colon = strchr(text, ':');

		if (colon && strchr(colon + 1, ':')) {
			host = xstrdup(text); /* bare IPv6, no port */
		} else if (colon) {
			host = xstrndup(text, (size_t)(colon - text));
			port_text = colon + 1;
		} else {
			host = xstrdup(text);
		}
	}
	if (strcmp(host, "*") == 0) {
		free(host);
		host = xstrdup("0.0.0.0");
	}
	if (!numeric_host_ok(host))
		return -EINVAL;
	if (port_text && (parse_u32(port_text, 10, &port) < 0 || port == 0 || port > 65535))
		return -EINVAL;
	ret->host = ptr_steal(&host);
	ret->port = (uint16_t)port;
	return 0;
}

static void
strv_push(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

static void
strv_free(char ***v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

char *
berth_config_expand_tokens(const char *pattern, const char *user, const char *home)
{
	size_t cap = strlen(pattern) + 1, len = 0;
	char *out = xmalloc(cap);

	for (const char *p = pattern; *p; p++) {
		const char *add = NULL;
		char one[2] = {*p, 0};

		if (*p == '%' && p[1]) {
			p++;
			if (*p == 'u')
				add = user ? user : "";
			else if (*p == 'h')
				add = home ? home : "";
			else if (*p == '%')
				add = "%";
			else {
				one[0] = '%';
				add = one;
				p--;
			}
		} else {
			add = one;
		}
		size_t alen = strlen(add), need;
		if (!size_add(len, alen, &need) || !size_add(need, 1, &need))
			abort();
		if (need > cap) {
			cap = need * 2;
			out = xreallocarray(out, cap, 1);
		}
		memcpy(out + len, add, alen);
		len += alen;
	}
	out[len] = '\0';
	return out;
}

/* ---- generic setters/dumpers ---- */

static int
need_args(struct parse_ctx *ctx, const struct kw *k, size_t argc, size_t want)
{
	if (argc == want)
		return 0;
	if (argc < want)
		ctx_msg(ctx, "%s: missing argument", k->name);
	else
		ctx_msg(ctx, "%s: too many arguments (quote values containing spaces)", k->name);
	return -1;
}

static int
set_string(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	char **field = FIELD(ctx->cfg, k, char *);

	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	if (k->type == KW_PATH) {
		if (k->none_ok && strcasecmp(argv[0], "none") == 0) {
			free(*field);
			*field = NULL;
			return 0;
		}
		if (argv[0][0] != '/') {
			ctx_msg(ctx, "%s: \"%s\" is not an absolute path", k->name, argv[0]);
			return -1;
		}
	}
	if (argv[0][0] == '\0') {
		ctx_msg(ctx, "%s: empty value", k->name);
		return -1;
	}
	free(*field);
	*field = xstrdup(argv[0]);
	return 0;
}

/* Print one word so that the lexer reads it back unchanged (quote when needed). */
static void
put_word(FILE *f, const char *s)
{
	/* A leading '=' would be read as the "Keyword=value" separator. */
	if (s[0] && s[0] != '=' && strcspn(s, " \t\"#\\") == strlen(s)) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void
dump_string(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	const char *v = *CFIELD(cfg, k, char *);

	put_word(f, v ? v : "none");
	fputc('\n', f);
}

static int
set_bool(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	if (strcasecmp(argv[0], "yes") == 0)
		*FIELD(ctx->cfg, k, bool) = true;
	else if (strcasecmp(argv[0], "no") == 0)
		*FIELD(ctx->cfg, k, bool) = false;
	else {
		ctx_msg(ctx, "%s: expected yes or no, got \"%s\"", k->name, argv[0]);
		return -1;
	}
	return 0;
}

static void
dump_bool(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	fprintf(f, "%s\n", *CFIELD(cfg, k, bool) ? "yes" : "no");
}

static int
set_uint(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	uint32_t v;
	int r;

	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	if (k->type == KW_DURATION)
		r = berth_parse_duration(argv[0], &v);
	else
		r = parse_u32(argv[0], 10, &v);
	if (r < 0) {
		ctx_msg(ctx, "%s: invalid %s \"%s\"", k->name,
		        k->type == KW_DURATION ? "time (e.g. 30s, 2m, 1h)" : "number", argv[0]);
		return -1;
	}
	if (v < k->min || v > k->max) {
		ctx_msg(ctx, "%s: %s is out of range [%u, %u]", k->name, argv[0], k->min, k->max);
		return -1;
	}
	*FIELD(ctx->cfg, k, uint32_t) = v;
	return 0;
}

static void
dump_uint(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	fprintf(f, "%u\n", *CFIELD(cfg, k, uint32_t));
}

static bool
name_in(const char *name, size_t len, const char *const *known)
{
	for (size_t i = 0; known && known[i]; i++)
		if (strlen(known[i]) == len && memcmp(known[i], name, len) == 0)
			return true;
	return false;
}

/* Remove @name from comma list @list (in place). */
static void
list_remove(char *list, const char *name, size_t nlen)
{
	char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		char *next = p[len] ? p + len + 1 : p + len;

		if (len == nlen && memcmp(p, name, nlen) == 0) {
			memmove(p, next, strlen(next) + 1);
			continue;
		}
		p = next;
	}
	size_t l = strlen(list);
	if (l && list[l - 1] == ',')
		list[l - 1] = '\0';
}

static int
set_algos(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	char **field = FIELD(ctx->cfg, k, char *);
	const char *v;
	char *result;

	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	v = argv[0];
	const char *names = v + (strchr("+-^", v[0]) ? 1 : 0);
	size_t nlen = strlen(names);
	if (nlen == 0 || names[nlen - 1] == ',') {
		ctx_msg(ctx, "%s: empty algorithm name in \"%s\"", k->name, v);
		return -1;
	}
	/* Every name must be known to libssh 0.10 (typos would otherwise only show at runtime). */
	for (const char *p = v + (strchr("+-^", v[0]) ? 1 : 0); *p;) {
		size_t len = strcspn(p, ",");

		if (len == 0 || !name_in(p, len, k->known)) {
			ctx_msg(ctx, "%s: unsupported algorithm \"%.*s\"", k->name, (int)len, p);
			return -1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (v[0] == '+')
		result = xasprintf("%s,%s", k->def, v + 1);
	else if (v[0] == '^')
		result = xasprintf("%s,%s", v + 1, k->def);
	else if (v[0] == '-') {
		result = xstrdup(k->def);
		for (const char *p = v + 1; *p;) {
			size_t len = strcspn(p, ",");
			list_remove(result, p, len);
			p += len;
			if (*p == ',')
				p++;
		}
	} else
		result = xstrdup(v);
	/* Drop duplicates created by + / ^ (keep first). */
	for (char *p = result; *p;) {
		size_t len = strcspn(p, ",");
		if (!p[len])
			break;
		char *rest = p + len + 1;
		list_remove(rest, p, len);
		p = rest;
	}
	/* A duplicate at the end leaves "a,b," (fuzz-conf: "+aes128-ctr", already a default). */
	size_t rlen = strlen(result);
	if (rlen && result[rlen - 1] == ',')
		result[rlen - 1] = '\0';
	if (result[0] == '\0') {
		free(result);
		ctx_msg(ctx, "%s: the list would be empty", k->name);
		return -1;
	}
	free(*field);
	*field = result;
	return 0;
}

/* ---- custom keywords ---- */

static int
set_listen(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	struct berth_config *cfg = ctx->cfg;

	if (argc == 0) {
		ctx_msg(ctx, "%s: missing argument", k->name);
		return -1;
	}
	for (size_t i = 0; i < argc; i++) {
		struct berth_listen_addr a;

		if (berth_parse_listen_addr(argv[i], &a) < 0) {
			ctx_msg(ctx,
			        "%s: invalid address \"%s\" (use a numeric address, addr:port or "
			        "[v6]:port)",
			        k->name, argv[i]);
			return -1;
		}
		cfg->listen = xreallocarray(cfg->listen, cfg->n_listen + 1, sizeof(*cfg->listen));
		cfg->listen[cfg->n_listen++] = a;
	}
	return 0;
}

static void
dump_listen(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	for (size_t i = 0; i < cfg->n_listen; i++) {
		const struct berth_listen_addr *a = &cfg->listen[i];
		unsigned port = a->port ? a->port : cfg->port;

		if (strchr(a->host, ':'))
			fprintf(f, "listenaddress [%s]:%u\n", a->host, port);
		else
			fprintf(f, "listenaddress %s:%u\n", a->host, port);
	}
}

static int
set_strv(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	struct berth_config *cfg = ctx->cfg;
	char ***v;
	size_t *n;
	bool paths = false;

	if (argc == 0) {
		ctx_msg(ctx, "%s: missing argument", k->name);
		return -1;
	}
	if (strcmp(k->name, "HostKey") == 0) {
		v = &cfg->host_keys;
		n = &cfg->n_host_keys;
		paths = true;
		if (argc != 1)
			return need_args(ctx, k, argc, 1);
	} else if (strcmp(k->name, "AuthorizedKeysFile") == 0) {
		v = &cfg->authorized_keys_files;
		n = &cfg->n_authorized_keys_files;
		/* sshd semantics: the keyword (all its words) is set once. */
		strv_free(v, n);
		if (argc == 1 && strcasecmp(argv[0], "none") == 0)
			return 0;
	} else if (strcmp(k->name, "AllowUsers") == 0) {
		v = &cfg->allow_users;
		n = &cfg->n_allow_users;
	} else {
		v = &cfg->deny_users;
		n = &cfg->n_deny_users;
	}
	for (size_t i = 0; i < argc; i++) {
		if (paths && argv[i][0] != '/') {
			ctx_msg(ctx, "%s: \"%s\" is not an absolute path", k->name, argv[i]);
			return -1;
		}
		if (argv[i][0] == '\0') {
			ctx_msg(ctx, "%s: empty value", k->name);
			return -1;
		}
		strv_push(v, n, argv[i]);
	}
	return 0;
}

static void
dump_strv_named(const char *lname, char *const *v, size_t n, FILE *f, bool one_line)
{
	/* Empty lists: "none" where the keyword accepts it, else nothing (like sshd -T;
	 * "allowusers none" would name a user). */
	if (n == 0) {
		if (one_line)
			fprintf(f, "%s none\n", lname);
		return;
	}
	if (one_line) {
		fprintf(f, "%s", lname);
		for (size_t i = 0; i < n; i++) {
			fputc(' ', f);
			put_word(f, v[i]);
		}
		fputc('\n', f);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s ", lname);
		put_word(f, v[i]);
		fputc('\n', f);
	}
}

static void
dump_strv(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	if (strcmp(k->name, "HostKey") == 0)
		dump_strv_named("hostkey", cfg->host_keys, cfg->n_host_keys, f, false);
	else if (strcmp(k->name, "AuthorizedKeysFile") == 0)
		dump_strv_named("authorizedkeysfile", cfg->authorized_keys_files,
		                cfg->n_authorized_keys_files, f, true);
	else if (strcmp(k->name, "AllowUsers") == 0)
		dump_strv_named("allowusers", cfg->allow_users, cfg->n_allow_users, f, false);
	else
		dump_strv_named("denyusers", cfg->deny_users, cfg->n_deny_users, f, false);
}

static int
set_maxstartups(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	struct berth_maxstartups m;
	char a[16], b[16], c[16];
	int n;

	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	if (strlen(argv[0]) > 40)
		goto bad;
	n = sscanf(argv[0], "%15[0-9]:%15[0-9]:%15[0-9]", a, b, c);
	if (n == 1 && strspn(argv[0], "0123456789") == strlen(argv[0])) {
		if (parse_u32(a, 10, &m.start) < 0)
			goto bad;
		m.rate = 100;
		m.full = m.start;
	} else if (n == 3 && (size_t)snprintf(NULL, 0, "%s:%s:%s", a, b, c) == strlen(argv[0])) {
		if (parse_u32(a, 10, &m.start) < 0 || parse_u32(b, 10, &m.rate) < 0 ||
		    parse_u32(c, 10, &m.full) < 0)
			goto bad;
	} else
		goto bad;
	if (m.start == 0 || m.rate == 0 || m.rate > 100 || m.full < m.start || m.full > 100000) {
		ctx_msg(ctx, "%s: need 0 < start <= full <= 100000 and 0 < rate <= 100", k->name);
		return -1;
	}
	ctx->cfg->max_startups = m;
	return 0;
bad:
	ctx_msg(ctx, "%s: expected \"start:rate:full\" or a single number, got \"%s\"", k->name,
	        argv[0]);
	return -1;
}

static void
dump_maxstartups(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	fprintf(f, "%u:%u:%u\n", cfg->max_startups.start, cfg->max_startups.rate,
	        cfg->max_startups.full);
}

static int
set_netblock(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	uint32_t v4, v6;
	const char *colon;
	_cleanup_free_ char *first = NULL;

	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	colon = strchr(argv[0], ':');
	first = colon ? xstrndup(argv[0], (size_t)(colon - argv[0])) : xstrdup(argv[0]);
	if (parse_u32(first, 10, &v4) < 0 || v4 < 1 || v4 > 32 ||
	    (colon && (parse_u32(colon + 1, 10, &v6) < 0 || v6 < 1 || v6 > 128))) {
		ctx_msg(ctx, "%s: expected \"ipv4bits[:ipv6bits]\" (1-32, 1-128), got \"%s\"",
		        k->name, argv[0]);
		return -1;
	}
	ctx->cfg->per_source_netblock_v4 = v4;
	if (colon)
		ctx->cfg->per_source_netblock_v6 = v6;
	return 0;
}

static void
dump_netblock(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	fprintf(f, "%u:%u\n", cfg->per_source_netblock_v4, cfg->per_source_netblock_v6);
}

static int
set_authmethods(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	struct berth_auth_policy p;
	const char *err = "invalid value";
	_cleanup_free_ char *joined = xstrdup("");

	if (argc == 0) {
		ctx_msg(ctx, "%s: missing argument", k->name);
		return -1;
	}
	for (size_t i = 0; i < argc; i++) {
		char *n = xasprintf("%s%s%s", joined, i ? " " : "", argv[i]);
		free(joined);
		joined = n;
	}
	if (berth_auth_policy_parse(joined, &p, &err) < 0) {
		ctx_msg(ctx, "%s: %s in \"%s\"", k->name, err, joined);
		return -1;
	}
	ctx->cfg->auth_methods = p;
	return 0;
}

static void
dump_authmethods(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	_cleanup_free_ char *s = berth_auth_policy_format(&cfg->auth_methods);

	fprintf(f, "%s\n", s);
}

static const struct {
	const char *name;
	int value;
} facility_names[] = {
        {"DAEMON", LOG_DAEMON},     {"USER", LOG_USER},     {"AUTH", LOG_AUTH},
        {"AUTHPRIV", LOG_AUTHPRIV}, {"LOCAL0", LOG_LOCAL0}, {"LOCAL1", LOG_LOCAL1},
        {"LOCAL2", LOG_LOCAL2},     {"LOCAL3", LOG_LOCAL3}, {"LOCAL4", LOG_LOCAL4},
        {"LOCAL5", LOG_LOCAL5},     {"LOCAL6", LOG_LOCAL6}, {"LOCAL7", LOG_LOCAL7},
};

static int
set_facility(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(facility_names); i++) {
		if (strcasecmp(argv[0], facility_names[i].name) == 0) {
			ctx->cfg->syslog_facility = facility_names[i].value;
			return 0;
		}
	}
	ctx_msg(ctx, "%s: unknown facility \"%s\" (DAEMON, USER, AUTH, AUTHPRIV, LOCAL0-7)",
	        k->name, argv[0]);
	return -1;
}

static void
dump_facility(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(facility_names); i++) {
		if (facility_names[i].value == cfg->syslog_facility) {
			fprintf(f, "%s\n", facility_names[i].name);
			return;
		}
	}
	fprintf(f, "%d\n", cfg->syslog_facility);
}

static const char *const level_names[] = {
        "QUIET", "FATAL", "ERROR", "INFO", "VERBOSE", "DEBUG1", "DEBUG2", "DEBUG3",
};

static int
set_loglevel(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(argv[0], level_names[i]) == 0) {
			ctx->cfg->log_level = (int)i;
			return 0;
		}
	}
	if (strcasecmp(argv[0], "DEBUG") == 0) {
		ctx->cfg->log_level = LOG_LEVEL_DEBUG1;
		return 0;
	}
	ctx_msg(ctx, "%s: unknown level \"%s\" (QUIET FATAL ERROR INFO VERBOSE DEBUG DEBUG1-3)",
	        k->name, argv[0]);
	return -1;
}

static void
dump_loglevel(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	int l = cfg->log_level;

	fprintf(f, "%s\n", l >= 0 && (size_t)l < ARRAY_SIZE(level_names) ? level_names[l] : "INFO");
}

static const char *const target_names[] = {"syslog", "stderr", "journald"};

static int
set_logtarget(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(target_names); i++) {
		if (strcasecmp(argv[0], target_names[i]) == 0) {
			ctx->cfg->log_target = (enum berth_log_target)i;
			return 0;
		}
	}
	ctx_msg(ctx, "%s: expected syslog, stderr or journald, got \"%s\"", k->name, argv[0]);
	return -1;
}

static void
dump_logtarget(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	fprintf(f, "%s\n", target_names[cfg->log_target]);
}

static int
set_umask(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	uint32_t v;

	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	if (parse_u32(argv[0], 8, &v) < 0 || v > 0777) {
		ctx_msg(ctx, "%s: expected an octal mask 000-777, got \"%s\"", k->name, argv[0]);
		return -1;
	}
	ctx->cfg->umask = v;
	return 0;
}

static void
dump_umask(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	fprintf(f, "%04o\n", cfg->umask);
}

static int
set_requests(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	char **field = FIELD(ctx->cfg, k, char *);

	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	free(*field);
	*field = NULL;
	if (strcasecmp(argv[0], "none") == 0 && strcmp(k->name, "DenyRequests") == 0)
		return 0;
	if (strcasecmp(argv[0], "all") == 0 && strcmp(k->name, "AllowRequests") == 0)
		return 0;
	if (strspn(argv[0], "abcdefghijklmnopqrstuvwxyz0123456789-_@.,") != strlen(argv[0])) {
		ctx_msg(ctx, "%s: expected a comma-separated list of request names", k->name);
		return -1;
	}
	*field = xstrdup(argv[0]);
	return 0;
}

static void
dump_requests(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	const char *v = *CFIELD(cfg, k, char *);

	fprintf(f, "%s\n", v ? v : (strcmp(k->name, "DenyRequests") == 0 ? "none" : "all"));
}

/* ---- FTPS ---- */

#define FTPS_ALLOW_PLAIN "allow-plain"

/* FTPSListenAddress addr[:port]... [allow-plain]; FTPSImplicitListenAddress addr[:port]... */
static int
set_ftps_listen(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	struct berth_config *cfg = ctx->cfg;
	bool implicit = strcmp(k->name, "FTPSImplicitListenAddress") == 0;
	bool plain = false;

	if (argc == 1 && strcasecmp(argv[0], "none") == 0)
		return 0; /* explicitly no listener of this kind (what -T prints) */
	if (argc > 0 && strcasecmp(argv[argc - 1], FTPS_ALLOW_PLAIN) == 0) {
		if (implicit) {
			ctx_msg(ctx,
			        "%s: %s is for FTPSListenAddress (implicit TLS is never plain)",
			        k->name, FTPS_ALLOW_PLAIN);
			return -1;
		}
		plain = true;
		argc--;
	}
	if (argc == 0) {
		ctx_msg(ctx, "%s: missing address", k->name);
		return -1;
	}
	for (size_t i = 0; i < argc; i++) {
		struct berth_listen_addr a;

		if (berth_parse_listen_addr(argv[i], &a) < 0) {
			ctx_msg(ctx,
			        "%s: invalid address \"%s\" (use a numeric address, addr:port or "
			        "[v6]:port%s)",
			        k->name, argv[i],
			        implicit ? "" : ", then optionally " FTPS_ALLOW_PLAIN);
			return -1;
		}
		cfg->ftps_listen = xreallocarray(cfg->ftps_listen, cfg->n_ftps_listen + 1,
		                                 sizeof(*cfg->ftps_listen));
		cfg->ftps_listen[cfg->n_ftps_listen++] = (struct berth_ftps_listen){
		        .host = a.host, .port = a.port, .implicit = implicit, .allow_plain = plain};
	}
	return 0;
}

static void
dump_ftps_listen(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	bool implicit = strcmp(k->name, "FTPSImplicitListenAddress") == 0;
	const char *lname = implicit ? "ftpsimplicitlistenaddress" : "ftpslistenaddress";
	bool any = false;

	for (size_t i = 0; i < cfg->n_ftps_listen; i++) {
		const struct berth_ftps_listen *a = &cfg->ftps_listen[i];
		unsigned port = a->port    ? a->port
		                : implicit ? BERTH_FTPS_IMPLICIT_PORT
		                           : BERTH_FTPS_PORT;

		if (a->implicit != implicit)
			continue;
		fprintf(f, "%s %s%s%s:%u%s\n", lname, strchr(a->host, ':') ? "[" : "", a->host,
		        strchr(a->host, ':') ? "]" : "", port,
		        a->allow_plain ? " " FTPS_ALLOW_PLAIN : "");
		any = true;
	}
	if (!any)
		fprintf(f, "%s none\n", lname);
}

static int
set_ftps_min_protocol(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	if (strcasecmp(argv[0], "TLSv1.2") == 0)
		ctx->cfg->ftps_tls13_only = false;
	else if (strcasecmp(argv[0], "TLSv1.3") == 0)
		ctx->cfg->ftps_tls13_only = true;
	else {
		ctx_msg(ctx, "%s: expected TLSv1.2 or TLSv1.3, got \"%s\"", k->name, argv[0]);
		return -1;
	}
	return 0;
}

static void
dump_ftps_min_protocol(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	fprintf(f, "%s\n", cfg->ftps_tls13_only ? "TLSv1.3" : "TLSv1.2");
}

static int
set_ftps_passive_ports(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	uint32_t lo, hi;
	const char *dash;
	_cleanup_free_ char *first = NULL;

	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	dash = strchr(argv[0], '-');
	first = dash ? xstrndup(argv[0], (size_t)(dash - argv[0])) : xstrdup(argv[0]);
	if (!dash || parse_u32(first, 10, &lo) < 0 || parse_u32(dash + 1, 10, &hi) < 0 ||
	    lo < 1024 || hi > 65535 || lo > hi) {
		ctx_msg(ctx,
		        "%s: expected \"min-max\" with 1024 <= min <= max <= 65535, got \"%s\"",
		        k->name, argv[0]);
		return -1;
	}
	ctx->cfg->ftps_passive_min = lo;
	ctx->cfg->ftps_passive_max = hi;
	return 0;
}

static void
dump_ftps_passive_ports(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	fprintf(f, "%u-%u\n", cfg->ftps_passive_min, cfg->ftps_passive_max);
}

static bool
ipv4_ok(const char *s)
{
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1;
}

static int
set_ftps_passive_address(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	free(ctx->cfg->ftps_passive_address);
	ctx->cfg->ftps_passive_address = NULL;
	if (strcasecmp(argv[0], "none") == 0)
		return 0;
	if (!ipv4_ok(argv[0])) {
		ctx_msg(ctx,
		        "%s: \"%s\" is not a numeric IPv4 address (PASV announces IPv4; "
		        "IPv6 clients use EPSV)",
		        k->name, argv[0]);
		return -1;
	}
	ctx->cfg->ftps_passive_address = xstrdup(argv[0]);
	return 0;
}

/* FTPSPassiveAddressFor networks address: the networks are checked at -t (they use the
 * account layer's address patterns). */
static int
set_ftps_passive_for(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	struct berth_config *cfg = ctx->cfg;

	if (argc == 1 && strcasecmp(argv[0], "none") == 0)
		return 0; /* no override (what -T prints for none) */
	if (need_args(ctx, k, argc, 2) < 0)
		return -1;
	if (strspn(argv[0], "0123456789abcdefABCDEF.:/,!*?") != strlen(argv[0])) {
		ctx_msg(ctx, "%s: \"%s\" is not an address pattern list (e.g. 10.0.0.0/8)", k->name,
		        argv[0]);
		return -1;
	}
	if (!ipv4_ok(argv[1])) {
		ctx_msg(ctx, "%s: \"%s\" is not a numeric IPv4 address", k->name, argv[1]);
		return -1;
	}
	cfg->ftps_passive_for = xreallocarray(cfg->ftps_passive_for, cfg->n_ftps_passive_for + 1,
	                                      sizeof(*cfg->ftps_passive_for));
	cfg->ftps_passive_for[cfg->n_ftps_passive_for++] = (struct berth_ftps_passive_for){
	        .networks = xstrdup(argv[0]), .address = xstrdup(argv[1])};
	return 0;
}

static void
dump_ftps_passive_for(const struct berth_config *cfg, const struct kw *k, FILE *f)
{
	for (size_t i = 0; i < cfg->n_ftps_passive_for; i++)
		fprintf(f, "ftpspassiveaddressfor %s %s\n", cfg->ftps_passive_for[i].networks,
		        cfg->ftps_passive_for[i].address);
	if (cfg->n_ftps_passive_for == 0)
		fprintf(f, "ftpspassiveaddressfor none\n");
}

/* DefenderAllowFrom: an address pattern list (checked like the account layer reads it),
 * or none. */
static int
set_defender_allow(struct parse_ctx *ctx, const struct kw *k, char **argv, size_t argc)
{
	char **field = &ctx->cfg->defender_allow_from;

	if (need_args(ctx, k, argc, 1) < 0)
		return -1;
	if (strcasecmp(argv[0], "none") == 0) {
		free(*field);
		*field = NULL;
		return 0;
	}
	if (strspn(argv[0], "0123456789abcdefABCDEF.:/,!*?") != strlen(argv[0]) ||
	    berth_match_addr_list("0.0.0.0", argv[0]) == -EINVAL ||
	    berth_match_addr_list("::", argv[0]) == -EINVAL) {
		ctx_msg(ctx, "%s: \"%s\" is not an address pattern list (e.g. 10.0.0.0/8,::1)",
		        k->name, argv[0]);
		return -1;
	}
	free(*field);
	*field = xstrdup(argv[0]);
	return 0;
}

/* ---- algorithm names libssh 0.10 implements ---- */

static const char *const known_ciphers[] = {
        "chacha20-poly1305@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com",
        "aes256-ctr",
        "aes192-ctr",
        "aes128-ctr",
        "aes256-cbc",
        "aes192-cbc",
        "aes128-cbc",
        "3des-cbc",
        NULL,
};
static const char *const known_kex[] = {
        "curve25519-sha256",
        "curve25519-sha256@libssh.org",
        "ecdh-sha2-nistp256",
        "ecdh-sha2-nistp384",
        "ecdh-sha2-nistp521",
        "diffie-hellman-group18-sha512",
        "diffie-hellman-group16-sha512",
        "diffie-hellman-group14-sha256",
        "diffie-hellman-group14-sha1",
        "diffie-hellman-group1-sha1",
        "diffie-hellman-group-exchange-sha256",
        "diffie-hellman-group-exchange-sha1",
        NULL,
};
static const char *const known_macs[] = {
        "hmac-sha2-256-etm@openssh.com",
        "hmac-sha2-512-etm@openssh.com",
        "hmac-sha1-etm@openssh.com",
        "hmac-sha2-256",
        "hmac-sha2-512",
        "hmac-sha1",
        NULL,
};
static const char *const known_keyalgs[] = {
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "rsa-sha2-512",
        "rsa-sha2-256",
        "ssh-rsa",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        NULL,
};

#define DEF_CIPHERS                                                                                \
	"chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"             \
	"aes256-ctr,aes192-ctr,aes128-ctr"
#define DEF_KEX                                                                                    \
	"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"    \
	"ecdh-sha2-nistp521,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"          \
	"diffie-hellman-group14-sha256"
#define DEF_MACS                                                                                   \
	"hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"
#define DEF_HOSTKEYALGS                                                                            \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"    \
	"rsa-sha2-256"
#define DEF_PUBKEYALGS                                                                             \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"                 \
	"sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,"              \
	"rsa-sha2-256"

#define OFF(field)  offsetof(struct berth_config, field)
#define ORIG(field) offsetof(struct berth_config, field)

/* The table. Order = dump order = man page order. */
static const struct kw keywords[] = {
        /* network */
        {"ListenAddress", KW_CUSTOM, "list", NULL,
         "Address to listen on: a numeric IPv4 or IPv6 address, optionally with a port "
         "(addr:port, [v6]:port). Repeatable. Default: 0.0.0.0 and ::.",
         .multi = true, .set = set_listen, .dump = dump_listen, .origin_off = ORIG(origin_listen)},
        {"Port", KW_UINT, "int", "22", "Port used by ListenAddress entries without one.", OFF(port),
         1, 65535, .set = NULL},
        {"HostKey", KW_CUSTOM, "path list", NULL,
         "Host private key file. Repeatable. Default: ssh_host_ed25519_key and "
         "ssh_host_rsa_key in StateDirectory.",
         .multi = true, .set = set_strv, .dump = dump_strv, .origin_off = ORIG(origin_host_keys)},
        {"StateDirectory", KW_PATH, "path", BERTH_LOCALSTATEDIR,
         "Directory for generated host keys and runtime state.", OFF(state_directory),
         .origin_off = ORIG(origin_state_directory)},
        {"PidFile", KW_PATH, "path", "/run/berthd/berthd.pid", "PID file, or none.", OFF(pid_file),
         .none_ok = true},
        /* accounts */
        {"AccountsFile", KW_PATH, "path", BERTH_SYSCONFDIR "/accounts",
         "Virtual accounts file (berth-accounts(5)), or none.", OFF(accounts_file), .none_ok = true,
         .origin_off = ORIG(origin_accounts_file)},
        {"SystemAccounts", KW_BOOL, "bool", "no",
         "Also accept system (NSS) users that are not virtual accounts.", OFF(system_accounts)},
        {"SystemAccountRoot", KW_STRING, "string", "%h",
         "Jail root of system accounts; %h = home directory, %u = user name.", OFF(system_root),
         .origin_off = ORIG(origin_system_root)},
        {"AuthorizedKeysFile", KW_CUSTOM, "list", ".ssh/authorized_keys",
         "Key files of system accounts; relative paths are under the home directory; %h, %u "
         "expand; none disables.",
         .set = set_strv, .dump = dump_strv},
        {"AllowUsers", KW_CUSTOM, "list", NULL,
         "Only these users (patterns user or user@address-pattern) may log in.", .multi = true,
         .set = set_strv, .dump = dump_strv, .origin_off = ORIG(origin_allow_users)},
        {"DenyUsers", KW_CUSTOM, "list", NULL, "These users may not log in (checked first).",
         .multi = true, .set = set_strv, .dump = dump_strv, .origin_off = ORIG(origin_deny_users)},
        /* authentication */
        {"AuthenticationMethods", KW_CUSTOM, "chains", "any",
         "Required method chains, sshd syntax: publickey,password publickey.",
         .set = set_authmethods, .dump = dump_authmethods, .origin_off = ORIG(origin_auth_methods)},
        {"PubkeyAuthentication", KW_BOOL, "bool", "yes", "Allow publickey.",
         OFF(pubkey_authentication)},
        {"PasswordAuthentication", KW_BOOL, "bool", "yes", "Allow password.",
         OFF(password_authentication)},
        {"KbdInteractiveAuthentication", KW_BOOL, "bool", "yes", "Allow keyboard-interactive.",
         OFF(kbdint_authentication)},
        {"UsePAM", KW_BOOL, "bool", "no", "Use PAM for system accounts.", OFF(use_pam)},
        {"PAMServiceName", KW_STRING, "string", "berthd", "PAM service name.",
         OFF(pam_service_name)},
        {"MaxAuthTries", KW_UINT, "int", "6", "Failed attempts per connection.",
         OFF(max_auth_tries), 1, 100},
        {"RequiredRSASize", KW_UINT, "int", "3072", "Minimum RSA key size in bits.",
         OFF(required_rsa_size), 3072, 16384},
        /* limits */
        {"LoginGraceTime", KW_DURATION, "duration", "120",
         "Time to authenticate before the connection is closed; 0 = unlimited.",
         OFF(login_grace_time), 0, 3600},
        {"MaxStartups", KW_CUSTOM, "start:rate:full", "256:30:512",
         "Random early drop of unauthenticated connections.", .set = set_maxstartups,
         .dump = dump_maxstartups},
        {"PerSourceMaxStartups", KW_UINT, "int", "16",
         "Unauthenticated connections per source network block.", OFF(per_source_max_startups), 1,
         100000},
        {"PerSourceMaxConnections", KW_UINT, "int", "64",
         "Connections (any state) per source network block.", OFF(per_source_max_connections), 1,
         100000},
        {"PerSourceNetBlockSize", KW_CUSTOM, "v4bits:v6bits", "32:128",
         "Prefix lengths grouping addresses for per-source limits.", .set = set_netblock,
         .dump = dump_netblock},
        {"MaxConnections", KW_UINT, "int", "1024", "Connections in total.", OFF(max_connections), 1,
         1000000},
        {"MaxSessions", KW_UINT, "int", "10",
         "Concurrent session channels (sftp, scp) per connection, as in sshd.",
         OFF(max_sessions_per_conn), 1, BERTH_MAX_SESSIONS_PER_CONN},
        {"IdleTimeout", KW_DURATION, "duration", "0",
         "Disconnect a connection without traffic for this long; 0 = off.", OFF(idle_timeout), 0,
         604800},
        {"StallTimeout", KW_DURATION, "duration", "300",
         "Close a session whose transfer makes no progress for this long; 0 = off.",
         OFF(stall_timeout), 0, 86400},
        {"SeccompFilter", KW_BOOL, "bool", "yes",
         "seccomp-bpf allow-lists in the network child and the workers; no is for debugging.",
         OFF(seccomp_filter)},
        /* crypto */
        {"Ciphers", KW_ALGOS, "algorithms", DEF_CIPHERS, "Ciphers.", OFF(ciphers),
         .known = known_ciphers},
        {"KexAlgorithms", KW_ALGOS, "algorithms", DEF_KEX, "Key exchange algorithms.",
         OFF(kex_algorithms), .known = known_kex},
        {"MACs", KW_ALGOS, "algorithms", DEF_MACS, "MACs.", OFF(macs), .known = known_macs},
        {"HostKeyAlgorithms", KW_ALGOS, "algorithms", DEF_HOSTKEYALGS, "Host key signatures.",
         OFF(host_key_algorithms), .known = known_keyalgs},
        {"PubkeyAcceptedAlgorithms", KW_ALGOS, "algorithms", DEF_PUBKEYALGS,
         "User key signature algorithms.", OFF(pubkey_accepted_algorithms), .known = known_keyalgs},
        /* logging */
        {"SyslogFacility", KW_CUSTOM, "enum", "AUTH", "Syslog facility.", .set = set_facility,
         .dump = dump_facility},
        {"LogLevel", KW_CUSTOM, "enum", "INFO", "QUIET .. DEBUG3.", .set = set_loglevel,
         .dump = dump_loglevel},
        {"LogTarget", KW_CUSTOM, "enum", "syslog", "syslog, stderr or journald.",
         .set = set_logtarget, .dump = dump_logtarget},
        {"TransferLog", KW_PATH, "path", "none",
         "Transfer log in xferlog format (wu-ftpd, ProFTPD, vsftpd), written by the "
         "connection's monitor, or none.",
         OFF(transfer_log), .none_ok = true, .origin_off = ORIG(origin_transfer_log)},
        {"TransferLogJSON", KW_PATH, "path", "none",
         "Transfer log as one JSON object per line, or none.", OFF(transfer_log_json),
         .none_ok = true, .origin_off = ORIG(origin_transfer_log_json)},
        /* engine */
        {"ReadOnly", KW_BOOL, "bool", "no", "Refuse every writing request.", OFF(read_only),
         .origin_off = ORIG(origin_read_only)},
        {"DenyRequests", KW_CUSTOM, "list", "none", "Refused request names (sftp-server -P).",
         OFF(deny_requests), .set = set_requests, .dump = dump_requests},
        {"AllowRequests", KW_CUSTOM, "list", "all", "Only these requests (sftp-server -p).",
         OFF(allow_requests), .set = set_requests, .dump = dump_requests},
        {"Umask", KW_CUSTOM, "octal", "0022", "Umask for created files.", .set = set_umask,
         .dump = dump_umask},
        /* FTPS */
        {"FTPSListenAddress", KW_CUSTOM, "list", NULL,
         "Explicit FTPS (AUTH TLS) listener: numeric addresses with optional ports (default "
         "21), then optionally allow-plain to accept plain FTP on that listener. Repeatable; "
         "none = no listener. Default: none (FTPS off).",
         .multi = true, .set = set_ftps_listen, .dump = dump_ftps_listen,
         .origin_off = ORIG(origin_ftps_listen)},
        {"FTPSImplicitListenAddress", KW_CUSTOM, "list", NULL,
         "Implicit FTPS listener (TLS from the first byte): numeric addresses with optional "
         "ports (default 990). Repeatable; none = no listener. Default: none.",
         .multi = true, .set = set_ftps_listen, .dump = dump_ftps_listen,
         .origin_off = ORIG(origin_ftps_listen)},
        {"FTPSCertificateFile", KW_PATH, "path", "none",
         "PEM certificate chain (leaf first) for FTPS, read by root at start-up.",
         OFF(ftps_cert_file), .none_ok = true, .origin_off = ORIG(origin_ftps_cert)},
        {"FTPSCertificateKeyFile", KW_PATH, "path", "none",
         "PEM private key (unencrypted, not readable by others); none = in the certificate "
         "file.",
         OFF(ftps_key_file), .none_ok = true},
        {"FTPSMinProtocol", KW_CUSTOM, "enum", "TLSv1.2", "TLSv1.2 or TLSv1.3.",
         .set = set_ftps_min_protocol, .dump = dump_ftps_min_protocol},
        {"FTPSCiphers", KW_STRING, "string", BERTH_TLS_CIPHERS,
         "TLS 1.2 cipher list (OpenSSL syntax).", OFF(ftps_ciphers)},
        {"FTPSCipherSuites", KW_STRING, "string", BERTH_TLS_CIPHERSUITES,
         "TLS 1.3 cipher suites (OpenSSL syntax).", OFF(ftps_ciphersuites)},
        {"FTPSAllowClearData", KW_BOOL, "bool", "no",
         "Accept PROT C (unprotected data connections) on TLS sessions.",
         OFF(ftps_allow_clear_data)},
        {"FTPSAllowCCC", KW_BOOL, "bool", "no",
         "Accept CCC (continue the control connection in plaintext after login).",
         OFF(ftps_allow_ccc)},
        {"FTPSPassivePorts", KW_CUSTOM, "min-max", "49152-65535",
         "Ports for passive data connections (a random one each time).",
         .set = set_ftps_passive_ports, .dump = dump_ftps_passive_ports},
        {"FTPSPassiveAddress", KW_CUSTOM, "address", "none",
         "IPv4 address announced in PASV replies; none = the control connection's local "
         "address.",
         .set = set_ftps_passive_address, .dump = dump_string, .off = OFF(ftps_passive_address),
         .origin_off = ORIG(origin_ftps_passive)},
        {"FTPSPassiveAddressFor", KW_CUSTOM, "networks address", NULL,
         "For clients matching the address patterns, announce this IPv4 address instead "
         "(NAT). Repeatable; the first matching line wins; none = no override.",
         .multi = true, .set = set_ftps_passive_for, .dump = dump_ftps_passive_for,
         .origin_off = ORIG(origin_ftps_passive)},
        {"FTPSMaxLineLength", KW_UINT, "int", "4096",
         "Longest FTP command line; longer lines are refused, never buffered.", OFF(ftps_max_line),
         512, 65536},
        {"FTPSMaxPreLoginCommands", KW_UINT, "int", "32",
         "Commands before login; the next one closes the connection.",
         OFF(ftps_max_prelogin_commands), 1, 1000},
        {"FTPSMaxInvalidCommands", KW_UINT, "int", "10",
         "Unknown, refused or overlong commands before login that close the connection.",
         OFF(ftps_max_invalid_commands), 1, 1000},
        {"FTPSDataTimeout", KW_DURATION, "duration", "60",
         "Time for a data connection to be opened (accept or connect, and its TLS "
         "handshake).",
         OFF(ftps_data_timeout), 1, 3600},
        /* defender and control socket */
        {"Defender", KW_BOOL, "bool", "yes",
         "Score sources for failed logins, unknown users, disconnects before login, protocol "
         "violations and connection floods, and refuse banned ones right after accept().",
         OFF(defender)},
        {"DefenderThreshold", KW_UINT, "int", "15",
         "Score within DefenderObservationTime that bans a source.", OFF(defender_threshold), 1,
         10000},
        {"DefenderScoreAuthFailure", KW_UINT, "int", "1",
         "Points for a failed authentication of a known user.", OFF(defender_score_auth), 0, 10000},
        {"DefenderScoreInvalidUser", KW_UINT, "int", "2",
         "Points for an attempt with an unknown user name.", OFF(defender_score_invalid), 0, 10000},
        {"DefenderScoreNoAuth", KW_UINT, "int", "1", "Points for a connection closed before login.",
         OFF(defender_score_noauth), 0, 10000},
        {"DefenderScoreViolation", KW_UINT, "int", "5",
         "Points for a protocol violation the monitor sees.", OFF(defender_score_violation), 0,
         10000},
        {"DefenderScoreFlood", KW_UINT, "int", "3",
         "Points for a connection refused by PerSourceMaxStartups or "
         "PerSourceMaxConnections.",
         OFF(defender_score_flood), 0, 10000},
        {"DefenderObservationTime", KW_DURATION, "duration", "30m",
         "How long an event counts towards the score.", OFF(defender_observation), 1, 604800},
        {"DefenderBanTime", KW_DURATION, "duration", "30m", "Length of a source's first ban.",
         OFF(defender_ban_time), 1, 31536000},
        {"DefenderBanTimeFactor", KW_UINT, "int", "2",
         "Each further ban of the same source lasts this many times the previous one.",
         OFF(defender_ban_factor), 1, 100},
        {"DefenderBanTimeMax", KW_DURATION, "duration", "1d",
         "Longest ban; a source is forgotten this long after its last ban ended.",
         OFF(defender_ban_time_max), 1, 31536000},
        {"DefenderAllowFrom", KW_CUSTOM, "address patterns", "127.0.0.0/8,::1",
         "Sources never banned by score (address pattern list); none = every source.",
         .set = set_defender_allow, .dump = dump_string, .off = OFF(defender_allow_from)},
        {"DefenderIPv4Prefix", KW_UINT, "int", "32", "IPv4 sources are scored per this prefix.",
         OFF(defender_v4_prefix), 8, 32},
        {"DefenderIPv6Prefix", KW_UINT, "int", "64", "IPv6 sources are scored per this prefix.",
         OFF(defender_v6_prefix), 16, 128},
        {"DefenderMaxSources", KW_UINT, "int", "10000",
         "Sources remembered at most (the stalest unbanned one is forgotten first).",
         OFF(defender_max_sources), 16, 1000000},
        {"ControlSocket", KW_PATH, "path", "/run/berthd/control",
         "Root-only Unix socket for berthctl sessions, kick and ban; none = no socket.",
         OFF(control_socket), .none_ok = true},
};

static_assert(ARRAY_SIZE(keywords) <= 128, "parse_ctx.seen too small");

static kw_set_fn
kw_setter(const struct kw *k)
{
	if (k->set)
		return k->set;
	switch (k->type) {
	case KW_STRING:
	case KW_PATH:
		return set_string;
	case KW_BOOL:
		return set_bool;
	case KW_UINT:
	case KW_DURATION:
		return set_uint;
	case KW_ALGOS:
		return set_algos;
	case KW_CUSTOM:
		break;
	}
	abort();
}

static kw_dump_fn
kw_dumper(const struct kw *k)
{
	if (k->dump)
		return k->dump;
	switch (k->type) {
	case KW_STRING:
	case KW_PATH:
	case KW_ALGOS:
		return dump_string;
	case KW_BOOL:
		return dump_bool;
	case KW_UINT:
	case KW_DURATION:
		return dump_uint;
	case KW_CUSTOM:
		break;
	}
	abort();
}

/* ---- lexer ---- */

/* Split @line (modified in place) into words. Returns argc or -1 with ctx->msg set. */
static int
split_words(struct parse_ctx *ctx, char *line, char **argv, size_t max)
{
	size_t argc = 0;
	char *p = line;

	for (;;) {
		char *out;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		if (argc >= max) {
			ctx_msg(ctx, "too many arguments (max %zu)", max);
			return -1;
		}
		out = p;
		argv[argc++] = out;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '\0') {
					ctx_msg(ctx, "unterminated quoted string");
					return -1;
				}
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
					*out++ = p[1];
					p += 2;
					continue;
				}
				if (*p == '"') {
					p++;
					break;
				}
				*out++ = *p++;
			}
			if (*p != '\0' && *p != ' ' && *p != '\t') {
				ctx_msg(ctx, "garbage after closing quote");
				return -1;
			}
		} else {
			while (*p && *p != ' ' && *p != '\t') {
				if (*p == '"') {
					ctx_msg(ctx, "unexpected quote inside a word");
					return -1;
				}
				*out++ = *p++;
			}
		}
		if (*p)
			p++;
		*out = '\0';
	}
	return (int)argc;
}

/* Old names still accepted; berthd -T prints the new one. */
static const struct {
	const char *old, *now;
} kw_aliases[] = {
        {"PerSourceMaxSessions", "PerSourceMaxConnections"}, /* before MaxSessions meant sshd's */
};

static const struct kw *
kw_find(const char *name, size_t *ret_idx)
{
	for (size_t i = 0; i < ARRAY_SIZE(kw_aliases); i++)
		if (strcasecmp(kw_aliases[i].old, name) == 0)
			name = kw_aliases[i].now;
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
		if (strcasecmp(keywords[i].name, name) == 0) {
			*ret_idx = i;
			return &keywords[i];
		}
	}
	return NULL;
}

static void parse_text(struct parse_ctx *ctx, const char *text, size_t len);

static const char *
remember_file(struct berth_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_files; i++)
		if (strcmp(cfg->files[i], name) == 0)
			return cfg->files[i];
	strv_push(&cfg->files, &cfg->n_files, name);
	return cfg->files[cfg->n_files - 1];
}

static int
read_file(const char *path, char **ret, size_t *ret_len)
{
	return read_small_file(path, MAX_FILE_SIZE, false, ret, ret_len);
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
do_include(struct parse_ctx *ctx, char **argv, size_t argc)
{
	const char *saved_file = ctx->file;
	unsigned saved_line = ctx->line;

	if (argc == 0) {
		ctx_error(ctx, "Include: missing argument");
		return;
	}
	if (ctx->depth >= BERTH_CONF_INCLUDE_DEPTH) {
		ctx_error(ctx, "Include: nesting deeper than %d (include loop?)",
		          BERTH_CONF_INCLUDE_DEPTH);
		return;
	}
	for (size_t i = 0; i < argc; i++) {
		_cleanup_free_ char *pattern = NULL;
		glob_t g = {0};
		int r;

		if (argv[i][0] == '/' || !ctx->base_dir)
			pattern = xstrdup(argv[i]);
		else
			pattern = xasprintf("%s/%s", ctx->base_dir, argv[i]);
		r = glob(pattern, GLOB_NOSORT | GLOB_ERR, NULL, &g);
		if (r == GLOB_NOMATCH) {
			/* Like sshd: a pattern that matches nothing is not an error. */
			globfree(&g);
			continue;
		}
		if (r != 0) {
			ctx_error(ctx, "Include: cannot expand \"%s\"", pattern);
			globfree(&g);
			continue;
		}
		/* Sorted for a deterministic order (first-wins semantics depend on it). */
		qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_strp);
		for (size_t j = 0; j < g.gl_pathc; j++) {
			_cleanup_free_ char *data = NULL;
			size_t len;

			r = read_file(g.gl_pathv[j], &data, &len);
			if (r < 0) {
				ctx_error(ctx, "Include: cannot read \"%s\": %s", g.gl_pathv[j],
				          strerror(-r));
				continue;
			}
			ctx->depth++;
			ctx->file = remember_file(ctx->cfg, g.gl_pathv[j]);
			ctx->line = 0;
			parse_text(ctx, data, len);
			ctx->file = saved_file;
			ctx->line = saved_line;
			ctx->depth--;
		}
		globfree(&g);
	}
}

static void
parse_line(struct parse_ctx *ctx, char *line)
{
	char *argv[MAX_ARGS + 1];
	char *kwname = line;
	const struct kw *k;
	size_t idx;
	int argc;

	while (*kwname == ' ' || *kwname == '\t' || *kwname == '\r')
		kwname++;
	size_t l = strlen(kwname);
	while (l && (kwname[l - 1] == '\r' || kwname[l - 1] == ' ' || kwname[l - 1] == '\t'))
		kwname[--l] = '\0';
	if (*kwname == '\0' || *kwname == '#')
		return;
	/* Keyword ends at whitespace or '=' (sshd accepts "Keyword=value"). */
	char *p = kwname + strcspn(kwname, " \t=");
	if (*p) {
		*p++ = '\0';
		while (*p == ' ' || *p == '\t' || *p == '=')
			p++;
	}
	for (const char *c = kwname; *c; c++) {
		if (!isalnum((unsigned char)*c)) {
			ctx_error(ctx, "invalid keyword \"%.64s\"", kwname);
			return;
		}
	}
	argc = split_words(ctx, p, argv, MAX_ARGS);
	if (argc < 0) {
		ctx_error(ctx, "%s: %s", kwname, ctx->msg);
		return;
	}
	if (strcasecmp(kwname, "Include") == 0) {
		do_include(ctx, argv, (size_t)argc);
		return;
	}
	if (strcasecmp(kwname, "Match") == 0) {
		ctx_error(ctx, "Match blocks are not supported; use per-account settings in the "
		               "accounts file");
		return;
	}
	k = kw_find(kwname, &idx);
	if (!k && (strcasecmp(kwname, "ClientAliveInterval") == 0 ||
	           strcasecmp(kwname, "ClientAliveCountMax") == 0)) {
		/* sshd habit: say what berthd offers instead of a bare "unknown". */
		ctx_error(ctx, "%s is not supported; use IdleTimeout and StallTimeout", kwname);
		return;
	}
	if (!k) {
		ctx_error(ctx, "unknown keyword \"%.64s\"", kwname);
		return;
	}
	/* Single-valued keywords: first occurrence wins (sshd); later ones are still
	 * validated so that `berthd -t` reports their errors. */
	if (!k->multi && ctx->seen[idx]) {
		struct berth_config scratch;
		struct parse_ctx sub = *ctx;

		berth_config_init_defaults(&scratch);
		sub.cfg = &scratch;
		if (kw_setter(k)(&sub, k, argv, (size_t)argc) < 0)
			ctx_error(ctx, "%s", sub.msg);
		berth_config_free(&scratch);
		return;
	}
	if (kw_setter(k)(ctx, k, argv, (size_t)argc) < 0) {
		ctx_error(ctx, "%s", ctx->msg);
		return;
	}
	ctx->seen[idx] = true;
	if (k->origin_off) {
		struct berth_conf_origin *o =
		        (struct berth_conf_origin *)((char *)ctx->cfg + k->origin_off);
		if (!o->file) {
			o->file = ctx->file;
			o->line = ctx->line;
		}
	}
}

/* True for bytes below 0x20 other than tab, and DEL; a CR right before the newline
 * (a CRLF file) is allowed. */
static bool
has_control_char(const char *p, size_t len)
{
	if (len > 0 && p[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return true;
	}
	return false;
}

static void
parse_text(struct parse_ctx *ctx, const char *text, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
		_cleanup_free_ char *line = NULL;

		ctx->line++;
		if (llen > BERTH_CONF_MAX_LINE) {
			ctx_error(ctx, "line too long (%zu bytes, max %d)", llen,
			          BERTH_CONF_MAX_LINE);
		} else if (memchr(text + pos, '\0', llen)) {
			ctx_error(ctx, "NUL byte in line");
		} else if (has_control_char(text + pos, llen)) {
			/* A stray CR or escape inside a value would be stored, printed by -T
			 * and mean something else when read back. */
			ctx_error(ctx, "control character in line");
		} else {
			line = xstrndup(text + pos, llen);
			parse_line(ctx, line);
		}
		pos += llen + (nl ? 1 : 0);
	}
}

/* ---- lifecycle ---- */

static void
apply_defaults(struct berth_config *cfg)
{
	struct parse_ctx ctx = {.cfg = cfg, .defaults = true, .file = "(defaults)"};

	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
		const struct kw *k = &keywords[i];
		char *argv[MAX_ARGS];
		_cleanup_free_ char *copy = NULL;
		int argc;

		if (!k->def || k->multi)
			continue;
		copy = xstrdup(k->def);
		argc = split_words(&ctx, copy, argv, MAX_ARGS);
		if (argc < 0 || kw_setter(k)(&ctx, k, argv, (size_t)argc) < 0)
			abort(); /* the table's defaults are wrong: a programming error */
	}
}

static void
finish_defaults(struct berth_config *cfg)
{
	if (cfg->n_listen == 0) {
		cfg->listen = xcalloc(2, sizeof(*cfg->listen));
		cfg->listen[0].host = xstrdup("0.0.0.0");
		cfg->listen[1].host = xstrdup("::");
		cfg->n_listen = 2;
	}
	if (cfg->n_host_keys == 0) {
		const char *dir = cfg->state_directory;

		cfg->host_keys = xcalloc(2, sizeof(char *));
		cfg->host_keys[0] = xasprintf("%s/ssh_host_ed25519_key", dir);
		cfg->host_keys[1] = xasprintf("%s/ssh_host_rsa_key", dir);
		cfg->n_host_keys = 2;
	}
}

void
berth_config_init_defaults(struct berth_config *cfg)
{
	*cfg = (struct berth_config){0};
	apply_defaults(cfg);
	finish_defaults(cfg);
}

void
berth_config_free(struct berth_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_listen; i++)
		free(cfg->listen[i].host);
	free(cfg->listen);
	strv_free(&cfg->host_keys, &cfg->n_host_keys);
	strv_free(&cfg->authorized_keys_files, &cfg->n_authorized_keys_files);
	strv_free(&cfg->allow_users, &cfg->n_allow_users);
	strv_free(&cfg->deny_users, &cfg->n_deny_users);
	strv_free(&cfg->files, &cfg->n_files);
	free(cfg->state_directory);
	free(cfg->pid_file);
	free(cfg->accounts_file);
	free(cfg->system_root);
	free(cfg->pam_service_name);
	free(cfg->ciphers);
	free(cfg->kex_algorithms);
	free(cfg->macs);
	free(cfg->host_key_algorithms);
	free(cfg->pubkey_accepted_algorithms);
	free(cfg->deny_requests);
	free(cfg->allow_requests);
	free(cfg->transfer_log);
	free(cfg->transfer_log_json);
	for (size_t i = 0; i < cfg->n_ftps_listen; i++)
		free(cfg->ftps_listen[i].host);
	free(cfg->ftps_listen);
	free(cfg->ftps_cert_file);
	free(cfg->ftps_key_file);
	free(cfg->ftps_ciphers);
	free(cfg->ftps_ciphersuites);
	free(cfg->ftps_passive_address);
	for (size_t i = 0; i < cfg->n_ftps_passive_for; i++) {
		free(cfg->ftps_passive_for[i].networks);
		free(cfg->ftps_passive_for[i].address);
	}
	free(cfg->ftps_passive_for);
	free(cfg->defender_allow_from);
	free(cfg->control_socket);
	*cfg = (struct berth_config){0};
}

static int
load_common(const char *text, size_t len, const char *name, const char *base_dir,
            struct berth_config *ret, struct berth_errors *errors)
{
	struct berth_config cfg = {0};
	struct parse_ctx ctx = {.cfg = &cfg, .errors = errors};

	apply_defaults(&cfg);
	ctx.file = remember_file(&cfg, name);
	ctx.base_dir = base_dir ? xstrdup(base_dir) : NULL;
	parse_text(&ctx, text, len);
	free(ctx.base_dir);
	finish_defaults(&cfg);
	if (ctx.failed) {
		berth_config_free(&cfg);
		return BERTH_CONF_E_INVALID;
	}
	*ret = cfg;
	return 0;
}

int
berth_config_load_string(const char *text, size_t len, const char *name, struct berth_config *ret,
                         struct berth_errors *errors)
{
	return load_common(text, len, name, NULL, ret, errors);
}

int
berth_config_load(const char *path, struct berth_config *ret, struct berth_errors *errors)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ char *dir = NULL;
	size_t len;
	int r;

	r = read_file(path, &data, &len);
	if (r < 0) {
		berth_errors_add(errors, path, 0, "cannot read configuration: %s", strerror(-r));
		return r;
	}
	const char *slash = strrchr(path, '/');
	dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	if (dir[0] == '\0') {
		free(dir);
		dir = xstrdup("/");
	}
	return load_common(data, len, path, dir, ret, errors);
}

int
berth_config_quickstart(const char *state_dir, struct berth_config *ret)
{
	struct berth_config cfg;

	if (!state_dir || state_dir[0] != '/')
		return -EINVAL;
	berth_config_init_defaults(&cfg);
	free(cfg.state_directory);
	cfg.state_directory = xstrdup(state_dir);
	strv_free(&cfg.host_keys, &cfg.n_host_keys);
	finish_defaults(&cfg);
	free(cfg.accounts_file);
	cfg.accounts_file = xasprintf("%s/accounts", state_dir);
	free(cfg.pid_file);
	cfg.pid_file = NULL;
	free(cfg.control_socket);
	cfg.control_socket = xasprintf("%s/control", state_dir);
	cfg.log_target = BERTH_LOG_TARGET_STDERR;
	*ret = cfg;
	return 0;
}

void
berth_config_dump(const struct berth_config *cfg, FILE *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
		const struct kw *k = &keywords[i];
		char lname[64];
		size_t j;

		for (j = 0; k->name[j] && j < sizeof(lname) - 1; j++)
			lname[j] = (char)tolower((unsigned char)k->name[j]);
		lname[j] = '\0';
		/* List dumpers print their own keyword on each line. */
		if (k->dump == dump_listen || k->dump == dump_strv || k->dump == dump_ftps_listen ||
		    k->dump == dump_ftps_passive_for) {
			kw_dumper(k)(cfg, k, f);
			continue;
		}
		fprintf(f, "%s ", lname);
		kw_dumper(k)(cfg, k, f);
	}
}

const struct berth_conf_keyword_info *
berth_config_keywords(size_t *ret_n)
{
	static struct berth_conf_keyword_info info[ARRAY_SIZE(keywords)];
	static bool done;

	if (!done) {
		for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
			info[i].name = keywords[i].name;
			info[i].type = keywords[i].type_name;
			info[i].default_text = keywords[i].def ? keywords[i].def : "(computed)";
			info[i].doc = keywords[i].doc;
		}
		done = true;
	}
	*ret_n = ARRAY_SIZE(keywords);
	return info;
}
