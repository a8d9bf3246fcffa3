/* SPDX-License-Identifier: BSD-2-Clause */
/* Sans-I/O FTP command engine (RFC 959, 2228, 2389, 2428, 3659, 4217, 7151).
 *
 * Control-connection bytes in, reply bytes out, and *actions* out that the driver (the
 * FTPS network child before login, the worker after login) executes with sockets and
 * TLS, then reports back. The engine never touches a socket, a TLS object or a clock
 * other than CLOCK_MONOTONIC for durations; after login it touches files only through
 * the struct vfs it is given (which the worker wraps with the policy layer).
 *
 * One engine type, two phases:
 *
 *   pre-login  (cfg.vfs == NULL)  AUTH PBSZ PROT USER PASS QUIT FEAT SYST NOOP HELP OPTS
 *                                 HOST STAT; every other command is answered 530.
 *                                 Actions: START_TLS, LOGIN, HANDOFF, CLOSE.
 *   logged-in  (cfg.vfs != NULL)  the file commands. Actions: PASV_LISTEN, DATA_OPEN,
 *                                 DATA_SEND, DATA_RECV, DATA_ABORT, CCC, CLOSE.
 *
 * Driver loop (both phases):
 *
 *   for (;;) {
 *       n = ftp_engine_input_room(e);            // 0: stop reading the control socket
 *       if (n) read up to n bytes, ftp_engine_feed(e, bytes, len);
 *       if (ftp_engine_process(e) < 0) close;    // internal error only
 *       write ftp_engine_output(), then ftp_engine_output_consume(e, written);
 *       if (ftp_engine_next_action(e, &act)) execute it, and later report with the
 *           matching ftp_engine_*_done() (or produce/consume data), then loop.
 *   }
 *
 * Actions are handed out only when the output queue is empty, so the reply that
 * precedes an action (234 before START_TLS, 150 before DATA_OPEN, 230 before HANDOFF,
 * 221/421 before CLOSE) has always been consumed first; the driver still has to make
 * sure those bytes reached the socket (or the TLS layer) before it acts.
 *
 * While an action is outstanding no further command is processed: input stays buffered
 * (bounded; input_room() drops to 0 when full). Exception, RFC 959 4.1.3 and 5.4: while a
 * data action (DATA_OPEN, DATA_SEND, DATA_RECV) is outstanding, the *next* complete line
 * is processed if it is ABOR, STAT, NOOP or QUIT (anything else waits, in order):
 *   ABOR  -> the engine hands out FTP_ACT_DATA_ABORT; after ftp_engine_data_done() it
 *            answers "426" to the transfer command, then "226" to ABOR;
 *   STAT  -> "213 Status: N bytes transferred." right away;
 *   NOOP  -> "200" right away;
 *   QUIT  -> the transfer goes on; after it ends its reply is sent, then "221" and CLOSE.
 *
 * ABOR sent as Telnet "Synch" (IAC IP, then IAC DM as TCP urgent data) works when the
 * driver sets SO_OOBINLINE on the control socket, or drops the urgent byte: either way the
 * IAC sequences are stripped and "ABOR" remains. Inside TLS there is no urgent data.
 *
 * Limits (config fields, defaults in brackets): a command line is at most max_line bytes
 * [4096] without its CRLF; a longer one is discarded up to its LF (the buffer never
 * grows) and answered "500 Command line too long.". Before login, the line after
 * max_prelogin_commands [32] lines is answered "421" and the engine hands out CLOSE, and
 * so is the max_junk-th [10] unknown, refused or overlong line (after its own reply).
 * Telnet IAC sequences are stripped as bytes arrive (IAC IAC is a literal 0xff). A line
 * may end in CRLF or a bare LF; a line that still contains a CR or a NUL (the RFC 959
 * "CR NUL" pathname escape included) is refused with 501, so no name with CR, LF or NUL
 * ever reaches the VFS or a reply. Listings leave out names that contain CR or LF.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "berth/buf.h"
#include "berth/vfs.h"

struct ftp_engine;

/* Defaults for the limits in struct ftp_engine_config (0 there means these). */
#define FTP_DEFAULT_MAX_LINE              4096
#define FTP_DEFAULT_MAX_PRELOGIN_COMMANDS 32
#define FTP_DEFAULT_MAX_JUNK              10

