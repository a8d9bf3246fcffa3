/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the accounts-file stanza editor, validation, the locked atomic file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "berth/account.h"
#include "berth/acctedit.h"
#include "berth/authkeys.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/xmem.h"

static struct acctedit *
ed_of(const char *text)
{
	struct acctedit *ed = NULL;
	assert_int_equal(acctedit_new(text, strlen(text), &ed), 0);
	return ed;
}

static void
assert_text(const struct acctedit *ed, const char *want)
{
	size_t len;
	char *t = acctedit_text(ed, &len);
	if (strcmp(t, want) != 0)
		fprintf(stderr, "---- got:\n%s---- want:\n%s----\n", t, want);
	assert_string_equal(t, want);
	assert_int_equal(len, strlen(want));
	free(t);
}

static size_t
find(const struct acctedit *ed, const char *kind, const char *name)
{
	size_t s = SIZE_MAX;
	assert_int_equal(acctedit_stanza_find(ed, kind, name, &s), 0);
	return s;
}

static const char sample[] = "# accounts of example.org\n"
                             "\n"
                             "Defaults\n"
                             "    Uid 2000\n"
                             "    Gid 2000\n"
                             "    Root /srv/%u\n"
                             "\n"
                             "# partner A, ticket 17\n"
                             "Account alice\n"
                             "    Password $y$j9T$abc$def\n"
                             "    ReadOnly  no   \n"
                             "    # AuthorizedKey ssh-ed25519 AAAA old\n"
                             "\n"
                             "account \"bob\"   # quoted name\n"
                             "\tUid 7\n"
                             "\n"
                             "# trailing remark\n";

static void
test_roundtrip(void **state)
{
	const char *texts[] = {
	        sample,
	        "",
	        "\n\n",
	        "Account a\r\n\tUid 1\r\n",
	        "Account a\n\tUid 1", /* no final newline */
	        "  # only a comment",
	        "Uid 5\nAccount\nAccount \"unterminated\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		struct acctedit *ed = ed_of(texts[i]);
		assert_text(ed, texts[i]);
		acctedit_free(ed);
	}
	struct acctedit *ed = NULL;
	assert_int_equal(acctedit_new("a\0b", 3, &ed), -EINVAL);
}

static void
test_stanzas(void **state)
{
	struct acctedit *ed = ed_of(sample);
	size_t s;

	assert_int_equal(acctedit_stanza_count(ed), 3);
	assert_string_equal(acctedit_stanza_kind(ed, 0), "Defaults");
	assert_string_equal(acctedit_stanza_kind(ed, 2), "Account");
	assert_string_equal(acctedit_stanza_name(ed, 2), "bob");
	assert_int_equal(acctedit_stanza_line(ed, 1), 9);
	assert_int_equal(acctedit_stanza_find(ed, "account", "alice", &s), 0);
	assert_int_equal(s, 1);
	assert_int_equal(acctedit_stanza_find(ed, "Account", "Alice", &s), ACCTEDIT_E_NOTFOUND);
	assert_int_equal(acctedit_stanza_find(ed, "Group", "alice", &s), ACCTEDIT_E_NOTFOUND);
	assert_int_equal(acctedit_stanza_find(ed, "Defaults", NULL, &s), 0);
	assert_int_equal(s, 0);

	/* Leading comment at column 0 belongs to the stanza; the file header does not. */
	size_t len;
	char *t = acctedit_stanza_text(ed, 1, &len);
	assert_string_equal(t, "# partner A, ticket 17\n"
	                       "Account alice\n"
	                       "    Password $y$j9T$abc$def\n"
	                       "    ReadOnly  no   \n"
	                       "    # AuthorizedKey ssh-ed25519 AAAA old\n");
	free(t);
	t = acctedit_stanza_text(ed, 0, NULL);
	assert_true(strncmp(t, "Defaults\n", 9) == 0);
	free(t);

	assert_int_equal(acctedit_value_count(ed, 1, "readonly"), 1);
	unsigned line = 0;
	assert_string_equal(acctedit_value(ed, 1, "ReadOnly", 0, &line), "no");
	assert_int_equal(line, 11);
	assert_null(acctedit_value(ed, 1, "ReadOnly", 1, NULL));
	assert_string_equal(acctedit_value(ed, 2, "uid", 0, NULL), "7");
	acctedit_free(ed);
}

