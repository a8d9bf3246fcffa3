/* SPDX-License-Identifier: BSD-2-Clause */
/* Accounts: virtual (accounts file) and system (NSS), policy, auth-method chains,
 * password verification and the PAM helper process. Protocol-neutral: no SSH types,
 * used by the SSH and FTPS front ends alike.
 *
 * Error convention: 0 success, -errno system errors, positive BERTH_ACCOUNT_E_* /
 * BERTH_PAM_* documented conditions that the caller must handle.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "berth/conf.h"

struct authkeys_entry;
struct authkeys_list;
struct policy;

/* Positive, documented conditions. */
enum {
	BERTH_ACCOUNT_E_NOTFOUND = 1, /* no such account (also: invalid name) */
	BERTH_ACCOUNT_E_DISABLED,     /* account exists but is disabled */
	BERTH_ACCOUNT_E_DENIED,       /* AllowUsers/DenyUsers or similar policy refuses */
	BERTH_ACCOUNT_E_MISMATCH,     /* password does not match */
	BERTH_ACCOUNT_E_INVALID,      /* accounts file had errors (see berth_errors) */
	BERTH_ACCOUNT_E_METHOD,       /* method not allowed at this point of the chain */
};

#define BERTH_ACCOUNT_NAME_MAX 64 /* bytes; longer names never match */

enum berth_account_kind {
	BERTH_ACCOUNT_VIRTUAL = 1, /* accounts file; runs as its Uid/Gid */
	BERTH_ACCOUNT_SYSTEM,      /* NSS passwd entry; runs as that user */
};

/**
 * struct berth_account - one resolved account (heap object, berth_account_free()).
 * @name: login name.
 * @kind: virtual or system.
 * @uid: user id the session runs as.
 * @gid: primary group id.
 * @groups: supplementary groups (system: getgrouplist(); virtual: Groups keyword).
 * @n_groups: count of @groups.
 * @home: system: passwd home directory; virtual: same as @root.
 * @root: absolute jail root directory (tokens already expanded).
 * @start_dir: absolute path INSIDE the jail where the session starts ("/" default).
 * @read_only: refuse all writing requests (the account's ReadOnly or the global one;
 *             also recorded, with its origin, in @policy).
 * @enabled: false = login refused (BERTH_ACCOUNT_E_DISABLED).
 * @has_methods: @methods overrides the global AuthenticationMethods.
 * @methods: per-account AuthenticationMethods.
 * @allowed_methods: methods this account may use at all (bits of enum
 *                   berth_auth_method), already intersected with the global switches
 *                   (PasswordAuthentication...) and the account's credentials
 *                   (no password hash -> no password for virtual accounts).
 * @password_hash: virtual: crypt(3) hash or NULL (no password login). System: NULL
 *                 (passwords go through PAM).
 * @authorized_keys_files: absolute key file paths (tokens expanded).
 * @n_authorized_keys_files: count.
 * @inline_keys: authorized_keys lines given inline (AuthorizedKey).
 * @n_inline_keys: count.
 * @source: "file:line" of the Account stanza (virtual) or "nss".
 * @policy: the compiled policy (berth/policy.h): Defaults, inherited Groups and the
 *          account's own lines merged, plus the global ReadOnly. System accounts get
 *          the policy keywords of Defaults. Never NULL for a looked-up account.
 */
struct berth_account {
	char *name;
	enum berth_account_kind kind;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	char *home;
	char *root;
	char *start_dir;
	bool read_only;
	bool enabled;
	bool has_methods;
	struct berth_auth_policy methods;
	uint32_t allowed_methods;
	char *password_hash;
	char **authorized_keys_files;
	size_t n_authorized_keys_files;
	char **inline_keys;
	size_t n_inline_keys;
	char *source;
	struct policy *policy;
};

/**
 * berth_account_free() - free @a and everything it owns (wipes the password hash).
 * @a: account or NULL.
 *
 * Return: NULL.
 */
struct berth_account *berth_account_free(struct berth_account *a);

/* ---- the virtual accounts file (berth-accounts(5)) ---- */

struct berth_accounts; /* opaque database of virtual accounts */

