/* SPDX-License-Identifier: BSD-2-Clause */
/* TLS glue for FTPS (OpenSSL 3): server contexts, non-blocking connections, the
 * resumption-only data-channel context, self-signed certificates.
 *
 * Who calls what (see docs/DESIGN.md, "FTPS: TLS"):
 *
 *   master (root)      tls_server_new(): reads the PEM files, checks them, builds the
 *                      server context (TLS 1.2/1.3, ciphers, ALPN "ftp" or none).
 *   monitor (root)     tls_server_forget_key() right after forking the network child.
 *   network child      tls_server_rekey_tickets() right after fork; tls_conn_new_server()
 *                      on the control socket (implicit TLS at once, explicit TLS after
 *                      "234"), then tls_server_forget_key(); the handshake drops the
 *                      connection's key reference when it completes. At login
 *                      tls_conn_export_resumption() builds the blob for the worker.
 *   worker (account)   tls_data_ctx_new(blob): a context with no certificate and no
 *                      private key that only completes handshakes which resume the
 *                      control connection's session; tls_conn_new_data() per data
 *                      connection (PASV accept and PORT connect alike: the server is
 *                      always the TLS server).
 *
 * Return convention: 0 on success, -errno for system errors, a positive enum tls_status
 * value for conditions the caller must handle (want-read/write, clean close,
 * truncation, refused handshakes). No function logs; failures carry a reason string
 * (tls_conn_reason()) for the log line. No OpenSSL type appears here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berth_errors;
struct xbuf;

/* Defaults: ECDHE key exchange and AEAD ciphers only. */
#define BERTH_TLS_CIPHERS                                                                          \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define BERTH_TLS_CIPHERSUITES                                                                     \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
/* Session lifetime: how long after login a data connection can still resume. */
#define BERTH_TLS_SESSION_LIFETIME     86400u
#define BERTH_TLS_MAX_SESSION_LIFETIME 604800u /* RFC 8446 4.6.1: at most 7 days */
/* Upper bound of an exported resumption blob. */
#define BERTH_TLS_BLOB_MAX (16u * 1024)
/* "AB:CD:..." for a SHA-256 digest, NUL included. */
#define BERTH_TLS_FINGERPRINT_LEN (32 * 3)

/**
 * enum tls_status - positive conditions returned by the tls_* functions.
 * @TLS_WANT_READ: call again when the socket is readable.
 * @TLS_WANT_WRITE: call again when the socket is writable.
 * @TLS_E_CLOSED: the peer sent close_notify: a clean end of its data.
 * @TLS_E_TRUNCATED: the TCP stream ended without close_notify. For an FTP upload this
 *                   is a truncation attack: answer 426/451, never 226.
 * @TLS_E_NOT_RESUMED: (data context) the client did not resume the control
 *                     connection's session (no session, or one from another
 *                     connection or server); answer 522.
 * @TLS_E_ALPN: the client offered ALPN without "ftp" (e.g. "http/1.1": ALPACA);
 *              refused with the no_application_protocol alert.
 * @TLS_E_HANDSHAKE: any other handshake failure (protocol version, ciphers, an alert
 *                   from the peer, bytes that are not TLS).
 * @TLS_E_PROTOCOL: a fatal error after the handshake (bad record, alert, a
 *                  renegotiation attempt).
 * @TLS_E_CONFIG: certificate, key or settings unusable; details in the errors list.
 */
enum tls_status {
	TLS_WANT_READ = 1,
	TLS_WANT_WRITE,
	TLS_E_CLOSED,
	TLS_E_TRUNCATED,
	TLS_E_NOT_RESUMED,
	TLS_E_ALPN,
	TLS_E_HANDSHAKE,
	TLS_E_PROTOCOL,
	TLS_E_CONFIG,
};

/**
 * struct tls_settings - what berthd.conf says about TLS.
 * @cert_file: PEM certificate chain, leaf first (required).
 * @key_file: PEM private key (unencrypted); NULL: read from @cert_file.
 * @ciphers: TLS 1.2 cipher list (OpenSSL syntax); NULL: BERTH_TLS_CIPHERS.
 *           Anonymous, NULL, PSK and SRP suites are always removed.
 * @ciphersuites: TLS 1.3 suites; NULL: BERTH_TLS_CIPHERSUITES.
 * @tls13_only: refuse TLS 1.2 (minimum version 1.3).
 * @session_lifetime: seconds a session (hence data-connection resumption) stays
 *                    valid; 0: BERTH_TLS_SESSION_LIFETIME; at most
 *                    BERTH_TLS_MAX_SESSION_LIFETIME.
 * @strict_sni: refuse a client whose SNI names a host the certificate does not cover
 *              (unrecognized_name alert); no SNI is always accepted.
 */
