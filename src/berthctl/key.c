/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl key add|list|remove: an account's AuthorizedKey lines. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "berth/account.h"
#include "berth/acctedit.h"
#include "berth/authkeys.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/file.h"
#include "berth/xmem.h"
#include "ctl.h"

struct key_req {
	const char *account;
	const char *arg; /* add: FILE; remove: fingerprint or comment */
	const char *options;
	bool all;
	char **lines; /* add: the keys; remove: the lines removed */
	size_t n;
	bool *added;
};

enum { O_OPTIONS = 256, O_ALL };

static const struct option key_longopts[] = {
        CTL_COMMON_LONGOPTS,
        {"options", required_argument, NULL, O_OPTIONS},
        {"all", no_argument, NULL, O_ALL},
        {0},
};

static const char key_common_help[] =
        "  -f FILE                berthd.conf (its AccountsFile is edited)\n"
        "  -A FILE                edit this accounts file instead\n";

/* Options and up to two positional arguments (ACCOUNT [ARG]). */
static int
parse(struct ctl *c, const struct ctl_command *cmd, struct key_req *q, const char *help,
      bool takes_options, bool takes_all, int argc, char **argv)
{
	int opt;
	size_t npos = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+" CTL_COMMON_SHORTOPTS, key_longopts, NULL)) !=
	               -1 ||
	       optind < argc) {
		if (opt == -1) {
			const char *a = argv[optind++];
			if (npos == 0)
				q->account = a;
			else if (npos == 1)
				q->arg = a;
			if (++npos > 2)
				goto usage;
			continue;
		}
		if (opt == 'h')
			return ctl_usage(CTL_OK, "key", cmd, help) == 0 ? -1 : CTL_USAGE;
		if (ctl_common_option(c, opt, optarg))
			continue;
		if (opt == O_OPTIONS && takes_options)
			q->options = optarg;
		else if (opt == O_ALL && takes_all)
			q->all = true;
		else
			goto usage;
	}
	if (!q->account) {
		ctl_err("key %s: missing ACCOUNT", cmd->name);
		return ctl_usage(CTL_USAGE, "key", cmd, NULL);
	}
	if (!berth_account_name_valid(q->account)) {
		ctl_err("invalid account name \"%s\"", q->account);
		return CTL_USAGE;
	}
	return CTL_OK;
usage:
	if (opt != -1)
		ctl_err("key %s: unknown option or missing argument: %s", cmd->name,
		        argv[optind - 1]);
	return ctl_usage(CTL_USAGE, "key", cmd, NULL);
}

static void
req_free(struct key_req *q)
{
	ctl_free_lines(q->lines, q->n);
	free(q->added);
}

bool
ctl_stanza_has_key(const struct acctedit *ed, size_t s, const char *line)
{
	struct authkeys_list want = AUTHKEYS_LIST_NULL, have = AUTHKEYS_LIST_NULL;
	const char *v;
	bool found = false;

	if (authkeys_parse(line, strlen(line), "key", &want, NULL) != 0 || want.n != 1)
		goto out;
	for (size_t k = 0; (v = acctedit_value(ed, s, "AuthorizedKey", k, NULL)); k++)
		(void)authkeys_parse(v, strlen(v), "stanza", &have, NULL);
	found = authkeys_find(&have, want.entries[0].blob, want.entries[0].blob_len) != NULL;
out:
	authkeys_list_free(&want);
	authkeys_list_free(&have);
	return found;
}

/* --options OPTS put in front of a key line (joined with its own options, if any). */
static char *
with_options(const char *line, const char *opts)
{
	struct authkeys_list l = AUTHKEYS_LIST_NULL;
	bool has_own = true;

	if (authkeys_parse(line, strlen(line), "key", &l, NULL) == 0 && l.n == 1)
		has_own = strncmp(line, l.entries[0].type, strlen(l.entries[0].type)) != 0 ||
		          (line[strlen(l.entries[0].type)] != ' ' &&
		           line[strlen(l.entries[0].type)] != '\t');
	authkeys_list_free(&l);
	return xasprintf("%s%s%s", opts, has_own ? "," : " ", line);
}

static int
find_account(struct acctedit *ed, const char *name, size_t *ret)
{
	if (acctedit_stanza_find(ed, "Account", name, ret) != 0) {
		ctl_err("there is no account %s", name);
		return CTL_ERROR;
	}
	return CTL_OK;
}

static int
edit_add(struct ctl *c, struct acctedit *ed, void *ud)
{
	struct key_req *q = ud;
	size_t s;

	if (find_account(ed, q->account, &s) != CTL_OK)
		return CTL_ERROR;
	for (size_t i = 0; i < q->n; i++) {
		q->added[i] = !ctl_stanza_has_key(ed, s, q->lines[i]);
		if (q->added[i] && acctedit_add(ed, s, "AuthorizedKey", q->lines[i]) < 0) {
			ctl_err("cannot add the key on line %zu", i + 1);
			return CTL_ERROR;
		}
	}
	return CTL_OK;
}

