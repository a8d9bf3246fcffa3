/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-account policy: the compiled rules of one account and the pure decision functions.
 *
 * A struct policy is what the accounts file (berth-accounts(5)) says about one account
 * once Defaults, inherited Groups and the account's own lines are merged: ReadOnly,
 * per-directory permissions and name filters, setstat handling, quotas, bandwidth,
 * source networks, expiry, concurrent logins, allowed protocols and the upload mode.
 * Every rule remembers where it was written (file:line) and its text.
 *
 * The decision functions are pure (no I/O, no clock, no logging): the same inputs give
 * the same verdict, so the servers and `berthctl explain` print the same answer. A
 * verdict lists every rule that took part; policy_verdict_describe() renders it as
 * "denied by Permissions /in upload-only at /etc/berth/accounts:12".
 *
 * Paths given to the decision functions are canonical absolute paths inside the jail
 * ("/" = jail root, no "." or ".." or "//", no trailing slash): the caller resolves
 * symlinks first (vfs_policy does, through the kernel).
 *
 * Error convention: 0 allowed, -EACCES denied, positive POLICY_* conditions.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct xbuf;

/* Operation classes, also the permission names of a Permissions line. */
enum policy_op {
	POLICY_OP_LIST = 0,  /* opendir/readdir; stat/lstat/readlink need it on the parent */
	POLICY_OP_DOWNLOAD,  /* open for reading, check-file */
	POLICY_OP_UPLOAD,    /* create a new file (also a hard link's new name) */
	POLICY_OP_OVERWRITE, /* write into, truncate or replace an existing file */
	POLICY_OP_DELETE,    /* remove a file or symlink */
	POLICY_OP_RENAME,    /* rename (needed on the source directory) */
	POLICY_OP_MKDIR,
	POLICY_OP_RMDIR,
	POLICY_OP_SYMLINK,
	POLICY_OP_SETSTAT, /* mode, owner, times (a size change is OVERWRITE) */
	POLICY_OP_COUNT,
};
#define POLICY_PERM_ALL ((1u << POLICY_OP_COUNT) - 1)
#define POLICY_PERM(op) (1u << (op))
/* What ReadOnly refuses. */
#define POLICY_PERM_WRITES                                                                         \
	(POLICY_PERM_ALL & ~(POLICY_PERM(POLICY_OP_LIST) | POLICY_PERM(POLICY_OP_DOWNLOAD)))

/* Flags for policy_decide(). */
enum {
	POLICY_F_DIR = 0x1,    /* the object is a directory: name filters do not apply */
	POLICY_F_EXISTS = 0x2, /* policy_decide_rename(): the target exists (replace) */
};

/* Positive results. */
enum {
	POLICY_IGNORE = 1,          /* SetstatMode ignore: answer success, change nothing */
	POLICY_E_NOT_A_KEYWORD = 2, /* policy_set_keyword(): not a policy keyword */
};

enum policy_setstat { POLICY_SETSTAT_APPLY = 0, POLICY_SETSTAT_IGNORE, POLICY_SETSTAT_REFUSE };
enum policy_upload_mode {
	POLICY_UPLOAD_STANDARD = 0,  /* write in place (OpenSSH behaviour) */
	POLICY_UPLOAD_ATOMIC,        /* hidden temporary file, renamed on a complete close */
	POLICY_UPLOAD_ATOMIC_RESUME, /* same, an interrupted upload is kept for resuming */
};
/* Protocols (bits) for Protocols and policy_check_login(). */
enum policy_proto {
	POLICY_PROTO_SFTP = 1u << 0,
	POLICY_PROTO_SCP = 1u << 1,
	POLICY_PROTO_FTP = 1u << 2,  /* plain FTP, where a listener allows it */
	POLICY_PROTO_FTPS = 1u << 3, /* FTP over TLS */
};
#define POLICY_PROTO_ALL 0xfu
#define POLICY_PROTO_SSH (POLICY_PROTO_SFTP | POLICY_PROTO_SCP)