struct tls_settings {
	const char *cert_file;
	const char *key_file;
	const char *ciphers;
	const char *ciphersuites;
	bool tls13_only;
	uint32_t session_lifetime;
	bool strict_sni;
};

struct tls_server;
struct tls_conn;
struct tls_data_ctx;

/**
 * tls_server_new() - load the certificate chain and key and build the server context.
 * @s: settings (strings are copied).
 * @errors: receives one "file: what is wrong" line per problem (may be NULL).
 * @warnings: receives non-fatal findings, e.g. an expired certificate (may be NULL).
 * @ret: the server on success.
 *
 * Run by root in the master. The key file is read into a buffer that is wiped after
 * parsing; OpenSSL's own allocations are wiped on free (see tls_wipe_allocator_active()).
 * Problems found: unreadable file, not PEM, no certificate, encrypted key, key does not
 * match the certificate, key too weak (< 112-bit security, DSA), key file readable by
 * everybody, unknown cipher names, no usable cipher.
 *
 * Return: 0, TLS_E_CONFIG (see @errors), or -errno.
 */
int tls_server_new(const struct tls_settings *s, struct berth_errors *errors,
                   struct berth_errors *warnings, struct tls_server **ret);

/**
 * tls_server_free() - release everything (the key is wiped). NULL is fine.
 * Return: NULL.
 */
struct tls_server *tls_server_free(struct tls_server *srv);

/**
 * tls_server_forget_key() - drop the server's reference to the private key.
 * @srv: server.
 *
 * The monitor calls it right after forking the network child; the network child right
 * after tls_conn_new_server() (the connection keeps its own reference until its
 * handshake completes). Afterwards tls_conn_new_server() fails with -ENOKEY.
 */
void tls_server_forget_key(struct tls_server *srv);

/**
 * tls_server_has_key() - whether @srv still references the private key.
 */
bool tls_server_has_key(const struct tls_server *srv);

/**
 * tls_server_rekey_tickets() - switch to a fresh random session-ticket key.
 * @srv: server.
 *
 * The network child calls it right after fork, so that tickets issued to other
 * connections (which share the master's context) never resume here, and only this
 * connection's worker can resume this connection's sessions.
 *
 * Return: 0 or -errno.
 */
int tls_server_rekey_tickets(struct tls_server *srv);

/**
 * tls_server_fingerprint() - SHA-256 fingerprint of the leaf certificate.
 * @srv: server.
 * @out: BERTH_TLS_FINGERPRINT_LEN bytes: "AB:CD:...".
 */
void tls_server_fingerprint(const struct tls_server *srv, char out[BERTH_TLS_FINGERPRINT_LEN]);

/**
 * tls_conn_new_server() - a TLS server connection on @fd using the server's
 *                         certificate and key (control connection).
 * @srv: server (must outlive the connection).
 * @fd: connected socket, preferably O_NONBLOCK. It is not closed by tls_conn_free().
 *      For AUTH TLS: the "234" reply must already be written completely and every
 *      byte the driver read after the AUTH line must be discarded; TLS then starts
 *      on the raw socket (no read-ahead, so a later CCC leaves plaintext untouched).
 * @ret: the connection.
 *
 * Return: 0, -ENOKEY after tls_server_forget_key(), -ENOMEM.
 */
int tls_conn_new_server(struct tls_server *srv, int fd, struct tls_conn **ret);

/**
 * tls_conn_handshake() - advance the handshake.
 * @c: connection.
 *
 * When it completes, a control connection drops its private-key reference. A data
 * connection that completed without resuming is refused (TLS_E_NOT_RESUMED).
 *
 * Return: 0 when complete, TLS_WANT_READ/TLS_WANT_WRITE, TLS_E_NOT_RESUMED,
 * TLS_E_ALPN, TLS_E_HANDSHAKE (reason in tls_conn_reason()), or -errno.
 */
