/* SPDX-License-Identifier: BSD-2-Clause */
/* Transfer logs: the record a session's worker sends, and the two line formats the
 * per-connection monitor writes (xferlog and JSON lines).
 *
 * The worker is chrooted as the account and cannot open log files, and it is untrusted
 * once compromised: it sends a struct xfer_record (operation, paths, bytes, duration,
 * digest, outcome) over its own SOCK_SEQPACKET socket to the monitor, which decodes it
 * inside a view with every length checked, adds what only it knows for sure (the
 * account, the source address and port, the protocol, the session id, the time) and
 * appends the lines. Every client-supplied field goes through log_escape() (xferlog)
 * or JSON string escaping, so a record never writes more than one line per log.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct xbuf;

enum xfer_op {
	XFER_OP_UPLOAD = 1,
	XFER_OP_DOWNLOAD = 2,
	XFER_OP_DELETE = 3,
	XFER_OP_RENAME = 4,
	XFER_OP_MKDIR = 5,
	XFER_OP_RMDIR = 6,
};
#define XFER_OP_LAST XFER_OP_RMDIR

enum xfer_status {
	XFER_COMPLETED = 0, /* transfer ended normally / operation succeeded */
	XFER_ABORTED = 1,   /* transfer cut short (reason says why) */
	XFER_FAILED = 2,    /* operation refused or failed (reason says why) */
};

#define XFER_PATH_MAX   4096 /* longer paths are cut (at a character boundary) */
#define XFER_REASON_MAX 256
/* Largest encoded record: two paths, the reason, the digest and the fixed fields. */
#define XFER_RECORD_MAX (2 * (XFER_PATH_MAX + 4) + (XFER_REASON_MAX + 4) + (64 + 4) + 64)

/* One transfer or file operation, as the worker reports it. Strings are NUL-free;
 * @target (rename), @sha256 (64 lower-case hex digits, uploads) and @reason may be NULL. */
struct xfer_record {
	enum xfer_op op;
	enum xfer_status status;
	uint64_t bytes;       /* file bytes moved (transfers), 0 otherwise */
	uint64_t duration_us; /* from open to close */
	const char *path;
	const char *target;
	const char *sha256;
	const char *reason;
};

/* Encode @r (paths longer than XFER_PATH_MAX and reasons longer than XFER_REASON_MAX
 * are cut) into @out. 0 or -ENOBUFS / -EINVAL (no path, bad op or status). */
int xfer_record_encode(const struct xfer_record *r, struct xbuf *out);
/* Decode one record from @in (a view over exactly one received message). The strings
 * are copied into @storage (at least XFER_RECORD_MAX bytes) and NUL-terminated; the
 * whole message must be consumed. 0 or -EBADMSG (short, trailing bytes, a NUL in a
 * string, an over-long field, an unknown op or status, a digest that is not 64 hex
 * digits, a target on anything but a rename). */
int xfer_record_decode(struct xbuf *in, struct xfer_record *ret, char *storage, size_t cap);

/* What the monitor adds: it knows these, the worker does not get a say. */
struct xfer_session {
	const char *account;
	const char *addr; /* numeric source address */
	unsigned port;
	const char *protocol; /* "sftp", "scp", "ftps", "ftp" */
	uint32_t session_id;  /* the worker's id in "Starting session ... id N" */
};

/* The xferlog line (wu-ftpd / ProFTPD / vsftpd format, newline included) for @r ended
 * at @now (local time, as those servers write it). 1 (nothing appended) for operations
 * xferlog has no line for (rename, mkdir, rmdir, a delete that failed); else 0 or
 * -ENOBUFS. */
int xferlog_format(const struct xfer_session *s, const struct xfer_record *r,
                   const struct timespec *now, struct xbuf *out);
/* One JSON object and a newline (UTC time with milliseconds). 0 or -ENOBUFS. */
int xferlog_format_json(const struct xfer_session *s, const struct xfer_record *r,
                        const struct timespec *now, struct xbuf *out);
/* Append @len bytes to @path with one write(2): open(O_APPEND | O_CREAT | O_CLOEXEC |
 * O_NOFOLLOW | O_NOCTTY, 0640) per record, so a log renamed away by logrotate is
 * followed by a new file at @path with no signal. 0 or -errno. */
int xferlog_append(const char *path, const void *data, size_t len);
/* "upload", "download", "delete", "rename", "mkdir", "rmdir". */
const char *xfer_op_name(enum xfer_op op);
