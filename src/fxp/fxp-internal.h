/* SPDX-License-Identifier: BSD-2-Clause */
/* Engine internals shared by the src/fxp/ files; not a public interface. */
#pragma once

#include <time.h>

#include "berth/buf.h"
#include "berth/fxp.h"
#include "berth/fxp_engine.h"
#include "berth/log.h"
#include "berth/vfs.h"

/* Input may hold a few frames; output is only written into while it can take a
 * worst-case reply (OUT_RESERVE), so neither grows with a peer that stops reading. */
#define FXP_IN_MAX              (1024 * 1024 + 8)
#define FXP_OUT_RESERVE         (FXP_MAX_MSG + 1024)
#define FXP_OUT_MAX             (4 * FXP_OUT_RESERVE)
#define FXP_DEFAULT_MAX_HANDLES 512

enum handle_type {
	HANDLE_UNUSED = 0,
	HANDLE_FILE,
	HANDLE_DIR,
};

struct fxp_handle {
	enum handle_type type;
	uint32_t generation;
	char *path;
	unsigned vfs_flags;
	union {
		struct vfs_file *file;
		struct vfs_dir *dir;
	};
	uint64_t bytes_read, bytes_written;
	struct timespec opened;
};

struct handle_table {
	struct fxp_handle *slots;
	uint32_t nslots;
	uint32_t nused;
	uint32_t max;
};

/* Zero-copy READ replies (fxp_engine_set_file_output()): the DATA header is queued as
 * bytes, the data stays in the file as a segment the transport moves itself. @gap is
 * the number of queued bytes between the previous segment (or the queue head) and this
 * one. Shorter reads, and reads the file's size does not cover, are copied. */
struct fxp_out_file {
	size_t gap;
	struct vfs_file *file;
	uint64_t off;
	uint32_t len;
};
#define FXP_OUT_FILES     64
#define FXP_FILE_READ_MIN (16 * 1024)

struct fxp_engine {
	struct fxp_engine_config cfg;
	char *user, *home, *peer; /* owned copies of the config strings */
	struct xbuf in, out;
	bool initialized;
	uint32_t client_version;
	struct handle_table handles;
	/* output segments backed by files, a ring; they count against output room */
	bool file_output;
	struct fxp_out_file files[FXP_OUT_FILES];
	uint32_t files_head, files_count;
	size_t files_gap;    /* sum of the queued segments' gaps */
	size_t files_bytes;  /* sum of their lengths */
	uint64_t wait_until; /* CLOCK_MONOTONIC ns: a request waits for bandwidth (0 = no) */
};

/* A handler's "not now": the VFS asked to retry later (bandwidth limit). The frame stays
 * unprocessed in the input queue and processing stops until e->wait_until. */
#define FXP_WAIT 1
/* Turn -EAGAIN from vfs_pread/vfs_pwrite into FXP_WAIT when the VFS says when to retry;
 * returns @r unchanged otherwise. */
int fxp_wait_if_throttled(struct fxp_engine *e, int r);

/* engine.c: reply composition and logging */
void fxp_log(struct fxp_engine *e, enum log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Start a reply; returns the queue position to hand to reply_end()/reply_abort(). */
size_t reply_begin(struct fxp_engine *e, uint8_t type, uint32_t id);
int reply_end(struct fxp_engine *e, size_t pos);
void reply_abort(struct fxp_engine *e, size_t pos);
int send_status(struct fxp_engine *e, uint32_t id, uint32_t status);
int send_status_msg(struct fxp_engine *e, uint32_t id, uint32_t status, const char *msg);
/* STATUS for an errno (0 = OK) with its status text ("Quota exceeded" for EDQUOT). */
int send_status_errno(struct fxp_engine *e, uint32_t id, int err);
int send_handle(struct fxp_engine *e, uint32_t id, uint32_t slot);
int send_attrs(struct fxp_engine *e, uint32_t id, const struct vfs_attr *a);
/* One-entry NAME reply with empty attributes (realpath, readlink, expand-path...). */
int send_name1(struct fxp_engine *e, uint32_t id, const char *name);
bool request_permitted(struct fxp_engine *e, enum fxp_req req, const char *name, bool does_write);
/* Answer a READ of @len bytes at @off with a DATA header and a file segment, when the
 * transport moves file data itself and the file's size covers the range. 0 = queued,
 * 1 = not eligible (copy it), -errno from fstat. */
int reply_data_from_file(struct fxp_engine *e, uint32_t id, struct vfs_file *f, uint64_t off,
                         uint32_t len);

/* attr.c */
int attr_decode(struct xbuf *b, struct vfs_attr *ret);
int attr_encode(struct xbuf *b, const struct vfs_attr *a);

/* handle.c: slot + generation handles; the wire form is 8 bytes */
void handles_init(struct handle_table *t, uint32_t max);
/* Returns the slot or -EMFILE. Takes ownership of @path, also on failure. */
int handle_new(struct handle_table *t, enum handle_type type, char *path, unsigned vfs_flags,
               void *obj);
/* Parse a handle string from @b and look it up: 0 with *ret set, 1 if the string is
 * well-formed but names no live handle of @type, -EBADMSG on a short frame. */
int handle_get(struct handle_table *t, struct xbuf *b, enum handle_type type,
               struct fxp_handle **ret, uint32_t *ret_slot);
void handle_encode(const struct handle_table *t, uint32_t slot, uint8_t out[FXP_HANDLE_LEN]);
void handle_release(struct handle_table *t, struct fxp_handle *h);

/* names.c */
/* ls -l style line for READDIR, as OpenSSH's ls_file(); caller frees. */
char *fxp_longname(const char *name, const struct vfs_attr *a, bool numeric_ids);

/* ops.c: the dispatch tables */
struct fxp_handler {
	const char *name;     /* -Q / -p / -P name */
	const char *ext_name; /* wire name for extensions, NULL for core requests */
	const char *ext_version;
	uint8_t type; /* packet type for core requests */
	enum fxp_req req;
	bool does_write;
	int (*fn)(struct fxp_engine *e, uint32_t id, struct xbuf *req);
	bool optional; /* offered only with fxp_engine_config.check_file (berth's own) */
};
extern const struct fxp_handler fxp_core_handlers[];
extern const size_t fxp_core_handlers_count;
extern const struct fxp_handler fxp_ext_handlers[];
extern const size_t fxp_ext_handlers_count;
/* Close everything left open at session end ("forced close"). */
void fxp_close_all_handles(struct fxp_engine *e);