int tls_conn_handshake(struct tls_conn *c);

/**
 * tls_conn_read() - read decrypted bytes.
 * @c: connection (handshake complete).
 * @buf: destination.
 * @len: at most this many bytes (> 0).
 * @ret_n: bytes stored (> 0) when 0 is returned.
 *
 * A poll loop must call again until TLS_WANT_READ before sleeping: decrypted bytes can
 * wait inside the connection (tls_conn_pending()).
 *
 * Return: 0, TLS_WANT_READ/TLS_WANT_WRITE, TLS_E_CLOSED (close_notify), TLS_E_TRUNCATED
 * (EOF without close_notify), TLS_E_PROTOCOL, or -errno.
 */
int tls_conn_read(struct tls_conn *c, void *buf, size_t len, size_t *ret_n);

/**
 * tls_conn_write() - encrypt and send.
 * @c: connection (handshake complete).
 * @buf: bytes.
 * @len: count (> 0).
 * @ret_n: bytes consumed (> 0, may be fewer than @len) when 0 is returned.
 *
 * After TLS_WANT_*, call again with the same bytes (the buffer may move).
 *
 * Return: 0, TLS_WANT_READ/TLS_WANT_WRITE, TLS_E_CLOSED (peer sent close_notify),
 * TLS_E_PROTOCOL, or -errno (-EPIPE when the peer is gone).
 */
int tls_conn_write(struct tls_conn *c, const void *buf, size_t len, size_t *ret_n);

/**
 * tls_conn_new_ticket() - have a control connection send a fresh TLS 1.3 session ticket
 * before the next bytes written (no-op for TLS 1.2 and for data connections).
 * @c: connection (handshake complete).
 *
 * Data connections issue no tickets (a client that only writes would leave them unread
 * and reset the connection at close), and an OpenSSL TLS 1.3 client with a session cache
 * uses each session once: the FTPS worker asks for a ticket on the control connection
 * before each transfer's final reply, so the client holds an unused session for the next
 * data connection.
 *
 * Return: 0, or -EINVAL before the handshake completed.
 */
int tls_conn_new_ticket(struct tls_conn *c);

/**
 * tls_conn_pending() - decrypted bytes are waiting to be read (do not sleep in poll).
 */
bool tls_conn_pending(const struct tls_conn *c);

/**
 * tls_conn_shutdown() - send close_notify; optionally wait for the peer's.
 * @c: connection.
 * @wait_peer: also wait for the peer's close_notify (CCC, RFC 4217 section 6). Data
 *             records that arrive first are an error (TLS_E_PROTOCOL).
 *
 * Return: 0 when done, TLS_WANT_READ/TLS_WANT_WRITE, TLS_E_TRUNCATED (peer closed the
 * TCP stream without close_notify while we waited), TLS_E_PROTOCOL, or -errno.
 */
int tls_conn_shutdown(struct tls_conn *c, bool wait_peer);

/**
 * tls_conn_free() - release the connection; does not close the fd and sends nothing.
 * A data connection's session stays resumable even after an abortive end. NULL is fine.
 * Return: NULL.
 */
struct tls_conn *tls_conn_free(struct tls_conn *c);

/**
 * tls_conn_reason() - why the last call failed, for the log line ("unsupported
 * protocol", "client offered ALPN \"http/1.1\" without \"ftp\"", "client offered no TLS
 * session", ...). Never NULL; "" when nothing failed. Valid until the next call on @c.
 */
const char *tls_conn_reason(const struct tls_conn *c);

/**
 * struct tls_conn_info - facts about a completed handshake (for logs).
 * @version: "TLSv1.3" etc. (static string).
 * @cipher: OpenSSL cipher name (static string).
 * @resumed: the session was resumed.
 * @alpn: selected ALPN protocol ("" if none).
 * @sni: server name the client sent ("" if none).
 */
struct tls_conn_info {
	const char *version;
	const char *cipher;
	bool resumed;
	char alpn[32];
	char sni[256];
};

/* tls_conn_get_info() - fill @ret; 0, or -EINVAL before the handshake completed. */
int tls_conn_get_info(const struct tls_conn *c, struct tls_conn_info *ret);

/**
 * tls_conn_holds_key() - whether the connection still references a private key
 * (true only for a control connection before its handshake completed).
 */
