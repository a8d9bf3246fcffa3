/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl account ... and berthctl group ...: stanzas of the accounts file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/account.h"
#include "berth/acctedit.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/xmem.h"
#include "ctl.h"

#define PASSWORD_MAX 1024

enum op_kind { OP_SET, OP_UNSET, OP_ADD, OP_DEL };

struct op {
	enum op_kind kind;
	char *kw;
	char *value; /* NULL for OP_UNSET */
};

/* One add/modify/... request, everything read from the user before the file is locked. */
struct edit_req {
	const char *kind; /* "Account" or "Group" */
	const char *what; /* "account" or "group" */
	const char *name;
	bool add;
	struct op *ops;
	size_t n_ops;
	bool want_password, password_stdin, no_password;
	char *hash;
	const char *key_file;
	char **keys;
	size_t n_keys;
	bool *key_added;
	const char *rename;
	bool create_root;
	int enable; /* -1 disable, 1 enable, 0 leave */
	bool remove;
	char *created_root;
};

static void
req_free(struct edit_req *q)
{
	for (size_t i = 0; i < q->n_ops; i++) {
		free(q->ops[i].kw);
		free(q->ops[i].value);
	}
	free(q->ops);
	if (q->hash)
		freezero(q->hash, strlen(q->hash));
	ctl_free_lines(q->keys, q->n_keys);
	free(q->key_added);
	free(q->created_root);
}

static void
push_op(struct edit_req *q, enum op_kind kind, const char *kw, char *value)
{
	q->ops = xreallocarray(q->ops, q->n_ops + 1, sizeof(*q->ops));
	q->ops[q->n_ops++] = (struct op){kind, xstrdup(kw), value};
}

/* "Keyword=value" (or "Keyword" for --unset) from the command line. */
static int
push_generic(struct edit_req *q, enum op_kind kind, const char *opt, const char *arg)
{
	const char *eq = strchr(arg, '=');
	_cleanup_free_ char *kw = xstrndup(arg, eq ? (size_t)(eq - arg) : strlen(arg));

	if (!acctedit_keyword_valid(kw)) {
		ctl_err("%s %s: \"%s\" is not a keyword that can be edited (berth-accounts(5))",
		        opt, arg, kw);
		return CTL_USAGE;
	}
	if (kind == OP_UNSET) {
		if (eq) {
			ctl_err("%s takes a keyword only (to remove one value: --del "
			        "Keyword=value)",
			        opt);
			return CTL_USAGE;
		}
		push_op(q, kind, kw, NULL);
		return CTL_OK;
	}
	if (!eq) {
		ctl_err("%s %s: expected Keyword=value", opt, arg);
		return CTL_USAGE;
	}
	if (!acctedit_value_valid(eq + 1)) {
		ctl_err("%s %s: the value must be 1..%d bytes without control characters or "
		        "leading/trailing blanks",
		        opt, arg, ACCTEDIT_MAX_VALUE);
		return CTL_USAGE;
	}
	push_op(q, kind, kw, xstrdup(eq + 1));
	return CTL_OK;
}

/* A friendly option: keyword known, value quoted if it needs to be. */
static int
push_friendly(struct edit_req *q, enum op_kind kind, const char *kw, const char *value, bool quote)
{
	char *v = quote ? acctedit_quote(value) : xstrdup(value);

	if (!acctedit_value_valid(v)) {
		ctl_err("%s: invalid value \"%s\"", kw, value);
		free(v);
		return CTL_USAGE;
	}
	push_op(q, kind, kw, v);
	return CTL_OK;
}

enum {
	O_UID = 256,
	O_GID,
	O_GROUPS,
	O_ROOT,
	O_STARTDIR,
	O_RO,
	O_RW,
	O_METHODS,
	O_INHERIT,
	O_KEYSFILE,
	O_PASSWORD,
	O_PASSWORD_STDIN,
	O_NO_PASSWORD,
	O_KEY,
	O_DISABLED,
	O_CREATE_ROOT,
	O_RENAME,
	O_SET,
	O_UNSET,
	O_ADD,
	O_DEL,
	O_EFFECTIVE,
	O_NAMES,
};