static void
test_set_in_place(void **state)
{
	struct acctedit *ed = ed_of(sample);
	size_t s = find(ed, "Account", "alice");

	/* Only the value changes; indentation and the blanks after the keyword stay. */
	assert_int_equal(acctedit_set(ed, s, "READONLY", "yes"), 0);
	char *t = acctedit_text(ed, NULL);
	assert_non_null(strstr(t, "\n    ReadOnly  yes\n    # AuthorizedKey"));
	free(t);
	/* New keyword: after the last keyword line, before the indented comment. */
	assert_int_equal(acctedit_set(ed, s, "StartDirectory", "/in"), 0);
	t = acctedit_text(ed, NULL);
	assert_non_null(strstr(t, "    ReadOnly  yes\n    StartDirectory /in\n    # Authorized"));
	free(t);
	/* Everything else is byte-for-byte the same. */
	assert_int_equal(acctedit_unset(ed, s, "startdirectory"), 1);
	assert_int_equal(acctedit_set(ed, s, "ReadOnly", "no   "), -EINVAL);
	assert_int_equal(acctedit_set(ed, s, "ReadOnly", "no"), 0);
	t = acctedit_text(ed, NULL);
	char *want = xstrdup(sample);
	char *p = strstr(want, "ReadOnly  no   \n");
	memmove(p + 12, p + 15, strlen(p + 15) + 1); /* the trailing blanks are gone */
	assert_string_equal(t, want);
	free(want);
	free(t);
	acctedit_free(ed);
}

static void
test_set_collapses_duplicates(void **state)
{
	struct acctedit *ed = ed_of("Account a\n\tUid 1\n\tGid 1\n\tUid 2\n\tuid 3\n");
	assert_int_equal(acctedit_set(ed, 0, "Uid", "9"), 0);
	assert_text(ed, "Account a\n\tUid 9\n\tGid 1\n");
	acctedit_free(ed);
	ed = ed_of("Account a\n\tUid \"1\"  # one\n\tGid 1 # one\n\tRoot /a b # c\n");
	assert_int_equal(acctedit_set(ed, 0, "Uid", "2"), 0);
	assert_int_equal(acctedit_set(ed, 0, "Gid", "2"), 0);
	assert_int_equal(acctedit_set(ed, 0, "Root", "/b"), 0);
	assert_text(ed, "Account a\n\tUid 2  # one\n\tGid 2 # one\n\tRoot /b\n");
	acctedit_free(ed);
	ed = ed_of("Account a\n\tUid\n");
	assert_int_equal(acctedit_set(ed, 0, "Uid", "9"), 0);
	assert_text(ed, "Account a\n\tUid 9\n");
	acctedit_free(ed);
}

