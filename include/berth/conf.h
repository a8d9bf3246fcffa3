/* SPDX-License-Identifier: BSD-2-Clause */
/* berthd.conf: typed, table-driven configuration (protocol-neutral, no globals).
 *
 * Format (see berthd.conf(5)): one `Keyword value...` per line, keywords are
 * case-insensitive, `#` starts a comment, values may be "double quoted" (with \" and \\
 * escapes). `Include glob...` pulls in other files (relative to the directory of the
 * main config file), at most BERTH_CONF_INCLUDE_DEPTH deep. For single-valued keywords
 * the FIRST occurrence wins (like sshd); list keywords (ListenAddress, HostKey,
 * AuthorizedKeysFile, AllowUsers, DenyUsers) accumulate.
 *
 * Error convention: 0 success, -errno system errors, positive BERTH_CONF_E_* conditions.
 * Diagnostics are collected (all of them, not only the first) in a struct berth_errors
 * as "file:line: message" strings; library code never logs.
 */
#pragma once

#include <stdarg.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BERTH_CONF_INCLUDE_DEPTH 8
#define BERTH_CONF_MAX_LINE      8192 /* longer lines are an error */
#define BERTH_ERRORS_MAX         200  /* further diagnostics are counted, not stored */
/* MaxSessions upper bound: session channels (one worker process each) per connection. */
#define BERTH_MAX_SESSIONS_PER_CONN 100

/* Positive, documented conditions. */
enum {
	BERTH_CONF_E_INVALID = 1, /* the file(s) had errors; see the berth_errors list */
};

/**
 * struct berth_errors - collected diagnostics, each "file:line: message".
 * @msgs: @n heap strings (owned by the list).
 * @n: number of stored messages.
 * @dropped: messages not stored because BERTH_ERRORS_MAX was reached.
 *
 * Initialise with BERTH_ERRORS_NULL, release with berth_errors_free().
 */
struct berth_errors {
	char **msgs;
	size_t n;
	size_t dropped;
};
/* clang-format off */
#define BERTH_ERRORS_NULL {0}
/* clang-format on */

/**
 * berth_errors_add() - append one diagnostic.
 * @e: list (may be NULL: then the message is discarded).
 * @file: file name, or NULL to omit the "file:line: " prefix.
 * @line: 1-based line number, 0 to print only the file name.
 * @fmt: printf format of the message.
 */