/* Which options a subcommand takes. */
enum {
	F_SETTINGS = 1u << 0, /* --set ... and the friendly settings */
	F_ACCOUNT = 1u << 1,  /* password, keys, --create-root */
	F_ADD = 1u << 2,      /* --disabled */
	F_MODIFY = 1u << 3,   /* --rename, --no-password */
	F_SHOW = 1u << 4,     /* --effective */
	F_LIST = 1u << 5,     /* --names */
};

static const struct option edit_longopts[] = {
        CTL_COMMON_LONGOPTS,
        {"uid", required_argument, NULL, O_UID},
        {"gid", required_argument, NULL, O_GID},
        {"groups", required_argument, NULL, O_GROUPS},
        {"root", required_argument, NULL, O_ROOT},
        {"start-directory", required_argument, NULL, O_STARTDIR},
        {"read-only", no_argument, NULL, O_RO},
        {"read-write", no_argument, NULL, O_RW},
        {"authentication-methods", required_argument, NULL, O_METHODS},
        {"inherit", required_argument, NULL, O_INHERIT},
        {"authorized-keys-file", required_argument, NULL, O_KEYSFILE},
        {"password", no_argument, NULL, O_PASSWORD},
        {"password-stdin", no_argument, NULL, O_PASSWORD_STDIN},
        {"no-password", no_argument, NULL, O_NO_PASSWORD},
        {"key", required_argument, NULL, O_KEY},
        {"disabled", no_argument, NULL, O_DISABLED},
        {"create-root", no_argument, NULL, O_CREATE_ROOT},
        {"rename", required_argument, NULL, O_RENAME},
        {"set", required_argument, NULL, O_SET},
        {"unset", required_argument, NULL, O_UNSET},
        {"add", required_argument, NULL, O_ADD},
        {"del", required_argument, NULL, O_DEL},
        {"effective", no_argument, NULL, O_EFFECTIVE},
        {"names", no_argument, NULL, O_NAMES},
        {0},
};

static unsigned
option_flag(int opt)
{
	switch (opt) {
	case O_PASSWORD:
	case O_PASSWORD_STDIN:
	case O_KEY:
	case O_CREATE_ROOT:
		return F_ACCOUNT;
	case O_DISABLED:
		return F_ADD;
	case O_RENAME:
		return F_MODIFY;
	case O_NO_PASSWORD:
		return F_MODIFY | F_ACCOUNT;
	case O_EFFECTIVE:
		return F_SHOW;
	case O_NAMES:
		return F_LIST;
	default:
		return F_SETTINGS;
	}
}

static const char settings_help[] =
        "Settings (applied in the order given):\n"
        "  --set Keyword=value    exactly one Keyword line with this value (written as given,\n"
        "                         as it would appear in the file after the keyword)\n"
        "  --unset Keyword        remove every Keyword line\n"
        "  --add Keyword=value    one more Keyword line (repeatable keywords)\n"
        "  --del Keyword=value    remove the Keyword lines with this value\n"
        "  --uid N, --gid N       Uid, Gid\n"
        "  --groups LIST          Groups (supplementary gids, comma-separated, or none)\n"
        "  --root PATH            Root (quoted when needed)\n"
        "  --start-directory PATH StartDirectory\n"
        "  --read-only, --read-write   ReadOnly yes / no\n"
        "  --authentication-methods M  AuthenticationMethods\n"
        "  --inherit GROUP[,GROUP...]  Inherit: the groups to inherit from, in order\n"
        "                         (replaces the Inherit lines)\n"
        "  --authorized-keys-file PATH one more AuthorizedKeysFile\n";
static const char account_help[] =
        "  --password             ask for a password on the terminal (twice, not echoed);\n"
        "                         stored as a yescrypt hash\n"
        "  --password-stdin       read the password from the first line of stdin\n"
        "  --key FILE             add the public keys in FILE (- = stdin) as AuthorizedKey\n"
        "  --create-root          create the Root directory (mode 0750, owned by Uid:Gid)\n";
static const char common_help[] =
        "  -f FILE                berthd.conf (its AccountsFile is edited)\n"
        "  -A FILE                edit this accounts file instead\n";