static void
test_style(void **state)
{
	/* Aligned with spaces: new lines are aligned too. */
	struct acctedit *ed = ed_of("Account a\n  Uid       1\n  Gid       1\n");
	assert_int_equal(acctedit_set(ed, 0, "Root", "/x"), 0);
	assert_int_equal(acctedit_set(ed, 0, "AuthenticationMethods", "publickey"), 0);
	assert_text(ed, "Account a\n  Uid       1\n  Gid       1\n  Root      /x\n"
	                "  AuthenticationMethods publickey\n");
	acctedit_free(ed);
	/* Aligned with tabs. */
	ed = ed_of("Account a\n\tUid\t\t1\n\tGid\t\t1\n");
	assert_int_equal(acctedit_set(ed, 0, "ReadOnly", "yes"), 0);
	assert_text(ed, "Account a\n\tUid\t\t1\n\tGid\t\t1\n\tReadOnly\tyes\n");
	acctedit_free(ed);
	/* A new stanza takes the style of the others; CRLF files stay CRLF. */
	ed = ed_of("Account a\r\n    Uid 1\r\n    Gid 1\r\n");
	size_t s;
	assert_int_equal(acctedit_stanza_add(ed, "Account", "b", &s), 0);
	assert_int_equal(acctedit_set(ed, s, "Uid", "2"), 0);
	assert_text(ed, "Account a\r\n    Uid 1\r\n    Gid 1\r\n\r\nAccount b\r\n    Uid 2\r\n");
	acctedit_free(ed);
	/* No indentation anywhere: none either; no final newline: one is added first. */
	ed = ed_of("Account a\nUid 1\nGid 1");
	assert_int_equal(acctedit_stanza_add(ed, "Account", "b", &s), 0);
	assert_int_equal(acctedit_add(ed, s, "Uid", "2"), 0);
	assert_text(ed, "Account a\nUid 1\nGid 1\n\nAccount b\nUid 2\n");
	acctedit_free(ed);
	/* Stanzas without blank lines between them: none added. */
	ed = ed_of("Account a\n\tUid 1\nAccount b\n\tUid 2\n");
	assert_int_equal(acctedit_stanza_add(ed, "Account", "c", &s), 0);
	assert_int_equal(acctedit_set(ed, s, "Uid", "3"), 0);
	assert_text(ed, "Account a\n\tUid 1\nAccount b\n\tUid 2\nAccount c\n\tUid 3\n");
	acctedit_free(ed);
	/* Empty file. */
	ed = ed_of("");
	assert_int_equal(acctedit_stanza_add(ed, "Account", "a", &s), 0);
	assert_int_equal(acctedit_set(ed, s, "Uid", "1"), 0);
	assert_text(ed, "Account a\n\tUid 1\n");
	acctedit_free(ed);
}

static void
test_add_del(void **state)
{
	struct acctedit *ed = ed_of("Account a\n"
	                            "\tAuthorizedKeysFile /k/1\n"
	                            "\tUid 1\n"
	                            "\tAuthorizedKeysFile \"/k/2 x\"\n"
	                            "\tGid 1\n");
	assert_int_equal(acctedit_add(ed, 0, "AuthorizedKeysFile", "/k/3"), 0);
	assert_int_equal(acctedit_add(ed, 0, "Groups", "5,6"), 0);
	assert_text(ed, "Account a\n"
	                "\tAuthorizedKeysFile /k/1\n"
	                "\tUid 1\n"
	                "\tAuthorizedKeysFile \"/k/2 x\"\n"
	                "\tAuthorizedKeysFile /k/3\n"
	                "\tGid 1\n"
	                "\tGroups 5,6\n");
	assert_int_equal(acctedit_del(ed, 0, "AuthorizedKeysFile", "/k/2 x"), 1);
	assert_int_equal(acctedit_del(ed, 0, "AuthorizedKeysFile", "/k/9"), 0);
	assert_int_equal(acctedit_del_nth(ed, 0, "authorizedkeysfile", 0), 0);
	assert_int_equal(acctedit_del_nth(ed, 0, "AuthorizedKeysFile", 1), ACCTEDIT_E_NOTFOUND);
	assert_text(ed, "Account a\n"
	                "\tUid 1\n"
	                "\tAuthorizedKeysFile /k/3\n"
	                "\tGid 1\n"
	                "\tGroups 5,6\n");
	assert_int_equal(acctedit_unset(ed, 0, "Groups"), 1);
	assert_int_equal(acctedit_unset(ed, 0, "Groups"), 0);
	acctedit_free(ed);

	/* Deleting the last line of a file without a final newline keeps it so. */
	ed = ed_of("Account a\n\tUid 1\n\tGid 1");
	assert_int_equal(acctedit_unset(ed, 0, "Gid"), 1);
	assert_text(ed, "Account a\n\tUid 1");
	acctedit_free(ed);
}

