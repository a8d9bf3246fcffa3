/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for berthctl explain's report (src/berthctl/report.c): verdicts of the real
 * decision functions recorded as items, the overall verdict and deciding line, the text
 * lines (one per item whatever the strings hold) and the JSON (escaping, UTF-8, nulls). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "berth/common.h"
#include "berth/policy.h"
#include "berth/xmem.h"
#include "report.h"

static struct policy *
build(const char *const *lines)
{
	struct policy *p = policy_new();
	for (unsigned i = 0; lines[i]; i++) {
		char kw[64];
		size_t n = strcspn(lines[i], " ");
		memcpy(kw, lines[i], n);
		kw[n] = '\0';
		const char *err;
		assert_int_equal(policy_set_keyword(p, kw, lines[i] + n + 1, "/etc/berth/accounts",
		                                    10 + i, &err),
		                 0);
	}
	return p;
}

static char *
render(const struct report *r, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	if (json)
		report_print_json(r, f);
	else
		report_print_text(r, f);
	fclose(f);
	return buf;
}

static const char *const partner[] = {
        "Permissions / full",
        "Permissions /in upload-only",
        "Filter /in *.csv,!*.exe",
        NULL,
};

/* The steps of a real verdict become items, the deciding one last, with file:line. */
static void
test_verdict_items(void **state)
{
	(void)state;
	struct policy *p = build(partner);
	struct report *r = report_new();
	struct policy_verdict v;
	struct report_section *s = report_section(r, "path", "upload %s", "/in/x.csv");
	s->primary = true;
	assert_int_equal(policy_decide(p, POLICY_OP_UPLOAD, "/in/x.csv", 0, &v), 0);
	report_verdict(s, &v);
	assert_int_equal(s->n_items, 2);
	assert_string_equal(s->items[0].kind, "permissions");
	assert_string_equal(s->items[0].op, "upload");
	assert_string_equal(s->items[0].text, "Permissions /in upload-only");
	assert_string_equal(s->items[0].file, "/etc/berth/accounts");
	assert_int_equal(s->items[0].line, 11);
	assert_string_equal(s->items[1].kind, "filter");
	assert_int_equal(s->items[1].mark, REPORT_ALLOWS);
	assert_true(report_finish(r));
	assert_string_equal(r->decision,
	                    "allowed upload by Filter /in *.csv,!*.exe at /etc/berth/accounts:12");
	char *t = render(r, false);
	assert_string_equal(t, "upload /in/x.csv:\n"
	                       "  allows   upload    Permissions /in upload-only at "
	                       "/etc/berth/accounts:11\n"
	                       "  allows   upload    Filter /in *.csv,!*.exe at "
	                       "/etc/berth/accounts:12\n"
	                       "  => allowed upload by Filter /in *.csv,!*.exe at "
	                       "/etc/berth/accounts:12\n"
	                       "result: allowed (allowed upload by Filter /in *.csv,!*.exe at "
	                       "/etc/berth/accounts:12)\n");
	free(t);
	report_free(r);
	policy_free(p);
}

/* A refusing stage decides; later stages are hypothetical and do not change the result;
 * when everything allows, the primary stage's line is the result's. */
static void
test_finish(void **state)
{
	(void)state;
	struct policy *p = build(partner);
	struct report *r = report_new();
	struct report_section *login = report_section(r, "login", "login");
	report_item(login, REPORT_DENIES, "value", NULL, "/etc/berth/accounts", 20,
	            "Expires 2020-01-01", NULL);
	report_decide(login, false, "login refused by %s", "Expires 2020-01-01");
	struct report_section *path = report_section(r, "path", "download /in/secret.csv");
	path->hypothetical = true;
	path->primary = true;
	struct policy_verdict v;
	assert_int_equal(policy_decide(p, POLICY_OP_DOWNLOAD, "/in/secret.csv", 0, &v), -EACCES);
	report_verdict(path, &v);
	assert_false(report_finish(r));
	assert_string_equal(r->decision, "login refused by Expires 2020-01-01");
	char *t = render(r, false);
	assert_non_null(strstr(t, "download /in/secret.csv [hypothetical: an earlier stage "
	                          "refuses]:\n  denies   download  Permissions /in upload-only"));
	free(t);
	report_free(r);

	r = report_new();
	report_decide(report_section(r, "login", "login"), true, "login allowed");
	struct report_section *s = report_section(r, "path", "list /");
	s->primary = true;
	assert_int_equal(policy_decide(p, POLICY_OP_LIST, "/", POLICY_F_DIR, &v), 0);
	report_verdict(s, &v);
	report_decide(report_section(r, "quota", "quota"), true, "within the quota");
	assert_true(report_finish(r));
	assert_string_equal(r->decision, "allowed list by Permissions / full at "
	                                 "/etc/berth/accounts:10");
	/* A section without a verdict (notes only) takes no part. */
	report_item(report_section(r, "notes", "notes"), REPORT_NOTE, "note", NULL, NULL, 0,
	            "information", NULL);
	assert_true(report_finish(r));
	report_free(r);
	policy_free(p);
}

