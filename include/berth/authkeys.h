/* SPDX-License-Identifier: BSD-2-Clause */
/* authorized_keys parser (OpenSSH format) and per-key option policy.
 *
 * Protocol-neutral: keys are kept as their decoded wire blobs (the bytes of the base64
 * field). The daemon matches the key a client presents by comparing its own public-key
 * blob with entry->blob (authkeys_find()), then asks authkeys_entry_permits().
 *
 * Line format: [options] keytype base64 [comment]. Supported key types: ssh-ed25519,
 * ecdsa-sha2-nistp256/384/521, ssh-rsa (any signature algorithm rsa-sha2-256/512 is the
 * daemon's business), sk-ssh-ed25519@openssh.com and sk-ecdsa-sha2-nistp256@openssh.com
 * (parsed and stored; whether they authenticate depends on libssh). The blob's embedded
 * type string must equal the key-type field.
 *
 * Options: restrict, no-pty, no-port-forwarding, no-agent-forwarding, no-X11-forwarding,
 * no-user-rc, pty/port-forwarding/... (re-enable after restrict; recorded only),
 * from="pattern-list", expiry-time="YYYYMMDD[HHMM[SS]]" (interpreted in UTC),
 * command="..." (only "internal-sftp" or a path ending in "sftp-server" permits the key),
 * environment="..." (ignored: berth never passes environment), permitopen/permitlisten
 * (ignored: forwarding is always off), no-touch-required, verify-required (recorded),
 * principals="..." (only meaningful with cert-authority: rejected), cert-authority
 * (line rejected: certificates are unsupported). Unknown options reject the line, as
 * OpenSSH does.
 *
 * Hostile input (NUL bytes, over-long lines, bad base64, unterminated quotes) makes the
 * parser report "source:line: message", skip that line and keep going.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct berth_errors;

#define AUTHKEYS_MAX_LINE    16384 /* longer lines are skipped with an error */
#define AUTHKEYS_MAX_ENTRIES 4096  /* per list */

/* Positive, documented conditions. */
enum {
	AUTHKEYS_E_INVALID = 1, /* some lines were skipped; see the error list */
	AUTHKEYS_E_DENIED = 2,  /* the entry does not permit this login */
};

/**
 * struct authkeys_options - options parsed from the front of a line.
 * @restrict_: "restrict" was given.
 * @no_pty: no-pty (or restrict without pty).
 * @no_port_forwarding: no-port-forwarding (or restrict ...).
 * @no_agent_forwarding: no-agent-forwarding.
 * @no_x11_forwarding: no-X11-forwarding.
 * @no_user_rc: no-user-rc.
 * @no_touch_required: no-touch-required (sk keys).
 * @verify_required: verify-required (sk keys).
 * @ignored_environment: environment= was present and ignored.
 * @ignored_permit: permitopen=/permitlisten= present and ignored.
 * @from: from= pattern list, or NULL.
 * @command: command= value, or NULL.
 * @expiry: expiry-time= as a UTC time_t, or 0 if absent.
 * @read_only: command="internal-sftp -R" (or sftp-server -R): the session must be
 *             read-only. Other arguments make authkeys_entry_permits() deny the key.
 */
struct authkeys_options {
	bool restrict_;
	bool no_pty;
	bool no_port_forwarding;
	bool no_agent_forwarding;
	bool no_x11_forwarding;
	bool no_user_rc;
	bool no_touch_required;
	bool verify_required;
	bool ignored_environment;
	bool ignored_permit;
	char *from;
	char *command;
	time_t expiry;
	bool read_only;
};

/**
 * struct authkeys_entry - one accepted key line.
 * @type: key type field, e.g. "ssh-ed25519".
 * @blob: decoded base64 field (the SSH wire public-key blob).
 * @blob_len: its length.
 * @comment: trailing comment, or NULL.
 * @opts: options.
 * @source: file name (or "inline") the line came from.
 * @line: 1-based line number in @source.
 */
struct authkeys_entry {
	char *type;
	uint8_t *blob;
	size_t blob_len;
	char *comment;
	struct authkeys_options opts;
	char *source;
	unsigned line;
};

/**
 * struct authkeys_list - accepted entries; initialise with AUTHKEYS_LIST_NULL.
 * @entries: array of @n entries.
 * @n: count.
 */
struct authkeys_list {
	struct authkeys_entry *entries;
	size_t n;
};
/* clang-format off */
#define AUTHKEYS_LIST_NULL {0}
/* clang-format on */

