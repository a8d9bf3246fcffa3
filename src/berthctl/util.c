/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl helpers: config, the locked edit, password prompt, key input. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"

#include "berth/account.h"
#include "berth/acctedit.h"
#include "berth/authkeys.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/file.h"
#include "berth/xmem.h"
#include "ctl.h"

#define DEFAULT_CONFIG BERTH_SYSCONFDIR "/berthd.conf"
#define KEYS_MAX_INPUT (1u << 20)

static void
vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "berthctl: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void
ctl_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

bool
ctl_common_option(struct ctl *c, int opt, const char *arg)
{
	if (opt == 'f')
		c->config_path = arg;
	else if (opt == 'A')
		c->accounts_path = arg;
	else
		return false;
	return true;
}

int
ctl_usage(int code, const char *what, const struct ctl_command *cmd, const char *help)
{
	FILE *f = code ? stderr : stdout;

	fprintf(f, "usage: berthctl [-f config | -A accounts] %s %s%s%s\n", what, cmd->name,
	        *cmd->args ? " " : "", cmd->args);
	if (code == 0) {
		fprintf(f, "\n%s\n", cmd->summary);
		if (help && *help)
			fprintf(f, "\n%s", help);
	}
	return code;
}

int
ctl_dispatch(struct ctl *c, const char *what, const struct ctl_command *table, size_t n, int argc,
             char **argv)
{
	if (argc >= 1) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(argv[0], table[i].name) == 0)
				return table[i].run(c, argc, argv);
	}
	bool help = argc >= 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0 ||
	                          strcmp(argv[0], "help") == 0);
	FILE *f = help ? stdout : stderr;
	if (argc >= 1 && !help)
		fprintf(f, "berthctl: %s: unknown subcommand \"%s\"\n", what, argv[0]);
	fprintf(f, "usage: berthctl [-f config | -A accounts] %s SUBCOMMAND ...\n\n", what);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %s %s %s\n      %s\n", what, table[i].name, table[i].args,
		        table[i].summary);
	fprintf(f, "\n'berthctl %s SUBCOMMAND --help' shows the options.\n", what);
	return help ? CTL_OK : CTL_USAGE;
}

int
ctl_config(struct ctl *c, const struct berth_config **ret)
{
	if (!c->have_cfg) {
		struct berth_errors errs = BERTH_ERRORS_NULL;
		const char *path = c->config_path ? c->config_path : DEFAULT_CONFIG;
		int r = berth_config_load(path, &c->cfg, &errs);
		berth_errors_print(&errs, stderr);
		berth_errors_free(&errs);
		if (r != 0) {
			ctl_err("%s: cannot load the configuration%s", path,
			        c->accounts_path ? ""
			                         : " (-A FILE names an accounts file directly)");
			return CTL_ERROR;
		}
		c->have_cfg = true;
	}
	*ret = &c->cfg;
	return CTL_OK;
}

int
ctl_accounts_path(struct ctl *c, const char **ret)
{
	const struct berth_config *cfg;

	if (c->accounts_path) {
		*ret = c->accounts_path;
		return CTL_OK;
	}
	if (ctl_config(c, &cfg) != CTL_OK)
		return CTL_ERROR;
	if (!cfg->accounts_file) {
		ctl_err("%s: AccountsFile is none: there is no accounts file to manage",
		        c->config_path ? c->config_path : DEFAULT_CONFIG);
		return CTL_ERROR;
	}
	*ret = cfg->accounts_file;
	return CTL_OK;
}

int
ctl_read_accounts(struct ctl *c, char **ret_text, size_t *ret_len, const char **ret_path)
{
	const char *path;

	if (ctl_accounts_path(c, &path) != CTL_OK)
		return CTL_ERROR;
	int r = read_small_file(path, ACCTEDIT_MAX_FILE, false, ret_text, ret_len);
	if (r < 0) {
		ctl_err("%s: %s", path, strerror(-r));
		return CTL_ERROR;
	}
	*ret_path = path;
	return CTL_OK;
}

int
ctl_account(struct ctl *c, const char *name, const struct berth_config **ret_cfg,
            struct berth_accounts **ret_db, struct berth_account **ret)
{
	const struct berth_config *cfg;
	const char *path;
	struct berth_accounts *db = NULL;

	if (ctl_config(c, &cfg) != CTL_OK)
		return CTL_ERROR;
	path = c->accounts_path ? c->accounts_path : cfg->accounts_file;
	struct berth_errors errs = BERTH_ERRORS_NULL;
	if (!path) {
		path = "none";
	} else if (berth_accounts_load(path, &db, &errs) != 0) {
		ctl_warn("%s does not load; berthd refuses every account it defines until it is "
		         "fixed (berthctl check):",
		         path);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
		berth_accounts_free(db);
		db = NULL;
	}
	berth_errors_free(&errs);
	if (!db)
		db = berth_accounts_new_empty();
	int r = berth_account_lookup(cfg, db, name, ret);
	if (r != 0) {
		if (r < 0)
			ctl_err("looking up %s: %s", name, strerror(-r));
		else
			ctl_err("no account %s (accounts file %s%s)", name, path,
			        cfg->system_accounts ? ", then system accounts" : "");
		berth_accounts_free(db);
		return CTL_ERROR;
	}
	*ret_cfg = cfg;
	*ret_db = db;
	return CTL_OK;
}