/**
 * berth_accounts_load() - parse an accounts file.
 * @path: file (Include is not supported; one file per database).
 * @ret: database on success (also when empty). Not touched on failure.
 * @errors: every "file:line: message" problem (may be NULL).
 *
 * Return: 0; BERTH_ACCOUNT_E_INVALID if any line had errors; -errno if unreadable.
 */
int berth_accounts_load(const char *path, struct berth_accounts **ret, struct berth_errors *errors);

/**
 * berth_accounts_load_string() - same for in-memory text (tests, fuzzing).
 * @text: contents.
 * @len: length (NULs are reported as errors).
 * @name: file name for diagnostics.
 * @ret: as berth_accounts_load().
 * @errors: as berth_accounts_load().
 *
 * Return: 0 or BERTH_ACCOUNT_E_INVALID.
 */
int berth_accounts_load_string(const char *text, size_t len, const char *name,
                               struct berth_accounts **ret, struct berth_errors *errors);

/*
 * The last good accounts file: a copy (StateDirectory/accounts.last-good, root 0600) of
 * the last text that berthd validated at start or reload, or that berthctl wrote. A
 * monitor that finds the live file broken (a hand edit) serves this copy instead, so a
 * configuration with errors never replaces the one in force.
 */
char *berth_accounts_last_good_path(const char *state_dir);
/* Parse the accounts file at @path and, when it is valid, keep its exact bytes as the
 * last good copy. 0, BERTH_ACCOUNT_E_INVALID (nothing kept) or -errno. */
int berth_accounts_keep_last_good(const char *path, const char *state_dir);
/* berth_accounts_load() that also keeps the text as the last good copy when it loads
 * and differs from the copy (monitors call it per connection, so a valid hand edit
 * becomes the fallback at its first use). *@ret_kept: 0 or -errno of keeping it. */
int berth_accounts_load_keep(const char *path, const char *state_dir, struct berth_accounts **ret,
                             struct berth_errors *errors, int *ret_kept);
/* Keep @text (already validated) as the last good copy. 0 or -errno. */
int berth_accounts_save_last_good(const char *state_dir, const char *text, size_t len);

/**
 * berth_accounts_new_empty() - a database with no accounts (AccountsFile none).
 *
 * Return: heap object, never NULL.
 */
struct berth_accounts *berth_accounts_new_empty(void);

/**
 * berth_accounts_free() - free the database. NULL is fine.
 * @db: database.
 *
 * Return: NULL.
 */
struct berth_accounts *berth_accounts_free(struct berth_accounts *db);

/**
 * berth_accounts_count() - number of virtual accounts in @db.
 * @db: database.
 *
 * Return: count.
 */
size_t berth_accounts_count(const struct berth_accounts *db);

/**
 * berth_accounts_defaults_policy() - the policy keywords of the Defaults stanza (what
 * system accounts get).
 * @db: database.
 *
 * Return: borrowed from @db, never NULL.
 */
const struct policy *berth_accounts_defaults_policy(const struct berth_accounts *db);

/**
 * berth_accounts_check() - semantic checks for `berthd -t`: every Root exists and is a
 * directory, StartDirectory stays inside the jail, key files parse.
 * @db: database.
 * @errors: "file:line: message" of the stanza line that set the value.
 *
 * Return: 0 or BERTH_ACCOUNT_E_INVALID.
 */
int berth_accounts_check(const struct berth_accounts *db, struct berth_errors *errors);

/* ---- lookup and policy ---- */

/**
 * berth_account_name_valid() - reject names that are empty, longer than
 * BERTH_ACCOUNT_NAME_MAX, contain bytes < 0x21, 0x7f, '/', ':', '\\', or start with '-'.
 * @name: candidate.
 *
 * Return: true if acceptable.
 */
bool berth_account_name_valid(const char *name);

/**
 * berth_account_lookup() - find @name: virtual accounts first, then (if
 * cfg->system_accounts) NSS via getpwnam_r + getgrouplist. System accounts get
 * root = SystemAccountRoot expanded, start_dir "/" (or the home directory relative to the
 * jail when the jail contains it), keys from AuthorizedKeysFile (relative = under home).
 * System accounts with uid 0 are never returned.
 * @cfg: configuration.
 * @db: virtual accounts (may be NULL).
 * @name: login name as received (validated here).
 * @ret: heap account (berth_account_free()).
 *
 * Return: 0, BERTH_ACCOUNT_E_NOTFOUND (also for invalid names), or -errno (NSS failure).
 */