/**
 * authkeys_parse() - parse authorized_keys text and APPEND accepted entries to @list.
 * @text: file contents (need not be NUL-terminated; may contain NULs, reported).
 * @len: length of @text.
 * @source: name for diagnostics and entry->source.
 * @list: list to append to.
 * @errors: receives "source:line: message" for each skipped line (may be NULL).
 *
 * Return: 0 when every non-comment line was accepted, AUTHKEYS_E_INVALID when some were
 * skipped (the others are still appended).
 */
int authkeys_parse(const char *text, size_t len, const char *source, struct authkeys_list *list,
                   struct berth_errors *errors);

/**
 * authkeys_load_file() - read @path (at most 1 MiB) and authkeys_parse() it.
 * @path: file name; opened with O_NOFOLLOW|O_NONBLOCK, must be a regular file.
 * @list: list to append to.
 * @errors: diagnostics (may be NULL).
 *
 * Return: 0, AUTHKEYS_E_INVALID, or -errno (-ENOENT when missing, -EFBIG when too big,
 * -EINVAL when not a regular file).
 */
int authkeys_load_file(const char *path, struct authkeys_list *list, struct berth_errors *errors);

/**
 * authkeys_list_free() - free every entry and reset @list to AUTHKEYS_LIST_NULL.
 * @list: list (NULL is fine).
 */
void authkeys_list_free(struct authkeys_list *list);

/**
 * authkeys_find() - first entry whose decoded blob equals the presented key.
 * @list: entries.
 * @blob: public-key blob as sent by the client.
 * @blob_len: its length.
 *
 * Return: borrowed pointer into @list (valid until it is modified/freed), or NULL.
 */
const struct authkeys_entry *authkeys_find(const struct authkeys_list *list, const uint8_t *blob,
                                           size_t blob_len);

/**
 * authkeys_entry_permits() - may this entry authenticate a login now, from this address?
 * Checks expiry-time (expired when @now >= expiry), from= (against @client_addr; no
 * DNS: host-name patterns only match if @client_addr is literally that text) and
 * command= (must be internal-sftp or *sftp-server).
 * @entry: entry.
 * @client_addr: numeric client address ("192.0.2.7", "2001:db8::1"), or NULL if unknown
 *               (then any from= denies).
 * @now: current time.
 * @ret_reason: on AUTHKEYS_E_DENIED, a static human-readable reason (may be NULL).
 *
 * Return: 0 to permit, AUTHKEYS_E_DENIED otherwise.
 */
int authkeys_entry_permits(const struct authkeys_entry *entry, const char *client_addr, time_t now,
                           const char **ret_reason);

/**
 * authkeys_parse_expiry() - "YYYYMMDD", "YYYYMMDDHHMM" or "YYYYMMDDHHMMSS" (UTC).
 * @text: value.
 * @ret: seconds since the epoch.
 *
 * Return: 0 or -EINVAL.
 */
int authkeys_parse_expiry(const char *text, time_t *ret);

/**
 * authkeys_base64_decode() - strict base64 (padding optional, no whitespace).
 * @in: text.
 * @in_len: its length.
 * @ret: heap buffer, caller frees.
 * @ret_len: decoded length.
 *
 * Return: 0 or -EINVAL.
 */
int authkeys_base64_decode(const char *in, size_t in_len, uint8_t **ret, size_t *ret_len);

/**
 * authkeys_fingerprint() - "SHA256:<base64 without padding>" of a key blob, as
 * ssh-keygen -l and sshd print it (hashing only, no parsing).
 * @blob: public-key blob.
 * @len: its length.
 * @out: buffer; "SHA256:?" if hashing fails.
 * @outlen: its size (AUTHKEYS_FP_MAX is enough).
 */
#define AUTHKEYS_FP_MAX 64
void authkeys_fingerprint(const uint8_t *blob, size_t len, char *out, size_t outlen);

/**
 * authkeys_type_label() - ssh-keygen's name for a key type: "ED25519", "RSA", "ECDSA",
 * "ED25519-SK", "ECDSA-SK", else "UNKNOWN".
 * @type: key type ("ssh-ed25519"...), may be NULL.
 *
 * Return: static string.
 */
const char *authkeys_type_label(const char *type);

/**
 * authkeys_key_bits() - key size as ssh-keygen -l prints it (RSA: modulus bits from the
 * blob; ECDSA: curve size; Ed25519: 256).
 * @type: key type field.
 * @blob: public-key blob.
 * @len: its length.
 *
 * Return: bits, or 0 if the blob does not parse.
 */
unsigned authkeys_key_bits(const char *type, const uint8_t *blob, size_t len);