/* Data-connection outcomes the driver reports (ftp_engine_data_open_done(),
 * ftp_engine_data_done()); any other negative errno is a plain connection failure. */
#define FTP_DATA_E_TLS     (-EPROTO)       /* TLS handshake failed: 522 */
#define FTP_DATA_E_NOREUSE (-ENOKEY)       /* TLS session not resumed from control: 522 */
#define FTP_DATA_E_ABORTED (-ECONNABORTED) /* stopped on FTP_ACT_DATA_ABORT */

/* draft-bryan-ftpext-hash algorithms (HASH, OPTS HASH, XSHA256 ...). */
enum ftp_hash_algo {
	FTP_HASH_SHA256 = 0, /* the default */
	FTP_HASH_SHA512,
	FTP_HASH_SHA1,
	FTP_HASH_MD5,
};

/* Facts of RFC 3659 MLSx; bit set = enabled (OPTS MLST). */
enum {
	FTP_FACT_TYPE = 0x01,
	FTP_FACT_SIZE = 0x02,
	FTP_FACT_MODIFY = 0x04,
	FTP_FACT_PERM = 0x08,
	FTP_FACT_UNIQUE = 0x10,
	FTP_FACT_UNIX_MODE = 0x20,
	FTP_FACTS_ALL = 0x3f,
};

/**
 * struct ftp_session_state - what survives the hand-over from the pre-login engine (in
 * the network child) to the logged-in engine (in the worker).
 * @tls:        the control connection is TLS-protected (AUTH TLS done, or implicit TLS)
 * @pbsz:       PBSZ 0 was accepted
 * @prot_p:     PROT P is in force (data connections must be TLS with session reuse)
 * @utf8:       OPTS UTF8 ON was sent (informational; paths are always UTF-8 bytes)
 * @type_ascii: TYPE A (else TYPE I)
 * @mlst_facts: enabled FTP_FACT_* bits (OPTS MLST)
 * @hash_algo:  enum ftp_hash_algo selected by OPTS HASH
 *
 * Zero-initialised = a fresh plain connection. Carry it between processes with
 * ftp_session_state_put()/_get(); never memcpy it across a trust boundary.
 */
struct ftp_session_state {
	bool tls;
	bool pbsz;
	bool prot_p;
	bool utf8;
	bool type_ascii;
	uint32_t mlst_facts;
	uint32_t hash_algo;
};

/**
 * struct ftp_transfer - one finished file transfer, for the per-transfer log line.
 * @path:      absolute client path (as resolved when the file was opened)
 * @upload:    true for STOR/STOU/APPE, false for RETR
 * @offset:    start offset (REST, or the file size for APPE)
 * @bytes:     file bytes moved (file side, i.e. before TYPE A conversion)
 * @seconds:   from the data connection being requested to the end
 * @completed: true when the transfer ended normally (226)
 * @error:     0, or the -errno that ended it (FTP_DATA_E_ABORTED for ABOR, -EDQUOT...)
 * @reason:    NULL when completed, else a short text ("aborted by client", "quota
 *             exceeded", "data connection lost", ...)
 * @sha256:    upload: hex SHA-256 of the file's content from the VFS close report
 *             (vfs_close_ex()), or NULL
 * @published: upload: the content is under its name (false: an atomic upload that was
 *             not completed, or that the policy layer did not publish)
 * @unpublished: why not published (from the close report), or NULL
 */
struct ftp_transfer {
	const char *path;
	bool upload;
	uint64_t offset;
	uint64_t bytes;
	double seconds;
	bool completed;
	int error;
	const char *reason;
	const char *sha256;
	bool published;
	const char *unpublished;
};