/* Scalar settings, each with its origin. */
enum policy_key {
	POLICY_READ_ONLY = 0, /* bool */
	POLICY_SETSTAT_MODE,  /* enum policy_setstat */
	POLICY_QUOTA_BYTES,   /* 0 = unlimited */
	POLICY_QUOTA_FILES,   /* 0 = unlimited */
	POLICY_MAX_FILE_SIZE, /* bytes, 0 = unlimited */
	POLICY_BW_UPLOAD,     /* bytes/s, 0 = unlimited */
	POLICY_BW_DOWNLOAD,   /* bytes/s, 0 = unlimited */
	POLICY_EXPIRES,       /* UTC seconds since the epoch; logins refused from then on */
	POLICY_MAX_LOGINS,    /* concurrent logins of the account, 0 = unlimited */
	POLICY_PROTOCOLS,     /* enum policy_proto bits (unset = all) */
	POLICY_UPLOAD_MODE,   /* enum policy_upload_mode */
	POLICY_UPLOAD_HASH,   /* bool: SHA-256 of every upload for the transfer log (default on) */
	POLICY_ALLOW_FROM,    /* string: address pattern list (berth_match_addr_list) */
	POLICY_DENY_FROM,     /* string */
	POLICY_KEY_COUNT,
};

/* Where a rule was written: "file:line" (line 0 = file only, file NULL = built in). */
struct policy_origin {
	char *file;
	uint32_t line;
};

/* One scalar setting. @text is the rule as written ("QuotaSize 10G"). */
struct policy_value {
	bool set;
	uint64_t v;
	char *str; /* string settings only */
	char *text;
	struct policy_origin origin;
};

/* Permissions DIR PERMS: @perms applies to @path and everything below it, unless a
 * longer rule overrides. */
struct policy_dir_rule {
	char *path;
	uint32_t perms;
	char *text;
	struct policy_origin origin;
};

/* Filter DIR PATTERNS: names in @path and below must match one allow pattern (when
 * there are any) and no deny pattern. */
struct policy_filter_rule {
	char *path;
	char **allow;
	size_t n_allow;
	char **deny;
	size_t n_deny;
	char *text;
	struct policy_origin origin;
};

/* Limits of the accounts syntax (also enforced by the decoder). */
#define POLICY_MAX_RULES    1024 /* Permissions lines, and Filter lines, per account */
#define POLICY_MAX_PATTERNS 256  /* patterns per Filter line */
#define POLICY_MAX_TEXT     4096 /* bytes of one path, pattern, text or file name */

/**
 * struct policy - the compiled policy of one account (heap object).
 * @values: scalar settings by enum policy_key.
 * @dirs: Permissions rules, longest path first.
 * @n_dirs: count.
 * @filters: Filter rules, longest path first.
 * @n_filters: count.
 */
struct policy {
	struct policy_value values[POLICY_KEY_COUNT];
	struct policy_dir_rule *dirs;
	size_t n_dirs;
	struct policy_filter_rule *filters;
	size_t n_filters;
};

/* ---- building (the accounts parser) ---- */

/* Empty policy: everything allowed, no limits. Never NULL. */
struct policy *policy_new(void);
/* Free @p; NULL is fine. Returns NULL. */
struct policy *policy_free(struct policy *p);
/* Deep copy. */
struct policy *policy_dup(const struct policy *p);

/**
 * policy_set_keyword() - apply one accounts-file line to @p.
 * @p: policy.
 * @keyword: e.g. "Permissions", "QuotaSize" (case-insensitive).
 * @value: the rest of the line (comments already removed, no surrounding blanks).
 * @file: origin file (copied).
 * @line: origin line.
 * @ret_err: on -EINVAL, a static or thread-unsafe-free description (never freed by the
 *           caller; valid until the next call).
 *
 * A later Permissions or Filter line for the same directory replaces the earlier one; a
 * scalar keyword replaces its earlier value.
 *
 * Return: 0, POLICY_E_NOT_A_KEYWORD, or -EINVAL (bad value, see @ret_err).
 */
int policy_set_keyword(struct policy *p, const char *keyword, const char *value, const char *file,
                       unsigned line, const char **ret_err);

/**
 * policy_is_keyword() - true if @keyword is one policy_set_keyword() understands.
 * @keyword: name.
 *
 * Return: bool.
 */
bool policy_is_keyword(const char *keyword);

/**
 * policy_set_read_only() - force ReadOnly on, recording why (global ReadOnly, a key's
 * command="internal-sftp -R"). Keeps an existing ReadOnly yes.
 * @p: policy.
 * @text: rule text, e.g. "ReadOnly yes".
 * @file: origin file (may be NULL).
 * @line: origin line.
 */
void policy_set_read_only(struct policy *p, const char *text, const char *file, unsigned line);

