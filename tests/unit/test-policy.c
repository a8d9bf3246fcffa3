/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the pure policy function (table-driven), value parsers, merge, codec. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/policy.h"
#include "berth/xmem.h"

/* Build a policy from "Keyword value" lines; line numbers are 1-based indices. */
static struct policy *
build(const char *const *lines)
{
	struct policy *p = policy_new();
	for (unsigned i = 0; lines[i]; i++) {
		char kw[64];
		size_t n = strcspn(lines[i], " ");
		assert_true(n < sizeof(kw));
		memcpy(kw, lines[i], n);
		kw[n] = '\0';
		const char *err = NULL;
		int r = policy_set_keyword(p, kw, lines[i] + n + 1, "accounts", i + 1, &err);
		if (r != 0)
			fail_msg("line \"%s\": %d %s", lines[i], r, err ? err : "");
	}
	return p;
}

static const char *const partner[] = {
        "Permissions / read-only",
        "Permissions /in upload-only",
        "Permissions /in/archive none",
        "Permissions /out list,download,delete",
        "Permissions /work full",
        "Permissions /pub list,download,overwrite,setstat",
        "Filter /in *.csv,*.txt,!secret*",
        "SetstatMode apply",
        NULL,
};

struct decide_case {
	enum policy_op op;
	const char *path;
	unsigned flags;
	int expect;
	unsigned line; /* origin line of the deciding rule, 0 = no rule */
};

static void
test_decide_table(void **state)
{
	static const struct decide_case cases[] = {
	        /* root: read-only preset */
	        {POLICY_OP_LIST, "/", 0, 0, 1},
	        {POLICY_OP_DOWNLOAD, "/readme", 0, 0, 1},
	        {POLICY_OP_UPLOAD, "/new", 0, -EACCES, 1},
	        {POLICY_OP_MKDIR, "/d", 0, -EACCES, 1},
	        {POLICY_OP_DELETE, "/readme", 0, -EACCES, 1},
	        /* drop box: create only, name filter */
	        {POLICY_OP_UPLOAD, "/in/a.csv", 0, 0, 7},
	        {POLICY_OP_UPLOAD, "/in/a.exe", 0, -EACCES, 7},
	        {POLICY_OP_UPLOAD, "/in/secret.csv", 0, -EACCES, 7},
	        {POLICY_OP_OVERWRITE, "/in/a.csv", 0, -EACCES, 2},
	        {POLICY_OP_DOWNLOAD, "/in/a.csv", 0, -EACCES, 2},
	        {POLICY_OP_LIST, "/in", 0, -EACCES, 2},
	        {POLICY_OP_DELETE, "/in/a.csv", 0, -EACCES, 2},
	        {POLICY_OP_UPLOAD, "/in/sub/b.txt", 0, 0, 7}, /* inherited, filter inherited */
	        {POLICY_OP_LIST, "/in/sub", 0, -EACCES, 2},
	        /* the directory /in itself lives in / */
	        {POLICY_OP_RMDIR, "/in", POLICY_F_DIR, -EACCES, 1},
	        /* longer rule overrides */
	        {POLICY_OP_UPLOAD, "/in/archive/x.csv", 0, -EACCES, 3},
	        {POLICY_OP_LIST, "/in/archive", 0, -EACCES, 3},
	        /* prefix must end at a component boundary */
	        {POLICY_OP_UPLOAD, "/input/x.exe", 0, -EACCES, 1},
	        {POLICY_OP_DOWNLOAD, "/input/x", 0, 0, 1},
	        {POLICY_OP_DELETE, "/out/r.pdf", 0, 0, 4},
	        {POLICY_OP_OVERWRITE, "/out/r.pdf", 0, -EACCES, 4},
	        {POLICY_OP_MKDIR, "/work/d", POLICY_F_DIR, 0, 5},
	        {POLICY_OP_SYMLINK, "/work/l", 0, 0, 5},
	        {POLICY_OP_SETSTAT, "/pub/f", 0, 0, 6},
	        {POLICY_OP_SETSTAT, "/out/f", 0, -EACCES, 4},
	        /* filters do not apply to directories */
	        {POLICY_OP_MKDIR, "/in/dir.exe", POLICY_F_DIR, -EACCES, 2},
	        /* reserved names, any directory */
	        {POLICY_OP_DOWNLOAD, "/work/.berth-upload.1", 0, -EACCES, 0},
	        {POLICY_OP_UPLOAD, "/work/.berth-x", 0, -EACCES, 0},
	        {POLICY_OP_UPLOAD, "/work/.berthx", 0, 0, 5},
	};
	struct policy *p = build(partner);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct decide_case *c = &cases[i];
		struct policy_verdict v;
		int r = policy_decide(p, c->op, c->path, c->flags, &v);
		_cleanup_free_ char *why = policy_verdict_describe(&v);
		if (r != c->expect)
			fail_msg("case %zu %s %s: got %d (%s)", i, policy_op_name(c->op), c->path,
			         r, why);
		assert_true(v.n > 0);
		assert_int_equal(v.allowed, r == 0);
		const struct policy_step *s = &v.steps[v.n - 1];
		unsigned line = s->origin ? s->origin->line : 0;
		if (line != c->line)
			fail_msg("case %zu %s %s: decided by line %u, expected %u (%s)", i,
			         policy_op_name(c->op), c->path, line, c->line, why);
	}
	policy_free(p);
}