/**
 * struct ftp_engine_config - how an engine is built. Zero-initialised means the most
 * restrictive choice everywhere (TLS required for login and data, no PROT C, no CCC).
 *
 * @vfs:         NULL for the pre-login instance; for the logged-in instance the VFS the
 *               worker built (policy decorator over the jail). Borrowed.
 * @state:       initial session state (from the pre-login engine via the hand-over);
 *               NULL = fresh. Copied.
 * @tls_available:    AUTH TLS is offered (a certificate is configured). Without it
 *                    AUTH answers 431 and login needs @allow_plain_login.
 * @allow_plain_login: USER/PASS accepted on a control connection without TLS.
 * @allow_plain_data:  PROT C accepted, and transfers without PROT P; else they get 521.
 * @allow_ccc:   CCC accepted (RFC 4217 12.3); else 534.
 * @greeting:    text of the 220 greeting the pre-login instance queues at creation
 *               (NULL = "berth FTP server ready."); must not contain CR or LF. The
 *               logged-in instance queues no greeting.
 * @peer:        the control connection's peer address (AF_INET or AF_INET6; v4-mapped
 *               IPv6 is treated as IPv4). PORT/EPRT to any other address, or to a port
 *               below 1024, is refused; AF_UNSPEC refuses every PORT/EPRT.
 * @local:       the control connection's local address (only its family is used:
 *               PASV needs IPv4, EPSV answers for either).
 * @user:        account name (logged-in: LIST owner column, STAT, logs).
 * @group:       name shown for @gid in LIST (NULL = numeric).
 * @uid, @gid:   the account's ids: LIST shows @user for @uid and @group for @gid, every
 *               other id numerically (no NSS in the jail); MLSx "perm" uses the owner,
 *               group or other bits accordingly.
 * @read_only:   hint for the MLSx "perm" fact only (write letters left out); the policy
 *               layer below the VFS is what enforces.
 * @max_line:    longest command line without CRLF (0 = FTP_DEFAULT_MAX_LINE; at most
 *               65536).
 * @max_prelogin_commands: command lines allowed before login (0 = default).
 * @max_junk:    unknown, refused or overlong lines allowed before login (0 = default).
 * @hash:        offer HASH, OPTS HASH and XSHA256/XSHA512/XSHA1/XMD5 (digests by the
 *               protocol-neutral vfs_hash_range(), through @vfs so the download permission
 *               decides); without it they answer 502 and FEAT does not list HASH.
 *
 * After a VFS call returned -EAGAIN (bandwidth limit), vfs_retry_at() says when to retry
 * (10 ms from now when the VFS does not say). Files are closed with vfs_close_ex(), with
 * VFS_CLOSE_ABORT when the transfer did not complete (an atomic upload is then not
 * published); the report goes to @transfer.
 * @log:         optional log sink (level is enum log_level). Never gets a password.
 * @transfer:    optional, called once per finished file transfer.
 * @userdata:    passed to every callback.
 */
struct ftp_engine_config {
	struct vfs *vfs;
	const struct ftp_session_state *state;
	bool tls_available;
	bool allow_plain_login;
	bool allow_plain_data;
	bool allow_ccc;
	const char *greeting;
	struct sockaddr_storage peer;
	struct sockaddr_storage local;
	const char *user;
	const char *group;
	uint32_t uid, gid;
	bool read_only;
	uint32_t max_line;
	uint32_t max_prelogin_commands;
	uint32_t max_junk;
	bool hash;
	void (*log)(void *userdata, int level, const char *fmt, ...)
	        __attribute__((format(printf, 3, 4)));
	void (*transfer)(void *userdata, const struct ftp_transfer *t);
	void *userdata;
};