/* Parse options of a subcommand into @q; @positional receives the rest. */
static int
parse_options(struct ctl *c, const struct ctl_command *cmd, struct edit_req *q, unsigned allowed,
              int argc, char **argv, bool *ret_effective, bool *ret_names)
{
	int opt, rc = CTL_OK;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+" CTL_COMMON_SHORTOPTS, edit_longopts, NULL)) !=
	               -1 ||
	       optind < argc) {
		if (opt == -1) {
			/* A positional argument: collect it and go on (GNU-style permutation
			 * without reordering argv). */
			if (q->name) {
				ctl_err("%s %s: unexpected argument \"%s\"", q->what, cmd->name,
				        argv[optind]);
				return CTL_USAGE;
			}
			q->name = argv[optind++];
			continue;
		}
		if (opt == 'h')
			return -1;
		if (opt == '?' || opt == ':') {
			ctl_err("%s %s: unknown option or missing argument: %s", q->what, cmd->name,
			        argv[optind - 1]);
			return CTL_USAGE;
		}
		if (ctl_common_option(c, opt, optarg))
			continue;
		if (!(option_flag(opt) & allowed)) {
			ctl_err("%s %s: option %s does not apply here", q->what, cmd->name,
			        argv[optind - 1]);
			return CTL_USAGE;
		}
		switch (opt) {
		case O_UID:
			rc = push_friendly(q, OP_SET, "Uid", optarg, false);
			break;
		case O_GID:
			rc = push_friendly(q, OP_SET, "Gid", optarg, false);
			break;
		case O_GROUPS:
			rc = push_friendly(q, OP_SET, "Groups", optarg, false);
			break;
		case O_ROOT:
			rc = push_friendly(q, OP_SET, "Root", optarg, true);
			break;
		case O_STARTDIR:
			rc = push_friendly(q, OP_SET, "StartDirectory", optarg, true);
			break;
		case O_RO:
		case O_RW:
			rc = push_friendly(q, OP_SET, "ReadOnly", opt == O_RO ? "yes" : "no",
			                   false);
			break;
		case O_METHODS:
			rc = push_friendly(q, OP_SET, "AuthenticationMethods", optarg, false);
			break;
		case O_INHERIT:
			rc = push_friendly(q, OP_SET, "Inherit", optarg, false);
			break;
		case O_KEYSFILE:
			rc = push_friendly(q, OP_ADD, "AuthorizedKeysFile", optarg, true);
			break;
		case O_PASSWORD:
			q->want_password = true;
			break;
		case O_PASSWORD_STDIN:
			q->want_password = q->password_stdin = true;
			break;
		case O_NO_PASSWORD:
			q->no_password = true;
			break;
		case O_KEY:
			q->key_file = optarg;
			break;
		case O_DISABLED:
			q->enable = -1;
			break;
		case O_CREATE_ROOT:
			q->create_root = true;
			break;
		case O_RENAME:
			q->rename = optarg;
			break;
		case O_SET:
			rc = push_generic(q, OP_SET, "--set", optarg);
			break;
		case O_UNSET:
			rc = push_generic(q, OP_UNSET, "--unset", optarg);
			break;
		case O_ADD:
			rc = push_generic(q, OP_ADD, "--add", optarg);
			break;
		case O_DEL:
			rc = push_generic(q, OP_DEL, "--del", optarg);
			break;
		case O_EFFECTIVE:
			*ret_effective = true;
			break;
		case O_NAMES:
			*ret_names = true;
			break;
		}
		if (rc != CTL_OK)
			return rc;
	}
	if (q->want_password && q->no_password) {
		ctl_err("--password and --no-password exclude each other");
		return CTL_USAGE;
	}
	if (q->password_stdin && q->key_file && strcmp(q->key_file, "-") == 0) {
		ctl_err("--password-stdin and --key - would both read stdin");
		return CTL_USAGE;
	}
	if (q->rename && !berth_account_name_valid(q->rename)) {
		ctl_err("--rename: invalid name \"%s\"", q->rename);
		return CTL_USAGE;
	}
	return CTL_OK;
}