static void
test_injection_refused(void **state)
{
	struct acctedit *ed = ed_of("Account a\n\tUid 1\n");
	const char *bad_values[] = {"1\nAccount evil", "1\r", "", " 1", "1 ", "a\x7f", "x\ty\x01"};
	const char *bad_kws[] = {"",     "Account", "group", "Defaults", "1Uid",
	                         "Ui d", "Uid\n",   "a=b",   "#Uid"};

	for (size_t i = 0; i < ARRAY_SIZE(bad_values); i++) {
		assert_false(acctedit_value_valid(bad_values[i]));
		assert_int_equal(acctedit_set(ed, 0, "Uid", bad_values[i]), -EINVAL);
		assert_int_equal(acctedit_add(ed, 0, "Uid", bad_values[i]), -EINVAL);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_kws); i++) {
		assert_false(acctedit_keyword_valid(bad_kws[i]));
		assert_int_equal(acctedit_set(ed, 0, bad_kws[i], "1"), -EINVAL);
	}
	assert_true(acctedit_keyword_valid("Max-Sessions_2"));
	assert_true(acctedit_value_valid("a\tb c"));
	assert_int_equal(acctedit_stanza_add(ed, "Account", "evil\nUid", NULL), -EINVAL);
	assert_int_equal(acctedit_stanza_add(ed, "Account", "-x", NULL), -EINVAL);
	assert_int_equal(acctedit_stanza_add(ed, "Match", "x", NULL), -EINVAL);
	assert_int_equal(acctedit_stanza_add(ed, "Account", "a", NULL), ACCTEDIT_E_EXISTS);
	assert_int_equal(acctedit_stanza_rename(ed, 0, "b c"), -EINVAL);
	assert_text(ed, "Account a\n\tUid 1\n");
	acctedit_free(ed);
}

static void
test_stanza_remove(void **state)
{
	struct acctedit *ed = ed_of(sample);

	acctedit_stanza_remove(ed, find(ed, "Account", "alice"));
	assert_text(ed, "# accounts of example.org\n"
	                "\n"
	                "Defaults\n"
	                "    Uid 2000\n"
	                "    Gid 2000\n"
	                "    Root /srv/%u\n"
	                "\n"
	                "account \"bob\"   # quoted name\n"
	                "\tUid 7\n"
	                "\n"
	                "# trailing remark\n");
	/* The last stanza: its trailing lines and the blank lines before it go. */
	acctedit_stanza_remove(ed, find(ed, "Account", "bob"));
	assert_text(ed, "# accounts of example.org\n"
	                "\n"
	                "Defaults\n"
	                "    Uid 2000\n"
	                "    Gid 2000\n"
	                "    Root /srv/%u\n");
	acctedit_stanza_remove(ed, find(ed, "Defaults", NULL));
	assert_text(ed, "# accounts of example.org\n");
	assert_int_equal(acctedit_stanza_count(ed), 0);
	acctedit_free(ed);

	/* The file's header comment directly above the first stanza stays. */
	ed = ed_of("# header\nAccount a\n\tUid 1\n# b\nAccount b\n\tUid 2\n");
	acctedit_stanza_remove(ed, 0);
	assert_text(ed, "# header\n# b\nAccount b\n\tUid 2\n");
	acctedit_free(ed);
	ed = ed_of("# header\nAccount a\n\tUid 1\n# b\nAccount b\n\tUid 2\n");
	acctedit_stanza_remove(ed, 1);
	assert_text(ed, "# header\nAccount a\n\tUid 1\n");
	acctedit_free(ed);
}

