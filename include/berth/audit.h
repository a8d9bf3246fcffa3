/* SPDX-License-Identifier: BSD-2-Clause */
/* Transfer logs across the privilege boundary (see xferlog.h for the record and the
 * formats): the worker's sending side and the monitor's receiving side.
 *
 * Channel: one SOCK_SEQPACKET socketpair per session worker, made by the monitor only
 * when TransferLog or TransferLogJSON is set. The worker gets its end as fd 6 and
 * write(2)s one record per message; the monitor polls its end (non-blocking), reads at
 * most a bounded number of records per wake-up, decodes each inside a view, fills in
 * the account, source, protocol and session id itself, and appends the lines with
 * xferlog_append() (open per record with O_APPEND: rotation needs no signal).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "berth/conf.h"
#include "berth/vfs.h"
#include "berth/xferlog.h"

/* ---- worker side (process-wide: one session per worker) ---- */

/* Use @fd (the record socket) when it is one, else leave transfer records off. */
void audit_worker_init(int fd);
bool audit_worker_enabled(void);
/* When records are on: wrap @v with the audit decorator (delete, rename, mkdir, rmdir
 * records) and return the wrapper in *@v; the working directory of the result makes
 * relative paths absolute. Off: *@v unchanged. 0 or -errno. */
int audit_worker_wrap(struct vfs **v);
/* A finished transfer (any engine): @path made absolute against the session's VFS,
 * @reason why it was aborted (NULL when @completed), @sha256 of an upload or NULL. */
void audit_worker_transfer(bool upload, const char *path, uint64_t bytes, double seconds,
                           bool completed, const char *reason, const char *sha256);

/* ---- monitor side ---- */

/* A record channel for a new worker: 0 with *@ret_mon (non-blocking) and *@ret_worker
 * set, or 0 with both -1 when no transfer log is configured, or -errno. */
int audit_channel_new(const struct berth_config *cfg, int *ret_mon, int *ret_worker);
/* Records a worker may have written per second before the monitor stops reading its
 * channel for the rest of that second (the worker then waits in write(2)): a flooding
 * worker slows itself down, never the monitor, and no record is dropped. */
#define AUDIT_RECORDS_PER_SECOND 1000
/* Read the records waiting on @fd (at most a bounded number per call, and at most
 * *@budget, which is decremented) and write their lines. Returns 1 when the worker's
 * end is closed and everything was read, else 0. */
int audit_channel_drain(int fd, const struct berth_config *cfg, const struct xfer_session *s,
                        size_t *budget);
