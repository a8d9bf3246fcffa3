/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for berthd.conf parsing: defaults, bounds, includes, errors, dump. */
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

#include "berth/conf.h"
#include "berth/xmem.h"

static int
load(const char *text, struct berth_config *cfg, struct berth_errors *errs)
{
	return berth_config_load_string(text, strlen(text), "t.conf", cfg, errs);
}

static void
test_defaults(void **state)
{
	struct berth_config cfg;

	berth_config_init_defaults(&cfg);
	assert_int_equal(cfg.port, 22);
	assert_int_equal(cfg.login_grace_time, 120);
	assert_int_equal(cfg.max_auth_tries, 6);
	assert_int_equal(cfg.required_rsa_size, 3072);
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(cfg.listen[1].host, "::");
	assert_string_equal(cfg.pam_service_name, "berthd");
	assert_int_equal(cfg.auth_methods.n_chains, 0);
	assert_int_equal(cfg.n_host_keys, 2);
	assert_non_null(strstr(cfg.host_keys[0], "ssh_host_ed25519_key"));
	assert_int_equal(cfg.umask, 022);
	assert_false(cfg.system_accounts);
	/* 20 sources x 10 concurrent logins must fit; one source alone is capped. */
	assert_true(cfg.max_startups.start >= 200);
	assert_true(cfg.per_source_max_startups >= 10 && cfg.per_source_max_startups < 100);
	assert_true(cfg.per_source_max_connections >= 10);
	assert_true(cfg.max_connections >= 200);
	assert_int_equal(cfg.max_sessions_per_conn, 10);
	berth_config_free(&cfg);
}