static void
test_stanza_add_placement(void **state)
{
	struct acctedit *ed = ed_of(sample);
	size_t s;

	/* A group goes before the first account (and after other groups). */
	assert_int_equal(acctedit_stanza_add(ed, "Group", "partners", &s), 0);
	assert_int_equal(acctedit_set(ed, s, "ReadOnly", "yes"), 0);
	assert_int_equal(acctedit_stanza_add(ed, "Group", "auditors", &s), 0);
	assert_int_equal(acctedit_stanza_add(ed, "Account", "carol", &s), 0);
	assert_int_equal(acctedit_set(ed, s, "Uid", "9"), 0);
	assert_text(ed, "# accounts of example.org\n"
	                "\n"
	                "Defaults\n"
	                "    Uid 2000\n"
	                "    Gid 2000\n"
	                "    Root /srv/%u\n"
	                "\n"
	                "Group partners\n"
	                "    ReadOnly yes\n"
	                "\n"
	                "Group auditors\n"
	                "\n"
	                "# partner A, ticket 17\n"
	                "Account alice\n"
	                "    Password $y$j9T$abc$def\n"
	                "    ReadOnly  no   \n"
	                "    # AuthorizedKey ssh-ed25519 AAAA old\n"
	                "\n"
	                "account \"bob\"   # quoted name\n"
	                "\tUid 7\n"
	                "\n"
	                "# trailing remark\n"
	                "\n"
	                "Account carol\n"
	                "    Uid 9\n");
	assert_int_equal(acctedit_stanza_count(ed), 6);
	assert_string_equal(acctedit_stanza_name(ed, find(ed, "Group", "auditors")), "auditors");

	assert_int_equal(acctedit_stanza_rename(ed, find(ed, "Account", "bob"), "robert"), 0);
	assert_int_equal(acctedit_stanza_rename(ed, find(ed, "Account", "robert"), "alice"),
	                 ACCTEDIT_E_EXISTS);
	char *t = acctedit_stanza_text(ed, find(ed, "Account", "robert"), NULL);
	assert_string_equal(t, "account robert   # quoted name\n\tUid 7\n");
	free(t);
	acctedit_free(ed);
}

static void
test_quote(void **state)
{
	struct {
		const char *raw, *quoted;
	} v[] = {
	        {"/srv/a", "/srv/a"}, {"/srv/my dir", "\"/srv/my dir\""},
	        {"a#b", "\"a#b\""},   {"say \"hi\"\\", "\"say \\\"hi\\\"\\\\\""},
	        {"", "\"\""},         {"\"x", "\"\\\"x\""},
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		char *q = acctedit_quote(v[i].raw);
		assert_string_equal(q, v[i].quoted);
		char *u = acctedit_unquote(q);
		assert_string_equal(u, v[i].raw);
		free(q);
		free(u);
	}
	assert_null(acctedit_unquote("\"open"));
	char *u = acctedit_unquote("first second");
	assert_string_equal(u, "first");
	free(u);
}

/* A value reads as the parser reads it: without its trailing comment (fuzz-acctedit found
 * acctedit_value() returning "7   # drop box" after a set on a commented line). */
static void
test_value_without_comment(void **state)
{
	(void)state;
	struct acctedit *ed = ed_of("Account a\n\tUid 2000   # partner ids\n"
	                            "\tPermissions \"/out box\" list # \"quoted # kept\"\n");
	size_t s = find(ed, "Account", "a");
	assert_string_equal(acctedit_value(ed, s, "Uid", 0, NULL), "2000");
	assert_string_equal(acctedit_value(ed, s, "Permissions", 0, NULL), "\"/out box\" list");
	assert_int_equal(acctedit_set(ed, s, "Uid", "7"), 0);
	assert_string_equal(acctedit_value(ed, s, "Uid", 0, NULL), "7");
	assert_text(ed, "Account a\n\tUid 7   # partner ids\n"
	                "\tPermissions \"/out box\" list # \"quoted # kept\"\n");
	assert_int_equal(acctedit_del(ed, s, "Uid", "7"), 1);
	acctedit_free(ed);
}

