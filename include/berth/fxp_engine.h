/* SPDX-License-Identifier: BSD-2-Clause */
/* Sans-I/O SFTP v3 engine: bytes in, bytes out.
 *
 * The drop-in binary, the daemon's worker, the fuzzers and the unit tests all drive
 * this same object. The engine owns a bounded input queue and a bounded output queue:
 *
 *   while running:
 *       n = fxp_engine_input_room(e);             // 0 = input queue full, stop reading
 *       if (n) read up to n bytes, fxp_engine_feed(e, bytes, len);
 *       r = fxp_engine_process(e);                // handles every complete frame that
 *                                                 // fits the output queue
 *       write fxp_engine_output(e, &len), then fxp_engine_output_consume(e, written);
 *
 * A request is only processed while the output queue can take a worst-case reply, so a
 * peer that never reads replies cannot grow memory (OpenSSH's check_reserve rule); input
 * is still taken until the input queue is full, so a client whose reader waits for its
 * sender can finish sending. Never block in a write while input may be pending.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/fxp.h"
#include "berth/vfs.h"

struct fxp_engine;

/* Report of one finished file transfer (a handle opened for reading or writing that
 * moved data), for the daemon's per-transfer log line. */
struct fxp_transfer {
	const char *path;
	uint64_t bytes_read, bytes_written;
	double seconds;
	bool completed;     /* closed by the client (true) or forced at session end (false) */
	const char *sha256; /* hex SHA-256 of the file's content after an upload, or NULL */
	bool published;     /* the content is under its name (false: atomic upload dropped) */
	const char *reason; /* why not published, or NULL */
};

struct fxp_engine_config {
	struct vfs *vfs;  /* borrowed; must outlive the engine */
	bool read_only;   /* -R */
	uint64_t denied;  /* bit FXP_REQ_* set = refused (-P) */
	uint64_t allowed; /* with have_allowed: only these (-p) */
	bool have_allowed;
	const char *user;     /* account name, for logs and home-directory */
	const char *home;     /* client path of the home directory ("~" expansion) */
	const char *peer;     /* client address for log lines, e.g. "192.0.2.1" or "UNKNOWN" */
	uint32_t max_handles; /* 0 = default (RLIMIT_NOFILE - 5, capped) */
	bool numeric_ids;     /* longname shows numeric uid/gid (no NSS inside jails) */
	bool check_file;      /* also offer check-file-handle/-name (berth; not in -Q output) */
	/* Log sink for transaction lines (OpenSSH wording). level is enum log_level. */
	void (*log)(void *userdata, int level, const char *fmt, ...)
	        __attribute__((format(printf, 3, 4)));
	/* Optional: called once per finished transfer. */
	void (*transfer)(void *userdata, const struct fxp_transfer *t);
	void *userdata;
};

/* Engine-level fatal conditions returned by fxp_engine_process() (negative). */
#define FXP_E_OVERSIZE  (-EMSGSIZE) /* frame longer than FXP_MAX_MSG: exit code 11 */
#define FXP_E_MALFORMED (-EBADMSG)  /* frame that cannot be parsed: end the session */
#define FXP_E_PROTOCOL  (-EPROTO)   /* request before INIT, second INIT */

int fxp_engine_new(const struct fxp_engine_config *cfg, struct fxp_engine **ret);
/* Closes every open handle (logging "forced close"), frees. NULL is fine. */
void fxp_engine_free(struct fxp_engine *e);

/* Bytes that may be fed right now; 0 while the input queue (1 MiB) is full. */
size_t fxp_engine_input_room(const struct fxp_engine *e);
/* Append input bytes (at most fxp_engine_input_room()); -ENOBUFS otherwise. */
int fxp_engine_feed(struct fxp_engine *e, const void *data, size_t len);
/* Zero-copy variant: space for up to @n input bytes; commit with fxp_engine_feed_commit(). */
int fxp_engine_feed_reserve(struct fxp_engine *e, size_t n, uint8_t **ret_ptr);
void fxp_engine_feed_commit(struct fxp_engine *e, size_t reserved, size_t used);
/* Process all complete frames that output room allows. 0 or a negative FXP_E_* code. */
int fxp_engine_process(struct fxp_engine *e);
/* True when complete frames are still queued (processing paused for output room). */
bool fxp_engine_has_pending(const struct fxp_engine *e);
/* A request waits for bandwidth (the VFS answered -EAGAIN with a retry time): the
 * CLOCK_MONOTONIC nanoseconds at which fxp_engine_process() should be called again, or 0.
 * The engine never sleeps; its transport polls with a timeout until then. */
uint64_t fxp_engine_wait_until(const struct fxp_engine *e);
/* Bytes queued for the peer (those before the first file segment, see below); valid
 * until the next engine call. */
const uint8_t *fxp_engine_output(const struct fxp_engine *e, size_t *ret_len);
/* Consume @n bytes of the piece at the head of the output (fxp_engine_output_next()). */
void fxp_engine_output_consume(struct fxp_engine *e, size_t n);

/* Zero-copy READ replies, for a transport that moves file data itself with
 * vfs_splice_to(): once on, a READ of at least 16 KiB that the regular file's size
 * covers is queued as its DATA header (bytes) followed by a file segment. The output
 * is then a sequence of pieces. Segments count against output room like bytes; while
 * any is queued only READs are processed (a CLOSE or WRITE waits until they are sent).
 * Off by default; fxp_engine_output() alone never sees a segment then. */
void fxp_engine_set_file_output(struct fxp_engine *e, bool on);
struct fxp_output {
	const uint8_t *data;   /* bytes, or NULL for a file segment */
	struct vfs_file *file; /* borrowed, valid until the segment is consumed */
	uint64_t off;
	size_t len; /* 0 = nothing queued */
};
/* The piece at the head of the output. The transport sends bytes as they are and must
 * send exactly @len bytes for a segment (zeros for any part the file lost meanwhile). */
void fxp_engine_output_next(const struct fxp_engine *e, struct fxp_output *ret);
/* Everything queued: bytes and segments. */
size_t fxp_engine_output_pending(const struct fxp_engine *e);

/* Parse a comma-separated list of request names (as for -p/-P) into a bitmask.
 * -EINVAL with *ret_bad pointing into @list at the unknown name. */
int fxp_request_mask_from_names(const char *list, uint64_t *ret, const char **ret_bad);
/* Print every request name then every extension name, one per line (-Q requests). */
void fxp_print_request_names(void *fp);

/* fd transport shared by the drop-in (stdin/stdout) and the daemon's worker: runs the
 * engine until EOF or a fatal condition. Returns an OpenSSH-compatible exit status:
 * 0 EOF, 1 read/write error, 2 poll error, 11 oversize message, 255 protocol error. */
int fxp_loop_run(struct fxp_engine *e, int in_fd, int out_fd);
struct fxp_loop_opts {
	/* READ data moves from the file to out_fd without a copy through user space when
	 * out_fd is a pipe (splice) or a socket (sendfile); ttys and files are copied. */
	bool zero_copy;
};
/* fxp_loop_run() with options; NULL = defaults (all off). */
int fxp_loop_run_opts(struct fxp_engine *e, int in_fd, int out_fd,
                      const struct fxp_loop_opts *opts);