/**
 * policy_merge() - @src's settings override @dst's: scalars set in @src replace, and
 * Permissions/Filter rules of @src replace @dst's rule for the same directory.
 * @dst: policy to update.
 * @src: overriding policy.
 */
void policy_merge(struct policy *dst, const struct policy *src);

/* ---- values and names ---- */

/* "list", "download", ...; NULL for an invalid op. */
const char *policy_op_name(enum policy_op op);
/* Parse an op name ("upload"); -EINVAL if unknown. */
int policy_op_from_name(const char *name, enum policy_op *ret);
/* Permission list "list,download" or presets full, read-only, upload-only, none, "*". */
int policy_parse_perms(const char *text, uint32_t *ret);
/* "1024", "10K", "500M", "10G", "2T" (powers of 1024); "none"/"0" = 0. -EINVAL/-ERANGE. */
int policy_parse_size(const char *text, uint64_t *ret);
/* A size with an optional "/s" suffix, bytes per second. */
int policy_parse_rate(const char *text, uint64_t *ret);
/* ISO 8601 date in UTC: "2026-12-31", "2026-12-31T18:00", "2026-12-31T18:00:00Z". */
int policy_parse_date(const char *text, int64_t *ret);
/* Protocol list "sftp,scp,ftps" (also "all"). */
int policy_parse_protocols(const char *text, uint32_t *ret);
/* Scalar accessor: the value of @key, 0 when unset (UploadHash defaults to 1). */
uint64_t policy_get(const struct policy *p, enum policy_key key);
/* True when the policy has Permissions or Filter rules (decisions depend on paths). */
bool policy_has_path_rules(const struct policy *p);

/* ---- decisions ---- */

enum policy_rule_kind {
	POLICY_RULE_DEFAULT = 0, /* no rule matched: allowed */
	POLICY_RULE_VALUE,       /* a scalar setting (ReadOnly, SetstatMode, AllowFrom...) */
	POLICY_RULE_PERMISSIONS,
	POLICY_RULE_FILTER,
	POLICY_RULE_RESERVED,  /* a name berth keeps for itself (".berth-*") */
	POLICY_RULE_PROTECTED, /* a directory that carries its own rules cannot be moved */
	POLICY_RULE_LINK,      /* a link would give more access than the source allows */
};

/**
 * struct policy_step - one rule that took part in a decision.
 * @kind: rule kind.
 * @allows: whether this rule allowed (true) or refused (false) its part.
 * @op: the operation class the step is about.
 * @path: the directory or name the step looked at (borrowed from the decide call's
 *        arguments or the policy; valid as long as both are).
 * @text: rule text ("Permissions /in upload-only"), or a short explanation for DEFAULT,
 *        RESERVED, PROTECTED and LINK steps. Borrowed from @p or static.
 * @origin: where the rule was written (file NULL for built-in steps).
 */
struct policy_step {
	enum policy_rule_kind kind;
	bool allows;
	enum policy_op op;
	const char *path;
	const char *text;
	const struct policy_origin *origin;
};

#define POLICY_VERDICT_STEPS 12

/**
 * struct policy_verdict - result of a decision.
 * @allowed: the operation may proceed.
 * @ignore: SetstatMode ignore: report success without changing anything.
 * @n: number of @steps used.
 * @steps: the rules that took part, in evaluation order; the deciding one is last.
 */
struct policy_verdict {
	bool allowed;
	bool ignore;
	unsigned n;
	struct policy_step steps[POLICY_VERDICT_STEPS];
};

/**
 * policy_decide() - may @op be done on @path?
 * @p: policy.
 * @op: operation class.
 * @path: canonical object path. For POLICY_OP_LIST it is the directory being listed (or
 *        the directory holding a stat'ed object); for the other ops it is the object,
 *        and the rules of its parent directory apply.
 * @flags: POLICY_F_DIR when the object is a directory.
 * @ret: verdict (always filled).
 *
 * Return: 0 allowed, POLICY_IGNORE (setstat to be ignored), or -EACCES.
 */
int policy_decide(const struct policy *p, enum policy_op op, const char *path, unsigned flags,
                  struct policy_verdict *ret);

/**
 * policy_decide_rename() - rename @src to @dst: RENAME on the source directory, UPLOAD on
 * the target directory (OVERWRITE too with POLICY_F_EXISTS), name filters on the new
 * name, no directory carrying its own rules moved or replaced, and no download access
 * created that the source directory does not give.
 * @p: policy.
 * @src: canonical source path.
 * @dst: canonical target path.
 * @flags: POLICY_F_DIR (the source is a directory), POLICY_F_EXISTS (the target exists).
 * @ret: verdict.
 *
 * Return: 0 or -EACCES.
 */