static int
need_name(const struct edit_req *q, const struct ctl_command *cmd)
{
	if (!q->name) {
		ctl_err("%s %s: missing NAME", q->what, cmd->name);
		return ctl_usage(CTL_USAGE, q->what, cmd, NULL);
	}
	if (!berth_account_name_valid(q->name)) {
		ctl_err("%s %s: invalid name \"%s\" (1-%d bytes, no blanks, '/', ':', '\\', "
		        "control characters, no leading '-')",
		        q->what, cmd->name, q->name, BERTH_ACCOUNT_NAME_MAX);
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* Enable or disable with as few line changes as possible. */
static void
set_enabled(struct acctedit *ed, size_t s, const char *name, bool enable)
{
	if (!enable) {
		if (acctedit_value_count(ed, s, "Enabled")) {
			(void)acctedit_set(ed, s, "Enabled", "no");
			(void)acctedit_unset(ed, s, "Disabled");
		} else {
			(void)acctedit_set(ed, s, "Disabled", "yes");
		}
		return;
	}
	if (acctedit_value_count(ed, s, "Enabled"))
		(void)acctedit_set(ed, s, "Enabled", "yes");
	(void)acctedit_unset(ed, s, "Disabled");
	/* Still disabled by inheritance (Defaults, a group)? Say so explicitly. */
	size_t len;
	_cleanup_free_ char *text = acctedit_text(ed, &len);
	struct berth_accounts *db = NULL;
	if (berth_accounts_load_string(text, len, "(edit)", &db, NULL) == 0) {
		const struct berth_account *a = berth_accounts_find(db, name);
		if (a && !a->enabled)
			(void)acctedit_set(ed, s, "Enabled", "yes");
	}
	explicit_bzero(text, len);
	berth_accounts_free(db);
}

/* mkdir the account's Root (as parsed from the edited text) if it does not exist. */
static int
make_root(struct edit_req *q, const struct berth_account *a)
{
	struct stat st;

	if (stat(a->root, &st) == 0)
		return CTL_OK;
	if (errno != ENOENT || mkdir(a->root, 0750) < 0) {
		ctl_err("--create-root: %s: %s", a->root, strerror(errno));
		return CTL_ERROR;
	}
	q->created_root = xstrdup(a->root);
	_cleanup_close_ int fd = open(a->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, a->uid, a->gid) < 0 || fchmod(fd, 0750) < 0) {
		ctl_err("--create-root: %s: %s", a->root, strerror(errno));
		return CTL_ERROR;
	}
	return CTL_OK;
}

static int
create_root(struct edit_req *q, struct acctedit *ed)
{
	size_t len;
	_cleanup_free_ char *text = acctedit_text(ed, &len);
	struct berth_accounts *db = NULL;
	int rc = CTL_OK;

	/* If the text does not load, the validation that follows says why. */
	if (berth_accounts_load_string(text, len, "(edit)", &db, NULL) == 0) {
		const struct berth_account *a =
		        berth_accounts_find(db, q->rename ? q->rename : q->name);
		if (a)
			rc = make_root(q, a);
	}
	explicit_bzero(text, len);
	berth_accounts_free(db);
	return rc;
}

static int
apply_op(struct acctedit *ed, size_t s, const struct op *op)
{
	int r = 0;

	switch (op->kind) {
	case OP_SET:
		r = acctedit_set(ed, s, op->kw, op->value);
		break;
	case OP_ADD:
		r = acctedit_add(ed, s, op->kw, op->value);
		break;
	case OP_UNSET:
		if (acctedit_unset(ed, s, op->kw) == 0)
			ctl_warn("--unset %s: there is no %s line", op->kw, op->kw);
		break;
	case OP_DEL:
		if (acctedit_del(ed, s, op->kw, op->value) == 0)
			ctl_warn("--del %s=%s: there is no such line", op->kw, op->value);
		break;
	}
	if (r < 0) {
		ctl_err("%s: cannot write \"%s\"", op->kw, op->value ? op->value : "");
		return CTL_ERROR;
	}
	return CTL_OK;
}

static int
edit_stanza(struct ctl *c, struct acctedit *ed, void *ud)
{
	struct edit_req *q = ud;
	size_t s;
	int r = acctedit_stanza_find(ed, q->kind, q->name, &s);

	if (q->add) {
		if (r == 0) {
			ctl_err("%s %s already exists (line %u)", q->what, q->name,
			        acctedit_stanza_line(ed, s));
			return CTL_ERROR;
		}
		if (acctedit_stanza_add(ed, q->kind, q->name, &s) != 0) {
			ctl_err("cannot add %s %s", q->what, q->name);
			return CTL_ERROR;
		}
	} else if (r != 0) {
		ctl_err("there is no %s %s", q->what, q->name);
		return CTL_ERROR;
	}
	if (q->remove) {
		acctedit_stanza_remove(ed, s);
		return CTL_OK;
	}
	if (q->rename) {
		r = acctedit_stanza_rename(ed, s, q->rename);
		if (r != 0) {
			ctl_err("--rename %s: %s", q->rename,
			        r == ACCTEDIT_E_EXISTS ? "that name is taken" : "not possible");
			return CTL_ERROR;
		}
	}
	for (size_t i = 0; i < q->n_ops; i++)
		if (apply_op(ed, s, &q->ops[i]) != CTL_OK)
			return CTL_ERROR;
	if (q->hash && acctedit_set(ed, s, "Password", q->hash) < 0)
		return CTL_ERROR;
	if (q->no_password)
		(void)acctedit_unset(ed, s, "Password");
	for (size_t i = 0; i < q->n_keys; i++) {
		q->key_added[i] = !ctl_stanza_has_key(ed, s, q->keys[i]);
		if (q->key_added[i] && acctedit_add(ed, s, "AuthorizedKey", q->keys[i]) < 0)
			return CTL_ERROR;
	}
	if (q->enable)
		set_enabled(ed, s, q->rename ? q->rename : q->name, q->enable > 0);
	if (q->create_root)
		return create_root(q, ed);
	return CTL_OK;
}

/* Everything that needs the user (password prompt, stdin) happens before the lock. */
static int
gather_input(struct ctl *c, struct edit_req *q)
{
	if (q->key_file) {
		const struct berth_config *cfg = NULL;
		if (!c->accounts_path && ctl_config(c, &cfg) != CTL_OK)
			return CTL_ERROR;
		if (ctl_read_keys(q->key_file, cfg, &q->keys, &q->n_keys) != CTL_OK)
			return CTL_ERROR;
		q->key_added = xcalloc(q->n_keys, sizeof(bool));
	}
	if (q->want_password) {
		char pw[PASSWORD_MAX];
		if (ctl_read_password(q->password_stdin, pw, sizeof(pw)) != CTL_OK)
			return CTL_ERROR;
		int r = berth_password_hash(pw, &q->hash);
		explicit_bzero(pw, sizeof(pw));
		if (r < 0) {
			ctl_err("hashing the password: %s", strerror(-r));
			return CTL_ERROR;
		}
	}
	return CTL_OK;
}

static void
print_key_results(const struct edit_req *q)
{
	for (size_t i = 0; i < q->n_keys; i++) {
		_cleanup_free_ char *d = ctl_key_description(q->keys[i]);
		printf("%s%s\n", d, q->key_added[i] ? "" : "  (already authorized, skipped)");
	}
}

/* add, modify, disable, enable, remove: parse, gather, locked edit, report. */
static int
run_edit(struct ctl *c, const struct ctl_command *cmd, struct edit_req *q, unsigned allowed,
         const char *help, int argc, char **argv)
{
	bool effective = false, names = false;
	int rc = parse_options(c, cmd, q, allowed, argc, argv, &effective, &names);
	bool changed = false;

	if (rc < 0) {
		rc = ctl_usage(CTL_OK, q->what, cmd, help);
		goto out;
	}
	if (rc != CTL_OK || (rc = need_name(q, cmd)) != CTL_OK)
		goto out;
	if ((rc = gather_input(c, q)) != CTL_OK)
		goto out;
	rc = ctl_edit(c, q->add, edit_stanza, q, &changed);
	if (rc != CTL_OK) {
		if (q->created_root && rmdir(q->created_root) == 0)
			ctl_err("removed %s again", q->created_root);
		goto out;
	}
	const char *name = q->rename ? q->rename : q->name;
	if (q->created_root)
		printf("created %s\n", q->created_root);
	print_key_results(q);
	if (!changed)
		printf("%s %s: nothing to change\n", q->what, name);
	else if (q->add)
		printf("%s %s added\n", q->what, name);
	else if (q->remove)
		printf("%s %s removed%s\n", q->what, name,
		       strcmp(q->kind, "Account") == 0 ? " (its Root directory was left as it is)"
		                                       : "");
	else if (q->enable)
		printf("%s %s %s\n", q->what, name, q->enable > 0 ? "enabled" : "disabled");
	else
		printf("%s %s modified\n", q->what, name);
out:
	req_free(q);
	return rc;
}

/* ---- list and show ---- */

static const char *
hash_name(const char *h)
{
	static const struct {
		const char *prefix, *name;
	} names[] = {{"$y$", "yescrypt"},    {"$gy$", "gost-yescrypt"}, {"$7$", "scrypt"},
	             {"$6$", "sha512crypt"}, {"$5$", "sha256crypt"},    {"$2b$", "bcrypt"},
	             {"$2y$", "bcrypt"},     {"$2a$", "bcrypt"}};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strncmp(h, names[i].prefix, strlen(names[i].prefix)) == 0)
			return names[i].name;
	return "crypt";
}