static void
test_describe(void **state)
{
	struct policy *p = build(partner);
	struct policy_verdict v;
	assert_int_equal(policy_decide(p, POLICY_OP_DOWNLOAD, "/in/a.csv", 0, &v), -EACCES);
	_cleanup_free_ char *s = policy_verdict_describe(&v);
	assert_string_equal(s, "denied download by Permissions /in upload-only at accounts:2");
	policy_free(p);

	struct policy *empty = policy_new();
	assert_int_equal(policy_decide(empty, POLICY_OP_DELETE, "/x", 0, &v), 0);
	_cleanup_free_ char *s2 = policy_verdict_describe(&v);
	assert_string_equal(s2, "allowed delete (no Permissions rule)");
	policy_free(empty);
}

static void
test_read_only_and_setstat(void **state)
{
	static const char *const lines[] = {"ReadOnly yes", "SetstatMode ignore", NULL};
	struct policy *p = build(lines);
	struct policy_verdict v;
	assert_int_equal(policy_decide(p, POLICY_OP_DOWNLOAD, "/f", 0, &v), 0);
	assert_int_equal(policy_decide(p, POLICY_OP_LIST, "/", 0, &v), 0);
	for (unsigned op = POLICY_OP_UPLOAD; op < POLICY_OP_COUNT; op++) {
		assert_int_equal(policy_decide(p, op, "/f", 0, &v), -EACCES);
		assert_int_equal(v.steps[v.n - 1].origin->line, 1);
	}
	policy_free(p);

	static const char *const ign[] = {"SetstatMode ignore", NULL};
	p = build(ign);
	assert_int_equal(policy_decide(p, POLICY_OP_SETSTAT, "/f", 0, &v), POLICY_IGNORE);
	assert_true(v.ignore);
	policy_free(p);
	static const char *const ref[] = {"Permissions / full", "SetstatMode refuse", NULL};
	p = build(ref);
	assert_int_equal(policy_decide(p, POLICY_OP_SETSTAT, "/f", 0, &v), -EACCES);
	assert_int_equal(v.steps[v.n - 1].origin->line, 2);
	policy_free(p);
}

struct two_case {
	const char *src, *dst;
	unsigned flags;
	int expect;
};

