/* SPDX-License-Identifier: BSD-2-Clause */
/* Transfer records: sent by the session's worker, checked and written by the monitor. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berth/audit.h"
#include "berth/buf.h"
#include "berth/common.h"
#include "berth/log.h"
#include "berth/vfs_audit.h"

#define AUDIT_DRAIN_MAX 64 /* records per wake-up: the monitor never spins on one worker */

/* ---- worker side ---- */

static struct {
	int fd;
	struct vfs *vfs; /* the session's VFS, for absolute paths */
} audit_worker = {.fd = -1};

void
audit_worker_init(int fd)
{
	struct stat st;
	audit_worker.fd = fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? fd : -1;
}

bool
audit_worker_enabled(void)
{
	return audit_worker.fd >= 0;
}

static void
send_record(const struct xfer_record *r)
{
	_cleanup_xbuf_ struct xbuf out = XBUF_NULL;
	xbuf_init(&out, XFER_RECORD_MAX);
	if (xfer_record_encode(r, &out) < 0)
		return;
	ssize_t n;
	do
		n = write(audit_worker.fd, xbuf_ptr(&out), xbuf_len(&out));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		log_error("transfer record for \"%s\" not sent: %m", r->path);
}

static const enum xfer_op audit_ops[] = {
        [VFS_AUDIT_REMOVE] = XFER_OP_DELETE,
        [VFS_AUDIT_RENAME] = XFER_OP_RENAME,
        [VFS_AUDIT_MKDIR] = XFER_OP_MKDIR,
        [VFS_AUDIT_RMDIR] = XFER_OP_RMDIR,
};

static void
on_vfs_op(void *userdata, enum vfs_audit_op op, const char *path, const char *target, int result)
{
	(void)userdata;
	struct xfer_record r = {
	        .op = audit_ops[op],
	        .status = result == 0 ? XFER_COMPLETED : XFER_FAILED,
	        .path = path,
	        .target = target,
	        .reason = result == 0 ? NULL : strerror(-result),
	};
	send_record(&r);
}

int
audit_worker_wrap(struct vfs **v)
{
	if (audit_worker.fd < 0)
		return 0;
	struct vfs *w = NULL;
	int r = vfs_audit_wrap(*v, on_vfs_op, NULL, &w);
	if (r < 0)
		return r;
	audit_worker.vfs = w;
	*v = w;
	return 0;
}

void
audit_worker_transfer(bool upload, const char *path, uint64_t bytes, double seconds, bool completed,
                      const char *reason, const char *sha256)
{
	if (audit_worker.fd < 0)
		return;
	char *abs = NULL;
	if (audit_worker.vfs && vfs_abspath(audit_worker.vfs, path, &abs) < 0)
		abs = NULL;
	struct xfer_record r = {
	        .op = upload ? XFER_OP_UPLOAD : XFER_OP_DOWNLOAD,
	        .status = completed ? XFER_COMPLETED : XFER_ABORTED,
	        .bytes = bytes,
	        .duration_us = seconds > 0 ? (uint64_t)(seconds * 1e6) : 0,
	        .path = abs ? abs : path,
	        .sha256 = sha256,
	        .reason = completed ? NULL : (reason ? reason : "aborted"),
	};
	send_record(&r);
	free(abs);
}

/* ---- monitor side ---- */

int
audit_channel_new(const struct berth_config *cfg, int *ret_mon, int *ret_worker)
{
	*ret_mon = *ret_worker = -1;
	if (!cfg->transfer_log && !cfg->transfer_log_json)
		return 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* The monitor reads without ever waiting; the worker writes blocking (a full
	 * queue slows its own session only) and only writes: no reply ever goes back. */
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 || shutdown(sv[0], SHUT_WR) < 0 ||
	    shutdown(sv[1], SHUT_RD) < 0) {
		int r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	*ret_mon = sv[0];
	*ret_worker = sv[1];
	return 0;
}

static void
write_lines(const struct berth_config *cfg, const struct xfer_session *s,
            const struct xfer_record *r)
{
	static bool warned; /* one complaint per connection about an unwritable log */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	const char *files[2] = {cfg->transfer_log, cfg->transfer_log_json};
	for (size_t i = 0; i < 2; i++) {
		if (!files[i])
			continue;
		_cleanup_xbuf_ struct xbuf line = XBUF_NULL;
		xbuf_init(&line, 8 * XFER_RECORD_MAX);
		int fr = i == 0 ? xferlog_format(s, r, &now, &line)
		                : xferlog_format_json(s, r, &now, &line);
		if (fr != 0)
			continue;
		int wr = xferlog_append(files[i], xbuf_ptr(&line), xbuf_len(&line));
		if (wr < 0 && !warned) {
			log_error("cannot write the transfer log %s: %s", files[i], strerror(-wr));
			warned = true;
		}
	}
}

int
audit_channel_drain(int fd, const struct berth_config *cfg, const struct xfer_session *s,
                    size_t *budget)
{
	static uint8_t msg[XFER_RECORD_MAX + 1];
	static char storage[XFER_RECORD_MAX];
	for (size_t i = 0; i<AUDIT_DRAIN_MAX && * budget> 0; i++) {
		ssize_t n = recv(fd, msg, sizeof(msg), MSG_DONTWAIT | MSG_TRUNC);
		if (n == 0)
			return 1; /* the worker's end is closed and nothing is left */
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : 1;
		(*budget)--;
		struct xbuf view;
		struct xfer_record r;
		/* MSG_TRUNC: @n is the real length; a longer message was cut and is refused. */
		xbuf_view_init(&view, msg, MIN((size_t)n, sizeof(msg)));
		if ((size_t)n > XFER_RECORD_MAX ||
		    xfer_record_decode(&view, &r, storage, sizeof(storage)) < 0) {
			log_error("bad transfer record from session %u of %s from %s port %u: "
			          "dropped",
			          s->session_id, s->account, s->addr, s->port);
			continue;
		}
		write_lines(cfg, s, &r);
	}
	return 0;
}