static const char *
open_error(int r)
{
	switch (r) {
	case -EPERM:
		return "refusing to edit: its directory is writable by group or others, or "
		       "owned by another user (see berthctl(8), FILES)";
	case -EINVAL:
		return "not a regular file";
	case -EFBIG:
		return "too large for an accounts file";
	default:
		return strerror(-r);
	}
}

int
ctl_edit(struct ctl *c, bool create, int (*fn)(struct ctl *c, struct acctedit *ed, void *ud),
         void *ud, bool *ret_changed)
{
	const char *path;
	struct acctfile *f = NULL;
	struct acctedit *ed = NULL;
	struct berth_errors errs = BERTH_ERRORS_NULL, warns = BERTH_ERRORS_NULL;
	_cleanup_free_ char *text = NULL;
	size_t old_len, len = 0;
	int rc = CTL_ERROR, r;

	if (ret_changed)
		*ret_changed = false;
	if (ctl_accounts_path(c, &path) != CTL_OK)
		return CTL_ERROR;
	r = acctfile_open(path, create ? ACCTFILE_CREATE : 0, &f);
	if (r < 0) {
		ctl_err("%s: %s", path, open_error(r));
		return CTL_ERROR;
	}
	const char *old = acctfile_text(f, &old_len);
	r = acctedit_new(old, old_len, &ed);
	if (r < 0) {
		ctl_err("%s: %s", acctfile_path(f),
		        r == -EINVAL ? "contains a NUL byte; fix it by hand" : strerror(-r));
		goto out;
	}
	rc = fn(c, ed, ud);
	if (rc != CTL_OK)
		goto out;
	rc = CTL_ERROR;
	text = acctedit_text(ed, &len);
	if (acctfile_exists(f) && len == old_len && memcmp(text, old, len) == 0) {
		rc = CTL_OK; /* nothing to write */
		goto out;
	}
	r = acctedit_validate(text, len, acctfile_path(f), acctfile_exists(f) ? old : NULL, old_len,
	                      &errs, &warns, NULL);
	for (size_t i = 0; i < warns.n; i++)
		ctl_warn("%s (the file had this problem before)", warns.msgs[i]);
	if (r != 0) {
		ctl_err("the edited file would not pass `berthd -t`; nothing was written:");
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
		goto out;
	}
	r = acctfile_commit(f, text, len);
	if (r < 0) {
		ctl_err("%s: cannot replace the file: %s", acctfile_path(f), strerror(-r));
		goto out;
	}
	/* The daemon's monitors fall back to this copy if a hand edit breaks the file. */
	if (c->have_cfg && c->cfg.accounts_file && strcmp(path, c->cfg.accounts_file) == 0 &&
	    (r = berth_accounts_save_last_good(c->cfg.state_directory, text, len)) < 0)
		ctl_warn("StateDirectory %s: cannot keep the last good accounts file: %s",
		         c->cfg.state_directory, strerror(-r));
	if (ret_changed)
		*ret_changed = true;
	rc = CTL_OK;
out:
	if (text)
		explicit_bzero(text, len);
	berth_errors_free(&errs);
	berth_errors_free(&warns);
	acctedit_free(ed);
	acctfile_close(f);
	return rc;
}

/* ---- passwords ---- */

static volatile sig_atomic_t tty_fd = -1;
static struct termios tty_saved;