static const struct ctl_command key_cmds[];

static int
key_add(struct ctl *c, int argc, char **argv)
{
	struct key_req q = {0};
	const struct berth_config *cfg = NULL;
	bool changed;
	int rc = parse(c, &key_cmds[0], &q, key_common_help, true, false, argc, argv);

	if (rc != CTL_OK)
		return rc < 0 ? CTL_OK : rc;
	if (!q.arg && isatty(STDIN_FILENO)) {
		ctl_err("key add: give a public key FILE, or pipe the keys into stdin");
		return CTL_USAGE;
	}
	if (!c->accounts_path && ctl_config(c, &cfg) != CTL_OK)
		return CTL_ERROR;
	if (ctl_read_keys(q.arg ? q.arg : "-", cfg, &q.lines, &q.n) != CTL_OK)
		return CTL_ERROR;
	if (q.options) {
		for (size_t i = 0; i < q.n; i++) {
			char *l = with_options(q.lines[i], q.options);
			struct authkeys_list kl = AUTHKEYS_LIST_NULL;
			struct berth_errors ke = BERTH_ERRORS_NULL;
			int r = authkeys_parse(l, strlen(l), "--options", &kl, &ke);
			if (r != 0 || kl.n != 1 || !acctedit_value_valid(l)) {
				const char *m = ke.n ? strstr(ke.msgs[0], ": ") : NULL;
				ctl_err("--options %s: %s", q.options, m ? m + 2 : "invalid");
				rc = CTL_ERROR;
			}
			authkeys_list_free(&kl);
			berth_errors_free(&ke);
			free(q.lines[i]);
			q.lines[i] = l;
		}
		if (rc != CTL_OK)
			goto out;
	}
	q.added = xcalloc(q.n, sizeof(bool));
	rc = ctl_edit(c, false, edit_add, &q, &changed);
	if (rc != CTL_OK)
		goto out;
	for (size_t i = 0; i < q.n; i++) {
		_cleanup_free_ char *d = ctl_key_description(q.lines[i]);
		printf("%s%s\n", d, q.added[i] ? "" : "  (already authorized, skipped)");
	}
out:
	req_free(&q);
	return rc;
}

static int
key_list(struct ctl *c, int argc, char **argv)
{
	struct key_req q = {0};
	_cleanup_free_ char *text = NULL;
	size_t len = 0, s;
	const char *path, *v;
	struct acctedit *ed = NULL;
	struct berth_accounts *db = NULL;
	unsigned line;
	int rc = parse(c, &key_cmds[1], &q, key_common_help, false, false, argc, argv);

	if (rc != CTL_OK || q.arg)
		return rc < 0  ? CTL_OK
		       : q.arg ? ctl_usage(CTL_USAGE, "key", &key_cmds[1], NULL)
		               : rc;
	if (ctl_read_accounts(c, &text, &len, &path) != CTL_OK)
		return CTL_ERROR;
	rc = CTL_ERROR;
	if (acctedit_new(text, len, &ed) < 0 || find_account(ed, q.account, &s) != CTL_OK)
		goto out;
	for (size_t k = 0; (v = acctedit_value(ed, s, "AuthorizedKey", k, &line)); k++) {
		_cleanup_free_ char *d = ctl_key_description(v);
		printf("%s  %s:%u\n", d, path, line);
	}
	/* Key files, as the daemon reads them (Defaults applied, tokens expanded). */
	const struct berth_account *a = NULL;
	if (berth_accounts_load_string(text, len, path, &db, NULL) == 0)
		a = berth_accounts_find(db, q.account);
	else
		ctl_warn("%s does not load: AuthorizedKeysFile keys not listed", path);
	for (size_t i = 0; a && i < a->n_authorized_keys_files; i++) {
		struct authkeys_list l = AUTHKEYS_LIST_NULL;
		struct berth_errors errs = BERTH_ERRORS_NULL;
		int r = authkeys_load_file(a->authorized_keys_files[i], &l, &errs);
		if (r < 0)
			ctl_warn("AuthorizedKeysFile %s: %s", a->authorized_keys_files[i],
			         strerror(-r));
		for (size_t e = 0; e < errs.n; e++)
			ctl_warn("%s (line skipped by berthd too)", errs.msgs[e]);
		for (size_t k = 0; k < l.n; k++) {
			const struct authkeys_entry *e = &l.entries[k];
			char fp[AUTHKEYS_FP_MAX];
			authkeys_fingerprint(e->blob, e->blob_len, fp, sizeof(fp));
			printf("%u %s %s (%s)  %s:%u\n",
			       authkeys_key_bits(e->type, e->blob, e->blob_len), fp,
			       e->comment ? e->comment : "no comment", authkeys_type_label(e->type),
			       e->source, e->line);
		}
		authkeys_list_free(&l);
		berth_errors_free(&errs);
	}
	rc = CTL_OK;
out:
	if (text)
		explicit_bzero(text, len);
	berth_accounts_free(db);
	acctedit_free(ed);
	return rc;
}

