/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl internals: the command table's types and the helpers the commands share. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "berth/conf.h"

struct acctedit;
struct berth_account;
struct berth_accounts;
struct vfs;
struct xbuf;

/* Exit statuses (berthctl(8)). */
enum {
	CTL_OK = 0,
	CTL_ERROR = 1,
	CTL_USAGE = 2,
};

/* What every command gets: the global options and, loaded on demand, the config. */
struct ctl {
	const char *config_path;   /* -f FILE, or NULL for the default */
	const char *accounts_path; /* -A FILE: edit this accounts file, no config needed */
	bool have_cfg;
	struct berth_config cfg; /* loaded by ctl_config() */
};

/**
 * struct ctl_command - one row of a command table (top level: main.c; subcommands:
 * each command's own table).
 * @name: word on the command line.
 * @run: handler; argv[0] is @name, options may follow anywhere (GNU getopt permutes).
 *       Returns an exit status.
 * @args: synopsis after the name, for usage lines.
 * @summary: one line for the command list.
 */
struct ctl_command {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
	const char *args;
	const char *summary;
};

/* Error to stderr as "berthctl: ...". */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning to stderr as "berthctl: warning: ...". */
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The options every command accepts: -f FILE, -A FILE. Returns true if @opt was one. */
bool ctl_common_option(struct ctl *c, int opt, const char *arg);
#define CTL_COMMON_SHORTOPTS "f:A:h"
#define CTL_COMMON_LONGOPTS                                                                        \
	{"config", required_argument, NULL, 'f'}, {"accounts", required_argument, NULL, 'A'},      \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

/**
 * ctl_dispatch() - run the subcommand named argv[0] from @table, or print the table.
 * @c: context.
 * @what: the command's name, for messages ("account").
 * @table: rows.
 * @n: count.
 * @argc: arguments from the subcommand's name on.
 * @argv: they.
 *
 * Return: exit status.
 */
int ctl_dispatch(struct ctl *c, const char *what, const struct ctl_command *table, size_t n,
                 int argc, char **argv);

/* Print "usage: berthctl WHAT NAME ARGS" and @help (options) to stdout (code 0) or
 * stderr, and return @code. */
int ctl_usage(int code, const char *what, const struct ctl_command *cmd, const char *help);

/* The configuration (-f, else the default path), loaded once; errors printed. */
int ctl_config(struct ctl *c, const struct berth_config **ret);

/* The accounts file: -A, else AccountsFile of the configuration. Errors printed. */
int ctl_accounts_path(struct ctl *c, const char **ret);

/* Read the accounts file without locking (list, show). Errors printed. */
int ctl_read_accounts(struct ctl *c, char **ret_text, size_t *ret_len, const char **ret_path);

/**
 * ctl_edit() - locked read-modify-write of the accounts file: open and lock it, build
 * the editor, call @fn, validate the result as `berthd -t` would, and replace the file
 * if the text changed. Problems are printed.
 * @c: context.
 * @create: a missing file is created (account add).
 * @fn: the edit; prints its own errors and returns an exit status.
 * @ud: passed to @fn.
 * @ret_changed: whether the file was written (may be NULL).
 *
 * Return: exit status.
 */
int ctl_edit(struct ctl *c, bool create, int (*fn)(struct ctl *c, struct acctedit *ed, void *ud),
             void *ud, bool *ret_changed);

/**
 * ctl_read_password() - a new password: from the terminal (no echo, asked twice) or,
 * with @from_stdin, the first line of stdin. Never from the command line.
 * @from_stdin: read stdin instead of /dev/tty.
 * @buf: receives the password (NUL-terminated); the caller wipes it.
 * @size: its size.
 *
 * Return: exit status.
 */
int ctl_read_password(bool from_stdin, char *buf, size_t size);

/**
 * ctl_read_keys() - authorized_keys lines from @path ("-" = stdin), each validated with
 * the daemon's parser; the whole input is refused if one line is bad.
 * @path: file or "-".
 * @cfg: for RequiredRSASize (may be NULL: 3072).
 * @ret_lines: heap array of heap lines, as given (trailing blanks removed).
 * @ret_n: count (at least 1).
 *
 * Return: exit status.
 */
int ctl_read_keys(const char *path, const struct berth_config *cfg, char ***ret_lines,
                  size_t *ret_n);

/* Free what ctl_read_keys() returned. */
void ctl_free_lines(char **lines, size_t n);

/* Does stanza @s have an AuthorizedKey line with the same key (blob) as @line? */
bool ctl_stanza_has_key(const struct acctedit *ed, size_t s, const char *line);

/* "256 SHA256:... comment (ED25519)", as ssh-keygen -l prints a key; heap string. */
char *ctl_key_description(const char *line);

/**
 * ctl_account() - look @name up as the monitor does for a login: the configuration, the
 * accounts file (one that does not load counts as empty, as berthd fails closed: a
 * warning lists its errors), then berth_account_lookup(). Problems are printed.
 * @c: context.
 * @name: account name.
 * @ret_cfg: the configuration.
 * @ret_db: the database (berth_accounts_free()).
 * @ret: the account with its compiled policy (berth_account_free()).
 *
 * Return: exit status (CTL_ERROR for an unknown account).
 */
int ctl_account(struct ctl *c, const char *name, const struct berth_config **ret_cfg,
                struct berth_accounts **ret_db, struct berth_account **ret);

/* Bytes the function run by ctl_as_account() may answer. */
#define CTL_AS_ACCOUNT_MAX (60 * 1024)

/**
 * ctl_as_account() - run @fn in a forked child that is the account (exactly its uid, gid
 * and groups, as berthd's worker: priv_drop_to(), no new privileges, not dumpable), on
 * the account's jail opened as a POSIX VFS (root = Root, working directory =
 * StartDirectory). Needs root, or to be the account already.
 * @cfg: configuration (Umask).
 * @a: account.
 * @fn: the work; writes its answer into @out and returns 0 or -errno.
 * @ctx: for @fn.
 * @ret: receives @fn's answer when it returned 0.
 *
 * Return: what @fn returned, or 1 when the child could not become the account or open
 * the jail (printed).
 */
int ctl_as_account(const struct berth_config *cfg, const struct berth_account *a,
                   int (*fn)(struct vfs *v, void *ctx, struct xbuf *out), void *ctx,
                   struct xbuf *ret);

/* The commands (account.c, key.c, explain.c, quota.c). */
int ctl_cmd_account(struct ctl *c, int argc, char **argv);
int ctl_cmd_group(struct ctl *c, int argc, char **argv);
int ctl_cmd_key(struct ctl *c, int argc, char **argv);
int ctl_cmd_explain(struct ctl *c, int argc, char **argv);
int ctl_cmd_quota(struct ctl *c, int argc, char **argv);
/* Live state of the running daemon over its control socket (live.c). */
int ctl_cmd_sessions(struct ctl *c, int argc, char **argv);
int ctl_cmd_kick(struct ctl *c, int argc, char **argv);
int ctl_cmd_ban(struct ctl *c, int argc, char **argv);
int ctl_cmd_reload(struct ctl *c, int argc, char **argv);