int berth_account_lookup(const struct berth_config *cfg, const struct berth_accounts *db,
                         const char *name, struct berth_account **ret);

/**
 * berth_account_apply_key() - what the key that authenticated a login says about its
 * sessions, folded into @acct->policy: command="internal-sftp -R" makes them read-only,
 * recorded with the key's file:line. The monitor calls this before it hands the policy
 * to a worker; `berthctl explain --key` does the same.
 * @acct: account (its policy is changed).
 * @key: the key used, or NULL (password login: nothing changes).
 */
void berth_account_apply_key(struct berth_account *acct, const struct authkeys_entry *key);

/**
 * berth_account_check_access() - may this account log in at all from @client_addr?
 * Checks enabled, DenyUsers, AllowUsers (patterns "user" or "user@addr-pattern", `*`/`?`
 * wildcards, addr patterns as in from=), and that at least one method is usable.
 * @cfg: configuration.
 * @acct: account.
 * @client_addr: numeric client address or NULL.
 * @ret_reason: on refusal, static reason text (may be NULL).
 *
 * Return: 0, BERTH_ACCOUNT_E_DISABLED or BERTH_ACCOUNT_E_DENIED.
 */
int berth_account_check_access(const struct berth_config *cfg, const struct berth_account *acct,
                               const char *client_addr, const char **ret_reason);

/**
 * berth_account_policy() - the AuthenticationMethods that apply to @acct (its own if
 * set, else the global one).
 * @cfg: configuration.
 * @acct: account (NULL for an unknown user: global policy).
 *
 * Return: borrowed pointer into @cfg or @acct.
 */
const struct berth_auth_policy *berth_account_policy(const struct berth_config *cfg,
                                                     const struct berth_account *acct);

/**
 * berth_config_enabled_methods() - bits of the globally enabled methods
 * (PubkeyAuthentication, PasswordAuthentication, KbdInteractiveAuthentication).
 * @cfg: configuration.
 *
 * Return: mask of enum berth_auth_method.
 */
uint32_t berth_config_enabled_methods(const struct berth_config *cfg);

/**
 * struct berth_auth_state - result of evaluating a chain.
 * @complete: the user is fully authenticated.
 * @partial: at least one method passed but more are required (SSH "partial success").
 * @next: methods that may be attempted next (mask of enum berth_auth_method),
 *        0 when complete or when no chain can still be satisfied.
 */
struct berth_auth_state {
	bool complete;
	bool partial;
	uint32_t next;
};

/**
 * berth_auth_evaluate() - sshd AuthenticationMethods semantics. Each chain is consumed
 * from its front: a passed method advances every chain whose next method it is; a chain
 * that is fully consumed authenticates. With an "any" policy (0 chains) one passed
 * method completes. Methods outside @enabled never appear in @next, and chains needing
 * them are dead.
 * @policy: AuthenticationMethods.
 * @enabled: usable methods (e.g. acct->allowed_methods).
 * @passed: methods passed so far, in order.
 * @n_passed: count.
 * @ret: state.
 *
 * Return: 0, or BERTH_ACCOUNT_E_METHOD if some passed method was not allowed at that
 * point (the caller should have asked first; treat as failure).
 */
int berth_auth_evaluate(const struct berth_auth_policy *policy, uint32_t enabled,
                        const enum berth_auth_method *passed, size_t n_passed,
                        struct berth_auth_state *ret);

/* ---- passwords (virtual accounts) ---- */

/**
 * berth_password_verify() - check @password against a crypt(3) hash (yescrypt $y$,
 * sha512-crypt $6$, sha256-crypt $5$, bcrypt $2b$/$2y$, gost-yescrypt $gy$) with
 * crypt_rn() and a constant-time comparison. Insecure methods (DES, MD5 $1$, NT) are
 * refused.
 * @hash: stored hash.
 * @password: candidate (not modified; the caller wipes it).
 *
 * Return: 0 on match, BERTH_ACCOUNT_E_MISMATCH, or -EINVAL (unsupported/malformed hash;
 * the same CPU was still not spent, so callers must treat it as a mismatch).
 */
