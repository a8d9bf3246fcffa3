/* SPDX-License-Identifier: BSD-2-Clause */
/* An in-memory FTP driver for the engine's tests and fuzzer: executes every action
 * (passive listeners, data connections, TLS, login) without sockets, and a VFS
 * decorator that injects -EAGAIN and write errors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/buf.h"
#include "berth/ftp_engine.h"
#include "berth/vfs.h"

struct fake_driver {
	struct ftp_engine *e;
	struct xbuf replies;   /* everything the engine wrote to the control connection */
	struct xbuf download;  /* bytes produced on DATA_SEND */
	const uint8_t *upload; /* bytes the "client" sends on DATA_RECV */
	size_t upload_len;
	size_t chunk;      /* data produce/consume size (default 4096) */
	size_t feed_chunk; /* control bytes per feed (default: all that fit) */
	int tls_result, pasv_result, open_result;
	enum ftp_login_result login_result;
	struct sockaddr_storage announce; /* PASV/EPSV answer (default 127.0.0.1:50000) */
	char user[256], password[256];
	struct ftp_action last_open; /* the last DATA_OPEN */
	unsigned n_actions, n_eagain;
	bool closed, handed_off;
	int last_done; /* last value passed to ftp_engine_data_done() */
};

void fake_init(struct fake_driver *d, struct ftp_engine *e);
void fake_deinit(struct fake_driver *d);
/* Feed @len bytes (as input room allows), process, drain replies and execute actions
 * until the engine is idle, closed or handed off. Returns 0 or the engine's -errno. */
int fake_run(struct fake_driver *d, const void *data, size_t len);
int fake_run_str(struct fake_driver *d, const char *s);
/* The replies so far as a C string (the caller frees); the buffer is emptied. */
char *fake_take_replies(struct fake_driver *d);

/* Fault-injecting VFS over @inner (borrowed). */
struct fault_vfs {
	struct vfs base;
	struct vfs *inner;
	unsigned eagain_reads, eagain_writes; /* fail this many next calls with -EAGAIN */
	uint64_t write_limit;                 /* with write_errno: bytes allowed, then fail */
	int write_errno;
	uint64_t written;
	unsigned retry_calls; /* how often vfs_retry_at() was asked */
	bool no_retry_at;     /* vfs_retry_at() has no answer (-ENOSYS) */
};
/* Its vfs_retry_at() answers 123456789 ms (in ns), counting the calls. */
void fault_vfs_init(struct fault_vfs *f, struct vfs *inner);