bool tls_conn_holds_key(const struct tls_conn *c);

/**
 * tls_conn_export_resumption() - the blob the network child hands to the worker.
 * @c: control connection, handshake complete.
 * @out: an XBUF_NULL buffer, initialised here; receives the blob (at most
 *       BERTH_TLS_BLOB_MAX bytes). It holds session secrets: send it over the worker
 *       socket only, then xbuf_deinit() (wipes), also on error.
 *
 * Contents: this connection's ticket key, the session id context, the protocol and
 * cipher settings, and the control session itself (for TLS 1.2 session-ID
 * resumption). No certificate, no private key.
 *
 * Return: 0, -EINVAL (handshake not complete), -ENOBUFS.
 */
int tls_conn_export_resumption(const struct tls_conn *c, struct xbuf *out);

/**
 * tls_data_ctx_new() - the worker's resumption-only server context.
 * @blob: bytes from tls_conn_export_resumption() (copied; the caller wipes them).
 * @len: their count.
 * @ret: the context.
 *
 * Return: 0, -EBADMSG (malformed blob), -EINVAL (settings refused), -ENOMEM.
 */
int tls_data_ctx_new(const void *blob, size_t len, struct tls_data_ctx **ret);

/**
 * tls_data_blob_check() - whether tls_data_ctx_new() would accept the blob's format.
 * @blob: bytes from tls_conn_export_resumption().
 * @len: their count.
 *
 * Touches no OpenSSL state: the worker checks the hand-over at once and builds the
 * context (OpenSSL's first SSL_CTX costs ~350 KiB of heap) at its first PROT P data
 * connection.
 *
 * Return: 0 or -EBADMSG.
 */
int tls_data_blob_check(const void *blob, size_t len);

/**
 * tls_data_prepare() - initialise OpenSSL's library state (configuration, providers)
 * now, before a seccomp filter is installed: a later tls_data_ctx_new() then needs only
 * memory, randomness and the clock. Costs ~20-80 KiB of heap, not the context's ~350.
 *
 * Return: 0 or -ENOMEM.
 */
int tls_data_prepare(void);
/* tls_data_prewarm() - after tls_data_prepare(), fill the library's algorithm cache the
 * way a data context would (the session spawner, before it forks workers). */
void tls_data_prewarm(void);

/* tls_data_ctx_free() - release (secrets wiped); NULL is fine. Return: NULL. */
struct tls_data_ctx *tls_data_ctx_free(struct tls_data_ctx *d);

/**
 * tls_conn_new_data() - a TLS server connection for a data connection.
 * @d: the worker's context (must outlive the connection).
 * @fd: the accepted (PASV) or connected (PORT) data socket; not closed by
 *      tls_conn_free().
 * @ret: the connection; drive it with tls_conn_handshake() like a control connection.
 *
 * Return: 0 or -ENOMEM.
 */
int tls_conn_new_data(struct tls_data_ctx *d, int fd, struct tls_conn **ret);

/**
 * tls_selfsigned_ensure() - make sure a usable self-signed certificate exists.
 * @cert_path: certificate file (written 0644).
 * @key_path: private key file (written 0600).
 * @ret_created: true when new files were written.
 *
 * Reuses both files when they exist, hold a certificate valid for at least another
 * day, and match; otherwise writes a new EC P-256 key and a certificate for
 * "localhost" and 127.0.0.1 (and ::1), valid 825 days (atomically, via rename).
 *
 * Return: 0 or -errno.
 */
int tls_selfsigned_ensure(const char *cert_path, const char *key_path, bool *ret_created);

/**
 * tls_cert_file_fingerprint() - SHA-256 fingerprint of the first certificate in a PEM
 * file, "AB:CD:..." as `openssl x509 -fingerprint -sha256` prints it.
 *
 * Return: 0, -EBADMSG (no certificate), or -errno.
 */
int tls_cert_file_fingerprint(const char *path, char out[BERTH_TLS_FINGERPRINT_LEN]);

/**
 * tls_wipe_allocator_active() - whether OpenSSL allocates through berth's
 * wipe-on-free functions (installed before any library constructor runs, from
 * .preinit_array), so freed OpenSSL memory never keeps key material.
 */
bool tls_wipe_allocator_active(void);