/* Does @line match "SHA256:..." or a comment? */
static bool
key_matches(const char *line, const char *what)
{
	struct authkeys_list l = AUTHKEYS_LIST_NULL;
	bool m = false;

	if (authkeys_parse(line, strlen(line), "key", &l, NULL) == 0 && l.n == 1) {
		const struct authkeys_entry *e = &l.entries[0];
		if (strncmp(what, "SHA256:", 7) == 0) {
			char fp[AUTHKEYS_FP_MAX];
			authkeys_fingerprint(e->blob, e->blob_len, fp, sizeof(fp));
			m = strcmp(fp, what) == 0;
		} else {
			m = e->comment && strcmp(e->comment, what) == 0;
		}
	}
	authkeys_list_free(&l);
	return m;
}

static int
edit_remove(struct ctl *c, struct acctedit *ed, void *ud)
{
	struct key_req *q = ud;
	size_t s, idx[AUTHKEYS_MAX_ENTRIES], n = 0;
	const char *v;

	if (find_account(ed, q->account, &s) != CTL_OK)
		return CTL_ERROR;
	for (size_t k = 0;
	     (v = acctedit_value(ed, s, "AuthorizedKey", k, NULL)) && n < ARRAY_SIZE(idx); k++)
		if (key_matches(v, q->arg))
			idx[n++] = k;
	if (n == 0) {
		ctl_err("account %s has no AuthorizedKey line with %s %s%s", q->account,
		        strncmp(q->arg, "SHA256:", 7) == 0 ? "fingerprint" : "comment", q->arg,
		        " (keys in an AuthorizedKeysFile are not edited by berthctl: see `berthctl "
		        "key list`)");
		return CTL_ERROR;
	}
	if (n > 1 && !q->all) {
		ctl_err("%zu keys of account %s match \"%s\"; give a fingerprint, or --all:", n,
		        q->account, q->arg);
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *d = ctl_key_description(
			        acctedit_value(ed, s, "AuthorizedKey", idx[i], NULL));
			fprintf(stderr, "  %s\n", d);
		}
		return CTL_ERROR;
	}
	q->lines = xcalloc(n, sizeof(char *));
	for (size_t i = n; i > 0; i--) {
		q->lines[q->n++] =
		        xstrdup(acctedit_value(ed, s, "AuthorizedKey", idx[i - 1], NULL));
		(void)acctedit_del_nth(ed, s, "AuthorizedKey", idx[i - 1]);
	}
	return CTL_OK;
}

static int
key_remove(struct ctl *c, int argc, char **argv)
{
	struct key_req q = {0};
	int rc = parse(c, &key_cmds[2], &q, key_common_help, false, true, argc, argv);

	if (rc != CTL_OK)
		return rc < 0 ? CTL_OK : rc;
	if (!q.arg) {
		ctl_err("key remove: which key? give its fingerprint (SHA256:...) or comment");
		return ctl_usage(CTL_USAGE, "key", &key_cmds[2], NULL);
	}
	rc = ctl_edit(c, false, edit_remove, &q, NULL);
	for (size_t i = q.n; rc == CTL_OK && i > 0; i--) {
		_cleanup_free_ char *d = ctl_key_description(q.lines[i - 1]);
		printf("removed %s\n", d);
	}
	req_free(&q);
	return rc;
}

static const struct ctl_command key_cmds[] = {
        {"add", key_add, "ACCOUNT [FILE|-] [--options OPTIONS]",
         "Add the public keys in FILE (or stdin) as AuthorizedKey lines of the account;\n"
         "      each is checked like berthd checks it and its fingerprint printed.\n"
         "      --options OPTIONS  authorized_keys options for each key, e.g.\n"
         "                         restrict,from=\"192.0.2.0/24\""},
        {"list", key_list, "ACCOUNT",
         "List the account's keys: AuthorizedKey lines and AuthorizedKeysFile keys,\n"
         "      as ssh-keygen -l prints them, with file:line."},
        {"remove", key_remove, "ACCOUNT FINGERPRINT|COMMENT [--all]",
         "Remove the AuthorizedKey line(s) with this SHA256 fingerprint or comment\n"
         "      (--all: every key with that comment)."},
};

int
ctl_cmd_key(struct ctl *c, int argc, char **argv)
{
	return ctl_dispatch(c, "key", key_cmds, ARRAY_SIZE(key_cmds), argc - 1, argv + 1);
}