static void
test_validate(void **state)
{
	char dir[] = "/tmp/acctedit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *good = xasprintf("Account a\n\tUid 5\n\tGid 5\n\tRoot %s\n"
	                       "\tPassword $6$salt$hash\n",
	                       dir);
	struct berth_errors err = BERTH_ERRORS_NULL, warn = BERTH_ERRORS_NULL;
	struct berth_accounts *db = NULL;

	assert_int_equal(acctedit_validate(good, strlen(good), "acc", NULL, 0, &err, &warn, &db),
	                 0);
	assert_int_equal(err.n, 0);
	const struct berth_account *a = berth_accounts_find(db, "a");
	assert_non_null(a);
	assert_int_equal(a->uid, 5);
	assert_null(berth_accounts_find(db, "b"));
	berth_accounts_free(db);

	/* A parse error: refused, with file:line. */
	char *bad = xasprintf("%s\tUid x\n", good);
	assert_int_equal(
	        acctedit_validate(bad, strlen(bad), "acc", good, strlen(good), &err, &warn, NULL),
	        ACCTEDIT_E_INVALID);
	assert_true(berth_errors_find(&err, "acc:6: Uid: invalid id"));
	berth_errors_free(&err);

	/* A missing Root that the old text already had is a warning; a new one an error. */
	char *old = xasprintf("Account z\n\tUid 5\n\tGid 5\n\tRoot /nonexistent/z\n"
	                      "\tPassword $6$s$h\n\n%s",
	                      good);
	char *now = xasprintf("%s\n# more\n", old);
	assert_int_equal(
	        acctedit_validate(now, strlen(now), "acc", old, strlen(old), &err, &warn, NULL), 0);
	assert_int_equal(err.n, 0);
	assert_true(berth_errors_find(&warn, "Root /nonexistent/z"));
	berth_errors_free(&warn);
	char *worse = xasprintf("%sAccount y\n\tUid 5\n\tGid 5\n\tRoot /nonexistent/y\n"
	                        "\tPassword $6$s$h\n",
	                        now);
	assert_int_equal(
	        acctedit_validate(worse, strlen(worse), "acc", old, strlen(old), &err, &warn, NULL),
	        ACCTEDIT_E_INVALID);
	assert_true(berth_errors_find(&err, "Root /nonexistent/y"));
	assert_false(berth_errors_find(&err, "Root /nonexistent/z"));
	berth_errors_free(&err);
	berth_errors_free(&warn);
	free(worse);
	free(now);
	free(old);
	free(bad);
	free(good);
	rmdir(dir);
}

static void
test_password_hash(void **state)
{
	char *h = NULL;
	assert_int_equal(berth_password_hash("correct horse", &h), 0);
	assert_true(strncmp(h, "$y$", 3) == 0);
	assert_int_equal(berth_password_verify(h, "correct horse"), 0);
	assert_int_equal(berth_password_verify(h, "correct horsE"), BERTH_ACCOUNT_E_MISMATCH);
	char *h2 = NULL;
	assert_int_equal(berth_password_hash("correct horse", &h2), 0);
	assert_string_not_equal(h, h2); /* fresh salt */
	free(h);
	free(h2);
	assert_int_equal(berth_password_hash("", &h), -EINVAL);
}