/**
 * enum ftp_action_type - work the driver does on the engine's behalf.
 *
 * @FTP_ACT_NONE:        nothing to do.
 * @FTP_ACT_START_TLS:   (pre-login) the 234 reply to AUTH has been consumed: run the
 *                       server TLS handshake on the control connection, then call
 *                       ftp_engine_tls_done(). Every byte received before the handshake
 *                       (the rest of the read that carried AUTH TLS included) has been
 *                       discarded by the engine: CVE-2011-0411 class.
 * @FTP_ACT_LOGIN:       (pre-login) verify @user / @password with the monitor, then call
 *                       ftp_engine_login_done().
 * @FTP_ACT_HANDOFF:     (pre-login) login succeeded and "230" has been consumed: take
 *                       ftp_engine_export_state() and ftp_engine_pending_input(), free
 *                       this engine and start the worker, whose engine is built with
 *                       that state and fed those bytes first.
 * @FTP_ACT_CCC:         "200" to CCC consumed: shut TLS down on the control connection
 *                       (close_notify both ways), continue in plaintext, then call
 *                       ftp_engine_tls_done(). Only when cfg.allow_ccc.
 * @FTP_ACT_PASV_LISTEN: close any passive listener still open, bind a new one on a
 *                       random port of the configured range on the control connection's
 *                       local address, family @family, then call ftp_engine_pasv_done()
 *                       with the address to announce (NAT overrides applied).
 * @FTP_ACT_DATA_OPEN:   the "150" reply has been consumed: open the data connection,
 *                       either accept one connection on the passive listener (@passive;
 *                       only from @addr's IP, the control peer, refusing others, then
 *                       close the listener) or connect to @addr (active). With @tls, run
 *                       the TLS server handshake on it and require that it resumed the
 *                       control connection's session. Then ftp_engine_data_open_done().
 * @FTP_ACT_DATA_SEND:   the data connection is open: loop ftp_engine_data_produce() and
 *                       write what it gives until it gives 0 bytes (end), then close the
 *                       connection (TLS close_notify) and call ftp_engine_data_done().
 * @FTP_ACT_DATA_RECV:   the data connection is open: read and pass bytes to
 *                       ftp_engine_data_consume() until the peer closes, then call
 *                       ftp_engine_data_done().
 * @FTP_ACT_DATA_ABORT:  ABOR arrived: stop the outstanding data action (DATA_OPEN, SEND
 *                       or RECV) now, close the data connection and any passive
 *                       listener, and call ftp_engine_data_done(e, FTP_DATA_E_ABORTED).
 *                       It can also come instead of a DATA_OPEN that was not handed out
 *                       yet (ABOR in the same read as the transfer command): then there
 *                       is no data connection, only a listener to close.
 * @FTP_ACT_CLOSE:       the last reply (221 or 421) has been consumed: close the control
 *                       connection (and any data connection). The engine is finished.
 */
enum ftp_action_type {
	FTP_ACT_NONE = 0,
	FTP_ACT_START_TLS,
	FTP_ACT_LOGIN,
	FTP_ACT_HANDOFF,
	FTP_ACT_CCC,
	FTP_ACT_PASV_LISTEN,
	FTP_ACT_DATA_OPEN,
	FTP_ACT_DATA_SEND,
	FTP_ACT_DATA_RECV,
	FTP_ACT_DATA_ABORT,
	FTP_ACT_CLOSE,
};

/**
 * struct ftp_action - one action; the pointers stay valid until the action is completed
 * (its *_done() call) or the engine is freed.
 * @type:     what to do
 * @user:     LOGIN: the USER argument (no CR, LF or NUL; at most max_line bytes)
 * @password: LOGIN: the PASS argument; the engine wipes it in ftp_engine_login_done()
 * @family:   PASV_LISTEN: AF_INET or AF_INET6
 * @passive:  DATA_OPEN: accept on the passive listener (else connect to @addr)
 * @addr:     DATA_OPEN: active: the address and port to connect to (always the control
 *            peer's IP and a port >= 1024); passive: the only IP to accept (port 0)
 * @tls:      DATA_OPEN: PROT P: TLS on the data connection, session reuse required
 * @upload:   DATA_OPEN: the transfer will be DATA_RECV (else DATA_SEND)
 */
struct ftp_action {
	enum ftp_action_type type;
	const char *user;
	const char *password;
	int family;
	bool passive;
	struct sockaddr_storage addr;
	bool tls;
	bool upload;
};

/* Outcome of the monitor's password check (ftp_engine_login_done()). */
enum ftp_login_result {
	FTP_LOGIN_OK = 0,     /* 230, then HANDOFF */
	FTP_LOGIN_FAILED,     /* 530 Login incorrect. (more attempts allowed) */
	FTP_LOGIN_FAILED_END, /* 530 Login incorrect., then CLOSE (attempts exhausted) */
};

/**
 * ftp_engine_new() - build an engine.
 * @cfg: configuration; strings are copied, @cfg->vfs is borrowed.
 * @ret: the engine.
 *
 * A pre-login engine (cfg->vfs == NULL) queues the 220 greeting right away.
 *
 * Return: 0, or -EINVAL for a bad configuration (greeting with CR/LF, max_line too big).
 */
int ftp_engine_new(const struct ftp_engine_config *cfg, struct ftp_engine **ret);

/**
 * ftp_engine_free() - close open files and directories and free. A transfer still in
 * progress is reported to cfg.transfer as aborted. NULL is fine.
 */
void ftp_engine_free(struct ftp_engine *e);