int berth_password_verify(const char *hash, const char *password);

/**
 * berth_password_dummy_verify() - spend the same time as a wrong password for an
 * account that does not exist (or has no password): hashes @password with the
 * database's dummy hash (same algorithm and cost as the first hashed account, else a
 * yescrypt hash generated at load time with crypt_gensalt defaults).
 * @db: virtual accounts (NULL: a built-in yescrypt dummy).
 * @password: candidate.
 *
 * Return: always BERTH_ACCOUNT_E_MISMATCH.
 */
int berth_password_dummy_verify(const struct berth_accounts *db, const char *password);

/**
 * berth_account_verify_password() - password login for a virtual account, equalising
 * time when @acct is NULL, not virtual, or has no hash.
 * @db: database (for the dummy).
 * @acct: account or NULL.
 * @password: candidate.
 *
 * Return: 0 or BERTH_ACCOUNT_E_MISMATCH.
 */
int berth_account_verify_password(const struct berth_accounts *db, const struct berth_account *acct,
                                  const char *password);

/**
 * berth_account_load_keys() - all authorized keys of @acct: inline keys, then each
 * AuthorizedKeysFile (missing files are skipped silently). Files are read with the
 * caller's privileges (the daemon calls this as root in the monitor).
 * @acct: account.
 * @list: list to append to.
 * @errors: diagnostics for skipped lines (may be NULL).
 *
 * Return: 0, AUTHKEYS_E_INVALID (some lines skipped), or -errno.
 */
int berth_account_load_keys(const struct berth_account *acct, struct authkeys_list *list,
                            struct berth_errors *errors);

/* ---- pattern matching (AllowUsers, from=) ---- */

/**
 * berth_match_pattern() - shell-style match with `*` and `?` only (no DNS, no classes).
 * @s: string.
 * @pattern: pattern.
 *
 * Return: true on match.
 */
bool berth_match_pattern(const char *s, const char *pattern);

/**
 * berth_match_addr_list() - OpenSSH addr/host pattern list: comma-separated entries,
 * each a wildcard pattern or a CIDR (10.0.0.0/8, 2001:db8::/32), `!` negates. Matching
 * is against the numeric address text only.
 * @addr: numeric client address.
 * @list: pattern list.
 *
 * Return: 1 if some positive entry matches and no negated entry matches, 0 if nothing
 * matches, -1 if a negated entry matches, -EINVAL if a CIDR entry is malformed.
 */
int berth_match_addr_list(const char *addr, const char *list);

/* ---- PAM helper process (system accounts) ---- */

struct berth_pam; /* opaque handle of one helper process / PAM transaction */

/* What the helper should do after pam_start. */
enum berth_pam_flags {
	BERTH_PAM_AUTHENTICATE = 1u << 0, /* pam_authenticate (conversation relayed) */
	BERTH_PAM_ACCOUNT = 1u << 1,      /* pam_acct_mgmt after (or instead of) auth */
};

/* Positive results of berth_pam_next(). */
enum {
	BERTH_PAM_PROMPTS = 1,   /* @ret_prompts filled: answer with berth_pam_answer() */
	BERTH_PAM_SUCCESS,       /* authenticated (and account OK if requested) */
	BERTH_PAM_E_AUTH,        /* authentication failed */
	BERTH_PAM_E_ACCOUNT,     /* pam_acct_mgmt refused (expired, locked, ...) */
	BERTH_PAM_E_NEW_AUTHTOK, /* password expired: change required (refused) */
	BERTH_PAM_E_SESSION,     /* open/close session failed */
};

/**
 * struct berth_pam_prompt - one PAM message.
 * @text: message text (heap).
 * @echo: true for PAM_PROMPT_ECHO_ON (e.g. a user name or OTP shown while typed).
 * @info: true for PAM_TEXT_INFO / PAM_ERROR_MSG (no answer expected; the answer slot
 *        is ignored).
 */
struct berth_pam_prompt {
	char *text;
	bool echo;
	bool info;
};