static void
test_rename_and_link(void **state)
{
	static const char *const lines[] = {
	        "Permissions / full",
	        "Permissions /ro read-only",
	        "Permissions /in upload,rename",
	        "Permissions /drop upload-only",
	        "Permissions /mv full",
	        NULL,
	};
	static const struct two_case renames[] = {
	        {"/a", "/b", 0, 0},
	        {"/a", "/ro/a", 0, -EACCES},                 /* no upload in /ro */
	        {"/ro/a", "/a", 0, -EACCES},                 /* no rename in /ro */
	        {"/in/a", "/a", 0, -EACCES},                 /* would become downloadable */
	        {"/a", "/in/a", 0, 0},                       /* into a drop box */
	        {"/a", "/drop/a", POLICY_F_EXISTS, -EACCES}, /* replace needs overwrite */
	        {"/a", "/drop/a", 0, 0},
	        {"/mv", "/x", POLICY_F_DIR, -EACCES}, /* carries its own rule */
	        {"/d", "/ro", POLICY_F_DIR | POLICY_F_EXISTS, -EACCES},
	        {"/d", "/e", POLICY_F_DIR, 0},
	        {"/a", "/.berth-x", 0, -EACCES},
	};
	static const struct two_case links[] = {
	        {"/a", "/b", 0, 0},
	        {"/ro/a", "/b", 0, -EACCES}, /* / grants overwrite, /ro does not */
	        {"/a", "/ro/b", 0, -EACCES}, /* no upload in /ro */
	        {"/in/a", "/b", 0, -EACCES}, /* no download in /in */
	        {"/a", "/drop/b", 0, 0},     /* the drop box grants less */
	};
	struct policy *p = build(lines);
	struct policy_verdict v;
	for (size_t i = 0; i < ARRAY_SIZE(renames); i++) {
		int r = policy_decide_rename(p, renames[i].src, renames[i].dst, renames[i].flags,
		                             &v);
		_cleanup_free_ char *why = policy_verdict_describe(&v);
		if (r != renames[i].expect)
			fail_msg("rename %s %s: %d (%s)", renames[i].src, renames[i].dst, r, why);
	}
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		int r = policy_decide_link(p, links[i].src, links[i].dst, &v);
		_cleanup_free_ char *why = policy_verdict_describe(&v);
		if (r != links[i].expect)
			fail_msg("link %s %s: %d (%s)", links[i].src, links[i].dst, r, why);
	}
	policy_free(p);
}

static void
test_login(void **state)
{
	static const char *const lines[] = {
	        "Expires 2030-01-01",
	        "AllowFrom 192.0.2.0/24,2001:db8::/32",
	        "DenyFrom 192.0.2.66",
	        "Protocols sftp,ftps",
	        NULL,
	};
	struct policy *p = build(lines);
	struct policy_verdict v;
	time_t before = 1893456000 - 1; /* 2030-01-01T00:00:00Z - 1 */
	assert_int_equal(policy_check_login(p, "192.0.2.7", before, POLICY_PROTO_SSH, &v), 0);
	assert_int_equal(policy_check_login(p, "192.0.2.7", before + 1, POLICY_PROTO_SSH, &v),
	                 -EACCES);
	assert_int_equal(v.steps[v.n - 1].origin->line, 1);
	assert_int_equal(policy_check_login(p, "192.0.2.66", before, POLICY_PROTO_SSH, &v),
	                 -EACCES);
	assert_int_equal(v.steps[v.n - 1].origin->line, 3);
	assert_int_equal(policy_check_login(p, "198.51.100.1", before, POLICY_PROTO_SSH, &v),
	                 -EACCES);
	assert_int_equal(v.steps[v.n - 1].origin->line, 2);
	assert_int_equal(policy_check_login(p, "2001:db8::5", before, POLICY_PROTO_FTPS, &v), 0);
	assert_int_equal(policy_check_login(p, "192.0.2.7", before, POLICY_PROTO_SCP, &v), -EACCES);
	assert_int_equal(v.steps[v.n - 1].origin->line, 4);
	assert_int_equal(policy_check_login(p, NULL, before, POLICY_PROTO_SSH, &v), -EACCES);
	policy_free(p);
}