/**
 * ftp_engine_input_room() - how many bytes ftp_engine_feed() takes right now; 0 while
 * the input queue is full or the output queue is over its high-water mark (a peer that
 * does not read replies), so the driver stops reading the control connection.
 */
size_t ftp_engine_input_room(const struct ftp_engine *e);

/**
 * ftp_engine_feed() - append control-connection bytes (Telnet IAC sequences are
 * stripped here). Bytes fed while START_TLS is outstanding, or after CLOSE, are
 * discarded.
 *
 * Return: 0, or -ENOBUFS when @len exceeds ftp_engine_input_room() (nothing taken).
 */
int ftp_engine_feed(struct ftp_engine *e, const void *data, size_t len);

/**
 * ftp_engine_process() - handle every complete command line that may be handled now
 * (see the header comment for what runs while an action is outstanding). Call it after
 * feeding and after every *_done() call.
 *
 * Return: 0, or -errno on an internal error (the driver closes the connection).
 */
int ftp_engine_process(struct ftp_engine *e);

/**
 * ftp_engine_output() - the reply bytes queued for the control connection.
 * @ret_len: their number.
 *
 * Return: pointer valid until the next engine call; caller does not free.
 */
const uint8_t *ftp_engine_output(const struct ftp_engine *e, size_t *ret_len);

/** ftp_engine_output_consume() - drop @n bytes from the front of the output queue. */
void ftp_engine_output_consume(struct ftp_engine *e, size_t n);

/**
 * ftp_engine_next_action() - the next action to execute, handed out exactly once and
 * only while the output queue is empty.
 * @ret: filled when true is returned (pointers into the engine, see struct ftp_action).
 *
 * Return: true when @ret holds a new action, false when there is none.
 */
bool ftp_engine_next_action(struct ftp_engine *e, struct ftp_action *ret);

/**
 * ftp_engine_tls_done() - report the end of START_TLS or CCC.
 * @result: 0 when the handshake (or, for CCC, the TLS shutdown) succeeded; else -errno.
 *
 * After a failed START_TLS the engine hands out CLOSE (no reply: the connection is in
 * an unknown TLS state). After a failed CCC, too.
 *
 * Return: 0, or -EPROTO when no such action is outstanding.
 */
int ftp_engine_tls_done(struct ftp_engine *e, int result);

/**
 * ftp_engine_login_done() - report the monitor's answer to LOGIN: queues 230 (and then
 * hands out HANDOFF) or 530 (and CLOSE for FTP_LOGIN_FAILED_END). Wipes the password.
 *
 * Return: 0, or -EPROTO when no LOGIN is outstanding.
 */
int ftp_engine_login_done(struct ftp_engine *e, enum ftp_login_result result);

/**
 * ftp_engine_pasv_done() - report the passive listener.
 * @result:    0, or -errno when no listener could be opened (425).
 * @announced: with @result 0: the address and port the client must connect to. For PASV
 *             it must be IPv4 (227 "h1,h2,h3,h4,p1,p2"); for EPSV only the port is used
 *             (229 "|||port|").
 *
 * Return: 0, -EINVAL for a PASV announce address that is not IPv4 (the engine answers
 * 425 then), or -EPROTO when no PASV_LISTEN is outstanding.
 */
int ftp_engine_pasv_done(struct ftp_engine *e, int result, const struct sockaddr *announced);

/**
 * ftp_engine_data_open_done() - report the data connection of DATA_OPEN.
 * @result: 0 = open (and TLS established with session reuse when the action said @tls);
 *          FTP_DATA_E_NOREUSE / FTP_DATA_E_TLS = refused for TLS reasons (522); any
 *          other -errno = could not connect or accept (425).
 *
 * On 0 the engine hands out DATA_SEND or DATA_RECV next.
 *
 * Return: 0; -ECANCELED when ABOR came meanwhile (the driver then follows DATA_ABORT);
 * -EPROTO when no DATA_OPEN is outstanding.
 */
int ftp_engine_data_open_done(struct ftp_engine *e, int result);

/**
 * ftp_engine_data_produce() - DATA_SEND: the next bytes for the data connection (file
 * contents via vfs_pread, TYPE A LF -> CRLF, or listing lines generated entry by entry).
 * @buf:   where to put them
 * @cap:   room in @buf (any size >= 1)
 * @ret_n: bytes written to @buf; 0 = end of data
 *
 * Return: 0; -EAGAIN = nothing now, retry at ftp_engine_wake_time(); -ECANCELED after
 * ABOR (follow DATA_ABORT); any other -errno = local error: close the data connection
 * and call ftp_engine_data_done() with that value.
 */