/**
 * struct berth_pam_prompts - one batch (one PAM conversation call).
 * @v: @n prompts.
 * @n: count (1..32).
 */
struct berth_pam_prompts {
	struct berth_pam_prompt *v;
	size_t n;
};

/**
 * berth_pam_prompts_free() - free the batch's contents and reset it. NULL is fine.
 * @p: batch.
 */
void berth_pam_prompts_free(struct berth_pam_prompts *p);

/**
 * berth_pam_start() - fork a helper process that runs pam_start(@service, @user) with
 * PAM_RHOST = @rhost and then the steps in @flags, relaying each conversation batch
 * over a socketpair. The caller must be able to run PAM (root for pam_unix shadow).
 * @service: PAM service name (PAMServiceName).
 * @user: account name.
 * @rhost: client address or NULL.
 * @flags: enum berth_pam_flags.
 * @ret: handle; free with berth_pam_end().
 *
 * Return: 0 or -errno (fork/socketpair failure).
 */
int berth_pam_start(const char *service, const char *user, const char *rhost, uint32_t flags,
                    struct berth_pam **ret);

/**
 * berth_pam_fd() - the socket to poll for readability before calling berth_pam_next()
 * so an event loop never blocks on a slow PAM module.
 * @p: handle.
 *
 * Return: file descriptor (owned by @p).
 */
int berth_pam_fd(const struct berth_pam *p);

/**
 * berth_pam_next() - wait for the helper's next event (blocks until it arrives).
 * @p: handle.
 * @ret_prompts: filled when BERTH_PAM_PROMPTS is returned (free with
 *               berth_pam_prompts_free()).
 *
 * Return: BERTH_PAM_PROMPTS, BERTH_PAM_SUCCESS, BERTH_PAM_E_AUTH, BERTH_PAM_E_ACCOUNT,
 * BERTH_PAM_E_NEW_AUTHTOK, or -errno (-EPIPE if the helper died, -EPROTO on a malformed
 * message). After a final result, only berth_pam_open_session() / berth_pam_end() are
 * valid.
 */
int berth_pam_next(struct berth_pam *p, struct berth_pam_prompts *ret_prompts);

/**
 * berth_pam_answer() - send the answers to the last prompt batch; every answer string
 * is wiped with explicit_bzero() (and freed) here, also on error.
 * @p: handle.
 * @answers: @n heap strings (NULL entries allowed, e.g. for info messages); the array
 *           elements are set to NULL.
 * @n: must equal the batch's n.
 *
 * Return: 0, -EINVAL (count mismatch or no batch outstanding), or -errno.
 */
int berth_pam_answer(struct berth_pam *p, char **answers, size_t n);

/**
 * berth_pam_password() - convenience: run a whole transaction for a password login,
 * answering every echo-off prompt with @password (OpenSSH sshpam_auth_passwd); echo-on
 * prompts get an empty answer. Blocks until PAM finishes.
 * @service: PAM service.
 * @user: account name.
 * @rhost: client address or NULL.
 * @password: candidate (not modified; copies are wiped).
 * @ret: on BERTH_PAM_SUCCESS, the still-running handle (for sessions); else untouched.
 *
 * Return: BERTH_PAM_SUCCESS, BERTH_PAM_E_AUTH, BERTH_PAM_E_ACCOUNT,
 * BERTH_PAM_E_NEW_AUTHTOK, or -errno.
 */
int berth_pam_password(const char *service, const char *user, const char *rhost,
                       const char *password, struct berth_pam **ret);

/**
 * berth_pam_open_session() - pam_setcred(PAM_ESTABLISH_CRED) + pam_open_session in the
 * helper (same PAM handle as the authentication). Only after BERTH_PAM_SUCCESS.
 * @p: handle.
 *
 * Return: 0, BERTH_PAM_E_SESSION, or -errno.
 */
int berth_pam_open_session(struct berth_pam *p);

/**
 * berth_pam_end() - close the session if one was opened (pam_close_session +
 * PAM_DELETE_CRED), pam_end, reap the helper, free @p. Kills the helper if it does not
 * answer within a few seconds. NULL is fine.
 * @p: handle.
 *
 * Return: NULL.
 */
struct berth_pam *berth_pam_end(struct berth_pam *p);
