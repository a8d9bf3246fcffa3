/* SPDX-License-Identifier: BSD-2-Clause */
/* PAM helper process tests under pam_wrapper (pam_matrix passdb, pam_chatty info batch,
 * pam_exec session marker). Re-executes itself with LD_PRELOAD=libpam_wrapper.so. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "berth/account.h"
#include "berth/xmem.h"

#define SERVICE "berthd-test"

static char tmpdir[] = "/tmp/berth-pam-XXXXXX";

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* Set up pam.d + passdb, then exec ourselves with pam_wrapper preloaded. */
static void
setup_and_reexec(char **argv)
{
	const char *wrapper = getenv("BERTH_PAM_WRAPPER_LIB");
	const char *modules = getenv("BERTH_PAM_WRAPPER_MODULES");
	const char *pamdir = getenv("BERTH_PAM_MODULE_DIR");
	char path[512], *text;

	if (!wrapper || !modules || !pamdir) {
		fprintf(stderr, "BERTH_PAM_WRAPPER_LIB/_MODULES/BERTH_PAM_MODULE_DIR not set\n");
		exit(1);
	}
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/pam.d", tmpdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/passdb", tmpdir);
	write_file(path, "alice:correct horse:" SERVICE "\nbob:bobpw:other-service\n", 0600);
	snprintf(path, sizeof(path), "%s/session.sh", tmpdir);
	text = xasprintf("#!/bin/sh\necho \"$PAM_TYPE $PAM_USER\" >> %s/session.log\n", tmpdir);
	write_file(path, text, 0755);
	free(text);
	text = xasprintf("auth optional %s/pam_echo.so Welcome %%u\n"
	                 "auth optional %s/pam_echo.so Second notice\n"
	                 "auth required %s/pam_matrix.so passdb=%s/passdb\n"
	                 "account required %s/pam_matrix.so passdb=%s/passdb\n"
	                 "session required %s/pam_exec.so %s/session.sh\n",
	                 pamdir, pamdir, modules, tmpdir, modules, tmpdir, pamdir, tmpdir);
	snprintf(path, sizeof(path), "%s/pam.d/" SERVICE, tmpdir);
	write_file(path, text, 0644);
	free(text);

	snprintf(path, sizeof(path), "%s/pam.d", tmpdir);
	setenv("PAM_WRAPPER_SERVICE_DIR", path, 1);
	setenv("PAM_WRAPPER", "1", 1);
	setenv("LD_PRELOAD", wrapper, 1);
	setenv("BERTH_PAM_TMPDIR", tmpdir, 1);
	/* ASan builds: the wrapper is preloaded before the ASan runtime. */
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=1", 1);
	execv("/proc/self/exe", argv);
	perror("execv");
	exit(1);
}

/* Drive a transaction answering the password prompt with @pw. */
static int
run_conversation(const char *user, const char *pw, size_t *ret_info, size_t *ret_prompts,
                 struct berth_pam **ret)
{
	struct berth_pam *p = NULL;
	size_t info = 0, prompts = 0;
	int r;

	assert_int_equal(berth_pam_start(SERVICE, user, "127.0.0.1",
	                                 BERTH_PAM_AUTHENTICATE | BERTH_PAM_ACCOUNT, &p),
	                 0);
	assert_true(berth_pam_fd(p) >= 0);
	for (;;) {
		struct berth_pam_prompts pr = {0};
		char **answers;

		r = berth_pam_next(p, &pr);
		if (r != BERTH_PAM_PROMPTS)
			break;
		answers = xcalloc(pr.n, sizeof(char *));
		for (size_t i = 0; i < pr.n; i++) {
			if (pr.v[i].info) {
				info++;
				continue;
			}
			prompts++;
			assert_false(pr.v[i].echo);
			assert_non_null(strstr(pr.v[i].text, "assword"));
			answers[i] = xstrdup(pw);
		}
		assert_int_equal(berth_pam_answer(p, answers, pr.n), 0);
		for (size_t i = 0; i < pr.n; i++)
			assert_null(answers[i]); /* wiped and released */
		free(answers);
		berth_pam_prompts_free(&pr);
	}
	*ret_info = info;
	*ret_prompts = prompts;
	if (r == BERTH_PAM_SUCCESS && ret)
		*ret = p;
	else
		berth_pam_end(p);
	return r;
}

