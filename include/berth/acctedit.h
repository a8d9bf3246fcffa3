/* SPDX-License-Identifier: BSD-2-Clause */
/* Editing the accounts file (berth-accounts(5)) the way a person would: a stanza editor
 * that keeps every byte it is not asked to change, validation with the daemon's own
 * parser, and a locked, atomic replace of the file. Used by berthctl(8).
 *
 * The editor knows the file's *shape* only (stanza headers, "Keyword value" lines,
 * comments, blank lines), never the meaning of a keyword: every keyword the parser
 * (src/account/vusers.c) accepts can be edited, and whether a value is valid is decided
 * by acctedit_validate(), i.e. by berth_accounts_load_string() + berth_accounts_check(),
 * the same functions `berthd -t` runs.
 *
 * Shape (the parser's): a line is blank, a comment (first non-blank byte '#'), a stanza
 * header (first word Account, Group or Defaults, case-insensitive, then the name), or a
 * "Keyword value" line that belongs to the stanza above it. Comment lines at column 0
 * directly above a header (no blank line between, not at the very top of the file) are
 * that stanza's leading comments: they move and go with it. Blank lines and indented
 * comments belong to the stanza above.
 *
 * Error convention: 0 success, -errno, positive ACCTEDIT_E_* conditions.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct berth_errors;
struct berth_accounts;
struct berth_account;

enum {
	ACCTEDIT_E_NOTFOUND = 1, /* no such stanza / keyword line */
	ACCTEDIT_E_EXISTS,       /* a stanza of that kind and name already exists */
	ACCTEDIT_E_INVALID,      /* the edited text does not pass the parser (see errors) */
};

#define ACCTEDIT_MAX_FILE  (16u << 20) /* the parser's limit */
#define ACCTEDIT_MAX_VALUE 16000       /* bytes of one value (the parser's line limit) */

struct acctedit; /* the file as lines; opaque */

/**
 * acctedit_new() - split @text into lines and stanzas. Nothing is normalised: the text
 * acctedit_text() returns before any edit equals @text byte for byte.
 * @text: file contents (need not be NUL-terminated).
 * @len: its length.
 * @ret: editor; free with acctedit_free().
 *
 * Return: 0, -EINVAL (NUL byte in @text), -EFBIG (over ACCTEDIT_MAX_FILE).
 */
int acctedit_new(const char *text, size_t len, struct acctedit **ret);

/* acctedit_free() - free @ed (NULL is fine). Return: NULL. */
struct acctedit *acctedit_free(struct acctedit *ed);

/**
 * acctedit_text() - the current text.
 * @ed: editor.
 * @ret_len: its length.
 *
 * Return: heap string (NUL-terminated), caller frees.
 */
char *acctedit_text(const struct acctedit *ed, size_t *ret_len);

/* ---- stanzas (indexes are valid until the next stanza add/remove) ---- */

/* acctedit_stanza_count() - number of stanzas (Defaults, Group, Account) in file order. */
size_t acctedit_stanza_count(const struct acctedit *ed);
/* acctedit_stanza_kind() - "Account", "Group" or "Defaults" (canonical spelling). */
const char *acctedit_stanza_kind(const struct acctedit *ed, size_t s);
/* acctedit_stanza_name() - the name as written (unquoted); "" for Defaults. */
const char *acctedit_stanza_name(const struct acctedit *ed, size_t s);
/* acctedit_stanza_line() - 1-based line number of the header. */
unsigned acctedit_stanza_line(const struct acctedit *ed, size_t s);

/**
 * acctedit_stanza_find() - the stanza of @kind (case-insensitive) named @name (exact).
 * @ed: editor.
 * @kind: "Account", "Group" or "Defaults".
 * @name: name (ignored for Defaults).
 * @ret: index.
 *
 * Return: 0 or ACCTEDIT_E_NOTFOUND.
 */
int acctedit_stanza_find(const struct acctedit *ed, const char *kind, const char *name,
                         size_t *ret);

/**
 * acctedit_stanza_add() - append an empty stanza "@kind @name" in the file's style
 * (blank line before it if the file separates stanzas so, its line endings). An
 * Account goes to the end of the file; another kind after the last stanza of that kind,
 * else before the first Account.
 * @ed: editor.
 * @kind: "Account", "Group" or "Defaults".
 * @name: name (ignored for Defaults); must be a valid account name.
 * @ret: index of the new stanza (may be NULL).
 *
 * Return: 0, ACCTEDIT_E_EXISTS, -EINVAL (unknown kind, invalid name).
 */