static void
test_parsers(void **state)
{
	uint64_t v;
	assert_int_equal(policy_parse_size("10G", &v), 0);
	assert_true(v == (UINT64_C(10) << 30));
	assert_int_equal(policy_parse_size("500M", &v), 0);
	assert_true(v == 500u << 20);
	assert_int_equal(policy_parse_size("1024", &v), 0);
	assert_true(v == 1024);
	assert_int_equal(policy_parse_size("2KiB", &v), 0);
	assert_true(v == 2048);
	assert_int_equal(policy_parse_size("none", &v), 0);
	assert_true(v == 0);
	assert_int_equal(policy_parse_size("10X", &v), -EINVAL);
	assert_int_equal(policy_parse_size("", &v), -EINVAL);
	assert_int_equal(policy_parse_size("-1", &v), -EINVAL);
	assert_int_equal(policy_parse_size("99999999999T", &v), -ERANGE);
	assert_int_equal(policy_parse_size("99999999999999999999999", &v), -EINVAL);
	assert_int_equal(policy_parse_rate("2M/s", &v), 0);
	assert_true(v == 2u << 20);
	int64_t d;
	assert_int_equal(policy_parse_date("2026-12-31", &d), 0);
	assert_true(d == 1798675200);
	assert_int_equal(policy_parse_date("2026-12-31T18:30:15Z", &d), 0);
	assert_true(d == 1798675200 + 18 * 3600 + 30 * 60 + 15);
	assert_int_equal(policy_parse_date("2026-02-30", &d), -EINVAL);
	assert_int_equal(policy_parse_date("2026-1-3", &d), -EINVAL);
	assert_int_equal(policy_parse_date("2026-12-31T25:00", &d), -EINVAL);
	uint32_t perms;
	assert_int_equal(policy_parse_perms("read-only,delete", &perms), 0);
	assert_int_equal(perms, POLICY_PERM(POLICY_OP_LIST) | POLICY_PERM(POLICY_OP_DOWNLOAD) |
	                                POLICY_PERM(POLICY_OP_DELETE));
	assert_int_equal(policy_parse_perms("*", &perms), 0);
	assert_int_equal(perms, POLICY_PERM_ALL);
	assert_int_equal(policy_parse_perms("list,", &perms), -EINVAL);
	assert_int_equal(policy_parse_perms("write", &perms), -EINVAL);
	uint32_t proto;
	assert_int_equal(policy_parse_protocols("sftp,FTPS", &proto), 0);
	assert_int_equal(proto, POLICY_PROTO_SFTP | POLICY_PROTO_FTPS);

	struct {
		const char *kw, *value;
		int expect;
	} kws[] = {
	        {"Permissions", "/in", -EINVAL},
	        {"Permissions", "in full", -EINVAL},
	        {"Permissions", "/a/../b full", -EINVAL},
	        {"Permissions", "\"/my dir\" full", 0},
	        {"Filter", "/in", -EINVAL},
	        {"Filter", "/in a/b", -EINVAL},
	        {"Filter", "/in !", -EINVAL},
	        {"QuotaSize", "10G extra", -EINVAL},
	        {"QuotaFiles", "5000000000", -EINVAL},
	        {"AllowFrom", "10.0.0.0/33", -EINVAL},
	        {"UploadMode", "atomic-resume", 0},
	        {"Frobnicate", "1", POLICY_E_NOT_A_KEYWORD},
	};
	struct policy *p = policy_new();
	for (size_t i = 0; i < ARRAY_SIZE(kws); i++) {
		const char *err = NULL;
		int r = policy_set_keyword(p, kws[i].kw, kws[i].value, "f", 1, &err);
		if (r != kws[i].expect)
			fail_msg("%s %s: %d", kws[i].kw, kws[i].value, r);
		if (r == -EINVAL)
			assert_non_null(err);
	}
	assert_int_equal(p->n_dirs, 1);
	assert_string_equal(p->dirs[0].path, "/my dir");
	policy_free(p);
}

static void
test_merge(void **state)
{
	static const char *const group[] = {"Permissions / read-only",
	                                    "Permissions /in upload-only", "QuotaSize 1G",
	                                    "Expires 2030-01-01", NULL};
	static const char *const own[] = {"Permissions /in full", "QuotaSize 2G", "Expires none",
	                                  NULL};
	struct policy *g = build(group), *a = build(own), *eff = policy_new();
	policy_merge(eff, g);
	policy_merge(eff, a);
	assert_int_equal(eff->n_dirs, 2);
	assert_string_equal(eff->dirs[0].path, "/in");
	assert_int_equal(eff->dirs[0].perms, POLICY_PERM_ALL);
	assert_true(policy_get(eff, POLICY_QUOTA_BYTES) == UINT64_C(2) << 30);
	assert_true(policy_get(eff, POLICY_EXPIRES) == 0);
	struct policy_verdict v;
	assert_int_equal(policy_check_login(eff, "192.0.2.1", 2000000000, POLICY_PROTO_SSH, &v), 0);
	struct policy *d = policy_dup(eff);
	assert_true(policy_equal(d, eff));
	policy_free(d);
	policy_free(g);
	policy_free(a);
	policy_free(eff);
}