static char *
read_log(void)
{
	char path[512], *buf = xcalloc(1, 4096);
	snprintf(path, sizeof(path), "%s/session.log", getenv("BERTH_PAM_TMPDIR"));
	FILE *f = fopen(path, "r");
	if (f) {
		size_t n = fread(buf, 1, 4095, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

static void
test_kbdint_success_and_session(void **state)
{
	struct berth_pam *p = NULL;
	size_t info, prompts;

	assert_int_equal(run_conversation("alice", "correct horse", &info, &prompts, &p),
	                 BERTH_PAM_SUCCESS);
	assert_int_equal(info, 2); /* the two pam_echo notices */
	assert_int_equal(prompts, 1);
	assert_int_equal(berth_pam_open_session(p), 0);
	assert_null(berth_pam_end(p));
	char *log = read_log();
	assert_non_null(strstr(log, "open_session alice"));
	assert_non_null(strstr(log, "close_session alice"));
	free(log);
}

static void
test_wrong_password_and_user(void **state)
{
	size_t info, prompts;

	assert_int_equal(run_conversation("alice", "wrong", &info, &prompts, NULL),
	                 BERTH_PAM_E_AUTH);
	assert_int_equal(run_conversation("mallory", "correct horse", &info, &prompts, NULL),
	                 BERTH_PAM_E_AUTH);
	/* bob's password is right, but pam_matrix's account step only admits him to
	 * another service: pam_acct_mgmt refuses. */
	assert_int_equal(run_conversation("bob", "bobpw", &info, &prompts, NULL),
	                 BERTH_PAM_E_ACCOUNT);
}

static void
test_password_convenience(void **state)
{
	struct berth_pam *p = NULL;

	assert_int_equal(berth_pam_password(SERVICE, "alice", NULL, "correct horse", &p),
	                 BERTH_PAM_SUCCESS);
	assert_non_null(p);
	berth_pam_end(p);
	p = NULL;
	assert_int_equal(berth_pam_password(SERVICE, "alice", NULL, "nope", &p), BERTH_PAM_E_AUTH);
	assert_null(p);
}

static void
test_protocol_misuse(void **state)
{
	struct berth_pam *p = NULL;
	struct berth_pam_prompts pr = {0};
	char *answers[3] = {xstrdup("a"), xstrdup("b"), xstrdup("c")};

	assert_int_equal(berth_pam_start(SERVICE, "alice", NULL, BERTH_PAM_AUTHENTICATE, &p), 0);
	/* Answer before any prompt: refused, and the strings are still wiped. */
	assert_int_equal(berth_pam_answer(p, answers, 3), -EINVAL);
	assert_null(answers[0]);
	assert_int_equal(berth_pam_next(p, &pr), BERTH_PAM_PROMPTS);
	assert_int_equal(pr.n, 1);
	assert_true(pr.v[0].info);
	assert_non_null(strstr(pr.v[0].text, "Welcome alice"));
	/* Wrong count. */
	answers[0] = xstrdup("x");
	assert_int_equal(berth_pam_answer(p, answers, 2), -EINVAL);
	/* Second next() while a batch is outstanding. */
	struct berth_pam_prompts pr2 = {0};
	assert_int_equal(berth_pam_next(p, &pr2), -EINVAL);
	berth_pam_prompts_free(&pr);
	/* Abandon mid-conversation: the helper must go away, not hang. */
	assert_null(berth_pam_end(p));
	assert_int_equal(berth_pam_start("x", "y", NULL, 0, &p), -EINVAL);
}

int
main(int argc, char **argv)
{
#if defined(__SANITIZE_ADDRESS__)
	/* pam_wrapper dlopens libpam with RTLD_DEEPBIND, which ASan cannot handle. */
	printf("SKIP: pam_wrapper does not work under AddressSanitizer\n");
	return 77;
#endif
	if (!getenv("PAM_WRAPPER"))
		setup_and_reexec(argv);

	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kbdint_success_and_session),
	        cmocka_unit_test(test_wrong_password_and_user),
	        cmocka_unit_test(test_password_convenience),
	        cmocka_unit_test(test_protocol_misuse),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", getenv("BERTH_PAM_TMPDIR"));
	if (system(cmd) != 0)
		r = 1;
	return r;
}