/* The file, its stanzas, and (if it loads) the parsed database. */
struct snapshot {
	char *text;
	size_t len;
	const char *path;
	struct acctedit *ed;
	struct berth_accounts *db;
};

static int
snapshot_take(struct ctl *c, struct snapshot *sn)
{
	struct berth_errors errs = BERTH_ERRORS_NULL;

	if (ctl_read_accounts(c, &sn->text, &sn->len, &sn->path) != CTL_OK)
		return CTL_ERROR;
	if (acctedit_new(sn->text, sn->len, &sn->ed) < 0) {
		ctl_err("%s: contains a NUL byte", sn->path);
		return CTL_ERROR;
	}
	if (berth_accounts_load_string(sn->text, sn->len, sn->path, &sn->db, &errs) != 0) {
		ctl_warn("%s does not load (berthd refuses every login until it is fixed):",
		         sn->path);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
	}
	berth_errors_free(&errs);
	return CTL_OK;
}

static void
snapshot_free(struct snapshot *sn)
{
	if (sn->text)
		freezero(sn->text, sn->len);
	acctedit_free(sn->ed);
	berth_accounts_free(sn->db);
}

static char *
auth_summary(const struct berth_account *a)
{
	size_t nk = a->n_inline_keys;
	return xasprintf("%s%s%zu key%s%s", a->password_hash ? hash_name(a->password_hash) : "",
	                 a->password_hash ? "+" : "", nk, nk == 1 ? "" : "s",
	                 a->n_authorized_keys_files ? "+files" : "");
}

