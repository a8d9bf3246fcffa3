/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: accounts file, lookup, access policy, method chains, password hashes. */
#include <crypt.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "berth/common.h"
#include "berth/account.h"
#include "berth/authkeys.h"
#include "berth/conf.h"
#include "berth/policy.h"
#include "berth/xmem.h"

static char *
make_hash(const char *prefix, unsigned long cost, const char *pw)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data data = {0};

	assert_non_null(crypt_gensalt_rn(prefix, cost, NULL, 0, setting, sizeof(setting)));
	const char *h = crypt_rn(pw, setting, &data, sizeof(data));
	assert_non_null(h);
	return xstrdup(h);
}

static void
test_passwords(void **state)
{
	struct {
		const char *prefix;
		unsigned long cost;
	} algos[] = {{"$y$", 0}, {"$6$", 5000}, {"$2b$", 5}};

	for (size_t i = 0; i < ARRAY_SIZE(algos); i++) {
		char *h = make_hash(algos[i].prefix, algos[i].cost, "s3cret pass");
		assert_int_equal(berth_password_verify(h, "s3cret pass"), 0);
		assert_int_equal(berth_password_verify(h, "s3cret pasS"), BERTH_ACCOUNT_E_MISMATCH);
		assert_int_equal(berth_password_verify(h, ""), BERTH_ACCOUNT_E_MISMATCH);
		free(h);
	}
	/* Weak or foreign hashes are refused outright. */
	char *md5 = make_hash("$1$", 0, "pw");
	assert_int_equal(berth_password_verify(md5, "pw"), -EINVAL);
	free(md5);
	assert_int_equal(berth_password_verify("abJnggxhB/yWI", "pw"), -EINVAL); /* DES */
	assert_int_equal(berth_password_verify("!", "pw"), -EINVAL);
	assert_int_equal(berth_password_dummy_verify(NULL, "pw"), BERTH_ACCOUNT_E_MISMATCH);
}

static void
test_mkpasswd_output(void **state)
{
	const char *methods[] = {"yescrypt", "sha-512"};

	if (access("/usr/bin/mkpasswd", X_OK) != 0) {
		skip(); /* whois package */
		return;
	}
	for (size_t i = 0; i < 2; i++) {
		char cmd[128], hash[256] = "";
		snprintf(cmd, sizeof(cmd), "/usr/bin/mkpasswd -m %s 'Tr0ub4dor&3'", methods[i]);
		FILE *p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(hash, sizeof(hash), p));
		assert_int_equal(pclose(p), 0);
		hash[strcspn(hash, "\n")] = '\0';
		assert_int_equal(berth_password_verify(hash, "Tr0ub4dor&3"), 0);
		assert_int_equal(berth_password_verify(hash, "Tr0ub4dor&4"),
		                 BERTH_ACCOUNT_E_MISMATCH);
	}
}

#define ACCOUNTS_TEXT                                                                              \
	"# virtual accounts\n"                                                                     \
	"Defaults\n"                                                                               \
	"\tUid 2000\n"                                                                             \
	"\tGid 2000\n"                                                                             \
	"\tRoot /srv/berth/%%u\n"                                                                  \
	"\n"                                                                                       \
	"Account demo\n"                                                                           \
	"\tPassword \"%s\"\n"                                                                      \
	"\tStartDirectory /upload\n"                                                               \
	"\tGroups 2001,2002\n"                                                                     \
	"\tAuthorizedKey restrict ssh-ed25519 "                                                    \
	"AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB demo@x\n"            \
	"\n"                                                                                       \
	"Account reader\n"                                                                         \
	"\tUid 3000\n"                                                                             \
	"\tRoot /srv/other\n"                                                                      \
	"\tReadOnly yes\n"                                                                         \
	"\tAuthorizedKeysFile /etc/berth/keys/%%u\n"                                               \
	"\tAuthenticationMethods publickey\n"                                                      \
	"Account off\n"                                                                            \
	"\tPassword \"%s\"\n"                                                                      \
	"\tDisabled yes\n"