int acctedit_stanza_add(struct acctedit *ed, const char *kind, const char *name, size_t *ret);

/**
 * acctedit_stanza_remove() - delete the stanza: its leading comments, header and body
 * (keyword lines, indented comments and the blank lines that follow it). At the end of
 * the file, blank lines left dangling before it go too.
 * @ed: editor.
 * @s: index.
 */
void acctedit_stanza_remove(struct acctedit *ed, size_t s);

/**
 * acctedit_stanza_rename() - change the name on the header line (nothing else).
 * Return: 0, ACCTEDIT_E_EXISTS, -EINVAL (invalid name or a Defaults stanza).
 */
int acctedit_stanza_rename(struct acctedit *ed, size_t s, const char *name);

/**
 * acctedit_stanza_text() - the stanza as written: leading comments, header, keyword lines
 * and the comments among them (not the blank lines and column-0 comments after it).
 * @ed: editor.
 * @s: index.
 * @ret_len: length.
 *
 * Return: heap string, caller frees.
 */
char *acctedit_stanza_text(const struct acctedit *ed, size_t s, size_t *ret_len);

/* ---- keyword lines of one stanza ---- */

/**
 * acctedit_value_count() - how many lines of @kw (case-insensitive) the stanza has.
 */
size_t acctedit_value_count(const struct acctedit *ed, size_t s, const char *kw);

/**
 * acctedit_value() - the @i-th @kw line's value exactly as written (the rest of the
 * line after the keyword and its blanks, trailing blanks and CR removed).
 * @line: if not NULL, receives the 1-based line number.
 *
 * Return: borrowed string valid until the next edit, or NULL if @i is out of range.
 */
const char *acctedit_value(const struct acctedit *ed, size_t s, const char *kw, size_t i,
                           unsigned *line);

/**
 * acctedit_keyword_valid() - a keyword berthctl may write: a letter, then letters,
 * digits, '-' or '_', at most 64 bytes, and not a stanza header (Account, Group,
 * Defaults).
 */
bool acctedit_keyword_valid(const char *kw);

/**
 * acctedit_value_valid() - a value that can be written on one line: 1..ACCTEDIT_MAX_VALUE
 * bytes, no control character but tab (so no line can be injected), no leading or
 * trailing blank.
 */
bool acctedit_value_valid(const char *value);

/**
 * acctedit_set() - afterwards the stanza has exactly one @kw line, with @value written
 * verbatim. The first existing @kw line is rewritten in place (indentation, keyword
 * spelling and the blanks after it kept), the others are deleted; without one, a line
 * is added after the stanza's last keyword line, indented and aligned like its
 * neighbours.
 * @ed: editor.
 * @s: stanza.
 * @kw: keyword (acctedit_keyword_valid()).
 * @value: value as it appears in the file (acctedit_value_valid()).
 *
 * Return: 0 or -EINVAL.
 */
int acctedit_set(struct acctedit *ed, size_t s, const char *kw, const char *value);

/**
 * acctedit_add() - add one more @kw line (repeatable keywords), after the stanza's last
 * @kw line, else after its last keyword line.
 * Return: 0 or -EINVAL.
 */
int acctedit_add(struct acctedit *ed, size_t s, const char *kw, const char *value);

/**
 * acctedit_unset() - delete every @kw line of the stanza.
 * Return: number of lines deleted.
 */
size_t acctedit_unset(struct acctedit *ed, size_t s, const char *kw);

/**
 * acctedit_del() - delete the @kw lines whose value equals @value (as written, or after
 * removing the quotes).
 * Return: number of lines deleted.
 */
size_t acctedit_del(struct acctedit *ed, size_t s, const char *kw, const char *value);

/**
 * acctedit_del_nth() - delete the @i-th @kw line of the stanza.
 * Return: 0 or ACCTEDIT_E_NOTFOUND.
 */
int acctedit_del_nth(struct acctedit *ed, size_t s, const char *kw, size_t i);

/**
 * acctedit_quote() - @value as one parser value: unchanged when it has no blank, '#' or
 * leading '"' and is not empty; else in double quotes with '"' and '\' escaped.
 * Return: heap string.
 */
char *acctedit_quote(const char *value);

/**
 * acctedit_unquote() - the parser's reading of a single value: a "quoted" value
 * unescaped, else the first word.
 * Return: heap string, or NULL if the quotes are not closed.
 */
char *acctedit_unquote(const char *value);