static int
do_list(struct ctl *c, const char *kind, bool names_only)
{
	struct snapshot sn = {0};
	int rc = snapshot_take(c, &sn);
	size_t w = 4;
	bool account = strcmp(kind, "Account") == 0;

	if (rc != CTL_OK)
		goto out;
	for (size_t i = 0; i < acctedit_stanza_count(sn.ed); i++)
		if (strcmp(acctedit_stanza_kind(sn.ed, i), kind) == 0)
			w = MAX(w, strlen(acctedit_stanza_name(sn.ed, i)));
	if (account && !names_only)
		printf("%-*s  %-8s  %-6s %-6s %-18s %s\n", (int)w, "NAME", "STATE", "UID", "GID",
		       "AUTH", "ROOT");
	for (size_t i = 0; i < acctedit_stanza_count(sn.ed); i++) {
		if (strcmp(acctedit_stanza_kind(sn.ed, i), kind) != 0)
			continue;
		const char *name = acctedit_stanza_name(sn.ed, i);
		const struct berth_account *a = berth_accounts_find(sn.db, name);
		if (!account || names_only) {
			printf("%s\n", name);
		} else if (!a) {
			printf("%-*s  %-8s\n", (int)w, name, "?");
		} else {
			_cleanup_free_ char *auth = auth_summary(a);
			printf("%-*s  %-8s  %-6u %-6u %-18s %s\n", (int)w, name,
			       a->enabled ? "enabled" : "disabled", (unsigned)a->uid,
			       (unsigned)a->gid, auth, a->root);
		}
	}
	if (!sn.db)
		rc = CTL_ERROR;
out:
	snapshot_free(&sn);
	return rc;
}