static struct berth_accounts *
load_db(char **ret_hash)
{
	char *h = make_hash("$y$", 0, "demo-pw");
	char *text = xasprintf(ACCOUNTS_TEXT, h, h);
	struct berth_accounts *db = NULL;
	struct berth_errors e = BERTH_ERRORS_NULL;

	int r = berth_accounts_load_string(text, strlen(text), "accounts", &db, &e);
	for (size_t i = 0; i < e.n; i++)
		print_error("%s\n", e.msgs[i]);
	assert_int_equal(r, 0);
	assert_int_equal(e.n, 0);
	free(text);
	*ret_hash = h;
	return db;
}

static void
test_accounts_file(void **state)
{
	char *h;
	struct berth_accounts *db = load_db(&h);
	struct berth_config cfg;
	struct berth_account *a = NULL;

	berth_config_init_defaults(&cfg);
	assert_int_equal(berth_accounts_count(db), 3);
	assert_int_equal(berth_account_lookup(&cfg, db, "demo", &a), 0);
	assert_int_equal(a->kind, BERTH_ACCOUNT_VIRTUAL);
	assert_int_equal(a->uid, 2000);
	assert_int_equal(a->gid, 2000);
	assert_int_equal(a->n_groups, 2);
	assert_int_equal(a->groups[1], 2002);
	assert_string_equal(a->root, "/srv/berth/demo");
	assert_string_equal(a->start_dir, "/upload");
	assert_false(a->read_only);
	assert_true(a->enabled);
	assert_int_equal(a->n_inline_keys, 1);
	assert_int_equal(a->allowed_methods, BERTH_AUTH_ALL);
	assert_string_equal(a->source, "accounts:7");
	assert_int_equal(berth_account_verify_password(db, a, "demo-pw"), 0);
	assert_int_equal(berth_account_verify_password(db, a, "nope"), BERTH_ACCOUNT_E_MISMATCH);
	struct authkeys_list keys = AUTHKEYS_LIST_NULL;
	assert_int_equal(berth_account_load_keys(a, &keys, NULL), 0);
	assert_int_equal(keys.n, 1);
	assert_true(keys.entries[0].opts.restrict_);
	authkeys_list_free(&keys);
	berth_account_free(a);

	assert_int_equal(berth_account_lookup(&cfg, db, "reader", &a), 0);
	assert_int_equal(a->uid, 3000);
	assert_string_equal(a->root, "/srv/other");
	assert_true(a->read_only);
	assert_string_equal(a->authorized_keys_files[0], "/etc/berth/keys/reader");
	assert_int_equal(a->allowed_methods, BERTH_AUTH_PUBLICKEY); /* no password hash */
	assert_true(a->has_methods);
	/* Unknown user / no hash: dummy hashing, always a mismatch. */
	assert_int_equal(berth_account_verify_password(db, a, ""), BERTH_ACCOUNT_E_MISMATCH);
	assert_int_equal(berth_account_verify_password(db, NULL, "demo-pw"),
	                 BERTH_ACCOUNT_E_MISMATCH);
	berth_account_free(a);

	assert_int_equal(berth_account_lookup(&cfg, db, "nobody-here", &a),
	                 BERTH_ACCOUNT_E_NOTFOUND);
	assert_int_equal(berth_account_lookup(&cfg, db, "../etc", &a), BERTH_ACCOUNT_E_NOTFOUND);
	assert_int_equal(berth_account_lookup(&cfg, db, "", &a), BERTH_ACCOUNT_E_NOTFOUND);
	/* System accounts are off by default: "root" and "daemon" are not found. */
	assert_int_equal(berth_account_lookup(&cfg, db, "daemon", &a), BERTH_ACCOUNT_E_NOTFOUND);

	/* Global ReadOnly applies to every account. */
	cfg.read_only = true;
	assert_int_equal(berth_account_lookup(&cfg, db, "demo", &a), 0);
	assert_true(a->read_only);
	berth_account_free(a);

	berth_config_free(&cfg);
	berth_accounts_free(db);
	free(h);
}