int policy_decide_rename(const struct policy *p, const char *src, const char *dst, unsigned flags,
                         struct policy_verdict *ret);

/**
 * policy_decide_link() - hard link @src as @dst: DOWNLOAD on the source directory, UPLOAD
 * on the target directory, and every content permission the target directory grants
 * (download, overwrite, setstat) must also be granted by the source directory, since
 * both names reach the same file.
 * @p: policy.
 * @src: canonical path of the existing file.
 * @dst: canonical path of the new name.
 * @ret: verdict.
 *
 * Return: 0 or -EACCES.
 */
int policy_decide_link(const struct policy *p, const char *src, const char *dst,
                       struct policy_verdict *ret);

/**
 * policy_check_login() - may the account log in from @addr at @now over @protocols?
 * Checks Expires, DenyFrom, AllowFrom and Protocols (MaxLogins needs shared state: the
 * monitor counts; see policy_get(p, POLICY_MAX_LOGINS)).
 * @p: policy.
 * @addr: numeric client address (NULL counts as no match).
 * @now: current time (UTC seconds).
 * @protocols: the protocols this login could use (e.g. POLICY_PROTO_SSH); allowed when
 *             Protocols includes at least one of them.
 * @ret: verdict.
 *
 * Return: 0 or -EACCES.
 */
int policy_check_login(const struct policy *p, const char *addr, time_t now, uint32_t protocols,
                       struct policy_verdict *ret);

/**
 * policy_reserved_name() - true for names berth keeps for its own temporary files
 * (".berth-" prefix): never listed, opened, created or removed by clients.
 * @name: final path component.
 *
 * Return: bool.
 */
bool policy_reserved_name(const char *name);
#define POLICY_RESERVED_PREFIX "berth-"

/* Flags for policy_path_lexical(). */
enum { POLICY_PATH_DOTS = 0x1 };

/**
 * policy_path_lexical() - the canonical path (see above) that @path names if no symbolic
 * link is on the way: absolute (a relative @path starts at @cwd), "//" collapsed, no
 * trailing slash. The policy layer decides on this form first (vfs_policy.c); `berthctl
 * explain` evaluates a path as written with it.
 * @cwd: canonical working directory ("/" = jail root).
 * @path: client path.
 * @flags: POLICY_PATH_DOTS: resolve "." and ".." components as well (".." of "/" is "/",
 *         as the kernel's RESOLVE_IN_ROOT does). Without it a path with such a component
 *         gives 1: what it names depends on the links on the way, so the caller resolves
 *         it through the kernel instead.
 * @ret: heap string.
 *
 * Return: 0, 1 (see @flags), or -EINVAL (empty, or PATH_MAX bytes or longer).
 */
int policy_path_lexical(const char *cwd, const char *path, unsigned flags, char **ret);

/**
 * policy_verdict_describe() - one line for logs and `berthctl explain`:
 * "denied by Permissions /in upload-only at /etc/berth/accounts:12" or
 * "allowed by Permissions / full at accounts:3" or "allowed (no rule)".
 * @v: verdict.
 *
 * Return: heap string, caller frees.
 */
char *policy_verdict_describe(const struct policy_verdict *v);

/* ---- serialization (monitor -> worker) ---- */

#define POLICY_CODEC_VERSION 1
#define POLICY_CODEC_MAX     (4u << 20) /* bytes of one encoded policy */

/**
 * policy_encode() - append the versioned binary form of @p to @b.
 * @p: policy.
 * @b: buffer (its max must allow the size).
 *
 * Return: 0 or -ENOBUFS.
 */
int policy_encode(const struct policy *p, struct xbuf *b);

/**
 * policy_decode() - parse one encoded policy from @b (all of it: trailing bytes are an
 * error). Every length, count, enum and path is checked.
 * @b: buffer or view; consumed on success.
 * @ret: new policy on success.
 *
 * Return: 0 or -EBADMSG.
 */
int policy_decode(struct xbuf *b, struct policy **ret);

/**
 * policy_equal() - deep comparison (tests, fuzzing).
 * @a: policy.
 * @b: policy.
 *
 * Return: bool.
 */
bool policy_equal(const struct policy *a, const struct policy *b);