static void
print_effective(const struct berth_account *a)
{
	printf("name %s\nuid %u\ngid %u\ngroups ", a->name, (unsigned)a->uid, (unsigned)a->gid);
	for (size_t i = 0; i < a->n_groups; i++)
		printf("%s%u", i ? "," : "", (unsigned)a->groups[i]);
	printf("%s\nroot %s\nstartdirectory %s\nreadonly %s\nenabled %s\n",
	       a->n_groups ? "" : "none", a->root, a->start_dir, a->read_only ? "yes" : "no",
	       a->enabled ? "yes" : "no");
	if (a->has_methods) {
		_cleanup_free_ char *m = berth_auth_policy_format(&a->methods);
		printf("authenticationmethods %s\n", m);
	} else {
		printf("authenticationmethods (global)\n");
	}
	printf("password %s\n", a->password_hash ? hash_name(a->password_hash) : "none");
	for (size_t i = 0; i < a->n_inline_keys; i++) {
		_cleanup_free_ char *d = ctl_key_description(a->inline_keys[i]);
		printf("authorizedkey %s\n", d);
	}
	for (size_t i = 0; i < a->n_authorized_keys_files; i++)
		printf("authorizedkeysfile %s\n", a->authorized_keys_files[i]);
	printf("source %s\n", a->source);
}

static int
do_show(struct ctl *c, const char *kind, const char *what, const char *name, bool effective)
{
	struct snapshot sn = {0};
	int rc = snapshot_take(c, &sn);
	size_t s;

	if (rc != CTL_OK)
		goto out;
	if (acctedit_stanza_find(sn.ed, kind, name, &s) != 0) {
		ctl_err("there is no %s %s in %s", what, name, sn.path);
		rc = CTL_ERROR;
		goto out;
	}
	if (effective) {
		const struct berth_account *a = berth_accounts_find(sn.db, name);
		if (!a) {
			ctl_err("%s %s: no effective settings (the file does not load)", what,
			        name);
			rc = CTL_ERROR;
			goto out;
		}
		print_effective(a);
	} else {
		size_t len;
		_cleanup_free_ char *t = acctedit_stanza_text(sn.ed, s, &len);
		fwrite(t, 1, len, stdout);
		if (len && t[len - 1] != '\n')
			putchar('\n');
		explicit_bzero(t, len);
	}
out:
	snapshot_free(&sn);
	return rc;
}

static int
run_read(struct ctl *c, const struct ctl_command *cmd, struct edit_req *q, unsigned allowed,
         const char *help, int argc, char **argv, bool list)
{
	bool effective = false, names = false;
	int rc = parse_options(c, cmd, q, allowed, argc, argv, &effective, &names);

	if (rc < 0)
		rc = ctl_usage(CTL_OK, q->what, cmd, help);
	else if (rc == CTL_OK && list && q->name) {
		ctl_err("%s list takes no NAME", q->what);
		rc = CTL_USAGE;
	} else if (rc == CTL_OK && list)
		rc = do_list(c, q->kind, names);
	else if (rc == CTL_OK && (rc = need_name(q, cmd)) == CTL_OK)
		rc = do_show(c, q->kind, q->what, q->name, effective);
	req_free(q);
	return rc;
}

/* ---- the tables ---- */

#define ACCOUNT_REQ                                                                                \
	{                                                                                          \
		.kind = "Account", .what = "account"                                               \
	}
#define GROUP_REQ                                                                                  \
	{                                                                                          \
		.kind = "Group", .what = "group"                                                   \
	}

static int account_add(struct ctl *c, int argc, char **argv);
static int account_modify(struct ctl *c, int argc, char **argv);
static int account_disable(struct ctl *c, int argc, char **argv);
static int account_enable(struct ctl *c, int argc, char **argv);
static int account_remove(struct ctl *c, int argc, char **argv);
static int account_list(struct ctl *c, int argc, char **argv);
static int account_show(struct ctl *c, int argc, char **argv);

static const struct ctl_command account_cmds[] = {
        {"add", account_add, "NAME [settings] [--password | --password-stdin] [--key FILE]",
         "Add an Account stanza at the end of the accounts file."},
        {"modify", account_modify,
         "NAME [settings] [--password | --password-stdin | "
         "--no-password] [--key FILE] [--rename NEW]",
         "Change an account's lines; everything else in the file stays as it is."},
        {"disable", account_disable, "NAME", "Refuse the account's logins (Disabled yes)."},
        {"enable", account_enable, "NAME", "Allow the account's logins again."},
        {"remove", account_remove, "NAME",
         "Delete the account's stanza (with the comment lines right above it)."},
        {"list", account_list, "[--names]", "List the accounts: state, ids, methods, Root."},
        {"show", account_show, "NAME [--effective]",
         "Print the account's stanza as written, or with --effective the settings that "
         "apply (Defaults included)."},
};