static void
test_accounts_errors(void **state)
{
	const char *text = "Uid 5\n"                                /* 1 outside stanza */
	                   "Account ok\n"                           /* 2 */
	                   "  Uid 10\n  Gid 10\n  Root /r\n"        /* 3-5 */
	                   "  Password $1$abc$def\n"                /* 6 weak */
	                   "Account bad/name\n"                     /* 7 */
	                   "  Uid 11\n"                             /* 8 skipped */
	                   "Account noroot\n"                       /* 9 */
	                   "  Uid 0\n"                              /* 10 root uid */
	                   "  Gid 12\n"                             /* 11 */
	                   "  Bogus yes\n"                          /* 12 */
	                   "  Root relative\n"                      /* 13 */
	                   "  StartDirectory /a/../..\n"            /* 14 */
	                   "  AuthorizedKey ssh-ed25519 AAAA!!\n"   /* 15 */
	                   "  AuthenticationMethods password,foo\n" /* 16 */
	                   "  ReadOnly perhaps\n"                   /* 17 */
	                   "Account ok\n"                           /* 18 duplicate */
	                   "Defaults\n";                            /* 19 after accounts */
	struct berth_accounts *db = NULL;
	struct berth_errors e = BERTH_ERRORS_NULL;

	assert_int_equal(berth_accounts_load_string(text, strlen(text), "acc", &db, &e),
	                 BERTH_ACCOUNT_E_INVALID);
	assert_null(db);
	const char *want[] = {"acc:1:",
	                      "acc:6:",
	                      "acc:7:",
	                      "acc:10:",
	                      "acc:12:",
	                      "acc:13:",
	                      "acc:14:",
	                      "acc:15:",
	                      "acc:16:",
	                      "acc:17:",
	                      "acc:18:",
	                      "acc:19:",
	                      "acc:9: Account noroot: Uid and Gid are required"};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		if (!berth_errors_find(&e, want[i]))
			print_error("missing %s\n", want[i]);
		assert_true(berth_errors_find(&e, want[i]));
	}
	assert_false(berth_errors_find(&e, "acc:8:"));
	berth_errors_free(&e);
}

static void
test_access_policy(void **state)
{
	char *h;
	struct berth_accounts *db = load_db(&h);
	struct berth_config cfg;
	struct berth_errors e = BERTH_ERRORS_NULL;
	struct berth_account *demo = NULL, *off = NULL;
	const char *why;
	const char *text = "AllowUsers demo@127.0.0.0/8 rea*\nDenyUsers reader\n";

	assert_int_equal(berth_config_load_string(text, strlen(text), "c", &cfg, &e), 0);
	assert_int_equal(berth_account_lookup(&cfg, db, "demo", &demo), 0);
	assert_int_equal(berth_account_lookup(&cfg, db, "off", &off), 0);
	assert_int_equal(berth_account_check_access(&cfg, demo, "127.0.0.1", &why), 0);
	assert_int_equal(berth_account_check_access(&cfg, demo, "192.0.2.1", &why),
	                 BERTH_ACCOUNT_E_DENIED);
	assert_non_null(strstr(why, "AllowUsers"));
	assert_int_equal(berth_account_check_access(&cfg, off, "127.0.0.1", &why),
	                 BERTH_ACCOUNT_E_DISABLED);
	struct berth_account *reader = NULL;
	assert_int_equal(berth_account_lookup(&cfg, db, "reader", &reader), 0);
	assert_int_equal(berth_account_check_access(&cfg, reader, "127.0.0.1", &why),
	                 BERTH_ACCOUNT_E_DENIED);
	assert_non_null(strstr(why, "DenyUsers"));
	berth_account_free(reader);
	berth_config_free(&cfg);

	/* No usable method: reader allows only publickey, which is switched off. */
	text = "PubkeyAuthentication no\n";
	assert_int_equal(berth_config_load_string(text, strlen(text), "c", &cfg, &e), 0);
	assert_int_equal(berth_account_lookup(&cfg, db, "reader", &reader), 0);
	assert_int_equal(berth_account_check_access(&cfg, reader, NULL, &why),
	                 BERTH_ACCOUNT_E_DENIED);
	assert_non_null(strstr(why, "no usable"));
	assert_int_equal(berth_account_check_access(&cfg, demo, NULL, &why), 0);
	berth_account_free(reader);
	berth_config_free(&cfg);

	berth_account_free(demo);
	berth_account_free(off);
	berth_accounts_free(db);
	free(h);
}

