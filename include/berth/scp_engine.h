/* SPDX-License-Identifier: BSD-2-Clause */
/* Sans-I/O engine for the legacy scp protocol (rcp over SSH): bytes in, bytes out.
 *
 * `scp -O` and OpenSSH clients before 9.0 run `scp -t PATH` (sink: the client uploads)
 * or `scp -f PATH...` (source: the client downloads) through an exec request. berthd
 * never runs a shell or a program for it: the exec command line is parsed here as scp's
 * own arguments only (scp_command_parse()), and the engine speaks the protocol over a
 * struct vfs, the same jail and policy stack as SFTP.
 *
 *   while !scp_engine_done(e):
 *       n = scp_engine_input_room(e);            // 0 = backpressure, stop reading
 *       if (n) read up to n bytes, scp_engine_feed(e, bytes, len) (EOF: feed_eof)
 *       scp_engine_process(e);                   // parse, act on the VFS, answer
 *       write scp_engine_output(e, &len), then scp_engine_output_consume(e, written)
 *
 * Both queues are bounded; file data is produced only while the output queue has room,
 * so a peer that stops reading cannot grow memory.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/vfs.h"

/* Documented limits (berthd.8). */
#define SCP_MAX_DEPTH 64   /* nested directories in one -r transfer, either direction */
#define SCP_MAX_LINE  4096 /* one control record ("C0644 12 name\n") */
#define SCP_MAX_NAME  255  /* one file name in a record */
#define SCP_MAX_PATHS 1024 /* paths on the command line, after glob expansion */
#define SCP_MAX_CMD   8192 /* exec command line */

/* A parsed `scp` command line. */
struct scp_command {
	bool source;     /* -f: send PATHs to the client (download) */
	bool sink;       /* -t: receive into PATH (upload) */
	bool recursive;  /* -r */
	bool preserve;   /* -p: modes and times */
	bool target_dir; /* -d: the target must be a directory */
	char **paths;    /* NULL-terminated */
	size_t n_paths;
	/* Per path: a glob pattern for its last component (quoted characters escaped with
	 * a backslash, for fnmatch(3)), or NULL when the word had no unquoted * ? [. */
	char **patterns;
};

/* Parse an exec command line as the arguments of `scp` and nothing else: words split
 * like a POSIX shell for simple quoting ('...', "...", backslash), a leading ~ or ~/
 * meaning the home directory (@home), and unquoted * ? [ in a -f path's last component
 * as a glob over the VFS. Anything that would need a shell (; & | < > ( ) $ ` newline,
 * ~user, $ or ` inside double quotes) is refused, never run. Returns 0, or -EINVAL with
 * *ret_err set to a static message for the client; 1 when the command is not scp at
 * all (the first word is not "scp"). */
int scp_command_parse(const char *cmdline, const char *home, struct scp_command *ret,
                      const char **ret_err);
void scp_command_free(struct scp_command *c);
/* True when the first word of @cmdline is "scp": the only exec request berthd serves. */
bool scp_command_is_scp(const char *cmdline);

struct scp_engine;

/* One finished file (log line "transfer upload|download ..."). */
struct scp_transfer {
	const char *path; /* client path */
	uint64_t bytes;
	bool upload;
	double seconds;
	bool completed;     /* false: cut short (peer gone, write error, session end) */
	const char *sha256; /* upload: hex SHA-256 from the VFS close report, or NULL */
};

struct scp_engine_config {
	struct vfs *vfs;  /* borrowed; must outlive the engine */
	bool read_only;   /* refuse every write (sink mode fails at once) */
	const char *home; /* client path of the home directory, for ~ */
	void (*log)(void *userdata, int level, const char *fmt, ...)
	        __attribute__((format(printf, 3, 4)));
	void (*transfer)(void *userdata, const struct scp_transfer *t);
	void *userdata;
};

/* Build an engine for @cmdline. A command that does not parse still gives an engine:
 * it tells the client why (scp's "\1scp: ...\n" error record) and ends with status 1.
 * Returns 1 (and no engine) when @cmdline is not an scp command at all. */
int scp_engine_new(const struct scp_engine_config *cfg, const char *cmdline,
                   struct scp_engine **ret);
/* An unfinished upload is logged as aborted; the partial file stays (like SFTP). */
void scp_engine_free(struct scp_engine *e);

size_t scp_engine_input_room(const struct scp_engine *e);
/* Append input (at most scp_engine_input_room() bytes); -ENOBUFS otherwise. */
int scp_engine_feed(struct scp_engine *e, const void *data, size_t len);
/* The peer sent EOF: a session cut mid-record or mid-file ends with status 1. */
void scp_engine_feed_eof(struct scp_engine *e);
/* Do everything possible with the input and output room there is. 0 or -errno
 * (internal failure only: protocol errors end the session through scp_engine_done). */
int scp_engine_process(struct scp_engine *e);
const uint8_t *scp_engine_output(const struct scp_engine *e, size_t *ret_len);
void scp_engine_output_consume(struct scp_engine *e, size_t n);
/* True once the session is over and every queued byte was taken; *ret_status is the
 * exit status for the channel (0, or 1 after any error, as scp). */
bool scp_engine_done(const struct scp_engine *e, int *ret_status);

/* fd transport (the worker's socket): non-blocking, never blocks in a write while input
 * is pending. Returns the exit status. */
int scp_loop_run(struct scp_engine *e, int in_fd, int out_fd);