static char *
edit_help(bool account, bool add)
{
	static const char rename_help[] = "  --rename NEW           change the name\n";
	const char *extra = "";

	if (account && add)
		extra = "  --disabled             add it disabled\n";
	else if (account)
		extra = "  --no-password          remove the Password line\n";
	return xasprintf("%s%s%s%s%s", settings_help, account ? account_help : "", extra,
	                 add ? "" : rename_help, common_help);
}

static int
account_add(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = ACCOUNT_REQ;
	_cleanup_free_ char *help = edit_help(true, true);
	q.add = true;
	return run_edit(c, &account_cmds[0], &q, F_SETTINGS | F_ACCOUNT | F_ADD, help, argc, argv);
}

static int
account_modify(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = ACCOUNT_REQ;
	_cleanup_free_ char *help = edit_help(true, false);
	return run_edit(c, &account_cmds[1], &q, F_SETTINGS | F_ACCOUNT | F_MODIFY, help, argc,
	                argv);
}

static int
account_disable(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = ACCOUNT_REQ;
	q.enable = -1;
	return run_edit(c, &account_cmds[2], &q, 0, common_help, argc, argv);
}

static int
account_enable(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = ACCOUNT_REQ;
	q.enable = 1;
	return run_edit(c, &account_cmds[3], &q, 0, common_help, argc, argv);
}

static int
account_remove(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = ACCOUNT_REQ;
	q.remove = true;
	return run_edit(c, &account_cmds[4], &q, 0, common_help, argc, argv);
}

static int
account_list(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = ACCOUNT_REQ;
	return run_read(c, &account_cmds[5], &q, F_LIST,
	                "  --names                names only, one per line\n", argc, argv, true);
}

static int
account_show(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = ACCOUNT_REQ;
	return run_read(c, &account_cmds[6], &q, F_SHOW,
	                "  --effective            the settings that apply, as parsed\n", argc, argv,
	                false);
}

int
ctl_cmd_account(struct ctl *c, int argc, char **argv)
{
	return ctl_dispatch(c, "account", account_cmds, ARRAY_SIZE(account_cmds), argc - 1,
	                    argv + 1);
}

static int group_add(struct ctl *c, int argc, char **argv);
static int group_modify(struct ctl *c, int argc, char **argv);
static int group_remove(struct ctl *c, int argc, char **argv);
static int group_list(struct ctl *c, int argc, char **argv);
static int group_show(struct ctl *c, int argc, char **argv);

static const struct ctl_command group_cmds[] = {
        {"add", group_add, "NAME [settings]",
         "Add a Group stanza (after the other groups, before the first account)."},
        {"modify", group_modify, "NAME [settings] [--rename NEW]", "Change a group's lines."},
        {"remove", group_remove, "NAME", "Delete the group's stanza."},
        {"list", group_list, "", "List the groups."},
        {"show", group_show, "NAME", "Print the group's stanza as written."},
};

static int
group_add(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = GROUP_REQ;
	_cleanup_free_ char *help = edit_help(false, true);
	q.add = true;
	return run_edit(c, &group_cmds[0], &q, F_SETTINGS, help, argc, argv);
}

static int
group_modify(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = GROUP_REQ;
	_cleanup_free_ char *help = edit_help(false, false);
	return run_edit(c, &group_cmds[1], &q, F_SETTINGS | F_MODIFY, help, argc, argv);
}

static int
group_remove(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = GROUP_REQ;
	q.remove = true;
	return run_edit(c, &group_cmds[2], &q, 0, common_help, argc, argv);
}

static int
group_list(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = GROUP_REQ;
	return run_read(c, &group_cmds[3], &q, 0, common_help, argc, argv, true);
}

static int
group_show(struct ctl *c, int argc, char **argv)
{
	struct edit_req q = GROUP_REQ;
	return run_read(c, &group_cmds[4], &q, 0, common_help, argc, argv, false);
}

int
ctl_cmd_group(struct ctl *c, int argc, char **argv)
{
	return ctl_dispatch(c, "group", group_cmds, ARRAY_SIZE(group_cmds), argc - 1, argv + 1);
}