static void
test_method_chains(void **state)
{
	struct berth_auth_policy p;
	struct berth_auth_state st;
	const uint32_t all = BERTH_AUTH_ALL;
	enum berth_auth_method seq[4];

	/* "any": one success is enough. */
	assert_int_equal(berth_auth_policy_parse("any", &p, NULL), 0);
	assert_int_equal(berth_auth_evaluate(&p, all, NULL, 0, &st), 0);
	assert_false(st.complete);
	assert_int_equal(st.next, all);
	seq[0] = BERTH_AUTH_PASSWORD;
	assert_int_equal(berth_auth_evaluate(&p, all, seq, 1, &st), 0);
	assert_true(st.complete);
	assert_int_equal(berth_auth_evaluate(&p, BERTH_AUTH_PUBLICKEY, seq, 1, &st),
	                 BERTH_ACCOUNT_E_METHOD);

	/* sshd example: publickey,password OR publickey,keyboard-interactive. */
	assert_int_equal(berth_auth_policy_parse(
	                         "publickey,password publickey,keyboard-interactive", &p, NULL),
	                 0);
	assert_int_equal(berth_auth_evaluate(&p, all, NULL, 0, &st), 0);
	assert_int_equal(st.next, BERTH_AUTH_PUBLICKEY);
	seq[0] = BERTH_AUTH_PUBLICKEY;
	assert_int_equal(berth_auth_evaluate(&p, all, seq, 1, &st), 0);
	assert_false(st.complete);
	assert_true(st.partial);
	assert_int_equal(st.next, BERTH_AUTH_PASSWORD | BERTH_AUTH_KBDINT);
	/* With keyboard-interactive disabled that chain is dead. */
	assert_int_equal(
	        berth_auth_evaluate(&p, BERTH_AUTH_PUBLICKEY | BERTH_AUTH_PASSWORD, seq, 1, &st),
	        0);
	assert_int_equal(st.next, BERTH_AUTH_PASSWORD);
	seq[1] = BERTH_AUTH_KBDINT;
	assert_int_equal(berth_auth_evaluate(&p, all, seq, 2, &st), 0);
	assert_true(st.complete);
	assert_int_equal(st.next, 0);
	/* Out of order: password first is not allowed. */
	seq[0] = BERTH_AUTH_PASSWORD;
	assert_int_equal(berth_auth_evaluate(&p, all, seq, 1, &st), BERTH_ACCOUNT_E_METHOD);

	/* Two keys in a row, or a password alone. */
	assert_int_equal(berth_auth_policy_parse("publickey,publickey password", &p, NULL), 0);
	seq[0] = BERTH_AUTH_PUBLICKEY;
	assert_int_equal(berth_auth_evaluate(&p, all, seq, 1, &st), 0);
	assert_true(st.partial);
	/* sshd: untouched chains stay available, so password alone may still finish. */
	assert_int_equal(st.next, BERTH_AUTH_PUBLICKEY | BERTH_AUTH_PASSWORD);
	seq[1] = BERTH_AUTH_PUBLICKEY;
	assert_int_equal(berth_auth_evaluate(&p, all, seq, 2, &st), 0);
	assert_true(st.complete);
	seq[2] = BERTH_AUTH_PASSWORD;
	assert_int_equal(berth_auth_evaluate(&p, all, seq, 3, &st), BERTH_ACCOUNT_E_METHOD);
	seq[0] = BERTH_AUTH_PASSWORD;
	assert_int_equal(berth_auth_evaluate(&p, all, seq, 1, &st), 0);
	assert_true(st.complete);
	/* Nothing can succeed when every chain needs a disabled method. */
	assert_int_equal(berth_auth_evaluate(&p, BERTH_AUTH_KBDINT, NULL, 0, &st), 0);
	assert_int_equal(st.next, 0);
}