static void
test_codec(void **state)
{
	static const char *const lines[] = {
	        "Permissions / read-only",
	        "Permissions /in upload-only",
	        "Filter /in *.csv,!*.exe",
	        "QuotaSize 10G",
	        "QuotaFiles 1000",
	        "MaxFileSize 500M",
	        "UploadBandwidth 2M",
	        "DownloadBandwidth 4M/s",
	        "AllowFrom 192.0.2.0/24",
	        "DenyFrom 192.0.2.9",
	        "Expires 2030-01-01T12:00:00Z",
	        "MaxLogins 3",
	        "Protocols sftp",
	        "UploadMode atomic",
	        "UploadChecksum none",
	        "SetstatMode ignore",
	        NULL,
	};
	struct policy *p = build(lines);
	policy_set_read_only(p, "ReadOnly yes", NULL, 0);
	struct xbuf b = XBUF_NULL;
	xbuf_init(&b, POLICY_CODEC_MAX);
	assert_int_equal(policy_encode(p, &b), 0);
	struct xbuf view;
	xbuf_view_init(&view, xbuf_ptr(&b), xbuf_len(&b));
	struct policy *q = NULL;
	assert_int_equal(policy_decode(&view, &q), 0);
	assert_true(policy_equal(p, q));
	policy_free(q);

	/* Every truncation and one flipped byte per position never crash; a truncation
	 * never decodes. */
	size_t len = xbuf_len(&b);
	uint8_t *copy = xmalloc(len);
	for (size_t cut = 0; cut < len; cut++) {
		xbuf_view_init(&view, xbuf_ptr(&b), cut);
		assert_int_equal(policy_decode(&view, &q), -EBADMSG);
	}
	for (size_t i = 0; i < len; i++) {
		memcpy(copy, xbuf_ptr(&b), len);
		copy[i] ^= 0x80;
		xbuf_view_init(&view, copy, len);
		if (policy_decode(&view, &q) == 0)
			policy_free(q);
	}
	/* Trailing garbage is refused. */
	assert_int_equal(xbuf_put_u8(&b, 0), 0);
	xbuf_view_init(&view, xbuf_ptr(&b), xbuf_len(&b));
	assert_int_equal(policy_decode(&view, &q), -EBADMSG);
	free(copy);
	xbuf_deinit(&b);
	policy_free(p);
}

/* The lexical canonical form: the decorator's first attempt, and `berthctl explain`. */
static void
test_path_lexical(void **state)
{
	(void)state;
	static const struct {
		const char *cwd, *path;
		unsigned flags;
		int r;
		const char *want;
	} cases[] = {
	        {"/", "/in/a.csv", 0, 0, "/in/a.csv"},
	        {"/", "in//a.csv/", 0, 0, "/in/a.csv"},
	        {"/home/x", "a", 0, 0, "/home/x/a"},
	        {"/home/x", "/a", 0, 0, "/a"},
	        {"/home/x", "///", 0, 0, "/"},
	        {"/", "a/./b", 0, 1, NULL},
	        {"/", "a/../b", 0, 1, NULL},
	        {"/", "", 0, -EINVAL, NULL},
	        {"/", "a/./b", POLICY_PATH_DOTS, 0, "/a/b"},
	        {"/", "a/../b", POLICY_PATH_DOTS, 0, "/b"},
	        {"/home/x", "../../../../etc", POLICY_PATH_DOTS, 0, "/etc"},
	        {"/home/x", "..", POLICY_PATH_DOTS, 0, "/home"},
	        {"/", "..", POLICY_PATH_DOTS, 0, "/"},
	        {"/a", "./", POLICY_PATH_DOTS, 0, "/a"},
	        {"/a", "b/..", POLICY_PATH_DOTS, 0, "/a"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *out = NULL;
		int r = policy_path_lexical(cases[i].cwd, cases[i].path, cases[i].flags, &out);
		assert_int_equal(r, cases[i].r);
		if (r == 0)
			assert_string_equal(out, cases[i].want);
		free(out);
	}
	char *big = xmalloc(PATH_MAX + 1), *out = NULL;
	memset(big, 'a', PATH_MAX);
	big[PATH_MAX] = '\0';
	assert_int_equal(policy_path_lexical("/", big, POLICY_PATH_DOTS, &out), -EINVAL);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_decide_table),
	        cmocka_unit_test(test_describe),
	        cmocka_unit_test(test_read_only_and_setstat),
	        cmocka_unit_test(test_rename_and_link),
	        cmocka_unit_test(test_login),
	        cmocka_unit_test(test_parsers),
	        cmocka_unit_test(test_merge),
	        cmocka_unit_test(test_codec),
	        cmocka_unit_test(test_path_lexical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