void berth_errors_add(struct berth_errors *e, const char *file, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* berth_errors_vadd() - berth_errors_add() with a va_list. */
void berth_errors_vadd(struct berth_errors *e, const char *file, unsigned line, const char *fmt,
                       va_list ap) __attribute__((format(printf, 4, 0)));
/* berth_errors_find() - true if any collected message contains @needle. */
bool berth_errors_find(const struct berth_errors *e, const char *needle);

/**
 * berth_errors_free() - free all messages and reset @e to BERTH_ERRORS_NULL. NULL is fine.
 * @e: list.
 */
void berth_errors_free(struct berth_errors *e);

/**
 * berth_errors_print() - write every message, one per line, to @f (plus a "N more"
 * line when some were dropped).
 * @e: list.
 * @f: stream, e.g. stderr.
 */
void berth_errors_print(const struct berth_errors *e, FILE *f);

/* ---- authentication methods (shared with account.h) ---- */

/* Methods as bits so sets are cheap. Protocol-neutral names: an FTPS listener uses
 * BERTH_AUTH_PASSWORD only. */
enum berth_auth_method {
	BERTH_AUTH_PUBLICKEY = 1u << 0, /* "publickey" */
	BERTH_AUTH_PASSWORD = 1u << 1,  /* "password" */
	BERTH_AUTH_KBDINT = 1u << 2,    /* "keyboard-interactive" */
};
#define BERTH_AUTH_ALL (BERTH_AUTH_PUBLICKEY | BERTH_AUTH_PASSWORD | BERTH_AUTH_KBDINT)

#define BERTH_AUTH_CHAIN_MAX  8  /* methods in one comma-separated chain */
#define BERTH_AUTH_CHAINS_MAX 16 /* space-separated alternatives */

/**
 * struct berth_auth_policy - parsed AuthenticationMethods (sshd semantics).
 * @chains: alternatives; each is an ordered list of methods that must all succeed,
 *          in that order (a method may repeat, e.g. "publickey,publickey").
 * @chains.methods: each one enum berth_auth_method value.
 * @chains.n: number of methods in the chain (1..BERTH_AUTH_CHAIN_MAX).
 * @n_chains: number of alternatives; 0 means "any": one success of any enabled method
 *            authenticates.
 *
 * Plain value type (no heap), copy freely.
 */
struct berth_auth_policy {
	struct {
		uint8_t methods[BERTH_AUTH_CHAIN_MAX];
		uint8_t n;
	} chains[BERTH_AUTH_CHAINS_MAX];
	size_t n_chains;
};

/**
 * berth_auth_policy_parse() - parse "any" or e.g. "publickey,password publickey,keyboard-interactive".
 * @text: the value; method names are case-sensitive as in sshd; "keyboard-interactive:pam"
 *        style submethods are accepted and the submethod ignored.
 * @ret: filled on success.
 * @ret_err: on failure, a static description of the problem (may be NULL).
 *
 * Return: 0, or -EINVAL (unknown method, empty chain, too many chains/methods).
 */
int berth_auth_policy_parse(const char *text, struct berth_auth_policy *ret, const char **ret_err);

/**
 * berth_auth_policy_format() - the policy in config syntax ("any" for 0 chains).
 * @p: policy.
 *
 * Return: heap string, caller frees.
 */
char *berth_auth_policy_format(const struct berth_auth_policy *p);

/**
 * berth_auth_method_name() - "publickey", "password" or "keyboard-interactive".
 * @m: a single method bit.
 *
 * Return: static string, "unknown" for anything else.
 */
const char *berth_auth_method_name(enum berth_auth_method m);

/**
 * berth_auth_method_from_name() - inverse of berth_auth_method_name().
 * @name: method name (a ":submethod" suffix is ignored).
 * @ret: method bit.
 *
 * Return: 0 or -EINVAL.
 */
int berth_auth_method_from_name(const char *name, enum berth_auth_method *ret);

/* ---- the configuration ---- */

/**
 * struct berth_listen_addr - one ListenAddress.
 * @host: numeric address without brackets ("0.0.0.0", "::", "127.0.0.1", "::1").
 * @port: port, or 0 meaning "use Port".
 */
struct berth_listen_addr {
	char *host;
	uint16_t port;
};

/* FTPS listener default ports (RFC 4217 explicit on 21, implicit "ftps" on 990). */
#define BERTH_FTPS_PORT          21
#define BERTH_FTPS_IMPLICIT_PORT 990

/**
 * struct berth_ftps_listen - one FTPSListenAddress / FTPSImplicitListenAddress entry.
 * @host: numeric address without brackets.
 * @port: port; 0 = BERTH_FTPS_PORT (explicit) or BERTH_FTPS_IMPLICIT_PORT (implicit).
 * @implicit: TLS from the first byte (FTPSImplicitListenAddress); else AUTH TLS.
 * @allow_plain: explicit only ("allow-plain"): login and transfers without TLS are
 *               allowed on connections that did not negotiate TLS.
 */
struct berth_ftps_listen {
	char *host;
	uint16_t port;
	bool implicit;
	bool allow_plain;
};

/**
 * struct berth_ftps_passive_for - one FTPSPassiveAddressFor line.
 * @networks: address pattern list (berth_match_addr_list(): CIDR, wildcards, !negation).
 * @address: numeric IPv4 address announced in PASV replies to those clients.
 */
struct berth_ftps_passive_for {
	char *networks;
	char *address;
};

/**
 * struct berth_maxstartups - sshd's MaxStartups start:rate:full (random early drop of
 * unauthenticated connections between @start and @full).
 * @start: unauthenticated connections accepted before dropping begins.
 * @rate: drop probability in percent once @start is reached.
 * @full: at and above this count every new connection is refused.
 */
struct berth_maxstartups {
	uint32_t start;
	uint32_t rate;
	uint32_t full;
};

enum berth_log_target {
	BERTH_LOG_TARGET_SYSLOG = 0,
	BERTH_LOG_TARGET_STDERR,
	BERTH_LOG_TARGET_JOURNALD, /* syslog(3) to journald's /dev/log, no own timestamps */
};

/* Where a keyword's value came from, for file:line errors in berth_config_check(). */
struct berth_conf_origin {
	const char *file; /* points into berth_config.files; NULL = default */
	unsigned line;
};

/**
 * struct berth_config - the effective configuration. Every field has a default set by
 * berth_config_init_defaults(); durations are in seconds; 0 disables a timeout.
 * String lists are NULL-free arrays of heap strings owned by the config.
 * Algorithm lists are comma-separated strings as libssh/OpenSSH expect them.
 */
struct berth_config {
	/* Network */
	struct berth_listen_addr *listen; /* ListenAddress (default: 0.0.0.0 and ::) */
	size_t n_listen;
	uint16_t port;    /* Port (22) */
	char **host_keys; /* HostKey paths (default: StateDirectory keys) */
	size_t n_host_keys;
	char *state_directory; /* StateDirectory (/var/lib/berth) */
	char *pid_file;        /* PidFile (/run/berthd.pid), "none" -> NULL */

	/* Accounts */
	char *accounts_file;          /* AccountsFile (SYSCONFDIR/accounts), "none" -> NULL */
	bool system_accounts;         /* SystemAccounts (no) */
	char *system_root;            /* SystemAccountRoot (%h): jail of NSS users, tokens %h %u */
	char **authorized_keys_files; /* AuthorizedKeysFile (.ssh/authorized_keys), system accounts */
	size_t n_authorized_keys_files;
	char **allow_users; /* AllowUsers patterns (user or user@addr-pattern) */
	size_t n_allow_users;
	char **deny_users; /* DenyUsers patterns */
	size_t n_deny_users;
	/* Where the first AllowUsers / DenyUsers line is (berthctl explain). */
	struct berth_conf_origin origin_allow_users;
	struct berth_conf_origin origin_deny_users;

	/* Authentication */
	struct berth_auth_policy auth_methods; /* AuthenticationMethods (any) */
	bool password_authentication;          /* PasswordAuthentication (yes) */
	bool pubkey_authentication;            /* PubkeyAuthentication (yes) */
	bool kbdint_authentication;            /* KbdInteractiveAuthentication (yes) */
	bool use_pam;                          /* UsePAM (no) */
	char *pam_service_name;                /* PAMServiceName (berthd) */
	uint32_t max_auth_tries;               /* MaxAuthTries (6) */
	uint32_t required_rsa_size;            /* RequiredRSASize (3072, min 3072) */

	/* Limits and timeouts */
	uint32_t login_grace_time;             /* LoginGraceTime (120) */
	struct berth_maxstartups max_startups; /* MaxStartups (256:30:512) */
	uint32_t per_source_max_startups; /* PerSourceMaxStartups (16) unauthenticated per source */
	uint32_t per_source_max_connections; /* PerSourceMaxConnections (64) per source
	                                      * (PerSourceMaxSessions: deprecated alias) */
	uint32_t per_source_netblock_v4;     /* PerSourceNetBlockSize (32:128) IPv4 prefix */
	uint32_t per_source_netblock_v6;     /*   ... IPv6 prefix */
	uint32_t max_connections;            /* MaxConnections (1024) connections in total */
	uint32_t max_sessions_per_conn;      /* MaxSessions (10) session channels per connection,
	                                      * as sshd_config */
	uint32_t idle_timeout;               /* IdleTimeout (0 = off): no traffic for this long */
	uint32_t stall_timeout;              /* StallTimeout (300): transfer made no progress */
	bool seccomp_filter; /* SeccompFilter (yes): network child and workers (debugging) */

	/* Crypto (comma lists) */
	char *ciphers;                    /* Ciphers */
	char *kex_algorithms;             /* KexAlgorithms */
	char *macs;                       /* MACs */
	char *host_key_algorithms;        /* HostKeyAlgorithms */
	char *pubkey_accepted_algorithms; /* PubkeyAcceptedAlgorithms */

	/* Logging */
	int syslog_facility;              /* SyslogFacility (AUTH), LOG_* value */
	int log_level;                    /* LogLevel (INFO), enum log_level value */
	enum berth_log_target log_target; /* LogTarget (syslog) */
	char *transfer_log;               /* TransferLog (none -> NULL): xferlog format */
	char *transfer_log_json;          /* TransferLogJSON (none -> NULL): JSON lines */

	/* File-transfer engine policy (sftp-server -R -P -p -u) */
	bool read_only;       /* ReadOnly (no) */
	char *deny_requests;  /* DenyRequests (NULL = none), comma list of request names */
	char *allow_requests; /* AllowRequests (NULL = all) */
	uint32_t umask;       /* Umask (0022) */

	/* FTPS (off unless a listener is configured) */
	struct berth_ftps_listen *ftps_listen; /* FTPSListenAddress, FTPSImplicitListenAddress */
	size_t n_ftps_listen;
	char *ftps_cert_file;       /* FTPSCertificateFile (none) PEM chain, leaf first */
	char *ftps_key_file;        /* FTPSCertificateKeyFile (none = in the certificate file) */
	bool ftps_tls13_only;       /* FTPSMinProtocol (TLSv1.2) */
	char *ftps_ciphers;         /* FTPSCiphers (BERTH_TLS_CIPHERS) TLS 1.2 */
	char *ftps_ciphersuites;    /* FTPSCipherSuites (BERTH_TLS_CIPHERSUITES) TLS 1.3 */
	bool ftps_allow_clear_data; /* FTPSAllowClearData (no): PROT C */
	bool ftps_allow_ccc;        /* FTPSAllowCCC (no) */
	uint32_t ftps_passive_min;  /* FTPSPassivePorts (49152-65535) */
	uint32_t ftps_passive_max;
	char *ftps_passive_address; /* FTPSPassiveAddress (none = control connection's) */
	struct berth_ftps_passive_for *ftps_passive_for; /* FTPSPassiveAddressFor, in order */
	size_t n_ftps_passive_for;
	uint32_t ftps_max_line;              /* FTPSMaxLineLength (4096) */
	uint32_t ftps_max_prelogin_commands; /* FTPSMaxPreLoginCommands (32) */
	uint32_t ftps_max_invalid_commands;  /* FTPSMaxInvalidCommands (10) before login */
	uint32_t ftps_data_timeout;          /* FTPSDataTimeout (60) to open a data connection */

	/* Defender (master): per-source scores and temporary bans; control socket. */
	bool defender;                     /* Defender (yes) */
	uint32_t defender_threshold;       /* DefenderThreshold (15) score that bans */
	uint32_t defender_score_auth;      /* DefenderScoreAuthFailure (1) */
	uint32_t defender_score_invalid;   /* DefenderScoreInvalidUser (2) */
	uint32_t defender_score_noauth;    /* DefenderScoreNoAuth (1) closed before login */
	uint32_t defender_score_violation; /* DefenderScoreViolation (5) */
	uint32_t defender_score_flood;     /* DefenderScoreFlood (3) per-source limit hit */
	uint32_t defender_observation;     /* DefenderObservationTime (30m) */
	uint32_t defender_ban_time;        /* DefenderBanTime (30m) first ban */
	uint32_t defender_ban_factor;      /* DefenderBanTimeFactor (2) per repeat */
	uint32_t defender_ban_time_max;    /* DefenderBanTimeMax (1d) */
	char *defender_allow_from;         /* DefenderAllowFrom (127.0.0.0/8,::1), NULL = none */
	uint32_t defender_v4_prefix;       /* DefenderIPv4Prefix (32) */
	uint32_t defender_v6_prefix;       /* DefenderIPv6Prefix (64) */
	uint32_t defender_max_sources;     /* DefenderMaxSources (10000) */
	char *control_socket;              /* ControlSocket (/run/berthd/control), NULL = none */

	/* Bookkeeping: files read (for origins), and where selected keywords were set. */
	char **files;
	size_t n_files;
	struct berth_conf_origin origin_listen;
	struct berth_conf_origin origin_host_keys;
	struct berth_conf_origin origin_accounts_file;
	struct berth_conf_origin origin_state_directory;
	struct berth_conf_origin origin_transfer_log;
	struct berth_conf_origin origin_transfer_log_json;
	struct berth_conf_origin origin_auth_methods;
	struct berth_conf_origin origin_system_root;
	struct berth_conf_origin origin_read_only;
	struct berth_conf_origin origin_ftps_listen;
	struct berth_conf_origin origin_ftps_cert;
	struct berth_conf_origin origin_ftps_passive;
};

/**
 * berth_config_init_defaults() - fill @cfg with every default (including the default
 * ListenAddress list and host keys under the default StateDirectory).
 * @cfg: uninitialised storage; release with berth_config_free().
 */
void berth_config_init_defaults(struct berth_config *cfg);

/**
 * berth_config_free() - release everything owned by @cfg (not @cfg itself) and zero it.
 * @cfg: config or NULL.
 */
void berth_config_free(struct berth_config *cfg);

/**
 * berth_config_load() - read @path (and its Includes) over the defaults.
 * @path: main configuration file.
 * @ret: on success, the effective configuration (initialised here; free with
 *       berth_config_free()). Not touched on failure.
 * @errors: receives every "file:line: message" diagnostic (may be NULL).
 *
 * Defaults that depend on other keywords (host keys under StateDirectory) are resolved
 * after reading. Syntax and value errors only; see berth_config_check() for semantics.
 *
 * Return: 0; BERTH_CONF_E_INVALID when any diagnostic was produced; -errno when @path
 * itself cannot be opened (also recorded in @errors).
 */
int berth_config_load(const char *path, struct berth_config *ret, struct berth_errors *errors);

/**
 * berth_config_load_string() - like berth_config_load() for in-memory text (tests,
 * fuzzing, the embedded default). Include is relative to the current directory.
 * @text: configuration text (need not be NUL-terminated).
 * @len: its length; NUL bytes inside are reported as errors.
 * @name: file name used in diagnostics.
 * @ret: as berth_config_load().
 * @errors: as berth_config_load().
 *
 * Return: 0 or BERTH_CONF_E_INVALID.
 */
int berth_config_load_string(const char *text, size_t len, const char *name,
                             struct berth_config *ret, struct berth_errors *errors);

/**
 * berth_config_quickstart() - the embedded default configuration for a state directory:
 * defaults, StateDirectory @state_dir, HostKey @state_dir/ssh_host_ed25519_key and
 * @state_dir/ssh_host_rsa_key, AccountsFile @state_dir/accounts, PidFile none,
 * LogTarget stderr. The caller may override fields (e.g. port) afterwards.
 * @state_dir: absolute directory.
 * @ret: initialised config (free with berth_config_free()).
 *
 * Return: 0 or -EINVAL if @state_dir is not absolute.
 */
int berth_config_quickstart(const char *state_dir, struct berth_config *ret);

/**
 * berth_config_check() - semantic checks for `berthd -t`: listen addresses, host key
 * files exist and are readable regular files (and not group/world-readable), the
 * accounts file loads without errors and every virtual account's Root exists and is a
 * directory, AuthenticationMethods chains are satisfiable with the enabled methods,
 * algorithm names are known, AllowRequests/DenyRequests names are known.
 * @cfg: configuration.
 * @errors: receives every problem as "file:line: message" (line of the keyword that
 *          set the value, or just "file" for defaults).
 *
 * Return: 0 or BERTH_CONF_E_INVALID.
 */
int berth_config_check(const struct berth_config *cfg, struct berth_errors *errors);

/**
 * berth_config_dump() - print the effective configuration, one lowercase
 * "keyword value" per line for every keyword (sshd -T style); lists print one line per
 * element (ListenAddress as addr:port, [v6]:port).
 * @cfg: configuration.
 * @f: output stream.
 */
void berth_config_dump(const struct berth_config *cfg, FILE *f);

/**
 * berth_config_expand_tokens() - expand %u (user), %h (home) and %% in @pattern.
 * @pattern: e.g. "%h/.ssh/authorized_keys" or "/srv/berth/%u".
 * @user: account name.
 * @home: home directory (may be NULL: %h then expands to "").
 *
 * Return: heap string, caller frees.
 */
char *berth_config_expand_tokens(const char *pattern, const char *user, const char *home);

/**
 * struct berth_conf_keyword_info - read-only view of one table row (for docs/tests).
 * @name: canonical keyword spelling, e.g. "LoginGraceTime".
 * @type: "string", "path", "bool", "int", "duration", "list", "enum", ...
 * @default_text: default in config syntax.
 * @doc: one-paragraph description.
 */
struct berth_conf_keyword_info {
	const char *name;
	const char *type;
	const char *default_text;
	const char *doc;
};

/**
 * berth_config_keywords() - the keyword table.
 * @ret_n: number of rows.
 *
 * Return: static array of *@ret_n rows.
 */
const struct berth_conf_keyword_info *berth_config_keywords(size_t *ret_n);

/**
 * berth_parse_duration() - sshd time format: "90", "30s", "2m", "1h30m", "1d", "1w".
 * @text: value.
 * @ret: seconds.
 *
 * Return: 0 or -EINVAL / -ERANGE (over UINT32_MAX seconds).
 */
int berth_parse_duration(const char *text, uint32_t *ret);

/**
 * berth_parse_listen_addr() - "addr", "addr:port", "[v6]", "[v6]:port", "*" (= 0.0.0.0
 * and ::, returned as "0.0.0.0"; use "::" for v6 any). Numeric addresses only (no DNS).
 * @text: value.
 * @ret: filled on success; free ret->host.
 *
 * Return: 0 or -EINVAL.
 */
int berth_parse_listen_addr(const char *text, struct berth_listen_addr *ret);