static void
test_key_helpers(void **state)
{
	/* ssh-rsa blob with a 3072-bit modulus (leading 0x00, top bit set) and e = 65537. */
	uint8_t blob[4 + 7 + 4 + 3 + 4 + 385] = {0, 0, 0, 7, 's', 's', 'h', '-', 'r', 's', 'a',
	                                         0, 0, 0, 3, 1,   0,   1,   0,   0,   1,   0x81};
	blob[22] = 0x00; /* mpint leading zero */
	blob[23] = 0xc5;
	assert_int_equal(authkeys_key_bits("ssh-rsa", blob, sizeof(blob)), 3072);
	assert_int_equal(authkeys_key_bits("ssh-rsa", blob, 20), 0);
	assert_int_equal(authkeys_key_bits("ssh-ed25519", NULL, 0), 256);
	assert_int_equal(authkeys_key_bits("ecdsa-sha2-nistp521", NULL, 0), 521);
	assert_string_equal(authkeys_type_label("sk-ssh-ed25519@openssh.com"), "ED25519-SK");
	/* SHA256 of the empty string, base64 without padding (as ssh-keygen prints). */
	char fp[AUTHKEYS_FP_MAX];
	authkeys_fingerprint((const uint8_t *)"", 0, fp, sizeof(fp));
	assert_string_equal(fp, "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
}

static void
test_acctfile(void **state)
{
	char dir[] = "/tmp/acctfile-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/accounts", dir);
	char *lock = xasprintf("%s/.accounts.lock", dir);
	struct acctfile *f = NULL;
	struct stat st;
	size_t len;

	/* Missing: -ENOENT, or empty with ACCTFILE_CREATE; created 0600. */
	assert_int_equal(acctfile_open(path, 0, &f), -ENOENT);
	assert_int_equal(acctfile_open(path, ACCTFILE_CREATE, &f), 0);
	assert_false(acctfile_exists(f));
	assert_string_equal(acctfile_text(f, &len), "");
	assert_string_equal(acctfile_path(f), path);
	/* The lock is held: a second flock on the lock file would block. */
	int lfd = open(lock, O_RDONLY);
	assert_true(lfd >= 0);
	assert_int_equal(flock(lfd, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	assert_int_equal(acctfile_commit(f, "Account a\n", 10), 0);
	f = acctfile_close(f);
	assert_int_equal(flock(lfd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(flock(lfd, LOCK_UN), 0);
	close(lfd);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* Mode kept across a replace; no temporary file left behind. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(acctfile_open(path, 0, &f), 0);
	assert_true(acctfile_exists(f));
	assert_string_equal(acctfile_text(f, &len), "Account a\n");
	assert_int_equal(acctfile_commit(f, "Account b\n", 10), 0);
	f = acctfile_close(f);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	char *cmd = xasprintf("test $(ls -A %s | wc -l) -eq 2", dir);
	assert_int_equal(system(cmd), 0); /* accounts + .accounts.lock */
	free(cmd);

	/* Through a symlink: the target is edited, the link stays. */
	char *link = xasprintf("%s/link", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(acctfile_open(link, 0, &f), 0);
	assert_string_equal(acctfile_path(f), path);
	assert_int_equal(acctfile_commit(f, "Account c\n", 10), 0);
	f = acctfile_close(f);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* A dangling link is not turned into a file. */
	char *dangling = xasprintf("%s/dangling", dir);
	assert_int_equal(symlink("/nonexistent/accounts", dangling), 0);
	assert_int_equal(acctfile_open(dangling, ACCTFILE_CREATE, &f), -ENOENT);

	/* A directory others can write: refused. */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(acctfile_open(path, 0, &f), -EPERM);
	assert_int_equal(chmod(dir, 0700), 0);

	unlink(dangling);
	unlink(link);
	unlink(path);
	unlink(lock);
	rmdir(dir);
	free(dangling);
	free(link);
	free(lock);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_stanzas),
	        cmocka_unit_test(test_set_in_place),
	        cmocka_unit_test(test_set_collapses_duplicates),
	        cmocka_unit_test(test_style),
	        cmocka_unit_test(test_add_del),
	        cmocka_unit_test(test_injection_refused),
	        cmocka_unit_test(test_stanza_remove),
	        cmocka_unit_test(test_stanza_add_placement),
	        cmocka_unit_test(test_quote),
	        cmocka_unit_test(test_value_without_comment),
	        cmocka_unit_test(test_validate),
	        cmocka_unit_test(test_password_hash),
	        cmocka_unit_test(test_key_helpers),
	        cmocka_unit_test(test_acctfile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