static void
test_system_accounts(void **state)
{
	struct berth_config cfg;
	struct berth_errors e = BERTH_ERRORS_NULL;
	struct berth_account *a = NULL;
	const char *text = "SystemAccounts yes\nSystemAccountRoot /\nUsePAM yes\n"
	                   "AuthorizedKeysFile .ssh/authorized_keys /etc/keys/%u\n";

	assert_int_equal(berth_config_load_string(text, strlen(text), "c", &cfg, &e), 0);
	/* uid 0 is never an account. */
	assert_int_equal(berth_account_lookup(&cfg, NULL, "root", &a), BERTH_ACCOUNT_E_NOTFOUND);
	/* "daemon" (uid 1) exists on every Debian system. */
	assert_int_equal(berth_account_lookup(&cfg, NULL, "daemon", &a), 0);
	assert_int_equal(a->kind, BERTH_ACCOUNT_SYSTEM);
	assert_int_equal(a->uid, 1);
	assert_true(a->n_groups >= 1);
	assert_string_equal(a->root, "/");
	assert_string_equal(a->start_dir, a->home);
	assert_int_equal(a->n_authorized_keys_files, 2);
	char *want = xasprintf("%s/.ssh/authorized_keys", a->home);
	assert_string_equal(a->authorized_keys_files[0], want);
	free(want);
	assert_string_equal(a->authorized_keys_files[1], "/etc/keys/daemon");
	assert_int_equal(a->allowed_methods, BERTH_AUTH_ALL);
	assert_null(a->password_hash);
	berth_account_free(a);
	berth_config_free(&cfg);

	/* Without PAM a system account has no password method. */
	text = "SystemAccounts yes\n";
	assert_int_equal(berth_config_load_string(text, strlen(text), "c", &cfg, &e), 0);
	assert_int_equal(berth_account_lookup(&cfg, NULL, "daemon", &a), 0);
	assert_int_equal(a->allowed_methods, BERTH_AUTH_PUBLICKEY);
	assert_string_equal(a->start_dir, "/"); /* jail = home */
	berth_account_free(a);

	/* System accounts get the policy keywords of the accounts file's Defaults. */
	const char *accts = "Defaults\n  QuotaSize 5M\n  Permissions /etc none\n";
	struct berth_accounts *db = NULL;
	assert_int_equal(berth_accounts_load_string(accts, strlen(accts), "a", &db, &e), 0);
	assert_int_equal(berth_account_lookup(&cfg, db, "daemon", &a), 0);
	assert_true(policy_get(a->policy, POLICY_QUOTA_BYTES) == 5u << 20);
	assert_int_equal(a->policy->n_dirs, 1);
	berth_account_free(a);
	berth_accounts_free(db);
	berth_config_free(&cfg);
}