/* ---- validation ---- */

/**
 * acctedit_validate() - would `berthd -t` accept the accounts file @text?
 * berth_accounts_load_string() must report nothing, and every problem that
 * berth_accounts_check() reports must already have been reported for @old_text (a
 * missing Root of some other account is not this edit's fault): those go to @warnings.
 * @text: the edited text.
 * @len: its length.
 * @name: file name for the diagnostics ("file:line: message").
 * @old_text: the text before the edit (NULL for a new file).
 * @old_len: its length.
 * @errors: what makes the edit invalid.
 * @warnings: problems the file already had (may be NULL).
 * @ret_db: if not NULL, on success the parsed database (berth_accounts_free()).
 *
 * Return: 0 or ACCTEDIT_E_INVALID.
 */
int acctedit_validate(const char *text, size_t len, const char *name, const char *old_text,
                      size_t old_len, struct berth_errors *errors, struct berth_errors *warnings,
                      struct berth_accounts **ret_db);

/* ---- the parsed database, read-only (for list/show) ---- */

/**
 * berth_accounts_find() - the virtual account @name in @db (as parsed: Defaults applied,
 * tokens expanded).
 * Return: borrowed pointer valid while @db lives, or NULL.
 */
const struct berth_account *berth_accounts_find(const struct berth_accounts *db, const char *name);

/* ---- passwords (implemented in src/account/password.c) ---- */

/**
 * berth_password_hash() - hash @password with yescrypt (libxcrypt's default cost, a
 * fresh random salt from crypt_gensalt_rn). All scratch memory is wiped.
 * @password: plaintext (not modified; the caller wipes it).
 * @ret: heap hash "$y$..."; wipe and free it.
 *
 * Return: 0, -EINVAL (empty password), or -errno from libxcrypt.
 */
int berth_password_hash(const char *password, char **ret);

/* ---- the file on disk: locked read-modify-write, atomic replace ---- */

struct acctfile; /* an accounts file open for editing; opaque */

enum acctfile_flags {
	ACCTFILE_CREATE = 1u << 0, /* a missing file reads as empty and is created on commit */
};

/**
 * acctfile_open() - lock the accounts file @path for an edit and read it.
 *
 * The lock is flock(LOCK_EX) on ".NAME.lock" beside the file (created 0600, never
 * removed; the daemon does not take it, it only reads), held until acctfile_close(),
 * so two editors serialise and neither loses the other's change.
 *
 * Symlinks: if @path (or a directory on the way) is a symlink, the file edited is the
 * one it resolves to, and the lock and the temporary file are beside that one; the
 * link itself stays. Refused (-EPERM) when the directory that holds the real file is
 * writable by group or others, or owned by someone other than root or the caller:
 * whoever can write there controls the daemon's accounts, and berthctl will not pretend
 * that its lock and checks mean anything then. Every later file operation is relative
 * to that directory's fd (openat/renameat, O_NOFOLLOW), so nothing swapped in on the
 * path afterwards is followed.
 * @path: AccountsFile.
 * @flags: enum acctfile_flags.
 * @ret: handle.
 *
 * Return: 0, -ENOENT (missing and no ACCTFILE_CREATE), -EPERM (see above), -EFBIG,
 * -EINVAL (not a regular file), or another -errno.
 */
int acctfile_open(const char *path, unsigned flags, struct acctfile **ret);

/* acctfile_text() - the contents read at open (NUL-terminated; "" for a new file). */
const char *acctfile_text(const struct acctfile *f, size_t *ret_len);
/* acctfile_path() - the file really edited (symlinks resolved). */
const char *acctfile_path(const struct acctfile *f);
/* acctfile_exists() - false when the file did not exist at open (ACCTFILE_CREATE). */
bool acctfile_exists(const struct acctfile *f);

/**
 * acctfile_commit() - replace the file with @text: write a temporary file in the same
 * directory, give it the old file's owner, group and mode (a new file: the caller's
 * uid/gid, 0600), fsync it, rename it over the file, fsync the directory. Readers see
 * the old or the new file, never a mix; after a crash, one of the two.
 * @f: handle (still locked afterwards).
 * @text: new contents.
 * @len: length.
 *
 * Return: 0 or -errno (the old file is untouched and the temporary file removed).
 */
int acctfile_commit(struct acctfile *f, const char *text, size_t len);

/* acctfile_close() - unlock and free (NULL is fine). Return: NULL. */
struct acctfile *acctfile_close(struct acctfile *f);