static void
test_basic_parse(void **state)
{
	struct berth_config cfg;
	struct berth_errors e = BERTH_ERRORS_NULL;
	const char *text = "# comment\n"
	                   "port 2222\n"
	                   "LISTENADDRESS 127.0.0.1:2022 [::1]:2023\n"
	                   "ListenAddress 10.1.2.3\n"
	                   "LoginGraceTime 2m\n"
	                   "IdleTimeout 1h30m\n"
	                   "MaxStartups 10:30:100\n"
	                   "AuthenticationMethods publickey,password publickey\n"
	                   "PasswordAuthentication no\n"
	                   "HostKey \"/etc/berth/key with space\"\n"
	                   "AllowUsers alice bob@10.0.0.0/8\n"
	                   "Umask 027\n"
	                   "Ciphers -aes192-ctr\n"
	                   "KexAlgorithms=curve25519-sha256\n"
	                   "LogLevel debug\n";

	assert_int_equal(load(text, &cfg, &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(cfg.port, 2222);
	assert_int_equal(cfg.n_listen, 3);
	assert_string_equal(cfg.listen[0].host, "127.0.0.1");
	assert_int_equal(cfg.listen[0].port, 2022);
	assert_string_equal(cfg.listen[1].host, "::1");
	assert_int_equal(cfg.listen[1].port, 2023);
	assert_int_equal(cfg.listen[2].port, 0);
	assert_int_equal(cfg.login_grace_time, 120);
	assert_int_equal(cfg.idle_timeout, 5400);
	assert_int_equal(cfg.max_startups.start, 10);
	assert_int_equal(cfg.max_startups.rate, 30);
	assert_int_equal(cfg.max_startups.full, 100);
	assert_int_equal(cfg.auth_methods.n_chains, 2);
	assert_int_equal(cfg.auth_methods.chains[0].n, 2);
	assert_int_equal(cfg.auth_methods.chains[0].methods[1], BERTH_AUTH_PASSWORD);
	assert_false(cfg.password_authentication);
	assert_int_equal(cfg.n_host_keys, 1);
	assert_string_equal(cfg.host_keys[0], "/etc/berth/key with space");
	assert_int_equal(cfg.n_allow_users, 2);
	assert_int_equal(cfg.umask, 027);
	assert_null(strstr(cfg.ciphers, "aes192-ctr"));
	assert_non_null(strstr(cfg.ciphers, "aes256-ctr"));
	assert_string_equal(cfg.kex_algorithms, "curve25519-sha256");
	assert_int_equal(cfg.log_level, 5);
	berth_config_free(&cfg);
	berth_errors_free(&e);
}

static void
test_first_wins(void **state)
{
	struct berth_config cfg;
	struct berth_errors e = BERTH_ERRORS_NULL;

	assert_int_equal(load("Port 1000\nPort 2000\n", &cfg, &e), 0);
	assert_int_equal(cfg.port, 1000);
	berth_config_free(&cfg);
	/* A later duplicate is still validated. */
	assert_int_equal(load("Port 1000\nPort 99999\n", &cfg, &e), BERTH_CONF_E_INVALID);
	assert_true(berth_errors_find(&e, "t.conf:2:"));
	berth_errors_free(&e);
}

static void
test_all_errors_with_lines(void **state)
{
	struct berth_config cfg = {.port = 4242};
	struct berth_errors e = BERTH_ERRORS_NULL;
	const char *text = "Port 0\n"                                    /* 1: out of range */
	                   "NoSuchKeyword yes\n"                         /* 2 */
	                   "PasswordAuthentication maybe\n"              /* 3 */
	                   "LoginGraceTime 5x\n"                         /* 4 */
	                   "ListenAddress 1.2.3.4:99999\n"               /* 5 */
	                   "HostKey relative/key\n"                      /* 6 */
	                   "AuthenticationMethods publickey,,password\n" /* 7 */
	                   "PidFile \"/unterminated\n"                   /* 8 */
	                   "MaxAuthTries 1000\n"                         /* 9 */
	                   "Ciphers rot13\n"                             /* 10 */
	                   "Match User x\n"                              /* 11 */
	                   "RequiredRSASize 1024\n"                      /* 12 */
	                   "ListenAddress example.com\n"                 /* 13: no DNS */
	                   "Umask 999\n";                                /* 14 */

	assert_int_equal(load(text, &cfg, &e), BERTH_CONF_E_INVALID);
	assert_int_equal(cfg.port, 4242); /* untouched on failure */
	assert_int_equal(e.n, 14);
	for (unsigned i = 1; i <= 14; i++) {
		char want[32];
		snprintf(want, sizeof(want), "t.conf:%u: ", i);
		assert_true(berth_errors_find(&e, want));
	}
	assert_true(berth_errors_find(&e, "unknown keyword \"NoSuchKeyword\""));
	assert_true(berth_errors_find(&e, "out of range"));
	assert_true(berth_errors_find(&e, "unterminated"));
	berth_errors_free(&e);
}

static void
test_hostile_input(void **state)
{
	struct berth_config cfg;
	struct berth_errors e = BERTH_ERRORS_NULL;
	size_t big = BERTH_CONF_MAX_LINE + 100;
	char *text = xmalloc(big + 64);

	memset(text, 'A', big);
	memcpy(text + big, "\nPort 2\n", 9);
	assert_int_equal(load(text, &cfg, &e), BERTH_CONF_E_INVALID);
	assert_true(berth_errors_find(&e, "t.conf:1: line too long"));
	assert_int_equal(e.n, 1);
	berth_errors_free(&e);

	static const char nul[] = "Port 22\nPort\0 23\nLogLevel INFO\n";
	assert_int_equal(berth_config_load_string(nul, sizeof(nul) - 1, "n.conf", &cfg, &e),
	                 BERTH_CONF_E_INVALID);
	assert_true(berth_errors_find(&e, "n.conf:2: NUL byte"));
	berth_errors_free(&e);

	/* A CR inside a value (found by fuzz-conf: -T printed it, reading it back failed);
	 * CRLF line ends stay fine. */
	assert_int_equal(load("AllowUsers alice\nAllowUsers \r x\n", &cfg, &e),
	                 BERTH_CONF_E_INVALID);
	assert_true(berth_errors_find(&e, "t.conf:2: control character"));
	berth_errors_free(&e);
	/* "MACs ^" would have made a list with an empty first name (fuzz-conf). */
	assert_int_equal(load("MACs ^\nCiphers aes128-ctr,\n", &cfg, &e), BERTH_CONF_E_INVALID);
	assert_true(berth_errors_find(&e, "t.conf:1: MACs: empty algorithm name"));
	assert_true(berth_errors_find(&e, "t.conf:2: Ciphers: empty algorithm name"));
	berth_errors_free(&e);
	/* "+name" of a default already last leaves no trailing comma (fuzz-conf). */
	assert_int_equal(load("Ciphers +aes128-ctr\n", &cfg, &e), 0);
	assert_true(cfg.ciphers[0] && cfg.ciphers[strlen(cfg.ciphers) - 1] != ',');
	berth_config_free(&cfg);
	berth_errors_free(&e);
	/* A value that is just "=" must be printed so that it reads back (fuzz-conf). */
	assert_int_equal(load("AllowUsers a = b\n", &cfg, &e), 0);
	assert_int_equal(cfg.n_allow_users, 3);
	assert_string_equal(cfg.allow_users[1], "=");
	char *out = NULL;
	size_t outlen = 0;
	FILE *mf = open_memstream(&out, &outlen);
	berth_config_dump(&cfg, mf);
	fclose(mf);
	berth_config_free(&cfg);
	assert_int_equal(berth_config_load_string(out, outlen, "dump", &cfg, &e), 0);
	assert_int_equal(cfg.n_allow_users, 3);
	berth_config_free(&cfg);
	free(out);
	assert_int_equal(load("Port 2222\r\nAllowUsers bob\r\n", &cfg, &e), 0);
	assert_int_equal(cfg.port, 2222);
	berth_config_free(&cfg);
	free(text);
}

static void
test_duration_and_listen(void **state)
{
	uint32_t v;
	struct berth_listen_addr a;

	assert_int_equal(berth_parse_duration("30s", &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(berth_parse_duration("2m", &v), 0);
	assert_int_equal(v, 120);
	assert_int_equal(berth_parse_duration("1w1d1h1m1s", &v), 0);
	assert_int_equal(v, 604800 + 86400 + 3600 + 61);
	assert_int_equal(berth_parse_duration("", &v), -EINVAL);
	assert_int_equal(berth_parse_duration("m", &v), -EINVAL);
	assert_int_equal(berth_parse_duration("99999999999", &v), -ERANGE);
	assert_int_equal(berth_parse_listen_addr("[::1]:22", &a), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 22);
	free(a.host);
	assert_int_equal(berth_parse_listen_addr("fe80::1", &a), 0);
	assert_int_equal(a.port, 0);
	free(a.host);
	assert_int_equal(berth_parse_listen_addr("*:2022", &a), 0);
	assert_string_equal(a.host, "0.0.0.0");
	free(a.host);
	assert_int_equal(berth_parse_listen_addr("[1.2.3.4]:22", &a), -EINVAL);
	assert_int_equal(berth_parse_listen_addr("1.2.3.4:0", &a), -EINVAL);
	assert_int_equal(berth_parse_listen_addr("[::1", &a), -EINVAL);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_include(void **state)
{
	char dir[] = "/tmp/berth-conf-XXXXXX";
	char path[256], p2[256];
	struct berth_config cfg;
	struct berth_errors e = BERTH_ERRORS_NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/conf.d", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(p2, sizeof(p2), "%s/conf.d/10-port.conf", dir);
	write_file(p2, "Port 2200\n");
	snprintf(p2, sizeof(p2), "%s/conf.d/20-bad.conf", dir);
	write_file(p2, "\nMaxAuthTries zero\n");
	snprintf(p2, sizeof(p2), "%s/conf.d/loop.inc", dir);
	write_file(p2, "Include conf.d/loop.inc\n");
	snprintf(path, sizeof(path), "%s/berthd.conf", dir);
	write_file(path, "Include conf.d/*.conf conf.d/none-*.conf\nPort 9\n");

	assert_int_equal(berth_config_load(path, &cfg, &e), BERTH_CONF_E_INVALID);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.msgs[0], "20-bad.conf:2: MaxAuthTries"));
	berth_errors_free(&e);

	write_file(p2 /* loop.inc */, "Include conf.d/loop.inc\n");
	snprintf(p2, sizeof(p2), "%s/conf.d/20-bad.conf", dir);
	unlink(p2);
	assert_int_equal(berth_config_load(path, &cfg, &e), 0);
	assert_int_equal(cfg.port, 2200); /* included first, first wins */
	berth_config_free(&cfg);

	write_file(path, "Include conf.d/loop.inc\n");
	assert_int_equal(berth_config_load(path, &cfg, &e), BERTH_CONF_E_INVALID);
	assert_true(berth_errors_find(&e, "nesting deeper"));
	assert_true(berth_errors_find(&e, "loop.inc:1:"));
	berth_errors_free(&e);

	snprintf(p2, sizeof(p2), "%s/missing.conf", dir);
	assert_int_equal(berth_config_load(p2, &cfg, &e), -ENOENT);
	assert_int_equal(e.n, 1);
	berth_errors_free(&e);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_dump_every_keyword(void **state)
{
	struct berth_config cfg;
	char *out = NULL;
	size_t len = 0;
	size_t n;
	const struct berth_conf_keyword_info *kw = berth_config_keywords(&n);
	FILE *f = open_memstream(&out, &len);

	berth_config_init_defaults(&cfg);
	berth_config_dump(&cfg, f);
	fclose(f);
	assert_true(n >= 38);
	for (size_t i = 0; i < n; i++) {
		char lname[64], needle[80];
		size_t j;
		for (j = 0; kw[i].name[j]; j++)
			lname[j] = (char)(kw[i].name[j] | 0x20);
		lname[j] = '\0';
		if (strcmp(lname, "allowusers") == 0 || strcmp(lname, "denyusers") == 0)
			continue; /* empty lists are not printed */
		snprintf(needle, sizeof(needle), "\n%s ", lname);
		assert_true(strstr(out, needle) ||
		            strncmp(out, needle + 1, strlen(needle) - 1) == 0);
		assert_non_null(kw[i].doc);
	}
	assert_non_null(strstr(out, "listenaddress [::]:22\n"));
	assert_non_null(strstr(out, "logingracetime 120\n"));
	assert_non_null(strstr(out, "maxstartups 256:30:512\n"));
	assert_non_null(strstr(out, "authenticationmethods any\n"));
	assert_null(strstr(out, "allowusers"));

	/* The dump is itself a valid configuration that round-trips. */
	struct berth_config again;
	struct berth_errors e = BERTH_ERRORS_NULL;
	assert_int_equal(berth_config_load_string(out, len, "dump", &again, &e), 0);
	char *out2 = NULL;
	size_t len2 = 0;
	f = open_memstream(&out2, &len2);
	berth_config_dump(&again, f);
	fclose(f);
	assert_string_equal(out, out2);
	berth_config_free(&again);
	berth_config_free(&cfg);
	free(out);
	free(out2);
}

static void
test_quickstart(void **state)
{
	struct berth_config cfg;

	assert_int_equal(berth_config_quickstart("relative", &cfg), -EINVAL);
	assert_int_equal(berth_config_quickstart("/var/tmp/bq", &cfg), 0);
	assert_string_equal(cfg.state_directory, "/var/tmp/bq");
	assert_string_equal(cfg.host_keys[0], "/var/tmp/bq/ssh_host_ed25519_key");
	assert_string_equal(cfg.accounts_file, "/var/tmp/bq/accounts");
	assert_null(cfg.pid_file);
	assert_int_equal(cfg.log_target, BERTH_LOG_TARGET_STDERR);
	berth_config_free(&cfg);
}

static void
test_auth_policy_syntax(void **state)
{
	struct berth_auth_policy p;
	const char *err = NULL;
	char *s;

	assert_int_equal(berth_auth_policy_parse("any", &p, &err), 0);
	assert_int_equal(p.n_chains, 0);
	assert_int_equal(
	        berth_auth_policy_parse("publickey,keyboard-interactive:pam password", &p, &err),
	        0);
	s = berth_auth_policy_format(&p);
	assert_string_equal(s, "publickey,keyboard-interactive password");
	free(s);
	assert_int_equal(berth_auth_policy_parse("publickey,", &p, &err), -EINVAL);
	assert_int_equal(berth_auth_policy_parse("gssapi", &p, &err), -EINVAL);
	assert_int_equal(berth_auth_policy_parse("any,password", &p, &err), -EINVAL);
	assert_int_equal(berth_auth_policy_parse("", &p, &err), -EINVAL);
	assert_int_equal(berth_auth_policy_parse("publickey,publickey,publickey,publickey,"
	                                         "publickey,publickey,publickey,publickey,password",
	                                         &p, &err),
	                 -EINVAL);
}

static void
test_expand_tokens(void **state)
{
	char *s = berth_config_expand_tokens("%h/.ssh/%u%%x%", "al", "/home/al");
	assert_string_equal(s, "/home/al/.ssh/al%x%");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_basic_parse),
	        cmocka_unit_test(test_first_wins),    cmocka_unit_test(test_all_errors_with_lines),
	        cmocka_unit_test(test_hostile_input), cmocka_unit_test(test_duration_and_listen),
	        cmocka_unit_test(test_include),       cmocka_unit_test(test_dump_every_keyword),
	        cmocka_unit_test(test_quickstart),    cmocka_unit_test(test_auth_policy_syntax),
	        cmocka_unit_test(test_expand_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