/* "file:line" origins (an account's source) are split; other strings are a file. */
static void
test_origin_split(void **state)
{
	(void)state;
	struct report *r = report_new();
	struct report_section *s = report_section(r, "login", "login");
	report_item_at(s, REPORT_ALLOWS, "account", NULL, "/etc/berth/accounts:31", "a", NULL);
	report_item_at(s, REPORT_ALLOWS, "account", NULL, "nss", "b", NULL);
	report_item_at(s, REPORT_ALLOWS, "account", NULL, "C:\\odd:name", "c", NULL);
	report_item_at(s, REPORT_ALLOWS, "account", NULL, NULL, "d", "%d", 4);
	assert_string_equal(s->items[0].file, "/etc/berth/accounts");
	assert_int_equal(s->items[0].line, 31);
	assert_string_equal(s->items[1].file, "nss");
	assert_int_equal(s->items[1].line, 0);
	assert_string_equal(s->items[2].file, "C:\\odd:name");
	assert_null(s->items[3].file);
	assert_string_equal(s->items[3].detail, "4");
	report_free(r);
}

/* Text: control bytes cannot start a line. JSON: escapes, U+FFFD for invalid UTF-8,
 * valid multi-byte characters kept, nulls for absent values. */
static void
test_escaping(void **state)
{
	(void)state;
	struct report *r = report_new();
	report_field(r, "account", "acme");
	report_field(r, "path", "/in/a\nb\x01\"\\\xff\xc3\xa9\xe2\x82\xac\xed\xa0\x80.csv");
	report_field(r, "target", NULL);
	struct report_section *s = report_section(r, "path", "upload /in/a\nresult: allowed");
	report_item(s, REPORT_DENIES, "filter", "upload", "/etc/x\ty", 3, "Filter /in \x7f", "%s",
	            "d\re");
	report_decide(s, false, "denied\nresult: allowed");
	assert_false(report_finish(r));
	char *t = render(r, false);
	assert_string_equal(t, "upload /in/a\\x0aresult: allowed:\n"
	                       "  denies   upload    Filter /in \\x7f (d\\x0de) at "
	                       "/etc/x\\x09y:3\n"
	                       "  => denied\\x0aresult: allowed\n"
	                       "result: denied (denied\\x0aresult: allowed)\n");
	free(t);
	char *j = render(r, true);
	assert_string_equal(
	        j, "{\"account\":\"acme\","
	           "\"path\":\"/in/a\\nb\\u0001\\\"\\\\\\ufffd\xc3\xa9\xe2\x82\xac"
	           "\\ufffd\\ufffd\\ufffd.csv\","
	           "\"target\":null,\"allowed\":false,"
	           "\"decision\":\"denied\\nresult: allowed\","
	           "\"sections\":[{\"name\":\"path\",\"title\":\"upload /in/a\\nresult: allowed\","
	           "\"hypothetical\":false,\"allowed\":false,"
	           "\"decision\":\"denied\\nresult: allowed\",\"rules\":[{\"verdict\":\"denies\","
	           "\"kind\":\"filter\",\"operation\":\"upload\",\"rule\":\"Filter /in \\u007f\","
	           "\"detail\":\"d\\u000de\",\"file\":\"/etc/x\\ty\",\"line\":3}]}]}\n");
	free(j);
	report_free(r);
}

/* An empty report is still one valid JSON object; a section without verdict is null. */
static void
test_json_shapes(void **state)
{
	(void)state;
	struct report *r = report_new();
	assert_true(report_finish(r));
	char *j = render(r, true);
	assert_string_equal(j, "{\"allowed\":true,\"decision\":null,\"sections\":[]}\n");
	free(j);
	report_item(report_section(r, "notes", "n"), REPORT_NOTE, "note", NULL, "f", 0, "x", NULL);
	report_finish(r);
	j = render(r, true);
	assert_string_equal(j, "{\"allowed\":true,\"decision\":null,\"sections\":[{\"name\":"
	                       "\"notes\",\"title\":\"n\",\"hypothetical\":false,\"allowed\":null,"
	                       "\"decision\":null,\"rules\":[{\"verdict\":\"note\",\"kind\":"
	                       "\"note\",\"operation\":null,\"rule\":\"x\",\"detail\":null,"
	                       "\"file\":\"f\",\"line\":null}]}]}\n");
	free(j);
	report_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_verdict_items), cmocka_unit_test(test_finish),
	        cmocka_unit_test(test_origin_split),  cmocka_unit_test(test_escaping),
	        cmocka_unit_test(test_json_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