static void
test_groups_and_policy(void **state)
{
	const char *text = "Defaults\n"                                   /* 1 */
	                   "  Uid 2000\n  Gid 2000\n  Root /srv/%u\n"     /* 2-4 */
	                   "  QuotaSize 1G\n"                             /* 5 */
	                   "  AuthorizedKeysFile /etc/keys/%u\n"          /* 6 */
	                   "Group partners\n"                             /* 7 */
	                   "  Permissions / read-only\n"                  /* 8 */
	                   "  Permissions /in upload-only   # drop box\n" /* 9 */
	                   "  Filter /in *.csv,!*.exe\n"                  /* 10 */
	                   "  UploadMode atomic\n"                        /* 11 */
	                   "  Uid 3000\n"                                 /* 12 */
	                   "Group auditors\n"                             /* 13 */
	                   "  Inherit partners\n"                         /* 14 */
	                   "  Permissions /in read-only\n"                /* 15 */
	                   "  MaxLogins 2\n"                              /* 16 */
	                   "Account acme\n"                               /* 17 */
	                   "  QuotaSize 10G\n"                            /* 18 own line first */
	                   "  Inherit partners\n"                         /* 19 */
	                   "  AuthorizedKeysFile /etc/keys/extra\n"       /* 20 */
	                   "Account audit\n"                              /* 21 */
	                   "  Inherit partners, auditors\n"               /* 22 */
	                   "  AuthorizedKeysFile none\n"                  /* 23 */
	                   "  AuthorizedKeysFile /k\n"                    /* 24 */
	                   "  Expires 2030-01-01\n";                      /* 25 */
	struct berth_accounts *db = NULL;
	struct berth_errors e = BERTH_ERRORS_NULL;
	int r = berth_accounts_load_string(text, strlen(text), "accts", &db, &e);
	for (size_t i = 0; i < e.n; i++)
		print_error("%s\n", e.msgs[i]);
	assert_int_equal(r, 0);
	struct berth_config cfg;
	berth_config_init_defaults(&cfg);
	struct berth_account *a = NULL;

	assert_int_equal(berth_account_lookup(&cfg, db, "acme", &a), 0);
	assert_int_equal(a->uid, 3000); /* the group overrides Defaults */
	assert_int_equal(a->gid, 2000);
	assert_string_equal(a->root, "/srv/acme");
	assert_int_equal(a->n_authorized_keys_files, 2);
	assert_string_equal(a->authorized_keys_files[1], "/etc/keys/extra");
	const struct policy *p = a->policy;
	/* The account's own line wins although it precedes Inherit. */
	assert_true(policy_get(p, POLICY_QUOTA_BYTES) == UINT64_C(10) << 30);
	assert_int_equal(p->values[POLICY_QUOTA_BYTES].origin.line, 18);
	assert_true(policy_get(p, POLICY_UPLOAD_MODE) == POLICY_UPLOAD_ATOMIC);
	struct policy_verdict v;
	assert_int_equal(policy_decide(p, POLICY_OP_UPLOAD, "/in/x.csv", 0, &v), 0);
	assert_int_equal(policy_decide(p, POLICY_OP_UPLOAD, "/in/x.exe", 0, &v), -EACCES);
	assert_int_equal(policy_decide(p, POLICY_OP_DOWNLOAD, "/in/x.csv", 0, &v), -EACCES);
	_cleanup_free_ char *why = policy_verdict_describe(&v);
	assert_string_equal(why, "denied download by Permissions /in upload-only at accts:9");
	berth_account_free(a);

	assert_int_equal(berth_account_lookup(&cfg, db, "audit", &a), 0);
	assert_int_equal(a->n_authorized_keys_files, 1); /* none dropped the inherited ones */
	assert_string_equal(a->authorized_keys_files[0], "/k");
	assert_true(policy_get(a->policy, POLICY_MAX_LOGINS) == 2);
	assert_true(policy_get(a->policy, POLICY_QUOTA_BYTES) == UINT64_C(1) << 30);
	assert_int_equal(policy_decide(a->policy, POLICY_OP_DOWNLOAD, "/in/x.csv", 0, &v), 0);
	assert_int_equal(v.steps[v.n - 2].origin->line, 15);
	assert_int_equal(
	        policy_check_login(a->policy, "192.0.2.1", 1900000000, POLICY_PROTO_SSH, &v),
	        -EACCES);
	berth_account_free(a);

	/* The global ReadOnly is recorded with its origin. */
	const char *conf = "ReadOnly yes\n";
	struct berth_config rcfg;
	assert_int_equal(berth_config_load_string(conf, strlen(conf), "berthd.conf", &rcfg, &e), 0);
	assert_int_equal(berth_account_lookup(&rcfg, db, "acme", &a), 0);
	assert_true(a->read_only);
	assert_int_equal(policy_decide(a->policy, POLICY_OP_UPLOAD, "/in/x.csv", 0, &v), -EACCES);
	_cleanup_free_ char *why2 = policy_verdict_describe(&v);
	assert_string_equal(why2, "denied upload by ReadOnly yes (berthd.conf) at berthd.conf:1");
	berth_account_free(a);
	berth_config_free(&rcfg);
	berth_config_free(&cfg);
	berth_accounts_free(db);

	/* Errors point at their lines. */
	const char *bad = "Group g\n"                     /* 1 */
	                  "  Password x\n"                /* 2 */
	                  "  Permissions in full\n"       /* 3 */
	                  "Group g\n"                     /* 4 duplicate */
	                  "Account a\n"                   /* 5 */
	                  "  Inherit nosuch\n"            /* 6 */
	                  "  QuotaSize lots\n"            /* 7 */
	                  "  Expires 2026-02-30\n"        /* 8 */
	                  "  UploadMode fast\n"           /* 9 */
	                  "  Uid 1\n  Gid 1\n  Root /r\n" /* 10-12 */
	                  "Defaults\n"                    /* 13 */
	                  "  Inherit g\n";                /* 14 */
	r = berth_accounts_load_string(bad, strlen(bad), "b", &db, &e);
	assert_int_equal(r, BERTH_ACCOUNT_E_INVALID);
	static const char *const want[] = {
	        "b:2: Password is not allowed in a Group",
	        "b:3: Permissions: the directory must be an absolute path",
	        "b:4: Group g: duplicate",
	        "b:6: Inherit: unknown group \"nosuch\"",
	        "b:7: QuotaSize: expected a size",
	        "b:8: Expires: expected an ISO 8601 UTC date",
	        "b:9: UploadMode: expected standard, atomic or atomic-resume",
	        "b:14: Inherit is not allowed in Defaults",
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		if (!berth_errors_find(&e, want[i]))
			fail_msg("missing error \"%s\"", want[i]);
	berth_errors_free(&e);
}

static void
test_config_check(void **state)
{
	char dir[] = "/tmp/berth-check-XXXXXX";
	char path[512];
	struct berth_config cfg;
	struct berth_errors e = BERTH_ERRORS_NULL;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	f = fopen(path, "w");
	fputs("not really a key\n", f);
	fclose(f);
	chmod(path, 0644);
	snprintf(path, sizeof(path), "%s/jail", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/accounts", dir);
	f = fopen(path, "w");
	fprintf(f,
	        "Account a\n Uid 10\n Gid 10\n Root %s/jail\n Password $6$x$y\n"
	        "Account b\n Uid 10\n Gid 10\n Root %s/missing\n AuthorizedKeysFile %s/nokeys\n",
	        dir, dir, dir);
	fclose(f);
	snprintf(path, sizeof(path), "%s/berthd.conf", dir);
	f = fopen(path, "w");
	fprintf(f,
	        "# test\nHostKey %s/key\nHostKey %s/absent\nAccountsFile %s/accounts\n"
	        "PasswordAuthentication no\nAuthenticationMethods publickey,password\n",
	        dir, dir, dir);
	fclose(f);

	assert_int_equal(berth_config_load(path, &cfg, &e), 0);
	assert_int_equal(berth_config_check(&cfg, &e), BERTH_CONF_E_INVALID);
	for (size_t i = 0; i < e.n; i++)
		print_message("  %s\n", e.msgs[i]);
	assert_true(berth_errors_find(&e, "berthd.conf:2: HostKey"));
	assert_true(berth_errors_find(&e, "too open"));
	assert_true(berth_errors_find(&e, "absent: No such file"));
	assert_true(berth_errors_find(
	        &e, "berthd.conf:6: AuthenticationMethods: method \"password\" is disabled"));
	assert_true(berth_errors_find(&e, "accounts:9: Account b: Root"));
	assert_true(berth_errors_find(&e, "nokeys"));
	assert_false(berth_errors_find(&e, "Account a"));
	berth_errors_free(&e);
	berth_config_free(&cfg);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_passwords),         cmocka_unit_test(test_mkpasswd_output),
	        cmocka_unit_test(test_accounts_file),     cmocka_unit_test(test_accounts_errors),
	        cmocka_unit_test(test_access_policy),     cmocka_unit_test(test_method_chains),
	        cmocka_unit_test(test_system_accounts),   cmocka_unit_test(test_config_check),
	        cmocka_unit_test(test_groups_and_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