int ftp_engine_data_produce(struct ftp_engine *e, void *buf, size_t cap, size_t *ret_n);

/**
 * ftp_engine_data_consume() - DATA_RECV: bytes from the data connection (written via
 * vfs_pwrite at the REST offset, or appended; TYPE A CRLF -> LF, a CR at the end of one
 * chunk is held for the next).
 * @buf:      the bytes
 * @len:      their number
 * @ret_used: how many the engine took; when fewer than @len, pass the rest again later
 *
 * Return: 0; -EAGAIN = nothing taken, retry at ftp_engine_wake_time(); -ECANCELED after
 * ABOR; any other -errno (e.g. -EDQUOT, -ENOSPC, -EACCES) = the upload failed: close the
 * data connection and call ftp_engine_data_done() with that value.
 */
int ftp_engine_data_consume(struct ftp_engine *e, const void *buf, size_t len, size_t *ret_used);

/**
 * ftp_engine_data_done() - the data action has ended; queues the final reply of the
 * transfer command: 226 (complete), 426 (connection lost / aborted; then 226 to ABOR),
 * 451/552/550... (the local error produce/consume returned, mapped by the errno table).
 * @result: 0 = complete (SEND: every produced byte written and the connection closed;
 *          RECV: clean EOF); FTP_DATA_E_ABORTED after DATA_ABORT; the value produce or
 *          consume returned; or another -errno for a data-connection failure. A local
 *          error the engine saw takes precedence over @result.
 *
 * Return: 0; -EAGAIN when an upload still has converted bytes to write and the VFS said
 * -EAGAIN: call again at ftp_engine_wake_time(); -EPROTO when no data action is
 * outstanding.
 */
int ftp_engine_data_done(struct ftp_engine *e, int result);

/**
 * ftp_engine_wake_time() - after -EAGAIN from produce/consume/data_done: the
 * CLOCK_MONOTONIC time in milliseconds at which to retry (poll with a timeout, never
 * sleep). 0 when the engine is not waiting.
 */
uint64_t ftp_engine_wake_time(const struct ftp_engine *e);

/**
 * ftp_engine_close() - end the session from the driver's side (idle or login-grace
 * timeout, worker spawn failure, shutdown): queue "421 @text" and hand out CLOSE;
 * a transfer in progress is reported as aborted. @text must not contain CR or LF
 * (NULL = "Service not available, closing control connection.").
 */
void ftp_engine_close(struct ftp_engine *e, const char *text);

/* Whether the engine closed the session for a protocol violation (too many invalid
 * commands, or too many commands, before login): the defender scores it. */
bool ftp_engine_violated(const struct ftp_engine *e);

/**
 * ftp_engine_export_state() - the session state to hand to the worker (HANDOFF).
 */
void ftp_engine_export_state(const struct ftp_engine *e, struct ftp_session_state *ret);

/**
 * ftp_engine_pending_input() - the unprocessed input (commands pipelined after PASS),
 * already stripped of Telnet sequences; for HANDOFF, to be fed to the worker's engine
 * before anything else.
 * @ret_len: their number
 *
 * Return: pointer valid until the next engine call; caller does not free.
 */
const uint8_t *ftp_engine_pending_input(const struct ftp_engine *e, size_t *ret_len);

/**
 * ftp_session_state_put() - serialise @s into @b (a few bytes, versioned).
 * Return: 0 or -ENOBUFS.
 */
int ftp_session_state_put(struct xbuf *b, const struct ftp_session_state *s);

/**
 * ftp_session_state_get() - parse what ftp_session_state_put() wrote.
 * Return: 0, or -EBADMSG for short, unknown-version or out-of-range input (nothing
 * written to @ret then).
 */
int ftp_session_state_get(struct xbuf *b, struct ftp_session_state *ret);

/**
 * ftp_reply_from_errno() - the one errno -> FTP reply table.
 * @err:      errno value (either sign)
 * @ret_text: the reply text (static, no CR/LF), may be NULL
 *
 * Return: the reply code (550, 552, 553, 451, ...).
 */
unsigned ftp_reply_from_errno(int err, const char **ret_text);