static void
tty_restore_on_signal(int sig)
{
	if (tty_fd >= 0)
		(void)tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line from @fd into @buf; 0, 1 (too long) or -errno. Reads byte by byte so that
 * nothing after the line is consumed. */
static int
read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	bool too_long = false;

	for (;;) {
		char ch;
		ssize_t k = read(fd, &ch, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0 || ch == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = ch;
		else
			too_long = true;
		ch = 0;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return too_long ? 1 : 0;
}

static int
tty_ask(int fd, const char *prompt, char *buf, size_t size)
{
	struct termios t;
	int r;

	if (tcgetattr(fd, &tty_saved) < 0)
		return -errno;
	t = tty_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	tty_fd = fd;
	struct sigaction sa = {.sa_handler = tty_restore_on_signal}, old[3];
	const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	if (tcsetattr(fd, TCSAFLUSH, &t) < 0) {
		r = -errno;
	} else {
		(void)!write(fd, prompt, strlen(prompt));
		r = read_line(fd, buf, size);
		(void)tcsetattr(fd, TCSAFLUSH, &tty_saved);
		(void)!write(fd, "\n", 1);
	}
	tty_fd = -1;
	for (size_t i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	return r;
}

int
ctl_read_password(bool from_stdin, char *buf, size_t size)
{
	int r;

	if (from_stdin) {
		r = read_line(STDIN_FILENO, buf, size);
	} else {
		_cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			ctl_err("no terminal to ask for the password on; use --password-stdin");
			return CTL_ERROR;
		}
		char again[1024];
		r = tty_ask(fd, "New password: ", buf, size);
		if (r == 0 && *buf) {
			r = tty_ask(fd, "Retype new password: ", again, sizeof(again));
			if (r == 0 && strcmp(buf, again) != 0) {
				explicit_bzero(again, sizeof(again));
				explicit_bzero(buf, size);
				ctl_err("the passwords do not match");
				return CTL_ERROR;
			}
		}
		explicit_bzero(again, sizeof(again));
	}
	if (r < 0) {
		ctl_err("reading the password: %s", strerror(-r));
	} else if (r > 0) {
		ctl_err("the password is too long (at most %zu bytes)", size - 1);
	} else if (!*buf) {
		ctl_err("empty password refused");
	} else {
		return CTL_OK;
	}
	explicit_bzero(buf, size);
	return CTL_ERROR;
}

/* ---- keys ---- */

void
ctl_free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

char *
ctl_key_description(const char *line)
{
	struct authkeys_list l = AUTHKEYS_LIST_NULL;
	char fp[AUTHKEYS_FP_MAX];
	char *out;

	if (authkeys_parse(line, strlen(line), "key", &l, NULL) != 0 || l.n != 1) {
		authkeys_list_free(&l);
		return xstrdup("(invalid key)");
	}
	const struct authkeys_entry *e = &l.entries[0];
	authkeys_fingerprint(e->blob, e->blob_len, fp, sizeof(fp));
	out = xasprintf("%u %s %s (%s)", authkeys_key_bits(e->type, e->blob, e->blob_len), fp,
	                e->comment ? e->comment : "no comment", authkeys_type_label(e->type));
	authkeys_list_free(&l);
	return out;
}

int
ctl_read_keys(const char *path, const struct berth_config *cfg, char ***ret_lines, size_t *ret_n)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	char **lines = NULL;
	size_t n = 0;
	bool bad = false;
	const char *name = strcmp(path, "-") == 0 ? "(stdin)" : path;
	unsigned min_rsa = cfg && cfg->required_rsa_size > 3072 ? cfg->required_rsa_size : 3072;

	if (strcmp(path, "-") == 0) {
		data = xmalloc(KEYS_MAX_INPUT + 1);
		for (;;) {
			ssize_t k = read(STDIN_FILENO, data + len, KEYS_MAX_INPUT - len);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				ctl_err("reading keys from stdin: %s", strerror(errno));
				return CTL_ERROR;
			}
			if (k == 0)
				break;
			len += (size_t)k;
			if (len == KEYS_MAX_INPUT) {
				ctl_err("stdin: more than %u bytes of keys", KEYS_MAX_INPUT);
				return CTL_ERROR;
			}
		}
		data[len] = '\0';
	} else {
		int r = read_small_file(path, KEYS_MAX_INPUT, false, &data, &len);
		if (r < 0) {
			ctl_err("%s: %s", path, strerror(-r));
			return CTL_ERROR;
		}
	}
	unsigned lineno = 0;
	for (char *p = data, *line; (line = strsep(&p, "\n")) != NULL;) {
		lineno++;
		size_t l = strlen(line);
		while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
			line[--l] = '\0';
		const char *t = line + strspn(line, " \t");
		if (!*t || *t == '#')
			continue;
		struct authkeys_list kl = AUTHKEYS_LIST_NULL;
		struct berth_errors ke = BERTH_ERRORS_NULL;
		if (authkeys_parse(t, strlen(t), name, &kl, &ke) != 0 || kl.n != 1) {
			const char *m = ke.n ? strstr(ke.msgs[0], ": ") : NULL;
			ctl_err("%s:%u: %s", name, lineno, m ? m + 2 : "not a public key");
			bad = true;
		} else if (strcmp(kl.entries[0].type, "ssh-rsa") == 0 &&
		           authkeys_key_bits("ssh-rsa", kl.entries[0].blob,
		                             kl.entries[0].blob_len) < min_rsa) {
			ctl_err("%s:%u: RSA key of %u bits; berthd requires at least %u "
			        "(RequiredRSASize)",
			        name, lineno,
			        authkeys_key_bits("ssh-rsa", kl.entries[0].blob,
			                          kl.entries[0].blob_len),
			        min_rsa);
			bad = true;
		} else if (!acctedit_value_valid(t)) {
			ctl_err("%s:%u: control characters in the line", name, lineno);
			bad = true;
		} else {
			lines = xreallocarray(lines, n + 1, sizeof(*lines));
			lines[n++] = xstrdup(t);
		}
		authkeys_list_free(&kl);
		berth_errors_free(&ke);
	}
	if (bad || n == 0) {
		if (!bad)
			ctl_err("%s: no public key found", name);
		ctl_free_lines(lines, n);
		return CTL_ERROR;
	}
	*ret_lines = lines;
	*ret_n = n;
	return CTL_OK;
}
